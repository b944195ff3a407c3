//! The command line's arguments (clap): commands, image and access options, logins.

use std::io::{self, BufRead, IsTerminal};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::cli::exit::{Failure, exit_code};
use crate::inspect::analysis::{FlagKind, parse_size};
use crate::oci::manifest::Platform;
use crate::source::open::OpenOptions;
use crate::source::registry::{ClientOptions, Credential};

/// See what is inside every layer of a container image, straight from the registry or from
/// image files, without pulling or unpacking anything.
#[derive(Debug, Parser)]
#[command(name = "layerslayer", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("LAYERSLAYER_BUILD"), ")"))]
pub struct Cli {
    /// What to do; without a command the desktop app opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Log what is done (requests, redirects, tokens, resumes) on stderr; credentials and
    /// tokens are never shown. `RUST_LOG` works too.
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List an image's layers: index, digest, size, media type and build step.
    Layers {
        /// Where and which image.
        #[command(flatten)]
        image: ImageArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the files inside layers, streaming each layer from where the image is.
    Peek(PeekArgs),
    /// Copy one file out of an image: the version in the final filesystem (or one layer's),
    /// fetching only what it takes (the file's chunks on a layer with a table of contents).
    Carve(CarveArgs),
    /// Show every layer that adds, modifies or removes a path, oldest first, with its build
    /// step, kind, size, mode and content hash; `--patch` adds the text changes.
    Log(LogArgs),
    /// Show how containers of the image run (entrypoint, cmd, env, user, ports, labels) and
    /// its build steps as a Dockerfile-like list.
    Config {
        /// Where and which image.
        #[command(flatten)]
        image: ImageArgs,
        /// Print the config as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Explain the image: wasted bytes and efficiency, duplicate files, risky files
    /// (setuid, setgid, world-writable, secrets); with rules, a CI gate (exit code 8).
    Analyze(AnalyzeArgs),
    /// Compare the final filesystems of two images, path by path.
    Diff(DiffArgs),
    /// Add images to the search index: list the layers not yet indexed (cache, table of
    /// contents, in parallel) and record the images.
    Index(IndexArgs),
    /// Find which indexed images hold a path: a substring (case-sensitive), `--glob` or
    /// `--regex`. Exit 0 with hits, 1 without, 3 for a bad pattern.
    Search(SearchArgs),
    /// Open the desktop app (optionally with an image reference filled in).
    Gui {
        /// Image reference to open at start.
        image: Option<String>,
    },
    /// Print a shell completion script, e.g. `layerslayer completions bash >
    /// ~/.local/share/bash-completion/completions/layerslayer`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `layerslayer man | man -l -`.
    Man,
}

/// Arguments naming an image.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// The image: a reference (alpine:3.20, ghcr.io/o/r@sha256:…, localhost:5000/x:y),
    /// oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REPO:TAG], a path to an
    /// image archive or layout, docker-daemon:NAME[:TAG] or podman:NAME[:TAG] (the local
    /// engine), or `demo` (built in, works offline).
    pub image: String,
    /// How to reach it.
    #[command(flatten)]
    pub access: AccessArgs,
}

/// How to reach images: which platform, TLS, the stall timeout and the login.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// Platform to pick from a multi-arch image: os/arch[/variant]. Default: this machine's, then
    /// linux/amd64, then the first the index offers.
    #[arg(long)]
    pub platform: Option<String>,
    /// Allow plain http and unverified TLS for registries that are not on loopback.
    #[arg(long)]
    pub insecure: bool,
    /// Seconds without a byte after which a download (or its response) has stalled and is
    /// resumed from the byte reached.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_seconds)]
    pub idle_timeout: f64,
    /// Look for the image in the local Docker or Podman engine (its API socket: DOCKER_HOST,
    /// /var/run/docker.sock, CONTAINER_HOST, then Podman's sockets) instead of a registry.
    #[arg(long)]
    pub engine: bool,
    /// How to log in to the registry.
    #[command(flatten)]
    pub login: LoginArgs,
}

/// [`AccessArgs`] made ready to open images with: the platform parsed and the password read
/// (once, however many images are opened).
#[derive(Clone)]
pub(crate) struct Access {
    /// How to open images.
    pub(crate) options: OpenOptions,
    /// The login, its password read.
    pub(crate) login: LoginArgs,
    /// Whether a registry reference is looked up in the local engine instead.
    pub(crate) engine: bool,
}

impl AccessArgs {
    pub(crate) fn resolve(&self) -> Result<Access, Failure> {
        let platform = self
            .platform
            .as_deref()
            .map(str::parse::<Platform>)
            .transpose()
            .map_err(|e| Failure::new(exit_code::BAD_INPUT, e.to_string()))?;
        let options = OpenOptions {
            platform,
            registry: ClientOptions {
                insecure: self.insecure,
                idle_timeout: Duration::from_secs_f64(self.idle_timeout),
                credential: self.login.credential()?,
                ..ClientOptions::default()
            },
        };
        Ok(Access {
            options,
            login: self.login.clone(),
            engine: self.engine,
        })
    }
}

/// How to log in to a registry without a credentials file.
#[derive(Debug, Clone, Default, Args)]
pub struct LoginArgs {
    /// Log in as USER (USER:PASSWORD works, but shows the password to other processes:
    /// prefer --password-stdin, or the prompt you get on a terminal).
    #[arg(long, value_name = "USER[:PASSWORD]")]
    pub user: Option<String>,
    /// Read the password (or access token) from the first line of stdin.
    #[arg(long, requires = "user")]
    pub password_stdin: bool,
    /// Keep this login in the OS keyring for later runs (asked for explicitly, never
    /// implied; `--forget` removes it).
    #[arg(long, requires = "user")]
    pub remember: bool,
    /// Remove the login the OS keyring keeps for this registry.
    #[arg(long, conflicts_with = "remember")]
    pub forget: bool,
}

impl LoginArgs {
    /// The credential the options give, asking for the password when needed.
    fn credential(&self) -> Result<Option<Credential>, Failure> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        let (username, password) = match user.split_once(':') {
            Some((username, password)) => (username.to_owned(), password.to_owned()),
            None if self.password_stdin => {
                let mut line = String::new();
                io::stdin().lock().read_line(&mut line).map_err(|e| {
                    Failure::new(
                        exit_code::BAD_INPUT,
                        format!("could not read the password: {e}"),
                    )
                })?;
                (user.clone(), line.trim_end_matches(['\r', '\n']).to_owned())
            }
            None if io::stdin().is_terminal() => {
                let password = rpassword::prompt_password(format!("Password for {user}: "))
                    .map_err(|e| {
                        Failure::new(
                            exit_code::BAD_INPUT,
                            format!("could not read the password: {e}"),
                        )
                    })?;
                (user.clone(), password)
            }
            None => {
                return Err(Failure::new(
                    exit_code::BAD_INPUT,
                    "--user without a password: give it with --password-stdin",
                ));
            }
        };
        Ok(Some(Credential::Basic { username, password }))
    }
}

pub(crate) fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => Ok(seconds),
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 86400"
        )),
    }
}

/// Arguments of `peek`.
#[derive(Debug, Args)]
pub struct PeekArgs {
    /// Where and which image.
    #[command(flatten)]
    pub image: ImageArgs,
    /// Layers to read: comma-separated indexes (0 = base) or `all`. Asked for when omitted
    /// and stdin is a terminal; otherwise all.
    #[arg(long)]
    pub layers: Option<String>,
    /// Write the listing as CSV to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<String>,
    /// Write JSON (image, layers, entries) to FILE, or stdout when no FILE is given.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<String>,
    /// Show the final filesystem (whiteouts applied) instead of per-layer listings.
    #[arg(long)]
    pub merged: bool,
    /// No progress output on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Neither read nor store listings in the cache ($XDG_CACHE_HOME/layerslayer).
    #[arg(long)]
    pub no_cache: bool,
    /// Read every layer whole, even where a table of contents (eStargz, zstd:chunked) would
    /// list it from a few KiB.
    #[arg(long)]
    pub no_toc: bool,
    /// Layers read at once (default: the number of cores, at least 2). Output stays in layer
    /// order.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// Arguments of `carve`.
#[derive(Debug, Args)]
pub struct CarveArgs {
    /// Where and which image.
    #[command(flatten)]
    pub image: ImageArgs,
    /// The file's path in the image, e.g. etc/os-release.
    pub path: String,
    /// Where to write it (`-` for stdout). Default: its file name, in the current directory.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<String>,
    /// Neither read nor store listings in the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// No report on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Take the path's first entry in its layer and stop streaming there. Wrong for a layer
    /// that holds the path more than once: extractors leave the last entry, which is what
    /// carve takes by default.
    #[arg(long)]
    pub first: bool,
    /// Write layer N's own version of the path (N as `peek` and `layers` number them, 0 =
    /// base), whatever later layers do to it.
    #[arg(long, value_name = "N")]
    pub layer: Option<usize>,
}

/// Arguments of `log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Where and which image.
    #[command(flatten)]
    pub image: ImageArgs,
    /// The path in the image, e.g. etc/app.conf.
    pub path: String,
    /// Print a JSON array of the rows instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Add a unified diff between consecutive text versions (fetches only the file's data
    /// from each layer that changed it).
    #[arg(long)]
    pub patch: bool,
    /// How the layers are read.
    #[command(flatten)]
    pub read: ReadArgs,
}

/// How the layers are read, shared by `analyze` and `diff`.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// No progress output on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Neither read nor store listings in the cache ($XDG_CACHE_HOME/layerslayer).
    #[arg(long)]
    pub no_cache: bool,
    /// Layers read at once (default: the number of cores, at least 2).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// Arguments of `analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Where and which image.
    #[command(flatten)]
    pub image: ImageArgs,
    /// Write the analysis as JSON to FILE, or stdout when no FILE is given.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<String>,
    /// Rule: fail (exit 8) when the efficiency (final bytes / total bytes) is below this.
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio)]
    pub min_efficiency: Option<f64>,
    /// Rule: fail (exit 8) when more bytes than this are wasted, e.g. 50MB, 50MiB, 1048576.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_wasted: Option<u64>,
    /// Rule: fail (exit 8) when any of these flags occurs: comma-separated setuid, setgid,
    /// world_writable, secret.
    #[arg(long, value_name = "FLAGS", value_delimiter = ',', value_parser = str::parse::<FlagKind>)]
    pub deny: Vec<FlagKind>,
    /// Rows shown per section of the report.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// How the layers are read.
    #[command(flatten)]
    pub read: ReadArgs,
}

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Image A (the "before"), in any form `peek` accepts.
    pub image_a: String,
    /// Image B (the "after").
    pub image_b: String,
    /// How to reach both images (one login; `--platform` picks A's platform, and B's unless
    /// `--platform-b` is given).
    #[command(flatten)]
    pub access: crate::cli::args::AccessArgs,
    /// Image B's own platform, os/arch[/variant]: compare two platforms of one tag with
    /// `diff IMG IMG --platform linux/amd64 --platform-b linux/arm64`.
    #[arg(long, value_name = "PLATFORM")]
    pub platform_b: Option<String>,
    /// Write the differences as CSV to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<String>,
    /// Write JSON to FILE, or stdout when no FILE is given.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<String>,
    /// How the layers are read.
    #[command(flatten)]
    pub read: ReadArgs,
}

pub(crate) fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!(
            "{text:?} is not a ratio between 0 and 1 (e.g. 0.9)"
        )),
    }
}

/// Arguments of `index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// What to index: images in any form `peek` accepts (references, oci:DIR, archives, …),
    /// a whole registry (`localhost:5000`: every repository of its catalog, every tag), or a
    /// repository without a tag (`localhost:5000/team/app`: every tag). Every platform of a
    /// multi-platform index is indexed unless `--platform` names one; images already indexed
    /// are left alone, so an interrupted run resumes where it stopped.
    #[arg(required = true, value_name = "TARGET")]
    pub images: Vec<String>,
    /// For a registry or repository, keep the newest N tags of each repository (by the
    /// image config's creation time).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub tags: Option<u16>,
    /// How to reach them.
    #[command(flatten)]
    pub access: AccessArgs,
    /// Read every layer whole, even where a table of contents would list it from a few KiB.
    #[arg(long)]
    pub no_toc: bool,
    /// No progress output on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Layers read at once (default: the number of cores, at least 2).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// Arguments of `search`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["pattern", "glob", "regex"])))]
pub struct SearchArgs {
    /// A part of the path, case-sensitive (e.g. libssl.so).
    pub pattern: Option<String>,
    /// Match whole paths with a glob instead: `*` and `?` within a directory, `**` across
    /// them, `[a-z]` classes (e.g. '**/lib*.so*').
    #[arg(long, value_name = "GLOB")]
    pub glob: Option<String>,
    /// Match paths with a regular expression instead (Rust regex syntax, unanchored).
    #[arg(long, value_name = "REGEX")]
    pub regex: Option<String>,
    /// Only the images whose reference contains FILTER.
    #[arg(long, value_name = "FILTER")]
    pub image: Option<String>,
    /// Print a JSON array of the hits.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the hits as CSV.
    #[arg(long)]
    pub csv: bool,
}
