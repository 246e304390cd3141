//! Metrics: the Prometheus recorder every part of Kassa records into (the
//! engine and the store through the `metrics` facade), the request metrics of
//! each face, and `GET /metrics`, which the operator's token guards.
//!
//! Labels are bounded: a face's name, the route's template (never the raw
//! path), the method from a fixed list, the status code.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use metrics::SharedString;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::trader::OperatorAuth;
use crate::AppState;

/// Seconds: from a cached credential lookup (~100 µs) to the store timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Jobs in one SQLite commit: 1 when idle, up to the batch bound of 1024.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder, once; later calls return the same
/// handle. Call it before the store opens, so that the store's metrics
/// reach it.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("kassa_store_write_batch_jobs".into()),
                    BATCH_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty");
        let handle = builder
            .install_recorder()
            .expect("no other metrics recorder is installed in this process");
        describe();
        kassa_engine::telemetry::describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        "kassa_http_requests_total",
        Unit::Count,
        "HTTP requests answered, by face, route template, method and status code."
    );
    describe_histogram!(
        "kassa_http_request_duration_seconds",
        Unit::Seconds,
        "Time from routing a request to its response head, by face, route template and method."
    );
}

/// Whether [`install`] was called: without it, no face is measured and no
/// `/metrics` is served.
pub fn installed() -> bool {
    HANDLE.get().is_some()
}

/// Measures every matched route of `routes` as requests to `face`.
pub(crate) fn measured(face: &'static str, routes: Router<AppState>) -> Router<AppState> {
    if !installed() {
        return routes;
    }
    routes.route_layer(axum::middleware::from_fn(
        move |request: Request, next: Next| record(face, request, next),
    ))
}

async fn record(face: &'static str, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => SharedString::from(path.as_str().to_owned()),
        None => SharedString::const_str("unmatched"),
    };
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = status_label(response.status());
    metrics::counter!(
        "kassa_http_requests_total",
        "face" => face, "route" => route.clone(), "method" => method, "status" => status
    )
    .increment(1);
    metrics::histogram!(
        "kassa_http_request_duration_seconds",
        "face" => face, "route" => route, "method" => method
    )
    .record(started.elapsed());
    response
}

/// A request no route matched: counted apart, its path never a label.
pub(crate) fn unmatched(face: &'static str, status: StatusCode) {
    if !installed() {
        return;
    }
    metrics::counter!(
        "kassa_http_requests_total",
        "face" => face, "route" => "unmatched", "method" => "any", "status" => status_label(status)
    )
    .increment(1);
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_label(status: StatusCode) -> SharedString {
    let text = match status.as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        302 => "302",
        303 => "303",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        other => return SharedString::from(other.to_string()),
    };
    SharedString::const_str(text)
}

/// `GET /metrics`: the Prometheus text format, for the operator's token.
/// The gauges read from the database are refreshed first; when the database
/// does not answer, the rest is still served and `kassa_gauges_fresh` is 0.
pub(crate) async fn scrape(_: OperatorAuth, State(app): State<AppState>) -> Response {
    let handle = install();
    let fresh = match app.engine.refresh_gauges().await {
        Ok(()) => 1.0,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the database's gauges were not refreshed");
            0.0
        }
    };
    metrics::gauge!("kassa_gauges_fresh").set(fresh);
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
