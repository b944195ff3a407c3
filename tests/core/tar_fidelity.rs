//! Tar fidelity: every archive is listed the way GNU tar, Python's `tarfile` and bsdtar read it
//! (paths, kinds, sizes, link targets); where they differ, as GNU tar and Go's archive/tar do;
//! an archive they would read differently or not at all fails with a reason naming tar: never
//! a listing under a made-up name.
//!
//! The corpus is written at test time by the real writers (GNU tar in every format, with and
//! without `--sparse`, bsdtar, Python's `tarfile`) plus hand-made headers for the corner cases
//! no writer produces on purpose. Each archive becomes the one layer of an OCI layout, opened
//! and peeked like any image. Missing tools fail the test: `tests/run` installs them.
//!
//! The public test suites of two readers, Go's `archive/tar` and CPython's `tarfile`
//! (`tests/tar_fidelity/go` and `tests/tar_fidelity/python`), are listed by both readers at test
//! time; each archive lists as both do, or, where they differ, as the one the `SUITE` table names
//! for a reason it gives.
//!
//! Set `TAR_FIDELITY_KEEP=DIR` to keep every archive of the corpus in DIR (to try other
//! readers on them).

use crate::common;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{FileExt as _, symlink};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::Compression;
use common::images::{TestLayer, compress, sha256};
use common::layouts::{IndexEntry, LayoutImage, write_oci_layout};
use layerslayer::cancel::CancelToken;
use layerslayer::layer::stream::{PeekProgress, peek_layer};
use layerslayer::model::{LayerListing, LayerStatus, normalize_path};

/// One listed entry, in the shape every reader can give.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    path: String,
    kind: String,
    size: u64,
    link: Option<String>,
}

fn listed(path: &str, kind: &str, size: u64, link: Option<&str>) -> Listed {
    Listed {
        path: path.to_owned(),
        kind: kind.to_owned(),
        size,
        link: link.map(str::to_owned),
    }
}

// ---------------------------------------------------------------------------------------------
// Running the peek on an archive
// ---------------------------------------------------------------------------------------------

/// Peeks `tar` (compressed as asked) as the single layer of an OCI layout.
fn peek(tar: &[u8], compression: Compression) -> LayerListing {
    peek_blob(&compress(tar, compression), compression, tar)
}

/// Peeks `blob` (the layer as stored, `tar` uncompressed) as the single layer of an OCI
/// layout.
fn peek_blob(blob: &[u8], compression: Compression, tar: &[u8]) -> LayerListing {
    peek_damaged_blob(blob, blob, compression, tar)
}

/// [`peek_blob`] of a layer published as `published` whose stored blob now holds `stored`.
fn peek_damaged_blob(
    published: &[u8],
    stored: &[u8],
    compression: Compression,
    tar: &[u8],
) -> LayerListing {
    let dir = tempfile::tempdir().expect("tempdir");
    let digest = sha256(published);
    let layers = [TestLayer {
        digest: digest.clone(),
        diff_id: sha256(tar),
        blob: published.to_vec(),
        compression,
        expected: Vec::new(),
        created_by: "tar fidelity".into(),
    }];
    write_oci_layout(
        dir.path(),
        &[IndexEntry::Image(
            None,
            LayoutImage {
                layers: &layers,
                architecture: "amd64",
            },
        )],
    );
    let hex = digest.trim_start_matches("sha256:");
    std::fs::write(dir.path().join("blobs/sha256").join(hex), stored).expect("store the blob");
    let cancel = CancelToken::new();
    let opened = layerslayer::source::open::open_image(
        &format!("oci:{}", dir.path().display()),
        &Default::default(),
        &cancel,
    )
    .expect("open the layout");
    let progress = Arc::new(PeekProgress::default());
    let listing = peek_layer(
        opened.source.as_ref(),
        &opened.info.layers[0],
        &cancel,
        &progress,
        &mut |_| {},
    );
    assert_eq!(
        progress.entries(),
        listing.entries.len() as u64,
        "the progress counts the entries listed"
    );
    listing
}

fn ours(listing: &LayerListing) -> Vec<Listed> {
    listing
        .entries
        .iter()
        .map(|e| Listed {
            path: e.path.to_string(),
            kind: e.kind.as_str().to_owned(),
            size: e.size,
            link: e.link_target.as_deref().map(str::to_owned),
        })
        .collect()
}

/// Peeks a valid archive: it must list completely, digest verified.
fn peek_valid(name: &str, tar: &[u8]) -> Vec<Listed> {
    keep(name, tar);
    let listing = peek(tar, Compression::None);
    assert_eq!(
        listing.result.status,
        LayerStatus::Complete {
            digest_verified: true
        },
        "{name}"
    );
    ours(&listing)
}

/// Peeks an invalid archive: it must fail with a reason naming the tar stream, and list
/// nothing after the fault.
fn peek_invalid(name: &str, tar: &[u8], compression: Compression) -> (String, Vec<Listed>) {
    keep(name, tar);
    let listing = peek(tar, compression);
    let LayerStatus::Failed(reason) = &listing.result.status else {
        panic!(
            "{name}: expected a failure, got {:?} with {:?}",
            listing.result.status,
            ours(&listing)
        );
    };
    assert!(
        reason.contains("the layer's tar stream is invalid at byte"),
        "{name}: the reason must name the tar stream: {reason}"
    );
    (reason.clone(), ours(&listing))
}

fn keep(name: &str, tar: &[u8]) {
    if let Some(dir) = std::env::var_os("TAR_FIDELITY_KEEP") {
        fs::create_dir_all(&dir).expect("keep dir");
        fs::write(Path::new(&dir).join(format!("{name}.tar")), tar).expect("keep archive");
    }
}

// ---------------------------------------------------------------------------------------------
// The reference readers
// ---------------------------------------------------------------------------------------------

/// Panics with a clear message when a tool the corpus needs is missing.
fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is missing: run tests/run, which installs Debian's {package}"
    );
}

/// Runs a command that must succeed; returns its stdout.
fn run(command: &mut Command) -> Vec<u8> {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// How the peek names a plain entry kind, given whiteout names.
fn kind_for(path: &str, plain: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == ".wh..wh..opq" {
        "opaque-marker".into()
    } else if name.starts_with(".wh.") {
        "whiteout".into()
    } else {
        plain.into()
    }
}

/// Brings a reference reader's entry to the peek's conventions: normalised paths, whiteout
/// kinds, size only for files, hard link targets normalised.
fn conventional(path: &str, plain_kind: &str, size: u64, link: Option<String>) -> Listed {
    let path = normalize_path(path);
    let kind = kind_for(&path, plain_kind);
    let link = match kind.as_str() {
        "hardlink" => link.map(|l| normalize_path(&l)),
        _ => link,
    };
    Listed {
        size: if kind == "file" { size } else { 0 },
        path,
        kind,
        link,
    }
}

const PYTHON_LISTER: &str = r#"
import json, sys, tarfile
out = []
with tarfile.open(sys.argv[1]) as archive:
    for m in archive:
        kind = ("file" if m.isreg() else "dir" if m.isdir() else "symlink" if m.issym()
                else "hardlink" if m.islnk() else "char-device" if m.ischr()
                else "block-device" if m.isblk() else "fifo" if m.isfifo() else "other")
        out.append([m.name, kind, m.size, m.linkname or None])
print(json.dumps(out))
"#;

/// Python's `tarfile` listing of `tar`.
fn python_listing(tar: &[u8]) -> Vec<Listed> {
    require("python3", "python3");
    let file = temp_archive(tar);
    let stdout = run(Command::new("python3")
        .args(["-c", PYTHON_LISTER])
        .arg(file.path()));
    let rows: Vec<(String, String, u64, Option<String>)> =
        serde_json::from_slice(&stdout).expect("python listing json");
    rows.into_iter()
        .map(|(path, kind, size, link)| conventional(&path, &kind, size, link))
        .collect()
}

/// GNU tar's `tar -tv` listing of `tar`.
fn gnu_listing(tar: &[u8]) -> Vec<Listed> {
    require("tar", "tar");
    let file = temp_archive(tar);
    let stdout = run(Command::new("tar")
        .args(["-tv", "--numeric-owner", "--quoting-style=literal", "-f"])
        .arg(file.path())
        .env("LC_ALL", "C.UTF-8")
        .env("TZ", "UTC"));
    String::from_utf8(stdout)
        .expect("utf-8 listing")
        .lines()
        .map(parse_gnu_line)
        .collect()
}

/// One line of `tar -tv`: `MODE OWNER SIZE DATE TIME NAME[ -> TARGET| link to TARGET]`.
fn parse_gnu_line(line: &str) -> Listed {
    let mut rest = line;
    let mut fields = Vec::new();
    for _ in 0..5 {
        rest = rest.trim_start();
        let end = rest.find(' ').unwrap_or(rest.len());
        fields.push(&rest[..end]);
        rest = &rest[end..];
    }
    let name = rest.strip_prefix(' ').unwrap_or(rest);
    let plain = match fields[0].chars().next() {
        Some('-') => "file",
        Some('d') => "dir",
        Some('l') => "symlink",
        Some('h') => "hardlink",
        Some('p') => "fifo",
        Some('c') => "char-device",
        Some('b') => "block-device",
        _ => "other",
    };
    let (name, link) = match plain {
        "symlink" => name.split_once(" -> ").expect("symlink line"),
        "hardlink" => name.split_once(" link to ").expect("hardlink line"),
        _ => (name, ""),
    };
    let link = (!link.is_empty()).then(|| link.to_owned());
    let size = fields[2].parse().unwrap_or(0);
    conventional(name, plain, size, link)
}

/// bsdtar's `bsdtar -t` names for `tar`.
fn bsdtar_names(tar: &[u8]) -> Vec<String> {
    require("bsdtar", "libarchive-tools");
    let file = temp_archive(tar);
    let stdout = run(Command::new("bsdtar")
        .arg("-tf")
        .arg(file.path())
        .env("LC_ALL", "C.UTF-8"));
    names(stdout)
}

/// bsdtar's names for `tar` when it complains about the archive but lists it.
fn bsdtar_names_despite_warnings(tar: &[u8]) -> Vec<String> {
    require("bsdtar", "libarchive-tools");
    let file = temp_archive(tar);
    let output = Command::new("bsdtar")
        .arg("-tf")
        .arg(file.path())
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("run bsdtar");
    names(output.stdout)
}

fn names(stdout: Vec<u8>) -> Vec<String> {
    String::from_utf8(stdout)
        .expect("utf-8 listing")
        .lines()
        .map(normalize_path)
        .collect()
}

fn temp_archive(tar: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    fs::write(file.path(), tar).expect("write archive");
    file
}

/// Lists a valid archive and checks it against Python's tarfile, GNU tar and bsdtar.
fn assert_agrees(name: &str, tar: &[u8]) -> Vec<Listed> {
    let ours = peek_valid(name, tar);
    assert!(!ours.is_empty(), "{name}: nothing listed");
    assert_eq!(
        ours,
        python_listing(tar),
        "{name}: ours vs Python's tarfile"
    );
    assert_eq!(ours, gnu_listing(tar), "{name}: ours vs GNU tar -tv");
    let paths: Vec<String> = ours.iter().map(|e| e.path.clone()).collect();
    assert_eq!(paths, bsdtar_names(tar), "{name}: ours vs bsdtar -t");
    ours
}

// ---------------------------------------------------------------------------------------------
// The trees the writers archive
// ---------------------------------------------------------------------------------------------

/// What a fixture tree holds beyond the basics.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tree {
    /// Short names only, regular files, directories and links (v7 can hold these).
    V7,
    /// Plus a FIFO, whiteouts, unicode, a path over 100 bytes split by ustar's prefix.
    Ustar,
    /// Plus names over 100 and over 255 bytes, a long component, a long link target.
    Long,
}

fn write_file(path: &Path, data: &[u8]) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, data).expect("write file");
}

/// Writes the fixture tree into `root`.
fn make_tree(root: &Path, tree: Tree) {
    write_file(&root.join("etc/os-release"), b"ID=test\n");
    write_file(&root.join("empty"), b"");
    write_file(&root.join("bin/tool"), &[7u8; 5000]);
    fs::create_dir_all(root.join("var/empty-dir")).expect("mkdir");
    symlink("/usr/share/zoneinfo/UTC", root.join("etc/localtime")).expect("symlink");
    symlink("tool", root.join("bin/alias")).expect("symlink");
    fs::hard_link(
        root.join("etc/os-release"),
        root.join("etc/os-release-link"),
    )
    .expect("link");
    if tree == Tree::V7 {
        return;
    }
    write_file(&root.join("unicode/日本語.txt"), "こんにちは".as_bytes());
    write_file(&root.join("unicode/ünïcødé-名前.bin"), &[2u8; 1000]);
    write_file(&root.join("etc/.wh.motd"), b"");
    write_file(&root.join("var/cache/.wh..wh..opq"), b"");
    write_file(&root.join("with space/a file"), b"spaces");
    // 40 + 40 + 40 + 30: over 100 bytes, each component short (ustar's prefix splits it).
    let prefixed = format!(
        "{}/{}/{}/{}",
        "a".repeat(40),
        "b".repeat(40),
        "c".repeat(40),
        "file-in-a-deep-dir.txt"
    );
    write_file(&root.join(prefixed), b"deep");
    run(Command::new("mkfifo").arg(root.join("var/pipe")));
    if tree == Tree::Ustar {
        return;
    }
    let long_component = format!("{}.txt", "n".repeat(150));
    write_file(&root.join("long").join(&long_component), b"long name");
    let very_long = format!(
        "long/{}/{}/{}/file-past-255-bytes.txt",
        "x".repeat(90),
        "y".repeat(90),
        "z".repeat(90)
    );
    write_file(&root.join(very_long), b"very long");
    let target = format!("/opt/{}/{}/target", "t".repeat(80), "u".repeat(80));
    symlink(&target, root.join("long/far-link")).expect("symlink");
    fs::hard_link(
        root.join("long").join(&long_component),
        root.join("long/hard-link-to-a-long-name"),
    )
    .expect("link");
}

/// A fixture tree in a fresh temporary directory.
fn tree(tree: Tree) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    make_tree(dir.path(), tree);
    dir
}

/// A directory holding sparse files: many data regions (more than an old-GNU header and one
/// extension block hold), and one made of holes only.
fn sparse_tree() -> (tempfile::TempDir, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let many = fs::File::create(dir.path().join("many-regions.img")).expect("create");
    let apparent: u64 = 48 << 20;
    many.set_len(apparent).expect("truncate");
    for region in 0..30u64 {
        many.write_all_at(&[b'x'; 4096], region * (1 << 20) + 8192)
            .expect("write region");
    }
    let holes = fs::File::create(dir.path().join("holes-only.img")).expect("create");
    holes.set_len(5 << 20).expect("truncate");
    write_file(&dir.path().join("plain.txt"), b"not sparse");
    (dir, apparent)
}

// ---------------------------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------------------------

/// Runs the writer `writer` makes for the archive's path (beside `dir`) and returns the
/// archive it wrote.
fn archive_with(dir: &Path, writer: impl FnOnce(&Path) -> Command) -> Vec<u8> {
    let out = dir.with_extension("out.tar");
    run(&mut writer(&out));
    let bytes = fs::read(&out).expect("read archive");
    fs::remove_file(&out).expect("remove archive");
    bytes
}

fn gnu_tar(dir: &Path, args: &[&str]) -> Vec<u8> {
    require("tar", "tar");
    archive_with(dir, |out| {
        let mut tar = Command::new("tar");
        tar.args(["--sort=name", "-cf"])
            .arg(out)
            .args(args)
            .arg("-C")
            .arg(dir)
            .arg(".");
        tar
    })
}

fn bsdtar(dir: &Path, format: &str) -> Vec<u8> {
    require("bsdtar", "libarchive-tools");
    archive_with(dir, |out| {
        let mut bsdtar = Command::new("bsdtar");
        bsdtar
            .args(["--format", format, "-cf"])
            .arg(out)
            .arg("-C")
            .arg(dir)
            .arg(".");
        bsdtar
    })
}

const PYTHON_WRITER: &str = r#"
import sys, tarfile
fmt = getattr(tarfile, sys.argv[3])
extra = {}
if len(sys.argv) > 4:
    extra["pax_headers"] = {"comment": sys.argv[4], "mtime": "1600000000"}
with tarfile.open(sys.argv[2], "w", format=fmt, **extra) as archive:
    archive.add(sys.argv[1], arcname=".")
"#;

fn python_tar(dir: &Path, format: &str, global_comment: Option<&str>) -> Vec<u8> {
    require("python3", "python3");
    archive_with(dir, |out| {
        let mut python = Command::new("python3");
        python
            .args(["-c", PYTHON_WRITER])
            .arg(dir)
            .arg(out)
            .arg(format)
            .args(global_comment);
        python
    })
}

fn paths(listing: &[Listed]) -> Vec<&str> {
    listing.iter().map(|e| e.path.as_str()).collect()
}

fn entry<'a>(listing: &'a [Listed], path: &str) -> &'a Listed {
    listing
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("{path} not listed in {:?}", paths(listing)))
}

/// The long names of [`Tree::Long`] are listed in full.
fn assert_long_names(listing: &[Listed]) {
    // Of the two names of one inode, the first archived holds the data.
    let long_file = format!("long/{}.txt", "n".repeat(150));
    let other = "long/hard-link-to-a-long-name";
    let first = listing
        .iter()
        .find(|e| e.path == long_file || e.path == other)
        .expect("a long name listed");
    let second = if first.path == other {
        long_file.as_str()
    } else {
        other
    };
    assert_eq!((first.kind.as_str(), first.size), ("file", 9));
    let link = entry(listing, second);
    assert_eq!(link.kind, "hardlink");
    assert_eq!(link.link.as_deref(), Some(first.path.as_str()));
    let very_long = format!(
        "long/{}/{}/{}/file-past-255-bytes.txt",
        "x".repeat(90),
        "y".repeat(90),
        "z".repeat(90)
    );
    assert!(very_long.len() > 255);
    assert_eq!(entry(listing, &very_long).kind, "file");
    let target = format!("/opt/{}/{}/target", "t".repeat(80), "u".repeat(80));
    assert_eq!(entry(listing, "long/far-link").link, Some(target));
    assert_eq!(entry(listing, "unicode/ünïcødé-名前.bin").size, 1000);
}

// ---------------------------------------------------------------------------------------------
// Tests: archives the real writers make
// ---------------------------------------------------------------------------------------------

#[test]
fn gnu_tar_formats_list_as_python_gnu_and_bsdtar_do() {
    require("python3", "python3");
    require("bsdtar", "libarchive-tools");
    let long = tree(Tree::Long);
    for format in ["gnu", "oldgnu", "posix"] {
        let tar = gnu_tar(long.path(), &[&format!("--format={format}")]);
        let listing = assert_agrees(&format!("gnu-{format}"), &tar);
        assert_long_names(&listing);
    }
    let ustar = tree(Tree::Ustar);
    let tar = gnu_tar(ustar.path(), &["--format=ustar"]);
    let listing = assert_agrees("gnu-ustar", &tar);
    assert_eq!(entry(&listing, "var/pipe").kind, "fifo");
    assert_eq!(entry(&listing, "etc/.wh.motd").kind, "whiteout");
    assert_eq!(
        entry(&listing, "var/cache/.wh..wh..opq").kind,
        "opaque-marker"
    );
    let deep = format!(
        "{}/{}/{}/file-in-a-deep-dir.txt",
        "a".repeat(40),
        "b".repeat(40),
        "c".repeat(40)
    );
    assert_eq!(entry(&listing, &deep).size, 4, "ustar prefix joined");
    let v7 = tree(Tree::V7);
    let tar = gnu_tar(v7.path(), &["--format=v7"]);
    let listing = assert_agrees("gnu-v7", &tar);
    assert_eq!(entry(&listing, "var/empty-dir").kind, "dir");
    assert_eq!(entry(&listing, "bin/tool").size, 5000);
}

#[test]
fn gnu_tar_sparse_files_list_with_real_names_and_apparent_sizes() {
    require("python3", "python3");
    require("bsdtar", "libarchive-tools");
    let (dir, apparent) = sparse_tree();
    let cases: [(&str, &[&str], Option<&str>); 5] = [
        ("gnu", &["--format=gnu"], None),
        ("oldgnu", &["--format=oldgnu"], None),
        ("posix-1.0", &["--format=posix"], Some("GNU.sparse.major=1")),
        (
            "posix-0.1",
            &["--format=posix", "--sparse-version=0.1"],
            Some("GNU.sparse.map="),
        ),
        (
            "posix-0.0",
            &["--format=posix", "--sparse-version=0.0"],
            Some("GNU.sparse.offset="),
        ),
    ];
    for (name, args, marker) in cases {
        let mut all_args = vec!["--sparse"];
        all_args.extend_from_slice(args);
        let tar = gnu_tar(dir.path(), &all_args);
        assert!(
            (tar.len() as u64) < apparent / 8,
            "{name}: {} bytes, the file was not stored sparse",
            tar.len()
        );
        if let Some(marker) = marker {
            assert!(
                tar.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{name}: no {marker} record"
            );
        }
        let listing = assert_agrees(&format!("gnu-sparse-{name}"), &tar);
        assert_eq!(
            listing,
            vec![
                listed(".", "dir", 0, None),
                listed("holes-only.img", "file", 5 << 20, None),
                listed("many-regions.img", "file", apparent, None),
                listed("plain.txt", "file", 10, None),
            ],
            "{name}"
        );
        assert!(
            listing.iter().all(|e| !e.path.contains("GNUSparseFile")),
            "{name}: placeholder name listed"
        );
    }
}

#[test]
fn bsdtar_formats_list_as_python_gnu_and_bsdtar_do() {
    require("python3", "python3");
    let long = tree(Tree::Long);
    for format in ["pax", "gnutar"] {
        let tar = bsdtar(long.path(), format);
        let listing = assert_agrees(&format!("bsdtar-{format}"), &tar);
        assert_long_names(&listing);
    }
    let ustar = tree(Tree::Ustar);
    assert_agrees("bsdtar-ustar", &bsdtar(ustar.path(), "ustar"));
    let v7 = tree(Tree::V7);
    assert_agrees("bsdtar-v7", &bsdtar(v7.path(), "v7"));
    let (sparse, apparent) = sparse_tree();
    let listing = assert_agrees("bsdtar-pax-sparse", &bsdtar(sparse.path(), "pax"));
    assert_eq!(entry(&listing, "many-regions.img").size, apparent);
}

#[test]
fn python_tarfile_formats_list_as_python_gnu_and_bsdtar_do() {
    require("bsdtar", "libarchive-tools");
    let long = tree(Tree::Long);
    for format in ["GNU_FORMAT", "PAX_FORMAT"] {
        let tar = python_tar(long.path(), format, None);
        let listing = assert_agrees(&format!("python-{format}"), &tar);
        assert_long_names(&listing);
    }
    let ustar = tree(Tree::Ustar);
    assert_agrees(
        "python-USTAR_FORMAT",
        &python_tar(ustar.path(), "USTAR_FORMAT", None),
    );
    // A PAX global header first: metadata, never an entry; its mtime applies to all.
    let tar = python_tar(long.path(), "PAX_FORMAT", Some("global comment"));
    assert_eq!(tar[156], b'g', "the archive starts with a global header");
    let listing = assert_agrees("python-pax-global", &tar);
    assert_long_names(&listing);
    assert_eq!(listing[0].path, ".");
    let entries = peek(&tar, Compression::None).entries;
    assert!(
        entries
            .iter()
            .all(|e| !e.path.contains("pax_global_header")),
        "a global header listed as an entry"
    );
}

// ---------------------------------------------------------------------------------------------
// Hand-made headers
// ---------------------------------------------------------------------------------------------

const END: [u8; 1024] = [0; 1024];

/// A ustar header for `name` (raw bytes) with the type and size given, checksum set.
fn ustar_header(name: &[u8], typeflag: u8, size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_mode(0o644);
    header.set_uid(1000);
    header.set_gid(1000);
    header.set_mtime(1_700_000_000);
    header.set_size(size);
    header.set_entry_type(tar::EntryType::new(typeflag));
    header.set_cksum();
    header
}

/// A GNU header (for `L`/`K` members and the member they describe).
fn gnu_header(name: &[u8], typeflag: u8, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    header.set_size(size);
    header.set_entry_type(tar::EntryType::new(typeflag));
    header.set_cksum();
    header
}

/// A header followed by its data and padding.
fn member(header: &tar::Header, data: &[u8]) -> Vec<u8> {
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn file(name: &str, data: &[u8]) -> Vec<u8> {
    member(
        &ustar_header(name.as_bytes(), b'0', data.len() as u64),
        data,
    )
}

/// A GNU long name (`L`) or long link (`K`) member carrying `value`.
fn gnu_long(typeflag: u8, value: &[u8]) -> Vec<u8> {
    member(
        &gnu_header(b"././@LongLink", typeflag, value.len() as u64),
        value,
    )
}

/// PAX records, each `LEN KEY=VALUE\n`.
fn pax_records(records: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let body = format!(" {key}={value}\n");
        let mut length = body.len() + 1;
        while format!("{length}{body}").len() != length {
            length += 1;
        }
        out.extend_from_slice(format!("{length}{body}").as_bytes());
    }
    out
}

/// A PAX extended (`x`) or global (`g`) header carrying `data`.
fn pax(typeflag: u8, data: &[u8]) -> Vec<u8> {
    member(
        &ustar_header(b"PaxHeaders/entry", typeflag, data.len() as u64),
        data,
    )
}

fn archive(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = parts.concat();
    out.extend_from_slice(&END);
    out
}

/// The unsigned and signed sums of a header's bytes, the checksum field counted as spaces.
fn sums(header: &tar::Header) -> (i64, i64) {
    let mut bytes = *header.as_bytes();
    bytes[148..156].copy_from_slice(b"        ");
    bytes.iter().fold((0, 0), |(u, s), &b| {
        (u + i64::from(b), s + i64::from(b as i8))
    })
}

#[test]
fn hand_made_valid_archives_list_as_the_readers_agree() {
    require("python3", "python3");
    require("tar", "tar");
    require("bsdtar", "libarchive-tools");

    // A checksum written as the signed sum of the bytes (old Sun and GNU writers): a name
    // with bytes over 0x7f makes it differ from the unsigned sum.
    let mut signed = ustar_header("signed-é-ü".as_bytes(), b'0', 3);
    let (unsigned_sum, signed_sum) = sums(&signed);
    assert_ne!(unsigned_sum, signed_sum);
    signed
        .as_old_mut()
        .cksum
        .copy_from_slice(format!("{signed_sum:06o}\0 ").as_bytes());
    let tar = archive(&[member(&signed, b"abc"), file("after", b"z")]);
    assert_eq!(
        assert_agrees("signed-checksum", &tar),
        vec![
            listed("signed-é-ü", "file", 3, None),
            listed("after", "file", 1, None),
        ]
    );

    // A GNU long name with bytes after its NUL: cut at the NUL.
    let tar = archive(&[
        gnu_long(b'L', b"dir/the-real-long-name\0garbage-after-the-nul"),
        member(&gnu_header(b"dir/the-real-lo", b'0', 2), b"ok"),
        gnu_long(b'K', b"/link/target\0more garbage"),
        member(&gnu_header(b"a-link", b'2', 0), b""),
    ]);
    assert_eq!(
        assert_agrees("gnu-long-name-nul", &tar),
        vec![
            listed("dir/the-real-long-name", "file", 2, None),
            listed("a-link", "symlink", 0, Some("/link/target")),
        ]
    );

    // PAX size, uid and mtime with a fraction; of two records with one key the last wins.
    let tar = archive(&[
        pax(
            b'x',
            &pax_records(&[
                ("path", "first-path"),
                ("path", "header-name"),
                ("size", "5"),
                ("mtime", "1234567890.5"),
                ("uid", "4242"),
            ]),
        ),
        member(&ustar_header(b"placeholder", b'0', 999), b"12345"),
        file("next", b"n"),
    ]);
    assert_eq!(
        assert_agrees("pax-overrides", &tar),
        vec![
            listed("header-name", "file", 5, None),
            listed("next", "file", 1, None)
        ]
    );
    let entries = peek(&tar, Compression::None).entries;
    assert_eq!((entries[0].uid, entries[0].mtime), (4242, 1_234_567_890));

    // A size in base-256, as GNU tar writes sizes of 8 GiB and more.
    let mut binary_size = ustar_header(b"binary-size", b'0', 0);
    base256_size(&mut binary_size, 3);
    let tar = archive(&[member(&binary_size, b"abc"), file("after", b"z")]);
    assert_eq!(
        assert_agrees("base-256-size", &tar),
        vec![
            listed("binary-size", "file", 3, None),
            listed("after", "file", 1, None),
        ]
    );

    // Metadata headers followed by the end of the archive describe nothing: GNU tar and Go end
    // the archive there (Python and bsdtar refuse it). Go's pax-path-hdr.tar has a PAX header
    // then the end of the stream.
    for (name, tail) in [
        ("dangling-long-name", gnu_long(b'L', b"orphan\0")),
        (
            "dangling-pax",
            pax(b'x', &pax_records(&[("path", "orphan")])),
        ),
    ] {
        let tar = archive(&[file("before", b"ok"), tail]);
        let expected = vec![listed("before", "file", 2, None)];
        assert_eq!(peek_valid(name, &tar), expected, "{name}");
        assert_eq!(gnu_listing(&tar), expected, "{name}");
    }

    // The formats' own metadata at the root is not an image file; elsewhere it is.
    let tar = archive(&[
        file("bin/sh", b"#!"),
        file("stargz.index.json", b"{}"),
        file(".prefetch.landmark", b"\0"),
        file(".no.prefetch.landmark", b"\0"),
        file("sub/stargz.index.json", b"{}"),
    ]);
    assert_eq!(
        peek_valid("format-metadata", &tar),
        vec![
            listed("bin/sh", "file", 2, None),
            listed("sub/stargz.index.json", "file", 2, None),
        ]
    );
}

#[test]
fn of_several_metadata_headers_before_one_entry_the_last_wins() {
    require("tar", "tar");
    require("bsdtar", "libarchive-tools");
    // Two GNU long names: GNU tar, bsdtar and Go take the last (Python's tarfile the first).
    let tar = archive(&[
        gnu_long(b'L', b"first-long-name\0"),
        gnu_long(b'L', b"second-long-name\0"),
        member(&gnu_header(b"short", b'0', 1), b"x"),
    ]);
    let expected = vec![listed("second-long-name", "file", 1, None)];
    assert_eq!(peek_valid("two-long-names", &tar), expected);
    assert_eq!(gnu_listing(&tar), expected);
    assert_eq!(bsdtar_names(&tar), ["second-long-name"]);

    // Two PAX extended headers: the last replaces the first entirely, as GNU tar and Go read
    // them, and bsdtar too ("Ignoring malformed pax extended attribute", exit status 1);
    // Python's tarfile lets the first win. The first's path is dropped.
    let tar = archive(&[
        pax(b'x', &pax_records(&[("path", "evil"), ("size", "3")])),
        pax(b'x', &pax_records(&[("mtime", "1600000000"), ("uid", "7")])),
        member(&ustar_header(b"good", b'0', 1), b"x"),
        pax(b'x', &pax_records(&[("path", "one")])),
        pax(b'x', &pax_records(&[("path", "two")])),
        member(&ustar_header(b"header", b'0', 2), b"xy"),
    ]);
    let expected = vec![
        listed("good", "file", 1, None),
        listed("two", "file", 2, None),
    ];
    keep("two-pax-headers", &tar);
    let listing = peek(&tar, Compression::None);
    assert_eq!(ours(&listing), expected);
    assert_eq!(
        (listing.entries[0].mtime, listing.entries[0].uid),
        (1_600_000_000, 7)
    );
    assert_eq!(gnu_listing(&tar), expected);
    assert_eq!(bsdtar_names_despite_warnings(&tar), ["good", "two"]);
}

/// The size field encoded in base-256.
fn base256_size(header: &mut tar::Header, value: i64) {
    let mut field = [0u8; 12];
    field[4..].copy_from_slice(&value.to_be_bytes());
    field[..4].fill(if value < 0 { 0xff } else { 0 });
    field[0] |= 0x80;
    header.as_old_mut().size = field;
    header.set_cksum();
}

#[test]
fn invalid_archives_fail_naming_tar_never_listing_made_up_names() {
    let before = file("before", b"ok");
    // An entry, then a PAX header holding `records` for a placeholder file.
    let pax_before_placeholder = |records: &[u8]| {
        archive(&[
            before.clone(),
            pax(b'x', records),
            file("placeholder", b"x"),
        ])
    };

    let mut bad_checksum = ustar_header(b"bad-checksum", b'0', 0);
    bad_checksum
        .as_old_mut()
        .cksum
        .copy_from_slice(b"000001\0 ");
    let mut negative = ustar_header(b"negative-size", b'0', 0);
    base256_size(&mut negative, -512);
    let mut absurd = ustar_header(b"absurd-size", b'0', 0);
    base256_size(&mut absurd, 2 << 40);
    let mut garbage = ustar_header(b"garbage-size", b'0', 0);
    garbage.as_old_mut().size.copy_from_slice(b"00000zz0000\0");
    garbage.set_cksum();

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bad-checksum",
            archive(&[before.clone(), member(&bad_checksum, b"")]),
            "header checksum mismatch",
        ),
        (
            "negative-size",
            archive(&[before.clone(), negative.as_bytes().to_vec()]),
            "negative size",
        ),
        (
            "absurd-size",
            archive(&[before.clone(), absurd.as_bytes().to_vec()]),
            "exceeds the limit",
        ),
        (
            "garbage-size",
            archive(&[before.clone(), garbage.as_bytes().to_vec()]),
            "size field is not a valid number",
        ),
        (
            "invalid-pax-record",
            pax_before_placeholder(b"30 path=not-the-right-length\n"),
            "invalid PAX record",
        ),
        (
            "pax-record-without-equals",
            pax_before_placeholder(b"11 pathabc\n"),
            "invalid PAX record",
        ),
        (
            "absurd-pax-size",
            pax_before_placeholder(&pax_records(&[("size", "99999999999999999")])),
            "PAX size",
        ),
        (
            "negative-pax-size",
            pax_before_placeholder(&pax_records(&[("size", "-1")])),
            "negative PAX size",
        ),
        (
            "huge-pax-header",
            archive(&[before.clone(), {
                let mut header = ustar_header(b"PaxHeaders/huge", b'x', 0);
                header.set_size(64 << 20);
                header.set_cksum();
                header.as_bytes().to_vec()
            }]),
            "exceeds the limit",
        ),
        (
            "unknown-sparse-version",
            archive(&[
                before.clone(),
                pax(
                    b'x',
                    &pax_records(&[
                        ("GNU.sparse.major", "7"),
                        ("GNU.sparse.minor", "3"),
                        ("GNU.sparse.name", "real"),
                    ]),
                ),
                file("GNUSparseFile.0/real", b"x"),
            ]),
            "unsupported GNU sparse format version 7.3",
        ),
        (
            "sparse-without-real-name",
            archive(&[
                before.clone(),
                pax(
                    b'x',
                    &pax_records(&[
                        ("GNU.sparse.major", "1"),
                        ("GNU.sparse.minor", "0"),
                        ("GNU.sparse.realsize", "10"),
                    ]),
                ),
                file("GNUSparseFile.0/real", b"0\n"),
            ]),
            "no GNU.sparse.name",
        ),
        (
            "sparse-map-beyond-size",
            archive(&[
                before.clone(),
                pax(
                    b'x',
                    &pax_records(&[
                        ("GNU.sparse.major", "0"),
                        ("GNU.sparse.minor", "1"),
                        ("GNU.sparse.name", "real"),
                        ("GNU.sparse.size", "10"),
                        ("GNU.sparse.numblocks", "1"),
                        ("GNU.sparse.map", "8,4"),
                    ]),
                ),
                file("GNUSparseFile.0/real", b"abcd"),
            ]),
            "invalid GNU sparse map",
        ),
        (
            "empty-pax-path",
            pax_before_placeholder(&pax_records(&[("path", "")])),
            "an empty path",
        ),
    ];
    for (name, tar, problem) in cases {
        for compression in [Compression::None, Compression::Gzip] {
            let (reason, listing) = peek_invalid(name, &tar, compression);
            assert!(reason.contains(problem), "{name}: {reason}");
            assert!(
                !reason.contains("gzip data is corrupt"),
                "{name}: a tar problem blamed on gzip: {reason}"
            );
            assert_eq!(
                listing,
                vec![listed("before", "file", 2, None)],
                "{name}: only the entries before the fault"
            );
        }
    }
}

#[test]
fn a_member_cut_short_is_listed_then_the_layer_fails() {
    // The header is valid (GNU tar and Python list it too), its data is not all there.
    let tar = [
        file("before", b"ok"),
        ustar_header(b"cut", b'0', 4096).as_bytes().to_vec(),
        vec![1; 100],
    ]
    .concat();
    for compression in [Compression::None, Compression::Gzip] {
        let (reason, listing) = peek_invalid("truncated-data", &tar, compression);
        assert!(
            reason.contains("at byte 1024: the stream ends inside an entry's data"),
            "{reason}"
        );
        assert_eq!(
            listing,
            vec![
                listed("before", "file", 2, None),
                listed("cut", "file", 4096, None)
            ]
        );
    }
}

#[test]
fn invalid_tar_errors_name_the_byte_of_the_bad_header() {
    let mut bad = ustar_header(b"bad", b'0', 0);
    bad.as_old_mut().cksum.copy_from_slice(b"000001\0 ");
    let tar = archive(&[file("a", &[0; 700]), bad.as_bytes().to_vec()]);
    let (reason, _) = peek_invalid("byte-offset", &tar, Compression::Zstd);
    assert!(
        reason.contains("the layer's tar stream is invalid at byte 1536: header checksum mismatch"),
        "{reason}"
    );
}

#[test]
fn a_damaged_gzip_stream_is_still_blamed_on_gzip() {
    // Stored (uncompressed) deflate blocks: a flipped byte inflates to a damaged tar header,
    // which the walker meets before the decompressor checks the member's CRC at its end.
    // Reading on to that end names the real cause, whether the blob was damaged after it was
    // published (its digest differs too) or published damaged (its digest matches).
    let tar = archive(&[file("a", &[0x55; 100]), file("b", b"b")]);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    encoder.write_all(&tar).expect("gzip");
    let published = encoder.finish().expect("gzip finish");
    let second_header = &tar[1024..1536];
    let at = published
        .windows(512)
        .position(|w| w == second_header)
        .expect("a stored block holds the header verbatim");
    let mut damaged = published.clone();
    damaged[at + 100] ^= 0x01; // the mode field
    let failure = |listing: &LayerListing| match &listing.result.status {
        LayerStatus::Failed(reason) => reason.clone(),
        other => panic!("expected a failure: {other:?}"),
    };

    let in_transit = peek_damaged_blob(&published, &damaged, Compression::Gzip, &tar);
    let reason = failure(&in_transit);
    assert!(reason.contains("gzip data is corrupt"), "{reason}");
    assert_eq!(ours(&in_transit), vec![listed("a", "file", 100, None)]);

    let as_published = peek_blob(&damaged, Compression::Gzip, &tar);
    let reason = failure(&as_published);
    assert!(reason.contains("gzip data is corrupt"), "{reason}");
    assert_eq!(ours(&as_published), vec![listed("a", "file", 100, None)]);
}

// ---------------------------------------------------------------------------------------------
// The public test suites: Go's archive/tar and CPython's tarfile test archives
// ---------------------------------------------------------------------------------------------

/// How an archive of the public suites must list (see `tests/tar_fidelity/*/README.md`).
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Go and Python list it alike, or both refuse it after listing the same entries: the
    /// walker lists it as they do (and fails where they fail).
    Agreed,
    /// Go and Python read it differently; the walker lists it as Go does, for the reason given.
    AsGo(&'static str),
    /// Go and Python read it differently; the walker lists it as Python does, for the reason
    /// given.
    AsPython(&'static str),
    /// Go refuses it, Python lists it: the walker fails with this problem, after the entries
    /// Go lists. The reason says why Python's listing is not followed.
    Refused(&'static str, &'static str),
}

/// Every archive of `tests/tar_fidelity/{go,python}`, and what its listing must be.
/// The suite archives both readers list alike, and we as they do (the others are in
/// [`SUITE`]).
const AGREED: &[&str] = &[
    "go/gnu-long-nul.tar",
    "go/gnu-nil-sparse-data.tar",
    "go/gnu-nil-sparse-hole.tar",
    "go/gnu-not-utf8.tar",
    "go/gnu-utf8.tar",
    "go/gnu.tar",
    "go/hdr-only.tar",
    "go/invalid-go17.tar",
    "go/issue10968.tar",
    "go/issue11169.tar",
    "go/issue12435.tar",
    "go/neg-size.tar",
    "go/nil-uid.tar",
    "go/pax-pos-size-file.tar",
    "go/pax-records.tar",
    "go/pax.tar",
    "go/sparse-formats.tar",
    "go/star.tar",
    "go/trailing-slash.tar",
    "go/ustar-file-devs.tar",
    "go/ustar-file-reg.tar",
    "go/v7.tar",
    "go/xattrs.tar",
    "python/recursion.tar",
];

const SUITE: &[(&str, Expect)] = &[
    (
        "go/gnu-incremental.tar",
        Expect::AsGo(
            "a GNU header's prefix field holds atime and ctime: Go, GNU tar and bsdtar ignore it; \
             Python joins it to the names",
        ),
    ),
    (
        "go/gnu-multi-hdrs.tar",
        Expect::AsGo(
            "of two GNU long names (or links) before one member, Go, GNU tar and bsdtar take the \
             last, Python the first",
        ),
    ),
    (
        "go/pax-bad-hdr-file.tar",
        Expect::Refused(
            "invalid PAX record",
            "a PAX record ends in NUL instead of a newline: GNU tar and bsdtar complain and exit \
             with a failure; Python reads another path",
        ),
    ),
    (
        "go/pax-bad-hdr-large.tar.bz2",
        Expect::Refused(
            "exceeds the limit",
            "a PAX header over 1 MiB: Go refuses it (so does the walker, to stay bounded)",
        ),
    ),
    (
        "go/pax-bad-mtime-file.tar",
        Expect::Refused(
            "mtime",
            "mtime=999xxx9324.432432444444 is not a time: GNU tar reads 999, Python and bsdtar \
             something else",
        ),
    ),
    (
        "go/pax-global-records.tar",
        Expect::AsGo(
            "global headers with `path=global1`, then `path=` (empty): Go and bsdtar apply \
             neither to later members; GNU tar and Python name the next member global1 and the \
             ones after the empty value with an empty name",
        ),
    ),
    (
        "go/pax-multi-hdrs.tar",
        Expect::AsGo(
            "of several PAX headers before one member, Go, GNU tar and bsdtar take the last, \
             Python the first",
        ),
    ),
    (
        "go/pax-nil-sparse-data.tar",
        Expect::AsGo(
            "PAX sparse 1.0: Go, GNU tar and bsdtar report GNU.sparse.realsize; Python the \
             stored size, as its `size` record follows GNU.sparse.realsize",
        ),
    ),
    (
        "go/pax-nil-sparse-hole.tar",
        Expect::AsGo(
            "PAX sparse 1.0: Go, GNU tar and bsdtar report GNU.sparse.realsize; Python the \
             stored size, as its `size` record follows GNU.sparse.realsize",
        ),
    ),
    (
        "go/pax-nul-path.tar",
        Expect::Refused(
            "NUL byte in the path",
            "a PAX path with a NUL byte: GNU tar and bsdtar cut it there, Python keeps it whole",
        ),
    ),
    (
        "go/pax-nul-xattrs.tar",
        Expect::Refused(
            "invalid PAX record",
            "a PAX key with a NUL byte: GNU tar and bsdtar complain and exit with a failure",
        ),
    ),
    (
        "go/pax-path-hdr.tar",
        Expect::AsGo(
            "a PAX header then the end of the stream: Go and GNU tar list nothing; Python and \
             bsdtar refuse it",
        ),
    ),
    (
        "python/testtar.tar",
        Expect::AsPython(
            "a Solaris extended header (`X`): GNU tar, bsdtar and Python read it as a PAX \
             header; Go lists it as a member of unknown type",
        ),
    ),
];

/// Every suite archive with what is expected of it.
fn suite() -> Vec<(&'static str, Expect)> {
    AGREED
        .iter()
        .map(|&name| (name, Expect::Agreed))
        .chain(SUITE.iter().copied())
        .collect()
}

/// One reader's listing of an archive: the entries it gave, and the error it stopped at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReaderListing {
    entries: Vec<Listed>,
    error: Option<String>,
}

impl ReaderListing {
    /// The same entries, and both complete or both failed (whatever the errors say).
    fn lists_as(&self, other: &Self) -> bool {
        self.entries == other.entries && self.error.is_some() == other.error.is_some()
    }
}

/// A reference reader's JSON line: `{"entries": [[NAME_HEX, TYPE, SIZE, LINK_HEX]], "error"}`.
#[derive(serde::Deserialize)]
struct ReaderJson {
    entries: Vec<(String, String, u64, String)>,
    error: Option<String>,
}

fn unhex(text: &str) -> String {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex from the lister"))
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads a lister's output, one JSON line per archive; `kind` names an entry's kind from its
/// type (`None`: not a member, left out).
fn reader_listings(
    stdout: &[u8],
    kind: fn(&str, &str) -> Option<&'static str>,
) -> Vec<ReaderListing> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            let json: ReaderJson = serde_json::from_str(line).expect("lister json");
            let entries = json
                .entries
                .into_iter()
                .filter_map(|(name, typeflag, size, link)| {
                    let name = unhex(&name);
                    let kind = kind(&typeflag, &name)?;
                    let link = (!link.is_empty()).then(|| unhex(&link));
                    Some(conventional(&name, kind, size, link))
                })
                .collect();
            ReaderListing {
                entries,
                error: json.error,
            }
        })
        .collect()
}

/// The kind of a Go `Header.Typeflag`, as the peek names it (`D`, a GNU incremental dump's
/// directory, is a directory as GNU tar lists it). Global headers (`g`), which Go's `Next`
/// returns as headers of their own, are not members.
fn go_kind(typeflag: &str, _name: &str) -> Option<&'static str> {
    Some(match typeflag {
        "g" => return None,
        "0" | "\0" | "7" | "S" => "file",
        "5" | "D" => "dir",
        "1" => "hardlink",
        "2" => "symlink",
        "3" => "char-device",
        "4" => "block-device",
        "6" => "fifo",
        _ => "other",
    })
}

/// Go's archive/tar listing of each archive (`tests/tar_fidelity/lister.go`, built with
/// Debian's golang-go, which `tests/run` installs).
fn go_listings(archives: &[&Path]) -> Vec<ReaderListing> {
    require("go", "golang-go");
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let lister = tmp.join("tar-fidelity-go-lister");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tar_fidelity/lister.go");
    run(Command::new("go")
        .args(["build", "-o"])
        .arg(&lister)
        .arg(&source)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "")
        .env("GOCACHE", tmp.join("gocache")));
    let stdout = run(Command::new(&lister).args(archives));
    reader_listings(&stdout, go_kind)
}

const PYTHON_SUITE_LISTER: &str = r#"
import json, sys, tarfile
def hexname(text):
    return text.encode("utf-8", "surrogateescape").hex()
for path in sys.argv[1:]:
    entries, error = [], None
    try:
        with tarfile.open(path, "r:") as archive:
            for m in archive:
                kind = ("file" if m.isreg() else "dir" if m.isdir() else "symlink" if m.issym()
                        else "hardlink" if m.islnk() else "char-device" if m.ischr()
                        else "block-device" if m.isblk() else "fifo" if m.isfifo() else "other")
                entries.append([hexname(m.name), kind, m.size, hexname(m.linkname)])
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
    print(json.dumps({"entries": entries, "error": error}))
"#;

/// Python's tarfile listing of each archive.
fn python_listings(archives: &[&Path]) -> Vec<ReaderListing> {
    require("python3", "python3");
    let stdout = run(Command::new("python3")
        .args(["-c", PYTHON_SUITE_LISTER])
        .args(archives)
        .env("LC_ALL", "C.UTF-8"));
    let kind = |kind: &str, _: &str| {
        [
            "file",
            "dir",
            "symlink",
            "hardlink",
            "char-device",
            "block-device",
            "fifo",
        ]
        .into_iter()
        .find(|k| *k == kind)
        .or(Some("other"))
    };
    reader_listings(&stdout, kind)
}

/// The archive's bytes (`.bz2` ones decompressed with Python's bz2 module).
fn suite_archive(path: &Path) -> Vec<u8> {
    if path.extension().is_some_and(|e| e == "bz2") {
        run(Command::new("python3")
            .args([
                "-c",
                "import bz2, sys; sys.stdout.buffer.write(bz2.open(sys.argv[1]).read())",
            ])
            .arg(path))
    } else {
        fs::read(path).expect("read a suite archive")
    }
}

#[test]
fn go_and_python_test_archives_list_as_those_readers_do() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tar_fidelity");
    let mut on_disk: Vec<String> = ["go", "python"]
        .iter()
        .flat_map(|suite| {
            fs::read_dir(root.join(suite))
                .expect("a suite directory")
                .map(move |e| {
                    format!(
                        "{suite}/{}",
                        e.expect("dir entry").file_name().to_string_lossy()
                    )
                })
        })
        .filter(|name| name.contains(".tar"))
        .collect();
    on_disk.sort();
    let suite = suite();
    let mut listed: Vec<String> = suite.iter().map(|(name, _)| (*name).to_owned()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every suite archive has an expectation in SUITE"
    );

    // Every reader reads the same (decompressed) bytes.
    let dir = tempfile::tempdir().expect("tempdir");
    let archives: Vec<(&str, Expect, Vec<u8>, std::path::PathBuf)> = suite
        .iter()
        .map(|&(name, expect)| {
            let tar = suite_archive(&root.join(name));
            let path = dir.path().join(name.replace(['/', '.'], "-") + ".tar");
            fs::write(&path, &tar).expect("write the archive");
            (name, expect, tar, path)
        })
        .collect();
    let paths: Vec<&Path> = archives.iter().map(|a| a.3.as_path()).collect();
    let go = go_listings(&paths);
    let python = python_listings(&paths);
    assert_eq!((go.len(), python.len()), (suite.len(), suite.len()));

    let mut failures = Vec::new();
    for ((name, expect, tar, _), (go, python)) in archives.iter().zip(go.iter().zip(&python)) {
        let listing = peek(tar, Compression::None);
        keep(&name.replace('/', "-"), tar);
        let error = match &listing.result.status {
            LayerStatus::Complete { .. } => None,
            LayerStatus::Failed(reason) => {
                assert!(
                    reason.contains("the layer's tar stream is invalid at byte"),
                    "{name}: a failure that does not name the tar stream: {reason}"
                );
                Some(reason.clone())
            }
            other => panic!("{name}: {other:?}"),
        };
        let ours = ReaderListing {
            entries: ours(&listing),
            error,
        };
        let problem = match *expect {
            Expect::Agreed => {
                if !go.lists_as(python) {
                    Some(format!(
                        "Go and Python now disagree, say whose listing to follow:\n  Go: {go:?}\n  \
                         Python: {python:?}"
                    ))
                } else if !ours.lists_as(go) {
                    Some(format!("ours differs from Go and Python ({go:?})"))
                } else {
                    None
                }
            }
            Expect::AsGo(why) => (!ours.lists_as(go))
                .then(|| format!("ours differs from Go ({go:?}), followed as {why}")),
            Expect::AsPython(why) => (!ours.lists_as(python))
                .then(|| format!("ours differs from Python ({python:?}), followed as {why}")),
            Expect::Refused(problem, why) => {
                if go.error.is_none() {
                    Some(format!("Go no longer refuses it: {go:?}"))
                } else if ours.entries != go.entries
                    || !ours.error.as_deref().is_some_and(|e| e.contains(problem))
                {
                    Some(format!(
                        "expected a failure naming {problem:?} after Go's entries {go:?} ({why})"
                    ))
                } else {
                    None
                }
            }
        };
        if let Some(problem) = problem {
            failures.push(format!("{name}: {problem}\n  ours: {ours:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} archives:\n{}",
        failures.len(),
        suite.len(),
        failures.join("\n")
    );
}
