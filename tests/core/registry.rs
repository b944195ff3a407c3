//! End-to-end tests against the real CNCF distribution registry, with images the tests build.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::fault::Reply;
use common::images::{expected_entries, noise, push_image_for, tricky_items};
use common::{
    Compression, FaultServer, ImageFormat, RegistryAuth, TarItem, TestLayer, TestRegistry,
    open_with, push_image, push_index,
};
use layerslayer::model::{LayerStatus, merge_layers};
use layerslayer::oci::ImageInfo;
use layerslayer::source::registry::{ClientOptions, Credential, RegistryError};
use layerslayer::source::{ImageSource, SourceError};

fn open(
    reference: &str,
    options: ClientOptions,
    platform: Option<&str>,
) -> Result<(Arc<dyn ImageSource>, ImageInfo), SourceError> {
    open_with(reference, options, platform)
}

#[test]
fn every_compression_and_media_type_lists_exactly_what_was_built() {
    let registry = TestRegistry::start();
    let layers = vec![
        TestLayer::new(&tricky_items(), Compression::Gzip, "ADD tricky /"),
        TestLayer::new(
            &[TarItem::File(
                "random.bin".into(),
                noise(0x2545_f491_4f6c_dd1d, 3 << 20),
                0o644,
            )],
            Compression::GzipMultiMember,
            "RUN make noise",
        ),
        TestLayer::new(
            &[
                TarItem::Dir("opt"),
                TarItem::File("opt/z".into(), noise(7, 70_000), 0o755),
            ],
            Compression::Zstd,
            "RUN zstd",
        ),
        TestLayer::new(
            &[TarItem::File("plain.txt".into(), b"plain".to_vec(), 0o644)],
            Compression::None,
            "COPY plain.txt /",
        ),
    ];
    for (format, repo) in [
        (ImageFormat::Oci, "formats/oci"),
        (ImageFormat::Docker, "formats/docker"),
    ] {
        let layers: Vec<TestLayer> = if format == ImageFormat::Docker {
            // Docker media types only know gzip.
            layers
                .iter()
                .filter(|l| {
                    matches!(
                        l.compression,
                        Compression::Gzip | Compression::GzipMultiMember
                    )
                })
                .cloned()
                .collect()
        } else {
            layers.clone()
        };
        let pushed = push_image(&registry, repo, "v1", format, &layers);
        let (client, image) =
            open(&pushed.reference, ClientOptions::default(), None).expect("open image");
        assert_eq!(image.manifest_digest, pushed.manifest_digest);
        assert_eq!(image.layers.len(), layers.len());
        let listings = common::peek_all(client.as_ref(), &image);
        for ((listing, layer), info) in listings.iter().zip(&layers).zip(&image.layers) {
            assert_eq!(
                listing.result.status,
                LayerStatus::Complete {
                    digest_verified: true
                },
                "{repo} layer {}",
                info.index
            );
            assert_eq!(
                expected_entries(listing),
                layer.expected,
                "{repo} layer {}",
                info.index
            );
            assert_eq!(
                info.created_by.as_deref(),
                Some(layer.created_by.as_str()),
                "history skips empty_layer steps"
            );
            assert_eq!(info.size(), layer.blob.len() as u64);
        }
    }
}

#[test]
fn merged_view_applies_whiteouts_across_real_layers() {
    let registry = TestRegistry::start();
    let sample = common::push_sample_image(&registry, "sample/app", "v1");
    let (client, image) = open(&sample.reference, ClientOptions::default(), None).expect("open");
    let listings = common::peek_all(client.as_ref(), &image);
    let merged: Vec<String> = merge_layers(&listings)
        .into_iter()
        .map(|m| m.entry.path.into())
        .collect();
    assert_eq!(
        merged,
        vec!["etc", "usr", "usr/bin", "usr/bin/alias", "usr/bin/tool"]
    );
}

#[test]
fn index_picks_platforms_and_never_attestations() {
    let registry = TestRegistry::start();
    let amd64 = push_image_for(
        &registry,
        "multi/app",
        "amd64",
        ImageFormat::Oci,
        &[TestLayer::new(
            &[TarItem::File("arch".into(), b"amd64".to_vec(), 0o644)],
            Compression::Gzip,
            "amd64",
        )],
        "amd64",
        None,
    );
    let armv7 = push_image_for(
        &registry,
        "multi/app",
        "armv7",
        ImageFormat::Oci,
        &[TestLayer::new(
            &[TarItem::File("arch-arm".into(), b"arm".to_vec(), 0o644)],
            Compression::Gzip,
            "armv7",
        )],
        "arm",
        Some("v7"),
    );
    let attestation = push_image_for(
        &registry,
        "multi/app",
        "att",
        ImageFormat::Oci,
        &[TestLayer::new(
            &[TarItem::File("sbom.json".into(), b"{}".to_vec(), 0o644)],
            Compression::None,
            "sbom",
        )],
        "unknown",
        None,
    );
    let index = push_index(
        &registry,
        "multi/app",
        "v1",
        &[
            (&attestation, "unknown", "unknown", None),
            (&armv7, "linux", "arm", Some("v7")),
            (&amd64, "linux", "amd64", None),
        ],
    );

    let (_, image) = open(
        &index.reference,
        ClientOptions::default(),
        Some("linux/arm/v7"),
    )
    .expect("arm/v7");
    assert_eq!(image.manifest_digest, armv7.manifest_digest);
    assert_eq!(
        image.platform.as_ref().map(ToString::to_string).as_deref(),
        Some("linux/arm/v7")
    );
    assert_eq!(
        image
            .available_platforms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["linux/arm/v7", "linux/amd64"]
    );

    let (_, image) = open(
        &index.reference,
        ClientOptions::default(),
        Some("linux/amd64"),
    )
    .expect("amd64");
    assert_eq!(image.manifest_digest, amd64.manifest_digest);

    if cfg!(target_arch = "x86_64") {
        let (_, image) =
            open(&index.reference, ClientOptions::default(), None).expect("host default");
        assert_eq!(
            image.manifest_digest, amd64.manifest_digest,
            "host platform is the default"
        );
    }
    let error = open(
        &index.reference,
        ClientOptions::default(),
        Some("unknown/unknown"),
    )
    .expect_err("attestations are not images");
    assert!(
        error
            .to_string()
            .contains("available: linux/arm/v7, linux/amd64"),
        "{error}"
    );

    let by_digest = format!("{}/multi/app@{}", registry.addr(), index.manifest_digest);
    let (_, image) =
        open(&by_digest, ClientOptions::default(), Some("linux/arm/v7")).expect("index by digest");
    assert_eq!(image.manifest_digest, armv7.manifest_digest);
}

#[test]
fn missing_images_and_tags_say_not_found() {
    let registry = TestRegistry::start();
    common::push_sample_image(&registry, "present/app", "v1");
    for missing in ["present/app:nope", "absent/app:v1"] {
        let error = open(
            &format!("{}/{missing}", registry.addr()),
            ClientOptions::default(),
            None,
        )
        .expect_err(missing);
        assert!(
            matches!(error.cause(), Some(RegistryError::NotFound { .. })),
            "{missing}: {error:?}"
        );
        assert!(error.to_string().contains("not found"), "{error}");
    }
}

/// Serves token requests for distribution's `silly` auth and counts them.
fn token_service(issued: Arc<AtomicUsize>) -> FaultServer {
    FaultServer::start(move |request| {
        let n = issued.fetch_add(1, Ordering::SeqCst);
        assert!(request.path.starts_with("/token?"), "{}", request.path);
        Reply::bytes(200, format!(r#"{{"token":"token-{n}","expires_in":300}}"#))
    })
}

#[test]
fn silly_token_auth_fetches_a_scoped_token() {
    let issued = Arc::new(AtomicUsize::new(0));
    let tokens = token_service(Arc::clone(&issued));
    let realm = format!("http://{}/token", tokens.addr());
    let registry = TestRegistry::start_with(RegistryAuth::Silly { realm });
    let sample = common::push_sample_image(&registry, "secure/app", "v1");
    let (client, image) =
        open(&sample.reference, ClientOptions::default(), None).expect("open with token auth");
    let listings = common::peek_all(client.as_ref(), &image);
    assert!(listings.iter().all(|l| l.result.status.is_complete()));
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "one token serves every request"
    );
    let request = &tokens.requests()[0];
    assert!(
        request.path.contains("service=test-registry"),
        "{}",
        request.path
    );
    assert!(
        request
            .path
            .contains("scope=repository%3Asecure%2Fapp%3Apull"),
        "{}",
        request.path
    );
}

#[test]
fn htpasswd_basic_auth_needs_the_right_credentials() {
    let registry = TestRegistry::start_with(RegistryAuth::Htpasswd {
        username: "alice".into(),
        password: "s3cret".into(),
    });
    let sample = common::push_sample_image(&registry, "private/app", "v1");
    let good = ClientOptions {
        credential: Some(Credential::Basic {
            username: "alice".into(),
            password: "s3cret".into(),
        }),
        ..ClientOptions::default()
    };
    let (client, image) = open(&sample.reference, good, None).expect("right password");
    assert!(
        common::peek_all(client.as_ref(), &image)
            .iter()
            .all(|l| l.result.status.is_complete())
    );

    let bad = ClientOptions {
        credential: Some(Credential::Basic {
            username: "alice".into(),
            password: "wrong".into(),
        }),
        ..ClientOptions::default()
    };
    let error = open(&sample.reference, bad, None).expect_err("wrong password");
    assert!(
        matches!(error.cause(), Some(RegistryError::Unauthorized { .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("docker login"), "{error}");
}

#[test]
fn cli_reads_docker_config_credentials_and_writes_the_exact_csv() {
    use base64::Engine as _;
    let registry = TestRegistry::start_with(RegistryAuth::Htpasswd {
        username: "bob".into(),
        password: "pa55".into(),
    });
    let sample = common::push_sample_image(&registry, "cli/app", "v1");
    let config_dir = tempfile::tempdir().expect("tempdir");
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:pa55");
    std::fs::write(
        config_dir.path().join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            registry.addr()
        ),
    )
    .expect("config.json");
    let out = config_dir.path().join("out.csv");
    let output = common::layerslayer_command()
        .args(["peek", &sample.reference, "--layers", "all", "--csv"])
        .arg(&out)
        .env("DOCKER_CONFIG", config_dir.path())
        .env("HOME", config_dir.path())
        .output()
        .expect("run layerslayer");
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reader = csv::Reader::from_path(&out).expect("csv");
    let headers = reader.headers().expect("headers").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        layerslayer::output::CSV_COLUMNS.to_vec()
    );
    let rows: Vec<(String, String, String, String)> = reader
        .records()
        .map(|r| r.expect("row"))
        .map(|r| {
            (
                r[0].to_owned(),
                r[2].to_owned(),
                r[3].to_owned(),
                r[4].to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String, String)> = sample
        .layers
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| {
            layer.expected.iter().map(move |e| {
                (
                    i.to_string(),
                    e.path.clone(),
                    e.kind.to_owned(),
                    e.size.to_string(),
                )
            })
        })
        .collect();
    assert_eq!(rows, expected);

    let without = common::layerslayer_command()
        .args(["layers", &sample.reference])
        .env("DOCKER_CONFIG", tempfile::tempdir().expect("empty").path())
        .env("HOME", "/nonexistent")
        .output()
        .expect("run layerslayer");
    assert_eq!(
        without.status.code(),
        Some(layerslayer::cli::exit_code::AUTH as i32),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
}

#[test]
fn cli_layers_table_json_merged_and_exit_codes() {
    let registry = TestRegistry::start();
    let sample = common::push_sample_image(&registry, "cli/table", "v1");
    let run = |args: &[&str]| {
        common::layerslayer_command()
            .args(args)
            .output()
            .expect("run layerslayer")
    };

    let layers = run(&["layers", &sample.reference]);
    assert!(layers.status.success());
    let text = String::from_utf8_lossy(&layers.stdout);
    assert!(text.contains("RUN install tool"), "{text}");
    assert_eq!(text.lines().count(), 4, "header + 3 layers:\n{text}");

    let json = run(&[
        "peek",
        &sample.reference,
        "--layers",
        "1",
        "--json",
        "--merged",
    ]);
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let paths: Vec<&str> = value["layers"][0]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        sample.layer_paths[1]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_eq!(value["layers"][0]["status"]["state"], "complete");

    let plain = run(&["peek", &sample.reference, "--layers", "0,2", "--merged"]);
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(
        text.contains("merged filesystem of 2 layers: 1 entries"),
        "{text}"
    );

    let code = |args: &[&str]| run(args).status.code();
    use layerslayer::cli::exit_code;
    assert_eq!(
        code(&["layers", "Bad Ref"]),
        Some(exit_code::BAD_INPUT as i32)
    );
    assert_eq!(
        code(&["peek", &sample.reference, "--layers", "9"]),
        Some(exit_code::BAD_INPUT as i32)
    );
    assert_eq!(
        code(&["layers", &format!("{}/cli/none:v1", registry.addr())]),
        Some(exit_code::NOT_FOUND as i32)
    );
    assert_eq!(
        code(&["layers", "127.0.0.1:1/x:y"]),
        Some(exit_code::REGISTRY as i32)
    );
}

#[test]
fn cli_prompts_for_layers_on_a_terminal() {
    let registry = TestRegistry::start();
    let sample = common::push_sample_image(&registry, "cli/prompt", "v1");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("chosen.csv");
    // `script` runs the command on a pseudo-terminal, so stdin and stderr are terminals.
    let command = format!(
        "{} peek {} --csv {}",
        common::layerslayer_binary().display(),
        sample.reference,
        out.display()
    );
    let mut child = std::process::Command::new("script")
        .env("XDG_CACHE_HOME", common::NO_CACHE_DIR)
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run script(1)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"7\n1\n")
        .expect("answer the prompt");
    let output = child.wait_with_output().expect("wait");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    assert!(
        screen.contains("Layers to peek (comma-separated INDEX or ALL) [default: ALL]"),
        "{screen}"
    );
    assert!(
        screen.contains("layer 7 does not exist"),
        "a bad answer is explained and asked again: {screen}"
    );
    let rows: Vec<String> = csv::Reader::from_path(&out)
        .expect("csv")
        .records()
        .map(|r| r.expect("row")[2].to_owned())
        .collect();
    assert_eq!(rows, sample.layer_paths[1]);
}

#[test]
fn non_loopback_names_need_insecure_for_plain_http() {
    let registry = TestRegistry::start();
    common::push_sample_image(&registry, "plain/app", "v1");
    // 0.0.0.0 reaches this machine but is not a loopback name, so https is expected.
    let port = registry.addr().rsplit(':').next().expect("port").to_owned();
    let reference = format!("0.0.0.0:{port}/plain/app:v1");
    let run = |extra: &[&str]| {
        common::layerslayer_command()
            .arg("layers")
            .arg(&reference)
            .args(extra)
            .output()
            .expect("run layerslayer")
    };
    let refused = run(&[]);
    assert_eq!(
        refused.status.code(),
        Some(layerslayer::cli::exit_code::REGISTRY as i32)
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--insecure"),
        "the error suggests --insecure: {stderr}"
    );
    let allowed = run(&["--insecure"]);
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert!(String::from_utf8_lossy(&allowed.stdout).contains("RUN install tool"));
}

#[test]
fn control_characters_in_names_never_reach_the_terminal_raw() {
    let registry = TestRegistry::start();
    let evil = "evil\u{1b}]0;pwned\u{7}\u{1b}[31mred\nname".to_owned();
    let layer = TestLayer::new(
        &[
            TarItem::File(evil.clone(), b"x".to_vec(), 0o644),
            TarItem::Symlink("link".into(), evil.clone()),
        ],
        Compression::Gzip,
        "RUN printf '\\033[2J'",
    );
    let pushed = push_image(&registry, "evil/names", "v1", ImageFormat::Oci, &[layer]);
    let run = |args: &[&str]| {
        common::layerslayer_command()
            .args(args)
            .output()
            .expect("run layerslayer")
    };
    for output in [
        run(&["peek", &pushed.reference, "--layers", "all"]),
        run(&["peek", &pushed.reference, "--merged"]),
        run(&["layers", &pushed.reference]),
    ] {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "raw control characters in {text:?}"
        );
    }
    let listing =
        String::from_utf8_lossy(&run(&["peek", &pushed.reference, "--layers", "0"]).stdout)
            .into_owned();
    assert!(
        listing.contains("evil\\u{1b}]0;pwned\\u{7}\\u{1b}[31mred\\nname"),
        "{listing}"
    );
    assert!(
        listing.contains("-> evil\\u{1b}"),
        "link targets are escaped too: {listing}"
    );
}
