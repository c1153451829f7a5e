//! The binary's commands: serve bootstraps once, `keys` create/list/revoke,
//! settings from flags, environment and file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// A `switchboard serve` child process; killed when dropped.
pub struct Served {
    pub child: Child,
    pub base: String,
    /// The bootstrap key, when this start created the default organisation.
    pub bootstrap_key: Option<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(data_dir: &Path, envs: &[(&str, &str)]) -> Served {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("SWITCHBOARD_LOG", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut bootstrap_key = None;
    let base = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(k) = line.split("store it now): ").nth(1) {
            bootstrap_key = Some(k.trim().to_owned());
        }
        if let Some(addr) = line.strip_prefix("switchboard listening on ") {
            break addr.trim().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Served {
        child,
        base,
        bootstrap_key,
    }
}

fn run(args: &[&str], data_dir: &Path) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("SWITCHBOARD_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test]
async fn bootstrap_key_is_printed_once_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path(), &[]);
    let key = first.bootstrap_key.clone().expect("first start prints a key");
    let http = reqwest::Client::new();
    let r = http.get(format!("{}/v1/calls", first.base)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    drop(first);
    let second = serve(dir.path(), &[]);
    assert!(second.bootstrap_key.is_none(), "the key is shown only on the first start");
    let r = http
        .get(format!("{}/v1/calls", second.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn keys_create_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(&["keys", "create", "--org", "acme", "--name", "crm"], dir.path());
    assert!(ok, "{err}");
    let key = out.trim().to_owned();
    assert!(
        key.starts_with("sbk_") && !key.contains(' ') && out.lines().count() == 1,
        "only the key on stdout: {out:?}"
    );
    let (ok, out2, _) = run(&["keys", "create", "--org", "acme", "--name", "backend"], dir.path());
    assert!(ok);
    let key2 = out2.trim().to_owned();
    let (ok, list, _) = run(&["keys", "list", "--org", "acme"], dir.path());
    assert!(ok);
    assert!(list.contains("crm") && list.contains("backend"));
    assert!(
        !list.contains(&key) && list.contains(&key[..12]),
        "lists show prefixes, never secrets"
    );
    let served = serve(dir.path(), &[("SWITCHBOARD_AUTH_CACHE_TTL_MS", "0")]);
    let http = reqwest::Client::new();
    let calls = format!("{}/v1/calls", served.base);
    assert_eq!(http.get(&calls).header("x-api-key", &key).send().await.unwrap().status(), 200);
    let id = list
        .lines()
        .find(|l| l.contains("crm"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (ok, out, err) = run(&["keys", "revoke", "--org", "acme", &id], dir.path());
    assert!(ok, "{err}");
    assert!(out.contains(&id));
    assert_eq!(http.get(&calls).header("x-api-key", &key).send().await.unwrap().status(), 401);
    assert_eq!(http.get(&calls).header("x-api-key", &key2).send().await.unwrap().status(), 200);
    // Organisation settings from the command line.
    let (ok, out, err) = run(
        &[
            "orgs",
            "update",
            "--org",
            "acme",
            "--default-region",
            "IN",
            "--time-zone",
            "Asia/Kolkata",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("acme"));
    let (ok, list, _) = run(&["orgs", "list"], dir.path());
    assert!(ok && list.contains("Asia/Kolkata") && list.contains(" IN "), "{list}");
    let (ok, _, err) = run(&["orgs", "update", "--org", "acme", "--time-zone", "Mars/Base"], dir.path());
    assert!(!ok && err.contains("timeZone"), "{err}");
    // Mistakes are reported, not panicked on.
    let (ok, _, err) = run(&["keys", "revoke", "--org", "acme", "key_nope"], dir.path());
    assert!(!ok && err.contains("key_nope"));
    let (ok, _, err) = run(&["keys", "list", "--org", "nobody"], dir.path());
    assert!(!ok && err.contains("nobody"));
    let (ok, _, err) = run(&["keys", "create", "--org", "Bad Slug!", "--name", "x"], dir.path());
    assert!(!ok && err.contains("--org"));
}

#[tokio::test]
async fn settings_come_from_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("switchboard.toml");
    std::fs::write(&cfg, "body_limit = 2048\n").unwrap();
    let served = serve(dir.path(), &[("SWITCHBOARD_CONFIG", cfg.to_str().unwrap())]);
    let key = served.bootstrap_key.clone().unwrap();
    let http = reqwest::Client::new();
    let big = serde_json::json!({"phone": "+15551234567", "notes": "x".repeat(3000)});
    let r = http
        .post(format!("{}/v1/calls", served.base))
        .bearer_auth(&key)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // A bad setting stops the start with a message naming it.
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("SWITCHBOARD_DURABILITY", "sometimes")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("durability"));
}
