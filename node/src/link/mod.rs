//! The node's links to its parent and children: the thin driver around the
//! sans-IO core of `federation::replication`.
//!
//! A child dials its parent ([`Links::start`] spawns the dialer with
//! jittered exponential backoff); a parent accepts only its registered,
//! unrevoked children. Each connection runs one [`session`]: a Hello each
//! way, then both flows over one QUIC stream, with entries read from and
//! applied to the store in batches.

pub mod apply;
mod session;
pub mod signing;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use federation::transport::{
    Backoff, Client, PeerPolicy, Refusal, SecurityEvent, Server, TransportConfig,
};
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

    fn is_revoked(&self, node: &str, serial: &str) -> bool {
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
                TransportConfig::default(),
            )?);
            let addr = server.local_addr();
            let (n, s) = (Arc::clone(&node), Arc::clone(&server));
            tasks.push(tokio::spawn(async move {
                while let Some(conn) = s.accept().await {
                    let n = Arc::clone(&n);
                    tokio::spawn(async move {
                        let peer = conn.peer.clone();
                        if let Err(e) = session::run(n, conn, session::Role::Parent).await {
                            tracing::info!(%peer, error = %e, "child link ended");
                        }
                    });
                }
            }));
            tracing::info!(node = %node.id, %addr, "listening for children");
            (Some(server), Some(addr))
        };
        if let (Some(parent), false) = (node.id.parent(), fed.parent_addr.is_empty()) {
            let client = Client::new(&creds, TransportConfig::default())?;
            let n = Arc::clone(&node);
            let parent_addr = fed.parent_addr.clone();
            tasks.push(tokio::spawn(async move {
                dial(n, client, parent, parent_addr).await;
            }));
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
    use rand::SeedableRng;
    let mut backoff = Backoff::new(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(10),
    );
    let mut rng = rand::rngs::StdRng::from_entropy();
    loop {
        let target = match tokio::net::lookup_host(addr.as_str())
            .await
            .map(|mut a| a.next())
        {
            Ok(Some(a)) => Some(a),
            _ => None,
        };
        if let Some(target) = target {
            match client.connect(target, &parent).await {
                Ok(conn) => {
                    backoff.reset();
                    node.set_uplink(true);
                    tracing::info!(%parent, %target, "link to parent up");
                    if let Err(e) =
                        session::run(Arc::clone(&node), conn, session::Role::Child).await
                    {
                        tracing::info!(%parent, error = %e, "link to parent ended");
                    }
                    node.set_uplink(false);
                }
                Err(e) => tracing::debug!(%parent, error = %e, "cannot reach the parent"),
            }
        } else {
            tracing::warn!(addr = %addr, "the parent's address does not resolve");
        }
        tokio::time::sleep(backoff.next(&mut rng)).await;
    }
}

impl Node {
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
        let mut w = self.store.write().await?;
        w.append_directive(DirectiveRecord {
            directive: Directive::CataloguePublished {
                version: cat.version,
                catalogue: text,
                signature,
            },
            issued_by: by.to_owned(),
            at_ms: self.now_ms(),
        })?;
        w.commit().await?;
        Ok(())
    }
}
