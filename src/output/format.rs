//! Numbers and times for people: sizes, modification times, and where a listing came from.

use crate::model::ListedFrom;

/// Formats seconds since the epoch as RFC 3339 UTC.
pub fn format_mtime(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || seconds.to_string(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}
/// Formats a byte count for people: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// How a layer's entries were obtained, for a status line: nothing for the blob, else e.g.
/// `from the cache (nothing downloaded)` or `from its eStargz table of contents (4.0 KiB
/// of 1.2 MiB fetched)`.
pub fn listed_from_note(
    listed_from: ListedFrom,
    bytes_fetched: u64,
    blob_size: u64,
) -> Option<String> {
    match listed_from {
        ListedFrom::Blob => None,
        ListedFrom::Cache => Some("from the cache (nothing downloaded)".into()),
        ListedFrom::Toc { format, verified } => Some(format!(
            "from its {}{} table of contents ({} of {} fetched)",
            if verified { "verified " } else { "" },
            format.name(),
            human_size(bytes_fetched),
            human_size(blob_size)
        )),
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;
    use crate::output::escape_control;

    #[test]
    fn sizes_and_escapes_read_well() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(escape_control("plain/ünï"), "plain/ünï");
        assert_eq!(
            escape_control("evil\u{1b}[31mred\nline"),
            "evil\\u{1b}[31mred\\nline"
        );
    }
}
