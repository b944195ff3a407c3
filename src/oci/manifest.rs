//! Manifest, index and image-config documents (Docker schema2 and OCI), platform selection and
//! the mapping of build history onto layers.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Media types this client understands.
pub mod media_type {
    /// Docker schema2 image manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list (multi-platform).
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index (multi-platform).
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI zstd-compressed layer.
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// Docker schema1 manifests, which this client refuses with a clear message.
    pub(crate) const DOCKER_SCHEMA1_PREFIX: &str =
        "application/vnd.docker.distribution.manifest.v1";
    /// Every manifest type offered in `Accept`.
    pub(crate) const ACCEPT_ALL: [&str; 4] = [
        OCI_INDEX,
        OCI_MANIFEST,
        DOCKER_MANIFEST_LIST,
        DOCKER_MANIFEST,
    ];
}

/// A content descriptor: what a manifest says about a blob or a child manifest.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(default)]
    pub media_type: String,
    /// Content digest, `algorithm:hex`.
    pub digest: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Alternative download locations (foreign / non-distributable layers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Free-form annotations (e.g. eStargz / zstd:chunked TOC positions).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Platform of a child manifest inside an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// The operating system / architecture / variant an image is built for.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Hash)]
pub struct Platform {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// e.g. `v7` for `linux/arm/v7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/<host architecture>`, the default platform to pick from an index.
    pub fn host() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Self {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// `linux/amd64`, the fallback when the host platform is not in an index.
    pub fn linux_amd64() -> Self {
        Self {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    /// Attestation and signature entries in indexes use `unknown/unknown`.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" || self.architecture == "unknown"
    }

    /// Whether an index entry for `candidate` satisfies this requested platform.
    /// A request without variant accepts any variant; arm64's `v8` is its implied default.
    fn accepts(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        match (&self.variant, &candidate.variant) {
            (None, _) => true,
            (Some(want), Some(have)) => want == have,
            (Some(want), None) => self.architecture == "arm64" && want == "v8",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// A platform string that is not `os/arch[/variant]`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid platform {0:?}: write os/arch or os/arch/variant, e.g. linux/arm64 or linux/arm/v7"
)]
pub struct PlatformParseError(String);

impl FromStr for Platform {
    type Err = PlatformParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let valid = |p: &&str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        match parts.as_slice() {
            [os, arch] if valid(os) && valid(arch) => Ok(Self {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] if valid(os) && valid(arch) && valid(variant) => Ok(Self {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(PlatformParseError(s.to_owned())),
        }
    }
}

/// An image manifest (Docker schema2 or OCI).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Descriptor of the image config blob.
    pub config: Descriptor,
    /// Layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// A multi-platform index (OCI index or Docker manifest list).
#[derive(Debug, Clone, Deserialize)]
pub struct ImageIndex {
    /// Child manifests, usually one per platform.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// A manifest document as returned by the registry.
#[derive(Debug, Clone)]
pub enum ManifestDocument {
    /// A single-platform image.
    Image(ImageManifest),
    /// A multi-platform index.
    Index(ImageIndex),
}

/// Why a manifest document could not be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// Docker schema1 is long deprecated and has no layer sizes or media types.
    #[error("the registry only offers a Docker schema1 manifest, which is not supported")]
    Schema1,
    /// The document is not JSON of a known shape.
    #[error("the manifest is not valid: {0}")]
    Invalid(String),
    /// The content type names something that is not an image manifest or index.
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    /// No entry of an index matches the wanted platform.
    #[error("no image for platform {wanted} in this index; available: {available}")]
    PlatformNotFound {
        /// The platform asked for.
        wanted: String,
        /// The platforms the index offers, comma-separated.
        available: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MediaTypeProbe {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

impl ManifestDocument {
    /// Parses a manifest body, using the response `Content-Type`, the document's own
    /// `mediaType`, and finally its shape to tell indexes from image manifests.
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, ManifestError> {
        let probe: MediaTypeProbe =
            serde_json::from_slice(body).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        let declared = probe
            .media_type
            .as_deref()
            .or(content_type.map(|c| c.split(';').next().unwrap_or(c).trim()))
            .unwrap_or("");
        if declared.starts_with(media_type::DOCKER_SCHEMA1_PREFIX)
            || probe.schema_version == Some(1)
        {
            return Err(ManifestError::Schema1);
        }
        let is_index = match declared {
            media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST => true,
            media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST => false,
            "" | "application/json" | "application/octet-stream" => probe.manifests.is_some(),
            other => return Err(ManifestError::UnsupportedMediaType(other.to_owned())),
        };
        let invalid = |e: serde_json::Error| ManifestError::Invalid(e.to_string());
        if is_index {
            Ok(Self::Index(serde_json::from_slice(body).map_err(invalid)?))
        } else {
            Ok(Self::Image(serde_json::from_slice(body).map_err(invalid)?))
        }
    }
}

impl ImageIndex {
    /// Platforms offered, without attestation (`unknown/unknown`) entries.
    pub fn platforms(&self) -> Vec<Platform> {
        self.manifests
            .iter()
            .filter_map(|m| m.platform.clone())
            .filter(|p| !p.is_unknown())
            .collect()
    }

    /// Picks the child manifest for `wanted`, or when `wanted` is `None` for the host
    /// platform, then `linux/amd64`, then the first platform offered: an inspector can show
    /// any platform, so an index without the host's (e.g. an arm64-only image) still opens.
    pub fn select(&self, wanted: Option<&Platform>) -> Result<&Descriptor, ManifestError> {
        let find = |want: &Platform| {
            self.manifests.iter().find(|m| {
                m.platform
                    .as_ref()
                    .is_some_and(|p| !p.is_unknown() && want.accepts(p))
            })
        };
        let found = match wanted {
            Some(want) => find(want),
            None => find(&Platform::host())
                .or_else(|| find(&Platform::linux_amd64()))
                .or_else(|| {
                    self.manifests
                        .iter()
                        .find(|m| m.platform.as_ref().is_some_and(|p| !p.is_unknown()))
                }),
        };
        found.ok_or_else(|| ManifestError::PlatformNotFound {
            wanted: wanted.map_or_else(|| Platform::host().to_string(), ToString::to_string),
            available: self
                .platforms()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// The parts of an image config blob this tool uses.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ImageConfig {
    /// Build steps, including ones that produced no layer (`empty_layer`).
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// Operating system of the image.
    #[serde(default)]
    pub os: Option<String>,
    /// CPU architecture of the image.
    #[serde(default)]
    pub architecture: Option<String>,
    /// When the image was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// How a container of the image runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RuntimeConfig>,
    /// The uncompressed layers' digests.
    #[serde(default)]
    pub rootfs: RootFs,
}

/// The `config` object of an image config: how containers run (the OCI image spec's
/// "execution parameters", Docker's `Config`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    /// The program run (`ENTRYPOINT`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub entrypoint: Vec<String>,
    /// Its default arguments (`CMD`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub cmd: Vec<String>,
    /// `NAME=value` environment variables.
    #[serde(default, deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    /// The user (`name`, `uid`, `uid:gid`); empty means root.
    #[serde(default, deserialize_with = "null_as_default")]
    pub user: String,
    /// The working directory.
    #[serde(default, deserialize_with = "null_as_default")]
    pub working_dir: String,
    /// Exposed ports, e.g. `8080/tcp`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    /// Volumes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// Labels.
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// The signal that stops the container.
    #[serde(default, deserialize_with = "null_as_default")]
    pub stop_signal: String,
}

/// Reads `null` as the type's default (Docker writes `"Cmd": null`).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The `rootfs` of an image config.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RootFs {
    /// `sha256` of each layer's uncompressed tar, base first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// One build step of the image history.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct HistoryEntry {
    /// The command that produced this step, e.g. `/bin/sh -c apk add curl`.
    #[serde(default)]
    pub created_by: Option<String>,
    /// True when the step produced no layer.
    #[serde(default)]
    pub empty_layer: bool,
    /// When the step ran (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// A note the builder left (e.g. `buildkit.dockerfile.v0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One build step as a Dockerfile-like line, with the layer it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildStep {
    /// The instruction, e.g. `RUN apk add curl` or `ENV A=1`.
    pub instruction: String,
    /// The layer the step made, or `None` for a step that made none (`ENV`, `CMD`, …).
    pub layer: Option<usize>,
    /// When it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// Turns a history `created_by` into a Dockerfile-like instruction: the classic builder's
/// `/bin/sh -c #(nop) ENV A=1` becomes `ENV A=1`, `/bin/sh -c make` becomes `RUN make`,
/// BuildKit's `RUN /bin/sh -c make # buildkit` becomes `RUN make`.
pub fn dockerfile_instruction(created_by: &str) -> String {
    let text = created_by.trim();
    let text = text.strip_suffix("# buildkit").unwrap_or(text).trim_end();
    let (explicit_run, body) = match text.strip_prefix("RUN ") {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    match shell_command(body) {
        Some(command) => match command.strip_prefix("#(nop)") {
            Some(instruction) => instruction.trim().to_owned(),
            None => format!("RUN {command}"),
        },
        None if explicit_run => format!("RUN {body}"),
        None => text.to_owned(),
    }
}

/// The command of `/bin/sh -c COMMAND`, also after BuildKit's build arguments
/// (`|2 A=1 B=2 /bin/sh -c COMMAND`).
fn shell_command(text: &str) -> Option<&str> {
    ["/bin/sh -c ", "/bin/bash -c "]
        .into_iter()
        .find_map(|shell| {
            if let Some(command) = text.strip_prefix(shell) {
                return Some(command.trim_start());
            }
            let at = text.strip_prefix('|')?.find(&format!(" {shell}"))?;
            Some(text[1 + at + 1 + shell.len()..].trim_start())
        })
}

impl ImageConfig {
    /// Every build step, empty ones included, as Dockerfile-like lines tied to their layers.
    /// A config without history gets one unnamed step per layer of `layer_count`.
    pub fn build_steps(&self, layer_count: usize) -> Vec<BuildStep> {
        if self.history.is_empty() {
            return (0..layer_count)
                .map(|layer| BuildStep {
                    instruction: "(no history)".into(),
                    layer: Some(layer),
                    created: None,
                })
                .collect();
        }
        let mut next_layer = 0;
        self.history
            .iter()
            .map(|step| {
                let layer = (!step.empty_layer).then(|| {
                    next_layer += 1;
                    next_layer - 1
                });
                BuildStep {
                    instruction: step
                        .created_by
                        .as_deref()
                        .map_or_else(|| "(unnamed step)".into(), dockerfile_instruction),
                    layer,
                    created: step.created.clone(),
                }
            })
            .collect()
    }

    /// `created_by` of each layer-producing step, in layer order; steps marked `empty_layer`
    /// are skipped so that entry *i* belongs to layer *i*.
    pub fn layer_commands(&self) -> Vec<Option<String>> {
        self.history
            .iter()
            .filter(|h| !h.empty_layer)
            .map(|h| h.created_by.clone())
            .collect()
    }
}

/// Media types of layers whose blobs may live outside the registry.
pub fn is_non_distributable(media_type: &str) -> bool {
    media_type.contains(".foreign.") || media_type.contains(".nondistributable.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_becomes_dockerfile_lines_tied_to_layers() {
        for (created_by, instruction) in [
            ("/bin/sh -c #(nop) ADD file:abc in / ", "ADD file:abc in /"),
            ("/bin/sh -c #(nop)  CMD [\"sh\"]", "CMD [\"sh\"]"),
            ("/bin/sh -c apk add curl", "RUN apk add curl"),
            ("RUN /bin/sh -c make install # buildkit", "RUN make install"),
            (
                "RUN |2 A=1 B=x y /bin/sh -c echo $A # buildkit",
                "RUN echo $A",
            ),
            ("ENV PATH=/usr/bin", "ENV PATH=/usr/bin"),
            ("COPY . /app # buildkit", "COPY . /app"),
        ] {
            assert_eq!(
                dockerfile_instruction(created_by),
                instruction,
                "{created_by}"
            );
        }
        let config: ImageConfig = serde_json::from_str(
            r#"{"config":{"Cmd":null,"Env":["A=1"],"ExposedPorts":{"80/tcp":{}},"User":"app"},
                "history":[{"created_by":"ADD x /"},{"created_by":"ENV A=1","empty_layer":true},
                           {"created_by":"/bin/sh -c make"}]}"#,
        )
        .expect("config parses");
        let runtime = config.config.clone().expect("runtime config");
        assert!(runtime.cmd.is_empty());
        assert_eq!(runtime.user, "app");
        assert!(runtime.exposed_ports.contains_key("80/tcp"));
        let steps: Vec<(String, Option<usize>)> = config
            .build_steps(2)
            .into_iter()
            .map(|s| (s.instruction, s.layer))
            .collect();
        assert_eq!(
            steps,
            vec![
                ("ADD x /".to_owned(), Some(0)),
                ("ENV A=1".to_owned(), None),
                ("RUN make".to_owned(), Some(1)),
            ]
        );
        assert_eq!(ImageConfig::default().build_steps(1)[0].layer, Some(0));
    }

    #[test]
    fn platform_strings_round_trip_and_reject_junk() {
        let p: Platform = "linux/arm/v7".parse().expect("valid");
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert_eq!(
            "linux/amd64"
                .parse::<Platform>()
                .expect("valid")
                .to_string(),
            "linux/amd64"
        );
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            let err = bad.parse::<Platform>().expect_err(bad);
            assert!(err.to_string().contains("os/arch"), "{err}");
        }
    }

    fn index_json() -> &'static str {
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v6"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cc","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:dd","size":1,"platform":{"os":"unknown","architecture":"unknown"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:ee","size":1,"platform":{"os":"linux","architecture":"amd64"}}
        ]}"#
    }

    fn parsed_index() -> ImageIndex {
        match ManifestDocument::parse(None, index_json().as_bytes()).expect("parses") {
            ManifestDocument::Index(index) => index,
            ManifestDocument::Image(_) => panic!("an index was parsed as an image"),
        }
    }

    #[test]
    fn index_selection_honours_variants_and_skips_attestations() {
        let index = parsed_index();
        let pick = |s: &str| {
            index
                .select(Some(&s.parse().expect("platform")))
                .map(|d| d.digest.clone())
        };
        assert_eq!(pick("linux/arm/v7").as_deref(), Ok("sha256:bb"));
        assert_eq!(pick("linux/arm/v6").as_deref(), Ok("sha256:aa"));
        assert_eq!(pick("linux/arm64").as_deref(), Ok("sha256:cc"));
        assert_eq!(pick("linux/arm64/v8").as_deref(), Ok("sha256:cc"));
        assert_eq!(pick("linux/amd64").as_deref(), Ok("sha256:ee"));
        let err = pick("unknown/unknown").expect_err("attestations are never picked");
        assert!(
            err.to_string()
                .contains("linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/amd64"),
            "{err}"
        );
        assert!(!index.platforms().iter().any(Platform::is_unknown));
        let arm_only = ImageIndex {
            manifests: index
                .manifests
                .iter()
                .filter(|m| m.platform.as_ref().is_some_and(|p| p.architecture == "arm"))
                .cloned()
                .collect(),
        };
        assert_eq!(
            arm_only.select(None).map(|d| d.digest.as_str()),
            Ok("sha256:aa"),
            "without the host's platform, the first offered"
        );
        let default = index.select(None).expect("host or amd64 fallback");
        assert!(["sha256:ee", "sha256:cc"].contains(&default.digest.as_str()));
    }

    #[test]
    fn documents_are_told_apart_by_type_and_shape() {
        let manifest = r#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:c","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:l","size":3}]}"#;
        assert!(matches!(
            ManifestDocument::parse(Some(media_type::OCI_MANIFEST), manifest.as_bytes()),
            Ok(ManifestDocument::Image(m)) if m.layers.len() == 1 && m.layers[0].size == 3
        ));
        assert!(matches!(
            ManifestDocument::parse(Some("application/json"), index_json().as_bytes()),
            Ok(ManifestDocument::Index(_))
        ));
        let schema1 = r#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert_eq!(
            ManifestDocument::parse(
                Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
                schema1.as_bytes()
            )
            .err(),
            Some(ManifestError::Schema1)
        );
        assert!(matches!(
            ManifestDocument::parse(Some("text/html"), b"{}"),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            ManifestDocument::parse(None, b"<html>"),
            Err(ManifestError::Invalid(_))
        ));
    }

    #[test]
    fn history_maps_to_layers_skipping_empty_steps() {
        let config: ImageConfig = serde_json::from_str(
            r#"{"history":[
              {"created_by":"ADD rootfs.tar /"},
              {"created_by":"ENV A=1","empty_layer":true},
              {"created_by":"RUN make"},
              {"created_by":"CMD [\"sh\"]","empty_layer":true}
            ]}"#,
        )
        .expect("config parses");
        assert_eq!(
            config.layer_commands(),
            vec![
                Some("ADD rootfs.tar /".to_owned()),
                Some("RUN make".to_owned())
            ]
        );
    }

    #[test]
    fn foreign_layers_are_recognised() {
        assert!(is_non_distributable(
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
        ));
        assert!(is_non_distributable(
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        ));
        assert!(!is_non_distributable(
            "application/vnd.oci.image.layer.v1.tar+zstd"
        ));
    }
}
