//! Tar archives read in place (`docker save`, `oci-archive`, the built-in demo).
//!
//! Opening an archive indexes its members once, reading headers only: each member's data
//! offset and size. A member is then a bounded reader over a seek into the file, so nothing is
//! unpacked and a layer costs only its own bytes. A gzip- or zstd-compressed archive has no
//! random access: it is indexed in one sequential pass that keeps the small members (manifests,
//! configs) in memory, and each large member is read by decompressing the archive again up to
//! it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use crate::layer::tar::{BLOCK_SIZE, TarWalker};
use crate::oci::compression::Compression;
use crate::source::BlobReader;

/// Members up to this size are kept in memory when a compressed archive is indexed.
const SMALL_MEMBER_BYTES: u64 = 1024 * 1024;
/// The most bytes of small members kept in memory for one compressed archive.
const SMALL_MEMBERS_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// Archives with more members than this are not images; indexing stops there.
const MAX_MEMBERS: usize = 1_000_000;
/// Every tar writer ends an archive with two zero blocks.
const END_MARKER_BYTES: u64 = 1024;
/// How many links are followed to reach a member's data.
const MAX_LINK_HOPS: usize = 16;

/// Where an archive's bytes live.
#[derive(Debug, Clone)]
pub enum ArchiveBytes {
    /// A file on disk.
    File(PathBuf),
    /// Bytes built into the binary.
    Static(&'static [u8]),
}

#[derive(Debug, Clone)]
enum Member {
    /// A regular file: where its data starts (in the uncompressed tar stream) and its size.
    Data { offset: u64, size: u64 },
    /// A symlink or hardlink, with its target as an archive path.
    Link(String),
}

/// What indexing found.
#[derive(Debug, Default)]
struct Index {
    members: HashMap<String, Member>,
    /// Data of small members, kept only for compressed archives.
    small: HashMap<String, Arc<[u8]>>,
    /// Why indexing stopped early, if it did.
    damage: Option<String>,
    /// Where the last member's data (padded to a block) ends.
    end: u64,
    /// Headers read, of any entry type.
    headers: usize,
}

impl Index {
    fn is_tar(&self) -> bool {
        self.headers > 0 || self.damage.is_none()
    }

    /// Records damage when a member's data runs past the end of the file (`len` bytes): a
    /// seeking reader finds no error there, the next header read just meets the end.
    fn note_truncation(&mut self, len: u64) {
        if self.damage.is_some() {
            return;
        }
        let cut = self.members.iter().find_map(|(path, member)| match member {
            Member::Data { offset, size } if offset + size > len => Some(path),
            _ => None,
        });
        if let Some(path) = cut {
            self.damage = Some(format!("the file ends at {len} bytes, inside {path}"));
        } else if !self.members.is_empty() && len < self.end + END_MARKER_BYTES {
            self.damage = Some(format!(
                "the file ends at {len} bytes without the end-of-archive marker"
            ));
        }
    }
}

#[derive(Debug)]
enum Storage {
    /// Random access into uncompressed bytes.
    Seekable { bytes: ArchiveBytes, len: u64 },
    /// A compressed file: small members in memory, the rest read by decompressing again.
    Compressed {
        path: PathBuf,
        compression: Compression,
        small: HashMap<String, Arc<[u8]>>,
    },
}

/// An indexed tar archive whose members can be opened by path without unpacking anything.
#[derive(Debug)]
pub struct TarArchive {
    storage: Storage,
    members: HashMap<String, Member>,
    damage: Option<String>,
    /// Whether any tar header could be read (or the archive is a valid empty one).
    is_tar: bool,
}

impl TarArchive {
    /// Indexes `bytes`: headers only for an uncompressed archive, one sequential pass for a
    /// gzip- or zstd-compressed file. Fails only when the bytes cannot be read at all; a
    /// damaged or truncated archive keeps the members indexed before the damage.
    pub fn open(bytes: ArchiveBytes) -> io::Result<Self> {
        match bytes {
            ArchiveBytes::Static(data) => {
                let mut index = index_seekable(io::Cursor::new(data));
                index.note_truncation(data.len() as u64);
                Ok(Self {
                    storage: Storage::Seekable {
                        len: data.len() as u64,
                        bytes: ArchiveBytes::Static(data),
                    },
                    is_tar: index.is_tar(),
                    members: index.members,
                    damage: index.damage,
                })
            }
            ArchiveBytes::File(path) => {
                let mut file = File::open(&path)?;
                let len = file.metadata()?.len();
                let mut magic = Vec::with_capacity(4);
                (&mut file).take(4).read_to_end(&mut magic)?;
                file.seek(SeekFrom::Start(0))?;
                match Compression::sniff(&magic) {
                    Compression::None => {
                        let mut index = index_seekable(BufReader::new(file));
                        index.note_truncation(len);
                        Ok(Self {
                            storage: Storage::Seekable {
                                bytes: ArchiveBytes::File(path),
                                len,
                            },
                            is_tar: index.is_tar(),
                            members: index.members,
                            damage: index.damage,
                        })
                    }
                    compression => {
                        let index = index_sequential(decompress(compression, file)?);
                        let is_tar = index.is_tar();
                        Ok(Self {
                            storage: Storage::Compressed {
                                path,
                                compression,
                                small: index.small,
                            },
                            is_tar,
                            members: index.members,
                            damage: index.damage,
                        })
                    }
                }
            }
        }
    }

    /// Whether the bytes are a tar archive at all: some header could be read, or the
    /// archive is a valid empty one.
    pub(crate) fn is_tar(&self) -> bool {
        self.is_tar
    }

    /// What went wrong while indexing, when the archive is damaged or truncated.
    pub fn damage(&self) -> Option<&str> {
        self.damage.as_deref()
    }

    /// The size of the regular file at `path` (following links), if there is one.
    pub fn member_size(&self, path: &str) -> Option<u64> {
        self.resolve(path).map(|(_, _, size)| size)
    }

    /// Opens the member at `path` (following links) as a reader of its data and its size.
    /// `Ok(None)` when there is no such member. The reader ends early if the archive was cut
    /// short inside the member; the caller's size check notices.
    pub fn open_member(&self, path: &str) -> io::Result<Option<(BlobReader, u64)>> {
        let Some((resolved, offset, size)) = self.resolve(path) else {
            return Ok(None);
        };
        let reader: BlobReader = match &self.storage {
            Storage::Seekable { bytes, len } => {
                let available = size.min(len.saturating_sub(offset));
                match bytes {
                    ArchiveBytes::Static(data) => {
                        let start = usize::try_from(offset)
                            .unwrap_or(data.len())
                            .min(data.len());
                        let end = usize::try_from(offset + available)
                            .unwrap_or(data.len())
                            .min(data.len());
                        Box::new(&data[start..end])
                    }
                    ArchiveBytes::File(path) => {
                        let mut file = File::open(path)?;
                        file.seek(SeekFrom::Start(offset))?;
                        Box::new(file.take(available))
                    }
                }
            }
            Storage::Compressed {
                path,
                compression,
                small,
            } => match small.get(resolved) {
                Some(data) => Box::new(io::Cursor::new(Arc::clone(data))),
                None => Box::new(SkipThenTake {
                    inner: decompress(*compression, File::open(path)?)?,
                    skip: offset,
                    remaining: size,
                }),
            },
        };
        Ok(Some((reader, size)))
    }

    /// Opens the bytes `range` of the member at `path` (following links); `Ok(None)` when
    /// there is no such member. A compressed archive has no random access: that fails with
    /// [`io::ErrorKind::Unsupported`].
    pub(crate) fn open_member_range(
        &self,
        path: &str,
        range: std::ops::Range<u64>,
    ) -> io::Result<Option<BlobReader>> {
        let Some((_, offset, size)) = self.resolve(path) else {
            return Ok(None);
        };
        let Storage::Seekable { bytes, len } = &self.storage else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a compressed archive has no random access",
            ));
        };
        let start = offset + range.start.min(size);
        let end = (offset + range.end.min(size)).min(*len).max(start);
        Ok(Some(match bytes {
            ArchiveBytes::Static(data) => {
                let clamp = |at: u64| usize::try_from(at).unwrap_or(data.len()).min(data.len());
                Box::new(&data[clamp(start)..clamp(end)])
            }
            ArchiveBytes::File(path) => {
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(start))?;
                Box::new(file.take(end - start))
            }
        }))
    }

    /// The path, data offset and size of the regular file at `path`, following links.
    fn resolve<'a>(&'a self, path: &'a str) -> Option<(&'a str, u64, u64)> {
        let mut current = path;
        for _ in 0..MAX_LINK_HOPS {
            match self.members.get(current)? {
                Member::Data { offset, size } => return Some((current, *offset, *size)),
                Member::Link(target) => current = target,
            }
        }
        None
    }
}

/// A decompressed archive read from its start: skips to a member on the first read (on the
/// reading thread, where a long skip can be abandoned), then yields the member's data.
struct SkipThenTake {
    inner: Box<dyn Read + Send>,
    skip: u64,
    remaining: u64,
}

impl Read for SkipThenTake {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.skip > 0 {
            let skipped = io::copy(&mut (&mut self.inner).take(self.skip), &mut io::sink())?;
            if skipped < self.skip {
                self.remaining = 0; // the archive ends before the member: it reads short
            }
            self.skip = 0;
        }
        let wanted = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..wanted])?;
        self.remaining -= read as u64;
        Ok(read)
    }
}

fn decompress(compression: Compression, file: File) -> io::Result<Box<dyn Read + Send>> {
    let buffered = BufReader::new(file);
    Ok(match compression {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Compression::None => Box::new(buffered),
    })
}

/// Indexes an uncompressed archive by seeking over member data: only headers are read.
fn index_seekable<R: Read + Seek>(reader: R) -> Index {
    let mut index = Index::default();
    index.damage = index_entries(
        TarWalker::new_seekable(reader),
        &mut index,
        |_, _, _| Ok(()),
    )
    .err();
    index
}

/// Indexes a stream in one pass, keeping small members' data in memory.
fn index_sequential(reader: impl Read) -> Index {
    let mut index = Index::default();
    let mut kept: u64 = 0;
    let mut small = HashMap::new();
    index.damage = index_entries(TarWalker::new(reader), &mut index, |path, data, size| {
        if size <= SMALL_MEMBER_BYTES && kept + size <= SMALL_MEMBERS_TOTAL_BYTES {
            // Bounded by SMALL_MEMBER_BYTES, whatever the header claims.
            let mut bytes = Vec::with_capacity(size as usize);
            data.take(size).read_to_end(&mut bytes)?;
            kept += size;
            small.insert(path.to_owned(), Arc::from(bytes));
        }
        Ok(())
    })
    .err();
    index.small = small;
    index
}

/// Records each member's path and data position; `keep` may read a regular file's data
/// (given its size).
///
/// The headers are read by [`TarWalker`], which buffers no metadata (PAX records, GNU long
/// names) beyond its bound and checks every size, so a header claiming a huge size costs
/// nothing but the bytes that are really there.
fn index_entries<R: Read>(
    mut walker: TarWalker<R>,
    index: &mut Index,
    mut keep: impl FnMut(&str, &mut dyn Read, u64) -> io::Result<()>,
) -> Result<(), String> {
    loop {
        let members = &mut index.members;
        if members.len() >= MAX_MEMBERS {
            return Err(format!("it has more than {MAX_MEMBERS} members"));
        }
        let breaks_off = |members: &HashMap<String, Member>, error: &dyn std::fmt::Display| {
            format!(
                "it breaks off after {} members: {}",
                members.len(),
                printable(&error.to_string())
            )
        };
        let entry = match walker.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => return Ok(()),
            Err(error) => return Err(breaks_off(members, &error)),
        };
        index.headers += 1;
        // A member's data follows its own header (sparse members, whose data does not, are
        // never image files and are not indexed).
        let data_offset = entry.offset + BLOCK_SIZE;
        let is_file = matches!(
            entry.entry_type,
            tar::EntryType::Regular | tar::EntryType::Continuous
        ) && !entry.sparse;
        let data_end = if is_file {
            data_offset + entry.stored_size.div_ceil(BLOCK_SIZE) * BLOCK_SIZE
        } else {
            data_offset
        };
        index.end = index.end.max(data_end);
        let path = archive_path(&String::from_utf8_lossy(&entry.path));
        let link = entry
            .link_name
            .as_deref()
            .filter(|target| !target.is_empty())
            .map(|target| String::from_utf8_lossy(target).into_owned());
        let member = match (entry.entry_type, link) {
            _ if is_file => {
                let size = entry.stored_size;
                keep(&path, &mut walker.data(), size)
                    .map_err(|error| breaks_off(members, &error))?;
                Member::Data {
                    offset: data_offset,
                    size,
                }
            }
            (_, _) if entry.sparse => continue,
            (tar::EntryType::Symlink, Some(target)) => {
                let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
                Member::Link(join_archive_path(parent, &target))
            }
            (tar::EntryType::Link, Some(target)) => Member::Link(archive_path(&target)),
            _ => continue,
        };
        members.insert(path, member);
    }
}

/// The start of an error message from a damaged header, without the header's raw bytes.
fn printable(message: &str) -> String {
    let clean: String = message
        .chars()
        .take_while(|c| c.is_ascii_graphic() || *c == ' ')
        .take(160)
        .collect();
    clean.trim_end_matches([' ', ':']).to_owned()
}

/// A member path as manifests write it: no leading `./` or `/`, no trailing `/`.
pub(crate) fn archive_path(path: &str) -> String {
    join_archive_path("", path)
}

/// Resolves `target` against the directory `base`, collapsing `.` and `..` (never above the
/// archive root); an absolute target starts from the root.
fn join_archive_path(base: &str, target: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let start = if target.starts_with('/') { "" } else { base };
    for part in start.split('/').chain(target.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(items: &[(&str, &[u8])], links: &[(&str, &str, tar::EntryType)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in items {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, path, *data)
                .expect("append");
        }
        for (path, target, kind) in links {
            let mut header = tar::Header::new_gnu();
            header.set_size(0);
            header.set_entry_type(*kind);
            builder
                .append_link(&mut header, path, target)
                .expect("append link");
        }
        builder.into_inner().expect("finish")
    }

    fn read_member(archive: &TarArchive, path: &str) -> Option<Vec<u8>> {
        let (mut reader, size) = archive.open_member(path).expect("open")?;
        let mut data = Vec::new();
        reader.read_to_end(&mut data).expect("read");
        assert_eq!(data.len() as u64, size);
        Some(data)
    }

    #[test]
    fn members_are_found_by_path_and_through_links() {
        let bytes = tar_of(
            &[("./manifest.json", b"[]"), ("abc.tar", b"layer bytes")],
            &[
                ("id/layer.tar", "../abc.tar", tar::EntryType::Symlink),
                ("copy.tar", "abc.tar", tar::EntryType::Link),
            ],
        );
        let archive = TarArchive::open(ArchiveBytes::Static(Vec::leak(bytes))).expect("index");
        assert!(archive.damage().is_none());
        assert_eq!(
            read_member(&archive, "manifest.json").as_deref(),
            Some(&b"[]"[..])
        );
        for path in ["abc.tar", "id/layer.tar", "copy.tar"] {
            assert_eq!(
                read_member(&archive, path).as_deref(),
                Some(&b"layer bytes"[..]),
                "{path}"
            );
        }
        assert!(read_member(&archive, "missing").is_none());
    }

    #[test]
    fn compressed_and_truncated_archives_are_indexed() {
        let bytes = tar_of(&[("a", b"first"), ("big", &[7u8; 5000])], &[]);
        let dir = tempfile::tempdir().expect("tempdir");
        let gz = dir.path().join("a.tar.gz");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, &bytes).expect("gzip");
        std::fs::write(&gz, encoder.finish().expect("gzip")).expect("write");
        let archive = TarArchive::open(ArchiveBytes::File(gz)).expect("index");
        assert_eq!(read_member(&archive, "a").as_deref(), Some(&b"first"[..]));
        assert_eq!(read_member(&archive, "big").map(|d| d.len()), Some(5000));

        // Cut inside the data of `big`: it is indexed, but reads short.
        let cut = dir.path().join("cut.tar");
        std::fs::write(&cut, &bytes[..2048]).expect("write");
        let archive = TarArchive::open(ArchiveBytes::File(cut)).expect("index");
        let (mut reader, size) = archive.open_member("big").expect("open").expect("indexed");
        let mut data = Vec::new();
        reader.read_to_end(&mut data).expect("read");
        assert_eq!(size, 5000);
        assert!(data.len() < 5000);
    }

    #[test]
    fn paths_never_climb_above_the_root() {
        assert_eq!(archive_path("./blobs/sha256/ab"), "blobs/sha256/ab");
        assert_eq!(join_archive_path("id", "../abc.tar"), "abc.tar");
        assert_eq!(join_archive_path("a", "../../../etc/passwd"), "etc/passwd");
        assert_eq!(join_archive_path("a/b", "/c"), "c");
    }

    #[test]
    fn a_file_that_is_not_a_tar_has_no_members() {
        let archive =
            TarArchive::open(ArchiveBytes::Static(b"\x89PNG not a tar at all")).expect("opens");
        assert!(!archive.is_tar());
    }
}
