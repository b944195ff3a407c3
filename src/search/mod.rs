//! The search index: which indexed images hold a path, and in which layer.
//!
//! Owns the index under `$XDG_CACHE_HOME/layerslayer/search/` (beside the listing cache): one
//! file of rows per layer, named by the layer's digest (a layer shared by a thousand images
//! is stored and scanned once), and one JSON record per image (reference as typed, manifest
//! digest, platform, source kind, when seen, its layers, and which of their rows its final
//! filesystem does not keep). Paths are stored uncompressed and scanned with
//! `memchr::memmem` (see the README's Benchmarks for why not SQLite FTS5 or tantivy).
//!
//! Writes are atomic per file (temporary file, then rename), a layer's rows before any image
//! record that names them, so a crash mid-write leaves the previous index usable. A damaged
//! layer file is set aside and rebuilt from the listing cache; a damaged image record is set
//! aside (that image is indexed again by the next `index` of it). The index follows the
//! listing cache's eviction lazily: a search drops the layers whose listing left the cache,
//! and leaves out (and names) the images that used them, so a hit never points at a listing
//! that is gone.
//!
//! May import [`crate::layer`] (the listing cache), [`crate::model`] (entries, the merged
//! filesystem), [`crate::oci`] and [`crate::source`].

mod manage;
mod pattern;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::layer::cache::ListingCache;
use crate::model::{Entry, EntryKind, MergedFilesystem};
pub use manage::{IndexSummary, IndexedImage};
pub use pattern::{Pattern, PatternError};
use store::{DAMAGED_SUFFIX, Store};
pub use store::{ImageRecord, LayerRows, Row, StoreError};

/// One path found: where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The image's reference, as it was indexed.
    pub image: String,
    /// The digest of the image's platform manifest.
    pub manifest_digest: String,
    /// `os/arch[/variant]` when the image came from a multi-platform index.
    pub platform: Option<String>,
    /// The layer's position in the image, base = 0.
    pub layer_index: usize,
    /// The layer's blob digest.
    pub layer_digest: String,
    /// The path, normalised.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Its size in bytes.
    pub size: u64,
    /// Whether this entry is what the image's final filesystem holds at that path (false
    /// when a later layer removes or replaces it, and for whiteouts).
    pub in_final: bool,
}

/// Something a search or an index update noticed and the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A damaged layer file was set aside and rebuilt from the listing cache.
    Rebuilt {
        /// The layer.
        digest: String,
        /// What was wrong.
        reason: String,
        /// Where the damaged file went.
        set_aside: PathBuf,
    },
    /// A damaged file was set aside and could not be rebuilt (the listing cache no longer
    /// holds that layer, or it was an image record): index the image again.
    SetAside {
        /// The damaged file.
        file: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Images left out because a layer of theirs left the listing cache (evicted): index
    /// them again to search them.
    Evicted {
        /// The images' references.
        images: Vec<String>,
    },
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rebuilt {
                digest,
                reason,
                set_aside,
            } => write!(
                f,
                "the search index of layer {digest} was damaged ({reason}): set aside as {} and \
                 rebuilt from the listing cache",
                set_aside.display()
            ),
            Self::SetAside { file, reason } => write!(
                f,
                "{} was damaged ({reason}) and was set aside; run `layerslayer index` on the \
                 image again",
                file.display()
            ),
            Self::Evicted { images } => write!(
                f,
                "left out {} image(s) whose layer listings were evicted from the listing cache \
                 (run `layerslayer index` on them again): {}",
                images.len(),
                images.join(", ")
            ),
        }
    }
}

/// The search index, and the listing cache it follows.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    dir: PathBuf,
    store: Store,
    cache: ListingCache,
}

impl SearchIndex {
    /// The index under the platform's cache directory (`$XDG_CACHE_HOME/layerslayer/search`),
    /// following the default listing cache; `None` when there is no cache directory.
    pub fn open_default() -> Option<Self> {
        let cache = ListingCache::open_default()?;
        let dir = cache.dir().parent()?.join("search");
        Self::open(dir, cache).ok()
    }

    /// The index in `dir` (created if needed), following `cache`.
    pub fn open(dir: PathBuf, cache: ListingCache) -> io::Result<Self> {
        let store = Store::open(&dir)?;
        Ok(Self { dir, store, cache })
    }

    /// The directory the index lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The listing cache the index follows.
    pub fn cache(&self) -> &ListingCache {
        &self.cache
    }

    /// Whether the rows of `digest` are indexed, and its listing is still cached (a layer
    /// whose listing was evicted counts as not indexed).
    pub fn holds_layer(&self, digest: &str) -> bool {
        self.cache.holds(digest) && self.store.layer_path(digest).is_some_and(|p| p.is_file())
    }

    /// Stores the rows of one layer (replacing any older rows of it).
    pub fn add_layer(&self, digest: &str, entries: &[Entry]) -> io::Result<()> {
        self.store.write_layer(digest, entries)
    }

    /// How many layers have rows in the index.
    pub fn layer_count(&self) -> io::Result<usize> {
        Ok(self.store.layer_files()?.len())
    }

    /// The rows of `digest`; a damaged file is set aside and rebuilt from the listing cache
    /// (or dropped when the cache no longer holds the layer), with a notice.
    pub fn layer_rows(
        &self,
        digest: &str,
        notices: &mut Vec<Notice>,
    ) -> io::Result<Option<LayerRows>> {
        match self.store.read_layer(digest) {
            Ok(rows) => Ok(rows),
            Err(StoreError::Io(error)) => Err(error),
            Err(StoreError::Damaged(reason)) => {
                let Some(path) = self.store.layer_path(digest) else {
                    return Ok(None);
                };
                let set_aside = Store::set_aside(&path)?;
                let mut entries = Vec::new();
                if self
                    .cache
                    .replay(digest, false, &mut |entry| entries.push(entry))
                    .is_none()
                {
                    notices.push(Notice::SetAside {
                        file: set_aside,
                        reason,
                    });
                    return Ok(None);
                }
                self.store.write_layer(digest, &entries)?;
                notices.push(Notice::Rebuilt {
                    digest: digest.to_owned(),
                    reason,
                    set_aside,
                });
                self.store.read_layer(digest).map_err(|error| match error {
                    StoreError::Io(error) => error,
                    StoreError::Damaged(reason) => io::Error::other(reason),
                })
            }
        }
    }

    /// Records an image whose layers (`layers`, base first) are all indexed: which of their
    /// rows its final filesystem keeps is computed here, from the stored rows.
    pub fn record_image(
        &self,
        mut record: ImageRecord,
        notices: &mut Vec<Notice>,
    ) -> io::Result<()> {
        let mut layers = Vec::with_capacity(record.layers.len());
        for digest in &record.layers {
            let rows = self.layer_rows(digest, notices)?.ok_or_else(|| {
                io::Error::other(format!("layer {digest} is not in the search index"))
            })?;
            layers.push(rows.entries());
        }
        record.not_final = not_in_final(&layers);
        self.store.write_image(&record)
    }

    /// Records an image after a peek or a comparison listed all its layers (read, or replayed
    /// from the listing cache): the layers the index lacks are added from their cached
    /// listings, then the image. Returns whether it was recorded; `false` when it already was
    /// (nothing to do) or when a layer's listing is not cached (the index follows the cache).
    pub fn record_listed(
        &self,
        record: ImageRecord,
        notices: &mut Vec<Notice>,
    ) -> io::Result<bool> {
        if self.holds_image(
            &record.reference,
            record.platform.as_deref(),
            &record.manifest_digest,
        ) {
            return Ok(false);
        }
        for digest in &record.layers {
            if self.holds_layer(digest) {
                continue;
            }
            let mut entries = Vec::new();
            if self
                .cache
                .replay(digest, false, &mut |entry| entries.push(entry))
                .is_none()
            {
                return Ok(false);
            }
            self.add_layer(digest, &entries)?;
        }
        self.record_image(record, notices)?;
        Ok(true)
    }

    /// Whether `reference` on `platform` is recorded as the manifest `manifest_digest` with
    /// every layer still indexed: indexing it again would change nothing, so a resumed or
    /// repeated `index` run skips it.
    pub fn holds_image(
        &self,
        reference: &str,
        platform: Option<&str>,
        manifest_digest: &str,
    ) -> bool {
        self.store
            .read_image(reference, platform)
            .is_some_and(|record| {
                record.manifest_digest == manifest_digest
                    && record.layers.iter().all(|digest| self.holds_layer(digest))
            })
    }

    /// Every indexed image (damaged records are set aside, with a notice).
    pub fn images(&self, notices: &mut Vec<Notice>) -> io::Result<Vec<ImageRecord>> {
        let (images, damaged) = self.store.read_images()?;
        for (file, reason) in damaged {
            let file = Store::set_aside(&file)?;
            notices.push(Notice::SetAside { file, reason });
        }
        Ok(images)
    }

    /// Finds `pattern` in the layers of the indexed images whose reference contains
    /// `image_filter` (all without one). Each layer is scanned once however many images
    /// share it. Hits come by image (sorted by reference), then layer, then tar order.
    pub fn search(
        &self,
        pattern: &Pattern,
        image_filter: Option<&str>,
        notices: &mut Vec<Notice>,
    ) -> io::Result<Vec<Hit>> {
        let mut images = self.images(notices)?;
        images.retain(|image| image_filter.is_none_or(|f| image.reference.contains(f)));
        // Follow the listing cache: a layer whose listing is gone leaves the index, and the
        // images that used it are left out.
        let wanted: BTreeSet<&str> = images
            .iter()
            .flat_map(|image| image.layers.iter().map(String::as_str))
            .collect();
        let mut matches: BTreeMap<&str, Vec<(usize, String, EntryKind, u64)>> = BTreeMap::new();
        let mut gone: BTreeSet<&str> = BTreeSet::new();
        for digest in wanted {
            if !self.cache.holds(digest) {
                if let Some(path) = self.store.layer_path(digest) {
                    std::fs::remove_file(path).ok();
                }
                gone.insert(digest);
                continue;
            }
            match self.layer_rows(digest, notices)? {
                Some(rows) => {
                    matches.insert(digest, scan(&rows, pattern));
                }
                None => {
                    gone.insert(digest);
                }
            }
        }
        let mut hits = Vec::new();
        let mut left_out = Vec::new();
        for image in &images {
            if image.layers.iter().any(|d| gone.contains(d.as_str())) {
                left_out.push(image.reference.clone());
                continue;
            }
            for (layer_index, digest) in image.layers.iter().enumerate() {
                let not_final = image.not_final.get(layer_index);
                for (position, path, kind, size) in
                    matches.get(digest.as_str()).into_iter().flatten()
                {
                    let in_final = u32::try_from(*position)
                        .is_ok_and(|p| not_final.is_none_or(|not| not.binary_search(&p).is_err()));
                    hits.push(Hit {
                        image: image.reference.clone(),
                        manifest_digest: image.manifest_digest.clone(),
                        platform: image.platform.clone(),
                        layer_index,
                        layer_digest: digest.clone(),
                        path: path.clone(),
                        kind: *kind,
                        size: *size,
                        in_final,
                    });
                }
            }
        }
        if !left_out.is_empty() {
            notices.push(Notice::Evicted { images: left_out });
        }
        Ok(hits)
    }
}

/// Per layer, the positions of the rows the final filesystem does not keep, sorted.
fn not_in_final(layers: &[Vec<Entry>]) -> Vec<Vec<u32>> {
    let mut filesystem = MergedFilesystem::default();
    for (index, entries) in layers.iter().enumerate() {
        filesystem.apply(index, entries);
    }
    let mut kept: Vec<Vec<bool>> = layers.iter().map(|l| vec![false; l.len()]).collect();
    for (layer, position, _) in filesystem.iter_positions() {
        if let Some(slot) = kept.get_mut(layer).and_then(|l| l.get_mut(position)) {
            *slot = true;
        }
    }
    kept.iter()
        .map(|layer| {
            layer
                .iter()
                .enumerate()
                .filter(|(_, kept)| !**kept)
                .filter_map(|(position, _)| u32::try_from(position).ok())
                .collect()
        })
        .collect()
}

/// The rows of one layer that match: (position, path, kind, size).
fn scan(rows: &LayerRows, pattern: &Pattern) -> Vec<(usize, String, EntryKind, u64)> {
    let paths = rows.path_bytes();
    let mut found = Vec::new();
    let mut keep = |position: usize, path: &[u8]| {
        if pattern.accepts(path) {
            let row = rows.row(position, path);
            found.push((position, row.path.to_owned(), row.kind, row.size));
        }
    };
    let literal = pattern.literal();
    if literal.is_empty() {
        for (position, path) in paths.split(|b| *b == 0).take(rows.len()).enumerate() {
            keep(position, path);
        }
        return found;
    }
    let finder = memchr::memmem::Finder::new(literal);
    // Rows are counted only up to each hit, once (the separators before it).
    let (mut from, mut counted_to, mut position) = (0, 0, 0);
    while let Some(at) = finder.find(&paths[from..]) {
        let at = from + at;
        let start = memchr::memrchr(0, &paths[..at]).map_or(0, |s| s + 1);
        let end = memchr::memchr(0, &paths[at..]).map_or(paths.len(), |e| at + e);
        position += memchr::memchr_iter(0, &paths[counted_to..start]).count();
        counted_to = start;
        keep(position, &paths[start..end]);
        from = end + 1;
        if from >= paths.len() {
            break;
        }
    }
    found
}

/// The files set aside as damaged so far (kept for a look; safe to delete).
pub fn damaged_files(index: &SearchIndex) -> Vec<PathBuf> {
    ["layers", "images"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(index.dir.join(sub)).ok())
        .flat_map(|dir| dir.filter_map(Result::ok).map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(DAMAGED_SUFFIX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_take_paths_out_of_the_final_filesystem() {
        let layers = vec![
            vec![
                Entry::new("etc", EntryKind::Dir, 0),
                Entry::new("etc/passwd", EntryKind::File, 10),
                Entry::new("etc/secret", EntryKind::File, 5),
            ],
            vec![
                Entry::new("etc/.wh.secret", EntryKind::Whiteout, 0),
                Entry::new("etc/passwd", EntryKind::File, 12),
            ],
        ];
        assert_eq!(not_in_final(&layers), vec![vec![1, 2], vec![0]]);
    }
}
