//! Resolving a reference to one image: index → platform manifest → config → layers.

use sha2::{Digest as _, Sha256};

use super::{ErrorKind, ImageSource, SourceError};
use crate::cancel::CancelToken;
use crate::oci::manifest::{Descriptor, ImageConfig, ManifestDocument, ManifestError, Platform};
use crate::oci::{ImageInfo, LayerInfo};

/// Config blobs larger than this are refused.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Fetches the manifest for `reference`; for an index, picks `platform` (default: the host's,
/// then linux/amd64, then the first offered); then reads the config to attach build steps to layers.
pub fn resolve_image(
    source: &dyn ImageSource,
    reference: &str,
    platform: Option<&Platform>,
    cancel: &CancelToken,
) -> Result<ImageInfo, SourceError> {
    let fetched = source.fetch_manifest(reference, cancel)?;
    let (manifest, manifest_digest, chosen, available) =
        match ManifestDocument::parse(fetched.content_type.as_deref(), &fetched.body)? {
            ManifestDocument::Image(manifest) => (manifest, fetched.digest, None, Vec::new()),
            ManifestDocument::Index(index) => {
                let entry = index.select(platform)?;
                let child = source.fetch_manifest(&entry.digest, cancel)?;
                match ManifestDocument::parse(child.content_type.as_deref(), &child.body)? {
                    ManifestDocument::Image(manifest) => (
                        manifest,
                        child.digest,
                        entry.platform.clone(),
                        index.platforms(),
                    ),
                    ManifestDocument::Index(_) => {
                        return Err(ManifestError::Invalid(
                            "an index entry points at another index".into(),
                        )
                        .into());
                    }
                }
            }
        };
    image_info(source, manifest, manifest_digest, chosen, available, cancel)
}

/// Resolves every platform `reference` holds: one image for a plain manifest; for an index,
/// one per platform it offers (attestation entries, `unknown/unknown`, left out), in the
/// index's order, each with its own result so a broken platform does not hide the others.
pub fn resolve_every_platform(
    source: &dyn ImageSource,
    reference: &str,
    cancel: &CancelToken,
) -> Result<Vec<Result<ImageInfo, SourceError>>, SourceError> {
    let fetched = source.fetch_manifest(reference, cancel)?;
    let index = match ManifestDocument::parse(fetched.content_type.as_deref(), &fetched.body)? {
        ManifestDocument::Image(manifest) => {
            let info = image_info(source, manifest, fetched.digest, None, Vec::new(), cancel);
            return Ok(vec![info]);
        }
        ManifestDocument::Index(index) => index,
    };
    let available = index.platforms();
    let mut images = Vec::new();
    for entry in &index.manifests {
        let Some(platform) = entry.platform.as_ref().filter(|p| !p.is_unknown()) else {
            continue;
        };
        let resolved = source
            .fetch_manifest(&entry.digest, cancel)
            .and_then(|child| {
                match ManifestDocument::parse(child.content_type.as_deref(), &child.body)? {
                    ManifestDocument::Image(manifest) => image_info(
                        source,
                        manifest,
                        child.digest,
                        Some(platform.clone()),
                        available.clone(),
                        cancel,
                    ),
                    ManifestDocument::Index(_) => Err(ManifestError::Invalid(
                        "an index entry points at another index".into(),
                    )
                    .into()),
                }
            });
        images.push(resolved);
    }
    Ok(images)
}

/// Reads the config of `manifest` and attaches its build steps to the layers.
fn image_info(
    source: &dyn ImageSource,
    manifest: crate::oci::manifest::ImageManifest,
    manifest_digest: String,
    chosen: Option<Platform>,
    available: Vec<Platform>,
    cancel: &CancelToken,
) -> Result<ImageInfo, SourceError> {
    let config = read_config(source, &manifest.config, cancel)?;
    let commands = config.layer_commands();
    let layers = manifest
        .layers
        .into_iter()
        .enumerate()
        .map(|(index, descriptor)| LayerInfo {
            index,
            descriptor,
            created_by: commands.get(index).cloned().flatten(),
        })
        .collect();
    Ok(ImageInfo {
        source: source.describe(),
        manifest_digest,
        platform: chosen,
        available_platforms: available,
        layers,
        config,
    })
}

impl From<ManifestError> for SourceError {
    fn from(error: ManifestError) -> Self {
        let kind = match error {
            ManifestError::PlatformNotFound { .. } => ErrorKind::NotFound,
            _ => ErrorKind::Invalid,
        };
        Self::new(kind, error)
    }
}

fn read_config(
    source: &dyn ImageSource,
    descriptor: &Descriptor,
    cancel: &CancelToken,
) -> Result<ImageConfig, SourceError> {
    use std::io::Read as _;
    let invalid = |reason: String| {
        SourceError::new(
            ErrorKind::Invalid,
            format!(
                "the image config {} is not valid: {reason}",
                descriptor.digest
            ),
        )
    };
    if descriptor.size > MAX_CONFIG_BYTES {
        return Err(invalid(format!(
            "it is {} bytes, more than the {MAX_CONFIG_BYTES} allowed",
            descriptor.size
        )));
    }
    let mut body = Vec::new();
    source
        .open_blob(descriptor, cancel)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| invalid(format!("reading it failed: {e}")))?;
    if let Some(expected) = descriptor.digest.strip_prefix("sha256:") {
        let actual = format!("{:x}", Sha256::digest(&body));
        if actual != expected {
            return Err(invalid(format!(
                "its bytes hash to sha256:{actual}; the blob is damaged or was replaced"
            )));
        }
    }
    serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))
}
