//! What a log entry's body holds: a change to a case, a directive from
//! above (a catalogue version, a calendar, a revocation, a recall), or a
//! staff or administrator action kept for audit.
//!
//! Directives that change the rules carry the root's Ed25519 signature over
//! their content, so that no tier between the root and a hall can alter them
//! on the way down.

use serde::{Deserialize, Serialize};

use super::case::EventRecord;

/// The body of a log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LogBody {
    /// A change to a case.
    Case(EventRecord),
    /// A directive.
    Directive(DirectiveRecord),
    /// A staff or administrator action, for audit: it travels up to the
    /// root like a case event and never down.
    Audit(AuditRecord),
}

/// A staff or administrator action, kept in the writing hall's hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// What was done: a stable name (see [`AUDIT_ACTIONS`]).
    pub action: String,
    /// Who: the username at the writing hall.
    pub actor: String,
    /// The actor's role then.
    pub role: String,
    /// What it was done to: a username, a catalogue version, a case number,
    /// a node id; empty when nothing.
    pub target: String,
    /// Why, where the rules ask for a reason (a recall, a disabling), or
    /// what changed.
    pub detail: String,
    /// When (ms since the epoch).
    pub at_ms: i64,
}

/// Every audit action a hall writes.
pub const AUDIT_ACTIONS: &[&str] = &[
    "login",
    "logout",
    "login_lockout",
    "staff_created",
    "staff_changed",
    "staff_disabled",
    "catalogue_published",
    "calendar_published",
    "case_recalled",
    "node_registered",
    "node_revoked",
    "data_exported",
    "chain_broken",
    "warning_decided",
    "case_reopened",
    "hall_decommissioned",
    "hall_closed",
    "data_lookup",
    "feed_credential_issued",
    "feed_credential_revoked",
    "webhook_subscribed",
    "webhook_replayed",
    "webhook_ended",
    "personal_data_requested",
    "personal_data_shown",
    "personal_data_purged",
    "peer_catalogue_published",
];

/// The actor of an audit record that the node writes by itself (a break
/// its own check found in its stored log); no username can be this.
pub const NODE_ACTOR: &str = "(node)";

impl LogBody {
    /// The case event, if it is one.
    pub fn case(&self) -> Option<&EventRecord> {
        match self {
            Self::Case(r) => Some(r),
            Self::Directive(_) | Self::Audit(_) => None,
        }
    }

    /// Stable kind name, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Case(r) => r.event.kind(),
            Self::Directive(d) => d.directive.kind(),
            Self::Audit(_) => "audit",
        }
    }

    /// The case id and version (stream and place), if a case event.
    pub fn stream(&self) -> Option<(&str, u64)> {
        self.case().map(|r| (r.case_id.as_str(), r.case_version))
    }
}

/// A directive with when and by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectiveRecord {
    /// The directive.
    pub directive: Directive,
    /// Who issued it (username at the issuing node).
    pub issued_by: String,
    /// When (ms).
    pub at_ms: i64,
}

/// Directives that flow down the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Directive {
    /// A published catalogue version; `catalogue` is its JSON text exactly
    /// as signed.
    CataloguePublished {
        /// Version.
        version: i64,
        /// The catalogue as JSON text.
        catalogue: String,
        /// Root's Ed25519 signature over `catalogue`, hex.
        signature: String,
    },
    /// One year's holiday calendar; `calendar` is its JSON text as signed.
    CalendarPublished {
        /// Year.
        year: i32,
        /// The calendar as JSON text.
        calendar: String,
        /// Root's signature over `calendar`, hex.
        signature: String,
    },
    /// A node is revoked: its certificate is refused from now on.
    NodeRevoked {
        /// The node.
        node: String,
        /// Its certificate serial (hex), or empty for every certificate.
        serial: String,
        /// Root's signature over `node` + "\n" + `serial`, hex.
        signature: String,
    },
    /// A hall enrolled at the node holding the CA, below a child of it: its
    /// parent admits it on its link from then on (a parent admits its own
    /// enrolments itself, and the children in its configuration).
    NodeRegistered {
        /// The new hall.
        node: String,
        /// Root's signature over "registered\n" + `node`, hex.
        signature: String,
    },
    /// A staff account of a hall below the root, as the root keeps it
    /// (created, changed, disabled, or moved away from that hall): the hall
    /// holds it as one of its own accounts, so its holder logs in there
    /// with or without an uplink. It goes down the hall's branch only.
    StaffAccount {
        /// The account, whole.
        account: StaffAccount,
        /// Root's signature over [`staff_text`] of `account`, hex.
        signature: String,
    },
    /// The district recalls a case: its holder hands it over.
    Recall {
        /// Case number.
        case_id: String,
        /// The node that takes the case over.
        to: String,
        /// Why.
        reason: String,
    },
    /// The district reopens a completed or terminated case: its holder
    /// writes `reopened` when it sees it.
    Reopen {
        /// Case number.
        case_id: String,
        /// Why.
        reason: String,
    },
    /// The district closes a hall (`node decommission`, or the old place of
    /// a hall that moves): every hall that holds an open case served at
    /// `hall` hands it up to the district, which hands it over to `heir`
    /// ([`super::case::Event::HandedOver`]); `hall` itself stops accepting
    /// and says so with a `hall_closed` audit record, on which the district
    /// revokes it.
    Handover {
        /// The hall that closes.
        hall: String,
        /// The hall that serves its open cases from now on.
        heir: String,
        /// Why.
        reason: String,
    },
    /// The district decides a hall's appeal against a warning: the case's
    /// holder writes the decision into the case when it sees it.
    WarningDecision {
        /// Case number.
        case_id: String,
        /// The appealed warning's rule.
        rule: super::case::WarningRule,
        /// Its level.
        level: super::case::Warning,
        /// Upheld (the warning stands) or revoked.
        upheld: bool,
        /// Why.
        reason: String,
    },
    /// What the root of another tree that peers with this one (异地通办
    /// across trees) offers: its matters open for cross-district handling
    /// and the halls that may be named to decide them, as that root signed
    /// them, and whether the peering is enabled here. Every hall keeps the
    /// last one for each peer, so its windows accept those matters offline.
    PeerCatalogue {
        /// The other tree's root (its node id).
        peer: String,
        /// Whether this tree hands cases to it now.
        enabled: bool,
        /// The offer as JSON text ([`PeerOffer`]), exactly as the peer's
        /// root signed it.
        offer: String,
        /// The peer root's Ed25519 signature over `offer`, hex.
        peer_signature: String,
        /// This tree's root's signature over [`peer_catalogue_text`], hex.
        signature: String,
    },
}

/// What a peering root offers the other tree: its matters open for
/// cross-district handling and the halls of its tree that may be named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerOffer {
    /// The offering tree's root.
    pub root: String,
    /// Its catalogue version the matters are of.
    pub catalogue_version: i64,
    /// Its matters open for cross-district handling, whole.
    pub matters: Vec<super::catalogue::Matter>,
    /// Its halls that a window may name to decide (`ID`, or
    /// `ID|中文名|English name`, as `[node] tree_halls` writes them).
    pub halls: Vec<String>,
}

impl PeerOffer {
    /// The hall ids of [`PeerOffer::halls`].
    pub fn hall_ids(&self) -> impl Iterator<Item = &str> {
        self.halls
            .iter()
            .map(|h| h.split('|').next().unwrap_or_default().trim())
    }
}

/// What a tree's root signs to publish a peer's offer down its tree (a
/// text of its own kind, so that no other signed text can pass for one).
pub fn peer_catalogue_text(peer: &str, enabled: bool, offer: &str) -> String {
    format!("peer-catalogue\n{peer}\n{enabled}\n{offer}")
}

impl Directive {
    /// Stable kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CataloguePublished { .. } => "catalogue_published",
            Self::CalendarPublished { .. } => "calendar_published",
            Self::NodeRevoked { .. } => "node_revoked",
            Self::NodeRegistered { .. } => "node_registered",
            Self::StaffAccount { .. } => "staff_account",
            Self::Recall { .. } => "recall",
            Self::WarningDecision { .. } => "warning_decision",
            Self::Reopen { .. } => "reopen",
            Self::Handover { .. } => "handover",
            Self::PeerCatalogue { .. } => "peer_catalogue",
        }
    }
}

/// A staff account that the root keeps for a hall below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAccount {
    /// The hall the account works at.
    pub hall: String,
    /// Login name.
    pub username: String,
    /// Name shown on documents.
    pub display_name: String,
    /// Role.
    pub role: super::case::Role,
    /// Department, for approvers.
    pub department: Option<String>,
    /// argon2 hash of the password (PHC text): the password never travels.
    pub password_hash: String,
    /// May log in.
    pub active: bool,
}

/// What the root signs for a staff account: a text of its own kind, then
/// the account as JSON (whose field order is fixed by the type).
pub fn staff_text(account: &StaffAccount) -> String {
    format!(
        "staff\n{}",
        serde_json::to_string(account).unwrap_or_default()
    )
}

/// What the root signs to announce a hall's registration (a text of its
/// own, so that no other signed text can pass for one).
pub fn registration_text(node: &str) -> String {
    format!("registered\n{node}")
}
