//! The "Engine images" window against Podman's API service started by the test. Its own
//! test binary: the engine is named by `CONTAINER_HOST`, set before any thread starts.

#[path = "common/mod.rs"]
mod common;

use egui_kittest::kittest::Queryable as _;
use egui_kittest::{Harness, Node};
use layerslayer::gui::{FixedSavePath, LayerslayerApp};

use common::podman::{Podman, build_image};

fn step_until(
    harness: &mut Harness<'_, LayerslayerApp>,
    what: &str,
    done: impl Fn(&Harness<'_, LayerslayerApp>) -> bool,
) {
    for _ in 0..20_000 {
        if done(harness) {
            return;
        }
        harness.step();
        std::thread::yield_now();
    }
    panic!("gave up waiting for {what}");
}

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
    step_until(&mut harness, "the engine's list", |h| {
        !h.state().is_listing_engine_images()
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
    step_until(&mut harness, "the image to open", |h| {
        !h.state().is_busy() && h.state().layer_count() == 4
    });
    assert!(
        harness.query_all_by_label("Filter").next().is_none(),
        "the window closes when an image opens"
    );
}
