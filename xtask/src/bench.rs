//! `cargo xtask bench`: the benchmarks, with their figures printed.

use crate::sh::{Result, cmd, run};

pub(crate) fn run_benches(extra: &[String]) -> Result {
    let mut c = cmd("cargo", &["bench", "--workspace"]);
    c.args(extra);
    run(&mut c)
}
