//! What the API returns about cases: outcome documents, staff views and the
//! public progress answer. The same [`Document`] data is rendered as a
//! printable page by `crate::docs`.

use serde::Serialize;

use super::Node;
use onewindow_domain::case::{Case, Clocks, State};
use onewindow_domain::catalogue::Catalogue;
use onewindow_i18n::{Arg, Text, text, text_args};
use onewindow_store::CaseRow;

/// Which standard document an outcome is.
pub use onewindow_domain::document::DocKind as DocumentKind;

/// The document an acceptance decision issues, by the state it led to.
pub fn acceptance_kind(state: State) -> DocumentKind {
    match state {
        State::Correction => DocumentKind::CorrectionNotice,
        State::Rejected => DocumentKind::NonAcceptance,
        State::Completed => DocumentKind::Completion,
        _ => DocumentKind::Receipt,
    }
}

/// A document kind's title in both languages (`doc.title.<kind>`).
pub fn kind_title(kind: DocumentKind) -> Text {
    text(&format!("doc.title.{}", kind.as_str()), &[])
}

/// One line of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DocLine {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

/// A standard outcome document, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Document {
    /// Which document.
    pub kind: DocumentKind,
    /// Title (Chinese).
    pub title_zh: String,
    /// Title (English).
    pub title_en: String,
    /// Case number.
    pub case_number: String,
    /// Issuing hall (Chinese).
    pub hall_zh: String,
    /// Issuing hall (English).
    pub hall_en: String,
    /// Matter code.
    pub matter_code: String,
    /// Matter name (Chinese).
    pub matter_zh: String,
    /// Matter name (English).
    pub matter_en: String,
    /// Applicant's name.
    pub applicant_name: String,
    /// Applicant's identifier, masked but for the first 6 and last 4.
    pub applicant_id_masked: String,
    /// Issue date, `YYYY-MM-DD`.
    pub issued_on: String,
    /// Problems (correction), deferred materials (receipt) or the reason.
    pub lines: Vec<DocLine>,
    /// Committed due date (receipt).
    pub committed_due: Option<String>,
    /// Statutory due date (receipt).
    pub statutory_due: Option<String>,
    /// The case waits for transfer to a higher tier.
    pub awaiting_transfer: bool,
    /// Closing text: rights of appeal, what to do next.
    pub notes: Vec<DocLine>,
    /// The hall's address, if configured.
    pub hall_address: String,
    /// The hall's telephone, if configured.
    pub hall_phone: String,
    /// The hall's opening hours (`[node] opening_hours`).
    #[serde(default)]
    pub hall_hours: String,
    /// The issuing hall's public address, the base of the QR code's link.
    #[serde(default)]
    pub verify_base: String,
    /// The case's rating link (its second QR code) on a receipt or a
    /// completion notice, issued by the window that serves the case; empty
    /// on other documents and on those issued before it was printed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rate_url: String,
    /// The opening sentence, where the kind alone does not say it (a
    /// result: granted or refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<DocLine>,
}

impl Document {
    /// What is shown of a document whose content is withheld here (its
    /// record proves it through its hash).
    pub fn withheld(kind: DocumentKind, case_number: &str) -> Self {
        let title = kind_title(kind);
        Self {
            kind,
            title_zh: title.zh,
            title_en: title.en,
            case_number: case_number.to_owned(),
            hall_zh: String::new(),
            hall_en: String::new(),
            matter_code: String::new(),
            matter_zh: String::new(),
            matter_en: String::new(),
            applicant_name: String::new(),
            applicant_id_masked: String::new(),
            issued_on: String::new(),
            lines: Vec::new(),
            committed_due: None,
            statutory_due: None,
            awaiting_transfer: false,
            notes: Vec::new(),
            hall_address: String::new(),
            hall_phone: String::new(),
            hall_hours: String::new(),
            verify_base: String::new(),
            rate_url: String::new(),
            intro: None,
        }
    }
}

/// The result of a submission: exactly one document.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Outcome {
    /// Case number.
    pub case_number: String,
    /// Which document was issued.
    pub outcome: DocumentKind,
    /// The document as data.
    pub document: Document,
    /// Where the printable page is.
    pub document_url: String,
    /// The case.
    pub case: CaseView,
}

/// A case for staff.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CaseView {
    /// Case number.
    pub number: String,
    /// State.
    pub state: State,
    /// Suspended.
    pub suspended: bool,
    /// Warning level.
    pub warning: String,
    /// Statutory due date.
    pub statutory_due: Option<String>,
    /// Committed due date.
    pub committed_due: Option<String>,
    /// Current stage's due date.
    pub stage_due: Option<String>,
    /// Deadline details.
    pub clocks: Option<Clocks>,
    /// The whole case.
    pub case: Case,
}

/// The public progress answer.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// Case number.
    pub case_number: String,
    /// Matter name (Chinese).
    pub matter_zh: String,
    /// Matter name (English).
    pub matter_en: String,
    /// State.
    pub state: State,
    /// State label (Chinese).
    pub state_zh: String,
    /// The clock is stopped for a special procedure.
    pub suspended: bool,
    /// Committed due date.
    pub due: Option<String>,
    /// What the applicant should bring or do next.
    pub next_steps: Vec<DocLine>,
    /// A result issued on the applicant's pledge: `pending` while its
    /// post-check is open, then `passed` or `revoked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<onewindow_domain::case::TrustStatus>,
    /// The case is closed and may be rated (once, from any channel).
    #[serde(default)]
    pub may_rate: bool,
    /// The case is rated.
    #[serde(default)]
    pub rated: bool,
}

/// An ID number as documents and case files show it: the first six and the
/// last four characters, the birth date and the rest starred out.
pub fn masked_id(id: &str) -> String {
    let n = id.chars().count();
    id.chars()
        .enumerate()
        .map(|(i, c)| if i < 6 || i + 4 >= n { c } else { '*' })
        .collect()
}

fn line(t: Text) -> DocLine {
    DocLine { zh: t.zh, en: t.en }
}

/// A document's sentence from the phrase table, without slots.
fn say(key: &str) -> DocLine {
    line(text(key, &[]))
}

impl Node {
    /// The day by which something asked of the applicant on the day of
    /// `at_ms` is due: the matter's correction limit, with the holiday
    /// calendar (none if the matter or the calendar cannot say).
    fn correction_due(
        &self,
        matter: &str,
        at_ms: i64,
    ) -> Option<(chrono::NaiveDate, onewindow_domain::catalogue::Limit)> {
        let cat = self.catalogue();
        let limit = cat.matter(matter)?.correction_limit;
        let from = onewindow_domain::case::china_date(at_ms);
        let by =
            onewindow_domain::deadline::due(from, limit.n, limit.unit, &self.calendar(), &[], 0);
        Some((by.date?, limit))
    }

    /// A case as the API and the pages show it to staff.
    pub fn case_view(&self, row: &CaseRow) -> CaseView {
        CaseView {
            number: row.id.clone(),
            state: row.case.state,
            suspended: row.suspended,
            warning: row.warning.clone(),
            statutory_due: row.statutory_due.clone(),
            committed_due: row.committed_due.clone(),
            stage_due: row.stage_due.clone(),
            clocks: row.case.clocks(&self.calendar()),
            case: Case::clone(&row.case),
        }
    }

    /// A line for each material presented by data: the earlier result
    /// that stands in for it (由数据核验).
    fn by_data_notes(&self, c: &Case, notes: &mut Vec<DocLine>) {
        for p in &c.materials {
            if let Some(reference) = &p.by_data {
                let (zh, en) = material_names(&self.catalogue(), c, &p.code);
                notes.push(line(text_args(
                    "doc.note.by_data",
                    &[
                        ("material", Arg::Each(&zh, &en)),
                        ("reference", Arg::Plain(reference)),
                    ],
                )));
            }
        }
    }

    /// The outcome document of a case's latest acceptance decision, as it
    /// would be issued now (for cases from before documents were records).
    pub fn document(&self, row: &CaseRow) -> Document {
        self.document_of(row, acceptance_kind(row.case.state))
    }

    /// The content of a document of `kind` for a case as `row` shows it,
    /// issued by this hall.
    pub fn document_of(&self, row: &CaseRow, kind: DocumentKind) -> Document {
        let c = &row.case;
        let material_name = |code: &str| material_names(&self.catalogue(), c, code);
        let mut lines = Vec::new();
        let mut notes = Vec::new();
        let mut title = kind_title(kind);
        let mut intro = None;
        match kind {
            DocumentKind::Result => {
                let granted = c.granted.unwrap_or(false);
                let which = if granted { "granted" } else { "refused" };
                title = text(&format!("doc.title.result_{which}"), &[]);
                intro = Some(say(&format!("doc.intro.result_{which}")));
                if let Some(r) = c.result.as_deref().filter(|r| !r.trim().is_empty()) {
                    lines.push(line(text_args(
                        "doc.line.result",
                        &[("result", Arg::Plain(&r))],
                    )));
                }
                if let Some(o) = c.outcome_text.as_deref().filter(|o| !o.trim().is_empty()) {
                    lines.push(line(text_args(
                        "doc.line.decision_reason",
                        &[("reason", Arg::Plain(&o))],
                    )));
                }
                let window = c.window();
                let (zh, en) = (self.hall_name(window, false), self.hall_name(window, true));
                notes.push(line(text_args(
                    "doc.note.collect_at",
                    &[("hall", Arg::Each(&zh, &en))],
                )));
                if !granted {
                    self.appeal_note(&mut notes);
                }
            }
            DocumentKind::CorrectionNotice => {
                for i in &c.correction {
                    lines.push(line(i.describe()));
                }
                // The deadline, in the matter's correction limit from the
                // day of the notice.
                if let Some((by, limit)) =
                    self.correction_due(&c.received.matter_code, row.updated_at_ms)
                {
                    let unit = match limit.unit {
                        onewindow_domain::deadline::TimeUnit::WorkingDays => "unit.working_days",
                        onewindow_domain::deadline::TimeUnit::CalendarDays => "unit.calendar_days",
                    };
                    notes.push(line(text_args(
                        "doc.note.correction_by",
                        &[
                            ("date", Arg::Plain(&by.format("%Y-%m-%d"))),
                            ("n", Arg::Plain(&limit.n)),
                            ("unit", Arg::Phrase(unit)),
                        ],
                    )));
                }
                // What the window has already received.
                for p in &c.received.materials {
                    let (zh, en) = material_name(&p.code);
                    notes.push(line(text_args(
                        "doc.note.received_material",
                        &[
                            ("material", Arg::Each(&zh, &en)),
                            ("originals", Arg::Plain(&p.originals)),
                            ("copies", Arg::Plain(&p.copies)),
                        ],
                    )));
                }
                notes.push(say("doc.note.correction"));
            }
            DocumentKind::NonAcceptance => {
                if let Some(r) = &c.rejection_reason {
                    lines.push(DocLine {
                        zh: r.clone(),
                        en: r.clone(),
                    });
                }
                self.appeal_note(&mut notes);
            }
            DocumentKind::Completion => {
                self.by_data_notes(c, &mut notes);
                notes.push(say("doc.note.completion"));
                // Issued on a pledge: when it is checked, and what a failed
                // check does.
                if let Some(by) = c.post_check_due(&self.calendar()) {
                    notes.push(line(text_args(
                        "doc.note.trust_issued",
                        &[("date", Arg::Plain(&by.format("%Y-%m-%d")))],
                    )));
                }
            }
            DocumentKind::Revocation => {
                intro = Some(say("doc.intro.revocation"));
                if let Some(r) = c.result.as_deref().filter(|r| !r.trim().is_empty()) {
                    lines.push(line(text_args(
                        "doc.line.revoked_result",
                        &[("result", Arg::Plain(&r))],
                    )));
                }
                if let Some(check) = c.trust.as_ref().and_then(|t| t.check.as_ref()) {
                    lines.push(line(text_args(
                        "doc.line.revocation_reason",
                        &[("reason", Arg::Plain(&check.text))],
                    )));
                }
                self.appeal_note(&mut notes);
            }
            DocumentKind::Receipt => {
                self.by_data_notes(c, &mut notes);
                // A deferred material is due within the matter's correction
                // limit from the day of acceptance.
                let deferred_by = self
                    .correction_due(&c.received.matter_code, row.updated_at_ms)
                    .map(|(by, _)| by.format("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                for d in &c.deferred {
                    let (zh, en) = material_name(d);
                    lines.push(line(text_args(
                        "doc.line.deferred",
                        &[
                            ("material", Arg::Each(&zh, &en)),
                            ("date", Arg::Plain(&deferred_by)),
                        ],
                    )));
                }
                let elsewhere = c
                    .holder
                    .as_deref()
                    .filter(|h| *h != c.received.accepting_node);
                // The hall by its names (the citizen reads them), its node
                // id only where no name is known here.
                let named = |h: &str| (self.hall_name(h, false), self.hall_name(h, true));
                match elsewhere {
                    Some(h) if !self.uplink_up() => {
                        let (zh, en) = named(h);
                        notes.push(line(text_args(
                            "doc.note.transfer_queued",
                            &[("hall", Arg::Each(&zh, &en))],
                        )));
                    }
                    Some(h) => {
                        let (zh, en) = named(h);
                        notes.push(line(text_args(
                            "doc.note.transferred",
                            &[("hall", Arg::Each(&zh, &en))],
                        )));
                    }
                    None => notes.push(say("doc.note.collect_here")),
                }
            }
        }
        // Every document says how to follow the case.
        notes.push(say("doc.note.progress"));
        let issued = onewindow_domain::case::china_date(row.updated_at_ms);
        let closes = matches!(kind, DocumentKind::Result | DocumentKind::Revocation);
        Document {
            kind,
            title_zh: title.zh,
            title_en: title.en,
            case_number: row.id.clone(),
            hall_zh: self.config.node.hall_name_zh.clone(),
            hall_en: self.config.node.hall_name_en.clone(),
            matter_code: c.received.matter_code.clone(),
            matter_zh: c.received.matter_name_zh.clone(),
            matter_en: c.received.matter_name_en.clone(),
            applicant_name: c.received.applicant.name.clone(),
            applicant_id_masked: masked_id(&c.received.applicant.id_number),
            issued_on: issued.format("%Y-%m-%d").to_string(),
            lines,
            // A result (or its revocation) closes the time limits a
            // receipt announced.
            committed_due: row.committed_due.clone().filter(|_| !closes),
            statutory_due: row.statutory_due.clone().filter(|_| !closes),
            awaiting_transfer: kind == DocumentKind::Receipt
                && c.holder.as_deref() != Some(c.received.accepting_node.as_str())
                && !self.uplink_up(),
            notes,
            hall_address: self.config.node.hall_address.clone(),
            hall_phone: self.config.node.hall_phone.clone(),
            hall_hours: self.config.node.opening_hours.clone(),
            verify_base: String::new(),
            rate_url: String::new(),
            intro,
        }
    }

    /// Where a decision may be appealed: the bodies of this hall's
    /// configuration, or the time limits alone when they are not set.
    fn appeal_note(&self, notes: &mut Vec<DocLine>) {
        let n = &self.config.node;
        if n.reconsideration_zh.is_empty() || n.litigation_zh.is_empty() {
            notes.push(say("doc.note.non_acceptance"));
        } else {
            notes.push(line(text_args(
                "doc.note.non_acceptance_to",
                &[
                    (
                        "reconsideration",
                        Arg::Each(&n.reconsideration_zh, &n.reconsideration_en),
                    ),
                    ("court", Arg::Each(&n.litigation_zh, &n.litigation_en)),
                ],
            )));
        }
    }

    /// What the window tells the applicant after an acceptance decision.
    pub async fn outcome(&self, row: &CaseRow) -> Result<Outcome, crate::error::Error> {
        // The document as issued: the last answer to an acceptance
        // decision in the case's record; for a case from before documents
        // were records, the document as it would be issued now.
        let document = self
            .issued_documents(&row.id)
            .await?
            .into_iter()
            .rev()
            .find(|d| d.document.kind.is_acceptance())
            .map_or_else(|| self.document(row), |d| d.document);
        Ok(self.outcome_with(row, document))
    }

    /// The outcome of an acceptance decision with its document.
    pub fn outcome_with(&self, row: &CaseRow, document: Document) -> Outcome {
        Outcome {
            case_number: row.id.clone(),
            outcome: document.kind,
            document_url: format!("/api/v1/cases/{}/document", row.id),
            document,
            case: self.case_view(row),
        }
    }

    /// A case as the public progress query shows it.
    pub fn progress_view(&self, row: &CaseRow) -> Progress {
        let c = &row.case;
        let mut next = Vec::new();
        match c.state {
            State::Correction => {
                for i in &c.correction {
                    next.push(line(i.describe()));
                }
            }
            State::ResultReady => next.push(say("doc.progress.result_ready")),
            State::Accepted | State::Handling | State::Review | State::Approval => {
                let cat = self.catalogue();
                for d in &c.deferred {
                    let (zh, en) = material_names(&cat, c, d);
                    next.push(line(text_args(
                        "doc.progress.bring",
                        &[("material", Arg::Each(&zh, &en))],
                    )));
                }
            }
            State::Completed => {
                if let Some(t) = &c.trust {
                    match (&t.check, c.post_check_due(&self.calendar())) {
                        (Some(check), _) if !check.passed => {
                            let window = c.window();
                            let (zh, en) =
                                (self.hall_name(window, false), self.hall_name(window, true));
                            next.push(line(text_args(
                                "doc.progress.revoked",
                                &[
                                    (
                                        "date",
                                        Arg::Plain(
                                            &onewindow_domain::case::china_date(check.at_ms)
                                                .format("%Y-%m-%d"),
                                        ),
                                    ),
                                    ("hall", Arg::Each(&zh, &en)),
                                ],
                            )));
                        }
                        (Some(_), _) => next.push(say("doc.progress.post_check_passed")),
                        (None, Some(by)) => next.push(line(text_args(
                            "doc.progress.post_check",
                            &[("date", Arg::Plain(&by.format("%Y-%m-%d")))],
                        ))),
                        (None, None) => {}
                    }
                }
            }
            _ => {}
        }
        Progress {
            case_number: row.id.clone(),
            matter_zh: c.received.matter_name_zh.clone(),
            matter_en: c.received.matter_name_en.clone(),
            state: c.state,
            state_zh: c.state.label_zh().to_owned(),
            suspended: row.suspended,
            due: row.committed_due.clone(),
            next_steps: next,
            trust: c.trust_status(),
            may_rate: c.rating.is_none() && matches!(c.state, State::Completed | State::Rejected),
            rated: c.rating.is_some(),
        }
    }
}

/// The names of a material of a case's matter (its code if the catalogue no
/// longer lists it).
fn material_names(cat: &Catalogue, c: &Case, code: &str) -> (String, String) {
    cat.matter(&c.received.matter_code)
        .and_then(|m| m.materials.iter().find(|x| x.code == code))
        .map_or_else(
            || (code.to_owned(), code.to_owned()),
            |m| (m.name_zh.clone(), m.name_en.clone()),
        )
}
