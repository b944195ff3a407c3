//! A hostile layer holding one path hundreds of thousands of directories deep (a PAX path of
//! hundreds of KB), as an OCI image layout.

use std::path::Path;

use super::images::{Compression, TestLayer};
use super::layouts::write_single_image_layout;

/// How deep the hostile path goes.
pub const DEEP_LEVELS: usize = 300_000;

/// The deep path: `DEEP_LEVELS` directories `d`, then the file `bottom.txt` (600 KB).
pub fn deep_path() -> String {
    let mut path = "d/".repeat(DEEP_LEVELS);
    path.push_str("bottom.txt");
    path
}

/// Writes an image of one layer to `dir` (an OCI layout): a file `top.txt`, and with `deep`
/// the file at [`deep_path`] too; returns the `oci:` reference.
pub fn write_deep_layout(dir: &Path, deep: bool) -> String {
    let mut builder = tar::Builder::new(Vec::new());
    let mut members = vec![("top.txt".to_owned(), b"top".as_slice())];
    if deep {
        members.push((deep_path(), b"deep".as_slice()));
    }
    for (path, data) in members {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_size(data.len() as u64);
        builder
            .append_pax_extensions([("path", path.as_bytes())])
            .expect("pax path");
        header.set_path("placeholder").expect("short path");
        header.set_cksum();
        builder.append(&header, data).expect("member");
    }
    let layer = TestLayer::plain(builder.into_inner().expect("tar"), "deep");
    write_single_image_layout(dir, &[layer]);
    format!("oci:{}", dir.display())
}
