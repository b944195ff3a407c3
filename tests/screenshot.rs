//! The real window under Xvfb: `tests/gui_screenshot.sh` starts the binary against an image in
//! the real local registry, screenshots the screen and fails on a blank or half-empty window.

mod common;

#[test]
fn the_real_window_shows_an_image_under_xvfb() {
    let registry = common::TestRegistry::start();
    let sample = common::push_sample_image(&registry, "screenshot/app", "v1");
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("gui-screenshot.png");
    let _ = std::fs::remove_file(&screenshot);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gui_screenshot.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .arg(common::layerslayer_binary())
        .arg(&sample.reference)
        .arg(&screenshot)
        .output()
        .expect("run tests/gui_screenshot.sh");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("layerslayer - "),
        "the window title names the image: {log}"
    );
    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG file");
    eprintln!("screenshot kept at {}", screenshot.display());
}
