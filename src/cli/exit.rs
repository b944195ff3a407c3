//! How commands end: exit codes scripts can rely on, and the failure that ends a command.

use std::io;

use crate::model::{LayerListing, LayerStatus};
use crate::output::ExportError;
use crate::source::open::Location;
use crate::source::{ErrorKind, SourceError};

/// Exit codes scripts can rely on.
pub mod exit_code {
    /// Everything asked for was read completely.
    pub const OK: u8 = 0;
    /// Unexpected failure (e.g. an export could not be written).
    pub const FAILURE: u8 = 1;
    /// `search`: no indexed path matched.
    pub const NO_MATCH: u8 = 1;
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

/// A failure that ends the command, with its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Failure {
    /// The process exit code.
    pub(crate) code: u8,
    /// What went wrong, for stderr.
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl Failure {
    /// The failure for an image that could not be opened; a local file with invalid content
    /// is bad input (3), a registry serving it is misbehaving (6).
    pub(crate) fn opening(error: &SourceError, location: Option<&Location>) -> Self {
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

/// 4 when a layer is missing, 7 when one is incomplete, else 0.
pub(crate) fn listings_exit_code(listings: &[LayerListing]) -> u8 {
    statuses_exit_code(listings.iter().map(|listing| &listing.result.status))
}

/// [`listings_exit_code`] over the layers' statuses alone.
pub(crate) fn statuses_exit_code<'a>(
    statuses: impl Iterator<Item = &'a LayerStatus> + Clone,
) -> u8 {
    if statuses
        .clone()
        .any(|status| matches!(status, LayerStatus::Missing(_)))
    {
        exit_code::NOT_FOUND
    } else if statuses.into_iter().all(LayerStatus::is_complete) {
        exit_code::OK
    } else {
        exit_code::INCOMPLETE
    }
}

pub(crate) fn stdout_failure(error: &io::Error) -> Failure {
    Failure::new(
        exit_code::FAILURE,
        format!("could not write to stdout: {error}"),
    )
}
