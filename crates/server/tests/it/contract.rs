//! The OpenAPI document as a contract: the real `switchboard` binary is
//! started on a fresh SQLite folder and schemathesis runs every operation
//! with every check (`--checks all`: server errors, status codes, content
//! types, headers and bodies against the schema, schema-valid data
//! accepted, schema-violating data refused, missing credentials refused,
//! use after delete, resources available after create, stateful sequences
//! along the document's links). The operations it leaves out, and why, are
//! in `tests/contract/schemathesis.toml`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The schemathesis release this contract is checked with.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Installs the pinned schemathesis when it is missing (or another version).
fn ensure_schemathesis() {
    let version = Command::new("python3")
        .args(["-c", "import schemathesis; print(schemathesis.__version__)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let pinned = SCHEMATHESIS.split("==").nth(1).unwrap();
    if version.as_deref() != Some(pinned) {
        let ok = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", SCHEMATHESIS])
            .status()
            .expect("python3 must be installed")
            .success();
        assert!(ok, "could not install {SCHEMATHESIS}");
    }
}

#[test]
fn schemathesis_finds_the_server_keeps_its_contract() {
    ensure_schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(crate::cli::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--durability", "normal", "--dialer", "off"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let (mut key, mut base) = (None, None);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(k) = line.split_whitespace().find(|w| w.starts_with("sbk_")) {
            key = Some(k.to_owned());
        }
        if let Some(url) = line.strip_prefix("switchboard listening on ") {
            base = Some(url.trim().to_owned());
            break;
        }
    }
    let (key, base) = (key.expect("bootstrap key printed"), base.expect("listening address printed"));
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/contract/schemathesis.toml");
    let out = Command::new("python3")
        .args(["-m", "schemathesis.cli", "--no-color", "--config-file", config, "run"])
        .arg(format!("{base}/openapi.json"))
        .args(["--checks", "all", "--workers", "2"])
        .env("SWITCHBOARD_CONTRACT_KEY", &key)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found the server breaking its contract:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It ran every phase over the operations (not a run that tested nothing).
    assert!(report.contains("Stateful"), "{report}");
    let tested: usize = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(tested >= 80, "only {tested} operations tested:\n{report}");
    // And it ran them authenticated: only logout (an API key cannot log
    // out) and Twilio's signed callbacks may answer nothing but 401/403.
    let refused: usize = report
        .lines()
        .find_map(|l| l.split("Authentication failed: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(refused <= 3, "{refused} operations answered only 401/403:\n{report}");
}
