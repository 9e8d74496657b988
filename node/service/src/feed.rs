//! Department systems (a department's own back office: public security,
//! social insurance, market regulation) joined to the hall.
//!
//! An administrator issues a credential for one department at this node
//! ([`Node::issue_feed_credential`]): a bearer token `ows1.<name>.<secret>`
//! shown once, of which the store keeps only the SHA-256. With it the
//! system reads the feed ([`Node::feed_page`]): the events of the cases of
//! its department's matters that this node holds, in the node's local
//! order, each with an id that never changes (its origin and origin
//! sequence) and the case's state after it. A page ends with a cursor to
//! resume from; resuming from an older cursor gives the same events again
//! with the same ids (at least once). The system posts its staff's actions
//! as the department's approver ([`Node::system_act`]), through
//! [`Node::act`], recorded as `system:<name>`.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Node;
use crate::cases::Action;
use crate::error::{Error, ErrorKind};
use crate::views::CaseView;
use onewindow_domain::case::{Actor, Case, Event, EventRecord, Role, State};
use onewindow_domain::case_number::CaseNumber;
use onewindow_store::{CredentialRow, StoredEvent};

/// The prefix of a department system's token (a staff session's token is
/// hex only, so the two never mix).
const TOKEN_PREFIX: &str = "ows1.";
/// The prefix of a feed cursor.
const CURSOR_PREFIX: &str = "f1.";
/// The longest credential name.
pub const NAME_MAX: usize = 40;

/// A credential as administrators see it (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedCredential {
    /// Its name.
    pub name: String,
    /// The department whose cases it reads and acts on.
    pub department: String,
    /// The node that issued it (the only one it works at).
    pub node: String,
    /// Issued (ms).
    pub created_at_ms: i64,
    /// The administrator who issued it.
    pub created_by: String,
    /// Revoked (ms); none while it is good.
    pub revoked_at_ms: Option<i64>,
}

impl From<CredentialRow> for FeedCredential {
    fn from(r: CredentialRow) -> Self {
        Self {
            name: r.name,
            department: r.department,
            node: r.node,
            created_at_ms: r.created_at_ms,
            created_by: r.created_by,
            revoked_at_ms: r.revoked_at_ms,
        }
    }
}

/// A credential just issued, with its token (shown this once).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssuedCredential {
    /// The credential.
    #[serde(flatten)]
    pub credential: FeedCredential,
    /// The bearer token: `Authorization: Bearer <token>`. Not kept here;
    /// it cannot be shown again.
    pub token: String,
}

/// One event of the feed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedItem {
    /// The event's id, the same every time it is read:
    /// `<origin>/<origin sequence>` (the hall that wrote it and its place
    /// in that hall's log).
    pub id: String,
    /// A cursor just after this event.
    pub cursor: String,
    /// The case number.
    pub case_number: String,
    /// The case's version that this event made.
    pub case_version: u64,
    /// The case's matter.
    pub matter_code: String,
    /// The event's kind (`received`, `decided`, ...).
    pub kind: String,
    /// When it was written (ms since the epoch).
    pub at_ms: i64,
    /// The hall that wrote it.
    pub hall: String,
    /// The hall that serves the case (where its result is handed out).
    pub window: String,
    /// The case's state after the event (none when its history held here
    /// does not fold).
    pub state: Option<State>,
    /// The case's clock is stopped after the event.
    pub suspended: bool,
    /// Who wrote it.
    pub actor: Actor,
    /// The event's fields; personal data only as this node holds it.
    pub event: Event,
}

/// A page of the feed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedPage {
    /// The events, in the node's local order.
    pub items: Vec<FeedItem>,
    /// Where to resume: the last item's cursor, or the cursor asked from
    /// when the page is empty.
    pub next: String,
    /// The page was full: more may follow at once.
    pub more: bool,
}

/// A case as it stood after one of its events.
#[derive(Debug, Clone)]
struct After {
    state: State,
    suspended: bool,
    matter: String,
    window: String,
}

/// A department system, as its token names it.
#[derive(Debug, Clone)]
pub struct SystemCaller {
    /// The credential's name.
    pub name: String,
    /// Its department.
    pub department: String,
}

impl SystemCaller {
    /// The username its actions are recorded under.
    pub fn username(&self) -> String {
        format!("system:{}", self.name)
    }
}

/// Is `name` a credential name: 1 to [`NAME_MAX`] of `a-z 0-9 -`?
fn good_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Node {
    /// Issues a credential for `department` at this node (administrator).
    pub async fn issue_feed_credential(
        &self,
        name: &str,
        department: &str,
        by: &str,
    ) -> Result<IssuedCredential, Error> {
        let name = name.trim();
        if !good_name(name) {
            return Err(
                Error::bad_request("bad_credential_name", &[("max", &NAME_MAX)]).on_field("name"),
            );
        }
        let department = department.trim();
        if !self.catalogue().departments.contains_key(department) {
            return Err(
                Error::bad_request("unknown_department", &[("code", &department)])
                    .on_field("department"),
            );
        }
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = format!("{TOKEN_PREFIX}{name}.{}", hex::encode(raw));
        let row = CredentialRow {
            name: name.to_owned(),
            department: department.to_owned(),
            node: self.id.to_string(),
            secret_hash: crate::auth::token_hash(&token),
            created_at_ms: self.now_ms(),
            created_by: by.to_owned(),
            revoked_at_ms: None,
        };
        let mut w = self.store.write().await?;
        if !w.add_feed_credential(&row).await? {
            return Err(Error::new(
                ErrorKind::Conflict,
                "credential_exists",
                &[("name", &name)],
            ));
        }
        w.commit().await?;
        self.audit(
            "feed_credential_issued",
            by,
            Role::Admin,
            name,
            &format!("department {department}"),
        )
        .await;
        Ok(IssuedCredential {
            credential: row.into(),
            token,
        })
    }

    /// Every credential issued here.
    pub async fn feed_credentials(&self) -> Result<Vec<FeedCredential>, Error> {
        Ok(self
            .store
            .feed_credentials()
            .await?
            .into_iter()
            .map(FeedCredential::from)
            .collect())
    }

    /// Revokes a credential: from now on its token is refused and its
    /// webhooks stop.
    pub async fn revoke_feed_credential(&self, name: &str, by: &str) -> Result<(), Error> {
        let mut w = self.store.write().await?;
        let revoked = w.revoke_feed_credential(name, self.now_ms()).await?;
        w.commit().await?;
        if !revoked {
            let known = self.store.feed_credential(name).await?.is_some();
            return Err(if known {
                Error::new(ErrorKind::Conflict, "credential_revoked", &[])
            } else {
                Error::not_found("unknown_credential", &[])
            });
        }
        self.audit("feed_credential_revoked", by, Role::Admin, name, "")
            .await;
        Ok(())
    }

    /// The department system behind a bearer token: unknown tokens (a
    /// staff session's among them) are `unknown_credential`, revoked ones
    /// `credential_revoked`.
    pub async fn system_caller(&self, token: &str) -> Result<SystemCaller, Error> {
        let unknown = || Error::new(ErrorKind::Unauthenticated, "unknown_credential", &[]);
        let name = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.rsplit_once('.'))
            .map(|(name, _)| name)
            .filter(|n| good_name(n))
            .ok_or_else(unknown)?;
        let row = self
            .store
            .feed_credential(name)
            .await?
            .filter(|r| {
                r.secret_hash == crate::auth::token_hash(token) && r.node == self.id.as_str()
            })
            .ok_or_else(unknown)?;
        if row.revoked_at_ms.is_some() {
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                "credential_revoked",
                &[],
            ));
        }
        Ok(SystemCaller {
            name: row.name,
            department: row.department,
        })
    }

    /// The cursor just after local sequence `seq`: the sequence and a
    /// check that ties it to this node, so that a cursor of another node
    /// or one mistyped is refused rather than read from the wrong place.
    pub fn feed_cursor(&self, seq: i64) -> String {
        let check = Sha256::digest(format!("onewindow feed {} {seq}", self.id).as_bytes());
        format!("{CURSOR_PREFIX}{seq}.{}", hex::encode(&check[..4]))
    }

    /// The local sequence a cursor stands after (`None` or empty: the
    /// start of the log).
    pub fn feed_position(&self, cursor: Option<&str>) -> Result<i64, Error> {
        let cursor = cursor.map(str::trim).unwrap_or_default();
        if cursor.is_empty() {
            return Ok(0);
        }
        let bad = || Error::bad_request("bad_feed_cursor", &[]);
        let seq = cursor
            .strip_prefix(CURSOR_PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(seq, _)| seq.parse::<i64>().ok())
            .filter(|s| *s >= 0)
            .ok_or_else(bad)?;
        if self.feed_cursor(seq) != cursor {
            return Err(bad());
        }
        Ok(seq)
    }

    /// The page size a request asks for, within `[feed] page_max`.
    pub fn feed_limit(&self, limit: Option<i64>) -> Result<i64, Error> {
        let max = i64::from(self.config.feed.page_max);
        match limit {
            None => Ok(i64::from(self.config.feed.page_default)),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(_) => Err(Error::bad_request(
                "feed_limit_out_of_range",
                &[("max", &max)],
            )),
        }
    }

    /// A page of `department`'s feed after local sequence `after`.
    pub async fn department_feed(
        &self,
        department: &str,
        after: i64,
        limit: i64,
    ) -> Result<(Vec<FeedItem>, i64), Error> {
        let events = self
            .store
            .department_events(department, after, limit)
            .await?;
        let last = events.last().map_or(after, |e| e.local_seq);
        let mut states = std::collections::HashMap::new();
        let mut items = Vec::with_capacity(events.len());
        for e in &events {
            let Some(rec) = e.record() else { continue };
            if !states.contains_key(&rec.case_id) {
                let folded = self.states_after(&rec.case_id).await?;
                states.insert(rec.case_id.clone(), folded);
            }
            let after_it = states
                .get(&rec.case_id)
                .and_then(|s| s.get(&rec.case_version));
            items.push(self.feed_item(e, rec, after_it));
        }
        Ok((items, last))
    }

    /// The feed as a department system reads it.
    pub async fn feed_page(
        &self,
        caller: &SystemCaller,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> Result<FeedPage, Error> {
        let from = self.feed_position(after)?;
        let limit = self.feed_limit(limit)?;
        let (items, last) = self
            .department_feed(&caller.department, from, limit)
            .await?;
        let more = i64::try_from(items.len()).unwrap_or(i64::MAX) >= limit;
        Ok(FeedPage {
            next: self.feed_cursor(last),
            more,
            items,
        })
    }

    fn feed_item(&self, e: &StoredEvent, rec: &EventRecord, after_it: Option<&After>) -> FeedItem {
        FeedItem {
            id: format!("{}/{}", e.entry.origin, e.entry.origin_seq),
            cursor: self.feed_cursor(e.local_seq),
            case_number: rec.case_id.clone(),
            case_version: rec.case_version,
            matter_code: after_it.map(|a| a.matter.clone()).unwrap_or_default(),
            kind: rec.event.kind().to_owned(),
            at_ms: rec.at_ms,
            hall: e.entry.origin.to_string(),
            window: after_it.map(|a| a.window.clone()).unwrap_or_default(),
            state: after_it.map(|a| a.state),
            suspended: after_it.is_some_and(|a| a.suspended),
            actor: rec.actor.clone(),
            event: rec.event.clone(),
        }
    }

    /// The case's state, suspension, matter and window after each of its
    /// versions held here, folded from its events.
    async fn states_after(
        &self,
        case_id: &str,
    ) -> Result<std::collections::HashMap<u64, After>, Error> {
        let records: Vec<EventRecord> = self
            .store
            .case_events(case_id)
            .await?
            .into_iter()
            .filter_map(|e| e.record().cloned())
            .collect();
        let mut out = std::collections::HashMap::new();
        let mut case: Option<Case> = None;
        for r in &records {
            let next = match case.take() {
                None => Case::fold(std::iter::once(r)),
                Some(mut c) => c.catch_up(r).map(|()| c),
            };
            let Ok(c) = next else { break };
            out.insert(
                r.case_version,
                After {
                    state: c.state,
                    suspended: c.is_suspended(),
                    matter: c.received.matter_code.clone(),
                    window: c.window().to_owned(),
                },
            );
            case = Some(c);
        }
        Ok(out)
    }

    /// An action of a department system's staff, as its department's
    /// approver: refused (`feed_other_department`) on a case whose matter
    /// is neither the department's nor co-handled by it, and otherwise
    /// [`Node::act`] with every rule of the approver's pages.
    pub async fn system_act(
        &self,
        caller: &SystemCaller,
        number: &str,
        action: Action,
    ) -> Result<CaseView, Error> {
        let number = CaseNumber::parse(number)?.to_string();
        let row = self
            .store
            .case(&number)
            .await?
            .ok_or_else(|| crate::cases::case_not_found(&number))?;
        let r = &row.case.received;
        if r.department != caller.department && !r.co_departments.contains(&caller.department) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "feed_other_department",
                &[("department", &caller.department)],
            ));
        }
        self.act(
            &caller.username(),
            Role::Approver,
            Some(caller.department.clone()),
            &number,
            action,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::good_name;

    #[test]
    fn credential_names_are_checked() {
        for ok in ["social-insurance", "ga", "a1"] {
            assert!(good_name(ok), "{ok}");
        }
        for bad in ["", "Upper", "with.dot", "with space", &"x".repeat(41)] {
            assert!(!good_name(bad), "{bad}");
        }
    }
}
