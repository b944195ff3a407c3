//! Image references as container users write them (`alpine:3.20`, `ghcr.io/o/r@sha256:…`).
//!
//! Parsing and Docker Hub normalisation come from `oci-spec`'s [`Reference`]; this module adds
//! what a client needs on top: the host to connect to and the reference to ask the registry for.
//!
//! `oci-spec` matches references with one regex whose Unicode `\w{0,127}` costs about 40 ms to
//! compile, a few percent of a whole one-layer peek. References in the plain ASCII grammar are
//! therefore split here ([`parse_plain`]), and built with `oci-spec`'s constructors; anything
//! else (and every error message) still goes through `oci-spec`. A test checks on random input
//! that the two never disagree.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use oci_spec::distribution::Reference;

/// Docker Hub's canonical name, as users and config files write it.
const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// A parsed, normalised image reference. Two references are equal when they normalise to the
/// same image (`alpine` and `docker.io/library/alpine:latest`).
#[derive(Debug, Clone)]
pub struct ImageReference {
    inner: Reference,
    /// The reference as typed (trimmed), for asking a local engine, which resolves names its
    /// own way (Podman's `localhost/` for images built here).
    typed: String,
}

impl PartialEq for ImageReference {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl Eq for ImageReference {}

/// Why a reference could not be parsed, with the offending input.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid image reference {input:?}: {reason}")]
pub struct ReferenceError {
    input: String,
    reason: String,
}

impl ImageReference {
    /// Parses a reference such as `alpine`, `library/alpine:3.20`, `localhost:5000/x/y:z` or
    /// `ghcr.io/o/r:tag@sha256:…`.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let trimmed = input.trim();
        let fail = |reason: String| ReferenceError {
            input: input.to_owned(),
            reason,
        };
        if trimmed.is_empty() {
            return Err(fail("it is empty; try something like alpine:3.20".into()));
        }
        if trimmed.contains("://") {
            return Err(fail(
                "leave out the scheme (http:// or https://); write host[:port]/name[:tag]".into(),
            ));
        }
        if let Some(inner) = parse_plain(trimmed) {
            return Ok(Self {
                inner,
                typed: trimmed.to_owned(),
            });
        }
        let inner = Reference::from_str(trimmed).map_err(|err| {
            let name = trimmed.split(['@', ':']).next().unwrap_or(trimmed);
            let hint = if trimmed.chars().any(char::is_whitespace) {
                "it contains spaces"
            } else if trimmed.contains('@') {
                "the part after @ must be a digest such as sha256: followed by 64 hex digits"
            } else if name.chars().any(|c| c.is_ascii_uppercase()) {
                "repository names must be lowercase"
            } else {
                "expected [host[:port]/]name[:tag][@sha256:digest]"
            };
            fail(format!("{err}: {hint}"))
        })?;
        // `oci-spec` takes a first component with capitals but no dot or port (`Host/x/y`)
        // for part of a Docker Hub repository, which then cannot be written back: Docker
        // reads such a component as a host. Refuse what is not a valid name either way.
        if inner.repository().chars().any(|c| c.is_ascii_uppercase()) {
            return Err(fail(format!(
                "repository names must be lowercase (read as {}/{}); a registry host is \
                 written with a dot or a port, e.g. host.example:5000/name",
                inner.registry(),
                inner.repository()
            )));
        }
        Ok(Self {
            inner,
            typed: trimmed.to_owned(),
        })
    }

    /// Whether the registry was written out (`ghcr.io/o/r`, `localhost:5000/x`) rather than
    /// implied (`alpine`, `team/app:1`, which Docker also looks for locally first).
    pub fn registry_written(&self) -> bool {
        self.typed
            .split_once('/')
            .is_some_and(|(first, _)| first.contains(['.', ':']) || first == "localhost")
    }

    /// The reference as typed, before normalisation.
    pub fn as_typed(&self) -> &str {
        &self.typed
    }

    /// The registry as written after normalisation, e.g. `docker.io` or `localhost:5000`.
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The `host[:port]` to send API requests to (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        match self.inner.registry() {
            DOCKER_HUB => DOCKER_HUB_API_HOST,
            other => other,
        }
    }

    /// The repository path, e.g. `library/alpine`.
    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    /// The tag, if one was given (a bare name means `latest`).
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// What to ask the manifest endpoint for: the digest when present, otherwise the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest().or(self.tag()).unwrap_or("latest")
    }

    /// True when the registry lives on this machine (`localhost`, `127.0.0.0/8`, `::1`).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(host_without_port(self.api_host()))
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
    }
}

impl FromStr for ImageReference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Longest repository name the distribution grammar allows.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Splits a reference in the distribution grammar's plain ASCII form
/// (`[domain[:port]/]component(/component)*[:tag][@algorithm:hex]`) and normalises it as
/// `oci-spec` does; `None` for anything else, which `oci-spec` then parses or refuses.
fn parse_plain(input: &str) -> Option<Reference> {
    let (rest, digest) = match input.split_once('@') {
        Some((rest, digest)) => (rest, Some(plain_digest(digest)?)),
        None => (input, None),
    };
    let (name, tag) = match rest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(plain_tag(tag)?)),
        _ => (rest, None),
    };
    let (domain, path) = match name.split_once('/') {
        Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => {
            plain_domain(first)?;
            (first, path)
        }
        // No domain: Docker Hub, where a lone name is an official image.
        Some(_) => (DOCKER_HUB, name),
        None => (DOCKER_HUB, name),
    };
    if !path.split('/').all(is_path_component) {
        return None;
    }
    let (registry, repository) = match domain {
        "index.docker.io" | DOCKER_HUB if !path.contains('/') => {
            (DOCKER_HUB.to_owned(), format!("library/{path}"))
        }
        "index.docker.io" => (DOCKER_HUB.to_owned(), path.to_owned()),
        domain => (domain.to_owned(), path.to_owned()),
    };
    if repository.len() > NAME_TOTAL_LENGTH_MAX {
        return None;
    }
    Some(match (tag, digest) {
        (tag, None) => Reference::with_tag(registry, repository, tag.unwrap_or("latest").into()),
        (None, Some(digest)) => Reference::with_digest(registry, repository, digest.into()),
        (Some(tag), Some(digest)) => {
            Reference::with_tag_and_digest(registry, repository, tag.into(), digest.into())
        }
    })
}

/// `[a-z0-9]+` runs joined by one `.`, one `_`, `__` or any number of `-`.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    bytes.split(alnum).all(|separator| {
        matches!(separator, b"" | b"." | b"_" | b"__") || separator.iter().all(|&b| b == b'-')
    })
}

/// `label(.label)*[:port]`, each label ASCII letters and digits with inner `-`.
fn plain_domain(domain: &str) -> Option<()> {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        matches!((bytes.first(), bytes.last()), (Some(first), Some(last)) if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric())
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (host.split('.').all(label_ok) && port_ok).then_some(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn plain_tag(tag: &str) -> Option<&str> {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let bytes = tag.as_bytes();
    (bytes.first().is_some_and(word)
        && bytes.len() <= 128
        && bytes.iter().all(|b| word(b) || *b == b'.' || *b == b'-'))
    .then_some(tag)
}

/// `sha256:` + 64, `sha384:` + 96 or `sha512:` + 128 hex digits.
fn plain_digest(digest: &str) -> Option<&str> {
    let (algorithm, hex) = digest.split_once(':')?;
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return None,
    };
    (hex.len() == length && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digest)
}

/// True for `localhost` and loopback IP literals.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Strips a `:port` suffix (and IPv6 brackets) from `host[:port]`.
pub(crate) fn host_without_port(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => host_port,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(input: &str) -> (String, String, String, Option<String>, Option<String>) {
        let r = ImageReference::parse(input).expect("valid reference");
        (
            r.registry().to_owned(),
            r.api_host().to_owned(),
            r.repository().to_owned(),
            r.tag().map(str::to_owned),
            r.digest().map(str::to_owned),
        )
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_names_are_normalised() {
        for input in [
            "alpine",
            "library/alpine",
            "docker.io/library/alpine",
            "index.docker.io/library/alpine",
            "docker.io/alpine",
        ] {
            let (registry, host, repo, tag, digest) = parts(input);
            assert_eq!(registry, "docker.io", "{input}");
            assert_eq!(host, "registry-1.docker.io", "{input}");
            assert_eq!(repo, "library/alpine", "{input}");
            assert_eq!(tag.as_deref(), Some("latest"), "{input}");
            assert_eq!(digest, None, "{input}");
        }
        let (_, _, repo, tag, _) = parts("alpine:3.20");
        assert_eq!(
            (repo.as_str(), tag.as_deref()),
            ("library/alpine", Some("3.20"))
        );
        let (_, _, repo, _, _) = parts("someone/tool:1");
        assert_eq!(repo, "someone/tool");
        assert!(
            !ImageReference::parse("someone/tool:1")
                .expect("valid")
                .registry_written()
        );
        assert_eq!(
            ImageReference::parse("alpine").expect("valid"),
            ImageReference::parse("docker.io/library/alpine:latest").expect("valid")
        );
    }

    #[test]
    fn other_registries_keep_host_and_port() {
        let (registry, host, repo, tag, _) = parts("ghcr.io/o/r:tag");
        assert_eq!((registry.as_str(), host.as_str()), ("ghcr.io", "ghcr.io"));
        assert_eq!((repo.as_str(), tag.as_deref()), ("o/r", Some("tag")));

        for written in [
            "ghcr.io/o/r",
            "localhost/x",
            "localhost:5000/x",
            "docker.io/alpine",
        ] {
            let parsed = ImageReference::parse(written).expect("valid");
            assert!(parsed.registry_written(), "{written}");
        }
        let (registry, _, repo, tag, _) = parts("localhost:5000/x/y:z");
        assert_eq!(registry, "localhost:5000");
        assert_eq!((repo.as_str(), tag.as_deref()), ("x/y", Some("z")));

        let r = ImageReference::parse(&format!("127.0.0.1:5000/x@{DIGEST}")).expect("valid");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.digest(), Some(DIGEST));
        assert_eq!(r.manifest_reference(), DIGEST);
        assert!(r.is_loopback());
    }

    #[test]
    fn tag_and_digest_prefers_digest() {
        let r = ImageReference::parse(&format!("ghcr.io/o/r:1.0@{DIGEST}")).expect("valid");
        assert_eq!(r.tag(), Some("1.0"));
        assert_eq!(r.manifest_reference(), DIGEST);
        assert!(!r.is_loopback());
        assert_eq!(r.to_string(), format!("ghcr.io/o/r:1.0@{DIGEST}"));
    }

    #[test]
    fn malformed_input_says_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("https://ghcr.io/o/r", "scheme"),
            ("Alpine", "lowercase"),
            ("alpine@sha256:abc", "digest"),
            ("alpine:bad tag", "spaces"),
            ("alpine:", "expected [host"),
            ("ghcrKio/owner/repo:v1", "lowercase"),
            (
                "alpine@md5:0123456789abcdef0123456789abcdef",
                "unsupported digest",
            ),
        ];
        for (input, expected) in cases {
            let err = ImageReference::parse(input).expect_err(input).to_string();
            assert!(err.contains(expected), "{input:?}: {err}");
            assert!(err.contains("invalid image reference"), "{err}");
        }
    }

    /// Random strings over the grammar's alphabet: whatever the plain splitter accepts,
    /// `oci-spec`'s regex accepts too, with the same parts.
    #[test]
    fn plain_splitter_agrees_with_oci_spec() {
        use proptest::prelude::*;
        let pieces = prop::sample::select(vec![
            "a",
            "b0",
            "z",
            "Q",
            "9",
            "-",
            "--",
            ".",
            "_",
            "__",
            "/",
            ":",
            "@",
            "localhost",
            "docker.io",
            "index.docker.io",
            "library",
            "host.example",
            ":5000",
            "sha256:",
            "sha512:",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "é",
            " ",
            "latest",
            "v1.2-rc_3",
        ]);
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            ProptestConfig::with_cases(4096),
            proptest::test_runner::TestRng::deterministic_rng(
                proptest::test_runner::RngAlgorithm::ChaCha,
            ),
        );
        let mut accepted = 0;
        runner
            .run(&prop::collection::vec(pieces, 1..9), |pieces| {
                let input = pieces.concat();
                if let Some(plain) = parse_plain(&input) {
                    let spec = Reference::from_str(&input);
                    prop_assert_eq!(Ok(plain), spec, "{}", input);
                }
                Ok(())
            })
            .expect("agree");
        for input in [
            "alpine",
            "alpine:3.20",
            "library/alpine",
            "index.docker.io/alpine",
            "docker.io/team/app:v1",
            "localhost:5000/x/y:z",
            "localhost/a",
            "127.0.0.1:5000/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "Host.Example:5000/a__b/c-d--e.f:T_1.0-rc@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            let plain = parse_plain(input).expect(input);
            assert_eq!(Ok(plain), Reference::from_str(input), "{input}");
            accepted += 1;
        }
        assert_eq!(accepted, 9);
    }

    #[test]
    fn ports_are_split_off_hosts() {
        assert_eq!(host_without_port("localhost:5000"), "localhost");
        assert_eq!(host_without_port("ghcr.io"), "ghcr.io");
        assert_eq!(host_without_port("[::1]:5000"), "::1");
    }
}
