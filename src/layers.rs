//! The layering of `src/`, checked: a module imports only modules of its own layer or those below
//! it, leaves import only other leaves, and no modules import each other in a circle. Read from
//! the source files themselves (outside comments and test modules), so that a new `use` that
//! breaks the drawing fails here rather than in a reviewer's reading.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's layer, lowest first.
fn layer(module: &str) -> u8 {
    match module.split("::").next().unwrap_or_default() {
        "fs" => 1,
        "responder" => 2,
        "http1" => 3,
        // Requests answered whole for a host that frames them (HTTP/2): above `http1`, whose
        // head fields, exchange record and `Host` rule it shares.
        "streams" => 4,
        "lib" | "properties" | "layers" => 5,
        // The leaves: message types, options, credentials, syntax, escaping, digits, time.
        _ => 0,
    }
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file under `src/` is (`http1::wire`, `responder`, `lib`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [.., last] if last == "mod" => parts[..parts.len() - 1].join("::"),
        _ => parts.join("::"),
    }
}

/// The modules a file's code names as `crate::…` (comments and its test module left out),
/// each as the longest prefix that is a known module.
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    let mut found = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let path: String = line[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            if let Some(module) = (1..=segments.len())
                .rev()
                .map(|n| segments[..n].join("::"))
                .find(|m| modules.contains(m))
            {
                found.insert(module);
            }
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    files
        .iter()
        .map(|file| {
            let module = module_of(&src, file);
            let text = std::fs::read_to_string(file).unwrap();
            let mut uses = imports(&text, &modules);
            uses.remove(&module);
            (module, uses)
        })
        .collect()
}

#[test]
fn no_module_imports_a_higher_layer_and_leaves_import_only_leaves() {
    let graph = graph();
    assert!(graph.contains_key("http1::connection") && graph.contains_key("message"));
    let mut wrong = Vec::new();
    for (module, uses) in &graph {
        for used in uses {
            if layer(used) > layer(module) {
                wrong.push(format!("{module} -> {used}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports of a higher layer: {wrong:?}");
}

#[test]
fn no_modules_import_each_other_in_a_circle() {
    let graph = graph();
    // Depth-first search; a module met again while on the path closes a circle.
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == module) {
            let mut circle = path[start..].to_vec();
            circle.push(module.to_owned());
            return Some(circle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for used in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(used, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        let circle = visit(module, &graph, &mut Vec::new(), &mut done);
        assert!(circle.is_none(), "an import circle: {circle:?}");
    }
}
