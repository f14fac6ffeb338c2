//! `cargo xtask`: the maintainers' tasks, one file per task, std only.
//!
//! - `cargo xtask ci`: everything CI checks, in order, stopping at the first failure.
//! - `cargo xtask test [ARGS]`: the test suite with its real peers (local authorization server,
//!   headless Chromium, a private Secret Service); extra arguments go to `cargo test`.
//! - `cargo xtask peers`: install and check the test peers.
//! - `cargo xtask demo [--headless]`: a full login against a real local authorization server.
//! - `cargo xtask bench`: the benchmarks.

use std::process::ExitCode;

mod bench;
mod ci;
mod demo;
mod peers;
mod sh;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match task {
        "ci" => ci::run_ci(),
        "test" => ci::test(rest),
        "peers" => peers::install().map(|_| ()),
        "demo" => demo::demo(rest),
        "bench" => bench::run_benches(rest),
        "help" | "--help" | "-h" => {
            eprintln!("usage: cargo xtask <ci | test [ARGS] | peers | demo [--headless] | bench>");
            Ok(())
        }
        other => Err(format!("unknown task {other:?}; try `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}
