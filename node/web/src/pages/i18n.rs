//! Every phrase of the pages in Chinese and English, by key. Labels of
//! stored names (states, roles, tiers, ...) are keys `group.name`.
//! A key that is missing shows as itself, and a test checks that every key a
//! template asks for is here.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::web::Lang;

/// `(key, Chinese, English)`.
const PHRASES: &[(&str, &str, &str)] = &[
    ("app.name", "一窗通办", "One-window service"),
    ("skip", "跳到正文", "Skip to content"),
    ("nav.label", "主导航", "Main navigation"),
    ("nav.clerk", "综合窗口", "Service window"),
    ("nav.approver", "审批工作台", "Approval desk"),
    ("nav.overview", "监察总览", "Supervision"),
    ("nav.search", "案件查询", "Case search"),
    ("nav.stats", "统计分析", "Statistics"),
    ("nav.fleet", "节点与安全", "Nodes and security"),
    ("nav.admin", "系统管理", "Administration"),
    ("nav.progress", "进度查询", "Check progress"),
    ("nav.kiosk", "取号", "Take a number"),
    ("nav.guide", "办事指南", "Service guide"),
    ("login", "工作人员登录", "Staff login"),
    ("logout", "退出", "Log out"),
    ("home", "首页", "Home"),
    ("back", "返回", "Back"),
    ("search", "查询", "Search"),
    ("open", "打开", "Open"),
    ("any", "不限", "Any"),
    ("yes", "是", "Yes"),
    ("no", "否", "No"),
    ("csv", "导出 CSV", "Export CSV"),
    ("no_match", "没有找到相符的事项。", "No matching matter."),
    ("error.title", "无法完成", "Could not be done"),
    ("error.code", "代码", "Code"),
    ("login.title", "工作人员登录", "Staff login"),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Log in"),
    (
        "login.expired",
        "登录已过期，请重新登录。",
        "Your session has expired; please log in again.",
    ),
    (
        "login.roles",
        "登录后按角色进入相应页面：",
        "After login each role sees its own pages:",
    ),
    (
        "login.role.clerk",
        "取号叫号、受理申请、出具文书、发放结果",
        "queue, acceptance, documents, hand-out",
    ),
    (
        "login.role.approver",
        "承办、审核、批准、并联审批",
        "handling, review, approval, parallel opinions",
    ),
    (
        "login.role.supervisor",
        "电子监察、统计、导出",
        "supervision, statistics, exports",
    ),
    (
        "login.role.admin",
        "账号与事项目录",
        "accounts and the catalogue",
    ),
    (
        "admin.intro",
        "人员账号和事项目录通过管理命令行维护。",
        "Staff accounts and the catalogue are managed with the administration command line.",
    ),
    ("admin.catalogue", "事项目录版本", "Catalogue version"),
    ("admin.matters", "个事项", "matters"),
    ("admin.staff", "人员账号", "Staff accounts"),
    ("admin.name", "姓名", "Name"),
    ("admin.role", "角色", "Role"),
    ("admin.active", "启用", "Active"),
    ("admin.cli", "命令行：", "Command line:"),
    ("queue.title", "排队叫号", "Queue"),
    ("queue.waiting", "人等候", "waiting"),
    ("queue.taken", "今日取号", "taken today"),
    ("queue.window", "窗口号", "Window"),
    ("queue.call", "叫下一号", "Call next"),
    (
        "queue.call_keys",
        "快捷键：F2 叫号 · Alt+N",
        "Shortcuts: F2 calls the next number · Alt+N",
    ),
    ("queue.at_window", "号，窗口", "at window"),
    ("queue.booked", "预约", "booked"),
    ("queue.served", "办结", "Served"),
    ("queue.take", "代为取号", "Take a number for a visitor"),
    (
        "queue.appointment",
        "预约号（可选）",
        "Appointment reference (optional)",
    ),
    ("queue.take_button", "取号", "Take number"),
    ("clerk.find_case", "查找案件", "Find a case"),
    (
        "clerk.recovering",
        "本厅正在从上级恢复业务记录，恢复完成前不能受理、出具回执或办理案件。查询不受影响。",
        "This hall is recovering its records from the hall above: until that is done no application can be accepted, no receipt issued and no case handled. Look-ups still work.",
    ),
    ("clerk.ready", "待发放结果", "Results to hand out"),
    (
        "clerk.none_ready",
        "没有待发放的结果。",
        "No result is waiting.",
    ),
    ("clerk.corrections", "待补正案件", "Waiting for correction"),
    (
        "clerk.none_corrections",
        "没有待补正的案件。",
        "No case waits for correction.",
    ),
    ("clerk.new_application", "受理新申请", "New application"),
    (
        "clerk.matter_search",
        "事项（名称、拼音首字母或编码）",
        "Matter (name, pinyin initials or code)",
    ),
    (
        "clerk.matter_help",
        "例如输入“sfz”查找身份证相关事项。",
        "For example, type “sfz” for identity card matters.",
    ),
    ("clerk.next_applicant", "下一位", "Next applicant"),
    ("matter.immediate", "即办件", "Immediate"),
    ("matter.committed", "承诺件", "Committed"),
    ("apply.title", "受理", "Accept"),
    (
        "apply.resubmit_title",
        "补正后重新提交",
        "Resubmit after correction",
    ),
    ("apply.decided_here", "本级办理", "decided at this hall"),
    (
        "apply.forwarded",
        "须报上级办理",
        "decided at a higher tier",
    ),
    ("apply.guide", "办事指南", "Guide"),
    (
        "apply.previous_issues",
        "上次一次性告知的补正内容：",
        "The last correction notice asked for:",
    ),
    ("apply.applicant", "申请人", "Applicant"),
    ("apply.kind", "申请人类型", "Applicant type"),
    ("apply.person", "自然人", "Person"),
    ("apply.organisation", "法人或其他组织", "Organisation"),
    ("apply.id_number", "证件号码", "ID number"),
    (
        "apply.id_help",
        "居民身份证号码或统一社会信用代码，系统自动校验。",
        "Citizen ID number or unified social credit code; the check character is verified.",
    ),
    ("apply.name", "姓名或名称", "Name"),
    ("apply.phone", "联系电话", "Phone"),
    (
        "apply.override",
        "信用代码校验位不符但确属有效",
        "The credit code fails its check but is genuine",
    ),
    (
        "apply.override_reason",
        "核实理由（将记录在案）",
        "Reason (recorded)",
    ),
    ("apply.situations", "情形", "Situations"),
    (
        "apply.situations_help",
        "勾选适用的情形，清单会显示相应的材料。",
        "Tick the situations that apply; the checklist shows their materials.",
    ),
    ("apply.materials", "材料清单", "Materials checklist"),
    (
        "apply.materials_help",
        "勾选“已提交”按清单要求计数；如数量不同请填写；有问题的材料请注明。",
        "Tick “Presented” to count what the checklist asks for; enter other numbers if they differ; note any problem.",
    ),
    ("apply.material", "材料", "Material"),
    ("apply.presented", "已提交", "Presented"),
    ("apply.electronic", "电子证照", "Electronic"),
    ("apply.problem", "问题", "Problem"),
    ("apply.problem_ph", "如：已过期", "e.g. expired"),
    (
        "apply.submit",
        "提交并出具文书",
        "Submit and issue the document",
    ),
    (
        "apply.submit_keys",
        "快捷键：Ctrl+Enter 或 Alt+S",
        "Shortcut: Ctrl+Enter or Alt+S",
    ),
    ("apply.reject", "不予受理", "Do not accept"),
    (
        "apply.reject_reason",
        "不予受理的理由（印在决定书上）",
        "Reason (printed on the decision)",
    ),
    (
        "apply.reject_submit",
        "出具不予受理决定书",
        "Issue the non-acceptance decision",
    ),
    ("mat.originals", "原件", "Originals"),
    ("mat.copies", "复印件", "Copies"),
    ("mat.only_when", "仅适用于：", "Only when: "),
    ("mat.check", "审核要点：", "Check: "),
    ("case.number", "案件编号", "Case number"),
    ("case.matter", "事项", "Matter"),
    ("case.applicant", "申请人", "Applicant"),
    ("case.received", "收件时间", "Received"),
    ("case.state", "状态", "State"),
    ("case.committed_due", "承诺办结时限", "Committed due"),
    ("case.statutory_due", "法定办结时限", "Statutory due"),
    ("case.stage_due", "本环节时限", "Stage due"),
    ("case.result", "办理结果", "Result"),
    ("case.suspended", "已中止计时", "Clock stopped"),
    (
        "case.resubmit",
        "补正后重新提交",
        "Resubmit after correction",
    ),
    ("case.rate", "请申请人评价", "Rating by the applicant"),
    ("case.issues", "须补正的全部内容", "Everything to correct"),
    ("case.recipient", "领取人", "Collected by"),
    ("case.hand_out", "发放结果", "Hand out the result"),
    (
        "case.hand_out_elsewhere",
        "结果须在受理窗口发放：",
        "The result is handed out at the accepting window:",
    ),
    ("case.accepting", "受理大厅", "Accepting hall"),
    ("case.holder", "办理节点", "Deciding node"),
    (
        "case.awaiting_transfer",
        "等待转送上级",
        "waiting for transfer",
    ),
    ("case.deferred", "容缺后补材料", "Materials to follow"),
    ("case.trace", "办理过程（留痕）", "Trace of every step"),
    ("case.rating", "评价", "Rating"),
    ("doc.title", "文书", "Document"),
    ("doc.open", "在新窗口打开文书", "Open the document"),
    ("doc.print", "打印文书", "Print the document"),
    (
        "rate.title",
        "请对本次服务进行评价",
        "Please rate our service",
    ),
    ("rate.legend", "评价等级", "Rating"),
    ("rate.comment", "意见或建议（可选）", "Comments (optional)"),
    (
        "rate.thanks",
        "感谢您的评价！",
        "Thank you for your rating!",
    ),
    ("rate.back", "返回窗口页面", "Back to the window"),
    ("approver.title", "审批工作台", "Approval desk"),
    (
        "approver.queue",
        "本部门待办案件",
        "Cases of the department",
    ),
    ("approver.empty", "没有待办案件。", "No case is waiting."),
    ("approver.parallel", "并联审批", "Parallel approval"),
    (
        "approver.no_parallel",
        "没有待提出意见的并联审批。",
        "No parallel opinion is waiting.",
    ),
    ("approver.lead", "主办部门", "Lead department"),
    ("approver.actions", "办理", "Actions"),
    (
        "approver.nothing",
        "本部门对该案件当前无可办理的操作。",
        "Your department has nothing to do on this case now.",
    ),
    ("act.start_handling", "开始承办", "Start handling"),
    (
        "act.submit_for_review",
        "承办完毕，提交审核",
        "Submit for review",
    ),
    ("act.pass_review", "审核通过", "Pass review"),
    ("act.send_back", "退回承办", "Send back"),
    ("act.decide", "作出决定", "Decide"),
    ("act.decision", "决定", "Decision"),
    ("act.grant", "准予", "Grant"),
    ("act.refuse", "不予", "Refuse"),
    (
        "act.result_ready",
        "结果送受理窗口",
        "Result ready at the window",
    ),
    (
        "act.result",
        "办理结果（证照编号或文书）",
        "Result (licence number or letter)",
    ),
    ("act.give_opinion", "提交并联审批意见", "Give the opinion"),
    ("act.opinion_on", "本部门意见", "Our opinion"),
    ("act.agree", "同意", "Agree"),
    ("act.disagree", "不同意", "Disagree"),
    ("act.opinion", "意见", "Opinion"),
    ("act.reason", "理由", "Reason"),
    ("act.note", "说明", "Note"),
    (
        "act.suspend",
        "中止计时（特别程序）",
        "Suspend (special procedure)",
    ),
    ("act.resume", "恢复计时", "Resume"),
    ("act.kind", "特别程序类型", "Procedure"),
    ("act.extend", "延期", "Extend"),
    ("act.extend_by", "延长", "Extend by"),
    ("act.at_most", "至多", "at most"),
    (
        "act.not_reviewer",
        "您已审核本案件，须由其他人员作出决定。",
        "You reviewed this case; someone else must decide it.",
    ),
    (
        "act.default_handling",
        "材料齐全，符合条件，拟同意。",
        "Complete and eligible; propose to grant.",
    ),
    (
        "act.default_review",
        "经审核，符合法定条件。",
        "Reviewed: the legal conditions are met.",
    ),
    ("act.default_decide", "准予办理。", "Granted."),
    ("act.default_agree", "同意。", "Agreed."),
    ("sup.title", "电子监察", "Electronic supervision"),
    ("sup.scope", "监察范围：", "Scope: "),
    ("sup.today", "今天", "Today"),
    ("sup.red", "已超期", "overdue"),
    ("sup.yellow", "临近时限", "near the deadline"),
    ("sup.last4", "申请人证件后四位", "Applicant ID, last 4"),
    (
        "sup.matter_ph",
        "名称、拼音首字母或编码",
        "name, pinyin initials or code",
    ),
    ("sup.terminate", "终止办理", "Terminate the case"),
    ("stats.window", "统计期间", "Period"),
    ("stats.days", "天", "days"),
    ("stats.show", "显示", "Show"),
    ("stats.data", "查看数据", "See the data"),
    ("stats.tables", "数据表", "Data tables"),
    ("col.event", "事件", "Event"),
    ("col.actor", "办理人", "By"),
    ("col.hash", "哈希", "Hash"),
    (
        "progress.title",
        "办理进度查询",
        "Check the progress of an application",
    ),
    (
        "progress.last4",
        "申请人证件号码后四位",
        "Last four characters of the applicant's ID",
    ),
    (
        "progress.last4_help",
        "身份证最后一位为 X 的请输入 X。",
        "If the ID ends in X, enter X.",
    ),
    ("progress.submit", "查询", "Check"),
    ("progress.steps", "办理环节", "Stages"),
    (
        "progress.due",
        "承诺办结日期：",
        "Committed completion date:",
    ),
    ("progress.next", "请您下一步", "What to do next"),
    (
        "progress.privacy",
        "为保护个人信息，查询结果只显示办理状态，不显示申请材料。",
        "To protect personal data, the answer shows the status only, never the materials.",
    ),
    ("guide.title", "办事指南", "Service guide"),
    ("guide.search", "搜索事项", "Find a matter"),
    ("guide.co", "协办", "with"),
    ("guide.kind", "事项类型", "Kind"),
    ("guide.type", "办件类型", "Type"),
    ("guide.committed", "承诺时限", "Committed time limit"),
    ("guide.statutory", "法定时限", "Statutory time limit"),
    ("guide.visits", "到现场次数", "Visits needed"),
    ("guide.where", "办理地点", "Where"),
    ("guide.here", "本大厅可受理", "This hall accepts it"),
    (
        "guide.not_here",
        "本大厅不受理，请到上级大厅",
        "Not accepted at this hall; go to a higher tier",
    ),
    ("guide.fees", "收费", "Fees"),
    ("guide.free", "不收费", "Free of charge"),
    ("guide.yuan", "元", "yuan"),
    ("guide.waivable", "可减免", "may be waived"),
    ("guide.basis", "设定依据", "Legal basis"),
    ("guide.conditions", "受理条件", "Conditions"),
    ("guide.materials", "申请材料（请带齐）", "What to bring"),
    ("guide.situations", "情形：", "Situations: "),
    ("guide.stages", "办理流程", "Steps"),
    ("guide.print", "打印本指南", "Print this guide"),
    ("kiosk.title", "取号", "Take a number"),
    ("kiosk.take", "取号", "Take a number"),
    (
        "kiosk.appointment",
        "已预约？请输入预约号",
        "Booked? Enter your appointment reference",
    ),
    ("kiosk.your_number", "您的号码", "Your number"),
    ("kiosk.ahead", "前面等候人数：", "People ahead of you:"),
    ("kiosk.done", "完成", "Done"),
    // Roles.
    ("role.clerk", "窗口人员", "Window clerk"),
    ("role.approver", "审批人员", "Approver"),
    ("role.supervisor", "监察人员", "Supervisor"),
    ("role.admin", "管理员", "Administrator"),
    ("role.citizen", "申请人", "Applicant"),
    // Tiers.
    ("tier.district", "区级", "District"),
    ("tier.township", "镇街", "Township"),
    ("tier.village", "村居", "Village"),
    ("tier.city", "市级", "City"),
    // States.
    ("state.received", "已收件", "Received"),
    ("state.correction", "待补正", "Correction"),
    ("state.rejected", "不予受理", "Not accepted"),
    ("state.accepted", "已受理", "Accepted"),
    ("state.handling", "承办中", "Handling"),
    ("state.review", "审核中", "Review"),
    ("state.approval", "批准中", "Approval"),
    ("state.decided", "已决定", "Decided"),
    ("state.result_ready", "待领取", "Result ready"),
    ("state.completed", "已办结", "Completed"),
    ("state.withdrawn", "已撤回", "Withdrawn"),
    ("state.terminated", "已终止", "Terminated"),
    // Citizen steps.
    ("step.received", "收件", "Received"),
    ("step.accepted", "受理", "Accepted"),
    ("step.handling", "承办", "Handling"),
    ("step.review", "审核", "Review"),
    ("step.approval", "批准", "Approval"),
    ("step.completed", "办结", "Completed"),
    // Warnings.
    ("warn.green", "正常", "On time"),
    ("warn.yellow", "黄色预警", "Yellow"),
    ("warn.red", "红色预警", "Red"),
    ("warn.none", "—", "—"),
    // Materials.
    ("nec.required", "必需", "Required"),
    ("nec.optional", "可选", "Optional"),
    ("nec.deferrable", "容缺", "May follow"),
    ("form.paper", "纸质", "paper"),
    ("form.electronic", "电子", "electronic"),
    ("form.either", "纸质或电子", "paper or electronic"),
    ("unit.working_days", "个工作日", "working days"),
    ("unit.calendar_days", "个自然日", "calendar days"),
    // Ratings, 1 best.
    ("score.1", "非常满意", "Very satisfied"),
    ("score.2", "满意", "Satisfied"),
    ("score.3", "基本满意", "Fair"),
    ("score.4", "不满意", "Dissatisfied"),
    ("score.5", "非常不满意", "Very dissatisfied"),
    // Parallel sub-cases.
    ("sub.open", "待提出意见", "Waiting"),
    ("sub.approved", "同意", "Agreed"),
    ("sub.refused", "不同意", "Disagreed"),
    ("sub.superseded", "无需意见", "Not needed"),
    // Suspension kinds.
    ("susp.hearing", "听证", "Hearing"),
    ("susp.tendering", "招标、拍卖", "Tendering or auction"),
    ("susp.testing", "检验、检测", "Testing"),
    ("susp.quarantine", "检疫", "Quarantine"),
    ("susp.appraisal", "鉴定", "Appraisal"),
    ("susp.expert_review", "专家评审", "Expert review"),
    ("susp.other", "其他特别程序", "Other procedure"),
    // Matter kinds.
    ("kind.permit", "行政许可", "Administrative permit"),
    ("kind.penalty", "行政处罚", "Administrative penalty"),
    ("kind.enforcement", "行政强制", "Administrative enforcement"),
    ("kind.levy", "行政征收", "Administrative levy"),
    ("kind.benefit", "行政给付", "Administrative benefit"),
    ("kind.inspection", "行政检查", "Administrative inspection"),
    (
        "kind.confirmation",
        "行政确认",
        "Administrative confirmation",
    ),
    ("kind.award", "行政奖励", "Administrative award"),
    ("kind.ruling", "行政裁决", "Administrative ruling"),
    ("kind.other", "其他行政权力", "Other administrative power"),
    ("kind.public_service", "公共服务", "Public service"),
    // Events.
    ("ev.received", "收件", "Received"),
    ("ev.resubmitted", "补正后重新提交", "Resubmitted"),
    (
        "ev.correction_notified",
        "一次性告知补正",
        "Correction notice",
    ),
    ("ev.not_accepted", "不予受理", "Not accepted"),
    ("ev.accepted", "受理", "Accepted"),
    (
        "ev.completed_at_window",
        "当场办结",
        "Completed at the window",
    ),
    ("ev.handling_started", "开始承办", "Handling started"),
    (
        "ev.submitted_for_review",
        "提交审核",
        "Submitted for review",
    ),
    ("ev.review_passed", "审核通过", "Review passed"),
    ("ev.sent_back", "退回", "Sent back"),
    ("ev.opinion_given", "并联审批意见", "Parallel opinion"),
    ("ev.decided", "决定", "Decided"),
    ("ev.result_ready", "结果送达窗口", "Result ready"),
    ("ev.handed_out", "发放结果", "Handed out"),
    ("ev.suspended", "中止计时", "Suspended"),
    ("ev.resumed", "恢复计时", "Resumed"),
    ("ev.extended", "延期", "Extended"),
    ("ev.withdrawn", "撤回", "Withdrawn"),
    ("ev.terminated", "终止", "Terminated"),
    ("ev.rated", "评价", "Rated"),
    ("stats.no_data_yet", "暂无数据。", "No data yet."),
    (
        "stats.cases_received_per_day_by_tier",
        "每日收件量（按层级）",
        "Cases received per day, by tier",
    ),
    (
        "stats.share_of_immediate_completions_per_day",
        "即办件占比（按日）",
        "Share of immediate completions, per day",
    ),
    ("stats.busiest_matters", "收件量前列事项", "Busiest matters"),
    (
        "stats.cases_per_department",
        "各部门收件量",
        "Cases per department",
    ),
    ("stats.cases_per_hall", "各大厅收件量", "Cases per hall"),
    (
        "stats.time_from_receipt_to_completion",
        "办结用时分布（收件至办结）",
        "Time from receipt to completion",
    ),
    ("stats.cases", "件数", "Cases"),
    (
        "stats.queue_waiting_time",
        "排队等候时间分布",
        "Queue waiting time",
    ),
    ("stats.visitors", "人次", "Visitors"),
    ("stats.ratings", "好差评", "Ratings"),
    ("stats.cases_by_state", "案件状态", "Cases by state"),
    ("stats.cases_received", "收件总量", "Cases received"),
    ("stats.immediate_share", "即办件占比", "Immediate share"),
    (
        "stats.average_time_to_completion",
        "平均办结用时",
        "Average time to completion",
    ),
    (
        "stats.longest_time_to_completion",
        "最长办结用时",
        "Longest time to completion",
    ),
    (
        "stats.average_queue_wait",
        "平均排队等候",
        "Average queue wait",
    ),
    ("stats.satisfied", "满意率", "Satisfied"),
    ("stats.connected", "在线", "connected"),
    ("stats.offline", "离线", "offline"),
    ("stats.this_node", "（本节点）", " (this node)"),
    ("stats.revoked", "已吊销", "revoked"),
    ("stats.nodes", "节点", "Nodes"),
    (
        "stats.no_hall_below_has_connected_yet_once_fed",
        "尚无下级节点接入：联邦同步启用后，下级大厅在此列出。",
        "No hall below has connected yet: once federation runs, the halls below are listed here.",
    ),
    ("stats.security_events", "安全事件", "Security events"),
    (
        "stats.no_security_events",
        "没有安全事件。",
        "No security events.",
    ),
    ("col.code", "事项编码", "Code"),
    ("col.matter", "事项", "Matter"),
    ("col.cases", "件数", "Cases"),
    ("col.immediate", "即办件", "Immediate"),
    ("col.code_2", "部门编码", "Code"),
    ("col.hall", "大厅", "Hall"),
    ("col.tier", "层级", "Tier"),
    ("col.time_2", "用时", "Time"),
    ("col.wait", "等候", "Wait"),
    ("col.visitors", "人次", "Visitors"),
    ("col.rating", "评价", "Rating"),
    ("col.state", "状态", "State"),
    ("col.node", "节点", "Node"),
    ("col.parent", "上级", "Parent"),
    ("col.link", "连接", "Link"),
    ("col.last_seen", "最后联系", "Last seen"),
    ("col.version", "软件版本", "Version"),
    ("col.catalogue", "目录版本", "Catalogue"),
    ("col.backlog", "待同步", "Backlog"),
    ("col.lag_ms", "延迟(ms)", "Lag (ms)"),
    ("col.clock_skew_ms", "时钟偏差(ms)", "Clock skew (ms)"),
    ("col.link_state", "链路状态", "Link state"),
    ("col.time", "时间", "Time"),
    ("col.kind", "类型", "Kind"),
    ("col.peer", "节点", "Peer"),
    ("col.address", "地址", "Address"),
    ("col.detail", "详情", "Detail"),
    (
        "supervisor.every_hall_of_the_district",
        "全区所有大厅",
        "every hall of the district",
    ),
    ("supervisor.cases_found", "查询结果", "Cases found"),
    (
        "supervisor.no_case_matches",
        "没有符合条件的案件。",
        "No case matches.",
    ),
    (
        "page.the_page_could_not_be_rendered_please_tr",
        "页面生成失败，请稍后重试。",
        "The page could not be rendered; please try again.",
    ),
    ("col.day", "日期", "Day"),
    ("col.total", "合计", "Total"),
    ("col.immediate_share", "即办率", "Immediate share"),
    ("col.case", "案件编号", "Case"),
    ("col.department", "部门", "Department"),
    ("col.accepting_hall", "受理大厅", "Accepting hall"),
    ("col.received", "收件时间", "Received"),
    ("col.committed_due", "承诺时限", "Committed due"),
    ("col.warning", "预警", "Warning"),
    ("supervisor.red", "已超期（红色预警）", "Overdue (red)"),
    (
        "supervisor.red_empty",
        "没有超期案件。",
        "No case is overdue.",
    ),
    (
        "supervisor.yellow",
        "临近时限（黄色预警）",
        "Near the deadline (yellow)",
    ),
    (
        "supervisor.yellow_empty",
        "没有临近时限的案件。",
        "No case is near its deadline.",
    ),
    (
        "supervisor.more",
        "共 {n} 件，此处显示前 {shown} 件；导出 CSV 可得全部。",
        "{n} cases; the first {shown} are shown. The CSV has them all.",
    ),
    (
        "supervisor.scope_below",
        "{id} 及下级大厅",
        "{id} and the halls below",
    ),
];

fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static T: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    T.get_or_init(|| PHRASES.iter().map(|(k, zh, en)| (*k, (*zh, *en))).collect())
}

/// The phrase for `key` in `lang`, or the key itself if there is none.
pub fn phrase(lang: Lang, key: &str) -> &str {
    match table().get(key) {
        Some((zh, en)) => lang.pick(zh, en),
        None => key,
    }
}

/// The phrase for `key` in `lang` with each `{name}` slot filled from
/// `args`.
pub fn phrase_with(lang: Lang, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut text = phrase(lang, key).to_owned();
    for (name, value) in args {
        text = text.replace(&format!("{{{name}}}"), &value.to_string());
    }
    text
}

/// Whether the table has `key`.
#[cfg(test)]
pub fn has(key: &str) -> bool {
    table().contains_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_are_filled() {
        let mut seen = std::collections::HashSet::new();
        for (k, zh, en) in PHRASES {
            assert!(seen.insert(*k), "duplicate phrase key {k}");
            assert!(!zh.is_empty() && !en.is_empty(), "{k} is empty");
        }
    }

    #[test]
    fn every_stored_name_has_a_label() {
        use crate::domain::case::State;
        for s in [
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
        ] {
            assert!(has(&format!("state.{}", s.as_str())), "{s:?}");
            assert_eq!(
                phrase(Lang::Zh, &format!("state.{}", s.as_str())),
                s.label_zh()
            );
        }
        assert_eq!(phrase(Lang::En, "missing.key"), "missing.key");
    }

    /// Every key the pages' code asks for (`phrase("..")`, `phrases(&[..])`,
    /// `phrase_with("..", ..)`) is in the table, in both languages.
    #[test]
    fn every_key_the_code_asks_for_is_here() {
        let sources = [
            include_str!("approver.rs"),
            include_str!("apply.rs"),
            include_str!("citizen.rs"),
            include_str!("clerk.rs"),
            include_str!("login.rs"),
            include_str!("search.rs"),
            include_str!("stats.rs"),
            include_str!("supervisor.rs"),
            include_str!("web.rs"),
        ];
        let mut asked = Vec::new();
        for src in sources {
            for (open, close) in [("phrase(\"", "\""), ("phrase_with(\"", "\"")] {
                for part in src.split(open).skip(1) {
                    asked.extend(part.split(close).next().map(str::to_owned));
                }
            }
            for part in src.split("phrases(&[").skip(1) {
                let list = part.split(']').next().unwrap_or("");
                asked.extend(
                    list.split(',')
                        .map(|k| k.trim().trim_matches('"').to_owned())
                        .filter(|k| !k.is_empty()),
                );
            }
        }
        // Keys made with format!: the deadline lists'.
        for level in ["red", "yellow"] {
            asked.push(format!("supervisor.{level}"));
            asked.push(format!("supervisor.{level}_empty"));
        }
        assert!(asked.len() > 60, "the scan found the keys: {asked:?}");
        for k in &asked {
            assert!(
                has(k),
                "the code asks for phrase {k:?}, which is not in PHRASES"
            );
        }
        // A slot is filled.
        assert_eq!(
            phrase_with(
                Lang::En,
                "supervisor.scope_below",
                &[("id", &"nanhai.guicheng")]
            ),
            "nanhai.guicheng and the halls below"
        );
    }
}
