//! Acceptance at the window and the back office, over the case state machine.

use serde::{Deserialize, Serialize};

use super::Node;
use super::views::{CaseView, Outcome, Progress};
use crate::error::Error;
use onewindow_domain::case::{
    Actor, Applicant, ApplicantKind, Case, CaseError, Event, EventRecord, Received, Role,
    SuspensionKind, Warning, WarningRule, china_date,
};
use onewindow_domain::case_number::CaseNumber;
use onewindow_domain::catalogue::Matter;
use onewindow_domain::checklist::PresentedMaterial;
use onewindow_domain::handout::Collector;
use onewindow_domain::ids;
use onewindow_domain::policy;
use onewindow_store::CaseRow;

/// The applicant as typed at the window.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantInput {
    /// Person or organisation.
    pub kind: ApplicantKind,
    /// Citizen ID number (GB 11643: 17 digits and a check character, `X`
    /// for ten) for a person, or unified social credit code (GB 32100: 18
    /// of `0-9`, `A-H`, `J-N`, `P-R`, `T`, `U`, `W-Y`) for an organisation;
    /// lowercase letters (and full-width forms) are read as uppercase, and
    /// the check character must match.
    #[schema(pattern = "^[0-9A-HJ-NP-RTUW-Ya-hj-np-rtuw-y]{18}$")]
    pub id_number: String,
    /// Name (not blank, at most 100 characters).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Contact phone: at most 20 of digits, `+`, `-` and spaces.
    #[serde(default)]
    #[schema(pattern = "^[0-9+ -]{0,20}$", max_length = 20)]
    pub phone: Option<String>,
    /// Accept a credit code whose check character fails, for this reason
    /// (some real codes do); recorded in the case's events. Not blank, at
    /// most 200 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub checksum_override_reason: Option<String>,
}

/// A submission at the window.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// Matter code.
    pub matter_code: String,
    /// Applicant.
    pub applicant: ApplicantInput,
    /// Situations (情形) that apply.
    #[serde(default)]
    pub situations: Vec<String>,
    /// Materials presented.
    #[serde(default)]
    pub materials: Vec<PresentedMaterial>,
    /// The clerk decides not to accept, for this reason (printed on the
    /// decision; not blank, at most 500 characters).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    pub non_acceptance_reason: Option<String>,
    /// The applicant signed the matter's integrity pledge (先信任、再审核):
    /// a complete submission of a trust-first matter, at a hall that
    /// decides it, is then completed at once and checked afterwards. A
    /// matter that is not trust-first is refused (`not_trust_first`), and so
    /// is a hall that does not decide it (`trust_first_not_here`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pledge_signed: bool,
    /// Cross-district handling (异地通办): the hall, by node id, that
    /// decides the case, usually the applicant's home district in another
    /// branch of the tree. The case goes up to the common ancestor of this
    /// hall and that one, down to it (or to the hall above it in its branch
    /// that decides the matter), and its result comes back the same way to
    /// be handed out here. Refused before anything is stored when the
    /// matter is not open for it (`not_cross_district`), the hall is not
    /// known here (`unknown_deciding_hall`), or no hall of its branch below
    /// the common ancestor decides the matter (`hall_may_not_decide`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "foshan.nanhai")]
    pub deciding_hall: Option<String>,
}

/// A key that makes a submission happen once: the clerk's page, a kiosk or
/// a department system sends one with a submission, and when it does not
/// hear the answer (the hall was killed, the network dropped) it sends the
/// same submission with the same key again and gets the case the first one
/// made. 1 to 100 characters of `A-Z a-z 0-9 . _ : -`; a key is the
/// submitting account's and is remembered for
/// [`onewindow_store::SUBMISSION_KEY_DAYS`] days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionKey(String);

impl SubmissionKey {
    /// The longest key.
    pub const MAX_LEN: usize = 100;

    /// Checks a key.
    pub fn new(key: &str) -> Result<Self, Error> {
        let ok = !key.is_empty()
            && key.len() <= Self::MAX_LEN
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if ok {
            Ok(Self(key.to_owned()))
        } else {
            Err(Error::new(
                crate::error::ErrorKind::Invalid,
                "bad_submission_key",
                &[("max", &Self::MAX_LEN)],
            ))
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a submission made: the outcome, and whether it was made by an
/// earlier attempt under the same [`SubmissionKey`].
#[derive(Debug)]
pub struct Submitted {
    /// The case and its document.
    pub outcome: Outcome,
    /// An earlier attempt with the same key made it; nothing new was made.
    pub replayed: bool,
}

/// How a submission came to the window, beyond the clerk's form.
#[derive(Debug, Default)]
pub(crate) struct Intake {
    /// At the window, or pre-applied online.
    pub channel: onewindow_domain::attachment::Intake,
    /// Files that come with it (a pre-application's), already kept.
    pub attachments: Vec<onewindow_domain::attachment::Attachment>,
    /// The pre-application it accepts.
    pub pre_application: Option<String>,
}

/// The hash that tells a retried submission from another one under a
/// reused key: SHA-256 of its JSON, hex.
fn submission_hash(sub: &Submission) -> String {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_vec(sub).unwrap_or_default();
    hex::encode(Sha256::digest(json))
}

/// A back-office or window action on a case.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Start handling (承办); opens parallel sub-cases.
    StartHandling,
    /// Handling done; to review.
    SubmitForReview {
        /// Handling opinion.
        opinion: String,
    },
    /// Review passed; to approval.
    PassReview {
        /// Review opinion.
        opinion: String,
    },
    /// Send back to handling.
    SendBack {
        /// Why.
        reason: String,
    },
    /// A co-handling department's opinion.
    Opinion {
        /// The department (must be the approver's own).
        department: String,
        /// Approves.
        approve: bool,
        /// Opinion.
        opinion: String,
    },
    /// Decide: grant or refuse.
    Decide {
        /// Granted.
        granted: bool,
        /// Decision text.
        opinion: String,
    },
    /// The result is ready at the accepting window.
    ResultReady {
        /// What the result is.
        result: String,
    },
    /// Hand the result out at the accepting window, saying who collects
    /// it and how their identity was checked: the applicant in person
    /// (the ID number must be the applicant's) or a proxy with the
    /// applicant's written authorisation. A request without `collector`
    /// is refused (`handout_identity_missing`).
    HandOut {
        /// Who collects it and how they were identified.
        #[serde(default)]
        collector: Option<Collector>,
        /// Before hand-outs recorded the identity check, the collector's
        /// name. Not used: the collector's name is the applicant's (in
        /// person) or `collector.name` (a proxy).
        #[serde(default)]
        #[schema(deprecated)]
        recipient: Option<String>,
    },
    /// Stop the clock for a special procedure.
    Suspend {
        /// Procedure.
        kind: SuspensionKind,
        /// Why.
        reason: String,
    },
    /// Restart the clock.
    Resume {
        /// Note.
        #[serde(default)]
        note: String,
    },
    /// Extend the limit.
    Extend {
        /// Units to add.
        n: u32,
        /// Why.
        reason: String,
    },
    /// Withdraw at the applicant's request.
    Withdraw {
        /// Why.
        reason: String,
    },
    /// Terminate.
    Terminate {
        /// Why.
        reason: String,
    },
    /// Answer a bad rating (4 or 5): what was found and put right. Due
    /// within 15 working days of the rating; at the hall that holds the
    /// case (the accepting hall, once the result is handed out).
    FollowUp {
        /// The answer.
        answer: String,
    },
    /// The post-check of a trust-first result found nothing wrong: the
    /// result stands. By an approver of the case's department, within the
    /// matter's `check_days`.
    PassPostCheck {
        /// What was checked.
        note: String,
    },
    /// The post-check of a trust-first result found the pledge broken: the
    /// result is revoked and a decision of revocation is issued to the
    /// applicant. By an approver of the case's department.
    RevokeResult {
        /// What the check found (printed on the decision; not blank).
        reason: String,
    },
    /// Appeal a warning that the case has today (its rule and level), with
    /// the reason; at the hall that holds the case. The district decides.
    AppealWarning {
        /// The rule that raised it.
        rule: WarningRule,
        /// Its level today.
        level: Warning,
        /// Why the warning is wrong.
        reason: String,
    },
}

impl Action {
    fn into_event(self) -> Event {
        match self {
            Self::StartHandling => Event::HandlingStarted,
            Self::SubmitForReview { opinion } => Event::SubmittedForReview { opinion },
            Self::PassReview { opinion } => Event::ReviewPassed { opinion },
            Self::SendBack { reason } => Event::SentBack { reason },
            Self::Opinion {
                department,
                approve,
                opinion,
            } => Event::OpinionGiven {
                department,
                approve,
                opinion,
            },
            Self::Decide { granted, opinion } => Event::Decided { granted, opinion },
            Self::ResultReady { result } => Event::ResultReady { result },
            // `Node::act` checks the collector against the case first; a
            // hand-out without one is refused when written.
            Self::HandOut { recipient, .. } => Event::HandedOut {
                recipient: recipient.unwrap_or_default(),
                collection: None,
            },
            Self::Suspend { kind, reason } => Event::Suspended { kind, reason },
            Self::Resume { note } => Event::Resumed { note },
            Self::Extend { n, reason } => Event::Extended { n, reason },
            Self::Withdraw { reason } => Event::Withdrawn { reason },
            Self::Terminate { reason } => Event::Terminated { reason },
            Self::FollowUp { answer } => Event::FollowedUp { answer },
            Self::PassPostCheck { note } => Event::PostCheckPassed { note },
            Self::RevokeResult { reason } => Event::TrustRevoked { reason },
            Self::AppealWarning {
                rule,
                level,
                reason,
            } => Event::WarningAppealed {
                rule,
                level,
                reason,
            },
        }
    }
}

/// A required text of at most `max` characters; `field` names it by its
/// phrase `field.<field>`.
fn require_text(field: &'static str, s: &str, max: usize) -> Result<(), Error> {
    if s.trim().is_empty() {
        return Err(Error::empty_field(field));
    }
    if s.chars().count() > max {
        return Err(Error::bad_request(
            "field_too_long",
            &[("field", &field), ("max", &max)],
        ));
    }
    Ok(())
}

impl Node {
    pub(crate) fn check_applicant(&self, a: &ApplicantInput) -> Result<Applicant, Error> {
        require_text("applicant.name", &a.name, 100).map_err(|e| e.on_field("name"))?;
        if let Some(p) = &a.phone
            && (p.len() > 20 || !p.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)))
        {
            return Err(Error::bad_request("bad_phone", &[]).on_field("phone"));
        }
        let on_id = |e: ids::IdError| Error::from(e).on_field("id_number");
        let (id_number, overridden) = match a.kind {
            ApplicantKind::Person => (
                ids::check_citizen_id(&a.id_number)
                    .map_err(on_id)?
                    .number()
                    .to_owned(),
                false,
            ),
            ApplicantKind::Organisation => match &a.checksum_override_reason {
                Some(reason) => {
                    require_text("applicant.checksum_override_reason", reason, 200)
                        .map_err(|e| e.on_field("override_reason"))?;
                    let code = ids::check_credit_code_with_override(&a.id_number).map_err(on_id)?;
                    if code.checksum_overridden() {
                        tracing::warn!(code = code.code(), reason = %reason.trim(),
                            "credit code accepted with a failing check character");
                    }
                    (code.code().to_owned(), code.checksum_overridden())
                }
                None => (
                    ids::check_credit_code(&a.id_number)
                        .map_err(on_id)?
                        .code()
                        .to_owned(),
                    false,
                ),
            },
        };
        Ok(Applicant {
            kind: a.kind,
            id_number,
            name: a.name.trim().to_owned(),
            phone: a.phone.clone(),
            checksum_overridden: overridden,
            checksum_override_reason: overridden.then(|| {
                a.checksum_override_reason
                    .as_deref()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            }),
        })
    }

    pub(crate) fn matter_for_window(&self, code: &str) -> Result<Matter, Error> {
        let cat = self.catalogue();
        let m = cat
            .matter(code)
            .ok_or_else(|| Error::not_found("unknown_matter", &[("code", &code)]))?;
        if !self.may_receive(m) {
            return Err(Error::with_text(
                crate::error::ErrorKind::Unprocessable,
                "matter_not_delegated",
                onewindow_i18n::text_args(
                    "err.matter_not_delegated",
                    &[
                        ("matter", onewindow_i18n::Arg::Each(&m.name_zh, &m.code)),
                        ("tier", onewindow_i18n::Arg::Plain(&self.tier)),
                    ],
                ),
            ));
        }
        Ok(m.clone())
    }

    pub(crate) fn actor(&self, username: &str, role: Role, department: Option<String>) -> Actor {
        Actor {
            username: username.to_owned(),
            role,
            node: self.id.to_string(),
            department,
        }
    }

    /// The decision that follows a (re)submission, by
    /// [`policy::acceptance_decision`], after the clerk's reason for a
    /// non-acceptance is checked.
    fn acceptance_event(
        &self,
        matter: &Matter,
        applicant: &Applicant,
        situations: &[String],
        materials: &[PresentedMaterial],
        non_acceptance: Option<&str>,
        here_may_decide: bool,
    ) -> Result<Event, Error> {
        if let Some(reason) = non_acceptance {
            require_text("non_acceptance_reason", reason, 500)?;
        }
        Ok(policy::acceptance_decision(
            matter,
            applicant.kind,
            situations,
            materials,
            non_acceptance,
            here_may_decide && self.may_decide(matter),
            self.id.as_str(),
        )?)
    }

    /// The hall of another branch that decides a cross-district case
    /// accepted here for `named` ([`policy::cross_decider`]), after the
    /// checks the clerk is told of before anything is stored.
    fn cross_decider(&self, matter: &Matter, named: &str) -> Result<String, Error> {
        if !matter.cross_district {
            return Err(Error::new(
                crate::error::ErrorKind::Unprocessable,
                "not_cross_district",
                &[("code", &matter.code)],
            ));
        }
        let named = named.trim();
        let known = federation::NodeId::new(named).is_ok()
            && (self
                .config
                .node
                .tree_hall_entries()
                .iter()
                .any(|(h, ..)| *h == named)
                || self.hall_names().contains_key(named));
        if !known {
            return Err(Error::new(
                crate::error::ErrorKind::Unprocessable,
                "unknown_deciding_hall",
                &[("hall", &named)],
            ));
        }
        policy::cross_decider(
            matter,
            self.id.as_str(),
            named,
            &self.config.node.tiers,
            self.today(),
        )
        .ok_or_else(|| {
            Error::new(
                crate::error::ErrorKind::Unprocessable,
                "hall_may_not_decide",
                &[("hall", &named), ("code", &matter.code)],
            )
        })
    }

    /// Where an accepted case goes to be decided: the lowest hall above
    /// that may, or for a cross-district case the hall of the other branch
    /// that decides it.
    fn destination(&self, case: &Case, matter: &Matter) -> String {
        // A case for another tree goes up to this tree's root first.
        if case.received.catalogue_tree.is_some() {
            return policy::tree_root(self.id.as_str()).to_owned();
        }
        case.received
            .decided_at
            .as_deref()
            .and_then(|named| {
                policy::cross_decider(
                    matter,
                    &case.received.accepting_node,
                    named,
                    &self.config.node.tiers,
                    self.today(),
                )
            })
            .unwrap_or_else(|| self.decider_for(matter).to_string())
    }

    /// May a pledge be signed for `matter` here: a trust-first matter, at a
    /// hall that decides it (the result is issued at once).
    fn check_trust_first(&self, matter: &Matter) -> Result<(), Error> {
        if matter.trust_first.is_none() {
            return Err(Error::new(
                crate::error::ErrorKind::Invalid,
                "not_trust_first",
                &[("code", &matter.code)],
            ));
        }
        if !self.may_decide(matter) {
            return Err(Error::new(
                crate::error::ErrorKind::Unprocessable,
                "trust_first_not_here",
                &[("code", &matter.code)],
            ));
        }
        Ok(())
    }

    /// Receives a submission and issues exactly one outcome document.
    ///
    /// With a [`SubmissionKey`], a submission already made under the same
    /// key by the same account answers with the case it made
    /// ([`Submitted::replayed`]) and makes nothing; the same key with
    /// another submission is `submission_key_reused`. The key is stored in
    /// the transaction that stores the case.
    pub async fn submit(
        &self,
        username: &str,
        role: Role,
        sub: Submission,
        key: Option<&SubmissionKey>,
    ) -> Result<Submitted, Error> {
        self.submit_with(username, role, sub, key, Intake::default())
            .await
    }

    /// [`Node::submit`], with how the case came to the window: a
    /// pre-application accepted there writes its files' `attached` events
    /// between `received` and the decision, and is marked accepted in the
    /// same transaction (`pre_application_taken` when another clerk took
    /// it first).
    pub(crate) async fn submit_with(
        &self,
        username: &str,
        role: Role,
        sub: Submission,
        key: Option<&SubmissionKey>,
        intake: Intake,
    ) -> Result<Submitted, Error> {
        if role != Role::Clerk {
            return Err(Error::forbidden("action.accept"));
        }
        let request_hash = key.map(|_| submission_hash(&sub));
        if let (Some(k), Some(hash)) = (key, &request_hash) {
            // A retry answers before any check: the first attempt passed
            // them, and the rules may have changed since.
            let mut w = self.store.write().await?;
            let made = w.submission_key(username, k.as_str()).await?;
            drop(w);
            if let Some(made) = made {
                return self.replay(made, hash).await;
            }
        }
        if self.is_closed() {
            return Err(Error::new(
                crate::error::ErrorKind::Conflict,
                "hall_closed",
                &[("hall", &self.id)],
            ));
        }
        let started = std::time::Instant::now();
        // A hall of a tree this one peers with: the matter is that tree's.
        let peer_hall = sub.deciding_hall.as_deref().map(str::trim).filter(|n| {
            federation::NodeId::new(*n).is_ok()
                && policy::tree_root(n) != policy::tree_root(self.id.as_str())
        });
        let (matter, catalogue_version) = match peer_hall {
            Some(named) => self.peer_matter(&sub.matter_code, named).await?,
            None => (
                self.matter_for_window(&sub.matter_code)?,
                self.catalogue().version,
            ),
        };
        let deciding_hall = match sub.deciding_hall.as_deref() {
            Some(named) => {
                if peer_hall.is_none() {
                    self.cross_decider(&matter, named)?;
                }
                Some(named.trim().to_owned())
            }
            None => None,
        };
        let applicant = self.check_applicant(&sub.applicant)?;
        let decision = self.acceptance_event(
            &matter,
            &applicant,
            &sub.situations,
            &sub.materials,
            sub.non_acceptance_reason.as_deref(),
            deciding_hall.is_none(),
        )?;
        let materials = self
            .check_by_data(&matter, &applicant.id_number, &sub.materials)
            .await?;
        let decision = if sub.pledge_signed {
            if deciding_hall.is_some() {
                return Err(Error::new(
                    crate::error::ErrorKind::Unprocessable,
                    "trust_first_not_here",
                    &[("code", &matter.code)],
                ));
            }
            self.check_trust_first(&matter)?;
            policy::trust_first(&matter, decision)
        } else {
            decision
        };
        let now = self.now_ms();
        let day = china_date(now);
        let actor = self.actor(username, role, None);
        let mut received = Received::from_matter(
            &matter,
            catalogue_version,
            applicant,
            sub.situations.clone(),
            materials,
            self.id.to_string(),
        );
        received.intake = intake.channel;
        received.decided_at = deciding_hall;
        if let Some(named) = peer_hall {
            received.catalogue_tree = Some(policy::tree_root(named).to_owned());
            received.peer_matter = Some(Box::new(matter.clone()));
        }
        received.id_digest = self
            .id_digest(&received.applicant.id_number)
            .unwrap_or_default();
        let hall = &self.config.node.hall_code;
        let mut w = self.store.write().await?;
        if let (Some(k), Some(hash)) = (key, &request_hash) {
            // Again under the writer's lock: a second attempt that raced
            // the first finds its case here.
            if let Some(made) = w.submission_key(username, k.as_str()).await? {
                drop(w);
                return self.replay(made, hash).await;
            }
        }
        let seq = w
            .next_case_seq(hall, &day.format("%Y%m%d").to_string())
            .await?;
        let number = CaseNumber::new(hall, day, u32::try_from(seq).unwrap_or(u32::MAX))
            .map_err(|_| {
                Error::new(
                    crate::error::ErrorKind::Unavailable,
                    "case_numbers_exhausted",
                    &[],
                )
            })?
            .to_string();
        let first = EventRecord {
            case_id: number.clone(),
            case_version: 1,
            actor: actor.clone(),
            at_ms: now,
            event: Event::Received(std::sync::Arc::new(received)),
        };
        let mut case = Case::start(&first)?;
        let mut records = vec![first];
        for a in intake.attachments {
            let rec = EventRecord {
                case_id: number.clone(),
                case_version: case.version + 1,
                actor: actor.clone(),
                at_ms: now,
                event: Event::Attached(Box::new(a)),
            };
            case.apply(&rec)?;
            records.push(rec);
        }
        let second = EventRecord {
            case_id: number.clone(),
            case_version: case.version + 1,
            actor,
            at_ms: now,
            event: decision,
        };
        case.apply(&second)?;
        records.push(second);
        if let (Some(k), Some(hash)) = (key, &request_hash) {
            w.put_submission_key(username, k.as_str(), hash, &number, now)
                .await?;
        }
        if let Some(reference) = &intake.pre_application
            && !w.take_pre_application(reference, &number, now).await?
        {
            return Err(Error::new(
                crate::error::ErrorKind::Conflict,
                "pre_application_taken",
                &[("reference", reference)],
            ));
        }
        let outcome = self
            .commit_outcome(w, &mut case, &matter, records, true)
            .await?;
        self.metrics
            .case_submitted(outcome.outcome.as_str(), started.elapsed());
        Ok(Submitted {
            outcome,
            replayed: false,
        })
    }

    /// The answer to a submission made before under the same key: the case
    /// it made, as it stands now.
    async fn replay(&self, made: (String, String), hash: &str) -> Result<Submitted, Error> {
        let (first_hash, case_id) = made;
        if first_hash != hash {
            return Err(Error::new(
                crate::error::ErrorKind::Conflict,
                "submission_key_reused",
                &[("number", &case_id)],
            ));
        }
        let row = self
            .store
            .case(&case_id)
            .await?
            .ok_or_else(|| case_not_found(&case_id))?;
        Ok(Submitted {
            outcome: self.outcome(&row).await?,
            replayed: true,
        })
    }

    /// Resubmits materials after a correction notice.
    pub async fn resubmit(
        &self,
        username: &str,
        role: Role,
        number: &str,
        situations: Vec<String>,
        materials: Vec<PresentedMaterial>,
    ) -> Result<Outcome, Error> {
        if role != Role::Clerk {
            return Err(Error::forbidden("action.accept"));
        }
        let number = CaseNumber::parse(number)?.to_string();
        let mut w = self.store.write().await?;
        let row = w
            .case(&number)
            .await?
            .ok_or_else(|| case_not_found(&number))?;
        let mut case = row.case;
        let matter = self
            .catalogue()
            .matter(&case.received.matter_code)
            .cloned()
            .ok_or_else(|| {
                Error::new(crate::error::ErrorKind::Conflict, "matter_withdrawn", &[])
            })?;
        let actor = self.actor(username, role, None);
        let now = self.now_ms();
        // Results presented by data are checked before anything is
        // written (the checklist first, so that a material that takes no
        // data is named as such).
        let materials = if materials.iter().any(|p| p.by_data.is_some()) {
            let selected = situations.iter().cloned().collect();
            onewindow_domain::checklist::check(&matter, &selected, &materials)?;
            self.check_by_data(&matter, &case.received.applicant.id_number, &materials)
                .await?
        } else {
            materials
        };
        let resub = EventRecord {
            case_id: number.clone(),
            case_version: case.version + 1,
            actor: actor.clone(),
            at_ms: now,
            event: Event::Resubmitted {
                situations: situations.clone(),
                materials: materials.clone(),
            },
        };
        case.apply(&resub)?;
        let decision = self.acceptance_event(
            &matter,
            &case.received.applicant,
            &situations,
            &materials,
            None,
            case.received.decided_at.is_none(),
        )?;
        let rec = EventRecord {
            case_id: number.clone(),
            case_version: case.version + 1,
            actor,
            at_ms: now,
            event: decision,
        };
        case.apply(&rec)?;
        let outcome = self
            .commit_outcome(w, &mut case, &matter, vec![resub, rec], false)
            .await?;
        self.metrics
            .case_submitted(outcome.outcome.as_str(), std::time::Duration::ZERO);
        Ok(outcome)
    }

    /// Applies a back-office or window action.
    pub async fn act(
        &self,
        username: &str,
        role: Role,
        department: Option<String>,
        number: &str,
        action: Action,
    ) -> Result<CaseView, Error> {
        let number = CaseNumber::parse(number)?.to_string();
        match &action {
            Action::RevokeResult { reason } => require_text("reason", reason, 500)?,
            Action::PassPostCheck { note } if note.chars().count() > 500 => {
                return Err(Error::bad_request(
                    "field_too_long",
                    &[("field", &"note"), ("max", &500)],
                ));
            }
            _ => {}
        }
        if let Action::AppealWarning {
            rule,
            level,
            reason,
        } = &action
        {
            require_text("reason", reason, 500)?;
            let case = self.stored_case(&number).await?;
            if !self.live_warnings(&case).contains(&(*rule, *level)) {
                return Err(Error::new(
                    crate::error::ErrorKind::Conflict,
                    "no_such_warning",
                    &[("rule", &rule.as_str()), ("level", &level.as_str())],
                ));
            }
        }
        let event = match action {
            Action::HandOut {
                collector: None, ..
            } => return Err(CaseError::CollectionMissing.into()),
            Action::HandOut {
                collector: Some(collector),
                ..
            } => {
                // The applicant does not change: read outside the writer.
                let case = self.stored_case(&number).await?;
                let (recipient, collection) =
                    collector
                        .check(&case.received.applicant)
                        .map_err(|problems| match problems.into_iter().next() {
                            Some((_, e)) => Error::from(e),
                            None => Error::from(CaseError::CollectionMissing),
                        })?;
                Event::HandedOut {
                    recipient,
                    collection: Some(collection),
                }
            }
            other => other.into_event(),
        };
        let actor = self.actor(username, role, department);
        self.write_event(&number, actor, event).await
    }

    /// Writes one event as `actor`, after every check, in one transaction.
    pub async fn write_event_as(
        &self,
        number: &str,
        actor: Actor,
        event: Event,
    ) -> Result<CaseView, Error> {
        self.write_event(number, actor, event).await
    }

    async fn write_event(
        &self,
        number: &str,
        actor: Actor,
        event: Event,
    ) -> Result<CaseView, Error> {
        let mut w = self.store.write().await?;
        let row = w
            .case(number)
            .await?
            .ok_or_else(|| case_not_found(number))?;
        let mut case = row.case;
        if case.holder.as_deref() != Some(self.id.as_str()) {
            return Err(Error::new(
                crate::error::ErrorKind::Conflict,
                "not_holder",
                &[],
            ));
        }
        let kind = event.kind();
        let now = self.now_ms();
        let before = case.state;
        let rec = EventRecord {
            case_id: number.to_owned(),
            case_version: case.version + 1,
            actor: actor.clone(),
            at_ms: now,
            event,
        };
        case.apply(&rec)?;
        let mut records = vec![rec];
        // A result is issued as a document by the hall that decided, and
        // travels back with the case to the window that hands it out.
        // A trust-first result revoked after its check: the decision of
        // revocation goes to the applicant.
        let issues = match kind {
            "result_ready" => Some(onewindow_domain::document::DocKind::Result),
            "trust_revoked" => Some(onewindow_domain::document::DocKind::Revocation),
            _ => None,
        };
        if let Some(doc_kind) = issues {
            let shown = case.clone();
            let (doc, _) = self.issue_document(&mut case, &shown, doc_kind, &actor, now)?;
            records.push(doc);
        }
        // A result the common ancestor of a cross-district case holds goes
        // down as a crossing, after this commit, with what the window's
        // branch lacks.
        let across = self.hands_back_across(number, &case).await?;
        if !across && let Some(back) = policy::hand_back(&case, self.id.as_str(), &actor, now) {
            case.apply(&back)?;
            records.push(back);
        }
        // A reopened case goes up again to the hall that decides its matter
        // (by today's delegation).
        if kind == "reopened"
            && let Some(matter) = self.catalogue().matter(&case.received.matter_code)
        {
            self.escalate(&mut case, matter, &mut records)?;
        }
        let home = case.window().to_owned();
        for r in records {
            w.append(r, &home)?;
        }
        self.queue_completion_sms(&mut w, Some(before), &case, now)
            .await?;
        let row = self.case_row(&case);
        w.put_case(row.clone());
        w.commit().await?;
        self.metrics.case_event(kind);
        if across {
            self.obey_crossing(number).await?;
        }
        Ok(self.case_view(&row))
    }

    /// Stores an acceptance decision (with the escalation it may need) and
    /// returns its outcome document; `new` for a case numbered in this
    /// transaction (its row is inserted).
    async fn commit_outcome(
        &self,
        mut w: onewindow_store::WriteTx<'_>,
        case: &mut Case,
        matter: &Matter,
        mut records: Vec<EventRecord>,
        new: bool,
    ) -> Result<Outcome, Error> {
        // The document answers the decision; it describes the case as it
        // stands after the escalation that follows it (whether and to
        // which hall it goes up), so that is worked out first on a copy.
        let Some(last) = records.last() else {
            return Err(Error::storage(&"an acceptance decision without records"));
        };
        let (actor, at_ms) = (last.actor.clone(), last.at_ms);
        let mut shown = case.clone();
        self.escalate(&mut shown, matter, &mut records.clone())?;
        let kind = crate::documents::acceptance_kind(case.state);
        let (doc, document) = self.issue_document(case, &shown, kind, &actor, at_ms)?;
        records.push(doc);
        self.escalate(case, matter, &mut records)?;
        let scope = case.window().to_owned();
        for r in records {
            w.append(r, &scope)?;
        }
        // An immediate or trust-first result is completed at once.
        self.queue_completion_sms(&mut w, None, case, at_ms).await?;
        let row = self.case_row(case);
        if new {
            w.put_new_case(row.clone());
        } else {
            w.put_case(row.clone());
        }
        w.commit().await?;
        Ok(self.outcome_with(&row, document))
    }

    /// After acceptance at a hall that may not decide the matter, the case
    /// goes to the lowest ancestor that may ([`policy::escalation`]; written
    /// now, sent when the link is up).
    fn escalate(
        &self,
        case: &mut Case,
        matter: &Matter,
        records: &mut Vec<EventRecord>,
    ) -> Result<(), Error> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        let to = self.destination(case, matter);
        if let Some(rec) =
            policy::escalation(case, to.as_str(), self.id.as_str(), &last.actor, last.at_ms)
        {
            case.apply(&rec)?;
            records.push(rec);
        }
        Ok(())
    }

    /// The public progress query: needs the last four characters of the
    /// applicant's identifier; tells only status, stage, due date and what to
    /// bring next.
    pub async fn progress(&self, number: &str, last4: &str) -> Result<Progress, Error> {
        let number = CaseNumber::parse(number)?.to_string();
        match self.local_progress(&number, last4).await? {
            Some(p) => Ok(p),
            None => {
                // Not held here: ask up the tree (the district holds every case).
                let q = crate::Query::Progress {
                    number: number.clone(),
                    last4: last4.trim().to_owned(),
                };
                match self.ask_up(&q).await {
                    Some(answer) => {
                        serde_json::from_str(&answer).map_err(|_| case_not_found(&number))
                    }
                    // The same answer for a wrong key and an unknown number,
                    // so the query cannot be used to probe which numbers exist.
                    None => Err(case_not_found(&number)),
                }
            }
        }
    }

    /// The progress answer from this node's own store, if it holds the case
    /// and the key matches.
    pub async fn local_progress(
        &self,
        number: &str,
        last4: &str,
    ) -> Result<Option<Progress>, Error> {
        let Some(row) = self.store.case(number).await? else {
            return Ok(None);
        };
        let matches = if row.applicant_last4.is_empty() {
            // The applicant's section is withheld here: the hall that
            // keeps it checks the four characters.
            self.last4_checked_below(&row.id, &row.accepting_node, last4)
                .await
        } else {
            row.applicant_last4.eq_ignore_ascii_case(last4.trim())
        };
        Ok(matches.then(|| self.progress_view(&row)))
    }

    /// A case for staff, with its clocks and warning.
    pub async fn case_for_staff(&self, number: &str) -> Result<CaseView, Error> {
        let number = CaseNumber::parse(number)?.to_string();
        let row = self
            .store
            .case(&number)
            .await?
            .ok_or_else(|| case_not_found(&number))?;
        Ok(self.case_view(&row))
    }

    /// The read-model row of a case, with deadlines recomputed now.
    pub fn case_row(&self, case: &Case) -> CaseRow {
        self.case_row_owned(case.clone())
    }

    /// The read-model row of a case, taking the case (no copy of it).
    pub fn case_row_owned(&self, case: impl Into<Box<Case>>) -> CaseRow {
        let case: Box<Case> = case.into();
        let cal = self.calendar();
        let clocks = case.clocks(&cal);
        if let Some(c) = &clocks {
            let mut missing: Vec<i32> = c.statutory.missing_years.clone();
            missing.extend(&c.committed.missing_years);
            missing.sort_unstable();
            missing.dedup();
            if !missing.is_empty() {
                tracing::warn!(case = %case.id, years = ?missing,
                    "NO HOLIDAY CALENDAR for these years: deadlines count weekends only");
            }
        }
        let warning = case.warning(
            clocks.as_ref(),
            self.today(),
            &cal,
            self.yellow_percent(&case.received.matter_code),
        );
        let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
        CaseRow {
            id: case.id.clone(),
            matter_code: case.received.matter_code.clone(),
            department: case.received.department.clone(),
            // The hall that serves the case: where it was accepted, or
            // where it was handed over to.
            accepting_node: case.window().to_owned(),
            holder: case.holder.clone(),
            state: case.state.as_str().to_owned(),
            suspended: case.is_suspended(),
            applicant_last4: case.received.applicant.last4().to_owned(),
            received_at_ms: case.received_at_ms,
            accepted_at_ms: case.accepted_at_ms,
            closed_at_ms: case.closed_at_ms,
            statutory_due: date(clocks.as_ref().and_then(|c| c.statutory.date)),
            committed_due: date(clocks.as_ref().and_then(|c| c.committed.date)),
            stage_due: date(
                clocks
                    .as_ref()
                    .and_then(|c| c.stage.as_ref().and_then(|s| s.date)),
            ),
            warning: warning.as_str().to_owned(),
            version: case.version as i64,
            updated_at_ms: self.now_ms(),
            immediate: case.received.immediate,
            granted: case.granted,
            rating: case.rating.as_ref().map(|r| i64::from(r.score)),
            follow_up_due: date(case.follow_up_due(&cal)),
            post_check_due: date(case.post_check_due(&cal)),
            trust: case.trust_status().map(|t| t.as_str().to_owned()),
            case,
        }
    }
}

impl Node {
    /// A case as stored here, read outside the writer.
    async fn stored_case(&self, number: &str) -> Result<Case, Error> {
        Ok(*self
            .store
            .case(number)
            .await?
            .ok_or_else(|| case_not_found(number))?
            .case)
    }
}

pub(crate) fn case_not_found(number: &str) -> Error {
    Error::keyed(
        crate::error::ErrorKind::NotFound,
        "case_not_found",
        "err.case_not_found.last4",
        &[("number", &number)],
    )
}
