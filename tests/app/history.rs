//! The History pane, through the desktop app driven headless with egui_kittest on a local
//! OCI layout the test writes: a text file changed in layers 0, 1 and 2 shows three versions;
//! a version's layer button previews that version; two ticked versions show their unified
//! and side-by-side diff; a binary file's versions are told apart by size.

use crate::common;
use crate::frames;
use crate::frames::click;

use common::layouts::write_single_image_layout;
use common::{Compression, TarItem, TestLayer};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use frames::step_until;
use layerslayer::gui::{LayerslayerApp, TreeChoice};
use layerslayer::model::Change;

const CONF_0: &str = "name = demo\nport = 80\nmode = slow\n";
const CONF_1: &str = "name = demo\nport = 8080\nmode = slow\n";
const CONF_2: &str = "name = demo\nport = 8080\nmode = fast\nextra = yes\n";

fn file(path: &str, bytes: impl Into<Vec<u8>>) -> TarItem {
    TarItem::File(path.into(), bytes.into(), 0o644)
}

/// A binary file of `len` bytes (NULs in it).
fn binary(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|n| (n as u8).wrapping_mul(seed)).collect()
}

/// Writes the layout, opens it in a fresh app and peeks every layer.
fn peeked_app(dir: &std::path::Path) -> Harness<'static, LayerslayerApp> {
    let layers = [
        TestLayer::new(
            &[TarItem::Dir("etc"), file("etc/app.conf", CONF_0)],
            Compression::Gzip,
            "COPY app.conf /etc/",
        ),
        TestLayer::new(
            &[
                TarItem::Dir("etc"),
                file("etc/app.conf", CONF_1),
                TarItem::Dir("bin"),
                file("bin/tool", binary(300, 3)),
            ],
            Compression::Gzip,
            "RUN configure --port 8080",
        ),
        TestLayer::new(
            &[
                TarItem::Dir("etc"),
                file("etc/app.conf", CONF_2),
                TarItem::Dir("bin"),
                file("bin/tool", binary(450, 7)),
            ],
            Compression::Gzip,
            "RUN configure --fast",
        ),
    ];
    let layout = dir.join("layout");
    write_single_image_layout(&layout, &layers);
    let mut harness = frames::app_with_image(&layout.display().to_string(), dir.join("unused"), 3);
    frames::peek(&mut harness);
    harness
}

/// Right-clicks the tree row `name` and picks "History".
fn open_history(harness: &mut Harness<'_, LayerslayerApp>, name: &str) {
    harness.get_by_label(name).click_secondary();
    harness.step();
    harness.step();
    click(harness, "History");
    // A new pane's grid sizes its columns over its first frames.
    harness.run_steps(2);
}

/// Waits for the comparison of two versions.
fn compared(harness: &mut Harness<'_, LayerslayerApp>) {
    step_until(harness, "the comparison", |app| {
        app.has_version_diff() && !app.is_comparing_versions()
    });
}

#[test]
fn versions_preview_and_diffs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut harness = peeked_app(dir.path());
    assert_eq!(harness.state().tree_choice(), TreeChoice::Layer(0));
    click(&mut harness, "Expand etc");
    open_history(&mut harness, "app.conf");
    assert_eq!(harness.state().history_path(), Some("etc/app.conf"));
    assert_eq!(
        harness.state().history_versions(),
        [
            (0, Change::Added),
            (1, Change::Modified),
            (2, Change::Modified)
        ]
    );
    assert!(harness.query_by_label("Show layer 2's version").is_some());
    assert!(
        harness
            .query_by_label_contains("3 versions across the 3 peeked layers")
            .is_some()
    );

    // Version 2 (layer 1): its layer's tree, the path selected, its text in the preview.
    click(&mut harness, "Show layer 1's version");
    step_until(&mut harness, "layer 1's version in the preview", |app| {
        app.tree_choice() == TreeChoice::Layer(1)
            && app.preview_path() == Some("etc/app.conf")
            && app.preview_kind() == Some("text")
            && !app.is_previewing()
    });
    assert!(
        harness
            .query_by_label("Layer 1's version · 36 bytes")
            .is_some()
    );
    assert!(harness.query_by_label("port = 8080").is_some());
    assert!(harness.query_by_label("mode = slow").is_some());

    // Versions 1 and 2 ticked: the unified diff names the exact lines removed and added.
    harness.get_by_label("Compare layer 0").click();
    harness.step();
    assert!(!harness.state().has_version_diff(), "one version ticked");
    harness.get_by_label("Compare layer 1").click();
    harness.step();
    compared(&mut harness);
    assert!(harness.query_by_label("From layer 0 to layer 1").is_some());
    assert!(harness.query_by_label("@@ -1,3 +1,3 @@").is_some());
    assert!(harness.query_by_label("-port = 80").is_some());
    assert!(harness.query_by_label("+port = 8080").is_some());
    assert!(harness.query_by_label(" mode = slow").is_some());
    assert!(harness.query_by_label("-mode = slow").is_none());
    assert!(harness.query_by_label("+mode = fast").is_none());

    // Side by side: the old line beside the new one, numbered.
    click(&mut harness, "Side by side");
    assert!(harness.query_by_label("   2 -port = 80").is_some());
    assert!(harness.query_by_label("   2 +port = 8080").is_some());
    assert!(harness.query_by_label("-port = 80").is_none());
    click(&mut harness, "Unified");

    // "vs previous" on version 3: layer 1 → layer 2.
    click(&mut harness, "Compare layer 2 with the version before");
    compared(&mut harness);
    assert!(harness.query_by_label("From layer 1 to layer 2").is_some());
    assert!(harness.query_by_label("-mode = slow").is_some());
    assert!(harness.query_by_label("+mode = fast").is_some());
    assert!(harness.query_by_label("+extra = yes").is_some());

    // The binary file (added in layer 1, changed in layer 2): told apart by size.
    click(&mut harness, "Expand bin");
    open_history(&mut harness, "tool");
    assert_eq!(harness.state().history_path(), Some("bin/tool"));
    assert_eq!(
        harness.state().history_versions(),
        [(1, Change::Added), (2, Change::Modified)]
    );
    click(&mut harness, "Compare layer 2 with the version before");
    compared(&mut harness);
    assert!(
        harness
            .query_by_label("binary versions differ (300 B → 450 B)")
            .is_some()
    );

    click(&mut harness, "Close history");
    assert_eq!(harness.state().history_path(), None);
}
