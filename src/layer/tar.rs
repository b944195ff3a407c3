//! A streaming tar header walker: 512-byte blocks in, one [`TarEntry`] per archive member out,
//! read the way GNU tar, Go's `archive/tar` and Python's `tarfile` agree to read them.
//!
//! Built on the `tar` crate's [`Header`] views (link names, GNU sparse records) but not on its
//! `Archive` iterator, which rejects several metadata headers before
//! one member, reports the sparse placeholder name `GNUSparseFile.N/NAME`, accepts only the
//! unsigned header checksum, keeps bytes after a NUL in GNU long names, fails some sparse
//! maps and returns PAX global headers as members.
//!
//! What the walker does:
//! - memory stays constant: member data is read and discarded (never kept), and the only
//!   buffered metadata (PAX records, GNU long names) is refused above [`MAX_METADATA_SIZE`];
//! - a header's checksum may be the unsigned or the signed sum of its bytes (old Sun and GNU
//!   writers used signed bytes);
//! - GNU long names (`L`) and long links (`K`) are cut at their first NUL; of several before
//!   one member the last wins;
//! - PAX records (`x`, and Solaris `X`) are parsed strictly; of several extended headers before
//!   one member the last replaces the earlier ones, as GNU tar, bsdtar and Go do (Python keeps
//!   the first); an empty `path` or `linkpath`, which readers take in different ways, is an
//!   error; PAX global headers (`g`) are metadata only, their `uid`, `gid` and `mtime` apply
//!   to later members (an empty value deletes one), their `path` and `linkpath` to none (as
//!   Go and bsdtar read them);
//! - a header's prefix field is joined to its name as Go reads it: for ustar and star headers,
//!   and for GNU headers only when it holds a pre-Go 1.8 prefix instead of atime and ctime;
//! - metadata headers followed by the end of the archive describe nothing: the archive ends
//!   there, as GNU tar and Go read it;
//! - GNU sparse files, old-GNU `S` members and PAX formats 0.0, 0.1 and 1.0, are listed under
//!   their real name with their apparent size, and their sparse maps are checked as Go checks
//!   them;
//! - sizes are parsed strictly: garbage, negative (base-256) or absurd values
//!   (over [`MAX_STORED_SIZE`]) are errors, never a guess.

use std::io::{self, Read, Seek, SeekFrom};

use tar::{EntryType, GnuExtSparseHeader, Header};

/// Size of a tar block.
pub const BLOCK_SIZE: u64 = 512;
/// Largest PAX extended header or GNU long name/link accepted (they are buffered).
pub const MAX_METADATA_SIZE: u64 = 1 << 20;
/// Largest member data accepted (1 TiB): larger sizes are taken for corruption.
pub const MAX_STORED_SIZE: u64 = 1 << 40;
/// Bytes per read while skipping member data.
const SKIP_CHUNK: usize = 32 * 1024;
/// Longest number accepted in a sparse 1.0 map (a u64 has 20 decimal digits).
const MAX_MAP_TOKEN: usize = 24;

/// Why walking a tar stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// Reading the underlying stream failed (a decompression or download error): the tar
    /// data itself may be fine.
    #[error("reading the stream failed: {0}")]
    Read(#[source] io::Error),
    /// The bytes are not a valid tar archive.
    #[error("invalid tar data at byte {offset}: {problem}")]
    Invalid {
        /// Offset in the uncompressed stream of the header block at fault.
        offset: u64,
        /// What is wrong with it.
        problem: TarProblem,
    },
}

/// What is wrong with a tar header or its metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TarProblem {
    /// The stored checksum matches neither the unsigned nor the signed sum of the bytes.
    #[error(
        "header checksum mismatch (stored {stored}, computed {unsigned} unsigned or {signed} signed)"
    )]
    Checksum {
        /// The checksum field's value.
        stored: i64,
        /// The sum of the header's bytes as unsigned values.
        unsigned: i64,
        /// The sum of the header's bytes as signed values.
        signed: i64,
    },
    /// A numeric header field holds something other than a number.
    #[error("the {field} field is not a valid number ({text:?})")]
    BadNumber {
        /// Which field.
        field: &'static str,
        /// Its bytes, lossily decoded.
        text: String,
    },
    /// A size is negative.
    #[error("negative {field} ({value})")]
    Negative {
        /// Which field.
        field: &'static str,
        /// The value.
        value: i64,
    },
    /// A size is larger than any sane member.
    #[error("{field} of {value} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Which field.
        field: &'static str,
        /// The value.
        value: u64,
        /// The limit it exceeds.
        limit: u64,
    },
    /// A PAX extended header record does not follow `LEN KEY=VALUE\n`, or its value is
    /// invalid for its key.
    #[error("invalid PAX record: {0}")]
    PaxRecord(String),
    /// A GNU sparse map is malformed or inconsistent.
    #[error("invalid GNU sparse map: {0}")]
    SparseMap(String),
    /// A GNU sparse member in a format version this walker does not know.
    #[error("unsupported GNU sparse format version {0}")]
    SparseVersion(String),
    /// The stream ends in the middle of something.
    #[error("the stream ends inside {0}")]
    Truncated(&'static str),
}

/// One archive member, with its metadata headers applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    /// Offset of the member's own header in the uncompressed stream (after the PAX or GNU
    /// headers describing it).
    pub offset: u64,
    /// The member type; an old-style regular file whose name ends in `/` is a directory.
    /// Sparse members of every format are [`EntryType::Regular`] or [`EntryType::GNUSparse`].
    pub entry_type: EntryType,
    /// The full path as stored (PAX `path`, GNU long name or ustar `prefix/name`), not
    /// normalised.
    pub path: Vec<u8>,
    /// The link target (PAX `linkpath`, GNU long link or the header field), if any.
    pub link_name: Option<Vec<u8>>,
    /// The apparent size: the real size of a sparse file, the stored size otherwise.
    pub size: u64,
    /// Bytes of data the member occupies in the archive (before padding).
    pub stored_size: u64,
    /// True for a GNU sparse file (any format).
    pub sparse: bool,
    /// Mode bits as stored.
    pub mode: u32,
    /// Owner user id (0 when negative).
    pub uid: u64,
    /// Owner group id (0 when negative).
    pub gid: u64,
    /// Modification time in seconds since the epoch (0 before it).
    pub mtime: u64,
}

/// Reads tar members one after another from a stream, skipping their data.
pub struct TarWalker<R> {
    reader: R,
    /// Bytes consumed from `reader`.
    position: u64,
    /// Data and padding of the previous member still to skip, and that member's offset.
    to_skip: u64,
    to_skip_owner: u64,
    /// Data bytes of the last member not yet read (part of `to_skip`).
    data_left: u64,
    /// PAX global values for later members.
    global: GlobalRecords,
    finished: bool,
    scratch: Vec<u8>,
    /// Moves a seekable reader forward, so that member data is skipped without being read
    /// (see [`TarWalker::new_seekable`]).
    seek_forward: Option<fn(&mut R, u64) -> io::Result<()>>,
}

impl<R: Read> TarWalker<R> {
    /// A walker at the start of a tar stream.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            position: 0,
            to_skip: 0,
            to_skip_owner: 0,
            data_left: 0,
            global: GlobalRecords::default(),
            finished: false,
            scratch: Vec::new(),
            seek_forward: None,
        }
    }

    /// Bytes of the stream consumed so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The underlying reader, positioned after the last byte consumed (after the end-of-archive
    /// block, or wherever an error stopped the walk).
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// The data of the member last returned by [`next_entry`](Self::next_entry), as stored
    /// (for a sparse file: its data regions without the holes). Whatever is not read is
    /// skipped before the next header.
    pub fn data(&mut self) -> EntryData<'_, R> {
        EntryData { walker: self }
    }

    /// The next member, `Ok(None)` at the end of the archive (a zero block, or the end of the
    /// stream at a header boundary). After an error or the end, always `Ok(None)`.
    pub fn next_entry(&mut self) -> Result<Option<TarEntry>, TarError> {
        if self.finished {
            return Ok(None);
        }
        let next = self.read_member();
        if !matches!(next, Ok(Some(_))) {
            self.finished = true;
        }
        next
    }

    fn read_member(&mut self) -> Result<Option<TarEntry>, TarError> {
        // Metadata collected for the member that follows, and where the first of it began.
        let mut pax: Option<PaxRecords> = None;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut header = Header::new_old();
        loop {
            let (amount, owner) = (self.to_skip, self.to_skip_owner);
            self.to_skip = 0;
            self.data_left = 0;
            self.skip(amount, owner, "an entry's data")?;
            let offset = self.position;
            let end_of_archive =
                !self.read_block(header.as_mut_bytes(), offset)? || is_zero_block(&header);
            if end_of_archive {
                // Metadata headers not followed by their member describe nothing: GNU tar and Go
                // end the archive there without a word (Python and bsdtar refuse it).
                return Ok(None);
            }
            verify_checksum(&header).map_err(|p| invalid(offset, p))?;
            let typeflag = header.as_old().linkflag[0];
            let size = stored_size(&header).map_err(|p| invalid(offset, p))?;
            let what = match typeflag {
                b'x' | b'X' => "PAX extended",
                b'g' => "PAX global",
                b'L' => "GNU long name",
                b'K' => "GNU long link",
                _ => {
                    let metadata = Metadata {
                        pax,
                        long_name,
                        long_link,
                    };
                    return self.member(&header, offset, size, metadata).map(Some);
                }
            };
            let data = self.read_metadata(size, offset, what)?;
            match typeflag {
                b'x' | b'X' => {
                    pax = Some(PaxRecords::parse(&data).map_err(|p| invalid(offset, p))?)
                }
                b'g' => {
                    // Applies to all later members, not only the next.
                    self.global
                        .merge_global(&data)
                        .map_err(|p| invalid(offset, p))?;
                }
                b'L' => long_name = Some(cut_at_nul(data)),
                _ => long_link = Some(cut_at_nul(data)),
            }
        }
    }

    /// Builds the member described by `header` and its metadata; arranges for its data to be
    /// skipped before the next header.
    fn member(
        &mut self,
        header: &Header,
        offset: u64,
        header_size: u64,
        metadata: Metadata,
    ) -> Result<TarEntry, TarError> {
        let at = |problem| invalid(offset, problem);
        let Metadata {
            pax,
            long_name,
            long_link,
        } = metadata;
        let pax = pax.unwrap_or_default();
        let global = &self.global;
        let typeflag = header.as_old().linkflag[0];
        let mut entry_type = header.entry_type();

        let stored_size = match pax.size {
            Some(size) => size,
            None => header_size,
        };
        let mut path = pax
            .path
            .clone()
            .or(long_name)
            .unwrap_or_else(|| header_path(header));
        let link_name = pax
            .linkpath
            .clone()
            .or(long_link)
            .or_else(|| header.link_name_bytes().map(|l| l.into_owned()));
        if typeflag == 0 && path.ends_with(b"/") {
            entry_type = EntryType::Directory; // the old (v7) way to store a directory
        }
        let mode = numeric(&header.as_old().mode, "mode").map_err(at)?;
        let uid = match pax.uid.or(global.uid) {
            Some(uid) => uid,
            None => numeric(&header.as_old().uid, "uid").map_err(at)?,
        };
        let gid = match pax.gid.or(global.gid) {
            Some(gid) => gid,
            None => numeric(&header.as_old().gid, "gid").map_err(at)?,
        };
        let mtime = match pax.mtime.or(global.mtime) {
            Some(mtime) => mtime,
            None => numeric(&header.as_old().mtime, "mtime").map_err(at)?,
        };

        // Header-only types carry no data whatever their size field says (Go and Python).
        let mut data_size = if is_header_only(typeflag) {
            0
        } else {
            stored_size
        };
        let mut size = data_size;
        let mut sparse = false;
        if typeflag == b'S' {
            size = self.old_gnu_sparse(header, offset)?;
            sparse = true;
        } else if let Some(version) = pax.sparse_version().map_err(at)?
            && !is_header_only(typeflag)
        {
            let real_size = pax
                .sparse
                .size
                .or(pax.sparse.realsize)
                .ok_or_else(|| at(sparse_error("no GNU.sparse.size or GNU.sparse.realsize")))?;
            match (&pax.sparse.name, version) {
                (Some(name), _) => path = name.clone(),
                // 0.0 keeps the real name in the header; later versions use a placeholder.
                (None, SparseVersion::V0_0) => {}
                (None, _) => return Err(at(sparse_error("no GNU.sparse.name"))),
            }
            if version == SparseVersion::V1_0 {
                let map_size = self.sparse_map_1_0(offset, stored_size, real_size)?;
                data_size -= map_size;
            } else {
                let map = pax.sparse.map.as_deref().unwrap_or_default();
                if let Some(blocks) = pax.sparse.numblocks
                    && blocks != map.len() as u64
                {
                    return Err(at(sparse_error(&format!(
                        "GNU.sparse.numblocks is {blocks} but the map has {} entries",
                        map.len()
                    ))));
                }
                let mut check = SparseCheck::new(real_size);
                for &(region_offset, length) in map {
                    check.region(region_offset, length).map_err(at)?;
                }
            }
            size = real_size;
            sparse = true;
        }
        self.to_skip = data_size + padding(data_size);
        self.to_skip_owner = offset;
        self.data_left = data_size;
        Ok(TarEntry {
            offset,
            entry_type,
            path,
            link_name,
            size,
            stored_size,
            sparse,
            mode: mode.clamp(0, i64::from(u32::MAX)) as u32,
            uid: uid.max(0) as u64,
            gid: gid.max(0) as u64,
            mtime: mtime.max(0) as u64,
        })
    }

    /// Reads the old-GNU sparse map (in the header, then in extension blocks); returns the
    /// apparent size.
    fn old_gnu_sparse(&mut self, header: &Header, offset: u64) -> Result<u64, TarError> {
        let at = |problem| invalid(offset, problem);
        let gnu = header.as_gnu().ok_or_else(|| {
            at(sparse_error(
                "an old-GNU sparse header without the GNU magic",
            ))
        })?;
        let real_size = numeric(&gnu.realsize, "real size").map_err(at)?;
        let real_size = non_negative(real_size, "real size").map_err(at)?;
        let mut check = SparseCheck::new(real_size);
        let mut ended = check.records(&gnu.sparse).map_err(at)?;
        let mut extended = gnu.isextended[0] != 0;
        let mut block = GnuExtSparseHeader::new();
        while extended {
            let block_offset = self.position;
            if !self.read_block(block.as_mut_bytes(), block_offset)? {
                return Err(invalid(
                    block_offset,
                    TarProblem::Truncated("a sparse header"),
                ));
            }
            if !ended {
                ended = check.records(block.sparse()).map_err(at)?;
            }
            extended = block.isextended[0] != 0;
        }
        Ok(real_size)
    }

    /// Reads and checks the sparse 1.0 map at the start of the member's data; returns the
    /// bytes it occupies (whole blocks).
    fn sparse_map_1_0(
        &mut self,
        offset: u64,
        stored_size: u64,
        real_size: u64,
    ) -> Result<u64, TarError> {
        let at = |problem| invalid(offset, problem);
        let mut reader = MapReader {
            walker: self,
            block: [0; BLOCK_SIZE as usize],
            used: BLOCK_SIZE as usize,
            consumed: 0,
            stored_size,
            offset,
        };
        let count = reader.number()?;
        let mut check = SparseCheck::new(real_size);
        let mut remaining = count;
        while remaining > 0 {
            let region_offset = reader.number()?;
            let length = reader.number()?;
            check.region(region_offset, length).map_err(at)?;
            remaining -= 1;
        }
        Ok(reader.consumed)
    }

    /// Reads one block; `Ok(false)` at the end of the stream before its first byte.
    fn read_block(&mut self, block: &mut [u8], offset: u64) -> Result<bool, TarError> {
        let mut filled = 0;
        while filled < block.len() {
            match self.reader.read(&mut block[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => return Err(invalid(offset, TarProblem::Truncated("a header block"))),
                Ok(n) => {
                    filled += n;
                    self.position += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TarError::Read(e)),
            }
        }
        Ok(true)
    }

    /// Reads the data of a metadata header (bounded), and its padding.
    fn read_metadata(
        &mut self,
        size: u64,
        offset: u64,
        what: &'static str,
    ) -> Result<Vec<u8>, TarError> {
        if size > MAX_METADATA_SIZE {
            return Err(invalid(
                offset,
                TarProblem::TooLarge {
                    field: what,
                    value: size,
                    limit: MAX_METADATA_SIZE,
                },
            ));
        }
        let mut data = Vec::new();
        let read = (&mut self.reader)
            .take(size)
            .read_to_end(&mut data)
            .map_err(TarError::Read)?;
        self.position += read as u64;
        if (read as u64) < size {
            return Err(invalid(offset, TarProblem::Truncated("a metadata header")));
        }
        self.skip(padding(size), offset, "a metadata header")?;
        Ok(data)
    }

    /// Reads and discards `amount` bytes belonging to the member at `owner`.
    fn skip(&mut self, mut amount: u64, owner: u64, what: &'static str) -> Result<(), TarError> {
        if amount > 0
            && let Some(seek_forward) = self.seek_forward
        {
            return match seek_forward(&mut self.reader, amount) {
                Ok(()) => {
                    self.position += amount;
                    Ok(())
                }
                // The reader's end inside the data (see `new_buffered`).
                Err(error) => Err(match TarError::of_data_read(error, owner) {
                    TarError::Invalid { .. } => invalid(owner, TarProblem::Truncated(what)),
                    read => read,
                }),
            };
        }
        if amount > 0 && self.scratch.is_empty() {
            self.scratch = vec![0; SKIP_CHUNK];
        }
        while amount > 0 {
            let want = amount.min(SKIP_CHUNK as u64) as usize;
            match self.reader.read(&mut self.scratch[..want]) {
                Ok(0) => return Err(invalid(owner, TarProblem::Truncated(what))),
                Ok(n) => {
                    amount -= n as u64;
                    self.position += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TarError::Read(e)),
            }
        }
        Ok(())
    }
}

impl<R: io::BufRead> TarWalker<R> {
    /// A walker that skips member data by consuming it from the reader's buffer, without
    /// copying it out (the data is still produced: a decompressor in front of the buffer
    /// decodes it as usual). Reading a member's [`data`](Self::data) is unchanged.
    pub fn new_buffered(reader: R) -> Self {
        Self {
            seek_forward: Some(|reader, mut amount| {
                while amount > 0 {
                    let available = match reader.fill_buf() {
                        Ok(buffer) => buffer.len(),
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                        Err(error) => return Err(error),
                    };
                    if available == 0 {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, DataCutShort));
                    }
                    let used = usize::try_from(amount).map_or(available, |a| a.min(available));
                    reader.consume(used);
                    amount -= used as u64;
                }
                Ok(())
            }),
            ..Self::new(reader)
        }
    }
}

impl<R: Read + Seek> TarWalker<R> {
    /// A walker that seeks over member data instead of reading it, for indexing an archive
    /// file by its headers alone. Metadata (PAX records, GNU long names, sparse maps) is still
    /// read, within the same bounds. Data cut short by the end of the file is not noticed
    /// here: the next header read meets the end as if the archive ended there, so compare
    /// the members' extents with the file's length.
    pub fn new_seekable(reader: R) -> Self {
        Self {
            seek_forward: Some(|reader, amount| {
                let amount = i64::try_from(amount)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seek too far"))?;
                reader.seek(SeekFrom::Current(amount)).map(drop)
            }),
            ..Self::new(reader)
        }
    }
}

/// The error [`EntryData`] reads end with when the archive stops inside the member's data.
#[derive(Debug, thiserror::Error)]
#[error("the archive ends inside the entry's data")]
struct DataCutShort;

impl TarError {
    /// The error of reading a member's [`data`](TarWalker::data) that began at `offset`: an
    /// archive cut short inside it is invalid tar data, anything else a failed read.
    pub fn of_data_read(error: io::Error, offset: u64) -> Self {
        if error
            .get_ref()
            .is_some_and(|inner| inner.is::<DataCutShort>())
        {
            invalid(offset, TarProblem::Truncated("an entry's data"))
        } else {
            Self::Read(error)
        }
    }
}

/// The data of one member; see [`TarWalker::data`].
pub struct EntryData<'a, R> {
    walker: &'a mut TarWalker<R>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let walker = &mut *self.walker;
        if walker.data_left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(walker.data_left).unwrap_or(usize::MAX));
        let read = walker.reader.read(&mut buf[..want])?;
        if read == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, DataCutShort));
        }
        walker.data_left -= read as u64;
        walker.to_skip -= read as u64;
        walker.position += read as u64;
        Ok(read)
    }
}

/// Metadata headers read before a member.
struct Metadata {
    pax: Option<PaxRecords>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
}

/// Reads the decimal, newline-terminated numbers of a sparse 1.0 map, block by block, from
/// the start of a member's data.
struct MapReader<'a, R> {
    walker: &'a mut TarWalker<R>,
    block: [u8; BLOCK_SIZE as usize],
    /// Bytes of `block` already parsed.
    used: usize,
    /// Bytes of the member's data read so far (whole blocks).
    consumed: u64,
    stored_size: u64,
    offset: u64,
}

impl<R: Read> MapReader<'_, R> {
    fn number(&mut self) -> Result<u64, TarError> {
        let mut value: u64 = 0;
        let mut digits = 0;
        loop {
            if self.used == self.block.len() {
                if self.consumed + BLOCK_SIZE > self.stored_size {
                    return Err(invalid(
                        self.offset,
                        sparse_error("the map runs past the member's data"),
                    ));
                }
                let block_offset = self.walker.position;
                if !self.walker.read_block(&mut self.block, block_offset)? {
                    return Err(invalid(self.offset, TarProblem::Truncated("a sparse map")));
                }
                self.consumed += BLOCK_SIZE;
                self.used = 0;
            }
            let byte = self.block[self.used];
            self.used += 1;
            match byte {
                b'\n' if digits > 0 => return Ok(value),
                b'0'..=b'9' if digits < MAX_MAP_TOKEN => {
                    digits += 1;
                    value = value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(byte - b'0')))
                        .ok_or_else(|| invalid(self.offset, sparse_error("a number overflows")))?;
                }
                _ => {
                    return Err(invalid(
                        self.offset,
                        sparse_error(&format!("unexpected byte {byte:#04x} in the map")),
                    ));
                }
            }
        }
    }
}

/// Checks sparse regions the way Go's `validateSparseEntries` does: in order, not
/// overlapping, inside the apparent size. (Whether the regions add up to the data stored is
/// only checked by readers that extract; a listing does not need it.)
struct SparseCheck {
    real_size: u64,
    end_of_previous: u64,
}

impl SparseCheck {
    fn new(real_size: u64) -> Self {
        Self {
            real_size,
            end_of_previous: 0,
        }
    }

    fn region(&mut self, offset: u64, length: u64) -> Result<(), TarProblem> {
        let end = offset
            .checked_add(length)
            .filter(|&end| end <= i64::MAX as u64)
            .ok_or_else(|| sparse_error("a region's end overflows"))?;
        if end > self.real_size {
            return Err(sparse_error(&format!(
                "the region {offset}+{length} lies beyond the real size {}",
                self.real_size
            )));
        }
        if offset < self.end_of_previous {
            return Err(sparse_error(&format!(
                "the region at {offset} overlaps or precedes the one before"
            )));
        }
        self.end_of_previous = end;
        Ok(())
    }

    /// Old-GNU records: stops at the first record whose offset is empty (as GNU, BSD and Go
    /// do); returns true once that end is reached.
    fn records(&mut self, records: &[tar::GnuSparseHeader]) -> Result<bool, TarProblem> {
        for record in records {
            if record.offset[0] == 0 {
                return Ok(true);
            }
            let offset = numeric(&record.offset, "sparse offset")?;
            let length = numeric(&record.numbytes, "sparse length")?;
            self.region(
                non_negative(offset, "sparse offset")?,
                non_negative(length, "sparse length")?,
            )?;
        }
        Ok(false)
    }
}

/// The GNU sparse PAX format versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SparseVersion {
    V0_0,
    V0_1,
    V1_0,
}

/// The GNU sparse records of a PAX extended header.
#[derive(Debug, Clone, Default)]
struct SparseRecords {
    major: Option<String>,
    minor: Option<String>,
    name: Option<Vec<u8>>,
    size: Option<u64>,
    realsize: Option<u64>,
    numblocks: Option<u64>,
    /// `GNU.sparse.map` (0.1), or the `GNU.sparse.offset`/`numbytes` pairs (0.0).
    map: Option<Vec<(u64, u64)>>,
    /// Whether the map came from 0.0 offset/numbytes pairs.
    pairs: bool,
}

/// The PAX records this walker uses.
#[derive(Debug, Clone, Default)]
struct PaxRecords {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<i64>,
    gid: Option<i64>,
    mtime: Option<i64>,
    sparse: SparseRecords,
}

impl PaxRecords {
    /// Parses `LEN KEY=VALUE\n` records strictly (as Go does); trailing NULs after the last
    /// record are allowed (as GNU tar allows them).
    fn parse(mut data: &[u8]) -> Result<Self, TarProblem> {
        let mut records = Self::default();
        // 0.0 offset/numbytes pairs: an offset waiting for its length.
        let mut pending_offset: Option<u64> = None;
        while !data.is_empty() {
            if data.iter().all(|&b| b == 0) {
                break;
            }
            let (key, value, rest) = next_record(data)?;
            data = rest;
            if key == b"GNU.sparse.offset" || key == b"GNU.sparse.numbytes" {
                let number = pax_unsigned(key, value)?;
                let map = records.sparse.map.get_or_insert_with(Vec::new);
                records.sparse.pairs = true;
                match (key == b"GNU.sparse.offset", pending_offset.take()) {
                    (true, None) => pending_offset = Some(number),
                    (false, Some(offset)) => map.push((offset, number)),
                    _ => {
                        return Err(TarProblem::PaxRecord(
                            "GNU.sparse.offset and GNU.sparse.numbytes records out of order".into(),
                        ));
                    }
                }
                continue;
            }
            records.set(key, value)?;
        }
        if pending_offset.is_some() {
            return Err(TarProblem::PaxRecord(
                "a GNU.sparse.offset without its GNU.sparse.numbytes".into(),
            ));
        }
        Ok(records)
    }

    /// Applies one record.
    ///
    /// An empty `path` or `linkpath` is an error: POSIX says it deletes the record (bsdtar
    /// then uses the header's name) but GNU tar, Go and Python read an empty name. An empty
    /// number is not a number. Empty GNU sparse records count as absent, as in Go.
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), TarProblem> {
        let text = || String::from_utf8_lossy(value).into_owned();
        let present = !value.is_empty();
        if !present && matches!(key, b"path" | b"linkpath") {
            return Err(TarProblem::PaxRecord(format!(
                "an empty {} (readers disagree on what it means)",
                String::from_utf8_lossy(key)
            )));
        }
        match key {
            b"path" => self.path = Some(value.to_vec()),
            b"linkpath" => self.linkpath = Some(value.to_vec()),
            b"size" => self.size = Some(pax_size(key, value)?),
            b"uid" => self.uid = Some(pax_integer(key, value)?),
            b"gid" => self.gid = Some(pax_integer(key, value)?),
            b"mtime" => self.mtime = Some(pax_time(value)?),
            b"GNU.sparse.major" => self.sparse.major = present.then(text),
            b"GNU.sparse.minor" => self.sparse.minor = present.then(text),
            b"GNU.sparse.name" => self.sparse.name = present.then(|| value.to_vec()),
            b"GNU.sparse.size" => {
                self.sparse.size = present.then(|| pax_unsigned(key, value)).transpose()?;
            }
            b"GNU.sparse.realsize" => {
                self.sparse.realsize = present.then(|| pax_unsigned(key, value)).transpose()?;
            }
            b"GNU.sparse.numblocks" => {
                self.sparse.numblocks = present.then(|| pax_unsigned(key, value)).transpose()?;
            }
            b"GNU.sparse.map" => {
                self.sparse.pairs = false;
                self.sparse.map = present.then(|| parse_sparse_map(value)).transpose()?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The GNU sparse format these records describe, if any (as Go tells them apart).
    fn sparse_version(&self) -> Result<Option<SparseVersion>, TarProblem> {
        let sparse = &self.sparse;
        Ok(match (sparse.major.as_deref(), sparse.minor.as_deref()) {
            (Some("0"), Some("0")) => Some(SparseVersion::V0_0),
            (Some("0"), Some("1")) => Some(SparseVersion::V0_1),
            (Some("1"), Some("0")) => Some(SparseVersion::V1_0),
            (None, None) => match &sparse.map {
                Some(_) if sparse.pairs => Some(SparseVersion::V0_0),
                Some(_) => Some(SparseVersion::V0_1),
                None => None,
            },
            (major, minor) => {
                return Err(TarProblem::SparseVersion(format!(
                    "{}.{}",
                    major.unwrap_or("?"),
                    minor.unwrap_or("?")
                )));
            }
        })
    }
}

/// The values of PAX global headers (`g`) that describe every later member.
#[derive(Debug, Clone, Default)]
struct GlobalRecords {
    uid: Option<i64>,
    gid: Option<i64>,
    mtime: Option<i64>,
}

impl GlobalRecords {
    /// Applies the records of one global header (parsed as strictly as extended ones).
    ///
    /// Only `uid`, `gid` and `mtime` are kept. An empty value deletes the global value before
    /// it, as POSIX says; a value that is not a number is ignored (Go ignores global headers
    /// whole, Python reads such a value as 0). `path` and `linkpath` are not applied to later
    /// members, as Go and bsdtar read them; GNU tar and Python would give every later member
    /// without a name of its own that one name, or an empty one after an empty `path`.
    fn merge_global(&mut self, mut data: &[u8]) -> Result<(), TarProblem> {
        while !data.is_empty() && !data.iter().all(|&b| b == 0) {
            let (key, value, rest) = next_record(data)?;
            data = rest;
            let (slot, parsed) = match key {
                b"uid" => (&mut self.uid, pax_integer(key, value)),
                b"gid" => (&mut self.gid, pax_integer(key, value)),
                b"mtime" => (&mut self.mtime, pax_time(value)),
                _ => continue,
            };
            if value.is_empty() {
                *slot = None;
            } else if let Ok(number) = parsed {
                *slot = Some(number);
            }
        }
        Ok(())
    }
}

/// A PAX record split off its data: `(key, value, rest of the data)`.
type Record<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Splits the first PAX record off `data`.
fn next_record(data: &[u8]) -> Result<Record<'_>, TarProblem> {
    let bad = |what: &str| TarProblem::PaxRecord(what.to_owned());
    let space = data
        .iter()
        .take(20)
        .position(|&b| b == b' ')
        .ok_or_else(|| bad("a record without a length"))?;
    let digits = &data[..space];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad("a record length that is not a decimal number"));
    }
    let length: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| bad("a record length out of range"))?;
    if length < 5 || length > data.len() || length <= space + 1 {
        return Err(bad(&format!(
            "a record length of {length} with {} bytes left",
            data.len()
        )));
    }
    let (record, rest) = data.split_at(length);
    let body = &record[space + 1..];
    let Some(body) = body.strip_suffix(b"\n") else {
        return Err(bad("a record not ending in a newline"));
    };
    let equals = body
        .iter()
        .position(|&b| b == b'=')
        .ok_or_else(|| bad("a record without '='"))?;
    let (key, value) = (&body[..equals], &body[equals + 1..]);
    if key.is_empty() || key.contains(&0) {
        return Err(bad("an empty key or a key with a NUL byte"));
    }
    if matches!(key, b"path" | b"linkpath" | b"uname" | b"gname") && value.contains(&0) {
        return Err(bad(&format!(
            "a NUL byte in the {} value",
            String::from_utf8_lossy(key)
        )));
    }
    Ok((key, value, rest))
}

fn pax_error(key: &[u8], value: &[u8]) -> TarProblem {
    TarProblem::PaxRecord(format!(
        "{}={:?} is not a valid value",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(value)
    ))
}

/// A decimal integer, optionally signed.
fn pax_integer(key: &[u8], value: &[u8]) -> Result<i64, TarProblem> {
    std::str::from_utf8(value)
        .ok()
        .filter(|v| {
            let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        })
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| pax_error(key, value))
}

/// A non-negative decimal integer.
fn pax_unsigned(key: &[u8], value: &[u8]) -> Result<u64, TarProblem> {
    let number = pax_integer(key, value)?;
    u64::try_from(number).map_err(|_| pax_error(key, value))
}

/// A PAX `size`: non-negative and at most [`MAX_STORED_SIZE`].
fn pax_size(key: &[u8], value: &[u8]) -> Result<u64, TarProblem> {
    let size = pax_integer(key, value)?;
    let size = non_negative(size, "PAX size")?;
    if size > MAX_STORED_SIZE {
        return Err(TarProblem::TooLarge {
            field: "PAX size",
            value: size,
            limit: MAX_STORED_SIZE,
        });
    }
    Ok(size)
}

/// A PAX time: `[-]SECONDS[.FRACTION]`; the whole seconds.
fn pax_time(value: &[u8]) -> Result<i64, TarProblem> {
    let (seconds, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], &value[dot + 1..]),
        None => (value, &b""[..]),
    };
    if !fraction.iter().all(u8::is_ascii_digit) {
        return Err(pax_error(b"mtime", value));
    }
    let whole = pax_integer(b"mtime", seconds).map_err(|_| pax_error(b"mtime", value))?;
    // -1.5 is 1.5 s before the epoch: its whole seconds round down.
    let has_fraction = fraction.iter().any(|&b| b != b'0');
    Ok(if seconds.starts_with(b"-") && has_fraction {
        whole.saturating_sub(1)
    } else {
        whole
    })
}

/// `GNU.sparse.map`: `offset,length,offset,length…`.
fn parse_sparse_map(value: &[u8]) -> Result<Vec<(u64, u64)>, TarProblem> {
    let key = b"GNU.sparse.map";
    let numbers = value
        .split(|&b| b == b',')
        .map(|n| pax_unsigned(key, n))
        .collect::<Result<Vec<_>, _>>()?;
    if numbers.len() % 2 != 0 {
        return Err(sparse_error("GNU.sparse.map has an odd number of values"));
    }
    Ok(numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect())
}

fn sparse_error(what: &str) -> TarProblem {
    TarProblem::SparseMap(what.to_owned())
}

fn invalid(offset: u64, problem: TarProblem) -> TarError {
    TarError::Invalid { offset, problem }
}

fn is_zero_block(header: &Header) -> bool {
    header.as_bytes().iter().all(|&b| b == 0)
}

/// Bytes of padding after `size` bytes of data.
fn padding(size: u64) -> u64 {
    (BLOCK_SIZE - size % BLOCK_SIZE) % BLOCK_SIZE
}

/// Types whose size field never announces data (Go's `isHeaderOnlyType`; Python reads them
/// the same way).
fn is_header_only(typeflag: u8) -> bool {
    matches!(typeflag, b'1'..=b'6')
}

/// The bytes of `field` up to its first NUL.
fn until_nul(field: &[u8]) -> &[u8] {
    field
        .iter()
        .position(|&b| b == 0)
        .map_or(field, |nul| &field[..nul])
}

/// The member's path as its header alone gives it: the name field, after the prefix field
/// when the header has one, as Go reads headers:
/// - ustar (magic `ustar\0`): the 155-byte prefix; star (ustar with the trailer `tar\0` at
///   byte 508): its 131-byte prefix, atime and ctime follow it;
/// - GNU (magic `ustar  \0`): no prefix, those bytes hold atime and ctime; but when they are
///   not numbers and hold ASCII text, a prefix written by Go before 1.8 (as Go and Python
///   read them; Python takes a prefix from GNU headers too, even when it holds times);
/// - v7 (no magic): no prefix.
fn header_path(header: &Header) -> Vec<u8> {
    let bytes = header.as_bytes();
    let name = until_nul(&bytes[..100]);
    let prefix = match (&bytes[257..263], &bytes[263..265]) {
        (b"ustar\0", _) if &bytes[508..512] == b"tar\0" => until_nul(&bytes[345..476]),
        (b"ustar\0", _) => until_nul(&bytes[345..500]),
        (b"ustar ", b" \0") => {
            let is_time = |field: &[u8]| field[0] == 0 || numeric(field, "time").is_ok();
            let prefix = until_nul(&bytes[345..500]);
            let times = is_time(&bytes[345..357]) && is_time(&bytes[357..369]);
            if !times && prefix.is_ascii() {
                prefix
            } else {
                &[]
            }
        }
        _ => &[],
    };
    if prefix.is_empty() {
        return name.to_vec();
    }
    [prefix, b"/", name].concat()
}

/// A GNU long name or link: the bytes up to the first NUL.
fn cut_at_nul(mut data: Vec<u8>) -> Vec<u8> {
    if let Some(nul) = data.iter().position(|&b| b == 0) {
        data.truncate(nul);
    }
    data
}

/// The header's size field, checked: not negative, at most [`MAX_STORED_SIZE`].
fn stored_size(header: &Header) -> Result<u64, TarProblem> {
    let size = numeric(&header.as_old().size, "size")?;
    let size = non_negative(size, "size")?;
    if size > MAX_STORED_SIZE {
        return Err(TarProblem::TooLarge {
            field: "size",
            value: size,
            limit: MAX_STORED_SIZE,
        });
    }
    Ok(size)
}

fn non_negative(value: i64, field: &'static str) -> Result<u64, TarProblem> {
    u64::try_from(value).map_err(|_| TarProblem::Negative { field, value })
}

/// Checks the header checksum: the stored value may be the unsigned or the signed sum of the
/// header's bytes, the checksum field counted as spaces.
fn verify_checksum(header: &Header) -> Result<(), TarProblem> {
    let field = &header.as_old().cksum;
    let stored = octal(field, "checksum")?;
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (index, &byte) in header.as_bytes().iter().enumerate() {
        let byte = if (148..156).contains(&index) {
            b' '
        } else {
            byte
        };
        unsigned += i64::from(byte);
        signed += i64::from(byte as i8);
    }
    if stored == unsigned || stored == signed {
        Ok(())
    } else {
        Err(TarProblem::Checksum {
            stored,
            unsigned,
            signed,
        })
    }
}

/// A numeric field: octal text, or base-256 (two's complement) when the high bit of its
/// first byte is set, as GNU tar writes large and negative values.
fn numeric(field: &[u8], name: &'static str) -> Result<i64, TarProblem> {
    let Some(&first) = field.first() else {
        return Ok(0);
    };
    if first & 0x80 == 0 {
        return octal(field, name);
    }
    let invert = if first & 0x40 != 0 { 0xff } else { 0 };
    let mut value: u64 = 0;
    for (index, &byte) in field.iter().enumerate() {
        let mut byte = byte ^ invert;
        if index == 0 {
            byte &= 0x7f;
        }
        if value >> 56 != 0 {
            return Err(too_wide(field, name));
        }
        value = value << 8 | u64::from(byte);
    }
    if value >> 63 != 0 {
        return Err(too_wide(field, name));
    }
    let value = value as i64;
    Ok(if invert == 0xff { !value } else { value })
}

fn too_wide(field: &[u8], name: &'static str) -> TarProblem {
    TarProblem::BadNumber {
        field: name,
        text: format!("base-256 {field:02x?} does not fit 63 bits"),
    }
}

/// Octal text padded with spaces or NULs on either side (empty means 0), as Go reads it.
fn octal(field: &[u8], name: &'static str) -> Result<i64, TarProblem> {
    let padding = |b: &u8| *b == b' ' || *b == 0;
    let start = field
        .iter()
        .position(|b| !padding(b))
        .unwrap_or(field.len());
    let end = field
        .iter()
        .rposition(|b| !padding(b))
        .map_or(start, |i| i + 1);
    let trimmed = &field[start..end];
    let text = match trimmed.iter().position(|&b| b == 0) {
        Some(nul) => &trimmed[..nul],
        None => trimmed,
    };
    if text.is_empty() {
        return Ok(0);
    }
    let bad = || TarProblem::BadNumber {
        field: name,
        text: String::from_utf8_lossy(field).into_owned(),
    };
    if !text.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return Err(bad());
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| i64::from_str_radix(t, 8).ok())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(bytes: &[u8]) -> Result<Vec<TarEntry>, TarError> {
        let mut walker = TarWalker::new(bytes);
        let mut entries = Vec::new();
        while let Some(entry) = walker.next_entry()? {
            entries.push(entry);
        }
        Ok(entries)
    }

    fn file_header(name: &str, size: u64) -> Header {
        let mut header = Header::new_ustar();
        header.set_path(name).expect("a short test name");
        header.set_size(size);
        header.set_mode(0o644);
        header.set_entry_type(EntryType::Regular);
        header.set_cksum();
        header
    }

    fn with_data(header: &Header, data: &[u8]) -> Vec<u8> {
        let mut out = header.as_bytes().to_vec();
        out.extend_from_slice(data);
        out.resize(out.len() + padding(data.len() as u64) as usize, 0);
        out
    }

    #[test]
    fn numbers_follow_go() {
        assert_eq!(octal(b"0000644\0", "mode"), Ok(0o644));
        assert_eq!(octal(b"  644 \0\0", "mode"), Ok(0o644));
        assert_eq!(octal(b"\0\0\0\0\0\0\0\0", "mode"), Ok(0));
        assert!(octal(b"00006x4\0", "mode").is_err());
        assert!(octal(b"+0000644", "mode").is_err());
        let mut positive = [0u8; 12];
        positive[0] = 0x80;
        positive[11] = 5;
        assert_eq!(numeric(&positive, "size"), Ok(5));
        let negative = [0xffu8; 12];
        assert_eq!(numeric(&negative, "size"), Ok(-1));
        let mut wide = [0u8; 12];
        wide[0] = 0x80;
        wide[3] = 1;
        assert!(numeric(&wide, "size").is_err());
    }

    #[test]
    fn pax_times_keep_whole_seconds() {
        assert_eq!(pax_time(b"1700000000.123456789"), Ok(1_700_000_000));
        assert_eq!(pax_time(b"1700000000"), Ok(1_700_000_000));
        assert_eq!(pax_time(b"-1.5"), Ok(-2));
        assert!(pax_time(b"17x").is_err());
        assert!(pax_time(b"1.2.3").is_err());
    }

    #[test]
    fn pax_records_are_strict() {
        assert!(PaxRecords::parse(b"12 path=abc\n").is_ok());
        assert!(PaxRecords::parse(b"12 path=abc\n\0\0\0").is_ok());
        assert!(PaxRecords::parse(b"11 path=abc\n").is_err());
        assert!(PaxRecords::parse(b"13 path=abc\n").is_err());
        assert!(PaxRecords::parse(b"12 pathxabc\n").is_err());
        assert!(PaxRecords::parse(b"x2 path=abc\n").is_err());
        assert!(PaxRecords::parse(b"9 size=x\n").is_err());
        assert!(PaxRecords::parse(b"12 path=a\0c\n").is_err());
        assert!(PaxRecords::parse(b"12 path=abc\nxyz").is_err());
        let records = PaxRecords::parse(b"12 path=abc\n12 path=xyz\n").expect("valid PAX records");
        assert_eq!(
            records.path.as_deref(),
            Some(&b"xyz"[..]),
            "the last record wins"
        );
        assert!(PaxRecords::parse(b"8 path=\n").is_err());
        assert!(PaxRecords::parse(b"8 size=\n").is_err());
    }

    #[test]
    fn signed_checksums_are_accepted_and_bad_ones_named() {
        let mut header = file_header("caf\u{e9}", 0);
        let (mut unsigned, mut signed) = (0i64, 0i64);
        header.as_old_mut().cksum = *b"        ";
        for &b in header.as_bytes() {
            unsigned += i64::from(b);
            signed += i64::from(b as i8);
        }
        assert_ne!(unsigned, signed);
        header.as_old_mut().cksum = *format!("{signed:06o}\0 ")
            .as_bytes()
            .first_chunk::<8>()
            .expect("eight checksum bytes");
        let entries = walk(&with_data(&header, b"")).expect("a valid member");
        assert_eq!(entries[0].path, "caf\u{e9}".as_bytes());

        header.as_old_mut().cksum = *b"000001\0 ";
        let error = walk(&with_data(&header, b"")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("at byte 0: header checksum mismatch"),
            "{error}"
        );
    }

    /// A header named `name` with `prefix` at byte 345, its magic and version set.
    fn prefixed(magic: &[u8; 8], prefix: &[u8], trailer: Option<&[u8; 4]>) -> Header {
        let mut header = Header::new_old();
        header.as_mut_bytes()[..4].copy_from_slice(b"name");
        header.as_mut_bytes()[257..265].copy_from_slice(magic);
        header.as_mut_bytes()[345..345 + prefix.len()].copy_from_slice(prefix);
        if let Some(trailer) = trailer {
            header.as_mut_bytes()[508..512].copy_from_slice(trailer);
        }
        header
    }

    #[test]
    fn prefix_fields_are_read_as_go_reads_them() {
        let ustar = b"ustar\x0000";
        let gnu = b"ustar  \0";
        assert_eq!(header_path(&prefixed(ustar, b"dir", None)), b"dir/name");
        // The star prefix is 131 bytes: atime and ctime follow it.
        let mut star = prefixed(ustar, b"dir", Some(b"tar\0"));
        star.as_mut_bytes()[476..488].copy_from_slice(b"11213575217 ");
        assert_eq!(header_path(&star), b"dir/name");
        // GNU: atime and ctime, never a prefix ...
        let times = prefixed(gnu, b"12574544345\x0012574544345\0", None);
        assert_eq!(header_path(&times), b"name");
        // ... unless they are not numbers but ASCII text (Go before 1.8 wrote a prefix there).
        let legacy = prefixed(gnu, b"aaaaaaaaaaaaaaaaaaaa", None);
        assert_eq!(header_path(&legacy), b"aaaaaaaaaaaaaaaaaaaa/name");
        let binary = prefixed(gnu, "é-not-ascii-é".as_bytes(), None);
        assert_eq!(header_path(&binary), b"name");
        // v7 has no prefix field.
        assert_eq!(header_path(&prefixed(&[0; 8], b"dir", None)), b"name");
    }

    fn pax_member(typeflag: u8, records: &[u8]) -> Vec<u8> {
        let mut header = file_header("PaxHeaders/x", records.len() as u64);
        header.set_entry_type(EntryType::new(typeflag));
        header.set_cksum();
        with_data(&header, records)
    }

    #[test]
    fn global_headers_apply_ids_and_times_not_names() {
        let mut tar = pax_member(b'g', b"15 path=global\n12 uid=4242\n15 mtime=123.5\n");
        tar.extend(with_data(&file_header("a", 0), b""));
        // An empty value deletes the global value; one that is not a number is ignored.
        tar.extend(pax_member(b'g', b"7 uid=\n8 path=\n13 mtime=xyz\n"));
        tar.extend(with_data(&file_header("b", 0), b""));
        let entries = walk(&tar).expect("valid global headers");
        assert_eq!(entries[0].path, b"a");
        assert_eq!((entries[0].uid, entries[0].mtime), (4242, 123));
        assert_eq!(entries[1].path, b"b");
        assert_eq!((entries[1].uid, entries[1].mtime), (0, 123));
        // Records are still parsed strictly.
        assert!(walk(&pax_member(b'g', b"99 uid=1\n")).is_err());
    }

    #[test]
    fn metadata_before_the_end_describes_nothing() {
        let mut tar = with_data(&file_header("a", 1), b"x");
        tar.extend(pax_member(b'x', b"12 path=abc\n"));
        let entries = walk(&tar).expect("the archive ends after the PAX header");
        assert_eq!(entries.len(), 1);
        tar.extend([0; 1024]);
        assert_eq!(walk(&tar).expect("and at the zero blocks").len(), 1);
    }

    #[test]
    fn data_is_skipped_and_truncation_is_an_error() {
        let mut tar = with_data(&file_header("a", 700), &[1; 700]);
        tar.extend(with_data(&file_header("b", 3), b"abc"));
        let entries = walk(&tar).expect("a valid archive");
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[1].offset, entries[1].size), (1536, 3));
        let error = walk(&tar[..1000]).unwrap_err();
        assert!(error.to_string().contains("ends inside"), "{error}");
    }
}
