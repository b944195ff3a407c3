//! Images in a local engine (`docker-daemon:`, `podman:`, `--engine`), read through Podman's
//! Docker-compatible API service started by the test on a socket it owns (`tests/run`
//! installs Debian's podman; the tests run as root, with the vfs storage driver).

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use crate::common::podman::{Podman, build_image};

use serde_json::Value;

/// Runs `peek --json -` with `envs`; returns the exit code, the JSON (if any) and stderr.
fn peek(args: &[&str], envs: &[(&str, &str)]) -> (i32, Option<Value>, String) {
    let mut command = crate::common::layerslayer_command();
    command
        .arg("peek")
        .args(["-q", "--json", "-"])
        .args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("CONTAINER_HOST");
    for (key, value) in envs {
        command.env(key, value);
    }
    let (code, stdout, stderr) = crate::common::run_for_output(&mut command);
    (code, serde_json::from_slice(&stdout).ok(), stderr)
}

fn peek_ok(args: &[&str], envs: &[(&str, &str)]) -> Value {
    let (code, json, stderr) = peek(args, envs);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    json.unwrap_or_else(|| panic!("{args:?}: no JSON"))
}

/// Per layer: its entries and build step, and (for `with_digests`) its digest.
fn layers_of(json: &Value, with_digests: bool) -> Vec<(Value, Value, Value)> {
    json["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| {
            assert_eq!(layer["status"]["state"], "complete", "{}", layer["status"]);
            (
                layer["entries"].clone(),
                layer["layer"]["created_by"].clone(),
                if with_digests {
                    layer["layer"]["descriptor"]["digest"].clone()
                } else {
                    Value::Null
                },
            )
        })
        .collect()
}

/// Every file under `dir`, recursively.
fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn engine_images_list_exactly_as_their_saved_archives_do() {
    let podman = Podman::new();
    build_image(&podman);
    let docker_tar = podman.dir.path().join("saved.docker.tar");
    let oci_tar = podman.dir.path().join("saved.oci.tar");
    for (format, file) in [("docker-archive", &docker_tar), ("oci-archive", &oci_tar)] {
        let output = file.display().to_string();
        podman.run(&["save", "--format", format, "-o", &output, "layers:1"]);
    }
    let service = podman.serve();
    let host = service.host();
    let archive = peek_ok(
        &[
            "--no-cache",
            &format!("docker-archive:{}", docker_tar.display()),
        ],
        &[],
    );
    let oci = peek_ok(
        &["--no-cache", &format!("oci-archive:{}", oci_tar.display())],
        &[],
    );
    let expected = layers_of(&archive, true);
    assert_eq!(expected.len(), 4);
    assert_eq!(layers_of(&oci, false), layers_of(&archive, false));

    for (args, envs) in [
        (vec!["podman:layers:1"], [("CONTAINER_HOST", host.as_str())]),
        (
            vec!["podman:localhost/layers:1"],
            [("CONTAINER_HOST", host.as_str())],
        ),
        (
            vec!["docker-daemon:layers:1"],
            [("DOCKER_HOST", host.as_str())],
        ),
        (
            vec!["--engine", "layers:1"],
            [("DOCKER_HOST", host.as_str())],
        ),
        // A bare name (no registry written) is looked for in the engine first.
        (vec!["layers:1"], [("CONTAINER_HOST", host.as_str())]),
    ] {
        let mut all = vec!["--no-cache"];
        all.extend(&args);
        let json = peek_ok(&all, &envs);
        assert_eq!(layers_of(&json, true), expected, "{args:?}");
        assert_eq!(
            json["image"]["config"]["rootfs"], archive["image"]["config"]["rootfs"],
            "{args:?}"
        );
    }

    // Through the listing cache: two layers cached first, then the whole image; the pump
    // skips the cached layers as they pass by in the save stream.
    let cache = tempfile::tempdir().expect("cache dir");
    let cache_env = cache.path().display().to_string();
    // Temporary files would land here: an engine peek writes none.
    let scratch = tempfile::tempdir().expect("scratch dir");
    let scratch_env = scratch.path().display().to_string();
    let envs = [
        ("CONTAINER_HOST", host.as_str()),
        ("XDG_CACHE_HOME", cache_env.as_str()),
        ("TMPDIR", scratch_env.as_str()),
    ];
    let partial = peek_ok(&["--layers", "0,2", "podman:layers:1"], &envs);
    assert_eq!(partial["layers"].as_array().map(Vec::len), Some(2));
    let whole = peek_ok(&["podman:layers:1"], &envs);
    assert_eq!(layers_of(&whole, true), expected);
    let from: Vec<&str> = whole["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| layer["listed_from"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(from, ["cache", "blob", "cache", "blob"]);
    // Nothing on disk but the cache: one listing per layer, and the search index that follows
    // the listings (the image recorded once its layers were all listed); no temporary file.
    let written: Vec<PathBuf> = walk_files(cache.path());
    let under = |folder: &str| {
        written
            .iter()
            .filter(|file| {
                file.strip_prefix(cache.path())
                    .is_ok_and(|rel| rel.starts_with(folder))
            })
            .count()
    };
    assert_eq!(under("layerslayer/listings"), 4, "{written:?}");
    assert_eq!(
        under("layerslayer/listings") + under("layerslayer/search"),
        written.len(),
        "{written:?}"
    );
    let found = crate::common::layerslayer_command()
        .args(["search", "srv/data/y"])
        .env("XDG_CACHE_HOME", &cache_env)
        .output()
        .expect("run search");
    let hits = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(0), "{hits}");
    assert!(
        hits.contains("podman:layers:1"),
        "the peek recorded the image: {hits}"
    );
    assert_eq!(walk_files(scratch.path()), Vec::<PathBuf>::new());

    // An image the engine does not have: exit 4, named.
    let (code, _, stderr) = peek(&["podman:no-such-image:1"], &envs);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("no-such-image"), "{stderr}");
}

#[test]
fn without_an_engine_the_message_names_the_sockets_tried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.sock");
    let host = format!("unix://{}", missing.display());
    for (args, env) in [
        (vec!["podman:app:1"], "CONTAINER_HOST"),
        (vec!["docker-daemon:app:1"], "DOCKER_HOST"),
        (vec!["--engine", "app:1"], "DOCKER_HOST"),
    ] {
        let (code, _, stderr) = peek(&args, &[(env, host.as_str())]);
        assert_eq!(code, 6, "{args:?}: {stderr}");
        assert!(stderr.contains("no container engine found"), "{stderr}");
        assert!(stderr.contains(&host), "{args:?}: {stderr}");
        assert!(stderr.contains(env), "{args:?}: {stderr}");
    }
    // A socket nobody listens on: not running, said so.
    let dead = dir.path().join("dead.sock");
    drop(UnixListener::bind(&dead).expect("bind"));
    let (code, _, stderr) = peek(
        &["podman:app:1"],
        &[("CONTAINER_HOST", &format!("unix://{}", dead.display()))],
    );
    assert_eq!(code, 6, "{stderr}");
    assert!(stderr.contains("is it running"), "{stderr}");
    assert!(Path::new(&dead).exists());
}
