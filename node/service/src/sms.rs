//! Text messages to applicants. When a case is completed at its window
//! hall (handed out, or completed at once: an immediate or trust-first
//! result) and the applicant gave a phone number, the hall queues one SMS
//! with the case's rating code ([`Node::sms_code`]) in the transaction
//! that completes it. The node's sender task (no HTTP here) reads the due
//! messages and reports each delivery or failure; a failure is retried
//! after a wait that doubles from `[sms] retry_min_ms` up to
//! `retry_max_ms`, until `max_attempts`.

use onewindow_domain::case::{Case, State};
use onewindow_store::{SMS_LIST_MAX, SmsRow, WriteTx};
use serde::Serialize;

use crate::Node;
use crate::error::Error;

/// A message of the outbox, as staff see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SmsMessage {
    /// The message's id.
    pub id: String,
    /// The case it is about.
    pub case_number: String,
    /// The phone it goes to.
    pub phone: String,
    /// Its text.
    pub text: String,
    /// Queued (ms since the epoch).
    pub created_at_ms: i64,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The next attempt (ms); none once sent or given up.
    pub next_attempt_ms: Option<i64>,
    /// When the gateway took it (ms).
    pub sent_at_ms: Option<i64>,
    /// The last failed attempt's error.
    pub last_error: Option<String>,
    /// `queued`, `sent` or `given_up`.
    pub status: &'static str,
}

impl From<SmsRow> for SmsMessage {
    fn from(r: SmsRow) -> Self {
        let status = match (r.sent_at_ms, r.next_attempt_ms) {
            (Some(_), _) => "sent",
            (None, Some(_)) => "queued",
            (None, None) => "given_up",
        };
        Self {
            id: r.id,
            case_number: r.case_id,
            phone: r.phone,
            text: r.body,
            created_at_ms: r.created_at_ms,
            attempts: r.attempts,
            next_attempt_ms: r.next_attempt_ms,
            sent_at_ms: r.sent_at_ms,
            last_error: r.last_error,
            status,
        }
    }
}

/// The longest error text kept.
const MAX_ERROR: usize = 500;

impl Node {
    /// Queues the completion SMS in `w` when `case` has just become
    /// completed (it was `before`) and its applicant gave a phone number.
    pub(crate) async fn queue_completion_sms(
        &self,
        w: &mut WriteTx<'_>,
        before: Option<State>,
        case: &Case,
        at_ms: i64,
    ) -> Result<(), Error> {
        // A reopened case rated before has nothing left to rate.
        if case.state != State::Completed
            || before == Some(State::Completed)
            || case.rating.is_some()
        {
            return Ok(());
        }
        let Some(phone) = case
            .received
            .applicant
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        else {
            return Ok(());
        };
        let number = case.id.clone();
        let text = format!(
            "【{}】您的办件{number}已办结。评价码{}，请在{}/rate 输入办件编号和评价码进行评价。",
            self.config.node.hall_name_zh,
            self.sms_code(&number),
            self.public_url()
        );
        let row = SmsRow {
            id: format!("{number}-{}", case.version),
            case_id: number,
            phone: phone.to_owned(),
            body: text,
            created_at_ms: at_ms,
            attempts: 0,
            next_attempt_ms: Some(at_ms),
            sent_at_ms: None,
            last_error: None,
        };
        w.queue_sms(&row).await?;
        Ok(())
    }

    /// The messages due now, oldest first.
    pub async fn due_sms(&self) -> Result<Vec<SmsRow>, Error> {
        Ok(self.store.due_sms(self.now_ms(), SMS_LIST_MAX).await?)
    }

    /// Records that the gateway took a message.
    pub async fn sms_delivered(&self, id: &str) -> Result<(), Error> {
        Ok(self.store.sms_sent(id, self.now_ms()).await?)
    }

    /// Records a failed delivery of `m`: the error, and the next attempt
    /// after the doubling wait (none after the last allowed attempt).
    pub async fn sms_failed(&self, m: &SmsRow, error: &str) -> Result<(), Error> {
        let c = &self.config.sms;
        let attempts = u32::try_from(m.attempts.max(0)).unwrap_or(u32::MAX) + 1;
        let next = (attempts < c.max_attempts).then(|| {
            let wait = c
                .retry_min_ms
                .saturating_mul(1u64 << (attempts - 1).min(40))
                .min(c.retry_max_ms);
            self.now_ms()
                .saturating_add(i64::try_from(wait).unwrap_or(i64::MAX))
        });
        let error: String = error.chars().take(MAX_ERROR).collect();
        Ok(self.store.sms_failed(&m.id, &error, next).await?)
    }

    /// The outbox, newest first.
    pub async fn sms_outbox(&self) -> Result<Vec<SmsMessage>, Error> {
        Ok(self
            .store
            .sms_outbox(SMS_LIST_MAX)
            .await?
            .into_iter()
            .map(SmsMessage::from)
            .collect())
    }
}
