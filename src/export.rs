//! Writing listings as CSV or JSON, atomically (temporary file + rename) or to stdout.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::image::ImageInfo;
use crate::image::LayerInfo;
use crate::listing::{
    Change, Entry, LayerListing, LayerStatus, ListedFrom, MergedEntry, layer_changes,
};

/// Column names of the CSV export, in order.
pub const CSV_COLUMNS: [&str; 12] = [
    "layer_index",
    "layer_digest",
    "path",
    "kind",
    "size",
    "mode",
    "uid",
    "gid",
    "mtime",
    "link_target",
    "layer_status",
    "change",
];

/// Errors writing an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The destination could not be written.
    #[error("could not write {path}: {source}")]
    Io {
        /// Where the export was going.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Encoding failed (should not happen for valid listings).
    #[error("could not encode the listing: {0}")]
    Encode(String),
}

/// One row of an export: an entry and the layer it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct ExportRow<'a> {
    /// Layer position in the image.
    pub layer_index: usize,
    /// Layer digest.
    pub layer_digest: &'a str,
    /// Layer status label (`complete`, `failed`, `cancelled`, `skipped`).
    pub layer_status: &'a str,
    /// The entry.
    pub entry: &'a Entry,
    /// What it does to the layers below.
    pub change: Change,
}

/// Each listing with each of its entries' changes, in order.
fn with_changes(
    listings: &[LayerListing],
) -> impl Iterator<Item = (&LayerListing, impl Iterator<Item = (&Entry, Change)>)> {
    listings
        .iter()
        .zip(layer_changes(listings))
        .map(|(listing, changes)| (listing, listing.entries.iter().zip(changes)))
}

/// Rows for per-layer listings, in layer then tar order.
pub fn rows_of_listings(listings: &[LayerListing]) -> Vec<ExportRow<'_>> {
    with_changes(listings)
        .flat_map(|(listing, entries)| {
            entries.map(move |(entry, change)| ExportRow {
                layer_index: listing.layer.index,
                layer_digest: listing.layer.digest(),
                layer_status: listing.status.label(),
                entry,
                change,
            })
        })
        .collect()
}

/// Rows for a merged view; `listings` provides digests and statuses by layer index.
pub fn rows_of_merged<'a>(
    merged: &'a [MergedEntry],
    listings: &'a [LayerListing],
) -> Vec<ExportRow<'a>> {
    // The change each entry made in the layer it comes from.
    let changes: HashMap<(usize, &str), Change> = with_changes(listings)
        .flat_map(|(listing, entries)| {
            entries.map(move |(entry, change)| ((listing.layer.index, entry.path.as_str()), change))
        })
        .collect();
    merged
        .iter()
        .map(|item| {
            let listing = listings.iter().find(|l| l.layer.index == item.layer_index);
            ExportRow {
                layer_index: item.layer_index,
                layer_digest: listing.map_or("", |l| l.layer.digest()),
                layer_status: listing.map_or("", |l| l.status.label()),
                entry: &item.entry,
                change: changes
                    .get(&(item.layer_index, item.entry.path.as_str()))
                    .copied()
                    .unwrap_or(Change::Added),
            }
        })
        .collect()
}

/// Makes a cell safe to open in a spreadsheet: text starting with `=`, `+`, `-`, `@`, tab or
/// carriage return would run as a formula, so it gets a leading `'`.
pub fn neutralize_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Formats seconds since the epoch as RFC 3339 UTC.
pub fn format_mtime(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || seconds.to_string(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

/// Writes rows as CSV with a header line.
pub fn write_csv(rows: &[ExportRow<'_>], out: impl Write) -> Result<(), ExportError> {
    let encode = |e: csv::Error| ExportError::Encode(e.to_string());
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_COLUMNS).map_err(encode)?;
    for row in rows {
        let e = row.entry;
        writer
            .write_record([
                row.layer_index.to_string().as_str(),
                row.layer_digest,
                &neutralize_formula(&e.path),
                e.kind.as_str(),
                &e.size.to_string(),
                &format!("{:04o}", e.mode),
                &e.uid.to_string(),
                &e.gid.to_string(),
                &format_mtime(e.mtime),
                &neutralize_formula(e.link_target.as_deref().unwrap_or("")),
                row.layer_status,
                row.change.as_str(),
            ])
            .map_err(encode)?;
    }
    writer
        .flush()
        .map_err(|e| ExportError::Encode(e.to_string()))
}

#[derive(Serialize)]
struct JsonExport<'a> {
    image: &'a ImageInfo,
    layers: Vec<JsonLayer<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merged: Option<&'a [MergedEntry]>,
}

/// One layer in the JSON export: the listing, each entry with its change.
#[derive(Serialize)]
struct JsonLayer<'a> {
    layer: &'a LayerInfo,
    status: &'a LayerStatus,
    bytes_read: u64,
    listed_from: ListedFrom,
    entries: Vec<JsonEntry<'a>>,
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    #[serde(flatten)]
    entry: &'a Entry,
    change: Change,
}

/// Writes the image, its listings (each entry with its change) and optionally the merged view
/// as pretty JSON.
pub fn write_json(
    image: &ImageInfo,
    listings: &[LayerListing],
    merged: Option<&[MergedEntry]>,
    out: impl Write,
) -> Result<(), ExportError> {
    let layers = with_changes(listings)
        .map(|(listing, entries)| JsonLayer {
            layer: &listing.layer,
            status: &listing.status,
            bytes_read: listing.bytes_read,
            listed_from: listing.listed_from,
            entries: entries
                .map(|(entry, change)| JsonEntry { entry, change })
                .collect(),
        })
        .collect();
    let document = JsonExport {
        image,
        layers,
        merged,
    };
    serde_json::to_writer_pretty(out, &document).map_err(|e| ExportError::Encode(e.to_string()))
}

/// Where an export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output (`-` on the command line).
    Stdout,
    /// A file, replaced atomically.
    File(PathBuf),
}

impl Destination {
    /// `-` means stdout, anything else a file path.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            Self::Stdout
        } else {
            Self::File(PathBuf::from(arg))
        }
    }
}

/// Runs `write` against the destination. Files are written to a temporary file beside the
/// target and renamed over it only when everything succeeded, so readers never see half a file.
pub fn write_to(
    destination: &Destination,
    write: impl FnOnce(&mut dyn Write) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    match destination {
        Destination::Stdout => {
            let stdout = io::stdout();
            let mut lock = io::BufWriter::new(stdout.lock());
            write(&mut lock)?;
            lock.flush().map_err(|source| ExportError::Io {
                path: "stdout".into(),
                source,
            })
        }
        Destination::File(path) => write_atomically(path, write),
    }
}

fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let io_error = |source: io::Error| ExportError::Io {
        path: path.to_owned(),
        source,
    };
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".layerslayer-")
        .suffix(".tmp")
        .tempfile_in(directory)
        .map_err(io_error)?;
    {
        let mut buffered = io::BufWriter::new(temp.as_file());
        write(&mut buffered)?;
        buffered.flush().map_err(io_error)?;
    }
    temp.as_file().sync_all().map_err(io_error)?;
    temp.persist(path).map_err(|e| io_error(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::EntryKind;

    fn entry(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::Symlink,
            size: 0,
            mode: 0o755,
            uid: 1000,
            gid: 100,
            mtime: 1_700_000_000,
            link_target: Some("=HYPERLINK(\"x\")".into()),
            content: None,
        }
    }

    #[test]
    fn formulas_are_neutralised_and_plain_text_is_not() {
        for bad in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralize_formula(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralize_formula("etc/passwd"), "etc/passwd");
        assert_eq!(neutralize_formula("a=b"), "a=b");
    }

    #[test]
    fn csv_has_header_and_safe_cells() {
        let e = entry("-rf");
        let rows = [ExportRow {
            layer_index: 2,
            layer_digest: "sha256:ab",
            layer_status: "complete",
            entry: &e,
            change: Change::Modified,
        }];
        let mut out = Vec::new();
        write_csv(&rows, &mut out).expect("csv");
        let text = String::from_utf8(out).expect("utf8");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(CSV_COLUMNS.join(",").as_str()));
        assert_eq!(
            lines.next(),
            Some(
                "2,sha256:ab,'-rf,symlink,0,0755,1000,100,2023-11-14T22:13:20Z,\"'=HYPERLINK(\"\"x\"\")\",complete,modified"
            )
        );
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temp_on_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old").expect("seed file");
        let failed = write_to(&Destination::File(target.clone()), |out| {
            out.write_all(b"partial")
                .map_err(|e| ExportError::Encode(e.to_string()))?;
            Err(ExportError::Encode("boom".into()))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "old");
        write_to(&Destination::File(target.clone()), |out| {
            out.write_all(b"new")
                .map_err(|e| ExportError::Encode(e.to_string()))
        })
        .expect("write");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let missing_dir = dir.path().join("nope/out.csv");
        let err = write_to(&Destination::File(missing_dir), |_| Ok(())).expect_err("no such dir");
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
