//! The main window: image reference and platform at the top, layers on the left, tabs in the
//! middle (Files: the file tree; Analysis: wasted bytes, duplicates, risky files; Config: how
//! containers run and the build steps; Compare: the differences with another image), status
//! and errors at the bottom.
//!
//! This module holds the app's state; `logic` takes in background results each frame; the
//! panels (`toolbar`, `layers_panel`, `tree_panel`, `analysis_panel`, `config_panel`,
//! `compare_panel`, `status_bar`, `about`, `drop_target`, `save_prompt`, `sign_in`, `settings`)
//! draw and hand back what the user asked for as an `Action`, and `run_action` (in `actions`)
//! is the one place that acts on it. File dialogs go through the `dialogs` seam.

mod about;
mod actions;
mod analysis_panel;
mod compare_panel;
mod config_panel;
mod dialogs;
mod drop_target;
mod engine_panel;
mod history_panel;
mod layers_panel;
mod logic;
mod preview_panel;
mod save_prompt;
mod search_panel;
mod settings;
mod sign_in;
mod status_bar;
mod toolbar;
mod tree_panel;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::Ui;

use self::actions::{Action, shortcut_action};
use self::compare_panel::CompareState;
pub use self::dialogs::{DialogChoice, FileDialogs, FixedChoice, FixedSavePath, NativeFileDialogs};
use self::history_panel::History;
use self::preview_panel::Preview;
use self::save_prompt::SavePrompt;
pub use self::search_panel::SearchKind;
use self::search_panel::SearchTab;
use self::settings::Settings;
use self::sign_in::{LoginRow, SignIn};
use self::tree_panel::TreePanel;
use super::jobs::{
    AnalysisJob, CarveJob, ChangeSummary, ChangeSummaryJob, EntryBatches, FetchJob, FetchRequest,
    LayerEntries, PeekJob, PeekedListing, TreeBuildJob,
};
use crate::gui::preview;
use crate::gui::widgets::files_tree::TreeView;
use crate::inspect::analysis::Analysis;
use crate::inspect::carve::CarveTarget;
use crate::inspect::diff::DiffSummary;
use crate::layer::cache::ListingCache;
use crate::layer::stream::PeekProgress;
use crate::model::{Change, LayerListing, LayerResult, LayerStatus, ListedFrom};
use crate::oci::{ImageInfo, LayerInfo};
use crate::search::{Hit, SearchIndex};
use crate::source::ImageSource;
use crate::source::demo::DEMO_NAME;
use crate::source::registry::Credential;

/// Storage key of the recently fetched references.
const RECENT_KEY: &str = "recent_references";
/// Storage key of the settings (see [`Settings`]).
const SETTINGS_KEY: &str = "settings";
/// While work runs, the UI wakes at least this often to show progress.
const BUSY_REPAINT: Duration = Duration::from_millis(100);

/// Which tree the central panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeChoice {
    /// One peeked layer, by its position among the peeked layers.
    Layer(usize),
    /// The final filesystem: all peeked layers merged, whiteouts applied.
    Merged,
}

/// The tabs of the central area.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CentralTab {
    /// The file tree of a peeked layer or of the final filesystem.
    #[default]
    Files,
    /// Wasted bytes, duplicates, risky files and the largest files of the peeked layers.
    Analysis,
    /// How containers of the image run, and its build steps.
    Config,
    /// The differences between the final filesystems of this image and another.
    Compare,
    /// Every indexed image searched for a path; what the index holds.
    Search,
}

impl CentralTab {
    /// Every tab, in the order of the tab row.
    pub const ALL: [Self; 5] = [
        Self::Files,
        Self::Analysis,
        Self::Config,
        Self::Compare,
        Self::Search,
    ];

    /// The tabs shown before an image is open (Files then says how to open one).
    const WITHOUT_IMAGE: [Self; 2] = [Self::Files, Self::Search];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::Files => "Files",
            Self::Analysis => "Analysis",
            Self::Config => "Config",
            Self::Compare => "Compare",
            Self::Search => "Search",
        }
    }

    /// What the tab shows, for its tooltip.
    fn description(self) -> &'static str {
        match self {
            Self::Files => "The files of each peeked layer, or of the final filesystem",
            Self::Analysis => {
                "Wasted bytes and efficiency, duplicate files, risky files (setuid, setgid, \
                 world-writable, secrets) and the largest files of the peeked layers"
            }
            Self::Config => {
                "How containers of the image run (entrypoint, cmd, env, user, ports, labels) \
                 and its build steps"
            }
            Self::Compare => {
                "The paths that differ between this image's final filesystem and another's"
            }
            Self::Search => {
                "Which indexed images hold a path, in which layer; what the search index holds"
            }
        }
    }
}

/// The analysis on screen: what was analysed, and the result.
struct AnalysisShown {
    analysis: Analysis,
    /// Indexes of the layers analysed.
    layers: Vec<usize>,
    /// Regular files listed without their content facts (content checks skipped them).
    files_without_content: usize,
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
    /// How reading the layer ended; `None` while it is still being read.
    result: Option<LayerResult>,
    /// Live download / decode counters.
    progress: Arc<PeekProgress>,
    /// What the layer changes, once it and the peeked layers below it are complete.
    summary: Option<ChangeSummary>,
}

impl PeekedLayer {
    /// The layer and its entries so far, for background work (no entry is copied).
    fn to_entries(&self) -> LayerEntries {
        LayerEntries {
            layer: self.layer.clone(),
            batches: self.batches.clone(),
        }
    }

    /// The layer, its entries (shared) and how it ended, for background work; a layer still
    /// being read counts as cancelled (partial).
    fn to_peeked_listing(&self) -> PeekedListing {
        PeekedListing {
            entries: self.to_entries(),
            result: self.result_so_far(),
        }
    }

    /// How reading ended; a layer still being read counts as cancelled (partial).
    fn result_so_far(&self) -> LayerResult {
        self.result
            .clone()
            .unwrap_or_else(|| LayerResult::ended(LayerStatus::Cancelled))
    }

    /// How reading ended; `None` while the layer is still being read.
    fn status(&self) -> Option<&LayerStatus> {
        self.result.as_ref().map(|result| &result.status)
    }

    /// Whether every entry of the layer arrived.
    fn is_complete(&self) -> bool {
        self.status().is_some_and(LayerStatus::is_complete)
    }

    /// A copy as a listing; a layer still being read counts as cancelled (partial).
    fn to_listing(&self) -> LayerListing {
        self.to_peeked_listing().into_listing()
    }

    /// Ends the layer with `status` unless it already ended.
    fn end_with(&mut self, status: &LayerStatus) {
        if self.result.is_none() {
            self.result = Some(LayerResult::new(
                status.clone(),
                self.progress.bytes_read(),
                ListedFrom::Blob,
            ));
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
    /// The tree on screen was built for the view (a layer's then grows in place).
    tree_holds_view: bool,
    /// A layer at or below the one shown ended since its entries' changes were judged.
    tree_changes_stale: bool,
    /// A tree being built for a view.
    tree_build: Option<(TreeChoice, TreeBuildJob)>,
    tree_build_started: Option<Instant>,
    /// While a peek streams, the merged tree is not rebuilt before this (see `refresh_tree`).
    merged_rebuild_after: Option<Instant>,
    /// A layer ended since the change summaries were last computed.
    summaries_stale: bool,
    /// The change summaries being computed.
    summary_job: Option<ChangeSummaryJob>,
    /// A file being carved out of the image and saved.
    saving: Option<SaveInProgress>,
    /// The tab shown in the central area.
    tab: CentralTab,
    /// Peek layers whole so that files carry content facts (no table of contents).
    need_content: bool,
    /// The analysis of the last peek, once computed.
    analysis: Option<AnalysisShown>,
    /// The layers ended since the analysis was computed: compute it again once the peek ends.
    analysis_stale: bool,
    /// The analysis being computed, and the layers it covers.
    analysis_job: Option<(AnalysisJob, Vec<usize>)>,
    /// The layer picked in the Config tab's build steps, highlighted in the layer list.
    highlighted_layer: Option<usize>,
    /// Scroll the layer list to the highlighted layer on the next frame.
    scroll_to_highlighted: bool,
    /// The Compare tab: image B, the comparison running or done.
    compare: CompareState,
    status: String,
    error: Option<String>,
    show_about: bool,
    /// The "Engine images" window.
    engine_panel: engine_panel::EnginePanel,
    dialogs: Box<dyn FileDialogs>,
    /// Where to save, asked in the window when no native file dialog could be shown.
    save_prompt: Option<SavePrompt>,
    /// Listings of layers seen before; `None` runs without a cache.
    cache: Option<Arc<ListingCache>>,
    /// The preview pane beside the Files tree.
    preview: Preview,
    /// The History pane: one path's versions across the peeked layers, and their diff.
    history: Option<History>,
    /// egui_extras' image loaders are installed (on the first frame).
    loaders_installed: bool,
    /// What is kept between sessions: automatic peeks, remembered registries.
    settings: Settings,
    /// The Settings window is open.
    show_settings: bool,
    /// Logins signed in with during this session, by registry (as written in references).
    logins: BTreeMap<String, Credential>,
    /// The sign-in form, while a registry waits for a login.
    sign_in: Option<SignIn>,
    /// The Registries window is open.
    show_registries: bool,
    /// Why the peek running or shown was started automatically, if it was.
    auto_peek_reason: Option<String>,
    /// The Search tab and the search index.
    search: SearchTab,
    /// A search hit clicked: shown in Files once its image is open and peeked.
    pending_reveal: Option<Hit>,
}

impl LayerslayerApp {
    /// The app as eframe creates it: recent references come from the persisted storage.
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let recent = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, RECENT_KEY))
            .unwrap_or_default();
        let settings = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, SETTINGS_KEY))
            .unwrap_or_default();
        Self {
            settings,
            ..Self::with_recent(recent, Box::new(NativeFileDialogs))
        }
        .with_listing_cache(ListingCache::open_default())
        .with_search_index(SearchIndex::open_default())
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
    /// the field (not fetched) and `dialogs` answer the file dialogs. Images are not peeked
    /// automatically (see [`Self::with_auto_peek`]).
    pub fn new_for_tests(initial_reference: Option<String>, dialogs: Box<dyn FileDialogs>) -> Self {
        let mut app = Self {
            reference_input: initial_reference.unwrap_or_default(),
            ..Self::blank(dialogs)
        };
        app.settings.auto_peek = false;
        app
    }

    /// Peeks an image as soon as it opens when its layers are cheap: local, all cached or
    /// with a table of contents, or at most `limit_mib` MiB compressed; `None`: never.
    pub fn with_auto_peek(mut self, limit_mib: Option<u64>) -> Self {
        self.settings.auto_peek = limit_mib.is_some();
        if let Some(limit) = limit_mib {
            self.settings.auto_peek_limit_mib = limit;
        }
        self
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
            tree_holds_view: false,
            tree_changes_stale: false,
            tree_build: None,
            tree_build_started: None,
            merged_rebuild_after: None,
            summaries_stale: false,
            summary_job: None,
            saving: None,
            tab: CentralTab::Files,
            need_content: false,
            analysis: None,
            analysis_stale: false,
            analysis_job: None,
            highlighted_layer: None,
            scroll_to_highlighted: false,
            compare: CompareState::default(),
            status: "Type an image reference, open an image file or folder, or drop one here."
                .into(),
            error: None,
            show_about: false,
            engine_panel: engine_panel::EnginePanel::default(),
            dialogs,
            save_prompt: None,
            cache: None,
            preview: Preview::default(),
            history: None,
            loaders_installed: false,
            settings: Settings::default(),
            show_settings: false,
            logins: BTreeMap::new(),
            sign_in: None,
            show_registries: false,
            auto_peek_reason: None,
            search: SearchTab::default(),
            pending_reveal: None,
        }
    }

    /// Uses `cache` for layer listings: cached layers show at once, marked "cached", and
    /// complete ones are stored.
    pub fn with_listing_cache(mut self, cache: Option<ListingCache>) -> Self {
        self.cache = cache.map(Arc::new);
        self
    }

    /// Searches `index` in the Search tab, and records there every image whose layers are
    /// all peeked completely (`None`: no Search tab content, nothing recorded).
    pub fn with_search_index(mut self, index: Option<SearchIndex>) -> Self {
        self.search = SearchTab::new(index);
        self
    }

    /// Fills in `reference` and fetches it as soon as the window shows.
    pub fn with_initial_reference(mut self, reference: impl Into<String>) -> Self {
        self.reference_input = reference.into();
        self.fetch_on_first_frame = true;
        self
    }

    /// True while the "Engine images" window asks the engine for its list.
    pub fn is_listing_engine_images(&self) -> bool {
        self.engine_panel.is_listing()
    }

    /// True while anything runs in the background: a fetch, a peek, a tree build, the layers'
    /// change summaries, the analysis, a comparison or a save.
    pub fn is_busy(&self) -> bool {
        self.is_fetching()
            || self.is_peeking()
            || self.is_building_tree()
            || self.is_summarising()
            || self.is_analysing()
            || self.is_comparing()
            || self.is_saving()
    }

    /// True while the analysis of the peeked layers is out of date and being computed.
    pub fn is_analysing(&self) -> bool {
        self.analysis_stale || self.analysis_job.is_some()
    }

    /// True while image A is being compared with image B.
    pub fn is_comparing(&self) -> bool {
        self.compare.is_running()
    }

    /// The analysis of the peeked layers, once computed.
    pub fn analysis(&self) -> Option<&Analysis> {
        self.analysis.as_ref().map(|shown| &shown.analysis)
    }

    /// The tab shown in the central area.
    pub fn current_tab(&self) -> CentralTab {
        self.tab
    }

    /// The path of the selected row of the file tree, if any.
    pub fn selected_tree_path(&self) -> Option<&str> {
        self.tree.selected()
    }

    /// The layer highlighted in the layer list (picked in the Config tab), by index.
    pub fn highlighted_layer(&self) -> Option<usize> {
        self.highlighted_layer
    }

    /// The error of the last comparison, if it failed.
    pub fn compare_error(&self) -> Option<&str> {
        self.compare.error()
    }

    /// Counts of each change of the last comparison, once done.
    pub fn compare_summary(&self) -> Option<DiffSummary> {
        self.compare.summary()
    }

    /// How many layers of image B the last comparison took from image A's listings.
    pub fn compare_shared_layers(&self) -> Option<usize> {
        self.compare.shared_layers()
    }

    /// The rows of the comparison currently visible, top to bottom: path and change (`None`
    /// for a directory shown only as a parent).
    pub fn visible_compare_rows(&mut self) -> Vec<(String, Option<Change>)> {
        self.compare.visible_rows()
    }

    /// Number of comparison rows currently visible.
    pub fn visible_compare_row_count(&mut self) -> usize {
        self.compare.visible_row_count()
    }

    /// The visible comparison row at `row` (0 = top): path and change.
    pub fn visible_compare_row(&mut self, row: usize) -> Option<(String, Option<Change>)> {
        self.compare.visible_row(row)
    }

    /// True while the layers' change summaries are out of date and being computed.
    pub fn is_summarising(&self) -> bool {
        self.summaries_stale || self.summary_job.is_some()
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
        self.tree_stale || self.tree_changes_stale || self.tree_build.is_some()
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
            && self.peeked.iter().all(|layer| layer.result.is_some())
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

    /// The Search tab's hits by image, for the query on screen: reference, platform and hit
    /// count (`None` before its search ended, or when it failed).
    pub fn search_groups(&self) -> Option<Vec<(String, Option<String>, usize)>> {
        let results = self.search.results()?.as_ref().ok()?;
        Some(
            results
                .groups
                .iter()
                .map(|group| (group.image.clone(), group.platform.clone(), group.total))
                .collect(),
        )
    }

    /// The message the Search tab shows instead of hits (a bad pattern, an unreadable
    /// index), for the query on screen.
    pub fn search_error(&self) -> Option<&str> {
        self.search.results()?.as_ref().err().map(String::as_str)
    }

    /// True while the Search tab searches, or waits for the query to stay still.
    pub fn is_searching(&self) -> bool {
        self.search.is_searching()
    }

    /// True while anything runs on the search index: a search, reading what it holds, a
    /// forget or clear, recording a peeked image, a "seen in" count.
    pub fn is_working_on_index(&self) -> bool {
        self.search.is_working()
    }

    /// The images the index holds as the Search tab last read them (`reference` or
    /// `reference [platform]`); `None` before it was read.
    pub fn indexed_images(&self) -> Option<Vec<String>> {
        let summary = self.search.summary.as_ref()?.as_ref().ok()?;
        Some(
            summary
                .images
                .iter()
                .map(|image| match &image.record.platform {
                    Some(platform) => format!("{} [{platform}]", image.record.reference),
                    None => image.record.reference.clone(),
                })
                .collect(),
        )
    }

    /// In how many other indexed images the previewed file's path is, once counted.
    pub fn seen_in_other_images(&self) -> Option<usize> {
        let image = self.image.as_ref()?;
        let path = &self.preview.shown.as_ref()?.key.path;
        self.search
            .known_seen(&image.info.manifest_digest, path)?
            .as_ref()
            .ok()
            .copied()
    }

    /// The Search tab's query, and how it is read.
    pub fn search_query(&self) -> (&str, SearchKind) {
        (&self.search.query, self.search.kind)
    }

    /// The registry the sign-in form asks a login for, while it is open.
    pub fn sign_in_registry(&self) -> Option<&str> {
        self.sign_in.as_ref().map(|form| form.registry.as_str())
    }

    /// The message the sign-in form shows (e.g. a refused password), if any.
    pub fn sign_in_error(&self) -> Option<&str> {
        self.sign_in.as_ref().and_then(|form| form.error.as_deref())
    }

    /// True while a sign-in is being tried.
    pub fn is_signing_in(&self) -> bool {
        self.sign_in.as_ref().is_some_and(|form| form.trying)
    }

    /// Registries signed in to during this session.
    pub fn signed_in_registries(&self) -> Vec<String> {
        self.logins.keys().cloned().collect()
    }

    /// Whether the peek running or shown was started automatically when the image opened.
    pub fn was_peeked_automatically(&self) -> bool {
        self.auto_peek_reason.is_some()
    }

    /// The logins the Registries window lists: this session's and the remembered ones.
    fn login_rows(&self) -> Vec<LoginRow> {
        let mut registries: Vec<&String> = self
            .logins
            .keys()
            .chain(&self.settings.remembered_registries)
            .collect();
        registries.sort();
        registries.dedup();
        registries
            .into_iter()
            .map(|registry| LoginRow {
                registry: registry.clone(),
                in_session: self.logins.contains_key(registry),
                remembered: self.settings.remembered_registries.contains(registry),
            })
            .collect()
    }

    /// The error shown in the window, if any.
    pub fn last_error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The reason line of the in-window save prompt, while it is open (no native file dialog
    /// could be shown).
    pub fn save_prompt_reason(&self) -> Option<String> {
        self.save_prompt.as_ref().map(SavePrompt::reason)
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

    /// How many preview fetches have started (a fetch starts only once the selection has
    /// been still for a moment).
    pub fn preview_jobs_started(&self) -> usize {
        self.preview.jobs_started
    }

    /// True while a preview is being fetched, or waits for the selection to stay still.
    pub fn is_previewing(&self) -> bool {
        self.preview.is_running() || self.preview_pending()
    }

    /// The path the preview pane shows, if any.
    pub fn preview_path(&self) -> Option<&str> {
        self.preview
            .shown
            .as_ref()
            .map(|shown| shown.key.path.as_str())
    }

    /// What the preview shows of its file once fetched: "text", "hex" or "image".
    pub fn preview_kind(&self) -> Option<&'static str> {
        let content = self
            .preview
            .shown
            .as_ref()?
            .content
            .as_ref()?
            .as_ref()
            .ok()?;
        Some(match content.body {
            preview::PreviewBody::Text { .. } => "text",
            preview::PreviewBody::Hex(_) => "hex",
            preview::PreviewBody::Image { .. } => "image",
        })
    }

    /// The size in pixels of the image the preview shows, once decoded.
    pub fn preview_image_size(&self) -> Option<[f32; 2]> {
        self.preview.image_size.map(|size| [size.x, size.y])
    }

    /// Whether the keys scroll the preview (Enter on a file) rather than the tree.
    pub fn preview_has_keys(&self) -> bool {
        self.preview.focused
    }

    /// The path the History pane shows, while it is open.
    pub fn history_path(&self) -> Option<&str> {
        self.history.as_ref().map(|history| history.path.as_str())
    }

    /// The History pane's versions, oldest first: layer index and change.
    pub fn history_versions(&self) -> Vec<(usize, Change)> {
        self.history.as_ref().map_or_else(Vec::new, |history| {
            history
                .rows
                .iter()
                .map(|row| (row.layer, row.change))
                .collect()
        })
    }

    /// True while two versions are read and compared for the History pane.
    pub fn is_comparing_versions(&self) -> bool {
        self.history
            .as_ref()
            .is_some_and(|history| history.job.is_some())
    }

    /// Whether the History pane shows a comparison (done, failed or cancelled).
    pub fn has_version_diff(&self) -> bool {
        self.history
            .as_ref()
            .is_some_and(|history| history.compared.is_some())
    }

    /// Number of tree rows currently visible.
    pub fn visible_tree_row_count(&mut self) -> usize {
        self.tree.rows().len()
    }

    /// The path of the visible tree row at `row` (0 = top), without spelling out the others
    /// (a deep tree's paths, all together, can be far larger than the tree).
    pub fn visible_tree_path(&mut self, row: usize) -> Option<String> {
        let node = self.tree.rows().get(row)?.node;
        Some(self.tree.tree().path(node))
    }
}

impl eframe::App for LayerslayerApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.poll_fetch(ctx);
        self.poll_peek(ctx);
        self.poll_save();
        self.refresh_tree(ctx);
        self.refresh_summaries(ctx);
        self.refresh_analysis(ctx);
        self.poll_compare();
        self.poll_preview();
        self.poll_version_diff();
        self.poll_search(ctx);
        if self.is_busy() || self.preview.is_running() || self.is_comparing_versions() {
            ctx.request_repaint_after(BUSY_REPAINT);
        }
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if !self.loaders_installed {
            egui_extras::install_image_loaders(&ctx);
            self.loaders_installed = true;
        }
        if self.fetch_on_first_frame {
            self.fetch_on_first_frame = false;
            self.run_action(Action::FetchInput, &ctx);
        }
        self.run_actions(shortcut_action(&ctx), &ctx);
        let actions = egui::Panel::top("toolbar")
            .show(ui, |ui| {
                toolbar::toolbar_ui(
                    ui,
                    &mut self.reference_input,
                    &mut self.insecure,
                    &self.recent,
                    self.image.as_ref().map(|image| &image.info),
                )
            })
            .inner;
        self.run_actions(actions, &ctx);
        let busy = self.is_busy();
        let action = egui::Panel::bottom("status")
            .show(ui, |ui| {
                status_bar::status_bar_ui(
                    ui,
                    busy,
                    &self.status,
                    self.saving.as_ref(),
                    self.error.as_deref(),
                )
            })
            .inner;
        self.run_actions(action, &ctx);
        let peeking = self.is_peeking();
        let highlight = layers_panel::Highlight {
            layer: self.highlighted_layer,
            scroll: std::mem::take(&mut self.scroll_to_highlighted),
        };
        let action = egui::Panel::left("layers")
            .resizable(true)
            .default_size(440.0)
            .show(ui, |ui| {
                layers_panel::layers_panel_ui(
                    ui,
                    self.image.as_ref().map(|image| &image.info),
                    &mut self.layer_checked,
                    &self.peeked,
                    peeking,
                    highlight,
                )
            })
            .inner;
        self.run_actions(action, &ctx);
        if self.tab == CentralTab::Files
            && self.image.is_some()
            && let Some(history) = &mut self.history
        {
            let actions = egui::Panel::bottom("history")
                .resizable(true)
                .default_size(320.0)
                .show(ui, |ui| history_panel::history_panel_ui(ui, history))
                .inner;
            self.run_actions(actions, &ctx);
        }
        let beside_files =
            self.tab == CentralTab::Files && self.image.is_some() && !self.peeked.is_empty();
        // In Compare the pane opens once a row is previewed: the comparison's table needs the
        // width until then.
        let beside_compare = self.tab == CentralTab::Compare
            && self.compare.has_result()
            && self
                .preview
                .shown
                .as_ref()
                .is_some_and(|shown| shown.key.compared.is_some());
        if beside_files || beside_compare {
            if self.preview.focused {
                let line = ui.text_style_height(&egui::TextStyle::Monospace) * 3.0;
                let (scroll, leave) = preview_panel::preview_keys(&ctx, line, line * 10.0);
                self.preview.scroll_by += scroll;
                self.preview.focused &= !leave;
            }
            let seen = match (&self.image, &self.preview.shown) {
                (Some(image), Some(shown))
                    if self.tab == CentralTab::Files && shown.key.compared.is_none() =>
                {
                    self.search
                        .seen_line(&image.info.manifest_digest, &shown.key.path, &ctx)
                }
                _ => None,
            };
            let action = egui::Panel::right("preview")
                .resizable(true)
                .default_size(360.0)
                .show(ui, |ui| {
                    preview_panel::preview_panel_ui(ui, &mut self.preview, seen)
                })
                .inner;
            self.run_actions(action, &ctx);
        }
        self.tree.set_keys_enabled(!self.preview.focused);
        let actions = egui::CentralPanel::default()
            .show(ui, |ui| self.central_ui(ui))
            .inner;
        self.run_actions(actions, &ctx);
        if self.tree.take_activated() && self.preview.shown.is_some() {
            self.preview.focused = true;
        }
        self.follow_selection(&ctx);
        about::about_window(&ctx, &mut self.show_about);
        settings::settings_ui(&ctx, &mut self.show_settings, &mut self.settings);
        if self.show_registries {
            let rows = self.login_rows();
            let action = sign_in::registries_ui(&ctx, &mut self.show_registries, &rows);
            self.run_actions(action, &ctx);
        }
        if let Some(form) = &mut self.sign_in {
            let action = sign_in::sign_in_ui(&ctx, form);
            self.run_actions(action, &ctx);
        }
        let action = self.engine_panel.window_ui(&ctx);
        self.run_actions(action, &ctx);
        if let Some(prompt) = &mut self.save_prompt {
            let action = save_prompt::save_prompt_ui(&ctx, prompt).map(|answer| match answer {
                save_prompt::SavePromptAnswer::Save => Action::SaveToTypedPath,
                save_prompt::SavePromptAnswer::Cancel => Action::CancelSavePrompt,
            });
            self.run_actions(action, &ctx);
        }
        self.run_actions(drop_target::dropped_files(&ctx), &ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, RECENT_KEY, &self.recent);
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }
}

impl LayerslayerApp {
    /// The central area: how to start before an image is open, then the tab row and the tab.
    fn central_ui(&mut self, ui: &mut Ui) -> Vec<Action> {
        let Some(image) = &self.image else {
            let mut actions: Vec<Action> = tab_row_ui(ui, self.tab, &CentralTab::WITHOUT_IMAGE)
                .into_iter()
                .collect();
            ui.separator();
            if self.tab == CentralTab::Search {
                actions.extend(search_panel::search_tab_ui(ui, &mut self.search));
                return actions;
            }
            actions.extend(tree_panel::tree_panel_ui(
                ui,
                TreePanel {
                    has_image: false,
                    peeked: &self.peeked,
                    view: self.view,
                    tree: &mut self.tree,
                    peeking: false,
                    building_tree: false,
                },
            ));
            return actions;
        };
        let mut actions: Vec<Action> = tab_row_ui(ui, self.tab, &CentralTab::ALL)
            .into_iter()
            .collect();
        ui.separator();
        let peeking = self.peek.is_some();
        match self.tab {
            CentralTab::Files => {
                let building_tree = self.tree_stale || self.tree_build.is_some();
                let panel = TreePanel {
                    has_image: true,
                    peeked: &self.peeked,
                    view: self.view,
                    tree: &mut self.tree,
                    peeking,
                    building_tree,
                };
                actions.extend(tree_panel::tree_panel_ui(ui, panel));
            }
            CentralTab::Analysis => {
                let panel = analysis_panel::AnalysisPanel {
                    image: &image.info,
                    peeked: &self.peeked,
                    peeking,
                    analysing: self.analysis_stale || self.analysis_job.is_some(),
                    shown: self.analysis.as_ref(),
                    need_content: self.need_content,
                };
                actions.extend(analysis_panel::analysis_panel_ui(ui, &panel));
            }
            CentralTab::Config => {
                actions.extend(config_panel::config_panel_ui(
                    ui,
                    &image.info,
                    self.highlighted_layer,
                ));
            }
            CentralTab::Compare => {
                actions.extend(compare_panel::compare_panel_ui(
                    ui,
                    &image.info,
                    &mut self.compare,
                ));
            }
            CentralTab::Search => {
                actions.extend(search_panel::search_tab_ui(ui, &mut self.search));
            }
        }
        actions
    }
}

/// The row of tabs; returns the tab clicked, if another.
fn tab_row_ui(ui: &mut Ui, current: CentralTab, tabs: &[CentralTab]) -> Option<Action> {
    let mut action = None;
    ui.horizontal(|ui| {
        for &tab in tabs {
            let selected = tab == current;
            let response = ui
                .selectable_label(selected, egui::RichText::new(tab.title()).heading())
                .on_hover_text(tab.description());
            let enabled = response.enabled();
            response.widget_info(|| {
                egui::WidgetInfo::selected(egui::Role::Tab, enabled, selected, tab.title())
            });
            if response.clicked() && !selected {
                action = Some(Action::ShowTab(tab));
            }
        }
    });
    action
}
