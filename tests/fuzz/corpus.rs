//! The seed corpus, `tests/fuzz_corpus/<target>/`, written by real writers: the `tar`,
//! `flate2` and `zstd` crates, GNU tar and bsdtar, skopeo (OCI archives, `docker save`
//! archives, Docker schema2 manifests, containers/storage zstd:chunked layers) and the
//! eStargz reference writer (`tests/estargz/main.go`).
//!
//! Names say what a seed is for: `valid-…` must parse (each test checks), `sample-…` are
//! malformed or odd inputs seen in the wild, `regression-…` reproduce bugs fuzzing found
//! (never rewritten here).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::estargz;
use crate::harness::{join_annotations, sha256};

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Rewrites every `valid-` and `sample-` seed under `root`.
pub fn regenerate(root: &Path) {
    let targets = [
        ("reference", references()),
        ("manifest", manifests()),
        ("www_authenticate", challenges()),
        ("tar", tars()),
        ("layer", layers()),
        ("toc", tocs()),
        ("oci_layout", oci_layouts()),
        ("docker_save", docker_saves()),
    ];
    for (target, seeds) in targets {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        for entry in std::fs::read_dir(&dir).expect("read corpus dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            if name.starts_with("valid-") || name.starts_with("sample-") {
                std::fs::remove_file(&path).expect("remove old seed");
            }
        }
        for (name, bytes) in seeds {
            assert!(name.starts_with("valid-") || name.starts_with("sample-"));
            std::fs::write(dir.join(name), bytes).expect("write seed");
        }
    }
    // Regression inputs are kept as they are; these are written only when missing.
    let bomb = 80 << 20;
    let regressions = [
        (
            "www_authenticate/regression-token-expires-in-max.json",
            br#"{"token":"t","expires_in":18446744073709551615}"#.to_vec(),
        ),
        (
            "docker_save/regression-pax-header-claims-1tib.tar.zst",
            pax_bomb(bomb),
        ),
        (
            "toc/regression-estargz-toc-long-name-claims-1tib",
            estargz_toc_bomb(bomb),
        ),
    ];
    for (name, bytes) in regressions {
        let path = root.join(name);
        if !path.exists() {
            std::fs::write(path, bytes).expect("write regression input");
        }
    }
}

type Seeds = Vec<(String, Vec<u8>)>;

fn seed(name: &str, bytes: impl Into<Vec<u8>>) -> (String, Vec<u8>) {
    (name.to_owned(), bytes.into())
}

fn references() -> Seeds {
    let valid = [
        "alpine".to_owned(),
        "alpine:3.20".into(),
        "library/alpine:3.20".into(),
        "docker.io/library/alpine:latest".into(),
        "index.docker.io/library/alpine".into(),
        "ghcr.io/owner/repo:v1.2.3".into(),
        format!("ghcr.io/o/r:1.0@sha256:{HEX}"),
        "localhost:5000/x/y:z".into(),
        format!("127.0.0.1:5000/app@sha256:{HEX}"),
        "registry.example.com:443/deep/path/name_with-dash.and.dots:v1.2.3-rc1".into(),
        "quay.io/prometheus/node-exporter:v1.8.1".into(),
        "mcr.microsoft.com/dotnet/runtime:8.0".into(),
    ];
    let samples = [
        "Alpine".to_owned(),
        "https://ghcr.io/o/r".into(),
        "alpine@sha256:abc".into(),
        "alpine:bad tag".into(),
        "alpine:".into(),
        format!("alpine@md5:{}", &HEX[..32]),
        "linux/arm/v7".into(),
        "linux/amd64".into(),
        "a:b:c:d".into(),
        "[::1]:5000/a/b:c".into(),
        format!("{}/x", "a".repeat(300)),
    ];
    let mut seeds: Seeds = valid
        .iter()
        .enumerate()
        .map(|(i, r)| seed(&format!("valid-{i:02}"), r.as_bytes()))
        .collect();
    seeds.extend(
        samples
            .iter()
            .enumerate()
            .map(|(i, r)| seed(&format!("sample-{i:02}"), r.as_bytes())),
    );
    seeds
}

/// A small image written as an OCI layout by our code and rewritten by skopeo.
struct SkopeoImage {
    dir: tempfile::TempDir,
}

impl SkopeoImage {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // gzip layers only: skopeo converts them to Docker formats.
        write_layout(&dir.path().join("src"), false, false);
        Self { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn copy(&self, extra: &[&str], destination: &str) {
        let output = Command::new("skopeo")
            .args(["copy", "--insecure-policy", "--quiet"])
            .args(extra)
            .arg(format!("oci:{}:v1", self.path("src").display()))
            .arg(destination)
            .output()
            .expect("run skopeo");
        assert!(
            output.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A layer tar from the `tar` crate: files, a directory, links, whiteouts, a long name.
fn layer_tar(variant: u8) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, data: &[u8], link: Option<&str>| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_uid(1000);
        header.set_gid(1000);
        header.set_mtime(1_700_000_000);
        header.set_size(data.len() as u64);
        match link {
            Some(target) => builder
                .append_link(&mut header, path, target)
                .expect("link"),
            None => builder
                .append_data(&mut header, path, data)
                .expect("member"),
        }
    };
    add("etc/", tar::EntryType::Directory, b"", None);
    add(
        "etc/os-release",
        tar::EntryType::Regular,
        format!("NAME=fuzz\nVERSION={variant}\n").as_bytes(),
        None,
    );
    add("bin/", tar::EntryType::Directory, b"", None);
    add("bin/tool", tar::EntryType::Regular, &[variant; 700], None);
    add("bin/sh", tar::EntryType::Symlink, b"", Some("tool"));
    add("bin/hard", tar::EntryType::Link, b"", Some("bin/tool"));
    if variant % 2 == 1 {
        add("etc/.wh.old.conf", tar::EntryType::Regular, b"", None);
        add("var/cache/.wh..wh..opq", tar::EntryType::Regular, b"", None);
        let long = format!("usr/share/{}/file.txt", "deep-directory-name".repeat(8));
        add(&long, tar::EntryType::Regular, b"long name\n", None);
    }
    builder.into_inner().expect("tar")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd")
}

/// Writes an OCI layout of one image (two layers, the second zstd-compressed when `zstd`)
/// into `dir`; with `platforms`, an index of two platforms instead.
fn write_layout(dir: &Path, platforms: bool, with_zstd: bool) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs");
    let write = |bytes: &[u8]| {
        let digest = sha256(bytes);
        std::fs::write(blobs.join(&digest[7..]), bytes).expect("blob");
        digest
    };
    let image = |architecture: &str, variant: u8| {
        let tars = [layer_tar(variant), layer_tar(variant + 1)];
        let second = if with_zstd {
            zstd(&tars[1])
        } else {
            gzip(&tars[1])
        };
        let layer_blobs = [gzip(&tars[0]), second];
        let second_type = if with_zstd {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        } else {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        };
        let config = serde_json::to_vec(&json!({
            "created": "2024-01-01T00:00:00Z",
            "architecture": architecture,
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": tars.iter().map(|t| sha256(t)).collect::<Vec<_>>()},
            "history": [
                {"created_by": "ADD rootfs.tar /", "created": "2024-01-01T00:00:00Z"},
                {"created_by": "ENV A=1", "empty_layer": true},
                {"created_by": "RUN make", "created": "2024-01-01T00:00:00Z"},
            ],
        }))
        .expect("config");
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": write(&config), "size": config.len()},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": write(&layer_blobs[0]), "size": layer_blobs[0].len()},
                {"mediaType": second_type, "digest": write(&layer_blobs[1]), "size": layer_blobs[1].len()},
            ],
        }))
        .expect("manifest");
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": write(&manifest),
            "size": manifest.len(),
            "platform": {"os": "linux", "architecture": architecture},
        })
    };
    let entry = if platforms {
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [image("amd64", 1), image("arm64", 3)],
        }))
        .expect("index");
        json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": write(&index),
            "size": index.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v1"},
        })
    } else {
        let mut descriptor = image("amd64", 1);
        descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": "v1"});
        descriptor
            .as_object_mut()
            .expect("object")
            .remove("platform");
        descriptor
    };
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [entry]}))
            .expect("index"),
    )
    .expect("index.json");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
}

/// The files of `dir` packed by the `tar` crate, sorted, with `extra` members added.
fn pack(dir: &Path, extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut builder = tar::Builder::new(Vec::new());
    for path in files {
        let name = path.strip_prefix(dir).expect("inside");
        builder
            .append_path_with_name(&path, name)
            .expect("pack file");
    }
    for (name, data) in extra {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, name, data.as_slice())
            .expect("extra member");
    }
    builder.into_inner().expect("tar")
}

fn manifests() -> Seeds {
    let image = SkopeoImage::new();
    let src = image.path("src");
    let index = std::fs::read(src.join("index.json")).expect("index.json");
    let index_value: serde_json::Value = serde_json::from_slice(&index).expect("json");
    let manifest_digest = index_value["manifests"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let blob =
        |digest: &str| std::fs::read(src.join("blobs/sha256").join(&digest[7..])).expect("blob");
    let manifest = blob(&manifest_digest);
    let manifest_value: serde_json::Value = serde_json::from_slice(&manifest).expect("json");
    let config = blob(manifest_value["config"]["digest"].as_str().expect("config"));
    image.copy(
        &["--format", "v2s2"],
        &format!("dir:{}", image.path("v2s2").display()),
    );
    let docker = std::fs::read(image.path("v2s2/manifest.json")).expect("v2s2 manifest");
    // An index as Docker Hub serves one: platforms, variants and attestation manifests.
    let entry = |os: &str, arch: &str, variant: Option<&str>, digit: char| {
        let mut platform = json!({"os": os, "architecture": arch});
        if let Some(variant) = variant {
            platform["variant"] = json!(variant);
        }
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", digit.to_string().repeat(64)),
            "size": 1024,
            "platform": platform,
        })
    };
    let hub_index = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            entry("linux", "amd64", None, 'a'),
            entry("linux", "arm", Some("v6"), 'b'),
            entry("linux", "arm", Some("v7"), 'c'),
            entry("linux", "arm64", Some("v8"), 'd'),
            entry("linux", "386", None, 'e'),
            entry("linux", "ppc64le", None, 'f'),
            entry("unknown", "unknown", None, '1'),
        ],
    }))
    .expect("index");
    let list = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": format!("sha256:{HEX}"), "size": 528, "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": format!("sha256:{}", "9".repeat(64)), "size": 528, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        ],
    }))
    .expect("list");
    let with_type = |content_type: &str, body: &[u8]| {
        let mut out = format!("content-type: {content_type}\n").into_bytes();
        out.extend(body);
        out
    };
    vec![
        seed("valid-oci-manifest.json", manifest.clone()),
        seed("valid-oci-index-layout.json", index.clone()),
        seed("valid-docker-v2s2-manifest.json", docker.clone()),
        seed("valid-oci-index-hub.json", hub_index),
        seed("valid-docker-manifest-list.json", list.clone()),
        seed("valid-config.json", config),
        seed(
            "valid-typed-docker-manifest",
            with_type("application/vnd.docker.distribution.manifest.v2+json", &docker),
        ),
        seed(
            "valid-typed-list",
            with_type("application/json; charset=utf-8", &list),
        ),
        seed(
            "sample-schema1",
            with_type(
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
                br#"{"schemaVersion":1,"name":"x","tag":"1","fsLayers":[{"blobSum":"sha256:aa"}],"history":[]}"#,
            ),
        ),
        seed("sample-html", with_type("text/html", b"<html>not found</html>")),
        seed(
            "sample-artifact",
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.artifact.manifest.v1+json","blobs":[]}"#.to_vec(),
        ),
    ]
}

fn challenges() -> Seeds {
    let headers = [
        r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:owner/repo:pull""#,
        r#"Bearer realm="https://quay.io/v2/auth",service="quay.io""#,
        r#"Bearer realm="http://127.0.0.1:5001/token",service="test",scope="repository:x:pull,push",error="insufficient_scope""#,
        r#"bearer REALM=http://127.0.0.1:1/t, service = "a\"b""#,
        r#"Basic realm="Registry Realm""#,
        r#"Basic realm="https://registry.example.com", charset="UTF-8""#,
    ];
    let tokens = [
        r#"{"token":"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln","access_token":"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln","expires_in":300,"issued_at":"2024-01-01T00:00:00.000000000Z"}"#,
        r#"{"access_token":"xyz","token_type":"Bearer","expires_in":3600,"scope":"repository:a:pull"}"#,
        r#"{"token":"only"}"#,
    ];
    let mut seeds: Seeds = headers
        .iter()
        .enumerate()
        .map(|(i, h)| seed(&format!("valid-header-{i}"), h.as_bytes()))
        .collect();
    seeds.extend(
        tokens
            .iter()
            .enumerate()
            .map(|(i, t)| seed(&format!("valid-token-{i}.json"), t.as_bytes())),
    );
    seeds.push(seed("sample-negotiate", &b"Negotiate abc, NTLM"[..]));
    seeds.push(seed("sample-no-realm", &b"Bearer service=x,scope=y"[..]));
    seeds
}

/// A directory of files for the tar writers: text, a directory, a symlink, a long name and a
/// sparse file (16 KiB with two written blocks).
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("t");
    std::fs::create_dir_all(root.join("dir/sub")).expect("dirs");
    std::fs::write(root.join("hello.txt"), b"hello\n").expect("file");
    std::fs::write(root.join("dir/sub/data.bin"), [9u8; 1500]).expect("file");
    let long = format!("{}.txt", "a-long-file-name".repeat(9));
    std::fs::write(root.join("dir").join(long), b"long\n").expect("file");
    std::os::unix::fs::symlink("hello.txt", root.join("link")).expect("symlink");
    let sparse = std::fs::File::create(root.join("sparse.img")).expect("sparse");
    sparse.set_len(16 * 1024).expect("sparse size");
    use std::os::unix::fs::FileExt as _;
    sparse.write_at(&[1u8; 512], 4096).expect("sparse data");
    sparse.write_at(&[2u8; 512], 12288).expect("sparse data");
    dir
}

fn run_tar(program: &str, args: &[&str], dir: &Path) -> Vec<u8> {
    let out = dir.join("out.tar");
    let output = Command::new(program)
        .args(args)
        .arg("-f")
        .arg(&out)
        .arg("-C")
        .arg(dir)
        .arg("t")
        .output()
        .expect("run tar");
    // ustar and v7 cannot store the long name: the writer leaves it out and says so.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || stderr.contains("name is too long"),
        "{program} {args:?}: {stderr}"
    );
    std::fs::read(&out).expect("read tar")
}

fn tars() -> Seeds {
    let tree = tree();
    let gnu = |extra: &[&str]| {
        let mut args = vec![
            "-c",
            "-b1",
            "--sort=name",
            "--mtime=@1700000000",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
        ];
        args.extend(extra);
        run_tar("tar", &args, tree.path())
    };
    let bsd = |format: &str| run_tar("bsdtar", &["-c", "--format", format], tree.path());
    let mut pax = tar::Builder::new(Vec::new());
    pax.append_pax_extensions([
        ("path", &b"pax/a-path-longer-than-a-ustar-name-field-can-hold/.......................................................end"[..]),
        ("mtime", b"1700000000.5"),
    ])
    .expect("pax");
    let mut header = tar::Header::new_ustar();
    header.set_path("placeholder").expect("path");
    header.set_size(3);
    header.set_cksum();
    pax.append(&header, &b"abc"[..]).expect("pax file");
    vec![
        seed("valid-tar-crate-gnu.tar", layer_tar(1)),
        seed("valid-tar-crate-pax.tar", pax.into_inner().expect("tar")),
        seed("valid-gnutar-gnu.tar", gnu(&["--format=gnu"])),
        seed(
            "valid-gnutar-oldgnu-sparse.tar",
            gnu(&["--format=oldgnu", "--sparse"]),
        ),
        seed(
            "valid-gnutar-pax-sparse-0.0.tar",
            gnu(&["--format=pax", "--sparse", "--sparse-version=0.0"]),
        ),
        seed(
            "valid-gnutar-pax-sparse-0.1.tar",
            gnu(&["--format=pax", "--sparse", "--sparse-version=0.1"]),
        ),
        seed(
            "valid-gnutar-pax-sparse-1.0.tar",
            gnu(&["--format=pax", "--sparse", "--sparse-version=1.0"]),
        ),
        seed("valid-gnutar-ustar.tar", gnu(&["--format=ustar"])),
        seed("valid-gnutar-v7.tar", gnu(&["--format=v7"])),
        seed("valid-bsdtar-pax.tar", bsd("pax")),
        seed("valid-bsdtar-gnutar.tar", bsd("gnutar")),
        seed("sample-end-marker-only.tar", vec![0u8; 1024]),
    ]
}

fn layers() -> Seeds {
    let tar = layer_tar(3);
    let (first, second) = tar.split_at(tar.len() / 2);
    let mut multi = gzip(first);
    multi.extend(gzip(second));
    let esgz = estargz::build(&layer_tar(5), false, 256);
    let chunked = estargz::build(&layer_tar(5), true, 256);
    vec![
        seed("valid-gzip.tar.gz", gzip(&tar)),
        seed("valid-gzip-two-members.tar.gz", multi),
        seed("valid-zstd.tar.zst", zstd(&tar)),
        seed("valid-plain.tar", layer_tar(2)),
        seed("valid-estargz.blob", esgz.blob),
        seed("valid-zstd-chunked.blob", chunked.blob),
        seed("valid-gnutar-sparse.tar.gz", gzip(&tars()[4].1)),
        seed("sample-empty.tar.gz", gzip(&[0u8; 1024])),
    ]
}

/// A zstd:chunked input (annotations and blob) whose TOC lists files of `size` bytes.
pub fn zstd_chunked_claiming(size: u64) -> Vec<u8> {
    let payload = zstd(&[0u8; 4096]);
    let toc = serde_json::to_vec(&json!({
        "version": 1,
        "entries": [
            {"type": "dir", "name": "d/"},
            {"type": "reg", "name": "d/huge", "size": size, "offset": 0, "chunkSize": size / 2, "digest": format!("sha256:{HEX}")},
            {"type": "chunk", "name": "d/huge", "offset": 0, "chunkOffset": size / 2, "chunkSize": size - size / 2},
            {"type": "reg", "name": "d/small", "size": 4096, "offset": 0},
        ],
    }))
    .expect("toc");
    let compressed = zstd(&toc);
    let mut blob = payload.clone();
    blob.extend(&compressed);
    for field in [
        payload.len() as u64,
        compressed.len() as u64,
        toc.len() as u64,
        1,
    ] {
        blob.extend(field.to_le_bytes());
    }
    blob.extend(b"GnUlInUx");
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "io.github.containers.zstd-chunked.manifest-checksum".to_owned(),
        sha256(&compressed),
    );
    join_annotations(&annotations, &blob)
}

/// The eStargz footer of `blob` rewritten as the legacy 47-byte footer.
fn legacy_footer(blob: &[u8]) -> Vec<u8> {
    let (body, footer) = blob.split_at(blob.len() - 51);
    let mut out = body.to_vec();
    out.extend(&footer[..10]);
    out.extend([22, 0]);
    out.extend(&footer[16..]);
    out
}

/// The 40-byte zstd:chunked footer of `blob` rewritten as the 56-byte one.
fn footer_56(blob: &[u8]) -> Vec<u8> {
    let mut out = blob.to_vec();
    out.extend([0u8; 16]);
    out
}

fn tocs() -> Seeds {
    let esgz = estargz::build(&layer_tar(7), false, 300);
    let chunked = estargz::build(&layer_tar(7), true, 300);
    let mut esgz_annotations = BTreeMap::new();
    esgz_annotations.insert(
        "containerd.io/snapshot/stargz/toc.digest".to_owned(),
        esgz.toc_digest.clone(),
    );
    // A containers/storage zstd:chunked layer (64-byte footer), with its manifest annotations.
    let image = SkopeoImage::new();
    let layout = image.path("chunked");
    image.copy(
        &["--dest-compress-format", "zstd:chunked"],
        &format!("oci:{}:v1", layout.display()),
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
            .expect("json");
    let blob =
        |digest: &str| std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).expect("blob");
    let manifest: serde_json::Value = serde_json::from_slice(&blob(
        index["manifests"][0]["digest"].as_str().expect("digest"),
    ))
    .expect("manifest");
    let storage_layer = &manifest["layers"][0];
    let storage_annotations: BTreeMap<String, String> =
        serde_json::from_value(storage_layer["annotations"].clone()).unwrap_or_default();
    let storage_blob = blob(storage_layer["digest"].as_str().expect("layer digest"));
    vec![
        seed(
            "valid-estargz-annotated",
            join_annotations(&esgz_annotations, &esgz.blob),
        ),
        seed("valid-estargz-footer-only", esgz.blob.clone()),
        seed(
            "valid-estargz-legacy-footer",
            join_annotations(&esgz_annotations, &legacy_footer(&esgz.blob)),
        ),
        seed(
            "valid-zstd-chunked-annotated",
            join_annotations(&chunked.annotations, &chunked.blob),
        ),
        seed("valid-zstd-chunked-footer-only", chunked.blob.clone()),
        seed(
            "valid-zstd-chunked-56-byte-footer",
            footer_56(&chunked.blob),
        ),
        seed(
            "valid-containers-storage-zstd-chunked",
            join_annotations(&storage_annotations, &storage_blob),
        ),
        seed("valid-containers-storage-footer-only", storage_blob.clone()),
        seed(
            "sample-toc-claims-10gb-files",
            zstd_chunked_claiming(10_000_000_000),
        ),
    ]
}

fn oci_layouts() -> Seeds {
    let image = SkopeoImage::new();
    let archive = image.path("oci.tar");
    image.copy(&[], &format!("oci-archive:{}:v1", archive.display()));
    let skopeo_tar = std::fs::read(&archive).expect("oci archive");
    let chunked = image.path("chunked.tar");
    image.copy(
        &["--dest-compress-format", "zstd:chunked"],
        &format!("oci-archive:{}:v1", chunked.display()),
    );
    let platforms = tempfile::tempdir().expect("tempdir");
    write_layout(platforms.path(), true, true);
    vec![
        seed("valid-skopeo-oci-archive.tar", skopeo_tar.clone()),
        seed("valid-skopeo-oci-archive.tar.gz", gzip(&skopeo_tar)),
        seed(
            "valid-skopeo-zstd-chunked.tar",
            std::fs::read(&chunked).expect("chunked archive"),
        ),
        seed(
            "valid-multi-platform.tar.zst",
            zstd(&pack(platforms.path(), &[])),
        ),
    ]
}

fn docker_saves() -> Seeds {
    let image = SkopeoImage::new();
    let archive = image.path("docker.tar");
    image.copy(
        &[],
        &format!("docker-archive:{}:fuzz/app:1", archive.display()),
    );
    let skopeo_tar = std::fs::read(&archive).expect("docker archive");
    // Docker 25+ writes an OCI layout plus manifest.json naming its blobs.
    let src = image.path("src");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("index.json")).expect("index"))
            .expect("json");
    let manifest_digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(src.join("blobs/sha256").join(&manifest_digest[7..])).expect("manifest"),
    )
    .expect("json");
    let path = |digest: &serde_json::Value| {
        format!("blobs/sha256/{}", &digest.as_str().expect("digest")[7..])
    };
    let docker_manifest = serde_json::to_vec(&json!([{
        "Config": path(&manifest["config"]["digest"]),
        "RepoTags": ["fuzz/app:1"],
        "Layers": manifest["layers"].as_array().expect("layers").iter().map(|l| path(&l["digest"])).collect::<Vec<_>>(),
    }]))
    .expect("manifest.json");
    let docker25 = pack(&src, &[("manifest.json", docker_manifest)]);
    vec![
        seed("valid-skopeo-docker-archive.tar", skopeo_tar.clone()),
        seed("valid-skopeo-docker-archive.tar.gz", gzip(&skopeo_tar)),
        seed("valid-docker25-oci-style.tar", docker25.clone()),
        seed("valid-docker25-oci-style.tar.zst", zstd(&docker25)),
    ]
}

/// A zstd archive whose only member is a PAX header claiming 1 TiB, followed by `zeros`
/// bytes of zeros (a few KiB compressed).
pub fn pax_bomb(zeros: usize) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    header.set_path("PaxHeaders/bomb").expect("path");
    header.set_entry_type(tar::EntryType::XHeader);
    header.set_size(1 << 40);
    header.set_mode(0o644);
    header.set_cksum();
    let mut encoder = zstd::Encoder::new(Vec::new(), 19).expect("zstd");
    encoder.write_all(header.as_bytes()).expect("zstd");
    let block = vec![0u8; 1 << 20];
    for _ in 0..zeros / block.len() {
        encoder.write_all(&block).expect("zstd");
    }
    encoder.finish().expect("zstd")
}

/// An eStargz blob whose TOC member's tar opens with a GNU long name claiming 1 TiB, followed
/// by `zeros` zeros (gzip: about a thousandth of that compressed).
pub fn estargz_toc_bomb(zeros: usize) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_path("././@LongLink").expect("path");
    header.set_entry_type(tar::EntryType::GNULongName);
    header.set_size(1 << 40);
    header.set_cksum();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(header.as_bytes()).expect("gzip");
    let block = vec![0u8; 1 << 20];
    for _ in 0..zeros / block.len() {
        encoder.write_all(&block).expect("gzip");
    }
    let member = encoder.finish().expect("gzip");
    let mut blob = gzip(&[0u8; 1024]);
    let offset = blob.len();
    blob.extend(member);
    blob.extend([
        0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 26, 0, b'S', b'G', 22, 0,
    ]);
    blob.extend(format!("{offset:016x}STARGZ").bytes());
    blob.extend([1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
    blob
}
