//! Random access into an ordinary gzip layer through its index (`layer::index`): one listing
//! records the index, then a file near the end is carved with one range request. Prints the
//! blob bytes fetched, the time to the first bytes, the index size against the blob, and the
//! listing time with the index recorded against without.
//!
//!     cargo bench --bench zran                            # /tmp/libs.tar.gz
//!     cargo bench --bench zran -- --blob some.tar.gz --runs 3
//!
//! Make the default blob with `tar -C / -cf - usr/lib/x86_64-linux-gnu | gzip > /tmp/libs.tar.gz`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use layerslayer::cancel::CancelToken;
use layerslayer::inspect::carve::CarveSearch;
use layerslayer::layer::cache::{DEFAULT_MAX_BYTES, ListingCache};
use layerslayer::layer::list::{ContentNeed, ListingOptions, list_layer};
use layerslayer::layer::stream::PeekProgress;
use layerslayer::model::{EntryKind, LayerStatus};
use layerslayer::source::open::open_image;

/// Notes when the first bytes arrive.
struct FirstBytes {
    started: Instant,
    first: Option<Duration>,
    bytes: Vec<u8>,
}

impl Write for FirstBytes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.first.is_none() && !buf.is_empty() {
            self.first = Some(self.started.elapsed());
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn main() {
    let blob_path = common::bench_arg("--blob", "/tmp/libs.tar.gz");
    let runs: usize = common::bench_arg("--runs", "3").parse().expect("--runs N");
    let blob = std::fs::read(&blob_path).expect("read the blob");
    let registry = common::TestRegistry::start();
    let reference = common::images::push_layer_blob(
        &registry,
        "zran",
        &blob,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &Default::default(),
    );
    let cancel = CancelToken::new();
    let opened = open_image(&reference, &Default::default(), &cancel).expect("open");
    let layer = &opened.info.layers[0];
    let work = tempfile::tempdir().expect("tempdir");
    let mut entries = Vec::new();
    let mut list = |cache: Option<&ListingCache>, keep: bool| {
        let started = Instant::now();
        let result = list_layer(
            opened.source.as_ref(),
            layer,
            ListingOptions {
                cache,
                use_toc: false,
                content: ContentNeed::Skip,
            },
            &cancel,
            &Arc::new(PeekProgress::default()),
            &mut |entry| {
                if keep {
                    entries.push(entry);
                }
            },
        );
        assert!(
            matches!(result.status, LayerStatus::Complete { .. }),
            "{:?}",
            result.status
        );
        started.elapsed()
    };
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for run in 0..runs {
        without.push(list(None, run == 0).as_secs_f64());
        let cache = ListingCache::open(work.path().join(format!("c{run}")), DEFAULT_MAX_BYTES)
            .expect("cache");
        with.push(list(Some(&cache), false).as_secs_f64());
    }
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let (without, with) = (median(&mut without), median(&mut with));
    let cache = ListingCache::open(work.path().join("c0"), DEFAULT_MAX_BYTES).expect("cache");
    let index_len: u64 = std::fs::read_dir(cache.dir())
        .expect("cache dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().to_string_lossy().ends_with(".gzindex"))
        .map(|e| e.metadata().expect("metadata").len())
        .sum();
    // A file near the end: the last regular file of at least 64 KiB.
    let target = entries
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::File && e.size >= 64 * 1024)
        .expect("a file near the end");
    let search = CarveSearch {
        version: Default::default(),
        source: opened.source.as_ref(),
        cache: Some(&cache),
    };
    let fetched = Arc::new(AtomicU64::new(0));
    let mut out = FirstBytes {
        started: Instant::now(),
        first: None,
        bytes: Vec::new(),
    };
    let (_, report) = search
        .carve_path(
            &opened.info.layers,
            &target.path,
            &cancel,
            &fetched,
            &mut out,
        )
        .expect("carve");
    let total = out.started.elapsed();
    let compressed = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        encoder.write_all(&out.bytes).expect("gzip");
        encoder.finish().expect("gzip").len() as u64
    };
    let bound = blob.len() as u64 / 100 + compressed;
    let blob_len = blob.len() as f64;
    println!("blob: {blob_path}, {:.1} MB", blob_len / 1e6);
    println!(
        "listing without the index {without:.3} s, with it {with:.3} s: {:.3}x (goal <= 1.1x)",
        with / without
    );
    println!(
        "index: {index_len} bytes = {:.2}% of the blob (goal <= 2%)",
        index_len as f64 * 100.0 / blob_len
    );
    println!(
        "carve {} ({} bytes, {} gzipped, {} entries from the end): fetched {} bytes = {:.3}% of \
         the blob (goal <= 1% + the file's compressed size = {bound}: {}); first bytes after \
         {:.3} s (goal <= 0.3 s), all after {:.3} s",
        target.path,
        out.bytes.len(),
        compressed,
        entries.len()
            - entries
                .iter()
                .rposition(|e| e.path == target.path)
                .unwrap_or(0),
        report.bytes_fetched,
        report.bytes_fetched as f64 * 100.0 / blob_len,
        if report.bytes_fetched <= bound {
            "met"
        } else {
            "missed"
        },
        out.first.unwrap_or_default().as_secs_f64(),
        total.as_secs_f64()
    );
}
