//! The dialing side: a child connecting to its parent.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};

use rustls::pki_types::CertificateDer;

use super::tls::{Slot, TlsMaterial};
use super::{PeerConnection, TransportConfig, TransportError};
use crate::NodeId;
use crate::identity::{NodeCredentials, serial_of};

/// The server name sent when a parent id is not usable as one (it is only
/// a hint: the certificate's node id is what is checked).
const FALLBACK_SERVER_NAME: &str = "onewindow";

/// Dials parents with this node's certificate.
///
/// UDP sockets are opened on first use, one per kind of target (IPv4 or IPv6,
/// loopback or not) and reused for later connections.
#[derive(Debug)]
pub struct Client {
    node: NodeId,
    tls: TlsMaterial,
    cfg: TransportConfig,
    endpoints: Mutex<Vec<(SocketAddr, quinn::Endpoint)>>,
}

impl Client {
    /// A client that presents `creds` and trusts the CA in them.
    pub fn new(creds: &NodeCredentials, cfg: TransportConfig) -> Result<Client, TransportError> {
        Ok(Client {
            node: creds.node.clone(),
            tls: TlsMaterial::new(creds, &cfg)?,
            cfg,
            endpoints: Mutex::new(Vec::new()),
        })
    }

    /// Connects to the node `parent` at `addr`. Must be called within a tokio
    /// runtime.
    ///
    /// Fails with [`TransportError::Refused`] if the server's certificate is
    /// not from the federation CA, is expired, or names another node. The
    /// parent judges this node's certificate after the client's side of the
    /// handshake is done, so a refusal by the parent shows as the returned
    /// connection being closed with [`CLOSE_REFUSED`](super::CLOSE_REFUSED)
    /// (or as a [`TransportError::Connection`] if it comes first).
    pub async fn connect(
        &self,
        addr: SocketAddr,
        parent: &NodeId,
    ) -> Result<PeerConnection, TransportError> {
        let slot = Slot::default();
        let config = self.tls.client(parent, slot.clone())?;
        let endpoint = self.endpoint_for(addr)?;
        let server_name = if rustls::pki_types::ServerName::try_from(parent.as_str()).is_ok() {
            parent.as_str()
        } else {
            FALLBACK_SERVER_NAME
        };
        let connecting = endpoint.connect_with(config, addr, server_name)?;
        let conn = match tokio::time::timeout(self.cfg.handshake_timeout, connecting).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(error)) => {
                let seen = slot.take();
                return Err(match seen.refusal {
                    Some((kind, detail)) => {
                        tracing::warn!(
                            node = %self.node,
                            %parent,
                            remote = %addr,
                            claimed = seen.claimed.as_ref().map(NodeId::as_str),
                            %kind,
                            %detail,
                            "parent refused"
                        );
                        TransportError::Refused { kind, detail }
                    }
                    None => {
                        tracing::warn!(node = %self.node, %parent, remote = %addr, %error, "connection failed");
                        TransportError::Connection(error)
                    }
                });
            }
            Err(_) => {
                tracing::warn!(node = %self.node, %parent, remote = %addr, "handshake timed out");
                return Err(TransportError::HandshakeTimeout(addr));
            }
        };
        let serial = conn
            .peer_identity()
            .and_then(|any| any.downcast::<Vec<CertificateDer<'static>>>().ok())
            .and_then(|certs| certs.first().and_then(|c| serial_of(c.as_ref()).ok()))
            .unwrap_or_default();
        tracing::info!(node = %self.node, %parent, remote = %addr, %serial, "connected to parent");
        Ok(PeerConnection {
            peer: parent.clone(),
            serial,
            remote: addr,
            conn,
            _listing: None,
            silent_after: self.cfg.silent_after,
        })
    }

    /// The endpoint for targets like `target`: bound to the loopback address
    /// for a loopback target, to the unspecified address otherwise, in the
    /// target's address family.
    fn endpoint_for(&self, target: SocketAddr) -> Result<quinn::Endpoint, TransportError> {
        let ip = target.ip();
        let bind = match (ip.is_ipv4(), ip.is_loopback()) {
            (true, true) => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            (true, false) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            (false, true) => SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
            (false, false) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        };
        let mut endpoints = self
            .endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, endpoint)) = endpoints.iter().find(|(b, _)| *b == bind) {
            return Ok(endpoint.clone());
        }
        let endpoint = quinn::Endpoint::client(bind)?;
        endpoints.push((bind, endpoint.clone()));
        Ok(endpoint)
    }

    /// Closes every connection this client made. Later connections open
    /// new sockets.
    pub fn close(&self) {
        let mut endpoints = self
            .endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, endpoint) in endpoints.drain(..) {
            endpoint.close(super::CLOSE_NORMAL.into(), b"client closing");
        }
    }
}
