//! Staff accounts, passwords (argon2) and expiring session tokens.
//!
//! A token is 32 random bytes shown once to the client; the store keeps only
//! its SHA-256, so a copy of the database grants no session.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Node;
use crate::error::Error;
use onewindow_domain::case::Role;
use onewindow_domain::log::StaffAccount;
use onewindow_store::{Session, StaffRecord};

/// A new staff account.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    /// Login name: 3 to 32 of a-z, 0-9, `.`, `_`, `-`.
    #[schema(pattern = "^[a-z0-9._-]{3,32}$", min_length = 3, max_length = 32)]
    pub username: String,
    /// Name shown on documents (not blank, at most 50 characters).
    #[schema(min_length = 1, max_length = 50)]
    pub display_name: String,
    /// Role (not `citizen`).
    pub role: Role,
    /// Department code; required for approvers.
    #[serde(default)]
    pub department: Option<String>,
    /// At least 10 characters.
    #[schema(min_length = 10)]
    pub password: String,
    /// At the root: the hall below it where the account works (the root
    /// keeps it and sends it down that hall's branch). None, or this
    /// node's own id, for an account of this hall.
    #[serde(default)]
    pub hall: Option<String>,
}

/// A change to a staff account: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffChange {
    /// At the root: the hall below whose account it is (none for this
    /// hall's own).
    #[serde(default)]
    pub hall: Option<String>,
    /// A new display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// A new role (an approver needs a department).
    #[serde(default)]
    pub role: Option<Role>,
    /// A new department code.
    #[serde(default)]
    pub department: Option<String>,
    /// A new password (at least 10 characters); the account's sessions end.
    #[serde(default)]
    #[schema(min_length = 10)]
    pub password: Option<String>,
    /// Enables (true) or disables (false) the account; disabling ends its
    /// sessions.
    #[serde(default)]
    pub active: Option<bool>,
    /// At the root: moves an account kept for `hall` to this other hall
    /// below (disabled at the first, enabled at the second).
    #[serde(default)]
    pub move_to: Option<String>,
}

/// A staff account as the API shows it (no hash).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StaffView {
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Department.
    pub department: Option<String>,
    /// May log in.
    pub active: bool,
    /// The hall where the account works, for an account the root keeps
    /// for a hall below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hall: Option<String>,
    /// Kept by the root (it changes only there).
    #[serde(default)]
    pub managed: bool,
}

impl From<&StaffRecord> for StaffView {
    fn from(s: &StaffRecord) -> Self {
        Self {
            username: s.username.clone(),
            display_name: s.display_name.clone(),
            role: s.role,
            department: s.department.clone(),
            active: s.active,
            hall: None,
            managed: s.managed,
        }
    }
}

impl From<&StaffAccount> for StaffView {
    fn from(a: &StaffAccount) -> Self {
        Self {
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            role: a.role,
            department: a.department.clone(),
            active: a.active,
            hall: Some(a.hall.clone()),
            managed: true,
        }
    }
}

/// A successful login.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoginOutcome {
    /// Bearer token for `Authorization: Bearer ...`.
    pub token: String,
    /// Expiry (ms since the epoch).
    pub expires_at_ms: i64,
    /// Who logged in.
    pub staff: StaffView,
}

/// SHA-256 of a token, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An argon2id hash of a password in PHC form.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::storage(&e))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::storage(&e))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

impl Node {
    /// Creates a staff account (admin only): this hall's own, or at the
    /// root one for a hall below (`s.hall`).
    pub async fn create_staff(
        &self,
        by: &str,
        by_role: Role,
        s: NewStaff,
    ) -> Result<StaffView, Error> {
        if by_role != Role::Admin {
            return Err(Error::forbidden("action.manage_staff"));
        }
        let (username, role) = (s.username.clone(), s.role);
        let hall = s.hall.clone().unwrap_or_else(|| self.id.to_string());
        let made = match s.hall.as_deref() {
            Some(h) if h != self.id.as_str() => self.create_tree_staff(by, s).await,
            _ => self.create_staff_unchecked(s).await,
        }?;
        let detail = format!("{} at {hall}", role.as_str());
        self.audit("staff_created", by, by_role, &username, &detail)
            .await;
        Ok(made)
    }

    /// Deactivates a staff account (admin only); nobody deactivates their
    /// own.
    pub async fn deactivate_staff(
        &self,
        by: &str,
        by_role: Role,
        username: &str,
    ) -> Result<(), Error> {
        if by_role != Role::Admin {
            return Err(Error::forbidden("action.manage_staff"));
        }
        if username == by {
            return Err(Error::bad_request("self_deactivation", &[]));
        }
        if self.store.deactivate_staff(username).await? {
            self.audit("staff_disabled", by, by_role, username, "")
                .await;
            Ok(())
        } else {
            Err(Error::not_found(
                "unknown_staff",
                &[("username", &username)],
            ))
        }
    }

    /// Checks an account's fields as the rules ask (a password only when
    /// one is given).
    pub(crate) fn check_account(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        department: Option<&str>,
        password: Option<&str>,
    ) -> Result<(), Error> {
        let ok_name = (3..=32).contains(&username.len())
            && username
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !ok_name {
            return Err(Error::bad_request("bad_username", &[]));
        }
        if display_name.trim().is_empty() || display_name.chars().count() > 50 {
            return Err(Error::bad_request("bad_display_name", &[]));
        }
        if password.is_some_and(|p| p.chars().count() < 10) {
            return Err(Error::bad_request("weak_password", &[]));
        }
        match (role, department) {
            (Role::Citizen, _) => Err(Error::bad_request("bad_role", &[])),
            (Role::Approver, None) => Err(Error::bad_request("department_required", &[])),
            (Role::Approver, Some(d)) if !self.catalogue().departments.contains_key(d) => {
                Err(Error::bad_request("unknown_department", &[("code", &d)]))
            }
            _ => Ok(()),
        }
    }

    /// Creates a staff account without checking who asks (bootstrap only).
    pub async fn create_staff_unchecked(&self, s: NewStaff) -> Result<StaffView, Error> {
        self.check_account(
            &s.username,
            &s.display_name,
            s.role,
            s.department.as_deref(),
            Some(&s.password),
        )?;
        let rec = StaffRecord {
            username: s.username.clone(),
            display_name: s.display_name.trim().to_owned(),
            role: s.role,
            department: if s.role == Role::Approver {
                s.department
            } else {
                None
            },
            password_hash: hash_password(&s.password)?,
            active: true,
            managed: false,
        };
        if !self.store.create_staff(&rec, self.now_ms()).await? {
            return Err(Error::new(
                crate::error::ErrorKind::Conflict,
                "username_taken",
                &[("username", &s.username)],
            ));
        }
        Ok(StaffView::from(&rec))
    }

    /// Checks a password and opens a session. `from` is the address the
    /// request came from, where known: failures are counted per account and
    /// per address, and a locked account or address is refused without a
    /// look at the password (`login_locked`); each lockout is a security
    /// event.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<LoginOutcome, Error> {
        let now = self.now_ms();
        if let Some(lock) = self.logins.locked(username, from, now) {
            self.metrics.login_failed();
            return Err(locked(&lock, now));
        }
        let staff = self.store.staff(username).await?;
        let known_role = staff.as_ref().map_or("", |s| s.role.as_str());
        let ok = staff
            .as_ref()
            .is_some_and(|s| s.active && verify_password(password, &s.password_hash));
        let Some(staff) = staff.filter(|_| ok) else {
            self.metrics.login_failed();
            let begun = self.logins.failed(username, from, now);
            for lock in &begun {
                self.metrics.login_lockout();
                let detail = format!(
                    "{} locked for {} min after {} failed logins",
                    lock.key, self.config.auth.lockout_minutes, lock.failures
                );
                tracing::warn!(%detail, "login lockout");
                let remote = from.map(|ip| ip.to_string());
                self.store
                    .security_event(now, "login_lockout", None, remote.as_deref(), &detail)
                    .await?;
                self.keep_audit(
                    "login_lockout",
                    username,
                    known_role,
                    &lock.key.to_string(),
                    &detail,
                )
                .await;
            }
            if let Some(lock) = begun.first() {
                return Err(locked(lock, now));
            }
            return Err(Error::new(
                crate::error::ErrorKind::Unauthenticated,
                "bad_credentials",
                &[],
            ));
        };
        self.logins.succeeded(username);
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let expires = now + i64::from(self.config.auth.session_minutes) * 60_000;
        let address = from.map(|ip| ip.to_string()).unwrap_or_default();
        let rec = self.record("login", &staff.username, staff.role.as_str(), "", &address);
        let mut w = self.store.write().await?;
        w.create_session(&token_hash(&token), &staff.username, now, expires)
            .await?;
        stage_record(&mut w, rec)?;
        w.commit().await?;
        Ok(LoginOutcome {
            token,
            expires_at_ms: expires,
            staff: StaffView::from(&staff),
        })
    }

    /// The live session behind a token.
    pub async fn session(&self, token: &str) -> Result<Session, Error> {
        self.store
            .session(&token_hash(token), self.now_ms())
            .await?
            .ok_or_else(Error::unauthenticated)
    }

    /// Ends a session.
    pub async fn logout(&self, token: &str) -> Result<(), Error> {
        let who = self
            .store
            .session(&token_hash(token), self.now_ms())
            .await?;
        let mut w = self.store.write().await?;
        w.delete_session(&token_hash(token)).await?;
        if let Some(s) = who {
            let rec = self.record("logout", &s.staff.username, s.staff.role.as_str(), "", "");
            stage_record(&mut w, rec)?;
        }
        w.commit().await?;
        Ok(())
    }

    /// Keeps a staff or administrator action in this node's log, with its
    /// actor, target and detail; it travels up to the root like a case
    /// event. A failure to keep it is logged; it never undoes the action.
    pub async fn audit(&self, action: &str, actor: &str, role: Role, target: &str, detail: &str) {
        self.keep_audit(action, actor, role.as_str(), target, detail)
            .await;
    }

    /// [`Node::audit`] for an action whose caller knows only the actor's
    /// username: the role is the account's.
    pub async fn audit_by(&self, action: &str, actor: &str, target: &str, detail: &str) {
        let rec = self.audit_record(action, actor, target, detail).await;
        self.keep_record(rec).await;
    }

    /// The audit record of an action by `actor` (the role is the
    /// account's), to stage in the transaction that does the action.
    pub(crate) async fn audit_record(
        &self,
        action: &str,
        actor: &str,
        target: &str,
        detail: &str,
    ) -> onewindow_domain::log::AuditRecord {
        let role = match self.store.staff(actor).await {
            Ok(Some(s)) => s.role.as_str(),
            _ => "",
        };
        self.record(action, actor, role, target, detail)
    }

    pub(crate) fn record(
        &self,
        action: &str,
        actor: &str,
        role: &str,
        target: &str,
        detail: &str,
    ) -> onewindow_domain::log::AuditRecord {
        onewindow_domain::log::AuditRecord {
            action: action.to_owned(),
            actor: actor.to_owned(),
            role: role.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
            at_ms: self.now_ms(),
        }
    }

    async fn keep_audit(&self, action: &str, actor: &str, role: &str, target: &str, detail: &str) {
        self.keep_record(self.record(action, actor, role, target, detail))
            .await;
    }

    async fn keep_record(&self, rec: onewindow_domain::log::AuditRecord) {
        let (action, actor, target) = (rec.action.clone(), rec.actor.clone(), rec.target.clone());
        let kept = async {
            let mut w = self.store.write().await?;
            w.append_audit(rec)?;
            w.commit().await
        }
        .await;
        if let Err(e) = kept {
            tracing::warn!(%action, %actor, %target, error = %e, "an audit record was not kept");
        }
    }
}

/// Stages the audit record of a session change in the change's own
/// transaction. While the hall is recovering its log it writes no entry of
/// its own: the change goes ahead alone and the missing record is logged
/// (a clerk can still log in to a hall that is catching up).
fn stage_record(
    w: &mut onewindow_store::WriteTx<'_>,
    rec: onewindow_domain::log::AuditRecord,
) -> Result<(), Error> {
    let (action, actor) = (rec.action.clone(), rec.actor.clone());
    match w.append_audit(rec) {
        Ok(_) => Ok(()),
        Err(onewindow_store::StoreError::Recovering) => {
            tracing::warn!(%action, %actor, "the hall is recovering its log: the audit record was not kept");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The refusal of a login while `lock` lasts.
fn locked(lock: &crate::throttle::Lockout, now_ms: i64) -> Error {
    let minutes = ((lock.until_ms - now_ms).max(1) + 59_999) / 60_000;
    Error::new(
        crate::error::ErrorKind::TooMany,
        "login_locked",
        &[("minutes", &minutes)],
    )
}
