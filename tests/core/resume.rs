//! Downloads that never hang and never lose what arrived: a blob whose connection drops or
//! stalls is resumed with a Range request from the byte reached (or restarted when the server
//! ignores Range), after a redirect too, with fresh authorisation; slow headers are a stall;
//! small requests time out; loops are bounded. Served by the in-process fault server.

use crate::common;

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::fault::{Body, FakeBlob, FaultServer, Reply, Request};
use common::images::{build_tar, compress};
use common::{Compression, FakeRegistry, TarItem, layerslayer_command};
use layerslayer::cancel::CancelToken;
use layerslayer::layer::stream::{PeekProgress, stream_layer};
use layerslayer::model::LayerResult;
use layerslayer::model::LayerStatus;
use layerslayer::source::registry::ClientOptions;

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const FILES: usize = 3000;

fn layer() -> Vec<u8> {
    let items: Vec<TarItem> = (0..FILES)
        .map(|i| TarItem::File(format!("f/{i:05}"), vec![(i % 251) as u8; 300], 0o644))
        .collect();
    compress(&build_tar(&items).0, Compression::Gzip)
}

/// Fast stalls for tests.
fn options() -> ClientOptions {
    ClientOptions {
        idle_timeout: Duration::from_millis(400),
        max_retry_wait: Duration::from_secs(5),
        request_timeout: Duration::from_secs(2),
        ..ClientOptions::default()
    }
}

/// How the first request for the layer goes wrong.
#[derive(Clone, Copy)]
enum FirstTry {
    /// The connection closes after this many bytes (the length announced is the whole blob).
    ResetAt(usize),
    /// No byte comes after this many, for a minute.
    StallAt(usize),
    /// The response headers take a minute.
    SlowHeaders,
}

/// `bytes=N-M` of a request, as a range of the blob.
fn requested_range(request: &Request, len: usize) -> Option<std::ops::Range<usize>> {
    let spec = request.header("range")?.strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let start: usize = start.parse().ok()?;
    let end = if end.is_empty() {
        len
    } else {
        end.parse::<usize>().ok()? + 1
    };
    Some(start..end.min(len))
}

/// The reply to a blob request: the fault on the first one, then the blob (206 for a Range
/// when `honour_range`, else the whole blob with 200).
fn blob_reply(
    blob: &Arc<Vec<u8>>,
    attempt: usize,
    first: FirstTry,
    honour_range: bool,
    request: &Request,
) -> Reply {
    let len = blob.len();
    if attempt == 0 {
        let data = Arc::clone(blob);
        let writer: common::fault::BodyWriter = match first {
            FirstTry::ResetAt(cut) => Arc::new(move |out: &mut dyn Write| {
                out.write_all(&data[..cut])?;
                out.flush()?;
                Err(io::Error::other("connection reset"))
            }),
            FirstTry::StallAt(cut) => Arc::new(move |out: &mut dyn Write| {
                out.write_all(&data[..cut])?;
                out.flush()?;
                thread::sleep(Duration::from_secs(60));
                Err(io::Error::other("gave up"))
            }),
            FirstTry::SlowHeaders => {
                thread::sleep(Duration::from_secs(60));
                Arc::new(|_: &mut dyn Write| Err(io::Error::other("too late")))
            }
        };
        return Reply {
            status: 200,
            headers: Vec::new(),
            body: Body::Stream(writer),
            content_length: Some(len as u64),
        };
    }
    match requested_range(request, len).filter(|_| honour_range) {
        Some(range) => Reply::bytes(206, blob[range.clone()].to_vec()).header(
            "Content-Range",
            format!("bytes {}-{}/{len}", range.start, range.end - 1),
        ),
        None => Reply::bytes(200, blob.to_vec()),
    }
}

/// A registry serving one gzip layer whose first download goes wrong as `first` says.
fn flaky_registry(first: FirstTry, honour_range: bool) -> (FaultServer, Arc<Vec<u8>>) {
    let blob = Arc::new(layer());
    let registry = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(blob.to_vec()))]);
    let digest = registry.layer_digests[0].clone();
    let attempts = AtomicUsize::new(0);
    let served = Arc::clone(&blob);
    let server = registry.serve(move |request, _| {
        request.path.ends_with(&digest).then(|| {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst);
            blob_reply(&served, attempt, first, honour_range, request)
        })
    });
    (server, blob)
}

/// Streams the first layer of `reference` with `options`.
fn stream_first(reference: &str, options: ClientOptions) -> (LayerResult, usize, u64) {
    let (source, image) = common::open_with(reference, options, None).expect("open the image");
    let progress = Arc::new(PeekProgress::default());
    let mut entries = 0;
    let outcome = stream_layer(
        source.as_ref(),
        &image.layers[0],
        &CancelToken::new(),
        &progress,
        &mut |_| entries += 1,
    );
    (outcome, entries, progress.resumes())
}

fn assert_complete_after_one_resume(outcome: &LayerResult, entries: usize, resumes: u64) {
    assert_eq!(
        outcome.status,
        LayerStatus::Complete {
            digest_verified: true
        },
        "{outcome:?}"
    );
    assert_eq!(entries, FILES, "every entry, none twice");
    assert_eq!(resumes, 1);
    let note = outcome.note.as_deref().unwrap_or_default();
    assert!(note.starts_with("resumed ×1 (last at byte "), "{note}");
}

fn blob_requests(server: &FaultServer, digest_of: &[u8]) -> Vec<Request> {
    let digest = common::images::sha256(digest_of);
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(&digest))
        .collect()
}

#[test]
fn a_connection_reset_mid_blob_resumes_from_the_byte_reached() {
    let (server, blob) = flaky_registry(FirstTry::ResetAt(20_000), true);
    let (outcome, entries, resumes) = stream_first(&FakeRegistry::reference(&server), options());
    assert_complete_after_one_resume(&outcome, entries, resumes);
    let requests = blob_requests(&server, &blob);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("range"), None);
    assert_eq!(
        requests[1].header("range"),
        Some(format!("bytes=20000-{}", blob.len() - 1).as_str())
    );
}

#[test]
fn a_stall_mid_blob_resumes_after_the_idle_timeout() {
    let (server, blob) = flaky_registry(FirstTry::StallAt(30_000), true);
    let started = Instant::now();
    let (outcome, entries, resumes) = stream_first(&FakeRegistry::reference(&server), options());
    assert_complete_after_one_resume(&outcome, entries, resumes);
    assert!(
        outcome
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("no data for 0.4 s")
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "did not wait for the stall"
    );
    let requests = blob_requests(&server, &blob);
    assert_eq!(
        requests[1].header("range"),
        Some(format!("bytes=30000-{}", blob.len() - 1).as_str())
    );
}

#[test]
fn a_server_ignoring_range_on_resume_restarts_without_repeating_bytes() {
    let (server, _) = flaky_registry(FirstTry::ResetAt(25_000), false);
    let (outcome, entries, resumes) = stream_first(&FakeRegistry::reference(&server), options());
    assert_complete_after_one_resume(&outcome, entries, resumes);
}

#[test]
fn slow_response_headers_are_a_stall_and_are_retried() {
    let (server, blob) = flaky_registry(FirstTry::SlowHeaders, true);
    let (outcome, entries, resumes) = stream_first(&FakeRegistry::reference(&server), options());
    assert_complete_after_one_resume(&outcome, entries, resumes);
    assert_eq!(blob_requests(&server, &blob).len(), 2);
}

#[test]
fn a_resume_after_a_redirect_goes_back_to_the_registry_with_a_fresh_token() {
    let blob = Arc::new(layer());
    // The blob lives on a CDN that drops the first download at 20 000 bytes.
    let cdn_attempts = AtomicUsize::new(0);
    let cdn_blob = Arc::clone(&blob);
    let cdn = FaultServer::start(move |request| {
        let attempt = cdn_attempts.fetch_add(1, Ordering::SeqCst);
        blob_reply(&cdn_blob, attempt, FirstTry::ResetAt(20_000), true, request)
    });
    let cdn_addr = cdn.addr();
    // Each token is good for one blob request: the resume needs a fresh one.
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&issued);
    let tokens = FaultServer::start(move |_| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Reply::bytes(200, format!(r#"{{"token":"token-{n}","expires_in":3600}}"#))
    });
    let realm = format!("http://{}/token", tokens.addr());
    let registry = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(blob.to_vec()))]);
    let digest = registry.layer_digests[0].clone();
    let layer_requests = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&layer_requests);
    let server = registry.serve(move |request, _| {
        let is_layer = request.path.ends_with(&digest);
        let wanted = format!("Bearer token-{}", seen.load(Ordering::SeqCst));
        if request.header("authorization") != Some(wanted.as_str()) {
            return Some(Reply::bytes(401, "").header(
                "WWW-Authenticate",
                format!(r#"Bearer realm="{realm}",service="fake""#),
            ));
        }
        if !is_layer {
            return None;
        }
        seen.fetch_add(1, Ordering::SeqCst);
        Some(Reply::bytes(307, "").header("Location", format!("http://{cdn_addr}/cdn/blob")))
    });
    let (outcome, entries, resumes) = stream_first(&FakeRegistry::reference(&server), options());
    assert_complete_after_one_resume(&outcome, entries, resumes);
    assert_eq!(
        layer_requests.load(Ordering::SeqCst),
        2,
        "the resume asked the registry again"
    );
    let cdn_requests = cdn.requests();
    assert_eq!(cdn_requests.len(), 2);
    assert_eq!(
        cdn_requests[1].header("range"),
        Some(format!("bytes=20000-{}", blob.len() - 1).as_str())
    );
    assert!(
        cdn_requests
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "no credentials for the CDN"
    );
    assert!(
        issued.load(Ordering::SeqCst) >= 2,
        "a fresh token for the resume"
    );
}

#[test]
fn a_slow_manifest_times_out_with_a_clear_message() {
    let server = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(layer()))]).serve(|request, _| {
        if request.path.contains("/manifests/") {
            thread::sleep(Duration::from_secs(30));
        }
        None
    });
    let started = Instant::now();
    let error = common::open_with(&FakeRegistry::reference(&server), options(), None)
        .expect_err("times out");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by request_timeout"
    );
    let message = error.to_string();
    assert!(
        message.contains("timed out") || message.contains("timeout"),
        "{message}"
    );
}

#[test]
fn a_401_loop_gives_up_with_a_clear_message() {
    let tokens = FaultServer::start(|_| Reply::bytes(200, r#"{"token":"never-good"}"#));
    let realm = format!("http://{}/token", tokens.addr());
    let server = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(layer()))]).serve(move |_, _| {
        Some(
            Reply::bytes(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"no way"}]}"#,
            )
            .header(
                "WWW-Authenticate",
                format!(r#"Bearer realm="{realm}",service="x""#),
            ),
        )
    });
    let error =
        common::open_with(&FakeRegistry::reference(&server), options(), None).expect_err("refused");
    let message = error.to_string();
    assert!(
        message.contains("access denied") && message.contains("no way"),
        "{message}"
    );
    assert!(
        server.requests().len() <= 4,
        "bounded: {:?}",
        server.requests().len()
    );
}

#[test]
fn a_retry_after_http_date_is_honoured() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let server =
        FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(layer()))]).serve(move |request, _| {
            (request.path.contains("/manifests/") && counter.fetch_add(1, Ordering::SeqCst) == 0)
                .then(|| {
                    let when = std::time::SystemTime::now() + Duration::from_secs(2);
                    Reply::bytes(429, "").header("Retry-After", httpdate::fmt_http_date(when))
                })
        });
    let started = Instant::now();
    common::open_with(&FakeRegistry::reference(&server), options(), None)
        .expect("opens after the wait");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // HTTP-dates have whole seconds: the wait is between 1 and 2 s.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_redirect_loop_is_bounded() {
    let server = FakeRegistry::new(vec![(GZIP, FakeBlob::Bytes(layer()))]).serve(|request, _| {
        request
            .path
            .contains("/manifests/")
            .then(|| Reply::bytes(307, "").header("Location", request.path.clone()))
    });
    let error =
        common::open_with(&FakeRegistry::reference(&server), options(), None).expect_err("loops");
    assert!(error.to_string().contains("endless redirect"), "{error}");
    let manifest_requests = server
        .requests()
        .iter()
        .filter(|r| r.path.contains("/manifests/"))
        .count();
    assert_eq!(manifest_requests, 11, "the first request and 10 redirects");
}

#[test]
fn the_cli_resumes_a_stalled_download_and_says_so() {
    let (server, _) = flaky_registry(FirstTry::StallAt(10_000), true);
    let output = layerslayer_command()
        .args([
            "peek",
            &FakeRegistry::reference(&server),
            "--idle-timeout",
            "0.5",
            "--no-toc",
            "-q",
        ])
        .output()
        .expect("run layerslayer");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("resumed ×1 (last at byte 10000: no data for 0.5 s"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("({FILES} entries, complete)")),
        "{stdout}"
    );
}
