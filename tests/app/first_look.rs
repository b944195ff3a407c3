//! The first look at an image: its layers peeked as soon as it opens when they are cheap (a
//! local image, or a registry image under the size limit), a larger one waiting for Peek.

use crate::common;
use crate::frames;
use crate::frames::step_until;

use common::{TestRegistry, push_sample_image};
use egui_kittest::Harness;
use layerslayer::gui::{FixedSavePath, LayerslayerApp, TreeChoice};

fn harness_with(app: LayerslayerApp) -> Harness<'static, LayerslayerApp> {
    Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| app)
}

fn unused() -> Box<FixedSavePath> {
    Box::new(FixedSavePath(std::env::temp_dir().join("unused.csv")))
}

/// Types `reference` into the reference field, presses Enter and waits until all work ends.
fn open(harness: &mut Harness<'_, LayerslayerApp>, reference: &str) {
    frames::replace_text(harness, "Image reference", reference);
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(harness, "the image and any automatic peek", |app| {
        !app.is_busy() && (app.image().is_some() || app.last_error().is_some())
    });
    assert_eq!(harness.state().last_error(), None);
}

#[test]
fn the_demo_files_are_listed_on_a_first_launch_without_pressing_peek() {
    // A first launch, with the default settings: the demo opens by itself.
    let mut harness = harness_with(LayerslayerApp::with_recent(Vec::new(), unused()));
    step_until(&mut harness, "the demo and its automatic peek", |app| {
        !app.is_busy() && app.peek_finished()
    });
    let app = harness.state_mut();
    assert!(app.was_peeked_automatically());
    let listings = app.peeked_listings();
    assert_eq!(listings.len(), 3, "every layer is peeked");
    assert!(listings.iter().all(|l| l.result.status.is_complete()));
    assert_eq!(app.tree_choice(), TreeChoice::Layer(0));
    assert!(
        !app.visible_tree_paths().is_empty(),
        "the Files tree is filled"
    );
    let status = app.status_message();
    assert!(
        status.starts_with("Peeked automatically: 3 layers,") && status.contains("a local image"),
        "{status}"
    );
}

#[test]
fn a_registry_image_is_peeked_at_once_only_under_the_size_limit() {
    let registry = TestRegistry::start();
    let sample = push_sample_image(&registry, "first/look", "v1");

    // Over the limit (0 MiB): it waits for Peek, and says so.
    let mut harness =
        harness_with(LayerslayerApp::new_for_tests(None, unused()).with_auto_peek(Some(0)));
    harness.step();
    open(&mut harness, &sample.reference);
    assert_eq!(harness.state().layer_count(), 3);
    assert!(!harness.state().is_peeking());
    assert!(
        harness.state().peeked_listings().is_empty(),
        "nothing peeked"
    );
    assert!(!harness.state().was_peeked_automatically());
    let status = harness.state().status_message();
    assert!(
        status.starts_with("Large image (") && status.contains("press Peek"),
        "{status}"
    );

    // Under the default limit: peeked at once.
    let mut harness =
        harness_with(LayerslayerApp::new_for_tests(None, unused()).with_auto_peek(Some(64)));
    harness.step();
    open(&mut harness, &sample.reference);
    assert!(harness.state().peek_finished());
    assert!(harness.state().was_peeked_automatically());
    let peeked: Vec<Vec<String>> = harness
        .state()
        .peeked_listings()
        .iter()
        .map(|listing| listing.entries.iter().map(|e| e.path.to_string()).collect())
        .collect();
    assert_eq!(peeked, sample.layer_paths);
    let status = harness.state().status_message();
    assert!(
        status.starts_with("Peeked automatically: 3 layers,") && status.contains("in all"),
        "{status}"
    );
}
