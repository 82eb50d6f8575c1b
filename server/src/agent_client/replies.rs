//! What an agent's `/run` and `/status/{job_id}` answers mean, as the agent protocol
//! describes them (docs in the shared agent-protocol notes): pure functions, so every
//! shape real agents send is tested without a network.

use super::{status_text, truncate, Answer};
use app::error::FieldError;
use serde_json::{Map, Value};

/// The longest job ID accepted from an agent (it goes into a URL path).
const MAX_JOB_ID: usize = 256;

#[derive(Clone, Debug, PartialEq)]
pub enum RunReply {
    /// The work is done: `outputs`, and what it cost when the agent says.
    Done { outputs: Value, total_tokens: Option<u64>, cost_usd: Option<f64> },
    /// Long work: poll `/status/{job_id}`.
    Async { job_id: String },
    /// The agent refused or failed; `fields` holds its per-input complaints (a 422).
    Failed { error: String, fields: Vec<FieldError> },
}

#[derive(Clone, Debug, PartialEq)]
pub enum JobReply {
    Pending,
    /// The agent (or a proxy before it) could not answer just now (5xx, 429): ask again.
    Unavailable(String),
    Finished(RunReply),
}

/// Judges a `POST /run` answer.
pub fn judge_run_answer(answer: &Answer) -> RunReply {
    let body = match parse_object(answer) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    if let Some(reply) = http_failure(answer, &body) {
        return reply;
    }
    match body.get("status").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("async") => match body.get("job_id") {
            Some(Value::String(id)) if valid_job_id(id) => RunReply::Async { job_id: id.clone() },
            Some(Value::Number(n)) => RunReply::Async { job_id: n.to_string() },
            _ => failed("the agent answered \"async\" without a usable job_id"),
        },
        Some("error" | "failed" | "failure") => failed(&agent_message(&body, "the agent reported a failure")),
        _ => done(&body),
    }
}

/// Judges a `GET /status/{job_id}` answer.
pub fn judge_job_status(job_id: &str, answer: &Answer) -> JobReply {
    if answer.status == reqwest::StatusCode::NOT_FOUND {
        return JobReply::Finished(failed(&format!("the agent no longer knows job {job_id} (it may have restarted)")));
    }
    if answer.status.is_server_error() || answer.status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return JobReply::Unavailable(format!("it answered {}", status_text(answer.status)));
    }
    let body = match parse_object(answer) {
        Ok(body) => body,
        Err(reply) => return JobReply::Finished(reply),
    };
    if let Some(reply) = http_failure(answer, &body) {
        return JobReply::Finished(reply);
    }
    match body.get("status").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("pending" | "running" | "queued" | "in_progress" | "started") => JobReply::Pending,
        Some("completed" | "succeeded" | "success" | "done") => JobReply::Finished(done(&body)),
        Some("failed" | "error" | "cancelled" | "canceled") => {
            JobReply::Finished(failed(&agent_message(&body, "the agent reported that the job failed")))
        }
        Some(other) => JobReply::Finished(failed(&format!(
            "the agent reported job status {:?}, which the dashboard does not know",
            truncate(other, 40)
        ))),
        None => JobReply::Finished(failed("the agent's status answer has no \"status\"")),
    }
}

fn failed(error: &str) -> RunReply {
    RunReply::Failed { error: error.to_owned(), fields: Vec::new() }
}

fn parse_object(answer: &Answer) -> Result<Map<String, Value>, RunReply> {
    match serde_json::from_slice::<Value>(&answer.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) if answer.status.is_success() => Err(failed("the agent's answer is not a JSON object")),
        Ok(_) => Ok(Map::new()),
        Err(e) if answer.status.is_success() => Err(failed(&super::not_json("the agent's answer", &e))),
        Err(_) => {
            let text = String::from_utf8_lossy(&answer.body);
            let text = text.trim();
            Err(failed(&if text.is_empty() {
                format!("the agent answered {}", status_text(answer.status))
            } else {
                format!("the agent answered {}: {}", status_text(answer.status), truncate(text, 300))
            }))
        }
    }
}

/// A non-2xx answer: FastAPI's 422 becomes per-field errors, others a message.
fn http_failure(answer: &Answer, body: &Map<String, Value>) -> Option<RunReply> {
    if answer.status.is_success() {
        return None;
    }
    let status = status_text(answer.status);
    if let Some(Value::Array(details)) = body.get("detail") {
        let fields: Vec<FieldError> = details.iter().take(100).filter_map(field_error).collect();
        let listed = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ");
        let error = if fields.is_empty() {
            format!("the agent refused the inputs ({status})")
        } else {
            format!("the agent refused the inputs ({status}): {}", truncate(&listed, 500))
        };
        return Some(RunReply::Failed { error, fields });
    }
    let detail = agent_message(body, "");
    Some(failed(&if detail.is_empty() {
        format!("the agent answered {status}")
    } else {
        format!("the agent answered {status}: {detail}")
    }))
}

/// One FastAPI validation detail: `{"loc": ["body", "topic"], "msg": "Field required"}`
/// becomes a FieldError on `/topic`.
fn field_error(detail: &Value) -> Option<FieldError> {
    let msg = detail.get("msg").and_then(Value::as_str)?;
    let loc = detail.get("loc").and_then(Value::as_array).cloned().unwrap_or_default();
    let parts: Vec<String> = loc
        .iter()
        .skip_while(|p| p.as_str() == Some("body"))
        .map(|p| match p {
            Value::String(s) => s.replace('~', "~0").replace('/', "~1"),
            other => other.to_string(),
        })
        .collect();
    let path = if parts.is_empty() { "/".to_owned() } else { format!("/{}", parts.join("/")) };
    Some(FieldError::new(&path, truncate(msg, 300)))
}

/// The agent's own words: `error`, `detail` or `message`, whichever it sent.
fn agent_message(body: &Map<String, Value>, fallback: &str) -> String {
    for key in ["error", "detail", "message"] {
        match body.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => return truncate(s.trim(), 1000),
            Some(v @ (Value::Object(_) | Value::Array(_))) => return truncate(&v.to_string(), 1000),
            _ => {}
        }
    }
    fallback.to_owned()
}

fn done(body: &Map<String, Value>) -> RunReply {
    let outputs = match body.get("outputs").or_else(|| body.get("output")).or_else(|| body.get("result")) {
        Some(v) => v.clone(),
        // No outputs field: the whole answer is what the agent produced.
        None => Value::Object(body.clone()),
    };
    let metrics = |key: &str| body.get(key).or_else(|| outputs.get(key)).cloned();
    RunReply::Done {
        total_tokens: metrics("total_tokens").and_then(|v| v.as_u64()),
        cost_usd: metrics("cost_usd")
            .or_else(|| metrics("total_cost_usd"))
            .and_then(|v| v.as_f64())
            .filter(|c| c.is_finite()),
        outputs,
    }
}

fn valid_job_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_JOB_ID && id != "." && id != ".." && !id.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use serde_json::json;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status: StatusCode::from_u16(status).unwrap(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn a_sync_answer_carries_outputs_and_costs() {
        let reply = judge_run_answer(&answer(
            200,
            r#"{"status":"success","outputs":{"result":"hi"},"execution_time_ms":5,"total_tokens":42,"cost_usd":0.01}"#,
        ));
        assert_eq!(
            reply,
            RunReply::Done { outputs: json!({"result": "hi"}), total_tokens: Some(42), cost_usd: Some(0.01) }
        );
        let bare = judge_run_answer(&answer(200, r#"{"answer": 1}"#));
        assert_eq!(bare, RunReply::Done { outputs: json!({"answer": 1}), total_tokens: None, cost_usd: None });
    }

    #[test]
    fn async_answers_name_their_job() {
        assert_eq!(
            judge_run_answer(&answer(200, r#"{"status":"async","job_id":"j-1","message":"started"}"#)),
            RunReply::Async { job_id: "j-1".into() }
        );
        assert_eq!(
            judge_run_answer(&answer(202, r#"{"status":"async","job_id":7}"#)),
            RunReply::Async { job_id: "7".into() }
        );
        for bad in [r#"{"status":"async"}"#, r#"{"status":"async","job_id":".."}"#, r#"{"status":"async","job_id":""}"#]
        {
            assert!(matches!(judge_run_answer(&answer(200, bad)), RunReply::Failed { .. }), "{bad}");
        }
    }

    #[test]
    fn fastapi_422_becomes_field_errors() {
        let reply = judge_run_answer(&answer(
            422,
            r#"{"detail":[{"loc":["body","topic"],"msg":"Field required","type":"missing"},{"loc":["body","items",2,"name"],"msg":"bad","type":"x"}]}"#,
        ));
        let RunReply::Failed { error, fields } = reply else { panic!("failed expected") };
        assert_eq!(fields, vec![FieldError::new("/topic", "Field required"), FieldError::new("/items/2/name", "bad")]);
        assert!(error.contains("HTTP 422") && error.contains("/topic: Field required"), "{error}");
    }

    #[test]
    fn failures_say_what_the_agent_said() {
        let failed_with = |a: Answer| match judge_run_answer(&a) {
            RunReply::Failed { error, .. } => error,
            other => panic!("failure expected, got {other:?}"),
        };
        assert_eq!(
            failed_with(answer(500, r#"{"detail":"model overloaded"}"#)),
            "the agent answered HTTP 500 Internal Server Error: model overloaded"
        );
        assert_eq!(
            failed_with(answer(502, "<html>bad gateway</html>")),
            "the agent answered HTTP 502 Bad Gateway: <html>bad gateway</html>"
        );
        assert_eq!(failed_with(answer(503, "")), "the agent answered HTTP 503 Service Unavailable");
        assert_eq!(failed_with(answer(200, "<html>")), "the agent's answer is not JSON (line 1, column 1)");
        assert_eq!(failed_with(answer(200, "[1,2]")), "the agent's answer is not a JSON object");
        assert_eq!(failed_with(answer(200, r#"{"status":"error","error":"no key"}"#)), "no key");
    }

    #[test]
    fn job_statuses_are_followed_to_the_end() {
        assert_eq!(judge_job_status("j", &answer(200, r#"{"job_id":"j","status":"pending"}"#)), JobReply::Pending);
        assert_eq!(judge_job_status("j", &answer(200, r#"{"job_id":"j","status":"running"}"#)), JobReply::Pending);
        assert_eq!(
            judge_job_status(
                "j",
                &answer(200, r#"{"job_id":"j","status":"completed","outputs":{"x":1},"total_tokens":3}"#)
            ),
            JobReply::Finished(RunReply::Done { outputs: json!({"x": 1}), total_tokens: Some(3), cost_usd: None })
        );
        assert_eq!(
            judge_job_status("j", &answer(200, r#"{"job_id":"j","status":"failed","error":"boom"}"#)),
            JobReply::Finished(failed("boom"))
        );
        let JobReply::Finished(RunReply::Failed { error, .. }) =
            judge_job_status("j", &answer(404, r#"{"detail":"Job j not found"}"#))
        else {
            panic!()
        };
        assert!(error.contains("no longer knows job j"));
        assert!(matches!(
            judge_job_status("j", &answer(200, r#"{"status":"weird"}"#)),
            JobReply::Finished(RunReply::Failed { .. })
        ));
        // A restarting agent or its proxy: asked again, not failed.
        assert_eq!(
            judge_job_status("j", &answer(503, "")),
            JobReply::Unavailable("it answered HTTP 503 Service Unavailable".into())
        );
        assert!(matches!(judge_job_status("j", &answer(429, "{}")), JobReply::Unavailable(_)));
        assert!(matches!(judge_job_status("j", &answer(400, "{}")), JobReply::Finished(RunReply::Failed { .. })));
    }
}
