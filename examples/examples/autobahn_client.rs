//! The Autobahn|Testsuite client: runs every fuzzing case of a `wstest -m fuzzingserver` through
//! typed-ws's public API (the same session, driver and close handling applications get), echoing
//! each text and binary message exactly, then asks the server to write its reports.
//!
//! ```text
//! cargo run --release --example autobahn_client -p typed-ws-examples -- \
//!     ws://127.0.0.1:9001 typed-ws [ca.pem]
//! ```
//!
//! Arguments: the fuzzing server's base URL (`ws://…` or `wss://…`), the agent name the reports
//! are filed under, and for `wss://` the PEM file of the CA that signed the server's certificate
//! (trusted instead of the built-in roots). `scripts/autobahn` runs this and checks the results.
//!
//! The pinger is off (`ping_interval(None)`): Autobahn records every frame a client sends, and an
//! unsolicited ping landing in the middle of a case would make the reports depend on timing. The
//! pinger has its own tests; here the peer's pings are still answered by the driver, which is
//! what the fuzzing cases check.
//!
//! permessage-deflate is on (it is by default) with a threshold of one byte, so cases 12.x and
//! 13.x compress every message, whatever its size.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use typed_ws::{Client, CloseReason, Compression, Frame};

/// Large enough for the 9.x cases (up to 16 MiB messages in one frame).
const LIMIT: usize = 64 << 20;
/// The bound on one case; the slowest (9.x) take a few seconds.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(base), Some(agent)) = (args.next(), args.next()) else {
        eprintln!(
            "usage: autobahn_client BASE_URL AGENT [CA_PEM]   (BASE_URL: ws://127.0.0.1:9001)"
        );
        return ExitCode::from(2);
    };
    let ca = args.next();
    match run(base.trim_end_matches('/'), &agent, ca.as_deref()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autobahn_client: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(base: &str, agent: &str, ca: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = Client::builder()
        .ping_interval(None)
        .max_frame_size(LIMIT)
        .max_message_size(LIMIT)
        .close_timeout(Duration::from_secs(5))
        // permessage-deflate (cases 12.x/13.x); every message compressed, however small
        .compression(Compression::default().threshold(1));
    if let Some(path) = ca {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read CA file {path}: {e}"))?;
        builder = builder
            .add_root_certificate_pem(pem)
            .tls_built_in_roots(false);
    }
    let client = builder.build();

    let count = case_count(&client, base).await?;
    println!("{count} cases");
    let started = Instant::now();
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        match tokio::time::timeout(CASE_TIMEOUT, run_case(&client, &url)).await {
            Ok(Ok(())) => {}
            // a case the server fails on purpose may refuse or drop us: the report says so
            Ok(Err(e)) => eprintln!("case {case}: {e:#}"),
            Err(_) => eprintln!("case {case}: no end after {CASE_TIMEOUT:?}"),
        }
        if case % 100 == 0 {
            println!(
                "{case}/{count} cases ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let reports = client
        .web_socket_session(format!("{base}/updateReports?agent={agent}"))
        .await?;
    reports.close(CloseReason::normal("")).await?;
    println!(
        "{count} cases done in {:.1} s; reports updated",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn case_count(client: &Client, base: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let mut session = client
        .web_socket_session(format!("{base}/getCaseCount"))
        .await?;
    let frame = tokio::time::timeout(Duration::from_secs(10), session.receive())
        .await
        .map_err(|_| "no case count within 10 s")?
        .ok_or("the server closed without sending the case count")??;
    session.close(CloseReason::normal("")).await?;
    match frame {
        Frame::Text(text) => Ok(text
            .trim()
            .parse()
            .map_err(|e| format!("case count {text:?} is not a number: {e}"))?),
        other => Err(format!("expected the case count as text, got {other:?}").into()),
    }
}

/// Echoes every data frame of one case until the server closes.
async fn run_case(client: &Client, url: &str) -> typed_ws::Result<()> {
    let mut session = client.web_socket_session(url).await?;
    while let Some(item) = session.receive().await {
        let frame = item?;
        if frame.is_data()
            && let Err(e) = session.send(frame).await
        {
            // the server closed while we echoed; the close reason tells how it ended
            if e.is_closed() {
                break;
            }
            return Err(e);
        }
    }
    session.close_reason().await;
    Ok(())
}
