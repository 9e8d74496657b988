//! The sending side of one flow on one link.

/// Limits of a sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderConfig {
    /// Most entries in one batch.
    pub max_batch_entries: usize,
    /// Most bytes in one batch (approximately).
    pub max_batch_bytes: usize,
    /// How long a pending entry may wait for its batch to fill (ms).
    pub max_delay_ms: i64,
    /// Most sequence numbers sent but not yet acknowledged.
    pub max_in_flight: u64,
    /// Resend from the acknowledged cursor when no acknowledgement came for
    /// this long while entries were in flight (ms).
    pub ack_timeout_ms: i64,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            max_batch_entries: 1000,
            max_batch_bytes: 1 << 20,
            max_delay_ms: 10,
            max_in_flight: 20_000,
            ack_timeout_ms: 15_000,
        }
    }
}

/// Batch sizes that follow the link: a sender that knows how many bytes
/// each batch took learns the rate at which its peer acknowledges bytes,
/// and keeps each batch to about `batch_ms` of that rate and what is in
/// flight to about `in_flight_ms` of it.
///
/// On a slow link (a village on 1 Mbit/s) a batch of the configured
/// maximum (1 MiB) takes seconds to cross, and the parent, which applies
/// and forwards whole batches, passes events on in lumps of that size; a
/// batch of a tenth of a second keeps them flowing and leaves the last
/// batch little to carry alone. On a fast link the learned rate is high
/// and batches reach the configured maximum after the first few
/// acknowledgements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// A batch carries about this many milliseconds of the learned rate.
    pub batch_ms: u64,
    /// What is in flight is kept to about this many milliseconds of it
    /// (and at least four batches): enough to ride out the stalls of a
    /// lossy link, where a lost packet holds the stream back for a round
    /// trip or more.
    pub in_flight_ms: u64,
    /// A batch is never made smaller than this many bytes.
    pub min_batch_bytes: usize,
    /// The batch size before any acknowledgement has taught a rate (the
    /// configured maximum by default: a fast link's first batches are not
    /// held small while the rate is learned; a slow link's first batch is
    /// large and the rest follow its rate).
    pub initial_batch_bytes: usize,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            batch_ms: 100,
            in_flight_ms: 3000,
            min_batch_bytes: 8 << 10,
            initial_batch_bytes: 1 << 20,
        }
    }
}

/// The window over which a paced sender averages what its peer
/// acknowledged. A lossy link delivers a reliable stream in bursts (a lost
/// packet holds back everything behind it until it is sent again), so a
/// rate taken from one acknowledgement to the next swings far above and
/// below the link's; a second's worth averages the bursts out.
const RATE_WINDOW_MS: i64 = 1000;

/// What the sender learns of its link's rate.
#[derive(Debug, Clone)]
struct Pacer {
    cfg: Pacing,
    /// Batches sent on this connection and not yet acknowledged: (upper
    /// sequence, bytes).
    in_flight: std::collections::VecDeque<(u64, usize)>,
    in_flight_bytes: usize,
    /// When this connection first sent a batch.
    busy_since: Option<i64>,
    /// Acknowledged bytes of the last [`RATE_WINDOW_MS`]: (when, bytes).
    delivered: std::collections::VecDeque<(i64, usize)>,
    /// Bytes per millisecond, once learned.
    rate: Option<f64>,
}

impl Pacer {
    fn new(cfg: Pacing) -> Self {
        Self {
            cfg,
            in_flight: std::collections::VecDeque::new(),
            in_flight_bytes: 0,
            busy_since: None,
            delivered: std::collections::VecDeque::new(),
            rate: None,
        }
    }

    fn batch_bytes(&self, max: usize) -> usize {
        let want = match self.rate {
            Some(r) => (r * self.cfg.batch_ms as f64) as usize,
            None => self.cfg.initial_batch_bytes,
        };
        want.clamp(self.cfg.min_batch_bytes.min(max), max)
    }

    fn in_flight_limit(&self, max_batch: usize) -> usize {
        let batch = self.batch_bytes(max_batch);
        let by_rate = self
            .rate
            .map_or(0, |r| (r * self.cfg.in_flight_ms as f64) as usize);
        by_rate.max(batch.saturating_mul(4))
    }

    /// A new connection: what was in flight is gone; the rate learned on
    /// the last one stays as the first guess.
    fn reset(&mut self) {
        self.in_flight.clear();
        self.in_flight_bytes = 0;
        self.busy_since = None;
        self.delivered.clear();
    }

    fn sent(&mut self, now_ms: i64, upto: u64, bytes: usize) {
        self.in_flight.push_back((upto, bytes));
        self.in_flight_bytes += bytes;
        self.busy_since.get_or_insert(now_ms);
    }

    /// Everything up to `upto` arrived: the rate becomes the bytes
    /// acknowledged over the last window (or since the connection first
    /// sent, if that is shorter).
    fn acked(&mut self, now_ms: i64, upto: u64) {
        let mut bytes = 0usize;
        while let Some(&(u, b)) = self.in_flight.front() {
            if u > upto {
                break;
            }
            self.in_flight.pop_front();
            bytes += b;
        }
        self.in_flight_bytes -= bytes;
        let Some(since) = self.busy_since else {
            return;
        };
        if bytes > 0 {
            self.delivered.push_back((now_ms, bytes));
        }
        while self
            .delivered
            .front()
            .is_some_and(|&(at, _)| at <= now_ms - RATE_WINDOW_MS)
        {
            self.delivered.pop_front();
        }
        let span = (now_ms - since).clamp(1, RATE_WINDOW_MS) as f64;
        let total: usize = self.delivered.iter().map(|&(_, b)| b).sum();
        if total > 0 {
            self.rate = Some(total as f64 / span);
        }
    }
}

/// Which entries to read from the log for the next batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRequest {
    /// Read entries with a local sequence above this.
    pub after: u64,
    /// And at most up to this one.
    pub upto: u64,
    /// At most this many entries (of those meant for the peer).
    pub max_entries: usize,
    /// At most about this many bytes.
    pub max_bytes: usize,
}

/// The sending side of one flow: it knows what the peer acknowledged, what is
/// in flight and what the log holds, and says when to send what.
#[derive(Debug, Clone)]
pub struct Sender {
    cfg: SenderConfig,
    connected: bool,
    acked: u64,
    sent: u64,
    head: u64,
    pending_since_ms: Option<i64>,
    last_progress_ms: i64,
    pacer: Option<Pacer>,
}

impl Sender {
    /// A sender whose peer durably acknowledged `acked`, over a log whose
    /// highest local sequence is `head`.
    pub fn new(cfg: SenderConfig, acked: u64, head: u64) -> Self {
        Self {
            cfg,
            connected: false,
            acked,
            sent: acked,
            head: head.max(acked),
            pending_since_ms: None,
            last_progress_ms: 0,
            pacer: None,
        }
    }

    /// Sizes batches by the link's learned rate (see [`Pacing`]); the
    /// caller then reports each batch's bytes with [`Sender::sent_bytes`].
    #[must_use]
    pub fn paced(mut self, pacing: Pacing) -> Self {
        self.pacer = Some(Pacer::new(pacing));
        self
    }

    /// The link's learned rate in bytes per second, once a paced sender
    /// has one.
    pub fn rate_bytes_per_s(&self) -> Option<f64> {
        self.pacer.as_ref()?.rate.map(|r| r * 1000.0)
    }

    /// The link is up; the peer holds our entries durably up to `peer_have`
    /// (its Hello). Anything above that is (re)sent.
    ///
    /// The peer's durable cursor is the truth, even when it is *below* what
    /// this sender believed acknowledged: a receiver restored from an older
    /// copy of its store lost what it had acknowledged after that copy, and
    /// it refuses (as a cursor gap) any batch that starts above what it
    /// holds. So both the acknowledged and the sent cursors become
    /// `peer_have`, clamped to the log's head (a peer cannot hold more of
    /// this log than there is).
    pub fn connected(&mut self, now_ms: i64, peer_have: u64) {
        self.connected = true;
        self.acked = peer_have.min(self.head);
        self.sent = self.acked;
        self.last_progress_ms = now_ms;
        if self.head > self.sent {
            self.pending_since_ms.get_or_insert(now_ms);
        }
        if let Some(p) = &mut self.pacer {
            p.reset();
        }
    }

    /// The link is down; what was in flight will be resent.
    pub fn disconnected(&mut self) {
        self.connected = false;
        self.sent = self.acked;
        if let Some(p) = &mut self.pacer {
            p.reset();
        }
    }

    /// Is the link up?
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The log grew to `head`.
    pub fn appended(&mut self, now_ms: i64, head: u64) {
        if head > self.head {
            self.head = head;
            self.pending_since_ms.get_or_insert(now_ms);
        }
    }

    /// What to read and send now, if anything.
    pub fn poll_send(&mut self, now_ms: i64) -> Option<ReadRequest> {
        if !self.connected || self.head <= self.sent {
            return None;
        }
        let in_flight = self.sent - self.acked;
        if in_flight >= self.cfg.max_in_flight {
            return None;
        }
        let pending = self.head - self.sent;
        let waited = self
            .pending_since_ms
            .is_none_or(|since| now_ms - since >= self.cfg.max_delay_ms);
        let full = pending >= self.cfg.max_batch_entries as u64;
        if !(waited || full) {
            return None;
        }
        // With more to send than the window has room for, wait until a
        // quarter of it is free: sent as soon as any room opened, each
        // batch took what the last acknowledgement freed, so a backlog
        // went in batches the size of the first one the receiver applied
        // (a catch-up of a million entries went in batches of about 200,
        // each an fsync at the parent).
        let room = self.cfg.max_in_flight - in_flight;
        if pending > room && room < self.cfg.max_in_flight.div_ceil(4) {
            return None;
        }
        let max_bytes = match &self.pacer {
            Some(p) => {
                let batch = p.batch_bytes(self.cfg.max_batch_bytes);
                if p.in_flight_bytes >= p.in_flight_limit(self.cfg.max_batch_bytes) {
                    return None;
                }
                batch
            }
            None => self.cfg.max_batch_bytes,
        };
        Some(ReadRequest {
            after: self.sent,
            upto: self.head.min(self.sent + room),
            max_entries: self.cfg.max_batch_entries,
            max_bytes,
        })
    }

    /// A batch covering `(after, upto]` went out and took `bytes` on the
    /// wire: what a paced sender learns the link's rate from.
    pub fn sent_bytes(&mut self, now_ms: i64, upto: u64, bytes: usize) {
        if let Some(p) = &mut self.pacer
            && upto > self.sent
        {
            p.sent(now_ms, upto, bytes);
        }
        self.sent(now_ms, upto);
    }

    /// A batch covering `(after, upto]` went out.
    pub fn sent(&mut self, now_ms: i64, upto: u64) {
        if upto > self.sent {
            if self.sent == self.acked {
                self.last_progress_ms = now_ms;
            }
            self.sent = upto.min(self.head);
        }
        self.pending_since_ms = (self.head > self.sent).then_some(now_ms);
    }

    /// The peer acknowledged everything up to `upto`: it holds that much
    /// durably, whichever connection carried it (a batch of an earlier
    /// connection may be acknowledged after a reconnect). Pass only
    /// acknowledgements that arrived on the current connection: one sent
    /// before the peer's Hello may no longer hold (the peer may since have
    /// been restored from an older copy). An acknowledgement beyond the log's
    /// head is a protocol error (`Err`) and changes nothing.
    pub fn acked(&mut self, now_ms: i64, upto: u64) -> Result<(), u64> {
        if upto > self.head {
            return Err(upto);
        }
        if upto > self.acked {
            self.acked = upto;
            self.sent = self.sent.max(upto);
            self.last_progress_ms = now_ms;
            if let Some(p) = &mut self.pacer {
                p.acked(now_ms, upto);
            }
        }
        Ok(())
    }

    /// When the caller should wake this sender next, if ever.
    pub fn poll_timeout(&self) -> Option<i64> {
        if !self.connected {
            return None;
        }
        let batch = (self.head > self.sent)
            .then(|| self.pending_since_ms.map(|s| s + self.cfg.max_delay_ms))
            .flatten();
        let ack = (self.sent > self.acked).then(|| self.last_progress_ms + self.cfg.ack_timeout_ms);
        match (batch, ack) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Time passed: if an acknowledgement is overdue, resend from the cursor.
    /// Returns whether a resend was started.
    pub fn handle_timeout(&mut self, now_ms: i64) -> bool {
        if self.connected
            && self.sent > self.acked
            && now_ms - self.last_progress_ms >= self.cfg.ack_timeout_ms
        {
            self.sent = self.acked;
            self.last_progress_ms = now_ms;
            self.pending_since_ms = Some(now_ms - self.cfg.max_delay_ms);
            return true;
        }
        false
    }

    /// Entries not yet acknowledged.
    pub fn backlog(&self) -> u64 {
        self.head - self.acked
    }

    /// The acknowledged cursor.
    pub fn acked_upto(&self) -> u64 {
        self.acked
    }

    /// The highest sequence sent.
    pub fn sent_upto(&self) -> u64 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SenderConfig {
        SenderConfig {
            max_batch_entries: 10,
            max_batch_bytes: 1 << 20,
            max_delay_ms: 5,
            max_in_flight: 25,
            ack_timeout_ms: 100,
        }
    }

    #[test]
    fn nothing_is_sent_while_disconnected() {
        let mut s = Sender::new(cfg(), 0, 5);
        assert_eq!(s.poll_send(100), None);
        s.connected(100, 0);
        assert_eq!(s.poll_send(105).map(|r| (r.after, r.upto)), Some((0, 5)));
    }

    #[test]
    fn small_batches_wait_for_the_delay_and_full_ones_go_at_once() {
        let mut s = Sender::new(cfg(), 0, 0);
        s.connected(0, 0);
        s.appended(10, 3);
        assert_eq!(s.poll_send(12), None, "waits to fill");
        assert_eq!(s.poll_timeout(), Some(15));
        assert!(s.poll_send(15).is_some());
        let mut s = Sender::new(cfg(), 0, 0);
        s.connected(0, 0);
        s.appended(10, 12);
        assert!(s.poll_send(10).is_some(), "a full batch goes at once");
    }

    #[test]
    fn in_flight_is_bounded_and_acks_open_the_window() {
        let mut s = Sender::new(cfg(), 0, 100);
        s.connected(0, 0);
        let r = s.poll_send(10).expect("send");
        assert_eq!(r.upto, 25);
        s.sent(10, 25);
        assert_eq!(s.poll_send(20), None, "window full");
        s.acked(30, 10).expect("ack");
        let r = s.poll_send(40).expect("send");
        assert_eq!((r.after, r.upto), (25, 35));
        // A late acknowledgement of more than this connection sent (a batch
        // of an earlier connection) moves both cursors.
        s.acked(41, 30).expect("ack");
        assert_eq!((s.acked_upto(), s.sent_upto()), (30, 30));
        assert_eq!(
            s.acked(40, 101),
            Err(101),
            "acks beyond the head are refused"
        );
        assert_eq!(s.acked_upto(), 30);
    }

    #[test]
    fn a_reconnect_resends_from_what_the_peer_holds() {
        let mut s = Sender::new(cfg(), 0, 20);
        s.connected(0, 0);
        s.sent(10, 20);
        s.acked(11, 8).expect("ack");
        s.disconnected();
        assert_eq!(s.sent_upto(), 8);
        // The peer holds more than we saw acknowledged (its ack was lost).
        s.connected(50, 12);
        assert_eq!(s.acked_upto(), 12, "the peer's durable cursor wins");
        assert_eq!(s.sent_upto(), 12);
        assert_eq!(s.poll_send(60).map(|r| r.after), Some(12));
        // And less: the peer's cursor wins that way too.
        s.disconnected();
        s.connected(70, 5);
        assert_eq!((s.acked_upto(), s.sent_upto()), (5, 5));
        assert_eq!(s.poll_send(80).map(|r| r.after), Some(5));
        // A peer cannot hold more than the log has.
        s.disconnected();
        s.connected(90, 99);
        assert_eq!((s.acked_upto(), s.sent_upto()), (20, 20));
        assert_eq!(s.poll_send(100), None);
    }

    #[test]
    fn a_receiver_restored_from_an_older_copy_is_resent_from_its_cursor() {
        let mut s = Sender::new(cfg(), 0, 30);
        s.connected(0, 0);
        s.sent(10, 25);
        s.acked(20, 25).expect("ack");
        assert_eq!(s.backlog(), 5);
        // The receiver is restored from a copy that held only up to 9; its
        // Hello says so.
        s.disconnected();
        s.connected(100, 9);
        assert_eq!(s.acked_upto(), 9, "the acknowledged cursor moves back");
        assert_eq!(s.sent_upto(), 9);
        assert_eq!(s.backlog(), 21);
        let r = s.poll_send(105).expect("a batch");
        assert_eq!(
            (r.after, r.upto),
            (9, 30),
            "the batch starts at the receiver's cursor, not above it"
        );
        s.sent(105, 19);
        // The receiver acknowledges from its restored cursor upwards.
        s.acked(110, 19).expect("ack");
        assert_eq!((s.acked_upto(), s.sent_upto()), (19, 19));
        // A sender started afresh from its stored (older) acknowledged cursor
        // also follows the receiver's Hello.
        let mut s = Sender::new(cfg(), 25, 30);
        s.connected(0, 9);
        assert_eq!(s.poll_send(5).map(|r| r.after), Some(9));
    }

    #[test]
    fn a_backlog_waits_for_a_quarter_of_the_window_rather_than_trickling() {
        let cfg = SenderConfig {
            max_batch_entries: 1000,
            max_in_flight: 100,
            ..cfg()
        };
        let mut s = Sender::new(cfg, 0, 1000);
        s.connected(0, 0);
        let r = s.poll_send(10).expect("send");
        assert_eq!((r.after, r.upto), (0, 100), "the window's worth");
        s.sent(10, 100);
        assert!(s.poll_send(11).is_none(), "the window is full");
        // An acknowledgement frees ten: too little while much is pending.
        s.acked(20, 10).expect("ack");
        assert!(s.poll_send(20).is_none(), "a batch of ten would follow");
        s.acked(30, 30).expect("ack");
        let r = s.poll_send(30).expect("a quarter is free");
        assert_eq!((r.after, r.upto), (100, 130));
        s.sent(30, 130);
        // Near the end, what is left goes however small the room.
        s.acked(40, 900).expect("ack");
        s.sent(40, 990);
        let r = s.poll_send(50).expect("the last ten fit");
        assert_eq!((r.after, r.upto), (990, 1000));
    }

    #[test]
    fn a_paced_sender_sizes_batches_by_the_rate_it_learns() {
        let cfg = SenderConfig {
            max_batch_entries: 50,
            max_in_flight: 1_000_000,
            ..cfg()
        };
        let pacing = Pacing::default();
        let mut s = Sender::new(cfg, 0, 100_000).paced(pacing);
        s.connected(0, 0);
        let r = s.poll_send(10).expect("send");
        assert_eq!(r.max_bytes, pacing.initial_batch_bytes, "no rate yet");
        // A slow link: 64 KiB acknowledged 500 ms after it went out, about
        // 131 bytes a millisecond.
        s.sent_bytes(10, 400, 64 << 10);
        s.acked(510, 400).expect("ack");
        let rate = s.rate_bytes_per_s().expect("a rate");
        assert!((130_000.0..133_000.0).contains(&rate), "{rate}");
        let r = s.poll_send(510).expect("send");
        assert_eq!(r.max_bytes, 13_107, "a tenth of a second of the rate");
        // What is in flight stays near three seconds of the rate.
        let mut at = 510;
        let mut sent = 400;
        while let Some(r) = s.poll_send(at) {
            sent += 50;
            s.sent_bytes(at, sent, r.max_bytes);
            at += 1;
        }
        // (Thirty batches of 13,107 bytes leave 6 bytes under 393,216, so a
        // thirty-first goes; then the window is full.)
        assert_eq!(
            at - 510,
            31,
            "batches go until three seconds of the rate are in flight"
        );
        // Those thirty-one arrive together (a lost packet held them back):
        // the rate is what the 990 ms since the first batch brought (471,853
        // bytes), not that burst's 406,317 bytes in a millisecond.
        s.acked(1000, sent).expect("ack");
        let rate = s.rate_bytes_per_s().expect("a rate");
        assert!((475_000.0..478_000.0).contains(&rate), "{rate}");
        // A fast link teaches a high rate and batches grow to the maximum.
        let mut s = Sender::new(cfg, 0, 100_000).paced(pacing);
        s.connected(0, 0);
        s.sent_bytes(0, 400, 64 << 10);
        s.acked(2, 400).expect("ack");
        let r = s.poll_send(2).expect("send");
        assert_eq!(r.max_bytes, 1 << 20);
        // A reconnect keeps the rate as its first guess.
        s.disconnected();
        s.connected(10, 400);
        assert_eq!(s.poll_send(10).map(|r| r.max_bytes), Some(1 << 20));
        // Without byte counts a sender is not paced.
        let mut plain = Sender::new(cfg, 0, 100);
        plain.connected(0, 0);
        assert_eq!(plain.poll_send(10).map(|r| r.max_bytes), Some(1 << 20));
    }

    #[test]
    fn an_overdue_ack_restarts_from_the_cursor() {
        let mut s = Sender::new(cfg(), 0, 20);
        s.connected(0, 0);
        s.sent(0, 20);
        assert!(!s.handle_timeout(50));
        assert!(s.handle_timeout(100));
        assert_eq!(s.poll_send(100).map(|r| r.after), Some(0));
    }
}
