//! What the user asks for, as values: panels, shortcuts and drag-and-drop return an
//! [`Action`] while drawing, and [`LayerslayerApp::run_action`] is the one place that acts.

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Key, KeyboardShortcut, Modifiers};

use super::dialogs::DialogChoice;
use super::history_panel::History;
use super::save_prompt::{FileToSave, SavePrompt, SavePurpose, suggested_path};
use super::sign_in::Retry;
use super::{CentralTab, LayerslayerApp, PeekedLayer, SaveInProgress, TreeChoice};
use crate::gui::jobs::{
    CarveJob, CompareRequest, FetchJob, FetchRequest, FirstLookRule, PeekJob, VersionDiffJob,
};
use crate::gui::preview::LOAD_ALL_LIMIT;
use crate::inspect::carve::{CarveError, CarveTarget, find_target};
use crate::inspect::history::path_history;
use crate::model::{LayerListing, LayerStatus, PathFilter, merge_layers};
use crate::oci::LayerInfo;
use crate::oci::manifest::Platform;
use crate::output::escape_control;
use crate::output::{self, Destination};
use crate::search::Hit;
use crate::source::ImageSource;
use crate::source::demo::DEMO_NAME;
use crate::source::open::Location;
use crate::source::registry::{Credential, stored};

/// Ctrl+S (Cmd+S on macOS): export CSV.
pub(super) const EXPORT_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::S);

/// The status line while the in-window save prompt is open (the prompt itself says why).
const NO_DIALOG_STATUS: &str = "No file dialog could be shown: asking in the window where to save.";

/// One thing the user asked for, to be carried out by [`LayerslayerApp::run_action`].
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Fetch what the reference field says (Fetch, Enter, or the reference given at start).
    FetchInput,
    /// Put a recently fetched reference into the field and fetch it.
    OpenRecent(String),
    /// Open an image file or folder (dropped on the window).
    OpenPath(PathBuf),
    /// "Open file…": ask for an image archive, then open it.
    ChooseImageFile,
    /// "Open folder…": ask for an image layout directory, then open it.
    ChooseImageFolder,
    /// "Open demo image": the built-in demo.
    OpenDemo,
    /// Fetch the image on screen again, for another variant of its multi-platform index.
    PickPlatform(Platform),
    /// Peek the ticked layers (all when none is ticked).
    StartPeek,
    /// Stop the peek, keeping what arrived.
    CancelPeek,
    /// Show another tree in the central panel.
    ShowTree(TreeChoice),
    /// Export the peeked listings as CSV (button or Ctrl+S).
    Export,
    /// "Save file…" on the tree row at this path.
    SaveFile(String),
    /// Stop the save in progress.
    CancelSave,
    /// Save to the path typed in the save prompt (shown when no file dialog is available).
    SaveToTypedPath,
    /// Close the save prompt without saving.
    CancelSavePrompt,
    /// Open the About window.
    ShowAbout,
    /// Open the "Engine images" window and list the local engine's images.
    ShowEngineImages,
    /// Show another tab of the central area.
    ShowTab(CentralTab),
    /// Show `path` in the Files tab: in the tree of the layer with index `layer`, or in the
    /// final filesystem (`None`); its parents opened, its row selected and scrolled to.
    RevealPath {
        /// The layer's index in the image, or `None` for the merged view.
        layer: Option<usize>,
        /// The path.
        path: String,
    },
    /// A build step's layer (by index) picked in the Config tab: highlight it, and show its
    /// tree if it was peeked (else tick it for the next peek).
    SelectLayer(usize),
    /// Peek the same layers again, reading them whole so that content checks cover every file.
    PeekWholeLayers,
    /// Compare the image on screen with the image the Compare tab's field names.
    StartCompare,
    /// Compare again with another platform of image B's index.
    PickComparePlatform(Platform),
    /// Stop the comparison.
    CancelCompare,
    /// Select the row a link in the preview points to.
    FollowLink(String),
    /// Stop fetching the preview.
    CancelPreview,
    /// Fetch the whole previewed file (up to the "Load all" limit), not just its start.
    LoadWholePreview,
    /// "History" on the tree row at this path: its versions across the peeked layers.
    ShowHistory(String),
    /// Close the History pane.
    CloseHistory,
    /// Tick or untick the History row at this position for comparison.
    TickVersion(usize),
    /// Compare these two History rows (older first).
    CompareVersions([usize; 2]),
    /// Show the History row's version: its layer's tree, the path selected and previewed.
    ShowVersion(usize),
    /// Stop reading the versions being compared.
    CancelVersionDiff,
    /// Try the login typed in the sign-in form.
    SignIn,
    /// Close the sign-in form without signing in.
    CancelSignIn,
    /// Forget the login for this registry: in this session and in the OS keyring.
    SignOut(String),
    /// Open the Registries window.
    ShowRegistries,
    /// Open the Settings window.
    ShowSettings,
    /// A Search tab hit clicked: open its image and show the file in Files.
    OpenHit(Box<Hit>),
    /// Search this exact path in the Search tab ("seen in N other images").
    SearchPath(String),
    /// Take one image out of the search index.
    ForgetImage {
        /// Its reference, as indexed.
        reference: String,
        /// Its platform, when it came from a multi-platform index.
        platform: Option<String>,
    },
    /// Empty the search index (confirmed in the Search tab).
    ClearIndex,
}

/// The action of a keyboard shortcut pressed this frame, consuming the shortcut.
pub(super) fn shortcut_action(ctx: &egui::Context) -> Option<Action> {
    ctx.input_mut(|i| i.consume_shortcut(&EXPORT_SHORTCUT))
        .then_some(Action::Export)
}

impl LayerslayerApp {
    /// Carries out `actions`, in order.
    pub(super) fn run_actions(
        &mut self,
        actions: impl IntoIterator<Item = Action>,
        ctx: &egui::Context,
    ) {
        for action in actions {
            self.run_action(action, ctx);
        }
    }

    /// Carries out what the user asked for: the one place where clicks, keys and drops act.
    pub(super) fn run_action(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::FetchInput => self.fetch_from_input(ctx),
            Action::OpenRecent(reference) => self.open_text(reference, ctx),
            Action::OpenPath(path) => self.open_path(&path, ctx),
            Action::ChooseImageFile => {
                let choice = self.dialogs.pick_image_file();
                self.open_chosen(choice, ctx);
            }
            Action::ChooseImageFolder => {
                let choice = self.dialogs.pick_image_folder();
                self.open_chosen(choice, ctx);
            }
            Action::OpenDemo => self.open_text(DEMO_NAME.to_owned(), ctx),
            Action::PickPlatform(platform) => {
                if let Some(image) = &self.image {
                    let request = FetchRequest {
                        platform: Some(platform),
                        ..image.request.clone()
                    };
                    self.start_fetch(request, ctx);
                }
            }
            Action::StartPeek => self.start_peek(ctx),
            Action::CancelPeek => self.cancel_peek(),
            Action::ShowTree(choice) => {
                if self.view != choice {
                    self.view = choice;
                    self.show_new_view();
                }
            }
            Action::Export => self.export(),
            Action::SaveFile(path) => self.save_file(&path, ctx),
            Action::CancelSave => self.cancel_save(),
            Action::SaveToTypedPath => self.save_to_typed_path(ctx),
            Action::CancelSavePrompt => {
                if let Some(prompt) = self.save_prompt.take() {
                    self.status = match prompt.purpose {
                        SavePurpose::Export => "Export cancelled; nothing was written.".into(),
                        SavePurpose::File(file) => format!(
                            "Save of {} cancelled; nothing was written.",
                            escape_control(&file.target.path)
                        ),
                    };
                }
            }
            Action::ShowAbout => self.show_about = true,
            Action::ShowEngineImages => self.engine_panel.show(ctx),
            Action::ShowTab(tab) => self.tab = tab,
            Action::OpenHit(hit) => self.open_hit(*hit, ctx),
            Action::SearchPath(path) => {
                self.tab = CentralTab::Search;
                self.search.search_path(&path);
            }
            Action::ForgetImage {
                reference,
                platform,
            } => self.search.forget(reference, platform, ctx),
            Action::ClearIndex => self.search.clear(ctx),
            Action::RevealPath { layer, path } => self.reveal_path(layer, &path),
            Action::SelectLayer(index) => self.select_layer(index),
            Action::PeekWholeLayers => {
                self.need_content = true;
                self.start_peek(ctx);
            }
            Action::StartCompare => {
                self.compare.platform_b = None;
                self.start_compare(None, ctx);
            }
            Action::PickComparePlatform(platform) => {
                self.compare.platform_b = Some(platform);
                self.start_compare(None, ctx);
            }
            Action::FollowLink(path) => self.tree.reveal(&path),
            Action::ShowHistory(path) => self.show_history(path),
            Action::CloseHistory => self.history = None,
            Action::TickVersion(row) => self.tick_version(row, ctx),
            Action::CompareVersions(rows) => {
                if let Some(history) = &mut self.history {
                    history.ticked = rows.to_vec();
                }
                self.compare_versions(rows, ctx);
            }
            Action::ShowVersion(row) => {
                let found = self.history.as_ref().and_then(|history| {
                    let layer = history.rows.get(row)?.layer;
                    Some((layer, history.path.clone()))
                });
                if let Some((layer, path)) = found {
                    self.reveal_path(Some(layer), &path);
                }
            }
            Action::CancelVersionDiff => {
                if let Some(history) = &mut self.history
                    && let Some((rows, _)) = history.job.take()
                {
                    history.compared = Some((rows, Err("Comparison cancelled.".into())));
                }
            }
            Action::CancelPreview => {
                self.preview.job = None;
                if let Some(shown) = &mut self.preview.shown {
                    shown.content = Some(Err("Preview cancelled.".into()));
                }
            }
            Action::LoadWholePreview => {
                if let Some(key) = self.preview.shown.as_ref().map(|s| s.key.clone()) {
                    self.start_preview(key, LOAD_ALL_LIMIT, ctx);
                }
            }
            Action::CancelCompare => {
                if self.compare.cancel() {
                    self.status = "Comparison cancelled.".into();
                }
            }
            Action::SignIn => self.sign_in(ctx),
            Action::CancelSignIn => {
                if let Some(form) = self.sign_in.take() {
                    let reference = escape_control(&form.request.reference);
                    self.status = match form.retry {
                        Retry::Open => {
                            self.fetch = None;
                            format!("Not signed in: {reference} was not opened.")
                        }
                        Retry::Compare => {
                            self.compare.cancel();
                            self.compare.fail(format!(
                                "Not signed in: {reference} needs a login to be compared."
                            ));
                            format!("Not signed in: {reference} was not compared.")
                        }
                    };
                }
            }
            Action::SignOut(registry) => self.sign_out(&registry),
            Action::ShowRegistries => self.show_registries = true,
            Action::ShowSettings => self.show_settings = true,
        }
    }

    /// Retries the refused fetch or comparison with the login typed in the sign-in form.
    fn sign_in(&mut self, ctx: &egui::Context) {
        let Some(form) = self.sign_in.as_mut() else {
            return;
        };
        let retry = form.retry;
        let Some((request, credential)) = form.attempt() else {
            return;
        };
        if retry == Retry::Compare {
            self.start_compare(Some(credential), ctx);
            if let Some(error) = self.compare.error().map(str::to_owned)
                && let Some(form) = &mut self.sign_in
            {
                form.failed(&error);
            }
            return;
        }
        self.start_fetch(request, ctx);
        if let Some(error) = self.error.take()
            && let Some(form) = &mut self.sign_in
        {
            form.failed(&error);
        }
    }

    /// Forgets the login for `registry`: from this session and from the OS keyring.
    fn sign_out(&mut self, registry: &str) {
        let in_session = self.logins.remove(registry).is_some();
        let was_listed = self
            .settings
            .remembered_registries
            .iter()
            .any(|r| r == registry);
        self.settings
            .remembered_registries
            .retain(|r| r != registry);
        let from_keyring = stored::forget(registry);
        let registry = escape_control(registry);
        self.status = match (in_session || was_listed, from_keyring) {
            (_, true) => {
                format!("Signed out of {registry}; its login was removed from the OS keyring.")
            }
            (true, false) => format!("Signed out of {registry}."),
            (false, false) => format!("There was no login for {registry}."),
        };
    }

    /// The login signed in with for the registry `reference` names, if any.
    pub(super) fn session_login(&self, reference: &str) -> Option<Credential> {
        self.logins.get(&registry_of(reference)?).cloned()
    }

    /// Switches to the Files tab showing `path` in the tree of layer `layer` (by index), or of
    /// the final filesystem.
    pub(super) fn reveal_path(&mut self, layer: Option<usize>, path: &str) {
        let view = match layer {
            None => TreeChoice::Merged,
            Some(index) => match self.peeked.iter().position(|p| p.layer.index == index) {
                Some(position) => TreeChoice::Layer(position),
                None => {
                    self.error = Some(format!(
                        "Layer {index} is not among the peeked layers: peek it to see {}.",
                        escape_control(path)
                    ));
                    return;
                }
            },
        };
        self.tab = CentralTab::Files;
        if self.view != view {
            self.view = view;
            self.show_new_view();
        }
        self.tree.reveal(path);
    }

    /// Highlights layer `index` in the layer list; shows its tree when it was peeked, else
    /// ticks it (alone) for the next peek.
    fn select_layer(&mut self, index: usize) {
        self.highlighted_layer = Some(index);
        self.scroll_to_highlighted = true;
        if let Some(position) = self.peeked.iter().position(|p| p.layer.index == index) {
            self.tab = CentralTab::Files;
            let view = TreeChoice::Layer(position);
            if self.view != view {
                self.view = view;
                self.show_new_view();
            }
            self.status = format!("Showing the files of layer {index}.");
        } else if index < self.layer_checked.len() {
            for (at, checked) in self.layer_checked.iter_mut().enumerate() {
                *checked = at == index;
            }
            self.status =
                format!("Layer {index} is ticked in the layer list: press Peek to list its files.");
        }
    }

    /// Starts comparing the image on screen (A) with the one the Compare tab names (B), on
    /// B's chosen platform or else A's.
    /// `credential`: the login for B's registry (`None`: this session's, if any).
    fn start_compare(&mut self, credential: Option<Credential>, ctx: &egui::Context) {
        let Some(image) = &self.image else {
            return;
        };
        let reference = self.compare.input.trim().to_owned();
        if reference.is_empty() {
            self.compare
                .fail("Type the image to compare with: a reference, a path, oci:DIR or demo.");
            return;
        }
        let platform = self
            .compare
            .platform_b
            .clone()
            .or_else(|| image.info.platform.clone());
        let request = CompareRequest {
            image_b: FetchRequest {
                credential: credential.or_else(|| self.session_login(&reference)),
                reference,
                platform,
                insecure: self.insecure,
            },
            source_a: Arc::clone(&image.source),
            layers_a: image.info.layers.clone(),
            peeked_a: self
                .peeked
                .iter()
                .filter(|layer| layer.is_complete())
                .map(PeekedLayer::to_peeked_listing)
                .collect(),
            cache: self.cache.clone(),
            need_content: self.need_content,
        };
        self.compare.start(request, ctx);
    }

    fn fetch_from_input(&mut self, ctx: &egui::Context) {
        let request = FetchRequest {
            reference: self.reference_input.trim().to_owned(),
            platform: None,
            insecure: self.insecure,
            credential: None,
        };
        self.start_fetch(request, ctx);
    }

    /// Shows `text` (a reference, a path, `demo`) in the field and opens it.
    fn open_text(&mut self, text: String, ctx: &egui::Context) {
        self.reference_input = text;
        self.fetch_from_input(ctx);
    }

    /// Opens what the user picked in an open dialog. Without a dialog, says how else to open
    /// an image: the reference field takes paths, and the window takes dropped files.
    fn open_chosen(&mut self, choice: DialogChoice, ctx: &egui::Context) {
        match choice {
            DialogChoice::Chosen(path) => self.open_path(&path, ctx),
            DialogChoice::Cancelled => {}
            DialogChoice::Unavailable(why) => {
                self.error = Some(format!(
                    "No file dialog is available ({}): type the image's path in the Image \
                     reference field and press Enter, or drop it on the window.",
                    escape_control(&why)
                ));
            }
        }
    }

    /// Opens a path picked in a dialog or dropped on the window.
    fn open_path(&mut self, path: &std::path::Path, ctx: &egui::Context) {
        self.open_text(path.to_string_lossy().into_owned(), ctx);
    }

    /// Starts resolving `request`, with this session's login for its registry unless it
    /// carries one.
    pub(super) fn start_fetch(&mut self, mut request: FetchRequest, ctx: &egui::Context) {
        self.fetch = None;
        self.error = None;
        if request.credential.is_none() {
            request.credential = self.session_login(&request.reference);
        }
        self.status = format!("Resolving {}…", escape_control(&request.reference));
        let rule = FirstLookRule {
            size_limit: self.settings.auto_peek_limit(),
            cache: self.cache.clone(),
        };
        match FetchJob::start(request, rule, ctx.clone()) {
            Ok(job) => self.fetch = Some(job),
            Err(error) => {
                self.error = Some(error);
                self.status.clear();
            }
        }
    }

    pub(super) fn start_peek(&mut self, ctx: &egui::Context) {
        self.auto_peek_reason = None;
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
        let need_content = self.need_content;
        match PeekJob::start(
            source,
            layers.clone(),
            self.cache.clone(),
            need_content,
            ctx.clone(),
        ) {
            Ok(job) => {
                let count = layers.len();
                self.history = None;
                self.peeked = layers
                    .into_iter()
                    .enumerate()
                    .map(|(position, layer)| PeekedLayer {
                        layer,
                        batches: Vec::new(),
                        entry_count: 0,
                        result: None,
                        progress: job.layer_progress(position).cloned().unwrap_or_default(),
                        summary: None,
                    })
                    .collect();
                self.peek = Some(job);
                self.summaries_stale = false;
                self.summary_job = None;
                self.analysis = None;
                self.analysis_stale = false;
                self.analysis_job = None;
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
        self.summaries_stale = true;
        self.analysis_stale = true;
        self.status = format!(
            "Cancelled; kept the {} entries read so far.",
            self.entry_count()
        );
    }

    /// "Export CSV…": asks where (the native dialog, else the in-window prompt), then writes.
    fn export(&mut self) {
        if self.save_prompt.is_some() {
            // Ctrl+S again while the prompt asks where to save: it is already on screen.
            return;
        }
        if self.is_peeking() {
            self.error =
                Some("Wait for the peek to finish (or cancel it) before exporting.".into());
            return;
        }
        if self.peeked.is_empty() {
            self.error = Some("Nothing to export yet: peek some layers first.".into());
            return;
        }
        let file_name = export_file_name(
            self.image
                .as_ref()
                .map_or("", |image| image.request.reference.as_str()),
        );
        match self.dialogs.pick_save_path(&file_name) {
            DialogChoice::Chosen(path) => {
                self.export_to(&path).ok();
            }
            DialogChoice::Cancelled => self.status = "Export cancelled.".into(),
            DialogChoice::Unavailable(why) => {
                self.status = NO_DIALOG_STATUS.into();
                self.save_prompt = Some(SavePrompt::new(
                    SavePurpose::Export,
                    why,
                    &suggested_path(&file_name),
                ));
            }
        }
    }

    /// Writes the CSV export of the peeked layers (the view shown, narrowed by the filter) to
    /// `path`, atomically: on failure any previous file there is unchanged. The outcome goes
    /// to the status line or the error line; the error is also returned.
    fn export_to(&mut self, path: &std::path::Path) -> Result<(), String> {
        let listings = self.peeked_listings();
        let merged;
        let mut rows = match self.view {
            TreeChoice::Merged => {
                merged = merge_layers(&listings);
                output::rows_of_merged(&merged, &listings)
            }
            TreeChoice::Layer(_) => output::rows_of_listings(&listings),
        };
        let filter = PathFilter::new(self.tree.filter());
        rows.retain(|row| filter.matches(&row.entry.path));
        let destination = Destination::File(path.to_owned());
        match output::write_to(&destination, |out| output::write_csv(&rows, out)) {
            Ok(()) => {
                self.error = None;
                self.status = format!("Exported {} rows to {}", rows.len(), path.display());
                Ok(())
            }
            Err(error) => {
                let message = format!("Export failed: {error}");
                self.error = Some(message.clone());
                Err(message)
            }
        }
    }

    /// Save in the prompt: the export is written now; a file's carving starts in the
    /// background. A path that cannot be used keeps the prompt open, saying why.
    fn save_to_typed_path(&mut self, ctx: &egui::Context) {
        let Some(prompt) = &mut self.save_prompt else {
            return;
        };
        let path = match prompt.chosen_path() {
            Ok(path) => path,
            Err(message) => {
                prompt.fail(message);
                return;
            }
        };
        match &prompt.purpose {
            SavePurpose::Export => match self.export_to(&path) {
                Ok(()) => self.save_prompt = None,
                Err(message) => {
                    if let Some(prompt) = &mut self.save_prompt {
                        prompt.fail(message);
                    }
                }
            },
            SavePurpose::File(_) => {
                // The carve writes in the background: refuse a missing folder now, while the
                // prompt is still open to correct it.
                if let Some(parent) = path.parent()
                    && !parent.is_dir()
                {
                    prompt.fail(format!(
                        "The folder {} does not exist.",
                        escape_control(&parent.display().to_string())
                    ));
                    return;
                }
                if self.saving.is_some() {
                    prompt.fail("A file is being saved: wait for it, or press Cancel save.".into());
                    return;
                }
                if let Some(SavePrompt {
                    purpose: SavePurpose::File(file),
                    ..
                }) = self.save_prompt.take()
                {
                    let FileToSave {
                        source,
                        target,
                        caveat,
                    } = *file;
                    self.start_carve(source, target, caveat, path, ctx);
                }
            }
        }
    }

    /// "Save file…" on the tree row at `path`: the version shown (merged view: the final
    /// filesystem's; a layer's view: that layer's own, even if a later layer replaced it) is
    /// carved out of the image in the background and saved where the user picks.
    fn save_file(&mut self, path: &str, ctx: &egui::Context) {
        let Some(image) = &self.image else {
            return;
        };
        if self.save_prompt.is_some() {
            return;
        }
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
        let source = Arc::clone(&image.source);
        let name = target.path.rsplit('/').next().unwrap_or("file").to_owned();
        match self.dialogs.pick_save_path(&name) {
            DialogChoice::Chosen(destination) => {
                self.start_carve(source, target, caveat, destination, ctx);
            }
            DialogChoice::Cancelled => self.status = "Save cancelled.".into(),
            DialogChoice::Unavailable(why) => {
                self.status = NO_DIALOG_STATUS.into();
                self.save_prompt = Some(SavePrompt::new(
                    SavePurpose::File(Box::new(FileToSave {
                        source,
                        target,
                        caveat,
                    })),
                    why,
                    &suggested_path(&name),
                ));
            }
        }
    }

    /// Starts carving `target` out of `source` into `destination` in the background.
    fn start_carve(
        &mut self,
        source: Arc<dyn ImageSource>,
        target: CarveTarget,
        caveat: Option<String>,
        destination: PathBuf,
        ctx: &egui::Context,
    ) {
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
}

/// In the merged view, a note when a peeked layer newer than the target's was not read
/// completely: it might hold a newer version of the file.
fn incomplete_above(listings: &[LayerListing], target: &CarveTarget) -> Option<String> {
    let newer: Vec<String> = listings
        .iter()
        .filter(|l| l.layer.index > target.layer.index && !l.result.status.is_complete())
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

/// The file name an export is offered under: `layerslayer-NAME.csv`, NAME from the image's
/// reference (its last path part, without a digest; only letters, digits, `.`, `_` and `-`).
fn export_file_name(reference: &str) -> String {
    let reference = reference.trim().trim_end_matches('/');
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let name = last.split('@').next().unwrap_or(last);
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    let name = name.trim_matches(|c| c == '-' || c == '.');
    if name.is_empty() {
        "layerslayer.csv".into()
    } else {
        format!("layerslayer-{name}.csv")
    }
}

impl LayerslayerApp {
    /// Opens the History pane on `path`: its versions across the peeked layers.
    fn show_history(&mut self, path: String) {
        let listings = self.peeked_listings();
        let rows = path_history(&listings, &path);
        if rows.is_empty() {
            self.status = format!(
                "No peeked layer adds, modifies or removes {}.",
                escape_control(&path)
            );
        }
        self.history = Some(History::new(path, listings.len(), rows));
    }

    /// Ticks or unticks a History row; with two ticked, compares them (older first).
    fn tick_version(&mut self, row: usize, ctx: &egui::Context) {
        let Some(history) = &mut self.history else {
            return;
        };
        if let Some(at) = history.ticked.iter().position(|&r| r == row) {
            history.ticked.remove(at);
            return;
        }
        if !history.has_data(row) {
            return;
        }
        history.ticked.push(row);
        if history.ticked.len() > 2 {
            history.ticked.remove(0);
        }
        if let [a, b] = history.ticked[..] {
            self.compare_versions([a.min(b), a.max(b)], ctx);
        }
    }

    /// Reads the versions of History rows `rows` (older first) and compares them in the
    /// background.
    fn compare_versions(&mut self, rows: [usize; 2], ctx: &egui::Context) {
        let (Some(history), Some(image)) = (&mut self.history, &self.image) else {
            return;
        };
        let layers = rows.map(|row| {
            let index = history.rows.get(row).map(|r| r.layer);
            self.peeked
                .iter()
                .find(|p| Some(p.layer.index) == index)
                .map(PeekedLayer::to_entries)
        });
        let [Some(before), Some(after)] = layers else {
            history.compared = Some((
                rows,
                Err("These versions are not among the peeked layers.".into()),
            ));
            return;
        };
        history.job = None;
        history.compared = None;
        match VersionDiffJob::start(
            Arc::clone(&image.source),
            self.cache.clone(),
            history.path.clone(),
            [before, after],
            ctx,
        ) {
            Ok(job) => history.job = Some((rows, job)),
            Err(error) => history.compared = Some((rows, Err(error))),
        }
    }
}

/// The registry `reference` names (as written in references, e.g. `ghcr.io`), if it names a
/// registry image.
pub(super) fn registry_of(reference: &str) -> Option<String> {
    match Location::parse(reference).ok()? {
        Location::Registry(reference) => Some(reference.registry().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::export_file_name;

    #[test]
    fn export_file_names_come_from_the_reference() {
        assert_eq!(export_file_name("demo"), "layerslayer-demo.csv");
        assert_eq!(
            export_file_name("localhost:5000/gui/sample:v1"),
            "layerslayer-sample-v1.csv"
        );
        assert_eq!(
            export_file_name("alpine@sha256:0123abcd"),
            "layerslayer-alpine.csv"
        );
        assert_eq!(
            export_file_name("./dir/image.tar"),
            "layerslayer-image.tar.csv"
        );
        assert_eq!(export_file_name(""), "layerslayer.csv");
        assert_eq!(export_file_name("../"), "layerslayer.csv");
    }
}
