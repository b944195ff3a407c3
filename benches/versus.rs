//! layerslayer against the tools people use for the same job, on the same blobs, in alternating
//! rounds (the machine's noise hits every tool alike); prints medians and their ratios:
//!
//! - one real filesystem layer: `layerslayer peek` against diving-rs 0.12 (both reading the
//!   same OCI archive file, and layerslayer also from the registry);
//! - a whole 4-layer image of real system trees: `layerslayer peek` (parallel layers) against
//!   the seed tool's algorithm run layer after layer, and against diving-rs.
//!
//! Run it with (diving from `cargo install diving`, skopeo and python3 from Debian):
//!
//!     cargo bench --bench versus -- --rounds 5 --trees /usr/share,/usr/include,/usr/bin,/usr/lib/python3
//!
//! Options for comparing builds on one given layer:
//!
//! - `--layer FILE`: a ready gzip layer for the one-layer comparison (instead of the first tree's);
//! - `--one-layer`: skip the whole-image comparison;
//! - `--also BIN[,BIN...]`: other `layerslayer` binaries (e.g. a baseline build, or one with
//!   `--features isal`) timed on the registry in the same alternating rounds.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bench::{push_tree_image, report, time, tree_layer};

/// `skopeo copy` of `reference` into an OCI archive.
fn oci_archive(reference: &str, file: &Path) {
    let status = Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--src-tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .arg(format!("oci-archive:{}", file.display()))
        .stdout(Stdio::null())
        .status()
        .expect("skopeo (apt-get install skopeo)");
    assert!(status.success(), "skopeo copy to {}", file.display());
}

fn main() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_layerslayer"));
    let rounds: usize = common::bench_arg("--rounds", "5")
        .parse()
        .expect("--rounds N");
    let trees_arg = common::bench_arg(
        "--trees",
        "/usr/share,/usr/include,/usr/bin,/usr/lib/python3",
    );
    let trees: Vec<&str> = trees_arg.split(',').collect();
    let seed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/seed_peek.py");
    let diving = Command::new("sh")
        .args(["-c", "command -v diving"])
        .output()
        .is_ok_and(|o| o.status.success());
    let layer_file = common::bench_arg("--layer", "");
    let one_layer_only = std::env::args().any(|a| a == "--one-layer");
    let also_arg = common::bench_arg("--also", "");
    let also: Vec<&str> = also_arg.split(',').filter(|b| !b.is_empty()).collect();
    let work = tempfile::tempdir().expect("tempdir");
    let registry = common::TestRegistry::start();
    let blobs: Vec<Vec<u8>> = trees
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i == 0 && !layer_file.is_empty() {
                std::fs::read(&layer_file).expect("read --layer")
            } else if i > 0 && one_layer_only {
                Vec::new()
            } else {
                tree_layer(t, &work.path().join("layer.tar.gz"))
            }
        })
        .collect();
    let trees: Vec<&str> = if layer_file.is_empty() {
        trees
    } else {
        std::iter::once(layer_file.as_str())
            .chain(trees[1..].iter().copied())
            .collect()
    };
    for (tree, blob) in trees.iter().zip(&blobs) {
        println!("  layer {tree}: {} MiB gzip", blob.len() >> 20);
    }

    let ours_with = |binary: &Path, reference: &str| {
        let mut command = Command::new(binary);
        command
            .args(["peek", reference, "--quiet", "--no-cache"])
            .env("XDG_CACHE_HOME", common::NO_CACHE_DIR);
        command
    };
    let ours = |reference: &str| ours_with(&binary, reference);
    let diving_on = |archive: &Path| {
        let mut command = Command::new("diving");
        command
            .env("CI", "true")
            .arg(format!("file://{}", archive.display()))
            .arg("-o")
            .arg(work.path().join("diving.json"));
        command
    };

    // One layer.
    println!(
        "\n== one layer: {} ({rounds} alternating rounds) ==",
        trees[0]
    );
    let (one, _) = push_tree_image(&registry, "versus/one", &blobs[..1], &trees[..1]);
    let one_archive = work.path().join("one.oci.tar");
    oci_archive(&one, &one_archive);
    let one_file = format!("oci-archive:{}", one_archive.display());
    let mut times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for _ in 0..rounds {
        times
            .entry("layerslayer peek (registry)")
            .or_default()
            .push(time(&mut ours(&one)));
        times
            .entry("layerslayer peek (oci-archive)")
            .or_default()
            .push(time(&mut ours(&one_file)));
        for other in &also {
            times
                .entry(other)
                .or_default()
                .push(time(&mut ours_with(Path::new(other), &one)));
        }
        if diving {
            times
                .entry("diving-rs 0.12 (oci-archive)")
                .or_default()
                .push(time(&mut diving_on(&one_archive)));
        }
    }
    report(&times, "diving-rs 0.12 (oci-archive)");
    if one_layer_only {
        return;
    }

    // The whole image.
    println!(
        "\n== a {}-layer image: {} ({rounds} alternating rounds) ==",
        trees.len(),
        trees.join(", ")
    );
    let (image, digests) = push_tree_image(&registry, "versus/image", &blobs, &trees);
    let image_archive = work.path().join("image.oci.tar");
    oci_archive(&image, &image_archive);
    let mut times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for _ in 0..rounds {
        times
            .entry("layerslayer peek, parallel layers (registry)")
            .or_default()
            .push(time(&mut ours(&image)));
        if seed.exists() {
            let started = Instant::now();
            for digest in &digests {
                time(Command::new("python3").arg(&seed).args([
                    &format!("http://{}", registry.addr()),
                    "versus/image",
                    digest,
                ]));
            }
            times
                .entry("seed algorithm, layer after layer")
                .or_default()
                .push(started.elapsed());
        }
        if diving {
            times
                .entry("diving-rs 0.12 (oci-archive)")
                .or_default()
                .push(time(&mut diving_on(&image_archive)));
        }
    }
    report(&times, "seed algorithm, layer after layer");
    report(&times, "diving-rs 0.12 (oci-archive)");
}
