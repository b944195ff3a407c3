//! Credentials: `--user` with `--password-stdin` against a real htpasswd registry, debug logs
//! that never show a password, a Basic header or a token, signed URLs redacted in messages,
//! and `--remember` / `--forget` with the OS keyring.

use crate::common;

use std::io::Write;
use std::process::{Output, Stdio};

use base64::Engine as _;
use common::fault::{FakeBlob, FaultServer, Reply};
use common::images::{build_tar, compress};
use common::{Compression, FakeRegistry, RegistryAuth, TarItem, TestRegistry, layerslayer_command};

const PASSWORD: &str = "s3cret-Pa55word";

/// Runs layerslayer with `stdin` as its standard input.
fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = layerslayer_command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run layerslayer");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn assert_no_secret(output: &Output, secrets: &[&str]) {
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} leaked in:\n{text}");
        }
    }
}

#[test]
fn a_login_from_stdin_works_and_never_shows_in_logs() {
    let registry = TestRegistry::start_with(RegistryAuth::Htpasswd {
        username: "alice".into(),
        password: PASSWORD.into(),
    });
    let image = common::push_sample_image(&registry, "private/app", "v1");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));

    let output = run_with_stdin(
        &[
            "layers",
            &image.reference,
            "--user",
            "alice",
            "--password-stdin",
            "--verbose",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("credentials for user alice"), "{log}");
    assert!(log.contains("/manifests/v1 -> 200 OK"), "{log}");
    assert_no_secret(&output, &[PASSWORD, &basic, "Basic "]);

    // Two images, one password read from stdin, used for both.
    let other = common::push_sample_image(&registry, "private/other", "v1");
    let diff = run_with_stdin(
        &[
            "diff",
            &image.reference,
            &other.reference,
            "--user",
            "alice",
            "--password-stdin",
            "-q",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(diff.status.code(), Some(0), "{diff:?}");
    assert!(String::from_utf8_lossy(&diff.stdout).ends_with("0 added, 0 removed, 0 modified\n"));

    let anonymous = layerslayer_command()
        .args(["layers", &image.reference])
        .output()
        .expect("run");
    assert_eq!(anonymous.status.code(), Some(5), "{anonymous:?}");
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("access denied"));

    let wrong = run_with_stdin(
        &[
            "layers",
            &image.reference,
            "--user",
            "alice",
            "--password-stdin",
        ],
        "wrong\n",
    );
    assert_eq!(wrong.status.code(), Some(5));
    let no_password = layerslayer_command()
        .args(["layers", &image.reference, "--user", "alice"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(no_password.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&no_password.stderr).contains("--password-stdin"));
}

#[test]
fn tokens_and_signed_urls_stay_out_of_logs_and_messages() {
    const TOKEN: &str = "tok-SECRET-4242";
    let tokens = FaultServer::start(|_| Reply::bytes(200, format!(r#"{{"token":"{TOKEN}"}}"#)));
    let realm = format!("http://{}/token", tokens.addr());
    // The layer redirects to a CDN URL whose signature is a credential; the CDN fails.
    let cdn = FaultServer::start(|_| Reply::bytes(403, "expired signature"));
    let cdn_addr = cdn.addr();
    let tar = build_tar(&[TarItem::File("a".into(), b"x".to_vec(), 0o644)]).0;
    let registry = FakeRegistry::new(vec![(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        FakeBlob::Bytes(compress(&tar, Compression::Gzip)),
    )]);
    let digest = registry.layer_digests[0].clone();
    let server = registry.serve(move |request, _| {
        if request.header("authorization") != Some(format!("Bearer {TOKEN}").as_str()) {
            return Some(Reply::bytes(401, "").header(
                "WWW-Authenticate",
                format!(r#"Bearer realm="{realm}",service="fake""#),
            ));
        }
        request.path.ends_with(&digest).then(|| {
            Reply::bytes(307, "").header(
                "Location",
                format!("http://{cdn_addr}/blob?X-Signature=SIGNED-abcdef"),
            )
        })
    });
    let output = layerslayer_command()
        .args(["peek", &FakeRegistry::reference(&server), "--no-toc", "-v"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(7), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("token service"), "{stderr}");
    assert!(stderr.contains("/blob?redacted"), "{stderr}");
    assert_no_secret(&output, &[TOKEN, "SIGNED-abcdef"]);
}

#[test]
fn remember_keeps_a_login_in_the_os_keyring_only_when_asked() {
    let registry = TestRegistry::start_with(RegistryAuth::Htpasswd {
        username: "bob".into(),
        password: PASSWORD.into(),
    });
    let image = common::push_sample_image(&registry, "kept/app", "v1");
    let remembered = run_with_stdin(
        &[
            "layers",
            &image.reference,
            "--user",
            "bob",
            "--password-stdin",
            "--remember",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(remembered.status.code(), Some(0), "{remembered:?}");
    let said = String::from_utf8_lossy(&remembered.stderr);
    eprintln!("the keyring said: {said}");
    if said.contains("is kept in the OS keyring") {
        // The next run finds it without --user; --forget removes it.
        let later = layerslayer_command()
            .args(["layers", &image.reference])
            .output()
            .expect("run");
        assert_eq!(later.status.code(), Some(0), "{later:?}");
        let forgotten = layerslayer_command()
            .args(["layers", &image.reference, "--forget"])
            .output()
            .expect("run");
        assert!(
            String::from_utf8_lossy(&forgotten.stderr).contains("was removed from the OS keyring")
        );
        let after = layerslayer_command()
            .args(["layers", &image.reference])
            .output()
            .expect("run");
        assert_eq!(after.status.code(), Some(5), "forgotten");
    } else {
        // No keyring on this machine: said plainly, and the login still worked.
        assert!(
            said.contains("warning: could not store the login in the OS keyring"),
            "{said}"
        );
    }
    // Never written to a file of ours.
    assert_no_secret(&remembered, &[PASSWORD]);
}
