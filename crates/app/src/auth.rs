//! Credentials: passwords (argon2id), API tokens and web sessions (random, stored hashed), and
//! the throttle on sign-in attempts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use domain::{Action, ApiToken, Millis, Role, Session, Slug, StoreId, now_millis};

use crate::{Actor, AppError, AppResult, Salon};

/// How long a web session lasts.
pub const SESSION_TTL_MS: Millis = 12 * 60 * 60 * 1000;
/// Failed sign-ins allowed per account and per address in one window.
const MAX_FAILURES: u32 = 5;
const WINDOW: Duration = Duration::from_secs(15 * 60);

pub fn hash_password(password: &str) -> AppResult<String> {
    if password.chars().count() < 8 {
        return Err(AppError::invalid(
            "password",
            "must be at least 8 characters",
        ));
    }
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A new random secret, URL-safe, with a prefix that says what it is.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a secret.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The sign-in throttle, kept in the database so that every Salon process behind a load
/// balancer counts the same failures: a fixed window per key (the account, the address). An
/// attempt reserves a hit before the password is checked, so that concurrent guesses cannot
/// slip past the limit together; a success gives its hits back.
const THROTTLE_WINDOW_MS: Millis = WINDOW.as_millis() as Millis;

/// Counters older than this are forgotten (now and then, by whoever signs in).
const RATE_KEEP_MS: Millis = 24 * 60 * 60 * 1000;

impl Salon {
    /// Counts an attempt on each key; refuses (counting nothing) when one is over the limit.
    async fn throttle_reserve(&self, keys: &[String], now: Millis) -> AppResult<()> {
        for k in keys {
            let c = self.repo.rate_peek(k, now, THROTTLE_WINDOW_MS).await?;
            if c.hits >= MAX_FAILURES {
                return Err(rate_limited(c.window_start, now));
            }
        }
        for (i, k) in keys.iter().enumerate() {
            let c = self.repo.rate_hit(k, now, THROTTLE_WINDOW_MS).await?;
            if c.hits > MAX_FAILURES {
                // Others got there first: give back what this attempt took.
                for taken in &keys[..=i] {
                    self.repo.rate_refund(taken).await?;
                }
                return Err(rate_limited(c.window_start, now));
            }
        }
        if rand::random::<u8>() == 0 {
            self.repo.rate_purge(now - RATE_KEEP_MS).await?;
        }
        Ok(())
    }
}

fn rate_limited(window_start: Millis, now: Millis) -> AppError {
    let left_ms = (window_start + THROTTLE_WINDOW_MS - now).max(0);
    AppError::RateLimited(u64::try_from(left_ms).unwrap_or(0).div_ceil(60_000).max(1))
}

/// How long an API token's actor is reused without reading the database again. A departure
/// or a role change clears the cache at once in the process that made it, and within a second
/// in the others (see `processes`); this bounds what a missed change could leave.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct TokenCache {
    map: Mutex<HashMap<Vec<u8>, (Instant, Actor)>>,
}

impl TokenCache {
    fn get(&self, hash: &[u8]) -> Option<Actor> {
        let map = self.map.lock().ok()?;
        map.get(hash)
            .filter(|(at, _)| at.elapsed() < TOKEN_CACHE_TTL)
            .map(|(_, a)| a.clone())
    }

    fn put(&self, hash: Vec<u8>, actor: &Actor) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= 10_000 {
                map.retain(|_, (at, _)| at.elapsed() < TOKEN_CACHE_TTL);
            }
            map.insert(hash, (Instant::now(), actor.clone()));
        }
    }

    /// Forgets every cached actor (after a change to staff).
    pub fn clear(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
    }
}

/// A new session, as handed to the browser.
pub struct NewSession {
    /// The cookie value. Only its hash is stored.
    pub cookie: String,
    pub csrf_token: String,
    pub actor: Actor,
}

impl Salon {
    /// The actor behind an API bearer token.
    pub async fn actor_for_token(&self, token: &str) -> AppResult<Actor> {
        let hash = secret_hash(token);
        if let Some(actor) = self.tokens.get(&hash) {
            if self.is_closed(&actor.brand) {
                return Err(AppError::Unauthenticated);
            }
            return Ok(actor);
        }
        let t = self
            .repo
            .api_token(&hash)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let brand = self
            .brand(t.brand_id)
            .await?
            .filter(|b| !self.is_closed(b))
            .ok_or(AppError::Unauthenticated)?;
        let user = match t.user_id {
            Some(u) => Some(
                self.repo
                    .user(brand.id, u)
                    .await?
                    .ok_or(AppError::Unauthenticated)?,
            ),
            None => None,
        };
        if user
            .as_ref()
            .is_some_and(|u| u.status != domain::UserStatus::Active)
        {
            return Err(AppError::Unauthenticated);
        }
        let store = t
            .store_id
            .or_else(|| user.as_ref().and_then(|u| u.store_id));
        let actor = Actor {
            brand,
            role: t.role,
            user,
            store,
        };
        self.tokens.put(hash, &actor);
        Ok(actor)
    }

    /// Creates an API token and returns it; it is shown once and stored only as a hash.
    pub async fn create_token(
        &self,
        brand_slug: &str,
        role: Role,
        user_email: Option<&str>,
        store_code: Option<&str>,
        label: &str,
    ) -> AppResult<String> {
        let brand = self
            .repo
            .brand_by_slug(brand_slug)
            .await?
            .ok_or(AppError::NotFound("brand"))?;
        let user = match user_email {
            Some(e) => Some(
                self.repo
                    .user_by_email(brand.id, e)
                    .await?
                    .ok_or(AppError::NotFound("user"))?,
            ),
            None => None,
        };
        let store: Option<StoreId> = match store_code {
            Some(c) => Some(
                self.repo
                    .store_by_code(brand.id, c)
                    .await?
                    .ok_or(AppError::NotFound("store"))?
                    .id,
            ),
            None => user.as_ref().and_then(|u| u.store_id),
        };
        if role == Role::Associate && user.is_none() {
            return Err(AppError::invalid(
                "user",
                "an associate token needs --user EMAIL (whose client book it reads)",
            ));
        }
        if role == Role::StoreManager && store.is_none() {
            return Err(AppError::invalid(
                "store",
                "a store manager token needs --store CODE or a user with a store",
            ));
        }
        let token = new_secret("salon_");
        let t = ApiToken {
            brand_id: brand.id,
            role,
            user_id: user.map(|u| u.id),
            store_id: store,
            label: label.to_owned(),
        };
        self.repo.create_api_token(&secret_hash(&token), &t).await?;
        Ok(token)
    }

    /// Signs a person in. Failures say nothing about which part was wrong.
    pub async fn login(
        &self,
        brand_slug: &str,
        email: &str,
        password: &str,
        address: &str,
    ) -> AppResult<NewSession> {
        let account_key = format!(
            "signin:acct:{}:{}",
            brand_slug.trim(),
            email.trim().to_lowercase()
        );
        let address_key = format!("signin:addr:{address}");
        let keys = [account_key.clone(), address_key.clone()];
        self.throttle_reserve(&keys, now_millis()).await?;
        let wrong = || AppError::Forbidden("wrong brand, e-mail or password".into());
        let found = async {
            let slug = Slug::parse("brand", brand_slug).ok()?;
            let brand = self
                .repo
                .brand_by_slug(slug.as_str())
                .await
                .ok()?
                .filter(|b| !self.is_closed(b))?;
            let user = self.repo.user_by_email(brand.id, email).await.ok()??;
            Some((brand, user))
        }
        .await;
        let ok = match &found {
            Some((_, user)) => {
                user.status == domain::UserStatus::Active
                    && user
                        .password_hash
                        .as_deref()
                        .is_some_and(|h| verify_password(password, h))
            }
            None => {
                // Spend the same time as a real check so that timing does not reveal accounts.
                let _ = verify_password(password, DUMMY_HASH);
                false
            }
        };
        let Some((brand, user)) = found.filter(|_| ok) else {
            // The reserved hits stay: they were failures.
            return Err(wrong());
        };
        self.repo.rate_clear(&account_key).await?;
        self.repo.rate_refund(&address_key).await?;
        let cookie = new_secret("");
        let csrf_token = new_secret("");
        let session = Session {
            brand_id: brand.id,
            user_id: user.id,
            csrf_token: csrf_token.clone(),
            expires_at: now_millis() + SESSION_TTL_MS,
        };
        self.repo
            .create_session(&secret_hash(&cookie), &session)
            .await?;
        let store = user.store_id;
        Ok(NewSession {
            cookie,
            csrf_token,
            actor: Actor {
                brand,
                role: user.role,
                store,
                user: Some(user),
            },
        })
    }

    /// The actor and CSRF token behind a session cookie.
    pub async fn actor_for_session(&self, cookie: &str) -> AppResult<(Actor, String)> {
        let s = self
            .repo
            .session(&secret_hash(cookie), now_millis())
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let brand = self
            .brand(s.brand_id)
            .await?
            .filter(|b| !self.is_closed(b))
            .ok_or(AppError::Unauthenticated)?;
        let user = self
            .repo
            .user(brand.id, s.user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if user.status != domain::UserStatus::Active {
            return Err(AppError::Unauthenticated);
        }
        let store = user.store_id;
        Ok((
            Actor {
                brand,
                role: user.role,
                store,
                user: Some(user),
            },
            s.csrf_token,
        ))
    }

    pub async fn logout(&self, cookie: &str) -> AppResult<()> {
        Ok(self.repo.delete_session(&secret_hash(cookie)).await?)
    }

    /// Sets a staff member's password (the CLI's `salon user password`).
    pub async fn set_password(&self, actor: &Actor, email: &str, password: &str) -> AppResult<()> {
        actor.require(Action::ManageAssociates)?;
        let user = self
            .repo
            .user_by_email(actor.brand.id, email)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let hash = hash_password(password)?;
        Ok(self
            .repo
            .set_password_hash(actor.brand.id, user.id, &hash)
            .await?)
    }
}

/// An argon2id hash of a random password, checked against when the account does not exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$3m9JNXnU2Y5rjq9iWPBKYrXz7b9q6hJ7Vn8nq2+Yd5g";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").expect("hash");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret("salon_");
        assert!(a.starts_with("salon_") && a.len() > 40);
        assert_ne!(a, new_secret("salon_"));
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_eq!(secret_hash(&a).len(), 32);
    }
}
