//! The listener against a real browser: headless Chromium loads a page that asks for the
//! listener's `/favicon.ico` and then goes on to the callback URL, as the authorization
//! server's redirect would.

use crate::support::{ISSUER, Logs, encode, start};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Chromium from `CH_TEST_CHROMIUM` or `/usr/bin/chromium`. `None` (after saying so) when it
/// is missing and peers are not required; a failure when `CH_TEST_PEERS=1`.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CH_TEST_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CH_TEST_PEERS").is_none_or(|v| v != "1"),
        "CH_TEST_PEERS=1 but Chromium is missing at {}",
        path.display()
    );
    println!("skipped: Chromium not found at {}", path.display());
    None
}

/// Serves `page` to every request on 127.0.0.1 until the task is dropped.
async fn page_server(page: String) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                continue;
            };
            let page = page.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = tcp.write_all(response.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    (port, task)
}

/// Runs `chromium --headless=new --dump-dom url` with every flag from PEERS.md and returns the
/// DOM it printed.
fn dump_dom(chromium: &PathBuf, url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--no-proxy-server",
            "--password-store=basic",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            // Lets the page's navigation to the callback finish before the DOM is dumped.
            "--virtual-time-budget=10000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(url)
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut dom = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut dom).unwrap();
    dom
}

#[tokio::test]
async fn headless_chromium_reaches_the_success_page_despite_its_favicon_request() {
    let Some(chromium) = chromium() else {
        return;
    };
    let (logs, _guard) = Logs::capture();
    let running = start(|c| {
        c.expected_issuer = Some(ISSUER.to_owned());
        c.iss_required = true;
    })
    .await;
    let callback = running.url(&format!(
        "code=code-from-chromium&state={}&iss={}",
        running.state(),
        encode(ISSUER)
    ));
    // The page asks the listener for /favicon.ico (as a tab icon and as an image) and only
    // when that request has failed (404) moves on to the callback, so the stray request always
    // comes first, however slow the machine.
    let favicon = format!("http://127.0.0.1:{}/favicon.ico", running.port);
    let page = format!(
        "<!doctype html><html><head><title>Authorize</title>\
         <link rel=\"icon\" href=\"{favicon}\"></head>\
         <body>Redirecting back to the application\
         <img src=\"{favicon}\" alt=\"\" onerror=\"location.replace('{target}')\" \
         onload=\"document.body.textContent='the favicon unexpectedly loaded'\">\
         </body></html>",
        target = callback.replace('&', "&amp;"),
    );
    let (page_port, page_task) = page_server(page).await;
    let url = format!("http://127.0.0.1:{page_port}/authorize");
    let dom = tokio::task::spawn_blocking(move || dump_dom(&chromium, &url))
        .await
        .unwrap();
    page_task.abort();

    assert!(dom.contains("Login complete"), "DOM: {dom}");
    assert!(dom.contains("return to the terminal"), "DOM: {dom}");
    let response = running.result().await.unwrap();
    assert_eq!(response.code.expose_secret(), "code-from-chromium");
    assert_eq!(response.iss.as_deref(), Some(ISSUER));

    let text = logs.text();
    let favicon = text
        .lines()
        .find(|l| l.contains("path=/favicon.ico"))
        .unwrap_or_else(|| panic!("Chromium asked for no favicon: {text}"));
    assert!(favicon.contains("status=404"), "{favicon}");
}
