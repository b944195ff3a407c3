//! The real window under Xvfb: `tests/gui_screenshot.sh` starts the binary (against an image in
//! the real local registry, or with no arguments and no network as on a first launch),
//! screenshots the screen and fails on a blank or half-empty window; with steps, it clicks
//! through the tabs and screenshots each.

use crate::common;
use crate::demo_b;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use layerslayer::gui::{CentralTab, FixedSavePath, LayerslayerApp};

/// Where a test keeps its screenshot (removed first so a stale one cannot pass).
fn screenshot_path(name: &str) -> PathBuf {
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&screenshot);
    screenshot
}

/// One virtual display at a time: Xvfb servers started together can trip over each other.
static ONE_DISPLAY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `tests/gui_screenshot.sh BINARY IMAGE SCREENSHOT`; returns whether it succeeded and
/// its output.
fn run_screenshot_script(image: &str, screenshot: &Path) -> (bool, String) {
    run_screenshot_steps(image, screenshot, "")
}

/// Like [`run_screenshot_script`], then carries out `steps` (the script's
/// `LAYERSLAYER_STEPS`) in the window.
fn run_screenshot_steps(image: &str, screenshot: &Path, steps: &str) -> (bool, String) {
    run_screenshot_steps_without(image, screenshot, steps, &[], None)
}

/// Like [`run_screenshot_steps`], with the variables `unset` removed from the environment and,
/// when given, `app_path` as the app's whole `PATH`.
fn run_screenshot_steps_without(
    image: &str,
    screenshot: &Path,
    steps: &str,
    unset: &[&str],
    app_path: Option<&Path>,
) -> (bool, String) {
    let _display = ONE_DISPLAY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gui_screenshot.sh");
    let mut command = std::process::Command::new("bash");
    command
        .arg(&script)
        .arg(common::layerslayer_binary())
        .arg(image)
        .arg(screenshot)
        .env("LAYERSLAYER_STEPS", steps);
    for name in unset {
        command.env_remove(name);
    }
    if let Some(app_path) = app_path {
        command.env("LAYERSLAYER_APP_PATH", app_path);
    }
    let output = command.output().expect("run tests/gui_screenshot.sh");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), log)
}

fn assert_png(screenshot: &Path) {
    let png = std::fs::read(screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG file");
    eprintln!("screenshot kept at {}", screenshot.display());
}

#[test]
fn the_real_window_shows_an_image_under_xvfb() {
    let registry = common::TestRegistry::start();
    let sample = common::push_sample_image(&registry, "screenshot/app", "v1");
    let screenshot = screenshot_path("gui-screenshot.png");
    let (success, log) = run_screenshot_script(&sample.reference, &screenshot);
    assert!(success, "{log}");
    assert!(
        log.contains("layerslayer - "),
        "the window title names the image: {log}"
    );
    assert_png(&screenshot);
}

/// `-` makes the script start the app with no arguments, a fresh home and no network
/// (`unshare --net`): a first launch, which must open the built-in demo by itself.
#[test]
fn first_launch_shows_the_demo_offline() {
    let screenshot = screenshot_path("first-launch.png");
    let (success, log) = run_screenshot_script("-", &screenshot);
    assert!(success, "{log}");
    assert!(
        log.contains("first launch without network: unshare "),
        "the app ran in its own network namespace: {log}"
    );
    assert!(
        log.contains("'layerslayer - demo' rendered"),
        "the window title names the demo: {log}"
    );
    assert_png(&screenshot);
}

/// The window's inner size (as `gui::run_app` asks for it).
const WINDOW_SIZE: [f32; 2] = [1200.0, 800.0];

/// Where widgets are in the window: the same app laid out headlessly at the window's size
/// (same fonts, same layout), driven through the same steps as the script drives the window.
struct Layout {
    harness: Harness<'static, LayerslayerApp>,
}

impl Layout {
    fn first_launch() -> Self {
        let picker = FixedSavePath(std::env::temp_dir().join("unused.csv"));
        let harness = Harness::builder()
            .with_size(WINDOW_SIZE)
            .build_eframe(move |_cc| LayerslayerApp::with_recent(Vec::new(), Box::new(picker)));
        let mut layout = Self { harness };
        layout.settle("the demo image to open");
        layout
    }

    /// Steps until the app is idle, then lets the layout come to rest.
    fn settle(&mut self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.harness.state().is_busy() || self.harness.state().image().is_none() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.harness.step();
        }
        // A focused text field blinks its cursor forever: settle for a bounded number of
        // frames rather than until no repaint is asked for.
        self.harness.run_steps(10);
    }

    /// `click X Y` at the centre of the widget with `role` named `label`, and clicks it here too.
    fn click(&mut self, role: Role, label: &str) -> String {
        let centre = self
            .harness
            .get_by_role_and_label(role, label)
            .rect()
            .center();
        self.harness.get_by_role_and_label(role, label).click();
        self.harness.step();
        self.settle(label);
        format!("click {} {}\n", centre.x.round(), centre.y.round())
    }

    fn tab(&mut self, tab: CentralTab) -> String {
        self.click(Role::Tab, tab.title())
    }
}

/// The Analysis, Config and Compare tabs and the Files tab sorted by size, in the real window
/// on a first launch (the demo, no network), compared with an image B written here.
#[test]
fn the_explain_tabs_under_xvfb() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshot-demo-b");
    std::fs::remove_dir_all(&dir).ok();
    let image_b = demo_b::write_demo_b(&dir);
    let shots: Vec<PathBuf> = [
        "tab-analysis.png",
        "tab-files-jump.png",
        "tab-config.png",
        "tab-compare.png",
        "tab-files-by-size.png",
    ]
    .into_iter()
    .map(screenshot_path)
    .collect();
    let shot = |index: usize| format!("shot {}\n", shots[index].display());

    let mut layout = Layout::first_launch();
    let mut steps = layout.click(Role::Button, "Peek");
    steps += &layout.tab(CentralTab::Analysis);
    steps += &shot(0);
    // A flagged secret: the jump opens layer 1's tree at its row, selected.
    steps += &layout.click(Role::Link, "Show etc/ssl/private/demo-key.pem in layer 1");
    steps += &shot(1);
    steps += &layout.tab(CentralTab::Config);
    steps += &shot(2);
    steps += &layout.tab(CentralTab::Compare);
    steps += &layout.click(Role::TextInput, "Compare with");
    steps += &format!("type {image_b}\nkey Return\n");
    steps += &shot(3);
    steps += &layout.tab(CentralTab::Files);
    steps += &layout.click(Role::Button, "Expand all");
    steps += &layout.click(Role::Button, "Sort by size");
    steps += &shot(4);

    let screenshot = screenshot_path("tabs-first.png");
    let (success, log) = run_screenshot_steps("-", &screenshot, &steps);
    assert!(success, "steps:\n{steps}\n{log}");
    for shot in &shots {
        assert_png(shot);
    }
}

/// The real window on a desktop without file dialogs: no D-Bus session bus (so no xdg
/// portal) and no zenity. Ctrl+S must not say "Export cancelled": the app's own prompt asks
/// where to save (its field has the keyboard focus), and saving there writes the CSV.
#[test]
fn export_without_a_file_dialog_under_xvfb() {
    // The app runs with an empty PATH: even where zenity is installed it finds none (zenity
    // would show a real dialog on the virtual display, and nothing would answer it).
    let empty_path = tempfile::tempdir().expect("an empty PATH directory");
    let csv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xvfb-export.csv");
    std::fs::remove_file(&csv).ok();
    let peeked = screenshot_path("no-dialog-peeked.png");
    let prompt = screenshot_path("no-dialog-prompt.png");
    let saved = screenshot_path("no-dialog-saved.png");

    let mut layout = Layout::first_launch();
    let mut steps = layout.click(Role::Button, "Peek");
    steps += &format!("shot {}\n", peeked.display());
    steps += "key ctrl+s\nblur\n";
    steps += &format!("shot {}\n", prompt.display());
    steps += &format!("focus\nkey ctrl+a\ntype {}\nkey Return\n", csv.display());
    steps += &format!("shot {}\n", saved.display());

    let screenshot = screenshot_path("no-dialog-first.png");
    // No session bus: rfd's portal call fails at once, and so does its zenity fallback.
    let (success, log) = run_screenshot_steps_without(
        "-",
        &screenshot,
        &steps,
        &["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"],
        Some(empty_path.path()),
    );
    assert!(success, "steps:\n{steps}\n{log}");
    for shot in [&peeked, &prompt, &saved] {
        assert_png(shot);
    }
    let text = std::fs::read_to_string(&csv)
        .unwrap_or_else(|e| panic!("the prompt saved {}: {e}\n{log}", csv.display()));
    let header = text.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("layer_index,layer_digest,path,"),
        "{header}"
    );
    assert!(text.lines().count() > 10, "the demo's rows:\n{text}");
    eprintln!("exported through the in-window prompt to {}", csv.display());
}

/// The Search tab in the real window on a first launch (the demo, no network, an empty cache
/// in the script's private home): the demo's automatic peek and image B's record both images
/// in the index; typing a part of a path lists the hits by image; "What is indexed" lists
/// them; a hit clicked shows its file in Files, where the preview says where else it is.
#[test]
fn the_search_tab_under_xvfb() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshot-search-b");
    std::fs::remove_dir_all(&dir).ok();
    let image_b = demo_b::write_demo_b(&dir.join("image-b"));
    let shots: Vec<PathBuf> = [
        "tab-search.png",
        "tab-search-index.png",
        "tab-search-hit.png",
    ]
    .into_iter()
    .map(screenshot_path)
    .collect();
    let shot = |index: usize| format!("shot {}\n", shots[index].display());

    // The layout's app has an index of its own, filled the same way as the window's.
    let cache = layerslayer::layer::cache::ListingCache::open(dir.join("listings"), 1 << 30)
        .expect("listing cache");
    let index = layerslayer::search::SearchIndex::open(dir.join("search"), cache.clone())
        .expect("search index");
    let picker = FixedSavePath(std::env::temp_dir().join("unused.csv"));
    let harness = Harness::builder()
        .with_size(WINDOW_SIZE)
        .build_eframe(move |_cc| {
            LayerslayerApp::with_recent(Vec::new(), Box::new(picker))
                .with_listing_cache(Some(cache))
                .with_search_index(Some(index))
        });
    let mut layout = Layout { harness };
    layout.settle("the demo image to open");
    let mut steps = layout.click(Role::TextInput, "Image reference");
    // Then wait for the window to come to rest: the demo's platform row goes once image B
    // (one platform) is open, and the tab row moves up.
    let opened = screenshot_path("search-opened-b.png");
    steps += &format!(
        "key ctrl+a\ntype {image_b}\nkey Return\nblur\nshot {}\nfocus\n",
        opened.display()
    );
    crate::frames::replace_text(&mut layout.harness, "Image reference", &image_b);
    layout.harness.key_press(egui::Key::Enter);
    layout.harness.step();
    layout.settle("image B to open");
    steps += &layout.tab(CentralTab::Search);
    steps += &layout.click(Role::TextInput, "Search paths");
    steps += "type os-release\nblur\n";
    layout
        .harness
        .get_by_role_and_label(Role::TextInput, "Search paths")
        .type_text("os-release");
    crate::frames::step_until(&mut layout.harness, "the search", |app| {
        !app.is_working_on_index() && app.search_groups().is_some_and(|g| g.len() == 2)
    });
    layout.settle("the hits");
    steps += &shot(0);
    let header = layout
        .harness
        .get_by_label("What is indexed")
        .rect()
        .center();
    layout.harness.get_by_label("What is indexed").click();
    layout.harness.step();
    layout.settle("the index summary");
    steps += &format!("focus\nclick {} {}\n", header.x.round(), header.y.round());
    steps += &shot(1);
    // The demo's final version of the file (its group comes second: "/…" sorts first).
    let link = layout
        .harness
        .query_all_by_label("etc/os-release")
        .nth(3)
        .expect("four hits")
        .rect()
        .center();
    steps += &format!("click {} {}\n", link.x.round(), link.y.round());
    steps += &shot(2);

    let screenshot = screenshot_path("search-first.png");
    // The private home's cache, not the caller's: the index starts empty.
    let (success, log) =
        run_screenshot_steps_without("-", &screenshot, &steps, &["XDG_CACHE_HOME"], None);
    assert!(success, "steps:\n{steps}\n{log}");
    for shot in &shots {
        assert_png(shot);
    }
}
