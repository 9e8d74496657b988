//! Staff accounts across the tree: the root keeps the accounts of halls
//! below it and sends each change down the hall's branch as a signed
//! `staff_account` directive carrying the whole account (its password only
//! as an argon2 hash). The hall takes it as one of its own accounts, so a
//! clerk created at the district logs in at a village whose uplink is
//! down, and a disabled account is refused there from the moment the
//! village holds the change, with its sessions ended.

use federation::NodeId;

use crate::Node;
use crate::auth::{NewStaff, StaffChange, StaffView, hash_password};
use crate::error::{Error, ErrorKind};
use onewindow_domain::case::Role;
use onewindow_domain::log::{Directive, StaffAccount, staff_text};

impl Node {
    /// A hall below the root, seen in its fleet, for an account the root
    /// keeps. Refused elsewhere than at the root.
    async fn staff_hall(&self, hall: &str) -> Result<NodeId, Error> {
        if self.signer.is_none() {
            return Err(Error::keyed(
                ErrorKind::Forbidden,
                "not_the_root",
                "err.not_the_root.staff",
                &[],
            ));
        }
        let id = NodeId::new(hall)
            .ok()
            .filter(|n| *n != self.id && n.is_in_subtree_of(&self.id))
            .ok_or_else(|| Error::bad_request("bad_node_id", &[("node", &hall)]))?;
        // Known: seen in the fleet, or one tier below a node seen there
        // other than this one (the fleet holds this node's children and
        // what they report; a village that has not yet reported is known
        // by its township).
        let known = self.store.fleet_knows(id.as_str()).await?
            || id.parent().is_some_and(|p| p != self.id)
                && match id.parent() {
                    Some(p) => self.store.fleet_knows(p.as_str()).await?,
                    None => false,
                };
        if !known {
            return Err(Error::not_found("unknown_hall", &[("hall", &hall)]));
        }
        Ok(id)
    }

    /// Signs an account, records it and stages the directive that carries
    /// it down its hall's branch, in one transaction.
    async fn write_staff_accounts(&self, by: &str, accounts: &[StaffAccount]) -> Result<(), Error> {
        let Some(signer) = &self.signer else {
            return Err(Error::keyed(
                ErrorKind::Forbidden,
                "not_the_root",
                "err.not_the_root.staff",
                &[],
            ));
        };
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        for a in accounts {
            w.put_tree_staff(a, now, by).await?;
            let signature = signer.sign(staff_text(a).as_bytes());
            self.stage_directive(
                &mut w,
                Directive::StaffAccount {
                    account: a.clone(),
                    signature,
                },
                &a.hall,
                by,
            )?;
        }
        w.commit().await?;
        for a in accounts {
            tracing::info!(hall = %a.hall, username = %a.username, active = a.active, %by,
                "staff account of a hall below written");
        }
        Ok(())
    }

    /// Creates an account for a hall below: at the root itself; at a
    /// township for a hall of its subtree, by asking the root up its link
    /// (the password goes up only as its hash).
    pub(crate) async fn create_tree_staff(
        &self,
        by: &str,
        s: NewStaff,
    ) -> Result<StaffView, Error> {
        self.check_account(
            &s.username,
            &s.display_name,
            s.role,
            s.department.as_deref(),
            Some(&s.password),
        )?;
        let ask = StaffAsk {
            hall: s.hall.clone().unwrap_or_default(),
            username: s.username,
            create: true,
            display_name: Some(s.display_name),
            role: Some(s.role),
            department: s.department,
            password_hash: Some(hash_password(&s.password)?),
            active: None,
            move_to: None,
        };
        if self.signer.is_some() {
            self.keep_staff(by, ask).await
        } else {
            self.ask_staff(by, ask).await
        }
    }

    /// At the root: carries out a staff request (made here, or asked by a
    /// node below for a hall of its subtree).
    pub(crate) async fn keep_staff(&self, by: &str, ask: StaffAsk) -> Result<StaffView, Error> {
        if ask.create {
            self.create_kept(by, ask).await
        } else {
            self.change_kept(by, ask).await
        }
    }

    async fn create_kept(&self, by: &str, s: StaffAsk) -> Result<StaffView, Error> {
        let hall = self.staff_hall(&s.hall).await?;
        let role = s.role.unwrap_or(Role::Clerk);
        let display_name = s.display_name.unwrap_or_default();
        self.check_account(
            &s.username,
            &display_name,
            role,
            s.department.as_deref(),
            None,
        )?;
        let Some(password_hash) = s.password_hash.filter(|h| h.starts_with("$argon2")) else {
            return Err(Error::bad_request("weak_password", &[]));
        };
        if self
            .store
            .tree_staff_one(hall.as_str(), &s.username)
            .await?
            .is_some()
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                "username_taken",
                &[("username", &s.username)],
            ));
        }
        let account = StaffAccount {
            hall: hall.to_string(),
            username: s.username,
            display_name: display_name.trim().to_owned(),
            role,
            department: s.department.filter(|_| role == Role::Approver),
            password_hash,
            active: true,
        };
        self.write_staff_accounts(by, std::slice::from_ref(&account))
            .await?;
        Ok(StaffView::from(&account))
    }

    /// Changes an account (admin only): this hall's own, or at the root one
    /// it keeps for a hall below (`c.hall`), which may also move to another
    /// hall. A new password, role or department, or disabling, ends the
    /// account's sessions; nobody disables their own account.
    pub async fn change_staff(
        &self,
        by: &str,
        by_role: Role,
        username: &str,
        c: StaffChange,
    ) -> Result<StaffView, Error> {
        let mut what: Vec<String> = Vec::new();
        if let Some(h) = &c.hall {
            what.push(format!("at {h}"));
        }
        if let Some(n) = &c.display_name {
            what.push(format!("name {}", n.trim()));
        }
        if let Some(r) = c.role {
            what.push(format!("role {}", r.as_str()));
        }
        if let Some(d) = &c.department {
            what.push(format!("department {d}"));
        }
        if c.password.is_some() {
            what.push("password reset".to_owned());
        }
        if let Some(a) = c.active {
            what.push(if a { "enabled" } else { "disabled" }.to_owned());
        }
        if let Some(m) = &c.move_to {
            what.push(format!("moved to {m}"));
        }
        let disables = c.active == Some(false);
        let changed = self
            .change_staff_unaudited(by, by_role, username, c)
            .await?;
        let action = if disables {
            "staff_disabled"
        } else {
            "staff_changed"
        };
        self.audit(action, by, by_role, username, &what.join("; "))
            .await;
        Ok(changed)
    }

    async fn change_staff_unaudited(
        &self,
        by: &str,
        by_role: Role,
        username: &str,
        c: StaffChange,
    ) -> Result<StaffView, Error> {
        if by_role != Role::Admin {
            return Err(Error::forbidden("action.manage_staff"));
        }
        let tree_hall = c.hall.clone().filter(|h| h != self.id.as_str());
        if let Some(hall) = tree_hall {
            if let Some(p) = &c.password {
                self.check_account(username, "-", Role::Clerk, None, Some(p))?;
            }
            let ask = StaffAsk {
                hall,
                username: username.to_owned(),
                create: false,
                display_name: c.display_name,
                role: c.role,
                department: c.department,
                password_hash: c.password.as_deref().map(hash_password).transpose()?,
                active: c.active,
                move_to: c.move_to,
            };
            return if self.signer.is_some() {
                self.keep_staff(by, ask).await
            } else {
                self.ask_staff(by, ask).await
            };
        }
        if username == by && c.active == Some(false) {
            return Err(Error::bad_request("self_deactivation", &[]));
        }
        if c.move_to.is_some() {
            return Err(Error::bad_request("move_needs_hall", &[]));
        }
        let unknown = || Error::not_found("unknown_staff", &[("username", &username)]);
        let s = self.store.staff(username).await?.ok_or_else(unknown)?;
        let only_disables = c.active == Some(false)
            && c.display_name.is_none()
            && c.role.is_none()
            && c.department.is_none()
            && c.password.is_none();
        if s.managed && !only_disables {
            // Changed here, it would be overwritten by the root's next
            // change; a hall may still lock it.
            return Err(Error::new(
                ErrorKind::Conflict,
                "managed_account",
                &[("username", &username)],
            ));
        }
        let (role, department, name) = merged(
            (c.role, c.department, c.display_name),
            (s.role, &s.department, &s.display_name),
        );
        self.check_account(
            username,
            &name,
            role,
            department.as_deref(),
            c.password.as_deref(),
        )?;
        let active = c.active.unwrap_or(s.active);
        let end_sessions =
            !active || c.password.is_some() || role != s.role || department != s.department;
        let rec = onewindow_store::StaffRecord {
            username: username.to_owned(),
            display_name: name,
            role,
            department,
            password_hash: match &c.password {
                Some(p) => hash_password(p)?,
                None => s.password_hash,
            },
            active,
            managed: s.managed,
        };
        let mut w = self.store.write().await?;
        if !w.update_staff(&rec, end_sessions).await? {
            return Err(unknown());
        }
        w.commit().await?;
        let rec = self.store.staff(username).await?.ok_or_else(unknown)?;
        Ok(StaffView::from(&rec))
    }

    /// At the root: changes an account it keeps for a hall below (and may
    /// move it to another hall below).
    async fn change_kept(&self, by: &str, c: StaffAsk) -> Result<StaffView, Error> {
        let username = c.username.as_str();
        let unknown = || Error::not_found("unknown_staff", &[("username", &username)]);
        let hall = self.staff_hall(&c.hall).await?;
        let a = self
            .store
            .tree_staff_one(hall.as_str(), username)
            .await?
            .ok_or_else(unknown)?;
        let (role, department, name) = merged(
            (c.role, c.department, c.display_name),
            (a.role, &a.department, &a.display_name),
        );
        self.check_account(username, &name, role, department.as_deref(), None)?;
        if c.password_hash
            .as_deref()
            .is_some_and(|h| !h.starts_with("$argon2"))
        {
            return Err(Error::bad_request("weak_password", &[]));
        }
        let mut account = StaffAccount {
            hall: a.hall.clone(),
            username: username.to_owned(),
            display_name: name,
            role,
            department,
            password_hash: c.password_hash.unwrap_or(a.password_hash),
            active: c.active.unwrap_or(a.active),
        };
        let mut accounts = Vec::new();
        if let Some(to) = &c.move_to {
            let to = self.staff_hall(to).await?;
            if to.as_str() != account.hall {
                if self
                    .store
                    .tree_staff_one(to.as_str(), username)
                    .await?
                    .is_some_and(|a| a.active)
                {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        "username_taken",
                        &[("username", &username)],
                    ));
                }
                accounts.push(StaffAccount {
                    active: false,
                    ..account.clone()
                });
                account.hall = to.to_string();
                account.active = true;
            }
        }
        accounts.push(account.clone());
        self.write_staff_accounts(by, &accounts).await?;
        Ok(StaffView::from(&account))
    }

    /// Below the root: asks the root, up the link, to carry out a staff
    /// request for a hall of this node's subtree.
    async fn ask_staff(&self, by: &str, ask: StaffAsk) -> Result<StaffView, Error> {
        let below =
            |h: &str| NodeId::new(h).is_ok_and(|n| n != self.id && n.is_in_subtree_of(&self.id));
        if !below(&ask.hall) || ask.move_to.as_deref().is_some_and(|m| !below(m)) {
            return Err(Error::bad_request("bad_node_id", &[("node", &ask.hall)]));
        }
        // A root without the signing key has nobody to ask: that is how it
        // is set up, not a link that is down for now.
        if self.id.parent().is_none() {
            return Err(Error::new(ErrorKind::Forbidden, "staff_no_signer", &[]));
        }
        let q = crate::Query::Staff {
            at: self.id.to_string(),
            by: by.to_owned(),
            ask,
        };
        let Some(answer) = self.ask_up(&q).await else {
            return Err(Error::new(ErrorKind::Unavailable, "staff_no_uplink", &[]));
        };
        match serde_json::from_str::<StaffAnswer>(&answer) {
            Ok(StaffAnswer::Done(v)) => Ok(v),
            Ok(StaffAnswer::Refused(r)) => Err(r.into_error()),
            Err(_) => Err(Error::new(ErrorKind::Unavailable, "staff_no_uplink", &[])),
        }
    }

    /// Answers a staff request from the child `peer`: for a hall below the
    /// asking node `at`, which is of `peer`'s subtree. The root carries it
    /// out; a node between passes it on.
    pub(crate) async fn answer_staff(
        &self,
        peer: &NodeId,
        at: &str,
        by: &str,
        ask: StaffAsk,
    ) -> Option<String> {
        let at_id = NodeId::new(at).ok()?;
        let below_at =
            |h: &str| NodeId::new(h).is_ok_and(|n| n != at_id && n.is_in_subtree_of(&at_id));
        if !at_id.is_in_subtree_of(peer)
            || self.id.is_in_subtree_of(peer)
            || !below_at(&ask.hall)
            || ask.move_to.as_deref().is_some_and(|m| !below_at(m))
        {
            tracing::warn!(%peer, %at, hall = %ask.hall, "refused a staff request from outside the asking link's subtree");
            return None;
        }
        if self.signer.is_none() {
            let q = crate::Query::Staff {
                at: at.to_owned(),
                by: by.to_owned(),
                ask,
            };
            return self.ask_up(&q).await;
        }
        let answer = match self.keep_staff(&format!("{by}@{at}"), ask).await {
            Ok(v) => StaffAnswer::Done(v),
            Err(e) => StaffAnswer::Refused(Refusal::of(&e)),
        };
        serde_json::to_string(&answer).ok()
    }

    /// The accounts of this hall, or at the root those it keeps for a hall
    /// below (`hall`; `*` for every hall below).
    pub async fn list_staff(
        &self,
        by_role: Role,
        hall: Option<&str>,
    ) -> Result<Vec<StaffView>, Error> {
        if by_role != Role::Admin {
            return Err(Error::forbidden("action.manage_staff"));
        }
        match hall {
            Some(h) if h != self.id.as_str() => {
                let which = if h == "*" {
                    if self.signer.is_none() {
                        return Err(Error::keyed(
                            ErrorKind::Forbidden,
                            "not_the_root",
                            "err.not_the_root.staff",
                            &[],
                        ));
                    }
                    None
                } else {
                    Some(self.staff_hall(h).await?)
                };
                let all = self
                    .store
                    .tree_staff(which.as_ref().map(NodeId::as_str))
                    .await?;
                Ok(all.iter().map(StaffView::from).collect())
            }
            _ => {
                let all = self.store.all_staff().await?;
                Ok(all.iter().map(StaffView::from).collect())
            }
        }
    }
}

/// A staff request as it goes up the tree: the password only as its hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StaffAsk {
    /// The hall whose account it is.
    pub hall: String,
    /// Login name.
    pub username: String,
    /// A new account (else a change).
    pub create: bool,
    /// Name.
    pub display_name: Option<String>,
    /// Role.
    pub role: Option<Role>,
    /// Department.
    pub department: Option<String>,
    /// argon2 hash of a new password.
    pub password_hash: Option<String>,
    /// Enable or disable.
    pub active: Option<bool>,
    /// Move to this hall.
    pub move_to: Option<String>,
}

/// The root's answer to a staff request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum StaffAnswer {
    Done(StaffView),
    Refused(Refusal),
}

/// A refusal carried down: its code (one of those a staff request can
/// meet), kind and both messages.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Refusal {
    code: String,
    kind: String,
    message_zh: String,
    message_en: String,
}

/// The codes a staff request can be refused with at the root.
const STAFF_CODES: &[&str] = &[
    "unknown_hall",
    "bad_node_id",
    "username_taken",
    "unknown_staff",
    "bad_username",
    "bad_display_name",
    "weak_password",
    "bad_role",
    "department_required",
    "unknown_department",
    "not_the_root",
    "storage",
];

impl Refusal {
    fn of(e: &Error) -> Self {
        Self {
            code: e.code.to_owned(),
            kind: format!("{:?}", e.kind),
            message_zh: e.message_zh.clone(),
            message_en: e.message_en.clone(),
        }
    }

    fn into_error(self) -> Error {
        let kind = match self.kind.as_str() {
            "Invalid" => ErrorKind::Invalid,
            "Forbidden" => ErrorKind::Forbidden,
            "NotFound" => ErrorKind::NotFound,
            "Conflict" => ErrorKind::Conflict,
            _ => ErrorKind::Unavailable,
        };
        let code = STAFF_CODES
            .iter()
            .find(|c| **c == self.code)
            .copied()
            .unwrap_or("staff_refused_above");
        Error {
            kind,
            code,
            message_zh: self.message_zh,
            message_en: self.message_en,
            detail: None,
            field: None,
        }
    }
}

/// An account's role, department and name after a change: each given field
/// replaces the current one; a department only for an approver.
fn merged(
    change: (Option<Role>, Option<String>, Option<String>),
    current: (Role, &Option<String>, &str),
) -> (Role, Option<String>, String) {
    let role = change.0.unwrap_or(current.0);
    let department = change
        .1
        .or_else(|| current.1.clone())
        .filter(|_| role == Role::Approver);
    let name = change
        .2
        .map_or_else(|| current.2.to_owned(), |n| n.trim().to_owned());
    (role, department, name)
}
