//! How a log entry's body is written: format 2, compact and versioned.
//!
//! A format-2 body is the byte [`FORMAT`] followed by a Protocol Buffers
//! message ([`pb::Body`]); its personal part (the applicant's identity and
//! contact, the materials presented, the findings on them, and every free
//! text an official writes: opinions, reasons, the recipient's name) is a
//! second message, [`pb::Personal`], carried in the entry's sealed section,
//! which the entry's hash covers through its own hash. A tier that does not
//! need personal data can be sent the entry with that section withheld, and
//! it still verifies.
//!
//! What the tree already holds is named, not copied: a `received` event
//! names its matter by catalogue version (with the first 8 bytes of that
//! version's SHA-256, so a node holding a different text under the same
//! number notices), matter code and matter version, and the decoder fills
//! the matter's fields from the catalogue. The writing hall is the entry's
//! origin, so the actor's node and the accepting hall are not written
//! either.
//!
//! Format-1 bodies (JSON text, written by the first releases) are read as
//! they were.

use std::sync::Arc;

use prost::Message as _;

use super::attachment::{Attachment, ContentType, Intake, Source};
use super::case::{
    Actor, Applicant, ApplicantKind, Channel, Event, EventRecord, Received, Role, SuspensionKind,
    Warning, WarningRule,
};
use super::catalogue::{Catalogue, Matter};
use super::checklist::{IssueKind, MaterialIssue, PresentedMaterial};
use super::document::{DocKind, IssuedDocument};
use super::log::{Directive, DirectiveRecord, LogBody};

/// The format byte of bodies written now.
pub const FORMAT: u8 = 2;

/// A body as written: the open part and the personal part (empty when the
/// event has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The open body.
    pub body: Vec<u8>,
    /// The personal section.
    pub personal: Vec<u8>,
}

/// Why a body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body is not well formed.
    #[error("the body does not parse: {0}")]
    Malformed(String),
    /// A format this release does not know.
    #[error("body format {0} is unknown to this release")]
    UnknownFormat(u8),
    /// The event names a catalogue version this node does not hold (or
    /// holds with another text): it must wait until that version arrives.
    #[error("catalogue version {version} is not held here")]
    MissingCatalogue {
        /// The version named.
        version: i64,
    },
    /// The catalogue version holds no such matter, or another version of it.
    #[error("catalogue version {version} has no matter {code} version {matter_version}")]
    UnknownMatter {
        /// Catalogue version.
        version: i64,
        /// Matter code.
        code: String,
        /// Matter version.
        matter_version: u32,
    },
}

/// A catalogue version as the decoder needs it.
#[derive(Debug, Clone)]
pub struct Book {
    /// The version's digest: the first 8 bytes of the SHA-256 of its text.
    pub digest: u64,
    /// The version.
    pub catalogue: Arc<Catalogue>,
}

/// A catalogue version's digest: the first 8 bytes of the SHA-256 of its
/// canonical JSON (the same at every node that holds the version, whatever
/// text it was stored as).
pub fn catalogue_digest(cat: &Catalogue) -> u64 {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(cat).unwrap_or_default();
    let d = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first)
}

mod pb {
    //! The Protocol Buffers messages of format 2; field numbers are fixed
    //! forever, new fields take new numbers.
    #![allow(missing_docs)]

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Body {
        #[prost(oneof = "Kind", tags = "1, 2, 3")]
        pub kind: Option<Kind>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(message, tag = "1")]
        Case(CaseEvent),
        #[prost(message, tag = "2")]
        Directive(Directive),
        #[prost(message, tag = "3")]
        Audit(Audit),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Audit {
        #[prost(string, tag = "1")]
        pub action: String,
        #[prost(string, tag = "2")]
        pub actor: String,
        #[prost(string, tag = "3")]
        pub role: String,
        #[prost(string, tag = "4")]
        pub target: String,
        #[prost(string, tag = "5")]
        pub detail: String,
        #[prost(int64, tag = "6")]
        pub at_ms: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CaseEvent {
        #[prost(string, tag = "1")]
        pub case_id: String,
        #[prost(uint64, tag = "2")]
        pub case_version: u64,
        #[prost(int64, tag = "3")]
        pub at_ms: i64,
        #[prost(string, tag = "4")]
        pub username: String,
        #[prost(int32, tag = "5")]
        pub role: i32,
        #[prost(string, optional, tag = "6")]
        pub department: Option<String>,
        #[prost(
            oneof = "Ev",
            tags = "10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 40, 41, 42, 45, 50"
        )]
        pub event: Option<Ev>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReceivedRef {
        #[prost(string, tag = "1")]
        pub matter_code: String,
        #[prost(uint32, tag = "2")]
        pub matter_version: u32,
        #[prost(int64, tag = "3")]
        pub catalogue_version: i64,
        #[prost(fixed64, tag = "4")]
        pub catalogue_digest: u64,
        #[prost(string, repeated, tag = "5")]
        pub situations: Vec<String>,
        /// How the case came to the window (`Intake::code`): 0 (unset in
        /// entries written before it was recorded) at the window, 1
        /// pre-applied online.
        #[prost(int32, tag = "6")]
        pub intake: i32,
        /// The keyed digest of the applicant's ID number
        /// (`Received::id_digest`); empty in entries written before it, or
        /// by a hall without the tree's key.
        #[prost(bytes = "vec", tag = "7")]
        pub id_digest: Vec<u8>,
        /// The hall named to decide a cross-district case
        /// (`Received::decided_at`); empty for every other case.
        #[prost(string, tag = "50")]
        pub decided_at: String,
        /// The root of the other tree whose catalogue holds the matter (a
        /// case handed across a peering, `Received::catalogue_tree`); empty
        /// for a matter of this tree's catalogue.
        #[prost(string, tag = "51")]
        pub catalogue_tree: String,
        /// That matter whole, as JSON (no hall of this tree holds the
        /// other tree's catalogue versions); empty otherwise.
        #[prost(bytes = "vec", tag = "52")]
        pub matter: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Situations {
        #[prost(string, repeated, tag = "1")]
        pub situations: Vec<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AcceptedEv {
        #[prost(string, repeated, tag = "1")]
        pub deferred: Vec<String>,
        #[prost(string, optional, tag = "2")]
        pub holder: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct OpinionEv {
        #[prost(string, tag = "1")]
        pub department: String,
        #[prost(bool, tag = "2")]
        pub approve: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DecidedEv {
        #[prost(bool, tag = "1")]
        pub granted: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SuspendedEv {
        #[prost(int32, tag = "1")]
        pub kind: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExtendedEv {
        #[prost(uint32, tag = "1")]
        pub n: u32,
    }

    /// The records of a handed-over case before the handover, each as
    /// its own body (its personal section is in [`Personal::history`] at
    /// the same place).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HandedOverEv {
        #[prost(string, tag = "1")]
        pub to: String,
        #[prost(string, tag = "2")]
        pub holder: String,
        #[prost(message, repeated, tag = "3")]
        pub history: Vec<Carried>,
    }

    /// A cross-district case sent down into another branch, with its
    /// records before (as a handover carries them).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CrossedEv {
        #[prost(string, tag = "1")]
        pub holder: String,
        #[prost(message, repeated, tag = "2")]
        pub history: Vec<Carried>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Carried {
        /// The hall that wrote the record.
        #[prost(string, tag = "1")]
        pub origin: String,
        /// Its body, as [`super::encode`] writes it.
        #[prost(bytes = "vec", tag = "2")]
        pub body: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TransferredEv {
        #[prost(string, tag = "1")]
        pub to: String,
        #[prost(string, tag = "2")]
        pub reason: String,
    }

    /// A trust-first issue: the pledge (the catalogue's text, not the
    /// applicant's) and the post-check's limit; the result is in the
    /// personal section's text.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TrustIssuedEv {
        #[prost(string, tag = "1")]
        pub pledge: String,
        #[prost(uint32, tag = "2")]
        pub check_days: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RatedEv {
        #[prost(uint32, tag = "1")]
        pub score: u32,
        #[prost(int32, tag = "2")]
        pub channel: i32,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Ev {
        #[prost(message, tag = "10")]
        Received(ReceivedRef),
        #[prost(message, tag = "11")]
        Resubmitted(Situations),
        #[prost(message, tag = "12")]
        CorrectionNotified(Empty),
        #[prost(message, tag = "13")]
        NotAccepted(Empty),
        #[prost(message, tag = "14")]
        Accepted(AcceptedEv),
        #[prost(message, tag = "15")]
        CompletedAtWindow(Empty),
        #[prost(message, tag = "16")]
        HandlingStarted(Empty),
        #[prost(message, tag = "17")]
        SubmittedForReview(Empty),
        #[prost(message, tag = "18")]
        ReviewPassed(Empty),
        #[prost(message, tag = "19")]
        SentBack(Empty),
        #[prost(message, tag = "20")]
        OpinionGiven(OpinionEv),
        #[prost(message, tag = "21")]
        Decided(DecidedEv),
        #[prost(message, tag = "22")]
        ResultReady(Empty),
        /// Was `Empty` until hand-outs recorded the identity check: an
        /// older entry reads as a `HandedOutEv` with every field unset.
        /// The recipient's name is in the personal section's text.
        #[prost(message, tag = "23")]
        HandedOut(HandedOutEv),
        #[prost(message, tag = "24")]
        Suspended(SuspendedEv),
        #[prost(message, tag = "25")]
        Resumed(Empty),
        #[prost(message, tag = "26")]
        Extended(ExtendedEv),
        #[prost(message, tag = "27")]
        Withdrawn(Empty),
        #[prost(message, tag = "28")]
        Terminated(Empty),
        #[prost(message, tag = "29")]
        Transferred(TransferredEv),
        #[prost(message, tag = "30")]
        Rated(RatedEv),
        /// The answer is in the personal section's text.
        #[prost(message, tag = "31")]
        FollowedUp(Empty),
        /// The reason is in the personal section's text.
        #[prost(message, tag = "32")]
        WarningAppealed(AppealEv),
        /// The reason is in the personal section's text.
        #[prost(message, tag = "33")]
        WarningDecided(AppealDecidedEv),
        /// The reason is in the personal section's text.
        #[prost(message, tag = "34")]
        Reopened(Empty),
        /// The reason is in the personal section's text.
        #[prost(message, tag = "35")]
        HandedOver(HandedOverEv),
        #[prost(message, tag = "36")]
        ForwardedLate(ForwardedLateEv),
        /// The content is in the personal section's text.
        #[prost(message, tag = "37")]
        DocumentIssued(DocumentEv),
        #[prost(message, tag = "40")]
        TrustIssued(TrustIssuedEv),
        /// The note is in the personal section's text.
        #[prost(message, tag = "41")]
        PostCheckPassed(Empty),
        /// What the check found is in the personal section's text.
        #[prost(message, tag = "42")]
        TrustRevoked(Empty),
        /// The material's name is in the personal section's text.
        #[prost(message, tag = "45")]
        Attached(AttachedEv),
        /// The reason is in the personal section's text; each carried
        /// record's personal section in its `history`.
        #[prost(message, tag = "50")]
        Crossed(CrossedEv),
    }

    /// A file attached to a case: what identifies the file, open; what it
    /// shows (the material) in the personal section.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AttachedEv {
        /// SHA-256 of the content (32 bytes).
        #[prost(bytes = "vec", tag = "1")]
        pub hash: Vec<u8>,
        #[prost(uint64, tag = "2")]
        pub size: u64,
        /// `ContentType::code`.
        #[prost(int32, tag = "3")]
        pub content_type: i32,
        /// 1 scanned at the window, 2 sent online.
        #[prost(int32, tag = "4")]
        pub source: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DocumentEv {
        #[prost(uint32, tag = "1")]
        pub kind: u32,
        /// Days since 1970-01-01.
        #[prost(int32, tag = "2")]
        pub issued_on: i32,
        #[prost(bytes = "vec", tag = "3")]
        pub hash: Vec<u8>,
        #[prost(bytes = "vec", tag = "4")]
        pub key: Vec<u8>,
        #[prost(bytes = "vec", tag = "5")]
        pub endorsement: Vec<u8>,
        #[prost(bytes = "vec", tag = "6")]
        pub signature: Vec<u8>,
    }

    /// How a result's collector was identified; the numbers and the
    /// reference are personal ([`Personal::collector_id`],
    /// [`Personal::reference`]).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HandedOutEv {
        /// 0 not recorded (entries written before it was), 1 the
        /// applicant in person, 2 a proxy.
        #[prost(int32, tag = "1")]
        pub by: i32,
        /// In person: the ID document checked (`IdDocument::code`).
        #[prost(int32, tag = "2")]
        pub document: i32,
        /// A proxy: the written authorisation was presented.
        #[prost(bool, tag = "3")]
        pub authorisation: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ForwardedLateEv {
        #[prost(string, tag = "1")]
        pub from: String,
        #[prost(uint32, tag = "2")]
        pub hours: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AppealEv {
        /// 1 deadline, 2 follow-up.
        #[prost(int32, tag = "1")]
        pub rule: i32,
        /// 1 green, 2 yellow, 3 red.
        #[prost(int32, tag = "2")]
        pub level: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AppealDecidedEv {
        #[prost(int32, tag = "1")]
        pub rule: i32,
        #[prost(int32, tag = "2")]
        pub level: i32,
        #[prost(bool, tag = "3")]
        pub upheld: bool,
        #[prost(string, tag = "4")]
        pub decided_by: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Personal {
        #[prost(message, optional, tag = "1")]
        pub applicant: Option<Applicant>,
        #[prost(message, repeated, tag = "2")]
        pub materials: Vec<Material>,
        #[prost(message, repeated, tag = "3")]
        pub issues: Vec<Issue>,
        #[prost(string, tag = "4")]
        pub text: String,
        /// The personal sections of a handed-over case's carried records.
        #[prost(bytes = "vec", repeated, tag = "5")]
        pub history: Vec<Vec<u8>>,
        /// A hand-out: in person, the last four characters of the
        /// applicant's ID number; by a proxy, the proxy's ID number.
        #[prost(string, tag = "6")]
        pub collector_id: String,
        /// A hand-out by a proxy: the authorisation's reference.
        #[prost(string, tag = "7")]
        pub reference: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Applicant {
        #[prost(int32, tag = "1")]
        pub kind: i32,
        #[prost(string, tag = "2")]
        pub id_number: String,
        #[prost(string, tag = "3")]
        pub name: String,
        #[prost(string, optional, tag = "4")]
        pub phone: Option<String>,
        #[prost(bool, tag = "5")]
        pub checksum_overridden: bool,
        #[prost(string, optional, tag = "6")]
        pub checksum_override_reason: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Material {
        #[prost(string, tag = "1")]
        pub code: String,
        #[prost(uint32, tag = "2")]
        pub originals: u32,
        #[prost(uint32, tag = "3")]
        pub copies: u32,
        #[prost(bool, tag = "4")]
        pub electronic: bool,
        #[prost(string, optional, tag = "5")]
        pub problem: Option<String>,
        /// Presented by data: the earlier case whose result stands in
        /// for the material (unset in entries written before it).
        #[prost(string, optional, tag = "6")]
        pub by_data: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Issue {
        #[prost(string, tag = "1")]
        pub code: String,
        #[prost(string, tag = "2")]
        pub name_zh: String,
        #[prost(string, tag = "3")]
        pub name_en: String,
        /// 0 missing, 1 too few copies, 2 original missing, 3 faulty.
        #[prost(int32, tag = "4")]
        pub kind: i32,
        #[prost(uint32, tag = "5")]
        pub need: u32,
        #[prost(uint32, tag = "6")]
        pub got: u32,
        #[prost(string, tag = "7")]
        pub problem: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Directive {
        #[prost(string, tag = "1")]
        pub issued_by: String,
        #[prost(int64, tag = "2")]
        pub at_ms: i64,
        #[prost(oneof = "Dk", tags = "10, 11, 12, 13, 14, 15, 16, 17, 18, 51")]
        pub kind: Option<Dk>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Dk {
        #[prost(message, tag = "10")]
        Catalogue(Signed),
        #[prost(message, tag = "11")]
        Calendar(Signed),
        #[prost(message, tag = "12")]
        Revoked(Revoked),
        #[prost(message, tag = "13")]
        Recall(Recall),
        #[prost(message, tag = "14")]
        Registered(Registered),
        #[prost(message, tag = "15")]
        Staff(Staff),
        #[prost(message, tag = "16")]
        WarningDecision(WarningDecision),
        #[prost(message, tag = "17")]
        Reopen(Reopen),
        #[prost(message, tag = "18")]
        Handover(Handover),
        #[prost(message, tag = "51")]
        PeerCatalogue(PeerCatalogue),
    }

    /// A peering root's offer published down this tree
    /// (`Directive::PeerCatalogue`).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PeerCatalogue {
        #[prost(string, tag = "1")]
        pub peer: String,
        #[prost(bool, tag = "2")]
        pub enabled: bool,
        #[prost(string, tag = "3")]
        pub offer: String,
        #[prost(string, tag = "4")]
        pub peer_signature: String,
        #[prost(string, tag = "5")]
        pub signature: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Handover {
        #[prost(string, tag = "1")]
        pub hall: String,
        #[prost(string, tag = "2")]
        pub heir: String,
        #[prost(string, tag = "3")]
        pub reason: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Reopen {
        #[prost(string, tag = "1")]
        pub case_id: String,
        #[prost(string, tag = "2")]
        pub reason: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WarningDecision {
        #[prost(string, tag = "1")]
        pub case_id: String,
        #[prost(int32, tag = "2")]
        pub rule: i32,
        #[prost(int32, tag = "3")]
        pub level: i32,
        #[prost(bool, tag = "4")]
        pub upheld: bool,
        #[prost(string, tag = "5")]
        pub reason: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Staff {
        #[prost(string, tag = "1")]
        pub hall: String,
        #[prost(string, tag = "2")]
        pub username: String,
        #[prost(string, tag = "3")]
        pub display_name: String,
        #[prost(int32, tag = "4")]
        pub role: i32,
        #[prost(string, optional, tag = "5")]
        pub department: Option<String>,
        #[prost(string, tag = "6")]
        pub password_hash: String,
        #[prost(bool, tag = "7")]
        pub active: bool,
        #[prost(string, tag = "8")]
        pub signature: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Registered {
        #[prost(string, tag = "1")]
        pub node: String,
        #[prost(string, tag = "2")]
        pub signature: String,
    }

    /// A catalogue version or a calendar year: its number, its JSON text
    /// exactly as signed, and the root's signature.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Signed {
        #[prost(int64, tag = "1")]
        pub number: i64,
        #[prost(string, tag = "2")]
        pub text: String,
        #[prost(string, tag = "3")]
        pub signature: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Revoked {
        #[prost(string, tag = "1")]
        pub node: String,
        #[prost(string, tag = "2")]
        pub serial: String,
        #[prost(string, tag = "3")]
        pub signature: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Recall {
        #[prost(string, tag = "1")]
        pub case_id: String,
        #[prost(string, tag = "2")]
        pub to: String,
        #[prost(string, tag = "3")]
        pub reason: String,
    }
}

fn role_code(r: Role) -> i32 {
    match r {
        Role::Clerk => 1,
        Role::Approver => 2,
        Role::Supervisor => 3,
        Role::Admin => 4,
        Role::Citizen => 5,
    }
}

fn role_of(c: i32) -> Result<Role, DecodeError> {
    Ok(match c {
        1 => Role::Clerk,
        2 => Role::Approver,
        3 => Role::Supervisor,
        4 => Role::Admin,
        5 => Role::Citizen,
        _ => return Err(malformed("unknown role")),
    })
}

fn suspension_code(k: SuspensionKind) -> i32 {
    match k {
        SuspensionKind::Hearing => 1,
        SuspensionKind::Tendering => 2,
        SuspensionKind::Testing => 3,
        SuspensionKind::Quarantine => 4,
        SuspensionKind::Appraisal => 5,
        SuspensionKind::ExpertReview => 6,
        SuspensionKind::Other => 7,
    }
}

fn suspension_of(c: i32) -> Result<SuspensionKind, DecodeError> {
    Ok(match c {
        1 => SuspensionKind::Hearing,
        2 => SuspensionKind::Tendering,
        3 => SuspensionKind::Testing,
        4 => SuspensionKind::Quarantine,
        5 => SuspensionKind::Appraisal,
        6 => SuspensionKind::ExpertReview,
        7 => SuspensionKind::Other,
        _ => return Err(malformed("unknown suspension kind")),
    })
}

fn channel_code(c: Channel) -> i32 {
    match c {
        Channel::HallTablet => 1,
        Channel::QrCode => 2,
        Channel::Web => 3,
        Channel::Mobile => 4,
        Channel::Phone => 5,
        Channel::Sms => 6,
    }
}

fn channel_of(c: i32) -> Result<Channel, DecodeError> {
    Ok(match c {
        1 => Channel::HallTablet,
        2 => Channel::QrCode,
        3 => Channel::Web,
        4 => Channel::Mobile,
        5 => Channel::Phone,
        6 => Channel::Sms,
        _ => return Err(malformed("unknown rating channel")),
    })
}

fn rule_code(r: WarningRule) -> i32 {
    match r {
        WarningRule::Deadline => 1,
        WarningRule::FollowUp => 2,
        WarningRule::Forwarding => 3,
    }
}

fn rule_of(c: i32) -> Result<WarningRule, DecodeError> {
    Ok(match c {
        1 => WarningRule::Deadline,
        2 => WarningRule::FollowUp,
        3 => WarningRule::Forwarding,
        _ => return Err(malformed("unknown warning rule")),
    })
}

fn level_code(w: Warning) -> i32 {
    match w {
        Warning::Green => 1,
        Warning::Yellow => 2,
        Warning::Red => 3,
    }
}

fn level_of(c: i32) -> Result<Warning, DecodeError> {
    Ok(match c {
        1 => Warning::Green,
        2 => Warning::Yellow,
        3 => Warning::Red,
        _ => return Err(malformed("unknown warning level")),
    })
}

fn malformed(what: &str) -> DecodeError {
    DecodeError::Malformed(what.to_owned())
}

fn applicant_pb(a: &Applicant) -> pb::Applicant {
    pb::Applicant {
        kind: match a.kind {
            ApplicantKind::Person => 1,
            ApplicantKind::Organisation => 2,
        },
        id_number: a.id_number.clone(),
        name: a.name.clone(),
        phone: a.phone.clone(),
        checksum_overridden: a.checksum_overridden,
        checksum_override_reason: a.checksum_override_reason.clone(),
    }
}

fn applicant_of(a: Option<pb::Applicant>) -> Result<Applicant, DecodeError> {
    let Some(a) = a else {
        return Ok(Applicant {
            kind: ApplicantKind::Person,
            id_number: String::new(),
            name: String::new(),
            phone: None,
            checksum_overridden: false,
            checksum_override_reason: None,
        });
    };
    Ok(Applicant {
        kind: match a.kind {
            1 => ApplicantKind::Person,
            2 => ApplicantKind::Organisation,
            _ => return Err(malformed("unknown applicant kind")),
        },
        id_number: a.id_number,
        name: a.name,
        phone: a.phone,
        checksum_overridden: a.checksum_overridden,
        checksum_override_reason: a.checksum_override_reason,
    })
}

fn materials_pb(m: &[PresentedMaterial]) -> Vec<pb::Material> {
    m.iter()
        .map(|p| pb::Material {
            code: p.code.clone(),
            originals: p.originals,
            copies: p.copies,
            electronic: p.electronic,
            problem: p.problem.clone(),
            by_data: p.by_data.clone(),
        })
        .collect()
}

fn materials_of(m: Vec<pb::Material>) -> Vec<PresentedMaterial> {
    m.into_iter()
        .map(|p| PresentedMaterial {
            code: p.code,
            originals: p.originals,
            copies: p.copies,
            electronic: p.electronic,
            problem: p.problem,
            by_data: p.by_data,
        })
        .collect()
}

fn epoch_days(d: chrono::NaiveDate) -> i32 {
    i32::try_from(
        d.signed_duration_since(chrono::NaiveDate::default())
            .num_days(),
    )
    .unwrap_or(0)
}

fn date_of_epoch_days(n: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::default().checked_add_signed(chrono::Duration::days(i64::from(n)))
}

fn issues_pb(issues: &[MaterialIssue]) -> Vec<pb::Issue> {
    issues
        .iter()
        .map(|i| {
            let (kind, need, got, problem) = match &i.issue {
                IssueKind::Missing => (0, 0, 0, String::new()),
                IssueKind::TooFewCopies { need, got } => (1, *need, *got, String::new()),
                IssueKind::OriginalMissing { need, got } => (2, *need, *got, String::new()),
                IssueKind::Faulty { problem } => (3, 0, 0, problem.clone()),
            };
            pb::Issue {
                code: i.code.clone(),
                name_zh: i.name_zh.clone(),
                name_en: i.name_en.clone(),
                kind,
                need,
                got,
                problem,
            }
        })
        .collect()
}

fn issues_of(issues: Vec<pb::Issue>) -> Result<Vec<MaterialIssue>, DecodeError> {
    issues
        .into_iter()
        .map(|i| {
            let issue = match i.kind {
                0 => IssueKind::Missing,
                1 => IssueKind::TooFewCopies {
                    need: i.need,
                    got: i.got,
                },
                2 => IssueKind::OriginalMissing {
                    need: i.need,
                    got: i.got,
                },
                3 => IssueKind::Faulty { problem: i.problem },
                _ => return Err(malformed("unknown material issue")),
            };
            Ok(MaterialIssue {
                code: i.code,
                name_zh: i.name_zh,
                name_en: i.name_en,
                issue,
            })
        })
        .collect()
}

/// Writes a body in format 2; `origin` is the writing node (a case event's
/// actor and a received case's accepting hall must be it). `digest` gives a catalogue version's digest
/// (needed for `received` events); `None` when the version is not held,
/// which is a bug in the caller (a hall accepts only under a version it
/// holds) and is refused.
pub fn encode(
    body: &LogBody,
    origin: &str,
    digest: impl Fn(i64) -> Option<u64>,
) -> Result<Encoded, String> {
    encode_with(body, origin, &digest)
}

fn encode_with(
    body: &LogBody,
    origin: &str,
    digest: &dyn Fn(i64) -> Option<u64>,
) -> Result<Encoded, String> {
    let mut personal = pb::Personal::default();
    let kind = match body {
        LogBody::Case(rec) => {
            if rec.actor.node != origin {
                return Err(format!(
                    "a case event of {} written by {origin}",
                    rec.actor.node
                ));
            }
            if let Event::Received(r) = &rec.event
                && r.accepting_node != origin
            {
                return Err(format!(
                    "case {} is received at {}, not at {origin}",
                    rec.case_id, r.accepting_node
                ));
            }
            let text = |t: &str, p: &mut pb::Personal| t.clone_into(&mut p.text);
            use pb::Ev;
            let ev = match &rec.event {
                Event::Received(r) => {
                    personal.applicant = Some(applicant_pb(&r.applicant));
                    personal.materials = materials_pb(&r.materials);
                    let (catalogue_tree, matter, catalogue_digest) =
                        match (&r.catalogue_tree, &r.peer_matter) {
                            (Some(tree), Some(m)) => (
                                tree.clone(),
                                serde_json::to_vec(m.as_ref()).map_err(|e| e.to_string())?,
                                0,
                            ),
                            (Some(tree), None) => {
                                return Err(format!(
                                    "a matter of the catalogue of {tree} without the matter"
                                ));
                            }
                            _ => (
                                String::new(),
                                Vec::new(),
                                digest(r.catalogue_version).ok_or_else(|| {
                                    format!(
                                        "catalogue version {} is not held here",
                                        r.catalogue_version
                                    )
                                })?,
                            ),
                        };
                    Ev::Received(pb::ReceivedRef {
                        catalogue_tree,
                        matter,
                        matter_code: r.matter_code.clone(),
                        matter_version: r.matter_version,
                        catalogue_version: r.catalogue_version,
                        catalogue_digest,
                        situations: r.situations.clone(),
                        intake: match r.intake {
                            Intake::Window => 0,
                            Intake::Online => 1,
                        },
                        id_digest: hex::decode(&r.id_digest).unwrap_or_default(),
                        decided_at: r.decided_at.clone().unwrap_or_default(),
                    })
                }
                Event::Resubmitted {
                    situations,
                    materials,
                } => {
                    personal.materials = materials_pb(materials);
                    Ev::Resubmitted(pb::Situations {
                        situations: situations.clone(),
                    })
                }
                Event::CorrectionNotified { issues } => {
                    personal.issues = issues_pb(issues);
                    Ev::CorrectionNotified(pb::Empty {})
                }
                Event::NotAccepted { reason } => {
                    text(reason, &mut personal);
                    Ev::NotAccepted(pb::Empty {})
                }
                Event::Accepted { deferred, holder } => Ev::Accepted(pb::AcceptedEv {
                    deferred: deferred.clone(),
                    holder: holder.clone(),
                }),
                Event::CompletedAtWindow { result } => {
                    text(result, &mut personal);
                    Ev::CompletedAtWindow(pb::Empty {})
                }
                Event::TrustIssued {
                    pledge,
                    result,
                    check_days,
                } => {
                    text(result, &mut personal);
                    Ev::TrustIssued(pb::TrustIssuedEv {
                        pledge: pledge.clone(),
                        check_days: *check_days,
                    })
                }
                Event::PostCheckPassed { note } => {
                    text(note, &mut personal);
                    Ev::PostCheckPassed(pb::Empty {})
                }
                Event::TrustRevoked { reason } => {
                    text(reason, &mut personal);
                    Ev::TrustRevoked(pb::Empty {})
                }
                Event::HandlingStarted => Ev::HandlingStarted(pb::Empty {}),
                Event::SubmittedForReview { opinion } => {
                    text(opinion, &mut personal);
                    Ev::SubmittedForReview(pb::Empty {})
                }
                Event::ReviewPassed { opinion } => {
                    text(opinion, &mut personal);
                    Ev::ReviewPassed(pb::Empty {})
                }
                Event::SentBack { reason } => {
                    text(reason, &mut personal);
                    Ev::SentBack(pb::Empty {})
                }
                Event::OpinionGiven {
                    department,
                    approve,
                    opinion,
                } => {
                    text(opinion, &mut personal);
                    Ev::OpinionGiven(pb::OpinionEv {
                        department: department.clone(),
                        approve: *approve,
                    })
                }
                Event::Decided { granted, opinion } => {
                    text(opinion, &mut personal);
                    Ev::Decided(pb::DecidedEv { granted: *granted })
                }
                Event::ResultReady { result } => {
                    text(result, &mut personal);
                    Ev::ResultReady(pb::Empty {})
                }
                Event::HandedOut {
                    recipient,
                    collection,
                } => {
                    text(recipient, &mut personal);
                    use crate::handout::Collection;
                    Ev::HandedOut(match collection {
                        None => pb::HandedOutEv::default(),
                        Some(Collection::InPerson { document, id_last4 }) => {
                            id_last4.clone_into(&mut personal.collector_id);
                            pb::HandedOutEv {
                                by: 1,
                                document: document.code(),
                                authorisation: false,
                            }
                        }
                        Some(Collection::Proxy {
                            id_number,
                            authorisation,
                            reference,
                        }) => {
                            id_number.clone_into(&mut personal.collector_id);
                            reference.clone_into(&mut personal.reference);
                            pb::HandedOutEv {
                                by: 2,
                                document: 0,
                                authorisation: *authorisation,
                            }
                        }
                    })
                }
                Event::Suspended { kind, reason } => {
                    text(reason, &mut personal);
                    Ev::Suspended(pb::SuspendedEv {
                        kind: suspension_code(*kind),
                    })
                }
                Event::Resumed { note } => {
                    text(note, &mut personal);
                    Ev::Resumed(pb::Empty {})
                }
                Event::Extended { n, reason } => {
                    text(reason, &mut personal);
                    Ev::Extended(pb::ExtendedEv { n: *n })
                }
                Event::Withdrawn { reason } => {
                    text(reason, &mut personal);
                    Ev::Withdrawn(pb::Empty {})
                }
                Event::Terminated { reason } => {
                    text(reason, &mut personal);
                    Ev::Terminated(pb::Empty {})
                }
                Event::Transferred { to, reason } => Ev::Transferred(pb::TransferredEv {
                    to: to.clone(),
                    reason: reason.clone(),
                }),
                Event::Rated {
                    score,
                    channel,
                    comment,
                } => {
                    text(comment, &mut personal);
                    Ev::Rated(pb::RatedEv {
                        score: u32::from(*score),
                        channel: channel_code(*channel),
                    })
                }
                Event::FollowedUp { answer } => {
                    text(answer, &mut personal);
                    Ev::FollowedUp(pb::Empty {})
                }
                Event::DocumentIssued { document: d } => {
                    text(&d.content, &mut personal);
                    Ev::DocumentIssued(pb::DocumentEv {
                        kind: u32::from(d.kind.code()),
                        issued_on: epoch_days(d.issued_on),
                        hash: d.hash.clone(),
                        key: d.key.clone(),
                        endorsement: d.endorsement.clone(),
                        signature: d.signature.clone(),
                    })
                }
                Event::Reopened { reason } => {
                    text(reason, &mut personal);
                    Ev::Reopened(pb::Empty {})
                }
                Event::ForwardedLate { from, hours } => Ev::ForwardedLate(pb::ForwardedLateEv {
                    from: from.clone(),
                    hours: *hours,
                }),
                Event::HandedOver {
                    to,
                    holder,
                    reason,
                    history,
                } => {
                    text(reason, &mut personal);
                    let mut carried = Vec::with_capacity(history.len());
                    for r in history {
                        let e = encode_with(&LogBody::Case(r.clone()), &r.actor.node, digest)?;
                        carried.push(pb::Carried {
                            origin: r.actor.node.clone(),
                            body: e.body,
                        });
                        personal.history.push(e.personal);
                    }
                    Ev::HandedOver(pb::HandedOverEv {
                        to: to.clone(),
                        holder: holder.clone(),
                        history: carried,
                    })
                }
                Event::Crossed {
                    holder,
                    reason,
                    history,
                } => {
                    text(reason, &mut personal);
                    let mut carried = Vec::with_capacity(history.len());
                    for r in history {
                        let e = encode_with(&LogBody::Case(r.clone()), &r.actor.node, digest)?;
                        carried.push(pb::Carried {
                            origin: r.actor.node.clone(),
                            body: e.body,
                        });
                        personal.history.push(e.personal);
                    }
                    Ev::Crossed(pb::CrossedEv {
                        holder: holder.clone(),
                        history: carried,
                    })
                }
                Event::WarningAppealed {
                    rule,
                    level,
                    reason,
                } => {
                    text(reason, &mut personal);
                    Ev::WarningAppealed(pb::AppealEv {
                        rule: rule_code(*rule),
                        level: level_code(*level),
                    })
                }
                Event::WarningDecided {
                    rule,
                    level,
                    upheld,
                    reason,
                    decided_by,
                } => {
                    text(reason, &mut personal);
                    Ev::WarningDecided(pb::AppealDecidedEv {
                        rule: rule_code(*rule),
                        level: level_code(*level),
                        upheld: *upheld,
                        decided_by: decided_by.clone(),
                    })
                }
                Event::Attached(a) => {
                    text(&a.material, &mut personal);
                    let hash = hex::decode(&a.hash)
                        .ok()
                        .filter(|h| h.len() == 32)
                        .ok_or_else(|| format!("attachment hash {} is not a SHA-256", a.hash))?;
                    Ev::Attached(pb::AttachedEv {
                        hash,
                        size: a.size,
                        content_type: a.content_type.code(),
                        source: match a.source {
                            Source::Scan => 1,
                            Source::Online => 2,
                        },
                    })
                }
            };
            pb::Kind::Case(pb::CaseEvent {
                case_id: rec.case_id.clone(),
                case_version: rec.case_version,
                at_ms: rec.at_ms,
                username: rec.actor.username.clone(),
                role: role_code(rec.actor.role),
                department: rec.actor.department.clone(),
                event: Some(ev),
            })
        }
        LogBody::Directive(d) => {
            let kind = match &d.directive {
                Directive::CataloguePublished {
                    version,
                    catalogue,
                    signature,
                } => pb::Dk::Catalogue(pb::Signed {
                    number: *version,
                    text: catalogue.clone(),
                    signature: signature.clone(),
                }),
                Directive::CalendarPublished {
                    year,
                    calendar,
                    signature,
                } => pb::Dk::Calendar(pb::Signed {
                    number: i64::from(*year),
                    text: calendar.clone(),
                    signature: signature.clone(),
                }),
                Directive::NodeRevoked {
                    node,
                    serial,
                    signature,
                } => pb::Dk::Revoked(pb::Revoked {
                    node: node.clone(),
                    serial: serial.clone(),
                    signature: signature.clone(),
                }),
                Directive::NodeRegistered { node, signature } => {
                    pb::Dk::Registered(pb::Registered {
                        node: node.clone(),
                        signature: signature.clone(),
                    })
                }
                Directive::StaffAccount { account, signature } => pb::Dk::Staff(pb::Staff {
                    hall: account.hall.clone(),
                    username: account.username.clone(),
                    display_name: account.display_name.clone(),
                    role: role_code(account.role),
                    department: account.department.clone(),
                    password_hash: account.password_hash.clone(),
                    active: account.active,
                    signature: signature.clone(),
                }),
                Directive::Recall {
                    case_id,
                    to,
                    reason,
                } => pb::Dk::Recall(pb::Recall {
                    case_id: case_id.clone(),
                    to: to.clone(),
                    reason: reason.clone(),
                }),
                Directive::WarningDecision {
                    case_id,
                    rule,
                    level,
                    upheld,
                    reason,
                } => pb::Dk::WarningDecision(pb::WarningDecision {
                    case_id: case_id.clone(),
                    rule: rule_code(*rule),
                    level: level_code(*level),
                    upheld: *upheld,
                    reason: reason.clone(),
                }),
                Directive::Reopen { case_id, reason } => pb::Dk::Reopen(pb::Reopen {
                    case_id: case_id.clone(),
                    reason: reason.clone(),
                }),
                Directive::Handover { hall, heir, reason } => pb::Dk::Handover(pb::Handover {
                    hall: hall.clone(),
                    heir: heir.clone(),
                    reason: reason.clone(),
                }),
                Directive::PeerCatalogue {
                    peer,
                    enabled,
                    offer,
                    peer_signature,
                    signature,
                } => pb::Dk::PeerCatalogue(pb::PeerCatalogue {
                    peer: peer.clone(),
                    enabled: *enabled,
                    offer: offer.clone(),
                    peer_signature: peer_signature.clone(),
                    signature: signature.clone(),
                }),
            };
            pb::Kind::Directive(pb::Directive {
                issued_by: d.issued_by.clone(),
                at_ms: d.at_ms,
                kind: Some(kind),
            })
        }
        LogBody::Audit(a) => pb::Kind::Audit(pb::Audit {
            action: a.action.clone(),
            actor: a.actor.clone(),
            role: a.role.clone(),
            target: a.target.clone(),
            detail: a.detail.clone(),
            at_ms: a.at_ms,
        }),
    };
    let msg = pb::Body { kind: Some(kind) };
    let mut out = Vec::with_capacity(msg.encoded_len() + 1);
    out.push(FORMAT);
    msg.encode_raw(&mut out);
    let personal = if personal == pb::Personal::default() {
        Vec::new()
    } else {
        personal.encode_to_vec()
    };
    Ok(Encoded {
        body: out,
        personal,
    })
}

/// Reads a body of either format. `origin` is the entry's origin (the
/// writing hall); `personal` its sealed section (`None` when withheld: the
/// personal fields then read as empty); `book` gives a catalogue version.
pub fn decode(
    body: &[u8],
    personal: Option<&[u8]>,
    origin: &str,
    book: impl Fn(i64) -> Option<Book>,
) -> Result<LogBody, DecodeError> {
    decode_with(body, personal, origin, &book)
}

/// The records a handover or a crossing carries, each with its personal
/// section from `personal` at the same place (a withheld section leaves
/// the carried ones empty); every one must be of the case `case_id`.
fn carried_of(
    carried: Vec<pb::Carried>,
    personal: &[Vec<u8>],
    case_id: &str,
    book: &dyn Fn(i64) -> Option<Book>,
) -> Result<Vec<EventRecord>, DecodeError> {
    let mut history = Vec::with_capacity(carried.len());
    for (i, r) in carried.into_iter().enumerate() {
        let section = personal.get(i).map(Vec::as_slice);
        match decode_with(&r.body, section, &r.origin, book)? {
            LogBody::Case(rec) if rec.case_id == case_id => history.push(rec),
            _ => return Err(malformed("a carried record of another case")),
        }
    }
    Ok(history)
}

fn decode_with(
    body: &[u8],
    personal: Option<&[u8]>,
    origin: &str,
    book: &dyn Fn(i64) -> Option<Book>,
) -> Result<LogBody, DecodeError> {
    let (&format, rest) = body.split_first().ok_or_else(|| malformed("empty body"))?;
    if format == b'{' {
        return serde_json::from_slice(body).map_err(|e| DecodeError::Malformed(e.to_string()));
    }
    if format != FORMAT {
        return Err(DecodeError::UnknownFormat(format));
    }
    let msg = pb::Body::decode(rest).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let p = match personal {
        Some(b) if !b.is_empty() => {
            pb::Personal::decode(b).map_err(|e| DecodeError::Malformed(e.to_string()))?
        }
        _ => pb::Personal::default(),
    };
    match msg.kind.ok_or_else(|| malformed("no body"))? {
        pb::Kind::Case(c) => Ok(LogBody::Case(decode_case(c, p, origin, book)?)),
        pb::Kind::Audit(a) => Ok(LogBody::Audit(crate::log::AuditRecord {
            action: a.action,
            actor: a.actor,
            role: a.role,
            target: a.target,
            detail: a.detail,
            at_ms: a.at_ms,
        })),
        pb::Kind::Directive(d) => {
            let directive = match d.kind.ok_or_else(|| malformed("no directive"))? {
                pb::Dk::Catalogue(s) => Directive::CataloguePublished {
                    version: s.number,
                    catalogue: s.text,
                    signature: s.signature,
                },
                pb::Dk::Calendar(s) => Directive::CalendarPublished {
                    year: i32::try_from(s.number).map_err(|_| malformed("calendar year"))?,
                    calendar: s.text,
                    signature: s.signature,
                },
                pb::Dk::Revoked(r) => Directive::NodeRevoked {
                    node: r.node,
                    serial: r.serial,
                    signature: r.signature,
                },
                pb::Dk::Registered(r) => Directive::NodeRegistered {
                    node: r.node,
                    signature: r.signature,
                },
                pb::Dk::Staff(a) => Directive::StaffAccount {
                    account: crate::log::StaffAccount {
                        hall: a.hall,
                        username: a.username,
                        display_name: a.display_name,
                        role: role_of(a.role)?,
                        department: a.department,
                        password_hash: a.password_hash,
                        active: a.active,
                    },
                    signature: a.signature,
                },
                pb::Dk::Recall(r) => Directive::Recall {
                    case_id: r.case_id,
                    to: r.to,
                    reason: r.reason,
                },
                pb::Dk::WarningDecision(d) => Directive::WarningDecision {
                    case_id: d.case_id,
                    rule: rule_of(d.rule)?,
                    level: level_of(d.level)?,
                    upheld: d.upheld,
                    reason: d.reason,
                },
                pb::Dk::Reopen(r) => Directive::Reopen {
                    case_id: r.case_id,
                    reason: r.reason,
                },
                pb::Dk::Handover(h) => Directive::Handover {
                    hall: h.hall,
                    heir: h.heir,
                    reason: h.reason,
                },
                pb::Dk::PeerCatalogue(p) => Directive::PeerCatalogue {
                    peer: p.peer,
                    enabled: p.enabled,
                    offer: p.offer,
                    peer_signature: p.peer_signature,
                    signature: p.signature,
                },
            };
            Ok(LogBody::Directive(DirectiveRecord {
                directive,
                issued_by: d.issued_by,
                at_ms: d.at_ms,
            }))
        }
    }
}

fn decode_case(
    c: pb::CaseEvent,
    p: pb::Personal,
    origin: &str,
    book: &dyn Fn(i64) -> Option<Book>,
) -> Result<EventRecord, DecodeError> {
    use pb::Ev;
    let (collector_id, reference) = (p.collector_id, p.reference);
    let text = p.text;
    let event = match c.event.ok_or_else(|| malformed("no event"))? {
        Ev::Received(r) => {
            // A matter of another tree's catalogue travels whole.
            let peer_matter: Option<Matter> = if r.catalogue_tree.is_empty() {
                None
            } else {
                let m: Matter = serde_json::from_slice(&r.matter)
                    .map_err(|e| DecodeError::Malformed(format!("the other tree's matter: {e}")))?;
                if m.code != r.matter_code || m.version != r.matter_version {
                    return Err(malformed("the other tree's matter is not the one named"));
                }
                Some(m)
            };
            let b;
            let matter = match &peer_matter {
                Some(m) => m,
                None => {
                    b = book(r.catalogue_version)
                        .filter(|b| b.digest == r.catalogue_digest)
                        .ok_or(DecodeError::MissingCatalogue {
                            version: r.catalogue_version,
                        })?;
                    b.catalogue
                        .matter(&r.matter_code)
                        .filter(|m| m.version == r.matter_version)
                        .ok_or_else(|| DecodeError::UnknownMatter {
                            version: r.catalogue_version,
                            code: r.matter_code.clone(),
                            matter_version: r.matter_version,
                        })?
                }
            };
            let mut received = Received::from_matter(
                matter,
                r.catalogue_version,
                applicant_of(p.applicant)?,
                r.situations,
                materials_of(p.materials),
                origin.to_owned(),
            );
            received.intake = match r.intake {
                0 => Intake::Window,
                1 => Intake::Online,
                _ => return Err(malformed("unknown intake")),
            };
            received.id_digest = hex::encode(&r.id_digest);
            received.decided_at = (!r.decided_at.is_empty()).then_some(r.decided_at);
            if let Some(m) = peer_matter {
                received.catalogue_tree = Some(r.catalogue_tree);
                received.peer_matter = Some(Box::new(m));
            }
            Event::Received(std::sync::Arc::new(received))
        }
        Ev::Resubmitted(s) => Event::Resubmitted {
            situations: s.situations,
            materials: materials_of(p.materials),
        },
        Ev::CorrectionNotified(_) => Event::CorrectionNotified {
            issues: issues_of(p.issues)?,
        },
        Ev::NotAccepted(_) => Event::NotAccepted { reason: text },
        Ev::Accepted(a) => Event::Accepted {
            deferred: a.deferred,
            holder: a.holder,
        },
        Ev::CompletedAtWindow(_) => Event::CompletedAtWindow { result: text },
        Ev::TrustIssued(t) => Event::TrustIssued {
            pledge: t.pledge,
            result: text,
            check_days: t.check_days,
        },
        Ev::PostCheckPassed(_) => Event::PostCheckPassed { note: text },
        Ev::TrustRevoked(_) => Event::TrustRevoked { reason: text },
        Ev::HandlingStarted(_) => Event::HandlingStarted,
        Ev::SubmittedForReview(_) => Event::SubmittedForReview { opinion: text },
        Ev::ReviewPassed(_) => Event::ReviewPassed { opinion: text },
        Ev::SentBack(_) => Event::SentBack { reason: text },
        Ev::OpinionGiven(o) => Event::OpinionGiven {
            department: o.department,
            approve: o.approve,
            opinion: text,
        },
        Ev::Decided(d) => Event::Decided {
            granted: d.granted,
            opinion: text,
        },
        Ev::ResultReady(_) => Event::ResultReady { result: text },
        Ev::HandedOut(h) => {
            use crate::handout::{Collection, IdDocument};
            let collection = match h.by {
                0 => None,
                1 => Some(Collection::InPerson {
                    document: IdDocument::from_code(h.document)
                        .ok_or_else(|| malformed("unknown ID document"))?,
                    id_last4: collector_id,
                }),
                2 => Some(Collection::Proxy {
                    id_number: collector_id,
                    authorisation: h.authorisation,
                    reference,
                }),
                _ => return Err(malformed("unknown way of collecting")),
            };
            Event::HandedOut {
                recipient: text,
                collection,
            }
        }
        Ev::Suspended(s) => Event::Suspended {
            kind: suspension_of(s.kind)?,
            reason: text,
        },
        Ev::Resumed(_) => Event::Resumed { note: text },
        Ev::Extended(e) => Event::Extended {
            n: e.n,
            reason: text,
        },
        Ev::Withdrawn(_) => Event::Withdrawn { reason: text },
        Ev::Terminated(_) => Event::Terminated { reason: text },
        Ev::Transferred(t) => Event::Transferred {
            to: t.to,
            reason: t.reason,
        },
        Ev::Rated(r) => Event::Rated {
            score: u8::try_from(r.score).map_err(|_| malformed("rating score"))?,
            channel: channel_of(r.channel)?,
            comment: text,
        },
        Ev::FollowedUp(_) => Event::FollowedUp { answer: text },
        Ev::DocumentIssued(d) => Event::DocumentIssued {
            document: Box::new(IssuedDocument {
                kind: u8::try_from(d.kind)
                    .ok()
                    .and_then(DocKind::from_code)
                    .ok_or_else(|| malformed("unknown document kind"))?,
                issued_on: date_of_epoch_days(d.issued_on)
                    .ok_or_else(|| malformed("document date"))?,
                content: text,
                hash: d.hash,
                key: d.key,
                endorsement: d.endorsement,
                signature: d.signature,
            }),
        },
        Ev::Reopened(_) => Event::Reopened { reason: text },
        Ev::ForwardedLate(f) => Event::ForwardedLate {
            from: f.from,
            hours: f.hours,
        },
        Ev::HandedOver(h) => {
            let mut history = Vec::with_capacity(h.history.len());
            for (i, r) in h.history.into_iter().enumerate() {
                // A withheld personal section leaves the carried ones empty.
                let personal = p.history.get(i).map(Vec::as_slice);
                match decode_with(&r.body, personal, &r.origin, book)? {
                    LogBody::Case(rec) if rec.case_id == c.case_id => history.push(rec),
                    _ => return Err(malformed("a carried record of another case")),
                }
            }
            Event::HandedOver {
                to: h.to,
                holder: h.holder,
                reason: text,
                history,
            }
        }
        Ev::Crossed(x) => Event::Crossed {
            holder: x.holder,
            reason: text,
            history: carried_of(x.history, &p.history, &c.case_id, book)?,
        },
        Ev::WarningAppealed(a) => Event::WarningAppealed {
            rule: rule_of(a.rule)?,
            level: level_of(a.level)?,
            reason: text,
        },
        Ev::WarningDecided(d) => Event::WarningDecided {
            rule: rule_of(d.rule)?,
            level: level_of(d.level)?,
            upheld: d.upheld,
            reason: text,
            decided_by: d.decided_by,
        },
        Ev::Attached(a) => Event::Attached(Box::new(Attachment {
            material: text,
            hash: if a.hash.len() == 32 {
                hex::encode(&a.hash)
            } else {
                return Err(malformed("attachment hash"));
            },
            size: a.size,
            content_type: ContentType::from_code(a.content_type)
                .ok_or_else(|| malformed("attachment type"))?,
            source: match a.source {
                1 => Source::Scan,
                2 => Source::Online,
                _ => return Err(malformed("attachment source")),
            },
        })),
    };
    Ok(EventRecord {
        case_id: c.case_id,
        case_version: c.case_version,
        actor: Actor {
            username: c.username,
            role: role_of(c.role)?,
            node: origin.to_owned(),
            department: c.department,
        },
        at_ms: c.at_ms,
        event,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::case::{Actor, Applicant, ApplicantKind, Event, EventRecord, Received};
    use crate::checklist::{IssueKind, MaterialIssue, PresentedMaterial};

    const VILLAGE: &str = "nanhai.guicheng.xiaping";

    fn book() -> (Book, String) {
        let cat = crate::starter::catalogue().unwrap();
        // A matter with materials, as a window sees most.
        let code = cat
            .matters
            .values()
            .find(|m| m.materials.len() >= 3)
            .unwrap()
            .code
            .clone();
        (
            Book {
                digest: catalogue_digest(&cat),
                catalogue: Arc::new(cat),
            },
            code,
        )
    }

    fn received(book: &Book, code: &str) -> EventRecord {
        let m = book.catalogue.matter(code).unwrap();
        let materials = m
            .materials
            .iter()
            .map(|x| PresentedMaterial {
                code: x.code.clone(),
                originals: 1,
                copies: 1,
                electronic: false,
                problem: None,
                by_data: None,
            })
            .collect();
        EventRecord {
            case_id: "XP-20261201-000123-K".into(),
            case_version: 1,
            actor: Actor {
                username: "clerk01".into(),
                role: Role::Clerk,
                node: VILLAGE.into(),
                department: None,
            },
            at_ms: 1_796_000_000_000,
            event: Event::Received(std::sync::Arc::new(Received::from_matter(
                m,
                book.catalogue.version,
                Applicant {
                    kind: ApplicantKind::Person,
                    id_number: "44060219900101123X".into(),
                    name: "陈嘉欣".into(),
                    phone: Some("13800138000".into()),
                    checksum_overridden: false,
                    checksum_override_reason: None,
                },
                vec![],
                materials,
                VILLAGE.into(),
            ))),
        }
    }

    fn later(event: Event, role: Role, department: Option<&str>) -> EventRecord {
        EventRecord {
            case_id: "XP-20261201-000123-K".into(),
            case_version: 7,
            actor: Actor {
                username: "wang".into(),
                role,
                node: VILLAGE.into(),
                department: department.map(str::to_owned),
            },
            at_ms: 1_796_000_360_000,
            event,
        }
    }

    fn round_trip(body: &LogBody, b: &Book) -> (LogBody, Encoded) {
        let enc = encode(body, VILLAGE, |_| Some(b.digest)).unwrap();
        assert_eq!(enc.body[0], FORMAT);
        let back = decode(&enc.body, Some(&enc.personal), VILLAGE, |v| {
            (v == b.catalogue.version).then(|| b.clone())
        })
        .unwrap();
        (back, enc)
    }

    #[test]
    fn a_matter_of_another_trees_catalogue_travels_whole_and_reads_without_a_catalogue() {
        let (b, code) = book();
        let mut first = received(&b, &code);
        let Event::Received(r) = &mut first.event else {
            unreachable!()
        };
        let r = std::sync::Arc::make_mut(r);
        r.decided_at = Some("liwan.dali".into());
        r.catalogue_tree = Some("liwan".into());
        r.peer_matter = Some(Box::new(b.catalogue.matter(&code).unwrap().clone()));
        let body = LogBody::Case(first.clone());
        // No digest is asked for, and none is needed to read it back.
        let enc = encode(&body, VILLAGE, |_| None).unwrap();
        let back = decode(&enc.body, Some(&enc.personal), VILLAGE, |_| None).unwrap();
        assert_eq!(back, body);
        // A matter that is not the one named is refused.
        let mut msg = pb::Body::decode(&enc.body[1..]).unwrap();
        if let Some(pb::Kind::Case(c)) = &mut msg.kind
            && let Some(pb::Ev::Received(r)) = &mut c.event
        {
            r.matter_code = "OTHER".into();
        }
        let mut forged = vec![FORMAT];
        msg.encode_raw(&mut forged);
        assert!(decode(&forged, Some(&enc.personal), VILLAGE, |_| None).is_err());
        // Without the matter, a peer's case is not written.
        if let Event::Received(r) = &mut first.event {
            let r = std::sync::Arc::make_mut(r);
            r.peer_matter = None;
        }
        assert!(encode(&LogBody::Case(first), VILLAGE, |_| None).is_err());
        let directive = LogBody::Directive(DirectiveRecord {
            directive: Directive::PeerCatalogue {
                peer: "liwan".into(),
                enabled: false,
                offer: "{}".into(),
                peer_signature: "ab".into(),
                signature: "cd".into(),
            },
            issued_by: "(node)".into(),
            at_ms: 1,
        });
        assert_eq!(round_trip(&directive, &b).0, directive);
    }

    #[test]
    fn a_cross_district_case_names_its_hall_openly_and_a_crossing_carries_its_records() {
        let (b, code) = book();
        let mut first = received(&b, &code);
        if let Event::Received(r) = &mut first.event {
            let r = std::sync::Arc::make_mut(r);
            r.decided_at = Some("foshan.nanhai".into());
        }
        let body = LogBody::Case(first.clone());
        let (back, enc) = round_trip(&body, &b);
        assert_eq!(back, body);
        // The hall is in the open part: a hall that holds the personal
        // section withheld still knows where the case goes.
        let open = decode(&enc.body, None, VILLAGE, |v| {
            (v == b.catalogue.version).then(|| b.clone())
        })
        .unwrap();
        let LogBody::Case(EventRecord {
            event: Event::Received(r),
            ..
        }) = open
        else {
            unreachable!()
        };
        assert_eq!(r.decided_at.as_deref(), Some("foshan.nanhai"));
        assert_eq!(r.applicant.name, "");
        // A crossing carries the records before it, with their sections.
        let mut up = later(
            Event::Transferred {
                to: "foshan".into(),
                reason: "异地通办".into(),
            },
            Role::Clerk,
            None,
        );
        up.case_version = 2;
        let mut crossed = later(
            Event::Crossed {
                holder: "foshan.nanhai".into(),
                reason: "异地通办，转foshan.nanhai办理".into(),
                history: vec![first, up],
            },
            Role::Supervisor,
            None,
        );
        crossed.case_version = 3;
        let body = LogBody::Case(crossed);
        let (back, _) = round_trip(&body, &b);
        assert_eq!(back, body);
        assert!(onewindow_i18n::has("ev.crossed"));
    }

    #[test]
    fn every_event_and_directive_round_trips() {
        let (b, code) = book();
        let text = "意见：材料齐全 / complete".to_owned();
        let events = vec![
            received(&b, &code),
            later(
                Event::Resubmitted {
                    situations: vec!["s1".into()],
                    materials: vec![PresentedMaterial {
                        code: "m1".into(),
                        originals: 2,
                        copies: 0,
                        electronic: true,
                        problem: Some("模糊".into()),
                        by_data: Some("440605-20261101-000007-Q".into()),
                    }],
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::CorrectionNotified {
                    issues: vec![
                        MaterialIssue {
                            code: "m1".into(),
                            name_zh: "身份证".into(),
                            name_en: "ID card".into(),
                            issue: IssueKind::Missing,
                        },
                        MaterialIssue {
                            code: "m2".into(),
                            name_zh: "户口簿".into(),
                            name_en: "Household register".into(),
                            issue: IssueKind::TooFewCopies { need: 2, got: 1 },
                        },
                        MaterialIssue {
                            code: "m3".into(),
                            name_zh: "证明".into(),
                            name_en: "Certificate".into(),
                            issue: IssueKind::OriginalMissing { need: 1, got: 0 },
                        },
                        MaterialIssue {
                            code: "m4".into(),
                            name_zh: "照片".into(),
                            name_en: "Photo".into(),
                            issue: IssueKind::Faulty {
                                problem: "过期".into(),
                            },
                        },
                    ],
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::NotAccepted {
                    reason: text.clone(),
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::Accepted {
                    deferred: vec!["m2".into()],
                    holder: Some("nanhai.guicheng".into()),
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::Accepted {
                    deferred: vec![],
                    holder: None,
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::CompletedAtWindow {
                    result: text.clone(),
                },
                Role::Clerk,
                None,
            ),
            later(Event::HandlingStarted, Role::Approver, Some("mz")),
            later(
                Event::SubmittedForReview {
                    opinion: text.clone(),
                },
                Role::Approver,
                Some("mz"),
            ),
            later(
                Event::ReviewPassed {
                    opinion: text.clone(),
                },
                Role::Approver,
                Some("mz"),
            ),
            later(
                Event::SentBack {
                    reason: text.clone(),
                },
                Role::Approver,
                Some("mz"),
            ),
            later(
                Event::OpinionGiven {
                    department: "ga".into(),
                    approve: true,
                    opinion: text.clone(),
                },
                Role::Approver,
                Some("ga"),
            ),
            later(
                Event::Decided {
                    granted: false,
                    opinion: text.clone(),
                },
                Role::Approver,
                Some("mz"),
            ),
            later(
                Event::ResultReady {
                    result: "粤字第1号".into(),
                },
                Role::Approver,
                Some("mz"),
            ),
            later(
                Event::HandedOut {
                    recipient: "陈嘉欣".into(),
                    collection: None,
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::HandedOut {
                    recipient: "陈嘉欣".into(),
                    collection: Some(crate::handout::Collection::InPerson {
                        document: crate::handout::IdDocument::TemporaryId,
                        id_last4: "002X".into(),
                    }),
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::HandedOut {
                    recipient: "李四".into(),
                    collection: Some(crate::handout::Collection::Proxy {
                        id_number: "110105198001010016".into(),
                        authorisation: true,
                        reference: "委托书 2026-17".into(),
                    }),
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::Suspended {
                    kind: SuspensionKind::ExpertReview,
                    reason: text.clone(),
                },
                Role::Approver,
                Some("mz"),
            ),
            later(
                Event::Resumed { note: text.clone() },
                Role::Approver,
                Some("mz"),
            ),
            later(
                Event::Extended {
                    n: 5,
                    reason: text.clone(),
                },
                Role::Approver,
                Some("mz"),
            ),
            later(
                Event::Withdrawn {
                    reason: text.clone(),
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::Terminated {
                    reason: text.clone(),
                },
                Role::Supervisor,
                None,
            ),
            later(
                Event::Transferred {
                    to: "nanhai".into(),
                    reason: "调回".into(),
                },
                Role::Supervisor,
                None,
            ),
            later(
                Event::Rated {
                    score: 2,
                    channel: Channel::QrCode,
                    comment: text.clone(),
                },
                Role::Citizen,
                None,
            ),
            later(
                Event::FollowedUp {
                    answer: text.clone(),
                },
                Role::Supervisor,
                None,
            ),
            later(
                Event::TrustIssued {
                    pledge: "本人承诺所填信息真实".into(),
                    result: text.clone(),
                    check_days: 10,
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::PostCheckPassed { note: text.clone() },
                Role::Approver,
                Some("gongan"),
            ),
            later(
                Event::TrustRevoked {
                    reason: text.clone(),
                },
                Role::Approver,
                Some("gongan"),
            ),
            later(
                Event::DocumentIssued {
                    document: Box::new(crate::document::IssuedDocument {
                        kind: crate::document::DocKind::Result,
                        issued_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                        content: format!("{{\"lines\":[\"{text}\"]}}"),
                        hash: vec![7; 32],
                        key: vec![1; 32],
                        endorsement: vec![2; 64],
                        signature: vec![3; 64],
                    }),
                },
                Role::Approver,
                Some("gongan"),
            ),
            later(
                Event::Reopened {
                    reason: text.clone(),
                },
                Role::Supervisor,
                None,
            ),
            later(
                Event::WarningAppealed {
                    rule: WarningRule::Deadline,
                    level: Warning::Yellow,
                    reason: text.clone(),
                },
                Role::Clerk,
                None,
            ),
            later(
                Event::WarningDecided {
                    rule: WarningRule::FollowUp,
                    level: Warning::Red,
                    upheld: true,
                    reason: text.clone(),
                    decided_by: "sup1@nanhai".into(),
                },
                Role::Supervisor,
                None,
            ),
            later(
                Event::Attached(Box::new(Attachment {
                    material: "户口簿".into(),
                    hash: "ab".repeat(32),
                    size: 48_213,
                    content_type: ContentType::Pdf,
                    source: Source::Scan,
                })),
                Role::Clerk,
                None,
            ),
        ];
        // A case pre-applied online says so in its `received` event; the
        // material an attachment shows is personal.
        let mut online = received(&b, &code);
        if let Event::Received(r) = &mut online.event {
            let r = std::sync::Arc::make_mut(r);
            r.intake = Intake::Online;
        }
        let online = LogBody::Case(online);
        assert_eq!(round_trip(&online, &b).0, online);
        let (_, enc) = round_trip(&LogBody::Case(events[events.len() - 1].clone()), &b);
        assert!(!enc.body.windows(9).any(|w| w == "户口簿".as_bytes()));
        assert!(!enc.personal.is_empty());
        let late = LogBody::Case(later(
            Event::ForwardedLate {
                from: "nanhai.guicheng.xiaping".into(),
                hours: 49,
            },
            Role::Supervisor,
            None,
        ));
        assert_eq!(round_trip(&late, &b).0, late);
        // A handover carries records of other writers, each with its
        // personal section.
        let mut carried = vec![received(&b, &code), events[1].clone()];
        carried[1].case_version = 2;
        let mut up = later(
            Event::Transferred {
                to: "nanhai".into(),
                reason: "交区级中心".into(),
            },
            Role::Supervisor,
            None,
        );
        up.case_version = 3;
        carried.push(up);
        let mut handover = later(
            Event::HandedOver {
                to: "nanhai.dali.xiaping".into(),
                holder: "nanhai.dali.xiaping".into(),
                reason: text.clone(),
                history: carried,
            },
            Role::Supervisor,
            None,
        );
        handover.case_version = 4;
        let body = LogBody::Case(handover);
        let (decoded, _) = round_trip(&body, &b);
        assert_eq!(decoded, body);
        let LogBody::Case(rec) = decoded else {
            unreachable!()
        };
        let Event::HandedOver { history, .. } = &rec.event else {
            unreachable!()
        };
        assert_eq!(history[0].actor.node, VILLAGE);
        let Event::Received(r) = &history[0].event else {
            unreachable!()
        };
        assert!(!r.applicant.name.is_empty(), "the carried personal section");
        for rec in events {
            // Every kind of event has its name in a case's trace.
            let name = format!("ev.{}", rec.event.kind());
            assert!(
                onewindow_i18n::has(&name),
                "{name} is not in the phrase table"
            );
            let body = LogBody::Case(rec);
            assert_eq!(round_trip(&body, &b).0, body);
        }
        let directives = [
            Directive::CataloguePublished {
                version: 3,
                catalogue: "{\"version\":3}".into(),
                signature: "ab".into(),
            },
            Directive::CalendarPublished {
                year: 2027,
                calendar: "{}".into(),
                signature: "cd".into(),
            },
            Directive::NodeRevoked {
                node: VILLAGE.into(),
                serial: "01".into(),
                signature: "ef".into(),
            },
            Directive::NodeRegistered {
                node: VILLAGE.into(),
                signature: "0a".into(),
            },
            Directive::StaffAccount {
                account: crate::log::StaffAccount {
                    hall: VILLAGE.into(),
                    username: "xp.clerk".into(),
                    display_name: "李文".into(),
                    role: Role::Approver,
                    department: Some("MZ".into()),
                    password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                    active: false,
                },
                signature: "0b".into(),
            },
            Directive::Recall {
                case_id: "XP-20261201-000123-K".into(),
                to: "nanhai".into(),
                reason: "督办".into(),
            },
            Directive::WarningDecision {
                case_id: "XP-20261201-000123-K".into(),
                rule: WarningRule::Deadline,
                level: Warning::Red,
                upheld: false,
                reason: "系统停电，情况属实".into(),
            },
            Directive::Reopen {
                case_id: "XP-20261201-000123-K".into(),
                reason: "行政复议决定撤销原决定，重新办理".into(),
            },
            Directive::Handover {
                hall: VILLAGE.into(),
                heir: "nanhai.dali.xiaping".into(),
                reason: "行政区划调整".into(),
            },
        ];
        for d in directives {
            let body = LogBody::Directive(DirectiveRecord {
                directive: d,
                issued_by: "admin".into(),
                at_ms: 5,
            });
            let (back, enc) = round_trip(&body, &b);
            assert_eq!(back, body);
            assert!(enc.personal.is_empty(), "a directive has no personal part");
        }
        let audit = LogBody::Audit(crate::log::AuditRecord {
            action: "case_recalled".into(),
            actor: "sup1".into(),
            role: "supervisor".into(),
            target: "XP-20261201-000123-K".into(),
            detail: "群众投诉，区级督办".into(),
            at_ms: 7,
        });
        let (back, enc) = round_trip(&audit, &b);
        assert_eq!(back, audit);
        assert!(enc.personal.is_empty());
        assert_eq!(back.kind(), "audit");
        // And as the JSON of the first format.
        let json = serde_json::to_vec(&audit).unwrap();
        assert_eq!(decode(&json, None, VILLAGE, |_| None).unwrap(), audit);
    }

    #[test]
    fn a_received_event_names_its_matter_and_stays_small() {
        let (b, code) = book();
        let rec = received(&b, &code);
        let json = serde_json::to_string(&LogBody::Case(rec.clone())).unwrap();
        let (_, enc) = round_trip(&LogBody::Case(rec), &b);
        let matter = b.catalogue.matter(&code).unwrap();
        let open = String::from_utf8_lossy(&enc.body);
        assert!(
            !open.contains(&matter.name_zh),
            "the matter's name is not copied"
        );
        let personal = String::from_utf8_lossy(&enc.personal);
        assert!(personal.contains("陈嘉欣") && personal.contains("44060219900101123X"));
        assert!(
            !open.contains("陈嘉欣") && !open.contains("13800138000"),
            "the applicant is only in the personal section"
        );
        let size = enc.body.len() + enc.personal.len();
        eprintln!(
            "received: {} + {} bytes, {} as format 1",
            enc.body.len(),
            enc.personal.len(),
            json.len()
        );
        assert!(
            size <= 220,
            "a received event takes {size} bytes ({} as format 1)",
            json.len()
        );
    }

    #[test]
    fn an_unknown_or_different_catalogue_version_holds_the_event_back() {
        let (b, code) = book();
        let enc = encode(&LogBody::Case(received(&b, &code)), VILLAGE, |_| {
            Some(b.digest)
        })
        .unwrap();
        let v = b.catalogue.version;
        assert_eq!(
            decode(&enc.body, Some(&enc.personal), VILLAGE, |_| None),
            Err(DecodeError::MissingCatalogue { version: v })
        );
        let other = Book {
            digest: b.digest ^ 1,
            catalogue: Arc::clone(&b.catalogue),
        };
        assert_eq!(
            decode(&enc.body, Some(&enc.personal), VILLAGE, |_| Some(
                other.clone()
            )),
            Err(DecodeError::MissingCatalogue { version: v }),
            "a version held under another text is not folded against"
        );
        assert!(encode(&LogBody::Case(received(&b, &code)), VILLAGE, |_| None).is_err());
    }

    #[test]
    fn format1_bodies_read_as_they_were_and_withheld_personal_data_reads_empty() {
        let (b, code) = book();
        let body = LogBody::Case(received(&b, &code));
        let json = serde_json::to_vec(&body).unwrap();
        assert_eq!(decode(&json, None, VILLAGE, |_| None).unwrap(), body);
        let enc = encode(&body, VILLAGE, |_| Some(b.digest)).unwrap();
        let LogBody::Case(rec) = decode(&enc.body, None, VILLAGE, |_| Some(b.clone())).unwrap()
        else {
            panic!("a case event")
        };
        let Event::Received(r) = rec.event else {
            panic!("received")
        };
        assert!(r.applicant.id_number.is_empty() && r.materials.is_empty());
        assert_eq!(r.matter_code, code, "the open part is whole");
    }

    #[test]
    fn the_id_digest_is_in_the_open_part_and_reads_without_the_personal_one() {
        let (b, code) = book();
        let mut rec = received(&b, &code);
        let digest = "ab".repeat(32);
        if let Event::Received(r) = &mut rec.event {
            let r = std::sync::Arc::make_mut(r);
            r.id_digest.clone_from(&digest);
        }
        let enc = encode(&LogBody::Case(rec), VILLAGE, |_| Some(b.digest)).unwrap();
        let LogBody::Case(rec) = decode(&enc.body, None, VILLAGE, |_| Some(b.clone())).unwrap()
        else {
            panic!("a case event")
        };
        let Event::Received(r) = rec.event else {
            panic!("received")
        };
        assert_eq!(r.id_digest, digest);
        assert!(r.applicant.id_number.is_empty());
        // An entry written before the digest reads with none.
        let old = encode(&LogBody::Case(received(&b, &code)), VILLAGE, |_| {
            Some(b.digest)
        })
        .unwrap();
        let LogBody::Case(rec) = decode(&old.body, None, VILLAGE, |_| Some(b.clone())).unwrap()
        else {
            panic!("a case event")
        };
        let Event::Received(r) = rec.event else {
            panic!("received")
        };
        assert_eq!(r.id_digest, "");
    }

    /// Before hand-outs recorded the identity check, tag 23 held an empty
    /// message and the recipient was the personal text; such an entry
    /// still reads (as not recorded), in format 2 and in format 1, and
    /// encodes to the same bytes again.
    #[test]
    fn a_hand_out_written_before_the_identity_check_still_reads() {
        let mut ev = pb::CaseEvent {
            case_id: "XP-20261201-000123-K".into(),
            case_version: 9,
            at_ms: 1_796_000_360_000,
            username: "clerk1".into(),
            role: role_code(Role::Clerk),
            department: None,
            event: None,
        }
        .encode_to_vec();
        // Field 23, length-delimited, length 0: the old `Empty {}`.
        ev.extend_from_slice(&[0xBA, 0x01, 0x00]);
        let mut body = vec![FORMAT, 0x0A];
        prost::encoding::encode_varint(ev.len() as u64, &mut body);
        body.extend_from_slice(&ev);
        let personal = pb::Personal {
            text: "李桂英".into(),
            ..pb::Personal::default()
        }
        .encode_to_vec();
        let old = Event::HandedOut {
            recipient: "李桂英".into(),
            collection: None,
        };
        let LogBody::Case(rec) = decode(&body, Some(&personal), VILLAGE, |_| None).unwrap() else {
            panic!("a case event")
        };
        assert_eq!(rec.event, old);
        let enc = encode(&LogBody::Case(rec.clone()), VILLAGE, |_| None).unwrap();
        assert_eq!((enc.body, enc.personal), (body, personal));
        let json = r#"{"case_id":"XP-20261201-000123-K","case_version":9,"actor":{"username":"clerk1","role":"clerk","node":"nanhai.guicheng.xiaping"},"at_ms":1796000360000,"event":{"type":"handed_out","recipient":"李桂英"}}"#;
        assert_eq!(
            decode(json.as_bytes(), None, VILLAGE, |_| None).unwrap(),
            LogBody::Case(rec)
        );
        let t = crate::handout::describe("李桂英", None);
        assert_eq!(t.en, "collected by 李桂英, ID check not recorded");
    }

    #[test]
    fn bad_bodies_are_errors_not_panics() {
        let (b, _) = book();
        for bytes in [
            &[][..],
            &[FORMAT][..],
            &[FORMAT, 0xff, 0xff, 0xff][..],
            &[9, 1, 2][..],
            b"{not json",
        ] {
            assert!(decode(bytes, None, VILLAGE, |_| Some(b.clone())).is_err());
        }
        let enc = encode(
            &LogBody::Case(later(Event::HandlingStarted, Role::Approver, None)),
            VILLAGE,
            |_| None,
        )
        .unwrap();
        assert!(decode(&enc.body, Some(&[0xff, 0xff]), VILLAGE, |_| None).is_err());
        // An actor from another hall cannot be written under this origin.
        let mut foreign = later(Event::HandlingStarted, Role::Approver, None);
        foreign.actor.node = "nanhai".into();
        assert!(encode(&LogBody::Case(foreign), VILLAGE, |_| None).is_err());
    }
}
