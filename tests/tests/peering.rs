//! Peering between the roots of two trees (异地通办 across trees), on real
//! trees in one process (real SQLite stores; QUIC over loopback with mutual
//! TLS on every link and on the peering): a village of the Foshan tree
//! accepts a matter the Liwan tree opens for cross-district handling and
//! names a Liwan township to decide it; the case goes up to Foshan's root,
//! across to Liwan's, down to the township, and its result comes back the
//! same way to be handed out at the village. Refusals at the window store
//! nothing, a disabled peer is refused, and the root of a third tree that
//! tries to peer is refused.
#![allow(clippy::unwrap_used)]

use federation::FederationCa;
use onewindow_tests::{Api, Tree, complete_submission, counts, tree_of};
use serde_json::{Value, json};

const A: [&str; 3] = ["foshan", "foshan.chancheng", "foshan.chancheng.c1"];
const A_ROOT: &str = "foshan";
const A_VILLAGE: &str = "foshan.chancheng.c1";
const B: [&str; 3] = ["liwan", "liwan.dali", "liwan.dali.v1"];
const B_ROOT: &str = "liwan";
const B_TOWNSHIP: &str = "liwan.dali";
const B_VILLAGE: &str = "liwan.dali.v1";
const C_ROOT: &str = "nanhai";

async fn with_timeout<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(std::time::Duration::from_secs(240), f)
        .await
        .expect("scenario timed out");
}

/// A free UDP port on loopback (a peering listens where the other root's
/// configuration says, so it is chosen before either starts).
fn free_port() -> std::net::SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

struct Keys {
    ca: FederationCa,
    signing: (String, String),
    ca_file: std::path::PathBuf,
    addr: std::net::SocketAddr,
}

fn keys(dir: &std::path::Path, name: &str) -> Keys {
    let ca = FederationCa::generate(&format!("{name} federation")).unwrap();
    let ca_file = dir.join(format!("{name}-ca.crt"));
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    Keys {
        ca,
        signing: node::link::signing::generate().unwrap(),
        ca_file,
        addr: free_port(),
    }
}

fn peer_of(id: &str, k: &Keys, enabled: bool) -> node::config::PeerConfig {
    node::config::PeerConfig {
        id: id.to_owned(),
        addr: k.addr.to_string(),
        ca_file: k.ca_file.display().to_string(),
        public_key: k.signing.1.clone(),
        enabled,
    }
}

/// Hall codes distinct across the trees (a case number carries its hall's
/// code), and the tree's halls for the offer.
fn hall_code(c: &mut node::config::Config, prefix: &str, ids: &[&str]) {
    let i = ids.iter().position(|x| *x == c.node.id).unwrap();
    c.node.hall_code = format!("{prefix}{i:02}");
    c.node.tree_halls = ids.iter().map(|s| (*s).to_owned()).collect();
}

async fn start(
    ids: &[&str],
    me: &Keys,
    prefix: &'static str,
    peers: Vec<node::config::PeerConfig>,
) -> Tree {
    let listen = me.addr;
    let ids_owned: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    let edit = move |c: &mut node::config::Config| {
        let ids: Vec<&str> = ids_owned.iter().map(String::as_str).collect();
        hall_code(c, prefix, &ids);
        if !c.node.id.contains('.') {
            c.peering.listen = listen;
            c.peering.peers = peers.clone();
        }
    };
    let ca = FederationCa::from_pem(me.ca.cert_pem(), me.ca.key_pem()).unwrap();
    tree_of(ids, ca, me.signing.clone(), &edit).await
}

async fn case_at(t: &Tree, id: &str, number: &str) -> Option<Value> {
    let row = t.node(id).node.store.case(number).await.unwrap()?;
    Some(serde_json::to_value(&row.case).unwrap())
}

async fn nothing_of(t: &Tree, ids: &[&str], number: &str) {
    for id in ids {
        assert!(
            case_at(t, id, number).await.is_none(),
            "{id} holds {number}"
        );
        let events = t.node(id).node.store.case_events(number).await.unwrap();
        assert!(events.is_empty(), "{id} holds events of {number}");
    }
}

/// Publishes at the root a catalogue version in which `code` is open for
/// cross-district handling.
async fn open_cross_district(t: &Tree, root: &str, codes: &[&str]) -> i64 {
    let admin = Api::login(&t.url(root), "admin", onewindow_tests::ADMIN_PASSWORD).await;
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
    v
}

/// Waits until the village knows what `peer` offers, enabled or not.
async fn village_knows(t: &Tree, village: &str, peer: &str, code: &str, enabled: bool) {
    let n = &t.node(village).node;
    t.eventually(60, "the peer's offer at the village", || async {
        n.known_peers()
            .await
            .unwrap()
            .into_iter()
            .find(|(id, p)| {
                id == peer && p.enabled == enabled && p.offer.matters.iter().any(|m| m.code == code)
            })
            .map(|_| ())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_accepted_in_one_tree_is_decided_in_another_and_handed_out_where_accepted() {
    with_timeout(async {
        let dir = tempfile::tempdir().unwrap();
        let (ka, kb, kc) = (
            keys(dir.path(), "foshan"),
            keys(dir.path(), "liwan"),
            keys(dir.path(), "nanhai"),
        );
        let mut a = start(&A, &ka, "FA", vec![peer_of(B_ROOT, &kb, true)]).await;
        let mut b = start(&B, &kb, "LW", vec![peer_of(A_ROOT, &ka, true)]).await;

        // Liwan opens a matter its townships decide; Foshan's village learns
        // it from its own root.
        let cat = Api::anonymous(&b.url(B_VILLAGE))
            .get_ok("/api/v1/catalogue")
            .await;
        let m = onewindow_tests::matter_decided_at(&cat, "township");
        let code = m["code"].as_str().unwrap().to_owned();
        // And one only its root decides.
        let by_root = cat["matters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| {
                x["decided_here"] == false
                    && x["immediate"] == false
                    && x["co_departments"].as_array().is_none_or(|c| c.is_empty())
                    && x["delegation"]["decide_tiers"] == json!(["district"])
                    && x["delegation"]["decide_halls"]
                        .as_array()
                        .is_none_or(|h| h.is_empty())
            })
            .expect("a matter only the district decides")
            .clone();
        let closed = cat["matters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| {
                x["code"] != m["code"] && x["code"] != by_root["code"] && x["cross_district"] != true
            })
            .unwrap()
            .clone();
        let root_code = by_root["code"].as_str().unwrap().to_owned();
        open_cross_district(&b, B_ROOT, &[&code, &root_code]).await;
        village_knows(&a, A_VILLAGE, B_ROOT, &code, true).await;
        // The village's window lists the other tree's matter and its halls.
        let peers = Api::anonymous(&a.url(A_VILLAGE)).get_ok("/api/v1/peers").await;
        let offer = &peers["peers"][0];
        assert_eq!(offer["root"], B_ROOT, "{peers}");
        assert_eq!(offer["enabled"], true, "{peers}");
        assert!(
            offer["halls"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["id"] == B_TOWNSHIP),
            "{peers}"
        );
        let guide = offer["matters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["code"] == code.as_str())
            .unwrap()
            .clone();
        assert!(
            offer["matters"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["code"] != closed["code"]),
            "only matters open for it: {peers}"
        );

        let clerk = a.staff(A_VILLAGE, "clerk1", "clerk", None).await;
        // The clerk's pages offer the other tree's matter on its own form,
        // with that tree's halls to name.
        let page = |path: String| {
            let (url, token) = (a.url(A_VILLAGE), clerk.client().token().unwrap().to_owned());
            async move {
                reqwest::Client::new()
                    .get(format!("{url}{path}"))
                    .header("cookie", format!("ow_session={token}"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let home = page("/clerk".into()).await;
        let form_path = format!("/clerk/peers/{B_ROOT}/apply/{code}");
        assert!(home.contains(&form_path), "{home}");
        let form = page(form_path).await;
        assert!(form.contains("name=\"deciding_hall\""), "{form}");
        assert!(form.contains(&format!("value=\"{B_TOWNSHIP}\"")), "{form}");
        assert!(!form.contains("value=\"foshan.chancheng\""), "{form}");
        let person = onewindow_tests::citizen_id("44010319800808123");
        let with_hall = |guide: &Value, hall: &str| {
            let mut s = complete_submission(guide, &person);
            s["deciding_hall"] = json!(hall);
            s
        };

        // Refusals at the window: clear codes, nothing stored.
        let before = counts(a.node(A_VILLAGE)).await;
        for (sub, code) in [
            (with_hall(&closed, B_TOWNSHIP), "not_cross_district"),
            (with_hall(&guide, "shunde.lecong"), "unknown_peer"),
            (with_hall(&guide, "liwan.nowhere"), "unknown_deciding_hall"),
        ] {
            let (status, body) = clerk.post("/api/v1/cases", &sub).await;
            assert_eq!(status, 422, "{code}: {body}");
            let e: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(e["code"], code, "{body}");
            assert!(!e["message_zh"].as_str().unwrap().is_empty(), "{body}");
            assert!(!e["message_en"].as_str().unwrap().is_empty(), "{body}");
        }
        assert_eq!(counts(a.node(A_VILLAGE)).await, before, "nothing stored");

        // A case of Foshan's own that does not cross.
        let own_cat = Api::anonymous(&a.url(A_VILLAGE))
            .get_ok("/api/v1/catalogue")
            .await;
        let own = onewindow_tests::matter_decided_at(&own_cat, "township");
        let own_guide = Api::anonymous(&a.url(A_VILLAGE))
            .get_ok(&format!("/api/v1/catalogue/matters/{}", own["code"].as_str().unwrap()))
            .await;
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&own_guide, &person))
            .await;
        let home_case = r["case_number"].as_str().unwrap().to_owned();

        // Accepted at Foshan's village for Liwan's township while both
        // roots are down (the village accepts offline); once Foshan's root
        // is back, it waits there, handed across in its log and kept to
        // send, across a restart of that root too, until Liwan's is back.
        a.stop(A_ROOT).await;
        b.stop(B_ROOT).await;
        let r = clerk
            .post_ok("/api/v1/cases", &with_hall(&guide, B_TOWNSHIP))
            .await;
        assert_eq!(r["outcome"], "receipt", "{r}");
        let n = r["case_number"].as_str().unwrap().to_owned();
        assert_eq!(r["case"]["case"]["holder"], A_ROOT, "{r}");
        assert_eq!(r["case"]["case"]["received"]["catalogue_tree"], B_ROOT, "{r}");
        a.restart(A_ROOT).await;
        a.eventually(60, "the case handed across at Foshan's root", || async {
            let out = a.node(A_ROOT).node.peer_outbox(B_ROOT).await.unwrap();
            out.iter().any(|o| o.case_id == n).then_some(())
        })
        .await;
        assert_eq!(case_at(&a, A_ROOT, &n).await.unwrap()["holder"], B_ROOT);
        a.restart(A_ROOT).await;
        b.restart(B_ROOT).await;
        let at_township = b
            .eventually(90, "the case at Liwan's township", || async {
                case_at(&b, B_TOWNSHIP, &n)
                    .await
                    .filter(|c| c["holder"] == B_TOWNSHIP)
            })
            .await;
        assert_eq!(at_township["received"]["accepting_node"], A_VILLAGE);
        assert_eq!(at_township["received"]["applicant"]["id_number"], person.as_str());
        assert_eq!(at_township["state"], "accepted");
        // The same hand again (a resend after a lost acknowledgement) is
        // acknowledged and changes nothing; one not signed by Foshan's
        // root, or sent on another peer's link, is refused.
        let (body, signature) = a
            .node(A_ROOT)
            .node
            .hand_for(B_ROOT, &n)
            .await
            .unwrap()
            .unwrap();
        let b_root = &b.node(B_ROOT).node;
        let held = counts(b.node(B_ROOT)).await;
        let (again, version) = b_root.take_hand(A_ROOT, &body, &signature).await.unwrap();
        assert_eq!(again, n);
        assert_eq!(
            version + 1,
            case_at(&b, B_ROOT, &n).await.unwrap()["version"],
            "the hand up to Foshan's crossing; Liwan's root wrote one more"
        );
        let forged = node::link::signing::Signer::from_hex(&kb.signing.0)
            .unwrap()
            .sign(&body);
        for (peer, sig, code) in [
            (A_ROOT, forged.as_str(), "bad_signature"),
            ("shunde", signature.as_str(), "unknown_peer"),
        ] {
            let e = b_root.take_hand(peer, &body, sig).await.unwrap_err();
            assert_eq!(e.code, code, "{e:?}");
        }
        assert_eq!(counts(b.node(B_ROOT)).await, held, "nothing more stored");

        // The township decides it as any case of its own.
        let dept = m["department"].as_str().unwrap();
        let v = b
            .decide_by_three(B_TOWNSHIP, "appr", dept, &n, "户籍核实无误")
            .await;
        assert_eq!(v["case"]["holder"], B_ROOT, "up to its root first: {v}");

        // Back across, down to the village, which hands it out.
        let back = a
            .eventually(90, "the result at the village", || async {
                case_at(&a, A_VILLAGE, &n)
                    .await
                    .filter(|c| c["state"] == "result_ready" && c["holder"] == A_VILLAGE)
            })
            .await;
        assert_eq!(back["result"], "证明一份");
        let docs = clerk
            .get_ok(&format!("/api/v1/cases/{n}/documents"))
            .await;
        assert!(
            docs.as_array()
                .unwrap()
                .iter()
                .any(|d| d["node"] == B_TOWNSHIP),
            "the window holds the deciding hall's result document: {docs}"
        );
        let done = clerk
            .post_ok(
                &format!("/api/v1/cases/{n}/actions"),
                &json!({"action": "hand_out", "collector": {"by": "in_person", "document": "resident_id", "id_number": person, "id_checked": true}}),
            )
            .await;
        assert_eq!(done["state"], "completed", "{done}");

        // Foshan's root holds the result and the hand-out; Liwan's deciding
        // hall and root hold the case as they handed it back.
        let at_village = case_at(&a, A_VILLAGE, &n).await.unwrap();
        let at_a_root = a
            .eventually(60, "the completed case at Foshan's root", || async {
                case_at(&a, A_ROOT, &n)
                    .await
                    .filter(|c| c["version"] == at_village["version"])
            })
            .await;
        assert_eq!(at_a_root, at_village, "Foshan's root holds the whole case");
        assert_eq!(at_a_root["result"], "证明一份");
        let at_township = case_at(&b, B_TOWNSHIP, &n).await.unwrap();
        assert_eq!(at_township["state"], "result_ready");
        assert_eq!(at_township["holder"], B_ROOT);
        let at_b_root = case_at(&b, B_ROOT, &n).await.unwrap();
        assert_eq!(at_b_root["holder"], A_ROOT, "handed back across");
        // Neither tree writes the other's records as rows of its log.
        for (t, ids, other) in [(&a, &A[..], B_ROOT), (&b, &B[..], A_ROOT)] {
            for id in ids {
                for e in t.node(id).node.store.case_events(&n).await.unwrap() {
                    assert_ne!(
                        onewindow_domain_tree(e.entry.origin.as_str()),
                        other,
                        "{id} holds a row written in the other tree"
                    );
                }
            }
        }
        // Liwan's village has nothing of it, and Liwan nothing of Foshan's
        // own case.
        nothing_of(&b, &[B_VILLAGE], &n).await;
        a.eventually(60, "Foshan's own case at its root", || async {
            case_at(&a, A_ROOT, &home_case).await.map(|_| ())
        })
        .await;
        nothing_of(&b, &B, &home_case).await;

        // A matter Liwan's root decides itself: it takes the case in as
        // the holder it is, decides, and sends the result back across.
        let root_guide = offer["matters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["code"] == root_code.as_str())
            .unwrap()
            .clone();
        let r = clerk
            .post_ok("/api/v1/cases", &with_hall(&root_guide, B_TOWNSHIP))
            .await;
        let n2 = r["case_number"].as_str().unwrap().to_owned();
        b.eventually(90, "the second case at Liwan's root", || async {
            case_at(&b, B_ROOT, &n2)
                .await
                .filter(|c| c["holder"] == B_ROOT)
        })
        .await;
        nothing_of(&b, &[B_TOWNSHIP, B_VILLAGE], &n2).await;
        let dept = by_root["department"].as_str().unwrap();
        b.decide_by_three(B_ROOT, "rappr", dept, &n2, "核实无误")
            .await;
        let back2 = a
            .eventually(90, "the second result at the village", || async {
                case_at(&a, A_VILLAGE, &n2)
                    .await
                    .filter(|c| c["state"] == "result_ready" && c["holder"] == A_VILLAGE)
            })
            .await;
        assert_eq!(back2["result"], "证明一份");
        assert_eq!(case_at(&b, B_ROOT, &n2).await.unwrap()["holder"], A_ROOT);

        // Sending on again (as a restart does) changes nothing.
        let root = &a.node(A_ROOT).node;
        let version = case_at(&a, A_ROOT, &n).await.unwrap()["version"].clone();
        root.obey_crossings().await.unwrap();
        root.obey_crossing(&n).await.unwrap();
        assert_eq!(case_at(&a, A_ROOT, &n).await.unwrap()["version"], version);
        assert!(root.peer_outbox(B_ROOT).await.unwrap().is_empty());

        // The root of a third tree, with its own CA, is refused by Foshan's
        // root, which does not list it: one security event there.
        let c = start(&[C_ROOT], &kc, "NH", vec![peer_of(A_ROOT, &ka, true)]).await;
        onewindow_tests::eventually(60, "the third tree refused", || async {
            root.store
                .security_events(100)
                .await
                .unwrap()
                .into_iter()
                .find(|e| e.peer.as_deref() == Some(C_ROOT))
                .map(|e| assert_eq!(e.kind, "unknown_ca", "{e:?}"))
        })
        .await;
        assert!(
            c.node(C_ROOT).node.known_peers().await.unwrap().is_empty(),
            "the third tree learnt nothing"
        );
        drop(c);

        // Foshan's administrators disable the peering: the root says so down
        // the tree, and the window refuses before storing anything.
        a.nodes.get_mut(A_ROOT).unwrap().config.peering.peers[0].enabled = false;
        a.restart(A_ROOT).await;
        village_knows(&a, A_VILLAGE, B_ROOT, &code, false).await;
        // Liwan's root, dialling again, is refused as revoked.
        let root = &a.node(A_ROOT).node;
        onewindow_tests::eventually(60, "the disabled peer refused", || async {
            root.store
                .security_events(100)
                .await
                .unwrap()
                .into_iter()
                .find(|e| e.peer.as_deref() == Some(B_ROOT) && e.kind == "revoked")
                .map(|_| ())
        })
        .await;
        let before = counts(a.node(A_VILLAGE)).await;
        let (status, body) = clerk
            .post("/api/v1/cases", &with_hall(&guide, B_TOWNSHIP))
            .await;
        assert_eq!(status, 422, "{body}");
        let e: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(e["code"], "peer_disabled", "{body}");
        assert_eq!(counts(a.node(A_VILLAGE)).await, before, "nothing stored");
    })
    .await;
}

/// The tree a hall is of.
fn onewindow_domain_tree(node: &str) -> &str {
    node.split('.').next().unwrap_or(node)
}

/// A root that presents a certificate of one peer tree's CA under another
/// peer's id is refused after the handshake (the CA is checked for the id
/// it names), one security event, and nothing it offers is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_certified_by_one_peer_tree_under_anothers_id_is_refused() {
    with_timeout(async {
        let dir = tempfile::tempdir().unwrap();
        let (ka, kb, kc) = (
            keys(dir.path(), "foshan"),
            keys(dir.path(), "liwan"),
            keys(dir.path(), "nanhai"),
        );
        let a = start(
            &[A_ROOT],
            &ka,
            "FA",
            vec![peer_of(B_ROOT, &kb, true), peer_of(C_ROOT, &kc, true)],
        )
        .await;
        // "nanhai", but certified by Liwan's CA.
        let impostor = Keys {
            ca: FederationCa::from_pem(kb.ca.cert_pem(), kb.ca.key_pem()).unwrap(),
            signing: kc.signing.clone(),
            ca_file: kc.ca_file.clone(),
            addr: kc.addr,
        };
        let c = start(&[C_ROOT], &impostor, "NH", vec![peer_of(A_ROOT, &ka, true)]).await;
        let root = &a.node(A_ROOT).node;
        let refused = onewindow_tests::eventually(60, "the impostor refused", || async {
            root.store
                .security_events(100)
                .await
                .unwrap()
                .into_iter()
                .find(|e| e.peer.as_deref() == Some(C_ROOT))
        })
        .await;
        assert_eq!(refused.kind, "unknown_ca", "{refused:?}");
        assert!(
            refused.detail.contains("not of its tree's CA"),
            "{refused:?}"
        );
        assert!(root.known_peers().await.unwrap().is_empty());
        assert!(c.node(C_ROOT).node.known_peers().await.unwrap().is_empty());
    })
    .await;
}
