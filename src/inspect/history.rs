//! A path's history through an image's layers: every layer that adds, modifies or removes it,
//! oldest first. Pure: it takes the listings (no I/O), so the CLI's `log` and the app can
//! share it.
//!
//! A layer touches the path when it holds an entry for it (the last one counts, as in any
//! tar), or when it removes it from the layers below: a whiteout of the path or of a parent, an
//! opaque marker in a parent directory, or a parent that becomes something other than a
//! directory (a file, a symlink).

use serde::Serialize;

use crate::inspect::carve::removes_path;
use crate::model::{Change, ContentHash, Entry, EntryKind, LayerListing, normalize_path};

/// One layer that touched the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathChange {
    /// The layer's index (0 = base).
    pub layer: usize,
    /// The layer's blob digest.
    pub digest: String,
    /// The build step that made the layer (the config history's `created_by`).
    pub created_by: Option<String>,
    /// Added, modified or removed.
    pub change: Change,
    /// What the path is after this layer (`None` when removed).
    pub kind: Option<EntryKind>,
    /// Its size (0 unless a regular file).
    pub size: u64,
    /// Its permission bits, when present.
    #[serde(serialize_with = "octal")]
    pub mode: Option<u32>,
    /// A symlink's or hardlink's target.
    pub link_target: Option<String>,
    /// The XXH3-128 of a regular file's data, when the listing carries it.
    pub content: Option<ContentHash>,
    /// For a removal: the entry that removed it (a whiteout, an opaque marker, or the parent
    /// that is no longer a directory).
    pub removed_by: Option<String>,
}

fn octal<S: serde::Serializer>(mode: &Option<u32>, serializer: S) -> Result<S::Ok, S::Error> {
    match mode {
        Some(mode) => serializer.serialize_str(&format!("{mode:04o}")),
        None => serializer.serialize_none(),
    }
}

/// Every layer of `listings` (base first) that touches `path`, oldest first.
pub fn path_history(listings: &[LayerListing], path: &str) -> Vec<PathChange> {
    let path = normalize_path(path);
    let mut present = false;
    let mut changes = Vec::new();
    for listing in listings {
        let layer = &listing.layer;
        let row = |change: Change, entry: Option<&Entry>, removed_by: Option<&Entry>| PathChange {
            layer: layer.index,
            digest: layer.digest().to_owned(),
            created_by: layer.created_by.clone(),
            change,
            kind: entry.map(|e| e.kind),
            size: entry.map_or(0, |e| e.size),
            mode: entry.map(|e| e.mode),
            link_target: entry.and_then(|e| e.link_target.as_deref().map(str::to_owned)),
            content: entry.and_then(|e| e.content.map(|facts| facts.hash)),
            removed_by: removed_by.map(|e| e.path.to_string()),
        };
        let own = listing.entries.iter().rev().find(|e| *e.path == *path);
        if let Some(entry) = own {
            let change = if present {
                Change::Modified
            } else {
                Change::Added
            };
            changes.push(row(change, Some(entry), None));
            present = true;
            continue;
        }
        if !present {
            continue;
        }
        let removal = listing
            .entries
            .iter()
            .find(|e| removes_path(e, &path) || replaces_parent(e, &path));
        if let Some(remover) = removal {
            changes.push(row(Change::Removed, None, Some(remover)));
            present = false;
        }
    }
    changes
}

/// Whether `entry` is a parent directory of `path` turned into something else (a file, a
/// symlink), which hides what lower layers had below it.
fn replaces_parent(entry: &Entry, path: &str) -> bool {
    entry.kind != EntryKind::Dir
        && !matches!(entry.kind, EntryKind::Whiteout | EntryKind::OpaqueMarker)
        && path
            .strip_prefix(&*entry.path)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete listing of the layer at `index`, made by the build step `RUN step {index}`.
    fn listing(index: usize, entries: Vec<Entry>) -> LayerListing {
        let mut listing = crate::model::testing::listing(index, entries);
        listing.layer.created_by = Some(format!("RUN step {index}"));
        listing
    }

    #[test]
    fn adds_modifications_and_every_kind_of_removal_are_rows() {
        let file = |path: &str| Entry::new(path, EntryKind::File, 3);
        let listings = vec![
            listing(0, vec![file("a/b/c")]),
            listing(1, vec![file("a/other")]),
            listing(
                2,
                vec![file("a/b/c"), Entry::new("a/b/c", EntryKind::Symlink, 0)],
            ),
            listing(3, vec![Entry::new("a/.wh.b", EntryKind::Whiteout, 0)]),
            listing(4, vec![file("a/b/c")]),
            listing(
                5,
                vec![Entry::new("a/b/.wh..wh..opq", EntryKind::OpaqueMarker, 0)],
            ),
            listing(6, vec![file("a/b/c")]),
            listing(7, vec![Entry::new("a", EntryKind::Symlink, 0)]),
            listing(8, vec![Entry::new(".wh.a", EntryKind::Whiteout, 0)]),
        ];
        let rows = path_history(&listings, "/a/b/c");
        let summary: Vec<(usize, Change, Option<EntryKind>, Option<&str>)> = rows
            .iter()
            .map(|r| (r.layer, r.change, r.kind, r.removed_by.as_deref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, Change::Added, Some(EntryKind::File), None),
                (2, Change::Modified, Some(EntryKind::Symlink), None),
                (3, Change::Removed, None, Some("a/.wh.b")),
                (4, Change::Added, Some(EntryKind::File), None),
                (5, Change::Removed, None, Some("a/b/.wh..wh..opq")),
                (6, Change::Added, Some(EntryKind::File), None),
                (7, Change::Removed, None, Some("a")),
            ]
        );
        assert!(path_history(&listings, "a/nothing").is_empty());
    }
}
