//! The real listener against a real HTTP client (reqwest) and raw sockets.

use crate::support::{
    ISSUER, Logs, encode, free_port, get, occupied_port, port_released, raw, start,
};
use oauth_callback::{
    CallbackError, CallbackServer, HEADER_READ_TIMEOUT, PortChoice, parse_callback_query,
};
use oauth_primitives::{ErrorCode, RedirectHost, RedirectPath};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[tokio::test]
async fn happy_path_hands_over_the_code_and_releases_the_port() {
    let running = start(|c| {
        c.expected_issuer = Some(ISSUER.to_owned());
        c.iss_required = true;
    })
    .await;
    assert_eq!(
        running.redirect_uri.as_str(),
        format!("http://127.0.0.1:{}/callback", running.port)
    );
    let port = running.port;
    let page = get(&running.url(&format!(
        "code=SplxlOBeZQQYbYS6WxSbIA&state={}&iss={}&session_state=ignored",
        running.state(),
        encode(ISSUER)
    )))
    .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("return to the terminal"),
        "{}",
        page.body
    );
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert!(page.headers.get("location").is_none());

    let response = running.result().await.unwrap();
    assert_eq!(response.code.expose_secret(), "SplxlOBeZQQYbYS6WxSbIA");
    assert_eq!(response.iss.as_deref(), Some(ISSUER));
    // The listener is gone: a repeated callback cannot even connect.
    assert!(port_released(port).await);
}

#[tokio::test]
async fn access_denied_is_auth_cancelled() {
    let running = start(|_| {}).await;
    let page = get(&running.url(&format!(
        "error=access_denied&error_description=The+user+denied+access&state={}",
        running.state()
    )))
    .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Login cancelled"), "{}", page.body);
    assert!(
        page.body.contains("The user denied access"),
        "{}",
        page.body
    );
    let err = running.result().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AuthCancelled);
    assert!(err.to_string().contains("The user denied access"), "{err}");
}

#[tokio::test]
async fn hostile_error_description_comes_back_escaped_and_terminal_safe() {
    let running = start(|_| {}).await;
    let hostile =
        "<script>alert(document.cookie)</script>\u{1b}[2J\u{202e}<img src=x onerror=alert(1)>";
    let page = get(&running.url(&format!(
        "error=server_error&error_description={}&state={}",
        encode(hostile),
        running.state()
    )))
    .await;
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert!(!page.body.contains("<img"), "{}", page.body);
    assert!(
        page.body
            .contains("&lt;script&gt;alert(document.cookie)&lt;/script&gt;"),
        "{}",
        page.body
    );
    let err = running.result().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AuthFailed);
    let message = err.to_string();
    assert!(message.contains("server_error"), "{message}");
    assert!(
        !message.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{message:?}"
    );
}

#[tokio::test]
async fn wrong_or_missing_state_is_a_400_and_the_wait_goes_on() {
    let running = start(|_| {}).await;
    for query in [
        "code=forged".to_owned(),
        "code=forged&state=not-the-state".to_owned(),
        format!("code=forged&state={}x", running.state()),
        "error=access_denied".to_owned(),
        "error=access_denied&state=wrong".to_owned(),
    ] {
        let page = get(&running.url(&query)).await;
        assert_eq!(page.status, 400, "{query}");
        assert!(running.still_waiting().await, "{query} ended the wait");
    }
    get(&running.good_url("real-code")).await;
    let response = running.result().await.unwrap();
    assert_eq!(response.code.expose_secret(), "real-code");
}

#[tokio::test]
async fn favicon_other_paths_and_methods_do_not_end_the_wait() {
    let running = start(|_| {}).await;
    assert_eq!(
        get(&running.url("").replace("/callback?", "/favicon.ico"))
            .await
            .status,
        404
    );
    for path in [
        "/",
        "/callback/",
        "/CALLBACK",
        "/callback/../callback",
        "/?next=https://evil.example",
    ] {
        let url = format!("http://127.0.0.1:{}{path}", running.port);
        let page = get(&url).await;
        assert!(matches!(page.status, 404 | 400), "{path}: {}", page.status);
        assert!(page.headers.get("location").is_none());
    }
    let client = crate::support::client();
    let good = running.good_url("posted");
    let post = client.post(&good).body("code=posted").send().await.unwrap();
    assert_eq!(post.status().as_u16(), 405);
    assert_eq!(post.headers()["allow"], "GET");
    let head = client.head(&good).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 405);
    assert!(running.still_waiting().await);

    get(&running.good_url("after-the-noise")).await;
    assert_eq!(
        running.result().await.unwrap().code.expose_secret(),
        "after-the-noise"
    );
}

#[tokio::test]
async fn oversized_requests_are_refused_and_the_wait_goes_on() {
    let running = start(|_| {}).await;
    let port = running.port;
    // A 64 KiB query that even carries the right state and a code.
    let request = format!(
        "GET /callback?code=huge&state={}&pad={} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",
        running.state(),
        "a".repeat(64 * 1024)
    );
    assert_eq!(raw(port, request.as_bytes()).await, Some(414));
    assert!(running.still_waiting().await);

    // 256 KiB of headers: hyper answers 431 (or the connection is reset mid-write).
    let request = format!(
        "GET /callback HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Pad: {}\r\n\r\n",
        "b".repeat(256 * 1024)
    );
    let status = raw(port, request.as_bytes()).await;
    assert!(matches!(status, None | Some(431)), "{status:?}");
    assert!(running.still_waiting().await);

    // Garbage that is not HTTP at all.
    let status = raw(
        port,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
    )
    .await;
    assert!(matches!(status, None | Some(400)), "{status:?}");
    assert!(running.still_waiting().await);

    get(&running.good_url("small")).await;
    assert_eq!(
        running.result().await.unwrap().code.expose_secret(),
        "small"
    );
}

#[tokio::test]
async fn two_hundred_idle_and_slow_connections_cannot_keep_the_callback_out() {
    let running = start(|_| {}).await;
    let mut idle = Vec::new();
    for i in 0..200 {
        let mut tcp = TcpStream::connect(("127.0.0.1", running.port))
            .await
            .unwrap();
        if i % 4 == 0 {
            // Slowloris: a request line that never ends.
            tcp.write_all(b"GET /callback?state=").await.unwrap();
        }
        idle.push(tcp);
    }
    assert!(running.still_waiting().await);
    let started = Instant::now();
    let page = get(&running.good_url("despite-the-crowd")).await;
    assert_eq!(page.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        running.result().await.unwrap().code.expose_secret(),
        "despite-the-crowd"
    );
    // Every idle connection was closed with the listener.
    for mut tcp in idle {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
            .await
            .expect("closed, not left hanging");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let running = start(|_| {}).await;
    let mut tcp = TcpStream::connect(("127.0.0.1", running.port))
        .await
        .unwrap();
    tcp.write_all(b"GET /callback?state=").await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(HEADER_READ_TIMEOUT * 3, tcp.read(&mut buf))
        .await
        .expect("the server closed the connection");
    let waited = started.elapsed();
    assert!(matches!(read, Ok(0) | Err(_)) || buf.starts_with(b"HTTP/1.1 408"));
    assert!(
        waited + Duration::from_millis(200) >= HEADER_READ_TIMEOUT,
        "closed too early: {waited:?}"
    );
    assert!(running.still_waiting().await);
    running.wait.abort();
}

#[tokio::test]
async fn timeout_is_timeout_and_releases_the_port() {
    let running = start(|c| c.timeout = Duration::from_millis(300)).await;
    let port = running.port;
    // An idle connection does not hold the port open past the timeout.
    let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let started = Instant::now();
    let err = running.result().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert!(matches!(err, CallbackError::Timeout { .. }));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains("log in again"), "{err}");
    assert!(port_released(port).await);
}

#[tokio::test]
async fn dropping_the_wait_or_the_server_releases_the_port() {
    let running = start(|_| {}).await;
    let port = running.port;
    let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert!(running.still_waiting().await);
    running.wait.abort();
    let _ = running.wait.await;
    assert!(port_released(port).await);

    let server = CallbackServer::bind(crate::support::config())
        .await
        .unwrap();
    let port = server.port();
    assert!(!port_released(port).await);
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 1);
    assert!(
        addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == port),
        "{addrs:?}"
    );
    drop(server);
    assert!(port_released(port).await);
}

#[tokio::test]
async fn issuer_mismatch_fails_without_showing_the_error_fields() {
    let running = start(|c| c.expected_issuer = Some(ISSUER.to_owned())).await;
    let page = get(&running.url(&format!(
        "error=login_required&error_description=Visit+evil.example+to+fix&state={}&iss={}",
        running.state(),
        encode("https://evil.example/tenant")
    )))
    .await;
    assert!(!page.body.contains("evil.example to fix"), "{}", page.body);
    assert!(!page.body.contains("login_required"), "{}", page.body);
    let err = running.result().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AuthFailed);
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("to fix") && !shown.contains("login_required"),
        "{shown}"
    );
    assert!(shown.contains("mix-up"), "{shown}");
}

#[tokio::test]
async fn missing_iss_fails_when_the_server_promised_it() {
    let running = start(|c| {
        c.expected_issuer = Some(ISSUER.to_owned());
        c.iss_required = true;
    })
    .await;
    get(&running.good_url("no-iss")).await;
    let err = running.result().await.unwrap_err();
    assert!(matches!(err, CallbackError::IssuerMissing), "{err:?}");
    assert_eq!(err.code(), ErrorCode::AuthFailed);
}

#[tokio::test]
async fn a_foreign_host_header_is_refused() {
    // DNS rebinding: a web page whose name resolves to 127.0.0.1 reaches the port with its
    // own Host header.
    let running = start(|_| {}).await;
    let response = crate::support::client()
        .get(running.good_url("rebound"))
        .header("host", format!("attacker.example:{}", running.port))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 421);
    assert!(running.still_waiting().await);
    running.wait.abort();
}

#[tokio::test]
async fn preferred_ports_are_tried_in_order_then_an_ephemeral_one() {
    let (_busy1, busy1) = occupied_port();
    let (_busy2, busy2) = occupied_port();
    let (_busy3, busy3) = occupied_port();

    let check = async |ports: Vec<u16>, expected: Option<u16>| {
        let mut config = crate::support::config();
        config.port = PortChoice::Preferred(ports.clone());
        let server = CallbackServer::bind(config).await.unwrap();
        match expected {
            Some(port) => assert_eq!(server.port(), port, "{ports:?}"),
            None => assert!(!ports.contains(&server.port()), "{ports:?}"),
        }
        assert_ne!(server.port(), 0);
    };
    let first = free_port();
    check(vec![first, busy1], Some(first)).await;
    let second = free_port();
    check(vec![busy1, second], Some(second)).await;
    let third = free_port();
    check(vec![busy1, busy2, third], Some(third)).await;
    check(vec![busy1, busy2, busy3], None).await;
    check(vec![], None).await;
    check(vec![0, busy1], None).await;
}

#[tokio::test]
async fn a_busy_explicit_port_fails_at_once_naming_the_port() {
    let (_busy, port) = occupied_port();
    let mut config = crate::support::config();
    config.port = PortChoice::Exact(port);
    let started = Instant::now();
    let err = CallbackServer::bind(config).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(err.code(), ErrorCode::NetworkError);
    let message = err.to_string();
    assert!(message.contains(&port.to_string()), "{message}");
    assert!(message.contains("--port"), "{message}");
    assert!(matches!(err, CallbackError::Bind { port: p, .. } if p == port));
}

#[tokio::test]
async fn the_same_explicit_port_serves_the_next_login_at_once() {
    // The first login's connection lingers in TIME_WAIT on the listener's port.
    let port = crate::support::free_port();
    for round in ["first", "second", "third"] {
        let running = start(|c| c.port = PortChoice::Exact(port)).await;
        assert_eq!(running.port, port);
        assert_eq!(get(&running.good_url(round)).await.status, 200);
        assert_eq!(running.result().await.unwrap().code.expose_secret(), round);
    }
}

#[tokio::test]
async fn no_other_socket_can_share_the_port() {
    let running = start(|_| {}).await;
    let intruder = TcpSocket::new_v4().unwrap();
    intruder.set_reuseaddr(true).unwrap();
    #[cfg(unix)]
    intruder.set_reuseport(true).unwrap();
    let bound = intruder.bind(([127, 0, 0, 1], running.port).into());
    assert!(bound.is_err(), "another socket bound the listener's port");
    // Nor the wildcard address on the same port.
    let wildcard = TcpSocket::new_v4().unwrap();
    wildcard.set_reuseaddr(true).unwrap();
    assert!(wildcard.bind(([0, 0, 0, 0], running.port).into()).is_err());
    running.wait.abort();
}

fn ipv6_available() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[tokio::test]
async fn localhost_listens_on_both_loopback_addresses() {
    let mut config = crate::support::config();
    config.host = RedirectHost::Localhost;
    let server = CallbackServer::bind(config).await.unwrap();
    let addrs = server.local_addrs();
    assert!(
        addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == server.port())
    );
    assert!(addrs.iter().any(std::net::SocketAddr::is_ipv4));
    assert_eq!(
        addrs.iter().any(std::net::SocketAddr::is_ipv6),
        ipv6_available(),
        "{addrs:?}"
    );
    drop(server);

    let running = start(|c| c.host = RedirectHost::Localhost).await;
    assert_eq!(
        running.redirect_uri.as_str(),
        format!("http://localhost:{}/callback", running.port)
    );
    let v4 = get(&format!("http://127.0.0.1:{}/favicon.ico", running.port)).await;
    assert_eq!(v4.status, 404);
    if ipv6_available() {
        let v6 = get(&format!("http://[::1]:{}/favicon.ico", running.port)).await;
        assert_eq!(v6.status, 404);
        get(&format!(
            "http://[::1]:{}/callback?code=via-v6&state={}",
            running.port,
            running.state()
        ))
        .await;
    } else {
        get(&running.good_url("via-v6")).await;
    }
    assert_eq!(
        running.result().await.unwrap().code.expose_secret(),
        "via-v6"
    );
}

#[tokio::test]
async fn ipv6_loopback_and_a_custom_path() {
    if !ipv6_available() {
        assert!(
            std::env::var_os("CH_TEST_PEERS").is_none(),
            "no IPv6 loopback on this machine"
        );
        println!("skipped: no IPv6 loopback");
        return;
    }
    let running = start(|c| {
        c.host = RedirectHost::Ipv6Loopback;
        c.path = RedirectPath::new("/oauth/ch-done").unwrap();
    })
    .await;
    assert_eq!(
        running.redirect_uri.as_str(),
        format!("http://[::1]:{}/oauth/ch-done", running.port)
    );
    assert_eq!(
        get(&format!("http://[::1]:{}/callback", running.port))
            .await
            .status,
        404
    );
    get(&running.good_url("v6-code")).await;
    assert_eq!(
        running.result().await.unwrap().code.expose_secret(),
        "v6-code"
    );
}

#[tokio::test]
async fn codes_and_states_never_reach_a_log_line_or_debug_output() {
    let (logs, _guard) = Logs::capture();
    let running = start(|c| c.expected_issuer = Some(ISSUER.to_owned())).await;
    let state = running.state().to_owned();
    let code = "CODE-abc123-secret";
    let forged_state = "FORGED-STATE-value";
    get(&running.url(&format!("code={code}&state={forged_state}"))).await;
    get(&running.url(&format!("code={code}&state={state}&state={state}"))).await;
    get(&running.good_url(code)).await;
    let response = running.result().await;
    let shown = format!("{response:?}");
    let text = logs.text();
    assert!(
        text.contains("listening for the authorization response")
            && text.contains("answered a request"),
        "the capture works: {text}"
    );
    for secret in [code, state.as_str(), forged_state] {
        assert!(!text.contains(secret), "secret in logs: {text}");
        assert!(!shown.contains(secret), "secret in Debug: {shown}");
    }
    let config = crate::support::config();
    let secret_state = config.state.expose_secret().to_owned();
    let config_shown = format!("{config:?}");
    let server = CallbackServer::bind(config).await.unwrap();
    let server_shown = format!("{server:?}");
    for shown in [config_shown, server_shown] {
        assert!(!shown.contains(&secret_state), "{shown}");
    }
    let parsed = parse_callback_query(&format!("code={code}&state={state}"));
    let parsed = format!("{parsed:?}");
    assert!(
        !parsed.contains(code) && !parsed.contains(&state),
        "{parsed}"
    );
}

#[tokio::test]
async fn wait_is_a_send_static_future_for_boxing_behind_a_trait() {
    fn boxable<F: Future + Send + 'static>(
        future: F,
    ) -> std::pin::Pin<Box<dyn Future<Output = F::Output> + Send>> {
        Box::pin(future)
    }
    let server = CallbackServer::bind(crate::support::config())
        .await
        .unwrap();
    let state = "not-it";
    let port = server.port();
    let waiting = tokio::spawn(boxable(server.wait()));
    let page = get(&format!(
        "http://127.0.0.1:{port}/callback?code=x&state={state}"
    ))
    .await;
    assert_eq!(page.status, 400);
    waiting.abort();
}
