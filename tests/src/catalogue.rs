//! A small catalogue made for the tests: one matter per path of the state machine.

use serde_json::{Value, json};

fn limit(n: u32) -> Value {
    json!({"n": n, "unit": "working_days"})
}

fn matter(code: &str, dept: &str, immediate: bool) -> Value {
    json!({
        "code": code,
        "name_zh": format!("测试事项{code}"),
        "name_en": format!("Test matter {code}"),
        "kind": "permit",
        "department": dept,
        "exercise_level": 4,
        "serves": "person",
        "delegation": {
            "receive_tiers": ["district", "township", "village"],
            "decide_tiers": ["district"]
        },
        "immediate": immediate,
        "statutory_limit": limit(20),
        "committed_limit": limit(5),
        "materials": [
            {"code": "M1", "name_zh": "居民身份证", "name_en": "Resident ID card", "necessity": "required", "originals": 1, "copies": 1},
            {"code": "M2", "name_zh": "申请表", "name_en": "Application form", "necessity": "required", "originals": 1},
            {"code": "M3", "name_zh": "户口簿", "name_en": "Household register", "necessity": "deferrable", "copies": 1},
            {"code": "M4", "name_zh": "房产证明", "name_en": "Proof of housing", "necessity": "required", "copies": 1, "situations": ["buy"]}
        ],
        "situations": [{"code": "buy", "name_zh": "购房", "name_en": "Bought a home"}],
        "stages": if immediate { json!([]) } else { json!([
            {"stage": "handling", "norm": limit(2)},
            {"stage": "review", "norm": limit(1)},
            {"stage": "approval", "norm": limit(2)}
        ]) }
    })
}

/// The test catalogue:
/// - `T-PAR`: committed, department `a`, co-departments `b`, `c` (all must approve), extension 10;
/// - `T-ANY`: committed, department `a`, co-departments `b`, `c` (any one);
/// - `T-IMM`: immediate, department `a`;
/// - `T-ORG`: serves organisations only;
/// - `T-DIST`: received only at the district;
/// - `T-SIMPLE`: committed, department `a`, no co-departments; the one
///   bookable matter, and its household register (`M3`) may be presented
///   by data with a granted `T-IMM` result of the same applicant.
/// - `T-TRUST`: as `T-SIMPLE`, and trust first, check later (a pledge,
///   post-check within 10 working days).
pub fn test_catalogue() -> Value {
    let mut par = matter("T-PAR", "a", false);
    par["co_departments"] = json!(["b", "c"]);
    par["extension"] = limit(10);
    let mut any = matter("T-ANY", "a", false);
    any["co_departments"] = json!(["b", "c"]);
    any["join"] = json!("any");
    let imm = matter("T-IMM", "a", true);
    let mut org = matter("T-ORG", "a", false);
    org["serves"] = json!("organisation");
    let mut dist = matter("T-DIST", "a", false);
    dist["delegation"]["receive_tiers"] = json!(["district"]);
    let mut simple = matter("T-SIMPLE", "a", false);
    simple["bookable"] = json!(true);
    simple["materials"][2]["by_data"] = json!(["T-IMM"]);
    let mut trust = matter("T-TRUST", "a", false);
    trust["trust_first"] = json!({
        "pledge_zh": "本人承诺所报信息真实，经营场所符合条件",
        "pledge_en": "I pledge that what I declared is true and the premises meet the conditions",
        "check_days": 10
    });
    let mut matters = serde_json::Map::new();
    for m in [par, any, imm, org, dist, simple, trust] {
        matters.insert(m["code"].as_str().unwrap_or_default().to_owned(), m);
    }
    let dept = |code: &str, zh: &str| json!({"code": code, "name_zh": zh, "name_en": format!("Department {code}")});
    json!({
        "version": 0,
        "departments": {"a": dept("a", "甲局"), "b": dept("b", "乙局"), "c": dept("c", "丙局")},
        "matters": matters
    })
}

/// Every material for `T-*` matters, complete.
pub fn complete_materials() -> Value {
    json!([
        {"code": "M1", "originals": 1, "copies": 1},
        {"code": "M2", "originals": 1},
        {"code": "M3", "copies": 1}
    ])
}
