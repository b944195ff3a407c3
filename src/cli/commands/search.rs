//! `index IMAGE...` fills the search index; `search PATTERN` asks it which images hold a path.

use std::io::{self, Write};

use crate::cancel::CancelToken;
use crate::cli::args::{IndexArgs, SearchArgs};
use std::sync::Arc;

use crate::cli::commands::{open_with, open_with_opener};
use crate::cli::exit::{Failure, exit_code, stdout_failure};
use crate::cli::progress::read_with_bars;
use crate::layer::list::{ContentNeed, ListingOptions};
use crate::oci::reference::ImageReference;
use crate::oci::{ImageInfo, LayerInfo};
use crate::output::{escape_control, human_size, neutralize_formula};
use crate::search::{Hit, ImageRecord, Notice, Pattern, SearchIndex};
use crate::source::open::{Location, open_every_platform};
use crate::source::registry::{RegistryClient, RegistryError};
use crate::source::{ImageSource, SourceError};

fn open_index() -> Result<SearchIndex, Failure> {
    SearchIndex::open_default().ok_or_else(|| {
        Failure::new(
            exit_code::FAILURE,
            "the search index needs a cache directory: set XDG_CACHE_HOME to a writable one",
        )
    })
}

/// After a peek that listed every layer of `image` completely (typed as `typed`, `--engine`
/// or not): records it in the search index, as the app does, so that `search` finds it. Only
/// warns when that fails: the peek itself worked.
pub(crate) fn record_peeked(typed: &str, engine: bool, image: &ImageInfo) {
    let (Some(index), Some(location)) =
        (SearchIndex::open_default(), location_of(typed, engine).ok())
    else {
        return;
    };
    let mut notices = Vec::new();
    let recorded = index.record_listed(ImageRecord::of(typed, &location, image), &mut notices);
    say(notices);
    if let Err(error) = recorded {
        eprintln!("warning: could not add the image to the search index: {error}");
    }
}

/// Where `typed` was read from, as the index records it (`--engine` turning a registry
/// reference into an engine image, as opening it did).
fn location_of(typed: &str, engine: bool) -> Result<Location, SourceError> {
    let location = Location::parse(typed)?;
    Ok(if engine {
        location.in_engine(typed)
    } else {
        location
    })
}

fn say(notices: Vec<Notice>) {
    for notice in notices {
        eprintln!("warning: {}", escape_control(&notice.to_string()));
    }
}

/// What an `index` target names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// One image (a reference with a tag or digest, a file, a layout, an engine image).
    Image,
    /// A whole registry, `HOST[:PORT]`: every repository of its catalog.
    Registry,
    /// A repository without a tag, `HOST/REPO`: every tag of it.
    Repository,
}

fn target_of(text: &str) -> Target {
    if matches!(
        Location::parse(text),
        Ok(Location::Local { .. } | Location::Engine { .. } | Location::Demo)
    ) {
        return Target::Image;
    }
    let last = text.rsplit('/').next().unwrap_or(text);
    if !text.contains('/') {
        if text.split(':').next().is_some_and(is_host) {
            Target::Registry
        } else {
            Target::Image
        }
    } else if !last.contains(':') && !last.contains('@') {
        Target::Repository
    } else {
        Target::Image
    }
}

/// `localhost`, or a name with a dot (`127.0.0.1`, `ghcr.io`): a registry host, not an image.
fn is_host(text: &str) -> bool {
    text == "localhost" || text.contains('.')
}

/// Tags asked for per page of `/tags/list` and `/_catalog`.
const PAGE: usize = 1000;

/// The images a registry or repository target holds, as `HOST/REPO:TAG`; problems (a
/// registry without a catalog, a repository that refuses) are reported and counted.
fn expand(
    text: &str,
    target: &Target,
    access: &crate::cli::args::Access,
    cancel: &CancelToken,
    tally: &mut Tally,
) -> Vec<String> {
    let host = text.split('/').next().unwrap_or(text);
    let probe = match target {
        Target::Registry => format!("{host}/catalog"),
        _ => text.to_owned(),
    };
    let report = |what: &str, error: &dyn std::fmt::Display| {
        eprintln!(
            "error: {}: {}",
            escape_control(what),
            escape_control(&error.to_string())
        );
    };
    let client = ImageReference::parse(&probe)
        .map_err(|e| e.to_string())
        .and_then(|reference| {
            RegistryClient::connect(&reference, access.options.registry.clone(), cancel)
                .map_err(|e| e.to_string())
        });
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            report(text, &error);
            tally.skipped += 1;
            return Vec::new();
        }
    };
    let repositories = match target {
        Target::Registry => match client.catalog(PAGE, cancel) {
            Ok(repositories) => repositories,
            Err(RegistryError::NotFound { .. }) => {
                report(
                    text,
                    &format!(
                        "this registry does not list its repositories (no /v2/_catalog): name \
                         them instead, e.g. `layerslayer index {host}/REPO`"
                    ),
                );
                tally.skipped += 1;
                return Vec::new();
            }
            Err(error) => {
                report(text, &error);
                tally.skipped += 1;
                return Vec::new();
            }
        },
        _ => vec![text[host.len() + 1..].to_owned()],
    };
    let mut images = Vec::new();
    tally.repositories += repositories.len();
    for repository in repositories {
        match client.for_repository(&repository).tags(PAGE, cancel) {
            Ok(tags) => images.extend(tags.iter().map(|tag| format!("{host}/{repository}:{tag}"))),
            Err(error) => {
                report(&format!("{host}/{repository}"), &error);
                tally.skipped += 1;
            }
        }
    }
    images
}

/// What one `index` run has done so far, for the progress lines and the closing summary.
#[derive(Debug, Default)]
struct Tally {
    /// Repositories walked (registry and repository targets).
    repositories: usize,
    /// Images (one per platform) recorded, or found already recorded.
    images: usize,
    /// Of those, images already recorded as the same manifest (nothing to do).
    already: usize,
    /// Layers listed now.
    listed: usize,
    /// Layers found already indexed.
    held: usize,
    /// Blob bytes fetched.
    bytes: u64,
    /// Images, platforms or repositories reported and skipped.
    skipped: usize,
}

/// One name opened: its source and, per platform it holds, the resolved image.
struct Opened {
    name: String,
    source: Arc<dyn ImageSource>,
    images: Vec<Result<ImageInfo, SourceError>>,
}

/// Opens `name` with every platform of an index, or only the `--platform` asked for.
fn open_platforms(
    name: &str,
    access: &crate::cli::args::Access,
    cancel: &CancelToken,
) -> Result<Opened, Failure> {
    let (source, images) = if access.options.platform.is_some() {
        let opened = open_with(name, access, cancel)?;
        (opened.source, vec![Ok(opened.info)])
    } else {
        open_with_opener(name, access, cancel, open_every_platform)?
    };
    Ok(Opened {
        name: name.to_owned(),
        source,
        images,
    })
}

/// `layerslayer index TARGET...`: lists the layers the index lacks and records each image,
/// every platform of a multi-platform index (only `--platform` when given). A target may be
/// an image, a registry (`HOST[:PORT]`: its catalog) or a repository (`HOST/REPO`: its tags,
/// the newest `--tags N`). Images are indexed one after the other as they are opened, and an
/// image already recorded as the same manifest is not touched, so a run that was interrupted
/// resumes where it stopped. An image, platform or repository that cannot be read is reported
/// and skipped; the run goes on and exits 7 at the end.
pub(crate) fn run_index(args: &IndexArgs) -> Result<u8, Failure> {
    let index = open_index()?;
    let access = args.access.resolve()?;
    let cancel = CancelToken::new();
    let mut tally = Tally::default();
    let mut last_failure = None;
    let mut attempted = 0usize;
    let mut report = |name: &str, failure: Failure, tally: &mut Tally| {
        eprintln!(
            "error: {}: {}",
            escape_control(name),
            escape_control(&failure.message)
        );
        tally.skipped += 1;
        last_failure = Some(failure);
    };
    for target_text in &args.images {
        let target = target_of(target_text);
        let names = match target {
            Target::Image => vec![target_text.clone()],
            _ => expand(target_text, &target, &access, &cancel, &mut tally),
        };
        let total = names.len();
        let keep = args.tags.filter(|_| target != Target::Image);
        // With `--tags`, every tag is opened before choosing the newest; otherwise each image
        // is indexed as soon as it is opened.
        let mut waiting = Vec::new();
        let index_now =
            |opened: Opened,
             place: (usize, usize),
             tally: &mut Tally,
             report: &mut dyn FnMut(&str, Failure, &mut Tally)| {
                index_platforms(&index, opened, place, &access, args, &cancel, tally, report);
            };
        for (position, name) in names.into_iter().enumerate() {
            attempted += 1;
            match open_platforms(&name, &access, &cancel) {
                Ok(opened) if keep.is_some() => waiting.push(opened),
                Ok(opened) => index_now(opened, (position + 1, total), &mut tally, &mut report),
                Err(failure) => report(&name, failure, &mut tally),
            }
        }
        if let Some(keep) = keep {
            let kept = newest_per_repository(waiting, usize::from(keep));
            let total = kept.len();
            for (position, opened) in kept.into_iter().enumerate() {
                index_now(opened, (position + 1, total), &mut tally, &mut report);
            }
        }
    }
    if !args.quiet {
        eprintln!(
            "done: {} repositories; images: {} indexed, {} of them already; layers: {} listed, \
             {} already indexed; {} fetched; {} skipped",
            tally.repositories,
            tally.images,
            tally.already,
            tally.listed,
            tally.held,
            human_size(tally.bytes),
            tally.skipped
        );
    }
    Ok(match (tally.skipped, last_failure) {
        (0, _) => exit_code::OK,
        (1, Some(failure)) if attempted == 1 && args.images.len() == 1 => failure.code,
        _ => exit_code::INCOMPLETE,
    })
}

/// Indexes each platform of one opened name; `position` is (n, of) within its target.
#[allow(clippy::too_many_arguments)]
fn index_platforms(
    index: &SearchIndex,
    opened: Opened,
    position: (usize, usize),
    access: &crate::cli::args::Access,
    args: &IndexArgs,
    cancel: &CancelToken,
    tally: &mut Tally,
    report: &mut dyn FnMut(&str, Failure, &mut Tally),
) {
    for info in opened.images {
        let result = info
            .map_err(|e| Failure::opening(&e, None))
            .and_then(|info| {
                index_one(
                    index,
                    &opened.name,
                    opened.source.as_ref(),
                    &info,
                    position,
                    access,
                    args,
                    cancel,
                    tally,
                )
            });
        if let Err(failure) = result {
            report(&opened.name, failure, tally);
        }
    }
}

/// The newest `keep` images of each repository (`HOST/REPO:TAG` names), by the config's
/// `created` (RFC 3339 sorts as text; undated images count as oldest).
fn newest_per_repository(mut opened: Vec<Opened>, keep: usize) -> Vec<Opened> {
    let repository = |name: &str| {
        name.rsplit_once(':')
            .map_or(name, |(repo, _)| repo)
            .to_owned()
    };
    let created = |opened: &Opened| {
        opened
            .images
            .iter()
            .flatten()
            .filter_map(|info| info.config.created.clone())
            .max()
    };
    opened.sort_by(|a, b| {
        repository(&a.name)
            .cmp(&repository(&b.name))
            .then_with(|| created(b).cmp(&created(a)))
    });
    let mut kept: Vec<Opened> = Vec::new();
    let mut run = (String::new(), 0);
    for image in opened {
        let repo = repository(&image.name);
        if repo != run.0 {
            run = (repo, 0);
        }
        run.1 += 1;
        if run.1 <= keep {
            kept.push(image);
        }
    }
    kept
}

#[allow(clippy::too_many_arguments)]
fn index_one(
    index: &SearchIndex,
    image: &str,
    source: &dyn ImageSource,
    info: &ImageInfo,
    (position, total): (usize, usize),
    access: &crate::cli::args::Access,
    args: &IndexArgs,
    cancel: &CancelToken,
    tally: &mut Tally,
) -> Result<(), Failure> {
    let platform = info.platform.as_ref().map(ToString::to_string);
    let shown = match &platform {
        Some(platform) => format!("{} [{platform}]", escape_control(image)),
        None => escape_control(image).into_owned(),
    };
    if index.holds_image(image, platform.as_deref(), &info.manifest_digest) {
        tally.images += 1;
        tally.already += 1;
        tally.held += info.layers.len();
        if !args.quiet {
            eprintln!(
                "[{position}/{total}] already indexed {shown}: {} layers, 0 listed now",
                info.layers.len()
            );
        }
        return Ok(());
    }
    let missing: Vec<LayerInfo> = info
        .layers
        .iter()
        .filter(|layer| !index.holds_layer(layer.digest()))
        .cloned()
        .collect();
    let options = ListingOptions {
        cache: Some(index.cache()),
        use_toc: !args.no_toc,
        content: ContentNeed::Skip,
    };
    let mut problems = Vec::new();
    let mut bytes = 0u64;
    read_with_bars(
        source,
        &missing,
        options,
        args.jobs,
        args.quiet,
        cancel,
        &mut |listing| {
            bytes += listing.result.bytes_read;
            let digest = listing.layer.digest();
            if let Some(problem) = listing.result.status.problem() {
                problems.push(format!("layer {}: {problem}", listing.layer.index));
            } else if let Err(error) = index.add_layer(digest, &listing.entries) {
                problems.push(format!(
                    "layer {}: could not be indexed: {error}",
                    listing.layer.index
                ));
            }
        },
    );
    tally.bytes += bytes;
    tally.listed += missing.len() - problems.len();
    if !problems.is_empty() {
        return Err(Failure::new(
            exit_code::INCOMPLETE,
            format!("not indexed: {}", problems.join("; ")),
        ));
    }
    // It opened, so it parses.
    let location = location_of(image, access.engine).map_err(|e| Failure::opening(&e, None))?;
    let record = ImageRecord::of(image, &location, info);
    let mut notices = Vec::new();
    let recorded = index.record_image(record, &mut notices);
    say(notices);
    recorded.map_err(|e| {
        Failure::new(
            exit_code::FAILURE,
            format!("could not record the image in the search index: {e}"),
        )
    })?;
    tally.images += 1;
    tally.held += info.layers.len() - missing.len();
    if !args.quiet {
        eprintln!(
            "[{position}/{total}] indexed {shown}: {} layers, {} listed now ({} fetched), {} \
             already indexed",
            info.layers.len(),
            missing.len(),
            human_size(bytes),
            info.layers.len() - missing.len()
        );
    }
    Ok(())
}

/// `layerslayer search PATTERN`: 0 with hits, 1 without, 3 for a bad pattern.
pub(crate) fn run_search(args: &SearchArgs) -> Result<u8, Failure> {
    let pattern = match (&args.pattern, &args.glob, &args.regex) {
        (_, Some(glob), _) => Pattern::glob(glob),
        (_, _, Some(regex)) => Pattern::regex(regex),
        (Some(text), _, _) => Pattern::substring(text),
        (None, None, None) => Pattern::substring(""),
    }
    .map_err(|e| Failure::new(exit_code::BAD_INPUT, e.to_string()))?;
    let index = open_index()?;
    let mut notices = Vec::new();
    let hits = index.search(&pattern, args.image.as_deref(), &mut notices);
    say(notices);
    let hits = hits.map_err(|e| {
        Failure::new(
            exit_code::FAILURE,
            format!("could not read the search index: {e}"),
        )
    })?;
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &hits)
            .map_err(io::Error::other)
            .and_then(|()| writeln!(out))
    } else if args.csv {
        write_csv(&mut out, &hits)
    } else {
        write_text(&mut out, &hits)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| stdout_failure(&e))?;
    Ok(if hits.is_empty() {
        exit_code::NO_MATCH
    } else {
        exit_code::OK
    })
}

fn write_csv(out: &mut dyn Write, hits: &[Hit]) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "image",
        "manifest_digest",
        "platform",
        "layer_index",
        "layer_digest",
        "path",
        "kind",
        "size",
        "in_final",
    ])?;
    for hit in hits {
        writer.write_record([
            neutralize_formula(&hit.image).as_ref(),
            &hit.manifest_digest,
            hit.platform.as_deref().unwrap_or_default(),
            &hit.layer_index.to_string(),
            &hit.layer_digest,
            neutralize_formula(&hit.path).as_ref(),
            hit.kind.as_str(),
            &hit.size.to_string(),
            if hit.in_final { "true" } else { "false" },
        ])?;
    }
    writer.flush()
}

fn write_text(out: &mut dyn Write, hits: &[Hit]) -> io::Result<()> {
    let mut current: Option<(&str, Option<&str>)> = None;
    for hit in hits {
        let image = (hit.image.as_str(), hit.platform.as_deref());
        if current != Some(image) {
            let platform = hit
                .platform
                .as_deref()
                .map(|p| format!(" [{p}]"))
                .unwrap_or_default();
            writeln!(
                out,
                "{}{platform} {}",
                escape_control(&hit.image),
                hit.manifest_digest
            )?;
            current = Some(image);
        }
        writeln!(
            out,
            "  layer {:>2} {}  {:<8} {:>10}  {}{}",
            hit.layer_index,
            short(&hit.layer_digest),
            hit.kind.as_str(),
            human_size(hit.size),
            escape_control(&hit.path),
            if hit.in_final {
                ""
            } else {
                "  (not in the final filesystem)"
            }
        )?;
    }
    Ok(())
}

fn short(digest: &str) -> &str {
    let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
    hex.get(..12).unwrap_or(hex)
}
