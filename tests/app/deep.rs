//! A path 300,000 directories deep, through the desktop app (driven headless with
//! egui_kittest): peeking it, opening every directory, the merged view, and comparing it with
//! an image without it. The path trees are built and walked without recursion on depth.

use crate::common;
use crate::frames;
use crate::frames::click;

use common::deep::{DEEP_LEVELS, deep_path, write_deep_layout};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use frames::step_until;
use layerslayer::gui::{CentralTab, FixedSavePath, LayerslayerApp, TreeChoice};
use layerslayer::model::{Change, LayerStatus};

#[test]
fn a_path_300_000_levels_deep_is_peeked_browsed_merged_and_compared_in_the_app() {
    let work = tempfile::tempdir().expect("tempdir");
    let deep = write_deep_layout(&work.path().join("deep"), true);
    let shallow = write_deep_layout(&work.path().join("shallow"), false);
    let picker = FixedSavePath(work.path().join("unused.csv"));
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| LayerslayerApp::new_for_tests(None, Box::new(picker)));
    harness.step();
    frames::replace_text(&mut harness, "Image reference", &deep);
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(&mut harness, "the image to open", |app| {
        !app.is_busy() && app.image().is_some()
    });
    assert_eq!(harness.state().last_error(), None);

    click(&mut harness, "Peek");
    step_until(&mut harness, "the peek and its tree", |app| {
        app.peek_finished() && !app.is_busy()
    });
    let listings = harness.state().peeked_listings();
    assert_eq!(
        listings[0].result.status,
        LayerStatus::Complete {
            digest_verified: true
        }
    );
    assert_eq!(*listings[0].entries[1].path, *deep_path());
    assert_eq!(harness.state_mut().visible_tree_paths(), ["d", "top.txt"]);

    // Every directory open: one row per level, the deepest with the whole path. (Rows are
    // asked one at a time: all their paths together would be 90 GB.)
    click(&mut harness, "Expand all");
    let app = harness.state_mut();
    assert_eq!(app.visible_tree_row_count(), DEEP_LEVELS + 2);
    assert_eq!(app.visible_tree_path(DEEP_LEVELS), Some(deep_path()));
    assert_eq!(app.visible_tree_path(2).as_deref(), Some("d/d/d"));
    // A filter keeps the path and its parents.
    let filter = harness.get_by_role_and_label(Role::TextInput, "Filter paths");
    filter.focus();
    harness.step();
    harness
        .get_by_role_and_label(Role::TextInput, "Filter paths")
        .type_text("bottom");
    harness.step();
    assert_eq!(
        harness.state_mut().visible_tree_row_count(),
        DEEP_LEVELS + 1
    );

    // The merged view.
    click(&mut harness, "Tree");
    click(&mut harness, "Merged: final filesystem");
    assert_eq!(harness.state().tree_choice(), TreeChoice::Merged);
    step_until(&mut harness, "the merged tree", |app| !app.is_busy());
    assert_eq!(
        harness.state_mut().visible_tree_row_count(),
        DEEP_LEVELS + 1
    );
    assert_eq!(
        harness.state_mut().visible_tree_path(DEEP_LEVELS),
        Some(deep_path())
    );

    // Compare with the same image without the deep path: it is removed, with its parents.
    harness
        .get_by_role_and_label(Role::Tab, CentralTab::Compare.title())
        .click();
    harness.step();
    harness.step();
    frames::replace_text(&mut harness, "Compare with", &shallow);
    harness
        .get_by_role_and_label(Role::Button, "Compare")
        .click();
    harness.step();
    step_until(&mut harness, "the comparison", |app| !app.is_busy());
    assert_eq!(harness.state().compare_error(), None);
    let summary = harness.state().compare_summary().expect("compared");
    assert_eq!(
        (summary.added, summary.removed, summary.modified),
        (0, 1, 0)
    );
    let app = harness.state_mut();
    assert_eq!(app.visible_compare_row_count(), DEEP_LEVELS + 1);
    assert_eq!(
        app.visible_compare_row(DEEP_LEVELS),
        Some((deep_path(), Some(Change::Removed)))
    );
    assert_eq!(app.visible_compare_row(0), Some(("d".to_owned(), None)));
    harness.step();
}
