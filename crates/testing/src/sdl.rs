//! The committed SDL snapshots under `schema/`.

use crate::var;

/// Compares a subgraph's SDL (as `_service { sdl }` returns it) with `schema/<service>.graphql`.
/// With `UPDATE_SCHEMA=1` the file is rewritten instead, to commit a deliberate change.
pub fn assert_committed_sdl(service: &str, sdl: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../schema/{service}.graphql"));
    let sdl = format!("{}\n", sdl.trim_end());
    if var("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).expect("write the schema file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "\n\nschema/{service}.graphql does not match the {service} subgraph's SDL.\n\
         If the change is intended, regenerate it (and the supergraph) with: scripts/schema.sh\n"
    );
}
