//! cargo-fuzz target `image_file`: the harness the stable fuzz tests use (`tests/fuzz.rs`).
#![no_main]

#[path = "../../tests/fuzz/harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::image_file(data));
