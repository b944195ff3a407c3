//! Peeking an image in a local engine against peeking the same image saved to a file: a
//! 4-layer image of real system trees built in a Podman store of its own, served by Podman's
//! Docker-compatible API (as `tests/core/engine.rs` does), in alternating rounds.
//!
//! Three timings, medians and their ratios against the archive peek:
//! - `peek docker-archive:FILE` of the image as `podman save` wrote it;
//! - `peek podman:NAME`: the engine's save stream, read once;
//! - the engine's save stream alone (`GET /images/NAME/get` read to its end, by curl): what
//!   the engine itself takes to produce what the peek reads, the floor of an engine peek.
//!
//! Run it with (podman and curl from Debian):
//!
//!     cargo bench --bench engine -- --rounds 7 --trees /usr/share/perl,/usr/share/i18n,/usr/share/zoneinfo,/usr/share/X11

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::bench::{report, time};
use common::podman::Podman;

fn main() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_layerslayer"));
    let rounds: usize = common::bench_arg("--rounds", "5")
        .parse()
        .expect("--rounds N");
    let trees = common::bench_arg(
        "--trees",
        "/usr/share/perl,/usr/share/i18n,/usr/share/zoneinfo,/usr/share/X11",
    );
    let podman = Podman::new();
    let context = podman.dir.path().join("context");
    let mut containerfile = String::from("FROM scratch\n");
    for (index, tree) in trees.split(',').enumerate() {
        let copy = context.join(format!("l{index}"));
        std::fs::create_dir_all(&copy).expect("context dir");
        let status = Command::new("cp")
            .args(["-a", &format!("{tree}/."), &copy.display().to_string()])
            .status()
            .expect("cp");
        assert!(status.success(), "copy {tree}");
        containerfile.push_str(&format!("COPY l{index} {tree}\n"));
    }
    std::fs::write(context.join("Containerfile"), containerfile).expect("Containerfile");
    let context_arg = context.display().to_string();
    podman.run(&["build", "-q", "-t", "bench:1", &context_arg]);
    let archive = podman.dir.path().join("saved.docker.tar");
    let archive_arg = archive.display().to_string();
    podman.run(&[
        "save",
        "--format",
        "docker-archive",
        "-o",
        &archive_arg,
        "bench:1",
    ]);
    let size = std::fs::metadata(&archive).map_or(0, |m| m.len());
    println!(
        "image: {} layers of {trees}; saved: {} MiB",
        trees.split(',').count(),
        size >> 20
    );

    let service = podman.serve();
    let host = service.host();
    let socket = host.trim_start_matches("unix://").to_owned();
    let no_cache = tempfile::tempdir().expect("cache dir");
    let peek = |image: &str| {
        let mut command = Command::new(&binary);
        command
            .args(["peek", image, "--quiet", "--no-cache"])
            .env("XDG_CACHE_HOME", no_cache.path())
            .env("CONTAINER_HOST", &host);
        command
    };
    let export = || {
        let mut command = Command::new("curl");
        command.args([
            "-sf",
            "--unix-socket",
            &socket,
            "-o",
            "/dev/null",
            "http://engine/images/bench:1/get",
        ]);
        command
    };
    let archive_peek = format!("docker-archive:{archive_arg}");
    let mut times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for _ in 0..rounds {
        for (name, mut command) in [
            ("peek docker-archive:FILE", peek(&archive_peek)),
            ("peek podman:bench:1", peek("podman:bench:1")),
            ("the engine's save stream alone (curl)", export()),
        ] {
            times.entry(name).or_default().push(time(&mut command));
        }
    }
    println!("== {rounds} alternating rounds ==");
    report(&times, "peek docker-archive:FILE");
}
