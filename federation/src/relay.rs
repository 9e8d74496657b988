//! A fault-injecting UDP relay for one link between real nodes.
//!
//! A child dials the relay's address instead of its parent's. The relay
//! forwards each datagram upstream and each reply back down, passing both
//! directions through their own [`LinkShape`]: loss, duplication, delay with
//! jitter, a bandwidth cap with a bounded queue, and a blackhole. QUIC runs
//! over it unchanged.
//!
//! ```text
//!  child ──► relay.local_addr() ──[up shape]──► upstream (parent)
//!  child ◄── relay.local_addr() ◄─[down shape]── upstream (parent)
//! ```
//!
//! Every client address gets its own upstream socket, so several children
//! can share one relay and the parent sees a distinct address for each. A
//! client's mapping expires after [`MAPPING_IDLE_TIMEOUT`] without traffic in
//! either direction.
//!
//! Each direction is one link shared by all clients: one bandwidth queue and
//! one random generator. The fault model itself lives in `link` and does no
//! I/O; this module only moves datagrams between sockets and the timer queue.

mod link;
mod shape;
mod stats;

pub use shape::{LinkShape, ShapeError};
pub use stats::{DirStats, RelayStats};

use std::cmp::Ordering as CmpOrdering;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use link::{Admission, Fate, LinkModel};
use stats::Counters;

/// How long a client's upstream mapping lives without traffic.
pub const MAPPING_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Datagrams waiting between a socket and its direction's timer queue.
/// Beyond this the relay drops, as a full network card would.
const HANDOFF_CAPACITY: usize = 4096;

/// Large enough for any UDP datagram.
const MAX_DATAGRAM: usize = 65_536;

/// A direction across the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the children to the upstream (parent).
    Up,
    /// From the upstream (parent) back to the children.
    Down,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::Up => 0,
            Direction::Down => 1,
        }
    }
}

/// A running relay. Dropping it stops it, as does [`Relay::shutdown`].
///
/// Start it inside a Tokio runtime with the time and I/O drivers enabled
/// (`#[tokio::test]` and `#[tokio::main]` have both); its tasks run there.
pub struct Relay {
    local_addr: SocketAddr,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("local_addr", &self.local_addr)
            .field("upstream", &self.upstream)
            .field("up", &self.shape(Direction::Up).to_string())
            .field("down", &self.shape(Direction::Down).to_string())
            .field("blackhole", &self.is_blackholed())
            .finish()
    }
}

/// How a relay runs, beyond its addresses and shapes.
struct Options {
    seed: Option<u64>,
    idle_timeout: Duration,
}

impl Relay {
    /// Listens on `listen` (port 0 picks a free port) and relays to
    /// `upstream`, shaping datagrams going up with `up` and replies coming
    /// down with `down`. Random choices are seeded from the operating system.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        up: LinkShape,
        down: LinkShape,
    ) -> io::Result<Self> {
        let options = Options {
            seed: None,
            idle_timeout: MAPPING_IDLE_TIMEOUT,
        };
        Self::start_with(listen, upstream, up, down, options).await
    }

    /// As [`Relay::start`], with random choices that follow `seed`: with the
    /// same seed and the same datagrams arriving in the same order, the same
    /// datagrams are lost and duplicated.
    pub async fn start_seeded(
        listen: SocketAddr,
        upstream: SocketAddr,
        up: LinkShape,
        down: LinkShape,
        seed: u64,
    ) -> io::Result<Self> {
        let options = Options {
            seed: Some(seed),
            idle_timeout: MAPPING_IDLE_TIMEOUT,
        };
        Self::start_with(listen, upstream, up, down, options).await
    }

    async fn start_with(
        listen: SocketAddr,
        upstream: SocketAddr,
        up: LinkShape,
        down: LinkShape,
        options: Options,
    ) -> io::Result<Self> {
        let socket = Arc::new(UdpSocket::bind(listen).await?);
        let local_addr = socket.local_addr()?;
        let shared = Arc::new(Shared {
            shapes: [watch::Sender::new(up), watch::Sender::new(down)],
            blackhole: AtomicBool::new(false),
            counters: Default::default(),
            clients: AtomicUsize::new(0),
            epoch: Instant::now(),
        });
        let model = |salt: u64| match options.seed {
            Some(seed) => LinkModel::seeded(seed.wrapping_add(salt)),
            None => LinkModel::from_entropy(),
        };
        let (up_tx, up_rx) = mpsc::channel(HANDOFF_CAPACITY);
        let (down_tx, down_rx) = mpsc::channel(HANDOFF_CAPACITY);
        let listener = Listener {
            shared: shared.clone(),
            socket,
            upstream,
            up: up_tx,
            down: down_tx,
            idle_timeout: options.idle_timeout,
        };
        let tasks = vec![
            tokio::spawn(run_direction(
                shared.clone(),
                Direction::Up,
                up_rx,
                model(0),
            )),
            tokio::spawn(run_direction(
                shared.clone(),
                Direction::Down,
                down_rx,
                model(1),
            )),
            tokio::spawn(listener.run()),
        ];
        Ok(Self {
            local_addr,
            upstream,
            shared,
            tasks,
        })
    }

    /// The address children should send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address datagrams are relayed to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// The current shape of one direction.
    pub fn shape(&self, direction: Direction) -> LinkShape {
        self.shared.shape(direction)
    }

    /// Changes one direction's shape. Datagrams that arrive from now on get
    /// the new shape; datagrams already delayed keep their release time,
    /// except that a blackhole drops them too.
    pub fn set_shape(&self, direction: Direction, shape: LinkShape) {
        self.shared.shapes[direction.index()].send_replace(shape);
    }

    /// Cuts the link in both directions (`true`) or restores it. While cut,
    /// every datagram is dropped, including those already waiting in the
    /// link. Independent of the shapes' own `blackhole`, which cuts one
    /// direction.
    pub fn set_blackhole(&self, on: bool) {
        self.shared.blackhole.store(on, Ordering::SeqCst);
    }

    /// Whether [`Relay::set_blackhole`] has cut the link.
    pub fn is_blackholed(&self) -> bool {
        self.shared.blackhole.load(Ordering::SeqCst)
    }

    /// What the relay has done so far.
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            up: self.shared.counters[Direction::Up.index()].snapshot(),
            down: self.shared.counters[Direction::Down.index()].snapshot(),
            clients: self.shared.clients.load(Ordering::SeqCst),
        }
    }

    /// Stops relaying and closes the sockets. Datagrams still in the link
    /// are discarded without being counted. Calling it again does nothing.
    pub fn shutdown(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// State shared by the relay handle and its tasks.
struct Shared {
    shapes: [watch::Sender<LinkShape>; 2],
    blackhole: AtomicBool,
    counters: [Counters; 2],
    clients: AtomicUsize,
    /// Origin of the millisecond clock used for idle mappings.
    epoch: Instant,
}

impl Shared {
    fn shape(&self, direction: Direction) -> LinkShape {
        *self.shapes[direction.index()].borrow()
    }

    fn counters(&self, direction: Direction) -> &Counters {
        &self.counters[direction.index()]
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A datagram on its way through one direction.
struct Datagram {
    arrived: Instant,
    data: Vec<u8>,
    /// The socket it leaves by, and where to.
    socket: Arc<UdpSocket>,
    to: SocketAddr,
}

/// Hands a datagram just read from a socket to its direction's link.
fn hand_over(
    shared: &Shared,
    direction: Direction,
    link: &mpsc::Sender<Datagram>,
    datagram: Datagram,
) {
    let counters = shared.counters(direction);
    let len = datagram.data.len();
    counters.received(len);
    if link.try_send(datagram).is_err() {
        counters.overflowed(len);
    }
}

/// The listening socket: reads from children, keeps their mappings.
struct Listener {
    shared: Arc<Shared>,
    socket: Arc<UdpSocket>,
    upstream: SocketAddr,
    up: mpsc::Sender<Datagram>,
    down: mpsc::Sender<Datagram>,
    idle_timeout: Duration,
}

/// One child's mapping: the socket that speaks for it upstream.
struct Client {
    socket: Arc<UdpSocket>,
    last_active: Arc<AtomicU64>,
    _reader: AbortOnDrop,
}

/// Aborts a task when dropped, so that dropping a mapping ends its reader.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Listener {
    async fn run(self) {
        let mut clients: HashMap<SocketAddr, Client> = HashMap::new();
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let period =
            (self.idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(5));
        let mut sweep = tokio::time::interval(period);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    let (len, from) = match received {
                        Ok(received) => received,
                        // Errors here report earlier sends (an ICMP
                        // unreachable on some systems); the socket stays usable.
                        Err(error) => {
                            tracing::debug!(%error, "relay receive failed");
                            continue;
                        }
                    };
                    let arrived = Instant::now();
                    let Some(client) = self.client(&mut clients, from).await else {
                        let counters = self.shared.counters(Direction::Up);
                        counters.received(len);
                        counters.dropped(len);
                        continue;
                    };
                    client.last_active.store(self.shared.millis(), Ordering::SeqCst);
                    let datagram = Datagram {
                        arrived,
                        data: buf[..len].to_vec(),
                        socket: client.socket.clone(),
                        to: self.upstream,
                    };
                    hand_over(&self.shared, Direction::Up, &self.up, datagram);
                }
                _ = sweep.tick() => {
                    let now = self.shared.millis();
                    let idle = u64::try_from(self.idle_timeout.as_millis()).unwrap_or(u64::MAX);
                    clients.retain(|_, client| {
                        now.saturating_sub(client.last_active.load(Ordering::SeqCst)) < idle
                    });
                    self.shared.clients.store(clients.len(), Ordering::SeqCst);
                }
            }
        }
    }

    /// The mapping for `from`, made on its first datagram.
    async fn client<'a>(
        &self,
        clients: &'a mut HashMap<SocketAddr, Client>,
        from: SocketAddr,
    ) -> Option<&'a Client> {
        match clients.entry(from) {
            Entry::Occupied(entry) => Some(entry.into_mut()),
            Entry::Vacant(entry) => {
                let bind: SocketAddr = match self.upstream {
                    SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                    SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
                };
                let socket = match UdpSocket::bind(bind).await {
                    Ok(socket) => Arc::new(socket),
                    Err(error) => {
                        tracing::warn!(client = %from, %error, "relay could not open an upstream socket");
                        return None;
                    }
                };
                let last_active = Arc::new(AtomicU64::new(self.shared.millis()));
                let reader = UpstreamReader {
                    shared: self.shared.clone(),
                    upstream_socket: socket.clone(),
                    client_socket: self.socket.clone(),
                    client: from,
                    last_active: last_active.clone(),
                    down: self.down.clone(),
                };
                let reader = AbortOnDrop(tokio::spawn(reader.run()));
                let client = entry.insert(Client {
                    socket,
                    last_active,
                    _reader: reader,
                });
                self.shared.clients.fetch_add(1, Ordering::SeqCst);
                Some(client)
            }
        }
    }
}

/// Reads replies for one child from its upstream socket.
struct UpstreamReader {
    shared: Arc<Shared>,
    upstream_socket: Arc<UdpSocket>,
    client_socket: Arc<UdpSocket>,
    client: SocketAddr,
    last_active: Arc<AtomicU64>,
    down: mpsc::Sender<Datagram>,
}

impl UpstreamReader {
    async fn run(self) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let len = match self.upstream_socket.recv_from(&mut buf).await {
                Ok((len, _)) => len,
                Err(error) => {
                    tracing::debug!(client = %self.client, %error, "relay upstream receive failed");
                    continue;
                }
            };
            let arrived = Instant::now();
            self.last_active
                .store(self.shared.millis(), Ordering::SeqCst);
            let datagram = Datagram {
                arrived,
                data: buf[..len].to_vec(),
                socket: self.client_socket.clone(),
                to: self.client,
            };
            hand_over(&self.shared, Direction::Down, &self.down, datagram);
        }
    }
}

/// A copy waiting in the timer queue; the heap pops the earliest release
/// first, and copies released at the same time in arrival order.
struct Pending {
    release: Instant,
    seq: u64,
    datagram: Datagram,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.release, self.seq) == (other.release, other.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.release, other.seq).cmp(&(self.release, self.seq))
    }
}

/// One direction of the link: admits datagrams through the fault model and
/// sends each copy when its release time comes.
async fn run_direction(
    shared: Arc<Shared>,
    direction: Direction,
    mut incoming: mpsc::Receiver<Datagram>,
    mut model: LinkModel,
) {
    let counters = shared.counters(direction);
    let mut queue: BinaryHeap<Pending> = BinaryHeap::new();
    let mut seq: u64 = 0;
    let mut open = true;
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    loop {
        let next = queue.peek().map(|pending| pending.release);
        if let Some(next) = next {
            timer.as_mut().reset(tokio::time::Instant::from_std(next));
        } else if !open {
            return;
        }
        tokio::select! {
            received = incoming.recv(), if open => match received {
                Some(datagram) => {
                    let len = datagram.data.len();
                    let mut shape = shared.shape(direction);
                    shape.blackhole |= shared.blackhole.load(Ordering::SeqCst);
                    let Admission { original, duplicate } = model.admit(&shape, datagram.arrived, len);
                    let copy = match duplicate {
                        Some(fate) => {
                            counters.duplicated(len);
                            let copy = Datagram {
                                data: datagram.data.clone(),
                                socket: datagram.socket.clone(),
                                ..datagram
                            };
                            Some((fate, copy))
                        }
                        None => None,
                    };
                    for (fate, datagram) in std::iter::once((original, datagram)).chain(copy) {
                        match fate {
                            Fate::Release(release) => {
                                seq += 1;
                                queue.push(Pending { release, seq, datagram });
                            }
                            Fate::Overflow => counters.overflowed(len),
                            Fate::Lost | Fate::Blackholed => counters.dropped(len),
                        }
                    }
                }
                None => open = false,
            },
            () = &mut timer, if next.is_some() => {}
        }
        let now = Instant::now();
        while queue.peek().is_some_and(|pending| pending.release <= now) {
            let Some(Pending { datagram, .. }) = queue.pop() else {
                break;
            };
            let len = datagram.data.len();
            if shared.blackhole.load(Ordering::SeqCst) || shared.shape(direction).blackhole {
                counters.dropped(len);
                continue;
            }
            match datagram.socket.send_to(&datagram.data, datagram.to).await {
                Ok(_) => counters.forwarded(len),
                Err(error) => {
                    tracing::debug!(to = %datagram.to, %error, "relay send failed");
                    counters.dropped(len);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn idle_mappings_expire() {
        let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let options = Options {
            seed: Some(1),
            idle_timeout: Duration::from_millis(200),
        };
        let relay = Relay::start_with(
            "127.0.0.1:0".parse().unwrap(),
            upstream.local_addr().unwrap(),
            LinkShape::default(),
            LinkShape::default(),
            options,
        )
        .await
        .unwrap();
        let child = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        child.send_to(b"hello", relay.local_addr()).await.unwrap();
        let mut buf = [0u8; 16];
        let (_, first) = upstream.recv_from(&mut buf).await.unwrap();
        assert_eq!(relay.stats().clients, 1);
        tokio::time::timeout(Duration::from_secs(10), async {
            while relay.stats().clients != 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
        // The next datagram opens a fresh mapping with a new upstream address.
        child.send_to(b"again", relay.local_addr()).await.unwrap();
        let (_, second) = upstream.recv_from(&mut buf).await.unwrap();
        assert_ne!(first, second);
        assert_eq!(relay.stats().clients, 1);
    }
}
