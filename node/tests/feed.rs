//! Department systems joined to a real node over real HTTP: a client that
//! follows the feed of its department's case events page by page, across
//! a restart of the node on the same store, and posts a decision as the
//! department's approver; credentials of another department, revoked or
//! unknown; webhook receivers on loopback that are down, fail, and come
//! up, with every body's signature checked.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::catalogue::{complete_materials, test_catalogue};
use common::{Client, TestNode, counts, staff};
use onewindow_node::config::Config;
use onewindow_node::service::StartedClock;
use serde_json::{Value, json};

const PERSON: &str = "11010519491231002X";

struct Hall {
    t: TestNode,
    admin: Client,
    clerk: Client,
    a1: Client,
    a2: Client,
}

/// A district node with the test catalogue published (by this call when
/// `fresh`), its `[feed]` as `tune` sets it, starting on `at_ms`.
async fn hall_with(
    db: common::TestDb,
    at_ms: i64,
    fresh: bool,
    tune: impl Fn(&mut Config),
) -> Hall {
    let mut cfg = common::hall_config("nanhai", &db.url, db.dir());
    tune(&mut cfg);
    let node = onewindow_node::server::start_with_clock(cfg, Arc::new(StartedClock::at(at_ms)))
        .await
        .unwrap();
    let http = Client::new(node.url());
    let t = TestNode { node, db, http };
    let admin = t.http.login("admin", common::ADMIN_PASSWORD).await;
    if fresh {
        publish_catalogue(&admin).await;
    }
    let clerk = staff(&t.http, "clerk1", "clerk", None).await;
    let a1 = staff(&t.http, "a.one", "approver", Some("a")).await;
    let a2 = staff(&t.http, "a.two", "approver", Some("a")).await;
    Hall {
        t,
        admin,
        clerk,
        a1,
        a2,
    }
}

async fn publish_catalogue(admin: &Client) {
    let draft = admin
        .post("/api/v1/admin/catalogue/versions", &test_catalogue())
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
}

async fn hall(tune: impl Fn(&mut Config)) -> Hall {
    hall_with(common::test_db().await, common::START_MS, true, tune).await
}

async fn submit(h: &Hall, matter: &str) -> String {
    let body = json!({
        "matter_code": matter,
        "applicant": {"kind": "person", "id_number": PERSON, "name": "张三", "phone": "13800000000"},
        "materials": complete_materials(),
    });
    let r = h.clerk.post("/api/v1/cases", &body).await.ok();
    r["case_number"].as_str().unwrap().to_owned()
}

async fn act_ok(who: &Client, number: &str, action: Value) -> Value {
    who.post(&format!("/api/v1/cases/{number}/actions"), &action)
        .await
        .ok()
}

/// Handled by `a1` and reviewed by `a2`: waiting for the decision.
async fn awaiting_decision(h: &Hall) -> String {
    let n = submit(h, "T-SIMPLE").await;
    act_ok(&h.a1, &n, json!({"action": "start_handling"})).await;
    act_ok(
        &h.a1,
        &n,
        json!({"action": "submit_for_review", "opinion": "材料齐全"}),
    )
    .await;
    let v = act_ok(
        &h.a2,
        &n,
        json!({"action": "pass_review", "opinion": "同意"}),
    )
    .await;
    assert_eq!(v["state"], "approval");
    n
}

/// Issues a credential and returns its token.
async fn credential(admin: &Client, name: &str, department: &str) -> String {
    let r = admin
        .post(
            "/api/v1/admin/feed/credentials",
            &json!({"name": name, "department": department}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["department"], department);
    assert!(
        r.body["node"]
            .as_str()
            .is_some_and(|n| n.starts_with("nanhai"))
    );
    r.body["token"].as_str().unwrap().to_owned()
}

/// Follows the feed from `after` in pages of `limit` to its end: the
/// items, and the cursor to resume from.
async fn follow(system: &Client, after: Option<&str>, limit: usize) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut cursor = after.map(str::to_owned);
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/feed?after={c}&limit={limit}"),
            None => format!("/api/v1/feed?limit={limit}"),
        };
        let page = system.get(&path).await.ok();
        let got = page["items"].as_array().unwrap().clone();
        assert!(got.len() <= limit, "{page}");
        let next = page["next"].as_str().unwrap().to_owned();
        if let Some(last) = got.last() {
            assert_eq!(
                last["cursor"],
                next.as_str(),
                "a page ends at its last item"
            );
        } else {
            assert_eq!(page["more"], false);
        }
        let more = page["more"].as_bool().unwrap();
        items.extend(got);
        cursor = Some(next);
        if !more {
            return (items, cursor.unwrap());
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The case's events as its record holds them.
async fn record_events(who: &Client, number: &str) -> Vec<Value> {
    who.get(&format!("/api/v1/cases/{number}/record"))
        .await
        .ok()["events"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_department_system_follows_its_feed_across_a_restart_and_decides() {
    let h = hall(|_| {}).await;
    let token = credential(&h.admin, "ga-sys", "a").await;
    let other = credential(&h.admin, "b-sys", "b").await;
    // The list never shows a secret.
    let listed = h.admin.get("/api/v1/admin/feed/credentials").await.ok();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["node"] == "nanhai")
    );
    let secret = token.rsplit('.').next().unwrap();
    assert_eq!(secret.len(), 64);
    assert!(!listed.to_string().contains(secret), "{listed}");
    let system = h.t.http.with_token(&token);
    let first = awaiting_decision(&h).await;
    let second = submit(&h, "T-SIMPLE").await;
    let third = submit(&h, "T-IMM").await;

    // Page by page, to the end.
    let (before, end) = follow(&system, None, 2).await;
    let seen = ids(&before);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        seen.len(),
        "no event twice: {seen:?}"
    );
    for n in [&first, &second, &third] {
        let record = record_events(&h.a1, n).await;
        let mine: Vec<&Value> = before
            .iter()
            .filter(|i| i["case_number"] == n.as_str())
            .collect();
        assert_eq!(mine.len(), record.len(), "every event of {n}");
        for (item, rec) in mine.iter().zip(&record) {
            assert_eq!(item["case_version"], rec["case_version"]);
            assert_eq!(item["event"], rec["event"]);
            assert_eq!(item["hall"], "nanhai");
            assert_eq!(
                item["id"].as_str().unwrap().split('/').next(),
                Some("nanhai")
            );
        }
    }
    let last_of_first = before
        .iter()
        .rev()
        .find(|i| i["case_number"] == first.as_str())
        .unwrap();
    assert_eq!(last_of_first["kind"], "review_passed");
    assert_eq!(last_of_first["state"], "approval");
    assert_eq!(last_of_first["matter_code"], "T-SIMPLE");
    assert_eq!(last_of_first["window"], "nanhai");
    let received = before
        .iter()
        .find(|i| i["case_number"] == third.as_str() && i["kind"] == "received")
        .unwrap();
    assert_eq!(received["event"]["applicant"]["name"], "张三");
    // The cursor after the first page, to resume from after the restart.
    let page = system.get("/api/v1/feed?limit=2").await.ok();
    let middle = page["next"].as_str().unwrap().to_owned();
    assert_eq!(ids(page["items"].as_array().unwrap()), seen[..2]);

    // The node stops and opens again on the same store.
    let Hall { t, .. } = h;
    let TestNode { node, db, .. } = t;
    node.stop().await;
    let h = hall_with(db, common::START_MS + 3_600_000, false, |_| {}).await;
    let system = h.t.http.with_token(&token);
    // Resumed from the middle: the same events, the same ids.
    let (again, end_again) = follow(&system, Some(&middle), 3).await;
    assert_eq!(ids(&again), seen[2..]);
    assert_eq!(again, before[2..], "the same items, field for field");
    assert_eq!(end_again, end);
    // Resumed from the end: nothing new.
    let (none, still) = follow(&system, Some(&end), 5).await;
    assert!(none.is_empty());
    assert_eq!(still, end);

    // Department b's system may not take that decision: refused, nothing
    // stored.
    let b = h.t.http.with_token(&other);
    let before_counts = counts(&h.t.node).await;
    b.post(
        &format!("/api/v1/feed/cases/{first}/actions"),
        &json!({"action": "decide", "granted": false, "opinion": "不予"}),
    )
    .await
    .assert_error(403, "feed_other_department");
    assert_eq!(
        counts(&h.t.node).await,
        before_counts,
        "a refusal stored something"
    );

    // The system decides, as department a's approver: the case moves on.
    let v = system
        .post(
            &format!("/api/v1/feed/cases/{first}/actions"),
            &json!({"action": "decide", "granted": true, "opinion": "准予（部门系统）"}),
        )
        .await
        .ok();
    assert_eq!(v["state"], "decided");
    let (new, _) = follow(&system, Some(&end), 10).await;
    let decided = new.iter().find(|i| i["kind"] == "decided").unwrap();
    assert_eq!(decided["case_number"], first.as_str());
    assert_eq!(decided["state"], "decided");
    assert_eq!(decided["actor"]["username"], "system:ga-sys");
    assert_eq!(decided["actor"]["role"], "approver");
    assert_eq!(decided["actor"]["department"], "a");
    // In the case's history, as the credential.
    let history = record_events(&h.a1, &first).await;
    let last = history.last().unwrap();
    assert_eq!(last["event"]["type"], "decided");
    assert_eq!(last["actor"]["username"], "system:ga-sys");
    // The same rules as the approver's: the system decided, so it may
    // mark the result ready, but a clerk's hand-out is not its to do.
    system
        .post(
            &format!("/api/v1/feed/cases/{first}/actions"),
            &json!({"action": "result_ready", "result": "证明一份"}),
        )
        .await
        .ok();

    // Department b's system sees none of department a's events and may
    // not act on its cases; nothing is stored.
    let (theirs, _) = follow(&b, None, 50).await;
    assert!(theirs.is_empty(), "{theirs:?}");
    let before_counts = counts(&h.t.node).await;
    b.post(
        &format!("/api/v1/feed/cases/{second}/actions"),
        &json!({"action": "start_handling"}),
    )
    .await
    .assert_error(403, "feed_other_department");
    system
        .post(
            &format!("/api/v1/feed/cases/{first}/actions"),
            &json!({"action": "hand_out", "collector": {"by": "in_person", "document": "resident_id", "id_number": PERSON, "id_checked": true}}),
        )
        .await
        .assert_error(403, "wrong_role");
    assert_eq!(
        counts(&h.t.node).await,
        before_counts,
        "a refusal stored something"
    );

    // Revoked: refused, for reading and for acting.
    let r = h
        .admin
        .post("/api/v1/admin/feed/credentials/ga-sys/revoke", &json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The revocation is audited in the log; the refusals after it store
    // nothing.
    let before_counts = counts(&h.t.node).await;
    system
        .get("/api/v1/feed")
        .await
        .assert_error(401, "credential_revoked");
    system
        .post(
            &format!("/api/v1/feed/cases/{second}/actions"),
            &json!({"action": "start_handling"}),
        )
        .await
        .assert_error(401, "credential_revoked");
    assert_eq!(counts(&h.t.node).await, before_counts);
    h.admin
        .post("/api/v1/admin/feed/credentials/ga-sys/revoke", &json!({}))
        .await
        .assert_error(409, "credential_revoked");
    let listed = h.admin.get("/api/v1/admin/feed/credentials").await.ok();
    let ga = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ga-sys")
        .unwrap();
    assert!(ga["revoked_at_ms"].as_i64().is_some(), "{ga}");
}

#[tokio::test]
async fn bad_requests_to_the_feed_are_refused_in_words() {
    let h = hall(|_| {}).await;
    let token = credential(&h.admin, "ga-sys", "a").await;
    let system = h.t.http.with_token(&token);
    submit(&h, "T-SIMPLE").await;
    let page = system.get("/api/v1/feed?limit=1").await.ok();
    let good = page["next"].as_str().unwrap().to_owned();
    // A cursor changed by hand, made up, or cut short.
    let (seq, check) = good.trim_start_matches("f1.").split_once('.').unwrap();
    let moved = format!("f1.{}.{check}", seq.parse::<i64>().unwrap() + 1);
    for bad in [moved.as_str(), "zzz", "f1.-1.00000000", "f1.1"] {
        system
            .get(&format!("/api/v1/feed?after={bad}"))
            .await
            .assert_error(400, "bad_feed_cursor");
    }
    // A limit out of range.
    for limit in ["0", "-3", "501"] {
        system
            .get(&format!("/api/v1/feed?limit={limit}"))
            .await
            .assert_error(400, "feed_limit_out_of_range");
    }
    system.get("/api/v1/feed?limit=500").await.ok();
    // Unknown credentials, a staff session's token, none at all.
    let last = if token.ends_with('0') { "1" } else { "0" };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    for t in [forged.as_str(), "ows1.nobody.00", "not-a-token"] {
        h.t.http
            .with_token(t)
            .get("/api/v1/feed")
            .await
            .assert_error(401, "unknown_credential");
    }
    h.a1.get("/api/v1/feed")
        .await
        .assert_error(401, "unknown_credential");
    h.t.http
        .get("/api/v1/feed")
        .await
        .assert_error(401, "unknown_credential");
    // A system token is no staff session.
    system
        .get("/api/v1/admin/feed/credentials")
        .await
        .assert_error(401, "unauthenticated");
    // Issuing: a bad name, an unknown department, a name taken, a clerk.
    let issue = |name: &str, department: &str| json!({"name": name, "department": department});
    h.admin
        .post("/api/v1/admin/feed/credentials", &issue("Bad Name", "a"))
        .await
        .assert_error(400, "bad_credential_name");
    h.admin
        .post("/api/v1/admin/feed/credentials", &issue("x", "zz"))
        .await
        .assert_error(400, "unknown_department");
    h.admin
        .post("/api/v1/admin/feed/credentials", &issue("ga-sys", "a"))
        .await
        .assert_error(409, "credential_exists");
    h.clerk
        .post("/api/v1/admin/feed/credentials", &issue("y", "a"))
        .await
        .assert_error(403, "wrong_role");
    // Subscribing: https refused (the node's client has no TLS), a URL
    // that is not one, an unknown credential, a bad cursor.
    let sub = |url: &str, credential: &str| json!({"credential": credential, "url": url});
    h.admin
        .post(
            "/api/v1/admin/feed/subscriptions",
            &sub("https://ga.example/hook", "ga-sys"),
        )
        .await
        .assert_error(400, "webhook_https_refused");
    for url in [
        "ftp://ga.example/hook",
        "http://",
        "http://a b/c",
        "ga.example",
    ] {
        h.admin
            .post("/api/v1/admin/feed/subscriptions", &sub(url, "ga-sys"))
            .await
            .assert_error(400, "bad_webhook_url");
    }
    h.admin
        .post(
            "/api/v1/admin/feed/subscriptions",
            &sub("http://127.0.0.1:9/hook", "nobody"),
        )
        .await
        .assert_error(404, "unknown_credential");
    h.admin
        .post(
            "/api/v1/admin/feed/subscriptions",
            &json!({"credential": "ga-sys", "url": "http://127.0.0.1:9/hook", "after": "f1.3"}),
        )
        .await
        .assert_error(400, "bad_feed_cursor");
    let subs = h.admin.get("/api/v1/admin/feed/subscriptions").await.ok();
    assert_eq!(subs, json!([]), "nothing subscribed by a refusal");
    // Replays of what is not a dead letter.
    h.admin
        .post("/api/v1/admin/feed/deliveries/none/replay", &json!({}))
        .await
        .assert_error(404, "unknown_delivery");
    // A case number this node does not have, and one mistyped.
    let n = submit(&h, "T-SIMPLE").await;
    let held = onewindow_node::domain::case_number::CaseNumber::parse(&n).unwrap();
    let absent = onewindow_node::domain::case_number::CaseNumber::new(held.hall(), held.date(), 99)
        .unwrap()
        .to_string();
    let before = counts(&h.t.node).await;
    system
        .post(
            &format!("/api/v1/feed/cases/{absent}/actions"),
            &json!({"action": "start_handling"}),
        )
        .await
        .assert_error(404, "case_not_found");
    let mistyped = format!("{}X", &n[..n.len() - 1]);
    let mistyped = if mistyped == n {
        format!("{}Y", &n[..n.len() - 1])
    } else {
        mistyped
    };
    let r = system
        .post(
            &format!("/api/v1/feed/cases/{mistyped}/actions"),
            &json!({"action": "start_handling"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(counts(&h.t.node).await, before);
}

#[tokio::test]
async fn a_system_may_not_act_where_the_case_is_not_held() {
    // A village alone: it accepts T-SIMPLE and hands it up to the district,
    // which decides it.
    let db = common::test_db().await;
    let cfg = common::hall_config("nanhai.guicheng.xiaping", &db.url, db.dir());
    let node =
        onewindow_node::server::start_with_clock(cfg, Arc::new(StartedClock::at(common::START_MS)))
            .await
            .unwrap();
    let http = Client::new(node.url());
    let t = TestNode { node, db, http };
    let admin = t.http.login("admin", common::ADMIN_PASSWORD).await;
    let clerk = staff(&t.http, "clerk1", "clerk", None).await;
    let h = Hall {
        a1: clerk.clone(),
        a2: clerk.clone(),
        t,
        admin,
        clerk,
    };
    publish_catalogue(&h.admin).await;
    let n = submit(&h, "T-SIMPLE").await;
    let token = credential(&h.admin, "ga-sys", "a").await;
    let listed = h.admin.get("/api/v1/admin/feed/credentials").await.ok();
    assert_eq!(listed[0]["node"], "nanhai.guicheng.xiaping");
    let system = h.t.http.with_token(&token);
    let (items, _) = follow(&system, None, 100).await;
    assert!(
        items.iter().any(|i| i["kind"] == "transferred"),
        "{items:?}"
    );
    let before = counts(&h.t.node).await;
    system
        .post(
            &format!("/api/v1/feed/cases/{n}/actions"),
            &json!({"action": "start_handling"}),
        )
        .await
        .assert_error(409, "not_holder");
    assert_eq!(counts(&h.t.node).await, before);
}

/// What a webhook receiver was sent: each POST's timestamp, signature,
/// delivery id and raw body, and whether it was taken (2xx).
type Posts = Arc<std::sync::Mutex<Vec<(String, String, String, String, bool)>>>;

/// A department's webhook receiver on `listener`, answering 204 while
/// `up` holds and 500 otherwise, recording every POST to `/hook`.
fn receiver(listener: tokio::net::TcpListener, posts: Posts, up: Arc<AtomicBool>) {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let posts = posts.clone();
            let up = up.clone();
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let taken = up.load(Ordering::SeqCst);
                posts.lock().unwrap().push((
                    h("x-onewindow-timestamp"),
                    h("x-onewindow-signature"),
                    h("x-onewindow-delivery"),
                    body,
                    taken,
                ));
                if taken {
                    axum::http::StatusCode::NO_CONTENT
                } else {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                }
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

/// Checks a body's signature as a receiver would, with its own HMAC.
fn signed_right(secret: &str, timestamp: &str, signature: &str, body: &str) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let Some(hex_mac) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(mac) = hex::decode(hex_mac) else {
        return false;
    };
    let signed = format!("{timestamp}.{body}");
    ring::hmac::verify(&key, signed.as_bytes(), &mac).is_ok()
}

/// Polls the deliveries (as the administrator) until `ready` holds, for
/// at most 20 s.
async fn deliveries_until(
    admin: &Client,
    query: &str,
    ready: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..400 {
        let rows = admin
            .get(&format!("/api/v1/admin/feed/deliveries{query}"))
            .await
            .ok();
        let rows = rows.as_array().unwrap().clone();
        if ready(&rows) {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the deliveries never got there");
}

fn fast_webhooks(c: &mut Config, max_attempts: u32) {
    c.feed.webhook_poll_ms = 20;
    c.feed.webhook_retry_min_ms = 40;
    c.feed.webhook_retry_max_ms = 160;
    c.feed.webhook_timeout_ms = 2000;
    c.feed.webhook_batch = 2;
    c.feed.webhook_max_attempts = max_attempts;
}

#[tokio::test]
async fn a_webhook_that_is_down_at_first_gets_every_event_once_in_order_signed() {
    // The receiver's port, with nothing listening on it yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = port.local_addr().unwrap();
    drop(port);
    let h = hall(|c| fast_webhooks(c, 1000)).await;
    let token = credential(&h.admin, "ga-sys", "a").await;
    credential(&h.admin, "b-sys", "b").await;
    let made = h
        .admin
        .post(
            "/api/v1/admin/feed/subscriptions",
            &json!({"credential": "ga-sys", "url": format!("http://{addr}/hook")}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    let sub_id = made.body["id"].as_str().unwrap().to_owned();
    // Department b's hook, to a port nobody listens on: it carries none of
    // department a's events, so it never makes a delivery.
    h.admin
        .post(
            "/api/v1/admin/feed/subscriptions",
            &json!({"credential": "b-sys", "url": "http://127.0.0.1:9/hook"}),
        )
        .await
        .ok();
    let listed = h.admin.get("/api/v1/admin/feed/subscriptions").await.ok();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once"
    );
    let first = awaiting_decision(&h).await;
    submit(&h, "T-IMM").await;

    // Down: the first delivery is retried, its attempts and error kept,
    // and nothing after it is made meanwhile.
    let rows = deliveries_until(&h.admin, "", |rows| {
        rows.iter().any(|d| d["attempts"].as_i64() >= Some(3))
    })
    .await;
    assert_eq!(rows.len(), 1, "one delivery at a time: {rows:?}");
    let d = &rows[0];
    assert_eq!(d["subscription"], sub_id.as_str());
    assert_eq!(d["status"], "open");
    assert_eq!(d["items"], 2);
    assert!(
        d["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("could not be reached")),
        "{d}"
    );

    // Up: every event of department a once, in the feed's order.
    let posts = Posts::default();
    receiver(
        tokio::net::TcpListener::bind(addr).await.unwrap(),
        posts.clone(),
        Arc::new(AtomicBool::new(true)),
    );
    let system = h.t.http.with_token(&token);
    let (feed, end) = follow(&system, None, 500).await;
    let rows = deliveries_until(&h.admin, "", |rows| {
        let subs = rows.iter().all(|d| d["status"] == "delivered");
        subs && rows.iter().any(|d| d["upto"] == end.as_str())
    })
    .await;
    assert!(
        rows.iter().any(|d| d["attempts"].as_i64() >= Some(4)),
        "{rows:?}"
    );
    let got = posts.lock().unwrap().clone();
    let mut delivered = Vec::new();
    for (timestamp, signature, delivery, body, _) in &got {
        assert!(
            signed_right(&secret, timestamp, signature, body),
            "a body signed wrong: {signature} {body}"
        );
        assert!(!signed_right("another secret", timestamp, signature, body));
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["delivery"], delivery.as_str());
        assert_eq!(body["subscription"], sub_id.as_str());
        delivered.extend(body["items"].as_array().unwrap().clone());
    }
    assert_eq!(got.len(), rows.len(), "each delivery taken once");
    assert_eq!(ids(&delivered), ids(&feed), "every event once, in order");
    assert_eq!(delivered, feed);
    // The subscription goes on from where it is: a new event is pushed.
    act_ok(
        &h.a1,
        &first,
        json!({"action": "send_back", "reason": "补充审查"}),
    )
    .await;
    let (more, _) = follow(&system, Some(&end), 500).await;
    assert_eq!(more.len(), 1);
    deliveries_until(&h.admin, "", |rows| {
        rows.iter()
            .any(|d| d["status"] == "delivered" && d["after"] == end.as_str())
    })
    .await;
    let last: Value = serde_json::from_str(&posts.lock().unwrap().last().unwrap().3).unwrap();
    assert_eq!(last["items"][0]["id"], more[0]["id"]);
    assert_eq!(last["items"][0]["kind"], "sent_back");
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_becomes_a_dead_letter_and_a_replay_delivers_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let posts = Posts::default();
    let up = Arc::new(AtomicBool::new(false));
    receiver(listener, posts.clone(), up.clone());
    let h = hall(|c| {
        fast_webhooks(c, 3);
        c.feed.webhook_batch = 10;
    })
    .await;
    credential(&h.admin, "ga-sys", "a").await;
    let made = h
        .admin
        .post(
            "/api/v1/admin/feed/subscriptions",
            &json!({"credential": "ga-sys", "url": format!("http://{addr}/hook")}),
        )
        .await
        .ok();
    let secret = made["secret"].as_str().unwrap().to_owned();
    let n = submit(&h, "T-SIMPLE").await;
    let dead = deliveries_until(&h.admin, "?status=dead", |rows| !rows.is_empty()).await;
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(d["status"], "dead");
    assert_eq!(d["attempts"], 3);
    assert!(d["next_attempt_ms"].is_null());
    assert!(
        d["last_error"].as_str().is_some_and(|e| e.contains("500")),
        "{d}"
    );
    let id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(posts.lock().unwrap().len(), 3, "three attempts");
    // Not open any more; the open list is empty.
    let open = h
        .admin
        .get("/api/v1/admin/feed/deliveries?status=open")
        .await
        .ok();
    assert_eq!(open, json!([]));

    // The receiver is mended; the administrator replays the dead letter.
    up.store(true, Ordering::SeqCst);
    let replayed = h
        .admin
        .post(
            &format!("/api/v1/admin/feed/deliveries/{id}/replay"),
            &json!({}),
        )
        .await
        .ok();
    assert_eq!(replayed["status"], "open");
    assert_eq!(replayed["attempts"], 0);
    deliveries_until(&h.admin, "", |rows| {
        rows.iter()
            .any(|r| r["id"] == id.as_str() && r["status"] == "delivered")
    })
    .await;
    let got = posts.lock().unwrap().clone();
    let (timestamp, signature, delivery, body, taken) = got.last().unwrap();
    assert!(*taken);
    assert_eq!(delivery, &id);
    assert!(signed_right(&secret, timestamp, signature, body));
    // The same bytes as every earlier attempt.
    assert!(got.iter().all(|p| &p.3 == body));
    let body: Value = serde_json::from_str(body).unwrap();
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["case_number"] == n.as_str()));
    assert!(
        h.admin
            .get("/api/v1/admin/feed/deliveries?status=dead")
            .await
            .ok()
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Counted: two failures to be tried again, one given up, then one
    // delivered.
    let metrics = reqwest::get(format!("{}/metrics", h.t.node.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (outcome, n) in [("failed", 2), ("dead", 1), ("delivered", 1)] {
        let line = format!("onewindow_webhook_deliveries_total{{outcome=\"{outcome}\"}} {n}");
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    // A delivered one is no dead letter.
    h.admin
        .post(
            &format!("/api/v1/admin/feed/deliveries/{id}/replay"),
            &json!({}),
        )
        .await
        .assert_error(409, "delivery_not_dead");
}

#[tokio::test]
async fn a_webhook_goes_on_from_its_stored_cursor_after_the_node_restarts() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = port.local_addr().unwrap();
    drop(port);
    let h = hall(|c| fast_webhooks(c, 1000)).await;
    let token = credential(&h.admin, "ga-sys", "a").await;
    let made = h
        .admin
        .post(
            "/api/v1/admin/feed/subscriptions",
            &json!({"credential": "ga-sys", "url": format!("http://{addr}/hook")}),
        )
        .await
        .ok();
    let secret = made["secret"].as_str().unwrap().to_owned();
    awaiting_decision(&h).await;
    // The first delivery is made and fails while the receiver is down.
    deliveries_until(&h.admin, "", |rows| {
        rows.iter().any(|d| d["attempts"].as_i64() >= Some(1))
    })
    .await;
    // The node stops, and more happens at the hall after it opens again.
    let Hall { t, .. } = h;
    let TestNode { node, db, .. } = t;
    node.stop().await;
    let h = hall_with(db, common::START_MS + 3_600_000, false, |c| {
        fast_webhooks(c, 1000)
    })
    .await;
    submit(&h, "T-IMM").await;
    let subs = h.admin.get("/api/v1/admin/feed/subscriptions").await.ok();
    assert_eq!(
        subs.as_array().unwrap().len(),
        1,
        "the subscription is kept"
    );
    // The receiver comes up: everything, once, in order, from the
    // delivery made before the stop on.
    let posts = Posts::default();
    receiver(
        tokio::net::TcpListener::bind(addr).await.unwrap(),
        posts.clone(),
        Arc::new(AtomicBool::new(true)),
    );
    let system = h.t.http.with_token(&token);
    let (feed, end) = follow(&system, None, 500).await;
    let rows = deliveries_until(&h.admin, "", |rows| {
        rows.iter().all(|d| d["status"] == "delivered")
            && rows.iter().any(|d| d["upto"] == end.as_str())
    })
    .await;
    let first = rows
        .iter()
        .min_by_key(|d| d["created_at_ms"].as_i64())
        .unwrap();
    assert!(first["attempts"].as_i64() >= Some(2), "{first}");
    let got = posts.lock().unwrap().clone();
    assert_eq!(got.len(), rows.len(), "each delivery taken once");
    let mut delivered = Vec::new();
    for (timestamp, signature, _, body, _) in &got {
        assert!(signed_right(&secret, timestamp, signature, body));
        let body: Value = serde_json::from_str(body).unwrap();
        delivered.extend(body["items"].as_array().unwrap().clone());
    }
    assert_eq!(ids(&delivered), ids(&feed), "every event once, in order");
    let subs = h.admin.get("/api/v1/admin/feed/subscriptions").await.ok();
    assert_eq!(subs[0]["cursor"], end.as_str());
}

#[tokio::test]
async fn an_ended_webhook_gets_nothing_more_and_its_dead_letters_stay_dead() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let posts = Posts::default();
    let up = Arc::new(AtomicBool::new(true));
    receiver(listener, posts.clone(), up.clone());
    let h = hall(|c| {
        fast_webhooks(c, 2);
        c.feed.webhook_batch = 50;
    })
    .await;
    credential(&h.admin, "ga-sys", "a").await;
    let subscribe = || async {
        h.admin
            .post(
                "/api/v1/admin/feed/subscriptions",
                &json!({"credential": "ga-sys", "url": format!("http://{addr}/hook")}),
            )
            .await
            .ok()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let ending = subscribe().await;
    let n1 = submit(&h, "T-SIMPLE").await;
    let sub_of = |rows: &[Value], id: &str| -> Vec<Value> {
        rows.iter()
            .filter(|r| r["subscription"] == id)
            .cloned()
            .collect()
    };
    deliveries_until(&h.admin, "", |rows| {
        sub_of(rows, &ending)
            .iter()
            .any(|r| r["status"] == "delivered")
    })
    .await;

    // The receiver goes down: the next case's delivery is given up.
    up.store(false, Ordering::SeqCst);
    submit(&h, "T-SIMPLE").await;
    let dead = deliveries_until(&h.admin, "?status=dead", |rows| {
        !sub_of(rows, &ending).is_empty()
    })
    .await;
    let dead_id = sub_of(&dead, &ending)[0]["id"].as_str().unwrap().to_owned();

    // The administrator ends the subscription.
    let ended = h
        .admin
        .post(
            &format!("/api/v1/admin/feed/subscriptions/{ending}/end"),
            &json!({}),
        )
        .await
        .ok();
    assert_eq!(ended["id"], ending.as_str());
    assert!(ended["ended_at_ms"].as_i64().is_some(), "{ended}");
    assert_eq!(ended["ended_by"], "admin");
    // Its dead letter is not sent again, and it cannot be ended twice.
    h.admin
        .post(
            &format!("/api/v1/admin/feed/deliveries/{dead_id}/replay"),
            &json!({}),
        )
        .await
        .assert_error(409, "subscription_ended");
    h.admin
        .post(
            &format!("/api/v1/admin/feed/subscriptions/{ending}/end"),
            &json!({}),
        )
        .await
        .assert_error(409, "subscription_ended");
    h.admin
        .post(
            "/api/v1/admin/feed/subscriptions/wh-000000000000/end",
            &json!({}),
        )
        .await
        .assert_error(404, "unknown_subscription");
    // Only an administrator ends one.
    h.clerk
        .post(
            &format!("/api/v1/admin/feed/subscriptions/{ending}/end"),
            &json!({}),
        )
        .await
        .assert_error(403, "wrong_role");

    // The receiver is back, a second subscription is live beside it, and
    // a new case is written: the live one gets it, the ended one nothing.
    up.store(true, Ordering::SeqCst);
    let live = subscribe().await;
    let n3 = submit(&h, "T-SIMPLE").await;
    let posted_case = |sub: &str, case: &str| {
        posts.lock().unwrap().iter().any(|p| {
            let body: Value = serde_json::from_str(&p.3).unwrap_or_default();
            p.4 && body["subscription"] == sub
                && body["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| i["case_number"] == case))
        })
    };
    for _ in 0..400 {
        if posted_case(&live, &n3) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        posted_case(&live, &n3),
        "the live subscription got the case"
    );
    assert!(posted_case(&live, &n1), "from the start of the feed");
    assert!(!posted_case(&ending, &n3), "the ended one got nothing more");
    let rows = h.admin.get("/api/v1/admin/feed/deliveries").await.ok();
    let mine = sub_of(rows.as_array().unwrap(), &ending);
    assert!(mine.iter().all(|r| r["status"] != "open"), "{mine:?}");
    assert!(
        mine.iter()
            .any(|r| r["id"] == dead_id.as_str() && r["status"] == "dead")
    );
    // Listed as ended; the live one is not.
    let subs = h.admin.get("/api/v1/admin/feed/subscriptions").await.ok();
    let subs = subs.as_array().unwrap();
    let find = |id: &str| subs.iter().find(|s| s["id"] == id).unwrap().clone();
    assert!(find(&ending)["ended_at_ms"].as_i64().is_some());
    assert!(find(&live)["ended_at_ms"].is_null());
    // The end is in the audit trail.
    let audit = h
        .admin
        .get("/api/v1/admin/audit/actions?action=webhook_ended")
        .await
        .ok();
    assert!(
        audit.to_string().contains(&ending),
        "the audit names the subscription: {audit}"
    );
}
