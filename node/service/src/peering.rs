//! Peering between the roots of two trees (异地通办 across trees): a window
//! of one tree accepts a matter that the other tree opens for cross-district
//! handling, naming a hall of that tree to decide it.
//!
//! 1. Each root offers the other its matters open for cross-district
//!    handling and its halls ([`Node::peer_offer`], signed by its root key);
//!    the other root checks the signature with the key its configuration
//!    holds and publishes the offer down its own tree as a
//!    `peer_catalogue` directive signed by its own key
//!    ([`Node::take_peer_offer`]), so its windows accept those matters
//!    offline. Disabling a peer in the configuration publishes the offer
//!    again as disabled ([`Node::publish_peer_states`], at start).
//! 2. The window writes the case as any cross-district case; its
//!    `received` names the other tree's catalogue
//!    (`Received::catalogue_tree`) and carries the matter whole. It is
//!    handed up to this tree's root ([`policy::route`]).
//! 3. The root, holding it, writes `crossed` naming the other root as
//!    holder ([`Node::cross_to_peer`]) and a row of `peer_outbox` in the
//!    same transaction; the peering link sends the case's records, signed
//!    ([`Node::hand_for`]), until the other root acknowledges them.
//! 4. The other root checks them and writes, into its own log, `crossed`
//!    carrying them with the deciding hall as holder ([`Node::take_hand`]):
//!    the records of one tree never become rows of the other's log, so each
//!    origin's hash chain and the one-writer rule hold. The case goes down
//!    to the deciding hall, is decided as any case, and is handed up to its
//!    root, which sends the records the first tree lacks back across the
//!    same way; the first root writes `crossed` towards the window with
//!    them, and the window hands the result out.

use federation::peering::{Carried, Hand};
use onewindow_domain::case::{Case, Event, EventRecord, State};
use onewindow_domain::codec;
use onewindow_domain::log::{
    AuditRecord, Directive, LogBody, NODE_ACTOR, PeerOffer, peer_catalogue_text,
};
use onewindow_domain::policy;
use onewindow_i18n::text;
use onewindow_store::{OutboxRow, PeerCatalogueRow};

use crate::Node;
use crate::error::{Error, ErrorKind};

/// Why a root does not take what a peer handed it: a stable code and
/// what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRefusal {
    /// Stable code.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

impl PeerRefusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<Error> for PeerRefusal {
    fn from(e: Error) -> Self {
        Self::new(e.code, e.message_en)
    }
}

impl From<onewindow_store::StoreError> for PeerRefusal {
    fn from(e: onewindow_store::StoreError) -> Self {
        Self::new("storage", e.to_string())
    }
}

/// A peer tree as a window of this tree knows it.
#[derive(Debug, Clone)]
pub struct KnownPeer {
    /// Whether this tree hands cases to it.
    pub enabled: bool,
    /// What it offers.
    pub offer: PeerOffer,
}

impl Node {
    /// The peer trees this node knows of (from the root's directives), by
    /// their roots' ids.
    pub async fn known_peers(&self) -> Result<Vec<(String, KnownPeer)>, Error> {
        let mut out = Vec::new();
        for row in self.store.peer_catalogues().await? {
            match serde_json::from_str::<PeerOffer>(&row.offer) {
                Ok(offer) => out.push((
                    row.peer,
                    KnownPeer {
                        enabled: row.enabled,
                        offer,
                    },
                )),
                Err(e) => {
                    tracing::warn!(peer = %row.peer, error = %e, "a peer's offer does not parse")
                }
            }
        }
        Ok(out)
    }

    /// The window's check of a case for a hall of another tree, before
    /// anything is stored: the peer is known and enabled, the matter is
    /// one it opens for cross-district handling, and the hall is one of its
    /// halls. The matter as the other tree publishes it, and its catalogue
    /// version.
    pub(crate) async fn peer_matter(
        &self,
        code: &str,
        named: &str,
    ) -> Result<(onewindow_domain::catalogue::Matter, i64), Error> {
        let peer = policy::tree_root(named);
        let known = self.known_peers().await?;
        let Some((_, p)) = known.iter().find(|(id, _)| id == peer) else {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                "unknown_peer",
                &[("peer", &peer)],
            ));
        };
        if !p.enabled {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                "peer_disabled",
                &[("peer", &peer)],
            ));
        }
        let Some(matter) = p
            .offer
            .matters
            .iter()
            .find(|m| m.code == code && m.cross_district)
        else {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                "not_cross_district",
                &[("code", &code)],
            ));
        };
        if federation::NodeId::new(named).is_err() || !p.offer.hall_ids().any(|h| h == named) {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                "unknown_deciding_hall",
                &[("hall", &named)],
            ));
        }
        Ok((matter.clone(), p.offer.catalogue_version))
    }

    /// This root's offer to the trees it peers with: its matters open for
    /// cross-district handling and its halls, as JSON, and its signature
    /// over that text.
    pub fn peer_offer(&self) -> Result<(Vec<u8>, String), Error> {
        let Some(signer) = &self.signer else {
            return Err(Error::storage(&"only the root offers to a peer"));
        };
        let cat = self.catalogue();
        let mut halls: Vec<String> = self.config.node.tree_halls.clone();
        let listed: std::collections::HashSet<String> = self
            .config
            .node
            .tree_hall_entries()
            .iter()
            .map(|(h, ..)| (*h).to_owned())
            .collect();
        let mut named: Vec<(String, (String, String))> = self
            .hall_names()
            .iter()
            .filter(|(h, _)| !listed.contains(*h))
            .map(|(h, n)| (h.clone(), n.clone()))
            .collect();
        named.sort();
        for (h, (zh, en)) in named {
            halls.push(format!("{h}|{zh}|{en}"));
        }
        let offer = PeerOffer {
            root: self.id.to_string(),
            catalogue_version: cat.version,
            matters: cat
                .matters
                .values()
                .filter(|m| m.cross_district)
                .cloned()
                .collect(),
            halls,
        };
        let text = serde_json::to_vec(&offer).map_err(|e| Error::storage(&e))?;
        let signature = signer.sign(&text);
        Ok((text, signature))
    }

    /// Takes a peer root's offer: checked against that root's key, and
    /// published down this tree when it is not the one published last.
    pub async fn take_peer_offer(
        &self,
        peer: &str,
        offer: &[u8],
        signature: &str,
    ) -> Result<(), PeerRefusal> {
        let Some(cfg) = self.config.peering.peer(peer) else {
            return Err(PeerRefusal::new(
                "unknown_peer",
                format!("{peer} is not a peer"),
            ));
        };
        if !crate::signing::verify(&cfg.public_key, offer, signature) {
            return Err(PeerRefusal::new(
                "bad_signature",
                format!("the offer of {peer} does not carry its root's signature"),
            ));
        }
        let text = std::str::from_utf8(offer)
            .map_err(|_| PeerRefusal::new("malformed", "an offer that is not UTF-8 text"))?;
        let parsed: PeerOffer = serde_json::from_str(text).map_err(|e| {
            PeerRefusal::new("malformed", format!("an offer that does not parse: {e}"))
        })?;
        if parsed.root != peer {
            return Err(PeerRefusal::new(
                "malformed",
                format!("an offer of {} from {peer}", parsed.root),
            ));
        }
        if let Some(h) = parsed
            .hall_ids()
            .find(|h| federation::NodeId::new(*h).is_err() || policy::tree_root(h) != peer)
        {
            return Err(PeerRefusal::new(
                "malformed",
                format!("{peer} offers {h:?}, not a hall of its tree"),
            ));
        }
        let same = self
            .store
            .peer_catalogues()
            .await?
            .into_iter()
            .any(|r| r.peer == peer && r.offer == text && r.enabled == cfg.enabled);
        if same {
            return Ok(());
        }
        self.publish_peer_catalogue(peer, cfg.enabled, text, signature)
            .await?;
        Ok(())
    }

    /// Publishes again, at start, the offer of every peer whose enabled
    /// state in the configuration is not the one published last (a peer
    /// disabled or enabled again by its administrator).
    pub async fn publish_peer_states(&self) -> Result<(), Error> {
        if self.signer.is_none() {
            return Ok(());
        }
        for row in self.store.peer_catalogues().await? {
            let enabled = self
                .config
                .peering
                .peer(&row.peer)
                .is_some_and(|p| p.enabled);
            if enabled != row.enabled {
                self.publish_peer_catalogue(&row.peer, enabled, &row.offer, &row.peer_signature)
                    .await?;
            }
        }
        Ok(())
    }

    async fn publish_peer_catalogue(
        &self,
        peer: &str,
        enabled: bool,
        offer: &str,
        peer_signature: &str,
    ) -> Result<(), Error> {
        let Some(signer) = &self.signer else {
            return Err(Error::storage(&"only the root publishes a peer's offer"));
        };
        let signature = signer.sign(peer_catalogue_text(peer, enabled, offer).as_bytes());
        let now = self.now_ms();
        let audit = AuditRecord {
            action: "peer_catalogue_published".into(),
            actor: NODE_ACTOR.into(),
            role: String::new(),
            target: peer.to_owned(),
            detail: if enabled { "enabled" } else { "disabled" }.into(),
            at_ms: now,
        };
        let mut w = self.store.write().await?;
        w.put_peer_catalogue(&PeerCatalogueRow {
            peer: peer.to_owned(),
            enabled,
            offer: offer.to_owned(),
            peer_signature: peer_signature.to_owned(),
            at_ms: now,
        })
        .await?;
        self.stage_directive(
            &mut w,
            Directive::PeerCatalogue {
                peer: peer.to_owned(),
                enabled,
                offer: offer.to_owned(),
                peer_signature: peer_signature.to_owned(),
                signature,
            },
            "",
            NODE_ACTOR,
        )?;
        w.append_audit(audit)?;
        w.commit().await?;
        tracing::info!(%peer, enabled, "a peer's offer published down the tree");
        Ok(())
    }

    /// Checks a `peer_catalogue` directive from the root and keeps it (in
    /// the batch's transaction); the problem when its signature fails.
    pub(crate) async fn keep_peer_catalogue(
        &self,
        w: &mut onewindow_store::WriteTx<'_>,
        d: &onewindow_domain::log::DirectiveRecord,
    ) -> Result<Result<(), String>, onewindow_store::StoreError> {
        let Directive::PeerCatalogue {
            peer,
            enabled,
            offer,
            peer_signature,
            signature,
        } = &d.directive
        else {
            return Ok(Ok(()));
        };
        let key = &self.config.federation.root_public_key;
        if !crate::signing::verify(
            key,
            peer_catalogue_text(peer, *enabled, offer).as_bytes(),
            signature,
        ) {
            return Ok(Err(format!(
                "the offer of {peer}: the root's signature does not hold"
            )));
        }
        w.put_peer_catalogue(&PeerCatalogueRow {
            peer: peer.clone(),
            enabled: *enabled,
            offer: offer.clone(),
            peer_signature: peer_signature.clone(),
            at_ms: d.at_ms,
        })
        .await?;
        Ok(Ok(()))
    }

    /// Every record of a case as this node holds it, each once, in order
    /// (those a crossing or handover carries included, without what they
    /// carry in turn); `None` when some personal section is withheld here.
    pub(crate) async fn full_records(
        &self,
        case_id: &str,
    ) -> Result<Option<Vec<EventRecord>>, Error> {
        let stored = self.store.case_events(case_id).await?;
        if stored
            .iter()
            .any(|e| matches!(e.entry.sealed, federation::Sealed::Withheld(_)))
        {
            return Ok(None);
        }
        let mut by_version: std::collections::BTreeMap<u64, EventRecord> =
            std::collections::BTreeMap::new();
        for e in &stored {
            let Some(r) = e.record() else { continue };
            if let Some(carried) = r.event.carried() {
                for c in carried {
                    by_version
                        .entry(c.case_version)
                        .or_insert_with(|| without_history(c));
                }
            }
            by_version.insert(r.case_version, without_history(r));
        }
        Ok(Some(by_version.into_values().collect()))
    }

    /// At this tree's root, holding a case that goes to another tree (to
    /// be decided there, or its result back to its window): writes
    /// `crossed` naming that tree's root as holder and keeps the hand-over
    /// to send. Does nothing when the peer is not configured or disabled
    /// (the case waits here), or this node does not hold the case.
    pub async fn cross_to_peer(&self, case_id: &str, peer: &str) -> Result<(), Error> {
        if self.config.peering.peer(peer).is_none_or(|p| !p.enabled) {
            tracing::warn!(case = %case_id, %peer, "a case for a tree this root does not hand cases to waits here");
            return Ok(());
        }
        if self.full_records(case_id).await?.is_none() {
            tracing::warn!(case = %case_id, "a case for another tree arrived without its personal sections");
            return Ok(());
        }
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        let Some(row) = w.case(case_id).await? else {
            return Ok(());
        };
        let mut case = row.case;
        if case.holder.as_deref() != Some(self.id.as_str()) || case.state.is_final() {
            return Ok(());
        }
        let rec = EventRecord {
            case_id: case_id.to_owned(),
            case_version: case.version + 1,
            actor: self.system_actor(),
            at_ms: now,
            event: Event::Crossed {
                holder: peer.to_owned(),
                reason: text("history.crossed_tree", &[("tree", &peer)]).joined(),
                history: Vec::new(),
            },
        };
        case.apply(&rec)?;
        // Its scope is the other root: no hall of this tree is below it.
        w.append(rec, peer)?;
        w.put_peer_outbox(peer, case_id, case.version, now).await?;
        w.put_case(self.case_row(&case));
        w.commit().await?;
        self.metrics.case_event("crossed");
        tracing::info!(case = %case_id, %peer, "case handed across to another tree");
        Ok(())
    }

    /// The cases handed across to `peer` that it has not acknowledged.
    pub async fn peer_outbox(&self, peer: &str) -> Result<Vec<OutboxRow>, Error> {
        Ok(self.store.peer_outbox(peer).await?)
    }

    /// What to send `peer` of a case handed across to it: the records its
    /// tree lacks (every one after the last its tree wrote), encoded as
    /// their writers wrote them, and this root's signature over the hand.
    /// `None` when the case's records are not whole here.
    pub async fn hand_for(
        &self,
        peer: &str,
        case_id: &str,
    ) -> Result<Option<(Vec<u8>, String)>, Error> {
        let Some(signer) = &self.signer else {
            return Err(Error::storage(&"only the root hands a case across"));
        };
        let Some(records) = self.full_records(case_id).await? else {
            return Ok(None);
        };
        let theirs = records
            .iter()
            .filter(|r| policy::tree_root(&r.actor.node) == peer)
            .map(|r| r.case_version)
            .max()
            .unwrap_or(0);
        let mut carried = Vec::new();
        for r in records.into_iter().filter(|r| r.case_version > theirs) {
            let origin = r.actor.node.clone();
            let enc = codec::encode(&LogBody::Case(r), &origin, |v| {
                self.store.book(v).map(|b| b.digest)
            })
            .map_err(|e| Error::storage(&e))?;
            carried.push(Carried {
                origin,
                body: enc.body,
                personal: enc.personal,
            });
        }
        if carried.is_empty() {
            return Ok(None);
        }
        let body = Hand {
            from: self.id.to_string(),
            to: peer.to_owned(),
            case_id: case_id.to_owned(),
            records: carried,
        }
        .encode();
        let signature = signer.sign(&body);
        Ok(Some((body, signature)))
    }

    /// Notes that `peer` holds a case durably up to `version`.
    pub async fn peer_acked(&self, peer: &str, case_id: &str, version: u64) -> Result<(), Error> {
        let mut w = self.store.write().await?;
        w.ack_peer_outbox(peer, case_id, version, self.now_ms())
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// Takes a case a peer root handed across: checks the peer's signature
    /// and every record, then writes `crossed` into this root's log
    /// carrying them: down to the hall of this tree that decides it, or,
    /// with its result, down to the window of this tree that accepted it.
    /// Idempotent: a hand already taken is acknowledged again and changes
    /// nothing. The case's number and the last version the hand carried
    /// (what the acknowledgement says is durable here).
    pub async fn take_hand(
        &self,
        peer: &str,
        body: &[u8],
        signature: &str,
    ) -> Result<(String, u64), PeerRefusal> {
        let Some(cfg) = self.config.peering.peer(peer) else {
            return Err(PeerRefusal::new(
                "unknown_peer",
                format!("{peer} is not a peer"),
            ));
        };
        if !cfg.enabled {
            return Err(PeerRefusal::new(
                "peer_disabled",
                format!("peering with {peer} is disabled"),
            ));
        }
        if !crate::signing::verify(&cfg.public_key, body, signature) {
            return Err(PeerRefusal::new(
                "bad_signature",
                format!("a case from {peer} without its root's signature"),
            ));
        }
        let hand = Hand::decode(body).map_err(|e| PeerRefusal::new("malformed", e.to_string()))?;
        let me = self.id.as_str();
        if hand.from != peer || hand.to != me {
            return Err(PeerRefusal::new(
                "malformed",
                format!(
                    "a case from {} to {} on the link from {peer}",
                    hand.from, hand.to
                ),
            ));
        }
        let case_id = hand.case_id.clone();
        let mut records: Vec<EventRecord> = Vec::with_capacity(hand.records.len());
        for c in &hand.records {
            // A root hands across only what its own tree wrote: it cannot
            // speak for a hall of this one.
            if federation::NodeId::new(c.origin.as_str()).is_err()
                || policy::tree_root(&c.origin) != peer
            {
                return Err(PeerRefusal::new(
                    "forged_entry",
                    format!("a record of {} in a case from {peer}", c.origin),
                ));
            }
            let personal = (!c.personal.is_empty()).then_some(c.personal.as_slice());
            let body = codec::decode(&c.body, personal, &c.origin, |v| self.store.book(v))
                .map_err(|e| PeerRefusal::new("malformed", e.to_string()))?;
            let LogBody::Case(rec) = body else {
                return Err(PeerRefusal::new(
                    "malformed",
                    "a record that is not a case's",
                ));
            };
            if rec.case_id != case_id
                || records
                    .last()
                    .is_some_and(|l| l.case_version + 1 != rec.case_version)
            {
                return Err(PeerRefusal::new(
                    "malformed",
                    "the records are not one case's, in order",
                ));
            }
            records.push(rec);
        }
        let Some(last) = records.last().map(|r| r.case_version) else {
            return Err(PeerRefusal::new("malformed", "a hand with no record"));
        };
        let first = records.first().map_or(0, |r| r.case_version);
        let held = self.store.case(&case_id).await?;
        // Case numbers are unique across trees only while hall codes are:
        // a number this root holds for a case accepted elsewhere is not
        // taken for this one.
        if first == 1
            && let Some(row) = &held
            && records
                .first()
                .is_none_or(|r| r.actor.node != row.case.received.accepting_node)
        {
            return Err(PeerRefusal::new(
                "case_conflict",
                format!("case number {case_id} is another case's here"),
            ));
        }
        if held.as_ref().is_some_and(|row| row.case.version >= last) {
            return Ok((case_id, last));
        }
        let history = match &held {
            None => Vec::new(),
            Some(_) => self.full_records(&case_id).await?.ok_or_else(|| {
                PeerRefusal::new("sections_withheld", "the case is not whole here")
            })?,
        };
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        let row = w.case(&case_id).await?;
        let (mut case, to, carried) = match row {
            Some(row) if row.case.version >= last => return Ok((case_id, last)),
            None if first == 1 => {
                let case = Case::fold(&records).map_err(|e| {
                    PeerRefusal::new("forged_entry", format!("case {case_id}: {e}"))
                })?;
                let to = self.decider_of_peer_case(&case)?;
                (case, to, records)
            }
            Some(row) if row.case.version + 1 == first => {
                let mut case = *row.case;
                for r in &records {
                    case.replay(r).map_err(|e| {
                        PeerRefusal::new("forged_entry", format!("case {case_id}: {e}"))
                    })?;
                }
                if case.state != State::ResultReady {
                    return Err(PeerRefusal::new(
                        "case_conflict",
                        format!("case {case_id} comes back without its result"),
                    ));
                }
                let to = case.window().to_owned();
                let mut all = history;
                all.retain(|r| r.case_version < first);
                all.extend(records);
                (case, to, all)
            }
            _ => {
                return Err(PeerRefusal::new(
                    "case_conflict",
                    format!("case {case_id} from version {first} does not follow what is held"),
                ));
            }
        };
        if case.holder.as_deref() != Some(me) {
            return Err(PeerRefusal::new(
                "forged_entry",
                format!(
                    "case {case_id} handed to {}, not to {me}",
                    case.holder.as_deref().unwrap_or("nobody")
                ),
            ));
        }
        let reason = if case.state == State::ResultReady {
            text("history.crossed", &[("hall", &to.as_str())]).joined()
        } else {
            text(
                "history.crossed_in",
                &[("tree", &peer), ("hall", &to.as_str())],
            )
            .joined()
        };
        let rec = EventRecord {
            case_id: case_id.clone(),
            case_version: last + 1,
            actor: self.system_actor(),
            at_ms: now,
            event: Event::Crossed {
                holder: to.clone(),
                reason,
                history: carried,
            },
        };
        case.apply(&rec)
            .map_err(|e| PeerRefusal::new("case_conflict", format!("case {case_id}: {e}")))?;
        w.append(rec, &to)?;
        w.put_case(self.case_row(&case));
        w.commit().await?;
        self.metrics.case_event("crossed");
        tracing::info!(case = %case_id, %peer, %to, "case taken in from another tree");
        Ok((case_id, last))
    }

    /// The hall of this tree that decides a case another tree handed in:
    /// the lowest at or above the hall the window named that may decide
    /// the matter, by this tree's catalogue, which must open it for
    /// cross-district handling.
    fn decider_of_peer_case(&self, case: &Case) -> Result<String, PeerRefusal> {
        let me = self.id.as_str();
        let r = &case.received;
        if r.catalogue_tree.as_deref() != Some(me) {
            return Err(PeerRefusal::new(
                "not_cross_district",
                format!("case {} is not of this tree's catalogue", case.id),
            ));
        }
        let Some(named) = r
            .decided_at
            .as_deref()
            .filter(|n| federation::NodeId::new(*n).is_ok() && policy::tree_root(n) == me)
        else {
            return Err(PeerRefusal::new(
                "unknown_deciding_hall",
                format!("case {} names no hall of this tree", case.id),
            ));
        };
        let cat = self.catalogue();
        let Some(matter) = cat.matter(&r.matter_code).filter(|m| m.cross_district) else {
            return Err(PeerRefusal::new(
                "not_cross_district",
                format!(
                    "matter {} is not open for cross-district handling",
                    r.matter_code
                ),
            ));
        };
        Ok(policy::decider(
            matter,
            named,
            &self.config.node.tiers,
            self.today(),
        ))
    }

    /// Where a case held at this root goes when it is for another tree:
    /// that tree's root, if any.
    pub(crate) fn peer_of(&self, case: &Case) -> Option<String> {
        if self.id.depth() != 0 || case.state.is_final() {
            return None;
        }
        let target = if case.state == State::ResultReady {
            case.window()
        } else {
            case.received.decided_at.as_deref()?
        };
        let root = policy::tree_root(target);
        (root != self.id.as_str()).then(|| root.to_owned())
    }
}

/// A record without the records it carries; but a root's taking in of a
/// case from another tree (`crossed` naming the root that writes it) keeps
/// them, since only what it carries lets it name the holder it is already.
fn without_history(r: &EventRecord) -> EventRecord {
    let mut r = r.clone();
    if matches!(&r.event, Event::Crossed { holder, .. } if *holder == r.actor.node) {
        return r;
    }
    if let Event::HandedOver { history, .. } | Event::Crossed { history, .. } = &mut r.event {
        history.clear();
    }
    r
}
