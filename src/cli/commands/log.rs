//! `log IMAGE PATH`: every layer that adds, modifies or removes a path, oldest first, with
//! the text changes between versions on `--patch`.

use std::io::{self, Write};

use serde::Serialize;
use similar::TextDiff;

use crate::cancel::CancelToken;
use crate::cli::args::LogArgs;
use crate::cli::commands::explain::open_and_read;
use crate::cli::exit::{Failure, exit_code, listings_exit_code, stdout_failure};
use crate::inspect::carve::{CarveSearch, CarvedFrom, FileVersion, Version};
use crate::inspect::history::{PathChange, path_history};
use crate::layer::cache::ListingCache;
use crate::model::{Change, EntryKind, LayerListing, normalize_path};
use crate::oci::manifest::dockerfile_instruction;
use crate::output::{escape_control, human_size};
use crate::source::ImageSource;
use crate::source::open::OpenedImage;

/// The most of one version read for `--patch`; a longer file is not diffed.
const PATCH_LIMIT: u64 = 1024 * 1024;

/// A row of `log --json`.
#[derive(Serialize)]
struct LogRow<'a> {
    #[serde(flatten)]
    change: &'a PathChange,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<&'a str>,
}

/// `layerslayer log IMAGE PATH`.
pub(crate) fn run_log(args: &LogArgs) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let (OpenedImage { source, .. }, cache, listings) =
        open_and_read(&args.image, &args.read, &cancel)?;
    let path = normalize_path(&args.path);
    let rows = path_history(&listings, &path);
    if rows.is_empty() {
        return Err(Failure::new(
            exit_code::NOT_FOUND,
            format!(
                "no layer of the {} read adds, modifies or removes {path}",
                listings.len()
            ),
        ));
    }
    let patches = if args.patch {
        let (patches, read) = patches(
            source.as_ref(),
            cache.as_ref(),
            &listings,
            &rows,
            &path,
            &cancel,
        )?;
        if !args.read.quiet {
            eprintln!("{}", read.summary());
        }
        patches
    } else {
        vec![None; rows.len()]
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        let document: Vec<LogRow<'_>> = rows
            .iter()
            .zip(&patches)
            .map(|(change, patch)| LogRow {
                change,
                patch: patch.as_deref(),
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &document)
            .map_err(|e| Failure::new(exit_code::FAILURE, e.to_string()))?;
        writeln!(out).map_err(|e| stdout_failure(&e))?;
    } else {
        print_rows(&mut out, &rows, &patches).map_err(|e| stdout_failure(&e))?;
    }
    out.flush().map_err(|e| stdout_failure(&e))?;
    Ok(listings_exit_code(&listings))
}

fn print_rows(
    out: &mut dyn Write,
    rows: &[PathChange],
    patches: &[Option<String>],
) -> io::Result<()> {
    writeln!(
        out,
        "LAYER  DIGEST        CHANGE    KIND      SIZE        MODE  CONTENT                 STEP"
    )?;
    for (row, patch) in rows.iter().zip(patches) {
        let short = row
            .digest
            .split_once(':')
            .map_or(&*row.digest, |(_, hex)| hex);
        let content = match (&row.link_target, row.content) {
            (Some(target), _) => format!("-> {target}"),
            (None, Some(hash)) => hash.to_string().chars().take(21).collect(),
            (None, None) => "-".to_owned(),
        };
        let line = format!(
            "{:>5}  {:<12}  {:<8}  {:<8}  {:>10}  {:<4}  {:<22}  {}",
            row.layer,
            short.get(..12).unwrap_or(short),
            row.change.as_str(),
            row.kind.map_or("-", EntryKind::as_str),
            if row.change == Change::Removed {
                "-".to_owned()
            } else {
                human_size(row.size)
            },
            row.mode
                .map_or_else(|| "-".to_owned(), |m| format!("{m:04o}")),
            content,
            row.created_by
                .as_deref()
                .map_or_else(|| "(no history)".to_owned(), dockerfile_instruction),
        );
        writeln!(out, "{}", escape_control(line.trim_end()))?;
        if let Some(remover) = &row.removed_by {
            writeln!(out, "       removed by {}", escape_control(remover))?;
        }
        for line in patch.iter().flat_map(|patch| patch.lines()) {
            writeln!(out, "       {}", escape_control(line))?;
        }
    }
    Ok(())
}

/// What reading the versions for `--patch` cost.
#[derive(Debug, Default)]
struct VersionsRead {
    versions: usize,
    bytes_fetched: u64,
    from: Vec<CarvedFrom>,
}

impl VersionsRead {
    /// The line on stderr: how many versions, how many blob bytes, and from where.
    fn summary(&self) -> String {
        let from: Vec<&str> = self
            .from
            .iter()
            .map(|from| match from {
                CarvedFrom::Toc => "table of contents",
                CarvedFrom::Stream => "stream",
                CarvedFrom::Listing => "listing",
                CarvedFrom::Index => "index",
            })
            .collect();
        format!(
            "patches: read {} versions, fetched {} blob bytes ({}){}",
            self.versions,
            self.bytes_fetched,
            human_size(self.bytes_fetched),
            if from.is_empty() {
                String::new()
            } else {
                format!(" through: {}", from.join(", "))
            }
        )
    }
}

/// The patch of each row: the change from the version before (none after a removal or a
/// non-file) to this row's, for rows that hold a regular file whose content changed. With a
/// cache, a gzip or multi-frame zstd layer's cached index reads only the file's data.
fn patches(
    source: &dyn ImageSource,
    cache: Option<&ListingCache>,
    listings: &[LayerListing],
    rows: &[PathChange],
    path: &str,
    cancel: &CancelToken,
) -> Result<(Vec<Option<String>>, VersionsRead), Failure> {
    let search = CarveSearch {
        source,
        cache,
        version: Version::Last,
    };
    let mut read = VersionsRead::default();
    let mut previous: Option<(&PathChange, FileVersion)> = None;
    let mut patches = Vec::with_capacity(rows.len());
    for row in rows {
        let holds_data = matches!(row.kind, Some(EntryKind::File | EntryKind::Hardlink));
        let listing = listings.iter().find(|l| l.layer.index == row.layer);
        let (true, Some(listing)) = (holds_data, listing) else {
            previous = None;
            patches.push(None);
            continue;
        };
        let unchanged = previous
            .as_ref()
            .is_some_and(|(before, _)| before.content.is_some() && before.content == row.content);
        if unchanged {
            patches.push(None);
            continue;
        }
        let version = search
            .read_version(
                &listing.layer,
                path,
                Some(&listing.entries),
                PATCH_LIMIT,
                cancel,
            )
            .map_err(|e| Failure::new(exit_code::INCOMPLETE, e.to_string()))?;
        read.versions += 1;
        read.bytes_fetched += version.bytes_fetched;
        read.from.push(version.from);
        patches.push(Some(patch(
            previous.as_ref().map(|(r, v)| (r.layer, v)),
            (row.layer, &version),
            path,
        )));
        previous = Some((row, version));
    }
    Ok((patches, read))
}

/// A unified diff from `before` (none: `/dev/null`) to `after`, each with its layer; one line
/// when either is binary or too long to diff.
fn patch(
    before: Option<(usize, &FileVersion)>,
    after: (usize, &FileVersion),
    path: &str,
) -> String {
    let before_size = before.map_or(0, |(_, v)| v.size);
    let (layer, version) = after;
    let old = match before {
        Some((_, v)) => text(v),
        None => Some(""),
    };
    match (old, text(version)) {
        (Some(old), Some(new)) => {
            let old_name = match before {
                Some((layer, _)) => format!("layer {layer}/{path}"),
                None => "/dev/null".to_owned(),
            };
            TextDiff::from_lines(old, new)
                .unified_diff()
                .context_radius(3)
                .header(&old_name, &format!("layer {layer}/{path}"))
                .to_string()
        }
        _ if before.is_some_and(|(_, v)| v.truncated) || version.truncated => format!(
            "versions too long to compare ({before_size} B → {} B)",
            version.size
        ),
        _ => format!(
            "binary versions differ ({before_size} B → {} B)",
            version.size
        ),
    }
}

/// The version as text: whole, UTF-8 and without NUL bytes.
fn text(version: &FileVersion) -> Option<&str> {
    if version.truncated || version.bytes.contains(&0) {
        return None;
    }
    std::str::from_utf8(&version.bytes).ok()
}
