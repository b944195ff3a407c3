//! Comparing the final filesystems of two images, path by path, and [`compare_images`], the
//! whole comparison (shared layers read once) that the CLI and the app both run.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

use serde::Serialize;

use crate::cancel::CancelToken;
use crate::model::{Change, ContentHash};
use crate::model::{Entry, EntryKind, LayerListing, LayerResult, MergedEntry, MergedFilesystem};
use crate::oci::LayerInfo;
use crate::output::{ExportError, neutralize_formula};
use crate::source::ImageSource;

/// How a path differs between image A and image B: the same [`Change`] a layer's entry makes
/// in the layers below it, image B judged against image A: [`Change::Added`] only in B,
/// [`Change::Removed`] only in A, [`Change::Modified`] in both, with another kind, size,
/// mode, link target or content. (Kept as a name for callers of the comparison.)
pub type DiffChange = Change;

/// One side of a differing path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffSide {
    /// What it is.
    pub kind: EntryKind,
    /// File size.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Symlink or hardlink target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// Content hash, when the file's data was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentHash>,
    /// The layer of its image it comes from.
    pub layer: usize,
}

impl DiffSide {
    fn of((layer, entry): (usize, &Entry)) -> Self {
        Self {
            kind: entry.kind,
            size: entry.size,
            mode: entry.mode,
            link_target: entry.link_target.as_deref().map(str::to_owned),
            content: entry.content.map(|c| c.hash),
            layer,
        }
    }

    /// Whether the two sides differ in kind, size, mode, link target or (when both are
    /// known) content.
    fn differs_from(&self, other: &Self) -> bool {
        let content_differs = match (self.content, other.content) {
            (Some(a), Some(b)) => a != b,
            _ => false,
        };
        self.kind != other.kind
            || self.size != other.size
            || self.mode != other.mode
            || self.link_target != other.link_target
            || content_differs
    }
}

/// A path that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffRow {
    /// How it differs.
    pub change: Change,
    /// The path.
    pub path: String,
    /// In image A (`None` when added).
    pub a: Option<DiffSide>,
    /// In image B (`None` when removed).
    pub b: Option<DiffSide>,
}

/// Counts of each change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DiffSummary {
    /// Paths only in B.
    pub added: usize,
    /// Paths only in A.
    pub removed: usize,
    /// Paths in both that differ.
    pub modified: usize,
}

/// The differing paths of two final filesystems (as [`crate::model::merge_layers`] returns
/// them), sorted by path; unchanged paths are left out.
pub fn diff_filesystems(a: &[MergedEntry], b: &[MergedEntry]) -> Vec<DiffRow> {
    type Sides<'m> = (Option<&'m MergedEntry>, Option<&'m MergedEntry>);
    let mut paths: BTreeMap<&str, Sides<'_>> = BTreeMap::new();
    for item in a {
        paths.entry(&item.entry.path).or_default().0 = Some(item);
    }
    for item in b {
        paths.entry(&item.entry.path).or_default().1 = Some(item);
    }
    paths
        .into_iter()
        .filter_map(|(path, (a, b))| {
            let side = |item: &MergedEntry| DiffSide::of((item.layer_index, &item.entry));
            diff_row(path, a.map(side), b.map(side))
        })
        .collect()
}

/// [`diff_filesystems`] of two final filesystems given as `(layer, entry)` pairs sorted by
/// path with no path twice (as [`MergedFilesystem::iter`] gives them): walked side by side,
/// with nothing copied but the differing rows.
fn diff_sorted<'e>(
    a: impl Iterator<Item = (usize, &'e Entry)>,
    b: impl Iterator<Item = (usize, &'e Entry)>,
) -> Vec<DiffRow> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    let mut rows = Vec::new();
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((_, x)), Some((_, y))) => x.path.cmp(&y.path),
        };
        let (side_a, side_b) = match order {
            Ordering::Less => (a.next(), None),
            Ordering::Greater => (None, b.next()),
            Ordering::Equal => (a.next(), b.next()),
        };
        let Some((_, entry)) = side_a.or(side_b) else {
            break;
        };
        if let Some(row) = diff_row(
            &entry.path,
            side_a.map(DiffSide::of),
            side_b.map(DiffSide::of),
        ) {
            rows.push(row);
        }
    }
    rows
}

/// The row of `path`, if its sides differ.
fn diff_row(path: &str, a: Option<DiffSide>, b: Option<DiffSide>) -> Option<DiffRow> {
    let change = match (&a, &b) {
        (None, Some(_)) => Change::Added,
        (Some(_), None) => Change::Removed,
        (Some(a), Some(b)) if a.differs_from(b) => Change::Modified,
        _ => return None,
    };
    Some(DiffRow {
        change,
        path: path.to_owned(),
        a,
        b,
    })
}

/// Counts the rows of each change.
pub fn summarize(rows: &[DiffRow]) -> DiffSummary {
    rows.iter()
        .fold(DiffSummary::default(), |mut summary, row| {
            match row.change {
                Change::Added => summary.added += 1,
                Change::Removed => summary.removed += 1,
                Change::Modified => summary.modified += 1,
            }
            summary
        })
}

/// The CSV columns of a diff.
pub const DIFF_CSV_COLUMNS: [&str; 8] = [
    "change", "path", "kind_a", "kind_b", "size_a", "size_b", "mode_a", "mode_b",
];

/// Writes diff rows as CSV (empty cells for the missing side).
pub fn write_diff_csv(rows: &[DiffRow], out: impl Write) -> Result<(), ExportError> {
    let encode = ExportError::from_csv;
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(DIFF_CSV_COLUMNS).map_err(encode)?;
    let kind = |side: &Option<DiffSide>| side.as_ref().map_or("", |s| s.kind.as_str());
    let size =
        |side: &Option<DiffSide>| side.as_ref().map_or(String::new(), |s| s.size.to_string());
    let mode = |side: &Option<DiffSide>| {
        side.as_ref()
            .map_or(String::new(), |s| format!("{:04o}", s.mode))
    };
    for row in rows {
        writer
            .write_record([
                row.change.as_str(),
                &neutralize_formula(&row.path),
                kind(&row.a),
                kind(&row.b),
                &size(&row.a),
                &size(&row.b),
                &mode(&row.a),
                &mode(&row.b),
            ])
            .map_err(encode)?;
    }
    writer.flush().map_err(ExportError::Write)
}

/// One layer's listing in a comparison: its entries in the batches they were read in,
/// shared rather than owned, so that the app's peeked layers, and B's layers shared with A,
/// take part with no entry copied.
#[derive(Debug, Clone)]
pub struct ComparedListing {
    /// The layer.
    pub layer: LayerInfo,
    /// How reading it ended.
    pub result: LayerResult,
    /// Its entries, in tar order, in batches.
    pub batches: Vec<Arc<Vec<Entry>>>,
}

impl ComparedListing {
    /// Its entries, in tar order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> + Clone {
        self.batches.iter().flat_map(|batch| batch.iter())
    }
}

impl From<LayerListing> for ComparedListing {
    fn from(listing: LayerListing) -> Self {
        Self {
            layer: listing.layer,
            result: listing.result,
            batches: vec![Arc::new(listing.entries)],
        }
    }
}

/// The final filesystem of `listings` (base first), borrowing their entries.
fn merged_of(listings: &[ComparedListing]) -> MergedFilesystem<'_> {
    let mut filesystem = MergedFilesystem::default();
    for listing in listings {
        filesystem.apply(listing.layer.index, listing.entries());
    }
    filesystem
}

/// Image B's listings as far as image A's already give them: layers B shares with A (same
/// digest, read completely) are taken from A's listings (their entries shared, not copied),
/// so that a shared layer is read once.
#[derive(Debug)]
pub struct SharedListings {
    known: Vec<Option<ComparedListing>>,
    /// B's layers that still have to be read, in B's order.
    pub unread: Vec<LayerInfo>,
    /// How many of B's layers came from A.
    pub shared: usize,
}

impl SharedListings {
    /// Takes what it can for `b_layers` from `a`.
    pub fn new(a: &[ComparedListing], b_layers: &[LayerInfo]) -> Self {
        let by_digest: HashMap<&str, &ComparedListing> = a
            .iter()
            .filter(|l| l.result.status.is_complete())
            .map(|l| (l.layer.digest(), l))
            .collect();
        let known: Vec<Option<ComparedListing>> = b_layers
            .iter()
            .map(|layer| {
                by_digest
                    .get(layer.digest())
                    .map(|listing| ComparedListing {
                        layer: layer.clone(),
                        ..(*listing).clone()
                    })
            })
            .collect();
        let unread = b_layers
            .iter()
            .zip(&known)
            .filter(|(_, known)| known.is_none())
            .map(|(layer, _)| layer.clone())
            .collect();
        let shared = known.iter().filter(|k| k.is_some()).count();
        Self {
            known,
            unread,
            shared,
        }
    }

    /// B's listings, in B's order, given the listings of the [`unread`](Self::unread) layers
    /// (in their order).
    pub fn complete(self, read: Vec<LayerListing>) -> Vec<ComparedListing> {
        let mut read = read.into_iter().map(ComparedListing::from);
        self.known
            .into_iter()
            .filter_map(|known| known.or_else(|| read.next()))
            .collect()
    }
}

/// Which image of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The image compared from (the one on screen in the app).
    A,
    /// The image compared with.
    B,
}

/// One image of a comparison: where its blobs come from, and its layers, base first.
#[derive(Clone, Copy)]
pub struct CompareImage<'a> {
    /// Where the image's blobs come from.
    pub source: &'a dyn ImageSource,
    /// Every layer of the image, base first.
    pub layers: &'a [LayerInfo],
}

/// Layers a comparison has to read, as it hands them to its [`CompareReader`].
pub struct ReadRequest<'a> {
    /// Which image they belong to.
    pub side: Side,
    /// Where their blobs come from.
    pub source: &'a dyn ImageSource,
    /// The layers to read, in the image's order (never empty).
    pub layers: &'a [LayerInfo],
    /// For image B: how many of its layers were taken from A's listings (0 for A).
    pub shared: usize,
}

/// How a comparison reads the layers it needs (with whatever progress display the caller
/// has), and hears when it moves on to comparing.
pub trait CompareReader {
    /// Reads every layer of `request` whole, returning one listing per layer, in order.
    fn read(&mut self, request: ReadRequest<'_>) -> Vec<LayerListing>;

    /// Both images are read: the final filesystems are being compared.
    fn diffing(&mut self) {}
}

/// The comparison was cancelled before it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct CompareCancelled;

/// A finished comparison of image A with image B.
#[derive(Debug)]
pub struct Comparison {
    /// Image A's listings, base first.
    pub listings_a: Vec<ComparedListing>,
    /// Image B's listings, base first (shared layers taken from A's, entries shared).
    pub listings_b: Vec<ComparedListing>,
    /// Layers of B that A has too (same digest, read completely): read once.
    pub shared_layers: usize,
    /// Layers of A read for the comparison (not known before).
    pub read_a: usize,
    /// Layers of B read for the comparison (not shared with A).
    pub read_b: usize,
    /// The differing paths, sorted by path.
    pub rows: Vec<DiffRow>,
}

impl Comparison {
    /// A note for each layer of either image that was not read completely: the comparison
    /// may miss differences in it.
    pub fn incomplete_notes(&self) -> Vec<String> {
        [("A", &self.listings_a), ("B", &self.listings_b)]
            .into_iter()
            .flat_map(|(image, listings)| {
                listings
                    .iter()
                    .filter(|listing| !listing.result.status.is_complete())
                    .map(move |listing| {
                        format!(
                            "layer {} of image {image} was not read completely ({}): differences in it may be missing",
                            listing.layer.index,
                            listing.result.status.label()
                        )
                    })
            })
            .collect()
    }
}

/// Compares the final filesystems of images `a` and `b`. Listings of A already read go in
/// `known_a` (complete ones are used, matched by layer index; their entries are shared, not
/// copied); the other layers of A are read
/// through `reader`, then the layers of B that A does not share (same digest), so a shared
/// layer is read once. Layers that could not be read completely stay in the listings with
/// their status; only `cancel` stops the comparison.
pub fn compare_images(
    a: CompareImage<'_>,
    b: CompareImage<'_>,
    known_a: Vec<ComparedListing>,
    reader: &mut dyn CompareReader,
    cancel: &CancelToken,
) -> Result<Comparison, CompareCancelled> {
    let mut known: HashMap<usize, ComparedListing> = known_a
        .into_iter()
        .filter(|listing| listing.result.status.is_complete())
        .map(|listing| (listing.layer.index, listing))
        .collect();
    let unread_a: Vec<LayerInfo> = a
        .layers
        .iter()
        .filter(|layer| !known.contains_key(&layer.index))
        .cloned()
        .collect();
    let read_a = unread_a.len();
    let fresh_a = if unread_a.is_empty() {
        Vec::new()
    } else {
        reader.read(ReadRequest {
            side: Side::A,
            source: a.source,
            layers: &unread_a,
            shared: 0,
        })
    };
    let mut fresh_a = fresh_a.into_iter().map(ComparedListing::from);
    let listings_a: Vec<ComparedListing> = a
        .layers
        .iter()
        .filter_map(|layer| known.remove(&layer.index).or_else(|| fresh_a.next()))
        .collect();
    if cancel.is_cancelled() {
        return Err(CompareCancelled);
    }
    let shared = SharedListings::new(&listings_a, b.layers);
    let shared_layers = shared.shared;
    let read_b = shared.unread.len();
    let fresh_b = if shared.unread.is_empty() {
        Vec::new()
    } else {
        reader.read(ReadRequest {
            side: Side::B,
            source: b.source,
            layers: &shared.unread,
            shared: shared_layers,
        })
    };
    let listings_b = shared.complete(fresh_b);
    if cancel.is_cancelled() {
        return Err(CompareCancelled);
    }
    reader.diffing();
    let rows = diff_sorted(merged_of(&listings_a).iter(), merged_of(&listings_b).iter());
    Ok(Comparison {
        listings_a,
        listings_b,
        shared_layers,
        read_a,
        read_b,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;

    fn item(path: &str, kind: EntryKind, data: &[u8], mode: u32) -> MergedEntry {
        MergedEntry {
            layer_index: 0,
            entry: Entry {
                mode,
                content: (kind == EntryKind::File)
                    .then(|| crate::layer::content::facts_of_bytes(data)),
                ..Entry::new(path, kind, data.len() as u64)
            },
        }
    }

    #[test]
    fn paths_are_added_removed_or_modified_and_the_same_ones_are_left_out() {
        use EntryKind::{Dir, File, Symlink};
        let a = vec![
            item("etc", Dir, b"", 0o755),
            item("etc/gone", File, b"x", 0o644),
            item("etc/mode", File, b"x", 0o644),
            item("etc/same", File, b"same", 0o644),
            item("etc/content", File, b"abc", 0o644),
            item("etc/kind", File, b"", 0o777),
        ];
        let mut b = vec![
            item("etc", Dir, b"", 0o755),
            item("etc/content", File, b"abd", 0o644),
            item("etc/kind", Symlink, b"", 0o777),
            item("etc/mode", File, b"x", 0o600),
            item("etc/new", File, b"n", 0o644),
            item("etc/same", File, b"same", 0o644),
        ];
        b[4].layer_index = 3;
        let rows = diff_filesystems(&a, &b);
        let changes: Vec<(&str, Change)> =
            rows.iter().map(|r| (r.path.as_str(), r.change)).collect();
        assert_eq!(
            changes,
            vec![
                ("etc/content", Change::Modified),
                ("etc/gone", Change::Removed),
                ("etc/kind", Change::Modified),
                ("etc/mode", Change::Modified),
                ("etc/new", Change::Added),
            ]
        );
        assert_eq!(
            summarize(&rows),
            DiffSummary {
                added: 1,
                removed: 1,
                modified: 3
            }
        );
        let mut csv = Vec::new();
        write_diff_csv(&rows, &mut csv).expect("writes");
        let csv = String::from_utf8(csv).expect("utf-8");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "change,path,kind_a,kind_b,size_a,size_b,mode_a,mode_b"
        );
        assert_eq!(lines[2], "removed,etc/gone,file,,1,,0644,");
        assert_eq!(lines[5], "added,etc/new,,file,,1,,0644");
    }
}
