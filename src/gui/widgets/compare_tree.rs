//! The Compare tab's tree: the paths that differ between image A and image B, arranged as one
//! directory tree, each row with both sides (change, size A, size B, kind A→B, mode A→B),
//! coloured by change like the file tree, narrowed by a path filter and by change.
//!
//! The [`DiffTree`] is built once on a worker; the visible rows are recomputed only when the
//! filters or the expansion change, and each frame draws just the rows on screen.

use egui::text::LayoutJob;
use egui::{Align, Color32, FontId, Layout, RichText, Sense, TextFormat, Ui, UiBuilder, Vec2};

use crate::gui::widgets::files_tree::change_color;
use crate::gui::widgets::tree_rows::{TOGGLE_SCALE, cell, indent_ui, toggle_ui};
use crate::inspect::diff::{DiffRow, DiffSide, DiffSummary, summarize};
use crate::model::{Change, EntryKind, PathFilter, PathTree, TreeRow};
use crate::output::{escape_control, human_size};

/// Column widths in points (the name takes what is left).
const CHANGE_WIDTH: f32 = 70.0;
const SIZE_WIDTH: f32 = 76.0;
const KIND_WIDTH: f32 = 150.0;
const MODE_WIDTH: f32 = 100.0;
/// The name column never gets narrower than this.
const MIN_NAME_WIDTH: f32 = 160.0;

/// The differing paths of a comparison as a directory tree: each node holds the index of its
/// differing row, implied directories hold none.
pub type DiffTree = PathTree<usize>;

/// Builds the tree of `rows` (as [`crate::inspect::diff::diff_filesystems`] returns them).
pub fn diff_tree(rows: &[DiffRow]) -> DiffTree {
    let mut tree = DiffTree::new();
    for (index, row) in rows.iter().enumerate() {
        let is_dir = |side: &Option<DiffSide>| {
            side.as_ref()
                .is_some_and(|side| side.kind == EntryKind::Dir)
        };
        tree.insert(&row.path, index, is_dir(&row.a) || is_dir(&row.b), 0);
    }
    tree.sort_pending();
    tree
}

/// The colour of a row that `change` made, the same as the file tree's for that change.
pub fn diff_change_color(visuals: &egui::Visuals, change: Change) -> Color32 {
    change_color(visuals, change)
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
    /// Closed directories, by node index (everything starts open).
    collapsed: Vec<bool>,
    visible: Vec<TreeRow>,
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
            collapsed: Vec::new(),
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
    pub fn set_shown(&mut self, change: Change, shown: bool) {
        *self.shown_mut(change) = shown;
        self.stale = true;
    }

    fn shown_mut(&mut self, change: Change) -> &mut bool {
        match change {
            Change::Added => &mut self.show_added,
            Change::Removed => &mut self.show_removed,
            Change::Modified => &mut self.show_modified,
        }
    }

    fn shows(&self, change: Change) -> bool {
        match change {
            Change::Added => self.show_added,
            Change::Removed => self.show_removed,
            Change::Modified => self.show_modified,
        }
    }

    /// The visible rows, top to bottom: each path and its change (`None` for a directory
    /// shown only as the parent of differing paths).
    pub fn visible_rows(&mut self) -> Vec<(String, Option<Change>)> {
        self.refresh();
        self.visible
            .iter()
            .map(|row| {
                (
                    self.tree.path(row.node),
                    self.tree
                        .payload(row.node)
                        .map(|&index| self.rows[index].change),
                )
            })
            .collect()
    }

    /// Number of visible rows.
    pub fn visible_row_count(&mut self) -> usize {
        self.refresh();
        self.visible.len()
    }

    /// The visible row at `row` (0 = top): path and change, as in
    /// [`visible_rows`](Self::visible_rows).
    pub fn visible_row(&mut self, row: usize) -> Option<(String, Option<Change>)> {
        self.refresh();
        let node = self.visible.get(row)?.node;
        let change = self
            .tree
            .payload(node)
            .map(|&index| self.rows[index].change);
        Some((self.tree.path(node), change))
    }

    fn refresh(&mut self) {
        if !self.stale {
            return;
        }
        let filter = PathFilter::new(&self.filter);
        let all_changes = self.show_added && self.show_removed && self.show_modified;
        let tree = &self.tree;
        let keep = (!filter.is_empty() || !all_changes).then(|| {
            let matches = tree.path_matches(&filter);
            tree.kept_with_parents(|id| {
                tree.payload(id).is_some_and(|&index| {
                    self.shows(self.rows[index].change) && matches[id.index()]
                })
            })
        });
        let open_all = !filter.is_empty();
        let collapsed = &self.collapsed;
        let visible = tree.flatten(None, keep.as_deref(), |id| {
            open_all || !collapsed.get(id.index()).copied().unwrap_or(false)
        });
        self.visible = visible;
        self.stale = false;
    }

    /// The summary line: `+A −R ~M`, each count in its change's colour.
    pub fn summary_ui(&self, ui: &mut Ui) {
        let summary = self.summary;
        let font = FontId::default();
        let visuals = ui.visuals();
        let part =
            |change: Change| TextFormat::simple(font.clone(), diff_change_color(visuals, change));
        let mut job = LayoutJob::default();
        job.append(
            &format!("+{} added", summary.added),
            0.0,
            part(Change::Added),
        );
        job.append(
            &format!("  \u{2212}{} removed", summary.removed),
            0.0,
            part(Change::Removed),
        );
        job.append(
            &format!("  ~{} modified", summary.modified),
            0.0,
            part(Change::Modified),
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
            (Change::Added, "Added"),
            (Change::Removed, "Removed"),
            (Change::Modified, "Modified"),
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
            self.collapsed.fill(false);
            self.stale = true;
        }
        if ui
            .add_enabled(!filtering, egui::Button::new("Collapse all"))
            .clicked()
        {
            let tree = &self.tree;
            self.collapsed = std::iter::once(false)
                .chain(tree.ids().map(|id| !tree.children(id).is_empty()))
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
                    let id = row.node;
                    let diff = tree.payload(id).map(|&index| &rows[index]);
                    let is_open = filtering || !collapsed.get(id.index()).copied().unwrap_or(false);
                    let can_toggle = !filtering && !tree.children(id).is_empty();
                    let layout = RowLayout {
                        height: row_height,
                        name_width,
                        depth: row.depth,
                        is_open,
                        can_toggle,
                    };
                    let path = tree.path(id);
                    match diff_row_ui(ui, tree.name(id), &path, diff, &layout) {
                        RowClick::Toggle => toggled = Some(id),
                        RowClick::Name => {
                            reveal = diff
                                .and_then(|row| row.a.as_ref())
                                .map(|a| (a.layer, path.clone()));
                        }
                        RowClick::Nothing => {}
                    }
                }
            });
        if let Some(id) = toggled
            && let Some(closed) = self.collapsed.get_mut(id.index())
        {
            *closed = !*closed;
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
fn describe(change: Change) -> &'static str {
    match change {
        Change::Added => "only image B has",
        Change::Removed => "only image A has",
        Change::Modified => {
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
    name: &str,
    full_path: &str,
    diff: Option<&DiffRow>,
    layout: &RowLayout,
) -> RowClick {
    let height = layout.height;
    let change = diff.map(|row| row.change);
    let color = change.map(|change| diff_change_color(ui.visuals(), change));
    let mut click = RowClick::Nothing;
    // Image A's side of the path can be shown in its files.
    let in_a = diff.is_some_and(|row| row.a.is_some());
    ui.push_id(full_path, |ui| {
        ui.horizontal(|ui| {
            let (rect, _) =
                ui.allocate_exact_size(Vec2::new(layout.name_width, height), Sense::hover());
            let mut name_ui = ui.new_child(
                UiBuilder::new()
                    .max_rect(rect)
                    .layout(Layout::left_to_right(Align::Center)),
            );
            indent_ui(&mut name_ui, layout.depth);
            let path = escape_control(full_path);
            if layout.can_toggle {
                if toggle_ui(&mut name_ui, layout.is_open, &path, height).clicked() {
                    click = RowClick::Toggle;
                }
            } else {
                name_ui.add_space(height * TOGGLE_SCALE + name_ui.spacing().item_spacing.x);
            }
            let mut name = RichText::new(escape_control(name));
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
                row_details(ui, full_path, diff);
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
fn row_details(ui: &mut Ui, full_path: &str, diff: Option<&DiffRow>) {
    ui.label(RichText::new(escape_control(full_path)).monospace());
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

    fn row(change: Change, path: &str, a: Option<DiffSide>, b: Option<DiffSide>) -> DiffRow {
        DiffRow {
            change,
            path: path.into(),
            a,
            b,
        }
    }

    #[test]
    fn rows_form_a_tree_and_filters_keep_parents() {
        use Change::*;
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
        let tree = diff_tree(&rows);
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
