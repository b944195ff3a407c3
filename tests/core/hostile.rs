//! Hostile layers, listed faithfully and never corrupting the terminal or a CSV: names with
//! `..`, absolute paths, control and escape characters, invalid UTF-8, paths over 4096 bytes
//! deep, duplicate paths, hardlinks to missing targets, a million entries. Carve never writes
//! outside the chosen path.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use common::images::TestLayer;
use common::layerslayer_command;
use common::layouts::write_single_image_layout;
use serde_json::Value;

/// A tar member with a raw byte path (set through the header, or a PAX record when long).
fn append(
    builder: &mut tar::Builder<Vec<u8>>,
    path: &[u8],
    kind: tar::EntryType,
    link: Option<&[u8]>,
    data: &[u8],
) {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    header.set_size(data.len() as u64);
    let mut pax: Vec<(&str, &[u8])> = vec![("path", path)];
    if let Some(link) = link {
        pax.push(("linkpath", link));
    }
    builder.append_pax_extensions(pax).expect("pax");
    header.set_path("placeholder").expect("short path");
    header.set_cksum();
    builder.append(&header, data).expect("member");
}

const ESCAPE_NAME: &[u8] = b"etc/\x1b]0;pwned\x07\x1b[31mred";
const BAD_UTF8_NAME: &[u8] = b"srv/caf\xe9-\xff";

fn deep_path() -> Vec<u8> {
    let mut path = b"deep/".repeat(1000); // 5000 bytes, 1000 levels
    path.extend_from_slice(b"bottom.txt");
    path
}

/// One layer with every hostile name, and a second that duplicates a path.
fn hostile_layout(dir: &Path) -> String {
    let mut builder = tar::Builder::new(Vec::new());
    append(
        &mut builder,
        b"../../etc/escape",
        tar::EntryType::Regular,
        None,
        b"dotdot",
    );
    append(
        &mut builder,
        b"/abs/olute",
        tar::EntryType::Regular,
        None,
        b"absolute",
    );
    append(
        &mut builder,
        ESCAPE_NAME,
        tar::EntryType::Regular,
        None,
        b"esc",
    );
    append(
        &mut builder,
        BAD_UTF8_NAME,
        tar::EntryType::Regular,
        None,
        b"latin-1",
    );
    append(
        &mut builder,
        b"srv/link",
        tar::EntryType::Symlink,
        Some(b"caf\xe9"),
        b"",
    );
    append(
        &mut builder,
        &deep_path(),
        tar::EntryType::Regular,
        None,
        b"deep",
    );
    append(
        &mut builder,
        b"dup/file",
        tar::EntryType::Regular,
        None,
        b"first",
    );
    append(
        &mut builder,
        b"dup/file",
        tar::EntryType::Regular,
        None,
        b"second!",
    );
    append(
        &mut builder,
        b"orphan",
        tar::EntryType::Link,
        Some(b"no/such/target"),
        b"",
    );
    let layer = TestLayer::plain(builder.into_inner().expect("tar"), "hostile");
    write_single_image_layout(dir, &[layer]);
    format!("oci:{}", dir.display())
}

fn run(args: &[&str]) -> Output {
    layerslayer_command()
        .args(args)
        .output()
        .expect("run layerslayer")
}

#[test]
fn hostile_names_are_listed_faithfully_and_never_reach_the_terminal_raw() {
    let work = tempfile::tempdir().expect("tempdir");
    let image = hostile_layout(&work.path().join("layout"));

    // JSON: lossy text plus the original bytes in base64.
    let json = run(&["peek", &image, "--json", "-", "-q"]);
    assert_eq!(json.status.code(), Some(0), "{json:?}");
    let json: Value = serde_json::from_slice(&json.stdout).expect("json");
    let entries = json["layers"][0]["entries"]
        .as_array()
        .expect("entries")
        .clone();
    let paths: Vec<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    assert_eq!(
        paths.len(),
        9,
        "every member listed, duplicates too: {paths:?}"
    );
    assert_eq!(
        paths[0], "../../etc/escape",
        "listed as written, never resolved"
    );
    assert_eq!(paths[1], "abs/olute");
    assert_eq!(
        paths[2].as_bytes(),
        ESCAPE_NAME,
        "valid UTF-8 is kept as is"
    );
    assert_eq!(paths[3], "srv/caf\u{fffd}-\u{fffd}");
    let raw = entries[3]["raw_names"]["path_base64"]
        .as_str()
        .expect("raw path");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .expect("base64"),
        BAD_UTF8_NAME
    );
    let link = entries[4]["raw_names"]["link_target_base64"]
        .as_str()
        .expect("raw link");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(link)
            .expect("base64"),
        b"caf\xe9"
    );
    assert_eq!(paths[5].as_bytes(), deep_path().as_slice());
    assert_eq!((paths[6], paths[7]), ("dup/file", "dup/file"));
    assert_eq!(entries[8]["link_target"], "no/such/target");

    // A CSV file keeps the bytes themselves.
    let csv_path = work.path().join("out.csv");
    let csv = run(&[
        "peek",
        &image,
        "--csv",
        csv_path.to_str().expect("utf-8"),
        "-q",
    ]);
    assert_eq!(csv.status.code(), Some(0), "{csv:?}");
    let csv = std::fs::read(&csv_path).expect("csv");
    for name in [ESCAPE_NAME, BAD_UTF8_NAME, &deep_path()[..]] {
        assert!(
            csv.windows(name.len()).any(|w| w == name),
            "{name:?} kept byte for byte"
        );
    }

    // The human listing escapes and marks.
    let text = run(&["peek", &image, "-q"]);
    assert!(
        !text.stdout.contains(&0x1b) && !text.stdout.contains(&0x07),
        "no raw ESC or BEL"
    );
    let text = String::from_utf8(text.stdout).expect("the listing is UTF-8");
    assert!(
        text.contains("srv/caf\u{fffd}-\u{fffd}  [not UTF-8, shown lossily]"),
        "{text}"
    );

    // The merged view: the later duplicate wins.
    let merged = run(&["peek", &image, "--merged", "--json", "-", "-q"]);
    let merged: Value = serde_json::from_slice(&merged.stdout).expect("json");
    let dup = merged["merged"]
        .as_array()
        .expect("merged")
        .iter()
        .find(|m| m["entry"]["path"] == "dup/file")
        .expect("dup/file");
    assert_eq!(dup["entry"]["size"], 7);
}

#[test]
fn csv_to_a_terminal_is_escaped_and_to_a_pipe_is_not() {
    let work = tempfile::tempdir().expect("tempdir");
    let image = hostile_layout(&work.path().join("layout"));
    // `script` gives the command a real terminal (util-linux, in every Debian).
    let command = format!(
        "XDG_CACHE_HOME={} {} peek '{image}' --csv - -q",
        common::NO_CACHE_DIR,
        common::layerslayer_binary().display()
    );
    let output = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .output()
        .expect("run script");
    assert!(output.status.success(), "{output:?}");
    let shown = output.stdout;
    assert!(
        !shown.contains(&0x1b) && !shown.contains(&0x07),
        "no raw ESC or BEL on the terminal"
    );
    let shown = String::from_utf8_lossy(&shown);
    assert!(
        shown.contains(r"etc/\u001b]0;pwned\u0007\u001b[31mred"),
        "{shown}"
    );
    assert!(shown.contains(r"srv/caf\xe9-\xff"), "{shown}");

    let piped = run(&["peek", &image, "--csv", "-", "-q"]);
    assert!(
        piped
            .stdout
            .windows(ESCAPE_NAME.len())
            .any(|w| w == ESCAPE_NAME)
    );
}

#[test]
fn carve_writes_only_where_it_is_told() {
    let work = tempfile::tempdir().expect("tempdir");
    let image = hostile_layout(&work.path().join("layout"));
    let out_dir = work.path().join("out");
    std::fs::create_dir(&out_dir).expect("out dir");
    let carved = layerslayer_command()
        .current_dir(&out_dir)
        .args(["carve", &image, "../../etc/escape", "-q"])
        .output()
        .expect("carve");
    assert_eq!(carved.status.code(), Some(0), "{carved:?}");
    assert_eq!(
        std::fs::read(out_dir.join("escape")).expect("carved"),
        b"dotdot"
    );
    let written: Vec<_> = std::fs::read_dir(&out_dir).expect("list").collect();
    assert_eq!(
        written.len(),
        1,
        "only the one file, in the current directory"
    );
    assert!(!work.path().join("etc").exists());

    let orphan = run(&["carve", &image, "orphan", "-o", "-"]);
    assert_ne!(orphan.status.code(), Some(0));
    let message = String::from_utf8_lossy(&orphan.stderr);
    assert!(message.contains("no/such/target"), "{message}");
}

#[test]
fn a_million_entries_are_listed() {
    const COUNT: usize = 1_000_000;
    let work = tempfile::tempdir().expect("tempdir");
    let layer = TestLayer::header_only_zstd("million", |append| {
        for i in 0..COUNT {
            append(
                format!("m/{:03}/{i:07}", i % 1000),
                tar::EntryType::Regular,
                0o644,
            );
        }
    });
    let dir = work.path().join("layout");
    write_single_image_layout(&dir, &[layer]);
    let image = format!("oci:{}", dir.display());
    let output = run(&["peek", &image, "-q"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&format!("({COUNT} entries, complete)")),
        "{}",
        &text[text.len() - 200..]
    );
}

#[test]
fn a_path_300_000_levels_deep_is_listed_merged_and_diffed() {
    use common::deep::{deep_path, write_deep_layout};
    let work = tempfile::tempdir().expect("tempdir");
    let deep = write_deep_layout(&work.path().join("deep"), true);
    let shallow = write_deep_layout(&work.path().join("shallow"), false);
    for merged in [false, true] {
        let mut args = vec!["peek", &deep, "--json", "-", "-q"];
        if merged {
            args.push("--merged");
        }
        let output = run(&args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains(&deep_path()), "merged: {merged}");
    }
    let diff = run(&["diff", &deep, &shallow, "--csv", "-", "--no-cache", "-q"]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(
        text.contains(&format!("removed,{},file", deep_path())),
        "{}",
        &text[..text.len().min(200)]
    );
}
