//! The files of the search index: one file of rows per layer (named by its digest, so a layer
//! shared by many images is stored once) and one small JSON record per image.
//!
//! A layer file: the magic `LSSEARCH1\n`, the digest's length (u16 LE) and the digest, the
//! row count (u32 LE) and the length of the paths (u64 LE), the paths each ended by a NUL
//! (a tar path holds none, and no pattern can then span two paths), one 13-byte record per
//! row (kind u8, mode u32 LE, size u64 LE), and the XXH3-64 of everything before it (u64 LE).
//! Every file is written to a temporary file in the same directory and renamed into place, so
//! a crash mid-write leaves the previous file (or none), never half of one.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::time::{SystemTime, UNIX_EPOCH};

use crate::model::{Entry, EntryKind};
use crate::oci::ImageInfo;
use crate::source::open::Location;

pub(crate) const MAGIC: &[u8] = b"LSSEARCH1\n";
const RECORD: usize = 13;
const LAYER_SUFFIX: &str = ".paths";
const IMAGE_SUFFIX: &str = ".json";
/// Suffix of a file set aside because it was damaged (the last one of each name is kept).
pub(crate) const DAMAGED_SUFFIX: &str = ".damaged";

/// Why a stored file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// It could not be read or written.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// It is there but damaged (cut short, bytes changed, another layer's).
    #[error("damaged: {0}")]
    Damaged(String),
}

/// Every kind, by its byte in a layer file.
const KINDS: [EntryKind; 10] = [
    EntryKind::File,
    EntryKind::Dir,
    EntryKind::Symlink,
    EntryKind::Hardlink,
    EntryKind::CharDevice,
    EntryKind::BlockDevice,
    EntryKind::Fifo,
    EntryKind::Whiteout,
    EntryKind::OpaqueMarker,
    EntryKind::Other,
];

fn kind_byte(kind: EntryKind) -> u8 {
    KINDS
        .iter()
        .position(|k| *k == kind)
        .and_then(|at| u8::try_from(at).ok())
        .unwrap_or(9)
}

/// One layer's rows, read and checked.
#[derive(Debug)]
pub struct LayerRows {
    bytes: Vec<u8>,
    rows: usize,
    paths: std::ops::Range<usize>,
    records: usize,
}

/// One row of a layer: its position in the layer's tar order and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    /// Position in the layer's entries (tar order).
    pub position: usize,
    /// The normalised path.
    pub path: &'a str,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// File size in bytes.
    pub size: u64,
}

impl LayerRows {
    /// How many rows the layer has.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the layer has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The NUL-terminated paths, in row order.
    pub(crate) fn path_bytes(&self) -> &[u8] {
        &self.bytes[self.paths.clone()]
    }

    /// The row at `position` whose path is `path`.
    pub(crate) fn row<'a>(&'a self, position: usize, path: &'a [u8]) -> Row<'a> {
        let at = self.records + RECORD * position;
        let record = self.bytes.get(at..at + RECORD).unwrap_or(&[0; RECORD]);
        let mut mode = [0; 4];
        mode.copy_from_slice(&record[1..5]);
        let mut size = [0; 8];
        size.copy_from_slice(&record[5..13]);
        Row {
            position,
            // Written from `&str`, checked when read: never lossy in practice.
            path: std::str::from_utf8(path).unwrap_or_default(),
            kind: KINDS
                .get(usize::from(record[0]))
                .copied()
                .unwrap_or(EntryKind::Other),
            mode: u32::from_le_bytes(mode),
            size: u64::from_le_bytes(size),
        }
    }

    /// Every row, in tar order.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.path_bytes()
            .split(|b| *b == 0)
            .take(self.rows)
            .enumerate()
            .map(|(position, path)| self.row(position, path))
    }

    /// The rows as entries (path, kind, size, mode), for merging layers.
    pub fn entries(&self) -> Vec<Entry> {
        self.rows()
            .map(|row| Entry {
                mode: row.mode,
                ..Entry::new(row.path, row.kind, row.size)
            })
            .collect()
    }
}

/// What is recorded of one indexed image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The reference as typed (`localhost:5000/team/app:1`, `oci:dir:tag`).
    pub reference: String,
    /// The digest of the platform manifest.
    pub manifest_digest: String,
    /// `os/arch[/variant]`, when the image came from a multi-platform index.
    pub platform: Option<String>,
    /// Where it was read: `registry`, `file` (an image file or layout), `engine` or `demo`.
    pub source_kind: String,
    /// When it was indexed, in seconds since the Unix epoch.
    pub seen: u64,
    /// Its layers' digests, base first.
    pub layers: Vec<String>,
    /// Per layer, the positions of its rows that are not in the image's final filesystem
    /// (removed or replaced by a later layer, whiteouts themselves).
    pub not_final: Vec<Vec<u32>>,
}

impl ImageRecord {
    /// The record of `info`, opened as `reference` from `location`, seen now (which of its
    /// rows are final is worked out when it is recorded).
    pub fn of(reference: &str, location: &Location, info: &ImageInfo) -> Self {
        let source_kind = match location {
            Location::Registry(_) => "registry",
            Location::Local { .. } => "file",
            Location::Engine { .. } => "engine",
            Location::Demo => "demo",
        };
        Self {
            reference: reference.to_owned(),
            manifest_digest: info.manifest_digest.clone(),
            platform: info.platform.as_ref().map(ToString::to_string),
            source_kind: source_kind.to_owned(),
            seen: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            layers: info.layers.iter().map(|l| l.digest().to_owned()).collect(),
            not_final: Vec::new(),
        }
    }
}

/// A file that could not be read as what it should be, and why.
pub(crate) type Damaged = (PathBuf, String);

/// The directories of the index.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    layers: PathBuf,
    images: PathBuf,
}

impl Store {
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        let store = Self {
            layers: dir.join("layers"),
            images: dir.join("images"),
        };
        fs::create_dir_all(&store.layers)?;
        fs::create_dir_all(&store.images)?;
        for dir in [&store.layers, &store.images] {
            remove_stale_temporaries(dir);
        }
        Ok(store)
    }

    /// The file of the layer `digest`; `None` for a digest that is not well formed.
    pub(crate) fn layer_path(&self, digest: &str) -> Option<PathBuf> {
        let (algorithm, hex) = digest.split_once(':')?;
        let well_formed = matches!(algorithm, "sha256" | "sha512")
            && !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed.then(|| self.layers.join(format!("{algorithm}-{hex}{LAYER_SUFFIX}")))
    }

    /// The layer files there are.
    pub(crate) fn layer_files(&self) -> io::Result<Vec<PathBuf>> {
        files_ending(&self.layers, LAYER_SUFFIX)
    }

    /// Writes the rows of `digest` (atomically).
    pub(crate) fn write_layer(&self, digest: &str, entries: &[Entry]) -> io::Result<()> {
        let path = self
            .layer_path(digest)
            .ok_or_else(|| io::Error::other(format!("{digest:?} is not a digest")))?;
        let mut paths = Vec::new();
        let mut records = Vec::with_capacity(entries.len() * RECORD);
        for entry in entries {
            // A NUL cannot be in a tar path; should one ever come, it must not split a row.
            paths.extend(entry.path.bytes().map(|b| if b == 0 { b'?' } else { b }));
            paths.push(0);
            records.push(kind_byte(entry.kind));
            records.extend_from_slice(&entry.mode.to_le_bytes());
            records.extend_from_slice(&entry.size.to_le_bytes());
        }
        let rows = u32::try_from(entries.len()).map_err(io::Error::other)?;
        let digest_len = u16::try_from(digest.len()).map_err(io::Error::other)?;
        let mut bytes = Vec::with_capacity(MAGIC.len() + 16 + paths.len() + records.len() + 8);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&digest_len.to_le_bytes());
        bytes.extend_from_slice(digest.as_bytes());
        bytes.extend_from_slice(&rows.to_le_bytes());
        bytes.extend_from_slice(&(paths.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&paths);
        bytes.extend_from_slice(&records);
        let checksum = xxhash_rust::xxh3::xxh3_64(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        write_atomically(&self.layers, &path, &bytes)
    }

    /// Reads and checks the rows of `digest`: `Ok(None)` when the index holds none.
    pub(crate) fn read_layer(&self, digest: &str) -> Result<Option<LayerRows>, StoreError> {
        let Some(path) = self.layer_path(digest) else {
            return Ok(None);
        };
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        parse_layer(bytes, digest).map(Some)
    }

    /// Moves a damaged file aside (`NAME.damaged`), returning where it went.
    pub(crate) fn set_aside(path: &Path) -> io::Result<PathBuf> {
        let mut aside = path.as_os_str().to_owned();
        aside.push(DAMAGED_SUFFIX);
        let aside = PathBuf::from(aside);
        fs::rename(path, &aside)?;
        Ok(aside)
    }

    /// The record file of an image (one per reference and platform: indexing a tag again
    /// replaces what it pointed at).
    pub(crate) fn image_path(&self, reference: &str, platform: Option<&str>) -> PathBuf {
        let key = format!("{reference}\0{}", platform.unwrap_or_default());
        let hash = xxhash_rust::xxh3::xxh3_128(key.as_bytes());
        self.images.join(format!("{hash:032x}{IMAGE_SUFFIX}"))
    }

    /// Writes an image's record (atomically).
    pub(crate) fn write_image(&self, record: &ImageRecord) -> io::Result<()> {
        let path = self.image_path(&record.reference, record.platform.as_deref());
        let bytes = serde_json::to_vec(record)?;
        write_atomically(&self.images, &path, &bytes)
    }

    /// The record of `reference` on `platform`, if there is a readable one.
    pub(crate) fn read_image(
        &self,
        reference: &str,
        platform: Option<&str>,
    ) -> Option<ImageRecord> {
        let bytes = fs::read(self.image_path(reference, platform)).ok()?;
        serde_json::from_slice::<ImageRecord>(&bytes)
            .ok()
            .filter(|record| record.not_final.len() == record.layers.len())
    }

    /// Every image record, and the files that could not be read as one.
    pub(crate) fn read_images(&self) -> io::Result<(Vec<ImageRecord>, Vec<Damaged>)> {
        let mut images = Vec::new();
        let mut damaged = Vec::new();
        for path in files_ending(&self.images, IMAGE_SUFFIX)? {
            let parsed = fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    serde_json::from_slice::<ImageRecord>(&bytes).map_err(|e| e.to_string())
                })
                .and_then(|record| {
                    if record.not_final.len() == record.layers.len() {
                        Ok(record)
                    } else {
                        Err("its layers and their final-filesystem marks disagree".to_owned())
                    }
                });
            match parsed {
                Ok(record) => images.push(record),
                Err(why) => damaged.push((path, why)),
            }
        }
        images.sort_by(|a, b| (&a.reference, &a.platform).cmp(&(&b.reference, &b.platform)));
        Ok((images, damaged))
    }
}

fn files_ending(dir: &Path, suffix: &str) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    Ok(files)
}

/// How old a temporary file must be to count as left by a killed run (a live writer renames
/// its file within seconds).
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the temporary files (`.tmp…`) a killed run left in `dir`, if they are old enough
/// that no running writer still owns them.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with(".tmp")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > STALE_TEMPORARY));
        if stale {
            fs::remove_file(entry.path()).ok();
        }
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_data()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn parse_layer(bytes: Vec<u8>, digest: &str) -> Result<LayerRows, StoreError> {
    let damaged = |why: &str| StoreError::Damaged(why.to_owned());
    let body_len = bytes
        .len()
        .checked_sub(8)
        .ok_or_else(|| damaged("cut short"))?;
    let (body, sum) = bytes.split_at(body_len);
    let mut stored = [0; 8];
    stored.copy_from_slice(sum);
    if xxhash_rust::xxh3::xxh3_64(body) != u64::from_le_bytes(stored) {
        return Err(damaged("checksum mismatch"));
    }
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| damaged("not a layer file of this version"))?;
    let take = |rest: &[u8], n: usize| -> Result<(Vec<u8>, usize), StoreError> {
        rest.get(..n)
            .map(|b| (b.to_vec(), n))
            .ok_or_else(|| damaged("cut short"))
    };
    let (len, _) = take(rest, 2)?;
    let digest_len = usize::from(u16::from_le_bytes([len[0], len[1]]));
    let (stored_digest, _) = take(&rest[2..], digest_len)?;
    if stored_digest != digest.as_bytes() {
        return Err(damaged("it holds another layer"));
    }
    let at = 2 + digest_len;
    let (counts, _) = take(&rest[at..], 12)?;
    let mut rows = [0; 4];
    rows.copy_from_slice(&counts[..4]);
    let mut paths_len = [0; 8];
    paths_len.copy_from_slice(&counts[4..]);
    let rows = u32::from_le_bytes(rows) as usize;
    let paths_len =
        usize::try_from(u64::from_le_bytes(paths_len)).map_err(|_| damaged("too big"))?;
    let paths_start = MAGIC.len() + at + 12;
    let records = paths_start
        .checked_add(paths_len)
        .ok_or_else(|| damaged("too big"))?;
    if records.checked_add(rows.saturating_mul(RECORD)) != Some(body_len) {
        return Err(damaged("its sizes disagree"));
    }
    let paths = &bytes[paths_start..records];
    if memchr::memchr_iter(0, paths).count() != rows || (rows > 0 && paths.last() != Some(&0)) {
        return Err(damaged("its paths and rows disagree"));
    }
    if std::str::from_utf8(paths).is_err() {
        return Err(damaged("a path is not UTF-8"));
    }
    Ok(LayerRows {
        rows,
        paths: paths_start..records,
        records,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A killed run's temporary files go at the next open once they are old; a live one (just
    /// written) stays for its writer to rename.
    #[test]
    fn stale_temporary_files_are_removed_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let old = store.layers.join(".tmpKILLED");
        let live = store.images.join(".tmpLIVE");
        for file in [&old, &live] {
            fs::write(file, b"partial").expect("write");
        }
        let two_hours_ago = std::time::SystemTime::now() - 2 * STALE_TEMPORARY;
        fs::File::options()
            .write(true)
            .open(&old)
            .and_then(|f| f.set_modified(two_hours_ago))
            .expect("age it");
        Store::open(dir.path()).expect("open again");
        assert!(!old.exists());
        assert!(live.exists());
    }

    #[test]
    fn layer_files_round_trip_and_damage_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let entries = vec![
            Entry {
                mode: 0o755,
                ..Entry::new("usr/bin", EntryKind::Dir, 0)
            },
            Entry {
                mode: 0o644,
                ..Entry::new("usr/bin/ls", EntryKind::File, 1234)
            },
            Entry::new("etc/.wh.passwd", EntryKind::Whiteout, 0),
        ];
        store.write_layer(DIGEST, &entries).expect("write");
        let rows = store.read_layer(DIGEST).expect("read").expect("held");
        assert_eq!(rows.entries(), entries);
        assert_eq!(rows.len(), 3);

        let path = store.layer_path(DIGEST).expect("path");
        let mut bytes = fs::read(&path).expect("read");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        fs::write(&path, &bytes).expect("write");
        assert!(matches!(
            store.read_layer(DIGEST),
            Err(StoreError::Damaged(_))
        ));
        fs::write(&path, &bytes[..middle]).expect("write");
        assert!(matches!(
            store.read_layer(DIGEST),
            Err(StoreError::Damaged(_))
        ));
        let other = "sha256:1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert!(store.read_layer(other).expect("none").is_none());
    }
}
