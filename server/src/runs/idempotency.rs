//! Idempotency keys: the same request with a used key gets its run back, another request
//! with it is refused; "the same" is a hash over the agent and the inputs, keys sorted.

use crate::error::ServiceError;
use app::error::FieldError;
use app::model::{RunCreated, RunStatus};
use app::schema::secrets;
use sha2::{Digest, Sha256};

/// The run that already holds an idempotency key: the same request gets it back, another
/// request is refused.
pub(super) fn replay(
    holder: crate::entities::runs::Model,
    request_hash: Option<&str>,
    agent_id: &str,
) -> Result<RunCreated, ServiceError> {
    if holder.request_hash.as_deref() == request_hash && holder.agent_id == agent_id {
        let status = crate::entities::stored::run_status(&holder.run_id, &holder.status).unwrap_or(RunStatus::Failed);
        return Ok(RunCreated { run_id: holder.run_id, status });
    }
    Err(ServiceError::Invalid(vec![FieldError::new(
        "idempotency_key",
        format!(
            "This Idempotency-Key was already used for run {} with another request; use a new key for new inputs",
            holder.run_id
        ),
    )]))
}

/// The hash of `inputs` as `holder` stored its request: with its withheld secrets
/// masked, since that is what its hash was taken over. `None` when it withheld nothing.
pub(super) fn comparable_hash(
    holder: &crate::entities::runs::Model,
    agent_id: &str,
    inputs: &serde_json::Value,
) -> Option<String> {
    let withheld: Vec<String> =
        holder.withheld.clone().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    if withheld.is_empty() {
        return None;
    }
    let mut masked = inputs.clone();
    secrets::replace_at(&mut masked, &withheld, &serde_json::Value::String(secrets::MASK.to_owned()));
    Some(request_hash(agent_id, &masked))
}

/// What makes two creations "the same request" for an idempotency key.
pub(super) fn request_hash(agent_id: &str, inputs: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(agent_id.as_bytes());
    hasher.update([0]);
    // Keys sorted: maps keep their sender's order (preserve_order), and the same inputs
    // sent in another order are the same request.
    hasher.update(canonical(inputs).to_string().as_bytes());
    hasher.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The value with every object's keys in sorted order.
fn canonical(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_inputs_in_another_key_order_are_the_same_request() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": 2}}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a": {"x": 2, "y": [1, {"p": 2, "q": 1}]}, "b": 1}"#).unwrap();
        assert_eq!(request_hash("agent", &a), request_hash("agent", &b));
        assert_ne!(request_hash("agent", &a), request_hash("other", &a));
        let c: serde_json::Value =
            serde_json::from_str(r#"{"a": {"x": 2, "y": [{"p": 2, "q": 1}, 1]}, "b": 1}"#).unwrap();
        assert_ne!(request_hash("agent", &a), request_hash("agent", &c), "array order matters");
    }
    #[test]
    fn the_same_request_hashes_the_same() {
        let a = request_hash("a", &serde_json::json!({"x": 1, "y": [1, 2]}));
        let b = request_hash("a", &serde_json::from_str(r#"{"y":[1,2],"x":1}"#).unwrap());
        assert_eq!(a, b);
        assert_ne!(a, request_hash("b", &serde_json::json!({"x": 1, "y": [1, 2]})));
        assert_ne!(a, request_hash("a", &serde_json::json!({"x": 2, "y": [1, 2]})));
    }
}
