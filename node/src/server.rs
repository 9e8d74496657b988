//! Starting and stopping a node: open the store, bind the HTTP listener,
//! serve until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::service::{Clock, Node, SystemClock};

/// A node that is serving.
pub struct RunningNode {
    /// The node.
    pub node: Arc<Node>,
    /// Where the HTTP API listens.
    pub http_addr: SocketAddr,
    /// The federation links, if configured.
    pub links: Option<crate::link::Links>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// The periodic check of the stored log; ends with the node.
    _checks: Option<AbortOnDrop>,
    /// The periodic sweep of bookings whose slot ended; ends with the node.
    _sweeps: Option<AbortOnDrop>,
    _fills: Option<AbortOnDrop>,
    _purges: Option<AbortOnDrop>,
    /// The SMS sender, if a gateway is configured; ends with the node.
    _sms: Option<AbortOnDrop>,
    /// The webhook deliverer of the department systems' feed; ends with
    /// the node.
    _webhooks: Option<AbortOnDrop>,
}

/// A background task that ends when its owner is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Walks the node's stored log every `every` and reports the breaks it
/// finds up the tree ([`Node::check_stored_log`]).
fn start_checks(node: &Arc<Node>, every: std::time::Duration) -> AbortOnDrop {
    let node = Arc::clone(node);
    AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match node.check_stored_log().await {
                Ok(found) if !found.is_empty() => {
                    tracing::warn!(found = found.len(), "breaks in the stored log reported up");
                }
                Ok(_) => tracing::debug!("the stored log checked: no new break"),
                Err(e) => tracing::warn!(error = %e, "the stored log could not be checked"),
            }
        }
    }))
}

/// How often bookings whose slot ended without a check-in are marked
/// `no_show` ([`Node::sweep_bookings`]; they read so at once anyway).
const BOOKING_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Fetches, every `[privacy] fill_secs`, the withheld personal sections of
/// the cases this hall has come to hold.
fn start_fills(node: &Arc<Node>) -> AbortOnDrop {
    let node = Arc::clone(node);
    let every = std::time::Duration::from_secs(node.config.privacy.fill_secs);
    AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = node.fill_withheld().await {
                tracing::warn!(error = %e, "withheld personal sections could not be looked for");
            }
        }
    }))
}

/// Purges, every `[privacy] purge_secs`, the personal sections kept past
/// their retention.
fn start_purges(node: &Arc<Node>) -> AbortOnDrop {
    let node = Arc::clone(node);
    let every = std::time::Duration::from_secs(node.config.privacy.purge_secs);
    AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = node.purge_personal().await {
                tracing::warn!(error = %e, "personal data past its retention could not be purged");
            }
        }
    }))
}

/// Marks bookings whose slot ended without a check-in, every
/// [`BOOKING_SWEEP`].
fn start_sweeps(node: &Arc<Node>) -> AbortOnDrop {
    let node = Arc::clone(node);
    AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(BOOKING_SWEEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match node.sweep_bookings().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(bookings = n, "bookings marked as no-shows"),
                Err(e) => tracing::warn!(error = %e, "bookings could not be swept"),
            }
        }
    }))
}

impl std::fmt::Debug for RunningNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningNode")
            .field("id", &self.node.id)
            .field("http_addr", &self.http_addr)
            .finish()
    }
}

impl RunningNode {
    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Stops serving and closes the store.
    pub async fn stop(mut self) {
        self._checks = None;
        self._sweeps = None;
        self._fills = None;
        self._purges = None;
        self._sms = None;
        self._webhooks = None;
        if let Some(l) = self.links.take() {
            l.shutdown().await;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "http server ended with an error"),
                Err(e) => tracing::warn!(error = %e, "http server task failed"),
            }
        }
        self.node.store.close().await;
    }

    /// Waits until the server ends (it ends on its own only on error).
    pub async fn wait(mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(t) => t.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

/// How often a node whose database is a standby looks again.
const STANDBY_POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// How often it says that it still waits.
const STANDBY_REMIND: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits while the node's database is a PostgreSQL standby. A second
/// process of a hall (the district's, on the standby's server) is started
/// beside the first and waits here; once the standby is promoted it opens
/// the store and serves, and the children that dial it among their
/// parent's addresses find it.
async fn wait_until_primary(url: &str) -> anyhow::Result<()> {
    let mut said: Option<tokio::time::Instant> = None;
    while onewindow_store::is_standby(url).await? {
        if said.is_none_or(|t| t.elapsed() >= STANDBY_REMIND) {
            tracing::warn!(
                "the database is a standby (in recovery): this node waits until it is promoted, then starts"
            );
            said = Some(tokio::time::Instant::now());
        }
        tokio::time::sleep(STANDBY_POLL).await;
    }
    if said.is_some() {
        tracing::info!("the database was promoted: starting");
    }
    Ok(())
}

/// Starts a node with the system clock.
pub async fn start(config: Config) -> anyhow::Result<RunningNode> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// Starts a node with the given clock.
pub async fn start_with_clock(
    config: Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<RunningNode> {
    let config = Arc::new(config);
    wait_until_primary(&config.database_url()).await?;
    let node = Arc::new(Node::open(Arc::clone(&config), clock).await?);
    // A handover stored before a stop and not yet carried out.
    if let Err(e) = node.obey_handovers().await {
        tracing::warn!(error = %e, "could not carry out a handover");
    }
    // A cross-district case handed to this node before a stop and not yet
    // sent on.
    if let Err(e) = node.obey_crossings().await {
        tracing::warn!(error = %e, "could not send a cross-district case on");
    }
    let listener = tokio::net::TcpListener::bind(config.http.listen).await?;
    let http_addr = listener.local_addr()?;
    let _ = node.http_addr.set(http_addr);
    let app = onewindow_web::router(Arc::clone(&node));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // With each connection's peer address: failed logins are counted
        // per address as well as per account.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
    });
    let links = crate::link::Links::start(Arc::clone(&node)).await?;
    let checks = match config.audit.self_check_secs {
        0 => None,
        s => Some(start_checks(&node, std::time::Duration::from_secs(s))),
    };
    let sweeps = start_sweeps(&node);
    let fills = start_fills(&node);
    let purges = start_purges(&node);
    let sms = crate::sms::start(&node).map(AbortOnDrop);
    let webhooks = crate::webhooks::start(&node).map(AbortOnDrop);
    tracing::info!(node = %node.id, tier = %node.tier, %http_addr, "node started");
    Ok(RunningNode {
        node,
        http_addr,
        links,
        shutdown: Some(tx),
        task: Some(task),
        _checks: checks,
        _sweeps: Some(sweeps),
        _fills: Some(fills),
        _purges: Some(purges),
        _sms: sms,
        _webhooks: webhooks,
    })
}
