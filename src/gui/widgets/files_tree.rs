//! The virtualised file tree widget: expansion state, a path filter and cached rows.
//!
//! The [`FileTree`] is replaced only when new entries arrive; the flattened rows are
//! recomputed only when the tree, the expansion or the filter changes; each frame draws just
//! the rows that are on screen. What the user asks of a row (its context menu) is handed back
//! as a [`TreeAction`] for the app to carry out. Rows are coloured by the change their entry
//! made (added, modified, removed), and "Changes only" hides what a layer did not really
//! change. Clicking the "Name" or "Size" header sorts each directory's children; a path can be
//! revealed (its parents opened, its row selected and scrolled into view), which is how the
//! Analysis tab jumps to a file.

use std::sync::Arc;

use egui::{Align, Color32, Layout, RichText, Sense, Ui, UiBuilder, Vec2, Visuals, WidgetInfo};

use crate::gui::widgets::tree_rows::{TOGGLE_SCALE, cell, indent_ui, toggle_ui};
use crate::model::{Change, Entry, EntryKind, NodeId, PathFilter, PathTree, TreeRow};
use crate::output::format_mtime;
use crate::output::{escape_control, human_size};

/// Column widths in points.
const KIND_WIDTH: f32 = 96.0;
const SIZE_WIDTH: f32 = 76.0;
const MODE_WIDTH: f32 = 44.0;
const LAYER_WIDTH: f32 = 44.0;
/// Width of the "Name" header (the names themselves take the rest of the row).
const NAME_HEADER_WIDTH: f32 = 80.0;

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

/// The colour of a row whose entry made `change`, readable on the theme of `visuals`.
pub fn change_color(visuals: &Visuals, change: Change) -> Color32 {
    match change {
        Change::Added if visuals.dark_mode => Color32::LIGHT_GREEN,
        Change::Added => Color32::DARK_GREEN,
        Change::Modified => visuals.warn_fg_color,
        Change::Removed => visuals.error_fg_color,
    }
}

/// What the children of each directory are sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    /// By name, directories first (the tree's own order).
    #[default]
    Name,
    /// By total size (a directory counts everything below it), directories and files mixed.
    Size,
}

/// How the rows are sorted: the key, and the direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeSort {
    /// What is compared.
    pub key: SortKey,
    /// Largest / last first.
    pub descending: bool,
}

impl TreeSort {
    /// The sort after a click on the header of `key`: the same key flips its direction; another
    /// key starts A→Z for names and largest first for sizes.
    pub fn clicked(self, key: SortKey) -> Self {
        if self.key == key {
            Self {
                key,
                descending: !self.descending,
            }
        } else {
            Self {
                key,
                descending: key == SortKey::Size,
            }
        }
    }

    /// The arrow shown beside the header of `key` (empty when the rows are not sorted by it):
    /// `▲` ascending, `▼` descending.
    fn arrow(self, key: SortKey) -> &'static str {
        match (self.key == key, self.descending) {
            (false, _) => "",
            (true, false) => "▲",
            (true, true) => "▼",
        }
    }
}

/// What the user asked of a row, for the app to carry out.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeAction {
    /// "Save file…" on a file or hardlink row: the row's path.
    SaveFile(String),
}

/// Open directories of a tree, kept by name to open them again in the tree that replaces it.
#[derive(Debug, Default)]
struct ExpansionSkeleton {
    /// Every node's name, one after the other.
    names: String,
    /// Parents before their children.
    nodes: Vec<SkeletonNode>,
}

/// One directory of an [`ExpansionSkeleton`]: open, or the parent of an open one.
#[derive(Debug)]
struct SkeletonNode {
    /// Its parent's position in the skeleton (`None`: top level).
    parent: Option<usize>,
    /// Its name in the skeleton's names.
    name: std::ops::Range<usize>,
    open: bool,
}

/// A browsable tree: which directories are open, what the filter says, which rows show.
#[derive(Default)]
pub struct TreeView {
    built: BuiltTree,
    /// Hide what the layers did not really change (see [`CHANGES_ONLY_HELP`]).
    changes_only: bool,
    /// Open directories, by node index; nodes past its end are open when
    /// `expand_new_directories` is set.
    expanded: Vec<bool>,
    /// After "Expand all", directories that appear later open too.
    expand_new_directories: bool,
    /// Paths to open once the tree holds them (a path revealed before its entries arrived).
    pending_reveal: Option<String>,
    /// The open directories of the tree shown before (as a tree of their paths, the open ones
    /// marked by node index), opened again as the tree that replaced it grows; dropped once
    /// the user opens or closes anything.
    carried_expansion: Option<ExpansionSkeleton>,
    filter: String,
    /// How each directory's children are sorted.
    sort: TreeSort,
    /// Children of each node in the order of `sort`, by node index; `None` for the tree's own
    /// order or when the tree changed since.
    sorted_children: Option<Vec<Vec<NodeId>>>,
    /// The selected row's path (a clicked row, or a revealed path).
    selected: Option<String>,
    /// The selected row's node, once the tree holds it.
    selected_node: Option<NodeId>,
    /// Scroll the selected row into view as soon as it is among the rows.
    scroll_to_selected: bool,
    rows: Vec<TreeRow>,
    rows_stale: bool,
}

impl TreeView {
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
        if !self.built.tree.is_empty() {
            self.carried_expansion = Some(self.expansion_skeleton());
        }
        self.built = built;
        self.expanded = vec![self.expand_new_directories; self.built.tree.len() + 1];
        self.reopen_carried();
        self.tree_changed();
    }

    /// The open directories and their parents, by name, parents first (no path spelled out).
    fn expansion_skeleton(&self) -> ExpansionSkeleton {
        let tree = &self.built.tree;
        let mut skeleton = ExpansionSkeleton::default();
        if self.expand_new_directories {
            // Everything opens anyway.
            return skeleton;
        }
        let wanted = tree.kept_with_parents(|id| self.is_expanded(id));
        let mut in_skeleton = vec![None; tree.len() + 1];
        for id in tree.ids().filter(|id| wanted[id.index()]) {
            let parent = in_skeleton[tree.parent(id).index()];
            in_skeleton[id.index()] = Some(skeleton.nodes.len());
            let start = skeleton.names.len();
            skeleton.names.push_str(tree.name(id));
            skeleton.nodes.push(SkeletonNode {
                parent,
                name: start..skeleton.names.len(),
                open: self.is_expanded(id),
            });
        }
        skeleton
    }

    /// Opens the directories of [`carried_expansion`](Self::carried_expansion) that the tree
    /// holds.
    fn reopen_carried(&mut self) {
        let Some(skeleton) = self.carried_expansion.take() else {
            return;
        };
        let mut in_tree: Vec<Option<NodeId>> = Vec::with_capacity(skeleton.nodes.len());
        for node in &skeleton.nodes {
            let parent = match node.parent {
                None => Some(NodeId::ROOT),
                Some(parent) => in_tree.get(parent).copied().flatten(),
            };
            let name = skeleton.names.get(node.name.clone()).unwrap_or_default();
            let found = parent.and_then(|parent| self.built.tree.child(parent, name));
            in_tree.push(found);
            if let Some(found) = found
                && node.open
            {
                self.set_open(found, true);
            }
        }
        self.carried_expansion = Some(skeleton);
    }

    /// Adds a batch of `source`'s entries to the tree shown (entries streaming in): the tree
    /// grows in place, nothing is rebuilt.
    pub fn add_batch(&mut self, source: usize, batch: Arc<Vec<Entry>>) {
        self.built.add_batch(source, batch);
    }

    /// Call after [`add_batch`](Self::add_batch) calls: sorts what they added and refreshes
    /// the rows.
    pub fn batches_added(&mut self) {
        self.built.tree.sort_pending();
        self.reopen_carried();
        self.tree_changed();
    }

    /// Sets the change of each entry of `source` (by entry index).
    pub fn set_changes(&mut self, source: usize, changes: Vec<Change>) {
        if let Some(target) = self.built.sources.get_mut(source) {
            target.changes = changes;
            self.rows_stale = true;
        }
    }

    fn tree_changed(&mut self) {
        self.sorted_children = None;
        if let Some(path) = self.pending_reveal.take() {
            self.open_parents_of(&path);
        }
        self.rows_stale = true;
    }

    /// The tree shown.
    pub fn tree(&self) -> &FileTree {
        &self.built.tree
    }

    /// The tree shown, with its entries.
    pub fn built(&self) -> &BuiltTree {
        &self.built
    }

    /// Whether "Changes only" is ticked.
    pub fn changes_only(&self) -> bool {
        self.changes_only
    }

    /// Ticks or clears "Changes only".
    pub fn set_changes_only(&mut self, changes_only: bool) {
        self.rows_stale |= self.changes_only != changes_only;
        self.changes_only = changes_only;
    }

    /// The current path filter.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Narrows the rows to paths containing `filter` (case-insensitive) and their parents.
    pub fn set_filter(&mut self, filter: impl Into<String>) {
        self.filter = filter.into();
        self.rows_stale = true;
    }

    /// How the rows are sorted.
    pub fn sort(&self) -> TreeSort {
        self.sort
    }

    /// Sorts each directory's children by `sort`.
    pub fn set_sort(&mut self, sort: TreeSort) {
        if self.sort != sort {
            self.sort = sort;
            self.sorted_children = None;
            self.rows_stale = true;
        }
    }

    /// The selected row's path, if any.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Shows `path`: opens its parent directories, clears a filter that would hide it (and
    /// "Changes only", once the tree holds the path and that filter hides it), selects its row
    /// and scrolls it into view as soon as it is drawn (also after a tree still being built
    /// arrives).
    pub fn reveal(&mut self, path: &str) {
        self.open_parents_of(path);
        if !PathFilter::new(&self.filter).matches(path) {
            self.filter.clear();
        }
        self.selected = Some(path.to_owned());
        self.scroll_to_selected = true;
        self.rows_stale = true;
    }

    /// Opens the directories above `path` that the tree holds; if it does not hold the path
    /// yet, tries again when the tree changes.
    fn open_parents_of(&mut self, path: &str) {
        let mut at = NodeId::ROOT;
        let mut components = path.split('/').filter(|c| !c.is_empty()).peekable();
        while let Some(component) = components.next() {
            let Some(child) = self.built.tree.child(at, component) else {
                self.pending_reveal = Some(path.to_owned());
                return;
            };
            if components.peek().is_some() {
                self.set_open(child, true);
            }
            at = child;
        }
        self.pending_reveal = None;
    }

    fn is_expanded(&self, id: NodeId) -> bool {
        self.expanded
            .get(id.index())
            .copied()
            .unwrap_or(self.expand_new_directories)
    }

    fn set_open(&mut self, id: NodeId, open: bool) -> bool {
        let size = self.built.tree.len() + 1;
        if self.expanded.len() < size {
            self.expanded.resize(size, self.expand_new_directories);
        }
        let slot = &mut self.expanded[id.index()];
        let changed = *slot != open;
        *slot = open;
        changed
    }

    /// Opens or closes the directory at `path`.
    pub fn set_expanded(&mut self, path: &str, expanded: bool) {
        if let Some(id) = self.built.tree.find(path) {
            self.set_node_expanded(id, expanded);
        }
    }

    fn set_node_expanded(&mut self, id: NodeId, expanded: bool) {
        self.carried_expansion = None;
        if !expanded {
            self.set_open(id, false);
            // Directories that appear later stay closed from now on.
            let size = self.built.tree.len() + 1;
            self.expanded
                .resize(size.max(self.expanded.len()), self.expand_new_directories);
            self.expand_new_directories = false;
        } else {
            self.set_open(id, true);
        }
        self.rows_stale = true;
    }

    /// Opens every directory, including those that later rebuilds of the tree add.
    pub fn expand_all(&mut self) {
        self.carried_expansion = None;
        self.expand_new_directories = true;
        self.expanded = vec![true; self.built.tree.len() + 1];
        self.rows_stale = true;
    }

    /// Closes every directory.
    pub fn collapse_all(&mut self) {
        self.carried_expansion = None;
        self.expand_new_directories = false;
        self.expanded = vec![false; self.built.tree.len() + 1];
        self.rows_stale = true;
    }

    /// The rows currently visible (recomputed only if something changed).
    pub fn rows(&mut self) -> &[TreeRow] {
        self.refresh_rows();
        &self.rows
    }

    /// Paths of the visible rows, top to bottom.
    pub fn visible_paths(&mut self) -> Vec<String> {
        self.refresh_rows();
        self.rows
            .iter()
            .map(|row| self.built.tree.path(row.node))
            .collect()
    }

    fn refresh_rows(&mut self) {
        if !self.rows_stale {
            return;
        }
        self.selected_node = self
            .selected
            .as_deref()
            .and_then(|path| self.built.tree.find(path));
        self.rows = self.compute_rows();
        // A revealed path that "Changes only" hides: show everything rather than nothing.
        if self.changes_only
            && self.scroll_to_selected
            && let Some(selected) = self.selected_node
            && !self.rows.iter().any(|row| row.node == selected)
        {
            self.changes_only = false;
            self.rows = self.compute_rows();
        }
        self.rows_stale = false;
    }

    fn compute_rows(&mut self) -> Vec<TreeRow> {
        if self.sort != TreeSort::default() && self.sorted_children.is_none() {
            self.sorted_children = Some(sorted_children(&self.built.tree, self.sort));
        }
        let order = self.sorted_children.as_deref();
        let is_expanded = |id| self.is_expanded(id);
        if self.changes_only {
            ordered_changed_rows(&self.built, order, is_expanded, &self.filter)
        } else {
            let tree = &self.built.tree;
            let filter = PathFilter::new(&self.filter);
            if filter.is_empty() {
                tree.flatten(order, None, is_expanded)
            } else {
                let keep = tree.matching(&filter);
                tree.flatten(order, Some(&keep), |_| true)
            }
        }
    }

    /// The filter field and the expand / collapse buttons.
    pub fn show_controls(&mut self, ui: &mut Ui) {
        let label = ui.label("Filter paths");
        let field = ui.add(
            egui::TextEdit::singleline(&mut self.filter)
                .hint_text("substring, e.g. bin/")
                .desired_width(220.0),
        );
        let field = field.labelled_by(label.id);
        if field.changed() {
            self.rows_stale = true;
        }
        if ui
            .checkbox(&mut self.changes_only, "Changes only")
            .on_hover_text(CHANGES_ONLY_HELP)
            .changed()
        {
            self.rows_stale = true;
        }
        if ui
            .add_enabled(
                self.filter.trim().is_empty(),
                egui::Button::new("Expand all"),
            )
            .clicked()
        {
            self.expand_all();
        }
        if ui
            .add_enabled(
                self.filter.trim().is_empty(),
                egui::Button::new("Collapse all"),
            )
            .clicked()
        {
            self.collapse_all();
        }
    }

    /// The column header and the rows, drawing only those in view. Returns what the user
    /// picked in a row's context menu, if anything.
    pub fn show_rows(&mut self, ui: &mut Ui) -> Option<TreeAction> {
        self.refresh_rows();
        let row_height = ui.spacing().interact_size.y;
        let show_layer = matches!(self.built.scope, TreeScope::Merged { .. });
        let mut sort_by = None;
        ui.horizontal(|ui| {
            let strong = |text: &str| RichText::new(text).strong();
            cell(ui, KIND_WIDTH, row_height, Align::Min, strong("Kind"));
            let arrow = self.sort.arrow(SortKey::Size);
            if sort_header_ui(ui, SIZE_WIDTH, row_height, Align::Max, ("Size", arrow)) {
                sort_by = Some(SortKey::Size);
            }
            cell(ui, MODE_WIDTH, row_height, Align::Min, strong("Mode"));
            if show_layer {
                cell(ui, LAYER_WIDTH, row_height, Align::Max, strong("Layer"));
            }
            let arrow = self.sort.arrow(SortKey::Name);
            if sort_header_ui(
                ui,
                NAME_HEADER_WIDTH,
                row_height,
                Align::Min,
                ("Name", arrow),
            ) {
                sort_by = Some(SortKey::Name);
            }
        });
        ui.separator();
        let filtering = !self.filter.trim().is_empty();
        let row_step = row_height + ui.spacing().item_spacing.y;
        let mut scroll_area = egui::ScrollArea::vertical()
            .id_salt("tree_rows")
            .auto_shrink(false);
        if self.scroll_to_selected
            && let Some(index) = self
                .selected_node
                .and_then(|node| self.rows.iter().position(|row| row.node == node))
        {
            let centred = index as f32 * row_step - (ui.available_height() - row_step) / 2.0;
            scroll_area = scroll_area.vertical_scroll_offset(centred.max(0.0));
            self.scroll_to_selected = false;
        }
        let (built, rows) = (&self.built, &self.rows);
        let selected = self.selected_node;
        let mut clicked = None;
        let mut action = None;
        scroll_area.show_rows(ui, row_height, rows.len(), |ui, range| {
            for row in &rows[range] {
                let is_open = filtering || self.is_expanded(row.node);
                let style = RowStyle {
                    height: row_height,
                    show_layer,
                    can_toggle: !filtering,
                    selected: selected == Some(row.node),
                };
                match show_row(ui, built, row.node, row.depth, is_open, &style) {
                    Some(RowClick::Toggle) => clicked = Some((row.node, Some(!is_open))),
                    Some(RowClick::Select) => clicked = Some((row.node, None)),
                    Some(RowClick::Save) => {
                        action = Some(TreeAction::SaveFile(built.tree.path(row.node)));
                    }
                    None => {}
                }
            }
        });
        if let Some((node, open)) = clicked {
            if let Some(open) = open {
                self.set_node_expanded(node, open);
            }
            self.selected = Some(self.built.tree.path(node));
            self.selected_node = Some(node);
        }
        if let Some(key) = sort_by {
            self.set_sort(self.sort.clicked(key));
        }
        action
    }
}

/// How rows are drawn.
struct RowStyle {
    height: f32,
    show_layer: bool,
    can_toggle: bool,
    /// The row is the selected one: drawn highlighted.
    selected: bool,
}

/// What a click on a row asked for.
enum RowClick {
    /// Open or close the directory.
    Toggle,
    /// Select the row (a click on a name that does not open or close anything).
    Select,
    /// "Save file…" in the row's context menu.
    Save,
}

/// Draws one row; returns what the user asked of it. File and hardlink rows have a context
/// menu (right-click anywhere on the row) offering "Save file…".
fn show_row(
    ui: &mut Ui,
    built: &BuiltTree,
    id: NodeId,
    depth: usize,
    is_open: bool,
    style: &RowStyle,
) -> Option<RowClick> {
    let height = style.height;
    let tree = &built.tree;
    let entry = built.entry(id);
    let change = built.change(id);
    let is_dir = tree.is_dir(id);
    let full_path = tree.path(id);
    let path = escape_control(&full_path);
    let kind = entry.map_or(EntryKind::Dir, |e| e.kind);
    let mut toggled = false;
    let mut name_clicked = false;
    // Keyed by path, so that an open context menu stays with its row while the rows scroll.
    let row = ui.push_id(&path, |ui| {
        if style.selected {
            let rect =
                egui::Rect::from_min_size(ui.cursor().min, Vec2::new(ui.available_width(), height));
            // Half the selection colour, framed by its stroke: the row's coloured text stays
            // readable on it.
            let selection = ui.visuals().selection;
            ui.painter().rect(
                rect,
                2.0,
                selection.bg_fill.linear_multiply(0.45),
                selection.stroke,
                egui::StrokeKind::Inside,
            );
        }
        ui.horizontal(|ui| {
            let kind_color = match kind {
                EntryKind::Dir => ui.visuals().hyperlink_color,
                EntryKind::Symlink | EntryKind::Hardlink => ui.visuals().warn_fg_color,
                EntryKind::Whiteout | EntryKind::OpaqueMarker => ui.visuals().error_fg_color,
                _ => ui.visuals().text_color(),
            };
            cell(
                ui,
                KIND_WIDTH,
                height,
                Align::Min,
                RichText::new(kind.as_str()).color(kind_color),
            );
            let size = if is_dir || kind == EntryKind::File {
                human_size(tree.total_size(id))
            } else {
                String::new()
            };
            cell(ui, SIZE_WIDTH, height, Align::Max, RichText::new(size));
            let mode = entry.map_or_else(String::new, |e| format!("{:04o}", e.mode));
            cell(
                ui,
                MODE_WIDTH,
                height,
                Align::Min,
                RichText::new(mode).monospace(),
            );
            if style.show_layer {
                let layer = built
                    .layer_index(id)
                    .map_or_else(String::new, |l| l.to_string());
                cell(ui, LAYER_WIDTH, height, Align::Max, RichText::new(layer));
            }
            indent_ui(ui, depth);
            if is_dir && style.can_toggle {
                toggled |= toggle_ui(ui, is_open, &path, height).clicked();
            } else if is_dir {
                let size = Vec2::splat(height * TOGGLE_SCALE);
                let (_, response) = ui.allocate_exact_size(size, Sense::hover());
                egui::collapsing_header::paint_default_icon(ui, 1.0, &response);
            } else {
                ui.add_space(height * TOGGLE_SCALE);
            }
            let mut name_text = RichText::new(escape_control(tree.name(id)));
            if let Some(change) = change {
                name_text = name_text.color(change_color(ui.visuals(), change));
            }
            if style.selected {
                name_text = name_text.strong();
            }
            let name = egui::Label::new(name_text)
                .selectable(false)
                .sense(Sense::click());
            let response = ui.add(name);
            if is_dir && style.can_toggle {
                toggled |= response.clicked();
            } else {
                name_clicked |= response.clicked();
            }
            response.on_hover_ui(|ui| entry_details(ui, built, id, &path));
            if let Some(removes) = entry.and_then(removal_text) {
                ui.label(RichText::new(removes).weak());
            }
            if let Some(target) = entry.and_then(|e| e.link_target.as_deref()) {
                let arrow = if kind == EntryKind::Hardlink {
                    "hard link to"
                } else {
                    "->"
                };
                ui.label(RichText::new(format!("{arrow} {}", escape_control(target))).weak());
            }
        })
    });
    let mut save = false;
    if matches!(kind, EntryKind::File | EntryKind::Hardlink) {
        row.inner.response.container_context_menu(|ui| {
            if ui
                .button("Save file…")
                .on_hover_text("Copy this file out of the image to a file on this computer")
                .clicked()
            {
                save = true;
                ui.close();
            }
        });
    }
    if save {
        Some(RowClick::Save)
    } else if toggled {
        Some(RowClick::Toggle)
    } else if name_clicked {
        Some(RowClick::Select)
    } else {
        None
    }
}

/// A clickable column header `width` wide: the title with the sort arrow (in the monospace
/// font, which has the arrows); returns whether it was clicked. Its accessible name is
/// "Sort by TITLE".
fn sort_header_ui(
    ui: &mut Ui,
    width: f32,
    height: f32,
    align: Align,
    (title, arrow): (&str, &str),
) -> bool {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
    let layout = if align == Align::Max {
        Layout::right_to_left(Align::Center)
    } else {
        Layout::left_to_right(Align::Center)
    };
    let mut cell = ui.new_child(UiBuilder::new().max_rect(rect).layout(layout));
    let color = cell.visuals().strong_text_color();
    let mut text = egui::text::LayoutJob::default();
    let proportional = egui::TextStyle::Body.resolve(cell.style());
    text.append(title, 0.0, egui::TextFormat::simple(proportional, color));
    if !arrow.is_empty() {
        let monospace = egui::TextStyle::Monospace.resolve(cell.style());
        text.append(arrow, 4.0, egui::TextFormat::simple(monospace, color));
    }
    let name = title.to_lowercase();
    let response = cell
        .add(egui::Button::new(text).frame(false))
        .on_hover_text(format!(
            "Sort each directory's entries by {name}; click again to reverse"
        ));
    let enabled = response.enabled();
    response.widget_info(|| {
        WidgetInfo::labeled(egui::Role::Button, enabled, format!("Sort by {name}"))
    });
    response.clicked()
}

/// What a whiteout or opaque marker removes, e.g. `removes etc/motd`.
fn removal_text(entry: &crate::model::Entry) -> Option<String> {
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

/// The rows "Changes only" shows: nodes [`BuiltTree::is_notable`] keeps that match `filter`,
/// and their parents. Without a path filter directories open and close as usual; with one,
/// every kept directory is open (as [`PathTree::visible_rows`] does).
#[cfg(test)]
fn changed_rows(
    built: &BuiltTree,
    is_expanded: impl Fn(NodeId) -> bool,
    filter: &str,
) -> Vec<TreeRow> {
    ordered_changed_rows(built, None, is_expanded, filter)
}

/// [`changed_rows`] with the children in `order` (by node index; `None`: the tree's order).
fn ordered_changed_rows(
    built: &BuiltTree,
    order: Option<&[Vec<NodeId>]>,
    is_expanded: impl Fn(NodeId) -> bool,
    filter: &str,
) -> Vec<TreeRow> {
    let tree = &built.tree;
    let filter = PathFilter::new(filter);
    let matches = (!filter.is_empty()).then(|| tree.path_matches(&filter));
    let keep = tree.kept_with_parents(|id| {
        built.is_notable(id) && matches.as_ref().is_none_or(|m| m[id.index()])
    });
    if filter.is_empty() {
        tree.flatten(order, Some(&keep), is_expanded)
    } else {
        tree.flatten(order, Some(&keep), |_| true)
    }
}

/// Every node's children sorted by `sort` (ties by name), by node index.
fn sorted_children(tree: &FileTree, sort: TreeSort) -> Vec<Vec<NodeId>> {
    let directed = |ordering: std::cmp::Ordering| {
        if sort.descending {
            ordering.reverse()
        } else {
            ordering
        }
    };
    std::iter::once(NodeId::ROOT)
        .chain(tree.ids())
        .map(|id| {
            let mut children = tree.children(id).to_vec();
            children.sort_by(|&a, &b| match sort.key {
                SortKey::Name => tree
                    .is_dir(b)
                    .cmp(&tree.is_dir(a))
                    .then_with(|| directed(tree.name(a).cmp(tree.name(b)))),
                SortKey::Size => directed(tree.total_size(a).cmp(&tree.total_size(b)))
                    .then_with(|| tree.name(a).cmp(tree.name(b))),
            });
            children
        })
        .collect()
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
    use crate::model::Entry;

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            path: path.into(),
            kind,
            size: 1,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            link_target: None,
            content: None,
            raw_names: None,
        }
    }

    fn paths(built: &BuiltTree, rows: &[TreeRow]) -> Vec<String> {
        rows.iter().map(|row| built.tree.path(row.node)).collect()
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
        let mut built = BuiltTree::of_layer(1, entries.iter().map(|(e, _)| e.clone()).collect());
        built.sources[0].changes = entries.iter().map(|(_, change)| *change).collect();
        let rows = changed_rows(&built, |_| true, "");
        assert_eq!(
            paths(&built, &rows),
            ["etc", "etc/new", "opt", "var", "var/.wh.old"],
            "srv is only listed again; etc and var stay as parents"
        );
        let collapsed = changed_rows(&built, |_| false, "");
        assert_eq!(paths(&built, &collapsed), ["etc", "opt", "var"]);
        let filtered = changed_rows(&built, |_| false, "old");
        assert_eq!(paths(&built, &filtered), ["var", "var/.wh.old"]);
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
