//! `onewindow-deploy cert ...` as an operator runs it: a CA at the
//! district, a hall that makes its own key and has its request signed, and
//! `cert list` finding what is wrong.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use federation::NodeCredentials;

const DEPLOY: &str = env!("CARGO_BIN_EXE_onewindow-deploy");

fn deploy(args: &[&str]) -> Output {
    Command::new(DEPLOY).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn list_json(dir: &Path) -> (bool, Vec<serde_json::Value>) {
    let o = deploy(&["cert", "list", "--certs-dir", s(dir), "--json"]);
    let v: Vec<serde_json::Value> =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (o.status.success(), v)
}

#[test]
fn a_hall_makes_its_key_and_the_district_signs_its_request() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("district/certs");
    let ca_key = tmp.path().join("district/safe/ca.key");
    let o = deploy(&[
        "cert",
        "create-ca",
        "--certs-dir",
        s(&certs),
        "--ca-key",
        s(&ca_key),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mode = std::fs::metadata(&ca_key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let ca_pem = std::fs::read_to_string(certs.join("ca.crt")).unwrap();

    // A second CA over the first is refused, and the first is kept.
    let o = deploy(&[
        "cert",
        "create-ca",
        "--certs-dir",
        s(&certs),
        "--ca-key",
        s(&ca_key),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("exists already"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(certs.join("ca.crt")).unwrap(),
        ca_pem
    );

    // The district's own certificate, key made here.
    let o = deploy(&[
        "cert",
        "create-node",
        "nanhai",
        "--certs-dir",
        s(&certs),
        "--ca-key",
        s(&ca_key),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(825 days)") || text(&o).contains("(824 days)"));
    assert_eq!(
        NodeCredentials::from_files(&certs).unwrap().node.as_str(),
        "nanhai"
    );

    // The hall: its own key pair and a request.
    let hall = tmp.path().join("yanbu/certs");
    let o = deploy(&[
        "cert",
        "create-request",
        "nanhai.dali.yanbu",
        "--certs-dir",
        s(&hall),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let hall_key = std::fs::read_to_string(hall.join("node.key")).unwrap();
    let mode = std::fs::metadata(hall.join("node.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Only the request travels to the district.
    let incoming = tmp.path().join("district/incoming/yanbu");
    std::fs::create_dir_all(&incoming).unwrap();
    std::fs::copy(hall.join("node.csr"), incoming.join("node.csr")).unwrap();
    // Signed for another node, it is refused.
    let o = deploy(&[
        "cert",
        "create-node",
        "nanhai.dali",
        "--certs-dir",
        s(&certs),
        "--ca-key",
        s(&ca_key),
        "--csr",
        s(&incoming.join("node.csr")),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("names nanhai.dali.yanbu, not nanhai.dali"),
        "{}",
        text(&o)
    );
    assert!(!incoming.join("node.crt").exists());
    let o = deploy(&[
        "cert",
        "create-node",
        "nanhai.dali.yanbu",
        "--certs-dir",
        s(&certs),
        "--ca-key",
        s(&ca_key),
        "--csr",
        s(&incoming.join("node.csr")),
        "--lifetime",
        "90d",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !incoming.join("node.key").exists(),
        "no key at the district"
    );
    // The district's own certificate was not touched.
    assert_eq!(
        NodeCredentials::from_files(&certs).unwrap().node.as_str(),
        "nanhai"
    );

    // Back at the hall: its key, the signed certificate, the CA.
    for f in ["node.crt", "ca.crt"] {
        std::fs::copy(incoming.join(f), hall.join(f)).unwrap();
    }
    let creds = NodeCredentials::from_files(&hall).unwrap();
    assert_eq!(creds.node.as_str(), "nanhai.dali.yanbu");
    assert_eq!(creds.key_pem, hall_key);
    let (ok, rows) = list_json(&hall);
    assert!(ok, "{rows:?}");
    assert_eq!(rows.len(), 2);
    let node_row = rows.iter().find(|r| r["usage"] == "node").unwrap();
    assert_eq!(node_row["cert"]["node"], "nanhai.dali.yanbu");
    assert!(
        (89..=90).contains(&node_row["days_left"].as_i64().unwrap()),
        "{node_row}"
    );
    assert_eq!(node_row["problems"], serde_json::json!([]));
    let o = deploy(&["cert", "list", "--certs-dir", s(&hall)]);
    assert!(o.status.success());
    let table = text(&o);
    assert!(
        table.contains("nanhai.dali.yanbu") && table.contains("ok"),
        "{table}"
    );
}

#[test]
fn list_says_what_is_wrong_and_fails_on_what_is_unusable() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    let ca_key = tmp.path().join("ca.key");
    let run = |args: &[&str]| {
        let o = deploy(args);
        assert!(o.status.success(), "{}", text(&o));
    };
    run(&[
        "cert",
        "create-ca",
        "--certs-dir",
        s(&certs),
        "--ca-key",
        s(&ca_key),
    ]);
    // A short life warns but is usable.
    run(&[
        "cert",
        "create-node",
        "nanhai.guicheng",
        "--certs-dir",
        s(&certs),
        "--ca-key",
        s(&ca_key),
        "--lifetime",
        "10d",
    ]);
    let (ok, rows) = list_json(&certs);
    assert!(ok);
    let node = rows.iter().find(|r| r["usage"] == "node").unwrap();
    let problems = node["problems"].to_string();
    assert!(
        problems.contains("expires in 9 days") || problems.contains("expires in 10 days"),
        "{problems}"
    );

    // Another node's key beside the certificate: unusable.
    let other = tmp.path().join("other");
    run(&[
        "cert",
        "create-request",
        "nanhai.guicheng",
        "--certs-dir",
        s(&other),
    ]);
    std::fs::copy(other.join("node.key"), certs.join("node.key")).unwrap();
    let (ok, rows) = list_json(&certs);
    assert!(!ok);
    let node = rows.iter().find(|r| r["usage"] == "node").unwrap();
    assert!(
        node["problems"]
            .to_string()
            .contains("node.key is not this certificate's key"),
        "{node}"
    );

    // A CA that did not sign the certificate: unusable; a readable key: a
    // warning.
    let certs2 = tmp.path().join("certs2");
    let key2 = tmp.path().join("ca2.key");
    run(&[
        "cert",
        "create-ca",
        "--certs-dir",
        s(&certs2),
        "--ca-key",
        s(&key2),
    ]);
    run(&[
        "cert",
        "create-node",
        "nanhai",
        "--certs-dir",
        s(&certs2),
        "--ca-key",
        s(&key2),
    ]);
    std::fs::copy(certs.join("ca.crt"), certs2.join("ca.crt")).unwrap();
    std::fs::set_permissions(
        certs2.join("node.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (ok, rows) = list_json(&certs2);
    assert!(!ok);
    let problems = rows
        .iter()
        .find(|r| r["usage"] == "node")
        .unwrap()
        .get("problems")
        .unwrap()
        .to_string();
    assert!(problems.contains("not signed by ca.crt"), "{problems}");
    assert!(problems.contains("readable by others"), "{problems}");
    // And with the CA's key gone wrong, nothing is signed.
    let o = deploy(&[
        "cert",
        "create-node",
        "nanhai.x",
        "--certs-dir",
        s(&certs2),
        "--ca-key",
        s(&key2),
        "--overwrite",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("the CA key does not belong to the CA certificate"),
        "{}",
        text(&o)
    );

    // Lifetimes are checked before anything is made.
    let o = deploy(&[
        "cert",
        "create-node",
        "nanhai",
        "--certs-dir",
        s(&certs),
        "--ca-key",
        s(&ca_key),
        "--lifetime",
        "5w",
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("the unit is h, d or y"), "{}", text(&o));
}

#[test]
fn list_reads_every_folder_of_a_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle");
    let topology = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/topologies/small.toml");
    let o = deploy(&["topology", "bundle", s(&topology), "--out", s(&out)]);
    assert!(o.status.success(), "{}", text(&o));
    let (ok, rows) = list_json(&out);
    assert!(ok, "{rows:?}");
    // The CA, then each of the seven nodes' certificates (their copies of
    // the CA are the bundle's, so they are not listed again).
    assert_eq!(rows.len(), 8);
    let nodes: Vec<&str> = rows
        .iter()
        .filter(|r| r["usage"] == "node")
        .map(|r| r["cert"]["node"].as_str().unwrap())
        .collect();
    assert_eq!(nodes.len(), 7);
    assert!(nodes.contains(&"nanhai.dali.yanbu"));
    assert!(rows.iter().all(|r| r["problems"] == serde_json::json!([])));
    assert_eq!(rows[0]["file"], "ca/ca.crt");
    assert_eq!(rows[1]["file"], "nodes/nanhai/pki/node.crt");

    // A node holding another CA's copy is shown, and fails the list.
    let other = tmp.path().join("other");
    let o = deploy(&[
        "cert",
        "create-ca",
        "--certs-dir",
        s(&other),
        "--ca-key",
        s(&other.join("ca.key")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::copy(
        other.join("ca.crt"),
        out.join("nodes/nanhai.dali/pki/ca.crt"),
    )
    .unwrap();
    let (ok, rows) = list_json(&out);
    assert!(!ok);
    let wrong: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["problems"] != serde_json::json!([]))
        .collect();
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    assert_eq!(wrong[0]["file"], "nodes/nanhai.dali/pki/ca.crt");
    assert!(
        wrong[0]["problems"]
            .to_string()
            .contains("not the bundle's CA")
    );
    assert!(
        wrong[1]["problems"]
            .to_string()
            .contains("not signed by ca.crt")
    );
}
