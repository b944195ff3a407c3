//! Gzip for blobs whose sha256 digest is checked: the member headers (RFC 1952) are read
//! here, the deflate data is inflated raw by zlib-rs (through flate2), and each member's
//! length is checked but not its CRC-32. (`--features isal` keeps ISA-L's own gzip handling:
//! in raw mode ISA-L keeps the bytes after a member's deflate data in its bit buffer.)
//!
//! A blob that hashes to its digest holds exactly the bytes its publisher uploaded, and
//! inflating them is deterministic, so the CRC can only repeat what the digest says; on an
//! inflate-bound layer it costs about 4% of the decoding thread. A blob whose digest differs
//! is reported as such (and as corrupt when inflating it fails first). Blobs read without a
//! digest check keep flate2's `MultiGzDecoder`, CRC and all.

use std::io::{self, BufRead, Read};

use flate2::{Decompress, FlushDecompress, Status};

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

/// Reads a member's trailer and checks its length field against `decoded` bytes.
pub(crate) fn check_member_trailer(reader: &mut impl BufRead, decoded: u64) -> io::Result<()> {
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

/// Decodes a gzip stream of one or more members from `inner` with zlib-rs, without the
/// CRC-32 check (see the module's note: for blobs whose digest is checked).
pub(crate) struct DigestCheckedGzDecoder<R: BufRead> {
    inner: R,
    inflate: Decompress,
    phase: Phase,
}

impl<R: BufRead> DigestCheckedGzDecoder<R> {
    /// A decoder at the start of a gzip stream.
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            inflate: Decompress::new(false),
            phase: Phase::Header,
        }
    }

    /// The underlying reader, after what the decoder consumed.
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: BufRead> Read for DigestCheckedGzDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.phase {
                Phase::Done => return Ok(0),
                Phase::Header => {
                    skip_member_header(&mut self.inner)?;
                    self.inflate.reset(false);
                    self.phase = Phase::Body;
                }
                Phase::Body => {
                    let input = self.inner.fill_buf()?;
                    let at_end = input.is_empty();
                    let (read_before, written_before) =
                        (self.inflate.total_in(), self.inflate.total_out());
                    let status = self
                        .inflate
                        .decompress(input, buf, FlushDecompress::None)
                        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
                    let consumed = (self.inflate.total_in() - read_before) as usize;
                    let produced = (self.inflate.total_out() - written_before) as usize;
                    self.inner.consume(consumed);
                    if status == Status::StreamEnd {
                        check_member_trailer(&mut self.inner, self.inflate.total_out())?;
                        self.phase = if another_member(&mut self.inner)? {
                            Phase::Header
                        } else {
                            Phase::Done
                        };
                    } else if produced == 0 && at_end {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the gzip stream ends in the middle of a member",
                        ));
                    } else if produced == 0 && consumed == 0 {
                        return Err(invalid("gzip decoding made no progress"));
                    }
                    if produced > 0 {
                        return Ok(produced);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("gzip");
        encoder.finish().expect("gzip")
    }

    fn decode(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        DigestCheckedGzDecoder::new(io::BufReader::with_capacity(7, bytes))
            .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn members_with_every_header_field_decode_like_flate2() {
        let first: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let mut stream = gzip(&first);
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
    fn damage_is_an_error_and_only_the_crc_goes_unchecked() {
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
        assert_eq!(
            decode(&wrong_crc).expect("the CRC is left to the digest"),
            b"layer data ".repeat(10_000)
        );
    }
}
