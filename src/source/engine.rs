//! Images in a local Docker or Podman engine, read through its HTTP API on a unix socket
//! (`docker-daemon:NAME[:TAG]`, `docker-daemon:ID`, `podman:NAME[:TAG]`).
//!
//! The image's metadata comes from `GET /images/{name}/json` and `/images/{name}/history`: a
//! config is made up from them (runtime config, platform, `rootfs.diff_ids`, build steps) and
//! a manifest lists the layers by diff_id, as a legacy `docker save` archive does. The layers
//! come from `GET /images/{id}/get`, the `docker save` stream, read from its start by one
//! pump thread ([`Pump`]), which reads any `Read` and knows every layout engines write:
//! `<diff_id>.tar` (Podman), `<v1 id>/layer.tar` (Docker < 25: identified by hashing it as it
//! passes), `blobs/sha256/<diff_id>` in hash order (Docker ≥ 25, classic store) and gzip
//! blobs named by their compressed digest (Docker's containerd store: mapped through the
//! manifest and config blobs, kept in memory as they pass, or by hashing the uncompressed
//! bytes). Each layer is handed on, uncompressed, to the reader that opened it. Layers that
//! pass before they are asked for are kept in memory up to 256 MiB in all; any other layer is
//! read in a further pass over a new stream. Nothing is written to disk.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crossbeam_channel::{Receiver, Sender, bounded};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::archive::archive_path;
use super::local::{MadeUpDocuments, blob_path, digest_of_blob_path};
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
/// Bytes of layers that pass by before they are asked for kept in memory, all together.
const PARKED_BYTES: u64 = 256 * 1024 * 1024;
/// A member of the save stream this small whose name says nothing is read into memory and
/// sniffed (manifests and configs are JSON).
const MAX_SMALL_MEMBER: u64 = 4 * 1024 * 1024;
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

/// One image of an engine's list (`GET /images/json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineImage {
    /// The image's id (`sha256:…`).
    pub id: String,
    /// Its repository (`localhost/app`), or `<none>` for an untagged image.
    pub repository: String,
    /// Its tag, or `<none>`.
    pub tag: String,
    /// Its size in bytes, as the engine counts it.
    pub size: u64,
    /// When it was built (Unix seconds).
    pub created: i64,
    /// What to type to open it: `podman:NAME:TAG` / `docker-daemon:NAME:TAG`, or the id.
    pub reference: String,
}

/// `GET /images/json`, the parts used.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    id: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    created: i64,
}

/// The images of the first engine of `kind` found (one row per tag; untagged images once,
/// by id), newest first, and the engine that answered.
pub fn list_images(kind: EngineKind) -> Result<(EngineKind, Vec<EngineImage>), SourceError> {
    let api = EngineApi::find(kind)?;
    let summaries: Vec<Summary> = api.get_json("/images/json", "listing the engine's images")?;
    let prefix = api.kind.prefix();
    let mut images = Vec::new();
    for summary in summaries {
        let tags: Vec<String> = summary
            .repo_tags
            .unwrap_or_default()
            .into_iter()
            .filter(|tag| tag != "<none>:<none>")
            .collect();
        let size = u64::try_from(summary.size).unwrap_or(0);
        if tags.is_empty() {
            let short = summary.id.trim_start_matches("sha256:");
            images.push(EngineImage {
                reference: format!("{prefix}{}", &short[..short.len().min(12)]),
                id: summary.id,
                repository: "<none>".into(),
                tag: "<none>".into(),
                size,
                created: summary.created,
            });
            continue;
        }
        for name in tags {
            let (repository, tag) = match name.rsplit_once(':') {
                Some((repository, tag)) if !tag.contains('/') => (repository, tag),
                _ => (name.as_str(), "latest"),
            };
            images.push(EngineImage {
                id: summary.id.clone(),
                repository: repository.to_owned(),
                tag: tag.to_owned(),
                size,
                created: summary.created,
                reference: format!("{prefix}{name}"),
            });
        }
    }
    images.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| a.reference.cmp(&b.reference))
    });
    Ok((api.kind, images))
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
    /// The made-up manifest.
    documents: MadeUpDocuments,
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

/// Whether a local engine (Docker's sockets, then Podman's) answers and holds `image`.
/// No engine, a refused socket, a slow one (over 2 s) or an unknown name all say no, so
/// that the caller goes on to the registry.
pub fn holds_image(image: &str) -> bool {
    let Ok(api) = EngineApi::find(EngineKind::Any) else {
        return false;
    };
    let url = format!("http://localhost/images/{}/json", encode_name(image));
    api.http
        .get(&url)
        .timeout(std::time::Duration::from_secs(2))
        .send()
        .is_ok_and(|response| response.status().is_success())
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
        let mut documents = MadeUpDocuments::default();
        let digest = documents.add(media_type::DOCKER_MANIFEST, body);
        let pump = {
            let api = api.clone();
            let path = format!("/images/{}/get", encode_name(&id));
            let what = format!("{name}: exporting the image");
            let open: OpenStream = Box::new(move || {
                api.get(&path, &what)
                    .map(|response| Box::new(response) as Box<dyn Read + Send>)
            });
            Pump::new(name.clone(), layers.clone(), open, PARKED_BYTES)
        };
        Ok((
            Self {
                name,
                documents,
                config: (config_digest, Arc::from(config)),
                layers,
                api,
                pump,
            },
            digest,
        ))
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
        if let Some(document) = self.documents.get(reference) {
            return Ok(document.clone());
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
        self.pump.request(digest)
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

/// Opens the image's save stream from its start (once per pass over it).
pub(crate) type OpenStream =
    Box<dyn Fn() -> Result<Box<dyn Read + Send>, SourceError> + Send + Sync>;

/// What to do with a layer that passes by in the save stream.
enum Turn {
    /// Hand it to these readers.
    Deliver(Vec<Sender<Chunk>>),
    /// Nobody asked for it yet and others are waited for: keep it in memory.
    Park,
    /// Not needed now (read again if it is asked for later).
    Skip,
    /// The source is gone.
    Stop,
}

/// How one pass over the save stream ended.
enum PassEnd {
    /// Every layer passed by.
    Done,
    /// The stream ended with layers still ahead.
    Ended,
    /// The stream could not be opened or read.
    Failed(String),
    /// The source was dropped.
    Stopped,
}

/// What the save stream's small JSON members say: which member holds which layer, for
/// members whose name is not the layer's diff_id (the `<id>/layer.tar` of Docker < 25, the
/// compressed blobs of Docker's containerd image store).
#[derive(Debug, Default)]
struct Learned {
    /// Member path → the diff_id of the layer it holds.
    aliases: HashMap<String, String>,
    /// Manifests seen: (config member path, layer member paths).
    manifests: Vec<(String, Vec<String>)>,
    /// Configs seen: member path → `rootfs.diff_ids`.
    configs: HashMap<String, Vec<String>>,
}

impl Learned {
    /// Takes in a small JSON member; false when it is not JSON.
    fn learn(&mut self, path: &str, body: &[u8]) -> bool {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return false;
        };
        let strings = |value: Option<&serde_json::Value>| -> Vec<String> {
            value
                .and_then(serde_json::Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let digest_path = |value: &serde_json::Value| {
            value
                .get("digest")
                .and_then(serde_json::Value::as_str)
                .and_then(blob_path)
        };
        if let Some(diff_ids) = value.pointer("/rootfs/diff_ids") {
            self.configs
                .insert(path.to_owned(), strings(Some(diff_ids)));
        } else if let (Some(config), Some(layers)) = (
            value.get("config").and_then(digest_path),
            value.get("layers").and_then(serde_json::Value::as_array),
        ) {
            // An OCI / Docker v2 manifest blob.
            let layers = layers.iter().filter_map(digest_path).collect();
            self.manifests.push((config, layers));
        } else if let Some(images) = value.as_array() {
            // The `manifest.json` of `docker save`.
            for image in images {
                if let Some(config) = image.get("Config").and_then(serde_json::Value::as_str) {
                    let layers = strings(image.get("Layers"));
                    self.manifests.push((
                        archive_path(config),
                        layers.iter().map(|layer| archive_path(layer)).collect(),
                    ));
                }
            }
        }
        for (config, layers) in &self.manifests {
            if let Some(diff_ids) = self.configs.get(config)
                && diff_ids.len() == layers.len()
            {
                for (layer, diff_id) in layers.iter().zip(diff_ids) {
                    self.aliases.insert(layer.clone(), diff_id.clone());
                }
            }
        }
        true
    }
}

/// Reads the layers of an image out of its save stream, in whatever layout the engine
/// writes it, and hands each to the reader that opened it.
///
/// A member is identified by its name when that is a diff_id (`<hex>.tar` of Podman,
/// `blobs/sha256/<hex>` of Docker ≥ 25 with its classic store), else by what the stream's
/// manifests and configs said of it, else by hashing it (uncompressed) as it passes. Layers
/// that pass before they are asked for are kept in memory up to a budget; any other layer
/// asked for after it passed is read in a further pass over a new stream. Nothing is written
/// to disk.
pub(crate) struct Pump {
    name: String,
    layers: Vec<String>,
    open: OpenStream,
    park_budget: u64,
    state: Mutex<PumpState>,
    changed: Condvar,
}

struct PumpState {
    /// Layers not yet passed by in the current pass.
    ahead: HashSet<String>,
    /// Readers waiting for a layer.
    waiting: HashMap<String, Vec<Sender<Chunk>>>,
    /// Layers that passed before they were asked for, in memory.
    parked: HashMap<String, Vec<u8>>,
    /// Bytes in `parked`, plus those being read into it.
    parked_bytes: u64,
    learned: Learned,
    /// A pump thread is walking a stream.
    running: bool,
    /// Streams opened so far.
    passes: u32,
    closed: bool,
}

impl Pump {
    /// A pump for the layers `layers` (diff_ids) of the image `name`, reading streams from
    /// `open`, keeping up to `park_budget` bytes of early layers in memory.
    pub(crate) fn new(
        name: String,
        layers: Vec<String>,
        open: OpenStream,
        park_budget: u64,
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            layers,
            open,
            park_budget,
            state: Mutex::new(PumpState {
                ahead: HashSet::new(),
                waiting: HashMap::new(),
                parked: HashMap::new(),
                parked_bytes: 0,
                learned: Learned::default(),
                running: false,
                passes: 0,
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

    /// How many times the save stream was opened.
    #[cfg(test)]
    fn passes(&self) -> u32 {
        self.lock().passes
    }

    /// A reader of layer `digest` (uncompressed), starting a pass over the stream if none
    /// is under way.
    pub(crate) fn request(self: &Arc<Self>, digest: &str) -> Result<BlobReader, SourceError> {
        let mut state = self.lock();
        if state.closed {
            return Err(SourceError::new(
                ErrorKind::Cancelled,
                "the source is closed",
            ));
        }
        if let Some(bytes) = state.parked.remove(digest) {
            state.parked_bytes = state.parked_bytes.saturating_sub(bytes.len() as u64);
            return Ok(Box::new(io::Cursor::new(bytes)));
        }
        let (sender, receiver) = bounded(CHUNKS_IN_FLIGHT);
        state
            .waiting
            .entry(digest.to_owned())
            .or_default()
            .push(sender);
        if !state.running {
            let pump = Arc::clone(self);
            let started = std::thread::Builder::new()
                .name("engine-save-stream".into())
                .spawn(move || pump.run());
            if let Err(error) = started {
                state.waiting.remove(digest);
                return Err(SourceError::new(ErrorKind::Unreachable, error.to_string()));
            }
            state.running = true;
        }
        self.changed.notify_all();
        Ok(Box::new(ChunkReader {
            chunks: receiver,
            current: Vec::new(),
            position: 0,
        }))
    }

    /// Stops the pump at its next step.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Passes over new streams while readers wait for layers that passed by.
    fn run(&self) {
        loop {
            {
                let mut state = self.lock();
                if state.closed || state.waiting.is_empty() {
                    state.running = false;
                    return;
                }
                let parked: HashSet<String> = state.parked.keys().cloned().collect();
                state.ahead = self
                    .layers
                    .iter()
                    .filter(|layer| !parked.contains(*layer))
                    .cloned()
                    .collect();
                state.passes += 1;
            }
            let end = match (self.open)() {
                Ok(stream) => self.pass(stream),
                Err(error) => PassEnd::Failed(error.to_string()),
            };
            let mut state = self.lock();
            let missing: Vec<String> = match &end {
                PassEnd::Failed(_) => state.waiting.keys().cloned().collect(),
                // What is still ahead at the end is not in the stream at all.
                PassEnd::Ended => state
                    .waiting
                    .keys()
                    .filter(|digest| state.ahead.contains(*digest))
                    .cloned()
                    .collect(),
                PassEnd::Done | PassEnd::Stopped => Vec::new(),
            };
            for digest in missing {
                let message = match &end {
                    PassEnd::Failed(message) => message.clone(),
                    _ => format!("{}: the save stream ended without it", self.name),
                };
                for sender in state.waiting.remove(&digest).unwrap_or_default() {
                    sender.send(Err(format!("layer {digest}: {message}"))).ok();
                }
            }
        }
    }

    /// One walk over a save stream.
    fn pass(&self, stream: Box<dyn Read + Send>) -> PassEnd {
        let name = &self.name;
        let mut walker = TarWalker::new(io::BufReader::with_capacity(CHUNK_BYTES, stream));
        loop {
            {
                let state = self.lock();
                if state.closed {
                    return PassEnd::Stopped;
                }
                if state.ahead.is_empty() {
                    return PassEnd::Done; // the rest of the stream is not needed
                }
            }
            let entry = match walker.next_entry() {
                Ok(Some(entry)) => entry,
                Ok(None) => return PassEnd::Ended,
                Err(error) => {
                    return PassEnd::Failed(format!("{name}: the save stream is damaged: {error}"));
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
            let known = digest_of_blob_path(&path)
                .filter(|digest| self.layers.contains(digest))
                .or_else(|| self.lock().learned.aliases.get(&path).cloned());
            let result = match known {
                Some(digest) => self.hand_on(&digest, entry.size, walker.data()),
                None if entry.size <= MAX_SMALL_MEMBER => {
                    let mut body = Vec::new();
                    match walker.data().read_to_end(&mut body) {
                        Ok(_) if self.lock().learned.learn(&path, &body) => Ok(()),
                        Ok(_) => self.identify(&path, io::Cursor::new(body)),
                        Err(error) => Err(error),
                    }
                }
                None => self.identify(&path, walker.data()),
            };
            if let Err(error) = result {
                // A damaged layer fails its readers; a damaged stream fails at the next header.
                log::debug!("{name}: {path}: {error}");
            }
        }
    }

    /// Hands on (or parks, or skips) the member holding layer `digest`.
    fn hand_on(&self, digest: &str, size: u64, data: impl Read) -> io::Result<()> {
        match self.turn_of(digest, size) {
            Turn::Deliver(senders) => self.deliver(digest, senders, uncompressed(data)?),
            Turn::Park => {
                let mut bytes = Vec::new();
                let limit = self.park_budget.saturating_sub(self.lock().parked_bytes);
                uncompressed(data)?
                    .take(limit.saturating_add(1))
                    .read_to_end(&mut bytes)?;
                let mut state = self.lock();
                let fits = state.parked_bytes + bytes.len() as u64 <= self.park_budget;
                if fits {
                    state.parked_bytes += bytes.len() as u64;
                    state.parked.insert(digest.to_owned(), bytes);
                }
                Ok(())
            }
            Turn::Skip | Turn::Stop => Ok(()),
        }
    }

    /// Sends the layer's bytes to its readers; the readers that failed get the error.
    fn deliver(
        &self,
        digest: &str,
        mut senders: Vec<Sender<Chunk>>,
        mut data: impl Read,
    ) -> io::Result<()> {
        let mut buffer = vec![0; CHUNK_BYTES];
        loop {
            match read_full(&mut data, &mut buffer) {
                Ok(0) => return Ok(()),
                Ok(read) => {
                    senders.retain(|sender| sender.send(Ok(buffer[..read].to_vec())).is_ok());
                    if senders.is_empty() {
                        return Ok(()); // the readers are gone; the walker skips the rest
                    }
                }
                Err(error) => {
                    for sender in &senders {
                        sender
                            .send(Err(format!(
                                "layer {digest}: {}: reading the save stream failed: {error}",
                                self.name
                            )))
                            .ok();
                    }
                    return Err(error);
                }
            }
        }
    }

    /// Hashes a member whose name says nothing (uncompressed, as its diff_id), keeping its
    /// bytes in memory while they fit the budget; hands it on once the hash names a layer.
    fn identify(&self, path: &str, data: impl Read) -> io::Result<()> {
        let mut data = uncompressed(data)?;
        let mut hasher = Sha256::new();
        let mut kept: Option<Vec<u8>> = Some(Vec::new());
        let mut buffer = vec![0; CHUNK_BYTES];
        loop {
            let read = read_full(&mut data, &mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            if let Some(bytes) = &mut kept {
                let room = self.park_budget.saturating_sub(self.lock().parked_bytes);
                if (bytes.len() + read) as u64 <= room {
                    bytes.extend_from_slice(&buffer[..read]);
                } else {
                    kept = None;
                }
            }
        }
        let digest = format!("sha256:{:x}", hasher.finalize());
        if !self.layers.contains(&digest) {
            return Ok(());
        }
        let senders = {
            let mut state = self.lock();
            state
                .learned
                .aliases
                .insert(path.to_owned(), digest.clone());
            if !state.ahead.remove(&digest) {
                return Ok(());
            }
            match kept {
                Some(_) if state.waiting.contains_key(&digest) => {
                    state.waiting.remove(&digest).unwrap_or_default()
                }
                Some(bytes) if !state.parked.contains_key(&digest) => {
                    state.parked_bytes += bytes.len() as u64;
                    state.parked.insert(digest, bytes);
                    return Ok(());
                }
                // Too big to keep: its readers (if any) wait for the next pass, which knows it.
                _ => return Ok(()),
            }
        };
        let bytes = kept.unwrap_or_default();
        self.deliver(&digest, senders, bytes.as_slice())
    }

    /// Whether layer `digest`, passing by now with `size` bytes stored, is handed on: waits
    /// until it is asked for, unless other layers are waited for (then it is parked if it
    /// fits, else skipped).
    fn turn_of(&self, digest: &str, size: u64) -> Turn {
        let mut state = self.lock();
        if !state.ahead.remove(digest) {
            return Turn::Skip;
        }
        loop {
            if state.closed {
                return Turn::Stop;
            }
            if let Some(senders) = state.waiting.remove(digest) {
                return Turn::Deliver(senders);
            }
            if !state.waiting.is_empty() {
                return if state.parked_bytes.saturating_add(size) <= self.park_budget {
                    Turn::Park
                } else {
                    Turn::Skip
                };
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// The member's bytes, decompressed when they are gzip or zstd (the compressed blobs of
/// Docker's containerd image store).
fn uncompressed<'a>(data: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut data = data;
    let mut magic = [0u8; 4];
    let read = read_full(&mut data, &mut magic)?;
    let data = io::Cursor::new(magic[..read].to_vec()).chain(data);
    Ok(match magic {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(data)),
        [0x28, 0xb5, 0x2f, 0xfd] => Box::new(zstd::stream::read::Decoder::new(data)?),
        _ => Box::new(data),
    })
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

    /// The save stream layouts of the engines.
    #[derive(Debug, Clone, Copy)]
    enum Layout {
        /// Podman: `<diff_id hex>.tar` per layer, in layer order.
        Podman,
        /// Docker < 25: `<v1 id>/layer.tar`, `<v1 id>/json`, `<v1 id>/VERSION`, in v1-id
        /// order, then `<config hex>.json`, `manifest.json`, `repositories`.
        Legacy,
        /// Docker ≥ 25, classic store: `blobs/sha256/<hex>` (layers uncompressed, named by
        /// diff_id) in hash order, then `index.json`, `manifest.json`, `oci-layout`.
        Classic,
        /// Docker with the containerd image store: the same, but the layer blobs are gzip,
        /// named by their compressed digest.
        Containerd,
    }

    fn sha(bytes: &[u8]) -> String {
        format!("sha256:{:x}", Sha256::digest(bytes))
    }

    fn hex(digest: &str) -> &str {
        digest.trim_start_matches("sha256:")
    }

    fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, data)
            .expect("append");
    }

    /// Layer `index`'s tar and the paths in it (layer 1 has a file of several chunks).
    fn layer_tar(index: usize) -> (Vec<u8>, Vec<String>) {
        let mut builder = tar::Builder::new(Vec::new());
        let mut paths = Vec::new();
        for file in 0..=index + 1 {
            let path = format!("layer{index}/file{file}");
            let size = if index == 1 && file == 0 {
                700_000
            } else {
                100 * file
            };
            append(&mut builder, &path, &vec![index as u8; size]);
            paths.push(path);
        }
        (builder.into_inner().expect("tar"), paths)
    }

    fn json(value: &serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(value).expect("json")
    }

    /// A save stream of the layers `tars` as `layout` writes it.
    fn save_stream(layout: Layout, tars: &[Vec<u8>]) -> Vec<u8> {
        let diff_ids: Vec<String> = tars.iter().map(|tar| sha(tar)).collect();
        let config = json(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }));
        let config_digest = sha(&config);
        let mut members: Vec<(String, Vec<u8>)> = Vec::new();
        match layout {
            Layout::Podman => {
                for (tar, diff_id) in tars.iter().zip(&diff_ids) {
                    members.push((format!("{}.tar", hex(diff_id)), tar.clone()));
                }
                let layers: Vec<String> =
                    diff_ids.iter().map(|d| format!("{}.tar", hex(d))).collect();
                members.push((format!("{}.json", hex(&config_digest)), config));
                members.push((
                    "manifest.json".into(),
                    json(
                        &serde_json::json!([{"Config": format!("{}.json", hex(&config_digest)),
                        "RepoTags": ["localhost/app:1"], "Layers": layers}]),
                    ),
                ));
                members.push(("repositories".into(), b"{}".to_vec()));
            }
            Layout::Legacy => {
                let ids: Vec<String> = (0..tars.len())
                    .map(|i| hex(&sha(format!("v1 {i}").as_bytes())).to_owned())
                    .collect();
                let mut order: Vec<usize> = (0..tars.len()).collect();
                order.sort_by_key(|&i| ids[i].clone());
                for i in order {
                    let id = &ids[i];
                    members.push((format!("{id}/layer.tar"), tars[i].clone()));
                    let parent = i.checked_sub(1).map(|p| ids[p].clone());
                    members.push((
                        format!("{id}/json"),
                        json(&serde_json::json!({"id": id, "parent": parent, "config": {}})),
                    ));
                    members.push((format!("{id}/VERSION"), b"1.0".to_vec()));
                }
                members.push((format!("{}.json", hex(&config_digest)), config));
                let layers: Vec<String> = ids.iter().map(|id| format!("{id}/layer.tar")).collect();
                members.push((
                    "manifest.json".into(),
                    json(
                        &serde_json::json!([{"Config": format!("{}.json", hex(&config_digest)),
                        "RepoTags": ["app:1"], "Layers": layers}]),
                    ),
                ));
                let last = ids.last().cloned().unwrap_or_default();
                members.push((
                    "repositories".into(),
                    json(&serde_json::json!({"app": {"1": last}})),
                ));
            }
            Layout::Classic | Layout::Containerd => {
                let compress = matches!(layout, Layout::Containerd);
                let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
                let mut descriptors = Vec::new();
                for tar in tars {
                    let blob = if compress {
                        let mut encoder =
                            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                        std::io::Write::write_all(&mut encoder, tar).expect("gzip");
                        encoder.finish().expect("gzip")
                    } else {
                        tar.clone()
                    };
                    let media_type = if compress {
                        "application/vnd.oci.image.layer.v1.tar+gzip"
                    } else {
                        "application/vnd.oci.image.layer.v1.tar"
                    };
                    descriptors.push(serde_json::json!({"mediaType": media_type,
                        "digest": sha(&blob), "size": blob.len()}));
                    blobs.push((sha(&blob), blob));
                }
                let manifest = json(&serde_json::json!({
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": config_digest, "size": config.len()},
                    "layers": descriptors,
                }));
                let manifest_digest = sha(&manifest);
                let layers: Vec<String> = blobs
                    .iter()
                    .map(|(digest, _)| format!("blobs/sha256/{}", hex(digest)))
                    .collect();
                blobs.push((config_digest.clone(), config));
                blobs.push((manifest_digest.clone(), manifest));
                blobs.sort_by(|a, b| a.0.cmp(&b.0));
                for (digest, blob) in blobs {
                    members.push((format!("blobs/sha256/{}", hex(&digest)), blob));
                }
                members.push((
                    "index.json".into(),
                    json(&serde_json::json!({"schemaVersion": 2, "manifests": [
                        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                         "digest": manifest_digest, "size": 1}]})),
                ));
                members.push((
                    "manifest.json".into(),
                    json(&serde_json::json!([{"Config":
                        format!("blobs/sha256/{}", hex(&config_digest)),
                        "RepoTags": ["app:1"], "Layers": layers}])),
                ));
                members.push((
                    "oci-layout".into(),
                    br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
                ));
            }
        }
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in members {
            append(&mut builder, &path, &data);
        }
        builder.into_inner().expect("tar")
    }

    fn entries_of(tar: &[u8]) -> Vec<String> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .expect("entries")
            .map(|entry| {
                let entry = entry.expect("entry");
                entry.path().expect("path").display().to_string()
            })
            .collect()
    }

    /// Reads every layer through `pump`: one after the other in layer order, or all opened
    /// at once and read by one thread each (as `--jobs` does).
    fn read_layers(pump: &Arc<Pump>, diff_ids: &[String], at_once: bool) -> Vec<Vec<u8>> {
        let read = |mut reader: BlobReader| {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).expect("read the layer");
            bytes
        };
        if !at_once {
            return diff_ids
                .iter()
                .map(|d| read(pump.request(d).expect("open")))
                .collect();
        }
        let readers: Vec<BlobReader> = diff_ids
            .iter()
            .map(|d| pump.request(d).expect("open"))
            .collect();
        std::thread::scope(|scope| {
            let threads: Vec<_> = readers
                .into_iter()
                .map(|reader| scope.spawn(move || read(reader)))
                .collect();
            threads
                .into_iter()
                .map(|thread| thread.join().expect("reader thread"))
                .collect()
        })
    }

    #[test]
    fn every_save_stream_layout_gives_each_layer_its_entries() {
        let layers: Vec<(Vec<u8>, Vec<String>)> = (0..4).map(layer_tar).collect();
        let tars: Vec<Vec<u8>> = layers.iter().map(|(tar, _)| tar.clone()).collect();
        let diff_ids: Vec<String> = tars.iter().map(|tar| sha(tar)).collect();
        for layout in [
            Layout::Podman,
            Layout::Legacy,
            Layout::Classic,
            Layout::Containerd,
        ] {
            let stream: Arc<[u8]> = Arc::from(save_stream(layout, &tars));
            for (budget, at_once) in [
                (PARKED_BYTES, false),
                (PARKED_BYTES, true),
                (0, false),
                (0, true),
            ] {
                let what = format!("{layout:?}, park budget {budget}, all at once: {at_once}");
                let bytes = Arc::clone(&stream);
                let open: OpenStream = Box::new(move || {
                    Ok(Box::new(io::Cursor::new(Arc::clone(&bytes))) as Box<dyn Read + Send>)
                });
                let pump = Pump::new("test".into(), diff_ids.clone(), open, budget);
                let read = read_layers(&pump, &diff_ids, at_once);
                for (index, bytes) in read.iter().enumerate() {
                    assert_eq!(sha(bytes), diff_ids[index], "{what}: layer {index}");
                    assert_eq!(entries_of(bytes), layers[index].1, "{what}: layer {index}");
                }
                let passes = pump.passes();
                if budget > 0 {
                    assert_eq!(passes, 1, "{what}: one read of the stream");
                } else {
                    assert!((1..=5).contains(&passes), "{what}: {passes} reads");
                }
                pump.close();
            }
        }
    }

    #[test]
    fn manifests_and_configs_name_the_layers_of_compressed_blobs() {
        let tars: Vec<Vec<u8>> = (0..2).map(|i| layer_tar(i).0).collect();
        let stream = save_stream(Layout::Containerd, &tars);
        let mut archive = tar::Archive::new(stream.as_slice());
        let mut learned = Learned::default();
        let mut layer_blobs = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let path = entry.path().expect("path").display().to_string();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).expect("read");
            if !learned.learn(&path, &body) {
                let mut tar = Vec::new();
                flate2::read::GzDecoder::new(body.as_slice())
                    .read_to_end(&mut tar)
                    .expect("gunzip");
                layer_blobs.push((path, sha(&tar)));
            }
        }
        assert_eq!(layer_blobs.len(), 2);
        for (path, diff_id) in layer_blobs {
            assert_eq!(learned.aliases.get(&path), Some(&diff_id), "{path}");
        }
    }

    #[test]
    fn a_layer_missing_from_the_stream_fails_its_reader() {
        let (tar, _) = layer_tar(0);
        let stream: Arc<[u8]> = Arc::from(save_stream(Layout::Legacy, std::slice::from_ref(&tar)));
        let open: OpenStream = Box::new(move || {
            Ok(Box::new(io::Cursor::new(Arc::clone(&stream))) as Box<dyn Read + Send>)
        });
        let absent = sha(b"not a layer of this stream");
        let pump = Pump::new("test".into(), vec![sha(&tar), absent.clone()], open, 0);
        let mut reader = pump.request(&absent).expect("open");
        let error = reader
            .read_to_end(&mut Vec::new())
            .expect_err("not in the stream");
        assert!(error.to_string().contains("ended without it"), "{error}");
        pump.close();
    }
}
