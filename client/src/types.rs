//! Requests and answers of the routes the client calls. Answers read only
//! the fields someone uses (a node may add fields); requests write every
//! field the node reads.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/v1/session`.
#[derive(Debug, Serialize)]
pub struct Login<'a> {
    /// Username.
    pub username: &'a str,
    /// Password.
    pub password: &'a str,
}

/// The answer to a login.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginOutcome {
    /// Bearer token.
    pub token: String,
    /// Expiry, ms since the epoch.
    pub expires_at_ms: i64,
    /// Who logged in.
    pub staff: Staff,
}

/// A staff account.
#[derive(Debug, Clone, Deserialize)]
pub struct Staff {
    /// Login name.
    pub username: String,
    /// Name shown on documents.
    pub display_name: String,
    /// `clerk`, `approver`, `supervisor` or `admin`.
    pub role: String,
    /// Department code.
    pub department: Option<String>,
    /// May log in.
    pub active: bool,
    /// The hall where an account kept by the root works.
    #[serde(default)]
    pub hall: Option<String>,
    /// Kept by the root.
    #[serde(default)]
    pub managed: bool,
}

/// A node of `GET /api/v1/admin/fleet`.
#[derive(Debug, Clone, Deserialize)]
pub struct FleetNode {
    /// Node id.
    pub node_id: String,
    /// Hall name in Chinese.
    pub name_zh: String,
    /// Hall name in English.
    pub name_en: String,
    /// Tier name.
    pub tier: String,
    /// Parent node id.
    pub parent: Option<String>,
    /// A link to it is up.
    pub connected: bool,
    /// Revoked (ms).
    pub revoked_at_ms: Option<i64>,
    /// Last heard of (ms).
    pub last_seen_ms: Option<i64>,
    /// Software version.
    pub software: Option<String>,
    /// Catalogue version in use.
    pub catalogue_version: Option<i64>,
    /// Entries still to send up.
    pub backlog: Option<i64>,
    /// Link round trip (ms).
    pub latency_ms: Option<i64>,
    /// Clock skew (ms).
    pub skew_ms: Option<i64>,
    /// Certificate expiry (ms).
    pub cert_not_after_ms: Option<i64>,
    /// Refusals in a row on its link.
    pub refusal_code: Option<String>,
}

/// `POST /api/v1/staff`.
#[derive(Debug, Serialize)]
pub struct NewStaff<'a> {
    /// Login name.
    pub username: &'a str,
    /// Name shown on documents.
    pub display_name: &'a str,
    /// Role.
    pub role: &'a str,
    /// Department code; required for approvers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<&'a str>,
    /// At least 10 characters.
    pub password: &'a str,
    /// At the root: the hall below where the account works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hall: Option<&'a str>,
}

/// `PATCH /api/v1/staff/{username}`: only the fields given change.
#[derive(Debug, Default, Serialize)]
pub struct StaffChange<'a> {
    /// At the root: the hall below whose account it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hall: Option<&'a str>,
    /// A new display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<&'a str>,
    /// A new role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
    /// A new department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<&'a str>,
    /// A new password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<&'a str>,
    /// Enable or disable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// At the root: the hall below to move the account to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub move_to: Option<&'a str>,
}

/// `GET /api/v1/health`.
#[derive(Debug, Clone, Deserialize)]
pub struct Health {
    /// Node id.
    pub node_id: String,
    /// Tier name.
    pub tier: String,
    /// The tree's tiers from the root down (absent from older nodes).
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Software version.
    pub version: String,
    /// Catalogue version in use.
    pub catalogue_version: i64,
    /// `sqlite` or `postgres`.
    pub store: String,
    /// The link to the parent; none at the root.
    #[serde(default)]
    pub uplink: Option<Uplink>,
    /// The node's own federation certificate; none when it runs unlinked.
    #[serde(default)]
    pub certificate: Option<Certificate>,
}

/// A node's own certificate and how it stands.
#[derive(Debug, Clone, Deserialize)]
pub struct Certificate {
    /// Serial (lowercase hex).
    pub serial: String,
    /// Valid until (ms since the epoch).
    pub not_after_ms: i64,
    /// Whole days left.
    pub days_left: i64,
    /// `ok`, `renew`, `expiring`, `expired` or `not_yet_valid`.
    pub state: String,
    /// The state in words (English).
    pub state_en: String,
}

/// The link to the parent, as a child sees it.
#[derive(Debug, Clone, Deserialize)]
pub struct Uplink {
    /// Parent node id.
    pub parent: String,
    /// The link is up.
    pub up: bool,
    /// Entries the parent has not acknowledged.
    pub backlog: Option<u64>,
    /// When the parent last acknowledged (ms since the epoch).
    pub last_ack_ms: Option<i64>,
    /// `up`, `down`, `held_back` or `backing_off`.
    #[serde(default)]
    pub state: String,
    /// The link's state in words (English).
    #[serde(default)]
    pub state_en: String,
    /// The hall is taking back the tail of its own log from its parent.
    #[serde(default)]
    pub recovering: bool,
}

/// `GET /api/v1/catalogue`.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalogue {
    /// Catalogue version in use.
    pub version: i64,
    /// The matters received here, with their guides.
    pub matters: Vec<Guide>,
}

/// `GET /api/v1/peers`.
#[derive(Debug, Clone, Deserialize)]
pub struct Peers {
    /// One entry per peer tree.
    pub peers: Vec<Peer>,
}

/// A peer tree's offer, the fields shown in lists.
#[derive(Debug, Clone, Deserialize)]
pub struct Peer {
    /// Its root.
    pub root: String,
    /// Whether this tree hands cases to it.
    pub enabled: bool,
    /// Its catalogue version the matters are of.
    pub catalogue_version: i64,
    /// Its matters open for cross-district handling.
    pub matters: Vec<PeerMatter>,
    /// Its halls a clerk may name.
    pub halls: Vec<PeerHall>,
}

/// A matter a peer tree offers (its code and names).
#[derive(Debug, Clone, Deserialize)]
pub struct PeerMatter {
    /// Matter code.
    pub code: String,
    /// Name in Chinese.
    pub name_zh: String,
}

/// A hall of a peer tree.
#[derive(Debug, Clone, Deserialize)]
pub struct PeerHall {
    /// Node id.
    pub id: String,
    /// Chinese name, empty when not offered.
    pub name_zh: String,
}

/// One matter's guide, the fields shown in lists.
#[derive(Debug, Clone, Deserialize)]
pub struct Guide {
    /// Matter code.
    pub code: String,
    /// Name in Chinese.
    pub name_zh: String,
    /// Department code.
    pub department: String,
    /// Department name in Chinese.
    #[serde(default)]
    pub department_zh: String,
    /// Decided at the window.
    pub immediate: bool,
    /// The committed time limit.
    pub committed_limit: Limit,
    /// Decided at this node.
    pub decided_here: bool,
}

/// A time limit.
#[derive(Debug, Clone, Deserialize)]
pub struct Limit {
    /// How many.
    pub n: u32,
    /// `working_days` or `calendar_days`.
    pub unit: String,
}

/// A catalogue version's summary.
#[derive(Debug, Clone, Deserialize)]
pub struct VersionInfo {
    /// Version number.
    pub version: i64,
    /// `draft`, `published` or `retired`.
    pub state: String,
    /// Created (ms since the epoch).
    pub created_at_ms: i64,
    /// Published.
    pub published_at_ms: Option<i64>,
    /// Retired.
    pub retired_at_ms: Option<i64>,
    /// SHA-256 of the canonical body, hex.
    pub sha256: String,
}

/// One year's holiday calendar.
#[derive(Debug, Clone, Deserialize)]
pub struct CalendarYear {
    /// The year.
    pub year: i32,
    /// Where it was published.
    pub source: String,
    /// Holidays.
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

/// A statutory holiday.
#[derive(Debug, Clone, Deserialize)]
pub struct Holiday {
    /// Name in Chinese.
    pub name_zh: String,
    /// Name in English.
    pub name_en: String,
    /// First day off, `YYYY-MM-DD`.
    pub from: String,
    /// Last day off.
    pub to: String,
    /// Make-up working days.
    #[serde(default)]
    pub makeup: Vec<String>,
}

/// `POST /api/v1/cases`.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    /// Matter code.
    pub matter_code: String,
    /// Applicant.
    pub applicant: Applicant,
    /// Situations (情形) that apply.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub situations: Vec<String>,
    /// Materials presented.
    pub materials: Vec<Material>,
    /// The clerk does not accept, for this reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub non_acceptance_reason: Option<String>,
}

/// The applicant of a submission.
#[derive(Debug, Clone, Serialize)]
pub struct Applicant {
    /// `person` or `organisation`.
    pub kind: String,
    /// Citizen ID or credit code.
    pub id_number: String,
    /// Name.
    pub name: String,
}

/// A material presented.
#[derive(Debug, Clone, Serialize)]
pub struct Material {
    /// Material code.
    pub code: String,
    /// Originals.
    pub originals: u32,
    /// Copies.
    pub copies: u32,
}

/// The answer to a submission.
#[derive(Debug, Clone, Deserialize)]
pub struct Outcome {
    /// The case number.
    pub case_number: String,
    /// The document handed out: receipt, rejection, ...
    pub outcome: String,
    /// The case now.
    pub case: CaseView,
}

/// A case as staff see it.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseView {
    /// Case number.
    pub number: String,
    /// State.
    pub state: String,
    /// Suspended.
    pub suspended: bool,
    /// `green`, `yellow` or `red`.
    pub warning: String,
    /// Statutory due date.
    pub statutory_due: Option<String>,
    /// Committed due date.
    pub committed_due: Option<String>,
    /// Due date of the current stage.
    pub stage_due: Option<String>,
    /// The folded case.
    pub case: Case,
}

/// The folded case, the fields shown.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// What was received.
    pub received: Received,
    /// The node that holds the case.
    pub holder: Option<String>,
}

/// What was received at the window.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    /// Matter code.
    pub matter_code: String,
    /// Matter name in Chinese.
    pub matter_name_zh: String,
    /// Applicant.
    pub applicant: ReceivedApplicant,
    /// The hall whose window accepted it.
    #[serde(default)]
    pub accepting_node: String,
    /// When it was received (ms since the epoch).
    #[serde(default)]
    pub received_at_ms: i64,
}

/// The applicant as received.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceivedApplicant {
    /// Name.
    pub name: String,
    /// Citizen ID or credit code.
    #[serde(default)]
    pub id_number: String,
    /// Contact phone, if given.
    #[serde(default)]
    pub phone: Option<String>,
}

/// `POST /api/v1/cases/{number}/personal`: one case's personal data, for
/// the supervisor who asked (audited).
#[derive(Debug, Clone, Deserialize)]
pub struct PersonalData {
    /// The case number.
    pub case_number: String,
    /// The case with its personal sections.
    pub case: Case,
    /// Sections fetched from below for the request.
    pub fetched: usize,
    /// Sections still withheld (none came for them).
    pub withheld: usize,
}

/// `GET /api/v1/cases/{number}/record`.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseRecord {
    /// The case now.
    pub view: CaseView,
    /// Every event, in case-version order.
    pub events: Vec<EventRecord>,
}

/// One event of a case.
#[derive(Debug, Clone, Deserialize)]
pub struct EventRecord {
    /// The case's version after it.
    pub case_version: u64,
    /// Who.
    pub actor: Actor,
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// What.
    pub event: EventKind,
}

/// Who caused an event.
#[derive(Debug, Clone, Deserialize)]
pub struct Actor {
    /// Username.
    pub username: String,
    /// Role.
    pub role: String,
    /// Node id.
    pub node: String,
}

/// An event's kind.
#[derive(Debug, Clone, Deserialize)]
pub struct EventKind {
    /// e.g. `received`, `accepted`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `GET /api/v1/cases/{number}`: public progress.
#[derive(Debug, Clone, Deserialize)]
pub struct Progress {
    /// Case number.
    pub case_number: String,
    /// State.
    pub state: String,
    /// State in Chinese.
    pub state_zh: String,
    /// Suspended.
    pub suspended: bool,
    /// Due date.
    pub due: Option<String>,
}

/// A one-time enrolment token.
#[derive(Debug, Clone, Deserialize)]
pub struct IssuedToken {
    /// The token's text.
    pub token: String,
    /// The node it enrols.
    pub node: String,
    /// Not usable from (ms since the epoch).
    pub expires_ms: i64,
}

/// `GET /api/v1/admin/audit`: the audit of a node's stored log.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuditReport {
    /// The node that checked.
    pub node: String,
    /// Entries checked in all.
    pub entries: u64,
    /// Origins with a break.
    pub broken: u64,
    /// Every origin checked.
    pub origins: Vec<OriginAudit>,
    /// Breaks that halls below found in their own stored logs.
    #[serde(default)]
    pub reported: Vec<ReportedBreak>,
}

/// A break that a hall below found in its own stored log and reported up
/// (one of [`AuditReport::reported`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReportedBreak {
    /// The hall whose check found it.
    pub hall: String,
    /// The report's place in that hall's hash chain.
    pub record_seq: u64,
    /// The broken origin.
    pub origin: String,
    /// The broken entry's sequence.
    pub seq: u64,
    /// What is wrong (`hash_mismatch`, `broken_chain`, `gap`, `unreadable`).
    pub kind: String,
    /// In words.
    pub detail: String,
    /// When the hall found it (ms since the epoch).
    pub at_ms: i64,
}

/// One origin of an [`AuditReport`].
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OriginAudit {
    /// The origin (a node id).
    pub origin: String,
    /// Checked as one whole chain from sequence 1 (the node itself and its
    /// subtree), or entry by entry (an ancestor's entries).
    pub whole: bool,
    /// Entries checked.
    pub entries: u64,
    /// The highest sequence held.
    pub head: u64,
    /// The first break, if any.
    #[serde(rename = "break")]
    pub first_break: Option<ChainBreak>,
}

/// The first break of an origin's chain.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChainBreak {
    /// The entry's sequence.
    pub seq: u64,
    /// `hash_mismatch`, `broken_chain`, `gap` or `unreadable`.
    pub kind: String,
    /// In words.
    pub detail: String,
}

/// `GET /api/v1/admin/audit/export`: one stored entry of the log, with its
/// personal section withheld.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExportedEntry {
    /// The origin (a node id).
    pub origin: String,
    /// Its place in the origin's chain.
    pub seq: u64,
    /// The previous entry's hash (hex).
    #[serde(default)]
    pub prev_hash: Option<String>,
    /// The entry's hash as stored (hex).
    #[serde(default)]
    pub hash: Option<String>,
    /// The open body as stored (hex).
    #[serde(default)]
    pub body: Option<String>,
    /// The hash of the withheld personal section (hex).
    #[serde(default)]
    pub sealed: Option<String>,
    /// The body as read, without personal data.
    #[serde(default)]
    pub event: Option<Value>,
    /// Why the row cannot be read as an entry.
    #[serde(default)]
    pub unreadable: Option<String>,
}

/// `GET /api/v1/admin/warnings`: a running case near or past a deadline.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct WarningRow {
    /// Case number.
    pub case_number: String,
    /// `deadline` (a running case's limit), `follow_up` (a bad rating to
    /// answer) or `forwarding` (it reached the hall that decides it late).
    #[serde(default)]
    pub rule: String,
    /// `red` or `yellow`.
    pub level: String,
    /// Matter code.
    pub matter_code: String,
    /// Matter name (Chinese).
    pub matter_name_zh: String,
    /// Matter name (English).
    pub matter_name_en: String,
    /// Department code.
    pub department: String,
    /// The hall that accepted it.
    pub accepting_node: String,
    /// The hall that holds it now.
    pub holder: Option<String>,
    /// State.
    pub state: String,
    /// Committed due date.
    pub committed_due: Option<String>,
    /// Statutory due date.
    pub statutory_due: Option<String>,
    /// The current stage's due date.
    pub stage_due: Option<String>,
    /// Working days to the committed due date, or to the follow-up's due
    /// day (negative once past).
    pub working_days_left: Option<i64>,
    /// The day a bad rating's follow-up is due.
    #[serde(default)]
    pub follow_up_due: Option<String>,
    /// The first day the warning held at this level.
    #[serde(default)]
    pub since: String,
    /// `issued`, `appealed` or `revoked`.
    #[serde(default)]
    pub status: String,
    /// How late the case reached the hall that decides it (rule
    /// `forwarding`).
    #[serde(default)]
    pub late_forwarding: Option<LateForwarding>,
    /// The responsible hall's appeal and the district's decision.
    #[serde(default)]
    pub appeal: Option<WarningAppeal>,
}

/// A hall's appeal against a warning.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct WarningAppeal {
    /// Why the hall holds the warning wrong.
    pub reason: String,
    /// Who appealed.
    pub by: String,
    /// The hall.
    pub hall: String,
    /// When (ms).
    pub at_ms: i64,
    /// The district's decision, once given.
    #[serde(default)]
    pub decision: Option<AppealDecision>,
}

/// The district's decision on an appeal.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AppealDecision {
    /// The warning stands.
    pub upheld: bool,
    /// Why.
    pub reason: String,
    /// Who decided, `username@node`.
    pub by: String,
}

/// A staff or administrator action (`GET /api/v1/admin/audit/actions`).
#[derive(Debug, Clone, Deserialize)]
pub struct AuditAction {
    /// The hall where it was done.
    pub hall: String,
    /// Its place in that hall's hash chain.
    pub seq: u64,
    /// What was done.
    pub action: String,
    /// Who.
    pub actor: String,
    /// The actor's role then.
    pub role: String,
    /// What it was done to.
    pub target: String,
    /// Why, or what changed.
    pub detail: String,
    /// When (ms since the epoch).
    pub at_ms: i64,
}

/// `GET /api/v1/admin/report`: a report over a period.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Report {
    /// The node that made it.
    pub node: String,
    /// The hall whose subtree it covers.
    pub hall: String,
    /// First day.
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// Cases received.
    pub cases: i64,
    /// Of which immediate matters.
    pub immediate: i64,
    /// Immediate share in percent.
    pub immediate_percent: Option<f64>,
    /// By tier.
    pub by_tier: Vec<ReportCount>,
    /// By matter.
    pub by_matter: Vec<ReportCount>,
    /// By department.
    pub by_department: Vec<ReportCount>,
    /// By accepting hall.
    pub by_hall: Vec<ReportCount>,
    /// By state now.
    pub by_state: Vec<ReportCount>,
    /// Acceptance to closing.
    pub handling: TimeSummary,
    /// Queue waiting times.
    pub waiting: TimeSummary,
    /// Ratings by score 1..5.
    pub ratings: Vec<i64>,
    /// Scores 1 and 2 as a share of all ratings, in percent.
    pub satisfied_percent: Option<f64>,
    /// Ratings of 4 and 5.
    pub bad_ratings: i64,
}

/// One group of a [`Report`].
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReportCount {
    /// Tier, matter code, department code, hall id or state.
    pub key: String,
    /// Name in Chinese.
    pub name_zh: String,
    /// Name in English.
    pub name_en: String,
    /// Cases.
    pub cases: i64,
    /// Of which immediate.
    pub immediate: i64,
}

/// Times of a [`Report`].
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TimeSummary {
    /// How many.
    pub count: i64,
    /// Mean, ms.
    pub mean_ms: Option<i64>,
    /// Longest, ms.
    pub max_ms: Option<i64>,
}

/// How late a case reached the hall that decides it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LateForwarding {
    /// The hall that handed it up.
    pub from: String,
    /// The hall it reached.
    pub to: String,
    /// Hours between the two.
    pub hours: u32,
}

/// A department system's credential (`GET /api/v1/admin/feed/credentials`).
#[derive(Debug, Clone, Deserialize)]
pub struct FeedCredential {
    /// Its name.
    pub name: String,
    /// Its department.
    pub department: String,
    /// The node that issued it.
    pub node: String,
    /// Issued (ms).
    pub created_at_ms: i64,
    /// Revoked (ms).
    #[serde(default)]
    pub revoked_at_ms: Option<i64>,
}

/// A credential just issued (`POST /api/v1/admin/feed/credentials`).
#[derive(Debug, Clone, Deserialize)]
pub struct IssuedCredential {
    /// Its name.
    pub name: String,
    /// Its department.
    pub department: String,
    /// The bearer token, shown once.
    pub token: String,
}

/// `POST /api/v1/admin/feed/credentials`.
#[derive(Debug, Serialize)]
pub struct NewCredential<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its department.
    pub department: &'a str,
}

/// A webhook subscription (`GET /api/v1/admin/feed/subscriptions`).
#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    /// Its id.
    pub id: String,
    /// The credential whose feed it carries.
    pub credential: String,
    /// Where deliveries go.
    pub url: String,
    /// The feed's cursor up to which deliveries are made.
    pub cursor: String,
    /// The signing secret, only when just subscribed.
    #[serde(default)]
    pub secret: Option<String>,
    /// Ended (ms), if it has been.
    #[serde(default)]
    pub ended_at_ms: Option<i64>,
}

/// `POST /api/v1/admin/feed/subscriptions`.
#[derive(Debug, Serialize)]
pub struct NewSubscription<'a> {
    /// The credential.
    pub credential: &'a str,
    /// The `http://` URL.
    pub url: &'a str,
    /// A feed cursor to start after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<&'a str>,
}

/// A webhook delivery (`GET /api/v1/admin/feed/deliveries`).
#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    /// Its id.
    pub id: String,
    /// The subscription.
    pub subscription: String,
    /// Feed items it carries.
    pub items: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// The next attempt (ms).
    #[serde(default)]
    pub next_attempt_ms: Option<i64>,
    /// The last failed attempt's error.
    #[serde(default)]
    pub last_error: Option<String>,
    /// `open`, `delivered` or `dead`.
    pub status: String,
}
