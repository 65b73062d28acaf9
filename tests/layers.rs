//! The layering check (ARCHITECTURE.md, "Layers"): a module may use modules of its own layer or
//! of lower layers, never of a higher one; and the two edges (`gateway`, `api`) do not use each
//! other. It reads every `crate::…` path outside comments in `src/`, so an upward `use` — or an
//! inline path such as `crate::api::error_response(…)` — fails the test command.

use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and its layer, lowest first.
const LAYERS: &[(&str, u8)] = &[
    // 0 — pure: what things are and the rules they follow.
    ("ids", 0),
    ("protocol", 0),
    ("domain", 0),
    ("routing", 0),
    ("config", 0),
    // 1 — storage.
    ("engine", 1),
    ("archive", 1),
    // 2 — the node's services, which name no actor and no REST module.
    ("attachments", 2),
    ("archiver", 2),
    ("auth", 2),
    ("http_error", 2),
    ("hub", 2),
    ("limiter", 2),
    ("mailer", 2),
    ("webhook", 2),
    ("metrics", 2),
    ("node", 2),
    ("orgs", 2),
    ("placement", 2),
    ("privacy", 2),
    ("shutdown", 2),
    ("telemetry", 2),
    // 3 — the actors (`remote_messages!` is their macro, exported at the crate root).
    ("actors", 3),
    ("remote_messages", 3),
    // 4 — the edges.
    ("api", 4),
    ("gateway", 4),
    // 5 — the process.
    ("startup", 5),
];

/// Pairs of the same layer that must not use each other either.
const APART: &[(&str, &str)] = &[("gateway", "api"), ("api", "gateway")];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for `lib.rs` and `main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// The module names after each `crate::` outside comments.
fn crate_paths(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((n + 1, name));
            }
            rest = after;
        }
    }
    found
}

/// Every use of a higher layer (or of a kept-apart peer) in `src/`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        let Some(own) = layer(&module) else {
            found.push(format!(
                "{}: module `{module}` has no layer",
                file.display()
            ));
            continue;
        };
        let source = std::fs::read_to_string(&file).expect("read a source file");
        for (line, used) in crate_paths(&source) {
            if used == module {
                continue;
            }
            let Some(theirs) = layer(&used) else {
                found.push(format!(
                    "{}:{line}: `crate::{used}` has no layer",
                    file.display()
                ));
                continue;
            };
            if theirs > own || APART.contains(&(module.as_str(), used.as_str())) {
                found.push(format!(
                    "{}:{line}: `{module}` (layer {own}) uses `crate::{used}` (layer {theirs})",
                    file.display()
                ));
            }
        }
    }
    found
}

#[test]
fn no_module_uses_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "layering violations (ARCHITECTURE.md, \"Layers\"):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_catches_an_upward_use_and_ignores_comments() {
    let dir = std::env::temp_dir().join(format!("layers-check-{}", std::process::id()));
    let engine = dir.join("engine");
    std::fs::create_dir_all(&engine).expect("temp dir");
    std::fs::write(
        engine.join("mod.rs"),
        "//! See [`crate::actors`].\nuse crate::ids::OrgId;\nfn f() { crate::api::error_response(); }\n",
    )
    .expect("write");
    std::fs::write(dir.join("gateway.rs"), "use crate::api::ApiError;\n").expect("write");
    let found = violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("`engine` (layer 1) uses `crate::api` (layer 4)"));
    assert!(found[1].contains("`gateway` (layer 4) uses `crate::api` (layer 4)"));
}
