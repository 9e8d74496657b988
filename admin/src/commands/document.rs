//! `document verify`: checks a printed document's seal offline, with
//! nothing but the federation root's public key (no node is asked).

use clap::Subcommand;
use onewindow_domain::document::{Seal, SealError};

use crate::output::{Coded, Output, fields};
use onewindow_client::Client;

/// Issued documents.
#[derive(Debug, Subcommand)]
pub enum DocumentCommand {
    /// Checks a document's seal offline: the root endorsed the issuing
    /// hall's key, and that key signed the case number, kind, day, hall and
    /// content hash. Give the QR code's link or the code printed under it.
    /// Exits with 1 unless the seal is authentic.
    Verify {
        /// The QR code's link (`…/verify?d=…`) or the seal itself.
        seal: String,
        /// The federation root's public key (hex), as in every node's
        /// `[federation] root_public_key`.
        #[arg(long, env = "ONEWINDOW_ROOT_PUBLIC_KEY")]
        root_key: String,
    },
}

impl DocumentCommand {
    /// No login: the check is made here.
    pub fn needs_login(&self) -> bool {
        false
    }

    /// Runs the command.
    pub async fn run(self, _api: &Client, out: Output) -> anyhow::Result<()> {
        match self {
            Self::Verify { seal, root_key } => verify(&seal, &root_key, out),
        }
    }
}

/// The seal of a link or the seal itself.
fn seal_text(s: &str) -> &str {
    let s = s.trim();
    match s.split_once("?d=").or_else(|| s.split_once("&d=")) {
        Some((_, rest)) => rest.split('&').next().unwrap_or_default(),
        None => s,
    }
}

fn verify(seal: &str, root_key: &str, out: Output) -> anyhow::Result<()> {
    let root = hex::decode(root_key.trim())
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or_else(|| {
            Coded::new(
                "bad_root_key",
                "--root-key must be the root's Ed25519 public key: 64 hexadecimal characters",
            )
        })?;
    let parsed = Seal::decode(seal_text(seal));
    let verdict = match &parsed {
        Err(_) => "malformed",
        Ok(s) => match s.verify(&root) {
            Ok(()) => "authentic",
            Err(SealError::Malformed) => "malformed",
            Err(SealError::NotEndorsed) => "not_endorsed",
            Err(SealError::BadSignature) => "altered",
        },
    };
    let s = parsed.as_ref().ok();
    if out.json {
        out.print_json(&serde_json::json!({
            "verdict": verdict,
            "authentic": verdict == "authentic",
            "case_number": s.map(|s| s.case_id.clone()),
            "kind": s.map(|s| s.kind.as_str()),
            "issued_on": s.map(|s| s.issued_on.format("%Y-%m-%d").to_string()),
            "issued_by": s.map(|s| s.node.clone()),
            "content_hash": s.map(|s| hex::encode(&s.hash)),
        }));
    } else {
        let mut rows = vec![("verdict", verdict.to_owned())];
        if let Some(s) = s {
            rows.push(("case", s.case_id.clone()));
            rows.push(("document", s.kind.as_str().to_owned()));
            rows.push(("issued on", s.issued_on.format("%Y-%m-%d").to_string()));
            rows.push(("issued by", s.node.clone()));
            rows.push(("content hash", hex::encode(&s.hash)));
        }
        println!("{}", fields(&rows));
    }
    match verdict {
        "authentic" => Ok(()),
        "malformed" => Err(Coded::new("seal_malformed", "this is not a document's seal").into()),
        "not_endorsed" => Err(Coded::new(
            "seal_not_endorsed",
            "the signing key is not endorsed by this root: not a document of this federation",
        )
        .into()),
        _ => Err(Coded::new(
            "seal_altered",
            "the signature does not match: the document was altered or forged",
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_gives_its_seal() {
        assert_eq!(seal_text("http://h:1/verify?d=AbC-_"), "AbC-_");
        assert_eq!(seal_text(" http://h/verify?x=1&d=QQ&y=2 "), "QQ");
        assert_eq!(seal_text("QQ"), "QQ");
    }
}
