//! Cases: the state machine of a matter's handling, as a fold over events.
//!
//! A case's state is never written directly. Every change is an [`Event`]
//! (in an [`EventRecord`] with actor, time and case version) and the current
//! [`Case`] is what folding those records gives. All rules live in one place:
//! [`transition`] is the table of legal state changes, [`Event::allowed_roles`]
//! says who may cause each event, and [`Case::apply`] adds the guards that need
//! the case itself (suspension, parallel sub-cases, hand-out at the accepting
//! window, one rating). The service layer calls [`Case::apply`] before it
//! stores anything, so an illegal change is refused with nothing written.
//!
//! Two rules bind only what a hall writes now, and are not checked again
//! when events are folded ([`Case::replay`], [`Case::fold`]): handling,
//! review and decision by [`Received::distinct_people`] different people
//! ([`Case::may_review`], [`Case::may_decide`]), and a hand-out that says
//! how the collector's identity was checked ([`crate::handout`]). Events
//! written before either rule, or by a hall of an older release during an
//! upgrade, still fold; and the usernames in another hall's events are that
//! hall's own word, so a receiver could not hold it to the rule anyway.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::calendar::Calendar;
use super::catalogue::{JoinRule, Limit, Stage, StageName};
use super::checklist::{MaterialIssue, PresentedMaterial};
use super::deadline::{self, Due, Interval};

/// Where a case is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Submitted, materials being checked.
    Received,
    /// A correction notice was issued; waiting for the applicant.
    Correction,
    /// Not accepted (final).
    Rejected,
    /// Accepted with a receipt; the clock runs.
    Accepted,
    /// 承办
    Handling,
    /// 审核
    Review,
    /// 批准
    Approval,
    /// Granted or refused.
    Decided,
    /// The result waits at the accepting window.
    ResultReady,
    /// Handed out, or finished at the window (final).
    Completed,
    /// Withdrawn by the applicant (final).
    Withdrawn,
    /// Terminated by the agency (final).
    Terminated,
}

impl State {
    /// A final state: nothing but a rating follows.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Rejected | Self::Completed | Self::Withdrawn | Self::Terminated
        )
    }

    /// The back-office stage this state is, if any.
    pub fn stage(self) -> Option<StageName> {
        match self {
            Self::Handling => Some(StageName::Handling),
            Self::Review => Some(StageName::Review),
            Self::Approval => Some(StageName::Approval),
            _ => None,
        }
    }

    /// Stable name, as stored in the read model.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Correction => "correction",
            Self::Rejected => "rejected",
            Self::Accepted => "accepted",
            Self::Handling => "handling",
            Self::Review => "review",
            Self::Approval => "approval",
            Self::Decided => "decided",
            Self::ResultReady => "result_ready",
            Self::Completed => "completed",
            Self::Withdrawn => "withdrawn",
            Self::Terminated => "terminated",
        }
    }

    /// Chinese label (the phrase `state.<name>`).
    pub fn label_zh(self) -> &'static str {
        onewindow_i18n::lookup(
            onewindow_i18n::Lang::Zh,
            &format!("state.{}", self.as_str()),
        )
        .unwrap_or(self.as_str())
    }
}

/// Staff roles, and the two kinds of actor that are not staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Window clerk: acceptance, hand-out, withdrawal on request.
    Clerk,
    /// Department approver: the back office.
    Approver,
    /// Supervisor: oversight, termination.
    Supervisor,
    /// Administrator: staff and catalogue.
    Admin,
    /// The applicant, through a public channel (rating).
    Citizen,
}

impl Role {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clerk => "clerk",
            Self::Approver => "approver",
            Self::Supervisor => "supervisor",
            Self::Admin => "admin",
            Self::Citizen => "citizen",
        }
    }
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    /// Staff username, or `citizen`.
    pub username: String,
    /// The role acted in.
    pub role: Role,
    /// Node id of the hall where it happened.
    pub node: String,
    /// The approver's department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// Kind of applicant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    /// A natural person with a citizen ID number.
    Person,
    /// An organisation with a unified social credit code.
    Organisation,
}

/// The applicant, with a checked identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Applicant {
    /// Person or organisation.
    pub kind: ApplicantKind,
    /// Normalised citizen ID number or credit code.
    pub id_number: String,
    /// Name.
    pub name: String,
    /// Contact phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// The credit code's check digit was overridden (audited).
    #[serde(default)]
    pub checksum_overridden: bool,
    /// Why the clerk accepted a code whose check character fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_override_reason: Option<String>,
}

impl Applicant {
    /// The last four characters of the identifier (the progress-query key).
    pub fn last4(&self) -> &str {
        let n = self.id_number.len();
        self.id_number.get(n.saturating_sub(4)..).unwrap_or("")
    }
}

/// Special procedures that stop the clock (Administrative Licensing Law art. 45).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuspensionKind {
    /// 听证
    Hearing,
    /// 招标、拍卖
    Tendering,
    /// 检验、检测
    Testing,
    /// 检疫
    Quarantine,
    /// 鉴定
    Appraisal,
    /// 专家评审
    ExpertReview,
    /// Other special procedure.
    Other,
}

/// Rating channel (GB/T 39734).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Tablet at the window.
    HallTablet,
    /// QR code.
    QrCode,
    /// Web.
    Web,
    /// Mobile app.
    Mobile,
    /// Phone.
    Phone,
    /// SMS.
    Sms,
}

impl Channel {
    /// Stable name (as in the API; the phrase `channel.<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HallTablet => "hall_tablet",
            Self::QrCode => "qr_code",
            Self::Web => "web",
            Self::Mobile => "mobile",
            Self::Phone => "phone",
            Self::Sms => "sms",
        }
    }
}

/// A change to a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// First submission at a window; creates the case.
    ///
    /// Shared with the case it starts ([`Case::received`]): a case folded
    /// from its `received` holds the same one, not a copy.
    Received(Arc<Received>),
    /// Materials submitted again after a correction notice.
    Resubmitted {
        /// Situations now selected.
        situations: Vec<String>,
        /// Materials now presented.
        materials: Vec<PresentedMaterial>,
    },
    /// Correction notice listing every problem at once.
    CorrectionNotified {
        /// Every problem.
        issues: Vec<MaterialIssue>,
    },
    /// Non-acceptance decision.
    NotAccepted {
        /// The reason, printed on the decision.
        reason: String,
    },
    /// Acceptance receipt; the clock starts.
    Accepted {
        /// Deferrable materials accepted with a pledge (容缺).
        deferred: Vec<String>,
        /// The node that will decide; `None` while waiting for transfer upwards.
        holder: Option<String>,
    },
    /// An immediate matter finished at the window.
    CompletedAtWindow {
        /// What was issued.
        result: String,
    },
    /// 承办 starts; parallel sub-cases open for co-handling departments.
    HandlingStarted,
    /// Handling done, to review.
    SubmittedForReview {
        /// Handling opinion.
        opinion: String,
    },
    /// Review passed, to approval.
    ReviewPassed {
        /// Review opinion.
        opinion: String,
    },
    /// Sent back from review or approval to handling.
    SentBack {
        /// Why.
        reason: String,
    },
    /// A co-handling department's opinion on its sub-case.
    OpinionGiven {
        /// The co-handling department.
        department: String,
        /// Approves.
        approve: bool,
        /// Opinion text.
        opinion: String,
    },
    /// The decision.
    Decided {
        /// Granted or refused.
        granted: bool,
        /// Decision text.
        opinion: String,
    },
    /// The result document is ready at the accepting window.
    ResultReady {
        /// What the result is (licence number, letter).
        result: String,
    },
    /// Handed out at the accepting window (统一窗口出件).
    HandedOut {
        /// Who collected it: the applicant, or the proxy.
        recipient: String,
        /// How their identity was checked; `None` in hand-outs recorded
        /// before it was asked ("ID check not recorded"). Required when a
        /// hand-out is written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        collection: Option<crate::collection::Collection>,
    },
    /// The clock stops for a special procedure.
    Suspended {
        /// Which procedure.
        kind: SuspensionKind,
        /// Why.
        reason: String,
    },
    /// The clock runs again; the case returns to the same stage.
    Resumed {
        /// Note.
        note: String,
    },
    /// An approved extension of the limit.
    Extended {
        /// Units added (in the statutory limit's unit).
        n: u32,
        /// Why.
        reason: String,
    },
    /// Withdrawn at the applicant's request.
    Withdrawn {
        /// Why.
        reason: String,
    },
    /// Terminated by the agency.
    Terminated {
        /// Why.
        reason: String,
    },
    /// The holder hands the case to another node: up to the lowest tier
    /// that may decide it, back to the accepting window with the result, or
    /// to the district on a recall. Only the current holder writes it.
    Transferred {
        /// The node that holds the case from now on.
        to: String,
        /// Why.
        reason: String,
    },
    /// A document issued to the applicant, as a record: written by the
    /// hall that issues it, in the transaction of the event that caused it,
    /// and never changed ([`crate::document`]).
    DocumentIssued {
        /// The document.
        document: Box<crate::document::IssuedDocument>,
    },
    /// Trust first, check later (先信任、再审核): the applicant signed the
    /// matter's integrity pledge and the result is issued at once at the
    /// window; an approver checks the case afterwards within `check_days`
    /// working days ([`Event::PostCheckPassed`], [`Event::TrustRevoked`]).
    TrustIssued {
        /// The pledge as signed (the catalogue's text, in Chinese).
        pledge: String,
        /// What was issued.
        result: String,
        /// Working days the post-check has, from the day of issue.
        check_days: u32,
    },
    /// The post-check of a trust-first result found nothing wrong: the
    /// result stands.
    PostCheckPassed {
        /// What was checked.
        note: String,
    },
    /// The post-check of a trust-first result found the pledge broken: the
    /// result is revoked, and a revocation notice goes to the applicant.
    TrustRevoked {
        /// What the check found (printed on the notice).
        reason: String,
    },
    /// The applicant's rating (好差评).
    Rated {
        /// 1 very satisfied ... 5 very dissatisfied.
        score: u8,
        /// Channel.
        channel: Channel,
        /// Comment.
        #[serde(default)]
        comment: String,
    },
    /// The hall's answer to a bad rating (4 or 5): what was found and put
    /// right, told to the applicant (差评回访整改). Due within
    /// [`FOLLOW_UP_WORKING_DAYS`] working days of the rating.
    FollowedUp {
        /// The answer.
        answer: String,
    },
    /// The district reopens a completed or terminated case (privileged,
    /// with a reason): it goes back to `accepted`, its decision and result
    /// are cleared, and its time limits run again in full from the day of
    /// reopening. Written by the holder; a hall that may not decide the
    /// matter then hands it up again.
    Reopened {
        /// Why.
        reason: String,
    },
    /// The hall a case was handed up to records that it arrived late: more
    /// than `[oversight] late_forwarding_hours` after the hall below wrote
    /// the hand-up (its link was down, or it was off). The case then has a
    /// red `forwarding` warning while it runs. Written by that hall's node
    /// right after the case arrives.
    ForwardedLate {
        /// The hall that sent it up.
        from: String,
        /// Hours between the hand-up and its arrival.
        hours: u32,
    },
    /// The district hands an open case over to another hall because the
    /// hall that served it closes or moves (`node decommission`, `node
    /// move`): from now on the case is served at `to` (its result is handed
    /// out there) and held by `holder`. Written by the root while it holds
    /// the case. `history` carries the case's earlier records, so that
    /// halls of the new hall's branch that never held the case can start it
    /// from this event; halls that hold the case ignore it.
    HandedOver {
        /// The hall that serves the case from now on.
        to: String,
        /// The hall that holds it from now on.
        holder: String,
        /// Why.
        reason: String,
        /// The case's records before this one, in order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(value_type = Vec<Object>)]
        history: Vec<EventRecord>,
    },
    /// Cross-district handling (异地通办): the lowest common ancestor of
    /// the case's window and the hall it goes to, holding the case, sends
    /// it down into that hall's branch, which holds it from now on. The
    /// hall's branch takes from above only what its ancestors wrote, so
    /// `history` carries the case's records before this one: a hall that
    /// never held the case starts it from them, and one that holds its
    /// beginning takes the records it lacks ([`Case::catch_up`]). Written
    /// towards the deciding hall once the case arrives, and towards the
    /// window once the result is ready.
    Crossed {
        /// The hall that holds the case from now on.
        holder: String,
        /// Why.
        reason: String,
        /// The case's records before this one, in order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(value_type = Vec<Object>)]
        history: Vec<EventRecord>,
    },
    /// The hall that holds the case appeals a warning raised on it, with
    /// its reason; the district upholds or revokes it.
    WarningAppealed {
        /// The rule that raised the warning.
        rule: WarningRule,
        /// The level appealed (yellow or red).
        level: Warning,
        /// Why the hall holds the warning wrong.
        reason: String,
    },
    /// The district's decision on an appeal, written by the holder when the
    /// decision reaches it.
    WarningDecided {
        /// The rule of the appealed warning.
        rule: WarningRule,
        /// Its level.
        level: Warning,
        /// Upheld (the warning stands) or revoked.
        upheld: bool,
        /// The decision's reason.
        reason: String,
        /// Who decided, as `username@node`.
        decided_by: String,
    },
    /// A file attached to the case: a clerk's scan of a material, or one
    /// the applicant sent with an online pre-application. The file itself
    /// is kept by hash, outside the log ([`crate::attachment`]).
    Attached(Box<crate::attachment::Attachment>),
}

/// The rule that raised a warning.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WarningRule {
    /// A running case near or past a deadline.
    Deadline,
    /// A bad rating near or past its follow-up's due day.
    FollowUp,
    /// A case that reached the hall that decides it late
    /// ([`Event::ForwardedLate`]): red while the case runs.
    Forwarding,
}

impl WarningRule {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deadline => "deadline",
            Self::FollowUp => "follow_up",
            Self::Forwarding => "forwarding",
        }
    }

    /// From its stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "deadline" => Some(Self::Deadline),
            "follow_up" => Some(Self::FollowUp),
            "forwarding" => Some(Self::Forwarding),
            _ => None,
        }
    }
}

/// A hall's appeal against one warning of a case (a rule at a level),
/// and the district's decision once given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WarningAppeal {
    /// The rule.
    pub rule: WarningRule,
    /// The level.
    pub level: Warning,
    /// The hall's reason.
    pub reason: String,
    /// Who appealed (username at the hall).
    pub by: String,
    /// The hall.
    pub hall: String,
    /// When.
    pub at_ms: i64,
    /// The decision, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<AppealDecision>,
}

/// How late a case reached the hall that decides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LateForwarding {
    /// The hall that sent it up.
    pub from: String,
    /// The hall it reached.
    pub to: String,
    /// Hours between the hand-up and its arrival.
    pub hours: u32,
    /// When the arrival was recorded.
    pub at_ms: i64,
}

/// The district's decision on an appeal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppealDecision {
    /// The warning stands.
    pub upheld: bool,
    /// Why.
    pub reason: String,
    /// Who decided (`username@node`).
    pub by: String,
    /// When it was written into the case.
    pub at_ms: i64,
}

impl WarningAppeal {
    /// The warning's status by this appeal.
    pub fn status(&self) -> WarningStatus {
        WarningStatus::of(Some(self))
    }
}

/// Where a warning stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarningStatus {
    /// It counts against the responsible hall (never appealed, or the
    /// appeal was upheld).
    Issued,
    /// The responsible hall appealed; the district has not decided yet.
    Appealed,
    /// The district revoked it on appeal: it no longer counts.
    Revoked,
    /// Red and standing (not appealed, or upheld) for more than
    /// [`ESCALATE_AFTER_WORKING_DAYS`] working days: the district's
    /// supervisors follow it up themselves (督办).
    Escalated,
    /// Issued where it is listed, but the responsible hall has not been
    /// heard from since the warning arose: it may not know of it yet.
    Pending,
}

/// Working days a red warning stands before it is escalated.
pub const ESCALATE_AFTER_WORKING_DAYS: i64 = 5;

impl WarningStatus {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Appealed => "appealed",
            Self::Revoked => "revoked",
            Self::Escalated => "escalated",
            Self::Pending => "pending",
        }
    }

    /// The status of a warning at `level` that has held since `since`, by
    /// its appeal: an issued red one escalates after
    /// [`ESCALATE_AFTER_WORKING_DAYS`] working days.
    pub fn on(
        appeal: Option<&WarningAppeal>,
        level: Warning,
        since: NaiveDate,
        today: NaiveDate,
        calendar: &crate::calendar::Calendar,
    ) -> Self {
        match Self::of(appeal) {
            Self::Issued
                if level == Warning::Red
                    && crate::deadline::working_days_between(calendar, since, today)
                        > ESCALATE_AFTER_WORKING_DAYS =>
            {
                Self::Escalated
            }
            s => s,
        }
    }

    /// The status of a warning by its appeal, if any.
    pub fn of(appeal: Option<&WarningAppeal>) -> Self {
        match appeal.map(|a| a.decision.as_ref().map(|d| d.upheld)) {
            Some(None) => Self::Appealed,
            Some(Some(false)) => Self::Revoked,
            Some(Some(true)) | None => Self::Issued,
        }
    }
}

/// Working days a hall has to answer a bad rating.
pub const FOLLOW_UP_WORKING_DAYS: u32 = 15;

/// The content of a first submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Received {
    /// Matter code.
    pub matter_code: String,
    /// Matter version accepted under.
    pub matter_version: u32,
    /// Catalogue version accepted under.
    pub catalogue_version: i64,
    /// Matter name (Chinese), for documents.
    pub matter_name_zh: String,
    /// Matter name (English).
    pub matter_name_en: String,
    /// Implementing department.
    pub department: String,
    /// Co-handling departments.
    pub co_departments: Vec<String>,
    /// Join rule for parallel opinions.
    pub join: JoinRule,
    /// Immediate matter.
    pub immediate: bool,
    /// Statutory limit.
    pub statutory_limit: Limit,
    /// Committed limit.
    pub committed_limit: Limit,
    /// Longest extension.
    pub extension_max: Option<Limit>,
    /// Stage norms.
    pub stages: Vec<Stage>,
    /// Applicant.
    pub applicant: Applicant,
    /// Situations selected.
    pub situations: Vec<String>,
    /// Materials presented.
    pub materials: Vec<PresentedMaterial>,
    /// Accepting node id.
    pub accepting_node: String,
    /// How the case came to the window: submitted there, or pre-applied
    /// online and accepted there.
    #[serde(default, skip_serializing_if = "crate::attachment::Intake::is_window")]
    pub intake: crate::attachment::Intake,
    /// How many different people handle, review and decide the case: the
    /// matter's [`Matter::distinct_people`](super::catalogue::Matter::distinct_people)
    /// in the catalogue version it was accepted under (3 when not said).
    #[serde(default = "default_distinct_people")]
    pub distinct_people: u8,
    /// The matter's trust-first pledge and post-check limit, when it is a
    /// trust-first matter (filled from the catalogue like the other fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_first: Option<super::catalogue::TrustFirst>,
    /// A keyed digest (HMAC-SHA256 under the tree's key, hex) of the
    /// applicant's ID number, in the event's open part: the tiers that hold
    /// the applicant withheld find a person's cases by it. Empty when the
    /// hall had no key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id_digest: String,
    /// The hall the clerk named to decide a cross-district case (异地通办:
    /// the applicant's home district, in another branch of the tree), in
    /// the event's open part: the case goes up to the lowest common
    /// ancestor of the accepting hall and that hall, then down to it
    /// ([`crate::policy::route`]). `None` for every other case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// The root of the other tree whose catalogue holds the matter, for a
    /// case accepted here for a hall of a tree this one peers with (异地通办
    /// across trees): the case goes up to this tree's root, across to that
    /// one, and down to the hall that decides it. `None` for a matter of
    /// this tree's catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue_tree: Option<String>,
    /// That other tree's matter, whole (the fields above are filled from
    /// it; the log entry carries it, since no hall of one tree holds the
    /// other's catalogue versions).
    #[serde(skip)]
    pub peer_matter: Option<Box<super::catalogue::Matter>>,
}

fn default_distinct_people() -> u8 {
    super::catalogue::DISTINCT_PEOPLE
}

impl Received {
    /// A first submission of `matter` (of catalogue version
    /// `catalogue_version`) at `accepting_node`: the matter's fields that
    /// documents and deadlines need are taken from the catalogue.
    pub fn from_matter(
        matter: &super::catalogue::Matter,
        catalogue_version: i64,
        applicant: Applicant,
        situations: Vec<String>,
        materials: Vec<PresentedMaterial>,
        accepting_node: String,
    ) -> Received {
        Received {
            matter_code: matter.code.clone(),
            matter_version: matter.version,
            catalogue_version,
            matter_name_zh: matter.name_zh.clone(),
            matter_name_en: matter.name_en.clone(),
            department: matter.department.clone(),
            co_departments: matter.co_departments.clone(),
            join: matter.join,
            immediate: matter.immediate,
            statutory_limit: matter.statutory_limit,
            committed_limit: matter.committed_limit,
            extension_max: matter.extension,
            stages: matter.stages.clone(),
            applicant,
            situations,
            materials,
            accepting_node,
            intake: crate::attachment::Intake::Window,
            id_digest: String::new(),
            distinct_people: matter.distinct_people,
            trust_first: matter.trust_first.clone(),
            decided_at: None,
            catalogue_tree: None,
            peer_matter: None,
        }
    }
}

/// An event with its place and provenance; the body of a log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventRecord {
    /// Case number.
    pub case_id: String,
    /// 1, 2, 3, ... within the case.
    pub case_version: u64,
    /// Who.
    pub actor: Actor,
    /// When, milliseconds since the Unix epoch (UTC).
    pub at_ms: i64,
    /// What.
    pub event: Event,
}

impl Event {
    /// Stable short name of the event kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Received(_) => "received",
            Self::Resubmitted { .. } => "resubmitted",
            Self::CorrectionNotified { .. } => "correction_notified",
            Self::NotAccepted { .. } => "not_accepted",
            Self::Accepted { .. } => "accepted",
            Self::CompletedAtWindow { .. } => "completed_at_window",
            Self::HandlingStarted => "handling_started",
            Self::SubmittedForReview { .. } => "submitted_for_review",
            Self::ReviewPassed { .. } => "review_passed",
            Self::SentBack { .. } => "sent_back",
            Self::OpinionGiven { .. } => "opinion_given",
            Self::Decided { .. } => "decided",
            Self::ResultReady { .. } => "result_ready",
            Self::HandedOut { .. } => "handed_out",
            Self::Suspended { .. } => "suspended",
            Self::Resumed { .. } => "resumed",
            Self::Extended { .. } => "extended",
            Self::Withdrawn { .. } => "withdrawn",
            Self::Terminated { .. } => "terminated",
            Self::Transferred { .. } => "transferred",
            Self::Rated { .. } => "rated",
            Self::DocumentIssued { .. } => "document_issued",
            Self::FollowedUp { .. } => "followed_up",
            Self::Reopened { .. } => "reopened",
            Self::HandedOver { .. } => "handed_over",
            Self::Crossed { .. } => "crossed",
            Self::ForwardedLate { .. } => "forwarded_late",
            Self::WarningAppealed { .. } => "warning_appealed",
            Self::WarningDecided { .. } => "warning_decided",
            Self::Attached(_) => "attached",
            Self::TrustIssued { .. } => "trust_issued",
            Self::PostCheckPassed { .. } => "post_check_passed",
            Self::TrustRevoked { .. } => "trust_revoked",
        }
    }

    /// The case's earlier records that this event carries (a handover's
    /// or a crossing's), for the halls that lack them.
    pub fn carried(&self) -> Option<&[EventRecord]> {
        match self {
            Self::HandedOver { history, .. } | Self::Crossed { history, .. } => Some(history),
            _ => None,
        }
    }

    /// Who may cause this event. Acceptance and approval are separated: no
    /// event is open to both clerks and approvers.
    pub fn allowed_roles(&self) -> &'static [Role] {
        match self {
            Self::Received(_)
            | Self::Resubmitted { .. }
            | Self::CorrectionNotified { .. }
            | Self::NotAccepted { .. }
            | Self::Accepted { .. }
            | Self::CompletedAtWindow { .. }
            | Self::TrustIssued { .. }
            | Self::HandedOut { .. }
            | Self::Withdrawn { .. }
            | Self::Attached(_) => &[Role::Clerk],
            Self::HandlingStarted
            | Self::SubmittedForReview { .. }
            | Self::ReviewPassed { .. }
            | Self::SentBack { .. }
            | Self::OpinionGiven { .. }
            | Self::Decided { .. }
            | Self::ResultReady { .. }
            | Self::Suspended { .. }
            | Self::Resumed { .. }
            | Self::Extended { .. }
            | Self::PostCheckPassed { .. }
            | Self::TrustRevoked { .. } => &[Role::Approver],
            Self::Terminated { .. } => &[Role::Approver, Role::Supervisor],
            Self::Transferred { .. } | Self::Crossed { .. } | Self::DocumentIssued { .. } => {
                &[Role::Clerk, Role::Approver, Role::Supervisor]
            }
            Self::Rated { .. } => &[Role::Citizen],
            Self::FollowedUp { .. } | Self::WarningAppealed { .. } => {
                &[Role::Clerk, Role::Approver, Role::Supervisor]
            }
            Self::WarningDecided { .. }
            | Self::Reopened { .. }
            | Self::HandedOver { .. }
            | Self::ForwardedLate { .. } => &[Role::Supervisor],
        }
    }

    /// Must the approver belong to the case's implementing department?
    fn needs_case_department(&self) -> bool {
        self.allowed_roles().contains(&Role::Approver) && !matches!(self, Self::OpinionGiven { .. })
    }
}

/// The transition table: the state an event leads to from a state, if legal.
///
/// Events that do not change the state (opinions, suspension, extension,
/// rating) map a state to itself where they are allowed.
pub fn transition(from: State, event: &Event) -> Option<State> {
    use State as S;
    let to = match (from, event) {
        (S::Received, Event::CorrectionNotified { .. }) => S::Correction,
        (S::Correction, Event::Resubmitted { .. }) => S::Received,
        (S::Received, Event::NotAccepted { .. }) => S::Rejected,
        (S::Received, Event::Accepted { .. }) => S::Accepted,
        (S::Received, Event::CompletedAtWindow { .. } | Event::TrustIssued { .. }) => S::Completed,
        (S::Completed, Event::PostCheckPassed { .. } | Event::TrustRevoked { .. }) => S::Completed,
        (S::Accepted, Event::HandlingStarted) => S::Handling,
        (S::Handling, Event::SubmittedForReview { .. }) => S::Review,
        (S::Review, Event::ReviewPassed { .. }) => S::Approval,
        (S::Review | S::Approval, Event::SentBack { .. }) => S::Handling,
        (S::Approval, Event::Decided { .. }) => S::Decided,
        (S::Decided, Event::ResultReady { .. }) => S::ResultReady,
        (S::ResultReady, Event::HandedOut { .. }) => S::Completed,
        (s @ (S::Handling | S::Review | S::Approval), Event::OpinionGiven { .. }) => s,
        (
            s @ (S::Accepted | S::Handling | S::Review | S::Approval),
            Event::Suspended { .. } | Event::Resumed { .. } | Event::Extended { .. },
        ) => s,
        (
            S::Received | S::Correction | S::Accepted | S::Handling | S::Review | S::Approval,
            Event::Withdrawn { .. },
        ) => S::Withdrawn,
        (
            S::Received | S::Correction | S::Accepted | S::Handling | S::Review | S::Approval,
            Event::Terminated { .. },
        ) => S::Terminated,
        (s @ (S::Completed | S::Rejected), Event::Rated { .. } | Event::FollowedUp { .. }) => s,
        // A document may follow any event that issues one.
        (s, Event::DocumentIssued { .. }) => s,
        (s, Event::WarningAppealed { .. } | Event::WarningDecided { .. }) => s,
        (s, Event::ForwardedLate { .. }) if !s.is_final() => s,
        (s, Event::Attached(_)) if !s.is_final() => s,
        (S::Completed | S::Terminated, Event::Reopened { .. }) => S::Accepted,
        (
            s @ (S::Received
            | S::Correction
            | S::Accepted
            | S::Handling
            | S::Review
            | S::Approval
            | S::Decided
            | S::ResultReady),
            Event::Transferred { .. } | Event::HandedOver { .. } | Event::Crossed { .. },
        ) => s,
        _ => return None,
    };
    Some(to)
}

/// Why an event cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// The transition table has no such move.
    #[error("{event} is not allowed while the case is {state}")]
    IllegalTransition {
        /// Current state.
        state: &'static str,
        /// Event kind.
        event: &'static str,
    },
    /// The actor's role may not cause this event.
    #[error("role {role} may not do {event}")]
    WrongRole {
        /// Role.
        role: &'static str,
        /// Event kind.
        event: &'static str,
    },
    /// The approver is from another department.
    #[error("this case belongs to department {expected}, not {actual}")]
    WrongDepartment {
        /// The case's department.
        expected: String,
        /// The actor's.
        actual: String,
    },
    /// The case is suspended.
    #[error("the case is suspended; resume it first")]
    Suspended,
    /// Resume without suspension.
    #[error("the case is not suspended")]
    NotSuspended,
    /// Parallel sub-cases still open, or their join is not satisfied.
    #[error("parallel approval: {0}")]
    SubCases(String),
    /// Extension not allowed or too long.
    #[error("extension: {0}")]
    Extension(String),
    /// Hand-out away from the accepting window.
    #[error("the result is handed out only at the accepting hall {0}")]
    NotAcceptingHall(String),
    /// The same person may not review and approve.
    #[error("review and approval must be done by different staff")]
    SameStaff,
    /// The handler of a case may not review it, nor decide it where the
    /// matter needs three people (`step` is `review` or `decide`).
    #[error("the handler of a case may not {step} it")]
    OwnHandling {
        /// `review` or `decide`.
        step: &'static str,
    },
    /// A hand-out written without saying how the collector's identity was
    /// checked.
    #[error("a hand-out must say how the collector's identity was checked")]
    CollectionMissing,
    /// The applicant collects in person, but the ID document was not
    /// checked.
    #[error("the ID document was not checked")]
    IdNotChecked,
    /// The ID number given at hand-out is not the applicant's.
    #[error("the ID number is not the applicant's")]
    IdMismatch,
    /// An organisation's result is collected by a proxy, never "in person".
    #[error("an organisation's result is collected by a proxy with its authorisation")]
    InPersonOrganisation,
    /// A proxy without the applicant's written authorisation.
    #[error("a proxy must present the applicant's written authorisation")]
    NoAuthorisation,
    /// An ID number that is not one.
    #[error("{0}")]
    BadId(crate::ids::IdError),
    /// A text longer than its field takes; the field is a key of
    /// `field.<name>`.
    #[error("{field} is longer than {max} characters")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Most characters it takes.
        max: usize,
    },
    /// Already rated, or a bad score.
    #[error("rating: {0}")]
    Rating(String),
    /// A post-check on a case that is not a trust-first result (`not_trust_first`),
    /// or one already checked (`already_checked`).
    #[error("post-check refused: {0}")]
    PostCheck(&'static str),
    /// The case is already rated (one rating per case, whatever the channel).
    #[error("the case is already rated")]
    AlreadyRated,
    /// A warning's appeal or its decision is refused.
    #[error("appeal refused: {0}")]
    Appeal(String),
    /// The event's case version is not the next one.
    #[error("case version {got} does not follow {have}")]
    Version {
        /// Version held.
        have: u64,
        /// Version offered.
        got: u64,
    },
    /// The first event of a case must be `received`, and only the first.
    #[error("a case starts with exactly one received event")]
    NotStarted,
    /// A required text is empty; the field is a key of `field.<name>`.
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

impl CaseError {
    /// The message in both languages (`err.<code>`).
    pub fn message(&self) -> onewindow_i18n::Text {
        use onewindow_i18n::{Arg, text, text_args};
        match self {
            CaseError::IllegalTransition { state, event } => text(
                "err.illegal_transition",
                &[("state", state), ("event", event)],
            ),
            CaseError::WrongRole { role, event } => {
                text("err.wrong_role.event", &[("role", role), ("event", event)])
            }
            CaseError::WrongDepartment { expected, actual } => text(
                "err.wrong_department",
                &[("expected", expected), ("actual", actual)],
            ),
            CaseError::Suspended => text("err.case_suspended", &[]),
            CaseError::NotSuspended => text("err.case_not_suspended", &[]),
            CaseError::SubCases(s) => text("err.sub_cases_open", &[("detail", s)]),
            CaseError::Extension(s) => text("err.extension_refused", &[("detail", s)]),
            CaseError::NotAcceptingHall(h) => text("err.not_accepting_hall", &[("hall", h)]),
            CaseError::SameStaff => text("err.same_staff", &[]),
            CaseError::Rating(s) => text("err.rating_refused", &[("detail", s)]),
            CaseError::Appeal(s) => text("err.appeal_refused", &[("detail", s)]),
            CaseError::PostCheck(why) => text(&format!("err.post_check_refused.{why}"), &[]),
            CaseError::AlreadyRated => text("err.already_rated", &[]),
            CaseError::Version { got, have } => {
                text("err.case_version", &[("got", got), ("have", have)])
            }
            CaseError::NotStarted => text("err.case_not_started", &[]),
            CaseError::OwnHandling { step: "review" } => text("err.own_handling.review", &[]),
            CaseError::OwnHandling { .. } => text("err.own_handling.decide", &[]),
            CaseError::CollectionMissing => text("err.handout_identity_missing", &[]),
            CaseError::IdNotChecked => text("err.id_not_checked", &[]),
            CaseError::IdMismatch => text("err.id_mismatch", &[]),
            CaseError::InPersonOrganisation => text("err.in_person_organisation", &[]),
            CaseError::NoAuthorisation => text("err.authorisation_missing", &[]),
            CaseError::BadId(e) => e.message(),
            CaseError::TooLong { field, max } => text_args(
                "err.field_too_long",
                &[
                    ("field", Arg::Phrase(&format!("field.{field}"))),
                    ("max", Arg::Plain(max)),
                ],
            ),
            CaseError::Empty(f) => text_args(
                "err.empty_field",
                &[("field", Arg::Phrase(&format!("field.{f}")))],
            ),
        }
    }

    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::IllegalTransition { .. } => "illegal_transition",
            Self::WrongRole { .. } => "wrong_role",
            Self::WrongDepartment { .. } => "wrong_department",
            Self::Suspended => "case_suspended",
            Self::NotSuspended => "case_not_suspended",
            Self::SubCases(_) => "sub_cases_open",
            Self::Extension(_) => "extension_refused",
            Self::NotAcceptingHall(_) => "not_accepting_hall",
            Self::SameStaff => "same_staff",
            Self::Rating(_) => "rating_refused",
            Self::Appeal(_) => "appeal_refused",
            Self::PostCheck(_) => "post_check_refused",
            Self::AlreadyRated => "already_rated",
            Self::Version { .. } => "case_version",
            Self::NotStarted => "case_not_started",
            Self::Empty(_) => "empty_field",
            Self::OwnHandling { .. } => "own_handling",
            Self::CollectionMissing => "handout_identity_missing",
            Self::IdNotChecked => "id_not_checked",
            Self::IdMismatch => "id_mismatch",
            Self::InPersonOrganisation => "in_person_organisation",
            Self::NoAuthorisation => "authorisation_missing",
            Self::BadId(e) => e.code(),
            Self::TooLong { .. } => "field_too_long",
        }
    }
}

/// Who collected a case's result, and how ([`Event::HandedOut`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HandOut {
    /// Who collected it.
    pub recipient: String,
    /// How their identity was checked; `None` when not recorded (hand-outs
    /// before it was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<crate::collection::Collection>,
    /// The clerk who handed it out.
    pub by: String,
    /// When.
    pub at_ms: i64,
}

impl HandOut {
    /// Who collected it and how, in both languages.
    pub fn describe(&self) -> onewindow_i18n::Text {
        crate::collection::describe(&self.recipient, self.collection.as_ref())
    }
}

/// A co-handling department's sub-case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubCaseStatus {
    /// Waiting for the department's opinion.
    Open,
    /// Approved.
    Approved,
    /// Refused.
    Refused,
    /// Not needed any more (another department approved under 或签).
    Superseded,
}

/// A parallel sub-case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubCase {
    /// Status.
    pub status: SubCaseStatus,
    /// Opinion text.
    #[serde(default)]
    pub opinion: String,
    /// Who gave it.
    #[serde(default)]
    pub by: Option<String>,
}

/// One suspension interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suspension {
    /// Procedure.
    pub kind: SuspensionKind,
    /// Why.
    pub reason: String,
    /// The approver who suspended.
    pub approved_by: String,
    /// From (ms).
    pub from_ms: i64,
    /// To (ms); `None` while it lasts.
    pub to_ms: Option<i64>,
}

/// One approved extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Extension {
    /// Units added.
    pub n: u32,
    /// Why.
    pub reason: String,
    /// The approver.
    pub approved_by: String,
    /// When.
    pub at_ms: i64,
}

/// A rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rating {
    /// 1 very satisfied ... 5 very dissatisfied.
    pub score: u8,
    /// Channel.
    pub channel: Channel,
    /// Comment.
    pub comment: String,
    /// When.
    pub at_ms: i64,
    /// The hall's answer, once given (a bad rating's follow-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
}

/// A hall's answer to a bad rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FollowUp {
    /// The answer.
    pub answer: String,
    /// Who gave it (username at the hall).
    pub by: String,
    /// When.
    pub at_ms: i64,
}

impl Rating {
    /// A bad rating (4 or 5) opens a follow-up.
    pub fn is_bad(&self) -> bool {
        self.score >= 4
    }
}

/// The current state of a case, derived from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Case {
    /// Case number.
    pub id: String,
    /// What was submitted first, with the matter's rules as accepted under.
    pub received: Arc<Received>,
    /// Situations now selected.
    pub situations: Vec<String>,
    /// Materials now presented.
    pub materials: Vec<PresentedMaterial>,
    /// State.
    pub state: State,
    /// Highest case version applied.
    pub version: u64,
    /// The node that may write the case; `None` while waiting for transfer.
    pub holder: Option<String>,
    /// When first received (ms).
    pub received_at_ms: i64,
    /// When accepted (ms).
    pub accepted_at_ms: Option<i64>,
    /// When the current stage was entered (ms).
    pub stage_entered_at_ms: Option<i64>,
    /// When decided (ms).
    pub decided_at_ms: Option<i64>,
    /// When completed, rejected, withdrawn or terminated (ms).
    pub closed_at_ms: Option<i64>,
    /// The last correction notice's problems.
    pub correction: Vec<MaterialIssue>,
    /// Non-acceptance reason.
    pub rejection_reason: Option<String>,
    /// Deferred (容缺) materials.
    pub deferred: Vec<String>,
    /// Parallel sub-cases by department.
    pub sub_cases: BTreeMap<String, SubCase>,
    /// Suspension log.
    pub suspensions: Vec<Suspension>,
    /// Extensions.
    pub extensions: Vec<Extension>,
    /// Who passed review last.
    pub reviewed_by: Option<String>,
    /// Who handled the case: the approver who last submitted it for
    /// review (the author of the handling opinion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_by: Option<String>,
    /// Who collected the result, and how their identity was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_out: Option<HandOut>,
    /// Decision: granted?
    pub granted: Option<bool>,
    /// Decision or closing text.
    pub outcome_text: Option<String>,
    /// Result description.
    pub result: Option<String>,
    /// Rating.
    pub rating: Option<Rating>,
    /// Appeals against the case's warnings, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appeals: Vec<WarningAppeal>,
    /// How late the case reached the hall that decides it, if late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_forwarding: Option<LateForwarding>,
    /// The hall the case was handed over to, when the accepting hall
    /// closed or moved ([`Event::HandedOver`]); see [`Case::window`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The documents issued for the case, in order ([`Event::DocumentIssued`];
    /// their content is in the log).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentRef>,
    /// The files attached to the case, in order ([`Event::Attached`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::attachment::Attachment>,
    /// A trust-first result: the pledge signed, and its post-check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustCheck>,
}

/// A result issued on the applicant's pledge ([`Event::TrustIssued`]) and
/// what its post-check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrustCheck {
    /// The pledge as signed.
    pub pledge: String,
    /// Working days the post-check has.
    pub check_days: u32,
    /// When the result was issued (ms).
    pub issued_at_ms: i64,
    /// The post-check, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<PostCheck>,
}

/// The post-check of a trust-first result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostCheck {
    /// The result stands (`false`: revoked).
    pub passed: bool,
    /// What was checked, or what the check found.
    pub text: String,
    /// The approver.
    pub by: String,
    /// When (ms).
    pub at_ms: i64,
}

/// Where a trust-first result stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrustStatus {
    /// Issued; the post-check is open.
    Pending,
    /// Checked: the result stands.
    Passed,
    /// Checked: the result is revoked.
    Revoked,
}

impl TrustStatus {
    /// Stable name, as stored in the read model.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Passed => "passed",
            Self::Revoked => "revoked",
        }
    }
}

impl TrustCheck {
    /// Where the result stands.
    pub fn status(&self) -> TrustStatus {
        match &self.check {
            None => TrustStatus::Pending,
            Some(c) if c.passed => TrustStatus::Passed,
            Some(_) => TrustStatus::Revoked,
        }
    }
}

/// Where a case's issued document is: the event that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentRef {
    /// The case version of its [`Event::DocumentIssued`].
    pub version: u64,
    /// Which document.
    pub kind: crate::document::DocKind,
    /// The hall that issued it.
    pub node: String,
    /// When (ms).
    pub at_ms: i64,
    /// The first 8 bytes of its content hash, hex.
    pub reference: String,
}

/// The local date in China (UTC+8, no daylight saving) of a time in ms.
pub fn china_date(ms: i64) -> NaiveDate {
    const CHINA: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
        Some(tz) => tz,
        None => panic!("UTC+8 is a valid offset"),
    };
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&CHINA)
        .date_naive()
}

/// Deadlines of a case: statutory, committed and the current stage's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Clocks {
    /// Statutory due date.
    pub statutory: Due,
    /// Committed due date.
    pub committed: Due,
    /// Current stage's due date, when in a stage with a norm.
    pub stage: Option<Due>,
}

pub use crate::deadline::Warning;

impl Case {
    /// Starts a case from its first record.
    pub fn start(rec: &EventRecord) -> Result<Case, CaseError> {
        let Event::Received(r) = &rec.event else {
            return Err(CaseError::NotStarted);
        };
        if rec.case_version != 1 {
            return Err(CaseError::Version {
                have: 0,
                got: rec.case_version,
            });
        }
        check_role(&rec.event, &rec.actor)?;
        Ok(Case {
            id: rec.case_id.clone(),
            situations: r.situations.clone(),
            materials: r.materials.clone(),
            received: Arc::clone(r),
            state: State::Received,
            version: 1,
            holder: Some(rec.actor.node.clone()),
            received_at_ms: rec.at_ms,
            accepted_at_ms: None,
            stage_entered_at_ms: None,
            decided_at_ms: None,
            closed_at_ms: None,
            correction: Vec::new(),
            rejection_reason: None,
            deferred: Vec::new(),
            sub_cases: BTreeMap::new(),
            suspensions: Vec::new(),
            extensions: Vec::new(),
            reviewed_by: None,
            handled_by: None,
            handed_out: None,
            granted: None,
            outcome_text: None,
            result: None,
            rating: None,
            appeals: Vec::new(),
            late_forwarding: None,
            window: None,
            documents: Vec::new(),
            attachments: Vec::new(),
            trust: None,
        })
    }

    /// Folds a run of records. The first is `received`, or, at a hall that
    /// first learnt of the case when it was handed over to its branch, the
    /// `handed_over` that carries the records before it.
    pub fn fold<'a>(records: impl IntoIterator<Item = &'a EventRecord>) -> Result<Case, CaseError> {
        let mut it = records.into_iter();
        let first = it.next().ok_or(CaseError::NotStarted)?;
        let mut case = match first.event.carried() {
            Some(history) if !history.is_empty() => {
                let mut case = Case::fold(history)?;
                case.replay(first)?;
                case
            }
            _ => Case::start(first)?,
        };
        for r in it {
            case.catch_up(r)?;
        }
        Ok(case)
    }

    /// [`Case::replay`], after the records this case lacks from those
    /// that `rec` carries ([`Event::Crossed`] back to a window whose
    /// branch held the case's beginning only). A record that carries
    /// nothing, or whose predecessor is held, is replayed as it is.
    pub fn catch_up(&mut self, rec: &EventRecord) -> Result<(), CaseError> {
        if rec.case_version > self.version + 1
            && let Some(history) = rec.event.carried()
        {
            let held = self.version;
            for r in history.iter().filter(|r| r.case_version > held) {
                self.replay(r)?;
            }
        }
        self.replay(rec)
    }

    /// The hall that serves the case: where it was accepted, or the hall it
    /// was handed over to. Its result is handed out there, and its events
    /// go down the tree towards it.
    pub fn window(&self) -> &str {
        self.window
            .as_deref()
            .unwrap_or(&self.received.accepting_node)
    }

    /// Is a suspension open?
    pub fn is_suspended(&self) -> bool {
        self.suspensions.last().is_some_and(|s| s.to_ms.is_none())
    }

    /// Checks a record that is being written against every rule, those
    /// of what is written now included (the three people, the hand-out's
    /// identity check), and applies it.
    pub fn apply(&mut self, rec: &EventRecord) -> Result<(), CaseError> {
        let next = self.check(rec)?;
        check_texts(&rec.event)?;
        self.check_written(rec)?;
        self.advance(rec, next);
        Ok(())
    }

    /// Checks a record written before (stored, or from another hall)
    /// against the rules every case's history keeps, and applies it: what
    /// [`Case::apply`] checks but the rules of what is written now.
    pub fn replay(&mut self, rec: &EventRecord) -> Result<(), CaseError> {
        let next = self.check(rec)?;
        self.advance(rec, next);
        Ok(())
    }

    /// The rules every case's history keeps; the state the record leads to.
    fn check(&self, rec: &EventRecord) -> Result<State, CaseError> {
        if rec.case_version != self.version + 1 {
            return Err(CaseError::Version {
                have: self.version,
                got: rec.case_version,
            });
        }
        let ev = &rec.event;
        if matches!(ev, Event::Received(_)) {
            return Err(CaseError::NotStarted);
        }
        check_role(ev, &rec.actor)?;
        let next = transition(self.state, ev).ok_or(CaseError::IllegalTransition {
            state: self.state.as_str(),
            event: ev.kind(),
        })?;
        if ev.needs_case_department() && rec.actor.role == Role::Approver {
            self.check_department(&self.received.department, &rec.actor)?;
        }
        let suspended = self.is_suspended();
        match ev {
            Event::Resumed { .. } if !suspended => return Err(CaseError::NotSuspended),
            Event::Resumed { .. }
            | Event::Withdrawn { .. }
            | Event::Terminated { .. }
            | Event::Transferred { .. }
            | Event::HandedOver { .. }
            | Event::Crossed { .. }
            | Event::ForwardedLate { .. }
            | Event::DocumentIssued { .. }
            | Event::Attached(_) => {}
            _ if suspended => return Err(CaseError::Suspended),
            _ => {}
        }
        self.guard(rec)?;
        Ok(next)
    }

    /// Applies a checked record.
    fn advance(&mut self, rec: &EventRecord, next: State) {
        self.version = rec.case_version;
        let entering_stage = next != self.state && next.stage().is_some();
        self.state = next;
        if entering_stage {
            self.stage_entered_at_ms = Some(rec.at_ms);
        }
        if next.is_final() && self.closed_at_ms.is_none() {
            self.closed_at_ms = Some(rec.at_ms);
        }
        self.record(rec);
    }

    /// The rules of what a hall writes now (see the module's introduction).
    fn check_written(&self, rec: &EventRecord) -> Result<(), CaseError> {
        match &rec.event {
            Event::ReviewPassed { .. } => self.may_review(&rec.actor.username),
            Event::Decided { .. } => self.may_decide(&rec.actor.username),
            Event::HandedOut {
                recipient,
                collection,
            } => check_written(recipient, collection.as_ref(), &self.received.applicant),
            _ => Ok(()),
        }
    }

    /// May `username` pass the case's review? Not its handler
    /// ([`Received::distinct_people`] is 2 or 3: the reviewer is never
    /// the handler).
    pub fn may_review(&self, username: &str) -> Result<(), CaseError> {
        if self.handled_by.as_deref() == Some(username) {
            Err(CaseError::OwnHandling { step: "review" })
        } else {
            Ok(())
        }
    }

    /// May `username` decide the case? Never its reviewer; not its handler
    /// either when the matter needs three people (2 lets the handler
    /// decide).
    pub fn may_decide(&self, username: &str) -> Result<(), CaseError> {
        if self.reviewed_by.as_deref() == Some(username) {
            Err(CaseError::SameStaff)
        } else if self.received.distinct_people >= 3 && self.handled_by.as_deref() == Some(username)
        {
            Err(CaseError::OwnHandling { step: "decide" })
        } else {
            Ok(())
        }
    }

    fn check_department(&self, expected: &str, actor: &Actor) -> Result<(), CaseError> {
        match &actor.department {
            Some(d) if d == expected => Ok(()),
            other => Err(CaseError::WrongDepartment {
                expected: expected.to_owned(),
                actual: other.clone().unwrap_or_default(),
            }),
        }
    }

    /// Guards that need the case itself.
    fn guard(&self, rec: &EventRecord) -> Result<(), CaseError> {
        match &rec.event {
            Event::TrustIssued { .. } if self.received.trust_first.is_none() => {
                Err(CaseError::IllegalTransition {
                    state: self.state.as_str(),
                    event: "trust_issued",
                })
            }
            Event::TrustIssued { pledge, .. } if pledge.trim().is_empty() => {
                Err(CaseError::Empty("pledge"))
            }
            Event::TrustIssued { check_days: 0, .. } => Err(CaseError::Empty("check_days")),
            Event::PostCheckPassed { .. } | Event::TrustRevoked { .. }
                if self.trust_status() != Some(TrustStatus::Pending) =>
            {
                Err(CaseError::PostCheck(match self.trust_status() {
                    None => "not_trust_first",
                    _ => "already_checked",
                }))
            }
            Event::CompletedAtWindow { .. } if !self.received.immediate => {
                Err(CaseError::IllegalTransition {
                    state: self.state.as_str(),
                    event: "completed_at_window",
                })
            }
            Event::OpinionGiven { department, .. } => {
                self.check_department(department, &rec.actor)?;
                match self.sub_cases.get(department) {
                    Some(SubCase {
                        status: SubCaseStatus::Open,
                        ..
                    }) => Ok(()),
                    Some(_) => Err(CaseError::SubCases(format!(
                        "department {department} has already given its opinion"
                    ))),
                    None => Err(CaseError::SubCases(format!(
                        "department {department} does not co-handle this case"
                    ))),
                }
            }
            Event::Decided { granted, .. } => {
                if self.reviewed_by.as_deref() == Some(rec.actor.username.as_str()) {
                    return Err(CaseError::SameStaff);
                }
                self.check_join(*granted)
            }
            Event::Extended { n, .. } => {
                let Some(max) = self.received.extension_max else {
                    return Err(CaseError::Extension(
                        "this matter allows no extension".into(),
                    ));
                };
                let used: u32 = self.extensions.iter().map(|e| e.n).sum();
                if *n == 0 || used + n > max.n {
                    return Err(CaseError::Extension(format!(
                        "at most {} in all; {used} already granted",
                        max.n
                    )));
                }
                Ok(())
            }
            // The root of a tree that takes a case in across a peering
            // writes its first record of it, carrying the other tree's
            // records, as the holder it already is (it decides the case).
            Event::Crossed {
                holder: to,
                history,
                ..
            } if !to.is_empty()
                && !history.is_empty()
                && !to.contains('.')
                && rec.actor.node == *to
                && self.holder.as_deref() == Some(to.as_str()) =>
            {
                Ok(())
            }
            Event::Transferred { to, .. } | Event::Crossed { holder: to, .. }
                if to.is_empty() || self.holder.as_deref() == Some(to.as_str()) =>
            {
                Err(CaseError::Empty("new_holder"))
            }
            Event::HandedOut { .. } if rec.actor.node != self.window() => {
                Err(CaseError::NotAcceptingHall(self.window().to_owned()))
            }
            Event::HandedOver { to, holder, .. } if to.is_empty() || holder.is_empty() => {
                Err(CaseError::Empty("new_hall"))
            }
            Event::HandedOver { to, .. } if to == self.window() => {
                Err(CaseError::Empty("new_hall"))
            }
            Event::Rated { score, .. } => {
                if self.rating.is_some() {
                    Err(CaseError::AlreadyRated)
                } else if !(1..=5).contains(score) {
                    Err(CaseError::Rating("the score is 1 to 5".into()))
                } else {
                    Ok(())
                }
            }
            Event::FollowedUp { .. } => match &self.rating {
                Some(r) if r.is_bad() && r.follow_up.is_none() => Ok(()),
                Some(r) if r.is_bad() => Err(CaseError::Rating(
                    "the rating is already followed up".into(),
                )),
                _ => Err(CaseError::Rating(
                    "only a bad rating (4 or 5) is followed up".into(),
                )),
            },
            Event::WarningAppealed { rule, level, .. } => {
                if *level == Warning::Green {
                    Err(CaseError::Appeal(
                        "only a yellow or red warning is appealed".into(),
                    ))
                } else if self.appeal(*rule, *level).is_some() {
                    Err(CaseError::Appeal(format!(
                        "the {} {} warning is already appealed",
                        level.as_str(),
                        rule.as_str()
                    )))
                } else {
                    Ok(())
                }
            }
            Event::WarningDecided { rule, level, .. } => match self.appeal(*rule, *level) {
                Some(a) if a.decision.is_none() => Ok(()),
                Some(_) => Err(CaseError::Appeal("the appeal is already decided".into())),
                None => Err(CaseError::Appeal(format!(
                    "the {} {} warning is not appealed",
                    level.as_str(),
                    rule.as_str()
                ))),
            },
            _ => Ok(()),
        }
    }

    /// The join rule of parallel approval, checked at decision time.
    fn check_join(&self, granted: bool) -> Result<(), CaseError> {
        let approved = self
            .sub_cases
            .values()
            .filter(|s| s.status == SubCaseStatus::Approved)
            .count();
        let open: Vec<&String> = self
            .sub_cases
            .iter()
            .filter(|(_, s)| s.status == SubCaseStatus::Open)
            .map(|(d, _)| d)
            .collect();
        let refused = self
            .sub_cases
            .values()
            .any(|s| s.status == SubCaseStatus::Refused);
        match self.received.join {
            JoinRule::Any if approved > 0 => Ok(()),
            _ if !open.is_empty() => Err(CaseError::SubCases(format!(
                "waiting for {}",
                open.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            JoinRule::All if granted && refused => Err(CaseError::SubCases(
                "a co-handling department refused; the case cannot be granted".into(),
            )),
            JoinRule::Any if granted && !self.sub_cases.is_empty() => Err(CaseError::SubCases(
                "no co-handling department approved".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Records the effects of an already checked event.
    fn record(&mut self, rec: &EventRecord) {
        let at = rec.at_ms;
        match &rec.event {
            Event::Received(_) => {}
            Event::Attached(a) => self.attachments.push((**a).clone()),
            Event::Resubmitted {
                situations,
                materials,
            } => {
                self.situations = situations.clone();
                self.materials = materials.clone();
            }
            Event::CorrectionNotified { issues } => self.correction = issues.clone(),
            Event::DocumentIssued { document } => self.documents.push(DocumentRef {
                version: rec.case_version,
                kind: document.kind,
                node: rec.actor.node.clone(),
                at_ms: at,
                reference: document.reference(),
            }),
            Event::NotAccepted { reason } => self.rejection_reason = Some(reason.clone()),
            Event::Accepted { deferred, holder } => {
                self.accepted_at_ms = Some(at);
                self.deferred = deferred.clone();
                self.holder = holder.clone();
                self.correction.clear();
            }
            Event::CompletedAtWindow { result } => {
                self.accepted_at_ms = Some(at);
                self.decided_at_ms = Some(at);
                self.granted = Some(true);
                self.result = Some(result.clone());
            }
            Event::TrustIssued {
                pledge,
                result,
                check_days,
            } => {
                self.accepted_at_ms = Some(at);
                self.decided_at_ms = Some(at);
                self.granted = Some(true);
                self.result = Some(result.clone());
                self.trust = Some(TrustCheck {
                    pledge: pledge.clone(),
                    check_days: *check_days,
                    issued_at_ms: at,
                    check: None,
                });
            }
            Event::PostCheckPassed { note: text } | Event::TrustRevoked { reason: text } => {
                let passed = matches!(rec.event, Event::PostCheckPassed { .. });
                if let Some(t) = &mut self.trust {
                    t.check = Some(PostCheck {
                        passed,
                        text: text.clone(),
                        by: rec.actor.username.clone(),
                        at_ms: at,
                    });
                }
            }
            Event::HandlingStarted => {
                if self.sub_cases.is_empty() {
                    for d in &self.received.co_departments {
                        self.sub_cases.insert(
                            d.clone(),
                            SubCase {
                                status: SubCaseStatus::Open,
                                opinion: String::new(),
                                by: None,
                            },
                        );
                    }
                }
            }
            Event::SubmittedForReview { .. } => {
                self.handled_by = Some(rec.actor.username.clone());
            }
            Event::ReviewPassed { .. } => self.reviewed_by = Some(rec.actor.username.clone()),
            Event::SentBack { .. } => self.reviewed_by = None,
            Event::OpinionGiven {
                department,
                approve,
                opinion,
            } => {
                let any = self.received.join == JoinRule::Any;
                if let Some(s) = self.sub_cases.get_mut(department) {
                    s.status = if *approve {
                        SubCaseStatus::Approved
                    } else {
                        SubCaseStatus::Refused
                    };
                    s.opinion = opinion.clone();
                    s.by = Some(rec.actor.username.clone());
                }
                if any && *approve {
                    for s in self.sub_cases.values_mut() {
                        if s.status == SubCaseStatus::Open {
                            s.status = SubCaseStatus::Superseded;
                        }
                    }
                }
            }
            Event::Decided { granted, opinion } => {
                self.decided_at_ms = Some(at);
                self.granted = Some(*granted);
                self.outcome_text = Some(opinion.clone());
                for s in self.sub_cases.values_mut() {
                    if s.status == SubCaseStatus::Open {
                        s.status = SubCaseStatus::Superseded;
                    }
                }
            }
            Event::ResultReady { result } => self.result = Some(result.clone()),
            Event::HandedOut {
                recipient,
                collection,
            } => {
                self.handed_out = Some(HandOut {
                    recipient: recipient.clone(),
                    collection: collection.clone(),
                    by: rec.actor.username.clone(),
                    at_ms: at,
                });
            }
            Event::Suspended { kind, reason } => self.suspensions.push(Suspension {
                kind: *kind,
                reason: reason.clone(),
                approved_by: rec.actor.username.clone(),
                from_ms: at,
                to_ms: None,
            }),
            Event::Resumed { .. } => {
                if let Some(s) = self.suspensions.last_mut() {
                    s.to_ms = Some(at);
                }
            }
            Event::Extended { n, reason } => self.extensions.push(Extension {
                n: *n,
                reason: reason.clone(),
                approved_by: rec.actor.username.clone(),
                at_ms: at,
            }),
            Event::Withdrawn { reason } | Event::Terminated { reason } => {
                self.outcome_text = Some(reason.clone());
                self.close_suspension(at);
            }
            Event::Transferred { to, .. } | Event::Crossed { holder: to, .. } => {
                self.holder = Some(to.clone());
            }
            Event::HandedOver { to, holder, .. } => {
                self.window = Some(to.clone());
                self.holder = Some(holder.clone());
            }
            Event::ForwardedLate { from, hours } => {
                self.late_forwarding = Some(LateForwarding {
                    from: from.clone(),
                    to: rec.actor.node.clone(),
                    hours: *hours,
                    at_ms: at,
                });
            }
            Event::Rated {
                score,
                channel,
                comment,
            } => {
                self.rating = Some(Rating {
                    score: *score,
                    channel: *channel,
                    comment: comment.clone(),
                    at_ms: at,
                    follow_up: None,
                })
            }
            Event::FollowedUp { answer } => {
                if let Some(r) = &mut self.rating {
                    r.follow_up = Some(FollowUp {
                        answer: answer.clone(),
                        by: rec.actor.username.clone(),
                        at_ms: at,
                    });
                }
            }
            Event::Reopened { .. } => {
                // A new clock from today; what was decided and handed out
                // stays in the events only.
                self.accepted_at_ms = Some(at);
                self.decided_at_ms = None;
                self.closed_at_ms = None;
                self.granted = None;
                self.outcome_text = None;
                self.result = None;
                self.reviewed_by = None;
                self.handled_by = None;
                self.handed_out = None;
                self.sub_cases.clear();
                self.suspensions.clear();
                self.extensions.clear();
            }
            Event::WarningAppealed {
                rule,
                level,
                reason,
            } => self.appeals.push(WarningAppeal {
                rule: *rule,
                level: *level,
                reason: reason.clone(),
                by: rec.actor.username.clone(),
                hall: rec.actor.node.clone(),
                at_ms: at,
                decision: None,
            }),
            Event::WarningDecided {
                rule,
                level,
                upheld,
                reason,
                decided_by,
            } => {
                if let Some(a) = self
                    .appeals
                    .iter_mut()
                    .find(|a| a.rule == *rule && a.level == *level)
                {
                    a.decision = Some(AppealDecision {
                        upheld: *upheld,
                        reason: reason.clone(),
                        by: decided_by.clone(),
                        at_ms: at,
                    });
                }
            }
        }
    }

    /// The appeal against the `rule` warning at `level`, if any.
    pub fn appeal(&self, rule: WarningRule, level: Warning) -> Option<&WarningAppeal> {
        self.appeals
            .iter()
            .find(|a| a.rule == rule && a.level == level)
    }

    fn close_suspension(&mut self, at: i64) {
        if let Some(s) = self.suspensions.last_mut().filter(|s| s.to_ms.is_none()) {
            s.to_ms = Some(at);
        }
    }

    /// The suspension log as date intervals for the deadline calculator.
    pub fn pause_intervals(&self) -> Vec<Interval> {
        self.suspensions
            .iter()
            .map(|s| Interval {
                from: china_date(s.from_ms),
                to: s.to_ms.map(china_date),
            })
            .collect()
    }

    /// The three clocks, or `None` before acceptance.
    pub fn clocks(&self, calendar: &Calendar) -> Option<Clocks> {
        let accepted = china_date(self.accepted_at_ms?);
        let pauses = self.pause_intervals();
        let ext: u32 = self.extensions.iter().map(|e| e.n).sum();
        let r = &self.received;
        let stat = deadline::due(
            accepted,
            r.statutory_limit.n,
            r.statutory_limit.unit,
            calendar,
            &pauses,
            ext,
        );
        let committed_ext = if r.committed_limit.unit == r.statutory_limit.unit {
            ext
        } else {
            0
        };
        let committed = deadline::due(
            accepted,
            r.committed_limit.n,
            r.committed_limit.unit,
            calendar,
            &pauses,
            committed_ext,
        );
        let stage = self.state.stage().and_then(|name| {
            let norm = r.stages.iter().find(|s| s.stage == name)?.norm;
            let entered = china_date(self.stage_entered_at_ms?);
            Some(deadline::due(
                entered, norm.n, norm.unit, calendar, &pauses, 0,
            ))
        });
        Some(Clocks {
            statutory: stat,
            committed,
            stage,
        })
    }

    /// Where the case's trust-first result stands, if it has one.
    pub fn trust_status(&self) -> Option<TrustStatus> {
        self.trust.as_ref().map(TrustCheck::status)
    }

    /// The day by which an open post-check of a trust-first result is due:
    /// its `check_days` working days after the day of issue; `None` when
    /// there is none open.
    pub fn post_check_due(&self, calendar: &Calendar) -> Option<NaiveDate> {
        let t = self.trust.as_ref().filter(|t| t.check.is_none())?;
        deadline::due(
            china_date(t.issued_at_ms),
            t.check_days,
            deadline::TimeUnit::WorkingDays,
            calendar,
            &[],
            0,
        )
        .date
    }

    /// The day by which a bad rating must be answered: [`FOLLOW_UP_WORKING_DAYS`]
    /// working days after the day of the rating; `None` when no follow-up
    /// is open (no bad rating, or answered).
    pub fn follow_up_due(&self, calendar: &Calendar) -> Option<NaiveDate> {
        let r = self
            .rating
            .as_ref()
            .filter(|r| r.is_bad() && r.follow_up.is_none())?;
        deadline::due(
            china_date(r.at_ms),
            FOLLOW_UP_WORKING_DAYS,
            deadline::TimeUnit::WorkingDays,
            calendar,
            &[],
            0,
        )
        .date
    }

    /// The warning level on `today` of this case, by
    /// [`deadline::warning_level`], yellow in the last `yellow_percent` of
    /// its committed limit (its matter's share); green once it is decided
    /// or closed.
    pub fn warning(
        &self,
        clocks: Option<&Clocks>,
        today: NaiveDate,
        calendar: &Calendar,
        yellow_percent: u32,
    ) -> Warning {
        let Some(c) = clocks else {
            return Warning::Green;
        };
        if self.state.is_final() || self.decided_at_ms.is_some() {
            return Warning::Green;
        }
        deadline::warning_level(
            [
                c.statutory.date,
                c.committed.date,
                c.stage.as_ref().and_then(|s| s.date),
            ],
            c.committed.date,
            today,
            deadline::yellow_horizon(
                calendar,
                today,
                self.received.committed_limit.n,
                self.received.committed_limit.unit,
                yellow_percent,
            ),
        )
    }
}

fn check_role(event: &Event, actor: &Actor) -> Result<(), CaseError> {
    if event.allowed_roles().contains(&actor.role) {
        Ok(())
    } else {
        Err(CaseError::WrongRole {
            role: actor.role.as_str(),
            event: event.kind(),
        })
    }
}

#[cfg(test)]
#[path = "case_tests.rs"]
mod tests;

/// The texts of an event that are in its personal section, checked as the
/// event is written: a hall that holds the section withheld reads them
/// empty, so a record written before ([`Case::replay`]) is not refused
/// for them.
fn check_texts(ev: &Event) -> Result<(), CaseError> {
    let blank = |t: &str| t.trim().is_empty();
    match ev {
        Event::NotAccepted { reason }
        | Event::SentBack { reason }
        | Event::Withdrawn { reason }
        | Event::Terminated { reason }
        | Event::Suspended { reason, .. }
        | Event::Extended { reason, .. }
        | Event::TrustRevoked { reason }
        | Event::HandedOver { reason, .. }
        | Event::Crossed { reason, .. }
        | Event::WarningAppealed { reason, .. }
        | Event::Reopened { reason }
        | Event::WarningDecided { reason, .. }
            if blank(reason) =>
        {
            Err(CaseError::Empty("reason"))
        }
        // A refusal states its reasons (行政许可法 第三十八条).
        Event::Decided {
            granted: false,
            opinion,
        } if blank(opinion) => Err(CaseError::Empty("reason")),
        Event::CorrectionNotified { issues } if issues.is_empty() => {
            Err(CaseError::Empty("issues"))
        }
        Event::FollowedUp { answer } if blank(answer) => Err(CaseError::Empty("answer")),
        _ => Ok(()),
    }
}

/// Checks a hand-out as it is written: it says how the collector's
/// identity was checked, and that agrees with the applicant. (A hand-out
/// recorded before this was asked has none and still folds.)
pub(crate) fn check_written(
    recipient: &str,
    collection: Option<&crate::collection::Collection>,
    applicant: &Applicant,
) -> Result<(), CaseError> {
    if recipient.trim().is_empty() {
        return Err(CaseError::Empty("recipient"));
    }
    match collection {
        None => Err(CaseError::CollectionMissing),
        Some(crate::collection::Collection::InPerson { id_last4, .. }) => {
            if applicant.kind == ApplicantKind::Organisation {
                Err(CaseError::InPersonOrganisation)
            } else if id_last4 != applicant.last4() {
                Err(CaseError::IdMismatch)
            } else {
                Ok(())
            }
        }
        Some(crate::collection::Collection::Proxy {
            id_number,
            authorisation,
            ..
        }) => {
            if !authorisation {
                return Err(CaseError::NoAuthorisation);
            }
            crate::ids::check_citizen_id(id_number).map_err(CaseError::BadId)?;
            Ok(())
        }
    }
}
