//! People who sign in to Kassa's pages (the merchant portal now; the
//! operator console and the trader panel later): their accounts and
//! sessions. Passwords and session tokens are never held here in the clear.

use serde::{Deserialize, Serialize};

/// Which pages an account signs in to, and so what its `subject_id` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebRealm {
    /// The merchant portal: `subject_id` is a merchant id.
    Merchant,
    /// The operator console: `subject_id` is empty.
    Operator,
    /// The trader panel: `subject_id` is a trader id.
    Trader,
}

impl WebRealm {
    pub fn as_str(self) -> &'static str {
        match self {
            WebRealm::Merchant => "merchant",
            WebRealm::Operator => "operator",
            WebRealm::Trader => "trader",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebUser {
    pub id: String,
    pub realm: WebRealm,
    pub subject_id: String,
    /// Lowercased; unique within the realm.
    pub email: String,
    /// Argon2id in the PHC string form.
    pub password_hash: String,
    /// The TOTP secret (base32), sealed with the master key; none: password only.
    #[serde(default)]
    pub totp_secret_sealed: Option<String>,
    /// The last TOTP time step accepted, so a code is never taken twice.
    #[serde(default)]
    pub totp_last_step: u64,
    /// Failed sign-ins since the last success or lock.
    #[serde(default)]
    pub failed_attempts: u32,
    /// Sign-in is refused until then (0: not locked).
    #[serde(default)]
    pub locked_until_secs: i64,
    pub created_at_secs: i64,
    /// What an operator user may do; only operator users have one (none
    /// there reads as [`OperatorRole::Admin`], the role of the first users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<OperatorRole>,
}

/// What an operator user may do in the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorRole {
    /// Reads and changes.
    Admin,
    /// Reads everything, changes nothing.
    Support,
}

impl OperatorRole {
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Admin => "admin",
            OperatorRole::Support => "support",
        }
    }

    pub fn parse(text: &str) -> Option<OperatorRole> {
        match text {
            "admin" => Some(OperatorRole::Admin),
            "support" => Some(OperatorRole::Support),
            _ => None,
        }
    }
}

impl WebUser {
    /// The role of an operator user; none for the other realms.
    pub fn operator_role(&self) -> Option<OperatorRole> {
        (self.realm == WebRealm::Operator).then(|| self.role.unwrap_or(OperatorRole::Admin))
    }

    /// Whether this user may change things in the console.
    pub fn may_change(&self) -> bool {
        self.operator_role() == Some(OperatorRole::Admin)
    }

    pub fn is_locked(&self, now_secs: i64) -> bool {
        self.locked_until_secs > now_secs
    }

    /// Counts a failed sign-in; the `max_failures`th locks the account for
    /// `lock_secs` and starts the count again.
    pub fn count_failure(&mut self, now_secs: i64, max_failures: u32, lock_secs: i64) {
        self.failed_attempts += 1;
        if self.failed_attempts >= max_failures.max(1) {
            self.failed_attempts = 0;
            self.locked_until_secs = now_secs + lock_secs;
        }
    }
}

/// A signed-in browser. Its token lives only in the browser's cookie; the
/// store keeps a keyed hash of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSession {
    pub token_hash: String,
    pub user_id: String,
    pub created_at_secs: i64,
    pub last_seen_secs: i64,
}

impl WebSession {
    /// Whether it is still good at `now_secs`: used within `idle_secs` and
    /// younger than `absolute_secs`.
    pub fn is_live(&self, now_secs: i64, idle_secs: i64, absolute_secs: i64) -> bool {
        now_secs < self.last_seen_secs + idle_secs
            && now_secs < self.created_at_secs + absolute_secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> WebUser {
        WebUser {
            id: "u".into(),
            realm: WebRealm::Merchant,
            subject_id: "m".into(),
            email: "a@b.c".into(),
            password_hash: String::new(),
            totp_secret_sealed: None,
            totp_last_step: 0,
            failed_attempts: 0,
            locked_until_secs: 0,
            created_at_secs: 0,
            role: None,
        }
    }

    #[test]
    fn operator_users_are_admins_unless_told_otherwise() {
        let mut u = user();
        assert_eq!((u.operator_role(), u.may_change()), (None, false));
        u.realm = WebRealm::Operator;
        assert_eq!(u.operator_role(), Some(OperatorRole::Admin));
        assert!(u.may_change());
        u.role = Some(OperatorRole::Support);
        assert!(!u.may_change());
        let doc = serde_json::to_string(&u).unwrap();
        assert!(doc.contains("\"role\":\"support\""), "{doc}");
    }

    #[test]
    fn the_fifth_failure_locks() {
        let mut u = user();
        for _ in 0..4 {
            u.count_failure(100, 5, 900);
            assert!(!u.is_locked(100));
        }
        u.count_failure(100, 5, 900);
        assert!(u.is_locked(100) && u.is_locked(999));
        assert!(!u.is_locked(1000));
        assert_eq!(u.failed_attempts, 0);
    }

    #[test]
    fn sessions_lapse_when_idle_or_old() {
        let s = WebSession {
            token_hash: "h".into(),
            user_id: "u".into(),
            created_at_secs: 0,
            last_seen_secs: 0,
        };
        assert!(s.is_live(10, 60, 3600));
        assert!(!s.is_live(60, 60, 3600));
        let s = WebSession {
            last_seen_secs: 3590,
            ..s
        };
        assert!(s.is_live(3599, 60, 3600));
        assert!(!s.is_live(3600, 60, 3600));
    }
}
