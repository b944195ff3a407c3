//! Driving the app headless: stepping frames until background work has produced something,
//! with a deadline instead of sleeps.

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use layerslayer::gui::LayerslayerApp;

/// The longest any background work may take in these tests.
pub const WORK_DEADLINE: Duration = Duration::from_secs(60);

/// Steps frames until `done` holds, then one more so the window shows what the work
/// produced; panics (with the app's status) after [`WORK_DEADLINE`].
pub fn step_until(
    harness: &mut Harness<'_, LayerslayerApp>,
    what: &str,
    done: impl Fn(&LayerslayerApp) -> bool,
) {
    let deadline = Instant::now() + WORK_DEADLINE;
    while !done(harness.state()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status: {:?}, error: {:?}",
            harness.state().status_message(),
            harness.state().last_error()
        );
        harness.step();
        std::thread::yield_now();
    }
    harness.step();
}

/// Replaces the text of the text field labelled `field` with `text` (select all, delete,
/// type), stepping frames as a user's keystrokes would.
pub fn replace_text(harness: &mut Harness<'_, LayerslayerApp>, field: &str, text: &str) {
    harness
        .get_by_role_and_label(Role::TextInput, field)
        .focus();
    harness.step();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.step();
    harness.key_press(egui::Key::Backspace);
    harness.step();
    if !text.is_empty() {
        harness
            .get_by_role_and_label(Role::TextInput, field)
            .type_text(text);
    }
    harness.step();
    harness.step();
}

/// Clicks the widget labelled `label`, and lets the app react to it.
pub fn click(harness: &mut Harness<'_, LayerslayerApp>, label: &str) {
    harness.get_by_label(label).click();
    harness.step();
    harness.step();
}
