//! Online pre-application (网上预审) and the files of materials, through
//! the HTTP API of one real node on port 0 and its real store: a citizen
//! pre-applies with a photo, learns at once what is missing, and the clerk
//! accepts it in one step; uploads that lie about their type (or break
//! the limits) are refused and keep nothing; a clerk attaches a scan at
//! the window and only this hall's staff read it back, by its hash from
//! the case's events.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use common::catalogue::{complete_materials, test_catalogue};
use common::{Client, TestNode, counts, staff};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PERSON: &str = "11010519491231002X";

struct Hall {
    t: TestNode,
    clerk: Client,
    approver: Client,
}

/// A district node with the test catalogue published, a clerk and an
/// approver.
async fn hall() -> Hall {
    let t = common::start("nanhai").await;
    let admin = t.http.login("admin", common::ADMIN_PASSWORD).await;
    let draft = admin
        .post("/api/v1/admin/catalogue/versions", &test_catalogue())
        .await
        .ok();
    let v = draft["version"].as_i64().unwrap();
    admin
        .post(
            &format!("/api/v1/admin/catalogue/versions/{v}/publish"),
            &json!({}),
        )
        .await
        .ok();
    let clerk = staff(&t.http, "clerk1", "clerk", None).await;
    let approver = staff(&t.http, "a.one", "approver", Some("a")).await;
    Hall { t, clerk, approver }
}

/// A small JPEG's first bytes (what a reader of types looks at) and some.
fn jpeg() -> Vec<u8> {
    let mut b = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    b.extend((0..2000u32).map(|i| (i % 251) as u8));
    b.extend([0xFF, 0xD9]);
    b
}

fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend((0..500u32).map(|i| (i % 7) as u8));
    b
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn pre_application(materials: Value, files: Value) -> Value {
    json!({
        "matter": "T-SIMPLE",
        "applicant": {"kind": "person", "id_number": PERSON, "name": "张三", "phone": "13800000000"},
        "materials": materials,
        "files": files,
    })
}

/// The files kept under the hall's data folder.
fn kept_files(h: &Hall) -> Vec<std::path::PathBuf> {
    let dir = h.t.node.node.config.node.data_dir.join("files");
    let mut out = Vec::new();
    let Ok(subs) = std::fs::read_dir(&dir) else {
        return out;
    };
    for sub in subs.flatten() {
        for f in std::fs::read_dir(sub.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            out.push(f.path());
        }
    }
    out
}

/// GET of a file: status, content type and bytes.
async fn fetch(who: &Client, path: &str) -> (u16, String, Vec<u8>) {
    let res = who
        .api()
        .request(reqwest::Method::GET, path)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, ct, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_pre_application_is_accepted_in_one_step_at_the_window() {
    let h = hall().await;
    let photo = jpeg();
    let before = counts(&h.t.node).await;
    // The citizen, with no login: the ID card (with a photo of it) and
    // nothing else. The answer says at once that the form is missing and
    // that the household register may follow.
    let sent = h
        .t
        .http
        .post(
            "/api/v1/pre-applications",
            &pre_application(
                json!(["M1"]),
                json!([{"material": "M1", "content_type": "image/jpeg", "content": b64(&photo)}]),
            ),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    let p = sent.body;
    let reference = p["reference"].as_str().unwrap().to_owned();
    assert!(
        reference.starts_with("YS") && reference.len() == 10,
        "{reference}"
    );
    assert_eq!(p["status"], "open");
    assert_eq!(p["complete"], false);
    let missing: Vec<&str> = p["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["M2"], "{p}");
    assert_eq!(p["issues"][0]["issue"]["kind"], "missing");
    assert!(
        p["notice_zh"][0].as_str().unwrap().contains("申请表"),
        "{p}"
    );
    assert!(
        p["notice_en"][0]
            .as_str()
            .unwrap()
            .contains("Application form"),
        "{p}"
    );
    assert_eq!(p["deferred"], json!(["M3"]));
    assert_eq!(p["files"][0]["hash"], sha(&photo));
    assert_eq!(p["files"][0]["size"], photo.len());
    assert_eq!(p["files"][0]["content_type"], "jpeg");
    assert_eq!(p["id_masked"], "110105********002X");
    assert!(
        p.get("applicant").is_none(),
        "the citizen's answer carries the masked ID only"
    );
    // A pre-application is no case: nothing in the log yet.
    assert_eq!(counts(&h.t.node).await, before);
    // The file is kept once, under its hash.
    let kept = kept_files(&h);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].file_name().unwrap().to_str().unwrap(), sha(&photo));
    assert_eq!(std::fs::read(&kept[0]).unwrap(), photo);

    // The clerk finds it by ID number, or by the reference as typed.
    let found = h
        .clerk
        .get(&format!("/api/v1/pre-applications?q={PERSON}"))
        .await
        .ok();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["reference"], reference.as_str());
    let typed = reference.to_lowercase();
    let one = h
        .clerk
        .get(&format!("/api/v1/pre-applications/{typed}"))
        .await
        .ok();
    assert_eq!(
        one["applicant"]["id_number"], PERSON,
        "staff see the whole applicant"
    );
    // Its file, for staff only.
    let path = format!("/api/v1/pre-applications/{reference}/files/{}", sha(&photo));
    let (status, ct, bytes) = fetch(&h.clerk, &path).await;
    assert_eq!((status, ct.as_str()), (200, "image/jpeg"));
    assert_eq!(bytes, photo);
    assert_eq!(fetch(&h.t.http, &path).await.0, 401);
    // An approver opens no pre-application, a citizen neither.
    h.approver
        .get(&format!("/api/v1/pre-applications/{reference}"))
        .await
        .assert_error(403, "wrong_role");

    // At the window: the applicant brought the form too; the clerk checks
    // the originals and accepts in one step.
    let outcome = h
        .clerk
        .post(
            &format!("/api/v1/pre-applications/{reference}/accept"),
            &json!({"materials": complete_materials()}),
        )
        .await;
    assert_eq!(outcome.status, 201, "{}", outcome.text);
    assert_eq!(outcome.body["outcome"], "receipt", "{}", outcome.text);
    let number = outcome.body["case_number"].as_str().unwrap().to_owned();
    // The case records the channel and carries the file by hash and size.
    let record = h
        .clerk
        .get(&format!("/api/v1/cases/{number}/record"))
        .await
        .ok();
    let events = record["events"].as_array().unwrap();
    assert_eq!(events[0]["event"]["type"], "received");
    assert_eq!(events[0]["event"]["intake"], "online");
    assert_eq!(events[1]["event"]["type"], "attached");
    assert_eq!(events[1]["event"]["hash"], sha(&photo));
    assert_eq!(events[1]["event"]["size"], photo.len());
    assert_eq!(events[1]["event"]["content_type"], "jpeg");
    assert_eq!(events[1]["event"]["source"], "online");
    assert_eq!(events[1]["event"]["material"], "M1");
    assert_eq!(events[2]["event"]["type"], "accepted");
    // The pre-application names its case now, and is not accepted twice.
    let one = h
        .clerk
        .get(&format!("/api/v1/pre-applications/{reference}"))
        .await
        .ok();
    assert_eq!(one["status"], "accepted");
    assert_eq!(one["case_number"], number.as_str());
    let stored = counts(&h.t.node).await;
    h.clerk
        .post(
            &format!("/api/v1/pre-applications/{reference}/accept"),
            &json!({}),
        )
        .await
        .assert_error(409, "pre_application_taken");
    assert_eq!(
        counts(&h.t.node).await,
        stored,
        "a refusal stored something"
    );
    let open = h
        .clerk
        .get(&format!("/api/v1/pre-applications?q={PERSON}"))
        .await
        .ok();
    assert_eq!(open, json!([]), "an accepted one is not listed as open");

    // The case's file: to this hall's staff, by its hash from the events.
    let path = format!("/api/v1/cases/{number}/attachments/{}", sha(&photo));
    let (status, ct, bytes) = fetch(&h.approver, &path).await;
    assert_eq!((status, ct.as_str()), (200, "image/jpeg"));
    assert_eq!(bytes, photo);
    assert_eq!(fetch(&h.t.http, &path).await.0, 401);
    // A file kept at the hall but not the case's is not served through it.
    let other = png();
    h.t.http
        .post(
            "/api/v1/pre-applications",
            &pre_application(
                json!([]),
                json!([{"material": "M2", "content": b64(&other)}]),
            ),
        )
        .await
        .ok();
    h.clerk
        .get(&format!(
            "/api/v1/cases/{number}/attachments/{}",
            sha(&other)
        ))
        .await
        .assert_error(404, "attachment_not_found");
    // A path, never: only a hash names a file.
    let r = h
        .clerk
        .get(&format!(
            "/api/v1/cases/{number}/attachments/..%2F..%2Fnode.db"
        ))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn an_upload_that_lies_about_its_type_is_refused() {
    let h = hall().await;
    let before = counts(&h.t.node).await;
    let send = |files: Value| {
        let http = h.t.http.clone();
        async move {
            http.post(
                "/api/v1/pre-applications",
                &pre_application(json!(["M1", "M2"]), files),
            )
            .await
        }
    };
    // A page named like a photo and said to be one: its content is HTML.
    send(json!([{"material": "M1", "content_type": "image/jpeg",
        "content": b64(b"<html><script>alert(1)</script></html>")}]))
    .await
    .assert_error(422, "upload_type_refused");
    // A program said to be a PDF.
    send(json!([{"material": "M1", "content_type": "application/pdf", "content": b64(b"MZ\x90\x00\x03")}]))
        .await
        .assert_error(422, "upload_type_refused");
    // A PNG that claims to be a JPEG.
    let r = send(json!([{"material": "M1", "content_type": "image/jpeg", "content": b64(&png())}]))
        .await;
    r.assert_error(422, "upload_type_mismatch");
    assert!(
        r.body["message_en"].as_str().unwrap().contains("image/png"),
        "{}",
        r.text
    );
    // A good file after a bad one: nothing of the request is kept.
    send(json!([
        {"material": "M1", "content": b64(&jpeg())},
        {"material": "M2", "content": b64(b"GIF89a....")}
    ]))
    .await
    .assert_error(422, "upload_type_refused");
    // Over the size limit (2 MiB by default).
    let mut big = jpeg();
    big.resize(2 * 1024 * 1024 + 1, 0);
    send(json!([{"material": "M1", "content": b64(&big)}]))
        .await
        .assert_error(413, "upload_too_large");
    // More files than one pre-application takes (6 by default).
    let many: Vec<Value> = (0..7)
        .map(|_| json!({"material": "M1", "content": b64(&pdf())}))
        .collect();
    send(Value::Array(many))
        .await
        .assert_error(413, "too_many_files");
    // A file of a material the matter does not list; content that is not
    // base64.
    send(json!([{"material": "M9", "content": b64(&pdf())}]))
        .await
        .assert_error(400, "unknown_material");
    send(json!([{"material": "M1", "content": "not base64!"}]))
        .await
        .assert_error(400, "bad_file_content");
    // A bad ID number is refused as at the window.
    let mut bad = pre_application(json!(["M1"]), json!([]));
    bad["applicant"]["id_number"] = json!("110105194912310021");
    let r = h.t.http.post("/api/v1/pre-applications", &bad).await;
    assert_eq!(r.status, 400, "{}", r.text);
    // Nothing was kept: no file, no pre-application, no event.
    assert!(kept_files(&h).is_empty(), "{:?}", kept_files(&h));
    let open = h
        .clerk
        .get(&format!("/api/v1/pre-applications?q={PERSON}"))
        .await
        .ok();
    assert_eq!(open, json!([]));
    assert_eq!(counts(&h.t.node).await, before);
}

#[tokio::test]
async fn a_clerk_attaches_a_scan_and_only_staff_read_it() {
    let h = hall().await;
    let sub = json!({
        "matter_code": "T-SIMPLE",
        "applicant": {"kind": "person", "id_number": PERSON, "name": "张三"},
        "materials": complete_materials(),
    });
    let case = h.clerk.post("/api/v1/cases", &sub).await.ok();
    let number = case["case_number"].as_str().unwrap().to_owned();
    let record = h
        .clerk
        .get(&format!("/api/v1/cases/{number}/record"))
        .await
        .ok();
    assert!(
        record["events"][0]["event"].get("intake").is_none(),
        "a window submission"
    );
    let scan = pdf();
    let attach = |file: Value| {
        let clerk = h.clerk.clone();
        let path = format!("/api/v1/cases/{number}/attachments");
        async move { clerk.post(&path, &json!({"file": file})).await }
    };
    // A scan whose content is not what it claims is refused, nothing kept.
    let before = counts(&h.t.node).await;
    attach(json!({"material": "M2", "content_type": "application/pdf", "content": b64(&jpeg())}))
        .await
        .assert_error(422, "upload_type_mismatch");
    attach(json!({"material": "M2", "content": b64(b"PK\x03\x04zip")}))
        .await
        .assert_error(422, "upload_type_refused");
    attach(json!({"material": "X", "content": b64(&scan)}))
        .await
        .assert_error(400, "unknown_material");
    // Only a clerk attaches.
    h.approver
        .post(
            &format!("/api/v1/cases/{number}/attachments"),
            &json!({"file": {"material": "M2", "content": b64(&scan)}}),
        )
        .await
        .assert_error(403, "wrong_role");
    assert_eq!(counts(&h.t.node).await, before);
    assert!(kept_files(&h).is_empty());

    // The scan of the application form.
    let view =
        attach(json!({"material": "M2", "content_type": "application/pdf", "content": b64(&scan)}))
            .await;
    assert_eq!(view.status, 201, "{}", view.text);
    let a = &view.body["case"]["attachments"][0];
    assert_eq!(a["hash"], sha(&scan));
    assert_eq!(a["size"], scan.len());
    assert_eq!(a["content_type"], "pdf");
    assert_eq!(a["source"], "scan");
    assert_eq!(a["material"], "M2");
    let record = h
        .clerk
        .get(&format!("/api/v1/cases/{number}/record"))
        .await
        .ok();
    let last = record["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"]["type"], "attached");
    assert_eq!(last["event"]["hash"], sha(&scan));
    // Read back by this hall's staff only.
    let path = format!("/api/v1/cases/{number}/attachments/{}", sha(&scan));
    for who in [&h.clerk, &h.approver] {
        let (status, ct, bytes) = fetch(who, &path).await;
        assert_eq!((status, ct.as_str()), (200, "application/pdf"));
        assert_eq!(bytes, scan);
    }
    assert_eq!(fetch(&h.t.http, &path).await.0, 401);
    // A file altered on disk is not served as the case's.
    let kept = kept_files(&h);
    assert_eq!(kept.len(), 1);
    std::fs::write(&kept[0], b"%PDF-1.4 altered").unwrap();
    let r = h.clerk.get(&path).await;
    assert_eq!(r.status, 500, "{}", r.text);
}
