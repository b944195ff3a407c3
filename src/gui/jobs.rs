//! Background work for the app, always off the UI thread: resolving an image, peeking layers
//! and building file trees. Workers never panic; they report failures as values, stream
//! entries in batches over a channel and wake the UI after each message.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, unbounded};
use poll_promise::Promise;

use crate::cache::{ListingCache, stream_layer_cached};
use crate::cancel::CancelToken;
use crate::image::{ImageInfo, LayerInfo};
use crate::listing::{Entry, FileTree, LayerStatus, ListedFrom, merge_entries};
use crate::manifest::Platform;
use crate::open::{OpenOptions, OpenedImage, open_image};
use crate::peek::{LayerOutcome, PeekProgress};
use crate::registry::ClientOptions;
use crate::source::ImageSource;

/// A batch is sent once it holds this many entries…
const BATCH_ENTRIES: usize = 2000;
/// …or once its first entry has waited this long.
const BATCH_WAIT: Duration = Duration::from_millis(50);

/// What to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// What the user typed or picked: a reference, `oci:…`, a path, `demo`.
    pub reference: String,
    /// The platform to pick from a multi-arch index (`None`: the host's).
    pub platform: Option<Platform>,
    /// Allow plain http to registries that are not on loopback.
    pub insecure: bool,
}

/// A resolved image and the source that can stream its layers.
pub struct FetchedImage {
    /// The request that produced it.
    pub request: FetchRequest,
    /// Where the image's blobs come from (a registry, a file, the demo).
    pub source: Arc<dyn ImageSource>,
    /// Layers, platform and manifest digest.
    pub info: ImageInfo,
}

/// A running resolve; dropping it cancels the work.
pub struct FetchJob {
    /// `None` once the result was taken.
    promise: Option<Promise<Result<FetchedImage, String>>>,
    cancel: CancelToken,
}

impl FetchJob {
    /// Connects and resolves `request` on a worker thread; wakes `ctx` when done.
    pub fn start(request: FetchRequest, ctx: egui::Context) -> Result<Self, String> {
        let cancel = CancelToken::new();
        let (sender, promise) = Promise::new();
        let worker_cancel = cancel.clone();
        thread::Builder::new()
            .name("fetch".into())
            .spawn(move || {
                sender.send(resolve(request, &worker_cancel));
                ctx.request_repaint();
            })
            .map_err(|e| format!("could not start a worker thread: {e}"))?;
        Ok(Self {
            promise: Some(promise),
            cancel,
        })
    }

    /// The result once the worker is done (only once); `None` while it is still running.
    pub fn take_result(&mut self) -> Option<Result<FetchedImage, String>> {
        take_if_ready(&mut self.promise)
    }
}

impl Drop for FetchJob {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn resolve(request: FetchRequest, cancel: &CancelToken) -> Result<FetchedImage, String> {
    let options = OpenOptions {
        platform: request.platform.clone(),
        registry: ClientOptions {
            insecure: request.insecure,
            ..ClientOptions::default()
        },
    };
    let OpenedImage { source, info } =
        open_image(&request.reference, &options, cancel).map_err(|e| e.to_string())?;
    Ok(FetchedImage {
        request,
        source,
        info,
    })
}

/// Messages from a peek to the UI. `position` is the layer's place in the peeked list.
#[derive(Debug)]
pub enum PeekMessage {
    /// Entries decoded since the previous batch, in tar order.
    Entries {
        /// Which peeked layer.
        position: usize,
        /// The new entries.
        entries: Vec<Entry>,
    },
    /// A layer ended; all its entries arrived in earlier batches.
    LayerDone {
        /// Which peeked layer.
        position: usize,
        /// How reading it ended.
        status: LayerStatus,
        /// Compressed bytes received.
        bytes_read: u64,
        /// Whether the entries came from the blob or the listing cache.
        listed_from: ListedFrom,
    },
}

/// What the peeking thread hands to the batching thread.
enum RawEvent {
    Entry(usize, Entry),
    Done(usize, LayerOutcome),
}

/// A running peek of several layers; dropping it cancels the work.
pub struct PeekJob {
    cancel: CancelToken,
    progress: Vec<Arc<PeekProgress>>,
    messages: Receiver<PeekMessage>,
}

/// What [`PeekJob::poll`] found.
#[derive(Debug, Default)]
pub struct PeekPoll {
    /// Messages received, in order.
    pub messages: Vec<PeekMessage>,
    /// True when the workers have finished and everything was received.
    pub finished: bool,
}

impl PeekJob {
    /// Peeks `layers` one after another on a worker thread, streaming entries in batches;
    /// layers in `cache` are replayed from it, and complete ones stored.
    pub fn start(
        source: Arc<dyn ImageSource>,
        layers: Vec<LayerInfo>,
        cache: Option<Arc<ListingCache>>,
        ctx: egui::Context,
    ) -> Result<Self, String> {
        let cancel = CancelToken::new();
        let progress: Vec<Arc<PeekProgress>> = layers
            .iter()
            .map(|_| Arc::new(PeekProgress::default()))
            .collect();
        let (raw_sender, raw_receiver) = unbounded();
        let (sender, messages) = unbounded();
        let spawn_error = |e: std::io::Error| format!("could not start a worker thread: {e}");
        thread::Builder::new()
            .name("peek-batches".into())
            .spawn(move || {
                forward_in_batches(&raw_receiver, &sender, &ctx);
                // Wake the UI once more so it notices the closed channel promptly.
                drop(sender);
                ctx.request_repaint();
            })
            .map_err(spawn_error)?;
        let worker_cancel = cancel.clone();
        let worker_progress = progress.clone();
        thread::Builder::new()
            .name("peek".into())
            .spawn(move || {
                peek_all(
                    source.as_ref(),
                    cache.as_deref(),
                    &layers,
                    &worker_cancel,
                    &worker_progress,
                    &raw_sender,
                )
            })
            .map_err(spawn_error)?;
        Ok(Self {
            cancel,
            progress,
            messages,
        })
    }

    /// Live counters of the layer at `position`.
    pub fn progress(&self, position: usize) -> Option<&Arc<PeekProgress>> {
        self.progress.get(position)
    }

    /// Stops the work as soon as possible.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Takes every message that has arrived, without blocking.
    pub fn poll(&self) -> PeekPoll {
        let mut poll = PeekPoll::default();
        loop {
            match self.messages.try_recv() {
                Ok(message) => poll.messages.push(message),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    poll.finished = true;
                    break;
                }
            }
        }
        poll
    }
}

impl Drop for PeekJob {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn peek_all(
    source: &dyn ImageSource,
    cache: Option<&ListingCache>,
    layers: &[LayerInfo],
    cancel: &CancelToken,
    progress: &[Arc<PeekProgress>],
    events: &Sender<RawEvent>,
) {
    for (position, (layer, counters)) in layers.iter().zip(progress).enumerate() {
        let outcome = stream_layer_cached(cache, source, layer, cancel, counters, &mut |entry| {
            // A failed send means the UI is gone; the cancel token stops the work.
            let _ = events.send(RawEvent::Entry(position, entry));
        });
        let done = RawEvent::Done(position, outcome);
        if events.send(done).is_err() {
            return;
        }
    }
}

/// Groups entries into batches of [`BATCH_ENTRIES`] or [`BATCH_WAIT`], whichever comes first,
/// and wakes the UI after each message. Ends when the peeking thread ends or the UI is gone.
fn forward_in_batches(
    events: &Receiver<RawEvent>,
    messages: &Sender<PeekMessage>,
    ctx: &egui::Context,
) {
    let mut batch: Vec<Entry> = Vec::new();
    let mut batch_position = 0;
    let mut batch_deadline: Option<Instant> = None;
    let send = |message: PeekMessage| {
        let sent = messages.send(message).is_ok();
        ctx.request_repaint();
        sent
    };
    let flush = |batch: &mut Vec<Entry>, position: usize| {
        batch.is_empty()
            || send(PeekMessage::Entries {
                position,
                entries: std::mem::take(batch),
            })
    };
    loop {
        let event = match batch_deadline {
            Some(deadline) => events.recv_deadline(deadline),
            None => events.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let delivered = match event {
            Ok(RawEvent::Entry(position, entry)) => {
                let mut delivered = true;
                if position != batch_position {
                    delivered = flush(&mut batch, batch_position);
                    batch_position = position;
                }
                if batch.is_empty() {
                    batch_deadline = Some(Instant::now() + BATCH_WAIT);
                }
                batch.push(entry);
                if batch.len() >= BATCH_ENTRIES {
                    delivered &= flush(&mut batch, batch_position);
                    batch_deadline = None;
                }
                delivered
            }
            Ok(RawEvent::Done(position, outcome)) => {
                batch_deadline = None;
                flush(&mut batch, batch_position)
                    && send(PeekMessage::LayerDone {
                        position,
                        status: outcome.status,
                        bytes_read: outcome.bytes_read,
                        listed_from: outcome.listed_from,
                    })
            }
            Err(RecvTimeoutError::Timeout) => {
                batch_deadline = None;
                flush(&mut batch, batch_position)
            }
            Err(RecvTimeoutError::Disconnected) => {
                flush(&mut batch, batch_position);
                return;
            }
        };
        if !delivered {
            return;
        }
    }
}

/// Entries of one layer in the batches they arrived in, shared with background tree builds so
/// that starting a build copies no entries on the UI thread.
pub type EntryBatches = Vec<Arc<Vec<Entry>>>;

/// What a tree is built from.
pub enum TreeInput {
    /// One layer's entries.
    Layer {
        /// The layer's index in the image.
        layer_index: usize,
        /// Its entries so far.
        batches: EntryBatches,
    },
    /// Several layers, merged in order (whiteouts applied).
    Merged(Vec<(LayerInfo, EntryBatches)>),
}

impl TreeInput {
    fn build(self) -> FileTree {
        match self {
            Self::Layer {
                layer_index,
                batches,
            } => FileTree::build(
                batches
                    .iter()
                    .flat_map(|batch| batch.iter())
                    .map(|entry| (layer_index, entry)),
            ),
            Self::Merged(layers) => {
                let merged = merge_entries(layers.iter().map(|(layer, batches)| {
                    (layer.index, batches.iter().flat_map(|batch| batch.iter()))
                }));
                FileTree::build(merged.iter().map(|m| (m.layer_index, &m.entry)))
            }
        }
    }
}

/// A file tree being built on a worker thread (large trees take a while to build).
pub struct TreeBuildJob {
    /// `None` once the result was taken.
    promise: Option<Promise<FileTree>>,
}

impl TreeBuildJob {
    /// Builds the tree of `input` on a worker thread; wakes `ctx` when done.
    pub fn start(input: TreeInput, ctx: egui::Context) -> Result<Self, String> {
        let (sender, promise) = Promise::new();
        thread::Builder::new()
            .name("tree".into())
            .spawn(move || {
                sender.send(input.build());
                ctx.request_repaint();
            })
            .map_err(|e| format!("could not start a worker thread: {e}"))?;
        Ok(Self {
            promise: Some(promise),
        })
    }

    /// The tree once built (only once); `None` while the build runs.
    pub fn take_result(&mut self) -> Option<FileTree> {
        take_if_ready(&mut self.promise)
    }
}

/// Takes a promise's value once it is ready, leaving `None` behind; keeps a pending promise.
fn take_if_ready<T: Send>(slot: &mut Option<Promise<T>>) -> Option<T> {
    match slot.take()?.try_take() {
        Ok(value) => Some(value),
        Err(pending) => {
            *slot = Some(pending);
            None
        }
    }
}
