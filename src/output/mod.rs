//! Writing what was found: listings as CSV and JSON, files replaced atomically, text made
//! safe for terminals, and sizes and times for people.
//!
//! May import [`crate::model`] and [`crate::oci`] only.

mod file;
mod format;
mod listing;
mod terminal;

pub use file::{Destination, ExportError, write_to};
pub use format::{format_mtime, human_size, listed_from_note};
pub use listing::{
    CSV_COLUMNS, ExportRow, neutralize_formula, rows_of_listings, rows_of_merged, write_csv,
    write_json,
};
pub use terminal::{TerminalSafe, escape_control};

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    use crate::model::{Change, Entry, EntryKind, LayerListing, LayerStatus};
    use crate::oci::{ImageInfo, LayerInfo};

    fn entry(path: &str) -> Entry {
        Entry {
            mode: 0o755,
            uid: 1000,
            gid: 100,
            mtime: 1_700_000_000,
            link_target: Some("=HYPERLINK(\"x\")".into()),
            ..Entry::new(path, EntryKind::Symlink, 0)
        }
    }

    #[test]
    fn terminal_output_escapes_controls_and_bad_bytes_even_across_writes() {
        let mut out = Vec::new();
        let mut guard = TerminalSafe::new(&mut out);
        guard.write_all(b"ok\n\x1b]0;title\x07 caf").expect("write");
        guard.write_all(&[0xc3]).expect("half a character");
        guard
            .write_all(&[0xa9, b' ', 0xff, b'\t', 0xc2, 0x9b, b'\n'])
            .expect("write");
        guard.write_all(&[0xe2]).expect("cut");
        guard.finish().expect("finish");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "ok\n\\u001b]0;title\\u0007 café \\xff\\u0009\\u009b\n\\xe2"
        );
    }

    #[test]
    fn csv_files_keep_names_that_are_not_utf8_byte_for_byte() {
        let mut e = entry("caf\u{fffd}");
        e.raw_names = Some(Box::new(crate::model::RawNames {
            path: Some(b"caf\xe9".to_vec()),
            link_target: None,
        }));
        e.kind = EntryKind::File;
        e.link_target = None;
        let listing = LayerListing {
            layer: LayerInfo {
                index: 0,
                descriptor: crate::oci::manifest::Descriptor::default(),
                created_by: None,
            },
            entries: vec![e],
            result: crate::model::LayerResult::ended(LayerStatus::Complete {
                digest_verified: true,
            }),
        };
        let mut csv = Vec::new();
        write_csv(&rows_of_listings(std::slice::from_ref(&listing)), &mut csv).expect("csv");
        assert!(csv.windows(5).any(|w| w == b"caf\xe9,"), "{csv:?}");
        let mut json = Vec::new();
        write_json(
            &ImageInfo {
                source: String::new(),
                manifest_digest: String::new(),
                platform: None,
                available_platforms: Vec::new(),
                layers: Vec::new(),
                config: crate::oci::manifest::ImageConfig::default(),
            },
            std::slice::from_ref(&listing),
            None,
            &mut json,
        )
        .expect("json");
        let json = String::from_utf8(json).expect("json is utf-8");
        assert!(json.contains(r#""path_base64": "Y2Fm6Q==""#), "{json}");
    }

    #[test]
    fn formulas_are_neutralised_and_plain_text_is_not() {
        for bad in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralize_formula(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralize_formula("etc/passwd"), "etc/passwd");
        assert_eq!(neutralize_formula("a=b"), "a=b");
    }

    #[test]
    fn csv_has_header_and_safe_cells() {
        let e = entry("-rf");
        let rows = [ExportRow {
            layer_index: 2,
            layer_digest: "sha256:ab",
            layer_status: "complete",
            entry: &e,
            change: Change::Modified,
        }];
        let mut out = Vec::new();
        write_csv(&rows, &mut out).expect("csv");
        let text = String::from_utf8(out).expect("utf8");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(CSV_COLUMNS.join(",").as_str()));
        assert_eq!(
            lines.next(),
            Some(
                "2,sha256:ab,'-rf,symlink,0,0755,1000,100,2023-11-14T22:13:20Z,\"'=HYPERLINK(\"\"x\"\")\",complete,modified"
            )
        );
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temp_on_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old").expect("seed file");
        let failed = write_to(&Destination::File(target.clone()), |out| {
            out.write_all(b"partial")
                .map_err(|e| ExportError::Encode(e.to_string()))?;
            Err(ExportError::Encode("boom".into()))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "old");
        write_to(&Destination::File(target.clone()), |out| {
            out.write_all(b"new")
                .map_err(|e| ExportError::Encode(e.to_string()))
        })
        .expect("write");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let missing_dir = dir.path().join("nope/out.csv");
        let err = write_to(&Destination::File(missing_dir), |_| Ok(())).expect_err("no such dir");
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn pipes_and_devices_are_written_in_place_and_symlinks_kept() {
        use std::os::unix::fs::FileTypeExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let write_new = |out: &mut dyn std::io::Write| {
            out.write_all(b"new")
                .map_err(|e| ExportError::Encode(e.to_string()))
        };

        // A FIFO (as `/dev/null` or `/dev/stdout` would be a device): read, never replaced.
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).expect("read the fifo"))
        };
        write_to(&Destination::File(fifo.clone()), write_new).expect("write to the fifo");
        let kind = std::fs::symlink_metadata(&fifo).expect("fifo").file_type();
        assert!(kind.is_fifo(), "the pipe is still a pipe: {kind:?}");
        assert_eq!(reader.join().expect("reader"), b"new");

        // A symlink: the file it points to gets the new content, the link stays a link.
        let real = dir.path().join("real.csv");
        std::fs::write(&real, "old").expect("seed");
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        write_to(&Destination::File(link.clone()), write_new).expect("write through the link");
        assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
        assert_eq!(std::fs::read_to_string(&real).expect("read"), "new");
    }
}
