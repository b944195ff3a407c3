//! The commands, one module each; opening the image they name is shared.

use crate::cancel::CancelToken;
use crate::cli::args::{Access, ImageArgs};
use crate::cli::exit::Failure;
use crate::source::SourceError;
use crate::source::open::{Location, OpenOptions, OpenedImage, open_location};
use crate::source::registry::stored;

mod carve;
mod explain;
mod layers;
mod log;
mod manual;
mod peek;
mod search;

pub(super) use carve::run_carve;
pub(super) use explain::{run_analyze, run_config, run_diff};
pub(super) use layers::run_layers;
pub(super) use log::run_log;
pub(super) use manual::{print_completions, print_man_page};
pub use peek::parse_layer_selection;
pub(super) use peek::run_peek;
pub(super) use search::{run_index, run_search};

/// Opens what the user named and resolves the image.
pub(crate) fn open(args: &ImageArgs, cancel: &CancelToken) -> Result<OpenedImage, Failure> {
    open_with(&args.image, &args.access.resolve()?, cancel)
}

/// Opens `image` with resolved access options; forgets or remembers the registry login as
/// asked.
pub(crate) fn open_with(
    image: &str,
    access: &Access,
    cancel: &CancelToken,
) -> Result<OpenedImage, Failure> {
    open_with_opener(image, access, cancel, open_location)
}

/// [`open_with`], opening through `opener` (e.g. every platform of an index).
pub(crate) fn open_with_opener<T>(
    image: &str,
    access: &Access,
    cancel: &CancelToken,
    opener: impl FnOnce(&Location, &OpenOptions, &CancelToken) -> Result<T, SourceError>,
) -> Result<T, Failure> {
    let mut location = Location::parse(image).map_err(|e| Failure::opening(&e, None))?;
    location = if access.engine {
        location.in_engine(image)
    } else {
        location.engine_first()
    };
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
    let opened = opener(&location, &access.options, cancel)
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
