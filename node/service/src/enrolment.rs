//! Enrolment: a new hall's first certificate, against a one-time token
//! (see `federation::enrolment`). Only the node that holds the federation
//! CA issues tokens and signs.

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
    /// HMAC-SHA256 of `request_pem` under the token's secret (hex).
    pub mac: String,
}

/// What an enrolled hall gets.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Enrolled {
    /// Its certificate (PEM).
    pub cert_pem: String,
    /// The federation CA's certificate (PEM).
    pub ca_pem: String,
}

fn no_ca() -> Error {
    Error::new(ErrorKind::Forbidden, "no_ca", &[])
}

impl Node {
    /// Issues a one-time token that enrols `node` (a node below this one)
    /// within [`TOKEN_HOURS`].
    pub async fn issue_enrolment_token(&self, node: &str, by: &str) -> Result<IssuedToken, Error> {
        let ca = self.ca.as_ref().ok_or_else(no_ca)?;
        // Below this node, and no deeper than the tree's tiers.
        let below = NodeId::new(node).is_ok_and(|n| {
            n != self.id && n.is_in_subtree_of(&self.id) && n.depth() < self.config.node.tiers.len()
        });
        if !below {
            return Err(Error::bad_request("bad_node_id", &[("node", &node)]));
        }
        let ca_der = federation::identity::der_of_pem(ca.cert_pem()).map_err(|_| no_ca())?;
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
        let ca = self.ca.as_ref().ok_or_else(no_ca)?;
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
                && hex::decode(&t.secret).is_ok_and(|s| mac_matches(&s, &r.request_pem, &r.mac))
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
        let cert_pem = ca
            .sign_request(&r.request_pem, &node, self.config.federation.cert_days)
            .map_err(|e| {
                Error::bad_request("bad_signing_request", &[("problem", &e.to_string())])
            })?;
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
        tracing::info!(node = %r.node, token = %token.token_id, %serial, "enrolled a new hall");
        Ok(Enrolled {
            cert_pem,
            ca_pem: ca.cert_pem().to_owned(),
        })
    }
}
