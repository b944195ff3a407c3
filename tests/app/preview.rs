//! The preview pane and the keyboard, through the desktop app driven headless with
//! egui_kittest on a local OCI layout the test writes: a text file shows its lines, a binary
//! file hex rows, a PNG the image, a symlink where it points (one click follows it); ↑ ↓ move
//! the selection and the preview follows, → ← open and close, Ctrl+F focuses the filter, and
//! holding ↓ through many rows starts hardly any fetch; a file selected in the Compare tab's
//! tree previews image B's version.

use crate::common;
use crate::frames;
use crate::frames::click;

use common::layouts::write_single_image_layout;
use common::{Compression, TarItem, TestLayer};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use frames::step_until;
use layerslayer::gui::{CentralTab, LayerslayerApp};

/// Files in the `many` directory, for holding ↓.
const MANY: usize = 120;
const SCRIPT: &str = "#!/bin/sh\necho hello preview\nexit 0\n";

/// A 7×5 PNG.
fn png() -> Vec<u8> {
    let pixels = image::RgbaImage::from_fn(7, 5, |x, y| {
        image::Rgba([x as u8 * 30, y as u8 * 50, 90, 255])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    pixels
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("encode png");
    bytes.into_inner()
}

/// Writes the layout and opens and peeks it in a fresh app.
fn peeked_app(dir: &std::path::Path) -> Harness<'static, LayerslayerApp> {
    let mut items = vec![
        TarItem::Dir("a"),
        TarItem::File("a/hello.sh".into(), SCRIPT.as_bytes().to_vec(), 0o755),
        TarItem::File(
            "a/blob.bin".into(),
            (0u8..=255).cycle().take(1000).collect(),
            0o644,
        ),
        TarItem::File("a/pic.png".into(), png(), 0o644),
        TarItem::Symlink("a/link".into(), "hello.sh".into()),
        TarItem::Dir("many"),
    ];
    items.extend((0..MANY).map(|n| {
        TarItem::File(
            format!("many/f{n:04}.txt"),
            format!("file {n}\n").into_bytes(),
            0o644,
        )
    }));
    let layout = dir.join("layout");
    write_single_image_layout(
        &layout,
        &[TestLayer::new(&items, Compression::Gzip, "files")],
    );
    let mut harness = frames::app_with_image(&layout.display().to_string(), dir.join("unused"), 1);
    frames::peek(&mut harness);
    harness
}

/// Waits until the preview of `path` is in.
fn previewed(harness: &mut Harness<'_, LayerslayerApp>, path: &str) {
    let path = path.to_owned();
    step_until(harness, "the preview", move |app| {
        app.preview_path() == Some(path.as_str()) && !app.is_previewing()
    });
}

fn press(harness: &mut Harness<'_, LayerslayerApp>, key: egui::Key) {
    harness.key_press(key);
    harness.step();
    harness.step();
}

#[test]
fn text_binary_image_and_link_previews() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut harness = peeked_app(dir.path());
    click(&mut harness, "Expand a");

    click(&mut harness, "hello.sh");
    previewed(&mut harness, "a/hello.sh");
    // Where the pane starts: it must not move whatever the file shown.
    let pane_left = harness.get_by_label("Preview").rect().left();
    assert_eq!(harness.state().preview_kind(), Some("text"));
    assert!(
        harness.query_by_label("echo hello preview").is_some(),
        "the line shows"
    );
    assert!(
        harness
            .query_by_label("Layer 0's version · 36 bytes")
            .is_some()
    );
    let fetched = harness
        .query_by_label_contains("blob bytes fetched")
        .and_then(|node| node.accesskit_node().value())
        .expect("the fetched bytes are shown");
    let count: u64 = fetched
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number of bytes");
    assert!(count > 0, "{fetched}");
    assert!(
        fetched.contains("layer streamed up to the file"),
        "{fetched}"
    );

    click(&mut harness, "blob.bin");
    previewed(&mut harness, "a/blob.bin");
    assert_eq!(harness.state().preview_kind(), Some("hex"));
    assert!(
        harness
            .query_by_label_contains("00000000  00 01 02 03 04 05 06 07  08 09")
            .is_some(),
        "the first hex row shows"
    );

    click(&mut harness, "pic.png");
    previewed(&mut harness, "a/pic.png");
    assert_eq!(harness.state().preview_kind(), Some("image"));
    step_until(&mut harness, "the image to decode", |app| {
        app.preview_image_size().is_some()
    });
    assert_eq!(harness.state().preview_image_size(), Some([7.0, 5.0]));

    click(&mut harness, "link");
    previewed(&mut harness, "a/link");
    assert!(
        harness
            .query_by_label("Symbolic link to hello.sh")
            .is_some()
    );
    assert_eq!(
        harness.get_by_label("Preview").rect().left(),
        pane_left,
        "the pane keeps its width from a text file to an image to a link"
    );
    // A real pointer click (press and release at the button's centre), in the frame right
    // after the link's preview came in: the pane keeps its width, so the button is where the
    // last frame drew it.
    harness.get_by_label("Follow link to a/hello.sh").click();
    harness.step();
    harness.step();
    assert_eq!(harness.state().selected_tree_path(), Some("a/hello.sh"));
    previewed(&mut harness, "a/hello.sh");
    assert_eq!(harness.state().preview_kind(), Some("text"));
}

#[test]
fn the_keyboard_drives_the_tree_and_the_preview_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut harness = peeked_app(dir.path());
    assert_eq!(harness.state_mut().visible_tree_paths(), ["a", "many"]);

    press(&mut harness, egui::Key::ArrowDown);
    assert_eq!(harness.state().selected_tree_path(), Some("a"));
    press(&mut harness, egui::Key::ArrowRight);
    assert_eq!(
        harness.state_mut().visible_tree_paths(),
        [
            "a",
            "a/blob.bin",
            "a/hello.sh",
            "a/link",
            "a/pic.png",
            "many"
        ]
    );
    press(&mut harness, egui::Key::ArrowDown);
    press(&mut harness, egui::Key::ArrowDown);
    assert_eq!(harness.state().selected_tree_path(), Some("a/hello.sh"));
    previewed(&mut harness, "a/hello.sh");
    assert!(harness.query_by_label("echo hello preview").is_some());

    // ← on a file goes to its directory, ← again closes it.
    press(&mut harness, egui::Key::ArrowLeft);
    assert_eq!(harness.state().selected_tree_path(), Some("a"));
    press(&mut harness, egui::Key::ArrowLeft);
    assert_eq!(harness.state_mut().visible_tree_paths(), ["a", "many"]);
    // End, Home.
    press(&mut harness, egui::Key::End);
    assert_eq!(harness.state().selected_tree_path(), Some("many"));
    press(&mut harness, egui::Key::Home);
    assert_eq!(harness.state().selected_tree_path(), Some("a"));

    // Ctrl+F focuses the filter (keys type there), Esc leaves it.
    let filter_focused = |harness: &Harness<'_, LayerslayerApp>| {
        harness
            .get_by_role_and_label(Role::TextInput, "Filter paths")
            .accesskit_node()
            .is_focused()
    };
    assert!(!filter_focused(&harness));
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    harness.step();
    harness.step();
    assert!(filter_focused(&harness), "Ctrl+F focuses the filter");
    press(&mut harness, egui::Key::ArrowDown);
    assert_eq!(
        harness.state().selected_tree_path(),
        Some("a"),
        "keys in the filter do not move the selection"
    );
    press(&mut harness, egui::Key::Escape);
    assert!(!filter_focused(&harness), "Esc leaves the filter");

    // Holding ↓ through the many files: the preview waits for the selection to rest.
    press(&mut harness, egui::Key::End);
    press(&mut harness, egui::Key::ArrowRight);
    previewed(&mut harness, "many");
    let before = harness.state().preview_jobs_started();
    for _ in 0..MANY {
        harness.event(egui::Event::Key {
            key: egui::Key::ArrowDown,
            physical_key: None,
            pressed: true,
            repeat: true,
            modifiers: egui::Modifiers::NONE,
        });
        harness.step();
    }
    let last = format!("many/f{:04}.txt", MANY - 1);
    assert_eq!(harness.state().selected_tree_path(), Some(last.as_str()));
    previewed(&mut harness, &last);
    let started = harness.state().preview_jobs_started() - before;
    assert!(
        (1..=2).contains(&started),
        "{started} preview fetches started while holding ↓ through {MANY} rows"
    );
    assert_eq!(harness.state().preview_kind(), Some("text"));
    assert!(
        harness
            .query_by_label(&format!("file {}", MANY - 1))
            .is_some()
    );

    // Enter on a file gives the keys to the preview; Esc gives them back.
    press(&mut harness, egui::Key::Enter);
    assert!(harness.state().preview_has_keys());
    press(&mut harness, egui::Key::ArrowUp);
    assert_eq!(harness.state().selected_tree_path(), Some(last.as_str()));
    press(&mut harness, egui::Key::Escape);
    assert!(!harness.state().preview_has_keys());
    press(&mut harness, egui::Key::ArrowUp);
    let before_last = format!("many/f{:04}.txt", MANY - 2);
    assert_eq!(
        harness.state().selected_tree_path(),
        Some(before_last.as_str())
    );
}

/// Writes a one-layer layout at `dir` holding `a/notes.txt` with `text`.
fn notes_layout(dir: &std::path::Path, text: &str) -> String {
    let items = [
        TarItem::Dir("a"),
        TarItem::File("a/notes.txt".into(), text.as_bytes().to_vec(), 0o644),
    ];
    write_single_image_layout(dir, &[TestLayer::new(&items, Compression::Gzip, "notes")]);
    dir.display().to_string()
}

#[test]
fn compare_tree_selection_previews_image_b_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image_a = notes_layout(&dir.path().join("a"), "old line of A\n");
    let image_b = notes_layout(&dir.path().join("b"), "new line of B\nsecond\n");
    let mut harness = frames::app_with_image(&image_a, dir.path().join("unused"), 1);
    harness.get_by_role_and_label(Role::Tab, "Compare").click();
    harness.step();
    harness.run();
    frames::replace_text(&mut harness, "Compare with", &image_b);
    harness
        .get_by_role_and_label(Role::Button, "Compare")
        .click();
    harness.step();
    step_until(&mut harness, "the comparison", |app| {
        !app.is_busy() && app.compare_summary().is_some()
    });
    assert_eq!(harness.state().compare_error(), None);
    assert_eq!(harness.state().preview_path(), None);

    click(&mut harness, "notes.txt");
    previewed(&mut harness, "a/notes.txt");
    assert_eq!(harness.state().preview_kind(), Some("text"));
    assert!(
        harness.query_by_label("new line of B").is_some(),
        "B's line shows"
    );
    assert!(harness.query_by_label("old line of A").is_none());
    assert!(
        harness
            .query_by_label_contains("Image B's version, from layer 0")
            .is_some()
    );
    assert_eq!(
        harness.state().current_tab(),
        CentralTab::Compare,
        "a click selects; it does not leave the comparison"
    );

    // The row's context menu shows the path in image A's files (once A is peeked).
    frames::peek(&mut harness);
    harness.get_by_label("notes.txt").click_secondary();
    harness.step();
    harness.step();
    click(&mut harness, "Show in image A's files");
    harness.run();
    assert_eq!(harness.state().current_tab(), CentralTab::Files);
    assert_eq!(harness.state().selected_tree_path(), Some("a/notes.txt"));
}
