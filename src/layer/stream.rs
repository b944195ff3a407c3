//! Streaming layer peek: blob stream → sha256 (on the download thread) → gzip / zstd / plain
//! decoder → tar headers. Memory stays constant whatever the layer size, entries are handed
//! out as they are decoded, and cancellation stops both the download and the decoding.
//!
//! Bytes are copied once on their way from the blob reader to the decoder: the download
//! thread reads them into a buffer, hashes it and hands it over; the decoder reads it in place
//! (its chunk reader is a `BufRead`) and gives it back to be read into again, so no buffer is
//! allocated or zero-filled per read. The tar walker consumes skipped file data from the
//! decoder's output buffer without copying it.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use sha2::{Digest as _, Sha256};

use crate::cancel::CancelToken;
use crate::layer::content::{ContentScanner, wants_credential_words};
use crate::layer::index::{IndexRecording, NO_OFFSET};
use crate::layer::tar::{TarEntry, TarError, TarWalker};
use crate::layer::toc::FORMAT_METADATA;
use crate::model::{
    Entry, EntryKind, LayerListing, LayerResult, LayerStatus, ListedFrom, RawNames,
    normalize_path_bytes,
};
use crate::oci::LayerInfo;
pub use crate::oci::compression::Compression;
use crate::source::{ErrorKind, ImageSource, ResumeHook, Resumed};

/// Bytes per read from the network (the chunks the decoders read from).
const STRIDE: usize = 256 * 1024;
/// Bytes of decoded tar stream per decoder call: large calls amortise the decoder's own
/// per-call work (zlib copies up to 32 KiB of each call's output into its window).
const DECODED_STRIDE: usize = 256 * 1024;
/// Chunks in flight between the download thread and the decoder (bounds memory).
const CHUNKS_IN_FLIGHT: usize = 8;
/// Read chunks kept for the download thread to read into again.
const SPARE_CHUNKS: usize = CHUNKS_IN_FLIGHT + 2;
/// How often a waiting decoder looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(25);
/// Live counters for one layer, readable from any thread (e.g. a UI frame or a progress bar).
#[derive(Debug, Default)]
pub struct PeekProgress {
    bytes_read: AtomicU64,
    entries: AtomicU64,
    resumes: AtomicU64,
}

impl PeekProgress {
    /// Compressed bytes received so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Entries decoded so far.
    pub fn entries(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }

    /// How many times the download resumed after a dropped or stalled connection.
    pub fn resumes(&self) -> u64 {
        self.resumes.load(Ordering::Relaxed)
    }

    /// Counts one more entry handed out (by the decoder, or replayed from the cache).
    pub(crate) fn count_entry(&self) {
        self.entries.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a layer could not be read to the end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeekError {
    /// The blob could not be opened.
    #[error("could not download the layer: {0}")]
    Open(String),
    /// The connection failed while the body was streaming.
    #[error("the download failed after {received} of {expected} bytes: {reason}")]
    Download {
        /// Bytes received.
        received: u64,
        /// Bytes announced by the manifest.
        expected: u64,
        /// The transport error.
        reason: String,
    },
    /// The body ended before the size the manifest gives.
    #[error("the layer is truncated: only {received} of its {expected} bytes arrived")]
    Truncated {
        /// Bytes received.
        received: u64,
        /// Bytes announced by the manifest.
        expected: u64,
    },
    /// The body is longer than the manifest says.
    #[error("the source sent more than the {expected} bytes the manifest gives for this layer")]
    TooLong {
        /// Bytes announced by the manifest.
        expected: u64,
    },
    /// The data could not be decompressed (or, uncompressed, could not be read).
    #[error("the layer's {format} data is corrupt: {reason}")]
    Corrupt {
        /// `gzip`, `zstd` or `tar`.
        format: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The data decompressed (and hashed) fine but is not a valid tar stream.
    #[error("the layer's tar stream is invalid at byte {offset}: {reason}")]
    InvalidTar {
        /// Offset in the uncompressed tar stream of the header at fault.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The bytes received do not hash to the layer digest.
    #[error(
        "digest mismatch: expected {expected}, got {actual}; the blob is damaged or was replaced"
    )]
    DigestMismatch {
        /// The manifest's digest.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
}

/// What the download thread reports to the decoder side.
enum Chunk {
    /// `buffer[..len]`; `buffer` is `STRIDE` long and goes back through
    /// [`ChunkReader::spare`] once read.
    Data {
        buffer: Vec<u8>,
        len: usize,
    },
    Failed(PeekError),
    End {
        digest: String,
    },
}

/// How the download ended, as seen by the reading side.
#[derive(Default)]
struct DownloadEnd {
    digest: Option<String>,
    error: Option<PeekError>,
    cancelled: bool,
}

/// Reads the chunks the download thread sends, in place, noticing cancellation while it
/// waits.
struct ChunkReader {
    chunks: Receiver<Chunk>,
    /// Chunks read out, back to the download thread.
    spare: Sender<Vec<u8>>,
    /// `current[position..len]` is left to read.
    current: Vec<u8>,
    position: usize,
    len: usize,
    cancel: CancelToken,
    end: DownloadEnd,
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.position == self.len {
            if self.end.digest.is_some() {
                return Ok(&[]);
            }
            if self.end.error.is_some() || self.end.cancelled {
                return Err(io::Error::other("the download stopped"));
            }
            match self.chunks.recv_timeout(CANCEL_POLL) {
                Ok(Chunk::Data { buffer, len }) => {
                    let read = std::mem::replace(&mut self.current, buffer);
                    if read.len() == STRIDE {
                        let _ = self.spare.try_send(read);
                    }
                    self.position = 0;
                    self.len = len;
                }
                Ok(Chunk::End { digest }) => self.end.digest = Some(digest),
                Ok(Chunk::Failed(error)) => self.end.error = Some(error),
                Err(RecvTimeoutError::Timeout) => {
                    if self.cancel.is_cancelled() {
                        self.end.cancelled = true;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.end.error = Some(PeekError::Open(
                        "the download thread stopped unexpectedly".into(),
                    ));
                }
            }
        }
        Ok(&self.current[self.position..self.len])
    }

    fn consume(&mut self, amount: usize) {
        self.position = (self.position + amount).min(self.len);
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Streams `body` in large strides, hashing as it goes, into `chunks`; reads into the
/// buffers the reader gives back through `spares` (already initialised: `read` overwrites
/// them) when there are any.
fn download(
    mut body: impl Read,
    expected_size: u64,
    cancel: &CancelToken,
    progress: &PeekProgress,
    chunks: &Sender<Chunk>,
    spares: &Receiver<Vec<u8>>,
) {
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let mut buffer = spares.try_recv().unwrap_or_else(|_| vec![0u8; STRIDE]);
        let n = match read_full(&mut body, &mut buffer) {
            Ok(n) => n,
            Err(error) => {
                let failure = PeekError::Download {
                    received,
                    expected: expected_size,
                    reason: error.to_string(),
                };
                let _ = chunks.send(Chunk::Failed(failure));
                return;
            }
        };
        if n == 0 {
            let message = if expected_size > 0 && received < expected_size {
                Chunk::Failed(PeekError::Truncated {
                    received,
                    expected: expected_size,
                })
            } else {
                Chunk::End {
                    digest: format!("sha256:{:x}", hasher.finalize()),
                }
            };
            let _ = chunks.send(message);
            return;
        }
        received += n as u64;
        if expected_size > 0 && received > expected_size {
            let _ = chunks.send(Chunk::Failed(PeekError::TooLong {
                expected: expected_size,
            }));
            return;
        }
        hasher.update(&buffer[..n]);
        progress.bytes_read.store(received, Ordering::Relaxed);
        if chunks.send(Chunk::Data { buffer, len: n }).is_err() {
            return; // the decoder stopped (error or cancel): stop downloading
        }
    }
}

/// Fills `buffer` as far as the stream allows; returns bytes read (0 only at end of stream).
fn read_full(body: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match body.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Deliver what arrived; the error repeats on the next call.
            Err(_) if filled > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The gzip decoder: ISA-L with `--features isal`, else flate2 on zlib-rs (pure Rust).
#[cfg(feature = "isal")]
type GzipDecoder<R> = crate::layer::isal_gzip::IsalGzDecoder<R>;
#[cfg(not(feature = "isal"))]
type GzipDecoder<R> = flate2::bufread::MultiGzDecoder<R>;

/// The decompressor in front of the tar parser.
pub(crate) enum Decoder<R: BufRead> {
    Gzip(Box<GzipDecoder<R>>),
    /// Gzip without the CRC, for a blob whose digest is checked (see [`crate::layer::gzip`]).
    #[cfg(not(feature = "isal"))]
    GzipDigestChecked(Box<crate::layer::gzip::DigestCheckedGzDecoder<R>>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
    /// zstd, recording checkpoints at frame starts (see [`crate::layer::zstd_frames`]).
    ZstdFrames(Box<crate::layer::zstd_frames::FrameRecordingDecoder<R>>),
    Plain(R),
}

impl<R: BufRead> Decoder<R> {
    /// A decoder for `compression` reading from `inner`.
    pub(crate) fn new(compression: Compression, inner: R) -> io::Result<Self> {
        Ok(match compression {
            Compression::Gzip => Self::Gzip(Box::new(GzipDecoder::new(inner))),
            Compression::Zstd => Self::Zstd(zstd::stream::read::Decoder::with_buffer(inner)?),
            Compression::None => Self::Plain(inner),
        })
    }

    /// A decoder for a blob whose sha256 digest is checked once it is read: gzip members'
    /// CRC-32 is left to that check.
    fn digest_checked(compression: Compression, inner: R) -> io::Result<Self> {
        #[cfg(not(feature = "isal"))]
        if compression == Compression::Gzip {
            return Ok(Self::GzipDigestChecked(Box::new(
                crate::layer::gzip::DigestCheckedGzDecoder::new(inner)?,
            )));
        }
        Self::new(compression, inner)
    }

    /// [`digest_checked`](Self::digest_checked), recording random-access checkpoints: in a
    /// gzip stream (not with ISA-L), and at the frame starts of a zstd stream.
    fn digest_checked_recording(compression: Compression, inner: R) -> io::Result<Self> {
        let spacing = crate::layer::gzip::Checkpoint::SPACING;
        match compression {
            #[cfg(not(feature = "isal"))]
            Compression::Gzip => Ok(Self::GzipDigestChecked(Box::new(
                crate::layer::gzip::DigestCheckedGzDecoder::recording(inner, spacing)?,
            ))),
            Compression::Zstd => Ok(Self::ZstdFrames(Box::new(
                crate::layer::zstd_frames::FrameRecordingDecoder::new(inner, spacing)?,
            ))),
            _ => Self::digest_checked(compression, inner),
        }
    }

    /// The checkpoints a recording decoder took.
    fn take_checkpoints(&mut self) -> Option<Vec<crate::layer::index::Checkpoint>> {
        match self {
            #[cfg(not(feature = "isal"))]
            Self::GzipDigestChecked(d) => d.take_checkpoints(),
            Self::ZstdFrames(d) => Some(d.take_checkpoints()),
            _ => None,
        }
    }

    fn into_inner(self) -> R {
        match self {
            Self::Gzip(d) => d.into_inner(),
            #[cfg(not(feature = "isal"))]
            Self::GzipDigestChecked(d) => d.into_inner(),
            Self::Zstd(d) => d.finish(),
            Self::ZstdFrames(d) => d.into_inner(),
            Self::Plain(r) => r,
        }
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Gzip(d) => d.read(buf),
            #[cfg(not(feature = "isal"))]
            Self::GzipDigestChecked(d) => d.read(buf),
            Self::Zstd(d) => d.read(buf),
            Self::ZstdFrames(d) => d.read(buf),
            Self::Plain(r) => r.read(buf),
        }
    }
}

/// What streaming does with regular files' data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileData {
    /// Skip it: the listing only (the fastest).
    Skip,
    /// Hash it and sniff its start for secrets, into [`Entry::content`].
    Scan,
}

/// A copy of chosen regular files' data, taken as the layer streams by (carve's last
/// version of a path, kept while the layer is listed and indexed).
pub(crate) trait FileTap {
    /// Where to copy the data of the regular file `entry` (called before its data is read),
    /// or `None` to let it pass.
    fn copy_to(&mut self, entry: &Entry) -> Option<&mut dyn io::Write>;
}

/// What a stream records besides its entries.
#[derive(Default)]
pub(crate) struct Recorders<'a> {
    /// The checkpoints and entry offsets of a random-access index.
    pub index: Option<&'a mut IndexRecording>,
    /// Copies of chosen files' data.
    pub tap: Option<&'a mut dyn FileTap>,
}

/// Streams one layer, handing each tar entry (with its [`Entry::content`] facts) to
/// `on_entry` as soon as it is decoded and keeping none of them: memory stays flat however
/// many entries the layer has.
pub fn stream_layer(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    cancel: &CancelToken,
    progress: &Arc<PeekProgress>,
    on_entry: &mut dyn FnMut(Entry),
) -> LayerResult {
    let file_data = FileData::Scan;
    let recorders = Recorders::default();
    stream_layer_recording(
        source, layer, file_data, cancel, progress, on_entry, recorders,
    )
}

/// [`stream_layer`], choosing what happens to file data, also recording what a random-access
/// index of the layer needs (see [`crate::layer::index`]) and copying chosen files' data, as
/// `recorders` ask.
pub(crate) fn stream_layer_recording(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    file_data: FileData,
    cancel: &CancelToken,
    progress: &Arc<PeekProgress>,
    on_entry: &mut dyn FnMut(Entry),
    recorders: Recorders<'_>,
) -> LayerResult {
    let last_resume = Arc::new(std::sync::Mutex::new(None::<Resumed>));
    let ended = |status: LayerStatus| LayerResult {
        status,
        bytes_read: progress.bytes_read(),
        listed_from: ListedFrom::Blob,
        note: last_resume
            .lock()
            .ok()
            .and_then(|last| last.clone())
            .map(|last| {
                format!(
                    "resumed ×{} (last at byte {}: {})",
                    last.count, last.at, last.reason
                )
            }),
    };
    if cancel.is_cancelled() {
        return ended(LayerStatus::Cancelled);
    }
    let on_resume: ResumeHook = {
        let (progress, last_resume) = (Arc::clone(progress), Arc::clone(&last_resume));
        Arc::new(move |resumed: &Resumed| {
            progress
                .resumes
                .store(u64::from(resumed.count), Ordering::Relaxed);
            if let Ok(mut last) = last_resume.lock() {
                *last = Some(resumed.clone());
            }
        })
    };
    let body = match source.open_blob_reporting(&layer.descriptor, cancel, on_resume) {
        Ok(body) => body,
        Err(_) if cancel.is_cancelled() => return ended(LayerStatus::Cancelled),
        Err(error) if layer.is_non_distributable() => {
            let urls = if layer.descriptor.urls.is_empty() {
                "elsewhere".to_owned()
            } else {
                layer.descriptor.urls.join(", ")
            };
            return ended(LayerStatus::Skipped(format!(
                "non-distributable layer: its blob is hosted at {urls}, not in this registry ({error})"
            )));
        }
        Err(error) if error.kind() == ErrorKind::NotFound => {
            return ended(LayerStatus::Missing(format!(
                "layer {} ({}): {error}",
                layer.index,
                layer.short_digest()
            )));
        }
        Err(error) => return ended(failed(layer, &PeekError::Open(error.to_string()))),
    };
    let expected_size = layer.size();
    let (sender, receiver) = bounded(CHUNKS_IN_FLIGHT);
    let (spare, spares) = bounded(SPARE_CHUNKS);
    // A detached thread: if the network stalls, a cancelled peek returns at once and the
    // thread ends by itself when its read returns and finds the receiver gone.
    let download_cancel = cancel.clone();
    let download_progress = Arc::clone(progress);
    let started = thread::Builder::new()
        .name(format!("download-{}", layer.short_digest()))
        .spawn(move || {
            download(
                body,
                expected_size,
                &download_cancel,
                &download_progress,
                &sender,
                &spares,
            )
        });
    let result = match started {
        Ok(_) => {
            let reader = ChunkReader {
                chunks: receiver,
                spare,
                current: Vec::new(),
                position: 0,
                len: 0,
                cancel: cancel.clone(),
                end: DownloadEnd::default(),
            };
            decode(reader, layer, file_data, progress, on_entry, recorders)
        }
        Err(error) => Err(PeekError::Open(format!(
            "could not start a download thread: {error}"
        ))),
    };
    ended(match result {
        Ok(digest) => verify_digest(layer, &digest),
        Err(_) if cancel.is_cancelled() => LayerStatus::Cancelled,
        Err(error) => failed(layer, &error),
    })
}

/// Reads one layer to the end like [`stream_layer`], and also keeps its entries.
///
/// Never fails as a whole: the returned listing keeps every entry read and says in its
/// `status` whether the layer was complete, failed (with a message naming the layer),
/// cancelled or skipped.
pub fn peek_layer(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    cancel: &CancelToken,
    progress: &Arc<PeekProgress>,
    on_entry: &mut dyn FnMut(&Entry),
) -> LayerListing {
    let mut entries = Vec::new();
    let result = stream_layer(source, layer, cancel, progress, &mut |entry| {
        on_entry(&entry);
        entries.push(entry);
    });
    LayerListing {
        layer: layer.clone(),
        entries,
        result,
    }
}

fn failed(layer: &LayerInfo, error: &PeekError) -> LayerStatus {
    LayerStatus::Failed(format!(
        "layer {} ({}): {error}",
        layer.index,
        layer.short_digest()
    ))
}

fn verify_digest(layer: &LayerInfo, actual: &str) -> LayerStatus {
    if let Some(mismatch) = digest_mismatch(layer, actual) {
        return failed(layer, &mismatch);
    }
    LayerStatus::Complete {
        digest_verified: layer.digest().starts_with("sha256:"),
    }
}

/// The digest error, when the layer's digest is one this tool checks and `actual` differs.
fn digest_mismatch(layer: &LayerInfo, actual: &str) -> Option<PeekError> {
    let expected = layer.digest();
    (expected.starts_with("sha256:") && expected != actual).then(|| PeekError::DigestMismatch {
        expected: expected.to_owned(),
        actual: actual.to_owned(),
    })
}

/// Sniffs, decompresses and parses the tar stream; returns the blob digest at the end.
///
/// Errors name their level: the download's own failure first, then the decompressor's
/// ([`PeekError::Corrupt`] for gzip/zstd), then a blob that does not hash to its digest, and
/// only then the tar format ([`PeekError::InvalidTar`]). After a tar error the rest of the
/// blob is still read, so that a damaged download or compressed stream (whose garbage output
/// the tar walker may trip on first) is reported as what it is.
fn decode(
    mut reader: ChunkReader,
    layer: &LayerInfo,
    file_data: FileData,
    progress: &PeekProgress,
    on_entry: &mut dyn FnMut(Entry),
    recorders: Recorders<'_>,
) -> Result<String, PeekError> {
    let Recorders { mut index, tap } = recorders;
    let compression = match reader.fill_buf() {
        Ok(magic) => Compression::sniff(magic),
        Err(_) => {
            return Err(
                download_error(&reader).unwrap_or_else(|| corrupt(Compression::None, "no data"))
            );
        }
    };
    let digest_checked = layer.digest().starts_with("sha256:");
    let decoder = match &index {
        Some(_) if digest_checked => Decoder::digest_checked_recording(compression, reader),
        _ if digest_checked => Decoder::digest_checked(compression, reader),
        _ => Decoder::new(compression, reader),
    }
    .map_err(|e| corrupt(compression, &e.to_string()))?;
    let mut walker = TarWalker::new_buffered(BufReader::with_capacity(DECODED_STRIDE, decoder));
    let offsets = index.as_mut().map(|index| &mut index.entry_offsets);
    let walked = read_entries(&mut walker, file_data, progress, on_entry, offsets, tap);
    let mut decoded = walker.into_inner();
    // After the end marker (or a tar error) the rest still counts for the digest.
    let drained = match &walked {
        Err(TarError::Read(_)) => Ok(()), // the decompressor already failed
        _ => discard(&mut decoded),
    };
    if let Some(index) = index {
        index.checkpoints = decoded.get_mut().take_checkpoints();
        index.zstd_frames = compression == Compression::Zstd;
    }
    let mut reader = decoded.into_inner().into_inner();
    // Bytes after the compressed stream (padding) still count for the digest.
    let drained = drained.and_then(|()| match &walked {
        Err(TarError::Read(_)) => Ok(()),
        _ => discard(&mut reader),
    });
    if let Some(error) = download_error(&reader) {
        return Err(error);
    }
    let tar_error = match walked {
        Ok(()) => None,
        Err(TarError::Read(error)) => return Err(corrupt(compression, &error.to_string())),
        Err(TarError::Invalid { offset, problem }) => Some(PeekError::InvalidTar {
            offset,
            reason: problem.to_string(),
        }),
    };
    if let Err(error) = drained {
        return Err(corrupt(compression, &error.to_string()));
    }
    let digest = reader
        .end
        .digest
        .clone()
        .ok_or_else(|| corrupt(compression, "the stream ended early"))?;
    match tar_error {
        None => Ok(digest),
        Some(tar_error) => Err(digest_mismatch(layer, &digest).unwrap_or(tar_error)),
    }
}

/// Reads `reader` to its end without copying what it holds.
fn discard(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let available = match reader.fill_buf() {
            Ok(buffer) => buffer.len(),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available == 0 {
            return Ok(());
        }
        reader.consume(available);
    }
}

fn corrupt(compression: Compression, reason: &str) -> PeekError {
    PeekError::Corrupt {
        format: compression.name(),
        reason: reason.to_owned(),
    }
}

/// The download's own failure, which explains a decoder error better than the decoder can.
fn download_error(reader: &ChunkReader) -> Option<PeekError> {
    reader.end.error.clone()
}

fn read_entries<R: Read>(
    walker: &mut TarWalker<R>,
    file_data: FileData,
    progress: &PeekProgress,
    on_entry: &mut dyn FnMut(Entry),
    mut offsets: Option<&mut Vec<u64>>,
    mut tap: Option<&mut dyn FileTap>,
) -> Result<(), TarError> {
    let mut scanner = ContentScanner::default();
    while let Some(member) = walker.next_entry()? {
        // A sparse file's stored data leaves out its holes: its hash would not be the file's.
        let (offset, sparse) = (member.offset, member.sparse);
        if let Some(mut entry) = convert_entry(member) {
            let mut data_error = None;
            let copy = match &mut tap {
                Some(tap) if entry.kind == EntryKind::File && !sparse => tap.copy_to(&entry),
                _ => None,
            };
            if let Some(copy) = copy {
                let mut tee = Tee {
                    data: walker.data(),
                    copy,
                };
                let words = wants_credential_words(entry.name());
                match scanner.scan(&mut tee, words) {
                    Ok(facts) => entry.content = Some(facts),
                    Err(error) => data_error = Some(TarError::of_data_read(error, offset)),
                }
            } else if file_data == FileData::Scan && entry.kind == EntryKind::File && !sparse {
                let words = wants_credential_words(entry.name());
                match scanner.scan(walker.data(), words) {
                    Ok(facts) => entry.content = Some(facts),
                    // The header was valid: list the entry, then report its data.
                    Err(error) => data_error = Some(TarError::of_data_read(error, offset)),
                }
            }
            progress.entries.fetch_add(1, Ordering::Relaxed);
            if let Some(offsets) = &mut offsets {
                offsets.push(if sparse { NO_OFFSET } else { offset });
            }
            on_entry(entry);
            if let Some(error) = data_error {
                return Err(error);
            }
        }
    }
    Ok(())
}

/// File data read through, and copied on the way.
struct Tee<'a, R> {
    data: R,
    copy: &'a mut dyn io::Write,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.data.read(buf)?;
        self.copy.write_all(&buf[..read])?;
        Ok(read)
    }
}

/// Turns a tar member (PAX, GNU long names and sparse headers already applied) into an
/// [`Entry`]; `None` for the layer formats' own metadata files.
pub(crate) fn convert_entry(member: TarEntry) -> Option<Entry> {
    let (path, raw_path) = normalize_path_bytes(&member.path);
    let kind = match EntryKind::by_name(&path) {
        Some(kind) => kind,
        None => match member.entry_type {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                EntryKind::File
            }
            tar::EntryType::Directory => EntryKind::Dir,
            // GNU tar's incremental dumps store directories as `D` members.
            other if other.as_byte() == b'D' => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::Hardlink,
            tar::EntryType::Char => EntryKind::CharDevice,
            tar::EntryType::Block => EntryKind::BlockDevice,
            tar::EntryType::Fifo => EntryKind::Fifo,
            _ => EntryKind::Other,
        },
    };
    if kind == EntryKind::File && FORMAT_METADATA.contains(&path.as_str()) {
        return None;
    }
    // A hardlink names a path of the archive: normalised like paths. A symlink's target is
    // kept as written.
    let (link_target, raw_target) = match member.link_name {
        Some(target) if kind == EntryKind::Hardlink => {
            let (text, raw) = normalize_path_bytes(&target);
            (Some(text), raw)
        }
        Some(target) => match String::from_utf8(target) {
            Ok(text) => (Some(text), None),
            Err(error) => {
                let bytes = error.into_bytes();
                (
                    Some(String::from_utf8_lossy(&bytes).into_owned()),
                    Some(bytes),
                )
            }
        },
        None => (None, None),
    };
    let raw_names = (raw_path.is_some() || raw_target.is_some()).then(|| {
        Box::new(RawNames {
            path: raw_path,
            link_target: raw_target,
        })
    });
    Some(Entry {
        size: if kind == EntryKind::File {
            member.size
        } else {
            0
        },
        path: path.into_boxed_str(),
        kind,
        mode: member.mode & 0o7777,
        uid: member.uid,
        gid: member.gid,
        mtime: member.mtime,
        link_target: link_target.map(String::into_boxed_str),
        content: None,
        raw_names,
    })
}
