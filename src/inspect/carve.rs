//! Carving one file out of an image: the version of a path in the final filesystem, from the
//! newest layer that holds it (whiteouts and opaque directories honoured), read with as few
//! blob bytes as possible: on a layer with a table of contents only the file's chunks are
//! fetched; otherwise the layer is streamed only until the file's data is complete, and the
//! connection dropped.

use std::io::{self, BufRead as _, BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cancel::CancelToken;
use crate::layer::cache::ListingCache;
use crate::layer::stream::{Decoder, convert_entry};
use crate::layer::tar::TarWalker;
use crate::layer::toc::{self, CopyError, Toc};
use crate::model::{EntryKind, LayerListing, normalize_path};
use crate::oci::LayerInfo;
use crate::oci::compression::Compression;
use crate::source::{BlobReader, ImageSource, SourceError};

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
/// image, base first): the newest layer that holds it, unless a newer one removed it.
pub fn find_target(listings: &[LayerListing], path: &str) -> Result<CarveTarget, CarveError> {
    let path = normalize_path(path);
    for listing in listings.iter().rev() {
        match verdict(&listing.entries, &path)? {
            Verdict::Holds { data_path, size } => {
                return Ok(CarveTarget {
                    path,
                    layer: listing.layer.clone(),
                    data_path,
                    size,
                });
            }
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

/// Writes the target's data to `out`: from the layer's TOC when it has one (only the file's
/// chunks), else by streaming the layer until the file's data is complete. `fetched` counts
/// the blob bytes fetched as they come (for progress).
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
    carve_with(source, target, toc.as_ref(), cancel, fetched, out)
}

/// [`carve`] with the layer's TOC already fetched (and counted in `fetched`), if it has one.
fn carve_with(
    source: &dyn ImageSource,
    target: &CarveTarget,
    toc: Option<&Toc>,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
    out: &mut dyn Write,
) -> Result<CarveReport, CarveError> {
    let layer_error = |reason: String| CarveError::Layer {
        path: target.data_path.clone(),
        layer: target.layer.index,
        reason,
    };
    if let Some(chunks) = toc.and_then(|toc| toc.file_chunks(&target.data_path).ok()) {
        let copied = toc::copy_file(source, &target.layer, &chunks, cancel, out);
        return match copied {
            Ok(bytes) => {
                fetched.fetch_add(bytes, Ordering::Relaxed);
                Ok(CarveReport {
                    bytes_written: chunks.size,
                    bytes_fetched: chunks.toc_bytes + bytes,
                    total_fetched: fetched.load(Ordering::Relaxed),
                    from_toc: true,
                })
            }
            Err(_) if cancel.is_cancelled() => Err(CarveError::Cancelled),
            Err(CopyError::Write(error)) => Err(CarveError::Write(error)),
            Err(CopyError::Read(reason)) => Err(layer_error(reason)),
        };
    }
    match scan(
        source,
        &target.layer,
        &target.data_path,
        cancel,
        fetched,
        out,
    )? {
        Scan::Carved(report) => Ok(report),
        Scan::Found(_) => Err(layer_error(
            "the layer does not hold it as a regular file".into(),
        )),
    }
}

/// What one layer says about a path, read newest layer first.
enum Verdict {
    /// The layer holds the path as a regular file at `data_path` (a hardlink's target, or the
    /// path itself) of `size` bytes.
    Holds { data_path: String, size: u64 },
    /// The layer removes the path from lower layers (and does not re-add it).
    Removes,
    /// The layer does not touch the path.
    Absent,
}

/// What a layer's entries say about `path`.
fn verdict(entries: &[crate::model::Entry], path: &str) -> Result<Verdict, CarveError> {
    let not_a_file = |what: String| CarveError::NotAFile {
        path: path.to_owned(),
        what,
    };
    if let Some(entry) = entries.iter().rev().find(|e| &*e.path == path) {
        return match entry.kind {
            EntryKind::File => Ok(Verdict::Holds {
                data_path: path.to_owned(),
                size: entry.size,
            }),
            EntryKind::Hardlink => {
                let target = entry.link_target.as_deref().unwrap_or_default().to_owned();
                let data = entries
                    .iter()
                    .find(|e| *e.path == *target && e.kind == EntryKind::File)
                    .ok_or_else(|| {
                        not_a_file(format!(
                            "a hardlink to {target}, which is not a file in its layer"
                        ))
                    })?;
                Ok(Verdict::Holds {
                    data_path: target,
                    size: data.size,
                })
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
fn removes_path(entry: &crate::model::Entry, path: &str) -> bool {
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

/// Where to look for the layers' listings before fetching anything.
pub struct CarveSearch<'a> {
    /// Where the blobs come from.
    pub source: &'a dyn ImageSource,
    /// Cached listings, if any: a cached layer is decided without a fetch.
    pub cache: Option<&'a ListingCache>,
}

impl CarveSearch<'_> {
    /// Finds `path` in the final filesystem of `layers` (base first), newest layer first, and
    /// writes its data to `out`. A layer whose listing is cached or has a table of contents is
    /// decided from that; another is streamed only until the path's data is complete (or to
    /// its end, when it does not hold the path). Returns the target and how it went.
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
            let known = self.known_entries(layer, cancel, fetched);
            let verdict = match &known {
                Some((entries, _)) => verdict(entries, &path)?,
                None => match scan(self.source, layer, &path, cancel, fetched, out)? {
                    Scan::Carved(report) => {
                        let target = CarveTarget {
                            path: path.clone(),
                            layer: layer.clone(),
                            data_path: path.clone(),
                            size: report.bytes_written,
                        };
                        return Ok((target, report));
                    }
                    Scan::Found(verdict) => verdict,
                },
            };
            match verdict {
                Verdict::Holds { data_path, size } => {
                    let target = CarveTarget {
                        path: path.clone(),
                        layer: layer.clone(),
                        data_path,
                        size,
                    };
                    let (entries, toc) = known.unzip();
                    let indexed = self.carve_through_index(entries, &target, cancel, fetched, out);
                    let report = match (indexed, toc.flatten()) {
                        (Some(report), _) => report?,
                        (None, Some(toc)) => {
                            carve_with(self.source, &target, Some(&toc), cancel, fetched, out)?
                        }
                        (None, None) => carve(self.source, &target, cancel, fetched, out)?,
                    };
                    let target = CarveTarget {
                        size: report.bytes_written,
                        ..target
                    };
                    return Ok((target, report));
                }
                Verdict::Removes => {
                    return Err(CarveError::Removed {
                        path,
                        layer: layer.index,
                    });
                }
                Verdict::Absent => {}
            }
        }
        Err(CarveError::NotFound(path))
    }

    /// The layer's entries when they can be had without streaming it: cache, else TOC (kept
    /// for carving, so that it is fetched once).
    fn known_entries(
        &self,
        layer: &LayerInfo,
        cancel: &CancelToken,
        fetched: &Arc<AtomicU64>,
    ) -> Option<(Vec<crate::model::Entry>, Option<Toc>)> {
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

// ---- Random access through a cached gzip index (crate::layer::index) ----------------------

impl CarveSearch<'_> {
    /// Carves `target` through its layer's cached gzip index, when the cache holds one and the
    /// cached listing gives the data's (last) entry: `None` when it cannot (then the caller
    /// streams).
    fn carve_through_index(
        &self,
        cached_entries: Option<Vec<crate::model::Entry>>,
        target: &CarveTarget,
        cancel: &CancelToken,
        fetched: &Arc<AtomicU64>,
        out: &mut dyn Write,
    ) -> Option<Result<CarveReport, CarveError>> {
        let (cache, entries) = (self.cache?, cached_entries?);
        let ordinal = entries
            .iter()
            .rposition(|e| *e.path == *target.data_path && e.kind == EntryKind::File)?;
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
                .map_err(|error| match error {
                    CopyError::Write(error) => CarveError::Write(error),
                    CopyError::Read(_) if cancel.is_cancelled() => CarveError::Cancelled,
                    CopyError::Read(reason) => CarveError::Layer {
                        path: target.data_path.clone(),
                        layer: layer.index,
                        reason,
                    },
                })
                .map(|written| {
                    let total = fetched.load(Ordering::Relaxed);
                    CarveReport {
                        bytes_written: written,
                        bytes_fetched: total - before,
                        total_fetched: total,
                        from_toc: false,
                    }
                }),
        )
    }
}

/// What streaming a layer for a path found.
enum Scan {
    /// The path was a regular file in this layer: its data was written.
    Carved(CarveReport),
    /// Anything else (a hardlink, a removal, nothing, or not a file).
    Found(Verdict),
}

/// Streams `layer` looking for `path`: writes its data and stops as soon as it is a regular
/// file; otherwise reads to the end and says what the layer does to the path.
fn scan(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    path: &str,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
    out: &mut dyn Write,
) -> Result<Scan, CarveError> {
    let layer_error = |reason: String| CarveError::Layer {
        path: path.to_owned(),
        layer: layer.index,
        reason,
    };
    let before = fetched.load(Ordering::Relaxed);
    let mut walker = open_walker(source, layer, cancel, fetched)?;
    let below = format!("{path}/");
    // Only what can decide the path: itself, removals, and one entry below it (which makes it
    // a directory).
    let mut seen = Vec::new();
    let mut seen_below = false;
    loop {
        let member = match walker.next_entry() {
            Ok(Some(member)) => member,
            Ok(None) => return verdict(&seen, path).map(Scan::Found),
            Err(_) if cancel.is_cancelled() => return Err(CarveError::Cancelled),
            Err(error) => return Err(layer_error(error.to_string())),
        };
        let sparse = member.sparse;
        let Some(entry) = convert_entry(member) else {
            continue;
        };
        if &*entry.path == path {
            match entry.kind {
                // The data is at the link's target, earlier in this layer: read it from there.
                EntryKind::Hardlink => {
                    return Ok(Scan::Found(Verdict::Holds {
                        data_path: entry.link_target.map(String::from).unwrap_or_default(),
                        size: 0,
                    }));
                }
                EntryKind::File if sparse => {
                    return Err(layer_error(
                        "it is a sparse file, which carving does not expand yet".into(),
                    ));
                }
                EntryKind::File => {
                    let written =
                        copy_data(&mut walker.data(), out, cancel).map_err(|e| match e {
                            CopyError::Write(error) => CarveError::Write(error),
                            CopyError::Read(_) if cancel.is_cancelled() => CarveError::Cancelled,
                            CopyError::Read(reason) => layer_error(reason),
                        })?;
                    // Done: dropping the walker drops the connection; the rest is never fetched.
                    let total = fetched.load(Ordering::Relaxed);
                    return Ok(Scan::Carved(CarveReport {
                        bytes_written: written,
                        bytes_fetched: total - before,
                        total_fetched: total,
                        from_toc: false,
                    }));
                }
                _ => seen.push(entry),
            }
        } else if matches!(entry.kind, EntryKind::Whiteout | EntryKind::OpaqueMarker)
            || (entry.path.starts_with(&below) && !std::mem::replace(&mut seen_below, true))
        {
            seen.push(entry);
        }
    }
}

/// A tar walker over the decompressed blob of `layer`, counting the blob bytes fetched.
fn open_walker(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
) -> Result<TarWalker<BufReader<Decoder<BufReader<Counted>>>>, CarveError> {
    let layer_error = |reason: String| CarveError::Layer {
        path: String::new(),
        layer: layer.index,
        reason,
    };
    let blob = source
        .open_blob(&layer.descriptor, cancel)
        .map_err(|source| CarveError::Source {
            layer: layer.index,
            source,
        })?;
    let mut buffered = BufReader::new(Counted {
        inner: blob,
        count: Arc::clone(fetched),
        cancel: cancel.clone(),
    });
    let magic = buffered
        .fill_buf()
        .map_err(|e| layer_error(e.to_string()))?;
    let compression = Compression::sniff(magic);
    let decoder = Decoder::new(compression, buffered).map_err(|e| layer_error(e.to_string()))?;
    Ok(TarWalker::new(BufReader::new(decoder)))
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

/// A blob reader that counts what it reads and stops when cancelled.
struct Counted {
    inner: BlobReader,
    count: Arc<AtomicU64>,
    cancel: CancelToken,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(io::Error::other("cancelled"));
        }
        let read = self.inner.read(buf)?;
        self.count.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}
