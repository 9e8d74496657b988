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
/// up to `decider` (the lowest ancestor that may): the transfer to write,
/// or `None` when the case stays.
pub fn escalation(
    case: &Case,
    decider: &str,
    here: &str,
    actor: &Actor,
    at_ms: i64,
) -> Option<EventRecord> {
    (case.state == State::Accepted && decider != here).then(|| {
        next(
            case,
            actor,
            at_ms,
            Event::Transferred {
                to: decider.to_owned(),
                reason: text("history.escalated", &[]).joined(),
            },
        )
    })
}

/// The result goes back to the window that accepted the case (统一窗口出件):
/// once a holder other than the accepting hall has the result ready, the
/// transfer that hands the case back; `None` otherwise.
pub fn hand_back(case: &Case, here: &str, actor: &Actor, at_ms: i64) -> Option<EventRecord> {
    let home = case.window();
    (case.state == State::ResultReady && home != here).then(|| {
        next(
            case,
            actor,
            at_ms,
            Event::Transferred {
                to: home.to_owned(),
                reason: text("history.handed_back", &[]).joined(),
            },
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

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
