//! What `search` looks for in a path: a case-sensitive substring, a glob or a regex, each
//! with the literal every match must contain (found with `memchr::memmem` before anything
//! slower looks at a path).

/// A pattern that is not one (an unclosed `[` in a glob, a regex that does not parse, an
/// empty pattern).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(String);

/// What to look for in each indexed path.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// What the user typed, for messages.
    text: String,
    /// Bytes every matching path contains (empty: none known).
    literal: Vec<u8>,
    /// The whole-path test, when the literal alone does not decide.
    matcher: Option<regex::bytes::Regex>,
}

impl Pattern {
    /// Paths containing `text` (case-sensitive).
    pub fn substring(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() {
            return Err(PatternError(
                "an empty pattern matches every path: give a part of a path, e.g. libssl.so"
                    .to_owned(),
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            literal: text.as_bytes().to_vec(),
            matcher: None,
        })
    }

    /// Paths the glob matches whole: `*` and `?` stay inside one path component, `**` spans
    /// any number of them (`**/x` also matches `x` at the root), `[abc]`, `[a-z]` and `[!x]`
    /// are character classes. A leading `/` is ignored (indexed paths have none).
    pub fn glob(glob: &str) -> Result<Self, PatternError> {
        let bad = |why: &str| PatternError(format!("bad glob {glob:?}: {why}"));
        if glob.is_empty() {
            return Err(bad("it is empty"));
        }
        let body = glob.trim_start_matches('/');
        let mut regex = String::from("^");
        let mut literals = vec![String::new()];
        let chars: Vec<char> = body.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    if chars.get(i + 2) == Some(&'/') {
                        regex.push_str("(?:.*/)?");
                        i += 3;
                    } else {
                        regex.push_str(".*");
                        i += 2;
                    }
                    literals.push(String::new());
                    continue;
                }
                '*' => {
                    regex.push_str("[^/]*");
                    literals.push(String::new());
                }
                '?' => {
                    regex.push_str("[^/]");
                    literals.push(String::new());
                }
                '[' => {
                    let close = chars[i + 1..]
                        .iter()
                        .enumerate()
                        .skip(1) // `[]x]`: a `]` first is a member
                        .find(|(_, c)| **c == ']')
                        .map(|(at, _)| i + 1 + at)
                        .ok_or_else(|| bad("a `[` is never closed"))?;
                    let mut class: String = chars[i + 1..close].iter().collect();
                    if let Some(rest) = class.strip_prefix('!') {
                        class = format!("^{rest}");
                    }
                    regex.push('[');
                    regex.push_str(&class.replace('\\', "\\\\").replace('[', "\\["));
                    regex.push(']');
                    literals.push(String::new());
                    i = close;
                }
                _ => {
                    regex.push_str(&regex::escape(&c.to_string()));
                    if let Some(last) = literals.last_mut() {
                        last.push(c);
                    }
                }
            }
            i += 1;
        }
        regex.push('$');
        let matcher = regex::bytes::Regex::new(&regex).map_err(|e| bad(&e.to_string()))?;
        // The longest literal run (ties: the last, usually the rarer file-name part).
        let literal = literals
            .into_iter()
            .fold(String::new(), |best, run| {
                if run.len() >= best.len() { run } else { best }
            })
            .into_bytes();
        Ok(Self {
            text: glob.to_owned(),
            literal,
            matcher: Some(matcher),
        })
    }

    /// The path `path` exactly (a leading `/` is ignored: indexed paths have none).
    pub fn exact(path: &str) -> Result<Self, PatternError> {
        let body = path.trim_start_matches('/');
        if body.is_empty() {
            return Err(PatternError("an empty path names no file".to_owned()));
        }
        let matcher = regex::bytes::Regex::new(&format!("^{}$", regex::escape(body)))
            .map_err(|e| PatternError(format!("bad path {path:?}: {e}")))?;
        Ok(Self {
            text: path.to_owned(),
            literal: body.as_bytes().to_vec(),
            matcher: Some(matcher),
        })
    }

    /// Paths the regex (Rust `regex` syntax) matches anywhere; anchor it with `^…$` to match
    /// whole paths.
    pub fn regex(text: &str) -> Result<Self, PatternError> {
        let matcher = regex::bytes::Regex::new(text)
            .map_err(|e| PatternError(format!("bad regex {text:?}: {e}")))?;
        Ok(Self {
            text: text.to_owned(),
            literal: Vec::new(),
            matcher: Some(matcher),
        })
    }

    /// The pattern as typed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The bytes every match contains (empty when none is known).
    pub(crate) fn literal(&self) -> &[u8] {
        &self.literal
    }

    /// Whether a path that holds the literal matches.
    pub(crate) fn accepts(&self, path: &[u8]) -> bool {
        self.matcher.as_ref().is_none_or(|m| m.is_match(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &Pattern, path: &str) -> bool {
        let literal = pattern.literal();
        (literal.is_empty() || memchr::memmem::find(path.as_bytes(), literal).is_some())
            && pattern.accepts(path.as_bytes())
    }

    #[test]
    fn globs_keep_single_stars_inside_a_component() {
        let g = Pattern::glob("**/lib*.so*").expect("glob");
        assert_eq!(g.literal(), b".so");
        for yes in ["libc.so.6", "usr/lib/libssl.so.3", "a/b/c/libx.so"] {
            assert!(matches(&g, yes), "{yes}");
        }
        for no in ["usr/lib/libssl.so.3/x", "usr/mylib.so", "libc.a"] {
            assert!(!matches(&g, no), "{no}");
        }
        let g = Pattern::glob("/usr/lib/**/libssl.so*").expect("glob");
        assert!(matches(&g, "usr/lib/x86_64-linux-gnu/libssl.so.3"));
        assert!(matches(&g, "usr/lib/libssl.so.3"));
        assert!(!matches(&g, "opt/usr/lib/libssl.so.3"));
        let g = Pattern::glob("etc/[!a-m]*.conf").expect("glob");
        assert!(matches(&g, "etc/resolv.conf"));
        assert!(!matches(&g, "etc/host.conf"));
        assert!(Pattern::glob("etc/[abc").is_err());
        assert!(Pattern::glob("").is_err());
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        let error = Pattern::regex("lib(ssl").expect_err("unclosed group");
        assert!(error.to_string().contains("bad regex"), "{error}");
        assert!(Pattern::substring("").is_err());
        let e = Pattern::exact("/etc/a[1].conf").expect("exact");
        assert!(matches(&e, "etc/a[1].conf"));
        assert!(!matches(&e, "etc/a[1].conf.bak"));
        assert!(!matches(&e, "x/etc/a[1].conf"));
        let r = Pattern::regex(r"log4j-core-2\.1[0-6]").expect("regex");
        assert!(matches(&r, "opt/app/log4j-core-2.14.1.jar"));
        assert!(!matches(&r, "opt/app/log4j-core-2.17.1.jar"));
    }
}
