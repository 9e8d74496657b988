//! A parent that is killed and restarted on the same address, over real UDP
//! on 127.0.0.1: its children learn it from the restarted parent's stateless
//! reset, at their next packet, and reconnect.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use onewindow_federation::NodeId;
use onewindow_federation::identity::{FederationCa, NodeCredentials};
use onewindow_federation::transport::{
    Client, PeerConnection, PeerPolicy, Refusal, Server, TransportConfig,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

fn id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

/// Every test runs under this bound; none should come near it.
async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(90), f)
        .await
        .expect("test timed out")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ping {
    seq: u64,
}

/// A parent "process": a [`Server`] on a tokio runtime of its own, on a
/// thread of its own, that echoes every frame its children send.
///
/// [`Parent::kill`] stops it the way `kill -9` stops a process: its runtime
/// is dropped without running another task, so neither the server nor its
/// connections send anything (no close, no last acknowledgement), and its
/// socket is freed.
struct Parent {
    addr: SocketAddr,
    kill: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Parent {
    fn start(
        creds: NodeCredentials,
        child: NodeId,
        addr: SocketAddr,
        cfg: TransportConfig,
    ) -> Self {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (kill, killed) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let remains = runtime.block_on(async move {
                let policy: Arc<dyn PeerPolicy> = Arc::new(move |peer: &NodeId, _: &str| {
                    if *peer == child {
                        Ok(())
                    } else {
                        Err(Refusal::NotAChild(peer.to_string()))
                    }
                });
                let (security, events) = mpsc::unbounded_channel();
                let server = Server::bind(addr, &creds, policy, security, cfg).unwrap();
                addr_tx.send(server.local_addr()).unwrap();
                let mut conns = Vec::new();
                let mut killed = killed;
                loop {
                    tokio::select! {
                        _ = &mut killed => break,
                        Some(conn) = server.accept() => {
                            tokio::spawn(echo(conn.clone()));
                            conns.push(conn);
                        }
                    }
                }
                (server, conns, events)
            });
            // No task runs after `block_on`: what these would send when
            // dropped is never sent.
            drop(remains);
            drop(runtime);
        });
        let addr = addr_rx.recv().unwrap();
        Parent { addr, kill, thread }
    }

    fn kill(self) {
        self.kill.send(()).unwrap();
        self.thread.join().unwrap();
    }
}

/// Echoes every frame on every stream of `conn`.
async fn echo(conn: PeerConnection) {
    while let Some(mut stream) = conn.accept_stream().await {
        tokio::spawn(async move {
            while let Ok(Some(ping)) = stream.recv::<Ping>().await {
                if stream.send(&ping).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// A federation: its CA, a township parent and its village child.
struct Fed {
    ca: FederationCa,
    parent: NodeId,
    child: NodeId,
    parent_creds: NodeCredentials,
}

impl Fed {
    fn new() -> Self {
        let ca = FederationCa::generate("Nanhai federation CA").unwrap();
        let parent = id("nanhai.guicheng");
        let parent_creds = ca.issue_for_days(&parent, 30).unwrap();
        Fed {
            ca,
            parent,
            child: id("nanhai.guicheng.xiaping"),
            parent_creds,
        }
    }

    /// Starts the parent, always with the same credentials.
    fn start_parent(&self, addr: SocketAddr, cfg: &TransportConfig) -> Parent {
        Parent::start(
            self.parent_creds.clone(),
            self.child.clone(),
            addr,
            cfg.clone(),
        )
    }

    fn client(&self, cfg: &TransportConfig) -> Client {
        Client::new(
            &self.ca.issue_for_days(&self.child, 30).unwrap(),
            cfg.clone(),
        )
        .unwrap()
    }
}

async fn round_trip(conn: &PeerConnection, seq: u64) {
    let mut stream = conn.open_stream().await.unwrap();
    stream.send(&Ping { seq }).await.unwrap();
    assert_eq!(stream.recv::<Ping>().await.unwrap(), Some(Ping { seq }));
}

/// Waits until `conn` has sent nothing for a while (its delayed
/// acknowledgements are out), so that what it sends next is what the test
/// makes it send.
async fn settle(conn: &PeerConnection) {
    let mut sent = conn.conn.stats().path.sent_packets;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = conn.conn.stats().path.sent_packets;
        if now == sent {
            return;
        }
        sent = now;
    }
}

fn assert_reset(error: &quinn::ConnectionError) {
    assert!(
        matches!(error, quinn::ConnectionError::Reset),
        "expected a stateless reset, got {error:?}"
    );
}

#[tokio::test]
async fn a_child_writing_to_a_restarted_parent_is_reset_and_reconnects() {
    within(async {
        let fed = Fed::new();
        // No keep-alive within the test: what the child writes is what the
        // restarted parent answers.
        let cfg = TransportConfig {
            keep_alive: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(20),
            ..TransportConfig::default()
        };
        let parent = fed.start_parent("127.0.0.1:0".parse().unwrap(), &cfg);
        let addr = parent.addr;
        let client = fed.client(&cfg);
        let conn = client.connect(addr, &fed.parent).await.unwrap();
        let mut stream = conn.open_stream().await.unwrap();
        stream.send(&Ping { seq: 1 }).await.unwrap();
        assert_eq!(stream.recv::<Ping>().await.unwrap(), Some(Ping { seq: 1 }));

        settle(&conn).await;
        parent.kill();
        let parent = fed.start_parent(addr, &cfg);
        assert_eq!(parent.addr, addr);
        assert!(conn.conn.close_reason().is_none(), "nothing told the child");

        // The child writes into its old connection; the new parent knows
        // nothing of it and answers with a stateless reset.
        stream.send(&Ping { seq: 2 }).await.unwrap();
        assert_reset(&conn.closed().await);
        assert!(stream.recv::<Ping>().await.is_err());

        // The same client connects afresh.
        let fresh = client.connect(addr, &fed.parent).await.unwrap();
        round_trip(&fresh, 3).await;
        fresh.close("done");
        parent.kill();
    })
    .await
}

#[tokio::test]
async fn an_idle_child_learns_of_a_restarted_parent_from_its_keep_alive() {
    within(async {
        let fed = Fed::new();
        let cfg = TransportConfig::default();
        assert!(cfg.keep_alive < cfg.idle_timeout);
        let parent = fed.start_parent("127.0.0.1:0".parse().unwrap(), &cfg);
        let addr = parent.addr;
        let client = fed.client(&cfg);
        let conn = client.connect(addr, &fed.parent).await.unwrap();
        // A stream that stays open: closing it would send more.
        let mut stream = conn.open_stream().await.unwrap();
        stream.send(&Ping { seq: 1 }).await.unwrap();
        assert_eq!(stream.recv::<Ping>().await.unwrap(), Some(Ping { seq: 1 }));

        settle(&conn).await;
        let pings = conn.conn.stats().frame_tx.ping;
        parent.kill();
        let parent = fed.start_parent(addr, &cfg);

        // The child sends nothing of its own; its keep-alive reaches the new
        // parent, which resets the connection.
        assert_reset(&conn.closed().await);
        assert!(
            conn.conn.stats().frame_tx.ping > pings,
            "the reset answered a keep-alive"
        );
        let fresh = client.connect(addr, &fed.parent).await.unwrap();
        round_trip(&fresh, 2).await;
        fresh.close("done");
        parent.kill();
    })
    .await
}
