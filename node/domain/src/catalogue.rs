//! The matter catalogue: what a hall may receive and decide, and how.
//!
//! A [`Catalogue`] is one *version* of the whole district catalogue. Versions
//! go draft -> published -> retired; a published version is frozen (the store
//! has no path that rewrites one) and every case records the catalogue version
//! and the matter version it was accepted under. The starter catalogue ships in
//! `configs/catalogue/*.toml`, one file per department group, in the same shape
//! as [`MatterFile`].

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use super::deadline::TimeUnit;

/// Most keywords a matter may have.
pub const MAX_KEYWORDS: usize = 10;
/// Most characters in one keyword.
pub const MAX_KEYWORD_CHARS: usize = 20;

/// A matter (事项): one kind of service or permit, in the fields of GB/T 39046.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Matter {
    /// Implementation code, unique in the catalogue, e.g. `NH-GA-0001`.
    pub code: String,
    /// Basic code shared by every hall that implements the same matter.
    #[serde(default)]
    pub basic_code: String,
    /// The matter's own version; bumped whenever its content changes.
    #[serde(default = "one")]
    pub version: u32,
    /// Chinese name as printed on documents.
    pub name_zh: String,
    /// English name for the UI switch.
    pub name_en: String,
    /// Words people use for the matter that its name does not hold (低保
    /// for 最低生活保障): the matter search finds it by them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Kind: two-digit code (01 permit ... 10 other, 20 public service).
    pub kind: MatterKind,
    /// Legal basis, free text.
    #[serde(default)]
    pub legal_basis: String,
    /// Implementing department code (see [`Department`]).
    pub department: String,
    /// Exercise level: 1 national ... 4 county/district, 5 township, 6 village.
    pub exercise_level: u8,
    /// Co-handling departments; they drive parallel approval.
    #[serde(default)]
    pub co_departments: Vec<String>,
    /// How parallel opinions join: all must approve (会签) or any one (或签).
    #[serde(default)]
    pub join: JoinRule,
    /// Who the matter serves.
    pub serves: Serves,
    /// Delegation: which tiers and halls may receive and decide it.
    pub delegation: Delegation,
    /// Immediate (即办件) or committed (承诺件).
    pub immediate: bool,
    /// Visits the applicant needs at most.
    #[serde(default = "one")]
    pub visits: u32,
    /// May be booked in advance.
    #[serde(default)]
    pub bookable: bool,
    /// Statutory time limit.
    pub statutory_limit: Limit,
    /// Committed (shorter) time limit.
    pub committed_limit: Limit,
    /// The share (percent) of the committed limit, at its end, in which a
    /// running case is yellow (never less than its due day); 20 when absent.
    #[serde(
        default = "default_yellow_percent",
        skip_serializing_if = "is_default_yellow_percent"
    )]
    pub yellow_percent: u32,
    /// Deadline for issuing a correction notice (default 5 working days).
    #[serde(default = "default_correction_limit")]
    pub correction_limit: Limit,
    /// Longest extension that may be approved; none if absent.
    #[serde(default)]
    pub extension: Option<Limit>,
    /// Fees; empty means free of charge.
    #[serde(default)]
    pub fees: Vec<Fee>,
    /// Acceptance conditions shown in the guide.
    #[serde(default)]
    pub conditions: Vec<String>,
    /// Situations (情形) that change the checklist.
    #[serde(default)]
    pub situations: Vec<Situation>,
    /// The materials checklist.
    pub materials: Vec<Material>,
    /// Back-office stages with their time norms, in order.
    pub stages: Vec<Stage>,
    /// How many different members of staff a case of this matter needs
    /// for handling (承办), review (审核) and decision (批准):
    /// [`DISTINCT_PEOPLE`] (3) when absent, the handler, the reviewer and
    /// the decider all different; 2 for a hall with too few staff, where
    /// the handler may also decide but the reviewer is still neither the
    /// handler nor the decider. 1 is not allowed: every case is reviewed
    /// by someone other than its handler.
    #[serde(
        default = "default_distinct_people",
        skip_serializing_if = "is_default_distinct_people"
    )]
    pub distinct_people: u8,
    /// Trust first, check later (先信任、再审核): a reversible matter whose
    /// result is issued at once when the applicant signs this pledge, and
    /// checked afterwards by an approver within `check_days` working days.
    /// Left out of the JSON when absent, so that versions published before
    /// it keep their digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_first: Option<TrustFirst>,
    /// Open for cross-district handling (异地通办): any window may accept
    /// a case of it for a hall of another branch of the tree that the
    /// clerk names (the applicant's home district, for household
    /// registration or social insurance), and that hall's branch decides
    /// it. Left out of the JSON when false, so that versions published
    /// before it keep their digest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cross_district: bool,
}

/// The pledge of a trust-first matter and the limit of its post-check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustFirst {
    /// The integrity pledge (信用承诺书) the applicant signs, in Chinese.
    pub pledge_zh: String,
    /// The same pledge in English.
    pub pledge_en: String,
    /// Working days from the issue within which an approver checks the
    /// case (1 to 60).
    pub check_days: u32,
}

/// The longest post-check limit of a trust-first matter, in working days.
pub const MAX_CHECK_DAYS: u32 = 60;

/// How many different people handle, review and decide a case when the
/// matter does not say ([`Matter::distinct_people`]).
pub const DISTINCT_PEOPLE: u8 = 3;

fn one() -> u32 {
    1
}

fn default_distinct_people() -> u8 {
    DISTINCT_PEOPLE
}

// Left out of the JSON when it is the default, so that a catalogue version
// published before the field existed keeps its canonical text (and digest).
fn is_default_distinct_people(n: &u8) -> bool {
    *n == DISTINCT_PEOPLE
}

fn default_yellow_percent() -> u32 {
    crate::deadline::YELLOW_PERCENT
}

fn is_default_yellow_percent(p: &u32) -> bool {
    *p == crate::deadline::YELLOW_PERCENT
}

fn default_correction_limit() -> Limit {
    Limit {
        n: 5,
        unit: TimeUnit::WorkingDays,
    }
}

/// Matter kind, GB/T 39046 codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatterKind {
    /// 01 行政许可
    Permit,
    /// 02 行政处罚
    Penalty,
    /// 03 行政强制
    Enforcement,
    /// 04 行政征收
    Levy,
    /// 05 行政给付
    Benefit,
    /// 06 行政检查
    Inspection,
    /// 07 行政确认
    Confirmation,
    /// 08 行政奖励
    Award,
    /// 09 行政裁决
    Ruling,
    /// 10 其他行政权力
    Other,
    /// 20 公共服务
    PublicService,
}

impl MatterKind {
    /// The two-digit code of GB/T 39046.
    pub fn code(self) -> &'static str {
        match self {
            Self::Permit => "01",
            Self::Penalty => "02",
            Self::Enforcement => "03",
            Self::Levy => "04",
            Self::Benefit => "05",
            Self::Inspection => "06",
            Self::Confirmation => "07",
            Self::Award => "08",
            Self::Ruling => "09",
            Self::Other => "10",
            Self::PublicService => "20",
        }
    }
}

/// How the opinions of co-handling departments join.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinRule {
    /// 会签: every co-handling department must approve.
    #[default]
    All,
    /// 或签: one approval is enough.
    Any,
}

/// Who may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Serves {
    /// Natural persons (identified by citizen ID number).
    Person,
    /// Organisations (identified by unified social credit code).
    Organisation,
    /// Either.
    Both,
}

/// A time limit: a number and a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// How many units.
    pub n: u32,
    /// Working or calendar days.
    pub unit: TimeUnit,
}

/// Delegation as data: tiers and named halls that may receive and decide.
///
/// A change may be published ahead of its date: `from` is the first day
/// (China time) on which these tiers and halls apply, and `earlier` holds
/// what applies until then. A hall asks with its own date, so a village
/// whose uplink is down still refuses a revoked matter from that day on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Delegation {
    /// Tier names (e.g. `district`, `township`, `village`) whose halls may receive.
    pub receive_tiers: BTreeSet<String>,
    /// Tier names whose halls may decide.
    pub decide_tiers: BTreeSet<String>,
    /// Named halls (node ids) that may also receive, whatever their tier.
    #[serde(default)]
    pub receive_halls: BTreeSet<String>,
    /// Named halls (node ids) that may also decide, whatever their tier.
    #[serde(default)]
    pub decide_halls: BTreeSet<String>,
    /// The first day these tiers and halls apply; always when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<chrono::NaiveDate>,
    /// What applies before `from` (required with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier: Option<DelegationRule>,
}

/// The tiers and halls of a delegation without a date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegationRule {
    /// Tier names whose halls may receive.
    pub receive_tiers: BTreeSet<String>,
    /// Tier names whose halls may decide.
    pub decide_tiers: BTreeSet<String>,
    /// Named halls that may also receive.
    #[serde(default)]
    pub receive_halls: BTreeSet<String>,
    /// Named halls that may also decide.
    #[serde(default)]
    pub decide_halls: BTreeSet<String>,
}

impl DelegationRule {
    /// May a hall with this id and tier receive the matter?
    pub fn may_receive(&self, node_id: &str, tier: &str) -> bool {
        self.receive_tiers.contains(tier) || self.receive_halls.contains(node_id)
    }

    /// May a hall with this id and tier decide the matter?
    pub fn may_decide(&self, node_id: &str, tier: &str) -> bool {
        self.decide_tiers.contains(tier) || self.decide_halls.contains(node_id)
    }
}

impl Delegation {
    /// The tiers and halls that apply on `day`.
    pub fn on(&self, day: chrono::NaiveDate) -> DelegationRule {
        self.earlier_on(day)
            .cloned()
            .unwrap_or_else(|| self.current())
    }

    /// The tiers and halls from `from` on (or always).
    pub fn current(&self) -> DelegationRule {
        DelegationRule {
            receive_tiers: self.receive_tiers.clone(),
            decide_tiers: self.decide_tiers.clone(),
            receive_halls: self.receive_halls.clone(),
            decide_halls: self.decide_halls.clone(),
        }
    }

    /// A delegation that is `rule` from `from` on, and what applies on the
    /// day before `from` until then; `from = None` is `rule` at once.
    pub fn changed(&self, rule: DelegationRule, from: Option<chrono::NaiveDate>) -> Self {
        Self {
            receive_tiers: rule.receive_tiers,
            decide_tiers: rule.decide_tiers,
            receive_halls: rule.receive_halls,
            decide_halls: rule.decide_halls,
            earlier: from.map(|f| self.on(f.pred_opt().unwrap_or(f))),
            from,
        }
    }

    /// The earlier rule, if it still applies on `day`.
    fn earlier_on(&self, day: chrono::NaiveDate) -> Option<&DelegationRule> {
        match (&self.from, &self.earlier) {
            (Some(from), Some(earlier)) if day < *from => Some(earlier),
            _ => None,
        }
    }

    /// May a hall with this id and tier receive the matter on `day`?
    pub fn may_receive(&self, node_id: &str, tier: &str, day: chrono::NaiveDate) -> bool {
        match self.earlier_on(day) {
            Some(e) => e.may_receive(node_id, tier),
            None => self.receive_tiers.contains(tier) || self.receive_halls.contains(node_id),
        }
    }

    /// May a hall with this id and tier decide the matter on `day`?
    pub fn may_decide(&self, node_id: &str, tier: &str, day: chrono::NaiveDate) -> bool {
        match self.earlier_on(day) {
            Some(e) => e.may_decide(node_id, tier),
            None => self.decide_tiers.contains(tier) || self.decide_halls.contains(node_id),
        }
    }
}

/// A fee item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    /// Item name.
    pub item: String,
    /// Amount in yuan (fen precision), or the standard as text when it varies.
    pub standard: String,
    /// Basis for the charge.
    #[serde(default)]
    pub basis: String,
    /// May be waived.
    #[serde(default)]
    pub waivable: bool,
}

/// A situation (情形) that adds materials to the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Situation {
    /// Code unique within the matter.
    pub code: String,
    /// Chinese description.
    pub name_zh: String,
    /// English description.
    pub name_en: String,
}

/// Whether a material must be presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Necessity {
    /// Must be presented at acceptance.
    Required,
    /// May be presented.
    Optional,
    /// 容缺: may follow after acceptance (accepted with a pledge).
    Deferrable,
}

/// Paper or electronic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaterialForm {
    /// Paper.
    Paper,
    /// Electronic (e-licence, scan).
    Electronic,
    /// Either.
    Either,
}

/// One line of the materials checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Material {
    /// Code unique within the matter, e.g. `M01`.
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Required, optional or deferrable.
    pub necessity: Necessity,
    /// Paper, electronic or either.
    #[serde(default = "either")]
    pub form: MaterialForm,
    /// Originals to present (shown and returned, or kept).
    #[serde(default)]
    pub originals: u32,
    /// Copies to hand in.
    #[serde(default)]
    pub copies: u32,
    /// Situations in which the material applies; empty = always.
    #[serde(default)]
    pub situations: Vec<String>,
    /// Issuing body.
    #[serde(default)]
    pub issuer: String,
    /// What the clerk checks.
    #[serde(default)]
    pub check: String,
    /// Matters (codes) whose granted result, issued earlier to the same
    /// applicant in the hall's subtree, replaces this material: the clerk
    /// marks it presented by data with that case's number, and the
    /// applicant does not bring it (比对数据、减免材料). Left out of the
    /// JSON when empty, so versions published before it keep their digest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_data: Vec<String>,
}

fn either() -> MaterialForm {
    MaterialForm::Either
}

impl Material {
    /// Does the material apply when these situations are selected?
    pub fn applies(&self, selected: &BTreeSet<String>) -> bool {
        self.situations.is_empty() || self.situations.iter().any(|s| selected.contains(s))
    }
}

/// A back-office stage with its time norm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// One of `handling`, `review`, `approval`.
    pub stage: StageName,
    /// Time norm for the stage.
    pub norm: Limit,
    /// Whether the applicant is told when the stage is entered.
    #[serde(default)]
    pub notify_applicant: bool,
}

/// The back-office stages of the standard flow (承办, 审核, 批准).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StageName {
    /// 承办
    Handling,
    /// 审核
    Review,
    /// 批准
    Approval,
}

/// A department that implements matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// Short code, e.g. `gongan`.
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Unified social credit code of the department.
    #[serde(default)]
    pub credit_code: String,
}

/// The shape of one starter catalogue file under `configs/catalogue/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatterFile {
    /// Departments introduced by this file.
    #[serde(default)]
    pub departments: Vec<Department>,
    /// Matters in this file.
    #[serde(default)]
    pub matters: Vec<Matter>,
}

/// One version of the whole catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Catalogue {
    /// Catalogue version number, increasing with every publication.
    pub version: i64,
    /// Departments by code.
    pub departments: BTreeMap<String, Department>,
    /// Matters by code.
    pub matters: BTreeMap<String, Matter>,
}

/// Why a catalogue cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    /// Two matters share a code.
    #[error("matter {0} appears twice")]
    DuplicateMatter(String),
    /// Two departments share a code.
    #[error("department {0} appears twice")]
    DuplicateDepartment(String),
    /// A matter names a department that is not listed.
    #[error("matter {matter} names unknown department {department}")]
    UnknownDepartment {
        /// The matter.
        matter: String,
        /// The missing department.
        department: String,
    },
    /// A matter is inconsistent in itself.
    #[error("matter {matter}: {problem}")]
    InvalidMatter {
        /// The matter.
        matter: String,
        /// What is wrong.
        problem: String,
    },
    /// A file could not be parsed.
    #[error("{file}: {problem}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's complaint.
        problem: String,
    },
}

/// A TOML error in one line: where (line and column) and what.
fn one_line(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

impl Catalogue {
    /// Builds a catalogue from files and checks it.
    pub fn from_files(
        version: i64,
        files: impl IntoIterator<Item = MatterFile>,
    ) -> Result<Self, CatalogueError> {
        let mut departments = BTreeMap::new();
        let mut matters = BTreeMap::new();
        for file in files {
            for d in file.departments {
                if departments.insert(d.code.clone(), d.clone()).is_some() {
                    return Err(CatalogueError::DuplicateDepartment(d.code));
                }
            }
            for m in file.matters {
                if matters.insert(m.code.clone(), m.clone()).is_some() {
                    return Err(CatalogueError::DuplicateMatter(m.code));
                }
            }
        }
        let cat = Self {
            version,
            departments,
            matters,
        };
        cat.validate()?;
        Ok(cat)
    }

    /// Parses the TOML text of starter files (name, text) into a catalogue.
    pub fn from_toml_texts<'a>(
        version: i64,
        texts: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, CatalogueError> {
        let mut files = Vec::new();
        for (name, text) in texts {
            let file: MatterFile = toml::from_str(text).map_err(|e| CatalogueError::Parse {
                file: name.to_owned(),
                problem: one_line(text, &e),
            })?;
            files.push(file);
        }
        Self::from_files(version, files)
    }

    /// Checks internal consistency: departments exist, codes unique, limits sane.
    pub fn validate(&self) -> Result<(), CatalogueError> {
        for m in self.matters.values() {
            let bad = |problem: &str| CatalogueError::InvalidMatter {
                matter: m.code.clone(),
                problem: problem.to_owned(),
            };
            for d in std::iter::once(&m.department).chain(&m.co_departments) {
                if !self.departments.contains_key(d) {
                    return Err(CatalogueError::UnknownDepartment {
                        matter: m.code.clone(),
                        department: d.clone(),
                    });
                }
            }
            if m.co_departments.contains(&m.department) {
                return Err(bad("the implementing department is also a co-handling one"));
            }
            if m.name_zh.trim().is_empty() || m.name_en.trim().is_empty() {
                return Err(bad("names must not be empty"));
            }
            if m.keywords.len() > MAX_KEYWORDS
                || m.keywords
                    .iter()
                    .any(|k| k.trim().is_empty() || k.chars().count() > MAX_KEYWORD_CHARS)
            {
                return Err(bad(
                    "keywords: at most 10, each of 1 to 20 characters that are not all spaces",
                ));
            }
            let d = &m.delegation;
            if d.from.is_some() != d.earlier.is_some() {
                return Err(bad("a delegation's from date and earlier rule go together"));
            }
            for rule in std::iter::once(d.current()).chain(d.earlier.clone()) {
                if rule.receive_tiers.is_empty() && rule.receive_halls.is_empty() {
                    return Err(bad("no hall may receive it"));
                }
                if rule.decide_tiers.is_empty() && rule.decide_halls.is_empty() {
                    return Err(bad("no hall may decide it"));
                }
            }
            if m.committed_limit.unit == m.statutory_limit.unit
                && m.committed_limit.n > m.statutory_limit.n
            {
                return Err(bad("committed limit exceeds the statutory one"));
            }
            if !(1..=100).contains(&m.yellow_percent) {
                return Err(bad("yellow_percent must be 1 to 100"));
            }
            if !(2..=DISTINCT_PEOPLE).contains(&m.distinct_people) {
                return Err(bad(&format!(
                    "distinct_people is {}, but must be 2 or 3: handling, review and decision need \
                     three people, or two where the handler may also decide",
                    m.distinct_people
                )));
            }
            if let Some(t) = &m.trust_first {
                if t.pledge_zh.trim().is_empty() || t.pledge_en.trim().is_empty() {
                    return Err(bad(
                        "a trust-first matter needs its pledge in both languages",
                    ));
                }
                if !(1..=MAX_CHECK_DAYS).contains(&t.check_days) {
                    return Err(bad(&format!(
                        "trust_first.check_days is {}, but must be 1 to {MAX_CHECK_DAYS}",
                        t.check_days
                    )));
                }
                if m.immediate {
                    return Err(bad(
                        "an immediate matter is finished at the window and needs no trust-first pledge",
                    ));
                }
            }
            if m.materials.is_empty() {
                return Err(bad("empty materials checklist"));
            }
            let mut codes = BTreeSet::new();
            for mat in &m.materials {
                if !codes.insert(mat.code.as_str()) {
                    return Err(bad(&format!("material {} appears twice", mat.code)));
                }
                for s in &mat.situations {
                    if !m.situations.iter().any(|x| &x.code == s) {
                        return Err(bad(&format!(
                            "material {} names unknown situation {s}",
                            mat.code
                        )));
                    }
                }
                for d in &mat.by_data {
                    if !self.matters.contains_key(d) {
                        return Err(bad(&format!(
                            "material {} is replaced by the result of unknown matter {d}",
                            mat.code
                        )));
                    }
                }
            }
            if !m.immediate && m.stages.is_empty() {
                return Err(bad("a committed matter needs its stages"));
            }
            let mut last = None;
            for st in &m.stages {
                if last.is_some_and(|l| l >= st.stage) {
                    return Err(bad("stages must be in order and appear once"));
                }
                last = Some(st.stage);
            }
        }
        Ok(())
    }

    /// A matter by code.
    pub fn matter(&self, code: &str) -> Option<&Matter> {
        self.matters.get(code)
    }
}
