//! The one path-tree widget: [`PathTreeView`] browses any [`PathTree`] whose rows a
//! [`TreeRows`] describes. The Files tree ([`super::files_tree`]) and the Compare tree
//! ([`super::compare_tree`]) are two [`TreeRows`]; everything else is here, once: which
//! directories are open (kept by name when the tree is replaced), the path filter, sorting by a
//! column header, the selected row and scrolling to it, the flattened rows (recomputed only
//! when something changed), and the header and the rows in view (virtualised). Row pieces
//! (indentation capped for hostile depths, the open/close toggle with its accessible name, the
//! name, fixed-width cells) have one look.
//!
//! Nothing walks the tree recursively: rows come from [`PathTree::flatten`] and
//! [`PathTree::kept_with_parents`].

use egui::{
    Align, Color32, Layout, Response, RichText, Sense, Ui, UiBuilder, Vec2, Visuals, WidgetInfo,
    WidgetText,
};

use crate::model::{Change, NodeId, PathFilter, PathTree, TreeRow};
use crate::output::escape_control;

/// Indentation per directory level.
pub const INDENT: f32 = 16.0;
/// Rows deeper than this are indented no further (a hostile path can be 300,000 levels deep).
pub const MAX_INDENT_LEVELS: usize = 200;
/// Size of the open/close triangle, relative to the row height.
pub const TOGGLE_SCALE: f32 = 0.7;
/// The name column never gets narrower than this.
const MIN_NAME_WIDTH: f32 = 160.0;
/// Room left for the vertical scroll bar.
const SCROLL_BAR_WIDTH: f32 = 16.0;

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

/// The header of a column.
pub enum Header {
    /// A title.
    Title(WidgetText),
    /// A title that sorts the rows by `key` when clicked (accessible name "Sort by TITLE").
    Sort(&'static str, SortKey),
}

/// A column: its header, its width (for the name column, the least it gets) and alignment.
pub struct Column {
    /// What the header shows.
    pub header: Header,
    /// Width in points.
    pub width: f32,
    /// `Align::Min`: left, `Align::Max`: right.
    pub align: Align,
}

impl Column {
    /// A column titled `title` in strong text.
    pub fn titled(title: &str, width: f32, align: Align) -> Self {
        Self::new(
            Header::Title(RichText::new(title).strong().into()),
            width,
            align,
        )
    }

    /// A column of `header`.
    pub fn new(header: Header, width: f32, align: Align) -> Self {
        Self {
            header,
            width,
            align,
        }
    }
}

/// The columns of a tree: fixed-width cells before and after the name. The name column holds
/// the indentation, the toggle and the name; it takes what the other columns leave.
pub struct Columns {
    /// Cells left of the name.
    pub before: Vec<Column>,
    /// The name column's header.
    pub name: Header,
    /// Cells right of the name.
    pub after: Vec<Column>,
}

/// What sets a kind of tree apart that never changes.
pub struct TreeLook {
    /// The label of the filter field.
    pub filter_label: &'static str,
    /// The width of the filter field.
    pub filter_width: f32,
    /// The scroll area's id.
    pub scroll_id: &'static str,
    /// Whether the rows scroll sideways too (their columns can be wider than the panel).
    pub scrolls_sideways: bool,
    /// Whether a click on a directory's name opens or closes it (else it clicks the row).
    pub name_toggles: bool,
}

/// What a tree shows of its nodes: the tree, its columns and cells, each row's name, colour,
/// tooltip and context menu, and a narrowing of the rows of its own (besides the path filter).
pub trait TreeRows {
    /// What each node of the tree holds.
    type Payload;
    /// What the user can ask of a row, handed back to the app.
    type Action;

    /// The tree's fixed traits.
    const LOOK: TreeLook;

    /// The tree.
    fn tree(&self) -> &PathTree<Self::Payload>;
    /// The columns, their headers drawn in `ui`'s style.
    fn columns(&self, ui: &Ui) -> Columns;
    /// The text of node `id` in column `column` (counting [`Columns::before`], then
    /// [`Columns::after`]), drawn in `ui`'s style.
    fn cell(&self, ui: &Ui, id: NodeId, column: usize) -> WidgetText;
    /// The change of node `id`, which colours its name (see [`change_color`]).
    fn change(&self, id: NodeId) -> Option<Change>;
    /// What follows the name (a link's target…).
    fn name_extras_ui(&self, _ui: &mut Ui, _id: NodeId) {}
    /// The tooltip of the name; `path` is the node's path as shown.
    fn tooltip_ui(&self, ui: &mut Ui, id: NodeId, path: &str);
    /// Whether node `id` has an open/close toggle.
    fn has_toggle(&self, id: NodeId) -> bool {
        self.tree().is_dir(id)
    }
    /// Whether the row of node `id` has a context menu.
    fn has_context_menu(&self, _id: NodeId) -> bool {
        false
    }
    /// The context menu of the row of node `id`: what was picked in it.
    fn context_menu_ui(&self, _ui: &mut Ui, _id: NodeId) -> Option<Self::Action> {
        None
    }
    /// What shows when no row does.
    fn empty_text(&self) -> Option<&'static str> {
        None
    }
    /// Whether the tree's own narrowing is on.
    fn narrowed(&self) -> bool;
    /// When narrowed: whether node `id` stays (with its parents) on its own merit.
    fn keeps(&self, id: NodeId) -> bool;
    /// Turns the narrowing off (a revealed path it hides).
    fn widen(&mut self) {}
    /// The controls of the narrowing, between the filter and "Expand all"; returns whether
    /// they changed.
    fn narrowing_ui(&mut self, ui: &mut Ui) -> bool;
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
pub struct PathTreeView<R> {
    data: R,
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
    /// The keys move the selection (off while another pane has the keyboard).
    keys_enabled: bool,
    /// Scroll just enough to show the selected row (after a key moved it).
    keep_selected_in_view: bool,
    /// Enter or Space was pressed on a row that is not a directory, not yet taken.
    activated: bool,
    /// Ctrl+F was pressed: focus the filter field.
    focus_filter: bool,
    /// The rows' scroll offset and height on screen last frame (for Page Up / Page Down and
    /// keeping the selected row in view).
    viewport: (f32, f32),
}

impl<R: TreeRows + Default> Default for PathTreeView<R> {
    fn default() -> Self {
        Self::of(R::default(), false)
    }
}

impl<R: TreeRows> PathTreeView<R> {
    /// A view of `data`, every directory open when `open`.
    pub fn of(data: R, open: bool) -> Self {
        let expanded = vec![open; data.tree().len() + 1];
        Self {
            data,
            expanded,
            expand_new_directories: open,
            pending_reveal: None,
            carried_expansion: None,
            filter: String::new(),
            sort: TreeSort::default(),
            sorted_children: None,
            selected: None,
            selected_node: None,
            scroll_to_selected: false,
            rows: Vec::new(),
            rows_stale: true,
            keys_enabled: true,
            keep_selected_in_view: false,
            activated: false,
            focus_filter: false,
            viewport: (0.0, 0.0),
        }
    }

    /// Lets the keys move the selection (true) or leaves them to another pane (false).
    pub fn set_keys_enabled(&mut self, enabled: bool) {
        self.keys_enabled = enabled;
    }

    /// Whether Enter or Space was pressed on a selected row that is not a directory since the
    /// last call.
    pub fn take_activated(&mut self) -> bool {
        std::mem::take(&mut self.activated)
    }

    /// Selects the row at `path` (if the tree holds it) and scrolls it into view, as a click
    /// would; unlike [`reveal`](Self::reveal) it opens nothing.
    pub fn select(&mut self, path: &str) {
        self.reveal(path);
    }

    /// What the rows show.
    pub fn data(&self) -> &R {
        &self.data
    }

    /// What the rows show, to change in place: call [`data_changed`](Self::data_changed) or
    /// [`tree_grew`](Self::tree_grew) after.
    pub fn data_mut(&mut self) -> &mut R {
        &mut self.data
    }

    /// Call after changing what the rows show, not the tree.
    pub fn data_changed(&mut self) {
        self.rows_stale = true;
    }

    /// Call after the tree grew in place: opens what was open in the tree it replaced, and
    /// what waits to be revealed.
    pub fn tree_grew(&mut self) {
        self.reopen_carried();
        self.tree_changed();
    }

    /// Shows `data` instead, keeping the filters and the open directories (by path: those the
    /// new tree does not hold yet open when it does).
    pub fn replace_data(&mut self, data: R) {
        if !self.data.tree().is_empty() {
            self.carried_expansion = Some(self.expansion_skeleton());
        }
        self.data = data;
        self.expanded = vec![self.expand_new_directories; self.data.tree().len() + 1];
        self.tree_grew();
    }

    fn tree_changed(&mut self) {
        self.sorted_children = None;
        if let Some(path) = self.pending_reveal.take() {
            self.open_parents_of(&path);
        }
        self.rows_stale = true;
    }

    /// The open directories and their parents, by name, parents first (no path spelled out).
    fn expansion_skeleton(&self) -> ExpansionSkeleton {
        let tree = self.data.tree();
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
            let found = parent.and_then(|parent| self.data.tree().child(parent, name));
            in_tree.push(found);
            if let Some(found) = found
                && node.open
            {
                self.set_open(found, true);
            }
        }
        self.carried_expansion = Some(skeleton);
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
    /// the tree's own narrowing, once the tree holds the path and that narrowing hides it),
    /// selects its row and scrolls it into view as soon as it is drawn (also after a tree
    /// still being built arrives).
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
            let Some(child) = self.data.tree().child(at, component) else {
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

    fn set_open(&mut self, id: NodeId, open: bool) {
        let size = self.data.tree().len() + 1;
        if self.expanded.len() < size {
            self.expanded.resize(size, self.expand_new_directories);
        }
        if let Some(slot) = self.expanded.get_mut(id.index()) {
            *slot = open;
        }
    }

    /// Opens or closes the directory at `path`.
    pub fn set_expanded(&mut self, path: &str, expanded: bool) {
        if let Some(id) = self.data.tree().find(path) {
            self.set_node_expanded(id, expanded);
        }
    }

    fn set_node_expanded(&mut self, id: NodeId, expanded: bool) {
        self.carried_expansion = None;
        if !expanded {
            self.set_open(id, false);
            // Directories that appear later stay closed from now on.
            let size = self.data.tree().len() + 1;
            self.expanded
                .resize(size.max(self.expanded.len()), self.expand_new_directories);
            self.expand_new_directories = false;
        } else {
            self.set_open(id, true);
        }
        self.rows_stale = true;
    }

    /// Opens every directory, including those that the tree gets later.
    pub fn expand_all(&mut self) {
        self.carried_expansion = None;
        self.expand_new_directories = true;
        self.expanded = vec![true; self.data.tree().len() + 1];
        self.rows_stale = true;
    }

    /// Closes every directory.
    pub fn collapse_all(&mut self) {
        self.carried_expansion = None;
        self.expand_new_directories = false;
        self.expanded = vec![false; self.data.tree().len() + 1];
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
        let tree = self.data.tree();
        self.rows.iter().map(|row| tree.path(row.node)).collect()
    }

    fn refresh_rows(&mut self) {
        if !self.rows_stale {
            return;
        }
        self.selected_node = self
            .selected
            .as_deref()
            .and_then(|path| self.data.tree().find(path));
        self.rows = self.compute_rows();
        // A revealed path that the narrowing hides: show everything rather than nothing.
        if self.data.narrowed()
            && self.scroll_to_selected
            && let Some(selected) = self.selected_node
            && !self.rows.iter().any(|row| row.node == selected)
        {
            self.data.widen();
            self.rows = self.compute_rows();
        }
        self.rows_stale = false;
    }

    /// The rows: without a path filter or narrowing, the children of open directories; with
    /// them, the nodes they keep and their parents, every directory open under a path filter.
    fn compute_rows(&mut self) -> Vec<TreeRow> {
        let tree = self.data.tree();
        if self.sort != TreeSort::default() && self.sorted_children.is_none() {
            self.sorted_children = Some(sorted_children(tree, self.sort));
        }
        let order = self.sorted_children.as_deref();
        let filter = PathFilter::new(&self.filter);
        let matches = (!filter.is_empty()).then(|| tree.path_matches(&filter));
        let data = &self.data;
        let keep = if data.narrowed() {
            Some(tree.kept_with_parents(|id| {
                data.keeps(id) && matches.as_ref().is_none_or(|m| m[id.index()])
            }))
        } else {
            matches.map(|m| tree.kept_with_parents(|id| m[id.index()]))
        };
        if filter.is_empty() {
            tree.flatten(order, keep.as_deref(), |id| self.is_expanded(id))
        } else {
            tree.flatten(order, keep.as_deref(), |_| true)
        }
    }

    /// The keys of a file manager: ↑ ↓ move the selection, Page Up / Page Down by `page` rows,
    /// Home / End to the first and last row; → opens a directory (on an open one: goes to its
    /// first child), ← closes it (on a closed one or a file: goes to the parent); Enter or
    /// Space opens or closes a directory, and on anything else marks the row activated.
    fn keys_ui(&mut self, ui: &Ui, page: usize) {
        use egui::{Key, Modifiers};
        let count = |key: Key| ui.input_mut(|i| i.count_and_consume_key(Modifiers::NONE, key));
        let (down, up) = (count(Key::ArrowDown), count(Key::ArrowUp));
        let (page_down, page_up) = (count(Key::PageDown), count(Key::PageUp));
        let (home, end) = (count(Key::Home) > 0, count(Key::End) > 0);
        let (right, left) = (count(Key::ArrowRight) > 0, count(Key::ArrowLeft) > 0);
        let activate = count(Key::Enter) + count(Key::Space) > 0;
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() - 1;
        let current = self
            .selected_node
            .and_then(|node| self.rows.iter().position(|row| row.node == node));
        let filtering = !self.filter.trim().is_empty();
        let mut target = None;
        if down + up + page_down + page_up > 0 {
            let at = current.unwrap_or(0) as isize;
            let step = (down as isize - up as isize)
                + (page_down as isize - page_up as isize) * page as isize;
            let moved = if current.is_none() { 0 } else { at + step };
            target = Some(moved.clamp(0, last as isize) as usize);
        }
        if home {
            target = Some(0);
        }
        if end {
            target = Some(last);
        }
        if let Some(index) = current {
            let row = self.rows[index];
            let toggles = self.data.has_toggle(row.node) && !filtering;
            let open = filtering || self.is_expanded(row.node);
            if right && toggles && !open {
                self.set_node_expanded(row.node, true);
            } else if right
                && open
                && self
                    .rows
                    .get(index + 1)
                    .is_some_and(|r| r.depth > row.depth)
            {
                target = Some(index + 1);
            }
            if left && toggles && open {
                self.set_node_expanded(row.node, false);
            } else if left && row.depth > 0 {
                target = self.rows[..index]
                    .iter()
                    .rposition(|r| r.depth + 1 == row.depth)
                    .or(target);
            }
            if activate && toggles {
                self.set_node_expanded(row.node, !open);
            } else if activate {
                self.activated = true;
            }
        }
        if let Some(index) = target {
            let node = self.rows[index].node;
            self.selected = Some(self.data.tree().path(node));
            self.selected_node = Some(node);
            self.keep_selected_in_view = true;
        }
        self.refresh_rows();
    }

    /// The filter field, the narrowing's controls and the expand / collapse buttons.
    pub fn show_controls(&mut self, ui: &mut Ui) {
        let label = ui.label(R::LOOK.filter_label);
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text("substring, e.g. bin/")
                    .desired_width(R::LOOK.filter_width),
            )
            .labelled_by(label.id);
        if field.changed() {
            self.rows_stale = true;
        }
        let pressed_find = ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::F));
        if pressed_find || std::mem::take(&mut self.focus_filter) {
            field.request_focus();
        } else if field.has_focus() && ui.input(|i| i.key_pressed(egui::Key::Escape)) {
            // Esc leaves the filter (its text stays): the keys move the selection again.
            field.surrender_focus();
        }
        if self.data.narrowing_ui(ui) {
            self.rows_stale = true;
        }
        let not_filtering = self.filter.trim().is_empty();
        if ui
            .add_enabled(not_filtering, egui::Button::new("Expand all"))
            .clicked()
        {
            self.expand_all();
        }
        if ui
            .add_enabled(not_filtering, egui::Button::new("Collapse all"))
            .clicked()
        {
            self.collapse_all();
        }
    }

    /// The column header and the rows, drawing only those in view. Returns what the user
    /// asked of a row (a click on its name, its context menu), if anything.
    pub fn show_rows(&mut self, ui: &mut Ui) -> Option<R::Action> {
        self.refresh_rows();
        let height = ui.spacing().interact_size.y;
        let spacing = ui.spacing().item_spacing.x;
        let columns = self.data.columns(ui);
        let name_width = if columns.after.is_empty() {
            // The name takes the rest of the row.
            None
        } else {
            let cells = columns.before.len() + columns.after.len() + 1;
            let fixed: f32 = columns
                .before
                .iter()
                .chain(&columns.after)
                .map(|c| c.width)
                .sum();
            let fixed = fixed + cells as f32 * spacing;
            Some((ui.available_width() - fixed - SCROLL_BAR_WIDTH).max(MIN_NAME_WIDTH))
        };
        let mut sort_by = None;
        ui.horizontal(|ui| {
            let mut header = |ui: &mut Ui, header: &Header, width: f32, align: Align| match header {
                Header::Title(title) => cell(ui, width, height, align, title.clone()),
                &Header::Sort(title, key) => {
                    if sort_header_ui(ui, width, height, align, (title, self.sort.arrow(key))) {
                        sort_by = Some(key);
                    }
                }
            };
            for column in &columns.before {
                header(ui, &column.header, column.width, column.align);
            }
            let width = name_width.unwrap_or_else(|| ui.available_width());
            header(ui, &columns.name, width, Align::Min);
            for column in &columns.after {
                header(ui, &column.header, column.width, column.align);
            }
        });
        ui.separator();
        if let Some(key) = sort_by {
            self.set_sort(self.sort.clicked(key));
            self.refresh_rows();
        }
        if self.rows.is_empty() {
            if let Some(text) = self.data.empty_text() {
                ui.label(RichText::new(text).weak());
            }
            return None;
        }
        let row_step = height + ui.spacing().item_spacing.y;
        if self.keys_enabled && !ui.ctx().text_edit_focused() {
            let page = ((self.viewport.1 / row_step) as usize)
                .saturating_sub(1)
                .max(1);
            self.keys_ui(ui, page);
        }
        let mut scroll_area = egui::ScrollArea::new([R::LOOK.scrolls_sideways, true])
            .id_salt(R::LOOK.scroll_id)
            .auto_shrink(false);
        if std::mem::take(&mut self.keep_selected_in_view)
            && let Some(index) = self
                .selected_node
                .and_then(|node| self.rows.iter().position(|row| row.node == node))
        {
            let (offset, view) = self.viewport;
            let top = index as f32 * row_step;
            let bottom = top + row_step;
            if top < offset {
                scroll_area = scroll_area.vertical_scroll_offset(top);
            } else if view > 0.0 && bottom > offset + view {
                scroll_area = scroll_area.vertical_scroll_offset(bottom - view);
            }
        }
        if self.scroll_to_selected
            && let Some(index) = self
                .selected_node
                .and_then(|node| self.rows.iter().position(|row| row.node == node))
        {
            let centred = index as f32 * row_step - (ui.available_height() - row_step) / 2.0;
            scroll_area = scroll_area.vertical_scroll_offset(centred.max(0.0));
            self.scroll_to_selected = false;
        }
        let filtering = !self.filter.trim().is_empty();
        let mut clicked = None;
        let mut action = None;
        let output = scroll_area.show_rows(ui, height, self.rows.len(), |ui, range| {
            for row in &self.rows[range] {
                let id = row.node;
                let is_open = filtering || self.is_expanded(id);
                let style = RowStyle {
                    height,
                    name_width,
                    depth: row.depth,
                    is_open,
                    can_toggle: !filtering,
                    selected: self.selected_node == Some(id),
                };
                match row_ui(ui, &self.data, &columns, id, &style) {
                    Some(RowClick::Toggle) => clicked = Some((id, Some(!is_open))),
                    Some(RowClick::Select) => clicked = Some((id, None)),
                    Some(RowClick::Action(picked)) => action = Some(picked),
                    None => {}
                }
            }
        });
        self.viewport = (output.state.clamped_offset().y, output.inner_rect.height());
        if let Some((node, open)) = clicked {
            if let Some(open) = open {
                self.set_node_expanded(node, open);
            }
            self.selected = Some(self.data.tree().path(node));
            self.selected_node = Some(node);
        }
        action
    }
}

/// How a row is drawn.
struct RowStyle {
    height: f32,
    /// The width of the name column (`None`: the rest of the row).
    name_width: Option<f32>,
    depth: usize,
    is_open: bool,
    /// Directories can be opened and closed (not while a path filter opens them all).
    can_toggle: bool,
    /// The row is the selected one: drawn highlighted.
    selected: bool,
}

/// What a click on a row asked for.
enum RowClick<A> {
    /// Open or close the directory.
    Toggle,
    /// A click on a name that does not open or close anything: select the row.
    Select,
    /// Something picked in the row's context menu.
    Action(A),
}

/// Draws one row: the cells before the name, the name column (indentation, toggle, name and
/// what follows it), the cells after; returns what the user asked of it.
fn row_ui<R: TreeRows>(
    ui: &mut Ui,
    data: &R,
    columns: &Columns,
    id: NodeId,
    style: &RowStyle,
) -> Option<RowClick<R::Action>> {
    let height = style.height;
    let full_path = data.tree().path(id);
    let path = escape_control(&full_path);
    let has_toggle = data.has_toggle(id);
    let mut click = None;
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
            for (index, column) in columns.before.iter().enumerate() {
                let text = data.cell(ui, id, index);
                cell(ui, column.width, height, column.align, text);
            }
            let width = style.name_width.unwrap_or_else(|| ui.available_width());
            let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
            let mut name_ui = ui.new_child(
                UiBuilder::new()
                    .max_rect(rect)
                    .layout(Layout::left_to_right(Align::Center)),
            );
            let ui_name = &mut name_ui;
            indent_ui(ui_name, style.depth);
            if has_toggle && style.can_toggle {
                if toggle_ui(ui_name, style.is_open, &path, height).clicked() {
                    click = Some(RowClick::Toggle);
                }
            } else if has_toggle {
                let size = Vec2::splat(height * TOGGLE_SCALE);
                let (_, response) = ui_name.allocate_exact_size(size, Sense::hover());
                egui::collapsing_header::paint_default_icon(ui_name, 1.0, &response);
            } else {
                ui_name.add_space(height * TOGGLE_SCALE + ui_name.spacing().item_spacing.x);
            }
            let mut name = RichText::new(escape_control(data.tree().name(id)));
            if let Some(change) = data.change(id) {
                name = name.color(change_color(ui_name.visuals(), change));
            }
            if style.selected {
                name = name.strong();
            }
            let label = egui::Label::new(name)
                .selectable(false)
                .truncate()
                .sense(Sense::click());
            let response = ui_name.add(label);
            if response.clicked() {
                let toggles = R::LOOK.name_toggles && has_toggle && style.can_toggle;
                click = Some(if toggles {
                    RowClick::Toggle
                } else {
                    RowClick::Select
                });
            }
            response.on_hover_ui(|ui| data.tooltip_ui(ui, id, &path));
            data.name_extras_ui(ui_name, id);
            for (index, column) in columns.after.iter().enumerate() {
                let text = data.cell(ui, id, columns.before.len() + index);
                cell(ui, column.width, height, column.align, text);
            }
        })
    });
    // A right click selects the row too: its context menu acts on what is selected, and the
    // preview shows it.
    if click.is_none()
        && row.inner.response.contains_pointer()
        && ui.input(|input| input.pointer.secondary_clicked())
    {
        click = Some(RowClick::Select);
    }
    if data.has_context_menu(id) {
        row.inner.response.container_context_menu(|ui| {
            if let Some(action) = data.context_menu_ui(ui, id) {
                click = Some(RowClick::Action(action));
                ui.close();
            }
        });
    }
    click
}

/// The colour of a row whose entry made `change`, readable on the theme of `visuals` (the
/// same in both trees).
pub fn change_color(visuals: &Visuals, change: Change) -> Color32 {
    match change {
        Change::Added if visuals.dark_mode => Color32::LIGHT_GREEN,
        Change::Added => Color32::DARK_GREEN,
        Change::Modified => visuals.warn_fg_color,
        Change::Removed => visuals.error_fg_color,
    }
}

/// Indents a row `depth` levels (at most [`MAX_INDENT_LEVELS`]).
fn indent_ui(ui: &mut Ui, depth: usize) {
    ui.add_space(depth.min(MAX_INDENT_LEVELS) as f32 * INDENT);
}

/// The open/close triangle of a directory row `height` high, named "Expand PATH" /
/// "Collapse PATH" (`path` as shown, control characters escaped).
fn toggle_ui(ui: &mut Ui, is_open: bool, path: &str, height: f32) -> Response {
    let (_, response) = ui.allocate_exact_size(Vec2::splat(height * TOGGLE_SCALE), Sense::click());
    let enabled = ui.is_enabled();
    let action = if is_open { "Collapse" } else { "Expand" };
    response.widget_info(|| {
        WidgetInfo::labeled(egui::Role::Button, enabled, format!("{action} {path}"))
    });
    egui::collapsing_header::paint_default_icon(ui, if is_open { 1.0 } else { 0.0 }, &response);
    response
}

/// A fixed-width cell with its text aligned left (`Align::Min`) or right (`Align::Max`).
pub fn cell(ui: &mut Ui, width: f32, height: f32, align: Align, text: impl Into<WidgetText>) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
    let mut cell = ui.new_child(UiBuilder::new().max_rect(rect).layout(cell_layout(align)));
    cell.add(egui::Label::new(text).selectable(false).truncate());
}

/// The layout of a cell aligned `align`.
fn cell_layout(align: Align) -> Layout {
    if align == Align::Max {
        Layout::right_to_left(Align::Center)
    } else {
        Layout::left_to_right(Align::Center)
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
    let mut cell = ui.new_child(UiBuilder::new().max_rect(rect).layout(cell_layout(align)));
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

/// Every node's children sorted by `sort` (ties by name), by node index.
fn sorted_children<T>(tree: &PathTree<T>, sort: TreeSort) -> Vec<Vec<NodeId>> {
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
