//! Every route the client calls, as the node's OpenAPI document names it.

use reqwest::Method;

/// A route: a method and a path template with `{parameters}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// `get`, `post`, `put` or `delete`, as OpenAPI spells it.
    pub method: &'static str,
    /// The path template, e.g. `/api/v1/cases/{number}/record`.
    pub path: &'static str,
}

impl Route {
    const fn new(method: &'static str, path: &'static str) -> Self {
        Self { method, path }
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        match self.method {
            "post" => Method::POST,
            "put" => Method::PUT,
            "delete" => Method::DELETE,
            "patch" => Method::PATCH,
            _ => Method::GET,
        }
    }
}

pub(crate) const LOGIN: Route = Route::new("post", "/api/v1/session");
pub(crate) const LOGOUT: Route = Route::new("delete", "/api/v1/session");
pub(crate) const WHOAMI: Route = Route::new("get", "/api/v1/session");
pub(crate) const HEALTH: Route = Route::new("get", "/api/v1/health");
pub(crate) const CATALOGUE: Route = Route::new("get", "/api/v1/catalogue");
pub(crate) const PEERS: Route = Route::new("get", "/api/v1/peers");
pub(crate) const STAFF: Route = Route::new("get", "/api/v1/staff");
pub(crate) const CREATE_STAFF: Route = Route::new("post", "/api/v1/staff");
pub(crate) const DEACTIVATE_STAFF: Route = Route::new("delete", "/api/v1/staff/{username}");
pub(crate) const FLEET: Route = Route::new("get", "/api/v1/admin/fleet");
pub(crate) const CHANGE_STAFF: Route = Route::new("patch", "/api/v1/staff/{username}");
pub(crate) const CATALOGUE_VERSIONS: Route = Route::new("get", "/api/v1/admin/catalogue/versions");
pub(crate) const CATALOGUE_VERSION: Route =
    Route::new("get", "/api/v1/admin/catalogue/versions/{version}");
pub(crate) const CREATE_DRAFT: Route = Route::new("post", "/api/v1/admin/catalogue/versions");
pub(crate) const PUBLISH_VERSION: Route =
    Route::new("post", "/api/v1/admin/catalogue/versions/{version}/publish");
pub(crate) const CALENDARS: Route = Route::new("get", "/api/v1/admin/calendars");
pub(crate) const PUT_CALENDAR: Route = Route::new("put", "/api/v1/admin/calendars");
pub(crate) const REGISTER_NODE: Route = Route::new("post", "/api/v1/admin/enrolments");
pub(crate) const REVOKE_NODE: Route = Route::new("post", "/api/v1/admin/nodes/{node}/revoke");
pub(crate) const DECOMMISSION_NODE: Route =
    Route::new("post", "/api/v1/admin/nodes/{node}/decommission");
pub(crate) const AUDIT: Route = Route::new("get", "/api/v1/admin/audit");
pub(crate) const AUDIT_ACTIONS: Route = Route::new("get", "/api/v1/admin/audit/actions");
pub(crate) const AUDIT_EXPORT: Route = Route::new("get", "/api/v1/admin/audit/export");
pub(crate) const WARNINGS: Route = Route::new("get", "/api/v1/admin/warnings");
pub(crate) const REPORT: Route = Route::new("get", "/api/v1/admin/report");
pub(crate) const SUBMIT: Route = Route::new("post", "/api/v1/cases");
pub(crate) const CASES: Route = Route::new("get", "/api/v1/cases");
pub(crate) const RECALL: Route = Route::new("post", "/api/v1/cases/{number}/recall");
pub(crate) const PERSONAL_DATA: Route = Route::new("post", "/api/v1/cases/{number}/personal");
pub(crate) const REOPEN: Route = Route::new("post", "/api/v1/cases/{number}/reopen");
pub(crate) const WARNING_DECISION: Route =
    Route::new("post", "/api/v1/cases/{number}/warning-decision");
pub(crate) const PROGRESS: Route = Route::new("get", "/api/v1/cases/{number}");
pub(crate) const CASE_RECORD: Route = Route::new("get", "/api/v1/cases/{number}/record");
pub(crate) const ACT: Route = Route::new("post", "/api/v1/cases/{number}/actions");
pub(crate) const FEED_CREDENTIALS: Route = Route::new("get", "/api/v1/admin/feed/credentials");
pub(crate) const ISSUE_FEED_CREDENTIAL: Route =
    Route::new("post", "/api/v1/admin/feed/credentials");
pub(crate) const REVOKE_FEED_CREDENTIAL: Route =
    Route::new("post", "/api/v1/admin/feed/credentials/{name}/revoke");
pub(crate) const WEBHOOKS: Route = Route::new("get", "/api/v1/admin/feed/subscriptions");
pub(crate) const SUBSCRIBE_WEBHOOK: Route = Route::new("post", "/api/v1/admin/feed/subscriptions");
pub(crate) const END_WEBHOOK: Route =
    Route::new("post", "/api/v1/admin/feed/subscriptions/{id}/end");
pub(crate) const DELIVERIES: Route = Route::new("get", "/api/v1/admin/feed/deliveries");
pub(crate) const REPLAY_DELIVERY: Route =
    Route::new("post", "/api/v1/admin/feed/deliveries/{id}/replay");
/// The OpenAPI document itself (not among the routes it describes).
pub(crate) const OPENAPI: Route = Route::new("get", "/api/v1/openapi.json");

/// Every route of the API the client calls (all but the OpenAPI document).
pub const ROUTES: &[Route] = &[
    LOGIN,
    LOGOUT,
    WHOAMI,
    HEALTH,
    CATALOGUE,
    STAFF,
    CREATE_STAFF,
    DEACTIVATE_STAFF,
    CHANGE_STAFF,
    FLEET,
    CATALOGUE_VERSIONS,
    CATALOGUE_VERSION,
    CREATE_DRAFT,
    PUBLISH_VERSION,
    CALENDARS,
    PUT_CALENDAR,
    REGISTER_NODE,
    REVOKE_NODE,
    DECOMMISSION_NODE,
    AUDIT,
    AUDIT_ACTIONS,
    AUDIT_EXPORT,
    WARNINGS,
    REPORT,
    SUBMIT,
    CASES,
    RECALL,
    PERSONAL_DATA,
    WARNING_DECISION,
    REOPEN,
    PROGRESS,
    CASE_RECORD,
    ACT,
    FEED_CREDENTIALS,
    ISSUE_FEED_CREDENTIAL,
    REVOKE_FEED_CREDENTIAL,
    WEBHOOKS,
    SUBSCRIBE_WEBHOOK,
    END_WEBHOOK,
    DELIVERIES,
    REPLAY_DELIVERY,
];
