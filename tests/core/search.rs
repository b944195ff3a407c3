//! `index` and `search` against a real registry: 8 images pushed by the test, most sharing a
//! base layer; exact result sets for a substring, a removed path, a glob and a regex; shared
//! layers stored once; a damaged index rebuilt; evicted listings never found; exit codes.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use common::images::push_image;
use common::{Compression, ImageFormat, TarItem, TestLayer, TestRegistry};
use layerslayer::layer::cache::{DEFAULT_MAX_BYTES, ListingCache};
use layerslayer::search::SearchIndex;
use serde_json::Value;

pub(super) fn file(path: &str, size: usize) -> TarItem {
    TarItem::File(path.to_owned(), vec![b'x'; size], 0o644)
}

pub(super) fn layer(items: &[TarItem], name: &str) -> TestLayer {
    TestLayer::new(items, Compression::Gzip, name)
}

/// One hit as the tests compare it: (image tag, layer index, path, kind, in_final).
type HitRow = (String, u64, String, String, bool);

pub(super) fn run(cache_home: &Path, args: &[&str]) -> Output {
    let mut command = common::layerslayer_command();
    command.env("XDG_CACHE_HOME", cache_home).args(args);
    command.output().expect("run layerslayer")
}

pub(super) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `search ARGS --json`: the exit code and the hits as (image tag, layer index, path, kind,
/// in_final).
fn search(cache_home: &Path, args: &[&str]) -> (i32, BTreeSet<HitRow>) {
    let mut all = vec!["search", "--json"];
    all.extend_from_slice(args);
    let output = run(cache_home, &all);
    let code = output.status.code().expect("exit code");
    let hits: Vec<Value> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", stderr(&output)));
    let set = hits
        .iter()
        .map(|hit| {
            let image = hit["image"].as_str().expect("image");
            (
                image.rsplit('/').next().expect("tag").to_owned(),
                hit["layer_index"].as_u64().expect("layer_index"),
                hit["path"].as_str().expect("path").to_owned(),
                hit["kind"].as_str().expect("kind").to_owned(),
                hit["in_final"].as_bool().expect("in_final"),
            )
        })
        .collect();
    (code, set)
}

fn hit(image: &str, layer: u64, path: &str, kind: &str, in_final: bool) -> HitRow {
    (
        image.to_owned(),
        layer,
        path.to_owned(),
        kind.to_owned(),
        in_final,
    )
}

struct Fixture {
    _registry: TestRegistry,
    cache_home: tempfile::TempDir,
    references: Vec<String>,
    base: TestLayer,
    ssl: TestLayer,
    distinct_layers: usize,
}

/// Pushes the images and indexes them all with one `index` run.
fn indexed_registry() -> Fixture {
    let registry = TestRegistry::start();
    let base = layer(
        &[
            TarItem::Dir("etc"),
            file("etc/os-release", 20),
            file("etc/leaked.key", 64),
            TarItem::Dir("usr"),
            TarItem::Dir("usr/lib"),
            file("usr/lib/libc.so.6", 300),
            file("usr/lib/libcrypto.a", 50),
        ],
        "base",
    );
    let other_base = layer(
        &[
            TarItem::Dir("lib"),
            file("lib/libz.so.1", 90),
            file("etc/alpine-release", 5),
        ],
        "other base",
    );
    let ssl = layer(&[file("usr/lib/libssl.so.3", 400)], "ssl");
    let log4j = layer(&[file("opt/app/log4j-core-2.14.1.jar", 700)], "log4j");
    let remove_key = layer(&[file("etc/.wh.leaked.key", 0)], "rm key");
    let app = |i: usize| layer(&[file(&format!("app/{i}/main.py"), 10 + i)], "app");
    let images: Vec<(&str, Vec<&TestLayer>)> = vec![
        ("a:1", vec![&base]),
        ("a:2", vec![&base, &ssl]),
        ("b:1", vec![&base, &ssl, &remove_key]),
        ("b:2", vec![&base, &log4j]),
        ("c:1", vec![&other_base]),
        ("c:2", vec![&other_base, &ssl]),
        ("d:1", vec![&base, &ssl, &log4j]),
        ("d:2", vec![&base, &remove_key]),
    ];
    let mut references = Vec::new();
    for (i, (name, layers)) in images.iter().enumerate() {
        let (repo, tag) = name.split_once(':').expect("repo:tag");
        let mut layers: Vec<TestLayer> = layers.iter().map(|l| (*l).clone()).collect();
        layers.push(app(i));
        references.push(push_image(&registry, repo, tag, ImageFormat::Oci, &layers).reference);
    }
    let cache_home = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["index", "--quiet"];
    args.extend(references.iter().map(String::as_str));
    let output = run(cache_home.path(), &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    Fixture {
        _registry: registry,
        cache_home,
        references,
        base,
        ssl,
        // base, other base, ssl, log4j, remove_key and 8 app layers.
        distinct_layers: 13,
    }
}

pub(super) fn index_of(cache_home: &Path) -> SearchIndex {
    let root = cache_home.join("layerslayer");
    let cache = ListingCache::open(root.join("listings"), DEFAULT_MAX_BYTES).expect("cache");
    SearchIndex::open(root.join("search"), cache).expect("index")
}

#[test]
fn searches_find_exact_sets_across_images_that_share_layers() {
    let fixture = indexed_registry();
    let home = fixture.cache_home.path();

    // Each shared layer's rows are stored once.
    let index = index_of(home);
    assert_eq!(index.layer_count().expect("count"), fixture.distinct_layers);
    let mut notices = Vec::new();
    let base_rows = index
        .layer_rows(&fixture.base.digest, &mut notices)
        .expect("read")
        .expect("indexed");
    assert_eq!(base_rows.len(), fixture.base.expected.len());
    assert_eq!(index.images(&mut notices).expect("images").len(), 8);
    assert!(notices.is_empty(), "{notices:?}");

    // A substring only some images hold.
    let (code, hits) = search(home, &["libssl.so"]);
    assert_eq!(code, 0);
    let expected: BTreeSet<_> = [("a:2", 1), ("b:1", 1), ("c:2", 1), ("d:1", 1)]
        .into_iter()
        .map(|(image, layer)| hit(image, layer, "usr/lib/libssl.so.3", "file", true))
        .collect();
    assert_eq!(hits, expected);

    // A path a later layer removes: found, not in the final filesystem where it is removed.
    let (code, hits) = search(home, &["leaked.key"]);
    assert_eq!(code, 0);
    let mut expected = BTreeSet::new();
    for image in ["a:1", "a:2", "b:2", "d:1"] {
        expected.insert(hit(image, 0, "etc/leaked.key", "file", true));
    }
    expected.insert(hit("b:1", 0, "etc/leaked.key", "file", false));
    expected.insert(hit("b:1", 2, "etc/.wh.leaked.key", "whiteout", false));
    expected.insert(hit("d:2", 0, "etc/leaked.key", "file", false));
    expected.insert(hit("d:2", 1, "etc/.wh.leaked.key", "whiteout", false));
    assert_eq!(hits, expected);

    // A glob: `*` stays in one component, `**/` spans any (libcrypto.a is no shared object).
    let (code, hits) = search(home, &["--glob", "**/lib*.so*"]);
    assert_eq!(code, 0);
    let found: BTreeSet<(String, String)> = hits
        .into_iter()
        .map(|(image, _, path, _, _)| (image, path))
        .collect();
    let mut expected = BTreeSet::new();
    for image in ["a:1", "a:2", "b:1", "b:2", "d:1", "d:2"] {
        expected.insert((image.to_owned(), "usr/lib/libc.so.6".to_owned()));
    }
    for image in ["a:2", "b:1", "c:2", "d:1"] {
        expected.insert((image.to_owned(), "usr/lib/libssl.so.3".to_owned()));
    }
    for image in ["c:1", "c:2"] {
        expected.insert((image.to_owned(), "lib/libz.so.1".to_owned()));
    }
    assert_eq!(found, expected);

    // A regex, and a filter on the images.
    let (code, hits) = search(home, &["--regex", r"log4j-core-2\.1[0-6]\."]);
    assert_eq!(code, 0);
    let images: BTreeSet<String> = hits.into_iter().map(|h| h.0).collect();
    assert_eq!(images, BTreeSet::from(["b:2".to_owned(), "d:1".to_owned()]));
    let (code, hits) = search(home, &["libssl", "--image", "/c:"]);
    assert_eq!(code, 0);
    assert_eq!(
        hits,
        BTreeSet::from([hit("c:2", 1, "usr/lib/libssl.so.3", "file", true)])
    );

    // No hits: exit 1 and an empty array. A bad pattern: exit 3 and why.
    assert_eq!(search(home, &["no-such-file.so"]), (1, BTreeSet::new()));
    let output = run(home, &["search", "--regex", "lib(ssl"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("bad regex"), "{}", stderr(&output));
    let output = run(home, &["search", "--glob", "etc/[abc"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("never closed"),
        "{}",
        stderr(&output)
    );

    // Indexing again lists nothing: every layer is indexed.
    let output = run(home, &["index", &fixture.references[6]]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("4 layers, 0 listed now"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_damaged_index_is_rebuilt_and_evicted_listings_are_never_found() {
    let fixture = indexed_registry();
    let home = fixture.cache_home.path();
    let layers = home.join("layerslayer/search/layers");
    let hex = |digest: &str| digest.replace(':', "-");

    // Flip a byte in the shared base layer's rows.
    let base_file = layers.join(format!("{}.paths", hex(&fixture.base.digest)));
    let mut bytes = std::fs::read(&base_file).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&base_file, &bytes).expect("write");
    let output = run(home, &["search", "libc.so", "--csv"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("damaged") && stderr(&output).contains("rebuilt"),
        "{}",
        stderr(&output)
    );
    let csv = String::from_utf8(output.stdout).expect("utf-8");
    assert_eq!(csv.lines().count(), 1 + 6, "header + six images: {csv}");
    assert!(
        layers
            .join(format!("{}.paths.damaged", hex(&fixture.base.digest)))
            .exists()
    );
    let (_, hits) = search(home, &["libc.so"]);
    assert_eq!(hits.len(), 6, "the rebuilt rows answer again");

    // A damaged image record is set aside, named, and the others still answer.
    let images = home.join("layerslayer/search/images");
    let record = std::fs::read_dir(&images)
        .expect("images")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("/a:1\"")))
        .expect("a:1's record");
    std::fs::write(&record, b"{\"reference\": ").expect("cut");
    let output = run(home, &["search", "--json", "libc.so"]);
    assert!(stderr(&output).contains("set aside"), "{}", stderr(&output));
    let (_, hits) = search(home, &["libc.so"]);
    assert_eq!(hits.len(), 5);

    // The listing cache evicts the ssl layer: no hit may point at it.
    let listing = home
        .join("layerslayer/listings")
        .join(format!("{}.listing.zst", hex(&fixture.ssl.digest)));
    std::fs::remove_file(&listing).expect("evict");
    let output = run(home, &["search", "--json", "libssl.so"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("evicted"), "{}", stderr(&output));
    assert!(
        !layers
            .join(format!("{}.paths", hex(&fixture.ssl.digest)))
            .exists()
    );
    let (code, hits) = search(home, &["libc.so"]);
    assert_eq!(code, 0);
    let images: BTreeSet<String> = hits.into_iter().map(|h| h.0).collect();
    assert_eq!(
        images,
        BTreeSet::from(["b:2".to_owned(), "d:2".to_owned()]),
        "images using the evicted layer are left out"
    );
}

#[test]
fn image_layouts_are_indexed_under_the_name_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("layout");
    let layers = [
        layer(&[TarItem::Dir("etc"), file("etc/app.conf", 12)], "base"),
        layer(
            &[file("etc/.wh.app.conf", 0), file("srv/app.bin", 40)],
            "app",
        ),
    ];
    common::layouts::write_single_image_layout(&layout, &layers);
    let typed = format!("oci:{}", layout.display());
    let home = dir.path().join("cache");
    let output = run(&home, &["index", "--quiet", &typed]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (code, hits) = search(&home, &["app."]);
    assert_eq!(code, 0);
    let tag = typed.rsplit('/').next().expect("tag").to_owned();
    let expected = BTreeSet::from([
        hit(&tag, 0, "etc/app.conf", "file", false),
        hit(&tag, 1, "etc/.wh.app.conf", "whiteout", false),
        hit(&tag, 1, "srv/app.bin", "file", true),
    ]);
    assert_eq!(hits, expected);
    let mut notices = Vec::new();
    let images = index_of(&home).images(&mut notices).expect("images");
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].reference, typed);
    assert_eq!(images[0].source_kind, "file");
    assert_eq!(
        images[0].layers,
        vec![layers[0].digest.clone(), layers[1].digest.clone()]
    );
}

#[test]
fn a_whole_registry_is_walked_through_its_paged_catalog_and_tags() {
    let registry = TestRegistry::start();
    let base = layer(&[TarItem::Dir("etc"), file("etc/os-release", 20)], "base");
    let pushed = [
        ("x", "1"),
        ("x", "2"),
        ("y", "1"),
        ("z/deep", "1"),
        ("z/deep", "2"),
    ];
    for (i, (repo, tag)) in pushed.iter().enumerate() {
        let own = layer(&[file(&format!("srv/{i}.txt"), i)], "own");
        push_image(&registry, repo, tag, ImageFormat::Oci, &[base.clone(), own]);
    }
    let host = registry.addr();

    // The client follows `Link` headers: 3 repositories at 2 a page, 2 tags at 1 a page.
    let cancel = layerslayer::cancel::CancelToken::new();
    let reference =
        layerslayer::oci::reference::ImageReference::parse(&format!("{host}/x")).expect("ref");
    let client = layerslayer::source::registry::RegistryClient::connect(
        &reference,
        Default::default(),
        &cancel,
    )
    .expect("connect");
    assert_eq!(
        client.catalog(2, &cancel).expect("catalog"),
        ["x", "y", "z/deep"]
    );
    // (distribution 2.8 pages tags in no particular order: compare them as a set.)
    let tags: BTreeSet<String> = client
        .for_repository("z/deep")
        .tags(1, &cancel)
        .expect("tags")
        .into_iter()
        .collect();
    assert_eq!(tags, BTreeSet::from(["1".to_owned(), "2".to_owned()]));

    let images_found = |home: &Path| -> BTreeSet<String> {
        let (code, hits) = search(home, &["etc/os-release"]);
        assert_eq!(code, 0);
        hits.into_iter().map(|h| h.0).collect()
    };
    let home = tempfile::tempdir().expect("tempdir");
    let output = run(home.path(), &["index", "--quiet", "--tags", "1", &host]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(images_found(home.path()).len(), 3, "one tag per repository");
    let output = run(
        home.path(),
        &["index", "--quiet", &format!("{host}/z/deep")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = run(home.path(), &["index", "--quiet", &host]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        images_found(home.path()),
        BTreeSet::from(["x:1", "x:2", "y:1", "deep:1", "deep:2"].map(str::to_owned))
    );
}
