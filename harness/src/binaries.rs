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
    without_the_test_runs_cargo_env(&mut cmd);
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

/// Removes the variables Cargo sets for the test (or build script) that
/// runs `cmd`: a `cargo build` started with them inherits the test package's
/// `CARGO_MANIFEST_DIR`, which `ring`'s build script watches, so it and
/// everything above it (rustls, the AWS SDK's HTTP client, the SDKs) were
/// rebuilt at each such build, and again at the next `cargo test`: about a
/// minute each way. Cargo's own settings (`CARGO_HOME`, `CARGO_TARGET_DIR`,
/// `CARGO_BUILD_*`, ...) stay.
pub fn without_the_test_runs_cargo_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let set_for_the_package = matches!(
            key,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        ) || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_");
        if set_for_the_package {
            cmd.env_remove(key);
        }
    }
}
