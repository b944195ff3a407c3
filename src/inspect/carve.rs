//! Carving one file out of an image: the version of a path in the final filesystem, from the
//! newest layer that holds it (whiteouts and opaque directories honoured), or one layer's own
//! version, read with as few blob bytes as possible.
//!
//! In a tar the last entry for a path wins (GNU tar, containerd), so a layer that holds a path
//! twice gives its last entry's data. Where the layer's entries are known (a cached listing, a
//! table of contents, or listings read before) the carve counts the path's entries and streams
//! the layer only up to the data of the last one; on a layer with a table of contents and one
//! entry for the path only the file's chunks are fetched. Where they are not known the layer is
//! streamed to its end, keeping the newest version seen in a spool (memory up to 4 MiB, then a
//! temporary file) and storing the layer's verified listing in the cache on the way, so that
//! the next read is the fast one. [`Version::First`] keeps the old early stop at the first
//! entry, which is wrong for layers that repeat a path.

use std::convert::Infallible;
use std::io::{self, BufRead as _, BufReader, Read, Seek as _, SeekFrom, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::cancel::CancelToken;
use crate::layer::cache::ListingCache;
use crate::layer::list::{ContentNeed, ListingOptions, list_layer_tapped};
use crate::layer::stream::{
    Decoder, FileData, FileTap, PeekProgress, Recorders, convert_entry, stream_layer_recording,
};
use crate::layer::tar::TarWalker;
use crate::layer::toc::{self, CopyError, Toc};
use crate::model::{Entry, EntryKind, LayerListing, normalize_path};
use crate::oci::LayerInfo;
use crate::oci::compression::Compression;
use crate::source::{CountedBlob, ImageSource, SourceError};

/// Bytes of a spooled version kept in memory before the spool moves to a temporary file.
const SPOOL_MEMORY_BYTES: usize = 4 * 1024 * 1024;

/// Which of a layer's entries for a path is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    /// The last entry: what a tar extractor leaves (GNU tar, containerd).
    #[default]
    Last,
    /// The first entry: streaming stops there, but it is the wrong version for a layer that
    /// holds the path more than once.
    First,
}

/// Where a carve's bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CarvedFrom {
    /// The file's chunks only, through the layer's table of contents.
    Toc,
    /// The layer streamed without knowing its entries: to its end for the last version (its
    /// listing cached on the way), or up to the first entry with [`Version::First`].
    Stream,
    /// The layer's entries were known (a cached listing, its table of contents, listings read
    /// before): streamed only up to the chosen entry's data.
    Listing,
    /// The layer's cached index (gzip, or a multi-frame zstd layer): one range from the
    /// checkpoint before the file's data to its end.
    Index,
}

/// What to carve: a regular file's data in one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarveTarget {
    /// The path asked for, normalised.
    pub path: String,
    /// The layer holding the data.
    pub layer: LayerInfo,
    /// The path of the data in that layer (a hardlink's target, else `path`).
    pub data_path: String,
    /// The file's size.
    pub size: u64,
    /// Which entry for `data_path` in the layer's tar holds the data, counting every entry of
    /// that path from 1; `None` when the layer's entries are not known (the layer is then
    /// streamed to its end and the last version kept).
    pub occurrence: Option<usize>,
}

/// How a carve went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarveReport {
    /// Bytes of the file written.
    pub bytes_written: u64,
    /// Bytes of the target layer's blob fetched to get them.
    pub bytes_fetched: u64,
    /// Blob bytes fetched in all, including newer layers read to learn they do not hold the
    /// path.
    pub total_fetched: u64,
    /// Whether only the file's chunks were fetched, through the layer's table of contents.
    pub from_toc: bool,
    /// Where the bytes came from.
    pub from: CarvedFrom,
}

impl CarveReport {
    /// The report for `written` bytes read out of the layer's blob (not through a TOC), where
    /// `fetched` counted `before` bytes when the layer's read began.
    fn read_since(before: u64, written: u64, fetched: &AtomicU64, from: CarvedFrom) -> Self {
        let total = fetched.load(Ordering::Relaxed);
        CarveReport {
            bytes_written: written,
            bytes_fetched: total - before,
            total_fetched: total,
            from_toc: false,
            from,
        }
    }
}

/// Why a file could not be carved.
#[derive(Debug, thiserror::Error)]
pub enum CarveError {
    /// No layer holds the path.
    #[error("{0} is not in the image")]
    NotFound(String),
    /// A layer held it, a later one removed it.
    #[error("{path} was removed by layer {layer} (a whiteout or an opaque directory)")]
    Removed {
        /// The path.
        path: String,
        /// The layer that removed it.
        layer: usize,
    },
    /// The one layer asked for does not hold the path (it may remove it).
    #[error("layer {layer} does not hold {path}")]
    NotInLayer {
        /// The path.
        path: String,
        /// The layer asked for.
        layer: usize,
    },
    /// It is not a regular file.
    #[error("{path} is {what}; only regular files can be carved")]
    NotAFile {
        /// The path.
        path: String,
        /// What it is instead, e.g. "a symlink to busybox".
        what: String,
    },
    /// The source could not deliver the layer.
    #[error("could not read layer {layer}: {source}")]
    Source {
        /// The layer.
        layer: usize,
        /// Why.
        source: SourceError,
    },
    /// The layer's data is damaged, ends early or does not hold the file.
    #[error("could not read {path} from layer {layer}: {reason}")]
    Layer {
        /// The path.
        path: String,
        /// The layer.
        layer: usize,
        /// Why.
        reason: String,
    },
    /// Writing the output failed.
    #[error("could not write the file: {0}")]
    Write(io::Error),
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// Finds what to carve for `path` in the final filesystem of `listings` (every layer of the
/// image, base first): the newest layer that holds it, unless a newer one removed it; in that
/// layer, its last entry for the path.
pub fn find_target(listings: &[LayerListing], path: &str) -> Result<CarveTarget, CarveError> {
    let path = normalize_path(path);
    for listing in listings.iter().rev() {
        match verdict(&listing.entries, &path, Version::Last)? {
            Verdict::Holds(held) => return Ok(held.target(&path, &listing.layer)),
            Verdict::Removes => {
                return Err(CarveError::Removed {
                    path,
                    layer: listing.layer.index,
                });
            }
            Verdict::Absent => {}
        }
    }
    Err(CarveError::NotFound(path))
}

/// Writes the target's data to `out`: from the layer's TOC when it has one and holds the path
/// once (only the file's chunks), else by streaming the layer up to the target's entry (to its
/// end, keeping the last version, when [`CarveTarget::occurrence`] is unknown). `fetched`
/// counts the blob bytes fetched as they come (for progress).
pub fn carve(
    source: &dyn ImageSource,
    target: &CarveTarget,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
    out: &mut dyn Write,
) -> Result<CarveReport, CarveError> {
    let toc = Toc::fetch(source, &target.layer, cancel).ok().flatten();
    if let Some(toc) = &toc {
        fetched.fetch_add(toc.bytes_fetched(), Ordering::Relaxed);
    }
    carve_from(
        source,
        target,
        toc.as_ref(),
        cancel,
        fetched,
        out,
        &mut |_| {},
    )
}

/// [`carve`] with the layer's TOC already fetched (and counted in `fetched`), if it has one;
/// `started` hears where the bytes come from before the first is written.
fn carve_from(
    source: &dyn ImageSource,
    target: &CarveTarget,
    toc: Option<&Toc>,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
    out: &mut dyn Write,
    started: &mut dyn FnMut(CarvedFrom),
) -> Result<CarveReport, CarveError> {
    let layer_error = layer_error_for(&target.data_path, target.layer.index);
    // Chunks are found by name: only when the TOC names the path once are they the version
    // asked for.
    let once = |toc: &&Toc| {
        toc.listing()
            .entries
            .iter()
            .filter(|entry| *entry.path == *target.data_path)
            .count()
            == 1
    };
    if let Some(chunks) = toc
        .filter(once)
        .and_then(|toc| toc.file_chunks(&target.data_path).ok())
    {
        started(CarvedFrom::Toc);
        let copied = toc::copy_file(source, &target.layer, &chunks, cancel, out);
        return match copied {
            Ok(bytes) => {
                fetched.fetch_add(bytes, Ordering::Relaxed);
                Ok(CarveReport {
                    bytes_written: chunks.size,
                    bytes_fetched: chunks.toc_bytes + bytes,
                    total_fetched: fetched.load(Ordering::Relaxed),
                    from_toc: true,
                    from: CarvedFrom::Toc,
                })
            }
            Err(_) if cancel.is_cancelled() => Err(CarveError::Cancelled),
            Err(CopyError::Write(error)) => Err(CarveError::Write(error)),
            Err(CopyError::Read(reason)) => Err(layer_error(reason)),
        };
    }
    let toc_bytes = toc.map_or(0, Toc::bytes_fetched);
    let mut report = match target.occurrence {
        Some(occurrence) => {
            started(CarvedFrom::Listing);
            stream_to_occurrence(
                source,
                &target.layer,
                &target.data_path,
                occurrence,
                cancel,
                fetched,
                out,
            )?
        }
        None => {
            let path = &target.path;
            let before = fetched.load(Ordering::Relaxed);
            let streamed =
                stream_last(source, &target.layer, path, None, u64::MAX, cancel, fetched)?;
            match streamed {
                (Verdict::Holds(held), Some(spool)) if held.data_path == *path => {
                    started(CarvedFrom::Stream);
                    let written = spool.copy_to(out, &layer_error)?;
                    CarveReport::read_since(before, written, fetched, CarvedFrom::Stream)
                }
                // A hardlink: which entry of its target holds the data needs the listing.
                (Verdict::Holds(held), None) if held.data_path != *path => {
                    let entries = list_entries(source, &target.layer, cancel, fetched)?;
                    let Verdict::Holds(held) = verdict(&entries, path, Version::Last)? else {
                        return Err(layer_error("the layer changed while it was read".into()));
                    };
                    let resolved = held.target(path, &target.layer);
                    return carve_from(source, &resolved, toc, cancel, fetched, out, started);
                }
                _ => {
                    return Err(layer_error(
                        "the layer does not hold it as a regular file".into(),
                    ));
                }
            }
        }
    };
    report.bytes_fetched += toc_bytes;
    Ok(report)
}

/// What one layer says about a path.
enum Verdict {
    /// The layer holds the path as a regular file (or a hardlink to one).
    Holds(Held),
    /// The layer removes the path from lower layers (and does not re-add it).
    Removes,
    /// The layer does not touch the path.
    Absent,
}

/// Where a layer holds a path's data.
struct Held {
    /// The regular file's path (a hardlink's target, or the path itself).
    data_path: String,
    /// Its size.
    size: u64,
    /// Which entry for `data_path` holds the data, from 1; `None` when only some of the
    /// layer's entries were seen.
    occurrence: Option<usize>,
}

impl Held {
    /// The carve of this data for `path` in `layer`.
    fn target(&self, path: &str, layer: &LayerInfo) -> CarveTarget {
        CarveTarget {
            path: path.to_owned(),
            layer: layer.clone(),
            data_path: self.data_path.clone(),
            size: self.size,
            occurrence: self.occurrence,
        }
    }
}

/// What a layer's entries (all of them) say about `path`, taking its `version` entry.
fn verdict(entries: &[Entry], path: &str, version: Version) -> Result<Verdict, CarveError> {
    let not_a_file = |what: String| CarveError::NotAFile {
        path: path.to_owned(),
        what,
    };
    let is_path = |e: &Entry| *e.path == *path;
    let chosen = match version {
        Version::Last => entries.iter().rposition(is_path),
        Version::First => entries.iter().position(is_path),
    };
    if let Some(at) = chosen {
        let entry = &entries[at];
        let occurrence = |data_path: &str, upto: usize| {
            entries[..=upto]
                .iter()
                .filter(|e| *e.path == *data_path)
                .count()
        };
        return match entry.kind {
            EntryKind::File => Ok(Verdict::Holds(Held {
                data_path: path.to_owned(),
                size: entry.size,
                occurrence: Some(occurrence(path, at)),
            })),
            EntryKind::Hardlink => {
                let target = entry.link_target.as_deref().unwrap_or_default().to_owned();
                // The link shares the data its target had when the link was made: the
                // target's last entry before it.
                let data = entries[..at]
                    .iter()
                    .rposition(|e| *e.path == *target)
                    .filter(|&i| entries[i].kind == EntryKind::File)
                    .ok_or_else(|| {
                        not_a_file(format!(
                            "a hardlink to {target}, which is not a file in its layer"
                        ))
                    })?;
                Ok(Verdict::Holds(Held {
                    size: entries[data].size,
                    occurrence: Some(occurrence(&target, data)),
                    data_path: target,
                }))
            }
            EntryKind::Symlink => Err(not_a_file(format!(
                "a symlink to {}; carve the path it points to",
                entry.link_target.as_deref().unwrap_or_default()
            ))),
            EntryKind::Dir => Err(not_a_file("a directory".into())),
            EntryKind::Whiteout | EntryKind::OpaqueMarker => Ok(Verdict::Removes),
            other => Err(not_a_file(format!("a {}", other.as_str()))),
        };
    }
    if entries.iter().any(|entry| removes_path(entry, path)) {
        return Ok(Verdict::Removes);
    }
    let prefix = format!("{path}/");
    if entries.iter().any(|entry| entry.path.starts_with(&prefix)) {
        return Err(not_a_file("a directory".into()));
    }
    Ok(Verdict::Absent)
}

/// Whether a whiteout or opaque marker removes `path` from lower layers.
pub(crate) fn removes_path(entry: &Entry, path: &str) -> bool {
    match (entry.kind, entry.whiteout_target()) {
        // An opaque directory hides what lower layers have below it (the root: everything).
        (EntryKind::OpaqueMarker, Some(dir)) => {
            dir.is_empty() || path.starts_with(&format!("{dir}/"))
        }
        (EntryKind::Whiteout, Some(removed)) => {
            path == removed || path.starts_with(&format!("{removed}/"))
        }
        _ => false,
    }
}

/// Where to look for the layers' listings before fetching anything, and which of a layer's
/// entries for a path to take.
pub struct CarveSearch<'a> {
    /// Where the blobs come from.
    pub source: &'a dyn ImageSource,
    /// Cached listings, if any: a cached layer is decided without a fetch, and a layer
    /// streamed to its end is stored.
    pub cache: Option<&'a ListingCache>,
    /// The last entry (what extractors leave) or the first (an earlier stop, wrong for
    /// layers that repeat the path).
    pub version: Version,
}

/// One layer's version of a file, read into memory up to a limit: what the app's preview and
/// `log --patch` show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    /// The file's first bytes, at most the limit asked for.
    pub bytes: Vec<u8>,
    /// Whether the file is longer than `bytes` (cut at the limit).
    pub truncated: bool,
    /// The file's size.
    pub size: u64,
    /// Where its data is in the layer (a hardlink's target, or the path itself).
    pub data_path: String,
    /// Blob bytes fetched to read it.
    pub bytes_fetched: u64,
    /// Where the bytes came from.
    pub from: CarvedFrom,
}

/// What one layer gave for a path.
enum Step {
    /// Its data was written.
    Carved(Box<(CarveTarget, CarveReport)>),
    /// The layer removes the path.
    Removes,
    /// The layer does not touch the path.
    Absent,
}

impl Step {
    /// The step that carved `target`, its size set to the bytes written.
    fn carved(target: CarveTarget, report: CarveReport) -> Self {
        let target = CarveTarget {
            size: report.bytes_written,
            ..target
        };
        Step::Carved(Box::new((target, report)))
    }
}

impl CarveSearch<'_> {
    /// Finds `path` in the final filesystem of `layers` (base first), newest layer first, and
    /// writes its data to `out`. A layer whose listing is cached or has a table of contents is
    /// decided from that and streamed at most up to the chosen entry's data; another is
    /// streamed to its end (keeping the newest version, storing its listing in the cache), or
    /// with [`Version::First`] up to the path's first entry. Returns the target and how it went.
    pub fn carve_path(
        &self,
        layers: &[LayerInfo],
        path: &str,
        cancel: &CancelToken,
        fetched: &Arc<AtomicU64>,
        out: &mut dyn Write,
    ) -> Result<(CarveTarget, CarveReport), CarveError> {
        let path = normalize_path(path);
        for layer in layers.iter().rev() {
            if cancel.is_cancelled() {
                return Err(CarveError::Cancelled);
            }
            let step = self.layer_step(
                layer,
                &path,
                None,
                u64::MAX,
                cancel,
                fetched,
                out,
                &mut |_, _| {},
            )?;
            match step {
                Step::Carved(carved) => return Ok(*carved),
                Step::Removes => {
                    return Err(CarveError::Removed {
                        path,
                        layer: layer.index,
                    });
                }
                Step::Absent => {}
            }
        }
        Err(CarveError::NotFound(path))
    }

    /// Writes `layer`'s own version of `path` to `out`, whatever newer layers do to it;
    /// [`CarveError::NotInLayer`] when the layer does not hold it.
    pub fn carve_layer(
        &self,
        layer: &LayerInfo,
        path: &str,
        cancel: &CancelToken,
        fetched: &Arc<AtomicU64>,
        out: &mut dyn Write,
    ) -> Result<(CarveTarget, CarveReport), CarveError> {
        // The layer alone, as if it were the image: a path it removes or lacks, it does not hold.
        let carved = self.carve_path(std::slice::from_ref(layer), path, cancel, fetched, out);
        carved.map_err(|error| match error {
            CarveError::Removed { path, .. } | CarveError::NotFound(path) => {
                CarveError::NotInLayer {
                    path,
                    layer: layer.index,
                }
            }
            other => other,
        })
    }

    /// Reads `layer`'s version of `path` into memory, at most `limit` bytes of it (the rest is
    /// neither kept nor, where the layer allows, fetched). `entries` are the layer's entries
    /// when the caller already has them (e.g. a listing read for `log`): which entry to read
    /// is then decided from them without the cache. The one read behind the app's preview and
    /// `log --patch`.
    pub fn read_version(
        &self,
        layer: &LayerInfo,
        path: &str,
        entries: Option<&[Entry]>,
        limit: u64,
        cancel: &CancelToken,
    ) -> Result<FileVersion, CarveError> {
        let path = normalize_path(path);
        let fetched = Arc::new(AtomicU64::new(0));
        let mut sink = Limited {
            bytes: Vec::new(),
            limit,
        };
        let mut decided = None;
        let step = self.layer_step(
            layer,
            &path,
            entries,
            limit,
            cancel,
            &fetched,
            &mut sink,
            &mut |target, from| decided = Some((target.size, target.data_path.clone(), from)),
        );
        let (size, data_path, from) = match step {
            Ok(Step::Carved(carved)) => {
                let (target, report) = *carved;
                (target.size, target.data_path, report.from)
            }
            Ok(Step::Removes | Step::Absent) => {
                return Err(CarveError::NotInLayer {
                    path,
                    layer: layer.index,
                });
            }
            // Stopped at the limit: the rest of the file is not fetched.
            Err(CarveError::Write(error)) if LimitReached::is(&error) => match decided {
                Some(decided) => decided,
                None => return Err(CarveError::Write(error)),
            },
            Err(error) => return Err(error),
        };
        Ok(FileVersion {
            truncated: size > sink.bytes.len() as u64,
            bytes: sink.bytes,
            size,
            data_path,
            bytes_fetched: fetched.load(Ordering::Relaxed),
            from,
        })
    }

    /// What `layer` gives for `path`; its data (at most `cap` bytes of a spooled version) is
    /// written to `out`, after `decided` hears what is written and from where.
    #[allow(clippy::too_many_arguments)]
    fn layer_step(
        &self,
        layer: &LayerInfo,
        path: &str,
        entries: Option<&[Entry]>,
        cap: u64,
        cancel: &CancelToken,
        fetched: &Arc<AtomicU64>,
        out: &mut dyn Write,
        decided: &mut dyn FnMut(&CarveTarget, CarvedFrom),
    ) -> Result<Step, CarveError> {
        let known = match entries {
            Some(entries) => Some((std::borrow::Cow::Borrowed(entries), None)),
            None => self
                .known_entries(layer, cancel, fetched)
                .map(|(entries, toc)| (std::borrow::Cow::Owned(entries), toc)),
        };
        if let Some((entries, toc)) = known {
            let found = verdict(&entries, path, self.version)?;
            let toc = match (&found, toc) {
                (Verdict::Holds(held), toc) => {
                    let target = held.target(path, layer);
                    if let Some(indexed) =
                        self.carve_through_index(&entries, &target, cancel, fetched, out)
                    {
                        decided(&target, CarvedFrom::Index);
                        return Ok(Step::carved(target, indexed?));
                    }
                    toc.or_else(|| {
                        let toc = Toc::fetch(self.source, layer, cancel).ok().flatten()?;
                        fetched.fetch_add(toc.bytes_fetched(), Ordering::Relaxed);
                        Some(toc)
                    })
                }
                _ => None,
            };
            return self.step_of(
                found,
                path,
                layer,
                toc.as_ref(),
                cancel,
                fetched,
                out,
                decided,
            );
        }
        let layer_error = layer_error_for(path, layer.index);
        let found = match self.version {
            Version::First => {
                // The path's first entry, its size known once written.
                let first = CarveTarget {
                    path: path.to_owned(),
                    layer: layer.clone(),
                    data_path: path.to_owned(),
                    size: 0,
                    occurrence: Some(1),
                };
                let scanned = scan(
                    self.source,
                    layer,
                    path,
                    cancel,
                    fetched,
                    out,
                    &mut |from| decided(&first, from),
                )?;
                match scanned {
                    Scan::Carved(report) => return Ok(Step::carved(first, report)),
                    Scan::Found(verdict) => verdict,
                }
            }
            Version::Last => {
                let before = fetched.load(Ordering::Relaxed);
                match stream_last(self.source, layer, path, self.cache, cap, cancel, fetched)? {
                    (Verdict::Holds(held), Some(spool)) if held.data_path == path => {
                        let target = held.target(path, layer);
                        decided(&target, CarvedFrom::Stream);
                        let written = spool.copy_to(out, &layer_error)?;
                        let report =
                            CarveReport::read_since(before, written, fetched, CarvedFrom::Stream);
                        return Ok(Step::Carved(Box::new((target, report))));
                    }
                    (Verdict::Holds(held), _) if held.data_path == path => {
                        return Err(layer_error(
                            "it is a sparse file, which carving does not expand yet".into(),
                        ));
                    }
                    // A hardlink: which entry of its target holds the data needs the whole
                    // listing (now cached, or listed once more).
                    (Verdict::Holds(_), _) => {
                        let held = match self.known_entries(layer, cancel, fetched) {
                            Some((entries, _)) => verdict(&entries, path, Version::Last)?,
                            None => verdict(
                                &list_entries(self.source, layer, cancel, fetched)?,
                                path,
                                Version::Last,
                            )?,
                        };
                        Verdict::Holds(match held {
                            Verdict::Holds(held) => held,
                            _ => {
                                return Err(layer_error(
                                    "the layer changed while it was read".into(),
                                ));
                            }
                        })
                    }
                    (other, _) => other,
                }
            }
        };
        self.step_of(found, path, layer, None, cancel, fetched, out, decided)
    }

    /// The step for what `layer` does to `path`: held data is carved (through `toc` when
    /// given) and written to `out`, after `decided` hears from where.
    #[allow(clippy::too_many_arguments)]
    fn step_of(
        &self,
        found: Verdict,
        path: &str,
        layer: &LayerInfo,
        toc: Option<&Toc>,
        cancel: &CancelToken,
        fetched: &Arc<AtomicU64>,
        out: &mut dyn Write,
        decided: &mut dyn FnMut(&CarveTarget, CarvedFrom),
    ) -> Result<Step, CarveError> {
        match found {
            Verdict::Holds(held) => {
                let target = held.target(path, layer);
                let report = carve_from(
                    self.source,
                    &target,
                    toc,
                    cancel,
                    fetched,
                    out,
                    &mut |from| decided(&target, from),
                )?;
                Ok(Step::carved(target, report))
            }
            Verdict::Removes => Ok(Step::Removes),
            Verdict::Absent => Ok(Step::Absent),
        }
    }

    /// The layer's entries when they can be had without streaming it: cache, else TOC (kept
    /// for carving, so that it is fetched once).
    fn known_entries(
        &self,
        layer: &LayerInfo,
        cancel: &CancelToken,
        fetched: &Arc<AtomicU64>,
    ) -> Option<(Vec<Entry>, Option<Toc>)> {
        if let Some(cache) = self.cache {
            let mut entries = Vec::new();
            if cache
                .replay(layer.digest(), false, &mut |e| entries.push(e))
                .is_some()
            {
                return Some((entries, None));
            }
        }
        let toc = Toc::fetch(self.source, layer, cancel).ok().flatten()?;
        fetched.fetch_add(toc.bytes_fetched(), Ordering::Relaxed);
        Some((toc.listing().entries, Some(toc)))
    }
}

/// Every entry of `layer`, streamed (no cache, no content facts).
fn list_entries(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
) -> Result<Vec<Entry>, CarveError> {
    let progress = Arc::new(PeekProgress::default());
    let mut entries = Vec::new();
    let result = stream_layer_recording(
        source,
        layer,
        FileData::Skip,
        cancel,
        &progress,
        &mut |entry| entries.push(entry),
        Recorders::default(),
    );
    fetched.fetch_add(result.bytes_read, Ordering::Relaxed);
    match result.status.problem() {
        _ if cancel.is_cancelled() => Err(CarveError::Cancelled),
        Some(problem) => Err(layer_error_for("", layer.index)(problem.to_owned())),
        None => Ok(entries),
    }
}

/// A writer keeping at most `limit` bytes; past it, writing fails with [`LimitReached`].
struct Limited {
    bytes: Vec<u8>,
    limit: u64,
}

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.limit.saturating_sub(self.bytes.len() as u64);
        if room == 0 && !buf.is_empty() {
            return Err(io::Error::other(LimitReached));
        }
        let taken = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        self.bytes.extend_from_slice(&buf[..taken]);
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The error [`Limited`] stops a read with.
#[derive(Debug, thiserror::Error)]
#[error("the byte limit was reached")]
struct LimitReached;

impl LimitReached {
    fn is(error: &io::Error) -> bool {
        error.get_ref().is_some_and(|inner| inner.is::<Self>())
    }
}

// ---- Random access through a cached index (crate::layer::index) ---------------------------

impl CarveSearch<'_> {
    /// Carves `target` through its layer's cached index, when the cache holds one and
    /// `entries` (the layer's listing) give the chosen entry's place: `None` when it cannot
    /// (then the caller streams).
    fn carve_through_index(
        &self,
        entries: &[Entry],
        target: &CarveTarget,
        cancel: &CancelToken,
        fetched: &Arc<AtomicU64>,
        out: &mut dyn Write,
    ) -> Option<Result<CarveReport, CarveError>> {
        let cache = self.cache?;
        // The chosen entry of the data's path (what an extractor leaves, or the first).
        let ordinal = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| *e.path == *target.data_path)
            .nth(target.occurrence?.checked_sub(1)?)
            .map(|(at, _)| at)
            .filter(|&at| entries[at].kind == EntryKind::File)?;
        let layer = &target.layer;
        let offset = crate::layer::index::entry_offset(cache, layer, ordinal)?;
        let size = entries[ordinal].size;
        let before = fetched.load(Ordering::Relaxed);
        let read = crate::layer::index::read_entry_data(
            self.source,
            layer,
            cache,
            offset,
            size,
            cancel,
            fetched,
        );
        let mut data = match read {
            Ok(data) => data?,
            Err(source) => {
                let layer = layer.index;
                return Some(Err(CarveError::Source { layer, source }));
            }
        };
        Some(
            copy_data(&mut data, out, cancel)
                .map_err(|error| {
                    copy_failed(
                        error,
                        cancel,
                        &layer_error_for(&target.data_path, layer.index),
                    )
                })
                .map(|written| {
                    CarveReport::read_since(before, written, fetched, CarvedFrom::Index)
                }),
        )
    }
}

/// What streaming a layer up to a path's first entry found.
enum Scan {
    /// The path was a regular file in this layer: its data was written.
    Carved(CarveReport),
    /// Anything else (a hardlink, a removal, nothing, or not a file).
    Found(Verdict),
}

/// Streams `layer` looking for the first entry of `path` ([`Version::First`]): writes its data
/// and stops as soon as it is a regular file (`started` hears it first); otherwise reads to the
/// end and says what the layer does to the path.
fn scan(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    path: &str,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
    out: &mut dyn Write,
    started: &mut dyn FnMut(CarvedFrom),
) -> Result<Scan, CarveError> {
    let below = format!("{path}/");
    // Only what can decide the path: itself, removals, and one entry below it (which makes it
    // a directory).
    let mut seen = Vec::new();
    let mut seen_below = false;
    let walk = LayerWalk {
        source,
        layer,
        path,
        cancel,
        fetched,
    };
    let streamed = walk.run(out, started, &mut |entry| {
        if &*entry.path == path {
            match entry.kind {
                // The data is at the link's target, earlier in this layer: read it from there
                // (its first entry, as this mode always did).
                EntryKind::Hardlink => {
                    return Ok(AtEntry::Stop(Verdict::Holds(Held {
                        data_path: entry.link_target.map(String::from).unwrap_or_default(),
                        size: 0,
                        occurrence: Some(1),
                    })));
                }
                // Done once copied: dropping the walker drops the connection; the rest is
                // never fetched.
                EntryKind::File => return Ok(AtEntry::Copy(CarvedFrom::Stream)),
                _ => seen.push(entry),
            }
        } else if matches!(entry.kind, EntryKind::Whiteout | EntryKind::OpaqueMarker)
            || (entry.path.starts_with(&below) && !std::mem::replace(&mut seen_below, true))
        {
            seen.push(entry);
        }
        Ok(AtEntry::Next)
    })?;
    match streamed {
        Walked::Copied(report) => Ok(Scan::Carved(report)),
        Walked::Stopped(verdict) => Ok(Scan::Found(verdict)),
        Walked::Ended => verdict(&seen, path, Version::First).map(Scan::Found),
    }
}

/// Streams `layer` up to the `occurrence`-th entry of `data_path` (counting every entry of
/// that path from 1, as its listing does), writes that regular file's data and stops: the
/// rest of the layer is never fetched.
fn stream_to_occurrence(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    data_path: &str,
    occurrence: usize,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
    out: &mut dyn Write,
) -> Result<CarveReport, CarveError> {
    let layer_error = layer_error_for(data_path, layer.index);
    let mut seen = 0;
    let walk = LayerWalk {
        source,
        layer,
        path: data_path,
        cancel,
        fetched,
    };
    let streamed = walk.run::<Infallible>(out, &mut |_| {}, &mut |entry| {
        if *entry.path != *data_path {
            return Ok(AtEntry::Next);
        }
        seen += 1;
        if seen < occurrence {
            return Ok(AtEntry::Next);
        }
        if entry.kind != EntryKind::File {
            return Err(layer_error(format!(
                "its entry {occurrence} is a {}, not a regular file",
                entry.kind.as_str()
            )));
        }
        Ok(AtEntry::Copy(CarvedFrom::Listing))
    })?;
    match streamed {
        Walked::Copied(report) => Ok(report),
        Walked::Stopped(never) => match never {},
        Walked::Ended => Err(layer_error(format!(
            "the layer holds {seen} entries for it, not the {occurrence} its listing gives"
        ))),
    }
}

/// One layer streamed entry by entry for a carve of `path` (the path its errors name).
struct LayerWalk<'a> {
    source: &'a dyn ImageSource,
    layer: &'a LayerInfo,
    path: &'a str,
    cancel: &'a CancelToken,
    fetched: &'a Arc<AtomicU64>,
}

/// What a [`LayerWalk`] does after an entry.
enum AtEntry<T> {
    /// Reads the next entry.
    Next,
    /// Writes this entry's data (a regular file) and stops; the report says it came `from`.
    Copy(CarvedFrom),
    /// Stops with this answer.
    Stop(T),
}

/// How a [`LayerWalk`] ended.
enum Walked<T> {
    /// An entry's data was written.
    Copied(CarveReport),
    /// An entry gave this answer.
    Stopped(T),
    /// The layer ended first.
    Ended,
}

impl LayerWalk<'_> {
    /// Streams the layer, asking `at_entry` about each entry until it stops the walk or the
    /// layer ends. `started` hears where the bytes come from before a copy writes the first;
    /// a sparse file is refused rather than copied.
    fn run<T>(
        &self,
        out: &mut dyn Write,
        started: &mut dyn FnMut(CarvedFrom),
        at_entry: &mut dyn FnMut(Entry) -> Result<AtEntry<T>, CarveError>,
    ) -> Result<Walked<T>, CarveError> {
        let layer_error = layer_error_for(self.path, self.layer.index);
        let before = self.fetched.load(Ordering::Relaxed);
        let mut counted = open_counted(self.source, self.layer, self.cancel, self.fetched)?;
        let mut walker = open_walker(&mut counted, self.layer)?;
        loop {
            let member = match walker.next_entry() {
                Ok(Some(member)) => member,
                Ok(None) => return Ok(Walked::Ended),
                Err(_) if self.cancel.is_cancelled() => return Err(CarveError::Cancelled),
                Err(error) => return Err(layer_error(error.to_string())),
            };
            let sparse = member.sparse;
            let Some(entry) = convert_entry(member) else {
                continue;
            };
            match at_entry(entry)? {
                AtEntry::Next => {}
                AtEntry::Stop(answer) => return Ok(Walked::Stopped(answer)),
                AtEntry::Copy(_) if sparse => {
                    return Err(layer_error(
                        "it is a sparse file, which carving does not expand yet".into(),
                    ));
                }
                AtEntry::Copy(from) => {
                    started(from);
                    let written = copy_data(&mut walker.data(), out, self.cancel)
                        .map_err(|e| copy_failed(e, self.cancel, &layer_error))?;
                    let report = CarveReport::read_since(before, written, self.fetched, from);
                    return Ok(Walked::Copied(report));
                }
            }
        }
    }
}

/// The newest version of a file seen while streaming: its first bytes (up to a cap) in memory,
/// moving to a temporary file past [`SPOOL_MEMORY_BYTES`].
struct Spool {
    file: CappedSpool,
    /// Bytes kept.
    kept: u64,
}

impl Spool {
    /// Writes what it keeps to `out`; returns the bytes written.
    fn copy_to(
        mut self,
        out: &mut dyn Write,
        layer_error: &dyn Fn(String) -> CarveError,
    ) -> Result<u64, CarveError> {
        let spool_error = |e: io::Error| layer_error(format!("the spool could not be read: {e}"));
        self.file
            .file
            .seek(SeekFrom::Start(0))
            .map_err(spool_error)?;
        let mut buffer = vec![0u8; 64 * 1024];
        let mut data = (&mut self.file.file).take(self.kept);
        let mut written = 0;
        loop {
            let read = data.read(&mut buffer).map_err(spool_error)?;
            if read == 0 {
                return Ok(written);
            }
            out.write_all(&buffer[..read]).map_err(CarveError::Write)?;
            written += read as u64;
        }
    }
}

/// Streams all of `layer` for the last version of `path`, the way a peek lists it (the same
/// download, decoder and digest check): spools the newest regular file seen at the path (at
/// most `cap` bytes of it) and, with a `cache`, stores the layer's verified listing (with
/// content facts) and its random-access index, so the next read of any file in the layer is
/// cheap. Returns what the layer does to the path and the spool when its last entry is a
/// regular file; for a hardlink, [`Held::data_path`] names the target and the occurrence is
/// left unknown.
fn stream_last(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    path: &str,
    cache: Option<&ListingCache>,
    cap: u64,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
) -> Result<(Verdict, Option<Spool>), CarveError> {
    let layer_error = layer_error_for(path, layer.index);
    let below = format!("{path}/");
    let mut seen = Vec::new();
    let mut seen_below = false;
    // Regular files at the path, as listed: the last must be the one spooled.
    let mut files_at_path = 0;
    let mut tap = LastVersion {
        path,
        cap,
        spool: None,
        copies: 0,
    };
    let progress = Arc::new(PeekProgress::default());
    let options = ListingOptions {
        cache,
        use_toc: false,
        content: ContentNeed::Required,
    };
    let result = list_layer_tapped(
        source,
        layer,
        options,
        Some(&mut tap),
        cancel,
        &progress,
        &mut |entry| {
            let at_path = *entry.path == *path;
            if at_path && entry.kind == EntryKind::File {
                files_at_path += 1;
            }
            if at_path
                || matches!(entry.kind, EntryKind::Whiteout | EntryKind::OpaqueMarker)
                || (entry.path.starts_with(&below) && !std::mem::replace(&mut seen_below, true))
            {
                seen.push(entry);
            }
        },
    );
    fetched.fetch_add(result.bytes_read, Ordering::Relaxed);
    if cancel.is_cancelled() {
        return Err(CarveError::Cancelled);
    }
    if let Some(problem) = result.status.problem() {
        return Err(layer_error(problem.to_owned()));
    }
    let last = seen.iter().rev().find(|entry| *entry.path == *path);
    if let Some(entry) = last
        && entry.kind == EntryKind::Hardlink
    {
        let held = Held {
            data_path: entry.link_target.as_deref().unwrap_or_default().to_owned(),
            size: 0,
            occurrence: None,
        };
        return Ok((Verdict::Holds(held), None));
    }
    // A sparse last version is listed but not spooled (carving does not expand holes yet).
    let spool = tap.spool.filter(|_| tap.copies == files_at_path);
    Ok((verdict(&seen, path, Version::Last)?, spool))
}

/// Spools each regular file at `path` as it streams by, keeping the newest (at most `cap`
/// bytes of it).
struct LastVersion<'a> {
    path: &'a str,
    cap: u64,
    spool: Option<Spool>,
    /// Versions spooled so far.
    copies: usize,
}

impl FileTap for LastVersion<'_> {
    fn copy_to(&mut self, entry: &Entry) -> Option<&mut dyn Write> {
        if *entry.path != *self.path {
            return None;
        }
        self.copies += 1;
        let spool = self.spool.insert(Spool {
            file: CappedSpool {
                file: tempfile::spooled_tempfile(SPOOL_MEMORY_BYTES),
                room: self.cap,
            },
            kept: entry.size.min(self.cap),
        });
        Some(&mut spool.file)
    }
}

/// A spool that keeps at most `room` more bytes and lets the rest pass.
struct CappedSpool {
    file: tempfile::SpooledTempFile,
    room: u64,
}

impl Write for CappedSpool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let kept = buf
            .len()
            .min(usize::try_from(self.room).unwrap_or(usize::MAX));
        self.file.write_all(&buf[..kept])?;
        self.room -= kept as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Makes the [`CarveError::Layer`] for `path` in layer `layer` from a reason.
fn layer_error_for(path: &str, layer: usize) -> impl Fn(String) -> CarveError + '_ {
    move |reason| CarveError::Layer {
        path: path.to_owned(),
        layer,
        reason,
    }
}

/// Opens `layer`'s blob, counting the bytes fetched.
fn open_counted(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
) -> Result<CountedBlob, CarveError> {
    let blob = source
        .open_blob(&layer.descriptor, cancel)
        .map_err(|source| CarveError::Source {
            layer: layer.index,
            source,
        })?;
    Ok(CountedBlob::new(blob, fetched, cancel))
}

/// A tar walker over the decompressed blob read from `counted`.
fn open_walker<'a>(
    counted: &'a mut CountedBlob,
    layer: &LayerInfo,
) -> Result<TarWalker<BufReader<Decoder<BufReader<&'a mut CountedBlob>>>>, CarveError> {
    let layer_error = layer_error_for("", layer.index);
    let mut buffered = BufReader::new(counted);
    let magic = buffered
        .fill_buf()
        .map_err(|e| layer_error(e.to_string()))?;
    let compression = Compression::sniff(magic);
    let decoder = Decoder::new(compression, buffered).map_err(|e| layer_error(e.to_string()))?;
    Ok(TarWalker::new(BufReader::new(decoder)))
}

/// The carve error for a failed copy of file data.
fn copy_failed(
    error: CopyError,
    cancel: &CancelToken,
    layer_error: &dyn Fn(String) -> CarveError,
) -> CarveError {
    match error {
        CopyError::Write(error) => CarveError::Write(error),
        CopyError::Read(_) if cancel.is_cancelled() => CarveError::Cancelled,
        CopyError::Read(reason) => layer_error(reason),
    }
}

fn copy_data(
    data: &mut dyn Read,
    out: &mut dyn Write,
    cancel: &CancelToken,
) -> Result<u64, CopyError> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut written = 0;
    loop {
        if cancel.is_cancelled() {
            return Err(CopyError::Read("cancelled".into()));
        }
        let read = data
            .read(&mut buffer)
            .map_err(|e| CopyError::Read(e.to_string()))?;
        if read == 0 {
            return Ok(written);
        }
        out.write_all(&buffer[..read]).map_err(CopyError::Write)?;
        written += read as u64;
    }
}
