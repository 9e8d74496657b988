//! Prometheus metrics, one registry per node (several nodes may share a
//! process in tests and benchmarks, so nothing here is global).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabel {
    method: String,
    status: u16,
}

/// The node's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    submissions: Family<OutcomeLabel, Counter>,
    case_events: Family<KindLabel, Counter>,
    acceptance_seconds: Histogram,
    queue_wait_seconds: Histogram,
    http_requests: Family<HttpLabel, Counter>,
    login_failures: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("onewindow");
        let submissions = Family::<OutcomeLabel, Counter>::default();
        r.register(
            "submissions",
            "Submissions at the window by outcome document",
            submissions.clone(),
        );
        let case_events = Family::<KindLabel, Counter>::default();
        r.register(
            "case_events",
            "Back-office case events by kind",
            case_events.clone(),
        );
        let acceptance_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        r.register(
            "acceptance_seconds",
            "Time to decide and store a submission",
            acceptance_seconds.clone(),
        );
        let queue_wait_seconds = Histogram::new(exponential_buckets(30.0, 2.0, 10));
        r.register(
            "queue_wait_seconds",
            "Waiting time from taking a number to being called",
            queue_wait_seconds.clone(),
        );
        let http_requests = Family::<HttpLabel, Counter>::default();
        r.register(
            "http_requests",
            "HTTP requests by method and status",
            http_requests.clone(),
        );
        let login_failures = Counter::default();
        r.register(
            "login_failures",
            "Failed staff logins",
            login_failures.clone(),
        );
        Self {
            registry: Arc::new(r),
            submissions,
            case_events,
            acceptance_seconds,
            queue_wait_seconds,
            http_requests,
            login_failures,
        }
    }

    /// Counts a submission and its latency.
    pub fn case_submitted(&self, outcome: &str, took: Duration) {
        self.submissions
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
        if !took.is_zero() {
            self.acceptance_seconds.observe(took.as_secs_f64());
        }
    }

    /// Counts a back-office event.
    pub fn case_event(&self, kind: &str) {
        self.case_events
            .get_or_create(&KindLabel {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Records a queue waiting time.
    pub fn queue_wait(&self, wait_ms: i64) {
        self.queue_wait_seconds
            .observe(wait_ms.max(0) as f64 / 1000.0);
    }

    /// Counts an HTTP request.
    pub fn http_request(&self, method: &str, status: u16) {
        self.http_requests
            .get_or_create(&HttpLabel {
                method: method.to_owned(),
                status,
            })
            .inc();
    }

    /// Counts a failed login.
    pub fn login_failed(&self) {
        self.login_failures.inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics");
        }
        out
    }
}
