//! `completions SHELL` and `man`: the shell completion scripts and the manual page, both
//! generated from the same clap definition as the parser, so they never drift from it.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::args::Cli;
use crate::cli::exit::{Failure, exit_code};

/// Prints the completion script for `shell` on stdout.
pub(crate) fn print_completions(shell: clap_complete::Shell) -> Result<u8, Failure> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "layerslayer", &mut script);
    write_stdout(&script)
}

/// Prints the manual page, with a section for each subcommand, on stdout.
pub(crate) fn print_man_page() -> Result<u8, Failure> {
    // The plain version: a packaged page does not change with each commit.
    let command = Cli::command().version(env!("CARGO_PKG_VERSION"));
    let mut page = Vec::new();
    render(&command, &mut page)
        .map_err(|error| Failure::new(exit_code::FAILURE, format!("man page: {error}")))?;
    write_stdout(roff_ascii(&String::from_utf8_lossy(&page)).as_bytes())
}

/// The page in ASCII: other characters (…, —, ×) as roff's `\[uXXXX]` escapes, which every
/// troff renders, with or without a UTF-8 preprocessor.
fn roff_ascii(page: &str) -> String {
    let mut ascii = String::with_capacity(page.len());
    for character in page.chars() {
        if character.is_ascii() {
            ascii.push(character);
        } else {
            ascii.push_str(&format!("\\[u{:04X}]", u32::from(character)));
        }
    }
    ascii
}

/// One page for the whole tool, as `man layerslayer` expects: the top command's sections,
/// then a section per subcommand holding that subcommand's own (as subsections).
fn render(command: &clap::Command, out: &mut Vec<u8>) -> io::Result<()> {
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    for sub in command.get_subcommands() {
        let name = format!("layerslayer {}", sub.get_name());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().bin_name(name.clone())).render(&mut page)?;
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        out.extend_from_slice(as_subsections(&String::from_utf8_lossy(&page)).as_bytes());
    }
    man.render_version_section(out)?;
    Ok(())
}

/// A subcommand's page as subsections of the tool's page: without its title, its quoting
/// preamble (already set once) and its NAME section; its sections become subsections.
fn as_subsections(page: &str) -> String {
    let mut kept = String::new();
    let mut in_name = false;
    for line in page.lines() {
        if line.starts_with(".ie ") || line.starts_with(".el ") || line.starts_with(".TH ") {
            continue;
        }
        if let Some(heading) = line.strip_prefix(".SH ") {
            in_name = heading == "NAME";
            if !in_name {
                kept.push_str(".SS ");
                kept.push_str(heading);
                kept.push('\n');
            }
            continue;
        }
        if !in_name {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

fn write_stdout(bytes: &[u8]) -> Result<u8, Failure> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(exit_code::OK),
        // A closed pipe (`… | head`) is not a failure of ours.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(exit_code::OK),
        Err(error) => Err(Failure::new(exit_code::FAILURE, format!("stdout: {error}"))),
    }
}
