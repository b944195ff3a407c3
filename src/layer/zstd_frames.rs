//! Random access into zstd layers without a table of contents: a zstd stream of several frames
//! can restart at any frame's first byte with a fresh decoder (frames share no history), so
//! while such a layer is read whole the decoder records a [`Checkpoint`] at the first frame
//! boundary every [`Checkpoint::SPACING`] bytes of output: the frame's byte offset in the blob
//! (as a bit offset, like gzip's, always a multiple of 8), its offset in the uncompressed
//! stream, no window, and the hash of the first bytes it decodes to. A layer of one frame gets
//! one checkpoint, at its start, which is no index: reading it keeps streaming.

use std::io::{self, BufRead, Read};

use zstd::stream::raw::{Decoder as RawDecoder, InBuffer, Operation as _, OutBuffer};

use crate::layer::gzip::{Checkpoint, CheckpointLog};

/// Decodes a zstd stream of one or more frames, recording a checkpoint at frame starts.
pub(crate) struct FrameRecordingDecoder<R: BufRead> {
    inner: R,
    raw: RawDecoder<'static>,
    /// Blob bytes consumed.
    consumed: u64,
    /// Uncompressed bytes handed out.
    out: u64,
    /// Inside a frame (its end not yet decoded and flushed).
    in_frame: bool,
    spacing: u64,
    next_at: u64,
    log: CheckpointLog,
}

impl<R: BufRead> FrameRecordingDecoder<R> {
    /// A decoder at the start of a zstd stream, recording a checkpoint at the first frame
    /// start at least `spacing` bytes of output after the previous one.
    pub(crate) fn new(inner: R, spacing: u64) -> io::Result<Self> {
        Ok(Self {
            inner,
            raw: RawDecoder::new()?,
            consumed: 0,
            out: 0,
            in_frame: false,
            spacing: spacing.max(1),
            next_at: 0,
            log: CheckpointLog::default(),
        })
    }

    /// The checkpoints recorded (all of them once the stream was read to its end).
    pub(crate) fn take_checkpoints(&mut self) -> Vec<Checkpoint> {
        std::mem::take(&mut self.log).finish()
    }

    /// The underlying reader, after what the decoder consumed.
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: BufRead> Read for FrameRecordingDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.inner.fill_buf()?.is_empty() {
                if self.in_frame {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the zstd stream ends in the middle of a frame",
                    ));
                }
                return Ok(0);
            }
            if !self.in_frame && self.out >= self.next_at {
                self.log.push(Checkpoint {
                    out: self.out,
                    bit: self.consumed * 8,
                    window: Vec::new(),
                    check: 0,
                    check_len: 0,
                });
                self.next_at = self.out + self.spacing;
            }
            self.in_frame = true;
            let input = self.inner.fill_buf()?;
            let mut in_buffer = InBuffer::around(input);
            let mut out_buffer = OutBuffer::around(&mut *buf);
            let hint = self.raw.run(&mut in_buffer, &mut out_buffer)?;
            let (consumed, produced) = (in_buffer.pos(), out_buffer.pos());
            self.inner.consume(consumed);
            self.consumed += consumed as u64;
            self.out += produced as u64;
            if hint == 0 {
                // The frame is decoded and flushed: the next byte starts a frame.
                self.in_frame = false;
            }
            if produced > 0 {
                self.log.feed(&buf[..produced]);
                return Ok(produced);
            }
            if consumed == 0 && hint != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "zstd decoding made no progress",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use xxhash_rust::xxh3::xxh3_64;

    use super::*;

    fn frames(parts: &[&[u8]]) -> Vec<u8> {
        parts
            .iter()
            .flat_map(|part| zstd::bulk::compress(part, 3).expect("zstd"))
            .collect()
    }

    #[test]
    fn checkpoints_fall_on_frame_starts_and_a_fresh_decoder_restarts_there() {
        let parts: Vec<Vec<u8>> = (0..6u8)
            .map(|i| {
                (0..300_000u32)
                    .map(|j| (j.wrapping_mul(2_654_435_761) >> (i + 3)) as u8)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let blob = frames(&refs);
        let whole = parts.concat();
        let mut decoder = FrameRecordingDecoder::new(
            io::BufReader::with_capacity(7000, blob.as_slice()),
            500_000,
        )
        .expect("decoder");
        let mut out = Vec::new();
        decoder.read_to_end(&mut out).expect("decodes");
        assert!(out == whole);
        let checkpoints = decoder.take_checkpoints();
        // Frames start every 300 000 bytes; one at least 500 000 after the last is kept.
        let outs: Vec<u64> = checkpoints.iter().map(|c| c.out).collect();
        assert_eq!(outs, [0, 600_000, 1_200_000]);
        for checkpoint in &checkpoints {
            assert_eq!(checkpoint.bit % 8, 0);
            let from = &blob[(checkpoint.bit / 8) as usize..];
            let got = zstd::stream::decode_all(from).expect("a frame starts there");
            assert!(got == whole[checkpoint.out as usize..]);
            let checked = &got[..checkpoint.check_len as usize];
            assert_eq!(checkpoint.check_len, Checkpoint::CHECKED_BYTES);
            assert_eq!(xxh3_64(checked), checkpoint.check);
        }
    }

    #[test]
    fn a_stream_cut_inside_a_frame_is_an_error() {
        let blob = frames(&[&[7u8; 100_000]]);
        let mut decoder =
            FrameRecordingDecoder::new(&blob[..blob.len() - 3], 1 << 20).expect("decoder");
        assert!(decoder.read_to_end(&mut Vec::new()).is_err());
    }
}
