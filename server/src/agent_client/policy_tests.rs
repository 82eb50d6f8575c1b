//! The network policy on both transports (`closing` and reqwest), against real agents on
//! loopback addresses: a refused address is never connected to, whatever path the call
//! takes and whatever a name resolves to.

use super::policy::parse_network;
use super::*;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// An agent on `ip:port` (0: any) answering every request `{"status":"alive"}` and closing;
/// it counts the connections it accepted.
async fn agent_on(ip: &str, port: u16) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((ip, port)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if super::hostile_agents::read_head(&mut socket).await.is_none() {
                    return;
                }
                let body = br#"{"status":"alive"}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body).await;
            });
        }
    });
    (address, accepted)
}

/// A name server in the test: every name resolves to what `answer` holds now.
struct Answering {
    answer: Mutex<IpAddr>,
    asked: AtomicUsize,
}

#[async_trait::async_trait]
impl Lookup for Answering {
    async fn lookup(&self, _name: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(vec![SocketAddr::new(*self.answer.lock().unwrap(), port)])
    }
}

fn client(deny: &[&str], deny_names: bool, lookup: Arc<dyn Lookup>) -> AgentClient {
    let deny = deny.iter().map(|n| parse_network(n).unwrap()).collect();
    let policy = NetworkPolicy::new(vec![], deny, deny_names);
    AgentClient::new(ClientLimits::new(Duration::from_secs(2), 1024), Guard { policy: Arc::new(policy), lookup })
        .unwrap()
}

/// Every kind of call to `base`, on both transports: each reason, or "ok".
async fn every_call(client: &AgentClient, base: &str) -> Vec<String> {
    let base = AgentUrl::parse(base).unwrap();
    let reason = |r: Result<(), CallError>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    let probe = |p: Probe| p.reason.unwrap_or_else(|| "ok".into());
    let none = Outbound::none();
    vec![
        probe(client.check_health(&base, &none, false).await),
        probe(client.check_health(&base, &none, true).await),
        reason(client.fetch_schema(&base, &none).await.map(drop)),
        reason(client.start_run(&base, &none, &serde_json::json!({}), Duration::from_secs(2)).await.map(drop)),
        reason(client.job_status(&base, &none, "j1", Duration::from_secs(2)).await.map(drop)),
    ]
}

#[tokio::test]
async fn a_denied_address_is_never_connected_to_on_either_transport() {
    let (address, accepted) = agent_on("127.0.0.2", 0).await;
    let system: Arc<dyn Lookup> = Arc::new(SystemLookup);

    let open = client(&[], false, system.clone());
    assert_eq!(every_call(&open, &format!("http://{address}")).await, vec!["ok"; 5], "the agent answers");
    let before = accepted.load(Ordering::SeqCst);
    assert!(before >= 5, "{before} connections");

    let denied = client(&["127.0.0.2/32"], false, system);
    let port = address.port();
    for base in [format!("http://127.0.0.2:{port}"), format!("http://[::ffff:127.0.0.2]:{port}")] {
        for reason in every_call(&denied, &base).await {
            assert!(
                reason.starts_with("refused by the agent network policy:")
                    && reason.ends_with("is in --deny-agent-network 127.0.0.2/32"),
                "{base}: {reason}"
            );
        }
        let url = AgentUrl::parse(&base).unwrap();
        assert!(denied.admit(&url).await.is_err(), "registration refuses {base}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), before, "no connection reached the denied agent");
}

#[tokio::test]
async fn a_name_whose_answer_changes_cannot_bypass_the_policy() {
    let (allowed, _) = agent_on("127.0.0.1", 0).await;
    let (_, rebound) = agent_on("127.0.0.2", allowed.port()).await;
    let lookup = Arc::new(Answering { answer: Mutex::new(allowed.ip()), asked: AtomicUsize::new(0) });
    let client = client(&["127.0.0.2/32"], false, lookup.clone());
    let base = format!("http://agent.test:{}", allowed.port());

    assert!(client.admit(&AgentUrl::parse(&base).unwrap()).await.is_ok());
    assert_eq!(every_call(&client, &base).await, vec!["ok"; 5]);

    // The name now points at a denied address (DNS rebinding): each call looks it up again.
    *lookup.answer.lock().unwrap() = "127.0.0.2".parse().unwrap();
    let asked = lookup.asked.load(Ordering::SeqCst);
    for reason in every_call(&client, &base).await {
        assert_eq!(
            reason,
            "refused by the agent network policy: agent.test resolves to 127.0.0.2, which is in \
             --deny-agent-network 127.0.0.2/32"
        );
    }
    assert!(lookup.asked.load(Ordering::SeqCst) >= asked + 5, "both transports asked the lookup");
    assert!(client.admit(&AgentUrl::parse(&base).unwrap()).await.is_err());
    assert_eq!(rebound.load(Ordering::SeqCst), 0, "no connection reached the denied address");
}

#[tokio::test]
async fn with_deny_names_a_name_is_refused_before_any_lookup() {
    let (address, accepted) = agent_on("127.0.0.1", 0).await;
    let lookup = Arc::new(Answering { answer: Mutex::new(address.ip()), asked: AtomicUsize::new(0) });
    let client = client(&[], true, lookup.clone());
    for reason in every_call(&client, &format!("http://agent.test:{}", address.port())).await {
        assert!(reason.contains("agent.test is a host name and --deny-agent-names is set"), "{reason}");
    }
    assert_eq!(lookup.asked.load(Ordering::SeqCst), 0, "nothing was looked up");
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
    // Addresses still work.
    assert_eq!(every_call(&client, &format!("http://{address}")).await, vec!["ok"; 5]);
}
