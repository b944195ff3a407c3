//! What `analyze` costs over a plain full listing of the same image: both read every layer
//! whole from the same OCI layout (no network, so the extra CPU is all there is to see), in
//! alternating rounds; prints the medians and their ratio (the goal: at most 1.15).
//!
//! - plain listing: the layers streamed with file data skipped (`peek --no-toc`);
//! - analysis: the layers streamed with every file hashed (XXH3-128) and its first 8 KiB
//!   searched for secrets, then waste, duplicates and flags computed.
//!
//! Run it with:
//!
//!     cargo bench --bench analyze -- --rounds 5 --trees /usr/share,/usr/include,/usr/bin,/usr/lib/python3

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::images::TestLayer;
use common::layouts::{IndexEntry, LayoutImage, write_oci_layout};
use layerslayer::cancel::CancelToken;
use layerslayer::inspect::analysis::analyze;
use layerslayer::layer::list::{ContentNeed, ListingOptions};
use layerslayer::layer::parallel::{default_concurrency, read_listings};
use layerslayer::layer::stream::PeekProgress;
use layerslayer::model::LayerListing;

/// Reads every layer of the image at `layout` with `content`; returns the listings and the
/// time it took (opening the image included).
fn read_all(layout: &str, content: ContentNeed) -> (Vec<LayerListing>, Duration) {
    let started = Instant::now();
    let (source, image) =
        common::open_with(layout, Default::default(), None).expect("open the layout");
    let progress: Vec<Arc<PeekProgress>> = image.layers.iter().map(|_| Arc::default()).collect();
    let options = ListingOptions {
        cache: None,
        use_toc: false,
        content,
    };
    let listings = read_listings(
        source.as_ref(),
        &image.layers,
        options,
        default_concurrency(),
        &progress,
        &CancelToken::new(),
        &mut |_| {},
    );
    for listing in &listings {
        let status = &listing.result.status;
        assert!(status.is_complete(), "{status:?}");
    }
    (listings, started.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let rounds: usize = common::bench_arg("--rounds", "5")
        .parse()
        .expect("--rounds N");
    let trees = common::bench_arg(
        "--trees",
        "/usr/share,/usr/include,/usr/bin,/usr/lib/python3",
    );
    let work = tempfile::tempdir().expect("tempdir");
    let layers: Vec<TestLayer> = trees
        .split(',')
        .map(|tree| common::bench::tree_test_layer(tree, work.path()))
        .collect();
    let layout = work.path().join("layout");
    write_oci_layout(
        &layout,
        &[IndexEntry::Image(
            None,
            LayoutImage {
                layers: &layers,
                architecture: "amd64",
            },
        )],
    );
    let layout = layout.display().to_string();
    let compressed: usize = layers.iter().map(|l| l.blob.len()).sum();
    println!(
        "image: {} gzip layers of {trees}, {:.1} MiB compressed; {rounds} alternating rounds",
        layers.len(),
        compressed as f64 / (1024.0 * 1024.0)
    );
    let (mut plain, mut analysed, mut analysis_only) = (Vec::new(), Vec::new(), Vec::new());
    let mut report = None;
    for _ in 0..rounds {
        plain.push(read_all(&layout, ContentNeed::Skip).1);
        let started = Instant::now();
        let (listings, read) = read_all(&layout, ContentNeed::Required);
        report = Some(analyze(&listings));
        analysed.push(started.elapsed());
        analysis_only.push(started.elapsed() - read);
    }
    let (plain, analysed, analysis_only) = (median(plain), median(analysed), median(analysis_only));
    if let Some(report) = report {
        println!(
            "analysis: {} files' bytes, {} wasted, {} duplicate groups, {} flags",
            report.total_bytes,
            report.wasted_bytes,
            report.duplicates.len(),
            report.flags.len()
        );
    }
    println!("plain full listing   {:>8.3} s", plain.as_secs_f64());
    println!(
        "listing + analysis   {:>8.3} s   ratio {:.3} (goal ≤ 1.15)",
        analysed.as_secs_f64(),
        analysed.as_secs_f64() / plain.as_secs_f64()
    );
    println!(
        "  of which analyze() {:>8.3} s (waste, duplicates, flags from the listings)",
        analysis_only.as_secs_f64()
    );
}
