//! Comparing the final filesystems of two images, path by path.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use serde::Serialize;

use crate::model::{Change, ContentHash};
use crate::model::{EntryKind, LayerListing, MergedEntry};
use crate::oci::LayerInfo;
use crate::output::{ExportError, neutralize_formula};

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
    fn of(item: &MergedEntry) -> Self {
        let entry = &item.entry;
        Self {
            kind: entry.kind,
            size: entry.size,
            mode: entry.mode,
            link_target: entry.link_target.clone(),
            content: entry.content.map(|c| c.hash),
            layer: item.layer_index,
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
    let mut paths: BTreeMap<&str, (Option<&MergedEntry>, Option<&MergedEntry>)> = BTreeMap::new();
    for item in a {
        paths.entry(&item.entry.path).or_default().0 = Some(item);
    }
    for item in b {
        paths.entry(&item.entry.path).or_default().1 = Some(item);
    }
    paths
        .into_iter()
        .filter_map(|(path, sides)| {
            let (a, b) = (sides.0.map(DiffSide::of), sides.1.map(DiffSide::of));
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
        })
        .collect()
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

/// Image B's listings as far as image A's already give them: layers B shares with A (same
/// digest, read completely) are taken from A's listings, so that a shared layer is read once.
#[derive(Debug)]
pub struct SharedListings {
    known: Vec<Option<LayerListing>>,
    /// B's layers that still have to be read, in B's order.
    pub unread: Vec<LayerInfo>,
    /// How many of B's layers came from A.
    pub shared: usize,
}

impl SharedListings {
    /// Takes what it can for `b_layers` from `a`.
    pub fn new(a: &[LayerListing], b_layers: &[LayerInfo]) -> Self {
        let by_digest: HashMap<&str, &LayerListing> = a
            .iter()
            .filter(|l| l.status.is_complete())
            .map(|l| (l.layer.digest(), l))
            .collect();
        let known: Vec<Option<LayerListing>> = b_layers
            .iter()
            .map(|layer| {
                by_digest.get(layer.digest()).map(|listing| LayerListing {
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
    pub fn complete(self, read: Vec<LayerListing>) -> Vec<LayerListing> {
        let mut read = read.into_iter();
        self.known
            .into_iter()
            .filter_map(|known| known.or_else(|| read.next()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;

    fn item(path: &str, kind: EntryKind, data: &[u8], mode: u32) -> MergedEntry {
        MergedEntry {
            layer_index: 0,
            entry: Entry {
                path: path.into(),
                kind,
                size: data.len() as u64,
                mode,
                uid: 0,
                gid: 0,
                mtime: 0,
                link_target: None,
                content: (kind == EntryKind::File)
                    .then(|| crate::layer::content::facts_of_bytes(data)),
                raw_names: None,
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
