//! `index` of whole registries (issue 16): about 30 images sharing a few base layers walked
//! through the catalog, every platform of a multi-platform index, exact result sets; a run
//! killed mid-way resumes and lists only what it had not; a repository answering 401 is
//! reported and skipped (exit 7); two concurrent runs leave one sound, complete index.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::images::{push_image, push_platforms};
use common::proxy::RegistryProxy;
use common::{ImageFormat, TarItem, TestLayer, TestRegistry};

// The same tar items, layers, runs and index as the 8-image tests.
use super::search::{file, index_of, layer, run, stderr};
use serde_json::Value;

/// One hit: (repo:tag, platform, layer index, path, in_final).
type HitRow = (String, Option<String>, u64, String, bool);

/// `search ARGS --json`: the exit code and the hits.
fn search(cache_home: &Path, args: &[&str]) -> (i32, BTreeSet<HitRow>) {
    let mut all = vec!["search", "--json"];
    all.extend_from_slice(args);
    let output = run(cache_home, &all);
    let hits: Vec<Value> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", stderr(&output)));
    let set = hits
        .iter()
        .map(|hit| {
            let image = hit["image"].as_str().expect("image");
            (
                image.rsplit('/').next().expect("tag").to_owned(),
                hit["platform"].as_str().map(str::to_owned),
                hit["layer_index"].as_u64().expect("layer_index"),
                hit["path"].as_str().expect("path").to_owned(),
                hit["in_final"].as_bool().expect("in_final"),
            )
        })
        .collect();
    (output.status.code().expect("exit code"), set)
}

/// Files set aside as damaged, and temporary files left in the index.
fn leftovers(cache_home: &Path) -> Vec<String> {
    ["layers", "images"]
        .iter()
        .flat_map(|sub| {
            std::fs::read_dir(cache_home.join("layerslayer/search").join(sub)).expect("dir")
        })
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".damaged") || name.starts_with(".tmp"))
        .collect()
}

/// The images the test registry holds, as the tests model them.
struct Images {
    /// `repo:tag` → its layers, base first.
    by_tag: BTreeMap<String, Vec<TestLayer>>,
    /// Every distinct layer digest.
    distinct: BTreeSet<String>,
}

/// Shared layers: two bases, three runtimes, a whiteout; one own layer per image.
struct Shared {
    debian: TestLayer,
    alpine: TestLayer,
    ssl: TestLayer,
    python: TestLayer,
    log4j: TestLayer,
    remove_key: TestLayer,
}

fn shared() -> Shared {
    Shared {
        debian: layer(
            &[
                TarItem::Dir("etc"),
                file("etc/os-release", 20),
                file("etc/leaked.key", 64),
                TarItem::Dir("usr"),
                TarItem::Dir("usr/lib"),
                file("usr/lib/libc.so.6", 300),
                file("usr/lib/libcrypto.a", 50),
            ],
            "debian base",
        ),
        alpine: layer(
            &[
                TarItem::Dir("lib"),
                file("lib/libz.so.1", 90),
                file("etc/alpine-release", 5),
            ],
            "alpine base",
        ),
        ssl: layer(&[file("usr/lib/libssl.so.3", 400)], "ssl"),
        python: layer(&[file("usr/lib/python3/os.py", 80)], "python"),
        log4j: layer(&[file("opt/app/log4j-core-2.14.1.jar", 700)], "log4j"),
        remove_key: layer(&[file("etc/.wh.leaked.key", 0)], "rm key"),
    }
}

const REPOSITORIES: [&str; 7] = ["api", "batch", "cron", "edge", "jobs", "web", "worker"];

/// Pushes `count` images, `REPOSITORIES[i % 7]:(i / 7 + 1)`: a base (alpine for every fourth,
/// else debian), ssl for every third, python for every other, log4j for i % 5 == 1, the key's
/// whiteout for debian images with i % 6 == 2, and an own layer `app/I/main.py`.
fn push_images(registry: &TestRegistry, count: usize, layers: &Shared) -> Images {
    let mut by_tag = BTreeMap::new();
    for i in 0..count {
        let debian = i % 4 != 3;
        let mut image = vec![if debian {
            layers.debian.clone()
        } else {
            layers.alpine.clone()
        }];
        if i % 3 == 0 {
            image.push(layers.ssl.clone());
        }
        if i % 2 == 0 {
            image.push(layers.python.clone());
        }
        if i % 5 == 1 {
            image.push(layers.log4j.clone());
        }
        if debian && i % 6 == 2 {
            image.push(layers.remove_key.clone());
        }
        image.push(layer(&[file(&format!("app/{i}/main.py"), 10 + i)], "app"));
        let (repo, tag) = (REPOSITORIES[i % REPOSITORIES.len()], i / 7 + 1);
        push_image(registry, repo, &tag.to_string(), ImageFormat::Oci, &image);
        by_tag.insert(format!("{repo}:{tag}"), image);
    }
    let distinct = by_tag
        .values()
        .flatten()
        .map(|l| l.digest.clone())
        .collect();
    Images { by_tag, distinct }
}

/// Every (image, layer index) where `layer` sits.
fn where_is<'a>(
    images: &'a Images,
    layer: &'a TestLayer,
) -> impl Iterator<Item = (String, u64)> + 'a {
    images.by_tag.iter().filter_map(move |(tag, layers)| {
        let at = layers.iter().position(|l| l.digest == layer.digest)?;
        Some((tag.clone(), at as u64))
    })
}

#[test]
fn thirty_images_and_a_multi_platform_index_are_searched_through_the_catalog() {
    let registry = TestRegistry::start();
    let layers = shared();
    let images = push_images(&registry, 28, &layers);
    // A two-platform index: amd64 on debian, arm64/v8 on alpine, each with its own binary.
    let amd64 = layer(&[file("opt/tool/amd64/tool", 30)], "amd64 tool");
    let arm64 = layer(&[file("opt/tool/arm64/tool", 31)], "arm64 tool");
    push_platforms(
        &registry,
        "multi",
        "1",
        &[
            (
                &[layers.debian.clone(), amd64.clone()],
                "linux",
                "amd64",
                None,
            ),
            (
                &[layers.alpine.clone(), arm64.clone()],
                "linux",
                "arm64",
                Some("v8"),
            ),
        ],
    );
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let started = std::time::Instant::now();
    let output = run(home, &["index", &registry.addr()]);
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // 28 images, the index's two platforms, and the two platform images under their own tags.
    assert!(
        stderr(&output).contains("done: 8 repositories; images: 32 indexed, 0 of them already"),
        "{}",
        stderr(&output)
    );
    assert!(took < Duration::from_secs(60), "indexing took {took:?}");

    // Each shared layer's rows are stored once.
    let index = index_of(home);
    let mut notices = Vec::new();
    assert_eq!(index.images(&mut notices).expect("images").len(), 32);
    assert_eq!(
        index.layer_count().expect("count"),
        images.distinct.len() + 2,
        "28 images' distinct layers and the two tools"
    );
    assert!(notices.is_empty(), "{notices:?}");

    // A path only some images hold.
    let (code, hits) = search(home, &["libssl.so"]);
    assert_eq!(code, 0);
    let expected: BTreeSet<HitRow> = where_is(&images, &layers.ssl)
        .map(|(tag, at)| (tag, None, at, "usr/lib/libssl.so.3".to_owned(), true))
        .collect();
    assert_eq!(expected.len(), 10);
    assert_eq!(hits, expected);

    // A path a later layer removes: found, marked not in the final filesystem there.
    let (code, hits) = search(home, &["leaked.key"]);
    assert_eq!(code, 0);
    let mut expected = BTreeSet::new();
    for (tag, _) in where_is(&images, &layers.debian) {
        let removed = where_is(&images, &layers.remove_key).find(|(t, _)| *t == tag);
        expected.insert((
            tag.clone(),
            None,
            0,
            "etc/leaked.key".to_owned(),
            removed.is_none(),
        ));
        if let Some((_, at)) = removed {
            expected.insert((tag, None, at, "etc/.wh.leaked.key".to_owned(), false));
        }
    }
    for platform in [Some("linux/amd64".to_owned()), None] {
        let tag = if platform.is_some() {
            "multi:1"
        } else {
            "multi:amd64"
        };
        expected.insert((
            tag.to_owned(),
            platform,
            0,
            "etc/leaked.key".to_owned(),
            true,
        ));
    }
    assert_eq!(
        hits.iter().filter(|h| !h.4).count(),
        2 * where_is(&images, &layers.remove_key).count()
    );
    assert_eq!(hits, expected);

    // A glob across directories.
    let (code, hits) = search(home, &["--glob", "**/lib*.so*"]);
    assert_eq!(code, 0);
    let found: BTreeSet<(String, String)> = hits.into_iter().map(|h| (h.0, h.3)).collect();
    let mut expected = BTreeSet::new();
    for (base, path) in [
        (&layers.debian, "usr/lib/libc.so.6"),
        (&layers.alpine, "lib/libz.so.1"),
        (&layers.ssl, "usr/lib/libssl.so.3"),
    ] {
        for (tag, _) in where_is(&images, base) {
            expected.insert((tag, path.to_owned()));
        }
    }
    for (tag, path) in [
        ("multi:1", "usr/lib/libc.so.6"),
        ("multi:1", "lib/libz.so.1"),
        ("multi:amd64", "usr/lib/libc.so.6"),
        ("multi:arm64v8", "lib/libz.so.1"),
    ] {
        expected.insert((tag.to_owned(), path.to_owned()));
    }
    assert_eq!(found, expected);

    // A regex: the own layers of images 10 to 19, and nothing else.
    let (code, hits) = search(home, &["--regex", r"^app/1[0-9]/main\.py$"]);
    assert_eq!(code, 0);
    let expected: BTreeSet<HitRow> = (10..20)
        .map(|i| {
            let tag = format!("{}:{}", REPOSITORIES[i % 7], i / 7 + 1);
            let at = images.by_tag[&tag].len() as u64 - 1;
            (tag, None, at, format!("app/{i}/main.py"), true)
        })
        .collect();
    assert_eq!(hits, expected);

    // Every platform of the index is recorded, and its hits carry the platform.
    let (code, hits) = search(home, &["--glob", "opt/tool/*/tool"]);
    assert_eq!(code, 0);
    let expected = BTreeSet::from([
        (
            "multi:1".to_owned(),
            Some("linux/amd64".to_owned()),
            1,
            "opt/tool/amd64/tool".to_owned(),
            true,
        ),
        (
            "multi:1".to_owned(),
            Some("linux/arm64/v8".to_owned()),
            1,
            "opt/tool/arm64/tool".to_owned(),
            true,
        ),
        (
            "multi:amd64".to_owned(),
            None,
            1,
            "opt/tool/amd64/tool".to_owned(),
            true,
        ),
        (
            "multi:arm64v8".to_owned(),
            None,
            1,
            "opt/tool/arm64/tool".to_owned(),
            true,
        ),
    ]);
    assert_eq!(hits, expected);

    // `--platform` indexes only that one; a second run has nothing left to do.
    let other = tempfile::tempdir().expect("tempdir");
    let multi = format!("{}/multi:1", registry.addr());
    let output = run(
        other.path(),
        &["index", "--platform", "linux/arm64", &multi],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (_, hits) = search(other.path(), &["opt/tool"]);
    let platforms: BTreeSet<_> = hits.into_iter().map(|h| h.1).collect();
    assert_eq!(
        platforms,
        BTreeSet::from([Some("linux/arm64/v8".to_owned())])
    );
    let output = run(home, &["index", &registry.addr()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("images: 32 indexed, 32 of them already; layers: 0 listed"),
        "{}",
        stderr(&output)
    );
}

/// The layer digests a run fetched blobs of, from the proxy's log since `from`.
fn blobs_fetched(proxy: &RegistryProxy, from: usize) -> BTreeSet<String> {
    proxy.served()[from..]
        .iter()
        .filter(|s| s.method == "GET" && s.status < 300)
        .filter_map(|s| s.path.split_once("/blobs/").map(|(_, d)| d.to_owned()))
        .collect()
}

#[test]
fn an_index_run_killed_mid_way_resumes_and_lists_only_what_it_had_not() {
    let registry = TestRegistry::start();
    let base = layer(&[TarItem::Dir("etc"), file("etc/os-release", 20)], "base");
    let own: Vec<TestLayer> = (0..8)
        .map(|i| layer(&[file(&format!("srv/{i}/app.bin"), 100 + i)], "own"))
        .collect();
    for (i, own) in own.iter().enumerate() {
        let image = [base.clone(), own.clone()];
        push_image(&registry, &format!("r{i}"), "1", ImageFormat::Oci, &image);
    }
    // The catalog lists r0…r7 in order; r5's own layer is held until the run is killed.
    let proxy = RegistryProxy::start(&registry.addr(), &[], &[own[5].digest.clone()]);
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let mut child = std::process::Command::new(common::layerslayer_binary())
        .env("XDG_CACHE_HOME", home)
        .args(["index", "--jobs", "2", &proxy.addr()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn layerslayer");
    let (lines, heard) = mpsc::channel();
    let pipe = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            lines.send(line).ok();
        }
    });
    // Progress shows five images done, and the sixth is stuck on its blob: kill it there.
    let mut done = Vec::new();
    while done.len() < 5 {
        let line = heard
            .recv_timeout(Duration::from_secs(60))
            .expect("a progress line");
        if line.contains("] indexed ") {
            done.push(line);
        }
    }
    proxy.wait_until_held();
    child.kill().expect("kill");
    child.wait().expect("wait");
    reader.join().expect("reader");
    assert!(done[4].starts_with("[5/8] indexed"), "{done:?}");

    // What was written is a usable index: the five images, nothing damaged.
    let index = index_of(home);
    let mut notices = Vec::new();
    let recorded: BTreeSet<String> = index
        .images(&mut notices)
        .expect("images")
        .into_iter()
        .map(|image| image.reference.rsplit('/').next().expect("tag").to_owned())
        .collect();
    assert_eq!(
        recorded,
        (0..5).map(|i| format!("r{i}:1")).collect::<BTreeSet<_>>()
    );
    let (code, hits) = search(home, &["app.bin"]);
    assert_eq!(code, 0);
    assert_eq!(hits.len(), 5);
    assert!(notices.is_empty(), "{notices:?}");
    assert!(leftovers(home).iter().all(|f| !f.ends_with(".damaged")));

    // Run again: the five are left alone, only r5…r7's own layers are fetched.
    proxy.release();
    let from = proxy.served().len();
    let output = run(home, &["index", &proxy.addr()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output)
            .contains("images: 8 indexed, 5 of them already; layers: 3 listed, 13 already indexed"),
        "{}",
        stderr(&output)
    );
    let layers_fetched: BTreeSet<String> = blobs_fetched(&proxy, from)
        .into_iter()
        .filter(|digest| *digest == base.digest || own.iter().any(|l| l.digest == *digest))
        .collect();
    assert_eq!(
        layers_fetched,
        own[5..]
            .iter()
            .map(|l| l.digest.clone())
            .collect::<BTreeSet<_>>()
    );
    let (_, hits) = search(home, &["app.bin"]);
    assert_eq!(hits.len(), 8);
}

#[test]
fn a_repository_answering_401_is_reported_and_skipped_and_the_rest_indexed() {
    let registry = TestRegistry::start();
    let base = layer(&[TarItem::Dir("etc"), file("etc/os-release", 20)], "base");
    for repo in ["open", "secret", "zoo"] {
        let own = layer(&[file(&format!("srv/{repo}.bin"), 10)], "own");
        push_image(&registry, repo, "1", ImageFormat::Oci, &[base.clone(), own]);
    }
    let proxy = RegistryProxy::start(&registry.addr(), &["secret"], &[]);
    let home = tempfile::tempdir().expect("tempdir");
    let output = run(home.path(), &["index", "--quiet", &proxy.addr()]);
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains(&format!("error: {}/secret", proxy.addr())),
        "the refused repository is named: {said}"
    );
    assert_eq!(said.matches("error:").count(), 1, "{said}");
    let (code, hits) = search(home.path(), &["srv/"]);
    assert_eq!(code, 0);
    let images: BTreeSet<String> = hits.into_iter().map(|h| h.0).collect();
    assert_eq!(
        images,
        BTreeSet::from(["open:1".to_owned(), "zoo:1".to_owned()])
    );

    // Named directly, among others: the same.
    let output = run(
        home.path(),
        &[
            "index",
            "--quiet",
            &format!("{}/secret:1", proxy.addr()),
            &format!("{}/open:1", proxy.addr()),
        ],
    );
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    assert!(stderr(&output).contains("secret:1"), "{}", stderr(&output));
}

#[test]
fn two_concurrent_index_runs_leave_one_sound_complete_index() {
    let registry = TestRegistry::start();
    let layers = shared();
    let images = push_images(&registry, 14, &layers);
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let spawn = || {
        std::process::Command::new(common::layerslayer_binary())
            .env("XDG_CACHE_HOME", home)
            .args(["index", "--quiet", &registry.addr()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn layerslayer")
    };
    let (first, second) = (spawn(), spawn());
    for child in [first, second] {
        let output = child.wait_with_output().expect("wait");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    let index = index_of(home);
    let mut notices = Vec::new();
    assert_eq!(index.images(&mut notices).expect("images").len(), 14);
    assert_eq!(index.layer_count().expect("count"), images.distinct.len());
    assert!(notices.is_empty(), "{notices:?}");
    assert_eq!(leftovers(home), Vec::<String>::new());
    let (code, hits) = search(home, &["main.py"]);
    assert_eq!(code, 0);
    assert_eq!(hits.len(), 14);
    let (_, hits) = search(home, &["libssl.so"]);
    assert_eq!(hits.len(), where_is(&images, &layers.ssl).count());
    // Every layer file reads back whole.
    for digest in &images.distinct {
        let rows = index.layer_rows(digest, &mut notices).expect("read");
        assert!(rows.is_some_and(|r| !r.is_empty()), "{digest}");
    }
    assert!(notices.is_empty(), "{notices:?}");
}

#[test]
fn index_of_estargz_images_reads_their_tables_of_contents_only() {
    let registry = TestRegistry::start();
    let mut blob_bytes = 0;
    for i in 0..4u64 {
        let items = vec![
            TarItem::Dir("usr"),
            TarItem::File(
                format!("usr/lib/lib{i}.so"),
                common::images::noise(i + 1, 400_000),
                0o755,
            ),
            TarItem::File(
                format!("usr/share/{i}.dat"),
                common::images::noise(i + 9, 200_000),
                0o644,
            ),
        ];
        let (tar, _) = common::images::build_tar(&items);
        let built = common::estargz::build(&tar, false, 65_536);
        blob_bytes += built.blob.len() as u64;
        common::images::push_estargz_layer(&registry, &format!("e{i}"), &built);
    }
    let proxy = RegistryProxy::start(&registry.addr(), &[], &[]);
    let home = tempfile::tempdir().expect("tempdir");
    let output = run(home.path(), &["index", "--quiet", &proxy.addr()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let sent: u64 = proxy.served().iter().map(|s| s.bytes).sum();
    assert!(
        sent * 100 <= blob_bytes * 3,
        "the registry sent {sent} bytes for {blob_bytes} bytes of eStargz blobs"
    );
    let (code, hits) = search(home.path(), &["--glob", "usr/lib/*.so"]);
    assert_eq!(code, 0);
    assert_eq!(hits.len(), 4);
}
