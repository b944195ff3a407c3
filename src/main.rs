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
        None => layerslayer::gui::run_app(None),
        Some(Command::Gui { image }) => layerslayer::gui::run_app(image),
        Some(command) => run(command),
    }
}
