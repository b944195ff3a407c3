//! The `layerslayer` binary: the command line, and the desktop app when run without a command.

use std::process::ExitCode;

use clap::Parser as _;
use layerslayer::cli::{Cli, Command, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = if cli.verbose {
        "layerslayer=debug"
    } else {
        "warn"
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_filter))
        .init();
    match cli.command {
        None => run_app(None),
        Some(Command::Gui { image }) => run_app(image),
        Some(command) => run(command),
    }
}

/// Opens the desktop app, on `image` if given.
#[cfg(feature = "gui")]
fn run_app(image: Option<String>) -> ExitCode {
    layerslayer::gui::run_app(image)
}

/// This build has no desktop app: says so.
#[cfg(not(feature = "gui"))]
fn run_app(_image: Option<String>) -> ExitCode {
    eprintln!(
        "error: this layerslayer was built without the desktop app (cargo feature `gui`); \
         use a command such as `layerslayer peek IMAGE`, or rebuild with `--features gui`"
    );
    ExitCode::from(2)
}
