//! Fuzzing on stable Rust (issue 9): every parser of untrusted input, one test per target.
//!
//! Each test first replays its seed corpus, `tests/fuzz_corpus/<target>/` (real inputs made by
//! real writers, plus one regression input per bug found), then runs mutated inputs: proptest
//! generates lists of mutations of the seeds (`fuzz/mutate.rs`), reaching through compression,
//! tar headers, TOC footers and JSON documents, and shrinks a failing list. The harness of each
//! target (`fuzz/harness.rs`, shared with the cargo-fuzz targets in `fuzz/`) panics when the
//! parser panics or an invariant of its result breaks.
//!
//! A global allocator records the largest single allocation: no input may make the code
//! allocate more than [`ALLOCATION_LIMIT`] at once (the C allocations inside libzstd are not
//! seen; zstd caps its window at 128 MiB by default).
//!
//! - `LAYERSLAYER_FUZZ_ITERATIONS=N`: mutated inputs per target (the default keeps a debug run
//!   of this file under a minute on two cores);
//! - `LAYERSLAYER_FUZZ_SEED=N`: another sequence of mutations (the default is fixed, so CI
//!   runs are repeatable);
//! - a failing input is written under `target/tmp/fuzz-failures/<target>/`; add it to the
//!   corpus as `regression-…` once fixed.
//!
//! `cargo test --release --test fuzz -- --nocapture` prints the inputs run per target.

#[path = "fuzz/corpus.rs"]
mod corpus;
#[path = "common/estargz.rs"]
mod estargz;
#[path = "fuzz/harness.rs"]
mod harness;
#[path = "fuzz/mutate.rs"]
mod mutate;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use layerslayer::cancel::CancelToken;
use layerslayer::layer::tar::{TarProblem, TarWalker};
use layerslayer::layer::toc::{Toc, TocResult, list_from_toc};
use layerslayer::model::LayerStatus;
use layerslayer::oci::manifest::ManifestDocument;
use layerslayer::oci::reference::ImageReference;
use layerslayer::source::archive::{ArchiveBytes, TarArchive};
use layerslayer::source::local::{LocalFormat, LocalSource};
use layerslayer::source::registry::auth::{Challenge, token_of_response};
use layerslayer::source::resolve_image;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sha2::{Digest as _, Sha256};

use mutate::{Seed, Shape};

/// No input may make the code allocate more than this at once.
const ALLOCATION_LIMIT: usize = 64 << 20;

/// The system allocator, noting the largest single allocation.
struct LargestAllocation;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn note(size: usize) {
    LARGEST.fetch_max(size, Ordering::Relaxed);
}

// SAFETY: every call is passed on unchanged to the system allocator.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Panics when some allocation so far was larger than [`ALLOCATION_LIMIT`].
fn assert_allocations_bounded(what: &str) {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= ALLOCATION_LIMIT,
        "{what}: an allocation of {largest} bytes (the limit is {ALLOCATION_LIMIT})"
    );
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_corpus")
        .join(target)
}

/// The seed corpus of `target`, by file name.
fn load_seeds(target: &str, shape: Shape) -> Vec<Seed> {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    let seeds: Vec<Seed> = files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).expect("read corpus file");
            Seed::new(name, bytes, shape)
        })
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// Mutated inputs per target: `LAYERSLAYER_FUZZ_ITERATIONS`, else `default`.
fn iterations(default: u32) -> u32 {
    match std::env::var("LAYERSLAYER_FUZZ_ITERATIONS") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("LAYERSLAYER_FUZZ_ITERATIONS={text:?} is not a count")),
        Err(_) => default,
    }
}

/// The random generator of `target`: fixed unless `LAYERSLAYER_FUZZ_SEED` is set.
fn rng(target: &str) -> TestRng {
    let seed = std::env::var("LAYERSLAYER_FUZZ_SEED").unwrap_or_default();
    let key: [u8; 32] = Sha256::digest(format!("{seed}/{target}")).into();
    TestRng::from_seed(RngAlgorithm::ChaCha, &key)
}

/// Writes an input that failed where it can be picked up for the corpus.
fn save_failure(target: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz-failures")
        .join(target);
    std::fs::create_dir_all(&dir).expect("failure dir");
    let path = dir.join(format!("{:x}", Sha256::digest(input)));
    std::fs::write(&path, input).expect("write failing input");
    std::fs::write(dir.join("latest"), input).expect("write failing input");
    path
}

thread_local! {
    /// Set while mutated inputs run: their panics are reported once, shrunk, at the end.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keeps the panics of mutated inputs (hundreds while proptest shrinks one) off the output.
fn quiet_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                default(info);
            }
        }));
    });
}

/// Replays the corpus of `target`, checks its valid seeds with `valid`, then runs mutated
/// inputs through `harness`.
fn fuzz(target: &str, shape: Shape, default_cases: u32, valid: fn(&[u8])) {
    let harness = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a target")
        .1;
    let started = Instant::now();
    let seeds = load_seeds(target, shape);
    for seed in &seeds {
        let run = std::panic::catch_unwind(|| harness(&seed.bytes));
        if let Err(panic) = run {
            eprintln!("fuzz {target}: corpus input {} failed", seed.name);
            std::panic::resume_unwind(panic);
        }
        if seed.name.starts_with("valid-") {
            valid(&seed.bytes);
        }
        assert_allocations_bounded(&format!("{target}/{}", seed.name));
    }
    let cases = iterations(default_cases);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 512,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng(target));
    quiet_panics();
    QUIET.with(|quiet| quiet.set(true));
    // The last failing input, which after shrinking is the smallest.
    let saved = std::cell::RefCell::new(None);
    let ran = std::cell::Cell::new(0u64);
    let result = runner.run(&mutate::cases(seeds.len()), |case| {
        let input = mutate::mutate(&seeds, &case);
        ran.set(ran.get() + 1);
        let run = std::panic::catch_unwind(|| harness(&input));
        if let Err(panic) = run {
            *saved.borrow_mut() = Some(save_failure(target, &input));
            std::panic::resume_unwind(panic);
        }
        if LARGEST.load(Ordering::Relaxed) > ALLOCATION_LIMIT {
            let saved = save_failure(target, &input);
            assert_allocations_bounded(&format!("input {}", saved.display()));
        }
        Ok(())
    });
    QUIET.with(|quiet| quiet.set(false));
    if let Err(error) = result {
        let saved = saved.take().map(|path| path.display().to_string());
        panic!(
            "fuzz {target}: {error}\nthe smallest failing input is saved as {}",
            saved.unwrap_or_default()
        );
    }
    let line = format!(
        "fuzz {target}: {} corpus inputs and {} mutated inputs, 0 failures, in {:.1} s \
         ({} reached the deepest check)",
        seeds.len(),
        ran.get(),
        started.elapsed().as_secs_f64(),
        harness::deep_count()
    );
    eprintln!("{line}");
    if let Ok(path) = std::env::var("LAYERSLAYER_FUZZ_REPORT") {
        let mut report = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("report file");
        writeln!(report, "{line}").expect("write report");
    }
}

#[test]
fn fuzz_image_references() {
    fuzz("reference", Shape::Text, 20_000, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        ImageReference::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    });
}

#[test]
fn fuzz_manifests_indexes_and_configs() {
    fuzz("manifest", Shape::Text, 20_000, |bytes| {
        let (content_type, body) = harness::split_content_type(bytes);
        let parsed = ManifestDocument::parse(content_type.as_deref(), body);
        let config = serde_json::from_slice::<layerslayer::oci::manifest::ImageConfig>(body);
        assert!(
            parsed.is_ok() || config.is_ok_and(|c| !c.history.is_empty()),
            "a valid seed is neither a manifest nor a config"
        );
    });
}

#[test]
fn fuzz_www_authenticate() {
    fuzz("www_authenticate", Shape::Text, 20_000, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            Challenge::parse(&text).is_some() || token_of_response(bytes).is_some(),
            "a valid seed is neither a challenge nor a token answer: {text:?}"
        );
    });
}

#[test]
fn fuzz_tar_headers() {
    fuzz("tar", Shape::Tar, 10_000, |bytes| {
        let mut walker = TarWalker::new(bytes);
        let mut members = 0;
        while walker.next_entry().expect("a valid tar walks").is_some() {
            members += 1;
        }
        assert!(members > 0);
    });
}

#[test]
fn fuzz_layer_decoder() {
    fuzz("layer", Shape::Layer, 3000, |bytes| {
        let source = harness::MemorySource::new(bytes);
        let info = harness::layer_info_of(bytes);
        let progress = std::sync::Arc::default();
        let mut entries = 0;
        let outcome = layerslayer::layer::stream::stream_layer(
            &source,
            &info,
            &CancelToken::new(),
            &progress,
            &mut |_| entries += 1,
        );
        assert_eq!(
            outcome.status,
            LayerStatus::Complete {
                digest_verified: true
            }
        );
        assert!(entries > 0);
    });
}

#[test]
fn fuzz_toc_footers_and_tables() {
    fuzz("toc", Shape::Toc, 5000, |bytes| {
        let (annotations, blob) = harness::split_annotations(bytes);
        let info = harness::layer_info(
            harness::media_type_of(blob),
            &harness::sha256(blob),
            blob.len() as u64,
            &annotations,
        );
        let source = harness::MemorySource::new(blob);
        let cancel = CancelToken::new();
        let toc = Toc::fetch(&source, &info, &cancel)
            .expect("a valid TOC is usable")
            .expect("a valid TOC is found");
        assert!(!toc.listing().entries.is_empty());
    });
}

/// A valid image seed opens, resolves, and every layer reads complete and verified.
fn image_is_whole(bytes: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("image.tar");
    std::fs::write(&file, bytes).expect("write");
    let (source, reference) = LocalSource::open_archive(
        ArchiveBytes::File(file),
        "seed".into(),
        LocalFormat::Detect,
        None,
    )
    .expect("a valid seed opens");
    let cancel = CancelToken::new();
    let info = resolve_image(&source, &reference, None, &cancel).expect("and resolves");
    assert!(!info.layers.is_empty());
    for layer in &info.layers {
        let outcome = layerslayer::layer::stream::stream_layer(
            &source,
            layer,
            &cancel,
            &std::sync::Arc::default(),
            &mut |_| {},
        );
        assert_eq!(
            outcome.status,
            LayerStatus::Complete {
                digest_verified: true
            },
            "layer {}",
            layer.index
        );
    }
}

#[test]
fn fuzz_oci_layouts() {
    fuzz("oci_layout", Shape::Image, 600, image_is_whole);
}

#[test]
fn fuzz_docker_save_archives() {
    fuzz("docker_save", Shape::Image, 600, image_is_whole);
}

/// A zstd:chunked blob whose 40-byte footer puts a TOC of `length` bytes at `offset`.
fn zstd_footer_claim(offset: u64, length: u64) -> Vec<u8> {
    let mut blob = zstd::encode_all(&[0u8; 1024][..], 3).expect("zstd");
    for field in [offset, length, length.saturating_mul(4), 1] {
        blob.extend(field.to_le_bytes());
    }
    blob.extend(b"GnUlInUx");
    blob
}

/// Issue 9: "a header that claims 1 TB, or a TOC that claims 10 GB, is never allocated".
/// Each claim is refused or streamed; no single allocation exceeds [`ALLOCATION_LIMIT`]
/// (the bombs below decompress to more than that, so reading one whole would fail this).
#[test]
fn huge_claims_are_never_allocated() {
    const TIB: u64 = 1 << 40;
    const TEN_GB: u64 = 10_000_000_000;
    let bomb = ALLOCATION_LIMIT + (16 << 20);

    // A regular file of 1 TiB: listed, its data skipped, then the stream ends inside it.
    let mut header = tar::Header::new_gnu();
    header.set_path("huge").expect("path");
    header.set_size(TIB);
    header.set_mode(0o644);
    header.set_cksum();
    let mut tar = header.as_bytes().to_vec();
    tar.extend([7u8; 4096]);
    let mut walker = TarWalker::new(tar.as_slice());
    let entry = walker.next_entry().expect("listed").expect("an entry");
    assert_eq!(entry.size, TIB);
    let error = walker.next_entry().expect_err("cut short").to_string();
    assert!(error.contains("ends inside"), "{error}");
    harness::layer(&tar);

    // Metadata claiming 1 TiB (PAX record, PAX header, GNU long name): refused unread.
    for (flag, data) in [
        (tar::EntryType::XHeader, &b"22 size=1099511627777\n"[..]),
        (tar::EntryType::XHeader, &[0u8; 64][..]),
        (tar::EntryType::GNULongName, &[b'a'; 64][..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_path("meta").expect("path");
        header.set_entry_type(flag);
        let claimed = if data.starts_with(b"22") {
            data.len() as u64
        } else {
            TIB
        };
        header.set_size(claimed);
        header.set_cksum();
        let mut tar = header.as_bytes().to_vec();
        tar.extend(data);
        tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
        let error = TarWalker::new(tar.as_slice())
            .next_entry()
            .expect_err("refused");
        assert!(
            matches!(
                error,
                layerslayer::layer::tar::TarError::Invalid {
                    problem: TarProblem::TooLarge { .. },
                    ..
                }
            ),
            "{error}"
        );
    }

    // A compressed archive: the header claims 1 TiB and the stream really holds 80 MiB.
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("bomb.tar.zst");
    std::fs::write(&archive, corpus::pax_bomb(bomb)).expect("write");
    let opened = TarArchive::open(ArchiveBytes::File(archive.clone())).expect("opens");
    let damage = opened.damage().expect("damaged");
    assert!(damage.contains("exceeds the limit"), "{damage}");
    assert!(
        LocalSource::open_archive(
            ArchiveBytes::File(archive),
            "bomb".into(),
            LocalFormat::Detect,
            None
        )
        .is_err()
    );
    // The same uncompressed, as a sparse file of 80 MiB on disk.
    let plain = dir.path().join("bomb.tar");
    std::fs::write(
        &plain,
        zstd::decode_all(&corpus::pax_bomb(0)[..]).expect("zstd"),
    )
    .expect("write");
    std::fs::File::options()
        .write(true)
        .open(&plain)
        .and_then(|file| file.set_len(bomb as u64))
        .expect("extend");
    let opened = TarArchive::open(ArchiveBytes::File(plain)).expect("opens");
    assert!(opened.damage().is_some());

    // An eStargz TOC whose tar claims a 1 TiB long name over 80 MiB of zeros.
    let blob = corpus::estargz_toc_bomb(bomb);
    let source = harness::MemorySource::new(&blob);
    let info = harness::layer_info_of(&blob);
    let cancel = CancelToken::new();
    let reason = Toc::fetch(&source, &info, &cancel).err().expect("refused");
    assert!(reason.contains("exceeds the limit"), "{reason}");

    // zstd:chunked footers claiming a 10 GB TOC, inside or past the blob.
    for (offset, length) in [(0, TEN_GB), (10, u64::MAX - 5), (TEN_GB, 10)] {
        let blob = zstd_footer_claim(offset, length);
        let source = harness::MemorySource::new(&blob);
        let info = harness::layer_info_of(&blob);
        assert!(matches!(
            list_from_toc(&source, &info, &cancel),
            TocResult::Fallback(_)
        ));
    }
    // An annotation placing a 10 GB TOC inside a 20 GB blob: refused before any fetch.
    let blob = zstd_footer_claim(0, 900);
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "io.github.containers.zstd-chunked.manifest-position".to_owned(),
        format!("1000:{TEN_GB}:{TEN_GB}:1"),
    );
    let source = harness::MemorySource::new(&blob);
    let info = harness::layer_info(
        harness::media_type_of(&blob),
        &harness::sha256(&blob),
        2 * TEN_GB,
        &annotations,
    );
    let reason = Toc::fetch(&source, &info, &cancel).err().expect("refused");
    assert!(reason.contains("believed"), "{reason}");
    // A TOC whose JSON claims 10 GB files: listed (sizes are numbers, not allocations).
    harness::toc(&corpus::zstd_chunked_claiming(TEN_GB));
    assert_allocations_bounded("huge claims");
}

/// The seed corpus holds inputs for every target; with `LAYERSLAYER_FUZZ_REGENERATE=1` it is
/// first written anew from real writers (the tar and zstd crates, GNU tar, bsdtar, skopeo, the
/// eStargz reference writer built with Go; `regression-*` inputs are never overwritten):
/// `LAYERSLAYER_FUZZ_REGENERATE=1 cargo test --test fuzz seed_corpus`.
#[test]
fn seed_corpus_covers_every_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus");
    if std::env::var_os("LAYERSLAYER_FUZZ_REGENERATE").is_some() {
        corpus::regenerate(&root);
    }
    for target in [
        "reference",
        "manifest",
        "www_authenticate",
        "tar",
        "layer",
        "toc",
        "oci_layout",
        "docker_save",
    ] {
        let inputs = std::fs::read_dir(root.join(target))
            .map(|dir| dir.count())
            .unwrap_or(0);
        assert!(inputs > 0, "tests/fuzz_corpus/{target} has no seed inputs");
    }
}
