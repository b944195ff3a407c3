//! Drag-and-drop: a hint while a file hovers over the window, an action when one is dropped.

use super::actions::Action;

/// Opens the first file or folder dropped on the window, and hints while one hovers.
pub(super) fn dropped_files(ctx: &egui::Context) -> Option<Action> {
    let (hovering, dropped) = ctx.input(|input| {
        (
            !input.raw.hovered_files.is_empty(),
            input
                .raw
                .dropped_files
                .first()
                .map(|file| file.path().to_owned()),
        )
    });
    if hovering {
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::unique("drop_hint"),
        ));
        let screen = ctx.content_rect();
        painter.rect_filled(screen, 0.0, egui::Color32::from_black_alpha(160));
        painter.text(
            screen.center(),
            egui::Align2::CENTER_CENTER,
            "Drop an image archive or layout folder to open it",
            egui::TextStyle::Heading.resolve(&ctx.global_style()),
            egui::Color32::WHITE,
        );
    }
    dropped.map(Action::OpenPath)
}
