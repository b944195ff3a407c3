//! Background work reaching the screen: fetch results, peeked entries, tree builds, change
//! summaries, the analysis, comparisons and saves, polled once per frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::actions::registry_of;
use super::preview_panel::{DEBOUNCE, PreviewKey, Shown};
use super::sign_in::{Retry, SignIn};
use super::{AnalysisShown, LayerslayerApp, LoadedImage, SaveInProgress, TreeChoice};
use crate::gui::jobs::{
    AnalysisJob, ChangeSummaryJob, FetchError, FetchJob, FetchRequest, FetchedImage, FirstLook,
    PeekMessage, PreviewJob, SaveError, TreeBuildJob, TreeInput, TreeUpdate,
};
use crate::gui::preview::{PREVIEW_LIMIT, PreviewRequest, link_destination};
use crate::gui::widgets::files_tree::{BuiltTree, TreeScope, TreeView, removal_text};
use crate::inspect::carve::{CarveError, CarveReport, CarveTarget};
use crate::inspect::diff::Side;
use crate::model::{EntryKind, LayerStatus, normalize_path};
use crate::oci::LayerInfo;
use crate::output::{escape_control, human_size};
use crate::source::registry::stored;

/// Entries a frame adds to the shown layer's tree at most while it streams.
const TREE_ENTRIES_PER_FRAME: usize = 8_192;

/// How many recent references are remembered.
const MAX_RECENT: usize = 12;
/// While entries stream in, the merged tree is rebuilt at most this often.
const TREE_REBUILD_INTERVAL: Duration = Duration::from_millis(250);
/// While entries stream in, the wait before the next merged rebuild is at least this many
/// times the last build's duration. Builds then grow geometrically apart as the layers do,
/// so all the rebuilds of a peek together cost a small multiple of the last one, however
/// many entries stream in.
const MERGED_REBUILD_SPACING: u32 = 3;

impl LayerslayerApp {
    pub(super) fn poll_fetch(&mut self, ctx: &egui::Context) {
        let Some(result) = self.fetch.as_mut().and_then(FetchJob::take_outcome) else {
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
                let signed_in = self.signed_in(&fetched.request);
                let first_look = fetched.first_look.clone();
                self.load_image(fetched);
                self.first_look(first_look, ctx);
                if let Some(note) = signed_in {
                    match note {
                        Ok(note) => self.status = format!("{note} {}", self.status),
                        Err(error) => self.error = Some(error),
                    }
                }
            }
            Err(error) => self.fetch_failed(error),
        }
    }

    /// A fetch with the sign-in form's login worked: the form closes, the login is kept for
    /// the session and, when asked, in the OS keyring. Returns what to tell the user (an
    /// error when the keyring could not keep it); `None` when no sign-in was waiting.
    fn signed_in(&mut self, request: &FetchRequest) -> Option<Result<String, String>> {
        let registry = registry_of(&request.reference)?;
        let credential = request.credential.clone()?;
        if self
            .sign_in
            .as_ref()
            .is_none_or(|form| form.registry != registry)
        {
            return None;
        }
        let form = self.sign_in.take()?;
        self.logins.insert(registry.clone(), credential.clone());
        let shown = escape_control(&registry).into_owned();
        if !form.remember {
            return Some(Ok(format!("Signed in to {shown} for this session.")));
        }
        Some(match stored::remember(&registry, &credential) {
            Ok(()) => {
                if !self.settings.remembered_registries.contains(&registry) {
                    self.settings.remembered_registries.push(registry);
                }
                Ok(format!(
                    "Signed in to {shown}; the login is kept in the OS keyring."
                ))
            }
            Err(reason) => Err(format!(
                "Signed in to {shown} for this session only: {}.",
                escape_control(&reason)
            )),
        })
    }

    /// A fetch failed: a registry that wants a login gets the sign-in form (again, saying
    /// the login was refused, when it was the form's); any other failure is shown.
    fn fetch_failed(&mut self, error: FetchError) {
        if self.ask_for_login(&error, Retry::Open) {
            return;
        }
        if let Some(form) = &mut self.sign_in
            && form.trying
        {
            form.failed(&error.message);
        }
        // Also on stderr, for whoever started the app from a terminal or a script.
        eprintln!("error: {}", escape_control(&error.message));
        self.error = Some(error.message);
        self.status = "The image could not be opened.".into();
    }

    /// When `error` is a registry's refusal for want of a login (or of the right one), opens
    /// the sign-in form to `retry` with a login (or says the form's login was refused);
    /// returns whether it did.
    fn ask_for_login(&mut self, error: &FetchError, retry: Retry) -> bool {
        let (Some(registry), Some(request)) = (&error.login_needed, &error.request) else {
            return false;
        };
        // A session login the registry refuses is forgotten.
        if request.credential.is_some() {
            self.logins.remove(registry);
        }
        match &mut self.sign_in {
            Some(form) if form.registry == *registry && form.trying => form.refused(),
            _ => {
                let request = FetchRequest {
                    credential: None,
                    ..(**request).clone()
                };
                self.sign_in = Some(SignIn::new(registry.clone(), request, retry));
            }
        }
        self.status = format!(
            "{} needs a login: sign in to {}.",
            escape_control(registry),
            match retry {
                Retry::Open => "open the image",
                Retry::Compare => "compare with the image",
            }
        );
        true
    }

    /// Peeks the image just opened when its layers are cheap, saying so; else says why it
    /// waits for Peek.
    fn first_look(&mut self, first_look: FirstLook, ctx: &egui::Context) {
        match first_look {
            FirstLook::Off => {}
            FirstLook::Cheap(why) => {
                self.start_peek(ctx);
                if self.peek.is_some() {
                    self.status = format!(
                        "Peeking all {} layers automatically ({why})…",
                        self.peeked.len()
                    );
                    self.auto_peek_reason = Some(why);
                }
            }
            FirstLook::Large(total) => {
                self.status = format!(
                    "Large image ({} compressed, over the {} MiB of Settings…): tick layers \
                     and press Peek.",
                    human_size(total),
                    self.settings.auto_peek_limit_mib
                );
            }
        }
    }

    fn load_image(&mut self, fetched: FetchedImage) {
        let FetchedImage {
            request,
            source,
            info,
            ..
        } = fetched;
        self.remember(&request.reference);
        self.peek = None;
        self.peeked.clear();
        self.history = None;
        self.view = TreeChoice::Layer(0);
        self.tree = TreeView::new();
        self.tree_holds_view = false;
        self.tree_changes_stale = false;
        self.tree_stale = false;
        self.tree_build = None;
        self.summaries_stale = false;
        self.summary_job = None;
        self.analysis = None;
        self.analysis_stale = false;
        self.analysis_job = None;
        // A new image is peeked the quick way again (tables of contents) until asked otherwise.
        self.need_content = false;
        self.highlighted_layer = None;
        self.compare.clear_result();
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

    pub(super) fn poll_save(&mut self) {
        let Some(result) = self.saving.as_mut().and_then(|s| s.job.take_outcome()) else {
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

    pub(super) fn poll_peek(&mut self, ctx: &egui::Context) {
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
            self.summaries_stale = true;
            self.analysis_stale = true;
            self.status = self.peek_summary();
            self.record_peek_in_index(ctx);
        }
    }

    /// Takes in what a peek worker sent.
    pub(super) fn apply(&mut self, message: PeekMessage) {
        match message {
            PeekMessage::Entries { position, entries } => {
                if let Some(layer) = self.peeked.get_mut(position) {
                    layer.entry_count += entries.len();
                    layer.batches.push(Arc::new(entries));
                }
                // A layer's tree grows in place (see `refresh_tree`); the merged one is rebuilt.
                if self.view == TreeChoice::Merged || self.view == TreeChoice::Layer(position) {
                    self.tree_stale = true;
                }
            }
            PeekMessage::LayerDone { position, result } => {
                if let Some(layer) = self.peeked.get_mut(position) {
                    layer.result = Some(result);
                }
                self.summaries_stale = true;
                // The changes of a layer's entries are judged again once it or a layer below
                // it ended.
                if let TreeChoice::Layer(shown) = self.view
                    && position <= shown
                {
                    self.tree_changes_stale = true;
                }
            }
        }
    }

    /// Entries received so far, over all peeked layers.
    pub(super) fn entry_count(&self) -> usize {
        self.peeked.iter().map(|layer| layer.entry_count).sum()
    }

    fn peek_summary(&self) -> String {
        let count = self.peeked.len();
        let incomplete = self
            .peeked
            .iter()
            .filter(|layer| !layer.is_complete())
            .count();
        let mut summary = match &self.auto_peek_reason {
            Some(why) => format!(
                "Peeked automatically: {count} layer{}, {} entries ({why}).",
                if count == 1 { "" } else { "s" },
                self.entry_count()
            ),
            None => format!(
                "Peeked {count} layer{}: {} entries.",
                if count == 1 { "" } else { "s" },
                self.entry_count()
            ),
        };
        if incomplete > 0 {
            summary.push_str(&format!(
                " {incomplete} layer{} did not complete; see the layer list.",
                if incomplete == 1 { "" } else { "s" }
            ));
        }
        summary
    }

    /// Switches the central panel to `self.view`: the old tree goes, a new one is built.
    pub(super) fn show_new_view(&mut self) {
        let scope = match self.view {
            TreeChoice::Merged => TreeScope::Merged {
                base_layer: self.peeked.first().map(|layer| layer.layer.index),
            },
            TreeChoice::Layer(_) => TreeScope::Layer,
        };
        self.tree.set_built_tree(BuiltTree::empty(scope));
        self.tree_holds_view = false;
        self.tree_build = None;
        self.tree_build_started = None;
        self.merged_rebuild_after = None;
        self.tree_stale = true;
        self.tree_changes_stale = false;
    }

    /// Keeps the tree on screen up to date with the entries of its view. A layer's tree is
    /// built once in the background, then grows in place as batches arrive (its entries'
    /// changes judged again in the background when a layer ends); the merged tree is rebuilt
    /// in the background while a peek streams, at most every [`TREE_REBUILD_INTERVAL`] and
    /// [`MERGED_REBUILD_SPACING`] times its last build's duration apart. One build at a time.
    pub(super) fn refresh_tree(&mut self, ctx: &egui::Context) {
        if let Some((choice, job)) = &mut self.tree_build
            && let Some(update) = job.take_result()
        {
            if let Some(started) = self.tree_build_started {
                let took = started.elapsed();
                self.merged_rebuild_after =
                    Some(Instant::now() + TREE_REBUILD_INTERVAL.max(took * MERGED_REBUILD_SPACING));
            }
            match update {
                Ok(update) if *choice == self.view => match update {
                    TreeUpdate::Tree(tree) => {
                        self.tree.set_built_tree(tree);
                        self.tree_holds_view = true;
                    }
                    TreeUpdate::LayerChanges(changes) => self.tree.set_changes(0, changes),
                },
                Ok(_) => {}
                Err(error) => self.error = Some(error.to_string()),
            }
            self.tree_build = None;
        }
        if let TreeChoice::Layer(position) = self.view
            && self.tree_holds_view
        {
            if self.add_new_batches(position) {
                // More batches wait: the next frame takes them.
                ctx.request_repaint();
            }
            self.tree_stale = false;
        }
        if self.tree_build.is_some() {
            return;
        }
        let layers_up_to = |position: usize| -> Vec<_> {
            self.peeked
                .iter()
                .take(position.saturating_add(1))
                .map(|layer| layer.to_entries())
                .collect()
        };
        // Base first: the layers below the one shown decide its entries' changes.
        let input = match self.view {
            TreeChoice::Layer(position) if self.tree_holds_view => {
                if !self.tree_changes_stale {
                    return;
                }
                self.tree_changes_stale = false;
                TreeInput::LayerChanges(layers_up_to(position))
            }
            TreeChoice::Layer(position) => {
                if !self.tree_stale {
                    return;
                }
                TreeInput::Layer(layers_up_to(position))
            }
            TreeChoice::Merged => {
                if !self.tree_stale {
                    return;
                }
                let wait = self.merged_rebuild_after.map_or(Duration::ZERO, |after| {
                    after.saturating_duration_since(Instant::now())
                });
                if self.is_peeking() && !wait.is_zero() {
                    ctx.request_repaint_after(wait);
                    return;
                }
                TreeInput::Merged(self.peeked.iter().map(|layer| layer.to_entries()).collect())
            }
        };
        self.tree_stale = false;
        self.tree_build_started = Some(Instant::now());
        match TreeBuildJob::start(input, ctx.clone()) {
            Ok(job) => self.tree_build = Some((self.view, job)),
            Err(error) => self.error = Some(error),
        }
    }

    /// Adds the batches of the layer at `position` that its tree on screen does not hold yet.
    /// Grows the shown layer's tree by the batches that arrived, at most
    /// [`TREE_ENTRIES_PER_FRAME`] entries a frame so that a burst never stalls the window;
    /// true when batches are left for the next frame.
    fn add_new_batches(&mut self, position: usize) -> bool {
        let Some(layer) = self.peeked.get(position) else {
            return false;
        };
        let held = self.tree.built().source_batches(0);
        if held >= layer.batches.len() {
            return false;
        }
        let mut added = 0;
        let mut taken = held;
        for batch in &layer.batches[held..] {
            if added >= TREE_ENTRIES_PER_FRAME {
                break;
            }
            added += batch.len();
            taken += 1;
            self.tree.add_batch(0, Arc::clone(batch));
        }
        self.tree.batches_added();
        taken < layer.batches.len()
    }
}

impl LayerslayerApp {
    /// Takes finished change summaries, and computes them again in the background when a
    /// layer ended since (one computation at a time). A layer's summary shows once it and
    /// every peeked layer below it are complete.
    pub(super) fn refresh_summaries(&mut self, ctx: &egui::Context) {
        if let Some(job) = &mut self.summary_job
            && let Some(summarised) = job.take_result()
        {
            self.summary_job = None;
            let summaries = summarised.unwrap_or_else(|error| {
                self.error = Some(error.to_string());
                Vec::new()
            });
            if summaries.len() == self.peeked.len() {
                for (layer, summary) in self.peeked.iter_mut().zip(summaries) {
                    layer.summary = summary;
                }
            }
        }
        if !self.summaries_stale || self.summary_job.is_some() {
            return;
        }
        self.summaries_stale = false;
        let complete = self
            .peeked
            .iter()
            .take_while(|layer| layer.is_complete())
            .count();
        if complete == 0 {
            return;
        }
        let layers = self.peeked.iter().map(|layer| layer.to_entries()).collect();
        match ChangeSummaryJob::start(layers, complete, ctx.clone()) {
            Ok(job) => self.summary_job = Some(job),
            Err(error) => self.error = Some(error),
        }
    }
}

impl LayerslayerApp {
    /// Takes a finished analysis, and analyses the peeked layers in the background once the
    /// peek has ended (again after a new peek).
    pub(super) fn refresh_analysis(&mut self, ctx: &egui::Context) {
        if let Some((job, layers)) = &mut self.analysis_job
            && let Some(analysed) = job.take_result()
        {
            match analysed {
                Ok(done) => {
                    self.analysis = Some(AnalysisShown {
                        analysis: done.analysis,
                        layers: std::mem::take(layers),
                        files_without_content: done.files_without_content,
                    });
                }
                Err(error) => self.error = Some(error.to_string()),
            }
            self.analysis_job = None;
        }
        if !self.analysis_stale || self.analysis_job.is_some() || self.is_peeking() {
            return;
        }
        self.analysis_stale = false;
        if self.peeked.is_empty() || self.peeked.iter().any(|layer| layer.result.is_none()) {
            return;
        }
        let layers = self
            .peeked
            .iter()
            .map(|layer| layer.to_peeked_listing())
            .collect();
        let indexes = self.peeked.iter().map(|layer| layer.layer.index).collect();
        match AnalysisJob::start(layers, ctx.clone()) {
            Ok(job) => self.analysis_job = Some((job, indexes)),
            Err(error) => self.error = Some(error),
        }
    }

    /// Takes a finished comparison. A registry that refused B for want of a login gets the
    /// sign-in form, which compares again once signed in.
    pub(super) fn poll_compare(&mut self) {
        match self.compare.poll() {
            None => {}
            Some(Ok((status, request_b))) => {
                self.status = status;
                match self.signed_in(&request_b) {
                    Some(Ok(note)) => self.status = format!("{note} {}", self.status),
                    Some(Err(error)) => self.error = Some(error),
                    None => {}
                }
            }
            Some(Err(error)) => {
                if self.ask_for_login(&error, Retry::Compare) {
                    return;
                }
                if let Some(form) = &mut self.sign_in
                    && form.trying
                {
                    form.failed(&error.message);
                }
                self.compare.fail(error.message);
                self.status = "The comparison failed; see the Compare tab.".into();
            }
        }
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

impl LayerslayerApp {
    /// Whether the selection moved to a row whose preview waits for it to stay still.
    pub(super) fn preview_pending(&self) -> bool {
        match (&self.preview.wanted, &self.preview.shown) {
            (None, _) => false,
            (Some((key, _)), Some(shown)) => shown.key != *key,
            (Some(_), None) => true,
        }
    }

    /// Makes the preview follow the Files tree's selection: a new selection cancels the fetch
    /// of the last one, and its own starts once it has been still for [`DEBOUNCE`].
    pub(super) fn follow_selection(&mut self, ctx: &egui::Context) {
        let key = match self.tab {
            super::CentralTab::Files => self.tree.selected().map(|path| PreviewKey {
                view: self.view,
                path: path.to_owned(),
                compared: None,
            }),
            super::CentralTab::Compare => {
                self.compare.selected_file().map(|(path, side)| PreviewKey {
                    view: TreeChoice::Merged,
                    path,
                    compared: Some(side),
                })
            }
            _ => return,
        };
        if key.as_ref() != self.preview.wanted.as_ref().map(|(key, _)| key) {
            self.preview.wanted = key.map(|key| (key, Instant::now()));
            // Cancels a stale fetch.
            self.preview.job = None;
            if self.preview.wanted.is_some() {
                self.preview.focused = false;
            }
        }
        if !self.preview_pending() {
            return;
        }
        let Some((key, since)) = self.preview.wanted.clone() else {
            return;
        };
        let waited = since.elapsed();
        if waited < DEBOUNCE {
            ctx.request_repaint_after(DEBOUNCE - waited);
            return;
        }
        self.start_preview(key, PREVIEW_LIMIT, ctx);
    }

    /// Shows what the row `key` is, and starts fetching its content (at most `limit` bytes)
    /// when it is a file.
    pub(super) fn start_preview(&mut self, key: PreviewKey, limit: u64, ctx: &egui::Context) {
        if let Some(side) = key.compared {
            self.start_compared_preview(key, side, limit, ctx);
            return;
        }
        let built = self.tree.built();
        let Some(node) = built.tree.find(&key.path) else {
            // Not in the tree (yet): nothing to show.
            return;
        };
        let tree = &built.tree;
        let peeked = built
            .layer_index(node)
            .and_then(|index| self.peeked.iter().find(|p| p.layer.index == index));
        let layer = peeked.map(|peeked| peeked.layer.clone());
        let mut shown = Shown::of(key.clone());
        let below = || {
            format!(
                "{} entries below, {} in total",
                tree.descendants(node),
                human_size(tree.total_size(node))
            )
        };
        let mut data_path = None;
        let mut size = 0;
        match built.entry(node) {
            None => shown.what = Some(format!("Directory (no entry of its own): {}", below())),
            Some(entry) => match entry.kind {
                EntryKind::Dir => shown.what = Some(format!("Directory: {}", below())),
                EntryKind::File => {
                    data_path = Some(key.path.clone());
                    size = entry.size;
                }
                EntryKind::Hardlink => {
                    let target = normalize_path(entry.link_target.as_deref().unwrap_or_default());
                    shown.what = Some(format!("Hard link to {target}: the same file"));
                    size = tree
                        .find(&target)
                        .and_then(|id| built.entry(id))
                        .map_or(0, |e| e.size);
                    shown.follow = tree.find(&target).is_some().then(|| target.clone());
                    data_path = Some(target);
                }
                EntryKind::Symlink => {
                    let target = entry.link_target.as_deref().unwrap_or_default();
                    let destination = link_destination(&key.path, target);
                    let found = tree.find(&destination).is_some();
                    shown.what = Some(format!(
                        "Symbolic link to {target}{}",
                        if found {
                            String::new()
                        } else {
                            format!(" ({destination} is not in this tree)")
                        }
                    ));
                    shown.follow = found.then_some(destination);
                }
                EntryKind::Whiteout | EntryKind::OpaqueMarker => {
                    let removes = removal_text(entry).unwrap_or_default();
                    shown.what = Some(format!("{}: {removes}", entry.kind.as_str()));
                }
                other => {
                    shown.what = Some(format!("A {}: no content to show", other.as_str()));
                }
            },
        }
        let started = match (data_path, &self.image) {
            (Some(data_path), Some(image)) => {
                let request = layer.map(|layer| PreviewRequest {
                    target: CarveTarget {
                        path: key.path.clone(),
                        layer,
                        data_path,
                        size,
                        occurrence: None,
                    },
                    limit,
                    layer_entries: peeked.map(|peeked| peeked.batches.clone()),
                });
                Some(
                    request
                        .ok_or_else(|| {
                            "The layer of this entry is not among the peeked ones.".to_owned()
                        })
                        .and_then(|request| {
                            PreviewJob::start(Arc::clone(&image.source), request, ctx)
                        }),
                )
            }
            _ => None,
        };
        self.preview.show(shown, started);
    }

    /// Shows the Compare tree's file `key` (a regular file on `side`) and starts fetching its
    /// content (at most `limit` bytes) from that image: B's source kept by the comparison, or
    /// the app's image for A.
    fn start_compared_preview(
        &mut self,
        key: PreviewKey,
        side: Side,
        limit: u64,
        ctx: &egui::Context,
    ) {
        let Some((row, source_b, image_b)) = self.compare.row_of(&key.path) else {
            return;
        };
        let image_a = self.image.as_ref();
        let (entry, source, layers) = match side {
            Side::A => (
                row.a.as_ref(),
                image_a.map(|image| &image.source),
                image_a.map(|image| &image.info.layers),
            ),
            Side::B => (row.b.as_ref(), Some(source_b), Some(&image_b.layers)),
        };
        let request = entry.and_then(|entry| {
            let layer = layers?.get(entry.layer)?.clone();
            Some(PreviewRequest {
                target: CarveTarget {
                    path: key.path.clone(),
                    layer,
                    data_path: key.path.clone(),
                    size: entry.size,
                    // The layer's entries are not kept: stream it for the last version.
                    occurrence: None,
                },
                limit,
                layer_entries: None,
            })
        });
        let started = match (request, source) {
            (Some(request), Some(source)) => PreviewJob::start(Arc::clone(source), request, ctx),
            _ => Err("The layer of this entry is not known.".to_owned()),
        };
        self.preview.show(Shown::of(key), Some(started));
    }

    /// Takes in a finished preview fetch.
    pub(super) fn poll_preview(&mut self) {
        let Some(result) = self.preview.job.as_mut().and_then(|job| job.take_result()) else {
            return;
        };
        self.preview.job = None;
        let content = match result {
            Ok(Ok(content)) => Ok(content),
            Ok(Err(CarveError::Cancelled)) => Err("Preview cancelled.".to_owned()),
            Ok(Err(error)) => Err(format!("Could not preview: {error}")),
            Err(panicked) => Err(panicked.to_string()),
        };
        if let Some(shown) = &mut self.preview.shown {
            shown.content = Some(content);
        }
    }
}

impl LayerslayerApp {
    /// Takes in a finished comparison of two versions for the History pane.
    pub(super) fn poll_version_diff(&mut self) {
        let Some(history) = &mut self.history else {
            return;
        };
        let Some(result) = history.job.as_mut().and_then(|(_, job)| job.take_outcome()) else {
            return;
        };
        if let Some((rows, _)) = history.job.take() {
            history.compared = Some((rows, result));
        }
    }
}
