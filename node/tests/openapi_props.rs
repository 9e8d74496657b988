//! Requests made from the API document itself, against a real node.
//!
//! For every documented operation the test makes requests that the
//! document calls valid (path and query parameters and bodies generated
//! from their schemas, with known names of this hall mixed in so that some
//! reach past the first check) and requests it calls invalid (a required
//! field or parameter left out, a value of the wrong type, a string that
//! breaks its pattern or length, a malformed body or path parameter). Each
//! is sent without a session and with a session of every staff role. It
//! fails on any 5xx, on any status the document does not list for the
//! operation, on any answer whose body does not match the schema the
//! document gives for that status (JSON Schema 2020-12, references resolved
//! in the document), and on an invalid request that succeeds (the document
//! would then refuse what the server takes). The generator is seeded, so a
//! run repeats.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::catalogue::{complete_materials, test_catalogue};
use proptest::prelude::{RngExt, Strategy};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};

/// The seed of every run.
const SEED: &[u8; 32] = b"onewindow openapi requests seed!";
/// Requests valid by the document, per operation.
const VALID: usize = 12;
/// Requests invalid by the document, per operation.
const INVALID: usize = 16;
/// How deep generated values nest before only required fields are made.
const DEPTH: usize = 6;

/// One request, before it is sent.
#[derive(Debug, Clone, Default)]
struct Req {
    /// Path parameters, as sent (already percent-encoded).
    path: BTreeMap<String, String>,
    /// Query parameters.
    query: Vec<(String, String)>,
    /// The JSON body, if any.
    body: Option<Value>,
    /// A body sent as it is instead (not JSON).
    raw: Option<String>,
    /// What was made invalid, for the failure message.
    broken: Option<String>,
}

/// Values of this hall the generator mixes in, by property or parameter
/// name, so that some requests name things that exist.
type Known = HashMap<&'static str, Vec<String>>;

/// Makes values from the document's schemas.
struct Gen<'a> {
    doc: &'a Value,
    runner: TestRunner,
    known: Known,
}

impl<'a> Gen<'a> {
    fn rng(&mut self) -> &mut TestRng {
        self.runner.rng()
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng().random_range(0..100) < percent
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        let i = self.rng().random_range(0..xs.len());
        xs[i].clone()
    }

    /// The schema a `$ref` names, followed to the end.
    fn resolve(&self, mut s: &'a Value) -> &'a Value {
        while let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            s = &self.doc["components"]["schemas"][name];
        }
        s
    }

    /// A string matching `pattern` (an ECMA-262 pattern anchored at both
    /// ends, in the subset the document uses).
    fn matching(&mut self, pattern: &str) -> String {
        let inner = pattern.trim_start_matches('^').trim_end_matches('$');
        let strategy = proptest::string::string_regex(inner)
            .unwrap_or_else(|e| panic!("pattern {pattern}: {e}"));
        strategy.new_tree(&mut self.runner).unwrap().current()
    }

    fn text(&mut self, min: usize, max: usize) -> String {
        const CHARS: &[char] = &[
            'a', 'b', 'z', 'A', 'Q', '0', '7', '-', '.', '_', ' ', '张', '三', '办', '/', '%', '?',
            '#', '"', '\'', 'é',
        ];
        let n = self.rng().random_range(min..=max);
        (0..n).map(|_| self.pick(CHARS)).collect()
    }

    /// A value valid by `schema`; `name` is the property or parameter it is
    /// for.
    fn valid(&mut self, schema: &'a Value, name: &str, depth: usize) -> Value {
        let s = self.resolve(schema);
        if let Some(v) = s.get("const") {
            return v.clone();
        }
        if let Some(Value::Array(vs)) = s.get("enum") {
            return self.pick(vs);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(alts)) = s.get(key) {
                let i = self.rng().random_range(0..alts.len());
                return self.valid(&alts[i], name, depth);
            }
        }
        if let Some(Value::Array(parts)) = s.get("allOf") {
            let mut out = Map::new();
            for p in parts {
                if let Value::Object(m) = self.valid(p, name, depth) {
                    out.extend(m);
                }
            }
            return Value::Object(out);
        }
        let types: Vec<&str> = match s.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ if s.get("properties").is_some() => vec!["object"],
            _ => vec!["string"],
        };
        let non_null: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
        if non_null.is_empty() || (types.contains(&"null") && self.chance(20)) {
            return Value::Null;
        }
        let t = self.pick(&non_null);
        match t {
            "string" => Value::String(self.string(s, name)),
            "integer" => {
                if let Some(v) = self.known_value(name)
                    && let Ok(n) = v.parse::<i64>()
                {
                    return json!(n);
                }
                let min = s.get("minimum").and_then(Value::as_i64);
                let max = s.get("maximum").and_then(Value::as_i64);
                let lo = min.unwrap_or(if self.chance(20) { -5 } else { 0 });
                let hi =
                    max.unwrap_or(lo.saturating_add(if self.chance(10) { 1 << 40 } else { 20 }));
                json!(self.rng().random_range(lo..=hi))
            }
            "number" => json!(f64::from(self.rng().random_range(0u32..1000)) / 8.0),
            "boolean" => json!(self.chance(50)),
            "array" => {
                let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
                let max = s
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .map_or(3, |m| m as usize);
                let n = if depth >= DEPTH {
                    min
                } else {
                    self.rng().random_range(min..=max.min(min + 3))
                };
                let items = s.get("items").unwrap_or(&Value::Null);
                Value::Array((0..n).map(|_| self.valid(items, name, depth + 1)).collect())
            }
            "object" => self.object(s, depth),
            _ => Value::Null,
        }
    }

    fn known_value(&mut self, name: &str) -> Option<String> {
        let vs = self.known.get(name)?.clone();
        self.chance(60).then(|| self.pick(&vs))
    }

    fn string(&mut self, s: &'a Value, name: &str) -> String {
        let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = s
            .get("maxLength")
            .and_then(Value::as_u64)
            .map(|m| m as usize);
        let pattern = s.get("pattern").and_then(Value::as_str);
        if let Some(v) = self.known_value(name) {
            return v;
        }
        if let Some(p) = pattern {
            for _ in 0..20 {
                let v = self.matching(p);
                let n = v.chars().count();
                if n >= min && max.is_none_or(|m| n <= m) {
                    return v;
                }
            }
            panic!("no string of {min}..{max:?} characters matches {p}");
        }
        match s.get("format").and_then(Value::as_str) {
            Some("date") => {
                let d = self.rng().random_range(1..=28);
                let m = self.rng().random_range(1..=12);
                return format!("2026-{m:02}-{d:02}");
            }
            Some("date-time") => return "2026-11-23T09:30:00Z".to_owned(),
            _ => {}
        }
        let max = max.unwrap_or(min + 16).min(min + 40);
        self.text(min, max)
    }

    fn object(&mut self, s: &'a Value, depth: usize) -> Value {
        let required: BTreeSet<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        if let Some(Value::Object(props)) = s.get("properties") {
            for (k, p) in props {
                let wanted = required.contains(k.as_str()) || (depth < DEPTH && self.chance(50));
                if wanted {
                    let v = self.valid(p, k, depth + 1);
                    out.insert(k.clone(), v);
                }
            }
        }
        Value::Object(out)
    }

    /// The body made invalid by one change, or `None` when no change the
    /// generator tried made it so.
    fn invalid_body(
        &mut self,
        body: &Value,
        valid: &mut dyn FnMut(&Value) -> bool,
    ) -> Option<(Value, String)> {
        for _ in 0..40 {
            let mut b = body.clone();
            let what = self.mutate(&mut b);
            if !valid(&b) {
                return Some((b, what));
            }
        }
        None
    }

    /// Changes one node of `v`: drops a field, adds an unknown one, puts a
    /// value of another type, or breaks a string.
    fn mutate(&mut self, v: &mut Value) -> String {
        let mut nodes = Vec::new();
        collect_pointers(v, String::new(), &mut nodes);
        let at = self.pick(&nodes);
        let node = v.pointer_mut(&at).unwrap();
        let kind = self.rng().random_range(0..6);
        match (kind, &mut *node) {
            (0, Value::Object(m)) if !m.is_empty() => {
                let keys: Vec<String> = m.keys().cloned().collect();
                let k = self.pick(&keys);
                m.remove(&k);
                format!("{at}/{k} left out")
            }
            (1, Value::Object(m)) => {
                m.insert("zz_unknown".to_owned(), json!(1));
                format!("{at} with an unknown field")
            }
            (2, Value::String(s)) => {
                let n = s.chars().count();
                let i = if n == 0 {
                    0
                } else {
                    self.rng().random_range(0..n)
                };
                let mut chars: Vec<char> = s.chars().collect();
                chars.insert(i, '#');
                *s = chars.into_iter().collect();
                format!("{at} with a stray character")
            }
            (3, Value::String(s)) => {
                *s = s.repeat(2) + &"长".repeat(2000);
                format!("{at} too long")
            }
            (4, Value::Array(a)) => {
                a.push(json!(true));
                format!("{at} with an item of another type")
            }
            (5, _) => {
                let other = match node {
                    Value::String(_) => json!(12),
                    Value::Number(_) => json!("12"),
                    Value::Bool(_) => json!("yes"),
                    Value::Array(_) => json!({}),
                    Value::Object(_) => json!([]),
                    Value::Null => json!({"x": 1}),
                };
                *node = other;
                format!("{at} of another type")
            }
            _ => {
                *node = json!(-1.5);
                format!("{at} as -1.5")
            }
        }
    }
}

fn collect_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                collect_pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect_pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// A path segment, percent-encoded. A value that is empty or only dots
/// cannot be sent as a segment (a URL resolves `.` and `..` away, even
/// percent-encoded, and an empty segment makes another path): it goes with
/// an `x` in front.
fn encode(s: &str) -> String {
    let s = if s.bytes().all(|b| b == b'.') {
        format!("x{s}")
    } else {
        s.to_owned()
    };
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The schemas of the document, compiled once each.
struct Checker {
    /// The document's components, as given or made strict.
    components: Value,
    compiled: HashMap<String, jsonschema::Validator>,
}

/// Every object schema of `components` that does not say what it does
/// with fields it does not name refuses them: an answer must declare every
/// field it has. `unevaluatedProperties` sees through `allOf`, `oneOf` and
/// refs, but only from where it stands: a schema that is a part of an
/// `allOf` is closed by the `allOf` that holds it, not by itself.
fn strict(components: &mut Value) {
    fn parts_of_all_of(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for part in m
                    .get("allOf")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(r) = part.get("$ref").and_then(Value::as_str) {
                        out.insert(r.trim_start_matches("#/components/schemas/").to_owned());
                    }
                }
                m.values().for_each(|x| parts_of_all_of(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| parts_of_all_of(x, out)),
            _ => {}
        }
    }
    fn close(v: &mut Value, is_part: bool) {
        match v {
            Value::Object(m) => {
                let open = !m.contains_key("additionalProperties")
                    && !m.contains_key("unevaluatedProperties");
                if open && !is_part && (m.contains_key("properties") || m.contains_key("allOf")) {
                    m.insert("unevaluatedProperties".to_owned(), json!(false));
                }
                for (k, x) in m.iter_mut() {
                    if k == "allOf" {
                        for part in x.as_array_mut().into_iter().flatten() {
                            close(part, true);
                        }
                    } else {
                        close(x, false);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| close(x, false)),
            _ => {}
        }
    }
    let mut parts = BTreeSet::new();
    parts_of_all_of(components, &mut parts);
    if let Some(Value::Object(schemas)) = components.get_mut("schemas") {
        for (name, schema) in schemas.iter_mut() {
            close(schema, parts.contains(name));
        }
    }
}

impl Checker {
    fn new(doc: &Value, strict_objects: bool) -> Self {
        let mut components = doc["components"].clone();
        if strict_objects {
            strict(&mut components);
        }
        Checker {
            components,
            compiled: HashMap::new(),
        }
    }

    fn validator(&mut self, schema: &Value) -> &jsonschema::Validator {
        let key = schema.to_string();
        let components = &self.components;
        self.compiled.entry(key).or_insert_with(|| {
            // The schema as the root of a document that holds the
            // components, so `#/components/schemas/...` resolves.
            let mut root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": components,
            });
            root["allOf"] = json!([schema]);
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
        })
    }

    fn is_valid(&mut self, schema: &Value, v: &Value) -> bool {
        self.validator(schema).is_valid(v)
    }

    fn errors(&mut self, schema: &Value, v: &Value) -> Vec<String> {
        self.validator(schema)
            .iter_errors(v)
            .map(|e| {
                let mut said = e.to_string();
                if said.chars().count() > 160 {
                    said = said
                        .chars()
                        .rev()
                        .take(160)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                }
                format!(
                    "at {} (schema {}): …{said}",
                    e.instance_path(),
                    e.schema_path()
                )
            })
            .collect()
    }
}

/// An operation as the test needs it.
struct Op<'a> {
    method: String,
    path: String,
    op: &'a Value,
}

impl<'a> Op<'a> {
    fn params(&self, place: &str) -> Vec<&'a Value> {
        self.op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == place)
            .collect()
    }

    fn body_schema(&self) -> Option<&'a Value> {
        self.op["requestBody"]["content"]["application/json"].get("schema")
    }
}

/// A valid request for `op`.
fn valid_request<'a>(g: &mut Gen<'a>, op: &Op<'a>) -> Req {
    let mut r = Req::default();
    for p in op.params("path") {
        let name = p["name"].as_str().unwrap();
        let v = g.valid(&p["schema"], name, 0);
        let s = match v {
            Value::String(s) => s,
            v => v.to_string(),
        };
        r.path.insert(name.to_owned(), encode(&s));
    }
    for p in op.params("query") {
        let name = p["name"].as_str().unwrap();
        if p["required"] == true || g.chance(50) {
            let v = g.valid(&p["schema"], name, 0);
            let s = match v {
                Value::String(s) => s,
                Value::Null => continue,
                v => v.to_string(),
            };
            r.query.push((name.to_owned(), s));
        }
    }
    if let Some(s) = op.body_schema() {
        r.body = Some(g.valid(s, "", 0));
    }
    r
}

/// An invalid request for `op`, made from a valid one by one change.
fn invalid_request<'a>(g: &mut Gen<'a>, c: &mut Checker, op: &Op<'a>) -> Req {
    let mut r = valid_request(g, op);
    for _ in 0..20 {
        let choice = g.rng().random_range(0..4);
        match choice {
            // A path parameter that is not of its type or pattern.
            0 => {
                let Some(p) = op.params("path").first().copied() else {
                    continue;
                };
                let name = p["name"].as_str().unwrap();
                let s = g.resolve(&p["schema"]);
                let bad = if s["type"] == "integer" {
                    g.pick(&["abc", "1.5", "99999999999999999999999"])
                        .to_owned()
                } else if s.get("pattern").is_some() && g.chance(70) {
                    let v = r.path[name].clone();
                    format!("{v}%23")
                } else {
                    // Not UTF-8 once decoded: not a string at all.
                    "%FF%FE".to_owned()
                };
                r.path.insert(name.to_owned(), bad.clone());
                r.broken = Some(format!("path parameter {name} = {bad}"));
                return r;
            }
            // A required query parameter left out, or one of the wrong type.
            1 => {
                let params = op.params("query");
                if params.is_empty() {
                    continue;
                }
                let p = g.pick(&params);
                let name = p["name"].as_str().unwrap();
                let s = g.resolve(&p["schema"]);
                if p["required"] == true {
                    r.query.retain(|(k, _)| k != name);
                    r.broken = Some(format!("query parameter {name} left out"));
                    return r;
                }
                let bad = match s["type"].as_str() {
                    Some("integer") => "twelve",
                    Some("boolean") => "perhaps",
                    _ if s.get("enum").is_some() => "no-such-value",
                    _ => continue,
                };
                r.query.retain(|(k, _)| k != name);
                r.query.push((name.to_owned(), bad.to_owned()));
                r.broken = Some(format!("query parameter {name} = {bad}"));
                return r;
            }
            // A body that is not JSON, or JSON of another shape.
            2 => {
                if op.body_schema().is_none() {
                    continue;
                }
                if g.chance(50) {
                    r.raw = Some("{\"unclosed\": ".to_owned());
                    r.broken = Some("a body that is not JSON".to_owned());
                } else {
                    r.body = Some(json!([1, 2]));
                    r.broken = Some("an array for a body".to_owned());
                }
                return r;
            }
            // One change inside the body.
            _ => {
                let (Some(schema), Some(body)) = (op.body_schema(), r.body.clone()) else {
                    continue;
                };
                let mut check = |v: &Value| c.is_valid(schema, v);
                if let Some((b, what)) = g.invalid_body(&body, &mut check) {
                    r.body = Some(b);
                    r.broken = Some(format!("body: {what}"));
                    return r;
                }
            }
        }
    }
    // Nothing in this operation can be made invalid (no parameters, no
    // body): send it as it is.
    r
}

/// The answer to one request, as checked.
struct Answer {
    status: u16,
    content_type: String,
    text: String,
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    op: &Op<'_>,
    r: &Req,
    token: Option<&str>,
) -> Answer {
    let mut path = op.path.clone();
    for (k, v) in &r.path {
        path = path.replace(&format!("{{{k}}}"), v);
    }
    let method = reqwest::Method::from_bytes(op.method.to_uppercase().as_bytes()).unwrap();
    let mut req = http
        .request(method, format!("{base}{path}"))
        .query(&r.query);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(raw) = &r.raw {
        req = req
            .header("content-type", "application/json")
            .body(raw.clone());
    } else if let Some(b) = &r.body {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = res.text().await.unwrap();
    Answer {
        status,
        content_type,
        text,
    }
}

/// What is wrong with `a` as an answer to `op`, by the document.
fn check(c: &mut Checker, op: &Op<'_>, r: &Req, a: &Answer) -> Vec<String> {
    let mut wrong = Vec::new();
    let what = format!("{} {}", op.method.to_uppercase(), op.path);
    if a.status >= 500 {
        wrong.push(format!("{what}: {} {}", a.status, a.text));
    }
    if r.broken.is_some() && (200..300).contains(&a.status) {
        wrong.push(format!(
            "{what}: an invalid request ({}) was answered {}",
            r.broken.as_deref().unwrap_or_default(),
            a.status
        ));
    }
    let Some(resp) = op.op["responses"].get(a.status.to_string()) else {
        wrong.push(format!(
            "{what}: status {} not documented ({})",
            a.status, a.text
        ));
        return wrong;
    };
    match resp.get("content").and_then(Value::as_object) {
        None => {
            if !a.text.is_empty() {
                wrong.push(format!(
                    "{what}: {} documented without a body, got {}",
                    a.status, a.text
                ));
            }
        }
        Some(content) => {
            if let Some(media) = content.get("application/json") {
                if !a.content_type.starts_with("application/json") {
                    wrong.push(format!("{what}: {} came as {}", a.status, a.content_type));
                    return wrong;
                }
                let body: Value = serde_json::from_str(&a.text).unwrap_or(Value::Null);
                let errors = c.errors(&media["schema"], &body);
                if !errors.is_empty() {
                    let mut shown = a.text.clone();
                    shown.truncate(300);
                    wrong.push(format!(
                        "{what}: {} body does not match: {errors:?} ({shown})",
                        a.status
                    ));
                }
            } else if let Some((media, _)) = content.iter().next()
                && !a.content_type.starts_with(media.as_str())
            {
                wrong.push(format!(
                    "{what}: {} came as {}, not {media}",
                    a.status, a.content_type
                ));
            }
        }
    }
    wrong
}

#[tokio::test]
async fn requests_made_from_the_document() {
    let t = common::start("nanhai").await;
    let base = t.node.url();
    let doc = t.http.get("/api/v1/openapi.json").await.ok();

    // The hall: the test catalogue published, one account of each role,
    // one case and one ticket, named to the generator.
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
    let clerk = common::staff(&t.http, "clerk1", "clerk", None).await;
    let _ = common::staff(&t.http, "a.one", "approver", Some("a")).await;
    let _ = common::staff(&t.http, "sup1", "supervisor", None).await;
    let _ = common::staff(&t.http, "spare.one", "clerk", None).await;
    let person = common::citizen_id("44060519800101001");
    let sub = json!({
        "matter_code": "T-SIMPLE",
        "applicant": {"kind": "person", "id_number": person, "name": "张三"},
        "materials": complete_materials(),
    });
    let case = clerk.post("/api/v1/cases", &sub).await.ok();
    let number = case["case_number"].as_str().unwrap().to_owned();
    let ticket = t.http.post("/api/v1/queue/tickets", &json!({})).await.ok();
    let ticket = ticket["id"].as_i64().unwrap();
    let booking = json!({"matter": "T-SIMPLE", "date": "2026-11-24", "start": "14:00",
        "name": "张三", "id_number": person, "phone": "13800000000"});
    let booking = t.http.post("/api/v1/bookings", &booking).await.ok();
    let booking = booking["code"].as_str().unwrap().to_owned();

    // Sessions, opened before the generated logins (whose failures may lock
    // this address out of logging in).
    let http = reqwest::Client::new();
    let mut tokens: Vec<(&str, Option<String>)> = vec![("anonymous", None)];
    for (role, user, pw) in [
        ("admin", "admin", common::ADMIN_PASSWORD),
        ("clerk", "clerk1", common::STAFF_PASSWORD),
        ("approver", "a.one", common::STAFF_PASSWORD),
        ("supervisor", "sup1", common::STAFF_PASSWORD),
    ] {
        let r = http
            .post(format!("{base}/api/v1/session"))
            .json(&json!({"username": user, "password": pw}))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        tokens.push((role, Some(body["token"].as_str().unwrap().to_owned())));
    }

    let mut known: Known = HashMap::new();
    known.insert("number", vec![number.clone(), number.to_lowercase()]);
    known.insert("last4", vec![person[14..].to_owned()]);
    known.insert(
        "code",
        vec![
            "T-SIMPLE".to_owned(),
            "T-IMM".to_owned(),
            "M1".to_owned(),
            booking.clone(),
        ],
    );
    // A matter, a working day within reach and its slots (the node's day
    // is Monday 2026-11-23), and a booking code.
    known.insert("matter", vec!["T-SIMPLE".to_owned()]);
    known.insert(
        "date",
        vec!["2026-11-24".to_owned(), "2026-11-23".to_owned()],
    );
    known.insert("start", vec!["14:00".to_owned(), "16:30".to_owned()]);
    known.insert("booking", vec![booking.clone()]);
    known.insert(
        "matter_code",
        vec!["T-SIMPLE".to_owned(), "T-IMM".to_owned()],
    );
    known.insert("department", vec!["a".to_owned(), "b".to_owned()]);
    known.insert("username", vec!["spare.one".to_owned()]);
    known.insert("id", vec![ticket.to_string()]);
    known.insert("version", vec!["1".to_owned(), v.to_string()]);
    known.insert("node", vec!["nanhai.x1".to_owned()]);
    known.insert("hall", vec!["nanhai".to_owned(), "nanhai.x1".to_owned()]);
    known.insert(
        "id_number",
        vec![person.clone(), "91350100M000100Y43".to_owned()],
    );

    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, SEED);
    let mut g = Gen {
        doc: &doc,
        runner: TestRunner::new_with_rng(Config::default(), rng),
        known,
    };
    // Requests are judged by the document as it is; answers with every
    // object closed to fields it does not declare.
    let mut requests = Checker::new(&doc, false);
    let mut answers = Checker::new(&doc, true);

    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push(Op {
                method: method.clone(),
                path: path.clone(),
                op,
            });
        }
    }
    // Logging out ends the session every later request would carry: it
    // goes last.
    ops.sort_by_key(|o| o.method == "delete" && o.path == "/api/v1/session");

    let mut wrong = BTreeSet::new();
    let (mut sent, mut invalid_sent, mut succeeded) = (0, 0, 0);
    for op in &ops {
        let mut reqs: Vec<Req> = (0..VALID).map(|_| valid_request(&mut g, op)).collect();
        for _ in 0..INVALID {
            let r = invalid_request(&mut g, &mut requests, op);
            if r.broken.is_some() {
                invalid_sent += 1;
            }
            reqs.push(r);
        }
        // A body over the limit the server reads (2 MiB), with every
        // session: refused before it is read whole.
        if op.body_schema().is_some() {
            let mut r = valid_request(&mut g, op);
            r.raw = Some(format!("{{\"x\": \"{}\"}}", "x".repeat(3 << 20)));
            r.broken = Some("a body of 3 MiB".to_owned());
            reqs.push(r);
        }
        for r in &reqs {
            for (_, token) in &tokens {
                let a = send(&http, &base, op, r, token.as_deref()).await;
                sent += 1;
                if (200..300).contains(&a.status) {
                    succeeded += 1;
                }
                for w in check(&mut answers, op, r, &a) {
                    wrong.insert(w);
                }
            }
        }
    }
    eprintln!(
        "{sent} requests over {} operations, {invalid_sent} made invalid, {succeeded} succeeded",
        ops.len()
    );
    assert!(ops.len() >= 39, "{} operations", ops.len());
    assert!(
        invalid_sent >= ops.len() * 3,
        "{invalid_sent} invalid requests"
    );
    assert!(
        succeeded >= 100,
        "only {succeeded} requests succeeded: the generated requests reach little"
    );
    assert!(
        wrong.is_empty(),
        "{} findings:\n{}",
        wrong.len(),
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
}
