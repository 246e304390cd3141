//! The rules of Kassa's pages: web users (argon2id passwords, an optional
//! TOTP second factor), sign-in with a lock after repeated failures, and
//! sessions kept in the store as a keyed hash of their token. Faces add the
//! cookie and the forms; the decisions are made here.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac;
use kassa_domain::ids::new_id;
use kassa_domain::{OperatorRole, WebRealm, WebSession, WebUser};
use kassa_store::StoreError;
use rand::RngCore;
use totp_rs::{Algorithm, TOTP};

use crate::secrets::{constant_time_eq, random_token};
use crate::{Engine, EngineError, EngineResult};

/// How stale a session's last use may be before a request writes it again:
/// saves a write per page view at the cost of this much idle-time accuracy.
const TOUCH_AFTER_SECS: i64 = 60;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
const TOTP_STEP: u64 = 30;

/// Verified when the email is unknown, so that the answer takes as long as
/// for a known one and does not tell which emails exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_password("not a password at all"));

fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id with default parameters hashes any password")
        .to_string()
}

fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A password to print once: 20 characters of URL-safe base64 (120 bits).
pub fn generate_password() -> String {
    random_token()[..20].to_string()
}

fn totp(secret: Vec<u8>, email: &str) -> Option<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        TOTP_STEP,
        secret,
        Some("Kassa".into()),
        email.to_string(),
    )
    .ok()
}

/// The time step `code` is good for at `now_secs` (one step either side),
/// if it is good and later than the last one taken.
fn totp_step(t: &TOTP, code: &str, now_secs: i64, last_step: u64) -> Option<u64> {
    let now = u64::try_from(now_secs).ok()?;
    let step = now / TOTP_STEP;
    [step.saturating_sub(1), step, step + 1]
        .into_iter()
        .filter(|s| *s > last_step)
        .find(|s| constant_time_eq(&t.generate(s * TOTP_STEP), code.trim()))
}

/// What a sign-in came to.
#[derive(Debug)]
pub enum SignIn {
    /// The session's token, for the cookie (only here in the clear).
    SignedIn { token: String, user: WebUser },
    /// Wrong email, password or code: one answer for all three.
    Refused,
    /// Too many failures; refused, right password or not, until then.
    Locked { until_secs: i64 },
}

/// A new web user, and the password when Kassa made it up.
pub struct IssuedWebUser {
    pub user: WebUser,
    pub generated_password: Option<String>,
}

pub fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(email)
}

impl Engine {
    fn session_hash(&self, token: &str) -> String {
        let mut mac = self.fingerprint_key.mac();
        mac.update(b"kassa web session\0");
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The CSRF token of a session's forms: a keyed hash of its token, so
    /// nothing more is stored and it is good exactly as long as the session.
    /// Also made for a sign-in form from the form's own cookie.
    pub fn csrf_token(&self, session_token: &str) -> String {
        let mut mac = self.fingerprint_key.mac();
        mac.update(b"kassa web csrf\0");
        mac.update(session_token.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn csrf_matches(&self, session_token: &str, sent: &str) -> bool {
        constant_time_eq(&self.csrf_token(session_token), sent)
    }

    /// Adds a web user. Without a password one is made up and returned once.
    pub async fn create_web_user(
        &self,
        realm: WebRealm,
        subject_id: String,
        email: &str,
        password: Option<String>,
    ) -> EngineResult<IssuedWebUser> {
        let role = (realm == WebRealm::Operator).then_some(OperatorRole::Admin);
        self.create_user(realm, subject_id, email, password, role)
            .await
    }

    /// Adds an operator console user with a role.
    pub async fn create_operator_user(
        &self,
        email: &str,
        password: Option<String>,
        role: OperatorRole,
    ) -> EngineResult<IssuedWebUser> {
        self.create_user(
            WebRealm::Operator,
            String::new(),
            email,
            password,
            Some(role),
        )
        .await
    }

    async fn create_user(
        &self,
        realm: WebRealm,
        subject_id: String,
        email: &str,
        password: Option<String>,
        role: Option<OperatorRole>,
    ) -> EngineResult<IssuedWebUser> {
        let email = normalize_email(email)
            .ok_or_else(|| EngineError::invalid("email", "Not an email address."))?;
        if let Some(p) = &password {
            if p.chars().count() < MIN_PASSWORD_CHARS {
                return Err(EngineError::invalid(
                    "password",
                    format!("At least {MIN_PASSWORD_CHARS} characters."),
                ));
            }
        }
        let generated = password.is_none().then(generate_password);
        let plain = password.or_else(|| generated.clone()).unwrap_or_default();
        let password_hash = tokio::task::spawn_blocking(move || hash_password(&plain))
            .await
            .map_err(|e| EngineError::Store(StoreError::Backend(e.to_string())))?;
        let user = WebUser {
            id: new_id("wu"),
            realm,
            subject_id: subject_id.clone(),
            email,
            password_hash,
            totp_secret_sealed: None,
            totp_last_step: 0,
            failed_attempts: 0,
            locked_until_secs: 0,
            created_at_secs: self.now_secs(),
            role,
        };
        let stored = user.clone();
        self.write(move |tx| {
            if realm == WebRealm::Merchant && tx.merchant(&subject_id)?.is_none() {
                return Err(EngineError::invalid("merchant", "No such merchant."));
            }
            if realm == WebRealm::Trader && tx.trader(&subject_id)?.is_none() {
                return Err(EngineError::invalid("trader", "No such trader."));
            }
            tx.insert_web_user(&stored).map_err(|e| match e {
                StoreError::Duplicate(_) => {
                    EngineError::Conflict("A user with this email exists.".into())
                }
                e => e.into(),
            })
        })
        .await?;
        Ok(IssuedWebUser {
            user,
            generated_password: generated,
        })
    }

    /// Gives a user a new TOTP secret; the otpauth URL to scan, shown once.
    pub async fn enrol_totp(&self, user_id: String) -> EngineResult<String> {
        let mut secret = vec![0u8; 20];
        rand::thread_rng().fill_bytes(&mut secret);
        let sealed = self.sealer.seal(
            &totp_rs::Secret::Raw(secret.clone())
                .to_encoded()
                .to_string(),
        );
        let email = self
            .write(move |tx| {
                let mut user = tx.web_user(&user_id)?.ok_or(EngineError::NotFound)?;
                user.totp_secret_sealed = Some(sealed);
                user.totp_last_step = 0;
                tx.update_web_user(&user)?;
                Ok(user.email)
            })
            .await?;
        let t = totp(secret, &email).ok_or_else(|| {
            EngineError::invalid("email", "An email with ':' cannot name a TOTP account.")
        })?;
        Ok(t.get_url())
    }

    fn open_totp(&self, user: &WebUser) -> Option<TOTP> {
        let sealed = user.totp_secret_sealed.as_deref()?;
        let encoded = self.sealer.open(sealed)?;
        let bytes = totp_rs::Secret::Encoded(encoded).to_bytes().ok()?;
        totp(bytes, &user.email)
    }

    /// Checks the password (and code, when the user has a second factor)
    /// and opens a session. Failures are counted, and the lock decided, in
    /// the write against the user's row as it is now.
    pub async fn sign_in(
        &self,
        realm: WebRealm,
        email: &str,
        password: String,
        code: Option<String>,
    ) -> EngineResult<SignIn> {
        let Some(email) = normalize_email(email) else {
            return Ok(SignIn::Refused);
        };
        let lookup = email.clone();
        let user = self
            .read(move |tx| Ok(tx.web_user_by_email(realm, &lookup)?))
            .await?;
        let hash = user
            .as_ref()
            .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
        let password_ok = tokio::task::spawn_blocking(move || password_matches(&hash, &password))
            .await
            .unwrap_or(false);
        let Some(user) = user else {
            return Ok(SignIn::Refused);
        };
        let checked_hash = user.password_hash.clone();
        let checked_factor = user.totp_secret_sealed.clone();
        let totp = self.open_totp(&user);
        let has_factor = user.totp_secret_sealed.is_some();
        let token = random_token();
        let token_hash = self.session_hash(&token);
        let now = self.now_secs();
        let (max_failures, lock_secs) = (
            self.config.web_max_failed_sign_ins,
            self.config.web_lock_secs,
        );
        let outcome = self
            .write(move |tx| {
                let Some(mut user) = tx.web_user_by_email(realm, &email)? else {
                    return Ok(SignIn::Refused);
                };
                if user.is_locked(now) {
                    return Ok(SignIn::Locked {
                        until_secs: user.locked_until_secs,
                    });
                }
                // The password and factor checked must be the row's now.
                let mut ok = password_ok
                    && user.password_hash == checked_hash
                    && user.totp_secret_sealed == checked_factor;
                if ok && has_factor {
                    let step = match (&totp, code.as_deref()) {
                        (Some(t), Some(c)) => totp_step(t, c, now, user.totp_last_step),
                        _ => None,
                    };
                    match step {
                        Some(s) => user.totp_last_step = s,
                        None => ok = false,
                    }
                }
                if !ok {
                    user.count_failure(now, max_failures, lock_secs);
                    tx.update_web_user(&user)?;
                    return Ok(if user.is_locked(now) {
                        SignIn::Locked {
                            until_secs: user.locked_until_secs,
                        }
                    } else {
                        SignIn::Refused
                    });
                }
                user.failed_attempts = 0;
                tx.update_web_user(&user)?;
                tx.insert_web_session(&WebSession {
                    token_hash,
                    user_id: user.id.clone(),
                    created_at_secs: now,
                    last_seen_secs: now,
                })?;
                Ok(SignIn::SignedIn { token, user })
            })
            .await?;
        Ok(outcome)
    }

    /// The user behind a session token of `realm`, if the session is live;
    /// its last use is brought up to now.
    pub async fn web_session(&self, realm: WebRealm, token: &str) -> EngineResult<Option<WebUser>> {
        let hash = self.session_hash(token);
        let now = self.now_secs();
        let lookup = hash.clone();
        let found = self
            .read(move |tx| {
                let Some(session) = tx.web_session(&lookup)? else {
                    return Ok(None);
                };
                let user = tx.web_user(&session.user_id)?;
                Ok(user.map(|u| (session, u)))
            })
            .await?;
        let Some((session, user)) = found else {
            return Ok(None);
        };
        if user.realm != realm
            || !session.is_live(
                now,
                self.config.web_session_idle_secs,
                self.config.web_session_absolute_secs,
            )
        {
            return Ok(None);
        }
        if now - session.last_seen_secs >= TOUCH_AFTER_SECS {
            self.write(move |tx| Ok(tx.touch_web_session(&hash, now)?))
                .await?;
        }
        Ok(Some(user))
    }

    pub async fn sign_out(&self, token: &str) -> EngineResult<()> {
        let hash = self.session_hash(token);
        self.write(move |tx| Ok(tx.delete_web_session(&hash)?))
            .await
    }

    /// The web users of a merchant (or trader), by email.
    pub async fn web_users(
        &self,
        realm: WebRealm,
        subject_id: String,
    ) -> EngineResult<Vec<WebUser>> {
        self.read(move |tx| Ok(tx.web_users_of(realm, &subject_id)?))
            .await
    }

    /// A web user by email in a realm (for the CLI).
    pub async fn web_user_by_email(
        &self,
        realm: WebRealm,
        email: &str,
    ) -> EngineResult<Option<WebUser>> {
        let Some(email) = normalize_email(email) else {
            return Ok(None);
        };
        self.read(move |tx| Ok(tx.web_user_by_email(realm, &email)?))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$"));
        assert!(password_matches(&h, "correct horse battery"));
        assert!(!password_matches(&h, "correct horse battery "));
        assert!(!password_matches("not a hash", "x"));
    }

    #[test]
    fn emails_are_normalized() {
        assert_eq!(normalize_email(" A@B.io ").as_deref(), Some("a@b.io"));
        for bad in ["", "a", "a@b", "@b.io", "a@.io", "a b@c.io"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn totp_codes_are_taken_once() {
        let t = totp(vec![7u8; 20], "a@b.io").unwrap();
        let now = 1_700_000_000i64;
        let code = t.generate(now as u64);
        let step = totp_step(&t, &code, now, 0).expect("good now");
        assert_eq!(step, now as u64 / TOTP_STEP);
        assert_eq!(totp_step(&t, &code, now, step), None, "not twice");
        assert_eq!(totp_step(&t, &code, now + 120, 0), None, "too late");
        assert_eq!(totp_step(&t, "000000x", now, 0), None);
    }
}
