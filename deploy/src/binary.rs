//! Finding the `onewindow-node` binary to run as separate processes.
//!
//! An installed `onewindow-deploy` finds it beside itself; a test finds it in
//! the cargo target folder it runs from, and, when it runs under cargo, has
//! cargo build it first so that it is never stale.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, bail};

/// The node binary's file name.
pub const NODE_BIN: &str = "onewindow-node";

/// The environment variable that names the node binary explicitly.
pub const NODE_BIN_ENV: &str = "ONEWINDOW_NODE_BIN";

/// The node binary: `explicit` if given, else `$ONEWINDOW_NODE_BIN`, else
/// the one beside the current executable (or one folder up, where cargo
/// puts binaries beside the `deps/` folder of test executables). A relative
/// path is made absolute against the working directory, since each node
/// runs in its own folder.
pub fn find_node_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        if p.is_file() {
            return std::path::absolute(p).with_context(|| format!("resolving {}", p.display()));
        }
        bail!("no node binary at {}", p.display());
    }
    if let Some(p) = std::env::var_os(NODE_BIN_ENV) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return std::path::absolute(&p).with_context(|| format!("resolving {}", p.display()));
        }
        bail!("{NODE_BIN_ENV} names {}, which is not a file", p.display());
    }
    let exe = std::env::current_exe().context("locating the current executable")?;
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|d| d.join(NODE_BIN))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "no {NODE_BIN} binary at {}; build it (cargo build --release -p onewindow-node) \
             or name it with --node-bin or {NODE_BIN_ENV}",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        })
}

/// For tests: the node binary of the cargo profile the current executable
/// was built with, built by cargo first (once per process) when running
/// under cargo, so that it matches the source. `$ONEWINDOW_NODE_BIN` wins.
pub fn node_binary_for_tests() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_for_tests().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn build_for_tests() -> anyhow::Result<PathBuf> {
    if std::env::var_os(NODE_BIN_ENV).is_some() {
        return find_node_binary(None);
    }
    let exe = std::env::current_exe().context("locating the current executable")?;
    // target/<profile>/deps/<test> or target/<profile>/<bin>
    let profile_dir = exe
        .ancestors()
        .skip(1)
        .find(|d| {
            d.file_name()
                .is_some_and(|n| n != "deps" && n != "examples")
        })
        .context("the current executable is in no folder")?
        .to_path_buf();
    let target = profile_dir.join(NODE_BIN);
    let cargo = std::env::var_os("CARGO");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    if let (Some(cargo), Some(ws)) = (cargo, workspace)
        && ws.join("Cargo.toml").is_file()
    {
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug");
        let mut cmd = std::process::Command::new(cargo);
        cmd.current_dir(ws).args([
            "build",
            "--quiet",
            "-p",
            "onewindow-node",
            "--bin",
            NODE_BIN,
        ]);
        if profile != "debug" {
            cmd.args(["--profile", profile]);
        }
        if let Some(target_dir) = profile_dir.parent() {
            cmd.arg("--target-dir").arg(target_dir);
        }
        // What cargo set for this test process describes this package, not
        // the build; build scripts that watch such a variable (ring watches
        // CARGO_MANIFEST_DIR) would otherwise rebuild, and then rebuild again
        // for the next plain `cargo build`.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("CARGO_PKG_")
                || k.starts_with("CARGO_BIN_")
                || matches!(
                    k.as_ref(),
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_TARGET_TMPDIR"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_RUSTC_CURRENT_DIR"
                        | "OUT_DIR"
                )
            {
                cmd.env_remove(&key);
            }
        }
        let status = cmd.status().context("running cargo build")?;
        if !status.success() {
            bail!("cargo build -p onewindow-node failed ({status})");
        }
    }
    if target.is_file() {
        Ok(target)
    } else {
        find_node_binary(None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_relative_node_binary_is_made_absolute() {
        // (any file will do: the node runs in another folder, so the path
        // given on the command line must not stay relative)
        let found = find_node_binary(Some(Path::new("Cargo.toml"))).unwrap();
        assert!(found.is_absolute(), "{}", found.display());
        assert!(found.is_file());
        assert!(find_node_binary(Some(Path::new("no-such-binary"))).is_err());
    }
}
