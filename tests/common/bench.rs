//! What the benchmarks share: gzip layers of this machine's own directories, pushed as images
//! to a test registry.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::images::{push_blob, push_manifest, sha256};
use super::{Compression, TestLayer, TestRegistry};

/// Tars and gzips (`tar | gzip -6`) the system directory `tree` into the file `path`;
/// returns the blob.
pub fn tree_layer(tree: &str, path: &Path) -> Vec<u8> {
    let status = Command::new("sh")
        .args([
            "-c",
            &format!(
                "tar -C / -cf - '{}' 2>/dev/null | gzip -6 > '{}'",
                tree.trim_start_matches('/'),
                path.display()
            ),
        ])
        .status()
        .expect("tar | gzip");
    assert!(
        status.success() || path.metadata().is_ok_and(|m| m.len() > 0),
        "could not build the layer of {tree}"
    );
    std::fs::read(path).expect("read layer")
}

/// Pushes `repo:v1`, an image of the gzip layers `blobs` made by `ADD` of each of `trees`;
/// returns its reference and the layer digests.
pub fn push_tree_image(
    registry: &TestRegistry,
    repo: &str,
    blobs: &[Vec<u8>],
    trees: &[&str],
) -> (String, Vec<String>) {
    let addr = registry.addr();
    let digests: Vec<String> = blobs
        .iter()
        .map(|blob| push_blob(&addr, &None, repo, blob))
        .collect();
    let config = serde_json::to_vec(&json!({
        "created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": digests},
        "history": trees.iter().map(|t| json!({"created": "2024-01-01T00:00:00Z", "created_by": format!("ADD {t}")})).collect::<Vec<_>>(),
    }))
    .expect("config");
    push_blob(&addr, &None, repo, &config);
    let layers: Vec<_> = blobs
        .iter()
        .zip(&digests)
        .map(|(blob, digest)| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": blob.len()}))
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": layers,
    }))
    .expect("manifest");
    push_manifest(
        &addr,
        &None,
        repo,
        "v1",
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    );
    (format!("{addr}/{repo}:v1"), digests)
}

/// Wall time of a command with its output discarded; panics when it fails.
pub fn time(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run a benchmark command");
    assert!(status.success(), "{command:?} failed");
    started.elapsed()
}

/// The middle of `times`.
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Prints each tool's median and its ratio to `baseline`'s.
pub fn report(times: &BTreeMap<&str, Vec<Duration>>, baseline: &str) {
    let Some(base) = times.get(baseline).cloned().map(median) else {
        println!("  ({baseline} not measured)");
        return;
    };
    println!("  against {baseline}:");
    for (name, runs) in times {
        let m = median(runs.clone());
        println!(
            "    {name:<46} median {:>6.3} s  {:.2}x",
            m.as_secs_f64(),
            m.as_secs_f64() / base.as_secs_f64()
        );
    }
}

/// A gzip layer (`tar`, then `gzip -6`) of the system directory `tree`, built in `work`, as a
/// [`TestLayer`] (blob, digest and diff_id).
pub fn tree_test_layer(tree: &str, work: &Path) -> TestLayer {
    let tar_path = work.join("layer.tar");
    let status = Command::new("tar")
        .args(["-C", "/", "-cf"])
        .arg(&tar_path)
        .arg(tree.trim_start_matches('/'))
        .status()
        .expect("run tar");
    assert!(status.success() || tar_path.metadata().is_ok_and(|m| m.len() > 0));
    let tar = std::fs::read(&tar_path).expect("read tar");
    let gzip = Command::new("gzip")
        .args(["-6", "-k", "-f"])
        .arg(&tar_path)
        .status()
        .expect("run gzip");
    assert!(gzip.success());
    let blob = std::fs::read(work.join("layer.tar.gz")).expect("read gzip");
    std::fs::remove_file(&tar_path).ok();
    TestLayer {
        digest: sha256(&blob),
        diff_id: sha256(&tar),
        blob,
        compression: Compression::Gzip,
        expected: Vec::new(),
        created_by: format!("COPY {tree} {tree}"),
    }
}
