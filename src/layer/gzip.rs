//! Gzip for blobs whose sha256 digest is checked (so that an index recorded from them can be
//! trusted): the member headers (RFC 1952) are read here, the deflate data is inflated raw by
//! zlib-rs, and each member's length and CRC-32 are checked as flate2's `MultiGzDecoder`
//! checks them: a blob whose CRC is wrong fails as an extractor (Go's gzip reader, GNU tar)
//! fails, even when it hashes to its digest. (`--features isal` keeps ISA-L's own gzip
//! handling: in raw mode ISA-L keeps the bytes after a member's deflate data in its bit
//! buffer.)
//!
//! The decoder can also record a random-access index while it reads (the zran.c technique):
//! every [`Checkpoint::SPACING`] bytes of output, at the next deflate block boundary, the
//! compressed bit offset, the uncompressed offset and the 32 KiB window (zstd-compressed).
//! That needs zlib's `inflate(Z_BLOCK)`, `inflatePrime`, `inflateSetDictionary` and
//! `inflateGetDictionary`, which flate2 does not expose: [`RawInflate`] calls zlib-rs (the
//! inflate flate2 already decodes with) through its C API, `libz-rs-sys`.

// The ISA-L build decodes with ISA-L; only the index reader uses this module then.
#![cfg_attr(feature = "isal", allow(dead_code))]

use std::io::{self, BufRead, Read};

use libz_rs_sys as zlib;
use xxhash_rust::xxh3::Xxh3;

/// Member header flags (RFC 1952 §2.3.1).
const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;
const RESERVED: u8 = 0b1110_0000;

/// Reads one member header from `reader`, leaving it at the deflate data.
pub(crate) fn skip_member_header(reader: &mut impl BufRead) -> io::Result<()> {
    let mut fixed = [0u8; 10];
    reader.read_exact(&mut fixed).map_err(in_header)?;
    if fixed[..2] != [0x1f, 0x8b] {
        return Err(invalid("invalid gzip header"));
    }
    if fixed[2] != 8 {
        return Err(invalid("gzip member is not deflate-compressed"));
    }
    let flags = fixed[3];
    if flags & RESERVED != 0 {
        return Err(invalid("gzip header sets reserved flags"));
    }
    if flags & FEXTRA != 0 {
        let mut length = [0u8; 2];
        reader.read_exact(&mut length).map_err(in_header)?;
        let length = u64::from(u16::from_le_bytes(length));
        let skipped = io::copy(&mut reader.take(length), &mut io::sink())?;
        if skipped < length {
            return Err(in_header(io::ErrorKind::UnexpectedEof.into()));
        }
    }
    for field in [FNAME, FCOMMENT] {
        if flags & field != 0 {
            let mut text = Vec::new();
            reader.read_until(0, &mut text)?;
            if text.last() != Some(&0) {
                return Err(in_header(io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }
    if flags & FHCRC != 0 {
        reader.read_exact(&mut [0u8; 2]).map_err(in_header)?;
    }
    Ok(())
}

/// Reads a member's trailer and checks its length field against `decoded` bytes, and its
/// CRC-32 against `crc` when given.
pub(crate) fn check_member_trailer(
    reader: &mut impl BufRead,
    decoded: u64,
    crc: Option<u32>,
) -> io::Result<()> {
    let mut trailer = [0u8; 8];
    reader.read_exact(&mut trailer).map_err(|error| {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(error.kind(), "the gzip stream ends in a member trailer")
        } else {
            error
        }
    })?;
    let length = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    // The field holds the length modulo 2^32.
    if length != decoded as u32 {
        return Err(invalid("gzip member length mismatch"));
    }
    let stored = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    if crc.is_some_and(|crc| crc != stored) {
        return Err(invalid(
            "corrupt gzip stream does not have a matching checksum",
        ));
    }
    Ok(())
}

/// Whether another member follows the one just ended (anything but the end of the stream).
pub(crate) fn another_member(reader: &mut impl BufRead) -> io::Result<bool> {
    Ok(!reader.fill_buf()?.is_empty())
}

fn in_header(error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        io::Error::new(error.kind(), "the gzip stream ends in a member header")
    } else {
        error
    }
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Bytes of a deflate window (32 KiB: the largest distance a back-reference reaches).
pub(crate) const WINDOW_BYTES: usize = 32 * 1024;

/// zlib-rs's raw inflate, with the calls random access needs.
pub(crate) struct RawInflate {
    /// Boxed: a zlib stream must not move once initialised.
    stream: Box<zlib::z_stream>,
}

/// What one [`RawInflate::inflate`] call did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inflated {
    /// Input bytes consumed.
    pub consumed: usize,
    /// Output bytes written.
    pub produced: usize,
    /// The deflate stream's last block ended.
    pub stream_end: bool,
}

fn zlib_error(call: &str, code: i32) -> io::Error {
    let kind = if code == zlib::Z_DATA_ERROR {
        io::ErrorKind::InvalidData
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, format!("{call} failed (zlib code {code})"))
}

impl RawInflate {
    /// A raw (headerless) inflate with a 32 KiB window.
    pub(crate) fn new() -> io::Result<Self> {
        let mut stream = Box::new(zlib::z_stream::default());
        // SAFETY: a default stream (null allocators: zlib-rs's own) and the library's version.
        let code = unsafe {
            zlib::inflateInit2_(
                &mut *stream,
                -15,
                zlib::zlibVersion(),
                std::mem::size_of::<zlib::z_stream>() as i32,
            )
        };
        if code != zlib::Z_OK {
            return Err(zlib_error("inflateInit2", code));
        }
        Ok(Self { stream })
    }

    /// Starts a new raw deflate stream (the next gzip member).
    pub(crate) fn reset(&mut self) -> io::Result<()> {
        // SAFETY: the stream was initialised by `new`.
        match unsafe { zlib::inflateReset(&mut *self.stream) } {
            zlib::Z_OK => Ok(()),
            code => Err(zlib_error("inflateReset", code)),
        }
    }

    /// Inflates `input` into `output`; with `to_block_end`, stops at the next deflate block
    /// boundary (zlib's `Z_BLOCK`).
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        to_block_end: bool,
    ) -> io::Result<Inflated> {
        let (in_len, out_len) = (
            input.len().min(u32::MAX as usize),
            output.len().min(u32::MAX as usize),
        );
        self.stream.next_in = input.as_ptr();
        self.stream.avail_in = in_len as u32;
        self.stream.next_out = output.as_mut_ptr();
        self.stream.avail_out = out_len as u32;
        let flush = if to_block_end {
            zlib::Z_BLOCK
        } else {
            zlib::Z_NO_FLUSH
        };
        // SAFETY: initialised stream; next_in/next_out point into `input`/`output`, valid for
        // the lengths given, and are cleared before they go out of scope.
        let code = unsafe { zlib::inflate(&mut *self.stream, flush) };
        let done = Inflated {
            consumed: in_len - self.stream.avail_in as usize,
            produced: out_len - self.stream.avail_out as usize,
            stream_end: code == zlib::Z_STREAM_END,
        };
        self.stream.next_in = std::ptr::null();
        self.stream.avail_in = 0;
        self.stream.next_out = std::ptr::null_mut();
        self.stream.avail_out = 0;
        match code {
            zlib::Z_OK | zlib::Z_STREAM_END | zlib::Z_BUF_ERROR => Ok(done),
            zlib::Z_NEED_DICT | zlib::Z_DATA_ERROR => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "invalid deflate data",
            )),
            code => Err(zlib_error("inflate", code)),
        }
    }

    /// zlib's `data_type` after the last call: unused bits in the low 6, 64 when in the last
    /// block, 128 at a block boundary.
    fn data_type(&self) -> i32 {
        self.stream.data_type
    }

    /// Feeds the `bits` low bits of `value` before the next input (zlib's `inflatePrime`).
    pub(crate) fn prime(&mut self, bits: u32, value: u8) -> io::Result<()> {
        // SAFETY: the stream was initialised by `new`.
        match unsafe { zlib::inflatePrime(&mut *self.stream, bits as i32, i32::from(value)) } {
            zlib::Z_OK => Ok(()),
            code => Err(zlib_error("inflatePrime", code)),
        }
    }

    /// Sets the window back-references read from (zlib's `inflateSetDictionary`).
    pub(crate) fn set_dictionary(&mut self, window: &[u8]) -> io::Result<()> {
        let len = u32::try_from(window.len()).map_err(|_| io::Error::other("window too long"))?;
        // SAFETY: initialised stream; `window` is valid for `len` bytes.
        match unsafe { zlib::inflateSetDictionary(&mut *self.stream, window.as_ptr(), len) } {
            zlib::Z_OK => Ok(()),
            code => Err(zlib_error("inflateSetDictionary", code)),
        }
    }

    /// The current window, oldest byte first (zlib's `inflateGetDictionary`).
    fn dictionary(&self, window: &mut [u8; WINDOW_BYTES]) -> io::Result<usize> {
        let mut len = 0u32;
        // SAFETY: initialised stream; the window holds at most 2^15 bytes (window bits 15),
        // which `window` fits.
        match unsafe { zlib::inflateGetDictionary(&*self.stream, window.as_mut_ptr(), &mut len) } {
            zlib::Z_OK => Ok(len as usize),
            code => Err(zlib_error("inflateGetDictionary", code)),
        }
    }
}

// SAFETY: the stream owns its state on the heap, and its input and output pointers are
// cleared after every call: nothing ties it to the thread that made it.
unsafe impl Send for RawInflate {}

impl Drop for RawInflate {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised by `new` and is not used after this.
        unsafe { zlib::inflateEnd(&mut *self.stream) };
    }
}

/// A place where inflating can restart: a deflate block boundary (or a member's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// Offset in the uncompressed stream (all members together).
    pub out: u64,
    /// Offset of the next block in the blob, in bits.
    pub bit: u64,
    /// The 32 KiB before `out` (less at a member's start), zstd-compressed.
    pub window: Vec<u8>,
    /// XXH3-64 of the `check_len` uncompressed bytes from `out` on: a restored window or a
    /// changed blob that does not give them is not trusted.
    pub check: u64,
    /// Bytes `check` covers (at most [`Checkpoint::CHECKED_BYTES`]).
    pub check_len: u32,
}

impl Checkpoint {
    /// Uncompressed bytes between checkpoints.
    pub(crate) const SPACING: u64 = 4 << 20;
    /// Uncompressed bytes after a checkpoint that its check covers.
    pub(crate) const CHECKED_BYTES: u32 = 64 * 1024;
}

/// Checkpoints as a decoder takes them, each one's check (the hash of the output after it)
/// filled in as that output passes. Shared by the gzip and the zstd-frame recorders.
#[derive(Default)]
pub(crate) struct CheckpointLog {
    checkpoints: Vec<Checkpoint>,
    /// The check of the newest checkpoint, still hashing.
    pending: Option<(Xxh3, u32)>,
}

impl CheckpointLog {
    /// Adds `checkpoint` (its check still to come), ending the previous one's check.
    pub(crate) fn push(&mut self, checkpoint: Checkpoint) {
        self.finish_check();
        self.checkpoints.push(checkpoint);
        self.pending = Some((Xxh3::new(), 0));
    }

    /// Output the decoder handed out since the last call.
    pub(crate) fn feed(&mut self, output: &[u8]) {
        if let Some((hasher, len)) = &mut self.pending {
            let take = output
                .len()
                .min((Checkpoint::CHECKED_BYTES - *len) as usize);
            hasher.update(&output[..take]);
            *len += take as u32;
            if *len == Checkpoint::CHECKED_BYTES {
                self.finish_check();
            }
        }
    }

    /// Every checkpoint, the newest one's check over what output it had.
    pub(crate) fn finish(mut self) -> Vec<Checkpoint> {
        self.finish_check();
        self.checkpoints
    }

    fn finish_check(&mut self) {
        if let (Some((hasher, len)), Some(last)) =
            (self.pending.take(), self.checkpoints.last_mut())
        {
            last.check = hasher.digest();
            last.check_len = len;
        }
    }
}

/// Records checkpoints while a decoder reads.
struct Recorder {
    spacing: u64,
    next_at: u64,
    log: CheckpointLog,
    window: Box<[u8; WINDOW_BYTES]>,
}

impl Recorder {
    fn record(&mut self, inflate: &mut RawInflate, out: u64, bit: u64) -> io::Result<()> {
        let have = inflate.dictionary(&mut self.window)?;
        let window = zstd::bulk::compress(&self.window[..have], 1)?;
        self.log.push(Checkpoint {
            out,
            bit,
            window,
            check: 0,
            check_len: 0,
        });
        self.next_at = out + self.spacing;
        Ok(())
    }
}

/// A `BufRead` that counts the bytes consumed from it.
pub(crate) struct Counting<R> {
    inner: R,
    consumed: u64,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.consumed += read as u64;
        Ok(read)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.consumed += amount as u64;
        self.inner.consume(amount);
    }
}

/// Where a decoder is in its stream of members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// At a member header (the first, or one after a trailer).
    Header,
    /// In a member's deflate data.
    Body,
    /// After the last member.
    Done,
}

/// Decodes a gzip stream of one or more members from `inner` with zlib-rs, lengths and CRC-32
/// checked, optionally recording checkpoints for random access.
pub(crate) struct DigestCheckedGzDecoder<R: BufRead> {
    inner: Counting<R>,
    inflate: RawInflate,
    phase: Phase,
    /// Uncompressed bytes of the earlier members.
    earlier_members: u64,
    /// Uncompressed bytes of the current member.
    member_out: u64,
    /// The CRC-32 of the current member's output so far.
    member_crc: flate2::Crc,
    recorder: Option<Box<Recorder>>,
    /// An error met after producing the bytes last handed out (a bad trailer): reported on
    /// the next read, so that the data before it still reaches the reader, as with flate2.
    failed: Option<io::Error>,
}

impl<R: BufRead> DigestCheckedGzDecoder<R> {
    /// A decoder at the start of a gzip stream.
    pub(crate) fn new(inner: R) -> io::Result<Self> {
        Ok(Self {
            inner: Counting { inner, consumed: 0 },
            inflate: RawInflate::new()?,
            phase: Phase::Header,
            earlier_members: 0,
            member_out: 0,
            member_crc: flate2::Crc::new(),
            failed: None,
            recorder: None,
        })
    }

    /// A decoder that also records a checkpoint every `spacing` bytes of output (see
    /// [`take_checkpoints`](Self::take_checkpoints)).
    pub(crate) fn recording(inner: R, spacing: u64) -> io::Result<Self> {
        let mut decoder = Self::new(inner)?;
        decoder.recorder = Some(Box::new(Recorder {
            spacing: spacing.max(1),
            next_at: 0,
            log: CheckpointLog::default(),
            window: Box::new([0; WINDOW_BYTES]),
        }));
        Ok(decoder)
    }

    /// The checkpoints recorded so far (all of them once the stream was read to its end).
    pub(crate) fn take_checkpoints(&mut self) -> Option<Vec<Checkpoint>> {
        Some(self.recorder.take()?.log.finish())
    }

    /// The underlying reader, after what the decoder consumed.
    pub(crate) fn into_inner(self) -> R {
        self.inner.inner
    }

    fn out(&self) -> u64 {
        self.earlier_members + self.member_out
    }
}

impl<R: BufRead> Read for DigestCheckedGzDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.phase {
                Phase::Done => return Ok(0),
                Phase::Header => {
                    skip_member_header(&mut self.inner)?;
                    self.inflate.reset()?;
                    self.earlier_members += self.member_out;
                    self.member_out = 0;
                    self.member_crc.reset();
                    self.phase = Phase::Body;
                    let (out, bit) = (self.out(), self.inner.consumed * 8);
                    if let Some(recorder) = &mut self.recorder
                        && out >= recorder.next_at
                    {
                        recorder.record(&mut self.inflate, out, bit)?;
                    }
                }
                Phase::Body => {
                    let to_block_end = self
                        .recorder
                        .as_ref()
                        .is_some_and(|recorder| self.out() >= recorder.next_at);
                    let input = self.inner.fill_buf()?;
                    let at_end = input.is_empty();
                    let done = self.inflate.inflate(input, buf, to_block_end)?;
                    self.inner.consume(done.consumed);
                    self.member_out += done.produced as u64;
                    self.member_crc.update(&buf[..done.produced]);
                    if let Some(recorder) = &mut self.recorder {
                        recorder.log.feed(&buf[..done.produced]);
                        let data_type = self.inflate.data_type();
                        if to_block_end
                            && !done.stream_end
                            && data_type & 128 != 0
                            && data_type & 64 == 0
                        {
                            let unused = (data_type & 63) as u64;
                            let bit = self.inner.consumed * 8 - unused;
                            let out = self.earlier_members + self.member_out;
                            recorder.record(&mut self.inflate, out, bit)?;
                        }
                    }
                    if done.stream_end {
                        let crc = Some(self.member_crc.sum());
                        let ended = check_member_trailer(&mut self.inner, self.member_out, crc)
                            .and_then(|()| another_member(&mut self.inner));
                        match ended {
                            Ok(more) => {
                                self.phase = if more { Phase::Header } else { Phase::Done };
                            }
                            Err(error) if done.produced > 0 => {
                                self.phase = Phase::Done;
                                self.failed = Some(error);
                            }
                            Err(error) => return Err(error),
                        }
                    } else if done.produced == 0 && at_end {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the gzip stream ends in the middle of a member",
                        ));
                    } else if done.produced == 0 && done.consumed == 0 && !to_block_end {
                        return Err(invalid("gzip decoding made no progress"));
                    }
                    if done.produced > 0 {
                        return Ok(done.produced);
                    }
                }
            }
        }
    }
}

/// Gzip streams for the gzip decoders' unit tests.
#[cfg(test)]
pub(super) mod testing {
    use std::io::Write as _;

    /// `data` as one gzip member (flate2's default level).
    pub(in crate::layer) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("gzip");
        encoder.finish().expect("gzip")
    }

    /// 800,000 bytes of a short repeating pattern: a member of several deflate blocks.
    pub(in crate::layer) fn patterned() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::testing::{gzip, patterned};
    use super::*;

    fn decode(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        DigestCheckedGzDecoder::new(io::BufReader::with_capacity(7, bytes))?
            .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn members_with_every_header_field_decode_like_flate2() {
        let mut stream = gzip(&patterned());
        let mut encoder = flate2::GzBuilder::new()
            .filename("name.tar")
            .comment("a comment")
            .extra(b"extra field".to_vec())
            .write(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"second member").expect("gzip");
        stream.extend(encoder.finish().expect("gzip"));
        stream.extend(gzip(b""));
        let mut expected = Vec::new();
        flate2::read::MultiGzDecoder::new(stream.as_slice())
            .read_to_end(&mut expected)
            .expect("flate2 decodes it");
        assert_eq!(decode(&stream).expect("decodes"), expected);
        assert!(expected.ends_with(b"second member"));
    }

    #[test]
    fn damage_is_an_error() {
        let stream = gzip(&b"layer data ".repeat(10_000));
        let truncated = &stream[..stream.len() - 3];
        assert_eq!(
            decode(truncated).map(|_| ()).map_err(|e| e.kind()),
            Err(io::ErrorKind::UnexpectedEof)
        );
        let mut wrong_length = stream.clone();
        let at = wrong_length.len() - 1;
        wrong_length[at] ^= 1;
        assert!(decode(&wrong_length).is_err());
        let mut trailing = stream.clone();
        trailing.extend(b"not gzip");
        assert!(decode(&trailing).is_err());
        let mut wrong_crc = stream.clone();
        let at = wrong_crc.len() - 8;
        wrong_crc[at] ^= 1;
        let error = decode(&wrong_crc).expect_err("a wrong CRC is an error");
        assert!(error.to_string().contains("checksum"), "{error}");
    }
}
