//! A multi-GiB layer, generated on the fly by the fault server, is listed in constant memory.
//! (Alone in its own test binary so the process's peak RSS belongs to this test.)

mod common;

use std::sync::Arc;

use common::FakeRegistry;
use common::fault::{FakeBlob, synthetic_big_layer};
use layerslayer::cancel::CancelToken;
use layerslayer::layer::stream::{PeekProgress, peek_layer};
use layerslayer::model::LayerStatus;
use layerslayer::source::registry::ClientOptions;

#[test]
fn a_two_gib_layer_streams_in_constant_memory() {
    const FILES: usize = 8;
    const FILE_SIZE: u64 = 256 * 1024 * 1024;
    let blob = synthetic_big_layer(FILES, FILE_SIZE);
    let FakeBlob::Generated(length, _, _) = &blob else {
        unreachable!("generated blob")
    };
    let length = *length;
    assert!(length > 2 * 1024 * 1024 * 1024);
    let server =
        FakeRegistry::new(vec![("application/vnd.oci.image.layer.v1.tar", blob)]).serve_plain();

    let cancel = CancelToken::new();
    let (client, image) = common::open_with(
        &FakeRegistry::reference(&server),
        ClientOptions::default(),
        None,
    )
    .expect("open");
    let before = common::peak_rss_kib();
    let progress = Arc::new(PeekProgress::default());
    let listing = peek_layer(
        client.as_ref(),
        &image.layers[0],
        &cancel,
        &progress,
        &mut |_| {},
    );
    let growth_mib = (common::peak_rss_kib() - before) / 1024;
    eprintln!(
        "peak RSS before {} MiB, growth while streaming {length} bytes: {growth_mib} MiB",
        before / 1024
    );

    assert_eq!(
        listing.result.status,
        LayerStatus::Complete {
            digest_verified: true
        }
    );
    assert_eq!(listing.entries.len(), FILES);
    assert!(listing.entries.iter().all(|e| e.size == FILE_SIZE));
    assert_eq!(listing.result.bytes_read, length);
    assert!(
        growth_mib < 16,
        "memory grew by {growth_mib} MiB while streaming a {} MiB layer",
        length >> 20
    );
}
