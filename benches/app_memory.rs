//! Time and memory of the desktop app on one big layer, against the CLI on the same layer.
//!
//!     cargo bench --bench app_memory                      # 1,000 directories of 1,000 files
//!     cargo bench --bench app_memory -- --dirs 100 --files 1000
//!     cargo bench --bench app_memory -- --merged   # the merged view open while it streams
//!
//! Generates one zstd layer of `dirs` directories of `files` empty files each (1,001,000
//! entries by default) as an OCI image layout, then:
//! 1. times `layerslayer peek oci:DIR --csv /dev/null` (the baseline);
//! 2. runs this benchmark again as a child process that drives the real app headless
//!    (egui_kittest): fetch, tick the layer, Peek, step frames until the layer is complete and
//!    the Files tree holds every entry; the child prints its time and its own peak RSS
//!    (`VmHWM`), so the parent's memory does not count.
//!
//! Goals (issue 13): app time ÷ CLI time ≤ 1.5, app peak RSS ≤ 384 MiB.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::images::TestLayer;
use common::layouts::write_single_image_layout;
use common::{bench_arg, layerslayer_command};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use layerslayer::gui::{FixedSavePath, LayerslayerApp};

/// The argument that makes this binary the app-driving child.
const CHILD_FLAG: &str = "--app-child";
/// The longest the app may take.
const APP_DEADLINE: Duration = Duration::from_secs(600);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(position) = args.iter().position(|arg| arg == CHILD_FLAG) {
        let reference = args
            .get(position + 1)
            .expect("the child takes the image reference");
        drive_app(reference, args.iter().any(|arg| arg == "--merged"));
        return;
    }
    let dirs: usize = bench_arg("--dirs", "1000").parse().expect("--dirs N");
    let files: usize = bench_arg("--files", "1000").parse().expect("--files N");
    let work = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let reference = write_layout(&work.path().join("layout"), dirs, files);
    let entries = dirs * (files + 1);
    println!(
        "layer: {dirs} directories of {files} files = {entries} entries (generated in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let status = layerslayer_command()
        .args(["peek", &reference, "--csv", "/dev/null", "-q"])
        .stdout(Stdio::null())
        .status()
        .expect("run layerslayer peek");
    let cli = started.elapsed();
    assert!(status.success(), "peek failed: {status}");
    println!(
        "cli: peek --csv /dev/null           {:>7.2} s",
        cli.as_secs_f64()
    );

    let merged = std::env::args().any(|arg| arg == "--merged");
    let mut child_args = vec![CHILD_FLAG, &reference];
    if merged {
        child_args.push("--merged");
        println!("app: the merged view is open while the layer streams");
    }
    let output = Command::new(std::env::current_exe().expect("this benchmark's path"))
        .args(child_args)
        .env("XDG_CACHE_HOME", common::NO_CACHE_DIR)
        .stderr(Stdio::inherit())
        .output()
        .expect("run the app child");
    assert!(output.status.success(), "the app child failed");
    let report = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> f64 {
        report
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in the child's report: {report}"))
    };
    let complete = field("complete_seconds=");
    let idle = field("idle_seconds=");
    let peak_mib = field("peak_rss_kib=") / 1024.0;
    let peak_at_complete_mib = field("peak_rss_at_complete_kib=") / 1024.0;
    println!("app: peek until Complete           {complete:>7.2} s");
    println!("app: until idle (summaries, analysis) {idle:>4.2} s");
    println!(
        "ratio app/cli (Complete): {:.2}× (goal ≤ 1.5×)",
        complete / cli.as_secs_f64()
    );
    println!("app peak RSS when Complete: {peak_at_complete_mib:.0} MiB");
    println!(
        "app peak RSS: {peak_mib:.0} MiB = {:.0} bytes per entry (goal ≤ 384 MiB)",
        peak_mib * 1024.0 * 1024.0 / entries as f64
    );
}

/// Writes the layer (header-only members straight into a zstd stream) and its image as an OCI
/// layout in `dir`; returns the `oci:` reference.
fn write_layout(dir: &Path, dirs: usize, files: usize) -> String {
    let layer = TestLayer::header_only_zstd("app_memory", |append| {
        for d in 0..dirs {
            append(
                format!("data/dir-{d:04}/"),
                tar::EntryType::Directory,
                0o755,
            );
            for f in 0..files {
                append(
                    format!("data/dir-{d:04}/file-{f:05}.txt"),
                    tar::EntryType::Regular,
                    0o644,
                );
            }
        }
    });
    write_single_image_layout(dir, &[layer]);
    format!("oci:{}", dir.display())
}

/// The child: drives the app through fetch → tick → Peek → Complete (with the merged view
/// chosen as soon as the peek starts when `merged`), and reports on stdout.
fn drive_app(reference: &str, merged: bool) {
    let save_to = std::env::temp_dir().join("app_memory_unused.csv");
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| {
            LayerslayerApp::new_for_tests(None, Box::new(FixedSavePath(save_to)))
        });
    harness.step();
    harness.get_by_label("Image reference").focus();
    harness.step();
    harness.get_by_label("Image reference").type_text(reference);
    harness.step();
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(&mut harness, "the image to open", |app| {
        !app.is_busy() && app.image().is_some()
    });
    assert_eq!(harness.state().last_error(), None);
    harness.get_by_label("Layer 0").click();
    harness.step();
    harness.step();
    let started = Instant::now();
    harness.get_by_label("Peek").click();
    harness.step();
    if merged {
        harness.get_by_label("Tree").click();
        harness.step();
        harness.step();
        harness.get_by_label("Merged: final filesystem").click();
        harness.step();
        assert!(!harness.state().peek_finished(), "the peek ended too soon");
    }
    step_until(&mut harness, "the layer to be complete", |app| {
        app.peek_finished() && !app.is_building_tree()
    });
    let complete = started.elapsed();
    let peak_at_complete = common::peak_rss_kib();
    step_until(&mut harness, "the app to be idle", |app| !app.is_busy());
    let idle = started.elapsed();
    let listed = harness.state().peeked_entry_count(0);
    eprintln!("app listed {listed} entries");
    println!("complete_seconds={}", complete.as_secs_f64());
    println!("idle_seconds={}", idle.as_secs_f64());
    println!("peak_rss_at_complete_kib={peak_at_complete}");
    println!("peak_rss_kib={}", common::peak_rss_kib());
}

fn step_until(
    harness: &mut Harness<'_, LayerslayerApp>,
    what: &str,
    done: impl Fn(&LayerslayerApp) -> bool,
) {
    let deadline = Instant::now() + APP_DEADLINE;
    while !done(harness.state()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status: {:?}",
            harness.state().status_message()
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.step();
}
