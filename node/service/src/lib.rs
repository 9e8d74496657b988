//! The node's services: what a hall does, over the domain and the store.
//!
//! [`Node`] holds the configuration, the store, the published catalogue and
//! calendar, the clock and the metrics. Its operations check everything first
//! (role, catalogue, delegation, identifiers, checklist, the case state
//! machine) and then write in one transaction, so a refusal stores nothing.
#![warn(missing_docs)]

pub mod apply;
mod auth;
mod bookings;
mod bootstrap;
mod by_data;
mod cases;
pub mod clock;
pub mod config;
mod crossing;
mod directives;
pub mod documents;
pub mod enrolment;
pub mod error;
pub mod feed;
pub mod fetch;
pub mod files;
pub mod handover;
pub mod link_state;
pub mod metrics;
pub mod oversight;
pub mod peering;
pub mod personal;
mod preapply;
mod queue;
mod ratings;
pub mod recovery;
pub mod report;
mod rules;
mod self_check;
pub mod signing;
pub mod sms;
pub mod throttle;
mod tree_staff;
pub mod uplink;
mod views;
pub mod webhooks;

pub(crate) use directives::order_reason;
pub use directives::{Query, QuerySender};

pub use auth::{LoginOutcome, NewStaff, StaffChange, StaffView};
pub use bookings::{BookingRequest, BookingView, DaySlots, SlotView, slot_text};
pub use by_data::{DataLookup, DataResult};
pub use cases::{Action, ApplicantInput, Submission, SubmissionKey, Submitted};
pub use clock::{CLOCK_OFFSET_ENV, Clock, OffsetClock, StartedClock, SystemClock, TestClock};
pub use preapply::{FileRef, PreApplicationForm, PreApplicationView, normalize_reference};
pub use queue::Issued;
pub use views::{
    CaseView, DocLine, Document, DocumentKind, Outcome, Progress, kind_title, masked_id,
};

use federation::NodeId;
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::metrics::Metrics;
use onewindow_domain::calendar::Calendar;
use onewindow_domain::catalogue::{Catalogue, Matter};
use onewindow_store::Store;

/// One running hall node.
pub struct Node {
    /// Configuration.
    pub config: Arc<Config>,
    /// This node's id.
    pub id: NodeId,
    /// This node's tier name.
    pub tier: String,
    /// The store.
    pub store: Store,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    catalogue: RwLock<Arc<Catalogue>>,
    calendar: RwLock<Arc<Calendar>>,
    /// The link to the parent, as the dialer and its sessions see it.
    pub uplink: crate::uplink::Uplink,
    /// The root's signing key (only at the root).
    pub signer: Option<crate::signing::Signer>,
    /// The key that signs the documents this hall issues.
    pub document_key: crate::documents::DocumentKey,
    /// The address the HTTP listener is bound to (its port when the
    /// configuration says 0), once it is.
    pub http_addr: std::sync::OnceLock<std::net::SocketAddr>,
    /// The federation CA, where this node signs its subtree's renewed
    /// certificates (normally the root only).
    pub ca: Option<federation::FederationCa>,
    /// Registered children and revoked certificates.
    pub registry: Arc<crate::uplink::Registry>,
    /// Questions for the parent, while the link to it is up.
    pub uplink_queries: std::sync::Mutex<Option<crate::QuerySender>>,
    /// Held while a case's file is fetched from the hall that keeps it.
    pub fetching: tokio::sync::Mutex<()>,
    /// The last case the look for withheld personal sections tried
    /// ([`Node::fill_withheld`]): the next round goes on after it, so
    /// cases whose sections do not come never hold back the others.
    pub fill_after: std::sync::Mutex<String>,
    /// Questions for each child whose link is up, by its node id.
    pub downlink_queries: std::sync::Mutex<std::collections::HashMap<String, crate::QuerySender>>,
    /// Whether this node is taking back the tail of its own log from its
    /// parent, and the marker that remembers how far that log went.
    pub own_log: crate::recovery::OwnLog,
    /// This process's incarnation on its links: its log's head when it
    /// started and a number drawn at start. The incarnation each peer said
    /// last is kept in the store with the link's cursor (so that a peer
    /// started again on a log put back to an older copy is told from one
    /// whose link came back, across this node's own restarts too:
    /// `Greeted::cursor_reset`).
    pub incarnation: Incarnation,
    /// Failed logins per account and per address.
    pub logins: crate::throttle::LoginThrottle,
    /// Hall names by node id: this hall's and those its fleet holds.
    halls: RwLock<Arc<HallNames>>,
    /// Some hall of the tree closed ([`Node::obey_handovers`] has work).
    handovers_known: std::sync::atomic::AtomicBool,
    /// This hall closed: it accepts no new case.
    closed: std::sync::atomic::AtomicBool,
}

/// Hall names by node id: (Chinese, English).
pub type HallNames = std::collections::HashMap<String, (String, String)>;

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("id", &self.id).finish()
    }
}

impl Node {
    /// Today and the `n - 1` days before it (`YYYY-MM-DD`, China time).
    pub fn recent_days(&self, n: u64) -> Vec<String> {
        let today = self.today();
        (0..n)
            .filter_map(|d| today.checked_sub_days(chrono::Days::new(d)))
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect()
    }

    /// Every hall name known here, by node id.
    pub fn hall_names(&self) -> Arc<HallNames> {
        match self.halls.read() {
            Ok(h) => Arc::clone(&h),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Notes the names of a hall (from a status report); empty names are
    /// not noted.
    pub fn note_hall_name(&self, id: &str, zh: &str, en: &str) {
        if zh.is_empty() && en.is_empty() {
            return;
        }
        let mut h = match self.halls.write() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        if h.get(id).is_some_and(|(z, e)| z == zh && e == en) {
            return;
        }
        Arc::make_mut(&mut h).insert(id.to_owned(), (zh.to_owned(), en.to_owned()));
    }

    /// A hall's name in Chinese or English (`en`), or its node id when no
    /// name is known.
    pub fn hall_name(&self, id: &str, en: bool) -> String {
        let h = self.hall_names();
        match h.get(id) {
            Some((zh, e)) if en && !e.is_empty() => e.clone(),
            Some((zh, _)) if !zh.is_empty() => zh.clone(),
            _ => id.to_owned(),
        }
    }

    /// The published catalogue in use.
    pub fn catalogue(&self) -> Arc<Catalogue> {
        match self.catalogue.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The holiday calendar in use.
    pub fn calendar(&self) -> Arc<Calendar> {
        match self.calendar.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Switches to a published catalogue version.
    pub fn set_catalogue(&self, cat: Catalogue) {
        let cat = Arc::new(cat);
        match self.catalogue.write() {
            Ok(mut c) => *c = cat,
            Err(poisoned) => *poisoned.into_inner() = cat,
        }
    }

    /// Switches to a holiday calendar.
    pub fn set_calendar(&self, cal: Calendar) {
        let cal = Arc::new(cal);
        match self.calendar.write() {
            Ok(mut c) => *c = cal,
            Err(poisoned) => *poisoned.into_inner() = cal,
        }
    }

    /// May this node receive the matter?
    pub fn may_receive(&self, m: &Matter) -> bool {
        m.delegation
            .may_receive(self.id.as_str(), &self.tier, self.today())
    }

    /// May this node decide the matter? The root may decide everything: the
    /// authority that delegates is the district's own.
    pub fn may_decide(&self, m: &Matter) -> bool {
        self.id.depth() == 0
            || m.delegation
                .may_decide(self.id.as_str(), &self.tier, self.today())
    }

    /// The lowest node on the way from here to the root that may decide the
    /// matter (this node itself if it may).
    pub fn decider_for(&self, m: &Matter) -> NodeId {
        let d = onewindow_domain::policy::decider(
            m,
            self.id.as_str(),
            &self.config.node.tiers,
            self.today(),
        );
        NodeId::new(d).unwrap_or_else(|_| self.id.clone())
    }

    /// Is the link to the parent up? (Always false at the root.)
    pub fn uplink_up(&self) -> bool {
        self.uplink.is_up()
    }

    /// Records whether the link to the parent is up.
    pub fn set_uplink(&self, up: bool) {
        self.uplink.set_up(up, self.now_ms());
    }

    /// Now, in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Today's date in China.
    pub fn today(&self) -> chrono::NaiveDate {
        onewindow_domain::case::china_date(self.now_ms())
    }
}

/// See [`Node::incarnation`].
#[derive(Debug)]
pub struct Incarnation {
    /// The log's highest local sequence when this process started.
    pub start_head: u64,
    /// Drawn at start; never 0.
    pub id: u64,
    /// The incarnations of this node's log before this one, oldest first
    /// (at most [`federation::replication::MAX_EARLIER`]), as the store
    /// keeps them.
    pub earlier: Vec<federation::replication::Earlier>,
    /// The lowest start head of the incarnations older than `earlier`.
    pub older_floor: Option<u64>,
}

impl Incarnation {
    /// Begins a new incarnation of the store's log: its head now, a number
    /// drawn, and the row the store keeps of it.
    pub async fn begin(
        store: &onewindow_store::Store,
    ) -> Result<Self, onewindow_store::StoreError> {
        let start_head = store.local_head().await;
        let id = rand::random::<u64>().max(1);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let (earlier, older_floor) = store
            .begin_incarnation(id, start_head, now_ms, federation::replication::MAX_EARLIER)
            .await?;
        Ok(Self {
            start_head,
            id,
            earlier: earlier
                .into_iter()
                .map(
                    |(incarnation, start_head)| federation::replication::Earlier {
                        incarnation,
                        start_head,
                    },
                )
                .collect(),
            older_floor,
        })
    }
}
