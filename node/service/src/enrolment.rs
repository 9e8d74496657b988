//! Enrolment: a new hall's first certificate, against a one-time token
//! (see `federation::enrolment`). The node that holds the federation CA
//! issues tokens for any node below it and signs; any other node issues
//! tokens for its own children only, checks the hall's request against the
//! token itself and has the CA up the tree sign it over its uplink (the
//! question a renewal asks). A child enrolled at its parent is registered
//! there: the parent admits it on its links from then on, without a line
//! in its configuration.

use federation::enrolment::{EnrolmentToken, mac_matches};
use federation::{CertInfo, NodeId};

use crate::Node;
use crate::error::{Error, ErrorKind};

/// How long a token stays usable.
pub const TOKEN_HOURS: i64 = 24;

/// A token as its issuer hands it out.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct IssuedToken {
    /// The token's text, to give to the hall (once: it is not shown again).
    pub token: String,
    /// The node it enrols.
    pub node: String,
    /// Not usable from (ms since the epoch).
    pub expires_ms: i64,
}

/// A hall's enrolment request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The token's id (its second part).
    pub token_id: String,
    /// The node enrolling.
    pub node: String,
    /// Its signing request (PKCS#10 PEM), made with its own new key.
    pub request_pem: String,
    /// HMAC-SHA256 under the token's secret (hex) of `request_pem`, or,
    /// with a `document_key`, of `request_pem`, a newline and that key.
    pub mac: String,
    /// The hall's document key (Ed25519 public key, 64 hex characters),
    /// made by the hall; the root endorses it in its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_key: Option<String>,
}

impl EnrolRequest {
    /// The text the token's MAC covers.
    pub fn signed_text(&self) -> String {
        match &self.document_key {
            Some(k) => format!("{}\n{k}", self.request_pem),
            None => self.request_pem.clone(),
        }
    }
}

/// What an enrolled hall gets.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Enrolled {
    /// Its certificate (PEM).
    pub cert_pem: String,
    /// The federation CA's certificate (PEM).
    pub ca_pem: String,
    /// The root's endorsement of the hall's document key (hex), when the
    /// request carried one and the hall was enrolled at the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_key_endorsement: Option<String>,
}

fn no_ca() -> Error {
    Error::new(ErrorKind::Forbidden, "no_ca", &[])
}

fn bad_request(e: impl std::fmt::Display) -> Error {
    Error::bad_request("bad_signing_request", &[("problem", &e.to_string())])
}

impl Node {
    /// Issues a one-time token that enrols `node` (a node below this one)
    /// within [`TOKEN_HOURS`].
    pub async fn issue_enrolment_token(&self, node: &str, by: &str) -> Result<IssuedToken, Error> {
        let ca_pem = self.ca_certificate().ok_or_else(no_ca)?;
        // Below this node, and no deeper than the tree's tiers.
        let id = NodeId::new(node)
            .ok()
            .filter(|n| {
                n != &self.id
                    && n.is_in_subtree_of(&self.id)
                    && n.depth() < self.config.node.tiers.len()
            })
            .ok_or_else(|| Error::bad_request("bad_node_id", &[("node", &node)]))?;
        // Without the CA, for this node's own children only: it is their
        // parent that admits them.
        if self.ca.is_none() && id.parent().as_ref() != Some(&self.id) {
            return Err(Error::bad_request(
                "enrolment_not_a_child",
                &[("node", &node), ("here", &self.id.as_str())],
            ));
        }
        let ca_der = federation::identity::der_of_pem(&ca_pem).map_err(|_| no_ca())?;
        let token = EnrolmentToken::generate(&ca_der);
        let now = self.now_ms();
        let expires_ms = now + TOKEN_HOURS * 3_600_000;
        self.store
            .create_enrolment_token(&onewindow_store::TokenRow {
                token_id: token.id.clone(),
                node_id: node.to_owned(),
                secret: hex::encode(token.secret),
                created_ms: now,
                created_by: by.to_owned(),
                expires_ms,
                used_ms: None,
            })
            .await?;
        tracing::info!(%node, token = %token.id, %by, "issued an enrolment token");
        self.audit_by("node_registered", by, node, "enrolment token issued")
            .await;
        Ok(IssuedToken {
            token: token.to_string(),
            node: node.to_owned(),
            expires_ms,
        })
    }

    /// Signs a new hall's first certificate against its token: the MAC must
    /// be the token's over the request, the token for this node, unused
    /// and unexpired. Every refusal is a security event.
    pub async fn enrol(&self, r: &EnrolRequest, remote: Option<&str>) -> Result<Enrolled, Error> {
        let ca_pem = self.ca_certificate().ok_or_else(no_ca)?;
        let now = self.now_ms();
        let refuse = |code: &'static str, detail: String| async move {
            if let Err(e) = self
                .store
                .security_event(now, "enrolment_refused", Some(&r.node), remote, &detail)
                .await
            {
                tracing::error!(error = %e, "recording a security event");
            }
            Error::new(ErrorKind::Forbidden, code, &[])
        };
        let token = self.store.enrolment_token(r.token_id.trim()).await?;
        let Some(token) = token.filter(|t| {
            t.node_id == r.node
                && hex::decode(&t.secret).is_ok_and(|s| mac_matches(&s, &r.signed_text(), &r.mac))
        }) else {
            // The same answer for an unknown token, another node and a
            // wrong MAC: only the token's holder learns more.
            return Err(refuse(
                "enrolment_refused",
                format!("token {} did not match", r.token_id.trim()),
            )
            .await);
        };
        if token.used_ms.is_some() {
            return Err(refuse(
                "enrolment_token_used",
                format!("token {} used again", token.token_id),
            )
            .await);
        }
        if now >= token.expires_ms {
            return Err(refuse(
                "enrolment_token_expired",
                format!("token {} expired", token.token_id),
            )
            .await);
        }
        let node = NodeId::new(r.node.clone())
            .map_err(|_| Error::bad_request("bad_node_id", &[("node", &r.node)]))?;
        let document_key = match r.document_key.as_deref().map(str::trim) {
            None => None,
            Some(k) => match hex::decode(k) {
                Ok(b) if b.len() == 32 => Some(b),
                _ => return Err(Error::bad_request("bad_document_key", &[])),
            },
        };
        let cert_pem = match &self.ca {
            Some(ca) => ca
                .sign_request(&r.request_pem, &node, self.config.federation.cert_days)
                .map_err(bad_request)?,
            None => self.signed_above(&node, &r.request_pem, &ca_pem).await?,
        };
        let serial = CertInfo::of_pem(&cert_pem)
            .map(|c| c.serial)
            .unwrap_or_default();
        if !self
            .store
            .use_enrolment_token(&token.token_id, now, &serial)
            .await?
        {
            return Err(refuse(
                "enrolment_token_used",
                format!("token {} used again", token.token_id),
            )
            .await);
        }
        if node.parent().as_ref() == Some(&self.id) {
            self.registry.register(node.as_str());
        } else if self.ca.is_some() {
            // Enrolled here but linked below: its parent learns of it from
            // the root's signed announcement.
            self.announce_registration(&node, &token.created_by).await?;
        }
        tracing::info!(node = %r.node, token = %token.token_id, %serial, "enrolled a new hall");
        // The root endorses the hall's document key; a hall enrolled below
        // the root starts with its key not endorsed.
        let document_key_endorsement = match (&self.signer, &document_key) {
            (Some(root), Some(k)) => Some(hex::encode(root.sign_raw(
                &onewindow_domain::document::endorsement_text(node.as_str(), k),
            ))),
            _ => None,
        };
        Ok(Enrolled {
            cert_pem,
            ca_pem,
            document_key_endorsement,
        })
    }

    /// The federation CA's certificate: the CA's own here, or the one this
    /// node's credentials were issued under.
    fn ca_certificate(&self) -> Option<String> {
        if let Some(ca) = &self.ca {
            return Some(ca.cert_pem().to_owned());
        }
        let dir = &self.config.federation.credentials_dir;
        if dir.is_empty() {
            return None;
        }
        std::fs::read_to_string(std::path::Path::new(dir).join(federation::identity::CA_FILE)).ok()
    }

    /// Has the CA up the tree sign a child's request, and checks what comes
    /// back: the CA's signature, for that node, over the request's key.
    async fn signed_above(
        &self,
        node: &NodeId,
        request_pem: &str,
        ca_pem: &str,
    ) -> Result<String, Error> {
        // A request that names another node, or does not parse, is the
        // hall's mistake: said here rather than as the district's silence.
        let named = federation::KeyRequest::node_of(request_pem).map_err(bad_request)?;
        if named.as_ref() != Some(node) {
            return Err(bad_request(format!(
                "the request names {}, not {node}",
                named.map_or_else(|| "no node".to_owned(), |n| n.to_string())
            )));
        }
        let q = crate::directives::Query::Certificate {
            node: node.to_string(),
            request_pem: request_pem.to_owned(),
        };
        let Some(cert_pem) = self.ask_up(&q).await else {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "enrolment_no_uplink",
                &[],
            ));
        };
        let info = CertInfo::of_pem(&cert_pem).map_err(bad_request)?;
        if info.node.as_deref() != Some(node.as_str())
            || !federation::signed_by(&cert_pem, ca_pem).unwrap_or(false)
            || !federation::identity::request_key_matches(&cert_pem, request_pem).unwrap_or(false)
        {
            tracing::error!(%node, "the certificate that came down is not the CA's for the request");
            return Err(Error::new(
                ErrorKind::Unavailable,
                "enrolment_no_uplink",
                &[],
            ));
        }
        Ok(cert_pem)
    }
}
