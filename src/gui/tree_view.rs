//! The virtualised file tree widget: expansion state, a path filter and cached rows.
//!
//! The [`FileTree`] is replaced only when new entries arrive; the flattened rows are
//! recomputed only when the tree, the expansion or the filter changes; each frame draws just
//! the rows that are on screen. What the user asks of a row (its context menu) is handed back
//! as a [`TreeAction`] for the app to carry out. Rows are coloured by the change their entry
//! made (added, modified, removed), and "Changes only" hides what a layer did not really
//! change.

use std::collections::HashSet;

use egui::{Align, Color32, Layout, RichText, Sense, Ui, UiBuilder, Vec2, Visuals, WidgetInfo};

use crate::export::format_mtime;
use crate::listing::{
    Change, EntryKind, FileTree, NodeId, PathFilter, TreeNode, TreeRow, escape_control, human_size,
};

/// Column widths in points.
const KIND_WIDTH: f32 = 96.0;
const SIZE_WIDTH: f32 = 76.0;
const MODE_WIDTH: f32 = 44.0;
const LAYER_WIDTH: f32 = 44.0;
/// Indentation per directory level.
const INDENT: f32 = 16.0;
/// Size of the open/close triangle, relative to the row height.
const TOGGLE_SCALE: f32 = 0.7;

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

/// A tree ready to show: the nodes, each node's change, and what kind of tree it is.
#[derive(Debug, Clone)]
pub struct BuiltTree {
    /// The nodes.
    pub tree: FileTree,
    /// The change of each node's entry, by node id (`None`: no entry of its own). In a layer's
    /// tree, the entry's change in that layer; in the merged tree, the change it made in the
    /// layer it comes from.
    pub changes: Vec<Option<Change>>,
    /// One layer or merged.
    pub scope: TreeScope,
}

impl Default for BuiltTree {
    fn default() -> Self {
        Self::empty(TreeScope::Layer)
    }
}

impl BuiltTree {
    /// A tree without entries.
    pub fn empty(scope: TreeScope) -> Self {
        Self {
            tree: FileTree::build(std::iter::empty()),
            changes: Vec::new(),
            scope,
        }
    }

    fn change(&self, id: NodeId) -> Option<Change> {
        self.changes.get(id).copied().flatten()
    }

    /// Whether "Changes only" keeps the node on its own (not as a parent of a kept node).
    fn is_notable(&self, id: NodeId) -> bool {
        let node = self.tree.node(id);
        let Some(entry) = &node.entry else {
            return false;
        };
        match self.scope {
            TreeScope::Layer => {
                !(entry.kind == EntryKind::Dir && self.change(id) == Some(Change::Modified))
            }
            TreeScope::Merged { base_layer } => node.layer_index != base_layer,
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

/// What the user asked of a row, for the app to carry out.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeAction {
    /// "Save file…" on a file or hardlink row: the row's path.
    SaveFile(String),
}

/// A browsable tree: which directories are open, what the filter says, which rows show.
#[derive(Default)]
pub struct TreeView {
    built: BuiltTree,
    /// Hide what the layers did not really change (see [`CHANGES_ONLY_HELP`]).
    changes_only: bool,
    /// Expanded directories by path, so that expansion survives rebuilding the tree.
    expanded: HashSet<String>,
    /// After "Expand all", directories that appear in later rebuilds open too.
    expand_new_directories: bool,
    filter: String,
    rows: Vec<TreeRow>,
    rows_stale: bool,
}

impl TreeView {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// Shows `tree` without changes, keeping the expansion and filters. `show_layer_column`
    /// adds the column naming each entry's source layer (for a merged view).
    pub fn set_tree(&mut self, tree: FileTree, show_layer_column: bool) {
        let scope = if show_layer_column {
            TreeScope::Merged { base_layer: None }
        } else {
            TreeScope::Layer
        };
        self.set_built_tree(BuiltTree {
            tree,
            changes: Vec::new(),
            scope,
        });
    }

    /// Shows `built`, keeping the expansion and filters. A merged tree gets the column
    /// naming each entry's source layer.
    pub fn set_built_tree(&mut self, built: BuiltTree) {
        self.built = built;
        if self.expand_new_directories {
            self.expand_directories();
        }
        self.rows_stale = true;
    }

    /// The tree shown.
    pub fn tree(&self) -> &FileTree {
        &self.built.tree
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

    /// Opens or closes the directory at `path`.
    pub fn set_expanded(&mut self, path: &str, expanded: bool) {
        let changed = if expanded {
            self.expanded.insert(path.to_owned())
        } else {
            self.expand_new_directories = false;
            self.expanded.remove(path)
        };
        self.rows_stale |= changed;
    }

    /// Opens every directory, including those that later rebuilds of the tree add.
    pub fn expand_all(&mut self) {
        self.expand_new_directories = true;
        self.expand_directories();
        self.rows_stale = true;
    }

    /// Closes every directory.
    pub fn collapse_all(&mut self) {
        self.expand_new_directories = false;
        self.expanded.clear();
        self.rows_stale = true;
    }

    fn expand_directories(&mut self) {
        let tree = &self.built.tree;
        self.expanded
            .extend(tree.directory_ids().map(|id| tree.node(id).path.clone()));
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
            .map(|row| self.built.tree.node(row.node).path.clone())
            .collect()
    }

    fn refresh_rows(&mut self) {
        if !self.rows_stale {
            return;
        }
        let (tree, expanded) = (&self.built.tree, &self.expanded);
        let is_expanded = |id| expanded.contains(&tree.node(id).path);
        self.rows = if self.changes_only {
            changed_rows(&self.built, is_expanded, &self.filter)
        } else {
            tree.visible_rows(is_expanded, &self.filter)
        };
        self.rows_stale = false;
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
        ui.horizontal(|ui| {
            let strong = |text: &str| RichText::new(text).strong();
            cell(ui, KIND_WIDTH, row_height, Align::Min, strong("Kind"));
            cell(ui, SIZE_WIDTH, row_height, Align::Max, strong("Size"));
            cell(ui, MODE_WIDTH, row_height, Align::Min, strong("Mode"));
            if show_layer {
                cell(ui, LAYER_WIDTH, row_height, Align::Max, strong("Layer"));
            }
            ui.label(strong("Name"));
        });
        ui.separator();
        let filtering = !self.filter.trim().is_empty();
        let (built, expanded, rows) = (&self.built, &self.expanded, &self.rows);
        let mut toggled = None;
        let mut action = None;
        egui::ScrollArea::vertical()
            .id_salt("tree_rows")
            .auto_shrink(false)
            .show_rows(ui, row_height, rows.len(), |ui, range| {
                for row in &rows[range] {
                    let node = built.tree.node(row.node);
                    let change = built.change(row.node);
                    let is_open = filtering || expanded.contains(&node.path);
                    let style = RowStyle {
                        height: row_height,
                        show_layer,
                        can_toggle: !filtering,
                    };
                    match show_row(ui, node, change, row.depth, is_open, &style) {
                        Some(RowClick::Toggle) => toggled = Some((node.path.clone(), !is_open)),
                        Some(RowClick::Save) => {
                            action = Some(TreeAction::SaveFile(node.path.clone()))
                        }
                        None => {}
                    }
                }
            });
        if let Some((path, open)) = toggled {
            self.set_expanded(&path, open);
        }
        action
    }
}

/// How rows are drawn.
struct RowStyle {
    height: f32,
    show_layer: bool,
    can_toggle: bool,
}

/// What a click on a row asked for.
enum RowClick {
    /// Open or close the directory.
    Toggle,
    /// "Save file…" in the row's context menu.
    Save,
}

/// Draws one row; returns what the user asked of it. File and hardlink rows have a context
/// menu (right-click anywhere on the row) offering "Save file…".
fn show_row(
    ui: &mut Ui,
    node: &TreeNode,
    change: Option<Change>,
    depth: usize,
    is_open: bool,
    style: &RowStyle,
) -> Option<RowClick> {
    let height = style.height;
    let entry = node.entry.as_ref();
    let is_dir = node.is_dir();
    let kind = entry.map_or(EntryKind::Dir, |e| e.kind);
    let mut toggled = false;
    // Keyed by path, so that an open context menu stays with its row while the rows scroll.
    let row = ui.push_id(&node.path, |ui| {
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
                human_size(node.total_size)
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
                let layer = node.layer_index.map_or_else(String::new, |l| l.to_string());
                cell(ui, LAYER_WIDTH, height, Align::Max, RichText::new(layer));
            }
            ui.add_space(depth as f32 * INDENT);
            let path = escape_control(&node.path);
            if is_dir && style.can_toggle {
                toggled |= toggle_button(ui, is_open, &path, height).clicked();
            } else if is_dir {
                let size = Vec2::splat(height * TOGGLE_SCALE);
                let (_, response) = ui.allocate_exact_size(size, Sense::hover());
                egui::collapsing_header::paint_default_icon(ui, 1.0, &response);
            } else {
                ui.add_space(height * TOGGLE_SCALE);
            }
            let mut name_text = RichText::new(escape_control(&node.name));
            if let Some(change) = change {
                name_text = name_text.color(change_color(ui.visuals(), change));
            }
            let mut name = egui::Label::new(name_text).selectable(false);
            if is_dir && style.can_toggle {
                name = name.sense(Sense::click());
            }
            let response = ui.add(name);
            toggled |= response.clicked();
            response.on_hover_ui(|ui| entry_details(ui, node, change));
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
    } else {
        None
    }
}

/// A fixed-width cell with its text aligned left (`Align::Min`) or right (`Align::Max`).
fn cell(ui: &mut Ui, width: f32, height: f32, align: Align, text: RichText) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
    let layout = if align == Align::Max {
        Layout::right_to_left(Align::Center)
    } else {
        Layout::left_to_right(Align::Center)
    };
    // A child that does not move the parent's cursor: the cell was allocated above.
    let mut cell = ui.new_child(UiBuilder::new().max_rect(rect).layout(layout));
    cell.add(egui::Label::new(text).selectable(false).truncate());
}

/// The open/close triangle of a directory, named "Expand PATH" / "Collapse PATH".
fn toggle_button(ui: &mut Ui, is_open: bool, path: &str, size: f32) -> egui::Response {
    let (_, response) = ui.allocate_exact_size(Vec2::splat(size * TOGGLE_SCALE), Sense::click());
    let enabled = ui.is_enabled();
    let action = if is_open { "Collapse" } else { "Expand" };
    response.widget_info(|| {
        WidgetInfo::labeled(egui::Role::Button, enabled, format!("{action} {path}"))
    });
    egui::collapsing_header::paint_default_icon(ui, if is_open { 1.0 } else { 0.0 }, &response);
    response
}

/// What a whiteout or opaque marker removes, e.g. `removes etc/motd`.
fn removal_text(entry: &crate::listing::Entry) -> Option<String> {
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
/// every kept directory is open (as [`FileTree::visible_rows`] does).
fn changed_rows(
    built: &BuiltTree,
    is_expanded: impl Fn(NodeId) -> bool,
    filter: &str,
) -> Vec<TreeRow> {
    let tree = &built.tree;
    let filter = PathFilter::new(filter);
    let count = tree.len() + 1;
    let mut parent = vec![FileTree::ROOT; count];
    for id in 0..count {
        for &child in &tree.node(id).children {
            parent[child] = id;
        }
    }
    let mut keep = vec![false; count];
    for id in 1..count {
        if built.is_notable(id) && filter.matches(&tree.node(id).path) {
            let mut at = id;
            while at != FileTree::ROOT && !keep[at] {
                keep[at] = true;
                at = parent[at];
            }
        }
    }
    let open_all = !filter.is_empty();
    let mut rows = Vec::new();
    let mut stack: Vec<(NodeId, usize)> = tree
        .node(FileTree::ROOT)
        .children
        .iter()
        .rev()
        .map(|&c| (c, 0))
        .collect();
    while let Some((id, depth)) = stack.pop() {
        if !keep[id] {
            continue;
        }
        rows.push(TreeRow { node: id, depth });
        if open_all || is_expanded(id) {
            stack.extend(tree.node(id).children.iter().rev().map(|&c| (c, depth + 1)));
        }
    }
    rows
}

/// The tooltip of a row: the full path, its change and every field of the entry.
fn entry_details(ui: &mut Ui, node: &TreeNode, change: Option<Change>) {
    ui.label(RichText::new(escape_control(&node.path)).monospace());
    match &node.entry {
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
    if node.is_dir() {
        ui.label(format!(
            "{} entries below, {} in total",
            node.descendants,
            human_size(node.total_size)
        ));
    }
    if let Some(layer) = node.layer_index {
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
    use crate::listing::Entry;

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
        rows.iter()
            .map(|row| built.tree.node(row.node).path.clone())
            .collect()
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
        let tree = FileTree::build(entries.iter().map(|(e, _)| (1, e)));
        let by_path: std::collections::HashMap<&str, Change> =
            entries.iter().map(|(e, c)| (e.path.as_str(), *c)).collect();
        let changes = (0..=tree.len())
            .map(|id| by_path.get(tree.node(id).path.as_str()).copied())
            .collect();
        let built = BuiltTree {
            tree,
            changes,
            scope: TreeScope::Layer,
        };
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
}
