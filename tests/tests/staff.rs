//! Staff accounts across the tree: kept at the district, signed down the
//! hall's branch, used at the hall with or without its uplink.
#![allow(clippy::unwrap_used)]

use onewindow_client::types::{NewStaff, StaffChange};
use onewindow_tests::{ADMIN_PASSWORD, Api, Tree, tree};
use serde_json::json;

const DISTRICT: &str = "nanhai";
const TOWNSHIP: &str = "nanhai.guicheng";
const VILLAGE: &str = "nanhai.guicheng.xiaping";
const SIBLING: &str = "nanhai.guicheng.shibei";
const PASSWORD: &str = "li-wen-2026-xp";

/// The status of a login at `id`.
async fn login_status(t: &Tree, id: &str, username: &str, password: &str) -> u16 {
    Api::anonymous(&t.url(id))
        .post(
            "/api/v1/session",
            &json!({"username": username, "password": password}),
        )
        .await
        .0
}

async fn uplink(t: &Tree, id: &str, up: bool) {
    t.eventually(60, "the village's uplink to change", || async {
        (t.node(id).node.uplink_up() == up).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_created_at_the_district_works_at_her_village_offline_and_a_disable_ends_her_session_there()
 {
    tokio::time::timeout(std::time::Duration::from_secs(240), async {
        let mut t = tree(&[DISTRICT, TOWNSHIP, VILLAGE, SIBLING]).await;
        let admin = Api::login(&t.url(DISTRICT), "admin", ADMIN_PASSWORD).await;
        t.eventually(60, "the district to know the township", || async {
            t.node(DISTRICT)
                .node
                .store
                .fleet_knows(TOWNSHIP)
                .await
                .unwrap()
                .then_some(())
        })
        .await;
        let new = |hall: &'static str| NewStaff {
            username: "xp.li",
            display_name: "李文",
            role: "clerk",
            department: None,
            password: PASSWORD,
            hall: Some(hall),
        };

        // Refusals, before anything is stored.
        let e = admin
            .client()
            .create_staff(&new("nanhai.nowhere.x"))
            .await
            .unwrap_err();
        assert_eq!(e.api().unwrap().code, "unknown_hall", "{e}");
        let e = admin
            .client()
            .create_staff(&new("foshan.x"))
            .await
            .unwrap_err();
        assert_eq!(e.api().unwrap().code, "bad_node_id", "{e}");
        // A township's administrator asks the district for halls of its
        // own subtree only.
        let township_admin = Api::login(&t.url(TOWNSHIP), "admin", ADMIN_PASSWORD).await;
        let e = township_admin
            .client()
            .create_staff(&new("nanhai.dali.yanbu"))
            .await
            .unwrap_err();
        assert_eq!(e.api().unwrap().code, "bad_node_id", "{e}");
        let wang = NewStaff {
            username: "xp.wang",
            display_name: "王芳",
            ..new(VILLAGE)
        };
        let made = township_admin.client().create_staff(&wang).await.unwrap();
        assert_eq!(made.value.hall.as_deref(), Some(VILLAGE));
        let e = township_admin
            .client()
            .create_staff(&wang)
            .await
            .unwrap_err();
        assert_eq!(e.api().unwrap().code, "username_taken", "{e}");
        t.eventually(60, "the township's clerk at the village", || async {
            t.node(VILLAGE)
                .node
                .store
                .staff("xp.wang")
                .await
                .unwrap()
                .filter(|s| s.active && s.managed)
        })
        .await;

        // Created at the district; the village takes it.
        let made = admin.client().create_staff(&new(VILLAGE)).await.unwrap();
        assert_eq!(made.value.hall.as_deref(), Some(VILLAGE));
        let e = admin
            .client()
            .create_staff(&new(VILLAGE))
            .await
            .unwrap_err();
        assert_eq!(e.api().unwrap().code, "username_taken", "{e}");
        t.eventually(60, "the account at the village", || async {
            t.node(VILLAGE)
                .node
                .store
                .staff("xp.li")
                .await
                .unwrap()
                .filter(|s| s.active && s.managed)
        })
        .await;
        let kept = admin.client().staff_of(VILLAGE).await.unwrap().value;
        let names: Vec<&str> = kept.iter().map(|s| s.username.as_str()).collect();
        assert_eq!(names, ["xp.li", "xp.wang"]);
        // The district's administrator page lists it among the accounts
        // kept for the halls below, in both languages, the hall by name
        // (once the village's name has come up in a status report).
        t.eventually(60, "the village's name at the district", || async {
            (t.node(DISTRICT).node.hall_name(VILLAGE, false) != VILLAGE).then_some(())
        })
        .await;
        for (lang, caption, hall) in [
            (
                "zh",
                "区级中心为下级大厅管理的账号",
                format!("{VILLAGE} 服务中心"),
            ),
            (
                "en",
                "Accounts the district keeps for the halls below",
                format!("{VILLAGE} service centre"),
            ),
        ] {
            let page = reqwest::Client::new()
                .get(format!("{}/admin", t.url(DISTRICT)))
                .header(
                    "cookie",
                    format!(
                        "ow_session={}; ow_lang={lang}",
                        admin.client().token().unwrap()
                    ),
                )
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let table = page
                .split("id=\"kept-staff\"")
                .nth(1)
                .unwrap_or_else(|| panic!("no kept accounts on the page: {page}"));
            assert!(
                table.contains(caption) && table.contains("xp.li") && table.contains(&hall),
                "the hall by name: {table}"
            );
        }

        // The village's uplink goes down: she still logs in there.
        uplink(&t, VILLAGE, true).await;
        t.stop(TOWNSHIP).await;
        uplink(&t, VILLAGE, false).await;
        let li = Api::login(&t.url(VILLAGE), "xp.li", PASSWORD).await;
        assert_eq!(li.get("/api/v1/session").await.0, 200);

        // Disabled at the district while the village cannot hear it.
        let off = StaffChange {
            hall: Some(VILLAGE),
            active: Some(false),
            ..StaffChange::default()
        };
        let changed = admin.client().change_staff("xp.li", &off).await.unwrap();
        assert!(!changed.value.active);
        assert_eq!(
            li.get("/api/v1/session").await.0,
            200,
            "the village does not know yet"
        );

        // The link comes back: her session there ends, and so do logins.
        t.restart(TOWNSHIP).await;
        t.eventually(60, "her session at the village to end", || async {
            (li.get("/api/v1/session").await.0 == 401).then_some(())
        })
        .await;
        assert_eq!(login_status(&t, VILLAGE, "xp.li", PASSWORD).await, 401);

        // Offline again: still refused.
        t.stop(TOWNSHIP).await;
        uplink(&t, VILLAGE, false).await;
        assert_eq!(login_status(&t, VILLAGE, "xp.li", PASSWORD).await, 401);
        t.restart(TOWNSHIP).await;

        // Moved to the sibling village: enabled there, still off here.
        let moved = admin
            .client()
            .change_staff(
                "xp.li",
                &StaffChange {
                    hall: Some(VILLAGE),
                    move_to: Some(SIBLING),
                    ..StaffChange::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(moved.value.hall.as_deref(), Some(SIBLING));
        assert!(moved.value.active);
        t.eventually(60, "the account at the sibling village", || async {
            t.node(SIBLING)
                .node
                .store
                .staff("xp.li")
                .await
                .unwrap()
                .filter(|s| s.active)
        })
        .await;
        assert_eq!(login_status(&t, SIBLING, "xp.li", PASSWORD).await, 200);
        assert_eq!(login_status(&t, VILLAGE, "xp.li", PASSWORD).await, 401);

        // Only the hall holds the account: the township on the way passes
        // it on, and it stays out of other halls' staff tables.
        assert!(
            t.node(TOWNSHIP)
                .node
                .store
                .staff("xp.li")
                .await
                .unwrap()
                .is_none()
        );
        // The village's own administrator may not change a kept account
        // (the district's next change would undo it), only disable it.
        let village_admin = Api::login(&t.url(VILLAGE), "admin", ADMIN_PASSWORD).await;
        let e = village_admin
            .client()
            .change_staff(
                "xp.li",
                &StaffChange {
                    active: Some(true),
                    ..StaffChange::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(e.api().unwrap().code, "managed_account", "{e}");
    })
    .await
    .expect("scenario timed out");
}
