//! The peering links of a tree's root with the roots of other trees
//! (异地通办 across trees): the driver of `federation::peering` over QUIC
//! with mutual TLS, under its own ALPN and on its own port
//! (`[peering] listen`).
//!
//! The root listens for its peers and dials each enabled one. A peer is
//! admitted only with a certificate of its own tree's CA (`ca_file`) that
//! names its root (`id`); a disabled peer is refused as revoked, and a root
//! of any other tree is refused by the TLS check (its CA is not trusted
//! here). Every refusal is one security event. On the connection it dials,
//! the root sends its offer, takes the peer's, and hands across the cases
//! its outbox holds, one at a time, each until the peer acknowledges it;
//! on a connection it accepts, it answers offers and takes the cases
//! handed to it.

use std::sync::Arc;
use std::time::Duration;

use federation::peering::{PEERING_ALPN, PeerMessage};
use federation::transport::{
    Backoff, Client, PeerConnection, PeerPolicy, Refusal, SecurityEvent, SecurityKind, Server,
    read_raw_frame, write_raw_frame,
};
use federation::{NodeCredentials, NodeId};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use onewindow_service::Node;
use onewindow_service::config::PeerConfig;

/// How long a dialing root waits for the next thing to send when nothing
/// announces it (a case handed across is announced by the store's head).
const IDLE_LOOK: Duration = Duration::from_secs(2);

/// The running peering of a root.
pub(crate) struct Peering {
    /// Where the other trees' roots connect.
    pub listen_addr: std::net::SocketAddr,
    pub server: Arc<Server>,
    /// Dials the peers; closed on stop, so that each peer learns at once
    /// that its connection from here ended.
    pub client: Arc<Client>,
    pub tasks: Vec<JoinHandle<()>>,
}

struct PeersPolicy {
    peers: Vec<PeerConfig>,
}

impl PeerPolicy for PeersPolicy {
    fn admit(&self, peer: &NodeId, serial: &str) -> Result<(), Refusal> {
        match self.peers.iter().find(|p| p.id == peer.as_str()) {
            Some(p) if p.enabled => Ok(()),
            Some(_) => Err(Refusal::Revoked(format!(
                "peering with {peer} (serial {serial}) is disabled"
            ))),
            None => Err(Refusal::NotAChild(format!(
                "{peer} is not a peer of this tree"
            ))),
        }
    }
}

/// Starts the peering of a root whose configuration lists peers; `None`
/// otherwise.
pub(crate) fn start(
    node: &Arc<Node>,
    creds: &NodeCredentials,
    security: &UnboundedSender<SecurityEvent>,
) -> anyhow::Result<Option<Peering>> {
    let cfg = &node.config.peering;
    if cfg.peers.is_empty() || node.id.depth() != 0 {
        return Ok(None);
    }
    let mut cas = Vec::new();
    for p in &cfg.peers {
        let pem = std::fs::read_to_string(&p.ca_file).map_err(|e| {
            anyhow::anyhow!(
                "reading the CA certificate of peer {}, {}: {e}",
                p.id,
                p.ca_file
            )
        })?;
        cas.push((p.id.clone(), pem));
    }
    let peer_creds = NodeCredentials {
        node: creds.node.clone(),
        cert_pem: creds.cert_pem.clone(),
        key_pem: creds.key_pem.clone(),
        ca_pem: cas
            .iter()
            .map(|(_, pem)| pem.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let transport = federation::transport::TransportConfig {
        alpn: PEERING_ALPN,
        ..node.config.federation.limits.transport()
    };
    let server = Arc::new(Server::bind(
        cfg.listen,
        &peer_creds,
        Arc::new(PeersPolicy {
            peers: cfg.peers.clone(),
        }),
        security.clone(),
        transport.clone(),
    )?);
    let listen_addr = server.local_addr();
    let cas = Arc::new(cas);
    let mut tasks = Vec::new();
    {
        let (node, server, cas, security) = (
            Arc::clone(node),
            Arc::clone(&server),
            Arc::clone(&cas),
            security.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut running = tokio::task::JoinSet::new();
            while let Some(conn) = server.accept().await {
                while running.try_join_next().is_some() {}
                if !of_its_ca(&conn, &cas, &security) {
                    conn.conn
                        .close(federation::transport::CLOSE_REFUSED.into(), b"wrong CA");
                    continue;
                }
                let node = Arc::clone(&node);
                running.spawn(async move {
                    let peer = conn.peer.to_string();
                    if let Err(e) = answer(&node, conn).await {
                        tracing::info!(%peer, error = %e, "peering connection ended");
                    }
                });
            }
        }));
    }
    let client = Arc::new(Client::new(&peer_creds, transport)?);
    for p in cfg.peers.iter().filter(|p| p.enabled) {
        let (node, client, cas, security, peer) = (
            Arc::clone(node),
            Arc::clone(&client),
            Arc::clone(&cas),
            security.clone(),
            p.clone(),
        );
        tasks.push(tokio::spawn(async move {
            dial(node, client, peer, cas, security).await;
        }));
    }
    tracing::info!(node = %node.id, %listen_addr, peers = cfg.peers.len(), "peering with other trees' roots");
    Ok(Some(Peering {
        listen_addr,
        server,
        client,
        tasks,
    }))
}

/// Is the certificate the peer presented one of its own tree's CA? (The
/// TLS check accepts any configured peer's CA; a root certified by another
/// peer's CA under this peer's id is refused here, one security event.)
fn of_its_ca(
    conn: &PeerConnection,
    cas: &[(String, String)],
    security: &UnboundedSender<SecurityEvent>,
) -> bool {
    let ca = cas.iter().find(|(id, _)| id == conn.peer.as_str());
    let ok = match (ca, conn.certificate_der()) {
        (Some((_, pem)), Some(der)) => federation::der_signed_by(&der, pem).unwrap_or(false),
        _ => false,
    };
    if !ok {
        let detail = format!("{} presented a certificate not of its tree's CA", conn.peer);
        tracing::warn!(remote = %conn.remote, %detail, "peer refused");
        let _ = security.send(SecurityEvent {
            at_ms: now_ms(),
            remote: conn.remote,
            claimed: Some(conn.peer.clone()),
            kind: SecurityKind::UnknownCa,
            detail,
        });
    }
    ok
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn send(s: &mut quinn::SendStream, m: &PeerMessage) -> anyhow::Result<()> {
    write_raw_frame(s, &m.encode()).await?;
    Ok(())
}

async fn recv(r: &mut quinn::RecvStream, max: usize) -> anyhow::Result<Option<PeerMessage>> {
    match read_raw_frame(r, max).await? {
        Some(frame) => Ok(Some(PeerMessage::decode(&frame)?)),
        None => Ok(None),
    }
}

fn max_frame(node: &Node) -> usize {
    node.config.federation.limits.max_frame_bytes as usize
}

/// The listening side: answers the peer's offer with this root's, and
/// takes every case the peer hands across.
async fn answer(node: &Arc<Node>, conn: PeerConnection) -> anyhow::Result<()> {
    let peer = conn.peer.to_string();
    let Some(stream) = conn.accept_stream().await else {
        return Ok(());
    };
    let (mut tx, mut rx) = stream.into_parts();
    while let Some(m) = recv(&mut rx, max_frame(node)).await? {
        match m {
            PeerMessage::Offer { offer, signature } => {
                if let Err(r) = node.take_peer_offer(&peer, &offer, &signature).await {
                    tracing::warn!(%peer, code = r.code, message = %r.message, "a peer's offer refused");
                }
                let (offer, signature) = node.peer_offer()?;
                send(&mut tx, &PeerMessage::Offer { offer, signature }).await?;
            }
            PeerMessage::Hand { body, signature } => {
                let reply = match node.take_hand(&peer, &body, &signature).await {
                    Ok((case_id, version)) => PeerMessage::Ack { case_id, version },
                    Err(r) => {
                        tracing::warn!(%peer, code = r.code, message = %r.message, "a case from a peer refused");
                        let (case_id, version) = federation::peering::Hand::decode(&body)
                            .map(|h| (h.case_id, 0))
                            .unwrap_or_default();
                        PeerMessage::Refused {
                            case_id,
                            version,
                            code: r.code.to_owned(),
                            message: r.message,
                        }
                    }
                };
                send(&mut tx, &reply).await?;
            }
            PeerMessage::Ack { .. } | PeerMessage::Refused { .. } => {
                anyhow::bail!("{peer} answered what was not asked");
            }
        }
    }
    Ok(())
}

/// The dialing side, for one peer: connects (again after a failure, with
/// backoff), exchanges offers, and hands across what the outbox holds.
async fn dial(
    node: Arc<Node>,
    client: Arc<Client>,
    peer: PeerConfig,
    cas: Arc<Vec<(String, String)>>,
    security: UnboundedSender<SecurityEvent>,
) {
    use rand::SeedableRng;
    let fed = &node.config.federation;
    let mut backoff = Backoff::new(
        Duration::from_millis(fed.reconnect_min_ms),
        Duration::from_millis(fed.reconnect_max_ms),
    );
    let mut rng = rand::rngs::StdRng::from_entropy();
    let Ok(peer_id) = NodeId::new(peer.id.clone()) else {
        return;
    };
    loop {
        let target = match tokio::net::lookup_host(peer.addr.as_str())
            .await
            .map(|mut a| a.next())
        {
            Ok(Some(a)) => Some(a),
            _ => {
                tracing::warn!(peer = %peer.id, addr = %peer.addr, "the peer's address does not resolve");
                None
            }
        };
        if let Some(target) = target {
            match client.connect(target, &peer_id).await {
                Ok(conn) if of_its_ca(&conn, &cas, &security) => {
                    match session(&node, &conn, &peer.id).await {
                        Ok(()) => {}
                        Err(e) => {
                            tracing::info!(peer = %peer.id, error = %e, "peering session ended")
                        }
                    }
                    conn.close("peering session ended");
                    backoff.reset();
                }
                Ok(conn) => conn.close("wrong CA"),
                Err(e) => tracing::debug!(peer = %peer.id, error = %e, "cannot reach the peer"),
            }
        }
        tokio::time::sleep(backoff.next(&mut rng)).await;
    }
}

/// One session on a connection this root dialed.
async fn session(node: &Arc<Node>, conn: &PeerConnection, peer: &str) -> anyhow::Result<()> {
    let (mut tx, mut rx) = conn.open_stream().await?.into_parts();
    let mut head = node.store.head().await;
    let mut offered: Option<Vec<u8>> = None;
    let mut looked: Option<std::time::Instant> = None;
    let mut refused: std::collections::HashSet<(String, u64)> = std::collections::HashSet::new();
    loop {
        // The offer is made again at most every IDLE_LOOK (the root's head
        // moves with every batch it takes).
        let due = looked.is_none_or(|t| t.elapsed() >= IDLE_LOOK);
        let (offer, signature) = if due {
            looked = Some(std::time::Instant::now());
            node.peer_offer()?
        } else {
            (offered.clone().unwrap_or_default(), String::new())
        };
        if offered.as_ref() != Some(&offer) {
            send(
                &mut tx,
                &PeerMessage::Offer {
                    offer: offer.clone(),
                    signature,
                },
            )
            .await?;
            match recv(&mut rx, max_frame(node)).await? {
                Some(PeerMessage::Offer { offer, signature }) => {
                    if let Err(r) = node.take_peer_offer(peer, &offer, &signature).await {
                        tracing::warn!(%peer, code = r.code, message = %r.message, "a peer's offer refused");
                    }
                }
                Some(_) => anyhow::bail!("{peer} did not answer the offer with its own"),
                None => return Ok(()),
            }
            offered = Some(offer);
        }
        for row in node.peer_outbox(peer).await? {
            if refused.contains(&(row.case_id.clone(), row.version)) {
                continue;
            }
            let Some((body, signature)) = node.hand_for(peer, &row.case_id).await? else {
                continue;
            };
            send(&mut tx, &PeerMessage::Hand { body, signature }).await?;
            match recv(&mut rx, max_frame(node)).await? {
                Some(PeerMessage::Ack { case_id, version }) if case_id == row.case_id => {
                    node.peer_acked(peer, &case_id, version.max(row.version))
                        .await?;
                    tracing::info!(%peer, case = %case_id, "the peer holds the case");
                }
                Some(PeerMessage::Refused { code, message, .. }) => {
                    tracing::warn!(%peer, case = %row.case_id, %code, %message, "the peer refused a case; it waits here");
                    refused.insert((row.case_id.clone(), row.version));
                }
                Some(_) => anyhow::bail!("{peer} answered a case with something else"),
                None => return Ok(()),
            }
        }
        tokio::select! {
            changed = head.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            () = tokio::time::sleep(IDLE_LOOK) => {}
            _ = conn.closed() => return Ok(()),
        }
    }
}
