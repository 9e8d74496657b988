//! Trees of node processes for the commands that run one (`bench restart`,
//! `chaos`, `soak`): a bundle of the named halls on free ports, and staff
//! logged in at a hall.

use std::path::Path;

use anyhow::Context;
use onewindow_client::Client;
use onewindow_client::types::NewStaff;

use crate::hall::random_password;
use onewindow_deploy::bundle::{self, Bundle, BundleOptions, Ports};
use onewindow_deploy::process::ProcessTree;
use onewindow_deploy::topology::Topology;

/// A bundle in `dir` of a district-township-village tree of `halls`
/// (parents first), each hall's code `prefix` and its index, on free
/// ports, with certificates that last two days.
pub fn bundle_of<'a>(
    dir: &Path,
    halls: impl IntoIterator<Item = &'a str>,
    prefix: &str,
) -> anyhow::Result<Bundle> {
    let mut text = String::from("[tree]\ntiers = [\"district\", \"township\", \"village\"]\n");
    for (i, id) in halls.into_iter().enumerate() {
        text.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhall_code = \"{prefix}{i}\"\nhall_name_zh = \"{id} 服务中心\"\nhall_name_en = \"{id} service centre\"\n"
        ));
    }
    let topology = Topology::parse(&text)?;
    let opts = BundleOptions {
        ports: Ports::Free,
        cert_days: 2,
        ..BundleOptions::default()
    };
    bundle::make(&topology, &dir.join("bundle"), &opts).context("making the bundle")
}

/// A staff member `username` (of `department`) with a fresh password,
/// made by the hall's administrator and logged in at hall `id`.
pub async fn staff(
    tree: &ProcessTree,
    id: &str,
    username: &str,
    role: &str,
    department: Option<&str>,
) -> anyhow::Result<Client> {
    let api = Client::new(&tree.url(id)?)?;
    let admin = api
        .login("admin", &tree.bundle().node(id)?.admin_password)
        .await?;
    let password = random_password(20);
    admin
        .create_staff(&NewStaff {
            username,
            display_name: username,
            role,
            department,
            password: &password,
            hall: None,
        })
        .await?;
    Ok(api.login(username, &password).await?)
}
