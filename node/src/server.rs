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
    let node = Arc::new(Node::open(Arc::clone(&config), clock).await?);
    let listener = tokio::net::TcpListener::bind(config.http.listen).await?;
    let http_addr = listener.local_addr()?;
    let app = onewindow_web::router(Arc::clone(&node));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    let links = crate::link::Links::start(Arc::clone(&node)).await?;
    tracing::info!(node = %node.id, tier = %node.tier, %http_addr, "node started");
    Ok(RunningNode {
        node,
        http_addr,
        links,
        shutdown: Some(tx),
        task: Some(task),
    })
}
