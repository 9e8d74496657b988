//! The words of the printed documents (`doc.`): titles, labels, the
//! standard sentences, and the lines of a correction notice. A document
//! prints both languages, so its code takes both from here. Also what a
//! case's history records (`history.`, `applicant.`).

/// `(key, Chinese, English)`.
pub const PHRASES: &[(&str, &str, &str)] = &[
    ("doc.title.receipt", "受理回执", "Acceptance Receipt"),
    (
        "doc.title.correction_notice",
        "材料补正通知书",
        "Notice to Correct Materials",
    ),
    (
        "doc.title.non_acceptance",
        "不予受理决定书",
        "Decision of Non-acceptance",
    ),
    ("doc.title.completion", "办结通知书", "Notice of Completion"),
    ("doc.title.result", "办理结果通知书", "Notice of Result"),
    (
        "doc.title.revocation",
        "撤销决定书",
        "Decision of Revocation",
    ),
    (
        "doc.intro.revocation",
        "您凭信用承诺当场取得的办理结果，经事后核查不符合承诺，决定予以撤销，理由如下：",
        "The result you were issued at once on your signed pledge was checked afterwards and does not meet the pledge; it is revoked, for these reasons:",
    ),
    (
        "doc.line.revocation_reason",
        "核查意见：{reason}",
        "Finding: {reason}",
    ),
    (
        "doc.line.revoked_result",
        "被撤销的办理结果：{result}",
        "Result revoked: {result}",
    ),
    (
        "doc.note.trust_issued",
        "本事项实行先信任、再审核：凭您签署的信用承诺当场办结，将于{date}前完成事后核查；经核查不符合承诺的，办理结果将被撤销。",
        "This matter is trust first, check later: it was completed at once on the pledge you signed and will be checked by {date}; if the check finds the pledge broken, the result is revoked.",
    ),
    (
        "doc.progress.revoked",
        "经事后核查，凭信用承诺取得的办理结果已于{date}撤销，撤销决定书请到{hall}领取。",
        "After its post-check, the result issued on your pledge was revoked on {date}; collect the decision of revocation at {hall}.",
    ),
    (
        "doc.progress.post_check",
        "凭信用承诺当场办结，事后核查将于{date}前完成。",
        "Completed at once on your pledge; its post-check is due by {date}.",
    ),
    (
        "doc.progress.post_check_passed",
        "事后核查已通过，办理结果有效。",
        "The post-check is passed: the result stands.",
    ),
    (
        "doc.title.result_granted",
        "准予办理决定书",
        "Decision to Grant",
    ),
    (
        "doc.title.result_refused",
        "不予办理决定书",
        "Decision to Refuse",
    ),
    (
        "doc.intro.result_granted",
        "经审查，您的申请符合法定条件，决定准予办理。",
        "Your application meets the legal conditions and is granted.",
    ),
    (
        "doc.intro.result_refused",
        "经审查，您的申请不符合法定条件，决定不予办理，理由如下：",
        "Your application does not meet the legal conditions and is refused, for these reasons:",
    ),
    ("doc.line.result", "办理结果：{result}", "Result: {result}"),
    (
        "doc.line.decision_reason",
        "审批意见：{reason}",
        "Decision: {reason}",
    ),
    (
        "doc.note.collect_at",
        "请凭受理回执、本决定书和身份证件到{hall}领取办理结果；由他人代领的，须出示授权委托书和代领人身份证件。",
        "Collect the result at {hall} with the receipt, this decision and your ID; someone collecting for you must show your written authorisation and their own ID.",
    ),
    ("doc.seal", "文书核验码", "Verification code"),
    ("doc.case_number", "案件编号", "Case No."),
    ("doc.matter", "事项", "Matter"),
    ("doc.applicant", "申请人", "Applicant"),
    ("doc.date", "日期", "Date"),
    ("doc.qr", "扫码核验文书真伪", "Scan to verify this document"),
    (
        "doc.rate_qr",
        "办结后扫码评价服务",
        "Scan to rate the service once done",
    ),
    (
        "doc.intro.correction_notice",
        "经审查，您提交的申请材料不齐全或不符合法定形式，请补正以下全部内容：",
        "Your application is incomplete. Please correct all of the following:",
    ),
    (
        "doc.intro.non_acceptance",
        "经审查，您的申请不予受理，理由如下：",
        "Your application is not accepted, for this reason:",
    ),
    (
        "doc.intro.receipt",
        "您的申请材料齐全、符合法定形式，予以受理。",
        "Your application is complete and is accepted.",
    ),
    (
        "doc.due",
        "承诺办结时限：{committed}　法定办结时限：{statutory}",
        "Committed completion by {committed}; statutory limit {statutory}",
    ),
    (
        "doc.awaiting_transfer",
        "本案件已受理，等待转送上级办理。",
        "Accepted; waiting for transfer to a higher tier.",
    ),
    (
        "doc.note.correction",
        "以上为需补正的全部内容（一次性告知）。请补齐后携带本通知书到任一窗口办理。",
        "This notice lists everything to correct at once. Bring it with the corrected materials to any window.",
    ),
    (
        "doc.note.correction_by",
        "请于 {date} 前补正（{n} {unit}内）；逾期未补正的，视为撤回申请。",
        "Please correct by {date} (within {n} {unit}); an application not corrected by then is taken as withdrawn.",
    ),
    (
        "doc.note.received_material",
        "已收取：{material}，原件 {originals} 份，复印件 {copies} 份。",
        "Received: {material}, {originals} original(s), {copies} copy(ies).",
    ),
    (
        "doc.note.non_acceptance_to",
        "如不服本决定，可自收到本决定书之日起六十日内向{reconsideration}申请行政复议，或者自收到之日起六个月内向{court}提起行政诉讼。",
        "You may apply to {reconsideration} for administrative reconsideration within 60 days of receiving this decision, or bring an administrative lawsuit before {court} within six months.",
    ),
    ("doc.address", "地址", "Address"),
    ("doc.phone", "电话", "Telephone"),
    ("doc.hours", "办公时间", "Opening hours"),
    ("doc.working_days", "法定工作日", "working days"),
    (
        "doc.note.progress",
        "查询办理进度：用手机扫描二维码，或在任一便民服务大厅、网上输入案件编号和申请人证件号码后四位。",
        "To follow the case, scan the QR code, or give the case number and the last four characters of the applicant's ID number at any hall or online.",
    ),
    (
        "doc.note.non_acceptance",
        "如不服本决定，可自收到之日起六十日内申请行政复议，或六个月内提起行政诉讼。",
        "You may apply for administrative reconsideration within 60 days of receipt, or bring an administrative lawsuit within six months.",
    ),
    (
        "doc.note.completion",
        "本事项已当场办结。",
        "This matter was completed at the window.",
    ),
    (
        "doc.note.transfer_queued",
        "本案件由上级（{hall}）办理，已受理；当前与上级的网络中断，已排队等待转送。办理结果将在本窗口发放。",
        "This case is decided at a higher tier ({hall}). It is accepted and waits for transfer while the link is down. The result is handed out at this window.",
    ),
    (
        "doc.note.transferred",
        "本案件已转上级（{hall}）办理；办理结果将在本窗口发放，请凭本回执领取。",
        "This case is decided at a higher tier ({hall}). Collect the result at this window with this receipt.",
    ),
    (
        "doc.note.collect_here",
        "办理结果将在本窗口发放，请凭本回执领取。",
        "Collect the result at this window with this receipt.",
    ),
    (
        "doc.note.by_data",
        "《{material}》由数据核验，引用 {reference}，无需提交",
        "{material}: presented by data, ref {reference}; not to be brought",
    ),
    (
        "doc.line.deferred",
        "容缺受理，须于 {date} 前补交：《{material}》",
        "Accepted pending: bring {material} by {date}",
    ),
    (
        "doc.intro.receipt_deferred",
        "您的申请主要材料齐全、符合法定形式，予以容缺受理；所缺材料请按下列期限补交。",
        "Your application's main materials are complete and it is accepted; bring the missing materials by the dates below.",
    ),
    (
        "doc.line.missing",
        "缺少《{material}》",
        "{material} is missing",
    ),
    (
        "doc.line.too_few_copies",
        "《{material}》复印件应提交{need}份，实际{got}份",
        "{material}: {need} copies required, {got} presented",
    ),
    (
        "doc.line.original_missing",
        "《{material}》应出示原件{need}份，实际{got}份",
        "{material}: {need} originals required, {got} shown",
    ),
    (
        "doc.line.faulty",
        "《{material}》不符合要求：{problem}",
        "{material}: {problem}",
    ),
    (
        "doc.progress.result_ready",
        "办理结果已可领取，请携带受理回执和身份证件到受理窗口领取。",
        "The result is ready: collect it at the accepting window with the receipt and your ID.",
    ),
    (
        "doc.progress.bring",
        "请补交《{material}》",
        "Please bring: {material}",
    ),
    // What a case's history records, both languages in one line
    // (`history.`): every reader of the history sees the same text.
    (
        "history.completed_at_window",
        "当场办结",
        "completed at the window",
    ),
    (
        "history.trust_issued",
        "凭信用承诺当场办结，待事后核查",
        "issued at once on a signed pledge, to be checked",
    ),
    (
        "history.escalated",
        "本级无权决定，转上级办理",
        "decided at a higher tier",
    ),
    (
        "history.handed_back",
        "办理结果返回受理窗口",
        "result returned to the accepting window",
    ),
    (
        "history.handed_up",
        "{hall}停止办理，案件交区级中心转{heir}",
        "{hall} closed: handed to the district for {heir}",
    ),
    (
        "history.handed_over",
        "{hall}停止办理，案件转{heir}：{reason}",
        "{hall} closed, the case goes to {heir}: {reason}",
    ),
    (
        "history.crossed",
        "异地通办，转{hall}办理",
        "cross-district handling: sent on to {hall}",
    ),
    (
        "history.crossed_tree",
        "跨辖区异地通办，转{tree}辖区办理",
        "cross-district handling: handed to the tree of {tree}",
    ),
    (
        "history.crossed_in",
        "跨辖区异地通办，由{tree}辖区转来，交{hall}办理",
        "cross-district handling for the tree of {tree}: sent on to {hall}",
    ),
    (
        "history.recalled",
        "调回上级：{reason}",
        "recalled: {reason}",
    ),
    (
        "history.wrong_applicant",
        "申请人类型不符：本事项仅受理{who}申请",
        "applicant type does not match: this matter serves {who}",
    ),
    (
        "history.collected_unchecked",
        "由{name}领取（未记录身份核验）",
        "collected by {name}, ID check not recorded",
    ),
    (
        "history.collected_in_person",
        "申请人{name}本人领取，已核验{document}（尾号{last4}）",
        "collected by the applicant {name} in person, {document} checked (ending {last4})",
    ),
    (
        "history.collected_by_proxy",
        "由{name}代领（身份证号码{id}），已出示授权委托书",
        "collected by proxy {name} (ID {id}), written authorisation presented",
    ),
    (
        "history.collected_by_proxy_ref",
        "由{name}代领（身份证号码{id}），已出示授权委托书（{reference}）",
        "collected by proxy {name} (ID {id}), written authorisation presented ({reference})",
    ),
    (
        "history.paper_only",
        "须提交纸质材料",
        "must be presented on paper",
    ),
    ("applicant.person", "自然人", "natural persons"),
    ("applicant.organisation", "法人及其他组织", "organisations"),
];
