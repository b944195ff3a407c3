//! The fuzz targets: each takes one input as bytes, runs it through a parser of layerslayer
//! and panics when the parser panics or an invariant of its result breaks. Shared by
//! `tests/fuzz.rs` (stable Rust: seed-corpus replay, then mutations) and the cargo-fuzz
//! targets in `fuzz/` (nightly, libFuzzer), which include this file by path.
//!
//! Inputs are what the parsers read in the wild: a reference or header as text, a manifest
//! body (optionally after a `content-type: …` line), a tar stream, a layer blob, a TOC layer
//! blob (optionally after an annotation block, see [`split_annotations`]), an image archive
//! (also unpacked into a directory, for the layout reader).

#![allow(dead_code)] // each user calls a different part

use std::collections::BTreeMap;
use std::io::{self, Cursor, Read};
use std::ops::Range;
use std::path::{Component, Path};
use std::sync::Arc;

use layerslayer::cancel::CancelToken;
use layerslayer::layer::stream::{PeekProgress, stream_layer};
use layerslayer::layer::tar::{MAX_STORED_SIZE, TarEntry, TarError, TarWalker};
use layerslayer::layer::toc::{FORMAT_METADATA, Toc, TocResult, copy_file, list_from_toc};
use layerslayer::model::{EntryKind, LayerStatus};
use layerslayer::oci::LayerInfo;
use layerslayer::oci::compression::Compression;
use layerslayer::oci::manifest::{Descriptor, ImageConfig, ManifestDocument, Platform};
use layerslayer::oci::reference::{ImageReference, is_loopback_host};
use layerslayer::source::archive::{ArchiveBytes, TarArchive};
use layerslayer::source::local::{LocalFormat, LocalSource};
use layerslayer::source::registry::auth::{Challenge, is_internal_host, token_of_response};
use layerslayer::source::resolve_image;
use layerslayer::source::{
    BlobReader, ErrorKind, FetchedManifest, ImageSource, RangeReply, SourceError,
};
use sha2::{Digest as _, Sha256};

thread_local! {
    /// Inputs that got through to the deepest check of their target on this thread: a
    /// reference or document parsed, a tar walked, a layer read complete, a TOC listed, an
    /// image resolved. The stable runner reports it, to show the mutations reach that far.
    static DEEP: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts an input that reached the deepest check of its target.
fn reached_deep() {
    DEEP.with(|deep| deep.set(deep.get() + 1));
}

/// Inputs that reached the deepest check of their target on this thread so far.
pub fn deep_count() -> u64 {
    DEEP.with(std::cell::Cell::get)
}

/// A fuzz target: its name (also its corpus directory) and its harness.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by name.
pub const TARGETS: [Target; 8] = [
    ("reference", reference),
    ("manifest", manifest),
    ("www_authenticate", www_authenticate),
    ("tar", tar),
    ("layer", layer),
    ("toc", toc),
    ("oci_layout", image_file),
    ("docker_save", image_file),
];

/// The most bytes an unpacked test archive may hold (the directory reader's inputs).
const MAX_UNPACKED_BYTES: u64 = 16 * 1024 * 1024;
/// Layers of a fuzzed image that are read.
const MAX_LAYERS_READ: usize = 4;
/// Files of a fuzzed TOC that are copied out.
const MAX_FILES_COPIED: usize = 3;
/// The annotation block that may open a TOC input: `annotations\n` then `key=value` lines,
/// then an empty line.
pub const ANNOTATIONS_HEADER: &[u8] = b"annotations\n";
/// The line that may open a manifest input.
pub const CONTENT_TYPE_PREFIX: &[u8] = b"content-type: ";

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// A source serving one blob from memory, whatever descriptor is asked for: a registry that
/// honours Range requests (a range past the end reads short, as a file would).
pub struct MemorySource {
    blob: Arc<[u8]>,
}

impl MemorySource {
    /// Serves `blob`.
    pub fn new(blob: &[u8]) -> Self {
        Self { blob: blob.into() }
    }
}

impl ImageSource for MemorySource {
    fn describe(&self) -> String {
        "fuzz input".into()
    }

    fn fetch_manifest(
        &self,
        reference: &str,
        _cancel: &CancelToken,
    ) -> Result<FetchedManifest, SourceError> {
        Err(SourceError::new(
            ErrorKind::NotFound,
            format!("no manifest {reference}"),
        ))
    }

    fn open_blob(
        &self,
        _descriptor: &Descriptor,
        _cancel: &CancelToken,
    ) -> Result<BlobReader, SourceError> {
        Ok(Box::new(Cursor::new(Arc::clone(&self.blob))))
    }

    fn open_blob_range(
        &self,
        _descriptor: &Descriptor,
        range: Range<u64>,
        _cancel: &CancelToken,
    ) -> Result<RangeReply, SourceError> {
        let len = self.blob.len() as u64;
        let start = range.start.min(len);
        let end = range.end.min(len).max(start);
        let mut cursor = Cursor::new(Arc::clone(&self.blob));
        cursor.set_position(start);
        Ok(RangeReply::Partial(Box::new(cursor.take(end - start))))
    }
}

/// The [`LayerInfo`] of `blob` as it is: its media type by magic bytes, its digest and size,
/// no annotations.
pub fn layer_info_of(blob: &[u8]) -> LayerInfo {
    layer_info(
        media_type_of(blob),
        &sha256(blob),
        blob.len() as u64,
        &BTreeMap::new(),
    )
}

/// A layer as a manifest lists it.
pub fn layer_info(
    media_type: &str,
    digest: &str,
    size: u64,
    annotations: &BTreeMap<String, String>,
) -> LayerInfo {
    let descriptor = serde_json::from_value(serde_json::json!({
        "mediaType": media_type,
        "digest": digest,
        "size": size,
        "annotations": annotations,
    }))
    .expect("a descriptor");
    LayerInfo {
        index: 0,
        descriptor,
        created_by: None,
    }
}

/// The layer media type a blob's magic bytes suggest.
pub fn media_type_of(blob: &[u8]) -> &'static str {
    match Compression::sniff(blob) {
        Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        Compression::None => "application/vnd.oci.image.layer.v1.tar",
    }
}

/// Whether `path` is as listings promise: `.`, or relative with no empty or `.` component.
fn assert_normalised(path: &str) {
    assert!(
        path == "." || path.split('/').all(|part| !part.is_empty() && part != "."),
        "listed path {path:?} is not normalised"
    );
}

/// Image references, platforms and host names as users type them.
pub fn reference(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match ImageReference::parse(&text) {
        Ok(parsed) => {
            assert!(!parsed.registry().is_empty(), "{text:?}: no registry");
            assert!(!parsed.api_host().is_empty(), "{text:?}: no host");
            assert!(!parsed.repository().is_empty(), "{text:?}: no repository");
            assert!(!parsed.manifest_reference().is_empty(), "{text:?}");
            let shown = parsed.to_string();
            let again = ImageReference::parse(&shown).unwrap_or_else(|error| {
                panic!("{text:?} is shown as {shown:?}, which does not parse: {error}")
            });
            assert_eq!(again, parsed, "{text:?} does not survive being shown");
            parsed.is_loopback();
            reached_deep();
        }
        Err(error) => {
            let message = error.to_string();
            assert!(message.starts_with("invalid image reference"), "{message}");
        }
    }
    if let Ok(platform) = text.parse::<Platform>() {
        assert_eq!(platform.to_string(), text.trim(), "platform {text:?}");
        assert_eq!(
            platform.to_string().parse::<Platform>().ok(),
            Some(platform)
        );
    }
    is_loopback_host(&text);
    is_internal_host(&text);
}

/// Splits an optional `content-type: …` first line off a manifest input.
pub fn split_content_type(data: &[u8]) -> (Option<String>, &[u8]) {
    match data.strip_prefix(CONTENT_TYPE_PREFIX) {
        Some(rest) => {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let body = rest.get(end + 1..).unwrap_or_default();
            (
                Some(String::from_utf8_lossy(&rest[..end]).into_owned()),
                body,
            )
        }
        None => (None, data),
    }
}

/// Manifest, index and config documents.
pub fn manifest(data: &[u8]) {
    let (content_type, body) = split_content_type(data);
    match ManifestDocument::parse(content_type.as_deref(), body) {
        Ok(ManifestDocument::Image(image)) => {
            for descriptor in std::iter::once(&image.config).chain(&image.layers) {
                assert_round_trips(descriptor);
            }
            reached_deep();
        }
        Ok(ManifestDocument::Index(index)) => {
            for descriptor in &index.manifests {
                assert_round_trips(descriptor);
            }
            let platforms = index.platforms();
            assert!(platforms.iter().all(|p| !p.is_unknown()));
            match index.select(None) {
                Ok(chosen) => assert!(
                    chosen.platform.as_ref().is_some_and(|p| !p.is_unknown()),
                    "the default choice {chosen:?} has no real platform"
                ),
                Err(error) => assert!(
                    platforms.is_empty(),
                    "no default choice among {platforms:?}: {error}"
                ),
            }
            for wanted in platforms.iter().take(8) {
                let chosen = index
                    .select(Some(wanted))
                    .unwrap_or_else(|error| panic!("{wanted} is offered but: {error}"));
                let got = chosen.platform.as_ref().expect("a platform");
                assert_eq!(
                    (&got.os, &got.architecture),
                    (&wanted.os, &wanted.architecture)
                );
            }
            reached_deep();
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    if let Ok(config) = serde_json::from_slice::<ImageConfig>(body) {
        let layers = config.history.iter().filter(|h| !h.empty_layer).count();
        assert_eq!(config.layer_commands().len(), layers);
    }
}

/// A descriptor survives serialising and parsing again (made-up manifests rely on it).
fn assert_round_trips(descriptor: &Descriptor) {
    let value = serde_json::to_value(descriptor).expect("serialise");
    let again: Descriptor = serde_json::from_value(value).expect("parse again");
    assert_eq!(&again, descriptor);
}

/// `WWW-Authenticate` headers and token endpoint answers.
pub fn www_authenticate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(Challenge::Bearer {
        realm,
        service,
        scope,
    }) = Challenge::parse(&text)
    {
        // What was understood, written canonically, is understood the same way.
        let quote =
            |value: &str| format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""));
        let mut canonical = format!("Bearer realm={}", quote(&realm));
        for (key, value) in [("service", &service), ("scope", &scope)] {
            if let Some(value) = value {
                canonical += &format!(",{key}={}", quote(value));
            }
        }
        assert_eq!(
            Challenge::parse(&canonical),
            Some(Challenge::Bearer {
                realm,
                service,
                scope
            }),
            "{text:?} rewritten as {canonical:?}"
        );
        reached_deep();
    }
    if let Some(token) = token_of_response(data) {
        assert!(!token.is_empty());
    }
}

/// Tar streams, through the walker both ways it reads: reading member data, and seeking
/// over it (as archive files are indexed). Both must see the same members.
pub fn tar(data: &[u8]) {
    let (read, read_error) = walk(TarWalker::new(data), true);
    let (sought, sought_error) = walk(TarWalker::new_seekable(Cursor::new(data)), false);
    assert_eq!(read, sought, "reading and seeking walks disagree");
    if read_error.is_none() {
        assert!(sought_error.is_none(), "{sought_error:?}");
    }
    for entry in &read {
        let end = entry.offset + 512;
        assert!(end <= data.len() as u64, "a header past the end: {entry:?}");
    }
    if !read.is_empty() {
        reached_deep();
    }
}

/// Walks to the end or the first error, checking what every member says; reads the data of
/// every other member when asked.
fn walk<R: Read>(mut walker: TarWalker<R>, read_data: bool) -> (Vec<TarEntry>, Option<TarError>) {
    let mut entries: Vec<TarEntry> = Vec::new();
    let error = loop {
        match walker.next_entry() {
            Ok(Some(entry)) => {
                assert_eq!(entry.offset % 512, 0, "{entry:?}");
                if let Some(last) = entries.last() {
                    assert!(entry.offset > last.offset, "{entry:?} after {last:?}");
                }
                assert!(entry.stored_size <= MAX_STORED_SIZE, "{entry:?}");
                assert!(walker.position() > entry.offset, "{entry:?}");
                if !entry.sparse {
                    // Header-only types (links, devices) have no data whatever the size says.
                    assert!(entry.size <= entry.stored_size, "{entry:?}");
                }
                if read_data && entries.len().is_multiple_of(2) {
                    let mut data = walker.data();
                    let mut buffer = [0u8; 4096];
                    let mut total = 0u64;
                    while let Ok(read) = data.read(&mut buffer) {
                        if read == 0 {
                            break;
                        }
                        total += read as u64;
                    }
                    assert!(total <= entry.stored_size, "{total} bytes of {entry:?}");
                }
                entries.push(entry);
            }
            Ok(None) => break None,
            Err(error) => {
                assert!(!error.to_string().is_empty());
                break Some(error);
            }
        }
    };
    assert!(
        matches!(walker.next_entry(), Ok(None)),
        "a walk goes on after its end"
    );
    (entries, error)
}

/// Layer blobs (gzip, zstd or plain tar) through the whole streaming pipeline.
pub fn layer(data: &[u8]) {
    let source = MemorySource::new(data);
    let digest = sha256(data);
    let media_type = media_type_of(data);
    let info = layer_info(media_type, &digest, data.len() as u64, &BTreeMap::new());
    let (status, entries, bytes_read) = stream(&source, &info);
    for entry in &entries {
        assert_normalised(&entry.0);
        if entry.1 != EntryKind::File {
            assert_eq!(entry.2, 0, "a {:?} with a size", entry.1);
        }
    }
    match &status {
        LayerStatus::Complete { digest_verified } => {
            assert!(digest_verified);
            assert_eq!(bytes_read, data.len() as u64);
            // An independent decoder agrees the stream is whole.
            if let Err(error) = decode_independently(data) {
                panic!("listed as complete, but {error}");
            }
            reached_deep();
        }
        LayerStatus::Failed(reason) => assert!(reason.starts_with("layer 0"), "{reason}"),
        other => panic!("unexpected status {other:?}"),
    }
    // The same bytes under another digest are never complete.
    if Sha256::digest(data)[0] % 4 == 0 {
        let wrong = format!("sha256:{}", "0".repeat(64));
        let info = layer_info(media_type, &wrong, data.len() as u64, &BTreeMap::new());
        let (status, _, _) = stream(&source, &info);
        assert!(!status.is_complete(), "a wrong digest passed");
    }
}

/// What streaming a layer gave: its status, `(path, kind, size)` of its entries, bytes read.
fn stream(
    source: &dyn ImageSource,
    info: &LayerInfo,
) -> (LayerStatus, Vec<(String, EntryKind, u64)>, u64) {
    let mut entries = Vec::new();
    let progress = Arc::new(PeekProgress::default());
    let outcome = stream_layer(source, info, &CancelToken::new(), &progress, &mut |entry| {
        entries.push((entry.path.into(), entry.kind, entry.size));
    });
    assert_eq!(progress.entries(), entries.len() as u64);
    (outcome.status, entries, outcome.bytes_read)
}

/// Decompresses with flate2 or zstd directly and walks the tar to its end.
fn decode_independently(blob: &[u8]) -> Result<(), String> {
    let decoder: Box<dyn Read> = match Compression::sniff(blob) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(blob)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(blob).map_err(|e| e.to_string())?)
        }
        Compression::None => Box::new(blob),
    };
    let mut walker = TarWalker::new(decoder);
    while walker.next_entry().map_err(|e| e.to_string())?.is_some() {}
    io::copy(&mut walker.into_inner(), &mut io::sink())
        .map(drop)
        .map_err(|e| format!("the decompressed stream fails after the tar: {e}"))
}

/// Splits an optional annotation block off a TOC input: `annotations\n`, `key=value` lines,
/// an empty line, then the blob.
pub fn split_annotations(data: &[u8]) -> (BTreeMap<String, String>, &[u8]) {
    let mut annotations = BTreeMap::new();
    let Some(mut rest) = data.strip_prefix(ANNOTATIONS_HEADER) else {
        return (annotations, data);
    };
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..end];
        rest = &rest[end + 1..];
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(line);
        if let Some((key, value)) = line.split_once('=') {
            annotations.insert(key.to_owned(), value.to_owned());
        }
    }
    (annotations, rest)
}

/// Writes an annotation block and a blob as one TOC input.
pub fn join_annotations(annotations: &BTreeMap<String, String>, blob: &[u8]) -> Vec<u8> {
    if annotations.is_empty() {
        return blob.to_vec();
    }
    let mut out = ANNOTATIONS_HEADER.to_vec();
    for (key, value) in annotations {
        out.extend(format!("{key}={value}\n").bytes());
    }
    out.push(b'\n');
    out.extend(blob);
    out
}

/// The annotations that announce a TOC, and those that give its digest.
const TOC_ANNOUNCING: [&str; 3] = [
    "containerd.io/snapshot/stargz/toc.digest",
    "io.github.containers.zstd-chunked.manifest-position",
    "io.containers.zstd-chunked.manifest-position",
];
const TOC_DIGESTS: [&str; 3] = [
    "containerd.io/snapshot/stargz/toc.digest",
    "io.github.containers.zstd-chunked.manifest-checksum",
    "io.containers.zstd-chunked.manifest-checksum",
];

/// eStargz and zstd:chunked footers and TOCs, and copying files out by their chunks.
pub fn toc(data: &[u8]) {
    let (annotations, blob) = split_annotations(data);
    let media_type = match Compression::sniff(blob) {
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.oci.image.layer.v1.tar+gzip",
    };
    let info = layer_info(media_type, &sha256(blob), blob.len() as u64, &annotations);
    let source = MemorySource::new(blob);
    let cancel = CancelToken::new();
    let announced = TOC_ANNOUNCING.iter().any(|k| annotations.contains_key(*k));
    let with_digest = TOC_DIGESTS.iter().any(|k| annotations.contains_key(*k));
    let toc = match Toc::fetch(&source, &info, &cancel) {
        Ok(Some(toc)) => toc,
        Ok(None) => {
            assert!(
                !announced,
                "an announced TOC found missing without a reason"
            );
            return;
        }
        Err(reason) => {
            assert!(!reason.is_empty());
            return;
        }
    };
    reached_deep();
    let listing = toc.listing();
    assert!(listing.bytes_fetched <= blob.len() as u64 + 64);
    assert_eq!(listing.bytes_fetched, toc.bytes_fetched());
    assert_eq!(listing.verified, with_digest);
    for entry in &listing.entries {
        assert_normalised(&entry.path);
        assert!(
            !(entry.kind == EntryKind::File && FORMAT_METADATA.contains(&&*entry.path)),
            "{} is listed",
            entry.path
        );
    }
    match list_from_toc(&source, &info, &cancel) {
        TocResult::Listed(again) => assert_eq!(again.entries, listing.entries),
        other => panic!("listed once, then {other:?}"),
    }
    let files = listing
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .take(MAX_FILES_COPIED);
    for file in files {
        let Ok(chunks) = toc.file_chunks(&file.path) else {
            continue;
        };
        let covered: u64 = chunks.chunks.iter().map(|c| c.size).sum();
        assert_eq!(covered, chunks.size, "{chunks:?}");
        for chunk in &chunks.chunks {
            assert!(chunk.range.start <= chunk.range.end, "{chunk:?}");
            assert!(chunk.range.end <= blob.len() as u64, "{chunk:?}");
        }
        let ranges: u64 = chunks
            .chunks
            .iter()
            .map(|c| c.range.end - c.range.start)
            .sum();
        let mut out = CountingSink::default();
        if let Ok(fetched) = copy_file(&source, &info, &chunks, &cancel, &mut out) {
            assert_eq!(out.0, chunks.size, "{} copied short", file.path);
            assert!(fetched <= ranges, "{fetched} bytes fetched of {ranges}");
        }
    }
}

/// A writer that only counts.
#[derive(Default)]
struct CountingSink(u64);

impl io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// OCI layouts and `docker save` archives: the archive reader on the file as it is (plain,
/// gzip or zstd), the directory reader on it unpacked; then each image resolved and some of
/// its layers read.
pub fn image_file(data: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("image.tar");
    std::fs::write(&file, data).expect("write the input");
    let other = if data.len().is_multiple_of(2) {
        LocalFormat::Oci
    } else {
        LocalFormat::DockerArchive
    };
    for format in [LocalFormat::Detect, other] {
        let bytes = ArchiveBytes::File(file.clone());
        if let Ok((source, reference)) =
            LocalSource::open_archive(bytes, "fuzz.tar".into(), format, None)
        {
            check_image(&source, &reference);
        }
    }
    let Some(tar) = decompressed(data) else {
        return;
    };
    check_members(&file, &tar);
    let unpacked = dir.path().join("unpacked");
    if unpack(&tar, &unpacked) {
        let opened =
            LocalSource::open_directory(&unpacked, "fuzz-dir".into(), LocalFormat::Detect, None);
        if let Ok((source, reference)) = opened {
            check_image(&source, &reference);
        }
    }
}

/// Resolves the image and reads some layers: a layer read as complete and verified is one
/// whose bytes, as the source serves them, hash to its digest.
fn check_image(source: &LocalSource, reference: &str) {
    let cancel = CancelToken::new();
    let Ok(info) = resolve_image(source, reference, None, &cancel) else {
        return;
    };
    reached_deep();
    for (index, layer) in info.layers.iter().enumerate() {
        assert_eq!(layer.index, index);
    }
    for layer in info.layers.iter().take(MAX_LAYERS_READ) {
        let (status, entries, _) = stream(source, layer);
        for entry in &entries {
            assert_normalised(&entry.0);
        }
        if status
            == (LayerStatus::Complete {
                digest_verified: true,
            })
        {
            let mut blob = source
                .open_blob(&layer.descriptor, &cancel)
                .expect("a verified blob opens again");
            let mut hasher = Sha256::new();
            io::copy(&mut blob, &mut hasher).expect("a verified blob reads again");
            assert_eq!(format!("sha256:{:x}", hasher.finalize()), layer.digest());
        }
    }
}

/// The archive reader's promise: a member reads at most its size, and exactly its size when
/// the archive is not damaged. `tar` is the archive's uncompressed content.
fn check_members(file: &Path, tar: &[u8]) {
    let Ok(archive) = TarArchive::open(ArchiveBytes::File(file.to_owned())) else {
        return;
    };
    let mut walker = TarWalker::new(tar);
    let mut paths = Vec::new();
    while let Ok(Some(entry)) = walker.next_entry() {
        if paths.len() < 16 {
            paths.push(String::from_utf8_lossy(&entry.path).into_owned());
        }
    }
    for path in paths {
        let path = path.trim_start_matches("./").trim_end_matches('/');
        let Ok(Some((mut reader, size))) = archive.open_member(path) else {
            continue;
        };
        assert_eq!(archive.member_size(path), Some(size));
        let read = io::copy(&mut reader, &mut io::sink()).unwrap_or(0);
        assert!(read <= size, "{path}: {read} bytes of {size}");
        if archive.damage().is_none() && read < size {
            panic!("{path} reads {read} of its {size} bytes in an undamaged archive");
        }
    }
}

/// The uncompressed tar of an input, up to [`MAX_UNPACKED_BYTES`].
pub fn decompressed(data: &[u8]) -> Option<Vec<u8>> {
    let reader: Box<dyn Read> = match Compression::sniff(data) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(data).ok()?),
        Compression::None => return Some(data.to_vec()),
    };
    let mut out = Vec::new();
    reader.take(MAX_UNPACKED_BYTES).read_to_end(&mut out).ok()?;
    Some(out)
}

/// Unpacks the regular files of an uncompressed archive under `dir` (relative, plain paths
/// only; nothing else); false when there is nothing to unpack.
fn unpack(tar: &[u8], dir: &Path) -> bool {
    let mut walker = TarWalker::new(tar);
    let mut written = 0;
    while let Ok(Some(entry)) = walker.next_entry() {
        let is_file = matches!(
            entry.entry_type,
            ::tar::EntryType::Regular | ::tar::EntryType::Continuous
        ) && !entry.sparse;
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        let relative = Path::new(&path);
        let plain = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
            && relative.components().count() <= 8;
        if !is_file || !plain || written >= 64 {
            continue;
        }
        let mut bytes = Vec::new();
        if walker.data().read_to_end(&mut bytes).is_err() {
            break;
        }
        let target = dir.join(relative);
        let created = target
            .parent()
            .is_none_or(|parent| std::fs::create_dir_all(parent).is_ok());
        if created && std::fs::write(&target, &bytes).is_ok() {
            written += 1;
        }
    }
    written > 0
}
