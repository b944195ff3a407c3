//! One opener for what a user typed, shared by the CLI, the app and the tests: a registry
//! reference, an image file or directory, or the built-in demo, turned into an
//! [`ImageSource`] and the resolved image.
//!
//! Accepted forms (the same as `skopeo`'s transports where they overlap):
//! - `alpine:3.20`, `ghcr.io/o/r@sha256:…`, `localhost:5000/x:y`: a registry;
//! - `oci:DIR[:REF]`: an OCI image layout directory (`oci:` on a tar file works too);
//! - `oci-archive:FILE[:REF]`: an OCI image layout packed in a tar;
//! - `docker-archive:FILE[:REPO:TAG]`: a `docker save` archive (legacy or OCI-style);
//! - a path to any of these (starting with `/`, `./`, `../` or `~/`, ending in `.tar`, or
//!   simply existing): told by content, not by name;
//! - `docker-daemon:NAME[:TAG]`, `docker-daemon:ID`, `podman:NAME[:TAG]`: an image in the local
//!   Docker or Podman engine, read through its API socket;
//! - `demo`: the image built into the binary.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cancel::CancelToken;
use crate::oci::ImageInfo;
use crate::oci::manifest::Platform;
use crate::oci::reference::ImageReference;
use crate::source::archive::ArchiveBytes;
use crate::source::demo::{DEMO_NAME, open_demo};
use crate::source::engine::{EngineKind, EngineSource, holds_image};
use crate::source::local::{LocalFormat, LocalSource};
use crate::source::registry::{ClientOptions, RegistryClient};
use crate::source::{ErrorKind, ImageSource, SourceError};
use crate::source::{resolve_every_platform, resolve_image};

/// Prefixes naming a local image format, as skopeo writes them.
const PREFIXES: [(&str, LocalFormat); 3] = [
    ("oci:", LocalFormat::Oci),
    ("oci-archive:", LocalFormat::Oci),
    ("docker-archive:", LocalFormat::DockerArchive),
];

/// Where an image is, as parsed from what the user typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An image in a registry.
    Registry(ImageReference),
    /// An image layout directory or an image archive on disk.
    Local {
        /// What to show in messages, e.g. `oci-archive:app.tar`.
        name: String,
        /// The directory or file.
        path: PathBuf,
        /// Which image of several the user named, if any.
        image: Option<String>,
        /// The format the user named, or `Detect` for a plain path.
        format: LocalFormat,
    },
    /// An image in a local Docker or Podman engine.
    Engine {
        /// Which engine's sockets to try.
        kind: EngineKind,
        /// The image's name or id, as the engine knows it.
        image: String,
    },
    /// The demo image built into the binary.
    Demo,
}

/// Prefixes naming an engine, as skopeo writes them (`podman:` as Podman's own tools do).
const ENGINE_PREFIXES: [(&str, EngineKind); 2] = [
    ("docker-daemon:", EngineKind::Docker),
    ("podman:", EngineKind::Podman),
];

impl Location {
    /// Parses a registry reference, `oci:…`, `oci-archive:…`, `docker-archive:…`, a path or
    /// `demo`.
    pub fn parse(text: &str) -> Result<Self, SourceError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SourceError::new(
                ErrorKind::BadInput,
                "nothing to open: type an image reference (alpine:3.20), a path to an image \
                 archive or layout, or demo",
            ));
        }
        if text == DEMO_NAME {
            return Ok(Self::Demo);
        }
        for (prefix, kind) in ENGINE_PREFIXES {
            if let Some(image) = text.strip_prefix(prefix) {
                if image.is_empty() {
                    return Err(SourceError::new(
                        ErrorKind::BadInput,
                        format!("{text:?} names no image: write {prefix}NAME[:TAG] or {prefix}ID"),
                    ));
                }
                return Ok(Self::Engine {
                    kind,
                    image: image.to_owned(),
                });
            }
        }
        for (prefix, format) in PREFIXES {
            if let Some(rest) = text.strip_prefix(prefix) {
                let (path, image) = split_path_and_image(rest);
                if path.is_empty() {
                    return Err(SourceError::new(
                        ErrorKind::BadInput,
                        format!("{text:?} names no file: write {prefix}PATH"),
                    ));
                }
                return Ok(Self::Local {
                    name: format!("{prefix}{path}"),
                    path: expand_home(path),
                    image: image.map(str::to_owned),
                    format,
                });
            }
        }
        if looks_like_path(text) || Path::new(text).exists() {
            return Ok(Self::Local {
                name: text.to_owned(),
                path: expand_home(text),
                image: None,
                format: LocalFormat::Detect,
            });
        }
        ImageReference::parse(text)
            .map(Self::Registry)
            .map_err(|e| SourceError::new(ErrorKind::BadInput, e))
    }

    /// The same image looked up in a local engine first (`--engine`): a registry reference
    /// becomes an engine image of that name; anything else stays as it is.
    pub fn in_engine(self, text: &str) -> Self {
        match self {
            Self::Registry(_) => Self::Engine {
                kind: EngineKind::Any,
                image: text.trim().to_owned(),
            },
            other => other,
        }
    }

    /// A bare name (no registry written: `myapp`, `team/app:1`) that a local Docker or Podman
    /// engine holds is read from the engine, as `docker run` looks locally first; anything
    /// else stays as it is. Asks the engine over its socket: call it off the UI thread.
    pub fn engine_first(self) -> Self {
        match self {
            Self::Registry(reference)
                if !reference.registry_written() && holds_image(reference.as_typed()) =>
            {
                Self::Engine {
                    kind: EngineKind::Any,
                    image: reference.as_typed().to_owned(),
                }
            }
            other => other,
        }
    }

    /// Whether the image is read from this machine (a file, a directory, an engine or the
    /// demo).
    pub fn is_local(&self) -> bool {
        !matches!(self, Self::Registry(_))
    }
}

/// How to open an image.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The platform to pick from a multi-platform index (`None`: the host's, then linux/amd64,
    /// then the first offered).
    pub platform: Option<Platform>,
    /// How to talk to a registry (insecure, credentials, retries); unused for local images.
    pub registry: ClientOptions,
}

/// An opened source and the image resolved in it.
pub struct OpenedImage {
    /// Where the image's blobs come from.
    pub source: Arc<dyn ImageSource>,
    /// Its layers, platform and manifest digest.
    pub info: ImageInfo,
}

/// Parses `text` and opens the image it names.
pub fn open_image(
    text: &str,
    options: &OpenOptions,
    cancel: &CancelToken,
) -> Result<OpenedImage, SourceError> {
    open_location(&Location::parse(text)?, options, cancel)
}

/// Opens the source at `location` and resolves its image (index → platform → manifest →
/// config).
pub fn open_location(
    location: &Location,
    options: &OpenOptions,
    cancel: &CancelToken,
) -> Result<OpenedImage, SourceError> {
    let (source, reference) = open_source(location, options, cancel)?;
    let info = resolve_image(
        source.as_ref(),
        &reference,
        options.platform.as_ref(),
        cancel,
    )?;
    Ok(OpenedImage { source, info })
}

/// One platform of an image, resolved or not.
pub type PlatformImage = Result<ImageInfo, SourceError>;

/// Opens the source at `location` and resolves every platform of its image (one for a plain
/// manifest; each platform an index offers, attestations left out), each with its own result.
pub fn open_every_platform(
    location: &Location,
    options: &OpenOptions,
    cancel: &CancelToken,
) -> Result<(Arc<dyn ImageSource>, Vec<PlatformImage>), SourceError> {
    let (source, reference) = open_source(location, options, cancel)?;
    let images = resolve_every_platform(source.as_ref(), &reference, cancel)?;
    Ok((source, images))
}

/// The source at `location`, and the reference of the image in it.
fn open_source(
    location: &Location,
    options: &OpenOptions,
    cancel: &CancelToken,
) -> Result<(Arc<dyn ImageSource>, String), SourceError> {
    Ok(match location {
        Location::Registry(reference) => {
            let client = RegistryClient::connect(reference, options.registry.clone(), cancel)?;
            (Arc::new(client), reference.manifest_reference().to_owned())
        }
        Location::Local {
            name,
            path,
            image,
            format,
        } => {
            let metadata = std::fs::metadata(path).map_err(|error| {
                let kind = if error.kind() == std::io::ErrorKind::NotFound {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::BadInput
                };
                SourceError::new(kind, format!("cannot open {}: {error}", path.display()))
            })?;
            let (source, reference) = if metadata.is_dir() {
                LocalSource::open_directory(path, name.clone(), *format, image.as_deref())?
            } else {
                LocalSource::open_archive(
                    ArchiveBytes::File(path.clone()),
                    name.clone(),
                    *format,
                    image.as_deref(),
                )?
            };
            (Arc::new(source), reference)
        }
        Location::Engine { kind, image } => {
            let (source, reference) = EngineSource::open(*kind, image)?;
            (Arc::new(source), reference)
        }
        Location::Demo => {
            let (source, reference) = open_demo()?;
            (Arc::new(source), reference)
        }
    })
}

/// Splits `PATH[:IMAGE]`: the whole text when it exists as a path, else at the first `:`.
fn split_path_and_image(text: &str) -> (&str, Option<&str>) {
    if expand_home(text).exists() {
        return (text, None);
    }
    match text.split_once(':') {
        Some((path, image)) if !image.is_empty() => (path, Some(image)),
        Some((path, _)) => (path, None),
        None => (text, None),
    }
}

fn looks_like_path(text: &str) -> bool {
    ["/", "./", "../", "~/"]
        .iter()
        .any(|prefix| text.starts_with(prefix))
        || text == "."
        || [".tar", ".tar.gz", ".tgz", ".tar.zst"]
            .iter()
            .any(|suffix| text.ends_with(suffix))
}

/// `~/x` → `$HOME/x`.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> (String, PathBuf, Option<String>, LocalFormat) {
        match Location::parse(text).expect("parses") {
            Location::Local {
                name,
                path,
                image,
                format,
            } => (name, path, image, format),
            other => panic!("{text}: expected a local location, got {other:?}"),
        }
    }

    #[test]
    fn prefixes_name_local_formats_and_images() {
        let (name, path, image, format) = local("oci:/no/such/dir:v1");
        assert_eq!(name, "oci:/no/such/dir");
        assert_eq!(path, PathBuf::from("/no/such/dir"));
        assert_eq!(image.as_deref(), Some("v1"));
        assert_eq!(format, LocalFormat::Oci);

        let (_, path, image, format) = local("docker-archive:/tmp/none.tar:alpine:3.20");
        assert_eq!(path, PathBuf::from("/tmp/none.tar"));
        assert_eq!(image.as_deref(), Some("alpine:3.20"));
        assert_eq!(format, LocalFormat::DockerArchive);

        let (_, _, image, format) = local("oci-archive:/tmp/none.tar");
        assert_eq!((image, format), (None, LocalFormat::Oci));
    }

    #[test]
    fn paths_references_and_the_demo_are_told_apart() {
        assert_eq!(local("./app.tar").3, LocalFormat::Detect);
        assert_eq!(local("/abs/dir").3, LocalFormat::Detect);
        assert_eq!(local("image.tar.gz").3, LocalFormat::Detect);
        assert_eq!(Location::parse("demo").expect("demo"), Location::Demo);
        assert!(matches!(
            Location::parse("alpine:3.20"),
            Ok(Location::Registry(_))
        ));
        assert!(!Location::parse("alpine").expect("ref").is_local());
        assert!(Location::parse("demo").expect("demo").is_local());
        for bad in ["", "oci:", "Alpine"] {
            let error = Location::parse(bad).expect_err(bad);
            assert_eq!(error.kind(), ErrorKind::BadInput, "{bad}: {error}");
        }
    }
}
