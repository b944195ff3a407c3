//! Gzip decoding with Intel's ISA-L (`--features isal`): the same streams as flate2's
//! `MultiGzDecoder` (several members, CRC and length checked), in about two thirds of the CPU
//! time on this project's machines. ISA-L is built from the source vendored by `isal-sys`
//! (needs nasm and autotools), so its bindings match the library exactly.
//!
//! The loop around `isal_inflate` is ours: input is lent for one call at a time (no pointer
//! outlives it), and a stream that ends early or stops making progress is an error rather than
//! a hang.

use std::io::{self, BufRead, Read};
use std::ptr;

use isal_sys::igzip_lib as ffi;

/// Decompresses a gzip stream of one or more members from `inner`.
pub(crate) struct IsalGzDecoder<R: BufRead> {
    inner: R,
    state: Box<ffi::inflate_state>,
    /// The current member ended; what follows, if anything, is another member.
    member_done: bool,
    /// The stream ended cleanly after a whole member.
    finished: bool,
    /// An error met while producing the last bytes handed out; reported on the next read.
    failed: Option<io::Error>,
}

impl<R: BufRead> IsalGzDecoder<R> {
    /// A decoder at the start of a gzip stream.
    pub(crate) fn new(inner: R) -> Self {
        // SAFETY: `inflate_state` is a plain C struct (integers, pointers, arrays) for which
        // all-zero bytes are a valid value; `isal_inflate_init` then sets what it reads.
        let mut state: Box<ffi::inflate_state> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `state` points to a live, writable `inflate_state`.
        unsafe { ffi::isal_inflate_init(&mut *state) };
        state.crc_flag = ffi::ISAL_GZIP;
        Self {
            inner,
            state,
            member_done: false,
            finished: false,
            failed: None,
        }
    }

    /// The underlying reader, after what the decoder consumed.
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: BufRead> Read for IsalGzDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        if buf.is_empty() || self.finished {
            return Ok(0);
        }
        let room = buf.len().min(u32::MAX as usize);
        loop {
            let input = self.inner.fill_buf()?;
            if self.member_done {
                if input.is_empty() {
                    self.finished = true;
                    return Ok(0);
                }
                // Another member follows.
                // SAFETY: `state` is a live `inflate_state` set up by `isal_inflate_init`.
                unsafe { ffi::isal_inflate_reset(&mut *self.state) };
                self.state.crc_flag = ffi::ISAL_GZIP;
                self.member_done = false;
            }
            let at_end = input.is_empty();
            let offered = input.len().min(u32::MAX as usize);
            self.state.next_in = input.as_ptr().cast_mut();
            self.state.avail_in = offered as u32;
            self.state.next_out = buf.as_mut_ptr();
            self.state.avail_out = room as u32;
            // SAFETY: `next_in`/`next_out` point into live slices of at least
            // `avail_in`/`avail_out` bytes for the duration of the call; ISA-L reads only the
            // input and writes only the output, and both pointers are cleared right after.
            let status = unsafe { ffi::isal_inflate(&mut *self.state) };
            let consumed = offered - self.state.avail_in as usize;
            let produced = room - self.state.avail_out as usize;
            self.state.next_in = ptr::null_mut();
            self.state.next_out = ptr::null_mut();
            self.state.avail_in = 0;
            self.inner.consume(consumed);
            if status < 0 {
                let error = io::Error::new(io::ErrorKind::InvalidData, describe(status));
                if produced == 0 {
                    return Err(error);
                }
                // Hand out what was decoded before the damage, as flate2 does.
                self.failed = Some(error);
                return Ok(produced);
            }
            if self.state.block_state == ffi::isal_block_state_ISAL_BLOCK_FINISH {
                self.member_done = true;
            }
            if produced > 0 {
                return Ok(produced);
            }
            if self.member_done {
                continue; // a member ended exactly here: see whether another follows
            }
            if at_end {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the gzip stream ends in the middle of a member",
                ));
            }
            if consumed == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "gzip decoding made no progress",
                ));
            }
        }
    }
}

/// ISA-L's error codes in words.
fn describe(status: i32) -> &'static str {
    match status {
        ffi::ISAL_INVALID_BLOCK => "invalid deflate block",
        ffi::ISAL_INVALID_SYMBOL => "invalid deflate symbol",
        ffi::ISAL_INVALID_LOOKBACK => "invalid deflate distance",
        ffi::ISAL_INVALID_WRAPPER => "invalid gzip header",
        ffi::ISAL_UNSUPPORTED_METHOD => "gzip member is not deflate-compressed",
        ffi::ISAL_INCORRECT_CHECKSUM => "gzip checksum mismatch",
        _ => "gzip decoding failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::gzip::testing::{gzip, patterned};

    fn decode(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        IsalGzDecoder::new(io::BufReader::with_capacity(1000, bytes)).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn members_decode_like_flate2_and_damage_is_an_error() {
        let first = patterned();
        let second = b"second member".repeat(1000);
        let mut stream = gzip(&first);
        stream.extend(gzip(&second));
        let mut expected = first.clone();
        expected.extend(&second);
        assert_eq!(decode(&stream).expect("two members"), expected);

        let cut = &stream[..stream.len() / 3];
        let error = decode(cut).expect_err("truncated");
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);

        let mut flipped = gzip(&first);
        let crc_at = flipped.len() - 8;
        flipped[crc_at] ^= 0xff;
        assert!(decode(&flipped).is_err(), "a wrong CRC is caught");
        assert!(decode(b"not gzip at all").is_err());
        assert_eq!(decode(&gzip(b"")).expect("empty member"), b"");
    }
}
