//! Login and logout, the language switch, each role's home, the
//! administrator's page and the embedded CSS and JavaScript.

use crate::api::ClientAddr;
use crate::error::HttpStatus;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;

use super::web::{
    AnonForm, Ctx, Flash, LANG_COOKIE, SESSION_COOKIE, StaffCtx, StaffForm, safe_next, set_cookie,
};
use crate::domain::case::Role;
use crate::service::StaffView;

/// Where each role starts.
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::Clerk => "/clerk",
        Role::Approver => "/approver",
        Role::Supervisor => "/supervisor",
        Role::Admin => "/admin",
        Role::Citizen => "/progress",
    }
}

/// `GET /`: the role's home, or the progress query for the public.
pub async fn home(ctx: Ctx) -> Response {
    match &ctx.staff {
        Some(s) => Redirect::to(home_of(s.role)).into_response(),
        None => Redirect::to("/progress").into_response(),
    }
}

/// Query of the login page.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

/// `GET /login`.
pub async fn login_page(ctx: Ctx, Query(q): Query<LoginQuery>) -> Response {
    if let Some(s) = &ctx.staff {
        return Redirect::to(home_of(s.role)).into_response();
    }
    let data = context! {
        next => q.next.as_deref().map(safe_next).unwrap_or_default(),
        expired => q.expired.is_some(),
        username => "",
    };
    ctx.render_anon_form(StatusCode::OK, "login.html", data)
}

/// `POST /login`: opens a session and sets the session cookie.
pub async fn login(ClientAddr(from): ClientAddr, form: AnonForm) -> Response {
    let AnonForm { ctx, fields } = form;
    let username = fields.text("username");
    match ctx
        .node
        .login(&username, fields.get("password").unwrap_or(""), from)
        .await
    {
        Ok(out) => {
            let next = fields.text("next");
            let to = if next.is_empty() || next == "/" {
                home_of(out.staff.role).to_owned()
            } else {
                safe_next(&next)
            };
            let max_age = ((out.expires_at_ms - ctx.node.now_ms()) / 1000).max(1);
            let mut res = Redirect::to(&to).into_response();
            if let Ok(v) = set_cookie(SESSION_COOKIE, &out.token, max_age).parse() {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => {
            let data = context! {
                next => fields.text("next"),
                username => username,
                error => ctx.lang.pick(&e.message_zh, &e.message_en),
            };
            ctx.render_anon_form(e.status(), "login.html", data)
        }
    }
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(form: StaffForm) -> Response {
    let ctx = form.ctx;
    if let Some(t) = &ctx.token
        && let Err(e) = ctx.node.logout(t).await
    {
        return ctx.error(&e);
    }
    let mut res = ctx.redirect("/login", Some(Flash::ok("flash.logged_out", &[])));
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", 0).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Query of the language switch.
#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    next: Option<String>,
}

/// `GET /lang/{zh|en}`: remembers the language and goes back.
pub async fn switch_lang(Path(lang): Path<String>, Query(q): Query<LangQuery>) -> Response {
    let lang = if lang == "en" { "en" } else { "zh" };
    let to = q.next.as_deref().map_or_else(|| "/".to_owned(), safe_next);
    let mut res = Redirect::to(&to).into_response();
    let lang_cookie = super::web::cookie_with(
        LANG_COOKIE,
        lang,
        31_536_000,
        axum_extra::extract::cookie::SameSite::Lax,
        false,
    );
    if let Ok(v) = lang_cookie.parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// `GET /admin`: the administrator's overview (accounts, catalogue).
pub async fn admin(StaffCtx(ctx): StaffCtx) -> Response {
    if let Err(r) = ctx.require(&[Role::Admin], "action.view_admin") {
        return r;
    }
    let staff = match ctx.node.store.all_staff().await {
        Ok(s) => s,
        Err(e) => return ctx.error(&e.into()),
    };
    // At the root: the accounts it keeps for the halls below.
    let kept = if ctx.node.signer.is_some() {
        match ctx.node.store.tree_staff(None).await {
            Ok(s) => s,
            Err(e) => return ctx.error(&e.into()),
        }
    } else {
        Vec::new()
    };
    let cat = ctx.node.catalogue();
    let data = context! {
        staff => staff.iter().map(StaffView::from).collect::<Vec<_>>(),
        kept => kept.iter().map(StaffView::from).collect::<Vec<_>>(),
        catalogue_version => cat.version,
        matters => cat.matters.len(),
    };
    ctx.render(StatusCode::OK, "admin.html", data)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// `GET /static/app.css`.
pub async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    )
}

/// `GET /static/app.js`.
pub async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    )
}
