//! A loopback proxy in front of a real [`super::TestRegistry`] for what the registry will not
//! do on demand: refuse some repositories (401), hold a blob until the test lets it go (to
//! stop a client at a known point without sleeps), and count the bytes each request sent.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::fault::{Body, FaultServer, Reply, Request};

/// Headers passed on in each direction.
const REQUEST_HEADERS: [&str; 3] = ["accept", "range", "authorization"];
const REPLY_HEADERS: [&str; 7] = [
    "content-type",
    "docker-content-digest",
    "link",
    "content-range",
    "accept-ranges",
    "www-authenticate",
    "docker-distribution-api-version",
];

/// A signal one side raises and the other waits for.
#[derive(Default)]
struct Flag {
    raised: Mutex<bool>,
    changed: Condvar,
}

impl Flag {
    fn raise(&self) {
        *self.raised.lock().expect("flag") = true;
        self.changed.notify_all();
    }

    /// Waits until raised; false when `timeout` passed first.
    fn wait(&self, timeout: Duration) -> bool {
        let raised = self.raised.lock().expect("flag");
        let (raised, _) = self
            .changed
            .wait_timeout_while(raised, timeout, |raised| !*raised)
            .expect("flag");
        *raised
    }
}

/// One request the proxy answered: its method, path and the body bytes it sent back.
#[derive(Debug, Clone)]
pub struct Served {
    /// `GET`, `HEAD`.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Status sent back.
    pub status: u16,
    /// Body bytes sent back.
    pub bytes: u64,
}

/// The proxy; stops on drop. Held requests are let go on drop too.
pub struct RegistryProxy {
    server: FaultServer,
    served: Arc<Mutex<Vec<Served>>>,
    arrived: Arc<Flag>,
    released: Arc<Flag>,
}

impl RegistryProxy {
    /// Proxies `upstream` (`127.0.0.1:PORT`); every request for a repository in `refused`
    /// answers 401; a GET of a blob in `held` waits until [`Self::release`].
    pub fn start(upstream: &str, refused: &[&str], held: &[String]) -> Self {
        let upstream = format!("http://{upstream}");
        let refused: Vec<String> = refused.iter().map(|r| format!("/v2/{r}/")).collect();
        let held = held.to_vec();
        let served = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Flag::default());
        let released = Arc::new(Flag::default());
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let (log, arrived_here, released_here) = (
            Arc::clone(&served),
            Arc::clone(&arrived),
            Arc::clone(&released),
        );
        let server = FaultServer::start(move |request: &Request| {
            let path = request.path.split('?').next().unwrap_or_default();
            let reply = if refused.iter().any(|r| path.starts_with(r.as_str())) {
                Reply::bytes(
                    401,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                )
                .header("Content-Type", "application/json")
                .header("WWW-Authenticate", r#"Basic realm="proxy""#)
            } else {
                if request.method == "GET"
                    && path.contains("/blobs/")
                    && held.iter().any(|digest| path.ends_with(digest.as_str()))
                {
                    arrived_here.raise();
                    released_here.wait(Duration::from_secs(300));
                }
                forward(&client, &upstream, request)
            };
            let bytes = match &reply.body {
                Body::Bytes(bytes) => bytes.len() as u64,
                Body::Stream(_) => 0,
            };
            log.lock().expect("log").push(Served {
                method: request.method.clone(),
                path: request.path.clone(),
                status: reply.status,
                bytes: if request.method == "HEAD" { 0 } else { bytes },
            });
            reply
        });
        Self {
            server,
            served,
            arrived,
            released,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.server.addr()
    }

    /// Blocks until a held blob was asked for; panics after a minute.
    pub fn wait_until_held(&self) {
        assert!(
            self.arrived.wait(Duration::from_secs(60)),
            "the held blob was never asked for"
        );
    }

    /// Lets held requests (and later ones) through.
    pub fn release(&self) {
        self.released.raise();
    }

    /// Every request answered so far, in order.
    pub fn served(&self) -> Vec<Served> {
        self.served.lock().expect("log").clone()
    }
}

impl Drop for RegistryProxy {
    fn drop(&mut self) {
        self.released.raise();
    }
}

fn forward(client: &reqwest::blocking::Client, upstream: &str, request: &Request) -> Reply {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let mut outgoing = client.request(method, format!("{upstream}{}", request.path));
    for name in REQUEST_HEADERS {
        if let Some(value) = request.header(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let response = match outgoing.send() {
        Ok(response) => response,
        Err(error) => return Reply::bytes(502, error.to_string()),
    };
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = REPLY_HEADERS
        .iter()
        .filter_map(|name| {
            let value = response.headers().get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), value.to_owned()))
        })
        .collect();
    let announced = response.content_length();
    let body = response.bytes().map(|b| b.to_vec()).unwrap_or_default();
    let mut reply = Reply::bytes(status, body);
    if request.method == "HEAD" {
        reply.content_length = announced;
    }
    reply.headers = headers;
    reply
}
