//! Builds layer tarballs and images in memory and pushes them with the distribution API.

use std::io::Write;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::TestRegistry;

/// One item of a test layer's tar.
#[derive(Debug, Clone)]
pub enum TarItem {
    /// A directory.
    Dir(&'static str),
    /// A regular file with contents and mode.
    File(String, Vec<u8>, u32),
    /// A symlink `path -> target`.
    Symlink(String, String),
    /// A hard link `path` to the earlier `target`.
    Hardlink(String, String),
    /// A file whose path is written with a PAX `path` record.
    PaxFile(String, Vec<u8>),
    /// A FIFO.
    Fifo(&'static str),
}

/// What the listing of a test layer must contain, in tar order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedEntry {
    /// Normalised path.
    pub path: String,
    /// `file`, `dir`, `symlink`, … as `EntryKind::as_str` names them.
    pub kind: &'static str,
    /// File size.
    pub size: u64,
    /// Link target, if any.
    pub link_target: Option<String>,
}

/// Layer compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip.
    Gzip,
    /// Two concatenated gzip members.
    GzipMultiMember,
    /// zstd.
    Zstd,
    /// plain tar.
    None,
}

/// Which family of media types an image uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// OCI manifest and media types.
    Oci,
    /// Docker schema2.
    Docker,
}

/// A built layer: its blob and what a listing of it must show.
#[derive(Debug, Clone)]
pub struct TestLayer {
    /// The compressed (or plain) blob.
    pub blob: Vec<u8>,
    /// `sha256:…` of the blob.
    pub digest: String,
    /// `sha256:…` of the uncompressed tar.
    pub diff_id: String,
    /// Media type for the manifest.
    pub compression: Compression,
    /// Expected entries in tar order.
    pub expected: Vec<ExpectedEntry>,
    /// The history line for this layer.
    pub created_by: String,
}

/// A listing's entries in the shape of [`ExpectedEntry`], for comparing with a built layer.
pub fn expected_entries(listing: &layerslayer::model::LayerListing) -> Vec<ExpectedEntry> {
    listing
        .entries
        .iter()
        .map(|e| ExpectedEntry {
            path: e.path.to_string(),
            kind: e.kind.as_str(),
            size: e.size,
            link_target: e.link_target.as_deref().map(str::to_owned),
        })
        .collect()
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(1000);
    header.set_gid(1000);
    header.set_mtime(1_700_000_000);
    header
}

/// Builds the plain tar for `items`, and the expected listing.
pub fn build_tar(items: &[TarItem]) -> (Vec<u8>, Vec<ExpectedEntry>) {
    let mut builder = tar::Builder::new(Vec::new());
    let mut expected = Vec::new();
    let kind_of = |path: &str, plain: &'static str| {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name == ".wh..wh..opq" {
            "opaque-marker"
        } else if name.starts_with(".wh.") {
            "whiteout"
        } else {
            plain
        }
    };
    for item in items {
        match item {
            TarItem::Dir(path) => {
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                builder
                    .append_data(&mut h, format!("{path}/"), std::io::empty())
                    .expect("dir");
                expected.push(ExpectedEntry {
                    path: path.to_string(),
                    kind: "dir",
                    size: 0,
                    link_target: None,
                });
            }
            TarItem::File(path, data, mode) => {
                let mut h = header(tar::EntryType::Regular, *mode, data.len() as u64);
                builder
                    .append_data(&mut h, path, data.as_slice())
                    .expect("file");
                let kind = kind_of(path, "file");
                let size = if kind == "file" { data.len() as u64 } else { 0 };
                expected.push(ExpectedEntry {
                    path: path.clone(),
                    kind,
                    size,
                    link_target: None,
                });
            }
            TarItem::Symlink(path, target) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                builder.append_link(&mut h, path, target).expect("symlink");
                expected.push(ExpectedEntry {
                    path: path.clone(),
                    kind: "symlink",
                    size: 0,
                    link_target: Some(target.clone()),
                });
            }
            TarItem::Hardlink(path, target) => {
                let mut h = header(tar::EntryType::Link, 0o644, 0);
                builder.append_link(&mut h, path, target).expect("hardlink");
                expected.push(ExpectedEntry {
                    path: path.clone(),
                    kind: "hardlink",
                    size: 0,
                    link_target: Some(target.clone()),
                });
            }
            TarItem::PaxFile(path, data) => {
                builder
                    .append_pax_extensions([("path", path.as_bytes())])
                    .expect("pax");
                let mut h = header(tar::EntryType::Regular, 0o600, data.len() as u64);
                h.set_path("pax-placeholder").expect("short path");
                h.set_cksum();
                builder.append(&h, data.as_slice()).expect("pax file");
                expected.push(ExpectedEntry {
                    path: path.clone(),
                    kind: "file",
                    size: data.len() as u64,
                    link_target: None,
                });
            }
            TarItem::Fifo(path) => {
                let mut h = header(tar::EntryType::Fifo, 0o644, 0);
                builder
                    .append_data(&mut h, path, std::io::empty())
                    .expect("fifo");
                expected.push(ExpectedEntry {
                    path: path.to_string(),
                    kind: "fifo",
                    size: 0,
                    link_target: None,
                });
            }
        }
    }
    (builder.into_inner().expect("finish tar"), expected)
}

/// Compresses a tar as asked.
pub fn compress(tar: &[u8], compression: Compression) -> Vec<u8> {
    let gzip = |data: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).expect("gzip");
        encoder.finish().expect("gzip finish")
    };
    match compression {
        Compression::Gzip => gzip(tar),
        Compression::GzipMultiMember => {
            let (first, second) = tar.split_at(tar.len() / 2);
            let mut blob = gzip(first);
            blob.extend(gzip(second));
            blob
        }
        Compression::Zstd => zstd::encode_all(tar, 3).expect("zstd"),
        Compression::None => tar.to_vec(),
    }
}

impl TestLayer {
    /// Builds a layer from items.
    pub fn new(items: &[TarItem], compression: Compression, created_by: &str) -> Self {
        let (tar, expected) = build_tar(items);
        let blob = compress(&tar, compression);
        Self {
            digest: sha256(&blob),
            diff_id: sha256(&tar),
            blob,
            compression,
            expected,
            created_by: created_by.to_owned(),
        }
    }

    /// An uncompressed layer whose blob is `tar` as it is (no expected listing).
    pub fn plain(tar: Vec<u8>, created_by: &str) -> Self {
        Self {
            digest: sha256(&tar),
            diff_id: sha256(&tar),
            blob: tar,
            compression: Compression::None,
            expected: Vec::new(),
            created_by: created_by.to_owned(),
        }
    }

    /// A zstd layer of header-only members (no data), written straight into the encoder
    /// so that the tar is never held (a million members are 512 MB of tar) and hashed on the
    /// way for the config's diff_id. `members` calls the given `append(path, kind, mode)`
    /// once per member.
    pub fn header_only_zstd(
        created_by: &str,
        members: impl FnOnce(&mut dyn FnMut(String, tar::EntryType, u32)),
    ) -> Self {
        struct Hashing<W: Write>(W, Sha256);
        impl<W: Write> Write for Hashing<W> {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.1.update(buf);
                self.0.write_all(buf).map(|()| buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.0.flush()
            }
        }
        let encoder = zstd::Encoder::new(Vec::new(), 1).expect("zstd");
        let mut builder = tar::Builder::new(Hashing(encoder, Sha256::new()));
        members(&mut |path, kind, mode| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(0);
            header.set_mode(mode);
            header.set_path(path).expect("path");
            header.set_cksum();
            builder.append(&header, std::io::empty()).expect("member");
        });
        let Hashing(encoder, hasher) = builder.into_inner().expect("tar");
        let blob = encoder.finish().expect("zstd finish");
        Self {
            digest: sha256(&blob),
            diff_id: format!("sha256:{:x}", hasher.finalize()),
            blob,
            compression: Compression::Zstd,
            expected: Vec::new(),
            created_by: created_by.to_owned(),
        }
    }

    /// The layer media type in the given format.
    pub fn media_type(&self, format: ImageFormat) -> &'static str {
        match (format, self.compression) {
            (ImageFormat::Docker, _) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            (ImageFormat::Oci, Compression::Gzip | Compression::GzipMultiMember) => {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            }
            (ImageFormat::Oci, Compression::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
            (ImageFormat::Oci, Compression::None) => "application/vnd.oci.image.layer.v1.tar",
        }
    }
}

/// What was pushed.
#[derive(Debug, Clone)]
pub struct PushedImage {
    /// `127.0.0.1:PORT/repo:tag`.
    pub reference: String,
    /// Digest of the manifest.
    pub manifest_digest: String,
    /// The manifest bytes.
    pub manifest: Vec<u8>,
}

fn request(
    client: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    auth: &Option<String>,
) -> reqwest::blocking::RequestBuilder {
    let request = client.request(method, url);
    match auth {
        Some(value) => request.header("Authorization", value),
        None => request,
    }
}

/// Uploads a blob (monolithic POST + PUT) unless it exists.
pub fn push_blob(addr: &str, auth: &Option<String>, repo: &str, blob: &[u8]) -> String {
    let client = reqwest::blocking::Client::new();
    let digest = sha256(blob);
    let start = request(
        &client,
        reqwest::Method::POST,
        &format!("http://{addr}/v2/{repo}/blobs/uploads/"),
        auth,
    )
    .send()
    .expect("start upload");
    assert_eq!(
        start.status().as_u16(),
        202,
        "upload start: {:?}",
        start.text()
    );
    let location = start
        .headers()
        .get("Location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("http://{addr}{location}")
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let done = request(
        &client,
        reqwest::Method::PUT,
        &format!("{location}{separator}digest={digest}"),
        auth,
    )
    .header("Content-Type", "application/octet-stream")
    .body(blob.to_vec())
    .send()
    .expect("finish upload");
    assert_eq!(
        done.status().as_u16(),
        201,
        "upload finish: {:?}",
        done.text()
    );
    digest
}

/// Uploads a manifest under a tag or digest.
pub fn push_manifest(
    addr: &str,
    auth: &Option<String>,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) -> String {
    let client = reqwest::blocking::Client::new();
    let response = request(
        &client,
        reqwest::Method::PUT,
        &format!("http://{addr}/v2/{repo}/manifests/{reference}"),
        auth,
    )
    .header("Content-Type", media_type)
    .body(body.to_vec())
    .send()
    .expect("put manifest");
    assert_eq!(
        response.status().as_u16(),
        201,
        "manifest push: {:?}",
        response.text()
    );
    sha256(body)
}

/// Image config JSON for layers, with an `empty_layer` step in the history.
pub fn config_json(layers: &[TestLayer], architecture: &str, variant: Option<&str>) -> Vec<u8> {
    let mut history = vec![
        json!({"created_by": "LABEL purpose=test", "empty_layer": true, "created": "2024-01-01T00:00:00Z"}),
    ];
    for layer in layers {
        history.push(json!({"created_by": layer.created_by, "created": "2024-01-01T00:00:00Z"}));
    }
    history.push(json!({"created_by": "CMD [\"sh\"]", "empty_layer": true}));
    let mut config = json!({
        "created": "2024-01-01T00:00:00Z",
        "architecture": architecture,
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
        "history": history,
    });
    if let Some(variant) = variant {
        config["variant"] = json!(variant);
    }
    serde_json::to_vec(&config).expect("config json")
}

/// Builds the manifest for layers and a pushed config.
pub fn manifest_json(
    format: ImageFormat,
    config: &[u8],
    layers: &[TestLayer],
) -> (Vec<u8>, &'static str) {
    let (manifest_type, config_type) = match format {
        ImageFormat::Oci => (
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.config.v1+json",
        ),
        ImageFormat::Docker => (
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.container.image.v1+json",
        ),
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "digest": sha256(config), "size": config.len()},
        "layers": layers.iter().map(|l| json!({"mediaType": l.media_type(format), "digest": l.digest, "size": l.blob.len()})).collect::<Vec<_>>(),
    });
    (
        serde_json::to_vec(&manifest).expect("manifest json"),
        manifest_type,
    )
}

/// Pushes layers, config and manifest; returns the reference `addr/repo:tag`.
pub fn push_image(
    registry: &TestRegistry,
    repo: &str,
    tag: &str,
    format: ImageFormat,
    layers: &[TestLayer],
) -> PushedImage {
    push_image_for(registry, repo, tag, format, layers, "amd64", None)
}

/// Like [`push_image`] for a given architecture/variant (used to build indexes).
pub fn push_image_for(
    registry: &TestRegistry,
    repo: &str,
    tag: &str,
    format: ImageFormat,
    layers: &[TestLayer],
    architecture: &str,
    variant: Option<&str>,
) -> PushedImage {
    let addr = registry.addr();
    let auth = registry.push_authorization();
    for layer in layers {
        push_blob(&addr, &auth, repo, &layer.blob);
    }
    let config = config_json(layers, architecture, variant);
    push_blob(&addr, &auth, repo, &config);
    let (manifest, media_type) = manifest_json(format, &config, layers);
    let manifest_digest = push_manifest(&addr, &auth, repo, tag, media_type, &manifest);
    PushedImage {
        reference: format!("{addr}/{repo}:{tag}"),
        manifest_digest,
        manifest,
    }
}

/// Pushes one OCI image per `(layers, os, architecture, variant)`, tagged with its
/// architecture and variant, and an index of them at `repo:tag`; returns the index.
pub fn push_platforms(
    registry: &TestRegistry,
    repo: &str,
    tag: &str,
    platforms: &[(&[TestLayer], &str, &str, Option<&str>)],
) -> PushedImage {
    let images: Vec<PushedImage> = platforms
        .iter()
        .map(|&(layers, _, architecture, variant)| {
            let image_tag = format!("{architecture}{}", variant.unwrap_or_default());
            push_image_for(
                registry,
                repo,
                &image_tag,
                ImageFormat::Oci,
                layers,
                architecture,
                variant,
            )
        })
        .collect();
    let entries: Vec<_> = images
        .iter()
        .zip(platforms)
        .map(|(image, &(_, os, architecture, variant))| (image, os, architecture, variant))
        .collect();
    push_index(registry, repo, tag, &entries)
}

/// Pushes an OCI index over already pushed manifests: `(manifest, os, arch, variant)`.
pub fn push_index(
    registry: &TestRegistry,
    repo: &str,
    tag: &str,
    entries: &[(&PushedImage, &str, &str, Option<&str>)],
) -> PushedImage {
    let manifests: Vec<_> = entries
        .iter()
        .map(|(image, os, arch, variant)| {
            let mut platform = json!({"os": os, "architecture": arch});
            if let Some(variant) = variant {
                platform["variant"] = json!(variant);
            }
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image.manifest_digest, "size": image.manifest.len(), "platform": platform})
        })
        .collect();
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests})).expect("index json");
    let addr = registry.addr();
    let digest = push_manifest(
        &addr,
        &registry.push_authorization(),
        repo,
        tag,
        "application/vnd.oci.image.index.v1+json",
        &index,
    );
    PushedImage {
        reference: format!("{addr}/{repo}:{tag}"),
        manifest_digest: digest,
        manifest: index,
    }
}

/// Items covering every entry kind and awkward name the peek must get right.
pub fn tricky_items() -> Vec<TarItem> {
    let long_name = format!("deep/{}/file-with-a-long-name.txt", "d".repeat(150));
    vec![
        TarItem::Dir("etc"),
        TarItem::File("etc/os-release".into(), b"ID=test\n".to_vec(), 0o644),
        TarItem::File(long_name, vec![1; 300], 0o600),
        TarItem::PaxFile(
            format!("pax/{}/ünïcødé-名前.bin", "p".repeat(120)),
            vec![2; 1000],
        ),
        TarItem::File(
            "unicode/日本語.txt".into(),
            "こんにちは".as_bytes().to_vec(),
            0o644,
        ),
        TarItem::Symlink("etc/localtime".into(), "/usr/share/zoneinfo/UTC".into()),
        TarItem::Hardlink("etc/os-release-link".into(), "etc/os-release".into()),
        TarItem::Fifo("run/pipe"),
        TarItem::File("var/cache/.wh..wh..opq".into(), Vec::new(), 0o644),
        TarItem::File("etc/.wh.motd".into(), Vec::new(), 0o644),
        TarItem::File("formula/=cmd|calc".into(), b"x".to_vec(), 0o644),
    ]
}

/// `n` pseudo-random (incompressible) bytes, the same for the same `seed`.
pub fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Pushes a one-layer OCI image whose layer is the eStargz blob `built`, annotated with its
/// TOC digest as the reference writer's users do; returns `addr/repo:v1`.
pub fn push_estargz_layer(
    registry: &TestRegistry,
    repo: &str,
    built: &super::estargz::EstargzBlob,
) -> String {
    let annotations = std::collections::BTreeMap::from([(
        "containerd.io/snapshot/stargz/toc.digest".to_owned(),
        built.toc_digest.clone(),
    )]);
    push_layer_blob(
        registry,
        repo,
        &built.blob,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &annotations,
    )
}

/// Pushes a one-layer OCI image whose layer is `blob` with `annotations`; returns
/// `addr/repo:v1`.
pub fn push_layer_blob(
    registry: &TestRegistry,
    repo: &str,
    blob: &[u8],
    media_type: &str,
    annotations: &std::collections::BTreeMap<String, String>,
) -> String {
    let addr = registry.addr();
    let auth = registry.push_authorization();
    let digest = push_blob(&addr, &auth, repo, blob);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [digest]},
        "history": [{"created_by": "ADD layer /"}],
    }))
    .expect("config");
    push_blob(&addr, &auth, repo, &config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": media_type, "digest": digest, "size": blob.len(), "annotations": annotations}],
    }))
    .expect("manifest");
    push_manifest(
        &addr,
        &auth,
        repo,
        "v1",
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    );
    format!("{addr}/{repo}:v1")
}

/// The three-layer image the GUI tests browse.
#[derive(Debug, Clone)]
pub struct SampleImage {
    /// `127.0.0.1:PORT/repo:tag`.
    pub reference: String,
    /// Exact normalised paths of each layer, in tar order.
    pub layer_paths: Vec<Vec<String>>,
    /// The layers as built.
    pub layers: Vec<TestLayer>,
}

/// The sample layers: `etc/hello.txt`; `usr/bin/tool` + symlink `usr/bin/alias`; a whiteout of
/// `etc/hello.txt`.
pub fn sample_layers() -> Vec<TestLayer> {
    vec![
        TestLayer::new(
            &[
                TarItem::Dir("etc"),
                TarItem::File("etc/hello.txt".into(), b"hello\n".to_vec(), 0o644),
            ],
            Compression::Gzip,
            "ADD rootfs /",
        ),
        TestLayer::new(
            &[
                TarItem::Dir("usr"),
                TarItem::Dir("usr/bin"),
                TarItem::File("usr/bin/tool".into(), vec![7u8; 4096], 0o755),
                TarItem::Symlink("usr/bin/alias".into(), "tool".into()),
            ],
            Compression::Zstd,
            "RUN install tool",
        ),
        TestLayer::new(
            &[TarItem::File("etc/.wh.hello.txt".into(), Vec::new(), 0o644)],
            Compression::None,
            "RUN rm /etc/hello.txt",
        ),
    ]
}

/// Pushes the sample image (OCI media types).
pub fn push_sample_image(registry: &TestRegistry, repo: &str, tag: &str) -> SampleImage {
    let layers = sample_layers();
    let pushed = push_image(registry, repo, tag, ImageFormat::Oci, &layers);
    SampleImage {
        reference: pushed.reference,
        layer_paths: layers
            .iter()
            .map(|l| l.expected.iter().map(|e| e.path.clone()).collect())
            .collect(),
        layers,
    }
}
