//! Looking after the index: what it holds (images, layers, paths, bytes on disk), forgetting
//! one image, clearing it all.
//!
//! What it holds is read from the image records and the layer files' headers (the digest and
//! row count at their start), not from their rows, so the view stays cheap on a big index.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read as _};
use std::path::Path;

use super::store::MAGIC;
use super::{Notice, SearchIndex};
use crate::search::ImageRecord;

/// One indexed image and how many paths its layers hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedImage {
    /// The image's record.
    pub record: ImageRecord,
    /// Rows over its layers (each layer counted once per image; 0 for a layer whose file is
    /// missing).
    pub paths: u64,
}

/// What the index holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexSummary {
    /// The indexed images, sorted by reference then platform.
    pub images: Vec<IndexedImage>,
    /// Layer files (each layer once, however many images share it).
    pub layers: usize,
    /// Rows over all layer files.
    pub paths: u64,
    /// Bytes of the index's files on disk (layer files, image records, set-aside files).
    pub bytes_on_disk: u64,
}

/// The digest and row count written at the start of a layer file; `None` when the header is
/// not one (a damaged file is set aside by the next search that reads it).
fn layer_header(path: &Path) -> Option<(String, u64)> {
    let mut file = fs::File::open(path).ok()?;
    let mut head = vec![0; MAGIC.len() + 2];
    file.read_exact(&mut head).ok()?;
    if !head.starts_with(MAGIC) {
        return None;
    }
    let len = usize::from(u16::from_le_bytes([
        head[MAGIC.len()],
        head[MAGIC.len() + 1],
    ]));
    let mut rest = vec![0; len + 4];
    file.read_exact(&mut rest).ok()?;
    let digest = String::from_utf8(rest[..len].to_vec()).ok()?;
    let mut rows = [0; 4];
    rows.copy_from_slice(&rest[len..]);
    Some((digest, u64::from(u32::from_le_bytes(rows))))
}

/// Bytes of the files directly in `dir` (0 when it cannot be read).
fn bytes_in(dir: &Path) -> u64 {
    fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.metadata().ok())
            .filter(fs::Metadata::is_file)
            .map(|meta| meta.len())
            .sum()
    })
}

impl SearchIndex {
    /// What the index holds: its images (damaged records are set aside, with a notice), its
    /// layers, their rows and the bytes on disk.
    pub fn summary(&self, notices: &mut Vec<Notice>) -> io::Result<IndexSummary> {
        let records = self.images(notices)?;
        let mut rows: BTreeMap<String, u64> = BTreeMap::new();
        let files = self.store.layer_files()?;
        for file in &files {
            if let Some((digest, count)) = layer_header(file) {
                rows.insert(digest, count);
            }
        }
        let images = records
            .into_iter()
            .map(|record| {
                let layers: BTreeSet<&String> = record.layers.iter().collect();
                let paths = layers.iter().filter_map(|d| rows.get(*d)).sum();
                IndexedImage { record, paths }
            })
            .collect();
        Ok(IndexSummary {
            images,
            layers: files.len(),
            paths: rows.values().sum(),
            bytes_on_disk: bytes_in(&self.dir.join("layers")) + bytes_in(&self.dir.join("images")),
        })
    }

    /// Forgets the image indexed as `reference` (on `platform`): its record goes, and the
    /// layer files no other indexed image uses. Returns whether it was indexed and how many
    /// layer files went. The listing cache keeps its listings.
    pub fn forget_image(
        &self,
        reference: &str,
        platform: Option<&str>,
        notices: &mut Vec<Notice>,
    ) -> io::Result<(bool, usize)> {
        let path = self.store.image_path(reference, platform);
        let forgotten = self
            .images(notices)?
            .into_iter()
            .find(|r| r.reference == reference && r.platform.as_deref() == platform);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok((false, 0)),
            Err(error) => return Err(error),
        }
        let Some(forgotten) = forgotten else {
            return Ok((true, 0));
        };
        let still_used: BTreeSet<String> = self
            .images(notices)?
            .into_iter()
            .flat_map(|record| record.layers)
            .collect();
        let mut removed = 0;
        let unused: BTreeSet<&String> = forgotten
            .layers
            .iter()
            .filter(|d| !still_used.contains(*d))
            .collect();
        for digest in unused {
            if let Some(file) = self.store.layer_path(digest)
                && fs::remove_file(file).is_ok()
            {
                removed += 1;
            }
        }
        Ok((true, removed))
    }

    /// Empties the index: every image record and layer file, and the files set aside as
    /// damaged. The listing cache keeps its listings.
    pub fn clear(&self) -> io::Result<()> {
        for sub in ["layers", "images"] {
            let dir = self.dir.join(sub);
            for entry in fs::read_dir(&dir)?.filter_map(Result::ok) {
                let path = entry.path();
                if path.is_file() {
                    fs::remove_file(&path)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::cache::ListingCache;
    use crate::model::{Entry, EntryKind};

    const A: &str = "sha256:aaaa";
    const B: &str = "sha256:bbbb";
    const C: &str = "sha256:cccc";

    fn record(reference: &str, layers: &[&str]) -> ImageRecord {
        ImageRecord {
            reference: reference.to_owned(),
            manifest_digest: format!("sha256:{reference}"),
            platform: None,
            source_kind: "file".to_owned(),
            seen: 1,
            layers: layers.iter().map(|l| (*l).to_owned()).collect(),
            not_final: Vec::new(),
        }
    }

    #[test]
    fn summary_forget_and_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ListingCache::open(dir.path().join("cache"), 1 << 20).expect("cache");
        let index = SearchIndex::open(dir.path().join("search"), cache).expect("index");
        let file = |p: &str| Entry::new(p, EntryKind::File, 1);
        index.add_layer(A, &[file("a1"), file("a2")]).expect("add");
        index.add_layer(B, &[file("b1")]).expect("add");
        index
            .add_layer(C, &[file("c1"), file("c2"), file("c3")])
            .expect("add");
        let mut notices = Vec::new();
        index
            .record_image(record("one", &[A, B]), &mut notices)
            .expect("record");
        index
            .record_image(record("two", &[A, C]), &mut notices)
            .expect("record");

        let summary = index.summary(&mut notices).expect("summary");
        assert_eq!((summary.layers, summary.paths), (3, 6));
        assert!(summary.bytes_on_disk > 0);
        let paths: Vec<(String, u64)> = summary
            .images
            .iter()
            .map(|i| (i.record.reference.clone(), i.paths))
            .collect();
        assert_eq!(paths, [("one".to_owned(), 3), ("two".to_owned(), 5)]);

        // Forgetting "one" drops its own layer B, not the shared A.
        assert_eq!(
            index
                .forget_image("one", None, &mut notices)
                .expect("forget"),
            (true, 1)
        );
        assert_eq!(
            index
                .forget_image("one", None, &mut notices)
                .expect("again"),
            (false, 0)
        );
        let summary = index.summary(&mut notices).expect("summary");
        assert_eq!((summary.images.len(), summary.layers), (1, 2));

        index.clear().expect("clear");
        let summary = index.summary(&mut notices).expect("summary");
        assert_eq!(summary, IndexSummary::default());
        assert!(notices.is_empty(), "{notices:?}");
    }
}
