//! Images stored as files, read in place: OCI image layouts (a directory, or a tar of one as
//! `skopeo copy … oci-archive:` writes) and `docker save` archives, both the legacy layout
//! (`manifest.json`, `<id>/layer.tar`) and the OCI-style one of recent Docker.
//!
//! An OCI layout's `index.json` is served as the image's index, so a multi-platform layout
//! gets the same platform choice as a registry index. A legacy `docker save` image has no
//! manifest: one is made up from `manifest.json`, with each layer's digest taken from its
//! `blobs/<alg>/<hex>` path or, for `<id>/layer.tar` files, from the config's
//! `rootfs.diff_ids` (the hash of the uncompressed tar), so every blob is digest-verified.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256, Sha512};

use super::archive::{ArchiveBytes, TarArchive, archive_path};
use super::{BlobReader, ErrorKind, FetchedManifest, ImageSource, RangeReply, SourceError};
use crate::cancel::CancelToken;
use crate::oci::manifest::{Descriptor, ImageConfig, ImageIndex, media_type};
use crate::oci::reference::ImageReference;

/// Manifests and indexes larger than this are refused.
const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Configs and `manifest.json` files larger than this are refused.
const MAX_METADATA_BYTES: u64 = 16 * 1024 * 1024;
/// The annotation naming an image in an OCI layout's `index.json`.
const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// The annotation containerd and Docker add with the full image name.
const CONTAINERD_NAME_ANNOTATION: &str = "io.containerd.image.name";
/// Media type given to `docker save` layers, which are uncompressed tars.
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Media type of a Docker image config.
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Which kind of image file the user named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalFormat {
    /// An OCI image layout (`oci:` / `oci-archive:`).
    Oci,
    /// A `docker save` archive (`docker-archive:`).
    DockerArchive,
    /// Told by content: an OCI layout or a `docker save` archive.
    Detect,
}

/// The files of an image: a directory on disk or the members of a tar archive.
#[derive(Debug)]
enum Files {
    Directory(PathBuf),
    Archive(TarArchive),
}

impl Files {
    /// Opens `path` as a reader and its size; `Ok(None)` when there is no such file.
    fn open(&self, path: &str) -> io::Result<Option<(BlobReader, u64)>> {
        match self {
            Self::Archive(archive) => archive.open_member(path),
            Self::Directory(dir) => {
                let Some(full) = inside(dir, path) else {
                    return Ok(None);
                };
                match File::open(&full) {
                    Ok(file) => {
                        let metadata = file.metadata()?;
                        if !metadata.is_file() {
                            return Ok(None);
                        }
                        Ok(Some((Box::new(file), metadata.len())))
                    }
                    Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Opens the bytes `range` of the file at `path`; `Ok(None)` when there is no such file.
    fn open_range(&self, path: &str, range: Range<u64>) -> io::Result<Option<BlobReader>> {
        match self {
            Self::Archive(archive) => archive.open_member_range(path, range),
            Self::Directory(dir) => {
                let Some(full) = inside(dir, path) else {
                    return Ok(None);
                };
                let mut file = match File::open(&full) {
                    Ok(file) => file,
                    Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(error) => return Err(error),
                };
                let size = file.metadata()?.len();
                let start = range.start.min(size);
                file.seek(SeekFrom::Start(start))?;
                Ok(Some(Box::new(
                    file.take(range.end.min(size).saturating_sub(start)),
                )))
            }
        }
    }

    /// The size of the file at `path`, or `None` when there is none.
    fn size(&self, path: &str) -> Option<u64> {
        match self {
            Self::Archive(archive) => archive.member_size(path),
            Self::Directory(dir) => inside(dir, path)
                .and_then(|full| full.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|metadata| metadata.len()),
        }
    }

    /// Why the archive could not be read completely, if it could not.
    fn damage(&self) -> Option<&str> {
        match self {
            Self::Archive(archive) => archive.damage(),
            Self::Directory(_) => None,
        }
    }
}

/// `dir/path` when `path` is relative and stays inside `dir`.
fn inside(dir: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(relative))
}

/// Manifests and indexes a source serves that are not blobs of its own (made up, or kept
/// from a file such as `index.json`), by digest.
#[derive(Debug, Default)]
pub(crate) struct MadeUpDocuments(HashMap<String, FetchedManifest>);

impl MadeUpDocuments {
    /// Keeps `body`, a document of `content_type`; returns its digest.
    pub(crate) fn add(&mut self, content_type: &str, body: Vec<u8>) -> String {
        let digest = format!("sha256:{:x}", Sha256::digest(&body));
        let document = FetchedManifest {
            content_type: Some(content_type.to_owned()),
            digest: digest.clone(),
            body,
        };
        self.0.insert(digest.clone(), document);
        digest
    }

    /// The document `digest`, when it is one of these.
    pub(crate) fn get(&self, digest: &str) -> Option<&FetchedManifest> {
        self.0.get(digest)
    }
}

/// An image stored as files. Serves the manifests and blobs of an OCI layout or a
/// `docker save` archive through [`ImageSource`].
#[derive(Debug)]
pub struct LocalSource {
    files: Files,
    name: String,
    /// Documents that are not blobs of their own: `index.json`, or a manifest made up from a
    /// `docker save` `manifest.json`.
    made_up: MadeUpDocuments,
    /// Blobs stored elsewhere than `blobs/<alg>/<hex>` (legacy `docker save`), by digest.
    blob_paths: HashMap<String, String>,
}

/// One entry of a `docker save` `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerSaveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
    /// Descriptors of layers that came from elsewhere (foreign layers).
    #[serde(default)]
    layer_sources: BTreeMap<String, Descriptor>,
}

impl LocalSource {
    /// Opens an image layout or unpacked `docker save` directory. Returns the source and the
    /// reference of the image's manifest or index within it. `image` picks one of several
    /// images by name (`org.opencontainers.image.ref.name`, or a `docker save` tag).
    pub fn open_directory(
        dir: &Path,
        name: String,
        format: LocalFormat,
        image: Option<&str>,
    ) -> Result<(Self, String), SourceError> {
        let source = Self::new(Files::Directory(dir.to_owned()), name);
        source.open_image(format, image)
    }

    /// Opens a tar archive (plain, gzip or zstd) in place. Returns the source and the
    /// reference of the image's manifest or index within it.
    pub fn open_archive(
        bytes: ArchiveBytes,
        name: String,
        format: LocalFormat,
        image: Option<&str>,
    ) -> Result<(Self, String), SourceError> {
        let archive = TarArchive::open(bytes).map_err(|error| {
            let kind = if error.kind() == io::ErrorKind::NotFound {
                ErrorKind::NotFound
            } else {
                ErrorKind::BadInput
            };
            SourceError::new(kind, format!("cannot read {name}: {error}"))
        })?;
        if !archive.is_tar() {
            return Err(SourceError::new(
                ErrorKind::BadInput,
                format!("{name} is not a container image: it is not a tar archive"),
            ));
        }
        let source = Self::new(Files::Archive(archive), name);
        source.open_image(format, image)
    }

    fn new(files: Files, name: String) -> Self {
        Self {
            files,
            name,
            made_up: MadeUpDocuments::default(),
            blob_paths: HashMap::new(),
        }
    }

    /// Finds the image in the files: through `index.json` for an OCI layout, through
    /// `manifest.json` for `docker save` (preferring the `index.json` recent Docker adds).
    fn open_image(
        mut self,
        format: LocalFormat,
        image: Option<&str>,
    ) -> Result<(Self, String), SourceError> {
        let has_oci = self.files.size("oci-layout").is_some();
        let has_docker = self.files.size("manifest.json").is_some();
        let reference = match format {
            LocalFormat::Oci if has_oci => self.open_oci(image)?,
            LocalFormat::Oci => {
                let hint = if has_docker {
                    "; it looks like a docker save archive: open it as docker-archive: or by its plain path"
                } else {
                    ""
                };
                return Err(self.not_an_image(&format!(
                    "it is not an OCI image layout: it has no oci-layout file{hint}"
                )));
            }
            LocalFormat::DockerArchive | LocalFormat::Detect if has_docker => {
                match has_oci.then(|| self.open_oci(image)) {
                    Some(Ok(reference)) => reference,
                    _ => self.open_docker_save(image)?,
                }
            }
            LocalFormat::DockerArchive | LocalFormat::Detect if has_oci => self.open_oci(image)?,
            LocalFormat::DockerArchive | LocalFormat::Detect => {
                return Err(self.not_an_image(
                    "it has neither manifest.json (docker save) nor oci-layout and index.json (OCI image layout)",
                ));
            }
        };
        Ok((self, reference))
    }

    fn not_an_image(&self, reason: &str) -> SourceError {
        SourceError::new(
            ErrorKind::BadInput,
            format!(
                "{} is not a container image: {reason}{}",
                self.name,
                self.damage_note()
            ),
        )
    }

    /// A file the image needs is absent: not found, or bad input when the archive is
    /// damaged or truncated (the likelier cause, which the message names).
    fn missing(&self, message: String) -> SourceError {
        let kind = if self.files.damage().is_some() {
            ErrorKind::BadInput
        } else {
            ErrorKind::NotFound
        };
        SourceError::new(kind, message + &self.damage_note())
    }

    fn damage_note(&self) -> String {
        self.files
            .damage()
            .map(|damage| format!(" (the archive is damaged or truncated: {damage})"))
            .unwrap_or_default()
    }

    /// Picks the image from `index.json`: the one named `image`, the only one, or the whole
    /// index when every entry is a platform of one image.
    fn open_oci(&mut self, image: Option<&str>) -> Result<String, SourceError> {
        let body = self.read_small("index.json", MAX_MANIFEST_BYTES)?;
        let index: ImageIndex = serde_json::from_slice(&body).map_err(|e| {
            SourceError::new(
                ErrorKind::Invalid,
                format!("{}: index.json is not valid: {e}", self.name),
            )
        })?;
        let matching: Vec<&Descriptor> = index
            .manifests
            .iter()
            .filter(|d| image.is_none_or(|wanted| names_of(d).any(|n| same_name(n, wanted))))
            .collect();
        let everything = matching.len() == index.manifests.len();
        match (matching.as_slice(), image) {
            ([], Some(wanted)) => Err(SourceError::new(
                ErrorKind::NotFound,
                format!(
                    "no image named {wanted:?} in {}; it holds: {}",
                    self.name,
                    list_names(&index.manifests)
                ),
            )),
            ([], None) => Err(SourceError::new(
                ErrorKind::NotFound,
                format!("{} holds no image: its index.json is empty", self.name),
            )),
            ([only], _) => Ok(only.digest.clone()),
            (several, _) if several.iter().all(|d| d.platform.is_some()) => {
                let body = if everything {
                    self.present_platforms_only(body)
                } else {
                    serde_json::to_vec(&serde_json::json!({
                        "schemaVersion": 2,
                        "mediaType": media_type::OCI_INDEX,
                        "manifests": several,
                    }))
                    .map_err(|e| SourceError::new(ErrorKind::Invalid, e.to_string()))?
                };
                Ok(self.made_up.add(media_type::OCI_INDEX, body))
            }
            (several, _) => Err(SourceError::new(
                ErrorKind::BadInput,
                format!(
                    "{} holds {} images; name one after the path, e.g. {}:NAME (names: {})",
                    self.name,
                    several.len(),
                    self.name,
                    list_names(&index.manifests)
                ),
            )),
        }
    }

    /// Makes up a manifest for an image of a `docker save` `manifest.json`.
    fn open_docker_save(&mut self, image: Option<&str>) -> Result<String, SourceError> {
        let body = self.read_small("manifest.json", MAX_METADATA_BYTES)?;
        let entries: Vec<DockerSaveEntry> = serde_json::from_slice(&body).map_err(|e| {
            SourceError::new(
                ErrorKind::Invalid,
                format!("{}: manifest.json is not valid: {e}", self.name),
            )
        })?;
        let tags = |entries: &[DockerSaveEntry]| {
            let tags: Vec<&str> = entries
                .iter()
                .flat_map(|e| e.repo_tags.iter().flatten().map(String::as_str))
                .collect();
            if tags.is_empty() {
                "images without tags".to_owned()
            } else {
                tags.join(", ")
            }
        };
        let entry = match image {
            Some(wanted) => entries
                .iter()
                .find(|e| e.repo_tags.iter().flatten().any(|t| same_name(t, wanted)))
                .ok_or_else(|| {
                    SourceError::new(
                        ErrorKind::NotFound,
                        format!(
                            "no image tagged {wanted:?} in {}; it holds: {}",
                            self.name,
                            tags(&entries)
                        ),
                    )
                })?,
            None => match entries.as_slice() {
                [only] => only,
                [] => {
                    return Err(SourceError::new(
                        ErrorKind::NotFound,
                        format!("{} holds no image: its manifest.json is empty", self.name),
                    ));
                }
                several => {
                    return Err(SourceError::new(
                        ErrorKind::BadInput,
                        format!(
                            "{} holds {} images; name one after the path, e.g. {}:REPO:TAG (tags: {})",
                            self.name,
                            several.len(),
                            self.name,
                            tags(several)
                        ),
                    ));
                }
            },
        };
        let config_path = archive_path(&entry.config);
        let config_body = self.read_small(&config_path, MAX_METADATA_BYTES)?;
        let config_digest = format!("sha256:{:x}", Sha256::digest(&config_body));
        let config: ImageConfig = serde_json::from_slice(&config_body).map_err(|e| {
            SourceError::new(
                ErrorKind::Invalid,
                format!("{}: the config {config_path} is not valid: {e}", self.name),
            )
        })?;
        let mut layers = Vec::with_capacity(entry.layers.len());
        for (index, layer) in entry.layers.iter().enumerate() {
            let path = archive_path(layer);
            let digest = match digest_of_blob_path(&path) {
                Some(digest) => digest,
                None => config.rootfs.diff_ids.get(index).cloned().ok_or_else(|| {
                    SourceError::new(
                        ErrorKind::Invalid,
                        format!(
                            "{}: manifest.json lists {} layers but the config has {} diff_ids",
                            self.name,
                            entry.layers.len(),
                            config.rootfs.diff_ids.len()
                        ),
                    )
                })?,
            };
            let descriptor = match entry.layer_sources.get(&digest) {
                Some(source) => source.clone(),
                None => Descriptor {
                    media_type: docker_layer_media_type(&path).to_owned(),
                    size: self.files.size(&path).unwrap_or(0),
                    digest: digest.clone(),
                    urls: Vec::new(),
                    annotations: BTreeMap::new(),
                    platform: None,
                },
            };
            self.blob_paths.insert(digest, path);
            layers.push(descriptor);
        }
        self.blob_paths.insert(config_digest.clone(), config_path);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::DOCKER_MANIFEST,
            "config": {
                "mediaType": DOCKER_CONFIG,
                "digest": config_digest,
                "size": config_body.len(),
            },
            "layers": layers,
        });
        let body = serde_json::to_vec(&manifest)
            .map_err(|e| SourceError::new(ErrorKind::Invalid, e.to_string()))?;
        Ok(self.made_up.add(media_type::DOCKER_MANIFEST, body))
    }

    /// An index as served: entries whose manifests are not in the files are left out, so an
    /// image saved for one platform of several (`docker save` with the containerd image store
    /// keeps the whole index) offers the platforms it holds. The digest stays the index's own.
    /// Anything else, or an index with all or none of its entries present, is unchanged.
    fn present_platforms_only(&self, body: Vec<u8>) -> Vec<u8> {
        let Ok(mut document) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return body;
        };
        let Some(manifests) = document
            .get_mut("manifests")
            .and_then(serde_json::Value::as_array_mut)
        else {
            return body;
        };
        let listed = manifests.len();
        manifests.retain(|entry| {
            entry
                .get("digest")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|digest| self.has_document(digest))
        });
        if manifests.is_empty() || manifests.len() == listed {
            return body;
        }
        serde_json::to_vec(&document).unwrap_or(body)
    }

    /// Whether the manifest or index `digest` is here.
    fn has_document(&self, digest: &str) -> bool {
        self.made_up.get(digest).is_some()
            || blob_path(digest).is_some_and(|path| self.files.size(&path).is_some())
    }

    /// Reads a whole small file, refusing more than `limit` bytes.
    fn read_small(&self, path: &str, limit: u64) -> Result<Vec<u8>, SourceError> {
        let Some((reader, size)) = self.open_file(path)? else {
            return Err(self.missing(format!("{} has no {path}", self.name)));
        };
        if size > limit {
            return Err(SourceError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: {path} is {size} bytes, more than the {limit} allowed",
                    self.name
                ),
            ));
        }
        let mut body = Vec::new();
        reader
            .take(limit)
            .read_to_end(&mut body)
            .map_err(|e| self.read_failed(path, &e))?;
        if (body.len() as u64) < size {
            return Err(SourceError::new(
                ErrorKind::BadInput,
                format!(
                    "{} is truncated: {path} is cut short ({} of {size} bytes)",
                    self.name,
                    body.len()
                ),
            ));
        }
        Ok(body)
    }

    fn open_file(&self, path: &str) -> Result<Option<(BlobReader, u64)>, SourceError> {
        self.files
            .open(path)
            .map_err(|e| self.read_failed(path, &e))
    }

    fn read_failed(&self, path: &str, error: &io::Error) -> SourceError {
        SourceError::new(
            ErrorKind::BadInput,
            format!("cannot read {path} in {}: {error}", self.name),
        )
    }
}

impl ImageSource for LocalSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn fetch_manifest(
        &self,
        reference: &str,
        _cancel: &CancelToken,
    ) -> Result<FetchedManifest, SourceError> {
        if let Some(document) = self.made_up.get(reference) {
            return Ok(document.clone());
        }
        let path = blob_path(reference).ok_or_else(|| {
            SourceError::new(
                ErrorKind::NotFound,
                format!("{} has no manifest {reference:?}", self.name),
            )
        })?;
        let body = self.read_small(&path, MAX_MANIFEST_BYTES)?;
        let actual = digest_with(reference, &body);
        if actual != reference {
            return Err(SourceError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: {path} is damaged: its digest is {actual}, not {reference}",
                    self.name
                ),
            ));
        }
        Ok(FetchedManifest {
            content_type: None,
            digest: actual,
            body: self.present_platforms_only(body),
        })
    }

    fn open_blob(
        &self,
        descriptor: &Descriptor,
        _cancel: &CancelToken,
    ) -> Result<BlobReader, SourceError> {
        let path = self.blob_file(&descriptor.digest)?;
        match self.open_file(&path)? {
            Some((reader, _)) => Ok(reader),
            None => Err(self.blob_missing(&descriptor.digest, &path)),
        }
    }

    fn open_blob_range(
        &self,
        descriptor: &Descriptor,
        range: Range<u64>,
        _cancel: &CancelToken,
    ) -> Result<RangeReply, SourceError> {
        let path = self.blob_file(&descriptor.digest)?;
        match self.files.open_range(&path, range) {
            Ok(Some(reader)) => Ok(RangeReply::Partial(reader)),
            Ok(None) => Err(self.blob_missing(&descriptor.digest, &path)),
            Err(error) if error.kind() == io::ErrorKind::Unsupported => {
                Ok(RangeReply::Unsupported(error.to_string()))
            }
            Err(error) => Err(self.read_failed(&path, &error)),
        }
    }
}

impl LocalSource {
    /// Where the blob `digest` is stored.
    fn blob_file(&self, digest: &str) -> Result<String, SourceError> {
        match self.blob_paths.get(digest) {
            Some(path) => Ok(path.clone()),
            None => blob_path(digest).ok_or_else(|| {
                SourceError::new(
                    ErrorKind::Invalid,
                    format!("{digest:?} is not a digest this tool can look up"),
                )
            }),
        }
    }

    fn blob_missing(&self, digest: &str, path: &str) -> SourceError {
        self.missing(format!(
            "blob {digest} is missing from {} (no {path})",
            self.name
        ))
    }
}

/// `blobs/<alg>/<hex>` for a well-formed `sha256:` or `sha512:` digest.
pub(super) fn blob_path(digest: &str) -> Option<String> {
    let (algorithm, hex) = digest.split_once(':')?;
    let length = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => return None,
    };
    let well_formed = hex.len() == length
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    well_formed.then(|| format!("blobs/{algorithm}/{hex}"))
}

/// The digest a layer file's path names, if it names one: `blobs/<alg>/<hex>`, or a file
/// named by its sha256 (`<hex>.tar` as skopeo and podman write, `<hex>.tar.gz` as crane
/// writes). A file named by a digest holds the bytes of that digest; legacy `<id>/layer.tar`
/// files name none.
pub(super) fn digest_of_blob_path(path: &str) -> Option<String> {
    let mut parts = path.split('/');
    if let (Some("blobs"), Some(algorithm), Some(hex), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    {
        let digest = format!("{algorithm}:{hex}");
        return blob_path(&digest).map(|_| digest);
    }
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let stem = file_name.split('.').next().unwrap_or(file_name);
    let stem = stem.strip_prefix("sha256:").unwrap_or(stem);
    let digest = format!("sha256:{stem}");
    blob_path(&digest).map(|_| digest)
}

/// The media type of a `docker save` layer file, by its name (the decoder sniffs the bytes
/// anyway; this is what the layer list shows).
fn docker_layer_media_type(path: &str) -> &'static str {
    if path.ends_with(".gz") || path.ends_with(".tgz") {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    } else if path.ends_with(".zst") {
        media_type::OCI_LAYER_ZSTD
    } else {
        DOCKER_LAYER_TAR
    }
}

/// The digest of `body` with the algorithm `reference` names.
fn digest_with(reference: &str, body: &[u8]) -> String {
    if reference.starts_with("sha512:") {
        format!("sha512:{:x}", Sha512::digest(body))
    } else {
        format!("sha256:{:x}", Sha256::digest(body))
    }
}

/// The names an index entry goes by.
fn names_of(descriptor: &Descriptor) -> impl Iterator<Item = &str> {
    [REF_NAME_ANNOTATION, CONTAINERD_NAME_ANNOTATION]
        .into_iter()
        .filter_map(|key| descriptor.annotations.get(key).map(String::as_str))
}

fn list_names(manifests: &[Descriptor]) -> String {
    let names: Vec<String> = manifests
        .iter()
        .map(|d| {
            names_of(d)
                .next()
                .map_or_else(|| format!("unnamed {}", d.digest), str::to_owned)
        })
        .collect();
    names.join(", ")
}

/// Whether two image names are the same: equal as written, or as normalised references
/// (`alpine:3.20` is `docker.io/library/alpine:3.20`).
fn same_name(name: &str, wanted: &str) -> bool {
    name == wanted
        || matches!(
            (ImageReference::parse(name), ImageReference::parse(wanted)),
            (Ok(a), Ok(b)) if a == b
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn blob_paths_come_only_from_well_formed_digests() {
        assert_eq!(
            blob_path(&format!("sha256:{HEX}")),
            Some(format!("blobs/sha256/{HEX}"))
        );
        assert_eq!(blob_path("sha256:../../etc/passwd"), None);
        assert_eq!(blob_path(&format!("md5:{HEX}")), None);
        assert_eq!(blob_path(&format!("sha256:{}", HEX.to_uppercase())), None);
        assert_eq!(
            digest_of_blob_path(&format!("blobs/sha256/{HEX}")),
            Some(format!("sha256:{HEX}"))
        );
        assert_eq!(digest_of_blob_path("abc/layer.tar"), None);
        for named in [
            format!("{HEX}.tar"),
            format!("{HEX}.tar.gz"),
            format!("sha256:{HEX}"),
        ] {
            assert_eq!(
                digest_of_blob_path(&named),
                Some(format!("sha256:{HEX}")),
                "{named}"
            );
        }
    }

    #[test]
    fn names_match_as_written_or_normalised() {
        assert!(same_name("latest", "latest"));
        assert!(same_name("docker.io/library/alpine:3.20", "alpine:3.20"));
        assert!(!same_name("alpine:3.20", "alpine:3.19"));
    }

    #[test]
    fn directory_paths_stay_inside() {
        let dir = Path::new("/layout");
        assert_eq!(
            inside(dir, "blobs/a"),
            Some(PathBuf::from("/layout/blobs/a"))
        );
        assert_eq!(inside(dir, "../x"), None);
        assert_eq!(inside(dir, "/etc/passwd"), None);
    }
}
