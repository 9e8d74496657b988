//! Personal data only where it is needed, on a real tree (a district, a
//! township, two villages; real SQLite stores, QUIC over loopback): a case
//! event's personal section reaches only the halls that accept, hold or
//! held the case; every other tier keeps the entry with the section
//! withheld, and it still verifies.
#![allow(clippy::unwrap_used)]

use onewindow_tests::{Api, Tree, complete_submission, tree};
use serde_json::{Value, json};
use sqlx::Row;

const TREE: [&str; 4] = [
    "nanhai",
    "nanhai.guicheng",
    "nanhai.guicheng.xiaping",
    "nanhai.guicheng.shibei",
];
const VILLAGE: &str = "nanhai.guicheng.xiaping";
const TOWNSHIP: &str = "nanhai.guicheng";
const DISTRICT: &str = "nanhai";
/// The name `complete_submission` gives every applicant.
const NAME: &str = "李四";

async fn with_timeout<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(std::time::Duration::from_secs(120), f)
        .await
        .expect("scenario timed out");
}

async fn case_at(t: &Tree, id: &str, number: &str) -> Option<Value> {
    let row = t.node(id).node.store.case(number).await.unwrap()?;
    Some(serde_json::to_value(&row.case).unwrap())
}

/// Every table's every column of a hall's SQLite file, as bytes: where
/// among them `needle` occurs (`table.column`).
async fn found_in_store(t: &Tree, id: &str, needle: &str) -> Vec<String> {
    let path = t.dir.path().join(id).join("node.db");
    let url = format!("sqlite://{}?mode=ro", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let cols: Vec<String> = sqlx::query(&format!("PRAGMA table_info({table})"))
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(1))
            .collect();
        for col in cols {
            let sql = format!("SELECT CAST(\"{col}\" AS BLOB) FROM \"{table}\"");
            for r in sqlx::query(&sql).fetch_all(&pool).await.unwrap() {
                let v: Option<Vec<u8>> = r.get(0);
                let hit =
                    v.is_some_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()));
                if hit {
                    out.push(format!("{table}.{col}"));
                    break;
                }
            }
        }
    }
    pool.close().await;
    out
}

/// A staff member at the pages, with the session's cookie.
struct PageClient {
    http: reqwest::Client,
    base: String,
}

impl PageClient {
    async fn login(base: &str, username: &str) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let c = Self {
            http,
            base: base.to_owned(),
        };
        let token = csrf(&c.get("/login").await.1);
        let r = c
            .http
            .post(format!("{base}/login"))
            .form(&[
                ("csrf", token.as_str()),
                ("username", username),
                ("password", onewindow_tests::STAFF_PASSWORD),
                ("next", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "logging in as {username}");
        c
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts `reason` to `path` with the CSRF token of the page at `from`.
    async fn post_form(&self, path: &str, from: &str, reason: &str) -> (u16, String) {
        let token = csrf(&self.get(from).await.1);
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .form(&[("csrf", token.as_str()), ("reason", reason)])
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// The first CSRF field's value in a page.
fn csrf(html: &str) -> String {
    let key = "name=\"csrf\" value=\"";
    let i = html.find(key).expect("a form with a csrf field") + key.len();
    html[i..i + html[i..].find('"').unwrap()].to_owned()
}

/// Cases this hall's report counts (the last 30 days, its subtree).
async fn report_cases(admin: &Api) -> i64 {
    admin.get_ok("/api/v1/admin/report").await["cases"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_sections_travel_only_to_the_halls_of_the_case() {
    with_timeout(async {
        let t = tree(&TREE).await;
        let cat = Api::anonymous(&t.url(VILLAGE))
            .get_ok("/api/v1/catalogue")
            .await;
        let own = cat["matters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["decided_here"] == true && m["serves"] != "organisation")
            .unwrap()
            .clone();
        let up = onewindow_tests::matter_decided_at(&cat, "township");
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let district_admin =
            Api::login(&t.url(DISTRICT), "admin", onewindow_tests::ADMIN_PASSWORD).await;
        let before = report_cases(&district_admin).await;

        // A case decided at the village, by a person whose ID number no
        // other case uses.
        let id_a = onewindow_tests::citizen_id("44060219900101123");
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&own, &id_a))
            .await;
        let a = r["case_number"].as_str().unwrap().to_owned();
        let at_village = case_at(&t, VILLAGE, &a).await.unwrap();
        assert_eq!(at_village["received"]["applicant"]["name"], NAME);
        let at_district = t
            .eventually(30, "the village case at the district", || async {
                case_at(&t, DISTRICT, &a)
                    .await
                    .filter(|c| c["version"] == at_village["version"])
            })
            .await;
        // The open part is whole: matter, hall, state, clocks.
        for key in [
            "state",
            "holder",
            "version",
            "received_at_ms",
            "accepted_at_ms",
        ] {
            assert_eq!(at_district[key], at_village[key], "{key}");
        }
        assert_eq!(
            at_district["received"]["matter_code"],
            at_village["received"]["matter_code"]
        );
        // The personal part reads empty.
        let applicant = &at_district["received"]["applicant"];
        assert_eq!(applicant["name"], "", "{applicant}");
        assert_eq!(applicant["id_number"], "", "{applicant}");
        assert_eq!(applicant["phone"].as_str().unwrap_or(""), "", "{applicant}");
        // Neither the name nor the ID number is anywhere in the district's
        // or the township's store; both are in the village's.
        for hall in [DISTRICT, TOWNSHIP] {
            assert_eq!(
                found_in_store(&t, hall, &id_a).await,
                Vec::<String>::new(),
                "{hall}"
            );
        }
        assert!(!found_in_store(&t, VILLAGE, &id_a).await.is_empty());
        assert!(!found_in_store(&t, VILLAGE, NAME).await.is_empty());
        assert_eq!(
            found_in_store(&t, DISTRICT, NAME).await,
            Vec::<String>::new()
        );
        // The district's report counts it.
        assert_eq!(report_cases(&district_admin).await, before + 1);
        // The public progress query works at the district: the village
        // checks the last four characters, and only the public fields come.
        let anyone = Api::anonymous(&t.url(DISTRICT));
        let last4 = &id_a[id_a.len() - 4..];
        let p = anyone
            .get_ok(&format!("/api/v1/cases/{a}?last4={last4}"))
            .await;
        assert_eq!(p["case_number"], a.as_str(), "{p}");
        assert!(p.get("case").is_none(), "only the public answer: {p}");
        assert!(!p.to_string().contains(&id_a), "{p}");
        let (status, _) = anyone.get(&format!("/api/v1/cases/{a}?last4=0000")).await;
        assert_eq!(status, 404, "a wrong key is refused like an unknown case");
        // The district finds the person's cases by the keyed digest of the
        // number typed in, and only theirs.
        let found = district_admin
            .get_ok(&format!("/api/v1/cases?applicant={id_a}"))
            .await;
        let numbers: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["case"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(numbers, [a.as_str()], "{found}");
        let other = onewindow_tests::citizen_id("44060219900101124");
        let none = district_admin
            .get_ok(&format!("/api/v1/cases?applicant={other}"))
            .await;
        assert_eq!(none, json!([]), "another number finds nothing");
        let digest = t.node(DISTRICT).node.id_digest(&id_a).unwrap();
        assert_eq!(at_district["received"]["id_digest"], digest.as_str());

        // A case the township decides: it holds the case from the
        // transaction that accepted it, so it has every section, the
        // `received` one included; the district still has none.
        let id_b = onewindow_tests::citizen_id("44060219850505432");
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&up, &id_b))
            .await;
        let b = r["case_number"].as_str().unwrap().to_owned();
        assert_eq!(r["case"]["case"]["holder"], TOWNSHIP);
        let at_township = t
            .eventually(30, "the escalated case at the township", || async {
                case_at(&t, TOWNSHIP, &b).await
            })
            .await;
        assert_eq!(at_township["received"]["applicant"]["name"], NAME);
        assert_eq!(
            at_township["received"]["applicant"]["id_number"],
            id_b.as_str()
        );
        assert!(!found_in_store(&t, TOWNSHIP, &id_b).await.is_empty());
        let held = t
            .node(TOWNSHIP)
            .node
            .store
            .withheld_entries(&b)
            .await
            .unwrap();
        assert!(
            held.is_empty(),
            "nothing of it withheld at the township: {held:?}"
        );
        let v = at_township["version"].clone();
        let at_district = t
            .eventually(30, "the escalated case at the district", || async {
                case_at(&t, DISTRICT, &b)
                    .await
                    .filter(|c| c["version"] == v)
            })
            .await;
        assert_eq!(at_district["received"]["applicant"]["id_number"], "");
        assert_eq!(
            found_in_store(&t, DISTRICT, &id_b).await,
            Vec::<String>::new()
        );
        let withheld = t
            .node(DISTRICT)
            .node
            .store
            .withheld_entries(&b)
            .await
            .unwrap();
        assert!(
            !withheld.is_empty(),
            "its sections are withheld at the district"
        );

        // The township handles it, and its officials' texts stay below the
        // district as well.
        let dept = up["department"].as_str().unwrap();
        let a1 = t.staff(TOWNSHIP, "appr1", "approver", Some(dept)).await;
        let opinion = "申请人材料经核实无误";
        a1.post_ok(
            &format!("/api/v1/cases/{b}/actions"),
            &json!({"action": "start_handling"}),
        )
        .await;
        let v = a1
            .post_ok(
                &format!("/api/v1/cases/{b}/actions"),
                &json!({"action": "submit_for_review", "opinion": opinion}),
            )
            .await;
        let version = v["case"]["version"].clone();
        assert!(version.is_u64(), "{v}");
        t.eventually(30, "the handled case at the district", || async {
            case_at(&t, DISTRICT, &b)
                .await
                .filter(|c| c["version"] == version && c["state"] == "review")
        })
        .await;
        assert!(!found_in_store(&t, TOWNSHIP, opinion).await.is_empty());
        assert_eq!(
            found_in_store(&t, DISTRICT, opinion).await,
            Vec::<String>::new()
        );

        // A supervisor at the district asks for the village case's
        // personal data, with a reason: shown for that request only, and
        // the request and its answer are in the audit log.
        let sup = t.staff(DISTRICT, "sup1", "supervisor", None).await;
        let path = format!("/api/v1/cases/{a}/personal");
        let actions = |action: &'static str| {
            let admin = district_admin.clone();
            async move {
                admin
                    .get_ok(&format!("/api/v1/admin/audit/actions?action={action}"))
                    .await
                    .as_array()
                    .unwrap()
                    .clone()
            }
        };
        for (body, code) in [
            (json!({"reason": "  "}), "empty_field"),
            (json!({"reason": "理".repeat(501)}), "field_too_long"),
            (json!({}), "bad_json"),
        ] {
            let (status, text) = sup.post(&path, &body).await;
            assert_eq!(status, 400, "{text}");
            assert!(text.contains(code), "{code}: {text}");
        }
        let (status, text) = district_admin.post(&path, &json!({"reason": "核查"})).await;
        assert_eq!(status, 403, "only a supervisor asks: {text}");
        assert!(
            actions("personal_data_requested").await.is_empty(),
            "nothing kept for a refusal"
        );
        let reason = "群众投诉核查申请人身份";
        let shown = sup.post_ok(&path, &json!({"reason": reason})).await;
        assert_eq!(
            shown["case"]["received"]["applicant"]["id_number"],
            id_a.as_str(),
            "{shown}"
        );
        assert_eq!(shown["case"]["received"]["applicant"]["name"], NAME);
        assert!(shown["fetched"].as_u64().unwrap() > 0, "{shown}");
        assert_eq!(shown["withheld"], 0, "{shown}");
        // Not stored at the district.
        assert_eq!(
            found_in_store(&t, DISTRICT, &id_a).await,
            Vec::<String>::new()
        );
        assert!(
            !t.node(DISTRICT)
                .node
                .store
                .withheld_entries(&a)
                .await
                .unwrap()
                .is_empty()
        );
        let asked = actions("personal_data_requested").await;
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert_eq!(asked[0]["actor"], "sup1");
        assert_eq!(asked[0]["target"], a.as_str());
        assert_eq!(asked[0]["detail"], reason);
        let answered = actions("personal_data_shown").await;
        assert_eq!(answered.len(), 1, "{answered:?}");
        assert_eq!(answered[0]["target"], a.as_str());
        assert!(answered[0]["seq"].as_u64() > asked[0]["seq"].as_u64());

        // The same request on the supervisor's case page: a reason is
        // required, and the answer shows the data on that page only.
        let page = PageClient::login(&t.url(DISTRICT), "sup1").await;
        let case_page = format!("/supervisor/cases/{a}");
        let (status, html) = page.get(&case_page).await;
        assert_eq!(status, 200);
        assert!(html.contains("id=\"personal-form\""), "{html}");
        assert!(!html.contains(&id_a), "nothing personal before a request");
        let (status, html) = page
            .post_form(&format!("{case_page}/personal"), &case_page, "  ")
            .await;
        assert_eq!(status, 400, "{html}");
        assert!(html.contains("id=\"page-error\""), "{html}");
        assert!(!html.contains(&id_a));
        assert_eq!(actions("personal_data_requested").await.len(), 1);
        let (status, html) = page
            .post_form(&format!("{case_page}/personal"), &case_page, "复核投诉")
            .await;
        assert_eq!(status, 200, "{html}");
        assert!(
            html.contains(&format!("id=\"personal-id\">{id_a}<")),
            "{html}"
        );
        assert!(
            html.contains(&format!("id=\"personal-name\">{NAME}<")),
            "{html}"
        );
        assert!(
            html.contains("复核投诉"),
            "the page names the audited reason"
        );
        let asked = actions("personal_data_requested").await;
        assert_eq!(asked.len(), 2, "{asked:?}");
        assert!(
            asked
                .iter()
                .any(|r| r["detail"] == "复核投诉" && r["actor"] == "sup1"),
            "{asked:?}"
        );
        assert_eq!(actions("personal_data_shown").await.len(), 2);
        // Still not stored at the district, and the case page shows
        // nothing personal again.
        assert_eq!(
            found_in_store(&t, DISTRICT, &id_a).await,
            Vec::<String>::new()
        );
        assert!(!page.get(&case_page).await.1.contains(&id_a));
        // A clerk may not ask.
        let clerk_page = {
            t.staff(DISTRICT, "clerk9", "clerk", None).await;
            PageClient::login(&t.url(DISTRICT), "clerk9").await
        };
        let (status, html) = clerk_page
            .post_form(&format!("{case_page}/personal"), "/clerk", "看看")
            .await;
        assert_eq!(status, 403, "{html}");
        assert_eq!(actions("personal_data_requested").await.len(), 2);

        // A village case recalled by the district: the district comes to
        // hold it and fetches what it holds withheld (the `received`
        // section and those after it) from the village, through the
        // township, which passes them on and keeps none.
        let (status, body) = sup
            .post(
                &format!("/api/v1/cases/{a}/recall"),
                &json!({"reason": "区级督办"}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        let filled = t
            .eventually(
                60,
                "the recalled case's sections at the district",
                || async {
                    case_at(&t, DISTRICT, &a).await.filter(|c| {
                        c["holder"] == DISTRICT && c["received"]["applicant"]["name"] == NAME
                    })
                },
            )
            .await;
        assert_eq!(filled["received"]["applicant"]["id_number"], id_a.as_str());
        assert!(
            t.node(DISTRICT)
                .node
                .store
                .withheld_entries(&a)
                .await
                .unwrap()
                .is_empty(),
            "every section of the case is filled in"
        );
        assert!(!found_in_store(&t, DISTRICT, &id_a).await.is_empty());
        assert_eq!(
            found_in_store(&t, TOWNSHIP, &id_a).await,
            Vec::<String>::new()
        );
        let row = t.node(DISTRICT).node.store.case(&a).await.unwrap().unwrap();
        assert_eq!(row.applicant_last4, id_a[id_a.len() - 4..]);

        // Every hall's chain verifies, withheld sections and all.
        for hall in [DISTRICT, TOWNSHIP, VILLAGE] {
            let admin = Api::login(&t.url(hall), "admin", onewindow_tests::ADMIN_PASSWORD).await;
            let audit = admin.get_ok("/api/v1/admin/audit").await;
            assert_eq!(audit["broken"], 0, "{hall}: {audit}");
            assert!(audit["entries"].as_u64().unwrap() > 0, "{hall}: {audit}");
        }
    })
    .await;
}
