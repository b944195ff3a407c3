//! What the preview pane shows of a file, prepared off the UI thread: the file's first bytes
//! (carved out of the image, at most [`PREVIEW_LIMIT`] unless the user asks for all of it),
//! told apart as an image (PNG, JPEG, GIF, SVG), text (UTF-8, else shown lossily and marked so;
//! highlighted and split into lines) or binary (shown as hex rows). Also where a symlink
//! points, as a path of the tree.

use std::io::{self, Write};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use egui::text::{LayoutJob, LayoutSection};
use egui_extras::syntax_highlighting::{CodeTheme, SyntectSettings, highlight_with};

use crate::cancel::CancelToken;
use crate::inspect::carve::{self, CarveError, CarveTarget, CarvedFrom};
use crate::model::Entry;
use crate::source::ImageSource;

/// How much of a file the preview fetches at first: 1 MiB.
pub const PREVIEW_LIMIT: u64 = 1 << 20;
/// The most "Load all" fetches: 64 MiB (the rest stays in the image; "Save file…" gets it).
pub const LOAD_ALL_LIMIT: u64 = 64 << 20;
/// Text longer than this is shown without highlighting (highlighting costs ~1 s per MiB).
const HIGHLIGHT_LIMIT: usize = 256 << 10;
/// Bytes shown per row of the hex view.
pub const HEX_ROW_BYTES: usize = 16;

/// The file a preview is for, and how much of it to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRequest {
    /// The regular file to carve (the version of the view shown).
    pub target: CarveTarget,
    /// At most this many bytes.
    pub limit: u64,
    /// The entries of the target's layer, when the app holds them: the worker finds in them
    /// which entry holds the data (the target's `occurrence`), off the UI thread.
    pub layer_entries: Option<Vec<Arc<Vec<Entry>>>>,
}

/// Which entry of `data_path` holds the data that the layer's last entry for `path` has
/// (counting `data_path`'s entries from 1, up to that entry): what an extractor leaves.
/// `path` is `data_path` for a file, the link for a hardlink. `None` when `path` has no entry
/// in `batches`.
fn occurrence_of(batches: &[Arc<Vec<Entry>>], path: &str, data_path: &str) -> Option<usize> {
    let mut seen = 0;
    let mut at_last = None;
    for entry in batches.iter().flat_map(|batch| batch.iter()) {
        if *entry.path == *data_path {
            seen += 1;
        }
        if *entry.path == *path {
            at_last = Some(seen);
        }
    }
    at_last.filter(|&count| count > 0)
}

/// What the preview shows of a file.
pub enum PreviewBody {
    /// Text split into lines (highlighted when its type is known).
    Text {
        /// One layout per line, without the line break.
        lines: Vec<LayoutJob>,
        /// The bytes were not valid UTF-8: invalid sequences are shown as `?`.
        lossy: bool,
        /// The syntax it was highlighted as, if any.
        syntax: Option<String>,
    },
    /// Bytes that are not text, shown as hex rows.
    Hex(Vec<u8>),
    /// An image, for egui's image loaders.
    Image {
        /// The URI the loaders know it by (its extension names the format).
        uri: String,
        /// The encoded image.
        bytes: Arc<[u8]>,
    },
}

/// A file's preview: what was fetched, how, and what it shows.
pub struct PreviewContent {
    /// The path previewed.
    pub path: String,
    /// The image's index of the layer whose version is shown.
    pub layer: usize,
    /// The file's size.
    pub size: u64,
    /// Bytes of the file held (all of it unless `truncated`).
    pub held: u64,
    /// Only the first `held` bytes were fetched.
    pub truncated: bool,
    /// Blob bytes fetched for it.
    pub fetched: u64,
    /// How the file was reached (table of contents, gzip index, streaming); `None` when the
    /// preview stopped early (the carve's report is not made then).
    pub from: Option<CarvedFrom>,
    /// What it shows.
    pub body: PreviewBody,
}

/// A writer that keeps at most `cap` bytes, then fails (which stops the carve early).
struct CappedWriter {
    bytes: Vec<u8>,
    cap: usize,
    /// A write was refused: the data goes on past the cap.
    overflowed: bool,
}

impl Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.cap.saturating_sub(self.bytes.len());
        if room == 0 && !data.is_empty() {
            self.overflowed = true;
            return Err(io::Error::other("the preview limit is reached"));
        }
        let taken = room.min(data.len());
        self.bytes.extend_from_slice(&data[..taken]);
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fetches the first `request.limit` bytes of the file from `source` and prepares them to be
/// shown (`style` gives the code font and whether the theme is dark). `fetched` counts the blob
/// bytes as they come.
pub fn load_preview(
    source: &dyn ImageSource,
    request: &PreviewRequest,
    style: &egui::Style,
    cancel: &CancelToken,
    fetched: &Arc<AtomicU64>,
) -> Result<PreviewContent, CarveError> {
    let mut target = request.target.clone();
    if target.occurrence.is_none()
        && let Some(batches) = &request.layer_entries
    {
        target.occurrence = occurrence_of(batches, &target.path, &target.data_path);
    }
    let target = &target;
    let cap = usize::try_from(request.limit).unwrap_or(usize::MAX);
    let mut out = CappedWriter {
        bytes: Vec::with_capacity(cap.min(usize::try_from(target.size).unwrap_or(cap))),
        cap,
        overflowed: false,
    };
    let (report, truncated) = match carve::carve(source, target, cancel, fetched, &mut out) {
        Ok(report) => (Some(report), false),
        Err(CarveError::Write(_)) if out.overflowed => (None, true),
        Err(error) => return Err(error),
    };
    if cancel.is_cancelled() {
        return Err(CarveError::Cancelled);
    }
    let bytes = out.bytes;
    let fetched_now = fetched.load(std::sync::atomic::Ordering::Relaxed);
    Ok(PreviewContent {
        path: target.path.clone(),
        layer: target.layer.index,
        size: target.size,
        held: bytes.len() as u64,
        truncated,
        fetched: report.map_or(fetched_now, |r| r.total_fetched),
        from: report.map(|r| r.from),
        body: body_of(&target.path, bytes, truncated, style),
    })
}

/// What `bytes` (the start of the file at `path`, all of it unless `truncated`) show as.
pub fn body_of(path: &str, bytes: Vec<u8>, truncated: bool, style: &egui::Style) -> PreviewBody {
    if let Some(extension) = image_extension(path, &bytes) {
        return PreviewBody::Image {
            uri: format!("bytes://preview/{}.{extension}", path.replace('/', "_")),
            bytes: bytes.into(),
        };
    }
    let sample = &bytes[..bytes.len().min(8192)];
    if sample.contains(&0) {
        return PreviewBody::Hex(bytes);
    }
    let (text, lossy) = match std::str::from_utf8(&bytes) {
        Ok(text) => (text.to_owned(), false),
        // Cut inside a character at the preview limit: the text is fine up to there.
        Err(error) if truncated && error.error_len().is_none() => (
            String::from_utf8_lossy(&bytes[..error.valid_up_to()]).into_owned(),
            false,
        ),
        Err(_) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let replaced = text
                .chars()
                .filter(|&c| c == char::REPLACEMENT_CHARACTER)
                .count();
            // Mostly not text: a binary file without NULs in its first bytes.
            if replaced * 20 > text.chars().count() {
                return PreviewBody::Hex(bytes);
            }
            // As `?`: the app's fonts have no U+FFFD glyph.
            (text.replace(char::REPLACEMENT_CHARACTER, "?"), true)
        }
    };
    let syntax = syntax_of(path, &text);
    let lines = match &syntax {
        Some(syntax) if text.len() <= HIGHLIGHT_LIMIT => highlighted_lines(&text, syntax, style),
        _ => plain_lines(&text, style),
    };
    PreviewBody::Text {
        lines,
        lossy,
        syntax,
    }
}

/// The image format of a file, as the extension the loaders know it by: from its magic bytes
/// (PNG, JPEG, GIF), or for SVG from its name or its first tag.
fn image_extension(path: &str, bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("png");
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some("jpg");
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some("gif");
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]);
    let head = head.trim_start();
    let svg_name = path.to_ascii_lowercase().ends_with(".svg");
    let svg_tag = head.starts_with("<svg") || (head.starts_with("<?xml") && head.contains("<svg"));
    (svg_tag || (svg_name && head.starts_with('<'))).then_some("svg")
}

/// The syntax to highlight a file as: its extension, a known file name, or its `#!` line.
fn syntax_of(path: &str, text: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if let Some(first) = text.lines().next()
        && let Some(interpreter) = first.strip_prefix("#!")
    {
        return Some(
            if interpreter.contains("python") {
                "py"
            } else if interpreter.contains("perl") {
                "pl"
            } else {
                "sh"
            }
            .to_owned(),
        );
    }
    let lowered = name.to_ascii_lowercase();
    match lowered.as_str() {
        "makefile" | "gnumakefile" => return Some("Makefile".to_owned()),
        "dockerfile" | "containerfile" => return Some("sh".to_owned()),
        _ => {}
    }
    let (stem, extension) = lowered.rsplit_once('.')?;
    (!stem.is_empty() && !extension.is_empty()).then(|| match extension {
        "conf" | "cfg" | "ini" | "service" => "ini".to_owned(),
        "yml" => "yaml".to_owned(),
        other => other.to_owned(),
    })
}

/// Syntect's syntaxes and themes, loaded once.
fn syntect_settings() -> &'static SyntectSettings {
    static SETTINGS: OnceLock<SyntectSettings> = OnceLock::new();
    SETTINGS.get_or_init(SyntectSettings::default)
}

/// `text` highlighted as `syntax`, one layout per line (plain when syntect does not know it).
fn highlighted_lines(text: &str, syntax: &str, style: &egui::Style) -> Vec<LayoutJob> {
    // egui_extras memoises in the context it is given, under its lock: a context of our own
    // keeps the UI's free while this runs.
    let scratch = egui::Context::default();
    let theme = CodeTheme::from_style(style);
    let job = highlight_with(&scratch, style, &theme, text, syntax, syntect_settings());
    split_lines(&job)
}

/// `text` in the code font, one layout per line.
fn plain_lines(text: &str, style: &egui::Style) -> Vec<LayoutJob> {
    let font = egui::TextStyle::Monospace.resolve(style);
    let color = style.visuals.text_color();
    // A final newline ends the last line; it does not start another.
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n')
        .map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            LayoutJob::simple_singleline(line.to_owned(), font.clone(), color)
        })
        .collect()
}

/// Splits a layout at its line breaks: one layout per line, the sections cut to each line.
fn split_lines(job: &LayoutJob) -> Vec<LayoutJob> {
    let text = job.text.as_str();
    let mut lines = Vec::new();
    let mut sections = job.sections.iter().peekable();
    let mut start = 0;
    loop {
        let end = text[start..].find('\n').map_or(text.len(), |at| start + at);
        let content_end = if text[start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        let mut line = LayoutJob {
            text: text[start..content_end].to_owned(),
            ..LayoutJob::default()
        };
        line.wrap.max_width = f32::INFINITY;
        // Sections overlapping [start, content_end), cut and shifted to the line.
        while let Some(section) = sections.peek() {
            let range = section.byte_range.start.0..section.byte_range.end.0;
            let from = range.start.max(start);
            let to = range.end.min(content_end);
            if from < to {
                line.sections.push(LayoutSection {
                    leading_space: 0.0,
                    byte_range: egui::text::ByteIndex(from - start)
                        ..egui::text::ByteIndex(to - start),
                    format: section.format.clone(),
                });
            }
            if range.end <= end {
                sections.next();
            } else {
                break;
            }
        }
        lines.push(line);
        // A final newline ends the last line; it does not start another.
        if end >= text.len() || end + 1 == text.len() {
            break;
        }
        start = end + 1;
    }
    lines
}

/// The path a symlink at `link` pointing to `target` resolves to, as a path of the tree (no
/// leading `/`; `..` above the root stays at the root). Only the link itself is resolved: a
/// directory on the way that is itself a link is not followed.
pub fn link_destination(link: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut parent: Vec<&str> = link.split('/').filter(|p| !p.is_empty()).collect();
        parent.pop();
        parent
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// One row of the hex view: offset, 16 bytes in hex, and the same as ASCII (`.` for the rest).
pub fn hex_row(bytes: &[u8], row: usize) -> Option<String> {
    let start = row.checked_mul(HEX_ROW_BYTES)?;
    let chunk = bytes.get(start..(start + HEX_ROW_BYTES).min(bytes.len()))?;
    if chunk.is_empty() {
        return None;
    }
    let mut line = format!("{start:08x}  ");
    for column in 0..HEX_ROW_BYTES {
        match chunk.get(column) {
            Some(byte) => line.push_str(&format!("{byte:02x} ")),
            None => line.push_str("   "),
        }
        if column == 7 {
            line.push(' ');
        }
    }
    line.push(' ');
    line.extend(chunk.iter().map(|&b| {
        if b.is_ascii_graphic() || b == b' ' {
            char::from(b)
        } else {
            '.'
        }
    }));
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_is_in_the_entry_an_extractor_leaves() {
        use crate::model::EntryKind;
        let batches = vec![
            Arc::new(vec![
                Entry::new("etc/app.conf", EntryKind::File, 1),
                Entry::new("etc/link", EntryKind::Hardlink, 0),
            ]),
            Arc::new(vec![
                Entry::new("etc/app.conf", EntryKind::File, 2),
                Entry::new("etc/app.conf", EntryKind::File, 3),
            ]),
        ];
        assert_eq!(
            occurrence_of(&batches, "etc/app.conf", "etc/app.conf"),
            Some(3)
        );
        // A hardlink shares the version its target had when the link was made.
        assert_eq!(occurrence_of(&batches, "etc/link", "etc/app.conf"), Some(1));
        assert_eq!(occurrence_of(&batches, "etc/none", "etc/none"), None);
    }

    #[test]
    fn links_resolve_relative_to_their_directory() {
        assert_eq!(link_destination("usr/bin/alias", "tool"), "usr/bin/tool");
        assert_eq!(link_destination("bin", "usr/bin"), "usr/bin");
        assert_eq!(link_destination("a/b/c", "../../x"), "x");
        assert_eq!(link_destination("a/b", "/etc/./passwd"), "etc/passwd");
        assert_eq!(link_destination("a", "../../../etc"), "etc");
    }

    #[test]
    fn hex_rows_show_offset_bytes_and_ascii() {
        let bytes: Vec<u8> = (0..20).collect();
        let first = hex_row(&bytes, 0).expect("row 0");
        assert!(first.starts_with("00000000  00 01 02"), "{first}");
        let second = hex_row(&bytes, 1).expect("row 1");
        assert!(second.starts_with("00000010  10 11 12 13"), "{second}");
        assert!(second.ends_with("...."), "{second}");
        assert!(hex_row(&bytes, 2).is_none());
    }

    #[test]
    fn a_final_newline_adds_no_empty_line() {
        let style = egui::Style::default();
        let count = |path: &str, text: &str| match body_of(path, text.into(), false, &style) {
            PreviewBody::Text { lines, .. } => lines.len(),
            _ => usize::MAX,
        };
        let five = "one\ntwo\nthree\nfour\nfive\n";
        // Plain, and highlighted (a shell script).
        assert_eq!(count("etc/notes", five), 5);
        assert_eq!(count("etc/a.sh", &format!("#!/bin/sh\n{five}")), 6);
        assert_eq!(count("etc/crlf", "one\r\ntwo\r\n"), 2);
        assert_eq!(count("etc/a.sh", "#!/bin/sh\r\necho\r\n"), 2);
        // Without a final newline, and a file of one empty line.
        assert_eq!(count("etc/notes", "one\ntwo"), 2);
        assert_eq!(count("etc/notes", "one\n\n"), 2);
        assert_eq!(count("etc/notes", "\n"), 1);
    }

    #[test]
    fn bodies_are_told_apart() {
        let style = egui::Style::default();
        let text = body_of("etc/a.sh", b"#!/bin/sh\necho hi\n".to_vec(), false, &style);
        let PreviewBody::Text {
            lines,
            lossy,
            syntax,
        } = text
        else {
            panic!("text")
        };
        assert_eq!(lines.len(), 2, "two lines, the last ended by its newline");
        assert_eq!(lines[1].text, "echo hi");
        assert!(!lossy);
        assert_eq!(syntax.as_deref(), Some("sh"));
        assert!(
            lines[1].sections.len() > 1,
            "the shell line is highlighted: {:?}",
            lines[1].sections
        );
        let lossy = body_of(
            "x.txt",
            b"caf\xe9 au lait, then plain text".to_vec(),
            false,
            &style,
        );
        assert!(matches!(lossy, PreviewBody::Text { lossy: true, .. }));
        let binary = body_of("x.bin", vec![0, 1, 2, 0xff], false, &style);
        assert!(matches!(binary, PreviewBody::Hex(_)));
        let png = body_of("logo", b"\x89PNG\r\n\x1a\n....".to_vec(), false, &style);
        assert!(matches!(png, PreviewBody::Image { ref uri, .. } if uri.ends_with(".png")));
        let svg = body_of("i.svg", b"<svg xmlns='x'/>".to_vec(), false, &style);
        assert!(matches!(svg, PreviewBody::Image { ref uri, .. } if uri.ends_with(".svg")));
        // Cut inside a character at the limit: still valid text.
        let cut = body_of("t.txt", "h\u{e9}".as_bytes()[..2].to_vec(), true, &style);
        assert!(matches!(cut, PreviewBody::Text { lossy: false, .. }));
    }
}
