//! The old registry's payload and the address rule, case by case.
use super::*;
use serde_json::json;

struct Fixed(bool);

#[async_trait::async_trait]
impl Resolver for Fixed {
    async fn resolves(&self, _: &str) -> bool {
        self.0
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn old(host: &str, port: i64) -> SelfRegister {
    SelfRegister {
        agent_id: "research agent é1".into(),
        agent_name: "Research".into(),
        host: Some(host.into()),
        port: Some(port),
        metadata: json!("{\"team\": \"a\"}"),
        ..Default::default()
    }
}

async fn url_for(request: &SelfRegister, peer: &str, resolves: bool) -> (String, Option<String>) {
    let reg = parse(request, ip(peer), &NetworkPolicy::default(), &Fixed(resolves)).await.unwrap();
    (reg.agent_url.as_str().to_owned(), reg.address_note)
}

#[tokio::test]
async fn the_old_payload_is_taken_as_it_is() {
    let reg = parse(&old("127.0.0.1", 8000), ip("127.0.0.1"), &NetworkPolicy::default(), &Fixed(true)).await.unwrap();
    assert_eq!(reg.agent_id.as_str(), "research agent é1");
    assert_eq!(reg.agent_url.as_str(), "http://127.0.0.1:8000");
    assert_eq!(reg.ttl_seconds, DEFAULT_TTL);
    assert_eq!(reg.metadata["team"], "a");
    assert_eq!(reg.address_note, None);
}

#[tokio::test]
async fn unspecified_and_foreign_loopback_hosts_become_the_callers_address() {
    assert_eq!(url_for(&old("0.0.0.0", 8000), "127.0.0.1", true).await.0, "http://127.0.0.1:8000");
    assert_eq!(url_for(&old("::", 8000), "::1", true).await.0, "http://[::1]:8000");
    // From another machine, its loopback is not ours.
    let (url, note) = url_for(&old("127.0.0.1", 9000), "10.1.2.3", true).await;
    assert_eq!(url, "http://10.1.2.3:9000");
    assert!(note.unwrap().contains("own loopback"));
    assert_eq!(url_for(&old("localhost", 9000), "10.1.2.3", true).await.0, "http://10.1.2.3:9000");
    assert_eq!(url_for(&old("[::1]", 9000), "fd00::7", true).await.0, "http://[fd00::7]:9000");
    // An IPv4 caller seen through an IPv6 socket is an IPv4 address.
    assert_eq!(url_for(&old("0.0.0.0", 1), "::ffff:10.0.0.9", true).await.0, "http://10.0.0.9:1");
    // On loopback, loopback stays; any other address stays.
    assert_eq!(url_for(&old("localhost", 9000), "127.0.0.1", false).await, ("http://localhost:9000".into(), None));
    assert_eq!(url_for(&old("10.9.9.9", 80), "10.1.2.3", true).await.0, "http://10.9.9.9:80");
}

struct NeverAsked;

#[async_trait::async_trait]
impl Resolver for NeverAsked {
    async fn resolves(&self, host: &str) -> bool {
        panic!("{host} was looked up");
    }
}

#[tokio::test]
async fn the_network_policy_judges_addresses_not_names() {
    let deny = NetworkPolicy::new(vec![], vec!["10.9.0.0/16".parse().unwrap()], false);
    let errors = parse(&old("10.9.9.9", 80), ip("127.0.0.1"), &deny, &Fixed(true)).await.unwrap_err();
    assert_eq!(errors[0].field, "host");
    assert!(errors[0].message.ends_with("10.9.9.9 is in --deny-agent-network 10.9.0.0/16"), "{errors:?}");
    let errors = parse(&old("0.0.0.0", 80), ip("10.9.1.1"), &deny, &Fixed(true)).await.unwrap_err();
    assert!(errors[0].message.starts_with("It sent 0.0.0.0"), "the rewrite is explained: {errors:?}");
    assert!(errors[0].message.contains("10.9.1.1 is in --deny-agent-network"), "{errors:?}");
    // A name is judged when it is called: one not in DNS yet must not lose an agent.
    let kept = parse(&old("agents.example", 80), ip("10.1.2.3"), &deny, &Fixed(true)).await.unwrap();
    assert_eq!(kept.agent_url.as_str(), "http://agents.example:80");

    // With --deny-agent-names a name is never looked up: the caller's address is used.
    let names = NetworkPolicy::new(vec![], vec![], true);
    for (host, peer, url) in
        [("agents.example", "10.1.2.3", "http://10.1.2.3:8000"), ("localhost", "127.0.0.1", "http://127.0.0.1:8000")]
    {
        let reg = parse(&old(host, 8000), ip(peer), &names, &NeverAsked).await.unwrap();
        assert_eq!(reg.agent_url.as_str(), url);
        assert!(reg.address_note.unwrap().contains("--deny-agent-names"));
    }
    let errors = parse(
        &SelfRegister { agent_url: Some("https://agents.example/a".into()), ..old("h", 1) },
        ip("10.1.2.3"),
        &names,
        &NeverAsked,
    )
    .await;
    assert_eq!(errors.unwrap().agent_url.as_str(), "https://10.1.2.3/a", "an agent_url's name too");
}

#[tokio::test]
async fn a_name_that_does_not_resolve_falls_back_to_the_callers_address() {
    let (url, note) = url_for(&old("agent-container", 8000), "172.17.0.5", false).await;
    assert_eq!(url, "http://172.17.0.5:8000");
    assert!(note.unwrap().contains("does not resolve"));
    assert_eq!(url_for(&old("agents.example", 8000), "172.17.0.5", true).await.0, "http://agents.example:8000");
}

#[tokio::test]
async fn a_whole_url_keeps_its_scheme_and_prefix() {
    let request =
        SelfRegister { host: None, port: None, agent_url: Some("https://127.0.0.1:8443/a/b/".into()), ..old("x", 1) };
    assert_eq!(url_for(&request, "127.0.0.1", true).await.0, "https://127.0.0.1:8443/a/b");
    let request = SelfRegister { agent_url: Some("http://0.0.0.0:81/p".into()), ..request };
    assert_eq!(url_for(&request, "127.0.0.2", true).await.0, "http://127.0.0.2:81/p");
}

#[tokio::test]
async fn every_bad_field_is_named() {
    let request =
        SelfRegister { agent_id: "a/b".into(), ttl_seconds: Some(0), metadata: json!([1]), ..old("x", 70000) };
    let errors = parse(&request, ip("127.0.0.1"), &NetworkPolicy::default(), &Fixed(true)).await.unwrap_err();
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["agent_id", "ttl_seconds", "metadata", "port"]);
    for (host, port, field) in [("", 1, "host"), ("a b", 1, "host"), ("h", 0, "port")] {
        let errors =
            parse(&old(host, port), ip("127.0.0.1"), &NetworkPolicy::default(), &Fixed(true)).await.unwrap_err();
        assert_eq!(errors[0].field, field, "{host:?}:{port}");
    }
    let no_port = SelfRegister { port: None, ..old("h", 1) };
    assert_eq!(
        parse(&no_port, ip("127.0.0.1"), &NetworkPolicy::default(), &Fixed(true)).await.unwrap_err()[0].field,
        "port"
    );
    assert_eq!(
        parse(
            &SelfRegister { ttl_seconds: Some(3601), ..old("h", 1) },
            ip("127.0.0.1"),
            &NetworkPolicy::default(),
            &Fixed(true)
        )
        .await
        .unwrap_err()[0]
            .field,
        "ttl_seconds"
    );
}

#[test]
fn names_are_cut_not_refused_and_text_metadata_is_kept() {
    assert_eq!(name(&"n".repeat(500), "id").chars().count(), MAX_NAME_LEN);
    assert_eq!(name("", "the-id"), "the-id");
    assert_eq!(name("a\tb", "id"), "a b");
    assert_eq!(metadata(&json!("{broken")).unwrap()["description"], "{broken");
    assert_eq!(metadata(&json!("[1, 2]")).unwrap()["description"], "[1, 2]");
    assert_eq!(metadata(&json!("{\"k\": 1}")).unwrap()["k"], 1);
    assert_eq!(metadata(&json!({"k": 2})).unwrap()["k"], 2);
    assert!(metadata(&Value::Null).unwrap().is_empty());
    assert!(metadata(&json!(5)).is_err());
}
