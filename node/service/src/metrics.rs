//! Prometheus metrics, one registry per node (several nodes may share a
//! process in tests and benchmarks, so nothing here is global).

use federation::replication::Direction;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabel {
    version: String,
    node: String,
}

/// A link, by the id of the node at its other end.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabel {
    peer: String,
}

/// One flow of a link: `up` (child to parent) or `down`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlowLabel {
    peer: String,
    flow: String,
}

/// A refusal on a link, by its stable code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    peer: String,
    code: String,
}

fn flow_label(peer: &str, flow: Direction) -> FlowLabel {
    FlowLabel {
        peer: peer.to_owned(),
        flow: match flow {
            Direction::Up => "up",
            Direction::Down => "down",
        }
        .to_owned(),
    }
}

fn apply_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

/// The metrics of the links to the parent and the children.
struct LinkMetrics {
    connected: Family<PeerLabel, Gauge>,
    backlog_entries: Family<FlowLabel, Gauge>,
    acked_sequence: Family<FlowLabel, Gauge>,
    oldest_unacked_age_seconds: Family<FlowLabel, Gauge<f64, AtomicU64>>,
    batches_sent: Family<FlowLabel, Counter>,
    batches_received: Family<FlowLabel, Counter>,
    bytes_sent: Family<PeerLabel, Counter>,
    bytes_received: Family<PeerLabel, Counter>,
    entries_applied: Family<FlowLabel, Counter>,
    refusals_sent: Family<CodeLabel, Counter>,
    refusals_received: Family<CodeLabel, Counter>,
    refusals_in_a_row: Family<PeerLabel, Gauge>,
    held_back: Family<PeerLabel, Counter>,
    waiting_for_catalogue: Family<PeerLabel, Gauge>,
    apply_seconds: Family<FlowLabel, Histogram, fn() -> Histogram>,
    fsyncs: Family<FlowLabel, Counter>,
    /// Since when (node clock, ms) each flow's backlog has been non-empty;
    /// a flow whose backlog is empty is absent.
    backlog_since_ms: Mutex<HashMap<FlowLabel, i64>>,
    /// The newest session of each peer: only it may mark the link down (a
    /// newer connection from a child replaces its older one, whose session
    /// may end after the new one began).
    sessions: Mutex<HashMap<String, u64>>,
    next_session: AtomicU64,
}

impl LinkMetrics {
    fn register(r: &mut Registry) -> Self {
        let m = Self {
            connected: Family::default(),
            backlog_entries: Family::default(),
            acked_sequence: Family::default(),
            oldest_unacked_age_seconds: Family::default(),
            batches_sent: Family::default(),
            batches_received: Family::default(),
            bytes_sent: Family::default(),
            bytes_received: Family::default(),
            entries_applied: Family::default(),
            refusals_sent: Family::default(),
            refusals_received: Family::default(),
            refusals_in_a_row: Family::default(),
            held_back: Family::default(),
            waiting_for_catalogue: Family::default(),
            apply_seconds: Family::new_with_constructor(apply_buckets),
            fsyncs: Family::default(),
            backlog_since_ms: Mutex::default(),
            sessions: Mutex::default(),
            next_session: AtomicU64::new(0),
        };
        r.register(
            "link_connected",
            "Is a session with the peer up (1) or not (0)",
            m.connected.clone(),
        );
        r.register(
            "link_backlog_entries",
            "Entries of the flow this node sends that the peer has not acknowledged",
            m.backlog_entries.clone(),
        );
        r.register(
            "link_acked_sequence",
            "The local sequence the peer acknowledged of the flow this node sends",
            m.acked_sequence.clone(),
        );
        r.register(
            "link_oldest_unacked_age_seconds",
            "Time since the backlog of the flow this node sends was last empty (0 when empty)",
            m.oldest_unacked_age_seconds.clone(),
        );
        r.register(
            "link_batches_sent",
            "Batches sent to the peer",
            m.batches_sent.clone(),
        );
        r.register(
            "link_batches_received",
            "Batches received from the peer",
            m.batches_received.clone(),
        );
        r.register(
            "link_bytes_sent",
            "Frame payload bytes sent to the peer (every message)",
            m.bytes_sent.clone(),
        );
        r.register(
            "link_bytes_received",
            "Frame payload bytes received from the peer (every message)",
            m.bytes_received.clone(),
        );
        r.register(
            "link_entries_applied",
            "Entries from the peer stored by a committed batch",
            m.entries_applied.clone(),
        );
        r.register(
            "link_refusals_sent",
            "Refusals (Reject) sent to the peer by code",
            m.refusals_sent.clone(),
        );
        r.register(
            "link_refusals_received",
            "Refusals (Reject) received from the peer by code",
            m.refusals_received.clone(),
        );
        r.register(
            "link_refusals_in_a_row",
            "Sessions with the peer that ended refused since the last that made progress",
            m.refusals_in_a_row.clone(),
        );
        r.register(
            "link_held_back",
            "Batches on the link cut because an entry names a catalogue version not held yet",
            m.held_back.clone(),
        );
        r.register(
            "link_waiting_for_catalogue",
            "The catalogue version entries on the link wait for (0: none)",
            m.waiting_for_catalogue.clone(),
        );
        r.register(
            "link_apply_seconds",
            "Time to apply a batch from the peer",
            m.apply_seconds.clone(),
        );
        r.register(
            "link_fsyncs",
            "Write transactions committed applying batches from the peer",
            m.fsyncs.clone(),
        );
        m
    }
}

/// The session of a link is up while this lives (see
/// [`Metrics::link_connected`]).
pub struct LinkConnected {
    links: Arc<LinkMetrics>,
    peer: String,
    session: u64,
}

impl Drop for LinkConnected {
    fn drop(&mut self) {
        let newest = self
            .links
            .sessions
            .lock()
            .map(|mut s| {
                let newest = s.get(&self.peer) == Some(&self.session);
                if newest {
                    s.remove(&self.peer);
                }
                newest
            })
            .unwrap_or(true);
        if newest {
            self.links
                .connected
                .get_or_create(&PeerLabel {
                    peer: self.peer.clone(),
                })
                .set(0);
        }
    }
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
    login_lockouts: Counter,
    file_bytes_fetched: Counter,
    webhook_deliveries: Family<OutcomeLabel, Counter>,
    sections_filled: Counter,
    sections_refused: Counter,
    build_info: Family<BuildLabel, Gauge>,
    links: Arc<LinkMetrics>,
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
        let login_lockouts = Counter::default();
        r.register(
            "login_lockouts",
            "Accounts and addresses locked after too many failed logins",
            login_lockouts.clone(),
        );
        let file_bytes_fetched = Counter::default();
        r.register(
            "file_bytes_fetched",
            "Bytes of case files fetched from the halls that keep them",
            file_bytes_fetched.clone(),
        );
        let webhook_deliveries = Family::<OutcomeLabel, Counter>::default();
        r.register(
            "webhook_deliveries",
            "Webhook delivery attempts of the department systems' feed by outcome (delivered, failed, dead)",
            webhook_deliveries.clone(),
        );
        let sections_filled = Counter::default();
        r.register(
            "personal_sections_filled",
            "Withheld personal sections of held cases fetched from below and filled in",
            sections_filled.clone(),
        );
        let sections_refused = Counter::default();
        r.register(
            "personal_sections_refused",
            "Fetched personal sections refused because their hash was not the entry's",
            sections_refused.clone(),
        );
        let build_info = Family::<BuildLabel, Gauge>::default();
        r.register(
            "build_info",
            "The software version and node id (always 1)",
            build_info.clone(),
        );
        let links = Arc::new(LinkMetrics::register(&mut r));
        Self {
            registry: Arc::new(r),
            submissions,
            case_events,
            acceptance_seconds,
            queue_wait_seconds,
            http_requests,
            login_failures,
            login_lockouts,
            file_bytes_fetched,
            webhook_deliveries,
            sections_filled,
            sections_refused,
            build_info,
            links,
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

    /// Counts a webhook delivery attempt: `delivered`, `failed` (to be
    /// tried again) or `dead` (the last allowed attempt failed).
    pub fn webhook_delivery(&self, outcome: &str) {
        self.webhook_deliveries
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
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

    /// Counts a lockout of an account or an address.
    pub fn login_lockout(&self) {
        self.login_lockouts.inc();
    }

    /// Counts the bytes of a piece of a case's file fetched from the hall
    /// that keeps it.
    pub fn file_bytes_fetched(&self, bytes: u64) {
        self.file_bytes_fetched.inc_by(bytes);
    }

    /// Counts withheld personal sections filled in.
    pub fn sections_filled(&self, n: u64) {
        self.sections_filled.inc_by(n);
    }

    /// Counts fetched personal sections refused (hash not the entry's).
    pub fn sections_refused(&self, n: u64) {
        self.sections_refused.inc_by(n);
    }

    /// A session with `peer` is up until the returned guard is dropped.
    pub fn link_connected(&self, peer: &str) -> LinkConnected {
        let session = self.links.next_session.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = self.links.sessions.lock() {
            s.insert(peer.to_owned(), session);
        }
        self.links
            .connected
            .get_or_create(&PeerLabel {
                peer: peer.to_owned(),
            })
            .set(1);
        LinkConnected {
            links: Arc::clone(&self.links),
            peer: peer.to_owned(),
            session,
        }
    }

    /// The state of the sender of the flow this node sends to `peer`, at
    /// `now_ms` (the node's clock).
    pub fn link_sender(&self, peer: &str, flow: Direction, now_ms: i64, backlog: u64, acked: u64) {
        let label = flow_label(peer, flow);
        let l = &self.links;
        l.backlog_entries
            .get_or_create(&label)
            .set(i64::try_from(backlog).unwrap_or(i64::MAX));
        l.acked_sequence
            .get_or_create(&label)
            .set(i64::try_from(acked).unwrap_or(i64::MAX));
        if let Ok(mut since) = l.backlog_since_ms.lock() {
            if backlog == 0 {
                since.remove(&label);
                l.oldest_unacked_age_seconds.get_or_create(&label).set(0.0);
            } else {
                since.entry(label).or_insert(now_ms);
            }
        }
    }

    /// A frame of `bytes` payload went to `peer`; a batch of `flow` if any.
    pub fn link_sent(&self, peer: &str, bytes: usize, batch: Option<Direction>) {
        let l = &self.links;
        l.bytes_sent
            .get_or_create(&PeerLabel {
                peer: peer.to_owned(),
            })
            .inc_by(bytes as u64);
        if let Some(flow) = batch {
            l.batches_sent.get_or_create(&flow_label(peer, flow)).inc();
        }
    }

    /// A frame of `bytes` payload came from `peer`.
    pub fn link_received_bytes(&self, peer: &str, bytes: usize) {
        self.links
            .bytes_received
            .get_or_create(&PeerLabel {
                peer: peer.to_owned(),
            })
            .inc_by(bytes as u64);
    }

    /// A batch of `flow` came from `peer`.
    pub fn link_batch_received(&self, peer: &str, flow: Direction) {
        self.links
            .batches_received
            .get_or_create(&flow_label(peer, flow))
            .inc();
    }

    /// Applying a batch from `peer` took `took`, stored `entries` and
    /// committed a write transaction or not.
    pub fn link_applied(
        &self,
        peer: &str,
        flow: Direction,
        took: Duration,
        entries: u64,
        committed: bool,
    ) {
        let label = flow_label(peer, flow);
        let l = &self.links;
        l.apply_seconds
            .get_or_create(&label)
            .observe(took.as_secs_f64());
        if entries > 0 {
            l.entries_applied.get_or_create(&label).inc_by(entries);
        }
        if committed {
            l.fsyncs.get_or_create(&label).inc();
        }
    }

    /// This node refused `peer` with `code` (a Reject sent).
    pub fn link_refusal_sent(&self, peer: &str, code: &str) {
        self.links
            .refusals_sent
            .get_or_create(&CodeLabel {
                peer: peer.to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    /// `peer` refused this node with `code` (a Reject received).
    pub fn link_refusal_received(&self, peer: &str, code: &str) {
        self.links
            .refusals_received
            .get_or_create(&CodeLabel {
                peer: peer.to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    /// Sessions with `peer` that ended refused, in a row.
    pub fn link_refusals_in_a_row(&self, peer: &str, count: u32) {
        self.links
            .refusals_in_a_row
            .get_or_create(&PeerLabel {
                peer: peer.to_owned(),
            })
            .set(i64::from(count));
    }

    /// A batch on the link to `peer` was cut: an entry names catalogue
    /// `version`, not held yet.
    pub fn link_held_back(&self, peer: &str, version: i64) {
        self.links
            .held_back
            .get_or_create(&PeerLabel {
                peer: peer.to_owned(),
            })
            .inc();
        self.link_waiting_for_catalogue(peer, Some(version));
    }

    /// The catalogue version entries on the link to `peer` wait for.
    pub fn link_waiting_for_catalogue(&self, peer: &str, version: Option<i64>) {
        self.links
            .waiting_for_catalogue
            .get_or_create(&PeerLabel {
                peer: peer.to_owned(),
            })
            .set(version.unwrap_or(0));
    }

    /// The Prometheus text exposition for node `node_id` at `now_ms` (the
    /// node's clock, from which backlog ages are reckoned).
    pub fn render(&self, node_id: &str, now_ms: i64) -> String {
        self.build_info
            .get_or_create(&BuildLabel {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                node: node_id.to_owned(),
            })
            .set(1);
        if let Ok(since) = self.links.backlog_since_ms.lock() {
            for (label, at) in since.iter() {
                self.links
                    .oldest_unacked_age_seconds
                    .get_or_create(label)
                    .set((now_ms - at).max(0) as f64 / 1000.0);
            }
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics");
        }
        out
    }
}
