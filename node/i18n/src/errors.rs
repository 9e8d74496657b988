//! The messages of errors, by stable machine code (`err.<code>`, and
//! `err.<code>.<variant>` where one code has several causes), what a role
//! may not do (`action.`), and the one-line outcomes shown after a form
//! (`flash.`).

/// `(key, Chinese, English)`.
pub const PHRASES: &[(&str, &str, &str)] = &[
    // Sessions and roles.
    (
        "err.unauthenticated",
        "请先登录，或登录已过期",
        "log in first, or the session has expired",
    ),
    (
        "err.wrong_role",
        "当前角色无权{what}",
        "this role may not {what}",
    ),
    (
        "err.bad_credentials",
        "用户名或密码错误",
        "wrong username or password",
    ),
    (
        "err.login_locked",
        "登录失败次数过多，该账号或本机地址已暂时锁定，请 {minutes} 分钟后再试",
        "too many failed logins: this account or this address is locked for now; try again in {minutes} minutes",
    ),
    (
        "err.csrf",
        "表单已失效或来源不明，未保存任何内容。请返回重新打开页面后再提交。",
        "The form has expired or did not come from this site; nothing was saved. Go back, reload the page and submit again.",
    ),
    ("action.accept", "受理申请", "accept applications"),
    (
        "action.use_window",
        "使用综合窗口",
        "use the service window",
    ),
    ("action.approve", "审批案件", "approve cases"),
    (
        "action.attach",
        "为案件附加材料文件",
        "attach files to cases",
    ),
    (
        "action.view_files",
        "查看案件的材料文件",
        "see the files of cases",
    ),
    (
        "err.upload_too_large",
        "文件过大：每个文件不得超过 {max} 字节",
        "the file is too large: at most {max} bytes a file",
    ),
    (
        "err.upload_type_refused",
        "只接受 JPEG、PNG 图片或 PDF 文件（按文件内容识别，与文件名无关）",
        "only JPEG or PNG images and PDF files are taken (told by the content, not by the name)",
    ),
    (
        "err.upload_type_mismatch",
        "文件声称是 {declared}，内容却是 {actual}，未接收",
        "the file says it is {declared} but its content is {actual}; it was not taken",
    ),
    (
        "err.too_many_files",
        "文件过多：一次预审最多 {max} 个文件",
        "too many files: at most {max} with one pre-application",
    ),
    (
        "err.bad_file_content",
        "文件内容无法读取（应为 base64 编码）",
        "the file's content cannot be read (it must be base64)",
    ),
    (
        "err.pre_application_not_found",
        "未找到该预审申请，请核对预审编号",
        "no pre-application was found for this reference",
    ),
    (
        "err.pre_application_taken",
        "预审申请 {reference} 已受理，不能再次受理",
        "the pre-application {reference} has been accepted already",
    ),
    (
        "err.bad_pre_application_query",
        "请输入预审编号（YS 开头）或申请人的证件号码",
        "enter a pre-application reference (starting YS) or the applicant's ID number",
    ),
    (
        "err.attachment_not_found",
        "该案件没有这个文件",
        "the case has no such file",
    ),
    (
        "err.attachment_not_here",
        "该文件由其他服务厅保存，本厅尚无副本",
        "the file is kept at another hall; this hall has no copy yet",
    ),
    (
        "err.attachment_unreachable",
        "保存该文件的服务厅暂时联系不上，已取得的部分已保留，请稍后再试",
        "the hall that keeps the file cannot be reached now; what came is kept, try again later",
    ),
    (
        "err.personal_data_unreachable",
        "保存该案件个人信息的服务厅暂时联系不上，请稍后再试",
        "the hall that keeps the case's personal data cannot be reached now; try again later",
    ),
    (
        "err.attachment_corrupt",
        "取回的文件与其登记的摘要不符，已丢弃，请再试一次",
        "the fetched file does not match its recorded hash; it was thrown away, try again",
    ),
    (
        "err.file_offset_beyond_end",
        "请求的位置超出文件长度（{size} 字节）",
        "the position asked for is beyond the file's end ({size} bytes)",
    ),
    (
        "action.manage_staff",
        "管理人员账号",
        "manage staff accounts",
    ),
    (
        "action.manage_feeds",
        "管理部门系统的凭据与推送",
        "manage department systems' credentials and webhooks",
    ),
    (
        "action.manage_catalogue",
        "管理事项目录",
        "manage the catalogue",
    ),
    (
        "action.publish_calendar",
        "发布节假日安排",
        "publish the holiday calendar",
    ),
    ("action.revoke_nodes", "吊销节点", "revoke nodes"),
    ("action.register_nodes", "登记新节点", "register new nodes"),
    (
        "action.view_security",
        "查看安全事件",
        "view security events",
    ),
    ("action.audit_log", "核验日志", "audit the log"),
    ("action.call_queue", "叫号", "call queue numbers"),
    (
        "action.view_admin",
        "查看管理页面",
        "view the administration page",
    ),
    ("action.recall", "调回案件", "recall cases"),
    (
        "action.personal_data",
        "调阅案件个人信息",
        "ask for a case's personal data",
    ),
    (
        "action.decide_appeal",
        "裁定预警申诉",
        "decide appeals against warnings",
    ),
    (
        "action.supervise",
        "查看监察页面",
        "view the supervision pages",
    ),
    // The hall's state and its store.
    (
        "err.hall_recovering",
        "本厅正在从上级恢复业务记录，恢复完成前不能受理或办理，请稍后重试",
        "this hall is recovering its records from the hall above; nothing can be accepted or handled until that is done, please try again shortly",
    ),
    (
        "err.storage",
        "存储故障，未保存任何内容，请稍后重试",
        "storage failure; nothing was saved, please try again",
    ),
    (
        "err.entry_too_large",
        "记录过大（{size} 字节，上限 {max} 字节），无法写入并同步，未保存任何内容",
        "the record is too large to write and replicate ({size} bytes, at most {max}); nothing was saved",
    ),
    (
        "err.case_numbers_exhausted",
        "本厅今日案件编号已用尽",
        "this hall has used every case number for today",
    ),
    // Requests.
    ("err.route_not_found", "没有这个接口", "no such route"),
    (
        "err.bad_json",
        "请求内容不是有效的JSON：{detail}",
        "the body is not valid JSON: {detail}",
    ),
    (
        "err.body_too_large",
        "请求内容过大，最多 {max} 字节",
        "the body is too large: at most {max} bytes",
    ),
    (
        "err.bad_path",
        "路径参数不正确：{detail}",
        "a path parameter is not valid: {detail}",
    ),
    (
        "err.bad_query",
        "查询参数不正确：{detail}",
        "a query parameter is not valid: {detail}",
    ),
    (
        "err.bad_period",
        "统计期间不正确：结束日期不得早于开始日期，且最长 {max} 天",
        "the period is not valid: it ends on or after its first day and is at most {max} days long",
    ),
    (
        "err.hall_out_of_scope",
        "大厅 {hall} 不在本节点的管辖范围内",
        "hall {hall} is not this node's or below it",
    ),
    (
        "err.bad_form",
        "表单内容无法读取，未保存任何内容（{detail}）",
        "the form could not be read; nothing was saved ({detail})",
    ),
    (
        "err.bad_kind",
        "请选择中止类型",
        "choose the kind of procedure",
    ),
    ("err.bad_action", "未知的操作", "unknown action"),
    ("err.unknown_table", "没有表格 {table}", "no table {table}"),
    (
        "err.bad_last4",
        "请输入证件号码的后四位",
        "enter the last four characters of the ID number",
    ),
    // Fields.
    ("err.empty_field", "请填写{field}", "Please enter {field}"),
    ("field.reason", "理由", "the reason"),
    ("field.opinion", "意见", "the opinion"),
    ("field.recipient", "领取人", "who collects it"),
    ("field.id_number", "证件号码", "the ID number"),
    ("field.proxy_name", "代领人姓名", "the proxy's name"),
    (
        "field.proxy_id",
        "代领人身份证号码",
        "the proxy's ID number",
    ),
    (
        "field.reference",
        "委托书编号或说明",
        "the authorisation's reference",
    ),
    (
        "field.non_acceptance_reason",
        "不予受理的理由",
        "the reason for non-acceptance",
    ),
    ("field.issues", "需补正的材料", "what must be corrected"),
    (
        "field.new_holder",
        "接办的机构",
        "the hall that takes the case over",
    ),
    ("field.new_hall", "新的受理机构", "the new hall"),
    ("field.answer", "回复内容", "the answer"),
    ("field.pledge", "信用承诺书", "the integrity pledge"),
    ("field.check_days", "核查时限", "the post-check's limit"),
    (
        "err.post_check_refused.not_trust_first",
        "该办件不是先信任、再审核的结果，无需核查",
        "this case is not a trust-first result and has no post-check",
    ),
    (
        "err.post_check_refused.already_checked",
        "该办件已核查，不能再次核查",
        "this case is already checked; it is not checked twice",
    ),
    (
        "err.already_rated",
        "该办件已评价过，每件只能评价一次",
        "this case is already rated: one rating per case, whatever the channel",
    ),
    (
        "err.not_trust_first",
        "事项{code}不适用先信任、再审核，不能凭承诺办理",
        "matter {code} is not a trust-first matter: it is not issued on a pledge",
    ),
    (
        "err.not_cross_district",
        "事项{code}未开通异地通办，不能指定其他辖区的大厅办理",
        "matter {code} is not open for cross-district handling: no hall of another district may be named to decide it",
    ),
    (
        "err.unknown_deciding_hall",
        "不认识大厅{hall}，请从本市各区、镇街大厅中选择",
        "{hall} is not a hall known here: choose one of the city's district or township halls",
    ),
    (
        "err.unknown_peer",
        "{peer}不是与本辖区开通跨辖区异地通办的辖区，不能指定其大厅办理",
        "{peer} is not a tree this one hands cases to: none of its halls may be named to decide",
    ),
    (
        "err.peer_disabled",
        "与{peer}的跨辖区异地通办已停用，暂不能指定其大厅办理",
        "cross-district handling with {peer} is disabled: none of its halls may be named to decide for now",
    ),
    (
        "err.hall_may_not_decide",
        "{hall}不能办理事项{code}的异地通办：该大厅及其上级在本辖区以外均无权决定",
        "{hall} may not decide matter {code} across districts: neither it nor a hall above it outside this branch of the tree decides it",
    ),
    (
        "err.trust_first_not_here",
        "本大厅不能决定事项{code}，不能凭承诺当场办结",
        "this hall does not decide matter {code}, so it cannot issue it at once on a pledge",
    ),
    (
        "err.bad_rating_link",
        "评价链接无效，请核对二维码，或输入办件编号和证件号码后四位",
        "this rating link is not valid: scan the code again, or enter the case number and the last four characters of the ID number",
    ),
    (
        "err.bad_credential_name",
        "凭据名称须为 1 至 {max} 个小写字母、数字或连字符",
        "a credential's name is 1 to {max} of lower-case letters, digits and hyphens",
    ),
    (
        "err.credential_exists",
        "已有名为 {name} 的凭据",
        "a credential named {name} exists already",
    ),
    (
        "err.unknown_credential",
        "部门系统凭据无效",
        "the department system's credential is not known",
    ),
    (
        "err.credential_revoked",
        "该部门系统凭据已被吊销",
        "this department system's credential has been revoked",
    ),
    (
        "err.bad_feed_cursor",
        "游标无效：请使用本节点上一页返回的游标，或不带游标从头读取",
        "the cursor is not valid: use a cursor this node gave with an earlier page, or none to read from the start",
    ),
    (
        "err.feed_limit_out_of_range",
        "每页条数须为 1 至 {max}",
        "the page limit must be 1 to {max}",
    ),
    (
        "err.feed_other_department",
        "该案件的事项不属于 {department} 部门，不能由其系统办理",
        "the case's matter is not of department {department}, whose system may not act on it",
    ),
    (
        "err.webhook_https_refused",
        "节点的 HTTP 客户端不支持 TLS，推送地址须为 http://（可经本地中转）",
        "the node's HTTP client has no TLS: a webhook URL must be http:// (a local relay may forward it)",
    ),
    (
        "err.bad_webhook_url",
        "推送地址须为 http://主机[:端口]/路径，最长 {max} 个字符",
        "a webhook URL is http://host[:port]/path, at most {max} characters",
    ),
    (
        "err.unknown_delivery",
        "没有这条推送记录",
        "there is no such delivery",
    ),
    (
        "err.unknown_subscription",
        "没有这个推送订阅",
        "there is no such webhook subscription",
    ),
    (
        "err.subscription_ended",
        "该推送订阅已结束，不再推送，也不能重发",
        "this webhook subscription has ended: nothing more is delivered or replayed",
    ),
    (
        "err.delivery_not_dead",
        "只有已放弃的推送（死信）才能重发",
        "only a delivery given up (a dead letter) can be replayed",
    ),
    (
        "err.bad_sms_code",
        "办件编号或短信评价码不正确，请核对短信后重新输入",
        "the case number or the SMS rating code is not right: check the text message and enter them again",
    ),
    ("field.applicant.name", "申请人姓名", "the applicant's name"),
    ("field.applicant.phone", "联系电话", "the phone number"),
    ("field.slot", "预约时段", "the slot"),
    ("field.file", "文件", "a file"),
    ("flash.attached", "已附加材料文件", "The file is attached"),
    (
        "flash.pre_application_accepted",
        "预审申请 {reference} 已受理，案件编号 {number}",
        "Pre-application {reference} accepted as case {number}",
    ),
    (
        "field.applicant.checksum_override_reason",
        "证件号码校验不通过仍受理的理由",
        "the reason for accepting an ID number that fails its check",
    ),
    (
        "err.empty_field.reason",
        "调回理由不能为空",
        "the reason must not be empty",
    ),
    (
        "err.empty_field.applicant_name",
        "请填写申请人姓名或名称",
        "enter the applicant's name",
    ),
    (
        "err.field_too_long",
        "{field} 超过 {max} 个字符",
        "{field} is longer than {max} characters",
    ),
    (
        "err.field_too_long.comment",
        "评价内容超过1000个字符",
        "the comment is longer than 1000 characters",
    ),
    (
        "err.bad_phone",
        "联系电话格式不正确",
        "the phone number is not valid",
    ),
    // Identifiers.
    ("id.citizen", "公民身份号码", "citizen ID number"),
    ("id.doc.resident_id", "居民身份证", "resident ID card"),
    (
        "id.doc.temporary_id",
        "临时居民身份证",
        "temporary resident ID card",
    ),
    (
        "id.doc.household_register",
        "居民户口簿",
        "household register",
    ),
    (
        "id.credit_code",
        "统一社会信用代码",
        "unified social credit code",
    ),
    (
        "err.id_length",
        "{id}应为{expected}位，实际为{found}位",
        "{id} must be {expected} characters long, found {found}",
    ),
    (
        "err.id_charset",
        "{id}第{position}位字符“{found}”不合法",
        "{id}: character {position} ('{found}') is not allowed there",
    ),
    (
        "err.id_checksum",
        "{id}校验位为“{found}”，应为“{expected}”，请核对是否录入有误",
        "{id}: check character is '{found}' but should be '{expected}'; the number was probably mistyped",
    ),
    (
        "err.id_birth_date",
        "公民身份号码中的出生日期{digits}不是有效日期",
        "citizen ID number: birth date {digits} is not a possible date",
    ),
    (
        "err.case_number_format",
        "办件编号格式不正确，应为“大厅代码-年月日-六位序号-校验码”",
        "not a case number of the form HALL-YYYYMMDD-NNNNNN-C",
    ),
    (
        "err.case_number_format.hall",
        "大厅代码“{hall}”不合法，应为2至8位大写字母或数字",
        "hall code must be 2 to 8 letters A-Z or digits, found `{hall}`",
    ),
    (
        "err.case_number_format.date",
        "日期{date}无法写成八位年月日",
        "date {date} cannot be written as YYYYMMDD",
    ),
    (
        "err.case_number_format.sequence",
        "序号{seq}不合法，应为1至999999",
        "sequence must be 1 to 999999, found {seq}",
    ),
    (
        "err.case_number_check",
        "办件编号校验不符，请核对是否录入有误",
        "case number check character does not match: the number was probably mistyped",
    ),
    // The catalogue and the checklist.
    (
        "err.unknown_matter",
        "事项 {code} 不在目录中",
        "matter {code} is not in the catalogue",
    ),
    (
        "err.matter_not_delegated",
        "事项“{matter}”未授权本级（{tier}）受理",
        "matter {matter} is not delegated to this hall's tier ({tier})",
    ),
    (
        "err.matter_withdrawn",
        "该事项已从目录中撤销，不能补正",
        "the matter has left the catalogue; the case cannot be corrected",
    ),
    (
        "err.unknown_material",
        "材料 {code} 不在该事项的清单中",
        "material {code} is not on this matter's checklist",
    ),
    (
        "err.unknown_situation",
        "该事项没有情形 {code}",
        "situation {code} is not defined for this matter",
    ),
    (
        "err.duplicate_material",
        "材料 {code} 重复提交",
        "material {code} is listed twice",
    ),
    (
        "err.unknown_department",
        "部门 {code} 不在目录中",
        "department {code} is not in the catalogue",
    ),
    (
        "err.unknown_catalogue_version",
        "目录版本 {version} 不存在",
        "catalogue version {version} does not exist",
    ),
    (
        "err.catalogue_version_frozen",
        "目录版本 {version} 已发布或已废止，不能修改",
        "catalogue version {version} is published or retired and cannot change",
    ),
    (
        "err.invalid_catalogue",
        "目录不合规：{detail}",
        "invalid catalogue: {detail}",
    ),
    (
        "err.invalid_calendar",
        "节假日安排不合规：{detail}",
        "invalid calendar: {detail}",
    ),
    // Cases.
    (
        "err.case_not_found",
        "未找到案件 {number}",
        "no case {number}",
    ),
    (
        "err.document_not_found",
        "案件 {number} 没有第 {version} 版的文书",
        "case {number} has no document at version {version}",
    ),
    (
        "err.case_not_found.last4",
        "未找到案件 {number}，或证件号后四位不符",
        "no case {number}, or the last four characters of the ID do not match",
    ),
    (
        "err.not_holder",
        "本节点不是该案件的办理方，不能修改",
        "this node does not hold the case and may not change it",
    ),
    (
        "err.illegal_transition",
        "案件当前状态（{state}）不允许此操作（{event}）",
        "{event} is not allowed while the case is {state}",
    ),
    (
        "err.wrong_role.event",
        "角色 {role} 无权执行 {event}",
        "role {role} may not do {event}",
    ),
    (
        "err.wrong_department",
        "该案件属于部门 {expected}，不能由其他部门（{actual}）办理",
        "this case belongs to department {expected}, not {actual}",
    ),
    (
        "err.case_suspended",
        "案件已中止计时，请先恢复",
        "the case is suspended; resume it first",
    ),
    (
        "err.case_not_suspended",
        "案件未处于中止状态",
        "the case is not suspended",
    ),
    (
        "err.sub_cases_open",
        "并联审批未完成：{detail}",
        "parallel approval: {detail}",
    ),
    (
        "err.extension_refused",
        "不能延期：{detail}",
        "extension: {detail}",
    ),
    (
        "err.not_accepting_hall",
        "办理结果须在受理窗口（{hall}）发放",
        "the result is handed out only at the accepting hall {hall}",
    ),
    (
        "err.same_staff",
        "审核与批准须由不同人员办理",
        "review and approval must be done by different staff",
    ),
    (
        "err.own_handling.review",
        "您承办了本案件，须由其他人员审核",
        "you handled this case; someone else must review it",
    ),
    (
        "err.own_handling.decide",
        "您承办了本案件；本事项须由承办、审核以外的第三人作出决定",
        "you handled this case; this matter is decided by a third person, neither its handler nor its reviewer",
    ),
    // Handing out a result.
    (
        "err.handout_identity_missing",
        "发放结果须登记领取人身份核验情况：本人领取（核验身份证件）或代领（身份证件和授权委托书）",
        "a hand-out must say how the collector's identity was checked: the applicant in person (ID document checked) or a proxy (ID number and written authorisation)",
    ),
    (
        "err.id_not_checked",
        "请核验申请人的身份证件原件，人证一致后勾选确认",
        "check the applicant's ID document against the person, then tick the box to say so",
    ),
    (
        "err.id_mismatch",
        "证件号码与申请人不一致",
        "the ID number is not the applicant's",
    ),
    (
        "err.in_person_organisation",
        "申请人为单位，须由经办人持授权委托书代领",
        "the applicant is an organisation: its result is collected by a proxy with its written authorisation",
    ),
    (
        "err.authorisation_missing",
        "代领须出示申请人的授权委托书",
        "a proxy must present the applicant's written authorisation",
    ),
    (
        "err.rating_refused",
        "不能评价：{detail}",
        "rating: {detail}",
    ),
    (
        "err.appeal_refused",
        "预警申诉或裁定不成立：{detail}",
        "warning appeal: {detail}",
    ),
    (
        "err.case_version",
        "案件版本冲突（{got} 不接续 {have}）",
        "case version {got} does not follow {have}",
    ),
    (
        "err.case_not_started",
        "案件须以收件开始",
        "a case starts with exactly one received event",
    ),
    // Directives.
    (
        "err.not_the_root.revoke",
        "只有区级中心可以吊销节点",
        "only the district (the root) revokes nodes",
    ),
    (
        "err.not_the_root.recall",
        "只有区级中心可以调回案件",
        "only the district (the root) recalls cases",
    ),
    (
        "err.not_the_root.reopen",
        "只有区级中心可以重新启动已办结的案件",
        "only the district (the root) reopens cases",
    ),
    (
        "err.not_the_root.decommission",
        "只有区级中心可以撤销或迁移大厅",
        "only the district (the root) closes or moves halls",
    ),
    (
        "err.bad_submission_key",
        "提交键须为1至{max}个字母、数字或 . _ : - 字符",
        "a submission key is 1 to {max} letters, digits or . _ : - characters",
    ),
    (
        "err.submission_key_reused",
        "该提交键已用于另一份申请（案件{number}），请为新申请使用新的提交键",
        "this submission key was used for another application (case {number}); use a new key for a new application",
    ),
    (
        "err.hall_closed",
        "{hall}已停止办理，不再受理新案件",
        "{hall} is closed: it accepts no new case",
    ),
    (
        "err.hall_has_children",
        "{hall}下还有在用的下级大厅（{child}），须先撤销或迁移",
        "{hall} still has a hall below it ({child}): close or move that first",
    ),
    (
        "err.bad_heir",
        "{heir}不能接收{hall}的案件：接收大厅须在其下级之外",
        "{heir} cannot take over from {hall}: the heir must not be below it",
    ),
    (
        "err.nothing_to_reopen",
        "只有已办结或已终止的案件可以重新办理（当前：{state}）",
        "only a completed or terminated case is reopened (it is {state})",
    ),
    ("action.reopen", "重新办理案件", "reopen cases"),
    (
        "err.not_the_root.decide",
        "只有区级中心可以裁定预警申诉",
        "only the district (the root) decides appeals against warnings",
    ),
    (
        "err.no_such_warning",
        "该案件今天没有{rule}类的{level}预警，无可申诉",
        "the case has no {level} {rule} warning today to appeal",
    ),
    (
        "err.not_the_root.staff",
        "下级大厅的工作人员账号只能在区级中心管理",
        "staff accounts of the halls below are managed at the district (the root)",
    ),
    (
        "err.not_the_root.publish",
        "事项目录只能由区级中心发布",
        "only the district (the root) publishes the catalogue",
    ),
    // Enrolment.
    (
        "err.no_ca",
        "本节点既不持有证书签发机构的密钥，也没有联网证书，不能办理新节点入网",
        "this node holds neither the federation CA's key nor a certificate of the federation: it cannot enrol halls",
    ),
    (
        "err.enrolment_not_a_child",
        "{here} 只能为其直属下级节点发放入网令牌，{node} 不是；请在其上级节点或区级中心办理",
        "{here} issues enrolment tokens for its own children only, and {node} is not one: register it at its parent or at the district",
    ),
    (
        "err.enrolment_no_uplink",
        "暂时无法连接上级证书签发机构，证书未签发，令牌仍可使用；请稍后重试",
        "the CA up the tree cannot be reached now: no certificate was signed and the token is still good; try again later",
    ),
    (
        "err.enrolment_refused",
        "入网申请被拒绝：令牌与节点或申请不符",
        "enrolment refused: the token does not match the node or the request",
    ),
    (
        "err.enrolment_token_used",
        "入网令牌已使用过，请向区级中心申请新令牌",
        "the enrolment token was used already: ask the district for a new one",
    ),
    (
        "err.enrolment_token_expired",
        "入网令牌已过期，请向区级中心申请新令牌",
        "the enrolment token has expired: ask the district for a new one",
    ),
    (
        "err.bad_document_key",
        "文书签名公钥须为 64 位十六进制字符（Ed25519）",
        "the document key must be 64 hexadecimal characters (Ed25519)",
    ),
    (
        "err.bad_signing_request",
        "证书签名请求不可用：{problem}",
        "unusable certificate signing request: {problem}",
    ),
    (
        "err.bad_origin",
        "{origin} 不是有效的节点编号（例如 nanhai.guicheng）",
        "{origin} is not a node id (such as nanhai.guicheng)",
    ),
    (
        "err.bad_node_id",
        "节点编号 {node} 不正确",
        "{node} is not a node below this one",
    ),
    (
        "err.nothing_to_recall",
        "案件已办结或已由本中心办理",
        "the case is closed or already held here",
    ),
    // Staff accounts.
    (
        "err.self_deactivation",
        "不能停用自己的账号",
        "you cannot deactivate your own account",
    ),
    (
        "err.unknown_staff",
        "没有用户 {username}",
        "no user {username}",
    ),
    (
        "err.bad_username",
        "用户名须为3至32位小写字母、数字或 . _ -",
        "the username is 3 to 32 of a-z, 0-9, '.', '_', '-'",
    ),
    (
        "err.bad_display_name",
        "姓名不能为空且不超过50字",
        "the display name must be 1 to 50 characters",
    ),
    (
        "err.weak_password",
        "密码至少10个字符",
        "the password needs at least 10 characters",
    ),
    (
        "err.bad_role",
        "不能创建公众账号",
        "citizen is not a staff role",
    ),
    (
        "err.department_required",
        "审批人员须指定部门",
        "an approver needs a department",
    ),
    (
        "err.staff_no_signer",
        "本节点没有区级签名密钥，不能管理下级大厅的账号",
        "this node holds no signing key of the district, so it cannot keep the accounts of the halls below",
    ),
    (
        "err.staff_no_uplink",
        "无法连接区级中心：下级大厅的账号由区级中心管理，请在上联恢复后重试",
        "the district cannot be reached: accounts of the halls below are kept there; try again once the uplink is up",
    ),
    (
        "err.unknown_hall",
        "本节点下没有大厅 {hall}",
        "no hall {hall} is known below this node",
    ),
    (
        "err.move_needs_hall",
        "调动账号须指明其现在所在的大厅",
        "moving an account needs the hall where it is now",
    ),
    (
        "err.managed_account",
        "账号 {username} 由区级中心管理，只能在区级中心修改（本大厅可以停用）",
        "account {username} is kept by the district and changes only there (this hall may disable it)",
    ),
    (
        "err.username_taken",
        "用户名 {username} 已存在",
        "username {username} is taken",
    ),
    // The queue.
    (
        "err.unknown_booking",
        "没有这个预约码：请核对后重新输入，未预约的请直接取号",
        "there is no booking with this code: check it and enter it again, or take a number without one",
    ),
    (
        "err.booking_cancelled",
        "该预约已取消，不能凭它取号：请直接取号",
        "this booking was cancelled: take a number without it",
    ),
    (
        "err.booking_used",
        "这个预约码已取过号，不能重复取号",
        "a number was taken with this booking code already",
    ),
    (
        "err.booking_too_early",
        "您预约的时段是 {slot}，请于 {from} 之后凭预约码取号",
        "your booked slot is {slot}: take your number with the code from {from}",
    ),
    // Bookings.
    (
        "err.bad_date",
        "日期应为 YYYY-MM-DD 格式，例如 2026-11-23",
        "the date must be given as YYYY-MM-DD, e.g. 2026-11-23",
    ),
    (
        "err.booking_day_out_of_range",
        "只能预约今天起 {days} 天内的日期",
        "bookings are taken for the {days} days from today",
    ),
    (
        "err.not_working_day",
        "{date} 不是工作日，大厅不办公，请选择其他日期",
        "{date} is not a working day and the hall is closed: choose another day",
    ),
    (
        "err.unknown_slot",
        "{start} 不是本厅的预约时段",
        "{start} is not a booking slot of this hall",
    ),
    (
        "err.slot_started",
        "{date} {start} 的时段已开始或已过，请选择之后的时段",
        "the slot of {date} {start} has started: choose a later one",
    ),
    (
        "err.slot_full",
        "{slot} 时段已约满，请选择其他时段",
        "the slot {slot} is full: choose another one",
    ),
    (
        "err.already_booked",
        "该证件号码在 {date} 已有一个预约：如需改约，请先取消原预约",
        "this ID number has a booking on {date} already: cancel it before booking another",
    ),
    (
        "err.booking_not_found",
        "未找到预约：请核对预约码和证件号码后四位",
        "no booking was found for this code and these last four characters of the ID number",
    ),
    (
        "err.booking_not_cancellable",
        "该预约{status}，不能再取消",
        "this booking cannot be cancelled: it is {status}",
    ),
    (
        "err.matter_not_bookable",
        "{matter}不接受预约，请直接到大厅取号办理",
        "{matter} cannot be booked: take a number at the hall",
    ),
    (
        "err.matter_slot_full",
        "{slot} 时段{matter}的预约已满（{windows} 个窗口办理）：请选择其他时段",
        "the slot {slot} is full for {matter} ({windows} windows serve it): choose another one",
    ),
    (
        "err.booking_blocked",
        "该证件号码近 {days} 天内已有 {n} 次预约未到，{date} 前暂停预约，可到大厅取号办理",
        "this ID number missed {n} booked visits within {days} days: booking is suspended until {date}; take a number at the hall",
    ),
    (
        "err.material_not_by_data",
        "材料 {code} 不能以数据核验代替，请提交材料本身",
        "material {code} cannot be presented by data: the material itself is needed",
    ),
    (
        "err.by_data_not_found",
        "“{material}”引用的 {reference} 不是该申请人在本辖区内已准予、可代替此材料的办理结果",
        "{reference}, given for {material}, is not a granted result of this applicant in this hall's area that replaces the material",
    ),
    ("booking.status.booked", "已预约", "booked"),
    ("booking.status.cancelled", "已取消", "cancelled"),
    ("booking.status.checked_in", "已取号", "checked in"),
    ("booking.status.no_show", "已过时未到", "missed"),
    (
        "err.bad_window",
        "窗口号不正确",
        "the window number is not valid",
    ),
    ("err.unknown_ticket", "没有这个号", "no such ticket"),
    (
        "err.window_busy",
        "{number} 号仍在 {window} 号窗口办理：请先办结或标记未到，再叫下一号",
        "Number {number} is still open at window {window}: mark it served or not present before calling the next",
    ),
    (
        "err.ticket_not_called",
        "{number} 号尚未叫号或已办结",
        "ticket {number} is not called, or already served",
    ),
    // Outcomes after a form.
    ("flash.started_handling", "已开始承办", "Handling started"),
    ("flash.sent_to_review", "已提交审核", "Sent to review"),
    (
        "flash.review_passed",
        "审核通过，已送批准",
        "Review passed; sent to approval",
    ),
    ("flash.sent_back", "已退回承办", "Sent back to handling"),
    ("flash.granted", "已作出准予决定", "Granted"),
    ("flash.refused", "已作出不予决定", "Refused"),
    (
        "flash.result_sent",
        "办理结果已送受理窗口",
        "Result sent to the accepting window",
    ),
    (
        "flash.opinion_given",
        "已提交并联审批意见",
        "Parallel opinion given",
    ),
    ("flash.suspended", "已中止计时", "Clock suspended"),
    ("flash.resumed", "已恢复计时", "Clock resumed"),
    ("flash.extended", "已延期", "Limit extended"),
    (
        "flash.followed_up",
        "差评已答复",
        "The bad rating is answered",
    ),
    (
        "flash.post_check_passed",
        "事后核查已通过",
        "The post-check is passed",
    ),
    (
        "flash.result_revoked",
        "办理结果已撤销，撤销决定书已签发",
        "The result is revoked and the decision of revocation issued",
    ),
    (
        "flash.appeal_decided",
        "裁定已作出，办理该案件的大厅收到后记入案件",
        "Decided; the hall holding the case records it when the decision reaches it",
    ),
    (
        "flash.warning_appealed",
        "预警申诉已提交，等待区级裁定",
        "The warning is appealed; the district decides",
    ),
    ("flash.done", "已办理", "Done"),
    (
        "flash.ticket_taken",
        "已取号 {number}",
        "Number {number} issued",
    ),
    (
        "flash.ticket_taken_late",
        "已取号 {number}：预约时段 {slot} 已过，按现场取号排队",
        "Number {number} issued: the booked slot {slot} has passed, so it queues as a walk-in",
    ),
    (
        "flash.ticket_called",
        "请 {number} 号到 {window} 号窗口",
        "Number {number} to window {window}",
    ),
    (
        "flash.nobody_waiting",
        "没有等候的号。",
        "Nobody is waiting.",
    ),
    (
        "flash.ticket_no_show",
        "{number} 号未到，已记录",
        "Number {number} did not come: recorded",
    ),
    (
        "flash.ticket_served",
        "{number} 号已办结",
        "Number {number} served",
    ),
    (
        "flash.handed_out",
        "办理结果已发放，请邀请申请人评价。",
        "Result handed out; invite the applicant to rate the service.",
    ),
    (
        "flash.terminated",
        "案件已终止。",
        "The case is terminated.",
    ),
    (
        "flash.document_issued",
        "已出具《{document}》",
        "{document} issued",
    ),
    (
        "flash.document_issued_case",
        "已出具《{document}》，案件编号 {number}",
        "{document} issued, case {number}",
    ),
    ("flash.logged_out", "已退出登录。", "You are logged out."),
];
