//! The client calls only what the node documents: every route in
//! `onewindow_client::ROUTES` is an operation, with that method, of the
//! OpenAPI document a real node serves; and the typed answers read what a
//! real node sends.
#![allow(clippy::unwrap_used)]

use onewindow_client::{Client, ROUTES, types::NewStaff};
use onewindow_tests::{ADMIN_PASSWORD, hall_config};

async fn start(dir: &std::path::Path) -> node::server::RunningNode {
    let db = format!("sqlite://{}?mode=rwc", dir.join("node.db").display());
    let clock = std::sync::Arc::new(node::service::StartedClock::at(onewindow_tests::START_MS));
    node::server::start_with_clock(hall_config("nh", &db, dir), clock)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_route_the_client_calls_is_documented_with_its_method() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let client = Client::new(&node.url()).unwrap();
    let doc = client.openapi().await.unwrap().json;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 10, "the document lists the API's paths");
    for route in ROUTES {
        let documented = paths
            .get(route.path)
            .and_then(|p| p.get(route.method))
            .is_some();
        assert!(
            documented,
            "{} {} is called by the client but not in the node's OpenAPI document",
            route.method, route.path
        );
    }
    node.stop().await;
}

#[tokio::test]
async fn typed_answers_read_a_real_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let anonymous = Client::new(&node.url()).unwrap();
    let health = anonymous.health().await.unwrap();
    assert_eq!(health.node_id, "nh");
    assert_eq!(health.json["node_id"], "nh");
    assert!(!anonymous.catalogue().await.unwrap().matters.is_empty());
    assert!(!anonymous.calendars().await.unwrap().is_empty());

    let refused = anonymous
        .login("admin", "wrong password")
        .await
        .unwrap_err();
    let api = refused.api().unwrap();
    assert_eq!((api.status, api.code.as_str()), (401, "bad_credentials"));
    assert!(!api.message_zh.is_empty() && !api.message_en.is_empty());

    let admin = anonymous.login("admin", ADMIN_PASSWORD).await.unwrap();
    assert_eq!(admin.whoami().await.unwrap().role, "admin");
    let created = admin
        .create_staff(&NewStaff {
            username: "clerk.a/b",
            display_name: "受理员",
            role: "clerk",
            department: None,
            password: "staff-password-123",
            hall: None,
        })
        .await
        .unwrap_err();
    assert_eq!(created.api().unwrap().status, 400, "{created}");
    let clerk = admin
        .create_staff(&NewStaff {
            username: "clerk.a",
            display_name: "受理员",
            role: "clerk",
            department: None,
            password: "staff-password-123",
            hall: None,
        })
        .await
        .unwrap();
    assert!(clerk.active);
    assert_eq!(admin.staff().await.unwrap().len(), 2);
    admin.deactivate_staff("clerk.a").await.unwrap();
    let unknown = admin.deactivate_staff("nobody").await.unwrap_err();
    assert_eq!(unknown.api().unwrap().code, "unknown_staff");
    let versions = admin.catalogue_versions().await.unwrap();
    assert!(versions.iter().any(|v| v.state == "published"));
    admin.logout().await.unwrap();
    assert_eq!(
        admin.whoami().await.unwrap_err().api().unwrap().code,
        "unauthenticated"
    );
    node.stop().await;
}
