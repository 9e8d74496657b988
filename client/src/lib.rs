//! A typed client of a node's HTTP API (`/api/v1`), used by the
//! administrator's command line, the deployment tool and the test suites.
//!
//! Every route the client calls is a [`Route`] in [`ROUTES`]; a test checks
//! each against the node's OpenAPI document. Answers are typed
//! ([`types`]) and keep the JSON they were read from ([`Answer`]), so a
//! caller can print the API's own JSON. A refusal is an [`ApiError`] with
//! the API's stable code and both messages.
//!
//! The types read only the fields their callers use, so the client keeps
//! working against a node that has added fields. They do not come from the
//! node's crate: a client does not compile the server.

mod error;
mod routes;
pub mod types;

pub use error::{ApiError, Error};
pub use reqwest::Method;
pub use routes::{ROUTES, Route};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::ops::Deref;
use std::time::Duration;

use reqwest::Url;
use types::{
    AuditAction, AuditReport, CalendarYear, CaseRecord, CaseView, Catalogue, Delivery,
    ExportedEntry, FeedCredential, FleetNode, Health, IssuedCredential, IssuedToken, LoginOutcome,
    NewCredential, NewStaff, NewSubscription, Outcome, Peers, PersonalData, Progress, Report,
    Staff, StaffChange, Submission, Subscription, VersionInfo, WarningRow,
};

/// A typed answer and the JSON it was read from.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// The answer, typed.
    pub value: T,
    /// The answer as the node sent it (`null` when it sent no body).
    pub json: Value,
}

impl<T> Deref for Answer<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A status and a body, as the node answered, for callers that look at
/// refusals themselves (tests of the API).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body, as text.
    pub text: String,
}

impl Reply {
    /// The body as JSON, `null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A client for one node; it carries a session once logged in.
#[derive(Debug, Clone)]
pub struct Client {
    base: Url,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client for the node at `base`, e.g. `http://127.0.0.1:8080` (a
    /// path prefix, as behind a reverse proxy, is kept).
    pub fn new(base: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Setup(e.to_string()))?;
        Self::with_http(http, base)
    }

    /// A client over an HTTP client of the caller's (pool size, cookies).
    pub fn with_http(http: reqwest::Client, base: &str) -> Result<Self, Error> {
        let url = Url::parse(base).map_err(|e| Error::BadUrl {
            url: base.to_owned(),
            reason: e.to_string(),
        })?;
        if url.cannot_be_a_base() || url.scheme() != "http" {
            return Err(Error::BadUrl {
                url: base.to_owned(),
                reason: "expected http://host:port (plain HTTP only)".to_owned(),
            });
        }
        Ok(Self {
            base: url,
            token: None,
            http,
        })
    }

    /// The node's base URL as given.
    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The bearer token, once logged in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The same client carrying this session token.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// The underlying HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The URL of a route with its `{parameters}` filled, each escaped as
    /// one path segment.
    pub fn url(&self, route: &Route, args: &[&str]) -> Url {
        let mut u = self.base.clone();
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty();
            let mut args = args.iter();
            for part in route.path.split('/').filter(|p| !p.is_empty()) {
                if part.starts_with('{') {
                    segs.push(args.next().copied().unwrap_or_default());
                } else {
                    segs.push(part);
                }
            }
        }
        u
    }

    /// Calls a route: a 2xx answer is read as `T`, anything else is an
    /// [`ApiError`].
    pub async fn call<T: DeserializeOwned>(
        &self,
        route: &Route,
        args: &[&str],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Answer<T>, Error> {
        self.call_with_query(route, args, &[], body).await
    }

    /// [`Client::call`] with query parameters (`name`, `value`), each
    /// escaped.
    pub async fn call_with_query<T: DeserializeOwned>(
        &self,
        route: &Route,
        args: &[&str],
        query: &[(&str, &str)],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Answer<T>, Error> {
        let mut url = self.url(route, args);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = self.authorised(self.http.request(route.method(), url.clone()));
        if let Some(b) = body {
            req = req.json(b);
        }
        let reply = self.send(req).await?;
        if !reply.is_success() {
            return Err(ApiError::from_answer(reply.status, &reply.text).into());
        }
        let json = if reply.text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&reply.text).map_err(|e| Error::Decode {
                url: url.to_string(),
                reason: e.to_string(),
            })?
        };
        let value = serde_json::from_value(json.clone()).map_err(|e| Error::Decode {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Answer { value, json })
    }

    /// A request to `path_and_query` under the base URL (e.g.
    /// `/api/v1/cases?state=accepted`), carrying the session; for callers
    /// that send what the typed calls do not (malformed bodies, other
    /// headers) or read refusals themselves, with [`Client::send`].
    pub fn request(&self, method: Method, path_and_query: &str) -> reqwest::RequestBuilder {
        self.authorised(
            self.http
                .request(method, format!("{}{path_and_query}", self.base())),
        )
    }

    /// Sends a request built with [`Client::request`]; any status is a reply.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<Reply, Error> {
        let res = req.send().await.map_err(|e| Error::Unreachable {
            base: self.base().to_owned(),
            reason: e.to_string(),
        })?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| Error::Unreachable {
            base: self.base().to_owned(),
            reason: format!("reading the answer: {e}"),
        })?;
        Ok(Reply { status, text })
    }

    fn authorised(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// `POST /api/v1/session`: logs in; the returned client carries the
    /// session.
    pub async fn login(&self, username: &str, password: &str) -> Result<Client, Error> {
        let out: Answer<LoginOutcome> = self
            .call(
                &routes::LOGIN,
                &[],
                Some(&types::Login { username, password }),
            )
            .await?;
        Ok(self.with_token(&out.value.token))
    }

    /// `DELETE /api/v1/session`: ends the session.
    pub async fn logout(&self) -> Result<(), Error> {
        self.call::<Value>(&routes::LOGOUT, &[], None::<&()>)
            .await
            .map(drop)
    }

    /// `GET /api/v1/session`: who is logged in.
    pub async fn whoami(&self) -> Result<Answer<Staff>, Error> {
        self.call(&routes::WHOAMI, &[], None::<&()>).await
    }

    /// `GET /api/v1/health`.
    pub async fn health(&self) -> Result<Answer<Health>, Error> {
        self.call(&routes::HEALTH, &[], None::<&()>).await
    }

    /// `GET /api/v1/catalogue`: the matters this node receives, with guides.
    pub async fn catalogue(&self) -> Result<Answer<Catalogue>, Error> {
        self.call(&routes::CATALOGUE, &[], None::<&()>).await
    }

    /// `GET /api/v1/peers`: the trees this node's tree peers with, as its
    /// root published their offers.
    pub async fn peers(&self) -> Result<Answer<Peers>, Error> {
        self.call(&routes::PEERS, &[], None::<&()>).await
    }

    /// `GET /api/v1/staff` (administrator).
    pub async fn staff(&self) -> Result<Answer<Vec<Staff>>, Error> {
        self.call(&routes::STAFF, &[], None::<&()>).await
    }

    /// `POST /api/v1/staff` (administrator).
    pub async fn create_staff(&self, new: &NewStaff<'_>) -> Result<Answer<Staff>, Error> {
        self.call(&routes::CREATE_STAFF, &[], Some(new)).await
    }

    /// `DELETE /api/v1/staff/{username}` (administrator).
    pub async fn deactivate_staff(&self, username: &str) -> Result<(), Error> {
        self.call::<Value>(&routes::DEACTIVATE_STAFF, &[username], None::<&()>)
            .await
            .map(drop)
    }

    /// `GET /api/v1/staff?hall=` (administrator, at the root): the accounts
    /// it keeps for a hall below (`*` for every hall below).
    pub async fn staff_of(&self, hall: &str) -> Result<Answer<Vec<Staff>>, Error> {
        self.call_with_query(&routes::STAFF, &[], &[("hall", hall)], None::<&()>)
            .await
    }

    /// `GET /api/v1/admin/feed/credentials` (administrator).
    pub async fn feed_credentials(&self) -> Result<Answer<Vec<FeedCredential>>, Error> {
        self.call(&routes::FEED_CREDENTIALS, &[], None::<&()>).await
    }

    /// `POST /api/v1/admin/feed/credentials` (administrator): the token
    /// is in the answer, once.
    pub async fn issue_feed_credential(
        &self,
        new: &NewCredential<'_>,
    ) -> Result<Answer<IssuedCredential>, Error> {
        self.call(&routes::ISSUE_FEED_CREDENTIAL, &[], Some(new))
            .await
    }

    /// `POST /api/v1/admin/feed/credentials/{name}/revoke` (administrator).
    pub async fn revoke_feed_credential(&self, name: &str) -> Result<(), Error> {
        self.call::<Value>(
            &routes::REVOKE_FEED_CREDENTIAL,
            &[name],
            Some(&serde_json::json!({})),
        )
        .await
        .map(drop)
    }

    /// `GET /api/v1/admin/feed/subscriptions` (administrator).
    pub async fn webhooks(&self) -> Result<Answer<Vec<Subscription>>, Error> {
        self.call(&routes::WEBHOOKS, &[], None::<&()>).await
    }

    /// `POST /api/v1/admin/feed/subscriptions` (administrator): the
    /// signing secret is in the answer, once.
    pub async fn subscribe_webhook(
        &self,
        new: &NewSubscription<'_>,
    ) -> Result<Answer<Subscription>, Error> {
        self.call(&routes::SUBSCRIBE_WEBHOOK, &[], Some(new)).await
    }

    /// `POST /api/v1/admin/feed/subscriptions/{id}/end` (administrator).
    pub async fn end_webhook(&self, id: &str) -> Result<Answer<Subscription>, Error> {
        self.call(&routes::END_WEBHOOK, &[id], Some(&serde_json::json!({})))
            .await
    }

    /// `GET /api/v1/admin/feed/deliveries?status=` (administrator):
    /// `all`, `open` or `dead`.
    pub async fn deliveries(&self, status: &str) -> Result<Answer<Vec<Delivery>>, Error> {
        self.call_with_query(&routes::DELIVERIES, &[], &[("status", status)], None::<&()>)
            .await
    }

    /// `POST /api/v1/admin/feed/deliveries/{id}/replay` (administrator).
    pub async fn replay_delivery(&self, id: &str) -> Result<Answer<Delivery>, Error> {
        self.call(
            &routes::REPLAY_DELIVERY,
            &[id],
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// `GET /api/v1/admin/fleet` (administrator, supervisor): this node
    /// and its whole subtree.
    pub async fn fleet(&self) -> Result<Answer<Vec<FleetNode>>, Error> {
        self.call(&routes::FLEET, &[], None::<&()>).await
    }

    /// `PATCH /api/v1/staff/{username}` (administrator).
    pub async fn change_staff(
        &self,
        username: &str,
        change: &StaffChange<'_>,
    ) -> Result<Answer<Staff>, Error> {
        self.call(&routes::CHANGE_STAFF, &[username], Some(change))
            .await
    }

    /// `POST /api/v1/admin/enrolments` (administrator, at the node that
    /// holds the federation CA): a one-time enrolment token for a new node.
    pub async fn register_node(&self, node: &str) -> Result<Answer<IssuedToken>, Error> {
        self.call(
            &routes::REGISTER_NODE,
            &[],
            Some(&serde_json::json!({ "node": node })),
        )
        .await
    }

    /// `POST /api/v1/admin/nodes/{node}/revoke` (administrator, at the
    /// root): one certificate by serial, or every certificate of the node
    /// when `serial` is empty.
    pub async fn revoke_node(&self, node: &str, serial: &str) -> Result<(), Error> {
        self.call::<Value>(
            &routes::REVOKE_NODE,
            &[node],
            Some(&serde_json::json!({ "serial": serial })),
        )
        .await
        .map(drop)
    }

    /// `POST /api/v1/admin/nodes/{node}/decommission`: closes a hall; its
    /// open cases go to `to`.
    pub async fn decommission_node(&self, node: &str, to: &str, reason: &str) -> Result<(), Error> {
        self.call::<Value>(
            &routes::DECOMMISSION_NODE,
            &[node],
            Some(&serde_json::json!({ "to": to, "reason": reason })),
        )
        .await
        .map(drop)
    }

    /// `GET /api/v1/admin/catalogue/versions`.
    pub async fn catalogue_versions(&self) -> Result<Answer<Vec<VersionInfo>>, Error> {
        self.call(&routes::CATALOGUE_VERSIONS, &[], None::<&()>)
            .await
    }

    /// `GET /api/v1/admin/catalogue/versions/{version}`: one version's
    /// whole content (every matter with its delegation, materials and
    /// stages), as JSON in the catalogue's shape.
    pub async fn catalogue_version(&self, version: i64) -> Result<Answer<Value>, Error> {
        let v = version.to_string();
        self.call(&routes::CATALOGUE_VERSION, &[&v], None::<&()>)
            .await
    }

    /// `POST /api/v1/admin/catalogue/versions`: stores a catalogue (any
    /// JSON in the catalogue's shape) as a draft.
    pub async fn create_draft(&self, catalogue: &Value) -> Result<Answer<VersionInfo>, Error> {
        self.call(&routes::CREATE_DRAFT, &[], Some(catalogue)).await
    }

    /// `POST /api/v1/admin/catalogue/versions/{version}/publish`.
    pub async fn publish_version(&self, version: i64) -> Result<Answer<VersionInfo>, Error> {
        let v = version.to_string();
        self.call(
            &routes::PUBLISH_VERSION,
            &[&v],
            Some(&Value::Object(Default::default())),
        )
        .await
    }

    /// `GET /api/v1/admin/calendars`.
    pub async fn calendars(&self) -> Result<Answer<Vec<CalendarYear>>, Error> {
        self.call(&routes::CALENDARS, &[], None::<&()>).await
    }

    /// `PUT /api/v1/admin/calendars`: publishes one year's calendar (any
    /// JSON in the calendar's shape).
    pub async fn put_calendar(&self, year: &Value) -> Result<Answer<Value>, Error> {
        self.call(&routes::PUT_CALENDAR, &[], Some(year)).await
    }

    /// `POST /api/v1/cases`: a submission at the window.
    pub async fn submit(&self, submission: &Submission) -> Result<Answer<Outcome>, Error> {
        self.call(&routes::SUBMIT, &[], Some(submission)).await
    }

    /// `GET /api/v1/cases/{number}`: public progress.
    pub async fn progress(&self, number: &str) -> Result<Answer<Progress>, Error> {
        self.call(&routes::PROGRESS, &[number], None::<&()>).await
    }

    /// `GET /api/v1/cases/{number}/record`: a case and every event (staff).
    pub async fn case_record(&self, number: &str) -> Result<Answer<CaseRecord>, Error> {
        self.call(&routes::CASE_RECORD, &[number], None::<&()>)
            .await
    }

    /// `POST /api/v1/cases/{number}/actions`: an action (any JSON in the
    /// action's shape, e.g. `{"action": "start"}`).
    pub async fn act(&self, number: &str, action: &Value) -> Result<Answer<CaseView>, Error> {
        self.call(&routes::ACT, &[number], Some(action)).await
    }

    /// `GET /api/v1/admin/audit`: every origin's hash chain in the node's
    /// stored log (or `origin`'s), with the first break of each.
    pub async fn audit(&self, origin: Option<&str>) -> Result<Answer<AuditReport>, Error> {
        let query: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        self.call_with_query(&routes::AUDIT, &[], &query, None::<&()>)
            .await
    }

    /// `GET /api/v1/admin/warnings`: running cases near (yellow) or past
    /// (red) a deadline today, optionally of one level and one hall's
    /// subtree.
    pub async fn warnings(
        &self,
        level: Option<&str>,
        hall: Option<&str>,
        status: Option<&str>,
    ) -> Result<Answer<Vec<WarningRow>>, Error> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = status {
            query.push(("status", s));
        }
        if let Some(l) = level {
            query.push(("level", l));
        }
        if let Some(h) = hall {
            query.push(("hall", h));
        }
        self.call_with_query(&routes::WARNINGS, &[], &query, None::<&()>)
            .await
    }

    /// `GET /api/v1/admin/report`: a report over a period; `query` by the
    /// API's names (`from`, `to`, `hall`).
    pub async fn report(&self, query: &[(&str, &str)]) -> Result<Answer<Report>, Error> {
        self.call_with_query(&routes::REPORT, &[], query, None::<&()>)
            .await
    }

    /// `GET /api/v1/admin/audit/export`: up to `limit` stored entries of
    /// `origin` after sequence `after`, personal sections withheld.
    pub async fn audit_export(
        &self,
        origin: &str,
        after: u64,
        limit: u32,
    ) -> Result<Answer<Vec<ExportedEntry>>, Error> {
        let (after, limit) = (after.to_string(), limit.to_string());
        let q = [
            ("origin", origin),
            ("after", after.as_str()),
            ("limit", limit.as_str()),
        ];
        self.call_with_query(&routes::AUDIT_EXPORT, &[], &q, None::<&()>)
            .await
    }

    /// `GET /api/v1/admin/audit/actions`: staff and administrator actions
    /// of the node and its subtree, newest first; `query` by the API's
    /// names (`hall`, `action`, `limit`).
    pub async fn audit_actions(
        &self,
        query: &[(&str, &str)],
    ) -> Result<Answer<Vec<AuditAction>>, Error> {
        self.call_with_query(&routes::AUDIT_ACTIONS, &[], query, None::<&()>)
            .await
    }

    /// `GET /api/v1/cases`: cases at the node (at a district or township,
    /// its whole subtree's), most urgent first; `query` holds the filters
    /// by the API's names (`state`, `matter`, `hall`, `holder`,
    /// `applicant`, `number`, `warning`, `overdue`, `limit`).
    pub async fn cases(&self, query: &[(&str, &str)]) -> Result<Answer<Vec<CaseView>>, Error> {
        self.call_with_query(&routes::CASES, &[], query, None::<&()>)
            .await
    }

    /// `POST /api/v1/cases/{number}/personal` (supervisor): one case's
    /// personal data, fetched from below where it is withheld here, with
    /// the reason kept in the audit log.
    pub async fn personal_data(
        &self,
        number: &str,
        reason: &str,
    ) -> Result<Answer<PersonalData>, Error> {
        self.call(
            &routes::PERSONAL_DATA,
            &[number],
            Some(&serde_json::json!({ "reason": reason })),
        )
        .await
    }

    /// `POST /api/v1/cases/{number}/recall` (supervisor or administrator,
    /// at the root): the case comes back to the district with a reason.
    pub async fn recall(&self, number: &str, reason: &str) -> Result<(), Error> {
        self.call::<Value>(
            &routes::RECALL,
            &[number],
            Some(&serde_json::json!({ "reason": reason })),
        )
        .await
        .map(drop)
    }

    /// `POST /api/v1/cases/{number}/reopen`: the district reopens a
    /// completed or terminated case.
    pub async fn reopen(&self, number: &str, reason: &str) -> Result<(), Error> {
        self.call::<Value>(
            &routes::REOPEN,
            &[number],
            Some(&serde_json::json!({ "reason": reason })),
        )
        .await
        .map(drop)
    }

    /// `POST /api/v1/cases/{number}/warning-decision`: the district
    /// upholds (`verdict` `uphold`) or revokes (`revoke`) a hall's appeal
    /// against the case's `rule` warning at `level`.
    pub async fn decide_appeal(
        &self,
        number: &str,
        rule: &str,
        level: &str,
        verdict: &str,
        reason: &str,
    ) -> Result<(), Error> {
        self.call::<Value>(
            &routes::WARNING_DECISION,
            &[number],
            Some(&serde_json::json!({
                "rule": rule, "level": level, "verdict": verdict, "reason": reason
            })),
        )
        .await
        .map(drop)
    }

    /// `GET /api/v1/openapi.json`: the API's own description.
    pub async fn openapi(&self) -> Result<Answer<Value>, Error> {
        self.call(&routes::OPENAPI, &[], None::<&()>).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn paths_are_escaped_segments() {
        let c = Client::new("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            c.url(&routes::CASE_RECORD, &["NH-20261123-000001-X"])
                .as_str(),
            "http://127.0.0.1:8080/api/v1/cases/NH-20261123-000001-X/record"
        );
        assert_eq!(
            c.url(&routes::DEACTIVATE_STAFF, &["a/b c"]).as_str(),
            "http://127.0.0.1:8080/api/v1/staff/a%2Fb%20c"
        );
        let behind_proxy = Client::new("http://hall.example/onewindow/").unwrap();
        assert_eq!(
            behind_proxy.url(&routes::HEALTH, &[]).as_str(),
            "http://hall.example/onewindow/api/v1/health"
        );
        assert_eq!(behind_proxy.base(), "http://hall.example/onewindow");
        assert!(Client::new("ftp://x").is_err());
        assert!(Client::new("127.0.0.1:8080").is_err());
    }
}
