//! The preview pane beside the Files tree (and the Compare tab's tree): the selected row's file (text with line numbers and
//! highlighting, hex rows, or the image), or what a link, directory or whiteout is. The state
//! ([`Preview`]) follows the selection with a debounce: a fetch starts only once the selection
//! has been still for [`DEBOUNCE`], and a stale fetch is cancelled, so that holding ↓ through
//! thousands of rows starts no fetch on the way.

use std::time::{Duration, Instant};

use egui::{RichText, Ui};

use super::TreeChoice;
use super::actions::Action;
use super::search_panel::SeenLine;
use crate::gui::jobs::PreviewJob;
use crate::gui::preview::{HEX_ROW_BYTES, LOAD_ALL_LIMIT, PreviewBody, PreviewContent, hex_row};
use crate::inspect::carve::CarvedFrom;
use crate::inspect::diff::Side;
use crate::output::{escape_control, human_size};

/// How long the selection must stay on a row before its preview is fetched.
pub(super) const DEBOUNCE: Duration = Duration::from_millis(150);

/// Which row a preview is for: the tree shown and the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PreviewKey {
    pub view: TreeChoice,
    pub path: String,
    /// A row of the Compare tab's tree, and the image whose version is shown (`None`: the
    /// Files tree's row).
    pub compared: Option<Side>,
}

/// What the pane shows of the row previewed.
pub(super) struct Shown {
    pub key: PreviewKey,
    /// What the entry is, e.g. "symlink to ../lib/x" (none for a plain file).
    pub what: Option<String>,
    /// The path a link leads to in the tree, to follow with one click.
    pub follow: Option<String>,
    /// The file's content once fetched, or why it could not be.
    pub content: Option<Result<PreviewContent, String>>,
}

impl Shown {
    /// The row `key`, with nothing said about it yet.
    pub fn of(key: PreviewKey) -> Self {
        Shown {
            key,
            what: None,
            follow: None,
            content: None,
        }
    }
}

/// The preview pane's state.
#[derive(Default)]
pub(super) struct Preview {
    /// The row selected, and since when (the fetch waits for [`DEBOUNCE`]).
    pub wanted: Option<(PreviewKey, Instant)>,
    /// What the pane shows.
    pub shown: Option<Shown>,
    /// The fetch in flight, for the row of `shown`.
    pub job: Option<PreviewJob>,
    /// Fetches started (a test checks that fast scrolling starts few).
    pub jobs_started: usize,
    /// The keys scroll the preview rather than move the tree's selection.
    pub focused: bool,
    /// Scroll the preview by this many points on the next frame (keys while focused).
    pub scroll_by: f32,
    /// The size of the image shown, once decoded.
    pub image_size: Option<egui::Vec2>,
    /// The text or hex rows' scroll offset last frame.
    pub offset: f32,
}

impl Preview {
    /// Whether a fetch runs.
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// Shows `shown` in place of the last row, whose fetch is dropped (which cancels it), with
    /// the fetch of its content: `started`, or why it could not start (`None`: nothing to
    /// fetch).
    pub fn show(&mut self, mut shown: Shown, started: Option<Result<PreviewJob, String>>) {
        self.job = None;
        self.image_size = None;
        match started {
            Some(Ok(job)) => {
                self.job = Some(job);
                self.jobs_started += 1;
            }
            Some(Err(error)) => shown.content = Some(Err(error)),
            None => {}
        }
        self.shown = Some(shown);
    }
}

/// The pane.
pub(super) fn preview_panel_ui(
    ui: &mut Ui,
    preview: &mut Preview,
    seen: Option<SeenLine>,
) -> Option<Action> {
    // The pane keeps the width it was given (default or dragged): a panel shrinks to its
    // content otherwise, so the pane and every button in it would jump sideways from one
    // file to the next (a click aimed at "Follow link to …" then lands on the tree).
    ui.set_min_width(ui.available_width());
    ui.horizontal(|ui| {
        ui.heading("Preview");
        if preview.focused {
            ui.label(RichText::new("keys scroll here; Esc: back to the tree").weak());
        }
    });
    let shown_slot = preview.shown.take();
    let action = shown_ui(ui, shown_slot.as_ref(), preview, seen);
    preview.shown = shown_slot;
    action
}

/// The pane's content for `shown`.
fn shown_ui(
    ui: &mut Ui,
    shown: Option<&Shown>,
    preview: &mut Preview,
    seen: Option<SeenLine>,
) -> Option<Action> {
    let mut action = None;
    let Some(shown) = shown else {
        ui.label(
            RichText::new(
                "Select a file (click it, or move there with the arrow keys) to see what it holds.",
            )
            .weak(),
        );
        return None;
    };
    ui.add(
        egui::Label::new(
            RichText::new(escape_control(&shown.key.path))
                .monospace()
                .strong(),
        )
        .truncate(),
    );
    if let Some(seen) = seen {
        action = seen_line_ui(ui, &shown.key.path, seen);
    }
    if let Some(what) = &shown.what {
        ui.label(escape_control(what));
    }
    if let Some(destination) = &shown.follow {
        let button = ui
            .add(
                egui::Button::new(format!("Follow link to {}", escape_control(destination)))
                    .truncate(),
            )
            .on_hover_text("Select the row this link points to");
        if button.clicked() {
            action = Some(Action::FollowLink(destination.clone()));
        }
    }
    if let Some(job) = &preview.job {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!(
                "Fetching… {} of blob fetched",
                human_size(job.fetched())
            ));
            if ui.button("Cancel preview").clicked() {
                action = Some(Action::CancelPreview);
            }
        });
    }
    match &shown.content {
        None => {}
        Some(Err(error)) => {
            ui.colored_label(ui.visuals().error_fg_color, escape_control(error));
        }
        Some(Ok(content)) => {
            if let Some(picked) = content_ui(ui, &shown.key, content, preview) {
                action = Some(picked);
            }
        }
    }
    action
}

/// In how many other indexed images the path is; a click searches it in the Search tab.
fn seen_line_ui(ui: &mut Ui, path: &str, seen: SeenLine) -> Option<Action> {
    match seen {
        SeenLine::Counting => {
            ui.label(RichText::new("Looking for it in the other indexed images…").weak());
        }
        SeenLine::Count(0) => {
            ui.label(RichText::new("In no other indexed image").weak());
        }
        SeenLine::Count(count) => {
            let text = format!(
                "Seen in {count} other indexed image{}",
                if count == 1 { "" } else { "s" }
            );
            if ui
                .link(text)
                .on_hover_text("Search this exact path in the Search tab")
                .clicked()
            {
                return Some(Action::SearchPath(path.to_owned()));
            }
        }
        SeenLine::Failed(error) => {
            ui.label(RichText::new(escape_control(&error)).weak());
        }
    }
    None
}

/// The fetched content: whose version, what was fetched, then the body.
fn content_ui(
    ui: &mut Ui,
    key: &PreviewKey,
    content: &PreviewContent,
    preview_state: &mut Preview,
) -> Option<Action> {
    let mut action = None;
    let version = match (key.compared, key.view) {
        (Some(Side::A), _) => format!("Image A's version, from layer {}", content.layer),
        (Some(Side::B), _) => format!("Image B's version, from layer {}", content.layer),
        (None, TreeChoice::Merged) => format!("Final version, from layer {}", content.layer),
        (None, TreeChoice::Layer(_)) => format!("Layer {}'s version", content.layer),
    };
    let how = match content.from {
        Some(CarvedFrom::Toc) => "located by the layer's table of contents",
        Some(CarvedFrom::Index) => "read through the layer's cached index",
        Some(CarvedFrom::Listing) => "layer streamed up to the file",
        Some(CarvedFrom::Stream) => "layer streamed to its end for the last version",
        None => "stopped at the preview limit",
    };
    ui.label(format!("{version} · {} bytes", content.size));
    ui.label(RichText::new(format!("{} blob bytes fetched ({how})", content.fetched)).weak());
    if content.truncated {
        ui.horizontal(|ui| {
            ui.label(format!(
                "Showing the first {} of {}.",
                human_size(content.held),
                human_size(content.size)
            ));
            let more = content.held < LOAD_ALL_LIMIT.min(content.size);
            if more
                && ui
                    .add_enabled(preview_state.job.is_none(), egui::Button::new("Load all"))
                    .on_hover_text(format!(
                        "Fetch the whole file (up to {}) into the preview",
                        human_size(LOAD_ALL_LIMIT)
                    ))
                    .clicked()
            {
                action = Some(Action::LoadWholePreview);
            }
        });
    }
    ui.separator();
    let scroll_by = std::mem::take(&mut preview_state.scroll_by);
    match &content.body {
        PreviewBody::Text {
            lines,
            lossy,
            syntax,
        } => {
            if *lossy {
                ui.label(
                    RichText::new("Not valid UTF-8: shown lossily (invalid bytes as ?)")
                        .color(ui.visuals().warn_fg_color),
                );
            } else if let Some(syntax) = syntax {
                ui.label(RichText::new(format!("{} lines · {syntax}", lines.len())).weak());
            } else {
                ui.label(RichText::new(format!("{} lines", lines.len())).weak());
            }
            let height = ui.text_style_height(&egui::TextStyle::Monospace);
            let digits = lines.len().to_string().len();
            let mut area = egui::ScrollArea::both()
                .id_salt("preview_text")
                .auto_shrink(false);
            if scroll_by != 0.0 {
                area = area.vertical_scroll_offset((preview_state.offset + scroll_by).max(0.0));
            }
            let output = area.show_rows(ui, height, lines.len(), |ui, range| {
                for index in range {
                    let Some(line) = lines.get(index) else {
                        continue;
                    };
                    ui.horizontal(|ui| {
                        ui.label(
                            RichText::new(format!("{:>digits$}", index + 1))
                                .monospace()
                                .weak(),
                        );
                        ui.add(
                            egui::Label::new(line.clone())
                                .wrap_mode(egui::TextWrapMode::Extend)
                                .selectable(false),
                        );
                    });
                }
            });
            preview_state.offset = output.state.clamped_offset().y;
        }
        PreviewBody::Hex(bytes) => {
            ui.label(RichText::new(format!("binary: {} bytes shown as hex", bytes.len())).weak());
            let height = ui.text_style_height(&egui::TextStyle::Monospace);
            let rows = bytes.len().div_ceil(HEX_ROW_BYTES);
            let mut area = egui::ScrollArea::both()
                .id_salt("preview_hex")
                .auto_shrink(false);
            if scroll_by != 0.0 {
                area = area.vertical_scroll_offset((preview_state.offset + scroll_by).max(0.0));
            }
            let output = area.show_rows(ui, height, rows, |ui, range| {
                for row in range {
                    if let Some(text) = hex_row(bytes, row) {
                        ui.add(
                            egui::Label::new(RichText::new(text).monospace())
                                .wrap_mode(egui::TextWrapMode::Extend),
                        );
                    }
                }
            });
            preview_state.offset = output.state.clamped_offset().y;
        }
        PreviewBody::Image { uri, bytes } => {
            let image =
                egui::Image::from_bytes(uri.clone(), egui::load::Bytes::Shared(bytes.clone()))
                    .alt_text(format!("Image {}", escape_control(&content.path)))
                    .max_size(ui.available_size())
                    .fit_to_original_size(1.0)
                    .shrink_to_fit();
            match image.load_for_size(ui.ctx(), ui.available_size()) {
                Ok(poll) => {
                    preview_state.image_size = poll.size();
                    if let Some(size) = poll.size() {
                        ui.label(RichText::new(format!("{} × {} pixels", size.x, size.y)).weak());
                    }
                    egui::ScrollArea::both()
                        .id_salt("preview_image")
                        .auto_shrink(false)
                        .show(ui, |ui| ui.add(image));
                }
                Err(error) => {
                    preview_state.image_size = None;
                    let hint = if content.truncated {
                        " (only its start was fetched: Load all)"
                    } else {
                        ""
                    };
                    ui.colored_label(
                        ui.visuals().error_fg_color,
                        format!("Could not show the image{hint}: {error}"),
                    );
                }
            }
        }
    }
    action
}

/// While the preview has the keys: ↑ ↓, Page Up / Page Down scroll it (by `line` and `page`
/// points); Esc gives the keys back to the tree. Returns the scroll asked for.
pub(super) fn preview_keys(ctx: &egui::Context, line: f32, page: f32) -> (f32, bool) {
    use egui::{Key, Modifiers};
    ctx.input_mut(|i| {
        let mut count = |key| i.count_and_consume_key(Modifiers::NONE, key) as f32;
        let scroll = (count(Key::ArrowDown) - count(Key::ArrowUp)) * line
            + (count(Key::PageDown) - count(Key::PageUp)) * page;
        let leave = i.consume_key(Modifiers::NONE, Key::Escape)
            || i.consume_key(Modifiers::NONE, Key::ArrowLeft);
        (scroll, leave)
    })
}
