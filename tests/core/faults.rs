//! Faults a real registry won't produce on demand, served by the in-process fault server.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::fault::{FakeBlob, FakeRegistry, Reply};
use common::images::{build_tar, compress};
use common::{Compression, FaultServer, SlowBlobServer, TarItem};
use layerslayer::cancel::CancelToken;
use layerslayer::layer::stream::{PeekProgress, peek_layer};
use layerslayer::model::{LayerListing, LayerStatus};
use layerslayer::oci::ImageInfo;
use layerslayer::oci::reference::ImageReference;
use layerslayer::source::registry::{ClientOptions, RegistryClient, RegistryError};
use layerslayer::source::{ImageSource, SourceError};

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const PLAIN_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

fn many_files(count: usize) -> Vec<TarItem> {
    (0..count)
        .map(|i| {
            TarItem::File(
                format!("files/f{i:05}"),
                format!("content {i}").repeat(40).into_bytes(),
                0o644,
            )
        })
        .collect()
}

fn gzip_layer(count: usize) -> Vec<u8> {
    compress(&build_tar(&many_files(count)).0, Compression::Gzip)
}

fn fast_options() -> ClientOptions {
    ClientOptions {
        max_retry_wait: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

fn open(server: &FaultServer) -> Result<(Arc<dyn ImageSource>, ImageInfo), SourceError> {
    open_reference(&FakeRegistry::reference(server))
}

fn open_reference(reference: &str) -> Result<(Arc<dyn ImageSource>, ImageInfo), SourceError> {
    common::open_with(reference, fast_options(), None)
}

fn peek_first(server: &FaultServer) -> LayerListing {
    let (client, image) = open(server).expect("open image");
    peek_layer(
        client.as_ref(),
        &image.layers[0],
        &CancelToken::new(),
        &Arc::new(PeekProgress::default()),
        &mut |_| {},
    )
}

fn failure(listing: &LayerListing) -> String {
    match &listing.result.status {
        LayerStatus::Failed(message) => message.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn is_blob(request: &common::fault::Request) -> bool {
    request.path.contains("/blobs/")
}

/// Serves a one-layer image whose layer requests get `reply()` instead of the real blob.
fn with_layer_reply(
    media_type: &str,
    layer: Vec<u8>,
    reply: impl Fn() -> Reply + Send + Sync + 'static,
) -> FaultServer {
    let registry = FakeRegistry::new(vec![(media_type, FakeBlob::Bytes(layer))]);
    let digest = registry.layer_digests[0].clone();
    registry.serve(move |request, _| request.path.ends_with(&digest).then(&reply))
}

#[test]
fn an_expired_token_is_refreshed_mid_run() {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&issued);
    let tokens = FaultServer::start(move |_| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Reply::bytes(
            200,
            format!(r#"{{"access_token":"token-{n}","expires_in":3600}}"#),
        )
    });
    let realm = format!("http://{}/token", tokens.addr());
    // The registry accepts only the newest token; once a blob has been served the token
    // "expires" and a fresh one is needed.
    let blobs_served = Arc::new(AtomicUsize::new(0));
    let served = Arc::clone(&blobs_served);
    let registry = FakeRegistry::new(vec![
        (GZIP, FakeBlob::Bytes(gzip_layer(10))),
        (GZIP, FakeBlob::Bytes(gzip_layer(20))),
    ]);
    let server = registry.serve(move |request, _| {
        let wanted = format!("Bearer token-{}", served.load(Ordering::SeqCst).min(1));
        if request.header("authorization") != Some(wanted.as_str()) {
            let challenge = format!(
                r#"Bearer realm="{realm}",service="fake",scope="repository:test/app:pull""#
            );
            return Some(
                Reply::bytes(
                    401,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}"#,
                )
                .header("WWW-Authenticate", challenge),
            );
        }
        if is_blob(request) && request.path.contains("sha256") {
            served.fetch_add(1, Ordering::SeqCst);
        }
        None
    });
    let (client, image) = open(&server).expect("open");
    let cancel = CancelToken::new();
    for layer in &image.layers {
        let listing = peek_layer(
            client.as_ref(),
            layer,
            &cancel,
            &Arc::new(PeekProgress::default()),
            &mut |_| {},
        );
        assert!(
            listing.result.status.is_complete(),
            "{:?}",
            listing.result.status
        );
    }
    assert_eq!(
        issued.load(Ordering::SeqCst),
        2,
        "exactly one refresh after the expiry"
    );
    let token_requests = tokens.requests();
    assert!(
        token_requests
            .iter()
            .all(|r| r.path.contains("scope=repository%3Atest%2Fapp%3Apull"))
    );
}

#[test]
fn rate_limits_are_retried_after_the_servers_delay() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let registry = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(gzip_layer(5)))]);
    let server = registry.serve(move |request, _| {
        (request.path.contains("/manifests/") && counter.fetch_add(1, Ordering::SeqCst) == 0).then(
            || {
                Reply::bytes(
                    429,
                    r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
                )
                .header("Retry-After", "1")
            },
        )
    });
    let started = Instant::now();
    let (_, image) = open(&server).expect("succeeds after one 429");
    assert_eq!(image.layers.len(), 1);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was honoured"
    );
}

#[test]
fn server_errors_are_retried_then_reported() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let registry = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(gzip_layer(5)))]);
    let server = registry.serve(move |request, _| {
        (is_blob(request) && counter.fetch_add(1, Ordering::SeqCst) == 1)
            .then(|| Reply::bytes(500, "oops"))
    });
    assert!(
        peek_first(&server).result.status.is_complete(),
        "a single 500 is retried"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "config, failed layer request, retried layer request"
    );

    let always =
        FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(gzip_layer(5)))]).serve(|request, _| {
            request
                .path
                .contains("/manifests/")
                .then(|| Reply::bytes(503, "down"))
        });
    let error = open(&always).expect_err("never recovers");
    assert!(
        matches!(
            error.cause(),
            Some(RegistryError::RetriesExhausted {
                status: 503,
                attempts: 4,
                ..
            })
        ),
        "{error:?}"
    );
    assert_eq!(
        always
            .requests()
            .iter()
            .filter(|r| r.path.contains("/manifests/"))
            .count(),
        4
    );

    let too_long = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(gzip_layer(5)))])
        .serve(|_, _| Some(Reply::bytes(429, "").header("Retry-After", "3600")));
    let started = Instant::now();
    let error = RegistryClient::connect(
        &ImageReference::parse(&FakeRegistry::reference(&too_long)).expect("ref"),
        fast_options(),
        &CancelToken::new(),
    )
    .expect_err("an hour is too long");
    assert!(error.to_string().contains("wait 3600 s"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "does not sleep for an hour"
    );
}

#[test]
fn blob_redirects_to_another_host_drop_authorization() {
    let layer = gzip_layer(30);
    let cdn_blob = layer.clone();
    let cdn = FaultServer::start(move |_| Reply::bytes(200, cdn_blob.clone()));
    let cdn_addr = cdn.addr();
    let tokens = FaultServer::start(|_| Reply::bytes(200, r#"{"token":"secret-token"}"#));
    let realm = format!("http://{}/token", tokens.addr());
    let registry = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(layer))]);
    let layer_digest = registry.layer_digests[0].clone();
    let server = registry.serve(move |request, _| {
        if request.header("authorization") != Some("Bearer secret-token") {
            return Some(Reply::bytes(401, "").header(
                "WWW-Authenticate",
                format!(r#"Bearer realm="{realm}",service="fake""#),
            ));
        }
        request.path.ends_with(&layer_digest).then(|| {
            Reply::bytes(307, "").header("Location", format!("http://{cdn_addr}/cdn/blob?sig=abc"))
        })
    });
    let listing = peek_first(&server);
    assert_eq!(
        listing.result.status,
        LayerStatus::Complete {
            digest_verified: true
        }
    );
    assert_eq!(listing.entries.len(), 30);
    let cdn_requests = cdn.requests();
    assert_eq!(cdn_requests.len(), 1);
    assert_eq!(cdn_requests[0].path, "/cdn/blob?sig=abc");
    assert_eq!(
        cdn_requests[0].header("authorization"),
        None,
        "credentials must not leak to another host"
    );
}

#[test]
fn a_truncated_body_fails_naming_the_layer_and_keeps_what_was_read() {
    let layer = compress(&build_tar(&many_files(2000)).0, Compression::None);
    let half = layer[..layer.len() / 2].to_vec();
    let full_length = layer.len() as u64;
    let server = with_layer_reply(PLAIN_TAR, layer, move || Reply {
        content_length: Some(full_length),
        ..Reply::bytes(200, half.clone())
    });
    let listing = peek_first(&server);
    let message = failure(&listing);
    assert!(message.starts_with("layer 0 ("), "{message}");
    assert!(
        message.contains("download failed") || message.contains("truncated"),
        "{message}"
    );
    assert!(
        listing.entries.len() > 500 && listing.entries.len() < 2000,
        "kept {} entries",
        listing.entries.len()
    );
}

#[test]
fn a_body_that_ends_early_without_length_is_truncated() {
    let layer = gzip_layer(500);
    let layer_len = layer.len();
    let short = layer[..layer.len() - 100].to_vec();
    let server = with_layer_reply(GZIP, layer, move || {
        let body = short.clone();
        Reply {
            status: 200,
            headers: Vec::new(),
            body: common::fault::Body::Stream(Arc::new(move |out| out.write_all(&body))),
            content_length: None,
        }
    });
    let message = failure(&peek_first(&server));
    let cut = layer_len - 100;
    assert!(
        message.contains(&format!("closed early at byte {cut}"))
            && message.contains("after 5 resumes"),
        "{message}"
    );
    let resumed = server
        .requests()
        .iter()
        .filter(|r| r.header("range") == Some(&format!("bytes={cut}-{}", layer_len - 1)))
        .count();
    assert_eq!(resumed, 5, "each resume asks for the rest");
}

#[test]
fn corrupt_gzip_is_reported_with_entries_so_far() {
    let mut layer = gzip_layer(3000);
    let middle = layer.len() / 2;
    for byte in &mut layer[middle..middle + 64] {
        *byte = !*byte;
    }
    let listing =
        peek_first(&FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(layer))]).serve_plain());
    let message = failure(&listing);
    assert!(
        message.contains("layer 0") && message.contains("gzip data is corrupt"),
        "{message}"
    );
    assert!(!listing.entries.is_empty());
}

#[test]
fn a_wrong_digest_is_an_error() {
    let tar_of = |byte: u8| build_tar(&[TarItem::File("data".into(), vec![byte; 1000], 0o644)]).0;
    // Same length, valid tar, different content: only the digest check can notice.
    let impostor = tar_of(b'b');
    let server = with_layer_reply(PLAIN_TAR, tar_of(b'a'), move || {
        Reply::bytes(200, impostor.clone())
    });
    let listing = peek_first(&server);
    let message = failure(&listing);
    assert!(message.contains("digest mismatch"), "{message}");
    assert_eq!(
        listing.entries.len(),
        1,
        "the entries are kept and marked by the failed status"
    );
}

#[test]
fn a_huge_content_length_is_refused_before_reading() {
    let server = with_layer_reply(GZIP, gzip_layer(10), move || Reply {
        content_length: Some(1 << 40),
        ..Reply::bytes(200, vec![0u8; 16])
    });
    let message = failure(&peek_first(&server));
    assert!(
        message.contains("announces 1099511627776 bytes"),
        "{message}"
    );
}

#[test]
fn a_body_longer_than_the_manifest_says_is_refused() {
    let server = with_layer_reply(GZIP, gzip_layer(10), move || {
        let endless: common::fault::BodyWriter = Arc::new(|out| {
            loop {
                out.write_all(&[0u8; 65536])?;
            }
        });
        Reply {
            status: 200,
            headers: Vec::new(),
            body: common::fault::Body::Stream(endless),
            content_length: None,
        }
    });
    let message = failure(&peek_first(&server));
    assert!(message.contains("more than the"), "{message}");
}

#[test]
fn cancelling_stops_a_slow_download_promptly() {
    let slow = SlowBlobServer::start();
    let (client, image) = open_reference(&slow.reference()).expect("open the slow image");
    let cancel = CancelToken::new();
    let seen = Arc::new(Mutex::new(None::<Instant>));
    let progress = Arc::new(PeekProgress::default());
    let canceller = cancel.clone();
    let cancelled_at = Arc::clone(&seen);
    let listing = peek_layer(
        client.as_ref(),
        &image.layers[0],
        &cancel,
        &progress,
        &mut |_| {
            if progress.entries() == 200 {
                *cancelled_at.lock().expect("lock") = Some(Instant::now());
                canceller.cancel();
            }
        },
    );
    let cancelled_at = seen
        .lock()
        .expect("lock")
        .expect("cancelled after 200 entries");
    assert_eq!(listing.result.status, LayerStatus::Cancelled);
    assert!(listing.entries.len() >= 200 && listing.entries.len() < SlowBlobServer::FILES);
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(1),
        "peek returned {:?} after cancel",
        cancelled_at.elapsed()
    );
}

#[test]
fn entries_arrive_while_the_layer_is_still_downloading() {
    let slow = SlowBlobServer::start();
    let (client, image) = open_reference(&slow.reference()).expect("open the slow image");
    let cancel = CancelToken::new();
    let total = image.layers[0].size();
    let progress = Arc::new(PeekProgress::default());
    let mut bytes_at_first_entry = None;
    let canceller = cancel.clone();
    peek_layer(
        client.as_ref(),
        &image.layers[0],
        &cancel,
        &progress,
        &mut |_| {
            bytes_at_first_entry.get_or_insert(progress.bytes_read());
            canceller.cancel();
        },
    );
    let bytes = bytes_at_first_entry.expect("an entry arrived");
    assert!(
        bytes < total / 10,
        "first entry after {bytes} of {total} bytes"
    );
}

#[test]
fn redirects_to_plain_http_on_a_remote_host_are_refused() {
    let server = with_layer_reply(GZIP, gzip_layer(3), move || {
        Reply::bytes(307, "").header("Location", "http://blobs.example.invalid/layer")
    });
    let message = failure(&peek_first(&server));
    assert!(
        message.contains("refusing plain http to blobs.example.invalid"),
        "{message}"
    );
}

#[test]
fn a_foreign_layer_missing_from_the_registry_is_reported_not_fatal() {
    let mut registry = FakeRegistry::new(vec![
        (
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            FakeBlob::Bytes(gzip_layer(2)),
        ),
        (GZIP, FakeBlob::Bytes(gzip_layer(4))),
    ]);
    let foreign = registry.layer_digests[0].clone();
    registry.blobs.remove(&foreign);
    let server = registry.serve_plain();
    let (client, image) = open(&server).expect("open");
    assert!(image.layers[0].is_non_distributable());
    let cancel = CancelToken::new();
    let listings: Vec<LayerListing> = image
        .layers
        .iter()
        .map(|layer| {
            peek_layer(
                client.as_ref(),
                layer,
                &cancel,
                &Arc::new(PeekProgress::default()),
                &mut |_| {},
            )
        })
        .collect();
    match &listings[0].result.status {
        LayerStatus::Skipped(reason) => assert!(reason.contains("non-distributable"), "{reason}"),
        other => panic!("expected a skipped layer, got {other:?}"),
    }
    assert!(
        listings[1].result.status.is_complete(),
        "the other layers are still read"
    );
    assert_eq!(listings[1].entries.len(), 4);
}

#[test]
fn the_cli_prints_entries_while_downloading_and_stops_when_the_reader_goes() {
    use std::io::BufRead as _;
    let slow = SlowBlobServer::start();
    let started = Instant::now();
    let mut child = common::layerslayer_command()
        .args(["peek", &slow.reference(), "--layers", "all"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run layerslayer");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let header = lines.next().expect("a header line").expect("utf8");
    assert!(header.starts_with("layer 0 sha256:"), "{header}");
    let first = lines.next().expect("an entry line").expect("utf8");
    assert!(first.contains("slow/file-00000"), "{first}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the first entry came before the ~60 s download finished"
    );
    drop(lines); // like `| head -2`
    let status = child.wait().expect("wait");
    assert!(
        status.success(),
        "a closed pipe ends the run quietly: {status:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "the download stopped with the reader"
    );
}

#[test]
fn a_manifest_with_a_wrong_content_type_is_read_by_its_media_type() {
    let server = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(gzip_layer(5)))]).serve(
        |request, registry| {
            request.path.contains("/manifests/").then(|| {
                Reply::bytes(200, registry.manifest.clone()).header("Content-Type", "text/html")
            })
        },
    );
    let (_, image) = open(&server).expect("the body's mediaType decides");
    assert_eq!(image.layers.len(), 1);

    let unknown =
        FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(gzip_layer(5)))]).serve(|request, _| {
            request.path.contains("/manifests/").then(|| {
                Reply::bytes(200, r#"{"schemaVersion":2}"#).header("Content-Type", "text/html")
            })
        });
    let error = open(&unknown).expect_err("neither says what it is");
    assert!(error.to_string().contains("text/html"), "{error}");
}

#[test]
fn oversized_manifests_and_configs_are_refused_without_reading_them() {
    let endless = || Reply {
        status: 200,
        headers: vec![(
            "Content-Type".into(),
            "application/vnd.oci.image.manifest.v1+json".into(),
        )],
        body: common::fault::Body::Stream(Arc::new(|out| {
            out.write_all(b"{\"schemaVersion\":2,\"x\":\"")?;
            loop {
                out.write_all(&[b'a'; 65536])?;
            }
        })),
        content_length: None,
    };
    let server = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(gzip_layer(5)))])
        .serve(move |request, _| request.path.contains("/manifests/").then(endless));
    let started = Instant::now();
    let error = open(&server).expect_err("too big");
    assert!(error.to_string().contains("4194304"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));

    let huge =
        FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(gzip_layer(5)))]).serve(|request, _| {
            request.path.contains("/manifests/").then(|| Reply {
                content_length: Some(10 << 30),
                ..Reply::bytes(200, "{}")
            })
        });
    let error = open(&huge).expect_err("announced too big");
    assert!(error.to_string().contains("4194304"), "{error}");

    // A config over its bound is refused by its descriptor's size, before any request.
    let mut registry = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(gzip_layer(5)))]);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&registry.manifest).expect("manifest");
    manifest["config"]["size"] = serde_json::json!(1u64 << 30);
    registry.manifest = serde_json::to_vec(&manifest).expect("manifest");
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let server = registry.serve_plain();
    let error = open(&server).expect_err("config too big");
    assert!(error.to_string().contains("more than the"), "{error}");
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.path.ends_with(&config_digest)),
        "never fetched"
    );
}

#[test]
fn rate_limits_without_retry_after_back_off() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let server =
        FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(gzip_layer(5)))]).serve(move |request, _| {
            (request.path.contains("/manifests/") && counter.fetch_add(1, Ordering::SeqCst) < 2)
                .then(|| Reply::bytes(429, "slow down"))
        });
    let started = Instant::now();
    open(&server).expect("succeeds on the third try");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // 250 ms, then 500 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_export_to_a_full_disk_says_so_and_keeps_the_previous_file() {
    // A 4 KiB tmpfs in a private mount namespace (tests/run runs as root, as CI does).
    let work = tempfile::tempdir().expect("tempdir");
    let mount = work.path().join("small");
    std::fs::create_dir(&mount).expect("mount point");
    let script = format!(
        "mount -t tmpfs -o size=4k tmpfs '{dir}' && echo old > '{dir}/out.csv' && \
         XDG_CACHE_HOME={cache} '{bin}' peek demo --csv '{dir}/out.csv' -q >/dev/null; \
         echo \"exit $?\"; cat '{dir}/out.csv'; ls -A '{dir}'",
        dir = mount.display(),
        cache = common::NO_CACHE_DIR,
        bin = common::layerslayer_binary().display()
    );
    let output = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stdout, "exit 1\nold\nout.csv\n", "{stderr}");
    assert!(
        stderr.contains("No space left on device") && stderr.contains("the disk is full"),
        "{stderr}"
    );
}
