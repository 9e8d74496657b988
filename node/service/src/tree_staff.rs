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

    /// At the root: creates an account for a hall below.
    pub(crate) async fn create_tree_staff(
        &self,
        by: &str,
        s: NewStaff,
    ) -> Result<StaffView, Error> {
        let hall = self
            .staff_hall(s.hall.as_deref().unwrap_or_default())
            .await?;
        self.check_account(
            &s.username,
            &s.display_name,
            s.role,
            s.department.as_deref(),
            Some(&s.password),
        )?;
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
            display_name: s.display_name.trim().to_owned(),
            role: s.role,
            department: s.department.filter(|_| s.role == Role::Approver),
            password_hash: hash_password(&s.password)?,
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
        if by_role != Role::Admin {
            return Err(Error::forbidden("action.manage_staff"));
        }
        let tree_hall = c.hall.clone().filter(|h| h != self.id.as_str());
        if tree_hall.is_none() && username == by && c.active == Some(false) {
            return Err(Error::bad_request("self_deactivation", &[]));
        }
        let unknown = || Error::not_found("unknown_staff", &[("username", &username)]);
        // The account as it is, and as it will be.
        let (old_hash, old_role, old_dept, mut role, mut department, mut name, active) =
            match &tree_hall {
                Some(h) => {
                    let hall = self.staff_hall(h).await?;
                    let a = self
                        .store
                        .tree_staff_one(hall.as_str(), username)
                        .await?
                        .ok_or_else(unknown)?;
                    (
                        a.password_hash,
                        a.role,
                        a.department.clone(),
                        a.role,
                        a.department,
                        a.display_name,
                        a.active,
                    )
                }
                None => {
                    if c.move_to.is_some() {
                        return Err(Error::bad_request("move_needs_hall", &[]));
                    }
                    let s = self.store.staff(username).await?.ok_or_else(unknown)?;
                    let only_disables = c.active == Some(false)
                        && c.display_name.is_none()
                        && c.role.is_none()
                        && c.department.is_none()
                        && c.password.is_none();
                    if s.managed && !only_disables {
                        // Changed here, it would be overwritten by the
                        // root's next change; a hall may still lock it.
                        return Err(Error::new(
                            ErrorKind::Conflict,
                            "managed_account",
                            &[("username", &username)],
                        ));
                    }
                    (
                        s.password_hash,
                        s.role,
                        s.department.clone(),
                        s.role,
                        s.department,
                        s.display_name,
                        s.active,
                    )
                }
            };
        if let Some(r) = c.role {
            role = r;
        }
        if let Some(d) = c.department {
            department = Some(d);
        }
        if role != Role::Approver {
            department = None;
        }
        if let Some(n) = c.display_name {
            name = n.trim().to_owned();
        }
        self.check_account(
            username,
            &name,
            role,
            department.as_deref(),
            c.password.as_deref(),
        )?;
        let password_hash = match &c.password {
            Some(p) => hash_password(p)?,
            None => old_hash,
        };
        let active = c.active.unwrap_or(active);
        let end_sessions =
            !active || c.password.is_some() || role != old_role || department != old_dept;
        match tree_hall {
            Some(h) => {
                let mut account = StaffAccount {
                    hall: h,
                    username: username.to_owned(),
                    display_name: name,
                    role,
                    department,
                    password_hash,
                    active,
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
            None => {
                let rec = onewindow_store::StaffRecord {
                    username: username.to_owned(),
                    display_name: name,
                    role,
                    department,
                    password_hash,
                    active,
                    managed: false,
                };
                let mut w = self.store.write().await?;
                if !w.update_staff(&rec, end_sessions).await? {
                    return Err(unknown());
                }
                w.commit().await?;
                let rec = self.store.staff(username).await?.ok_or_else(unknown)?;
                Ok(StaffView::from(&rec))
            }
        }
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
