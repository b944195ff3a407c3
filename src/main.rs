use std::process::ExitCode;

use clap::Parser as _;
use layerslayer::cli::{Cli, Command, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => layerslayer::gui::run_app(None),
        Some(Command::Gui { image }) => layerslayer::gui::run_app(image),
        Some(command) => run(command),
    }
}
