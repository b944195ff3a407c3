//! The command line: `layerslayer layers IMAGE`, `peek`, `carve`, `log`, `config`,
//! `analyze`, `diff`, `index`, `search`, `gui`, and its own `completions` and `man` page.
//!
//! `args` holds what clap parses, `exit` the exit codes and the failure that ends a
//! command, `progress` the bars on stderr, and `commands/` one module per command. A thin
//! shell: it may import anything of the core, and nothing imports it but `main.rs`.

mod args;
mod commands;
mod exit;
mod progress;

use std::process::ExitCode;

use crate::output::escape_control;

pub use args::{
    AccessArgs, AnalyzeArgs, CarveArgs, Cli, Command, DiffArgs, ImageArgs, IndexArgs, LogArgs,
    LoginArgs, PeekArgs, ReadArgs, SearchArgs,
};
pub use commands::parse_layer_selection;
use exit::Failure;
pub use exit::exit_code;

/// Runs a CLI command and returns the process exit code. Errors go to stderr.
pub fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Layers { image, json } => commands::run_layers(&image, json),
        Command::Peek(args) => commands::run_peek(&args),
        Command::Carve(args) => commands::run_carve(&args),
        Command::Log(args) => commands::run_log(&args),
        Command::Config { image, json } => commands::run_config(&image, json),
        Command::Analyze(args) => commands::run_analyze(&args),
        Command::Diff(args) => commands::run_diff(&args),
        Command::Index(args) => commands::run_index(&args),
        Command::Search(args) => commands::run_search(&args),
        Command::Completions { shell } => commands::print_completions(shell),
        Command::Man => commands::print_man_page(),
        Command::Gui { .. } => Err(Failure::new(
            exit_code::USAGE,
            "the gui command is handled by main",
        )),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {}", escape_control(&failure.message));
            ExitCode::from(failure.code)
        }
    }
}
