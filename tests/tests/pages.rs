//! The hall's web pages over real HTTP, with a cookie-keeping client as a
//! browser would be: login and logout, role gating, CSRF refusal (nothing
//! stored), session expiry, CSV exports, the citizen's progress query, the
//! clerk's correction-then-receipt flow, the window's booking code, and the
//! statistics counting a new case. One real node per test, on port 0, on
//! its own SQLite file (or its own PostgreSQL database when
//! `ONEWINDOW_TEST_DATABASE` names a server).
#![allow(clippy::unwrap_used)]

use node::server::{self, RunningNode};
use node::service::{Clock, StartedClock, TestClock};
use onewindow_tests::{ADMIN_PASSWORD, STAFF_PASSWORD, TestDb, hall_config, test_db};
use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const PERSON: &str = "11010519491231002X";

struct Hall {
    node: RunningNode,
    url: String,
    _db: TestDb,
}

async fn hall() -> Hall {
    hall_with_clock(Arc::new(StartedClock::at(onewindow_tests::START_MS))).await
}

/// A district node with a small published catalogue and one of each role:
/// `clerk1`, `a.one`, `a.two` and `a.three` (department `a`), `b.one`
/// (department `b`),
/// `sup1`.
async fn hall_with_clock(clock: Arc<dyn Clock>) -> Hall {
    let db = test_db().await;
    let c = hall_config("nanhai", &db.url, db.dir());
    let node = server::start_with_clock(c, clock).await.unwrap();
    let url = node.url();
    let api = reqwest::Client::new();
    let token = api_login(&api, &url, "admin", ADMIN_PASSWORD).await;
    let draft: Value = api
        .post(format!("{url}/api/v1/admin/catalogue/versions"))
        .bearer_auth(&token)
        .json(&catalogue())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v = draft["version"].as_i64().unwrap();
    let r = api
        .post(format!("{url}/api/v1/admin/catalogue/versions/{v}/publish"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    for (user, role, dept) in [
        ("clerk1", "clerk", None),
        ("a.one", "approver", Some("a")),
        ("a.two", "approver", Some("a")),
        ("a.three", "approver", Some("a")),
        ("b.one", "approver", Some("b")),
        ("sup1", "supervisor", None),
    ] {
        let mut body = json!({"username": user, "display_name": format!("{user} 测试"), "role": role, "password": STAFF_PASSWORD});
        if let Some(d) = dept {
            body["department"] = json!(d);
        }
        let r = api
            .post(format!("{url}/api/v1/staff"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    Hall { node, url, _db: db }
}

async fn api_login(api: &reqwest::Client, url: &str, user: &str, password: &str) -> String {
    let r: Value = api
        .post(format!("{url}/api/v1/session"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_owned()
}

fn catalogue() -> Value {
    let limit = |n: u32| json!({"n": n, "unit": "working_days"});
    let matter = |code: &str, co: Value| {
        json!({
            "code": code,
            "name_zh": format!("测试事项{code}"),
            "name_en": format!("Test matter {code}"),
            "kind": "permit",
            "department": "a",
            "co_departments": co,
            "exercise_level": 4,
            "serves": "person",
            "delegation": {"receive_tiers": ["district"], "decide_tiers": ["district"]},
            "immediate": false,
            "statutory_limit": limit(20),
            "committed_limit": limit(5),
            "materials": [
                {"code": "M1", "name_zh": "居民身份证", "name_en": "Resident ID card", "necessity": "required", "originals": 1, "copies": 1},
                {"code": "M2", "name_zh": "申请表", "name_en": "Application form", "necessity": "required", "originals": 1}
            ],
            "stages": [
                {"stage": "handling", "norm": limit(2)},
                {"stage": "review", "norm": limit(1)},
                {"stage": "approval", "norm": limit(2)}
            ]
        })
    };
    let mut trust = matter("T-TRUST", json!([]));
    trust["name_zh"] = json!("先信任试点许可");
    trust["name_en"] = json!("Trust-first pilot licence");
    trust["trust_first"] = json!({"pledge_zh": "本人承诺所报信息真实", "pledge_en": "I pledge that what I declared is true", "check_days": 10});
    let dept = |code: &str, zh: &str| json!({"code": code, "name_zh": zh, "name_en": format!("Department {code}")});
    // T-SIMPLE is booked at the hall.
    let mut simple = matter("T-SIMPLE", json!([]));
    simple["bookable"] = json!(true);
    json!({
        "version": 0,
        "departments": {"a": dept("a", "甲局"), "b": dept("b", "乙局")},
        "matters": {"T-SIMPLE": simple, "T-PAR": matter("T-PAR", json!(["b"])), "T-TRUST": trust}
    })
}

/// A browser-like client: keeps cookies, does not follow redirects.
struct Browser {
    http: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
}

struct Page {
    status: StatusCode,
    location: String,
    body: String,
    headers: reqwest::header::HeaderMap,
}

impl Browser {
    fn new(base: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(Arc::clone(&jar))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            http,
            jar,
            base: base.to_owned(),
        }
    }

    async fn page(res: reqwest::Response) -> Page {
        let status = res.status();
        let headers = res.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Page {
            status,
            location,
            body: res.text().await.unwrap(),
            headers,
        }
    }

    async fn get(&self, path: &str) -> Page {
        Self::page(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Self::page(
            self.http
                .post(format!("{}{path}", self.base))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    fn cookie(&self, name: &str) -> Option<String> {
        let url = self.base.parse().unwrap();
        let all = self.jar.cookies(&url)?;
        all.to_str()
            .unwrap()
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    async fn login(&self, user: &str) -> Page {
        let form = self.get("/login").await;
        let token = csrf(&form.body);
        self.post(
            "/login",
            &[
                ("csrf", &token),
                ("username", user),
                ("password", STAFF_PASSWORD),
                ("next", ""),
            ],
        )
        .await
    }

    /// The CSRF token of the logged-in session, as any page shows it.
    async fn csrf(&self, path: &str) -> String {
        csrf(&self.get(path).await.body)
    }
}

/// The first CSRF field's value in a page.
fn csrf(html: &str) -> String {
    let i = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a csrf field");
    let rest = &html[i + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The hall's case and directive entries (audit records of logins left
/// out) and its cases.
async fn counts(h: &Hall) -> (i64, i64) {
    let s = &h.node.node.store;
    let logins = s.audit_actions(None, None, 100_000).await.unwrap().len() as i64;
    (
        s.event_count().await.unwrap() - logins,
        s.case_count().await.unwrap(),
    )
}

/// Submits a complete application for `matter` through the clerk's form.
async fn submit(b: &Browser, matter: &str, complete: bool) -> String {
    let token = b.csrf(&format!("/clerk/apply/{matter}")).await;
    let mut form = vec![
        ("csrf", token.as_str()),
        ("kind", "person"),
        ("id_number", PERSON),
        ("name", "张三"),
        ("phone", "13800000000"),
        ("have_M1", "1"),
        ("decision", "accept"),
    ];
    if complete {
        form.push(("have_M2", "1"));
    }
    let p = b.post(&format!("/clerk/apply/{matter}"), &form).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    p.location.trim_start_matches("/clerk/cases/").to_owned()
}

async fn within<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("the test finished in time");
}

#[tokio::test]
async fn login_sets_a_strict_httponly_session_that_the_api_accepts_and_logout_ends_it() {
    within(async {
        let h = hall().await;
        let b = Browser::new(&h.url);
        // Anonymous staff pages send to the login page.
        let p = b.get("/clerk").await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert_eq!(p.location, "/login?next=/clerk");
        // A wrong password: the form again, with the message, and no session.
        let form = b.get("/login").await;
        let token = csrf(&form.body);
        let p = b
            .post(
                "/login",
                &[
                    ("csrf", &token),
                    ("username", "clerk1"),
                    ("password", "wrong-password"),
                    ("next", ""),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
        assert!(p.body.contains("用户名或密码错误"), "{}", p.body);
        assert!(b.cookie("ow_session").is_none());
        // The right one: a session cookie, HttpOnly and SameSite=Strict.
        let p = b.login("clerk1").await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert_eq!(p.location, "/clerk");
        let set: Vec<&str> = p
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        let session = set
            .iter()
            .find(|c| c.starts_with("ow_session="))
            .expect("session cookie");
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Strict"),
            "{session}"
        );
        let page = b.get("/clerk").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("clerk1 测试"));
        // The cookie carries the API's own session token.
        let tok = b.cookie("ow_session").unwrap();
        let me = reqwest::Client::new()
            .get(format!("{}/api/v1/session", h.url))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);
        // Logout (a form with its CSRF token) ends the session for both.
        let token = b.csrf("/clerk").await;
        let p = b.post("/logout", &[("csrf", &token)]).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert_eq!(b.get("/clerk").await.status, StatusCode::SEE_OTHER);
        let me = reqwest::Client::new()
            .get(format!("{}/api/v1/session", h.url))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn each_role_gets_its_own_pages_only() {
    within(async {
        let h = hall().await;
        let clerk = Browser::new(&h.url);
        clerk.login("clerk1").await;
        for path in [
            "/approver",
            "/supervisor",
            "/supervisor/stats",
            "/supervisor/export/red",
            "/admin",
        ] {
            let p = clerk.get(path).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "clerk on {path}");
            assert!(p.body.contains("当前角色无权"), "{}", p.body);
        }
        let sup = Browser::new(&h.url);
        sup.login("sup1").await;
        for path in ["/clerk", "/clerk/apply/T-SIMPLE", "/approver"] {
            assert_eq!(
                sup.get(path).await.status,
                StatusCode::FORBIDDEN,
                "supervisor on {path}"
            );
        }
        // The supervisor's pages offer nothing a clerk may do.
        for path in [
            "/supervisor",
            "/supervisor/search?matter=T",
            "/supervisor/stats",
            "/supervisor/fleet",
        ] {
            let p = sup.get(path).await;
            assert_eq!(p.status, StatusCode::OK, "{path}");
            for clerk_only in ["/clerk", "call-next", "/kiosk", "submit-apply", "handout"] {
                assert!(!p.body.contains(clerk_only), "{path} shows {clerk_only}");
            }
        }
        // A clerk's page offers no approver or supervisor action.
        let p = clerk.get("/clerk").await;
        for other in ["/approver", "/supervisor", "terminate"] {
            assert!(!p.body.contains(other), "the clerk page shows {other}");
        }
        // An approver may not submit applications, even with a valid token.
        let ap = Browser::new(&h.url);
        ap.login("a.one").await;
        let token = ap.csrf("/approver").await;
        let before = counts(&h).await;
        let p = ap
            .post(
                "/clerk/apply/T-SIMPLE",
                &[
                    ("csrf", &token),
                    ("id_number", PERSON),
                    ("name", "张三"),
                    ("have_M1", "1"),
                    ("have_M2", "1"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert_eq!(counts(&h).await, before);
    })
    .await;
}

#[tokio::test]
async fn posts_without_the_right_csrf_token_are_refused_and_store_nothing() {
    within(async {
        let h = hall().await;
        let b = Browser::new(&h.url);
        b.login("clerk1").await;
        let full = |token: &'static str| {
            vec![
                ("csrf", token),
                ("kind", "person"),
                ("id_number", PERSON),
                ("name", "张三"),
                ("have_M1", "1"),
                ("have_M2", "1"),
            ]
        };
        let before = counts(&h).await;
        let mut no_token = full("");
        no_token.remove(0);
        let p = b.post("/clerk/apply/T-SIMPLE", &no_token).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(p.body.contains("未保存任何内容"));
        let wrong = "0".repeat(64);
        let wrong: &'static str = Box::leak(wrong.into_boxed_str());
        assert_eq!(
            b.post("/clerk/apply/T-SIMPLE", &full(wrong)).await.status,
            StatusCode::FORBIDDEN
        );
        // The token of another session is no good either.
        let other = Browser::new(&h.url);
        other.login("clerk1").await;
        let theirs: &'static str = Box::leak(other.csrf("/clerk").await.into_boxed_str());
        assert_eq!(
            b.post("/clerk/apply/T-SIMPLE", &full(theirs)).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            b.post("/clerk/queue/call", &[("window", "3"), ("csrf", theirs)])
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(counts(&h).await, before, "a refused form stored something");
        let day = h.node.node.today().format("%Y-%m-%d").to_string();
        // The kiosk and the login form need their own double-submit token.
        assert_eq!(
            b.post("/kiosk", &[("csrf", "x")]).await.status,
            StatusCode::FORBIDDEN
        );
        assert!(h.node.node.store.tickets(&day).await.unwrap().is_empty());
        let anon = Browser::new(&h.url);
        let p = anon
            .post(
                "/login",
                &[("username", "clerk1"), ("password", STAFF_PASSWORD)],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(anon.cookie("ow_session").is_none());
        // With the right token the same form goes through.
        let mine: &'static str = Box::leak(b.csrf("/clerk").await.into_boxed_str());
        let p = b.post("/clerk/apply/T-SIMPLE", &full(mine)).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        assert_eq!(counts(&h).await.1, before.1 + 1);
    })
    .await;
}

#[tokio::test]
async fn sessions_expire() {
    within(async {
        let clock = Arc::new(TestClock::at(1_790_000_000_000));
        let h = hall_with_clock(clock.clone()).await;
        let b = Browser::new(&h.url);
        b.login("clerk1").await;
        let token = b.csrf("/clerk").await;
        assert_eq!(b.get("/clerk").await.status, StatusCode::OK);
        // The default session lasts 480 minutes.
        clock.advance(480 * 60_000 + 1);
        let p = b.get("/clerk").await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert!(
            p.location.starts_with("/login?next=/clerk"),
            "{}",
            p.location
        );
        assert!(p.location.contains("expired=1"));
        let login = b.get(&p.location).await;
        assert!(login.body.contains("登录已过期"));
        let before = counts(&h).await;
        let p = b
            .post(
                "/clerk/apply/T-SIMPLE",
                &[
                    ("csrf", &token),
                    ("id_number", PERSON),
                    ("name", "张三"),
                    ("have_M1", "1"),
                    ("have_M2", "1"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert!(p.location.starts_with("/login"));
        assert_eq!(counts(&h).await, before);
    })
    .await;
}

#[tokio::test]
async fn the_clerk_issues_a_correction_notice_then_a_receipt_and_the_citizen_follows_it() {
    within(async {
        let h = hall().await;
        let b = Browser::new(&h.url);
        b.login("clerk1").await;
        // Search by pinyin initials: 测试事项 = cssx.
        let p = b.get("/clerk?q=cssx").await;
        assert!(p.body.contains("/clerk/apply/T-SIMPLE"));
        let json: Value =
            serde_json::from_str(&b.get("/matters/search?for=clerk&q=cssx").await.body).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
        // Missing the application form: a correction notice listing it.
        let n = submit(&b, "T-SIMPLE", false).await;
        let case = b.get(&format!("/clerk/cases/{n}")).await;
        assert!(case.body.contains("缺少《申请表》"), "{}", case.body);
        let doc = b.get(&format!("/cases/{n}/document")).await;
        assert_eq!(doc.status, StatusCode::OK);
        assert!(doc.body.contains("材料补正通知书") && doc.body.contains("申请表"));
        // The deadline in the matter's correction limit, what was already
        // received, how to follow the case, and the hall's telephone.
        for part in [
            "前补正（",
            "个工作日内）",
            "已收取：",
            "查询办理进度",
            "0757-8600 0000",
        ] {
            assert!(doc.body.contains(part), "{part}: {}", doc.body);
        }
        // The citizen: the wrong last four is "not found"; the right one shows what to bring.
        let anon = Browser::new(&h.url);
        let p = anon.get(&format!("/progress?number={n}&last4=0000")).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
        assert!(p.body.contains("未找到案件"), "{}", p.body);
        assert!(!p.body.contains("申请表"));
        let p = anon.get(&format!("/progress?number={n}&last4=002x")).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(
            p.body.contains("待补正") && p.body.contains("申请表"),
            "{}",
            p.body
        );
        // In English on request.
        anon.get("/lang/en?next=/progress").await;
        let p = anon.get(&format!("/progress?number={n}&last4=0000")).await;
        assert!(p.body.contains("No case"), "{}", p.body);
        // Resubmitted complete: a receipt with the QR code.
        let token = b.csrf(&format!("/clerk/cases/{n}/resubmit")).await;
        let p = b
            .post(
                &format!("/clerk/cases/{n}/resubmit"),
                &[("csrf", &token), ("have_M1", "1"), ("have_M2", "1")],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        let doc = b.get(&format!("/cases/{n}/document")).await;
        assert!(doc.body.contains("受理回执") && doc.body.contains("<svg"));
        // A service error is a page in the reader's language, not a dump.
        let p = b.get("/clerk/cases/NOT-A-NUMBER").await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert!(p.body.contains("<!doctype html>") && p.body.contains("id=\"error-message\""));
    })
    .await;
}

#[tokio::test]
async fn the_back_office_moves_the_case_and_refusals_show_on_the_page() {
    within(async {
        let h = hall().await;
        let clerk = Browser::new(&h.url);
        clerk.login("clerk1").await;
        let n = submit(&clerk, "T-PAR", true).await;
        let a1 = Browser::new(&h.url);
        a1.login("a.one").await;
        let q = a1.get("/approver").await;
        assert!(q.body.contains(&n), "the work queue lists the new case");
        let bdept = Browser::new(&h.url);
        bdept.login("b.one").await;
        assert_eq!(
            act(&a1, &n, &[("action", "start_handling")]).await.status,
            StatusCode::SEE_OTHER
        );
        // Department b sees its open sub-case and gives its opinion.
        assert!(bdept.get("/approver").await.body.contains(&n));
        assert_eq!(
            act(
                &bdept,
                &n,
                &[
                    ("action", "opinion"),
                    ("department", "b"),
                    ("approve", "yes"),
                    ("opinion", "同意")
                ]
            )
            .await
            .status,
            StatusCode::SEE_OTHER
        );
        act(
            &a1,
            &n,
            &[("action", "submit_for_review"), ("opinion", "拟同意")],
        )
        .await;
        // The handler is offered no review, and one posted anyway is
        // refused on the page.
        let page = a1.get(&format!("/approver/cases/{n}")).await;
        assert!(
            !page.body.contains("id=\"act-pass_review\"")
                && page
                    .body
                    .contains("id=\"review-refusal\">您承办了本案件，须由其他人员审核。<"),
            "{}",
            page.body
        );
        let p = act(
            &a1,
            &n,
            &[("action", "pass_review"), ("opinion", "审核通过")],
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(
            p.body.contains("您承办了本案件，须由其他人员审核"),
            "{}",
            p.body
        );
        let a2 = Browser::new(&h.url);
        a2.login("a.two").await;
        act(
            &a2,
            &n,
            &[("action", "pass_review"), ("opinion", "审核通过")],
        )
        .await;
        // The reviewer may not also decide: the refusal is a message on the page.
        let p = act(
            &a2,
            &n,
            &[
                ("action", "decide"),
                ("granted", "yes"),
                ("opinion", "准予"),
            ],
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(p.body.contains("审核与批准须由不同人员办理"), "{}", p.body);
        // Nor the handler, for a matter of three people; neither is offered
        // the decision.
        for who in [&a1, &a2] {
            let page = who.get(&format!("/approver/cases/{n}")).await;
            assert!(
                !page.body.contains("id=\"act-decide\"")
                    && page.body.contains("id=\"decide-refusal\""),
                "{}",
                page.body
            );
        }
        let a3 = Browser::new(&h.url);
        a3.login("a.three").await;
        // A decision is shown for confirmation first, and nothing is done.
        let p = act(
            &a3,
            &n,
            &[
                ("action", "decide"),
                ("granted", "yes"),
                ("opinion", "准予"),
            ],
        )
        .await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(
            p.body.contains("id=\"confirm-decide\"") && p.body.contains("不能撤销"),
            "{}",
            p.body
        );
        assert!(
            p.body.contains("审批中") || p.body.contains("s-approval"),
            "{}",
            p.body
        );
        assert_eq!(
            act(
                &a3,
                &n,
                &[
                    ("action", "decide"),
                    ("granted", "yes"),
                    ("opinion", "准予"),
                    ("confirm", "1"),
                ]
            )
            .await
            .status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            act(
                &a3,
                &n,
                &[("action", "result_ready"), ("result", "许可证 001")]
            )
            .await
            .status,
            StatusCode::SEE_OTHER
        );
        // The supervisor's case page names the hall that decided, apart
        // from the hall that holds the case now.
        let sup = Browser::new(&h.url);
        sup.login("sup1").await;
        let page = sup.get(&format!("/supervisor/cases/{n}")).await;
        assert!(
            page.body.contains("id=\"decided-at\">nanhai 服务中心<"),
            "{}",
            page.body
        );
        assert!(page.body.contains("当前办理节点"), "{}", page.body);
        // The window hands it out and the tablet takes the rating.
        let ready = clerk.get("/clerk").await;
        assert!(ready.body.contains(&n));
        let token = clerk.csrf(&format!("/clerk/cases/{n}")).await;
        // A wrong ID number and an unchecked document: each said next to
        // its field, and nothing is stored.
        let before = counts(&h).await;
        let p = clerk
            .post(
                &format!("/clerk/cases/{n}/handout"),
                &[
                    ("csrf", &token),
                    ("by", "in_person"),
                    ("document", "resident_id"),
                    ("id_number", "110105198001010016"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert!(
            p.body
                .contains("id=\"id_number-error\">证件号码与申请人不一致<")
                && p.body.contains("id=\"id_checked-error\">")
                && p.body.contains("value=\"110105198001010016\""),
            "{}",
            p.body
        );
        assert_eq!(counts(&h).await, before, "a bad entry stored something");
        // Confirmed first: who collects it, how, and that it is final.
        let in_person = [
            ("csrf", token.as_str()),
            ("by", "in_person"),
            ("document", "resident_id"),
            ("id_number", PERSON),
            ("id_checked", "yes"),
        ];
        let p = clerk
            .post(&format!("/clerk/cases/{n}/handout"), &in_person)
            .await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(
            p.body.contains("id=\"confirm-recipient\">张三<")
                && p.body.contains("已核验居民身份证（尾号002X）")
                && p.body.contains("不能撤销"),
            "{}",
            p.body
        );
        let confirmed: Vec<_> = in_person
            .iter()
            .copied()
            .chain([("confirm", "1")])
            .collect();
        let p = clerk
            .post(&format!("/clerk/cases/{n}/handout"), &confirmed)
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        let page = clerk.get(&format!("/clerk/cases/{n}")).await;
        assert!(
            page.body
                .contains("id=\"collected\">申请人张三本人领取，已核验居民身份证（尾号002X）<"),
            "{}",
            page.body
        );
        let p = clerk
            .post(
                &format!("/clerk/cases/{n}/rate"),
                &[("csrf", &token), ("score", "1")],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert!(
            clerk
                .get(&format!("/clerk/cases/{n}/rate"))
                .await
                .body
                .contains("感谢您的评价")
        );
        let row = h.node.node.store.case(&n).await.unwrap().unwrap();
        assert_eq!(row.state, "completed");
        assert_eq!(row.rating, Some(1));
    })
    .await;
}

async fn act(b: &Browser, n: &str, fields: &[(&str, &str)]) -> Page {
    let token = b.csrf(&format!("/approver/cases/{n}")).await;
    let mut f: Vec<(&str, &str)> = vec![("csrf", &token)];
    f.extend_from_slice(fields);
    b.post(&format!("/approver/cases/{n}"), &f).await
}

/// The total of today's column of the volume chart.
fn todays_volume(html: &str, today: &str) -> i64 {
    let at = html.find("id=\"chart-volume\"").expect("volume chart");
    let key = format!("data-label=\"{today}\" data-value=\"");
    let i = html[at..].find(&key).expect("a column for today") + at + key.len();
    html[i..i + html[i..].find('"').unwrap()].parse().unwrap()
}

#[tokio::test]
async fn statistics_count_a_new_case_and_every_table_exports_as_csv() {
    within(async {
        let h = hall().await;
        let sup = Browser::new(&h.url);
        sup.login("sup1").await;
        let today = h.node.node.today().format("%Y-%m-%d").to_string();
        let before = todays_volume(&sup.get("/supervisor/stats").await.body, &today);
        let clerk = Browser::new(&h.url);
        clerk.login("clerk1").await;
        let n = submit(&clerk, "T-SIMPLE", true).await;
        let page = sup.get("/supervisor/stats").await;
        assert_eq!(todays_volume(&page.body, &today), before + 1);
        for id in [
            "chart-volume",
            "chart-immediate",
            "chart-matters",
            "chart-departments",
            "chart-halls",
            "chart-handling",
            "chart-waits",
            "chart-ratings",
        ] {
            assert!(page.body.contains(&format!("<svg id=\"{id}\"")), "{id}");
        }
        // Search, then export what was found.
        let found = sup.get("/supervisor/search?last4=002X&matter=cssx").await;
        assert!(found.body.contains(&n));
        let csv = sup
            .get("/supervisor/export/search?last4=002X&matter=cssx")
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(
            csv.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        assert!(
            csv.headers["content-disposition"]
                .to_str()
                .unwrap()
                .contains("attachment")
        );
        assert!(csv.body.starts_with('\u{feff}'), "UTF-8 with BOM");
        let mut lines = csv.body.trim_start_matches('\u{feff}').lines();
        assert_eq!(
            lines.next().unwrap(),
            "案件编号,事项,部门,受理大厅,状态,收件时间,承诺时限,剩余工作日,预警"
        );
        let row = lines.next().unwrap();
        assert!(
            row.starts_with(&format!(
                "{n},测试事项T-SIMPLE,甲局,nanhai 服务中心,已受理,"
            )),
            "{row}"
        );
        // The export of personal data is an audit record with who and how
        // much.
        let kept = h
            .node
            .node
            .store
            .audit_actions(None, Some("data_exported"), 10)
            .await
            .unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(
            (kept[0].2.target.as_str(), kept[0].2.detail.as_str()),
            ("search", "1 rows as CSV")
        );
        assert_eq!(kept[0].2.role, "supervisor");
        // Every table of the statistics page exports.
        for id in [
            "stats-days",
            "stats-matters",
            "stats-departments",
            "stats-halls",
            "stats-handling",
            "stats-queue",
            "stats-ratings",
            "stats-states",
            "stats-trust",
        ] {
            let c = sup.get(&format!("/supervisor/export/{id}?days=30")).await;
            assert_eq!(c.status, StatusCode::OK, "{id}");
            assert!(c.body.starts_with('\u{feff}'));
            assert!(
                page.body.contains(&format!("{id}?days=30")),
                "{id} is linked"
            );
        }
        let days = sup.get("/supervisor/export/stats-days?days=7").await;
        assert_eq!(days.body.lines().count(), 8, "a header and seven days");
        let fleet = sup.get("/supervisor/export/fleet").await;
        assert!(
            fleet.body.contains("nanhai 服务中心 (nanhai)（本节点）"),
            "{}",
            fleet.body
        );
        let sec = sup.get("/supervisor/export/security").await;
        assert_eq!(sec.body.lines().count(), 1, "the header only");
        let fleet_page = sup.get("/supervisor/fleet").await;
        assert!(fleet_page.body.contains("尚无下级节点接入"));
        assert!(fleet_page.body.contains("没有安全事件"));
        for id in ["red", "yellow"] {
            let c = sup.get(&format!("/supervisor/export/{id}")).await;
            assert_eq!(c.status, StatusCode::OK);
        }
        assert_eq!(
            sup.get("/supervisor/export/nothing").await.status,
            StatusCode::NOT_FOUND
        );
    })
    .await;
}

#[tokio::test]
async fn overdue_cases_turn_red_on_the_watch_list() {
    within(async {
        let clock = Arc::new(TestClock::at(1_790_000_000_000));
        let h = hall_with_clock(clock.clone()).await;
        let clerk = Browser::new(&h.url);
        clerk.login("clerk1").await;
        let n = submit(&clerk, "T-SIMPLE", true).await;
        let sup = Browser::new(&h.url);
        sup.login("sup1").await;
        let p = sup.get("/supervisor").await;
        assert!(
            p.body.contains("id=\"red-count\">0<"),
            "nothing overdue yet"
        );
        // A 5-working-day limit is yellow in its last working day only (20%
        // of it, and never less than the due day): not on the day accepted.
        assert!(p.body.contains("id=\"yellow-count\">0<"), "{}", p.body);
        let mut days = 0;
        let p = loop {
            clock.advance(86_400_000);
            days += 1;
            sup.login("sup1").await;
            let p = sup.get("/supervisor").await;
            if !p.body.contains("id=\"yellow-count\">0<") || days > 12 {
                break p;
            }
        };
        assert!(p.body.contains("id=\"yellow-count\">1<"), "{}", p.body);
        assert!(days >= 5, "yellow after {days} days");
        assert!(p.body.contains("今日到期"), "days left says due today");
        assert!(
            p.body.contains("class=\"nowrap\""),
            "dates stay on one line"
        );
        // The hall filter: this hall has it, another none.
        assert!(p.body.contains("id=\"hall-filter\""));
        let mine = sup.get("/supervisor?hall=nanhai").await;
        assert!(
            mine.body.contains("id=\"yellow-count\">1<"),
            "{}",
            mine.body
        );
        let other = sup.get("/supervisor?hall=nanhai.elsewhere").await;
        assert!(
            other.body.contains("id=\"yellow-count\">0<"),
            "{}",
            other.body
        );
        let csv = sup
            .get("/supervisor/export/yellow?hall=nanhai.elsewhere")
            .await;
        assert!(!csv.body.contains(&n), "{}", csv.body);
        let csv = sup.get("/supervisor/export/yellow?hall=nanhai").await;
        assert!(
            csv.body.contains(&n) && csv.body.contains("今日到期"),
            "{}",
            csv.body
        );
        // Three weeks later nobody has touched it: past its 5-working-day limit.
        clock.advance(21 * 86_400_000);
        sup.login("sup1").await;
        let p = sup.get("/supervisor").await;
        assert!(p.body.contains("id=\"red-count\">1<"), "{}", p.body);
        assert!(p.body.contains(&n));
        let csv = sup.get("/supervisor/export/red").await;
        assert!(csv.body.contains(&n) && csv.body.contains("红色预警"));
    })
    .await;
}

#[tokio::test]
async fn the_fleet_page_shows_refused_and_held_back_links_in_both_languages() {
    within(async {
        let h = hall().await;
        let s = &h.node.node.store;
        let now = h.node.node.now_ms();
        s.link_refused("nanhai.guicheng", "fork", None, now)
            .await
            .unwrap();
        assert_eq!(
            s.link_refused("nanhai.guicheng", "fork", None, now)
                .await
                .unwrap(),
            2
        );
        s.link_refused("nanhai.dali", "catalogue_missing", Some(3), now)
            .await
            .unwrap();
        let sup = Browser::new(&h.url);
        sup.login("sup1").await;
        let page = sup.get("/supervisor/fleet").await;
        assert!(page.body.contains("链路状态"), "{}", page.body);
        assert!(
            page.body.contains("被拒绝（fork，连续 2 次）"),
            "{}",
            page.body
        );
        assert!(page.body.contains("暂缓：等待目录版本 3"), "{}", page.body);
        sup.get("/lang/en?next=/supervisor/fleet").await;
        let en = sup.get("/supervisor/fleet").await;
        assert!(en.body.contains("Link state"), "{}", en.body);
        assert!(en.body.contains("refused fork (count 2)"), "{}", en.body);
        assert!(
            en.body
                .contains("held back: waiting for catalogue version 3"),
            "{}",
            en.body
        );
        // Progress ends the run.
        s.link_progressed("nanhai.guicheng").await.unwrap();
        let page = sup.get("/supervisor/fleet").await;
        assert!(!page.body.contains("refused fork"), "{}", page.body);
    })
    .await;
}

#[tokio::test]
async fn the_fleet_page_shows_when_each_certificate_expires() {
    within(async {
        let h = hall().await;
        let s = &h.node.node.store;
        // Certificates are judged by the machine's clock, as TLS judges them.
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        const DAY: i64 = 86_400_000;
        // Three children as their links recorded them: a certificate in its
        // first month, one past two thirds of its life, one expired.
        for (child, born, dies) in [
            ("nanhai.guicheng", now - 10 * DAY, now + 815 * DAY),
            ("nanhai.dali", now - 600 * DAY, now + 225 * DAY),
            ("nanhai.lishui", now - 825 * DAY, now - DAY),
        ] {
            s.fleet_seen(&node::store::PeerSeen {
                node_id: child,
                connected: true,
                remote: None,
                software: "0.1.0",
                catalogue_version: 1,
                backlog: None,
                acked: None,
                skew_ms: None,
                now_ms: now,
            })
            .await
            .unwrap();
            s.fleet_certificate(child, "ab12", born / 1000, dies / 1000)
                .await
                .unwrap();
        }
        let sup = Browser::new(&h.url);
        sup.login("sup1").await;
        let page = sup.get("/supervisor/fleet").await;
        assert!(
            page.body.contains("<th>证书</th>") || page.body.contains(">证书<"),
            "{}",
            page.body
        );
        assert!(page.body.contains("有效，剩 81"), "{}", page.body);
        assert!(
            page.body.contains("已过有效期三分之二，应续期（剩 22"),
            "{}",
            page.body
        );
        assert!(page.body.contains("已过期"), "{}", page.body);
        sup.get("/lang/en?next=/supervisor/fleet").await;
        let en = sup.get("/supervisor/fleet").await;
        assert!(en.body.contains("Certificate"), "{}", en.body);
        assert!(
            en.body.contains("past two thirds of its life: renew"),
            "{}",
            en.body
        );
        assert!(en.body.contains("expired"), "{}", en.body);
        let csv = sup.get("/supervisor/export/fleet").await;
        assert!(
            csv.body.contains("已过期") || csv.body.contains("expired"),
            "{}",
            csv.body
        );
    })
    .await;
}

#[tokio::test]
async fn an_approver_answers_a_bad_rating_on_the_case_page() {
    within(async {
        let clock = Arc::new(TestClock::at(onewindow_tests::START_MS));
        let h = hall_with_clock(clock.clone()).await;
        let clerk = Browser::new(&h.url);
        clerk.login("clerk1").await;
        let n = submit(&clerk, "T-SIMPLE", true).await;
        let a1 = Browser::new(&h.url);
        a1.login("a.one").await;
        let a2 = Browser::new(&h.url);
        a2.login("a.two").await;
        let a3 = Browser::new(&h.url);
        a3.login("a.three").await;
        for (who, fields) in [
            (&a1, vec![("action", "start_handling")]),
            (
                &a1,
                vec![("action", "submit_for_review"), ("opinion", "拟同意")],
            ),
            (
                &a2,
                vec![("action", "pass_review"), ("opinion", "审核通过")],
            ),
            (
                &a3,
                vec![
                    ("action", "decide"),
                    ("granted", "yes"),
                    ("opinion", "准予"),
                    ("confirm", "1"),
                ],
            ),
            (
                &a3,
                vec![("action", "result_ready"), ("result", "准予通知书")],
            ),
        ] {
            let p = act(who, &n, &fields).await;
            assert_eq!(p.status, StatusCode::SEE_OTHER, "{fields:?}: {}", p.body);
        }
        // The window hands it out and the tablet takes a bad rating.
        let token = clerk.csrf(&format!("/clerk/cases/{n}")).await;
        for (path, fields) in [
            (
                "handout",
                vec![
                    ("csrf", token.as_str()),
                    ("by", "proxy"),
                    ("proxy_name", "李四"),
                    ("proxy_id", "110105198001010016"),
                    ("authorisation", "yes"),
                    ("confirm", "1"),
                ],
            ),
            ("rate", vec![("csrf", token.as_str()), ("score", "5")]),
        ] {
            let p = clerk
                .post(&format!("/clerk/cases/{n}/{path}"), &fields)
                .await;
            assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}: {}", p.body);
        }
        // The supervisor's page lists it once it is near its due day (12-14)
        // and red once past it; staff log in again after the weeks.
        let sup = Browser::new(&h.url);
        sup.login("sup1").await;
        let follow_ups = |html: &str| {
            let at = html
                .find("id=\"table-follow_up\"")
                .expect("the follow-up table");
            html[at..at + html[at..].find("</table>").unwrap()].to_owned()
        };
        assert!(!follow_ups(&sup.get("/supervisor").await.body).contains(&n));
        clock.advance(22 * 86_400_000);
        sup.login("sup1").await;
        let listed = follow_ups(&sup.get("/supervisor").await.body);
        assert!(
            listed.contains(&n) && listed.contains("row-red") && listed.contains("超期 1 个工作日"),
            "{listed}"
        );
        assert!(
            sup.get("/supervisor")
                .await
                .body
                .contains("id=\"follow-up-count\">1<"),
            "the figure counts it"
        );
        let csv = sup.get("/supervisor/export/follow_up").await;
        assert!(csv.body.contains(&n), "{}", csv.body);
        a1.login("a.one").await;
        let page = a1.get(&format!("/approver/cases/{n}")).await;
        assert!(page.body.contains("id=\"follow-up\""), "{}", page.body);
        assert!(page.body.contains("2026-12-14"), "due in 15 working days");
        assert!(page.body.contains("5/5"), "{}", page.body);
        // An empty answer is refused on the page; an answer closes it.
        let p = act(&a1, &n, &[("action", "follow_up"), ("answer", " ")]).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
        let p = act(
            &a1,
            &n,
            &[("action", "follow_up"), ("answer", "已电话回访，增开窗口")],
        )
        .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        let page = a1.get(&format!("/approver/cases/{n}")).await;
        assert!(!page.body.contains("id=\"follow-up\""), "{}", page.body);
        assert!(page.body.contains("差评回访"), "{}", page.body);
        assert!(page.body.contains("已电话回访，增开窗口"), "{}", page.body);
        let row = h.node.node.store.case(&n).await.unwrap().unwrap();
        assert_eq!(row.follow_up_due, None);
        assert!(!follow_ups(&sup.get("/supervisor").await.body).contains(&n));
    })
    .await;
}

#[tokio::test]
async fn an_approver_appeals_a_warning_and_the_district_supervisor_revokes_it_on_the_case_pages() {
    within(async {
        let clock = Arc::new(TestClock::at(onewindow_tests::START_MS));
        let h = hall_with_clock(clock.clone()).await;
        let clerk = Browser::new(&h.url);
        clerk.login("clerk1").await;
        let n = submit(&clerk, "T-SIMPLE", true).await;
        // Monday 11-30: its due day, yellow. Staff log in again after the
        // week.
        clock.advance(7 * 86_400_000);
        let a1 = Browser::new(&h.url);
        a1.login("a.one").await;
        let page = a1.get(&format!("/approver/cases/{n}")).await;
        assert!(
            page.body.contains("id=\"appeal-deadline-yellow\"")
                && page.body.contains("预警申诉：黄色预警 · 办理时限"),
            "{}",
            page.body
        );
        let empty = act(
            &a1,
            &n,
            &[
                ("action", "appeal_warning"),
                ("rule", "deadline"),
                ("level", "yellow"),
                ("reason", " "),
            ],
        )
        .await;
        assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.body);
        let p = act(
            &a1,
            &n,
            &[
                ("action", "appeal_warning"),
                ("rule", "deadline"),
                ("level", "yellow"),
                ("reason", "停电两天"),
            ],
        )
        .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        let page = a1.get(&format!("/approver/cases/{n}")).await;
        assert!(
            !page.body.contains("id=\"appeal-deadline-yellow\"")
                && page.body.contains("a.one（")
                && page.body.contains("申诉：停电两天")
                && page.body.contains("申诉中"),
            "{}",
            page.body
        );

        let sup = Browser::new(&h.url);
        sup.login("sup1").await;
        let overview = sup.get("/supervisor").await;
        assert!(overview.body.contains("申诉中"), "{}", overview.body);
        assert!(
            overview.body.contains("id=\"yellow-count\">1<"),
            "{}",
            overview.body
        );
        let case = format!("/supervisor/cases/{n}");
        let page = sup.get(&case).await;
        assert!(
            page.body.contains("id=\"decide-deadline-yellow\""),
            "{}",
            page.body
        );
        let token = csrf(&page.body[page.body.find("id=\"decide-deadline-yellow\"").unwrap()..]);
        let p = sup
            .post(
                &format!("{case}/appeal"),
                &[
                    ("csrf", token.as_str()),
                    ("rule", "deadline"),
                    ("level", "yellow"),
                    ("verdict", "revoke"),
                    ("reason", "经核实停电属实"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        let page = sup.get(&case).await;
        assert!(
            page.body.contains("sup1@nanhai 裁定撤销：经核实停电属实")
                && !page.body.contains("id=\"decide-deadline-yellow\""),
            "{}",
            page.body
        );
        // Listed as revoked, uncoloured, and not counted.
        let overview = sup.get("/supervisor").await;
        assert!(
            overview.body.contains("申诉撤销") && overview.body.contains("id=\"yellow-count\">0<"),
            "{}",
            overview.body
        );
        sup.get("/lang/en?next=/supervisor").await;
        let en = sup.get(&case).await;
        assert!(
            en.body.contains("Revoked by sup1@nanhai: 经核实停电属实"),
            "{}",
            en.body
        );
    })
    .await;
}

#[tokio::test]
async fn the_acceptance_form_sent_twice_makes_one_case() {
    within(async {
        let h = hall().await;
        let b = Browser::new(&h.url);
        b.login("clerk1").await;
        let page = b.get("/clerk/apply/T-SIMPLE").await;
        let token = csrf(&page.body);
        let marker = "name=\"submission_key\" value=\"";
        let i = page
            .body
            .find(marker)
            .expect("a submission key in the form");
        let rest = &page.body[i + marker.len()..];
        let key = rest[..rest.find('"').unwrap()].to_owned();
        assert_eq!(key.len(), 32, "{key}");
        // Each showing of the form has its own key.
        assert!(!b.get("/clerk/apply/T-SIMPLE").await.body.contains(&key));
        let form = [
            ("csrf", token.as_str()),
            ("submission_key", key.as_str()),
            ("kind", "person"),
            ("id_number", PERSON),
            ("name", "张三"),
            ("have_M1", "1"),
            ("have_M2", "1"),
            ("decision", "accept"),
        ];
        let before = counts(&h).await;
        // A double click, or the answer lost and the form sent again.
        let first = b.post("/clerk/apply/T-SIMPLE", &form).await;
        let second = b.post("/clerk/apply/T-SIMPLE", &form).await;
        assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
        assert_eq!(second.status, StatusCode::SEE_OTHER, "{}", second.body);
        assert_eq!(first.location, second.location);
        assert!(first.location.starts_with("/clerk/cases/"));
        let after = counts(&h).await;
        assert_eq!(after.1, before.1 + 1, "one case, not two");
    })
    .await;
}

#[tokio::test]
async fn a_window_holds_one_number_calls_it_again_and_records_a_no_show() {
    within(async {
        let h = hall().await;
        for _ in 0..2 {
            h.node.node.take_ticket(None).await.unwrap();
        }
        let b = Browser::new(&h.url);
        b.login("clerk1").await;
        let token = b.csrf("/clerk").await;
        let form = [("window", "3"), ("csrf", token.as_str())];
        let call = || b.post("/clerk/queue/call", &form);
        assert_eq!(call().await.status, StatusCode::SEE_OTHER);
        let home = b.get("/clerk").await;
        assert!(home.body.contains("请 A001 号到 3 号窗口"), "{}", home.body);
        assert!(home.body.contains("id=\"no-show-A001\""), "{}", home.body);
        // A001 is still open at window 3: the next call is refused.
        let busy = call().await;
        assert_eq!(busy.status, StatusCode::CONFLICT);
        assert!(
            busy.body.contains("A001 号仍在 3 号窗口办理"),
            "{}",
            busy.body
        );
        let a1 = h.node.node.tickets_today().await.unwrap()[0].clone();
        assert_eq!(a1.number, "A001");
        let recall = b
            .post(
                &format!("/clerk/queue/{}/recall", a1.id),
                &[("csrf", &token)],
            )
            .await;
        assert_eq!(recall.status, StatusCode::SEE_OTHER);
        assert!(b.get("/clerk").await.body.contains("请 A001 号到 3 号窗口"));
        let gone = b
            .post(
                &format!("/clerk/queue/{}/no-show", a1.id),
                &[("csrf", &token)],
            )
            .await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);
        assert!(b.get("/clerk").await.body.contains("A001 号未到，已记录"));
        assert_eq!(call().await.status, StatusCode::SEE_OTHER);
        assert!(b.get("/clerk").await.body.contains("请 A002 号到 3 号窗口"));
        let all = h.node.node.tickets_today().await.unwrap();
        let status: Vec<(&str, &str)> = all
            .iter()
            .map(|t| (t.number.as_str(), t.status.as_str()))
            .collect();
        assert_eq!(status, vec![("A001", "no_show"), ("A002", "called")]);
        // A number that is not called cannot be called again.
        let again = b
            .post(
                &format!("/clerk/queue/{}/recall", a1.id),
                &[("csrf", &token)],
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
    })
    .await;
}

#[tokio::test]
async fn the_window_takes_a_booking_code_never_free_text() {
    within(async {
        let clock = Arc::new(StartedClock::at(onewindow_tests::START_MS));
        let h = hall_with_clock(clock.clone()).await;
        // A booking of 10:30-11:00; it is 10:00, so its check-in opens in
        // a quarter of an hour.
        let booked = h
            .node
            .node
            .book(&node::service::BookingRequest {
                matter: "T-SIMPLE".into(),
                date: "2026-11-23".into(),
                start: "10:30".into(),
                name: "张三".into(),
                id_number: PERSON.into(),
                phone: "13800000000".into(),
            })
            .await
            .unwrap();
        let b = Browser::new(&h.url);
        b.login("clerk1").await;
        let token = b.csrf("/clerk").await;
        let take = |code: &str| {
            let (code, token, b) = (code.to_owned(), token.clone(), &b);
            async move {
                let form = [("booking", code.as_str()), ("csrf", token.as_str())];
                b.post("/clerk/queue/take", &form).await
            }
        };
        assert_eq!(take("YY20261123001").await.status, StatusCode::SEE_OTHER);
        let home = b.get("/clerk").await;
        assert!(home.body.contains("没有这个预约码"), "{}", home.body);
        take(&booked.code).await;
        let home = b.get("/clerk").await;
        assert!(
            home.body.contains("2026-11-23 10:30–11:00") && home.body.contains("10:15"),
            "{}",
            home.body
        );
        assert!(h.node.node.tickets_today().await.unwrap().is_empty());
        clock.advance(20 * 60_000);
        take(&booked.code).await;
        assert!(b.get("/clerk").await.body.contains("已取号 B001"));
        let all = h.node.node.tickets_today().await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].appointment.as_deref(), Some(booked.code.as_str()));
        // At the kiosk, an empty booking code is refused, not taken for a
        // walk-in, and the kiosk says why.
        let kiosk = Browser::new(&h.url);
        let form_token = kiosk.csrf("/kiosk").await;
        let refused = kiosk
            .post("/kiosk", &[("csrf", form_token.as_str()), ("booking", " ")])
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
        assert!(refused.body.contains("没有这个预约码"), "{}", refused.body);
        assert!(
            refused.body.contains("id=\"k-booking\""),
            "{}",
            refused.body
        );
        assert_eq!(h.node.node.tickets_today().await.unwrap().len(), 1);
        // The field is the booking code, and a called number shows it.
        let call = [("window", "3"), ("csrf", token.as_str())];
        b.post("/clerk/queue/call", &call).await;
        let home = b.get("/clerk").await;
        assert!(
            home.body.contains("id=\"booking\" name=\"booking\""),
            "{}",
            home.body
        );
        assert!(
            home.body.contains(&format!("预约 {}", booked.code)),
            "{}",
            home.body
        );
    })
    .await;
}

#[tokio::test]
async fn the_clerk_sees_the_halls_open_cases_and_the_root_has_no_link_banner() {
    within(async {
        let h = hall().await;
        let b = Browser::new(&h.url);
        b.login("clerk1").await;
        let n = submit(&b, "T-SIMPLE", true).await;
        let home = b.get("/clerk").await;
        let row = home
            .body
            .split(&format!("<tr data-case=\"{n}\">"))
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .unwrap_or_else(|| panic!("{n} not listed: {}", home.body));
        assert!(row.contains("本厅") && row.contains("s-accepted"), "{row}");
        // The district has no parent: no link banner.
        assert!(!home.body.contains("id=\"link-state\""), "{}", home.body);
        // A case waiting for correction is listed there, not here.
        let m = submit(&b, "T-SIMPLE", false).await;
        let home = b.get("/clerk").await;
        assert!(!home.body.contains(&format!("<tr data-case=\"{m}\">")));
    })
    .await;
}

#[tokio::test]
async fn a_non_acceptance_is_confirmed_before_it_is_issued() {
    within(async {
        let h = hall().await;
        let b = Browser::new(&h.url);
        b.login("clerk1").await;
        let token = b.csrf("/clerk/apply/T-SIMPLE").await;
        let form = |reason: &'static str, confirm: bool| {
            let mut f = vec![
                ("csrf", token.clone()),
                ("kind", "person".into()),
                ("id_number", PERSON.into()),
                ("name", "张三".into()),
                ("have_M1", "1".into()),
                ("decision", "reject".into()),
                ("reject_reason", reason.into()),
            ];
            if confirm {
                f.push(("confirm", "1".into()));
            }
            f
        };
        let post = |f: Vec<(&'static str, String)>| {
            let b = &b;
            async move {
                let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
                b.post("/clerk/apply/T-SIMPLE", &pairs).await
            }
        };
        let before = counts(&h).await;
        // No reason: the field is named in words, nothing stored.
        let p = post(form("", false)).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert!(p.body.contains("请填写不予受理的理由"), "{}", p.body);
        // Next to its field, not above the form.
        assert!(
            p.body.contains("id=\"reject_reason-error\"") && !p.body.contains("id=\"page-error\""),
            "{}",
            p.body
        );
        // A reason: the form comes back, every field kept, asking to confirm.
        let p = post(form("不属于本机关职权范围", false)).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(
            p.body.contains("id=\"confirm-reject\"")
                && p.body.contains("不属于本机关职权范围")
                && p.body.contains("value=\"张三\""),
            "{}",
            p.body
        );
        assert_eq!(
            counts(&h).await,
            before,
            "nothing is stored before the confirmation"
        );
        // Confirmed: the decision is issued.
        let p = post(form("不属于本机关职权范围", true)).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        let n = p.location.trim_start_matches("/clerk/cases/").to_owned();
        let doc = b.get(&format!("/cases/{n}/document")).await;
        assert!(doc.body.contains("不予受理决定书"), "{}", doc.body);
        // It names where to appeal, from the hall's configuration.
        assert!(
            doc.body.contains("向佛山市南海区人民政府申请行政复议")
                && doc.body.contains("向佛山市南海区人民法院提起行政诉讼"),
            "{}",
            doc.body
        );
    })
    .await;
}

/// An applicant's bad ID number, empty name or bad phone is told next to
/// its field, in the page's language, and stores nothing.
#[tokio::test]
async fn an_applicant_field_in_error_is_told_next_to_it_in_the_pages_language() {
    within(async {
        let h = hall().await;
        let b = Browser::new(&h.url);
        b.login("clerk1").await;
        let before = counts(&h).await;
        for (lang, id, name, phone, field, words) in [
            ("zh", "110105194912310021", "张三", "", "id_number", "校验"),
            ("en", "110105194912310021", "张三", "", "id_number", "check"),
            ("zh", PERSON, "", "", "name", "请填写"),
            ("en", PERSON, "张三", "12ab", "phone", "hone"),
        ] {
            b.get(&format!("/lang/{lang}?next=/clerk")).await;
            let token = b.csrf("/clerk/apply/T-SIMPLE").await;
            let form = [
                ("csrf", token.as_str()),
                ("kind", "person"),
                ("id_number", id),
                ("name", name),
                ("phone", phone),
                ("have_M1", "1"),
            ];
            let p = b.post("/clerk/apply/T-SIMPLE", &form).await;
            assert_eq!(p.status, StatusCode::BAD_REQUEST, "{field}: {}", p.body);
            let at = p
                .body
                .find(&format!("id=\"{field}-error\""))
                .unwrap_or_else(|| panic!("{field}: no error next to it: {}", p.body));
            let told = &p.body[at..at + p.body[at..].find("</small>").unwrap()];
            assert!(told.contains(words), "{lang} {field}: {told}");
            assert!(
                p.body.contains(&format!("id=\"{field}\""))
                    && p.body.contains("aria-invalid=\"true\""),
                "{field}"
            );
            assert!(!p.body.contains("id=\"page-error\""), "{field}: {}", p.body);
        }
        assert_eq!(counts(&h).await, before, "nothing stored");
    })
    .await;
}

/// The applicant rates from the progress page: the answer to a closed
/// case holds the rating form, with the public forms' double-submit
/// token; a post without it, or with a wrong ID key, stores nothing; the
/// rating is recorded with channel `web`, and a second one, from the
/// progress page or the QR code's page, is refused in words.
#[tokio::test]
async fn a_rating_from_the_progress_page_is_recorded_once() {
    within(async {
        let h = hall().await;
        let clerk = Browser::new(&h.url);
        clerk.login("clerk1").await;
        // A trust-first result, issued at once on the applicant's pledge.
        let token = clerk.csrf("/clerk/apply/T-TRUST").await;
        let form = clerk.get("/clerk/apply/T-TRUST").await;
        assert!(
            form.body.contains("本人承诺所报信息真实"),
            "the pledge is shown"
        );
        let p = clerk
            .post(
                "/clerk/apply/T-TRUST",
                &[
                    ("csrf", token.as_str()),
                    ("kind", "person"),
                    ("id_number", PERSON),
                    ("name", "张三"),
                    ("have_M1", "1"),
                    ("have_M2", "1"),
                    ("pledge_signed", "1"),
                    ("decision", "accept"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        let n = p.location.trim_start_matches("/clerk/cases/").to_owned();
        assert_eq!(
            h.node
                .node
                .case_for_staff(&n)
                .await
                .unwrap()
                .case
                .state
                .as_str(),
            "completed"
        );

        let citizen = Browser::new(&h.url);
        let page = citizen
            .get(&format!("/progress?number={n}&last4=002x"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("id=\"progress-rate-form\""),
            "{}",
            page.body
        );
        assert!(page.body.contains("事后核查将于"), "the post-check's day");
        let token = csrf(&page.body);
        let before = counts(&h).await;
        let rate = |t: &str, last4: &str| {
            vec![
                ("csrf".to_owned(), t.to_owned()),
                ("number".to_owned(), n.clone()),
                ("last4".to_owned(), last4.to_owned()),
                ("score".to_owned(), "2".to_owned()),
                ("comment".to_owned(), "很方便".to_owned()),
            ]
        };
        let post = |form: Vec<(String, String)>| {
            let c = &citizen;
            async move {
                let form: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                c.post("/rate", &form).await
            }
        };
        let p = post(rate("", "002X")).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        let p = post(rate(&token, "1234")).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.body);
        assert_eq!(
            counts(&h).await,
            before,
            "a refused rating stored something"
        );
        let p = post(rate(&token, "002x")).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        assert!(
            p.location.starts_with("/progress?number="),
            "{}",
            p.location
        );
        let page = citizen.get(&p.location).await;
        assert!(page.body.contains("id=\"rated\""), "{}", page.body);
        assert!(!page.body.contains("id=\"progress-rate-form\""));
        let case = h.node.node.case_for_staff(&n).await.unwrap().case;
        let rating = case.rating.unwrap();
        assert_eq!((rating.score, rating.channel.as_str()), (2, "web"));
        assert_eq!(rating.comment, "很方便");
        // Once per case, whatever the channel.
        let before = counts(&h).await;
        let p = post(rate(&token, "002X")).await;
        assert_eq!(p.status, StatusCode::CONFLICT);
        assert!(p.body.contains("每件只能评价一次"), "{}", p.body);
        let link = h.node.node.rating_link(&n);
        let path = &link[link.find("/rate").unwrap()..];
        let page = citizen.get(path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("id=\"rated\""), "{}", page.body);
        let key = path.split("k=").nth(1).unwrap();
        let p = post(vec![
            ("csrf".to_owned(), token.clone()),
            ("number".to_owned(), n.clone()),
            ("k".to_owned(), key.to_owned()),
            ("score".to_owned(), "1".to_owned()),
        ])
        .await;
        assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
        // A made-up key opens nothing.
        let bad = citizen
            .get(&format!("/rate?n={n}&k={}", "0".repeat(32)))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("评价链接无效"));
        assert_eq!(
            counts(&h).await,
            before,
            "a refused rating stored something"
        );
    })
    .await;
}

/// The public rating page without a link takes the case number and the
/// 8-digit code of the SMS sent on completion: a wrong code is refused in
/// words and stores nothing; the right one records the rating with
/// channel `sms`, once.
#[tokio::test]
async fn a_rating_with_the_sms_code_is_recorded_once() {
    within(async {
        let h = hall().await;
        let clerk = Browser::new(&h.url);
        clerk.login("clerk1").await;
        let token = clerk.csrf("/clerk/apply/T-TRUST").await;
        let p = clerk
            .post(
                "/clerk/apply/T-TRUST",
                &[
                    ("csrf", token.as_str()),
                    ("kind", "person"),
                    ("id_number", PERSON),
                    ("name", "张三"),
                    ("have_M1", "1"),
                    ("have_M2", "1"),
                    ("pledge_signed", "1"),
                    ("decision", "accept"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        let n = p.location.trim_start_matches("/clerk/cases/").to_owned();
        let citizen = Browser::new(&h.url);
        let page = citizen.get("/rate").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("id=\"sms-rate-form\""), "{}", page.body);
        assert!(page.body.contains("短信评价码"), "{}", page.body);
        let token = csrf(&page.body);
        let code = h.node.node.sms_code(&n);
        let wrong = if code == "12345678" {
            "87654321"
        } else {
            "12345678"
        };
        let form = |code: &str| {
            vec![
                ("csrf".to_owned(), token.clone()),
                ("number".to_owned(), n.to_lowercase()),
                ("code".to_owned(), code.to_owned()),
                ("score".to_owned(), "1".to_owned()),
                ("comment".to_owned(), "短信".to_owned()),
            ]
        };
        let post = |form: Vec<(String, String)>| {
            let c = &citizen;
            async move {
                let form: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                c.post("/rate", &form).await
            }
        };
        let before = counts(&h).await;
        let p = post(form(wrong)).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
        assert!(p.body.contains("短信评价码不正确"), "{}", p.body);
        assert!(p.body.contains("id=\"sms-rate-form\""), "the form again");
        assert_eq!(
            counts(&h).await,
            before,
            "a refused rating stored something"
        );
        let p = post(form(&code)).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        assert!(p.body.contains("id=\"rated\""), "{}", p.body);
        let case = h.node.node.case_for_staff(&n).await.unwrap().case;
        let rating = case.rating.unwrap();
        assert_eq!((rating.score, rating.channel.as_str()), (1, "sms"));
        assert_eq!(rating.comment, "短信");
        let before = counts(&h).await;
        let p = post(form(&code)).await;
        assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
        assert!(p.body.contains("每件只能评价一次"), "{}", p.body);
        assert_eq!(counts(&h).await, before, "a second rating stored something");
    })
    .await;
}
