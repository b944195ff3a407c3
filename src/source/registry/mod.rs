//! A compact, blocking OCI distribution client: ping, auth, manifests and streamed blobs.
//!
//! Blocking I/O on worker threads fits this tool: every caller (CLI, GUI workers, tests) runs
//! one request per thread and streams the body straight into a decoder.

pub mod auth;
mod resume;
#[cfg(feature = "keyring")]
pub mod stored;

use std::io::Read;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::Url;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderMap, HeaderName,
    LINK, LOCATION, RANGE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use sha2::{Digest as _, Sha256};

pub use auth::Credential;

use crate::cancel::CancelToken;
use crate::oci::manifest::{Descriptor, media_type};
use crate::oci::reference::{ImageReference, host_without_port, is_loopback_host};
use crate::source::{
    BlobReader, ErrorKind, FetchedManifest, ImageSource, RangeReply, ResumeHook, Resumed,
    SourceError,
};
use auth::{BearerToken, Challenge};
use resume::{BlobEnd, OpenAt, Opened, ResumePolicy, ResumingBlob};

/// Manifests larger than this are refused (the distribution spec's recommended limit).
const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Token and error bodies larger than this are not read.
const MAX_SMALL_BODY_BYTES: u64 = 1024 * 1024;
/// How many redirects a single request may follow.
const MAX_REDIRECTS: usize = 10;

/// Errors talking to a registry, phrased so a user can act on them.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached at all.
    #[error("could not reach {url}: {reason}")]
    Connect {
        /// What was requested.
        url: String,
        /// The transport error, with its causes.
        reason: String,
    },
    /// Plain http to a non-loopback host without `--insecure`.
    #[error("refusing plain http to {host}; pass --insecure if this registry really has no TLS")]
    InsecureRefused {
        /// The host that would have been contacted.
        host: String,
    },
    /// Credentials are missing or were rejected.
    #[error(
        "access denied by {registry}: {detail}. Log in with `docker login {registry}` (or check ~/.docker/config.json)"
    )]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The registry's own explanation.
        detail: String,
    },
    /// A token realm that this client will not contact.
    #[error("refusing the token service {realm}: {reason}")]
    RealmRefused {
        /// The realm from the challenge.
        realm: String,
        /// Why it was refused.
        reason: String,
    },
    /// The image, tag or blob does not exist.
    #[error("not found: {what} ({detail})")]
    NotFound {
        /// What was looked for.
        what: String,
        /// The registry's own explanation.
        detail: String,
    },
    /// Still failing after the allowed retries (429 / 5xx).
    #[error("{url} kept failing with {status} after {attempts} attempts{hint}")]
    RetriesExhausted {
        /// What was requested.
        url: String,
        /// The last status.
        status: u16,
        /// How many requests were sent.
        attempts: u32,
        /// Extra advice, e.g. the server's Retry-After.
        hint: String,
    },
    /// Any other unexpected status.
    #[error("{url} answered {status}: {detail}")]
    Status {
        /// What was requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The registry's own explanation.
        detail: String,
    },
    /// The response does not make sense (bad redirect, oversize body, digest mismatch …).
    #[error("unexpected response from {url}: {reason}")]
    Protocol {
        /// What was requested.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The caller cancelled the work.
    #[error("cancelled")]
    Cancelled,
}

impl From<RegistryError> for SourceError {
    fn from(error: RegistryError) -> Self {
        let kind = match &error {
            RegistryError::NotFound { .. } => ErrorKind::NotFound,
            RegistryError::Unauthorized { .. } | RegistryError::RealmRefused { .. } => {
                ErrorKind::Unauthorized
            }
            RegistryError::InsecureRefused { .. } => ErrorKind::BadInput,
            RegistryError::Cancelled => ErrorKind::Cancelled,
            RegistryError::Connect { .. }
            | RegistryError::RetriesExhausted { .. }
            | RegistryError::Status { .. }
            | RegistryError::Protocol { .. } => ErrorKind::Unreachable,
        };
        Self::new(kind, error)
    }
}

/// Settings for a [`RegistryClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Allow plain http (and self-signed certificates) for non-loopback registries.
    pub insecure: bool,
    /// Credentials to use; `None` looks them up in Docker's / podman's config files.
    pub credential: Option<Credential>,
    /// Requests sent at most per call when the registry answers 429 or 5xx.
    pub max_attempts: u32,
    /// The longest single wait between retries; a longer `Retry-After` fails at once.
    pub max_retry_wait: Duration,
    /// Time limit for small requests (ping, manifests, tokens). Blob streams have none: they
    /// are bounded by `idle_timeout` instead.
    pub request_timeout: Duration,
    /// A blob download (or its response headers) with no byte for this long has stalled: it
    /// is resumed from the byte reached.
    pub idle_timeout: Duration,
    /// Resumes allowed per blob download after a dropped or stalled connection.
    pub max_resumes: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            insecure: false,
            credential: None,
            max_attempts: 4,
            max_retry_wait: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            max_resumes: 5,
        }
    }
}

#[derive(Debug, Default)]
struct AuthState {
    challenge: Option<Challenge>,
    token: Option<BearerToken>,
}

/// A client for one repository on one registry. Clones share the connection pool and the
/// authorisation state.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    http: Client,
    base: Url,
    registry_host: String,
    repository: String,
    credential: Option<Credential>,
    options: ClientOptions,
    auth: Arc<Mutex<AuthState>>,
}

impl RegistryClient {
    /// Creates a client for the repository named by `reference` and pings the registry
    /// (`GET /v2/`) to learn how it wants to be authenticated.
    ///
    /// Loopback registries are spoken to over plain http. With `insecure`, other registries
    /// are tried over https (any certificate) first and plain http if that fails.
    pub fn connect(
        reference: &ImageReference,
        options: ClientOptions,
        cancel: &CancelToken,
    ) -> Result<Self, RegistryError> {
        let registry_host = reference.api_host().to_owned();
        let scheme = if reference.is_loopback() {
            "http"
        } else {
            "https"
        };
        let base_text = format!("{scheme}://{registry_host}/");
        let base = Url::parse(&base_text).map_err(|e| RegistryError::Protocol {
            url: base_text.clone(),
            reason: e.to_string(),
        })?;
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(None)
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("layerslayer/", env!("CARGO_PKG_VERSION")))
            .tls_danger_accept_invalid_certs(options.insecure)
            .build()
            .map_err(|e| RegistryError::Connect {
                url: base_text,
                reason: error_chain(&e),
            })?;
        let credential = options
            .credential
            .clone()
            .or_else(|| Credential::from_config_files(reference.registry()))
            .or_else(|| remembered_login(reference.registry()));
        log::debug!(
            "registry {registry_host}: credentials {}",
            match &credential {
                Some(Credential::Basic { username, .. }) => format!("for user {username}"),
                Some(Credential::IdentityToken(_)) => "an identity token".into(),
                None => "none (anonymous)".into(),
            }
        );
        let mut client = Self {
            http,
            base,
            registry_host,
            repository: reference.repository().to_owned(),
            credential,
            options,
            auth: Arc::default(),
        };
        match client.ping(cancel) {
            Err(RegistryError::Connect { .. })
                if client.options.insecure && client.base.scheme() == "https" =>
            {
                client
                    .base
                    .set_scheme("http")
                    .map_err(|()| RegistryError::Protocol {
                        url: client.base.to_string(),
                        reason: "cannot switch to plain http".into(),
                    })?;
                client.ping(cancel)?;
            }
            other => other?,
        }
        Ok(client)
    }

    /// `GET /v2/`: checks the registry speaks the API and records its auth challenge.
    fn ping(&self, cancel: &CancelToken) -> Result<(), RegistryError> {
        let url = self.url("v2/")?;
        let response = self.send_checked(
            || {
                self.http
                    .get(url.clone())
                    .timeout(self.options.request_timeout)
            },
            &url,
            cancel,
        )?;
        match response.status() {
            status if status.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED => {
                let challenge = challenge_of(response.headers());
                self.lock_auth().challenge = challenge;
                Ok(())
            }
            StatusCode::NOT_FOUND => Err(RegistryError::Protocol {
                url: redact_url(&url),
                reason: "this host does not serve the registry API (/v2/ is 404)".into(),
            }),
            status => Err(status_error(&url, status, response)),
        }
    }

    fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.base.join(path).map_err(|e| RegistryError::Protocol {
            url: format!("{}{path}", self.base),
            reason: e.to_string(),
        })
    }

    fn lock_auth(&self) -> std::sync::MutexGuard<'_, AuthState> {
        // A panic while holding this lock cannot leave the state inconsistent: recover it.
        self.auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends a request, retrying transient statuses (429, 5xx) with bounded, cancellable waits.
    /// Returns the first response that is not retryable.
    fn send_checked(
        &self,
        build: impl Fn() -> RequestBuilder,
        url: &Url,
        cancel: &CancelToken,
    ) -> Result<Response, RegistryError> {
        let mut attempt = 1;
        loop {
            if cancel.is_cancelled() {
                return Err(RegistryError::Cancelled);
            }
            let response = build().send().map_err(|e| {
                log::debug!("{} failed: {e}", redact_url(url));
                RegistryError::Connect {
                    url: redact_url(url),
                    reason: connect_hint(&e, url),
                }
            })?;
            let status = response.status();
            log::debug!("{} -> {status}", redact_url(url));
            let retryable = status == StatusCode::TOO_MANY_REQUESTS
                || matches!(status.as_u16(), 500 | 502 | 503 | 504);
            if !retryable {
                return Ok(response);
            }
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after_delay);
            let exhausted = |hint: String| RegistryError::RetriesExhausted {
                url: redact_url(url),
                status: status.as_u16(),
                attempts: attempt,
                hint,
            };
            if attempt >= self.options.max_attempts {
                return Err(exhausted(String::new()));
            }
            let wait = match retry_after {
                Some(wait) if wait > self.options.max_retry_wait => {
                    return Err(exhausted(format!(
                        "; the registry asks to wait {} s before retrying",
                        wait.as_secs()
                    )));
                }
                Some(wait) => wait,
                None => (Duration::from_millis(250) * 2u32.pow(attempt - 1))
                    .min(self.options.max_retry_wait),
            };
            if !cancel.sleep(wait) {
                return Err(RegistryError::Cancelled);
            }
            attempt += 1;
        }
    }

    /// Performs an authenticated GET of a registry resource, following redirects (dropping
    /// `Authorization` when the host changes) and refreshing credentials once on 401.
    fn get(
        &self,
        path: &str,
        headers: &[(HeaderName, &str)],
        timeout: Option<Duration>,
        what: &str,
        cancel: &CancelToken,
    ) -> Result<Response, RegistryError> {
        let mut url = self.url(path)?;
        let mut refreshed = false;
        let mut redirects = 0;
        loop {
            let on_registry = same_origin(&url, &self.base);
            if !on_registry
                && url.scheme() == "http"
                && !self.options.insecure
                && !url.host_str().is_some_and(is_loopback_host)
            {
                return Err(RegistryError::InsecureRefused {
                    host: url.host_str().unwrap_or_default().to_owned(),
                });
            }
            let authorization = if on_registry {
                self.authorization(cancel)?
            } else {
                None
            };
            let response = self.send_checked(
                || {
                    let mut request = self.http.get(url.clone());
                    for (name, value) in headers {
                        request = request.header(name, *value);
                    }
                    if let Some(value) = &authorization {
                        request = request.header(AUTHORIZATION, value);
                    }
                    if let Some(timeout) = timeout {
                        request = request.timeout(timeout);
                    }
                    request
                },
                &url,
                cancel,
            )?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if status.is_redirection() {
                redirects += 1;
                let target = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|location| url.join(location).ok());
                match target {
                    Some(next) if redirects <= MAX_REDIRECTS => {
                        log::debug!("redirected to {}", redact_url(&next));
                        url = next;
                        continue;
                    }
                    _ => {
                        return Err(RegistryError::Protocol {
                            url: redact_url(&url),
                            reason: format!("bad or endless redirect ({status})"),
                        });
                    }
                }
            }
            if status == StatusCode::UNAUTHORIZED && on_registry && !refreshed {
                refreshed = true;
                let challenge = challenge_of(response.headers());
                let mut state = self.lock_auth();
                state.token = None;
                if challenge.is_some() {
                    state.challenge = challenge;
                }
                if state.challenge.is_none() {
                    drop(state);
                    return Err(RegistryError::Unauthorized {
                        registry: self.registry_host.clone(),
                        detail: error_detail(response),
                    });
                }
                continue;
            }
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Unauthorized {
                    registry: self.registry_host.clone(),
                    detail: error_detail(response),
                },
                StatusCode::NOT_FOUND => RegistryError::NotFound {
                    what: what.to_owned(),
                    detail: error_detail(response),
                },
                status => status_error(&url, status, response),
            });
        }
    }

    /// The `Authorization` value for the registry, fetching a bearer token when needed.
    fn authorization(&self, cancel: &CancelToken) -> Result<Option<String>, RegistryError> {
        let mut state = self.lock_auth();
        match state.challenge.clone() {
            None => Ok(None),
            Some(Challenge::Basic) => {
                Ok(self.credential.as_ref().and_then(Credential::basic_header))
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                if let Some(token) = state.token.as_ref().filter(|t| !t.is_expired()) {
                    return Ok(Some(format!("Bearer {}", token.value)));
                }
                let scope = scope.unwrap_or_else(|| format!("repository:{}:pull", self.repository));
                let token = self.fetch_token(&realm, service.as_deref(), &scope, cancel)?;
                let header = format!("Bearer {}", token.value);
                state.token = Some(token);
                Ok(Some(header))
            }
        }
    }

    /// Asks the token service for a bearer token (anonymously, with Basic credentials, or
    /// exchanging an identity token).
    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        cancel: &CancelToken,
    ) -> Result<BearerToken, RegistryError> {
        let refused = |reason: String| RegistryError::RealmRefused {
            realm: realm.to_owned(),
            reason,
        };
        let realm_url = Url::parse(realm).map_err(|e| refused(e.to_string()))?;
        auth::realm_is_allowed(&realm_url, &self.registry_host, self.options.insecure)
            .map_err(refused)?;
        let response = self.send_checked(
            || {
                let request = match &self.credential {
                    Some(Credential::IdentityToken(refresh_token)) => {
                        let mut form = vec![
                            ("grant_type", "refresh_token"),
                            ("refresh_token", refresh_token.as_str()),
                            ("client_id", "layerslayer"),
                            ("scope", scope),
                        ];
                        if let Some(service) = service {
                            form.push(("service", service));
                        }
                        self.http.post(realm_url.clone()).form(&form)
                    }
                    credential => {
                        let mut query = vec![("scope", scope)];
                        if let Some(service) = service {
                            query.push(("service", service));
                        }
                        let request = self.http.get(realm_url.clone()).query(&query);
                        match credential.as_ref().and_then(Credential::basic_header) {
                            Some(basic) => request.header(AUTHORIZATION, basic),
                            None => request,
                        }
                    }
                };
                request.timeout(self.options.request_timeout)
            },
            &realm_url,
            cancel,
        )?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                registry: self.registry_host.clone(),
                detail: format!(
                    "the token service refused the credentials ({})",
                    error_detail(response)
                ),
            });
        }
        if !status.is_success() {
            return Err(status_error(&realm_url, status, response));
        }
        let body = read_limited(response, MAX_SMALL_BODY_BYTES, &realm_url)?;
        log::debug!(
            "token service {} answered for {scope} (token not shown)",
            redact_url(&realm_url)
        );
        auth::parse_token_response(&body).ok_or_else(|| RegistryError::Protocol {
            url: redact_url(&realm_url),
            reason: "the token response has no token".into(),
        })
    }
}

/// Pages followed at most by [`RegistryClient::catalog`] and [`RegistryClient::tags`].
const MAX_PAGES: usize = 10_000;

impl RegistryClient {
    /// The same registry connection (pool, login) for another repository of it.
    pub fn for_repository(&self, repository: &str) -> Self {
        Self {
            repository: repository.to_owned(),
            ..self.clone()
        }
    }

    /// The repositories the registry lists (`GET /v2/_catalog?n=PAGE`), following the `Link`
    /// header from page to page. A registry without a catalog answers `NotFound`
    /// (or `Unauthorized` when it is kept from this login).
    pub fn catalog(&self, page: usize, cancel: &CancelToken) -> Result<Vec<String>, RegistryError> {
        self.paged(
            &format!("v2/_catalog?n={page}"),
            "repositories",
            &format!("the catalog of {}", self.registry_host),
            cancel,
        )
    }

    /// The tags of this client's repository (`GET /v2/REPO/tags/list?n=PAGE`), following the
    /// `Link` header.
    pub fn tags(&self, page: usize, cancel: &CancelToken) -> Result<Vec<String>, RegistryError> {
        self.paged(
            &format!("v2/{}/tags/list?n={page}", self.repository),
            "tags",
            &format!("repository {}/{}", self.registry_host, self.repository),
            cancel,
        )
    }

    /// The strings of `field` over every page, from `first` on.
    fn paged(
        &self,
        first: &str,
        field: &str,
        what: &str,
        cancel: &CancelToken,
    ) -> Result<Vec<String>, RegistryError> {
        let mut path = first.to_owned();
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let response =
                self.get(&path, &[], Some(self.options.request_timeout), what, cancel)?;
            let url = response.url().clone();
            let next = response
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let body = read_limited(response, MAX_MANIFEST_BYTES, &url)?;
            let value: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                    url: redact_url(&url),
                    reason: format!("not a JSON list of {field}: {e}"),
                })?;
            // `null` is what distribution answers for a repository without tags.
            if let Some(items) = value.get(field).and_then(serde_json::Value::as_array) {
                all.extend(items.iter().filter_map(|v| v.as_str().map(str::to_owned)));
            }
            match next {
                Some(link) => path = link,
                None => return Ok(all),
            }
        }
        Err(RegistryError::Protocol {
            url: what.to_owned(),
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }
}

/// The target of a `Link` header's `rel="next"` (`</v2/_catalog?last=b&n=2>; rel="next"`).
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_owned())
    })
}

impl ImageSource for RegistryClient {
    fn describe(&self) -> String {
        format!("{}/{}", self.registry_host, self.repository)
    }

    fn fetch_manifest(
        &self,
        reference: &str,
        cancel: &CancelToken,
    ) -> Result<FetchedManifest, SourceError> {
        let path = format!("v2/{}/manifests/{reference}", self.repository);
        let what = format!(
            "image {}/{}:{reference}",
            self.registry_host, self.repository
        )
        .replace(":sha256:", "@sha256:");
        let response = self.get(
            &path,
            &[(ACCEPT, &media_type::ACCEPT_ALL.join(", "))],
            Some(self.options.request_timeout),
            &what,
            cancel,
        )?;
        let url = response.url().clone();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_limited(response, MAX_MANIFEST_BYTES, &url)?;
        let digest = format!("sha256:{:x}", Sha256::digest(&body));
        if reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError::Protocol {
                url: redact_url(&url),
                reason: format!("the manifest's digest is {digest}, not the requested {reference}"),
            }
            .into());
        }
        Ok(FetchedManifest {
            content_type,
            digest,
            body,
        })
    }

    fn open_blob(
        &self,
        descriptor: &Descriptor,
        cancel: &CancelToken,
    ) -> Result<BlobReader, SourceError> {
        self.open_blob_reporting(descriptor, cancel, Arc::new(|_: &Resumed| {}))
    }

    fn open_blob_reporting(
        &self,
        descriptor: &Descriptor,
        cancel: &CancelToken,
        on_resume: ResumeHook,
    ) -> Result<BlobReader, SourceError> {
        let end = (descriptor.size > 0).then_some(descriptor.size);
        let (blob, _) = ResumingBlob::start(
            self.opener(descriptor, end),
            0,
            end.map_or(BlobEnd::Unknown, BlobEnd::Blob),
            self.resume_policy(),
            cancel,
            on_resume,
        )?;
        Ok(Box::new(blob))
    }

    fn open_blob_range(
        &self,
        descriptor: &Descriptor,
        range: Range<u64>,
        cancel: &CancelToken,
    ) -> Result<RangeReply, SourceError> {
        // Within the blob: a registry answers a range past the end with the part that exists.
        let end = if descriptor.size > 0 {
            range.end.min(descriptor.size)
        } else {
            range.end
        };
        if end <= range.start {
            return Ok(RangeReply::Partial(Box::new(std::io::empty())));
        }
        let (blob, starts_at) = ResumingBlob::start(
            self.opener(descriptor, Some(end)),
            range.start,
            BlobEnd::Range(end),
            self.resume_policy(),
            cancel,
            Arc::new(|_: &Resumed| {}),
        )?;
        if starts_at != range.start {
            return Ok(RangeReply::Unsupported(
                "the registry ignored a Range request (answered 200 instead of 206)".into(),
            ));
        }
        Ok(RangeReply::Partial(Box::new(blob)))
    }
}

impl RegistryClient {
    fn resume_policy(&self) -> ResumePolicy {
        ResumePolicy {
            idle_timeout: self.options.idle_timeout,
            max_resumes: self.options.max_resumes,
            first_backoff: Duration::from_millis(100),
        }
    }

    /// Opens the blob from any offset up to `end` (exclusive), always from the registry URL
    /// (a redirect is followed afresh, with fresh authorisation if needed).
    fn opener(&self, descriptor: &Descriptor, end: Option<u64>) -> OpenAt {
        let client = self.clone();
        let path = format!("v2/{}/blobs/{}", self.repository, descriptor.digest);
        let what = format!(
            "blob {} in {}/{}",
            descriptor.digest, self.registry_host, self.repository
        );
        let size = descriptor.size;
        Arc::new(move |offset, cancel| {
            let range = match end {
                _ if offset == 0 && end.is_none_or(|end| end == size) => None,
                Some(end) => Some(format!("bytes={offset}-{}", end - 1)),
                None => Some(format!("bytes={offset}-")),
            };
            let headers: Vec<(HeaderName, &str)> =
                range.iter().map(|r| (RANGE, r.as_str())).collect();
            let response = client.get(&path, &headers, None, &what, cancel)?;
            let url = response.url().clone();
            let protocol = |reason: String| -> SourceError {
                RegistryError::Protocol {
                    url: redact_url(&url),
                    reason,
                }
                .into()
            };
            let starts_at = if response.status() == StatusCode::PARTIAL_CONTENT {
                let expected = format!("bytes {offset}-");
                let content_range = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !content_range.starts_with(&expected) {
                    return Err(protocol(format!(
                        "asked for bytes from {offset}, got Content-Range {content_range:?}"
                    )));
                }
                offset
            } else {
                let announced = response
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if let Some(length) = announced
                    && size > 0
                    && length > size
                {
                    return Err(protocol(format!(
                        "it announces {length} bytes for a blob the manifest says is {size} bytes"
                    )));
                }
                0
            };
            Ok(Opened {
                body: Box::new(response),
                starts_at,
            })
        })
    }
}

/// A `Retry-After` value as a wait: delay-seconds, or an HTTP-date (a date in the past
/// means now).
fn retry_after_delay(value: &str) -> Option<Duration> {
    let value = value.trim();
    match value.parse::<u64>() {
        Ok(seconds) => Some(Duration::from_secs(seconds)),
        Err(_) => {
            let date = httpdate::parse_http_date(value).ok()?;
            Some(
                date.duration_since(std::time::SystemTime::now())
                    .unwrap_or_default(),
            )
        }
    }
}

/// A URL for messages and logs: without user information, and with its query (which may be
/// a signature granting access, as on a CDN redirect) replaced by `?redacted`.
pub(crate) fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials (e.g. `data:`).
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if shown.query().is_some() {
        shown.set_query(Some("redacted"));
    }
    shown.to_string()
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn challenge_of(headers: &HeaderMap) -> Option<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Challenge::parse)
}

/// Reads a whole small body, refusing more than `limit` bytes.
fn read_limited(response: Response, limit: u64, url: &Url) -> Result<Vec<u8>, RegistryError> {
    let too_large = || RegistryError::Protocol {
        url: redact_url(url),
        reason: format!("the response is larger than {limit} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    response
        .take(limit + 1)
        .read_to_end(&mut body)
        .map_err(|e| RegistryError::Connect {
            url: redact_url(url),
            reason: format!("reading the response failed: {e}"),
        })?;
    if body.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(body)
}

/// The registry's explanation from an error body (`{"errors":[{"code","message"}]}`), or
/// the start of the body.
fn error_detail(response: Response) -> String {
    let status = response.status();
    let url = response.url().clone();
    let body = read_limited(response, MAX_SMALL_BODY_BYTES, &url).unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(errors) = serde_json::from_slice::<Errors>(&body)
        && !errors.errors.is_empty()
    {
        return errors
            .errors
            .iter()
            .map(|e| format!("{} {}", e.code, e.message).trim().to_owned())
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text: String = String::from_utf8_lossy(&body)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("no details").to_owned()
    } else {
        text.trim().to_owned()
    }
}

fn status_error(url: &Url, status: StatusCode, response: Response) -> RegistryError {
    RegistryError::Status {
        url: redact_url(url),
        status: status.as_u16(),
        detail: error_detail(response),
    }
}

/// A transport error with its causes, and a hint when https met a plain-http server.
fn connect_hint(error: &reqwest::Error, url: &Url) -> String {
    let chain = error_chain(error);
    if url.scheme() == "https"
        && (chain.contains("InvalidContentType") || chain.contains("corrupt message"))
    {
        let host = url.host_str().map(host_without_port).unwrap_or_default();
        format!("{chain} (the server at {host} may speak plain http: pass --insecure)")
    } else {
        chain
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The login the user asked to remember for `registry` (`--remember`), from the OS keyring.
fn remembered_login(registry: &str) -> Option<Credential> {
    #[cfg(feature = "keyring")]
    {
        stored::recall(registry)
    }
    #[cfg(not(feature = "keyring"))]
    {
        let _ = registry;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_name_the_next_page() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://r/a>; rel="prev", <https://r/b>; rel="next""#).as_deref(),
            Some("https://r/b")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }
}
