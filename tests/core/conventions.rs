//! The CLI's conventions: a manual page that renders without warnings and documents every
//! subcommand, completion scripts that the shells accept, and plain output under `NO_COLOR`.

use std::process::Stdio;

use clap::CommandFactory as _;
use layerslayer::cli::Cli;

use crate::common::layerslayer_command;

/// What a command printed on stdout; panics when it fails.
fn stdout_of(args: &[&str]) -> String {
    let output = layerslayer_command()
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("run layerslayer");
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        output.status
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn the_man_page_renders_cleanly_and_documents_every_subcommand_and_option() {
    let page = stdout_of(&["man"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("layerslayer.1");
    std::fs::write(&file, &page).expect("write the page");
    // groff's warnings (-ww) on a full render; -z discards the output itself.
    let checked = std::process::Command::new("groff")
        .args(["-man", "-ww", "-z"])
        .arg(&file)
        .output()
        .expect("groff (Debian groff-base) runs");
    assert!(checked.status.success(), "groff failed");
    let warnings = String::from_utf8_lossy(&checked.stderr);
    assert!(warnings.trim().is_empty(), "groff warnings:\n{warnings}");
    assert!(page.contains(".TH layerslayer 1"), "no title:\n{page}");
    for sub in subcommands() {
        let heading = format!(".SH \"LAYERSLAYER {}\"", sub.to_uppercase());
        assert!(page.contains(&heading), "no section {heading}");
    }
    for option in [
        "\\-\\-layers",
        "\\-\\-csv",
        "\\-\\-merged",
        "\\-\\-password\\-stdin",
    ] {
        assert!(page.contains(option), "the page does not mention {option}");
    }
    // The page's version has no commit in it, so packaged pages do not change per commit.
    assert!(page.contains(&format!("\"layerslayer {}\"", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn completion_scripts_are_accepted_by_bash_and_offer_every_subcommand() {
    let bash = stdout_of(&["completions", "bash"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("layerslayer.bash");
    std::fs::write(&script, &bash).expect("write the script");
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        syntax.status.success(),
        "bash rejects the script: {}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // Completing `layerslayer ` in bash offers the subcommands.
    let offered = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(layerslayer ''); COMP_CWORD=1; COMP_LINE='layerslayer '; \
             COMP_POINT=${{#COMP_LINE}}; _layerslayer layerslayer '' layerslayer; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .expect("bash runs");
    let offered = String::from_utf8_lossy(&offered.stdout);
    for sub in subcommands() {
        assert!(
            offered.lines().any(|line| line == sub),
            "bash does not offer {sub}: {offered}"
        );
    }
    for (shell, marker) in [
        ("zsh", "#compdef layerslayer"),
        ("fish", "complete -c layerslayer"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        assert!(script.contains("peek"), "{shell}: no peek");
    }
}

#[test]
fn no_color_and_pipes_get_plain_output() {
    for args in [&["--help"][..], &["peek", "--help"][..]] {
        let output = layerslayer_command()
            .args(args)
            .env("NO_COLOR", "1")
            .env("CLICOLOR_FORCE", "1")
            .output()
            .expect("run layerslayer");
        assert!(output.status.success());
        assert!(
            !output.stdout.contains(&0x1b),
            "{args:?}: escape sequences under NO_COLOR"
        );
    }
    let error = layerslayer_command()
        .args(["peek", "--no-such-option"])
        .output()
        .expect("run layerslayer");
    assert!(!error.status.success());
    assert!(!error.stderr.contains(&0x1b), "escape sequences on a pipe");
}
