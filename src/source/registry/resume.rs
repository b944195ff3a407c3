//! Blob downloads that survive a dropped or stalled connection.
//!
//! A [`ResumingBlob`] reads a blob (or a byte range of it) through a pump thread that does the
//! blocking HTTP work. When the connection fails, ends early, or sends no byte for the idle
//! timeout (before the response headers as well as mid-body), the pump is abandoned and a new
//! request asks for the rest with `Range: bytes=N-`. A server that answers 200 instead of 206
//! starts again from byte 0, and the bytes already handed out are skipped, so the reader never
//! shows a gap or a repeat and the caller's digest covers the whole blob. Resumes are bounded,
//! with exponential backoff, and every wait watches the cancel token.

use std::io::{self, Read};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use crate::cancel::CancelToken;
use crate::source::{ErrorKind, ResumeHook, Resumed, SourceError};

/// Bytes per read of the pump thread.
const PUMP_CHUNK: usize = 256 * 1024;
/// Chunks the pump may read ahead of the reader.
const PUMP_AHEAD: usize = 4;
/// Emptied buffers kept for the pump to read into again (one more than can be in flight, so
/// that a steady stream allocates and zero-fills none after its start).
const SPARE_BUFFERS: usize = PUMP_AHEAD + 2;
/// How often a waiting reader looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(25);
/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// How long to wait for bytes and how often to try again.
#[derive(Debug, Clone, Copy)]
pub struct ResumePolicy {
    /// No byte (or no response headers) for this long counts as a stall.
    pub idle_timeout: Duration,
    /// Resumes allowed per blob.
    pub max_resumes: u32,
    /// The wait before the first resume; it doubles with each one.
    pub first_backoff: Duration,
}

/// A response opened at some offset.
pub struct Opened {
    /// The body.
    pub body: Box<dyn Read + Send>,
    /// The blob offset its first byte has: the offset asked for (206), or 0 (200).
    pub starts_at: u64,
}

/// Opens the blob from an offset (to the end of the range the reader covers).
pub type OpenAt = Arc<dyn Fn(u64, &CancelToken) -> Result<Opened, SourceError> + Send + Sync>;

/// What the pump thread sends.
enum Pumped {
    Opened {
        starts_at: u64,
    },
    /// `buffer[..len]` arrived; `buffer` is `PUMP_CHUNK` long (and goes back to the pump
    /// through [`ResumingBlob::spare`] once read).
    Data {
        buffer: Vec<u8>,
        len: usize,
    },
    End,
    /// A failure, and whether trying again may help.
    Failed(SourceError, bool),
}

/// A blob (or a range of one) read through resumable requests; see the module docs.
pub struct ResumingBlob {
    open: OpenAt,
    policy: ResumePolicy,
    cancel: CancelToken,
    on_resume: ResumeHook,
    /// The next blob offset to hand out.
    position: u64,
    /// Where the bytes end (exclusive), when known: reaching it ends the stream, and a
    /// connection that closes before it is resumed.
    end: Option<u64>,
    /// Whether bytes past `end` are an error (the whole blob was asked for) rather than the
    /// rest of a blob a server sent whole when asked for part of it.
    strict_end: bool,
    /// The error that ended the download, repeated to any later read.
    failed: Option<(io::ErrorKind, String)>,
    /// Bytes of the current response to drop before `position` (after a 200 restart).
    skip: u64,
    /// The chunk being handed out: `pending[pending_at..pending_end]` is left of it.
    pending: Vec<u8>,
    pending_at: usize,
    pending_end: usize,
    pump: Option<Receiver<Pumped>>,
    /// Read chunks go back to the pump (this one and any after a resume) to be read into
    /// again, so that the stream neither allocates nor zero-fills a buffer per read.
    spare: Sender<Vec<u8>>,
    spares: Receiver<Vec<u8>>,
    resumes: u32,
}

impl ResumingBlob {
    /// Starts reading at `start` (up to `end`), waiting for the first response. Returns the
    /// reader and the offset that response starts at (`start`, or 0 when the server ignored
    /// the Range). Errors that a retry will not cure (not found, unauthorised, refused) are
    /// returned as they are; a stall before the headers is retried like any other.
    pub fn start(
        open: OpenAt,
        start: u64,
        end: BlobEnd,
        policy: ResumePolicy,
        cancel: &CancelToken,
        on_resume: ResumeHook,
    ) -> Result<(Self, u64), SourceError> {
        let (spare, spares) = bounded(SPARE_BUFFERS);
        let mut blob = Self {
            open,
            policy,
            cancel: cancel.clone(),
            on_resume,
            position: start,
            end: match end {
                BlobEnd::Unknown => None,
                BlobEnd::Blob(end) | BlobEnd::Range(end) => Some(end),
            },
            strict_end: matches!(end, BlobEnd::Blob(_)),
            failed: None,
            skip: 0,
            pending: Vec::new(),
            pending_at: 0,
            pending_end: 0,
            pump: None,
            spare,
            spares,
            resumes: 0,
        };
        blob.spawn_pump();
        loop {
            match blob.receive() {
                Received::Message(Pumped::Opened { starts_at }) => {
                    blob.note_start(starts_at).map_err(io_to_source)?;
                    return Ok((blob, starts_at));
                }
                Received::Message(Pumped::Failed(error, retryable)) if !retryable => {
                    return Err(error);
                }
                Received::Cancelled => {
                    return Err(SourceError::new(
                        ErrorKind::Cancelled,
                        io::Error::other("cancelled"),
                    ));
                }
                other => blob
                    .resume(&other.describe(blob.policy.idle_timeout))
                    .map_err(io_to_source)?,
            }
        }
    }

    fn spawn_pump(&mut self) {
        let (sender, receiver) = bounded(PUMP_AHEAD);
        let (open, offset, cancel) = (Arc::clone(&self.open), self.position, self.cancel.clone());
        let spares = self.spares.clone();
        // Detached: a stalled read ends by itself when the server or the OS gives up, and its
        // send then finds the receiver gone.
        let spawned = thread::Builder::new()
            .name("blob-pump".into())
            .spawn(move || pump(&*open, offset, &cancel, &sender, &spares));
        self.pump = spawned.is_ok().then_some(receiver);
    }

    /// Waits for the pump's next message, the idle timeout or a cancel.
    fn receive(&self) -> Received {
        let Some(pump) = &self.pump else {
            return Received::Disconnected;
        };
        let deadline = Instant::now() + self.policy.idle_timeout;
        loop {
            if self.cancel.is_cancelled() {
                return Received::Cancelled;
            }
            let now = Instant::now();
            if now >= deadline {
                return Received::Stalled;
            }
            match pump.recv_timeout((deadline - now).min(CANCEL_POLL)) {
                Ok(message) => return Received::Message(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Received::Disconnected,
            }
        }
    }

    /// Takes note of where a new response starts.
    fn note_start(&mut self, starts_at: u64) -> io::Result<()> {
        if starts_at > self.position {
            return Err(io::Error::other(format!(
                "the server resumed at byte {starts_at}, after the byte {} asked for",
                self.position
            )));
        }
        self.skip = self.position - starts_at;
        Ok(())
    }

    /// Gives up on the current response and, within the policy, waits and asks for the rest.
    fn resume(&mut self, reason: &str) -> io::Result<()> {
        self.pump = None;
        self.pending_at = self.pending_end;
        if self.resumes >= self.policy.max_resumes {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{reason}; gave up at byte {} after {} resumes",
                    self.position, self.resumes
                ),
            ));
        }
        self.resumes += 1;
        let backoff = self
            .policy
            .first_backoff
            .saturating_mul(1 << (self.resumes - 1).min(16))
            .min(MAX_BACKOFF);
        if !self.cancel.sleep(backoff) {
            return Err(io::Error::other("cancelled"));
        }
        log::info!(
            "resuming a download at byte {} (try {} of {}): {reason}",
            self.position,
            self.resumes,
            self.policy.max_resumes
        );
        (self.on_resume)(&Resumed {
            count: self.resumes,
            at: self.position,
            reason: reason.to_owned(),
        });
        self.spawn_pump();
        Ok(())
    }

    fn at_end(&self) -> bool {
        self.end.is_some_and(|end| self.position >= end)
    }
}

impl Read for ResumingBlob {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        let result = self.read_more(buf);
        if let Err(error) = &result {
            self.pump = None;
            self.failed = Some((error.kind(), error.to_string()));
        }
        result
    }
}

impl ResumingBlob {
    fn read_more(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pending_at < self.pending_end {
                let n = buf.len().min(self.pending_end - self.pending_at);
                buf[..n].copy_from_slice(&self.pending[self.pending_at..self.pending_at + n]);
                self.pending_at += n;
                return Ok(n);
            }
            if self.at_end() || buf.is_empty() {
                self.pump = None;
                return Ok(0);
            }
            match self.receive() {
                Received::Message(Pumped::Data { buffer, len }) => {
                    let skipped = self.skip.min(len as u64) as usize;
                    self.skip -= skipped as u64;
                    let mut available = len - skipped;
                    if let Some(end) = self.end {
                        let room = end.saturating_sub(self.position);
                        if self.strict_end && available as u64 > room {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("the server sent more than the {end} bytes the blob has"),
                            ));
                        }
                        available = available.min(usize::try_from(room).unwrap_or(usize::MAX));
                    }
                    self.position += available as u64;
                    // The chunk read out goes back to the pump; a full return queue (after
                    // a resume) drops it.
                    let read = std::mem::replace(&mut self.pending, buffer);
                    if read.len() == PUMP_CHUNK {
                        let _ = self.spare.try_send(read);
                    }
                    self.pending_at = skipped;
                    self.pending_end = skipped + available;
                }
                Received::Message(Pumped::Opened { starts_at }) => self.note_start(starts_at)?,
                Received::Message(Pumped::End) if self.end.is_none() => {
                    self.pump = None;
                    return Ok(0);
                }
                Received::Message(Pumped::Failed(error, false)) => {
                    self.pump = None;
                    return Err(io::Error::other(error.to_string()));
                }
                Received::Cancelled => return Err(io::Error::other("cancelled")),
                other => {
                    let reason = other.describe(self.policy.idle_timeout);
                    self.resume(&format!("{reason} at byte {}", self.position))?;
                }
            }
        }
    }
}

/// Where the bytes a [`ResumingBlob`] reads end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobEnd {
    /// The blob's size is not known: the server's end of stream is trusted.
    Unknown,
    /// The whole blob, of this size: more bytes are an error, fewer a reason to resume.
    Blob(u64),
    /// A part of the blob ending at this offset (exclusive).
    Range(u64),
}

/// What waiting for the pump gave.
enum Received {
    Message(Pumped),
    Stalled,
    Disconnected,
    Cancelled,
}

impl Received {
    /// Why this calls for a resume.
    fn describe(&self, idle: Duration) -> String {
        match self {
            Self::Stalled => format!("no data for {} s", idle.as_secs_f32()),
            Self::Disconnected => "the download thread stopped".into(),
            Self::Cancelled => "cancelled".into(),
            Self::Message(Pumped::End) => "the connection closed early".into(),
            Self::Message(Pumped::Failed(error, _)) => format!("the connection failed ({error})"),
            Self::Message(_) => "an unexpected response".into(),
        }
    }
}

/// Opens the blob at `offset` and sends what arrives until the end, an error, or the reader
/// going away.
fn pump(
    open: &(dyn Fn(u64, &CancelToken) -> Result<Opened, SourceError> + Send + Sync),
    offset: u64,
    cancel: &CancelToken,
    to_reader: &Sender<Pumped>,
    spares: &Receiver<Vec<u8>>,
) {
    let opened = match open(offset, cancel) {
        Ok(opened) => opened,
        Err(error) => {
            let retryable = error.kind() == ErrorKind::Unreachable;
            let _ = to_reader.send(Pumped::Failed(error, retryable));
            return;
        }
    };
    if to_reader
        .send(Pumped::Opened {
            starts_at: opened.starts_at,
        })
        .is_err()
    {
        return;
    }
    let mut body = opened.body;
    // A buffer the reader gave back is read into as it is: its bytes were initialised when
    // it was made, and `read` only overwrites them.
    let mut chunk = Vec::new();
    loop {
        if chunk.len() != PUMP_CHUNK {
            chunk = spares.try_recv().unwrap_or_else(|_| vec![0; PUMP_CHUNK]);
        }
        let message = match body.read(&mut chunk) {
            Ok(0) => Pumped::End,
            Ok(len) => Pumped::Data {
                buffer: std::mem::take(&mut chunk),
                len,
            },
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => Pumped::Failed(SourceError::new(ErrorKind::Unreachable, error), true),
        };
        let last = !matches!(message, Pumped::Data { .. });
        if to_reader.send(message).is_err() || last {
            return;
        }
    }
}

fn io_to_source(error: io::Error) -> SourceError {
    SourceError::new(ErrorKind::Unreachable, error)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A body that sends `data[from..cut]` and then fails (or stalls forever).
    struct Flaky {
        data: Arc<Vec<u8>>,
        at: usize,
        cut: usize,
        stall: bool,
    }

    impl Read for Flaky {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at >= self.cut {
                if self.at >= self.data.len() {
                    return Ok(0);
                }
                if self.stall {
                    thread::sleep(Duration::from_secs(3600));
                }
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
            }
            let n = buf.len().min(self.cut - self.at).min(1000);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn policy() -> ResumePolicy {
        ResumePolicy {
            idle_timeout: Duration::from_millis(200),
            max_resumes: 3,
            first_backoff: Duration::from_millis(1),
        }
    }

    /// Tries cut the blob at 30% then 60%; `honour_range` false answers from byte 0.
    fn flaky_open(
        data: Arc<Vec<u8>>,
        honour_range: bool,
        stall: bool,
    ) -> (OpenAt, Arc<AtomicUsize>) {
        let tries = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&tries);
        let open: OpenAt = Arc::new(move |offset, _| {
            let attempt = counter.fetch_add(1, Ordering::SeqCst);
            let starts_at = if honour_range { offset } else { 0 };
            let cut = match attempt {
                0 => data.len() * 3 / 10,
                1 => data.len() * 6 / 10,
                _ => data.len(),
            };
            Ok(Opened {
                body: Box::new(Flaky {
                    data: Arc::clone(&data),
                    at: starts_at as usize,
                    cut,
                    stall,
                }),
                starts_at,
            })
        });
        (open, tries)
    }

    #[test]
    fn drops_and_stalls_resume_without_gaps_or_repeats() {
        let data: Arc<Vec<u8>> = Arc::new((0..1_000_000u32).map(|i| (i % 253) as u8).collect());
        for (honour_range, stall) in [(true, false), (false, false), (true, true)] {
            let (open, tries) = flaky_open(Arc::clone(&data), honour_range, stall);
            let events = Arc::new(Mutex::new(Vec::new()));
            let seen = Arc::clone(&events);
            let hook: ResumeHook = Arc::new(move |resumed: &Resumed| {
                seen.lock()
                    .expect("events")
                    .push((resumed.count, resumed.at));
            });
            let (mut blob, starts_at) = ResumingBlob::start(
                open,
                0,
                BlobEnd::Blob(data.len() as u64),
                policy(),
                &CancelToken::new(),
                hook,
            )
            .expect("starts");
            assert_eq!(starts_at, 0);
            let mut read = Vec::new();
            blob.read_to_end(&mut read).expect("resumes to the end");
            assert!(
                read == *data,
                "range {honour_range}, stall {stall}: same bytes"
            );
            assert_eq!(tries.load(Ordering::SeqCst), 3);
            let events = events.lock().expect("events").clone();
            assert_eq!(
                events,
                vec![(1, 300_000), (2, 600_000)],
                "{honour_range} {stall}"
            );
        }
    }

    #[test]
    fn tries_are_bounded_and_cancel_ends_a_stall_at_once() {
        let data = Arc::new(vec![7u8; 10_000]);
        let open: OpenAt = Arc::new(move |offset, _| {
            Ok(Opened {
                body: Box::new(Flaky {
                    data: Arc::clone(&data),
                    at: offset as usize,
                    cut: offset as usize + 100,
                    stall: false,
                }),
                starts_at: offset,
            })
        });
        let no_hook: ResumeHook = Arc::new(|_: &Resumed| {});
        let (mut blob, _) = ResumingBlob::start(
            Arc::clone(&open),
            0,
            BlobEnd::Blob(10_000),
            policy(),
            &CancelToken::new(),
            Arc::clone(&no_hook),
        )
        .expect("starts");
        let error = blob.read_to_end(&mut Vec::new()).expect_err("gives up");
        assert!(
            error
                .to_string()
                .contains("gave up at byte 400 after 3 resumes"),
            "{error}"
        );

        let stalling: OpenAt = Arc::new(|_, _| {
            Ok(Opened {
                body: Box::new(Flaky {
                    data: Arc::new(vec![0; 10]),
                    at: 0,
                    cut: 0,
                    stall: true,
                }),
                starts_at: 0,
            })
        });
        let cancel = CancelToken::new();
        let slow = ResumePolicy {
            idle_timeout: Duration::from_secs(3600),
            ..policy()
        };
        let (mut blob, _) =
            ResumingBlob::start(stalling, 0, BlobEnd::Blob(10), slow, &cancel, no_hook)
                .expect("starts");
        let canceller = cancel.clone();
        let started = Instant::now();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            canceller.cancel();
        });
        assert!(blob.read(&mut [0; 10]).is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
