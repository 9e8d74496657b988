//! Every input kept for the fuzz targets (`tests/fuzz/corpus/<target>`, what
//! `cargo fuzz` grew from the seeds) and every input that once made a target
//! fail (`tests/fuzz/regressions/<target>`) is run through the target's body
//! again, so that what the fuzzers found stays fixed.
//!
//! `cargo test -p onewindow-tests --test fuzz_corpora -- --ignored` writes
//! the seeds (real files of the project and messages the code itself
//! encodes) into the corpus folders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use federation::replication::{Batch, Direction, Hello, Message, WireEntry};
use federation::{EntryHash, LogEntry, NodeId, Sealed};
use node::domain::case::{Actor, Applicant, ApplicantKind, Event, EventRecord, Received, Role};
use node::domain::codec;
use node::domain::log::LogBody;
use onewindow_tests::fuzz::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn every_kept_fuzz_input_passes_its_target() {
    let mut total = 0;
    for (name, body) in TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(name));
        assert!(
            !corpus.is_empty(),
            "the corpus of the fuzz target {name} is empty"
        );
        let found = files(&fuzz_dir().join("regressions").join(name));
        for path in corpus.iter().chain(&found) {
            let data = std::fs::read(path).unwrap();
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(outcome.is_ok(), "{name} fails on {}", path.display());
            total += 1;
        }
    }
    eprintln!("{total} fuzz inputs passed");
}

/// Writes a seed into a target's corpus under its content's hash.
fn seed(target: &str, data: &[u8]) {
    use sha2::{Digest, Sha256};
    let dir = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    let name = hex_of(&Sha256::digest(data)[..10]);
    std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs")
}

fn tomls(dir: &Path) -> Vec<Vec<u8>> {
    files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// Case events of the starter catalogue, encoded as a village writes them.
fn entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    let cat = node::starter::catalogue().unwrap();
    let digest = codec::catalogue_digest(&cat);
    let origin = "nanhai.guicheng.xiaping";
    let actor = Actor {
        username: "clerk1".into(),
        role: Role::Clerk,
        node: origin.into(),
        department: None,
    };
    let mut out = Vec::new();
    for (k, m) in cat.matters.values().take(6).enumerate() {
        let received = Received::from_matter(
            m,
            cat.version,
            Applicant {
                kind: ApplicantKind::Person,
                id_number: "11010519491231002X".into(),
                name: "张三".into(),
                phone: Some("13800000000".into()),
                checksum_overridden: false,
                checksum_override_reason: None,
            },
            vec![],
            vec![],
            origin.into(),
        );
        let rec = EventRecord {
            case_id: format!("GXH-20260105-{:06}", k + 1),
            case_version: 1,
            actor: actor.clone(),
            at_ms: 1_767_600_000_000,
            event: Event::Received(std::sync::Arc::new(received)),
        };
        let e = codec::encode(&LogBody::Case(rec), origin, |v| {
            (v == cat.version).then_some(digest)
        })
        .unwrap();
        out.push((e.body, e.personal));
    }
    out
}

#[test]
#[ignore = "writes the seed corpora; run by hand"]
fn write_seeds() {
    // The peering between two trees' roots: a hand of real records, and
    // every message.
    {
        use federation::peering::{Carried, Hand, PeerMessage};
        let hand = Hand {
            from: "foshan".into(),
            to: "liwan".into(),
            case_id: "GXH-20260105-000001".into(),
            records: entries()
                .into_iter()
                .take(2)
                .map(|(body, personal)| Carried {
                    origin: "foshan.chancheng.c1".into(),
                    body,
                    personal,
                })
                .collect(),
        };
        seed("peering", &hand.encode());
        for m in [
            PeerMessage::Offer {
                offer: r#"{"root":"liwan","catalogue_version":2,"matters":[],"halls":["liwan.dali|大沥|Dali"]}"#
                    .as_bytes()
                    .to_vec(),
                signature: "ab".repeat(64),
            },
            PeerMessage::Hand {
                body: hand.encode(),
                signature: "cd".repeat(64),
            },
            PeerMessage::Ack {
                case_id: "GXH-20260105-000001".into(),
                version: 5,
            },
            PeerMessage::Refused {
                case_id: "GXH-20260105-000001".into(),
                version: 0,
                code: "not_cross_district".into(),
                message: "matter NH-RS-002 is not open for cross-district handling".into(),
            },
        ] {
            seed("peering", &m.encode());
        }
    }
    // The replication wire: a Hello, a batch of real entries, the small
    // messages.
    let origin = NodeId::new("nanhai.guicheng.xiaping".to_owned()).unwrap();
    let mut prev = (0, EntryHash::GENESIS);
    let mut wire_entries = Vec::new();
    let mut log_seeds = Vec::new();
    for (i, (body, personal)) in entries().into_iter().enumerate() {
        let mut seed_bytes = u16::try_from(body.len()).unwrap().to_be_bytes().to_vec();
        seed_bytes.extend_from_slice(&body);
        seed_bytes.extend_from_slice(&personal);
        log_seeds.push(seed_bytes);
        let e = LogEntry::next_sealed(origin.clone(), prev.0, prev.1, body, Sealed::open(personal));
        prev = (e.origin_seq, e.hash);
        wire_entries.push(WireEntry {
            local_seq: i as u64 + 1,
            entry: e,
            stream: None,
            stream_seq: 0,
        });
    }
    let messages = [
        Message::Hello(Hello {
            node: origin.clone(),
            software: "0.1.0".into(),
            catalogue_version: 1,
            now_ms: 1_767_600_000_000,
            have: 3,
            your_origin_head: 2,
            head: 7,
            recovering: false,
            start_head: 0,
            incarnation: 0,
            earlier: vec![federation::replication::Earlier {
                incarnation: 5,
                start_head: 2,
            }],
            older_floor: Some(1),
        }),
        Message::Batch(Batch {
            direction: Direction::Up,
            after: 0,
            upto: wire_entries.len() as u64,
            entries: wire_entries,
        }),
        Message::Ack {
            direction: Direction::Down,
            upto: 9,
        },
        Message::Reject {
            code: "cursor_gap".into(),
            message: "batch starts after 70".into(),
        },
        Message::Query {
            id: 4,
            body: "{\"case\":\"GXH-20260105-000001\"}".into(),
        },
        Message::Answer {
            id: 4,
            body: Some("{}".into()),
        },
    ];
    let mut stream = vec![3u8];
    for m in &messages {
        let bytes = m.encode();
        seed("wire", &bytes);
        stream.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
        stream.extend_from_slice(&bytes);
    }
    seed("framing", &stream);
    for s in &log_seeds {
        seed("log_entry", s);
    }
    // The catalogue, as the starter files and as published JSON.
    for text in tomls(&configs().join("catalogue")) {
        let mut s = vec![0u8];
        s.extend_from_slice(&text);
        seed("catalogue", &s);
    }
    let mut json = vec![1u8];
    json.extend_from_slice(&serde_json::to_vec(&node::starter::catalogue().unwrap()).unwrap());
    seed("catalogue", &json);
    for text in tomls(&configs().join("calendar")) {
        seed("calendar", &text);
    }
    for text in tomls(&configs().join("topologies")) {
        seed("topology", &text);
    }
    seed(
        "config",
        &std::fs::read(configs().join("default.toml")).unwrap(),
    );
    seed(
        "config",
        b"[node]\nid = \"nanhai.guicheng\"\ntiers = [\"district\", \"township\", \"village\"]\n[federation]\nparent = \"127.0.0.1:7001\"\n",
    );
    // The API: each route (by index) from each actor, with an empty object
    // and a plausible body.
    for route in 0u8..40 {
        for who in 0u8..5 {
            let mut s = vec![route, who];
            s.extend_from_slice(b"{}");
            seed("http", &s);
        }
        let mut s = vec![route, 2];
        s.extend_from_slice(
            br#"{"matter_code":"NH-MZ-001","applicant":{"kind":"person","id_number":"11010519491231002X","name":"a"},"materials":[],"reason":"x","username":"u","password":"p","role":"clerk"}"#,
        );
        seed("http", &s);
    }
}
