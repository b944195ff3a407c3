//! Progress on stderr: one bar per layer, refreshed from the layers' counters.

use std::sync::Arc;
use std::time::Duration;

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
