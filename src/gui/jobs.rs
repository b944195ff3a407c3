//! Background work for the app, always off the UI thread: resolving an image, peeking layers,
//! building file trees, analysing the layers, comparing two images and saving a file carved
//! out of the image. Workers never panic; they report failures as values, stream
//! entries in batches over a channel and wake the UI after each message.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, unbounded};
use poll_promise::Promise;

use crate::cancel::CancelToken;
use crate::gui::diff_view::{DiffTree, diff_tree};
use crate::gui::tree_view::{BuiltTree, TreeScope};
use crate::inspect::analysis::{Analysis, analyze};
use crate::inspect::carve::{self, CarveError, CarveReport, CarveTarget};
use crate::inspect::diff::{DiffRow, SharedListings, diff_filesystems};
use crate::layer::cache::ListingCache;
use crate::layer::list::{ContentNeed, ListingOptions};
use crate::layer::parallel::{Delivery, LayerEvent, ParallelPeek, default_concurrency};
use crate::layer::stream::PeekProgress;
use crate::model::{
    Change, Entry, EntryKind, LayerListing, LayerStatus, ListedFrom, MergedFilesystem,
    changes_of_layers, merge_layers,
};
use crate::oci::manifest::Platform;
use crate::oci::{ImageInfo, LayerInfo};
use crate::output::escape_control;
use crate::output::{self, Destination, ExportError};
use crate::source::ImageSource;
use crate::source::open::{OpenOptions, OpenedImage, open_image};
use crate::source::registry::ClientOptions;

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
        /// Whether the entries came from the blob, the listing cache or a TOC.
        listed_from: ListedFrom,
        /// Something the user should know about how the layer was read.
        note: Option<String>,
    },
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
    /// Peeks `layers` on worker threads (as many at once as there are cores), streaming
    /// entries in batches; layers in `cache` are replayed from it, and complete ones stored.
    /// With `need_content` every layer is read whole (no table of contents), so that regular
    /// files carry their content facts for the analysis.
    pub fn start(
        source: Arc<dyn ImageSource>,
        layers: Vec<LayerInfo>,
        cache: Option<Arc<ListingCache>>,
        need_content: bool,
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
                let peek = ParallelPeek {
                    source: source.as_ref(),
                    options: ListingOptions {
                        cache: cache.as_deref(),
                        use_toc: true,
                        content: content_need(need_content),
                    },
                    concurrency: default_concurrency(),
                    delivery: Delivery::AsTheyArrive,
                };
                peek.run(&layers, &worker_progress, &worker_cancel, &mut |event| {
                    // A failed send means the UI is gone; the cancel token stops the work.
                    raw_sender.send(event).ok();
                });
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

/// Groups each layer's entries into batches of [`BATCH_ENTRIES`] or [`BATCH_WAIT`],
/// whichever comes first, and wakes the UI after each message. Ends when the peek ends or the
/// UI is gone.
fn forward_in_batches(
    events: &Receiver<LayerEvent>,
    messages: &Sender<PeekMessage>,
    ctx: &egui::Context,
) {
    // Layers interleave when read in parallel: one batch per layer.
    let mut batches: BTreeMap<usize, Vec<Entry>> = BTreeMap::new();
    let mut deadline: Option<Instant> = None;
    let send = |message: PeekMessage| {
        let sent = messages.send(message).is_ok();
        ctx.request_repaint();
        sent
    };
    let flush = |batches: &mut BTreeMap<usize, Vec<Entry>>, position: usize| {
        batches.remove(&position).is_none_or(|entries| {
            entries.is_empty() || send(PeekMessage::Entries { position, entries })
        })
    };
    let flush_all = |batches: &mut BTreeMap<usize, Vec<Entry>>| {
        let positions: Vec<usize> = batches.keys().copied().collect();
        positions
            .into_iter()
            .all(|position| flush(batches, position))
    };
    loop {
        let event = match deadline {
            Some(deadline) => events.recv_deadline(deadline),
            None => events.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let delivered = match event {
            Ok(LayerEvent::Entry(position, entry)) => {
                if batches.is_empty() {
                    deadline = Some(Instant::now() + BATCH_WAIT);
                }
                let batch = batches.entry(position).or_default();
                batch.push(entry);
                batch.len() < BATCH_ENTRIES || flush(&mut batches, position)
            }
            // The batching thread keeps its own deadline.
            Ok(LayerEvent::Idle) => true,
            Ok(LayerEvent::Done(position, outcome)) => {
                flush(&mut batches, position)
                    && send(PeekMessage::LayerDone {
                        position,
                        status: outcome.status,
                        bytes_read: outcome.bytes_read,
                        listed_from: outcome.listed_from,
                        note: outcome.note,
                    })
            }
            Err(RecvTimeoutError::Timeout) => {
                deadline = None;
                flush_all(&mut batches)
            }
            Err(RecvTimeoutError::Disconnected) => {
                flush_all(&mut batches);
                return;
            }
        };
        if batches.is_empty() {
            deadline = None;
        }
        if !delivered {
            return;
        }
    }
}

/// Entries of one layer in the batches they arrived in, shared with background tree builds so
/// that starting a build copies no entries on the UI thread.
pub type EntryBatches = Vec<Arc<Vec<Entry>>>;

/// One peeked layer as background work sees it: which layer, and its entries so far.
#[derive(Clone)]
pub struct LayerEntries {
    /// Which layer.
    pub layer: LayerInfo,
    /// Its entries so far, in tar order.
    pub batches: EntryBatches,
}

impl LayerEntries {
    fn entries(&self) -> impl Iterator<Item = &Entry> + Clone {
        self.batches.iter().flat_map(|batch| batch.iter())
    }
}

/// The change of every entry of `layers` (base first), as
/// [`layer_changes`](crate::model::layer_changes) judges it
/// (without copying an entry).
fn changes_of(layers: &[LayerEntries]) -> Vec<Vec<Change>> {
    changes_of_layers(
        layers
            .iter()
            .map(|layer| (layer.layer.index, layer.entries())),
    )
}

/// What a tree is built from: the peeked layers, base first, and which tree to build.
pub enum TreeInput {
    /// The last layer's own entries; the layers before it only decide each entry's change.
    Layer(Vec<LayerEntries>),
    /// Several layers, merged in order (whiteouts applied).
    Merged(Vec<LayerEntries>),
    /// Only the changes of the last layer's entries (its tree is on screen already, growing
    /// as entries stream in).
    LayerChanges(Vec<LayerEntries>),
}

/// What a tree build produced.
pub enum TreeUpdate {
    /// A whole tree, to show instead of the one on screen.
    Tree(BuiltTree),
    /// The change of each entry (by index) of the layer whose tree is on screen.
    LayerChanges(Vec<Change>),
}

impl TreeInput {
    fn build(self) -> TreeUpdate {
        match self {
            Self::Layer(layers) => {
                let Some(shown) = layers.last() else {
                    return TreeUpdate::Tree(BuiltTree::default());
                };
                let mut built = BuiltTree::empty(TreeScope::Layer);
                let source = built.add_source(shown.layer.index, &[]);
                for batch in &shown.batches {
                    built.add_batch(source, Arc::clone(batch));
                }
                built.tree.sort_pending();
                if let Some(changes) = changes_of(&layers).pop() {
                    built.sources[source].changes = changes;
                }
                TreeUpdate::Tree(built)
            }
            Self::LayerChanges(layers) => {
                TreeUpdate::LayerChanges(changes_of(&layers).pop().unwrap_or_default())
            }
            Self::Merged(layers) => {
                let mut built = BuiltTree::empty(TreeScope::Merged {
                    base_layer: layers.first().map(|layer| layer.layer.index),
                });
                for (source, changes) in layers.iter().zip(changes_of(&layers)) {
                    let position = built.add_source(source.layer.index, &source.batches);
                    built.sources[position].changes = changes;
                }
                let mut filesystem = MergedFilesystem::default();
                for layer in &layers {
                    filesystem.apply(layer.layer.index, layer.entries());
                }
                // Sources are in the order of `layers`: find each entry's by its layer.
                let source_of: HashMap<usize, usize> = layers
                    .iter()
                    .enumerate()
                    .map(|(position, layer)| (layer.layer.index, position))
                    .collect();
                for (layer_index, index, entry) in filesystem.iter_positions() {
                    if let Some(&source) = source_of.get(&layer_index) {
                        built.insert_entry(source, index, entry);
                    }
                }
                drop(filesystem);
                built.tree.sort_pending();
                TreeUpdate::Tree(built)
            }
        }
    }
}

/// A file tree being built on a worker thread (large trees take a while to build).
pub struct TreeBuildJob {
    /// `None` once the result was taken.
    promise: Option<Promise<TreeUpdate>>,
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
    pub fn take_result(&mut self) -> Option<TreeUpdate> {
        take_if_ready(&mut self.promise)
    }
}

/// What one layer changes in the filesystem of the layers below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// Entries whose path did not exist below.
    pub added: usize,
    /// Entries whose path existed below.
    pub modified: usize,
    /// Whiteouts and opaque markers.
    pub removed: usize,
    /// Bytes of the added regular files.
    pub added_bytes: u64,
}

impl ChangeSummary {
    fn of<'a>(entries: impl Iterator<Item = &'a Entry>, changes: &[Change]) -> Self {
        let mut summary = Self::default();
        for (entry, change) in entries.zip(changes) {
            match change {
                Change::Added => {
                    summary.added += 1;
                    if entry.kind == EntryKind::File {
                        summary.added_bytes += entry.size;
                    }
                }
                Change::Modified => summary.modified += 1,
                Change::Removed => summary.removed += 1,
            }
        }
        summary
    }
}

/// The change summaries of peeked layers, computed on a worker thread.
pub struct ChangeSummaryJob {
    /// `None` once the result was taken.
    promise: Option<Promise<Vec<Option<ChangeSummary>>>>,
}

impl ChangeSummaryJob {
    /// Summarises the first `complete` of `layers` (base first; their entries are final), the
    /// others get `None`; wakes `ctx` when done.
    pub fn start(
        layers: Vec<LayerEntries>,
        complete: usize,
        ctx: egui::Context,
    ) -> Result<Self, String> {
        let (sender, promise) = Promise::new();
        thread::Builder::new()
            .name("changes".into())
            .spawn(move || {
                let summarised = &layers[..complete.min(layers.len())];
                let mut summaries: Vec<Option<ChangeSummary>> = summarised
                    .iter()
                    .zip(changes_of(summarised))
                    .map(|(layer, changes)| Some(ChangeSummary::of(layer.entries(), &changes)))
                    .collect();
                summaries.resize(layers.len(), None);
                sender.send(summaries);
                ctx.request_repaint();
            })
            .map_err(|e| format!("could not start a worker thread: {e}"))?;
        Ok(Self {
            promise: Some(promise),
        })
    }

    /// One summary per layer given (`None` past the complete ones), once computed (only
    /// once); `None` while the work runs.
    pub fn take_result(&mut self) -> Option<Vec<Option<ChangeSummary>>> {
        take_if_ready(&mut self.promise)
    }
}

/// Why a file could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Carving the file out of the image failed (or was cancelled).
    #[error(transparent)]
    Carve(#[from] CarveError),
    /// The destination could not be written.
    #[error(transparent)]
    File(#[from] ExportError),
}

/// A file being carved out of the image and saved; dropping it cancels the work and leaves
/// nothing at the destination.
pub struct CarveJob {
    /// `None` once the result was taken.
    promise: Option<Promise<Result<CarveReport, SaveError>>>,
    cancel: CancelToken,
    fetched: Arc<AtomicU64>,
}

impl CarveJob {
    /// Carves `target` from `source` into `destination` on a worker thread (written to a
    /// temporary file beside it, renamed into place only when complete); wakes `ctx` when done.
    pub fn start(
        source: Arc<dyn ImageSource>,
        target: CarveTarget,
        destination: PathBuf,
        ctx: egui::Context,
    ) -> Result<Self, String> {
        let cancel = CancelToken::new();
        let fetched = Arc::new(AtomicU64::new(0));
        let (sender, promise) = Promise::new();
        let (worker_cancel, worker_fetched) = (cancel.clone(), Arc::clone(&fetched));
        thread::Builder::new()
            .name("carve".into())
            .spawn(move || {
                let saved = save_carved(
                    source.as_ref(),
                    &target,
                    destination,
                    &worker_cancel,
                    &worker_fetched,
                );
                sender.send(saved);
                ctx.request_repaint();
            })
            .map_err(|e| format!("could not start a worker thread: {e}"))?;
        Ok(Self {
            promise: Some(promise),
            cancel,
            fetched,
        })
    }

    /// Blob bytes fetched so far.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// The result once the worker is done (only once); `None` while it is still running.
    pub fn take_result(&mut self) -> Option<Result<CarveReport, SaveError>> {
        take_if_ready(&mut self.promise)
    }
}

impl Drop for CarveJob {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Carves `target` into `destination` atomically: on failure or cancellation nothing is left.
fn save_carved(
    source: &dyn ImageSource,
    target: &CarveTarget,
    destination: PathBuf,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
) -> Result<CarveReport, SaveError> {
    let mut carved = None;
    let written = output::write_to(&Destination::File(destination), |out| {
        let result = match carve::carve(source, target, cancel, fetched, out) {
            // Cancelled at the last moment: still leave nothing behind.
            Ok(_) if cancel.is_cancelled() => Err(CarveError::Cancelled),
            other => other,
        };
        let failed = result.is_err();
        carved = Some(result);
        if failed {
            Err(ExportError::Encode("the carve failed".into()))
        } else {
            Ok(())
        }
    });
    match (carved, written) {
        (Some(Ok(report)), Ok(())) => Ok(report),
        (Some(Err(error)), _) => Err(error.into()),
        (_, Err(error)) => Err(error.into()),
        (None, Ok(())) => Err(CarveError::Layer {
            path: target.path.clone(),
            layer: target.layer.index,
            reason: "nothing was carved".into(),
        }
        .into()),
    }
}

/// A peeked layer as background work takes it: its entries (shared, not copied) and how its
/// reading ended.
#[derive(Clone)]
pub struct PeekedListing {
    /// The layer and its entries.
    pub entries: LayerEntries,
    /// How reading it ended.
    pub status: LayerStatus,
    /// Compressed bytes received.
    pub bytes_read: u64,
    /// Whether the entries came from the blob, the listing cache or a TOC.
    pub listed_from: ListedFrom,
}

impl PeekedListing {
    /// The layer as a listing (its entries copied, on the worker).
    fn into_listing(self) -> LayerListing {
        LayerListing {
            entries: self.entries.entries().cloned().collect(),
            layer: self.entries.layer,
            status: self.status,
            bytes_read: self.bytes_read,
            listed_from: self.listed_from,
        }
    }
}

/// A finished analysis.
pub struct AnalysisDone {
    /// What [`analyze`] found.
    pub analysis: Analysis,
    /// Regular files listed without their content facts: the duplicate and content checks
    /// could not look at them.
    pub files_without_content: usize,
}

/// The analysis of the peeked layers, computed on a worker thread.
pub struct AnalysisJob {
    /// `None` once the result was taken.
    promise: Option<Promise<AnalysisDone>>,
}

impl AnalysisJob {
    /// Analyses `layers` (base first) with [`analyze`]; wakes `ctx` when done.
    pub fn start(layers: Vec<PeekedListing>, ctx: egui::Context) -> Result<Self, String> {
        let (sender, promise) = Promise::new();
        thread::Builder::new()
            .name("analysis".into())
            .spawn(move || {
                let listings: Vec<LayerListing> = layers
                    .into_iter()
                    .map(PeekedListing::into_listing)
                    .collect();
                let files_without_content = listings
                    .iter()
                    .flat_map(|listing| &listing.entries)
                    .filter(|entry| entry.kind == EntryKind::File && entry.content.is_none())
                    .count();
                sender.send(AnalysisDone {
                    analysis: analyze(&listings),
                    files_without_content,
                });
                ctx.request_repaint();
            })
            .map_err(|e| format!("could not start a worker thread: {e}"))?;
        Ok(Self {
            promise: Some(promise),
        })
    }

    /// The analysis once computed (only once); `None` while the work runs.
    pub fn take_result(&mut self) -> Option<AnalysisDone> {
        take_if_ready(&mut self.promise)
    }
}

/// What to compare image A (on screen) with.
pub struct CompareRequest {
    /// Image B: what the user typed, and the platform to pick from an index.
    pub image_b: FetchRequest,
    /// Where image A's blobs come from.
    pub source_a: Arc<dyn ImageSource>,
    /// Every layer of image A, base first.
    pub layers_a: Vec<LayerInfo>,
    /// The layers of A already peeked; complete ones are not read again.
    pub peeked_a: Vec<PeekedListing>,
    /// Listings of layers seen before.
    pub cache: Option<Arc<ListingCache>>,
    /// Read whole layers for their content facts (no table of contents).
    pub need_content: bool,
}

/// A finished comparison.
pub struct CompareResult {
    /// The request for image B that was compared (its platform as resolved).
    pub request_b: FetchRequest,
    /// Image B as resolved.
    pub image_b: ImageInfo,
    /// Layers of B that A has too (same digest): their listings were taken from A's.
    pub shared_layers: usize,
    /// Layers of A read for the comparison (not peeked before).
    pub read_a: usize,
    /// Layers of B read for the comparison (not shared with A).
    pub read_b: usize,
    /// The differing paths, sorted by path.
    pub rows: Vec<DiffRow>,
    /// The same rows as a directory tree.
    pub tree: DiffTree,
    /// Layers not read completely: the comparison may miss differences in them.
    pub notes: Vec<String>,
}

/// How a comparison is going, for the UI to show.
#[derive(Default)]
pub struct CompareProgress {
    /// What is being done, e.g. `Reading 2 layers of B…`.
    stage: Mutex<String>,
    /// The layers being read now: their compressed sizes and live counters.
    reading: Mutex<Vec<(u64, Arc<PeekProgress>)>>,
}

impl CompareProgress {
    /// What is being done.
    pub fn stage(&self) -> String {
        self.stage.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Compressed bytes read so far and the total, over the layers being read now.
    pub fn bytes(&self) -> (u64, u64) {
        self.reading.lock().map_or((0, 0), |reading| {
            reading
                .iter()
                .fold((0, 0), |(read, total), (size, progress)| {
                    (read + progress.bytes_read().min(*size), total + size)
                })
        })
    }

    fn set_stage(&self, stage: impl Into<String>) {
        if let Ok(mut slot) = self.stage.lock() {
            *slot = stage.into();
        }
    }

    fn set_reading(&self, reading: Vec<(u64, Arc<PeekProgress>)>) {
        if let Ok(mut slot) = self.reading.lock() {
            *slot = reading;
        }
    }
}

/// A comparison of image A with image B running on a worker thread; dropping it cancels it.
pub struct CompareJob {
    /// `None` once the result was taken.
    promise: Option<Promise<Result<CompareResult, String>>>,
    cancel: CancelToken,
    progress: Arc<CompareProgress>,
}

impl CompareJob {
    /// Opens image B, reads the layers of A not peeked yet and the layers of B that A does
    /// not share, and diffs the two final filesystems; wakes `ctx` as it goes and when done.
    pub fn start(request: CompareRequest, ctx: egui::Context) -> Result<Self, String> {
        let cancel = CancelToken::new();
        let progress = Arc::new(CompareProgress::default());
        let (sender, promise) = Promise::new();
        let (worker_cancel, worker_progress) = (cancel.clone(), Arc::clone(&progress));
        thread::Builder::new()
            .name("compare".into())
            .spawn(move || {
                let result = compare(request, &worker_cancel, &worker_progress, &ctx);
                sender.send(result);
                ctx.request_repaint();
            })
            .map_err(|e| format!("could not start a worker thread: {e}"))?;
        Ok(Self {
            promise: Some(promise),
            cancel,
            progress,
        })
    }

    /// How the comparison is going.
    pub fn progress(&self) -> &CompareProgress {
        &self.progress
    }

    /// The result once the worker is done (only once); `None` while it is still running.
    pub fn take_result(&mut self) -> Option<Result<CompareResult, String>> {
        take_if_ready(&mut self.promise)
    }
}

impl Drop for CompareJob {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn compare(
    request: CompareRequest,
    cancel: &CancelToken,
    progress: &CompareProgress,
    ctx: &egui::Context,
) -> Result<CompareResult, String> {
    let CompareRequest {
        image_b,
        source_a,
        layers_a,
        peeked_a,
        cache,
        need_content,
    } = request;
    progress.set_stage(format!("Opening {}…", escape_control(&image_b.reference)));
    ctx.request_repaint();
    let opened = resolve(image_b, cancel)?;
    let options = ListingOptions {
        cache: cache.as_deref(),
        use_toc: true,
        content: content_need(need_content),
    };
    let mut peeked: HashMap<usize, LayerListing> = peeked_a
        .into_iter()
        .filter(|layer| layer.status.is_complete())
        .map(|layer| (layer.entries.layer.index, layer.into_listing()))
        .collect();
    let unread_a: Vec<LayerInfo> = layers_a
        .iter()
        .filter(|layer| !peeked.contains_key(&layer.index))
        .cloned()
        .collect();
    let read_a = unread_a.len();
    let mut fresh_a = if unread_a.is_empty() {
        Vec::new()
    } else {
        progress.set_stage(format!("Reading {} of image A…", layers_word(read_a)));
        read_listings(source_a.as_ref(), &unread_a, options, cancel, progress, ctx)
    }
    .into_iter();
    let listings_a: Vec<LayerListing> = layers_a
        .iter()
        .filter_map(|layer| peeked.remove(&layer.index).or_else(|| fresh_a.next()))
        .collect();
    if cancel.is_cancelled() {
        return Err("cancelled".into());
    }
    let shared = SharedListings::new(&listings_a, &opened.info.layers);
    let shared_layers = shared.shared;
    let read_b = shared.unread.len();
    let fresh_b = if shared.unread.is_empty() {
        Vec::new()
    } else {
        progress.set_stage(format!(
            "Reading {} of image B ({shared_layers} shared with A)…",
            layers_word(read_b)
        ));
        read_listings(
            opened.source.as_ref(),
            &shared.unread,
            options,
            cancel,
            progress,
            ctx,
        )
    };
    let listings_b = shared.complete(fresh_b);
    if cancel.is_cancelled() {
        return Err("cancelled".into());
    }
    progress.set_reading(Vec::new());
    progress.set_stage("Comparing the final filesystems…");
    ctx.request_repaint();
    let rows = diff_filesystems(&merge_layers(&listings_a), &merge_layers(&listings_b));
    let tree = diff_tree(&rows);
    let notes = [("A", &listings_a), ("B", &listings_b)]
        .into_iter()
        .flat_map(|(image, listings)| {
            listings
                .iter()
                .filter(|listing| !listing.status.is_complete())
                .map(move |listing| {
                    format!(
                        "layer {} of image {image} was not read completely ({}): differences in it may be missing",
                        listing.layer.index,
                        listing.status.label()
                    )
                })
        })
        .collect();
    Ok(CompareResult {
        request_b: opened.request,
        image_b: opened.info,
        shared_layers,
        read_a,
        read_b,
        rows,
        tree,
        notes,
    })
}

/// `1 layer`, `3 layers`.
fn layers_word(count: usize) -> String {
    format!("{count} layer{}", if count == 1 { "" } else { "s" })
}

/// Reads `layers` whole into listings, in layer order, counting progress in `progress`.
fn read_listings(
    source: &dyn ImageSource,
    layers: &[LayerInfo],
    options: ListingOptions<'_>,
    cancel: &CancelToken,
    progress: &CompareProgress,
    ctx: &egui::Context,
) -> Vec<LayerListing> {
    let counters: Vec<Arc<PeekProgress>> = layers.iter().map(|_| Arc::default()).collect();
    progress.set_reading(
        layers
            .iter()
            .map(LayerInfo::size)
            .zip(counters.iter().cloned())
            .collect(),
    );
    let peek = ParallelPeek {
        source,
        options,
        concurrency: default_concurrency(),
        delivery: Delivery::InLayerOrder,
    };
    let mut listings = Vec::with_capacity(layers.len());
    let mut entries = Vec::new();
    peek.run(layers, &counters, cancel, &mut |event| match event {
        LayerEvent::Entry(_, entry) => entries.push(entry),
        LayerEvent::Idle => ctx.request_repaint(),
        LayerEvent::Done(position, outcome) => {
            listings
                .push(outcome.into_listing(layers[position].clone(), std::mem::take(&mut entries)));
            ctx.request_repaint();
        }
    });
    listings
}

/// Whether listings must carry content facts: with `need_content`, layers are read whole.
fn content_need(need_content: bool) -> ContentNeed {
    if need_content {
        ContentNeed::Required
    } else {
        ContentNeed::WhenStreamed
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
