//! The OpenAPI document matches the routes: every documented operation
//! reaches a handler, every route this API has is documented, and every
//! schema reference resolves.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::Value;
use std::collections::BTreeSet;

/// Every operation of the API. A route added without its `#[utoipa::path]`
/// fails the first half of the test; one documented without a route fails
/// the second.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/api/v1/health"),
    ("get", "/api/v1/catalogue"),
    ("get", "/api/v1/catalogue/matters/{code}"),
    ("get", "/api/v1/peers"),
    ("post", "/api/v1/session"),
    ("get", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("get", "/api/v1/staff"),
    ("post", "/api/v1/staff"),
    ("delete", "/api/v1/staff/{username}"),
    ("patch", "/api/v1/staff/{username}"),
    ("post", "/api/v1/queue/tickets"),
    ("get", "/api/v1/queue/tickets"),
    ("post", "/api/v1/queue/call"),
    ("post", "/api/v1/queue/tickets/{id}/served"),
    ("post", "/api/v1/queue/tickets/{id}/no-show"),
    ("post", "/api/v1/bookings"),
    ("get", "/api/v1/bookings/slots"),
    ("get", "/api/v1/bookings/{code}"),
    ("post", "/api/v1/bookings/{code}/cancel"),
    ("post", "/api/v1/cases"),
    ("get", "/api/v1/cases"),
    ("get", "/api/v1/cases/{number}"),
    ("get", "/api/v1/cases/{number}/record"),
    ("get", "/api/v1/cases/{number}/document"),
    ("get", "/api/v1/cases/{number}/documents"),
    ("get", "/api/v1/cases/{number}/documents/{version}"),
    ("get", "/api/v1/verify"),
    ("post", "/api/v1/cases/{number}/resubmit"),
    ("post", "/api/v1/data-results"),
    ("post", "/api/v1/cases/{number}/actions"),
    ("post", "/api/v1/cases/{number}/rating"),
    ("post", "/api/v1/cases/{number}/rating/sms"),
    ("post", "/api/v1/cases/{number}/recall"),
    ("post", "/api/v1/cases/{number}/personal"),
    ("post", "/api/v1/cases/{number}/warning-decision"),
    ("post", "/api/v1/cases/{number}/reopen"),
    ("post", "/api/v1/pre-applications"),
    ("get", "/api/v1/pre-applications"),
    ("get", "/api/v1/pre-applications/{reference}"),
    ("post", "/api/v1/pre-applications/{reference}/accept"),
    ("get", "/api/v1/pre-applications/{reference}/files/{hash}"),
    ("post", "/api/v1/cases/{number}/attachments"),
    ("get", "/api/v1/cases/{number}/attachments/{hash}"),
    ("get", "/api/v1/admin/catalogue/versions"),
    ("post", "/api/v1/admin/catalogue/versions"),
    ("get", "/api/v1/admin/catalogue/versions/{version}"),
    ("put", "/api/v1/admin/catalogue/versions/{version}"),
    ("post", "/api/v1/admin/catalogue/versions/{version}/publish"),
    ("get", "/api/v1/admin/calendars"),
    ("put", "/api/v1/admin/calendars"),
    ("post", "/api/v1/admin/nodes/{node}/revoke"),
    ("post", "/api/v1/admin/nodes/{node}/decommission"),
    ("post", "/api/v1/admin/enrolments"),
    ("post", "/api/v1/enrolment"),
    ("get", "/api/v1/admin/security-events"),
    ("get", "/api/v1/admin/sms"),
    ("get", "/api/v1/admin/audit"),
    ("get", "/api/v1/admin/audit/actions"),
    ("get", "/api/v1/admin/audit/export"),
    ("get", "/api/v1/admin/warnings"),
    ("get", "/api/v1/admin/report"),
    ("get", "/api/v1/admin/fleet"),
    ("post", "/api/v1/admin/feed/credentials"),
    ("get", "/api/v1/admin/feed/credentials"),
    ("post", "/api/v1/admin/feed/credentials/{name}/revoke"),
    ("post", "/api/v1/admin/feed/subscriptions"),
    ("get", "/api/v1/admin/feed/subscriptions"),
    ("post", "/api/v1/admin/feed/subscriptions/{id}/end"),
    ("get", "/api/v1/admin/feed/deliveries"),
    ("post", "/api/v1/admin/feed/deliveries/{id}/replay"),
    ("get", "/api/v1/feed"),
    ("post", "/api/v1/feed/cases/{number}/actions"),
];

fn collect_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.insert(r.clone());
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_matches_the_routes() {
    let t = common::start("nanhai").await;
    let doc = t.http.get("/api/v1/openapi.json").await.ok();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented, expected,
        "documented operations differ from the API's"
    );

    // Every documented operation reaches a handler: not the fallback, not 405.
    let client = reqwest::Client::new();
    for (method, path) in &documented {
        let concrete = path
            .replace("{code}", "NH-X-1")
            .replace("{username}", "nobody")
            .replace("{id}", "1")
            .replace("{number}", "NH-20261123-000001-0")
            .replace("{version}", "1")
            .replace("{node}", "nanhai.x")
            .replace("{reference}", "YSABCD2345")
            .replace("{hash}", &"a".repeat(64));
        let url = format!("{}{concrete}", t.node.url());
        let req = match method.as_str() {
            "get" => client.get(&url),
            "post" => client.post(&url),
            "put" => client.put(&url),
            "delete" => client.delete(&url),
            "patch" => client.patch(&url),
            _ => unreachable!(),
        };
        let res = req
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{method} {path}: method not routed");
        assert_ne!(body["code"], "route_not_found", "{method} {path}: no route");
    }

    // The document is OpenAPI 3.1: it parses as one, and every reference
    // an operation makes resolves in it.
    let text = t.http.get("/api/v1/openapi.json").await.text;
    let spec = oas3::from_json(&text).unwrap_or_else(|e| panic!("not OpenAPI 3.1: {e}"));
    let version = spec.validate_version().unwrap();
    assert_eq!((version.major, version.minor), (3, 1));
    let mut ops = 0;
    for (path, method, op) in spec.operations() {
        ops += 1;
        for p in &op.parameters {
            p.resolve(&spec)
                .unwrap_or_else(|e| panic!("{method} {path}: parameter: {e}"));
        }
        if let Some(b) = &op.request_body {
            b.resolve(&spec)
                .unwrap_or_else(|e| panic!("{method} {path}: body: {e}"));
        }
        let resolved = op.responses(&spec);
        assert_eq!(
            resolved.len(),
            op.responses.as_ref().map_or(0, |r| r.len()),
            "{method} {path}: a response does not resolve"
        );
        for (status, r) in resolved {
            for (media, m) in &r.content {
                m.schema(&spec)
                    .unwrap_or_else(|e| panic!("{method} {path} {status} {media}: {e}"));
            }
        }
    }
    assert_eq!(ops, OPERATIONS.len());
    // Each schema is a JSON Schema of draft 2020-12, the dialect of
    // OpenAPI 3.1.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
            panic!("schema {name} is not JSON Schema 2020-12: {e}");
        }
    }
    // A cross-district acceptance names the hall that decides it, and the
    // refusals of that field are documented.
    let submission = &doc["components"]["schemas"]["Submission"];
    assert_eq!(
        submission["properties"]["deciding_hall"]["type"],
        serde_json::json!(["string", "null"]),
        "{submission}"
    );
    let refused = doc["paths"]["/api/v1/cases"]["post"]["responses"]["422"]["description"]
        .as_str()
        .unwrap();
    for code in [
        "not_cross_district",
        "unknown_deciding_hall",
        "hall_may_not_decide",
    ] {
        assert!(refused.contains(code), "{code}: {refused}");
    }
    // Every refusal a route documents carries the error body, and the
    // refusals every route of a kind may answer are there: 400 wherever a
    // body or a parameter is read, 413 wherever a body is.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
            let body = op["requestBody"].is_object();
            let params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
            if body || params {
                assert!(responses.contains_key("400"), "{method} {path}: no 400");
            }
            if body {
                assert!(responses.contains_key("413"), "{method} {path}: no 413");
            }
        }
    }

    // Every schema reference resolves.
    let mut refs = BTreeSet::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("odd ref {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "unresolved {r}"
        );
    }
    // Each parameter is where the route reads it: a name in the path's
    // template is `in: path`, the headers a route reads are `in: header`,
    // every other one `in: query` (a client made from the document puts
    // `last4` into the query, not the path).
    const HEADERS: &[&str] = &["Idempotency-Key"];
    let mut params = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                params += 1;
                let name = p["name"].as_str().unwrap();
                let placed = p["in"].as_str().unwrap();
                let in_template = path.contains(&format!("{{{name}}}"));
                let expected = if in_template {
                    "path"
                } else if HEADERS.contains(&name) {
                    "header"
                } else {
                    "query"
                };
                assert_eq!(placed, expected, "{method} {path}: parameter {name}");
            }
        }
    }
    assert!(params >= 10, "only {params} parameters documented");
    let progress = &doc["paths"]["/api/v1/cases/{number}"]["get"]["parameters"];
    assert!(
        progress
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "last4" && p["in"] == "query" && p["required"] == true),
        "{progress}"
    );
    // Every operation that needs a session says it may answer 401.
    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["security"].is_array() {
                secured += 1;
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path}: 401 not documented"
                );
            }
        }
    }
    assert!(secured >= 20, "{secured}");
    // The catalogue's answer matches its schema: every field it has is
    // declared, every declared required field is there.
    let guide = &doc["components"]["schemas"]["MatterGuide"];
    let props = guide["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{guide}"));
    let cat = t.http.get("/api/v1/catalogue").await.ok();
    let first = cat["matters"][0].as_object().unwrap();
    for key in first.keys() {
        assert!(
            props.contains_key(key),
            "MatterGuide does not declare {key}"
        );
    }
    for r in guide["required"].as_array().unwrap() {
        assert!(
            first.contains_key(r.as_str().unwrap()),
            "the answer lacks {r}"
        );
    }

    // A login may be refused for too many failures.
    assert!(doc["paths"]["/api/v1/session"]["post"]["responses"]["429"].is_object());

    // Operations that need a session say so.
    assert!(doc["paths"]["/api/v1/cases"]["post"]["security"].is_array());
    assert!(
        doc["paths"]["/api/v1/cases/{number}"]["get"]["security"].is_null(),
        "the progress query is public"
    );
}
