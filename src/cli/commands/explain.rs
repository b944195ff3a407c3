//! The commands that explain an image rather than list it: `config`, `analyze` (with its CI
//! gate) and `diff`.

use std::io::{self, Write};

use serde::Serialize;

use crate::cancel::CancelToken;
use crate::cli::args::{AnalyzeArgs, DiffArgs, ImageArgs, ReadArgs};
use crate::cli::commands::{open, open_with};
use crate::cli::exit::{
    Failure, exit_code, listings_exit_code, statuses_exit_code, stdout_failure,
};
use crate::cli::progress::read_with_bars;
use crate::inspect::analysis::{Analysis, GateRules, analyze};
use crate::inspect::diff::{
    CompareImage, CompareReader, Comparison, ReadRequest, compare_images, summarize, write_diff_csv,
};
use crate::layer::cache::ListingCache;
use crate::layer::list::{ContentNeed, ListingOptions};
use crate::model::{Change, LayerListing};
use crate::oci::manifest::Platform;
use crate::oci::{ImageInfo, LayerInfo};
use crate::output::{self, Destination, ExportError};
use crate::output::{escape_control, human_size};
use crate::source::ImageSource;
use crate::source::open::OpenedImage;

/// `layerslayer config IMAGE`.
pub(crate) fn run_config(args: &ImageArgs, json: bool) -> Result<u8, Failure> {
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
pub(crate) struct ConfigDocument<'a> {
    source: &'a str,
    manifest_digest: &'a str,
    config: &'a crate::oci::manifest::ImageConfig,
    build_steps: Vec<crate::oci::manifest::BuildStep>,
}

pub(crate) fn print_config(out: &mut dyn Write, image: &ImageInfo) -> io::Result<()> {
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
pub(crate) fn run_analyze(args: &AnalyzeArgs) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let (OpenedImage { info, .. }, _, listings) = open_and_read(&args.image, &args.read, &cancel)?;
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
pub(crate) struct AnalysisDocument<'a> {
    image: &'a str,
    manifest_digest: &'a str,
    #[serde(flatten)]
    analysis: &'a Analysis,
}

pub(crate) fn print_analysis(
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

pub(crate) fn section(
    out: &mut dyn Write,
    title: &str,
    count: usize,
    top: usize,
) -> io::Result<()> {
    let shown = if count > top {
        format!(" (top {top} of {count})")
    } else {
        format!(" ({count})")
    };
    writeln!(out, "{title}{shown}:")
}

/// `layerslayer diff IMAGE_A IMAGE_B`.
pub(crate) fn run_diff(args: &DiffArgs) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let access = args.access.resolve()?;
    let a = open_with(&args.image_a, &access, &cancel)?;
    let b = match &args.platform_b {
        Some(platform) => {
            let platform = platform
                .parse::<Platform>()
                .map_err(|e| Failure::new(exit_code::BAD_INPUT, format!("--platform-b: {e}")))?;
            let mut access_b = access.clone();
            access_b.options.platform = Some(platform);
            open_with(&args.image_b, &access_b, &cancel)?
        }
        None => open_with(&args.image_b, &access, &cancel)?,
    };
    let cache = open_cache(&args.read);
    let mut reader = LayerReader {
        args: &args.read,
        cache: cache.as_ref(),
        cancel: &cancel,
    };
    let Comparison {
        listings_a,
        listings_b,
        shared_layers: shared_count,
        rows,
        ..
    } = compare_images(
        CompareImage {
            source: a.source.as_ref(),
            layers: &a.info.layers,
        },
        CompareImage {
            source: b.source.as_ref(),
            layers: &b.info.layers,
        },
        Vec::new(),
        &mut reader,
        &cancel,
    )
    .map_err(|cancelled| Failure::new(exit_code::FAILURE, cancelled.to_string()))?;
    if !args.read.quiet {
        if let (Some(platform_a), Some(platform_b)) = (&a.info.platform, &b.info.platform)
            && platform_a != platform_b
        {
            eprintln!("A is {platform_a}, B is {platform_b}");
        }
        eprintln!(
            "{shared_count} of {} layers of B are shared with A and were read once",
            b.info.layers.len()
        );
    }
    if let Some(csv) = &args.csv {
        output::write_to(&Destination::from_arg(csv), |out| {
            write_diff_csv(&rows, out)
        })?;
    }
    if let Some(json) = &args.json {
        let document = DiffDocument {
            image_a: &a.info.source,
            image_b: &b.info.source,
            platform_a: a.info.platform.as_ref().map(ToString::to_string),
            platform_b: b.info.platform.as_ref().map(ToString::to_string),
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
    Ok(statuses_exit_code(
        listings_a
            .iter()
            .chain(&listings_b)
            .map(|listing| &listing.result.status),
    ))
}

#[derive(Serialize)]
pub(crate) struct DiffDocument<'a> {
    image_a: &'a str,
    image_b: &'a str,
    /// The platform picked from A's index, when A is multi-platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    platform_a: Option<String>,
    /// The same for B (`--platform-b`, else A's choice).
    #[serde(skip_serializing_if = "Option::is_none")]
    platform_b: Option<String>,
    shared_layers: usize,
    summary: crate::inspect::diff::DiffSummary,
    changes: &'a [crate::inspect::diff::DiffRow],
}

/// Writes `document` as pretty JSON, and a newline, to FILE or `-` (stdout).
pub(crate) fn write_json_document(
    destination: &str,
    document: &impl Serialize,
) -> Result<(), ExportError> {
    output::write_to(&Destination::from_arg(destination), |out| {
        serde_json::to_writer_pretty(&mut *out, document).map_err(ExportError::from_json)?;
        writeln!(out).map_err(ExportError::Write)
    })
}

pub(crate) fn open_cache(args: &ReadArgs) -> Option<ListingCache> {
    if args.no_cache {
        None
    } else {
        ListingCache::open_default()
    }
}

/// Opens the image `image` names and reads every layer of it whole (see [`read_layers`]);
/// returns the image, the cache it used and the listings.
pub(crate) fn open_and_read(
    image: &ImageArgs,
    read: &ReadArgs,
    cancel: &CancelToken,
) -> Result<(OpenedImage, Option<ListingCache>, Vec<LayerListing>), Failure> {
    let opened = open(image, cancel)?;
    let cache = open_cache(read);
    let listings = read_layers(
        opened.source.as_ref(),
        &opened.info.layers,
        read,
        cache.as_ref(),
        cancel,
    );
    Ok((opened, cache, listings))
}

/// Reads every layer of `layers` whole (content facts are needed), with progress bars on a
/// terminal; failures are reported on stderr and kept as the layers' statuses.
pub(crate) fn read_layers(
    source: &dyn ImageSource,
    layers: &[LayerInfo],
    args: &ReadArgs,
    cache: Option<&ListingCache>,
    cancel: &CancelToken,
) -> Vec<LayerListing> {
    let options = ListingOptions {
        cache,
        use_toc: false,
        content: ContentNeed::Required,
    };
    read_with_bars(
        source,
        layers,
        options,
        args.jobs,
        args.quiet,
        cancel,
        &mut |listing| {
            if let Some(message) = listing.result.status.problem() {
                eprintln!(
                    "warning: layer {} ({}): {}",
                    listing.layer.index,
                    listing.layer.short_digest(),
                    escape_control(message)
                );
            }
        },
    )
}

/// How `diff` reads the layers a comparison needs: [`read_layers`] with its options.
pub(crate) struct LayerReader<'a> {
    args: &'a ReadArgs,
    cache: Option<&'a ListingCache>,
    cancel: &'a CancelToken,
}

impl CompareReader for LayerReader<'_> {
    fn read(&mut self, request: ReadRequest<'_>) -> Vec<LayerListing> {
        read_layers(
            request.source,
            request.layers,
            self.args,
            self.cache,
            self.cancel,
        )
    }
}
