//! Random access into ordinary gzip layers (the zran.c technique, as SOCI's zTOC and
//! gztool): while a gzip layer is read whole for its listing, the decoder records a
//! [`Checkpoint`] every few MiB of output at a deflate block boundary (bit offset, output
//! offset, the 32 KiB window, zstd-compressed), and the listing records each entry's offset
//! in the tar stream. Both are kept in the listing cache beside the listing, checksummed.
//!
//! To read one file, [`read_entry_data`] makes one range request from the checkpoint before
//! the file to the checkpoint after its end, restores the window (`inflatePrime` for the bit
//! offset, `inflateSetDictionary` for the window), inflates raw, skips to the file and stops.
//! Nothing of the index is trusted blindly: the file is a checksummed whole, and each
//! checkpoint carries a hash of the 64 KiB it decodes to, checked before a byte is handed
//! out, as is the tar header of the entry. A damaged index, a window that does not match or a
//! blob that changed under its name make [`read_entry_data`] return `None` (the caller
//! streams instead) and drop the index and its listing, so the next listing reads the layer
//! whole and records them again.
//!
//! zstd layers without a table of contents get the same kind of index when they hold several
//! frames: checkpoints at frame starts (see [`crate::layer::zstd_frames`]), no windows, and a
//! fresh zstd decoder from the frame that holds the file's header. A layer of one frame gets
//! none and keeps streaming up to the file's last entry.
//!
//! The ISA-L build (`--features isal`) decodes gzip with ISA-L, which records no checkpoints:
//! its listings say so, and carving gzip layers streams.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use sha2::{Digest as _, Sha256};
use xxhash_rust::xxh3::xxh3_64;

use crate::cancel::CancelToken;
use crate::layer::cache::ListingCache;
pub(crate) use crate::layer::gzip::Checkpoint;
use crate::layer::gzip::{RawInflate, WINDOW_BYTES, check_member_trailer, skip_member_header};
use crate::oci::LayerInfo;
use crate::source::{CountedBlob, ImageSource, RangeReply, SourceError};

/// First bytes of a gzip layer's index file.
const MAGIC: &[u8; 8] = b"LSGZIDX\n";
/// First bytes of a multi-frame zstd layer's index file (the same layout, no windows).
const ZSTD_MAGIC: &[u8; 8] = b"LSZSIDX\n";
/// Bumped whenever the index format changes.
const VERSION: u32 = 1;
/// An entry offset that is not recorded (a sparse file, whose data is not stored plainly).
pub(crate) const NO_OFFSET: u64 = u64::MAX;
/// Bytes of a tar header block.
const BLOCK: u64 = 512;

/// What streaming a layer recorded for its index.
#[derive(Debug, Default)]
pub(crate) struct IndexRecording {
    /// The decoder's checkpoints; `None` when the decoder records none.
    pub checkpoints: Option<Vec<Checkpoint>>,
    /// Each listed entry's header offset in the tar stream, in listing order.
    pub entry_offsets: Vec<u64>,
    /// The checkpoints are zstd frame starts, not deflate block boundaries.
    pub zstd_frames: bool,
}

/// Whether this build records gzip indexes: the ISA-L decoder (`--features isal`) does not,
/// so there a carve after a listing streams the layer up to the file.
pub const RECORDED: bool = cfg!(not(feature = "isal"));

/// A layer's verified random-access index: a gzip layer's, or a multi-frame zstd layer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GzipIndex {
    /// Checkpoints at zstd frame starts (else deflate block boundaries).
    zstd_frames: bool,
    blob_size: u64,
    checkpoints: Vec<Checkpoint>,
    entry_offsets: Vec<u64>,
    encoded_len: usize,
}

impl GzipIndex {
    /// The index of `layer` in `cache`, checked whole; `None` when there is none or it is
    /// damaged (a damaged one is deleted with its listing).
    pub fn load(cache: &ListingCache, layer: &LayerInfo) -> Option<Self> {
        let bytes = cache.read_index(layer.digest())?;
        match decode(&bytes, layer.digest(), layer.size()) {
            Ok(index) => Some(index),
            Err(error) => {
                log::info!("index of {} not used: {error}", layer.short_digest());
                cache.forget(layer.digest());
                None
            }
        }
    }

    /// The tar header offset of the listing's entry number `ordinal` (0-based), when recorded.
    pub fn entry_offset(&self, ordinal: usize) -> Option<u64> {
        self.entry_offsets
            .get(ordinal)
            .copied()
            .filter(|&offset| offset != NO_OFFSET)
    }

    /// Whether it indexes a zstd layer's frames (else a gzip layer's deflate blocks).
    pub fn is_zstd(&self) -> bool {
        self.zstd_frames
    }

    /// How many checkpoints it has.
    pub fn checkpoints(&self) -> usize {
        self.checkpoints.len()
    }

    /// Its size in the cache, in bytes.
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }

    /// The checkpoint to start from for output offset `at` (the last one at or before it).
    fn start_for(&self, at: u64) -> Option<&Checkpoint> {
        let after = self.checkpoints.partition_point(|c| c.out <= at);
        after.checked_sub(1).map(|i| &self.checkpoints[i])
    }

    /// The blob byte after which output offset `end` has surely been produced.
    fn end_for(&self, end: u64) -> u64 {
        self.checkpoints
            .iter()
            .find(|c| c.out >= end)
            // The block that ends at the checkpoint is complete a few bits past it: keep a
            // little slack.
            .map_or(self.blob_size, |c| {
                if self.zstd_frames {
                    // The frame before it ends right there.
                    c.bit / 8
                } else {
                    (c.bit.div_ceil(8) + 16).min(self.blob_size)
                }
            })
    }
}

/// The tar header offset of `layer`'s listed entry number `ordinal`, from its cached index.
pub fn entry_offset(cache: &ListingCache, layer: &LayerInfo, ordinal: usize) -> Option<u64> {
    GzipIndex::load(cache, layer)?.entry_offset(ordinal)
}

/// The data of the regular file whose tar header is at `entry_offset` in `layer` (`size`
/// bytes), read through the layer's cached gzip index with one range request: `None` when
/// there is no index, it is not trusted (then it is dropped, with its listing), or the source
/// cannot serve ranges. `fetched` counts the blob bytes read as they come.
pub fn read_entry_data(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    cache: &ListingCache,
    entry_offset: u64,
    size: u64,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
) -> Result<Option<EntryData>, SourceError> {
    let Some(index) = GzipIndex::load(cache, layer) else {
        return Ok(None);
    };
    match open_entry(&index, source, layer, entry_offset, size, cancel, fetched)? {
        Opened::Data(data) => Ok(Some(data)),
        Opened::Unsupported(reason) => {
            log::info!("index of {} not used: {reason}", layer.short_digest());
            Ok(None)
        }
        Opened::Untrusted(reason) => {
            log::warn!(
                "index of {} does not match its blob ({reason}): dropped",
                layer.short_digest()
            );
            cache.forget(layer.digest());
            Ok(None)
        }
    }
}

enum Opened {
    Data(EntryData),
    Unsupported(String),
    Untrusted(String),
}

fn open_entry(
    index: &GzipIndex,
    source: &dyn ImageSource,
    layer: &LayerInfo,
    entry_offset: u64,
    size: u64,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
) -> Result<Opened, SourceError> {
    let Some(data_end) = entry_offset
        .checked_add(BLOCK)
        .and_then(|start| start.checked_add(size))
    else {
        return Ok(Opened::Untrusted("an impossible entry offset".into()));
    };
    let Some(start) = index.start_for(entry_offset) else {
        return Ok(Opened::Untrusted("no checkpoint before the entry".into()));
    };
    let range = start.bit / 8..index.end_for(data_end);

    let body = match source.open_blob_range(&layer.descriptor, range.clone(), cancel)? {
        RangeReply::Partial(body) => body,
        RangeReply::Unsupported(reason) => return Ok(Opened::Unsupported(reason)),
    };
    let counted = CountedBlob::new(body, fetched, cancel);
    let restored: io::Result<Box<dyn Read + Send>> = if index.zstd_frames {
        zstd::stream::read::Decoder::with_buffer(BufReader::new(counted))
            .map(|decoder| Box::new(decoder) as Box<dyn Read + Send>)
    } else {
        Inflater::restore(BufReader::new(counted), start)
            .map(|inflater| Box::new(inflater) as Box<dyn Read + Send>)
    };
    let mut inflater = match restored {
        Ok(inflater) => inflater,
        Err(error) => return Ok(Opened::Untrusted(error.to_string())),
    };
    // Decode what the checkpoint's check covers and the entry's header before handing out
    // anything: a wrong window or a changed blob shows there.
    let head_len = (u64::from(start.check_len)).max(entry_offset + BLOCK - start.out);
    let mut head = Vec::new();
    if let Err(error) = (&mut inflater).take(head_len).read_to_end(&mut head) {
        return Ok(Opened::Untrusted(error.to_string()));
    }
    let check_len = start.check_len as usize;
    if head.len() as u64 != head_len || xxh3_64(&head[..check_len]) != start.check {
        return Ok(Opened::Untrusted(
            "the checkpoint's window does not decode to what it did".into(),
        ));
    }
    let header_at = (entry_offset - start.out) as usize;
    let header = &head[header_at..header_at + BLOCK as usize];
    if let Err(problem) = check_header(header, size) {
        return Ok(Opened::Untrusted(problem.into()));
    }
    let data_at = header_at + BLOCK as usize;
    let first = io::Cursor::new(head.split_off(data_at));
    Ok(Opened::Data(EntryData {
        inner: Read::chain(first, inflater).take(size),
        size,
        range,
    }))
}

/// Whether `header` is a valid tar header for a regular file of `size` bytes.
fn check_header(header: &[u8], size: u64) -> Result<(), &'static str> {
    let parsed = tar::Header::from_byte_slice(header);
    let recorded = parsed
        .cksum()
        .map_err(|_| "no tar header at the entry's offset")?;
    let unsigned: u32 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    let signed: i64 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(b as i8)
            }
        })
        .sum();
    if recorded != unsigned && i64::from(recorded) != signed {
        return Err("no tar header at the entry's offset");
    }
    if !matches!(parsed.as_bytes()[156], b'0' | 0 | b'7') {
        return Err("the entry at that offset is not a regular file");
    }
    // PAX may give sizes the header cannot hold; those headers say 0.
    match parsed.entry_size() {
        Ok(stored) if stored == size || stored == 0 => Ok(()),
        _ => Err("the entry at that offset has another size"),
    }
}

/// The bytes decoded while checking, then the rest decoded from the range, up to the size.
type EntryStream = io::Take<io::Chain<io::Cursor<Vec<u8>>, Box<dyn Read + Send>>>;

/// One file's data read through the index.
pub struct EntryData {
    inner: EntryStream,
    size: u64,
    range: std::ops::Range<u64>,
}

impl EntryData {
    /// The file's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The blob bytes requested.
    pub fn range(&self) -> std::ops::Range<u64> {
        self.range.clone()
    }
}

impl Read for EntryData {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read == 0 && self.inner.limit() > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the layer ends before the file's data does",
            ));
        }
        Ok(read)
    }
}

/// Inflates a gzip blob from a checkpoint on (raw deflate with the window restored; the
/// members after it are read with their headers), handing out the uncompressed stream from
/// the checkpoint's output offset.
pub(crate) struct Inflater<R: BufRead> {
    input: R,
    inflate: RawInflate,
    /// Output of the current member (for its trailer's length, which is not checked here:
    /// the member may have begun before the checkpoint).
    done: bool,
}

impl<R: BufRead> Inflater<R> {
    /// Restores `checkpoint`; `input` starts at the blob byte holding its bit offset.
    pub(crate) fn restore(mut input: R, checkpoint: &Checkpoint) -> io::Result<Self> {
        let mut inflate = RawInflate::new()?;
        let skip = (checkpoint.bit % 8) as u32;
        if skip != 0 {
            let mut byte = [0u8];
            input.read_exact(&mut byte)?;
            inflate.prime(8 - skip, byte[0] >> skip)?;
        }
        if !checkpoint.window.is_empty() {
            let window = zstd::bulk::decompress(&checkpoint.window, WINDOW_BYTES)?;
            inflate.set_dictionary(&window)?;
        }
        Ok(Self {
            input,
            inflate,
            done: false,
        })
    }
}

impl<R: BufRead> Read for Inflater<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while !self.done && !buf.is_empty() {
            let input = self.input.fill_buf()?;
            let at_end = input.is_empty();
            let done = self.inflate.inflate(input, buf, false)?;
            self.input.consume(done.consumed);
            if done.stream_end {
                // The length field cannot be checked from here; the trailer is skipped.
                check_member_trailer(&mut self.input, 0, None).ok();
                if self.input.fill_buf()?.is_empty() {
                    self.done = true;
                } else {
                    skip_member_header(&mut self.input)?;
                    self.inflate.reset()?;
                }
            } else if done.produced == 0 && at_end {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the range ends in the middle of the deflate data",
                ));
            }
            if done.produced > 0 {
                return Ok(done.produced);
            }
        }
        Ok(0)
    }
}

/// The index file for a layer: `None` when the recording cannot make one (no checkpoints, or
/// not one offset per listed entry).
pub(crate) fn encode(
    digest: &str,
    blob_size: u64,
    recording: &IndexRecording,
    entries: u64,
) -> Option<Vec<u8>> {
    let checkpoints = recording.checkpoints.as_ref()?;
    // One zstd checkpoint is the layer's start: streaming does as well.
    let least = if recording.zstd_frames { 2 } else { 1 };
    if checkpoints.len() < least || recording.entry_offsets.len() as u64 != entries {
        return None;
    }
    let mut out = Vec::new();
    out.extend_from_slice(if recording.zstd_frames {
        ZSTD_MAGIC
    } else {
        MAGIC
    });
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(digest.len() as u32).to_le_bytes());
    out.extend_from_slice(digest.as_bytes());
    out.extend_from_slice(&blob_size.to_le_bytes());
    out.extend_from_slice(&(checkpoints.len() as u64).to_le_bytes());
    for checkpoint in checkpoints {
        out.extend_from_slice(&checkpoint.out.to_le_bytes());
        out.extend_from_slice(&checkpoint.bit.to_le_bytes());
        out.extend_from_slice(&checkpoint.check.to_le_bytes());
        out.extend_from_slice(&checkpoint.check_len.to_le_bytes());
        out.extend_from_slice(&(checkpoint.window.len() as u32).to_le_bytes());
        out.extend_from_slice(&checkpoint.window);
    }
    out.extend_from_slice(&entries.to_le_bytes());
    // Offsets grow along the tar stream: each is stored as a varint of its distance from the
    // previous one, plus one (0 marks an entry without an offset).
    let mut previous = 0u64;
    for &offset in &recording.entry_offsets {
        if offset == NO_OFFSET || offset < previous {
            put_varint(&mut out, 0);
        } else {
            put_varint(&mut out, offset - previous + 1);
            previous = offset;
        }
    }
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    Some(out)
}

/// Reads and checks an index file.
pub(crate) fn decode(bytes: &[u8], digest: &str, blob_size: u64) -> io::Result<GzipIndex> {
    let damaged = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let body_len = bytes
        .len()
        .checked_sub(32)
        .ok_or_else(|| damaged("cut short"))?;
    let (body, checksum) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != checksum {
        return Err(damaged("checksum mismatch"));
    }
    let mut at = Cursor { bytes: body, at: 0 };
    let zstd_frames = match at.take(MAGIC.len())? {
        magic if magic == MAGIC => false,
        magic if magic == ZSTD_MAGIC => true,
        _ => return Err(damaged("another format")),
    };
    if at.u32()? != VERSION {
        return Err(damaged("another format version"));
    }
    let digest_len = at.u32()? as usize;
    if at.take(digest_len)? != digest.as_bytes() || at.u64()? != blob_size {
        return Err(damaged("the index of another blob"));
    }
    let count = at.u64()?;
    let mut checkpoints = Vec::new();
    for _ in 0..count {
        let (out, bit, check, check_len) = (at.u64()?, at.u64()?, at.u64()?, at.u32()?);
        let window_len = at.u32()? as usize;
        let window = at.take(window_len)?.to_vec();
        if bit / 8 >= blob_size
            || (zstd_frames && (bit % 8 != 0 || window_len != 0))
            || check_len > Checkpoint::CHECKED_BYTES
            || checkpoints.last().is_some_and(|c: &Checkpoint| c.out > out)
        {
            return Err(damaged("checkpoints out of order"));
        }
        checkpoints.push(Checkpoint {
            out,
            bit,
            window,
            check,
            check_len,
        });
    }
    let entries = at.u64()?;
    let mut entry_offsets = Vec::new();
    let mut previous = 0u64;
    for _ in 0..entries {
        match at.varint()? {
            0 => entry_offsets.push(NO_OFFSET),
            step => {
                previous += step - 1;
                entry_offsets.push(previous);
            }
        }
    }
    if at.at != body.len() {
        return Err(damaged("junk after the offsets"));
    }
    Ok(GzipIndex {
        zstd_frames,
        blob_size,
        checkpoints,
        entry_offsets,
        encoded_len: bytes.len(),
    })
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize) -> io::Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "cut short"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u32(&mut self) -> io::Result<u32> {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(bytes))
    }

    fn u64(&mut self) -> io::Result<u64> {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(bytes))
    }

    fn varint(&mut self) -> io::Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a varint too long",
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::layer::gzip::DigestCheckedGzDecoder;

    /// Mixed data: text that compresses well and noise that does not.
    fn mixed(len: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut data = Vec::with_capacity(len);
        while data.len() < len {
            for i in 0..3000u32 {
                data.extend_from_slice(format!("line {i} of some text\n").as_bytes());
            }
            for _ in 0..40_000 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                data.push(state as u8);
            }
        }
        data.truncate(len);
        data
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        encoder.write_all(data).expect("gzip");
        encoder.finish().expect("gzip")
    }

    fn record(blob: &[u8], spacing: u64) -> (Vec<u8>, Vec<Checkpoint>) {
        let mut decoder =
            DigestCheckedGzDecoder::recording(io::BufReader::with_capacity(5000, blob), spacing)
                .expect("decoder");
        let mut out = Vec::new();
        decoder.read_to_end(&mut out).expect("decodes");
        (out, decoder.take_checkpoints().expect("recorded"))
    }

    fn inflate_from(blob: &[u8], checkpoint: &Checkpoint, len: usize) -> io::Result<Vec<u8>> {
        let input = &blob[(checkpoint.bit / 8) as usize..];
        let mut out = Vec::new();
        Inflater::restore(io::BufReader::new(input), checkpoint)?
            .take(len as u64)
            .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn every_checkpoint_restarts_inflating_where_it_was_taken_across_members() {
        let (first, second) = (mixed(3 << 20), mixed(2 << 20 | 12345));
        let mut blob = gzip(&first);
        blob.extend(gzip(&second));
        let (decoded, checkpoints) = record(&blob, 256 * 1024);
        assert_eq!(decoded, [first.as_slice(), second.as_slice()].concat());
        assert!(checkpoints.len() >= 18, "{} checkpoints", checkpoints.len());
        assert_eq!(checkpoints[0].out, 0);
        assert!(checkpoints.windows(2).all(|w| w[0].out < w[1].out));
        assert!(
            checkpoints.iter().any(|c| c.bit % 8 != 0),
            "some start inside a byte (inflatePrime)"
        );
        assert!(
            checkpoints.iter().any(|c| c.out > first.len() as u64),
            "checkpoints in the second member"
        );
        for checkpoint in &checkpoints {
            let start = checkpoint.out as usize;
            // Up to the end: through the member boundary, when there is one after it.
            let got = inflate_from(&blob, checkpoint, decoded.len() - start).expect("inflates");
            assert!(got == decoded[start..], "from checkpoint at {start}");
            let checked = &decoded[start..start + checkpoint.check_len as usize];
            assert_eq!(xxh3_64(checked), checkpoint.check);
        }
    }

    #[test]
    fn a_wrong_window_does_not_give_the_checked_bytes() {
        let data = mixed(2 << 20);
        let blob = gzip(&data);
        let (_, checkpoints) = record(&blob, 512 * 1024);
        let checkpoint = checkpoints
            .iter()
            .find(|c| c.out > 0 && c.check_len == Checkpoint::CHECKED_BYTES)
            .expect("a checkpoint inside the member");
        let mut window = zstd::bulk::decompress(&checkpoint.window, WINDOW_BYTES).expect("zstd");
        for byte in window.iter_mut().step_by(7) {
            *byte ^= 0x55;
        }
        let forged = Checkpoint {
            window: zstd::bulk::compress(&window, 1).expect("zstd"),
            ..checkpoint.clone()
        };
        let got = inflate_from(&blob, &forged, checkpoint.check_len as usize);
        assert!(got.is_err() || got.is_ok_and(|got| xxh3_64(&got) != checkpoint.check));
    }

    #[test]
    fn index_files_round_trip_and_damage_is_refused() {
        let blob = gzip(&mixed(1 << 20));
        let (_, checkpoints) = record(&blob, 128 * 1024);
        let recording = IndexRecording {
            checkpoints: Some(checkpoints.clone()),
            entry_offsets: vec![0, 512, NO_OFFSET, 70_000, 1 << 40],
            zstd_frames: false,
        };
        let digest = "sha256:00";
        let size = blob.len() as u64;
        assert_eq!(
            encode(digest, size, &recording, 4),
            None,
            "one offset per entry"
        );
        let bytes = encode(digest, size, &recording, 5).expect("encodes");
        let index = decode(&bytes, digest, size).expect("decodes");
        assert_eq!(index.checkpoints, checkpoints);
        assert_eq!(
            (0..6).map(|i| index.entry_offset(i)).collect::<Vec<_>>(),
            [Some(0), Some(512), None, Some(70_000), Some(1 << 40), None]
        );
        assert!(decode(&bytes[..bytes.len() - 1], digest, size).is_err());
        assert!(decode(&bytes, "sha256:01", size).is_err());
        assert!(decode(&bytes, digest, size + 1).is_err());
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        assert!(decode(&flipped, digest, size).is_err());
    }
}
