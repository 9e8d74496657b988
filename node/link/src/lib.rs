//! The node's links to its parent and children: the thin driver around the
//! sans-IO core of `federation::replication`.
//!
//! A child dials its parent ([`Links::start`] spawns the dialer with
//! jittered exponential backoff); a parent accepts only its registered,
//! unrevoked children. Each connection runs one [`session`]: a Hello each
//! way, then both flows over one QUIC stream, with entries read from and
//! applied to the store in batches.

mod peering;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use federation::transport::{Backoff, Client, PeerPolicy, Refusal, SecurityEvent, Server};
use federation::{CertInfo, NodeCredentials, NodeId};
use tokio::task::JoinHandle;

use onewindow_service::Node;
use onewindow_service::link_state as state;
use onewindow_service::uplink::Registry;

/// The running links of a node.
pub struct Links {
    /// Where children connect, if this node has any.
    pub listen_addr: Option<SocketAddr>,
    /// Where the roots of other trees connect, at a root that peers.
    pub peering_addr: Option<SocketAddr>,
    server: Option<Arc<Server>>,
    peering_server: Option<Arc<Server>>,
    peering_client: Option<Arc<Client>>,
    tasks: Vec<JoinHandle<()>>,
    /// The children's sessions, so that a stop can wait for them to end
    /// before the store closes.
    sessions: Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("listen_addr", &self.listen_addr)
            .finish()
    }
}
struct ChildPolicy {
    me: NodeId,
    registry: Arc<Registry>,
}

impl PeerPolicy for ChildPolicy {
    fn admit(&self, peer: &NodeId, serial: &str) -> Result<(), Refusal> {
        if self.registry.is_revoked(peer.as_str(), serial) {
            return Err(Refusal::Revoked(format!(
                "{peer} (serial {serial}) is revoked"
            )));
        }
        let registered = self.registry.is_registered(peer.as_str());
        if peer.parent().as_ref() != Some(&self.me) || !registered {
            return Err(Refusal::NotAChild(format!(
                "{peer} is not registered under {}",
                self.me
            )));
        }
        Ok(())
    }
}

impl Links {
    /// Starts the links the configuration asks for; `None` for a node that
    /// runs alone (no credentials configured).
    pub async fn start(node: Arc<Node>) -> anyhow::Result<Option<Links>> {
        let fed = node.config.federation.clone();
        if fed.credentials_dir.is_empty() {
            return Ok(None);
        }
        let creds = NodeCredentials::from_files(std::path::Path::new(&fed.credentials_dir))?;
        if creds.node != node.id {
            anyhow::bail!(
                "the certificate in {} is for {}, not {}",
                fed.credentials_dir,
                creds.node,
                node.id
            );
        }
        let cert = CertInfo::of_pem(&creds.cert_pem)?;
        let (not_before_ms, not_after_ms) = (cert.not_before * 1000, cert.not_after * 1000);
        let now = onewindow_service::uplink::certificate_now_ms();
        let words = onewindow_service::uplink::certificate_words(
            onewindow_i18n::Lang::En,
            not_before_ms,
            not_after_ms,
            now,
        );
        match onewindow_service::uplink::certificate_state(not_before_ms, not_after_ms, now) {
            "ok" => tracing::info!(serial = %cert.serial, "this node's certificate: {words}"),
            "renew" | "expiring" => tracing::warn!(
                serial = %cert.serial,
                "this node's certificate: {words}; make a new one with `onewindow-deploy cert create-node` (or create-request at the hall)"
            ),
            _ => tracing::error!(
                serial = %cert.serial,
                "this node's certificate: {words}: its parent and children will refuse it"
            ),
        }
        node.uplink.set_certificate(cert);
        let (sec_tx, mut sec_rx) = tokio::sync::mpsc::unbounded_channel::<SecurityEvent>();
        let mut tasks = Vec::new();
        let sessions = Arc::new(std::sync::Mutex::new(tokio::task::JoinSet::new()));
        let recorder = Arc::clone(&node);
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = sec_rx.recv().await {
                let kind = serde_json::to_value(ev.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "handshake_failed".into());
                let claimed = ev.claimed.as_ref().map(NodeId::to_string);
                if let Err(e) = recorder
                    .store
                    .security_event(
                        ev.at_ms,
                        &kind,
                        claimed.as_deref(),
                        Some(&ev.remote.to_string()),
                        &ev.detail,
                    )
                    .await
                {
                    tracing::error!(error = %e, "recording a security event");
                }
            }
        }));
        node.restore_revocations().await?;
        node.publish_peer_states().await?;
        for c in &fed.children {
            node.registry.register(c);
        }
        // Children enrolled here with this node's tokens are registered by
        // that enrolment.
        for c in node.store.enrolled_nodes().await? {
            if NodeId::new(c.clone()).is_ok_and(|c| c.parent().as_ref() == Some(&node.id)) {
                node.registry.register(&c);
            }
        }
        // A node of the last tier has no children; any other listens, for
        // the children it has and those that will enrol.
        let leaf = node.id.depth() + 1 >= node.config.node.tiers.len();
        let (server, listen_addr) = if fed.children.is_empty() && leaf {
            (None, None)
        } else {
            let policy = Arc::new(ChildPolicy {
                me: node.id.clone(),
                registry: Arc::clone(&node.registry),
            });
            let server = Arc::new(Server::bind(
                fed.listen,
                &creds,
                policy,
                sec_tx.clone(),
                fed.limits.transport(),
            )?);
            let addr = server.local_addr();
            let (n, s) = (Arc::clone(&node), Arc::clone(&server));
            let running = Arc::clone(&sessions);
            tasks.push(tokio::spawn(async move {
                while let Some(conn) = s.accept().await {
                    let n = Arc::clone(&n);
                    let mut set = match running.lock() {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    };
                    // Sessions that ended are let go of here.
                    while set.try_join_next().is_some() {}
                    set.spawn(async move {
                        let peer = conn.peer.to_string();
                        let start = state::session_starts(&n, &peer).await;
                        let result =
                            session::run(Arc::clone(&n), conn, session::Role::Parent).await;
                        if let Err(e) = &result {
                            tracing::info!(%peer, error = %e, "child link ended");
                        }
                        state::session_ended(&n, &peer, start, &result).await;
                    });
                }
            }));
            tracing::info!(node = %node.id, %addr, "listening for children");
            (Some(server), Some(addr))
        };
        let (renewed_tx, renewed_rx) = tokio::sync::watch::channel(None);
        let parent_addrs = fed.parent_addrs();
        let has_uplink = node.id.parent().is_some() && !parent_addrs.is_empty();
        if has_uplink || node.ca.is_some() {
            tasks.push(tokio::spawn(renewal(
                Arc::clone(&node),
                server.clone(),
                renewed_tx,
            )));
        }
        if let (Some(parent), true) = (node.id.parent(), has_uplink) {
            let client = Client::new(&creds, fed.limits.transport())?;
            let n = Arc::clone(&node);
            tasks.push(tokio::spawn(async move {
                dial(n, client, parent, parent_addrs, renewed_rx).await;
            }));
        }
        // Last: a task spawned before a failure would outlive the failed
        // start (a dropped handle does not stop its task) and hold the
        // peering port.
        let (peering_addr, peering_server, peering_client) =
            match peering::start(&node, &creds, &sec_tx) {
                Ok(Some(p)) => {
                    tasks.extend(p.tasks);
                    (Some(p.listen_addr), Some(p.server), Some(p.client))
                }
                Ok(None) => (None, None, None),
                Err(e) => {
                    for t in &tasks {
                        t.abort();
                    }
                    if let Some(s) = &server {
                        s.close();
                    }
                    return Err(e);
                }
            };
        Ok(Some(Links {
            listen_addr,
            peering_addr,
            peering_server,
            peering_client,
            server,
            tasks,
            sessions,
        }))
    }

    /// Stops every link (without waiting for its tasks to end).
    pub fn stop(&self) {
        if let Some(s) = &self.server {
            s.close();
        }
        if let Some(s) = &self.peering_server {
            s.close();
        }
        if let Some(c) = &self.peering_client {
            c.close();
        }
        for t in &self.tasks {
            t.abort();
        }
        if let Ok(mut set) = self.sessions.lock() {
            set.abort_all();
        }
    }

    /// Stops every link and waits until none of its tasks runs, so that
    /// nothing of the links touches the store after this returns.
    pub async fn shutdown(mut self) {
        self.stop();
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
        let mut set = match self.sessions.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        while set.join_next().await.is_some() {}
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How often a node looks at its own certificate.
const RENEW_CHECK: std::time::Duration = std::time::Duration::from_secs(3600);
/// The first look, soon after start (once the uplink is likely up).
const RENEW_FIRST: std::time::Duration = std::time::Duration::from_secs(5);
/// The next look after a renewal that failed (the parent may itself be
/// reconnecting with its own new certificate), doubling up to
/// [`RENEW_RETRY_MAX`].
const RENEW_RETRY: std::time::Duration = std::time::Duration::from_secs(15);
/// The longest wait between attempts that fail.
const RENEW_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(600);

/// Renews this node's certificate once it is past two thirds of its life:
/// a new key made here, signed by the CA up the tree (or by this node's own
/// CA), presented to children from then on (the server reloads it) and to
/// the parent on a new connection (the dialer reconnects).
async fn renewal(
    node: Arc<Node>,
    server: Option<Arc<Server>>,
    renewed: tokio::sync::watch::Sender<Option<NodeCredentials>>,
) {
    use onewindow_service::uplink::{certificate_now_ms, certificate_state};
    let mut wait = RENEW_FIRST;
    let mut retry = RENEW_RETRY;
    loop {
        tokio::time::sleep(wait).await;
        wait = RENEW_CHECK;
        let Some(cert) = node.uplink.certificate() else {
            continue;
        };
        let now = certificate_now_ms();
        match certificate_state(cert.not_before * 1000, cert.not_after * 1000, now) {
            "ok" | "not_yet_valid" => continue,
            "expired" if node.ca.is_none() => {
                tracing::error!(
                    serial = %cert.serial,
                    "this node's certificate has expired: its parent refuses it, so it cannot be renewed over the link; give the hall a new one (`onewindow-deploy cert create-request`, then `cert create-node --csr`)"
                );
                continue;
            }
            _ => {}
        }
        if node.ca.is_none() && !node.uplink_up() {
            wait = RENEW_RETRY;
            continue;
        }
        match node.renew_certificate().await {
            Ok(creds) => {
                let serial = creds.serial().unwrap_or_default();
                tracing::info!(old = %cert.serial, new = %serial, "renewed this node's certificate");
                if let Some(s) = &server
                    && let Err(e) = s.reload(&creds)
                {
                    tracing::error!(error = %e, "presenting the renewed certificate to children");
                }
                let _ = renewed.send(Some(creds));
                retry = RENEW_RETRY;
            }
            Err(e) => {
                tracing::warn!(serial = %cert.serial, error = %e, "could not renew this node's certificate; trying again later");
                wait = retry;
                retry = (retry * 2).min(RENEW_RETRY_MAX);
            }
        }
    }
}

async fn dial(
    node: Arc<Node>,
    mut client: Client,
    parent: NodeId,
    addrs: Vec<String>,
    mut renewed: tokio::sync::watch::Receiver<Option<NodeCredentials>>,
) {
    use rand::{Rng, SeedableRng};
    let fed = &node.config.federation;
    let (base, max, refused_max) = (
        std::time::Duration::from_millis(fed.reconnect_min_ms),
        std::time::Duration::from_millis(fed.reconnect_max_ms),
        std::time::Duration::from_millis(fed.refused_backoff_max_ms),
    );
    let mut backoff = Backoff::new(base, max);
    let mut rng = rand::rngs::StdRng::from_entropy();
    // Dropped (and so stopped) with this task.
    let mut watchers = tokio::task::JoinSet::new();
    match (
        node.store.route_head(&onewindow_store::Route::Up).await,
        node.store.link_cursor(parent.as_str()).await,
    ) {
        (Ok(head), Ok((_, acked))) => {
            node.uplink.track(head.clone(), acked);
            watchers.spawn(backlog_while_down(
                Arc::clone(&node),
                parent.to_string(),
                head,
            ));
        }
        (Err(e), _) | (_, Err(e)) => tracing::error!(error = %e, "reading the uplink's backlog"),
    }
    // Refusals in a row survive a restart: a node refused before it stopped
    // does not dial at full speed when it starts again.
    let peer = parent.to_string();
    let mut refusals = match node.store.link_refusal(&peer).await {
        Ok(r) => {
            let count = r.as_ref().map_or(0, |r| r.count);
            node.uplink.set_refusal(r);
            count
        }
        Err(_) => 0,
    };
    // The address that answered last is tried first; the others (a parent's
    // standby processes) in their order after it.
    let mut preferred = 0;
    loop {
        let mut ended = state::Ended::Nothing;
        node.uplink.set_next_attempt(0);
        if renewed.has_changed().unwrap_or(false)
            && let Some(creds) = renewed.borrow_and_update().clone()
        {
            match Client::new(&creds, node.config.federation.limits.transport()) {
                Ok(c) => client = c,
                Err(e) => tracing::error!(error = %e, "dialing with the renewed certificate"),
            }
        }
        let mut conn = None;
        for i in 0..addrs.len() {
            let at = (preferred + i) % addrs.len();
            let addr = &addrs[at];
            let target = match tokio::net::lookup_host(addr.as_str())
                .await
                .map(|mut a| a.next())
            {
                Ok(Some(a)) => a,
                _ => {
                    tracing::warn!(%addr, "the parent's address does not resolve");
                    continue;
                }
            };
            match client.connect(target, &parent).await {
                Ok(c) => {
                    if at != preferred {
                        tracing::info!(%parent, %target, "the parent answers at another of its addresses");
                    }
                    preferred = at;
                    conn = Some((c, target));
                    break;
                }
                Err(e) => tracing::debug!(%parent, %target, error = %e, "cannot reach the parent"),
            }
        }
        if let Some((conn, target)) = conn {
            node.set_uplink(true);
            tracing::info!(%parent, %target, "link to parent up");
            let start = state::session_starts(&node, &peer).await;
            // A renewed certificate ends the session: the next one
            // presents it.
            let result = tokio::select! {
                r = session::run(Arc::clone(&node), conn, session::Role::Child) => r,
                () = async {
                    if renewed.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                    // Seen again at the top of the loop.
                    renewed.mark_changed();
                } => {
                    tracing::info!(%parent, "reconnecting with the renewed certificate");
                    Ok(())
                }
            };
            if let Err(e) = &result {
                tracing::info!(%parent, error = %e, "link to parent ended");
            }
            ended = state::session_ended(&node, &peer, start, &result).await;
            node.set_uplink(false);
        }
        // The backoff starts over only after a session that made progress;
        // each refusal in a row doubles the wait, up to its own maximum.
        let now = node.now_ms();
        let (delay, from) = match ended {
            state::Ended::Refused {
                refusal,
                count,
                at_ms,
            } => {
                refusals = count;
                node.uplink
                    .set_refusal(Some(onewindow_store::RefusalRecord {
                        held_back_catalogue: refusal.held_back_catalogue(),
                        code: refusal.code,
                        count,
                        at_ms,
                        next_attempt_ms: None,
                    }));
                // The wait counts from the refusal.
                (
                    state::refused_delay(base, refused_max, count, rng.r#gen::<f64>()),
                    at_ms.min(now),
                )
            }
            state::Ended::Progressed => {
                refusals = 0;
                backoff.reset();
                (backoff.next(&mut rng), now)
            }
            state::Ended::Nothing if refusals > 0 => (
                backoff.next(&mut rng).max(state::refused_delay(
                    base,
                    refused_max,
                    refusals,
                    rng.r#gen::<f64>(),
                )),
                now,
            ),
            state::Ended::Nothing => (backoff.next(&mut rng), now),
        };
        let at = from.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2));
        node.uplink.set_next_attempt(at);
        if refusals > 0
            && let Err(e) = node.store.link_next_attempt(&peer, at).await
        {
            tracing::error!(error = %e, "recording the next attempt");
        }
        let delay =
            std::time::Duration::from_millis(u64::try_from(at - node.now_ms()).unwrap_or(0));
        tokio::time::sleep(delay).await;
    }
}

/// While no session runs, what this node writes still waits for the parent:
/// keeps the up flow's link metrics (backlog, age of the oldest entry not
/// acknowledged) current, as the session does while it runs.
async fn backlog_while_down(
    node: Arc<Node>,
    parent: String,
    mut head: tokio::sync::watch::Receiver<u64>,
) {
    while head.changed().await.is_ok() {
        if !node.uplink_up()
            && let Some(backlog) = node.uplink.backlog()
        {
            node.metrics.link_sender(
                &parent,
                federation::replication::Direction::Up,
                node.now_ms(),
                backlog,
                node.uplink.acked(),
            );
        }
    }
}
