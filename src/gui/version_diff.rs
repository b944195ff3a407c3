//! The differences between two versions of a file, prepared off the UI thread for the History
//! pane: unified lines (hunk headers, context, removed, added) and the same hunks side by
//! side, computed with `similar` as `log --patch` does; binary or over-long versions are
//! told apart instead of diffed.

use similar::{ChangeTag, TextDiff};

use crate::inspect::carve::FileVersion;

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// What a line of the unified diff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `@@ -a,b +c,d @@`: where a hunk starts.
    Hunk,
    /// In both versions.
    Context,
    /// Only in the older version.
    Removed,
    /// Only in the newer version.
    Added,
}

/// One line of the unified diff, its text without the line break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    /// What the line is.
    pub kind: LineKind,
    /// The text, prefixed as in a patch (`-`, `+`, a space) or the hunk header.
    pub text: String,
}

/// One line of a version in the side-by-side view: its number (from 1) and text.
pub type NumberedLine = (usize, String);

/// One row of the side-by-side view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideRow {
    /// A hunk starts (its header).
    Hunk(String),
    /// The older version's line (removed or unchanged) beside the newer's (added or
    /// unchanged); either side empty when the other has more lines there.
    Lines {
        /// The older version's line.
        old: Option<NumberedLine>,
        /// The newer version's line.
        new: Option<NumberedLine>,
        /// Both sides hold the same line.
        same: bool,
    },
}

/// How two versions differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionDiff {
    /// Text: the unified lines and the same hunks side by side.
    Text {
        /// The unified diff.
        unified: Vec<DiffLine>,
        /// The side-by-side rows.
        side: Vec<SideRow>,
    },
    /// The same bytes.
    Same,
    /// Either version is not text (NUL bytes, not UTF-8): only the sizes are told.
    Binary {
        /// The older version's size.
        before: u64,
        /// The newer version's size.
        after: u64,
    },
    /// Either version is longer than what was read: not diffed.
    TooLong {
        /// The older version's size.
        before: u64,
        /// The newer version's size.
        after: u64,
    },
}

impl VersionDiff {
    /// One line saying how the versions differ when no lines are shown.
    pub fn summary(&self) -> Option<String> {
        match self {
            Self::Text { .. } => None,
            Self::Same => Some("the two versions hold the same bytes".to_owned()),
            Self::Binary { before, after } => {
                Some(format!("binary versions differ ({before} B → {after} B)"))
            }
            Self::TooLong { before, after } => Some(format!(
                "versions too long to compare ({before} B → {after} B)"
            )),
        }
    }
}

/// The differences from `before` to `after`.
pub fn diff_versions(before: &FileVersion, after: &FileVersion) -> VersionDiff {
    if before.truncated || after.truncated {
        return VersionDiff::TooLong {
            before: before.size,
            after: after.size,
        };
    }
    if before.bytes == after.bytes {
        return VersionDiff::Same;
    }
    let (Some(old), Some(new)) = (text(before), text(after)) else {
        return VersionDiff::Binary {
            before: before.size,
            after: after.size,
        };
    };
    diff_texts(old, new)
}

/// The version as text: UTF-8 without NUL bytes.
fn text(version: &FileVersion) -> Option<&str> {
    if version.bytes.contains(&0) {
        return None;
    }
    std::str::from_utf8(&version.bytes).ok()
}

/// A line without its line break.
fn bare(line: &str) -> String {
    line.trim_end_matches(['\n', '\r']).to_owned()
}

/// The unified and side-by-side diffs of two texts.
pub fn diff_texts(old: &str, new: &str) -> VersionDiff {
    let diff = TextDiff::from_lines(old, new);
    let mut unified = Vec::new();
    let mut side = Vec::new();
    let mut udiff = diff.unified_diff();
    udiff.context_radius(CONTEXT);
    for hunk in udiff.iter_hunks() {
        let header = hunk.header().to_string();
        unified.push(DiffLine {
            kind: LineKind::Hunk,
            text: header.clone(),
        });
        side.push(SideRow::Hunk(header));
        // Removed lines wait for the added ones that follow, to stand beside them.
        let mut removed: Vec<NumberedLine> = Vec::new();
        let mut added: Vec<NumberedLine> = Vec::new();
        for change in hunk.iter_changes() {
            let line = bare(change.value());
            let (kind, prefix) = match change.tag() {
                ChangeTag::Equal => (LineKind::Context, ' '),
                ChangeTag::Delete => (LineKind::Removed, '-'),
                ChangeTag::Insert => (LineKind::Added, '+'),
            };
            unified.push(DiffLine {
                kind,
                text: format!("{prefix}{line}"),
            });
            match change.tag() {
                ChangeTag::Delete => {
                    removed.push((change.old_index().unwrap_or(0) + 1, line));
                }
                ChangeTag::Insert => added.push((change.new_index().unwrap_or(0) + 1, line)),
                ChangeTag::Equal => {
                    pair_up(&mut side, &mut removed, &mut added);
                    side.push(SideRow::Lines {
                        old: Some((change.old_index().unwrap_or(0) + 1, line.clone())),
                        new: Some((change.new_index().unwrap_or(0) + 1, line)),
                        same: true,
                    });
                }
            }
        }
        pair_up(&mut side, &mut removed, &mut added);
    }
    VersionDiff::Text { unified, side }
}

/// Puts the pending removed lines beside the pending added ones, row by row.
fn pair_up(
    side: &mut Vec<SideRow>,
    removed: &mut Vec<NumberedLine>,
    added: &mut Vec<NumberedLine>,
) {
    let rows = removed.len().max(added.len());
    let mut old = removed.drain(..);
    let mut new = added.drain(..);
    for _ in 0..rows {
        side.push(SideRow::Lines {
            old: old.next(),
            new: new.next(),
            same: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::carve::CarvedFrom;

    fn version(bytes: &[u8]) -> FileVersion {
        FileVersion {
            bytes: bytes.to_vec(),
            truncated: false,
            size: bytes.len() as u64,
            data_path: "f".into(),
            bytes_fetched: 0,
            from: CarvedFrom::Stream,
        }
    }

    #[test]
    fn unified_and_side_by_side_hold_the_same_changes() {
        let diff = diff_versions(&version(b"a\nb\nc\n"), &version(b"a\nB\nc\nd\n"));
        let VersionDiff::Text { unified, side } = diff else {
            panic!("text expected: {diff:?}");
        };
        let texts: Vec<&str> = unified.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["@@ -1,3 +1,4 @@", " a", "-b", "+B", " c", "+d"]);
        assert_eq!(
            side[2],
            SideRow::Lines {
                old: Some((2, "b".into())),
                new: Some((2, "B".into())),
                same: false
            }
        );
        assert_eq!(
            side[4],
            SideRow::Lines {
                old: None,
                new: Some((4, "d".into())),
                same: false
            }
        );
    }

    #[test]
    fn binary_same_and_too_long_are_told() {
        let binary = diff_versions(&version(b"\0\x01"), &version(b"\0\x02\x03"));
        assert_eq!(
            binary.summary().as_deref(),
            Some("binary versions differ (2 B → 3 B)")
        );
        assert_eq!(
            diff_versions(&version(b"x"), &version(b"x")),
            VersionDiff::Same
        );
        let mut long = version(b"abc");
        long.truncated = true;
        long.size = 10;
        assert!(matches!(
            diff_versions(&version(b"x"), &long),
            VersionDiff::TooLong {
                before: 1,
                after: 10
            }
        ));
    }
}
