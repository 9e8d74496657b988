//! The fault-injecting relay between a UDP client and a UDP echo server.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onewindow_federation::relay::{Direction, LinkShape, Relay, RelayStats};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const TEST_TIMEOUT: Duration = Duration::from_secs(30);

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn shape(text: &str) -> LinkShape {
    LinkShape::parse(text).unwrap()
}

/// Runs a test body under the suite's timeout.
async fn within<F: Future<Output = ()>>(test: F) {
    timeout(TEST_TIMEOUT, test).await.expect("test timed out");
}

/// A UDP echo server; also records the addresses it heard from.
async fn echo_server() -> (SocketAddr, Arc<Mutex<HashSet<SocketAddr>>>) {
    let socket = UdpSocket::bind(any_port()).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let peers = Arc::new(Mutex::new(HashSet::new()));
    let seen = peers.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            seen.lock().unwrap().insert(from);
            let _ = socket.send_to(&buf[..len], from).await;
        }
    });
    (addr, peers)
}

/// An echo server behind a relay with these shapes, and a client socket.
async fn setup(up: &str, down: &str) -> (Relay, UdpSocket) {
    let (echo, _) = echo_server().await;
    let relay = Relay::start_seeded(any_port(), echo, shape(up), shape(down), 1)
        .await
        .unwrap();
    let client = UdpSocket::bind(any_port()).await.unwrap();
    (relay, client)
}

async fn send(client: &UdpSocket, relay: &Relay, payload: &[u8]) {
    client.send_to(payload, relay.local_addr()).await.unwrap();
}

async fn recv(client: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_536];
    let (len, _) = client.recv_from(&mut buf).await.unwrap();
    buf.truncate(len);
    buf
}

async fn recv_n(client: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.push(recv(client).await);
    }
    out
}

/// Waits until the relay's counters satisfy `done`.
async fn wait_for(relay: &Relay, done: impl Fn(&RelayStats) -> bool) -> RelayStats {
    loop {
        let stats = relay.stats();
        if done(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn payload(i: usize) -> Vec<u8> {
    format!("datagram {i}").into_bytes()
}

#[tokio::test]
async fn perfect_link_echoes_everything() {
    within(async {
        let (relay, client) = setup("perfect", "perfect").await;
        for i in 0..100 {
            send(&client, &relay, &payload(i)).await;
        }
        let got: HashSet<Vec<u8>> = recv_n(&client, 100).await.into_iter().collect();
        let sent: HashSet<Vec<u8>> = (0..100).map(payload).collect();
        assert_eq!(got, sent);
        let stats = relay.stats();
        assert_eq!(stats.up.forwarded_packets, 100);
        assert_eq!(stats.down.forwarded_packets, 100);
        assert_eq!(stats.clients, 1);
    })
    .await;
}

#[tokio::test]
async fn total_loss_drops_until_the_shape_changes() {
    within(async {
        let (relay, client) = setup("loss=100%", "perfect").await;
        for i in 0..20 {
            send(&client, &relay, &payload(i)).await;
        }
        let stats = wait_for(&relay, |s| s.up.dropped_packets == 20).await;
        assert_eq!(stats.up.forwarded_packets, 0);
        assert_eq!(stats.down.received_packets, 0);

        relay.set_shape(Direction::Up, shape("loss=0%"));
        assert!(relay.shape(Direction::Up).is_perfect());
        send(&client, &relay, b"through").await;
        // Nothing lost earlier comes back first.
        assert_eq!(recv(&client).await, b"through");
    })
    .await;
}

#[tokio::test]
async fn blackhole_cuts_and_restores_the_link() {
    within(async {
        let (relay, client) = setup("perfect", "perfect").await;
        relay.set_blackhole(true);
        assert!(relay.is_blackholed());
        for i in 0..10 {
            send(&client, &relay, &payload(i)).await;
        }
        let stats = wait_for(&relay, |s| s.up.dropped_packets == 10).await;
        assert_eq!(stats.up.forwarded_packets, 0);

        relay.set_blackhole(false);
        send(&client, &relay, b"back").await;
        assert_eq!(recv(&client).await, b"back");
    })
    .await;
}

#[tokio::test]
async fn blackhole_drops_what_is_already_in_the_link() {
    within(async {
        let (relay, client) = setup("perfect", "delay=500ms").await;
        send(&client, &relay, b"doomed").await;
        // The reply is waiting out its delay on the way down.
        wait_for(&relay, |s| s.down.received_packets == 1).await;
        relay.set_blackhole(true);
        let stats = wait_for(&relay, |s| s.down.dropped_packets == 1).await;
        assert_eq!(stats.down.forwarded_packets, 0);

        relay.set_blackhole(false);
        relay.set_shape(Direction::Down, LinkShape::perfect());
        send(&client, &relay, b"survivor").await;
        assert_eq!(recv(&client).await, b"survivor");
    })
    .await;
}

#[tokio::test]
async fn one_way_blackhole_in_a_shape() {
    within(async {
        let (relay, client) = setup("perfect", "blackhole").await;
        send(&client, &relay, b"lost on the way back").await;
        let stats = wait_for(&relay, |s| s.down.dropped_packets == 1).await;
        assert_eq!(stats.up.forwarded_packets, 1);
        relay.set_shape(Direction::Down, LinkShape::perfect());
        send(&client, &relay, b"home").await;
        assert_eq!(recv(&client).await, b"home");
    })
    .await;
}

/// Nothing is waiting at the client.
fn nothing_arrived(client: &UdpSocket) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        client.try_recv_from(&mut buf),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    )
}

#[tokio::test]
async fn delay_holds_each_direction() {
    within(async {
        // An hour on the way up: the datagram is in the link, not past it.
        let (relay, client) = setup("delay=3600s", "perfect").await;
        send(&client, &relay, b"held up").await;
        let stats = wait_for(&relay, |s| s.up.received_packets == 1).await;
        assert_eq!(stats.up.in_flight(), 1, "{stats:?}");
        assert_eq!(stats.up.forwarded_packets, 0, "{stats:?}");
        assert_eq!(stats.down.received_packets, 0, "{stats:?}");
        assert!(nothing_arrived(&client));

        // An hour on the way down: the echo answered, its reply is held.
        let (relay, client) = setup("perfect", "delay=3600s").await;
        send(&client, &relay, b"held down").await;
        let stats = wait_for(&relay, |s| s.down.received_packets == 1).await;
        assert_eq!(stats.up.forwarded_packets, 1, "{stats:?}");
        assert_eq!(stats.down.in_flight(), 1, "{stats:?}");
        assert_eq!(stats.down.forwarded_packets, 0, "{stats:?}");
        assert!(nothing_arrived(&client));

        // A delay that ends lets every datagram through, intact and in order
        // (when is the link model's to say: `relay::link`'s tests).
        let (relay, client) = setup("rtt=400ms", "rtt=400ms").await;
        for i in 0..3 {
            send(&client, &relay, &payload(i)).await;
            assert_eq!(recv(&client).await, payload(i));
        }
        let stats = relay.stats();
        assert_eq!(stats.up.forwarded_packets, 3);
        assert_eq!(stats.down.forwarded_packets, 3);
    })
    .await;
}

#[tokio::test]
async fn rate_cap_paces_a_transfer() {
    within(async {
        let (relay, client) = setup("rate=1mbit", "perfect").await;
        // 200 datagrams of 1000 bytes with at most 50 outstanding, well inside
        // the one-second queue (125 000 bytes at 1 Mbit/s).
        let total = 200;
        let window = 50;
        let datagram = |i: usize| {
            let mut data = vec![0u8; 1000];
            data[..8].copy_from_slice(&(i as u64).to_be_bytes());
            data
        };
        let mut sent = 0;
        let mut received = Vec::new();
        while sent < window {
            send(&client, &relay, &datagram(sent)).await;
            sent += 1;
        }
        // The relay has taken the whole window but passes one datagram per
        // 8 ms: the window (400 ms of sending) is queued in the link, not
        // forwarded at once as a link without a rate would.
        let queued = wait_for(&relay, |s| s.up.received_packets == window as u64).await;
        assert!(queued.up.in_flight() > 0, "{queued:?}");
        assert!(queued.up.forwarded_packets < window as u64, "{queued:?}");
        while received.len() < total {
            let reply = recv(&client).await;
            assert_eq!(reply.len(), 1000);
            received.push(u64::from_be_bytes(reply[..8].try_into().unwrap()));
            if sent < total {
                send(&client, &relay, &datagram(sent)).await;
                sent += 1;
            }
        }
        // One queue, one datagram at a time: they leave in the order sent.
        assert_eq!(received, (0..total as u64).collect::<Vec<_>>());
        let stats = relay.stats();
        assert_eq!(stats.up.forwarded_bytes, 200_000);
        assert_eq!(stats.up.dropped_packets, 0);
    })
    .await;
}

#[tokio::test]
async fn rate_queue_drops_the_tail() {
    within(async {
        // 100 kbit/s queue at most one second: 12 500 bytes.
        let (relay, client) = setup("rate=100kbit", "perfect").await;
        for i in 0..40 {
            let mut data = vec![0u8; 1000];
            data[..8].copy_from_slice(&(i as u64).to_be_bytes());
            send(&client, &relay, &data).await;
        }
        let stats = wait_for(&relay, |s| {
            s.up.received_packets == 40 && s.up.in_flight() == 0
        })
        .await;
        assert!(stats.up.overflow_packets >= 20, "{stats:?}");
        assert_eq!(stats.up.dropped_packets, stats.up.overflow_packets);
        assert_eq!(stats.up.forwarded_packets + stats.up.dropped_packets, 40);
        let stats = wait_for(&relay, |s| {
            s.down.received_packets == stats.up.forwarded_packets && s.down.in_flight() == 0
        })
        .await;
        let replies = recv_n(&client, stats.down.forwarded_packets as usize).await;
        assert!(replies.iter().all(|reply| reply.len() == 1000));
    })
    .await;
}

#[tokio::test]
async fn jitter_reorders_but_delivers() {
    within(async {
        let (relay, client) = setup("delay=10ms,jitter=10ms", "perfect").await;
        for i in 0..200 {
            send(&client, &relay, &payload(i)).await;
        }
        let got: HashSet<Vec<u8>> = recv_n(&client, 200).await.into_iter().collect();
        assert_eq!(got.len(), 200);
        assert_eq!(relay.stats().up.dropped_packets, 0);
    })
    .await;
}

#[tokio::test]
async fn full_duplication_delivers_twice() {
    within(async {
        let (relay, client) = setup("dup=100%", "perfect").await;
        for i in 0..10 {
            send(&client, &relay, &payload(i)).await;
        }
        let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
        for reply in recv_n(&client, 20).await {
            *counts.entry(reply).or_default() += 1;
        }
        assert_eq!(counts.len(), 10);
        assert!(counts.values().all(|&n| n == 2), "{counts:?}");
        let stats = wait_for(&relay, |s| s.down.forwarded_packets == 20).await;
        assert_eq!(stats.up.received_packets, 10);
        assert_eq!(stats.up.duplicated_packets, 10);
        assert_eq!(stats.up.forwarded_packets, 20);
        assert_eq!(stats.down.duplicated_packets, 0);
    })
    .await;
}

#[tokio::test]
async fn clients_get_their_own_replies() {
    within(async {
        let (echo, peers) = echo_server().await;
        let relay = Relay::start(any_port(), echo, LinkShape::perfect(), LinkShape::perfect())
            .await
            .unwrap();
        let alice = UdpSocket::bind(any_port()).await.unwrap();
        let bob = UdpSocket::bind(any_port()).await.unwrap();
        for i in 0..20 {
            send(&alice, &relay, format!("alice {i}").as_bytes()).await;
            send(&bob, &relay, format!("bob {i}").as_bytes()).await;
        }
        let (to_alice, to_bob) = tokio::join!(recv_n(&alice, 20), recv_n(&bob, 20));
        assert!(to_alice.iter().all(|reply| reply.starts_with(b"alice ")));
        assert!(to_bob.iter().all(|reply| reply.starts_with(b"bob ")));
        assert_eq!(to_alice.iter().collect::<HashSet<_>>().len(), 20);
        assert_eq!(to_bob.iter().collect::<HashSet<_>>().len(), 20);
        // The upstream sees one address per client, none of them the relay's.
        let peers = peers.lock().unwrap().clone();
        assert_eq!(peers.len(), 2);
        assert!(!peers.contains(&relay.local_addr()));
        assert_eq!(relay.stats().clients, 2);
    })
    .await;
}

/// Sends 200 datagrams through a lossy relay with this seed; returns what
/// came back and the final counters.
async fn lossy_run(seed: u64) -> (HashSet<Vec<u8>>, RelayStats) {
    let (echo, _) = echo_server().await;
    let relay = Relay::start_seeded(any_port(), echo, shape("loss=30%"), shape("loss=30%"), seed)
        .await
        .unwrap();
    let client = UdpSocket::bind(any_port()).await.unwrap();
    let sizes = |i: usize| 20 + i % 100;
    for i in 0..200 {
        let mut data = payload(i);
        data.resize(sizes(i), b'.');
        send(&client, &relay, &data).await;
    }
    let up = wait_for(&relay, |s| {
        s.up.received_packets == 200 && s.up.in_flight() == 0
    })
    .await
    .up;
    let stats = wait_for(&relay, |s| {
        s.down.received_packets == up.forwarded_packets && s.down.in_flight() == 0
    })
    .await;
    let sent_bytes: u64 = (0..200).map(|i| sizes(i) as u64).sum();
    assert_eq!(stats.up.received_bytes, sent_bytes);
    assert_eq!(stats.up.forwarded_packets + stats.up.dropped_packets, 200);
    assert_eq!(
        stats.up.forwarded_bytes + stats.up.dropped_bytes,
        sent_bytes
    );
    assert_eq!(stats.down.received_bytes, stats.up.forwarded_bytes);
    assert_eq!(
        stats.down.forwarded_packets + stats.down.dropped_packets,
        stats.down.received_packets
    );
    assert_eq!(
        stats.up.duplicated_packets + stats.down.duplicated_packets,
        0
    );
    assert_eq!(stats.up.overflow_packets + stats.down.overflow_packets, 0);
    let replies = recv_n(&client, stats.down.forwarded_packets as usize).await;
    let bytes: u64 = replies.iter().map(|reply| reply.len() as u64).sum();
    assert_eq!(bytes, stats.down.forwarded_bytes);
    (replies.into_iter().collect(), stats)
}

#[tokio::test]
async fn stats_count_what_happened_and_seeds_repeat() {
    within(async {
        let (first, stats) = lossy_run(7).await;
        // About 30 % lost each way.
        assert!(
            (100..180).contains(&stats.up.forwarded_packets),
            "{stats:?}"
        );
        assert!(stats.down.dropped_packets > 0, "{stats:?}");
        assert_eq!(first.len() as u64, stats.down.forwarded_packets);

        let (again, _) = lossy_run(7).await;
        assert_eq!(first, again);
        let (other, _) = lossy_run(8).await;
        assert_ne!(first, other);
    })
    .await;
}

#[tokio::test]
async fn shutdown_stops_relaying() {
    within(async {
        let (relay, client) = setup("perfect", "perfect").await;
        send(&client, &relay, b"before").await;
        assert_eq!(recv(&client).await, b"before");
        let addr = relay.local_addr();
        relay.shutdown();
        drop(relay);
        // The port is released once the tasks are gone.
        let rebound = loop {
            match UdpSocket::bind(addr).await {
                Ok(socket) => break socket,
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        };
        drop(rebound);
    })
    .await;
}
