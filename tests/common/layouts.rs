//! Image files the tests write themselves: OCI image layouts (directories, tars, gzip tars) and
//! `docker save` archives in both layouts Docker writes.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::images::{ImageFormat, TestLayer, config_json, manifest_json, sha256};

/// One image of a layout: its layers and the architecture its config names.
pub struct LayoutImage<'a> {
    /// The layers, base first.
    pub layers: &'a [TestLayer],
    /// `amd64`, `arm64`, …
    pub architecture: &'static str,
}

/// What an entry of `index.json` points at.
pub enum IndexEntry<'a> {
    /// One image manifest, named by `org.opencontainers.image.ref.name` when given.
    Image(Option<&'static str>, LayoutImage<'a>),
    /// A multi-platform index of images (platform `linux/<architecture>`), named when given.
    Platforms(Option<&'static str>, Vec<LayoutImage<'a>>),
}

/// Writes `bytes` to `dir/blobs/sha256/<hex>`; returns the digest.
pub fn write_blob(dir: &Path, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs dir");
    let hex = digest.trim_start_matches("sha256:");
    std::fs::write(blobs.join(hex), bytes).expect("write blob");
    digest
}

/// Writes an image's layers, config and manifest; returns the manifest's descriptor.
fn write_image(dir: &Path, image: &LayoutImage<'_>) -> serde_json::Value {
    for layer in image.layers {
        write_blob(dir, &layer.blob);
    }
    let config = config_json(image.layers, image.architecture, None);
    write_blob(dir, &config);
    let (manifest, media_type) = manifest_json(ImageFormat::Oci, &config, image.layers);
    json!({
        "mediaType": media_type,
        "digest": write_blob(dir, &manifest),
        "size": manifest.len(),
        "platform": {"os": "linux", "architecture": image.architecture},
    })
}

fn named(mut descriptor: serde_json::Value, name: Option<&str>) -> serde_json::Value {
    if let Some(name) = name {
        descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": name});
    }
    descriptor
}

/// Writes an OCI image layout of one linux/amd64 image made of `layers` into `dir`.
pub fn write_single_image_layout(dir: &Path, layers: &[TestLayer]) {
    write_oci_layout(
        dir,
        &[IndexEntry::Image(
            None,
            LayoutImage {
                layers,
                architecture: "amd64",
            },
        )],
    );
}

/// Writes an OCI image layout into `dir` with the given `index.json` entries.
pub fn write_oci_layout(dir: &Path, entries: &[IndexEntry<'_>]) {
    std::fs::create_dir_all(dir).expect("layout dir");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|entry| match entry {
            IndexEntry::Image(name, image) => {
                let mut descriptor = write_image(dir, image);
                if let Some(object) = descriptor.as_object_mut() {
                    object.remove("platform");
                }
                named(descriptor, *name)
            }
            IndexEntry::Platforms(name, images) => {
                let children: Vec<_> = images.iter().map(|i| write_image(dir, i)).collect();
                let index = index_json(&children);
                let descriptor = json!({
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "digest": write_blob(dir, &index),
                    "size": index.len(),
                });
                named(descriptor, *name)
            }
        })
        .collect();
    std::fs::write(dir.join("index.json"), index_json(&manifests)).expect("index.json");
}

fn index_json(manifests: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .expect("index json")
}

/// Packs the files under `dir` into a tar at `file` (members relative to `dir`, `./`-prefixed
/// as GNU tar writes them, sorted), gzip-compressed when `gzip` is set.
pub fn pack_dir(dir: &Path, file: &Path, gzip: bool) {
    pack_dir_ending_with(dir, file, gzip, None);
}

/// Like [`pack_dir`], with the member `last` (relative to `dir`) moved to the end.
pub fn pack_dir_ending_with(dir: &Path, file: &Path, gzip: bool, last: Option<&str>) {
    let mut paths = Vec::new();
    collect_files(dir, dir, &mut paths);
    paths.sort();
    if let Some(last) = last {
        paths.retain(|p| p != last);
        paths.push(last.to_owned());
    }
    let mut builder = tar::Builder::new(Vec::new());
    for path in &paths {
        builder
            .append_path_with_name(dir.join(path), format!("./{path}"))
            .expect("pack file");
    }
    let tar = builder.into_inner().expect("finish tar");
    let bytes = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&tar).expect("gzip");
        encoder.finish().expect("gzip finish")
    } else {
        tar
    };
    std::fs::write(file, bytes).expect("write archive");
}

/// Paths of the regular files under `dir`, relative to `root`, with `/` separators.
fn collect_files(root: &Path, dir: &Path, paths: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect_files(root, &path, paths);
        } else {
            let relative = path.strip_prefix(root).expect("under root");
            paths.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// The uncompressed tar of a layer (what `docker save` stores).
pub fn plain_tar(layer: &TestLayer) -> Vec<u8> {
    match layer.compression {
        super::Compression::None => layer.blob.clone(),
        super::Compression::Zstd => zstd::decode_all(layer.blob.as_slice()).expect("unzstd"),
        super::Compression::Gzip | super::Compression::GzipMultiMember => {
            let mut tar = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::MultiGzDecoder::new(layer.blob.as_slice()),
                &mut tar,
            )
            .expect("gunzip");
            tar
        }
    }
}

/// Writes the legacy `docker save` layout into `dir`: `manifest.json`, `repositories`,
/// `<hex>.json` configs and `<id>/layer.tar` (uncompressed) for each `(tag, layers)`.
pub fn write_docker_save_legacy(dir: &Path, images: &[(&str, &[TestLayer])]) {
    let mut manifest = Vec::new();
    for (tag, layers) in images {
        let config = config_json(layers, "amd64", None);
        let config_name = format!("{}.json", sha256(&config).trim_start_matches("sha256:"));
        std::fs::write(dir.join(&config_name), &config).expect("config");
        let mut paths = Vec::new();
        for (position, layer) in layers.iter().enumerate() {
            // Legacy layer ids are opaque; any unique hex name will do.
            let id = sha256(format!("{tag}/{position}").as_bytes());
            let id = id.trim_start_matches("sha256:");
            std::fs::create_dir_all(dir.join(id)).expect("layer dir");
            std::fs::write(dir.join(id).join("layer.tar"), plain_tar(layer)).expect("layer");
            std::fs::write(dir.join(id).join("VERSION"), "1.0").expect("VERSION");
            paths.push(format!("{id}/layer.tar"));
        }
        manifest.push(json!({"Config": config_name, "RepoTags": [tag], "Layers": paths}));
    }
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).expect("manifest.json"),
    )
    .expect("manifest.json");
    std::fs::write(dir.join("repositories"), "{}").expect("repositories");
}

/// Writes the OCI-style `docker save` layout of Docker 25+: an OCI layout whose `index.json`
/// names the image `docker.io/library/<tag>`, plus a `manifest.json` over the same blobs.
pub fn write_docker_save_oci(dir: &Path, tag: &str, layers: &[TestLayer]) {
    let image = LayoutImage {
        layers,
        architecture: "amd64",
    };
    let mut descriptor = write_image(dir, &image);
    let short_tag = tag.rsplit(':').next().unwrap_or("latest");
    descriptor["annotations"] = json!({
        "io.containerd.image.name": format!("docker.io/library/{tag}"),
        "org.opencontainers.image.ref.name": short_tag,
    });
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    std::fs::write(dir.join("index.json"), index_json(&[descriptor])).expect("index.json");
    let config = config_json(layers, "amd64", None);
    let blob_path = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let manifest = json!([{
        "Config": blob_path(&sha256(&config)),
        "RepoTags": [tag],
        "Layers": layers.iter().map(|l| blob_path(&l.digest)).collect::<Vec<_>>(),
    }]);
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).expect("manifest.json"),
    )
    .expect("manifest.json");
}

/// Writes the `docker save`-compatible tarball layout of go-containerregistry (`crane pull`):
/// the config named `sha256:<hex>` and each layer stored compressed as `<blob hex>.tar.gz`.
pub fn write_crane_tarball(dir: &Path, tag: &str, layers: &[TestLayer]) {
    let config = config_json(layers, "amd64", None);
    let config_name = sha256(&config);
    std::fs::write(dir.join(&config_name), &config).expect("config");
    let mut paths = Vec::new();
    for layer in layers {
        let name = format!("{}.tar.gz", layer.digest.trim_start_matches("sha256:"));
        std::fs::write(dir.join(&name), &layer.blob).expect("layer");
        paths.push(name);
    }
    let manifest = json!([{"Config": config_name, "RepoTags": [tag], "Layers": paths}]);
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).expect("manifest.json"),
    )
    .expect("manifest.json");
}
