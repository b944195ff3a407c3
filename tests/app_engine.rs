//! The "Engine images" window against Podman's API service started by the test. Its own
//! test binary: the engine is named by `CONTAINER_HOST`, set before any thread starts.

#[path = "common/mod.rs"]
mod common;
// Shared with the app tests; this binary uses a part of it.
#[allow(dead_code)]
#[path = "gui_support/frames.rs"]
mod frames;

use egui_kittest::kittest::Queryable as _;
use egui_kittest::{Harness, Node};
use layerslayer::gui::{FixedSavePath, LayerslayerApp};

use common::podman::{Podman, build_image};
use frames::{replace_text, step_until};

// A window's first frames may lay it out twice: any match counts.

/// The first node labelled `label`.
fn first_labelled<'h>(
    harness: &'h Harness<'_, LayerslayerApp>,
    label: &'h str,
) -> Option<Node<'h>> {
    harness.query_all_by_label(label).next()
}

/// Whether a node's value is `value`.
fn shows_value(harness: &Harness<'_, LayerslayerApp>, value: &str) -> bool {
    harness.query_all_by_value(value).next().is_some()
}

#[test]
fn engine_images_are_listed_filtered_and_opened() {
    let podman = Podman::new();
    build_image(&podman);
    podman.run(&["tag", "localhost/layers:1", "localhost/other:2"]);
    let service = podman.serve();
    // SAFETY: the only test of this binary; no other thread runs yet.
    unsafe {
        std::env::remove_var("DOCKER_HOST");
        std::env::set_var("CONTAINER_HOST", service.host());
    }
    let unused = podman.dir.path().join("unused");
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| {
            LayerslayerApp::new_for_tests(None, Box::new(FixedSavePath(unused)))
        });
    harness.step();
    harness.get_by_label("Tools").click();
    harness.step();
    harness.step();
    harness.get_by_label("Engine images…").click();
    harness.step();
    step_until(&mut harness, "the engine's list", |app| {
        !app.is_listing_engine_images()
    });
    harness.run_steps(2);
    assert!(shows_value(
        &harness,
        "2 of 2 images in Podman; click one to open it"
    ));
    assert!(first_labelled(&harness, "localhost/other").is_some());
    first_labelled(&harness, "Filter").expect("filter").focus();
    harness.step();
    first_labelled(&harness, "Filter")
        .expect("filter")
        .type_text("layers");
    harness.run_steps(2);
    assert!(shows_value(
        &harness,
        "1 of 2 images in Podman; click one to open it"
    ));
    assert!(first_labelled(&harness, "localhost/other").is_none());
    first_labelled(&harness, "localhost/layers")
        .expect("row")
        .click();
    harness.step();
    step_until(&mut harness, "the image to open", |app| {
        !app.is_busy() && app.layer_count() == 4
    });
    assert!(
        harness.query_all_by_label("Filter").next().is_none(),
        "the window closes when an image opens"
    );

    // A bare name typed in (no registry written) is looked for in the engine first: with no
    // network here, only the engine can answer for `other:2`.
    for (typed, layers) in [("demo", 3), ("other:2", 4)] {
        replace_text(&mut harness, "Image reference", typed);
        harness.key_press(egui::Key::Enter);
        harness.step();
        step_until(&mut harness, typed, |app| {
            !app.is_busy() && (app.layer_count() == layers || app.last_error().is_some())
        });
        assert_eq!(harness.state().last_error(), None, "{typed}");
        assert_eq!(harness.state().layer_count(), layers, "{typed}");
    }
}
