//! ws and wss through proxies: a third-party proxy (pproxy, HTTP CONNECT and SOCKS5, with
//! authentication) installed by scripts/test, and a minimal in-process CONNECT proxy.

use std::process::{Command, Stdio};

use typed_ws::server::Server;
use typed_ws::{Client, ErrorKind};
use typed_ws_examples::tls::self_signed;
use typed_ws_tests::support::{
    Child, connect_proxy, echo_server, free_port, peer, tls_echo_server, wait_for_port, within,
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
