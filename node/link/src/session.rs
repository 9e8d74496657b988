//! One link session: Hello each way, then both flows over one stream.
//!
//! The protocol's rules (the Hello and its checks, what the peer's Hello
//! decides, acknowledgements, questions, status) are the sans-IO state
//! machine of `federation::replication` ([`Handshake`], then [`Session`]);
//! this driver moves its bytes and calls the store. A reader task turns
//! frames into messages; the session loop owns the stream's sending half
//! and the [`Session`], and wakes on messages, on the log's head moving
//! and on the session's timer (the sender's and the status).

use std::sync::Arc;
use std::time::Duration;

use federation::NodeId;
use federation::replication::{
    Batch, DownLookup, DownScope, Ending, HELLO_TIMEOUT_MS, Handshake, LocalState, Message,
    Received, Receiver, SendFlow, Session, SessionConfig, UpLookup,
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

/// Writes one message as one frame; returns the frame's bytes.
async fn send_msg(send: &mut Counted, m: &Message) -> anyhow::Result<usize> {
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
    Ok(frame.len())
}

pub use federation::replication::Role;

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

/// A reply channel for one of this node's questions to its parent.
type Reply = tokio::sync::oneshot::Sender<Option<String>>;

/// How often a child reads its subtree's fleet rows and queue waits again
/// for its status reports (wall time).
const SUBTREE_REFRESH: Duration = Duration::from_secs(5);

fn ms(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Runs a session until the connection ends or the peer misbehaves.
pub async fn run(node: Arc<Node>, conn: PeerConnection, role: Role) -> anyhow::Result<()> {
    // For as long as the session runs (dropped with it): a path that
    // carries nothing any more closes the connection, and a child dials
    // again at once instead of waiting out QUIC's backed-off probes.
    let mut silence = tokio::task::JoinSet::new();
    silence.spawn({
        let conn = conn.clone();
        async move { conn.close_when_silent().await }
    });
    let stream = match role {
        Role::Child => conn.open_stream().await?,
        // A child that connects and says nothing (no stream, or one it
        // never writes to, which is the same here) would hold its
        // connection for as long as its keep-alives go on: it gets the
        // Hello's time, like a Hello that does not come.
        Role::Parent => {
            match tokio::time::timeout(ms(HELLO_TIMEOUT_MS), conn.accept_stream()).await {
                Ok(Some(stream)) => stream,
                Ok(None) => anyhow::bail!("the child opened no stream"),
                Err(_) => {
                    let detail = format!("no stream within {} s", HELLO_TIMEOUT_MS / 1000);
                    violation(&node, conn.peer.as_str(), &conn, "no_hello", &detail).await;
                    conn.close("no hello");
                    anyhow::bail!("{} opened no stream: {detail}", conn.peer);
                }
            }
        }
    };
    let (send, mut recv) = stream.into_parts();
    let peer = conn.peer.clone();
    let peer_s = peer.to_string();
    let mut send = Counted {
        send,
        metrics: node.metrics.clone(),
        peer: peer_s.clone(),
    };
    let budget = &node.config.federation.limits;
    let (limits, max_frame) = (budget.wire(), budget.max_frame_bytes as usize);
    let (have, acked) = node.store.link_cursor(&peer_s).await?;
    // A child that is recovering its own log asks its parent for it.
    let recovering = node.own_log.is_recovering();
    let your_origin_head = node
        .store
        .origin_heads()
        .await?
        .get(&peer)
        .map_or(0, |h| h.0);
    let handshake = Handshake::new(
        SessionConfig {
            role,
            me: node.id.clone(),
            peer: peer.clone(),
            software: env!("CARGO_PKG_VERSION").into(),
            limits,
            max_frame_bytes: max_frame,
            // Origins deeper than the tree's tiers are refused.
            max_depth: node.config.node.tiers.len().saturating_sub(1),
        },
        LocalState {
            catalogue_version: node.catalogue().version,
            now_ms: node.now_ms(),
            have,
            acked,
            your_origin_head,
            head: node.store.local_head().await,
            recovering,
            start_head: node.incarnation.start_head,
            incarnation: node.incarnation.id,
            earlier: node.incarnation.earlier.clone(),
            older_floor: node.incarnation.older_floor,
            peer_incarnation: node.store.peer_incarnation(&peer_s).await?,
        },
    );
    send_msg(&mut send, &handshake.hello()).await?;
    // Decoding (and so each entry's one hash) happens in the reader, beside
    // the session's applying; few frames wait, which bounds what a peer can
    // make this node hold.
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<Result<Message, String>>(budget.reader_queue_frames as usize);
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
    let first = match tokio::time::timeout(ms(HELLO_TIMEOUT_MS), rx.recv()).await {
        Ok(Some(first)) => first,
        // The stream ended before a Hello: a peer that stopped (a hall
        // killed while it connected), not a violation.
        Ok(None) => anyhow::bail!("{peer} did not say hello"),
        Err(_) => {
            let v = handshake.no_hello_in_time();
            violation(&node, &peer_s, &conn, v.kind, &v.detail).await;
            return Err(v.into());
        }
    };
    let mut greeted = match handshake.peer_hello(first) {
        Ok(g) => g,
        Err(v) => {
            violation(&node, &peer_s, &conn, v.kind, &v.detail).await;
            return Err(v.into());
        }
    };
    if let Some(reject) = greeted.refusal(node.own_log.is_recovering()) {
        let _ = send_msg(&mut send, &reject).await;
        let _ = send.finish();
        let _ = tokio::time::timeout(Duration::from_millis(500), send.stopped()).await;
        conn.close("recovering");
        anyhow::bail!("{peer} waits: this node is recovering its own log");
    }
    if role == Role::Child {
        let action = node
            .own_log
            .parent_hello(
                &node.store,
                greeted.hello().your_origin_head,
                greeted.asked_recovery(),
            )
            .await?;
        if !greeted.recovery(action) {
            // The next connection asks for the scope this one did not.
            conn.close("recovery scope changes");
            return Ok(());
        }
    }
    let _connected = node.metrics.link_connected(&peer_s);
    let reset = greeted.cursor_reset();
    if let Some(head) = reset {
        tracing::warn!(%peer, have, head, "the peer's log is shorter than what is held of it, or numbered anew above its start: resetting the cursor");
    }
    node.store
        .heard_peer(&peer_s, greeted.peer_incarnation(), reset)
        .await?;
    let remote = conn.remote.to_string();
    node.store
        .fleet_seen(&onewindow_store::PeerSeen {
            node_id: &peer_s,
            connected: true,
            remote: Some(&remote),
            software: &greeted.hello().software,
            catalogue_version: greeted.hello().catalogue_version,
            backlog: None,
            acked: None,
            skew_ms: Some(greeted.skew_ms(node.now_ms())),
            now_ms: node.now_ms(),
        })
        .await?;
    if let Some(cert) = conn.certificate() {
        node.store
            .fleet_certificate(&peer_s, &cert.serial, cert.not_before, cert.not_after)
            .await?;
    }
    if greeted.restart_after_reset() {
        // The peer resumes from the cursor the Hello announced; the next
        // Hello announces the reset one (see `Greeted::restart_after_reset`).
        conn.close("cursor reset");
        return Ok(());
    }
    let route = match greeted.send_flow() {
        SendFlow::Up => Route::Up,
        SendFlow::Down(DownScope::Meant) => Route::Down(peer_s.clone()),
        SendFlow::Down(DownScope::Recovery) => {
            tracing::info!(%peer, "the child is recovering its own log: sending its subtree's entries too");
            Route::Recover(peer_s.clone())
        }
    };
    let mut head_rx = node.store.route_head(&route).await?;
    let head = *head_rx.borrow_and_update();
    let mut session: Session<Reply> = greeted.start(node.now_ms(), head);
    if role == Role::Child {
        node.uplink.set_acked(session.sender().acked_upto());
    }
    let send_dir = session.direction();
    // Questions from this node to the parent, and answers to the child's.
    let (query_tx, mut query_rx) = tokio::sync::mpsc::channel::<(String, Reply)>(64);
    let (answer_tx, mut answer_rx) = tokio::sync::mpsc::channel::<(u64, Option<String>)>(64);
    match role {
        Role::Child => {
            if let Ok(mut q) = node.uplink_queries.lock() {
                *q = Some(query_tx);
            }
        }
        // Questions for this child (a file its subtree keeps).
        Role::Parent => {
            if let Ok(mut q) = node.downlink_queries.lock() {
                q.insert(peer_s.clone(), query_tx);
            }
        }
    }
    let mut progress = onewindow_service::link_state::Progress::new(&node, &peer_s);
    let mut reported: Option<(
        std::time::Instant,
        Vec<federation::replication::SubtreeNode>,
        Vec<federation::replication::QueueDay>,
    )> = None;
    let result: anyhow::Result<()> = async {
        loop {
            let now = node.now_ms();
            while let Some(req) = session.poll_send(now) {
                let (entries, upto) = node
                    .store
                    .wire_entries(&route, req.after, req.upto, req.max_entries, req.max_bytes)
                    .await?;
                let bytes = send_msg(&mut send, &session.batch(&req, upto, entries)).await?;
                session.sent(now, upto, bytes);
            }
            if let Some(tick) = session.poll_status(now, node.catalogue().version) {
                if tick.check_revocation && node.registry.is_revoked(peer.as_str(), &conn.serial) {
                    anyhow::bail!("{peer} is revoked");
                }
                progress.tick(&node).await;
                let mut status = tick.status;
                if let Message::Status(s) = &mut status {
                    s.name_zh.clone_from(&node.config.node.hall_name_zh);
                    s.name_en.clone_from(&node.config.node.hall_name_en);
                    if role == Role::Child {
                        // What this node knows of its subtree goes up, so
                        // that every tier's fleet holds its whole subtree,
                        // and its queue waits of the last three days: read
                        // again at most every SUBTREE_REFRESH (three reads
                        // for every status report, from every link, were a
                        // good share of a district's reads), and sent again
                        // as read in between (the parent writes nothing for
                        // what it holds already).
                        if reported.as_ref().is_none_or(|(at, ..)| at.elapsed() >= SUBTREE_REFRESH) {
                            reported = Some((
                                std::time::Instant::now(),
                                node.store.fleet_subtree().await?,
                                node.store.queue_report(&node.recent_days(3)).await?,
                            ));
                        }
                        if let Some((_, subtree, queue)) = &reported {
                            s.subtree.clone_from(subtree);
                            s.queue.clone_from(queue);
                        }
                    }
                }
                send_msg(&mut send, &status).await?;
            }
            let sender = session.sender();
            node.metrics
                .link_sender(&peer_s, send_dir, now, sender.backlog(), sender.acked_upto());
            let wake = ms(session.poll_timeout() - now);
            tokio::select! {
                m = rx.recv() => {
                    let Some(m) = m else { return Ok(()) };
                    // The time the message came, not the loop's start: the
                    // wait before it may have lasted up to the status
                    // period, and a peer's clock skew is measured from it.
                    let now = node.now_ms();
                    let received = match session.on_message(now, m) {
                        Ok(r) => r,
                        Err(Ending::Violation(v)) => {
                            violation(&node, &peer_s, &conn, v.kind, &v.detail).await;
                            if let Some(reject) = v.reject_message() {
                                let _ = send_msg(&mut send, &reject).await;
                                return Err(onewindow_service::link_state::Refused::sent(v.kind, v.detail).into());
                            }
                            return Err(v.into());
                        }
                        Err(Ending::Rejected { code, message }) => {
                            node.metrics.link_refusal_received(&peer_s, &code);
                            return Err(onewindow_service::link_state::Refused::received(code, message).into());
                        }
                        Err(e @ Ending::AckBeyondLog { .. }) => return Err(e.into()),
                    };
                    match received {
                        Received::Batch(b) => {
                            node.metrics.link_batch_received(&peer_s, b.direction);
                            match receive(&node, &peer_s, session.receiver_mut(), &b).await {
                                Ok(upto) => {
                                    send_msg(&mut send, &session.ack(&b, upto)).await?;
                                    progress.acked(&node, b.after, upto).await;
                                    if session.receiving_recovery() && node.own_log.applied(&node.store).await? {
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
                        Received::Acked(a) => {
                            progress.acked(&node, a.before, a.upto).await;
                            if role == Role::Child {
                                node.uplink.set_acked(a.acked);
                                node.uplink.ack_at(now);
                            }
                            if let Some(upto) = a.persist {
                                node.store.set_acked(&peer_s, upto).await?;
                            }
                        }
                        Received::Status { status: s, skew_ms } => {
                            node.note_hall_name(&peer_s, &s.name_zh, &s.name_en);
                            let remote = conn.remote.to_string();
                            let child = (role == Role::Parent).then(|| {
                                for n in s.subtree.iter().filter(|n| {
                                    NodeId::new(n.node.as_str()).is_ok_and(|id| id != peer && id.is_in_subtree_of(&peer))
                                }) {
                                    node.note_hall_name(&n.node, &n.name_zh, &n.name_en);
                                }
                                let rtt = i64::try_from(conn.conn.rtt().as_millis()).unwrap_or(i64::MAX);
                                (rtt, s.subtree.as_slice(), s.queue.as_slice())
                            });
                            let outside = node
                                .store
                                .status_heard(&onewindow_store::StatusHeard {
                                    peer: &peer_s,
                                    remote: Some(&remote),
                                    software: &s.software,
                                    catalogue_version: s.catalogue_version,
                                    backlog: s.backlog as i64,
                                    acked: s.acked as i64,
                                    skew_ms,
                                    name_zh: &s.name_zh,
                                    name_en: &s.name_en,
                                    child,
                                    now_ms: now,
                                    at: std::time::Instant::now(),
                                })
                                .await?;
                            if outside > 0 {
                                violation(&node, &peer_s, &conn, "status_outside_subtree",
                                    &format!("a status report named {outside} node(s) outside the reporting child's subtree; left out")).await;
                            }
                        }
                        Received::Question { id, body, from_parent } => {
                            let (n, tx, asker) = (Arc::clone(&node), answer_tx.clone(), peer.clone());
                            tokio::spawn(async move {
                                let answer = n.answer(&asker, &body, from_parent).await;
                                let _ = tx.send((id, answer)).await;
                            });
                        }
                        Received::Answer { reply, body } => {
                            let _ = reply.send(body);
                        }
                        Received::Nothing => {}
                    }
                }
                changed = head_rx.changed() => {
                    if changed.is_err() { return Ok(()) }
                    let h = *head_rx.borrow_and_update();
                    session.appended(node.now_ms(), h);
                }
                _ = tokio::time::sleep(wake) => {
                    session.handle_timeout(node.now_ms());
                }
                Some((body, reply)) = query_rx.recv() => {
                    send_msg(&mut send, &session.ask(reply, body)).await?;
                }
                Some((id, body)) = answer_rx.recv() => {
                    send_msg(&mut send, &Message::Answer { id, body }).await?;
                }
            }
        }
    }
    .await;
    let sender = session.sender();
    node.metrics.link_sender(
        &peer_s,
        send_dir,
        node.now_ms(),
        sender.backlog(),
        sender.acked_upto(),
    );
    match role {
        Role::Child => {
            if let Ok(mut q) = node.uplink_queries.lock() {
                *q = None;
            }
        }
        Role::Parent => {
            if let Ok(mut q) = node.downlink_queries.lock() {
                q.remove(&peer_s);
            }
        }
    }
    let _ = node.store.set_acked(&peer_s, sender.acked_upto()).await;
    let hello = session.peer_hello();
    let _ = node
        .store
        .fleet_seen(&onewindow_store::PeerSeen {
            node_id: &peer_s,
            connected: false,
            remote: None,
            software: &hello.software,
            catalogue_version: hello.catalogue_version,
            backlog: None,
            acked: None,
            skew_ms: None,
            now_ms: node.now_ms(),
        })
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
    let ids: Vec<&str> = if receiver.wants_streams() {
        b.entries
            .iter()
            .filter_map(|e| e.stream.as_deref())
            .collect()
    } else {
        Vec::new()
    };
    let mut streams = node
        .store
        .case_versions(&ids)
        .await
        .map_err(|e| store_err(&e))?;
    // A case handed over or sent across to this branch starts with its
    // handover or crossing, which carries the records before it; a window
    // whose branch held the case's beginning takes the rest from the
    // crossing that brings its result back.
    if !ids.is_empty() {
        for w in &b.entries {
            if let Some(s) = w.stream.as_deref()
                && streams.get(s).copied().unwrap_or(0) + 1 < w.stream_seq
                && node.opens_case(&w.entry).await
            {
                streams.insert(s.to_owned(), w.stream_seq - 1);
            }
        }
    }
    let lookup = Lookup {
        heads,
        held,
        streams,
    };
    let checked = receiver.check(b, &lookup);
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
    for c in &applied.registered {
        tracing::info!(child = %c, "a child registered at the root is admitted from now on");
        node.registry.register(c);
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
    for (case, reason) in &applied.reopens {
        if let Err(e) = node.obey_reopen(case, reason).await {
            tracing::warn!(%case, error = %e, "could not reopen a case");
        }
    }
    for d in &applied.decisions {
        if let Err(e) = node.obey_decision(d).await {
            tracing::warn!(case = %d.case_id, error = %e, "could not write a warning decision");
        }
    }
    for (case, from, hours) in &applied.late {
        tracing::warn!(%case, %from, hours, "a case handed up arrived late");
        if let Err(e) = node.obey_late(case, from, *hours).await {
            tracing::warn!(%case, error = %e, "could not record a late arrival");
        }
    }
    // After a late arrival is recorded: the common ancestor records it
    // while it holds the case, and the crossing carries the record on.
    for case in &applied.crossings {
        if let Err(e) = node.obey_crossing(case).await {
            tracing::warn!(%case, error = %e, "could not send a cross-district case on");
        }
    }
    if applied.committed
        && let Err(e) = node.obey_handovers().await
    {
        tracing::warn!(error = %e, "could not carry out a handover");
    }
    let mut durable = accepted.clone();
    durable.ack_upto = applied.ack_upto;
    let ack = receiver.committed(&durable);
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
