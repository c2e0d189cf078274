//! The shape ARCHITECTURE.md describes, held by tests: the shared crates depend on each other in
//! one direction only, the router builds no service and no database driver, and no library reads
//! the environment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Our packages and the packages of ours each depends on (normal and build dependencies).
fn workspace_graph() -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let members: BTreeSet<String> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"].is_null())
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"].is_null())
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|name| members.contains(name))
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

/// The shared crates, bottom up, as ARCHITECTURE.md lists them: each may depend only on crates
/// before it.
const LAYERS: &[&str] = &[
    "contracts",
    "settings",
    "graphql-guard",
    "web",
    "auth",
    "storage",
    "peers",
    "subgraph",
    "testing",
];

#[test]
fn the_shared_crates_depend_on_each_other_in_one_direction() {
    let graph = workspace_graph();
    for (at, name) in LAYERS.iter().enumerate() {
        let deps = graph
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is not a workspace member"));
        for dep in deps {
            let below = LAYERS[..at].contains(&dep.as_str());
            assert!(
                below,
                "{name} depends on {dep}, which is not below it in ARCHITECTURE.md's list"
            );
        }
    }
    // And nothing shared depends on a service.
    for name in LAYERS {
        for service in ["users", "products", "cart", "orders", "router", "ecommerce"] {
            assert!(
                !graph[*name].contains(service),
                "{name} depends on {service}"
            );
        }
    }
}

#[test]
fn the_router_builds_no_service_and_no_database_driver() {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "router",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
            "--locked",
        ])
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).unwrap();
    let packages: BTreeSet<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    for forbidden in [
        "users", "products", "cart", "orders", "subgraph", "storage", "auth", "peers", "sqlx",
        "mongodb", "argon2",
    ] {
        assert!(
            !packages.contains(forbidden),
            "the router builds {forbidden}: {packages:?}"
        );
    }
    assert!(packages.contains("graphql-guard") && packages.contains("contracts"));
}

/// Library code with its tests cut off: everything before a file's `#[cfg(test)]` module; files
/// that are test modules themselves are skipped.
fn library_sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            library_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            let text = std::fs::read_to_string(&path).unwrap();
            let library = match text.find("#[cfg(test)]") {
                Some(at) => text[..at].to_owned(),
                None => text,
            };
            out.push((path, library));
        }
    }
}

#[test]
fn no_library_reads_the_environment() {
    let root = root();
    let mut sources = Vec::new();
    for folder in ["crates", "subgraphs", "router/src"] {
        let folder = root.join(folder);
        if folder.join("src").is_dir() || folder.ends_with("src") {
            library_sources(&folder, &mut sources);
            continue;
        }
        for krate in std::fs::read_dir(&folder).unwrap() {
            let src = krate.unwrap().path().join("src");
            if src.is_dir() {
                library_sources(&src, &mut sources);
            }
        }
    }
    assert!(sources.len() > 50, "found the sources: {}", sources.len());
    let settings = root.join("crates/settings/src/lib.rs");
    let testing = root.join("crates/testing");
    let testbed = root.join("subgraphs/testbed");
    let mut readers = Vec::new();
    for (path, text) in &sources {
        // The test helpers may read the test run's own variables (TEST_DATABASE_URL, ...).
        if path.starts_with(&testing) || path.starts_with(&testbed) {
            continue;
        }
        for needle in [
            "env::var",
            "env::vars",
            "Env::from_process",
            "from_default_env",
        ] {
            // The settings crate is the reader; the test is about who calls it.
            if text.contains(needle) && path != &settings {
                readers.push(format!(
                    "{}: {needle}",
                    path.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        readers.is_empty(),
        "library code reads the environment (src/settings.rs is the one place): {readers:#?}"
    );
}
