//! The final filesystem across layers (whiteouts and opaque directories applied) and what
//! each entry changes in the layers below it.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::Serialize;

use super::entry::{Entry, EntryKind};
use super::listing::LayerListing;
/// An entry of the merged view, with the layer that last wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergedEntry {
    /// Index of the layer the entry comes from.
    pub layer_index: usize,
    /// The entry as that layer wrote it.
    pub entry: Entry,
}

/// Applies layers in order (whiteouts delete, opaque markers hide lower contents, later
/// entries replace earlier ones) and returns the final filesystem, sorted by path.
pub fn merge_layers<'a>(layers: impl IntoIterator<Item = &'a LayerListing>) -> Vec<MergedEntry> {
    merge_entries(
        layers
            .into_iter()
            .map(|listing| (listing.layer.index, &listing.entries)),
    )
}

/// [`merge_layers`] over `(layer index, entries)` pairs, for callers that hold entries in
/// another shape than a [`LayerListing`] (each layer's entries are walked twice).
pub fn merge_entries<'a, E>(layers: impl IntoIterator<Item = (usize, E)>) -> Vec<MergedEntry>
where
    E: IntoIterator<Item = &'a Entry> + Clone,
{
    let mut filesystem = MergedFilesystem::default();
    for (layer_index, entries) in layers {
        filesystem.apply(layer_index, entries);
    }
    filesystem.into_entries()
}

/// The final filesystem, built one layer at a time (whiteouts and opaque directories applied),
/// borrowing the entries of the layers laid so far.
#[derive(Debug, Clone, Default)]
pub struct MergedFilesystem<'a> {
    /// The entries, ordered and looked up by path, with their layer and their index in it.
    merged: BTreeSet<Laid<'a>>,
    /// Scratch space for `dir/` prefixes.
    prefix: String,
}

/// An entry of a [`MergedFilesystem`] (16 bytes: a big layer's merge holds a million): the
/// entry, the layer index given to [`MergedFilesystem::apply`] and its index in that layer's
/// entries, both kept as `u32` (a layer of 4 billion entries would not fit in memory anyway).
/// Ordered, compared and looked up by the entry's path alone, so that `&str` finds it.
#[derive(Debug, Clone, Copy)]
struct Laid<'a> {
    entry: &'a Entry,
    layer: u32,
    position: u32,
}

impl<'a> Laid<'a> {
    fn new(layer: usize, position: usize, entry: &'a Entry) -> Self {
        Self {
            entry,
            layer: u32::try_from(layer).unwrap_or(u32::MAX),
            position: u32::try_from(position).unwrap_or(u32::MAX),
        }
    }

    /// (layer index, index in its layer, entry).
    fn parts(self) -> (usize, usize, &'a Entry) {
        (self.layer as usize, self.position as usize, self.entry)
    }
}

impl Borrow<str> for Laid<'_> {
    fn borrow(&self) -> &str {
        &self.entry.path
    }
}

impl PartialEq for Laid<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entry.path == other.entry.path
    }
}

impl Eq for Laid<'_> {}

impl PartialOrd for Laid<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Laid<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.entry.path.cmp(&other.entry.path)
    }
}

impl<'a> MergedFilesystem<'a> {
    /// Lays the entries of the layer `layer_index` over what is there.
    pub fn apply(
        &mut self,
        layer_index: usize,
        entries: impl IntoIterator<Item = &'a Entry> + Clone,
    ) {
        for entry in entries.clone() {
            match (entry.kind, entry.whiteout_target()) {
                (EntryKind::OpaqueMarker, Some(dir)) => self.remove_below(&dir, layer_index),
                (EntryKind::Whiteout, Some(target)) => {
                    self.merged.remove(target.as_str());
                    self.remove_below(&target, usize::MAX);
                }
                _ => {}
            }
        }
        for (position, entry) in entries.into_iter().enumerate() {
            if matches!(entry.kind, EntryKind::Whiteout | EntryKind::OpaqueMarker) {
                continue;
            }
            if entry.kind != EntryKind::Dir {
                // A non-directory replacing a directory also replaces what was under it.
                self.remove_below(&entry.path, layer_index);
            }
            // `replace`, not `insert`: a later entry of the same path takes the place.
            self.merged.replace(Laid::new(layer_index, position, entry));
        }
    }

    /// Removes everything strictly below `dir` that came from a layer before `current_layer`.
    fn remove_below(&mut self, dir: &str, current_layer: usize) {
        self.prefix.clear();
        if !dir.is_empty() && dir != "." {
            self.prefix.push_str(dir);
            self.prefix.push('/');
        }
        let prefix = self.prefix.as_str();
        let doomed: Vec<&'a str> = self
            .merged
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|laid| (&*laid.entry.path, laid.layer as usize))
            .take_while(|(path, _)| path.starts_with(prefix))
            .filter(|&(path, layer)| layer < current_layer && path != ".")
            .map(|(path, _)| path)
            .collect();
        for path in doomed {
            self.merged.remove(path);
        }
    }

    /// Whether `path` is in the filesystem.
    pub fn contains(&self, path: &str) -> bool {
        self.merged.contains(path)
    }

    /// Its entries with their layers, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &'a Entry)> + '_ {
        self.merged
            .iter()
            .map(|laid| (laid.layer as usize, laid.entry))
    }

    /// Its entries, sorted by path, each with its layer and its index in that layer's
    /// entries (in the order [`apply`](Self::apply) was given them).
    pub fn iter_positions(&self) -> impl Iterator<Item = (usize, usize, &'a Entry)> + '_ {
        self.merged.iter().map(|laid| laid.parts())
    }

    /// What `entry`, laid over this filesystem, changes in it.
    pub fn change_of(&self, entry: &Entry) -> Change {
        match entry.kind {
            EntryKind::Whiteout | EntryKind::OpaqueMarker => Change::Removed,
            _ if self.contains(&entry.path) => Change::Modified,
            _ => Change::Added,
        }
    }

    /// Its entries, sorted by path, as owned [`MergedEntry`] values.
    pub fn into_entries(self) -> Vec<MergedEntry> {
        self.merged
            .into_iter()
            .map(|laid| MergedEntry {
                layer_index: laid.layer as usize,
                entry: laid.entry.clone(),
            })
            .collect()
    }
}

/// What an entry does to the filesystem of the layers below it; in a comparison of two
/// images, what image B does to image A's final filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The path did not exist below (in a comparison: only image B has it).
    Added,
    /// The path existed below (a re-added identical file counts too, as dive shows it). In a
    /// comparison: both images have it, with another kind, size, mode, link target or
    /// content.
    Modified,
    /// A whiteout, or an opaque marker hiding what is below its directory (in a comparison:
    /// only image A has it).
    Removed,
}

impl Change {
    /// `added`, `modified` or `removed`, as CSV and JSON write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Modified => "modified",
            Self::Removed => "removed",
        }
    }
}

/// The change of every entry of `listings` (base first; one list per listing, in entry order),
/// judged against the final filesystem of the listings before it.
pub fn layer_changes(listings: &[LayerListing]) -> Vec<Vec<Change>> {
    changes_of_layers(
        listings
            .iter()
            .map(|listing| (listing.layer.index, &listing.entries)),
    )
}

/// [`layer_changes`] over `(layer index, entries)` pairs, for callers that hold entries in
/// another shape than a [`LayerListing`].
pub fn changes_of_layers<'a, E>(layers: impl IntoIterator<Item = (usize, E)>) -> Vec<Vec<Change>>
where
    E: IntoIterator<Item = &'a Entry> + Clone,
{
    let mut below = MergedFilesystem::default();
    let mut layers = layers.into_iter().peekable();
    let mut all_changes = Vec::new();
    while let Some((layer_index, entries)) = layers.next() {
        let changes = entries
            .clone()
            .into_iter()
            .map(|entry| below.change_of(entry))
            .collect();
        all_changes.push(changes);
        // The top layer is judged, never judged against.
        if layers.peek().is_some() {
            below.apply(layer_index, entries);
        }
    }
    all_changes
}
