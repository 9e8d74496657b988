//! The QUIC transport over real UDP on 127.0.0.1: mutual TLS, refusals and
//! their security events, framing.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use onewindow_federation::identity::{
    FederationCa, KeyRequest, NodeCredentials, node_id_of, serial_of,
};
use onewindow_federation::transport::{
    CLOSE_REFUSED, CLOSE_REPLACED, Client, FrameError, MAX_FRAME, PeerConnection, PeerPolicy,
    Refusal, SecurityEvent, SecurityKind, Server, TransportConfig, TransportError,
};
use onewindow_federation::{IdentityError, NodeId};
use serde::{Deserialize, Serialize};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Every test runs under this bound; none should come near it.
async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test timed out")
}

/// The parent's view of who may connect: registered children, minus revoked
/// serials.
struct Registry {
    children: HashSet<NodeId>,
    revoked: HashSet<String>,
}

impl PeerPolicy for Registry {
    fn admit(&self, peer: &NodeId, serial: &str) -> Result<(), Refusal> {
        if !self.children.contains(peer) {
            return Err(Refusal::NotAChild(peer.to_string()));
        }
        if self.revoked.contains(serial) {
            return Err(Refusal::Revoked(format!("serial {serial}")));
        }
        Ok(())
    }
}

fn registry(children: &[&NodeId], revoked: &[String]) -> Arc<dyn PeerPolicy> {
    Arc::new(Registry {
        children: children.iter().map(|c| (*c).clone()).collect(),
        revoked: revoked.iter().cloned().collect(),
    })
}

/// A federation: its CA, a township parent and its village child.
struct Fed {
    ca: FederationCa,
    parent: NodeId,
    child: NodeId,
}

impl Fed {
    fn new() -> Self {
        Fed {
            ca: FederationCa::generate("Nanhai federation CA").unwrap(),
            parent: id("nanhai.guicheng"),
            child: id("nanhai.guicheng.xiaping"),
        }
    }

    fn creds(&self, node: &NodeId) -> NodeCredentials {
        self.ca.issue_for_days(node, 30).unwrap()
    }

    fn expired(&self, node: &NodeId) -> NodeCredentials {
        let now = SystemTime::now();
        self.ca.issue(node, now - 10 * DAY, now - DAY).unwrap()
    }

    /// A certificate for `node` from a CA that is not the federation's, held
    /// by someone who knows the (public) federation CA certificate, so that
    /// the handshake reaches the point where the parent judges the child.
    fn foreign(&self, node: &NodeId) -> NodeCredentials {
        let other = FederationCa::generate("Nanhai federation CA").unwrap();
        let mut creds = other.issue_for_days(node, 30).unwrap();
        creds.ca_pem = self.ca.cert_pem().to_owned();
        creds
    }

    fn server(
        &self,
        policy: Arc<dyn PeerPolicy>,
        cfg: TransportConfig,
    ) -> (Server, mpsc::UnboundedReceiver<SecurityEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let server = Server::bind(localhost(), &self.creds(&self.parent), policy, tx, cfg).unwrap();
        (server, rx)
    }

    fn open_server(&self) -> (Server, mpsc::UnboundedReceiver<SecurityEvent>) {
        self.server(registry(&[&self.child], &[]), TransportConfig::default())
    }

    async fn connect(
        &self,
        creds: &NodeCredentials,
        server: &Server,
    ) -> Result<PeerConnection, TransportError> {
        let client = Client::new(creds, TransportConfig::default()).unwrap();
        client.connect(server.local_addr(), &self.parent).await
    }
}

/// The next security event.
async fn next_event(rx: &mut mpsc::UnboundedReceiver<SecurityEvent>) -> SecurityEvent {
    rx.recv().await.expect("security channel closed")
}

/// Closes the server and returns every security event it ever sent (the
/// channel ends when the server's tasks are gone).
async fn all_events(
    server: Server,
    mut rx: mpsc::UnboundedReceiver<SecurityEvent>,
) -> Vec<SecurityEvent> {
    server.close();
    drop(server);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    events
}

/// A client the parent refused after the handshake learns it: either the
/// connect fails, or the connection it got is closed with `CLOSE_REFUSED`
/// or a TLS alert.
async fn assert_refused(result: Result<PeerConnection, TransportError>) {
    if let Ok(conn) = result {
        let error = conn.closed().await;
        if let quinn::ConnectionError::ApplicationClosed(close) = &error {
            assert_eq!(close.error_code, CLOSE_REFUSED.into());
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ping {
    seq: u64,
    text: String,
}

#[tokio::test]
async fn good_child_connects_and_frames_flow_both_ways() {
    within(async {
        let fed = Fed::new();
        let (server, events) = fed.open_server();
        let creds = fed.creds(&fed.child);
        let client = Client::new(&creds, TransportConfig::default()).unwrap();
        let at_child = client
            .connect(server.local_addr(), &fed.parent)
            .await
            .unwrap();
        assert_eq!(at_child.peer, fed.parent);

        let mut up = at_child.open_stream().await.unwrap();
        let hello = Ping {
            seq: 1,
            text: "来自下坪村".into(),
        };
        up.send(&hello).await.unwrap();

        let at_parent = server.accept().await.unwrap();
        assert_eq!(at_parent.peer, fed.child, "id comes from the certificate");
        assert_eq!(at_parent.serial, creds.serial().unwrap());
        let mut down = at_parent.accept_stream().await.unwrap();
        assert_eq!(down.recv::<Ping>().await.unwrap(), Some(hello));
        let reply = Ping {
            seq: 2,
            text: "ack".into(),
        };
        down.send(&reply).await.unwrap();
        down.finish().unwrap();

        assert_eq!(up.recv::<Ping>().await.unwrap(), Some(reply));
        assert_eq!(up.recv::<Ping>().await.unwrap(), None, "finished cleanly");
        up.finish().unwrap();
        assert_eq!(down.recv::<Ping>().await.unwrap(), None);
        // After round trips the estimate is a measurement, not quinn's
        // initial guess (333 ms) and not zero.
        let rtt = at_child.rtt();
        assert!(rtt > Duration::ZERO);
        assert_ne!(rtt, Duration::from_millis(333), "no sample taken");

        at_child.close("done");
        assert!(at_parent.accept_stream().await.is_none());
        assert!(all_events(server, events).await.is_empty());
    })
    .await
}

#[tokio::test]
async fn a_child_that_made_its_own_key_connects_with_the_signed_request() {
    within(async {
        let fed = Fed::new();
        let (server, events) = fed.open_server();
        // The hall makes its key pair and a request; the CA signs the
        // request; the private key never left the hall.
        let request = KeyRequest::generate(&fed.child).unwrap();
        let cert_pem = fed
            .ca
            .sign_request(&request.request_pem, &fed.child, 30)
            .unwrap();
        let creds = NodeCredentials {
            node: fed.child.clone(),
            cert_pem,
            key_pem: request.key_pem,
            ca_pem: fed.ca.cert_pem().to_owned(),
        };
        let conn = fed.connect(&creds, &server).await.unwrap();
        let admitted = server.accept().await.unwrap();
        assert_eq!(admitted.peer, fed.child);
        assert_eq!(admitted.serial, creds.serial().unwrap());
        conn.close("done");
        assert!(all_events(server, events).await.is_empty());
    })
    .await
}

#[tokio::test]
async fn a_renewed_server_certificate_is_presented_to_the_next_child() {
    within(async {
        let fed = Fed::new();
        let (server, events) = fed.open_server();
        let child = fed.creds(&fed.child);
        let before = fed.connect(&child, &server).await.unwrap();
        let old_serial = before.serial.clone();
        let _ = server.accept().await.unwrap();
        let renewed = fed.creds(&fed.parent);
        server.reload(&renewed).unwrap();
        let after = fed.connect(&child, &server).await.unwrap();
        let _ = server.accept().await.unwrap();
        assert_eq!(after.serial, renewed.serial().unwrap());
        assert_ne!(after.serial, old_serial);
        // Another node's certificate is not taken.
        assert!(server.reload(&fed.creds(&fed.child)).is_err());
        after.close("done");
        before.close("done");
        assert!(all_events(server, events).await.is_empty());
    })
    .await
}

#[tokio::test]
async fn child_from_another_ca_is_refused_and_the_loop_lives_on() {
    within(async {
        let fed = Fed::new();
        let (server, mut events) = fed.open_server();

        assert_refused(fed.connect(&fed.foreign(&fed.child), &server).await).await;
        let event = next_event(&mut events).await;
        assert_eq!(event.kind, SecurityKind::UnknownCa, "{event:?}");
        assert_eq!(event.claimed, Some(fed.child.clone()));
        assert!(event.remote.ip().is_loopback());

        let good = fed.connect(&fed.creds(&fed.child), &server).await.unwrap();
        let admitted = server.accept().await.unwrap();
        assert_eq!(admitted.peer, fed.child);
        good.close("done");
        assert_eq!(all_events(server, events).await.len(), 0);
    })
    .await
}

#[tokio::test]
async fn expired_child_certificate_is_refused() {
    within(async {
        let fed = Fed::new();
        let (server, mut events) = fed.open_server();
        assert_refused(fed.connect(&fed.expired(&fed.child), &server).await).await;
        let event = next_event(&mut events).await;
        assert_eq!(event.kind, SecurityKind::Expired, "{event:?}");
        assert_eq!(event.claimed, Some(fed.child.clone()));
        assert!(all_events(server, events).await.is_empty());
    })
    .await
}

#[tokio::test]
async fn policy_refuses_unregistered_and_revoked_children() {
    within(async {
        let fed = Fed::new();
        let stranger = id("nanhai.dali.xiaping");
        let revoked = fed.creds(&fed.child);
        let (server, mut events) = fed.server(
            registry(&[&fed.child], &[revoked.serial().unwrap()]),
            TransportConfig::default(),
        );

        assert_refused(fed.connect(&fed.creds(&stranger), &server).await).await;
        let event = next_event(&mut events).await;
        assert_eq!(event.kind, SecurityKind::NotAChild, "{event:?}");
        assert_eq!(event.claimed, Some(stranger));

        assert_refused(fed.connect(&revoked, &server).await).await;
        let event = next_event(&mut events).await;
        assert_eq!(event.kind, SecurityKind::Revoked, "{event:?}");
        assert_eq!(event.claimed, Some(fed.child.clone()));
        assert!(event.detail.contains(&revoked.serial().unwrap()));

        // A fresh certificate for the same child is let in.
        let good = fed.connect(&fed.creds(&fed.child), &server).await.unwrap();
        assert_eq!(server.accept().await.unwrap().peer, fed.child);
        good.close("done");
        assert!(all_events(server, events).await.is_empty());
    })
    .await
}

#[tokio::test]
async fn client_refuses_a_server_that_is_not_its_parent() {
    within(async {
        let fed = Fed::new();
        let district = id("nanhai");
        // The server is the township; the child believes it dials the district.
        let (server, mut events) = fed.open_server();
        let client = Client::new(&fed.creds(&fed.child), TransportConfig::default()).unwrap();
        match client.connect(server.local_addr(), &district).await {
            Err(TransportError::Refused { kind, detail }) => {
                assert_eq!(kind, SecurityKind::WrongNode);
                assert!(detail.contains("nanhai.guicheng"), "{detail}");
            }
            other => panic!("expected WrongNode, got {other:?}"),
        }
        // The parent sees a peer that gave up on it, once.
        let event = next_event(&mut events).await;
        assert_eq!(event.kind, SecurityKind::HandshakeFailed, "{event:?}");

        // A server from another CA, and an expired server certificate.
        let other = Fed::new();
        let (foreign, _) = other.open_server();
        match client.connect(foreign.local_addr(), &fed.parent).await {
            Err(TransportError::Refused { kind, .. }) => assert_eq!(kind, SecurityKind::UnknownCa),
            other => panic!("expected UnknownCa, got {other:?}"),
        }
        let (tx, _stale_events) = mpsc::unbounded_channel();
        let stale = Server::bind(
            localhost(),
            &fed.expired(&fed.parent),
            registry(&[&fed.child], &[]),
            tx,
            TransportConfig::default(),
        )
        .unwrap();
        match client.connect(stale.local_addr(), &fed.parent).await {
            Err(TransportError::Refused { kind, .. }) => assert_eq!(kind, SecurityKind::Expired),
            other => panic!("expected Expired, got {other:?}"),
        }

        // The right parent is accepted by the same client.
        let conn = client
            .connect(server.local_addr(), &fed.parent)
            .await
            .unwrap();
        assert_eq!(server.accept().await.unwrap().peer, fed.child);
        conn.close("done");
        assert!(all_events(server, events).await.is_empty());
    })
    .await
}

#[tokio::test]
async fn twenty_bad_peers_at_once_do_not_keep_a_good_one_out() {
    within(async {
        let fed = Arc::new(Fed::new());
        let (server, events) = fed.open_server();
        let addr = server.local_addr();

        let mut bad = Vec::new();
        for i in 0..20 {
            let creds = if i % 2 == 0 {
                fed.foreign(&fed.child)
            } else {
                fed.expired(&fed.child)
            };
            let fed = fed.clone();
            bad.push(tokio::spawn(async move {
                let client = Client::new(&creds, TransportConfig::default()).unwrap();
                assert_refused(client.connect(addr, &fed.parent).await).await;
            }));
        }
        let client = Client::new(&fed.creds(&fed.child), TransportConfig::default()).unwrap();
        let good = client.connect(addr, &fed.parent).await.unwrap();
        let admitted = server.accept().await.unwrap();
        assert_eq!(admitted.peer, fed.child);
        for task in bad {
            task.await.unwrap();
        }
        good.close("done");

        let events = all_events(server, events).await;
        assert_eq!(events.len(), 20, "{events:#?}");
        let count = |kind| events.iter().filter(|e| e.kind == kind).count();
        assert_eq!(count(SecurityKind::UnknownCa), 10);
        assert_eq!(count(SecurityKind::Expired), 10);
        assert!(
            events
                .iter()
                .all(|e| e.claimed.as_ref() == Some(&fed.child))
        );
    })
    .await
}

#[tokio::test]
async fn frames_over_the_limit_are_refused() {
    within(async {
        let fed = Fed::new();
        let (server, _events) = fed.open_server();
        let child = fed.connect(&fed.creds(&fed.child), &server).await.unwrap();
        let parent = server.accept().await.unwrap();

        // Each part's streams are dropped at its end: the parent grants only
        // `max_bidi_streams` (2) open at once.

        // The sender refuses to serialize past the limit, and sends nothing:
        // the stream still works.
        {
            let mut up = child.open_stream().await.unwrap();
            let too_big = "x".repeat(MAX_FRAME);
            assert!(matches!(
                up.send(&too_big).await,
                Err(FrameError::MessageTooLarge { max: MAX_FRAME })
            ));
            up.send(&"after the refusal").await.unwrap();
            let mut down = parent.accept_stream().await.unwrap();
            assert_eq!(
                down.recv::<String>().await.unwrap().as_deref(),
                Some("after the refusal")
            );
        }

        // A peer that announces 4 GiB is refused on the header alone: only
        // the four header bytes and a few more are ever sent, so the receiver
        // cannot have waited for (or allocated) the announced body.
        {
            let (mut send, _recv) = child.conn.open_bi().await.unwrap();
            send.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
            send.write_all(b"{\"a\":").await.unwrap();
            let mut down = parent.accept_stream().await.unwrap();
            match down.recv::<serde_json::Value>().await {
                Err(FrameError::FrameTooLarge { len, max }) => {
                    assert_eq!(len, u64::from(u32::MAX));
                    assert_eq!(max, MAX_FRAME);
                }
                other => panic!("expected FrameTooLarge, got {other:?}"),
            }
        }

        // One byte over the limit is refused too; the connection lives on.
        {
            let (mut send, _recv) = child.conn.open_bi().await.unwrap();
            let over = u32::try_from(MAX_FRAME + 1).unwrap();
            send.write_all(&over.to_be_bytes()).await.unwrap();
            let mut down = parent.accept_stream().await.unwrap();
            assert!(matches!(
                down.recv::<serde_json::Value>().await,
                Err(FrameError::FrameTooLarge { .. })
            ));
        }
        let mut again = child.open_stream().await.unwrap();
        again.send(&"still here").await.unwrap();
        let mut down = parent.accept_stream().await.unwrap();
        assert_eq!(
            down.recv::<String>().await.unwrap().as_deref(),
            Some("still here")
        );
        child.close("done");
    })
    .await
}

/// One frame each way on a new stream, opened by the child.
async fn round_trip(child: &PeerConnection, parent: &PeerConnection, seq: u64) {
    let mut up = child.open_stream().await.unwrap();
    let ping = Ping {
        seq,
        text: "ping".into(),
    };
    up.send(&ping).await.unwrap();
    let mut down = parent.accept_stream().await.unwrap();
    assert_eq!(down.recv::<Ping>().await.unwrap(), Some(ping.clone()));
    down.send(&ping).await.unwrap();
    assert_eq!(up.recv::<Ping>().await.unwrap(), Some(ping));
}

/// The error a connection that should end ends with (bounded: a connection
/// that stays open fails the test here rather than at its timeout).
async fn ends_with(conn: &PeerConnection) -> quinn::ConnectionError {
    tokio::time::timeout(Duration::from_secs(10), conn.closed())
        .await
        .expect("the connection stayed open")
}

fn assert_replaced(error: &quinn::ConnectionError) {
    match error {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code, CLOSE_REPLACED.into(), "{close:?}");
            assert!(
                String::from_utf8_lossy(&close.reason).contains("replaced"),
                "{close:?}"
            );
        }
        other => panic!("expected a close for replacement, got {other:?}"),
    }
}

#[tokio::test]
async fn a_newer_connection_from_a_child_replaces_its_old_one() {
    within(async {
        let fed = Fed::new();
        let sibling = id("nanhai.guicheng.shangping");
        let (server, events) = fed.server(
            registry(&[&fed.child, &sibling], &[]),
            TransportConfig::default(),
        );

        let first = fed.connect(&fed.creds(&fed.child), &server).await.unwrap();
        let first_at_parent = server.accept().await.unwrap();
        let other = fed.connect(&fed.creds(&sibling), &server).await.unwrap();
        let other_at_parent = server.accept().await.unwrap();
        round_trip(&first, &first_at_parent, 1).await;

        // The same node again, from another socket and with a renewed
        // certificate, as after a restart of the child.
        let second = fed.connect(&fed.creds(&fed.child), &server).await.unwrap();
        let second_at_parent = server.accept().await.unwrap();
        assert_eq!(second_at_parent.peer, fed.child);

        assert_replaced(&ends_with(&first).await);
        assert!(matches!(
            ends_with(&first_at_parent).await,
            quinn::ConnectionError::LocallyClosed
        ));
        assert!(first_at_parent.accept_stream().await.is_none());
        round_trip(&second, &second_at_parent, 2).await;
        // Another child's connection is not touched.
        round_trip(&other, &other_at_parent, 3).await;
        assert!(other.conn.close_reason().is_none());

        // Again through the same client (the same socket): the newest wins.
        let client = Client::new(&fed.creds(&fed.child), TransportConfig::default()).unwrap();
        let third = client
            .connect(server.local_addr(), &fed.parent)
            .await
            .unwrap();
        let third_at_parent = server.accept().await.unwrap();
        assert_replaced(&ends_with(&second).await);
        let fourth = client
            .connect(server.local_addr(), &fed.parent)
            .await
            .unwrap();
        let fourth_at_parent = server.accept().await.unwrap();
        assert_replaced(&ends_with(&third).await);
        assert!(third_at_parent.accept_stream().await.is_none());
        round_trip(&fourth, &fourth_at_parent, 4).await;
        round_trip(&other, &other_at_parent, 5).await;

        fourth.close("done");
        other.close("done");
        let events = all_events(server, events).await;
        assert!(events.is_empty(), "a replacement is no refusal: {events:?}");
    })
    .await
}

#[tokio::test]
async fn a_child_cannot_open_more_streams_than_the_limit() {
    within(async {
        let fed = Fed::new();
        let (server, _events) = fed.open_server();
        let child = fed.connect(&fed.creds(&fed.child), &server).await.unwrap();
        let parent = server.accept().await.unwrap();
        let limit = TransportConfig::default().max_bidi_streams;
        assert_eq!(limit, 2);

        let mut open = Vec::new();
        for n in 0..limit {
            let mut up = child.open_stream().await.unwrap();
            up.send(&n).await.unwrap();
            let mut down = parent.accept_stream().await.unwrap();
            assert_eq!(down.recv::<u32>().await.unwrap(), Some(n));
            open.push((up, down));
        }

        // One stream more: opening it waits for the parent's credit, so the
        // parent never sees it while the others are open.
        let extra = {
            let child = child.clone();
            tokio::spawn(async move {
                let mut up = child.open_stream().await.unwrap();
                up.send(&limit).await.unwrap();
                up
            })
        };
        let over = tokio::time::timeout(Duration::from_millis(500), parent.accept_stream()).await;
        assert!(over.is_err(), "the parent accepted a stream over the limit");
        // No unidirectional stream at all.
        let uni = tokio::time::timeout(Duration::from_millis(200), child.conn.open_uni()).await;
        assert!(uni.is_err(), "the parent granted a unidirectional stream");

        // Once one stream is done on both sides, the waiting one gets in.
        let (mut up, mut down) = open.remove(0);
        up.finish().unwrap();
        assert_eq!(down.recv::<u32>().await.unwrap(), None);
        down.finish().unwrap();
        assert_eq!(up.recv::<u32>().await.unwrap(), None);
        drop((up, down));
        let mut down = parent.accept_stream().await.unwrap();
        assert_eq!(down.recv::<u32>().await.unwrap(), Some(limit));
        let _up = extra.await.unwrap();
        child.close("done");
    })
    .await
}

/// Writes zeros to `send` for as long as flow control lets them in at once,
/// and returns how many it took. Polls each write once: a write the peer
/// has granted room for completes without waiting for the network.
fn fill(send: &mut quinn::SendStream) -> usize {
    let chunk = vec![0u8; 16 * 1024];
    let mut cx = Context::from_waker(Waker::noop());
    let mut total = 0;
    loop {
        let mut write = pin!(send.write(&chunk));
        match write.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(n)) => total += n,
            Poll::Ready(Err(e)) => panic!("write failed: {e}"),
            Poll::Pending => return total,
        }
    }
}

#[tokio::test]
async fn a_child_cannot_make_the_parent_buffer_more_than_its_receive_windows() {
    within(async {
        let fed = Fed::new();
        let cfg = TransportConfig {
            stream_receive_window: 256 * 1024,
            connection_receive_window: 384 * 1024,
            ..TransportConfig::default()
        };
        let (server, _events) = fed.server(registry(&[&fed.child], &[]), cfg);
        let child = fed.connect(&fed.creds(&fed.child), &server).await.unwrap();
        let parent = server.accept().await.unwrap();

        // The parent reads nothing: one stream takes a stream window, the
        // second the rest of the connection window, and then no more.
        let (mut first, _first_recv) = child.conn.open_bi().await.unwrap();
        assert_eq!(fill(&mut first), 256 * 1024);
        let (mut second, _second_recv) = child.conn.open_bi().await.unwrap();
        assert_eq!(fill(&mut second), 128 * 1024);
        assert_eq!(fill(&mut first), 0);

        // It is a window, not a cap: what the parent reads, the child may
        // send again.
        let (_send, mut recv) = parent.conn.accept_bi().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        recv.read_exact(&mut buf).await.unwrap();
        first.write_all(&[1u8; 1024]).await.unwrap();
        child.close("done");
    })
    .await
}

#[tokio::test]
async fn garbage_and_a_silent_handshake_do_not_stall_the_loop() {
    within(async {
        let fed = Fed::new();
        let cfg = TransportConfig {
            handshake_timeout: Duration::from_millis(500),
            ..TransportConfig::default()
        };
        let (server, mut events) = fed.server(registry(&[&fed.child], &[]), cfg.clone());
        let addr = server.local_addr();

        // Garbage datagrams are dropped by QUIC and are no peer at all.
        let junk = UdpSocket::bind(localhost()).await.unwrap();
        for packet in [vec![0u8; 1200], vec![0xff; 1200], b"hello".to_vec()] {
            junk.send_to(&packet, addr).await.unwrap();
        }

        // A relay that passes the child's first datagram and nothing else:
        // the server's handshake with it hangs.
        let relay = UdpSocket::bind(localhost()).await.unwrap();
        let relay_addr = relay.local_addr().unwrap();
        let relay_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            let (n, _) = relay.recv_from(&mut buf).await.unwrap();
            relay.send_to(&buf[..n], addr).await.unwrap();
            loop {
                let _ = relay.recv_from(&mut buf).await;
            }
        });
        let silent = Client::new(&fed.creds(&fed.child), cfg.clone()).unwrap();
        let parent = fed.parent.clone();
        let silent_task = tokio::spawn(async move { silent.connect(relay_addr, &parent).await });

        // Meanwhile a good child gets in.
        let good = fed.connect(&fed.creds(&fed.child), &server).await.unwrap();
        assert_eq!(server.accept().await.unwrap().peer, fed.child);

        let event = next_event(&mut events).await;
        assert_eq!(event.kind, SecurityKind::HandshakeFailed, "{event:?}");
        assert_eq!(event.remote, relay_addr);
        assert!(event.detail.contains("timed out"), "{event:?}");
        assert!(matches!(
            silent_task.await.unwrap(),
            Err(TransportError::HandshakeTimeout(_))
        ));
        relay_task.abort();
        good.close("done");
        assert!(all_events(server, events).await.is_empty());
    })
    .await
}

#[test]
fn node_id_round_trips_through_a_certificate() {
    let fed = Fed::new();
    for node in [id("nanhai"), fed.parent.clone(), fed.child.clone()] {
        let creds = fed.creds(&node);
        let der = creds.cert_der().unwrap();
        assert_eq!(node_id_of(der.as_ref()).unwrap(), node);
        assert_eq!(serial_of(der.as_ref()).unwrap(), creds.serial().unwrap());
    }
}

#[test]
fn a_certificate_without_exactly_one_node_uri_names_no_node() {
    let key = rcgen::KeyPair::generate().unwrap();

    let dns_only = rcgen::CertificateParams::new(vec!["nanhai.guicheng".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    assert!(matches!(
        node_id_of(dns_only.der()),
        Err(IdentityError::NoNodeId)
    ));

    let mut two = rcgen::CertificateParams::default();
    two.subject_alt_names = vec![
        rcgen::SanType::URI("onewindow://node/nanhai".try_into().unwrap()),
        rcgen::SanType::URI("onewindow://node/nanhai.guicheng".try_into().unwrap()),
    ];
    let two = two.self_signed(&key).unwrap();
    assert!(matches!(
        node_id_of(two.der()),
        Err(IdentityError::SeveralNodeIds(ids)) if ids.len() == 2
    ));

    let mut bad = rcgen::CertificateParams::default();
    bad.subject_alt_names = vec![rcgen::SanType::URI(
        "onewindow://node/Nanhai..x".try_into().unwrap(),
    )];
    let bad = bad.self_signed(&key).unwrap();
    assert!(matches!(
        node_id_of(bad.der()),
        Err(IdentityError::BadNodeId(_))
    ));

    assert!(node_id_of(b"not a certificate").is_err());
}

/// A path that stops carrying anything while both ends live (a village's
/// mobile link dropping out): each end closes its connection once nothing
/// has come for `silent_after`, long before QUIC's idle timeout, so that
/// the link is dialled again and resumes as soon as the path is back,
/// instead of when QUIC's doubling probe timer next fires.
#[tokio::test]
async fn a_silent_path_closes_the_connection_at_both_ends_before_the_idle_timeout() {
    use onewindow_federation::relay::{LinkShape, Relay};
    within(async {
        let fed = Fed::new();
        // Several keep-alives within the span, as in production (there 2 s
        // and 6 s; here 0.5 s and 2 s, to keep the test short).
        let cfg = TransportConfig {
            keep_alive: Duration::from_millis(500),
            silent_after: Duration::from_secs(2),
            ..TransportConfig::default()
        };
        assert_eq!(cfg.idle_timeout, Duration::from_secs(30));
        let (server, _events) = fed.server(registry(&[&fed.child], &[]), cfg.clone());
        let relay = Relay::start(
            localhost(),
            server.local_addr(),
            LinkShape::default(),
            LinkShape::default(),
        )
        .await
        .unwrap();
        let client = Client::new(&fed.creds(&fed.child), cfg).unwrap();
        let child = client
            .connect(relay.local_addr(), &fed.parent)
            .await
            .unwrap();
        let mut up = child.open_stream().await.unwrap();
        up.send(&Ping {
            seq: 1,
            text: "hello".into(),
        })
        .await
        .unwrap();
        let parent = server.accept().await.unwrap();
        let mut down = parent.accept_stream().await.unwrap();
        assert_eq!(down.recv::<Ping>().await.unwrap().map(|p| p.seq), Some(1));
        let watch_child = tokio::spawn({
            let c = child.clone();
            async move { c.close_when_silent().await }
        });
        let watch_parent = tokio::spawn({
            let p = parent.clone();
            async move { p.close_when_silent().await }
        });
        // A live path, quiet but for the keep-alives, is not silent.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(child.conn.close_reason().is_none(), "closed while live");
        assert!(parent.conn.close_reason().is_none(), "closed while live");
        relay.set_blackhole(true);
        let cut = std::time::Instant::now();
        for (end, conn) in [("child", &child), ("parent", &parent)] {
            let error = tokio::time::timeout(Duration::from_secs(15), conn.closed())
                .await
                .unwrap_or_else(|_| panic!("the {end}'s connection stayed open"));
            match error {
                quinn::ConnectionError::LocallyClosed => {}
                other => panic!("the {end} should have closed it, got {other:?}"),
            }
        }
        // Well before QUIC's idle timeout (30 s) would have ended it.
        assert!(
            cut.elapsed() < Duration::from_secs(15),
            "{:?}",
            cut.elapsed()
        );
        watch_child.await.unwrap();
        watch_parent.await.unwrap();
    })
    .await
}
