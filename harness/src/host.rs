//! This machine, as every harness in this crate needs it: the repository's root, finding a
//! tool the Makefile installs, a free loopback port, and waiting until a
//! started server listens.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The repository's root: the checkout the command runs in (`make` runs
/// from the root, `cargo test` from a crate inside it), found at run time,
/// so that a binary built by another checkout sharing `CARGO_TARGET_DIR`
/// reads and writes this one's files (cargo may reuse that build, and its
/// `CARGO_MANIFEST_DIR` names the other checkout); else where this crate
/// was compiled.
pub fn repo() -> PathBuf {
    if let Ok(here) = std::env::current_dir()
        && let Some(root) = here
            .ancestors()
            .find(|dir| dir.join("template.yaml").is_file() && dir.join("harness").join("Cargo.toml").is_file())
    {
        return root.to_path_buf();
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    repo.canonicalize().unwrap_or(repo)
}

/// A tool, looked for in `$override_var`, then in the project's virtualenv
/// (`venv_path`, relative to the repository), then on `PATH`. `Err` lists
/// every place tried, for the message that tells the user to `make setup`.
pub fn find_tool(override_var: &str, venv_path: &str, name: &str) -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = std::env::var_os(override_var).map(PathBuf::from).into_iter().collect();
    candidates.push(repo().join(venv_path));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join(name)));
    }
    candidates.iter().find(|c| c.is_file()).cloned().ok_or_else(|| {
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// `python -m chat_tools.<module>`: one of the project's Python tools (the
/// package in `tools/`, put on `PYTHONPATH` here as the Makefile does), run by
/// `python` (a virtualenv's, which has the job's dependencies).
pub fn python_module(python: &Path, module: &str) -> std::process::Command {
    let mut command = std::process::Command::new(python);
    command
        .env("PYTHONPATH", repo().join("tools"))
        .args(["-m", &format!("chat_tools.{module}")]);
    command
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
}

/// Waits until something listens on the loopback `port`; false after
/// `within`.
pub async fn wait_for_port(port: u16, within: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
