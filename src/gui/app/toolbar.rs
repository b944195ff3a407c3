//! The top panel: image reference, open buttons, recent references, the insecure switch,
//! Settings, Registries, About, and the platform picker of a multi-platform image.

use egui::{Key, RichText, Ui};

use super::actions::Action;
use crate::oci::ImageInfo;
use crate::oci::manifest::Platform;
use crate::output::escape_control;

/// The toolbar's widgets, editing the reference field and the insecure switch in place.
pub(super) fn toolbar_ui(
    ui: &mut Ui,
    reference_input: &mut String,
    insecure: &mut bool,
    recent: &[String],
    image: Option<&ImageInfo>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.horizontal(|ui| {
        let label = ui.label("Image reference");
        let field = ui
            .add(
                egui::TextEdit::singleline(reference_input)
                    .hint_text("alpine:3.20, localhost:5000/app:1, ./image.tar, oci:DIR, demo")
                    .desired_width(360.0),
            )
            .labelled_by(label.id);
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
        let clicked = ui
            .button("Fetch")
            .on_hover_text("Resolve the image and list its layers")
            .clicked();
        if entered || clicked {
            actions.push(Action::FetchInput);
        }
        actions.extend(open_buttons_ui(ui));
        ui.add_enabled_ui(!recent.is_empty(), |ui| {
            ui.menu_button("Recent", |ui| {
                for reference in recent {
                    if ui.button(escape_control(reference)).clicked() {
                        actions.push(Action::OpenRecent(reference.clone()));
                        ui.close();
                    }
                }
            })
        });
        ui.checkbox(insecure, "Allow insecure (plain http)")
            .on_hover_text(
                "Use plain http (and accept any TLS certificate) for registries that are \
                 not on this machine. Loopback registries always use http.",
            );
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            // The windows that are not about the image on screen, in one menu: the toolbar
            // keeps to one row at the window's smallest width.
            ui.menu_button("Tools", |ui| {
                let items = [
                    (
                        "Engine images…",
                        "The images in the local Docker or Podman engine",
                        Action::ShowEngineImages,
                    ),
                    (
                        "Registries…",
                        "The registry logins of this session and the remembered ones",
                        Action::ShowRegistries,
                    ),
                    (
                        "Settings…",
                        "When to peek an image as soon as it opens",
                        Action::ShowSettings,
                    ),
                    ("About", "Version, build and licence", Action::ShowAbout),
                ];
                for (label, hover, action) in items {
                    if ui.button(label).on_hover_text(hover).clicked() {
                        actions.push(action);
                        ui.close();
                    }
                }
            });
        });
    });
    if let Some(image) = image {
        actions.extend(platform_picker_ui(ui, image));
    }
    actions
}

/// The "Open file…" / "Open folder…" / "Open demo image" buttons (toolbar and empty tree).
pub(super) fn open_buttons_ui(ui: &mut Ui) -> Option<Action> {
    let mut action = None;
    if ui
        .button("Open file…")
        .on_hover_text("Open an image archive: docker save, oci-archive (also gzip-compressed)")
        .clicked()
    {
        action = Some(Action::ChooseImageFile);
    }
    if ui
        .button("Open folder…")
        .on_hover_text("Open an OCI image layout directory (skopeo copy … oci:DIR)")
        .clicked()
    {
        action = Some(Action::ChooseImageFolder);
    }
    if ui
        .button("Open demo image")
        .on_hover_text("A small two-platform image built into layerslayer; works offline")
        .clicked()
    {
        action = Some(Action::OpenDemo);
    }
    action
}

/// For a multi-platform index, the variant shown and the others to pick from.
fn platform_picker_ui(ui: &mut Ui, image: &ImageInfo) -> Option<Action> {
    if image.available_platforms.is_empty() {
        return None;
    }
    let current = image.platform.as_ref();
    let mut chosen: Option<Platform> = None;
    ui.horizontal(|ui| {
        egui::ComboBox::new("platform", "Platform")
            .selected_text(current.map_or_else(|| "default".to_owned(), ToString::to_string))
            .show_ui(ui, |ui| {
                for platform in &image.available_platforms {
                    let selected = current == Some(platform);
                    if ui
                        .selectable_label(selected, platform.to_string())
                        .clicked()
                        && !selected
                    {
                        chosen = Some(platform.clone());
                    }
                }
            });
        ui.label(
            RichText::new("This reference is a multi-platform index; pick the variant to list.")
                .weak(),
        );
    });
    chosen.map(Action::PickPlatform)
}
