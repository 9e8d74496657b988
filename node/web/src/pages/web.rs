//! What every page shares: the session cookie, CSRF tokens, the language,
//! one-shot flash messages, form fields, and rendering with errors shown as
//! a page in the reader's language.
//!
//! The session cookie carries the same token as the API's bearer header
//! (`Node::login` / `Node::session`), HttpOnly and SameSite=Strict. Every
//! state-changing form carries a CSRF token: for staff, the SHA-256 of a
//! fixed label and the session token; before login (the login form, the
//! ticket kiosk), a random value that must equal a SameSite=Strict cookie
//! (double submit). A POST without the right token is refused with 403 and
//! nothing is stored.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::Value;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::templates;
use crate::AppState;
use crate::domain::case::Role;
use crate::error::{HttpStatus, ServiceError as Error};
use crate::store::StaffRecord;

/// The session cookie: the API's session token.
pub const SESSION_COOKIE: &str = "ow_session";
/// The language cookie: `zh` or `en`.
pub const LANG_COOKIE: &str = "ow_lang";
/// The pre-login form cookie (double-submit CSRF token).
pub const FORM_COOKIE: &str = "ow_form";
/// The one-shot message shown on the next page.
pub const FLASH_COOKIE: &str = "ow_flash";
/// The name of the CSRF field in every form.
pub const CSRF_FIELD: &str = "csrf";

const CSRF_LABEL: &[u8] = b"onewindow/pages/csrf/v1\0";

/// The reader's language (from the one phrase table's crate).
pub use onewindow_i18n::Lang;

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(name)
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64) -> String {
    cookie_with(name, value, max_age_s, SameSite::Strict, true)
}

/// A `Set-Cookie` value with path `/`.
pub fn cookie_with(
    name: &str,
    value: &str,
    max_age_s: i64,
    same_site: SameSite,
    http_only: bool,
) -> String {
    Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(http_only)
        .same_site(same_site)
        .max_age(cookie::time::Duration::seconds(max_age_s))
        .build()
        .to_string()
}

/// The CSRF token of a session: SHA-256 over a fixed label and the token.
pub fn csrf_token(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(CSRF_LABEL);
    h.update(session_token.as_bytes());
    hex::encode(h.finalize())
}

/// Compares without stopping at the first difference (CSRF tokens).
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A local path to go back to after login; anything else becomes `/`.
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if ok { next.to_owned() } else { "/".to_owned() }
}

/// A message for the next page, in both languages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    /// `ok` or `error`.
    pub kind: String,
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Flash {
    /// A success message: the phrase `key` with its slots filled.
    pub fn ok(key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> Self {
        Self::ok_text(onewindow_i18n::text(key, args))
    }

    /// A success message in both languages.
    pub fn ok_text(t: onewindow_i18n::Text) -> Self {
        Self {
            kind: "ok".into(),
            zh: t.zh,
            en: t.en,
        }
    }

    /// An error message.
    pub fn error(e: &Error) -> Self {
        if let Some(detail) = &e.detail {
            tracing::error!(code = e.code, error = %detail, "request failed");
        }
        Self {
            kind: "error".into(),
            zh: e.message_zh.clone(),
            en: e.message_en.clone(),
        }
    }
}

/// The request as a page sees it: the node, the language, the staff member
/// if logged in, and the flash message if any.
#[derive(Clone)]
pub struct Ctx {
    /// The node.
    pub node: AppState,
    /// Language.
    pub lang: Lang,
    /// The logged-in staff member.
    pub staff: Option<StaffRecord>,
    /// The session token (from the cookie).
    pub token: Option<String>,
    /// The request path and query (for the language switch and login).
    pub path: String,
    /// The message left by the previous request.
    pub flash: Option<Flash>,
    /// The pre-login form token, if the request carried one.
    pub form_token: Option<String>,
    /// The request carried a session cookie that is no longer valid.
    pub stale_session: bool,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("lang", &self.lang)
            .field("staff", &self.staff.as_ref().map(|s| &s.username))
            .field("path", &self.path)
            .finish()
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        node: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = match cookie(&parts.headers, LANG_COOKIE).as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        };
        let token = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty());
        let staff = match &token {
            Some(t) => node.session(t).await.ok().map(|s| s.staff),
            None => None,
        };
        let flash = cookie(&parts.headers, FLASH_COOKIE)
            .and_then(|v| hex::decode(v).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        Ok(Ctx {
            node: node.clone(),
            lang,
            stale_session: token.is_some() && staff.is_none(),
            token: if staff.is_some() { token } else { None },
            staff,
            path,
            flash,
            form_token: cookie(&parts.headers, FORM_COOKIE).filter(|t| t.len() == 64),
        })
    }
}

/// A page for logged-in staff only; anyone else is sent to the login page.
#[derive(Debug, Clone)]
pub struct StaffCtx(pub Ctx);

impl FromRequestParts<AppState> for StaffCtx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, node: &AppState) -> Result<Self, Response> {
        let Ok(ctx) = Ctx::from_request_parts(parts, node).await;
        if ctx.staff.is_some() {
            Ok(StaffCtx(ctx))
        } else {
            Err(login_redirect(&ctx))
        }
    }
}

pub(super) fn login_redirect(ctx: &Ctx) -> Response {
    let expired = if ctx.stale_session { "&expired=1" } else { "" };
    let mut res =
        Redirect::to(&format!("/login?next={}{expired}", percent(&ctx.path))).into_response();
    if ctx.stale_session {
        res.headers_mut()
            .append(header::SET_COOKIE, hv(&set_cookie(SESSION_COOKIE, "", 0)));
    }
    res
}

/// What a query value keeps as it is: letters, digits and `-_.~/`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes a query value.
pub fn percent(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The fields of a submitted form, in order (names may repeat).
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value, trimmed; empty if absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_owned()
    }

    /// Every value of a repeated field.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A whole number, if the field holds one.
    pub fn number(&self, name: &str) -> Option<u32> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.is_empty())
    }
}

async fn read_fields(req: Request, node: &AppState, ctx: &Ctx) -> Result<Fields, Response> {
    axum::Form::<Vec<(String, String)>>::from_request(req, node)
        .await
        .map(|axum::Form(v)| Fields(v))
        .map_err(|r| {
            ctx.error(&Error::bad_request(
                "bad_form",
                &[("detail", &r.body_text())],
            ))
        })
}

/// A form posted by logged-in staff, with its CSRF token checked.
#[derive(Debug)]
pub struct StaffForm {
    /// The request.
    pub ctx: Ctx,
    /// The fields.
    pub fields: Fields,
}

impl FromRequest<AppState> for StaffForm {
    type Rejection = Response;

    async fn from_request(req: Request, node: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Ok(ctx) = Ctx::from_request_parts(&mut parts, node).await;
        let fields = read_fields(Request::from_parts(parts, body), node, &ctx).await?;
        let Some(token) = ctx.token.clone() else {
            let mut ctx = ctx;
            ctx.path = fields.get("back").map_or("/".to_owned(), safe_next);
            return Err(login_redirect(&ctx));
        };
        let given = fields.get(CSRF_FIELD).unwrap_or("");
        if !same(given, &csrf_token(&token)) {
            return Err(ctx.csrf_refused());
        }
        Ok(StaffForm { ctx, fields })
    }
}

/// A form posted before login (login, ticket kiosk), with its double-submit
/// token checked against the form cookie.
#[derive(Debug)]
pub struct AnonForm {
    /// The request.
    pub ctx: Ctx,
    /// The fields.
    pub fields: Fields,
}

impl FromRequest<AppState> for AnonForm {
    type Rejection = Response;

    async fn from_request(req: Request, node: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Ok(ctx) = Ctx::from_request_parts(&mut parts, node).await;
        let fields = read_fields(Request::from_parts(parts, body), node, &ctx).await?;
        let ok = match (&ctx.form_token, fields.get(CSRF_FIELD)) {
            (Some(c), Some(f)) => same(c, f),
            _ => false,
        };
        if !ok {
            return Err(ctx.csrf_refused());
        }
        Ok(AnonForm { ctx, fields })
    }
}

/// A fresh key for a form that makes something once (the acceptance form's
/// submission key): 128 random bits, hex.
pub fn new_submission_key() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// A fresh random token for the pre-login form cookie.
fn new_form_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Ctx {
    /// The logged-in staff member, if they have one of `roles`; otherwise a
    /// 403 page.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<&StaffRecord, Response> {
        match &self.staff {
            Some(s) if roles.contains(&s.role) => Ok(s),
            _ => Err(self.error(&Error::forbidden(what))),
        }
    }

    /// One of the two names of bilingual data (a matter's, a department's,
    /// an error's message), in the reader's language. The pages' own words
    /// are never written here: they are keys of [`super::i18n`].
    pub fn pick(&self, zh: &str, en: &str) -> String {
        self.lang.pick(zh, en).to_owned()
    }

    /// The page phrase of `key` in the reader's language ([`super::i18n`]).
    pub fn phrase(&self, key: &str) -> String {
        super::i18n::phrase(self.lang, key).to_owned()
    }

    /// Several phrases, in order (a table's headers).
    pub fn phrases(&self, keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| self.phrase(k)).collect()
    }

    /// A phrase with its `{name}` slots filled.
    pub fn phrase_with(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        super::i18n::phrase_with(self.lang, key, args)
    }

    fn base(&self, form_token: Option<&str>) -> Value {
        let node = &self.node;
        let staff = self.staff.as_ref().map(|s| {
            minijinja::context! {
                username => s.username,
                display_name => s.display_name,
                role => s.role.as_str(),
                department => s.department,
            }
        });
        minijinja::context! {
            lang => self.lang.as_str(),
            path => self.path,
            path_q => percent(&self.path),
            staff => staff,
            csrf => self.token.as_deref().map(csrf_token),
            form_token => form_token,
            flash => self.flash,
            hall_zh => node.config.node.hall_name_zh,
            hall_en => node.config.node.hall_name_en,
            node_id => node.id.as_str(),
            tier => node.tier,
            version => env!("CARGO_PKG_VERSION"),
        }
    }

    /// Renders a page template with `data` and status `status`.
    pub fn render(&self, status: StatusCode, template: &str, data: Value) -> Response {
        self.render_inner(status, template, data, false)
    }

    /// Renders a page that holds a pre-login form: sets the form cookie.
    pub fn render_anon_form(&self, status: StatusCode, template: &str, data: Value) -> Response {
        self.render_inner(status, template, data, true)
    }

    fn render_inner(
        &self,
        status: StatusCode,
        template: &str,
        data: Value,
        anon: bool,
    ) -> Response {
        let form_token = anon.then(|| self.form_token.clone().unwrap_or_else(new_form_token));
        let page = self.base(form_token.as_deref());
        let en = self.lang == Lang::En;
        let names = self.node.hall_names();
        let halls: std::collections::BTreeMap<&str, &str> = names
            .iter()
            .map(|(id, (zh, e))| {
                let name = if en && !e.is_empty() { e } else { zh };
                (id.as_str(), name.as_str())
            })
            .filter(|(_, n)| !n.is_empty())
            .collect();
        let ctx = minijinja::context! { lang => self.lang.as_str(), page => page, hall_names => halls, ..data };
        match templates::render(template, ctx) {
            Ok(html) => {
                let mut res = (status, Html(html)).into_response();
                let h = res.headers_mut();
                if self.flash.is_some() {
                    h.append(header::SET_COOKIE, hv(&set_cookie(FLASH_COOKIE, "", 0)));
                }
                if let Some(t) = form_token.filter(|_| self.form_token.is_none()) {
                    h.append(header::SET_COOKIE, hv(&set_cookie(FORM_COOKIE, &t, 86_400)));
                }
                res
            }
            Err(e) => {
                tracing::error!(error = %e, template, "page template failed");
                let msg = self.phrase("page.the_page_could_not_be_rendered_please_tr");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html(format!(
                        "<!doctype html><meta charset=utf-8><title>500</title><p>{}</p>",
                        super::charts::esc(&msg)
                    )),
                )
                    .into_response()
            }
        }
    }

    /// An error as a page, with the error's status, in the reader's language.
    pub fn error(&self, e: &Error) -> Response {
        if let Some(detail) = &e.detail {
            tracing::error!(code = e.code, error = %detail, "page failed");
        }
        let data = minijinja::context! {
            status => e.status().as_u16(),
            code => e.code,
            message => self.lang.pick(&e.message_zh, &e.message_en),
        };
        self.render(e.status(), "error.html", data)
    }

    pub(super) fn csrf_refused(&self) -> Response {
        self.error(&Error::new(crate::error::ErrorKind::Forbidden, "csrf", &[]))
    }

    /// A redirect (303) to a local path, leaving a message for that page.
    pub fn redirect(&self, to: &str, flash: Option<Flash>) -> Response {
        let mut res = Redirect::to(to).into_response();
        if let Some(f) = flash
            && let Ok(json) = serde_json::to_vec(&f)
        {
            res.headers_mut().append(
                header::SET_COOKIE,
                hv(&set_cookie(FLASH_COOKIE, &hex::encode(json), 60)),
            );
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_depend_on_the_session() {
        let a = csrf_token("aaaa");
        assert_eq!(a.len(), 64);
        assert_ne!(a, csrf_token("aaab"));
        assert_eq!(a, csrf_token("aaaa"));
        assert!(same(&a, &csrf_token("aaaa")));
        assert!(!same(&a, ""));
    }

    #[test]
    fn next_paths_stay_on_this_site() {
        assert_eq!(safe_next("/clerk?x=1"), "/clerk?x=1");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil"), "/");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, hv("a=1; ow_lang=en"));
        h.append(header::COOKIE, hv("ow_session=tok"));
        assert_eq!(cookie(&h, LANG_COOKIE).as_deref(), Some("en"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "missing"), None);
        assert_eq!(percent("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
        assert_eq!(percent("南海-1_x.~"), "%E5%8D%97%E6%B5%B7-1_x.~");
    }

    #[test]
    fn set_cookies_are_strict_and_http_only() {
        let c = set_cookie(SESSION_COOKIE, "tok", 60);
        let parsed = Cookie::parse(c.clone()).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert_eq!((parsed.name(), parsed.value()), (SESSION_COOKIE, "tok"));
        assert_eq!(parsed.http_only(), Some(true));
        assert_eq!(parsed.same_site(), Some(SameSite::Strict));
        assert_eq!(parsed.path(), Some("/"));
        assert_eq!(parsed.max_age().map(|d| d.whole_seconds()), Some(60));
        assert!(set_cookie(FLASH_COOKIE, "", 0).contains("Max-Age=0"));
    }
}
