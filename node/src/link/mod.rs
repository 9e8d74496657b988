//! The node's links to its parent and children: the thin driver around the
//! sans-IO core of `federation::replication`.
//!
//! A child dials its parent ([`Links::start`] spawns the dialer with
//! jittered exponential backoff); a parent accepts only its registered,
//! unrevoked children. Each connection runs one [`session`]: a Hello each
//! way, then both flows over one QUIC stream, with entries read from and
//! applied to the store in batches.

pub mod apply;
pub mod recovery;
mod session;
pub mod signing;
pub mod state;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use federation::transport::{Backoff, Client, PeerPolicy, Refusal, SecurityEvent, Server};
use federation::{NodeCredentials, NodeId};
use tokio::task::JoinHandle;

use crate::domain::catalogue::Catalogue;
use crate::domain::log::{Directive, DirectiveRecord};
use crate::service::Node;

/// The running links of a node.
pub struct Links {
    /// Where children connect, if this node has any.
    pub listen_addr: Option<SocketAddr>,
    server: Option<Arc<Server>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("listen_addr", &self.listen_addr)
            .finish()
    }
}

/// What a child knows of its link to the parent, kept in memory for the
/// health endpoint: the dialer says whether the link is up, the session
/// what the parent acknowledged and when.
#[derive(Debug, Default)]
pub struct Uplink {
    up: AtomicBool,
    acked: AtomicU64,
    /// When the parent last acknowledged (ms since the epoch; 0: not since
    /// this process started).
    last_ack_ms: AtomicI64,
    /// The head of the up route, once the link has been started.
    head: Mutex<Option<tokio::sync::watch::Receiver<u64>>>,
    /// The refusals in a row on the link, if any.
    refusal: Mutex<Option<crate::store::RefusalRecord>>,
    /// When the dialer tries again while the link is down (ms; 0: not
    /// waiting).
    next_attempt_ms: AtomicI64,
}

impl Uplink {
    /// Is the link to the parent up?
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// Entries of the up route the parent has not acknowledged; `None` when
    /// the link has not been started.
    pub fn backlog(&self) -> Option<u64> {
        let head = self.head.lock().ok()?.as_ref().map(|h| *h.borrow())?;
        Some(head.saturating_sub(self.acked.load(Ordering::SeqCst)))
    }

    /// What the parent holds of the up flow, as last known.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::SeqCst)
    }

    /// When the parent last acknowledged, in ms since the epoch.
    pub fn last_ack_ms(&self) -> Option<i64> {
        Some(self.last_ack_ms.load(Ordering::SeqCst)).filter(|&t| t > 0)
    }

    /// Follows the up route's head, from the durable acknowledged cursor.
    pub(crate) fn track(&self, head: tokio::sync::watch::Receiver<u64>, acked: u64) {
        self.acked.store(acked, Ordering::SeqCst);
        if let Ok(mut h) = self.head.lock() {
            *h = Some(head);
        }
    }

    /// The parent holds the up flow up to `acked` (its Hello, or an Ack).
    pub(crate) fn set_acked(&self, acked: u64) {
        self.acked.store(acked, Ordering::SeqCst);
    }

    /// The parent acknowledged at `now_ms`.
    pub(crate) fn ack_at(&self, now_ms: i64) {
        self.last_ack_ms.store(now_ms, Ordering::SeqCst);
    }

    /// The refusals in a row on the link (with the hold-back, if that is
    /// what it is); `None` when the last session made progress.
    pub fn refusal(&self) -> Option<crate::store::RefusalRecord> {
        self.refusal.lock().ok()?.clone()
    }

    pub(crate) fn set_refusal(&self, r: Option<crate::store::RefusalRecord>) {
        if let Ok(mut g) = self.refusal.lock() {
            *g = r;
        }
    }

    /// When the dialer tries again, while it waits (ms since the epoch).
    pub fn next_attempt_ms(&self) -> Option<i64> {
        Some(self.next_attempt_ms.load(Ordering::SeqCst)).filter(|&t| t > 0)
    }

    pub(crate) fn set_next_attempt(&self, at_ms: i64) {
        self.next_attempt_ms.store(at_ms, Ordering::SeqCst);
        if let Ok(mut g) = self.refusal.lock()
            && let Some(r) = g.as_mut()
        {
            r.next_attempt_ms = Some(at_ms).filter(|&t| t > 0);
        }
    }
}

/// Registered children and revoked certificates.
#[derive(Debug, Default)]
pub struct Registry {
    children: RwLock<BTreeSet<String>>,
    revoked: RwLock<BTreeSet<String>>,
}

impl Registry {
    /// Revokes a node (every certificate) or one certificate serial.
    pub fn revoke(&self, node_or_serial: &str) {
        if let Ok(mut r) = self.revoked.write() {
            r.insert(node_or_serial.to_owned());
        }
    }

    /// Is this node, or this certificate, revoked?
    pub fn is_revoked(&self, node: &str, serial: &str) -> bool {
        self.revoked
            .read()
            .map(|r| r.contains(node) || r.contains(serial))
            .unwrap_or(true)
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
        let registered = self
            .registry
            .children
            .read()
            .map(|c| c.contains(peer.as_str()))
            .unwrap_or(false);
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
        let (sec_tx, mut sec_rx) = tokio::sync::mpsc::unbounded_channel::<SecurityEvent>();
        let mut tasks = Vec::new();
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
        for c in &fed.children {
            if let Ok(mut set) = node.registry.children.write() {
                set.insert(c.clone());
            }
        }
        let (server, listen_addr) = if fed.children.is_empty() {
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
            tasks.push(tokio::spawn(async move {
                while let Some(conn) = s.accept().await {
                    let n = Arc::clone(&n);
                    tokio::spawn(async move {
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
        if let (Some(parent), false) = (node.id.parent(), fed.parent_addr.is_empty()) {
            let client = Client::new(&creds, fed.limits.transport())?;
            let n = Arc::clone(&node);
            let parent_addr = fed.parent_addr.clone();
            tasks.push(tokio::spawn(async move {
                dial(n, client, parent, parent_addr).await;
            }));
            tasks.push(tokio::spawn(keep_marker(Arc::clone(&node))));
        }
        Ok(Some(Links {
            listen_addr,
            server,
            tasks,
        }))
    }

    /// Stops every link.
    pub fn stop(&self) {
        if let Some(s) = &self.server {
            s.close();
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn dial(node: Arc<Node>, client: Client, parent: NodeId, addr: String) {
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
        node.store.route_head(&crate::store::Route::Up).await,
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
    loop {
        let target = match tokio::net::lookup_host(addr.as_str())
            .await
            .map(|mut a| a.next())
        {
            Ok(Some(a)) => Some(a),
            _ => None,
        };
        let mut ended = state::Ended::Nothing;
        node.uplink.set_next_attempt(0);
        if let Some(target) = target {
            match client.connect(target, &parent).await {
                Ok(conn) => {
                    node.set_uplink(true);
                    tracing::info!(%parent, %target, "link to parent up");
                    let start = state::session_starts(&node, &peer).await;
                    let result = session::run(Arc::clone(&node), conn, session::Role::Child).await;
                    if let Err(e) = &result {
                        tracing::info!(%parent, error = %e, "link to parent ended");
                    }
                    ended = state::session_ended(&node, &peer, start, &result).await;
                    node.set_uplink(false);
                }
                Err(e) => tracing::debug!(%parent, error = %e, "cannot reach the parent"),
            }
        } else {
            tracing::warn!(addr = %addr, "the parent's address does not resolve");
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
                node.uplink.set_refusal(Some(crate::store::RefusalRecord {
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

/// Keeps the own-log marker ([`recovery`]) up with the store: written after
/// commits, at most once a second.
async fn keep_marker(node: Arc<Node>) {
    let mut head = node.store.head().await;
    loop {
        node.own_log.save(&node.store).await;
        if head.changed().await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
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

impl Node {
    /// Writes a directive of this node to its log, towards `scope` (`""` for
    /// every node below).
    async fn write_directive(
        &self,
        directive: Directive,
        scope: &str,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        let mut w = self.store.write().await?;
        w.append_directive_to(
            DirectiveRecord {
                directive,
                issued_by: by.to_owned(),
                at_ms: self.now_ms(),
            },
            scope,
        )?;
        w.commit().await?;
        Ok(())
    }

    /// Reloads the holiday calendar from the store.
    pub async fn reload_calendar(&self) -> anyhow::Result<()> {
        let mut cal = crate::domain::calendar::Calendar::new();
        for y in self.store.calendars().await? {
            cal.insert_year(y)?;
        }
        self.set_calendar(cal);
        Ok(())
    }

    /// At the root: signs a year's calendar and writes it to the log.
    pub async fn announce_calendar(
        &self,
        year: &crate::domain::calendar::YearCalendar,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        // A rule the children would refuse must never be signed: it would
        // stop the down flow at every link.
        if let Err(e) = year.validate() {
            return Err(crate::error::Error::bad_request(
                "bad_calendar",
                format!("日历不正确：{e}"),
                format!("the calendar is not valid: {e}"),
            ));
        }
        let text = serde_json::to_string(year).map_err(|e| crate::error::Error::storage(&e))?;
        let signature = signer.sign(text.as_bytes());
        self.write_directive(
            Directive::CalendarPublished {
                year: year.year,
                calendar: text,
                signature,
            },
            "",
            by,
        )
        .await?;
        Ok(())
    }

    /// At the root: revokes a node (every certificate, or one serial) for the
    /// whole tree. Elsewhere: refused.
    pub async fn revoke_node(
        &self,
        node: &str,
        serial: &str,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        let Some(signer) = &self.signer else {
            return Err(crate::error::Error::new(
                axum::http::StatusCode::FORBIDDEN,
                "not_the_root",
                "只有区级中心可以吊销节点",
                "only the district (the root) revokes nodes",
            ));
        };
        let below = NodeId::new(node).is_ok_and(|n| n != self.id && n.is_in_subtree_of(&self.id));
        if !below {
            return Err(crate::error::Error::bad_request(
                "bad_node_id",
                format!("节点编号 {node} 不正确"),
                format!("{node} is not a node below this one"),
            ));
        }
        let signature = signer.sign(format!("{node}\n{serial}").as_bytes());
        self.write_directive(
            Directive::NodeRevoked {
                node: node.to_owned(),
                serial: serial.to_owned(),
                signature,
            },
            "",
            by,
        )
        .await?;
        self.registry
            .revoke(if serial.is_empty() { node } else { serial });
        Ok(())
    }

    /// At the root: recalls a case to the district. The directive goes down
    /// the case's branch; the holder hands the case over when it sees it.
    pub async fn recall(
        &self,
        number: &str,
        reason: &str,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        use crate::error::Error;
        if self.id.depth() != 0 {
            return Err(Error::new(
                axum::http::StatusCode::FORBIDDEN,
                "not_the_root",
                "只有区级中心可以调回案件",
                "only the district (the root) recalls cases",
            ));
        }
        if reason.trim().is_empty() {
            return Err(Error::bad_request(
                "empty_field",
                "调回理由不能为空",
                "the reason must not be empty",
            ));
        }
        let number = crate::domain::case_number::CaseNumber::parse(number)?.to_string();
        let row = self.store.case(&number).await?.ok_or_else(|| {
            Error::not_found(
                "case_not_found",
                format!("未找到案件 {number}"),
                format!("no case {number}"),
            )
        })?;
        if row.case.state.is_final() || row.case.holder.as_deref() == Some(self.id.as_str()) {
            return Err(Error::new(
                axum::http::StatusCode::CONFLICT,
                "nothing_to_recall",
                "案件已办结或已由本中心办理",
                "the case is closed or already held here",
            ));
        }
        self.write_directive(
            Directive::Recall {
                case_id: number,
                to: self.id.to_string(),
                reason: reason.trim().to_owned(),
            },
            &row.case.received.accepting_node,
            by,
        )
        .await?;
        Ok(())
    }

    /// Revocations already in the log (checked again), for a restart.
    async fn restore_revocations(&self) -> anyhow::Result<()> {
        let key = &self.config.federation.root_public_key;
        let mut after = 0;
        loop {
            let batch = self.store.events_after(after, 1000).await?;
            let Some(last) = batch.last() else { break };
            after = last.local_seq;
            for e in &batch {
                if let crate::domain::log::LogBody::Directive(DirectiveRecord {
                    directive:
                        Directive::NodeRevoked {
                            node,
                            serial,
                            signature,
                        },
                    ..
                }) = &e.body
                    && signing::verify(key, format!("{node}\n{serial}").as_bytes(), signature)
                {
                    self.registry
                        .revoke(if serial.is_empty() { node } else { serial });
                }
            }
        }
        Ok(())
    }

    /// At the root: signs a published catalogue version and writes it to the
    /// log, from where it flows to every node. Elsewhere: does nothing.
    pub async fn announce_catalogue(
        &self,
        cat: &Catalogue,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        let text = serde_json::to_string(cat).map_err(|e| crate::error::Error::storage(&e))?;
        let signature = signer.sign(text.as_bytes());
        self.write_directive(
            Directive::CataloguePublished {
                version: cat.version,
                catalogue: text,
                signature,
            },
            "",
            by,
        )
        .await?;
        Ok(())
    }
}

/// A question passed up the tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Query {
    /// The public progress query of a case not held below.
    Progress {
        /// Case number.
        number: String,
        /// Last four characters of the applicant's identifier.
        last4: String,
    },
}

/// A question and where its answer goes.
pub type QuerySender =
    tokio::sync::mpsc::Sender<(String, tokio::sync::oneshot::Sender<Option<String>>)>;

const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Node {
    /// Asks the parent (which asks its own, up to the root); `None` when
    /// there is no uplink, no answer in time, or nothing found.
    pub async fn ask_up(&self, q: &Query) -> Option<String> {
        let tx = self.uplink_queries.lock().ok()?.clone()?;
        let body = serde_json::to_string(q).ok()?;
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
        tx.send((body, reply_tx)).await.ok()?;
        tokio::time::timeout(QUERY_TIMEOUT, reply_rx)
            .await
            .ok()?
            .ok()?
    }

    /// Answers a child's question from this node's store, or asks further up.
    pub async fn answer(&self, body: &str) -> Option<String> {
        let q: Query = serde_json::from_str(body).ok()?;
        match &q {
            Query::Progress { number, last4 } => match self.local_progress(number, last4).await {
                Ok(Some(p)) => serde_json::to_string(&p).ok(),
                Ok(None) => self.ask_up(&q).await,
                Err(_) => None,
            },
        }
    }
}
