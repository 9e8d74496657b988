//! The policies of one-window service, as pure functions: what the window
//! decides on a submission, where a case goes when the hall that accepted it
//! may not decide it, and how its result comes back to that window.
//!
//! The service calls these with what it knows (the matter, the node, its
//! tiers); the state machine in [`crate::case`] then checks who may write
//! each event. Nothing here reads a store or a clock.

use std::collections::BTreeSet;

use crate::case::{Actor, ApplicantKind, Case, Event, EventRecord, State};
use crate::catalogue::{Matter, Serves};
use crate::checklist::{self, ChecklistError, PresentedMaterial};
use onewindow_i18n::{Arg, text, text_args};

/// The lowest node on the way from `node` to the root that may decide the
/// matter (`node` itself if it may). Node ids are dotted paths from the
/// root; `tiers` names the tier of each depth (`district`, `township`, ...);
/// the root decides everything. `day` is the date the delegation is read
/// on (a change published ahead applies from its day).
pub fn decider(matter: &Matter, node: &str, tiers: &[String], day: chrono::NaiveDate) -> String {
    let mut at = Some(node);
    while let Some(n) = at {
        let depth = n.matches('.').count();
        let tier = tiers.get(depth).map_or("", String::as_str);
        if depth == 0 || matter.delegation.may_decide(n, tier, day) {
            return n.to_owned();
        }
        at = n.rsplit_once('.').map(|(parent, _)| parent);
    }
    node.to_owned()
}

/// Is `node` the hall `of` or a hall below it (a whole-segment prefix
/// test on the dotted ids)?
pub fn is_within(node: &str, of: &str) -> bool {
    node == of
        || node
            .strip_prefix(of)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The lowest common ancestor of two halls (one of them when it is above
/// the other; the root's id, or an empty string for ids of two trees).
pub fn common_ancestor(a: &str, b: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for (x, y) in a.split('.').zip(b.split('.')) {
        if x != y {
            break;
        }
        out.push(x);
    }
    out.join(".")
}

/// The next step of a case from the hall that holds it (`here`) towards
/// the hall it goes to, along the tree: up to that hall when it is above,
/// down when it is below, and otherwise up to the two halls' lowest common
/// ancestor, which then sends it down (cross-district handling, 异地通办).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hop {
    /// To this hall, above `here`.
    Up(String),
    /// To this hall, below `here`.
    Down(String),
    /// Across a peering to the root of another tree (`here` is this tree's
    /// root): the hall it goes to is of that tree (异地通办 across trees).
    Across(String),
}

/// The root of the tree a hall is of (the first segment of its id).
pub fn tree_root(node: &str) -> &str {
    node.split('.').next().unwrap_or(node)
}

/// The next [`Hop`] from `here` towards `to`; `None` when `to` is `here`.
pub fn route(here: &str, to: &str) -> Option<Hop> {
    if here == to {
        return None;
    }
    if is_within(here, to) {
        return Some(Hop::Up(to.to_owned()));
    }
    let lca = common_ancestor(here, to);
    if lca.is_empty() {
        // Two trees: up to this tree's root, which peers with the other's.
        let root = tree_root(here);
        return Some(if root == here {
            Hop::Across(tree_root(to).to_owned())
        } else {
            Hop::Up(root.to_owned())
        });
    }
    if lca == here {
        Some(Hop::Down(to.to_owned()))
    } else {
        Some(Hop::Up(lca))
    }
}

/// Does the branch of `here` towards `to` (a hall below `here`) lack some
/// of a case's records? It holds what its own halls wrote and what came
/// down to it from `here` and the halls above; a record written anywhere
/// else (in another branch the case crossed into) reaches it only carried
/// by an [`Event::Crossed`].
pub fn branch_lacks(records: &[EventRecord], here: &str, to: &str) -> bool {
    let Some(rest) = to
        .strip_prefix(here)
        .and_then(|r| r.strip_prefix('.'))
        .map(|r| r.split('.').next().unwrap_or_default())
    else {
        return false;
    };
    let branch = format!("{here}.{rest}");
    records.iter().any(|r| {
        let w = r.actor.node.as_str();
        !is_within(w, &branch) && !is_within(here, w)
    })
}

/// The hall that decides a cross-district case accepted at `here` for the
/// hall `named`: the lowest hall at or above `named` that may decide the
/// matter, provided it is below the common ancestor of `here` and `named`
/// (in `named`'s branch). `None` when no hall of that branch decides it, or
/// `named` is `here`, above it or below it: the case would not cross.
pub fn cross_decider(
    matter: &Matter,
    here: &str,
    named: &str,
    tiers: &[String],
    day: chrono::NaiveDate,
) -> Option<String> {
    if is_within(here, named) || is_within(named, here) {
        return None;
    }
    let lca = common_ancestor(here, named);
    let to = decider(matter, named, tiers, day);
    (to != lca && is_within(&to, &lca)).then_some(to)
}

/// Does the matter serve this kind of applicant?
pub fn serves(matter: &Matter, kind: ApplicantKind) -> bool {
    matches!(
        (matter.serves, kind),
        (Serves::Both, _)
            | (Serves::Person, ApplicantKind::Person)
            | (Serves::Organisation, ApplicantKind::Organisation)
    )
}

/// The decision that follows a (re)submission at the window, exactly one
/// of: non-acceptance (the clerk's reason, or an applicant the matter does
/// not serve), a correction notice listing every problem at once,
/// completion at the window (an immediate matter decided here with nothing
/// deferred), or acceptance held by `here`.
pub fn acceptance_decision(
    matter: &Matter,
    applicant: ApplicantKind,
    situations: &[String],
    materials: &[PresentedMaterial],
    non_acceptance: Option<&str>,
    decides_here: bool,
    here: &str,
) -> Result<Event, ChecklistError> {
    if let Some(reason) = non_acceptance {
        return Ok(Event::NotAccepted {
            reason: reason.trim().to_owned(),
        });
    }
    if !serves(matter, applicant) {
        let who = if matter.serves == Serves::Person {
            "applicant.person"
        } else {
            "applicant.organisation"
        };
        return Ok(Event::NotAccepted {
            reason: text_args("history.wrong_applicant", &[("who", Arg::Phrase(who))]).joined(),
        });
    }
    let selected: BTreeSet<String> = situations.iter().cloned().collect();
    let result = checklist::check(matter, &selected, materials)?;
    if !result.issues.is_empty() {
        return Ok(Event::CorrectionNotified {
            issues: result.issues,
        });
    }
    if matter.immediate && decides_here && result.deferred.is_empty() {
        return Ok(Event::CompletedAtWindow {
            result: format!(
                "{}：{}",
                matter.name_zh,
                text("history.completed_at_window", &[]).joined()
            ),
        });
    }
    Ok(Event::Accepted {
        deferred: result.deferred,
        holder: Some(here.to_owned()),
    })
}

/// Trust first, check later (先信任、再审核): where the applicant signed
/// the matter's pledge, an acceptance with nothing deferred at a hall that
/// decides the matter becomes the result issued at once
/// ([`Event::TrustIssued`]), to be checked afterwards. Any other decision (a
/// correction notice, a non-acceptance, an acceptance with materials to
/// follow) stands as it is: the pledge replaces the wait, not the
/// checklist.
pub fn trust_first(matter: &Matter, decision: Event) -> Event {
    match (&matter.trust_first, decision) {
        (Some(t), Event::Accepted { deferred, .. }) if deferred.is_empty() => Event::TrustIssued {
            pledge: t.pledge_zh.clone(),
            result: format!(
                "{}：{}",
                matter.name_zh,
                text("history.trust_issued", &[]).joined()
            ),
            check_days: t.check_days,
        },
        (_, decision) => decision,
    }
}

/// The next event of a case, written by `actor` at `at_ms`.
fn next(case: &Case, actor: &Actor, at_ms: i64, event: Event) -> EventRecord {
    EventRecord {
        case_id: case.id.clone(),
        case_version: case.version + 1,
        actor: actor.clone(),
        at_ms,
        event,
    }
}

/// After acceptance at a hall that may not decide the matter, the case goes
/// up to `decider` (the lowest ancestor that may, or for a cross-district
/// case the hall of the other branch that decides it, reached through the
/// two halls' common ancestor: [`route`]): the transfer to write, or `None`
/// when the case stays.
pub fn escalation(
    case: &Case,
    decider: &str,
    here: &str,
    actor: &Actor,
    at_ms: i64,
) -> Option<EventRecord> {
    let Some(Hop::Up(to)) = route(here, decider) else {
        return None;
    };
    (case.state == State::Accepted).then(|| {
        next(
            case,
            actor,
            at_ms,
            Event::Transferred {
                to,
                reason: text("history.escalated", &[]).joined(),
            },
        )
    })
}

/// The common ancestor holding a cross-district case sends it on down to
/// `to`: with the case's `records` so far when `to`'s branch lacks some
/// of them ([`branch_lacks`]; an [`Event::Crossed`]), as a plain transfer
/// otherwise. `None` when `to` is not below `here`.
pub fn crossing(
    case: &Case,
    records: &[EventRecord],
    here: &str,
    to: &str,
    actor: &Actor,
    at_ms: i64,
) -> Option<EventRecord> {
    let Some(Hop::Down(to)) = route(here, to) else {
        return None;
    };
    let event = if branch_lacks(records, here, &to) {
        Event::Crossed {
            reason: text("history.crossed", &[("hall", &to.as_str())]).joined(),
            holder: to,
            history: records.to_vec(),
        }
    } else {
        Event::Transferred {
            reason: text("history.handed_back", &[]).joined(),
            to,
        }
    };
    Some(next(case, actor, at_ms, event))
}

/// The result goes back to the window that accepted the case (统一窗口出件):
/// once a holder other than the accepting hall has the result ready, the
/// transfer that hands the case back; `None` otherwise.
///
/// A holder in another branch than the window's (a cross-district case)
/// hands it to the two halls' common ancestor, which sends it down to the
/// window with the records its branch lacks ([`crossing`]).
pub fn hand_back(case: &Case, here: &str, actor: &Actor, at_ms: i64) -> Option<EventRecord> {
    let home = case.window();
    let to = match route(here, home)? {
        Hop::Up(to) => to,
        Hop::Down(_) => home.to_owned(),
        // The root sends it across itself ([`Hop::Across`]).
        Hop::Across(_) => return None,
    };
    (case.state == State::ResultReady).then(|| {
        next(
            case,
            actor,
            at_ms,
            Event::Transferred {
                to,
                reason: text("history.handed_back", &[]).joined(),
            },
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_hall_of_another_tree_is_reached_through_both_roots() {
        assert_eq!(
            route("foshan.chancheng.c1", "liwan.dali"),
            Some(Hop::Up("foshan".into()))
        );
        assert_eq!(
            route("foshan", "liwan.dali"),
            Some(Hop::Across("liwan".into()))
        );
        assert_eq!(
            route("liwan", "liwan.dali"),
            Some(Hop::Down("liwan.dali".into()))
        );
        assert_eq!(tree_root("liwan.dali.x"), "liwan");
    }

    fn tiers() -> Vec<String> {
        ["district", "township", "village"]
            .map(str::to_owned)
            .to_vec()
    }

    fn day() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
    }

    fn matter_decided_at(tiers: &[&str], halls: &[&str]) -> Matter {
        let cat = crate::starter::catalogue().unwrap();
        let mut m = cat.matters.values().next().unwrap().clone();
        m.delegation.decide_tiers = tiers.iter().map(|t| (*t).to_owned()).collect();
        m.delegation.decide_halls = halls.iter().map(|h| (*h).to_owned()).collect();
        m
    }

    #[test]
    fn the_decider_is_the_lowest_hall_on_the_way_up_that_may_decide() {
        let village = "nanhai.guicheng.xiaping";
        let m = matter_decided_at(&["township"], &[]);
        assert_eq!(decider(&m, village, &tiers(), day()), "nanhai.guicheng");
        assert_eq!(
            decider(&m, "nanhai.guicheng", &tiers(), day()),
            "nanhai.guicheng"
        );
        let m = matter_decided_at(&["village"], &[]);
        assert_eq!(decider(&m, village, &tiers(), day()), village);
        // Nobody below may: the root decides everything.
        let m = matter_decided_at(&[], &[]);
        assert_eq!(decider(&m, village, &tiers(), day()), "nanhai");
        // A named hall may decide whatever its tier.
        let m = matter_decided_at(&[], &[village]);
        assert_eq!(decider(&m, village, &tiers(), day()), village);
    }

    #[test]
    fn a_delegation_changed_ahead_applies_from_its_day_and_the_earlier_rule_until_then() {
        let village = "nanhai.guicheng.xiaping";
        let m = matter_decided_at(&["village"], &[]);
        let mut rule = m.delegation.current();
        rule.decide_tiers = ["township".to_owned()].into();
        let from = day().succ_opt().unwrap();
        let mut later = m.clone();
        later.delegation = m.delegation.changed(rule.clone(), Some(from));
        assert_eq!(decider(&later, village, &tiers(), day()), village);
        assert_eq!(decider(&later, village, &tiers(), from), "nanhai.guicheng");
        assert!(later.delegation.may_decide(village, "village", day()));
        assert!(!later.delegation.may_decide(village, "village", from));
        // Changed again before the first change's day: what applied the
        // day before the new date is the original rule.
        let again = later.delegation.changed(m.delegation.current(), Some(from));
        assert_eq!(again.earlier, Some(m.delegation.current()));
        // At once: no date, no earlier rule.
        let now = m.delegation.changed(rule, None);
        assert_eq!((now.from, now.earlier.clone()), (None, None));
        assert!(!now.may_decide(village, "village", day()));
    }

    fn four_tiers() -> Vec<String> {
        ["city", "district", "township", "village"]
            .map(str::to_owned)
            .to_vec()
    }

    const VILLAGE_A: &str = "foshan.chancheng.zumiao.c1";
    const DISTRICT_B: &str = "foshan.nanhai";

    #[test]
    fn the_common_ancestor_and_the_way_there_and_down() {
        assert_eq!(common_ancestor(VILLAGE_A, DISTRICT_B), "foshan");
        assert_eq!(
            common_ancestor(VILLAGE_A, "foshan.chancheng.shiwan"),
            "foshan.chancheng"
        );
        assert_eq!(
            common_ancestor(VILLAGE_A, "foshan.chancheng"),
            "foshan.chancheng"
        );
        // Whole segments, never a prefix of one.
        assert_eq!(common_ancestor("foshan.nan", DISTRICT_B), "foshan");
        assert!(!is_within("foshan.nanhaix", DISTRICT_B));
        assert!(is_within("foshan.nanhai.dali", DISTRICT_B));
        assert!(is_within(DISTRICT_B, DISTRICT_B));

        // Up to the common ancestor, then down to the hall.
        assert_eq!(route(VILLAGE_A, DISTRICT_B), Some(Hop::Up("foshan".into())));
        assert_eq!(
            route("foshan", DISTRICT_B),
            Some(Hop::Down(DISTRICT_B.into()))
        );
        assert_eq!(
            route("foshan", "foshan.nanhai.dali"),
            Some(Hop::Down("foshan.nanhai.dali".into()))
        );
        // And back the same way.
        assert_eq!(route(DISTRICT_B, VILLAGE_A), Some(Hop::Up("foshan".into())));
        assert_eq!(
            route("foshan", VILLAGE_A),
            Some(Hop::Down(VILLAGE_A.into()))
        );
        // An ordinary escalation is straight up; nothing to do at the hall.
        assert_eq!(
            route(VILLAGE_A, "foshan.chancheng"),
            Some(Hop::Up("foshan.chancheng".into()))
        );
        assert_eq!(route(DISTRICT_B, DISTRICT_B), None);
    }

    fn record(node: &str, version: u64) -> EventRecord {
        EventRecord {
            case_id: "C".into(),
            case_version: version,
            actor: Actor {
                username: "u".into(),
                role: crate::case::Role::Clerk,
                node: node.into(),
                department: None,
            },
            at_ms: 0,
            event: Event::Transferred {
                to: "x".into(),
                reason: "r".into(),
            },
        }
    }

    #[test]
    fn a_branch_lacks_what_another_branch_wrote_not_what_its_own_halls_and_ancestors_did() {
        let from_a = [record(VILLAGE_A, 1), record("foshan.chancheng", 2)];
        // District B's branch holds nothing of what A's branch wrote.
        assert!(branch_lacks(&from_a, "foshan", DISTRICT_B));
        assert!(branch_lacks(&from_a, "foshan", "foshan.nanhai.dali"));
        // A's branch holds its own records and the root's.
        let mut back = from_a.to_vec();
        back.push(record("foshan", 3));
        assert!(!branch_lacks(&back, "foshan", VILLAGE_A));
        // Once B wrote into the case, A's branch lacks B's records.
        back.push(record(DISTRICT_B, 4));
        assert!(branch_lacks(&back, "foshan", VILLAGE_A));
    }

    #[test]
    fn a_cross_district_case_is_decided_in_the_named_branch_below_the_common_ancestor() {
        let t = four_tiers();
        let district = matter_decided_at(&["district"], &[]);
        assert_eq!(
            cross_decider(&district, VILLAGE_A, DISTRICT_B, &t, day()).as_deref(),
            Some(DISTRICT_B)
        );
        // A township of B named: it escalates within B's branch.
        assert_eq!(
            cross_decider(&district, VILLAGE_A, "foshan.nanhai.dali", &t, day()).as_deref(),
            Some(DISTRICT_B)
        );
        // Decided only by the city: nothing crosses.
        let city = matter_decided_at(&[], &[]);
        assert_eq!(cross_decider(&city, VILLAGE_A, DISTRICT_B, &t, day()), None);
        // The accepting hall's own branch, above or below it: no crossing.
        assert_eq!(
            cross_decider(&district, VILLAGE_A, "foshan.chancheng", &t, day()),
            None
        );
        assert_eq!(
            cross_decider(&district, "foshan.chancheng", VILLAGE_A, &t, day()),
            None
        );
    }

    #[test]
    fn the_result_of_a_cross_district_case_goes_back_through_the_common_ancestor() {
        let cat = crate::starter::catalogue().unwrap();
        let m = cat.matters.values().next().unwrap();
        let mut case = Case::start(&EventRecord {
            event: Event::Received(std::sync::Arc::new(crate::case::Received::from_matter(
                m,
                1,
                crate::case::Applicant {
                    kind: ApplicantKind::Person,
                    id_number: "11010519491231002X".into(),
                    name: "张三".into(),
                    phone: None,
                    checksum_overridden: false,
                    checksum_override_reason: None,
                },
                Vec::new(),
                Vec::new(),
                VILLAGE_A.into(),
            ))),
            ..record(VILLAGE_A, 1)
        })
        .unwrap();
        case.state = State::ResultReady;
        let actor = record(DISTRICT_B, 0).actor;
        let back = hand_back(&case, DISTRICT_B, &actor, 0).unwrap();
        assert!(matches!(back.event, Event::Transferred { ref to, .. } if to == "foshan"));
        // From the common ancestor: down to the window, carrying what the
        // window's branch lacks.
        let records = [record(VILLAGE_A, 1), record(DISTRICT_B, 2)];
        let down = crossing(&case, &records, "foshan", VILLAGE_A, &actor, 0).unwrap();
        assert!(matches!(
            down.event,
            Event::Crossed { ref holder, ref history, .. }
                if holder == VILLAGE_A && history.len() == 2
        ));
        // An ordinary hand-back from above the window stays a transfer.
        let up = hand_back(&case, "foshan.chancheng", &actor, 0).unwrap();
        assert!(matches!(up.event, Event::Transferred { ref to, .. } if to == VILLAGE_A));
        let plain = crossing(&case, &records[..1], "foshan", VILLAGE_A, &actor, 0).unwrap();
        assert!(matches!(plain.event, Event::Transferred { .. }));
    }

    #[test]
    fn a_matter_refuses_an_applicant_it_does_not_serve_and_a_reason_is_kept() {
        let mut m = matter_decided_at(&["village"], &[]);
        m.serves = Serves::Person;
        let e = acceptance_decision(&m, ApplicantKind::Organisation, &[], &[], None, true, "x")
            .unwrap();
        assert!(matches!(e, Event::NotAccepted { ref reason } if reason.contains("自然人")));
        let e = acceptance_decision(
            &m,
            ApplicantKind::Person,
            &[],
            &[],
            Some("  不属于本机关职权范围  "),
            true,
            "x",
        )
        .unwrap();
        assert!(matches!(e, Event::NotAccepted { ref reason } if reason == "不属于本机关职权范围"));
        // Nothing presented: one correction notice listing what is missing.
        let e = acceptance_decision(&m, ApplicantKind::Person, &[], &[], None, true, "x").unwrap();
        assert!(matches!(e, Event::CorrectionNotified { ref issues } if !issues.is_empty()));
    }
}
