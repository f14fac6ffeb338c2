//! Faults that need other processes: SIGKILL in the middle of a save, many processes saving
//! and loading at once, a full disk, a read-only directory.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use oauth_primitives::{ProviderName, TokenStore};
use oauth_storage::FileStore;

use crate::support::{
    Home, check_consistent, child, is_root, listing, peers_required, record, results, unique_name,
    wrapped,
};

/// A small xorshift generator: the kill moments need to vary, not to be unpredictable.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        #[allow(clippy::cast_possible_truncation, reason = "any bits make a seed")]
        Self((nanos as u64) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Spawns a `save-loop` writer, waits until it runs, lets it write for a random moment, kills
/// it with SIGKILL and checks that the record parses and is whole. `rounds` times.
pub(crate) fn crash_rounds(
    max_pause: Duration,
    store: &dyn TokenStore,
    name: &ProviderName,
    envs: &[(&str, String)],
    rounds: usize,
) {
    let mut rng = Rng::seeded();
    let mut tags = std::collections::HashSet::new();
    for round in 0..rounds {
        let mut cmd = child("save-loop");
        cmd.env("T_NAME", name.as_str())
            .env("T_WRITER", round.to_string())
            .stdout(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut writer = cmd.spawn().unwrap();
        let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
        assert!(
            lines.any(|l| l.unwrap() == "RESULT started"),
            "writer never started"
        );
        std::thread::sleep(Duration::from_micros(
            rng.below(u64::try_from(max_pause.as_micros()).unwrap()),
        ));
        writer.kill().unwrap();
        writer.wait().unwrap();
        let found = store
            .load(name)
            .unwrap_or_else(|e| panic!("round {round}: the record does not load: {e}"))
            .expect("the seed record or a newer one is always there");
        let tag = check_consistent(&found.record)
            .unwrap_or_else(|e| panic!("round {round}: torn record: {e}"));
        tags.insert(tag);
    }
    // The kills landed at different moments (not all before the first save).
    assert!(
        tags.len() > rounds / 4,
        "only {} distinct records seen",
        tags.len()
    );
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_torn_file_record() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("crash");
    store.save(&name, &record("seed", 10)).unwrap();
    crash_rounds(
        Duration::from_millis(30),
        &store,
        &name,
        &[
            ("CH_HOME", home.path().display().to_string()),
            ("T_STORE", "file".into()),
        ],
        60,
    );
    // At most the one temp file of an interrupted save is left, and the next save removes it.
    assert!(listing(&home.path().join("tokens")).len() <= 2);
    store.save(&name, &record("final", 10)).unwrap();
    assert_eq!(
        listing(&home.path().join("tokens")),
        [store.path_for(&name)]
    );
}

/// Runs `writers` `hammer` children saving and loading one provider and `readers` children
/// loading it in a tight loop until the writers are done; every process checks that each
/// record it loads is whole.
pub(crate) fn hammer(
    envs: &[(&str, String)],
    name: &ProviderName,
    (writers, readers): (usize, usize),
    rounds: usize,
) {
    let barrier = tempfile::tempdir().unwrap();
    let go = barrier.path().join("go");
    let stop = barrier.path().join("stop");
    let spawn = |w: usize, reader: bool| {
        let mut cmd = child("hammer");
        cmd.env("T_NAME", name.as_str())
            .env("T_WRITER", w.to_string())
            .env("T_ROUNDS", rounds.to_string())
            .env("T_GO", &go)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if reader {
            cmd.env("T_STOP", &stop);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.spawn().unwrap()
    };
    let writing: Vec<_> = (0..writers).map(|w| spawn(w, false)).collect();
    let reading: Vec<_> = (0..readers).map(|r| spawn(writers + r, true)).collect();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&go, b"").unwrap();
    let finish = |c: std::process::Child| {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "a process saw a torn record or failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT ok "))
            .unwrap()
            .to_owned();
        let mut fields = line.split(' ').map(|f| f.parse::<usize>().unwrap());
        (fields.next().unwrap(), fields.next().unwrap())
    };
    for c in writing {
        finish(c);
    }
    std::fs::write(&stop, b"").unwrap();
    let (mut loads, mut changes) = (0, 0);
    for c in reading {
        let (l, ch) = finish(c);
        loads += l;
        changes += ch;
    }
    // The readers really ran while the writers wrote: they saw the record change.
    assert!(
        changes > readers,
        "readers saw {changes} changes in {loads} loads"
    );
}

#[test]
fn many_processes_saving_and_loading_never_see_a_torn_record() {
    let home = Home::new();
    let name = unique_name("hammer");
    hammer(
        &[
            ("CH_HOME", home.path().display().to_string()),
            ("T_STORE", "file".into()),
        ],
        &name,
        (6, 2),
        150,
    );
    let store = FileStore::new(home.path());
    check_consistent(&store.load(&name).unwrap().unwrap().record).unwrap();
}

#[test]
fn a_write_that_hits_the_file_size_limit_fails_and_keeps_the_old_record() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("efbig");
    store.save(&name, &record("old", 100)).unwrap();
    // RLIMIT_FSIZE of 8 blocks: writing the 64 kB record fails with EFBIG (SIGXFSZ ignored).
    let mut inner = child("save-big");
    inner
        .env("CH_HOME", home.path())
        .env("T_NAME", name.as_str());
    let out = results(wrapped(r#"trap '' XFSZ; ulimit -f 8; exec "$@""#, &inner));
    let err = out.iter().find_map(|l| l.strip_prefix("err ")).unwrap();
    assert!(err.starts_with("STORAGE_ERROR "), "{err}");
    assert!(err.contains("previous record was kept"), "{err}");
    assert!(
        err.contains(&store.path_for(&name).display().to_string()),
        "{err}"
    );
    assert_eq!(
        check_consistent(&store.load(&name).unwrap().unwrap().record).unwrap(),
        "old"
    );
    assert_eq!(
        listing(&home.path().join("tokens")),
        [store.path_for(&name)]
    );
}

/// Runs `inner` in a private mount namespace after `setup` (root only); `None` when this
/// machine cannot (then the caller skips, or fails under `CH_TEST_PEERS=1`).
fn in_mount_namespace(setup: &str, inner: &std::process::Command) -> Option<Vec<String>> {
    let probe = std::process::Command::new("unshare")
        .args(["-m", "true"])
        .stderr(Stdio::null())
        .status();
    if !is_root() {
        println!("skipped: mount-namespace fault tests need root");
        return None;
    }
    if !probe.is_ok_and(|s| s.success()) {
        // CI runs as root on machines where this works: not being able to is a failure there.
        assert!(
            !peers_required(),
            "CH_TEST_PEERS=1 but `unshare -m` fails as root"
        );
        println!("skipped: mount-namespace fault tests need root and unshare -m");
        return None;
    }
    let script = format!(r#"{setup} && exec "$@""#);
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["-m", "sh", "-c", &script, "sh"])
        .arg(inner.get_program())
        .args(inner.get_args());
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    Some(results(cmd))
}

#[test]
fn a_full_disk_fails_the_save_and_keeps_the_old_record() {
    let home = Home::new();
    let tokens = home.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let name = unique_name("enospc");
    let mut inner = child("tmpfs-full");
    inner
        .env("CH_HOME", home.path())
        .env("T_NAME", name.as_str());
    let setup = format!(
        "mount -t tmpfs -o size=16k,mode=0700 tmpfs '{}'",
        tokens.display()
    );
    let Some(out) = in_mount_namespace(&setup, &inner) else {
        return;
    };
    let err = out.iter().find_map(|l| l.strip_prefix("err ")).unwrap();
    assert!(err.starts_with("STORAGE_ERROR "), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(out.contains(&"kept small".to_owned()), "{out:?}");
    assert!(out.contains(&"files 1".to_owned()), "{out:?}");
}

#[test]
fn a_read_only_directory_fails_the_save_and_keeps_the_old_record() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("erofs");
    store.save(&name, &record("old", 100)).unwrap();
    let tokens = home.path().join("tokens");
    let mut inner = child("save-big");
    inner
        .env("CH_HOME", home.path())
        .env("T_NAME", name.as_str());
    let setup = format!(
        "mount --bind '{0}' '{0}' && mount -o remount,bind,ro '{0}'",
        tokens.display()
    );
    let Some(out) = in_mount_namespace(&setup, &inner) else {
        return;
    };
    let err = out.iter().find_map(|l| l.strip_prefix("err ")).unwrap();
    assert!(err.starts_with("STORAGE_ERROR "), "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(
        check_consistent(&store.load(&name).unwrap().unwrap().record).unwrap(),
        "old"
    );
}
