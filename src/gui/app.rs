//! The main window: image reference and platform at the top, layers on the left, the file
//! tree in the middle, status and errors at the bottom.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Key, KeyboardShortcut, Modifiers, RichText, Ui};

use super::jobs::{
    CarveJob, EntryBatches, FetchJob, FetchRequest, FetchedImage, PeekJob, PeekMessage, SaveError,
    TreeBuildJob, TreeInput,
};
use super::tree_view::{TreeAction, TreeView};
use crate::build_info::{GIT_COMMIT, VERSION};
use crate::cache::ListingCache;
use crate::carve::{CarveError, CarveReport, CarveTarget, find_target};
use crate::export::{self, Destination};
use crate::image::{ImageInfo, LayerInfo};
use crate::listing::{
    FileTree, LayerListing, LayerStatus, ListedFrom, PathFilter, escape_control, human_size,
    merge_layers,
};
use crate::manifest::Platform;
use crate::peek::PeekProgress;
use crate::source::ImageSource;
use crate::source::demo::DEMO_NAME;

/// Storage key of the recently fetched references.
const RECENT_KEY: &str = "recent_references";
/// How many recent references are remembered.
const MAX_RECENT: usize = 12;
/// While entries stream in, the tree is rebuilt at most this often.
const TREE_REBUILD_INTERVAL: Duration = Duration::from_millis(250);
/// While work runs, the UI wakes at least this often to show progress.
const BUSY_REPAINT: Duration = Duration::from_millis(100);
/// Build steps longer than this are shortened in the layer list (full text on hover).
const CREATED_BY_CHARS: usize = 72;
/// The file name offered by the save dialog.
const SUGGESTED_FILE_NAME: &str = "layers.csv";
/// Ctrl+S (Cmd+S on macOS): export CSV.
const EXPORT_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);

/// The app's file dialogs. The app uses the native ones; tests supply fixed answers.
pub trait FileDialogs: Send {
    /// A path to save to (an export, a file carved out of the image), offering the file name
    /// `suggested`; `None` when the user cancelled.
    fn pick_save_path(&mut self, suggested: &str) -> Option<PathBuf>;

    /// An image archive to open (`docker save`, `oci-archive`), or `None`.
    fn pick_image_file(&mut self) -> Option<PathBuf>;

    /// An image layout directory to open, or `None`.
    fn pick_image_folder(&mut self) -> Option<PathBuf>;
}

/// The platform's native dialogs (xdg portal / zenity on Linux).
#[derive(Debug, Default)]
pub struct NativeFileDialogs;

impl FileDialogs for NativeFileDialogs {
    fn pick_save_path(&mut self, suggested: &str) -> Option<PathBuf> {
        let dialog = rfd::FileDialog::new().set_file_name(suggested);
        // Only an export is a CSV file; a carved file keeps whatever name it has.
        let dialog = if suggested.ends_with(".csv") {
            dialog.add_filter("CSV", &["csv"])
        } else {
            dialog
        };
        dialog.save_file()
    }

    fn pick_image_file(&mut self) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_title("Open an image archive (docker save, oci-archive)")
            .add_filter("Image archives", &["tar", "gz", "tgz", "zst"])
            .add_filter("All files", &["*"])
            .pick_file()
    }

    fn pick_image_folder(&mut self) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_title("Open an OCI image layout folder")
            .pick_folder()
    }
}

/// Saves to the same path without asking and opens nothing (for tests and automation).
#[derive(Debug, Clone)]
pub struct FixedSavePath(pub PathBuf);

impl FileDialogs for FixedSavePath {
    fn pick_save_path(&mut self, _suggested: &str) -> Option<PathBuf> {
        Some(self.0.clone())
    }

    fn pick_image_file(&mut self) -> Option<PathBuf> {
        None
    }

    fn pick_image_folder(&mut self) -> Option<PathBuf> {
        None
    }
}

/// Which tree the central panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeChoice {
    /// One peeked layer, by its position among the peeked layers.
    Layer(usize),
    /// The final filesystem: all peeked layers merged, whiteouts applied.
    Merged,
}

/// The resolved image on screen.
struct LoadedImage {
    request: FetchRequest,
    source: Arc<dyn ImageSource>,
    info: ImageInfo,
}

/// A layer being peeked or already peeked.
struct PeekedLayer {
    layer: LayerInfo,
    /// Entries in tar order, in the batches they arrived in.
    batches: EntryBatches,
    entry_count: usize,
    /// `None` while the layer is still being read.
    status: Option<LayerStatus>,
    bytes_read: u64,
    /// Whether the entries came from the blob, the listing cache or a TOC.
    listed_from: ListedFrom,
    /// Something the user should know about how the layer was read.
    note: Option<String>,
    /// Live download / decode counters.
    progress: Arc<PeekProgress>,
}

impl PeekedLayer {
    fn entries(&self) -> impl Iterator<Item = &crate::listing::Entry> {
        self.batches.iter().flat_map(|batch| batch.iter())
    }

    /// A copy as a listing; a layer still being read counts as cancelled (partial).
    fn to_listing(&self) -> LayerListing {
        LayerListing {
            layer: self.layer.clone(),
            entries: self.entries().cloned().collect(),
            status: self.status.clone().unwrap_or(LayerStatus::Cancelled),
            bytes_read: self.bytes_read,
            listed_from: self.listed_from,
        }
    }

    /// Ends the layer with `status` unless it already ended.
    fn end_with(&mut self, status: &LayerStatus) {
        if self.status.is_none() {
            self.status = Some(status.clone());
            self.bytes_read = self.progress.bytes_read();
        }
    }
}

/// A file being saved out of the image.
struct SaveInProgress {
    job: CarveJob,
    target: CarveTarget,
    destination: PathBuf,
    /// Set when the file came from the merged view and a newer peeked layer was not read
    /// completely: that layer might hold a newer version.
    caveat: Option<String>,
}

/// The layerslayer desktop app.
pub struct LayerslayerApp {
    reference_input: String,
    insecure: bool,
    recent: Vec<String>,
    fetch: Option<FetchJob>,
    fetch_on_first_frame: bool,
    image: Option<LoadedImage>,
    layer_checked: Vec<bool>,
    peek: Option<PeekJob>,
    /// The layers of the last peek, in layer order.
    peeked: Vec<PeekedLayer>,
    view: TreeChoice,
    tree: TreeView,
    /// The entries of the view changed since its tree was last built.
    tree_stale: bool,
    /// A tree being built for a view.
    tree_build: Option<(TreeChoice, TreeBuildJob)>,
    tree_build_started: Option<Instant>,
    /// A file being carved out of the image and saved.
    saving: Option<SaveInProgress>,
    status: String,
    error: Option<String>,
    show_about: bool,
    dialogs: Box<dyn FileDialogs>,
    /// Listings of layers seen before; `None` runs without a cache.
    cache: Option<Arc<ListingCache>>,
}

impl LayerslayerApp {
    /// The app as eframe creates it: recent references come from the persisted storage.
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let recent = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, RECENT_KEY))
            .unwrap_or_default();
        Self::with_recent(recent, Box::new(NativeFileDialogs))
            .with_listing_cache(ListingCache::open_default())
    }

    /// The app remembering `recent` references. On a first launch (nothing remembered) it
    /// opens the built-in demo image, so there is something to explore without a network.
    pub fn with_recent(recent: Vec<String>, dialogs: Box<dyn FileDialogs>) -> Self {
        let first_launch = recent.is_empty();
        let app = Self {
            recent,
            ..Self::blank(dialogs)
        };
        if first_launch {
            app.with_initial_reference(DEMO_NAME)
        } else {
            app
        }
    }

    /// An app without persisted state, for headless tests: `initial_reference` is typed into
    /// the field (not fetched) and `dialogs` answer the file dialogs.
    pub fn new_for_tests(initial_reference: Option<String>, dialogs: Box<dyn FileDialogs>) -> Self {
        Self {
            reference_input: initial_reference.unwrap_or_default(),
            ..Self::blank(dialogs)
        }
    }

    /// Nothing fetched, nothing remembered.
    fn blank(dialogs: Box<dyn FileDialogs>) -> Self {
        Self {
            reference_input: String::new(),
            insecure: false,
            recent: Vec::new(),
            fetch: None,
            fetch_on_first_frame: false,
            image: None,
            layer_checked: Vec::new(),
            peek: None,
            peeked: Vec::new(),
            view: TreeChoice::Layer(0),
            tree: TreeView::new(),
            tree_stale: false,
            tree_build: None,
            tree_build_started: None,
            saving: None,
            status: "Type an image reference, open an image file or folder, or drop one here."
                .into(),
            error: None,
            show_about: false,
            dialogs,
            cache: None,
        }
    }

    /// Uses `cache` for layer listings: cached layers show at once, marked "cached", and
    /// complete ones are stored.
    pub fn with_listing_cache(mut self, cache: Option<ListingCache>) -> Self {
        self.cache = cache.map(Arc::new);
        self
    }

    /// Fills in `reference` and fetches it as soon as the window shows.
    pub fn with_initial_reference(mut self, reference: impl Into<String>) -> Self {
        self.reference_input = reference.into();
        self.fetch_on_first_frame = true;
        self
    }

    /// True while anything runs in the background: a fetch, a peek, a tree build or a save.
    pub fn is_busy(&self) -> bool {
        self.is_fetching() || self.is_peeking() || self.is_building_tree() || self.is_saving()
    }

    /// True while a file is being carved out of the image and saved.
    pub fn is_saving(&self) -> bool {
        self.saving.is_some()
    }

    /// True while an image is being resolved.
    pub fn is_fetching(&self) -> bool {
        self.fetch.is_some()
    }

    /// True while layers are being peeked.
    pub fn is_peeking(&self) -> bool {
        self.peek.is_some()
    }

    /// True while the tree on screen is out of date and being rebuilt.
    pub fn is_building_tree(&self) -> bool {
        self.tree_stale || self.tree_build.is_some()
    }

    /// Number of layers of the image on screen (0 before a fetch succeeded).
    pub fn layer_count(&self) -> usize {
        self.image
            .as_ref()
            .map_or(0, |image| image.info.layers.len())
    }

    /// The image on screen, once a fetch succeeded.
    pub fn image(&self) -> Option<&ImageInfo> {
        self.image.as_ref().map(|image| &image.info)
    }

    /// True when a peek ran and every chosen layer has ended (complete, failed, cancelled…).
    pub fn peek_finished(&self) -> bool {
        self.peek.is_none()
            && !self.peeked.is_empty()
            && self.peeked.iter().all(|layer| layer.status.is_some())
    }

    /// Copies of the peeked layers' listings: the entries so far, and the final status once
    /// a layer ended (a layer still being read shows as cancelled).
    pub fn peeked_listings(&self) -> Vec<LayerListing> {
        self.peeked.iter().map(PeekedLayer::to_listing).collect()
    }

    /// Number of entries received so far from the peeked layer at `position`.
    pub fn peeked_entry_count(&self, position: usize) -> usize {
        self.peeked
            .get(position)
            .map_or(0, |layer| layer.entry_count)
    }

    /// The error shown in the window, if any.
    pub fn last_error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The status line shown in the window.
    pub fn status_message(&self) -> &str {
        &self.status
    }

    /// The tree currently shown.
    pub fn tree_choice(&self) -> TreeChoice {
        self.view
    }

    /// Paths of the tree rows currently visible, top to bottom.
    pub fn visible_tree_paths(&mut self) -> Vec<String> {
        self.tree.visible_paths()
    }

    // ----- actions -----

    fn fetch_from_input(&mut self, ctx: &egui::Context) {
        let request = FetchRequest {
            reference: self.reference_input.trim().to_owned(),
            platform: None,
            insecure: self.insecure,
        };
        self.start_fetch(request, ctx);
    }

    /// Shows `text` (a reference, a path, `demo`) in the field and opens it.
    fn open_text(&mut self, text: String, ctx: &egui::Context) {
        self.reference_input = text;
        self.fetch_from_input(ctx);
    }

    /// Opens a path picked in a dialog or dropped on the window.
    fn open_path(&mut self, path: &std::path::Path, ctx: &egui::Context) {
        self.open_text(path.to_string_lossy().into_owned(), ctx);
    }

    /// The "Open file…" / "Open folder…" / "Open demo image" buttons.
    fn open_buttons_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        if ui
            .button("Open file…")
            .on_hover_text("Open an image archive: docker save, oci-archive (also gzip-compressed)")
            .clicked()
            && let Some(path) = self.dialogs.pick_image_file()
        {
            self.open_path(&path, &ctx);
        }
        if ui
            .button("Open folder…")
            .on_hover_text("Open an OCI image layout directory (skopeo copy … oci:DIR)")
            .clicked()
            && let Some(path) = self.dialogs.pick_image_folder()
        {
            self.open_path(&path, &ctx);
        }
        if ui
            .button("Open demo image")
            .on_hover_text("A small two-platform image built into layerslayer; works offline")
            .clicked()
        {
            self.open_text(DEMO_NAME.to_owned(), &ctx);
        }
    }

    /// Opens the first file or folder dropped on the window, and hints while one hovers.
    fn dropped_files_ui(&mut self, ctx: &egui::Context) {
        let (hovering, dropped) = ctx.input(|input| {
            (
                !input.raw.hovered_files.is_empty(),
                input
                    .raw
                    .dropped_files
                    .first()
                    .map(|file| file.path().to_owned()),
            )
        });
        if let Some(path) = dropped {
            self.open_path(&path, ctx);
        }
        if hovering {
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("drop_hint"),
            ));
            let screen = ctx.content_rect();
            painter.rect_filled(screen, 0.0, egui::Color32::from_black_alpha(160));
            painter.text(
                screen.center(),
                egui::Align2::CENTER_CENTER,
                "Drop an image archive or layout folder to open it",
                egui::TextStyle::Heading.resolve(&ctx.global_style()),
                egui::Color32::WHITE,
            );
        }
    }

    fn start_fetch(&mut self, request: FetchRequest, ctx: &egui::Context) {
        self.fetch = None;
        self.error = None;
        self.status = format!("Resolving {}…", escape_control(&request.reference));
        match FetchJob::start(request, ctx.clone()) {
            Ok(job) => self.fetch = Some(job),
            Err(error) => {
                self.error = Some(error);
                self.status.clear();
            }
        }
    }

    fn load_image(&mut self, fetched: FetchedImage) {
        let FetchedImage {
            request,
            source,
            info,
        } = fetched;
        self.remember(&request.reference);
        self.peek = None;
        self.peeked.clear();
        self.view = TreeChoice::Layer(0);
        self.tree = TreeView::new();
        self.tree_stale = false;
        self.tree_build = None;
        self.layer_checked = vec![false; info.layers.len()];
        let total: u64 = info.layers.iter().map(LayerInfo::size).sum();
        let platform = info
            .platform
            .as_ref()
            .map(|p| format!(" for {p}"))
            .unwrap_or_default();
        self.status = format!(
            "{}{platform}: {} layers, {} compressed. Tick layers and press Peek.",
            escape_control(&info.source),
            info.layers.len(),
            human_size(total)
        );
        self.image = Some(LoadedImage {
            request,
            source,
            info,
        });
    }

    fn remember(&mut self, reference: &str) {
        self.recent.retain(|r| r != reference);
        self.recent.insert(0, reference.to_owned());
        self.recent.truncate(MAX_RECENT);
    }

    fn start_peek(&mut self, ctx: &egui::Context) {
        let Some(image) = &self.image else {
            return;
        };
        let any_checked = self.layer_checked.iter().any(|&c| c);
        let layers: Vec<LayerInfo> = image
            .info
            .layers
            .iter()
            .zip(&self.layer_checked)
            .filter(|&(_, &checked)| checked || !any_checked)
            .map(|(layer, _)| layer.clone())
            .collect();
        if layers.is_empty() {
            self.error = Some("This image has no layers to peek.".into());
            return;
        }
        let source = Arc::clone(&image.source);
        self.peek = None;
        match PeekJob::start(source, layers.clone(), self.cache.clone(), ctx.clone()) {
            Ok(job) => {
                let count = layers.len();
                self.peeked = layers
                    .into_iter()
                    .enumerate()
                    .map(|(position, layer)| PeekedLayer {
                        layer,
                        batches: Vec::new(),
                        entry_count: 0,
                        status: None,
                        bytes_read: 0,
                        listed_from: ListedFrom::Blob,
                        note: None,
                        progress: job.progress(position).cloned().unwrap_or_default(),
                    })
                    .collect();
                self.peek = Some(job);
                if self.view != TreeChoice::Merged {
                    self.view = TreeChoice::Layer(0);
                }
                self.show_new_view();
                self.error = None;
                self.status = format!(
                    "Peeking {count} layer{}…",
                    if count == 1 { "" } else { "s" }
                );
            }
            Err(error) => self.error = Some(error),
        }
    }

    fn cancel_peek(&mut self) {
        let Some(job) = self.peek.take() else {
            return;
        };
        job.cancel();
        // Keep what already arrived; the workers wind down on their own.
        for message in job.poll().messages {
            self.apply(message);
        }
        drop(job);
        for layer in &mut self.peeked {
            layer.end_with(&LayerStatus::Cancelled);
        }
        self.status = format!(
            "Cancelled; kept the {} entries read so far.",
            self.entry_count()
        );
    }

    fn export(&mut self) {
        if self.is_peeking() {
            self.error =
                Some("Wait for the peek to finish (or cancel it) before exporting.".into());
            return;
        }
        if self.peeked.is_empty() {
            self.error = Some("Nothing to export yet: peek some layers first.".into());
            return;
        }
        let Some(path) = self.dialogs.pick_save_path(SUGGESTED_FILE_NAME) else {
            self.status = "Export cancelled.".into();
            return;
        };
        let listings = self.peeked_listings();
        let merged;
        let mut rows = match self.view {
            TreeChoice::Merged => {
                merged = merge_layers(&listings);
                export::rows_of_merged(&merged, &listings)
            }
            TreeChoice::Layer(_) => export::rows_of_listings(&listings),
        };
        let filter = PathFilter::new(self.tree.filter());
        rows.retain(|row| filter.matches(&row.entry.path));
        let destination = Destination::File(path.clone());
        match export::write_to(&destination, |out| export::write_csv(&rows, out)) {
            Ok(()) => {
                self.error = None;
                self.status = format!("Exported {} rows to {}", rows.len(), path.display());
            }
            Err(error) => self.error = Some(format!("Export failed: {error}")),
        }
    }

    /// "Save file…" on the tree row at `path`: the version shown (merged view: the final
    /// filesystem's; a layer's view: that layer's own, even if a later layer replaced it) is
    /// carved out of the image in the background and saved where the user picks.
    fn save_file(&mut self, path: &str, ctx: &egui::Context) {
        let Some(image) = &self.image else {
            return;
        };
        if self.saving.is_some() {
            self.error = Some("A file is being saved: wait for it, or press Cancel save.".into());
            return;
        }
        let found = match self.view {
            TreeChoice::Merged => {
                let listings = self.peeked_listings();
                find_target(&listings, path).map(|target| {
                    let caveat = incomplete_above(&listings, &target);
                    (target, caveat)
                })
            }
            TreeChoice::Layer(position) => match self.peeked.get(position) {
                Some(layer) => {
                    find_target(std::slice::from_ref(&layer.to_listing()), path).map(|t| (t, None))
                }
                None => Err(CarveError::NotFound(path.to_owned())),
            },
        };
        let (target, caveat) = match found {
            Ok(found) => found,
            Err(error) => {
                self.error = Some(format!(
                    "Could not save {}: {}",
                    escape_control(path),
                    escape_control(&error.to_string())
                ));
                return;
            }
        };
        let name = target.path.rsplit('/').next().unwrap_or("file");
        let Some(destination) = self.dialogs.pick_save_path(name) else {
            self.status = "Save cancelled.".into();
            return;
        };
        let source = Arc::clone(&image.source);
        match CarveJob::start(source, target.clone(), destination.clone(), ctx.clone()) {
            Ok(job) => {
                self.error = None;
                self.saving = Some(SaveInProgress {
                    job,
                    target,
                    destination,
                    caveat,
                });
            }
            Err(error) => self.error = Some(error),
        }
    }

    /// Stops the save; nothing is left at the destination.
    fn cancel_save(&mut self) {
        if let Some(saving) = self.saving.take() {
            // Dropping the job cancels it; the worker discards its temporary file.
            self.status = format!(
                "Save of {} cancelled; nothing was written.",
                escape_control(&saving.target.path)
            );
        }
    }

    /// Switches the central panel to `self.view`: the old tree goes, a new one is built.
    fn show_new_view(&mut self) {
        self.tree.set_tree(
            FileTree::build(std::iter::empty()),
            self.view == TreeChoice::Merged,
        );
        self.tree_build = None;
        self.tree_build_started = None;
        self.tree_stale = true;
    }

    // ----- background results -----

    fn poll_fetch(&mut self, ctx: &egui::Context) {
        let Some(result) = self.fetch.as_mut().and_then(FetchJob::take_result) else {
            return;
        };
        self.fetch = None;
        match result {
            Ok(fetched) => {
                // The title names the image on screen (scripts wait for it, too).
                let title = format!(
                    "layerslayer - {}",
                    escape_control(&fetched.request.reference)
                );
                ctx.send_viewport_cmd(egui::ViewportCommand::Title(title));
                self.load_image(fetched);
            }
            Err(error) => {
                // Also on stderr, for whoever started the app from a terminal or a script.
                eprintln!("error: {}", escape_control(&error));
                self.error = Some(error);
                self.status = "The image could not be opened.".into();
            }
        }
    }

    fn poll_save(&mut self) {
        let Some(result) = self.saving.as_mut().and_then(|s| s.job.take_result()) else {
            return;
        };
        let Some(saving) = self.saving.take() else {
            return;
        };
        match result {
            Ok(report) => {
                self.status = saved_summary(&saving, &report);
            }
            Err(SaveError::Carve(CarveError::Cancelled)) => {
                self.status = format!(
                    "Save of {} cancelled; nothing was written.",
                    escape_control(&saving.target.path)
                );
            }
            Err(error) => {
                self.error = Some(format!(
                    "Could not save {}: {}",
                    escape_control(&saving.target.path),
                    escape_control(&error.to_string())
                ));
            }
        }
    }

    fn poll_peek(&mut self) {
        let Some(job) = &self.peek else {
            return;
        };
        let poll = job.poll();
        for message in poll.messages {
            self.apply(message);
        }
        if poll.finished {
            self.peek = None;
            let stopped = LayerStatus::Failed("the peek stopped before this layer ended".into());
            for layer in &mut self.peeked {
                layer.end_with(&stopped);
            }
            self.status = self.peek_summary();
        }
    }

    fn apply(&mut self, message: PeekMessage) {
        match message {
            PeekMessage::Entries { position, entries } => {
                if let Some(layer) = self.peeked.get_mut(position) {
                    layer.entry_count += entries.len();
                    layer.batches.push(Arc::new(entries));
                }
                if self.view == TreeChoice::Merged || self.view == TreeChoice::Layer(position) {
                    self.tree_stale = true;
                }
            }
            PeekMessage::LayerDone {
                position,
                status,
                bytes_read,
                listed_from,
                note,
            } => {
                if let Some(layer) = self.peeked.get_mut(position) {
                    layer.status = Some(status);
                    layer.bytes_read = bytes_read;
                    layer.listed_from = listed_from;
                    layer.note = note;
                }
            }
        }
    }

    fn entry_count(&self) -> usize {
        self.peeked.iter().map(|layer| layer.entry_count).sum()
    }

    fn peek_summary(&self) -> String {
        let count = self.peeked.len();
        let incomplete = self
            .peeked
            .iter()
            .filter(|layer| !layer.status.as_ref().is_some_and(LayerStatus::is_complete))
            .count();
        let mut summary = format!(
            "Peeked {count} layer{}: {} entries.",
            if count == 1 { "" } else { "s" },
            self.entry_count()
        );
        if incomplete > 0 {
            summary.push_str(&format!(
                " {incomplete} layer{} did not complete; see the layer list.",
                if incomplete == 1 { "" } else { "s" }
            ));
        }
        summary
    }

    /// Takes a finished tree build, and starts a new one when the entries changed: at most
    /// every [`TREE_REBUILD_INTERVAL`] while a peek streams, one build at a time.
    fn refresh_tree(&mut self, ctx: &egui::Context) {
        if let Some((choice, job)) = &mut self.tree_build
            && let Some(tree) = job.take_result()
        {
            if *choice == self.view {
                self.tree.set_tree(tree, *choice == TreeChoice::Merged);
            }
            self.tree_build = None;
        }
        let due = self
            .tree_build_started
            .is_none_or(|at| at.elapsed() >= TREE_REBUILD_INTERVAL);
        if !self.tree_stale || self.tree_build.is_some() || (self.is_peeking() && !due) {
            return;
        }
        let input = match self.view {
            TreeChoice::Merged => TreeInput::Merged(
                self.peeked
                    .iter()
                    .map(|layer| (layer.layer.clone(), layer.batches.clone()))
                    .collect(),
            ),
            TreeChoice::Layer(position) => TreeInput::Layer {
                layer_index: self.peeked.get(position).map_or(0, |l| l.layer.index),
                batches: self
                    .peeked
                    .get(position)
                    .map(|layer| layer.batches.clone())
                    .unwrap_or_default(),
            },
        };
        self.tree_stale = false;
        self.tree_build_started = Some(Instant::now());
        match TreeBuildJob::start(input, ctx.clone()) {
            Ok(job) => self.tree_build = Some((self.view, job)),
            Err(error) => self.error = Some(error),
        }
    }

    // ----- panels -----

    fn toolbar(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        ui.horizontal(|ui| {
            let label = ui.label("Image reference");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.reference_input)
                        .hint_text("alpine:3.20, localhost:5000/app:1, ./image.tar, oci:DIR, demo")
                        .desired_width(360.0),
                )
                .labelled_by(label.id);
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            let clicked = ui
                .button("Fetch")
                .on_hover_text("Resolve the image and list its layers")
                .clicked();
            if entered || clicked {
                self.fetch_from_input(&ctx);
            }
            self.open_buttons_ui(ui);
            let mut picked = None;
            ui.add_enabled_ui(!self.recent.is_empty(), |ui| {
                ui.menu_button("Recent", |ui| {
                    for reference in &self.recent {
                        if ui.button(escape_control(reference)).clicked() {
                            picked = Some(reference.clone());
                            ui.close();
                        }
                    }
                })
            });
            if let Some(reference) = picked {
                self.reference_input = reference;
                self.fetch_from_input(&ctx);
            }
            ui.checkbox(&mut self.insecure, "Allow insecure (plain http)")
                .on_hover_text(
                    "Use plain http (and accept any TLS certificate) for registries that are \
                     not on this machine. Loopback registries always use http.",
                );
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("About").clicked() {
                    self.show_about = true;
                }
            });
        });
        self.platform_picker(ui);
    }

    fn platform_picker(&mut self, ui: &mut Ui) {
        let Some(image) = &self.image else {
            return;
        };
        if image.info.available_platforms.is_empty() {
            return;
        }
        let current = image.info.platform.clone();
        let mut chosen: Option<Platform> = None;
        ui.horizontal(|ui| {
            egui::ComboBox::new("platform", "Platform")
                .selected_text(
                    current
                        .as_ref()
                        .map_or_else(|| "default".to_owned(), ToString::to_string),
                )
                .show_ui(ui, |ui| {
                    for platform in &image.info.available_platforms {
                        let selected = current.as_ref() == Some(platform);
                        if ui
                            .selectable_label(selected, platform.to_string())
                            .clicked()
                            && !selected
                        {
                            chosen = Some(platform.clone());
                        }
                    }
                });
            ui.label(
                RichText::new(
                    "This reference is a multi-platform index; pick the variant to list.",
                )
                .weak(),
            );
        });
        if let Some(platform) = chosen {
            let request = FetchRequest {
                platform: Some(platform),
                ..image.request.clone()
            };
            let ctx = ui.ctx().clone();
            self.start_fetch(request, &ctx);
        }
    }

    fn status_bar(&mut self, ui: &mut Ui) {
        ui.horizontal_wrapped(|ui| {
            if self.is_busy() {
                ui.label(RichText::new("Working…").strong());
            }
            ui.label(&self.status);
        });
        self.save_progress_ui(ui);
        if let Some(error) = &self.error {
            let color = ui.visuals().error_fg_color;
            ui.colored_label(color, format!("Error: {}", escape_control(error)));
        }
    }

    /// While a file is being saved: how much of its layer was fetched, and "Cancel save".
    fn save_progress_ui(&mut self, ui: &mut Ui) {
        let Some(saving) = &self.saving else {
            return;
        };
        let fetched = saving.job.fetched();
        let layer_size = saving.target.layer.size();
        let fraction = if layer_size == 0 {
            0.0
        } else {
            (fetched as f64 / layer_size as f64).clamp(0.0, 1.0) as f32
        };
        let mut cancel = false;
        ui.horizontal(|ui| {
            ui.label(format!(
                "Saving {}: {} of the layer's {} fetched",
                escape_control(&saving.target.path),
                human_size(fetched),
                human_size(layer_size)
            ));
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(160.0)
                    .show_percentage(),
            );
            cancel = ui
                .button("Cancel save")
                .on_hover_text("Stop saving the file; nothing is written")
                .clicked();
        });
        if cancel {
            self.cancel_save();
        }
    }

    fn layer_panel(&mut self, ui: &mut Ui) {
        // Keep the panel's width when its content is narrow (e.g. before the first fetch).
        ui.set_min_width(ui.available_width());
        ui.heading("Layers");
        let Some(image) = &self.image else {
            ui.label("Fetch an image to list its layers.");
            return;
        };
        let info = &image.info;
        ui.label(RichText::new(escape_control(&info.source)).strong());
        ui.label(RichText::new(&info.manifest_digest).monospace().small())
            .on_hover_text("Manifest digest");
        let ctx = ui.ctx().clone();
        let mut start = false;
        let mut cancel = false;
        ui.horizontal(|ui| {
            start = ui
                .add_enabled(!self.is_peeking(), egui::Button::new("Peek"))
                .on_hover_text("List the files of the ticked layers (all when none is ticked)")
                .clicked();
            cancel = ui
                .add_enabled(self.is_peeking(), egui::Button::new("Cancel"))
                .on_hover_text("Stop reading layers; what arrived so far is kept")
                .clicked();
        });
        ui.label(RichText::new("Tick layers to peek; with none ticked, all are peeked.").weak());
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("layer_list")
            .auto_shrink(false)
            .show(ui, |ui| {
                for (layer, checked) in info.layers.iter().zip(self.layer_checked.iter_mut()) {
                    let peeked = self.peeked.iter().find(|p| p.layer.index == layer.index);
                    layer_row(ui, layer, checked, peeked);
                    ui.separator();
                }
            });
        if start {
            self.start_peek(&ctx);
        }
        if cancel {
            self.cancel_peek();
        }
    }

    fn tree_panel(&mut self, ui: &mut Ui) {
        if self.image.is_none() {
            ui.vertical_centered(|ui| {
                ui.add_space(ui.available_height() / 3.0);
                ui.label(
                    "Type an image reference above and press Enter, open an image file or \
                     folder, or drop one on this window.",
                );
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    // Centre the row of buttons under the text.
                    ui.add_space((ui.available_width() - 330.0).max(0.0) / 2.0);
                    self.open_buttons_ui(ui);
                });
            });
            return;
        }
        if self.peeked.is_empty() {
            ui.centered_and_justified(|ui| {
                ui.label("Tick the layers to look into and press Peek.");
            });
            return;
        }
        let mut export = false;
        ui.horizontal(|ui| {
            let before = self.view;
            let choices: Vec<(TreeChoice, String)> = (0..self.peeked.len())
                .map(TreeChoice::Layer)
                .chain([TreeChoice::Merged])
                .map(|choice| (choice, self.view_name(choice)))
                .collect();
            egui::ComboBox::new("tree_view", "Tree")
                .selected_text(self.view_name(self.view))
                .show_ui(ui, |ui| {
                    for (choice, name) in choices {
                        ui.selectable_value(&mut self.view, choice, name);
                    }
                });
            if self.view != before {
                self.show_new_view();
            }
            let shortcut = ui.ctx().format_shortcut(&EXPORT_SHORTCUT);
            export = ui
                .add_enabled(!self.is_peeking(), egui::Button::new("Export CSV…"))
                .on_hover_text(format!(
                    "Save the listing of the peeked layers (merged view: the final filesystem), \
                     narrowed by the filter ({shortcut})"
                ))
                .clicked();
            let total = self.tree.tree().len();
            let shown = self.tree.rows().len();
            let building = if self.is_building_tree() {
                " (updating…)"
            } else {
                ""
            };
            ui.label(RichText::new(format!("{total} paths, {shown} shown{building}")).weak());
        });
        ui.horizontal(|ui| self.tree.show_controls(ui));
        ui.add_space(4.0);
        let action = self.tree.show_rows(ui);
        if export {
            self.export();
        }
        match action {
            Some(TreeAction::SaveFile(path)) => {
                let ctx = ui.ctx().clone();
                self.save_file(&path, &ctx);
            }
            None => {}
        }
    }

    fn view_name(&self, view: TreeChoice) -> String {
        match view {
            TreeChoice::Merged => "Merged: final filesystem".into(),
            TreeChoice::Layer(position) => match self.peeked.get(position) {
                Some(peeked) => format!(
                    "Layer {} ({} entries)",
                    peeked.layer.index, peeked.entry_count
                ),
                None => "No layer".into(),
            },
        }
    }

    fn about_window(&mut self, ctx: &egui::Context) {
        egui::Window::new("About layerslayer")
            .open(&mut self.show_about)
            .resizable(false)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label(env!("CARGO_PKG_DESCRIPTION"));
                ui.label(format!("Version {VERSION}"));
                ui.label(format!("Git commit {GIT_COMMIT}"));
            });
    }
}

/// In the merged view, a note when a peeked layer newer than the target's was not read
/// completely: it might hold a newer version of the file.
fn incomplete_above(listings: &[LayerListing], target: &CarveTarget) -> Option<String> {
    let newer: Vec<String> = listings
        .iter()
        .filter(|l| l.layer.index > target.layer.index && !l.status.is_complete())
        .map(|l| l.layer.index.to_string())
        .collect();
    match newer.as_slice() {
        [] => None,
        [one] => Some(format!(
            "layer {one} was not read completely and may hold a newer version"
        )),
        many => Some(format!(
            "layers {} were not read completely and may hold a newer version",
            many.join(", ")
        )),
    }
}

/// The status line after a save: what was saved where, and how little was fetched for it.
fn saved_summary(saving: &SaveInProgress, report: &CarveReport) -> String {
    let layer = &saving.target.layer;
    let layer_size = layer.size();
    let share = if layer_size == 0 {
        0.0
    } else {
        report.bytes_fetched as f64 * 100.0 / layer_size as f64
    };
    let mut summary = format!(
        "Saved {} ({}) from layer {} to {}: fetched {} of the layer's {} ({share:.1}%){}",
        escape_control(&saving.target.path),
        human_size(report.bytes_written),
        layer.index,
        escape_control(&saving.destination.display().to_string()),
        human_size(report.bytes_fetched),
        human_size(layer_size),
        if report.from_toc {
            ", its chunks only, through the table of contents"
        } else {
            ""
        },
    );
    if let Some(caveat) = &saving.caveat {
        summary.push_str(&format!(" (note: {caveat})"));
    }
    summary
}

/// One layer of the list: checkbox, digest, size, media type, build step, and how its peek
/// is going.
fn layer_row(ui: &mut Ui, layer: &LayerInfo, checked: &mut bool, peek: Option<&PeekedLayer>) {
    ui.horizontal(|ui| {
        ui.checkbox(checked, format!("Layer {}", layer.index));
        ui.label(RichText::new(layer.short_digest()).monospace())
            .on_hover_text(layer.digest());
        ui.label(human_size(layer.size()));
    });
    ui.label(RichText::new(layer.media_type()).weak().small());
    if let Some(command) = &layer.created_by {
        let command = escape_control(command);
        let short: String = if command.chars().count() > CREATED_BY_CHARS {
            let mut short: String = command.chars().take(CREATED_BY_CHARS).collect();
            short.push('…');
            short
        } else {
            command.to_string()
        };
        ui.add(egui::Label::new(RichText::new(short).monospace().small()).wrap())
            .on_hover_text(command);
    }
    let Some(peek) = peek else {
        return;
    };
    let entries = peek.entry_count;
    let Some(status) = &peek.status else {
        let bytes = peek.progress.bytes_read();
        let size = layer.size();
        let fraction = if size == 0 {
            0.0
        } else {
            (bytes as f64 / size as f64).clamp(0.0, 1.0) as f32
        };
        let text = if bytes == 0 {
            "waiting for data…".to_owned()
        } else {
            format!(
                "{} of {} · {} entries",
                human_size(bytes),
                human_size(size),
                peek.progress.entries().max(entries as u64)
            )
        };
        ui.add(egui::ProgressBar::new(fraction).text(text));
        return;
    };
    let visuals = ui.visuals();
    let (text, color) = match status {
        LayerStatus::Complete { digest_verified } => (
            format!(
                "Complete: {entries} entries{}{}",
                if *digest_verified {
                    ", digest verified"
                } else {
                    ""
                },
                peek.listed_from
                    .describe(peek.bytes_read, layer.size())
                    .map(|how| format!(", {how}"))
                    .unwrap_or_default()
            ),
            visuals.text_color(),
        ),
        LayerStatus::Cancelled => (
            format!("Cancelled after {entries} entries"),
            visuals.warn_fg_color,
        ),
        LayerStatus::Skipped(reason) => (
            format!("Skipped: {}", escape_control(reason)),
            visuals.warn_fg_color,
        ),
        LayerStatus::Missing(reason) => (
            format!("Missing: {}", escape_control(reason)),
            visuals.error_fg_color,
        ),
        LayerStatus::Failed(reason) => (
            format!("Failed after {entries} entries: {}", escape_control(reason)),
            visuals.error_fg_color,
        ),
    };
    ui.add(egui::Label::new(RichText::new(text).color(color)).wrap());
    if let Some(note) = &peek.note {
        ui.add(egui::Label::new(RichText::new(escape_control(note)).weak().small()).wrap());
    }
}

impl eframe::App for LayerslayerApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.poll_fetch(ctx);
        self.poll_peek();
        self.poll_save();
        self.refresh_tree(ctx);
        if self.is_busy() {
            ctx.request_repaint_after(BUSY_REPAINT);
        }
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if self.fetch_on_first_frame {
            self.fetch_on_first_frame = false;
            self.fetch_from_input(&ctx);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&EXPORT_SHORTCUT)) {
            self.export();
        }
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("layers")
            .resizable(true)
            .default_size(440.0)
            .show(ui, |ui| self.layer_panel(ui));
        egui::CentralPanel::default().show(ui, |ui| self.tree_panel(ui));
        self.about_window(&ctx);
        self.dropped_files_ui(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, RECENT_KEY, &self.recent);
    }
}
