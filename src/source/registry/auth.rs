//! Registry authentication: `WWW-Authenticate` challenges, credentials from the Docker and
//! podman config files (including credential helpers), and bearer tokens.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::oci::reference::is_loopback_host;
use serde::Deserialize;

/// An authentication challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Token auth: fetch a token from `realm` for `service` and `scope`.
    Bearer {
        /// The token endpoint URL.
        realm: String,
        /// The `service` parameter to pass on.
        service: Option<String>,
        /// The `scope` parameter to pass on (e.g. `repository:x:pull`).
        scope: Option<String>,
    },
    /// HTTP Basic auth with the user's credentials.
    Basic,
}

impl Challenge {
    /// Parses a `WWW-Authenticate` value such as
    /// `Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"`.
    pub fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        let params = parse_auth_params(params);
        let param = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        if scheme.eq_ignore_ascii_case("bearer") {
            Some(Self::Bearer {
                realm: param("realm")?,
                service: param("service"),
                scope: param("scope"),
            })
        } else if scheme.eq_ignore_ascii_case("basic") {
            Some(Self::Basic)
        } else {
            None
        }
    }
}

/// Splits `key=value, key="quoted, value"` auth-params (RFC 7235), unescaping quoted pairs.
fn parse_auth_params(input: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.trim().is_empty() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    other => value.push(other),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
        }
        params.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    params
}

/// Credentials for a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Username and password (or personal access token).
    Basic {
        /// User name.
        username: String,
        /// Password or access token.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` in Docker's config).
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { username, .. } => write!(f, "Basic({username}, ****)"),
            Self::IdentityToken(_) => write!(f, "IdentityToken(****)"),
        }
    }
}

impl Credential {
    /// The `Authorization: Basic …` value, if this is a username/password pair.
    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Self::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Self::IdentityToken(_) => None,
        }
    }

    /// Looks up credentials for `registry` (as written in the reference, e.g. `docker.io`,
    /// `ghcr.io`, `localhost:5000`) in `$DOCKER_CONFIG`/`~/.docker/config.json` (`auths`,
    /// `credsStore`, `credHelpers`) and then podman's `auth.json`.
    pub fn from_config_files(registry: &str) -> Option<Self> {
        let keys: &[&str] = if registry == "docker.io" {
            &[
                "https://index.docker.io/v1/",
                "docker.io",
                "index.docker.io",
            ]
        } else {
            &[registry]
        };
        keys.iter().find_map(|key| {
            docker_credential::get_credential(key)
                .or_else(|_| docker_credential::get_podman_credential(key))
                .ok()
                .map(|found| match found {
                    docker_credential::DockerCredential::UsernamePassword(username, password) => {
                        Self::Basic { username, password }
                    }
                    docker_credential::DockerCredential::IdentityToken(token) => {
                        Self::IdentityToken(token)
                    }
                })
        })
    }
}

/// A bearer token and when to stop using it.
#[derive(Debug, Clone)]
pub(crate) struct BearerToken {
    pub(crate) value: String,
    expires_at: Instant,
}

impl BearerToken {
    /// Whether the token should be refreshed before the next request.
    pub(crate) fn is_expired(&self) -> bool {
        Instant::now() >= self.expires_at
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Default token lifetime when the response has no `expires_in` (the spec's 60 s).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// Refresh this long before the stated expiry to absorb clock skew and request time.
const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(5);
/// The longest lifetime believed: a longer `expires_in` (up to `u64::MAX` seconds, which would
/// overflow the clock) is cut to this, so the token is merely refreshed sooner than it must be.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses a token endpoint's JSON answer (`token` or `access_token`, `expires_in`).
pub(crate) fn parse_token_response(body: &[u8]) -> Option<BearerToken> {
    let response: TokenResponse = serde_json::from_slice(body).ok()?;
    let value = response
        .token
        .or(response.access_token)
        .filter(|t| !t.is_empty())?;
    let lifetime = response
        .expires_in
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs)
        .min(MAX_TOKEN_LIFETIME);
    Some(BearerToken {
        value,
        expires_at: Instant::now() + lifetime.saturating_sub(TOKEN_EXPIRY_MARGIN),
    })
}

/// The token a token endpoint's JSON answer carries, if it carries one: the parsing the
/// client does, for tests and fuzzing (`tests/fuzz.rs`).
#[doc(hidden)]
pub fn token_of_response(body: &[u8]) -> Option<String> {
    parse_token_response(body).map(|token| token.value)
}

/// True for loopback, private, link-local and unique-local addresses (by literal or `localhost`).
pub fn is_internal_host(host: &str) -> bool {
    if is_loopback_host(host) {
        return true;
    }
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(IpAddr::V4(ip)) => ip.is_private() || ip.is_link_local() || ip.is_unspecified(),
        Ok(IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            ip.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

/// Decides whether a token realm may be contacted for a registry at `registry_host_port`.
///
/// A registry on the public network must not steer the client to internal addresses
/// (server-side request forgery), so an internal realm is only accepted when the registry is
/// itself internal (same trust zone) or the realm is the registry's own host:port.
/// Plain `http` realms are accepted only for loopback hosts or with `insecure`.
pub(crate) fn realm_is_allowed(
    realm: &reqwest::Url,
    registry_host_port: &str,
    insecure: bool,
) -> Result<(), String> {
    let Some(host) = realm.host_str() else {
        return Err("it has no host".into());
    };
    let realm_host_port = match realm.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    match realm.scheme() {
        "https" => {}
        "http" if insecure || is_loopback_host(host) => {}
        "http" => {
            return Err(
                "it uses plain http to a non-loopback host (pass --insecure to allow)".into(),
            );
        }
        other => return Err(format!("its scheme {other:?} is not http(s)")),
    }
    let registry_host = crate::oci::reference::host_without_port(registry_host_port);
    if is_internal_host(host)
        && !is_internal_host(registry_host)
        && realm_host_port != registry_host_port
    {
        return Err(format!(
            "it points at the internal address {host} while the registry {registry_host_port} is public"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_parse_with_quotes_and_commas() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull,push".into()),
            })
        );
        let c = Challenge::parse(r#"bearer REALM=http://127.0.0.1:1/t, service = "a\"b""#);
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: Some("a\"b".into()),
                scope: None,
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Challenge::parse("Bearer service=x"),
            None,
            "a bearer challenge needs a realm"
        );
        assert_eq!(Challenge::parse("Negotiate abc"), None);
    }

    #[test]
    fn token_responses_accept_both_field_names() {
        let t = parse_token_response(br#"{"token":"abc","expires_in":300}"#).expect("token");
        assert_eq!(t.value, "abc");
        assert!(!t.is_expired());
        let t = parse_token_response(br#"{"access_token":"xyz"}"#).expect("access_token");
        assert_eq!(t.value, "xyz");
        let t = parse_token_response(br#"{"token":"short","expires_in":1}"#).expect("token");
        assert!(
            t.is_expired(),
            "a token inside the safety margin counts as expired"
        );
        assert!(parse_token_response(br#"{"token":""}"#).is_none());
        // An absurd lifetime once overflowed the clock (a panic); it is cut to a day.
        let t = parse_token_response(br#"{"token":"t","expires_in":18446744073709551615}"#)
            .expect("token");
        assert!(!t.is_expired());
        assert!(parse_token_response(b"not json").is_none());
    }

    #[test]
    fn internal_realms_are_refused_for_public_registries() {
        let url = |s: &str| reqwest::Url::parse(s).expect("url");
        assert!(
            realm_is_allowed(
                &url("https://auth.docker.io/token"),
                "registry-1.docker.io",
                false
            )
            .is_ok()
        );
        for internal in [
            "https://127.0.0.1/t",
            "https://10.1.2.3/t",
            "https://192.168.0.1:8080/t",
            "https://[::1]/t",
            "https://localhost/t",
        ] {
            let err = realm_is_allowed(&url(internal), "ghcr.io", false).expect_err(internal);
            assert!(err.contains("internal address"), "{err}");
        }
        assert!(
            realm_is_allowed(&url("https://10.0.0.5:5000/token"), "10.0.0.5:5000", false).is_ok()
        );
        assert!(
            realm_is_allowed(&url("http://127.0.0.1:9999/token"), "127.0.0.1:5000", false).is_ok()
        );
        let err = realm_is_allowed(&url("http://auth.example.com/token"), "example.com", false)
            .expect_err("plain http");
        assert!(err.contains("--insecure"), "{err}");
        assert!(
            realm_is_allowed(&url("http://auth.example.com/token"), "example.com", true).is_ok()
        );
        assert!(
            realm_is_allowed(&url("ftp://auth.example.com/token"), "example.com", true).is_err()
        );
    }

    #[test]
    fn credentials_never_print_secrets() {
        let basic = Credential::Basic {
            username: "me".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{basic:?}").contains("hunter2"));
        assert_eq!(
            basic.basic_header().as_deref(),
            Some("Basic bWU6aHVudGVyMg==")
        );
        assert!(!format!("{:?}", Credential::IdentityToken("secret".into())).contains("secret"));
    }
}
