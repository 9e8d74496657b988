//! Directives: the rules only the root writes (catalogue versions,
//! calendars, revocations, recalls), signed and written to the log, and
//! questions passed up the tree.

use federation::NodeId;

use crate::Node;
use crate::signing;
use onewindow_domain::log::{Directive, DirectiveRecord};
use onewindow_store::WriteTx;

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
        self.stage_directive(&mut w, directive, scope, by)?;
        w.commit().await?;
        Ok(())
    }

    /// Stages a directive of this node in an open transaction, so that the
    /// change it announces and the announcement commit together.
    pub(crate) fn stage_directive(
        &self,
        w: &mut WriteTx<'_>,
        directive: Directive,
        scope: &str,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        w.append_directive_to(
            DirectiveRecord {
                directive,
                issued_by: by.to_owned(),
                at_ms: self.now_ms(),
            },
            scope,
        )?;
        Ok(())
    }

    /// Reloads the holiday calendar from the store.
    pub async fn reload_calendar(&self) -> anyhow::Result<()> {
        let mut cal = onewindow_domain::calendar::Calendar::new();
        for y in self.store.calendars().await? {
            cal.insert_year(y)?;
        }
        self.set_calendar(cal);
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
            return Err(crate::error::Error::keyed(
                crate::error::ErrorKind::Forbidden,
                "not_the_root",
                "err.not_the_root.revoke",
                &[],
            ));
        };
        let below = NodeId::new(node).is_ok_and(|n| n != self.id && n.is_in_subtree_of(&self.id));
        if !below {
            return Err(crate::error::Error::bad_request(
                "bad_node_id",
                &[("node", &node)],
            ));
        }
        let signature = signer.sign(format!("{node}\n{serial}").as_bytes());
        let audit = self.audit_record("node_revoked", by, node, serial).await;
        let mut w = self.store.write().await?;
        self.stage_directive(
            &mut w,
            Directive::NodeRevoked {
                node: node.to_owned(),
                serial: serial.to_owned(),
                signature,
            },
            "",
            by,
        )?;
        if serial.is_empty() {
            w.fleet_revoked(node, self.now_ms()).await?;
        }
        w.append_audit(audit)?;
        w.commit().await?;
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
        let (number, row, reason) = self
            .case_order(number, reason, "err.not_the_root.recall")
            .await?;
        if row.case.state.is_final() || row.case.holder.as_deref() == Some(self.id.as_str()) {
            return Err(crate::error::Error::new(
                crate::error::ErrorKind::Conflict,
                "nothing_to_recall",
                &[],
            ));
        }
        let audit = self
            .audit_record("case_recalled", by, &number, reason)
            .await;
        let directive = Directive::Recall {
            case_id: number,
            to: self.id.to_string(),
            reason: reason.to_owned(),
        };
        self.send_order(&row, directive, audit, by).await
    }

    /// The checks of an order the district gives on a case (a recall, a
    /// reopening, a decision on an appeal): at the root only (`not_root`
    /// names the refusal's words), a reason of 1 to 500 characters, a case
    /// held here. Gives the case number as written, its row and the reason
    /// trimmed.
    async fn case_order<'r>(
        &self,
        number: &str,
        reason: &'r str,
        not_root: &str,
    ) -> Result<(String, onewindow_store::CaseRow, &'r str), crate::error::Error> {
        use crate::error::{Error, ErrorKind};
        if self.id.depth() != 0 {
            return Err(Error::keyed(
                ErrorKind::Forbidden,
                "not_the_root",
                not_root,
                &[],
            ));
        }
        let reason = order_reason(reason)?;
        let number = onewindow_domain::case_number::CaseNumber::parse(number)?.to_string();
        let row = self
            .store
            .case(&number)
            .await?
            .ok_or_else(|| Error::not_found("case_not_found", &[("number", &number)]))?;
        Ok((number, row, reason))
    }

    /// Sends an order down the case's branch, with its audit record in the
    /// same transaction; the case's holder carries it out when it arrives.
    async fn send_order(
        &self,
        row: &onewindow_store::CaseRow,
        directive: Directive,
        audit: onewindow_domain::log::AuditRecord,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        let mut w = self.store.write().await?;
        self.stage_directive(&mut w, directive, row.case.window(), by)?;
        w.append_audit(audit)?;
        w.commit().await?;
        Ok(())
    }

    /// Carries out an order of the district on a case: `event`, written at
    /// once by `by` when the root holds the case (its record follows), or
    /// `directive` down the case's branch for the holder.
    async fn give_order(
        &self,
        row: &onewindow_store::CaseRow,
        event: onewindow_domain::case::Event,
        directive: Directive,
        audit: onewindow_domain::log::AuditRecord,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        if row.case.holder.as_deref() != Some(self.id.as_str()) {
            return self.send_order(row, directive, audit, by).await;
        }
        let actor = self.actor(by, onewindow_domain::case::Role::Supervisor, None);
        self.write_event_as(&row.case.id, actor, event).await?;
        let mut w = self.store.write().await?;
        w.append_audit(audit)?;
        w.commit().await?;
        Ok(())
    }

    /// At the root: reopens a completed or terminated case (privileged,
    /// with a reason; an audit record of the district). A case the root
    /// holds is reopened at once; elsewhere the directive goes down the
    /// case's branch and its holder reopens it, then hands it up to the
    /// hall that decides its matter.
    pub async fn reopen(
        &self,
        number: &str,
        reason: &str,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        use onewindow_domain::case::State;
        let (number, row, reason) = self
            .case_order(number, reason, "err.not_the_root.reopen")
            .await?;
        if !matches!(row.case.state, State::Completed | State::Terminated) {
            return Err(crate::error::Error::new(
                crate::error::ErrorKind::Conflict,
                "nothing_to_reopen",
                &[("state", &row.case.state.as_str())],
            ));
        }
        let audit = self
            .audit_record("case_reopened", by, &number, reason)
            .await;
        let event = onewindow_domain::case::Event::Reopened {
            reason: reason.to_owned(),
        };
        let directive = Directive::Reopen {
            case_id: number,
            reason: reason.to_owned(),
        };
        self.give_order(&row, event, directive, audit, by).await
    }

    /// At the root: decides a hall's appeal against a warning of a case
    /// (upheld: the warning stands; otherwise revoked). A case the root
    /// holds takes the decision at once; elsewhere the decision goes down
    /// the case's branch and its holder writes it into the case.
    pub async fn decide_appeal(
        &self,
        number: &str,
        rule: onewindow_domain::case::WarningRule,
        level: onewindow_domain::case::Warning,
        upheld: bool,
        reason: &str,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        use onewindow_domain::case::CaseError;
        let (number, row, reason) = self
            .case_order(number, reason, "err.not_the_root.decide")
            .await?;
        match row.case.appeal(rule, level) {
            Some(a) if a.decision.is_none() => {}
            Some(_) => {
                return Err(CaseError::Appeal("the appeal is already decided".into()).into());
            }
            None => {
                return Err(CaseError::Appeal(format!(
                    "the {} {} warning is not appealed",
                    level.as_str(),
                    rule.as_str()
                ))
                .into());
            }
        }
        let verdict = if upheld { "upheld" } else { "revoked" };
        let audit = self
            .audit_record(
                "warning_decided",
                by,
                &number,
                &format!("{} {} {verdict}: {reason}", rule.as_str(), level.as_str()),
            )
            .await;
        let event = onewindow_domain::case::Event::WarningDecided {
            rule,
            level,
            upheld,
            reason: reason.to_owned(),
            decided_by: format!("{by}@{}", self.id),
        };
        let directive = Directive::WarningDecision {
            case_id: number,
            rule,
            level,
            upheld,
            reason: reason.to_owned(),
        };
        self.give_order(&row, event, directive, audit, by).await
    }

    /// At the root: announces a hall enrolled here whose parent is another
    /// node, so that the parent admits it on its link. The directive goes
    /// down the new hall's branch, signed like every rule.
    pub async fn announce_registration(
        &self,
        node: &NodeId,
        by: &str,
    ) -> Result<(), crate::error::Error> {
        let Some(signer) = &self.signer else {
            tracing::warn!(
                %node,
                "this node holds the CA but not the root's signing key: the new hall's parent admits it only once its configuration lists it"
            );
            return Ok(());
        };
        let signature =
            signer.sign(onewindow_domain::log::registration_text(node.as_str()).as_bytes());
        self.write_directive(
            Directive::NodeRegistered {
                node: node.to_string(),
                signature,
            },
            node.as_str(),
            by,
        )
        .await?;
        Ok(())
    }

    /// Revocations and registrations of this node's children already in
    /// the log (checked again), for a restart.
    pub async fn restore_revocations(&self) -> anyhow::Result<()> {
        let key = &self.config.federation.root_public_key;
        let mut after = 0;
        loop {
            let batch = self.store.events_after(after, 1000).await?;
            let Some(last) = batch.last() else { break };
            after = last.local_seq;
            for e in &batch {
                if let onewindow_domain::log::LogBody::Directive(DirectiveRecord {
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
                if let onewindow_domain::log::LogBody::Directive(DirectiveRecord {
                    directive: Directive::NodeRegistered { node, signature },
                    ..
                }) = &e.body
                    && NodeId::new(node.clone())
                        .is_ok_and(|n| n.parent().as_ref() == Some(&self.id))
                    && signing::verify(
                        key,
                        onewindow_domain::log::registration_text(node).as_bytes(),
                        signature,
                    )
                {
                    self.registry.register(node);
                }
            }
        }
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
    /// A staff request of an administrator at `at` (a node of the asking
    /// link's subtree) for a hall below `at`: the root keeps the account
    /// and answers with it, or with its refusal.
    Staff {
        /// The node where the administrator asked.
        at: String,
        /// The administrator.
        by: String,
        /// What is asked (the password only as its hash).
        ask: crate::tree_staff::StaffAsk,
    },
    /// A renewed certificate for `node`, a node of the asking link's
    /// subtree: the CA signs `request_pem` (PKCS#10) for it. The answer is
    /// the certificate (PEM).
    Certificate {
        /// The node the certificate is for.
        node: String,
        /// Its signing request, made with its new key.
        request_pem: String,
    },
    /// A piece of a case's file, asked of the hall that keeps it and
    /// passed along the tree towards it (up, then down): a question a
    /// parent may ask its child, like [`Query::Sections`].
    File(crate::fetch::FileAsk),
    /// The personal sections of a case's entries, asked by the hall that
    /// holds the case of the hall below that has them, passed along the
    /// tree towards the case's accepting hall like a file's question.
    Sections(crate::personal::SectionsAsk),
    /// Do these four characters end the applicant's identifier of a case?
    /// Asked by a hall that holds the case's personal section withheld,
    /// towards the accepting hall `at`; the answer is `true`, or nothing.
    Last4 {
        /// Case number.
        number: String,
        /// The four characters typed in.
        last4: String,
        /// The case's accepting hall.
        at: String,
    },
}

/// A question and where its answer goes.
pub type QuerySender =
    tokio::sync::mpsc::Sender<(String, tokio::sync::oneshot::Sender<Option<String>>)>;

const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Sends a question over a link's question channel and waits for its
/// answer; `None` when the link is gone or nothing came in time.
async fn ask_over(tx: QuerySender, q: &Query) -> Option<String> {
    let body = serde_json::to_string(q).ok()?;
    let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
    tx.send((body, reply_tx)).await.ok()?;
    tokio::time::timeout(QUERY_TIMEOUT, reply_rx)
        .await
        .ok()?
        .ok()?
}

impl Node {
    /// Asks the parent (which asks its own, up to the root); `None` when
    /// there is no uplink, no answer in time, or nothing found.
    pub async fn ask_up(&self, q: &Query) -> Option<String> {
        let tx = self.uplink_queries.lock().ok()?.clone()?;
        ask_over(tx, q).await
    }

    /// Asks the child `child` (which asks its own, down to the hall the
    /// question is for); `None` when its link is down or nothing came in
    /// time.
    pub async fn ask_down(&self, child: &str, q: &Query) -> Option<String> {
        let tx = self.downlink_queries.lock().ok()?.get(child)?.clone();
        ask_over(tx, q).await
    }

    /// Passes a question towards the hall `at` along the tree: down when
    /// `at` is below this node, up otherwise, never back up what came from
    /// the parent (`from_parent`), and nowhere when `at` is this node.
    pub(crate) async fn ask_towards(
        &self,
        at: &str,
        q: &Query,
        from_parent: bool,
    ) -> Option<String> {
        match onewindow_store::child_branch(&self.id, at) {
            Some(child) => self.ask_down(child.as_str(), q).await,
            None if !from_parent && at != self.id.as_str() => self.ask_up(q).await,
            None => None,
        }
    }

    /// May the peer `peer` ask on behalf of the hall `by`? A child speaks
    /// for its own subtree; a parent (`from_parent`) for what is outside
    /// this node's subtree.
    pub(crate) fn speaks_for(
        &self,
        peer: &federation::NodeId,
        by: &federation::NodeId,
        from_parent: bool,
    ) -> bool {
        if from_parent {
            !by.is_in_subtree_of(&self.id)
        } else {
            by.is_in_subtree_of(peer)
        }
    }

    /// Answers the question of the peer `peer` (its parent when
    /// `from_parent`) from this node's store, or asks further along.
    pub async fn answer(
        &self,
        peer: &federation::NodeId,
        body: &str,
        from_parent: bool,
    ) -> Option<String> {
        let q: Query = serde_json::from_str(body).ok()?;
        if let Query::File(ask) = &q {
            return self.answer_file(peer, from_parent, ask).await;
        }
        if let Query::Sections(ask) = &q {
            return self.answer_sections(peer, from_parent, ask).await;
        }
        if let Query::Last4 { number, last4, at } = &q {
            return self.answer_last4(from_parent, number, last4, at).await;
        }
        if from_parent {
            // A parent asks its child for files and personal data only.
            tracing::warn!(%peer, "left a question from the parent unanswered: only files and personal data are asked of a child");
            return None;
        }
        match &q {
            Query::File(_) | Query::Sections(_) | Query::Last4 { .. } => None,
            Query::Progress { number, last4 } => match self.local_progress(number, last4).await {
                Ok(Some(p)) => serde_json::to_string(&p).ok(),
                Ok(None) => self.ask_up(&q).await,
                Err(_) => None,
            },
            Query::Staff { at, by, ask } => self.answer_staff(peer, at, by, ask.clone()).await,
            Query::Certificate { node, request_pem } => {
                // A link speaks for its own subtree only, and a revoked node
                // gets nothing.
                let for_node = federation::NodeId::new(node.clone()).ok()?;
                // (and only a child asks: never the parent, above this node)
                if !for_node.is_in_subtree_of(peer)
                    || self.id.is_in_subtree_of(peer)
                    || self.registry.is_revoked(node, "")
                {
                    tracing::warn!(%peer, %node, "refused a certificate request from outside the asking link's subtree");
                    return None;
                }
                match &self.ca {
                    None => self.ask_up(&q).await,
                    Some(ca) => match ca.sign_request(
                        request_pem,
                        &for_node,
                        self.config.federation.cert_days,
                    ) {
                        Ok(cert) => {
                            tracing::info!(%node, via = %peer, "signed a renewed certificate");
                            Some(cert)
                        }
                        Err(e) => {
                            tracing::warn!(%node, error = %e, "refused a certificate request");
                            None
                        }
                    },
                }
            }
        }
    }

    /// Renews this node's certificate over its uplink: makes a new key pair
    /// here, has the CA up the tree sign a request for it, checks what
    /// comes back (this node's name, the CA's signature, the new key) and
    /// replaces `node.crt` and `node.key` in the credentials folder. The
    /// caller presents the new certificate from then on.
    pub async fn renew_certificate(&self) -> Result<federation::NodeCredentials, String> {
        let dir = std::path::Path::new(&self.config.federation.credentials_dir);
        let current = federation::NodeCredentials::from_files(dir).map_err(|e| e.to_string())?;
        let request = federation::KeyRequest::generate(&self.id).map_err(|e| e.to_string())?;
        let q = Query::Certificate {
            node: self.id.to_string(),
            request_pem: request.request_pem.clone(),
        };
        let cert_pem = match &self.ca {
            // The node that holds the CA signs its own.
            Some(ca) => ca
                .sign_request(
                    &request.request_pem,
                    &self.id,
                    self.config.federation.cert_days,
                )
                .map_err(|e| e.to_string())?,
            None => self.ask_up(&q).await.ok_or(
                "no certificate came back (the link is down, or no CA up the tree signed it)",
            )?,
        };
        let info = federation::CertInfo::of_pem(&cert_pem).map_err(|e| e.to_string())?;
        if info.node.as_deref() != Some(self.id.as_str()) {
            return Err(format!(
                "the certificate that came back names {:?}",
                info.node
            ));
        }
        if !federation::signed_by(&cert_pem, &current.ca_pem).unwrap_or(false)
            || !federation::key_matches(&cert_pem, &request.key_pem).unwrap_or(false)
        {
            return Err("the certificate that came back is not the CA's for the new key".into());
        }
        let renewed = federation::NodeCredentials {
            node: self.id.clone(),
            cert_pem,
            key_pem: request.key_pem,
            ca_pem: current.ca_pem,
        };
        renewed.replace_files(dir).map_err(|e| e.to_string())?;
        self.uplink.set_certificate(info);
        Ok(renewed)
    }
}

/// The reason of an order of the district (a recall, a reopening, a
/// decision on an appeal, closing a hall): 1 to 500 characters, trimmed.
pub(crate) fn order_reason(reason: &str) -> Result<&str, crate::error::Error> {
    use crate::error::{Error, ErrorKind};
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::keyed(
            ErrorKind::Invalid,
            "empty_field",
            "err.empty_field.reason",
            &[],
        ));
    }
    if reason.chars().count() > 500 {
        return Err(Error::bad_request(
            "field_too_long",
            &[("field", &"reason"), ("max", &500)],
        ));
    }
    Ok(reason)
}
