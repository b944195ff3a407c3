//! Side-by-side benchmark of `layerslayer peek` (release build) against the GNU pipeline
//! `curl | gzip -dc | tar -t`, the seed tool's algorithm (`../shared/bench/seed_peek.py`) and,
//! when installed, diving-rs — on the same blobs, served from this machine.
//!
//!     cargo bench --bench peek                       # defaults
//!     cargo bench --bench peek -- --big-gib 4 --tree /usr/share --runs 3
//!
//! Part 1 streams a synthetic multi-GiB layer from the in-process fault server and reports
//! peak RSS. Part 2 tars + gzips a real system directory, pushes it to a real local registry
//! and times a full listing with every tool. Peak RSS comes from GNU time (`apt-get install time`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::FakeRegistry;
use common::bench::{push_tree_image, tree_layer};
use common::fault::synthetic_big_layer;

struct Measurement {
    wall: Duration,
    peak_rss_kib: i64,
    success: bool,
}

/// Runs a command under GNU time with its output discarded; returns wall time and the
/// command's own peak RSS (measured by `time`, which forks it from a small process, so the
/// benchmark's own memory does not count).
fn measure(command: &Command) -> Measurement {
    let report = tempfile::NamedTempFile::new().expect("time report file");
    let started = Instant::now();
    let status = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(report.path())
        .arg(command.get_program())
        .args(command.get_args())
        .envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run /usr/bin/time (apt-get install time)");
    let wall = started.elapsed();
    let text = std::fs::read_to_string(report.path()).unwrap_or_default();
    let peak_rss_kib = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(-1);
    Measurement {
        wall,
        peak_rss_kib,
        success: status.success(),
    }
}

/// Best of `runs` (shortest wall time; peak RSS of the same run).
fn best_of(runs: usize, mut make: impl FnMut() -> Command) -> Measurement {
    (0..runs)
        .map(|_| measure(&make()))
        .inspect(|m| assert!(m.success, "a benchmark command failed"))
        .min_by_key(|m| m.wall)
        .expect("at least one run")
}

fn report(name: &str, m: &Measurement, baseline: &Measurement) {
    println!(
        "  {name:<34} {:>7.2} s  {:>5.2}x baseline time  peak RSS {:>7.1} MiB",
        m.wall.as_secs_f64(),
        m.wall.as_secs_f64() / baseline.wall.as_secs_f64(),
        m.peak_rss_kib as f64 / 1024.0
    );
}

fn main() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_layerslayer"));
    let big_gib: u64 = common::bench_arg("--big-gib", "4")
        .parse()
        .expect("--big-gib N");
    let tree = common::bench_arg("--tree", "/usr/share");
    let runs: usize = common::bench_arg("--runs", "3").parse().expect("--runs N");
    let seed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/seed_peek.py");

    // Part 1: synthetic multi-GiB layer, generated while it is sent.
    let files = (big_gib * 4) as usize;
    let server = FakeRegistry::new(vec![(
        "application/vnd.oci.image.layer.v1.tar",
        synthetic_big_layer(files, 256 << 20),
    )])
    .serve_plain();
    let reference = FakeRegistry::reference(&server);
    println!("== synthetic layer: {big_gib} GiB uncompressed tar from the fault server ==");
    let ours = best_of(1, || {
        let mut c = Command::new(&binary);
        c.args(["peek", &reference, "--layers", "all", "--quiet"]);
        c
    });
    let url = format!("http://{}/v2/test/app/blobs/{}", server.addr(), {
        let listing = Command::new(&binary)
            .args(["layers", &reference, "--json"])
            .output()
            .expect("layers");
        let value: serde_json::Value =
            serde_json::from_slice(&listing.stdout).expect("layers json");
        value["layers"][0]["descriptor"]["digest"]
            .as_str()
            .expect("digest")
            .to_owned()
    });
    let gnu = best_of(1, || {
        let mut c = Command::new("sh");
        c.args(["-c", &format!("curl -sf '{url}' | tar -t")]);
        c
    });
    report("GNU curl | tar -t (baseline)", &gnu, &gnu);
    report("layerslayer peek", &ours, &gnu);
    drop(server);

    // Part 2: a real filesystem layer in a real registry.
    let registry = common::TestRegistry::start();
    let work = tempfile::tempdir().expect("tempdir");
    let blob_path = work.path().join("layer.tar.gz");
    println!("\n== real layer: {tree} as a gzip layer in docker-registry ==");
    let blob = tree_layer(&tree, &blob_path);
    let uncompressed = Command::new("sh")
        .args(["-c", &format!("gzip -dc '{}' | wc -c", blob_path.display())])
        .output()
        .expect("wc");
    println!(
        "  layer: {} MiB gzip, {} MiB tar",
        blob.len() >> 20,
        String::from_utf8_lossy(&uncompressed.stdout)
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
            >> 20
    );
    let repo = "bench/real";
    let addr = registry.addr();
    let (reference, digests) = push_tree_image(&registry, repo, &[blob], &[tree.as_str()]);
    let digest = digests.into_iter().next().expect("the layer's digest");
    let url = format!("http://{addr}/v2/{repo}/blobs/{digest}");

    let gnu = best_of(runs, || {
        let mut c = Command::new("sh");
        c.args(["-c", &format!("curl -sf '{url}' | gzip -dc | tar -t")]);
        c
    });
    let ours = best_of(runs, || {
        let mut c = Command::new(&binary);
        c.args(["peek", &reference, "--layers", "all", "--quiet"]);
        c
    });
    report("GNU curl | gzip -dc | tar -t (baseline)", &gnu, &gnu);
    report("layerslayer peek", &ours, &gnu);
    if seed.exists() {
        let seed_run = best_of(runs, || {
            let mut c = Command::new("python3");
            c.arg(&seed)
                .args([&format!("http://{addr}"), repo, &digest]);
            c
        });
        report("seed algorithm (seed_peek.py)", &seed_run, &gnu);
    } else {
        println!("  seed algorithm: {} not found, skipped", seed.display());
    }
    run_diving(&reference, work.path(), runs, &gnu);
    run_local_archives(&binary, &reference, &digest, work.path(), runs);
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `skopeo copy` from the local registry to `destination`; false when it fails.
fn skopeo_export(reference: &str, destination: &str) -> bool {
    Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{reference}"),
            destination,
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Part 3: the same layer read from image files on disk, against GNU tar pulling the blob out
/// of the archive into `gzip -dc | tar -t`.
fn run_local_archives(binary: &Path, reference: &str, digest: &str, work: &Path, runs: usize) {
    println!("\n== the same layer from image files (skopeo oci-archive, docker save | gzip) ==");
    if !have("skopeo") {
        println!("  skopeo not installed (apt-get install skopeo), skipped");
        return;
    }
    let archive = work.join("local.oci.tar");
    if !skopeo_export(reference, &format!("oci-archive:{}", archive.display())) {
        println!("  skopeo could not export the image, skipped");
        return;
    }
    let member = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let gnu = best_of(runs, || {
        let mut c = Command::new("sh");
        c.args([
            "-c",
            &format!(
                "tar -xOf '{}' '{member}' | gzip -dc | tar -t",
                archive.display()
            ),
        ]);
        c
    });
    let ours = best_of(runs, || {
        let mut c = Command::new(binary);
        c.args([
            "peek",
            &format!("oci-archive:{}", archive.display()),
            "--quiet",
        ]);
        c
    });
    report("GNU tar -xOf | gzip -dc | tar -t (baseline)", &gnu, &gnu);
    report("layerslayer peek oci-archive:", &ours, &gnu);

    let docker = work.join("local.docker.tar");
    if !skopeo_export(
        reference,
        &format!("docker-archive:{}:bench/real:v1", docker.display()),
    ) {
        println!("  skopeo could not write a docker archive, skipped");
        return;
    }
    let gzipped = work.join("local.docker.tar.gz");
    let status = Command::new("sh")
        .args([
            "-c",
            &format!("gzip -1c '{}' > '{}'", docker.display(), gzipped.display()),
        ])
        .status()
        .expect("gzip");
    assert!(status.success(), "gzip the docker archive");
    let gnu = best_of(runs, || {
        let mut c = Command::new("sh");
        c.args([
            "-c",
            &format!(
                "tar -xzOf '{}' --wildcards '*.tar' | tar -t",
                gzipped.display()
            ),
        ]);
        c
    });
    let ours = best_of(runs, || {
        let mut c = Command::new(binary);
        c.args(["peek", &gzipped.display().to_string(), "--quiet"]);
        c
    });
    report(
        "GNU tar -xzOf | tar -t on docker save | gzip (baseline)",
        &gnu,
        &gnu,
    );
    report("layerslayer peek (sequential gzip archive)", &ours, &gnu);
}

/// diving-rs reads OCI archives from disk; skopeo makes one from the local registry.
fn run_diving(reference: &str, work: &Path, runs: usize, baseline: &Measurement) {
    if !have("diving") || !have("skopeo") {
        println!(
            "  diving-rs: not installed (cargo install diving; apt-get install skopeo), skipped"
        );
        return;
    }
    let archive = work.join("image.oci.tar");
    if !skopeo_export(reference, &format!("oci-archive:{}", archive.display())) {
        println!("  diving-rs: skopeo could not export the image, skipped");
        return;
    }
    let output = work.join("diving.json");
    let diving = best_of(runs, || {
        let mut c = Command::new("diving");
        c.env("CI", "true")
            .arg(format!("file://{}", archive.display()))
            .arg("-o")
            .arg(&output);
        c
    });
    report(
        "diving-rs 0.12 (from a local OCI archive)",
        &diving,
        baseline,
    );
}
