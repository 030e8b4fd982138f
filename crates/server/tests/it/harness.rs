//! A server on a temporary SQLite store with a small intent, and helpers to
//! send requests and read JSON answers.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bearing_server::{AppState, AuthMode, Options, app};
use bearing_store::DynStore;
use serde_json::Value;
use tower::ServiceExt;

pub const INTENT: &str = r#"
version: 1
organisation: Test Org
teams:
  - { id: payments }
services:
  - id: checkout
    team: payments
    environments: [staging, production]
    cost: { match: { tags: { service: checkout } }, monthly_budget: 1000 USD }
  - id: search
    team: payments
    environments: [production]
objectives:
  - id: faster
    title: Ship often
    layer: engineering
    key_results:
      - { metric: dora.deployment_frequency, target: ">= 1/week", window: 30d }
guardrails:
  - { id: strategy, kind: deploy_strategy, protects: faster }
  - { id: freeze, kind: error_budget, params: { exempt_labels: [hotfix] } }
"#;

pub struct Server {
    pub state: AppState,
    pub store: DynStore,
    /// The SQLite file behind `store`.
    pub db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

pub async fn server(auth: AuthMode) -> Server {
    server_with(auth, INTENT, Options::default()).await
}

pub async fn server_with(auth: AuthMode, intent: &str, mut options: Options) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bearing.db");
    let store = bearing_store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let loaded = bearing_intent::load_str(Path::new("bearing.yaml"), intent).unwrap();
    options.auth = auth;
    let state = AppState::new(store.clone(), loaded, options).await.unwrap();
    Server {
        state,
        store,
        db,
        _dir: dir,
    }
}

/// Stores a token with the given scopes and returns its secret.
pub async fn token(store: &DynStore, scopes: &[bearing_server::Scope]) -> String {
    let t = bearing_server::auth::new_token("test", scopes).unwrap();
    store.put_token(&t.record).await.unwrap();
    t.secret
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

pub async fn send(state: &AppState, req: Request<Body>) -> Reply {
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 64 << 20)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

pub fn post(
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut b = Request::post(path).header("content-type", content_type);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(body.into()).unwrap()
}

/// The error body every failure has.
pub fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    let v = r.json();
    assert_eq!(v["error"]["code"], code, "{}", r.text);
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(v["error"].get("details").is_some());
}
