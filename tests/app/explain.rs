//! The desktop app's Analysis, Config and Compare tabs and the Files tab's sorting, driven
//! headlessly with egui_kittest on the built-in demo image (and an image B written by the
//! test): the exact figures, the jumps from the analysis to the file tree, the build steps
//! picking layers, and a comparison reusing the shared layers' listings.

use crate::common;
use crate::demo_b;
use crate::frames;
use crate::frames::click;

use std::path::Path;

use egui::accesskit::{Role, Toggled};
use egui::epaint::Shape;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use frames::step_until;
use layerslayer::gui::widgets::compare_tree::diff_change_color;
use layerslayer::gui::widgets::files_tree::change_color;
use layerslayer::gui::{CentralTab, FixedSavePath, LayerslayerApp, TreeChoice};
use layerslayer::inspect::diff::DiffChange;
use layerslayer::model::Change;
use layerslayer::output::human_size;

/// The app as a first launch builds it: it opens the built-in demo by itself. These tests
/// choose what to peek, so the automatic first peek is off.
fn demo_harness(save_to: &Path) -> Harness<'static, LayerslayerApp> {
    let picker = FixedSavePath(save_to.to_owned());
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| {
            LayerslayerApp::with_recent(Vec::new(), Box::new(picker)).with_auto_peek(None)
        });
    step_until(&mut harness, "the demo image to open", |app| {
        !app.is_busy() && app.image().is_some()
    });
    harness
}

fn idle(app: &LayerslayerApp) -> bool {
    !app.is_busy()
}

fn peek(harness: &mut Harness<'_, LayerslayerApp>) {
    click(harness, "Peek");
    step_until(harness, "the peek and the analysis", |app| {
        app.peek_finished() && !app.is_busy()
    });
}

/// Clicks the widget named `label`, then runs two frames (the click, and what it changed).
fn show_tab(harness: &mut Harness<'_, LayerslayerApp>, tab: CentralTab) {
    harness
        .get_by_role_and_label(Role::Tab, tab.title())
        .click();
    harness.step();
    // Grids settle their column widths over a few frames: let the layout come to rest so that
    // clicks land where the widgets are.
    harness.run();
    assert_eq!(harness.state().current_tab(), tab);
    assert_eq!(
        harness
            .get_by_role_and_label(Role::Tab, tab.title())
            .accesskit_node()
            .toggled(),
        Some(Toggled::True),
        "the tab row marks {} as chosen",
        tab.title()
    );
}

/// Whether a widget shows exactly `text` (as its label or, for a label, its value).
fn shows(harness: &Harness<'_, LayerslayerApp>, text: &str) -> bool {
    harness.query_all_by_label(text).next().is_some()
}

/// The colours `text` was painted in this frame (every text shape whose text is exactly it).
fn painted_colors(harness: &Harness<'_, LayerslayerApp>, text: &str) -> Vec<egui::Color32> {
    fn walk(shape: &Shape, text: &str, colors: &mut Vec<egui::Color32>) {
        match shape {
            Shape::Vec(shapes) => shapes.iter().for_each(|s| walk(s, text, colors)),
            Shape::Text(shape) if shape.galley.text() == text => {
                colors.extend(shape.galley.job.sections.iter().map(|s| s.format.color));
            }
            _ => {}
        }
    }
    let mut colors = Vec::new();
    for clipped in &harness.output().shapes {
        walk(&clipped.shape, text, &mut colors);
    }
    colors
}

#[test]
fn analysis_tab_shows_the_demo_figures_and_jumps_to_the_files() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = demo_harness(&out_dir.path().join("unused.csv"));
    peek(&mut harness);
    show_tab(&mut harness, CentralTab::Analysis);

    // The figures, as the core computes them for the whole demo.
    let analysis = harness.state().analysis().expect("analysed").clone();
    assert_eq!(analysis.wasted_bytes, 153_743);
    assert_eq!(human_size(analysis.wasted_bytes), "150.1 KiB");
    assert_eq!(format!("{:.2}%", analysis.efficiency * 100.0), "53.72%");
    assert!(shows(&harness, "Analysis of all 3 layers of demo"));
    assert!(shows(&harness, "150.1 KiB (153743 bytes)"), "wasted bytes");
    assert!(shows(&harness, "53.72%"), "efficiency");
    assert!(shows(
        &harness,
        &format!(
            "{} ({} bytes)",
            human_size(analysis.total_bytes),
            analysis.total_bytes
        )
    ));
    assert!(
        !shows(&harness, "Read whole layers for content checks"),
        "the demo's layers were streamed whole: every file has its content facts"
    );

    // Wasted paths, largest first, with their layers.
    assert!(shows(&harness, "Wasted paths (5)"));
    assert!(shows(&harness, "Show bin/busybox in layer 0"));
    assert!(shows(&harness, "90.0 KiB"));

    // The duplicate group.
    assert!(shows(&harness, "Duplicate files (1)"));
    assert!(shows(&harness, "3 copies of 1.9 KiB (3.8 KiB redundant)"));
    for path in ["etc/motd", "etc/motd-copy", "usr/share/doc/demo/README"] {
        assert!(
            shows(&harness, &format!("Show {path} in the final filesystem")),
            "{path} in the duplicate group"
        );
    }

    // The flags: kind, layer, path, detail.
    assert!(shows(&harness, "Flags (7)"));
    for (kind, layer, path, detail) in [
        ("setuid", 0, "bin/su", "mode 4755"),
        ("setgid", 0, "usr/bin/wall", "mode 2755"),
        (
            "world_writable",
            0,
            "srv/upload",
            "directory mode 0777 without the sticky bit",
        ),
        ("world_writable", 1, "srv/upload/incoming.log", "mode 0666"),
        (
            "secret",
            1,
            "etc/ssl/private/demo-key.pem",
            "private key in its content",
        ),
        (
            "secret",
            1,
            "home/app/.aws/credentials",
            "AWS credentials file",
        ),
    ] {
        assert!(shows(&harness, kind), "{kind}");
        assert!(
            shows(&harness, &format!("Show {path} in layer {layer}")),
            "{path} flagged in layer {layer}"
        );
        assert!(shows(&harness, detail), "{detail}");
    }
    assert!(shows(&harness, "Largest files (17)"));

    // A flag's path jumps to the Files tab: that layer's tree, the row selected and shown.
    click(&mut harness, "Show srv/upload/incoming.log in layer 1");
    assert_eq!(harness.state().current_tab(), CentralTab::Files);
    assert_eq!(harness.state().tree_choice(), TreeChoice::Layer(1));
    step_until(&mut harness, "the layer's tree", idle);
    assert_eq!(
        harness.state().selected_tree_path(),
        Some("srv/upload/incoming.log")
    );
    let paths = harness.state_mut().visible_tree_paths();
    assert!(
        paths.contains(&"srv/upload/incoming.log".to_owned()),
        "its parents were opened: {paths:?}"
    );
    assert!(
        shows(&harness, "incoming.log"),
        "the row is drawn (scrolled into view)"
    );

    // A largest file jumps to the final filesystem.
    show_tab(&mut harness, CentralTab::Analysis);
    click(
        &mut harness,
        "Show usr/bin/demo-app in the final filesystem",
    );
    assert_eq!(harness.state().tree_choice(), TreeChoice::Merged);
    step_until(&mut harness, "the merged tree", idle);
    assert_eq!(
        harness.state().selected_tree_path(),
        Some("usr/bin/demo-app")
    );
    assert!(
        harness
            .state_mut()
            .visible_tree_paths()
            .contains(&"usr/bin/demo-app".to_owned())
    );
    assert!(shows(&harness, "demo-app"));
    harness.run();
}

#[test]
fn files_tab_sorts_by_size_and_name() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = demo_harness(&out_dir.path().join("unused.csv"));
    peek(&mut harness);
    // The merged view, collapsed: the top-level directories.
    click(&mut harness, "Tree");
    click(&mut harness, "Merged: final filesystem");
    step_until(&mut harness, "the merged tree", idle);
    let by_name = harness.state_mut().visible_tree_paths();
    let mut sorted = by_name.clone();
    sorted.sort();
    assert_eq!(by_name, sorted, "names A to Z at first");

    // Largest first: bin (busybox, su) outweighs usr (demo-app, wall, …).
    click(&mut harness, "Sort by size");
    let by_size = harness.state_mut().visible_tree_paths();
    assert_eq!(
        by_size.first().map(String::as_str),
        Some("bin"),
        "{by_size:?}"
    );
    assert_eq!(
        by_size.get(1).map(String::as_str),
        Some("usr"),
        "{by_size:?}"
    );
    assert!(
        !painted_colors(&harness, "Size▼").is_empty(),
        "the header shows the direction"
    );

    // Again: smallest first.
    click(&mut harness, "Sort by size");
    let ascending = harness.state_mut().visible_tree_paths();
    let mut reversed = by_size.clone();
    reversed.reverse();
    assert_eq!(
        ascending.last().map(String::as_str),
        Some("bin"),
        "{ascending:?}"
    );
    assert_eq!(ascending.len(), reversed.len());
    assert!(!painted_colors(&harness, "Size▲").is_empty());

    // Names again, then Z to A.
    click(&mut harness, "Sort by name");
    assert_eq!(harness.state_mut().visible_tree_paths(), by_name);
    click(&mut harness, "Sort by name");
    let mut z_to_a = by_name.clone();
    z_to_a.reverse();
    assert_eq!(harness.state_mut().visible_tree_paths(), z_to_a);
    harness.run();
}

#[test]
fn config_tab_shows_how_the_demo_runs_and_steps_pick_layers() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut harness = demo_harness(&out_dir.path().join("unused.csv"));
    show_tab(&mut harness, CentralTab::Config);
    for text in [
        r#"["/usr/bin/demo-app"]"#,
        r#"["--serve"]"#,
        "app",
        "/srv",
        "8080/tcp",
        "linux/amd64",
        "2023-11-14T22:33:20Z",
        "DEMO=1",
        "org.opencontainers.image.title=layerslayer demo",
        "Build steps (6)",
    ] {
        assert!(shows(&harness, text), "the Config tab shows {text}");
    }
    // Steps that made a layer are buttons; the others are greyed labels.
    let step = |layer: usize, instruction: &str| format!("[{layer:>2}] {instruction}");
    for (layer, instruction) in [
        (0, "ADD rootfs.tar /"),
        (
            1,
            "RUN apk-like upgrade && rm -rf /var/cache/apk/index-old.tar.gz",
        ),
        (2, "COPY demo-app /usr/bin/demo-app"),
    ] {
        assert!(
            harness
                .query_by_role_and_label(Role::Button, &step(layer, instruction))
                .is_some(),
            "step of layer {layer}"
        );
    }
    for empty in [
        "ENV DEMO=1",
        "USER app",
        r#"ENTRYPOINT ["/usr/bin/demo-app"]"#,
    ] {
        let label = format!("     {empty}");
        let node = harness
            .query_by_label(&label)
            .unwrap_or_else(|| panic!("empty step {empty}"));
        assert_eq!(
            node.accesskit_node().role(),
            Role::Label,
            "{empty} is no button"
        );
    }

    // Before a peek, a step ticks its layer (alone) and highlights it.
    click(&mut harness, &step(2, "COPY demo-app /usr/bin/demo-app"));
    assert_eq!(
        harness.state().highlighted_layer(),
        Some(2),
        "{}",
        harness.state().status_message()
    );
    assert_eq!(harness.state().current_tab(), CentralTab::Config);
    for (label, ticked) in [("Layer 0", false), ("Layer 1", false), ("Layer 2", true)] {
        let expected = if ticked {
            Toggled::True
        } else {
            Toggled::False
        };
        assert_eq!(
            harness.get_by_label(label).accesskit_node().toggled(),
            Some(expected),
            "{label}"
        );
    }
    // Peek it (the only one ticked); the analysis then covers that layer only.
    peek(&mut harness);
    assert_eq!(harness.state().peeked_listings().len(), 1);
    show_tab(&mut harness, CentralTab::Analysis);
    assert!(shows(
        &harness,
        "The figures cover the peeked layers only (layer 2 of 3): peek all layers (none \
         ticked) for the whole image."
    ));
    // After the peek, the step shows the layer's files.
    show_tab(&mut harness, CentralTab::Config);
    click(&mut harness, &step(2, "COPY demo-app /usr/bin/demo-app"));
    assert_eq!(harness.state().current_tab(), CentralTab::Files);
    assert_eq!(harness.state().tree_choice(), TreeChoice::Layer(0));
    step_until(&mut harness, "the layer's tree", idle);
    assert!(
        harness
            .state_mut()
            .visible_tree_paths()
            .contains(&"usr".to_owned())
    );
    harness.run();
}

#[test]
fn compare_tab_diffs_the_demo_with_an_image_sharing_two_layers() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let image_b = demo_b::write_demo_b(&out_dir.path().join("demo-b"));
    let mut harness = demo_harness(&out_dir.path().join("unused.csv"));
    peek(&mut harness);
    show_tab(&mut harness, CentralTab::Compare);
    frames::replace_text(&mut harness, "Compare with", &image_b);
    harness
        .get_by_role_and_label(Role::Button, "Compare")
        .click();
    harness.step();
    assert!(harness.state().is_comparing() || harness.state().compare_summary().is_some());
    step_until(&mut harness, "the comparison", idle);
    assert_eq!(harness.state().compare_error(), None);

    // Two layers are the demo's own blobs: their listings come from the peek.
    assert_eq!(harness.state().compare_shared_layers(), Some(2));
    assert!(shows(
        &harness,
        "2 shared layers read once; read 0 layers of A and 1 of B for the comparison."
    ));

    // The same differences as the command line finds.
    let cli = std::process::Command::new(common::layerslayer_binary())
        .args(["diff", "demo", &image_b, "--json", "--no-cache", "--quiet"])
        .output()
        .expect("run layerslayer diff");
    let json: serde_json::Value = serde_json::from_slice(&cli.stdout).expect("diff JSON");
    let summary = harness.state().compare_summary().expect("compared");
    assert_eq!(
        (summary.added, summary.removed, summary.modified),
        (
            json["summary"]["added"].as_u64().unwrap_or_default() as usize,
            json["summary"]["removed"].as_u64().unwrap_or_default() as usize,
            json["summary"]["modified"].as_u64().unwrap_or_default() as usize,
        ),
        "{json}"
    );
    assert!(shows(
        &harness,
        &format!(
            "+{} added  \u{2212}{} removed  ~{} modified",
            summary.added, summary.removed, summary.modified
        )
    ));

    // One row of each change, with its label and the file tree's colour for that change.
    let rows = harness.state_mut().visible_compare_rows();
    let visuals = harness.ctx.global_style().visuals.clone();
    for (path, name, change, tree_change) in [
        (
            "usr/bin/demo-v2",
            "demo-v2",
            DiffChange::Added,
            Change::Added,
        ),
        (
            "etc/motd-copy",
            "motd-copy",
            DiffChange::Removed,
            Change::Removed,
        ),
        (
            "usr/bin/demo-app",
            "demo-app",
            DiffChange::Modified,
            Change::Modified,
        ),
    ] {
        assert!(
            rows.contains(&(path.to_owned(), Some(change))),
            "{path} is {} in {rows:?}",
            change.as_str()
        );
        let color = diff_change_color(&visuals, change);
        assert_eq!(color, change_color(&visuals, tree_change));
        assert!(
            painted_colors(&harness, name).contains(&color),
            "{name} is painted in the {} colour",
            change.as_str()
        );
        assert!(
            painted_colors(&harness, change.as_str()).contains(&color),
            "the change column says {}",
            change.as_str()
        );
    }
    assert!(shows(&harness, "64.0 KiB"), "size B of demo-app");
    assert!(shows(&harness, "60.0 KiB"), "size A of demo-app");

    // Change filter: modified only.
    click(&mut harness, "Added");
    click(&mut harness, "Removed");
    let rows = harness.state_mut().visible_compare_rows();
    assert!(
        rows.iter()
            .all(|(_, change)| matches!(change, None | Some(DiffChange::Modified))),
        "{rows:?}"
    );
    assert!(rows.contains(&("usr/bin/demo-app".to_owned(), Some(DiffChange::Modified))));
    assert!(!rows.iter().any(|(path, _)| path == "etc/motd-copy"));
    click(&mut harness, "Added");
    click(&mut harness, "Removed");

    // Text filter: only paths containing it, and their parents.
    frames::replace_text(&mut harness, "Filter differences", "motd");
    let rows = harness.state_mut().visible_compare_rows();
    assert_eq!(
        rows,
        [
            ("etc".to_owned(), None),
            ("etc/motd-copy".to_owned(), Some(DiffChange::Removed))
        ]
    );
    frames::replace_text(&mut harness, "Filter differences", "");
    assert!(harness.state_mut().visible_compare_rows().len() > 2);
    harness.run();

    // A click selects the row; a path image A has jumps from the row's context menu to A's
    // files: the layer its version comes from.
    click(&mut harness, "demo-app");
    assert_eq!(harness.state().current_tab(), CentralTab::Compare);
    harness.get_by_label("demo-app").click_secondary();
    harness.step();
    harness.step();
    click(&mut harness, "Show in image A's files");
    assert_eq!(harness.state().current_tab(), CentralTab::Files);
    assert_eq!(harness.state().tree_choice(), TreeChoice::Layer(2));
    step_until(&mut harness, "the layer's tree", idle);
    assert_eq!(
        harness.state().selected_tree_path(),
        Some("usr/bin/demo-app")
    );
}

#[test]
fn content_checks_after_a_table_of_contents_read_the_layers_whole() {
    // An eStargz layer is listed from its table of contents: no file data, so no duplicates
    // found until the layer is read whole.
    let mut items: Vec<common::TarItem> = (0..20)
        .map(|i| {
            common::TarItem::File(
                format!("lib/part-{i}.bin"),
                // Sizes differ, so that only the two copies below are duplicates.
                common::images::noise(i, 20_000 + i as usize),
                0o644,
            )
        })
        .collect();
    for copy in ["lib/copy-a.txt", "lib/copy-b.txt"] {
        items.push(common::TarItem::File(
            copy.into(),
            b"the same words twice\n".repeat(100),
            0o644,
        ));
    }
    let (tar, _) = common::images::build_tar(&items);
    let built = common::estargz::build(&tar, false, 0);
    let registry = common::TestRegistry::start();
    let reference = common::images::push_estargz_layer(&registry, "gui/estargz-content", &built);
    let out_dir = tempfile::tempdir().expect("tempdir");
    let picker = FixedSavePath(out_dir.path().join("unused.csv"));
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| LayerslayerApp::new_for_tests(None, Box::new(picker)));
    harness.step();
    frames::replace_text(&mut harness, "Image reference", &reference);
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(&mut harness, "the image to resolve", |app| {
        !app.is_busy() && (app.image().is_some() || app.last_error().is_some())
    });
    assert_eq!(harness.state().last_error(), None);
    peek(&mut harness);
    assert!(matches!(
        harness.state().peeked_listings()[0].result.listed_from,
        layerslayer::model::ListedFrom::Toc { .. }
    ));
    show_tab(&mut harness, CentralTab::Analysis);
    assert!(shows(&harness, "Duplicate files (0)"));
    let caveats = harness
        .state()
        .analysis()
        .expect("analysed")
        .caveats
        .clone();
    assert_eq!(caveats.len(), 1, "{caveats:?}");
    assert!(shows(&harness, &format!("Note: {}", caveats[0])));

    click(&mut harness, "Read whole layers for content checks");
    step_until(
        &mut harness,
        "the whole-layer peek and its analysis",
        |app| app.peek_finished() && !app.is_busy(),
    );
    harness.run();
    let listing = &harness.state().peeked_listings()[0];
    assert_eq!(
        listing.result.listed_from,
        layerslayer::model::ListedFrom::Blob
    );
    assert!(
        listing
            .entries
            .iter()
            .filter(|e| e.kind == layerslayer::model::EntryKind::File)
            .all(|e| e.content.is_some()),
        "every file has its content facts"
    );
    assert_eq!(harness.state().current_tab(), CentralTab::Analysis);
    assert!(
        harness
            .state()
            .analysis()
            .expect("analysed")
            .caveats
            .is_empty()
    );
    assert!(shows(&harness, "Duplicate files (1)"));
    assert!(shows(
        &harness,
        "Show lib/copy-b.txt in the final filesystem"
    ));
    assert!(!shows(&harness, "Read whole layers for content checks"));
}
