//! `cargo xtask demo`: a full login against a real local authorization server.

use crate::sh::Result;

pub(crate) fn run(_args: &[String]) -> Result {
    Err("the demo needs the `ch` command-line interface, which is not built yet".into())
}
