//! Bearer tokens with scopes.
//!
//! A token is a random secret (`brg_` + 64 hex digits) shown once when
//! created; the store keeps only its SHA-256. A request's token is hashed and
//! looked up, and the stored hash is compared with the computed one in
//! constant time (`subtle`). Verified tokens are cached in memory so the
//! decision path does not touch the database after the first request; the
//! cache is dropped when the store's tokens change (see [`Authenticator`]).
//! A token may expire; a revoked one stays listed but is refused.
//!
//! Scopes: `ingest` (events, webhooks), `decide` (decisions and the OPA data
//! API), `read` (everything under `GET`), `admin` (all of them).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bearing_store::{DynStore, TokenRecord};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Ingest,
    Decide,
    Read,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Ingest, Scope::Decide, Scope::Read, Scope::Admin];
    pub fn name(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Decide => "decide",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// Who may call the API without a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Every request needs a token with the right scope.
    Tokens,
    /// `GET` requests (dashboard and read API) need no token; everything else does.
    AnonymousRead,
    /// No checks at all (`--no-auth`, loopback only).
    Off,
}

/// A new token: the record to store and the secret to show once.
pub struct NewToken {
    pub record: TokenRecord,
    pub secret: String,
}

/// SHA-256 of a secret, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a token with a fresh random secret.
pub fn new_token(name: &str, scopes: &[Scope]) -> std::io::Result<NewToken> {
    new_token_expiring(name, scopes, None)
}

/// [`new_token`] that the server refuses from `expires_at` on.
pub fn new_token_expiring(
    name: &str,
    scopes: &[Scope],
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> std::io::Result<NewToken> {
    let mut bytes = [0u8; 32];
    getrandom(&mut bytes)?;
    let secret = format!("brg_{}", hex::encode(bytes));
    let hash = hash_secret(&secret);
    let now = chrono::Utc::now();
    Ok(NewToken {
        record: TokenRecord {
            id: format!("tok_{}", &hash[..12]),
            name: name.to_string(),
            hash,
            scopes: scopes.iter().map(|s| s.name().to_string()).collect(),
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        },
        secret,
    })
}

/// Random bytes from the operating system.
fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// How often, at most, a server asks the store whether any token changed
/// (created, revoked, deleted, given another expiry) before it trusts its
/// cache: a revoked token is refused by every replica within this time.
pub const TOKEN_RECHECK: Duration = Duration::from_millis(100);

/// How often, at most, a server records that a token was used.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A verified token in the cache.
struct Cached {
    record: Arc<TokenRecord>,
    /// When this server last recorded the token's use in the store.
    touched: Option<Instant>,
}

/// Checks requests' bearer tokens against the store.
///
/// Verified tokens are cached by hash, so the decision path does not query
/// the store for each request. The cache is dropped whenever the store's
/// [`Store::token_generation`](bearing_store::Store::token_generation)
/// changes, which the authenticator reads at most every `recheck` (one
/// short query, shared by the requests arriving meanwhile): a revoked or
/// deleted token is refused on every replica within `recheck`. Expiry is
/// checked on every request. While the store cannot answer, the cache is
/// kept (no revocation can be written to it then either).
pub struct Authenticator {
    mode: AuthMode,
    store: DynStore,
    cache: RwLock<HashMap<String, Cached>>,
    recheck: Duration,
    /// Milliseconds after `epoch` of the last generation check.
    checked: AtomicU64,
    epoch: Instant,
    generation: tokio::sync::Mutex<Option<String>>,
}

impl Authenticator {
    pub fn new(mode: AuthMode, store: DynStore) -> Self {
        Authenticator::with_recheck(mode, store, TOKEN_RECHECK)
    }

    pub fn with_recheck(mode: AuthMode, store: DynStore, recheck: Duration) -> Self {
        Authenticator {
            mode,
            store,
            cache: RwLock::new(HashMap::new()),
            recheck,
            checked: AtomicU64::new(0),
            epoch: Instant::now(),
            generation: tokio::sync::Mutex::new(None),
        }
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Ok when the request may proceed with `scope`.
    pub async fn check(
        &self,
        headers: &HeaderMap,
        scope: Scope,
        is_read: bool,
    ) -> Result<(), ApiError> {
        match self.mode {
            AuthMode::Off => return Ok(()),
            AuthMode::AnonymousRead if is_read => return Ok(()),
            _ => {}
        }
        let Some(secret) = bearer(headers) else {
            return Err(ApiError::unauthorized(format!(
                "this endpoint needs a bearer token with the `{}` scope (`Authorization: Bearer …`; create one with `bearing token create --scope {}`)",
                scope.name(),
                scope.name()
            )));
        };
        let hash = hash_secret(secret);
        let record = self.lookup(&hash).await?;
        let Some(record) = record else {
            return Err(ApiError::unauthorized("unknown or revoked token"));
        };
        let now = chrono::Utc::now();
        if record.revoked_at.is_some() {
            return Err(ApiError::unauthorized(format!(
                "token `{}` was revoked",
                record.id
            )));
        }
        if let Some(at) = record.expires_at.filter(|at| now >= *at) {
            return Err(ApiError::unauthorized(format!(
                "token `{}` expired at {}; create a new one with `bearing token create`",
                record.id,
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )));
        }
        let has = record
            .scopes
            .iter()
            .any(|s| s == scope.name() || s == Scope::Admin.name());
        if !has {
            return Err(ApiError::forbidden(format!(
                "token `{}` lacks the `{}` scope (it has: {})",
                record.name,
                scope.name(),
                record.scopes.join(", ")
            )));
        }
        Ok(())
    }

    /// Drops the cache if the store's tokens changed since the last check,
    /// asking the store at most every `recheck`.
    async fn revalidate(&self) {
        let elapsed = |a: &AtomicU64| {
            let now = self.epoch.elapsed().as_millis() as u64;
            Duration::from_millis(now.saturating_sub(a.load(Ordering::Acquire)))
        };
        let fresh = |a: &AtomicU64| a.load(Ordering::Acquire) != 0 && elapsed(a) < self.recheck;
        if fresh(&self.checked) {
            return;
        }
        let mut known = self.generation.lock().await;
        // Another request may have checked while this one waited.
        if fresh(&self.checked) {
            return;
        }
        match self.store.token_generation().await {
            Ok(current) => {
                if known.as_ref() != Some(&current) {
                    if let Ok(mut c) = self.cache.write() {
                        c.clear();
                    }
                    *known = Some(current);
                }
                let now = (self.epoch.elapsed().as_millis() as u64).max(1);
                self.checked.store(now, Ordering::Release);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot check the tokens for changes; using the cache")
            }
        }
    }

    async fn lookup(&self, hash: &str) -> Result<Option<Arc<TokenRecord>>, ApiError> {
        self.revalidate().await;
        let (cached, touch) = match self.cache.read() {
            Ok(c) => match c.get(hash) {
                Some(entry) => (
                    Some(entry.record.clone()),
                    entry.touched.is_none_or(|t| t.elapsed() >= TOUCH_EVERY),
                ),
                None => (None, false),
            },
            Err(_) => (None, false),
        };
        let (record, fresh) = match cached {
            Some(r) => (Some(r), false),
            None => (self.store.token_by_hash(hash).await?.map(Arc::new), true),
        };
        // The store found the token by its hash; compare in constant time all the same
        // so no timing difference depends on how much of the hash matched.
        let Some(record) = record.filter(|r| bool::from(r.hash.as_bytes().ct_eq(hash.as_bytes())))
        else {
            return Ok(None);
        };
        if (fresh || touch) && record.is_active(chrono::Utc::now()) {
            if let Ok(mut c) = self.cache.write() {
                c.insert(
                    hash.to_string(),
                    Cached {
                        record: record.clone(),
                        touched: Some(Instant::now()),
                    },
                );
            }
            // Recorded in the background: a slow store does not slow the request.
            let (store, id) = (self.store.clone(), record.id.clone());
            tokio::spawn(async move {
                if let Err(e) = store.touch_token(&id, chrono::Utc::now()).await {
                    tracing::debug!(error = %e, "cannot record the token's use");
                }
            });
        }
        Ok(Some(record))
    }
}

/// What a route needs: a scope, and whether it is a read (open to anyone
/// under [`AuthMode::AnonymousRead`]); `None` for the routes anyone may call.
/// A route not listed here needs `read` for `GET` and `admin` otherwise, so a
/// new route is never open by mistake.
pub fn requirement(method: &Method, route: &str) -> Option<(Scope, bool)> {
    match route {
        "/healthz" | "/readyz" | "/openapi.json" => None,
        // Checked by its own signature.
        "/v1/webhooks/github" => None,
        "/v1/events" => Some((Scope::Ingest, false)),
        "/v1/decide" | "/v1/data" | "/v1/data/{*path}" => Some((Scope::Decide, false)),
        _ if method == Method::GET || method == Method::HEAD => Some((Scope::Read, true)),
        _ => Some((Scope::Admin, false)),
    }
}

/// Checks the token before anything reads the body, so an unauthenticated
/// caller learns nothing from the parser and costs no parsing. Routes
/// that do not exist pass through (to their 404).
pub async fn authorize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let need = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|route| requirement(req.method(), route.as_str()));
    if let Some((scope, is_read)) = need
        && let Err(e) = state.inner.auth.check(req.headers(), scope, is_read).await
    {
        return e.into_response();
    }
    next.run(req).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token("ci", &[Scope::Decide]).unwrap();
        let b = new_token("ci", &[Scope::Decide]).unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("brg_") && a.secret.len() == 68);
        assert_eq!(a.record.hash, hash_secret(&a.secret));
        assert!(!a.record.hash.contains(&a.secret));
        assert_eq!(a.record.scopes, vec!["decide"]);
    }

    #[test]
    fn bearer_header_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert("authorization", "bearer  xyz ".parse().unwrap());
        assert_eq!(bearer(&h), Some("xyz"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
