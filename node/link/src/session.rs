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
    Batch, Direction, DownLookup, DownReceiver, DownScope, Hello, HelloAction, LinkStatus, Message,
    Sender, SenderConfig, UpLookup, UpReceiver,
};
use federation::transport::{PeerConnection, read_raw_frame, write_raw_frame};

use onewindow_service::Node;
use onewindow_service::apply::Cut;
use onewindow_store::Route;

/// The stream's sending half, counting what goes out in the link metrics.
struct Counted {
    send: quinn::SendStream,
    metrics: onewindow_service::metrics::Metrics,
    peer: String,
}

impl std::ops::Deref for Counted {
    type Target = quinn::SendStream;
    fn deref(&self) -> &quinn::SendStream {
        &self.send
    }
}

impl std::ops::DerefMut for Counted {
    fn deref_mut(&mut self) -> &mut quinn::SendStream {
        &mut self.send
    }
}

/// Writes one message as one frame.
async fn send_msg(send: &mut Counted, m: &Message) -> anyhow::Result<()> {
    if let Message::Reject { code, .. } = m {
        send.metrics.link_refusal_sent(&send.peer, code);
    }
    let frame = m.encode();
    write_raw_frame(&mut send.send, &frame).await?;
    let batch = match m {
        Message::Batch(b) => Some(b.direction),
        _ => None,
    };
    send.metrics.link_sent(&send.peer, frame.len(), batch);
    Ok(())
}

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

/// What the receivers need of the store for one batch: every origin's
/// head, the hashes held at the places the batch's entries claim (to find
/// forks), and the versions of the cases it touches.
struct Lookup {
    heads: std::collections::BTreeMap<NodeId, (u64, federation::EntryHash)>,
    held: std::collections::HashMap<(NodeId, u64), federation::EntryHash>,
    streams: std::collections::BTreeMap<String, u64>,
}

impl UpLookup for Lookup {
    fn origin_head(&self, origin: &NodeId) -> (u64, federation::EntryHash) {
        self.heads
            .get(origin)
            .copied()
            .unwrap_or((0, federation::EntryHash::GENESIS))
    }
    fn held_hash(&self, origin: &NodeId, seq: u64) -> Option<federation::EntryHash> {
        self.held.get(&(origin.clone(), seq)).copied()
    }
}

impl DownLookup for Lookup {
    fn has(&self, origin: &NodeId, origin_seq: u64) -> bool {
        self.heads.get(origin).is_some_and(|h| h.0 >= origin_seq)
    }
    fn stream_head(&self, stream: &str) -> u64 {
        self.streams.get(stream).copied().unwrap_or(0)
    }
    fn held_hash(&self, origin: &NodeId, origin_seq: u64) -> Option<federation::EntryHash> {
        self.held.get(&(origin.clone(), origin_seq)).copied()
    }
    fn origin_head(&self, origin: &NodeId) -> (u64, federation::EntryHash) {
        UpLookup::origin_head(self, origin)
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
    let (send, mut recv) = stream.into_parts();
    let peer = conn.peer.clone();
    let peer_s = peer.to_string();
    let mut send = Counted {
        send,
        metrics: node.metrics.clone(),
        peer: peer_s.clone(),
    };
    let (have, acked) = node.store.link_cursor(&peer_s).await?;
    // A child that is recovering its own log asks its parent for it.
    let asked = role == Role::Child && node.own_log.is_recovering();
    let your_origin_head = node
        .store
        .origin_heads()
        .await?
        .get(&peer)
        .map_or(0, |h| h.0);
    send_msg(
        &mut send,
        &Message::Hello(Hello {
            node: node.id.clone(),
            software: env!("CARGO_PKG_VERSION").into(),
            catalogue_version: node.catalogue().version,
            now_ms: node.now_ms(),
            have,
            your_origin_head,
            head: node.store.local_head().await,
            recovering: asked,
        }),
    )
    .await?;
    // Decoding (and so each entry's one hash) happens in the reader, beside
    // the session's applying; few frames wait, which bounds what a peer can
    // make this node hold.
    let budget = &node.config.federation.limits;
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<Result<Message, String>>(budget.reader_queue_frames as usize);
    let (limits, max_frame) = (budget.wire(), budget.max_frame_bytes as usize);
    let (metrics, from) = (node.metrics.clone(), peer_s.clone());
    let reader = tokio::spawn(async move {
        loop {
            let m = match read_raw_frame(&mut recv, max_frame).await {
                Ok(Some(frame)) => {
                    metrics.link_received_bytes(&from, frame.len());
                    Message::decode(&frame, &limits).map_err(|e| format!("{}: {e}", e.code()))
                }
                Ok(None) => break,
                Err(e @ federation::FrameError::FrameTooLarge { .. }) => {
                    Err(format!("frame_too_large: {e}"))
                }
                Err(e) => {
                    tracing::debug!(error = %e, "link read ended");
                    break;
                }
            };
            let bad = m.is_err();
            if tx.send(m).await.is_err() || bad {
                break;
            }
        }
    });
    let _reader = AbortOnDrop(reader);
    let hello = match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
        Ok(Some(Ok(Message::Hello(h)))) if h.node == peer => h,
        Ok(Some(Ok(Message::Hello(h)))) => {
            let detail = format!("the Hello names {}, the certificate {peer}", h.node);
            violation(&node, &peer_s, &conn, "hello_mismatch", &detail).await;
            anyhow::bail!("{detail}")
        }
        Ok(Some(Err(e))) => {
            violation(
                &node,
                &peer_s,
                &conn,
                onewindow_service::link_state::frame_error_kind(&e),
                &e,
            )
            .await;
            anyhow::bail!("{peer} sent a bad frame: {e}")
        }
        Ok(Some(Ok(_))) => {
            violation(
                &node,
                &peer_s,
                &conn,
                "no_hello",
                "the first message was not a Hello",
            )
            .await;
            anyhow::bail!("{peer} did not say hello")
        }
        _ => anyhow::bail!("{peer} did not say hello"),
    };
    if role == Role::Parent && node.own_log.is_recovering() {
        // Entries from below would race the recovery's (the same entries
        // come both ways): the children wait until this node has its log.
        let _ = send_msg(
            &mut send,
            &Message::Reject {
                code: "hall_recovering".into(),
                message: format!("{} is recovering its own log from its parent", node.id),
            },
        )
        .await;
        let _ = send.finish();
        let _ = tokio::time::timeout(Duration::from_millis(500), send.stopped()).await;
        conn.close("recovering");
        anyhow::bail!("{peer} waits: this node is recovering its own log");
    }
    let recovery = if role == Role::Child {
        let action = node
            .own_log
            .parent_hello(&node.store, hello.your_origin_head, asked)
            .await?;
        match action {
            HelloAction::Proceed => false,
            HelloAction::Receive => true,
            HelloAction::Reconnect | HelloAction::Recovered => {
                // The next connection asks for the scope this one did not.
                conn.close("recovery scope changes");
                return Ok(());
            }
        }
    } else {
        false
    };
    let _connected = node.metrics.link_connected(&peer_s);
    // A peer whose log ends below what this node holds of it was put back
    // to an older copy of its store: its sequence numbers above its head
    // will name new entries, so the cursor goes back to its head (and the
    // peer, told the old cursor, resumes from its head anyway).
    let have = if hello.head < have {
        tracing::warn!(%peer, have, head = hello.head, "the peer's log is shorter than what is held of it: resetting the cursor");
        node.store.reset_have(&peer_s, hello.head).await?;
        hello.head
    } else {
        have
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
    let route = match (role, DownScope::asked(hello.recovering)) {
        (Role::Child, _) => Route::Up,
        (Role::Parent, DownScope::Meant) => Route::Down(peer_s.clone()),
        (Role::Parent, DownScope::Recovery) => {
            tracing::info!(%peer, "the child is recovering its own log: sending its subtree's entries too");
            Route::Recover(peer_s.clone())
        }
    };
    let mut head_rx = node.store.route_head(&route).await?;
    let head = *head_rx.borrow_and_update();
    // A QUIC stream is reliable: resending on the same live connection only
    // duplicates bytes (on a slow link a large batch can take longer than any
    // fixed timeout). A dead connection is found by QUIC's idle timeout, and
    // the next connection resends from the receiver's durable cursor. So the
    // acknowledgement timeout never fires here.
    let d = SenderConfig::default();
    let cfg = SenderConfig {
        ack_timeout_ms: i64::MAX / 4,
        max_batch_entries: d.max_batch_entries.min(limits.max_entries),
        max_batch_bytes: d.max_batch_bytes.min(max_frame / 2),
        ..d
    };
    let mut sender = Sender::new(cfg, acked, head);
    sender.connected(node.now_ms(), hello.have);
    if role == Role::Child {
        node.uplink.set_acked(sender.acked_upto());
    }
    // Origins deeper than the tree's tiers are refused.
    let max_depth = node.config.node.tiers.len().saturating_sub(1);
    let mut receiver = match role {
        Role::Parent => Receiver::Up(UpReceiver::new(peer.clone(), have).with_max_depth(max_depth)),
        Role::Child => Receiver::Down(
            DownReceiver::new(node.id.clone(), have)
                .with_max_depth(max_depth)
                .recovering(recovery),
        ),
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
    let mut progress = onewindow_service::link_state::Progress::new(&node, &peer_s);
    let result: anyhow::Result<()> = async {
        loop {
            let now = node.now_ms();
            while let Some(req) = sender.poll_send(now) {
                let (entries, upto) = node
                    .store
                    .wire_entries(&route, req.after, req.upto, req.max_entries, req.max_bytes)
                    .await?;
                send_msg(
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
            node.metrics
                .link_sender(&peer_s, send_dir, now, sender.backlog(), sender.acked_upto());
            let wake = sender
                .poll_timeout()
                .map(|t| Duration::from_millis(u64::try_from(t - now).unwrap_or(0)))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                m = rx.recv() => {
                    let m = match m {
                        None => return Ok(()),
                        Some(Ok(m)) => m,
                        Some(Err(e)) => {
                            let kind = onewindow_service::link_state::frame_error_kind(&e);
                            violation(&node, &peer_s, &conn, kind, &e).await;
                            let _ = send_msg(&mut send, &Message::Reject { code: kind.into(), message: e.clone() }).await;
                            return Err(onewindow_service::link_state::Refused::sent(kind, e).into());
                        }
                    };
                    match m {
                        Message::Batch(b) => {
                            node.metrics.link_batch_received(&peer_s, b.direction);
                            let ack = receive(&node, &peer_s, &mut receiver, &b).await;
                            match ack {
                                Ok(upto) => {
                                    send_msg(&mut send, &Message::Ack { direction: b.direction, upto }).await?;
                                    progress.acked(&node, b.after, upto).await;
                                    if recovery && node.own_log.applied(&node.store).await? {
                                        // Done: the next connection asks for
                                        // the usual scope.
                                        return Ok(());
                                    }
                                }
                                Err(refusal) => {
                                    let _ = send_msg(&mut send, &Message::Reject { code: refusal.0.clone(), message: refusal.1.clone() }).await;
                                    return Err(onewindow_service::link_state::Refused::sent(refusal.0, refusal.1).into());
                                }
                            }
                        }
                        Message::Ack { upto, .. } => {
                            let before = sender.acked_upto();
                            if sender.acked(now, upto).is_err() {
                                anyhow::bail!("{peer} acknowledged {upto}, beyond this log");
                            }
                            progress.acked(&node, before, upto).await;
                            if role == Role::Child {
                                node.uplink.set_acked(sender.acked_upto());
                                node.uplink.ack_at(now);
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
                        Message::Reject { code, message } => {
                            node.metrics.link_refusal_received(&peer_s, &code);
                            return Err(onewindow_service::link_state::Refused::received(code, message).into());
                        }
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
                        Message::Hello(_) => {
                            violation(&node, &peer_s, &conn, "second_hello", "a second Hello on a link").await;
                            anyhow::bail!("{peer} said hello twice");
                        }
                        Message::Query { .. } => {}
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
                    send_msg(&mut send, &Message::Query { id: next_query, body }).await?;
                }
                Some((id, body)) = answer_rx.recv() => {
                    send_msg(&mut send, &Message::Answer { id, body }).await?;
                }
                _ = status.tick() => {
                    if role == Role::Parent && node.registry.is_revoked(peer.as_str(), &conn.serial) {
                        anyhow::bail!("{peer} is revoked");
                    }
                    progress.tick(&node).await;
                    send_msg(&mut send, &Message::Status(LinkStatus {
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
    node.metrics.link_sender(
        &peer_s,
        send_dir,
        node.now_ms(),
        sender.backlog(),
        sender.acked_upto(),
    );
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
    // The places at or below an origin's head that the batch claims: a
    // different hash there is a fork.
    let mut claimed: std::collections::BTreeMap<&NodeId, (u64, u64)> =
        std::collections::BTreeMap::new();
    for w in &b.entries {
        let e = &w.entry;
        let head = heads.get(&e.origin).map_or(0, |h| h.0);
        if e.origin_seq <= head {
            let r = claimed
                .entry(&e.origin)
                .or_insert((e.origin_seq, e.origin_seq));
            r.0 = r.0.min(e.origin_seq);
            r.1 = r.1.max(e.origin_seq);
        }
    }
    let ranges: Vec<(&str, u64, u64)> = claimed
        .iter()
        .map(|(o, (lo, hi))| (o.as_str(), *lo, *hi))
        .collect();
    let held = node
        .store
        .held_hashes(&ranges)
        .await
        .map_err(|e| store_err(&e))?;
    let ids: Vec<&str> = match receiver {
        Receiver::Up(_) => Vec::new(),
        Receiver::Down(_) => b
            .entries
            .iter()
            .filter_map(|e| e.stream.as_deref())
            .collect(),
    };
    let streams = node
        .store
        .case_versions(&ids)
        .await
        .map_err(|e| store_err(&e))?;
    let lookup = Lookup {
        heads,
        held,
        streams,
    };
    let checked = match receiver {
        Receiver::Up(r) => r.check(b, &lookup),
        Receiver::Down(r) => r.check(b, &lookup),
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
    let started = std::time::Instant::now();
    let result = node.apply_batch(peer, b, &accepted).await;
    let (entries, committed) = match &result {
        // What a committed batch stored: the accepted entries before the cut.
        Ok(a) if a.committed => (
            accepted
                .apply
                .iter()
                .filter(|&&i| a.cut.as_ref().is_none_or(|(cut, _)| i < *cut))
                .count() as u64,
            true,
        ),
        _ => (0, false),
    };
    node.metrics
        .link_applied(peer, b.direction, started.elapsed(), entries, committed);
    let applied = match result {
        Ok(a) => a,
        Err(onewindow_service::apply::ApplyError::Store(e)) => return Err(store_err(&e)),
        Err(e) => return Err(Refused("forged_entry".into(), e.to_string())),
    };
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
    let mut durable = accepted.clone();
    durable.ack_upto = applied.ack_upto;
    let ack = match receiver {
        Receiver::Up(r) => r.committed(&durable),
        Receiver::Down(r) => r.committed(&durable),
    };
    match applied.cut {
        None => Ok(ack),
        Some((_, Cut::MissingCatalogue(version))) => {
            // Not a fault: the version is on its way. What came before was
            // applied; the rest comes again on the next connection.
            tracing::info!(
                peer,
                version,
                "holding back entries until their catalogue version arrives"
            );
            node.metrics.link_held_back(peer, version);
            Err(Refused(
                onewindow_service::link_state::CATALOGUE_MISSING.into(),
                onewindow_service::link_state::catalogue_missing_message(version, ack),
            ))
        }
        Some((_, Cut::Refused { code, detail })) => {
            let _ = node
                .store
                .security_event(node.now_ms(), code, Some(peer), None, &detail)
                .await;
            tracing::warn!(peer, code, error = %detail, "batch refused");
            Err(Refused(code.into(), detail))
        }
    }
}

/// Records a framing or Hello violation as one security event.
async fn violation(node: &Node, peer: &str, conn: &PeerConnection, kind: &str, detail: &str) {
    tracing::warn!(peer, kind, detail, "link violation");
    let _ = node
        .store
        .security_event(
            node.now_ms(),
            kind,
            Some(peer),
            Some(&conn.remote.to_string()),
            detail,
        )
        .await;
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
