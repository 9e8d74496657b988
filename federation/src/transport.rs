//! QUIC transport between a node and its parent, with mutual TLS 1.3.
//!
//! A child always dials its parent ([`Client::connect`]); a parent only
//! listens ([`Server`]). Both sides present a certificate from the federation
//! CA, and both sides learn the other's [`NodeId`] from that certificate, never
//! from anything the peer says:
//!
//! - the client checks that the server's certificate names exactly the parent
//!   it meant to reach;
//! - the server reads the client's id from its certificate and asks a
//!   [`PeerPolicy`] whether that node (and that certificate serial) may
//!   connect: a registered child that is not revoked.
//!
//! Every peer the server refuses yields exactly one [`SecurityEvent`] on the
//! channel given to [`Server::bind`], and a `warn!` log line. Handshakes run
//! in their own tasks, so a bad or silent peer never holds up the others.
//!
//! A server keeps one connection per child: a newer admitted connection from
//! the same node closes the older one ([`CLOSE_REPLACED`]). A server derives
//! its QUIC stateless-reset key from its private key, so after a restart on
//! the same address it resets its predecessor's connections, and a child
//! learns at its next packet that its parent is new. [`TransportConfig`]
//! bounds the streams and unread bytes a peer may hold.
//!
//! On a connection, each bidirectional stream carries length-prefixed JSON
//! frames ([`FramedStream`]). What those frames mean is the replication
//! protocol's business, not this module's. [`Backoff`] spaces out a child's
//! reconnection attempts.

mod backoff;
mod client;
mod framing;
mod server;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

use crate::NodeId;
use crate::identity::IdentityError;

pub use backoff::Backoff;
pub use client::Client;
pub use framing::{
    FrameError, FrameSource, FramedStream, MAX_FRAME, read_frame, read_raw_frame, write_frame,
    write_raw_frame,
};
pub use server::Server;

/// The ALPN protocol name both sides require.
pub const ALPN: &[u8] = b"onewindow/1";

/// QUIC application close code: an orderly close.
pub const CLOSE_NORMAL: u32 = 0;
/// QUIC application close code: the server refused the peer after the
/// handshake (policy: not a child, revoked).
pub const CLOSE_REFUSED: u32 = 1;
/// QUIC application close code: the server admitted a newer connection from
/// the same node, which replaces this one.
pub const CLOSE_REPLACED: u32 = 2;
/// QUIC application close code: nothing came from the peer for
/// [`TransportConfig::silent_after`]; the link is dialled again at once.
pub const CLOSE_SILENT: u32 = 3;

/// Timing and limits of the transport. `Default` gives the production values.
///
/// The limits are what this side grants its peer; both sides use the same
/// configuration, so they bound what a parent holds for each admitted child
/// (and what a child holds for its parent): at most
/// [`connection_receive_window`](Self::connection_receive_window) bytes of
/// received but unread data, on at most
/// [`max_bidi_streams`](Self::max_bidi_streams) streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// How often an idle connection sends a keep-alive (2 s). Keeps NAT
    /// bindings open on village uplinks, and bounds how long an idle child
    /// takes to learn that its parent restarted (the restarted parent answers
    /// the keep-alive with a stateless reset). The link session sends its
    /// status every two seconds, so on a live session this adds next to
    /// nothing.
    pub keep_alive: Duration,
    /// A connection with no traffic for this long is dead (30 s). A parent
    /// that restarts on the same address is noticed sooner, by its stateless
    /// reset; this is for a parent (or child) that is gone.
    pub idle_timeout: Duration,
    /// A handshake not finished after this long is abandoned (10 s).
    pub handshake_timeout: Duration,
    /// A connection from which no datagram at all has come for this long
    /// is closed by the link that uses it (6 s: three keep-alives, each of
    /// which the peer acknowledges, besides the peer's own keep-alives and
    /// the link's status every two seconds). It is for a path that stopped
    /// carrying anything while both ends live: a village's mobile link
    /// that drops out. QUIC's own timer for such a path doubles at every
    /// unanswered probe, so a connection that outlived an outage of ten or
    /// twenty seconds sent its next probe, and so resumed, seconds or tens
    /// of seconds after the path came back (at most the idle timeout); a
    /// new connection's handshake starts again from a short timer. See
    /// [`PeerConnection::close_when_silent`].
    pub silent_after: Duration,
    /// Server: handshakes in progress at once; more are refused outright
    /// (256).
    pub max_pending_handshakes: usize,
    /// Bidirectional streams the peer may have open at once (2). The link
    /// protocol uses one per connection.
    pub max_bidi_streams: u32,
    /// Unidirectional streams the peer may have open at once (0: the
    /// protocol uses none).
    pub max_uni_streams: u32,
    /// Bytes the peer may send on one stream beyond what this side has read
    /// (2 MiB). Also caps a stream's throughput at this much per round trip.
    pub stream_receive_window: u32,
    /// Bytes the peer may send on the whole connection beyond what this side
    /// has read (4 MiB).
    pub connection_receive_window: u32,
    /// The ALPN protocol both sides require ([`ALPN`] on a link; a
    /// peering between two trees' roots has its own,
    /// [`crate::peering::PEERING_ALPN`]).
    pub alpn: &'static [u8],
}

impl Default for TransportConfig {
    fn default() -> Self {
        const MIB: u32 = 1024 * 1024;
        Self {
            keep_alive: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            silent_after: Duration::from_secs(6),
            max_pending_handshakes: 256,
            max_bidi_streams: 2,
            max_uni_streams: 0,
            stream_receive_window: 2 * MIB,
            connection_receive_window: 4 * MIB,
            alpn: ALPN,
        }
    }
}

impl TransportConfig {
    fn quinn(&self) -> Result<quinn::TransportConfig, TransportError> {
        let mut t = quinn::TransportConfig::default();
        t.keep_alive_interval(Some(self.keep_alive));
        let idle = quinn::IdleTimeout::try_from(self.idle_timeout)
            .map_err(|e| TransportError::Config(format!("idle_timeout: {e}")))?;
        t.max_idle_timeout(Some(idle));
        t.max_concurrent_bidi_streams(self.max_bidi_streams.into());
        t.max_concurrent_uni_streams(self.max_uni_streams.into());
        t.stream_receive_window(self.stream_receive_window.into());
        t.receive_window(self.connection_receive_window.into());
        // Village links are lossy mobile links: BBR paces on measured
        // bandwidth and round trip instead of backing off on every loss.
        t.congestion_controller_factory(Arc::new(quinn::congestion::BbrConfig::default()));
        Ok(t)
    }
}

/// What went wrong while setting up a transport or a connection.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The node's credentials are unusable.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A setting or the TLS configuration is unusable.
    #[error("transport configuration: {0}")]
    Config(String),
    /// The UDP socket could not be opened.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// quinn refused to start the connection.
    #[error("cannot connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed or was closed (by the peer, by a timeout, or
    /// because the peer refused our certificate).
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// The handshake did not finish in time.
    #[error("handshake with {0} timed out")]
    HandshakeTimeout(SocketAddr),
    /// We refused the peer's certificate.
    #[error("peer refused ({kind}): {detail}")]
    Refused {
        /// Why, in the terms of [`SecurityEvent`].
        kind: SecurityKind,
        /// What exactly was wrong.
        detail: String,
    },
}

impl From<rustls::Error> for TransportError {
    fn from(e: rustls::Error) -> Self {
        Self::Config(e.to_string())
    }
}

/// Why a connected, correctly certified peer is not let in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The node is not registered as a child of this node (or is retired).
    #[error("not a registered child: {0}")]
    NotAChild(String),
    /// The node, or this certificate serial, is revoked.
    #[error("revoked: {0}")]
    Revoked(String),
}

impl Refusal {
    /// The matching kind of security event.
    pub fn kind(&self) -> SecurityKind {
        match self {
            Refusal::NotAChild(_) => SecurityKind::NotAChild,
            Refusal::Revoked(_) => SecurityKind::Revoked,
        }
    }
}

/// Who may connect to a server. The node implements it from its registry of
/// children and its revocation list.
pub trait PeerPolicy: Send + Sync {
    /// Called after a successful TLS handshake with the node id and the
    /// certificate serial (lowercase hex) read from the client's certificate.
    fn admit(&self, peer: &NodeId, serial: &str) -> Result<(), Refusal>;
}

impl<F> PeerPolicy for F
where
    F: Fn(&NodeId, &str) -> Result<(), Refusal> + Send + Sync,
{
    fn admit(&self, peer: &NodeId, serial: &str) -> Result<(), Refusal> {
        self(peer, serial)
    }
}

/// Why a peer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityKind {
    /// The certificate is not signed by the federation CA.
    UnknownCa,
    /// The certificate is past its `not_after`.
    Expired,
    /// The certificate names another node than the one expected.
    WrongNode,
    /// The node or its certificate is revoked.
    Revoked,
    /// A valid node that is not a registered child of this one.
    NotAChild,
    /// The certificate is malformed, not yet valid, lacks a node id, or is
    /// unfit in some other way.
    BadCertificate,
    /// The handshake failed or timed out before any certificate was judged.
    HandshakeFailed,
}

impl SecurityKind {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityKind::UnknownCa => "unknown_ca",
            SecurityKind::Expired => "expired",
            SecurityKind::WrongNode => "wrong_node",
            SecurityKind::Revoked => "revoked",
            SecurityKind::NotAChild => "not_a_child",
            SecurityKind::BadCertificate => "bad_certificate",
            SecurityKind::HandshakeFailed => "handshake_failed",
        }
    }
}

impl std::fmt::Display for SecurityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The peer's address.
    pub remote: SocketAddr,
    /// The node id the peer's certificate names, if it presented one that
    /// could be read (whether or not it was trusted).
    pub claimed: Option<NodeId>,
    /// Why it was refused.
    pub kind: SecurityKind,
    /// What exactly was wrong.
    pub detail: String,
}

/// Logs a refusal and sends it to the security channel (a closed channel is
/// not an error: the log line remains).
fn report(
    security: &UnboundedSender<SecurityEvent>,
    remote: SocketAddr,
    claimed: Option<NodeId>,
    kind: SecurityKind,
    detail: String,
) {
    tracing::warn!(
        %remote,
        claimed = claimed.as_ref().map(NodeId::as_str),
        %kind,
        %detail,
        "peer refused"
    );
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let _ = security.send(SecurityEvent {
        at_ms,
        remote,
        claimed,
        kind,
        detail,
    });
}

/// An authenticated connection to a parent or from a child.
#[derive(Debug, Clone)]
pub struct PeerConnection {
    /// The peer's node id, from its certificate.
    pub peer: NodeId,
    /// The serial of the peer's certificate (lowercase hex).
    pub serial: String,
    /// The peer's address.
    pub remote: SocketAddr,
    /// The underlying QUIC connection.
    pub conn: quinn::Connection,
    /// Server side: keeps this connection listed as its child's current one
    /// while any clone of this value lives.
    _listing: Option<Arc<Listing>>,
    /// [`TransportConfig::silent_after`].
    silent_after: Duration,
}

/// A server's entry for the connection it admitted last from one child: a
/// newer connection from the same node closes it. The server holds it only
/// weakly, so that dropping every clone of the [`PeerConnection`] still
/// closes the connection as quinn does for any unused connection.
#[derive(Debug)]
struct Listing {
    conn: quinn::Connection,
}

impl PeerConnection {
    /// What the peer's certificate says: its serial and period, for the
    /// fleet's view of when each link's certificate expires.
    pub fn certificate(&self) -> Option<crate::identity::CertInfo> {
        let certs = self
            .conn
            .peer_identity()?
            .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
            .ok()?;
        crate::identity::CertInfo::of(certs.first()?.as_ref()).ok()
    }

    /// The certificate the peer presented (DER).
    pub fn certificate_der(&self) -> Option<Vec<u8>> {
        let certs = self
            .conn
            .peer_identity()?
            .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
            .ok()?;
        Some(certs.first()?.as_ref().to_vec())
    }

    /// Opens a new bidirectional stream. The peer's
    /// [`accept_stream`](Self::accept_stream) sees it once the first frame
    /// is sent.
    pub async fn open_stream(&self) -> Result<FramedStream, TransportError> {
        let (send, recv) = self.conn.open_bi().await?;
        Ok(FramedStream::new(send, recv))
    }

    /// Waits for the peer to open a stream; `None` once the connection is
    /// closed.
    pub async fn accept_stream(&self) -> Option<FramedStream> {
        match self.conn.accept_bi().await {
            Ok((send, recv)) => Some(FramedStream::new(send, recv)),
            Err(error) => {
                tracing::debug!(peer = %self.peer, %error, "no more streams");
                None
            }
        }
    }

    /// The current round-trip time estimate.
    pub fn rtt(&self) -> Duration {
        self.conn.rtt()
    }

    /// Closes the connection with [`CLOSE_NORMAL`] and a reason the peer
    /// sees.
    pub fn close(&self, reason: &str) {
        self.conn.close(CLOSE_NORMAL.into(), reason.as_bytes());
    }

    /// Waits until the connection is closed, and says why.
    pub async fn closed(&self) -> quinn::ConnectionError {
        self.conn.closed().await
    }

    /// Watches what comes from the peer and closes the connection with
    /// [`CLOSE_SILENT`] once no datagram at all has come for
    /// [`TransportConfig::silent_after`]; returns then, or when the
    /// connection is closed otherwise. A link runs it beside its session
    /// (and drops it with the session): the session's writes may be held
    /// up by the very silence, so it cannot watch for it itself.
    pub async fn close_when_silent(&self) {
        let after = self.silent_after;
        let heard = || self.conn.stats().udp_rx.datagrams;
        let mut silence = Silence::new(after, heard(), Instant::now());
        let mut tick = tokio::time::interval((after / 6).max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.conn.closed() => return,
            }
            if silence.observe(heard(), Instant::now()) {
                tracing::info!(
                    peer = %self.peer,
                    remote = %self.remote,
                    secs = after.as_secs_f64(),
                    "nothing came from the peer for this long: closing the connection"
                );
                self.conn.close(
                    CLOSE_SILENT.into(),
                    b"nothing came from the peer for too long",
                );
                return;
            }
        }
    }
}

/// Whether a connection has gone silent, from the count of datagrams
/// received on it, sampled now and then. No I/O and no clock of its own.
#[derive(Debug, Clone)]
pub struct Silence {
    after: Duration,
    heard: u64,
    since: Instant,
}

impl Silence {
    /// Starts watching at `now`, with `heard` datagrams received so far.
    pub fn new(after: Duration, heard: u64, now: Instant) -> Self {
        Silence {
            after,
            heard,
            since: now,
        }
    }

    /// A new sample: `heard` datagrams received by `now`. True once none
    /// has come for `after` or longer.
    pub fn observe(&mut self, heard: u64, now: Instant) -> bool {
        if heard != self.heard {
            self.heard = heard;
            self.since = now;
            return false;
        }
        now.saturating_duration_since(self.since) >= self.after
    }
}

#[cfg(test)]
mod tests {
    use super::Silence;
    use std::time::{Duration, Instant};

    #[test]
    fn a_connection_is_silent_once_no_datagram_came_for_the_whole_span() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut s = Silence::new(Duration::from_secs(6), 10, t0);
        assert!(!s.observe(10, at(5_999)));
        // One datagram starts the span again.
        assert!(!s.observe(11, at(5_999)));
        assert!(!s.observe(11, at(11_998)));
        assert!(s.observe(11, at(11_999)));
        assert!(s.observe(11, at(60_000)), "and stays silent");
        assert!(!s.observe(12, at(60_001)), "until something comes");
        // A clock sample from before the span's start is not silence.
        let mut s = Silence::new(Duration::from_secs(6), 0, at(10_000));
        assert!(!s.observe(0, t0));
    }
}
