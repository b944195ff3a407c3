//! `carve IMAGE PATH`: one file out of an image (the final filesystem's version, or with
//! `--layer N` that layer's own), fetching only what it takes.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::cancel::CancelToken;
use crate::cli::args::CarveArgs;
use crate::cli::commands::open;
use crate::cli::exit::{Failure, exit_code};
use crate::inspect::carve::{CarveError, CarveSearch, CarvedFrom, Version};
use crate::layer::cache::ListingCache;
use crate::layer::list::{ContentNeed, ListingOptions};
use crate::layer::parallel::{default_concurrency, read_listings};
use crate::model::normalize_path;
use crate::oci::LayerInfo;
use crate::output::{self, Destination, ExportError};
use crate::output::{escape_control, human_size};
use crate::source::ImageSource;
use crate::source::open::OpenedImage;

pub(crate) fn run_carve(args: &CarveArgs) -> Result<u8, Failure> {
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
        version: if args.first {
            Version::First
        } else {
            Version::Last
        },
    };
    let layer = match args.layer {
        Some(index) => Some(info.layers.get(index).ok_or_else(|| {
            Failure::new(
                exit_code::BAD_INPUT,
                format!(
                    "the image has {} layers (0 to {}); there is no layer {index}",
                    info.layers.len(),
                    info.layers.len().saturating_sub(1)
                ),
            )
        })?),
        None => None,
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
        let carved = match layer {
            Some(layer) => search.carve_layer(layer, &args.path, &cancel, &fetched, out),
            None => search.carve_path(&info.layers, &args.path, &cancel, &fetched, out),
        };
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
        (Some(Err(CarveError::NotInLayer { path, layer })), _) => {
            let holders = layers_holding(source.as_ref(), &info.layers, &path, cache.as_ref());
            let elsewhere = match holders.as_slice() {
                [] => "no layer holds it".to_owned(),
                [one] => format!("layer {one} holds it"),
                many => format!(
                    "layers {} hold it",
                    many.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(Failure::new(
                exit_code::NOT_FOUND,
                format!("layer {layer} does not hold {path}; {elsewhere}"),
            ));
        }
        (Some(Err(error)), _) => {
            let code = match error {
                CarveError::NotFound(_)
                | CarveError::Removed { .. }
                | CarveError::NotInLayer { .. } => exit_code::NOT_FOUND,
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
            match report.from {
                CarvedFrom::Toc => ", its chunks only, through the table of contents",
                CarvedFrom::Listing if !crate::layer::index::RECORDED => {
                    ", up to its last entry, as the layer's listing gives it (this build \
                     decodes gzip with ISA-L, which records no random-access index)"
                }
                CarvedFrom::Listing => ", up to its last entry, as the layer's listing gives it",
                CarvedFrom::Index => ", its data only, through the layer's cached index",
                CarvedFrom::Stream if args.first => ", its first entry",
                CarvedFrom::Stream => ", the whole layer streamed for its last entry",
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

/// The indexes of the layers whose entries hold `path` itself (added or modified there).
fn layers_holding(
    source: &dyn ImageSource,
    layers: &[LayerInfo],
    path: &str,
    cache: Option<&ListingCache>,
) -> Vec<usize> {
    let path = normalize_path(path);
    let progress: Vec<_> = layers.iter().map(|_| Arc::default()).collect();
    let options = ListingOptions {
        cache,
        use_toc: true,
        content: ContentNeed::WhenStreamed,
    };
    let listings = read_listings(
        source,
        layers,
        options,
        default_concurrency(),
        &progress,
        &CancelToken::new(),
        &mut |_| {},
    );
    listings
        .iter()
        .filter(|listing| listing.entries.iter().any(|entry| *entry.path == *path))
        .map(|listing| listing.layer.index)
        .collect()
}
