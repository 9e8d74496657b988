//! The SMS sender: a task per node that delivers the outbox's due
//! messages to the `[sms]` gateway, one HTTP POST of JSON
//! `{"to", "text", "id"}` each (with the bearer token if one is set),
//! and reports each delivery or failure to the node, which keeps the
//! error and sets the next attempt ([`Node::sms_failed`]). Without a
//! gateway the messages stay queued, and the node says so once.

use std::sync::Arc;
use std::time::Duration;

use crate::service::Node;

/// Starts the sender; `None` when no gateway is configured.
pub(crate) fn start(node: &Arc<Node>) -> Option<tokio::task::JoinHandle<()>> {
    let c = node.config.sms.clone();
    let url = c.gateway_url.trim().to_owned();
    if url.is_empty() {
        tracing::info!("SMS is not configured ([sms] gateway_url): messages stay queued");
        return None;
    }
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(c.timeout_ms))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, "no HTTP client for the SMS gateway: messages stay queued");
            return None;
        }
    };
    let node = Arc::clone(node);
    let token = c.gateway_token.trim().to_owned();
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(c.poll_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let due = match node.due_sms().await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "the SMS outbox could not be read");
                    continue;
                }
            };
            for m in due {
                let mut req = client.post(&url).json(&serde_json::json!({
                    "to": m.phone,
                    "text": m.body,
                    "id": m.id,
                }));
                if !token.is_empty() {
                    req = req.bearer_auth(&token);
                }
                let failure = match req.send().await {
                    Ok(r) if r.status().is_success() => None,
                    Ok(r) => Some(format!("the gateway answered {}", r.status())),
                    Err(e) => Some(format!("the gateway could not be reached: {e}")),
                };
                let recorded = match &failure {
                    None => node.sms_delivered(&m.id).await,
                    Some(error) => {
                        tracing::warn!(id = %m.id, %error, "an SMS was not delivered");
                        node.sms_failed(&m, error).await
                    }
                };
                if let Err(e) = recorded {
                    tracing::warn!(error = %e, id = %m.id, "an SMS delivery could not be recorded");
                }
            }
        }
    }))
}
