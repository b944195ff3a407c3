//! The Compare tab's tree: the paths that differ between image A and image B, arranged as one
//! directory tree, each row with both sides (change, size A, size B, kind A→B, mode A→B),
//! coloured by change like the file tree, narrowed by a path filter and by change.
//!
//! The [`DiffTree`] is built once on a worker; its rows ([`DiffRows`]) are shown by the one tree
//! widget ([`PathTreeView`]), the Files tab's too. A click on the name of a path image A has
//! asks to show it in A's files.

use egui::text::LayoutJob;
use egui::{Align, FontId, RichText, TextFormat, Ui, WidgetText};

/// The colour of a row that a change made, the same as the file tree's for that change.
pub use crate::gui::widgets::tree_view::change_color as diff_change_color;
use crate::gui::widgets::tree_view::{Column, Columns, Header, PathTreeView, TreeLook, TreeRows};
use crate::inspect::diff::{DiffRow, DiffSide, DiffSummary, summarize};
use crate::model::{Change, EntryKind, NodeId, PathTree};
use crate::output::{escape_control, human_size};

/// Column widths in points (the name takes what is left).
const CHANGE_WIDTH: f32 = 70.0;
const SIZE_WIDTH: f32 = 76.0;
const KIND_WIDTH: f32 = 150.0;
const MODE_WIDTH: f32 = 100.0;

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

/// The Compare tree's rows: the differing rows, their tree, and which changes show.
pub struct DiffRows {
    rows: Vec<DiffRow>,
    tree: DiffTree,
    summary: DiffSummary,
    /// Which changes show: added, removed, modified.
    show_added: bool,
    show_removed: bool,
    show_modified: bool,
}

/// A browsable comparison: the differing rows, their tree, the filters and the expansion.
pub type DiffView = PathTreeView<DiffRows>;

impl DiffRows {
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

    /// The differing row of node `id` (`None`: a directory holding differing paths).
    fn diff(&self, id: NodeId) -> Option<&DiffRow> {
        self.tree
            .payload(id)
            .and_then(|&index| self.rows.get(index))
    }

    /// Whether image A has the path of node `id` (it can be shown in A's files).
    fn in_a(&self, id: NodeId) -> bool {
        self.diff(id).is_some_and(|row| row.a.is_some())
    }
}

impl TreeRows for DiffRows {
    type Payload = usize;
    /// Image A's layer holding a path, and the path: to show in A's files.
    type Action = (usize, String);

    const LOOK: TreeLook = TreeLook {
        filter_label: "Filter differences",
        filter_width: 200.0,
        scroll_id: "diff_rows",
        scrolls_sideways: true,
        name_toggles: false,
    };

    fn tree(&self) -> &DiffTree {
        &self.tree
    }

    fn columns(&self, ui: &Ui) -> Columns {
        let a_to_b = |title| Header::Title(a_to_b_header(ui, title).into());
        Columns {
            before: Vec::new(),
            name: Header::Title(RichText::new("Path").strong().into()),
            // Columns 0 to 4, as `cell` numbers them.
            after: vec![
                Column::titled("Change", CHANGE_WIDTH, Align::Min),
                Column::titled("Size A", SIZE_WIDTH, Align::Max),
                Column::titled("Size B", SIZE_WIDTH, Align::Max),
                Column::new(a_to_b("Kind"), KIND_WIDTH, Align::Min),
                Column::new(a_to_b("Mode"), MODE_WIDTH, Align::Min),
            ],
        }
    }

    fn cell(&self, ui: &Ui, id: NodeId, column: usize) -> WidgetText {
        let Some(row) = self.diff(id) else {
            return WidgetText::default();
        };
        match column {
            0 => RichText::new(row.change.as_str())
                .color(diff_change_color(ui.visuals(), row.change))
                .into(),
            1 => side_size(row.a.as_ref()).into(),
            2 => side_size(row.b.as_ref()).into(),
            // Monospace: the proportional font has no arrow.
            3 => RichText::new(a_to_b(row, |side| side.kind.as_str().to_owned()))
                .monospace()
                .into(),
            4 => RichText::new(a_to_b(row, |side| format!("{:04o}", side.mode)))
                .monospace()
                .into(),
            _ => WidgetText::default(),
        }
    }

    fn change(&self, id: NodeId) -> Option<Change> {
        self.diff(id).map(|row| row.change)
    }

    fn tooltip_ui(&self, ui: &mut Ui, id: NodeId, path: &str) {
        row_details(ui, path, self.diff(id));
        if self.in_a(id) {
            ui.label(RichText::new("Right-click to show it in image A's files.").weak());
        }
    }

    /// Only directories holding differing paths open and close.
    fn has_toggle(&self, id: NodeId) -> bool {
        !self.tree.children(id).is_empty()
    }

    /// Paths image A has can be shown in its files, from the row's context menu (a click
    /// only selects the row, which the preview then shows).
    fn has_context_menu(&self, id: NodeId) -> bool {
        self.in_a(id)
    }

    fn context_menu_ui(&self, ui: &mut Ui, id: NodeId) -> Option<(usize, String)> {
        let a = self.diff(id)?.a.as_ref()?;
        ui.button("Show in image A's files")
            .on_hover_text("Open the Files tab at this path, in the layer of A that holds it")
            .clicked()
            .then(|| (a.layer, self.tree.path(id)))
    }

    fn empty_text(&self) -> Option<&'static str> {
        Some("No differences match the filters.")
    }

    fn narrowed(&self) -> bool {
        !(self.show_added && self.show_removed && self.show_modified)
    }

    fn keeps(&self, id: NodeId) -> bool {
        self.change(id).is_some_and(|change| self.shows(change))
    }

    fn narrowing_ui(&mut self, ui: &mut Ui) -> bool {
        let mut changed = false;
        for (change, text) in [
            (Change::Added, "Added"),
            (Change::Removed, "Removed"),
            (Change::Modified, "Modified"),
        ] {
            let color = diff_change_color(ui.visuals(), change);
            changed |= ui
                .checkbox(self.shown_mut(change), RichText::new(text).color(color))
                .on_hover_text(format!("Show the paths {}", describe(change)))
                .changed();
        }
        changed
    }
}

impl PathTreeView<DiffRows> {
    /// A view of `rows` and their `tree`, everything open and shown.
    pub fn new(rows: Vec<DiffRow>, tree: DiffTree) -> Self {
        let data = DiffRows {
            summary: summarize(&rows),
            rows,
            tree,
            show_added: true,
            show_removed: true,
            show_modified: true,
        };
        Self::of(data, true)
    }

    /// Counts of each change.
    pub fn summary(&self) -> DiffSummary {
        self.data().summary
    }

    /// Every differing row, sorted by path.
    pub fn diff_rows(&self) -> &[DiffRow] {
        &self.data().rows
    }

    /// Shows or hides the rows of `change`.
    pub fn set_shown(&mut self, change: Change, shown: bool) {
        *self.data_mut().shown_mut(change) = shown;
        self.data_changed();
    }

    /// The visible rows, top to bottom: each path and its change (`None` for a directory
    /// shown only as the parent of differing paths).
    pub fn visible_rows(&mut self) -> Vec<(String, Option<Change>)> {
        let count = self.rows().len();
        (0..count).filter_map(|row| self.visible_row(row)).collect()
    }

    /// Number of visible rows.
    pub fn visible_row_count(&mut self) -> usize {
        self.rows().len()
    }

    /// The visible row at `row` (0 = top): path and change, as in
    /// [`visible_rows`](Self::visible_rows).
    pub fn visible_row(&mut self, row: usize) -> Option<(String, Option<Change>)> {
        let node = self.rows().get(row)?.node;
        let data = self.data();
        Some((data.tree.path(node), data.change(node)))
    }

    /// The summary line: `+A −R ~M`, each count in its change's colour.
    pub fn summary_ui(&self, ui: &mut Ui) {
        let summary = self.data().summary;
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

/// The tooltip of a row: the full path (as shown), and both sides in full.
fn row_details(ui: &mut Ui, path: &str, diff: Option<&DiffRow>) {
    ui.label(RichText::new(path).monospace());
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
        let modified = &view.diff_rows()[1];
        assert_eq!(
            a_to_b(modified, |s| format!("{:04o}", s.mode)),
            "0644 → 0600"
        );
        assert_eq!(
            a_to_b(&view.diff_rows()[0], |s| s.kind.as_str().into()),
            "— → file"
        );
    }
}
