//! Several layers at once: bounded concurrency, progress per layer, one cancel for all;
//! [`read_listings`] collects them into listings for the CLI and the app alike.
//!
//! Workers list layers (from the cache or a table of contents where they can) and send their entries
//! to the calling thread, which hands them on either as they arrive or in layer order. In layer
//! order, the entries of layers that finish early wait in a spool that moves to a temporary file
//! beyond 50,000 entries, so memory stays bounded however many entries wait.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender, bounded};

use crate::cancel::CancelToken;
use crate::layer::list::{ListingOptions, list_layer};
use crate::layer::stream::PeekProgress;
use crate::model::{Entry, LayerListing, LayerResult, LayerStatus};
use crate::oci::LayerInfo;
use crate::source::ImageSource;

/// Entries of a waiting layer kept in memory before they move to a temporary file.
pub(crate) const SPOOL_MEMORY_ENTRIES: usize = 50_000;
/// Events in flight between the workers and the calling thread.
const EVENTS_IN_FLIGHT: usize = 4096;

/// The default number of layers read at once: the machine's cores, at least 2.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism()
        .map_or(2, usize::from)
        .max(2)
}

/// In which order events reach the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// All of the first layer's events, then the second's, …: for output in layer order.
    InLayerOrder,
    /// As they arrive, interleaved across layers: for a UI that shows every layer live.
    AsTheyArrive,
}

/// What the caller receives. `position` is the layer's place in the list given.
#[derive(Debug)]
pub enum LayerEvent {
    /// One tar entry of the layer at `position`.
    Entry(usize, Entry),
    /// The layer at `position` ended; all its entries came before.
    Done(usize, LayerResult),
    /// Nothing arrived for 50 ms: a moment to flush buffered output.
    Idle,
}

impl LayerEvent {
    /// The position of the layer the event belongs to (none for [`LayerEvent::Idle`]).
    pub fn position(&self) -> Option<usize> {
        match self {
            Self::Entry(position, _) | Self::Done(position, _) => Some(*position),
            Self::Idle => None,
        }
    }
}

/// How long the workers may be quiet before the caller gets [`LayerEvent::Idle`].
pub(crate) const IDLE_AFTER: Duration = Duration::from_millis(50);

/// How to read several layers: from where, through which cache, how many at once, and in
/// which order the caller gets the events.
#[derive(Clone, Copy)]
pub struct ParallelPeek<'a> {
    /// Where the blobs come from.
    pub source: &'a dyn ImageSource,
    /// Cache and table-of-contents use.
    pub options: ListingOptions<'a>,
    /// Layers read at once (at least 1).
    pub concurrency: usize,
    /// The order of the events.
    pub delivery: Delivery,
}

impl ParallelPeek<'_> {
    /// Reads `layers`, each counted in its `progress` (same length as `layers`), and hands the
    /// events to `on_event` on the calling thread. Returns when every layer has ended;
    /// `cancel` stops them all.
    pub fn run(
        &self,
        layers: &[LayerInfo],
        progress: &[Arc<PeekProgress>],
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(LayerEvent),
    ) {
        let next = AtomicUsize::new(0);
        let (sender, events) = bounded(EVENTS_IN_FLIGHT);
        std::thread::scope(|scope| {
            for _ in 0..self.concurrency.clamp(1, layers.len().max(1)) {
                let sender = sender.clone();
                let next = &next;
                scope.spawn(move || {
                    worker(
                        self.source,
                        self.options,
                        layers,
                        progress,
                        cancel,
                        next,
                        &sender,
                    )
                });
            }
            drop(sender);
            let mut order = Reorder::new(layers.len(), self.delivery);
            loop {
                match events.recv_timeout(IDLE_AFTER) {
                    Ok(event) => order.push(event, on_event),
                    Err(RecvTimeoutError::Timeout) => on_event(LayerEvent::Idle),
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            // A worker that could not send ended its layer early; say so rather than lose it.
            order.finish(on_event);
        });
    }
}

/// What [`read_listings`] tells its caller while the layers are read.
#[derive(Debug)]
pub enum ReadProgress<'a> {
    /// Nothing arrived for 50 ms: a moment to show progress.
    Idle,
    /// The layer at `position` ended; this is its listing.
    LayerDone(usize, &'a LayerListing),
}

/// Reads `layers` into listings, in layer order: `concurrency` layers at once, each counted
/// in its `progress` (same length as `layers`), from the cache or a table of contents where
/// `options` allow. `on_progress` hears each layer's end (and quiet moments) on the calling
/// thread; `cancel` stops them all. Never fails as a whole: each listing says in its result
/// how its layer ended, and keeps the entries read before a failure.
pub fn read_listings(
    source: &dyn ImageSource,
    layers: &[LayerInfo],
    options: ListingOptions<'_>,
    concurrency: usize,
    progress: &[Arc<PeekProgress>],
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(ReadProgress<'_>),
) -> Vec<LayerListing> {
    let peek = ParallelPeek {
        source,
        options,
        concurrency,
        delivery: Delivery::InLayerOrder,
    };
    let mut listings: Vec<LayerListing> = Vec::with_capacity(layers.len());
    let mut entries = Vec::new();
    peek.run(layers, progress, cancel, &mut |event| match event {
        LayerEvent::Entry(_, entry) => entries.push(entry),
        LayerEvent::Idle => on_progress(ReadProgress::Idle),
        LayerEvent::Done(position, result) => {
            let Some(layer) = layers.get(position) else {
                return;
            };
            listings.push(LayerListing {
                layer: layer.clone(),
                entries: std::mem::take(&mut entries),
                result,
            });
            if let Some(listing) = listings.last() {
                on_progress(ReadProgress::LayerDone(position, listing));
            }
        }
    });
    listings
}

fn worker(
    source: &dyn ImageSource,
    options: ListingOptions<'_>,
    layers: &[LayerInfo],
    progress: &[Arc<PeekProgress>],
    cancel: &CancelToken,
    next: &AtomicUsize,
    events: &Sender<LayerEvent>,
) {
    loop {
        let position = next.fetch_add(1, Ordering::Relaxed);
        let (Some(layer), Some(counters)) = (layers.get(position), progress.get(position)) else {
            return;
        };
        let outcome = list_layer(source, layer, options, cancel, counters, &mut |entry| {
            // A failed send means the caller is gone; the cancel token stops the work.
            events.send(LayerEvent::Entry(position, entry)).ok();
        });
        if events.send(LayerEvent::Done(position, outcome)).is_err() {
            return;
        }
    }
}

/// Hands events on in the chosen order, spooling the entries of layers that must wait.
struct Reorder {
    delivery: Delivery,
    /// The layer whose events are handed on directly (in layer order).
    current: usize,
    waiting: Vec<Spool>,
    done: Vec<bool>,
}

impl Reorder {
    fn new(layers: usize, delivery: Delivery) -> Self {
        Self {
            delivery,
            current: 0,
            waiting: (0..layers).map(|_| Spool::default()).collect(),
            done: vec![false; layers],
        }
    }

    fn push(&mut self, event: LayerEvent, on_event: &mut dyn FnMut(LayerEvent)) {
        let Some(position) = event.position() else {
            on_event(event);
            return;
        };
        if let LayerEvent::Done(..) = event
            && let Some(done) = self.done.get_mut(position)
        {
            *done = true;
        }
        if self.delivery == Delivery::AsTheyArrive || position == self.current {
            let finished_current = matches!(event, LayerEvent::Done(..));
            on_event(event);
            if self.delivery == Delivery::InLayerOrder && finished_current {
                self.advance(on_event);
            }
            return;
        }
        if let Some(spool) = self.waiting.get_mut(position) {
            spool.push(event);
        }
    }

    /// Moves on past the finished current layer, handing on what the next ones spooled.
    fn advance(&mut self, on_event: &mut dyn FnMut(LayerEvent)) {
        loop {
            self.current += 1;
            let Some(spool) = self.waiting.get_mut(self.current) else {
                return;
            };
            let spool = std::mem::take(spool);
            let finished = spool.drain(self.current, on_event);
            if !finished {
                return;
            }
        }
    }

    /// After the workers ended: layers that never reported an end are reported failed.
    fn finish(&mut self, on_event: &mut dyn FnMut(LayerEvent)) {
        while self.current < self.done.len() {
            if !self.done[self.current] {
                let status = LayerStatus::Failed("the peek stopped before this layer ended".into());
                let result = LayerResult::ended(status);
                self.push(LayerEvent::Done(self.current, result), on_event);
            } else {
                self.advance(on_event);
            }
        }
    }
}

/// Events of a layer that must wait: entries in memory, then in a temporary file.
#[derive(Default)]
struct Spool {
    memory: Vec<Entry>,
    file: Option<BufWriter<File>>,
    spilled: usize,
    /// A spool that could not be written; its layer ends failed.
    error: Option<String>,
    done: Option<LayerResult>,
}

impl Spool {
    fn push(&mut self, event: LayerEvent) {
        match event {
            LayerEvent::Entry(_, entry) => {
                self.memory.push(entry);
                if self.memory.len() >= SPOOL_MEMORY_ENTRIES
                    && let Err(error) = self.spill()
                {
                    self.error.get_or_insert(error.to_string());
                }
            }
            LayerEvent::Done(_, outcome) => self.done = Some(outcome),
            LayerEvent::Idle => {}
        }
    }

    /// Moves the entries in memory to the end of the temporary file.
    fn spill(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(BufWriter::new(tempfile::tempfile()?));
        }
        if let Some(file) = &mut self.file {
            for entry in self.memory.drain(..) {
                serde_json::to_writer(&mut *file, &entry)?;
                file.write_all(b"\n")?;
                self.spilled += 1;
            }
        }
        Ok(())
    }

    /// Hands on everything spooled for the layer at `position`; returns whether it ended.
    fn drain(self, position: usize, on_event: &mut dyn FnMut(LayerEvent)) -> bool {
        let mut error = self.error;
        if let Some(file) = self.file
            && let Err(failure) = replay(file, &mut |entry| {
                on_event(LayerEvent::Entry(position, entry))
            })
        {
            error.get_or_insert(failure.to_string());
        }
        for entry in self.memory {
            on_event(LayerEvent::Entry(position, entry));
        }
        match (self.done, error) {
            (Some(outcome), None) => {
                on_event(LayerEvent::Done(position, outcome));
                true
            }
            (Some(outcome), Some(error)) => {
                let status = LayerStatus::Failed(format!(
                    "some entries were lost while waiting for earlier layers: {error}"
                ));
                on_event(LayerEvent::Done(
                    position,
                    LayerResult { status, ..outcome },
                ));
                true
            }
            (None, _) => false,
        }
    }
}

fn replay(file: BufWriter<File>, on_entry: &mut dyn FnMut(Entry)) -> io::Result<()> {
    let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.seek(SeekFrom::Start(0))?;
    for line in BufReader::new(file).lines() {
        on_entry(serde_json::from_str(&line?)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntryKind, ListedFrom};

    fn entry(layer: usize, i: usize) -> Entry {
        Entry::new(format!("layer-{layer}/{i}"), EntryKind::File, i as u64)
    }

    fn done() -> LayerResult {
        LayerResult::new(
            LayerStatus::Complete {
                digest_verified: true,
            },
            1,
            ListedFrom::Blob,
        )
    }

    #[test]
    fn later_layers_wait_in_order_even_beyond_the_memory_bound() {
        let mut reorder = Reorder::new(3, Delivery::InLayerOrder);
        let mut seen = Vec::new();
        let mut record = |event: LayerEvent| {
            seen.push(match event {
                LayerEvent::Entry(position, entry) => format!("{position}:{}", entry.path),
                LayerEvent::Done(position, _) => format!("{position}:done"),
                LayerEvent::Idle => "idle".into(),
            })
        };
        let many = SPOOL_MEMORY_ENTRIES + 10;
        // Layer 2 finishes first (spilling to its file), then layer 1, then layer 0.
        for i in 0..many {
            reorder.push(LayerEvent::Entry(2, entry(2, i)), &mut record);
        }
        reorder.push(LayerEvent::Done(2, done()), &mut record);
        reorder.push(LayerEvent::Entry(1, entry(1, 0)), &mut record);
        reorder.push(LayerEvent::Entry(0, entry(0, 0)), &mut record);
        reorder.push(LayerEvent::Done(1, done()), &mut record);
        assert_eq!(reorder.waiting[2].spilled, SPOOL_MEMORY_ENTRIES);
        reorder.push(LayerEvent::Entry(0, entry(0, 1)), &mut record);
        reorder.push(LayerEvent::Done(0, done()), &mut record);
        reorder.finish(&mut record);
        let mut expected = vec![
            "0:layer-0/0".to_owned(),
            "0:layer-0/1".into(),
            "0:done".into(),
            "1:layer-1/0".into(),
            "1:done".into(),
        ];
        expected.extend((0..many).map(|i| format!("2:layer-2/{i}")));
        expected.push("2:done".into());
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_layer_that_never_ended_is_reported_failed() {
        let mut reorder = Reorder::new(2, Delivery::InLayerOrder);
        let mut ends = Vec::new();
        reorder.push(LayerEvent::Done(1, done()), &mut |_| {});
        reorder.finish(&mut |event| {
            if let LayerEvent::Done(position, outcome) = event {
                ends.push((position, outcome.status.is_complete()));
            }
        });
        assert_eq!(ends, [(0, false), (1, true)]);
    }
}
