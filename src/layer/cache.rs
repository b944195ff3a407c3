//! The listing cache: each complete, digest-verified layer listing, stored under its layer
//! digest (content-addressed, so never stale) in the platform's cache directory
//! (`$XDG_CACHE_HOME/layerslayer/listings` on Linux). A re-peek of a cached layer fetches no
//! blob byte.
//!
//! An entry is a zstd-compressed text file: a header line naming the format version and the
//! digest, one JSON line per tar entry, and a trailer with the entry count and the sha256 of
//! the entry lines. Writing streams into a temporary file that is renamed into place only when
//! the layer was read completely and verified; reading checks the whole file before handing
//! out a single entry, so a corrupt or partial entry is detected, deleted and refetched, never
//! shown. The directory is bounded in size, evicting the least recently used entries.
//!
//! Beside a listing streamed from a gzip blob lies its random-access index
//! ([`crate::layer::index`]), written with the listing and checked by its reader; a listing
//! committed without one removes an older one, so the two always describe the same read.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::model::Entry;

/// Bumped whenever the file format or the meaning of an entry changes.
const FORMAT_VERSION: u32 = 2;
/// Format name in the header line.
const FORMAT_NAME: &str = "layerslayer-listing";
/// File name suffix of cache entries.
const SUFFIX: &str = ".listing.zst";
/// File name suffix of a listing's random-access index (see [`crate::layer::index`]).
const INDEX_SUFFIX: &str = ".gzindex";
/// The default size bound of the cache directory.
pub const DEFAULT_MAX_BYTES: u64 = 512 * 1024 * 1024;
/// Longest line accepted when reading an entry (a path is at most a few KiB).
const MAX_LINE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Header {
    format: String,
    version: u32,
    digest: String,
    /// Whether the regular files carry [`Entry::content`] (false for listings read from a
    /// table of contents).
    #[serde(default)]
    with_content: bool,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Trailer {
    entries: u64,
    checksum: String,
}

/// A directory of cached layer listings with a size bound.
#[derive(Debug, Clone)]
pub struct ListingCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl ListingCache {
    /// The cache under the platform's cache directory, honouring `XDG_CACHE_HOME`; `None`
    /// when there is no cache directory or it cannot be created.
    pub fn open_default() -> Option<Self> {
        let dir = dirs::cache_dir()?.join("layerslayer").join("listings");
        Self::open(dir, DEFAULT_MAX_BYTES).ok()
    }

    /// A cache in `dir` (created if needed) holding at most about `max_bytes`.
    pub fn open(dir: PathBuf, max_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        Ok(Self { dir, max_bytes })
    }

    /// The directory the entries live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the listing of `digest` is kept; `None` for a digest that is not well formed
    /// (it becomes a file name).
    fn path_of(&self, digest: &str) -> Option<PathBuf> {
        let (algorithm, hex) = digest.split_once(':')?;
        let well_formed = matches!(algorithm, "sha256" | "sha512")
            && !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed.then(|| self.dir.join(format!("{algorithm}-{hex}{SUFFIX}")))
    }

    /// Whether a listing of `digest` is kept (without reading it: a damaged one is found,
    /// and deleted, when it is replayed).
    pub fn holds(&self, digest: &str) -> bool {
        self.path_of(digest).is_some_and(|path| path.is_file())
    }

    /// Where the random-access index of `digest` is kept.
    fn index_path_of(&self, digest: &str) -> Option<PathBuf> {
        self.index_path_of_listing(&self.path_of(digest)?)
    }

    /// The bytes of the random-access index of `digest`, unchecked (its reader checks them),
    /// when there is one beside a listing.
    pub(crate) fn read_index(&self, digest: &str) -> Option<Vec<u8>> {
        if !self.path_of(digest)?.exists() {
            return None;
        }
        fs::read(self.index_path_of(digest)?).ok()
    }

    /// Deletes the listing of `digest` and its index (a damaged index: the next listing reads
    /// the layer whole and records both again).
    pub(crate) fn forget(&self, digest: &str) {
        for path in [self.index_path_of(digest), self.path_of(digest)]
            .into_iter()
            .flatten()
        {
            fs::remove_file(path).ok();
        }
    }

    /// Hands the cached entries of `digest` to `on_entry` and returns how many there were, or
    /// `None` when there is no valid entry (or, with `need_content`, none whose files carry
    /// their content facts). A damaged entry is deleted first and never shown.
    pub fn replay(
        &self,
        digest: &str,
        need_content: bool,
        on_entry: &mut dyn FnMut(Entry),
    ) -> Option<u64> {
        let path = self.path_of(digest)?;
        match read_entry(&path, digest, need_content, &mut |_| {}) {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(_) => {
                fs::remove_file(&path).ok();
                return None;
            }
        }
        // Verified: now hand the entries out. Mark it recently used for the eviction order.
        File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(SystemTime::now()))
            .ok();
        read_entry(&path, digest, need_content, on_entry)
            .ok()
            .flatten()
    }

    /// Starts writing the listing of `digest` (`with_content`: its files carry their content
    /// facts); nothing is visible until [`CacheWriter::commit`].
    pub fn writer(&self, digest: &str, with_content: bool) -> io::Result<CacheWriter> {
        let path = self
            .path_of(digest)
            .ok_or_else(|| io::Error::other(format!("{digest:?} is not a digest")))?;
        let temp = tempfile::NamedTempFile::new_in(&self.dir)?;
        let mut encoder = zstd::stream::write::Encoder::new(BufWriter::new(temp), 3)?;
        let header = Header {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
            digest: digest.to_owned(),
            with_content,
        };
        serde_json::to_writer(&mut encoder, &header)?;
        encoder.write_all(b"\n")?;
        Ok(CacheWriter {
            encoder,
            path,
            hasher: Sha256::new(),
            entries: 0,
            cache: self.clone(),
        })
    }

    fn index_path_of_listing(&self, listing: &Path) -> Option<PathBuf> {
        let name = listing.file_name()?.to_str()?.strip_suffix(SUFFIX)?;
        Some(self.dir.join(format!("{name}{INDEX_SUFFIX}")))
    }

    /// Deletes the least recently used entries until the directory fits its bound.
    fn evict(&self) -> io::Result<()> {
        let mut files: Vec<(SystemTime, u64, PathBuf)> = fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(SUFFIX) || name.ends_with(INDEX_SUFFIX)
            })
            .filter_map(|e| {
                let metadata = e.metadata().ok()?;
                Some((metadata.modified().ok()?, metadata.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= self.max_bytes {
                break;
            }
            fs::remove_file(&path)?;
            total -= len;
        }
        Ok(())
    }
}

/// A listing being written to the cache. Dropped without [`commit`](Self::commit), it leaves
/// nothing behind.
pub struct CacheWriter {
    encoder: zstd::stream::write::Encoder<'static, BufWriter<tempfile::NamedTempFile>>,
    path: PathBuf,
    hasher: Sha256,
    entries: u64,
    cache: ListingCache,
}

impl CacheWriter {
    /// Appends one entry.
    pub fn add(&mut self, entry: &Entry) -> io::Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        self.hasher.update(&line);
        self.entries += 1;
        self.encoder.write_all(&line)
    }

    /// Entries added so far.
    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }

    /// Finishes the entry, moves it into place and keeps the cache within its bound.
    pub fn commit(self) -> io::Result<()> {
        self.commit_with_index(None)
    }

    /// [`commit`](Self::commit), with the layer's random-access index (or, without one,
    /// removing an older one).
    pub(crate) fn commit_with_index(mut self, index: Option<Vec<u8>>) -> io::Result<()> {
        let index_path = self.cache.index_path_of_listing(&self.path);
        match (&index, &index_path) {
            (Some(bytes), Some(path)) => {
                let mut temp = tempfile::NamedTempFile::new_in(&self.cache.dir)?;
                temp.write_all(bytes)?;
                temp.persist(path).map_err(|e| e.error)?;
            }
            (None, Some(path)) => match fs::remove_file(path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            },
            _ => {}
        }
        let trailer = Trailer {
            entries: self.entries,
            checksum: format!("sha256:{:x}", self.hasher.finalize()),
        };
        serde_json::to_writer(&mut self.encoder, &trailer)?;
        self.encoder.write_all(b"\n")?;
        let temp = self
            .encoder
            .finish()?
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        temp.persist(&self.path).map_err(|e| e.error)?;
        self.cache.evict()
    }
}

/// Reads and checks a cache entry, handing each entry to `on_entry`; `Ok(None)` when there is
/// no entry (or it lacks content facts that are needed), an error when it is damaged (wrong
/// version, digest, count or checksum, junk).
fn read_entry(
    path: &Path,
    digest: &str,
    need_content: bool,
    on_entry: &mut dyn FnMut(Entry),
) -> io::Result<Option<u64>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut lines = BufReader::new(zstd::stream::read::Decoder::new(file)?);
    let damaged = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut line = Vec::new();
    let mut next_line = |line: &mut Vec<u8>| -> io::Result<bool> {
        line.clear();
        let read = (&mut lines).take(MAX_LINE_BYTES).read_until(b'\n', line)?;
        Ok(read > 0)
    };
    if !next_line(&mut line)? {
        return Err(damaged("empty"));
    }
    let header: Header = serde_json::from_slice(&line)?;
    if header.format != FORMAT_NAME || header.version != FORMAT_VERSION || header.digest != digest {
        return Err(damaged("another format, version or layer"));
    }
    if need_content && !header.with_content {
        return Ok(None);
    }
    let mut hasher = Sha256::new();
    let mut count = 0u64;
    loop {
        if !next_line(&mut line)? || !line.ends_with(b"\n") {
            return Err(damaged("cut short"));
        }
        if let Ok(entry) = serde_json::from_slice::<Entry>(&line) {
            hasher.update(&line);
            count += 1;
            on_entry(entry);
            continue;
        }
        let trailer: Trailer = serde_json::from_slice(&line)?;
        let checksum = format!("sha256:{:x}", hasher.finalize());
        if trailer.entries != count || trailer.checksum != checksum || next_line(&mut line)? {
            return Err(damaged("checksum or count mismatch"));
        }
        return Ok(Some(count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntryKind;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn entry(path: &str) -> Entry {
        Entry {
            mtime: 1,
            ..Entry::new(path, EntryKind::File, 3)
        }
    }

    fn replayed(cache: &ListingCache, digest: &str) -> Option<Vec<Entry>> {
        let mut entries = Vec::new();
        cache
            .replay(digest, false, &mut |e| entries.push(e))
            .map(|count| {
                assert_eq!(count as usize, entries.len());
                entries
            })
    }

    #[test]
    fn listings_without_content_facts_are_not_replayed_when_they_are_needed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ListingCache::open(dir.path().join("c"), DEFAULT_MAX_BYTES).expect("open");
        let mut writer = cache.writer(DIGEST, false).expect("writer");
        writer.add(&entry("a")).expect("add");
        writer.commit().expect("commit");
        assert_eq!(cache.replay(DIGEST, true, &mut |_| {}), None);
        assert_eq!(replayed(&cache, DIGEST), Some(vec![entry("a")]), "kept");
        let mut writer = cache.writer(DIGEST, true).expect("writer");
        writer.add(&entry("b")).expect("add");
        writer.commit().expect("commit");
        assert_eq!(cache.replay(DIGEST, true, &mut |_| {}), Some(1));
    }

    #[test]
    fn committed_listings_replay_and_uncommitted_ones_do_not_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ListingCache::open(dir.path().join("c"), DEFAULT_MAX_BYTES).expect("open");
        let mut writer = cache.writer(DIGEST, true).expect("writer");
        writer.add(&entry("a")).expect("add");
        drop(writer);
        assert_eq!(replayed(&cache, DIGEST), None, "an uncommitted listing");
        let mut writer = cache.writer(DIGEST, true).expect("writer");
        writer.add(&entry("a")).expect("add");
        writer.add(&entry("b/c")).expect("add");
        writer.commit().expect("commit");
        assert_eq!(
            replayed(&cache, DIGEST),
            Some(vec![entry("a"), entry("b/c")])
        );
        assert!(cache.writer("sha256:../../x", false).is_err());
    }

    #[test]
    fn damaged_entries_are_deleted_and_never_shown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ListingCache::open(dir.path().to_owned(), DEFAULT_MAX_BYTES).expect("open");
        let mut writer = cache.writer(DIGEST, true).expect("writer");
        for i in 0..100 {
            writer.add(&entry(&format!("file-{i}"))).expect("add");
        }
        writer.commit().expect("commit");
        let path = cache.path_of(DIGEST).expect("path");
        let whole = fs::read(&path).expect("read");

        // Cut short: a partial entry.
        fs::write(&path, &whole[..whole.len() / 2]).expect("cut");
        let mut shown = 0;
        assert_eq!(cache.replay(DIGEST, false, &mut |_| shown += 1), None);
        assert_eq!(shown, 0, "nothing of a damaged entry is shown");
        assert!(!path.exists(), "the damaged entry is deleted");

        // Valid zstd, but entries changed behind the checksum.
        let text = zstd::decode_all(whole.as_slice()).expect("decode");
        let forged = String::from_utf8(text)
            .expect("utf-8")
            .replace("file-7", "file-8");
        fs::write(
            &path,
            zstd::encode_all(forged.as_bytes(), 3).expect("encode"),
        )
        .expect("write");
        assert_eq!(replayed(&cache, DIGEST), None);
        assert!(!path.exists());
    }

    #[test]
    fn the_least_recently_used_entries_are_evicted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let digests: Vec<String> = (0..4).map(|i| format!("sha256:{i:064x}")).collect();
        let size_of_one = {
            let cache = ListingCache::open(dir.path().join("probe"), u64::MAX).expect("open");
            let mut writer = cache.writer(&digests[0], true).expect("writer");
            for i in 0..50 {
                writer.add(&entry(&format!("p{i}"))).expect("add");
            }
            writer.commit().expect("commit");
            fs::metadata(cache.path_of(&digests[0]).expect("path"))
                .expect("metadata")
                .len()
        };
        let cache = ListingCache::open(dir.path().join("c"), size_of_one * 2 + size_of_one / 2)
            .expect("open");
        let store = |digest: &str| {
            let mut writer = cache.writer(digest, true).expect("writer");
            for i in 0..50 {
                writer.add(&entry(&format!("p{i}"))).expect("add");
            }
            writer.commit().expect("commit");
        };
        let age = |digest: &str, seconds: u64| {
            File::options()
                .write(true)
                .open(cache.path_of(digest).expect("path"))
                .expect("open")
                .set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
                .expect("set mtime");
        };
        store(&digests[0]);
        age(&digests[0], 1000);
        store(&digests[1]);
        age(&digests[1], 2000);
        // Using the older one makes it the most recent.
        assert!(replayed(&cache, &digests[0]).is_some());
        store(&digests[2]);
        assert!(
            replayed(&cache, &digests[1]).is_none(),
            "least recently used: evicted"
        );
        assert!(replayed(&cache, &digests[0]).is_some());
        assert!(replayed(&cache, &digests[2]).is_some());
    }
}
