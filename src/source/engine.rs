//! Images in a local Docker or Podman engine, read through its HTTP API on a unix socket
//! (`docker-daemon:NAME[:TAG]`, `docker-daemon:ID`, `podman:NAME[:TAG]`).
//!
//! The image's metadata comes from `GET /images/{name}/json` and `/images/{name}/history`: a
//! config is made up from them (runtime config, platform, `rootfs.diff_ids`, build steps) and
//! a manifest lists the layers by diff_id, as a legacy `docker save` archive does. The layers
//! come from `GET /images/{id}/get`, the `docker save` stream, read once from its start by one
//! pump thread: each layer tar passes by under a name that gives its digest
//! (`<hex>.tar` as Podman writes it, `blobs/sha256/<hex>` as Docker ≥ 25 does) and is handed
//! on, as it passes, to the reader that opened that blob. Nothing is written to disk.
//!
//! A layer that passes by while nobody has opened it (it was listed from the cache, or the
//! stream holds layers out of layer order) is skipped if another layer is waited for; opening
//! it later reads the stream again up to it. The stream of Podman holds the layers in layer
//! order, so a peek reads it once.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crossbeam_channel::{Receiver, Sender, bounded};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::archive::archive_path;
use super::local::digest_of_blob_path;
use super::{BlobReader, ErrorKind, FetchedManifest, ImageSource, RangeReply, SourceError};
use crate::cancel::CancelToken;
use crate::layer::tar::TarWalker;
use crate::oci::manifest::{Descriptor, media_type};

/// Media type given to the layers of the save stream, which are uncompressed tars.
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Media type of a Docker image config.
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Bytes of a layer handed on at once.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks in flight between the pump and a layer's reader.
const CHUNKS_IN_FLIGHT: usize = 8;
/// Metadata answers larger than this are refused.
const MAX_METADATA_BYTES: u64 = 16 * 1024 * 1024;

/// Which engine the user named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// Docker (`docker-daemon:`): `DOCKER_HOST`, else `/var/run/docker.sock`.
    Docker,
    /// Podman (`podman:`): `CONTAINER_HOST`, else `$XDG_RUNTIME_DIR/podman/podman.sock`, else
    /// `/run/podman/podman.sock`.
    Podman,
    /// Whichever of the two answers (`--engine`): Docker's sockets, then Podman's.
    Any,
}

impl EngineKind {
    /// The prefix naming this engine in an image name (`docker-daemon:` for [`Self::Any`]).
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Docker | Self::Any => "docker-daemon:",
            Self::Podman => "podman:",
        }
    }

    /// The sockets to try, in order, from the environment: `(socket, where it came from)`.
    /// A `*_HOST` variable that is set is the only candidate of its engine.
    pub fn sockets(self) -> Result<Vec<(PathBuf, String)>, SourceError> {
        let docker = || -> Result<Vec<(PathBuf, String)>, SourceError> {
            match std::env::var("DOCKER_HOST") {
                Ok(host) if !host.is_empty() => Ok(vec![(
                    unix_path(&host, "DOCKER_HOST")?,
                    "DOCKER_HOST".into(),
                )]),
                _ => Ok(vec![(
                    PathBuf::from("/var/run/docker.sock"),
                    "Docker's default".into(),
                )]),
            }
        };
        let podman = || -> Result<Vec<(PathBuf, String)>, SourceError> {
            if let Ok(host) = std::env::var("CONTAINER_HOST")
                && !host.is_empty()
            {
                return Ok(vec![(
                    unix_path(&host, "CONTAINER_HOST")?,
                    "CONTAINER_HOST".into(),
                )]);
            }
            let mut sockets = Vec::new();
            if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
                sockets.push((
                    Path::new(&runtime).join("podman/podman.sock"),
                    "rootless Podman".into(),
                ));
            }
            sockets.push((
                PathBuf::from("/run/podman/podman.sock"),
                "rootful Podman".into(),
            ));
            Ok(sockets)
        };
        Ok(match self {
            Self::Docker => docker()?,
            Self::Podman => podman()?,
            Self::Any => docker()?.into_iter().chain(podman()?).collect(),
        })
    }
}

/// The path of a `unix://PATH` host.
fn unix_path(host: &str, variable: &str) -> Result<PathBuf, SourceError> {
    host.strip_prefix("unix://")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            SourceError::new(
                ErrorKind::BadInput,
                format!(
                    "{variable}={host:?} is not a unix socket: only unix://PATH engines are read \
                     (ssh:// and tcp:// are not supported)"
                ),
            )
        })
}

/// An engine's API on its unix socket.
#[derive(Debug, Clone)]
struct EngineApi {
    socket: PathBuf,
    kind: EngineKind,
    http: reqwest::blocking::Client,
}

impl EngineApi {
    /// The first socket of `kind` that exists; an error naming every socket tried when none
    /// does.
    fn find(kind: EngineKind) -> Result<Self, SourceError> {
        let sockets = kind.sockets()?;
        let Some((socket, _)) = sockets.iter().find(|(socket, _)| socket.exists()) else {
            let tried: Vec<String> = sockets
                .iter()
                .map(|(socket, origin)| format!("unix://{} ({origin})", socket.display()))
                .collect();
            let hint = match kind {
                EngineKind::Docker => "start Docker, or set DOCKER_HOST=unix://PATH",
                EngineKind::Podman => {
                    "start the Podman API (systemctl --user start podman.socket, or podman system \
                     service --time=0 unix://PATH) and set CONTAINER_HOST=unix://PATH if it listens \
                     elsewhere"
                }
                EngineKind::Any => {
                    "start Docker or the Podman API, or set DOCKER_HOST / CONTAINER_HOST=unix://PATH"
                }
            };
            return Err(SourceError::new(
                ErrorKind::Unreachable,
                format!(
                    "no container engine found: tried {}; {hint}",
                    tried.join(", ")
                ),
            ));
        };
        let http = reqwest::blocking::Client::builder()
            .unix_socket(socket.as_path())
            .connect_timeout(std::time::Duration::from_secs(10))
            // The save stream of a large image takes as long as it takes.
            .timeout(None)
            .build()
            .map_err(|e| SourceError::new(ErrorKind::BadInput, e.to_string()))?;
        let kind = match kind {
            EngineKind::Any if socket.to_string_lossy().contains("podman") => EngineKind::Podman,
            EngineKind::Any => EngineKind::Docker,
            other => other,
        };
        Ok(Self {
            socket: socket.clone(),
            kind,
            http,
        })
    }

    /// `GET path`; an error for anything but 200, 404 being [`ErrorKind::NotFound`].
    fn get(&self, path: &str, what: &str) -> Result<reqwest::blocking::Response, SourceError> {
        let url = format!("http://localhost{path}");
        let response = self
            .http
            .get(&url)
            .send()
            .map_err(|error| self.connect_error(&error))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut body = Vec::new();
        response.take(64 * 1024).read_to_end(&mut body).ok();
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_owned());
        let message: String = message
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        let kind = if status == reqwest::StatusCode::NOT_FOUND {
            ErrorKind::NotFound
        } else {
            ErrorKind::Unreachable
        };
        Err(SourceError::new(
            kind,
            format!(
                "{what}: the engine at unix://{} answered {status}: {message}",
                self.socket.display()
            ),
        ))
    }

    /// A small JSON answer.
    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
    ) -> Result<T, SourceError> {
        let mut body = Vec::new();
        self.get(path, what)?
            .take(MAX_METADATA_BYTES)
            .read_to_end(&mut body)
            .map_err(|e| self.io_error(what, &e))?;
        serde_json::from_slice(&body).map_err(|e| {
            SourceError::new(
                ErrorKind::Invalid,
                format!("{what}: the engine's answer is not valid: {e}"),
            )
        })
    }

    fn io_error(&self, what: &str, error: &io::Error) -> SourceError {
        SourceError::new(
            ErrorKind::Unreachable,
            format!(
                "{what}: reading from the engine at unix://{} failed: {error}",
                self.socket.display()
            ),
        )
    }

    /// Why the socket could not be used, with what to do.
    fn connect_error(&self, error: &reqwest::Error) -> SourceError {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        let mut io_kind = None;
        while let Some(current) = cause {
            if let Some(io) = current.downcast_ref::<io::Error>() {
                io_kind = Some(io.kind());
                break;
            }
            cause = current.source();
        }
        let socket = self.socket.display();
        match io_kind {
            Some(io::ErrorKind::PermissionDenied) => {
                let hint = match self.kind {
                    EngineKind::Podman => {
                        "use your own rootless socket (CONTAINER_HOST=unix://$XDG_RUNTIME_DIR/\
                         podman/podman.sock, started by systemctl --user start podman.socket) \
                         or run as root"
                    }
                    _ => {
                        "add your user to the docker group (sudo usermod -aG docker $USER, then \
                         log in again), or use rootless Docker's socket \
                         (DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock)"
                    }
                };
                SourceError::new(
                    ErrorKind::Unauthorized,
                    format!("permission denied on the engine socket unix://{socket}: {hint}"),
                )
            }
            _ => SourceError::new(
                ErrorKind::Unreachable,
                format!(
                    "the engine at unix://{socket} does not answer ({}): is it running?",
                    error_chain(error)
                ),
            ),
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}

/// `GET /images/{name}/json`, the parts used.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    id: String,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default, rename = "RootFS")]
    root_fs: RootFs,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RootFs {
    #[serde(default)]
    layers: Vec<String>,
}

/// One step of `GET /images/{name}/history` (newest first).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Step {
    #[serde(default)]
    created: i64,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    comment: String,
}

/// An image in a local engine, served through [`ImageSource`].
pub struct EngineSource {
    name: String,
    api: EngineApi,
    /// The image's id, as the engine names it in `/get`.
    id: String,
    /// The made-up manifest, by digest.
    manifest: FetchedManifest,
    /// The made-up config and its digest.
    config: (String, Arc<[u8]>),
    /// The layers' digests (diff_ids), in layer order.
    layers: Vec<String>,
    pump: Arc<Pump>,
}

impl std::fmt::Debug for EngineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSource")
            .field("name", &self.name)
            .field("socket", &self.api.socket)
            .finish_non_exhaustive()
    }
}

impl EngineSource {
    /// Finds the engine's socket and the image `image` (a name or an id) in it; returns the
    /// source and the reference of its manifest.
    pub fn open(kind: EngineKind, image: &str) -> Result<(Self, String), SourceError> {
        let api = EngineApi::find(kind)?;
        let name = format!("{}{image}", api.kind.prefix());
        let encoded = encode_name(image);
        let inspect: Inspect = api.get_json(
            &format!("/images/{encoded}/json"),
            &format!("{name}: looking the image up"),
        )?;
        let id = inspect.id.clone();
        let steps: Vec<Step> = api.get_json(
            &format!("/images/{}/history", encode_name(&id)),
            &format!("{name}: reading the image's history"),
        )?;
        let config = made_up_config(&inspect, &steps);
        let config = serde_json::to_vec(&config)
            .map_err(|e| SourceError::new(ErrorKind::Invalid, e.to_string()))?;
        let config_digest = format!("sha256:{:x}", Sha256::digest(&config));
        let layers = inspect.root_fs.layers.clone();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "digest": config_digest, "size": config.len()},
            // Sizes are unknown until the layers pass by in the save stream (0 = unknown).
            "layers": layers.iter().map(|digest| serde_json::json!({
                "mediaType": DOCKER_LAYER_TAR, "digest": digest, "size": 0,
            })).collect::<Vec<_>>(),
        });
        let body = serde_json::to_vec(&manifest)
            .map_err(|e| SourceError::new(ErrorKind::Invalid, e.to_string()))?;
        let digest = format!("sha256:{:x}", Sha256::digest(&body));
        let pump = Pump::new(layers.iter().cloned().collect());
        Ok((
            Self {
                name,
                id,
                manifest: FetchedManifest {
                    content_type: Some(media_type::DOCKER_MANIFEST.to_owned()),
                    digest: digest.clone(),
                    body,
                },
                config: (config_digest, Arc::from(config)),
                layers,
                api,
                pump,
            },
            digest,
        ))
    }

    /// Starts a save stream of the image and a pump thread feeding `pump` from it.
    fn start_stream(&self, pump: &Arc<Pump>) -> Result<(), SourceError> {
        let response = self.api.get(
            &format!("/images/{}/get", encode_name(&self.id)),
            &format!("{}: exporting the image", self.name),
        )?;
        let pump = Arc::clone(pump);
        let name = self.name.clone();
        std::thread::Builder::new()
            .name("engine-save-stream".into())
            .spawn(move || pump.run(response, &name))
            .map(drop)
            .map_err(|e| SourceError::new(ErrorKind::Unreachable, e.to_string()))
    }
}

impl Drop for EngineSource {
    fn drop(&mut self) {
        self.pump.close();
    }
}

/// The made-up image config: what the engine says of the image, in the shape of a config.
fn made_up_config(inspect: &Inspect, steps: &[Step]) -> serde_json::Value {
    let layers = inspect.root_fs.layers.len();
    // The engine gives no `empty_layer` flag: steps with bytes made the layers, when that
    // accounts for every layer (else the steps are matched to layers from the start).
    let sized = steps.iter().filter(|s| s.size > 0).count();
    let history: Vec<serde_json::Value> = steps
        .iter()
        .rev()
        .map(|step| {
            let mut entry = serde_json::Map::new();
            if let Some(created) = chrono::DateTime::from_timestamp(step.created, 0) {
                entry.insert(
                    "created".into(),
                    created
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        .into(),
                );
            }
            entry.insert("created_by".into(), step.created_by.clone().into());
            if !step.comment.is_empty() {
                entry.insert("comment".into(), step.comment.clone().into());
            }
            if sized == layers && step.size <= 0 {
                entry.insert("empty_layer".into(), true.into());
            }
            entry.into()
        })
        .collect();
    let mut config = serde_json::Map::new();
    for (key, value) in [
        ("architecture", &inspect.architecture),
        ("os", &inspect.os),
        ("variant", &inspect.variant),
        ("created", &inspect.created),
        ("author", &inspect.author),
    ] {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            config.insert(key.into(), value.clone().into());
        }
    }
    if let Some(runtime) = &inspect.config {
        config.insert("config".into(), runtime.clone());
    }
    config.insert(
        "rootfs".into(),
        serde_json::json!({"type": "layers", "diff_ids": inspect.root_fs.layers}),
    );
    config.insert("history".into(), history.into());
    config.into()
}

/// An image name or id as a URL path segment: names keep their `/`, `:` and `@`.
fn encode_name(name: &str) -> String {
    let mut encoded = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/:@".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

impl ImageSource for EngineSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn fetch_manifest(
        &self,
        reference: &str,
        _cancel: &CancelToken,
    ) -> Result<FetchedManifest, SourceError> {
        if reference == self.manifest.digest {
            return Ok(self.manifest.clone());
        }
        Err(SourceError::new(
            ErrorKind::NotFound,
            format!("{} has no manifest {reference:?}", self.name),
        ))
    }

    fn open_blob(
        &self,
        descriptor: &Descriptor,
        _cancel: &CancelToken,
    ) -> Result<BlobReader, SourceError> {
        let digest = descriptor.digest.as_str();
        if digest == self.config.0 {
            return Ok(Box::new(io::Cursor::new(Arc::clone(&self.config.1))));
        }
        if !self.layers.iter().any(|layer| layer == digest) {
            return Err(SourceError::new(
                ErrorKind::NotFound,
                format!("{} has no blob {digest}", self.name),
            ));
        }
        let (reader, start) = self.pump.request(digest);
        if start {
            self.start_stream(&self.pump)?;
        }
        if let Some(reader) = reader {
            return Ok(reader);
        }
        // It passed by before it was asked for: a stream of its own, read up to it.
        let own = Pump::new(HashSet::from([digest.to_owned()]));
        let (reader, _) = own.request(digest);
        self.start_stream(&own)?;
        reader.ok_or_else(|| {
            SourceError::new(ErrorKind::Unreachable, format!("{}: {digest}", self.name))
        })
    }

    fn open_blob_range(
        &self,
        _descriptor: &Descriptor,
        _range: Range<u64>,
        _cancel: &CancelToken,
    ) -> Result<RangeReply, SourceError> {
        Ok(RangeReply::Unsupported(
            "the engine's save stream has no random access".into(),
        ))
    }
}

/// One chunk of a layer, or why the stream ended early.
type Chunk = Result<Vec<u8>, String>;

/// Hands the layers of one save stream to the readers that opened them.
struct Pump {
    state: Mutex<PumpState>,
    changed: Condvar,
}

struct PumpState {
    /// Layers not yet passed by.
    ahead: HashSet<String>,
    /// Readers waiting for a layer still ahead.
    waiting: HashMap<String, Sender<Chunk>>,
    started: bool,
    closed: bool,
}

impl Pump {
    fn new(ahead: HashSet<String>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(PumpState {
                ahead,
                waiting: HashMap::new(),
                started: false,
                closed: false,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PumpState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A reader of layer `digest` if it is still ahead, and whether the stream must be
    /// started.
    fn request(&self, digest: &str) -> (Option<BlobReader>, bool) {
        let mut state = self.lock();
        if state.closed || !state.ahead.contains(digest) || state.waiting.contains_key(digest) {
            return (None, false);
        }
        let (sender, receiver) = bounded(CHUNKS_IN_FLIGHT);
        state.waiting.insert(digest.to_owned(), sender);
        let start = !std::mem::replace(&mut state.started, true);
        self.changed.notify_all();
        (
            Some(Box::new(ChunkReader {
                chunks: receiver,
                current: Vec::new(),
                position: 0,
            })),
            start,
        )
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Walks the save stream, handing each wanted layer to its reader.
    fn run(&self, response: reqwest::blocking::Response, name: &str) {
        let mut walker = TarWalker::new(io::BufReader::with_capacity(CHUNK_BYTES, response));
        loop {
            if self.lock().ahead.is_empty() {
                return; // every layer passed by: the rest of the stream is not needed
            }
            let entry = match walker.next_entry() {
                Ok(Some(entry)) => entry,
                Ok(None) => {
                    return self.fail_all(&format!("{name}: the save stream ended without it"));
                }
                Err(error) => {
                    return self.fail_all(&format!("{name}: the save stream is damaged: {error}"));
                }
            };
            let is_file = matches!(
                entry.entry_type,
                tar::EntryType::Regular | tar::EntryType::Continuous
            ) && !entry.sparse;
            if !is_file {
                continue;
            }
            let path = archive_path(&String::from_utf8_lossy(&entry.path));
            let Some(digest) = digest_of_blob_path(&path) else {
                continue;
            };
            let Some(sender) = self.wait_for(&digest) else {
                if self.lock().closed {
                    return;
                }
                continue; // not asked for: skipped by the walker
            };
            let mut data = walker.data();
            let mut buffer = vec![0; CHUNK_BYTES];
            loop {
                match read_full(&mut data, &mut buffer) {
                    Ok(0) => break,
                    Ok(read) => {
                        if sender.send(Ok(buffer[..read].to_vec())).is_err() {
                            break; // the reader is gone; the walker skips the rest
                        }
                    }
                    Err(error) => {
                        sender.send(Err(error.to_string())).ok();
                        return self
                            .fail_all(&format!("{name}: reading the save stream failed: {error}"));
                    }
                }
            }
        }
    }

    /// Waits until layer `digest` is asked for, unless another layer is waited for (then
    /// nobody needs this one now). `None`: skip it.
    fn wait_for(&self, digest: &str) -> Option<Sender<Chunk>> {
        let mut state = self.lock();
        if !state.ahead.remove(digest) {
            return None;
        }
        loop {
            if state.closed {
                return None;
            }
            if let Some(sender) = state.waiting.remove(digest) {
                return Some(sender);
            }
            if !state.waiting.is_empty() {
                return None;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Ends every waiting reader with `message`.
    fn fail_all(&self, message: &str) {
        let mut state = self.lock();
        state.ahead.clear();
        for (digest, sender) in state.waiting.drain() {
            sender.send(Err(format!("layer {digest}: {message}"))).ok();
        }
    }
}

/// Fills `buffer` as far as the reader goes.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// A layer's bytes as the pump hands them on.
struct ChunkReader {
    chunks: Receiver<Chunk>,
    current: Vec<u8>,
    position: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len() {
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.position = 0;
                }
                Ok(Err(message)) => return Err(io::Error::other(message)),
                Err(_) => return Ok(0), // the layer's member ended
            }
        }
        let read = buf.len().min(self.current.len() - self.position);
        buf[..read].copy_from_slice(&self.current[self.position..self.position + read]);
        self.position += read;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_separators_and_escape_the_rest() {
        assert_eq!(encode_name("localhost/app:1"), "localhost/app:1");
        assert_eq!(encode_name("a b?c#"), "a%20b%3Fc%23");
    }

    #[test]
    fn only_unix_hosts_are_accepted() {
        assert_eq!(
            unix_path("unix:///run/x.sock", "DOCKER_HOST").expect("unix"),
            PathBuf::from("/run/x.sock")
        );
        let error = unix_path("tcp://1.2.3.4:2375", "DOCKER_HOST").expect_err("tcp");
        assert_eq!(error.kind(), ErrorKind::BadInput);
        assert!(error.to_string().contains("DOCKER_HOST"), "{error}");
    }
}
