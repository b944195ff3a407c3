//! The Config tab: how containers of the image run (entrypoint, cmd, env, user, working
//! directory, ports, volumes, labels), when and for which platform it was built, and its build
//! steps as a Dockerfile-like list; a step that made a layer picks that layer.

use egui::{RichText, Ui};

use super::actions::Action;
use crate::oci::ImageInfo;
use crate::output::escape_control;

/// The Config tab. `highlighted` is the layer picked last (its step is shown selected).
pub(super) fn config_panel_ui(
    ui: &mut Ui,
    image: &ImageInfo,
    highlighted: Option<usize>,
) -> Option<Action> {
    let mut action = None;
    egui::ScrollArea::vertical()
        .id_salt("config")
        .auto_shrink(false)
        .show(ui, |ui| {
            settings_ui(ui, image);
            ui.add_space(12.0);
            action = build_steps_ui(ui, image, highlighted);
        });
    action
}

/// `["a","b"]` for a command line, `(none)` when empty.
fn words(words: &[String]) -> String {
    if words.is_empty() {
        "(none)".to_owned()
    } else {
        escape_control(&serde_json::to_string(words).unwrap_or_default()).into_owned()
    }
}

/// The runtime settings and the image's metadata, as a two-column grid.
fn settings_ui(ui: &mut Ui, image: &ImageInfo) {
    let config = &image.config;
    let runtime = config.config.clone().unwrap_or_default();
    let or = |text: &str, default: &str| {
        if text.is_empty() {
            default.to_owned()
        } else {
            escape_control(text).into_owned()
        }
    };
    let platform = [config.os.as_deref(), config.architecture.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    let ports: Vec<&str> = runtime.exposed_ports.keys().map(String::as_str).collect();
    let volumes: Vec<&str> = runtime.volumes.keys().map(String::as_str).collect();
    ui.heading("How containers run");
    egui::Grid::new("config_settings")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .striped(true)
        .show(ui, |ui| {
            let mut row = |name: &str, value: String, help: &str| {
                ui.label(RichText::new(name).strong()).on_hover_text(help);
                ui.add(egui::Label::new(RichText::new(value).monospace()).wrap());
                ui.end_row();
            };
            row(
                "Entrypoint",
                words(&runtime.entrypoint),
                "The program a container runs (ENTRYPOINT)",
            );
            row(
                "Cmd",
                words(&runtime.cmd),
                "Its default arguments, or the program without an entrypoint (CMD)",
            );
            row(
                "User",
                or(&runtime.user, "(root)"),
                "Who the program runs as (USER); empty means root",
            );
            row(
                "Working dir",
                or(&runtime.working_dir, "/"),
                "The program's working directory (WORKDIR)",
            );
            row(
                "Exposed ports",
                or(&ports.join(" "), "(none)"),
                "Ports the image says it listens on (EXPOSE)",
            );
            row(
                "Volumes",
                or(&volumes.join(" "), "(none)"),
                "Directories meant to be mounted (VOLUME)",
            );
            if !runtime.stop_signal.is_empty() {
                row(
                    "Stop signal",
                    escape_control(&runtime.stop_signal).into_owned(),
                    "The signal that stops a container (STOPSIGNAL)",
                );
            }
            row(
                "Platform",
                or(&platform, "(not said)"),
                "The operating system and CPU architecture the image was built for",
            );
            row(
                "Created",
                or(config.created.as_deref().unwrap_or_default(), "(not said)"),
                "When the image was built",
            );
            if let Some(author) = config.author.as_deref().filter(|a| !a.is_empty()) {
                row(
                    "Author",
                    escape_control(author).into_owned(),
                    "Who built the image",
                );
            }
        });
    list_ui(ui, "Environment", &runtime.env, "config_env");
    let labels: Vec<String> = runtime
        .labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    list_ui(ui, "Labels", &labels, "config_labels");
}

/// A titled list of `lines` (`(none)` when empty).
fn list_ui(ui: &mut Ui, title: &str, lines: &[String], id: &str) {
    ui.add_space(8.0);
    ui.label(RichText::new(format!("{title} ({})", lines.len())).strong());
    ui.push_id(id, |ui| {
        ui.indent(id, |ui| {
            if lines.is_empty() {
                ui.label(RichText::new("(none)").weak());
            }
            for line in lines {
                ui.add(egui::Label::new(RichText::new(escape_control(line)).monospace()).wrap());
            }
        });
    });
}

/// The build history as Dockerfile-like lines: steps that made a layer are buttons picking
/// that layer; steps that made none are greyed.
fn build_steps_ui(ui: &mut Ui, image: &ImageInfo, highlighted: Option<usize>) -> Option<Action> {
    let steps = image.config.build_steps(image.layers.len());
    ui.heading(format!("Build steps ({})", steps.len()));
    ui.label(
        RichText::new(
            "Each step with a layer number made that layer: click it to show the layer's \
             files. Greyed steps made no layer.",
        )
        .weak(),
    );
    ui.add_space(4.0);
    let mut action = None;
    for step in &steps {
        let instruction = escape_control(&step.instruction);
        let hover = step
            .created
            .as_deref()
            .map(|created| format!("Ran {}", escape_control(created)));
        match step.layer {
            Some(layer) => {
                let text = RichText::new(format!("[{layer:>2}] {instruction}")).monospace();
                let response = ui.add(
                    egui::Button::selectable(highlighted == Some(layer), text)
                        .wrap_mode(egui::TextWrapMode::Wrap),
                );
                let response = match &hover {
                    Some(hover) => response.on_hover_text(format!(
                        "{hover}; made layer {layer}: click to show its files"
                    )),
                    None => response
                        .on_hover_text(format!("Made layer {layer}: click to show its files")),
                };
                if response.clicked() {
                    action = Some(Action::SelectLayer(layer));
                }
            }
            None => {
                // Under the buttons' text: their padding, then as wide as `[ N] `.
                let label = ui
                    .horizontal(|ui| {
                        ui.add_space(ui.spacing().button_padding.x);
                        ui.add(
                            egui::Label::new(
                                RichText::new(format!("     {instruction}"))
                                    .monospace()
                                    .weak(),
                            )
                            .wrap(),
                        )
                    })
                    .inner;
                if let Some(hover) = hover {
                    label.on_hover_text(format!("{hover}; made no layer"));
                }
            }
        }
    }
    action
}
