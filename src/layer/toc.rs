//! Listing a layer from its table of contents (TOC): eStargz (gzip) and zstd:chunked layers
//! carry one at their end, so fetching the footer and the TOC with Range requests lists the
//! layer without downloading it.
//!
//! Where the TOC is comes from the layer's annotations when present
//! (`containerd.io/snapshot/stargz/toc.digest`; `io.github.containers.zstd-chunked.*` or the
//! older `io.containers.zstd-chunked.*` manifest position and checksum), otherwise from the
//! footer alone. Footers in the wild (byte layouts from the writers' own source):
//!
//! | writer | size | layout |
//! |---|---|---|
//! | eStargz | 51 | empty gzip member, FEXTRA subfield `SG` (len 22) = `%016x` TOC offset + `STARGZ` |
//! | eStargz, legacy | 47 | the same without the subfield header (XLEN 22) |
//! | zstd:chunked, stargz-snapshotter and containers/storage ≤ 1.46 | 40 | LE u64 offset, compressed length, length, type 1, magic `GnUlInUx` |
//! | zstd:chunked, containers/storage 1.47–1.49 | 56 | the 40 bytes, then 16 zero bytes |
//! | zstd:chunked, containers/storage ≥ 1.50 | 64 | offset, lengths, type, tar-split offset and lengths, magic `GNUlInUx` |
//!
//! An eStargz TOC is a gzip member holding a tar with one entry, `stargz.index.json`; a
//! zstd:chunked TOC is one zstd frame of JSON. Files split into several `chunk` entries are
//! listed once; the formats' own metadata files are not listed. A TOC that cannot be fetched or
//! trusted (Range ignored, missing, corrupt, wrong digest, offsets outside the blob, absurd
//! sizes) sends the caller back to the full stream with the reason.

use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::cancel::CancelToken;
use crate::layer::tar::{TarError, TarWalker};
use crate::model::{Entry, EntryKind, TocFormat, normalize_path};
use crate::oci::LayerInfo;
use crate::source::{ImageSource, RangeReply};

/// eStargz: digest of the uncompressed TOC JSON.
const ESTARGZ_TOC_DIGEST: &str = "containerd.io/snapshot/stargz/toc.digest";
/// zstd:chunked manifest position `offset:length:uncompressed:type`, both spellings in use.
const ZSTD_POSITION: [&str; 2] = [
    "io.github.containers.zstd-chunked.manifest-position",
    "io.containers.zstd-chunked.manifest-position",
];
/// Whether `layer`'s annotations announce a table of contents (eStargz's TOC digest, or
/// zstd:chunked's manifest position): such a layer is listed from a few small range requests.
/// (Layers without the annotations are still probed for a TOC footer when listed.)
pub fn announces_toc(layer: &LayerInfo) -> bool {
    let annotations = &layer.descriptor.annotations;
    annotations.contains_key(ESTARGZ_TOC_DIGEST)
        || ZSTD_POSITION
            .iter()
            .any(|key| annotations.contains_key(*key))
}

/// zstd:chunked: digest of the compressed manifest.
const ZSTD_CHECKSUM: [&str; 2] = [
    "io.github.containers.zstd-chunked.manifest-checksum",
    "io.containers.zstd-chunked.manifest-checksum",
];
/// The last bytes fetched to find a footer (the largest footer is 64 bytes).
const FOOTER_PROBE: u64 = 64;
/// A compressed TOC larger than this is not believed.
const MAX_TOC_BYTES: u64 = 64 * 1024 * 1024;
/// An uncompressed TOC larger than this is not believed.
const MAX_TOC_JSON_BYTES: u64 = 512 * 1024 * 1024;
/// A file larger than this in a TOC is not believed.
const MAX_FILE_BYTES: u64 = 1 << 40;
/// The TOC file inside an eStargz TOC member.
const ESTARGZ_TOC_NAME: &str = "stargz.index.json";
/// Files the layer formats put at the archive root (the eStargz TOC and prefetch landmarks):
/// part of the blob, not of the image's filesystem, so never listed.
pub const FORMAT_METADATA: [&str; 3] = [
    ESTARGZ_TOC_NAME,
    ".prefetch.landmark",
    ".no.prefetch.landmark",
];
const ZSTD_MAGIC_OLD: &[u8; 8] = b"GnUlInUx";
const ZSTD_MAGIC_NEW: &[u8; 8] = b"GNUlInUx";

/// A layer listed from its TOC.
#[derive(Debug, Clone)]
pub struct TocListing {
    /// The entries, in TOC order.
    pub entries: Vec<Entry>,
    /// The format of the TOC.
    pub format: TocFormat,
    /// Blob bytes fetched: footer and TOC.
    pub bytes_fetched: u64,
    /// Whether the TOC matched a digest given by the layer's annotations.
    pub verified: bool,
}

/// What [`list_from_toc`] found.
#[derive(Debug)]
pub enum TocResult {
    /// The layer was listed from its TOC.
    Listed(TocListing),
    /// The layer has no TOC: read the blob.
    NoToc,
    /// The layer has a TOC that could not be used: read the blob, and say why.
    Fallback(String),
}

/// Where a TOC is and how to check it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    format: TocFormat,
    /// Start of the compressed TOC in the blob.
    offset: u64,
    /// Compressed length.
    length: u64,
    /// sha256 of the compressed bytes (zstd:chunked checksum annotation).
    compressed_digest: Option<String>,
    /// sha256 of the uncompressed JSON (eStargz TOC digest annotation).
    json_digest: Option<String>,
}

/// A layer's TOC, fetched and checked.
pub struct Toc {
    entries: Vec<TocEntry>,
    location: Location,
    /// Blob bytes fetched: footer and TOC.
    fetched: u64,
    /// The layer blob's size.
    blob_size: u64,
}

impl Location {
    fn is_verified(&self) -> bool {
        self.json_digest.is_some() || self.compressed_digest.is_some()
    }
}

/// Lists `layer` from its TOC when it has one; fetches only the footer and the TOC.
pub fn list_from_toc(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    cancel: &CancelToken,
) -> TocResult {
    match Toc::fetch(source, layer, cancel) {
        Ok(Some(toc)) => TocResult::Listed(toc.listing()),
        Ok(None) => TocResult::NoToc,
        Err(reason) => TocResult::Fallback(reason),
    }
}

impl Toc {
    /// Finds, fetches and checks the TOC of `layer`: `Ok(None)` when it has none, the reason
    /// when it has one that cannot be used.
    pub fn fetch(
        source: &dyn ImageSource,
        layer: &LayerInfo,
        cancel: &CancelToken,
    ) -> Result<Option<Self>, String> {
        fetch_toc(source, layer, cancel)
    }

    /// The layer's listing.
    pub fn listing(&self) -> TocListing {
        TocListing {
            verified: self.location.is_verified(),
            format: self.location.format,
            bytes_fetched: self.fetched,
            entries: listing_entries(&self.entries),
        }
    }

    /// Blob bytes fetched for it: footer and TOC.
    pub fn bytes_fetched(&self) -> u64 {
        self.fetched
    }
}

fn fetch_toc(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    cancel: &CancelToken,
) -> Result<Option<Toc>, String> {
    let annotations = &layer.descriptor.annotations;
    let json_digest = annotations.get(ESTARGZ_TOC_DIGEST).cloned();
    let compressed_digest = ZSTD_CHECKSUM
        .iter()
        .find_map(|key| annotations.get(*key).cloned());
    let position = ZSTD_POSITION.iter().find_map(|key| annotations.get(*key));
    let announced = json_digest.is_some() || position.is_some();
    let media_type = layer.media_type();
    let compressed = media_type.contains("gzip") || media_type.contains("zstd");
    let size = layer.size();
    if !announced && (!compressed || size < 47) {
        return Ok(None);
    }
    let mut fetched = 0;
    let location = match position {
        Some(position) => match parse_position(position) {
            Some((offset, length)) => Location {
                format: TocFormat::ZstdChunked,
                offset,
                length,
                compressed_digest,
                json_digest,
            },
            None => {
                return Err(format!(
                    "the zstd:chunked manifest position {position:?} is not offset:length:size:type"
                ));
            }
        },
        None => {
            let start = size.saturating_sub(FOOTER_PROBE);
            let tail = match fetch(source, layer, start..size, cancel) {
                Ok(tail) => tail,
                Err(reason) if announced => return Err(reason),
                Err(_) => return Ok(None),
            };
            fetched += tail.len() as u64;
            match parse_footer(&tail, size) {
                Some(mut location) => {
                    location.json_digest = json_digest;
                    location.compressed_digest = compressed_digest;
                    location
                }
                None if announced => {
                    return Err(
                        "the layer announces a table of contents but has no TOC footer".into(),
                    );
                }
                None => return Ok(None),
            }
        }
    };
    match read_toc(source, layer, &location, cancel) {
        Ok((entries, toc_bytes)) => Ok(Some(Toc {
            entries,
            location,
            fetched: fetched + toc_bytes,
            blob_size: size,
        })),
        Err(reason) => Err(format!(
            "the {} table of contents could not be used: {reason}",
            location.format.name()
        )),
    }
}

/// One piece of a file in a TOC layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChunk {
    /// The blob bytes that hold it: one or more gzip members or zstd frames.
    pub range: Range<u64>,
    /// Where the piece starts in those bytes once decompressed.
    pub inner_offset: u64,
    /// Its length.
    pub size: u64,
    /// sha256 of its bytes, when the TOC gives it.
    pub digest: Option<String>,
}

/// Where a file's data is in a TOC layer.
#[derive(Debug, Clone)]
pub struct FileChunks {
    /// eStargz or zstd:chunked.
    pub format: TocFormat,
    /// The pieces, in order.
    pub chunks: Vec<FileChunk>,
    /// The file's size.
    pub size: u64,
    /// sha256 of the whole file, when the TOC gives it.
    pub digest: Option<String>,
    /// Blob bytes fetched to find all this: footer and TOC.
    pub toc_bytes: u64,
}

/// Why copying a file out of a TOC layer stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Fetching, decompressing or checking a chunk failed.
    #[error("{0}")]
    Read(String),
    /// Writing the output failed.
    #[error("could not write the file: {0}")]
    Write(io::Error),
}

impl Toc {
    /// Where the data of the regular file `path` (normalised) is in the layer.
    pub fn file_chunks(&self, path: &str) -> Result<FileChunks, String> {
        let toc = self;
        // A piece ends where the next piece of any file begins (or the TOC, or the blob, ends).
        let mut starts: Vec<u64> = toc
            .entries
            .iter()
            .map(|e| e.offset)
            .filter(|&offset| offset > 0)
            .chain([toc.location.offset])
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let end_of = |offset: u64| {
            starts
                .iter()
                .copied()
                .find(|&start| start > offset)
                .unwrap_or(toc.blob_size)
        };
        let mut pieces = toc
            .entries
            .iter()
            .filter(|e| normalize_path(&e.name) == path && (e.kind == "reg" || e.kind == "chunk"));
        let Some(file) = pieces.next() else {
            return Err(format!("its table of contents has no regular file {path}"));
        };
        let mut chunks = Vec::new();
        for piece in std::iter::once(file).chain(pieces) {
            let size = if piece.chunk_size > 0 {
                piece.chunk_size
            } else {
                file.size.saturating_sub(piece.chunk_offset)
            };
            if size == 0 {
                continue;
            }
            chunks.push(FileChunk {
                range: piece.offset..end_of(piece.offset),
                inner_offset: piece.inner_offset,
                size,
                digest: piece.chunk_digest.clone(),
            });
        }
        // Millions of chunks of up to a TiB each could overflow a plain sum.
        let covered = chunks
            .iter()
            .try_fold(0u64, |sum, chunk| sum.checked_add(chunk.size));
        if covered != Some(file.size) {
            let covered = covered.map_or_else(|| "more than 2^64".to_owned(), |c| c.to_string());
            return Err(format!(
                "its chunks of {path} hold {covered} bytes, not the file's {}",
                file.size
            ));
        }
        Ok(FileChunks {
            format: toc.location.format,
            chunks,
            size: file.size,
            digest: file.digest.clone(),
            toc_bytes: toc.fetched,
        })
    }
}

/// Copies a file out of a TOC layer to `out`, one Range request per piece, checking each
/// piece's digest and the file's; returns the blob bytes fetched.
pub fn copy_file(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    file: &FileChunks,
    cancel: &CancelToken,
    out: &mut dyn io::Write,
) -> Result<u64, CopyError> {
    let mut fetched = 0;
    let mut whole = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    for chunk in &file.chunks {
        if cancel.is_cancelled() {
            return Err(CopyError::Read("cancelled".into()));
        }
        let reply = source
            .open_blob_range(&layer.descriptor, chunk.range.clone(), cancel)
            .map_err(|e| CopyError::Read(e.to_string()))?;
        let raw = match reply {
            RangeReply::Partial(reader) => reader,
            RangeReply::Unsupported(reason) => return Err(CopyError::Read(reason)),
        };
        let count = Arc::new(AtomicU64::new(0));
        let counted = Counted {
            inner: raw,
            count: Arc::clone(&count),
        };
        let read_failed =
            |e: io::Error| CopyError::Read(format!("a chunk does not decompress: {e}"));
        let mut decoded: Box<dyn Read> = match file.format {
            TocFormat::Estargz => Box::new(flate2::read::MultiGzDecoder::new(counted)),
            TocFormat::ZstdChunked => {
                Box::new(zstd::stream::read::Decoder::new(counted).map_err(read_failed)?)
            }
        };
        io::copy(
            &mut (&mut decoded).take(chunk.inner_offset),
            &mut io::sink(),
        )
        .map_err(read_failed)?;
        let mut piece = decoded.take(chunk.size);
        let mut hasher = Sha256::new();
        let mut copied = 0u64;
        loop {
            let read = piece.read(&mut buffer).map_err(read_failed)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            whole.update(&buffer[..read]);
            out.write_all(&buffer[..read]).map_err(CopyError::Write)?;
            copied += read as u64;
        }
        fetched += count.load(Ordering::Relaxed);
        if copied != chunk.size {
            return Err(CopyError::Read(format!(
                "a chunk holds {copied} bytes, not {}",
                chunk.size
            )));
        }
        if let Some(expected) = &chunk.digest {
            let actual = format!("sha256:{:x}", hasher.finalize());
            if &actual != expected {
                return Err(CopyError::Read(format!(
                    "a chunk's digest is {actual}, not {expected}"
                )));
            }
        }
    }
    if let Some(expected) = &file.digest {
        let actual = format!("sha256:{:x}", whole.finalize());
        if &actual != expected {
            return Err(CopyError::Read(format!(
                "the file's digest is {actual}, not {expected}"
            )));
        }
    }
    Ok(fetched)
}

/// A reader that adds the bytes read to a shared counter.
struct Counted {
    inner: crate::source::BlobReader,
    count: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// `offset:length:uncompressed:type` → (offset, length).
fn parse_position(text: &str) -> Option<(u64, u64)> {
    let mut parts = text.split(':').map(str::parse::<u64>);
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(Ok(offset)), Some(Ok(length)), Some(Ok(_)), Some(Ok(1)), None) => {
            Some((offset, length))
        }
        _ => None,
    }
}

/// Finds a TOC from the last bytes of a blob of `size` bytes.
fn parse_footer(tail: &[u8], size: u64) -> Option<Location> {
    let le = |bytes: &[u8], at: usize| -> Option<u64> {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let last = |n: usize| tail.len().checked_sub(n).map(|start| &tail[start..]);
    let zstd = |footer: &[u8]| -> Option<Location> {
        (le(footer, 24)? == 1).then_some(())?;
        Some(Location {
            format: TocFormat::ZstdChunked,
            offset: le(footer, 0)?,
            length: le(footer, 8)?,
            compressed_digest: None,
            json_digest: None,
        })
    };
    if let Some(footer) = last(64)
        && footer.ends_with(ZSTD_MAGIC_NEW)
    {
        return zstd(footer);
    }
    if let Some(footer) = last(56)
        && &footer[32..40] == ZSTD_MAGIC_OLD
        && footer[40..].iter().all(|&b| b == 0)
    {
        return zstd(footer);
    }
    if let Some(footer) = last(40)
        && footer.ends_with(ZSTD_MAGIC_OLD)
    {
        return zstd(footer);
    }
    let estargz = |footer: &[u8], payload: usize| -> Option<Location> {
        let hex = std::str::from_utf8(footer.get(payload..payload + 16)?).ok()?;
        (footer.get(payload + 16..payload + 22)? == b"STARGZ").then_some(())?;
        let offset = u64::from_str_radix(hex, 16).ok()?;
        Some(Location {
            format: TocFormat::Estargz,
            offset,
            length: size.checked_sub(footer.len() as u64)?.checked_sub(offset)?,
            compressed_digest: None,
            json_digest: None,
        })
    };
    const GZIP_FEXTRA: [u8; 4] = [0x1f, 0x8b, 0x08, 0x04];
    if let Some(footer) = last(51)
        && footer.starts_with(&GZIP_FEXTRA)
        && footer[10..16] == [26, 0, b'S', b'G', 22, 0]
    {
        return estargz(footer, 16);
    }
    if let Some(footer) = last(47)
        && footer.starts_with(&GZIP_FEXTRA)
        && footer[10..12] == [22, 0]
    {
        return estargz(footer, 12);
    }
    None
}

/// Fetches `range` of the layer blob whole; the reason when the source cannot.
fn fetch(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    range: std::ops::Range<u64>,
    cancel: &CancelToken,
) -> Result<Vec<u8>, String> {
    let wanted = range.end - range.start;
    let reply = source
        .open_blob_range(&layer.descriptor, range, cancel)
        .map_err(|e| e.to_string())?;
    let reader = match reply {
        RangeReply::Partial(reader) => reader,
        RangeReply::Unsupported(reason) => return Err(reason),
    };
    let mut bytes = Vec::new();
    reader
        .take(wanted)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading it failed: {e}"))?;
    if (bytes.len() as u64) < wanted {
        return Err(format!("only {} of {wanted} bytes arrived", bytes.len()));
    }
    Ok(bytes)
}

/// Fetches, checks and parses the TOC; returns its entries and the bytes fetched.
fn read_toc(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    location: &Location,
    cancel: &CancelToken,
) -> Result<(Vec<TocEntry>, u64), String> {
    let size = layer.size();
    let end = location
        .offset
        .checked_add(location.length)
        .filter(|&end| end <= size && location.length > 0)
        .ok_or_else(|| {
            format!(
                "it claims bytes {}+{} of a {size}-byte blob",
                location.offset, location.length
            )
        })?;
    if location.length > MAX_TOC_BYTES {
        return Err(format!(
            "it claims {} bytes, more than the {MAX_TOC_BYTES} believed",
            location.length
        ));
    }
    let compressed = fetch(source, layer, location.offset..end, cancel)?;
    if let Some(expected) = &location.compressed_digest {
        let actual = format!("sha256:{:x}", Sha256::digest(&compressed));
        if &actual != expected {
            return Err(format!("its digest is {actual}, not {expected}"));
        }
    }
    let json = match location.format {
        TocFormat::Estargz => estargz_json(&compressed),
        TocFormat::ZstdChunked => zstd::stream::read::Decoder::new(compressed.as_slice())
            .and_then(|decoder| read_bounded(decoder, MAX_TOC_JSON_BYTES)),
    }
    .map_err(|e| format!("it does not decompress: {e}"))?;
    if let Some(expected) = &location.json_digest {
        let actual = format!("sha256:{:x}", Sha256::digest(&json));
        if &actual != expected {
            return Err(format!("its digest is {actual}, not {expected}"));
        }
    }
    let entries = parse_entries(&json, size)?;
    Ok((entries, compressed.len() as u64))
}

/// The `stargz.index.json` inside an eStargz TOC member (gzip → tar → one entry).
///
/// The tar is read by [`TarWalker`]: its metadata headers (PAX records, GNU long names) are
/// bounded, so a TOC member of a few bytes that claims gigabytes of them is refused unread.
fn estargz_json(member: &[u8]) -> io::Result<Vec<u8>> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidData, message);
    let mut walker = TarWalker::new(flate2::read::GzDecoder::new(member));
    let entry = match walker.next_entry() {
        Ok(Some(entry)) => entry,
        Ok(None) => return Err(invalid("the TOC tar is empty".into())),
        Err(TarError::Read(error)) => return Err(error),
        Err(error) => return Err(invalid(error.to_string())),
    };
    if entry.path != ESTARGZ_TOC_NAME.as_bytes() || entry.sparse {
        return Err(invalid(format!("the TOC tar holds no {ESTARGZ_TOC_NAME}")));
    }
    if entry.stored_size > MAX_TOC_JSON_BYTES {
        return Err(invalid("the TOC is too large".into()));
    }
    read_bounded(walker.data(), MAX_TOC_JSON_BYTES)
}

/// Reads at most `limit` bytes; more is an error (no allocation sized by the input).
fn read_bounded(reader: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the TOC is too large",
        ));
    }
    Ok(bytes)
}

/// One TOC entry (the fields both formats share that a listing needs).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TocEntry {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    link_name: String,
    #[serde(default)]
    mode: u64,
    #[serde(default)]
    uid: u64,
    #[serde(default)]
    gid: u64,
    #[serde(default)]
    modtime: Option<String>,
    #[serde(default)]
    offset: u64,
    #[serde(default)]
    end_offset: u64,
    #[serde(default)]
    inner_offset: u64,
    #[serde(default)]
    chunk_offset: u64,
    #[serde(default)]
    chunk_size: u64,
    #[serde(default)]
    chunk_digest: Option<String>,
    #[serde(default)]
    digest: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TocJson {
    #[serde(default)]
    entries: Vec<TocEntry>,
}

/// Parses the TOC JSON, refusing a TOC that lies about the blob.
fn parse_entries(json: &[u8], blob_size: u64) -> Result<Vec<TocEntry>, String> {
    let toc: TocJson = serde_json::from_slice(json).map_err(|e| format!("it is not valid: {e}"))?;
    for item in &toc.entries {
        let furthest = item.offset.max(item.end_offset);
        if furthest > blob_size {
            return Err(format!(
                "{:?} lies at offset {furthest} of a {blob_size}-byte blob",
                item.name
            ));
        }
        let largest = item.size.max(item.chunk_size).max(item.chunk_offset);
        if largest > MAX_FILE_BYTES {
            return Err(format!("{:?} claims {largest} bytes", item.name));
        }
    }
    Ok(toc.entries)
}

/// The TOC entries as listing entries: chunks of a file and the formats' own files left out.
fn listing_entries(items: &[TocEntry]) -> Vec<Entry> {
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let path = normalize_path(&item.name);
        if item.kind == "chunk" || (item.kind == "reg" && FORMAT_METADATA.contains(&path.as_str()))
        {
            continue;
        }
        let kind = match EntryKind::by_name(&path) {
            Some(kind) => kind,
            None => match item.kind.as_str() {
                "reg" => EntryKind::File,
                "dir" => EntryKind::Dir,
                "symlink" => EntryKind::Symlink,
                "hardlink" => EntryKind::Hardlink,
                "char" => EntryKind::CharDevice,
                "block" => EntryKind::BlockDevice,
                "fifo" => EntryKind::Fifo,
                _ => EntryKind::Other,
            },
        };
        let link_target = match kind {
            EntryKind::Hardlink => Some(normalize_path(&item.link_name)),
            EntryKind::Symlink => Some(item.link_name.clone()),
            _ => None,
        };
        entries.push(Entry {
            path: path.into_boxed_str(),
            kind,
            size: if kind == EntryKind::File {
                item.size
            } else {
                0
            },
            mode: (item.mode & 0o7777) as u32,
            uid: item.uid,
            gid: item.gid,
            mtime: item
                .modtime
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .and_then(|t| u64::try_from(t.timestamp()).ok())
                .unwrap_or(0),
            link_target: link_target.map(String::into_boxed_str),
            content: None,
            raw_names: None,
        });
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estargz_footer(offset: u64) -> Vec<u8> {
        let mut footer = vec![
            0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 26, 0, b'S', b'G', 22, 0,
        ];
        footer.extend(format!("{offset:016x}STARGZ").bytes());
        footer.extend([1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        footer
    }

    fn zstd_footer(fields: &[u64], magic: &[u8; 8]) -> Vec<u8> {
        let mut footer: Vec<u8> = fields.iter().flat_map(|f| f.to_le_bytes()).collect();
        footer.extend(magic);
        footer
    }

    #[test]
    fn every_footer_in_the_wild_is_found() {
        let mut tail = vec![7u8; 13];
        tail.extend(estargz_footer(0x29a6));
        assert_eq!(tail.len(), 64);
        let found = parse_footer(&tail, 20_000).expect("eStargz");
        assert_eq!(
            (found.format, found.offset, found.length),
            (TocFormat::Estargz, 0x29a6, 20_000 - 51 - 0x29a6)
        );

        let mut legacy = vec![0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 22, 0];
        legacy.extend(format!("{:016x}STARGZ", 100).bytes());
        legacy.extend([1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(legacy.len(), 47);
        let found = parse_footer(&legacy, 1000).expect("legacy eStargz");
        assert_eq!((found.offset, found.length), (100, 1000 - 47 - 100));

        let old = zstd_footer(&[10598, 678, 2180, 1], ZSTD_MAGIC_OLD);
        assert_eq!(old.len(), 40);
        let found = parse_footer(&old, 12_000).expect("40-byte zstd:chunked");
        assert_eq!(
            (found.format, found.offset, found.length),
            (TocFormat::ZstdChunked, 10598, 678)
        );

        let mut middle = zstd_footer(&[500, 60, 90, 1], ZSTD_MAGIC_OLD);
        middle.extend([0u8; 16]);
        let found = parse_footer(&middle, 1000).expect("56-byte zstd:chunked");
        assert_eq!((found.offset, found.length), (500, 60));

        let new = zstd_footer(&[500506, 675, 1704, 1, 501189, 577, 19456], ZSTD_MAGIC_NEW);
        assert_eq!(new.len(), 64);
        let found = parse_footer(&new, 600_000).expect("64-byte zstd:chunked");
        assert_eq!((found.offset, found.length), (500506, 675));

        assert_eq!(parse_footer(&[0u8; 64], 1000), None, "a plain gzip tail");
        let wrong_type = zstd_footer(&[500, 60, 90, 2], ZSTD_MAGIC_OLD);
        assert_eq!(parse_footer(&wrong_type, 1000), None);
        assert_eq!(
            parse_footer(&estargz_footer(5000), 100),
            None,
            "offset past the end"
        );
    }

    #[test]
    fn positions_parse_strictly() {
        assert_eq!(parse_position("10598:678:2180:1"), Some((10598, 678)));
        for bad in ["10598:678:2180", "a:b:c:1", "1:2:3:2", "1:2:3:1:5"] {
            assert_eq!(parse_position(bad), None, "{bad}");
        }
    }

    #[test]
    fn chunks_and_format_files_are_not_listed_and_lies_are_refused() {
        let json = br#"{"version":1,"entries":[
            {"name":".no.prefetch.landmark","type":"reg","size":1,"offset":10},
            {"name":"./bin/","type":"dir","mode":493,"modtime":"2024-01-01T00:00:00Z"},
            {"name":"./bin/big","type":"reg","size":9000000,"mode":2541,"uid":1,"gid":2,"offset":20,"chunkSize":4194304},
            {"name":"./bin/big","type":"chunk","offset":30,"chunkOffset":4194304,"chunkSize":4194304},
            {"name":"./bin/big","type":"chunk","offset":40,"chunkOffset":8388608},
            {"name":"./bin/sh","type":"symlink","linkName":"big"},
            {"name":"./bin/.wh.old","type":"reg"},
            {"name":"./bin/link","type":"hardlink","linkName":"./bin/big"}
        ]}"#;
        let entries = listing_entries(&parse_entries(json, 100).expect("valid"));
        let paths: Vec<&str> = entries.iter().map(|e| &*e.path).collect();
        assert_eq!(
            paths,
            ["bin", "bin/big", "bin/sh", "bin/.wh.old", "bin/link"]
        );
        assert_eq!(entries[0].mtime, 1_704_067_200);
        assert_eq!((entries[1].size, entries[1].mode), (9_000_000, 0o4755));
        assert_eq!(entries[3].kind, EntryKind::Whiteout);
        assert_eq!(entries[4].link_target.as_deref(), Some("bin/big"));

        let lying = br#"{"entries":[{"name":"a","type":"reg","size":1,"offset":5000}]}"#;
        assert!(
            parse_entries(lying, 100)
                .expect_err("outside")
                .contains("offset 5000")
        );
        let huge = br#"{"entries":[{"name":"a","type":"reg","size":10000000000000000}]}"#;
        assert!(parse_entries(huge, 100).is_err());
        assert!(parse_entries(b"{not json", 100).is_err());
    }
}
