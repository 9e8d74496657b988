//! Documents as records: rendered once when issued, hashed, signed by the
//! issuing hall and written to the case's log ([`Event::DocumentIssued`]),
//! then shown from that record at every hall; and the check of a document's
//! seal (the QR code) for the public verify page.
//!
//! A hall's document key is its own Ed25519 key (`[node]
//! document_key_file`, or `document.key` in the data folder, made at first
//! start). The root endorses it by signing
//! [`onewindow_domain::document::endorsement_text`] (at the root itself on
//! start; for other halls `onewindow-deploy topology bundle` writes the
//! endorsement into the hall's configuration). A seal therefore checks with
//! nothing but the root's public key, which every hall and every offline
//! verifier holds.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use crate::Node;
use crate::config::Config;
use crate::error::Error;
use crate::signing::Signer;
use crate::views::Document;
pub use crate::views::acceptance_kind;
use onewindow_domain::case::{Actor, Case, Event, EventRecord, State};
use onewindow_domain::document::{
    DocKind, IssuedDocument, Seal, SealError, content_hash, endorsement_text,
};

/// File name of a hall's document key in its data folder (when
/// `[node] document_key_file` is empty).
pub const DOCUMENT_KEY_FILE: &str = "document.key";
/// File name of the root's endorsement of that key in the data folder, as
/// `onewindow-node enrol` writes it (when `[node] document_key_endorsement`
/// is empty).
pub const ENDORSEMENT_FILE: &str = "document.endorsement";

/// The key with which a hall signs the documents it issues.
pub struct DocumentKey {
    signer: Signer,
    public: Vec<u8>,
    endorsement: Vec<u8>,
}

impl std::fmt::Debug for DocumentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentKey")
            .field("public", &hex::encode(&self.public))
            .field("endorsed", &!self.endorsement.is_empty())
            .finish()
    }
}

impl DocumentKey {
    /// Reads the hall's key (making it at first start when it lives in
    /// the data folder) and its endorsement; `root` is the root's signing
    /// key where this node is the root.
    pub fn load(config: &Config, root: Option<&Signer>) -> anyhow::Result<Self> {
        let node = config.node.id.as_str();
        let (signer, file) = Self::signer(config)?;
        let public = signer.public_bytes();
        let kept = std::fs::read_to_string(config.node.data_dir.join(ENDORSEMENT_FILE))
            .unwrap_or_default();
        let configured = match config.node.document_key_endorsement.trim() {
            "" => kept.trim(),
            e => e,
        };
        let endorsement = match (configured, root) {
            ("", Some(root)) => root.sign_raw(&endorsement_text(node, &public)),
            ("", None) => Vec::new(),
            (hex_text, _) => {
                hex::decode(hex_text).context("[node] document_key_endorsement is not hex")?
            }
        };
        let root_key = hex::decode(config.federation.root_public_key.trim()).unwrap_or_default();
        if endorsement.is_empty() {
            tracing::warn!(
                "this hall's document key is not endorsed by the root: its documents are signed, but verifiers report the key as not endorsed"
            );
        } else if !root_key.is_empty()
            && ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &root_key)
                .verify(&endorsement_text(node, &public), &endorsement)
                .is_err()
        {
            anyhow::bail!(
                "[node] document_key_endorsement does not endorse the key in {} for {node} under the root's public key",
                file.display()
            );
        }
        Ok(Self {
            signer,
            public,
            endorsement,
        })
    }

    /// The hall's document key (made at first use when it lives in the
    /// data folder) and the file it is in.
    pub fn signer(config: &Config) -> anyhow::Result<(Signer, PathBuf)> {
        let file = if config.node.document_key_file.is_empty() {
            let f = config.node.data_dir.join(DOCUMENT_KEY_FILE);
            if !f.exists() {
                make_key(&f)?;
                tracing::info!(file = %f.display(), "made this hall's document key");
            }
            f
        } else {
            PathBuf::from(&config.node.document_key_file)
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading the document key {}", file.display()))?;
        let signer = Signer::from_hex(&text)
            .with_context(|| format!("the document key {}", file.display()))?;
        Ok((signer, file))
    }

    /// Signs `message` with the hall's document key (a rating link's key,
    /// [`Node::rating_key`]).
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signer.sign_raw(message)
    }

    /// Is the key endorsed by the root?
    pub fn endorsed(&self) -> bool {
        !self.endorsement.is_empty()
    }

    /// The public key.
    pub fn public(&self) -> &[u8] {
        &self.public
    }
}

fn make_key(file: &std::path::Path) -> anyhow::Result<()> {
    let (private, _) = crate::signing::generate()?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(file)
        .with_context(|| format!("making {}", file.display()))?;
    std::io::Write::write_all(&mut f, private.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// A document as stored in a case's log, ready to show.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Issued {
    /// The case version of the record.
    pub version: u64,
    /// The hall that issued it.
    pub node: String,
    /// Its content as issued.
    pub document: Document,
    /// The record: hash, key, endorsement, signature.
    #[schema(value_type = Object)]
    pub record: IssuedDocument,
    /// The seal (the QR code's `d`).
    pub seal: String,
    /// The link the QR code holds.
    pub verify_url: String,
}

/// What a seal check found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// `authentic`, `altered` (the signature does not match), `not_endorsed`
    /// (not signed by a hall of this federation), `not_in_record` (signed,
    /// but this hall's record of the case holds no such document),
    /// `malformed` (not a seal).
    pub verdict: String,
    /// Whether the document is authentic as far as this hall can tell.
    pub authentic: bool,
    /// Case number (when the seal reads).
    pub case_number: Option<String>,
    /// Which document.
    pub kind: Option<DocKind>,
    /// Day of issue.
    pub issued_on: Option<String>,
    /// The issuing hall's node id.
    pub issued_by: Option<String>,
    /// Its name (Chinese), where known.
    pub hall_zh: Option<String>,
    /// Its name (English), where known.
    pub hall_en: Option<String>,
    /// Whether this hall holds the case's record.
    pub held_here: bool,
    /// What this hall's record says (when held and found): the document's
    /// title, matter and the applicant's name with all but its first
    /// character hidden.
    pub title_zh: Option<String>,
    /// The title in English.
    pub title_en: Option<String>,
    /// Matter (Chinese).
    pub matter_zh: Option<String>,
    /// Matter (English).
    pub matter_en: Option<String>,
    /// The applicant's name, masked.
    pub applicant: Option<String>,
    /// The case's state now.
    pub state: Option<State>,
}

impl Verification {
    fn of(verdict: &str, seal: Option<&Seal>) -> Self {
        Self {
            verdict: verdict.to_owned(),
            authentic: verdict == "authentic",
            case_number: seal.map(|s| s.case_id.clone()),
            kind: seal.map(|s| s.kind),
            issued_on: seal.map(|s| s.issued_on.format("%Y-%m-%d").to_string()),
            issued_by: seal.map(|s| s.node.clone()),
            hall_zh: None,
            hall_en: None,
            held_here: false,
            title_zh: None,
            title_en: None,
            matter_zh: None,
            matter_en: None,
            applicant: None,
            state: None,
        }
    }
}

/// A name with all but its first character hidden.
pub fn masked_name(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(first) => std::iter::once(first).chain(c.map(|_| '*')).collect(),
        None => String::new(),
    }
}

impl Node {
    /// The base of the links in this hall's QR codes.
    pub fn public_url(&self) -> String {
        let u = self.config.node.public_url.trim().trim_end_matches('/');
        if u.is_empty() {
            let addr = self
                .http_addr
                .get()
                .copied()
                .unwrap_or(self.config.http.listen);
            format!("http://{addr}")
        } else {
            u.to_owned()
        }
    }

    /// Issues a document of `kind` for `case`: renders its content from
    /// `shown` (the case as the document describes it: `case` with the
    /// records still to come after this one, such as an escalation),
    /// hashes and signs it, and applies the record to `case`.
    pub(crate) fn issue_document(
        &self,
        case: &mut Case,
        shown: &Case,
        kind: DocKind,
        actor: &Actor,
        at_ms: i64,
    ) -> Result<(EventRecord, Document), Error> {
        let mut row = self.case_row(shown);
        row.updated_at_ms = at_ms;
        let mut document = self.document_of(&row, kind);
        document.verify_base = self.public_url();
        // What the applicant takes home from the window carries the
        // case's rating link, in the sealed content: the same at every hall.
        if matches!(kind, DocKind::Receipt | DocKind::Completion)
            && case.window() == self.id.as_str()
        {
            document.rate_url = self.rating_link(&case.id);
        }
        let content = serde_json::to_string(&document).map_err(|e| Error::storage(&e))?;
        let issued_on = onewindow_domain::case::china_date(at_ms);
        let hash = content_hash(&content);
        let mut record = IssuedDocument {
            kind,
            issued_on,
            content,
            hash,
            key: self.document_key.public.clone(),
            endorsement: self.document_key.endorsement.clone(),
            signature: Vec::new(),
        };
        let seal = record.seal(&case.id, self.id.as_str());
        record.signature = self.document_key.signer.sign_raw(&seal.signed_part());
        let rec = EventRecord {
            case_id: case.id.clone(),
            case_version: case.version + 1,
            actor: actor.clone(),
            at_ms,
            event: Event::DocumentIssued {
                document: Box::new(record),
            },
        };
        case.apply(&rec)?;
        Ok((rec, document))
    }

    /// A case's records held here, in order: its stored events, and the
    /// records a handover or a crossing carries that are not stored here
    /// (the window of a cross-district case holds the deciding branch's
    /// records only inside the crossing that brought its result back).
    pub async fn case_records(&self, number: &str) -> Result<Vec<EventRecord>, Error> {
        let events = self.store.case_events(number).await?;
        let mut by_version: std::collections::BTreeMap<u64, EventRecord> =
            std::collections::BTreeMap::new();
        for rec in events.iter().filter_map(|e| e.record()) {
            for carried in rec.event.carried().unwrap_or_default() {
                by_version
                    .entry(carried.case_version)
                    .or_insert_with(|| carried.clone());
            }
            by_version.insert(rec.case_version, rec.clone());
        }
        Ok(by_version.into_values().collect())
    }

    /// The documents issued for a case, as held here, in order.
    pub async fn issued_documents(&self, number: &str) -> Result<Vec<Issued>, Error> {
        let records = self.case_records(number).await?;
        Ok(records
            .iter()
            .filter_map(|rec| match &rec.event {
                Event::DocumentIssued { document } => {
                    Some(self.issued_of(rec, &rec.actor.node, document))
                }
                _ => None,
            })
            .collect())
    }

    /// One stored document by its case version.
    pub async fn issued_document(&self, number: &str, version: u64) -> Result<Issued, Error> {
        self.issued_documents(number)
            .await?
            .into_iter()
            .find(|d| d.version == version)
            .ok_or_else(|| {
                Error::not_found(
                    "document_not_found",
                    &[("number", &number), ("version", &version)],
                )
            })
    }

    fn issued_of(&self, rec: &EventRecord, node: &str, d: &IssuedDocument) -> Issued {
        let document = serde_json::from_str::<Document>(&d.content).unwrap_or_else(|_| {
            // A withheld personal section leaves the content empty: the
            // record still proves the document through its hash.
            let mut x = Document::withheld(d.kind, &rec.case_id);
            x.issued_on = d.issued_on.format("%Y-%m-%d").to_string();
            x
        });
        let seal = d.seal(&rec.case_id, node).encode();
        let base = if document.verify_base.is_empty() {
            self.public_url()
        } else {
            document.verify_base.clone()
        };
        Issued {
            version: rec.case_version,
            node: node.to_owned(),
            verify_url: format!("{base}/verify?d={seal}"),
            document,
            record: d.clone(),
            seal,
        }
    }

    /// Checks a seal: its signatures under the root's key, then this
    /// hall's record of the case, where it holds one.
    pub async fn verify_seal(&self, text: &str) -> Result<Verification, Error> {
        let Ok(seal) = Seal::decode(text) else {
            return Ok(Verification::of("malformed", None));
        };
        let root = hex::decode(self.config.federation.root_public_key.trim()).unwrap_or_default();
        let checked = if root.is_empty() {
            seal.verify_signature()
        } else {
            seal.verify(&root)
        };
        match checked {
            Ok(()) => {}
            Err(SealError::Malformed) => return Ok(Verification::of("malformed", None)),
            Err(SealError::NotEndorsed) => {
                return Ok(Verification::of("not_endorsed", Some(&seal)));
            }
            Err(SealError::BadSignature) => return Ok(Verification::of("altered", Some(&seal))),
        }
        let mut v = Verification::of("authentic", Some(&seal));
        let names = self.hall_names();
        if let Some((zh, en)) = names.get(&seal.node) {
            v.hall_zh = Some(zh.clone());
            v.hall_en = Some(en.clone());
        }
        let Some(row) = self.store.case(&seal.case_id).await? else {
            return Ok(v);
        };
        v.held_here = true;
        v.state = Some(row.case.state);
        let found = self
            .issued_documents(&seal.case_id)
            .await?
            .into_iter()
            .find(|d| {
                d.record.hash == seal.hash && d.node == seal.node && d.record.kind == seal.kind
            });
        match found {
            Some(d) if d.record.content_intact() || d.record.content.is_empty() => {
                v.title_zh = Some(d.document.title_zh.clone());
                v.title_en = Some(d.document.title_en.clone());
                v.matter_zh = Some(d.document.matter_zh.clone());
                v.matter_en = Some(d.document.matter_en.clone());
                v.applicant = Some(masked_name(&d.document.applicant_name));
                if v.hall_zh.is_none() {
                    v.hall_zh = Some(d.document.hall_zh.clone());
                    v.hall_en = Some(d.document.hall_en.clone());
                }
            }
            _ => {
                v.verdict = "not_in_record".to_owned();
                v.authentic = false;
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked_but_for_the_first_character() {
        assert_eq!(masked_name("张三丰"), "张**");
        assert_eq!(masked_name("Li"), "L*");
        assert_eq!(masked_name(""), "");
    }

    #[test]
    fn acceptance_decisions_issue_their_documents() {
        assert_eq!(
            acceptance_kind(State::Correction),
            DocKind::CorrectionNotice
        );
        assert_eq!(acceptance_kind(State::Rejected), DocKind::NonAcceptance);
        assert_eq!(acceptance_kind(State::Completed), DocKind::Completion);
        assert_eq!(acceptance_kind(State::Accepted), DocKind::Receipt);
    }
}
