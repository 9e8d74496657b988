//! The HTTP API of one real node on port 0, walked through every path of the
//! case state machine, with every refusal checked to have stored nothing.
//! Runs against SQLite, or PostgreSQL when `ONEWINDOW_TEST_DATABASE` says so.
#![allow(clippy::unwrap_used)]

mod common;

use common::catalogue::{complete_materials, test_catalogue};
use common::{Client, TestNode, counts, staff};
use onewindow_node::service::StartedClock;
use serde_json::{Value, json};
use std::sync::Arc;

const PERSON: &str = "11010519491231002X";

struct Hall {
    t: TestNode,
    admin: Client,
    clerk: Client,
    a1: Client,
    a2: Client,
    a3: Client,
    b: Client,
    c: Client,
    sup: Client,
}

/// A district node with the test catalogue published and one of each staff.
async fn hall() -> Hall {
    hall_at("nanhai").await
}

async fn hall_at(id: &str) -> Hall {
    let t = common::start(id).await;
    hall_for(t).await
}

/// A district node as [`hall`], on a clock the test moves forward (it
/// starts on `START_MS`, Monday 2026-11-23 10:00 in China, and runs).
async fn hall_on_clock() -> (Hall, Arc<StartedClock>) {
    let clock = Arc::new(StartedClock::at(common::START_MS));
    let t = common::start_with_clock("nanhai", clock.clone()).await;
    (hall_for(t).await, clock)
}

const MINUTE: i64 = 60_000;

async fn hall_for(t: TestNode) -> Hall {
    let admin = t.http.login("admin", common::ADMIN_PASSWORD).await;
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
    let clerk = staff(&t.http, "clerk1", "clerk", None).await;
    let a1 = staff(&t.http, "a.one", "approver", Some("a")).await;
    let a2 = staff(&t.http, "a.two", "approver", Some("a")).await;
    let a3 = staff(&t.http, "a.three", "approver", Some("a")).await;
    let b = staff(&t.http, "b.one", "approver", Some("b")).await;
    let c = staff(&t.http, "c.one", "approver", Some("c")).await;
    let sup = staff(&t.http, "sup1", "supervisor", None).await;
    Hall {
        t,
        admin,
        clerk,
        a1,
        a2,
        a3,
        b,
        c,
        sup,
    }
}

/// The applicant collects the result in person, the ID card checked.
fn in_person() -> Value {
    json!({"action": "hand_out", "collector": {"by": "in_person", "document": "resident_id", "id_number": PERSON, "id_checked": true}})
}

fn submission(matter: &str, materials: Value) -> Value {
    json!({
        "matter_code": matter,
        "applicant": {"kind": "person", "id_number": PERSON, "name": "张三", "phone": "13800000000"},
        "materials": materials,
    })
}

async fn submit_ok(h: &Hall, matter: &str) -> String {
    let r = h
        .clerk
        .post("/api/v1/cases", &submission(matter, complete_materials()))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["outcome"], "receipt", "{}", r.text);
    r.body["case_number"].as_str().unwrap().to_owned()
}

async fn act(who: &Client, number: &str, action: Value) -> common::Reply {
    who.post(&format!("/api/v1/cases/{number}/actions"), &action)
        .await
}

async fn act_ok(who: &Client, number: &str, action: Value) -> Value {
    act(who, number, action).await.ok()
}

/// Runs `f` and asserts that it stored no event and no case.
async fn stores_nothing<F, Fut>(h: &Hall, f: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let before = counts(&h.t.node).await;
    f().await;
    assert_eq!(
        counts(&h.t.node).await,
        before,
        "a refusal stored something"
    );
}

#[tokio::test]
async fn health_reports_identity_and_versions() {
    let h = hall().await;
    let r = h.t.http.get("/api/v1/health").await.ok();
    assert_eq!(r["node_id"], "nanhai");
    assert_eq!(r["tier"], "district");
    assert_eq!(
        r["catalogue_version"], 2,
        "starter is 1, the test catalogue 2"
    );
    assert!(r["version"].as_str().is_some_and(|v| !v.is_empty()));
    assert!(r["uplink"].is_null(), "the root has no parent: {r}");
}

#[tokio::test]
async fn health_of_a_node_with_a_parent_reports_its_uplink() {
    // A village running alone (no federation credentials): it has a parent,
    // no link to it, and nothing is known of its backlog.
    let t = common::start("nanhai.guicheng.xiaping").await;
    let r = t.http.get("/api/v1/health").await.ok();
    assert_eq!(r["uplink"]["parent"], "nanhai.guicheng", "{r}");
    assert_eq!(r["uplink"]["up"], false, "{r}");
    assert!(r["uplink"]["backlog"].is_null(), "{r}");
    assert!(r["uplink"]["last_ack_ms"].is_null(), "{r}");
    // The new fields are documented like the old ones.
    let doc = t.http.get("/api/v1/openapi.json").await.ok();
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["Health"]["properties"]["uplink"].is_object(),
        "{}",
        schemas["Health"]
    );
    let uplink = &schemas["UplinkHealth"]["properties"];
    for field in ["parent", "up", "backlog", "last_ack_ms", "recovering"] {
        assert!(
            uplink[field]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{field}: {uplink}"
        );
    }
}

#[tokio::test]
async fn committed_matter_with_parallel_approval_goes_all_the_way() {
    let h = hall().await;
    let n = submit_ok(&h, "T-PAR").await;
    let v = act_ok(&h.a1, &n, json!({"action": "start_handling"})).await;
    assert_eq!(v["state"], "handling");
    assert_eq!(v["case"]["sub_cases"]["b"]["status"], "open");
    assert_eq!(v["case"]["sub_cases"]["c"]["status"], "open");
    // Department b cannot give c's opinion, nor act on the case itself.
    act(
        &h.b,
        &n,
        json!({"action": "opinion", "department": "c", "approve": true, "opinion": "同意"}),
    )
    .await
    .assert_error(403, "wrong_department");
    act(
        &h.b,
        &n,
        json!({"action": "submit_for_review", "opinion": "x"}),
    )
    .await
    .assert_error(403, "wrong_department");
    act_ok(
        &h.b,
        &n,
        json!({"action": "opinion", "department": "b", "approve": true, "opinion": "同意"}),
    )
    .await;
    act_ok(
        &h.a1,
        &n,
        json!({"action": "submit_for_review", "opinion": "材料齐全"}),
    )
    .await;
    // The handler may not review the case.
    stores_nothing(&h, || async {
        act(
            &h.a1,
            &n,
            json!({"action": "pass_review", "opinion": "审核通过"}),
        )
        .await
        .assert_error(403, "own_handling");
    })
    .await;
    act_ok(
        &h.a2,
        &n,
        json!({"action": "pass_review", "opinion": "审核通过"}),
    )
    .await;
    // c has not given its opinion: the all-must join holds the decision.
    act(
        &h.a3,
        &n,
        json!({"action": "decide", "granted": true, "opinion": "准予"}),
    )
    .await
    .assert_error(409, "sub_cases_open");
    act_ok(
        &h.c,
        &n,
        json!({"action": "opinion", "department": "c", "approve": true, "opinion": "同意"}),
    )
    .await;
    // Neither the reviewer nor, for a matter of three people, the handler
    // may also decide.
    act(
        &h.a2,
        &n,
        json!({"action": "decide", "granted": true, "opinion": "准予"}),
    )
    .await
    .assert_error(403, "same_staff");
    let r = act(
        &h.a1,
        &n,
        json!({"action": "decide", "granted": true, "opinion": "准予"}),
    )
    .await;
    r.assert_error(403, "own_handling");
    assert!(
        r.body["message_en"]
            .as_str()
            .is_some_and(|m| m.starts_with("You handled this case")),
        "{}",
        r.text
    );
    let v = act_ok(
        &h.a3,
        &n,
        json!({"action": "decide", "granted": true, "opinion": "准予许可"}),
    )
    .await;
    assert_eq!(v["state"], "decided");
    act_ok(
        &h.a3,
        &n,
        json!({"action": "result_ready", "result": "许可证 NH-2026-0001"}),
    )
    .await;
    let p =
        h.t.http
            .get(&format!("/api/v1/cases/{n}?last4=002X"))
            .await
            .ok();
    assert_eq!(p["state"], "result_ready");
    assert!(p["next_steps"][0]["zh"].as_str().unwrap().contains("领取"));
    let v = act_ok(&h.clerk, &n, in_person()).await;
    assert_eq!(v["state"], "completed");
    assert_eq!(v["case"]["handed_out"]["recipient"], "张三");
    assert_eq!(
        v["case"]["handed_out"]["collection"],
        json!({"by": "in_person", "document": "resident_id", "id_last4": "002X"}),
        "the last four characters, not a second copy of the number"
    );
    let r = h
        .t
        .http
        .post(
            &format!("/api/v1/cases/{n}/rating"),
            &json!({"last4": "002x", "score": 1, "channel": "hall_tablet", "comment": "很满意"}),
        )
        .await
        .ok();
    assert_eq!(r["state"], "completed");
    // One rating per case.
    h.t.http
        .post(
            &format!("/api/v1/cases/{n}/rating"),
            &json!({"last4": "002X", "score": 2, "channel": "web"}),
        )
        .await
        .assert_error(409, "already_rated");
    let rec = h.sup.get(&format!("/api/v1/cases/{n}/record")).await.ok();
    let kinds: Vec<&str> = rec["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "received",
            "accepted",
            "document_issued",
            "handling_started",
            "opinion_given",
            "submitted_for_review",
            "review_passed",
            "opinion_given",
            "decided",
            "result_ready",
            "document_issued",
            "handed_out",
            "rated"
        ]
    );
    assert_eq!(rec["view"]["case"]["rating"]["score"], 1);
}

#[tokio::test]
async fn any_one_join_lets_one_approval_suffice() {
    let h = hall().await;
    let n = submit_ok(&h, "T-ANY").await;
    act_ok(&h.a1, &n, json!({"action": "start_handling"})).await;
    let v = act_ok(
        &h.c,
        &n,
        json!({"action": "opinion", "department": "c", "approve": true, "opinion": "同意"}),
    )
    .await;
    assert_eq!(v["case"]["sub_cases"]["b"]["status"], "superseded");
    act_ok(
        &h.a1,
        &n,
        json!({"action": "submit_for_review", "opinion": "ok"}),
    )
    .await;
    act_ok(&h.a2, &n, json!({"action": "pass_review", "opinion": "ok"})).await;
    let v = act_ok(
        &h.a3,
        &n,
        json!({"action": "decide", "granted": true, "opinion": "准予"}),
    )
    .await;
    assert_eq!(v["case"]["granted"], true);
}

#[tokio::test]
async fn a_refused_parallel_opinion_blocks_a_grant_under_all_join() {
    let h = hall().await;
    let n = submit_ok(&h, "T-PAR").await;
    act_ok(&h.a1, &n, json!({"action": "start_handling"})).await;
    act_ok(
        &h.b,
        &n,
        json!({"action": "opinion", "department": "b", "approve": false, "opinion": "不符合规划"}),
    )
    .await;
    act_ok(
        &h.c,
        &n,
        json!({"action": "opinion", "department": "c", "approve": true, "opinion": "同意"}),
    )
    .await;
    act_ok(
        &h.a1,
        &n,
        json!({"action": "submit_for_review", "opinion": "ok"}),
    )
    .await;
    act_ok(&h.a2, &n, json!({"action": "pass_review", "opinion": "ok"})).await;
    act(
        &h.a3,
        &n,
        json!({"action": "decide", "granted": true, "opinion": "准予"}),
    )
    .await
    .assert_error(409, "sub_cases_open");
    let v = act_ok(
        &h.a3,
        &n,
        json!({"action": "decide", "granted": false, "opinion": "不予许可"}),
    )
    .await;
    assert_eq!(v["case"]["granted"], false);
}

#[tokio::test]
async fn correction_notice_lists_every_problem_at_once_then_resubmission_is_accepted() {
    let h = hall().await;
    let mut sub = submission(
        "T-PAR",
        json!([
            {"code": "M1", "originals": 1, "copies": 0},
            {"code": "M2", "originals": 1, "problem": "未签名"}
        ]),
    );
    sub["situations"] = json!(["buy"]);
    let r = h.clerk.post("/api/v1/cases", &sub).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["outcome"], "correction_notice");
    let lines = r.body["document"]["lines"].as_array().unwrap();
    assert_eq!(
        lines.len(),
        3,
        "too few copies of M1, M2 faulty, M4 missing: {lines:?}"
    );
    let text = serde_json::to_string(lines).unwrap();
    assert!(
        text.contains("居民身份证") && text.contains("未签名") && text.contains("房产证明"),
        "{text}"
    );
    let n = r.body["case_number"].as_str().unwrap().to_owned();
    // The printable page carries the same items and the QR code.
    let doc_url = r.body["document_url"].as_str().unwrap();
    let page = h.clerk.get(doc_url).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("材料补正通知书")
            && page.text.contains("未签名")
            && page.text.contains("<svg")
    );
    let p =
        h.t.http
            .get(&format!("/api/v1/cases/{n}?last4=002X"))
            .await
            .ok();
    assert_eq!(p["state"], "correction");
    assert_eq!(p["next_steps"].as_array().unwrap().len(), 3);
    // Back-office actions are refused while the case waits for correction.
    act(&h.a1, &n, json!({"action": "start_handling"}))
        .await
        .assert_error(409, "illegal_transition");
    let mut materials = complete_materials();
    materials
        .as_array_mut()
        .unwrap()
        .push(json!({"code": "M4", "copies": 1}));
    let r = h
        .clerk
        .post(
            &format!("/api/v1/cases/{n}/resubmit"),
            &json!({"situations": ["buy"], "materials": materials}),
        )
        .await
        .ok();
    assert_eq!(r["outcome"], "receipt");
    assert_eq!(r["case_number"], n.as_str());
    assert!(r["document"]["committed_due"].as_str().is_some());
}

#[tokio::test]
async fn deferrable_material_is_accepted_and_asked_for_later() {
    let h = hall().await;
    let r = h
        .clerk
        .post("/api/v1/cases", &submission("T-SIMPLE", json!([{"code": "M1", "originals": 1, "copies": 1}, {"code": "M2", "originals": 1}])))
        .await
        .ok();
    assert_eq!(r["outcome"], "receipt");
    assert_eq!(r["case"]["case"]["deferred"], json!(["M3"]));
    // The receipt gives the day by which it is due: the matter's correction
    // limit (5 working days) from the day of acceptance.
    let line = r["document"]["lines"][0]["zh"].as_str().unwrap().to_owned();
    assert!(line.contains("前补交") && line.contains("户口簿"), "{line}");
    let date = line
        .split_whitespace()
        .find(|w| w.len() == 10 && w.starts_with("20"))
        .unwrap_or_else(|| panic!("no date in {line}"));
    let accepted = onewindow_node::domain::case::china_date(
        r["case"]["case"]["received_at_ms"].as_i64().unwrap(),
    );
    let due = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    assert!(
        due > accepted && (due - accepted).num_days() <= 9,
        "{accepted} -> {due}"
    );
    let n = r["case_number"].as_str().unwrap();
    let p =
        h.t.http
            .get(&format!("/api/v1/cases/{n}?last4=002X"))
            .await
            .ok();
    assert!(
        p["next_steps"][0]["zh"]
            .as_str()
            .unwrap()
            .contains("户口簿")
    );
}

#[tokio::test]
async fn non_acceptance_by_the_clerk_and_for_the_wrong_kind_of_applicant() {
    let h = hall().await;
    let mut sub = submission("T-SIMPLE", complete_materials());
    sub["non_acceptance_reason"] = json!("申请事项不属于本机关职权范围");
    let r = h.clerk.post("/api/v1/cases", &sub).await.ok();
    assert_eq!(r["outcome"], "non_acceptance");
    assert_eq!(r["case"]["state"], "rejected");
    let page = h.clerk.get(r["document_url"].as_str().unwrap()).await;
    assert!(page.text.contains("不予受理决定书") && page.text.contains("行政复议"));
    let r = h
        .clerk
        .post("/api/v1/cases", &submission("T-ORG", complete_materials()))
        .await
        .ok();
    assert_eq!(r["outcome"], "non_acceptance");
    assert!(
        r["document"]["lines"][0]["zh"]
            .as_str()
            .unwrap()
            .contains("申请人类型不符")
    );
}

#[tokio::test]
async fn immediate_matter_is_completed_at_the_window() {
    let h = hall().await;
    let r = h
        .clerk
        .post("/api/v1/cases", &submission("T-IMM", complete_materials()))
        .await
        .ok();
    assert_eq!(r["outcome"], "completion");
    assert_eq!(r["case"]["state"], "completed");
    let n = r["case_number"].as_str().unwrap();
    h.t.http
        .post(
            &format!("/api/v1/cases/{n}/rating"),
            &json!({"last4": "002X", "score": 5, "channel": "qr_code", "comment": "太慢"}),
        )
        .await
        .ok();
}

#[tokio::test]
async fn send_back_suspension_extension_withdrawal_and_termination() {
    let h = hall().await;
    let n = submit_ok(&h, "T-PAR").await;
    act_ok(&h.a1, &n, json!({"action": "start_handling"})).await;
    act_ok(
        &h.a1,
        &n,
        json!({"action": "submit_for_review", "opinion": "ok"}),
    )
    .await;
    let v = act_ok(
        &h.a2,
        &n,
        json!({"action": "send_back", "reason": "现场核查记录缺失"}),
    )
    .await;
    assert_eq!(v["state"], "handling");
    // Suspension is a flag over the state; actions wait until it is resumed.
    let v = act_ok(
        &h.a1,
        &n,
        json!({"action": "suspend", "kind": "expert_review", "reason": "组织专家评审"}),
    )
    .await;
    assert_eq!(v["suspended"], true);
    assert_eq!(v["state"], "handling");
    assert!(v["committed_due"].is_null(), "the clock is stopped");
    act(
        &h.a1,
        &n,
        json!({"action": "submit_for_review", "opinion": "x"}),
    )
    .await
    .assert_error(409, "case_suspended");
    act(
        &h.a1,
        &n,
        json!({"action": "suspend", "kind": "hearing", "reason": "again"}),
    )
    .await
    .assert_error(409, "case_suspended");
    let v = act_ok(&h.a1, &n, json!({"action": "resume", "note": "评审结束"})).await;
    assert_eq!(v["suspended"], false);
    assert_eq!(v["state"], "handling");
    assert!(v["committed_due"].as_str().is_some());
    act(&h.a1, &n, json!({"action": "resume"}))
        .await
        .assert_error(409, "case_not_suspended");
    // Extension up to the matter's 10 working days in all.
    act_ok(
        &h.a1,
        &n,
        json!({"action": "extend", "n": 6, "reason": "情况复杂"}),
    )
    .await;
    act(
        &h.a1,
        &n,
        json!({"action": "extend", "n": 5, "reason": "再延"}),
    )
    .await
    .assert_error(409, "extension_refused");
    let v = act_ok(
        &h.a1,
        &n,
        json!({"action": "extend", "n": 4, "reason": "再延"}),
    )
    .await;
    assert_eq!(v["case"]["extensions"].as_array().unwrap().len(), 2);
    // Termination by a supervisor; nothing follows.
    let v = act_ok(
        &h.sup,
        &n,
        json!({"action": "terminate", "reason": "申请人死亡"}),
    )
    .await;
    assert_eq!(v["state"], "terminated");
    act(&h.a1, &n, json!({"action": "start_handling"}))
        .await
        .assert_error(409, "illegal_transition");
    // Withdrawal at the applicant's request, through the clerk.
    let n2 = submit_ok(&h, "T-SIMPLE").await;
    act(&h.clerk, &n2, json!({"action": "withdraw", "reason": ""}))
        .await
        .assert_error(400, "empty_field");
    let v = act_ok(
        &h.clerk,
        &n2,
        json!({"action": "withdraw", "reason": "申请人主动撤回"}),
    )
    .await;
    assert_eq!(v["state"], "withdrawn");
    // A matter without extension refuses one.
    let n3 = submit_ok(&h, "T-SIMPLE").await;
    act(
        &h.a1,
        &n3,
        json!({"action": "extend", "n": 1, "reason": "x"}),
    )
    .await
    .assert_error(409, "extension_refused");
}

#[tokio::test]
async fn refusals_store_nothing() {
    let h = hall().await;
    let n = submit_ok(&h, "T-SIMPLE").await;
    let good = submission("T-SIMPLE", complete_materials());
    stores_nothing(&h, || async {
        // An approver can never accept.
        h.a1.post("/api/v1/cases", &good)
            .await
            .assert_error(403, "wrong_role");
        // A clerk can never approve.
        act(&h.clerk, &n, json!({"action": "start_handling"}))
            .await
            .assert_error(403, "wrong_role");
        act(
            &h.clerk,
            &n,
            json!({"action": "decide", "granted": true, "opinion": "x"}),
        )
        .await
        .assert_error(403, "wrong_role");
        // Illegal transitions.
        act(&h.clerk, &n, in_person())
            .await
            .assert_error(409, "illegal_transition");
        // A hand-out says how the collector's identity was checked.
        act(
            &h.clerk,
            &n,
            json!({"action": "hand_out", "recipient": "x"}),
        )
        .await
        .assert_error(400, "handout_identity_missing");
        act(
            &h.a1,
            &n,
            json!({"action": "decide", "granted": true, "opinion": "x"}),
        )
        .await
        .assert_error(409, "illegal_transition");
        // Bad identifiers.
        let mut bad = good.clone();
        bad["applicant"]["id_number"] = json!("110105194912310021");
        h.clerk
            .post("/api/v1/cases", &bad)
            .await
            .assert_error(400, "id_checksum");
        bad["applicant"]["id_number"] = json!("11010519490231002X");
        let r = h.clerk.post("/api/v1/cases", &bad).await;
        assert_eq!(r.status, 400, "{}", r.text);
        bad["applicant"]["id_number"] = json!("1101");
        h.clerk
            .post("/api/v1/cases", &bad)
            .await
            .assert_error(400, "id_length");
        let mut org = submission("T-ORG", complete_materials());
        org["applicant"] =
            json!({"kind": "organisation", "id_number": "91350100M000100Y44", "name": "某公司"});
        h.clerk
            .post("/api/v1/cases", &org)
            .await
            .assert_error(400, "id_checksum");
        // Unknown matter, unknown material, unknown situation, duplicate material.
        h.clerk
            .post("/api/v1/cases", &submission("NOPE", complete_materials()))
            .await
            .assert_error(404, "unknown_matter");
        h.clerk
            .post(
                "/api/v1/cases",
                &submission("T-SIMPLE", json!([{"code": "M9"}])),
            )
            .await
            .assert_error(400, "unknown_material");
        h.clerk
            .post(
                "/api/v1/cases",
                &submission("T-SIMPLE", json!([{"code": "M1"}, {"code": "M1"}])),
            )
            .await
            .assert_error(400, "duplicate_material");
        let mut sit = good.clone();
        sit["situations"] = json!(["rent"]);
        h.clerk
            .post("/api/v1/cases", &sit)
            .await
            .assert_error(400, "unknown_situation");
        // Malformed JSON and unknown fields.
        h.clerk
            .post_raw("/api/v1/cases", "{not json")
            .await
            .assert_error(400, "bad_json");
        let mut extra = good.clone();
        extra["surprise"] = json!(1);
        let r = h.clerk.post("/api/v1/cases", &extra).await;
        assert!(r.status == 400 || r.status == 422, "{}", r.text);
        assert_eq!(r.body["code"], "bad_json");
        // Empty name.
        let mut noname = good.clone();
        noname["applicant"]["name"] = json!("  ");
        h.clerk
            .post("/api/v1/cases", &noname)
            .await
            .assert_error(400, "empty_field");
        // No session, a made-up token.
        h.t.http
            .post("/api/v1/cases", &good)
            .await
            .assert_error(401, "unauthenticated");
        h.t.http
            .with_token("deadbeef")
            .post("/api/v1/cases", &good)
            .await
            .assert_error(401, "unauthenticated");
        // A mistyped and a malformed case number.
        let mut typo = n.clone().into_bytes();
        let i = typo.len() - 3;
        typo[i] = if typo[i] == b'9' { b'8' } else { b'9' };
        let typo = String::from_utf8(typo).unwrap();
        act(&h.a1, &typo, json!({"action": "start_handling"}))
            .await
            .assert_error(400, "case_number_check");
        h.t.http
            .get(&format!("/api/v1/cases/{typo}?last4=002X"))
            .await
            .assert_error(400, "case_number_check");
        act(&h.a1, "garbage", json!({"action": "start_handling"}))
            .await
            .assert_error(400, "case_number_format");
        // An unknown action.
        act(&h.a1, &n, json!({"action": "approve_everything"}))
            .await
            .assert_error(400, "bad_json");
    })
    .await;
}

#[tokio::test]
async fn a_failing_credit_code_needs_an_audited_override() {
    let h = hall().await;
    let mut org = submission("T-ORG", complete_materials());
    org["applicant"] =
        json!({"kind": "organisation", "id_number": "91350100M000100Y44", "name": "某公司"});
    stores_nothing(&h, || async {
        h.clerk
            .post("/api/v1/cases", &org)
            .await
            .assert_error(400, "id_checksum");
        // An override still needs the right length and characters.
        let mut short = org.clone();
        short["applicant"]["id_number"] = json!("91350100M000100Y4");
        short["applicant"]["checksum_override_reason"] = json!("营业执照原件所载");
        h.clerk
            .post("/api/v1/cases", &short)
            .await
            .assert_error(400, "id_length");
    })
    .await;
    org["applicant"]["checksum_override_reason"] = json!("营业执照原件所载代码，已核对");
    let r = h.clerk.post("/api/v1/cases", &org).await.ok();
    assert_eq!(r["outcome"], "receipt");
    let n = r["case_number"].as_str().unwrap();
    let rec = h.sup.get(&format!("/api/v1/cases/{n}/record")).await.ok();
    let applicant = &rec["events"][0]["event"]["applicant"];
    assert_eq!(applicant["checksum_overridden"], true);
    assert_eq!(
        applicant["checksum_override_reason"],
        "营业执照原件所载代码，已核对"
    );
    // A valid code with a needless override is recorded as not overridden.
    org["applicant"]["id_number"] = json!("91350100M000100Y43");
    let r = h.clerk.post("/api/v1/cases", &org).await.ok();
    assert_eq!(
        r["case"]["case"]["received"]["applicant"]["checksum_overridden"], false,
        "{}",
        r["case"]["case"]["received"]["applicant"]
    );
}

#[tokio::test]
async fn a_village_refuses_matters_not_delegated_to_it_and_queues_others_for_transfer() {
    let h = hall_at("nanhai.guicheng.xiaping").await;
    let r = h.t.http.get("/api/v1/health").await.ok();
    assert_eq!(r["tier"], "village");
    stores_nothing(&h, || async {
        h.clerk
            .post("/api/v1/cases", &submission("T-DIST", complete_materials()))
            .await
            .assert_error(422, "matter_not_delegated");
    })
    .await;
    // Receivable here, decided at the district: accepted, waiting for transfer.
    let r = h
        .clerk
        .post(
            "/api/v1/cases",
            &submission("T-SIMPLE", complete_materials()),
        )
        .await
        .ok();
    assert_eq!(r["outcome"], "receipt");
    assert_eq!(r["document"]["awaiting_transfer"], true);
    // The case is handed to the lowest tier that may decide it at once; the
    // transfer travels when the link is up.
    assert_eq!(r["case"]["case"]["holder"], "nanhai");
    let n0 = r["case_number"].as_str().unwrap();
    let rec = h.sup.get(&format!("/api/v1/cases/{n0}/record")).await.ok();
    let last = rec["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"]["type"], "transferred");
    assert_eq!(last["event"]["to"], "nanhai");
    let page = h.clerk.get(r["document_url"].as_str().unwrap()).await;
    assert!(page.text.contains("等待转送"));
    // The village does not hold the case, so it cannot handle it.
    let n = r["case_number"].as_str().unwrap();
    act(&h.a1, n, json!({"action": "start_handling"}))
        .await
        .assert_error(409, "not_holder");
    // The catalogue this hall shows leaves out what it may not receive.
    let cat = h.t.http.get("/api/v1/catalogue").await.ok();
    let codes: Vec<&str> = cat["matters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert!(!codes.contains(&"T-DIST") && codes.contains(&"T-SIMPLE"));
    // An immediate matter decided higher up is accepted, not completed, here.
    let r = h
        .clerk
        .post("/api/v1/cases", &submission("T-IMM", complete_materials()))
        .await
        .ok();
    assert_eq!(r["outcome"], "receipt");
}

#[tokio::test]
async fn progress_query_needs_the_last_four_characters() {
    let h = hall().await;
    let n = submit_ok(&h, "T-SIMPLE").await;
    let p =
        h.t.http
            .get(&format!("/api/v1/cases/{n}?last4=002X"))
            .await
            .ok();
    assert_eq!(p["state"], "accepted");
    assert!(p["due"].as_str().is_some());
    assert!(
        p.get("case").is_none() && !p.to_string().contains("张三"),
        "progress must not leak the applicant: {p}"
    );
    h.t.http
        .get(&format!("/api/v1/cases/{n}?last4=1234"))
        .await
        .assert_error(404, "case_not_found");
    h.t.http
        .get(&format!("/api/v1/cases/{n}"))
        .await
        .assert_error(400, "bad_query");
}

/// A valid citizen ID number, the `n`th of the tests' people.
fn person(n: u32) -> String {
    common::citizen_id(&format!("44060519800101{n:03}"))
}

/// A booking of `matter` on `date` at `start` for the `n`th person.
fn booking(matter: &str, date: &str, start: &str, n: u32) -> Value {
    json!({"matter": matter, "date": date, "start": start, "name": format!("预约人{n}"),
           "id_number": person(n), "phone": "13800000000"})
}

/// Books, asserting success; the code.
async fn book_ok(h: &Hall, date: &str, start: &str, n: u32) -> String {
    let r =
        h.t.http
            .post("/api/v1/bookings", &booking("T-SIMPLE", date, start, n))
            .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn queue_numbers_call_booked_numbers_first_and_record_waiting_time() {
    let (h, clock) = hall_on_clock().await;
    let a =
        h.t.http
            .post("/api/v1/queue/tickets", &json!({}))
            .await
            .ok();
    assert_eq!(a["number"], "A001");
    // Any text is no booking: refused, and no number issued.
    h.t.http
        .post(
            "/api/v1/queue/tickets",
            &json!({"booking": "YY20261123001"}),
        )
        .await
        .assert_error(404, "unknown_booking");
    // A booking of the next slot (10:30-11:00): its check-in opens at
    // 10:15.
    let on_now = book_ok(&h, "2026-11-23", "10:30", 2).await;
    h.t.http
        .post("/api/v1/queue/tickets", &json!({"booking": on_now}))
        .await
        .assert_error(409, "booking_too_early");
    clock.advance(20 * MINUTE);
    // The code is read in either case.
    let b =
        h.t.http
            .post(
                "/api/v1/queue/tickets",
                &json!({"booking": on_now.to_lowercase()}),
            )
            .await
            .ok();
    assert_eq!(b["number"], "B001");
    assert_eq!(b["appointment"], on_now.as_str());
    assert_eq!(b["late_booking"], false);
    let a2 =
        h.t.http
            .post("/api/v1/queue/tickets", &json!({}))
            .await
            .ok();
    assert_eq!(a2["number"], "A002");
    assert_eq!(a2["ahead"], 2, "B001 and A001 go before it");
    // What the kiosk prints as "ahead of you" follows the calling order:
    // the booked B001 goes before both walk-ins.
    let node = &h.t.node.node;
    let tickets = node.tickets_today().await.unwrap();
    let ahead = |n: &str| {
        let t = tickets.iter().find(|t| t.number == n).unwrap();
        async move { node.waiting_ahead(t).await.unwrap() }
    };
    assert_eq!(ahead("B001").await, 0);
    assert_eq!(ahead("A001").await, 1);
    assert_eq!(ahead("A002").await, 2);
    h.a1.post("/api/v1/queue/call", &json!({"window": "3"}))
        .await
        .assert_error(403, "wrong_role");
    let first = h
        .clerk
        .post("/api/v1/queue/call", &json!({"window": "3"}))
        .await
        .ok();
    assert_eq!(first["number"], "B001");
    assert_eq!(first["window_no"], "3");
    assert!(first["wait_ms"].as_i64().unwrap() >= 0);
    let served = h
        .clerk
        .post(
            &format!("/api/v1/queue/tickets/{}/served", first["id"]),
            &json!({}),
        )
        .await
        .ok();
    assert_eq!(served["status"], "served");
    h.clerk
        .post(
            &format!("/api/v1/queue/tickets/{}/served", a2["id"]),
            &json!({}),
        )
        .await
        .assert_error(409, "ticket_not_called");
    h.clerk
        .post("/api/v1/queue/tickets/999/served", &json!({}))
        .await
        .assert_error(404, "unknown_ticket");
    let a1 = h
        .clerk
        .post("/api/v1/queue/call", &json!({"window": "3"}))
        .await
        .ok();
    assert_eq!(a1["number"], "A001");
    // One open number a window: A001 is still at window 3.
    let busy = h
        .clerk
        .post("/api/v1/queue/call", &json!({"window": "3"}))
        .await;
    busy.assert_error(409, "window_busy");
    assert!(busy.text.contains("A001"), "{}", busy.text);
    // A001 did not come: recorded, and the window is free.
    let gone = h
        .clerk
        .post(
            &format!("/api/v1/queue/tickets/{}/no-show", a1["id"]),
            &json!({}),
        )
        .await
        .ok();
    assert_eq!(gone["status"], "no_show");
    h.clerk
        .post(
            &format!("/api/v1/queue/tickets/{}/no-show", a1["id"]),
            &json!({}),
        )
        .await
        .assert_error(409, "ticket_not_called");
    assert_eq!(
        h.clerk
            .post("/api/v1/queue/call", &json!({"window": "3"}))
            .await
            .ok()["number"],
        "A002"
    );
    let none = h
        .clerk
        .post("/api/v1/queue/call", &json!({"window": "4"}))
        .await;
    assert_eq!(none.status, 204);
    let all = h.clerk.get("/api/v1/queue/tickets").await.ok();
    assert_eq!(all.as_array().unwrap().len(), 3);
}

/// The stored bookings of the test day: `(name, status)`.
async fn stored_bookings(h: &Hall) -> Vec<(String, String)> {
    h.t.node
        .node
        .bookings_of_day("2026-11-23")
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.name, b.status))
        .collect()
}

/// The names on the test day's stored bookings of a status.
async fn names(h: &Hall, status: &str) -> Vec<String> {
    stored_bookings(h)
        .await
        .into_iter()
        .filter(|(_, s)| s == status)
        .map(|(n, _)| n)
        .collect()
}

#[tokio::test]
async fn bookings_take_free_slots_of_working_days_and_are_read_with_the_id() {
    let (h, _clock) = hall_on_clock().await;
    let http = &h.t.http;
    let slots = http
        .get("/api/v1/bookings/slots?matter=T-SIMPLE&date=2026-11-23")
        .await
        .ok();
    assert_eq!(slots["working_day"], true);
    let list = slots["slots"].as_array().unwrap();
    // 09:00-12:00 and 13:30-17:30 in half hours.
    assert_eq!(list.len(), 6 + 8);
    let slot =
        |list: &[Value], start: &str| list.iter().find(|s| s["start"] == start).unwrap().clone();
    // It is 10:00: the slots that started are closed.
    assert_eq!(slot(list, "09:30")["open"], false);
    assert_eq!(slot(list, "10:30")["open"], true);
    assert_eq!(
        slot(list, "14:00"),
        json!({"start": "14:00", "end": "14:30", "capacity": 4, "free": 4, "open": true})
    );
    // A Saturday: the hall is closed.
    let saturday = http
        .get("/api/v1/bookings/slots?matter=T-SIMPLE&date=2026-11-28")
        .await
        .ok();
    assert_eq!(saturday["working_day"], false);
    assert_eq!(saturday["slots"], json!([]));

    // Refusals store nothing.
    for (body, status, code) in [
        (
            booking("T-SIMPLE", "2026-11-28", "14:00", 1),
            422,
            "not_working_day",
        ),
        (
            booking("T-SIMPLE", "2027-01-29", "14:00", 1),
            422,
            "booking_day_out_of_range",
        ),
        (
            booking("T-SIMPLE", "2026-11-22", "14:00", 1),
            422,
            "booking_day_out_of_range",
        ),
        (
            booking("T-SIMPLE", "2026/11/23", "14:00", 1),
            400,
            "bad_date",
        ),
        (
            booking("T-SIMPLE", "2026-11-23", "14:15", 1),
            400,
            "unknown_slot",
        ),
        (
            booking("T-SIMPLE", "2026-11-23", "09:30", 1),
            409,
            "slot_started",
        ),
        (
            booking("T-NOPE", "2026-11-23", "14:00", 1),
            404,
            "unknown_matter",
        ),
    ] {
        http.post("/api/v1/bookings", &body)
            .await
            .assert_error(status, code);
    }
    let mut bad_id = booking("T-SIMPLE", "2026-11-23", "14:00", 1);
    bad_id["id_number"] = json!("440605198001010010");
    assert_eq!(http.post("/api/v1/bookings", &bad_id).await.status, 400);
    let mut no_phone = booking("T-SIMPLE", "2026-11-23", "14:00", 1);
    no_phone["phone"] = json!(" ");
    http.post("/api/v1/bookings", &no_phone)
        .await
        .assert_error(400, "empty_field");
    assert!(stored_bookings(&h).await.is_empty());

    // Four places in a slot; the fifth is refused, and not stored.
    let mut codes = Vec::new();
    for n in 1..=4 {
        codes.push(book_ok(&h, "2026-11-23", "14:00", n).await);
    }
    let full = http
        .post(
            "/api/v1/bookings",
            &booking("T-SIMPLE", "2026-11-23", "14:00", 5),
        )
        .await;
    full.assert_error(409, "slot_full");
    assert!(
        full.body["message_zh"]
            .as_str()
            .unwrap()
            .contains("14:00–14:30"),
        "{}",
        full.text
    );
    assert_eq!(stored_bookings(&h).await.len(), 4);
    // One booking a day for a person.
    http.post(
        "/api/v1/bookings",
        &booking("T-SIMPLE", "2026-11-23", "14:30", 1),
    )
    .await
    .assert_error(409, "already_booked");
    // Codes: 8 characters, none of 0, O, 1, I.
    for c in &codes {
        assert_eq!(c.len(), 8, "{c}");
        assert!(!c.contains(['0', 'O', '1', 'I']), "{c}");
    }

    // Read with the last four characters of the ID number only; a wrong
    // pair and an unknown code get the same answer.
    let last4 = |n: u32| person(n)[14..].to_owned();
    http.get(&format!("/api/v1/bookings/{}?last4={}", codes[0], last4(2)))
        .await
        .assert_error(404, "booking_not_found");
    http.get(&format!("/api/v1/bookings/ZZZZZZZZ?last4={}", last4(1)))
        .await
        .assert_error(404, "booking_not_found");
    let mine = http
        .get(&format!("/api/v1/bookings/{}?last4={}", codes[0], last4(1)))
        .await
        .ok();
    assert_eq!(
        (
            &mine["status"],
            &mine["start"],
            &mine["end"],
            &mine["check_in_from"]
        ),
        (
            &json!("booked"),
            &json!("14:00"),
            &json!("14:30"),
            &json!("13:45")
        )
    );
    assert!(
        !mine["id_masked"]
            .as_str()
            .unwrap()
            .contains(&person(1)[6..14])
    );
    let list = http
        .get("/api/v1/bookings/slots?matter=T-SIMPLE&date=2026-11-23")
        .await
        .ok();
    let list = list["slots"].as_array().unwrap();
    assert_eq!(
        (&slot(list, "14:00")["free"], &slot(list, "14:00")["open"]),
        (&json!(0), &json!(false))
    );

    // Cancelled by its holder, once; the place is free again.
    http.post(
        &format!("/api/v1/bookings/{}/cancel", codes[1]),
        &json!({"last4": last4(1)}),
    )
    .await
    .assert_error(404, "booking_not_found");
    let gone = http
        .post(
            &format!("/api/v1/bookings/{}/cancel", codes[1]),
            &json!({"last4": last4(2)}),
        )
        .await
        .ok();
    assert_eq!(gone["status"], "cancelled");
    http.post(
        &format!("/api/v1/bookings/{}/cancel", codes[1]),
        &json!({"last4": last4(2)}),
    )
    .await
    .assert_error(409, "booking_not_cancellable");
    let list = http
        .get("/api/v1/bookings/slots?matter=T-SIMPLE&date=2026-11-23")
        .await
        .ok();
    assert_eq!(slot(list["slots"].as_array().unwrap(), "14:00")["free"], 1);
}

#[tokio::test]
async fn a_booked_number_only_within_its_slot_and_no_show_after_it() {
    let (h, clock) = hall_on_clock().await;
    let http = &h.t.http;
    let codes: Vec<String> = {
        let mut v = Vec::new();
        for n in 1..=3 {
            v.push(book_ok(&h, "2026-11-23", "14:00", n).await);
        }
        v
    };
    let last4 = |n: u32| person(n)[14..].to_owned();
    http.post(
        &format!("/api/v1/bookings/{}/cancel", codes[1]),
        &json!({"last4": last4(2)}),
    )
    .await
    .ok();
    let take = |code: &str| {
        let body = json!({"booking": code});
        async move { http.post("/api/v1/queue/tickets", &body).await }
    };
    // Unknown, malformed or cancelled codes are refused, and no number is
    // issued.
    take("ZZZZZZZZ").await.assert_error(404, "unknown_booking");
    take("not a code")
        .await
        .assert_error(404, "unknown_booking");
    take("").await.assert_error(404, "unknown_booking");
    take(&codes[1]).await.assert_error(409, "booking_cancelled");
    // Too early (it is 10:00): refused with the slot's time.
    let early = take(&codes[0]).await;
    early.assert_error(409, "booking_too_early");
    for m in ["message_zh", "message_en"] {
        let m = early.body[m].as_str().unwrap();
        assert!(
            m.contains("2026-11-23 14:00–14:30") && m.contains("13:45"),
            "{m}"
        );
    }
    assert!(h.t.node.node.tickets_today().await.unwrap().is_empty());

    // A walk-in at 10:00; the booked visitor checks in at 13:50 and is
    // called first.
    let walk_in = http.post("/api/v1/queue/tickets", &json!({})).await.ok();
    assert_eq!(walk_in["number"], "A001");
    clock.advance(230 * MINUTE);
    let booked = take(&codes[0]).await.ok();
    assert_eq!(
        (&booked["number"], &booked["ahead"], &booked["late_booking"]),
        (&json!("B001"), &json!(0), &json!(false))
    );
    take(&codes[0]).await.assert_error(409, "booking_used");
    let held = http
        .get(&format!("/api/v1/bookings/{}?last4={}", codes[0], last4(1)))
        .await
        .ok();
    assert_eq!(held["status"], "checked_in");
    let first = h
        .clerk
        .post("/api/v1/queue/call", &json!({"window": "1"}))
        .await
        .ok();
    assert_eq!(first["number"], "B001");

    // The slot ends at 14:30: at 14:40 the third booking reads as a
    // no-show at once, and the sweep stores it so.
    clock.advance(50 * MINUTE);
    let missed = http
        .get(&format!("/api/v1/bookings/{}?last4={}", codes[2], last4(3)))
        .await
        .ok();
    assert_eq!(missed["status"], "no_show");
    assert_eq!(names(&h, "booked").await, ["预约人3"]);
    assert_eq!(h.t.node.node.sweep_bookings().await.unwrap(), 1);
    assert_eq!(names(&h, "no_show").await, ["预约人3"]);
    assert_eq!(h.t.node.node.sweep_bookings().await.unwrap(), 0);
    http.post(
        &format!("/api/v1/bookings/{}/cancel", codes[2]),
        &json!({"last4": last4(3)}),
    )
    .await
    .assert_error(409, "booking_not_cancellable");
    // Shown too late: a walk-in's number, and it says so.
    let late = take(&codes[2]).await.ok();
    assert_eq!(
        (&late["number"], &late["late_booking"], &late["appointment"]),
        (&json!("A002"), &json!(true), &Value::Null)
    );
    let order: Vec<_> =
        h.t.node
            .node
            .tickets_today()
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.number, t.appointment))
            .collect();
    assert_eq!(
        order,
        [
            ("A001".to_owned(), None),
            ("B001".to_owned(), Some(codes[0].clone())),
            ("A002".to_owned(), None)
        ]
    );
}

/// A district node as [`hall`] on `clock`, with its configuration changed
/// by `change` first.
async fn hall_configured(
    clock: Arc<dyn onewindow_node::service::Clock>,
    change: impl FnOnce(&mut onewindow_node::service::config::Config),
) -> Hall {
    let db = common::test_db().await;
    let mut cfg = common::hall_config("nanhai", &db.url, db.dir());
    change(&mut cfg);
    let node = onewindow_node::server::start_with_clock(cfg, clock)
        .await
        .unwrap();
    let http = common::Client::new(node.url());
    hall_for(TestNode { node, db, http }).await
}

#[tokio::test]
async fn only_bookable_matters_are_booked_in_places_per_window_on_working_days() {
    // Friday 2026-09-18, 10:00 in China: Mid-Autumn (09-25 to 09-27) and
    // National Day (10-01 to 10-07) are ahead, with the make-up working
    // days Sunday 09-20 and Saturday 10-10.
    let clock = Arc::new(StartedClock::at(1_790_215_200_000 - 6 * 86_400_000));
    let h = hall_configured(clock, |c| {
        c.node.slot_capacity = 4;
        c.node.window_capacity = 1;
        c.node.matter_windows = vec!["T-SIMPLE:2".into()];
    })
    .await;
    let http = &h.t.http;
    let day = |date: &str| {
        let path = format!("/api/v1/bookings/slots?matter=T-SIMPLE&date={date}");
        async move { http.get(&path).await.ok() }
    };
    // A holiday has no slots, on a weekday too; a make-up working day has
    // them, on a weekend too.
    for (date, working) in [
        ("2026-09-20", true),
        ("2026-09-21", true),
        ("2026-09-25", false),
        ("2026-09-26", false),
        ("2026-09-27", false),
        ("2026-10-03", false),
        ("2026-10-08", true),
        ("2026-10-10", true),
        ("2026-10-11", false),
    ] {
        let d = day(date).await;
        assert_eq!(d["working_day"], working, "{date}: {d}");
        assert_eq!(
            d["slots"].as_array().unwrap().len(),
            if working { 14 } else { 0 },
            "{date}"
        );
    }
    http.post(
        "/api/v1/bookings",
        &booking("T-SIMPLE", "2026-09-25", "14:00", 1),
    )
    .await
    .assert_error(422, "not_working_day");
    // Two windows for T-SIMPLE, one booking each in a slot: 2 places.
    let d = day("2026-09-20").await;
    let s = d["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["start"] == "14:00")
        .unwrap()
        .clone();
    assert_eq!(
        s,
        json!({"start": "14:00", "end": "14:30", "capacity": 2, "free": 2, "open": true})
    );
    for n in 1..=2 {
        let r = http
            .post(
                "/api/v1/bookings",
                &booking("T-SIMPLE", "2026-09-20", "14:00", n),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let full = http
        .post(
            "/api/v1/bookings",
            &booking("T-SIMPLE", "2026-09-20", "14:00", 3),
        )
        .await;
    full.assert_error(409, "matter_slot_full");
    assert!(
        full.body["message_en"]
            .as_str()
            .unwrap()
            .contains("2 windows"),
        "{}",
        full.text
    );
    let node = &h.t.node.node;
    assert_eq!(node.bookings_of_day("2026-09-20").await.unwrap().len(), 2);
    // A matter the catalogue does not mark bookable is not booked.
    http.get("/api/v1/bookings/slots?matter=T-IMM&date=2026-09-21")
        .await
        .assert_error(422, "matter_not_bookable");
    http.post(
        "/api/v1/bookings",
        &booking("T-IMM", "2026-09-21", "14:00", 4),
    )
    .await
    .assert_error(422, "matter_not_bookable");
    assert!(node.bookings_of_day("2026-09-21").await.unwrap().is_empty());
}

#[tokio::test]
async fn repeated_no_shows_block_booking_and_late_arrivals_are_walk_ins() {
    let clock = Arc::new(StartedClock::at(common::START_MS));
    let h = hall_configured(clock.clone(), |c| {
        c.node.booking_no_show_limit = 2;
        c.node.booking_no_show_days = 30;
        c.node.booking_block_days = 7;
    })
    .await;
    let http = &h.t.http;
    let node = &h.t.node.node;
    // Monday 10:00: persons 1, 2 and 3 book the 10:30 slot; a walk-in
    // arrives first.
    let first = [
        book_ok(&h, "2026-11-23", "10:30", 1).await,
        book_ok(&h, "2026-11-23", "10:30", 2).await,
        book_ok(&h, "2026-11-23", "10:30", 3).await,
    ];
    let walk_in = http.post("/api/v1/queue/tickets", &json!({})).await.ok();
    assert_eq!(walk_in["number"], "A001");
    // Person 2 comes at 10:20, after the walk-in, and is called first.
    clock.advance(20 * MINUTE);
    let booked = http
        .post("/api/v1/queue/tickets", &json!({"booking": first[1]}))
        .await
        .ok();
    assert_eq!(
        (&booked["number"], &booked["ahead"]),
        (&json!("B001"), &json!(0))
    );
    let called = h
        .clerk
        .post("/api/v1/queue/call", &json!({"window": "1"}))
        .await
        .ok();
    assert_eq!(called["number"], "B001");
    // Person 1 comes at 11:05, after the slot: a walk-in's number.
    // Person 3 does not come.
    clock.advance(45 * MINUTE);
    let late = http
        .post("/api/v1/queue/tickets", &json!({"booking": first[0]}))
        .await
        .ok();
    assert_eq!(
        (&late["number"], &late["late_booking"]),
        (&json!("A002"), &json!(true))
    );
    // Tuesday: persons 1 and 3 book 10:30 again and neither comes.
    book_ok(&h, "2026-11-24", "10:30", 1).await;
    book_ok(&h, "2026-11-24", "10:30", 3).await;
    clock.advance(24 * 60 * MINUTE);
    // Wednesday 11:05. Person 1 came late once and missed once: one
    // no-show counts. Person 3 missed 2 in 30 days: blocked for 7 days
    // after the last, and nothing is stored.
    book_ok(&h, "2026-11-25", "14:00", 1).await;
    let blocked = http
        .post(
            "/api/v1/bookings",
            &booking("T-SIMPLE", "2026-11-26", "14:00", 3),
        )
        .await;
    blocked.assert_error(422, "booking_blocked");
    for (m, words) in [
        ("message_zh", ["2 次", "30 天", "2026-12-01"]),
        ("message_en", ["2 booked", "30 days", "2026-12-01"]),
    ] {
        let m = blocked.body[m].as_str().unwrap();
        assert!(words.iter().all(|w| m.contains(w)), "{m}");
    }
    assert!(node.bookings_of_day("2026-11-26").await.unwrap().is_empty());
    // The block ends.
    clock.advance(7 * 24 * 60 * MINUTE);
    book_ok(&h, "2026-12-03", "14:00", 3).await;

    // The statistics: five bookings on Monday and Tuesday, one arrived in
    // its slot, four not (one of them late); the booked number was called
    // at once, the walk-ins are not called yet.
    let c = node
        .store
        .booking_counts("2026-11-23", "2026-11-24", node.now_ms())
        .await
        .unwrap();
    assert_eq!(
        (c.booked, c.arrived, c.no_show, c.late, c.cancelled, c.open),
        (5, 1, 4, 1, 0, 0)
    );
    let (b, w) = node
        .store
        .channel_waits("2026-11-23", "2026-11-24")
        .await
        .unwrap();
    assert_eq!((b.taken, b.called, b.max_ms), (1, 1, b.total_ms));
    assert!(b.max_ms < MINUTE, "called at once: {b:?}");
    assert_eq!((w.taken, w.called), (2, 0));
}

/// A submission of `matter` for `person` with these materials.
fn submission_for(matter: &str, id_number: &str, materials: Value) -> Value {
    json!({
        "matter_code": matter,
        "applicant": {"kind": "person", "id_number": id_number, "name": "张三", "phone": "13800000000"},
        "materials": materials,
    })
}

#[tokio::test]
async fn a_material_is_presented_by_data_with_a_reference_to_an_earlier_result() {
    let h = hall().await;
    let submit = |matter: &str, id: &str, materials: Value| {
        let body = submission_for(matter, id, materials);
        let clerk = h.clerk.clone();
        async move { clerk.post("/api/v1/cases", &body).await }
    };
    let number = |r: Value| r["case_number"].as_str().unwrap().to_owned();
    // Earlier results: a T-IMM completed at the window (granted) for the
    // applicant and for someone else, and a T-SIMPLE not decided yet.
    let mine = number(submit("T-IMM", PERSON, complete_materials()).await.ok());
    let other = number(submit("T-IMM", &person(7), complete_materials()).await.ok());
    let open = number(submit("T-SIMPLE", PERSON, complete_materials()).await.ok());

    // The lookup lists the applicant's granted T-IMM, which replaces the
    // household register (M3) of T-SIMPLE; only a clerk looks up.
    let lookup = json!({"matter": "T-SIMPLE", "id_number": PERSON});
    let found = h.clerk.post("/api/v1/data-results", &lookup).await.ok();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let r = &found[0];
    assert_eq!(
        (
            &r["case_number"],
            &r["matter"],
            &r["replaces"],
            &r["hall"],
            &r["decided_on"]
        ),
        (
            &json!(mine),
            &json!("T-IMM"),
            &json!(["M3"]),
            &json!("nanhai"),
            &json!("2026-11-23")
        )
    );
    h.a1.post("/api/v1/data-results", &lookup)
        .await
        .assert_error(403, "wrong_role");
    h.clerk
        .post(
            "/api/v1/data-results",
            &json!({"matter": "T-SIMPLE", "id_number": "440605198001010010"}),
        )
        .await
        .assert_error(400, "id_checksum");
    let none = h
        .clerk
        .post(
            "/api/v1/data-results",
            &json!({"matter": "T-SIMPLE", "id_number": person(8)}),
        )
        .await
        .ok();
    assert_eq!(none, json!([]));
    // Each lookup is an audit record: the clerk, the ID's last four and
    // how many results were shown.
    let audit = h
        .admin
        .get("/api/v1/admin/audit/actions?action=data_lookup")
        .await
        .ok();
    let audit = audit.as_array().unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");
    let last4 = |id: &str| id[14..].to_owned();
    assert_eq!(
        (&audit[1]["actor"], &audit[1]["target"]),
        (&json!("clerk1"), &json!("T-SIMPLE"))
    );
    let detail = audit[1]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&last4(PERSON)) && detail.contains("1 results"),
        "{detail}"
    );
    assert!(!detail.contains(&PERSON[..14]), "{detail}");
    let detail = audit[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&last4(&person(8))) && detail.contains("0 results"),
        "{detail}"
    );

    // References that are not such a result are refused, and nothing is
    // stored: another applicant's, one not granted, no case number, and a
    // material the checklist does not take as data.
    let with = |code: &str, reference: &str| {
        let mut m = json!([
            {"code": "M1", "originals": 1, "copies": 1},
            {"code": "M2", "originals": 1}
        ]);
        let mut extra = json!({"code": code, "by_data": reference});
        if code == "M1" {
            m[0] = extra;
        } else {
            extra["copies"] = json!(0);
            m.as_array_mut().unwrap().push(extra);
        }
        m
    };
    let before = counts(&h.t.node).await;
    for (materials, status, code) in [
        (with("M3", &other), 422, "by_data_not_found"),
        (with("M3", &open), 422, "by_data_not_found"),
        (with("M3", "not-a-case"), 422, "by_data_not_found"),
        (with("M1", &mine), 400, "material_not_by_data"),
    ] {
        submit("T-SIMPLE", PERSON, materials)
            .await
            .assert_error(status, code);
    }
    assert_eq!(counts(&h.t.node).await, before);

    // Presented by data: the household register is neither missing nor
    // deferred, the case records the reference, and the receipt says so.
    let r = submit("T-SIMPLE", PERSON, with("M3", &mine.to_lowercase()))
        .await
        .ok();
    assert_eq!(r["outcome"], "receipt", "{r}");
    let doc = &r["document"];
    assert_eq!(doc["lines"], json!([]), "nothing deferred: {doc}");
    let notes = doc["notes"].to_string();
    assert!(
        notes.contains("由数据核验") && notes.contains(&format!("presented by data, ref {mine}")),
        "{notes}"
    );
    let n = number(r);
    let case = h.clerk.get(&format!("/api/v1/cases?number={n}")).await.ok();
    let m3 = case[0]["case"]["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "M3")
        .unwrap()
        .clone();
    assert_eq!(m3["by_data"], json!(mine), "{m3}");
    // The printed receipt lists it.
    let page = h.clerk.get(&format!("/api/v1/cases/{n}/document")).await;
    assert!(
        page.text.contains("由数据核验") && page.text.contains(&mine),
        "{}",
        page.text
    );

    // After a correction notice, the materials brought again may present
    // one by data too, checked the same way.
    let short = submit(
        "T-SIMPLE",
        PERSON,
        json!([{"code": "M1", "originals": 1, "copies": 1}]),
    )
    .await
    .ok();
    assert_eq!(short["outcome"], "correction_notice", "{short}");
    let short = number(short);
    let again = |materials: Value| {
        let (clerk, path) = (h.clerk.clone(), format!("/api/v1/cases/{short}/resubmit"));
        async move {
            clerk
                .post(&path, &json!({"situations": [], "materials": materials}))
                .await
        }
    };
    let before = counts(&h.t.node).await;
    again(with("M3", &other))
        .await
        .assert_error(422, "by_data_not_found");
    assert_eq!(counts(&h.t.node).await, before);
    let r = again(with("M3", &mine)).await.ok();
    assert_eq!(r["outcome"], "receipt", "{r}");
    assert!(
        r["document"]["notes"]
            .to_string()
            .contains(&format!("ref {mine}")),
        "{r}"
    );
}

#[tokio::test]
async fn staff_roles_sessions_and_logout() {
    let h = hall().await;
    let r = h.clerk.post("/api/v1/staff", &json!({"username": "x1x", "display_name": "x", "role": "clerk", "password": "0123456789"})).await;
    r.assert_error(403, "wrong_role");
    let r = h.admin.post("/api/v1/staff", &json!({"username": "ap9", "display_name": "x", "role": "approver", "password": "0123456789"})).await;
    r.assert_error(400, "department_required");
    let r = h.admin.post("/api/v1/staff", &json!({"username": "ap9", "display_name": "x", "role": "approver", "department": "zz", "password": "0123456789"})).await;
    r.assert_error(400, "unknown_department");
    let r = h
        .admin
        .post(
            "/api/v1/staff",
            &json!({"username": "ap9", "display_name": "x", "role": "clerk", "password": "short"}),
        )
        .await;
    r.assert_error(400, "weak_password");
    let r = h.admin.post("/api/v1/staff", &json!({"username": "clerk1", "display_name": "x", "role": "clerk", "password": "0123456789"})).await;
    r.assert_error(409, "username_taken");
    h.t.http
        .post(
            "/api/v1/session",
            &json!({"username": "clerk1", "password": "wrong-password"}),
        )
        .await
        .assert_error(401, "bad_credentials");
    let me = h.clerk.get("/api/v1/session").await.ok();
    assert_eq!(me["role"], "clerk");
    let list = h.admin.get("/api/v1/staff").await.ok();
    assert!(list.to_string().contains("a.one") && !list.to_string().contains("argon2"));
    // Logout ends the session.
    let extra = h.t.http.login("clerk1", common::STAFF_PASSWORD).await;
    assert_eq!(extra.delete("/api/v1/session").await.status, 204);
    extra
        .get("/api/v1/session")
        .await
        .assert_error(401, "unauthenticated");
    // Deactivation ends every session of the account.
    assert_eq!(h.admin.delete("/api/v1/staff/sup1").await.status, 204);
    h.sup
        .get("/api/v1/session")
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn failed_logins_lock_the_account_then_the_address_and_each_lockout_is_a_security_event() {
    use onewindow_node::service::TestClock;
    use std::sync::Arc;
    let clock = Arc::new(TestClock::at(1_790_000_000_000));
    let t = common::start_with_clock("nanhai", clock.clone()).await;
    let admin = t.http.login("admin", common::ADMIN_PASSWORD).await;
    let login = |user: &str, password: &str| {
        let http = t.http.clone();
        let body = json!({"username": user, "password": password});
        async move { http.post("/api/v1/session", &body).await }
    };
    // Four wrong passwords are refused one by one; the fifth locks.
    for _ in 0..4 {
        login("admin", "wrong-password")
            .await
            .assert_error(401, "bad_credentials");
    }
    let r = login("admin", "wrong-password").await;
    r.assert_error(429, "login_locked");
    assert!(
        r.body["message_en"]
            .as_str()
            .unwrap()
            .contains("15 minutes"),
        "{}",
        r.text
    );
    // Locked: the right password is refused too, without being checked.
    login("admin", common::ADMIN_PASSWORD)
        .await
        .assert_error(429, "login_locked");
    // Sessions already open go on; other accounts are not locked.
    admin.get("/api/v1/session").await.ok();
    login("someone", "wrong-password")
        .await
        .assert_error(401, "bad_credentials");
    let events = admin.get("/api/v1/admin/security-events").await.ok();
    let lockouts: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "login_lockout")
        .collect();
    assert_eq!(lockouts.len(), 1, "{events}");
    assert_eq!(lockouts[0]["remote"], "127.0.0.1");
    assert!(
        lockouts[0]["detail"]
            .as_str()
            .unwrap()
            .contains("account admin"),
        "{}",
        lockouts[0]
    );
    // After the lockout the account opens again.
    clock.advance(15 * 60_000);
    let again = t.http.login("admin", common::ADMIN_PASSWORD).await;
    again.get("/api/v1/session").await.ok();
    // Thirty failures from one address on thirty accounts lock the
    // address: then even a right password from there is refused.
    clock.advance(15 * 60_000);
    for k in 0..29 {
        login(&format!("guess{k}"), "wrong-password")
            .await
            .assert_error(401, "bad_credentials");
    }
    login("guess29", "wrong-password")
        .await
        .assert_error(429, "login_locked");
    login("admin", common::ADMIN_PASSWORD)
        .await
        .assert_error(429, "login_locked");
    let events = admin.get("/api/v1/admin/security-events").await.ok();
    let text = events.to_string();
    assert!(text.contains("address 127.0.0.1 locked"), "{text}");
    let metrics = t.http.get("/metrics").await.text;
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("login_lockouts_total") && l.ends_with(" 2")),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_audit_walks_the_stored_chains_and_names_a_deleted_row() {
    let h = hall().await;
    for _ in 0..3 {
        submit_ok(&h, "T-SIMPLE").await;
    }
    let report = h.admin.get("/api/v1/admin/audit").await.ok();
    assert_eq!(report["node"], "nanhai");
    assert_eq!(report["broken"], 0, "{report}");
    let own = report["origins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["origin"] == "nanhai")
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(own["whole"], true);
    assert!(own["break"].is_null());
    let head = own["head"].as_u64().unwrap();
    assert!(head >= 4, "{own}");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&h.t.db.url).await.unwrap();
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(report["entries"].as_i64().unwrap(), held);

    // A row deleted by hand: the chain breaks at the entry after it.
    let gone = (head - 1) as i64;
    sqlx::query("DELETE FROM events WHERE origin = 'nanhai' AND origin_seq = $1")
        .bind(gone)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let report = h.admin.get("/api/v1/admin/audit?origin=nanhai").await.ok();
    assert_eq!(report["broken"], 1, "{report}");
    let origins = report["origins"].as_array().unwrap();
    assert_eq!(origins.len(), 1);
    let b = &origins[0]["break"];
    assert_eq!(b["kind"], "gap", "{report}");
    assert_eq!(b["seq"].as_i64().unwrap(), gone + 1);
    assert!(b["detail"].as_str().unwrap().contains("missing"), "{b}");
    // A supervisor may audit; a clerk may not; an origin must be a node id.
    h.sup.get("/api/v1/admin/audit").await.ok();
    h.clerk
        .get("/api/v1/admin/audit")
        .await
        .assert_error(403, "wrong_role");
    h.admin
        .get("/api/v1/admin/audit?origin=not%20a%20node")
        .await
        .assert_error(400, "bad_origin");
}

#[tokio::test]
async fn sessions_expire() {
    use onewindow_node::service::TestClock;
    use std::sync::Arc;
    let clock = Arc::new(TestClock::at(1_790_000_000_000));
    let t = common::start_with_clock("nanhai", clock.clone()).await;
    let admin = t.http.login("admin", common::ADMIN_PASSWORD).await;
    admin.get("/api/v1/session").await.ok();
    clock.advance(8 * 3600 * 1000 + 1);
    admin
        .get("/api/v1/session")
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn published_catalogue_versions_are_frozen_and_cases_record_theirs() {
    let h = hall().await;
    let n = submit_ok(&h, "T-SIMPLE").await;
    h.admin
        .put("/api/v1/admin/catalogue/versions/2", &test_catalogue())
        .await
        .assert_error(409, "catalogue_version_frozen");
    h.admin
        .post("/api/v1/admin/catalogue/versions/2/publish", &json!({}))
        .await
        .assert_error(409, "catalogue_version_frozen");
    h.admin
        .post("/api/v1/admin/catalogue/versions/99/publish", &json!({}))
        .await
        .assert_error(404, "unknown_catalogue_version");
    h.clerk
        .post("/api/v1/admin/catalogue/versions", &test_catalogue())
        .await
        .assert_error(403, "wrong_role");
    let mut bad = test_catalogue();
    bad["matters"]["T-SIMPLE"]["department"] = json!("nowhere");
    h.admin
        .post("/api/v1/admin/catalogue/versions", &bad)
        .await
        .assert_error(400, "invalid_catalogue");
    // A new version with a changed matter: drafts may change, then publish.
    let mut next = test_catalogue();
    next["matters"]["T-SIMPLE"]["version"] = json!(2);
    next["matters"]["T-SIMPLE"]["name_zh"] = json!("测试事项（修订）");
    let d = h
        .admin
        .post("/api/v1/admin/catalogue/versions", &next)
        .await
        .ok();
    let v = d["version"].as_i64().unwrap();
    assert_eq!(d["state"], "draft");
    assert_eq!(
        h.admin
            .put(&format!("/api/v1/admin/catalogue/versions/{v}"), &next)
            .await
            .status,
        204
    );
    h.admin
        .post(
            &format!("/api/v1/admin/catalogue/versions/{v}/publish"),
            &json!({}),
        )
        .await
        .ok();
    let versions = h.admin.get("/api/v1/admin/catalogue/versions").await.ok();
    let states: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["retired", "retired", "published"]);
    let n2 = submit_ok(&h, "T-SIMPLE").await;
    let old = h.sup.get(&format!("/api/v1/cases/{n}/record")).await.ok();
    let new = h.sup.get(&format!("/api/v1/cases/{n2}/record")).await.ok();
    assert_eq!(old["view"]["case"]["received"]["catalogue_version"], 2);
    assert_eq!(old["view"]["case"]["received"]["matter_version"], 1);
    assert_eq!(new["view"]["case"]["received"]["catalogue_version"], v);
    assert_eq!(new["view"]["case"]["received"]["matter_version"], 2);
    assert_eq!(
        h.t.http.get("/api/v1/health").await.ok()["catalogue_version"],
        v
    );
}

/// Takes a case of `matter` to its result at the window: handled by a1,
/// reviewed by a2, decided by a3.
async fn result_ready(h: &Hall, matter: &str) -> String {
    let n = submit_ok(h, matter).await;
    act_ok(&h.a1, &n, json!({"action": "start_handling"})).await;
    act_ok(
        &h.a1,
        &n,
        json!({"action": "submit_for_review", "opinion": "材料齐全"}),
    )
    .await;
    act_ok(
        &h.a2,
        &n,
        json!({"action": "pass_review", "opinion": "同意"}),
    )
    .await;
    act_ok(
        &h.a3,
        &n,
        json!({"action": "decide", "granted": true, "opinion": "准予"}),
    )
    .await;
    let v = act_ok(
        &h.a3,
        &n,
        json!({"action": "result_ready", "result": "证明一份"}),
    )
    .await;
    assert_eq!(v["state"], "result_ready");
    n
}

#[tokio::test]
async fn a_hand_out_says_who_collected_it_and_how_their_identity_was_checked() {
    let h = hall().await;
    let n = result_ready(&h, "T-SIMPLE").await;
    let proxy = |id: &str, authorisation: bool| json!({"action": "hand_out", "collector": {"by": "proxy", "name": "李四", "id_number": id, "authorisation": authorisation, "reference": "委托书 2026-17"}});
    stores_nothing(&h, || async {
        // In person with a number that is not the applicant's.
        let mut wrong = in_person();
        wrong["collector"]["id_number"] = json!("110105198001010016");
        let r = act(&h.clerk, &n, wrong).await;
        r.assert_error(400, "id_mismatch");
        assert_eq!(r.body["message_zh"], "证件号码与申请人不一致", "{}", r.text);
        assert_eq!(
            r.body["message_en"], "The ID number is not the applicant's",
            "{}",
            r.text
        );
        // The document not checked.
        let mut unchecked = in_person();
        unchecked["collector"]["id_checked"] = json!(false);
        act(&h.clerk, &n, unchecked)
            .await
            .assert_error(400, "id_not_checked");
        // A proxy without the authorisation, or with a mistyped number.
        act(&h.clerk, &n, proxy("110105198001010016", false))
            .await
            .assert_error(400, "authorisation_missing");
        act(&h.clerk, &n, proxy("110105198001010011", true))
            .await
            .assert_error(400, "id_checksum");
        // A name alone, as hand-outs were recorded before.
        act(
            &h.clerk,
            &n,
            json!({"action": "hand_out", "recipient": "张三"}),
        )
        .await
        .assert_error(400, "handout_identity_missing");
    })
    .await;
    let v = act_ok(&h.clerk, &n, proxy(" 110105198001010016 ", true)).await;
    assert_eq!(v["state"], "completed");
    assert_eq!(v["case"]["handed_out"]["recipient"], "李四");
    assert_eq!(
        v["case"]["handed_out"]["collection"],
        json!({"by": "proxy", "id_number": "110105198001010016", "authorisation": true, "reference": "委托书 2026-17"})
    );
    let rec = h.sup.get(&format!("/api/v1/cases/{n}/record")).await.ok();
    let last = rec["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"]["type"], "handed_out");
    assert_eq!(last["event"]["collection"]["by"], "proxy");
}

#[tokio::test]
async fn a_matter_for_two_people_lets_its_handler_decide_but_not_review() {
    let h = hall().await;
    let mut one = test_catalogue();
    one["matters"]["T-SIMPLE"]["distinct_people"] = json!(1);
    let r = h.admin.post("/api/v1/admin/catalogue/versions", &one).await;
    r.assert_error(400, "invalid_catalogue");
    assert!(r.text.contains("distinct_people"), "{}", r.text);
    let mut two = test_catalogue();
    two["matters"]["T-SIMPLE"]["version"] = json!(2);
    two["matters"]["T-SIMPLE"]["distinct_people"] = json!(2);
    let d = h
        .admin
        .post("/api/v1/admin/catalogue/versions", &two)
        .await
        .ok();
    let v = d["version"].as_i64().unwrap();
    h.admin
        .post(
            &format!("/api/v1/admin/catalogue/versions/{v}/publish"),
            &json!({}),
        )
        .await
        .ok();
    let n = submit_ok(&h, "T-SIMPLE").await;
    act_ok(&h.a1, &n, json!({"action": "start_handling"})).await;
    let v = act_ok(
        &h.a1,
        &n,
        json!({"action": "submit_for_review", "opinion": "材料齐全"}),
    )
    .await;
    assert_eq!(v["case"]["received"]["distinct_people"], 2);
    assert_eq!(v["case"]["handled_by"], "a.one");
    act(
        &h.a1,
        &n,
        json!({"action": "pass_review", "opinion": "同意"}),
    )
    .await
    .assert_error(403, "own_handling");
    act_ok(
        &h.a2,
        &n,
        json!({"action": "pass_review", "opinion": "同意"}),
    )
    .await;
    let v = act_ok(
        &h.a1,
        &n,
        json!({"action": "decide", "granted": true, "opinion": "准予"}),
    )
    .await;
    assert_eq!(v["state"], "decided");
}

#[tokio::test]
async fn due_dates_follow_the_holiday_calendar() {
    use onewindow_node::service::TestClock;
    use std::sync::Arc;
    // Thursday 2026-09-24, 10:00 in China: 5 working days skip Mid-Autumn and
    // National Day and land on Friday 2026-10-09.
    let clock = Arc::new(TestClock::at(1_790_215_200_000));
    let t = common::start_with_clock("nanhai", clock).await;
    let h = hall_for(t).await;
    let r = h
        .clerk
        .post(
            "/api/v1/cases",
            &submission("T-SIMPLE", complete_materials()),
        )
        .await
        .ok();
    assert_eq!(r["document"]["committed_due"], "2026-10-09");
    assert!(r["case_number"].as_str().unwrap().contains("-20260924-"));
}

#[tokio::test]
async fn starter_catalogue_is_served_with_guides() {
    let t = common::start("nanhai").await;
    let cat = t.http.get("/api/v1/catalogue").await.ok();
    assert_eq!(cat["version"], 1);
    let matters = cat["matters"].as_array().unwrap();
    assert!(matters.len() >= 60);
    let code = matters[0]["code"].as_str().unwrap();
    let g = t
        .http
        .get(&format!("/api/v1/catalogue/matters/{code}"))
        .await
        .ok();
    assert!(!g["materials"].as_array().unwrap().is_empty());
    assert!(g["department_zh"].as_str().is_some_and(|s| !s.is_empty()));
    t.http
        .get("/api/v1/catalogue/matters/NOPE")
        .await
        .assert_error(404, "unknown_matter");
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let h = hall().await;
    submit_ok(&h, "T-SIMPLE").await;
    let text = reqwest::get(format!("{}/metrics", h.t.node.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("onewindow_submissions_total{outcome=\"receipt\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("onewindow_acceptance_seconds_count 1"),
        "{text}"
    );
    assert!(text.contains("onewindow_http_requests_total"), "{text}");
    assert!(
        text.contains(&format!(
            "onewindow_build_info{{version=\"{}\",node=\"nanhai\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_routes_answer_in_the_error_shape() {
    let t = common::start("nanhai").await;
    t.http
        .get("/api/v1/nothing-here")
        .await
        .assert_error(404, "route_not_found");
}

#[tokio::test]
async fn a_bad_rating_opens_a_follow_up_that_turns_red_when_overdue_and_closes_when_answered() {
    use onewindow_node::service::TestClock;
    use std::sync::Arc;
    const DAY: i64 = 86_400_000;
    // Monday 2026-11-23, 10:00 in China.
    let clock = Arc::new(TestClock::at(common::START_MS));
    let h = hall_for(common::start_with_clock("nanhai", clock.clone()).await).await;
    let done = || {
        let clerk = h.clerk.clone();
        async move {
            let r = clerk
                .post("/api/v1/cases", &submission("T-IMM", complete_materials()))
                .await
                .ok();
            assert_eq!(r["case"]["state"], "completed");
            r["case_number"].as_str().unwrap().to_owned()
        }
    };
    let bad = done().await;
    let good = done().await;
    let rate = |n: String, score: u8| {
        let http = h.t.http.clone();
        async move {
            http.post(
                &format!("/api/v1/cases/{n}/rating"),
                &json!({"last4": "002X", "score": score, "channel": "qr_code", "comment": "等了很久"}),
            )
            .await
            .ok();
        }
    };
    rate(bad.clone(), 5).await;
    rate(good.clone(), 1).await;
    // Fifteen working days to answer: nothing to warn of on the day.
    let warnings = h.sup.get("/api/v1/admin/warnings").await.ok();
    assert_eq!(warnings, json!([]), "{warnings}");

    // Saturday 12-12: one working day left to Monday 12-14, its due day.
    // (Sessions last a working day: the staff log in again.)
    clock.advance(19 * DAY);
    let sup = h.t.http.login("sup1", common::STAFF_PASSWORD).await;
    let w = sup.get("/api/v1/admin/warnings").await.ok();
    let rows = w.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{w}");
    assert_eq!(rows[0]["case_number"], bad.as_str());
    assert_eq!(rows[0]["rule"], "follow_up");
    assert_eq!(rows[0]["level"], "yellow");
    assert_eq!(rows[0]["follow_up_due"], "2026-12-14");
    assert_eq!(rows[0]["working_days_left"], 1);

    // Tuesday 12-15: overdue, red.
    clock.advance(3 * DAY);
    let sup = h.t.http.login("sup1", common::STAFF_PASSWORD).await;
    let clerk = h.t.http.login("clerk1", common::STAFF_PASSWORD).await;
    let w = sup.get("/api/v1/admin/warnings?level=red").await.ok();
    let rows = w.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{w}");
    assert_eq!(rows[0]["rule"], "follow_up");
    assert_eq!(rows[0]["level"], "red");
    assert_eq!(rows[0]["working_days_left"], -1);

    // A good rating has nothing to follow up; an empty answer is refused;
    // an answer closes the follow-up, once.
    clerk
        .post(
            &format!("/api/v1/cases/{good}/actions"),
            &json!({"action": "follow_up", "answer": "已回访"}),
        )
        .await
        .assert_error(400, "rating_refused");
    let empty = clerk
        .post(
            &format!("/api/v1/cases/{bad}/actions"),
            &json!({"action": "follow_up", "answer": "  "}),
        )
        .await;
    assert_eq!(empty.status, 400, "{}", empty.text);
    let v = act_ok(
        &sup,
        &bad,
        json!({"action": "follow_up", "answer": "已电话回访申请人：窗口高峰期增开一个窗口"}),
    )
    .await;
    assert_eq!(v["state"], "completed");
    clerk
        .post(
            &format!("/api/v1/cases/{bad}/actions"),
            &json!({"action": "follow_up", "answer": "again"}),
        )
        .await
        .assert_error(400, "rating_refused");
    let w = sup.get("/api/v1/admin/warnings").await.ok();
    assert_eq!(w, json!([]), "{w}");
    let rec = sup.get(&format!("/api/v1/cases/{bad}/record")).await.ok();
    let last = rec["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"]["type"], "followed_up", "{last}");
    assert_eq!(last["actor"]["username"], "sup1", "{last}");
}

#[tokio::test]
async fn a_warning_is_appealed_by_the_hall_and_revoked_by_the_district_and_stops_counting() {
    use onewindow_node::service::TestClock;
    use std::sync::Arc;
    const DAY: i64 = 86_400_000;
    // Monday 2026-11-23: T-SIMPLE is due in 5 working days, Monday 11-30.
    let clock = Arc::new(TestClock::at(common::START_MS));
    let h = hall_for(common::start_with_clock("nanhai", clock.clone()).await).await;
    let n = submit_ok(&h, "T-SIMPLE").await;
    let appeal = |level: &str, reason: &str| json!({"action": "appeal_warning", "rule": "deadline", "level": level, "reason": reason});
    // Nothing to appeal while the case is green.
    act(&h.clerk, &n, appeal("yellow", "停电"))
        .await
        .assert_error(409, "no_such_warning");

    // Monday 11-30: its due day (a 5-day limit is yellow on its last
    // working day only), yellow since today.
    clock.advance(7 * DAY);
    let sup = h.t.http.login("sup1", common::STAFF_PASSWORD).await;
    let clerk = h.t.http.login("clerk1", common::STAFF_PASSWORD).await;
    let w = sup.get("/api/v1/admin/warnings").await.ok();
    assert_eq!(w.as_array().unwrap().len(), 1, "{w}");
    assert_eq!(w[0]["level"], "yellow", "{w}");
    assert_eq!(w[0]["status"], "issued", "{w}");
    assert_eq!(w[0]["since"], "2026-11-30", "{w}");
    assert_eq!(w[0]["appeal"], Value::Null, "{w}");

    // The case is not red, an appeal needs a reason, and a citizen's
    // session does not exist: the clerk appeals the yellow warning once.
    act(&clerk, &n, appeal("red", "停电"))
        .await
        .assert_error(409, "no_such_warning");
    assert_eq!(act(&clerk, &n, appeal("yellow", " ")).await.status, 400);
    let v = act_ok(
        &clerk,
        &n,
        appeal("yellow", "11月25日至26日全镇停电，系统无法登录"),
    )
    .await;
    assert_eq!(v["state"], "accepted", "an appeal changes no state");
    act(&clerk, &n, appeal("yellow", "again"))
        .await
        .assert_error(409, "appeal_refused");
    let w = sup.get("/api/v1/admin/warnings").await.ok();
    assert_eq!(w[0]["status"], "appealed", "{w}");
    assert_eq!(w[0]["appeal"]["by"], "clerk1", "{w}");
    assert_eq!(w[0]["appeal"]["hall"], "nanhai", "{w}");

    // Only a supervisor decides; a revoked warning is listed as such.
    let decide = |verdict: &str, reason: &str| json!({"rule": "deadline", "level": "yellow", "verdict": verdict, "reason": reason});
    let url = format!("/api/v1/cases/{n}/warning-decision");
    clerk
        .post(&url, &decide("revoke", "属实"))
        .await
        .assert_error(403, "wrong_role");
    sup.post(
        &url,
        &json!({"rule": "deadline", "level": "red", "verdict": "revoke", "reason": "x"}),
    )
    .await
    .assert_error(409, "appeal_refused");
    let r = sup
        .post(&url, &decide("revoke", "经核实停电属实，撤销预警"))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    sup.post(&url, &decide("uphold", "again"))
        .await
        .assert_error(409, "appeal_refused");
    let w = sup.get("/api/v1/admin/warnings").await.ok();
    assert_eq!(w[0]["status"], "revoked", "{w}");
    assert_eq!(w[0]["appeal"]["decision"]["upheld"], false, "{w}");
    assert_eq!(w[0]["appeal"]["decision"]["by"], "sup1@nanhai", "{w}");
    let only = |status: &str| {
        let sup = sup.clone();
        let status = status.to_owned();
        async move {
            sup.get(&format!("/api/v1/admin/warnings?status={status}"))
                .await
                .ok()
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(only("revoked").await, 1);
    assert_eq!(only("issued").await, 0);
    sup.get("/api/v1/admin/warnings?status=forgiven")
        .await
        .assert_error(400, "bad_query");
    let rec = sup.get(&format!("/api/v1/cases/{n}/record")).await.ok();
    let kinds: Vec<&str> = rec["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        &kinds[kinds.len() - 2..],
        ["warning_appealed", "warning_decided"],
        "{rec}"
    );
    // The decision is an audit record of the district.
    let actions = sup
        .get("/api/v1/admin/audit/actions?action=warning_decided")
        .await
        .ok();
    assert_eq!(actions[0]["target"], n.as_str(), "{actions}");

    // Tuesday 12-01: past due, red: another warning, issued.
    clock.advance(DAY);
    let sup = h.t.http.login("sup1", common::STAFF_PASSWORD).await;
    let w = sup.get("/api/v1/admin/warnings").await.ok();
    assert_eq!(w[0]["level"], "red", "{w}");
    assert_eq!(w[0]["status"], "issued", "{w}");
    assert_eq!(w[0]["since"], "2026-12-01", "{w}");
}

#[tokio::test]
async fn a_login_and_a_logout_are_kept_with_their_audit_records_and_a_recovering_hall_still_lets_staff_in()
 {
    let h = hall_for(common::start("nanhai").await).await;
    let store = h.t.node.node.store.clone();
    let head = || {
        let store = store.clone();
        async move { store.own_head().await.0 }
    };
    let before = head().await;
    let clerk = h.t.http.login("clerk1", common::STAFF_PASSWORD).await;
    assert_eq!(head().await, before + 1, "the login is one entry");
    let last = h.sup.get("/api/v1/admin/audit/actions?limit=1").await.ok();
    assert_eq!(last[0]["action"], "login", "{last}");
    assert_eq!(last[0]["actor"], "clerk1", "{last}");
    clerk.delete("/api/v1/session").await.ok();
    assert_eq!(head().await, before + 2, "the logout is one entry");

    // While the hall takes its own log back from its parent it writes no
    // entry of its own: staff still log in and out, with no record.
    store.hold_own_writes(true).await;
    let held = head().await;
    let clerk = h.t.http.login("clerk1", common::STAFF_PASSWORD).await;
    assert_eq!(
        clerk.get("/api/v1/session").await.ok()["username"],
        "clerk1"
    );
    clerk.delete("/api/v1/session").await.ok();
    assert_eq!(head().await, held);
    store.hold_own_writes(false).await;
}

#[tokio::test]
async fn a_bad_rating_stored_before_follow_ups_were_kept_opens_one_when_the_node_starts() {
    let h = hall().await;
    let r = h
        .clerk
        .post("/api/v1/cases", &submission("T-IMM", complete_materials()))
        .await
        .ok();
    let n = r["case_number"].as_str().unwrap().to_owned();
    h.t.http
        .post(
            &format!("/api/v1/cases/{n}/rating"),
            &json!({"last4": "002X", "score": 4, "channel": "web", "comment": "不满意"}),
        )
        .await
        .ok();
    let row = h.t.node.node.store.case(&n).await.unwrap().unwrap();
    assert_eq!(row.follow_up_due.as_deref(), Some("2026-12-14"));
    // As a store written before the due day was kept holds it.
    let TestNode { node, db, .. } = h.t;
    node.stop().await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE cases SET follow_up_due = NULL")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let again = onewindow_node::server::start_with_clock(
        common::hall_config("nanhai", &db.url, db.dir()),
        std::sync::Arc::new(onewindow_node::service::StartedClock::at(common::START_MS)),
    )
    .await
    .unwrap();
    let row = again.node.store.case(&n).await.unwrap().unwrap();
    assert_eq!(row.follow_up_due.as_deref(), Some("2026-12-14"));
    again.stop().await;
}

#[tokio::test]
async fn a_submission_sent_again_with_its_key_gets_its_case_and_makes_no_other() {
    let h = hall().await;
    let sub = submission("T-SIMPLE", complete_materials());
    let key = ("Idempotency-Key", "kiosk-3:2026-01-05:0001");
    let first = h.clerk.post_with_header("/api/v1/cases", &sub, key).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let number = first.body["case_number"].as_str().unwrap().to_owned();
    stores_nothing(&h, || async {
        let again = h.clerk.post_with_header("/api/v1/cases", &sub, key).await;
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(again.body["case_number"], number.as_str());
        assert_eq!(again.body["outcome"], first.body["outcome"]);
        // The same key with another submission is refused.
        let mut other = sub.clone();
        other["applicant"]["name"] = json!("李四");
        h.clerk
            .post_with_header("/api/v1/cases", &other, key)
            .await
            .assert_error(409, "submission_key_reused");
        // A key that is no key.
        for bad in ["", "has space", &"k".repeat(101), "键"] {
            let r = h
                .clerk
                .post_with_header("/api/v1/cases", &sub, ("Idempotency-Key", bad))
                .await;
            r.assert_error(400, "bad_submission_key");
        }
    })
    .await;
    // Keys are each account's own: another clerk's same key makes a case.
    let clerk2 = staff(&h.t.http, "clerk2", "clerk", None).await;
    let theirs = clerk2.post_with_header("/api/v1/cases", &sub, key).await;
    assert_eq!(theirs.status, 201, "{}", theirs.text);
    assert_ne!(theirs.body["case_number"], number.as_str());
    // Without a key, the same submission is a new case each time.
    let plain = h.clerk.post("/api/v1/cases", &sub).await;
    assert_eq!(plain.status, 201, "{}", plain.text);
}

/// A hall that is its own root: it holds the root's signing key, so its
/// document key is endorsed and its seals check against the root's key.
async fn root_hall() -> Hall {
    let db = common::test_db().await;
    let mut cfg = common::hall_config("nanhai", &db.url, db.dir());
    let (private, public) = onewindow_node::link::signing::generate().unwrap();
    let key_file = db.dir().join("root-signing.key");
    std::fs::write(&key_file, private).unwrap();
    cfg.federation.signing_key_file = key_file.display().to_string();
    cfg.federation.root_public_key = public;
    let node = onewindow_node::server::start_with_clock(
        cfg,
        std::sync::Arc::new(onewindow_node::service::StartedClock::at(common::START_MS)),
    )
    .await
    .unwrap();
    let http = Client::new(node.url());
    hall_for(TestNode { node, db, http }).await
}

fn seal_of(doc: &Value) -> String {
    doc["seal"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn documents_are_records_sealed_by_the_hall_and_checked_by_anyone() {
    let h = root_hall().await;
    let n = submit_ok(&h, "T-PAR").await;
    let docs = h
        .clerk
        .get(&format!("/api/v1/cases/{n}/documents"))
        .await
        .ok();
    let docs = docs.as_array().unwrap().clone();
    assert_eq!(docs.len(), 1, "one receipt: {docs:?}");
    let receipt = &docs[0];
    assert_eq!(receipt["document"]["kind"], "receipt");
    assert_eq!(receipt["record"]["kind"], "receipt");
    assert!(
        receipt["verify_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/verify?d={}", seal_of(receipt)))
    );
    let v = receipt["version"].as_u64().unwrap();
    let page = |c: &Client, path: String| {
        let c = c.clone();
        async move {
            let r = c.get(&path).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.text
        }
    };
    let first = page(&h.clerk, format!("/api/v1/cases/{n}/documents/{v}")).await;
    assert!(first.contains(&seal_of(receipt)), "the seal is printed");
    assert!(first.contains("受理回执"));

    // Anyone checks the seal, without logging in.
    let check = |seal: String| {
        let http = h.t.http.clone();
        async move { http.get(&format!("/api/v1/verify?d={seal}")).await.ok() }
    };
    let ok = check(seal_of(receipt)).await;
    assert_eq!(ok["verdict"], "authentic", "{ok}");
    assert_eq!(ok["authentic"], true);
    assert_eq!(ok["held_here"], true);
    assert_eq!(ok["case_number"], n.as_str());
    assert_eq!(ok["kind"], "receipt");
    assert_eq!(ok["applicant"], "张*", "the name is masked");
    assert!(ok.get("applicant_id").is_none());

    // One changed character of the seal: altered or not a seal at all.
    let seal = seal_of(receipt);
    for at in [3, 20, seal.len() - 5] {
        let mut chars: Vec<char> = seal.chars().collect();
        chars[at] = if chars[at] == 'Q' { 'R' } else { 'Q' };
        let bad = check(chars.into_iter().collect()).await;
        assert_eq!(bad["authentic"], false, "changed at {at}: {bad}");
        assert!(
            ["altered", "malformed", "not_endorsed"].contains(&bad["verdict"].as_str().unwrap()),
            "{bad}"
        );
    }
    let garbage = check("not-a-seal".into()).await;
    assert_eq!(garbage["verdict"], "malformed");
    h.t.http
        .get(&format!("/api/v1/verify?d={}", "A".repeat(2000)))
        .await
        .assert_error(400, "bad_query");

    // The case moves on: the receipt stays as it was, byte for byte.
    act_ok(&h.a1, &n, json!({"action": "start_handling"})).await;
    for (who, dept) in [(&h.b, "b"), (&h.c, "c")] {
        act_ok(
            who,
            &n,
            json!({"action": "opinion", "department": dept, "approve": true, "opinion": "同意"}),
        )
        .await;
    }
    act_ok(
        &h.a1,
        &n,
        json!({"action": "submit_for_review", "opinion": "材料齐全"}),
    )
    .await;
    let after = page(&h.clerk, format!("/api/v1/cases/{n}/documents/{v}")).await;
    assert_eq!(after, first, "an issued document never changes");
    assert_eq!(
        page(&h.clerk, format!("/api/v1/cases/{n}/document")).await,
        first,
        "the acceptance document is the one issued"
    );
}

fn pledged(matter: &str) -> Value {
    let mut s = submission(matter, complete_materials());
    s["pledge_signed"] = json!(true);
    s
}

/// Trust first, check later (先信任、再审核): the applicant signs the
/// matter's pledge, the result is issued at once, and an approver of the
/// department checks it afterwards within its own limit. A failed check
/// revokes the result: an event, a decision of revocation to the
/// applicant, and the progress query says so. Every refusal on the way
/// stores nothing.
#[tokio::test]
async fn a_trust_first_result_is_issued_on_a_pledge_and_revoked_after_its_check() {
    let h = hall().await;
    // A pledge for a matter that is not trust-first is refused.
    stores_nothing(&h, || async {
        h.clerk
            .post("/api/v1/cases", &pledged("T-SIMPLE"))
            .await
            .assert_error(400, "not_trust_first");
    })
    .await;
    // Without the pledge, a trust-first matter takes the ordinary way.
    let ordinary = submit_ok(&h, "T-TRUST").await;
    act(
        &h.a1,
        &ordinary,
        json!({"action": "pass_post_check", "note": "x"}),
    )
    .await
    .assert_error(409, "illegal_transition");
    // With it: completed at once, the pledge recorded, the completion
    // notice saying when the check is due (10 working days after Monday
    // 2026-11-23).
    let r = h.clerk.post("/api/v1/cases", &pledged("T-TRUST")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["outcome"], "completion", "{}", r.text);
    assert_eq!(r.body["case"]["state"], "completed");
    let n = r.body["case_number"].as_str().unwrap().to_owned();
    let trust = &r.body["case"]["case"]["trust"];
    assert_eq!(trust["pledge"], "本人承诺所报信息真实，经营场所符合条件");
    assert_eq!(trust["check_days"], 10);
    assert!(trust["check"].is_null());
    let notes = r.body["document"]["notes"].to_string();
    assert!(
        notes.contains("2026-12-07") && notes.contains("事后核查"),
        "{notes}"
    );
    let p =
        h.t.http
            .get(&format!("/api/v1/cases/{n}?last4=002X"))
            .await
            .ok();
    assert_eq!(p["trust"], "pending", "{p}");
    assert!(p["next_steps"].to_string().contains("2026-12-07"), "{p}");
    // The check is the department's approvers', with a reason when it
    // fails; nothing is stored on a refusal.
    stores_nothing(&h, || async {
        act(
            &h.clerk,
            &n,
            json!({"action": "revoke_result", "reason": "不符"}),
        )
        .await
        .assert_error(403, "wrong_role");
        act(
            &h.b,
            &n,
            json!({"action": "revoke_result", "reason": "不符"}),
        )
        .await
        .assert_error(403, "wrong_department");
        act(
            &h.a1,
            &n,
            json!({"action": "revoke_result", "reason": "  "}),
        )
        .await
        .assert_error(400, "empty_field");
    })
    .await;
    let finding = "现场核查：经营场所与承诺不符";
    let v = act_ok(
        &h.a1,
        &n,
        json!({"action": "revoke_result", "reason": finding}),
    )
    .await;
    assert_eq!(v["state"], "completed");
    assert_eq!(v["case"]["trust"]["check"]["passed"], false);
    assert_eq!(v["case"]["trust"]["check"]["by"], "a.one");
    // Checked once.
    stores_nothing(&h, || async {
        act(
            &h.a2,
            &n,
            json!({"action": "pass_post_check", "note": "复核"}),
        )
        .await
        .assert_error(409, "post_check_refused");
    })
    .await;
    // The event, then the decision of revocation, which names the finding.
    let rec = h.sup.get(&format!("/api/v1/cases/{n}/record")).await.ok();
    let kinds: Vec<&str> = rec["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "received",
            "trust_issued",
            "document_issued",
            "trust_revoked",
            "document_issued"
        ]
    );
    let docs = h
        .sup
        .get(&format!("/api/v1/cases/{n}/documents"))
        .await
        .ok();
    let revocation = docs
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["document"]["kind"] == "revocation")
        .unwrap_or_else(|| panic!("no decision of revocation: {docs}"));
    assert_eq!(revocation["document"]["title_zh"], "撤销决定书");
    assert!(
        revocation["document"]["lines"]
            .to_string()
            .contains(finding)
    );
    assert!(
        revocation["document"]["committed_due"].is_null(),
        "a revocation closes the time limits: {revocation}"
    );
    // The progress query says the result was revoked.
    let p =
        h.t.http
            .get(&format!("/api/v1/cases/{n}?last4=002X"))
            .await
            .ok();
    assert_eq!(p["trust"], "revoked", "{p}");
    assert!(p["next_steps"].to_string().contains("已于"), "{p}");
    // Another trust-first result passes its check, and stands.
    let r = h.clerk.post("/api/v1/cases", &pledged("T-TRUST")).await;
    let m = r.body["case_number"].as_str().unwrap().to_owned();
    let v = act_ok(
        &h.a2,
        &m,
        json!({"action": "pass_post_check", "note": "现场核查属实"}),
    )
    .await;
    assert_eq!(v["case"]["trust"]["check"]["passed"], true);
    let p =
        h.t.http
            .get(&format!("/api/v1/cases/{m}?last4=002X"))
            .await
            .ok();
    assert_eq!(p["trust"], "passed", "{p}");
}

/// A hall that does not decide a trust-first matter cannot issue it at
/// once, so a pledge there is refused; the case is not made.
#[tokio::test]
async fn a_pledge_is_refused_where_the_matter_is_not_decided() {
    let h = hall_at("nanhai.guicheng.xiaping").await;
    stores_nothing(&h, || async {
        h.clerk
            .post("/api/v1/cases", &pledged("T-TRUST"))
            .await
            .assert_error(422, "trust_first_not_here");
    })
    .await;
}

/// One rating per case whatever the channel: the progress page's key
/// (web), the QR code's link, the hall's tablet; each channel is recorded
/// in the `rated` event.
#[tokio::test]
async fn a_case_is_rated_once_from_any_channel_and_the_channel_is_recorded() {
    let h = hall().await;
    let r = h.clerk.post("/api/v1/cases", &pledged("T-TRUST")).await;
    let n = r.body["case_number"].as_str().unwrap().to_owned();
    // A rating link's key is the hall's: another case's key, or a made-up
    // one, opens nothing.
    let node = &h.t.node.node;
    let other = h.clerk.post("/api/v1/cases", &pledged("T-TRUST")).await;
    let other = other.body["case_number"].as_str().unwrap().to_owned();
    assert!(node.check_rating_key(&n, &node.rating_key(&n)).is_ok());
    for key in [node.rating_key(&other), "00".repeat(16), String::new()] {
        assert_eq!(
            node.check_rating_key(&n, &key).unwrap_err().code,
            "bad_rating_link"
        );
    }
    assert!(node.rating_link(&n).contains(&format!("/rate?n={n}&k=")));
    // The completion notice holds the link for its rating QR code.
    assert_eq!(r.body["document"]["rate_url"], json!(node.rating_link(&n)));
    // Rated from the progress query's key, through the API.
    let p =
        h.t.http
            .post(
                &format!("/api/v1/cases/{n}/rating"),
                &json!({"last4": "002X", "score": 2, "channel": "web", "comment": "方便"}),
            )
            .await
            .ok();
    assert_eq!(p["rated"], true);
    assert_eq!(p["may_rate"], false);
    stores_nothing(&h, || async {
        h.t.http
            .post(
                &format!("/api/v1/cases/{n}/rating"),
                &json!({"last4": "002X", "score": 1, "channel": "hall_tablet"}),
            )
            .await
            .assert_error(409, "already_rated");
        let e = node
            .rate_by_link(&n, &node.rating_key(&n), 1, String::new())
            .await
            .unwrap_err();
        assert_eq!(e.code, "already_rated");
    })
    .await;
    let rec = h.sup.get(&format!("/api/v1/cases/{n}/record")).await.ok();
    let rated: Vec<&Value> = rec["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == "rated")
        .collect();
    assert_eq!(rated.len(), 1);
    assert_eq!(rated[0]["event"]["channel"], "web");
    // The QR code's link rates the other case, as `qr_code`.
    let p = node
        .rate_by_link(&other, &node.rating_key(&other), 1, "扫码".into())
        .await
        .unwrap();
    assert!(p.rated);
    let rec = h
        .sup
        .get(&format!("/api/v1/cases/{other}/record"))
        .await
        .ok();
    assert_eq!(rec["view"]["case"]["rating"]["channel"], "qr_code");
}

/// What the test SMS gateway received: each request's bearer header and
/// JSON body.
type Received = Arc<std::sync::Mutex<Vec<(String, Value)>>>;

/// A test SMS gateway on `listener` (standing for the phone company's),
/// recording every POST to `/send`.
fn sms_gateway(listener: tokio::net::TcpListener, got: Received) {
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(
            |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                got.lock().unwrap().push((auth, body));
                "ok"
            },
        ),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

/// Polls the outbox (as the supervisor) until `ready` holds for it, for
/// at most 15 s.
async fn outbox_until(h: &Hall, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..300 {
        let rows = h.sup.get("/api/v1/admin/sms").await.ok();
        let rows = rows.as_array().unwrap().clone();
        if ready(&rows) {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the SMS outbox never got there");
}

/// A case completed at its window hall (handed out, or issued at once on
/// a pledge) sends one SMS to the applicant's phone with an 8-digit
/// rating code; the code rates the case through the public API as `sms`,
/// once. A wrong code is refused and stores nothing. While the gateway is
/// down the message stays queued with its attempts and last error, and it
/// is delivered once the gateway is up.
#[tokio::test]
async fn a_completed_case_is_rated_by_the_code_of_its_sms() {
    // The gateway's port, with nothing listening on it yet.
    let gateway = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = gateway.local_addr().unwrap();
    drop(gateway);
    let db = common::test_db().await;
    let mut cfg = common::hall_config("nanhai", &db.url, db.dir());
    cfg.sms.gateway_url = format!("http://{addr}/send");
    cfg.sms.gateway_token = "gw-token".into();
    cfg.sms.poll_ms = 50;
    cfg.sms.retry_min_ms = 200;
    cfg.sms.retry_max_ms = 400;
    cfg.sms.timeout_ms = 2000;
    let node =
        onewindow_node::server::start_with_clock(cfg, Arc::new(StartedClock::at(common::START_MS)))
            .await
            .unwrap();
    let http = Client::new(node.url());
    let h = hall_for(TestNode { node, db, http }).await;
    // Only supervisors and administrators see the outbox.
    h.clerk
        .get("/api/v1/admin/sms")
        .await
        .assert_error(403, "wrong_role");
    // A case without a phone number sends nothing.
    let mut no_phone = submission("T-SIMPLE", complete_materials());
    no_phone["applicant"]
        .as_object_mut()
        .unwrap()
        .remove("phone");
    let r = h.clerk.post("/api/v1/cases", &no_phone).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Handed out: completed at its window hall.
    let n = result_ready(&h, "T-SIMPLE").await;
    assert!(h.sup.get("/api/v1/admin/sms").await.ok()[0].is_null());
    act_ok(&h.clerk, &n, in_person()).await;
    // The gateway is down: the message stays queued, its attempts and
    // the last error kept.
    let rows = outbox_until(&h, |rows| {
        rows.first()
            .is_some_and(|m| m["attempts"].as_i64() >= Some(2))
    })
    .await;
    assert_eq!(rows.len(), 1, "one message: {rows:?}");
    let m = &rows[0];
    assert_eq!(m["case_number"], n.as_str());
    assert_eq!(m["phone"], "13800000000");
    assert_eq!(m["status"], "queued");
    assert!(m["sent_at_ms"].is_null());
    assert!(
        m["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("could not be reached")),
        "{m}"
    );
    // A wrong code, another case's, or a code for another number: refused,
    // nothing stored.
    let node = &h.t.node.node;
    let other = result_ready(&h, "T-SIMPLE").await;
    let right = node.sms_code(&n);
    assert_eq!(right.len(), 8);
    assert!(right.bytes().all(|b| b.is_ascii_digit()));
    stores_nothing(&h, || async {
        let wrong = if right == "00000000" {
            "00000001".to_owned()
        } else {
            "00000000".to_owned()
        };
        for code in [
            wrong,
            node.sms_code(&other),
            String::new(),
            format!("{right}0"),
        ] {
            h.t.http
                .post(
                    &format!("/api/v1/cases/{n}/rating/sms"),
                    &json!({"code": code, "score": 1}),
                )
                .await
                .assert_error(400, "bad_sms_code");
        }
        h.t.http
            .post(
                "/api/v1/cases/NH-20261123-000001-X/rating/sms",
                &json!({"code": right, "score": 1}),
            )
            .await
            .assert_error(400, "bad_sms_code");
    })
    .await;
    // The gateway comes up: the message is delivered, once.
    let got = Received::default();
    sms_gateway(
        tokio::net::TcpListener::bind(addr).await.unwrap(),
        got.clone(),
    );
    let rows = outbox_until(&h, |rows| {
        rows.first().is_some_and(|m| m["status"] == "sent")
    })
    .await;
    assert!(rows[0]["attempts"].as_i64() >= Some(3), "{:?}", rows[0]);
    assert!(rows[0]["sent_at_ms"].as_i64().is_some());
    // Issued at once on a pledge: completed at once, a second message.
    let trusted = h.clerk.post("/api/v1/cases", &pledged("T-TRUST")).await;
    let trusted = trusted.body["case_number"].as_str().unwrap().to_owned();
    outbox_until(&h, |rows| {
        rows.len() == 2 && rows.iter().all(|m| m["status"] == "sent")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let sent = got.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "one message per completed case: {sent:?}");
    let (auth, body) = sent
        .iter()
        .find(|(_, b)| b["text"].as_str().is_some_and(|t| t.contains(&n)))
        .unwrap()
        .clone();
    assert_eq!(auth, "Bearer gw-token");
    assert_eq!(body["to"], "13800000000");
    assert_eq!(body["id"], rows[0]["id"]);
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("【nanhai 服务中心】"), "{text}");
    assert!(
        text.contains(&format!("{}/rate", node.public_url())),
        "{text}"
    );
    // The code as the applicant reads it from the text.
    let code: String = text
        .split("评价码")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code, right);
    assert!(sent.iter().any(|(_, b)| {
        b["text"]
            .as_str()
            .is_some_and(|t| t.contains(&trusted) && t.contains(&node.sms_code(&trusted)))
    }));
    // Rated with the code, through the public API.
    let p =
        h.t.http
            .post(
                &format!("/api/v1/cases/{n}/rating/sms"),
                &json!({"code": code, "score": 2, "comment": "短信评价"}),
            )
            .await
            .ok();
    assert_eq!(p["rated"], true);
    // One rating per case.
    stores_nothing(&h, || async {
        h.t.http
            .post(
                &format!("/api/v1/cases/{n}/rating/sms"),
                &json!({"code": code, "score": 1}),
            )
            .await
            .assert_error(409, "already_rated");
    })
    .await;
    let rec = h.sup.get(&format!("/api/v1/cases/{n}/record")).await.ok();
    let rated: Vec<&Value> = rec["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == "rated")
        .collect();
    assert_eq!(rated.len(), 1);
    assert_eq!(rated[0]["event"]["channel"], "sms");
    assert_eq!(rec["view"]["case"]["rating"]["channel"], "sms");
}

/// The `events` rows of a case: `(with section bytes, with only a hash)`.
async fn section_rows(t: &TestNode, number: &str) -> (i64, i64) {
    let store = &t.node.node.store;
    let count = |sql: &'static str| {
        let number = number.to_owned();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(number)
                .fetch_one(store.pool())
                .await
                .unwrap()
        }
    };
    (
        count("SELECT COUNT(*) FROM events WHERE case_id = $1 AND sealed IS NOT NULL").await,
        count("SELECT COUNT(*) FROM events WHERE case_id = $1 AND sealed_hash IS NOT NULL").await,
    )
}

#[tokio::test]
async fn personal_data_of_closed_cases_is_purged_after_its_retention_and_the_log_still_verifies() {
    use onewindow_node::service::TestClock;
    let clock = Arc::new(TestClock::at(common::START_MS));
    let h = hall_configured(clock.clone(), |c| {
        c.privacy.retention_days = 30;
        c.privacy.retention_matters = vec!["T-PAR:60".into()];
    })
    .await;
    let node = &h.t.node.node;
    let closed = h
        .clerk
        .post("/api/v1/cases", &submission("T-IMM", complete_materials()))
        .await
        .ok();
    assert_eq!(closed["case"]["state"], "completed");
    let closed = closed["case_number"].as_str().unwrap().to_owned();
    let open = submit_ok(&h, "T-PAR").await;
    let (held, _) = section_rows(&h.t, &closed).await;
    assert!(held > 0);
    // Within its retention nothing goes.
    clock.advance(29 * 86_400_000);
    assert_eq!(node.purge_personal().await.unwrap(), 0);
    // Past it, the closed case's sections go, each hash kept; the open
    // case keeps its own.
    clock.advance(2 * 86_400_000);
    assert_eq!(
        node.purge_personal().await.unwrap(),
        usize::try_from(held).unwrap()
    );
    assert_eq!(section_rows(&h.t, &closed).await, (0, held));
    let (open_held, open_hashes) = section_rows(&h.t, &open).await;
    assert!(open_held > 0 && open_hashes == 0);
    let row = node.store.case(&closed).await.unwrap().unwrap();
    assert_eq!(row.case.received.applicant.id_number, "");
    assert_eq!(row.case.received.applicant.name, "");
    assert_eq!(row.applicant_last4, "");
    assert_eq!(row.case.state.as_str(), "completed", "the open part stays");
    // Nothing more to purge; one audit record for the run, with its count.
    assert_eq!(node.purge_personal().await.unwrap(), 0);
    // (a month on, the administrator logs in again)
    let admin = h.t.http.login("admin", common::ADMIN_PASSWORD).await;
    let purges = admin
        .get("/api/v1/admin/audit/actions?action=personal_data_purged")
        .await
        .ok();
    let purges = purges.as_array().unwrap();
    assert_eq!(purges.len(), 1, "{purges:?}");
    assert_eq!(
        purges[0]["detail"],
        format!("{held} sections of 1 cases").as_str()
    );
    // The log still verifies, purged entries and all.
    let audit = admin.get("/api/v1/admin/audit").await.ok();
    assert_eq!(audit["broken"], 0, "{audit}");
    assert!(audit["entries"].as_u64().unwrap() > 0, "{audit}");
}

#[tokio::test]
async fn a_hall_that_keeps_personal_data_for_good_purges_nothing() {
    use onewindow_node::service::TestClock;
    let clock = Arc::new(TestClock::at(common::START_MS));
    let h = hall_configured(clock.clone(), |c| {
        c.privacy.retention_days = 1;
        c.privacy.personal_data_at = vec!["district".into()];
    })
    .await;
    let r = h
        .clerk
        .post("/api/v1/cases", &submission("T-IMM", complete_materials()))
        .await
        .ok();
    let n = r["case_number"].as_str().unwrap().to_owned();
    clock.advance(10 * 86_400_000);
    assert_eq!(h.t.node.node.purge_personal().await.unwrap(), 0);
    let (held, hashes) = section_rows(&h.t, &n).await;
    assert!(held > 0 && hashes == 0);
}
