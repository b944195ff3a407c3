//! Frame cost of the file tree panel with 100k entries: building the tree, flattening it into
//! rows, and drawing frames (egui pass + tessellation) while scrolling through it.
//!
//! Run with `cargo bench --bench tree_frames`. Everything runs on this thread and is CPU-bound,
//! so the wall time measured per frame is the frame's CPU time.

use std::time::{Duration, Instant};

use egui::{Event, Modifiers, MouseWheelSource, MouseWheelUnit, RawInput, TouchPhase};
use layerslayer::gui::TreeView;
use layerslayer::gui::widgets::files_tree::BuiltTree;
use layerslayer::model::{Entry, EntryKind, LayerListing, LayerStatus, merge_layers};

const TOP_DIRS: usize = 200;
const SUB_DIRS: usize = 10;
const FILES_PER_DIR: usize = 50;
const FRAMES: usize = 600;

fn entry(path: String, kind: EntryKind, size: u64) -> Entry {
    Entry {
        mtime: 1_700_000_000,
        link_target: (kind == EntryKind::Symlink).then(|| "../target".into()),
        ..Entry::new(path, kind, size)
    }
}

/// 100,000 files (every tenth a symlink) in 2,000 directories under 200 top-level ones.
fn synthetic_entries() -> Vec<Entry> {
    let mut entries = Vec::with_capacity(TOP_DIRS * SUB_DIRS * (FILES_PER_DIR + 1) + TOP_DIRS);
    for top in 0..TOP_DIRS {
        entries.push(entry(format!("usr/share/pkg-{top:03}"), EntryKind::Dir, 0));
        for sub in 0..SUB_DIRS {
            let dir = format!("usr/share/pkg-{top:03}/module-{sub:02}");
            entries.push(entry(dir.clone(), EntryKind::Dir, 0));
            for file in 0..FILES_PER_DIR {
                let kind = if file % 10 == 9 {
                    EntryKind::Symlink
                } else {
                    EntryKind::File
                };
                let size = (file as u64 + 1) * 1234;
                entries.push(entry(format!("{dir}/file-{file:03}.dat"), kind, size));
            }
        }
    }
    entries
}

fn listing_of(index: usize, entries: Vec<Entry>) -> LayerListing {
    LayerListing {
        layer: layerslayer::oci::LayerInfo {
            index,
            descriptor: serde_json::from_value(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": format!("sha256:{index:064}"),
                "size": 0
            }))
            .expect("descriptor"),
            created_by: None,
        },
        entries,
        result: layerslayer::model::LayerResult::ended(LayerStatus::Complete {
            digest_verified: true,
        }),
    }
}

/// Mean and maximum of `samples`.
fn summary(samples: &[Duration]) -> (Duration, Duration) {
    let total: Duration = samples.iter().sum();
    let mean = total / samples.len().max(1) as u32;
    let max = samples.iter().copied().max().unwrap_or_default();
    (mean, max)
}

fn time<R>(label: &str, runs: usize, mut work: impl FnMut() -> R) -> R {
    let mut samples = Vec::with_capacity(runs);
    let mut result = None;
    for _ in 0..runs {
        let started = Instant::now();
        result = Some(work());
        samples.push(started.elapsed());
    }
    let (mean, max) = summary(&samples);
    println!("{label:<44} mean {mean:>10.2?}  max {max:>10.2?}  ({runs} runs)");
    result.expect("at least one run")
}

/// Draws `frames` frames of the tree panel, scrolling down by `scroll` points per frame.
fn frame_times(view: &mut TreeView, frames: usize, scroll: f32) -> Vec<Duration> {
    let ctx = egui::Context::default();
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1200.0, 800.0));
    let mut samples = Vec::with_capacity(frames);
    for frame in 0..frames {
        let mut input = RawInput {
            screen_rect: Some(screen),
            time: Some(frame as f64 / 60.0),
            predicted_dt: 1.0 / 60.0,
            ..RawInput::default()
        };
        input.events.push(Event::PointerMoved(screen.center()));
        if scroll != 0.0 {
            input.events.push(Event::MouseWheel {
                unit: MouseWheelUnit::Point,
                delta: egui::vec2(0.0, -scroll),
                phase: TouchPhase::Move,
                source: MouseWheelSource::Wheel,
                modifiers: Modifiers::NONE,
            });
        }
        let started = Instant::now();
        let mut output = ctx.run_ui(input, |ui| {
            egui::CentralPanel::default().show(ui, |ui| view.show_rows(ui));
        });
        // No renderer here: the font atlas uploads are dropped.
        output.textures_delta.clear();
        let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
        samples.push(started.elapsed());
        std::hint::black_box(primitives);
    }
    samples
}

fn report_frames(label: &str, samples: &[Duration]) {
    let (first, rest) = samples.split_first().expect("frames");
    let (mean, max) = summary(rest);
    let mut sorted = rest.to_vec();
    sorted.sort();
    let p99 = sorted[sorted.len() * 99 / 100];
    println!(
        "{label:<44} mean {mean:>10.2?}  p99 {p99:>10.2?}  max {max:>10.2?}  (first frame {first:.2?}, {} frames)",
        rest.len()
    );
}

fn main() {
    let entries = synthetic_entries();
    println!(
        "tree_frames: {} entries ({} directories)",
        entries.len(),
        entries.iter().filter(|e| e.kind == EntryKind::Dir).count()
    );

    let tree = time("BuiltTree::of_layer (one layer)", 5, || {
        BuiltTree::of_layer(0, entries.clone())
    });
    let (lower, upper) = entries.split_at(entries.len() / 2);
    let listings = [listing_of(0, lower.to_vec()), listing_of(1, upper.to_vec())];
    time("merge_layers + BuiltTree::of_layer (2 layers)", 5, || {
        let merged = merge_layers(&listings);
        BuiltTree::of_layer(0, merged.into_iter().map(|m| m.entry).collect())
    });

    let mut view = TreeView::new();
    let mut copies: Vec<BuiltTree> = (0..5).map(|_| tree.clone()).collect();
    let collapsed = time(
        "set_built_tree (old tree dropped), rows collapsed",
        5,
        || {
            view.set_built_tree(copies.pop().expect("one copy per run"));
            view.rows().len()
        },
    );
    let expanded = time("rows, everything expanded", 5, || {
        view.expand_all();
        view.rows().len()
    });
    let filtered = time("rows, filter \"module-07/file-04\"", 5, || {
        view.set_filter("module-07/file-04");
        view.rows().len()
    });
    println!("rows: {collapsed} collapsed, {expanded} expanded, {filtered} filtered");

    view.set_filter("");
    report_frames(
        "frame, all expanded, idle",
        &frame_times(&mut view, FRAMES, 0.0),
    );
    report_frames(
        "frame, all expanded, scrolling 400 pt/frame",
        &frame_times(&mut view, FRAMES, 400.0),
    );
    view.set_filter("file-00");
    report_frames(
        "frame, filter \"file-00\", scrolling",
        &frame_times(&mut view, FRAMES, 400.0),
    );
}
