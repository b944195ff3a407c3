//! What `index` costs (issue 16), each part next to its baseline from the same run:
//!
//! - A. indexing on top of a full listing: the same gzip image of a system tree read from a
//!   loopback registry with a fresh listing cache, once listed only, once listed and indexed
//!   (rows stored, image recorded with its final-filesystem marks); alternating rounds,
//!   medians; plus the index's bytes on disk per path and the extra time per path;
//! - B. `index` of a registry of `--images` images whose layers are all eStargz (written by
//!   `estargz.Build`), `--bases` base layers shared between them and one own layer each, all
//!   cut from the same tree: bytes the registry sent (every request: catalog, tags,
//!   manifests, configs, TOCs) against the distinct blob bytes it holds;
//! - C. `search` over that index (the process, as a user runs it): substring, glob, regex,
//!   medians of 7;
//! - D. `search` at scale: `--scale-layers` layers (default 200) of `--scale-paths` made-up
//!   paths each (default 10,000: 2,000,000 paths), written through the library into a
//!   listing cache and an index, 10 layers an image: substring and glob, medians of 7.
//!
//! Run it with:
//!
//!     cargo bench --bench index                               # defaults
//!     cargo bench --bench index -- --tree /usr/share --mib 300 --images 30 --bases 6 --rounds 3
//!
//! Needs what `tests/run` installs (docker-registry, golang-go and the stargz package).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::images::{push_blob, push_manifest, sha256};
use common::proxy::RegistryProxy;
use layerslayer::cancel::CancelToken;
use layerslayer::layer::cache::{DEFAULT_MAX_BYTES, ListingCache};
use layerslayer::layer::list::{ContentNeed, ListingOptions};
use layerslayer::layer::parallel::{ReadProgress, default_concurrency, read_listings};
use layerslayer::search::{ImageRecord, SearchIndex};
use serde_json::json;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Lists (and with `index`, indexes) `reference` with a fresh cache under `work`; returns
/// the time, the paths listed and the index's bytes on disk.
fn list_once(reference: &str, work: &Path, index: bool) -> (Duration, usize, u64) {
    let home = tempfile::tempdir_in(work).expect("tempdir");
    let cache = ListingCache::open(home.path().join("listings"), DEFAULT_MAX_BYTES).expect("cache");
    let search = SearchIndex::open(home.path().join("search"), cache).expect("index");
    let cancel = CancelToken::new();
    let started = Instant::now();
    let opened = layerslayer::source::open::open_image(reference, &Default::default(), &cancel)
        .expect("open");
    let layers = &opened.info.layers;
    let progress: Vec<_> = layers.iter().map(|_| Default::default()).collect();
    let options = ListingOptions {
        cache: Some(search.cache()),
        use_toc: true,
        content: ContentNeed::Skip,
    };
    let mut paths = 0;
    read_listings(
        opened.source.as_ref(),
        layers,
        options,
        default_concurrency(),
        &progress,
        &cancel,
        &mut |event| {
            if let ReadProgress::LayerDone(_, listing) = event {
                assert!(listing.result.status.problem().is_none());
                paths += listing.entries.len();
                if index {
                    search
                        .add_layer(listing.layer.digest(), &listing.entries)
                        .expect("add layer");
                }
            }
        },
    );
    if index {
        let record = ImageRecord {
            reference: reference.to_owned(),
            manifest_digest: opened.info.manifest_digest.clone(),
            platform: None,
            source_kind: "registry".into(),
            seen: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            layers: layers.iter().map(|l| l.digest().to_owned()).collect(),
            not_final: Vec::new(),
        };
        search
            .record_image(record, &mut Vec::new())
            .expect("record");
    }
    let took = started.elapsed();
    (took, paths, dir_bytes(&home.path().join("search")))
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                dir_bytes(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// The regular files of `tree`, sorted, up to `limit` bytes of data.
fn files_of(tree: &str, limit: u64) -> Vec<(String, u64)> {
    let output = Command::new("find")
        .args([tree, "-type", "f", "-printf", "%s %P\\n"])
        .output()
        .expect("find");
    let mut files: Vec<(String, u64)> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (size, path) = line.split_once(' ')?;
            Some((
                format!("{}/{path}", tree.trim_start_matches('/')),
                size.parse().ok()?,
            ))
        })
        .collect();
    files.sort();
    let mut total = 0;
    files.retain(|(_, size)| {
        total += size;
        total <= limit
    });
    files
}

/// An eStargz blob (and its TOC digest) of `files` (paths relative to `/`).
fn estargz_of(files: &[(String, u64)], work: &Path) -> common::estargz::EstargzBlob {
    let list = work.join("files.txt");
    let names: String = files.iter().map(|(p, _)| format!("{p}\n")).collect();
    std::fs::write(&list, names).expect("write list");
    let output = Command::new("tar")
        .args(["-C", "/", "--no-recursion", "-cf", "-", "-T"])
        .arg(&list)
        .output()
        .expect("run tar");
    assert!(!output.stdout.is_empty(), "tar wrote nothing");
    common::estargz::build(&output.stdout, false, 4 << 20)
}

/// Pushes an image of eStargz `layers` (blob, TOC digest) at `repo:v1`.
fn push_estargz_image(addr: &str, repo: &str, layers: &[&common::estargz::EstargzBlob]) {
    let auth = None;
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for layer in layers {
        let digest = push_blob(addr, &auth, repo, &layer.blob);
        diff_ids.push(digest.clone());
        descriptors.push(json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest, "size": layer.blob.len(),
            "annotations": {"containerd.io/snapshot/stargz/toc.digest": layer.toc_digest},
        }));
    }
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| json!({"created_by": "ADD layer /"})).collect::<Vec<_>>(),
    }))
    .expect("config");
    push_blob(addr, &auth, repo, &config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": descriptors,
    }))
    .expect("manifest");
    push_manifest(
        addr,
        &auth,
        repo,
        "v1",
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    );
}

/// Runs the binary with `XDG_CACHE_HOME=home`; returns its time and output.
fn layerslayer(home: &Path, args: &[&str]) -> (Duration, std::process::Output) {
    let started = Instant::now();
    let output = Command::new(common::layerslayer_binary())
        .env("XDG_CACHE_HOME", home)
        .args(args)
        .output()
        .expect("run layerslayer");
    (started.elapsed(), output)
}

fn main() {
    let tree = common::bench_arg("--tree", "/usr/share");
    let rounds: usize = common::bench_arg("--rounds", "3")
        .parse()
        .expect("--rounds");
    let limit: u64 = common::bench_arg("--mib", "300")
        .parse::<u64>()
        .expect("--mib")
        << 20;
    let images: usize = common::bench_arg("--images", "30")
        .parse()
        .expect("--images");
    let bases: usize = common::bench_arg("--bases", "6").parse().expect("--bases");
    let work = tempfile::tempdir().expect("tempdir");
    let registry = common::TestRegistry::start();

    // A. Indexing on top of a full listing.
    let layer = common::bench::tree_test_layer(&tree, work.path());
    let pushed = common::push_image(
        &registry,
        "tree",
        "1",
        common::ImageFormat::Oci,
        std::slice::from_ref(&layer),
    );
    println!(
        "A. {tree} as one gzip layer: {:.1} MiB blob, {} rounds",
        mib(layer.blob.len() as u64),
        rounds
    );
    list_once(&pushed.reference, work.path(), true); // warm the page cache
    let (mut listing, mut indexing) = (Vec::new(), Vec::new());
    let (mut paths, mut on_disk) = (0, 0);
    for _ in 0..rounds {
        listing.push(list_once(&pushed.reference, work.path(), false).0);
        let (took, listed, bytes) = list_once(&pushed.reference, work.path(), true);
        indexing.push(took);
        (paths, on_disk) = (listed, bytes);
    }
    let (listing, indexing) = (median(listing), median(indexing));
    println!(
        "   full listing {:.3} s; listing + index {:.3} s: {:.3}×; {paths} paths, +{:.2} µs/path",
        listing.as_secs_f64(),
        indexing.as_secs_f64(),
        indexing.as_secs_f64() / listing.as_secs_f64(),
        (indexing.as_secs_f64() - listing.as_secs_f64()) * 1e6 / paths as f64
    );
    println!(
        "   index on disk {on_disk} bytes = {:.1} bytes/path",
        on_disk as f64 / paths as f64
    );

    // B. `index` of a registry whose layers are all eStargz.
    let files = files_of(&tree, limit);
    let parts = bases + images;
    let per = files.len().div_ceil(parts);
    let built: Vec<_> = files
        .chunks(per)
        .map(|chunk| estargz_of(chunk, work.path()))
        .collect();
    assert!(built.len() > bases, "not enough files in {tree}");
    // A registry of its own, so that its catalog holds these images only.
    let registry = common::TestRegistry::start();
    let started = Instant::now();
    let addr = registry.addr();
    for i in 0..images {
        let own = &built[bases + i % (built.len() - bases)];
        push_estargz_image(&addr, &format!("e{i:02}"), &[&built[i % bases], own]);
    }
    let blob_bytes: u64 = built.iter().map(|b| b.blob.len() as u64).sum();
    println!(
        "B. {images} images, {bases} shared base layers + one own layer each, all eStargz: {} \
         files of {tree} ({:.1} MiB), {} distinct blobs of {:.1} MiB (pushed in {:.1} s)",
        files.len(),
        mib(files.iter().map(|f| f.1).sum()),
        built.len(),
        mib(blob_bytes),
        started.elapsed().as_secs_f64()
    );
    let proxy = RegistryProxy::start(&addr, &[], &[]);
    let home = tempfile::tempdir_in(work.path()).expect("tempdir");
    let (took, output) = layerslayer(home.path(), &["index", &proxy.addr()]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    let served: u64 = proxy.served().iter().map(|s| s.bytes).sum();
    println!(
        "   index: {:.2} s; the registry sent {:.2} MiB = {:.2}% of the blob bytes ({} requests)",
        took.as_secs_f64(),
        mib(served),
        served as f64 * 100.0 / blob_bytes as f64,
        proxy.served().len()
    );
    println!("   {}", said.lines().last().unwrap_or_default());
    let search_dir = home.path().join("layerslayer/search");
    println!("   index on disk: {} bytes", dir_bytes(&search_dir));

    // C. Query times over that index.
    let queries: [&[&str]; 4] = [
        &["copyright"],
        &["no-such-path-anywhere"],
        &["--glob", "**/*.html"],
        &["--regex", r"man[0-9]/[^/]*\.gz$"],
    ];
    for query in queries {
        let mut args = vec!["search", "--json"];
        args.extend_from_slice(query);
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..7 {
            let (took, output) = layerslayer(home.path(), &args);
            let found: Vec<serde_json::Value> =
                serde_json::from_slice(&output.stdout).expect("json");
            hits = found.len();
            times.push(took);
        }
        println!(
            "C. search {}: {hits} hits, {:.1} ms (median of 7, the whole process)",
            query.join(" "),
            median(times).as_secs_f64() * 1000.0
        );
    }

    // D. Search at scale, over made-up layers written through the library.
    let layers: usize = common::bench_arg("--scale-layers", "200")
        .parse()
        .expect("--scale-layers");
    let per_layer: usize = common::bench_arg("--scale-paths", "10000")
        .parse()
        .expect("--scale-paths");
    let scale = tempfile::tempdir().expect("tempdir");
    let listings = scale.path().join("layerslayer/listings");
    let cache = ListingCache::open(listings.clone(), u64::MAX).expect("cache");
    let index = SearchIndex::open(
        scale.path().join("layerslayer/search"),
        ListingCache::open(listings, u64::MAX).expect("cache"),
    )
    .expect("index");
    let started = Instant::now();
    let mut digests = Vec::new();
    for layer in 0..layers {
        let entries: Vec<layerslayer::model::Entry> = (0..per_layer)
            .map(|i| {
                // About as many shared libraries as a distribution's layer holds (1 in 50).
                let path = match i % 50 {
                    0 => format!("usr/lib/x86_64-linux-gnu/pkg{layer}/lib{i}.so.{}", i % 7),
                    1..=19 => format!("usr/share/doc/pkg{layer}/part{i}/copyright"),
                    20..=39 => format!("opt/app{layer}/node_modules/m{i}/index.js"),
                    _ => format!("etc/conf{layer}.d/{i}.conf"),
                };
                layerslayer::model::Entry::new(path, layerslayer::model::EntryKind::File, i as u64)
            })
            .collect();
        let digest = format!("sha256:{:064x}", layer + 1);
        let mut writer = cache.writer(&digest, false).expect("cache writer");
        for entry in &entries {
            writer.add(entry).expect("cache add");
        }
        writer.commit().expect("cache commit");
        index.add_layer(&digest, &entries).expect("index layer");
        digests.push(digest);
    }
    for (image, chunk) in digests.chunks(10).enumerate() {
        let record = ImageRecord {
            reference: format!("localhost:5000/scale/app{image}:1"),
            manifest_digest: format!("sha256:{:064x}", 1_000_000 + image),
            platform: None,
            source_kind: "registry".into(),
            seen: 0,
            layers: chunk.to_vec(),
            not_final: Vec::new(),
        };
        index.record_image(record, &mut Vec::new()).expect("record");
    }
    let paths = layers * per_layer;
    let on_disk = dir_bytes(&scale.path().join("layerslayer/search"));
    println!(
        "D. {paths} made-up paths in {layers} layers, written in {:.1} s; index on disk {:.1} MiB ({:.1} bytes/path)",
        started.elapsed().as_secs_f64(),
        mib(on_disk),
        on_disk as f64 / paths as f64
    );
    let queries: [&[&str]; 3] = [
        &["lib4200.so"],
        &["--glob", "**/lib*.so*"],
        &["no-such-path-anywhere"],
    ];
    for query in queries {
        let mut args = vec!["search", "--csv"];
        args.extend_from_slice(query);
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..7 {
            let (took, output) = layerslayer(scale.path(), &args);
            hits = output
                .stdout
                .split(|&b| b == b'\n')
                .count()
                .saturating_sub(2);
            times.push(took);
        }
        println!(
            "D. search {} over {paths} paths: {hits} hits, {:.1} ms (median of 7, the whole process)",
            query.join(" "),
            median(times).as_secs_f64() * 1000.0
        );
    }
}
