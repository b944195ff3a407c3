//! The "Engine images" window: the images of the local Docker or Podman engine (repository,
//! tag, size, age), filterable; a click opens one (`podman:NAME:TAG` /
//! `docker-daemon:NAME:TAG`). The list is read on a background [`Job`].

use egui::{RichText, Ui};

use super::actions::Action;
use crate::gui::job::Job;
use crate::output::escape_control;
use crate::source::SourceError;
use crate::source::engine::{EngineImage, EngineKind, list_images};

/// What the engine answered: the engine and its images.
type Listed = (EngineKind, Vec<EngineImage>);

/// The window's state.
#[derive(Default)]
pub(super) struct EnginePanel {
    /// The window is shown.
    pub(super) open: bool,
    filter: String,
    job: Option<Job<Result<Listed, SourceError>>>,
    listed: Option<Result<Listed, String>>,
}

impl EnginePanel {
    /// Opens the window and reads the engine's images again.
    pub(super) fn show(&mut self, ctx: &egui::Context) {
        self.open = true;
        self.listed = None;
        match Job::spawn("engine-images", ctx, |_| list_images(EngineKind::Any)) {
            Ok(job) => self.job = Some(job),
            Err(error) => self.listed = Some(Err(error)),
        }
    }

    /// The list is being read.
    pub(super) fn is_listing(&self) -> bool {
        self.job.is_some()
    }

    fn poll(&mut self) {
        if let Some(result) = self.job.as_mut().and_then(Job::take_result) {
            self.job = None;
            self.listed = Some(match result {
                Ok(Ok(listed)) => Ok(listed),
                Ok(Err(error)) => Err(error.to_string()),
                Err(panicked) => Err(panicked.into()),
            });
        }
    }

    /// The window while open; the image clicked, as an [`Action`].
    pub(super) fn window_ui(&mut self, ctx: &egui::Context) -> Option<Action> {
        self.poll();
        let mut open = self.open;
        let mut action = None;
        egui::Window::new("Engine images")
            .open(&mut open)
            .default_size([560.0, 360.0])
            .show(ctx, |ui| action = self.contents_ui(ui, ctx));
        self.open = open && action.is_none();
        action
    }

    fn contents_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) -> Option<Action> {
        let mut action = None;
        ui.horizontal(|ui| {
            let label = ui.label("Filter");
            ui.add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text("repository or tag")
                    .desired_width(240.0),
            )
            .labelled_by(label.id);
            if ui.button("Refresh").clicked() {
                self.show(ctx);
            }
        });
        ui.separator();
        match &self.listed {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Asking the engine for its images…");
                });
            }
            Some(Err(message)) => {
                ui.label(RichText::new(escape_control(message)).color(ui.visuals().error_fg_color));
            }
            Some(Ok((kind, images))) => {
                let engine = match kind {
                    EngineKind::Podman => "Podman",
                    _ => "Docker",
                };
                let filter = self.filter.to_lowercase();
                let shown: Vec<&EngineImage> = images
                    .iter()
                    .filter(|image| {
                        filter.is_empty()
                            || format!("{}:{}", image.repository, image.tag)
                                .to_lowercase()
                                .contains(&filter)
                    })
                    .collect();
                ui.label(format!(
                    "{} of {} images in {engine}; click one to open it",
                    shown.len(),
                    images.len()
                ));
                let now = chrono::Utc::now().timestamp();
                egui::ScrollArea::vertical().show(ui, |ui| {
                    egui::Grid::new("engine-images")
                        .striped(true)
                        .num_columns(4)
                        .show(ui, |ui| {
                            for heading in ["Repository", "Tag", "Size", "Age"] {
                                ui.strong(heading);
                            }
                            ui.end_row();
                            for image in shown {
                                let name = escape_control(&image.repository);
                                if ui
                                    .link(name)
                                    .on_hover_text(escape_control(&image.reference))
                                    .clicked()
                                {
                                    action = Some(Action::OpenRecent(image.reference.clone()));
                                }
                                ui.label(escape_control(&image.tag));
                                ui.label(crate::output::human_size(image.size));
                                ui.label(age(now - image.created));
                            }
                        });
                });
            }
        }
        action
    }
}

/// `seconds` as "5 minutes ago", "3 days ago".
fn age(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (count, unit) = match seconds {
        0..60 => (seconds, "second"),
        60..3600 => (seconds / 60, "minute"),
        3600..86_400 => (seconds / 3600, "hour"),
        86_400..2_592_000 => (seconds / 86_400, "day"),
        2_592_000..31_536_000 => (seconds / 2_592_000, "month"),
        _ => (seconds / 31_536_000, "year"),
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural} ago")
}

#[cfg(test)]
mod tests {
    use super::age;

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(age(1), "1 second ago");
        assert_eq!(age(7200), "2 hours ago");
        assert_eq!(age(86_400 * 3), "3 days ago");
    }
}
