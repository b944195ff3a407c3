//! Random access into ordinary gzip layers: one listing records the index beside the cached
//! listing, then a file near the end is carved with one range request from the checkpoint
//! before it; a damaged, forged or stale index is never trusted, and is rebuilt by the next
//! full read.

use crate::common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use common::images::{noise, push_layer_blob};
use common::{Compression, TarItem, TestLayer, TestRegistry};
use layerslayer::cancel::CancelToken;
use layerslayer::inspect::carve::CarveSearch;
use layerslayer::layer::cache::{DEFAULT_MAX_BYTES, ListingCache};
use layerslayer::layer::list::{ContentNeed, ListingOptions, list_layer};
use layerslayer::layer::stream::PeekProgress;
use layerslayer::model::{LayerStatus, ListedFrom};
use layerslayer::source::open::{OpenedImage, open_image};

/// Text that compresses well, in lines that differ.
fn text(seed: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = seed;
    while out.len() < len {
        out.extend_from_slice(format!("{i:08} the quick brown fox {}\n", i % 977).as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// 61 MiB of mixed files (half text, half noise), the ones to carve near the end.
fn big_layer() -> TestLayer {
    let mut items = Vec::new();
    for i in 0..48 {
        let data = if i % 2 == 0 {
            text(i * 1000, 1 << 20)
        } else {
            noise(i as u64, 1 << 20)
        };
        items.push(TarItem::File(format!("data/f{i:02}.bin"), data, 0o644));
    }
    // Text right before: the checkpoint before late.txt restores a window its text refers to.
    items.push(TarItem::File(
        "data/before.txt".into(),
        text(3, 5 << 20),
        0o644,
    ));
    items.push(TarItem::File(
        "data/late.txt".into(),
        text(7, 300_000),
        0o644,
    ));
    items.push(TarItem::File(
        "data/span.bin".into(),
        noise(99, 6 << 20),
        0o644,
    ));
    items.push(TarItem::File(
        "data/last.txt".into(),
        b"the end\n".to_vec(),
        0o644,
    ));
    gzip_layer(&items)
}

/// A layer compressed by GNU gzip (`tar | gzip`), whose deflate blocks are of the usual size
/// (zlib's level 1, which the common helper uses, writes blocks of many MiB: no boundaries to
/// restart at).
fn gzip_layer(items: &[TarItem]) -> TestLayer {
    let tar = TestLayer::new(items, Compression::None, "ADD data /");
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = tar.blob.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&input).ok());
    let output = child.wait_with_output().expect("gzip output");
    writer.join().expect("writer");
    assert!(output.status.success());
    TestLayer {
        digest: common::images::sha256(&output.stdout),
        blob: output.stdout,
        compression: Compression::Gzip,
        ..tar
    }
}

/// `tar -xzO` of one path of `blob`.
fn tar_extract(blob: &[u8], path: &str) -> Vec<u8> {
    let mut child = Command::new("tar")
        .args(["-xzOf", "-", path])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run tar");
    let mut stdin = child.stdin.take().expect("stdin");
    let blob = blob.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&blob).ok());
    let output = child.wait_with_output().expect("tar output");
    writer.join().expect("writer");
    assert!(output.status.success());
    output.stdout
}

fn gzip_len(data: &[u8]) -> u64 {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip").len() as u64
}

fn list(opened: &OpenedImage, cache: &ListingCache) -> (LayerStatus, ListedFrom, Option<String>) {
    let result = list_layer(
        opened.source.as_ref(),
        &opened.info.layers[0],
        ListingOptions {
            cache: Some(cache),
            use_toc: true,
            content: ContentNeed::Skip,
        },
        &CancelToken::new(),
        &Arc::new(PeekProgress::default()),
        &mut |_| {},
    );
    (result.status, result.listed_from, result.note)
}

/// Carves `path`; returns the bytes and the blob bytes fetched.
fn carve(opened: &OpenedImage, cache: &ListingCache, path: &str) -> (Vec<u8>, u64) {
    let search = CarveSearch {
        version: Default::default(),
        source: opened.source.as_ref(),
        cache: Some(cache),
    };
    let mut out = Vec::new();
    let fetched = Arc::new(AtomicU64::new(0));
    let (_, report) = search
        .carve_path(
            &opened.info.layers,
            path,
            &CancelToken::new(),
            &fetched,
            &mut out,
        )
        .expect("carves");
    (out, report.bytes_fetched)
}

fn index_file(cache: &ListingCache) -> Option<PathBuf> {
    std::fs::read_dir(cache.dir())
        .expect("cache dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".gzindex"))
}

fn open(text: &str) -> OpenedImage {
    open_image(text, &Default::default(), &CancelToken::new()).expect("open")
}

#[test]
fn files_near_the_end_of_a_big_gzip_layer_come_through_the_index() {
    let registry = TestRegistry::start();
    let layer = big_layer();
    let reference = push_layer_blob(
        &registry,
        "zran",
        &layer.blob,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &Default::default(),
    );
    let opened = open(&reference);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ListingCache::open(dir.path().join("c"), DEFAULT_MAX_BYTES).expect("cache");
    let blob_len = layer.blob.len() as u64;

    // Without an index (nothing cached yet) a file near the end streams the whole blob, and
    // lists and indexes the layer on the way, as a peek would.
    let (bytes, streamed) = carve(&opened, &cache, "data/late.txt");
    assert_eq!(bytes, tar_extract(&layer.blob, "data/late.txt"));
    assert!(streamed >= blob_len, "{streamed} of {blob_len}");
    assert!(
        index_file(&cache).is_some(),
        "an index beside the listing the carve stored"
    );
    let (status, from, _) = list(&opened, &cache);
    assert!(matches!(status, LayerStatus::Complete { .. }), "{status:?}");
    assert_eq!(from, ListedFrom::Cache);
    // Emptied, the cache is filled again by a listing.
    for cached in std::fs::read_dir(cache.dir()).expect("cache dir").flatten() {
        std::fs::remove_file(cached.path()).expect("empty the cache");
    }

    // A peek of the layer records the index too.
    let (status, from, note) = list(&opened, &cache);
    assert!(matches!(status, LayerStatus::Complete { .. }), "{status:?}");
    assert_eq!(from, ListedFrom::Blob);
    assert_eq!(note, None);
    let index = index_file(&cache).expect("an index beside the listing");
    let index_len = std::fs::metadata(&index).expect("index").len();
    assert!(
        index_len * 50 <= blob_len,
        "index {index_len} of {blob_len}"
    );

    // One checkpoint span (4 MiB of output) at most before the file, then the file.
    let span = 4 << 20;
    for path in [
        "data/late.txt",
        "data/span.bin",
        "data/last.txt",
        "data/f47.bin",
    ] {
        let expected = tar_extract(&layer.blob, path);
        let (bytes, fetched) = carve(&opened, &cache, path);
        assert!(bytes == expected, "{path}: the same bytes as tar -xO");
        let bound = blob_len / 100 + gzip_len(&expected) + span;
        assert!(fetched <= bound, "{path}: fetched {fetched} > {bound}");
        assert!(
            fetched < blob_len / 4,
            "{path}: fetched {fetched} of {blob_len}"
        );
    }
}

/// Carves `path` and checks it against `tar`; returns the bytes fetched.
fn carve_checked(opened: &OpenedImage, cache: &ListingCache, blob: &[u8], path: &str) -> u64 {
    let (bytes, fetched) = carve(opened, cache, path);
    assert!(
        bytes == tar_extract(blob, path),
        "{path}: the same bytes as tar -xO"
    );
    fetched
}

/// The index file with every checkpoint's window changed (still valid zstd) and the file's
/// checksum made right again: only the bytes the windows decode to can tell.
fn forge_windows(index: &[u8]) -> Vec<u8> {
    let u32_at = |at: usize| u32::from_le_bytes(index[at..at + 4].try_into().expect("4")) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(index[at..at + 8].try_into().expect("8"));
    let mut at = 8 + 4;
    at += 4 + u32_at(at) + 8;
    let count = u64_at(at);
    at += 8;
    let mut forged = index[..at].to_vec();
    for _ in 0..count {
        forged.extend_from_slice(&index[at..at + 28]);
        let len = u32_at(at + 28);
        let window = &index[at + 32..at + 32 + len];
        at += 32 + len;
        let mut plain = zstd::bulk::decompress(window, 1 << 15).expect("a zstd window");
        for byte in plain.iter_mut().step_by(3) {
            *byte ^= 0x5a;
        }
        let window = zstd::bulk::compress(&plain, 1).expect("zstd");
        forged.extend_from_slice(&(window.len() as u32).to_le_bytes());
        forged.extend_from_slice(&window);
    }
    forged.extend_from_slice(&index[at..index.len() - 32]);
    let checksum = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&forged)
    };
    forged.extend_from_slice(&checksum);
    forged
}

fn layout(dir: &Path, layer: &TestLayer) -> OpenedImage {
    common::layouts::write_single_image_layout(dir, std::slice::from_ref(layer));
    open(&format!("oci:{}", dir.display()))
}

#[test]
fn a_damaged_forged_or_stale_index_is_not_trusted_and_is_rebuilt() {
    let layer = big_layer();
    let blob_len = layer.blob.len() as u64;
    let work = tempfile::tempdir().expect("tempdir");
    let opened = layout(&work.path().join("oci"), &layer);
    let cache = ListingCache::open(work.path().join("c"), DEFAULT_MAX_BYTES).expect("cache");
    list(&opened, &cache);
    let path = index_file(&cache).expect("index");
    let good = std::fs::read(&path).expect("read");
    let through_index = carve_checked(&opened, &cache, &layer.blob, "data/late.txt");
    assert!(through_index < blob_len / 4);

    let forged_window = forge_windows(&good);
    let mut wrong_checksum = good.clone();
    let last = wrong_checksum.len() - 1;
    wrong_checksum[last] ^= 1;
    let damages: [(&str, Vec<u8>); 3] = [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("wrong checksum", wrong_checksum),
        ("forged window", forged_window),
    ];
    for (what, damaged) in damages {
        std::fs::write(&path, &damaged).expect("damage");
        let fetched = carve_checked(&opened, &cache, &layer.blob, "data/late.txt");
        assert!(
            fetched > blob_len * 8 / 10,
            "{what}: streamed instead ({fetched} of {blob_len})"
        );
        assert!(index_file(&cache).is_none(), "{what}: the index is dropped");
        let (_, from, _) = list(&opened, &cache);
        assert_eq!(
            from,
            ListedFrom::Blob,
            "{what}: the next listing reads the layer"
        );
        assert!(
            index_file(&cache).is_some(),
            "{what}: and rebuilds the index"
        );
        let fetched = carve_checked(&opened, &cache, &layer.blob, "data/late.txt");
        assert_eq!(fetched, through_index, "{what}: the rebuilt index is used");
    }

    // The blob changed under the same name in the layout: the index does not match it.
    let mut items = Vec::new();
    for i in 0..48 {
        items.push(TarItem::File(
            format!("data/f{i:02}.bin"),
            noise(1000 + i, 1 << 20),
            0o644,
        ));
    }
    items.push(TarItem::File(
        "data/late.txt".into(),
        text(8, 300_000),
        0o644,
    ));
    let other = gzip_layer(&items);
    let hex = layer.digest.trim_start_matches("sha256:");
    std::fs::write(work.path().join("oci/blobs/sha256").join(hex), &other.blob).expect("swap");
    let search = CarveSearch {
        version: Default::default(),
        source: opened.source.as_ref(),
        cache: Some(&cache),
    };
    let mut out = Vec::new();
    let carved = search.carve_path(
        &opened.info.layers,
        "data/late.txt",
        &CancelToken::new(),
        &Arc::new(AtomicU64::new(0)),
        &mut out,
    );
    assert!(index_file(&cache).is_none(), "a stale index is dropped");
    assert!(
        out.is_empty() || out == tar_extract(&other.blob, "data/late.txt"),
        "never bytes the index made up ({carved:?})"
    );
}

/// Runs the CLI with its cache in `cache`; returns exit code, stdout and stderr.
fn cli(cache: &Path, args: &[&str]) -> (i32, String, String) {
    common::run_for_text(
        common::layerslayer_command()
            .env("XDG_CACHE_HOME", cache)
            .args(args),
    )
}

#[test]
fn log_patch_after_a_peek_fetches_only_each_versions_data_through_the_index() {
    // Three gzip layers of 16 MiB of noise, each changing etc/app.conf after the noise.
    let versions: Vec<Vec<u8>> = (0..3)
        .map(|v| {
            let mut conf = text(v * 100, 40_000);
            conf.extend_from_slice(format!("\nversion = {v}\n").as_bytes());
            conf
        })
        .collect();
    let layers: Vec<TestLayer> = versions
        .iter()
        .enumerate()
        .map(|(v, conf)| {
            let mut items: Vec<TarItem> = (0..16)
                .map(|i| {
                    let name = format!("data/l{v}/f{i:02}.bin");
                    TarItem::File(name, noise((v * 100 + i) as u64, 1 << 20), 0o644)
                })
                .collect();
            items.push(TarItem::File("etc/app.conf".into(), conf.clone(), 0o644));
            gzip_layer(&items)
        })
        .collect();
    let blobs: u64 = layers.iter().map(|l| l.blob.len() as u64).sum();
    let files: u64 = versions.iter().map(|v| v.len() as u64).sum();
    let registry = TestRegistry::start();
    let image = common::push_image(
        &registry,
        "history",
        "v1",
        common::ImageFormat::Oci,
        &layers,
    )
    .reference;
    let work = tempfile::tempdir().expect("tempdir");

    let (code, _, stderr) = cli(work.path(), &["peek", &image, "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = cli(work.path(), &["log", &image, "/etc/app.conf", "--patch"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("+++ layer 2/etc/app.conf"), "{stdout}");
    assert!(stdout.contains("-version = 1"), "{stdout}");
    assert!(stdout.contains("+version = 2"), "{stdout}");
    let summary = stderr
        .lines()
        .find(|line| line.starts_with("patches: read 3 versions, fetched "))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    assert!(
        summary.ends_with("through: index, index, index"),
        "{summary}"
    );
    let fetched: u64 = summary["patches: read 3 versions, fetched ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a byte count");
    // Each read starts at the checkpoint before the file: at most one span (4 MiB of output,
    // here noise that gzip cannot shrink) ahead of it. For a blob this small that span is
    // far above 1%, which only holds for layers of 400+ MiB of noise (see the README).
    let span = (4 << 20) + (64 << 10);
    let bound = blobs / 100 + files + 3 * span;
    eprintln!("log --patch fetched {fetched} of {blobs} blob bytes (bound {bound})");
    assert!(fetched <= bound, "fetched {fetched} > {bound} of {blobs}");
    assert!(fetched * 3 < blobs, "fetched {fetched} of {blobs}");
}

/// A zstd layer of `items` written as independent frames of `frame` bytes of tar each.
fn zstd_frames_layer(items: &[TarItem], frame: usize) -> TestLayer {
    let tar = TestLayer::new(items, Compression::None, "ADD data /");
    let blob: Vec<u8> = tar
        .blob
        .chunks(frame)
        .flat_map(|part| zstd::bulk::compress(part, 3).expect("zstd"))
        .collect();
    TestLayer {
        digest: common::images::sha256(&blob),
        blob,
        compression: Compression::Zstd,
        ..tar
    }
}

/// One path of a zstd `blob`, as `tar -xO` extracts it from the decompressed stream.
fn zstd_tar_extract(blob: &[u8], path: &str) -> Vec<u8> {
    let tar = zstd::stream::decode_all(blob).expect("zstd");
    let mut child = Command::new("tar")
        .args(["-xOf", "-", path])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run tar");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&tar).ok());
    let output = child.wait_with_output().expect("tar output");
    writer.join().expect("writer");
    assert!(output.status.success());
    output.stdout
}

#[test]
fn files_of_a_multi_frame_zstd_layer_come_from_the_frame_that_holds_them() {
    let mut items: Vec<TarItem> = (0..40)
        .map(|i| {
            let data = if i % 2 == 0 {
                text(i * 1000, 1 << 20)
            } else {
                noise(i as u64, 1 << 20)
            };
            TarItem::File(format!("data/f{i:02}.bin"), data, 0o644)
        })
        .collect();
    items.push(TarItem::File(
        "data/late.txt".into(),
        text(7, 300_000),
        0o644,
    ));
    items.push(TarItem::File(
        "data/last.txt".into(),
        b"end\n".to_vec(),
        0o644,
    ));
    let multi = zstd_frames_layer(&items, 3 << 20);
    let single = TestLayer::new(&items, Compression::Zstd, "ADD data /");
    let registry = TestRegistry::start();
    let media_type = "application/vnd.oci.image.layer.v1.tar+zstd";
    let work = tempfile::tempdir().expect("tempdir");

    // Several frames: one listing records checkpoints at frame starts.
    let opened = open(&push_layer_blob(
        &registry,
        "frames",
        &multi.blob,
        media_type,
        &Default::default(),
    ));
    let cache = ListingCache::open(work.path().join("c"), DEFAULT_MAX_BYTES).expect("cache");
    let (status, from, _) = list(&opened, &cache);
    assert!(matches!(status, LayerStatus::Complete { .. }), "{status:?}");
    assert_eq!(from, ListedFrom::Blob);
    let index = index_file(&cache).expect("an index of the frames");
    let index_len = std::fs::metadata(&index).expect("index").len();
    let blob_len = multi.blob.len() as u64;
    assert!(
        index_len * 100 <= blob_len,
        "index {index_len} of {blob_len}"
    );
    // A file spans at most two 3 MiB frames; the range starts at the frame of its header.
    let frame_span = 2 * (3 << 20) + (64 << 10);
    for path in ["data/late.txt", "data/last.txt", "data/f39.bin"] {
        let expected = zstd_tar_extract(&multi.blob, path);
        let (bytes, fetched) = carve(&opened, &cache, path);
        assert!(bytes == expected, "{path}: the same bytes as tar -xO");
        eprintln!("{path}: fetched {fetched} of {blob_len} (index {index_len})");
        assert!(
            fetched <= frame_span && fetched * 5 < blob_len,
            "{path}: fetched {fetched} of {blob_len}"
        );
    }

    // One frame: no index, the carve streams up to the file's last entry.
    let opened = open(&push_layer_blob(
        &registry,
        "one-frame",
        &single.blob,
        media_type,
        &Default::default(),
    ));
    let cache = ListingCache::open(work.path().join("c1"), DEFAULT_MAX_BYTES).expect("cache");
    list(&opened, &cache);
    assert!(index_file(&cache).is_none(), "no index of one frame");
    let (bytes, fetched) = carve(&opened, &cache, "data/late.txt");
    assert!(bytes == zstd_tar_extract(&single.blob, "data/late.txt"));
    assert!(
        fetched > single.blob.len() as u64 * 9 / 10,
        "{fetched} of {}",
        single.blob.len()
    );
}
