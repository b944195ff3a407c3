//! Embeds the git commit (shown in the About box and `--version`, the latter with the isal
//! feature when built with it) and converts the app icon from `assets/icon.png` into raw RGBA
//! for eframe, so the binary needs no image decoder.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=assets/icon.png");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");

    let commit = Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=LAYERSLAYER_GIT_COMMIT={commit}");
    // What `--version` says after the commit: the build's optional decoders.
    let build = if env::var_os("CARGO_FEATURE_ISAL").is_some() {
        format!("{commit}, isal")
    } else {
        commit
    };
    println!("cargo:rustc-env=LAYERSLAYER_BUILD={build}");

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let icon = image::open("assets/icon.png")
        .expect("assets/icon.png must be a readable PNG")
        .into_rgba8();
    let (width, height) = icon.dimensions();
    fs::write(out_dir.join("icon.rgba"), icon.as_raw()).expect("write icon.rgba");
    fs::write(
        out_dir.join("icon.rs"),
        format!("/// Icon width in pixels.\npub const ICON_WIDTH: u32 = {width};\n/// Icon height in pixels.\npub const ICON_HEIGHT: u32 = {height};\n"),
    )
    .expect("write icon.rs");
}
