//! `layerslayer log IMAGE PATH`: every layer that touches a path, oldest first, with its build
//! step and content hash, and the text changes between versions on `--patch`.

use crate::common;

use serde_json::{Value, json};

use common::layouts::write_single_image_layout;
use common::{Compression, TarItem, TestLayer};

/// Runs `layerslayer log ARGS`; returns exit code, stdout and stderr.
fn log(args: &[&str]) -> (i32, String, String) {
    common::run_for_text(common::layerslayer_command().arg("log").args(args))
}

fn xxh3(data: &[u8]) -> String {
    format!("xxh3:{:032x}", xxhash_rust::xxh3::xxh3_128(data))
}

/// Changed in layers 0, 1 and 3 (the last a binary version), untouched by 2, removed by the
/// opaque directory of layer 4.
fn layers() -> (Vec<TestLayer>, [Vec<u8>; 3]) {
    let versions = [
        b"a=1\nb=2\n".to_vec(),
        b"a=1\nb=3\n".to_vec(),
        vec![0, 1, 2, 3],
    ];
    let file = |data: &Vec<u8>, mode| TarItem::File("etc/app.conf".into(), data.clone(), mode);
    let layers = vec![
        TestLayer::new(
            &[TarItem::Dir("etc"), file(&versions[0], 0o644)],
            Compression::Gzip,
            "ADD app.conf /etc/",
        ),
        TestLayer::new(
            &[
                // Repeated: the last entry is the layer's version.
                file(&b"a=1\nb=0\n".to_vec(), 0o644),
                file(&versions[1], 0o600),
            ],
            Compression::Zstd,
            "/bin/sh -c sed -i s/b=2/b=3/ /etc/app.conf",
        ),
        TestLayer::new(
            &[TarItem::File("etc/other".into(), b"x".to_vec(), 0o644)],
            Compression::Gzip,
            "RUN touch /etc/other",
        ),
        TestLayer::new(
            &[file(&versions[2], 0o755)],
            Compression::None,
            "COPY app.bin /etc/app.conf",
        ),
        TestLayer::new(
            &[TarItem::File("etc/.wh..wh..opq".into(), Vec::new(), 0o644)],
            Compression::Gzip,
            "RUN rm -rf /etc/*",
        ),
    ];
    (layers, versions)
}

#[test]
fn log_lists_every_layer_that_touches_a_path_with_hashes_and_patches() {
    let work = tempfile::tempdir().expect("tempdir");
    let (layers, versions) = layers();
    let layout = work.path().join("layout");
    write_single_image_layout(&layout, &layers);
    let image = format!("oci:{}", layout.display());

    let (code, stdout, stderr) = log(&[&image, "/etc/app.conf", "--json", "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Value = serde_json::from_str(&stdout).expect("json");
    let row = |layer: usize, change: &str, kind: Value, size: u64, mode: Value, content: Value| {
        json!({
            "layer": layer,
            "digest": layers[layer].digest,
            "created_by": layers[layer].created_by,
            "change": change,
            "kind": kind,
            "size": size,
            "mode": mode,
            "link_target": null,
            "content": content,
            "removed_by": null,
        })
    };
    let mut removed = row(4, "removed", json!(null), 0, json!(null), json!(null));
    removed["removed_by"] = json!("etc/.wh..wh..opq");
    let expected = json!([
        row(
            0,
            "added",
            json!("file"),
            8,
            json!("0644"),
            json!(xxh3(&versions[0]))
        ),
        row(
            1,
            "modified",
            json!("file"),
            8,
            json!("0600"),
            json!(xxh3(&versions[1]))
        ),
        row(
            3,
            "modified",
            json!("file"),
            4,
            json!("0755"),
            json!(xxh3(&versions[2]))
        ),
        removed,
    ]);
    assert_eq!(rows, expected);

    let (code, stdout, stderr) = log(&[&image, "etc/app.conf", "--patch", "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let short = |layer: usize| layers[layer].digest["sha256:".len()..][..12].to_owned();
    let hash = |version: usize| xxh3(&versions[version])[..21].to_owned();
    let expected = [
        "LAYER  DIGEST        CHANGE    KIND      SIZE        MODE  CONTENT                 STEP"
            .to_owned(),
        format!(
            "    0  {}  added     file             8 B  0644  {}   ADD app.conf /etc/",
            short(0),
            hash(0)
        ),
        "       --- /dev/null".to_owned(),
        "       +++ layer 0/etc/app.conf".to_owned(),
        "       @@ -0,0 +1,2 @@".to_owned(),
        "       +a=1".to_owned(),
        "       +b=2".to_owned(),
        format!(
            "    1  {}  modified  file             8 B  0600  {}   RUN sed -i s/b=2/b=3/ /etc/app.conf",
            short(1),
            hash(1)
        ),
        "       --- layer 0/etc/app.conf".to_owned(),
        "       +++ layer 1/etc/app.conf".to_owned(),
        "       @@ -1,2 +1,2 @@".to_owned(),
        "        a=1".to_owned(),
        "       -b=2".to_owned(),
        "       +b=3".to_owned(),
        format!(
            "    3  {}  modified  file             4 B  0755  {}   COPY app.bin /etc/app.conf",
            short(3),
            hash(2)
        ),
        "       binary versions differ (8 B → 4 B)".to_owned(),
        format!(
            "    4  {}  removed   -                  -  -     -                       RUN rm -rf /etc/*",
            short(4)
        ),
        "       removed by etc/.wh..wh..opq".to_owned(),
    ];
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, expected, "{stdout}");
}

#[test]
fn a_path_no_layer_touches_exits_4() {
    let work = tempfile::tempdir().expect("tempdir");
    let (layers, _) = layers();
    let layout = work.path().join("layout");
    write_single_image_layout(&layout, &layers);
    let image = format!("oci:{}", layout.display());
    let (code, stdout, stderr) = log(&[&image, "etc/nothing", "-q"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("no layer of the 5 read adds, modifies or removes etc/nothing"),
        "{stderr}"
    );
}
