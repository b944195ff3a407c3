//! Listing from a table of contents: eStargz layers written by the reference writer
//! (`estargz.Build`), zstd:chunked layers written by it and by `skopeo`, pushed to the real
//! registry with and without annotations; and the fallbacks to the full stream when a
//! registry ignores Range or a TOC cannot be trusted.

use crate::common;

use std::collections::BTreeMap;

use common::estargz;
use common::fault::{FakeBlob, FakeRegistry, Reply};
use common::images::{build_tar, noise, push_layer_blob, sha256};
use common::{TarItem, TestRegistry};
use serde_json::{Value, json};

/// Files worth listing from a TOC: large incompressible files (one split into chunks), links,
/// a whiteout and an opaque directory.
fn tar_items() -> Vec<TarItem> {
    let mut items = vec![
        TarItem::Dir("usr"),
        TarItem::Dir("usr/lib"),
        TarItem::File("usr/lib/big.so".into(), noise(1, 300_000), 0o755),
    ];
    for i in 0..12 {
        items.push(TarItem::File(
            format!("usr/lib/part-{i}.bin"),
            noise(i as u64 + 2, 60_000),
            0o644,
        ));
    }
    items.extend([
        TarItem::Symlink("usr/lib/alias.so".into(), "big.so".into()),
        TarItem::Hardlink("usr/lib/same.so".into(), "usr/lib/big.so".into()),
        TarItem::File("etc/.wh.old.conf".into(), Vec::new(), 0o644),
        TarItem::File("var/.wh..wh..opq".into(), Vec::new(), 0o644),
    ]);
    items
}

/// `layerslayer peek REFERENCE --json -` (plus `extra`): the first layer's JSON and stderr.
fn peek_json(reference: &str, extra: &[&str]) -> (Value, String) {
    let output = common::layerslayer_command()
        .args(["peek", reference, "--json", "-", "--quiet"])
        .args(extra)
        .output()
        .expect("run layerslayer");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{reference}: {stderr}");
    let document: Value = serde_json::from_slice(&output.stdout).expect("json");
    (document["layers"][0].clone(), stderr)
}

/// Lists `reference` from its TOC and in full; the entries must agree exactly and the TOC
/// listing must fetch a small part of the blob. Returns the TOC listing's `listed_from`.
fn assert_toc_matches_full_listing(reference: &str, blob_size: usize) -> Value {
    let (toc, _) = peek_json(reference, &[]);
    let (full, _) = peek_json(reference, &["--no-toc"]);
    assert_eq!(full["listed_from"], json!("blob"), "{reference}");
    assert_eq!(
        toc["entries"], full["entries"],
        "{reference}: TOC and stream agree"
    );
    let paths: Vec<&str> = full["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    for hidden in [
        "stargz.index.json",
        ".prefetch.landmark",
        ".no.prefetch.landmark",
    ] {
        assert!(!paths.contains(&hidden), "{hidden} is not an image file");
    }
    assert!(paths.contains(&"usr/lib/big.so"), "{paths:?}");
    assert_eq!(
        paths.iter().filter(|p| **p == "usr/lib/big.so").count(),
        1,
        "a chunked file is one file"
    );
    let fetched = toc["bytes_read"].as_u64().expect("bytes_read");
    assert!(
        fetched * 20 < blob_size as u64,
        "{reference}: {fetched} of {blob_size} bytes fetched"
    );
    assert_eq!(full["bytes_read"].as_u64(), Some(blob_size as u64));
    toc["listed_from"].clone()
}

#[test]
fn estargz_layers_list_from_their_toc_with_or_without_annotations() {
    let (tar, _) = build_tar(&tar_items());
    let built = estargz::build(&tar, false, 65_536);
    let registry = TestRegistry::start();
    let media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    let annotated = BTreeMap::from([(
        "containerd.io/snapshot/stargz/toc.digest".to_owned(),
        built.toc_digest.clone(),
    )]);
    let with = push_layer_blob(
        &registry,
        "toc/annotated",
        &built.blob,
        media_type,
        &annotated,
    );
    let listed = assert_toc_matches_full_listing(&with, built.blob.len());
    assert_eq!(
        listed,
        json!({"toc": {"format": "estargz", "verified": true}})
    );
    let bare = push_layer_blob(
        &registry,
        "toc/bare",
        &built.blob,
        media_type,
        &BTreeMap::new(),
    );
    let listed = assert_toc_matches_full_listing(&bare, built.blob.len());
    assert_eq!(
        listed,
        json!({"toc": {"format": "estargz", "verified": false}}),
        "found from the footer alone"
    );

    // A wrong TOC digest: the full stream, and the status says why.
    let wrong = BTreeMap::from([(
        "containerd.io/snapshot/stargz/toc.digest".to_owned(),
        sha256(b"another toc"),
    )]);
    let lied = push_layer_blob(&registry, "toc/wrong", &built.blob, media_type, &wrong);
    let (layer, stderr) = peek_json(&lied, &[]);
    assert_eq!(layer["listed_from"], json!("blob"));
    assert!(stderr.contains("its digest is"), "{stderr}");
}

#[test]
fn zstd_chunked_layers_from_both_writers_list_from_their_toc() {
    let (tar, _) = build_tar(&tar_items());
    let registry = TestRegistry::start();
    let media_type = "application/vnd.oci.image.layer.v1.tar+zstd";

    // stargz-snapshotter's writer: 40-byte footer, io.containers.* annotations.
    let built = estargz::build(&tar, true, 65_536);
    assert!(
        built
            .annotations
            .contains_key("io.containers.zstd-chunked.manifest-position"),
        "{:?}",
        built.annotations
    );
    let annotated = push_layer_blob(
        &registry,
        "zstd/annotated",
        &built.blob,
        media_type,
        &built.annotations,
    );
    let listed = assert_toc_matches_full_listing(&annotated, built.blob.len());
    assert_eq!(
        listed,
        json!({"toc": {"format": "zstd-chunked", "verified": true}})
    );
    let bare = push_layer_blob(
        &registry,
        "zstd/bare",
        &built.blob,
        media_type,
        &BTreeMap::new(),
    );
    assert_eq!(
        assert_toc_matches_full_listing(&bare, built.blob.len()),
        json!({"toc": {"format": "zstd-chunked", "verified": false}})
    );

    // containers/image's writer, through skopeo, from a gzip image in the same registry.
    let gzip = common::images::compress(&tar, common::Compression::Gzip);
    let source = push_layer_blob(
        &registry,
        "zstd/source",
        &gzip,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &BTreeMap::new(),
    );
    let target = format!("{}/zstd/skopeo:v1", registry.addr());
    common::skopeo_copy_to_zstd_chunked(&source, &target);
    let (layer, _) = peek_json(&target, &[]);
    assert_eq!(
        layer["listed_from"],
        json!({"toc": {"format": "zstd-chunked", "verified": true}}),
        "skopeo's layer carries the manifest position and checksum"
    );
    let size = layer["layer"]["descriptor"]["size"].as_u64().expect("size");
    assert_toc_matches_full_listing(&target, size as usize);
}

#[test]
fn a_registry_ignoring_range_or_a_lying_toc_falls_back_to_the_full_stream() {
    let (tar, _) = build_tar(&tar_items());
    let built = estargz::build(&tar, false, 65_536);
    // The fault server answers every blob request with 200 and the whole blob.
    let mut registry = FakeRegistry::new(vec![(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        FakeBlob::Bytes(built.blob.clone()),
    )]);
    let mut manifest: Value = serde_json::from_slice(&registry.manifest).expect("manifest");
    manifest["layers"][0]["annotations"] =
        json!({"containerd.io/snapshot/stargz/toc.digest": built.toc_digest});
    registry.manifest = serde_json::to_vec(&manifest).expect("manifest");
    let server = registry.serve_plain();
    let (layer, stderr) = peek_json(&FakeRegistry::reference(&server), &[]);
    assert_eq!(layer["listed_from"], json!("blob"));
    assert_eq!(
        layer["status"],
        json!({"state": "complete", "detail": {"digest_verified": true}})
    );
    assert!(stderr.contains("ignored a Range request"), "{stderr}");

    // A footer whose TOC offset points at the layer's first member: what is there is no TOC.
    let mut lying = common::images::compress(&tar, common::Compression::Gzip);
    let mut footer = vec![
        0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 26, 0, b'S', b'G', 22, 0,
    ];
    footer.extend(format!("{:016x}STARGZ", 0).bytes());
    footer.extend([1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
    lying.extend(footer);
    let server = FakeRegistry::new(vec![(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        FakeBlob::Bytes(lying),
    )])
    .serve(|request, registry| {
        // Serve ranges, so that the TOC is really fetched and found wanting.
        let range = request.header("range")?.strip_prefix("bytes=")?.to_owned();
        let digest = request.path.rsplit('/').next()?;
        let Some(FakeBlob::Bytes(blob)) = registry.blobs.get(digest) else {
            return None;
        };
        let (start, end) = range.split_once('-')?;
        let (start, end): (usize, usize) = (start.parse().ok()?, end.parse().ok()?);
        let end = end.min(blob.len() - 1);
        Some(Reply::bytes(206, blob[start..=end].to_vec()).header(
            "Content-Range",
            format!("bytes {start}-{end}/{}", blob.len()),
        ))
    });
    let (layer, stderr) = peek_json(&FakeRegistry::reference(&server), &[]);
    assert_eq!(layer["listed_from"], json!("blob"));
    assert!(
        stderr.contains("table of contents could not be used"),
        "{stderr}"
    );
    let paths = layer["entries"].as_array().expect("entries").len();
    assert_eq!(
        paths,
        tar_items().len(),
        "the full stream lists every entry"
    );
}
