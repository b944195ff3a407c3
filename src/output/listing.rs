//! Listings as CSV rows or a JSON document, each entry with the change it makes.

use std::collections::HashMap;
use std::io::Write;

use serde::Serialize;

use super::file::ExportError;
use super::format::format_mtime;
use crate::model::{
    Change, Entry, LayerListing, LayerStatus, ListedFrom, MergedEntry, layer_changes,
};
use crate::oci::{ImageInfo, LayerInfo};

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
                layer_status: listing.result.status.label(),
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
            entries.map(move |(entry, change)| ((listing.layer.index, &*entry.path), change))
        })
        .collect();
    merged
        .iter()
        .map(|item| {
            let listing = listings.iter().find(|l| l.layer.index == item.layer_index);
            ExportRow {
                layer_index: item.layer_index,
                layer_digest: listing.map_or("", |l| l.layer.digest()),
                layer_status: listing.map_or("", |l| l.result.status.label()),
                entry: &item.entry,
                change: changes
                    .get(&(item.layer_index, &*item.entry.path))
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
            status: &listing.result.status,
            bytes_read: listing.result.bytes_read,
            listed_from: listing.result.listed_from,
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
