//! The workspace keeps test code out of the functions' binaries: no normal
//! (non-dev) dependency path turns on a `test-util` feature, so the function
//! binaries `make demo` builds beside the tools, and `make measure` beside
//! `lambda-probe`, are the release-shaped ones. Read from `cargo tree`, which
//! resolves features as a build of the same packages does when dev-edges are
//! left out (Cargo's resolver 2 and later do not unify dev-dependency
//! features into builds that are not tests, benchmarks or examples).

use std::process::Command;

use harness::host::repo;

/// Every `package feature` pair enabled when `packages` are built together,
/// without tests.
fn features_of_a_build_of(packages: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo())
        .args(["tree", "--locked", "--offline", "--edges", "normal,build,features"])
        .args(["--prefix", "none", "--format", "{p} [{f}]"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A `cargo tree` line that shows test code this workspace asks for: the
/// mocks, or a `test-util` feature on the shared crate, the transformer's
/// library (its test-only API), the SDK clients or tokio. (testkit, the generated events, is a dependency of the tools, which
/// `lambda-probe` uses; a function never links it, checked below.) (aws-config itself depends on
/// aws-credential-types with `test-util` on, which turns on that feature of
/// aws-smithy-types and aws-smithy-runtime-api too: in every binary that
/// uses aws-config, ours included, and not ours to change.)
fn is_our_test_code(line: &str) -> bool {
    let package = line.split(' ').next().unwrap_or_default();
    match package {
        "aws-smithy-mocks" => true,
        "chat-pipeline" | "transformer" | "aws-sdk-kinesis" | "aws-sdk-firehose" | "aws-sdk-s3" | "tokio" => {
            line.contains("test-util")
        }
        _ => false,
    }
}

#[test]
fn builds_of_the_functions_and_the_tools_compile_no_test_util() {
    // `make demo`'s and `make measure`'s builds, and a function alone (as
    // cargo lambda and sam build it).
    for packages in [
        &["producer", "transformer", "harness"][..],
        &["transformer"],
        &["producer"],
    ] {
        let lines = features_of_a_build_of(packages);
        assert!(
            lines.iter().any(|l| l.starts_with("chat-pipeline ")),
            "cargo tree listed the shared crate for {packages:?}: {lines:?}"
        );
        let with_test_code: Vec<_> = lines.iter().filter(|l| is_our_test_code(l)).collect();
        assert!(
            with_test_code.is_empty(),
            "a build of {packages:?} would compile test code: {with_test_code:?}"
        );
    }
    for function in ["producer", "transformer"] {
        let lines = features_of_a_build_of(&[function]);
        assert!(
            !lines.iter().any(|l| l.starts_with("testkit ")),
            "{function} links the generated events"
        );
    }
}

#[test]
fn the_test_builds_do_get_the_test_doubles() {
    // The same query with dev-dependencies included finds them: the check
    // above can fail.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .current_dir(repo())
        .args(["tree", "--locked", "--offline", "--edges", "all", "--prefix", "none"])
        .args(["--format", "{p} [{f}]", "-p", "transformer"])
        .output()
        .expect("cargo runs");
    let text = String::from_utf8_lossy(&out.stdout);
    for package in ["chat-pipeline ", "transformer "] {
        assert!(
            text.lines().any(|l| l.starts_with(package) && l.contains("test-util")),
            "{package}with test-util: {text}"
        );
    }
}
