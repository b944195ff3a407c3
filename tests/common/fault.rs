//! A small in-process HTTP/1.1 server for what a real registry won't do on demand: expiring
//! tokens, 429 / 5xx, cross-host redirects, truncated or corrupt bodies, wrong digests, huge
//! or endless bodies. One thread per connection, `Connection: close` on every reply.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::images::{ExpectedEntry, TarItem, build_tar, sha256};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Headers with lowercase names.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header of that (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A function that writes a streamed body.
pub type BodyWriter = Arc<dyn Fn(&mut dyn Write) -> io::Result<()> + Send + Sync>;

/// A reply body.
#[derive(Clone)]
pub enum Body {
    /// Fixed bytes.
    Bytes(Vec<u8>),
    /// Written by a function (large or slow bodies).
    Stream(BodyWriter),
}

/// A reply.
#[derive(Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
    /// `Content-Length` to announce; defaults to the byte body's length.
    pub content_length: Option<u64>,
}

impl Reply {
    /// A reply with a byte body.
    pub fn bytes(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Bytes(body.into()),
            content_length: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// The server; stops accepting on drop.
pub struct FaultServer {
    addr: String,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl FaultServer {
    /// Starts serving `handler` on a free loopback port.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fault server");
        let addr = listener.local_addr().expect("addr").to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let (log, stopped) = (Arc::clone(&requests), Arc::clone(&stop));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, log) = (Arc::clone(&handler), Arc::clone(&log));
                thread::spawn(move || {
                    let _ = serve_connection(stream, &*handler, &log);
                });
            }
        });
        Self {
            addr,
            requests,
            stop,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("request log").clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve_connection(
    stream: TcpStream,
    handler: &dyn Fn(&Request) -> Reply,
    log: &Mutex<Vec<Request>>,
) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
        }
    }
    let request = Request {
        method,
        path,
        headers,
    };
    if let Some(length) = request
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        io::copy(&mut (&mut reader).take(length), &mut io::sink())?;
    }
    log.lock().expect("request log").push(request.clone());
    let reply = handler(&request);
    let mut out = io::BufWriter::new(stream);
    write!(out, "HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status)?;
    for (name, value) in &reply.headers {
        write!(out, "{name}: {value}\r\n")?;
    }
    let length = reply.content_length.or(match &reply.body {
        Body::Bytes(bytes) => Some(bytes.len() as u64),
        Body::Stream(_) => None,
    });
    if let Some(length) = length {
        write!(out, "Content-Length: {length}\r\n")?;
    }
    write!(out, "\r\n")?;
    if request.method != "HEAD" {
        match &reply.body {
            Body::Bytes(bytes) => out.write_all(bytes)?,
            Body::Stream(write) => write(&mut out)?,
        }
    }
    out.flush()
}

/// A blob a [`FakeRegistry`] serves.
#[derive(Clone)]
pub enum FakeBlob {
    /// Fixed bytes.
    Bytes(Vec<u8>),
    /// Generated while sending: length, digest and writer.
    Generated(u64, String, BodyWriter),
}

impl FakeBlob {
    /// A generated blob whose digest is found by running the writer once.
    pub fn generated(size: u64, write: BodyWriter) -> Self {
        Self::Generated(size, digest_of_writer(&write), write)
    }
}

/// A minimal registry (one repository, one image) with a fault hook.
pub struct FakeRegistry {
    /// Repository name (`test/app`).
    pub repo: String,
    /// Manifest served for any tag.
    pub manifest: Vec<u8>,
    /// Blobs by digest (config and layers).
    pub blobs: HashMap<String, FakeBlob>,
    /// Layer digests in manifest order.
    pub layer_digests: Vec<String>,
}

/// Called before normal routing; returning `Some` replaces the normal reply.
pub type Hook = dyn Fn(&Request, &FakeRegistry) -> Option<Reply> + Send + Sync;

impl FakeRegistry {
    /// An image whose layers are `(media type, blob)`.
    pub fn new(layers: Vec<(&str, FakeBlob)>) -> Self {
        let mut blobs = HashMap::new();
        let mut layer_digests = Vec::new();
        let mut descriptors = Vec::new();
        for (media_type, blob) in layers {
            let (digest, size) = match &blob {
                FakeBlob::Bytes(bytes) => (sha256(bytes), bytes.len() as u64),
                FakeBlob::Generated(size, digest, _) => (digest.clone(), *size),
            };
            descriptors
                .push(serde_json::json!({"mediaType": media_type, "digest": digest, "size": size}));
            layer_digests.push(digest.clone());
            blobs.insert(digest, blob);
        }
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "history": layer_digests.iter().enumerate().map(|(i, _)| serde_json::json!({"created_by": format!("step {i}")})).collect::<Vec<_>>(),
        }))
        .expect("config");
        let config_digest = sha256(&config);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": descriptors,
        }))
        .expect("manifest");
        blobs.insert(config_digest, FakeBlob::Bytes(config));
        Self {
            repo: "test/app".into(),
            manifest,
            blobs,
            layer_digests,
        }
    }

    /// The normal reply for a request.
    pub fn route(&self, request: &Request) -> Reply {
        let path = request.path.split('?').next().unwrap_or_default();
        if path == "/v2/" {
            return Reply::bytes(200, "{}");
        }
        let prefix = format!("/v2/{}/", self.repo);
        let Some(rest) = path.strip_prefix(&prefix) else {
            return Reply::bytes(
                404,
                r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#,
            );
        };
        if rest.starts_with("manifests/") {
            return Reply::bytes(200, self.manifest.clone())
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json");
        }
        if let Some(digest) = rest.strip_prefix("blobs/") {
            return match self.blobs.get(digest) {
                Some(FakeBlob::Bytes(bytes)) => Reply::bytes(200, bytes.clone()),
                Some(FakeBlob::Generated(size, _, write)) => Reply {
                    status: 200,
                    headers: Vec::new(),
                    body: Body::Stream(Arc::clone(write)),
                    content_length: Some(*size),
                },
                None => Reply::bytes(
                    404,
                    r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
                ),
            };
        }
        Reply::bytes(404, "")
    }

    /// Serves this image, consulting `hook` first.
    pub fn serve(
        self,
        hook: impl Fn(&Request, &FakeRegistry) -> Option<Reply> + Send + Sync + 'static,
    ) -> FaultServer {
        FaultServer::start(move |request| {
            hook(request, &self).unwrap_or_else(|| self.route(request))
        })
    }

    /// Serves this image without faults.
    pub fn serve_plain(self) -> FaultServer {
        self.serve(|_, _| None)
    }

    /// The reference of the served image on `server`.
    pub fn reference(server: &FaultServer) -> String {
        format!("{}/test/app:v1", server.addr())
    }
}

/// The digest of what a writer produces (generated once up front to put in the manifest).
pub fn digest_of_writer(write: &BodyWriter) -> String {
    struct Hasher(sha2::Sha256);
    impl Write for Hasher {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            sha2::Digest::update(&mut self.0, buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut hasher = Hasher(<sha2::Sha256 as sha2::Digest>::new());
    write(&mut hasher).expect("generate blob");
    format!("sha256:{:x}", sha2::Digest::finalize(hasher.0))
}

/// A registry whose single uncompressed layer of many small files trickles out for about a
/// minute, unless the client goes away first.
pub struct SlowBlobServer {
    server: FaultServer,
    /// Entries of the slow layer.
    pub expected: Vec<ExpectedEntry>,
}

impl SlowBlobServer {
    /// Number of files in the slow layer.
    pub const FILES: usize = 20_000;

    /// Starts the server.
    pub fn start() -> Self {
        let items: Vec<TarItem> = (0..Self::FILES)
            .map(|i| TarItem::File(format!("slow/file-{i:05}"), vec![b'x'; 100], 0o644))
            .collect();
        let (tar, expected) = build_tar(&items);
        let tar_for_digest = tar.clone();
        let tar = Arc::new(tar);
        let length = tar.len() as u64;
        let writer: BodyWriter = Arc::new(move |out: &mut dyn Write| {
            for chunk in tar.chunks(4096) {
                out.write_all(chunk)?;
                out.flush()?;
                thread::sleep(Duration::from_millis(12));
            }
            Ok(())
        });
        // The digest is computed from the same bytes without the pacing.
        let registry = FakeRegistry::new(vec![(
            "application/vnd.oci.image.layer.v1.tar",
            FakeBlob::Generated(length, sha256(&tar_for_digest), writer),
        )]);
        Self {
            server: registry.serve_plain(),
            expected,
        }
    }

    /// `127.0.0.1:PORT/test/app:v1`.
    pub fn reference(&self) -> String {
        FakeRegistry::reference(&self.server)
    }
}

/// An uncompressed tar of `files` files of `file_size` bytes each, generated while it is
/// sent (never held in memory). Returns the blob and its length.
pub fn synthetic_big_layer(files: usize, file_size: u64) -> FakeBlob {
    let padded = file_size.div_ceil(512) * 512;
    let length = files as u64 * (512 + padded) + 1024;
    let writer: BodyWriter = Arc::new(move |out: &mut dyn Write| {
        let pattern: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        for index in 0..files {
            let mut header = tar::Header::new_gnu();
            header
                .set_path(format!("big/file-{index:03}.bin"))
                .map_err(io::Error::other)?;
            header.set_size(file_size);
            header.set_mode(0o644);
            header.set_mtime(1_700_000_000);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            out.write_all(header.as_bytes())?;
            let mut left = padded;
            while left > 0 {
                let n = left.min(pattern.len() as u64) as usize;
                out.write_all(&pattern[..n])?;
                left -= n as u64;
            }
        }
        out.write_all(&[0u8; 1024])
    });
    FakeBlob::generated(length, writer)
}
