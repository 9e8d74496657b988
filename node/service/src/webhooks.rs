//! Webhooks: a department system's feed pushed to its URL instead of
//! polled. An administrator subscribes an `http://` URL for a credential
//! ([`Node::subscribe_webhook`]) and gets the subscription's signing
//! secret once. The node's deliverer task (no HTTP here) asks for each
//! subscription's next delivery ([`Node::next_delivery`]): its first open
//! one, or else a new batch of the feed after the subscription's stored
//! position, stored with that position moved in one transaction (so a
//! restart goes on from there and sends again what was not taken). A
//! failure is retried after a wait that doubles from `[feed]
//! webhook_retry_min_ms` to `webhook_retry_max_ms`; after
//! `webhook_max_attempts` the delivery is a dead letter, set aside so the
//! feed goes on, until an administrator replays it
//! ([`Node::replay_delivery`]). Each POST is signed
//! ([`webhook_signature`]).

use rand::RngCore;
use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::Node;
use crate::error::{Error, ErrorKind};
use crate::feed::FeedItem;
use onewindow_domain::case::Role;
use onewindow_store::{DeliveryFilter, DeliveryRow, SubscriptionRow};

/// The header that carries a delivery's signature: `sha256=<hex>` of
/// HMAC-SHA256, under the subscription's secret, over
/// `<timestamp>.<body>`.
pub const SIGNATURE_HEADER: &str = "x-onewindow-signature";
/// The header that carries the signing time (ms since the epoch, the
/// machine's clock), which the signature covers.
pub const TIMESTAMP_HEADER: &str = "x-onewindow-timestamp";
/// The header that names the delivery (the same on every attempt).
pub const DELIVERY_HEADER: &str = "x-onewindow-delivery";
/// The longest webhook URL.
const URL_MAX: usize = 500;
/// The longest error text kept.
const MAX_ERROR: usize = 500;

/// The signature of `body` sent at `timestamp_ms`: `sha256=` and the hex
/// of HMAC-SHA256 under `secret` over `<timestamp_ms>.<body>`.
pub fn webhook_signature(secret: &str, timestamp_ms: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp_ms.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    format!("sha256={}", hex::encode(ctx.sign().as_ref()))
}

/// A subscription as administrators see it (its secret only when made).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Subscription {
    /// Its id.
    pub id: String,
    /// The credential whose feed it carries.
    pub credential: String,
    /// Where deliveries go.
    pub url: String,
    /// The feed's cursor up to which deliveries are made.
    pub cursor: String,
    /// Subscribed (ms).
    pub created_at_ms: i64,
    /// The administrator who subscribed it.
    pub created_by: String,
    /// The signing secret: given when the subscription is made, never
    /// again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Ended (ms): nothing is delivered to it any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at_ms: Option<i64>,
    /// The administrator who ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
}

/// A delivery, as administrators see it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Its id (`X-OneWindow-Delivery`).
    pub id: String,
    /// The subscription.
    pub subscription: String,
    /// Feed items it carries.
    pub items: i64,
    /// The feed's cursor before its first item.
    pub after: String,
    /// The feed's cursor after its last item.
    pub upto: String,
    /// Made (ms).
    pub created_at_ms: i64,
    /// Attempts so far (since its last replay).
    pub attempts: i64,
    /// The next attempt (ms).
    pub next_attempt_ms: Option<i64>,
    /// When the receiver took it (ms).
    pub delivered_at_ms: Option<i64>,
    /// When it became a dead letter (ms).
    pub dead_at_ms: Option<i64>,
    /// The last failed attempt's error.
    pub last_error: Option<String>,
    /// `open`, `delivered` or `dead`.
    pub status: String,
}

/// The JSON body POSTed to a webhook.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookBody {
    /// The subscription.
    pub subscription: String,
    /// The delivery (the same on every attempt and replay).
    pub delivery: String,
    /// The feed's items, in its order.
    pub items: Vec<FeedItem>,
    /// The feed's cursor after the last item.
    pub next: String,
}

impl Node {
    fn subscription_view(&self, s: SubscriptionRow, secret: bool) -> Subscription {
        Subscription {
            cursor: self.feed_cursor(s.queued_seq),
            secret: secret.then_some(s.secret),
            id: s.id,
            credential: s.credential,
            url: s.url,
            created_at_ms: s.created_at_ms,
            created_by: s.created_by,
            ended_at_ms: s.ended_at_ms,
            ended_by: s.ended_by,
        }
    }

    fn delivery_view(&self, d: DeliveryRow) -> Delivery {
        let status = match (d.delivered_at_ms, d.dead_at_ms) {
            (Some(_), _) => "delivered",
            (None, Some(_)) => "dead",
            (None, None) => "open",
        };
        Delivery {
            after: self.feed_cursor(d.after_seq),
            upto: self.feed_cursor(d.upto_seq),
            id: d.id,
            subscription: d.subscription,
            items: d.items,
            created_at_ms: d.created_at_ms,
            attempts: d.attempts,
            next_attempt_ms: d.next_attempt_ms,
            delivered_at_ms: d.delivered_at_ms,
            dead_at_ms: d.dead_at_ms,
            last_error: d.last_error,
            status: status.to_owned(),
        }
    }

    /// Subscribes `url` for the feed of credential `credential`, from
    /// `after` (a feed cursor; none: the start). The node's HTTP client has
    /// no TLS, so an `https://` URL is refused (`webhook_https_refused`).
    pub async fn subscribe_webhook(
        &self,
        credential: &str,
        url: &str,
        after: Option<&str>,
        by: &str,
    ) -> Result<Subscription, Error> {
        let url = url.trim();
        if url
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        {
            return Err(Error::bad_request("webhook_https_refused", &[]).on_field("url"));
        }
        let host = url.strip_prefix("http://").unwrap_or_default();
        let host = host.split(['/', '?', '#']).next().unwrap_or_default();
        let fine = !host.is_empty()
            && url.len() <= URL_MAX
            && url.bytes().all(|b| b.is_ascii_graphic())
            && !host.contains('@');
        if !fine {
            return Err(Error::bad_request("bad_webhook_url", &[("max", &URL_MAX)]).on_field("url"));
        }
        let from = self.feed_position(after)?;
        match self.store.feed_credential(credential.trim()).await? {
            None => return Err(Error::not_found("unknown_credential", &[])),
            Some(c) if c.revoked_at_ms.is_some() => {
                return Err(Error::new(ErrorKind::Conflict, "credential_revoked", &[]));
            }
            Some(_) => {}
        }
        let mut id = [0u8; 6];
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut id);
        rand::thread_rng().fill_bytes(&mut secret);
        let row = SubscriptionRow {
            id: format!("wh-{}", hex::encode(id)),
            credential: credential.trim().to_owned(),
            url: url.to_owned(),
            secret: hex::encode(secret),
            queued_seq: from,
            created_at_ms: self.now_ms(),
            created_by: by.to_owned(),
            ended_at_ms: None,
            ended_by: None,
        };
        let mut w = self.store.write().await?;
        w.add_feed_subscription(&row).await?;
        w.commit().await?;
        self.audit("webhook_subscribed", by, Role::Admin, &row.id, url)
            .await;
        Ok(self.subscription_view(row, true))
    }

    /// Every subscription.
    pub async fn webhook_subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        Ok(self
            .store
            .feed_subscriptions()
            .await?
            .into_iter()
            .map(|s| self.subscription_view(s, false))
            .collect())
    }

    /// Deliveries, newest first: all, the open ones or the dead letters.
    pub async fn webhook_deliveries(&self, filter: DeliveryFilter) -> Result<Vec<Delivery>, Error> {
        Ok(self
            .store
            .deliveries(filter)
            .await?
            .into_iter()
            .map(|d| self.delivery_view(d))
            .collect())
    }

    /// Ends a subscription: nothing more is delivered to it, its open
    /// deliveries are given up (dead, never replayed), and it stays listed
    /// as ended.
    pub async fn end_webhook(&self, id: &str, by: &str) -> Result<Subscription, Error> {
        let id = id.trim();
        let mut w = self.store.write().await?;
        let ended = w.end_feed_subscription(id, by, self.now_ms()).await?;
        w.commit().await?;
        let stored = self.store.feed_subscription(id).await?;
        if !ended {
            return Err(match stored {
                None => Error::not_found("unknown_subscription", &[]),
                Some(_) => Error::new(ErrorKind::Conflict, "subscription_ended", &[]),
            });
        }
        self.audit("webhook_ended", by, Role::Admin, id, "").await;
        let s = stored.ok_or_else(|| Error::not_found("unknown_subscription", &[]))?;
        Ok(self.subscription_view(s, false))
    }

    /// Puts a dead letter back to be delivered now (its attempts start
    /// again); a delivery of an ended subscription is not replayed.
    pub async fn replay_delivery(&self, id: &str, by: &str) -> Result<Delivery, Error> {
        let mut w = self.store.write().await?;
        let replayed = w.replay_delivery(id, self.now_ms()).await?;
        w.commit().await?;
        // As the replay left it: the sender may deliver it at once.
        let Some(d) = replayed else {
            let Some(d) = self.store.delivery(id).await? else {
                return Err(Error::not_found("unknown_delivery", &[]));
            };
            let ended = self
                .store
                .feed_subscription(&d.subscription)
                .await?
                .is_none_or(|s| s.ended_at_ms.is_some());
            let code = if ended && d.dead_at_ms.is_some() {
                "subscription_ended"
            } else {
                "delivery_not_dead"
            };
            return Err(Error::new(ErrorKind::Conflict, code, &[]));
        };
        self.audit("webhook_replayed", by, Role::Admin, id, "")
            .await;
        Ok(self.delivery_view(d))
    }

    /// The subscriptions the deliverer serves: those not ended whose
    /// credential is good, with the URL and secret.
    pub async fn live_subscriptions(&self) -> Result<Vec<SubscriptionRow>, Error> {
        let mut out = Vec::new();
        for s in self.store.feed_subscriptions().await? {
            if s.ended_at_ms.is_some() {
                continue;
            }
            let good = self
                .store
                .feed_credential(&s.credential)
                .await?
                .is_some_and(|c| c.revoked_at_ms.is_none());
            if good {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// The subscription's next delivery if one is due now: its first open
    /// one, or, when none is open, a new one made of the feed's next
    /// `[feed] webhook_batch` items (none when there are no new items).
    pub async fn next_delivery(&self, s: &SubscriptionRow) -> Result<Option<DeliveryRow>, Error> {
        let now = self.now_ms();
        if let Some(open) = self.store.open_delivery(&s.id).await? {
            return Ok(open
                .next_attempt_ms
                .is_some_and(|t| t <= now)
                .then_some(open));
        }
        // The subscription as stored: the deliverer's copy may be older
        // (it may have ended since).
        let Some(s) = self
            .store
            .feed_subscription(&s.id)
            .await?
            .filter(|s| s.ended_at_ms.is_none())
        else {
            return Ok(None);
        };
        let Some(credential) = self.store.feed_credential(&s.credential).await? else {
            return Ok(None);
        };
        let (items, last) = self
            .department_feed(
                &credential.department,
                s.queued_seq,
                i64::from(self.config.feed.webhook_batch),
            )
            .await?;
        if items.is_empty() {
            return Ok(None);
        }
        let id = format!("{}-{last}", s.id);
        let count = i64::try_from(items.len()).unwrap_or(i64::MAX);
        let body = WebhookBody {
            subscription: s.id.clone(),
            delivery: id.clone(),
            next: self.feed_cursor(last),
            items,
        };
        let body = serde_json::to_string(&body).map_err(|e| Error::storage(&e))?;
        let d = DeliveryRow {
            id,
            subscription: s.id.clone(),
            after_seq: s.queued_seq,
            upto_seq: last,
            items: count,
            body,
            created_at_ms: now,
            attempts: 0,
            next_attempt_ms: Some(now),
            delivered_at_ms: None,
            dead_at_ms: None,
            last_error: None,
        };
        let mut w = self.store.write().await?;
        let queued = w.queue_delivery(&d).await?;
        w.commit().await?;
        Ok(queued.then_some(d))
    }

    /// Records that the receiver took a delivery.
    pub async fn delivery_succeeded(&self, id: &str) -> Result<(), Error> {
        let mut w = self.store.write().await?;
        w.delivery_done(id, self.now_ms()).await?;
        w.commit().await?;
        self.metrics.webhook_delivery("delivered");
        Ok(())
    }

    /// Records a failed attempt of `d`: the error, and the next attempt
    /// after the doubling wait, or, after the last allowed attempt, the
    /// dead letter.
    pub async fn delivery_failed(&self, d: &DeliveryRow, error: &str) -> Result<(), Error> {
        let c = &self.config.feed;
        let attempts = u32::try_from(d.attempts.max(0)).unwrap_or(u32::MAX) + 1;
        let now = self.now_ms();
        let (next, dead) = if attempts < c.webhook_max_attempts {
            let wait = c
                .webhook_retry_min_ms
                .saturating_mul(1u64 << (attempts - 1).min(40))
                .min(c.webhook_retry_max_ms);
            (
                Some(now.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX))),
                None,
            )
        } else {
            (None, Some(now))
        };
        let error: String = error.chars().take(MAX_ERROR).collect();
        let mut w = self.store.write().await?;
        w.delivery_failed(&d.id, &error, next, dead).await?;
        w.commit().await?;
        self.metrics
            .webhook_delivery(if dead.is_some() { "dead" } else { "failed" });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::webhook_signature;

    #[test]
    fn the_signature_covers_the_time_and_the_body() {
        let s = webhook_signature("k", 1, "{}");
        assert!(s.starts_with("sha256="));
        assert_eq!(s.len(), 7 + 64);
        assert_ne!(s, webhook_signature("k", 2, "{}"));
        assert_ne!(s, webhook_signature("k", 1, "{ }"));
        assert_ne!(s, webhook_signature("j", 1, "{}"));
        assert_eq!(s, webhook_signature("k", 1, "{}"));
    }
}
