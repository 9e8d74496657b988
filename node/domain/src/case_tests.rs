//! Tests of the case state machine: the shape of the transition table, role
//! separation, and random event sequences that must never break the rules.

use super::*;
use crate::catalogue::{JoinRule, Limit};
use crate::deadline::TimeUnit;
use proptest::prelude::*;
use std::collections::{BTreeSet, VecDeque};

const STATES: [State; 12] = [
    State::Received,
    State::Correction,
    State::Rejected,
    State::Accepted,
    State::Handling,
    State::Review,
    State::Approval,
    State::Decided,
    State::ResultReady,
    State::Completed,
    State::Withdrawn,
    State::Terminated,
];

/// One event of every kind that can follow the first.
fn every_event() -> Vec<Event> {
    vec![
        Event::Resubmitted {
            situations: vec![],
            materials: vec![],
        },
        Event::CorrectionNotified { issues: vec![] },
        Event::NotAccepted { reason: "r".into() },
        Event::Accepted {
            deferred: vec![],
            holder: Some("nanhai".into()),
        },
        Event::CompletedAtWindow { result: "r".into() },
        Event::TrustIssued {
            pledge: "p".into(),
            result: "r".into(),
            check_days: 10,
        },
        Event::PostCheckPassed { note: "n".into() },
        Event::TrustRevoked { reason: "r".into() },
        Event::HandlingStarted,
        Event::SubmittedForReview {
            opinion: "o".into(),
        },
        Event::ReviewPassed {
            opinion: "o".into(),
        },
        Event::SentBack { reason: "r".into() },
        Event::OpinionGiven {
            department: "b".into(),
            approve: true,
            opinion: "o".into(),
        },
        Event::Decided {
            granted: true,
            opinion: "o".into(),
        },
        Event::ResultReady { result: "r".into() },
        Event::HandedOut {
            recipient: "张三".into(),
            collection: Some(crate::handout::Collection::InPerson {
                document: crate::handout::IdDocument::ResidentId,
                id_last4: "002X".into(),
            }),
        },
        Event::Suspended {
            kind: SuspensionKind::Hearing,
            reason: "r".into(),
        },
        Event::Resumed {
            note: String::new(),
        },
        Event::Extended {
            n: 1,
            reason: "r".into(),
        },
        Event::Withdrawn { reason: "r".into() },
        Event::Terminated { reason: "r".into() },
        Event::Rated {
            score: 1,
            channel: Channel::Web,
            comment: String::new(),
        },
        Event::Transferred {
            to: "nanhai.guicheng".into(),
            reason: "r".into(),
        },
        Event::HandedOver {
            to: "nanhai.dali".into(),
            holder: "nanhai.dali".into(),
            reason: "r".into(),
            history: vec![],
        },
    ]
}

#[test]
fn final_states_are_never_left() {
    for s in STATES.into_iter().filter(|s| s.is_final()) {
        for e in every_event() {
            if let Some(next) = transition(s, &e) {
                assert_eq!(next, s, "{s:?} left by {}", e.kind());
                assert!(
                    matches!(
                        e,
                        Event::Rated { .. }
                            | Event::PostCheckPassed { .. }
                            | Event::TrustRevoked { .. }
                    ),
                    "{s:?} accepts {}",
                    e.kind()
                );
            }
        }
    }
}

#[test]
fn every_state_is_reachable_and_every_open_case_can_end() {
    let mut seen = BTreeSet::from([State::Received.as_str()]);
    let mut queue = VecDeque::from([State::Received]);
    while let Some(s) = queue.pop_front() {
        for e in every_event() {
            if let Some(n) = transition(s, &e)
                && seen.insert(n.as_str())
            {
                queue.push_back(n);
            }
        }
    }
    assert_eq!(seen.len(), STATES.len(), "unreachable states: {seen:?}");
    // Withdrawal and termination are open exactly until the decision.
    for s in STATES {
        let open = matches!(
            s,
            State::Received
                | State::Correction
                | State::Accepted
                | State::Handling
                | State::Review
                | State::Approval
        );
        for e in [
            Event::Withdrawn { reason: "r".into() },
            Event::Terminated { reason: "r".into() },
        ] {
            assert_eq!(transition(s, &e).is_some(), open, "{s:?} {}", e.kind());
        }
    }
}

#[test]
fn acceptance_and_approval_are_separated() {
    // A transfer is written by whoever holds the case when it moves; it is
    // neither acceptance nor approval.
    for e in every_event()
        .into_iter()
        .filter(|e| e.kind() != "transferred")
    {
        let roles = e.allowed_roles();
        assert!(
            !(roles.contains(&Role::Clerk) && roles.contains(&Role::Approver)),
            "{} is open to clerks and approvers alike",
            e.kind()
        );
        assert!(!roles.is_empty());
    }
}

fn limit(n: u32) -> Limit {
    Limit {
        n,
        unit: TimeUnit::WorkingDays,
    }
}

fn start(join: JoinRule) -> Case {
    Case::start(&received(join)).expect("starts")
}

fn received(join: JoinRule) -> EventRecord {
    EventRecord {
        case_id: "NH-20261123-000001-0".into(),
        case_version: 1,
        actor: actor(Role::Clerk, None, "clerk"),
        at_ms: 1_790_000_000_000,
        event: Event::Received(std::sync::Arc::new(Received {
            matter_code: "T".into(),
            matter_version: 1,
            catalogue_version: 1,
            matter_name_zh: "测试".into(),
            matter_name_en: "Test".into(),
            department: "a".into(),
            co_departments: vec!["b".into(), "c".into()],
            join,
            immediate: false,
            statutory_limit: limit(20),
            committed_limit: limit(10),
            extension_max: Some(limit(5)),
            stages: vec![],
            applicant: Applicant {
                kind: ApplicantKind::Person,
                id_number: "11010519491231002X".into(),
                name: "张三".into(),
                phone: None,
                checksum_overridden: false,
                checksum_override_reason: None,
            },
            situations: vec![],
            materials: vec![],
            accepting_node: "nanhai".into(),
            intake: crate::attachment::Intake::Window,
            distinct_people: 3,
            id_digest: String::new(),
            trust_first: None,
            decided_at: None,
            catalogue_tree: None,
            peer_matter: None,
        })),
    }
}

fn actor(role: Role, department: Option<&str>, name: &str) -> Actor {
    Actor {
        username: name.into(),
        role,
        node: "nanhai".into(),
        department: department.map(str::to_owned),
    }
}

const ACTORS: [(Role, Option<&str>, &str); 8] = [
    (Role::Clerk, None, "clerk"),
    (Role::Approver, Some("a"), "a1"),
    (Role::Approver, Some("a"), "a2"),
    (Role::Approver, Some("a"), "a3"),
    (Role::Approver, Some("b"), "b1"),
    (Role::Approver, Some("c"), "c1"),
    (Role::Supervisor, None, "sup"),
    (Role::Citizen, None, "citizen"),
];

/// Turns four random numbers into an event and an actor for `case`: mostly
/// (nine times in ten) one the transition table allows from the current state, by a role that may
/// cause it, so that sequences get deep; otherwise anything at all.
fn pick(case: &Case, (mode, which, who, flag): (u8, u8, u8, bool)) -> (Actor, Event) {
    let mut events = every_event();
    for e in &mut events {
        match e {
            Event::OpinionGiven {
                department,
                approve,
                ..
            } => {
                *department = if which % 2 == 0 {
                    "b".into()
                } else {
                    "c".into()
                };
                *approve = flag || which % 3 != 0;
            }
            Event::Decided { granted, .. } => *granted = flag,
            Event::CorrectionNotified { issues } => issues.push(crate::checklist::MaterialIssue {
                code: "M1".into(),
                name_zh: "身份证".into(),
                name_en: "ID".into(),
                issue: crate::checklist::IssueKind::Missing,
            }),
            _ => {}
        }
    }
    let guided = mode % 10 < 9;
    let candidates: Vec<Event> = if guided {
        // Events that end a case early are picked rarely, so that most
        // sequences go deep.
        let enders = |e: &Event| {
            matches!(
                e,
                Event::Withdrawn { .. } | Event::Terminated { .. } | Event::NotAccepted { .. }
            )
        };
        events
            .iter()
            .filter(|e| transition(case.state, e).is_some())
            .filter(|e| which % 16 == 0 || !enders(e))
            .cloned()
            .collect()
    } else {
        events.clone()
    };
    let ev = if candidates.is_empty() {
        events[which as usize % events.len()].clone()
    } else {
        candidates[which as usize % candidates.len()].clone()
    };
    let actors: Vec<_> = ACTORS
        .iter()
        .filter(|(r, _, _)| !guided || ev.allowed_roles().contains(r))
        .collect();
    let (role, dept, name) = actors[who as usize % actors.len()];
    (actor(*role, *dept, name), ev)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Whatever is thrown at a case, a refused event changes nothing, an
    /// applied one moves the version by one along the table, and the join
    /// and separation rules hold at every decision.
    #[test]
    fn random_event_sequences_keep_the_rules(
        all in any::<bool>(),
        steps in proptest::collection::vec(any::<(u8, u8, u8, bool)>(), 1..80),
    ) {
        let mut case = start(if all { JoinRule::All } else { JoinRule::Any });
        for (i, seed) in steps.into_iter().enumerate() {
            let (who, ev) = pick(&case, seed);
            let before = case.clone();
            let rec = EventRecord {
                case_id: case.id.clone(),
                case_version: case.version + 1,
                actor: who.clone(),
                at_ms: 1_790_000_000_000 + i as i64 * 3_600_000,
                event: ev.clone(),
            };
            match case.apply(&rec) {
                Err(_) => prop_assert_eq!(&case, &before),
                Ok(()) => {
                    prop_assert_eq!(case.version, before.version + 1);
                    prop_assert!(ev.allowed_roles().contains(&who.role));
                    let expected = transition(before.state, &ev);
                    prop_assert_eq!(Some(case.state), expected);
                    if before.is_suspended() {
                        let allowed = matches!(ev, Event::Resumed { .. } | Event::Withdrawn { .. } | Event::Terminated { .. } | Event::Transferred { .. } | Event::HandedOver { .. });
                        prop_assert!(allowed, "{} applied while suspended", ev.kind());
                    }
                    if let Event::ReviewPassed { .. } = ev {
                        prop_assert_ne!(before.handled_by.as_deref(), Some(who.username.as_str()));
                    }
                    if let Event::Decided { granted, .. } = ev {
                        prop_assert_ne!(before.reviewed_by.as_deref(), Some(who.username.as_str()));
                        prop_assert_ne!(before.handled_by.as_deref(), Some(who.username.as_str()));
                        let approved = before.sub_cases.values().filter(|s| s.status == SubCaseStatus::Approved).count();
                        let open = before.sub_cases.values().any(|s| s.status == SubCaseStatus::Open);
                        if all {
                            prop_assert!(!open);
                            if granted {
                                prop_assert!(before.sub_cases.values().all(|s| s.status == SubCaseStatus::Approved));
                            }
                        } else {
                            prop_assert!(approved > 0 || !open);
                        }
                    }
                    if case.state.is_final() {
                        prop_assert!(case.closed_at_ms.is_some());
                        prop_assert!(!case.is_suspended());
                    }
                }
            }
        }
        let ext: u32 = case.extensions.iter().map(|e| e.n).sum();
        prop_assert!(ext <= 5);
    }
}

#[test]
fn suspension_stops_the_clock_and_resumption_pushes_the_due_date() {
    let cal = crate::calendar::Calendar::new();
    let mut case = start(JoinRule::All);
    let mut v = 1;
    let mut at = 1_790_000_000_000; // 2026-09-21, a Monday, 22:13 in China
    let mut push = |case: &mut Case, who: Actor, event: Event, at: i64| {
        v += 1;
        case.apply(&EventRecord {
            case_id: case.id.clone(),
            case_version: v,
            actor: who,
            at_ms: at,
            event,
        })
        .expect("applies");
    };
    push(
        &mut case,
        actor(Role::Clerk, None, "clerk"),
        Event::Accepted {
            deferred: vec![],
            holder: Some("nanhai".into()),
        },
        at,
    );
    let due = case
        .clocks(&cal)
        .expect("clocks")
        .committed
        .date
        .expect("running");
    at += 24 * 3_600_000;
    push(
        &mut case,
        actor(Role::Approver, Some("a"), "a1"),
        Event::Suspended {
            kind: SuspensionKind::Testing,
            reason: "检测".into(),
        },
        at,
    );
    assert_eq!(case.clocks(&cal).expect("clocks").committed.date, None);
    at += 7 * 24 * 3_600_000;
    push(
        &mut case,
        actor(Role::Approver, Some("a"), "a1"),
        Event::Resumed {
            note: String::new(),
        },
        at,
    );
    let later = case
        .clocks(&cal)
        .expect("clocks")
        .committed
        .date
        .expect("running");
    assert_eq!(
        (later - due).num_days(),
        7,
        "a week of suspension moves the due date a week"
    );
}

#[test]
fn a_warning_is_appealed_once_per_level_and_decided_once() {
    let mut case = start(JoinRule::All);
    let write = |case: &mut Case, actor: Actor, event: Event| {
        let rec = EventRecord {
            case_id: case.id.clone(),
            case_version: case.version + 1,
            actor,
            at_ms: 1_790_000_100_000,
            event,
        };
        case.apply(&rec)
    };
    let appeal = |level: Warning, reason: &str| Event::WarningAppealed {
        rule: WarningRule::Deadline,
        level,
        reason: reason.into(),
    };
    let decide = |level: Warning, upheld: bool| Event::WarningDecided {
        rule: WarningRule::Deadline,
        level,
        upheld,
        reason: "核实".into(),
        decided_by: "sup@nanhai".into(),
    };
    let clerk = || actor(Role::Clerk, None, "clerk");
    let sup = || actor(Role::Supervisor, None, "sup");
    // Nothing to decide before an appeal; no appeal of green, none empty.
    assert!(matches!(
        write(&mut case, sup(), decide(Warning::Yellow, false)),
        Err(CaseError::Appeal(_))
    ));
    assert!(matches!(
        write(&mut case, clerk(), appeal(Warning::Green, "x")),
        Err(CaseError::Appeal(_))
    ));
    assert!(matches!(
        write(&mut case, clerk(), appeal(Warning::Yellow, "  ")),
        Err(CaseError::Empty(_))
    ));
    // A citizen does not appeal; a clerk does, once per level.
    assert!(matches!(
        write(
            &mut case,
            actor(Role::Citizen, None, "c"),
            appeal(Warning::Yellow, "x")
        ),
        Err(CaseError::WrongRole { .. })
    ));
    write(&mut case, clerk(), appeal(Warning::Yellow, "停电两天")).expect("applies");
    assert_eq!(case.state, State::Received, "an appeal changes no state");
    assert_eq!(
        case.appeal(WarningRule::Deadline, Warning::Yellow)
            .expect("appealed")
            .status(),
        WarningStatus::Appealed
    );
    assert!(matches!(
        write(&mut case, clerk(), appeal(Warning::Yellow, "again")),
        Err(CaseError::Appeal(_))
    ));
    // Only a supervisor decides, once.
    assert!(matches!(
        write(&mut case, clerk(), decide(Warning::Yellow, false)),
        Err(CaseError::WrongRole { .. })
    ));
    write(&mut case, sup(), decide(Warning::Yellow, false)).expect("applies");
    let a = case
        .appeal(WarningRule::Deadline, Warning::Yellow)
        .expect("applies");
    assert_eq!(a.status(), WarningStatus::Revoked);
    assert_eq!(a.decision.as_ref().expect("appealed").by, "sup@nanhai");
    assert!(matches!(
        write(&mut case, sup(), decide(Warning::Yellow, true)),
        Err(CaseError::Appeal(_))
    ));
    // The red warning is another warning: appealed and upheld on its own.
    write(&mut case, clerk(), appeal(Warning::Red, "系统故障")).expect("applies");
    write(&mut case, sup(), decide(Warning::Red, true)).expect("applies");
    assert_eq!(
        case.appeal(WarningRule::Deadline, Warning::Red)
            .expect("appealed")
            .status(),
        WarningStatus::Issued
    );
    assert_eq!(case.appeals.len(), 2);
}

#[test]
fn the_district_reopens_a_terminated_case_with_a_new_clock() {
    let mut case = start(JoinRule::All);
    let apply = |case: &mut Case, actor: Actor, at_ms: i64, event: Event| {
        let rec = EventRecord {
            case_id: case.id.clone(),
            case_version: case.version + 1,
            actor,
            at_ms,
            event,
        };
        case.apply(&rec)
    };
    let reopen = |reason: &str| Event::Reopened {
        reason: reason.into(),
    };
    let sup = || actor(Role::Supervisor, None, "sup");
    // Only a final case the agency ended is reopened.
    assert!(matches!(
        apply(&mut case, sup(), 1, reopen("复议")),
        Err(CaseError::IllegalTransition { .. })
    ));
    apply(
        &mut case,
        sup(),
        1_790_000_100_000,
        Event::Terminated {
            reason: "申请人死亡".into(),
        },
    )
    .expect("terminates");
    assert_eq!(case.state, State::Terminated);
    assert!(matches!(
        apply(
            &mut case,
            actor(Role::Clerk, None, "clerk"),
            2,
            reopen("复议")
        ),
        Err(CaseError::WrongRole { .. })
    ));
    assert!(matches!(
        apply(&mut case, sup(), 2, reopen(" ")),
        Err(CaseError::Empty(_))
    ));
    let reopened_at = 1_791_000_000_000;
    apply(&mut case, sup(), reopened_at, reopen("行政复议撤销原决定")).expect("reopens");
    assert_eq!(case.state, State::Accepted);
    assert_eq!(case.accepted_at_ms, Some(reopened_at), "a new clock");
    assert_eq!(case.closed_at_ms, None);
    assert_eq!(case.result, None);
    assert_eq!(case.outcome_text, None);
    // And it runs on from there like any accepted case.
    assert_eq!(
        transition(case.state, &Event::HandlingStarted),
        Some(State::Handling)
    );
    for s in [State::Rejected, State::Withdrawn] {
        assert_eq!(transition(s, &reopen("x")), None, "{s:?}");
    }
}

#[test]
fn a_refusal_states_its_reasons() {
    let refuse = |opinion: &str| Event::Decided {
        granted: false,
        opinion: opinion.into(),
    };
    let mut case = start(JoinRule::All);
    // Straight to approval, as the state table allows.
    case.state = State::Approval;
    let rec = |event: Event, v: u64| EventRecord {
        case_id: case.id.clone(),
        case_version: v,
        actor: actor(Role::Approver, Some("a"), "a2"),
        at_ms: 1_790_000_100_000,
        event,
    };
    let (empty, stated) = (
        rec(refuse("  "), 2),
        rec(refuse("不符合条件：申请人不在本区居住"), 2),
    );
    let mut c = case.clone();
    c.sub_cases.clear();
    assert!(matches!(c.clone().apply(&empty), Err(CaseError::Empty(_))));
    // Folded where its personal section is withheld, the same refusal
    // reads with no reasons, and still folds.
    let mut withheld = c.clone();
    withheld
        .replay(&empty)
        .expect("a refusal whose reasons are withheld folds");
    assert_eq!(withheld.granted, Some(false));
    c.apply(&stated).expect("a refusal with its reasons");
    assert_eq!(c.granted, Some(false));
}

/// The record of `event` by `actor` that would follow on `case`.
fn following(case: &Case, actor: Actor, event: Event) -> EventRecord {
    EventRecord {
        case_id: case.id.clone(),
        case_version: case.version + 1,
        actor,
        at_ms: 1_790_000_000_000 + case.version as i64,
        event,
    }
}

#[test]
fn a_handed_over_case_starts_from_what_it_carries_and_is_served_at_its_heir() {
    let mut records = vec![received(JoinRule::All)];
    let mut case = Case::fold(&records).expect("starts");
    for (who, event) in [
        (
            actor(Role::Clerk, None, "clerk"),
            Event::Accepted {
                deferred: vec![],
                holder: None,
            },
        ),
        (
            actor(Role::Approver, Some("a"), "a1"),
            Event::Suspended {
                kind: SuspensionKind::Hearing,
                reason: "听证".into(),
            },
        ),
    ] {
        let rec = following(&case, who, event);
        case.apply(&rec).expect("applies");
        records.push(rec);
    }
    let sup = || actor(Role::Supervisor, None, "system");
    let over = |to: &str, reason: &str, history: Vec<EventRecord>| Event::HandedOver {
        to: to.into(),
        holder: to.into(),
        reason: reason.into(),
        history,
    };
    // A reason, and another hall than the one that serves it now.
    for bad in [
        over("nanhai.dali.x", " ", vec![]),
        over("nanhai", "r", vec![]),
    ] {
        assert!(matches!(
            case.clone().apply(&following(&case, sup(), bad)),
            Err(CaseError::Empty(_))
        ));
    }
    // Only the district's order moves it, even while it is suspended.
    assert!(matches!(
        case.clone().apply(&following(
            &case,
            actor(Role::Clerk, None, "clerk"),
            over("nanhai.dali.x", "r", vec![])
        )),
        Err(CaseError::WrongRole { .. })
    ));
    let handover = following(
        &case,
        sup(),
        over("nanhai.dali.x", "行政区划调整", records.clone()),
    );
    case.apply(&handover).expect("handed over while suspended");
    assert_eq!(case.window(), "nanhai.dali.x");
    assert_eq!(case.holder.as_deref(), Some("nanhai.dali.x"));
    assert_eq!(
        case.received.accepting_node, "nanhai",
        "the history keeps where"
    );
    assert!(case.is_suspended(), "nothing else changes");
    // The heir's branch never held the case: it starts from the handover
    // alone, and folds to the same case as the halls that hold every record.
    assert_eq!(Case::fold([&handover]).expect("starts from it"), case);
    // Its result is handed out at the heir, not where it was accepted.
    let mut at_heir = case.clone();
    at_heir.state = State::ResultReady;
    at_heir.suspensions.clear();
    let hand_out = |node: &str| {
        following(
            &at_heir,
            Actor {
                node: node.into(),
                ..actor(Role::Clerk, None, "clerk")
            },
            Event::HandedOut {
                recipient: "张三".into(),
                collection: Some(crate::handout::Collection::InPerson {
                    document: crate::handout::IdDocument::ResidentId,
                    id_last4: "002X".into(),
                }),
            },
        )
    };
    assert!(matches!(
        at_heir.clone().apply(&hand_out("nanhai")),
        Err(CaseError::NotAcceptingHall(h)) if h == "nanhai.dali.x"
    ));
    let out = hand_out("nanhai.dali.x");
    at_heir.apply(&out).expect("handed out at the heir");
    // A carried history that does not fold is refused, not trusted.
    let mut broken = handover.clone();
    if let Event::HandedOver { history, .. } = &mut broken.event {
        history.remove(1);
    }
    assert!(Case::fold([&broken]).is_err());
}

#[test]
fn an_issued_red_warning_escalates_after_five_working_days_and_an_appeal_stops_it() {
    let cal = crate::calendar::Calendar::default();
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2030, 3, d).expect("a date");
    // Monday 4 March 2030; no holidays in this calendar.
    let since = day(4);
    let on = |appeal: Option<&WarningAppeal>, level, today| {
        WarningStatus::on(appeal, level, since, today, &cal)
    };
    assert_eq!(
        on(None, Warning::Red, day(11)),
        WarningStatus::Issued,
        "5 working days"
    );
    assert_eq!(
        on(None, Warning::Red, day(12)),
        WarningStatus::Escalated,
        "6"
    );
    assert_eq!(
        on(None, Warning::Yellow, day(29)),
        WarningStatus::Issued,
        "yellow never"
    );
    let mut appeal = WarningAppeal {
        rule: WarningRule::Deadline,
        level: Warning::Red,
        reason: "停电".into(),
        by: "sup".into(),
        hall: "nanhai".into(),
        at_ms: 0,
        decision: None,
    };
    assert_eq!(
        on(Some(&appeal), Warning::Red, day(29)),
        WarningStatus::Appealed
    );
    appeal.decision = Some(AppealDecision {
        upheld: true,
        reason: "不属实".into(),
        by: "d@nanhai".into(),
        at_ms: 1,
    });
    assert_eq!(
        on(Some(&appeal), Warning::Red, day(29)),
        WarningStatus::Escalated
    );
}

/// A case taken to review by `handler`, with `distinct_people` people.
fn in_review(distinct_people: u8, handler: &str) -> (Vec<EventRecord>, Case) {
    let mut first = received(JoinRule::All);
    if let Event::Received(r) = &mut first.event {
        let r = std::sync::Arc::make_mut(r);
        r.co_departments.clear();
        r.distinct_people = distinct_people;
    }
    let mut records = vec![first];
    let mut case = Case::fold(&records).expect("starts");
    for (who, event) in [
        (
            actor(Role::Clerk, None, "clerk"),
            Event::Accepted {
                deferred: vec![],
                holder: Some("nanhai".into()),
            },
        ),
        (
            actor(Role::Approver, Some("a"), "a1"),
            Event::HandlingStarted,
        ),
        (
            actor(Role::Approver, Some("a"), handler),
            Event::SubmittedForReview {
                opinion: "材料齐全".into(),
            },
        ),
    ] {
        let rec = following(&case, who, event);
        case.apply(&rec).expect("applies");
        records.push(rec);
    }
    assert_eq!(case.handled_by.as_deref(), Some(handler));
    (records, case)
}

fn review(by: &str) -> (Actor, Event) {
    (
        actor(Role::Approver, Some("a"), by),
        Event::ReviewPassed {
            opinion: "同意".into(),
        },
    )
}

fn decide(by: &str) -> (Actor, Event) {
    (
        actor(Role::Approver, Some("a"), by),
        Event::Decided {
            granted: true,
            opinion: "准予".into(),
        },
    )
}

fn code_of(case: &Case, (who, event): (Actor, Event)) -> Result<(), &'static str> {
    case.clone()
        .apply(&following(case, who, event))
        .map_err(|e| e.code())
}

#[test]
fn handling_review_and_decision_are_three_people() {
    let (_, mut case) = in_review(3, "a2");
    assert_eq!(
        case.may_review("a2"),
        Err(CaseError::OwnHandling { step: "review" })
    );
    assert_eq!(code_of(&case, review("a2")), Err("own_handling"));
    case.apply(&{
        let (who, ev) = review("a1");
        following(&case, who, ev)
    })
    .expect("the starter of handling who did not submit may review");
    assert_eq!(code_of(&case, decide("a1")), Err("same_staff"));
    assert_eq!(code_of(&case, decide("a2")), Err("own_handling"));
    assert_eq!(
        case.may_decide("a2").map_err(|e| e.message().en),
        Err("you handled this case; this matter is decided by a third person, neither its handler nor its reviewer".into())
    );
    assert_eq!(code_of(&case, decide("a3")), Ok(()));
    // Sent back and handled again by someone else: the rule follows the
    // new handler.
    let (who, ev) = (
        actor(Role::Approver, Some("a"), "a3"),
        Event::SentBack {
            reason: "补充意见".into(),
        },
    );
    case.apply(&following(&case, who, ev)).expect("sent back");
    let (who, ev) = (
        actor(Role::Approver, Some("a"), "a3"),
        Event::SubmittedForReview {
            opinion: "已补充".into(),
        },
    );
    case.apply(&following(&case, who, ev))
        .expect("handled again");
    assert_eq!(case.may_review("a2"), Ok(()));
    assert_eq!(code_of(&case, review("a3")), Err("own_handling"));
}

#[test]
fn a_matter_of_two_people_lets_the_handler_decide_but_never_review() {
    let (_, mut case) = in_review(2, "a1");
    assert_eq!(code_of(&case, review("a1")), Err("own_handling"));
    let (who, ev) = review("a2");
    case.apply(&following(&case, who, ev))
        .expect("another reviews");
    assert_eq!(code_of(&case, decide("a2")), Err("same_staff"));
    assert_eq!(case.may_decide("a1"), Ok(()));
    assert_eq!(code_of(&case, decide("a1")), Ok(()));
}

/// The rule binds what is written now: a history written before it (the
/// handler reviewed) still folds, and so does a hand-out that recorded no
/// identity check; both are refused when written.
#[test]
fn rules_of_what_is_written_now_do_not_refuse_a_history() {
    let (mut records, case) = in_review(3, "a1");
    let (who, ev) = review("a1");
    let old_review = following(&case, who, ev);
    assert_eq!(
        case.clone().apply(&old_review),
        Err(CaseError::OwnHandling { step: "review" })
    );
    records.push(old_review);
    let mut folded = Case::fold(&records).expect("an old history folds");
    assert_eq!(folded.reviewed_by.as_deref(), Some("a1"));
    folded.state = State::ResultReady;
    let old_hand_out = following(
        &folded,
        actor(Role::Clerk, None, "clerk"),
        Event::HandedOut {
            recipient: "张三".into(),
            collection: None,
        },
    );
    assert_eq!(
        folded.clone().apply(&old_hand_out).map_err(|e| e.code()),
        Err("handout_identity_missing")
    );
    folded.replay(&old_hand_out).expect("an old hand-out folds");
    let out = folded.handed_out.as_ref().expect("recorded");
    assert_eq!(
        out.describe().en,
        "collected by 张三, ID check not recorded"
    );
    assert_eq!(folded.state, State::Completed);
}

/// A case of a trust-first matter (check within 10 working days).
fn trust_first_case() -> Case {
    let mut rec = received(JoinRule::All);
    if let Event::Received(r) = &mut rec.event {
        let r = std::sync::Arc::make_mut(r);
        r.co_departments.clear();
        r.trust_first = Some(crate::catalogue::TrustFirst {
            pledge_zh: "本人承诺所报信息真实".into(),
            pledge_en: "I pledge that what I declared is true".into(),
            check_days: 10,
        });
    }
    Case::start(&rec).expect("starts")
}

#[test]
#[allow(clippy::unwrap_used)]
fn a_trust_first_result_is_issued_at_once_checked_once_and_revoked_on_a_failed_check() {
    // Weekends only: the post-check's limit counts working days.
    let cal = crate::calendar::Calendar::new();
    let issue = Event::TrustIssued {
        pledge: "本人承诺所报信息真实".into(),
        result: "r".into(),
        check_days: 10,
    };
    // Only a trust-first matter is issued on a pledge.
    let mut plain = start(JoinRule::All);
    let rec = following(&plain, actor(Role::Clerk, None, "clerk"), issue.clone());
    assert_eq!(plain.apply(&rec).unwrap_err().code(), "illegal_transition");
    let mut case = trust_first_case();
    // Issued by the window, never by an approver.
    let rec = following(&case, actor(Role::Approver, Some("a"), "a1"), issue.clone());
    assert_eq!(case.apply(&rec).unwrap_err().code(), "wrong_role");
    let rec = following(&case, actor(Role::Clerk, None, "clerk"), issue);
    case.apply(&rec).unwrap();
    assert_eq!(case.state, State::Completed);
    assert_eq!(case.granted, Some(true));
    assert_eq!(case.trust_status(), Some(TrustStatus::Pending));
    // Issued on Monday 2026-09-21 (China time): ten working days after.
    assert_eq!(
        case.post_check_due(&cal),
        NaiveDate::from_ymd_opt(2026, 10, 5)
    );
    // The check is an approver's of the case's department, with a reason
    // when it fails.
    let revoke = |reason: &str| Event::TrustRevoked {
        reason: reason.into(),
    };
    for (who, ev, code) in [
        (actor(Role::Clerk, None, "clerk"), revoke("x"), "wrong_role"),
        (
            actor(Role::Approver, Some("b"), "b1"),
            revoke("x"),
            "wrong_department",
        ),
        (
            actor(Role::Approver, Some("a"), "a1"),
            revoke(" "),
            "empty_field",
        ),
    ] {
        let rec = following(&case, who, ev);
        assert_eq!(case.apply(&rec).unwrap_err().code(), code);
    }
    let mut passed = case.clone();
    let rec = following(
        &passed,
        actor(Role::Approver, Some("a"), "a1"),
        Event::PostCheckPassed {
            note: "现场核查属实".into(),
        },
    );
    passed.apply(&rec).unwrap();
    assert_eq!(passed.trust_status(), Some(TrustStatus::Passed));
    assert_eq!(passed.post_check_due(&cal), None);
    let rec = following(
        &case,
        actor(Role::Approver, Some("a"), "a2"),
        revoke("承诺不实"),
    );
    case.apply(&rec).unwrap();
    assert_eq!(case.trust_status(), Some(TrustStatus::Revoked));
    assert_eq!(case.state, State::Completed);
    assert_eq!(case.post_check_due(&cal), None);
    // Checked once.
    let rec = following(
        &case,
        actor(Role::Approver, Some("a"), "a1"),
        revoke("again"),
    );
    let e = case.apply(&rec).unwrap_err();
    assert_eq!(e, CaseError::PostCheck("already_checked"));
    // A case that is not a trust-first result has no post-check.
    let mut done = start(JoinRule::All);
    let rec = following(
        &done,
        actor(Role::Approver, Some("a"), "a1"),
        Event::PostCheckPassed { note: "n".into() },
    );
    assert_eq!(done.apply(&rec).unwrap_err().code(), "illegal_transition");
}

#[test]
#[allow(clippy::unwrap_used)]
fn a_case_is_rated_once_whatever_the_channel() {
    let mut case = trust_first_case();
    let rec = following(
        &case,
        actor(Role::Clerk, None, "clerk"),
        Event::TrustIssued {
            pledge: "p".into(),
            result: "r".into(),
            check_days: 10,
        },
    );
    case.apply(&rec).unwrap();
    let rate = |channel| Event::Rated {
        score: 1,
        channel,
        comment: String::new(),
    };
    let rec = following(
        &case,
        actor(Role::Citizen, None, "citizen"),
        rate(Channel::Web),
    );
    case.apply(&rec).unwrap();
    assert_eq!(case.rating.as_ref().unwrap().channel, Channel::Web);
    for channel in [
        Channel::QrCode,
        Channel::Sms,
        Channel::HallTablet,
        Channel::Web,
    ] {
        let rec = following(&case, actor(Role::Citizen, None, "citizen"), rate(channel));
        assert_eq!(case.apply(&rec).unwrap_err(), CaseError::AlreadyRated);
    }
}

#[test]
fn a_crossed_case_starts_from_what_it_carries_and_a_window_catches_up_on_its_return() {
    let mut records = vec![received(JoinRule::All)];
    let mut case = Case::fold(&records).expect("starts");
    let accept = following(
        &case,
        actor(Role::Clerk, None, "clerk"),
        Event::Accepted {
            deferred: vec![],
            holder: None,
        },
    );
    case.apply(&accept).expect("accepted");
    records.push(accept);
    let sup = |node: &str| Actor {
        node: node.into(),
        ..actor(Role::Supervisor, None, "system")
    };
    let up = following(
        &case,
        sup("nanhai"),
        Event::Transferred {
            to: "foshan".into(),
            reason: "异地通办".into(),
        },
    );
    case.apply(&up).expect("up to the common ancestor");
    records.push(up);
    // What the window's branch holds up to here.
    let at_window = case.clone();
    let cross = |holder: &str, history: Vec<EventRecord>| Event::Crossed {
        holder: holder.into(),
        reason: "异地通办".into(),
        history,
    };
    assert!(matches!(
        case.clone()
            .apply(&following(&case, sup("foshan"), cross("foshan", vec![]))),
        Err(CaseError::Empty(_))
    ));
    let down = following(
        &case,
        sup("foshan"),
        cross("foshan.shunde", records.clone()),
    );
    case.apply(&down).expect("down into the other branch");
    assert_eq!(case.holder.as_deref(), Some("foshan.shunde"));
    assert_eq!(
        case.window(),
        "nanhai",
        "still served where it was accepted"
    );
    // The other branch never held the case: it starts from the crossing.
    assert_eq!(Case::fold([&down]).expect("starts from it"), case);
    records.push(down);
    let back = following(
        &case,
        sup("foshan.shunde"),
        Event::Transferred {
            to: "foshan".into(),
            reason: "返回".into(),
        },
    );
    case.apply(&back).expect("back up");
    records.push(back);
    let home = following(&case, sup("foshan"), cross("nanhai", records.clone()));
    case.apply(&home).expect("down to the window");
    // The window holds the beginning and takes the rest from the crossing.
    let mut window = at_window;
    window.catch_up(&home).expect("caught up");
    assert_eq!(window, case);
    // Without what it carries, a record with a gap before it does not fold.
    let mut bare = home.clone();
    if let Event::Crossed { history, .. } = &mut bare.event {
        history.clear();
    }
    let mut gap = Case::fold(&records[..3]).expect("the beginning");
    assert!(gap.catch_up(&bare).is_err());
}

#[test]
fn a_root_takes_in_a_case_of_another_tree_as_the_holder_it_is_and_only_with_its_records() {
    let mut records = vec![received(JoinRule::All)];
    let mut case = Case::fold(&records).expect("starts");
    let sup = |node: &str| Actor {
        node: node.into(),
        ..actor(Role::Supervisor, None, "system")
    };
    let accept = following(
        &case,
        actor(Role::Clerk, None, "clerk"),
        Event::Accepted {
            deferred: vec![],
            holder: None,
        },
    );
    case.apply(&accept).expect("accepted");
    records.push(accept);
    // The window's tree's root hands it across: the other root holds it.
    let across = following(
        &case,
        sup("nanhai"),
        Event::Crossed {
            holder: "liwan".into(),
            reason: "跨辖区".into(),
            history: vec![],
        },
    );
    case.apply(&across).expect("handed across");
    records.push(across);
    assert_eq!(case.holder.as_deref(), Some("liwan"));
    let taking = |node: &str, holder: &str, history: Vec<EventRecord>| {
        following(
            &case,
            sup(node),
            Event::Crossed {
                holder: holder.into(),
                reason: "跨辖区".into(),
                history,
            },
        )
    };
    // Naming itself takes the records it carries.
    assert!(matches!(
        case.clone().apply(&taking("liwan", "liwan", vec![])),
        Err(CaseError::Empty(_))
    ));
    let taken = taking("liwan", "liwan", records.clone());
    case.clone()
        .apply(&taken)
        .expect("the root that decides takes it in");
    // The other tree starts the case from what the root carries.
    let down = taking("liwan", "liwan.dali", records.clone());
    assert_eq!(
        Case::fold([&down])
            .expect("starts from it")
            .holder
            .as_deref(),
        Some("liwan.dali")
    );
}
