//! Attacks on a hall's HTTP side, as tests against a real node: each is
//! refused with a clear error (a stable code and both languages) and
//! stores nothing. Every route comes from the API document, so a route
//! added later is attacked too.
//!
//! Brute-force logins (lockout per account and per address) are in `api`;
//! CSRF of the pages in `onewindow-tests`' `pages`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Client, TestNode, counts, staff};
use serde_json::{Value, json};

/// Every operation of the API document: method, path template (with the
/// query parameters it requires, well-formed), and whether it needs a
/// session.
fn operations() -> Vec<(String, String, bool)> {
    let doc = serde_json::to_value(onewindow_node::api::api_router().1).unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            let required: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| {
                    let name = p["name"].as_str().unwrap();
                    let value = match name {
                        "origin" => "nanhai",
                        "last4" => "002X",
                        _ => "1",
                    };
                    format!("{name}={value}")
                })
                .collect();
            let path = if required.is_empty() {
                path.clone()
            } else {
                format!("{path}?{}", required.join("&"))
            };
            ops.push((method.to_uppercase(), path, secured));
        }
    }
    assert!(ops.len() >= 30, "only {} operations", ops.len());
    ops
}

/// A path with its parameters filled with well-formed values, so that a
/// refusal is about who asks, not about the path.
fn filled(path: &str, number: &str) -> String {
    path.replace("{number}", number)
        .replace("{version}", "1")
        .replace("{id}", "1")
        .replace("{node}", "nanhai.guicheng")
        .replace("{username}", "clerk1")
        .replace("{code}", "T-SIMPLE")
}

/// Sends `method` to `path`, with a JSON body unless it is a GET or a
/// DELETE.
async fn send(c: &Client, method: &str, path: &str, body: &Value) -> common::Reply {
    let m: reqwest::Method = method.parse().unwrap();
    let mut req = c.api().request(m, path);
    if method != "GET" && method != "DELETE" {
        req = req.json(body);
    }
    let r = c.api().send(req).await.unwrap();
    common::Reply {
        status: r.status,
        body: r.json(),
        text: r.text,
    }
}

struct Hall {
    t: TestNode,
    admin: Client,
    clerk: Client,
    approver: Client,
    sup: Client,
    number: String,
}

async fn hall() -> Hall {
    let t = common::start("nanhai").await;
    let admin = t.http.login("admin", common::ADMIN_PASSWORD).await;
    let draft = admin
        .post(
            "/api/v1/admin/catalogue/versions",
            &common::catalogue::test_catalogue(),
        )
        .await
        .ok();
    let v = draft["version"].as_i64().unwrap();
    admin
        .post(
            &format!("/api/v1/admin/catalogue/versions/{v}/publish"),
            &json!({}),
        )
        .await
        .ok();
    let clerk = staff(&t.http, "clerk1", "clerk", None).await;
    let approver = staff(&t.http, "a.one", "approver", Some("a")).await;
    let sup = staff(&t.http, "sup1", "supervisor", None).await;
    let r = clerk
        .post(
            "/api/v1/cases",
            &json!({
                "matter_code": "T-SIMPLE",
                "applicant": {"kind": "person", "id_number": "11010519491231002X", "name": "张三"},
                "materials": common::catalogue::complete_materials(),
            }),
        )
        .await
        .ok();
    let number = r["case_number"].as_str().unwrap().to_owned();
    Hall {
        t,
        admin,
        clerk,
        approver,
        sup,
        number,
    }
}

/// The error shape every refusal has.
fn assert_refusal(r: &common::Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert!(
        r.body["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{what}: no code in {}",
        r.text
    );
    for m in ["message_zh", "message_en"] {
        assert!(
            r.body[m].as_str().is_some_and(|s| !s.is_empty()),
            "{what}: no {m} in {}",
            r.text
        );
    }
}

#[tokio::test]
async fn no_route_that_needs_a_session_answers_without_a_valid_one() {
    let h = hall().await;
    // A token that was valid: logged out.
    let gone = staff(&h.t.http, "clerk2", "clerk", None).await;
    assert_eq!(gone.delete("/api/v1/session").await.status, 204);
    let before = counts(&h.t.node).await;
    let forged = h.t.http.with_token("0123456789abcdef0123456789abcdef");
    let empty = h.t.http.with_token("");
    let mut checked = 0;
    for (method, path, secured) in operations() {
        if !secured {
            continue;
        }
        let p = filled(&path, &h.number);
        for (who, c) in [
            ("nobody", &h.t.http),
            ("a forged token", &forged),
            ("an empty token", &empty),
            ("a logged-out token", &gone),
        ] {
            let r = send(c, &method, &p, &json!({})).await;
            assert_refusal(&r, 401, &format!("{method} {p} as {who}"));
            checked += 1;
        }
        // A token in the query string is not a session.
        let token = h.clerk.api().token().unwrap().to_owned();
        let sep = if p.contains('?') { '&' } else { '?' };
        let r = send(
            &h.t.http,
            &method,
            &format!("{p}{sep}token={token}&access_token={token}"),
            &json!({}),
        )
        .await;
        assert!(
            r.status == 401 || r.status == 400,
            "{method} {p} with a token in the query: {}",
            r.text
        );
    }
    assert!(checked >= 100, "only {checked} checks");
    assert_eq!(counts(&h.t.node).await, before, "something was stored");
}

#[tokio::test]
async fn staff_cannot_reach_above_their_role() {
    let h = hall().await;
    let before = counts(&h.t.node).await;
    let mut checked = 0;
    // No one but an administrator reaches the administration.
    for (method, path, secured) in operations() {
        if !secured || !path.starts_with("/api/v1/admin/") {
            continue;
        }
        let p = filled(&path, &h.number);
        for (who, c) in [
            ("a clerk", &h.clerk),
            ("an approver", &h.approver),
            ("a supervisor", &h.sup),
        ] {
            let r = send(c, &method, &p, &json!({})).await;
            // The supervisor reads oversight (warnings, the report, the
            // fleet, the audit); nothing else.
            if who == "a supervisor" && method == "GET" && r.status == 200 {
                continue;
            }
            // A body the route cannot read is refused before the role is
            // looked at, the same for anyone: nothing is learnt from it.
            if r.status == 400 {
                let as_admin = send(&h.admin, &method, &p, &json!({})).await;
                assert_eq!(
                    (as_admin.status, &as_admin.body["code"]),
                    (400, &r.body["code"]),
                    "{method} {p}: {who} is told {}, an administrator {}",
                    r.text,
                    as_admin.text
                );
                continue;
            }
            assert_refusal(&r, 403, &format!("{method} {p} as {who}"));
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} checks");
    // A clerk makes no account, least of all an administrator's, and
    // changes no one's role, their own included.
    let admin_account = json!({"username": "mallory", "display_name": "m", "role": "admin", "password": "long-enough-password-1"});
    for c in [&h.clerk, &h.approver, &h.sup] {
        assert_refusal(
            &c.post("/api/v1/staff", &admin_account).await,
            403,
            "create an administrator",
        );
        assert_refusal(
            &send(
                c,
                "PATCH",
                "/api/v1/staff/clerk1",
                &json!({"role": "admin"}),
            )
            .await,
            403,
            "promote",
        );
    }
    // An approver accepts nothing at the window; a clerk decides nothing.
    let sub = json!({"matter_code": "T-SIMPLE", "applicant": {"kind": "person", "id_number": "11010519491231002X", "name": "张三"}, "materials": []});
    assert_refusal(
        &h.approver.post("/api/v1/cases", &sub).await,
        403,
        "an approver accepting",
    );
    for action in [
        json!({"action": "start_handling"}),
        json!({"action": "decide", "granted": true, "opinion": "同意"}),
        json!({"action": "pass_review", "opinion": "同意"}),
    ] {
        let r = h
            .clerk
            .post(&format!("/api/v1/cases/{}/actions", h.number), &action)
            .await;
        assert_refusal(&r, 403, "a clerk deciding");
    }
    assert_eq!(counts(&h.t.node).await, before, "something was stored");
    // The administrator can still do what the others could not.
    let r = h.admin.post("/api/v1/staff", &admin_account).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn a_session_token_is_made_by_the_hall_and_changes_at_every_login() {
    let h = hall().await;
    // Two logins, two tokens; neither is one a client chose.
    let a = h.t.http.login("clerk1", common::STAFF_PASSWORD).await;
    let b = h.t.http.login("clerk1", common::STAFF_PASSWORD).await;
    let (ta, tb) = (a.api().token().unwrap(), b.api().token().unwrap());
    assert_ne!(ta, tb);
    assert!(ta.len() >= 32, "a short token: {ta}");
    // A session cookie planted before the login page is not the session
    // after it (fixation): the login issues its own.
    let planted = "attacker-chosen-session-value-0000000000";
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = h.t.node.url();
    let form = http
        .get(format!("{base}/login"))
        .header("cookie", format!("ow_session={planted}"))
        .send()
        .await
        .unwrap();
    let form_cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let html = form.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let i = html.find(marker).unwrap() + marker.len();
    let csrf = &html[i..i + html[i..].find('"').unwrap()];
    let r = http
        .post(format!("{base}/login"))
        .header("cookie", format!("ow_session={planted}; {form_cookie}"))
        .form(&[
            ("csrf", csrf),
            ("username", "clerk1"),
            ("password", common::STAFF_PASSWORD),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let session = set
        .iter()
        .find(|c| !c.contains("Max-Age=0") && !c.starts_with("ow_form"))
        .expect("a session cookie");
    assert!(!session.contains(planted), "{session}");
    assert!(session.contains("HttpOnly"), "{session}");
    // The planted value is no session at the API either.
    let r = h.t.http.with_token(planted).get("/api/v1/cases").await;
    assert_refusal(&r, 401, "the planted value");
}

/// What an attacker types into a search field.
const INJECTIONS: &[&str] = &[
    "' OR '1'='1",
    "'; DROP TABLE cases; --",
    "1) OR (1=1",
    "\" OR \"\"=\"",
    "%",
    "_",
    "%' OR 1=1 --",
    "\\",
    "' UNION SELECT username, password_hash FROM staff --",
    "NHH%",
];

#[tokio::test]
async fn sql_in_any_search_field_finds_nothing_and_breaks_nothing() {
    let h = hall().await;
    let before = counts(&h.t.node).await;
    let doc = serde_json::to_value(onewindow_node::api::api_router().1).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else {
            continue;
        };
        let p = filled(path, &h.number);
        for param in op["parameters"].as_array().into_iter().flatten() {
            if param["in"] != "query" {
                continue;
            }
            let name = param["name"].as_str().unwrap();
            for inj in INJECTIONS {
                let url = format!("{p}?{name}={}", url_escape(inj));
                for c in [&h.admin, &h.sup, &h.clerk] {
                    let r = c.get(&url).await;
                    assert!(r.status < 500, "GET {url}: {} {}", r.status, r.text);
                    if r.status >= 400 {
                        assert_refusal(&r, r.status, &format!("GET {url}"));
                    }
                    // A filter that reads text finds no case with it:
                    // nothing matches these, and a wildcard is a letter.
                    if r.status == 200 && path == "/api/v1/cases" {
                        assert_eq!(r.body, json!([]), "GET {url}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 200, "only {checked} checks");
    // The store is whole: the same counts, the case still listed, the
    // staff still log in.
    assert_eq!(counts(&h.t.node).await, before);
    let all = h.sup.get("/api/v1/cases").await.ok();
    assert_eq!(all.as_array().unwrap().len(), 1);
    h.t.http.login("clerk1", common::STAFF_PASSWORD).await;
    // A progress query with SQL in the key finds nothing.
    let r =
        h.t.http
            .get(&format!(
                "/api/v1/cases/{}?last4={}",
                h.number,
                url_escape("' OR '1'='1")
            ))
            .await;
    assert!(r.status == 404 || r.status == 400, "{}", r.text);
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn no_path_reaches_a_file_outside_what_the_hall_serves() {
    let h = hall().await;
    let base = h.t.node.url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/static/../Cargo.toml",
        "/static/..%2f..%2fCargo.toml",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/....//....//etc/passwd",
        "/static/app.css/../../../etc/passwd",
        "/api/v1/cases/..%2f..%2f..%2fetc%2fpasswd/document",
        "/api/v1/catalogue/matters/..%2f..%2fconfigs%2fdefault.toml",
        "/clerk/cases/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth(h.sup.api().token().unwrap())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!(
            (400..500).contains(&status) || status == 303,
            "{path}: {status} {}",
            text.chars().take(3000).collect::<String>()
        );
        for secret in ["root:", "[workspace]", "[database]", "BEGIN"] {
            assert!(!text.contains(secret), "{path} served {secret}");
        }
    }
}

#[tokio::test]
async fn oversized_and_deeply_nested_bodies_are_refused_and_store_nothing() {
    let h = hall().await;
    let before = counts(&h.t.node).await;
    // Over the body limit.
    let huge = format!(
        "{{\"matter_code\":\"T-SIMPLE\",\"pad\":\"{}\"}}",
        "x".repeat(3 * 1024 * 1024)
    );
    let r = h.clerk.post_raw("/api/v1/cases", &huge).await;
    assert_refusal(&r, 413, "a 3 MiB body");
    // Nested far deeper than any body of the API.
    for depth in [200, 10_000, 500_000] {
        let nested = format!(
            "{{\"matter_code\":{}1{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let r = h.clerk.post_raw("/api/v1/cases", &nested).await;
        assert_refusal(&r, 400, &format!("nesting {depth} deep"));
        let objects = format!("{}{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let r = h
            .admin
            .post_raw("/api/v1/admin/catalogue/versions", &objects)
            .await;
        assert!(
            r.status == 400 || r.status == 413,
            "objects {depth} deep: {}",
            r.status
        );
    }
    // Long strings within the limit: refused field by field.
    let long = "张".repeat(300_000);
    let sub = json!({"matter_code": "T-SIMPLE", "applicant": {"kind": "person", "id_number": "11010519491231002X", "name": long}, "materials": []});
    let r = h.clerk.post("/api/v1/cases", &sub).await;
    assert!(
        (400..500).contains(&r.status),
        "a 900 KB name: {}",
        r.status
    );
    assert_refusal(&r, r.status, "a 900 KB name");
    // Not JSON at all, or JSON of the wrong shape.
    for body in [
        "",
        "null",
        "[]",
        "\"text\"",
        "{",
        "{\"matter_code\":1}",
        "\u{0}",
    ] {
        let r = h.clerk.post_raw("/api/v1/cases", body).await;
        assert_refusal(&r, 400, &format!("body {body:?}"));
    }
    assert_eq!(counts(&h.t.node).await, before, "something was stored");
    // The node still serves.
    assert_eq!(h.t.http.get("/api/v1/health").await.status, 200);
}
