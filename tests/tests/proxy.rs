//! ws and wss through proxies: a third-party proxy (pproxy, HTTP CONNECT and SOCKS5, with
//! authentication) installed by scripts/test, and in-process CONNECT and SOCKS5 proxies that
//! record what they saw. The in-process proxies tunnel to the echo server whatever target
//! they are asked for, and the tests name a target the client cannot reach itself (a
//! `.invalid` name, or a closed port): a session that works went through the proxy.

use std::process::{Command, Stdio};

use typed_ws::server::Server;
use typed_ws::{Client, ErrorKind};
use typed_ws_examples::tls::self_signed;
use typed_ws_tests::support::{
    Child, Socks5Config, Socks5Seen, connect_proxy, echo_server, free_port, peer,
    routing_connect_proxy, socks5_proxy, tls_echo_server, wait_for_port, within,
};

/// pproxy listening for both HTTP CONNECT and SOCKS5 on one port, requiring `user:pass`.
async fn pproxy() -> (Child, u16) {
    let port = free_port();
    let mut child = Child(
        Command::new(peer("proxy/bin/pproxy"))
            .arg("-l")
            .arg(format!("http+socks5://127.0.0.1:{port}#user:s3cret"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pproxy"),
    );
    wait_for_port(&mut child, port).await;
    (child, port)
}

async fn echo_through(client: &Client, url: String) {
    let mut session = within("connect through proxy", client.web_socket_session(url))
        .await
        .unwrap();
    session.send_serialized(&("via proxy", 7)).await.unwrap();
    let back: (String, u32) = within("echo", session.receive_deserialized())
        .await
        .unwrap();
    assert_eq!(back, ("via proxy".to_owned(), 7));
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn ws_and_wss_through_pproxy_http_connect_and_socks5() {
    let (_proxy, port) = pproxy().await;
    let plain = echo_server(Server::new()).await;
    let tls = self_signed().unwrap();
    let secure = tls_echo_server(tls.acceptor.clone()).await;
    for proxy in [
        format!("http://user:s3cret@127.0.0.1:{port}"),
        format!("socks5://user:s3cret@127.0.0.1:{port}"),
        format!("socks5h://user:s3cret@127.0.0.1:{port}"),
    ] {
        let client = Client::builder()
            .proxy(&proxy)
            .tls_built_in_roots(false)
            .add_root_certificate_pem(&tls.cert_pem)
            .build();
        echo_through(&client, plain.url("/plain")).await;
        echo_through(
            &client,
            format!("wss://localhost:{}/secure", secure.addr.port()),
        )
        .await;
    }
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn wrong_proxy_credentials_are_a_clear_connect_error() {
    let (_proxy, port) = pproxy().await;
    let plain = echo_server(Server::new()).await;
    for (proxy, expected) in [
        (format!("http://user:wrong@127.0.0.1:{port}"), "407"),
        (format!("http://127.0.0.1:{port}"), "407"),
        (
            format!("socks5://user:wrong@127.0.0.1:{port}"),
            "rejected the user name or password",
        ),
    ] {
        let client = Client::builder().proxy(&proxy).build();
        let err = within("connect", client.web_socket_session(plain.url("/")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{proxy}: {err}");
        assert!(err.to_string().contains(expected), "{proxy}: {err}");
        assert!(
            !err.to_string().contains("wrong"),
            "credentials leaked into {err}"
        );
    }
}

#[tokio::test]
async fn in_process_connect_proxy_sees_basic_auth() {
    // "user:pa ss" in base64
    let (proxy, mut heads) = connect_proxy(Some("Basic dXNlcjpwYSBzcw==".into())).await;
    let plain = echo_server(Server::new()).await;
    let client = Client::builder()
        .proxy(&format!("http://user:pa%20ss@{}", proxy.addr))
        .build();
    echo_through(&client, plain.url("/x")).await;
    let head = within("proxy head", heads.recv()).await.unwrap();
    assert!(
        head.starts_with(&format!("CONNECT {} HTTP/1.1", plain.addr)),
        "{head}"
    );

    let anonymous = Client::builder()
        .proxy(&format!("http://{}", proxy.addr))
        .build();
    let err = within("connect", anonymous.web_socket_session(plain.url("/x")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("407"), "{err}");
}

#[tokio::test]
async fn bad_proxy_url_is_a_config_error() {
    let err = Client::builder()
        .proxy("gopher://nope")
        .build()
        .web_socket_session("ws://127.0.0.1:1/")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string().contains("unsupported proxy scheme"),
        "{err}"
    );
}

/// A target only the proxies can reach: a name that never resolves.
const UNREACHABLE_NAME: &str = "backend.invalid";

fn assert_carried(carried: Option<(u64, u64)>) {
    let (up, down) = carried.expect("the tunnel ended");
    // at least the upgrade request and the masked message one way, the 101 and the echo
    // the other
    assert!(
        up > 150 && down > 100,
        "bytes carried: {up} up, {down} down"
    );
}

#[tokio::test]
async fn in_process_connect_proxy_carries_a_session_to_a_target_only_it_can_reach() {
    let plain = echo_server(Server::new()).await;
    let (proxy, mut heads, mut carried) =
        routing_connect_proxy(Some("Basic dXNlcjpwYXNz".into()), Some(plain.addr)).await;
    let client = Client::builder()
        .proxy(&format!("http://user:pass@{}", proxy.addr))
        .build();
    let port = free_port();
    echo_through(&client, format!("ws://{UNREACHABLE_NAME}:{port}/x")).await;
    let head = within("proxy head", heads.recv()).await.unwrap();
    assert!(
        head.starts_with(&format!("CONNECT {UNREACHABLE_NAME}:{port} HTTP/1.1\r\n")),
        "{head}"
    );
    assert_carried(within("the tunnel's bytes", carried.recv()).await);
    // and without the proxy the same URL cannot work
    let err = within(
        "direct",
        Client::new().web_socket_session(format!("ws://{UNREACHABLE_NAME}:{port}/x")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    proxy.finish().await;
}

fn with_auth() -> Socks5Config {
    Socks5Config {
        auth: Some(("user".into(), "s3cret".into())),
        ..Socks5Config::default()
    }
}

#[tokio::test]
async fn socks5h_sends_the_name_atyp_3_and_authenticates() {
    let plain = echo_server(Server::new()).await;
    let (proxy, mut seen) = socks5_proxy(Socks5Config {
        route: Some(plain.addr),
        ..with_auth()
    })
    .await;
    let client = Client::builder()
        .proxy(&format!("socks5h://user:s3cret@{}", proxy.addr))
        .build();
    let port = free_port();
    echo_through(&client, format!("ws://{UNREACHABLE_NAME}:{port}/x")).await;
    let seen = within("the proxy's record", seen.recv()).await.unwrap();
    assert_eq!(seen.methods, [0, 2], "offered: none, user/password");
    assert_eq!(seen.auth, Some(("user".into(), "s3cret".into())));
    assert_eq!(seen.atyp, 3, "socks5h: the proxy resolves the name");
    assert_eq!((seen.host.as_str(), seen.port), (UNREACHABLE_NAME, port));
    assert_carried(seen.carried);
    proxy.finish().await;
}

#[tokio::test]
async fn socks5_resolves_locally_and_sends_an_address() {
    let plain = echo_server(Server::new()).await;
    let (proxy, mut records) = socks5_proxy(Socks5Config {
        route: Some(plain.addr),
        ..Socks5Config::default()
    })
    .await;
    let client = Client::builder()
        .proxy(&format!("socks5://{}", proxy.addr))
        .build();
    // "localhost" resolves here; the port is closed, so only the proxy's route reaches the
    // echo server
    let port = free_port();
    echo_through(&client, format!("ws://localhost:{port}/x")).await;
    let seen = within("the proxy's record", records.recv()).await.unwrap();
    assert_eq!(seen.methods, [0], "no credentials: only method 0 offered");
    assert_eq!(seen.auth, None);
    assert!(
        (seen.atyp == 1 && seen.host == "127.0.0.1") || (seen.atyp == 4 && seen.host == "::1"),
        "socks5: an address resolved by the client, not the name: {seen:?}"
    );
    assert_eq!(seen.port, port);
    assert_carried(seen.carried);
    // a name only the proxy could resolve fails here, before any CONNECT request
    let err = within(
        "unresolvable",
        client.web_socket_session(format!("ws://{UNREACHABLE_NAME}:{port}/x")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("could not resolve {UNREACHABLE_NAME}")),
        "{err}"
    );
    let seen = within("the proxy's record", records.recv()).await.unwrap();
    assert_eq!(
        seen.atyp, 0,
        "no CONNECT request reached the proxy: {seen:?}"
    );
    proxy.finish().await;
}

/// Connects through a SOCKS5 proxy configured as `config` with `proxy_url` (`{}`: its
/// address) and returns the error and what the proxy saw.
async fn socks5_refusal(config: Socks5Config, proxy_url: &str) -> (typed_ws::Error, Socks5Seen) {
    let (proxy, mut records) = socks5_proxy(config).await;
    let client = Client::builder()
        .proxy(&proxy_url.replace("{}", &proxy.addr.to_string()))
        .build();
    let err = within(
        "refusal",
        client.web_socket_session(format!("ws://{UNREACHABLE_NAME}:{}/", free_port())),
    )
    .await
    .unwrap_err();
    let seen = within("the proxy's record", records.recv()).await.unwrap();
    proxy.finish().await;
    (err, seen)
}

#[tokio::test]
async fn socks5_error_replies_are_clear_connect_errors() {
    let (err, seen) = socks5_refusal(
        Socks5Config {
            fail_with: Some(5),
            ..Socks5Config::default()
        },
        "socks5h://{}",
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(
        err.to_string().contains(&format!(
            "the SOCKS5 proxy could not reach {UNREACHABLE_NAME}:{}: connection refused",
            seen.port
        )),
        "{err}"
    );
    assert_eq!(seen.atyp, 3);

    let (err, _) = socks5_refusal(
        Socks5Config {
            fail_with: Some(2),
            ..Socks5Config::default()
        },
        "socks5h://{}",
    )
    .await;
    assert!(
        err.to_string()
            .contains("connection not allowed by ruleset"),
        "{err}"
    );

    let (err, seen) = socks5_refusal(with_auth(), "socks5h://user:wrong@{}").await;
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(
        err.to_string()
            .contains("the SOCKS5 proxy rejected the user name or password"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("wrong"),
        "credentials leaked: {err}"
    );
    assert_eq!(seen.auth, Some(("user".into(), "wrong".into())));
    assert_eq!(seen.atyp, 0, "no CONNECT after a failed login");

    let (err, seen) = socks5_refusal(with_auth(), "socks5h://{}").await;
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(
        err.to_string()
            .contains("the SOCKS5 proxy accepts none of our authentication methods"),
        "{err}"
    );
    assert_eq!(seen.methods, [0]);
}
