//! The model: what layers contain and what they make together. Entries, one layer's result,
//! the merged final filesystem, each entry's change, and the path tree the views browse.
//!
//! Owns no I/O and no presentation. May import [`crate::oci`] (layer descriptors) only.

mod content;
mod entry;
mod listing;
mod merge;
mod tree;

pub use content::{ContentFacts, ContentHash, SecretContent};
pub use entry::{
    Entry, EntryKind, OPAQUE_MARKER, RawNames, WHITEOUT_PREFIX, normalize_path,
    normalize_path_bytes,
};
pub use listing::{LayerListing, LayerResult, LayerStatus, ListedFrom, TocFormat};
pub use merge::{
    Change, MergedEntry, MergedFilesystem, changes_of_layers, layer_changes, merge_entries,
    merge_layers,
};
pub use tree::{NodeId, PathFilter, PathTree, TreeRow};

/// Builders shared by the crate's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Entry, LayerListing, LayerStatus};
    use crate::oci::LayerInfo;
    use crate::oci::manifest::Descriptor;

    /// A complete listing of the layer at `index` (its digest made of the index).
    pub(crate) fn listing(index: usize, entries: Vec<Entry>) -> LayerListing {
        LayerListing {
            layer: LayerInfo {
                index,
                descriptor: Descriptor {
                    digest: format!("sha256:{index:064x}"),
                    ..Descriptor::default()
                },
                created_by: None,
            },
            entries,
            result: crate::model::LayerResult::ended(LayerStatus::Complete {
                digest_verified: true,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::testing::listing;

    fn entry(path: &str, kind: EntryKind, size: u64) -> Entry {
        Entry::new(path, kind, size)
    }

    /// An app holds every entry of the layers it peeked: a million entries take this many
    /// bytes each, besides their paths. No 16-byte alignment (the content hash is two
    /// `u64`s), no spare capacity in boxed names.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn entries_stay_compact() {
        assert_eq!(std::mem::size_of::<ContentHash>(), 16);
        assert_eq!(std::mem::align_of::<ContentHash>(), 8);
        assert_eq!(std::mem::size_of::<Option<ContentFacts>>(), 24);
        assert_eq!(std::mem::size_of::<Entry>(), 104);
        let hash = ContentHash::new(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        assert_eq!(hash.value(), 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        assert_eq!(hash.to_string(), "xxh3:0123456789abcdeffedcba9876543210");
        assert!(ContentHash::new(1 << 64) > ContentHash::new(u128::from(u64::MAX)));
        let json = serde_json::to_string(&hash).expect("serialises");
        assert_eq!(json, "\"xxh3:0123456789abcdeffedcba9876543210\"");
        assert_eq!(
            serde_json::from_str::<ContentHash>(&json).expect("parses"),
            hash
        );
    }

    #[test]
    fn changes_are_judged_against_the_layers_below() {
        use EntryKind::*;
        let layers = [
            listing(
                0,
                vec![
                    entry("etc", Dir, 0),
                    entry("etc/a", File, 1),
                    entry("opt/p/old", File, 1),
                ],
            ),
            listing(
                1,
                vec![
                    entry("etc", Dir, 0),
                    entry("etc/a", File, 1),
                    entry("etc/.wh.a", Whiteout, 0),
                    entry("etc/b", File, 2),
                    entry("opt/p/.wh..wh..opq", OpaqueMarker, 0),
                ],
            ),
            listing(
                2,
                vec![entry("etc/a", File, 3), entry("opt/p/old", File, 1)],
            ),
        ];
        use Change::*;
        assert_eq!(
            layer_changes(&layers),
            vec![
                vec![Added, Added, Added],
                // Within a layer, entries are judged against the layers below only.
                vec![Modified, Modified, Removed, Added, Removed],
                // etc/a was re-added by layer 1 (it wins over the whiteout of lower layers);
                // opt/p/old was hidden by the opaque directory, so it is new again.
                vec![Modified, Added],
            ]
        );
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalize_path("./etc/passwd"), "etc/passwd");
        assert_eq!(normalize_path("/usr//bin/"), "usr/bin");
        assert_eq!(normalize_path("./"), ".");
        assert_eq!(normalize_path("a/./b"), "a/b");
        assert_eq!(normalize_path("a/.b/../c."), "a/.b/../c.");
        assert_eq!(normalize_path("."), ".");
        assert_eq!(normalize_path(""), ".");
        assert_eq!(normalize_path("a/."), "a");
        assert_eq!(
            normalize_path_bytes(b"usr/lib"),
            ("usr/lib".to_owned(), None)
        );
        assert_eq!(
            normalize_path_bytes(b"./caf\xe9/"),
            ("caf\u{fffd}".to_owned(), Some(b"caf\xe9".to_vec()))
        );
        assert_eq!(
            normalize_path_bytes(b"caf\xe9"),
            ("caf\u{fffd}".to_owned(), Some(b"caf\xe9".to_vec()))
        );
    }

    #[test]
    fn whiteouts_know_their_targets() {
        assert_eq!(
            entry("etc/.wh.motd", EntryKind::Whiteout, 0)
                .whiteout_target()
                .as_deref(),
            Some("etc/motd")
        );
        assert_eq!(
            entry(".wh.tmp", EntryKind::Whiteout, 0)
                .whiteout_target()
                .as_deref(),
            Some("tmp")
        );
        assert_eq!(
            entry("var/cache/.wh..wh..opq", EntryKind::OpaqueMarker, 0)
                .whiteout_target()
                .as_deref(),
            Some("var/cache")
        );
        assert_eq!(
            entry("etc/motd", EntryKind::File, 0).whiteout_target(),
            None
        );
    }

    #[test]
    fn merging_applies_whiteouts_opaque_dirs_and_replacements() {
        let base = listing(
            0,
            vec![
                entry("etc", EntryKind::Dir, 0),
                entry("etc/motd", EntryKind::File, 10),
                entry("etc/hosts", EntryKind::File, 20),
                entry("var/cache", EntryKind::Dir, 0),
                entry("var/cache/a", EntryKind::File, 1),
                entry("var/cache/sub/b", EntryKind::File, 2),
                entry("opt/tool", EntryKind::Dir, 0),
                entry("opt/tool/bin", EntryKind::File, 3),
                entry("keep", EntryKind::File, 4),
            ],
        );
        let upper = listing(
            1,
            vec![
                entry("var/cache/new", EntryKind::File, 5),
                entry("var/cache/.wh..wh..opq", EntryKind::OpaqueMarker, 0),
                entry("etc/.wh.motd", EntryKind::Whiteout, 0),
                entry("etc/hosts", EntryKind::File, 99),
                entry(".wh.opt", EntryKind::Whiteout, 0),
            ],
        );
        let merged = merge_layers([&base, &upper]);
        let paths: Vec<(&str, usize, u64)> = merged
            .iter()
            .map(|m| (&*m.entry.path, m.layer_index, m.entry.size))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("etc", 0, 0),
                ("etc/hosts", 1, 99),
                ("keep", 0, 4),
                ("var/cache", 0, 0),
                ("var/cache/new", 1, 5),
            ]
        );
    }

    fn tree_of(entries: &[Entry]) -> PathTree<usize> {
        PathTree::build(
            entries
                .iter()
                .enumerate()
                .map(|(index, e)| (e.path.to_string(), index, e.kind == EntryKind::Dir, e.size)),
        )
    }

    #[test]
    fn tree_aggregates_sizes_sorts_and_filters() {
        let entries = [
            entry("usr/bin/zsh", EntryKind::File, 100),
            entry("usr/bin/bash", EntryKind::File, 50),
            entry("usr/lib", EntryKind::Dir, 0),
            entry("usr/lib/libc.so", EntryKind::File, 1000),
            entry("a.txt", EntryKind::File, 1),
        ];
        let tree = tree_of(&entries);
        assert_eq!(tree.len(), 7, "usr and usr/bin are implied directories");
        assert_eq!(tree.total_size(NodeId::ROOT), 1151);
        let names = |rows: &[TreeRow]| {
            rows.iter()
                .map(|r| (tree.path(r.node), r.depth))
                .collect::<Vec<_>>()
        };
        let collapsed = tree.visible_rows(|_| false, "");
        assert_eq!(
            names(&collapsed),
            vec![("usr".into(), 0), ("a.txt".into(), 0)]
        );
        let usr = collapsed[0].node;
        assert_eq!(tree.total_size(usr), 1150);
        assert_eq!(tree.descendants(usr), 5);
        let expanded = tree.visible_rows(|id| id == usr, "");
        assert_eq!(
            names(&expanded),
            vec![
                ("usr".into(), 0),
                ("usr/bin".into(), 1),
                ("usr/lib".into(), 1),
                ("a.txt".into(), 0)
            ]
        );
        let filtered = tree.visible_rows(|_| false, "BASH");
        assert_eq!(
            names(&filtered),
            vec![
                ("usr".into(), 0),
                ("usr/bin".into(), 1),
                ("usr/bin/bash".into(), 2)
            ]
        );
        // A match across a separator, and a needle that restarts inside itself.
        assert_eq!(names(&tree.visible_rows(|_| false, "r/bin/b")).len(), 3);
        let tricky = PathTree::build([("aab/aaab".to_owned(), 0, false, 0)]);
        assert_eq!(tricky.visible_rows(|_| false, "aaab").len(), 2);
        assert_eq!(tricky.visible_rows(|_| false, "b/a").len(), 2);
        assert!(tree.visible_rows(|_| true, "nothing-matches").is_empty());
        assert_eq!(tree.directory_ids().count(), 3);
        assert_eq!(
            tree.find("usr/lib/libc.so")
                .map(|id| tree.path(id))
                .as_deref(),
            Some("usr/lib/libc.so")
        );
        assert_eq!(tree.find("usr/nope"), None);
    }

    #[test]
    fn children_added_in_batches_are_merged_into_order() {
        let mut grown = PathTree::new();
        let mut names: Vec<String> = (0..500)
            .map(|i| format!("f{:03}", (i * 137) % 500))
            .collect();
        for batch in names.chunks(37) {
            for name in batch {
                grown.insert(&format!("d/{name}"), 0, false, 1);
            }
            // A directory arriving among the files goes first.
            grown.insert(&format!("d/sub{}/x", batch.len()), 0, false, 1);
            grown.sort_pending();
        }
        let d = grown.find("d").expect("d");
        let listed: Vec<&str> = grown.children(d).iter().map(|&c| grown.name(c)).collect();
        names.sort();
        names.dedup();
        let mut expected: Vec<String> = vec!["sub19".into(), "sub37".into()];
        expected.extend(names);
        assert_eq!(listed, expected);
    }

    #[test]
    fn a_replaced_entry_moves_the_totals_and_a_file_with_children_becomes_a_directory() {
        let mut tree = PathTree::new();
        tree.insert("a/b", 0, false, 10);
        tree.insert("a/b", 1, false, 3);
        tree.insert("a/c", 2, false, 1);
        tree.sort_pending();
        let a = tree.find("a").expect("a");
        assert_eq!((tree.total_size(a), tree.descendants(a)), (4, 2));
        assert_eq!(tree.payload(tree.find("a/b").expect("a/b")), Some(&1));
        // "c" was a file; a path below it makes it a directory, listed before "b".
        tree.insert("a/c/d", 3, false, 5);
        tree.sort_pending();
        let names: Vec<&str> = tree.children(a).iter().map(|&c| tree.name(c)).collect();
        assert_eq!(names, ["c", "b"]);
        assert_eq!((tree.total_size(a), tree.descendants(a)), (9, 3));
    }

    #[test]
    fn a_path_300_000_levels_deep_is_built_flattened_and_filtered_without_recursion() {
        const DEPTH: usize = 300_000;
        let path = vec!["d"; DEPTH].join("/");
        let tree = PathTree::build([(path.clone(), 0, false, 7)]);
        assert_eq!(tree.len(), DEPTH);
        assert_eq!(tree.total_size(NodeId::ROOT), 7);
        let all_open = tree.visible_rows(|_| true, "");
        assert_eq!(all_open.len(), DEPTH);
        assert_eq!(all_open[DEPTH - 1].depth, DEPTH - 1);
        assert_eq!(tree.path(all_open[DEPTH - 1].node), path);
        assert_eq!(tree.visible_rows(|_| false, "D/D/D").len(), DEPTH);
        let keep = tree.kept_with_parents(|id| tree.children(id).is_empty());
        assert_eq!(keep.iter().filter(|&&k| k).count(), DEPTH);
        drop(tree);
    }
}
