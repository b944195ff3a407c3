//! Nothing lost on export (issue 9): when no native file dialog can be shown (a Linux desktop
//! without an xdg portal or zenity) the app asks in its own window where to save, says why,
//! and never claims the user cancelled; a cancel says so and writes nothing; a path in a
//! missing folder shows the write error and leaves no file. Driven headlessly with
//! egui_kittest on the built-in demo image (no network).

use crate::frames;
use crate::frames::click;

use std::path::Path;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use frames::step_until;
use layerslayer::gui::{DialogChoice, FixedChoice, LayerslayerApp};

/// What the test double says when asked for a dialog.
const WHY: &str = "no xdg portal";
/// The prompt's reason line for [`WHY`].
const REASON: &str = "No file dialog is available (no xdg portal); type where to save.";
/// The first columns of the CSV export's header.
const CSV_HEADER_START: &str = "layer_index,layer_digest,path,";

/// The demo image opened (as on a first launch) and all its layers peeked, with file dialogs
/// that always answer `choice`.
fn peeked_demo(choice: DialogChoice) -> Harness<'static, LayerslayerApp> {
    let dialogs = FixedChoice(choice);
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| LayerslayerApp::with_recent(Vec::new(), Box::new(dialogs)));
    step_until(&mut harness, "the demo image to open", |app| {
        !app.is_busy() && app.image().is_some()
    });
    click(&mut harness, "Peek");
    step_until(&mut harness, "the demo peek", |app| {
        app.peek_finished() && !app.is_busy()
    });
    harness.step();
    assert_eq!(harness.state().last_error(), None);
    harness
}

fn unavailable() -> DialogChoice {
    DialogChoice::Unavailable(WHY.into())
}

/// The text in the prompt's "Save to" field.
fn typed_path(harness: &Harness<'_, LayerslayerApp>) -> String {
    harness
        .get_by_role_and_label(Role::TextInput, "Save to")
        .accesskit_node()
        .value()
        .unwrap_or_default()
}

/// Replaces the text of the prompt's "Save to" field with `path`.
fn type_path(harness: &mut Harness<'_, LayerslayerApp>, path: &Path) {
    frames::replace_text(harness, "Save to", &path.display().to_string());
    assert_eq!(typed_path(harness), path.display().to_string());
}

/// The files in `dir`, by name.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read the folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Clicks "Export CSV…" with no file dialog available: the app asks in its window, saying why.
fn open_export_prompt(harness: &mut Harness<'_, LayerslayerApp>) {
    click(harness, "Export CSV…");
    assert_eq!(
        harness.state().save_prompt_reason().as_deref(),
        Some(REASON)
    );
}

fn assert_not_cancelled(harness: &Harness<'_, LayerslayerApp>) {
    let status = harness.state().status_message().to_lowercase();
    assert!(!status.contains("cancel"), "{status}");
}

#[test]
fn without_a_dialog_export_asks_in_the_window_and_saves_there() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = peeked_demo(unavailable());
    // The prompt, saying why, instead of "Export cancelled".
    open_export_prompt(&mut harness);
    assert!(harness.query_by_label(REASON).is_some(), "the reason shows");
    assert!(harness.query_by_label("Export CSV").is_some(), "its title");
    assert_not_cancelled(&harness);
    assert!(
        typed_path(&harness).ends_with("layerslayer-demo.csv"),
        "a suggested path: {}",
        typed_path(&harness)
    );
    // Ctrl+S again while it is open keeps the same prompt.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    harness.step();
    assert_eq!(
        harness.state().save_prompt_reason().as_deref(),
        Some(REASON)
    );

    let csv = out_dir.path().join("exported.csv");
    type_path(&mut harness, &csv);
    click(&mut harness, "Save");

    assert_eq!(harness.state().last_error(), None);
    assert_eq!(
        harness.state().save_prompt_reason(),
        None,
        "the prompt closed"
    );
    assert!(harness.query_by_label(REASON).is_none());
    let text = std::fs::read_to_string(&csv).expect("the CSV was written");
    let header = text.lines().next().expect("a header line");
    assert!(header.starts_with(CSV_HEADER_START), "{header}");
    let rows = text.lines().count() - 1;
    assert!(rows > 10, "the demo's entries: {rows} rows");
    let status = harness.state().status_message().to_owned();
    assert_eq!(
        status,
        format!("Exported {rows} rows to {}", csv.display()),
        "the status says where"
    );
    assert_eq!(
        files_in(out_dir.path()),
        ["exported.csv"],
        "no temporary file left"
    );
}

#[test]
fn a_missing_folder_shows_the_write_error_and_leaves_no_file() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = peeked_demo(unavailable());
    open_export_prompt(&mut harness);

    let missing = out_dir.path().join("no such folder");
    let csv = missing.join("layers.csv");
    type_path(&mut harness, &csv);
    // Enter in the field saves, like the Save button.
    harness.key_press(egui::Key::Enter);
    harness.step();
    harness.step();

    let error = harness
        .state()
        .last_error()
        .expect("the failure is shown")
        .to_owned();
    assert!(
        error.starts_with("Export failed: could not write ")
            && error.contains(&csv.display().to_string()),
        "{error}"
    );
    assert!(
        harness.state().save_prompt_reason().is_some(),
        "the prompt stays open to try another path"
    );
    assert!(
        harness
            .query_all_by_label_contains("could not write")
            .count()
            >= 2,
        "the error shows in the prompt and in the status bar"
    );
    assert_not_cancelled(&harness);
    assert!(!csv.exists() && !missing.exists(), "nothing was created");
    assert!(
        files_in(out_dir.path()).is_empty(),
        "no temporary file left"
    );

    // The user gives up: only now is it "cancelled".
    click(&mut harness, "Cancel export");
    assert_eq!(harness.state().save_prompt_reason(), None);
    assert_eq!(
        harness.state().status_message(),
        "Export cancelled; nothing was written."
    );
    assert!(files_in(out_dir.path()).is_empty());
}

#[test]
fn escape_closes_the_prompt_as_a_cancel() {
    let mut harness = peeked_demo(unavailable());
    click(&mut harness, "Export CSV…");
    assert!(harness.state().save_prompt_reason().is_some());
    harness.key_press(egui::Key::Escape);
    harness.step();
    harness.step();
    assert_eq!(harness.state().save_prompt_reason(), None);
    assert_eq!(
        harness.state().status_message(),
        "Export cancelled; nothing was written."
    );
}

#[test]
fn a_cancelled_dialog_says_cancelled_and_writes_nothing() {
    let mut harness = peeked_demo(DialogChoice::Cancelled);
    click(&mut harness, "Export CSV…");
    // The double picks no path, so nothing can have been written; the app must say so and
    // not open its prompt.
    assert_eq!(harness.state().status_message(), "Export cancelled.");
    assert_eq!(harness.state().last_error(), None);
    assert_eq!(harness.state().save_prompt_reason(), None, "no prompt");
    assert!(harness.query_by_label("Save to").is_none());
}

#[test]
fn without_a_dialog_save_file_asks_in_the_window_too() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = peeked_demo(unavailable());
    // The demo's final etc/os-release, from the merged view's tree.
    click(&mut harness, "Tree");
    harness
        .query_all_by_label("Merged: final filesystem")
        .last()
        .expect("the merged view in the Tree box")
        .click();
    harness.step();
    step_until(&mut harness, "the merged tree", |app| !app.is_busy());
    let filter = harness.get_by_role_and_label(Role::TextInput, "Filter paths");
    filter.focus();
    harness.step();
    harness
        .get_by_role_and_label(Role::TextInput, "Filter paths")
        .type_text("etc/os-release");
    harness.step();
    step_until(&mut harness, "the filtered tree", |app| !app.is_busy());
    harness.step();
    harness.get_by_label("os-release").click_secondary();
    harness.step();
    harness.step();
    click(&mut harness, "Save file…");

    assert_eq!(
        harness.state().save_prompt_reason().as_deref(),
        Some(REASON)
    );
    assert!(harness.query_by_label("Save etc/os-release").is_some());
    assert!(typed_path(&harness).ends_with("os-release"));
    assert_not_cancelled(&harness);

    // A missing folder is refused before the carve starts, in the prompt.
    let missing = out_dir.path().join("missing").join("os-release");
    type_path(&mut harness, &missing);
    click(&mut harness, "Save");
    assert!(!harness.state().is_saving());
    assert!(harness.state().save_prompt_reason().is_some());
    assert!(
        harness.query_by_label_contains("does not exist").is_some(),
        "the prompt says the folder is missing"
    );

    let saved = out_dir.path().join("os-release");
    type_path(&mut harness, &saved);
    click(&mut harness, "Save");
    assert_eq!(harness.state().save_prompt_reason(), None);
    step_until(&mut harness, "the save", |app| !app.is_busy());
    harness.step();
    assert_eq!(harness.state().last_error(), None);
    let text = std::fs::read_to_string(&saved).expect("the file was saved");
    assert!(text.contains("VERSION_ID=1.1"), "{text}");
    let status = harness.state().status_message().to_owned();
    assert!(
        status.starts_with("Saved etc/os-release (106 B) from layer 1 to ")
            && status.contains(&saved.display().to_string()),
        "{status}"
    );
    assert_eq!(files_in(out_dir.path()), ["os-release"]);
}

#[test]
fn without_a_dialog_open_file_says_how_else_to_open() {
    let dialogs = FixedChoice(unavailable());
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| LayerslayerApp::new_for_tests(None, Box::new(dialogs)));
    harness.step();
    for button in ["Open file…", "Open folder…"] {
        harness
            .query_all_by_label(button)
            .next()
            .unwrap_or_else(|| panic!("no {button} button"))
            .click();
        harness.step();
        harness.step();
        let error = harness
            .state()
            .last_error()
            .expect("the missing dialog is reported")
            .to_owned();
        assert!(
            error.starts_with("No file dialog is available (no xdg portal): ")
                && error.contains("Image reference field"),
            "{error}"
        );
        assert!(!harness.state().is_fetching());
    }
}
