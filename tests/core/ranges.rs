//! Parts of blobs: every source serves byte ranges (a registry with HTTP Range requests, image
//! files by seeking), and a source that cannot says so instead of sending the whole blob.

use crate::common;

use std::io::Read as _;
use std::sync::Arc;

use common::fault::{FakeBlob, FakeRegistry};
use common::layouts::{pack_dir, write_single_image_layout};
use common::{Compression, ImageFormat, TarItem, TestLayer, TestRegistry, open_with, push_image};
use layerslayer::cancel::CancelToken;
use layerslayer::oci::ImageInfo;
use layerslayer::source::registry::ClientOptions;
use layerslayer::source::{ImageSource, RangeReply};

fn layers() -> Vec<TestLayer> {
    vec![TestLayer::new(
        &[TarItem::File(
            "data.bin".into(),
            (0..=255).cycle().take(20_000).collect(),
            0o644,
        )],
        Compression::Gzip,
        "ADD data",
    )]
}

fn read_range(
    source: &dyn ImageSource,
    image: &ImageInfo,
    range: std::ops::Range<u64>,
) -> Option<Vec<u8>> {
    let reply = source
        .open_blob_range(&image.layers[0].descriptor, range, &CancelToken::new())
        .expect("open range");
    match reply {
        RangeReply::Partial(mut reader) => {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).expect("read range");
            Some(bytes)
        }
        RangeReply::Unsupported(_) => None,
    }
}

fn open(text: &str) -> (Arc<dyn ImageSource>, ImageInfo) {
    open_with(text, ClientOptions::default(), None).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn registries_and_image_files_serve_byte_ranges() {
    let layers = layers();
    let blob = &layers[0].blob;
    let registry = TestRegistry::start();
    let pushed = push_image(&registry, "ranges/app", "v1", ImageFormat::Oci, &layers);
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("layout");
    write_single_image_layout(&dir, &layers);
    let tar = work.path().join("layout.tar");
    pack_dir(&dir, &tar, false);
    let tgz = work.path().join("layout.tar.gz");
    pack_dir(&dir, &tgz, true);
    let length = blob.len() as u64;
    for text in [
        pushed.reference.clone(),
        dir.display().to_string(),
        tar.display().to_string(),
    ] {
        let (source, image) = open(&text);
        for range in [
            0..10,
            length / 4..length / 2,
            length - 51..length,
            length - 5..length + 100,
        ] {
            let expected = &blob[range.start as usize..(range.end.min(length)) as usize];
            assert_eq!(
                read_range(source.as_ref(), &image, range.clone()).as_deref(),
                Some(expected),
                "{text} {range:?}"
            );
        }
    }
    // A compressed archive has no random access: it says so.
    let (source, image) = open(&tgz.display().to_string());
    assert_eq!(read_range(source.as_ref(), &image, 0..10), None);
}

#[test]
fn a_registry_ignoring_range_is_reported_not_followed() {
    let blob = layers().remove(0).blob;
    let blob_start = blob[..10].to_vec();
    let server = FakeRegistry::new(vec![(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        FakeBlob::Bytes(blob),
    )])
    .serve_plain();
    let (source, image) = open(&FakeRegistry::reference(&server));
    let descriptor = &image.layers[0].descriptor;
    let reply = source
        .open_blob_range(descriptor, 5..10, &CancelToken::new())
        .expect("request");
    match reply {
        RangeReply::Unsupported(reason) => assert!(reason.contains("200"), "{reason}"),
        RangeReply::Partial(_) => panic!("the fault server ignores Range"),
    }
    // From byte 0 the whole blob's start is the part asked for: it is used, and cut.
    assert_eq!(
        read_range(source.as_ref(), &image, 0..10),
        Some(blob_start[..10].to_vec())
    );
    let asked = server.requests();
    assert!(
        asked.iter().any(|r| r.header("range") == Some("bytes=5-9")),
        "a Range header was sent"
    );
}
