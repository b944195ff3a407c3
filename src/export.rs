//! Writing listings as CSV or JSON, atomically (temporary file + rename) or to stdout.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
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
    /// Writing failed; [`write_to`] names the destination.
    #[error("{0}")]
    Write(#[source] io::Error),
}

impl ExportError {
    /// A CSV writer's error: a failed write, or an encoding problem.
    pub fn from_csv(error: csv::Error) -> Self {
        match error.into_kind() {
            csv::ErrorKind::Io(error) => Self::Write(error),
            other => Self::Encode(format!("{other:?}")),
        }
    }

    /// A JSON writer's error: a failed write, or an encoding problem.
    pub fn from_json(error: serde_json::Error) -> Self {
        if error.is_io() {
            Self::Write(error.into())
        } else {
            Self::Encode(error.to_string())
        }
    }

    /// Names `path` as where a failed write was going; a full disk says so.
    fn at(self, path: &Path) -> Self {
        match self {
            Self::Write(source) | Self::Io { source, .. } => {
                let source = if source.kind() == io::ErrorKind::StorageFull {
                    io::Error::new(
                        source.kind(),
                        format!("{source}: the disk is full, and any previous file is unchanged"),
                    )
                } else {
                    source
                };
                Self::Io {
                    path: path.to_owned(),
                    source,
                }
            }
            other => other,
        }
    }
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

/// [`neutralize_formula`] for a cell of raw bytes (a name that may not be UTF-8).
fn neutralize_formula_bytes(cell: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if cell.first().is_some_and(|b| b"=+-@\t\r".contains(b)) {
        [&b"'"[..], cell].concat().into()
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
    let encode = ExportError::from_csv;
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_COLUMNS).map_err(encode)?;
    for row in rows {
        let e = row.entry;
        let (index, size, mode) = (
            row.layer_index.to_string(),
            e.size.to_string(),
            format!("{:04o}", e.mode),
        );
        let (uid, gid, mtime) = (e.uid.to_string(), e.gid.to_string(), format_mtime(e.mtime));
        writer
            .write_record([
                index.as_bytes(),
                row.layer_digest.as_bytes(),
                &neutralize_formula_bytes(e.path_bytes()),
                e.kind.as_str().as_bytes(),
                size.as_bytes(),
                mode.as_bytes(),
                uid.as_bytes(),
                gid.as_bytes(),
                mtime.as_bytes(),
                &neutralize_formula_bytes(e.link_target_bytes().unwrap_or_default()),
                row.layer_status.as_bytes(),
                row.change.as_str().as_bytes(),
            ])
            .map_err(encode)?;
    }
    writer.flush().map_err(ExportError::Write)
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
    serde_json::to_writer_pretty(out, &document).map_err(ExportError::from_json)
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
            let to_terminal = stdout.is_terminal();
            let mut lock = io::BufWriter::new(stdout.lock());
            let stdout_path = Path::new("stdout");
            let flushed = if to_terminal {
                let mut guarded = TerminalSafe::new(&mut lock);
                write(&mut guarded).map_err(|e| e.at(stdout_path))?;
                guarded.finish()
            } else {
                write(&mut lock).map_err(|e| e.at(stdout_path))?;
                Ok(())
            };
            flushed
                .and_then(|()| lock.flush())
                .map_err(|source| ExportError::Write(source).at(stdout_path))
        }
        Destination::File(path) => write_atomically(path, write),
    }
}

/// A writer for a terminal: control characters (other than newline) become visible `\u001b`
/// escapes and bytes that are not UTF-8 become `\xff`, so that no file name can move the
/// cursor, retitle the window or ring the bell. The escapes are valid inside JSON strings
/// (where only DEL and C1 controls are left to escape); files keep their bytes.
pub struct TerminalSafe<W: Write> {
    inner: W,
    /// The start of a UTF-8 sequence cut by the end of a write.
    carry: Vec<u8>,
}

impl<W: Write> TerminalSafe<W> {
    /// Guards `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            carry: Vec::new(),
        }
    }

    /// Writes out a sequence left incomplete at the end (as escaped bytes).
    pub fn finish(&mut self) -> io::Result<()> {
        let carry = std::mem::take(&mut self.carry);
        for byte in carry {
            write!(self.inner, "\\x{byte:02x}")?;
        }
        Ok(())
    }

    fn write_text(&mut self, text: &str) -> io::Result<()> {
        let mut clean_from = 0;
        for (at, c) in text.char_indices() {
            if c.is_control() && c != '\n' {
                self.inner.write_all(&text.as_bytes()[clean_from..at])?;
                write!(self.inner, "\\u{:04x}", u32::from(c))?;
                clean_from = at + c.len_utf8();
            }
        }
        self.inner.write_all(&text.as_bytes()[clean_from..])
    }
}

impl<W: Write> Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(buf);
        let mut rest = &bytes[..];
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.write_text(text)?;
                    break;
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    // Checked by from_utf8 up to valid_up_to.
                    self.write_text(std::str::from_utf8(valid).unwrap_or_default())?;
                    match error.error_len() {
                        Some(bad) => {
                            for byte in &after[..bad] {
                                write!(self.inner, "\\x{byte:02x}")?;
                            }
                            rest = &after[bad..];
                        }
                        None => {
                            self.carry = after.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let io_error = |source: io::Error| ExportError::Write(source).at(path);
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
        write(&mut buffered).map_err(|e| e.at(path))?;
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
            raw_names: None,
        }
    }

    #[test]
    fn terminal_output_escapes_controls_and_bad_bytes_even_across_writes() {
        let mut out = Vec::new();
        let mut guard = TerminalSafe::new(&mut out);
        guard.write_all(b"ok\n\x1b]0;title\x07 caf").expect("write");
        guard.write_all(&[0xc3]).expect("half a character");
        guard
            .write_all(&[0xa9, b' ', 0xff, b'\t', 0xc2, 0x9b, b'\n'])
            .expect("write");
        guard.write_all(&[0xe2]).expect("cut");
        guard.finish().expect("finish");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "ok\n\\u001b]0;title\\u0007 café \\xff\\u0009\\u009b\n\\xe2"
        );
    }

    #[test]
    fn csv_files_keep_names_that_are_not_utf8_byte_for_byte() {
        let mut e = entry("caf\u{fffd}");
        e.raw_names = Some(Box::new(crate::listing::RawNames {
            path: Some(b"caf\xe9".to_vec()),
            link_target: None,
        }));
        e.kind = EntryKind::File;
        e.link_target = None;
        let listing = LayerListing {
            layer: LayerInfo {
                index: 0,
                descriptor: crate::manifest::Descriptor::default(),
                created_by: None,
            },
            entries: vec![e],
            status: LayerStatus::Complete {
                digest_verified: true,
            },
            bytes_read: 0,
            listed_from: ListedFrom::Blob,
        };
        let mut csv = Vec::new();
        write_csv(&rows_of_listings(std::slice::from_ref(&listing)), &mut csv).expect("csv");
        assert!(csv.windows(5).any(|w| w == b"caf\xe9,"), "{csv:?}");
        let mut json = Vec::new();
        write_json(
            &ImageInfo {
                source: String::new(),
                manifest_digest: String::new(),
                platform: None,
                available_platforms: Vec::new(),
                layers: Vec::new(),
                config: crate::manifest::ImageConfig::default(),
            },
            std::slice::from_ref(&listing),
            None,
            &mut json,
        )
        .expect("json");
        let json = String::from_utf8(json).expect("json is utf-8");
        assert!(json.contains(r#""path_base64": "Y2Fm6Q==""#), "{json}");
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
