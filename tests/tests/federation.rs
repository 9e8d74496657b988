//! The federation end to end: 1 district, 2 townships, 4 villages, each a
//! real node with its own SQLite store, linked over QUIC with mutual TLS.
#![allow(clippy::unwrap_used)]

use onewindow_tests::{Api, Tree, complete_submission, metric, metrics_text, open_case, tree};
use serde_json::{Value, json};

const TREE: [&str; 7] = [
    "nanhai",
    "nanhai.guicheng",
    "nanhai.dali",
    "nanhai.guicheng.xiaping",
    "nanhai.guicheng.shibei",
    "nanhai.dali.huangqi",
    "nanhai.dali.yanbu",
];
const VILLAGE: &str = "nanhai.guicheng.xiaping";
const TOWNSHIP: &str = "nanhai.guicheng";
const DISTRICT: &str = "nanhai";
const PERSON: &str = "11010519491231002X";

/// Matters of the starter catalogue a village receives: one it decides
/// itself, and a committed one a township decides.
async fn village_matters(t: &Tree) -> (Value, Value) {
    let cat = Api::anonymous(&t.url(VILLAGE))
        .get_ok("/api/v1/catalogue")
        .await;
    let matters = cat["matters"].as_array().unwrap();
    let own = matters
        .iter()
        .find(|m| m["decided_here"] == true)
        .unwrap()
        .clone();
    let up = onewindow_tests::matter_decided_at(&cat, "township");
    (own, up)
}

async fn case_at(t: &Tree, id: &str, number: &str) -> Option<Value> {
    let row = t.node(id).node.store.case(number).await.unwrap()?;
    Some(serde_json::to_value(&row.case).unwrap())
}

async fn with_timeout<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(std::time::Duration::from_secs(120), f)
        .await
        .expect("scenario timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_case_is_decided_at_the_township_and_handed_out_at_the_village() {
    with_timeout(async {
        let t = tree(&TREE).await;
        let (own, up) = village_matters(&t).await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;

        // Decided in the village: completed or accepted here, and seen at the district.
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&own, PERSON))
            .await;
        let local = r["case_number"].as_str().unwrap().to_owned();
        let at_village = case_at(&t, VILLAGE, &local).await.unwrap();
        let district_copy = t
            .eventually(30, "the village case at the district", || async {
                case_at(&t, DISTRICT, &local).await
            })
            .await;
        // The district holds its open part; its personal sections stay at
        // the village, which decides it.
        assert_eq!(open_case(&district_copy), open_case(&at_village));
        assert_eq!(district_copy["received"]["applicant"]["id_number"], "");

        // Decided at the township.
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&up, PERSON))
            .await;
        assert_eq!(r["outcome"], "receipt");
        let n = r["case_number"].as_str().unwrap().to_owned();
        assert_eq!(r["case"]["case"]["holder"], TOWNSHIP);
        let dept = up["department"].as_str().unwrap();
        let a1 = t.staff(TOWNSHIP, "appr1", "approver", Some(dept)).await;
        let a2 = t.staff(TOWNSHIP, "appr2", "approver", Some(dept)).await;
        let a3 = t.staff(TOWNSHIP, "appr3", "approver", Some(dept)).await;
        t.eventually(30, "the case at the township", || async {
            case_at(&t, TOWNSHIP, &n).await
        })
        .await;
        let act = |who: &Api, body: Value| {
            let (who, n) = (who.clone(), n.clone());
            async move {
                who.post_ok(&format!("/api/v1/cases/{n}/actions"), &body)
                    .await
            }
        };
        // The village may not act on a case the township holds.
        let village_approver = t.staff(VILLAGE, "vappr", "approver", Some(dept)).await;
        let (status, body) = village_approver
            .post(
                &format!("/api/v1/cases/{n}/actions"),
                &json!({"action": "start_handling"}),
            )
            .await;
        assert_eq!(status, 409, "{body}");
        act(&a1, json!({"action": "start_handling"})).await;
        act(
            &a1,
            json!({"action": "submit_for_review", "opinion": "材料齐全"}),
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
            v["case"]["holder"], VILLAGE,
            "the result goes back to the accepting window"
        );

        // The village sees the result and hands it out.
        t.eventually(30, "the result at the village", || async {
            case_at(&t, VILLAGE, &n)
                .await
                .filter(|c| c["state"] == "result_ready" && c["holder"] == VILLAGE)
        })
        .await;
        let done = clerk
            .post_ok(
                &format!("/api/v1/cases/{n}/actions"),
                &json!({"action": "hand_out", "collector": {"by": "in_person", "document": "resident_id", "id_number": PERSON, "id_checked": true}}),
            )
            .await;
        assert_eq!(done["state"], "completed");
        // Every tier converges on the same case: the township, which
        // decided it, whole; the district on its open part.
        let final_case = case_at(&t, VILLAGE, &n).await.unwrap();
        t.eventually(30, "convergence", || async {
            case_at(&t, TOWNSHIP, &n)
                .await
                .filter(|c| *c == final_case)
        })
        .await;
        t.eventually(30, "convergence", || async {
            case_at(&t, DISTRICT, &n)
                .await
                .filter(|c| open_case(c) == open_case(&final_case))
        })
        .await;
        // A sibling township never sees it.
        assert!(case_at(&t, "nanhai.dali", &n).await.is_none());

        // Its documents are records: the village's receipt and the
        // township's result notice read the same, byte for byte, at every
        // hall that holds the case's personal data, after the case has
        // moved on.
        let readers = [
            (VILLAGE, clerk.clone()),
            (TOWNSHIP, a1.clone()),
            (
                DISTRICT,
                Api::login(&t.url(DISTRICT), "admin", onewindow_tests::ADMIN_PASSWORD).await,
            ),
        ];
        let docs = readers[0]
            .1
            .get_ok(&format!("/api/v1/cases/{n}/documents"))
            .await;
        let docs = docs.as_array().unwrap().clone();
        let kinds: Vec<(&str, &str)> = docs
            .iter()
            .map(|d| {
                (
                    d["record"]["kind"].as_str().unwrap(),
                    d["node"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [("receipt", VILLAGE), ("result", TOWNSHIP)],
            "{docs:?}"
        );
        let result = &docs[1]["document"];
        assert_eq!(result["title_zh"], "准予办理决定书");
        assert!(
            result["lines"][0]["zh"]
                .as_str()
                .unwrap()
                .contains("证明一份")
        );
        assert!(
            result["notes"][0]["zh"]
                .as_str()
                .unwrap()
                .contains(&format!("{VILLAGE} 服务中心")),
            "the result is collected at the accepting window: {result}"
        );
        for d in &docs {
            let v = d["version"].as_u64().unwrap();
            let path = format!("/api/v1/cases/{n}/documents/{v}");
            let (status, first) = readers[0].1.get(&path).await;
            assert_eq!(status, 200, "{first}");
            assert!(first.contains(d["seal"].as_str().unwrap()));
            for (id, who) in &readers[1..] {
                let (status, page) = who.get(&path).await;
                assert_eq!(status, 200, "{id}: {page}");
                if *id == DISTRICT {
                    // The district holds the record without its personal
                    // content: the seal, not the applicant.
                    assert!(page.contains(d["seal"].as_str().unwrap()), "{page}");
                    assert!(first.contains("李四") && !page.contains("李四"), "{page}");
                } else {
                    assert_eq!(page, first, "document {v} differs at {id}");
                }
            }
        }
        // Any hall checks a seal: one that keeps the case against its
        // record, one that does not (the sibling village) by its signatures
        // alone; an altered seal is refused at both.
        let seal = docs[1]["seal"].as_str().unwrap().to_owned();
        let mut chars: Vec<char> = seal.chars().collect();
        chars[10] = if chars[10] == 'Q' { 'R' } else { 'Q' };
        let altered: String = chars.into_iter().collect();
        for (id, held) in [(DISTRICT, true), ("nanhai.guicheng.shibei", false)] {
            let anyone = Api::anonymous(&t.url(id));
            let v = anyone.get_ok(&format!("/api/v1/verify?d={seal}")).await;
            assert_eq!(v["verdict"], "authentic", "{id}: {v}");
            assert_eq!(v["held_here"], held, "{id}: {v}");
            let v = anyone.get_ok(&format!("/api/v1/verify?d={altered}")).await;
            assert_eq!(v["authentic"], false, "{id}: {v}");
        }

        // An administrative review sets the decision aside: only the
        // district reopens; the village holding the completed case takes it
        // back and hands it up to the township, with a new clock.
        let township_admin =
            Api::login(&t.url(TOWNSHIP), "admin", onewindow_tests::ADMIN_PASSWORD).await;
        let (status, body) = township_admin
            .post(
                &format!("/api/v1/cases/{n}/reopen"),
                &json!({"reason": "复议"}),
            )
            .await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("not_the_root"), "{body}");
        let district_admin =
            Api::login(&t.url(DISTRICT), "admin", onewindow_tests::ADMIN_PASSWORD).await;
        let (status, body) = district_admin
            .post(
                &format!("/api/v1/cases/{n}/reopen"),
                &json!({"reason": "行政复议决定撤销原决定，责令重新办理"}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        let reopened = t
            .eventually(30, "the reopened case at the township", || async {
                case_at(&t, TOWNSHIP, &n)
                    .await
                    .filter(|c| c["state"] == "accepted" && c["holder"] == TOWNSHIP)
            })
            .await;
        assert_eq!(reopened["granted"], Value::Null, "{reopened}");
        assert_eq!(reopened["result"], Value::Null, "{reopened}");
        assert!(
            reopened["accepted_at_ms"].as_i64() > final_case["accepted_at_ms"].as_i64(),
            "the clock starts again: {reopened}"
        );
        // Once the district holds the reopened case, a second reopening is
        // refused.
        t.eventually(30, "the reopened case at the district", || async {
            case_at(&t, DISTRICT, &n)
                .await
                .filter(|c| c["state"] == "accepted")
        })
        .await;
        let (_, again) = district_admin
            .post(
                &format!("/api/v1/cases/{n}/reopen"),
                &json!({"reason": "again"}),
            )
            .await;
        assert!(again.contains("nothing_to_reopen"), "{again}");
        let actions = district_admin
            .get_ok("/api/v1/admin/audit/actions?action=case_reopened")
            .await;
        assert_eq!(actions[0]["target"], n.as_str(), "{actions}");
        // The township's approvers handle it again.
        act(&a1, json!({"action": "start_handling"})).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_version_published_at_the_district_reaches_every_village() {
    with_timeout(async {
        let t = tree(&TREE).await;
        let admin = Api::login(&t.url(DISTRICT), "admin", onewindow_tests::ADMIN_PASSWORD).await;
        let mut cat = admin.get_ok("/api/v1/admin/catalogue/versions/1").await;
        let code = cat["matters"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        cat["matters"][&code]["name_zh"] = json!("修订后的事项名称");
        cat["matters"][&code]["version"] = json!(2);
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
        for id in TREE {
            let api = Api::anonymous(&t.url(id));
            t.eventually(30, "the new catalogue everywhere", || async {
                let h = api.get_ok("/api/v1/health").await;
                (h["catalogue_version"] == v).then_some(())
            })
            .await;
            let g = api
                .get_ok(&format!("/api/v1/catalogue/matters/{code}"))
                .await;
            assert_eq!(g["name_zh"], "修订后的事项名称", "{id}");
        }
        // Only the root publishes.
        let town_admin =
            Api::login(&t.url(TOWNSHIP), "admin", onewindow_tests::ADMIN_PASSWORD).await;
        let d = town_admin
            .post_ok("/api/v1/admin/catalogue/versions", &cat)
            .await;
        let (status, body) = town_admin
            .post(
                &format!("/api/v1/admin/catalogue/versions/{}/publish", d["version"]),
                &json!({}),
            )
            .await;
        assert_eq!(status, 403, "{body}");
    })
    .await;
}

/// Publishing is one transaction with the directive that announces it: a
/// version the root cannot write to its log (here, too large for an entry)
/// is not published either, so the root never uses rules its log does not
/// carry to the tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_version_the_root_cannot_announce_is_not_published() {
    with_timeout(async {
        let t = tree(&TREE).await;
        let root = &t.node(DISTRICT).node;
        let before = root.catalogue().version;
        let head = root.store.own_head().await;
        let mut cat = (*root.catalogue()).clone();
        let m = cat.matters.values_mut().next().unwrap();
        m.legal_basis = "依据".repeat(3 * 1024 * 1024);
        let draft = root.create_catalogue_draft(&cat).await.unwrap();
        let err = root
            .publish_catalogue(draft.version, "admin")
            .await
            .unwrap_err();
        assert_eq!(err.code, "entry_too_large", "{err}");
        assert_eq!(root.catalogue().version, before);
        assert_eq!(
            root.store.own_head().await,
            head,
            "nothing written to the log"
        );
        let info = root.catalogue_version_info(draft.version).await.unwrap();
        assert_eq!(info.state, "draft", "the version stays a draft");
        let published = root.store.published_catalogue().await.unwrap().unwrap();
        assert_eq!(published.version, before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_village_keeps_accepting_and_drains_on_reconnect() {
    with_timeout(async {
        let mut t = tree(&TREE).await;
        let (own, up) = village_matters(&t).await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        // Wait for the link to be up first, then cut it by stopping the township.
        t.eventually(30, "the village's uplink", || async {
            t.node(VILLAGE).node.uplink_up().then_some(())
        })
        .await;
        // The village knows its township by name from the link's status.
        t.eventually(30, "the township's name at the village", || async {
            (t.node(VILLAGE).node.hall_name(TOWNSHIP, false) != TOWNSHIP).then_some(())
        })
        .await;
        t.stop(TOWNSHIP).await;
        t.eventually(30, "the village to notice", || async {
            (!t.node(VILLAGE).node.uplink_up()).then_some(())
        })
        .await;
        // The clerk's page says the link is down.
        let page = || async {
            let token = clerk.client().token().unwrap().to_owned();
            reqwest::Client::new()
                .get(format!("{}/clerk", t.url(VILLAGE)))
                .header("cookie", format!("ow_session={token}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        };
        let home = page().await;
        assert!(
            home.contains("id=\"link-state\"") && home.contains("与上级的网络已中断"),
            "{home}"
        );
        let mut numbers = Vec::new();
        for i in 0..5 {
            let id = onewindow_tests::citizen_id(&format!("4406051990010100{i}"));
            let r = clerk
                .post_ok("/api/v1/cases", &complete_submission(&own, &id))
                .await;
            numbers.push(r["case_number"].as_str().unwrap().to_owned());
        }
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&up, PERSON))
            .await;
        assert_eq!(
            r["document"]["awaiting_transfer"], true,
            "the receipt says it waits"
        );
        // It names the hall that decides by its name, not its node id.
        let notes = r["document"]["notes"].to_string();
        assert!(
            notes.contains(&format!("（{TOWNSHIP} 服务中心）"))
                && notes.contains(&format!("({TOWNSHIP} service centre)")),
            "{notes}"
        );
        numbers.push(r["case_number"].as_str().unwrap().to_owned());
        // The case handed up is listed as handled by the township, by
        // name, and records wait to go up.
        let home = page().await;
        let up_case = numbers.last().unwrap();
        let row = home
            .split(&format!("<tr data-case=\"{up_case}\">"))
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .unwrap_or_else(|| panic!("{up_case} not listed: {home}"));
        assert!(row.contains(&format!("{TOWNSHIP} 服务中心")), "{row}");
        assert!(!home.contains("id=\"waiting-up\">0<"), "{home}");
        t.restart(TOWNSHIP).await;
        for n in &numbers {
            let here = case_at(&t, VILLAGE, n).await.unwrap();
            t.eventually(60, "the backlog at the district", || async {
                case_at(&t, DISTRICT, n)
                    .await
                    .filter(|c| open_case(c) == open_case(&here))
            })
            .await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_origins_foreign_cas_and_revoked_nodes_are_refused() {
    use federation::replication::Limits;
    use federation::replication::{Batch, Direction, Hello, Message, WireEntry};
    use federation::transport::{Client, TransportConfig, read_raw_frame, write_raw_frame};
    use federation::{EntryHash, FederationCa, LogEntry, NodeCredentials, NodeId};

    with_timeout(async {
        let t = tree(&TREE).await;
        let town = NodeId::new(TOWNSHIP).unwrap();
        let town_addr = t.quic_addr(TOWNSHIP);
        let security = || async {
            t.node(TOWNSHIP)
                .node
                .store
                .security_events(100)
                .await
                .unwrap()
        };

        // A certificate from another CA.
        let rogue_ca = FederationCa::generate("rogue").unwrap();
        let rogue = rogue_ca
            .issue_for_days(&NodeId::new(VILLAGE).unwrap(), 5)
            .unwrap();
        let rogue = NodeCredentials {
            ca_pem: t.ca.cert_pem().to_owned(),
            ..rogue
        };
        let client = Client::new(&rogue, TransportConfig::default()).unwrap();
        if let Ok(c) = client.connect(town_addr, &town).await {
            let _ = c.closed().await;
        }
        t.eventually(30, "unknown_ca recorded", || async {
            security()
                .await
                .iter()
                .any(|e| e.kind == "unknown_ca")
                .then_some(())
        })
        .await;

        // A registered village sending entries that claim a sibling's origin.
        let creds = NodeCredentials::from_files(std::path::Path::new(
            &t.nodes[VILLAGE].config.federation.credentials_dir,
        ))
        .unwrap();
        let client = Client::new(&creds, TransportConfig::default()).unwrap();
        let conn = client.connect(town_addr, &town).await.unwrap();
        let s = conn.open_stream().await.unwrap();
        let (mut send, mut recv) = s.into_parts();
        let sibling = NodeId::new("nanhai.guicheng.shibei").unwrap();
        write_raw_frame(
            &mut send,
            &Message::Hello(Hello {
                node: creds.node.clone(),
                software: "forger".into(),
                catalogue_version: 1,
                now_ms: 0,
                have: 0,
                your_origin_head: 0,
                head: 0,
                recovering: false,
                start_head: 0,
                incarnation: 0,
                earlier: Vec::new(),
                older_floor: None,
            })
            .encode(),
        )
        .await
        .unwrap();
        let forged = LogEntry::next(sibling, 0, EntryHash::GENESIS, "{}");
        let batch = Message::Batch(Batch {
            direction: Direction::Up,
            after: 0,
            upto: 1,
            entries: vec![WireEntry {
                local_seq: 1,
                entry: forged,
                stream: None,
                stream_seq: 0,
            }],
        });
        let refused = || async {
            metric(
                &metrics_text(&t.url(TOWNSHIP)).await,
                "onewindow_link_refusals_sent_total",
                &[("peer", VILLAGE), ("code", "outside_subtree")],
            )
            .unwrap_or(0.0)
        };
        let refused_before = refused().await;
        write_raw_frame(&mut send, &batch.encode()).await.unwrap();
        let reply = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            loop {
                let frame = match read_raw_frame(&mut recv, 1 << 24).await {
                    Ok(Some(f)) => f,
                    _ => break "closed".to_owned(),
                };
                match Message::decode(&frame, &Limits::default()) {
                    Ok(Message::Reject { code, .. }) => break code,
                    Ok(_) => continue,
                    Err(_) => break "bad frame".to_owned(),
                }
            }
        })
        .await
        .expect("a reply");
        assert_eq!(reply, "outside_subtree");
        t.eventually(
            30,
            "the refusal counted in the township's metrics",
            || async { (refused().await > refused_before).then_some(()) },
        )
        .await;
        let _ = write_raw_frame(
            &mut send,
            &Message::Status(federation::replication::LinkStatus {
                software: String::new(),
                catalogue_version: 0,
                backlog: 0,
                acked: 0,
                now_ms: 0,
                subtree: Vec::new(),
                name_zh: String::new(),
                name_en: String::new(),
                queue: Vec::new(),
            })
            .encode(),
        )
        .await;
        t.eventually(30, "outside_subtree recorded", || async {
            security()
                .await
                .iter()
                .any(|e| e.kind == "outside_subtree")
                .then_some(())
        })
        .await;
        // The sibling wrote nothing, so nothing of its origin may be held.
        let heads = t.node(TOWNSHIP).node.store.origin_heads().await.unwrap();
        assert!(
            !heads.contains_key(&NodeId::new("nanhai.guicheng.shibei").unwrap()),
            "a forged entry was stored"
        );

        // A revoked node.
        t.node(TOWNSHIP)
            .node
            .registry
            .revoke("nanhai.guicheng.shibei");
        let creds = NodeCredentials::from_files(std::path::Path::new(
            &t.nodes["nanhai.guicheng.shibei"]
                .config
                .federation
                .credentials_dir,
        ))
        .unwrap();
        let client = Client::new(&creds, TransportConfig::default()).unwrap();
        if let Ok(c) = client.connect(town_addr, &town).await {
            let _ = c.closed().await;
        }
        t.eventually(30, "revoked recorded", || async {
            security()
                .await
                .iter()
                .any(|e| e.kind == "revoked")
                .then_some(())
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progress_query_is_answered_at_any_node_of_the_tree() {
    with_timeout(async {
        let t = tree(&TREE).await;
        let (own, _) = village_matters(&t).await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&own, PERSON))
            .await;
        let n = r["case_number"].as_str().unwrap().to_owned();
        t.eventually(30, "the case at the district", || async {
            case_at(&t, DISTRICT, &n).await
        })
        .await;
        // A village under the other township asks up its own branch; the
        // district answers.
        let far = Api::anonymous(&t.url("nanhai.dali.huangqi"));
        let p = t
            .eventually(30, "an answer from above", || async {
                let (status, body) = far.get(&format!("/api/v1/cases/{n}?last4=002X")).await;
                (status == 200).then(|| serde_json::from_str::<Value>(&body).unwrap())
            })
            .await;
        assert_eq!(p["case_number"], n.as_str());
        assert!(p.get("case").is_none(), "only the public answer travels");
        let (status, _) = far.get(&format!("/api/v1/cases/{n}?last4=9999")).await;
        assert_eq!(
            status, 404,
            "a wrong key gets the same answer as an unknown case"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_and_calendars_published_at_the_root_reach_the_tree() {
    with_timeout(async {
        let t = tree(&TREE).await;
        let shibei = "nanhai.guicheng.shibei";
        t.eventually(30, "shibei's uplink", || async {
            t.node(shibei).node.uplink_up().then_some(())
        })
        .await;
        let admin = Api::login(&t.url(DISTRICT), "admin", onewindow_tests::ADMIN_PASSWORD).await;

        // A calendar for 2027, published at the root, reaches every village.
        let mut y =
            serde_json::to_value(&t.node(DISTRICT).node.store.calendars().await.unwrap()[0])
                .unwrap();
        y["year"] = json!(2027);
        for h in y["holidays"].as_array_mut().unwrap() {
            for k in ["from", "to"] {
                let d = h[k].as_str().unwrap().replacen("2026", "2027", 1);
                h[k] = json!(d);
            }
            h["makeup"] = json!([]);
        }
        let (status, body) = admin.send_put("/api/v1/admin/calendars", &y).await;
        assert_eq!(status, 204, "{body}");
        for id in TREE {
            t.eventually(30, "the 2027 calendar everywhere", || async {
                t.node(id).node.calendar().has_year(2027).then_some(())
            })
            .await;
        }

        // A township may not revoke; the root may, and the township cuts the link.
        let town_admin =
            Api::login(&t.url(TOWNSHIP), "admin", onewindow_tests::ADMIN_PASSWORD).await;
        let (status, _) = town_admin
            .post(&format!("/api/v1/admin/nodes/{shibei}/revoke"), &json!({}))
            .await;
        assert_eq!(status, 403);
        let (status, body) = admin
            .post(&format!("/api/v1/admin/nodes/{shibei}/revoke"), &json!({}))
            .await;
        assert_eq!(status, 204, "{body}");
        t.eventually(30, "the revocation at the township", || async {
            t.node(TOWNSHIP)
                .node
                .registry
                .is_revoked(shibei, "")
                .then_some(())
        })
        .await;
        t.eventually(30, "shibei cut off", || async {
            let events = t
                .node(TOWNSHIP)
                .node
                .store
                .security_events(100)
                .await
                .unwrap();
            (!t.node(shibei).node.uplink_up() && events.iter().any(|e| e.kind == "revoked"))
                .then_some(())
        })
        .await;
        // Its sibling keeps its link.
        assert!(t.node(VILLAGE).node.uplink_up());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_district_recalls_a_case_and_the_holder_hands_it_over() {
    with_timeout(async {
        let t = tree(&TREE).await;
        let (_, up) = village_matters(&t).await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&up, PERSON))
            .await;
        let n = r["case_number"].as_str().unwrap().to_owned();
        t.eventually(30, "the case at the district", || async {
            case_at(&t, DISTRICT, &n).await
        })
        .await;
        let sup = t.staff(DISTRICT, "sup1", "supervisor", None).await;
        let town_sup = t.staff(TOWNSHIP, "sup2", "supervisor", None).await;
        let (status, _) = town_sup
            .post(
                &format!("/api/v1/cases/{n}/recall"),
                &json!({"reason": "x"}),
            )
            .await;
        assert_eq!(status, 403, "only the root recalls");
        let (status, body) = sup
            .post(
                &format!("/api/v1/cases/{n}/recall"),
                &json!({"reason": "群众投诉，区级督办"}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        // The township obeys; the district holds the case and may handle it.
        t.eventually(30, "the case held at the district", || async {
            case_at(&t, DISTRICT, &n)
                .await
                .filter(|c| c["holder"] == DISTRICT)
        })
        .await;
        let dept = up["department"].as_str().unwrap();
        let appr = t.staff(DISTRICT, "dappr", "approver", Some(dept)).await;
        let v = appr
            .post_ok(
                &format!("/api/v1/cases/{n}/actions"),
                &json!({"action": "start_handling"}),
            )
            .await;
        assert_eq!(v["state"], "handling");
        let town_appr = t.staff(TOWNSHIP, "tappr", "approver", Some(dept)).await;
        t.eventually(30, "the township sees it moved", || async {
            case_at(&t, TOWNSHIP, &n)
                .await
                .filter(|c| c["holder"] == DISTRICT)
        })
        .await;
        let (status, _) = town_appr
            .post(
                &format!("/api/v1/cases/{n}/actions"),
                &json!({"action": "submit_for_review", "opinion": "x"}),
            )
            .await;
        assert_eq!(status, 409, "the township no longer holds it");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_reports_its_status_to_the_parent() {
    with_timeout(async {
        let t = tree(&TREE).await;
        for (parent, child) in [
            (DISTRICT, TOWNSHIP),
            (TOWNSHIP, VILLAGE),
            ("nanhai.dali", "nanhai.dali.yanbu"),
        ] {
            let s = t
                .eventually(30, "a status report", || async {
                    t.node(parent)
                        .node
                        .store
                        .link_state(child)
                        .await
                        .unwrap()
                        .filter(|s| s.connected && s.backlog.is_some())
                })
                .await;
            assert_eq!(s.software.as_deref(), Some(env!("CARGO_PKG_VERSION")));
            assert_eq!(s.catalogue_version, Some(1));
            assert!(
                s.skew_ms.is_some_and(|k| k.abs() < 5_000),
                "skew {:?}",
                s.skew_ms
            );
            // The parent's fleet row holds the certificate the child
            // presented: the one the child's health names as its own (the
            // test kit's certificates last 30 days: in their last month).
            let h = Api::anonymous(&t.url(child)).get_ok("/api/v1/health").await;
            let cert = &h["certificate"];
            assert_eq!(cert["state"], "expiring", "{h}");
            assert_eq!(cert["days_left"], 29, "{h}");
            assert_eq!(cert["state_en"], "expires in 29 days", "{h}");
            let fleet = t.node(parent).node.store.oversight_fleet().await.unwrap();
            let row = fleet.iter().find(|f| f.node_id == child).unwrap();
            assert_eq!(row.cert_serial.as_deref(), cert["serial"].as_str());
            assert_eq!(row.cert_not_after_ms, cert["not_after_ms"].as_i64());
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_version_with_a_bad_signature_is_refused_and_the_old_one_kept() {
    use federation::replication::{Batch, Direction, DownReceiver, WireEntry};
    use federation::{EntryHash, LogEntry, NodeId};
    use node::domain::log::{Directive, DirectiveRecord, LogBody};
    use node::link::signing::{Signer, generate};

    with_timeout(async {
        let t = tree(&["nanhai", "nanhai.guicheng"]).await;
        let town = t.node("nanhai.guicheng").node.clone();
        let mut cat = town.catalogue().as_ref().clone();
        cat.version = 7;
        let text = serde_json::to_string(&cat).unwrap();
        // Signed by a key that is not the root's, then by the root's.
        let forged_key = Signer::from_hex(&generate().unwrap().0).unwrap();
        let root_key = Signer::from_hex(&t.signing.0).unwrap();
        let entry = |seq: u64, prev: EntryHash, signer: &Signer| {
            let body = LogBody::Directive(DirectiveRecord {
                directive: Directive::CataloguePublished {
                    version: 7,
                    catalogue: text.clone(),
                    signature: signer.sign(text.as_bytes()),
                },
                issued_by: "admin".into(),
                at_ms: 0,
            });
            // An origin the township has never heard of, so that the entries
            // are new to it; its authority is the root's.
            LogEntry::next(
                NodeId::new("nanhai").unwrap(),
                seq + 1000,
                prev,
                serde_json::to_string(&body).unwrap(),
            )
        };
        let bad = entry(0, EntryHash::GENESIS, &forged_key);
        let good = entry(1, bad.hash, &root_key);
        let events_before = town.store.event_count().await.unwrap();
        let batch = |e: LogEntry, local: u64| Batch {
            direction: Direction::Down,
            after: local - 1,
            upto: local,
            entries: vec![WireEntry {
                local_seq: local,
                entry: e,
                stream: None,
                stream_seq: 0,
            }],
        };
        let (have, _) = town.store.link_cursor("nanhai").await.unwrap();
        let b1 = batch(bad, have + 1);
        let rx = DownReceiver::new(town.id.clone(), have);
        let heads = town.store.origin_heads().await.unwrap();
        struct L(std::collections::BTreeMap<NodeId, (u64, EntryHash)>);
        impl federation::replication::DownLookup for L {
            fn has(&self, o: &NodeId, s: u64) -> bool {
                self.0.get(o).is_some_and(|h| h.0 >= s)
            }
            fn stream_head(&self, _: &str) -> u64 {
                0
            }
            fn origin_head(&self, o: &NodeId) -> (u64, EntryHash) {
                self.0.get(o).copied().unwrap_or((0, EntryHash::GENESIS))
            }
        }
        let acc = rx.check(&b1, &L(heads.clone())).unwrap();
        let applied = town.apply_batch("nanhai", &b1, &acc).await.unwrap();
        assert_eq!(
            applied.bad_signatures.len(),
            1,
            "the forged version is refused"
        );
        assert!(applied.catalogue.is_none());
        assert_eq!(town.catalogue().version, 1, "the old version is kept");
        assert_eq!(
            town.store.event_count().await.unwrap(),
            events_before,
            "nothing of it is stored"
        );
        // The same version under the root's signature is taken.
        let b2 = batch(good, have + 2);
        let rx = DownReceiver::new(town.id.clone(), have + 1);
        let acc = rx.check(&b2, &L(heads)).unwrap();
        let applied = town.apply_batch("nanhai", &b2, &acc).await.unwrap();
        assert!(applied.bad_signatures.is_empty());
        assert_eq!(applied.catalogue.map(|c| c.version), Some(7));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_report_their_metrics_and_a_village_its_uplink_health() {
    with_timeout(async {
        let mut t = tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
        let (own, _) = village_matters(&t).await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&own, PERSON))
            .await;
        let number = r["case_number"].as_str().unwrap().to_owned();
        let here = case_at(&t, VILLAGE, &number).await.unwrap();
        t.eventually(60, "the case at the township", || async {
            case_at(&t, TOWNSHIP, &number)
                .await
                .filter(|c| open_case(c) == open_case(&here))
        })
        .await;

        // The village's link to its parent: up, it sent batches and bytes,
        // and once converged nothing is left unacknowledged.
        let to_parent = [("peer", TOWNSHIP), ("flow", "up")];
        let village = t
            .eventually(30, "the village's link metrics to converge", || async {
                let m = metrics_text(&t.url(VILLAGE)).await;
                let ok = metric(&m, "onewindow_link_connected", &[("peer", TOWNSHIP)]) == Some(1.0)
                    && metric(&m, "onewindow_link_backlog_entries", &to_parent) == Some(0.0)
                    && metric(&m, "onewindow_link_oldest_unacked_age_seconds", &to_parent)
                        == Some(0.0);
                ok.then_some(m)
            })
            .await;
        for (name, labels) in [
            ("onewindow_link_batches_sent_total", &to_parent[..]),
            ("onewindow_link_acked_sequence", &to_parent[..]),
            ("onewindow_link_bytes_sent_total", &to_parent[..1]),
            ("onewindow_link_bytes_received_total", &to_parent[..1]),
        ] {
            assert!(
                metric(&village, name, labels).is_some_and(|v| v > 0.0),
                "{name}: {village}"
            );
        }
        assert_eq!(
            metric(
                &village,
                "onewindow_build_info",
                &[("version", env!("CARGO_PKG_VERSION")), ("node", VILLAGE)]
            ),
            Some(1.0),
            "{village}"
        );

        // The township applied the village's entries, in committed
        // transactions, and timed it.
        let from_child = [("peer", VILLAGE), ("flow", "up")];
        let township = t
            .eventually(30, "the township's metrics of its child", || async {
                let m = metrics_text(&t.url(TOWNSHIP)).await;
                metric(&m, "onewindow_link_entries_applied_total", &from_child)
                    .is_some_and(|v| v > 0.0)
                    .then_some(m)
            })
            .await;
        for name in [
            "onewindow_link_batches_received_total",
            "onewindow_link_fsyncs_total",
            "onewindow_link_apply_seconds_count",
        ] {
            assert!(
                metric(&township, name, &from_child).is_some_and(|v| v > 0.0),
                "{name}: {township}"
            );
        }
        assert_eq!(
            metric(&township, "onewindow_link_connected", &[("peer", VILLAGE)]),
            Some(1.0),
            "{township}"
        );

        // Health: the village's uplink is up, nothing waits, the parent has
        // acknowledged; the root has no uplink.
        let village_url = t.url(VILLAGE);
        let village_health =
            || async { Api::anonymous(&village_url).get_ok("/api/v1/health").await };
        let h = t
            .eventually(30, "the village's uplink healthy", || async {
                let h = village_health().await;
                let u = &h["uplink"];
                (u["up"] == true && u["backlog"] == 0 && u["last_ack_ms"].is_i64()).then_some(h)
            })
            .await;
        assert_eq!(h["uplink"]["parent"], TOWNSHIP, "{h}");
        assert_eq!(h["node_id"], VILLAGE, "the old fields stay: {h}");
        let root = Api::anonymous(&t.url(DISTRICT))
            .get_ok("/api/v1/health")
            .await;
        assert!(root["uplink"].is_null(), "{root}");

        // The parent stops: the uplink is down, and what is written now waits.
        t.stop(TOWNSHIP).await;
        t.eventually(60, "the village to report its uplink down", || async {
            (village_health().await["uplink"]["up"] == false).then_some(())
        })
        .await;
        t.eventually(
            30,
            "the village's link metric to say disconnected",
            || async {
                let m = metrics_text(&t.url(VILLAGE)).await;
                (metric(&m, "onewindow_link_connected", &[("peer", TOWNSHIP)]) == Some(0.0))
                    .then_some(())
            },
        )
        .await;
        let id = onewindow_tests::citizen_id("44060519900101005");
        clerk
            .post_ok("/api/v1/cases", &complete_submission(&own, &id))
            .await;
        let h = t
            .eventually(
                30,
                "the backlog to grow while the parent is away",
                || async {
                    let h = village_health().await;
                    h["uplink"]["backlog"]
                        .as_u64()
                        .is_some_and(|b| b > 0)
                        .then_some(h)
                },
            )
            .await;
        assert_eq!(h["uplink"]["up"], false, "{h}");
        // The link metrics see the same backlog, and it ages.
        t.eventually(30, "the backlog's age in the village's metrics", || async {
            let m = metrics_text(&t.url(VILLAGE)).await;
            let ok = metric(&m, "onewindow_link_backlog_entries", &to_parent)
                .is_some_and(|b| b > 0.0)
                && metric(&m, "onewindow_link_oldest_unacked_age_seconds", &to_parent)
                    .is_some_and(|a| a > 0.0);
            ok.then_some(())
        })
        .await;
        assert!(
            h["uplink"]["last_ack_ms"].is_i64(),
            "the last acknowledgement stays: {h}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_renew_over_the_links_and_every_link_presents_the_new_ones() {
    with_timeout(async {
        let small = [DISTRICT, TOWNSHIP, VILLAGE];
        let mut t = onewindow_tests::tree_with_ca_at_root(&small).await;
        let original: Vec<String> = small
            .iter()
            .map(|id| {
                federation::NodeCredentials::from_files(&t.dir.path().join(id).join("pki"))
                    .unwrap()
                    .serial()
                    .unwrap()
            })
            .collect();
        // The kit's certificates last 30 days, so each is due: the district
        // signs its own, the township's and the village's come down their
        // links, each for 825 days.
        let mut renewed = Vec::new();
        for (id, old) in small.iter().zip(&original) {
            let h = t
                .eventually(60, "a renewed certificate", || async {
                    let h = Api::anonymous(&t.url(id)).get_ok("/api/v1/health").await;
                    (h["certificate"]["days_left"].as_i64() >= Some(824)).then_some(h)
                })
                .await;
            let cert = &h["certificate"];
            assert_eq!(cert["state"], "ok", "{h}");
            let serial = cert["serial"].as_str().unwrap().to_owned();
            assert_ne!(&serial, old);
            // The new pair is on disk, with the key made at the node.
            let creds = federation::NodeCredentials::from_files(&t.dir.path().join(id).join("pki"))
                .unwrap();
            assert_eq!(creds.serial().unwrap(), serial);
            renewed.push(serial);
        }
        // Each child reconnected with its new certificate: its parent's
        // fleet row holds it.
        for (parent, child, serial) in [
            (DISTRICT, TOWNSHIP, &renewed[1]),
            (TOWNSHIP, VILLAGE, &renewed[2]),
        ] {
            t.eventually(30, "the parent sees the renewed certificate", || async {
                let fleet = t.node(parent).node.store.oversight_fleet().await.unwrap();
                fleet
                    .iter()
                    .find(|f| f.node_id == child && f.connected)
                    .filter(|f| f.cert_serial.as_ref() == Some(serial))
                    .map(|_| ())
            })
            .await;
        }
        // A restarted village loads its renewed pair from disk, and the
        // township presents its own renewed certificate to it.
        t.stop(VILLAGE).await;
        t.restart(VILLAGE).await;
        t.eventually(
            30,
            "the village links with the new certificates",
            || async {
                let fleet = t.node(VILLAGE).node.store.oversight_fleet().await.unwrap();
                fleet
                    .iter()
                    .find(|f| f.node_id == TOWNSHIP && f.connected)
                    .filter(|f| f.cert_serial.as_ref() == Some(&renewed[1]))
                    .map(|_| ())
            },
        )
        .await;
        let h = Api::anonymous(&t.url(VILLAGE))
            .get_ok("/api/v1/health")
            .await;
        assert_eq!(h["certificate"]["serial"], renewed[2].as_str());

        // A link asks only for its own subtree, and only up.
        let nid = |s: &str| federation::NodeId::new(s).unwrap();
        let req = federation::KeyRequest::generate(&nid(VILLAGE)).unwrap();
        let body = json!({"type": "certificate", "node": VILLAGE, "request_pem": req.request_pem})
            .to_string();
        let district = &t.node(DISTRICT).node;
        assert!(
            district
                .answer(&nid("nanhai.dali"), &body, false)
                .await
                .is_none(),
            "the village is not under nanhai.dali"
        );
        let signed = district.answer(&nid(TOWNSHIP), &body, false).await.unwrap();
        assert!(federation::key_matches(&signed, &req.key_pem).unwrap());
        assert!(
            t.node(VILLAGE)
                .node
                .answer(&nid(TOWNSHIP), &body, true)
                .await
                .is_none(),
            "a parent does not ask its child for a certificate"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_district_fleet_holds_the_whole_subtree_with_link_round_trips() {
    with_timeout(async {
        let t = tree(&[DISTRICT, TOWNSHIP, VILLAGE, "nanhai.guicheng.shibei"]).await;
        let fleet = t
            .eventually(60, "both villages in the district's fleet", || async {
                let rows = t.node(DISTRICT).node.store.oversight_fleet().await.unwrap();
                let villages = rows
                    .iter()
                    .filter(|r| {
                        r.parent.as_deref() == Some(TOWNSHIP)
                            && r.connected
                            && r.software.as_deref().is_some_and(|s| !s.is_empty())
                            && r.lag_ms.is_some()
                    })
                    .count();
                let township_rtt = rows
                    .iter()
                    .any(|r| r.node_id == TOWNSHIP && r.lag_ms.is_some());
                (villages == 2 && township_rtt).then_some(rows)
            })
            .await;
        assert!(fleet.iter().any(|r| r.node_id == VILLAGE));
        // One clock for the whole tree: a skew is the message's transit,
        // not the time a session waited before it came.
        for r in fleet.iter().filter(|r| r.node_id != DISTRICT) {
            let skew = r.skew_ms.unwrap_or(0);
            assert!(skew.abs() < 1000, "{}: skew {skew} ms", r.node_id);
        }
        // The supervisor's fleet page at the district lists them.
        let admin = Api::login(&t.url(DISTRICT), "admin", onewindow_tests::ADMIN_PASSWORD).await;
        let page = reqwest::Client::new()
            .get(format!("{}/supervisor/fleet", t.url(DISTRICT)))
            .header(
                "cookie",
                format!("ow_session={}", admin.client().token().unwrap()),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(VILLAGE) && page.contains("nanhai.guicheng.shibei"),
            "{page}"
        );
        // Halls by name: each hall's status report carries its names and
        // those of the halls below it.
        let village_name = format!("{VILLAGE} 服务中心");
        assert!(page.contains(&village_name), "{page}");
        assert_eq!(
            t.node(DISTRICT).node.hall_name(VILLAGE, false),
            village_name
        );
        assert_eq!(
            t.node(DISTRICT).node.hall_name(VILLAGE, true),
            format!("{VILLAGE} service centre")
        );
        assert_eq!(
            t.node(VILLAGE).node.hall_name(TOWNSHIP, false),
            format!("{TOWNSHIP} 服务中心"),
            "a child learns its parent's name too"
        );
        // A village's fleet holds no row of its parent in what it reports:
        // only nodes below a node go up.
        let reported = t.node(VILLAGE).node.store.fleet_subtree().await.unwrap();
        assert!(reported.is_empty(), "{reported:?}");
        let reported = t.node(TOWNSHIP).node.store.fleet_subtree().await.unwrap();
        assert_eq!(reported.len(), 2, "{reported:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_waits_at_a_village_reach_the_district_statistics() {
    with_timeout(async {
        let t = tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
        let kiosk = Api::anonymous(&t.url(VILLAGE));
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        for _ in 0..3 {
            kiosk.post_ok("/api/v1/queue/tickets", &json!({})).await;
        }
        // Three windows: a window calls the next number only once its
        // called one is closed.
        for window in ["1", "2", "3"] {
            clerk
                .post_ok("/api/v1/queue/call", &json!({"window": window}))
                .await;
        }
        let days = t.node(DISTRICT).node.recent_days(1);
        let here = t
            .node(VILLAGE)
            .node
            .store
            .queue_waits(&days[0], &days[0])
            .await
            .unwrap();
        assert_eq!(here.count, 3);
        for id in [TOWNSHIP, DISTRICT] {
            let there = t
                .eventually(60, "the village's queue waits above", || async {
                    let d = t
                        .node(id)
                        .node
                        .store
                        .queue_waits(&days[0], &days[0])
                        .await
                        .unwrap();
                    (d.count == 3).then_some(d)
                })
                .await;
            assert_eq!(there, here, "{id} holds the village's summary");
        }
    })
    .await;
}

/// A PDF of three pieces and a bit (text only, so the API's answer as
/// text is its bytes).
fn scanned_pdf() -> String {
    let mut pdf = String::from("%PDF-1.4\n");
    let mut line = 0;
    while pdf.len() < 3 * node::service::fetch::PIECE + 100 {
        line += 1;
        pdf.push_str(&format!("% scanned line {line}\n"));
    }
    pdf.push_str("%%EOF\n");
    pdf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_is_fetched_by_the_township_from_the_village_and_a_broken_fetch_resumes() {
    use base64::Engine as _;
    use sha2::Digest as _;
    with_timeout(async {
        let mut t = tree(&TREE).await;
        let (_, up) = village_matters(&t).await;
        let pdf = scanned_pdf();
        let hash = hex::encode(sha2::Sha256::digest(pdf.as_bytes()));
        let sub = complete_submission(&up, PERSON);
        let code = sub["materials"][0]["code"].as_str().unwrap().to_owned();
        let mut applicant = sub["applicant"].clone();
        applicant["phone"] = json!("13800000000");

        // A citizen pre-applies at the village with a scan; the clerk
        // accepts, and the case goes to the township that decides it.
        let sent = Api::anonymous(&t.url(VILLAGE))
            .post_ok(
                "/api/v1/pre-applications",
                &json!({
                    "matter": up["code"],
                    "applicant": applicant,
                    "materials": [code],
                    "files": [{"material": code, "content_type": "application/pdf",
                        "content": base64::engine::general_purpose::STANDARD.encode(&pdf)}],
                }),
            )
            .await;
        let reference = sent["reference"].as_str().unwrap();
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let r = clerk
            .post_ok(
                &format!("/api/v1/pre-applications/{reference}/accept"),
                &json!({"materials": sub["materials"]}),
            )
            .await;
        assert_eq!(r["outcome"], "receipt", "{r}");
        let n = r["case_number"].as_str().unwrap().to_owned();
        assert_eq!(r["case"]["case"]["holder"], TOWNSHIP);
        t.eventually(30, "the case at the township", || async {
            case_at(&t, TOWNSHIP, &n).await
        })
        .await;

        // The file stays at the village: not at the township, not above.
        let township = &t.node(TOWNSHIP).node;
        let place = |node: &node::service::Node| {
            node.config
                .node
                .data_dir
                .join("files")
                .join(&hash[..2])
                .join(&hash)
        };
        assert!(place(&t.node(VILLAGE).node).exists());
        assert!(!place(township).exists());
        assert!(!place(&t.node(DISTRICT).node).exists());

        // A fetch broken off after 10,000 bytes left them at the township;
        // the approver's look at the scan fetches the rest, only the rest.
        let partial = township.config.node.data_dir.join("files").join("partial");
        std::fs::create_dir_all(&partial).unwrap();
        std::fs::write(partial.join(&hash), &pdf.as_bytes()[..10_000]).unwrap();
        let dept = up["department"].as_str().unwrap();
        let approver = t.staff(TOWNSHIP, "appr1", "approver", Some(dept)).await;
        let path = format!("/api/v1/cases/{n}/attachments/{hash}");
        let (status, body) = approver.get(&path).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body == pdf,
            "the township serves the village's scan as it is"
        );
        assert!(place(township).exists(), "kept at the township now");
        assert!(!partial.join(&hash).exists(), "the pieces became the file");
        let fetched = metric(
            &metrics_text(&t.url(TOWNSHIP)).await,
            "onewindow_file_bytes_fetched_total",
            &[],
        );
        assert_eq!(fetched, Some((pdf.len() - 10_000) as f64));
        // The district, which does not handle the case, holds no copy.
        assert!(!place(&t.node(DISTRICT).node).exists());

        // The village answers only for a hall that handles the case, and
        // its parent may not ask for a hall below the village.
        let nid = |s: &str| federation::NodeId::new(s).unwrap();
        let ask = |by: &str| {
            json!({"type": "file", "case_id": n, "hash": hash, "at": VILLAGE,
                "by": by, "offset": 0})
            .to_string()
        };
        let village = &t.node(VILLAGE).node;
        assert!(
            village
                .answer(&nid(TOWNSHIP), &ask(TOWNSHIP), true)
                .await
                .is_some()
        );
        for by in ["nanhai.dali", "nanhai.guicheng.shibei", VILLAGE] {
            assert!(
                village
                    .answer(&nid(TOWNSHIP), &ask(by), true)
                    .await
                    .is_none(),
                "answered for {by}"
            );
        }
        // A sibling village asking through the township is refused too.
        assert!(
            township
                .answer(
                    &nid("nanhai.guicheng.shibei"),
                    &ask("nanhai.guicheng.shibei"),
                    false
                )
                .await
                .is_none()
        );

        // With the village down, a hall without the file says so clearly.
        std::fs::remove_file(place(township)).unwrap();
        t.stop(VILLAGE).await;
        let (status, body) = approver.get(&path).await;
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("attachment_unreachable"), "{body}");
    })
    .await;
}
