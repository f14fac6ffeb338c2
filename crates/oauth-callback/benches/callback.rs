//! How long the listener takes from a callback request being written on an already accepted
//! connection to `wait()` handing the code to the caller, on a `current_thread` runtime (as the
//! CLI uses). Also the pure query parser on its own.

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_callback::{CallbackConfig, CallbackServer, PortChoice, parse_callback_query};
use oauth_pkce::State;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// One login: bind, connect (not timed), then time the request until the code arrives.
async fn one_callback() -> Duration {
    let state = Arc::new(State::generate().expect("random state"));
    let mut config = CallbackConfig::new(Arc::clone(&state));
    config.port = PortChoice::Exact(0);
    let server = CallbackServer::bind(config).await.expect("bind");
    let port = server.port();
    let request = format!(
        "GET /callback?code=SplxlOBeZQQYbYS6WxSbIA&state={}&iss=https%3A%2F%2Fid.example HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\nUser-Agent: bench\r\nAccept: text/html\r\n\r\n",
        state.expose_secret()
    );
    let waiting = tokio::spawn(server.wait());
    let mut tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    // Let the server accept the connection and start reading it, so that only the request's
    // own handling is timed.
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
    let start = Instant::now();
    tcp.write_all(request.as_bytes()).await.expect("write");
    let response = waiting.await.expect("join").expect("the code");
    let elapsed = start.elapsed();
    black_box(response);
    elapsed
}

fn request_to_code(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    c.bench_function("callback request to code (current_thread)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += one_callback().await;
                }
                total
            })
        });
    });
}

fn parse_query(c: &mut Criterion) {
    let query = "code=SplxlOBeZQQYbYS6WxSbIA&state=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\
                 &iss=https%3A%2F%2Fid.example&session_state=abc";
    c.bench_function("parse_callback_query", |b| {
        b.iter(|| parse_callback_query(black_box(query)));
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).sample_size(50);
    targets = request_to_code, parse_query
}
criterion_main!(benches);
