//! Background work for the app, always off the UI thread: resolving an image, peeking layers,
//! building file trees, analysing the layers, comparing two images and saving a file carved
//! out of the image. Each is a [`Job`] with its own `start`; the workflows the CLI runs too
//! (reading listings, comparing images) are the core's, called from here. Workers report
//! failures as values, stream entries in batches over a channel and wake the UI after each
//! message.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::gui::job::{Job, JobPanicked, Worker};
use crate::gui::preview::{PreviewContent, PreviewRequest, load_preview};
use crate::gui::version_diff::{VersionDiff, diff_versions};
use crate::gui::widgets::compare_tree::{DiffTree, diff_tree};
use crate::gui::widgets::files_tree::{BuiltTree, TreeScope};
use crate::inspect::analysis::{Analysis, LayerView, analyze_layers};
use crate::inspect::carve::{self, CarveError, CarveReport, CarveTarget};
use crate::inspect::diff::{
    CompareImage, CompareReader, ComparedListing, Comparison, DiffRow, ReadRequest, Side,
    compare_images,
};
use crate::layer::cache::ListingCache;
use crate::layer::list::{ContentNeed, ListingOptions};
use crate::layer::parallel::{
    Delivery, LayerEvent, ParallelPeek, default_concurrency, read_listings,
};
use crate::layer::stream::PeekProgress;
use crate::model::{
    Change, Entry, EntryKind, LayerListing, LayerResult, MergedFilesystem, changes_of_layers,
};
use crate::oci::manifest::Platform;
use crate::oci::{ImageInfo, LayerInfo};
use crate::output::escape_control;
use crate::output::{self, Destination, ExportError};
use crate::source::ImageSource;
use crate::source::SourceError;
use crate::source::open::{Location, OpenOptions, OpenedImage, open_location};
use crate::source::registry::{ClientOptions, Credential, RegistryError};

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
    /// The login signed in with in the app for the image's registry (`None`: Docker's and
    /// podman's config files, then the OS keyring). Its `Debug` never shows the password.
    pub credential: Option<Credential>,
}

/// A resolved image and the source that can stream its layers.
pub struct FetchedImage {
    /// The request that produced it.
    pub request: FetchRequest,
    /// Where the image's blobs come from (a registry, a file, the demo).
    pub source: Arc<dyn ImageSource>,
    /// Layers, platform and manifest digest.
    pub info: ImageInfo,
    /// Whether its layers are cheap enough to peek as soon as it opens.
    pub first_look: FirstLook,
}

/// Why an image could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    /// What went wrong, for the user.
    pub message: String,
    /// The request that failed (to try again, e.g. with a login).
    pub request: Option<Box<FetchRequest>>,
    /// The registry (as written in references, e.g. `ghcr.io`) that refused access for want
    /// of a login or because the login was wrong: a sign-in can help.
    pub login_needed: Option<String>,
}

impl From<JobPanicked> for FetchError {
    fn from(panicked: JobPanicked) -> Self {
        Self {
            message: panicked.to_string(),
            request: None,
            login_needed: None,
        }
    }
}

impl From<String> for FetchError {
    /// A failure no login can help with.
    fn from(message: String) -> Self {
        Self {
            message,
            request: None,
            login_needed: None,
        }
    }
}

impl From<FetchError> for String {
    fn from(error: FetchError) -> Self {
        error.message
    }
}

/// When to peek an image as soon as it opens: when its layers are cheap to list.
#[derive(Debug, Clone, Default)]
pub struct FirstLookRule {
    /// Peek automatically when the layers' compressed sizes add up to at most this many
    /// bytes (or the image is local, or every layer is cached or has a table of contents);
    /// `None`: never peek automatically.
    pub size_limit: Option<u64>,
    /// The listing cache, to tell whether every layer is in it.
    pub cache: Option<Arc<ListingCache>>,
}

/// Whether an image just opened is peeked at once, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstLook {
    /// Automatic peeks are off.
    Off,
    /// Its layers are cheap to list: why (e.g. "a local image").
    Cheap(String),
    /// A registry image whose layers total this many compressed bytes, over the limit: it
    /// waits for Peek.
    Large(u64),
}

impl FirstLookRule {
    /// Judges the image at `location`, just resolved: cheapest reasons first.
    fn judge(&self, location: &Location, info: &ImageInfo) -> FirstLook {
        let Some(limit) = self.size_limit else {
            return FirstLook::Off;
        };
        let total: u64 = info.layers.iter().map(LayerInfo::size).sum();
        if location.is_local() {
            return FirstLook::Cheap("a local image".into());
        }
        if total <= limit {
            return FirstLook::Cheap(format!("{} in all", output::human_size(total)));
        }
        if info.layers.iter().all(crate::layer::toc::announces_toc) {
            return FirstLook::Cheap("every layer has a table of contents".into());
        }
        if let Some(cache) = &self.cache
            && info.layers.iter().all(|layer| cache.holds(layer.digest()))
        {
            return FirstLook::Cheap("every layer is cached".into());
        }
        FirstLook::Large(total)
    }
}

/// A running resolve; dropping it cancels the work.
pub type FetchJob = Job<Result<FetchedImage, FetchError>>;

impl FetchJob {
    /// Connects and resolves `request` on a worker thread, then judges by `rule` whether its
    /// layers are cheap to peek; wakes `ctx` when done.
    pub fn start(
        request: FetchRequest,
        rule: FirstLookRule,
        ctx: egui::Context,
    ) -> Result<Self, String> {
        Job::spawn("fetch", &ctx, move |worker| {
            resolve(request, &rule, worker.cancel_token())
        })
    }
}

fn resolve(
    request: FetchRequest,
    rule: &FirstLookRule,
    cancel: &CancelToken,
) -> Result<FetchedImage, FetchError> {
    let fail = |error: SourceError, request: &FetchRequest, location: Option<&Location>| {
        // Only a registry's own refusal asks for a login (a refused token realm does not).
        let refused = matches!(
            error.cause::<RegistryError>(),
            Some(RegistryError::Unauthorized { .. })
        );
        let login_needed = match location {
            Some(Location::Registry(reference)) if refused => Some(reference.registry().to_owned()),
            _ => None,
        };
        FetchError {
            message: error.to_string(),
            request: Some(Box::new(request.clone())),
            login_needed,
        }
    };
    let options = OpenOptions {
        platform: request.platform.clone(),
        registry: ClientOptions {
            insecure: request.insecure,
            credential: request.credential.clone(),
            ..ClientOptions::default()
        },
    };
    let location = Location::parse(&request.reference)
        .map_err(|e| fail(e, &request, None))?
        .engine_first();
    let OpenedImage { source, info } = open_location(&location, &options, cancel)
        .map_err(|e| fail(e, &request, Some(&location)))?;
    let first_look = rule.judge(&location, &info);
    Ok(FetchedImage {
        request,
        source,
        info,
        first_look,
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
        result: LayerResult,
    },
}

/// A running peek of several layers, its live counters per layer, and the messages it sends;
/// dropping it cancels the work.
pub type PeekJob = Job<(), Vec<Arc<PeekProgress>>, PeekMessage>;

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
        let progress: Vec<Arc<PeekProgress>> = layers
            .iter()
            .map(|_| Arc::new(PeekProgress::default()))
            .collect();
        Job::spawn_with("peek", &ctx, progress, move |worker| {
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
            let mut batches = Batches::new(worker);
            peek.run(
                &layers,
                worker.progress(),
                worker.cancel_token(),
                &mut |event| {
                    if !batches.push(event) {
                        // The UI is gone: stop the work.
                        worker.cancel_token().cancel();
                    }
                },
            );
            batches.flush_all();
        })
    }

    /// Live counters of the layer at `position`.
    pub fn layer_progress(&self, position: usize) -> Option<&Arc<PeekProgress>> {
        self.progress().get(position)
    }
}

/// Groups each layer's entries into batches of [`BATCH_ENTRIES`] or [`BATCH_WAIT`],
/// whichever comes first, and sends them on with each layer's end.
struct Batches<'w> {
    worker: &'w Worker<Vec<Arc<PeekProgress>>, PeekMessage>,
    /// Layers interleave when read in parallel: one batch per layer.
    batches: BTreeMap<usize, Vec<Entry>>,
    /// When the oldest entry waiting must be sent.
    deadline: Option<Instant>,
}

impl<'w> Batches<'w> {
    fn new(worker: &'w Worker<Vec<Arc<PeekProgress>>, PeekMessage>) -> Self {
        Self {
            worker,
            batches: BTreeMap::new(),
            deadline: None,
        }
    }

    /// Takes in one event of the peek; false when the UI is gone.
    fn push(&mut self, event: LayerEvent) -> bool {
        let delivered = match event {
            LayerEvent::Entry(position, entry) => {
                if self.batches.is_empty() {
                    self.deadline = Some(Instant::now() + BATCH_WAIT);
                }
                let batch = self.batches.entry(position).or_default();
                batch.push(entry);
                batch.len() < BATCH_ENTRIES || self.flush(position)
            }
            // The layers went quiet: send what waits.
            LayerEvent::Idle => self.flush_all(),
            LayerEvent::Done(position, result) => {
                self.flush(position)
                    && self
                        .worker
                        .send(PeekMessage::LayerDone { position, result })
            }
        };
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return self.flush_all() && delivered;
        }
        if self.batches.is_empty() {
            self.deadline = None;
        }
        delivered
    }

    /// Sends the batch of the layer at `position`, if any; false when the UI is gone.
    fn flush(&mut self, position: usize) -> bool {
        self.batches.remove(&position).is_none_or(|entries| {
            entries.is_empty() || self.worker.send(PeekMessage::Entries { position, entries })
        })
    }

    /// Sends every batch; false when the UI is gone.
    fn flush_all(&mut self) -> bool {
        self.deadline = None;
        let positions: Vec<usize> = self.batches.keys().copied().collect();
        positions.into_iter().all(|position| self.flush(position))
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
pub type TreeBuildJob = Job<TreeUpdate>;

impl TreeBuildJob {
    /// Builds the tree of `input` on a worker thread; wakes `ctx` when done.
    pub fn start(input: TreeInput, ctx: egui::Context) -> Result<Self, String> {
        Job::spawn("tree", &ctx, move |_| input.build())
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

/// The change summaries of peeked layers, computed on a worker thread: one summary per layer
/// given (`None` past the complete ones).
pub type ChangeSummaryJob = Job<Vec<Option<ChangeSummary>>>;

impl ChangeSummaryJob {
    /// Summarises the first `complete` of `layers` (base first; their entries are final), the
    /// others get `None`; wakes `ctx` when done.
    pub fn start(
        layers: Vec<LayerEntries>,
        complete: usize,
        ctx: egui::Context,
    ) -> Result<Self, String> {
        Job::spawn("changes", &ctx, move |_| {
            let summarised = &layers[..complete.min(layers.len())];
            let mut summaries: Vec<Option<ChangeSummary>> = summarised
                .iter()
                .zip(changes_of(summarised))
                .map(|(layer, changes)| Some(ChangeSummary::of(layer.entries(), &changes)))
                .collect();
            summaries.resize(layers.len(), None);
            summaries
        })
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
    /// The save's worker stopped unexpectedly.
    #[error(transparent)]
    Stopped(#[from] JobPanicked),
}

/// A file being carved out of the image and saved, counting the blob bytes fetched; dropping
/// it cancels the work and leaves nothing at the destination.
pub type CarveJob = Job<Result<CarveReport, SaveError>, AtomicU64>;

impl CarveJob {
    /// Carves `target` from `source` into `destination` on a worker thread (written to a
    /// temporary file beside it, renamed into place only when complete); wakes `ctx` when done.
    pub fn start(
        source: Arc<dyn ImageSource>,
        target: CarveTarget,
        destination: PathBuf,
        ctx: egui::Context,
    ) -> Result<Self, String> {
        Job::spawn_with("carve", &ctx, AtomicU64::new(0), move |worker| {
            save_carved(
                source.as_ref(),
                &target,
                destination,
                worker.cancel_token(),
                worker.progress(),
            )
        })
    }

    /// Blob bytes fetched so far.
    pub fn fetched(&self) -> u64 {
        self.progress().load(Ordering::Relaxed)
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
    pub result: LayerResult,
}

impl PeekedListing {
    /// The layer as a listing (its entries copied; call it on a worker).
    pub fn into_listing(self) -> LayerListing {
        LayerListing {
            entries: self.entries.entries().cloned().collect(),
            layer: self.entries.layer,
            result: self.result,
        }
    }

    /// The layer as a comparison takes it: its batches shared, no entry copied.
    fn into_compared(self) -> ComparedListing {
        ComparedListing {
            layer: self.entries.layer,
            result: self.result,
            batches: self.entries.batches,
        }
    }
}

/// A finished analysis.
pub struct AnalysisDone {
    /// What [`analyze_layers`] found.
    pub analysis: Analysis,
    /// Regular files listed without their content facts: the duplicate and content checks
    /// could not look at them.
    pub files_without_content: usize,
}

/// The analysis of the peeked layers, computed on a worker thread.
pub type AnalysisJob = Job<AnalysisDone>;

impl AnalysisJob {
    /// Analyses `layers` (base first) with [`analyze_layers`], borrowing their entries; wakes `ctx` when done.
    pub fn start(layers: Vec<PeekedListing>, ctx: egui::Context) -> Result<Self, String> {
        Job::spawn("analysis", &ctx, move |_| {
            // The peek's batches are borrowed, not copied.
            let views: Vec<LayerView<'_, _>> = layers
                .iter()
                .map(|layer| LayerView {
                    index: layer.entries.layer.index,
                    status: &layer.result.status,
                    entries: layer.entries.entries(),
                })
                .collect();
            let files_without_content = views
                .iter()
                .flat_map(|view| view.entries.clone())
                .filter(|entry| entry.kind == EntryKind::File && entry.content.is_none())
                .count();
            AnalysisDone {
                analysis: analyze_layers(&views),
                files_without_content,
            }
        })
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
    /// Where image B's blobs come from (for previewing its files).
    pub source_b: Arc<dyn ImageSource>,
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

/// A comparison of image A with image B running on a worker thread, and how it is going;
/// dropping it cancels it.
pub type CompareJob = Job<Result<CompareResult, FetchError>, CompareProgress>;

impl CompareJob {
    /// Opens image B, reads the layers of A not peeked yet and the layers of B that A does
    /// not share, and diffs the two final filesystems; wakes `ctx` as it goes and when done.
    pub fn start(request: CompareRequest, ctx: egui::Context) -> Result<Self, String> {
        Job::spawn_with("compare", &ctx, CompareProgress::default(), move |worker| {
            compare(request, worker)
        })
    }
}

fn compare(
    request: CompareRequest,
    worker: &Worker<CompareProgress>,
) -> Result<CompareResult, FetchError> {
    let CompareRequest {
        image_b,
        source_a,
        layers_a,
        peeked_a,
        cache,
        need_content,
    } = request;
    let progress = worker.progress();
    progress.set_stage(format!("Opening {}…", escape_control(&image_b.reference)));
    worker.repaint();
    let opened = resolve(image_b, &FirstLookRule::default(), worker.cancel_token())?;
    let mut reader = CompareStages {
        worker,
        options: ListingOptions {
            cache: cache.as_deref(),
            use_toc: true,
            content: content_need(need_content),
        },
    };
    let known_a = peeked_a
        .into_iter()
        .filter(|layer| layer.result.status.is_complete())
        .map(PeekedListing::into_compared)
        .collect();
    let comparison = compare_images(
        CompareImage {
            source: source_a.as_ref(),
            layers: &layers_a,
        },
        CompareImage {
            source: opened.source.as_ref(),
            layers: &opened.info.layers,
        },
        known_a,
        &mut reader,
        worker.cancel_token(),
    )
    .map_err(|cancelled| FetchError::from(cancelled.to_string()))?;
    let tree = diff_tree(&comparison.rows);
    let notes = comparison.incomplete_notes();
    let Comparison {
        shared_layers,
        read_a,
        read_b,
        rows,
        ..
    } = comparison;
    Ok(CompareResult {
        request_b: opened.request,
        image_b: opened.info,
        source_b: opened.source,
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

/// How the app's comparison reads layers: each step named in the job's progress, the layers
/// being read counted there, the UI woken as they go.
struct CompareStages<'w> {
    worker: &'w Worker<CompareProgress>,
    options: ListingOptions<'w>,
}

impl CompareReader for CompareStages<'_> {
    fn read(&mut self, request: ReadRequest<'_>) -> Vec<LayerListing> {
        let progress = self.worker.progress();
        let count = layers_word(request.layers.len());
        progress.set_stage(match request.side {
            Side::A => format!("Reading {count} of image A…"),
            Side::B => format!(
                "Reading {count} of image B ({} shared with A)…",
                request.shared
            ),
        });
        let counters: Vec<Arc<PeekProgress>> =
            request.layers.iter().map(|_| Arc::default()).collect();
        progress.set_reading(
            request
                .layers
                .iter()
                .map(LayerInfo::size)
                .zip(counters.iter().cloned())
                .collect(),
        );
        read_listings(
            request.source,
            request.layers,
            self.options,
            default_concurrency(),
            &counters,
            self.worker.cancel_token(),
            &mut |_| self.worker.repaint(),
        )
    }

    fn diffing(&mut self) {
        let progress = self.worker.progress();
        progress.set_reading(Vec::new());
        progress.set_stage("Comparing the final filesystems…");
        self.worker.repaint();
    }
}

/// Whether listings must carry content facts: with `need_content`, layers are read whole.
fn content_need(need_content: bool) -> ContentNeed {
    if need_content {
        ContentNeed::Required
    } else {
        ContentNeed::WhenStreamed
    }
}

/// A file's preview being fetched, counting the blob bytes fetched; dropping it cancels it.
pub type PreviewJob = Job<Result<PreviewContent, CarveError>, AtomicU64>;

impl PreviewJob {
    /// Fetches and prepares the preview of `request` from `source` on a worker thread (text
    /// highlighted in `ctx`'s current style); wakes `ctx` when done.
    pub fn start(
        source: Arc<dyn ImageSource>,
        request: PreviewRequest,
        ctx: &egui::Context,
    ) -> Result<Self, String> {
        let style = ctx.global_style();
        Job::spawn_with("preview", ctx, AtomicU64::new(0), move |worker| {
            load_preview(
                source.as_ref(),
                &request,
                &style,
                worker.cancel_token(),
                worker.progress(),
            )
        })
    }

    /// Blob bytes fetched so far.
    pub fn fetched(&self) -> u64 {
        self.progress().load(Ordering::Relaxed)
    }
}

/// The most of one version the History pane reads to compare it: 1 MiB, as `log --patch`.
pub const DIFF_LIMIT: u64 = 1 << 20;

/// Two versions of a path being read and compared; dropping it cancels it.
pub type VersionDiffJob = Job<Result<VersionDiff, String>>;

impl VersionDiffJob {
    /// Reads `path` as `before`'s and `after`'s layers leave it (each up to [`DIFF_LIMIT`],
    /// the layer's entries telling which entry to read) and compares the two on a worker
    /// thread; wakes `ctx` when done.
    pub fn start(
        source: Arc<dyn ImageSource>,
        cache: Option<Arc<ListingCache>>,
        path: String,
        [before, after]: [LayerEntries; 2],
        ctx: &egui::Context,
    ) -> Result<Self, String> {
        Job::spawn("version diff", ctx, move |worker| {
            let search = carve::CarveSearch {
                source: source.as_ref(),
                cache: cache.as_deref(),
                version: carve::Version::Last,
            };
            let read = |layer: &LayerEntries| {
                let entries: Vec<Entry> = layer.entries().cloned().collect();
                search
                    .read_version(
                        &layer.layer,
                        &path,
                        Some(&entries),
                        DIFF_LIMIT,
                        worker.cancel_token(),
                    )
                    .map_err(|error| match error {
                        CarveError::Cancelled => "Comparison cancelled.".to_owned(),
                        error => format!(
                            "Could not read layer {}'s version: {error}",
                            layer.layer.index
                        ),
                    })
            };
            let old = read(&before)?;
            let new = read(&after)?;
            Ok(diff_versions(&old, &new))
        })
    }
}
