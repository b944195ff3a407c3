//! The Files tab's tree: the entries of a peeked layer or of the final filesystem, as the rows
//! ([`FileRows`]) of the one tree widget ([`PathTreeView`], which keeps the expansion, the
//! filter, the sort, the selection and the cached rows, and draws only the rows on screen).
//!
//! The [`FileTree`] grows in place as entries stream in, or is replaced by a rebuilt one. What
//! the user asks of a row (its context menu) is handed back as a [`TreeAction`] for the app to
//! carry out. Rows are coloured by the change their entry
//! made (added, modified, removed), and "Changes only" hides what a layer did not really
//! change. Clicking the "Name" or "Size" header sorts each directory's children; a path can be
//! revealed (its parents opened, its row selected and scrolled into view), which is how the
//! Analysis tab jumps to a file.

use std::sync::Arc;

use egui::{Align, RichText, Ui, WidgetText};

pub use crate::gui::widgets::tree_view::change_color;
use crate::gui::widgets::tree_view::{
    Column, Columns, Header, PathTreeView, SortKey, TreeLook, TreeRows,
};
use crate::model::{Change, Entry, EntryKind, NodeId, PathTree};
use crate::output::format_mtime;
use crate::output::{escape_control, human_size};

/// Column widths in points.
const KIND_WIDTH: f32 = 96.0;
const SIZE_WIDTH: f32 = 76.0;
const MODE_WIDTH: f32 = 44.0;
const LAYER_WIDTH: f32 = 44.0;
/// The columns, left to right (the layer's only in a merged tree).
const KIND_COLUMN: usize = 0;
const SIZE_COLUMN: usize = 1;
const MODE_COLUMN: usize = 2;
const LAYER_COLUMN: usize = 3;

/// The hover text of "Changes only": the rule it applies.
const CHANGES_ONLY_HELP: &str = "Show only what the layers changed (with the directories \
    holding it). In a layer's tree: hides directories the layer only lists again as parents of \
    its files (directories that already existed below). In the merged tree: hides what comes \
    from the first peeked layer (the base), so that what later layers added, replaced or kept \
    stands out.";

/// Which kind of tree a [`BuiltTree`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TreeScope {
    /// One layer's own entries.
    #[default]
    Layer,
    /// The final filesystem of several layers.
    Merged {
        /// The index of the first (base) layer merged, if any.
        base_layer: Option<usize>,
    },
}

/// Where the entry of a Files tree node is: which of the tree's sources, which entry of it.
/// Nodes hold this, never a copy of the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef {
    /// Position in [`BuiltTree::sources`].
    pub source: u32,
    /// The entry's index in that source (tar order).
    pub index: u32,
}

/// The Files tree: paths, each with a reference to its entry.
pub type FileTree = PathTree<EntryRef>;

/// The entries one layer contributes to a tree, in the batches they arrived in (shared with
/// the peek, not copied), and each entry's change once judged.
#[derive(Debug, Clone, Default)]
pub struct TreeSource {
    /// The image's index of the layer.
    pub layer_index: usize,
    /// The entries, in tar order.
    pub batches: Vec<Arc<Vec<Entry>>>,
    /// Index of the first entry of each batch.
    batch_starts: Vec<usize>,
    /// The change of each entry, by entry index (shorter while not judged yet).
    pub changes: Vec<Change>,
}

impl TreeSource {
    /// A source of no entries yet.
    pub fn new(layer_index: usize) -> Self {
        Self {
            layer_index,
            ..Self::default()
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.batch_starts.last().copied().unwrap_or(0) + self.batches.last().map_or(0, |b| b.len())
    }

    /// True when no entry arrived.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a batch; returns the index of its first entry.
    fn push(&mut self, batch: Arc<Vec<Entry>>) -> usize {
        let start = self.len();
        self.batch_starts.push(start);
        self.batches.push(batch);
        start
    }

    /// The entry at `index` (tar order).
    pub fn entry(&self, index: usize) -> Option<&Entry> {
        let batch = self.batch_starts.partition_point(|&start| start <= index);
        let start = *self.batch_starts.get(batch.checked_sub(1)?)?;
        self.batches.get(batch - 1)?.get(index - start)
    }

    /// The entries, in tar order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> + Clone {
        self.batches.iter().flat_map(|batch| batch.iter())
    }
}

/// A tree ready to show: the nodes, the entries they refer to, and what kind of tree it is.
#[derive(Debug, Clone, Default)]
pub struct BuiltTree {
    /// The nodes.
    pub tree: FileTree,
    /// The entries the nodes refer to: one source per layer.
    pub sources: Vec<TreeSource>,
    /// One layer or merged.
    pub scope: TreeScope,
}

impl BuiltTree {
    /// A tree without entries.
    pub fn empty(scope: TreeScope) -> Self {
        Self {
            tree: FileTree::new(),
            sources: Vec::new(),
            scope,
        }
    }

    /// A tree of one layer's `entries`, all of them (later duplicates win), without changes.
    pub fn of_layer(layer_index: usize, entries: Vec<Entry>) -> Self {
        let mut built = Self::empty(TreeScope::Layer);
        built.sources.push(TreeSource::new(layer_index));
        built.add_batch(0, Arc::new(entries));
        built.tree.sort_pending();
        built
    }

    /// Adds a batch of entries of `source` (created on demand) to the tree; later entries of a
    /// path replace earlier ones. Call [`FileTree::sort_pending`] once the batches are in.
    pub fn add_batch(&mut self, source: usize, batch: Arc<Vec<Entry>>) {
        let Some(target) = self.sources.get_mut(source) else {
            return;
        };
        let start = target.push(Arc::clone(&batch));
        let source = u32::try_from(source).unwrap_or(u32::MAX);
        for (offset, entry) in batch.iter().enumerate() {
            if &*entry.path == "." {
                continue;
            }
            let at = EntryRef {
                source,
                index: u32::try_from(start + offset).unwrap_or(u32::MAX),
            };
            let is_dir = entry.kind == EntryKind::Dir;
            self.tree.insert(&entry.path, at, is_dir, entry.size);
        }
    }

    /// Entries of `source` in the tree.
    pub fn source_len(&self, source: usize) -> usize {
        self.sources.get(source).map_or(0, TreeSource::len)
    }

    /// Batches of `source` in the tree.
    pub fn source_batches(&self, source: usize) -> usize {
        self.sources.get(source).map_or(0, |s| s.batches.len())
    }

    /// The entry of a node, if it has one of its own.
    pub fn entry(&self, id: NodeId) -> Option<&Entry> {
        let at = *self.tree.payload(id)?;
        self.sources
            .get(at.source as usize)?
            .entry(at.index as usize)
    }

    /// The image's index of the layer a node's entry comes from.
    pub fn layer_index(&self, id: NodeId) -> Option<usize> {
        let at = self.tree.payload(id)?;
        Some(self.sources.get(at.source as usize)?.layer_index)
    }

    /// The change of a node's entry (`None`: no entry of its own, or not judged yet). In a
    /// layer's tree, the entry's change in that layer; in the merged tree, the change it made
    /// in the layer it comes from.
    pub fn change(&self, id: NodeId) -> Option<Change> {
        let at = *self.tree.payload(id)?;
        let source = self.sources.get(at.source as usize)?;
        source.changes.get(at.index as usize).copied()
    }

    /// Puts one entry of `source` at `path` (for trees built from a merged view, whose
    /// entries are a selection of each source's). Call [`FileTree::sort_pending`] after.
    pub fn insert_entry(&mut self, source: usize, index: usize, entry: &Entry) {
        let at = EntryRef {
            source: u32::try_from(source).unwrap_or(u32::MAX),
            index: u32::try_from(index).unwrap_or(u32::MAX),
        };
        self.tree
            .insert(&entry.path, at, entry.kind == EntryKind::Dir, entry.size);
    }

    /// Adds a source of `batches` without putting its entries in the tree (see
    /// [`insert_entry`](Self::insert_entry)); returns its position.
    pub fn add_source(&mut self, layer_index: usize, batches: &[Arc<Vec<Entry>>]) -> usize {
        let mut source = TreeSource::new(layer_index);
        for batch in batches {
            source.push(Arc::clone(batch));
        }
        self.sources.push(source);
        self.sources.len() - 1
    }

    /// Whether "Changes only" keeps the node on its own (not as a parent of a kept node).
    fn is_notable(&self, id: NodeId) -> bool {
        let Some(entry) = self.entry(id) else {
            return false;
        };
        match self.scope {
            TreeScope::Layer => {
                !(entry.kind == EntryKind::Dir && self.change(id) == Some(Change::Modified))
            }
            TreeScope::Merged { base_layer } => self.layer_index(id) != base_layer,
        }
    }
}

/// What the user asked of a row, for the app to carry out.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeAction {
    /// "Save file…" on a file or hardlink row: the row's path.
    SaveFile(String),
    /// "History" on a row with an entry: the row's path.
    History(String),
}

/// The Files tree's rows: a [`BuiltTree`] and "Changes only".
#[derive(Debug, Default)]
pub struct FileRows {
    built: BuiltTree,
    /// Hide what the layers did not really change (see [`CHANGES_ONLY_HELP`]).
    changes_only: bool,
}

/// The Files tree: which directories are open, what the filters say, which rows show.
pub type TreeView = PathTreeView<FileRows>;

impl TreeRows for FileRows {
    type Payload = EntryRef;
    type Action = TreeAction;

    const LOOK: TreeLook = TreeLook {
        filter_label: "Filter paths",
        filter_width: 220.0,
        scroll_id: "tree_rows",
        scrolls_sideways: false,
        name_toggles: true,
    };

    fn tree(&self) -> &FileTree {
        &self.built.tree
    }

    fn columns(&self, _ui: &Ui) -> Columns {
        let mut before = vec![
            Column::titled("Kind", KIND_WIDTH, Align::Min),
            Column::new(Header::Sort("Size", SortKey::Size), SIZE_WIDTH, Align::Max),
            Column::titled("Mode", MODE_WIDTH, Align::Min),
        ];
        if self.shows_layer() {
            before.push(Column::titled("Layer", LAYER_WIDTH, Align::Max));
        }
        Columns {
            before,
            name: Header::Sort("Name", SortKey::Name),
            after: Vec::new(),
        }
    }

    fn cell(&self, ui: &Ui, id: NodeId, column: usize) -> WidgetText {
        let built = &self.built;
        let entry = built.entry(id);
        let kind = entry.map_or(EntryKind::Dir, |e| e.kind);
        match column {
            KIND_COLUMN => {
                let color = match kind {
                    EntryKind::Dir => ui.visuals().hyperlink_color,
                    EntryKind::Symlink | EntryKind::Hardlink => ui.visuals().warn_fg_color,
                    EntryKind::Whiteout | EntryKind::OpaqueMarker => ui.visuals().error_fg_color,
                    _ => ui.visuals().text_color(),
                };
                RichText::new(kind.as_str()).color(color).into()
            }
            SIZE_COLUMN if built.tree.is_dir(id) || kind == EntryKind::File => {
                human_size(built.tree.total_size(id)).into()
            }
            MODE_COLUMN => {
                let mode = entry.map_or_else(String::new, |e| format!("{:04o}", e.mode));
                RichText::new(mode).monospace().into()
            }
            LAYER_COLUMN => built
                .layer_index(id)
                .map_or_else(String::new, |l| l.to_string())
                .into(),
            _ => WidgetText::default(),
        }
    }

    fn change(&self, id: NodeId) -> Option<Change> {
        self.built.change(id)
    }

    fn name_extras_ui(&self, ui: &mut Ui, id: NodeId) {
        let Some(entry) = self.built.entry(id) else {
            return;
        };
        if let Some(removes) = removal_text(entry) {
            ui.label(RichText::new(removes).weak());
        }
        if let Some(target) = entry.link_target.as_deref() {
            let arrow = if entry.kind == EntryKind::Hardlink {
                "hard link to"
            } else {
                "->"
            };
            ui.label(RichText::new(format!("{arrow} {}", escape_control(target))).weak());
        }
    }

    fn tooltip_ui(&self, ui: &mut Ui, id: NodeId, path: &str) {
        entry_details(ui, &self.built, id, path);
    }

    /// Rows with an entry offer "History"; file and hardlink rows also "Save file…"
    /// (right-click anywhere on the row).
    fn has_context_menu(&self, id: NodeId) -> bool {
        self.built.entry(id).is_some()
    }

    fn context_menu_ui(&self, ui: &mut Ui, id: NodeId) -> Option<TreeAction> {
        let holds_data = self
            .built
            .entry(id)
            .is_some_and(|e| matches!(e.kind, EntryKind::File | EntryKind::Hardlink));
        let mut action = None;
        if holds_data
            && ui
                .button("Save file…")
                .on_hover_text("Copy this file out of the image to a file on this computer")
                .clicked()
        {
            action = Some(TreeAction::SaveFile(self.built.tree.path(id)));
        }
        if ui
            .button("History")
            .on_hover_text(
                "The versions of this path across the peeked layers; preview and compare them",
            )
            .clicked()
        {
            action = Some(TreeAction::History(self.built.tree.path(id)));
        }
        action
    }

    fn narrowed(&self) -> bool {
        self.changes_only
    }

    fn keeps(&self, id: NodeId) -> bool {
        self.built.is_notable(id)
    }

    fn widen(&mut self) {
        self.changes_only = false;
    }

    fn narrowing_ui(&mut self, ui: &mut Ui) -> bool {
        ui.checkbox(&mut self.changes_only, "Changes only")
            .on_hover_text(CHANGES_ONLY_HELP)
            .changed()
    }
}

impl FileRows {
    /// A merged tree gets the column naming each entry's source layer.
    fn shows_layer(&self) -> bool {
        matches!(self.built.scope, TreeScope::Merged { .. })
    }
}

impl PathTreeView<FileRows> {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// Shows one layer's `entries` without changes, keeping the filters.
    pub fn set_entries(&mut self, layer_index: usize, entries: Vec<Entry>) {
        self.set_built_tree(BuiltTree::of_layer(layer_index, entries));
    }

    /// Shows `built`, keeping the filters and the open directories (by path: those the new
    /// tree does not hold yet open when it does). A merged tree gets the column naming each
    /// entry's source layer.
    pub fn set_built_tree(&mut self, built: BuiltTree) {
        let changes_only = self.data().changes_only;
        self.replace_data(FileRows {
            built,
            changes_only,
        });
    }

    /// Adds a batch of `source`'s entries to the tree shown (entries streaming in): the tree
    /// grows in place, nothing is rebuilt.
    pub fn add_batch(&mut self, source: usize, batch: Arc<Vec<Entry>>) {
        self.data_mut().built.add_batch(source, batch);
    }

    /// Call after [`add_batch`](Self::add_batch) calls: sorts what they added and refreshes
    /// the rows.
    pub fn batches_added(&mut self) {
        self.data_mut().built.tree.sort_pending();
        self.tree_grew();
    }

    /// Sets the change of each entry of `source` (by entry index).
    pub fn set_changes(&mut self, source: usize, changes: Vec<Change>) {
        if let Some(target) = self.data_mut().built.sources.get_mut(source) {
            target.changes = changes;
            self.data_changed();
        }
    }

    /// The tree shown.
    pub fn tree(&self) -> &FileTree {
        &self.data().built.tree
    }

    /// The tree shown, with its entries.
    pub fn built(&self) -> &BuiltTree {
        &self.data().built
    }

    /// Whether "Changes only" is ticked.
    pub fn changes_only(&self) -> bool {
        self.data().changes_only
    }

    /// Ticks or clears "Changes only".
    pub fn set_changes_only(&mut self, changes_only: bool) {
        if self.data().changes_only != changes_only {
            self.data_mut().changes_only = changes_only;
            self.data_changed();
        }
    }
}

/// What a whiteout or opaque marker removes, e.g. `removes etc/motd`.
pub fn removal_text(entry: &crate::model::Entry) -> Option<String> {
    let target = entry.whiteout_target()?;
    Some(match entry.kind {
        EntryKind::OpaqueMarker if target.is_empty() => {
            "hides everything the layers below put at the root".to_owned()
        }
        EntryKind::OpaqueMarker => format!(
            "hides what the layers below put in {}",
            escape_control(&target)
        ),
        _ => format!("removes {}", escape_control(&target)),
    })
}

/// The tooltip of a row: the full path, its change and every field of the entry.
fn entry_details(ui: &mut Ui, built: &BuiltTree, id: NodeId, path: &str) {
    let tree = &built.tree;
    let change = built.change(id);
    ui.label(RichText::new(path).monospace());
    match built.entry(id) {
        Some(entry) => {
            ui.label(format!("kind: {}", entry.kind.as_str()));
            ui.label(format!("size: {} bytes", entry.size));
            ui.label(format!("mode: {:04o}", entry.mode));
            ui.label(format!("owner: {}:{}", entry.uid, entry.gid));
            ui.label(format!("modified: {}", format_mtime(entry.mtime)));
            if let Some(target) = &entry.link_target {
                ui.label(format!("target: {}", escape_control(target)));
            }
        }
        None => {
            ui.label("directory implied by its contents (no entry of its own)");
        }
    }
    if tree.is_dir(id) {
        ui.label(format!(
            "{} entries below, {} in total",
            tree.descendants(id),
            human_size(tree.total_size(id))
        ));
    }
    if let Some(layer) = built.layer_index(id) {
        ui.label(format!("from layer {layer}"));
    }
    if let Some(change) = change {
        let text = match change {
            Change::Added => "added: the path did not exist in the layers below",
            Change::Modified => "modified: the path existed in the layers below",
            Change::Removed => "removed: deletes paths of the layers below",
        };
        ui.label(RichText::new(text).color(change_color(ui.visuals(), change)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::widgets::tree_view::TreeSort;
    use crate::model::Entry;

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            mode: 0o644,
            ..Entry::new(path, kind, 1)
        }
    }

    #[test]
    fn changes_only_hides_relisted_parents_in_a_layer() {
        use Change::*;
        use EntryKind::*;
        let entries = [
            (entry("etc", Dir), Modified),
            (entry("etc/new", File), Added),
            (entry("srv", Dir), Modified),
            (entry("var", Dir), Modified),
            (entry("var/.wh.old", Whiteout), Removed),
            (entry("opt", Dir), Added),
        ];
        let mut view = TreeView::new();
        view.set_entries(1, entries.iter().map(|(e, _)| e.clone()).collect());
        view.set_changes(0, entries.iter().map(|(_, change)| *change).collect());
        view.set_changes_only(true);
        view.expand_all();
        assert_eq!(
            view.visible_paths(),
            ["etc", "etc/new", "opt", "var", "var/.wh.old"],
            "srv is only listed again; etc and var stay as parents"
        );
        view.collapse_all();
        assert_eq!(view.visible_paths(), ["etc", "opt", "var"]);
        view.set_filter("old");
        assert_eq!(view.visible_paths(), ["var", "var/.wh.old"]);
        assert_eq!(
            removal_text(&entry("var/.wh.old", Whiteout)).as_deref(),
            Some("removes var/old")
        );
    }

    fn built_again(entries: &[Entry]) -> BuiltTree {
        let mut built = BuiltTree::of_layer(0, entries.to_vec());
        built.scope = TreeScope::Merged {
            base_layer: Some(0),
        };
        built
    }

    #[test]
    fn sorting_and_revealing_a_path() {
        use EntryKind::*;
        let mut big = entry("b/big", File);
        big.size = 100;
        let entries = [
            entry("a", Dir),
            entry("a/small", File),
            entry("b", Dir),
            big,
            entry("c", File),
        ];
        let mut view = TreeView::new();
        // A merged tree whose entries all come from the base layer.
        let mut built = BuiltTree::of_layer(0, entries.to_vec());
        built.scope = TreeScope::Merged {
            base_layer: Some(0),
        };
        view.set_built_tree(built);
        assert_eq!(view.visible_paths(), ["a", "b", "c"]);
        // Open directories stay open through a placeholder tree and a tree that grows.
        view.set_expanded("a", true);
        view.set_built_tree(BuiltTree::empty(TreeScope::Layer));
        let mut growing = BuiltTree::of_layer(0, vec![entry("c", File)]);
        growing.scope = TreeScope::Merged {
            base_layer: Some(0),
        };
        view.set_built_tree(growing);
        view.add_batch(0, Arc::new(entries[..2].to_vec()));
        view.batches_added();
        assert_eq!(view.visible_paths(), ["a", "a/small", "c"]);
        view.set_built_tree(built_again(&entries));
        assert_eq!(view.visible_paths(), ["a", "a/small", "b", "c"]);
        view.set_expanded("a", false);
        view.set_sort(TreeSort::default().clicked(SortKey::Size));
        assert!(view.sort().descending, "sizes start largest first");
        assert_eq!(view.visible_paths(), ["b", "a", "c"]);
        view.set_sort(view.sort().clicked(SortKey::Size));
        assert_eq!(view.visible_paths(), ["c", "a", "b"]);
        view.set_sort(view.sort().clicked(SortKey::Name));
        assert_eq!(view.visible_paths(), ["a", "b", "c"]);

        // "Changes only" hides all of the base layer: revealing b/big clears that filter and
        // the path filter, opens its parent and selects it.
        view.set_changes_only(true);
        assert!(view.visible_paths().is_empty());
        view.set_filter("small");
        view.reveal("b/big");
        assert_eq!(view.visible_paths(), ["a", "b", "b/big", "c"]);
        assert!(!view.changes_only());
        assert_eq!(view.filter(), "");
        assert_eq!(view.selected(), Some("b/big"));
    }
}
