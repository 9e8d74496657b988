//! One link session: Hello each way, then both flows over one stream.
//!
//! A reader task turns frames into messages; the session loop owns the
//! stream's sending half, the [`Sender`] of the flow it sends and the
//! receiver of the flow it receives, and wakes on messages, on the log's
//! head moving, on the sender's timer and on the status timer.

use std::sync::Arc;
use std::time::Duration;

use federation::NodeId;
use federation::replication::{
    Batch, Direction, DownLookup, DownReceiver, Hello, LinkStatus, Message, Sender, SenderConfig,
    UpReceiver, WireEntry,
};
use federation::transport::{PeerConnection, read_frame, write_frame};

use crate::service::Node;
use crate::store::StoredEvent;

/// This node's side of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This node is the parent: it receives the up flow and sends down.
    Parent,
    /// This node is the child: it sends up and receives the down flow.
    Child,
}

enum Receiver {
    Up(UpReceiver),
    Down(DownReceiver),
}

struct Lookup {
    heads: std::collections::BTreeMap<NodeId, (u64, federation::EntryHash)>,
    streams: std::collections::BTreeMap<String, u64>,
}

impl DownLookup for Lookup {
    fn has(&self, origin: &NodeId, origin_seq: u64) -> bool {
        self.heads.get(origin).is_some_and(|h| h.0 >= origin_seq)
    }
    fn stream_head(&self, stream: &str) -> u64 {
        self.streams.get(stream).copied().unwrap_or(0)
    }
}

const STATUS_EVERY: Duration = Duration::from_secs(2);
const PERSIST_ACK_EVERY_MS: i64 = 500;

/// Runs a session until the connection ends or the peer misbehaves.
pub async fn run(node: Arc<Node>, conn: PeerConnection, role: Role) -> anyhow::Result<()> {
    let stream = match role {
        Role::Child => conn.open_stream().await?,
        Role::Parent => conn
            .accept_stream()
            .await
            .ok_or_else(|| anyhow::anyhow!("the child opened no stream"))?,
    };
    let (mut send, mut recv) = stream.into_parts();
    let peer = conn.peer.clone();
    let peer_s = peer.to_string();
    let (have, acked) = node.store.link_cursor(&peer_s).await?;
    write_frame(
        &mut send,
        &Message::Hello(Hello {
            node: node.id.clone(),
            software: env!("CARGO_PKG_VERSION").into(),
            catalogue_version: node.catalogue().version,
            now_ms: node.now_ms(),
            have,
        }),
    )
    .await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(64);
    let reader = tokio::spawn(async move {
        loop {
            match read_frame::<Message>(&mut recv).await {
                Ok(Some(m)) => {
                    if tx.send(m).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "link read ended");
                    break;
                }
            }
        }
    });
    let _reader = AbortOnDrop(reader);
    let hello = match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
        Ok(Some(Message::Hello(h))) if h.node == peer => h,
        _ => anyhow::bail!("{peer} did not say hello"),
    };
    let skew_ms = hello.now_ms - node.now_ms();
    node.store
        .fleet_seen(
            &peer_s,
            true,
            Some(&conn.remote.to_string()),
            &hello.software,
            hello.catalogue_version,
            None,
            None,
            Some(skew_ms),
            node.now_ms(),
        )
        .await?;
    let mut head_rx = node.store.head().await;
    let head = *head_rx.borrow_and_update();
    // A QUIC stream is reliable: resending on the same live connection only
    // duplicates bytes (on a slow link a large batch can take longer than any
    // fixed timeout). A dead connection is found by QUIC's idle timeout, and
    // the next connection resends from the receiver's durable cursor. So the
    // acknowledgement timeout never fires here.
    let cfg = SenderConfig {
        ack_timeout_ms: i64::MAX / 4,
        ..SenderConfig::default()
    };
    let mut sender = Sender::new(cfg, acked, head);
    sender.connected(node.now_ms(), hello.have);
    let mut receiver = match role {
        Role::Parent => Receiver::Up(UpReceiver::new(peer.clone(), have)),
        Role::Child => Receiver::Down(DownReceiver::new(node.id.clone(), have)),
    };
    let send_dir = match role {
        Role::Parent => Direction::Down,
        Role::Child => Direction::Up,
    };
    let mut status = tokio::time::interval(STATUS_EVERY);
    // Questions from this node to the parent, and answers to the child's.
    let (query_tx, mut query_rx) = tokio::sync::mpsc::channel(64);
    let (answer_tx, mut answer_rx) = tokio::sync::mpsc::channel::<(u64, Option<String>)>(64);
    let mut pending: std::collections::HashMap<u64, tokio::sync::oneshot::Sender<Option<String>>> =
        std::collections::HashMap::new();
    let mut next_query = 0u64;
    if role == Role::Child
        && let Ok(mut q) = node.uplink_queries.lock()
    {
        *q = Some(query_tx);
    } else {
        drop(query_tx);
    }
    let mut last_ack_persist = 0i64;
    let result: anyhow::Result<()> = async {
        loop {
            let now = node.now_ms();
            while let Some(req) = sender.poll_send(now) {
                let raw = node
                    .store
                    .events_between(req.after as i64, req.upto as i64, req.max_entries as i64)
                    .await?;
                let upto = if raw.len() == req.max_entries {
                    raw.last().map_or(req.upto, |e| e.local_seq as u64)
                } else {
                    req.upto
                };
                let entries: Vec<WireEntry> = raw
                    .into_iter()
                    .filter(|e| meant_for(&node.id, role, &peer, e))
                    .map(to_wire)
                    .collect();
                write_frame(
                    &mut send,
                    &Message::Batch(Batch {
                        direction: send_dir,
                        after: req.after,
                        upto,
                        entries,
                    }),
                )
                .await?;
                sender.sent(now, upto);
            }
            let wake = sender
                .poll_timeout()
                .map(|t| Duration::from_millis(u64::try_from(t - now).unwrap_or(0)))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                m = rx.recv() => {
                    let Some(m) = m else { return Ok(()) };
                    match m {
                        Message::Batch(b) => {
                            let ack = receive(&node, &peer_s, &mut receiver, &b).await;
                            match ack {
                                Ok(upto) => write_frame(&mut send, &Message::Ack { direction: b.direction, upto }).await?,
                                Err(refusal) => {
                                    let _ = write_frame(&mut send, &Message::Reject { code: refusal.0.clone(), message: refusal.1.clone() }).await;
                                    anyhow::bail!("refused a batch from {peer}: {} {}", refusal.0, refusal.1);
                                }
                            }
                        }
                        Message::Ack { upto, .. } => {
                            if sender.acked(now, upto).is_err() {
                                anyhow::bail!("{peer} acknowledged {upto}, beyond this log");
                            }
                            if now - last_ack_persist >= PERSIST_ACK_EVERY_MS {
                                node.store.set_acked(&peer_s, upto).await?;
                                last_ack_persist = now;
                            }
                        }
                        Message::Status(s) => {
                            node.store
                                .fleet_seen(&peer_s, true, Some(&conn.remote.to_string()), &s.software, s.catalogue_version, Some(s.backlog as i64), Some(s.acked as i64), Some(s.now_ms - now), now)
                                .await?;
                        }
                        Message::Reject { code, message } => anyhow::bail!("{peer} refused our batch: {code} {message}"),
                        Message::Query { id, body } if role == Role::Parent => {
                            let (n, tx) = (Arc::clone(&node), answer_tx.clone());
                            tokio::spawn(async move {
                                let answer = n.answer(&body).await;
                                let _ = tx.send((id, answer)).await;
                            });
                        }
                        Message::Answer { id, body } => {
                            if let Some(reply) = pending.remove(&id) {
                                let _ = reply.send(body);
                            }
                        }
                        Message::Hello(_) | Message::Query { .. } => {}
                    }
                }
                changed = head_rx.changed() => {
                    if changed.is_err() { return Ok(()) }
                    let h = *head_rx.borrow_and_update();
                    sender.appended(node.now_ms(), h);
                }
                _ = tokio::time::sleep(wake) => {
                    sender.handle_timeout(node.now_ms());
                }
                Some((body, reply)) = query_rx.recv() => {
                    next_query += 1;
                    pending.insert(next_query, reply);
                    write_frame(&mut send, &Message::Query { id: next_query, body }).await?;
                }
                Some((id, body)) = answer_rx.recv() => {
                    write_frame(&mut send, &Message::Answer { id, body }).await?;
                }
                _ = status.tick() => {
                    if role == Role::Parent && node.registry.is_revoked(peer.as_str(), &conn.serial) {
                        anyhow::bail!("{peer} is revoked");
                    }
                    write_frame(&mut send, &Message::Status(LinkStatus {
                        software: env!("CARGO_PKG_VERSION").into(),
                        catalogue_version: node.catalogue().version,
                        backlog: sender.backlog(),
                        acked: sender.acked_upto(),
                        now_ms: node.now_ms(),
                    })).await?;
                }
            }
        }
    }
    .await;
    if role == Role::Child
        && let Ok(mut q) = node.uplink_queries.lock()
    {
        *q = None;
    }
    let _ = node.store.set_acked(&peer_s, sender.acked_upto()).await;
    let _ = node
        .store
        .fleet_seen(
            &peer_s,
            false,
            None,
            &hello.software,
            hello.catalogue_version,
            None,
            None,
            None,
            node.now_ms(),
        )
        .await;
    // Let what was written (a Reject, the last Ack) reach the peer before
    // the connection goes: closing discards undelivered stream data.
    let _ = send.finish();
    let _ = tokio::time::timeout(Duration::from_millis(500), send.stopped()).await;
    conn.close("session ended");
    result
}

/// A refusal: (code, message).
struct Refused(String, String);

async fn receive(
    node: &Arc<Node>,
    peer: &str,
    receiver: &mut Receiver,
    b: &Batch,
) -> Result<u64, Refused> {
    let store_err = |e: &dyn std::fmt::Display| Refused("storage".into(), e.to_string());
    let heads = node.store.origin_heads().await.map_err(|e| store_err(&e))?;
    let checked = match receiver {
        Receiver::Up(r) => r.check(b, &heads),
        Receiver::Down(r) => {
            let ids: Vec<&str> = b
                .entries
                .iter()
                .filter_map(|e| e.stream.as_deref())
                .collect();
            let streams = node
                .store
                .case_versions(&ids)
                .await
                .map_err(|e| store_err(&e))?;
            r.check(b, &Lookup { heads, streams })
        }
    };
    let accepted = match checked {
        Ok(a) => a,
        Err(refusal) => {
            if refusal.is_security() {
                let _ = node
                    .store
                    .security_event(
                        node.now_ms(),
                        refusal.code(),
                        Some(peer),
                        None,
                        &refusal.to_string(),
                    )
                    .await;
            }
            tracing::warn!(peer, code = refusal.code(), error = %refusal, "batch refused");
            return Err(Refused(refusal.code().into(), refusal.to_string()));
        }
    };
    let applied = match node.apply_batch(peer, b, &accepted).await {
        Ok(a) => a,
        Err(crate::link::apply::ApplyError::Store(e)) => return Err(store_err(&e)),
        Err(e) => {
            let _ = node
                .store
                .security_event(
                    node.now_ms(),
                    "forged_entry",
                    Some(peer),
                    None,
                    &e.to_string(),
                )
                .await;
            tracing::warn!(peer, error = %e, "batch refused");
            return Err(Refused("forged_entry".into(), e.to_string()));
        }
    };
    for bad in &applied.bad_signatures {
        tracing::warn!(peer, detail = %bad, "directive refused: bad signature");
        let _ = node
            .store
            .security_event(node.now_ms(), "bad_signature", Some(peer), None, bad)
            .await;
    }
    for r in &applied.revoked {
        tracing::warn!(revoked = %r, "node revoked by the root");
        node.registry.revoke(r);
    }
    if applied.calendar_changed
        && let Err(e) = node.reload_calendar().await
    {
        tracing::error!(error = %e, "reloading the calendar");
    }
    if let Some(cat) = applied.catalogue {
        tracing::info!(
            version = cat.version,
            "catalogue version received from above"
        );
        node.set_catalogue(cat);
    }
    for (case, to, reason) in applied.recalls {
        if let Err(e) = node.obey_recall(&case, &to, &reason).await {
            tracing::warn!(%case, error = %e, "could not obey a recall");
        }
    }
    Ok(match receiver {
        Receiver::Up(r) => r.committed(&accepted),
        Receiver::Down(r) => r.committed(&accepted),
    })
}

/// Is this entry of our log meant for the peer on this link?
fn meant_for(me: &NodeId, role: Role, peer: &NodeId, e: &StoredEvent) -> bool {
    match role {
        // Up: everything written in this node's subtree.
        Role::Child => e.entry.origin.is_in_subtree_of(me),
        // Down: what the child's subtree did not write, for every node below
        // (scope '') or for a case accepted in the child's subtree.
        Role::Parent => {
            !e.entry.origin.is_in_subtree_of(peer)
                && (e.scope.is_empty()
                    || NodeId::new(e.scope.clone()).is_ok_and(|s| s.is_in_subtree_of(peer)))
        }
    }
}

fn to_wire(e: StoredEvent) -> WireEntry {
    let (stream, stream_seq) = match e.body.stream() {
        Some((id, v)) => (Some(id.to_owned()), v),
        None => (None, 0),
    };
    WireEntry {
        local_seq: e.local_seq as u64,
        entry: e.entry,
        stream,
        stream_seq,
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
