//! A merchant's callback endpoint for the tests: an HTTP server on
//! 127.0.0.1:0 that records every request (headers and raw body) and answers
//! from a script of replies, then with a default one.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use serde_json::Value;
use tokio::net::TcpSocket;

/// How long a test waits for the workers to act before it fails.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long a test watches for something that must not happen.
pub const GRACE: Duration = Duration::from_millis(300);

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// When the request came (before it was answered).
    pub at: std::time::Instant,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    /// A header that must be present, as text.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .expect("header is text")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("callback body is JSON")
    }

    /// The status the callback announces (`data.attributes.status`).
    pub fn status(&self) -> String {
        self.json()["data"]["attributes"]["status"]
            .as_str()
            .expect("data.attributes.status")
            .to_string()
    }
}

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    Status(u16),
    /// Waits before answering.
    Slow(Duration, u16),
}

struct Shared {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    otherwise: Mutex<Reply>,
}

/// A port held for a receiver that is not listening yet: connections to it
/// are refused (the merchant's endpoint is down).
pub struct Reserved {
    socket: TcpSocket,
    pub addr: SocketAddr,
}

impl Reserved {
    pub fn url(&self) -> String {
        format!("http://{}/callbacks", self.addr)
    }

    /// Starts listening on the reserved port.
    pub fn start(self, script: &[u16], otherwise: u16) -> Receiver {
        let listener = self.socket.listen(1024).expect("listen");
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            script: Mutex::new(script.iter().map(|c| Reply::Status(*c)).collect()),
            otherwise: Mutex::new(Reply::Status(otherwise)),
        });
        let app = Router::new().fallback(record).with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver serves");
        });
        Receiver {
            addr: self.addr,
            shared,
            task,
        }
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    shared.received.lock().unwrap().push(Received {
        at: std::time::Instant::now(),
        path: uri.path().to_string(),
        headers,
        body,
    });
    let scripted = shared.script.lock().unwrap().pop_front();
    let reply = scripted.unwrap_or_else(|| *shared.otherwise.lock().unwrap());
    let code = match reply {
        Reply::Status(code) => code,
        Reply::Slow(delay, code) => {
            tokio::time::sleep(delay).await;
            code
        }
    };
    StatusCode::from_u16(code).expect("a valid status code")
}

impl Receiver {
    /// Holds a port without listening on it yet.
    pub fn reserve() -> Reserved {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
        let addr = socket.local_addr().expect("local addr");
        Reserved { socket, addr }
    }

    /// Answers with `script` in order, then with `otherwise`.
    pub fn start(script: &[u16], otherwise: u16) -> Receiver {
        Self::reserve().start(script, otherwise)
    }

    pub fn url(&self) -> String {
        format!("http://{}/callbacks", self.addr)
    }

    /// Answers every later request with `reply`, dropping what is left of
    /// the script.
    pub fn answer_with(&self, reply: Reply) {
        self.shared.script.lock().unwrap().clear();
        *self.shared.otherwise.lock().unwrap() = reply;
    }

    /// Appends replies to the script.
    pub fn then(&self, replies: &[Reply]) {
        self.shared
            .script
            .lock()
            .unwrap()
            .extend(replies.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.received.lock().unwrap().len()
    }

    /// Waits until exactly `n` requests have come (fails on fewer after
    /// [`WAIT`], or on more), and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let count = self.count();
            assert!(count <= n, "expected {n} requests, got {count}");
            if count == n {
                return self.received();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for request {n}; got {count}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Watches for [`GRACE`] and fails when the count moves from `n`.
    pub async fn stays_at(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + GRACE;
        while tokio::time::Instant::now() < deadline {
            assert_eq!(self.count(), n, "an unexpected request came");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(self.count(), n, "an unexpected request came");
    }
}
