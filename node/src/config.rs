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
pub const DEFAULT_TOML: &str = include_str!("../../configs/default.toml");

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
    /// Folder for the SQLite file and other local data.
    pub data_dir: PathBuf,
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
    /// Parent's QUIC address, host:port; empty for the root.
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

impl Config {
    /// Loads defaults, then `file` if given, then `ONEWINDOW__*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut b = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(f) = file {
            b = b.add_source(config::File::from(f).format(config::FileFormat::Toml));
        }
        b = b.add_source(
            config::Environment::with_prefix("ONEWINDOW")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("node.tiers")
                .with_list_parse_key("federation.children")
                .try_parsing(true),
        );
        let cfg: Config = b.build()?.try_deserialize()?;
        cfg.validate()?;
        Ok(cfg)
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
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "text or json"));
        }
        if self.auth.session_minutes == 0 {
            return Err(invalid("auth.session_minutes", "must be at least 1"));
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

    #[test]
    fn bad_values_are_refused() {
        let mut c = Config::default();
        c.node.hall_code = "nh".into();
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.node.id = "a.b.c.d".into();
        assert!(c.validate().is_err());
    }
}
