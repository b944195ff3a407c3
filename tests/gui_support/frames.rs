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

/// The app (automatic peeks off, saves going to `unused`) with `image` typed in and opened:
/// returns once its `layers` layers are listed.
pub fn app_with_image(
    image: &str,
    unused: std::path::PathBuf,
    layers: usize,
) -> Harness<'static, LayerslayerApp> {
    let picker = layerslayer::gui::FixedSavePath(unused);
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| LayerslayerApp::new_for_tests(None, Box::new(picker)));
    harness.step();
    replace_text(&mut harness, "Image reference", image);
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(&mut harness, "the image to open", |app| {
        !app.is_busy() && app.layer_count() == layers
    });
    harness
}

/// Presses Peek and waits until every layer is read.
pub fn peek(harness: &mut Harness<'_, LayerslayerApp>) {
    click(harness, "Peek");
    step_until(harness, "the peek", |app| {
        app.peek_finished() && !app.is_busy()
    });
}

/// Clicks the widget labelled `label`, and lets the app react to it.
pub fn click(harness: &mut Harness<'_, LayerslayerApp>, label: &str) {
    harness.get_by_label(label).click();
    harness.step();
    harness.step();
}

/// The CPU time this thread has used so far.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for clock_gettime to fill.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Runs one frame and returns the CPU time the UI thread spent on it: what the frame costs,
/// whatever else the machine is running (wall time on a loaded machine measures the load).
pub fn step_cpu_time(harness: &mut Harness<'_, LayerslayerApp>) -> Duration {
    let before = thread_cpu_time();
    harness.step();
    thread_cpu_time().saturating_sub(before)
}
