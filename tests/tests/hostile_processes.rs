//! Attacks on a township's federation port, played against real
//! `onewindow-node` processes (a district, a township and an honest
//! village, each its own process started from a deployment bundle), where
//! `hostile.rs` plays them against nodes in the test's own process.
//!
//! The attacked village's process is never started: the attacker holds its
//! bundle folder (its real key and certificate) and dials the township's
//! federation address itself, or brings certificates of its own. Each attack
//! must be refused with a clear error (a `Reject` naming a code) or a closed
//! connection, recorded as a security event naming the village where a peer
//! is involved, and store nothing; and the honest sibling village must go on
//! working meanwhile. The township's store is in another process: everything
//! is checked through its HTTP API (security events, the stored log of an
//! origin, case records, the fleet).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use deploy::bundle::{self, Bundle, BundleOptions, Ports};
use deploy::process::ProcessTree;
use deploy::topology::Topology;
use federation::replication::{
    Batch, Direction, HELLO_TIMEOUT_MS, Hello, Limits, LinkStatus, Message, WireEntry,
};
use federation::transport::{
    CLOSE_REFUSED, CLOSE_REPLACED, Client, TransportConfig, TransportError, read_raw_frame,
    write_raw_frame,
};
use federation::{
    EntryHash, FederationCa, LogEntry, NodeCredentials, NodeId, PeerConnection, Sealed,
};
use node::domain::case::{Actor, Applicant, ApplicantKind, Event, EventRecord, Received, Role};
use node::domain::case_number::CaseNumber;
use node::domain::catalogue::Catalogue;
use node::domain::codec;
use node::domain::log::{Directive, DirectiveRecord, LogBody};
use onewindow_tests::{Api, STAFF_PASSWORD, citizen_id, complete_submission, eventually};
use serde_json::{Value, json};

const DISTRICT: &str = "nanhai";
const TOWNSHIP: &str = "nanhai.guicheng";
const VILLAGE: &str = "nanhai.guicheng.xiaping";
const SIBLING: &str = "nanhai.guicheng.shibei";
/// The attacked village's hall code (case numbers start with it).
const VILLAGE_HALL: &str = "NHGCXP";
const SIBLING_HALL: &str = "NHGCSB";

/// Every scenario runs under this bound; none should come near it. The
/// node binary is built (or found) first, outside the bound.
async fn within<F: std::future::Future<Output = ()>>(f: F) {
    deploy::binary::node_binary_for_tests().unwrap();
    tokio::time::timeout(Duration::from_secs(420), f)
        .await
        .expect("scenario timed out");
}

/// A district, its township and two villages, as a bundle on disk. `edit`
/// may change the configurations before anything starts.
fn bundle_of(dir: &std::path::Path, edit: impl Fn(&Bundle)) -> Bundle {
    let halls = [
        (DISTRICT, "NH"),
        (TOWNSHIP, "NHGC"),
        (VILLAGE, VILLAGE_HALL),
        (SIBLING, SIBLING_HALL),
    ];
    let mut text = String::from("[tree]\ntiers = [\"district\", \"township\", \"village\"]\n");
    for (id, code) in halls {
        text.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhall_code = \"{code}\"\nhall_name_zh = \"{id} 服务中心\"\nhall_name_en = \"{id} service centre\"\n"
        ));
    }
    let opts = BundleOptions {
        ports: Ports::Free,
        cert_days: 2,
        ..BundleOptions::default()
    };
    let b = bundle::make(&Topology::parse(&text).unwrap(), dir, &opts).unwrap();
    edit(&b);
    b
}

/// The running halls of one scenario, and what the attacker holds.
struct Halls {
    dir: tempfile::TempDir,
    tree: ProcessTree,
    /// Where the township listens for its children.
    town_addr: SocketAddr,
    /// The attacked village's credentials, from its bundle folder.
    village: NodeCredentials,
    /// The township's administrator.
    town: Api,
}

impl Halls {
    /// Starts the district, the township and the sibling village as
    /// processes; the attacked village stays off.
    async fn start(edit: impl Fn(&Bundle)) -> Halls {
        let dir = tempfile::tempdir().unwrap();
        let b = bundle_of(&dir.path().join("bundle"), edit);
        let town_addr: SocketAddr = b.node(TOWNSHIP).unwrap().quic_addr.parse().unwrap();
        let config = b.config(VILLAGE).unwrap();
        let village = NodeCredentials::from_files(
            &b.folder(VILLAGE)
                .unwrap()
                .join(&config.federation.credentials_dir),
        )
        .unwrap();
        assert_eq!(
            config.federation.parent_addr,
            b.node(TOWNSHIP).unwrap().quic_addr,
            "the village dials the township"
        );
        let bin = deploy::binary::node_binary_for_tests().unwrap();
        let mut tree = ProcessTree::new(b, bin);
        tree.start_clocks_at(onewindow_tests::START_MS);
        for id in [DISTRICT, TOWNSHIP, SIBLING] {
            tree.start(id).await.unwrap();
        }
        let town = admin(&tree, TOWNSHIP).await;
        Halls {
            dir,
            tree,
            town_addr,
            village,
            town,
        }
    }

    fn bundle(&self) -> &Bundle {
        self.tree.bundle()
    }

    /// The federation CA of the bundle (its key is in the bundle's `ca`
    /// folder, kept off the nodes).
    fn ca(&self) -> FederationCa {
        let ca = self.bundle().dir.join("ca");
        FederationCa::from_pem(
            &std::fs::read_to_string(ca.join("ca.crt")).unwrap(),
            &std::fs::read_to_string(ca.join("ca.key")).unwrap(),
        )
        .unwrap()
    }

    async fn dial(&self, creds: &NodeCredentials) -> Result<PeerConnection, TransportError> {
        Client::new(creds, TransportConfig::default())
            .unwrap()
            .connect(self.town_addr, &NodeId::new(TOWNSHIP).unwrap())
            .await
    }

    /// A connection and its stream under the village's identity, nothing
    /// sent yet.
    async fn raw(&self) -> (quinn::SendStream, quinn::RecvStream, PeerConnection) {
        let conn = self.dial(&self.village).await.unwrap();
        let (send, recv) = conn.open_stream().await.unwrap().into_parts();
        (send, recv, conn)
    }

    async fn stop(mut self) {
        self.tree.stop_all().await.unwrap();
        drop(self.dir);
    }
}

async fn admin(tree: &ProcessTree, id: &str) -> Api {
    let password = &tree.bundle().node(id).unwrap().admin_password;
    Api::login(&tree.url(id).unwrap(), "admin", password).await
}

/// A staff member of a hall (made by its administrator if need be).
async fn staff(tree: &ProcessTree, id: &str, username: &str, role: &str) -> Api {
    let admin = admin(tree, id).await;
    let body = json!({"username": username, "display_name": username, "role": role, "password": STAFF_PASSWORD});
    let (status, text) = admin.post("/api/v1/staff", &body).await;
    assert!(status == 201 || status == 409, "{text}");
    Api::login(&tree.url(id).unwrap(), username, STAFF_PASSWORD).await
}

/// A Hello as the village (or whoever `node` names) would send it. Its
/// head is far above anything the township holds of the village, so that
/// the township keeps its cursor (a lower head would reset it).
fn hello_as(node: &str, software: &str) -> Message {
    Message::Hello(Hello {
        node: NodeId::new(node).unwrap(),
        software: software.to_owned(),
        catalogue_version: 1,
        now_ms: 0,
        have: 0,
        your_origin_head: 0,
        head: 1 << 40,
        recovering: false,
        start_head: 0,
        incarnation: 0,
        earlier: vec![],
        older_floor: None,
    })
}

/// One session with the township under the village's identity.
struct Rogue {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    conn: PeerConnection,
    /// The township's Hello on this connection: `have` is its cursor on the
    /// village's log, `your_origin_head` what it holds of the village's
    /// own entries.
    town: Hello,
}

impl Rogue {
    async fn connect(h: &Halls, creds: &NodeCredentials) -> Rogue {
        let conn = h.dial(creds).await.unwrap();
        let (mut send, mut recv) = conn.open_stream().await.unwrap().into_parts();
        write_raw_frame(&mut send, &hello_as(creds.node.as_str(), "rogue").encode())
            .await
            .unwrap();
        let town = loop {
            let frame = read_raw_frame(&mut recv, 1 << 24)
                .await
                .unwrap()
                .expect("the township answers with its Hello");
            if let Ok(Message::Hello(hello)) = Message::decode(&frame, &Limits::default()) {
                break hello;
            }
        };
        assert_eq!(town.node.as_str(), TOWNSHIP);
        Rogue {
            send,
            recv,
            conn,
            town,
        }
    }

    async fn send(&mut self, m: &Message) {
        write_raw_frame(&mut self.send, &m.encode()).await.unwrap();
    }

    /// A batch of `entries` right after the township's cursor.
    fn batch(&self, entries: &[LogEntry]) -> Message {
        let have = self.town.have;
        Message::Batch(Batch {
            direction: Direction::Up,
            after: have,
            upto: have + entries.len() as u64,
            entries: entries
                .iter()
                .zip(have + 1..)
                .map(|(e, local_seq)| WireEntry {
                    local_seq,
                    entry: e.clone(),
                    stream: None,
                    stream_seq: 0,
                })
                .collect(),
        })
    }

    /// The township's answer to a batch: the acknowledgement, or the
    /// refusal's code ("closed" when the link ends without one).
    async fn answer(&mut self) -> Result<u64, String> {
        loop {
            let Ok(Some(frame)) = read_raw_frame(&mut self.recv, 1 << 24).await else {
                return Err("closed".into());
            };
            match Message::decode(&frame, &Limits::default()) {
                Ok(Message::Ack {
                    direction: Direction::Up,
                    upto,
                }) => return Ok(upto),
                Ok(Message::Reject { code, .. }) => return Err(code),
                Ok(_) => continue,
                Err(e) => return Err(format!("bad frame: {e}")),
            }
        }
    }

    /// Sends one batch on a new session and returns the township's answer;
    /// a refused batch also ends the connection.
    async fn offer(h: &Halls, entries: &[LogEntry]) -> Result<u64, String> {
        let mut r = Rogue::connect(h, &h.village).await;
        let batch = r.batch(entries);
        r.send(&batch).await;
        let answer = r.answer().await;
        if answer.is_err() {
            assert!(
                ends_within(&mut r.recv, 10).await,
                "the link stayed open after a refusal"
            );
        }
        answer
    }
}

/// Reads until the township ends the stream; true if it did within `secs`.
async fn ends_within(recv: &mut quinn::RecvStream, secs: u64) -> bool {
    tokio::time::timeout(Duration::from_secs(secs), async {
        while let Ok(Some(_)) = read_raw_frame(recv, 1 << 24).await {}
    })
    .await
    .is_ok()
}

/// Every security event the township recorded, newest first.
async fn security_events(api: &Api) -> Vec<Value> {
    let v = api.get_ok("/api/v1/admin/security-events").await;
    v.as_array().unwrap().clone()
}

/// How many security events of `kind` name `peer`.
async fn count(api: &Api, kind: &str, peer: &str) -> usize {
    security_events(api)
        .await
        .iter()
        .filter(|e| e["kind"] == kind && e["peer"] == peer)
        .count()
}

/// Waits until at least `at_least` security events of `kind` name `peer`;
/// returns the newest.
async fn recorded(api: &Api, kind: &str, peer: &str, at_least: usize) -> Value {
    eventually(
        30,
        &format!("{at_least} `{kind}` event(s) for {peer}"),
        || async {
            let events = security_events(api).await;
            let mine: Vec<&Value> = events
                .iter()
                .filter(|e| e["kind"] == kind && e["peer"] == peer)
                .collect();
            (mine.len() >= at_least).then(|| mine[0].clone())
        },
    )
    .await
}

/// The hashes of the entries of `origin` a hall has stored, in order.
async fn stored(api: &Api, origin: &str) -> Vec<String> {
    let v = api
        .get_ok(&format!(
            "/api/v1/admin/audit/export?origin={origin}&limit=5000"
        ))
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["hash"].as_str().unwrap().to_owned())
        .collect()
}

/// The events a hall holds of a case (`None`: it has no such case).
async fn case_events(api: &Api, number: &str) -> Option<Vec<Value>> {
    let (status, body) = api.get(&format!("/api/v1/cases/{number}/record")).await;
    if status == 404 {
        return None;
    }
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    Some(v["events"].as_array().unwrap().clone())
}

/// A valid citizen ID number not used before in this test binary.
fn next_applicant() -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    citizen_id(&format!("44060519900101{:03}", n % 1000))
}

/// The honest sibling village goes on: a case it receipts reaches the
/// district through the township the attacks were aimed at.
async fn the_sibling_still_reaches_the_district(h: &Halls) {
    let clerk = staff(&h.tree, SIBLING, "clerk1", "clerk").await;
    let cat = clerk.get_ok("/api/v1/catalogue").await;
    let own = cat["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["decided_here"] == true)
        .unwrap()
        .clone();
    let r = clerk
        .post_ok(
            "/api/v1/cases",
            &complete_submission(&own, &next_applicant()),
        )
        .await;
    let number = r["case_number"].as_str().unwrap().to_owned();
    let district = staff(&h.tree, DISTRICT, "super1", "supervisor").await;
    eventually(90, "the sibling's case at the district", || async {
        case_events(&district, &number).await
    })
    .await;
}

/// A case number of a hall, on the day the tree's clocks start.
fn case_number(hall: &str, seq: u32) -> String {
    let day = chrono::DateTime::from_timestamp_millis(onewindow_tests::START_MS)
        .unwrap()
        .date_naive();
    CaseNumber::new(hall, day, seq).unwrap().to_string()
}

/// A person's `received` event of a case accepted at `origin`.
fn received(cat: &Catalogue, origin: &str, case_id: &str, name: &str) -> EventRecord {
    let matter = cat.matters.values().next().unwrap();
    EventRecord {
        case_id: case_id.into(),
        case_version: 1,
        actor: Actor {
            username: "clerk".into(),
            role: Role::Clerk,
            node: origin.into(),
            department: None,
        },
        at_ms: onewindow_tests::START_MS + 60_000,
        event: Event::Received(std::sync::Arc::new(Received::from_matter(
            matter,
            cat.version,
            Applicant {
                kind: ApplicantKind::Person,
                id_number: "11010519491231002X".into(),
                name: name.into(),
                phone: None,
                checksum_overridden: false,
                checksum_override_reason: None,
            },
            vec![],
            vec![],
            origin.into(),
        ))),
    }
}

/// The entry of `origin` at `seq`, after `prev`, holding `body`, as a hall
/// holding catalogue `cat` would write it.
fn entry(cat: &Catalogue, origin: &str, seq: u64, prev: EntryHash, body: &LogBody) -> LogEntry {
    let digest = codec::catalogue_digest(cat);
    let enc = codec::encode(body, origin, |_| Some(digest)).unwrap();
    LogEntry::next_sealed(
        NodeId::new(origin).unwrap(),
        seq - 1,
        prev,
        enc.body,
        Sealed::open(enc.personal),
    )
}

/// A connection the township refused at the handshake: either the connect
/// failed, or the connection it gave is closed at once, with
/// `CLOSE_REFUSED` when the refusal came after the TLS handshake (the
/// policy's), or with a TLS alert. An idle timeout is no refusal.
async fn refused(result: Result<PeerConnection, TransportError>, what: &str) {
    let Ok(conn) = result else {
        return;
    };
    let error = tokio::time::timeout(Duration::from_secs(10), conn.closed())
        .await
        .unwrap_or_else(|_| panic!("{what}: the connection stayed open"));
    match &error {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code, CLOSE_REFUSED.into(), "{what}: {close:?}");
        }
        quinn::ConnectionError::TimedOut => panic!("{what}: timed out, not refused"),
        _ => {}
    }
}

/// Certificates that are not the village's own, current one: each refused
/// at the handshake, each one security event, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_other_than_the_village_s_own_are_refused_by_the_township_process() {
    within(async {
        let h = Halls::start(|_| {}).await;
        let village = NodeId::new(VILLAGE).unwrap();

        // The village's own certificate is let in: the township answers
        // its Hello. (What follows is refused for the certificate alone.)
        let r = Rogue::connect(&h, &h.village).await;
        assert_eq!(r.town.have, 0, "the township holds nothing of the village");
        drop(r);

        // 1. A certificate for the village from another federation's CA (a
        // second bundle made elsewhere). Its holder knows the (public) CA
        // certificate of this one, so that it accepts the township and the
        // handshake goes as far as the township judging it.
        let other = tempfile::tempdir().unwrap();
        let foreign_bundle = bundle_of(other.path(), |_| {});
        let mut foreign =
            NodeCredentials::from_files(&foreign_bundle.folder(VILLAGE).unwrap().join("pki"))
                .unwrap();
        assert_eq!(foreign.node, village);
        foreign.ca_pem = h.village.ca_pem.clone();
        let before = count(&h.town, "unknown_ca", VILLAGE).await;
        refused(h.dial(&foreign).await, "another CA's certificate").await;
        recorded(&h.town, "unknown_ca", VILLAGE, before + 1).await;

        // 2. The village's certificate from the right CA, expired yesterday
        // (judged by the machine's clock, as TLS judges it).
        let now = SystemTime::now();
        let day = Duration::from_secs(24 * 3600);
        let expired = h.ca().issue(&village, now - 10 * day, now - day).unwrap();
        let before = count(&h.town, "expired", VILLAGE).await;
        refused(h.dial(&expired).await, "an expired certificate").await;
        recorded(&h.town, "expired", VILLAGE, before + 1).await;

        // 3. A good certificate of a hall of another subtree: the township
        // is not its parent.
        let stranger = NodeId::new("nanhai.dali.ghost").unwrap();
        let creds = h.ca().issue_for_days(&stranger, 2).unwrap();
        let before = count(&h.town, "not_a_child", stranger.as_str()).await;
        refused(h.dial(&creds).await, "another subtree's hall").await;
        recorded(&h.town, "not_a_child", stranger.as_str(), before + 1).await;

        // 4. A second certificate of the village, revoked at the district.
        // While it is let in, a session runs on it; the revocation travels
        // down to the township, which ends that session and refuses the
        // certificate from then on.
        let spare = h.ca().issue_for_days(&village, 2).unwrap();
        let serial = spare.serial().unwrap();
        let mut live = Rogue::connect(&h, &spare).await;
        let district = admin(&h.tree, DISTRICT).await;
        let (status, text) = district
            .post(
                &format!("/api/v1/admin/nodes/{VILLAGE}/revoke"),
                &json!({ "serial": serial }),
            )
            .await;
        assert_eq!(status, 204, "{text}");
        assert!(
            ends_within(&mut live.recv, 60).await,
            "the session on a revoked certificate went on"
        );
        drop(live);
        let before = count(&h.town, "revoked", VILLAGE).await;
        refused(h.dial(&spare).await, "a revoked certificate").await;
        let ev = recorded(&h.town, "revoked", VILLAGE, before + 1).await;
        assert!(
            ev["detail"].as_str().unwrap().contains(&serial),
            "the event names the serial: {ev}"
        );
        // Only that certificate: the village's own is still let in.
        drop(Rogue::connect(&h, &h.village).await);

        // Nothing of any of them was stored, and the sibling goes on.
        assert!(stored(&h.town, VILLAGE).await.is_empty());
        assert!(stored(&h.town, stranger.as_str()).await.is_empty());
        the_sibling_still_reaches_the_district(&h).await;
        h.stop().await;
    })
    .await;
}

/// The village's real key, and entries no honest village sends: each
/// batch is refused with its code, recorded, and nothing of it is stored
/// at the township (nor relayed to the district). A good entry sent first
/// is kept, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rogue_village_s_entries_are_refused_by_the_township_process_and_nothing_is_stored() {
    within(async {
        let h = Halls::start(|_| {}).await;
        let district = admin(&h.tree, DISTRICT).await;
        // The catalogue the township holds (entries name its version and
        // digest, as a village holding the same catalogue writes them).
        let cat: Catalogue =
            serde_json::from_value(h.town.get_ok("/api/v1/admin/catalogue/versions/1").await)
                .unwrap();
        let case_a = case_number(VILLAGE_HALL, 1);
        let body_a = LogBody::Case(received(&cat, VILLAGE, &case_a, "张三"));
        let e1 = entry(&cat, VILLAGE, 1, EntryHash::GENESIS, &body_a);

        // 0. The village's first entry, as the village would send it, is
        // taken: this is the baseline the attacks must not move.
        assert_eq!(Rogue::offer(&h, std::slice::from_ref(&e1)).await, Ok(1));
        let good = vec![e1.hash.to_hex()];
        assert_eq!(stored(&h.town, VILLAGE).await, good);
        let events = case_events(&h.town, &case_a).await.expect("case A stored");
        assert_eq!(events.len(), 1);

        // 1. The same batch replayed on a new session (as a recorded
        // session played back): it starts below the township's cursor,
        // where no honest sender starts. Refused and recorded; nothing is
        // stored twice.
        let before = count(&h.town, "replayed_batch", VILLAGE).await;
        let mut r = Rogue::connect(&h, &h.village).await;
        assert_eq!(r.town.have, 1);
        assert_eq!(r.town.your_origin_head, 1);
        let replay = Message::Batch(Batch {
            direction: Direction::Up,
            after: 0,
            upto: 1,
            entries: vec![WireEntry {
                local_seq: 1,
                entry: e1.clone(),
                stream: None,
                stream_seq: 0,
            }],
        });
        r.send(&replay).await;
        assert_eq!(r.answer().await, Err("replayed_batch".into()));
        assert!(ends_within(&mut r.recv, 10).await);
        drop(r);
        recorded(&h.town, "replayed_batch", VILLAGE, before + 1).await;
        assert_eq!(stored(&h.town, VILLAGE).await, good);
        assert_eq!(case_events(&h.town, &case_a).await.unwrap().len(), 1);

        // The village's next two entries, for the reordering attacks.
        let case_b = case_number(VILLAGE_HALL, 2);
        let case_c = case_number(VILLAGE_HALL, 3);
        let e2 = entry(
            &cat,
            VILLAGE,
            2,
            e1.hash,
            &LogBody::Case(received(&cat, VILLAGE, &case_b, "李四")),
        );
        let e3 = entry(
            &cat,
            VILLAGE,
            3,
            e2.hash,
            &LogBody::Case(received(&cat, VILLAGE, &case_c, "王五")),
        );

        // 2. Reordered: the second batch sent first (it starts above the
        // township's cursor, so entries before it are missing)...
        let before = count(&h.town, "cursor_gap", VILLAGE).await;
        let mut r = Rogue::connect(&h, &h.village).await;
        let have = r.town.have;
        r.send(&Message::Batch(Batch {
            direction: Direction::Up,
            after: have + 1,
            upto: have + 2,
            entries: vec![WireEntry {
                local_seq: have + 2,
                entry: e3.clone(),
                stream: None,
                stream_seq: 0,
            }],
        }))
        .await;
        assert_eq!(r.answer().await, Err("cursor_gap".into()));
        assert!(ends_within(&mut r.recv, 10).await);
        drop(r);
        recorded(&h.town, "cursor_gap", VILLAGE, before + 1).await;
        // ... and one batch whose entries come in the wrong order: the
        // third entry does not follow the township's head.
        let before = count(&h.town, "origin_gap", VILLAGE).await;
        assert_eq!(
            Rogue::offer(&h, &[e3.clone(), e2.clone()]).await,
            Err("origin_gap".into())
        );
        recorded(&h.town, "origin_gap", VILLAGE, before + 1).await;

        // 3. A broken hash chain: the next entry, but its previous hash is
        // not that of the entry before it.
        let broken = entry(
            &cat,
            VILLAGE,
            2,
            EntryHash([7; 32]),
            &LogBody::Case(received(&cat, VILLAGE, &case_b, "李四")),
        );
        let before = count(&h.town, "broken_chain", VILLAGE).await;
        assert_eq!(
            Rogue::offer(&h, &[broken]).await,
            Err("broken_chain".into())
        );
        recorded(&h.town, "broken_chain", VILLAGE, before + 1).await;

        // 4. The village forks its own sequence: another entry at the place
        // of its first, with another case in it.
        let fork = entry(
            &cat,
            VILLAGE,
            1,
            EntryHash::GENESIS,
            &LogBody::Case(received(&cat, VILLAGE, &case_b, "李四")),
        );
        assert_ne!(fork.hash, e1.hash);
        let before = count(&h.town, "fork", VILLAGE).await;
        assert_eq!(Rogue::offer(&h, &[fork]).await, Err("fork".into()));
        recorded(&h.town, "fork", VILLAGE, before + 1).await;

        // 5. A directive under the village's own origin (a recall of a
        // case): only the root writes directives, signed.
        let recall = LogBody::Directive(DirectiveRecord {
            directive: Directive::Recall {
                case_id: case_a.clone(),
                to: VILLAGE.into(),
                reason: "forged".into(),
            },
            issued_by: "rogue".into(),
            at_ms: onewindow_tests::START_MS,
        });
        let directive = entry(&cat, VILLAGE, 2, e1.hash, &recall);
        let before = count(&h.town, "directive_not_from_root", VILLAGE).await;
        assert_eq!(
            Rogue::offer(&h, &[directive]).await,
            Err("directive_not_from_root".into())
        );
        recorded(&h.town, "directive_not_from_root", VILLAGE, before + 1).await;

        // 6. Entries of another subtree's origin: the sibling's, and the
        // township's own. A child speaks only for its own subtree.
        let sibling_case = case_number(SIBLING_HALL, 900);
        let as_sibling = entry(
            &cat,
            SIBLING,
            1,
            EntryHash::GENESIS,
            &LogBody::Case(received(&cat, SIBLING, &sibling_case, "赵六")),
        );
        let town_case = case_number("NHGC", 900);
        let as_township = entry(
            &cat,
            TOWNSHIP,
            1,
            EntryHash::GENESIS,
            &LogBody::Case(received(&cat, TOWNSHIP, &town_case, "赵六")),
        );
        let before = count(&h.town, "outside_subtree", VILLAGE).await;
        assert_eq!(
            Rogue::offer(&h, std::slice::from_ref(&as_sibling)).await,
            Err("outside_subtree".into())
        );
        assert_eq!(
            Rogue::offer(&h, std::slice::from_ref(&as_township)).await,
            Err("outside_subtree".into())
        );
        recorded(&h.town, "outside_subtree", VILLAGE, before + 2).await;

        // 7. An origin one tier deeper than the tree has.
        let ghost = format!("{VILLAGE}.ghost");
        let ghost_case = case_number("GHOST", 1);
        let deep = entry(
            &cat,
            &ghost,
            1,
            EntryHash::GENESIS,
            &LogBody::Case(received(&cat, &ghost, &ghost_case, "钱七")),
        );
        let before = count(&h.town, "too_deep", VILLAGE).await;
        assert_eq!(Rogue::offer(&h, &[deep]).await, Err("too_deep".into()));
        recorded(&h.town, "too_deep", VILLAGE, before + 1).await;

        // 8. A case of the sibling's smuggled in under the village's own
        // origin: a handover carrying the sibling's records. Only the
        // district hands a case over; from below a case starts with its
        // own `received`.
        let handover = LogBody::Case(EventRecord {
            case_id: sibling_case.clone(),
            case_version: 2,
            actor: Actor {
                username: "system".into(),
                role: Role::Supervisor,
                node: VILLAGE.into(),
                department: None,
            },
            at_ms: onewindow_tests::START_MS + 60_000,
            event: Event::HandedOver {
                to: VILLAGE.into(),
                holder: VILLAGE.into(),
                reason: "forged".into(),
                history: vec![received(&cat, SIBLING, &sibling_case, "赵六")],
            },
        });
        let smuggled = entry(&cat, VILLAGE, 2, e1.hash, &handover);
        let before = count(&h.town, "forged_entry", VILLAGE).await;
        assert_eq!(
            Rogue::offer(&h, &[smuggled]).await,
            Err("forged_entry".into())
        );
        recorded(&h.town, "forged_entry", VILLAGE, before + 1).await;

        // Nothing refused was stored: the village's log at the township is
        // its one good entry, no other origin got in, and no case of any of
        // them exists there.
        assert_eq!(stored(&h.town, VILLAGE).await, good);
        assert!(stored(&h.town, &ghost).await.is_empty());
        for (origin, forged) in [(SIBLING, &as_sibling), (TOWNSHIP, &as_township)] {
            assert!(
                !stored(&h.town, origin)
                    .await
                    .contains(&forged.hash.to_hex()),
                "a forged entry of {origin} was stored"
            );
        }
        for n in [&case_b, &case_c, &sibling_case, &town_case, &ghost_case] {
            assert!(
                case_events(&h.town, n).await.is_none(),
                "case {n} exists at the township"
            );
        }
        assert_eq!(case_events(&h.town, &case_a).await.unwrap().len(), 1);
        // The good entry went on to the district, and nothing else did.
        eventually(60, "the good entry at the district", || async {
            (stored(&district, VILLAGE).await == good).then_some(())
        })
        .await;
        assert!(stored(&district, &ghost).await.is_empty());
        assert!(case_events(&district, &sibling_case).await.is_none());
        // Every refusal above named the village, none another hall.
        let events = security_events(&h.town).await;
        assert!(events.iter().all(|e| e["peer"] == VILLAGE), "{events:#?}");
        the_sibling_still_reaches_the_district(&h).await;
        h.stop().await;
    })
    .await;
}

/// Writes zeros to `send` for as long as flow control lets them in at once,
/// and returns how many it took (each write polled once: one the township
/// granted room for completes without waiting).
fn fill(send: &mut quinn::SendStream) -> usize {
    let chunk = vec![0u8; 16 * 1024];
    let mut cx = Context::from_waker(Waker::noop());
    let mut total = 0;
    loop {
        let mut write = pin!(send.write(&chunk));
        match write.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(n)) => total += n,
            Poll::Ready(Err(_)) | Poll::Pending => return total,
        }
    }
}

/// The frame limit the township is configured with in the framing
/// scenario (the default is 16 MiB).
const FRAME_LIMIT: u32 = 2 * 1024 * 1024;

/// Sends `frames` on a new connection under the village's identity, and
/// asserts that the township ends it within ten seconds and records one
/// more `kind` event naming the village.
async fn cut_off(h: &Halls, frames: &[Vec<u8>], kind: &str, what: &str) {
    let before = count(&h.town, kind, VILLAGE).await;
    let (mut send, mut recv, conn) = h.raw().await;
    for f in frames {
        // The township may have closed the stream already.
        if write_raw_frame(&mut send, f).await.is_err() {
            break;
        }
    }
    assert!(ends_within(&mut recv, 10).await, "{what} was kept");
    assert_not_replaced(&conn, what).await;
    recorded(&h.town, kind, VILLAGE, before + 1).await;
}

/// The township closed this connection for what came on it, not because a
/// newer one of the same identity replaced it.
async fn assert_not_replaced(conn: &PeerConnection, what: &str) {
    let error = tokio::time::timeout(Duration::from_secs(10), conn.closed())
        .await
        .unwrap_or_else(|_| panic!("{what}: the connection stayed open"));
    if let quinn::ConnectionError::ApplicationClosed(close) = &error {
        assert_ne!(close.error_code, CLOSE_REPLACED.into(), "{what}: {close:?}");
    }
}

/// A status report with a hall name of about a megabyte.
fn huge_status() -> Message {
    Message::Status(LinkStatus {
        software: "rogue".into(),
        catalogue_version: 1,
        backlog: 0,
        acked: 0,
        now_ms: 0,
        subtree: vec![],
        name_zh: "村".repeat(350_000),
        name_en: String::new(),
        queue: vec![],
    })
}

/// The village's real key, and a peer that breaks the framing, the Hello
/// or the budget of a link: each cut off and recorded, nothing stored,
/// and the sibling served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rogue_village_that_breaks_the_framing_or_floods_is_cut_off_by_the_township_process() {
    within(async {
        let h = Halls::start(|b| {
            let mut c = b.config(TOWNSHIP).unwrap();
            c.federation.limits.max_frame_bytes = FRAME_LIMIT;
            b.write_config(TOWNSHIP, &c).unwrap();
        })
        .await;
        let hello = hello_as(VILLAGE, "rogue").encode();

        // 1. A Hello that names another node than the certificate does.
        cut_off(
            &h,
            &[hello_as(SIBLING, "rogue").encode()],
            "hello_mismatch",
            "a Hello naming the sibling",
        )
        .await;

        // 2. Garbage where the Hello should be, and 3. garbage after it.
        cut_off(&h, &[vec![0xff; 64]], "bad_frame", "garbage for a Hello").await;
        cut_off(
            &h,
            &[hello.clone(), vec![0x01, 0xff, 0xfe, 0x00, 0x13]],
            "bad_frame",
            "garbage after the Hello",
        )
        .await;

        // 4. A second Hello on a running session.
        cut_off(
            &h,
            &[hello.clone(), hello.clone()],
            "second_hello",
            "a second Hello",
        )
        .await;

        // 5. Megabyte strings, within the frame limit: a Hello whose
        // software version is one, and a status whose hall name is one.
        // Each string a peer sends is bounded; neither reaches the fleet.
        let mega = "x".repeat(1 << 20);
        cut_off(
            &h,
            &[hello_as(VILLAGE, &mega).encode()],
            "bad_frame",
            "a megabyte software version",
        )
        .await;
        cut_off(
            &h,
            &[hello.clone(), huge_status().encode()],
            "bad_frame",
            "a megabyte hall name in a status",
        )
        .await;
        let fleet = h.town.get_ok("/api/v1/admin/fleet").await;
        let rows = fleet.as_array().unwrap();
        // The village's row holds what its last good Hello said.
        let row = rows.iter().find(|r| r["node_id"] == VILLAGE).unwrap();
        assert_eq!(row["software"], "rogue", "{row}");
        for row in rows {
            for field in ["software", "name_zh", "name_en"] {
                assert!(
                    row[field].as_str().is_none_or(|s| s.len() < 1024),
                    "a huge {field} in the fleet: {} bytes",
                    row[field].as_str().unwrap().len()
                );
            }
        }

        // 6. A frame that announces one byte more than the configured
        // limit: refused from its header, before the rest is read (or held).
        let before = count(&h.town, "frame_too_large", VILLAGE).await;
        let (mut send, mut recv, conn) = h.raw().await;
        write_raw_frame(&mut send, &hello).await.unwrap();
        let mut frame = (FRAME_LIMIT + 1).to_be_bytes().to_vec();
        frame.extend_from_slice(&[2u8; 1024]);
        send.write_all(&frame).await.unwrap();
        let mut code = None;
        while let Ok(Some(f)) = read_raw_frame(&mut recv, 1 << 24).await {
            if let Ok(Message::Reject { code: c, .. }) = Message::decode(&f, &Limits::default()) {
                code = Some(c);
            }
        }
        assert_eq!(code.as_deref(), Some("frame_too_large"));
        assert_not_replaced(&conn, "an oversized frame").await;
        let ev = recorded(&h.town, "frame_too_large", VILLAGE, before + 1).await;
        assert!(
            ev["detail"]
                .as_str()
                .unwrap()
                .contains(&FRAME_LIMIT.to_string()),
            "{ev}"
        );

        // 7. A peer that sends its Hello a byte a second: dropped when the
        // Hello's time runs out, having held nothing meanwhile.
        let before = count(&h.town, "no_hello", VILLAGE).await;
        let (mut slow_send, mut slow, conn) = h.raw().await;
        let mut framed = (hello.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&hello);
        let dribble = tokio::spawn(async move {
            for b in framed {
                if slow_send.write_all(&[b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let timeout = u64::try_from(HELLO_TIMEOUT_MS / 1000).unwrap();
        assert!(
            ends_within(&mut slow, timeout + 15).await,
            "a Hello sent a byte a second was waited for"
        );
        dribble.abort();
        assert_not_replaced(&conn, "a slow Hello").await;
        recorded(&h.town, "no_hello", VILLAGE, before + 1).await;

        // 7b. A peer that connects and then says nothing at all: no stream
        // (a stream it opened but never wrote to is the same to the
        // township). It once held its connection until a newer one under
        // the same identity replaced it; now it is closed when the Hello's
        // time runs out, and recorded.
        let before = count(&h.town, "no_hello", VILLAGE).await;
        let silent = h.dial(&h.village).await.unwrap();
        let error = tokio::time::timeout(Duration::from_secs(timeout + 15), silent.closed())
            .await
            .expect("a silent connection was held past the Hello's time");
        if let quinn::ConnectionError::ApplicationClosed(close) = &error {
            assert_ne!(close.error_code, CLOSE_REPLACED.into(), "{close:?}");
        }
        let ev = recorded(&h.town, "no_hello", VILLAGE, before + 1).await;
        assert!(ev["detail"].as_str().unwrap().contains("stream"), "{ev}");

        // 8. Tiny frames as fast as they go, ten thousand and more: the
        // township reads them, or cuts the peer off, and serves the sibling
        // meanwhile. The flood goes on until the sibling's case is at the
        // district.
        let mut r = Rogue::connect(&h, &h.village).await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ten_thousand, mut flooding) = tokio::sync::oneshot::channel::<u64>();
        let flood = {
            let stop = stop.clone();
            let ack = Message::Ack {
                direction: Direction::Down,
                upto: 0,
            }
            .encode();
            let mut send = r.send;
            tokio::spawn(async move {
                let mut sent = 0u64;
                let mut first = Some(ten_thousand);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 5_000_000 {
                    if write_raw_frame(&mut send, &ack).await.is_err() {
                        break;
                    }
                    sent += 1;
                    if sent == 10_000
                        && let Some(tx) = first.take()
                    {
                        let _ = tx.send(sent);
                    }
                }
                sent
            })
        };
        // What the township sends back is read, so that the flood is the
        // only pressure.
        let drain = tokio::spawn(async move {
            while let Ok(Some(_)) = read_raw_frame(&mut r.recv, 1 << 24).await {}
        });
        // Ten thousand are out (or the township cut the flood off) before
        // the sibling is asked to work.
        let _ = (&mut flooding).await;
        the_sibling_still_reaches_the_district(&h).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = flood.await.unwrap();
        drain.abort();
        // Fewer only if the township closed the connection on the flood.
        let cut_off = r.conn.conn.close_reason().is_some();
        assert!(sent >= 10_000 || cut_off, "{sent} frames sent");
        r.conn.close("done");

        // 9. A thousand streams on one connection: the township grants two
        // open at once (the session's and one more) and none past them, so
        // the third open waits for credit that never comes while the first
        // two stay open.
        let mut r = Rogue::connect(&h, &h.village).await;
        let limit = TransportConfig::default().max_bidi_streams as usize;
        let opened = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(1));
        let opener = {
            let (conn, opened) = (r.conn.conn.clone(), opened.clone());
            tokio::spawn(async move {
                let mut streams = Vec::new();
                for _ in 1..1000 {
                    let Ok((mut send, recv)) = conn.open_bi().await else {
                        break;
                    };
                    // A stream exists for the township once a byte is on it.
                    let _ = send.write_all(&[0]).await;
                    streams.push((send, recv));
                    opened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                streams
            })
        };
        let all = tokio::time::timeout(Duration::from_secs(5), async {
            while opened.load(std::sync::atomic::Ordering::SeqCst) < 1000 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(all.is_err(), "the township let a thousand streams open");
        let n = opened.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(n, limit, "streams open at once: the session's and one more");
        opener.abort();
        // The session on the first stream is still served.
        let status = Message::Status(LinkStatus {
            software: "rogue".into(),
            catalogue_version: 1,
            backlog: 0,
            acked: 0,
            now_ms: 0,
            subtree: vec![],
            name_zh: String::new(),
            name_en: String::new(),
            queue: vec![],
        });
        r.send(&status).await;
        r.conn.close("done");

        // 10. Many connections under the one identity, each filling its
        // stream's receive window with the start of a frame just under the
        // limit: each newer connection replaces the older one, so the
        // township holds one at a time, whatever the count.
        let mut conns = Vec::new();
        for _ in 0..20 {
            let (mut send, recv, conn) = h.raw().await;
            write_raw_frame(&mut send, &hello).await.unwrap();
            send.write_all(&(FRAME_LIMIT - 1).to_be_bytes())
                .await
                .unwrap();
            fill(&mut send);
            conns.push((send, recv, conn));
        }
        eventually(30, "every older connection replaced", || async {
            let open = conns
                .iter()
                .filter(|(_, _, c)| c.conn.close_reason().is_none())
                .count();
            (open <= 1).then_some(())
        })
        .await;
        let replaced = conns[..conns.len() - 1]
            .iter()
            .filter(|(_, _, c)| {
                matches!(
                    c.conn.close_reason(),
                    Some(quinn::ConnectionError::ApplicationClosed(close))
                        if close.error_code == CLOSE_REPLACED.into()
                )
            })
            .count();
        assert_eq!(replaced, conns.len() - 1, "older connections not replaced");
        for (_, _, c) in &conns {
            c.conn.close(0u32.into(), b"done");
        }
        drop(conns);

        // None of it stored anything, and the sibling still goes on.
        assert!(stored(&h.town, VILLAGE).await.is_empty());
        the_sibling_still_reaches_the_district(&h).await;
        h.stop().await;
    })
    .await;
}
