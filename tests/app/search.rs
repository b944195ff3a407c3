//! The Search tab, through the desktop app driven headless with egui_kittest over a search
//! index in a temporary directory (filled through the library, the way `layerslayer index`
//! fills it, or by peeking in the app): hits grouped by image as you type, a click opening the
//! image and selecting the file in Files, "seen in N other images" on the preview, Forget and
//! Clear, a bad regex explained inline, and an empty index saying how to fill it.

use std::sync::Arc;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use layerslayer::cancel::CancelToken;
use layerslayer::gui::{CentralTab, FixedSavePath, LayerslayerApp, SearchKind, TreeChoice};
use layerslayer::layer::cache::ListingCache;
use layerslayer::layer::list::{ContentNeed, ListingOptions, list_layer};
use layerslayer::search::{ImageRecord, SearchIndex};

use crate::demo_b::write_demo_b;
use crate::frames::{click, replace_text, step_until};

/// A listing cache and the search index following it, in `dir`.
fn index_in(dir: &std::path::Path) -> SearchIndex {
    let cache = ListingCache::open(dir.join("listings"), 1 << 30).expect("listing cache");
    SearchIndex::open(dir.join("search"), cache).expect("search index")
}

/// Indexes `reference` through the library, as `layerslayer index` does; returns its
/// platform as the index records it.
fn index_image(index: &SearchIndex, reference: &str) -> Option<String> {
    let cancel = CancelToken::new();
    let opened = layerslayer::source::open::open_image(reference, &Default::default(), &cancel)
        .expect("the image opens");
    for layer in &opened.info.layers {
        let mut entries = Vec::new();
        let options = ListingOptions {
            cache: Some(index.cache()),
            use_toc: true,
            content: ContentNeed::Skip,
        };
        let result = list_layer(
            opened.source.as_ref(),
            layer,
            options,
            &cancel,
            &Arc::default(),
            &mut |entry| entries.push(entry),
        );
        assert!(result.status.is_complete(), "{:?}", result.status);
        index
            .add_layer(layer.digest(), &entries)
            .expect("add layer");
    }
    let platform = opened.info.platform.as_ref().map(ToString::to_string);
    let record = ImageRecord {
        reference: reference.to_owned(),
        manifest_digest: opened.info.manifest_digest.clone(),
        platform: platform.clone(),
        source_kind: "file".to_owned(),
        seen: 0,
        layers: opened
            .info
            .layers
            .iter()
            .map(|l| l.digest().to_owned())
            .collect(),
        not_final: Vec::new(),
    };
    let mut notices = Vec::new();
    index.record_image(record, &mut notices).expect("record");
    assert!(notices.is_empty(), "{notices:?}");
    platform
}

/// The app over `index` (and its listing cache), nothing open, automatic peeks off.
fn app_over(index: SearchIndex, dir: &std::path::Path) -> Harness<'static, LayerslayerApp> {
    let picker = FixedSavePath(dir.join("unused"));
    let cache = index.cache().clone();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| {
            LayerslayerApp::new_for_tests(None, Box::new(picker))
                .with_listing_cache(Some(cache))
                .with_search_index(Some(index))
        });
    harness.step();
    harness
}

/// Types `query` in the Search tab and waits for its hits.
fn search_for(harness: &mut Harness<'_, LayerslayerApp>, query: &str) {
    replace_text(harness, "Search paths", query);
    step_until(harness, "the search", |app| {
        !app.is_searching() && (app.search_groups().is_some() || app.search_error().is_some())
    });
}

/// The hits on screen: (image, platform, count), sorted.
fn groups(harness: &Harness<'_, LayerslayerApp>) -> Vec<(String, Option<String>, usize)> {
    let mut groups = harness.state().search_groups().expect("search results");
    groups.sort();
    groups
}

/// Demo and image B (which shares the demo's first two layers) indexed; the app over them.
fn two_images(dir: &std::path::Path) -> (Harness<'static, LayerslayerApp>, String, Option<String>) {
    let index = index_in(dir);
    let demo_platform = index_image(&index, "demo");
    let image_b = write_demo_b(&dir.join("image-b"));
    index_image(&index, &image_b);
    let mut harness = app_over(index, dir);
    click(&mut harness, "Search");
    assert_eq!(harness.state().current_tab(), CentralTab::Search);
    (harness, image_b, demo_platform)
}

#[test]
fn hits_come_by_image_as_you_type_and_a_click_selects_the_file_in_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut harness, image_b, demo_platform) = two_images(dir.path());

    // etc/os-release: the base layer's (replaced later) and layer 1's, in both images.
    search_for(&mut harness, "os-release");
    assert_eq!(
        groups(&harness),
        vec![
            (image_b.clone(), None, 2),
            ("demo".to_owned(), demo_platform.clone(), 2)
        ]
    );
    assert!(
        harness
            .query_by_label_contains("4 hits in 2 images")
            .is_some(),
        "the counts and the time are shown"
    );
    assert!(
        harness.query_all_by_label("removed later").count() >= 2,
        "the base layer's version is marked as not in the final filesystem"
    );

    // Only the demo, then its final version (layer 1) clicked.
    replace_text(&mut harness, "In images", "demo");
    step_until(&mut harness, "the filtered search", |app| {
        !app.is_searching() && app.search_groups().is_some_and(|g| g.len() == 1)
    });
    assert_eq!(
        groups(&harness),
        vec![("demo".to_owned(), demo_platform, 2)]
    );
    let links: Vec<_> = harness.query_all_by_label("etc/os-release").collect();
    assert_eq!(links.len(), 2, "one row per layer holding it");
    links[1].click();
    harness.step();
    step_until(&mut harness, "the hit's file in Files", |app| {
        app.current_tab() == CentralTab::Files
            && app.selected_tree_path() == Some("etc/os-release")
            && !app.is_busy()
    });
    let app = harness.state();
    assert_eq!(
        app.tree_choice(),
        TreeChoice::Merged,
        "in the final filesystem"
    );
    assert_eq!(app.image().map(|i| i.layers.len()), Some(3));
    assert!(app.peek_finished(), "the image was peeked to show the file");

    // The preview says where else the path is (image B), and a click searches it.
    step_until(&mut harness, "the other images' count", |app| {
        app.seen_in_other_images().is_some()
    });
    assert_eq!(harness.state().seen_in_other_images(), Some(1));
    click(&mut harness, "Seen in 1 other indexed image");
    assert_eq!(harness.state().current_tab(), CentralTab::Search);
    assert_eq!(
        harness.state().search_query(),
        ("etc/os-release", SearchKind::Exact)
    );
    step_until(&mut harness, "the exact-path search", |app| {
        !app.is_searching() && app.search_groups().is_some()
    });
    let found: Vec<String> = groups(&harness).into_iter().map(|g| g.0).collect();
    assert_eq!(found, vec![image_b, "demo".to_owned()]);
}

#[test]
fn forget_and_clear_take_images_out_and_an_empty_index_says_how_to_fill_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut harness, image_b, demo_platform) = two_images(dir.path());
    search_for(&mut harness, "demo-app");
    assert_eq!(
        groups(&harness),
        vec![
            (image_b.clone(), None, 1),
            ("demo".to_owned(), demo_platform.clone(), 1)
        ]
    );

    click(&mut harness, "What is indexed");
    step_until(&mut harness, "the index summary", |app| {
        app.indexed_images().is_some()
    });
    assert_eq!(harness.state().indexed_images().map(|i| i.len()), Some(2));
    let forget = match &demo_platform {
        Some(platform) => format!("Forget demo {platform}"),
        None => "Forget demo".to_owned(),
    };
    harness.get_by_role_and_label(Role::Button, &forget).click();
    harness.step();
    step_until(&mut harness, "the forget", |app| {
        !app.is_working_on_index()
            && app.indexed_images().is_some_and(|i| i.len() == 1)
            && app.search_groups().is_some_and(|g| g.len() == 1)
    });
    assert_eq!(groups(&harness), vec![(image_b.clone(), None, 1)]);
    assert!(harness.query_by_label_contains("Forgot demo").is_some());

    // Clear asks first.
    click(&mut harness, "Clear index…");
    assert_eq!(harness.state().indexed_images().map(|i| i.len()), Some(1));
    click(&mut harness, "Yes, clear the index");
    step_until(&mut harness, "the clear", |app| {
        !app.is_working_on_index()
            && app.indexed_images().is_some_and(|i| i.is_empty())
            && app.search_groups().is_some_and(|g| g.is_empty())
    });
    assert!(
        harness
            .query_by_label_contains("The index is empty")
            .is_some(),
        "an empty index says how to fill it"
    );
    assert!(
        harness
            .query_by_label_contains("layerslayer index")
            .is_some()
    );
}

#[test]
fn a_bad_regex_is_explained_in_the_tab() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut harness, _, _) = two_images(dir.path());
    click(&mut harness, "Regex");
    search_for(&mut harness, "lib(ssl");
    let error = harness
        .state()
        .search_error()
        .expect("a bad regex is an error")
        .to_owned();
    assert!(error.contains("bad regex"), "{error}");
    assert!(
        harness.query_by_label_contains("bad regex").is_some(),
        "the message is in the window"
    );
    // Fixing it searches again.
    search_for(&mut harness, "bin/(busy|su)");
    assert!(harness.state().search_error().is_none());
    assert_eq!(groups(&harness).len(), 2);
}

#[test]
fn peeking_in_the_app_records_the_image_in_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = index_in(dir.path());
    let mut harness = app_over(index.clone(), dir.path());
    click(&mut harness, "Search");
    step_until(&mut harness, "the index summary", |app| {
        app.indexed_images().is_some()
    });
    assert!(
        harness
            .query_by_label_contains("The index is empty")
            .is_some()
    );

    replace_text(&mut harness, "Image reference", "demo");
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(&mut harness, "the demo to open", |app| {
        !app.is_busy() && app.layer_count() == 3
    });
    click(&mut harness, "Files");
    crate::frames::peek(&mut harness);
    step_until(&mut harness, "the recording", |app| {
        !app.is_working_on_index()
    });
    let mut notices = Vec::new();
    let images = index.images(&mut notices).expect("images");
    assert_eq!(
        images
            .iter()
            .map(|i| i.reference.as_str())
            .collect::<Vec<_>>(),
        ["demo"]
    );
    assert_eq!(images[0].source_kind, "demo");

    click(&mut harness, "Search");
    search_for(&mut harness, "busybox");
    let found = groups(&harness);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "demo");
    assert_eq!(found[0].2, 2, "the base layer's and the app layer's");
}
