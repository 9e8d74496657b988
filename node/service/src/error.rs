//! The one error type of the hall's operations.
//!
//! Every refusal carries a stable machine `code`, a message in Chinese and in
//! English, and its [`ErrorKind`]; the HTTP API and the pages translate the
//! kind into a status. Internals (SQL, file paths) are logged where the
//! error is turned into a response, never sent. Every service operation
//! validates before it writes, and writes in one transaction, so an error
//! means nothing was stored.

use onewindow_domain::case::CaseError;
use onewindow_domain::case_number::CaseNumberError;
use onewindow_domain::checklist::ChecklistError;
use onewindow_domain::ids::IdError;
use onewindow_store::StoreError;

/// What kind of refusal an error is, for whoever reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule of the input.
    Invalid,
    /// No session, or an expired one.
    Unauthenticated,
    /// The role or the hall may not do this.
    Forbidden,
    /// What was named does not exist.
    NotFound,
    /// The state of what was named does not allow it now.
    Conflict,
    /// Well-formed, but refused on its content.
    Unprocessable,
    /// Too many attempts; try later.
    TooMany,
    /// The hall cannot serve this now (recovering, no uplink).
    Unavailable,
    /// The store failed; nothing was saved.
    Storage,
}

/// An error of a hall's operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What kind of refusal.
    pub kind: ErrorKind,
    /// Stable machine code, e.g. `unknown_matter`.
    pub code: &'static str,
    /// Chinese message.
    pub message_zh: String,
    /// English message.
    pub message_en: String,
    /// What went wrong inside (a storage failure's cause), for the log
    /// only: never sent.
    pub detail: Option<String>,
}

impl Error {
    /// A new error.
    pub fn new(
        kind: ErrorKind,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            code,
            message_zh: zh.into(),
            message_en: en.into(),
            detail: None,
        }
    }

    /// Invalid input, with a code.
    pub fn bad_request(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, zh, en)
    }

    /// Not found.
    pub fn not_found(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, zh, en)
    }

    /// No or an expired session.
    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorKind::Unauthenticated,
            "unauthenticated",
            "请先登录，或登录已过期",
            "log in first, or the session has expired",
        )
    }

    /// The role may not do this.
    pub fn forbidden(what: &str) -> Self {
        Self::new(
            ErrorKind::Forbidden,
            "wrong_role",
            format!("当前角色无权{what}"),
            format!("this role may not {what}"),
        )
    }

    /// Unavailable while the hall is taking back the tail of its log from its
    /// parent (its store was put back to an older copy): it issues nothing
    /// until then.
    pub fn recovering() -> Self {
        Self::new(
            ErrorKind::Unavailable,
            "hall_recovering",
            "本厅正在从上级恢复业务记录，恢复完成前不能受理或办理，请稍后重试",
            "this hall is recovering its records from the hall above; nothing can be accepted or handled until that is done, please try again shortly",
        )
    }

    /// A storage failure; the detail goes to the log only.
    pub fn storage(e: &dyn std::fmt::Display) -> Self {
        let mut err = Self::new(
            ErrorKind::Storage,
            "storage",
            "存储故障，未保存任何内容，请稍后重试",
            "storage failure; nothing was saved, please try again",
        );
        err.detail = Some(e.to_string());
        err
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message_en)
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Recovering => Self::recovering(),
            StoreError::EntryTooLarge { size, max } => Self::new(
                ErrorKind::Unprocessable,
                "entry_too_large",
                format!("记录过大（{size} 字节，上限 {max} 字节），无法写入并同步，未保存任何内容"),
                format!(
                    "the record is too large to write and replicate ({size} bytes, at most {max}); nothing was saved"
                ),
            ),
            e => Self::storage(&e),
        }
    }
}

impl From<IdError> for Error {
    fn from(e: IdError) -> Self {
        Self::bad_request(e.code(), e.message_zh(), e.to_string())
    }
}

impl From<CaseNumberError> for Error {
    fn from(e: CaseNumberError) -> Self {
        Self::bad_request(e.code(), e.message_zh(), e.to_string())
    }
}

impl From<ChecklistError> for Error {
    fn from(e: ChecklistError) -> Self {
        let (code, zh) = match &e {
            ChecklistError::UnknownMaterial(m) => {
                ("unknown_material", format!("材料 {m} 不在该事项的清单中"))
            }
            ChecklistError::UnknownSituation(s) => {
                ("unknown_situation", format!("该事项没有情形 {s}"))
            }
            ChecklistError::DuplicateMaterial(m) => {
                ("duplicate_material", format!("材料 {m} 重复提交"))
            }
        };
        Self::bad_request(code, zh, e.to_string())
    }
}

impl From<CaseError> for Error {
    fn from(e: CaseError) -> Self {
        let kind = match e {
            CaseError::WrongRole { .. }
            | CaseError::WrongDepartment { .. }
            | CaseError::SameStaff => ErrorKind::Forbidden,
            CaseError::Empty(_) | CaseError::Rating(_) => ErrorKind::Invalid,
            _ => ErrorKind::Conflict,
        };
        let zh = match &e {
            CaseError::IllegalTransition { state, event } => {
                format!("案件当前状态（{state}）不允许此操作（{event}）")
            }
            CaseError::WrongRole { role, event } => format!("角色 {role} 无权执行 {event}"),
            CaseError::WrongDepartment { expected, .. } => {
                format!("该案件属于部门 {expected}，不能由其他部门办理")
            }
            CaseError::Suspended => "案件已中止计时，请先恢复".to_owned(),
            CaseError::NotSuspended => "案件未处于中止状态".to_owned(),
            CaseError::SubCases(s) => format!("并联审批未完成：{s}"),
            CaseError::Extension(s) => format!("不能延期：{s}"),
            CaseError::NotAcceptingHall(h) => format!("办理结果须在受理窗口（{h}）发放"),
            CaseError::SameStaff => "审核与批准须由不同人员办理".to_owned(),
            CaseError::Rating(s) => format!("不能评价：{s}"),
            CaseError::Version { .. } => "案件版本冲突".to_owned(),
            CaseError::NotStarted => "案件须以收件开始".to_owned(),
            CaseError::Empty(f) => format!("{f} 不能为空"),
        };
        Self::new(kind, e.code(), zh, e.to_string())
    }
}
