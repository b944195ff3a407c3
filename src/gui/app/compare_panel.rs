//! The Compare tab: a second image (B) to compare the image on screen (A) with, the
//! comparison's progress, and the differing paths as one tree with both sides.

use std::sync::Arc;

use egui::{Key, RichText, Ui};

use super::actions::Action;
use crate::gui::jobs::{CompareJob, CompareRequest, CompareResult, FetchError, FetchRequest};
use crate::gui::widgets::compare_tree::DiffView;
use crate::inspect::diff::{DiffRow, DiffSummary, Side};
use crate::model::{Change, EntryKind};
use crate::oci::ImageInfo;
use crate::oci::manifest::Platform;
use crate::output::{escape_control, human_size};
use crate::source::ImageSource;

/// A finished comparison on screen: what was compared, and its rows in the tree widget.
struct CompareShown {
    /// The comparison, its rows and tree handed to `view`.
    result: CompareResult,
    view: DiffView,
}

/// The Compare tab's state: the field naming image B, the comparison running, the last one.
#[derive(Default)]
pub(super) struct CompareState {
    /// What the user typed for image B.
    pub input: String,
    /// The platform picked for image B (`None`: image A's).
    pub platform_b: Option<Platform>,
    job: Option<CompareJob>,
    shown: Option<CompareShown>,
    error: Option<String>,
}

impl CompareState {
    /// Whether a comparison runs.
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// Starts comparing as `request` says; the last result stays until the new one is done.
    pub fn start(&mut self, request: CompareRequest, ctx: &egui::Context) {
        self.error = None;
        match CompareJob::start(request, ctx.clone()) {
            Ok(job) => self.job = Some(job),
            Err(error) => self.error = Some(error),
        }
    }

    /// Stops the comparison running, if any; returns whether one ran.
    pub fn cancel(&mut self) -> bool {
        // Dropping the job cancels it.
        self.job.take().is_some()
    }

    /// Shows `message` as the comparison's error.
    pub fn fail(&mut self, message: impl Into<String>) {
        self.error = Some(message.into());
    }

    /// Forgets the last comparison (image A changed); stops one running.
    pub fn clear_result(&mut self) {
        self.job = None;
        self.shown = None;
        self.error = None;
        self.platform_b = None;
    }

    /// The error of the last comparison.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Counts of each change of the last comparison.
    pub fn summary(&self) -> Option<DiffSummary> {
        self.shown.as_ref().map(|shown| shown.view.summary())
    }

    /// Layers of B the last comparison took from A's listings.
    pub fn shared_layers(&self) -> Option<usize> {
        self.shown.as_ref().map(|shown| shown.result.shared_layers)
    }

    /// The visible rows of the last comparison.
    pub fn visible_rows(&mut self) -> Vec<(String, Option<Change>)> {
        self.shown
            .as_mut()
            .map(|shown| shown.view.visible_rows())
            .unwrap_or_default()
    }

    /// Number of visible rows of the last comparison.
    pub fn visible_row_count(&mut self) -> usize {
        self.shown
            .as_mut()
            .map_or(0, |shown| shown.view.visible_row_count())
    }

    /// One visible row of the last comparison: path and change.
    pub fn visible_row(&mut self, row: usize) -> Option<(String, Option<Change>)> {
        self.shown.as_mut()?.view.visible_row(row)
    }

    /// The selected row of the last comparison's tree: its path, and the side to preview
    /// (B's version, or A's for a path only in A) when that side is a regular file.
    pub fn selected_file(&self) -> Option<(String, Side)> {
        let shown = self.shown.as_ref()?;
        let row = shown.selected_row()?;
        let (side, entry) = match (&row.b, &row.a) {
            (Some(b), _) => (Side::B, b),
            (None, Some(a)) => (Side::A, a),
            (None, None) => return None,
        };
        (entry.kind == EntryKind::File).then(|| (row.path.clone(), side))
    }

    /// The row of the last comparison at `path`, image B's source and image B.
    pub fn row_of(&self, path: &str) -> Option<(&DiffRow, &Arc<dyn ImageSource>, &ImageInfo)> {
        let shown = self.shown.as_ref()?;
        let rows = shown.view.diff_rows();
        let index = rows
            .binary_search_by(|row| row.path.as_str().cmp(path))
            .ok()?;
        Some((
            rows.get(index)?,
            &shown.result.source_b,
            &shown.result.image_b,
        ))
    }

    /// Whether a comparison is on screen.
    pub fn has_result(&self) -> bool {
        self.shown.is_some()
    }

    /// Takes a finished comparison, if one ended: the status line to show and the request
    /// for B that worked (with its login), or why it failed, left for the caller to show
    /// (a refused login may rather open the sign-in form).
    pub fn poll(&mut self) -> Option<Result<(String, FetchRequest), FetchError>> {
        let result = self.job.as_mut()?.take_outcome()?;
        self.job = None;
        Some(result.map(|result| {
            let status = format!(
                "Compared with {}: {} paths differ.",
                escape_control(&result.request_b.reference),
                result.rows.len()
            );
            let request_b = result.request_b.clone();
            self.shown = Some(shown_of(result));
            (status, request_b)
        }))
    }
}

impl CompareShown {
    /// The row selected in the tree, when it is a differing path.
    fn selected_row(&self) -> Option<&DiffRow> {
        let path = self.view.selected()?;
        let rows = self.view.diff_rows();
        let index = rows
            .binary_search_by(|row| row.path.as_str().cmp(path))
            .ok()?;
        rows.get(index)
    }
}

fn shown_of(mut result: CompareResult) -> CompareShown {
    let rows = std::mem::take(&mut result.rows);
    let tree = std::mem::take(&mut result.tree);
    CompareShown {
        result,
        view: DiffView::new(rows, tree),
    }
}

/// The Compare tab.
pub(super) fn compare_panel_ui(
    ui: &mut Ui,
    image_a: &ImageInfo,
    state: &mut CompareState,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let running = state.is_running();
    ui.horizontal(|ui| {
        let label = ui.label("Compare with");
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut state.input)
                    .hint_text("image B: alpine:3.21, ./image.tar, oci:DIR, demo")
                    .desired_width(360.0),
            )
            .labelled_by(label.id);
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
        let clicked = ui
            .add_enabled(!running, egui::Button::new("Compare"))
            .on_hover_text(
                "Open image B and compare its final filesystem with this image's, path by path",
            )
            .clicked();
        if (entered || clicked) && !running {
            actions.push(Action::StartCompare);
        }
        if running
            && ui
                .button("Cancel compare")
                .on_hover_text("Stop the comparison; the last result stays")
                .clicked()
        {
            actions.push(Action::CancelCompare);
        }
    });
    ui.label(
        RichText::new(format!(
            "Image A is {}{}. Layers image B shares with A are read once; the final \
             filesystems are compared (+ only in B, \u{2212} only in A, ~ in both but different).",
            escape_control(&image_a.source),
            image_a
                .platform
                .as_ref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        ))
        .weak(),
    );
    if let Some(job) = &state.job {
        progress_ui(ui, job);
    }
    if let Some(error) = &state.error {
        ui.colored_label(
            ui.visuals().error_fg_color,
            format!("Error: {}", escape_control(error)),
        );
    }
    let Some(shown) = &mut state.shown else {
        return actions;
    };
    ui.separator();
    actions.extend(result_header_ui(ui, shown, running));
    ui.horizontal(|ui| shown.view.show_controls(ui));
    ui.add_space(4.0);
    if let Some((layer, path)) = shown.view.show_rows(ui) {
        actions.push(Action::RevealPath {
            layer: Some(layer),
            path,
        });
    }
    actions
}

/// The comparison's stage and how much of the layers being read has arrived.
fn progress_ui(ui: &mut Ui, job: &CompareJob) {
    let progress = job.progress();
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label(progress.stage());
        let (read, total) = progress.bytes();
        if total > 0 {
            let fraction = (read as f64 / total as f64).clamp(0.0, 1.0) as f32;
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(200.0)
                    .text(format!("{} of {}", human_size(read), human_size(total))),
            );
        }
    });
}

/// What was compared, how many layers were shared, B's platform picker, the summary line and
/// the notes.
fn result_header_ui(ui: &mut Ui, shown: &CompareShown, running: bool) -> Option<Action> {
    let image_b = &shown.result.image_b;
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "Image B: {}",
                escape_control(&shown.result.request_b.reference)
            ))
            .strong(),
        );
        if !image_b.available_platforms.is_empty() {
            let current = image_b.platform.as_ref();
            ui.add_enabled_ui(!running, |ui| {
                egui::ComboBox::new("compare_platform", "Platform of B")
                    .selected_text(
                        current.map_or_else(|| "default".to_owned(), ToString::to_string),
                    )
                    .show_ui(ui, |ui| {
                        for platform in &image_b.available_platforms {
                            let selected = current == Some(platform);
                            if ui
                                .selectable_label(selected, platform.to_string())
                                .clicked()
                                && !selected
                            {
                                action = Some(Action::PickComparePlatform(platform.clone()));
                            }
                        }
                    });
            });
        } else if let Some(platform) = &image_b.platform {
            ui.label(format!("({platform})"));
        }
    });
    ui.label(format!(
        "{} shared layer{} read once; read {} layer{} of A and {} of B for the comparison.",
        shown.result.shared_layers,
        if shown.result.shared_layers == 1 {
            ""
        } else {
            "s"
        },
        shown.result.read_a,
        if shown.result.read_a == 1 { "" } else { "s" },
        shown.result.read_b
    ))
    .on_hover_text(
        "Layers with the same digest in both images are listed once (from image A's listings)",
    );
    shown.view.summary_ui(ui);
    let warn = ui.visuals().warn_fg_color;
    for note in &shown.result.notes {
        ui.add(
            egui::Label::new(RichText::new(format!("Note: {}", escape_control(note))).color(warn))
                .wrap(),
        );
    }
    action
}
