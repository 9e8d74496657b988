//! Node configuration: a typed struct, layered defaults < file < environment.
//!
//! Every key is documented in `configs/default.toml`, which is also what
//! `onewindow-node default-config` prints; a test keeps the two in step.
//! Environment variables take the form `ONEWINDOW__SECTION__KEY`, for example
//! `ONEWINDOW__DATABASE__URL=postgres://...`.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The documented defaults, as printed by `default-config`.
pub const DEFAULT_TOML: &str = include_str!("../../../configs/default.toml");

/// The whole node configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who this node is.
    pub node: NodeSection,
    /// HTTP API and pages.
    pub http: HttpSection,
    /// Federation (QUIC) endpoint.
    pub federation: FederationSection,
    /// The store.
    pub database: DatabaseSection,
    /// Staff sessions and the first administrator.
    pub auth: AuthSection,
    /// Logging.
    pub log: LogSection,
    /// The node's own check of its stored log.
    pub audit: AuditSection,
    /// Text messages to applicants (the SMS gateway).
    pub sms: SmsSection,
    /// Department systems' feed and its webhooks.
    pub feed: FeedSection,
    /// Where a case event's personal section travels.
    pub privacy: PrivacySection,
    /// Peering with the roots of other trees (the root only).
    pub peering: PeeringSection,
}

/// Peering with the roots of other trees (异地通办 across trees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeeringSection {
    /// Where this root listens for the other trees' roots.
    pub listen: SocketAddr,
    /// The other trees' roots; empty: no peering.
    pub peers: Vec<PeerConfig>,
}

/// One other tree's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// That root's node id.
    pub id: String,
    /// Its peering address, host:port.
    pub addr: String,
    /// That tree's CA certificate (PEM file).
    pub ca_file: String,
    /// That root's Ed25519 signing public key (hex).
    pub public_key: String,
    /// Whether cases are handed to and taken from it.
    pub enabled: bool,
}

impl PeeringSection {
    /// The configured peer `id`, if any.
    pub fn peer(&self, id: &str) -> Option<&PeerConfig> {
        self.peers.iter().find(|p| p.id == id)
    }
}

/// Identity and place in the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// Node id: the dotted path from the root, e.g. `nanhai.guicheng.xiaping`.
    pub id: String,
    /// Tier names from the root down; the node's tier is the one at its depth.
    pub tiers: Vec<String>,
    /// Hall code printed in case numbers: 2 to 8 characters A-Z, 0-9.
    pub hall_code: String,
    /// Hall name in Chinese, printed on documents.
    pub hall_name_zh: String,
    /// Hall name in English.
    pub hall_name_en: String,
    /// The hall's address, printed on every document (none when empty).
    #[serde(default)]
    pub hall_address: String,
    /// The hall's telephone, printed on every document (none when empty).
    #[serde(default)]
    pub hall_phone: String,
    /// The body to which a non-acceptance decision may be appealed for
    /// administrative reconsideration, in Chinese and English (the
    /// decision names it when set).
    #[serde(default)]
    pub reconsideration_zh: String,
    /// See `reconsideration_zh`.
    #[serde(default)]
    pub reconsideration_en: String,
    /// The court of first instance for an administrative lawsuit against
    /// a non-acceptance decision, in Chinese and English.
    #[serde(default)]
    pub litigation_zh: String,
    /// See `litigation_zh`.
    #[serde(default)]
    pub litigation_en: String,
    /// The address at which citizens reach this hall's public pages, put
    /// in the QR code of its documents (`{public_url}/verify?d=...`); when
    /// empty, `http://` and the `[http] listen` address.
    #[serde(default)]
    pub public_url: String,
    /// The hall's document key (Ed25519, PKCS#8 in hex), with which it
    /// signs the documents it issues; when empty, `document.key` in the
    /// data folder, made at first start.
    #[serde(default)]
    pub document_key_file: String,
    /// The root's endorsement of that key (hex signature over the key and
    /// this hall's id, made by `onewindow-deploy topology bundle`); the
    /// root endorses its own key itself. Without it, the documents are
    /// signed but a verifier reports the key as not endorsed.
    #[serde(default)]
    pub document_key_endorsement: String,
    /// Folder for the SQLite file and other local data.
    pub data_dir: PathBuf,
    /// The hall's opening hours on a working day, `HH:MM-HH:MM` periods
    /// separated by commas: bookings are made in half-hour slots within
    /// them.
    #[serde(default = "default_opening_hours")]
    pub opening_hours: String,
    /// Bookings a slot takes (1 to 1,000), of all matters together.
    #[serde(default = "default_slot_capacity")]
    pub slot_capacity: u32,
    /// The largest file a citizen or a clerk may upload, in bytes (1 KiB
    /// to 16 MiB): a photo or PDF of a material with an online
    /// pre-application, or a scan attached at the window.
    #[serde(default = "default_upload_max_bytes")]
    pub upload_max_bytes: u64,
    /// The most files one pre-application may carry (0 to 20; 0 takes
    /// none).
    #[serde(default = "default_upload_max_files")]
    pub upload_max_files: u32,
    /// Bookings one window takes in one slot (1 to 1,000): a matter's
    /// places in a slot are this times the windows open for it, within
    /// `slot_capacity`.
    #[serde(default = "default_window_capacity")]
    pub window_capacity: u32,
    /// Windows open for a bookable matter's booked visitors (1 to 100),
    /// unless `matter_windows` names the matter.
    #[serde(default = "default_booking_windows")]
    pub booking_windows: u32,
    /// Windows open for named matters, `CODE:N` (N from 0 to 100; 0 takes
    /// no bookings for the matter).
    #[serde(default)]
    pub matter_windows: Vec<String>,
    /// Halls of the tree outside this hall's branch that a clerk may name
    /// to decide a cross-district matter (异地通办): usually the city's
    /// districts, and their townships for matters decided there. Each is
    /// `ID` or `ID|中文名|English name`, so the window offers names. A
    /// hall not listed (and not named in the fleet's status reports) is
    /// refused as `unknown_deciding_hall`. `onewindow-deploy topology
    /// bundle` lists the topology's halls between the root and the lowest
    /// tier outside the hall's branch, with their names.
    #[serde(default)]
    pub tree_halls: Vec<String>,
    /// No-shows (slots booked and not come to, late arrivals not counted)
    /// within `booking_no_show_days` that keep a person from booking for
    /// `booking_block_days` after the last of them; 0: no such rule.
    #[serde(default = "default_no_show_limit")]
    pub booking_no_show_limit: u32,
    /// The days within which no-shows count together (1 to 366).
    #[serde(default = "default_no_show_days")]
    pub booking_no_show_days: u32,
    /// The days a person who reached the no-show limit may not book (1 to
    /// 366).
    #[serde(default = "default_block_days")]
    pub booking_block_days: u32,
}

fn default_window_capacity() -> u32 {
    2
}

fn default_booking_windows() -> u32 {
    2
}

fn default_no_show_limit() -> u32 {
    3
}

fn default_no_show_days() -> u32 {
    30
}

fn default_block_days() -> u32 {
    30
}

impl NodeSection {
    /// The windows open for a matter's booked visitors: its own number in
    /// `matter_windows`, or `booking_windows`.
    pub fn windows_for(&self, matter: &str) -> u32 {
        self.matter_windows
            .iter()
            .filter_map(|e| parse_matter_windows(e).ok())
            .find(|(code, _)| *code == matter)
            .map_or(self.booking_windows, |(_, n)| n)
    }

    /// `tree_halls` as (node id, Chinese name, English name); a name not
    /// given is empty.
    pub fn tree_hall_entries(&self) -> Vec<(&str, &str, &str)> {
        self.tree_halls
            .iter()
            .map(|e| {
                let mut parts = e.split('|').map(str::trim);
                let id = parts.next().unwrap_or_default();
                let zh = parts.next().unwrap_or_default();
                let en = parts.next().unwrap_or_default();
                (id, zh, en)
            })
            .collect()
    }

    /// The hall's rule on repeated no-shows.
    pub fn no_show_rule(&self) -> onewindow_domain::booking::NoShowRule {
        onewindow_domain::booking::NoShowRule {
            limit: self.booking_no_show_limit,
            within_days: self.booking_no_show_days,
            block_days: self.booking_block_days,
        }
    }
}

/// One entry of `matter_windows`: `CODE:N`.
fn parse_matter_windows(entry: &str) -> Result<(&str, u32), String> {
    let (code, n) = entry
        .rsplit_once(':')
        .ok_or_else(|| format!("{entry:?} is not CODE:N"))?;
    let n: u32 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| *n <= 100)
        .ok_or_else(|| format!("{entry:?}: N must be 0 to 100"))?;
    let code = code.trim();
    if code.is_empty() {
        return Err(format!("{entry:?} names no matter"));
    }
    Ok((code, n))
}

fn default_upload_max_bytes() -> u64 {
    2 * 1024 * 1024
}

fn default_upload_max_files() -> u32 {
    6
}

/// The opening hours when none are configured.
pub const DEFAULT_OPENING_HOURS: &str = "09:00-12:00,13:30-17:30";

fn default_opening_hours() -> String {
    DEFAULT_OPENING_HOURS.to_owned()
}

fn default_slot_capacity() -> u32 {
    4
}

/// HTTP settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Listen address for the API and pages (port 0 picks a free port).
    pub listen: SocketAddr,
}

/// Federation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSection {
    /// Parent's QUIC address, host:port; empty for the root. Several
    /// addresses separated by commas (`10.1.0.5:7443,10.1.0.6:7443`) name
    /// the processes of one parent that can take over from each other: the
    /// node dials them in turn until one answers, starting with the last
    /// that did.
    pub parent_addr: String,
    /// Listen address for children's QUIC links.
    pub listen: SocketAddr,
    /// Folder with this node's certificate (node.crt), key (node.key) and
    /// the federation CA (ca.crt); empty: the node runs alone.
    pub credentials_dir: String,
    /// Children registered under this node; only they may connect.
    pub children: Vec<String>,
    /// The root's Ed25519 public key (hex); rules signed by it are trusted.
    pub root_public_key: String,
    /// The root's Ed25519 private key (PKCS#8, hex) file; the root only.
    pub signing_key_file: String,
    /// The federation CA's private key (PEM); this node then signs the
    /// certificates its subtree renews. Normally the root only.
    pub ca_key_file: String,
    /// Days a certificate renewed through this node's CA is valid.
    pub cert_days: u32,
    /// First wait before dialing the parent again (ms); it doubles on each
    /// attempt that makes no progress.
    pub reconnect_min_ms: u64,
    /// Longest wait between attempts that were not refused (ms).
    pub reconnect_max_ms: u64,
    /// Longest wait after consecutive refusals by the peer (ms): the wait
    /// doubles on each refusal up to this.
    pub refused_backoff_max_ms: u64,
    /// A session that stays up this long without a refusal counts as
    /// progress, like an acknowledged batch (ms).
    pub clean_session_ms: u64,
    /// What one peer may make this node hold.
    pub limits: LinkLimits,
}

impl FederationSection {
    /// The parent's addresses in the order they are tried (see
    /// [`FederationSection::parent_addr`]); none for the root.
    pub fn parent_addrs(&self) -> Vec<String> {
        self.parent_addr
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The per-peer memory budget of a link: what each peer (a parent, or each
/// child) may make this node hold at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkLimits {
    /// Largest frame (bytes); a larger one is refused from its header,
    /// before it is read.
    pub max_frame_bytes: u32,
    /// Bytes the peer may send on a stream beyond what this node has read.
    pub stream_receive_window: u32,
    /// Bytes the peer may send on a connection beyond what this node has
    /// read.
    pub connection_receive_window: u32,
    /// Decoded frames waiting to be applied.
    pub reader_queue_frames: u32,
    /// Most entries in one batch (received, and sent).
    pub max_batch_entries: u32,
    /// Longest node id, software version, stream name or refusal code
    /// (bytes).
    pub max_name_bytes: u32,
    /// Longest refusal message (bytes).
    pub max_text_bytes: u32,
    /// Longest query or answer (bytes).
    pub max_query_bytes: u32,
}

impl LinkLimits {
    /// The bounds of what a peer's messages may hold.
    pub fn wire(&self) -> federation::replication::Limits {
        federation::replication::Limits {
            max_name: self.max_name_bytes as usize,
            max_text: self.max_text_bytes as usize,
            max_query: self.max_query_bytes as usize,
            max_entries: self.max_batch_entries as usize,
        }
    }

    /// The transport's settings with these receive windows.
    pub fn transport(&self) -> federation::transport::TransportConfig {
        federation::transport::TransportConfig {
            stream_receive_window: self.stream_receive_window,
            connection_receive_window: self.connection_receive_window,
            ..Default::default()
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        const KIB: u32 = 1024;
        const MIB: u32 = 1024 * KIB;
        let max_frame = u32::try_from(federation::transport::MAX_FRAME).unwrap_or(u32::MAX);
        let checks: [(&'static str, u32, u32, u32); 8] = [
            (
                "federation.limits.max_frame_bytes",
                self.max_frame_bytes,
                64 * KIB,
                max_frame,
            ),
            (
                "federation.limits.stream_receive_window",
                self.stream_receive_window,
                64 * KIB,
                256 * MIB,
            ),
            (
                "federation.limits.connection_receive_window",
                self.connection_receive_window,
                64 * KIB,
                1024 * MIB,
            ),
            (
                "federation.limits.reader_queue_frames",
                self.reader_queue_frames,
                1,
                256,
            ),
            (
                "federation.limits.max_batch_entries",
                self.max_batch_entries,
                1,
                100_000,
            ),
            (
                "federation.limits.max_name_bytes",
                self.max_name_bytes,
                64,
                4 * KIB,
            ),
            (
                "federation.limits.max_text_bytes",
                self.max_text_bytes,
                256,
                MIB,
            ),
            (
                "federation.limits.max_query_bytes",
                self.max_query_bytes,
                4 * KIB,
                self.max_frame_bytes,
            ),
        ];
        for (key, v, lo, hi) in checks {
            if !(lo..=hi).contains(&v) {
                return Err(ConfigError::Invalid {
                    key,
                    problem: format!("{v} 超出范围 {lo} 到 {hi}; {v} is outside {lo} to {hi}"),
                });
            }
        }
        if self.stream_receive_window > self.connection_receive_window {
            return Err(ConfigError::Invalid {
                key: "federation.limits.stream_receive_window",
                problem: "不能大于 connection_receive_window; must not be larger than connection_receive_window".into(),
            });
        }
        Ok(())
    }
}

/// Store settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite://PATH` or `postgres://...`; empty means `<data_dir>/node.db`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// SQLite `synchronous`: `full` (fsync every commit) or `normal`.
    pub sqlite_synchronous: String,
    /// SQLite page cache of each pooled connection, in KiB (64 to 1 GiB).
    /// The caches fill as the store grows and are then reused, so this
    /// times `max_connections` bounds the store's share of the hall's
    /// memory.
    pub sqlite_cache_kib: u32,
    /// Case rows the writer keeps as it committed them, so that a case's
    /// next event is folded onto its row without reading it again (1 to
    /// 1,000,000). Each holds the whole case, a few KiB; a village's
    /// writes need far fewer than a township's.
    pub case_cache_rows: u32,
}

/// Authentication settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// Session lifetime in minutes.
    pub session_minutes: u32,
    /// Username of the administrator created on first start.
    pub bootstrap_admin: String,
    /// Password of that administrator; empty: generate one and print it once.
    pub bootstrap_password: String,
    /// File holding that password (wins over `bootstrap_password`).
    pub bootstrap_password_file: String,
    /// Failed logins of one account within `lockout_minutes` that lock it.
    pub lockout_failures: u32,
    /// Failed logins from one address (on any accounts) within
    /// `lockout_minutes` that lock the address.
    pub lockout_address_failures: u32,
    /// The window that failures are counted in, and how long a lockout lasts.
    pub lockout_minutes: u32,
}

/// The node's own check of its stored log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// Seconds between walks of the stored log (0: never).
    pub self_check_secs: u64,
    /// Hours after which a case handed up is recorded as forwarded late
    /// when it reaches the hall that decides it.
    pub late_forwarding_hours: u32,
}

/// Text messages to applicants: the gateway that sends them and how the
/// outbox is retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSection {
    /// The gateway's `http://` URL, which takes a JSON POST `{"to",
    /// "text", "id"}`; empty: none (messages stay queued).
    pub gateway_url: String,
    /// A bearer token for the gateway; empty: none.
    pub gateway_token: String,
    /// How long one delivery may take (ms).
    pub timeout_ms: u64,
    /// How often the sender looks for due messages (ms).
    pub poll_ms: u64,
    /// The wait after a first failed attempt (ms); doubled after each.
    pub retry_min_ms: u64,
    /// The longest wait between attempts (ms).
    pub retry_max_ms: u64,
    /// Attempts after which a message is given up.
    pub max_attempts: u32,
}

/// Department systems' feed of case events (`GET /api/v1/feed`) and the
/// webhooks that push it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSection {
    /// The most items a page of the feed may ask for (`limit`).
    pub page_max: u32,
    /// The items of a page when `limit` is not given.
    pub page_default: u32,
    /// The most items one webhook delivery carries.
    pub webhook_batch: u32,
    /// How often the deliverer looks for new items and due retries (ms).
    pub webhook_poll_ms: u64,
    /// How long one delivery may take (ms).
    pub webhook_timeout_ms: u64,
    /// The wait after a first failed delivery (ms); doubled after each.
    pub webhook_retry_min_ms: u64,
    /// The longest wait between attempts (ms).
    pub webhook_retry_max_ms: u64,
    /// Failed attempts after which a delivery becomes a dead letter.
    pub webhook_max_attempts: u32,
}

/// Where a case event's personal section travels: besides the halls that
/// accept, hold or held the case, the halls named here get it whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySection {
    /// Tier names (of `node.tiers`) or node ids of halls that always get
    /// the personal sections of the cases below them (an archive tier);
    /// empty: none.
    pub personal_data_at: Vec<String>,
    /// Seconds between looks for withheld sections of the cases this hall
    /// holds now, which it fetches from below (1 to 86400).
    pub fill_secs: u64,
    /// The tree's key (64 hex digits, the same at every hall) under which
    /// a case's applicant ID number is digested into the open part of its
    /// `received` event; empty: no digest is written.
    pub id_digest_key: String,
    /// Days after a case is closed that its personal sections are kept
    /// (1 to 36500), unless `retention_matters` names its matter.
    pub retention_days: u32,
    /// Retention of named matters, `"CODE:DAYS"` (DAYS 1 to 36500).
    pub retention_matters: Vec<String>,
    /// Seconds between purges of the personal sections kept past their
    /// retention (60 to 604800).
    pub purge_secs: u64,
}

impl PrivacySection {
    /// Days a closed case of `matter` keeps its personal sections.
    pub fn retention_days_of(&self, matter: &str) -> u32 {
        self.retention_matters
            .iter()
            .filter_map(|e| parse_retention(e).ok())
            .find(|(code, _)| *code == matter)
            .map_or(self.retention_days, |(_, d)| d)
    }
}

/// One entry of `retention_matters`: `CODE:DAYS`.
fn parse_retention(entry: &str) -> Result<(&str, u32), String> {
    let (code, n) = entry
        .rsplit_once(':')
        .ok_or_else(|| format!("{entry:?} is not CODE:DAYS"))?;
    let n: u32 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=36_500).contains(n))
        .ok_or_else(|| format!("{entry:?}: DAYS must be 1 to 36500"))?;
    let code = code.trim();
    if code.is_empty() {
        return Err(format!("{entry:?} names no matter"));
    }
    Ok((code, n))
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `onewindow_node=debug,info`.
    pub filter: String,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config crate could not read or merge the sources.
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value is out of range.
    #[error("configuration key {key}: {problem}")]
    Invalid {
        /// Key.
        key: &'static str,
        /// Problem.
        problem: String,
    },
}

impl Default for Config {
    fn default() -> Self {
        match toml::from_str(DEFAULT_TOML) {
            Ok(c) => c,
            Err(e) => panic!("configs/default.toml does not parse: {e}"),
        }
    }
}

/// `configs/default.toml` as a source of `config`, read once.
fn built_in_defaults() -> &'static config::Config {
    static DEFAULTS: std::sync::OnceLock<config::Config> = std::sync::OnceLock::new();
    DEFAULTS.get_or_init(|| {
        match config::Config::builder()
            .add_source(config::File::from_str(
                DEFAULT_TOML,
                config::FileFormat::Toml,
            ))
            .build()
        {
            Ok(c) => c,
            Err(e) => panic!("configs/default.toml does not parse: {e}"),
        }
    })
}

/// Refuses a configuration file that is not UTF-8 TOML, or that names a
/// key other than letters, digits, `_` and `-`, before the `config` crate
/// reads it: that crate reads a key such as `"i[1510230205]"` as an index
/// and grows a list to it, which ends the process for want of memory
/// (found by the `config` fuzz target). No key of a node's configuration
/// has any other character, so nothing usable is refused.
fn check_keys(file: &Path) -> Result<(), ConfigError> {
    let invalid = |problem: String| ConfigError::Invalid {
        key: "file",
        problem: format!("{}: {problem}", file.display()),
    };
    // Unreadable files are left to the `config` crate, which names them.
    let Ok(bytes) = std::fs::read(file) else {
        return Ok(());
    };
    let text = String::from_utf8(bytes).map_err(|e| invalid(format!("not UTF-8 text: {e}")))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    fn walk(value: &toml::Value, path: &str) -> Result<(), String> {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let here = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if k.is_empty()
                        || !k
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    {
                        return Err(format!(
                            "key {here:?} is not a configuration key (letters, digits, _ and - only)"
                        ));
                    }
                    walk(v, &here)?;
                }
                Ok(())
            }
            toml::Value::Array(items) => items.iter().try_for_each(|v| walk(v, path)),
            _ => Ok(()),
        }
    }
    walk(&toml::Value::Table(table), "").map_err(invalid)
}

impl Config {
    /// Loads defaults, then `file` if given, then `ONEWINDOW__*` variables.
    ///
    /// Relative paths of the defaults and the file (the data folder, the
    /// credentials, the signing key, the password file, an SQLite URL) are
    /// the file's folder's, whatever the working directory: a node started
    /// from anywhere finds its bundle. Paths given by environment variables
    /// are the working directory's, as on a command line. Without a file,
    /// every relative path is the working directory's.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let defaults = || built_in_defaults().clone();
        let mut b = config::Config::builder().add_source(defaults());
        if let Some(f) = file {
            check_keys(f)?;
            let mut from_file: Config = config::Config::builder()
                .add_source(defaults())
                .add_source(config::File::from(f).format(config::FileFormat::Toml))
                .build()?
                .try_deserialize()?;
            let folder = std::path::absolute(f)
                .ok()
                .and_then(|a| a.parent().map(Path::to_path_buf))
                .unwrap_or_default();
            from_file.resolve_paths(&folder);
            let text = toml::to_string(&from_file).map_err(|e| ConfigError::Invalid {
                key: "node",
                problem: format!("the file's values cannot be written back: {e}"),
            })?;
            b = b.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        b = b.add_source(
            config::Environment::with_prefix("ONEWINDOW")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("node.tiers")
                .with_list_parse_key("federation.children")
                .with_list_parse_key("node.tree_halls")
                .with_list_parse_key("privacy.personal_data_at")
                .with_list_parse_key("privacy.retention_matters")
                .try_parsing(true),
        );
        let cfg: Config = b.build()?.try_deserialize()?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Makes every relative path of this configuration `folder`'s.
    pub fn resolve_paths(&mut self, folder: &Path) {
        let join = |p: &str| -> String {
            if p.is_empty() || Path::new(p).is_absolute() {
                p.to_owned()
            } else {
                folder.join(p).display().to_string()
            }
        };
        if self.node.data_dir.is_relative() {
            self.node.data_dir = folder.join(&self.node.data_dir);
        }
        self.federation.credentials_dir = join(&self.federation.credentials_dir);
        self.federation.signing_key_file = join(&self.federation.signing_key_file);
        self.node.document_key_file = join(&self.node.document_key_file);
        self.federation.ca_key_file = join(&self.federation.ca_key_file);
        self.auth.bootstrap_password_file = join(&self.auth.bootstrap_password_file);
        for p in &mut self.peering.peers {
            p.ca_file = join(&p.ca_file);
        }
        self.database.url = resolve_sqlite_url(&self.database.url, folder);
    }

    /// Checks ranges and formats.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| ConfigError::Invalid {
            key,
            problem: problem.to_owned(),
        };
        let id = federation::NodeId::new(self.node.id.clone())
            .map_err(|e| invalid("node.id", &e.to_string()))?;
        if self.node.tiers.is_empty() {
            return Err(invalid("node.tiers", "at least one tier is needed"));
        }
        if id.depth() >= self.node.tiers.len() {
            return Err(invalid(
                "node.tiers",
                "the node is deeper in the tree than there are tiers",
            ));
        }
        onewindow_domain::booking::OpeningHours::parse(&self.node.opening_hours)
            .map_err(|e| invalid("node.opening_hours", &e))?;
        if !(1..=1000).contains(&self.node.slot_capacity) {
            return Err(invalid("node.slot_capacity", "must be 1 to 1000"));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.node.upload_max_bytes) {
            return Err(invalid("node.upload_max_bytes", "must be 1024 to 16777216"));
        }
        if self.node.upload_max_files > 20 {
            return Err(invalid("node.upload_max_files", "must be 0 to 20"));
        }
        if !(1..=1000).contains(&self.node.window_capacity) {
            return Err(invalid("node.window_capacity", "must be 1 to 1000"));
        }
        if !(1..=100).contains(&self.node.booking_windows) {
            return Err(invalid("node.booking_windows", "must be 1 to 100"));
        }
        for e in &self.node.matter_windows {
            parse_matter_windows(e).map_err(|p| invalid("node.matter_windows", &p))?;
        }
        for (e, (id, ..)) in self
            .node
            .tree_halls
            .iter()
            .zip(self.node.tree_hall_entries())
        {
            if federation::NodeId::new(id).is_err() || e.split('|').count() > 3 {
                return Err(invalid(
                    "node.tree_halls",
                    &format!("{e:?} is not ID or ID|中文名|English name"),
                ));
            }
        }
        for (key, days) in [
            ("node.booking_no_show_days", self.node.booking_no_show_days),
            ("node.booking_block_days", self.node.booking_block_days),
        ] {
            if !(1..=366).contains(&days) {
                return Err(invalid(key, "must be 1 to 366"));
            }
        }
        let hc = &self.node.hall_code;
        if !(2..=8).contains(&hc.len())
            || !hc
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(invalid("node.hall_code", "2 to 8 characters A-Z, 0-9"));
        }
        if !matches!(self.database.sqlite_synchronous.as_str(), "full" | "normal") {
            return Err(invalid("database.sqlite_synchronous", "full or normal"));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if !(64..=1 << 20).contains(&self.database.sqlite_cache_kib) {
            return Err(invalid("database.sqlite_cache_kib", "64 to 1048576"));
        }
        if !(1..=1_000_000).contains(&self.database.case_cache_rows) {
            return Err(invalid("database.case_cache_rows", "1 to 1000000"));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "text or json"));
        }
        if self.auth.session_minutes == 0 {
            return Err(invalid("auth.session_minutes", "must be at least 1"));
        }
        if !(1..=1000).contains(&self.auth.lockout_failures) {
            return Err(invalid("auth.lockout_failures", "1 to 1000"));
        }
        if !(1..=100_000).contains(&self.auth.lockout_address_failures) {
            return Err(invalid("auth.lockout_address_failures", "1 to 100000"));
        }
        if !(1..=10_080).contains(&self.auth.lockout_minutes) {
            return Err(invalid("auth.lockout_minutes", "1 to 10080 (a week)"));
        }
        if !(1..=720).contains(&self.audit.late_forwarding_hours) {
            return Err(invalid("audit.late_forwarding_hours", "1 to 720 (30 days)"));
        }
        if self.audit.self_check_secs > 604_800 {
            return Err(invalid(
                "audit.self_check_secs",
                "0 (never) or 1 to 604800 (a week)",
            ));
        }
        let sms = &self.sms;
        if !(100..=120_000).contains(&sms.timeout_ms) {
            return Err(invalid("sms.timeout_ms", "100 to 120000"));
        }
        if !(10..=3_600_000).contains(&sms.poll_ms) {
            return Err(invalid("sms.poll_ms", "10 to 3600000"));
        }
        if !(10..=3_600_000).contains(&sms.retry_min_ms) {
            return Err(invalid("sms.retry_min_ms", "10 to 3600000"));
        }
        if !(sms.retry_min_ms..=86_400_000).contains(&sms.retry_max_ms) {
            return Err(invalid("sms.retry_max_ms", "retry_min_ms to 86400000"));
        }
        if !(1..=100).contains(&sms.max_attempts) {
            return Err(invalid("sms.max_attempts", "1 to 100"));
        }
        let u = sms.gateway_url.trim();
        // The node's HTTP client is built without TLS: a gateway is reached
        // over plain HTTP (on the hall's network, or through a local relay).
        if !(u.is_empty() || u.starts_with("http://")) {
            return Err(invalid("sms.gateway_url", "empty, or an http:// URL"));
        }
        let feed = &self.feed;
        if !(1..=10_000).contains(&feed.page_max) {
            return Err(invalid("feed.page_max", "1 to 10000"));
        }
        if !(1..=feed.page_max).contains(&feed.page_default) {
            return Err(invalid("feed.page_default", "1 to page_max"));
        }
        if !(1..=feed.page_max).contains(&feed.webhook_batch) {
            return Err(invalid("feed.webhook_batch", "1 to page_max"));
        }
        if !(10..=3_600_000).contains(&feed.webhook_poll_ms) {
            return Err(invalid("feed.webhook_poll_ms", "10 to 3600000"));
        }
        if !(100..=120_000).contains(&feed.webhook_timeout_ms) {
            return Err(invalid("feed.webhook_timeout_ms", "100 to 120000"));
        }
        if !(10..=3_600_000).contains(&feed.webhook_retry_min_ms) {
            return Err(invalid("feed.webhook_retry_min_ms", "10 to 3600000"));
        }
        if !(feed.webhook_retry_min_ms..=86_400_000).contains(&feed.webhook_retry_max_ms) {
            return Err(invalid(
                "feed.webhook_retry_max_ms",
                "webhook_retry_min_ms to 86400000",
            ));
        }
        if !(1..=1000).contains(&feed.webhook_max_attempts) {
            return Err(invalid("feed.webhook_max_attempts", "1 to 1000"));
        }
        for name in &self.privacy.personal_data_at {
            if !self.node.tiers.contains(name) && federation::NodeId::new(name.clone()).is_err() {
                return Err(invalid(
                    "privacy.personal_data_at",
                    "tier names of node.tiers or node ids",
                ));
            }
        }
        let key = self.privacy.id_digest_key.trim();
        if !(key.is_empty() || (key.len() == 64 && hex::decode(key).is_ok())) {
            return Err(invalid(
                "privacy.id_digest_key",
                "empty, or 64 hex digits (32 bytes)",
            ));
        }
        if !(1..=36_500).contains(&self.privacy.retention_days) {
            return Err(invalid("privacy.retention_days", "1 to 36500"));
        }
        for e in &self.privacy.retention_matters {
            parse_retention(e).map_err(|p| invalid("privacy.retention_matters", &p))?;
        }
        if !(60..=604_800).contains(&self.privacy.purge_secs) {
            return Err(invalid("privacy.purge_secs", "60 to 604800 (a week)"));
        }
        if !(1..=86_400).contains(&self.privacy.fill_secs) {
            return Err(invalid("privacy.fill_secs", "1 to 86400 (a day)"));
        }
        let f = &self.federation;
        if !(10..=60_000).contains(&f.reconnect_min_ms) {
            return Err(invalid("federation.reconnect_min_ms", "10 to 60000"));
        }
        if !(f.reconnect_min_ms..=3_600_000).contains(&f.reconnect_max_ms) {
            return Err(invalid(
                "federation.reconnect_max_ms",
                "reconnect_min_ms to 3600000",
            ));
        }
        if !(f.reconnect_min_ms..=86_400_000).contains(&f.refused_backoff_max_ms) {
            return Err(invalid(
                "federation.refused_backoff_max_ms",
                "reconnect_min_ms to 86400000",
            ));
        }
        if !(1..=3650).contains(&f.cert_days) {
            return Err(invalid("federation.cert_days", "1 to 3650"));
        }
        if !f.ca_key_file.is_empty() && f.credentials_dir.is_empty() {
            return Err(invalid(
                "federation.ca_key_file",
                "needs credentials_dir, whose ca.crt is the CA's certificate",
            ));
        }
        for addr in f.parent_addrs() {
            let port = addr
                .rsplit_once(':')
                .map(|(host, port)| (host, port.parse::<u16>()));
            if !matches!(port, Some((host, Ok(p))) if !host.is_empty() && p != 0) {
                return Err(invalid(
                    "federation.parent_addr",
                    "host:port, or several separated by commas",
                ));
            }
        }
        if !(100..=3_600_000).contains(&f.clean_session_ms) {
            return Err(invalid("federation.clean_session_ms", "100 to 3600000"));
        }
        f.limits.validate()?;
        self.validate_peering(&id)?;
        Ok(())
    }

    fn validate_peering(&self, id: &federation::NodeId) -> Result<(), ConfigError> {
        let invalid = |problem: String| ConfigError::Invalid {
            key: "peering.peers",
            problem,
        };
        let peers = &self.peering.peers;
        if peers.is_empty() {
            return Ok(());
        }
        if id.depth() != 0 {
            return Err(invalid("only the root of a tree peers".into()));
        }
        if self.federation.credentials_dir.is_empty() || self.federation.signing_key_file.is_empty()
        {
            return Err(invalid(
                "peering needs federation.credentials_dir and federation.signing_key_file".into(),
            ));
        }
        for (i, p) in peers.iter().enumerate() {
            let root = federation::NodeId::new(p.id.clone()).ok();
            if root.is_none_or(|r| r.depth() != 0) || p.id == id.as_str() {
                return Err(invalid(format!(
                    "{:?} is not the root of another tree",
                    p.id
                )));
            }
            if peers[..i].iter().any(|q| q.id == p.id) {
                return Err(invalid(format!("{} is listed twice", p.id)));
            }
            let port = p
                .addr
                .rsplit_once(':')
                .map(|(host, port)| (host, port.parse::<u16>()));
            if !matches!(port, Some((host, Ok(n))) if !host.is_empty() && n != 0) {
                return Err(invalid(format!("{}: addr is not host:port", p.id)));
            }
            if p.ca_file.is_empty() {
                return Err(invalid(format!("{}: ca_file is empty", p.id)));
            }
            let key = p.public_key.trim();
            if key.len() != 64 || hex::decode(key).is_err() {
                return Err(invalid(format!(
                    "{}: public_key is not 64 hex digits",
                    p.id
                )));
            }
        }
        Ok(())
    }

    /// The node id (validated by [`Config::validate`]).
    pub fn node_id(&self) -> federation::NodeId {
        federation::NodeId::new(self.node.id.clone()).unwrap_or_else(|_| {
            federation::NodeId::new("invalid").unwrap_or_else(|_| unreachable!())
        })
    }

    /// This node's tier name.
    pub fn tier(&self) -> &str {
        let depth = self.node_id().depth();
        self.node.tiers.get(depth).map_or("", String::as_str)
    }

    /// The database URL, defaulting to an SQLite file in the data folder.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.node.data_dir.join("node.db").display()
            )
        } else {
            self.database.url.clone()
        }
    }

    /// The bootstrap administrator's password, from the file or the value.
    pub fn bootstrap_password(&self) -> std::io::Result<Option<String>> {
        if !self.auth.bootstrap_password_file.is_empty() {
            let s = std::fs::read_to_string(&self.auth.bootstrap_password_file)?;
            return Ok(Some(s.trim_end_matches(['\n', '\r']).to_owned()));
        }
        Ok(Some(self.auth.bootstrap_password.clone()).filter(|s| !s.is_empty()))
    }
}

/// An SQLite URL whose relative file path is made `folder`'s; any other
/// URL (PostgreSQL, an in-memory database, an absolute path) unchanged.
fn resolve_sqlite_url(url: &str, folder: &Path) -> String {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return url.to_owned();
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" || Path::new(path).is_absolute() {
        return url.to_owned();
    }
    let mut out = format!("sqlite://{}", folder.join(path).display());
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_validate() {
        let c = Config::default();
        c.validate().expect("defaults are valid");
        assert_eq!(c.tier(), "district");
    }

    #[test]
    fn sms_settings_out_of_range_are_refused() {
        let ok = Config::default();
        assert!(ok.sms.gateway_url.is_empty(), "no gateway by default");
        let mut c = ok.clone();
        c.sms.gateway_url = "http://127.0.0.1:9000/send".into();
        c.validate().expect("an http gateway is valid");
        let bad: [fn(&mut Config); 4] = [
            |c| c.sms.gateway_url = "https://sms.example/send".into(),
            |c| c.sms.retry_max_ms = c.sms.retry_min_ms - 1,
            |c| c.sms.max_attempts = 0,
            |c| c.sms.poll_ms = 0,
        ];
        for change in bad {
            let mut c = ok.clone();
            change(&mut c);
            assert!(c.validate().is_err(), "{:?}", c.sms);
        }
    }

    #[test]
    fn tree_halls_are_ids_with_names_or_without() {
        let mut c = Config::default();
        c.node.tree_halls = vec![
            "foshan.shunde|顺德区行政服务中心|Shunde District Hall".into(),
            "foshan.chancheng".into(),
        ];
        c.validate().expect("both forms are valid");
        assert_eq!(
            c.node.tree_hall_entries(),
            [
                (
                    "foshan.shunde",
                    "顺德区行政服务中心",
                    "Shunde District Hall"
                ),
                ("foshan.chancheng", "", ""),
            ]
        );
        for bad in ["Foshan Shunde|顺德", "foshan.shunde|a|b|c", ""] {
            c.node.tree_halls = vec![bad.into()];
            assert!(c.validate().is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn feed_settings_out_of_range_are_refused() {
        let ok = Config::default();
        ok.validate().expect("the default [feed] is valid");
        let bad: [fn(&mut Config); 7] = [
            |c| c.feed.page_max = 0,
            |c| c.feed.page_default = c.feed.page_max + 1,
            |c| c.feed.webhook_batch = 0,
            |c| c.feed.webhook_batch = c.feed.page_max + 1,
            |c| c.feed.webhook_retry_max_ms = c.feed.webhook_retry_min_ms - 1,
            |c| c.feed.webhook_max_attempts = 0,
            |c| c.feed.webhook_poll_ms = 0,
        ];
        for change in bad {
            let mut c = ok.clone();
            change(&mut c);
            assert!(c.validate().is_err(), "{:?}", c.feed);
        }
    }

    #[test]
    fn privacy_settings_name_tiers_or_halls_within_range() {
        let ok = Config::default();
        assert!(ok.privacy.personal_data_at.is_empty(), "none by default");
        let mut c = ok.clone();
        c.privacy.personal_data_at = vec!["district".into(), "nanhai.dali".into()];
        c.validate().expect("a tier and a hall are valid");
        c.privacy.retention_matters = vec!["NH-GA-005:30".into()];
        c.validate().expect("a matter's retention is valid");
        assert_eq!(c.privacy.retention_days_of("NH-GA-005"), 30);
        assert_eq!(
            c.privacy.retention_days_of("NH-GA-006"),
            ok.privacy.retention_days
        );
        let bad: [fn(&mut Config); 9] = [
            |c| c.privacy.retention_days = 0,
            |c| c.privacy.retention_matters = vec!["NH-GA-005".into()],
            |c| c.privacy.retention_matters = vec!["NH-GA-005:0".into()],
            |c| c.privacy.purge_secs = 59,
            |c| c.privacy.id_digest_key = "ab".into(),
            |c| c.privacy.id_digest_key = "g".repeat(64),
            |c| c.privacy.personal_data_at = vec!["not a hall".into()],
            |c| c.privacy.fill_secs = 0,
            |c| c.privacy.fill_secs = 86_401,
        ];
        for change in bad {
            let mut c = ok.clone();
            change(&mut c);
            assert!(c.validate().is_err(), "{:?}", c.privacy);
        }
    }

    #[test]
    fn a_parent_may_have_several_addresses() {
        let mut c = Config::default();
        c.node.id = "nanhai.guicheng".into();
        c.federation.parent_addr = " 10.1.0.5:7443, district-b.example:7443 ,".into();
        c.validate().expect("two addresses are valid");
        assert_eq!(
            c.federation.parent_addrs(),
            ["10.1.0.5:7443", "district-b.example:7443"]
        );
        for bad in ["10.1.0.5", "10.1.0.5:7443,10.1.0.6", ":7443", "a:0", "a:x"] {
            c.federation.parent_addr = bad.into();
            let e = c.validate().expect_err(bad);
            assert!(
                e.to_string().contains("federation.parent_addr"),
                "{bad}: {e}"
            );
        }
        c.federation.parent_addr = String::new();
        assert!(c.federation.parent_addrs().is_empty());
    }

    #[test]
    fn every_key_is_documented() {
        // Every line `key = value` in the file is preceded by a `#` comment.
        let mut prev_comment = false;
        for line in DEFAULT_TOML.lines().map(str::trim) {
            if line.starts_with('#') {
                prev_comment = true;
            } else if line.contains(" = ") {
                assert!(prev_comment, "undocumented key: {line}");
                prev_comment = false;
            } else {
                prev_comment = false;
            }
        }
        // And the file names every field: unknown or missing keys fail to parse.
        let v: toml::Value = toml::from_str(DEFAULT_TOML).expect("toml");
        let back = toml::Value::try_from(Config::default()).expect("serialise");
        assert_eq!(v, back);
    }

    /// The default configuration with `f` applied is refused under `key`.
    fn refused(f: impl FnOnce(&mut Config), key: &str) {
        let mut c = Config::default();
        f(&mut c);
        match c.validate() {
            Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}: {other:?}"),
        }
    }

    #[test]
    fn bad_values_are_refused() {
        let mut c = Config::default();
        c.node.hall_code = "nh".into();
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.node.id = "a.b.c.d".into();
        assert!(c.validate().is_err());
        for kib in [0, 63, (1 << 20) + 1] {
            refused(
                |c| c.database.sqlite_cache_kib = kib,
                "database.sqlite_cache_kib",
            );
        }
        assert_eq!(Config::default().database.sqlite_cache_kib, 1024);
        for rows in [0, 1_000_001] {
            refused(
                |c| c.database.case_cache_rows = rows,
                "database.case_cache_rows",
            );
        }
        assert_eq!(
            Config::default().database.case_cache_rows as usize,
            onewindow_store::CASE_CACHE_ROWS
        );
    }

    #[test]
    fn a_file_with_a_key_that_is_not_a_name_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("node.toml");
        // The `config` crate reads the quoted table name as an index and
        // grows a list of 1.5 billion values for it.
        for (text, needle) in [
            (&b"[ \"i[1510230205 \t]\"]\n"[..], "not a configuration key"),
            (b"[node]\n\"id.x\" = 1\n", "not a configuration key"),
            (b"# \xff\n[node]\n", "not UTF-8"),
            (b"[node\n", "file"),
        ] {
            std::fs::write(&path, text).expect("write");
            match Config::load(Some(&path)) {
                Err(e @ ConfigError::Invalid { key: "file", .. }) => {
                    assert!(e.to_string().contains(needle), "{e}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        std::fs::write(&path, "[database]\nmax_connections = 3\n").expect("write");
        assert_eq!(
            Config::load(Some(&path))
                .expect("a plain file loads")
                .database
                .max_connections,
            3
        );
    }

    #[test]
    fn link_limits_are_in_the_defaults_and_absurd_ones_refused() {
        let c = Config::default();
        let l = &c.federation.limits;
        assert_eq!(l.max_frame_bytes as usize, federation::transport::MAX_FRAME);
        assert_eq!(l.wire(), federation::replication::Limits::default());
        let t = l.transport();
        let d = federation::transport::TransportConfig::default();
        assert_eq!(t.stream_receive_window, d.stream_receive_window);
        assert_eq!(t.connection_receive_window, d.connection_receive_window);
        assert_eq!(l.reader_queue_frames, 4);
        refused(
            |c| c.federation.limits.max_frame_bytes = 1 << 30,
            "federation.limits.max_frame_bytes",
        );
        refused(
            |c| c.federation.limits.max_frame_bytes = 10,
            "federation.limits.max_frame_bytes",
        );
        refused(
            |c| c.federation.limits.reader_queue_frames = 0,
            "federation.limits.reader_queue_frames",
        );
        refused(
            |c| c.federation.limits.max_batch_entries = 0,
            "federation.limits.max_batch_entries",
        );
        refused(
            |c| c.federation.limits.stream_receive_window = 8 << 20,
            "federation.limits.stream_receive_window",
        );
        refused(
            |c| c.federation.limits.max_query_bytes = 32 << 20,
            "federation.limits.max_query_bytes",
        );
        refused(
            |c| c.federation.refused_backoff_max_ms = 1,
            "federation.refused_backoff_max_ms",
        );
    }

    #[test]
    fn relative_paths_in_a_file_are_its_folders() {
        let dir = tempfile::tempdir().expect("dir");
        let folder = dir.path().join("nodes").join("village");
        std::fs::create_dir_all(&folder).expect("folder");
        let file = folder.join("config.toml");
        std::fs::write(
            &file,
            "[node]\ndata_dir = \"data\"\n\
             [federation]\ncredentials_dir = \"pki\"\nsigning_key_file = \"/etc/ow/root.key\"\n\
             [database]\nurl = \"sqlite://data/node.db?mode=rwc\"\n\
             [auth]\nbootstrap_password_file = \"../secret\"\n",
        )
        .expect("write");
        let c = Config::load(Some(&file)).expect("loads");
        assert_eq!(c.node.data_dir, folder.join("data"));
        assert_eq!(
            c.federation.credentials_dir,
            folder.join("pki").display().to_string()
        );
        assert_eq!(c.federation.signing_key_file, "/etc/ow/root.key");
        assert_eq!(
            c.database.url,
            format!(
                "sqlite://{}?mode=rwc",
                folder.join("data/node.db").display()
            )
        );
        assert_eq!(
            c.auth.bootstrap_password_file,
            folder.join("../secret").display().to_string()
        );
        // The database URL that an empty `url` stands for is the folder's too.
        std::fs::write(&file, "[node]\nhall_code = \"XP\"\n").expect("write");
        let c = Config::load(Some(&file)).expect("loads");
        assert_eq!(c.node.data_dir, folder.join("./data"));
        assert!(
            c.database_url()
                .starts_with(&format!("sqlite://{}", folder.display())),
            "{}",
            c.database_url()
        );
        assert!(c.federation.credentials_dir.is_empty(), "empty stays empty");
    }

    #[test]
    fn without_a_file_paths_stay_the_working_directorys() {
        let c = Config::load(None).expect("loads");
        assert_eq!(c.node.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn only_relative_sqlite_paths_move() {
        let f = Path::new("/srv/hall");
        for (url, want) in [
            (
                "sqlite://data/n.db?mode=rwc",
                "sqlite:///srv/hall/data/n.db?mode=rwc",
            ),
            ("sqlite:n.db", "sqlite:///srv/hall/n.db"),
            ("sqlite:///var/n.db", "sqlite:///var/n.db"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("sqlite://:memory:", "sqlite://:memory:"),
            (
                "postgres://postgres@127.0.0.1:5432/db",
                "postgres://postgres@127.0.0.1:5432/db",
            ),
            ("", ""),
        ] {
            assert_eq!(resolve_sqlite_url(url, f), want, "{url}");
        }
    }

    #[test]
    fn link_limits_load_from_a_file_and_a_bad_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("ow-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("node.toml");
        std::fs::write(
            &file,
            "[federation.limits]\nmax_frame_bytes = 1048576\nreader_queue_frames = 8\n",
        )
        .expect("write");
        let c = Config::load(Some(&file)).expect("loads");
        assert_eq!(c.federation.limits.max_frame_bytes, 1 << 20);
        assert_eq!(c.federation.limits.reader_queue_frames, 8);
        std::fs::write(&file, "[federation.limits]\nmax_frame_bytes = 0\n").expect("write");
        let e = Config::load(Some(&file)).expect_err("refused");
        assert!(
            e.to_string().contains("federation.limits.max_frame_bytes"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
