//! Closed-loop load: a fixed number of POST requests sent by concurrent
//! workers (tokio tasks sharing one HTTP client), each request timed on its
//! own from sending to the last byte of the answer.

use reqwest::StatusCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many failures a [`Phase`] keeps described.
const FAILURES_KEPT: usize = 10;

/// Where the requests go, and as whom.
#[derive(Debug, Clone)]
pub struct Target {
    /// The shared client.
    pub http: reqwest::Client,
    /// The full URL to POST to.
    pub url: String,
    /// Bearer token.
    pub token: String,
}

/// What the workers of one phase found.
#[derive(Debug)]
pub struct Phase {
    /// Latencies of the requests that succeeded, in no order.
    pub latencies: Vec<Duration>,
    /// How many requests failed.
    pub failed: u64,
    /// The first few failures, described.
    pub failures: Vec<String>,
    /// From the first request sent to the last answer read.
    pub wall: Duration,
}

/// Sends requests `0 .. count` from `workers` tasks: request `k` carries
/// `body(k)` (built before its clock starts) and succeeds if `check` accepts
/// the answer's status and body.
pub async fn run<B, C>(target: &Target, count: u64, workers: u64, body: B, check: C) -> Phase
where
    B: Fn(u64) -> Vec<u8> + Send + Sync + 'static,
    C: Fn(StatusCode, &[u8]) -> Result<(), String> + Send + Sync + 'static,
{
    let next = Arc::new(AtomicU64::new(0));
    let body = Arc::new(body);
    let check = Arc::new(check);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.min(count) {
        let target = target.clone();
        let (next, body, check) = (Arc::clone(&next), Arc::clone(&body), Arc::clone(&check));
        tasks.spawn(async move {
            let mut lat = Vec::new();
            let mut failures = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= count {
                    break;
                }
                let b = body(k);
                let t = Instant::now();
                let answer = post(&target, b).await;
                let elapsed = t.elapsed();
                match answer.and_then(|(status, bytes)| check(status, &bytes)) {
                    Ok(()) => lat.push(elapsed),
                    Err(e) => failures.push(format!("request {k}: {e}")),
                }
            }
            (lat, failures)
        });
    }
    let mut out = Phase {
        latencies: Vec::with_capacity(usize::try_from(count).unwrap_or(0)),
        failed: 0,
        failures: Vec::new(),
        wall: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        let (lat, failures) = match joined {
            Ok(r) => r,
            Err(e) => (Vec::new(), vec![format!("worker failed: {e}")]),
        };
        out.latencies.extend(lat);
        out.failed += failures.len() as u64;
        let room = FAILURES_KEPT.saturating_sub(out.failures.len());
        out.failures.extend(failures.into_iter().take(room));
    }
    out.wall = started.elapsed();
    out
}

/// Sends one request and reads the whole answer.
pub(crate) async fn post(target: &Target, body: Vec<u8>) -> Result<(StatusCode, Vec<u8>), String> {
    let res = target
        .http
        .post(&target.url)
        .bearer_auth(&target.token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = res.status();
    let bytes = res
        .bytes()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok((status, bytes.to_vec()))
}
