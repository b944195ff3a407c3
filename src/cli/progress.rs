//! Progress on stderr: one bar per layer, refreshed from the layers' counters.

use std::io::{self, IsTerminal as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::layer::list::ListingOptions;
use crate::layer::parallel::{ReadProgress, default_concurrency, read_listings};
use crate::model::LayerListing;
use crate::source::ImageSource;

use crate::layer::stream::PeekProgress;
use crate::oci::LayerInfo;

/// One progress bar per layer on stderr, refreshed from the layers' counters.
pub(crate) struct ProgressBars {
    all: indicatif::MultiProgress,
    bars: Vec<indicatif::ProgressBar>,
}

impl ProgressBars {
    pub(crate) fn new(layers: &[LayerInfo]) -> Self {
        let all = indicatif::MultiProgress::new();
        let style = indicatif::ProgressStyle::with_template(
            "layer {prefix} {bar:30} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        let bars = layers
            .iter()
            .map(|layer| {
                let bar = all.add(indicatif::ProgressBar::new(layer.size()));
                bar.set_style(style.clone());
                bar.set_prefix(layer.index.to_string());
                bar
            })
            .collect();
        Self { all, bars }
    }

    /// Refreshes every unfinished bar ten times a second until `finished`.
    pub(crate) fn tick_until(
        &self,
        finished: &std::sync::atomic::AtomicBool,
        progress: &[Arc<PeekProgress>],
    ) {
        while !finished.load(std::sync::atomic::Ordering::Relaxed) {
            for (bar, counters) in self.bars.iter().zip(progress) {
                if !bar.is_finished() {
                    bar.set_position(counters.bytes_read());
                    let resumed = match counters.resumes() {
                        0 => String::new(),
                        n => format!(", resumed ×{n}"),
                    };
                    bar.set_message(format!("{} entries{resumed}", counters.entries()));
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.all.clear().ok();
    }

    pub(crate) fn finish(&self, position: usize) {
        if let Some(bar) = self.bars.get(position) {
            bar.finish_and_clear();
        }
    }
}

/// Reads `layers` as [`read_listings`] does, `jobs` at once (default: the cores), with
/// progress bars on stderr when it is a terminal and `quiet` is not set; `on_layer` hears each
/// layer's listing as it ends. The one loop behind `analyze`, `log`, `diff` and `index`.
pub(crate) fn read_with_bars(
    source: &dyn ImageSource,
    layers: &[LayerInfo],
    options: ListingOptions<'_>,
    jobs: Option<u16>,
    quiet: bool,
    cancel: &CancelToken,
    on_layer: &mut dyn FnMut(&LayerListing),
) -> Vec<LayerListing> {
    let progress: Vec<Arc<PeekProgress>> = layers.iter().map(|_| Arc::default()).collect();
    let bars = (!quiet && io::stderr().is_terminal()).then(|| ProgressBars::new(layers));
    let concurrency = jobs.map_or_else(default_concurrency, usize::from);
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if let Some(bars) = &bars {
            scope.spawn(|| bars.tick_until(&finished, &progress));
        }
        let listings = read_listings(
            source,
            layers,
            options,
            concurrency,
            &progress,
            cancel,
            &mut |event| {
                let ReadProgress::LayerDone(position, listing) = event else {
                    return;
                };
                if let Some(bars) = &bars {
                    bars.finish(position);
                }
                on_layer(listing);
            },
        );
        finished.store(true, Ordering::Relaxed);
        listings
    })
}
