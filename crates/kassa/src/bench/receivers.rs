//! The receivers of the `callbacks` scenario: HTTP servers on loopback, each
//! on an address of its own (127.0.0.1 to 127.0.0.4) so that each is a host
//! of its own to the pipeline's per-host limit. Each answers 200 after its
//! latency, or never, and records every callback it is sent: its id (the
//! `webhook-id` header) and when it answered (for the one that never
//! answers, when the request arrived).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;

/// What the receivers saw: a callback id and an instant, one per request.
type Log = Arc<Mutex<Vec<(String, Instant)>>>;

pub(super) struct Receiver {
    pub name: &'static str,
    /// How long it takes to answer; None: it never does.
    pub latency: Option<Duration>,
    /// Where its merchant's callbacks go.
    pub url: String,
    log: Log,
}

impl Receiver {
    pub fn seen(&self) -> usize {
        self.log.lock().expect("never poisoned").len()
    }

    pub fn records(&self) -> Vec<(String, Instant)> {
        self.log.lock().expect("never poisoned").clone()
    }
}

/// The receivers, on a runtime of their own (so that they do not share the
/// in-process server's scheduler); dropping them closes every connection,
/// which ends the attempts still waiting on the one that never answers.
pub(super) struct Receivers {
    pub list: Vec<Receiver>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// The healthy receivers' latencies, then the one that never answers.
pub(super) const HEALTHY: [(&str, u64); 3] = [("0 ms", 0), ("50 ms", 50), ("1 s", 1000)];
pub(super) const DEAD: &str = "never answers";

impl Receivers {
    pub fn start(with_dead: bool) -> anyhow::Result<Receivers> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
            .enable_all()
            .build()?;
        let mut kinds: Vec<(&'static str, Option<Duration>)> = HEALTHY
            .iter()
            .map(|&(name, ms)| (name, Some(Duration::from_millis(ms))))
            .collect();
        if with_dead {
            kinds.push((DEAD, None));
        }
        let mut list = Vec::new();
        for (i, (name, latency)) in kinds.into_iter().enumerate() {
            let listener = std::net::TcpListener::bind(format!("127.0.0.{}:0", i + 1))?;
            listener.set_nonblocking(true)?;
            let addr = listener.local_addr()?;
            let log: Log = Arc::default();
            let _entered = runtime.enter();
            let listener = tokio::net::TcpListener::from_std(listener)?;
            runtime.spawn(accept(listener, latency, log.clone()));
            list.push(Receiver {
                name,
                latency,
                url: format!("http://{addr}/callbacks"),
                log,
            });
        }
        Ok(Receivers {
            list,
            runtime: Some(runtime),
        })
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept(listener: tokio::net::TcpListener, latency: Option<Duration>, log: Log) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let log = log.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| answer(request, latency, log.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
    latency: Option<Duration>,
    log: Log,
) -> Result<hyper::Response<Empty<Bytes>>, Infallible> {
    let id = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let _ = request.into_body().collect().await;
    let Some(latency) = latency else {
        log.lock()
            .expect("never poisoned")
            .push((id, Instant::now()));
        return std::future::pending().await;
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    log.lock()
        .expect("never poisoned")
        .push((id, Instant::now()));
    Ok(hyper::Response::new(Empty::new()))
}
