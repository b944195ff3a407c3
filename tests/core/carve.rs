//! `layerslayer carve`: the final filesystem's version of one file, written atomically to the
//! chosen path only, fetching as little as it can: a streamed layer only up to the file, a
//! layer with a table of contents only the file's chunks.

use crate::common;

use std::path::Path;

use common::estargz;
use common::images::{build_tar, noise};
use common::{Compression, ImageFormat, TarItem, TestLayer, TestRegistry, push_image};

/// Runs `layerslayer carve ARGS` in `dir` without a listing cache; returns exit code, stdout
/// and stderr.
fn carve(dir: &Path, args: &[&str]) -> (i32, Vec<u8>, String) {
    carve_cached(dir, Path::new(common::NO_CACHE_DIR), args)
}

/// The percentage `carve` reports for the target layer.
fn share_fetched(stderr: &str) -> f64 {
    stderr
        .split('(')
        .filter_map(|part| part.split('%').next())
        .filter_map(|number| number.trim().parse::<f64>().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no share in {stderr:?}"))
}

#[test]
fn carve_takes_the_final_version_and_stops_streaming_at_the_file() {
    let registry = TestRegistry::start();
    let first = b"the first file of a big layer\n".to_vec();
    let big_layer = TestLayer::new(
        &[
            TarItem::File("data/first.txt".into(), first.clone(), 0o644),
            TarItem::File("data/rest.bin".into(), noise(7, 8 << 20), 0o644),
            TarItem::File("etc/app.conf".into(), b"version=1\n".to_vec(), 0o644),
            TarItem::Hardlink("data/again.txt".into(), "data/first.txt".into()),
        ],
        Compression::Gzip,
        "ADD data /",
    );
    let top = TestLayer::new(
        &[
            TarItem::File("etc/app.conf".into(), b"version=2\n".to_vec(), 0o644),
            TarItem::Symlink("etc/link".into(), "app.conf".into()),
            TarItem::File("data/.wh.gone.txt".into(), Vec::new(), 0o644),
        ],
        Compression::Zstd,
        "RUN configure",
    );
    let pushed = push_image(
        &registry,
        "carve/app",
        "v1",
        ImageFormat::Oci,
        &[big_layer, top],
    );
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();

    let (code, _, stderr) = carve(dir, &[&pushed.reference, "data/first.txt"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(dir.join("first.txt")).expect("written"),
        first
    );
    // Without a listing, only --first may stop at the file (the layer could repeat it).
    let (code, stdout, stderr) = carve(
        dir,
        &[&pushed.reference, "data/first.txt", "--first", "-o", "-"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, first);
    let share = share_fetched(&stderr);
    assert!(share < 5.0, "streamed only up to the file: {stderr}");

    let (code, stdout, stderr) = carve(dir, &[&pushed.reference, "etc/app.conf", "-o", "-"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, b"version=2\n", "the newest layer's version");
    let (code, _, stderr) = carve(dir, &[&pushed.reference, "data/again.txt", "-o", "again"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(dir.join("again")).expect("written"),
        first,
        "a hardlink's data"
    );

    let before: Vec<_> = std::fs::read_dir(dir).expect("dir").collect();
    for (path, expected_code, message) in [
        ("etc/link", 3, "a symlink to app.conf"),
        ("data", 3, "a directory"),
        ("nothing/here", 4, "not in the image"),
    ] {
        let (code, _, stderr) = carve(dir, &[&pushed.reference, path, "-o", "out.bin"]);
        assert_eq!(code, expected_code, "{path}: {stderr}");
        assert!(stderr.contains(message), "{path}: {stderr}");
    }
    let after: Vec<_> = std::fs::read_dir(dir).expect("dir").collect();
    assert_eq!(before.len(), after.len(), "a failed carve writes nothing");
    assert!(!dir.join("out.bin").exists());
}

#[test]
fn carving_from_a_removed_path_says_which_layer_removed_it() {
    let registry = TestRegistry::start();
    let layers = vec![
        TestLayer::new(
            &[TarItem::File(
                "data/gone.txt".into(),
                b"old".to_vec(),
                0o644,
            )],
            Compression::Gzip,
            "ADD",
        ),
        TestLayer::new(
            &[TarItem::File("data/.wh.gone.txt".into(), Vec::new(), 0o644)],
            Compression::Gzip,
            "RUN rm",
        ),
    ];
    let pushed = push_image(&registry, "carve/removed", "v1", ImageFormat::Oci, &layers);
    let work = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = carve(work.path(), &[&pushed.reference, "data/gone.txt"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("removed by layer 1"), "{stderr}");
}

#[test]
fn a_table_of_contents_layer_gives_only_the_files_chunks() {
    let big = noise(11, 3 << 20);
    let mut items = vec![TarItem::File(
        "lib/before.bin".into(),
        noise(3, 2 << 20),
        0o644,
    )];
    items.push(TarItem::File("lib/wanted.so".into(), big.clone(), 0o755));
    items.push(TarItem::File(
        "lib/after.bin".into(),
        noise(5, 2 << 20),
        0o644,
    ));
    let (tar, _) = build_tar(&items);
    let built = estargz::build(&tar, false, 1 << 20);
    let registry = TestRegistry::start();
    let reference = common::images::push_estargz_layer(&registry, "carve/toc", &built);
    let work = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = carve(
        work.path(),
        &[&reference, "lib/wanted.so", "-o", "wanted.so"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("its chunks only"), "{stderr}");
    assert_eq!(
        std::fs::read(work.path().join("wanted.so")).expect("written"),
        big
    );
    let share = share_fetched(&stderr);
    assert!(share < 50.0, "only the file's chunks: {stderr}");
}

/// Runs `layerslayer carve ARGS` in `dir` with its listing cache under `cache`.
fn carve_cached(dir: &Path, cache: &Path, args: &[&str]) -> (i32, Vec<u8>, String) {
    common::run_for_output(
        common::layerslayer_command()
            .env("XDG_CACHE_HOME", cache)
            .current_dir(dir)
            .arg("carve")
            .args(args),
    )
}

#[test]
fn a_layer_that_repeats_a_path_gives_its_last_entry_and_first_gives_the_first() {
    let registry = TestRegistry::start();
    let big = 24 << 20;
    let layer = TestLayer::new(
        &[
            TarItem::File("etc/app.conf".into(), b"version=1\n".to_vec(), 0o644),
            TarItem::File("etc/app.conf".into(), b"version=2\n".to_vec(), 0o600),
            TarItem::File("data/big.bin".into(), noise(21, big), 0o644),
        ],
        Compression::Gzip,
        "ADD rootfs /",
    );
    assert!(layer.blob.len() > big, "the layer is incompressible");
    let pushed = push_image(&registry, "carve/repeat", "v1", ImageFormat::Oci, &[layer]);
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    let image = pushed.reference.as_str();

    // Without a cache: the whole layer is streamed for the last version; --first stops early.
    let (code, stdout, stderr) = carve(dir, &[image, "etc/app.conf", "-o", "-"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, b"version=2\n", "the last entry wins: {stderr}");
    assert!(stderr.contains("whole layer streamed"), "{stderr}");
    let (code, stdout, stderr) = carve(dir, &[image, "etc/app.conf", "--first", "-o", "-"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, b"version=1\n", "{stderr}");
    assert!(share_fetched(&stderr) <= 1.0, "{stderr}");

    // With a cache: the first carve streams the layer and stores its listing; the next one
    // counts the entries there and stops right after the last one's data.
    let cache = dir.join("cache");
    let (code, stdout, stderr) = carve_cached(dir, &cache, &[image, "etc/app.conf", "-o", "-"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, b"version=2\n", "{stderr}");
    assert!(share_fetched(&stderr) > 99.0, "{stderr}");
    let (code, stdout, stderr) = carve_cached(dir, &cache, &[image, "etc/app.conf", "-o", "-"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, b"version=2\n", "{stderr}");
    // The first carve also recorded the layer's gzip index (not the isal build's decoder).
    let how = if cfg!(feature = "isal") {
        "as the layer's listing gives it"
    } else {
        "through the layer's cached index"
    };
    assert!(stderr.contains(how), "{stderr}");
    let share = share_fetched(&stderr);
    assert!(share <= 1.0, "at most 1% of a 24 MiB layer: {stderr}");
    let (code, stdout, stderr) =
        carve_cached(dir, &cache, &[image, "etc/app.conf", "--first", "-o", "-"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, b"version=1\n", "{stderr}");

    // The listing the carve stored is the one a peek replays.
    let output = common::layerslayer_command()
        .env("XDG_CACHE_HOME", &cache)
        .args(["peek", image, "--json", "-q"])
        .output()
        .expect("peek");
    let peeked: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let layer = &peeked["layers"][0];
    assert_eq!(layer["listed_from"], "cache", "{layer}");
    assert_eq!(
        layer["entries"].as_array().map(Vec::len),
        Some(3),
        "{layer}"
    );
}

#[test]
fn carve_layer_writes_that_layers_version_or_names_the_layers_that_hold_it() {
    let registry = TestRegistry::start();
    let layers = vec![
        TestLayer::new(
            &[TarItem::File(
                "etc/app.conf".into(),
                b"base\n".to_vec(),
                0o644,
            )],
            Compression::Gzip,
            "ADD base /",
        ),
        TestLayer::new(
            &[TarItem::File("usr/other".into(), b"x".to_vec(), 0o644)],
            Compression::Zstd,
            "RUN other",
        ),
        TestLayer::new(
            &[
                TarItem::File("etc/app.conf".into(), b"top, first\n".to_vec(), 0o644),
                TarItem::File("etc/app.conf".into(), b"top, last\n".to_vec(), 0o644),
            ],
            Compression::Gzip,
            "RUN configure",
        ),
    ];
    let pushed = push_image(&registry, "carve/layer", "v1", ImageFormat::Oci, &layers);
    let work = tempfile::tempdir().expect("tempdir");
    let image = pushed.reference.as_str();
    for (layer, expected) in [("0", &b"base\n"[..]), ("2", b"top, last\n")] {
        let (code, stdout, stderr) = carve(
            work.path(),
            &[image, "/etc/app.conf", "--layer", layer, "-o", "-"],
        );
        assert_eq!(code, 0, "layer {layer}: {stderr}");
        assert_eq!(stdout, expected, "layer {layer}: {stderr}");
    }
    let (code, stdout, stderr) = carve(
        work.path(),
        &[image, "etc/app.conf", "--layer", "1", "-o", "out.conf"],
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("layer 1 does not hold etc/app.conf; layers 0, 2 hold it"),
        "{stderr}"
    );
    assert!(!work.path().join("out.conf").exists(), "nothing written");
    let (code, _, stderr) = carve(work.path(), &[image, "etc/app.conf", "--layer", "3"]);
    assert_eq!(code, 3, "{stderr}");
}
