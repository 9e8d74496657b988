//! The webhook deliverer: a task per node that, every `[feed]
//! webhook_poll_ms`, takes each live subscription's deliveries in feed
//! order ([`Node::next_delivery`]) and POSTs each one's stored body to the
//! subscription's URL, signed (`X-OneWindow-Timestamp`,
//! `X-OneWindow-Signature`, `X-OneWindow-Delivery`). A 2xx answer is a
//! delivery; anything else is reported to the node, which keeps the error
//! and sets the next attempt or makes it a dead letter. A subscription
//! whose delivery failed waits for that delivery's next attempt before
//! anything after it is sent.

use std::sync::Arc;
use std::time::Duration;

use crate::service::Node;
use crate::service::webhooks::{
    DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_signature,
};

/// The most deliveries of one subscription sent in one round, so that one
/// busy subscriber does not hold up the others.
const PER_ROUND: usize = 20;

/// Starts the deliverer; `None` when no HTTP client can be built.
pub(crate) fn start(node: &Arc<Node>) -> Option<tokio::task::JoinHandle<()>> {
    let c = node.config.feed.clone();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(c.webhook_timeout_ms))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, "no HTTP client for webhooks: they are not delivered");
            return None;
        }
    };
    let node = Arc::clone(node);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(c.webhook_poll_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let subs = match node.live_subscriptions().await {
                Ok(subs) => subs,
                Err(e) => {
                    tracing::warn!(error = %e, "the webhook subscriptions could not be read");
                    continue;
                }
            };
            for s in subs {
                for _ in 0..PER_ROUND {
                    let d = match node.next_delivery(&s).await {
                        Ok(Some(d)) => d,
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(subscription = %s.id, error = %e, "a webhook delivery could not be made");
                            break;
                        }
                    };
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                    let sent = client
                        .post(&s.url)
                        .header("content-type", "application/json")
                        .header(TIMESTAMP_HEADER, now.to_string())
                        .header(SIGNATURE_HEADER, webhook_signature(&s.secret, now, &d.body))
                        .header(DELIVERY_HEADER, &d.id)
                        .body(d.body.clone())
                        .send()
                        .await;
                    let failure = match sent {
                        Ok(r) if r.status().is_success() => None,
                        Ok(r) => Some(format!("the receiver answered {}", r.status())),
                        Err(e) => Some(format!("the receiver could not be reached: {e}")),
                    };
                    let recorded = match &failure {
                        None => node.delivery_succeeded(&d.id).await,
                        Some(error) => {
                            tracing::warn!(delivery = %d.id, %error, "a webhook delivery failed");
                            node.delivery_failed(&d, error).await
                        }
                    };
                    if let Err(e) = recorded {
                        tracing::warn!(delivery = %d.id, error = %e, "a webhook delivery could not be recorded");
                        break;
                    }
                    if failure.is_some() {
                        break;
                    }
                }
            }
        }
    }))
}
