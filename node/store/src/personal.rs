//! Where a case event's personal section travels, and the sections a hall
//! holds withheld.
//!
//! Up the tree, an entry's sealed section goes whole only when a hall
//! outside this node's subtree accepts, holds or has held the entry's case
//! (the case's `accepting_node` or `holder`, or the origin of one of its
//! events held here): the parent is then on the way to it. Otherwise the
//! parent gets the entry with [`Sealed::Withheld`], unless a hall above
//! this one always takes personal data ([`Store::send_personal_up`]). Down
//! the tree nothing is withheld: a case's entries go down only towards its
//! window. A hall that comes to hold a case later fetches what it holds
//! withheld ([`Store::withheld_cases`], [`WriteTx::fill_sealed`]).

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;

use federation::replication::WireEntry;
use federation::{EntryHash, NodeId, Sealed};
use sqlx::Row;

use super::{
    Backend, Store, StoreError, WriteTx, list_placeholders, padded, padded_len, push_placeholder,
};

/// The most keys read by one statement.
const CHUNK: usize = 500;

/// A case this hall holds (open) whose log here lacks personal sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithheldCase {
    /// The case number.
    pub case_id: String,
    /// The hall that accepted it (where its sections are kept whole).
    pub accepting_node: String,
}

/// What a fill did with the sections it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filled {
    /// Sections put in place.
    pub filled: usize,
    /// Sections refused: their hash is not the stored one (or nothing of
    /// that place is withheld here).
    pub refused: usize,
}

impl Store {
    /// Sends every personal section up whole (a hall above this one is
    /// named in `[privacy] personal_data_at`), or decides per case (the
    /// default).
    pub fn send_personal_up(&self, always: bool) {
        self.personal_up_always.store(always, Relaxed);
    }

    /// Withholds, in a batch for the parent, the personal sections that no
    /// hall outside this node's subtree needs (see the module's doc);
    /// each entry names its case in `stream`, as the readers give it.
    pub(crate) async fn withhold_up(&self, entries: &mut [WireEntry]) -> Result<(), StoreError> {
        if self.personal_up_always.load(Relaxed) {
            return Ok(());
        }
        let open: HashSet<&str> = entries
            .iter()
            .filter(|e| matches!(e.entry.sealed, Sealed::Open(_)))
            .filter_map(|e| e.stream.as_deref())
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        let unknown: Vec<&str> = self.local_cases.unknown(open);
        let needed = if unknown.is_empty() {
            HashSet::new()
        } else {
            self.needed_above(&unknown).await?
        };
        for e in entries.iter_mut() {
            let Some(case) = e.stream.as_deref() else {
                continue;
            };
            if !needed.contains(case) {
                e.entry.sealed = e.entry.sealed.withhold();
            }
        }
        Ok(())
    }

    /// Those of `cases` that a hall outside this node's subtree accepts,
    /// holds or has held. The statements leave out the rows whose halls
    /// are all in the subtree (nearly every row, at a village sending its
    /// own cases up), so only the few that may be outside come back, to be
    /// checked here. Every row used to come back: two for each case sent,
    /// each copied through the driver and decoded.
    async fn needed_above(&self, cases: &[&str]) -> Result<HashSet<String>, StoreError> {
        let outside = |hall: &str| outside(&self.node, hall);
        let me = self.node.as_str();
        let below = format!("{me}.");
        let mut out = HashSet::new();
        for chunk in cases.chunks(CHUNK) {
            let n = padded_len(chunk.len());
            let (cases_sql, events_sql) = needed_above_sql(self.backend, n, me.len());
            let mut q = sqlx::query(&cases_sql);
            for c in padded(chunk) {
                q = q.bind(*c);
            }
            for r in q
                .bind(me)
                .bind(below.as_str())
                .bind(me)
                .bind(below.as_str())
                .fetch_all(&self.pool)
                .await?
            {
                let (id, accepting, holder): (String, String, String) =
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                if outside(&accepting) || (!holder.is_empty() && outside(&holder)) {
                    out.insert(id);
                }
            }
            let mut q = sqlx::query(&events_sql);
            for c in padded(chunk) {
                q = q.bind(*c);
            }
            for r in q
                .bind(me)
                .bind(below.as_str())
                .fetch_all(&self.pool)
                .await?
            {
                let (id, origin): (String, String) = (r.try_get(0)?, r.try_get(1)?);
                if outside(&origin) {
                    out.insert(id);
                }
            }
        }
        Ok(out)
    }

    /// Open cases held by this hall whose log here holds withheld
    /// sections, in case order after case `after` ("" for the first), at
    /// most `limit`.
    pub async fn withheld_cases(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<WithheldCase>, StoreError> {
        let rows = sqlx::query(WITHHELD_CASES)
            .bind(self.node.as_str())
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WithheldCase {
                    case_id: r.try_get(0)?,
                    accepting_node: r.try_get(1)?,
                })
            })
            .collect()
    }

    /// `(origin, origin_seq)` of a case's entries held withheld here, in
    /// case order.
    pub async fn withheld_entries(&self, case_id: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT origin, origin_seq FROM events WHERE case_id <> '' AND case_id = $1 AND sealed IS NULL \
             AND sealed_hash IS NOT NULL ORDER BY case_version",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get(1)?;
                Ok((r.try_get(0)?, u64::try_from(seq).unwrap_or(0)))
            })
            .collect()
    }

    /// The personal sections held here of a case's entries at these places
    /// (those withheld, or not of the case, are left out).
    pub async fn sealed_sections(
        &self,
        case_id: &str,
        places: &[(String, u64)],
    ) -> Result<Vec<(String, u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for (origin, seq) in places {
            let row = sqlx::query(
                "SELECT sealed FROM events WHERE case_id <> '' AND case_id = $1 AND origin = $2 AND origin_seq = $3",
            )
            .bind(case_id)
            .bind(origin.as_str())
            .bind(i64::try_from(*seq).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await?;
            if let Some(r) = row
                && let Some(bytes) = r.try_get::<Option<Vec<u8>>, _>(0)?
                && !bytes.is_empty()
            {
                out.push((origin.clone(), *seq, bytes));
            }
        }
        Ok(out)
    }
}

/// `hall` is a valid node id outside `node`'s subtree.
fn outside(node: &NodeId, hall: &str) -> bool {
    NodeId::new(hall.to_owned()).is_ok_and(|h| !h.is_in_subtree_of(node))
}

/// The most cases [`LocalCases`] keeps: more than the log's tail in
/// memory holds entries of (about 9,000 of a village's cases), from which
/// a link that keeps up sends; a case it has forgotten is read from the
/// store.
const LOCAL_CASES: usize = 1 << 15;

/// Cases that no hall outside this node's subtree accepts, holds or has
/// held: those a commit of this process put new with its accepting hall,
/// holder and every event inside the subtree, until a commit writes one of
/// them otherwise. [`Store::withhold_up`] reads only the cases not kept
/// here, so a link sending what was just written here reads nothing: the
/// two reads by case number took about a twentieth of the replication
/// bench's CPU (2.5 to 3 µs an event in SQLite's threads). A case leaves
/// before the commit that may take it outside is written, and joins after
/// its commit, so this never holds a case that the store shows as needed
/// above.
#[derive(Debug)]
pub(crate) struct LocalCases(std::sync::Mutex<hashlink::LruCache<String, ()>>);

impl Default for LocalCases {
    fn default() -> Self {
        LocalCases(std::sync::Mutex::new(hashlink::LruCache::new(LOCAL_CASES)))
    }
}

impl LocalCases {
    /// Those of `cases` not kept here.
    fn unknown<'a>(&self, cases: HashSet<&'a str>) -> Vec<&'a str> {
        let Ok(kept) = self.0.lock() else {
            return cases.into_iter().collect();
        };
        cases
            .into_iter()
            .filter(|c| !kept.contains_key(*c))
            .collect()
    }

    /// Forgets every case (a commit was given up midway).
    pub(crate) fn clear(&self) {
        if let Ok(mut kept) = self.0.lock() {
            kept.clear();
        }
    }

    /// What a transaction does to the cases kept: `(forget, keep)`. It
    /// forgets, before it commits, each case it writes with an accepting
    /// hall or holder outside `node`'s subtree, or with an event from
    /// there; it keeps, once committed, each case it puts new (in
    /// `new_rows`) and starts (an event of version 1) that it does
    /// neither to. A case started here has no event held before it.
    pub(crate) fn plan<'a>(
        node: &NodeId,
        events: &'a [super::StoredEvent],
        new_rows: &'a [super::CaseRow],
        rows: &'a [super::CaseRow],
    ) -> (HashSet<&'a str>, Vec<String>) {
        let mut started = HashSet::new();
        let mut forget = HashSet::new();
        for e in events {
            if let Some(r) = e.record() {
                if !e.entry.origin.is_in_subtree_of(node) {
                    forget.insert(r.case_id.as_str());
                } else if r.case_version == 1 {
                    started.insert(r.case_id.as_str());
                }
            }
        }
        for row in new_rows.iter().chain(rows) {
            let holder = row.holder.as_deref().unwrap_or_default();
            // As the statements of `needed_above` test it: an invalid name
            // written so counts as inside, as `outside` does not count it.
            let inside = |hall: &str| node.subtree_names(hall);
            if !inside(&row.accepting_node) || !(holder.is_empty() || inside(holder)) {
                forget.insert(row.id.as_str());
            }
        }
        let keep = new_rows
            .iter()
            .map(|r| r.id.as_str())
            .filter(|id| started.contains(id) && !forget.contains(id))
            .map(str::to_owned)
            .collect();
        (forget, keep)
    }

    /// Before a commit: forgets the cases it may take outside.
    pub(crate) fn forget<'a>(&self, cases: impl Iterator<Item = &'a str>) {
        if let Ok(mut kept) = self.0.lock() {
            for c in cases {
                kept.remove(c);
            }
        }
    }

    /// After a commit: keeps the local cases it started.
    pub(crate) fn keep(&self, cases: Vec<String>) {
        if let Ok(mut kept) = self.0.lock() {
            for c in cases {
                kept.insert(c, ());
            }
        }
    }
}

/// A held personal section of a closed case, a candidate for a purge.
#[derive(Debug, Clone)]
pub struct KeptSection {
    /// The entry's local sequence.
    pub local_seq: i64,
    /// Its case.
    pub case_id: String,
    /// The case's matter.
    pub matter_code: String,
    /// When the case was closed (ms).
    pub closed_at_ms: i64,
    /// The section's hash, which stays when its bytes go.
    pub hash: EntryHash,
}

/// Open cases held by `$1` with withheld sections, after case `$2`, at
/// most `$3`: a search of `cases_withheld` (migration 0031), which holds
/// only the open cases flagged, not a probe of the log for every open case
/// the hall holds.
pub(crate) const WITHHELD_CASES: &str = "SELECT id, accepting_node FROM cases WHERE holder = $1 \
     AND closed_at_ms IS NULL AND withheld = 1 AND id > $2 ORDER BY id LIMIT $3";

impl Store {
    /// Held personal sections of cases closed before `closed_before_ms`,
    /// at most `limit`, oldest closed first.
    pub async fn kept_sections(
        &self,
        closed_before_ms: i64,
        limit: i64,
    ) -> Result<Vec<KeptSection>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.local_seq, c.id, c.matter_code, c.closed_at_ms, e.sealed FROM events e \
             JOIN cases c ON c.id = e.case_id WHERE c.closed_at_ms IS NOT NULL \
             AND c.closed_at_ms < $1 AND e.sealed IS NOT NULL \
             ORDER BY c.closed_at_ms, e.local_seq LIMIT $2",
        )
        .bind(closed_before_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let bytes: Vec<u8> = r.try_get(4)?;
            if bytes.is_empty() {
                continue;
            }
            out.push(KeptSection {
                local_seq: r.try_get(0)?,
                case_id: r.try_get(1)?,
                matter_code: r.try_get(2)?,
                closed_at_ms: r.try_get(3)?,
                hash: Sealed::open(bytes).digest(),
            });
        }
        Ok(out)
    }
}

impl WriteTx<'_> {
    /// Removes held personal sections, keeping each one's hash in its
    /// place (the entry still verifies), and the last four characters of
    /// their cases' applicants.
    pub async fn purge_sections(&mut self, sections: &[KeptSection]) -> Result<(), StoreError> {
        // The cases cached were folded with their sections.
        self.forget_cached_cases();
        for s in sections {
            sqlx::query(
                "UPDATE events SET sealed = NULL, sealed_hash = $1 WHERE local_seq = $2 AND sealed IS NOT NULL",
            )
            .bind(s.hash.to_hex())
            .bind(s.local_seq)
            .execute(self.conn())
            .await?;
        }
        let cases: HashSet<&str> = sections.iter().map(|s| s.case_id.as_str()).collect();
        for c in cases {
            // Flagged: closed, the case is not looked for, but it would be
            // if it were reopened.
            sqlx::query("UPDATE cases SET applicant_last4 = '', withheld = 1 WHERE id = $1")
                .bind(c)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Puts fetched personal sections of a case's entries in place, each
    /// only if its hash is the one the entry's hash covers (stored with the
    /// withheld row); the others are refused and nothing of them is kept.
    pub async fn fill_sealed(
        &mut self,
        case_id: &str,
        sections: &[(String, u64, Vec<u8>)],
    ) -> Result<Filled, StoreError> {
        self.forget_cached_cases();
        let mut done = Filled::default();
        for (origin, seq, bytes) in sections {
            let seq = i64::try_from(*seq).unwrap_or(i64::MAX);
            let stored: Option<Option<String>> = sqlx::query_scalar(
                "SELECT sealed_hash FROM events WHERE case_id <> '' AND case_id = $1 AND origin = $2 \
                 AND origin_seq = $3 AND sealed IS NULL",
            )
            .bind(case_id)
            .bind(origin.as_str())
            .bind(seq)
            .fetch_optional(self.conn())
            .await?;
            let Some(Some(stored)) = stored else {
                done.refused += 1;
                continue;
            };
            let matches = EntryHash::from_hex(&stored)
                .is_ok_and(|h| Sealed::open(bytes.clone()).digest() == h && !bytes.is_empty());
            if !matches {
                done.refused += 1;
                continue;
            }
            sqlx::query(
                "UPDATE events SET sealed = $1, sealed_hash = NULL WHERE origin = $2 AND origin_seq = $3",
            )
            .bind(bytes.as_slice())
            .bind(origin.as_str())
            .bind(seq)
            .execute(self.conn())
            .await?;
            done.filled += 1;
        }
        if done.filled > 0 {
            // The case's flag goes with its last withheld section.
            sqlx::query(
                "UPDATE cases SET withheld = 0 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM events \
                 WHERE case_id <> '' AND case_id = $1 AND sealed IS NULL AND sealed_hash IS NOT NULL)",
            )
            .bind(case_id)
            .execute(self.conn())
            .await?;
        }
        Ok(done)
    }

    /// Sets a case row's last four characters of the applicant's
    /// identifier (once its `received` section is filled in).
    pub async fn set_applicant_last4(
        &mut self,
        case_id: &str,
        last4: &str,
    ) -> Result<(), StoreError> {
        self.forget_cached_cases();
        sqlx::query("UPDATE cases SET applicant_last4 = $1 WHERE id = $2")
            .bind(last4)
            .bind(case_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

/// The two reads of [`Store::needed_above`] for `n` case numbers (bound
/// first), this node's id of `len` characters and that id and a dot (bound
/// after them, twice in the first): the cases whose accepting hall or
/// holder may be outside the subtree, and the cases with an event here
/// whose origin may be. Both search an index by case number
/// (`store::indexed_reads`).
pub(crate) fn needed_above_sql(backend: Backend, n: usize, len: usize) -> (String, String) {
    let list = list_placeholders(backend, n);
    let holder = "COALESCE(holder, '')";
    let cases = format!(
        "SELECT id, accepting_node, {holder} FROM cases WHERE id IN ({list}) AND NOT ({} AND ({holder} = '' OR {}))",
        in_subtree_sql(backend, "accepting_node", n + 1, len),
        in_subtree_sql(backend, holder, n + 3, len),
    );
    let events = format!(
        "SELECT DISTINCT case_id, origin FROM events WHERE case_id <> '' AND case_id IN ({list}) AND NOT {}",
        in_subtree_sql(backend, "origin", n + 1, len),
    );
    (cases, events)
}

/// `column` names this node or a hall below it, as
/// [`NodeId::is_in_subtree_of`] tells: equal to the node's id (bound at
/// placeholder `first`), or beginning with the id and a dot (bound at
/// `first + 1`; `len` is the id's length). Neither backend's `LIKE` would
/// do: `_` in it matches any character.
fn in_subtree_sql(backend: Backend, column: &str, first: usize, len: usize) -> String {
    let mut s = format!("({column} = ");
    push_placeholder(&mut s, backend, first);
    s.push_str(&format!(" OR substr({column}, 1, {}) = ", len + 1));
    push_placeholder(&mut s, backend, first + 1);
    s.push(')');
    s
}
