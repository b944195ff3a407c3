//! How little layerslayer fetches, and how soon it answers. Each part prints its numbers next
//! to a baseline measured in the same run:
//!
//! - TOC listing: bytes fetched to list an eStargz layer (written by `estargz.Build`) and a
//!   zstd:chunked layer (written by skopeo) of a real system tree, against the whole blob;
//! - carving a file near the start of a 400 MB layer, against the whole layer: `carve --first`
//!   (early stop, no cache) and `carve` after one listing (the cached listing and index);
//! - a cached re-peek: blob bytes fetched and milliseconds per 10k entries, against the first peek;
//! - time to the first entry on a throttled link, against downloading the whole blob first
//!   (the seed tool's algorithm).
//!
//! Run it with:
//!
//!     cargo bench --bench fetch_less                         # defaults
//!     cargo bench --bench fetch_less -- --tree /usr/share --layer-mib 400 --rate-mib 4
//!
//! Needs what `tests/run` installs (docker-registry, skopeo, golang-go and the stargz package).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fault::{BodyWriter, FakeBlob, FakeRegistry};
use common::images::{noise, push_layer_blob};
use serde_json::{Value, json};

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `layerslayer peek --json` of the first layer, its wall time, and its cache directory.
fn peek(binary: &Path, reference: &str, extra: &[&str], cache: &Path) -> (Value, Duration) {
    let started = Instant::now();
    let output = Command::new(binary)
        .args(["peek", reference, "--quiet", "--json", "-"])
        .args(extra)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("run layerslayer");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: Value = serde_json::from_slice(&output.stdout).expect("json");
    (document["layers"][0].clone(), elapsed)
}

fn main() {
    let binary = Path::new(env!("CARGO_BIN_EXE_layerslayer"));
    let tree = common::bench_arg("--tree", "/usr/share");
    let layer_mib: usize = common::bench_arg("--layer-mib", "400")
        .parse()
        .expect("--layer-mib N");
    let rate_mib: u64 = common::bench_arg("--rate-mib", "4")
        .parse()
        .expect("--rate-mib N");
    let work = tempfile::tempdir().expect("tempdir");
    let no_cache = Path::new(common::NO_CACHE_DIR);
    let registry = common::TestRegistry::start();

    // Part 1: TOC listing of a real system tree.
    println!("== TOC listing: {tree} as eStargz (estargz.Build) and zstd:chunked (skopeo) ==");
    let tar_path = work.path().join("tree.tar");
    let status = Command::new("sh")
        .args([
            "-c",
            &format!(
                "tar -C / -cf '{}' '{}' 2>/dev/null",
                tar_path.display(),
                tree.trim_start_matches('/')
            ),
        ])
        .status()
        .expect("tar");
    assert!(status.success() || tar_path.metadata().is_ok_and(|m| m.len() > 0));
    let tar = std::fs::read(&tar_path).expect("read tar");
    let built = common::estargz::build(&tar, false, 0);
    let annotations = BTreeMap::from([(
        "containerd.io/snapshot/stargz/toc.digest".to_owned(),
        built.toc_digest.clone(),
    )]);
    let estargz = push_layer_blob(
        &registry,
        "bench/estargz",
        &built.blob,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &annotations,
    );
    let gzip = common::images::compress(&tar, common::Compression::Gzip);
    let plain = push_layer_blob(
        &registry,
        "bench/gzip",
        &gzip,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &BTreeMap::new(),
    );
    drop(gzip);
    let zstd = format!("{}/bench/zstd:v1", registry.addr());
    common::skopeo_copy_to_zstd_chunked(&plain, &zstd);
    for (name, reference) in [("eStargz", &estargz), ("zstd:chunked", &zstd)] {
        let (full, full_time) = peek(binary, reference, &["--no-toc"], no_cache);
        let (toc, toc_time) = peek(binary, reference, &[], no_cache);
        let size = toc["layer"]["descriptor"]["size"].as_u64().unwrap_or(0);
        let fetched = toc["bytes_read"].as_u64().unwrap_or(0);
        assert_eq!(
            toc["entries"], full["entries"],
            "{name}: TOC and stream agree"
        );
        println!(
            "  {name:<13} {} entries; TOC listing fetched {:.2} MiB of {:.1} MiB ({:.2}% of the blob) in {:.2} s; full stream {:.2} s ({:.2}x its time)",
            toc["entries"].as_array().map_or(0, Vec::len),
            mib(fetched),
            mib(size),
            fetched as f64 * 100.0 / size.max(1) as f64,
            toc_time.as_secs_f64(),
            full_time.as_secs_f64(),
            toc_time.as_secs_f64() / full_time.as_secs_f64(),
        );
    }

    // Part 2: carving a file near the start of a big layer, and one from a TOC layer.
    println!("\n== carve: a file near the start of a {layer_mib} MB gzip layer ==");
    let mut items = vec![common::TarItem::File(
        "app/config.json".into(),
        br#"{"carved": true}"#.to_vec(),
        0o644,
    )];
    for i in 0..layer_mib / 8 {
        items.push(common::TarItem::File(
            format!("app/blob-{i}.bin"),
            noise(i as u64, 8 << 20),
            0o644,
        ));
    }
    let (big_tar, _) = common::images::build_tar(&items);
    drop(items);
    let big = common::images::compress(&big_tar, common::Compression::Gzip);
    drop(big_tar);
    let big_ref = push_layer_blob(
        &registry,
        "bench/big",
        &big,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &BTreeMap::new(),
    );
    let carve = |reference: &str, path: &str, extra: &[&str], cache: &Path| {
        let started = Instant::now();
        let output = Command::new(binary)
            .args(["carve", reference, path, "-o", "-"])
            .args(extra)
            .env("XDG_CACHE_HOME", cache)
            .output()
            .expect("carve");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        (
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            started.elapsed(),
        )
    };
    let (_, full_time) = peek(binary, &big_ref, &[], no_cache);
    // `carve --first`: the early stop at the path's first entry (wrong for repeated paths).
    let (report, first_time) = carve(&big_ref, "app/config.json", &["--first"], no_cache);
    println!("  --first: {report}");
    println!(
        "  carve --first {:.2} s; a full listing of the layer {:.2} s ({:.3}x its time); layer {:.1} MiB",
        first_time.as_secs_f64(),
        full_time.as_secs_f64(),
        first_time.as_secs_f64() / full_time.as_secs_f64(),
        mib(big.len() as u64)
    );
    // `carve` (the last entry) after one listing: the cached listing and index say where the
    // last entry's data is.
    let listed = work.path().join("carve-cache");
    peek(binary, &big_ref, &[], &listed);
    let (report, last_time) = carve(&big_ref, "app/config.json", &[], &listed);
    println!("  after one listing: {report}");
    println!(
        "  carve {:.2} s after one listing ({:.3}x the listing's time)",
        last_time.as_secs_f64(),
        last_time.as_secs_f64() / full_time.as_secs_f64(),
    );
    drop(big);
    let middle = built_toc_file(&tar);
    let (report, _) = carve(&estargz, &middle, &[], no_cache);
    println!("  eStargz layer, {middle}: {report}");

    // Part 3: cached re-peek.
    println!("\n== cached re-peek of the {tree} gzip layer ==");
    let cache = work.path().join("cache");
    let (first, first_time) = peek(binary, &plain, &["--no-toc"], &cache);
    let (again, again_time) = peek(binary, &plain, &["--no-toc"], &cache);
    let entries = again["entries"].as_array().map_or(0, Vec::len);
    assert_eq!(again["listed_from"], json!("cache"));
    println!(
        "  first peek {:.2} s, {:.1} MiB fetched; re-peek {:.3} s, {} bytes fetched, {:.1} ms per 10k entries ({} entries; {:.3}x the first peek's time)",
        first_time.as_secs_f64(),
        mib(first["bytes_read"].as_u64().unwrap_or(0)),
        again_time.as_secs_f64(),
        again["bytes_read"].as_u64().unwrap_or(0),
        again_time.as_secs_f64() * 1000.0 * 10_000.0 / entries.max(1) as f64,
        entries,
        again_time.as_secs_f64() / first_time.as_secs_f64(),
    );

    // Part 4: time to the first entry on a throttled link.
    println!("\n== time to the first entry: a 32 MiB layer at {rate_mib} MiB/s ==");
    let layer = common::fault::synthetic_big_layer(8, 4 << 20);
    let FakeBlob::Generated(length, digest, write) = layer else {
        unreachable!("a generated blob")
    };
    let throttled: BodyWriter = Arc::new(move |out: &mut dyn Write| {
        let mut limited = Throttled::new(out, rate_mib << 20);
        write(&mut limited)
    });
    let server = FakeRegistry::new(vec![(
        "application/vnd.oci.image.layer.v1.tar",
        FakeBlob::Generated(length, digest, throttled),
    )])
    .serve_plain();
    let reference = FakeRegistry::reference(&server);
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["peek", &reference, "--layers", "0"])
        .env("XDG_CACHE_HOME", no_cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("peek");
    let stdout = child.stdout.take().expect("stdout");
    let mut first_entry = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if first_entry.is_none() && line.starts_with("  file") {
            first_entry = Some(started.elapsed());
        }
    }
    let whole = started.elapsed();
    child.wait().expect("wait");
    let first_entry = first_entry.expect("an entry was printed");
    println!(
        "  first entry after {:.3} s; the whole blob (the seed's first entry) after {:.2} s ({:.3}x)",
        first_entry.as_secs_f64(),
        whole.as_secs_f64(),
        first_entry.as_secs_f64() / whole.as_secs_f64()
    );
}

/// A regular file about in the middle of the tar, to carve from the eStargz layer.
fn built_toc_file(tar: &[u8]) -> String {
    let mut archive = tar::Archive::new(tar);
    let files: Vec<String> = archive
        .entries()
        .expect("entries")
        .filter_map(Result::ok)
        .filter(|e| e.header().entry_type() == tar::EntryType::Regular && e.size() > 64 * 1024)
        .filter_map(|e| e.path().ok().map(|p| p.to_string_lossy().into_owned()))
        .collect();
    files[files.len() / 2].clone()
}

/// A writer that lets `rate` bytes through per second.
struct Throttled<'a> {
    out: &'a mut dyn Write,
    rate: u64,
    started: Instant,
    written: u64,
}

impl<'a> Throttled<'a> {
    fn new(out: &'a mut dyn Write, rate: u64) -> Self {
        Self {
            out,
            rate,
            started: Instant::now(),
            written: 0,
        }
    }
}

impl Write for Throttled<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let due = Duration::from_secs_f64(self.written as f64 / self.rate as f64);
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(wait); // a rate limit, not synchronisation
        }
        let n = self.out.write(&buf[..buf.len().min(16 * 1024)])?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
