//! `layerslayer carve`: the final filesystem's version of one file, written atomically to the
//! chosen path only, fetching as little as it can: a streamed layer only up to the file, a
//! layer with a table of contents only the file's chunks.

use crate::common;

use std::path::Path;

use common::estargz;
use common::images::{build_tar, noise};
use common::{Compression, ImageFormat, TarItem, TestLayer, TestRegistry, push_image};

/// Runs `layerslayer carve ARGS` in `dir`; returns exit code, stdout and stderr.
fn carve(dir: &Path, args: &[&str]) -> (i32, Vec<u8>, String) {
    let output = common::layerslayer_command()
        .current_dir(dir)
        .arg("carve")
        .args(args)
        .output()
        .expect("run layerslayer");
    (
        output.status.code().unwrap_or(-1),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
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
