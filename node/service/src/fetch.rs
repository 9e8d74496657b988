//! A case's files fetched from the hall that keeps them.
//!
//! A file attached to a case is kept by the hall that attached it; its
//! events carry the hash, and they travel the tree like every case event,
//! but the file does not. A hall that handles the case and lacks the file
//! asks for it piece by piece ([`FileAsk`], a link question): the question
//! goes up the tree until it reaches an ancestor of the keeping hall, then
//! down to that hall, and each piece comes back the same way. The halls in
//! between pass the pieces on and keep nothing.
//!
//! A fetch is resumable: the pieces already received are kept in
//! `files/partial/<hash>` (synced after each piece), and the next attempt,
//! after a link failure or a restart, asks from where that file ends. The
//! whole file is checked against its hash before it is put in its place;
//! a file that does not match is thrown away and fetched anew.
//!
//! The keeping hall answers only for a case whose events attach that hash,
//! and only to a hall that handles the case (it wrote one of its events,
//! holds it, or had it transferred to it). A link speaks only for its own
//! subtree: a child asks for halls below it, a parent for halls outside
//! the child's subtree.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use onewindow_domain::attachment;
use onewindow_domain::case::Event;
use onewindow_domain::log::LogBody;
use serde::{Deserialize, Serialize};

use crate::Node;
use crate::error::{Error, ErrorKind};

/// The largest piece asked for at once: its answer (in base64, in JSON)
/// stays under the link's bound on an answer (64 KiB).
pub const PIECE: usize = 32 * 1024;

/// A question for a piece of a case's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAsk {
    /// The case the file belongs to.
    pub case_id: String,
    /// The file's SHA-256 (hex).
    pub hash: String,
    /// The hall that keeps it.
    pub at: String,
    /// The hall that asks.
    pub by: String,
    /// Where the piece starts.
    pub offset: u64,
}

/// A piece of a file, in answer to a [`FileAsk`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePiece {
    /// The whole file's size.
    pub size: u64,
    /// Where this piece starts.
    pub offset: u64,
    /// Its bytes, in base64.
    pub data: String,
}

impl Node {
    /// Where the pieces of `hash` received so far are kept.
    fn partial_file(&self, hash: &str) -> Option<PathBuf> {
        attachment::is_hash(hash).then(|| self.files_dir().join("partial").join(hash))
    }

    /// Passes a question for a piece towards the hall that keeps the file:
    /// down when that hall is below this one, up otherwise (never back up
    /// what came from the parent).
    pub(crate) async fn ask_for_piece(&self, ask: &FileAsk, from_parent: bool) -> Option<String> {
        self.ask_towards(&ask.at, &crate::Query::File(ask.clone()), from_parent)
            .await
    }

    /// Answers a question for a piece from `peer`: from this hall's own
    /// files when it keeps the file, or passed on towards the hall that
    /// does. `None` is the refusal (outside the link's subtree, a case
    /// that does not attach the file, a hall that does not handle it).
    pub(crate) async fn answer_file(
        &self,
        peer: &federation::NodeId,
        from_parent: bool,
        ask: &FileAsk,
    ) -> Option<String> {
        let by = federation::NodeId::new(ask.by.clone()).ok()?;
        federation::NodeId::new(ask.at.clone()).ok()?;
        if !self.speaks_for(peer, &by, from_parent) || !attachment::is_hash(&ask.hash) {
            tracing::warn!(%peer, by = %ask.by, case = %ask.case_id,
                "refused a question for a file outside the asking link's subtree");
            return None;
        }
        if ask.at != self.id.as_str() {
            return self.ask_for_piece(ask, from_parent).await;
        }
        match self.piece_for(ask).await {
            Ok(piece) => serde_json::to_string(&piece).ok(),
            Err(e) => {
                tracing::warn!(%peer, by = %ask.by, case = %ask.case_id, hash = %ask.hash,
                    code = e.code, "refused a question for a file");
                None
            }
        }
    }

    /// A piece of a file this hall keeps, for a hall that handles its case.
    async fn piece_for(&self, ask: &FileAsk) -> Result<FilePiece, Error> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let refused = || Error::not_found("attachment_not_here", &[]);
        let events = self
            .store
            .case_events(&ask.case_id)
            .await
            .map_err(|e| Error::storage(&e))?;
        let mut attaches = false;
        let mut handles = false;
        for e in &events {
            let LogBody::Case(rec) = &e.body else {
                continue;
            };
            handles |= rec.actor.node == ask.by;
            match &rec.event {
                Event::Transferred { to, .. } => handles |= *to == ask.by,
                Event::HandedOver { to, holder, .. } => {
                    handles |= *to == ask.by || *holder == ask.by;
                }
                Event::Crossed { holder, .. } => handles |= *holder == ask.by,
                _ => {}
            }
            attaches |= matches!(&rec.event, Event::Attached(a) if a.hash == ask.hash);
        }
        if !(attaches && handles) {
            return Err(refused());
        }
        let path = self.file_path(&ask.hash).ok_or_else(refused)?;
        let mut f = tokio::fs::File::open(&path).await.map_err(|_| refused())?;
        let size = f.metadata().await.map_err(|e| Error::storage(&e))?.len();
        if ask.offset >= size {
            return Err(Error::new(
                ErrorKind::Invalid,
                "file_offset_beyond_end",
                &[("size", &size)],
            ));
        }
        f.seek(std::io::SeekFrom::Start(ask.offset))
            .await
            .map_err(|e| Error::storage(&e))?;
        let want = usize::try_from(size - ask.offset).map_or(PIECE, |n| n.min(PIECE));
        let mut buf = vec![0u8; want];
        f.read_exact(&mut buf)
            .await
            .map_err(|e| Error::storage(&e))?;
        Ok(FilePiece {
            size,
            offset: ask.offset,
            data: B64.encode(&buf),
        })
    }

    /// Fetches the file `hash` of case `case_id` from the hall `at` that
    /// keeps it, resuming from the pieces received before; the file is in
    /// its place when this returns `Ok`. `attachment_unreachable` when a
    /// piece does not come (the link is down, or the keeping hall
    /// refused); what came so far is kept for the next attempt.
    pub async fn fetch_file(&self, case_id: &str, hash: &str, at: &str) -> Result<(), Error> {
        use sha2::{Digest, Sha256};
        use tokio::io::AsyncWriteExt;
        let unreachable = || Error::new(ErrorKind::Unavailable, "attachment_unreachable", &[]);
        let (Some(partial), Some(place)) = (self.partial_file(hash), self.file_path(hash)) else {
            return Err(Error::not_found("attachment_not_here", &[]));
        };
        // One fetch at a time at a hall: two staff opening the same scan
        // wait for one fetch.
        let _one = self.fetching.lock().await;
        if tokio::fs::try_exists(&place).await.unwrap_or(false) {
            return Ok(());
        }
        for dir in [partial.parent(), place.parent()].into_iter().flatten() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::storage(&e))?;
        }
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .await
            .map_err(|e| Error::storage(&e))?;
        let mut offset = f.metadata().await.map_err(|e| Error::storage(&e))?.len();
        if offset > 0 {
            tracing::info!(case = %case_id, %hash, offset, "resuming a file's fetch");
        }
        loop {
            let ask = FileAsk {
                case_id: case_id.to_owned(),
                hash: hash.to_owned(),
                at: at.to_owned(),
                by: self.id.to_string(),
                offset,
            };
            let answer = self
                .ask_for_piece(&ask, false)
                .await
                .ok_or_else(unreachable)?;
            let piece: FilePiece = serde_json::from_str(&answer).map_err(|_| unreachable())?;
            let data = B64.decode(&piece.data).map_err(|_| unreachable())?;
            let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
            if piece.offset != offset
                || data.is_empty()
                || data.len() > PIECE
                || offset.saturating_add(len) > piece.size
            {
                return Err(unreachable());
            }
            f.write_all(&data).await.map_err(|e| Error::storage(&e))?;
            f.sync_data().await.map_err(|e| Error::storage(&e))?;
            offset += len;
            self.metrics.file_bytes_fetched(len);
            if offset == piece.size {
                break;
            }
        }
        drop(f);
        let bytes = tokio::fs::read(&partial)
            .await
            .map_err(|e| Error::storage(&e))?;
        if hex::encode(Sha256::digest(&bytes)) != hash {
            // Never kept under a hash it does not have: fetched anew next time.
            let _ = tokio::fs::remove_file(&partial).await;
            tracing::warn!(case = %case_id, %hash, %at, "a fetched file did not match its hash; thrown away");
            return Err(Error::new(
                ErrorKind::Unavailable,
                "attachment_corrupt",
                &[],
            ));
        }
        tokio::fs::rename(&partial, &place)
            .await
            .map_err(|e| Error::storage(&e))?;
        tracing::info!(case = %case_id, %hash, %at, size = offset, "fetched a case's file");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_piece_with_its_base64_and_json_stays_under_the_links_bound() {
        let piece = super::FilePiece {
            size: u64::MAX,
            offset: u64::MAX,
            data: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                vec![0xFFu8; super::PIECE],
            ),
        };
        let json = serde_json::to_string(&piece).expect("a piece is JSON");
        assert!(json.len() < federation::replication::Limits::default().max_query);
    }
}
