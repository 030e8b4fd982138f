//! OPA's data API, `POST /v1/data/{path}`: `{"input": …}` → `{"result": …}`
//! (`{}` when the document is undefined), answered from the same decision
//! path as `POST /v1/decide`, so both give one answer for one change:
//!
//! - `data.bearing.decision` is the decision `/v1/decide` makes on `input`
//!   (an envelope), checked, evaluated and logged the same way; a path below
//!   it selects part of it (`bearing/decision/result`);
//! - `data.bearing.plans` and `data.bearing.outcomes` are the delivery plans
//!   (the intent's default for a service reconcile has not planned) and the
//!   live outcomes of the current snapshot, as custom policies read them;
//! - any other path is evaluated on the built-in guardrails' Rego modules,
//!   on the evaluation pool.

use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{ApiError, echo};

/// The answer to `POST /v1/data/{path}` for `input`.
pub async fn answer(state: &AppState, path: &str, input: Value) -> Result<Value, ApiError> {
    let trimmed = path.trim_matches('/');
    let segments: Vec<&str> = if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    };
    let valid = segments.iter().all(|seg| {
        seg.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if !valid {
        return Err(ApiError::bad_request(format!(
            "invalid data path `{}`: expected Rego names separated by `/`, e.g. `bearing/decision`",
            echo(path)
        )));
    }
    match segments.as_slice() {
        ["bearing", "decision", rest @ ..] => {
            let decision = decide(state, input, true).await?.unwrap_or(Value::Null);
            Ok(result(select(&decision, rest)))
        }
        ["bearing", "plans", rest @ ..] => Ok(result(select(&plans(state), rest))),
        ["bearing", "outcomes", rest @ ..] => Ok(result(select(&outcomes(state), rest))),
        // The whole document, or `data.bearing`: Rego's, with the live parts.
        [] | ["bearing"] => {
            let decision = decide(state, input.clone(), false).await?;
            let mut doc = rego(state, trimmed, input).await?;
            let bearing = match segments.len() {
                0 => doc
                    .get_mut("result")
                    .and_then(Value::as_object_mut)
                    .map(|m| m.entry("bearing").or_insert_with(|| json!({}))),
                _ => doc.get_mut("result"),
            };
            if let Some(Value::Object(b)) = bearing {
                b.insert("plans".into(), plans(state));
                b.insert("outcomes".into(), outcomes(state));
                match decision {
                    Some(d) => b.insert("decision".into(), d),
                    None => b.remove("decision"),
                };
            }
            Ok(doc)
        }
        _ => rego(state, trimmed, input).await,
    }
}

/// `{"result": v}`, or `{}` when undefined.
fn result(v: Option<&Value>) -> Value {
    v.map_or_else(|| json!({}), |v| json!({ "result": v }))
}

/// The part of `v` at `path` (object keys, array indexes).
fn select<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, seg| match v {
        Value::Object(m) => m.get(*seg),
        Value::Array(a) => a.get(seg.parse::<usize>().ok()?),
        _ => None,
    })
}

/// The decision `/v1/decide` makes on `input`. With `required`, an input
/// that is not an envelope for a known service is refused as `/v1/decide`
/// refuses it; without, it has no decision.
async fn decide(state: &AppState, input: Value, required: bool) -> Result<Option<Value>, ApiError> {
    let envelope: bearing_guard::Envelope = match serde_json::from_value(input) {
        Ok(e) => e,
        Err(e) if required => {
            return Err(ApiError::invalid(format!(
                "`input` is not a change envelope: {e}"
            )));
        }
        Err(_) => return Ok(None),
    };
    if !required && state.check_target(&envelope).is_err() {
        return Ok(None);
    }
    let decided = state.decide(envelope).await?;
    serde_json::from_slice(&decided.json)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("cannot read the decision back: {e}")))
}

/// Every service's delivery plan: reconcile's, else the intent's default.
fn plans(state: &AppState) -> Value {
    let snap = state.snapshot();
    let mut plans = Map::new();
    for s in &state.loop_().intent().services {
        let plan = match snap.context.plans.get(&s.id) {
            Some(p) => serde_json::to_value(p).unwrap_or(Value::Null),
            None => {
                let strategy = s.delivery.as_ref().map(|d| d.strategy).unwrap_or_default();
                json!({"service": s.id, "strategy": strategy.name(), "freeze": false, "extra_gates": [], "reasons": ["intent"]})
            }
        };
        plans.insert(s.id.clone(), plan);
    }
    Value::Object(plans)
}

fn outcomes(state: &AppState) -> Value {
    match &state.snapshot().context.outcomes {
        Value::Null => json!({}),
        o => o.clone(),
    }
}

/// `data.<path>` of the built-in modules, on the evaluation pool.
async fn rego(state: &AppState, path: &str, input: Value) -> Result<Value, ApiError> {
    let s = state.clone();
    let path = path.to_string();
    state.evaluate(move || s.loop_().data(&path, input)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_walks_objects_and_arrays() {
        let v = json!({"a": {"b": [1, {"c": 2}]}});
        assert_eq!(select(&v, &[]), Some(&v));
        assert_eq!(select(&v, &["a", "b", "1", "c"]), Some(&json!(2)));
        assert_eq!(select(&v, &["a", "x"]), None);
        assert_eq!(select(&v, &["a", "b", "x"]), None);
        assert_eq!(result(None), json!({}));
    }
}
