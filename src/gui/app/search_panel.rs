//! The Search tab: every indexed image searched as you type (substring, exact path, glob or
//! regex; optionally only images whose reference contains a text), hits grouped by image
//! with a click opening the image and selecting the file in Files; and "What is indexed":
//! the images, layers, paths and bytes of the index, with Forget per image and Clear.
//!
//! Everything that reads or writes the index runs on a background [`Job`]: the search
//! (debounced by [`SEARCH_DEBOUNCE`]; a new query drops the running one), the summary, the
//! forgets and clears, the recording of a peeked image, and the "seen in N other images"
//! count of the selected file (cached per image and path until the index changes).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use egui::{RichText, Ui};

use super::actions::Action;
use super::{CentralTab, LayerslayerApp};
use crate::gui::job::Job;
use crate::output::{escape_control, human_size};
use crate::search::{Hit, ImageRecord, IndexSummary, Notice, Pattern, SearchIndex};
use crate::source::open::Location;

/// How long the query must stay unchanged before it is searched.
pub(super) const SEARCH_DEBOUNCE: Duration = Duration::from_millis(250);
/// Hits listed at most (the counts cover them all).
const MAX_SHOWN_HITS: usize = 2_000;

/// How the query is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchKind {
    /// A case-sensitive part of the path.
    #[default]
    Substring,
    /// The whole path, exactly.
    Exact,
    /// A glob over the whole path (`*` within a directory, `**` across them).
    Glob,
    /// A regular expression (Rust `regex` syntax), matched anywhere in the path.
    Regex,
}

impl SearchKind {
    /// Every kind, in the order of the choice.
    pub const ALL: [Self; 4] = [Self::Substring, Self::Exact, Self::Glob, Self::Regex];

    /// The choice's label.
    pub fn title(self) -> &'static str {
        match self {
            Self::Substring => "Substring",
            Self::Exact => "Exact path",
            Self::Glob => "Glob",
            Self::Regex => "Regex",
        }
    }

    fn pattern(self, text: &str) -> Result<Pattern, String> {
        match self {
            Self::Substring => Pattern::substring(text),
            Self::Exact => Pattern::exact(text),
            Self::Glob => Pattern::glob(text),
            Self::Regex => Pattern::regex(text),
        }
        .map_err(|e| e.to_string())
    }
}

/// What was searched.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Query {
    text: String,
    kind: SearchKind,
    image_filter: String,
}

/// The hits of one image.
pub(super) struct HitGroup {
    /// The image's reference, as indexed.
    pub image: String,
    /// Its platform, when it came from a multi-platform index.
    pub platform: Option<String>,
    /// Its platform manifest's digest.
    pub manifest_digest: String,
    /// Its hits listed (the first ones when there are too many).
    pub hits: Vec<Hit>,
    /// All its hits.
    pub total: usize,
}

/// A search's outcome.
pub(super) struct SearchResults {
    /// Hits by image, in the index's order.
    pub groups: Vec<HitGroup>,
    /// All hits.
    pub hits: usize,
    /// How long the search took.
    pub took: Duration,
    /// What the index noticed (damage, evicted images).
    pub notices: Vec<String>,
}

/// The result of a background change to the index: what to tell the user.
type Change = Result<String, String>;

/// An image (by its manifest digest) and a path: what a "seen in" count is for.
type SeenKey = (String, String);

/// The Search tab's state, and the index it searches.
#[derive(Default)]
pub(super) struct SearchTab {
    /// The index (`None`: no cache directory, or an app without one).
    pub index: Option<SearchIndex>,
    /// The query as typed.
    pub query: String,
    /// How it is read.
    pub kind: SearchKind,
    /// Only images whose reference contains this (empty: all).
    pub image_filter: String,
    /// The query changed at this moment and is searched once it stays so for the debounce.
    changed_at: Option<Instant>,
    job: Option<(Query, Job<Result<SearchResults, String>>)>,
    /// The last search's query and outcome (a bad pattern's message as the error).
    results: Option<(Query, Result<SearchResults, String>)>,
    summary_job: Option<Job<Result<IndexSummary, String>>>,
    /// What the index holds, once read.
    pub summary: Option<Result<IndexSummary, String>>,
    summary_stale: bool,
    /// "Clear index…" was pressed: the confirmation shows.
    confirm_clear: bool,
    change_job: Option<Job<Change>>,
    /// The outcome of the last forget, clear or recording.
    pub message: Option<Change>,
    record_job: Option<Job<Change>>,
    /// "Seen in N other images" counts, by (manifest digest of the image on screen, path).
    seen: HashMap<SeenKey, Result<usize, String>>,
    seen_job: Option<(SeenKey, Job<Result<usize, String>>)>,
}

/// What the preview pane says of the selected file's other images.
pub(super) enum SeenLine {
    /// Being counted.
    Counting,
    /// In this many other indexed images.
    Count(usize),
    /// The index could not be read.
    Failed(String),
}

impl SearchTab {
    /// The tab searching `index`.
    pub(super) fn new(index: Option<SearchIndex>) -> Self {
        Self {
            index,
            summary_stale: true,
            ..Self::default()
        }
    }

    /// Whether a search runs or waits for the query to stay still.
    pub(super) fn is_searching(&self) -> bool {
        self.job.is_some() || self.changed_at.is_some()
    }

    /// Whether anything runs in the background on the index.
    pub(super) fn is_working(&self) -> bool {
        self.is_searching()
            || self.summary_job.is_some()
            || self.change_job.is_some()
            || self.record_job.is_some()
            || self.seen_job.is_some()
    }

    /// The last search's outcome, if it was for the query on screen.
    pub(super) fn results(&self) -> Option<&Result<SearchResults, String>> {
        self.results
            .as_ref()
            .filter(|(query, _)| *query == self.current_query())
            .map(|(_, results)| results)
    }

    fn current_query(&self) -> Query {
        Query {
            text: self.query.clone(),
            kind: self.kind,
            image_filter: self.image_filter.clone(),
        }
    }

    /// The query changed: search it once it stays still.
    pub(super) fn query_changed(&mut self) {
        self.changed_at = Some(Instant::now());
    }

    /// Searches `path` exactly (from "seen in N other images").
    pub(super) fn search_path(&mut self, path: &str) {
        self.query = path.to_owned();
        self.kind = SearchKind::Exact;
        self.image_filter.clear();
        self.start_search_now();
    }

    fn start_search_now(&mut self) {
        self.changed_at = Some(Instant::now() - SEARCH_DEBOUNCE);
    }

    /// Takes in finished work and starts what is due: the debounced search, and the summary
    /// while the tab is `visible`.
    pub(super) fn poll(&mut self, ctx: &egui::Context, visible: bool) {
        if let Some(changed) = self.changed_at {
            let waited = changed.elapsed();
            if waited >= SEARCH_DEBOUNCE {
                self.changed_at = None;
                self.start_search(ctx);
            } else {
                ctx.request_repaint_after(SEARCH_DEBOUNCE - waited);
            }
        }
        if let Some((query, job)) = &mut self.job
            && let Some(outcome) = job.take_outcome()
        {
            self.results = Some((query.clone(), outcome));
            self.job = None;
        }
        if let Some(outcome) = self.summary_job.as_mut().and_then(Job::take_outcome) {
            self.summary = Some(outcome);
            self.summary_job = None;
        }
        for slot in [&mut self.change_job, &mut self.record_job] {
            if let Some(outcome) = slot.as_mut().and_then(Job::take_outcome) {
                *slot = None;
                // A recording that had nothing to say changes nothing on screen.
                if outcome.as_ref().is_ok_and(String::is_empty) {
                    continue;
                }
                self.message = Some(outcome);
                self.summary_stale = true;
                self.seen.clear();
                self.seen_job = None;
                if !self.query.is_empty() {
                    self.changed_at = Some(Instant::now() - SEARCH_DEBOUNCE);
                }
            }
        }
        if let Some((key, job)) = &mut self.seen_job
            && let Some(outcome) = job.take_outcome()
        {
            self.seen.insert(key.clone(), outcome);
            self.seen_job = None;
        }
        if visible && self.summary_stale && self.summary_job.is_none() && self.change_job.is_none()
        {
            self.summary_stale = false;
            if let Some(index) = self.index.clone() {
                let started = Job::spawn("search-summary", ctx, move |_| {
                    let mut notices = Vec::new();
                    index
                        .summary(&mut notices)
                        .map_err(|e| format!("Could not read the search index: {e}"))
                });
                match started {
                    Ok(job) => self.summary_job = Some(job),
                    Err(error) => self.summary = Some(Err(error)),
                }
            }
        }
    }

    /// Starts searching the query on screen (dropping, and so cancelling, the last search).
    fn start_search(&mut self, ctx: &egui::Context) {
        self.job = None;
        let query = self.current_query();
        if query.text.is_empty() {
            self.results = None;
            return;
        }
        let Some(index) = self.index.clone() else {
            return;
        };
        let work_query = query.clone();
        let started = Job::spawn("search", ctx, move |worker| {
            run_search(&index, &work_query, worker.cancel_token())
        });
        match started {
            Ok(job) => self.job = Some((query, job)),
            Err(error) => self.results = Some((query, Err(error))),
        }
    }

    /// Forgets one image in the background.
    pub(super) fn forget(
        &mut self,
        reference: String,
        platform: Option<String>,
        ctx: &egui::Context,
    ) {
        let Some(index) = self.index.clone() else {
            return;
        };
        let started = Job::spawn("search-forget", ctx, move |_| {
            let mut notices = Vec::new();
            let shown = escape_control(&reference).into_owned();
            match index.forget_image(&reference, platform.as_deref(), &mut notices) {
                Ok((true, layers)) => Ok(format!(
                    "Forgot {shown} (and {layers} layer{} no other indexed image uses).",
                    if layers == 1 { "" } else { "s" }
                )),
                Ok((false, _)) => Ok(format!("{shown} was not indexed.")),
                Err(error) => Err(format!("Could not forget {shown}: {error}")),
            }
        });
        self.start_change(started);
    }

    /// Empties the index in the background.
    pub(super) fn clear(&mut self, ctx: &egui::Context) {
        self.confirm_clear = false;
        let Some(index) = self.index.clone() else {
            return;
        };
        let started = Job::spawn("search-clear", ctx, move |_| {
            index
                .clear()
                .map(|()| "Cleared the search index.".to_owned())
                .map_err(|e| format!("Could not clear the search index: {e}"))
        });
        self.start_change(started);
    }

    fn start_change(&mut self, started: Result<Job<Change>, String>) {
        match started {
            Ok(job) => self.change_job = Some(job),
            Err(error) => self.message = Some(Err(error)),
        }
    }

    /// The "seen in" count of `path` in image `manifest_digest`, once counted.
    pub(super) fn known_seen(
        &self,
        manifest_digest: &str,
        path: &str,
    ) -> Option<&Result<usize, String>> {
        self.seen
            .get(&(manifest_digest.to_owned(), path.to_owned()))
    }

    /// What to say of `path` in image `manifest_digest`'s other indexed images; starts the
    /// count in the background when it is not known yet.
    pub(super) fn seen_line(
        &mut self,
        manifest_digest: &str,
        path: &str,
        ctx: &egui::Context,
    ) -> Option<SeenLine> {
        let index = self.index.clone()?;
        let key = (manifest_digest.to_owned(), path.to_owned());
        if let Some(known) = self.seen.get(&key) {
            return Some(match known {
                Ok(count) => SeenLine::Count(*count),
                Err(error) => SeenLine::Failed(error.clone()),
            });
        }
        if self.seen_job.as_ref().is_some_and(|(k, _)| *k == key) {
            return Some(SeenLine::Counting);
        }
        let (digest, wanted) = key.clone();
        let started = Job::spawn("search-seen-in", ctx, move |_| {
            let pattern = Pattern::exact(&wanted).map_err(|e| e.to_string())?;
            let mut notices = Vec::new();
            let hits = index
                .search(&pattern, None, &mut notices)
                .map_err(|e| format!("Could not read the search index: {e}"))?;
            let mut others: Vec<(&str, Option<&str>)> = hits
                .iter()
                .filter(|hit| hit.manifest_digest != digest)
                .map(|hit| (hit.image.as_str(), hit.platform.as_deref()))
                .collect();
            others.sort_unstable();
            others.dedup();
            Ok(others.len())
        });
        match started {
            Ok(job) => {
                self.seen_job = Some((key, job));
                Some(SeenLine::Counting)
            }
            Err(error) => {
                self.seen.insert(key, Err(error.clone()));
                Some(SeenLine::Failed(error))
            }
        }
    }

    /// Records a peeked image in the index in the background (its layers the index lacks,
    /// from the listing cache, then the image); says so only when something was added.
    fn record(&mut self, record: ImageRecord, ctx: &egui::Context) {
        let Some(index) = self.index.clone() else {
            return;
        };
        let started = Job::spawn("search-record", ctx, move |_worker| {
            let shown = escape_control(&record.reference).into_owned();
            let mut notices = Vec::new();
            match index.record_listed(record, &mut notices) {
                Ok(true) => Ok(format!("Indexed {shown}: its paths are searchable here.")),
                Ok(false) => Ok(String::new()),
                Err(e) => Err(format!("Could not add {shown} to the search index: {e}")),
            }
        });
        match started {
            Ok(job) => self.record_job = Some(job),
            Err(error) => self.message = Some(Err(error)),
        }
    }
}

/// Searches the index for `query` (on a worker thread).
fn run_search(
    index: &SearchIndex,
    query: &Query,
    cancel: &crate::cancel::CancelToken,
) -> Result<SearchResults, String> {
    let started = Instant::now();
    let pattern = query.kind.pattern(&query.text)?;
    let filter = Some(query.image_filter.trim()).filter(|f| !f.is_empty());
    let mut notices = Vec::new();
    let hits = index
        .search(&pattern, filter, &mut notices)
        .map_err(|e| format!("Could not read the search index: {e}"))?;
    if cancel.is_cancelled() {
        return Err("Search cancelled.".to_owned());
    }
    let total = hits.len();
    let mut groups: Vec<HitGroup> = Vec::new();
    let mut shown = 0;
    for hit in hits {
        let same = groups.last().is_some_and(|group| {
            group.image == hit.image
                && group.platform == hit.platform
                && group.manifest_digest == hit.manifest_digest
        });
        if !same {
            groups.push(HitGroup {
                image: hit.image.clone(),
                platform: hit.platform.clone(),
                manifest_digest: hit.manifest_digest.clone(),
                hits: Vec::new(),
                total: 0,
            });
        }
        if let Some(group) = groups.last_mut() {
            group.total += 1;
            if shown < MAX_SHOWN_HITS {
                group.hits.push(hit);
                shown += 1;
            }
        }
    }
    Ok(SearchResults {
        groups,
        hits: total,
        took: started.elapsed(),
        notices: notices.iter().map(Notice::to_string).collect(),
    })
}

impl LayerslayerApp {
    /// After a peek: when every layer of the image was read completely, records the image in
    /// the search index in the background (a peek that replayed the cache counts too).
    pub(super) fn record_peek_in_index(&mut self, ctx: &egui::Context) {
        let Some(image) = &self.image else {
            return;
        };
        if self.search.index.is_none()
            || self.peeked.len() != image.info.layers.len()
            || !self.peeked.iter().all(|layer| layer.is_complete())
        {
            return;
        }
        let Ok(location) = Location::parse(&image.request.reference) else {
            return;
        };
        let record = ImageRecord::of(&image.request.reference, &location, &image.info);
        self.search.record(record, ctx);
    }

    /// A hit clicked: its image opened (unless on screen), peeked whole (unless already), then
    /// the file revealed in Files (see [`Self::continue_reveal`]).
    pub(super) fn open_hit(&mut self, hit: Hit, ctx: &egui::Context) {
        let on_screen = self.image.as_ref().is_some_and(|image| {
            image.request.reference == hit.image
                && image.info.manifest_digest == hit.manifest_digest
        });
        if !on_screen {
            self.reference_input = hit.image.clone();
            let request = crate::gui::jobs::FetchRequest {
                reference: hit.image.clone(),
                platform: hit.platform.as_deref().and_then(|p| p.parse().ok()),
                insecure: self.insecure,
                credential: None,
            };
            self.start_fetch(request, ctx);
        }
        self.status = format!(
            "Opening {} to show {}…",
            escape_control(&hit.image),
            escape_control(&hit.path)
        );
        self.pending_reveal = Some(hit);
        self.continue_reveal(ctx);
    }

    /// Takes a clicked hit one step further each frame: once its image is open, peeks every
    /// layer (unless a peek of all of them ran or runs), then shows the file in Files (in the
    /// final filesystem, or in its layer when a later layer removes it).
    pub(super) fn continue_reveal(&mut self, ctx: &egui::Context) {
        let Some(hit) = &self.pending_reveal else {
            return;
        };
        if self.is_fetching() {
            return;
        }
        let Some(image) = &self.image else {
            self.pending_reveal = None;
            return;
        };
        if image.request.reference != hit.image {
            // The fetch failed (its error is shown), or another image was opened since.
            self.pending_reveal = None;
            return;
        }
        if self.is_peeking() {
            return;
        }
        let layers = image.info.layers.len();
        let all_peeked =
            self.peeked.len() == layers && self.peeked.iter().all(|p| p.result.is_some());
        if !all_peeked {
            self.layer_checked = vec![false; layers];
            self.start_peek(ctx);
            if !self.is_peeking() {
                self.pending_reveal = None;
            }
            return;
        }
        let Some(hit) = self.pending_reveal.take() else {
            return;
        };
        let layer = (!hit.in_final).then_some(hit.layer_index);
        self.reveal_path(layer, &hit.path);
        self.status = format!(
            "{} in {}{}.",
            escape_control(&hit.path),
            escape_control(&hit.image),
            if hit.in_final {
                String::new()
            } else {
                format!(
                    ", layer {} (a later layer removes or replaces it)",
                    hit.layer_index
                )
            }
        );
    }

    /// Each frame: the Search tab's background work, and the reveal of a clicked hit.
    pub(super) fn poll_search(&mut self, ctx: &egui::Context) {
        let visible = self.tab == CentralTab::Search;
        self.search.poll(ctx, visible);
        self.continue_reveal(ctx);
    }
}

/// The Search tab.
pub(super) fn search_tab_ui(ui: &mut Ui, tab: &mut SearchTab) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut changed = false;
    ui.horizontal(|ui| {
        let label = ui.label("Search paths");
        changed |= ui
            .add(
                egui::TextEdit::singleline(&mut tab.query)
                    .hint_text("libssl.so, etc/os-release, **/*.pem")
                    .desired_width(300.0),
            )
            .labelled_by(label.id)
            .changed();
        for kind in SearchKind::ALL {
            changed |= ui.radio_value(&mut tab.kind, kind, kind.title()).changed();
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("In images");
        changed |= ui
            .add(
                egui::TextEdit::singleline(&mut tab.image_filter)
                    .hint_text("part of a reference (empty: all)")
                    .desired_width(240.0),
            )
            .labelled_by(label.id)
            .on_hover_text("Only the images whose reference contains this")
            .changed();
    });
    if changed {
        tab.query_changed();
    }
    if tab.index.is_none() {
        ui.label(
            "No search index: there is no cache directory to keep it in (set XDG_CACHE_HOME \
             to a writable directory).",
        );
        return actions;
    }
    actions.extend(index_section_ui(ui, tab));
    ui.separator();
    if tab.is_searching() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Searching…");
        });
    }
    let empty_index = matches!(&tab.summary, Some(Ok(summary)) if summary.images.is_empty());
    if empty_index {
        ui.label(
            "The index is empty. Peek an image (it is indexed once all its layers are \
             listed), or run `layerslayer index IMAGE…` (a registry or repository indexes \
             its tags).",
        );
    }
    if tab.query.is_empty() {
        if !empty_index {
            ui.label(
                RichText::new(
                    "Type a part of a path: every indexed image is searched as you type.",
                )
                .weak(),
            );
        }
        return actions;
    }
    let results = tab.results();
    match results {
        None => {}
        Some(Err(error)) => {
            ui.colored_label(ui.visuals().error_fg_color, escape_control(error));
        }
        Some(Ok(results)) => actions.extend(results_ui(ui, results)),
    }
    actions
}

/// The hit counts, then the hits by image.
fn results_ui(ui: &mut Ui, results: &SearchResults) -> Vec<Action> {
    let mut actions = Vec::new();
    let images = results.groups.len();
    let shown: usize = results.groups.iter().map(|g| g.hits.len()).sum();
    let ms = results.took.as_secs_f64() * 1000.0;
    ui.label(format!(
        "{} hit{} in {images} image{} · {}{}",
        results.hits,
        if results.hits == 1 { "" } else { "s" },
        if images == 1 { "" } else { "s" },
        if ms < 10.0 {
            format!("{ms:.1} ms")
        } else {
            format!("{ms:.0} ms")
        },
        if shown < results.hits {
            format!(" (the first {shown} are listed)")
        } else {
            String::new()
        }
    ));
    for notice in &results.notices {
        ui.label(RichText::new(escape_control(notice)).weak());
    }
    let open = results.groups.len() <= 12;
    egui::ScrollArea::vertical()
        .auto_shrink(false)
        .show(ui, |ui| {
            for (number, group) in results.groups.iter().enumerate() {
                let platform = group
                    .platform
                    .as_deref()
                    .map(|p| format!(" [{p}]"))
                    .unwrap_or_default();
                let title = format!(
                    "{}{platform} — {} hit{}",
                    escape_control(&group.image),
                    group.total,
                    if group.total == 1 { "" } else { "s" }
                );
                egui::CollapsingHeader::new(RichText::new(title).strong())
                    .id_salt(("search-group", &group.image, &group.platform, number))
                    .default_open(open)
                    .show(ui, |ui| {
                        ui.label(RichText::new(&group.manifest_digest).weak().small());
                        egui::Grid::new(("search-hits", number))
                            .striped(true)
                            .num_columns(5)
                            .show(ui, |ui| {
                                for hit in &group.hits {
                                    if ui
                                        .link(RichText::new(escape_control(&hit.path)).monospace())
                                        .on_hover_text(
                                            "Open this image and select the file in Files",
                                        )
                                        .clicked()
                                    {
                                        actions.push(Action::OpenHit(Box::new(hit.clone())));
                                    }
                                    ui.label(hit.kind.as_str());
                                    ui.label(human_size(hit.size));
                                    ui.label(format!("layer {}", hit.layer_index));
                                    if hit.in_final {
                                        ui.label("");
                                    } else {
                                        ui.label(
                                            RichText::new("removed later")
                                                .color(ui.visuals().warn_fg_color),
                                        )
                                        .on_hover_text(
                                            "A later layer removes or replaces it: it is not \
                                             in the image's final filesystem",
                                        );
                                    }
                                    ui.end_row();
                                }
                            });
                    });
            }
        });
    actions
}

/// "What is indexed": totals, the images with Forget, and Clear with a confirmation.
fn index_section_ui(ui: &mut Ui, tab: &mut SearchTab) -> Vec<Action> {
    let mut actions = Vec::new();
    if let Some(message) = &tab.message {
        match message {
            Ok(text) => ui.label(escape_control(text)),
            Err(error) => ui.colored_label(ui.visuals().error_fg_color, escape_control(error)),
        };
    }
    egui::CollapsingHeader::new("What is indexed")
        .id_salt("search-index")
        .show(ui, |ui| {
            let summary = match &tab.summary {
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Reading the index…");
                    });
                    return;
                }
                Some(Err(error)) => {
                    ui.colored_label(ui.visuals().error_fg_color, escape_control(error));
                    return;
                }
                Some(Ok(summary)) => summary,
            };
            ui.horizontal(|ui| {
                ui.label(format!(
                    "{} image{}, {} layer{}, {} paths, {} on disk",
                    summary.images.len(),
                    if summary.images.len() == 1 { "" } else { "s" },
                    summary.layers,
                    if summary.layers == 1 { "" } else { "s" },
                    summary.paths,
                    human_size(summary.bytes_on_disk)
                ));
                if tab.confirm_clear {
                    ui.label(
                        RichText::new("Forget every image? The listing cache stays.")
                            .color(ui.visuals().warn_fg_color),
                    );
                    if ui.button("Yes, clear the index").clicked() {
                        actions.push(Action::ClearIndex);
                    }
                    if ui.button("Keep it").clicked() {
                        tab.confirm_clear = false;
                    }
                } else if ui
                    .add_enabled(
                        !summary.images.is_empty(),
                        egui::Button::new("Clear index…"),
                    )
                    .on_hover_text("Forget every indexed image (asks first)")
                    .clicked()
                {
                    tab.confirm_clear = true;
                }
            });
            if summary.images.is_empty() {
                return;
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            egui::ScrollArea::both()
                .id_salt("search-index-images")
                .max_height(180.0)
                .show(ui, |ui| {
                    egui::Grid::new("search-index-grid")
                        .striped(true)
                        .num_columns(7)
                        .show(ui, |ui| {
                            for heading in
                                ["", "Image", "Platform", "Layers", "Paths", "Seen", "Digest"]
                            {
                                ui.strong(heading);
                            }
                            ui.end_row();
                            for image in &summary.images {
                                let record = &image.record;
                                // First, so that a long reference never pushes it out of sight.
                                let forget = ui.button("Forget").on_hover_text(format!(
                                    "Take {} out of the index",
                                    escape_control(&record.reference)
                                ));
                                // One accessible name per image, for tests and screen readers.
                                let name = format!(
                                    "Forget {}{}",
                                    record.reference,
                                    record
                                        .platform
                                        .as_deref()
                                        .map(|p| format!(" {p}"))
                                        .unwrap_or_default()
                                );
                                let enabled = forget.enabled();
                                forget.widget_info(|| {
                                    egui::WidgetInfo::labeled(egui::Role::Button, enabled, &name)
                                });
                                if forget.clicked() {
                                    actions.push(Action::ForgetImage {
                                        reference: record.reference.clone(),
                                        platform: record.platform.clone(),
                                    });
                                }
                                ui.label(escape_control(&record.reference))
                                    .on_hover_text(format!("read from: {}", record.source_kind));
                                ui.label(record.platform.as_deref().unwrap_or("—"));
                                ui.label(record.layers.len().to_string());
                                ui.label(image.paths.to_string());
                                ui.label(ago(now.saturating_sub(record.seen)));
                                ui.label(short_digest(&record.manifest_digest))
                                    .on_hover_text(&record.manifest_digest);
                                ui.end_row();
                            }
                        });
                });
        });
    actions
}

/// `sha256:0123456789ab…` (12 hex digits).
fn short_digest(digest: &str) -> String {
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("", digest));
    format!("{algorithm}:{}…", hex.get(..12).unwrap_or(hex))
}

/// `seconds` ago, roughly: "just now", "5 min ago", "3 h ago", "2 days ago".
fn ago(seconds: u64) -> String {
    match seconds {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::{ago, short_digest};

    #[test]
    fn digests_and_ages_read_short() {
        assert_eq!(
            short_digest("sha256:0123456789abcdef0123"),
            "sha256:0123456789ab…"
        );
        assert_eq!(ago(30), "just now");
        assert_eq!(ago(7200), "2 h ago");
        assert_eq!(ago(86_400 * 3), "3 days ago");
    }
}
