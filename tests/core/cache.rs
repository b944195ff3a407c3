//! The listing cache through the CLI: a re-peek downloads no layer blob, a damaged cache entry
//! is detected, deleted and refetched, `--no-cache` bypasses it, and only complete, verified
//! listings are stored.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::fault::{FakeBlob, FakeRegistry, FaultServer, Reply};
use common::images::{build_tar, compress};
use common::{Compression, TarItem};

fn layer(name: &str, count: usize) -> Vec<u8> {
    let items: Vec<TarItem> = (0..count)
        .map(|i| TarItem::File(format!("{name}/file-{i}"), vec![b'x'; i % 50], 0o644))
        .collect();
    compress(&build_tar(&items).0, Compression::Gzip)
}

/// `layerslayer peek REFERENCE --csv - [extra]` with its cache under `cache_home`.
fn peek(cache_home: &Path, reference: &str, extra: &[&str]) -> Output {
    let mut command = common::layerslayer_command();
    command
        .env("XDG_CACHE_HOME", cache_home)
        .args(["peek", reference, "--csv", "-", "--quiet"])
        .args(extra);
    command.output().expect("run layerslayer")
}

/// How many whole layer blobs the server was asked for so far (not counting the Range
/// requests that look for a table of contents), and how many requests for layers in all.
fn blob_requests(server: &FaultServer, layers: &[String]) -> (usize, usize) {
    let requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| {
            layers
                .iter()
                .any(|digest| r.path.ends_with(digest.as_str()))
        })
        .collect();
    let whole = requests
        .iter()
        .filter(|r| r.header("range").is_none())
        .count();
    (whole, requests.len())
}

/// The cached listings (gzip layers' indexes beside them are tested in `index.rs`).
fn cache_files(cache_home: &Path) -> Vec<std::path::PathBuf> {
    let dir = cache_home.join("layerslayer/listings");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|path| path.to_string_lossy().ends_with(".listing.zst"));
    files.sort();
    files
}

#[test]
fn a_re_peek_downloads_no_layer_blob_and_damage_is_refetched() {
    let registry = FakeRegistry::new(vec![
        (
            "application/vnd.oci.image.layer.v1.tar+gzip",
            FakeBlob::Bytes(layer("one", 300)),
        ),
        (
            "application/vnd.oci.image.layer.v1.tar+gzip",
            FakeBlob::Bytes(layer("two", 200)),
        ),
    ]);
    let layers = registry.layer_digests.clone();
    let server = registry.serve_plain();
    let reference = FakeRegistry::reference(&server);
    let home = tempfile::tempdir().expect("tempdir");

    let first = peek(home.path(), &reference, &[]);
    assert!(first.status.success(), "{first:?}");
    let (whole, all) = blob_requests(&server, &layers);
    assert_eq!(whole, 2);
    assert_eq!(cache_files(home.path()).len(), 2, "both listings stored");

    let second = peek(home.path(), &reference, &[]);
    assert!(second.status.success(), "{second:?}");
    assert_eq!(
        blob_requests(&server, &layers),
        (whole, all),
        "no blob request at all"
    );
    assert_eq!(second.stdout, first.stdout, "the same listing");
    let csv = String::from_utf8_lossy(&second.stdout);
    assert_eq!(csv.lines().count(), 1 + 500, "{csv}");

    // A damaged entry: detected, deleted, refetched and stored again; never shown.
    let files = cache_files(home.path());
    let damaged = &files[0];
    let bytes = std::fs::read(damaged).expect("read");
    std::fs::write(damaged, &bytes[..bytes.len() / 2]).expect("cut");
    let third = peek(home.path(), &reference, &[]);
    assert!(third.status.success(), "{third:?}");
    assert_eq!(third.stdout, first.stdout);
    assert_eq!(
        blob_requests(&server, &layers).0,
        3,
        "only the damaged layer is refetched"
    );
    assert_eq!(std::fs::read(damaged).expect("rewritten"), bytes);

    let bypass = peek(home.path(), &reference, &["--no-cache"]);
    assert!(bypass.status.success());
    assert_eq!(
        blob_requests(&server, &layers).0,
        5,
        "--no-cache fetches every layer"
    );
    assert_eq!(bypass.stdout, first.stdout);
}

#[test]
fn only_complete_verified_listings_are_stored() {
    let good = layer("good", 50);
    let plain =
        |content: &[u8]| build_tar(&[TarItem::File("data".into(), content.to_vec(), 0o644)]).0;
    let bad = plain(b"original");
    let registry = FakeRegistry::new(vec![
        (
            "application/vnd.oci.image.layer.v1.tar+gzip",
            FakeBlob::Bytes(good),
        ),
        (
            "application/vnd.oci.image.layer.v1.tar",
            FakeBlob::Bytes(bad),
        ),
    ]);
    let bad_digest = registry.layer_digests[1].clone();
    // The second layer's bytes are replaced by another valid tar of the same length: the
    // listing reads to the end, but the digest does not match.
    let replacement = plain(b"replaced");
    let server = registry.serve(move |request, _| {
        request
            .path
            .ends_with(&bad_digest)
            .then(|| Reply::bytes(200, replacement.clone()))
    });
    let home = tempfile::tempdir().expect("tempdir");
    let output = peek(home.path(), &FakeRegistry::reference(&server), &[]);
    assert_eq!(output.status.code(), Some(7), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("digest mismatch"), "{stderr}");
    assert_eq!(
        cache_files(home.path()).len(),
        1,
        "the failed layer is not cached"
    );
}
