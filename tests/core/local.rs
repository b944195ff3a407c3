//! Images read from files, with no registry: OCI layouts (directories, tars, gzip tars) and
//! `docker save` archives written by the tests and by `skopeo` from the real registry, the
//! built-in demo, and bad files with their exit codes.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use common::images::{expected_entries, push_platforms, sample_layers, tricky_items};
use common::layouts::{
    IndexEntry, LayoutImage, pack_dir, pack_dir_ending_with, plain_tar, write_crane_tarball,
    write_docker_save_legacy, write_docker_save_oci, write_oci_layout, write_single_image_layout,
};
use common::{
    Compression, ImageFormat, TarItem, TestLayer, TestRegistry, open_with, push_image, skopeo_copy,
};
use layerslayer::model::{EntryKind, LayerListing, LayerStatus, merge_layers};
use layerslayer::oci::ImageInfo;
use layerslayer::source::registry::ClientOptions;
use layerslayer::source::{ErrorKind, ImageSource, SourceError};

fn open(
    text: &str,
    platform: Option<&str>,
) -> Result<(Arc<dyn ImageSource>, ImageInfo), SourceError> {
    open_with(text, ClientOptions::default(), platform)
}

/// Peeks every layer; each must be complete with its digest verified.
fn peek_verified(source: &dyn ImageSource, image: &ImageInfo) -> Vec<LayerListing> {
    let listings = common::peek_all(source, image);
    for listing in &listings {
        assert_eq!(
            listing.result.status,
            LayerStatus::Complete {
                digest_verified: true
            },
            "layer {} of {}",
            listing.layer.index,
            image.source
        );
    }
    listings
}

/// Opens `text` and checks its layers list exactly what `layers` were built with.
fn assert_lists(text: &str, platform: Option<&str>, layers: &[TestLayer]) -> ImageInfo {
    let (source, image) = open(text, platform).unwrap_or_else(|e| panic!("{text}: {e}"));
    let listings = peek_verified(source.as_ref(), &image);
    assert_eq!(listings.len(), layers.len(), "{text}");
    for (listing, layer) in listings.iter().zip(layers) {
        assert_eq!(expected_entries(listing), layer.expected, "{text}");
    }
    image
}

fn open_error(text: &str) -> SourceError {
    match open(text, None) {
        Ok((_, image)) => panic!("{text} opened as {}", image.source),
        Err(error) => error,
    }
}

fn arm_layers() -> Vec<TestLayer> {
    vec![TestLayer::new(
        &[
            TarItem::Dir("etc"),
            TarItem::File("etc/arch".into(), b"arm64\n".to_vec(), 0o644),
        ],
        Compression::Zstd,
        "ADD arm64 /",
    )]
}

fn tricky_layers() -> Vec<TestLayer> {
    vec![
        TestLayer::new(&tricky_items(), Compression::Gzip, "ADD tricky /"),
        TestLayer::new(
            &[TarItem::File(
                "etc/.wh.os-release".into(),
                Vec::new(),
                0o644,
            )],
            Compression::None,
            "RUN rm /etc/os-release",
        ),
    ]
}

#[test]
fn oci_layouts_list_their_images_as_directory_tar_and_gzip_tar() {
    let work = tempfile::tempdir().expect("tempdir");
    let amd = sample_layers();
    let arm = arm_layers();
    let tricky = tricky_layers();
    let dir = work.path().join("layout");
    write_oci_layout(
        &dir,
        &[
            IndexEntry::Platforms(
                Some("multi"),
                vec![
                    LayoutImage {
                        layers: &amd,
                        architecture: "amd64",
                    },
                    LayoutImage {
                        layers: &arm,
                        architecture: "arm64",
                    },
                ],
            ),
            IndexEntry::Image(
                Some("single"),
                LayoutImage {
                    layers: &tricky,
                    architecture: "amd64",
                },
            ),
        ],
    );
    let tar = work.path().join("layout.tar");
    let tgz = work.path().join("layout.tar.gz");
    pack_dir(&dir, &tar, false);
    pack_dir(&dir, &tgz, true);
    for location in [
        format!("oci:{}", dir.display()),
        format!("oci-archive:{}", tar.display()),
        format!("oci-archive:{}", tgz.display()),
    ] {
        let image = assert_lists(&format!("{location}:multi"), None, &amd);
        assert_eq!(
            image.platform.map(|p| p.to_string()).as_deref(),
            Some("linux/amd64")
        );
        assert_eq!(image.available_platforms.len(), 2, "{location}");
        assert_eq!(image.source, location);
        assert_lists(&format!("{location}:multi"), Some("linux/arm64"), &arm);
        assert_lists(&format!("{location}:single"), None, &tricky);

        let ambiguous = open_error(&location);
        assert_eq!(ambiguous.kind(), ErrorKind::BadInput, "{ambiguous}");
        let message = ambiguous.to_string();
        assert!(
            message.contains("holds 2 images") && message.contains("multi, single"),
            "{message}"
        );
        let unknown = open_error(&format!("{location}:nope"));
        assert_eq!(unknown.kind(), ErrorKind::NotFound, "{unknown}");
        assert!(unknown.to_string().contains("multi, single"), "{unknown}");
    }

    // A layout saved for one platform of an index (docker save with the containerd store)
    // offers the platforms it holds.
    let amd_manifest = open(&format!("oci:{}:multi", dir.display()), Some("linux/amd64"))
        .expect("amd64")
        .1
        .manifest_digest;
    std::fs::remove_file(
        dir.join("blobs/sha256")
            .join(amd_manifest.trim_start_matches("sha256:")),
    )
    .expect("remove the amd64 manifest");
    let image = assert_lists(&format!("oci:{}:multi", dir.display()), None, &arm);
    let platforms: Vec<String> = image
        .available_platforms
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(platforms, ["linux/arm64"]);

    // A layout with one image needs no name, and a plain path is told by its content.
    let one = work.path().join("one");
    write_single_image_layout(&one, &tricky);
    let one_tar = work.path().join("one.image");
    pack_dir(&one, &one_tar, true);
    for plain in [&one, &one_tar] {
        assert_lists(&plain.display().to_string(), None, &tricky);
    }
}

#[test]
fn docker_save_archives_in_both_layouts_are_read_and_verified() {
    let work = tempfile::tempdir().expect("tempdir");
    let sample = sample_layers();
    let arm = arm_layers();

    let legacy = work.path().join("legacy");
    std::fs::create_dir_all(&legacy).expect("dir");
    write_docker_save_legacy(&legacy, &[("app:1", &sample), ("other:2", &arm)]);
    let legacy_tar = work.path().join("legacy.tar");
    pack_dir(&legacy, &legacy_tar, false);
    let archive = format!("docker-archive:{}", legacy_tar.display());
    let image = assert_lists(&format!("{archive}:app:1"), None, &sample);
    // Legacy layers are the uncompressed tars: their digests are the config's diff_ids.
    let diff_ids: Vec<&str> = sample.iter().map(|l| l.diff_id.as_str()).collect();
    let digests: Vec<&str> = image.layers.iter().map(|l| l.digest()).collect();
    assert_eq!(digests, diff_ids);
    assert_eq!(
        image.layers[1].created_by.as_deref(),
        Some("RUN install tool")
    );
    assert_lists(&format!("{archive}:docker.io/library/other:2"), None, &arm);
    for ambiguous in [archive.clone(), legacy_tar.display().to_string()] {
        let error = open_error(&ambiguous);
        assert_eq!(error.kind(), ErrorKind::BadInput);
        assert!(error.to_string().contains("app:1, other:2"), "{error}");
    }

    // The same archive gzip-compressed, and a single-image one opened by its plain path.
    let single = work.path().join("single");
    std::fs::create_dir_all(&single).expect("dir");
    write_docker_save_legacy(&single, &[("app:1", &sample)]);
    let single_tgz = work.path().join("single.tar.gz");
    pack_dir(&single, &single_tgz, true);
    assert_lists(&single_tgz.display().to_string(), None, &sample);
    assert_lists(&single.display().to_string(), None, &sample);

    // go-containerregistry's tarball (crane pull): gzip layers named by their blob digest.
    let gzip_layers: Vec<TestLayer> = sample
        .iter()
        .map(|l| TestLayer {
            blob: common::images::compress(&plain_tar(l), Compression::Gzip),
            ..l.clone()
        })
        .map(|l| TestLayer {
            digest: common::images::sha256(&l.blob),
            compression: Compression::Gzip,
            ..l
        })
        .collect();
    let crane = work.path().join("crane");
    std::fs::create_dir_all(&crane).expect("dir");
    write_crane_tarball(&crane, "app:1", &gzip_layers);
    let crane_tar = work.path().join("crane.tar");
    pack_dir(&crane, &crane_tar, false);
    let image = assert_lists(&crane_tar.display().to_string(), None, &gzip_layers);
    let digests: Vec<&str> = image.layers.iter().map(|l| l.digest()).collect();
    let built: Vec<&str> = gzip_layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(digests, built);
    assert!(image.layers[0].media_type().ends_with("tar.gzip"));

    // Docker 25+: an OCI layout plus manifest.json over the same blobs.
    let modern = work.path().join("modern");
    std::fs::create_dir_all(&modern).expect("dir");
    write_docker_save_oci(&modern, "app:1", &sample);
    let modern_tar = work.path().join("modern.tar");
    pack_dir(&modern, &modern_tar, false);
    for text in [
        modern_tar.display().to_string(),
        format!("docker-archive:{}:app:1", modern_tar.display()),
    ] {
        let image = assert_lists(&text, None, &sample);
        let digests: Vec<&str> = image.layers.iter().map(|l| l.digest()).collect();
        let built: Vec<&str> = sample.iter().map(|l| l.digest.as_str()).collect();
        assert_eq!(digests, built, "{text}");
    }
}

/// Runs `skopeo copy` from the test registry (plain http) to `destination`.
/// Every platform, byte for byte: the digests must stay those of the registry.
const ALL_PLATFORMS: &[&str] = &["--all", "--preserve-digests"];

#[test]
fn skopeo_copies_list_exactly_as_the_registry_does() {
    let registry = TestRegistry::start();
    let layers = vec![
        TestLayer::new(&tricky_items(), Compression::Gzip, "ADD tricky /"),
        TestLayer::new(
            &[
                TarItem::Dir("usr"),
                TarItem::File("usr/tool".into(), vec![9; 70_000], 0o4755),
                TarItem::File("etc/.wh.os-release".into(), Vec::new(), 0o644),
            ],
            // skopeo cannot write zstd layers into docker-archive; zstd goes through `oci:`
            // in the multi-platform copy below.
            Compression::GzipMultiMember,
            "RUN build",
        ),
        TestLayer::new(
            &[TarItem::File("srv/data".into(), vec![3; 5000], 0o666)],
            Compression::None,
            "COPY data /srv/",
        ),
    ];
    let pushed = push_image(&registry, "files/app", "v1", ImageFormat::Oci, &layers);
    let (source, image) = open(&pushed.reference, None).expect("open from the registry");
    let from_registry = peek_verified(source.as_ref(), &image);
    let merged_from_registry = merge_layers(&from_registry);

    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("oci");
    let oci_tar = work.path().join("app.oci.tar");
    let docker_tar = work.path().join("app.docker.tar");
    skopeo_copy(&pushed.reference, &format!("oci:{}:v1", dir.display()), &[]);
    skopeo_copy(
        &pushed.reference,
        &format!("oci-archive:{}:v1", oci_tar.display()),
        &[],
    );
    skopeo_copy(
        &pushed.reference,
        &format!("docker-archive:{}:files/app:v1", docker_tar.display()),
        &[],
    );
    for text in [
        format!("oci:{}:v1", dir.display()),
        dir.display().to_string(),
        format!("oci-archive:{}", oci_tar.display()),
        oci_tar.display().to_string(),
        format!("docker-archive:{}:files/app:v1", docker_tar.display()),
        docker_tar.display().to_string(),
    ] {
        let (source, image) = open(&text, None).unwrap_or_else(|e| panic!("{text}: {e}"));
        let listings = peek_verified(source.as_ref(), &image);
        assert_eq!(listings.len(), from_registry.len(), "{text}");
        for (local, remote) in listings.iter().zip(&from_registry) {
            assert_eq!(
                local.entries, remote.entries,
                "{text}: layer {}",
                local.layer.index
            );
            assert_eq!(local.layer.created_by, remote.layer.created_by, "{text}");
        }
        assert_eq!(merge_layers(&listings), merged_from_registry, "{text}");
    }

    // A multi-platform index copied whole keeps the platform choice.
    let arm = arm_layers();
    let index = push_platforms(
        &registry,
        "files/multi",
        "v1",
        &[
            (&layers, "linux", "amd64", None),
            (&arm, "linux", "arm64", None),
        ],
    );
    let multi = work.path().join("multi");
    skopeo_copy(
        &index.reference,
        &format!("oci:{}:v1", multi.display()),
        ALL_PLATFORMS,
    );
    for platform in ["linux/amd64", "linux/arm64"] {
        let (_, remote) = open(&index.reference, Some(platform)).expect("registry index");
        let (_, local) = open(&multi.display().to_string(), Some(platform)).expect("layout index");
        assert_eq!(local.manifest_digest, remote.manifest_digest, "{platform}");
        assert_eq!(local.layers, remote.layers, "{platform}");
        assert_eq!(local.available_platforms, remote.available_platforms);
    }
}

#[test]
fn the_demo_image_has_something_for_every_feature() {
    let (source, image) = open("demo", None).expect("the demo opens offline");
    assert_eq!(image.source, "demo");
    assert_eq!(image.available_platforms.len(), 2);
    assert!(image.layers.len() >= 3);
    let media_types: Vec<&str> = image.layers.iter().map(|l| l.media_type()).collect();
    assert!(
        media_types.iter().any(|m| m.ends_with("+gzip")),
        "{media_types:?}"
    );
    assert!(
        media_types.iter().any(|m| m.ends_with("+zstd")),
        "{media_types:?}"
    );
    let listings = peek_verified(source.as_ref(), &image);
    let entries: Vec<_> = listings.iter().flat_map(|l| &l.entries).collect();
    let has = |kind: EntryKind| entries.iter().any(|e| e.kind == kind);
    for kind in [
        EntryKind::Whiteout,
        EntryKind::OpaqueMarker,
        EntryKind::Symlink,
        EntryKind::Hardlink,
    ] {
        assert!(has(kind), "the demo has a {kind:?}");
    }
    let files = || entries.iter().filter(|e| e.kind == EntryKind::File);
    assert!(files().any(|e| e.mode & 0o4000 != 0), "a setuid file");
    assert!(
        files().any(|e| e.mode & 0o002 != 0),
        "a world-writable file"
    );
    let mut paths: Vec<&str> = files().map(|e| &*e.path).collect();
    let count = paths.len();
    paths.sort_unstable();
    paths.dedup();
    assert!(
        paths.len() < count,
        "a file is overwritten by a later layer"
    );
    // Duplicated content: two paths in the final filesystem with the same size and bytes are
    // checked by the analysis features; here, two regular files of equal size must exist.
    let merged = merge_layers(&listings);
    let mut sizes: Vec<u64> = merged
        .iter()
        .filter(|m| m.entry.kind == EntryKind::File && m.entry.size > 0)
        .map(|m| m.entry.size)
        .collect();
    let files_in_final = sizes.len();
    sizes.sort_unstable();
    sizes.dedup();
    assert!(
        sizes.len() < files_in_final,
        "files of equal size (duplicates)"
    );

    let (_, arm) = open("demo", Some("linux/arm64")).expect("the arm64 demo");
    assert_ne!(arm.manifest_digest, image.manifest_digest);
}

/// Runs the CLI; returns its exit code and stderr.
fn run_cli(args: &[&str]) -> (i32, String) {
    let (code, _, stderr) = common::run_for_output(common::layerslayer_command().args(args));
    (code, stderr)
}

fn assert_cli_fails(args: &[&str], code: i32, fragments: &[&str]) {
    let (actual, stderr) = run_cli(args);
    assert_eq!(actual, code, "{args:?}: {stderr}");
    for fragment in fragments {
        assert!(
            stderr.contains(fragment),
            "{args:?}: expected {fragment:?} in {stderr}"
        );
    }
}

fn blob_file(dir: &Path, digest: &str) -> std::path::PathBuf {
    dir.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

#[test]
fn bad_files_fail_with_a_message_naming_them_and_their_exit_code() {
    let work = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| work.path().join(name).display().to_string();

    std::fs::write(work.path().join("junk.tar"), vec![0x5a; 3000]).expect("junk");
    assert_cli_fails(
        &["layers", &path("junk.tar")],
        3,
        &["junk.tar", "not a container image"],
    );
    std::fs::create_dir(work.path().join("empty")).expect("dir");
    assert_cli_fails(
        &["layers", &format!("oci:{}", path("empty"))],
        3,
        &["no oci-layout"],
    );
    assert_cli_fails(
        &["layers", &path("empty")],
        3,
        &["empty", "not a container image"],
    );
    assert_cli_fails(&["layers", &path("missing.tar")], 4, &["missing.tar"]);
    // Reading /proc/self/mem from its start fails with EIO: an unreadable file even for root.
    assert_cli_fails(
        &["layers", "/proc/self/mem"],
        3,
        &["cannot read /proc/self/mem"],
    );

    // A layout whose blobs go missing or get damaged.
    let layers = vec![
        TestLayer::new(
            &[TarItem::File("a.txt".into(), b"alpha".repeat(2000), 0o644)],
            Compression::None,
            "ADD a",
        ),
        TestLayer::new(
            &[TarItem::File("b.bin".into(), vec![1; 40_000], 0o644)],
            Compression::Gzip,
            "ADD b",
        ),
    ];
    let layout = work.path().join("layout");
    write_single_image_layout(&layout, &layers);
    let layout_text = layout.display().to_string();
    let pristine = work.path().join("pristine");
    std::fs::create_dir(&pristine).expect("dir");
    copy_dir(&layout, &pristine);

    let damaged = blob_file(&layout, &layers[0].digest);
    let mut bytes = std::fs::read(&damaged).expect("layer");
    let position = bytes
        .windows(5)
        .position(|w| w == b"alpha")
        .expect("file data in the tar");
    bytes[position] = b'A';
    std::fs::write(&damaged, &bytes).expect("damage the layer");
    assert_cli_fails(
        &["peek", &layout_text, "--layers", "0"],
        7,
        &["digest mismatch"],
    );

    std::fs::remove_file(blob_file(&layout, &layers[1].digest)).expect("remove layer");
    assert_cli_fails(
        &["peek", &layout_text, "--layers", "1"],
        4,
        &["missing", "layer 1"],
    );

    let config = std::fs::read_dir(layout.join("blobs/sha256"))
        .expect("blobs")
        .filter_map(Result::ok)
        .find(|e| {
            std::fs::read(e.path()).is_ok_and(|b| {
                b.starts_with(b"{") && String::from_utf8_lossy(&b).contains("rootfs")
            })
        })
        .expect("the config blob");
    std::fs::remove_file(config.path()).expect("remove config");
    assert_cli_fails(&["layers", &layout_text], 4, &["missing", "layout"]);

    // An archive cut inside a layer, its last member: that layer's listing is partial (7).
    // Cut before its metadata: not an image (3). Both messages say it is truncated.
    let last_layer = format!(
        "blobs/sha256/{}",
        layers[1].digest.trim_start_matches("sha256:")
    );
    let tar = work.path().join("layout.tar");
    pack_dir_ending_with(&pristine, &tar, false, Some(&last_layer));
    let whole = std::fs::read(&tar).expect("read tar");
    let offset = tar_member_offset(&whole, &last_layer);
    let cut_in_layer = work.path().join("cut-in-layer.tar");
    std::fs::write(&cut_in_layer, &whole[..offset as usize + 100]).expect("cut");
    let cut_text = cut_in_layer.display().to_string();
    assert_cli_fails(
        &["peek", &cut_text, "--layers", "1"],
        7,
        &["truncated", "layer 1"],
    );
    let (code, stderr) = run_cli(&["peek", &cut_text, "--layers", "0"]);
    assert_eq!(code, 0, "the layers before the cut are whole: {stderr}");
    let cut_early = work.path().join("cut-early.tar");
    std::fs::write(&cut_early, &whole[..700]).expect("cut");
    assert_cli_fails(
        &["layers", &cut_early.display().to_string()],
        3,
        &["truncated"],
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("dir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Where the data of the member whose name ends with `name_end` starts in a tar.
fn tar_member_offset(tar: &[u8], name_end: &str) -> u64 {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .expect("entries")
        .filter_map(Result::ok)
        .find(|e| {
            e.path()
                .is_ok_and(|p| p.to_string_lossy().ends_with(name_end))
        })
        .map(|e| e.raw_file_position())
        .expect("member in the tar")
}

#[test]
fn the_cli_lists_the_demo_offline() {
    let output = common::layerslayer_command()
        .args(["layers", "demo"])
        .output()
        .expect("run layerslayer");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("index offers: linux/amd64, linux/arm64/v8"),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("application/vnd.oci.image.layer.v1.tar+")
            .count(),
        3,
        "{stdout}"
    );

    let output = common::layerslayer_command()
        .args(["peek", "demo", "--merged"])
        .output()
        .expect("run layerslayer");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("usr/bin/demo-app"), "{stdout}");
    assert!(
        !stdout.contains("index-old.tar.gz"),
        "the whiteout removed it: {stdout}"
    );
}

#[test]
fn the_csv_says_what_each_entry_changes() {
    let output = common::layerslayer_command()
        .args(["peek", "demo", "--csv", "-", "--quiet"])
        .output()
        .expect("run layerslayer");
    assert!(output.status.success());
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let headers = reader.headers().expect("header").clone();
    assert_eq!(headers.iter().next_back(), Some("change"));
    let column = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (layer, path, change) = (column("layer_index"), column("path"), column("change"));
    let rows: Vec<(String, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            (
                r[layer].to_owned(),
                r[path].to_owned(),
                r[change].to_owned(),
            )
        })
        .collect();
    let change_of = |layer_index: &str, wanted: &str| {
        rows.iter()
            .find(|(l, p, _)| l == layer_index && p == wanted)
            .map(|(_, _, c)| c.as_str())
            .unwrap_or_else(|| panic!("{wanted} in layer {layer_index}"))
    };
    assert_eq!(change_of("0", "etc/os-release"), "added");
    assert_eq!(change_of("1", "etc/os-release"), "modified");
    assert_eq!(
        change_of("1", "var/cache/apk/.wh.index-old.tar.gz"),
        "removed"
    );
    assert_eq!(change_of("1", "opt/app/plugins/.wh..wh..opq"), "removed");
    assert_eq!(change_of("1", "etc/ssl/private/demo-key.pem"), "added");
    assert_eq!(change_of("2", "bin/busybox"), "modified");
    assert!(
        rows.iter()
            .all(|(_, _, c)| ["added", "modified", "removed"].contains(&c.as_str()))
    );
}
