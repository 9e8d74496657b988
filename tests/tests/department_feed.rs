//! Department systems across a real tree (a district, a township and a
//! village over QUIC): an event carries the same id in every hall's feed,
//! and a system acts only at the hall that holds the case.
#![allow(clippy::unwrap_used)]

use onewindow_client::Method;
use onewindow_tests::{Api, Tree, complete_submission, tree};
use serde_json::{Value, json};

const DISTRICT: &str = "nanhai";
const TOWNSHIP: &str = "nanhai.guicheng";
const VILLAGE: &str = "nanhai.guicheng.xiaping";
const PERSON: &str = "11010519491231002X";

/// A department system at one hall: its token against that hall's API.
struct System(onewindow_client::Client);

impl System {
    /// Issues a credential for `department` at hall `id`.
    async fn at(t: &Tree, id: &str, department: &str) -> Self {
        let admin = Api::login(&t.url(id), "admin", onewindow_tests::ADMIN_PASSWORD).await;
        let r = admin
            .post_ok(
                "/api/v1/admin/feed/credentials",
                &json!({"name": "dept-sys", "department": department}),
            )
            .await;
        assert_eq!(r["node"], id);
        let token = r["token"].as_str().unwrap();
        Self(
            onewindow_client::Client::new(&t.url(id))
                .unwrap()
                .with_token(token),
        )
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut req = self.0.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = self.0.send(req).await.unwrap();
        (r.status, r.json())
    }

    /// The whole feed from its start.
    async fn feed(&self) -> Vec<Value> {
        let mut items = Vec::new();
        let mut path = "/api/v1/feed?limit=50".to_owned();
        loop {
            let (status, page) = self.send(Method::GET, &path, None).await;
            assert_eq!(status, 200, "{page}");
            items.extend(page["items"].as_array().unwrap().clone());
            if page["more"] != true {
                return items;
            }
            path = format!(
                "/api/v1/feed?limit=50&after={}",
                page["next"].as_str().unwrap()
            );
        }
    }

    /// The feed's items of case `n`: (id, case version, kind).
    async fn of_case(&self, n: &str) -> Vec<(String, u64, String)> {
        self.feed()
            .await
            .into_iter()
            .filter(|i| i["case_number"] == n)
            .map(|i| {
                (
                    i["id"].as_str().unwrap().to_owned(),
                    i["case_version"].as_u64().unwrap(),
                    i["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_has_the_same_id_in_every_halls_feed_and_a_system_acts_where_the_case_is_held() {
    tokio::time::timeout(std::time::Duration::from_secs(240), async {
        let t = tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
        let cat = Api::anonymous(&t.url(VILLAGE))
            .get_ok("/api/v1/catalogue")
            .await;
        // A matter the village receives and the township decides.
        let up = onewindow_tests::matter_decided_at(&cat, "township");
        let dept = up["department"].as_str().unwrap().to_owned();
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&up, PERSON))
            .await;
        let n = r["case_number"].as_str().unwrap().to_owned();
        let (village, township, district) = (
            System::at(&t, VILLAGE, &dept).await,
            System::at(&t, TOWNSHIP, &dept).await,
            System::at(&t, DISTRICT, &dept).await,
        );
        let at_village = village.of_case(&n).await;
        assert!(!at_village.is_empty());
        assert!(
            at_village
                .iter()
                .all(|(id, _, _)| id.starts_with(&format!("{VILLAGE}/"))),
            "written at the village: {at_village:?}"
        );
        // The same events, with the same ids, at the township and the district.
        for system in [&township, &district] {
            t.eventually(60, "the village's events in the feed above", || async {
                let there = system.of_case(&n).await;
                at_village.iter().all(|e| there.contains(e)).then_some(())
            })
            .await;
        }
        // The village does not hold the case: its system may not act.
        let (status, body) = village
            .send(
                Method::POST,
                &format!("/api/v1/feed/cases/{n}/actions"),
                Some(&json!({"action": "start_handling"})),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("not_holder")),
            "{body}"
        );
        // At the township, which holds it, the system starts handling it.
        let (status, body) = township
            .send(
                Method::POST,
                &format!("/api/v1/feed/cases/{n}/actions"),
                Some(&json!({"action": "start_handling"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["state"], "handling");
        let written = township
            .of_case(&n)
            .await
            .into_iter()
            .find(|(_, _, kind)| kind == "handling_started")
            .unwrap();
        assert!(
            written.0.starts_with(&format!("{TOWNSHIP}/")),
            "{written:?}"
        );
        // The district above and the village below get the township's
        // event under the same id.
        for system in [&district, &village] {
            t.eventually(
                60,
                "the township's event at the district and the village",
                || async { system.of_case(&n).await.contains(&written).then_some(()) },
            )
            .await;
        }
        let item = district
            .feed()
            .await
            .into_iter()
            .find(|i| i["id"] == written.0.as_str())
            .unwrap();
        assert_eq!(item["actor"]["username"], "system:dept-sys");
        assert_eq!(item["hall"], TOWNSHIP);
        assert_eq!(item["state"], "handling");
    })
    .await
    .expect("scenario timed out");
}
