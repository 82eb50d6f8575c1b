//! `discover --mdns` finds an agent that announces itself (`test-agent --announce`), run
//! inside a network namespace this test creates (`unshare -rn`), whose only interface is
//! its own loopback: no multicast ever leaves it, and no real interface is touched. Where
//! no namespace can be made the test says so and why, and checks nothing else.

use serde_json::Value;

/// The dashboard, the announcing agent and the command line, all in the namespace. The
/// wait for the dashboard is a poll of its status, not a fixed sleep.
const SCRIPT: &str = r#"
set -eu
ip link set lo up
# Multicast on this namespace's own loopback, where the announcement and the browse meet.
ip link set lo multicast on
dir=$(mktemp -d)
"$BIN" ui --port 18001 --database-url "sqlite://$dir/d.db" --leptos-config none.toml >"$dir/ui.log" 2>&1 &
ui=$!
"$BIN" test-agent --port 18002 --agent-id announced --name "Announced Agent" --announce >"$dir/agent.log" 2>&1 &
agent=$!
trap 'kill $ui $agent 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
i=0
until "$BIN" status --url http://127.0.0.1:18001 >/dev/null 2>&1; do
  i=$((i+1)); [ $i -lt 300 ] || { echo "the dashboard did not start" >&2; cat "$dir/ui.log" >&2; exit 1; }
  sleep 0.1
done
"$BIN" discover --url http://127.0.0.1:18001 --mdns --for 2s --json
"#;

fn namespace_unavailable() -> Option<String> {
    match std::process::Command::new("unshare").args(["-rn", "ip", "link", "set", "lo", "up"]).output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        Err(e) => Some(format!("unshare: {e}")),
    }
}

#[tokio::test]
async fn an_announcing_agent_is_found_over_mdns_inside_a_namespace() {
    if let Some(reason) = namespace_unavailable() {
        eprintln!(
            "SKIPPED mDNS discovery: no network namespace can be made here ({reason}); it never runs outside one"
        );
        return;
    }
    let output = tokio::process::Command::new("unshare")
        .args(["-rn", "sh", "-c", SCRIPT])
        .env("BIN", env!("CARGO_BIN_EXE_configurable-agents"))
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let candidates = report["candidates"].as_array().unwrap();
    let found = candidates.iter().find(|c| c["agent_id"] == "announced").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(found["agent_name"], "Announced Agent");
    assert_eq!(found["agent_url"], "http://127.0.0.1:18002");
    assert_eq!(found["answered"], "agent", "probed at the announced address: {found}");
}
