//! The command line: `layerslayer layers IMAGE`, `peek`, `carve`, `config`, `analyze`,
//! `diff`, and `gui`.

mod explain;

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::cancel::CancelToken;
use crate::inspect::carve::{CarveError, CarveSearch};
use crate::layer::cache::ListingCache;
use crate::layer::list::{ContentNeed, ListingOptions};
use crate::layer::parallel::{Delivery, LayerEvent, ParallelPeek, default_concurrency};
use crate::layer::stream::PeekProgress;
use crate::model::{Entry, LayerListing, LayerStatus, MergedEntry, merge_layers};
use crate::oci::manifest::Platform;
use crate::oci::{ImageInfo, LayerInfo};
use crate::output::{self, Destination, ExportError, listed_from_note};
use crate::output::{escape_control, human_size};
use crate::source::open::{Location, OpenOptions, OpenedImage, open_location};
use crate::source::registry::{ClientOptions, Credential, stored};
use crate::source::{ErrorKind, SourceError};

/// Entries printed to a pipe are flushed at least this often.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Exit codes scripts can rely on.
pub mod exit_code {
    /// Everything asked for was read completely.
    pub const OK: u8 = 0;
    /// Unexpected failure (e.g. an export could not be written).
    pub const FAILURE: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// The image reference, platform or layer selection is malformed, or a file is not an
    /// image (not an archive or layout, unreadable, invalid, truncated metadata).
    pub const BAD_INPUT: u8 = 3;
    /// The image, tag, platform, file or blob does not exist.
    pub const NOT_FOUND: u8 = 4;
    /// Authentication failed or was refused.
    pub const AUTH: u8 = 5;
    /// The registry could not be reached or misbehaved.
    pub const REGISTRY: u8 = 6;
    /// At least one layer could not be read completely (its partial listing is still output).
    pub const INCOMPLETE: u8 = 7;
    /// `analyze`: the image broke a rule (`--min-efficiency`, `--max-wasted`, `--deny`).
    pub const RULE_BROKEN: u8 = 8;
}

/// See what is inside every layer of a container image, straight from the registry or from
/// image files, without pulling or unpacking anything.
#[derive(Debug, Parser)]
#[command(name = "layerslayer", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("LAYERSLAYER_GIT_COMMIT"), ")"))]
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
    /// Copy one file out of an image: the version in the final filesystem, fetching only what
    /// it takes (the file's chunks on a layer with a table of contents).
    Carve(CarveArgs),
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
    Analyze(explain::AnalyzeArgs),
    /// Compare the final filesystems of two images, path by path.
    Diff(explain::DiffArgs),
    /// Open the desktop app (optionally with an image reference filled in).
    Gui {
        /// Image reference to open at start.
        image: Option<String>,
    },
}

/// Arguments naming an image.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// The image: a reference (alpine:3.20, ghcr.io/o/r@sha256:…, localhost:5000/x:y),
    /// oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REPO:TAG], a path to an
    /// image archive or layout, or `demo` (built in, works offline).
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
    /// How to log in to the registry.
    #[command(flatten)]
    pub login: LoginArgs,
}

/// [`AccessArgs`] made ready to open images with: the platform parsed and the password read
/// (once, however many images are opened).
struct Access {
    options: OpenOptions,
    login: LoginArgs,
}

impl AccessArgs {
    fn resolve(&self) -> Result<Access, Failure> {
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

fn parse_seconds(text: &str) -> Result<f64, String> {
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
}

/// A failure that ends the command, with its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl Failure {
    /// The failure for an image that could not be opened; a local file with invalid content
    /// is bad input (3), a registry serving it is misbehaving (6).
    fn opening(error: &SourceError, location: Option<&Location>) -> Self {
        let code = match error.kind() {
            ErrorKind::BadInput => exit_code::BAD_INPUT,
            ErrorKind::NotFound => exit_code::NOT_FOUND,
            ErrorKind::Unauthorized => exit_code::AUTH,
            ErrorKind::Unreachable => exit_code::REGISTRY,
            ErrorKind::Invalid if location.is_some_and(Location::is_local) => exit_code::BAD_INPUT,
            ErrorKind::Invalid => exit_code::REGISTRY,
            ErrorKind::Cancelled => exit_code::FAILURE,
        };
        Self::new(code, error.to_string())
    }
}

impl From<ExportError> for Failure {
    fn from(error: ExportError) -> Self {
        Self::new(exit_code::FAILURE, error.to_string())
    }
}

/// Runs a CLI command and returns the process exit code. Errors go to stderr.
pub fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Layers { image, json } => run_layers(&image, json),
        Command::Peek(args) => run_peek(&args),
        Command::Carve(args) => run_carve(&args),
        Command::Config { image, json } => explain::run_config(&image, json),
        Command::Analyze(args) => explain::run_analyze(&args),
        Command::Diff(args) => explain::run_diff(&args),
        Command::Gui { .. } => Err(Failure::new(
            exit_code::USAGE,
            "the gui command is handled by main",
        )),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {}", escape_control(&failure.message));
            ExitCode::from(failure.code)
        }
    }
}

/// Opens what the user named and resolves the image.
fn open(args: &ImageArgs, cancel: &CancelToken) -> Result<OpenedImage, Failure> {
    open_with(&args.image, &args.access.resolve()?, cancel)
}

/// Opens `image` with resolved access options; forgets or remembers the registry login as
/// asked.
fn open_with(image: &str, access: &Access, cancel: &CancelToken) -> Result<OpenedImage, Failure> {
    let location = Location::parse(image).map_err(|e| Failure::opening(&e, None))?;
    let registry = match &location {
        Location::Registry(reference) => Some(reference.registry().to_owned()),
        _ => None,
    };
    if access.login.forget
        && let Some(registry) = &registry
    {
        let forgotten = stored::forget(registry);
        eprintln!(
            "{}",
            if forgotten {
                format!("the login for {registry} was removed from the OS keyring")
            } else {
                format!("the OS keyring held no login for {registry}")
            }
        );
    }
    let opened = open_location(&location, &access.options, cancel)
        .map_err(|e| Failure::opening(&e, Some(&location)))?;
    // Only a login that worked is kept.
    if access.login.remember
        && let (Some(registry), Some(credential)) = (&registry, &access.options.registry.credential)
    {
        match stored::remember(registry, credential) {
            Ok(()) => eprintln!("the login for {registry} is kept in the OS keyring"),
            Err(reason) => eprintln!("warning: {reason}"),
        }
    }
    Ok(opened)
}

fn run_layers(args: &ImageArgs, json: bool) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let image = open(args, &cancel)?.info;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let write_failed = |e: io::Error| {
        Failure::new(
            exit_code::FAILURE,
            format!("could not write to stdout: {e}"),
        )
    };
    if json {
        serde_json::to_writer_pretty(&mut out, &image)
            .map_err(|e| Failure::new(exit_code::FAILURE, e.to_string()))?;
        writeln!(out).map_err(write_failed)?;
    } else {
        print_layer_table(&mut out, &image).map_err(write_failed)?;
    }
    Ok(exit_code::OK)
}

fn print_layer_table(out: &mut dyn Write, image: &ImageInfo) -> io::Result<()> {
    if let Some(platform) = &image.platform {
        let others: Vec<String> = image
            .available_platforms
            .iter()
            .map(ToString::to_string)
            .collect();
        writeln!(
            out,
            "platform {platform} (index offers: {})",
            others.join(", ")
        )?;
    }
    writeln!(
        out,
        "{:>5}  {:<71}  {:>10}  {:<48}  CREATED BY",
        "INDEX", "DIGEST", "SIZE", "MEDIA TYPE"
    )?;
    for layer in &image.layers {
        writeln!(
            out,
            "{:>5}  {:<71}  {:>10}  {:<48}  {}",
            layer.index,
            layer.digest(),
            human_size(layer.size()),
            layer.media_type(),
            escape_control(layer.created_by.as_deref().unwrap_or("-")),
        )?;
    }
    Ok(())
}

/// Parses `0,2,5` or `all` (case-insensitive; empty means all) against `count` layers.
pub fn parse_layer_selection(text: &str, count: usize) -> Result<Vec<usize>, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("all") {
        return Ok((0..count).collect());
    }
    let mut chosen = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let index: usize = part
            .parse()
            .map_err(|_| format!("{part:?} is not a layer index; use numbers like 0,2 or ALL"))?;
        if index >= count {
            return Err(format!(
                "layer {index} does not exist; this image has layers 0 to {}",
                count.saturating_sub(1)
            ));
        }
        if !chosen.contains(&index) {
            chosen.push(index);
        }
    }
    if chosen.is_empty() {
        return Err("no layer chosen; use numbers like 0,2 or ALL".into());
    }
    chosen.sort_unstable();
    Ok(chosen)
}

/// The seed tool's prompt, shown when `--layers` is absent and stdin is a terminal.
fn prompt_for_layers(image: &ImageInfo) -> Result<Vec<usize>, Failure> {
    let mut stderr = io::stderr();
    let io_failed = |e: io::Error| {
        Failure::new(
            exit_code::FAILURE,
            format!("could not read the answer: {e}"),
        )
    };
    print_layer_table(&mut stderr, image).map_err(io_failed)?;
    loop {
        write!(
            stderr,
            "Layers to peek (comma-separated INDEX or ALL) [default: ALL]: "
        )
        .map_err(io_failed)?;
        stderr.flush().map_err(io_failed)?;
        let mut answer = String::new();
        if io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(io_failed)?
            == 0
        {
            return Ok((0..image.layers.len()).collect());
        }
        match parse_layer_selection(&answer, image.layers.len()) {
            Ok(chosen) => return Ok(chosen),
            Err(problem) => writeln!(stderr, "{problem}").map_err(io_failed)?,
        }
    }
}

fn run_peek(args: &PeekArgs) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let OpenedImage {
        source,
        info: image,
    } = open(&args.image, &cancel)?;
    let chosen = match &args.layers {
        Some(text) => parse_layer_selection(text, image.layers.len())
            .map_err(|e| Failure::new(exit_code::BAD_INPUT, e))?,
        None if io::stdin().is_terminal() => prompt_for_layers(&image)?,
        None => (0..image.layers.len()).collect(),
    };
    let exports_to_stdout = [&args.csv, &args.json]
        .into_iter()
        .any(|arg| arg.as_deref() == Some("-"));
    // Per-layer listings print while they stream; the merged view needs every layer first.
    let print_live = !exports_to_stdout && !args.merged;
    let keep_entries = args.csv.is_some() || args.json.is_some() || args.merged;
    // Lines scrolling on the terminal are progress enough; a bar would fight with them.
    let show_progress =
        !args.quiet && io::stderr().is_terminal() && !(print_live && io::stdout().is_terminal());
    let stdout = io::stdout();
    // A terminal gets each line at once (stdout is line-buffered); a pipe gets big writes.
    let mut out: Box<dyn Write> = if stdout.is_terminal() {
        Box::new(stdout.lock())
    } else {
        Box::new(io::BufWriter::new(stdout.lock()))
    };
    let cache = if args.no_cache {
        None
    } else {
        ListingCache::open_default()
    };
    let layers: Vec<LayerInfo> = chosen.iter().map(|&i| image.layers[i].clone()).collect();
    let progress: Vec<Arc<PeekProgress>> = layers.iter().map(|_| Arc::default()).collect();
    let bars = show_progress.then(|| ProgressBars::new(&layers));
    let peek = ParallelPeek {
        source: source.as_ref(),
        options: ListingOptions {
            cache: cache.as_ref(),
            use_toc: !args.no_toc,
            content: ContentNeed::Skip,
        },
        concurrency: args.jobs.map_or_else(default_concurrency, usize::from),
        delivery: Delivery::InLayerOrder,
    };
    let mut write_error = None;
    let mut listings = Vec::with_capacity(layers.len());
    // Entries of the layer being printed; kept only when an export or the merged view needs
    // them all.
    let mut entries = Vec::new();
    let mut count = 0usize;
    let mut announced = None;
    let mut last_flush = Instant::now();
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        if let Some(bars) = &bars {
            scope.spawn(|| bars.tick_until(&finished, &progress));
        }
        peek.run(&layers, &progress, &cancel, &mut |event| {
            let Some(position) = event.position() else {
                // The layers went quiet: show what has arrived.
                if print_live && write_error.is_none() {
                    last_flush = Instant::now();
                    if let Err(error) = out.flush() {
                        write_error = Some(error);
                        cancel.cancel();
                    }
                }
                return;
            };
            let layer = &layers[position];
            let mut print = |line: &dyn Fn(&mut dyn Write) -> io::Result<()>| {
                if !print_live || write_error.is_some() {
                    return;
                }
                // A pipe gets big writes, yet never waits long for what already arrived
                // (and the layers going quiet flushes at once, below).
                let written = line(&mut out).and_then(|()| {
                    if last_flush.elapsed() < FLUSH_INTERVAL {
                        return Ok(());
                    }
                    last_flush = Instant::now();
                    out.flush()
                });
                if let Err(error) = written {
                    write_error = Some(error);
                    cancel.cancel();
                }
            };
            if announced != Some(position) {
                announced = Some(position);
                count = 0;
                print(&|out| {
                    writeln!(
                        out,
                        "layer {} {} ({})",
                        layer.index,
                        layer.digest(),
                        human_size(layer.size())
                    )
                });
            }
            match event {
                LayerEvent::Entry(_, entry) => {
                    print(&|out| write_entry(out, None, &entry));
                    count += 1;
                    if keep_entries {
                        entries.push(entry);
                    }
                }
                LayerEvent::Idle => {}
                LayerEvent::Done(_, result) => {
                    if let Some(bars) = &bars {
                        bars.finish(position);
                    }
                    let origin =
                        listed_from_note(result.listed_from, result.bytes_read, layer.size())
                            .map(|how| format!(", {how}"))
                            .unwrap_or_default();
                    if let Some(note) = &result.note {
                        eprintln!(
                            "note: layer {} ({}): {}",
                            layer.index,
                            layer.short_digest(),
                            escape_control(note)
                        );
                    }
                    print(&|out| {
                        writeln!(
                            out,
                            "  ({count} entries, {}{origin})",
                            result.status.label()
                        )
                    });
                    if let Some(message) = result.status.problem() {
                        eprintln!(
                            "warning: {} (kept {count} entries read before it)",
                            escape_control(message)
                        );
                    }
                    listings.push(LayerListing {
                        layer: layer.clone(),
                        entries: std::mem::take(&mut entries),
                        result,
                    });
                }
            }
        });
        finished.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    match write_error {
        // The reader went away (`layerslayer peek … | head`): nothing left to tell it.
        Some(error) if error.kind() == io::ErrorKind::BrokenPipe => return Ok(exit_code::OK),
        Some(error) => return Err(stdout_failure(&error)),
        None => {}
    }
    let merged = args.merged.then(|| merge_layers(&listings));
    if let Some(csv) = &args.csv {
        let rows = match &merged {
            Some(merged) => output::rows_of_merged(merged, &listings),
            None => output::rows_of_listings(&listings),
        };
        output::write_to(&Destination::from_arg(csv), |out| {
            output::write_csv(&rows, out)
        })?;
    }
    if let Some(json) = &args.json {
        output::write_to(&Destination::from_arg(json), |out| {
            output::write_json(&image, &listings, merged.as_deref(), out)
        })?;
    }
    if let Some(merged) = merged.as_deref().filter(|_| !exports_to_stdout) {
        print_merged(&mut out, listings.len(), merged).map_err(|e| stdout_failure(&e))?;
    }
    out.flush().map_err(|e| stdout_failure(&e))?;
    Ok(listings_exit_code(&listings))
}

/// 4 when a layer is missing, 7 when one is incomplete, else 0.
fn listings_exit_code(listings: &[LayerListing]) -> u8 {
    if listings
        .iter()
        .any(|l| matches!(l.result.status, LayerStatus::Missing(_)))
    {
        exit_code::NOT_FOUND
    } else if listings.iter().all(|l| l.result.status.is_complete()) {
        exit_code::OK
    } else {
        exit_code::INCOMPLETE
    }
}

fn run_carve(args: &CarveArgs) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let OpenedImage { source, info } = open(&args.image, &cancel)?;
    let cache = if args.no_cache {
        None
    } else {
        ListingCache::open_default()
    };
    let search = CarveSearch {
        source: source.as_ref(),
        cache: cache.as_ref(),
    };
    let fetched = Arc::new(AtomicU64::new(0));
    let destination = match args.output.as_deref() {
        Some(output) => Destination::from_arg(output),
        None => {
            let name = args
                .path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("");
            if name.is_empty() || name == "." || name == ".." {
                return Err(Failure::new(
                    exit_code::BAD_INPUT,
                    format!("{:?} names no file; give one, or -o FILE", args.path),
                ));
            }
            Destination::File(name.into())
        }
    };
    // Written to a temporary file renamed into place only when the carve succeeded.
    let mut outcome = None;
    let written = output::write_to(&destination, |out| {
        let carved = search.carve_path(&info.layers, &args.path, &cancel, &fetched, out);
        let failed = carved.is_err();
        outcome = Some(carved);
        if failed {
            Err(ExportError::Encode("the carve failed".into()))
        } else {
            Ok(())
        }
    });
    let (target, report) = match (outcome, written) {
        (Some(Ok(done)), Ok(())) => done,
        (Some(Err(error)), _) => {
            let code = match error {
                CarveError::NotFound(_) | CarveError::Removed { .. } => exit_code::NOT_FOUND,
                CarveError::NotAFile { .. } => exit_code::BAD_INPUT,
                CarveError::Source { .. } | CarveError::Layer { .. } => exit_code::INCOMPLETE,
                CarveError::Write(_) | CarveError::Cancelled => exit_code::FAILURE,
            };
            return Err(Failure::new(code, error.to_string()));
        }
        (_, Err(error)) => return Err(error.into()),
        (None, Ok(())) => return Err(Failure::new(exit_code::FAILURE, "nothing was carved")),
    };
    if !args.quiet {
        let layer_size = target.layer.size();
        let share = if layer_size == 0 {
            0.0
        } else {
            report.bytes_fetched as f64 * 100.0 / layer_size as f64
        };
        let elsewhere = report.total_fetched - report.bytes_fetched;
        eprintln!(
            "carved {} ({}) from layer {} ({}){}: fetched {} of the layer's {} ({share:.2}%){}",
            escape_control(&target.path),
            human_size(report.bytes_written),
            target.layer.index,
            target.layer.short_digest(),
            if report.from_toc {
                ", its chunks only, through the table of contents"
            } else {
                ""
            },
            human_size(report.bytes_fetched),
            human_size(layer_size),
            if elsewhere > 0 {
                format!(", and {} more to find it", human_size(elsewhere))
            } else {
                String::new()
            },
        );
    }
    Ok(exit_code::OK)
}

fn stdout_failure(error: &io::Error) -> Failure {
    Failure::new(
        exit_code::FAILURE,
        format!("could not write to stdout: {error}"),
    )
}

/// One progress bar per layer on stderr, refreshed from the layers' counters.
struct ProgressBars {
    all: indicatif::MultiProgress,
    bars: Vec<indicatif::ProgressBar>,
}

impl ProgressBars {
    fn new(layers: &[LayerInfo]) -> Self {
        let all = indicatif::MultiProgress::new();
        let style = indicatif::ProgressStyle::with_template(
            "layer {prefix} {bar:30} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        let bars = layers
            .iter()
            .map(|layer| {
                let bar = all.add(indicatif::ProgressBar::new(layer.size()));
                bar.set_style(style.clone());
                bar.set_prefix(layer.index.to_string());
                bar
            })
            .collect();
        Self { all, bars }
    }

    /// Refreshes every unfinished bar ten times a second until `finished`.
    fn tick_until(&self, finished: &std::sync::atomic::AtomicBool, progress: &[Arc<PeekProgress>]) {
        while !finished.load(std::sync::atomic::Ordering::Relaxed) {
            for (bar, counters) in self.bars.iter().zip(progress) {
                if !bar.is_finished() {
                    bar.set_position(counters.bytes_read());
                    let resumed = match counters.resumes() {
                        0 => String::new(),
                        n => format!(", resumed ×{n}"),
                    };
                    bar.set_message(format!("{} entries{resumed}", counters.entries()));
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.all.clear().ok();
    }

    fn finish(&self, position: usize) {
        if let Some(bar) = self.bars.get(position) {
            bar.finish_and_clear();
        }
    }
}

/// One listing line: kind, mode, size, path and link target (with a layer tag if given).
fn write_entry(out: &mut dyn Write, layer: Option<usize>, entry: &Entry) -> io::Result<()> {
    let target = entry
        .link_target
        .as_deref()
        .map(|t| format!(" -> {}", escape_control(t)))
        .unwrap_or_default();
    let origin = layer.map(|l| format!("[{l}] ")).unwrap_or_default();
    let mark = if entry.has_raw_names() {
        "  [not UTF-8, shown lossily]"
    } else {
        ""
    };
    writeln!(
        out,
        "  {origin}{:<13} {:04o} {:>10}  {}{target}{mark}",
        entry.kind.as_str(),
        entry.mode,
        human_size(entry.size),
        escape_control(&entry.path)
    )
}

fn print_merged(out: &mut dyn Write, layer_count: usize, merged: &[MergedEntry]) -> io::Result<()> {
    writeln!(
        out,
        "merged filesystem of {layer_count} layers: {} entries",
        merged.len()
    )?;
    for item in merged {
        write_entry(out, Some(item.layer_index), &item.entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_selection_accepts_indexes_and_all() {
        assert_eq!(parse_layer_selection("ALL", 3), Ok(vec![0, 1, 2]));
        assert_eq!(parse_layer_selection("", 2), Ok(vec![0, 1]));
        assert_eq!(parse_layer_selection(" 2, 0 ,2", 3), Ok(vec![0, 2]));
        assert!(
            parse_layer_selection("3", 3)
                .expect_err("out of range")
                .contains("0 to 2")
        );
        assert!(
            parse_layer_selection("x", 3)
                .expect_err("junk")
                .contains("not a layer index")
        );
        assert!(parse_layer_selection(",", 3).is_err());
    }

    #[test]
    fn the_command_line_parses() {
        let cli = Cli::try_parse_from([
            "layerslayer",
            "peek",
            "alpine",
            "--layers",
            "0,2",
            "--csv",
            "out.csv",
            "--json",
            "--merged",
        ])
        .expect("parses");
        match cli.command {
            Some(Command::Peek(args)) => {
                assert_eq!(args.layers.as_deref(), Some("0,2"));
                assert_eq!(args.csv.as_deref(), Some("out.csv"));
                assert_eq!(args.json.as_deref(), Some("-"));
                assert!(args.merged);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            Cli::try_parse_from(["layerslayer"])
                .expect("bare")
                .command
                .is_none()
        );
    }
}
