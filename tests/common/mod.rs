//! Test harness: a real CNCF distribution registry on 127.0.0.1, images built and pushed by
//! the tests themselves, and an in-process HTTP server for faults a real registry won't make.
#![allow(dead_code, unused_imports)] // each test binary uses a different part of the harness

pub mod bench;
pub mod deep;
pub mod estargz;
pub mod fault;
pub mod images;
pub mod layouts;
pub mod podman;
pub mod proxy;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use fault::{FakeRegistry, FaultServer, SlowBlobServer};
pub use images::{
    Compression, ImageFormat, PushedImage, SampleImage, TarItem, TestLayer, push_image, push_index,
    push_sample_image,
};

/// Path of the registry binary from Debian's `docker-registry` package.
pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// How a test registry authenticates clients.
#[derive(Debug, Clone)]
pub enum RegistryAuth {
    /// Anonymous access.
    None,
    /// distribution's `silly` token auth: any bearer token is accepted; the realm given is
    /// announced in challenges (the test serves it).
    Silly { realm: String },
    /// htpasswd Basic auth with one user.
    Htpasswd { username: String, password: String },
}

/// A running `docker-registry serve` on a free loopback port, killed on drop.
pub struct TestRegistry {
    child: Child,
    addr: String,
    auth: RegistryAuth,
    _dir: tempfile::TempDir,
}

/// A free TCP port on 127.0.0.1 (the listener is closed before returning).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

impl TestRegistry {
    /// Starts an anonymous registry.
    pub fn start() -> Self {
        Self::start_with(RegistryAuth::None)
    }

    /// Starts a registry with the given auth.
    pub fn start_with(auth: RegistryAuth) -> Self {
        assert!(
            std::path::Path::new(REGISTRY_BINARY).exists(),
            "{REGISTRY_BINARY} is missing: run tests/run, which installs Debian's docker-registry"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let storage = dir.path().join("storage");
        let auth_yaml = match &auth {
            RegistryAuth::None => String::new(),
            RegistryAuth::Silly { realm } => {
                format!("auth:\n  silly:\n    realm: \"{realm}\"\n    service: \"test-registry\"\n")
            }
            RegistryAuth::Htpasswd { username, password } => {
                let hash = bcrypt::hash(password, 4).expect("bcrypt");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{username}:{hash}\n")).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                    file.display()
                )
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth_yaml}",
            storage.display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
        let child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let registry = Self {
            child,
            addr,
            auth,
            _dir: dir,
        };
        registry.wait_until_ready();
        registry
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = reqwest::blocking::Client::new();
        while Instant::now() < deadline {
            let answered = client
                .get(format!("http://{}/v2/", self.addr))
                .timeout(Duration::from_secs(1))
                .send()
                .is_ok_and(|r| matches!(r.status().as_u16(), 200 | 401));
            if answered {
                return;
            }
            // Readiness polling of a child process, bounded by the deadline.
            std::thread::sleep(Duration::from_millis(50));
        }
        let log =
            std::fs::read_to_string(self._dir.path().join("registry.log")).unwrap_or_default();
        panic!(
            "docker-registry did not become ready on {}:\n{log}",
            self.addr
        );
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// The `Authorization` header value that lets the test push.
    pub fn push_authorization(&self) -> Option<String> {
        use base64::Engine as _;
        match &self.auth {
            RegistryAuth::None => None,
            RegistryAuth::Silly { .. } => Some("Bearer test-pusher".into()),
            RegistryAuth::Htpasswd { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
        }
    }

    /// Where the registry keeps its files.
    pub fn storage_dir(&self) -> PathBuf {
        self._dir.path().join("storage")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens `text` (a reference, a local image or `demo`) through the core opener, with
/// `options` for registries and an optional `os/arch[/variant]`.
pub fn open_with(
    text: &str,
    options: layerslayer::source::registry::ClientOptions,
    platform: Option<&str>,
) -> Result<
    (
        std::sync::Arc<dyn layerslayer::source::ImageSource>,
        layerslayer::oci::ImageInfo,
    ),
    layerslayer::source::SourceError,
> {
    let options = layerslayer::source::open::OpenOptions {
        platform: platform.map(|p| p.parse().expect("platform")),
        registry: options,
    };
    let opened = layerslayer::source::open::open_image(
        text,
        &options,
        &layerslayer::cancel::CancelToken::new(),
    )?;
    Ok((opened.source, opened.info))
}

/// A command running the `layerslayer` binary without a listing cache (its cache directory
/// cannot be created), so that no test sees another's cached listings.
pub fn layerslayer_command() -> Command {
    let mut command = Command::new(layerslayer_binary());
    command.env("XDG_CACHE_HOME", NO_CACHE_DIR);
    command
}

/// Runs `command` to its end; returns its exit code (-1 when a signal ended it), stdout and
/// stderr (as text).
pub fn run_for_output(command: &mut Command) -> (i32, Vec<u8>, String) {
    let output = command.output().expect("run the command");
    (
        output.status.code().unwrap_or(-1),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// [`run_for_output`] with stdout as text too.
pub fn run_for_text(command: &mut Command) -> (i32, String, String) {
    let (code, stdout, stderr) = run_for_output(command);
    (code, String::from_utf8_lossy(&stdout).into_owned(), stderr)
}

/// An `XDG_CACHE_HOME` under which no directory can be made.
pub const NO_CACHE_DIR: &str = "/dev/null/no-cache";

/// The value after `name` on the command line (benchmark options), or `default`.
pub fn bench_arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

/// Path of the `layerslayer` binary built for these integration tests.
pub fn layerslayer_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_layerslayer"))
}

/// `skopeo copy` from the image `source` on a plain-http registry (`host:port/repo:tag`) to
/// `destination` (any skopeo transport), with `options` before the two names; panics with
/// skopeo's message when it fails (`tests/run` installs skopeo).
pub fn skopeo_copy(source: &str, destination: &str, options: &[&str]) {
    let output = Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--src-tls-verify=false"])
        .args(options)
        .arg(format!("docker://{source}"))
        .arg(destination)
        .output()
        .expect("run skopeo (tests/run installs it)");
    assert!(
        output.status.success(),
        "skopeo copy {source} {destination}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Copies the image `source` to `target` on the same plain-http registry as skopeo's
/// zstd:chunked layers (with their table of contents).
pub fn skopeo_copy_to_zstd_chunked(source: &str, target: &str) {
    skopeo_copy(
        source,
        &format!("docker://{target}"),
        &[
            "--dest-tls-verify=false",
            "--dest-compress-format",
            "zstd:chunked",
            "--format",
            "oci",
        ],
    );
}

/// Peak resident set size of this process so far, in KiB (`VmHWM`).
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM line")
}

/// Peeks every layer of `image` one after the other, checking that each entry was handed
/// out as it was decoded and that the progress counters agree with the listing.
pub fn peek_all(
    client: &dyn layerslayer::source::ImageSource,
    image: &layerslayer::oci::ImageInfo,
) -> Vec<layerslayer::model::LayerListing> {
    let cancel = layerslayer::cancel::CancelToken::new();
    image
        .layers
        .iter()
        .map(|layer| {
            let progress = std::sync::Arc::new(layerslayer::layer::stream::PeekProgress::default());
            let mut streamed = 0;
            let listing = layerslayer::layer::stream::peek_layer(
                client,
                layer,
                &cancel,
                &progress,
                &mut |_| streamed += 1,
            );
            assert_eq!(
                streamed,
                listing.entries.len(),
                "every entry is handed out as it is decoded"
            );
            assert_eq!(progress.entries() as usize, listing.entries.len());
            assert_eq!(progress.bytes_read(), layer.size());
            listing
        })
        .collect()
}
