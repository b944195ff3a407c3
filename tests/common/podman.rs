//! A Podman store in a temporary directory and its Docker-compatible API service, started
//! by socket activation (tests/run installs Debian's podman; the tests run as root with the
//! vfs storage driver).

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A podman store in a temporary directory.
pub struct Podman {
    /// The store and the service socket live here.
    pub dir: tempfile::TempDir,
}

impl Podman {
    /// A new empty store.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `podman` on this store.
    pub fn command(&self) -> Command {
        let mut command = Command::new("podman");
        command
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(["--storage-driver", "vfs"]);
        command
    }

    /// Runs `podman ARGS` on this store; panics with its stderr when it fails.
    pub fn run(&self, args: &[&str]) {
        let output = self
            .command()
            .args(args)
            .output()
            .expect("podman runs (tests/run installs it)");
        assert!(
            output.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `podman system service` on a socket bound here first and handed over by socket
    /// activation: connections queue until the service accepts them, so nothing waits.
    pub fn serve(&self) -> Service {
        let socket = self.dir.path().join("podman.sock");
        let listener = UnixListener::bind(&socket).expect("bind the API socket");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(
                "exec 3<&0 0</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec \"$@\" system service --time=0",
            )
            .arg("sh")
            .arg(self.command().get_program())
            .args(self.command().get_args())
            .stdin(Stdio::from(OwnedFd::from(listener)))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Service {
            child: command.spawn().expect("start podman system service"),
            socket,
        }
    }
}

/// A running `podman system service`, killed on drop.
pub struct Service {
    child: Child,
    socket: PathBuf,
}

impl Service {
    /// `unix://SOCKET`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Builds `localhost/layers:1`: four layers, the last overwriting a file of the first.
pub fn build_image(podman: &Podman) -> PathBuf {
    let context = podman.dir.path().join("context");
    for (layer, files) in [
        (
            "l1",
            vec![
                ("etc/app.conf", b"first".to_vec()),
                ("bin/tool", vec![7; 70_000]),
            ],
        ),
        ("l2", vec![("usr/lib/a.so", vec![1; 5000])]),
        (
            "l3",
            vec![
                ("srv/data/x", b"x".to_vec()),
                ("srv/data/y", b"yy".to_vec()),
            ],
        ),
        ("l4", vec![("etc/app.conf", b"second".to_vec())]),
    ] {
        for (path, data) in files {
            let full = context.join(layer).join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("dir");
            std::fs::write(full, data).expect("write");
        }
    }
    std::fs::write(
        context.join("Containerfile"),
        "FROM scratch\nCOPY l1 /\nCOPY l2 /\nCOPY l3 /\nCOPY l4 /\n",
    )
    .expect("Containerfile");
    let context_arg = context.display().to_string();
    podman.run(&["build", "--network", "none", "-t", "layers:1", &context_arg]);
    context
}
