//! The real window under Xvfb: `tests/gui_screenshot.sh` starts the binary (against an image in
//! the real local registry, or with no arguments and no network as on a first launch),
//! screenshots the screen and fails on a blank or half-empty window.

mod common;

use std::path::{Path, PathBuf};

/// Where a test keeps its screenshot (removed first so a stale one cannot pass).
fn screenshot_path(name: &str) -> PathBuf {
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&screenshot);
    screenshot
}

/// One virtual display at a time: Xvfb servers started together can trip over each other.
static ONE_DISPLAY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `tests/gui_screenshot.sh BINARY IMAGE SCREENSHOT`; returns whether it succeeded and
/// its output.
fn run_screenshot_script(image: &str, screenshot: &Path) -> (bool, String) {
    let _display = ONE_DISPLAY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gui_screenshot.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .arg(common::layerslayer_binary())
        .arg(image)
        .arg(screenshot)
        .output()
        .expect("run tests/gui_screenshot.sh");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), log)
}

fn assert_png(screenshot: &Path) {
    let png = std::fs::read(screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG file");
    eprintln!("screenshot kept at {}", screenshot.display());
}

#[test]
fn the_real_window_shows_an_image_under_xvfb() {
    let registry = common::TestRegistry::start();
    let sample = common::push_sample_image(&registry, "screenshot/app", "v1");
    let screenshot = screenshot_path("gui-screenshot.png");
    let (success, log) = run_screenshot_script(&sample.reference, &screenshot);
    assert!(success, "{log}");
    assert!(
        log.contains("layerslayer - "),
        "the window title names the image: {log}"
    );
    assert_png(&screenshot);
}

/// `-` makes the script start the app with no arguments, a fresh home and no network
/// (`unshare --net`): a first launch, which must open the built-in demo by itself.
#[test]
fn first_launch_shows_the_demo_offline() {
    let screenshot = screenshot_path("first-launch.png");
    let (success, log) = run_screenshot_script("-", &screenshot);
    assert!(success, "{log}");
    assert!(
        log.contains("first launch without network: unshare "),
        "the app ran in its own network namespace: {log}"
    );
    assert!(
        log.contains("'layerslayer - demo' rendered"),
        "the window title names the demo: {log}"
    );
    assert_png(&screenshot);
}
