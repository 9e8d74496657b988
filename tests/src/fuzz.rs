//! The bodies of the fuzz targets (`tests/fuzz`, run with `cargo fuzz`) and
//! of the test that replays their corpora and past crashes
//! (`tests/tests/fuzz_corpora.rs`), so that both run the same code.
//!
//! Each body takes arbitrary bytes and drives one parser of what comes from
//! outside a node: the replication wire and its framing, the peering wire
//! between two trees' roots, a log entry's body,
//! the catalogue, the holiday calendar, a topology, a node's configuration
//! and every JSON body of the HTTP API. A body panics only when the code
//! under test does something it must never do on any input: panic, answer
//! an HTTP request with a server error, or read back differently what it
//! wrote itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use federation::replication::{Limits, Message};
use federation::transport::{FrameError, FrameSource, MAX_FRAME, read_raw_frame};
use node::domain::calendar::{Calendar, YearCalendar};
use node::domain::catalogue::Catalogue;
use node::domain::codec::{self, Book};
use node::domain::deadline;

/// A target's body.
pub type Target = fn(&[u8]);

/// The names of the targets, as `cargo fuzz` and the corpus folders know
/// them, with their bodies.
pub const TARGETS: &[(&str, Target)] = &[
    ("wire", wire),
    ("framing", framing),
    ("log_entry", log_entry),
    ("catalogue", catalogue),
    ("calendar", calendar),
    ("topology", topology),
    ("config", config),
    ("http", http),
    ("peering", peering),
];

/// Polls a future that never waits (it reads bytes already in memory) to
/// its end.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a read from memory waited"),
    }
}

/// A replication message: what decodes encodes and decodes to the same
/// message.
pub fn wire(data: &[u8]) {
    let limits = Limits::default();
    if let Ok(msg) = Message::decode(data, &limits) {
        let again = msg.encode();
        let back = Message::decode(&again, &limits)
            .unwrap_or_else(|e| panic!("a message this node encoded does not decode: {e}"));
        assert_eq!(back, msg, "a message changed in an encode and decode");
    }
}

/// A peering message between two trees' roots, and the hand it may carry:
/// what decodes encodes and decodes to the same message.
pub fn peering(data: &[u8]) {
    use federation::peering::{Hand, PeerMessage};
    let hand = |bytes: &[u8]| {
        if let Ok(h) = Hand::decode(bytes) {
            let back = Hand::decode(&h.encode())
                .unwrap_or_else(|e| panic!("a hand this root encoded does not decode: {e}"));
            assert_eq!(back, h, "a hand changed in an encode and decode");
        }
    };
    hand(data);
    if let Ok(msg) = PeerMessage::decode(data) {
        let back = PeerMessage::decode(&msg.encode())
            .unwrap_or_else(|e| panic!("a message this root encoded does not decode: {e}"));
        assert_eq!(back, msg, "a message changed in an encode and decode");
        if let PeerMessage::Hand { body, .. } = &msg {
            hand(body);
        }
    }
}

/// Bytes handed over in pieces of at most `step` bytes, as a QUIC stream
/// hands them over.
struct Pieces<'a> {
    data: &'a [u8],
    step: usize,
}

impl FrameSource for Pieces<'_> {
    async fn read_into(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<bool, FrameError> {
        if self.data.is_empty() {
            return Ok(false);
        }
        let n = max.min(self.step).min(self.data.len()).max(1);
        buf.extend_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(true)
    }
}

/// A stream of frames: the first byte sets the size of the pieces the
/// stream arrives in and the frame limit (small ones too, so that the
/// refusal of a long frame is reached), the rest is the stream. Every whole
/// frame is decoded as a message.
pub fn framing(data: &[u8]) {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(first % 16) + 1;
    let max = if first & 0x80 == 0 { MAX_FRAME } else { 64 };
    let mut source = Pieces { data: stream, step };
    let limits = Limits::default();
    let mut read = 0usize;
    loop {
        match ready(read_raw_frame(&mut source, max)) {
            Ok(Some(payload)) => {
                assert!(payload.len() <= max, "a frame over the limit was read");
                read += 4 + payload.len();
                assert!(read <= stream.len(), "more was read than was sent");
                let _ = Message::decode(&payload, &limits);
            }
            Ok(None) => {
                assert_eq!(read, stream.len(), "a clean end before the stream's end");
                break;
            }
            Err(FrameError::Truncated | FrameError::FrameTooLarge { .. }) => break,
            Err(e) => panic!("a read from memory failed otherwise: {e}"),
        }
    }
}

/// The starter catalogue as the version every decoded `received` event
/// names (version 1).
fn book() -> &'static Book {
    static BOOK: OnceLock<Book> = OnceLock::new();
    BOOK.get_or_init(|| {
        let cat = node::starter::catalogue().expect("the starter catalogue");
        Book {
            digest: codec::catalogue_digest(&cat),
            catalogue: Arc::new(cat),
        }
    })
}

/// The hall that wrote the fuzzed entries.
const ORIGIN: &str = "nanhai.guicheng.xiaping";

/// A log entry's body and sealed section: the first two bytes give the
/// body's length, the body follows and the sealed section is the rest. What
/// decodes is encoded again and decodes to the same record.
pub fn log_entry(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let n = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 2);
    let (body, personal) = data[2..].split_at(n);
    let book_of = |v: i64| (v == book().catalogue.version).then(|| book().clone());
    let digest_of = |v: i64| (v == book().catalogue.version).then_some(book().digest);
    let _ = codec::decode(body, None, ORIGIN, book_of);
    let Ok(decoded) = codec::decode(body, Some(personal), ORIGIN, book_of) else {
        return;
    };
    // An entry that this node would not write (another hall's actor, a
    // version it does not hold) is refused by the encoder: not a failure.
    let Ok(encoded) = codec::encode(&decoded, ORIGIN, digest_of) else {
        return;
    };
    let back = codec::decode(&encoded.body, Some(&encoded.personal), ORIGIN, book_of)
        .unwrap_or_else(|e| panic!("an entry this node encoded does not decode: {e}"));
    assert_eq!(back, decoded, "an entry changed in an encode and decode");
}

/// A catalogue: TOML text as the starter files are written (first byte
/// even), or the JSON a published version travels in (odd). A catalogue
/// that parses has a digest and is published the same after a JSON round
/// trip.
pub fn catalogue(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let cat = if first % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        match Catalogue::from_toml_texts(1, [("fuzz.toml", text)]) {
            Ok(c) => c,
            Err(_) => return,
        }
    } else {
        let Ok(c) = serde_json::from_slice::<Catalogue>(rest) else {
            return;
        };
        if c.validate().is_err() {
            return;
        }
        c
    };
    let digest = codec::catalogue_digest(&cat);
    let json = serde_json::to_string(&cat).expect("a catalogue serializes");
    let back: Catalogue = serde_json::from_str(&json).expect("a catalogue reads back");
    back.validate()
        .expect("a valid catalogue is valid after a round trip");
    assert_eq!(codec::catalogue_digest(&back), digest, "the digest moved");
}

/// A year's holiday calendar in TOML. One that loads writes back to TOML
/// that loads the same, and every deadline computed over its year (from
/// each day, a limit of 0 to 30 working days) lands on a working day no
/// earlier than the start.
pub fn calendar(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(year) = YearCalendar::from_toml(text) else {
        return;
    };
    let toml = year.to_toml().expect("a loaded year writes back");
    let back = YearCalendar::from_toml(&toml).expect("a written year loads");
    assert_eq!(back, year, "a year changed in a TOML round trip");
    let cal = Calendar::from_years([year.clone()]).expect("one valid year is a calendar");
    let Some(first) = chrono::NaiveDate::from_ymd_opt(year.year, 1, 1) else {
        return;
    };
    let days = first
        .iter_days()
        .take_while(|d| chrono::Datelike::year(d) == year.year);
    for (i, start) in days.enumerate().step_by(7) {
        let n = u32::try_from(i % 31).unwrap_or(0);
        let due = deadline::due(start, n, deadline::TimeUnit::WorkingDays, &cal, &[], 0);
        if let Some(d) = due.date {
            assert!(d >= start, "a due date before its start");
            if n > 0 && due.missing_years.is_empty() {
                assert!(cal.is_working_day(d), "due on a day off");
            }
        }
        let _ = deadline::working_days_left(&cal, start, start + chrono::Days::new(40));
    }
}

/// A topology file, as `onewindow-deploy topology` reads it.
pub fn topology(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = deploy::topology::Topology::parse(text);
    }
}

/// A node's configuration file, loaded the way a node loads its own (from a
/// file, over the defaults).
pub fn config(data: &[u8]) {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"));
    let path = dir.path().join("node.toml");
    std::fs::write(&path, data).expect("write the configuration");
    let _ = node::config::Config::load(Some(&path));
}

/// The HTTP target's hall, its routes with a JSON body and the tokens of
/// its staff.
struct Http {
    runtime: tokio::runtime::Runtime,
    app: Mutex<axum::Router>,
    routes: Vec<(axum::http::Method, String)>,
    tokens: Mutex<Vec<String>>,
    _hall: crate::hall::TestNode,
}

/// The usernames the HTTP target acts as, one per role (and none).
const ACTORS: &[(&str, &str, Option<&str>)] = &[
    ("fuzz.clerk", "clerk", None),
    ("fuzz.approver", "approver", Some("minzheng")),
    ("fuzz.supervisor", "supervisor", None),
];

fn http_harness() -> &'static Http {
    static HTTP: OnceLock<Http> = OnceLock::new();
    HTTP.get_or_init(|| {
        // One thread: the hall's tasks run only inside `block_on`, so a
        // request costs no hand-off between threads.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (hall, tokens, case_id) = runtime.block_on(async {
            let hall = crate::hall::start("nanhai").await;
            let base = hall.node.url();
            let admin = crate::Api::login(&base, "admin", crate::ADMIN_PASSWORD).await;
            let mut tokens = vec![String::new(), token_of(admin.client())];
            for (user, role, department) in ACTORS {
                crate::hall::ensure_staff(admin.client(), user, user, role, *department).await;
                let api = crate::Api::login(&base, user, crate::STAFF_PASSWORD).await;
                tokens.push(token_of(api.client()));
            }
            let clerk = crate::Api::login(&base, ACTORS[0].0, crate::STAFF_PASSWORD).await;
            let cat = clerk.get_ok("/api/v1/catalogue").await;
            let matter = cat["matters"]
                .as_array()
                .and_then(|ms| {
                    ms.iter()
                        .find(|m| m["decided_here"] == true && m["immediate"] == false)
                })
                .expect("a committed matter")
                .clone();
            let sub = crate::complete_submission(&matter, "11010519491231002X");
            let case = clerk.post_ok("/api/v1/cases", &sub).await;
            let case_id = case["case_number"].as_str().expect("a number").to_owned();
            (hall, tokens, case_id)
        });
        let app = node::router(Arc::clone(&hall.node.node));
        let routes = json_routes(&case_id);
        Http {
            runtime,
            app: Mutex::new(app),
            routes,
            tokens: Mutex::new(tokens),
            _hall: hall,
        }
    })
}

fn token_of(c: &onewindow_client::Client) -> String {
    c.token().expect("a logged-in client").to_owned()
}

/// Every operation of the API document that takes a JSON body, with its
/// path's parameters filled (a case of the hall, its own node id, ...).
fn json_routes(case_id: &str) -> Vec<(axum::http::Method, String)> {
    let doc = serde_json::to_value(node::api::api_router().1).expect("the API document");
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            if op["requestBody"]["content"]["application/json"].is_null() {
                continue;
            }
            let Ok(m) = method.to_uppercase().parse::<axum::http::Method>() else {
                continue;
            };
            let filled = path
                .replace("{number}", case_id)
                .replace("{version}", "1")
                .replace("{id}", "1")
                .replace("{node}", "nanhai")
                .replace("{username}", "fuzz.clerk")
                .replace("{year}", "2026")
                .replace("{code}", "NH-MZ-001");
            routes.push((m, filled));
        }
    }
    routes.sort();
    assert!(!routes.is_empty(), "the API document lists no JSON body");
    routes
}

/// A JSON body sent to one of the API's routes: the first byte picks the
/// route, the second who sends it (nobody, an administrator, a clerk, an
/// approver, a supervisor), the rest is the body. No answer may be a server
/// error.
pub fn http(data: &[u8]) {
    use tower::ServiceExt;
    let [route, who, body @ ..] = data else {
        return;
    };
    let h = http_harness();
    let (method, path) = &h.routes[usize::from(*route) % h.routes.len()];
    let token = {
        let tokens = h.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens[usize::from(*who) % tokens.len()].clone()
    };
    let mut req = axum::http::Request::builder()
        .method(method.clone())
        .uri(path.as_str())
        .header("content-type", "application/json");
    if !token.is_empty() {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let req = req
        .body(axum::body::Body::from(body.to_vec()))
        .expect("a request");
    let app = h.app.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let resp = h
        .runtime
        .block_on(app.oneshot(req))
        .expect("the router answers");
    let status = resp.status();
    assert!(
        !status.is_server_error(),
        "{method} {path} answered {status} to {:?}",
        String::from_utf8_lossy(body)
    );
}
