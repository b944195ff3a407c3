//! The Compare tab's tree: the paths that differ between image A and image B, arranged as one
//! directory tree, each row with both sides (change, size A, size B, kind A→B, mode A→B),
//! coloured by change like the file tree, narrowed by a path filter and by change.
//!
//! The [`DiffTree`] is built once on a worker; the visible rows are recomputed only when the
//! filters or the expansion change, and each frame draws just the rows on screen.

use std::collections::{HashMap, HashSet};

use egui::text::LayoutJob;
use egui::{Align, Color32, FontId, Layout, RichText, Sense, TextFormat, Ui, UiBuilder, Vec2};

use crate::gui::tree_view::change_color;
use crate::inspect::diff::{DiffChange, DiffRow, DiffSide, DiffSummary, summarize};
use crate::model::{Change, EntryKind, PathFilter};
use crate::output::{escape_control, human_size};

/// Column widths in points (the name takes what is left).
const CHANGE_WIDTH: f32 = 70.0;
const SIZE_WIDTH: f32 = 76.0;
const KIND_WIDTH: f32 = 150.0;
const MODE_WIDTH: f32 = 100.0;
/// The name column never gets narrower than this.
const MIN_NAME_WIDTH: f32 = 160.0;
/// Indentation per directory level.
const INDENT: f32 = 16.0;
/// Size of the open/close triangle, relative to the row height.
const TOGGLE_SCALE: f32 = 0.7;

/// Index of a node in a [`DiffTree`].
type DiffNodeId = usize;

/// One node of a [`DiffTree`]: a differing path, or a directory only implied by one.
#[derive(Debug, Clone)]
pub struct DiffNode {
    /// Last path component.
    pub name: String,
    /// Full path (`""` for the root).
    pub path: String,
    /// The differing path's row (an index into the rows), `None` for an implied directory.
    pub row: Option<usize>,
    /// Children, directories first, then by name.
    pub children: Vec<DiffNodeId>,
    /// Whether the node can be opened (it has children, or is a directory on a side).
    pub is_dir: bool,
    parent: DiffNodeId,
}

/// The differing paths of a comparison as a directory tree.
#[derive(Debug, Clone)]
pub struct DiffTree {
    nodes: Vec<DiffNode>,
}

impl DiffTree {
    const ROOT: DiffNodeId = 0;

    /// Builds the tree of `rows` (as [`crate::inspect::diff::diff_filesystems`] returns them).
    pub fn build(rows: &[DiffRow]) -> Self {
        let mut nodes = vec![DiffNode {
            name: "/".into(),
            path: String::new(),
            row: None,
            children: Vec::new(),
            is_dir: true,
            parent: Self::ROOT,
        }];
        let mut by_path: HashMap<String, DiffNodeId> = HashMap::new();
        for (index, row) in rows.iter().enumerate() {
            let id = node_for_path(&mut nodes, &mut by_path, &row.path);
            nodes[id].row = Some(index);
            let is_dir = |side: &Option<DiffSide>| {
                side.as_ref()
                    .is_some_and(|side| side.kind == EntryKind::Dir)
            };
            nodes[id].is_dir |= is_dir(&row.a) || is_dir(&row.b);
        }
        for id in 0..nodes.len() {
            let mut children = std::mem::take(&mut nodes[id].children);
            children.sort_by(|&a, &b| {
                let (a, b) = (&nodes[a], &nodes[b]);
                b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name))
            });
            nodes[id].children = children;
        }
        Self { nodes }
    }

    /// A node by id.
    fn node(&self, id: DiffNodeId) -> &DiffNode {
        &self.nodes[id]
    }

    /// Number of nodes (differing paths and implied directories).
    pub fn len(&self) -> usize {
        self.nodes.len() - 1
    }

    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }
}

/// Finds or creates the node for `path`, creating implied parent directories.
fn node_for_path(
    nodes: &mut Vec<DiffNode>,
    by_path: &mut HashMap<String, DiffNodeId>,
    path: &str,
) -> DiffNodeId {
    if let Some(&id) = by_path.get(path) {
        return id;
    }
    let (parent_path, name) = path.rsplit_once('/').unwrap_or(("", path));
    let parent = if parent_path.is_empty() {
        DiffTree::ROOT
    } else {
        let parent = node_for_path(nodes, by_path, parent_path);
        nodes[parent].is_dir = true;
        parent
    };
    let id = nodes.len();
    nodes.push(DiffNode {
        name: name.to_owned(),
        path: path.to_owned(),
        row: None,
        children: Vec::new(),
        is_dir: false,
        parent,
    });
    nodes[parent].children.push(id);
    by_path.insert(path.to_owned(), id);
    id
}

/// The colour of a row that `change` made, the same as the file tree's for that change.
pub fn diff_change_color(visuals: &egui::Visuals, change: DiffChange) -> Color32 {
    change_color(visuals, tree_change(change))
}

/// The file tree's change of the same colour.
fn tree_change(change: DiffChange) -> Change {
    match change {
        DiffChange::Added => Change::Added,
        DiffChange::Removed => Change::Removed,
        DiffChange::Modified => Change::Modified,
    }
}

/// One visible row.
#[derive(Debug, Clone, Copy)]
struct VisibleRow {
    node: DiffNodeId,
    depth: usize,
}

/// A browsable comparison: the differing rows, their tree, the filters and the expansion.
pub struct DiffView {
    rows: Vec<DiffRow>,
    tree: DiffTree,
    summary: DiffSummary,
    filter: String,
    /// Which changes show: added, removed, modified.
    show_added: bool,
    show_removed: bool,
    show_modified: bool,
    /// Closed directories by path (everything starts open).
    collapsed: HashSet<String>,
    visible: Vec<VisibleRow>,
    stale: bool,
}

impl DiffView {
    /// A view of `rows` and their `tree`, everything open and shown.
    pub fn new(rows: Vec<DiffRow>, tree: DiffTree) -> Self {
        Self {
            summary: summarize(&rows),
            rows,
            tree,
            filter: String::new(),
            show_added: true,
            show_removed: true,
            show_modified: true,
            collapsed: HashSet::new(),
            visible: Vec::new(),
            stale: true,
        }
    }

    /// Counts of each change.
    pub fn summary(&self) -> DiffSummary {
        self.summary
    }

    /// Every differing row, sorted by path.
    pub fn rows(&self) -> &[DiffRow] {
        &self.rows
    }

    /// Narrows the rows to paths containing `filter` (case-insensitive) and their parents.
    pub fn set_filter(&mut self, filter: impl Into<String>) {
        self.filter = filter.into();
        self.stale = true;
    }

    /// Shows or hides the rows of `change`.
    pub fn set_shown(&mut self, change: DiffChange, shown: bool) {
        *self.shown_mut(change) = shown;
        self.stale = true;
    }

    fn shown_mut(&mut self, change: DiffChange) -> &mut bool {
        match change {
            DiffChange::Added => &mut self.show_added,
            DiffChange::Removed => &mut self.show_removed,
            DiffChange::Modified => &mut self.show_modified,
        }
    }

    fn shows(&self, change: DiffChange) -> bool {
        match change {
            DiffChange::Added => self.show_added,
            DiffChange::Removed => self.show_removed,
            DiffChange::Modified => self.show_modified,
        }
    }

    /// The visible rows, top to bottom: each path and its change (`None` for a directory
    /// shown only as the parent of differing paths).
    pub fn visible_rows(&mut self) -> Vec<(String, Option<DiffChange>)> {
        self.refresh();
        self.visible
            .iter()
            .map(|row| {
                let node = self.tree.node(row.node);
                (
                    node.path.clone(),
                    node.row.map(|index| self.rows[index].change),
                )
            })
            .collect()
    }

    fn refresh(&mut self) {
        if !self.stale {
            return;
        }
        let filter = PathFilter::new(&self.filter);
        let all_changes = self.show_added && self.show_removed && self.show_modified;
        let keep = (!filter.is_empty() || !all_changes).then(|| {
            let mut keep = vec![false; self.tree.nodes.len()];
            for (id, node) in self.tree.nodes.iter().enumerate().skip(1) {
                let wanted = node.row.is_some_and(|index| {
                    self.shows(self.rows[index].change) && filter.matches(&node.path)
                });
                let mut at = id;
                while wanted && at != DiffTree::ROOT && !keep[at] {
                    keep[at] = true;
                    at = self.tree.node(at).parent;
                }
            }
            keep
        });
        let open_all = !filter.is_empty();
        let mut visible = Vec::new();
        let mut stack: Vec<VisibleRow> = self
            .tree
            .node(DiffTree::ROOT)
            .children
            .iter()
            .rev()
            .map(|&node| VisibleRow { node, depth: 0 })
            .collect();
        while let Some(row) = stack.pop() {
            if keep.as_ref().is_some_and(|keep| !keep[row.node]) {
                continue;
            }
            visible.push(row);
            let node = self.tree.node(row.node);
            if open_all || !self.collapsed.contains(&node.path) {
                stack.extend(node.children.iter().rev().map(|&child| VisibleRow {
                    node: child,
                    depth: row.depth + 1,
                }));
            }
        }
        self.visible = visible;
        self.stale = false;
    }

    /// The summary line: `+A −R ~M`, each count in its change's colour.
    pub fn summary_ui(&self, ui: &mut Ui) {
        let summary = self.summary;
        let font = FontId::default();
        let visuals = ui.visuals();
        let part = |change: DiffChange| {
            TextFormat::simple(font.clone(), diff_change_color(visuals, change))
        };
        let mut job = LayoutJob::default();
        job.append(
            &format!("+{} added", summary.added),
            0.0,
            part(DiffChange::Added),
        );
        job.append(
            &format!("  \u{2212}{} removed", summary.removed),
            0.0,
            part(DiffChange::Removed),
        );
        job.append(
            &format!("  ~{} modified", summary.modified),
            0.0,
            part(DiffChange::Modified),
        );
        ui.add(egui::Label::new(job).wrap());
    }

    /// The filter field, the change checkboxes and expand / collapse.
    pub fn show_controls(&mut self, ui: &mut Ui) {
        let label = ui.label("Filter differences");
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text("substring, e.g. bin/")
                    .desired_width(200.0),
            )
            .labelled_by(label.id);
        if field.changed() {
            self.stale = true;
        }
        for (change, text) in [
            (DiffChange::Added, "Added"),
            (DiffChange::Removed, "Removed"),
            (DiffChange::Modified, "Modified"),
        ] {
            let color = diff_change_color(ui.visuals(), change);
            let shown = self.shown_mut(change);
            if ui
                .checkbox(shown, RichText::new(text).color(color))
                .on_hover_text(format!("Show the paths {}", describe(change)))
                .changed()
            {
                self.stale = true;
            }
        }
        let filtering = !self.filter.trim().is_empty();
        if ui
            .add_enabled(!filtering, egui::Button::new("Expand all"))
            .clicked()
        {
            self.collapsed.clear();
            self.stale = true;
        }
        if ui
            .add_enabled(!filtering, egui::Button::new("Collapse all"))
            .clicked()
        {
            self.collapsed = self
                .tree
                .nodes
                .iter()
                .skip(1)
                .filter(|node| !node.children.is_empty())
                .map(|node| node.path.clone())
                .collect();
            self.stale = true;
        }
    }

    /// The column header and the rows in view. Returns the layer of image A and the path of
    /// a row whose name was clicked, to be shown in A's files.
    pub fn show_rows(&mut self, ui: &mut Ui) -> Option<(usize, String)> {
        self.refresh();
        let row_height = ui.spacing().interact_size.y;
        let spacing = ui.spacing().item_spacing.x;
        let fixed = CHANGE_WIDTH + 2.0 * SIZE_WIDTH + KIND_WIDTH + MODE_WIDTH + 6.0 * spacing;
        // Leave room for the scroll bar.
        let name_width = (ui.available_width() - fixed - 16.0).max(MIN_NAME_WIDTH);
        ui.horizontal(|ui| {
            let strong = |text: &str| RichText::new(text).strong();
            cell(ui, name_width, row_height, Align::Min, strong("Path"));
            cell(ui, CHANGE_WIDTH, row_height, Align::Min, strong("Change"));
            cell(ui, SIZE_WIDTH, row_height, Align::Max, strong("Size A"));
            cell(ui, SIZE_WIDTH, row_height, Align::Max, strong("Size B"));
            cell(
                ui,
                KIND_WIDTH,
                row_height,
                Align::Min,
                a_to_b_header(ui, "Kind"),
            );
            cell(
                ui,
                MODE_WIDTH,
                row_height,
                Align::Min,
                a_to_b_header(ui, "Mode"),
            );
        });
        ui.separator();
        if self.visible.is_empty() {
            ui.label(RichText::new("No differences match the filters.").weak());
            return None;
        }
        let filtering = !self.filter.trim().is_empty();
        let (tree, rows, visible, collapsed) =
            (&self.tree, &self.rows, &self.visible, &self.collapsed);
        let mut toggled = None;
        let mut reveal = None;
        egui::ScrollArea::both()
            .id_salt("diff_rows")
            .auto_shrink(false)
            .show_rows(ui, row_height, visible.len(), |ui, range| {
                for row in &visible[range] {
                    let node = tree.node(row.node);
                    let diff = node.row.map(|index| &rows[index]);
                    let is_open = filtering || !collapsed.contains(&node.path);
                    let can_toggle = !filtering && !node.children.is_empty();
                    let layout = RowLayout {
                        height: row_height,
                        name_width,
                        depth: row.depth,
                        is_open,
                        can_toggle,
                    };
                    match diff_row_ui(ui, node, diff, &layout) {
                        RowClick::Toggle => toggled = Some(node.path.clone()),
                        RowClick::Name => {
                            reveal = diff
                                .and_then(|row| row.a.as_ref())
                                .map(|a| (a.layer, node.path.clone()));
                        }
                        RowClick::Nothing => {}
                    }
                }
            });
        if let Some(path) = toggled {
            if !self.collapsed.remove(&path) {
                self.collapsed.insert(path);
            }
            self.stale = true;
        }
        reveal
    }
}

/// What a click on a row did.
enum RowClick {
    Nothing,
    /// The directory was opened or closed.
    Toggle,
    /// The name of a path image A has was clicked.
    Name,
}

/// How a change reads in a sentence.
fn describe(change: DiffChange) -> &'static str {
    match change {
        DiffChange::Added => "only image B has",
        DiffChange::Removed => "only image A has",
        DiffChange::Modified => {
            "both images have, with another kind, size, mode, link target or content"
        }
    }
}

/// Where and how a row is drawn.
struct RowLayout {
    height: f32,
    name_width: f32,
    depth: usize,
    is_open: bool,
    can_toggle: bool,
}

/// Draws one row; returns what a click on it did.
fn diff_row_ui(
    ui: &mut Ui,
    node: &DiffNode,
    diff: Option<&DiffRow>,
    layout: &RowLayout,
) -> RowClick {
    let height = layout.height;
    let change = diff.map(|row| row.change);
    let color = change.map(|change| diff_change_color(ui.visuals(), change));
    let mut click = RowClick::Nothing;
    // Image A's side of the path can be shown in its files.
    let in_a = diff.is_some_and(|row| row.a.is_some());
    ui.push_id(&node.path, |ui| {
        ui.horizontal(|ui| {
            let (rect, _) =
                ui.allocate_exact_size(Vec2::new(layout.name_width, height), Sense::hover());
            let mut name_ui = ui.new_child(
                UiBuilder::new()
                    .max_rect(rect)
                    .layout(Layout::left_to_right(Align::Center)),
            );
            name_ui.add_space(layout.depth as f32 * INDENT);
            let path = escape_control(&node.path);
            if layout.can_toggle {
                let (_, response) =
                    name_ui.allocate_exact_size(Vec2::splat(height * TOGGLE_SCALE), Sense::click());
                let enabled = name_ui.is_enabled();
                let action = if layout.is_open { "Collapse" } else { "Expand" };
                response.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::Button,
                        enabled,
                        format!("{action} {path}"),
                    )
                });
                let openness = if layout.is_open { 1.0 } else { 0.0 };
                egui::collapsing_header::paint_default_icon(&mut name_ui, openness, &response);
                if response.clicked() {
                    click = RowClick::Toggle;
                }
            } else {
                name_ui.add_space(height * TOGGLE_SCALE + name_ui.spacing().item_spacing.x);
            }
            let mut name = RichText::new(escape_control(&node.name));
            if let Some(color) = color {
                name = name.color(color);
            }
            let sense = if in_a { Sense::click() } else { Sense::hover() };
            let response = name_ui.add(
                egui::Label::new(name)
                    .selectable(false)
                    .truncate()
                    .sense(sense),
            );
            if in_a && response.clicked() {
                click = RowClick::Name;
            }
            let response = if in_a {
                response.on_hover_cursor(egui::CursorIcon::PointingHand)
            } else {
                response
            };
            response.on_hover_ui(|ui| {
                row_details(ui, node, diff);
                if in_a {
                    ui.label(RichText::new("Click to show it in image A's files.").weak());
                }
            });
            let (change_text, size_a, size_b, kind, mode) = match diff {
                Some(row) => (
                    RichText::new(row.change.as_str()).color(color.unwrap_or_default()),
                    side_size(row.a.as_ref()),
                    side_size(row.b.as_ref()),
                    a_to_b(row, |side| side.kind.as_str().to_owned()),
                    a_to_b(row, |side| format!("{:04o}", side.mode)),
                ),
                None => Default::default(),
            };
            cell(ui, CHANGE_WIDTH, height, Align::Min, change_text);
            cell(ui, SIZE_WIDTH, height, Align::Max, RichText::new(size_a));
            cell(ui, SIZE_WIDTH, height, Align::Max, RichText::new(size_b));
            // Monospace: the proportional font has no arrow.
            cell(
                ui,
                KIND_WIDTH,
                height,
                Align::Min,
                RichText::new(kind).monospace(),
            );
            cell(
                ui,
                MODE_WIDTH,
                height,
                Align::Min,
                RichText::new(mode).monospace(),
            );
        });
    });
    click
}

/// The size of one side of a file (empty when the side is missing or not a file).
fn side_size(side: Option<&DiffSide>) -> String {
    match side {
        Some(side) if side.kind == EntryKind::File => human_size(side.size),
        _ => String::new(),
    }
}

/// One field of both sides: `a → b` when they differ, the one value otherwise; a missing
/// side shows as `—` (`— → b` for an added path).
fn a_to_b(row: &DiffRow, field: impl Fn(&DiffSide) -> String) -> String {
    match (row.a.as_ref().map(&field), row.b.as_ref().map(&field)) {
        (Some(a), Some(b)) if a == b => a,
        (Some(a), Some(b)) => format!("{a} → {b}"),
        (Some(a), None) => format!("{a} → —"),
        (None, Some(b)) => format!("— → {b}"),
        (None, None) => String::new(),
    }
}

/// The tooltip of a row: the full path, and both sides in full.
fn row_details(ui: &mut Ui, node: &DiffNode, diff: Option<&DiffRow>) {
    ui.label(RichText::new(escape_control(&node.path)).monospace());
    let Some(row) = diff else {
        ui.label("a directory holding differing paths (the same in both images)");
        return;
    };
    ui.label(
        RichText::new(format!("{}: {}", row.change.as_str(), describe(row.change)))
            .color(diff_change_color(ui.visuals(), row.change)),
    );
    for (name, side) in [("A", &row.a), ("B", &row.b)] {
        match side {
            Some(side) => {
                let mut text = format!(
                    "{name}: {} of {} bytes, mode {:04o}, from layer {}",
                    side.kind.as_str(),
                    side.size,
                    side.mode,
                    side.layer
                );
                if let Some(target) = &side.link_target {
                    text.push_str(&format!(", target {}", escape_control(target)));
                }
                if let Some(content) = &side.content {
                    text.push_str(&format!(", content {content}"));
                }
                ui.label(text);
            }
            None => {
                ui.label(format!("{name}: absent"));
            }
        }
    }
}

/// The header `TITLE A → B`, the arrow in the monospace font (the proportional one has none).
fn a_to_b_header(ui: &Ui, title: &str) -> LayoutJob {
    let color = ui.visuals().strong_text_color();
    let proportional = egui::TextStyle::Body.resolve(ui.style());
    let monospace = egui::TextStyle::Monospace.resolve(ui.style());
    let mut job = LayoutJob::default();
    job.append(
        &format!("{title} A "),
        0.0,
        TextFormat::simple(proportional.clone(), color),
    );
    job.append("→", 0.0, TextFormat::simple(monospace, color));
    job.append(" B", 0.0, TextFormat::simple(proportional, color));
    job
}

/// A fixed-width cell with its text aligned left (`Align::Min`) or right (`Align::Max`).
fn cell(ui: &mut Ui, width: f32, height: f32, align: Align, text: impl Into<egui::WidgetText>) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
    let layout = if align == Align::Max {
        Layout::right_to_left(Align::Center)
    } else {
        Layout::left_to_right(Align::Center)
    };
    let mut cell = ui.new_child(UiBuilder::new().max_rect(rect).layout(layout));
    cell.add(egui::Label::new(text).selectable(false).truncate());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(kind: EntryKind, size: u64, mode: u32) -> Option<DiffSide> {
        Some(DiffSide {
            kind,
            size,
            mode,
            link_target: None,
            content: None,
            layer: 0,
        })
    }

    fn row(change: DiffChange, path: &str, a: Option<DiffSide>, b: Option<DiffSide>) -> DiffRow {
        DiffRow {
            change,
            path: path.into(),
            a,
            b,
        }
    }

    #[test]
    fn rows_form_a_tree_and_filters_keep_parents() {
        use DiffChange::*;
        use EntryKind::*;
        let rows = vec![
            row(Added, "etc/new", None, side(File, 1, 0o644)),
            row(
                Modified,
                "etc/passwd",
                side(File, 1, 0o644),
                side(File, 2, 0o600),
            ),
            row(Removed, "opt", side(Dir, 0, 0o755), None),
            row(Removed, "opt/old", side(File, 3, 0o644), None),
        ];
        let tree = DiffTree::build(&rows);
        assert_eq!(tree.len(), 5, "etc is implied");
        let mut view = DiffView::new(rows, tree);
        let paths = |view: &mut DiffView| -> Vec<String> {
            view.visible_rows()
                .into_iter()
                .map(|(path, _)| path)
                .collect()
        };
        assert_eq!(
            paths(&mut view),
            ["etc", "etc/new", "etc/passwd", "opt", "opt/old"]
        );
        view.set_shown(Removed, false);
        assert_eq!(paths(&mut view), ["etc", "etc/new", "etc/passwd"]);
        view.set_shown(Removed, true);
        view.set_filter("OLD");
        assert_eq!(paths(&mut view), ["opt", "opt/old"]);
        assert_eq!(
            view.visible_rows()[1],
            ("opt/old".to_owned(), Some(Removed))
        );
        let modified = &view.rows()[1];
        assert_eq!(
            a_to_b(modified, |s| format!("{:04o}", s.mode)),
            "0644 → 0600"
        );
        assert_eq!(
            a_to_b(&view.rows()[0], |s| s.kind.as_str().into()),
            "— → file"
        );
    }
}
