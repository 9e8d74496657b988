//! Files of materials: kept under the data folder by the SHA-256 of their
//! content, attached to a case by an event that carries the hash, and
//! shown only to this hall's staff, looked up from the case's events.
//!
//! An upload is checked before anything is kept: at most `[node]
//! upload_max_bytes`, and a JPEG, PNG or PDF by its first bytes
//! ([`onewindow_domain::attachment::sniff`]); a type the sender declares
//! must be the one the content shows (`upload_type_mismatch`). A file's
//! place is `files/<first two hex digits>/<hash>` under `[node] data_dir`,
//! made from the hash computed here, never from a name or path in the
//! request. A file is written to a temporary name, synced and renamed, so
//! a file under its hash is always whole; the same content sent twice is
//! kept once.

use std::path::PathBuf;

use onewindow_domain::attachment::{self, Attachment, ContentType, Source};
use onewindow_domain::case::{Event, Role};
use onewindow_domain::case_number::CaseNumber;

use crate::Node;
use crate::error::{Error, ErrorKind};
use crate::views::CaseView;

/// A file as it arrives: what material it shows, the type the sender
/// declared (a media type, if any) and its bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The material's code in the matter's checklist.
    pub material: String,
    /// The media type the sender declared (`None`, or
    /// `application/octet-stream`, declares nothing).
    pub declared: Option<String>,
    /// The content.
    pub bytes: Vec<u8>,
}

/// An upload that passed the checks: its hash, size and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// SHA-256, hex.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
    /// The type its content shows.
    pub content_type: ContentType,
}

/// A file read back for staff.
#[derive(Debug, Clone)]
pub struct FileContent {
    /// The type, as the case's event records it.
    pub content_type: ContentType,
    /// The content.
    pub bytes: Vec<u8>,
}

/// The roles that may see a case's files at this hall.
const STAFF: [Role; 3] = [Role::Clerk, Role::Approver, Role::Supervisor];

impl Node {
    /// The folder that holds the hall's files.
    pub(crate) fn files_dir(&self) -> PathBuf {
        self.config.node.data_dir.join("files")
    }

    /// Where the file of `hash` is kept (`hash` checked to be a SHA-256 in
    /// hex first, so it can name nothing else).
    pub(crate) fn file_path(&self, hash: &str) -> Option<PathBuf> {
        attachment::is_hash(hash).then(|| self.files_dir().join(&hash[..2]).join(hash))
    }

    /// Checks an upload's size and type; nothing is kept.
    pub fn check_upload(&self, u: &Upload) -> Result<Checked, Error> {
        use sha2::{Digest, Sha256};
        let max = self.config.node.upload_max_bytes;
        let size = u64::try_from(u.bytes.len()).unwrap_or(u64::MAX);
        if size > max {
            return Err(
                Error::new(ErrorKind::TooLarge, "upload_too_large", &[("max", &max)])
                    .on_field("file"),
            );
        }
        let Some(content_type) = attachment::sniff(&u.bytes) else {
            return Err(
                Error::new(ErrorKind::Unprocessable, "upload_type_refused", &[]).on_field("file"),
            );
        };
        if let Some(declared) = u.declared.as_deref().map(str::trim)
            && !declared.is_empty()
            && !declared.eq_ignore_ascii_case("application/octet-stream")
            && ContentType::from_mime(declared) != Some(content_type)
        {
            let declared: String = declared.chars().take(60).collect();
            return Err(Error::new(
                ErrorKind::Unprocessable,
                "upload_type_mismatch",
                &[("declared", &declared), ("actual", &content_type.mime())],
            )
            .on_field("file"));
        }
        Ok(Checked {
            hash: hex::encode(Sha256::digest(&u.bytes)),
            size,
            content_type,
        })
    }

    /// Keeps a checked upload's bytes under its hash (once: the same
    /// content is kept already).
    pub(crate) async fn keep_file(&self, checked: &Checked, bytes: &[u8]) -> Result<(), Error> {
        use tokio::io::AsyncWriteExt;
        let path = self
            .file_path(&checked.hash)
            .ok_or_else(|| Error::storage(&"a file hash that is not a SHA-256"))?;
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let dir = path
            .parent()
            .ok_or_else(|| Error::storage(&"a file path without a folder"))?;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::storage(&e))?;
        let tmp = dir.join(format!(".{}.{:016x}", checked.hash, rand::random::<u64>()));
        let written = async {
            let mut f = tokio::fs::File::create(&tmp).await?;
            f.write_all(bytes).await?;
            f.sync_all().await?;
            drop(f);
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(Error::storage(&e));
        }
        Ok(())
    }

    /// Reads a kept file, checking that its content still has its hash;
    /// `attachment_not_here` when this hall does not keep it.
    pub(crate) async fn read_file(&self, hash: &str) -> Result<Vec<u8>, Error> {
        use sha2::{Digest, Sha256};
        let path = self.file_path(hash).ok_or_else(not_attached)?;
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::not_found("attachment_not_here", &[]));
            }
            Err(e) => return Err(Error::storage(&e)),
        };
        if hex::encode(Sha256::digest(&bytes)) != hash {
            return Err(Error::storage(&format!(
                "the file {hash} does not match its hash"
            )));
        }
        Ok(bytes)
    }

    /// The clerk attaches a scan (or a file) of one of the case's
    /// materials at the window: the file is checked, kept, and the case's
    /// `attached` event records its hash, size, type and material. Only the
    /// hall that holds the case writes it; nothing is kept when the case
    /// refuses the event.
    pub async fn attach(
        &self,
        username: &str,
        role: Role,
        number: &str,
        upload: Upload,
    ) -> Result<CaseView, Error> {
        if role != Role::Clerk {
            return Err(Error::forbidden("action.attach"));
        }
        let number = CaseNumber::parse(number)?.to_string();
        let checked = self.check_upload(&upload)?;
        let case = self
            .store
            .case(&number)
            .await?
            .ok_or_else(|| crate::cases::case_not_found(&number))?
            .case;
        let material = upload.material.trim();
        let known = self
            .catalogue()
            .matter(&case.received.matter_code)
            .is_some_and(|m| m.materials.iter().any(|x| x.code == material));
        if !known {
            return Err(
                Error::bad_request("unknown_material", &[("code", &material)]).on_field("material"),
            );
        }
        let event = Event::Attached(Box::new(Attachment {
            material: material.to_owned(),
            hash: checked.hash.clone(),
            size: checked.size,
            content_type: checked.content_type,
            source: Source::Scan,
        }));
        // The case's own checks first (holder, state), on a copy: a file
        // the case will not take is not kept.
        if case.holder.as_deref() != Some(self.id.as_str()) {
            return Err(Error::new(ErrorKind::Conflict, "not_holder", &[]));
        }
        let mut probe = case.clone();
        probe.apply(&onewindow_domain::case::EventRecord {
            case_id: number.clone(),
            case_version: case.version + 1,
            actor: self.actor(username, role, None),
            at_ms: self.now_ms(),
            event: event.clone(),
        })?;
        self.keep_file(&checked, &upload.bytes).await?;
        self.write_event_as(&number, self.actor(username, role, None), event)
            .await
    }

    /// A case's file, for this hall's staff: looked up by its hash among
    /// the case's `attached` events (`attachment_not_found` otherwise),
    /// then read from this hall's files (`attachment_not_here` when the
    /// case's file was attached at another hall and is not kept here).
    pub async fn case_file(
        &self,
        role: Role,
        number: &str,
        hash: &str,
    ) -> Result<FileContent, Error> {
        if !STAFF.contains(&role) {
            return Err(Error::forbidden("action.view_files"));
        }
        let number = CaseNumber::parse(number)?.to_string();
        let case = self
            .store
            .case(&number)
            .await?
            .ok_or_else(|| crate::cases::case_not_found(&number))?
            .case;
        let a = case
            .attachments
            .iter()
            .find(|a| a.hash == hash)
            .ok_or_else(not_attached)?;
        let bytes = match self.read_file(&a.hash).await {
            Err(e) if e.code == "attachment_not_here" => {
                // Attached at another hall that handles the case: fetched
                // from it (resuming what came before), then read here.
                let at = self.attached_at(&number, &a.hash).await?;
                self.fetch_file(&number, &a.hash, &at).await?;
                self.read_file(&a.hash).await?
            }
            other => other?,
        };
        Ok(FileContent {
            content_type: a.content_type,
            bytes,
        })
    }

    /// The hall that attached the file `hash` to case `number` (the one
    /// that keeps it).
    async fn attached_at(&self, number: &str, hash: &str) -> Result<String, Error> {
        let events = self
            .store
            .case_events(number)
            .await
            .map_err(|e| Error::storage(&e))?;
        events
            .iter()
            .filter_map(|e| e.record())
            .find(|r| matches!(&r.event, Event::Attached(a) if a.hash == hash))
            .map(|r| r.actor.node.clone())
            .ok_or_else(not_attached)
    }
}

/// No such file in what was named.
pub(crate) fn not_attached() -> Error {
    Error::not_found("attachment_not_found", &[])
}
