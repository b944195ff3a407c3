//! `analyze`, its CI gate, `config`, `diff` and the per-layer `change` column, on images the
//! test builds with known waste, duplicates and risky files and pushes to a real registry.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

use common::images::noise;
use common::{Compression, ImageFormat, TarItem, TestLayer, TestRegistry, layerslayer_command};
use serde_json::Value;

fn file(path: &str, data: Vec<u8>, mode: u32) -> TarItem {
    TarItem::File(path.into(), data, mode)
}

/// The same 700 bytes, three times over the image.
fn shared_text() -> Vec<u8> {
    noise(7, 700)
}

const PRIVATE_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n";

fn pem(size: usize) -> Vec<u8> {
    let mut data = PRIVATE_KEY.as_bytes().to_vec();
    data.resize(size, b'A');
    data
}

/// Base: waste to come (bin/tool, etc/config, opt/app/*), two duplicates, setuid and a
/// world-writable file.
fn base_layer() -> TestLayer {
    TestLayer::new(
        &[
            TarItem::Dir("bin"),
            file("bin/tool", noise(1, 3000), 0o755),
            file("bin/su", noise(2, 500), 0o4755),
            TarItem::Dir("etc"),
            file("etc/config", noise(3, 100), 0o644),
            file("etc/tmpfile", noise(4, 10), 0o666),
            TarItem::Dir("opt/app"),
            file("opt/app/a.so", noise(5, 2000), 0o644),
            file("opt/app/b.so", noise(6, 1000), 0o644),
            file("usr/share/one.txt", shared_text(), 0o644),
            file("usr/share/two.txt", shared_text(), 0o644),
            file("usr/share/empty1", Vec::new(), 0o644),
            file("usr/share/empty2", Vec::new(), 0o644),
        ],
        Compression::Gzip,
        "ADD rootfs.tar /",
    )
}

/// Overwrites bin/tool, adds secrets (by name and by content) and a third duplicate.
fn middle_layer() -> TestLayer {
    TestLayer::new(
        &[
            file("bin/tool", noise(8, 3500), 0o755),
            file("root/.ssh/id_rsa", noise(9, 50), 0o600),
            file("root/.ssh/id_rsa.pub", noise(10, 40), 0o644),
            file("srv/key.pem", pem(200), 0o600),
            file("usr/share/three.txt", shared_text(), 0o644),
        ],
        Compression::Zstd,
        "RUN build",
    )
}

/// A whiteout, an opaque directory, setgid, and bin/tool re-added unchanged.
fn top_layer() -> TestLayer {
    TestLayer::new(
        &[
            file("etc/.wh.config", Vec::new(), 0o644),
            file("opt/app/.wh..wh..opq", Vec::new(), 0o644),
            file("opt/app/c.so", noise(11, 400), 0o644),
            file("usr/bin/wall", noise(12, 300), 0o2755),
            file("bin/tool", noise(8, 3500), 0o755),
        ],
        Compression::None,
        "RUN cleanup",
    )
}

fn run(args: &[&str]) -> Output {
    layerslayer_command()
        .args(args)
        .output()
        .expect("run layerslayer")
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn analyze_reports_exact_waste_duplicates_and_flags_and_gates_ci() {
    let registry = TestRegistry::start();
    let layers = [base_layer(), middle_layer(), top_layer()];
    let image = common::push_image(&registry, "explain/app", "v1", ImageFormat::Oci, &layers);
    let output = run(&["analyze", &image.reference, "--json", "-", "-q"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report = json_of(&output);

    let total = (3000 + 500 + 100 + 10 + 2000 + 1000 + 700 + 700)
        + (3500 + 50 + 40 + 200 + 700)
        + (400 + 300 + 3500);
    let final_bytes = 3500 + 500 + 10 + 700 + 700 + 50 + 40 + 200 + 700 + 400 + 300;
    assert_eq!(report["total_bytes"], total);
    assert_eq!(report["final_bytes"], final_bytes);
    assert_eq!(report["wasted_bytes"], total - final_bytes);
    let efficiency = report["efficiency"].as_f64().expect("efficiency");
    assert!((efficiency - f64::from(final_bytes) / f64::from(total)).abs() < 1e-12);
    assert_eq!(
        report["wasted"],
        serde_json::json!([
            {"path": "bin/tool", "bytes": 6500, "layers": [0, 1]},
            {"path": "opt/app/a.so", "bytes": 2000, "layers": [0]},
            {"path": "opt/app/b.so", "bytes": 1000, "layers": [0]},
            {"path": "etc/config", "bytes": 100, "layers": [0]},
        ])
    );
    let duplicates = report["duplicates"].as_array().expect("duplicates");
    assert_eq!(duplicates.len(), 1, "{duplicates:?}");
    assert_eq!(duplicates[0]["size"], 700);
    assert_eq!(
        duplicates[0]["paths"],
        serde_json::json!([
            "usr/share/one.txt",
            "usr/share/three.txt",
            "usr/share/two.txt"
        ])
    );
    assert!(
        duplicates[0]["digest"]
            .as_str()
            .expect("digest")
            .starts_with("xxh3:")
    );
    let flags: BTreeSet<(String, u64, String)> = report["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path").to_owned(),
                f["layer"].as_u64().expect("layer"),
                f["kind"].as_str().expect("kind").to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, u64, String)> = [
        ("bin/su", 0, "setuid"),
        ("etc/tmpfile", 0, "world_writable"),
        ("root/.ssh/id_rsa", 1, "secret"),
        ("srv/key.pem", 1, "secret"),
        ("usr/bin/wall", 2, "setgid"),
    ]
    .into_iter()
    .map(|(p, l, k)| (p.to_owned(), l, k.to_owned()))
    .collect();
    assert_eq!(flags, expected);

    // The human report says the same.
    let output = run(&["analyze", &image.reference, "-q"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("efficiency 42.51%"), "{text}");
    assert!(text.contains("secret         [1] srv/key.pem  (private key in its content)"));

    // The CI gate: rules that hold pass, each broken rule exits 8 and says why.
    let holding = [
        "analyze",
        &image.reference,
        "-q",
        "--min-efficiency",
        "0.4",
        "--max-wasted",
        "9.6KB",
    ];
    let denied = run(&[&holding[..], &["--deny", "world-writable"]].concat());
    assert_eq!(denied.status.code(), Some(8), "world-writable is denied");
    let passing = run(&holding);
    assert_eq!(passing.status.code(), Some(0), "{passing:?}");
    for (rule, expect_code, message) in [
        (&["--min-efficiency", "0.4"][..], 0, ""),
        (&["--max-wasted", "9600"], 0, ""),
        (
            &["--max-wasted", "9599"],
            8,
            "9600 bytes are wasted, more than the maximum 9599",
        ),
        (
            &["--min-efficiency", "0.5"],
            8,
            "efficiency 0.4251 is below the minimum 0.5",
        ),
        (
            &["--deny", "setuid,setgid"],
            8,
            "1 setuid flag (denied), first: bin/su in layer 0",
        ),
        (
            &["--deny", "secret"],
            8,
            "2 secret flags (denied), first: root/.ssh/id_rsa",
        ),
    ] {
        let mut args = vec!["analyze", image.reference.as_str(), "-q"];
        args.extend_from_slice(rule);
        let output = run(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(expect_code),
            "{rule:?}: {stderr}"
        );
        assert!(stderr.contains(message), "{rule:?}: {stderr}");
    }
    let bad = run(&["analyze", &image.reference, "--deny", "nonsense"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// An independent model of what each entry does: the set of paths after each layer.
fn model_changes(layers: &[TestLayer]) -> Vec<Vec<(String, &'static str)>> {
    let mut present: BTreeSet<String> = BTreeSet::new();
    let mut result = Vec::new();
    for layer in layers {
        let mut changes = Vec::new();
        let below = present.clone();
        for entry in &layer.expected {
            let change = match entry.kind {
                "whiteout" | "opaque-marker" => "removed",
                _ if below.contains(&entry.path) => "modified",
                _ => "added",
            };
            changes.push((entry.path.clone(), change));
        }
        for entry in &layer.expected {
            let (dir, name) = entry.path.rsplit_once('/').unwrap_or(("", &entry.path));
            let under = |dir: &str| {
                let prefix = format!("{dir}/");
                move |p: &String| !p.starts_with(&prefix)
            };
            if entry.kind == "opaque-marker" {
                present.retain(under(dir));
            } else if let Some(target) = name.strip_prefix(".wh.") {
                let target = if dir.is_empty() {
                    target.to_owned()
                } else {
                    format!("{dir}/{target}")
                };
                present.remove(&target);
                present.retain(under(&target));
            }
        }
        for entry in &layer.expected {
            if !matches!(entry.kind, "whiteout" | "opaque-marker") {
                present.insert(entry.path.clone());
            }
        }
        result.push(changes);
    }
    result
}

#[test]
fn every_entry_change_matches_an_independent_model() {
    let registry = TestRegistry::start();
    let layers = [base_layer(), middle_layer(), top_layer()];
    let image = common::push_image(
        &registry,
        "explain/changes",
        "v1",
        ImageFormat::Docker,
        &layers,
    );
    let output = run(&[
        "peek",
        &image.reference,
        "--layers",
        "all",
        "--json",
        "-",
        "-q",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let json = json_of(&output);
    let listed: Vec<Vec<(String, String)>> = json["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| {
            layer["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .map(|e| {
                    (
                        e["path"].as_str().expect("path").to_owned(),
                        e["change"].as_str().expect("change").to_owned(),
                    )
                })
                .collect()
        })
        .collect();
    let model: Vec<Vec<(String, String)>> = model_changes(&layers)
        .into_iter()
        .map(|layer| layer.into_iter().map(|(p, c)| (p, c.to_owned())).collect())
        .collect();
    assert_eq!(listed, model);
    assert!(
        listed[2].contains(&("bin/tool".to_owned(), "modified".to_owned())),
        "a re-added identical file is modified"
    );
}

#[test]
fn config_shows_how_the_image_runs_and_its_build_steps() {
    let registry = TestRegistry::start();
    let layers = [base_layer()];
    let image = common::push_image(&registry, "explain/config", "v1", ImageFormat::Oci, &layers);
    let output = run(&["config", &image.reference]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    for line in [
        "platform    linux/amd64",
        "env:\n  PATH=/usr/bin",
        "build steps:\n       LABEL purpose=test\n  [ 0] ADD rootfs.tar /\n       CMD [\"sh\"]",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    let json = json_of(&run(&["config", &image.reference, "--json"]));
    assert_eq!(
        json["config"]["config"]["Env"],
        serde_json::json!(["PATH=/usr/bin"])
    );
    assert_eq!(json["build_steps"][1]["layer"], 0);
    assert_eq!(json["build_steps"][0]["layer"], Value::Null);
}

#[test]
fn diff_lists_each_differing_path_and_reads_shared_layers_once() {
    let registry = TestRegistry::start();
    let base = base_layer();
    let a = common::push_image(
        &registry,
        "explain/diff",
        "a",
        ImageFormat::Oci,
        &[base.clone(), middle_layer()],
    );
    let change = TestLayer::new(
        &[
            file("bin/tool", noise(99, 3000), 0o755), // same size, other content
            file("etc/.wh.config", Vec::new(), 0o644),
            file("new/file", noise(13, 5), 0o644),
            file("usr/share/one.txt", shared_text(), 0o644), // identical: not listed
            file("usr/share/two.txt", shared_text(), 0o600), // mode only
        ],
        Compression::Gzip,
        "RUN change",
    );
    let b = common::push_image(
        &registry,
        "explain/diff",
        "b",
        ImageFormat::Oci,
        &[base, change],
    );
    let output = run(&["diff", &a.reference, &b.reference, "--csv", "-", "-q"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let csv = String::from_utf8_lossy(&output.stdout);
    let expected = "\
change,path,kind_a,kind_b,size_a,size_b,mode_a,mode_b
modified,bin/tool,file,file,3500,3000,0755,0755
removed,etc/config,file,,100,,0644,
added,new/file,,file,,5,,0644
removed,root/.ssh/id_rsa,file,,50,,0600,
removed,root/.ssh/id_rsa.pub,file,,40,,0644,
removed,srv/key.pem,file,,200,,0600,
removed,usr/share/three.txt,file,,700,,0644,
modified,usr/share/two.txt,file,file,700,700,0644,0600
";
    assert_eq!(csv, expected);

    let json = json_of(&run(&[
        "diff",
        &a.reference,
        &b.reference,
        "--json",
        "-",
        "-q",
    ]));
    assert_eq!(json["shared_layers"], 1);
    assert_eq!(
        json["summary"],
        serde_json::json!({"added": 1, "removed": 5, "modified": 2})
    );
    let by_path: BTreeMap<&str, &Value> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| (c["path"].as_str().expect("path"), c))
        .collect();
    assert_eq!(by_path["bin/tool"]["a"]["layer"], 1);
    assert_eq!(by_path["bin/tool"]["b"]["layer"], 1);
    assert_ne!(
        by_path["bin/tool"]["a"]["content"], by_path["bin/tool"]["b"]["content"],
        "same size, different content"
    );

    let text = run(&["diff", &a.reference, &b.reference, "-q"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("~ bin/tool\n- etc/config\n+ new/file\n"),
        "{text}"
    );
    assert!(text.ends_with("1 added, 5 removed, 2 modified\n"), "{text}");

    // The same image on both sides differs nowhere.
    let same = run(&["diff", &a.reference, &a.reference, "--csv", "-", "-q"]);
    assert_eq!(
        String::from_utf8_lossy(&same.stdout),
        "change,path,kind_a,kind_b,size_a,size_b,mode_a,mode_b\n"
    );
}

#[test]
fn diff_compares_two_platforms_of_one_tag() {
    let registry = TestRegistry::start();
    let base = base_layer();
    let arm_only = TestLayer::new(
        &[file("lib/ld-linux-aarch64.so.1", noise(7, 64), 0o755)],
        Compression::Gzip,
        "RUN arm",
    );
    let index = common::images::push_platforms(
        &registry,
        "explain/platforms",
        "v1",
        &[
            (std::slice::from_ref(&base), "linux", "amd64", None),
            (&[base.clone(), arm_only], "linux", "arm64", None),
        ],
    );
    let image = index.reference.as_str();
    let json = json_of(&run(&[
        "diff",
        image,
        image,
        "--platform",
        "linux/amd64",
        "--platform-b",
        "linux/arm64",
        "--json",
        "-",
        "-q",
    ]));
    assert_eq!(json["platform_a"], "linux/amd64");
    assert_eq!(json["platform_b"], "linux/arm64");
    assert_eq!(json["shared_layers"], 1, "the base layer is read once");
    let paths: Vec<&str> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["path"].as_str().expect("path"))
        .collect();
    assert_eq!(paths, ["lib/ld-linux-aarch64.so.1"]);
    assert_eq!(json["changes"][0]["change"], "added");

    // Without --platform-b both sides are the same platform: no difference.
    let same = json_of(&run(&[
        "diff",
        image,
        image,
        "--platform",
        "linux/arm64",
        "--json",
        "-",
        "-q",
    ]));
    assert_eq!(same["changes"], serde_json::json!([]));
    let bad = run(&["diff", image, image, "--platform-b", "arm64"]);
    assert_eq!(bad.status.code(), Some(3), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--platform-b"));
}
