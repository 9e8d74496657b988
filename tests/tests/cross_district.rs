//! Cross-district handling (异地通办) on a real four-tier tree (a city, three
//! districts, a township and a village; real SQLite stores, QUIC over
//! loopback): a village of one district accepts a case that another
//! district decides; it goes up to the city, their common ancestor, down to
//! the deciding district, and its result comes back the same way to be
//! handed out at the village. A third district never sees it.
#![allow(clippy::unwrap_used)]

use onewindow_tests::{Api, Tree, complete_submission, counts, tree_configured};
use serde_json::{Value, json};

const TREE: [&str; 7] = [
    "foshan",
    "foshan.chancheng",
    "foshan.nanhai",
    "foshan.shunde",
    "foshan.chancheng.zumiao",
    "foshan.nanhai.dali",
    "foshan.chancheng.zumiao.c1",
];
const CITY: &str = "foshan";
const DISTRICT_A: &str = "foshan.chancheng";
const TOWNSHIP_A: &str = "foshan.chancheng.zumiao";
const VILLAGE_A: &str = "foshan.chancheng.zumiao.c1";
const DISTRICT_B: &str = "foshan.nanhai";
const TOWNSHIP_B: &str = "foshan.nanhai.dali";
const DISTRICT_C: &str = "foshan.shunde";
/// The name `complete_submission` gives every applicant.
const NAME: &str = "李四";

async fn with_timeout<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(std::time::Duration::from_secs(180), f)
        .await
        .expect("scenario timed out");
}

async fn case_at(t: &Tree, id: &str, number: &str) -> Option<Value> {
    let row = t.node(id).node.store.case(number).await.unwrap()?;
    Some(serde_json::to_value(&row.case).unwrap())
}

/// A four-tier tree in which every hall knows the tree's halls.
async fn city() -> Tree {
    tree_configured(&TREE, &|c| {
        c.node.tiers = ["city", "district", "township", "village"]
            .map(str::to_owned)
            .to_vec();
        c.node.tree_halls = TREE.map(str::to_owned).to_vec();
    })
    .await
}

/// Publishes at the city a catalogue version in which `codes` are open
/// for cross-district handling, and waits for it at the village.
async fn open_cross_district(t: &Tree, codes: &[&str]) {
    let admin = Api::login(&t.url(CITY), "admin", onewindow_tests::ADMIN_PASSWORD).await;
    let mut cat = admin.get_ok("/api/v1/admin/catalogue/versions/1").await;
    for code in codes {
        cat["matters"][code]["cross_district"] = json!(true);
        cat["matters"][code]["version"] = json!(2);
    }
    let draft = admin
        .post_ok("/api/v1/admin/catalogue/versions", &cat)
        .await;
    let v = draft["version"].as_i64().unwrap();
    admin
        .post_ok(
            &format!("/api/v1/admin/catalogue/versions/{v}/publish"),
            &json!({}),
        )
        .await;
    let village = Api::anonymous(&t.url(VILLAGE_A));
    t.eventually(30, "the new catalogue at the village", || async {
        let h = village.get_ok("/api/v1/health").await;
        (h["catalogue_version"] == v).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_of_one_district_is_decided_by_another_through_the_city_and_handed_out_where_accepted()
 {
    with_timeout(async {
        let t = city().await;
        let cat = Api::anonymous(&t.url(VILLAGE_A))
            .get_ok("/api/v1/catalogue")
            .await;
        let m = onewindow_tests::matter_decided_at(&cat, "district");
        let code = m["code"].as_str().unwrap().to_owned();
        let other = cat["matters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["code"] != m["code"])
            .unwrap()
            .clone();
        let by_township = onewindow_tests::matter_decided_at(&cat, "township");
        let township_code = by_township["code"].as_str().unwrap().to_owned();
        open_cross_district(&t, &[&code, &township_code]).await;
        let guide = Api::anonymous(&t.url(VILLAGE_A))
            .get_ok(&format!("/api/v1/catalogue/matters/{code}"))
            .await;
        let clerk = t.staff(VILLAGE_A, "clerk1", "clerk", None).await;
        let person = onewindow_tests::citizen_id("44060219800808123");
        let with_hall = |guide: &Value, hall: &str| {
            let mut s = complete_submission(guide, &person);
            s["deciding_hall"] = json!(hall);
            s
        };

        // The clerk's form offers the halls of the other branches, not its
        // own district or the city.
        let page = reqwest::Client::new()
            .get(format!("{}/clerk/apply/{code}", t.url(VILLAGE_A)))
            .header(
                "cookie",
                format!("ow_session={}", clerk.client().token().unwrap()),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("name=\"deciding_hall\""), "{page}");
        for hall in [DISTRICT_B, DISTRICT_C] {
            assert!(page.contains(&format!("value=\"{hall}\"")), "{hall}");
        }
        for hall in [CITY, DISTRICT_A, TOWNSHIP_A] {
            assert!(!page.contains(&format!("value=\"{hall}\"")), "{hall}");
        }

        // Refusals: clear errors, and nothing stored.
        let before = counts(t.node(VILLAGE_A)).await;
        for (sub, code) in [
            (with_hall(&other, DISTRICT_B), "not_cross_district"),
            (with_hall(&guide, "foshan.nowhere"), "unknown_deciding_hall"),
            (with_hall(&guide, "no such hall!"), "unknown_deciding_hall"),
            // The city decides it for everyone: nothing crosses.
            (with_hall(&guide, CITY), "hall_may_not_decide"),
            // The village's own district: an ordinary escalation.
            (with_hall(&guide, DISTRICT_A), "hall_may_not_decide"),
        ] {
            let (status, body) = clerk.post("/api/v1/cases", &sub).await;
            assert_eq!(status, 422, "{code}: {body}");
            let e: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(e["code"], code, "{body}");
            assert!(!e["message_zh"].as_str().unwrap().is_empty(), "{body}");
            assert!(!e["message_en"].as_str().unwrap().is_empty(), "{body}");
        }
        assert_eq!(counts(t.node(VILLAGE_A)).await, before, "nothing stored");

        // Accepted at the village for district B: up to the city.
        let r = clerk
            .post_ok("/api/v1/cases", &with_hall(&guide, DISTRICT_B))
            .await;
        assert_eq!(r["outcome"], "receipt", "{r}");
        let n = r["case_number"].as_str().unwrap().to_owned();
        assert_eq!(r["case"]["case"]["holder"], CITY, "{r}");
        assert_eq!(
            r["case"]["case"]["received"]["decided_at"], DISTRICT_B,
            "{r}"
        );

        // The city sends it down to district B, whole.
        let at_b = t
            .eventually(60, "the case at district B", || async {
                case_at(&t, DISTRICT_B, &n)
                    .await
                    .filter(|c| c["holder"] == DISTRICT_B)
            })
            .await;
        assert_eq!(at_b["received"]["accepting_node"], VILLAGE_A);
        assert_eq!(at_b["received"]["applicant"]["name"], NAME);
        assert_eq!(at_b["received"]["applicant"]["id_number"], person.as_str());
        assert_eq!(at_b["state"], "accepted");

        // District B decides it as any case of its own.
        let dept = m["department"].as_str().unwrap();
        let a1 = t.staff(DISTRICT_B, "appr1", "approver", Some(dept)).await;
        let a2 = t.staff(DISTRICT_B, "appr2", "approver", Some(dept)).await;
        let a3 = t.staff(DISTRICT_B, "appr3", "approver", Some(dept)).await;
        let act = |who: &Api, body: Value| {
            let (who, n) = (who.clone(), n.clone());
            async move {
                who.post_ok(&format!("/api/v1/cases/{n}/actions"), &body)
                    .await
            }
        };
        act(&a1, json!({"action": "start_handling"})).await;
        act(
            &a1,
            json!({"action": "submit_for_review", "opinion": "户籍核实无误"}),
        )
        .await;
        act(&a2, json!({"action": "pass_review", "opinion": "同意"})).await;
        act(
            &a3,
            json!({"action": "decide", "granted": true, "opinion": "准予"}),
        )
        .await;
        let v = act(&a3, json!({"action": "result_ready", "result": "证明一份"})).await;
        assert_eq!(
            v["case"]["holder"], CITY,
            "the result goes back through the common ancestor: {v}"
        );

        // The city sends it down to the village, which hands it out.
        let back = t
            .eventually(60, "the result at the village", || async {
                case_at(&t, VILLAGE_A, &n)
                    .await
                    .filter(|c| c["state"] == "result_ready" && c["holder"] == VILLAGE_A)
            })
            .await;
        assert_eq!(back["result"], "证明一份");
        // The window holds district B's result document and its record of
        // the case, though they came inside the crossing.
        let docs = clerk
            .get_ok(&format!("/api/v1/cases/{n}/documents"))
            .await;
        assert!(
            docs.as_array()
                .unwrap()
                .iter()
                .any(|d| d["node"] == DISTRICT_B),
            "{docs}"
        );
        let record = clerk.get_ok(&format!("/api/v1/cases/{n}/record")).await;
        let versions: Vec<u64> = record["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["case_version"].as_u64().unwrap())
            .collect();
        assert_eq!(
            versions,
            (1..=back["version"].as_u64().unwrap()).collect::<Vec<_>>(),
            "{record}"
        );
        let done = clerk
            .post_ok(
                &format!("/api/v1/cases/{n}/actions"),
                &json!({"action": "hand_out", "collector": {"by": "in_person", "document": "resident_id", "id_number": person, "id_checked": true}}),
            )
            .await;
        assert_eq!(done["state"], "completed", "{done}");

        // The city holds the same case as the window; so do the halls on
        // the way down to it.
        let at_village = case_at(&t, VILLAGE_A, &n).await.unwrap();
        for hall in [CITY, DISTRICT_A, TOWNSHIP_A] {
            let copy = t
                .eventually(60, "the completed case up the tree", || async {
                    case_at(&t, hall, &n)
                        .await
                        .filter(|c| c["version"] == at_village["version"])
                })
                .await;
            assert_eq!(
                onewindow_tests::open_case(&copy),
                onewindow_tests::open_case(&at_village),
                "{hall}"
            );
        }
        let at_city = case_at(&t, CITY, &n).await.unwrap();
        assert_eq!(at_city, at_village, "the city holds the whole case");
        // District B keeps the case as it handed it back.
        let at_b = case_at(&t, DISTRICT_B, &n).await.unwrap();
        assert_eq!(at_b["state"], "result_ready");
        assert_eq!(at_b["holder"], CITY);
        // A third district has nothing of it.
        assert!(case_at(&t, DISTRICT_C, &n).await.is_none());
        let c_events = t
            .node(DISTRICT_C)
            .node
            .store
            .case_events(&n)
            .await
            .unwrap();
        assert!(c_events.is_empty(), "{c_events:?}");

        // A matter a township decides, for a township of district B: the
        // city's crossing passes through district B on its way down, and
        // the township's decision goes back up through it.
        let guide = Api::anonymous(&t.url(VILLAGE_A))
            .get_ok(&format!("/api/v1/catalogue/matters/{township_code}"))
            .await;
        let r = clerk
            .post_ok("/api/v1/cases", &with_hall(&guide, TOWNSHIP_B))
            .await;
        let n2 = r["case_number"].as_str().unwrap().to_owned();
        assert_eq!(r["case"]["case"]["holder"], CITY, "{r}");
        t.eventually(60, "the case at township B", || async {
            case_at(&t, TOWNSHIP_B, &n2)
                .await
                .filter(|c| c["holder"] == TOWNSHIP_B)
        })
        .await;
        let on_the_way = case_at(&t, DISTRICT_B, &n2).await.unwrap();
        assert_eq!(on_the_way["holder"], TOWNSHIP_B);
        let dept = by_township["department"].as_str().unwrap();
        let v = t
            .decide_by_three(TOWNSHIP_B, "tappr", dept, &n2, "核实无误")
            .await;
        assert_eq!(v["case"]["holder"], CITY, "{v}");
        t.eventually(60, "the second result at the village", || async {
            case_at(&t, VILLAGE_A, &n2)
                .await
                .filter(|c| c["state"] == "result_ready" && c["holder"] == VILLAGE_A)
        })
        .await;
        let at_village = case_at(&t, VILLAGE_A, &n2).await.unwrap();
        let at_city = t
            .eventually(60, "the second case at the city", || async {
                case_at(&t, CITY, &n2)
                    .await
                    .filter(|c| c["version"] == at_village["version"])
            })
            .await;
        assert_eq!(at_city, at_village);
        assert!(case_at(&t, DISTRICT_C, &n2).await.is_none());
        // Nothing waits at the common ancestor, and sending on again (as a
        // restart does) changes nothing.
        let city = &t.node(CITY).node;
        assert!(city.store.cases_to_send_on(CITY).await.unwrap().is_empty());
        let version = case_at(&t, CITY, &n2).await.unwrap()["version"].clone();
        city.obey_crossings().await.unwrap();
        city.obey_crossing(&n2).await.unwrap();
        assert_eq!(case_at(&t, CITY, &n2).await.unwrap()["version"], version);
    })
    .await;
}
