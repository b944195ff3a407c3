//! Where exports go: stdout (escaped on a terminal) or a file replaced atomically
//! (temporary file + rename), and the errors writing them.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::terminal::TerminalSafe;

/// Errors writing an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The destination could not be written.
    #[error("could not write {path}: {source}")]
    Io {
        /// Where the export was going.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Encoding failed (should not happen for valid listings).
    #[error("could not encode the listing: {0}")]
    Encode(String),
    /// Writing failed; [`write_to`] names the destination.
    #[error("{0}")]
    Write(#[source] io::Error),
}

impl ExportError {
    /// A CSV writer's error: a failed write, or an encoding problem.
    pub(crate) fn from_csv(error: csv::Error) -> Self {
        match error.into_kind() {
            csv::ErrorKind::Io(error) => Self::Write(error),
            other => Self::Encode(format!("{other:?}")),
        }
    }

    /// A JSON writer's error: a failed write, or an encoding problem.
    pub(crate) fn from_json(error: serde_json::Error) -> Self {
        if error.is_io() {
            Self::Write(error.into())
        } else {
            Self::Encode(error.to_string())
        }
    }

    /// Names `path` as where a failed write was going; a full disk says so.
    fn at(self, path: &Path) -> Self {
        match self {
            Self::Write(source) | Self::Io { source, .. } => {
                let source = if source.kind() == io::ErrorKind::StorageFull {
                    io::Error::new(
                        source.kind(),
                        format!("{source}: the disk is full, and any previous file is unchanged"),
                    )
                } else {
                    source
                };
                Self::Io {
                    path: path.to_owned(),
                    source,
                }
            }
            other => other,
        }
    }
}

/// Where an export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output (`-` on the command line).
    Stdout,
    /// A file, replaced atomically.
    File(PathBuf),
}

impl Destination {
    /// `-` means stdout, anything else a file path.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            Self::Stdout
        } else {
            Self::File(PathBuf::from(arg))
        }
    }
}

/// Runs `write` against the destination. Files are written to a temporary file beside the
/// target and renamed over it only when everything succeeded, so readers never see half a file.
pub fn write_to(
    destination: &Destination,
    write: impl FnOnce(&mut dyn Write) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    match destination {
        Destination::Stdout => {
            let stdout = io::stdout();
            let to_terminal = stdout.is_terminal();
            let mut lock = io::BufWriter::new(stdout.lock());
            let stdout_path = Path::new("stdout");
            let flushed = if to_terminal {
                let mut guarded = TerminalSafe::new(&mut lock);
                write(&mut guarded).map_err(|e| e.at(stdout_path))?;
                guarded.finish()
            } else {
                write(&mut lock).map_err(|e| e.at(stdout_path))?;
                Ok(())
            };
            flushed
                .and_then(|()| lock.flush())
                .map_err(|source| ExportError::Write(source).at(stdout_path))
        }
        Destination::File(path) => match std::fs::metadata(path) {
            // A device or a pipe (`/dev/null`, `/dev/stdout`, a FIFO): written in place, never
            // replaced by a regular file.
            Ok(metadata) if !metadata.is_file() && !metadata.is_dir() => {
                write_in_place(path, write)
            }
            // Through a symlink, the file it points to is replaced, and the link kept.
            _ => write_atomically(&std::fs::canonicalize(path).unwrap_or(path.clone()), write),
        },
    }
}

/// Writes to an existing device or pipe as it is.
fn write_in_place(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let io_error = |source: io::Error| ExportError::Write(source).at(path);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_error)?;
    let mut buffered = io::BufWriter::new(file);
    write(&mut buffered).map_err(|e| e.at(path))?;
    buffered.flush().map_err(io_error)
}

/// Writes a temporary file beside `path` and renames it over `path` once complete.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let io_error = |source: io::Error| ExportError::Write(source).at(path);
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".layerslayer-")
        .suffix(".tmp")
        .tempfile_in(directory)
        .map_err(io_error)?;
    {
        let mut buffered = io::BufWriter::new(temp.as_file());
        write(&mut buffered).map_err(|e| e.at(path))?;
        buffered.flush().map_err(io_error)?;
    }
    temp.as_file().sync_all().map_err(io_error)?;
    temp.persist(path).map_err(|e| io_error(e.error))?;
    Ok(())
}
