//! The architecture, checked on the source: no module imports one that imports it (directly
//! or through others), and each folder of the core imports only the folders below it, as its
//! `mod.rs` says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module of the core may import (besides itself).
const ALLOWED: &[(&str, &[&str])] = &[
    ("cancel", &[]),
    ("oci", &[]),
    ("source", &["cancel", "oci", "layer::tar"]),
    ("model", &["oci"]),
    ("layer", &["cancel", "model", "oci", "source"]),
    ("output", &["model", "oci"]),
    (
        "inspect",
        &["cancel", "layer", "model", "oci", "output", "source"],
    ),
    ("search", &["cancel", "layer", "model", "oci", "source"]),
];

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file (`src/layer/tar.rs` → `layer::tar`; `mod.rs` names its folder).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its unit tests.
fn code_of(text: &str) -> String {
    let text = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Paths named after `crate::` (`crate::model::Entry` → `model::Entry`), and `super::` paths
/// resolved against `module`.
fn named_paths(code: &str, module: &str, is_mod_rs: bool) -> Vec<String> {
    let path_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut paths = Vec::new();
    for (prefix, base) in [
        ("crate::", String::new()),
        ("super::", {
            let mut parts: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
            if !is_mod_rs {
                parts.pop();
            }
            parts.pop();
            parts.join("::")
        }),
    ] {
        for (at, _) in code.match_indices(prefix) {
            if code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            // `super::` only in a file's own top-level `use` lines: inside an inline module it
            // means another parent.
            if prefix == "super::" && !code[..at].ends_with("\nuse ") {
                continue;
            }
            let rest: String = code[at + prefix.len()..]
                .chars()
                .take_while(|&c| path_char(c))
                .collect();
            let rest = rest.trim_end_matches(':');
            if rest.is_empty() && base.is_empty() {
                continue;
            }
            let full = if base.is_empty() {
                rest.to_owned()
            } else {
                format!("{base}::{rest}")
            };
            paths.push(full);
        }
    }
    // A folder's `mod.rs` re-exports its children's items: `pub use entry::Entry`.
    if is_mod_rs {
        for line in code.lines() {
            let rest = line
                .strip_prefix("pub use ")
                .or_else(|| line.strip_prefix("use "))
                .unwrap_or_default();
            if let Some((child, _)) = rest.split_once("::")
                && !["crate", "super", "self", "std"].contains(&child)
                && child.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                paths.push(format!("{module}::{child}"));
            }
        }
    }
    paths
}

/// The longest known module a path starts with.
fn resolve<'a>(path: &str, modules: &'a BTreeSet<String>) -> Option<&'a String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    while !parts.is_empty() {
        if let Some(found) = modules.get(&parts.join("::")) {
            return Some(found);
        }
        parts.pop();
    }
    None
}

/// The module graph of `src/`: which module names which.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    files
        .iter()
        .map(|file| {
            let module = module_of(&src, file);
            let text = std::fs::read_to_string(file).expect("read source");
            let is_mod_rs = file.file_name().is_some_and(|n| n == "mod.rs");
            let imports = named_paths(&code_of(&text), &module, is_mod_rs)
                .iter()
                .filter_map(|path| resolve(path, &modules))
                .filter(|&target| {
                    !target.is_empty()
                        && *target != module
                        && !module.starts_with(&format!("{target}::"))
                })
                .cloned()
                .collect();
            (module, imports)
        })
        .collect()
}

/// A cycle through `start`, if any (depth-first, with an explicit stack).
fn cycle_from(start: &str, graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((at, route)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == start {
                return Some(route.clone());
            }
            if seen.insert(next.clone()) {
                let mut longer = route.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_module_imports_one_that_imports_it() {
    let graph = import_graph();
    assert!(graph.len() > 40, "the source tree was found: {graph:?}");
    assert!(
        graph["source::archive"].contains("layer::tar") && graph["cli"].contains("output"),
        "imports are read: {graph:?}"
    );
    let cycles: Vec<Vec<String>> = graph
        .keys()
        .filter_map(|module| cycle_from(module, &graph))
        .collect();
    assert!(cycles.is_empty(), "import circles: {cycles:?}");
}

#[test]
fn each_folder_of_the_core_imports_only_what_is_below_it() {
    let graph = import_graph();
    let mut broken = Vec::new();
    for (module, imports) in &graph {
        let top = module.split("::").next().unwrap_or_default();
        let Some((_, allowed)) = ALLOWED.iter().find(|(name, _)| *name == top) else {
            continue;
        };
        for target in imports {
            let target_top = target.split("::").next().unwrap_or_default();
            let fine = target_top == top
                || allowed.iter().any(|a| {
                    target == a || target.starts_with(&format!("{a}::")) || *a == target_top
                });
            if !fine {
                broken.push(format!("{module} imports {target}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports against the layering: {broken:?}"
    );
}
