//! The left panel: the image's layers with their checkboxes, Peek / Cancel, and how each
//! layer's peek is going.

use egui::text::LayoutJob;
use egui::{Color32, FontId, RichText, TextFormat, Ui};

use super::PeekedLayer;
use super::actions::Action;
use crate::gui::jobs::ChangeSummary;
use crate::gui::widgets::files_tree::change_color;
use crate::model::{Change, LayerStatus};
use crate::oci::{ImageInfo, LayerInfo};
use crate::output::{escape_control, human_size, listed_from_note};

/// Build steps longer than this are shortened in the layer list (full text on hover).
const CREATED_BY_CHARS: usize = 72;

/// The layer picked elsewhere (a build step in the Config tab), shown framed in the list.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Highlight {
    /// The layer's index, if any.
    pub layer: Option<usize>,
    /// Scroll the list to it this frame.
    pub scroll: bool,
}

/// The layer list, ticking the checkboxes in `layer_checked` in place.
pub(super) fn layers_panel_ui(
    ui: &mut Ui,
    image: Option<&ImageInfo>,
    layer_checked: &mut [bool],
    peeked: &[PeekedLayer],
    peeking: bool,
    highlight: Highlight,
) -> Option<Action> {
    // Keep the panel's width when its content is narrow (e.g. before the first fetch).
    ui.set_min_width(ui.available_width());
    ui.heading("Layers");
    let Some(info) = image else {
        ui.label("Fetch an image to list its layers.");
        return None;
    };
    ui.label(RichText::new(escape_control(&info.source)).strong());
    ui.label(RichText::new(&info.manifest_digest).monospace().small())
        .on_hover_text("Manifest digest");
    let mut action = None;
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!peeking, egui::Button::new("Peek"))
            .on_hover_text("List the files of the ticked layers (all when none is ticked)")
            .clicked()
        {
            action = Some(Action::StartPeek);
        }
        if ui
            .add_enabled(peeking, egui::Button::new("Cancel"))
            .on_hover_text("Stop reading layers; what arrived so far is kept")
            .clicked()
        {
            action = Some(Action::CancelPeek);
        }
    });
    ui.label(RichText::new("Tick layers to peek; with none ticked, all are peeked.").weak());
    ui.separator();
    egui::ScrollArea::vertical()
        .id_salt("layer_list")
        .auto_shrink(false)
        .show(ui, |ui| {
            for (layer, checked) in info.layers.iter().zip(layer_checked.iter_mut()) {
                let peeked = peeked.iter().find(|p| p.layer.index == layer.index);
                if highlight.layer == Some(layer.index) {
                    let frame = egui::Frame::group(ui.style())
                        .stroke(ui.visuals().selection.stroke)
                        .show(ui, |ui| layer_row_ui(ui, layer, checked, peeked));
                    if highlight.scroll {
                        frame.response.scroll_to_me(Some(egui::Align::Center));
                    }
                } else {
                    layer_row_ui(ui, layer, checked, peeked);
                }
                ui.separator();
            }
        });
    action
}

/// One layer of the list: checkbox, digest, size, media type, build step, and how its peek
/// is going.
fn layer_row_ui(ui: &mut Ui, layer: &LayerInfo, checked: &mut bool, peek: Option<&PeekedLayer>) {
    ui.horizontal(|ui| {
        ui.checkbox(checked, format!("Layer {}", layer.index));
        ui.label(RichText::new(layer.short_digest()).monospace())
            .on_hover_text(layer.digest());
        ui.label(human_size(layer.size()));
    });
    ui.label(RichText::new(layer.media_type()).weak().small());
    if let Some(command) = &layer.created_by {
        let command = escape_control(command);
        let short: String = if command.chars().count() > CREATED_BY_CHARS {
            let mut short: String = command.chars().take(CREATED_BY_CHARS).collect();
            short.push('…');
            short
        } else {
            command.to_string()
        };
        ui.add(egui::Label::new(RichText::new(short).monospace().small()).wrap())
            .on_hover_text(command);
    }
    let Some(peek) = peek else {
        return;
    };
    let entries = peek.entry_count;
    let Some(result) = &peek.result else {
        let bytes = peek.progress.bytes_read();
        let size = layer.size();
        let fraction = if size == 0 {
            0.0
        } else {
            (bytes as f64 / size as f64).clamp(0.0, 1.0) as f32
        };
        let resumes = match peek.progress.resumes() {
            0 => String::new(),
            n => format!(" · resumed ×{n}"),
        };
        let text = if bytes == 0 {
            format!("waiting for data…{resumes}")
        } else {
            format!(
                "{} of {} · {} entries{resumes}",
                human_size(bytes),
                human_size(size),
                peek.progress.entries().max(entries as u64)
            )
        };
        ui.add(egui::ProgressBar::new(fraction).text(text));
        return;
    };
    let visuals = ui.visuals();
    let (text, color) = match &result.status {
        LayerStatus::Complete { digest_verified } => (
            format!(
                "Complete: {entries} entries{}{}",
                if *digest_verified {
                    ", digest verified"
                } else {
                    ""
                },
                listed_from_note(result.listed_from, result.bytes_read, layer.size())
                    .map(|how| format!(", {how}"))
                    .unwrap_or_default()
            ),
            visuals.text_color(),
        ),
        LayerStatus::Cancelled => (
            format!("Cancelled after {entries} entries"),
            visuals.warn_fg_color,
        ),
        LayerStatus::Skipped(reason) => (
            format!("Skipped: {}", escape_control(reason)),
            visuals.warn_fg_color,
        ),
        LayerStatus::Missing(reason) => (
            format!("Missing: {}", escape_control(reason)),
            visuals.error_fg_color,
        ),
        LayerStatus::Failed(reason) => (
            format!("Failed after {entries} entries: {}", escape_control(reason)),
            visuals.error_fg_color,
        ),
    };
    ui.add(egui::Label::new(RichText::new(text).color(color)).wrap());
    if let Some(summary) = &peek.summary {
        summary_ui(ui, summary);
    }
    if let Some(note) = &result.note {
        ui.add(egui::Label::new(RichText::new(escape_control(note)).weak().small()).wrap());
    }
}

/// What a complete layer changes: `+A ~M −R, +SIZE added`, each count in its change's colour.
fn summary_ui(ui: &mut Ui, summary: &ChangeSummary) {
    let font = FontId::default();
    let visuals = ui.visuals();
    let part = |color: Color32| TextFormat::simple(font.clone(), color);
    let mut job = LayoutJob::default();
    job.append(
        &format!("+{}", summary.added),
        0.0,
        part(change_color(visuals, Change::Added)),
    );
    job.append(
        &format!(" ~{}", summary.modified),
        0.0,
        part(change_color(visuals, Change::Modified)),
    );
    job.append(
        &format!(" \u{2212}{}", summary.removed),
        0.0,
        part(change_color(visuals, Change::Removed)),
    );
    job.append(
        &format!(", +{} added", human_size(summary.added_bytes)),
        0.0,
        part(visuals.text_color()),
    );
    ui.add(egui::Label::new(job).wrap()).on_hover_text(format!(
        "Against the peeked layers below: {} entries added, {} modified (paths that existed \
         below), {} removed (whiteouts and opaque directories); the added regular files hold {} \
         bytes",
        summary.added, summary.modified, summary.removed, summary.added_bytes
    ));
}
