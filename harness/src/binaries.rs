//! Building the functions' binaries from tests and tools, as `cargo build`
//! would, and finding where they landed.

use std::path::PathBuf;
use std::process::Command;

/// Builds the binary `name` (a workspace package of the same name) with the
/// given profile flags and returns its path.
pub fn build(name: &str, release: bool) -> Result<PathBuf, String> {
    build_from(name, name, release)
}

/// Builds the binary `name` of the workspace package `package` (the
/// harness's tools: `demo`, `replay`) and returns its path.
pub fn build_from(package: &str, name: &str, release: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "--message-format=json",
        "-p",
        package,
        "--bin",
        name,
    ]);
    if release {
        cmd.arg("--release");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cargo build -p {package} --bin {name}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build -p {package} --bin {name} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo build -p {package} --bin {name} reported no executable"))
}
