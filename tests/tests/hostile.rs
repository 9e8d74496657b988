//! A registered village that holds its real key and speaks the protocol,
//! but sends what no honest node would. Each entry it sends is refused at
//! the township, where it first enters the tree: never stored, never
//! relayed, one security event each, and the rest of the tree goes on.
#![allow(clippy::unwrap_used)]

use federation::replication::{Batch, Direction, Hello, Limits, Message, WireEntry};
use federation::transport::{Client, TransportConfig, read_raw_frame, write_raw_frame};
use federation::{EntryHash, LogEntry, NodeCredentials, NodeId, Sealed};
use node::domain::case::{Actor, Applicant, ApplicantKind, Event, EventRecord, Received, Role};
use node::domain::codec;
use node::domain::log::{Directive, DirectiveRecord, LogBody};
use onewindow_tests::{Tree, eventually, tree};

const DISTRICT: &str = "nanhai";
const TOWNSHIP: &str = "nanhai.guicheng";
const VILLAGE: &str = "nanhai.guicheng.xiaping";
const SIBLING: &str = "nanhai.guicheng.shibei";

async fn with_timeout<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(std::time::Duration::from_secs(120), f)
        .await
        .expect("scenario timed out");
}

/// One connection to the township under the village's identity.
struct Rogue {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    _conn: federation::PeerConnection,
}

impl Rogue {
    async fn connect(t: &Tree, software: &str) -> Rogue {
        let creds = NodeCredentials::from_files(std::path::Path::new(
            &t.nodes[VILLAGE].config.federation.credentials_dir,
        ))
        .unwrap();
        let client = Client::new(&creds, TransportConfig::default()).unwrap();
        let conn = client
            .connect(t.quic_addr(TOWNSHIP), &NodeId::new(TOWNSHIP).unwrap())
            .await
            .unwrap();
        let (mut send, recv) = conn.open_stream().await.unwrap().into_parts();
        write_raw_frame(
            &mut send,
            &Message::Hello(Hello {
                node: creds.node.clone(),
                software: software.to_owned(),
                catalogue_version: 1,
                now_ms: 0,
                have: 0,
                your_origin_head: 0,
                // Far above anything the township holds of the village, so
                // that it keeps its cursor (a lower head would reset it).
                head: 1 << 40,
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
        Rogue {
            send,
            recv,
            _conn: conn,
        }
    }

    async fn send(&mut self, m: Message) {
        write_raw_frame(&mut self.send, &m.encode()).await.unwrap();
    }

    /// The township's answer to a batch: an acknowledgement or a refusal
    /// code ("closed" when the link ends without one).
    async fn answer(&mut self) -> Result<u64, String> {
        loop {
            let Ok(Some(frame)) = read_raw_frame(&mut self.recv, 1 << 24).await else {
                return Err("closed".into());
            };
            match Message::decode(&frame, &Limits::default()) {
                Ok(Message::Ack { upto, .. }) => return Ok(upto),
                Ok(Message::Reject { code, .. }) => return Err(code),
                Ok(_) => continue,
                Err(e) => return Err(format!("bad frame: {e}")),
            }
        }
    }
}

/// The next entry of `origin` after what the township holds of it.
async fn next_entry(t: &Tree, origin: &str, body: &LogBody) -> LogEntry {
    let town = &t.node(TOWNSHIP).node;
    let o = NodeId::new(origin).unwrap();
    let (seq, hash) = town
        .store
        .origin_heads()
        .await
        .unwrap()
        .get(&o)
        .copied()
        .unwrap_or((0, EntryHash::GENESIS));
    let book = town.catalogue();
    let digest = codec::catalogue_digest(&book);
    let enc = codec::encode(body, origin, |_| Some(digest)).unwrap();
    LogEntry::next_sealed(o, seq, hash, enc.body, Sealed::open(enc.personal))
}

/// A batch of one entry, right after what the township holds of the
/// village's log.
async fn batch_of(t: &Tree, entry: LogEntry) -> Message {
    let (have, _) = t
        .node(TOWNSHIP)
        .node
        .store
        .link_cursor(VILLAGE)
        .await
        .unwrap();
    Message::Batch(Batch {
        direction: Direction::Up,
        after: have,
        upto: have + 1,
        entries: vec![WireEntry {
            local_seq: have + 1,
            entry,
            stream: None,
            stream_seq: 0,
        }],
    })
}

fn received(t: &Tree, origin: &str, case_id: &str, name: &str) -> LogBody {
    let cat = t.node(TOWNSHIP).node.catalogue();
    let matter = cat.matters.values().next().unwrap();
    LogBody::Case(EventRecord {
        case_id: case_id.into(),
        case_version: 1,
        actor: Actor {
            username: "clerk".into(),
            role: Role::Clerk,
            node: origin.into(),
            department: None,
        },
        at_ms: 1_796_000_000_000,
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
    })
}

async fn security_kinds(t: &Tree) -> Vec<String> {
    t.node(TOWNSHIP)
        .node
        .store
        .security_events(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// The district publishes a calendar for `year`; it reaches the sibling.
async fn a_rule_from_the_root_reaches_the_sibling(t: &Tree, year_no: i32) {
    let mut year = node::starter::calendars().unwrap().remove(0);
    year.year = year_no;
    year.holidays.clear();
    t.node(DISTRICT)
        .node
        .publish_calendar(&year, "admin")
        .await
        .unwrap();
    eventually(30, "the calendar at the sibling", || async {
        t.node(SIBLING)
            .node
            .store
            .calendars()
            .await
            .unwrap()
            .iter()
            .any(|c| c.year == year_no)
            .then_some(())
    })
    .await;
}

async fn held(t: &Tree, node: &str, origin: &str) -> u64 {
    t.node(node)
        .node
        .store
        .origin_heads()
        .await
        .unwrap()
        .get(&NodeId::new(origin).unwrap())
        .map_or(0, |h| h.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_village_is_refused_at_its_township_and_stops_no_one_else() {
    with_timeout(async {
        let mut t = tree(&[DISTRICT, TOWNSHIP, VILLAGE, SIBLING]).await;
        // The real village is off: the rogue holds its identity.
        t.stop(VILLAGE).await;

        // 1. A directive under the village's own origin (an unsigned recall):
        // only the root writes directives.
        let recall = LogBody::Directive(DirectiveRecord {
            directive: Directive::Recall {
                case_id: "XP-20261201-000001-0".into(),
                to: VILLAGE.into(),
                reason: "forged".into(),
            },
            issued_by: "rogue".into(),
            at_ms: 0,
        });
        let before = held(&t, TOWNSHIP, VILLAGE).await;
        let mut r = Rogue::connect(&t, "rogue").await;
        let entry = next_entry(&t, VILLAGE, &recall).await;
        r.send(batch_of(&t, entry).await).await;
        assert_eq!(r.answer().await, Err("directive_not_from_root".into()));
        assert_eq!(
            held(&t, TOWNSHIP, VILLAGE).await,
            before,
            "nothing of it is stored"
        );
        assert!(
            security_kinds(&t)
                .await
                .contains(&"directive_not_from_root".into())
        );

        // 2. A good case event is taken; the same place again with another
        // body is a fork, refused and recorded.
        let mut r = Rogue::connect(&t, "rogue").await;
        let good = received(&t, VILLAGE, "XP-20261201-000001-0", "张三");
        let entry = next_entry(&t, VILLAGE, &good).await;
        r.send(batch_of(&t, entry.clone()).await).await;
        assert!(r.answer().await.is_ok(), "a valid entry is acknowledged");
        let after_good = held(&t, TOWNSHIP, VILLAGE).await;
        assert_eq!(after_good, entry.origin_seq);
        let other = received(&t, VILLAGE, "XP-20261201-000002-0", "李四");
        let enc = codec::encode(&other, VILLAGE, |_| {
            Some(codec::catalogue_digest(&t.node(TOWNSHIP).node.catalogue()))
        })
        .unwrap();
        let fork = LogEntry::next_sealed(
            entry.origin.clone(),
            entry.origin_seq - 1,
            entry.prev_hash,
            enc.body,
            Sealed::open(enc.personal),
        );
        assert_ne!(fork.hash, entry.hash);
        r.send(batch_of(&t, fork).await).await;
        assert_eq!(r.answer().await, Err("fork".into()));
        assert!(security_kinds(&t).await.contains(&"fork".into()));
        assert_eq!(held(&t, TOWNSHIP, VILLAGE).await, after_good);

        // 3. An origin one tier below the deepest is refused.
        let ghost = format!("{VILLAGE}.ghost");
        let mut r = Rogue::connect(&t, "rogue").await;
        let body = received(&t, &ghost, "GH-20261201-000001-0", "王五");
        let entry = next_entry(&t, &ghost, &body).await;
        r.send(batch_of(&t, entry).await).await;
        assert_eq!(r.answer().await, Err("too_deep".into()));
        assert_eq!(held(&t, TOWNSHIP, &ghost).await, 0);
        assert!(security_kinds(&t).await.contains(&"too_deep".into()));

        // 4. A case that starts with a handover carrying a sibling's
        // records: only the district hands a case over, and from below a
        // case starts with its own `received`.
        let mut r = Rogue::connect(&t, "rogue").await;
        let LogBody::Case(sibling_case) = received(&t, SIBLING, "SB-20261201-000001-0", "赵六")
        else {
            unreachable!()
        };
        let handover = LogBody::Case(EventRecord {
            case_id: sibling_case.case_id.clone(),
            case_version: 2,
            actor: Actor {
                username: "system".into(),
                role: Role::Supervisor,
                node: VILLAGE.into(),
                department: None,
            },
            at_ms: 1_796_000_000_000,
            event: Event::HandedOver {
                to: VILLAGE.into(),
                holder: VILLAGE.into(),
                reason: "forged".into(),
                history: vec![sibling_case],
            },
        });
        let entry = next_entry(&t, VILLAGE, &handover).await;
        r.send(batch_of(&t, entry).await).await;
        assert_eq!(r.answer().await, Err("forged_entry".into()));
        assert_eq!(held(&t, TOWNSHIP, VILLAGE).await, after_good);
        assert!(
            t.node(TOWNSHIP)
                .node
                .store
                .case("SB-20261201-000001-0")
                .await
                .unwrap()
                .is_none()
        );

        // 4b. A `received` for a case the township holds (the case of
        // step 2, sent again at the next sequence with another applicant):
        // taken as a new case, its row fails the commit on its key, and
        // the batch, applied again reading every case it touches, is
        // refused. The case held is as it was.
        let town = &t.node(TOWNSHIP).node;
        let before = town.store.case("XP-20261201-000001-0").await.unwrap();
        assert!(before.is_some());
        let mut r = Rogue::connect(&t, "rogue").await;
        let again = received(&t, VILLAGE, "XP-20261201-000001-0", "钱七");
        let entry = next_entry(&t, VILLAGE, &again).await;
        r.send(batch_of(&t, entry).await).await;
        assert_eq!(r.answer().await, Err("forged_entry".into()));
        assert_eq!(held(&t, TOWNSHIP, VILLAGE).await, after_good);
        assert_eq!(
            town.store.case("XP-20261201-000001-0").await.unwrap(),
            before
        );

        // 5. A Hello carrying a 4 MiB software string is refused before
        // anything of it is kept.
        let mut r = Rogue::connect(&t, &"x".repeat(4 << 20)).await;
        assert_eq!(r.answer().await, Err("closed".into()));
        eventually(30, "the Hello violation recorded", || async {
            security_kinds(&t)
                .await
                .contains(&"bad_frame".into())
                .then_some(())
        })
        .await;
        let fleet = t.node(TOWNSHIP).node.store.oversight_fleet().await.unwrap();
        assert!(
            fleet
                .iter()
                .all(|f| f.software.as_deref().is_none_or(|s| s.len() < 1024)),
            "no huge string in the fleet table"
        );

        // The good case reached the district; nothing refused did, and the
        // sibling's link works: a rule from the root still reaches it.
        eventually(30, "the good case at the district", || async {
            (held(&t, DISTRICT, VILLAGE).await == after_good).then_some(())
        })
        .await;
        assert_eq!(held(&t, DISTRICT, &ghost).await, 0);
        a_rule_from_the_root_reaches_the_sibling(&t, 2031).await;
    })
    .await;
}

/// A person's `received` event naming catalogue `cat` (which need not be
/// the township's).
fn received_under(
    cat: &node::domain::catalogue::Catalogue,
    origin: &str,
    case_id: &str,
) -> LogBody {
    let matter = cat.matters.values().next().unwrap();
    LogBody::Case(EventRecord {
        case_id: case_id.into(),
        case_version: 1,
        actor: Actor {
            username: "clerk".into(),
            role: Role::Clerk,
            node: origin.into(),
            department: None,
        },
        at_ms: 1_796_000_000_000,
        event: Event::Received(std::sync::Arc::new(Received::from_matter(
            matter,
            cat.version,
            Applicant {
                kind: ApplicantKind::Person,
                id_number: "11010519491231002X".into(),
                name: "赵六".into(),
                phone: None,
                checksum_overridden: false,
                checksum_override_reason: None,
            },
            vec![],
            vec![],
            origin.into(),
        ))),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_refused_again_and_again_waits_longer_each_time_and_both_sides_show_it() {
    with_timeout(async {
        let mut t = tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
        t.stop(VILLAGE).await;
        // While the village is off, someone with its key gives the township
        // the village's next entry. The village's own next entry, written
        // later, takes the same place with another hash: a fork, refused at
        // every attempt.
        let mut r = Rogue::connect(&t, "rogue").await;
        let body = received(&t, VILLAGE, "XP-20261201-000009-0", "钱七");
        let entry = next_entry(&t, VILLAGE, &body).await;
        r.send(batch_of(&t, entry).await).await;
        assert!(r.answer().await.is_ok());
        drop(r);

        // The village writes its own next entry while its link is down (a
        // parent address where nothing listens): had it not, the township's
        // Hello would show an entry of its origin it lacks, and it would
        // take that entry back as a hall put back to an older copy does.
        let (min_ms, max_ms) = (100u64, 3_200u64);
        let fed = &mut t.nodes.get_mut(VILLAGE).unwrap().config.federation;
        let parent_addr = std::mem::replace(&mut fed.parent_addr, "127.0.0.1:9".into());
        t.restart(VILLAGE).await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let cat = onewindow_tests::Api::anonymous(&t.url(VILLAGE))
            .get_ok("/api/v1/catalogue")
            .await;
        let own = cat["matters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["decided_here"] == true)
            .unwrap()
            .clone();
        clerk
            .post_ok(
                "/api/v1/cases",
                &onewindow_tests::complete_submission(&own, "11010519491231002X"),
            )
            .await;
        t.stop(VILLAGE).await;
        let fed = &mut t.nodes.get_mut(VILLAGE).unwrap().config.federation;
        fed.parent_addr = parent_addr;
        fed.reconnect_min_ms = min_ms;
        fed.refused_backoff_max_ms = max_ms;
        t.restart(VILLAGE).await;

        // The village records each refusal in a row, and when it dials
        // again: the wait after the k-th refusal lies in [c/2, c) where
        // c = min(max, min * 2^k), so it grows with every refusal.
        let village = t.node(VILLAGE).node.clone();
        let mut seen: std::collections::BTreeMap<u32, i64> = std::collections::BTreeMap::new();
        let mut code: Option<String> = None;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(90);
        while seen.keys().max() < Some(&5) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "five refusals in a row at the village: {seen:?}"
            );
            if let Some(r) = village.store.link_refusal(TOWNSHIP).await.unwrap()
                && let Some(next) = r.next_attempt_ms
            {
                // The village's own entry conflicts with the one the township
                // holds: refused as a fork, or as a broken chain when the
                // batch starts after it.
                assert!(
                    matches!(r.code.as_str(), "fork" | "broken_chain"),
                    "{}",
                    r.code
                );
                code.get_or_insert_with(|| r.code.clone());
                assert_eq!(code.as_deref(), Some(r.code.as_str()));
                seen.insert(r.count, next - r.at_ms);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let ceiling = |k: u32| (min_ms << k).min(max_ms) as i64;
        let mut last = 0;
        for (&k, &wait) in &seen {
            assert!(
                wait >= ceiling(k) / 2 && wait < ceiling(k),
                "refusal {k}: waited {wait} ms, not in [{}, {})",
                ceiling(k) / 2,
                ceiling(k)
            );
            assert!(wait > last, "refusal {k}: {wait} ms after {last} ms");
            last = wait;
        }
        // The attempts the township saw are those the village made: one
        // fork refused per attempt, no more than the waits allow.
        let forks = t
            .node(TOWNSHIP)
            .node
            .store
            .security_events(1000)
            .await
            .unwrap()
            .iter()
            .filter(|e| {
                Some(e.kind.as_str()) == code.as_deref() && e.peer.as_deref() == Some(VILLAGE)
            })
            .count();
        let count_now = village
            .store
            .link_refusal(TOWNSHIP)
            .await
            .unwrap()
            .map_or(0, |r| r.count) as usize;
        assert!(
            forks >= 5 && forks <= count_now + 1,
            "{forks} forks refused for {count_now} refusals in a row"
        );

        // The township keeps the same run in the village's fleet row.
        let row = eventually(30, "the refusals in the township's fleet row", || async {
            t.node(TOWNSHIP)
                .node
                .store
                .oversight_fleet()
                .await
                .unwrap()
                .into_iter()
                .find(|f| f.node_id == VILLAGE)
                .filter(|f| f.refusal.as_ref().is_some_and(|r| r.count >= 3))
        })
        .await;
        assert_eq!(
            Some(row.refusal.as_ref().unwrap().code.as_str()),
            code.as_deref()
        );
        // And the village's health says it backs off.
        let h = onewindow_tests::Api::anonymous(&t.url(VILLAGE))
            .get_ok("/api/v1/health")
            .await;
        assert_eq!(
            h["uplink"]["refusal"]["code"].as_str(),
            code.as_deref(),
            "{h}"
        );
        assert!(
            h["uplink"]["refusal"]["count"].as_u64().unwrap() >= 5,
            "{h}"
        );
        let m = onewindow_tests::metrics_text(&t.url(VILLAGE)).await;
        assert!(
            onewindow_tests::metric(
                &m,
                "onewindow_link_refusals_in_a_row",
                &[("peer", TOWNSHIP)]
            )
            .is_some_and(|v| v >= 5.0),
            "{m}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_held_back_for_a_catalogue_version_show_in_the_link_status_and_clear() {
    with_timeout(async {
        let mut t = tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
        t.stop(VILLAGE).await;
        // A new catalogue version, drafted at the district, not yet
        // published: the township does not hold it.
        let admin =
            onewindow_tests::Api::login(&t.url(DISTRICT), "admin", onewindow_tests::ADMIN_PASSWORD)
                .await;
        let mut draft = admin.get_ok("/api/v1/admin/catalogue/versions/1").await;
        let code = draft["matters"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        draft["matters"][&code]["name_zh"] = serde_json::json!("修订后的事项名称");
        let v = admin
            .post_ok("/api/v1/admin/catalogue/versions", &draft)
            .await["version"]
            .as_i64()
            .unwrap();
        let cat = t
            .node(DISTRICT)
            .node
            .store
            .catalogue_version(v)
            .await
            .unwrap()
            .unwrap();
        // A village entry that names it (as one written by a village that
        // has it would).
        let body = received_under(&cat, VILLAGE, "XP-20261201-000011-0");
        let town = t.node(TOWNSHIP).node.clone();
        let o = NodeId::new(VILLAGE).unwrap();
        let (seq, hash) = town
            .store
            .origin_heads()
            .await
            .unwrap()
            .get(&o)
            .copied()
            .unwrap_or((0, EntryHash::GENESIS));
        let digest = codec::catalogue_digest(&cat);
        let enc = codec::encode(&body, VILLAGE, |_| Some(digest)).unwrap();
        let entry = LogEntry::next_sealed(o, seq, hash, enc.body, Sealed::open(enc.personal));

        let mut r = Rogue::connect(&t, "rogue").await;
        r.send(batch_of(&t, entry.clone()).await).await;
        assert_eq!(r.answer().await, Err("catalogue_missing".into()));
        drop(r);
        let waiting = eventually(30, "the hold-back in the village's fleet row", || async {
            town.store
                .link_state(VILLAGE)
                .await
                .unwrap()
                .and_then(|s| s.refusal)
        })
        .await;
        assert_eq!(waiting.code, "catalogue_missing");
        assert_eq!(waiting.held_back_catalogue, Some(v));
        assert_eq!(
            node::link::state::describe(false, Some(&waiting), false, |_| String::new()),
            format!("held back: waiting for catalogue version {v} (count 1)")
        );
        let m = onewindow_tests::metrics_text(&t.url(TOWNSHIP)).await;
        assert_eq!(
            onewindow_tests::metric(&m, "onewindow_link_held_back_total", &[("peer", VILLAGE)]),
            Some(1.0),
            "{m}"
        );
        assert_eq!(
            onewindow_tests::metric(
                &m,
                "onewindow_link_waiting_for_catalogue",
                &[("peer", VILLAGE)]
            ),
            Some(v as f64)
        );
        assert_eq!(
            held(&t, TOWNSHIP, VILLAGE).await,
            seq,
            "nothing of it is stored"
        );

        // The version is published and reaches the township; the entry
        // comes again, is applied, and the hold-back is over.
        admin
            .post_ok(
                &format!("/api/v1/admin/catalogue/versions/{v}/publish"),
                &serde_json::json!({}),
            )
            .await;
        eventually(30, "the new version at the township", || async {
            (town.catalogue().version == v).then_some(())
        })
        .await;
        let mut r = Rogue::connect(&t, "rogue").await;
        r.send(batch_of(&t, entry.clone()).await).await;
        assert!(r.answer().await.is_ok(), "the held-back entry is applied");
        assert_eq!(held(&t, TOWNSHIP, VILLAGE).await, entry.origin_seq);
        eventually(30, "the hold-back cleared", || async {
            let s = town.store.link_state(VILLAGE).await.unwrap()?;
            s.refusal.is_none().then_some(())
        })
        .await;
        eventually(30, "the wait for the catalogue version over", || async {
            let m = onewindow_tests::metrics_text(&t.url(TOWNSHIP)).await;
            (onewindow_tests::metric(
                &m,
                "onewindow_link_waiting_for_catalogue",
                &[("peer", VILLAGE)],
            ) == Some(0.0))
            .then_some(())
        })
        .await;
        drop(r);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_configured_limit_is_refused_from_its_header() {
    with_timeout(async {
        let mut t = tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
        t.stop(VILLAGE).await;
        t.stop(TOWNSHIP).await;
        t.nodes
            .get_mut(TOWNSHIP)
            .unwrap()
            .config
            .federation
            .limits
            .max_frame_bytes = 65_536;
        t.restart(TOWNSHIP).await;
        let mut r = Rogue::connect(&t, "rogue").await;
        // A header announcing 1 MiB, then a little of it: the township
        // refuses it from the header, before reading (or holding) the rest.
        let mut frame = (1u32 << 20).to_be_bytes().to_vec();
        frame.extend_from_slice(&[2u8; 1024]);
        r.send.write_all(&frame).await.unwrap();
        assert_eq!(r.answer().await, Err("frame_too_large".into()));
        let ev = eventually(30, "the oversized frame recorded", || async {
            t.node(TOWNSHIP)
                .node
                .store
                .security_events(100)
                .await
                .unwrap()
                .into_iter()
                .find(|e| e.kind == "frame_too_large")
        })
        .await;
        assert_eq!(ev.peer.as_deref(), Some(VILLAGE));
        assert!(ev.detail.contains("65536"), "{}", ev.detail);
        // A frame within the limit still goes through.
        let mut r = Rogue::connect(&t, "rogue").await;
        let body = received(&t, VILLAGE, "XP-20261201-000012-0", "孙八");
        let entry = next_entry(&t, VILLAGE, &body).await;
        r.send(batch_of(&t, entry).await).await;
        assert!(r.answer().await.is_ok());
    })
    .await;
}

/// The village's parent taken over: a process that holds the township's
/// real key and certificate and speaks the protocol, but sends down an
/// audit record of its own. A hall's actions travel up only: the village
/// refuses it (`audit_from_above`), stores nothing, and records it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_record_sent_down_by_a_parent_is_refused_at_the_village() {
    with_timeout(async {
        let mut t = tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
        eventually(60, "the village's link up", || async {
            t.node(VILLAGE).node.uplink_up().then_some(())
        })
        .await;
        let addr = t.quic_addr(TOWNSHIP);
        let creds = NodeCredentials::from_files(std::path::Path::new(
            &t.nodes[TOWNSHIP].config.federation.credentials_dir,
        ))
        .unwrap();
        t.stop(TOWNSHIP).await;
        // The township's address, its key, any child let in.
        let (security, _events) = tokio::sync::mpsc::unbounded_channel();
        let admit_all =
            |_: &NodeId, _: &str| -> Result<(), federation::transport::Refusal> { Ok(()) };
        let mut server = None;
        for _ in 0..300 {
            match federation::transport::Server::bind(
                addr,
                &creds,
                std::sync::Arc::new(admit_all),
                security.clone(),
                TransportConfig::default(),
            ) {
                Ok(s) => {
                    server = Some(s);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
        let server = server.expect("the township's address is free again");
        let conn = server.accept().await.expect("the village dials its parent");
        assert_eq!(conn.peer.as_str(), VILLAGE);
        let (mut send, mut recv) = conn
            .accept_stream()
            .await
            .expect("the village opens its stream")
            .into_parts();
        let limits = Limits::default();
        let hello = loop {
            let frame = read_raw_frame(&mut recv, 1 << 24).await.unwrap().unwrap();
            if let Ok(Message::Hello(h)) = Message::decode(&frame, &limits) {
                break h;
            }
        };
        let town = NodeId::new(TOWNSHIP).unwrap();
        write_raw_frame(
            &mut send,
            &Message::Hello(Hello {
                node: town.clone(),
                software: "rogue".into(),
                catalogue_version: 1,
                now_ms: 0,
                have: 0,
                your_origin_head: 0,
                head: hello.have + 1,
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
        // A login at the township, as the township writes it, right after
        // what the village holds of the township's own log.
        let before = held(&t, VILLAGE, TOWNSHIP).await;
        let body = LogBody::Audit(node::domain::log::AuditRecord {
            action: "login".into(),
            actor: "admin".into(),
            role: "admin".into(),
            target: String::new(),
            detail: String::new(),
            at_ms: 1_796_000_000_000,
        });
        let enc = codec::encode(&body, TOWNSHIP, |_| None).unwrap();
        let entry = LogEntry::next_sealed(
            town,
            before,
            EntryHash::GENESIS,
            enc.body,
            Sealed::open(enc.personal),
        );
        write_raw_frame(
            &mut send,
            &Message::Batch(Batch {
                direction: Direction::Down,
                after: hello.have,
                upto: hello.have + 1,
                entries: vec![WireEntry {
                    local_seq: hello.have + 1,
                    entry,
                    stream: None,
                    stream_seq: 0,
                }],
            })
            .encode(),
        )
        .await
        .unwrap();
        let answer = loop {
            let Ok(Some(frame)) = read_raw_frame(&mut recv, 1 << 24).await else {
                break Err("closed".to_owned());
            };
            match Message::decode(&frame, &limits) {
                Ok(Message::Reject { code, .. }) => break Err(code),
                Ok(Message::Ack { upto, .. }) if upto > hello.have => break Ok(upto),
                _ => continue,
            }
        };
        assert_eq!(answer, Err("audit_from_above".to_owned()));
        assert_eq!(held(&t, VILLAGE, TOWNSHIP).await, before, "nothing stored");
        let kinds: Vec<String> = t
            .node(VILLAGE)
            .node
            .store
            .security_events(100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert!(kinds.iter().any(|k| k == "audit_from_above"), "{kinds:?}");
        server.close();
    })
    .await;
}

/// A connection under the village's identity that sends raw frames.
async fn raw(
    t: &Tree,
) -> (
    quinn::SendStream,
    quinn::RecvStream,
    federation::PeerConnection,
) {
    let creds = NodeCredentials::from_files(std::path::Path::new(
        &t.nodes[VILLAGE].config.federation.credentials_dir,
    ))
    .unwrap();
    let client = Client::new(&creds, TransportConfig::default()).unwrap();
    let conn = client
        .connect(t.quic_addr(TOWNSHIP), &NodeId::new(TOWNSHIP).unwrap())
        .await
        .unwrap();
    let (send, recv) = conn.open_stream().await.unwrap().into_parts();
    (send, recv, conn)
}

fn hello_as(node: &str, software: &str) -> Vec<u8> {
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
        earlier: Vec::new(),
        older_floor: None,
    })
    .encode()
}

/// Reads until the township ends the stream; true if it did within `secs`.
async fn ended_within(recv: &mut quinn::RecvStream, secs: u64) -> bool {
    tokio::time::timeout(std::time::Duration::from_secs(secs), async {
        while let Ok(Some(_)) = read_raw_frame(recv, 1 << 24).await {}
    })
    .await
    .is_ok()
}

/// Sends `frames` on a new connection under the village's identity and
/// asserts that the township ends the stream within ten seconds.
async fn cut_off(t: &Tree, frames: &[Vec<u8>], what: &str) {
    let (mut send, mut recv, _c) = raw(t).await;
    for f in frames {
        write_raw_frame(&mut send, f).await.unwrap();
    }
    assert!(ended_within(&mut recv, 10).await, "{what} was kept");
}

async fn recorded(t: &Tree, kind: &str, at_least: usize) {
    eventually(30, kind, || async {
        (security_kinds(t)
            .await
            .iter()
            .filter(|k| *k == kind)
            .count()
            >= at_least)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_breaks_the_framing_or_the_hello_is_cut_off_and_recorded() {
    with_timeout(async {
        let mut t = tree(&[DISTRICT, TOWNSHIP, VILLAGE, SIBLING]).await;
        t.stop(VILLAGE).await;
        let before = held(&t, TOWNSHIP, VILLAGE).await;

        // A Hello that names another node than the certificate.
        cut_off(&t, &[hello_as(SIBLING, "rogue")], "a mismatched Hello").await;
        recorded(&t, "hello_mismatch", 1).await;

        // Garbage where the Hello should be, and garbage after a Hello.
        cut_off(&t, &[vec![0xff; 64]], "garbage").await;
        let garbage = vec![0x01, 0xff, 0xfe, 0x00, 0x13];
        cut_off(
            &t,
            &[hello_as(VILLAGE, "rogue"), garbage],
            "garbage after a Hello",
        )
        .await;
        recorded(&t, "bad_frame", 2).await;

        // A second Hello on a running session.
        let hello = hello_as(VILLAGE, "rogue");
        cut_off(&t, &[hello.clone(), hello], "a second Hello").await;
        recorded(&t, "second_hello", 1).await;

        // Ten thousand tiny frames as fast as they go: the township reads
        // them and serves everyone else meanwhile.
        let (mut send, _recv, _c) = raw(&t).await;
        write_raw_frame(&mut send, &hello_as(VILLAGE, "rogue"))
            .await
            .unwrap();
        let ack = Message::Ack {
            direction: Direction::Down,
            upto: 0,
        }
        .encode();
        let flood = tokio::spawn(async move {
            for _ in 0..10_000 {
                if write_raw_frame(&mut send, &ack).await.is_err() {
                    break;
                }
            }
            send
        });

        // A peer that says nothing, and one that sends its Hello a byte a
        // second: each is dropped when the Hello's time runs out, holding
        // nothing meanwhile.
        let (_silent_send, mut silent, _c1) = raw(&t).await;
        let (mut slow_send, mut slow, _c2) = raw(&t).await;
        let hello = hello_as(VILLAGE, "rogue");
        let slow_task = tokio::spawn(async move {
            let mut framed = (hello.len() as u32).to_be_bytes().to_vec();
            framed.extend_from_slice(&hello);
            for b in framed {
                if slow_send.write_all(&[b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });

        // Meanwhile a rule from the root reaches the sibling.
        a_rule_from_the_root_reaches_the_sibling(&t, 2032).await;
        let _ = flood.await;
        let timeout = u64::try_from(federation::replication::HELLO_TIMEOUT_MS / 1000).unwrap();
        assert!(
            ended_within(&mut silent, timeout + 10).await,
            "a silent peer was kept"
        );
        assert!(
            ended_within(&mut slow, timeout + 10).await,
            "a slow Hello was kept"
        );
        slow_task.abort();
        recorded(&t, "no_hello", 1).await;
        // Nothing of any of them was stored.
        assert_eq!(held(&t, TOWNSHIP, VILLAGE).await, before);
    })
    .await;
}
