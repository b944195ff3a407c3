//! The commands that explain an image rather than list it: `config`, `analyze` (with its CI
//! gate) and `diff`.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use serde::Serialize;

use super::{
    Failure, ImageArgs, ProgressBars, exit_code, listings_exit_code, open, open_with,
    stdout_failure,
};
use crate::cancel::CancelToken;
use crate::inspect::analysis::{Analysis, FlagKind, GateRules, analyze, parse_size};
use crate::inspect::diff::{SharedListings, diff_filesystems, summarize, write_diff_csv};
use crate::layer::cache::ListingCache;
use crate::layer::list::{ContentNeed, ListingOptions};
use crate::layer::parallel::{Delivery, LayerEvent, ParallelPeek, default_concurrency};
use crate::layer::stream::PeekProgress;
use crate::model::{Change, LayerListing, merge_layers};
use crate::oci::{ImageInfo, LayerInfo};
use crate::output::{self, Destination, ExportError};
use crate::output::{escape_control, human_size};
use crate::source::ImageSource;
use crate::source::open::OpenedImage;

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
    /// How to reach both images (one platform, one login).
    #[command(flatten)]
    pub access: super::AccessArgs,
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

fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!(
            "{text:?} is not a ratio between 0 and 1 (e.g. 0.9)"
        )),
    }
}

/// `layerslayer config IMAGE`.
pub(super) fn run_config(args: &ImageArgs, json: bool) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let image = open(args, &cancel)?.info;
    let mut out = io::stdout().lock();
    if json {
        let document = ConfigDocument {
            source: &image.source,
            manifest_digest: &image.manifest_digest,
            config: &image.config,
            build_steps: image.config.build_steps(image.layers.len()),
        };
        serde_json::to_writer_pretty(&mut out, &document)
            .map_err(|e| Failure::new(exit_code::FAILURE, e.to_string()))?;
        writeln!(out).map_err(|e| stdout_failure(&e))?;
    } else {
        print_config(&mut out, &image).map_err(|e| stdout_failure(&e))?;
    }
    Ok(exit_code::OK)
}

#[derive(Serialize)]
struct ConfigDocument<'a> {
    source: &'a str,
    manifest_digest: &'a str,
    config: &'a crate::oci::manifest::ImageConfig,
    build_steps: Vec<crate::oci::manifest::BuildStep>,
}

fn print_config(out: &mut dyn Write, image: &ImageInfo) -> io::Result<()> {
    let config = &image.config;
    writeln!(out, "image {}", escape_control(&image.source))?;
    let platform = [config.os.as_deref(), config.architecture.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    if !platform.is_empty() {
        writeln!(out, "platform    {platform}")?;
    }
    if let Some(created) = &config.created {
        writeln!(out, "created     {}", escape_control(created))?;
    }
    let runtime = config.config.clone().unwrap_or_default();
    let quoted = |words: &[String]| {
        if words.is_empty() {
            "(none)".to_owned()
        } else {
            escape_control(&serde_json::to_string(words).unwrap_or_default()).into_owned()
        }
    };
    let or_default = |text: &str, default: &str| {
        if text.is_empty() {
            default.to_owned()
        } else {
            escape_control(text).into_owned()
        }
    };
    writeln!(out, "entrypoint  {}", quoted(&runtime.entrypoint))?;
    writeln!(out, "cmd         {}", quoted(&runtime.cmd))?;
    writeln!(out, "user        {}", or_default(&runtime.user, "(root)"))?;
    writeln!(out, "workdir     {}", or_default(&runtime.working_dir, "/"))?;
    let ports: Vec<&str> = runtime.exposed_ports.keys().map(String::as_str).collect();
    writeln!(
        out,
        "ports       {}",
        or_default(&ports.join(" "), "(none)")
    )?;
    if !runtime.stop_signal.is_empty() {
        writeln!(out, "stopsignal  {}", escape_control(&runtime.stop_signal))?;
    }
    for (title, lines) in [
        ("env", runtime.env.clone()),
        (
            "volumes",
            runtime.volumes.keys().cloned().collect::<Vec<_>>(),
        ),
        (
            "labels",
            runtime
                .labels
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect(),
        ),
    ] {
        if !lines.is_empty() {
            writeln!(out, "{title}:")?;
            for line in lines {
                writeln!(out, "  {}", escape_control(&line))?;
            }
        }
    }
    writeln!(out, "build steps:")?;
    for step in config.build_steps(image.layers.len()) {
        let layer = step
            .layer
            .map_or_else(|| "    ".to_owned(), |l| format!("[{l:>2}]"));
        writeln!(out, "  {layer} {}", escape_control(&step.instruction))?;
    }
    Ok(())
}

/// `layerslayer analyze IMAGE`.
pub(super) fn run_analyze(args: &AnalyzeArgs) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let OpenedImage { source, info } = open(&args.image, &cancel)?;
    let cache = open_cache(&args.read);
    let listings = read_layers(
        source.as_ref(),
        &info.layers,
        &args.read,
        cache.as_ref(),
        &cancel,
    );
    let analysis = analyze(&listings);
    if let Some(json) = &args.json {
        let document = AnalysisDocument {
            image: &info.source,
            manifest_digest: &info.manifest_digest,
            analysis: &analysis,
        };
        write_json_document(json, &document)?;
    }
    if args.json.as_deref() != Some("-") {
        let mut out = io::stdout().lock();
        print_analysis(&mut out, &info, &analysis, args.top).map_err(|e| stdout_failure(&e))?;
    }
    let rules = GateRules {
        min_efficiency: args.min_efficiency,
        max_wasted: args.max_wasted,
        deny: args.deny.clone(),
    };
    let broken = rules.check(&analysis);
    for reason in &broken {
        eprintln!("rule broken: {}", escape_control(reason));
    }
    Ok(if !broken.is_empty() {
        exit_code::RULE_BROKEN
    } else {
        listings_exit_code(&listings)
    })
}

#[derive(Serialize)]
struct AnalysisDocument<'a> {
    image: &'a str,
    manifest_digest: &'a str,
    #[serde(flatten)]
    analysis: &'a Analysis,
}

fn print_analysis(
    out: &mut dyn Write,
    image: &ImageInfo,
    analysis: &Analysis,
    top: usize,
) -> io::Result<()> {
    writeln!(
        out,
        "image {} ({} layers)",
        escape_control(&image.source),
        image.layers.len()
    )?;
    writeln!(
        out,
        "total {}, final {}, wasted {} ({} bytes); efficiency {:.2}%",
        human_size(analysis.total_bytes),
        human_size(analysis.final_bytes),
        human_size(analysis.wasted_bytes),
        analysis.wasted_bytes,
        analysis.efficiency * 100.0
    )?;
    section(out, "wasted", analysis.wasted.len(), top)?;
    for wasted in analysis.wasted.iter().take(top) {
        let layers: Vec<String> = wasted.layers.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "  {:>10}  {}  (layers {})",
            human_size(wasted.bytes),
            escape_control(&wasted.path),
            layers.join(",")
        )?;
    }
    section(out, "duplicates", analysis.duplicates.len(), top)?;
    for group in analysis.duplicates.iter().take(top) {
        writeln!(
            out,
            "  {:>10} × {}  {}",
            human_size(group.size),
            group.paths.len(),
            escape_control(&group.paths.join(", "))
        )?;
    }
    section(out, "flags", analysis.flags.len(), top)?;
    for flag in analysis.flags.iter().take(top) {
        writeln!(
            out,
            "  {:<14} [{}] {}  ({})",
            flag.kind.as_str(),
            flag.layer,
            escape_control(&flag.path),
            escape_control(&flag.detail)
        )?;
    }
    section(out, "largest files", analysis.largest.len(), top)?;
    for file in analysis.largest.iter().take(top) {
        writeln!(
            out,
            "  {:>10}  [{}] {}",
            human_size(file.size),
            file.layer,
            escape_control(&file.path)
        )?;
    }
    for caveat in &analysis.caveats {
        writeln!(out, "note: {}", escape_control(caveat))?;
    }
    Ok(())
}

fn section(out: &mut dyn Write, title: &str, count: usize, top: usize) -> io::Result<()> {
    let shown = if count > top {
        format!(" (top {top} of {count})")
    } else {
        format!(" ({count})")
    };
    writeln!(out, "{title}{shown}:")
}

/// `layerslayer diff IMAGE_A IMAGE_B`.
pub(super) fn run_diff(args: &DiffArgs) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let access = args.access.resolve()?;
    let a = open_with(&args.image_a, &access, &cancel)?;
    let b = open_with(&args.image_b, &access, &cancel)?;
    let cache = open_cache(&args.read);
    let listings_a = read_layers(
        a.source.as_ref(),
        &a.info.layers,
        &args.read,
        cache.as_ref(),
        &cancel,
    );
    let shared = SharedListings::new(&listings_a, &b.info.layers);
    let read_b = read_layers(
        b.source.as_ref(),
        &shared.unread,
        &args.read,
        cache.as_ref(),
        &cancel,
    );
    let shared_count = shared.shared;
    let listings_b = shared.complete(read_b);
    if !args.read.quiet {
        eprintln!(
            "{shared_count} of {} layers of B are shared with A and were read once",
            b.info.layers.len()
        );
    }
    let rows = diff_filesystems(&merge_layers(&listings_a), &merge_layers(&listings_b));
    if let Some(csv) = &args.csv {
        output::write_to(&Destination::from_arg(csv), |out| {
            write_diff_csv(&rows, out)
        })?;
    }
    if let Some(json) = &args.json {
        let document = DiffDocument {
            image_a: &a.info.source,
            image_b: &b.info.source,
            shared_layers: shared_count,
            summary: summarize(&rows),
            changes: &rows,
        };
        write_json_document(json, &document)?;
    }
    let to_stdout = [&args.csv, &args.json]
        .into_iter()
        .any(|arg| arg.as_deref() == Some("-"));
    if !to_stdout {
        let mut out = io::BufWriter::new(io::stdout().lock());
        let summary = summarize(&rows);
        for row in &rows {
            let sign = match row.change {
                Change::Added => '+',
                Change::Removed => '-',
                Change::Modified => '~',
            };
            writeln!(out, "{sign} {}", escape_control(&row.path))
                .map_err(|e| stdout_failure(&e))?;
        }
        writeln!(
            out,
            "{} added, {} removed, {} modified",
            summary.added, summary.removed, summary.modified
        )
        .and_then(|()| out.flush())
        .map_err(|e| stdout_failure(&e))?;
    }
    let all: Vec<LayerListing> = listings_a.into_iter().chain(listings_b).collect();
    Ok(listings_exit_code(&all))
}

#[derive(Serialize)]
struct DiffDocument<'a> {
    image_a: &'a str,
    image_b: &'a str,
    shared_layers: usize,
    summary: crate::inspect::diff::DiffSummary,
    changes: &'a [crate::inspect::diff::DiffRow],
}

/// Writes `document` as pretty JSON, and a newline, to FILE or `-` (stdout).
fn write_json_document(destination: &str, document: &impl Serialize) -> Result<(), ExportError> {
    output::write_to(&Destination::from_arg(destination), |out| {
        serde_json::to_writer_pretty(&mut *out, document).map_err(ExportError::from_json)?;
        writeln!(out).map_err(ExportError::Write)
    })
}

fn open_cache(args: &ReadArgs) -> Option<ListingCache> {
    if args.no_cache {
        None
    } else {
        ListingCache::open_default()
    }
}

/// Reads every layer of `layers` whole (content facts are needed), with progress bars on a
/// terminal; failures are reported on stderr and kept as the layers' statuses.
fn read_layers(
    source: &dyn ImageSource,
    layers: &[LayerInfo],
    args: &ReadArgs,
    cache: Option<&ListingCache>,
    cancel: &CancelToken,
) -> Vec<LayerListing> {
    let progress: Vec<Arc<PeekProgress>> = layers.iter().map(|_| Arc::default()).collect();
    let bars = (!args.quiet && io::stderr().is_terminal()).then(|| ProgressBars::new(layers));
    let peek = ParallelPeek {
        source,
        options: ListingOptions {
            cache,
            use_toc: false,
            content: ContentNeed::Required,
        },
        concurrency: args.jobs.map_or_else(default_concurrency, usize::from),
        delivery: Delivery::InLayerOrder,
    };
    let mut listings = Vec::with_capacity(layers.len());
    let mut entries = Vec::new();
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if let Some(bars) = &bars {
            scope.spawn(|| bars.tick_until(&finished, &progress));
        }
        peek.run(layers, &progress, cancel, &mut |event| match event {
            LayerEvent::Entry(_, entry) => entries.push(entry),
            LayerEvent::Idle => {}
            LayerEvent::Done(position, outcome) => {
                if let Some(bars) = &bars {
                    bars.finish(position);
                }
                let layer = &layers[position];
                if let Some(message) = outcome.status.problem() {
                    eprintln!(
                        "warning: layer {} ({}): {}",
                        layer.index,
                        layer.short_digest(),
                        escape_control(message)
                    );
                }
                listings.push(outcome.into_listing(layer.clone(), std::mem::take(&mut entries)));
            }
        });
        finished.store(true, Ordering::Relaxed);
    });
    listings
}
