//! The desktop app driven headlessly with egui_kittest against a real local registry: typing a
//! reference, picking layers, peeking, browsing and filtering the tree, exporting, cancelling.

use crate::common;
use crate::frames;
use crate::frames::click;

use std::path::Path;
use std::time::{Duration, Instant};

use common::fault::synthetic_big_layer;
use common::{FakeRegistry, SlowBlobServer, TestRegistry, push_sample_image};
use egui::accesskit::{Role, Toggled};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use frames::{WORK_DEADLINE, step_until};
use layerslayer::gui::{FixedSavePath, LayerslayerApp, TreeChoice};
use layerslayer::model::{LayerStatus, ListedFrom};

fn app_harness(save_to: &Path) -> Harness<'static, LayerslayerApp> {
    let picker = FixedSavePath(save_to.to_owned());
    Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| LayerslayerApp::new_for_tests(None, Box::new(picker)))
}

/// Types `reference` into the reference field and presses Enter.
fn enter_reference(harness: &mut Harness<'_, LayerslayerApp>, reference: &str) {
    harness
        .get_by_role_and_label(Role::TextInput, "Image reference")
        .focus();
    harness.step();
    harness
        .get_by_role_and_label(Role::TextInput, "Image reference")
        .type_text(reference);
    harness.step();
    harness.key_press(egui::Key::Enter);
    harness.step();
}

fn fetch(harness: &mut Harness<'_, LayerslayerApp>, reference: &str) {
    enter_reference(harness, reference);
    step_until(harness, "the image to resolve", |app| !app.is_busy());
    assert_eq!(harness.state().last_error(), None);
}

/// Clicks the widget named `label`. Like egui after any input, runs one more frame so the
/// window shows what the click changed.
fn peeked_and_idle(app: &LayerslayerApp) -> bool {
    app.peek_finished() && !app.is_busy()
}

fn set_filter(harness: &mut Harness<'_, LayerslayerApp>, text: &str) {
    frames::replace_text(harness, "Filter paths", text);
}

/// The `path` column of an exported CSV, checking every row belongs to `layer`.
fn exported_paths(csv_path: &Path, layer: usize) -> Vec<String> {
    let mut reader = csv::Reader::from_path(csv_path).expect("exported CSV is readable");
    let headers = reader.headers().expect("CSV header").clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name} in {headers:?}"))
    };
    let (path_column, layer_column) = (column("path"), column("layer_index"));
    reader
        .records()
        .map(|record| {
            let record = record.expect("CSV record");
            assert_eq!(&record[layer_column], layer.to_string(), "{record:?}");
            record[path_column].to_owned()
        })
        .collect()
}

#[test]
fn fetch_peek_browse_filter_and_export_one_layer() {
    let registry = TestRegistry::start();
    let sample = push_sample_image(&registry, "gui/sample", "v1");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let csv_path = out_dir.path().join("layers.csv");
    let mut harness = app_harness(&csv_path);
    harness.step();

    fetch(&mut harness, &sample.reference);
    assert_eq!(harness.state().layer_count(), 3);
    assert!(harness.query_by_label("Layer 0").is_some());

    // Tick layer 1 only and peek it.
    click(&mut harness, "Layer 1");
    assert_eq!(
        harness.get_by_label("Layer 1").accesskit_node().toggled(),
        Some(Toggled::True)
    );
    click(&mut harness, "Peek");
    assert!(harness.state().is_peeking() || harness.state().peek_finished());
    step_until(&mut harness, "the peek and its tree", peeked_and_idle);
    harness.step();
    let listings = harness.state().peeked_listings();
    assert_eq!(listings.len(), 1, "only the ticked layer is peeked");
    assert_eq!(listings[0].layer.index, 1);
    assert_eq!(
        listings[0].result.status,
        LayerStatus::Complete {
            digest_verified: true
        }
    );
    let streamed: Vec<String> = listings[0]
        .entries
        .iter()
        .map(|e| e.path.to_string())
        .collect();
    assert_eq!(streamed, sample.layer_paths[1]);
    assert_eq!(harness.state().tree_choice(), TreeChoice::Layer(0));

    // The tree starts collapsed; open usr, then usr/bin, with their toggles.
    assert_eq!(harness.state_mut().visible_tree_paths(), ["usr"]);
    click(&mut harness, "Expand usr");
    assert_eq!(harness.state_mut().visible_tree_paths(), ["usr", "usr/bin"]);
    click(&mut harness, "Expand usr/bin");
    assert_eq!(
        harness.state_mut().visible_tree_paths(),
        ["usr", "usr/bin", "usr/bin/alias", "usr/bin/tool"]
    );
    assert!(
        harness.query_by_label("-> tool").is_some(),
        "the symlink target is shown"
    );

    // Filter, then export through the seam: only matching entries of layer 1 are written.
    set_filter(&mut harness, "alias");
    assert_eq!(
        harness.state_mut().visible_tree_paths(),
        ["usr", "usr/bin", "usr/bin/alias"]
    );
    click(&mut harness, "Export CSV…");
    assert_eq!(harness.state().last_error(), None);
    let expected: Vec<String> = sample.layer_paths[1]
        .iter()
        .filter(|p| p.contains("alias"))
        .cloned()
        .collect();
    assert_eq!(expected, ["usr/bin/alias"]);
    assert_eq!(exported_paths(&csv_path, 1), expected);
    let status = harness.state().status_message().to_owned();
    assert!(
        status.starts_with("Exported 1 rows to ") && status.contains("layers.csv"),
        "{status}"
    );
    assert!(harness.query_by_label_contains("Exported 1 rows").is_some());

    // Without a filter, Ctrl+S exports the whole layer.
    set_filter(&mut harness, "");
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    harness.step();
    assert_eq!(harness.state().last_error(), None);
    assert_eq!(exported_paths(&csv_path, 1), sample.layer_paths[1]);

    // Idle again: no repaint loop, and every input widget has an accessible name.
    harness.run();
}

#[test]
fn merged_view_applies_whiteouts() {
    let registry = TestRegistry::start();
    let sample = push_sample_image(&registry, "gui/merged", "v1");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = app_harness(&out_dir.path().join("merged.csv"));
    harness.step();
    fetch(&mut harness, &sample.reference);

    // Nothing ticked: all layers are peeked.
    click(&mut harness, "Peek");
    step_until(&mut harness, "the peek and its tree", peeked_and_idle);
    assert_eq!(harness.state().peeked_listings().len(), 3);

    click(&mut harness, "Tree");
    click(&mut harness, "Merged: final filesystem");
    assert_eq!(harness.state().tree_choice(), TreeChoice::Merged);
    step_until(&mut harness, "the merged tree", |app| !app.is_busy());
    click(&mut harness, "Expand all");
    assert_eq!(
        harness.state_mut().visible_tree_paths(),
        ["etc", "usr", "usr/bin", "usr/bin/alias", "usr/bin/tool"],
        "layer 2 deletes etc/hello.txt"
    );
    click(&mut harness, "Export CSV…");
    assert_eq!(harness.state().last_error(), None);
    let mut reader = csv::Reader::from_path(out_dir.path().join("merged.csv")).expect("merged CSV");
    let paths: Vec<String> = reader
        .records()
        .map(|r| r.expect("record")[2].to_owned())
        .collect();
    assert_eq!(
        paths,
        ["etc", "usr", "usr/bin", "usr/bin/alias", "usr/bin/tool"]
    );
}

#[test]
fn bad_reference_shows_a_readable_error() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = app_harness(&out_dir.path().join("unused.csv"));
    harness.step();
    enter_reference(&mut harness, "Not A Valid::Ref");
    step_until(&mut harness, "the fetch to fail", |app| !app.is_busy());
    harness.step();
    let error = harness
        .state()
        .last_error()
        .expect("an error is shown")
        .to_owned();
    assert!(error.contains("invalid image reference"), "{error}");
    assert!(
        harness
            .query_by_label_contains("invalid image reference")
            .is_some(),
        "the error is visible in the window"
    );
    assert_eq!(harness.state().layer_count(), 0);
    harness.run();
}

#[test]
fn unknown_image_shows_not_found() {
    let registry = TestRegistry::start();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = app_harness(&out_dir.path().join("unused.csv"));
    harness.step();
    enter_reference(&mut harness, &format!("{}/no/such:image", registry.addr()));
    step_until(&mut harness, "the fetch to fail", |app| !app.is_busy());
    harness.step();
    let error = harness.state().last_error().expect("an error").to_owned();
    assert!(error.contains("not found"), "{error}");
    assert!(harness.query_by_label_contains("not found").is_some());
}

#[test]
fn platform_picker_refetches_the_chosen_variant() {
    let registry = TestRegistry::start();
    let layers = common::images::sample_layers();
    let index = common::images::push_platforms(
        &registry,
        "gui/multi",
        "v1",
        &[
            (&layers, "linux", "amd64", None),
            (&layers[..1], "linux", "arm64", None),
        ],
    );
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = app_harness(&out_dir.path().join("unused.csv"));
    harness.step();
    fetch(&mut harness, &index.reference);
    let platform = |app: &LayerslayerApp| {
        app.image()
            .and_then(|i| i.platform.as_ref())
            .map(ToString::to_string)
    };
    assert_eq!(platform(harness.state()).as_deref(), Some("linux/amd64"));
    assert_eq!(harness.state().layer_count(), 3);

    click(&mut harness, "Platform");
    click(&mut harness, "linux/arm64");
    step_until(&mut harness, "the re-fetch", |app| !app.is_busy());
    assert_eq!(harness.state().last_error(), None);
    assert_eq!(platform(harness.state()).as_deref(), Some("linux/arm64"));
    assert_eq!(harness.state().layer_count(), 1);
}

/// Starts peeking the slow server's single layer and waits until entries stream in.
fn start_slow_peek(harness: &mut Harness<'_, LayerslayerApp>, server: &SlowBlobServer) {
    fetch(harness, &server.reference());
    assert_eq!(harness.state().layer_count(), 1);
    click(harness, "Peek");
    step_until(harness, "the first entries", |app| {
        app.peeked_entry_count(0) > 0
    });
}

#[test]
fn cancel_stops_a_slow_peek_and_the_app_stays_usable() {
    let server = SlowBlobServer::start();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = app_harness(&out_dir.path().join("partial.csv"));
    harness.step();
    start_slow_peek(&mut harness, &server);

    // Entries are browsable while the layer is still downloading.
    let deadline = Instant::now() + WORK_DEADLINE;
    while harness.state_mut().visible_tree_paths().is_empty() {
        assert!(Instant::now() < deadline, "the tree never showed entries");
        harness.step();
        std::thread::yield_now();
    }
    assert_eq!(harness.state_mut().visible_tree_paths(), ["slow"]);
    assert!(
        harness.state().is_peeking(),
        "the slow layer is still going"
    );

    let clicked = Instant::now();
    click(&mut harness, "Cancel");
    let mut frames = 1;
    while harness.state().is_peeking() {
        assert!(frames < 10, "the peek kept running after Cancel");
        harness.step();
        frames += 1;
    }
    assert!(clicked.elapsed() < Duration::from_secs(2));
    let listing = harness.state().peeked_listings().remove(0);
    assert_eq!(listing.result.status, LayerStatus::Cancelled);
    let kept = listing.entries.len();
    assert!(
        kept > 0 && kept < SlowBlobServer::FILES,
        "kept {kept} entries"
    );
    assert!(harness.query_by_label_contains("Cancelled after").is_some());

    // Nothing more arrives, and the partial listing can be exported.
    harness.run_steps(5);
    assert_eq!(harness.state().peeked_entry_count(0), kept);
    click(&mut harness, "Export CSV…");
    assert_eq!(harness.state().last_error(), None);
    assert_eq!(
        exported_paths(&out_dir.path().join("partial.csv"), 0).len(),
        kept
    );

    // The app is usable: fetching again works.
    click(&mut harness, "Fetch");
    assert!(harness.state().is_fetching());
    step_until(&mut harness, "the second fetch", |app| !app.is_busy());
    assert_eq!(harness.state().last_error(), None);
    assert_eq!(harness.state().layer_count(), 1);
    assert!(
        harness.state().peeked_listings().is_empty(),
        "a new fetch starts over"
    );
}

#[test]
fn frames_stay_fast_while_a_slow_layer_streams() {
    let server = SlowBlobServer::start();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = app_harness(&out_dir.path().join("unused.csv"));
    harness.step();
    start_slow_peek(&mut harness, &server);

    let entries = |harness: &Harness<'_, LayerslayerApp>| harness.state().peeked_entry_count(0);
    let before = entries(&harness);
    let window = Instant::now();
    let mut longest = Duration::ZERO;
    let mut frames = 0u32;
    while window.elapsed() < Duration::from_secs(3) {
        longest = longest.max(frames::step_cpu_time(&mut harness));
        frames += 1;
        std::thread::yield_now();
    }
    assert!(harness.state().is_peeking(), "the layer is still streaming");
    assert!(
        entries(&harness) > before,
        "entries kept arriving during the measurement"
    );
    eprintln!("slow layer streaming: {frames} frames in 3 s; slowest frame {longest:?} of CPU");
    assert!(
        longest < Duration::from_millis(200),
        "the slowest of {frames} frames took {longest:?} of CPU"
    );
    click(&mut harness, "Cancel");
    assert!(!harness.state().is_peeking());
}

#[test]
fn a_layer_of_120k_entries_streams_without_long_frames() {
    const FILES: usize = 120_000;
    let server = FakeRegistry::new(vec![(
        "application/vnd.oci.image.layer.v1.tar",
        synthetic_big_layer(FILES, 0),
    )])
    .serve_plain();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = app_harness(&out_dir.path().join("unused.csv"));
    harness.step();
    fetch(&mut harness, &FakeRegistry::reference(&server));
    click(&mut harness, "Peek");

    let deadline = Instant::now() + WORK_DEADLINE;
    let started = Instant::now();
    let mut longest = Duration::ZERO;
    let mut frames = 0u32;
    while !peeked_and_idle(harness.state()) {
        assert!(Instant::now() < deadline, "the peek did not finish");
        longest = longest.max(frames::step_cpu_time(&mut harness));
        frames += 1;
        std::thread::yield_now();
    }
    eprintln!(
        "{FILES} entries streamed in {:?} over {frames} frames; slowest frame {longest:?} of CPU",
        started.elapsed()
    );
    assert_eq!(harness.state().peeked_entry_count(0), FILES);
    assert!(
        longest < Duration::from_millis(200),
        "the slowest of {frames} frames took {longest:?} of CPU"
    );

    // Flattening every row at once happens on the UI thread, once.
    let expanding = Instant::now();
    click(&mut harness, "Expand all");
    let expand_time = expanding.elapsed();
    eprintln!("expand all ({} rows): {expand_time:?}", FILES + 1);
    assert_eq!(harness.state_mut().visible_tree_paths().len(), FILES + 1);
    assert!(expand_time < Duration::from_secs(2), "{expand_time:?}");
}

/// The app as a first launch builds it: nothing remembered, so it opens the built-in demo.
fn first_launch_harness(save_to: &Path) -> Harness<'static, LayerslayerApp> {
    let picker = FixedSavePath(save_to.to_owned());
    Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| LayerslayerApp::with_recent(Vec::new(), Box::new(picker)))
}

/// The platform the image on screen was resolved for, as `os/arch[/variant]`.
fn platform_of(app: &LayerslayerApp) -> Option<String> {
    app.image()
        .and_then(|image| image.platform.as_ref())
        .map(ToString::to_string)
}

#[test]
fn first_launch_opens_the_demo_image() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = first_launch_harness(&out_dir.path().join("unused.csv"));
    // No input at all: the first frame starts opening the demo (quick enough that it may
    // already be done when the harness hands the app over).
    step_until(&mut harness, "the demo image to open", |app| {
        !app.is_busy() && (app.image().is_some() || app.last_error().is_some())
    });
    harness.step();
    assert_eq!(harness.state().last_error(), None);
    let image = harness
        .state()
        .image()
        .expect("the demo image is on screen");
    assert_eq!(image.source, "demo");
    assert_eq!(image.layers.len(), 3);
    assert_eq!(image.available_platforms.len(), 2);
    assert_eq!(platform_of(harness.state()).as_deref(), Some("linux/amd64"));
    for label in ["Layer 0", "Layer 1", "Layer 2"] {
        assert!(
            harness.query_by_label(label).is_some(),
            "the layer list shows {label}"
        );
    }

    // Peek all three (nothing ticked): each listing is complete and its digest checks out.
    click(&mut harness, "Peek");
    step_until(&mut harness, "the demo peek", peeked_and_idle);
    let listings = harness.state().peeked_listings();
    assert_eq!(
        listings.iter().map(|l| l.layer.index).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    for listing in &listings {
        assert_eq!(
            listing.result.status,
            LayerStatus::Complete {
                digest_verified: true
            },
            "layer {}",
            listing.layer.index
        );
        assert!(!listing.entries.is_empty(), "layer {}", listing.layer.index);
    }
    let upgrade: Vec<&str> = listings[1].entries.iter().map(|e| &*e.path).collect();
    for marker in [
        "var/cache/apk/.wh.index-old.tar.gz",
        "opt/app/plugins/.wh..wh..opq",
    ] {
        assert!(
            upgrade.contains(&marker),
            "layer 1 has {marker}: {upgrade:?}"
        );
    }
    harness.step();
    let shown: Vec<String> = harness
        .query_all_by_label_contains("Complete: ")
        .filter_map(|node| node.accesskit_node().value())
        .collect();
    assert_eq!(shown.len(), 3, "each layer row shows its result: {shown:?}");
    assert!(
        shown.iter().all(|text| text.ends_with(", digest verified")),
        "{shown:?}"
    );
}

#[test]
fn a_remembered_reference_means_no_demo() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let picker = FixedSavePath(out_dir.path().join("unused.csv"));
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| {
            LayerslayerApp::with_recent(vec!["localhost:1/x:y".into()], Box::new(picker))
        });
    for _ in 0..5 {
        harness.step();
        assert!(!harness.state().is_fetching(), "nothing is fetched");
    }
    assert!(harness.state().image().is_none());
    assert_eq!(harness.state().last_error(), None);
    assert!(
        harness
            .query_by_label("Fetch an image to list its layers.")
            .is_some(),
        "the window shows the empty screen"
    );
}

/// Clicks the first widget named `label` (the empty screen repeats the toolbar's open buttons).
fn click_first(harness: &mut Harness<'_, LayerslayerApp>, label: &str) {
    harness
        .query_all_by_label(label)
        .next()
        .unwrap_or_else(|| panic!("no widget named {label}"))
        .click();
    harness.step();
    harness.step();
}

#[test]
fn open_demo_image_button_on_the_empty_screen() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = app_harness(&out_dir.path().join("unused.csv"));
    harness.step();
    assert!(
        harness.state().image().is_none(),
        "a blank app opens nothing"
    );
    assert_eq!(
        harness.query_all_by_label("Open demo image").count(),
        2,
        "toolbar and empty screen both offer the demo"
    );
    click_first(&mut harness, "Open demo image");
    step_until(&mut harness, "the demo image to open", |app| !app.is_busy());
    assert_eq!(harness.state().last_error(), None);
    assert_eq!(harness.state().layer_count(), 3);
    assert_eq!(platform_of(harness.state()).as_deref(), Some("linux/amd64"));
    harness.step();
    assert!(harness.query_by_label("Layer 2").is_some());
    assert_eq!(
        harness.query_all_by_label("Open demo image").count(),
        1,
        "with an image open only the toolbar button is left"
    );
}

/// A file dropped on the window, as an integration hands it to egui.
#[derive(Debug)]
struct DroppedPath(std::path::PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|error| error.to_string())
    }
}

/// Drops `path` on the window for the next frame and runs that frame.
fn drop_on_window(harness: &mut Harness<'_, LayerslayerApp>, path: &Path) {
    harness
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(DroppedPath(path.to_owned())));
    harness.step();
}

#[test]
fn a_dropped_archive_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("dropped image.tar");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.tar"),
        &archive,
    )
    .expect("copy the demo archive");
    let mut harness = app_harness(&dir.path().join("unused.csv"));
    harness.step();
    drop_on_window(&mut harness, &archive);
    assert!(
        harness.state().is_fetching(),
        "the drop starts opening the archive"
    );
    step_until(&mut harness, "the dropped archive to open", |app| {
        !app.is_busy()
    });
    assert_eq!(harness.state().last_error(), None);
    let image = harness
        .state()
        .image()
        .expect("the dropped image is on screen");
    let dropped = archive.to_str().expect("a UTF-8 temp path");
    assert!(
        image.source.contains(dropped),
        "source {:?} names {dropped:?}",
        image.source
    );
    assert_eq!(image.layers.len(), 3);
    assert_eq!(platform_of(harness.state()).as_deref(), Some("linux/amd64"));
    harness.step();
    assert!(harness.query_by_label("Layer 0").is_some());

    // A directory that is not an image: a readable error naming it, nothing opened.
    let empty = tempfile::tempdir().expect("tempdir");
    let mut harness = app_harness(&dir.path().join("unused.csv"));
    harness.step();
    drop_on_window(&mut harness, empty.path());
    step_until(&mut harness, "the dropped folder to fail", |app| {
        !app.is_busy()
    });
    harness.step();
    let error = harness
        .state()
        .last_error()
        .expect("dropping a plain folder is an error")
        .to_owned();
    let folder = empty.path().to_str().expect("a UTF-8 temp path");
    assert!(
        error.contains(folder) && error.contains("not a container image"),
        "{error}"
    );
    assert!(harness.state().image().is_none());
    assert!(
        harness
            .query_by_label_contains("not a container image")
            .is_some(),
        "the error is visible in the window"
    );
}

#[test]
fn cached_layers_show_at_once_marked_cached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = layerslayer::layer::cache::ListingCache::open(dir.path().join("cache"), 1 << 30)
        .expect("cache");
    let picker = FixedSavePath(dir.path().join("unused.csv"));
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| {
            LayerslayerApp::with_recent(Vec::new(), Box::new(picker))
                .with_listing_cache(Some(cache))
        });
    step_until(&mut harness, "the demo image to open", |app| {
        !app.is_busy() && app.image().is_some()
    });
    // The first peek is the automatic one of a first launch (the demo is local).
    for round in ["first", "second"] {
        if round == "second" {
            click(&mut harness, "Peek");
        }
        step_until(&mut harness, "the demo peek", peeked_and_idle);
        harness.step();
        let listings = harness.state().peeked_listings();
        let expected = if round == "first" {
            ListedFrom::Blob
        } else {
            ListedFrom::Cache
        };
        for listing in &listings {
            assert_eq!(listing.result.listed_from, expected, "{round} peek");
            assert!(listing.result.status.is_complete());
            assert!(!listing.entries.is_empty());
        }
        let marked = harness
            .query_all_by_label_contains("Complete: ")
            .filter_map(|node| node.accesskit_node().value())
            .filter(|text| text.ends_with(", from the cache (nothing downloaded)"))
            .count();
        assert_eq!(marked, if round == "first" { 0 } else { 3 }, "{round} peek");
    }
}

/// The demo's `path` as the core carves it: from the final filesystem (`layer: None`) or from
/// one layer's own listing.
fn demo_file(path: &str, layer: Option<&layerslayer::model::LayerListing>) -> Vec<u8> {
    use layerslayer::inspect::carve::{CarveSearch, carve, find_target};
    let cancel = layerslayer::cancel::CancelToken::new();
    let opened = layerslayer::source::open::open_image("demo", &Default::default(), &cancel)
        .expect("the demo opens");
    let fetched = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut out = Vec::new();
    match layer {
        None => {
            let search = CarveSearch {
                source: opened.source.as_ref(),
                cache: None,
                version: Default::default(),
            };
            search
                .carve_path(&opened.info.layers, path, &cancel, &fetched, &mut out)
                .expect("the core carves the final version");
        }
        Some(listing) => {
            let target = find_target(std::slice::from_ref(listing), path).expect("in the layer");
            carve(opened.source.as_ref(), &target, &cancel, &fetched, &mut out)
                .expect("the core carves the layer's version");
        }
    }
    out
}

/// Right-clicks the tree row whose name is `name` (the menu opens at the pointer).
fn open_row_menu(harness: &mut Harness<'_, LayerslayerApp>, name: &str) {
    harness.get_by_label(name).click_secondary();
    harness.step();
    harness.step();
}

/// Picks the tree view whose name starts with `prefix` in the "Tree" box.
fn pick_view(harness: &mut Harness<'_, LayerslayerApp>, prefix: &str) {
    click(harness, "Tree");
    harness
        .query_all_by_label_contains(prefix)
        .find(|node| {
            node.accesskit_node()
                .label()
                .is_some_and(|label| label.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no tree view named {prefix}…"))
        .click();
    harness.step();
    step_until(harness, "the tree to build", |app| !app.is_busy());
    harness.step();
}

#[test]
fn save_file_from_the_tree_writes_the_version_shown() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let saved = out_dir.path().join("saved-os-release");
    let mut harness = first_launch_harness(&saved);
    step_until(&mut harness, "the demo image to open", |app| {
        !app.is_busy() && app.image().is_some()
    });
    click(&mut harness, "Peek");
    step_until(&mut harness, "the demo peek", peeked_and_idle);

    // Merged view: the final filesystem's etc/os-release (layer 1 replaced layer 0's).
    pick_view(&mut harness, "Merged: final filesystem");
    assert_eq!(harness.state().tree_choice(), TreeChoice::Merged);
    set_filter(&mut harness, "etc/os-release");
    assert_eq!(
        harness.state_mut().visible_tree_paths(),
        ["etc", "etc/os-release"]
    );
    open_row_menu(&mut harness, "os-release");
    click(&mut harness, "Save file…");
    assert!(harness.state().is_saving() || harness.state().status_message().starts_with("Saved"));
    step_until(&mut harness, "the save", |app| !app.is_busy());
    harness.step();
    assert_eq!(harness.state().last_error(), None);
    let written = std::fs::read(&saved).expect("the file was saved");
    assert_eq!(written, demo_file("etc/os-release", None));
    assert!(
        String::from_utf8_lossy(&written).contains("VERSION_ID=1.1"),
        "{}",
        String::from_utf8_lossy(&written)
    );
    let status = harness.state().status_message().to_owned();
    assert!(
        status.starts_with("Saved etc/os-release (106 B) from layer 1 to ")
            && status.contains("saved-os-release")
            && status.contains("of the layer's"),
        "{status}"
    );
    assert!(
        harness
            .query_by_label_contains("Saved etc/os-release")
            .is_some()
    );
    assert!(
        harness.query_by_label("Save file…").is_none(),
        "the menu closed"
    );

    // Layer 0's own view: its older version, which the final filesystem no longer shows.
    pick_view(&mut harness, "Layer 0 (");
    assert_eq!(harness.state().tree_choice(), TreeChoice::Layer(0));
    assert_eq!(
        harness.state_mut().visible_tree_paths(),
        ["etc", "etc/os-release"],
        "the filter stays"
    );
    open_row_menu(&mut harness, "os-release");
    click(&mut harness, "Save file…");
    step_until(&mut harness, "the second save", |app| !app.is_busy());
    harness.step();
    assert_eq!(harness.state().last_error(), None);
    let written = std::fs::read(&saved).expect("the file was saved again");
    let layer0 = harness.state().peeked_listings().remove(0);
    assert_eq!(layer0.layer.index, 0);
    assert_eq!(written, demo_file("etc/os-release", Some(&layer0)));
    let text = String::from_utf8_lossy(&written);
    assert!(
        text.contains("VERSION_ID=1.0") && !text.contains("VERSION_ID=1.1"),
        "{text}"
    );
    let status = harness.state().status_message().to_owned();
    assert!(
        status.starts_with("Saved etc/os-release (106 B) from layer 0 to "),
        "{status}"
    );

    // A symlink row offers no "Save file…", and nothing is written.
    std::fs::remove_file(&saved).expect("remove the saved file");
    set_filter(&mut harness, "bin/sh");
    assert!(
        harness
            .state_mut()
            .visible_tree_paths()
            .contains(&"bin/sh".to_owned())
    );
    open_row_menu(&mut harness, "sh");
    assert!(
        harness.query_by_label("Save file…").is_none(),
        "no Save file… on a symlink"
    );
    harness.run_steps(3);
    assert!(!harness.state().is_saving());
    assert_eq!(harness.state().last_error(), None);
    assert!(!saved.exists(), "nothing was written");
    assert!(
        std::fs::read_dir(out_dir.path())
            .expect("read the output folder")
            .next()
            .is_none(),
        "no temporary file is left behind either"
    );
}

#[test]
fn a_slow_save_shows_progress_and_cancel_save_leaves_nothing() {
    let server = SlowBlobServer::start();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let saved = out_dir.path().join("slow-file");
    let mut harness = app_harness(&saved);
    harness.step();
    start_slow_peek(&mut harness, &server);
    // Let a few hundred entries arrive, then stop the peek (the peek's own "Cancel").
    step_until(&mut harness, "some entries", |app| {
        app.peeked_entry_count(0) > 300
    });
    click(&mut harness, "Cancel");
    step_until(&mut harness, "the cancelled peek's tree", |app| {
        !app.is_busy()
    });
    let last = harness
        .state()
        .peeked_listings()
        .remove(0)
        .entries
        .last()
        .expect("entries were kept")
        .path
        .clone();
    let name = last.rsplit('/').next().expect("a name").to_owned();

    // Saving the last listed file streams the slow layer up to it: progress shows meanwhile.
    set_filter(&mut harness, &last);
    open_row_menu(&mut harness, &name);
    click(&mut harness, "Save file…");
    assert!(
        harness.state().is_saving(),
        "the save runs in the background"
    );
    harness.step();
    assert!(
        harness
            .query_by_label_contains(&format!("Saving {last}: "))
            .is_some(),
        "the status bar shows the save's progress"
    );
    let clicked = Instant::now();
    click(&mut harness, "Cancel save");
    assert!(!harness.state().is_saving());
    assert!(clicked.elapsed() < Duration::from_secs(2));
    let status = harness.state().status_message().to_owned();
    assert!(status.contains("cancelled"), "{status}");
    assert_eq!(harness.state().last_error(), None);

    // The worker drops its temporary file once it sees the cancel; nothing is renamed in place.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_dir(out_dir.path())
        .expect("read the output folder")
        .next()
        .is_some()
    {
        assert!(Instant::now() < deadline, "a file was left behind");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!saved.exists());
}

#[test]
fn an_estargz_layer_is_listed_from_its_table_of_contents() {
    let items: Vec<common::TarItem> = (0..40)
        .map(|i| {
            common::TarItem::File(
                format!("lib/part-{i}.bin"),
                common::images::noise(i, 50_000),
                0o644,
            )
        })
        .collect();
    let (tar, _) = common::images::build_tar(&items);
    let built = common::estargz::build(&tar, false, 0);
    let registry = TestRegistry::start();
    let reference = common::images::push_estargz_layer(&registry, "gui/estargz", &built);
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = app_harness(&out_dir.path().join("unused.csv"));
    fetch(&mut harness, &reference);
    click(&mut harness, "Peek");
    step_until(&mut harness, "the TOC peek", peeked_and_idle);
    harness.step();
    let listings = harness.state().peeked_listings();
    assert_eq!(listings.len(), 1);
    assert!(matches!(
        listings[0].result.listed_from,
        ListedFrom::Toc { verified: true, .. }
    ));
    assert_eq!(listings[0].entries.len(), items.len());
    assert!(listings[0].result.bytes_read * 10 < built.blob.len() as u64);
    let shown: Vec<String> = harness
        .query_all_by_label_contains("Complete: ")
        .filter_map(|node| node.accesskit_node().value())
        .collect();
    assert!(
        shown
            .iter()
            .any(|text| text.contains("from its verified eStargz table of contents")),
        "{shown:?}"
    );
}

#[test]
fn layer_summaries_and_changes_only_on_the_demo() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = first_launch_harness(&out_dir.path().join("unused.csv"));
    step_until(&mut harness, "the demo image to open", |app| {
        !app.is_busy() && app.image().is_some()
    });
    click(&mut harness, "Peek");
    step_until(
        &mut harness,
        "the demo peek and its summaries",
        peeked_and_idle,
    );
    harness.step();

    // Each complete layer's row sums up its changes, as the core judges them.
    let listings = harness.state().peeked_listings();
    let changes = layerslayer::model::layer_changes(&listings);
    let summary = |position: usize| {
        use layerslayer::model::{Change, EntryKind};
        let count = |wanted: Change| changes[position].iter().filter(|c| **c == wanted).count();
        let added_bytes: u64 = listings[position]
            .entries
            .iter()
            .zip(&changes[position])
            .filter(|(entry, change)| **change == Change::Added && entry.kind == EntryKind::File)
            .map(|(entry, _)| entry.size)
            .sum();
        (
            count(Change::Added),
            count(Change::Modified),
            count(Change::Removed),
            added_bytes,
        )
    };
    let (added, modified, removed, added_bytes) = summary(1);
    assert_eq!(removed, 2, "layer 1 has a whiteout and an opaque marker");
    assert!(
        added > 0 && modified > 0,
        "{added} added, {modified} modified"
    );
    let expected = format!(
        "+{added} ~{modified} \u{2212}{removed}, +{} added",
        layerslayer::output::human_size(added_bytes)
    );
    let shown: Vec<String> = harness
        .query_all_by_label_contains(" added")
        .filter_map(|node| {
            let node = node.accesskit_node();
            node.value().or_else(|| node.label())
        })
        .collect();
    assert!(shown.contains(&expected), "{expected:?} in {shown:?}");
    assert_eq!(
        shown.len(),
        3,
        "every complete layer has a summary: {shown:?}"
    );

    // The merged view: "Changes only" hides what the base layer alone put there.
    pick_view(&mut harness, "Merged: final filesystem");
    click(&mut harness, "Expand all");
    let paths = harness.state_mut().visible_tree_paths();
    for path in ["etc/passwd", "etc/os-release"] {
        assert!(paths.contains(&path.to_owned()), "{path} in {paths:?}");
    }
    click(&mut harness, "Changes only");
    assert_eq!(
        harness
            .get_by_label("Changes only")
            .accesskit_node()
            .toggled(),
        Some(Toggled::True)
    );
    let paths = harness.state_mut().visible_tree_paths();
    assert!(
        !paths.contains(&"etc/passwd".to_owned()),
        "etc/passwd comes from the base layer: {paths:?}"
    );
    assert!(
        paths.contains(&"etc/os-release".to_owned()),
        "etc/os-release is modified in layer 1: {paths:?}"
    );
    assert!(
        paths.contains(&"etc".to_owned()),
        "its parent stays: {paths:?}"
    );

    // Cleared again, everything is back.
    click(&mut harness, "Changes only");
    let paths = harness.state_mut().visible_tree_paths();
    assert!(paths.contains(&"etc/passwd".to_owned()), "{paths:?}");
    harness.run();
}
