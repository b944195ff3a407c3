//! eStargz and zstd:chunked blobs from the reference writer (`tests/estargz/main.go`, built
//! once per test run with Debian's golang-go and the stargz-snapshotter package).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// A layer blob written by `estargz.Build`.
pub struct EstargzBlob {
    /// The blob.
    pub blob: Vec<u8>,
    /// `containerd.io/snapshot/stargz/toc.digest`: sha256 of the uncompressed TOC.
    pub toc_digest: String,
    /// Annotations the writer asks for (zstd:chunked position and checksum).
    pub annotations: BTreeMap<String, String>,
}

/// The built writer; panics with the build output when Go or the package is missing
/// (`tests/run` installs golang-go and golang-github-containerd-stargz-snapshotter-dev).
fn writer() -> &'static PathBuf {
    static WRITER: OnceLock<PathBuf> = OnceLock::new();
    WRITER.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("esgzbuild");
        let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/estargz/main.go");
        let output = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(&source)
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOFLAGS", "")
            .env(
                "GOCACHE",
                PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gocache"),
            )
            .output()
            .expect("run go (tests/run installs golang-go)");
        assert!(
            output.status.success(),
            "building the eStargz writer failed (tests/run installs golang-go and \
             golang-github-containerd-stargz-snapshotter-dev): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    })
}

/// Writes `tar` as eStargz (gzip) or, with `zstd`, as zstd:chunked, with `chunk`-byte chunks.
pub fn build(tar: &[u8], zstd: bool, chunk: usize) -> EstargzBlob {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.tar");
    let output = dir.path().join("out.blob");
    std::fs::write(&input, tar).expect("write tar");
    let mut command = Command::new(writer());
    if zstd {
        command.arg("-zstd");
    }
    let run = command
        .args(["-chunk", &chunk.to_string()])
        .arg(&input)
        .arg(&output)
        // One part: the same blob on every machine.
        .env("GOMAXPROCS", "1")
        .output()
        .expect("run esgzbuild");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8_lossy(&run.stdout);
    let mut toc_digest = String::new();
    let mut annotations = BTreeMap::new();
    for line in text.lines() {
        if let Some(digest) = line.strip_prefix("toc_digest ") {
            toc_digest = digest.to_owned();
        } else if let Some((key, value)) = line
            .strip_prefix("annotation ")
            .and_then(|kv| kv.split_once('='))
        {
            annotations.insert(key.to_owned(), value.to_owned());
        }
    }
    EstargzBlob {
        blob: std::fs::read(&output).expect("read blob"),
        toc_digest,
        annotations,
    }
}
