//! The listening side: a parent accepting its children.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, Weak};

use rustls::pki_types::CertificateDer;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

use super::tls::{ServerTls, Slot, TlsMaterial, endpoint_config};
use super::{
    CLOSE_REFUSED, CLOSE_REPLACED, Listing, PeerConnection, PeerPolicy, SecurityEvent,
    SecurityKind, TransportConfig, TransportError, report,
};
use crate::NodeId;
use crate::identity::{NodeCredentials, node_id_of, serial_of};

/// How many admitted connections may wait for [`Server::accept`].
const ADMITTED_QUEUE: usize = 64;

/// A QUIC endpoint that accepts children.
///
/// A task accepts incoming connections forever and runs each handshake in a
/// task of its own, bounded by [`TransportConfig::handshake_timeout`]; the
/// admitted connections wait in a queue for [`Server::accept`]. Dropping the
/// server stops accepting; connections already handed out stay open until
/// [`Server::close`] or their own close.
///
/// One connection per child: when a child that already has a connection is
/// admitted again (it restarted, or its link broke without either side
/// noticing yet), the newer connection replaces the older, which is closed
/// with [`CLOSE_REPLACED`](super::CLOSE_REPLACED).
///
/// The endpoint's stateless-reset key and connection-id key are derived from
/// the node's private key, so a server restarted on the same address with the
/// same credentials answers packets for its predecessor's connections with a
/// stateless reset: its children see their old connection end with
/// [`quinn::ConnectionError::Reset`] at their next packet (a write or a
/// keep-alive), instead of after the idle timeout.
#[derive(Debug)]
pub struct Server {
    endpoint: quinn::Endpoint,
    local_addr: SocketAddr,
    admitted: Mutex<mpsc::Receiver<PeerConnection>>,
    accept_loop: JoinHandle<()>,
    shared: Arc<Shared>,
}

/// What every handshake task needs.
struct Shared {
    node: NodeId,
    /// Replaced when the node's certificate is renewed.
    tls: std::sync::RwLock<Arc<ServerTls>>,
    policy: Arc<dyn PeerPolicy>,
    security: mpsc::UnboundedSender<SecurityEvent>,
    cfg: TransportConfig,
    current: Current,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// The connection admitted last from each child, held weakly.
#[derive(Debug, Default)]
struct Current(std::sync::Mutex<HashMap<NodeId, Weak<Listing>>>);

impl Current {
    /// Lists `listing` as `peer`'s connection and returns the one it
    /// replaces, if that one is still open. Entries of connections that are
    /// closed or dropped are removed on the way.
    fn replace(&self, peer: &NodeId, listing: &Arc<Listing>) -> Option<Arc<Listing>> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, weak| {
            weak.upgrade()
                .is_some_and(|l| l.conn.close_reason().is_none())
        });
        map.insert(peer.clone(), Arc::downgrade(listing))
            .and_then(|weak| weak.upgrade())
    }
}

impl Server {
    /// Binds a UDP socket on `addr` (port 0 picks one) and starts accepting.
    /// Must be called within a tokio runtime.
    ///
    /// `policy` decides which certified nodes are let in; every refused peer
    /// is sent to `security`.
    pub fn bind(
        addr: SocketAddr,
        creds: &NodeCredentials,
        policy: Arc<dyn PeerPolicy>,
        security: mpsc::UnboundedSender<SecurityEvent>,
        cfg: TransportConfig,
    ) -> Result<Server, TransportError> {
        let tls = TlsMaterial::new(creds, &cfg)?.server()?;
        let runtime = quinn::default_runtime()
            .ok_or_else(|| std::io::Error::other("no async runtime found"))?;
        let socket = std::net::UdpSocket::bind(addr)?;
        let endpoint =
            quinn::Endpoint::new(endpoint_config(creds)?, Some(tls.base()), socket, runtime)?;
        let local_addr = endpoint.local_addr()?;
        let (tx, rx) = mpsc::channel(ADMITTED_QUEUE);
        let shared = Arc::new(Shared {
            node: creds.node.clone(),
            tls: std::sync::RwLock::new(Arc::new(tls)),
            policy,
            security,
            cfg,
            current: Current::default(),
        });
        let span = tracing::info_span!("federation_server", node = %creds.node, %local_addr);
        let accept_loop =
            tokio::spawn(accept_loop(endpoint.clone(), shared.clone(), tx).instrument(span));
        tracing::info!(node = %creds.node, %local_addr, "federation server listening");
        Ok(Server {
            endpoint,
            local_addr,
            admitted: Mutex::new(rx),
            accept_loop,
            shared,
        })
    }

    /// Presents `creds` (a renewed certificate of the same node, from the
    /// same CA) to every child that connects from now on; connections
    /// already up keep the certificate they were made with.
    pub fn reload(&self, creds: &NodeCredentials) -> Result<(), TransportError> {
        if creds.node != self.shared.node {
            return Err(TransportError::Config(format!(
                "the new certificate is for {}, not {}",
                creds.node, self.shared.node
            )));
        }
        let tls = Arc::new(TlsMaterial::new(creds, &self.shared.cfg)?.server()?);
        *self
            .shared
            .tls
            .write()
            .unwrap_or_else(PoisonError::into_inner) = tls;
        Ok(())
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next admitted child; `None` once the server is closed.
    pub async fn accept(&self) -> Option<PeerConnection> {
        self.admitted.lock().await.recv().await
    }

    /// Stops accepting and closes every connection of this endpoint.
    pub fn close(&self) {
        self.accept_loop.abort();
        self.endpoint
            .close(super::CLOSE_NORMAL.into(), b"server closing");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    admitted: mpsc::Sender<PeerConnection>,
) {
    let pending = Arc::new(Semaphore::new(shared.cfg.max_pending_handshakes));
    // Owned here so that stopping this loop also stops every handshake.
    let mut handshakes = JoinSet::new();
    while let Some(incoming) = endpoint.accept().await {
        while handshakes.try_join_next().is_some() {}
        let remote = incoming.remote_address();
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            incoming.refuse();
            report(
                &shared.security,
                remote,
                None,
                SecurityKind::HandshakeFailed,
                "too many handshakes in progress".into(),
            );
            continue;
        };
        let span = tracing::info_span!("federation_handshake", %remote);
        handshakes
            .spawn(handshake(incoming, shared.clone(), admitted.clone(), permit).instrument(span));
    }
    tracing::debug!("federation server stopped accepting");
}

/// Runs one handshake to its end: admitted (queued for `accept`) or refused
/// (reported exactly once).
async fn handshake(
    incoming: quinn::Incoming,
    shared: Arc<Shared>,
    admitted: mpsc::Sender<PeerConnection>,
    _permit: OwnedSemaphorePermit,
) {
    let remote = incoming.remote_address();
    let refuse = |claimed: Option<NodeId>, kind: SecurityKind, detail: String| {
        report(&shared.security, remote, claimed, kind, detail);
    };
    let slot = Slot::default();
    let tls = shared
        .tls
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let connecting = match tls
        .for_connection(slot.clone())
        .map_err(|e| e.to_string())
        .and_then(|cfg| incoming.accept_with(cfg).map_err(|e| e.to_string()))
    {
        Ok(connecting) => connecting,
        Err(detail) => return refuse(None, SecurityKind::HandshakeFailed, detail),
    };
    let conn = match tokio::time::timeout(shared.cfg.handshake_timeout, connecting).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) => {
            let seen = slot.take();
            return match seen.refusal {
                Some((kind, detail)) => refuse(seen.claimed, kind, detail),
                None => refuse(
                    seen.claimed,
                    SecurityKind::HandshakeFailed,
                    format!("handshake failed: {error}"),
                ),
            };
        }
        Err(_) => {
            // Dropping `connecting` abandons the connection.
            let seen = slot.take();
            return refuse(
                seen.claimed,
                SecurityKind::HandshakeFailed,
                format!(
                    "handshake timed out after {:?}",
                    shared.cfg.handshake_timeout
                ),
            );
        }
    };

    let (peer, serial) = match peer_of(&conn) {
        Ok(found) => found,
        Err(detail) => {
            conn.close(
                CLOSE_REFUSED.into(),
                SecurityKind::BadCertificate.as_str().as_bytes(),
            );
            return refuse(None, SecurityKind::BadCertificate, detail);
        }
    };
    if let Err(refusal) = shared.policy.admit(&peer, &serial) {
        let kind = refusal.kind();
        conn.close(CLOSE_REFUSED.into(), kind.as_str().as_bytes());
        return refuse(
            Some(peer),
            kind,
            format!("{refusal} (certificate serial {serial})"),
        );
    }
    tracing::info!(node = %shared.node, %peer, %remote, %serial, "child connected");
    let listing = Arc::new(Listing { conn: conn.clone() });
    if let Some(old) = shared.current.replace(&peer, &listing) {
        tracing::info!(
            node = %shared.node,
            %peer,
            old_remote = %old.conn.remote_address(),
            new_remote = %remote,
            "a newer connection from the child replaces its old one"
        );
        old.conn.close(
            CLOSE_REPLACED.into(),
            b"replaced by a newer connection from the same node",
        );
    }
    let connection = PeerConnection {
        peer,
        serial,
        remote,
        conn,
        _listing: Some(listing),
        silent_after: shared.cfg.silent_after,
    };
    if let Err(mpsc::error::SendError(connection)) = admitted.send(connection).await {
        connection.close("server closing");
    }
}

/// The node id and certificate serial of a connection's peer.
fn peer_of(conn: &quinn::Connection) -> Result<(NodeId, String), String> {
    let certs = conn
        .peer_identity()
        .and_then(|any| any.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or_else(|| "peer presented no certificate".to_owned())?;
    let leaf = certs
        .first()
        .ok_or_else(|| "peer presented no certificate".to_owned())?;
    let peer = node_id_of(leaf.as_ref()).map_err(|e| e.to_string())?;
    let serial = serial_of(leaf.as_ref()).map_err(|e| e.to_string())?;
    Ok((peer, serial))
}
