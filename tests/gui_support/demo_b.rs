//! Image B for the Compare tests: an OCI layout sharing the demo's first two layers (same
//! blobs, so the same digests) with its own top layer. Against the demo (linux/amd64) it adds
//! `usr/bin/demo-v2`, modifies `usr/bin/demo-app` (another size) and `bin/busybox` (the base
//! layer's version shows again), and removes what the demo's app layer added besides
//! (`etc/motd-copy`, `srv/index.html`, `usr/local/bin/demo`).
//!
//! Included with `#[path = "gui_support/demo_b.rs"] mod demo_b;` next to `mod common;`.

use std::io::Read as _;
use std::path::Path;

use super::common::images::sha256;
use super::common::layouts::write_single_image_layout;
use super::common::{Compression, TarItem, TestLayer};

/// The blob `digest` of the built-in demo archive.
fn demo_blob(digest: &str) -> Vec<u8> {
    let hex = digest.trim_start_matches("sha256:");
    let mut archive = tar::Archive::new(layerslayer::source::demo::DEMO_ARCHIVE);
    for entry in archive.entries().expect("the demo archive lists") {
        let mut entry = entry.expect("a demo archive member");
        let path = entry.path().expect("a member path").into_owned();
        if path.ends_with(format!("blobs/sha256/{hex}")) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("read the blob");
            return bytes;
        }
    }
    panic!("no blob {digest} in the demo archive");
}

/// The demo's layer `index` (linux/amd64) as a layer of another image.
fn demo_layer(layer: &layerslayer::oci::LayerInfo) -> TestLayer {
    let blob = demo_blob(layer.digest());
    let (compression, tar) = if layer.media_type().ends_with("+zstd") {
        let tar = zstd::decode_all(blob.as_slice()).expect("unzstd the demo layer");
        (Compression::Zstd, tar)
    } else {
        let mut tar = Vec::new();
        flate2::read::MultiGzDecoder::new(blob.as_slice())
            .read_to_end(&mut tar)
            .expect("gunzip the demo layer");
        (Compression::Gzip, tar)
    };
    TestLayer {
        digest: sha256(&blob),
        diff_id: sha256(&tar),
        blob,
        compression,
        expected: Vec::new(),
        created_by: layer.created_by.clone().unwrap_or_default(),
    }
}

/// Writes image B as an OCI layout in `dir`; returns the path to type in the app.
pub fn write_demo_b(dir: &Path) -> String {
    let cancel = layerslayer::cancel::CancelToken::new();
    let demo = layerslayer::source::open::open_image("demo", &Default::default(), &cancel)
        .expect("the demo opens");
    let app = TestLayer::new(
        &[
            TarItem::Dir("usr"),
            TarItem::Dir("usr/bin"),
            TarItem::File(
                "usr/bin/demo-app".into(),
                b"demo-app v2\n".repeat(64 * 1024 / 12),
                0o755,
            ),
            TarItem::File(
                "usr/bin/demo-v2".into(),
                b"#!/bin/sh\necho v2\n".to_vec(),
                0o755,
            ),
        ],
        Compression::Gzip,
        "COPY demo-app /usr/bin/",
    );
    let layers = vec![
        demo_layer(&demo.info.layers[0]),
        demo_layer(&demo.info.layers[1]),
        app,
    ];
    write_single_image_layout(dir, &layers);
    dir.to_string_lossy().into_owned()
}
