//! A slow consumer: a peer that stops reading. `send` must apply backpressure (wait) instead of
//! growing memory without bound. Alone in its test binary so RSS is this test's own.

use std::time::Duration;

use typed_ws::Client;
use typed_ws_tests::support::{raw_upgrade, rss_kib, tcp_server, within};

#[tokio::test]
async fn send_waits_when_the_peer_stops_reading_and_memory_stays_flat() {
    const MESSAGE: usize = 64 * 1024;
    const ATTEMPT: usize = 100 * 1024 * 1024; // 100 MiB of attempted sends
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tcp_server(move |mut tcp| {
        let mut stop = stop_rx.clone();
        async move {
            // upgrade, then never read again (until the test ends)
            let _ = raw_upgrade(&mut tcp).await;
            let _ = stop.wait_for(|s| *s).await;
        }
    })
    .await;
    let client = Client::builder()
        .channel_capacity(64)
        .ping_interval(None)
        .build();
    let session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    let before = rss_kib();
    let mut sent = 0usize;
    let mut blocked = false;
    while sent < ATTEMPT {
        // a fresh buffer each time, so every queued message costs memory; a send that cannot
        // complete within a second is waiting on backpressure
        let payload = vec![(sent / MESSAGE) as u8; MESSAGE];
        match tokio::time::timeout(Duration::from_secs(1), session.send_binary(payload)).await {
            Ok(result) => {
                result.unwrap();
                sent += MESSAGE;
            }
            Err(_) => {
                blocked = true;
                break;
            }
        }
    }
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    println!(
        "queued {} MiB of {} MiB before send waited; RSS grew {grown_mib} MiB",
        sent >> 20,
        ATTEMPT >> 20
    );
    assert!(
        blocked,
        "send never waited: {} MiB accepted with nobody reading",
        sent >> 20
    );
    assert!(
        sent < ATTEMPT / 4,
        "{} MiB accepted before backpressure",
        sent >> 20
    );
    assert!(
        grown_mib < 40,
        "memory grew {grown_mib} MiB for a peer that reads nothing"
    );
    let _ = stop_tx.send(true);
}
