//! Text from images made safe for a terminal: control characters and bad bytes become
//! visible escapes.

use std::io::{self, Write};

/// A writer for a terminal: control characters (other than newline) become visible `\u001b`
/// escapes and bytes that are not UTF-8 become `\xff`, so that no file name can move the
/// cursor, retitle the window or ring the bell. The escapes are valid inside JSON strings
/// (where only DEL and C1 controls are left to escape); files keep their bytes.
pub struct TerminalSafe<W: Write> {
    inner: W,
    /// The start of a UTF-8 sequence cut by the end of a write.
    carry: Vec<u8>,
}

impl<W: Write> TerminalSafe<W> {
    /// Guards `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            carry: Vec::new(),
        }
    }

    /// Writes out a sequence left incomplete at the end (as escaped bytes).
    pub fn finish(&mut self) -> io::Result<()> {
        let carry = std::mem::take(&mut self.carry);
        for byte in carry {
            write!(self.inner, "\\x{byte:02x}")?;
        }
        Ok(())
    }

    fn write_text(&mut self, text: &str) -> io::Result<()> {
        let mut clean_from = 0;
        for (at, c) in text.char_indices() {
            if c.is_control() && c != '\n' {
                self.inner.write_all(&text.as_bytes()[clean_from..at])?;
                write!(self.inner, "\\u{:04x}", u32::from(c))?;
                clean_from = at + c.len_utf8();
            }
        }
        self.inner.write_all(&text.as_bytes()[clean_from..])
    }
}

impl<W: Write> Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(buf);
        let mut rest = &bytes[..];
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.write_text(text)?;
                    break;
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    // Checked by from_utf8 up to valid_up_to.
                    self.write_text(std::str::from_utf8(valid).unwrap_or_default())?;
                    match error.error_len() {
                        Some(bad) => {
                            for byte in &after[..bad] {
                                write!(self.inner, "\\x{byte:02x}")?;
                            }
                            rest = &after[bad..];
                        }
                        None => {
                            self.carry = after.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Replaces control characters (escape sequences, newlines, …) with visible escapes so that
/// file names from an image can never drive a terminal or break a line-based listing.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}
