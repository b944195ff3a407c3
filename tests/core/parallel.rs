//! Parallel layers through the CLI: several layers are downloaded at once, and the output is
//! still in layer order, identical to reading them one after another.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::fault::{FakeBlob, FakeRegistry};
use common::images::{build_tar, compress};
use common::{Compression, TarItem};

fn layers() -> Vec<(&'static str, FakeBlob)> {
    ["base", "app", "config"]
        .iter()
        .zip([3000, 20, 700])
        .map(|(name, count)| {
            let items: Vec<TarItem> = (0..count)
                .map(|i| TarItem::File(format!("{name}/f{i}"), vec![b'y'; i % 30], 0o644))
                .collect();
            (
                "application/vnd.oci.image.layer.v1.tar+gzip",
                FakeBlob::Bytes(compress(&build_tar(&items).0, Compression::Gzip)),
            )
        })
        .collect()
}

fn peek(reference: &str, jobs: &str) -> std::process::Output {
    common::layerslayer_command()
        .args(["peek", reference, "--jobs", jobs])
        .output()
        .expect("run layerslayer")
}

#[test]
fn layers_download_at_once_and_print_in_layer_order() {
    // One after another: the reference output.
    let plain = FakeRegistry::new(layers()).serve_plain();
    let sequential = peek(&FakeRegistry::reference(&plain), "1");
    assert!(sequential.status.success(), "{sequential:?}");
    let text = String::from_utf8_lossy(&sequential.stdout).into_owned();
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("layer ")).collect();
    assert_eq!(headers.len(), 3, "{text}");
    for (index, header) in headers.iter().enumerate() {
        assert!(header.starts_with(&format!("layer {index} ")), "{header}");
    }

    // In parallel: the first layer's reply is held back until the second layer is asked for,
    // which only happens when two layers are read at once.
    let registry = FakeRegistry::new(layers());
    let (first, second) = (
        registry.layer_digests[0].clone(),
        registry.layer_digests[1].clone(),
    );
    let second_asked = Arc::new((Mutex::new(false), Condvar::new()));
    let overlapped = Arc::new(AtomicBool::new(false));
    let (gate, seen) = (Arc::clone(&second_asked), Arc::clone(&overlapped));
    let server = registry.serve(move |request, _| {
        let (asked, signal) = &*gate;
        if request.path.ends_with(&second) {
            *asked.lock().expect("gate") = true;
            signal.notify_all();
        } else if request.path.ends_with(&first) {
            let guard = asked.lock().expect("gate");
            let (guard, _) = signal
                .wait_timeout_while(guard, Duration::from_secs(20), |asked| !*asked)
                .expect("gate");
            seen.store(*guard, Ordering::Relaxed);
        }
        None
    });
    let parallel = peek(&FakeRegistry::reference(&server), "3");
    assert!(parallel.status.success(), "{parallel:?}");
    assert!(
        overlapped.load(Ordering::Relaxed),
        "layer 1 was requested while layer 0 was still being served"
    );
    assert_eq!(
        String::from_utf8_lossy(&parallel.stdout),
        text,
        "the same output, in layer order"
    );
}

#[test]
fn entries_reach_a_pipe_while_the_layer_still_downloads() {
    let slow = common::SlowBlobServer::start();
    let mut child = common::layerslayer_command()
        .args(["peek", &slow.reference(), "--layers", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run layerslayer");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let first_entry = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.starts_with("  file"))
        .expect("an entry line");
    assert!(first_entry.contains("slow/file-00000"), "{first_entry}");
    assert!(
        child.try_wait().expect("child state").is_none(),
        "the first entry arrived while the layer was still streaming"
    );
    child.kill().ok();
    child.wait().ok();
}
