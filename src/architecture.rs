//! ARCHITECTURE.md's dependency block held true: the `crate::` paths between top-level modules
//! (and the binary's `faceauth::` paths) are exactly the arrows the block draws, and each module
//! points only at modules below it. A test, so the map cannot drift from the code unnoticed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The block's rows in order: `a ─▶ b, c (a note)`; "(nothing of ours)" is no arrow.
fn drawn(markdown: &str) -> Vec<(String, BTreeSet<String>)> {
    let section = markdown.split("## Modules and the direction of dependencies").nth(1).unwrap_or_default();
    let block = section.split("```").nth(1).unwrap_or_default();
    block
        .lines()
        .filter_map(|line| line.split_once("─▶"))
        .map(|(from, to)| {
            let mut names = String::new();
            let mut depth = 0;
            for ch in to.chars() {
                match ch {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ if depth == 0 => names.push(ch),
                    _ => {}
                }
            }
            let to = names.split([',', ' ']).filter(|n| !n.is_empty()).map(str::to_string).collect();
            (from.trim().to_string(), to)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a line of code names after `prefix` (`crate::` or `faceauth::`), with
/// `prefix{a, b::c}` groups read at their first level. Comments are left out.
fn named(line: &str, prefix: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = line.split("//").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        let mut names = Vec::new();
        match rest.strip_prefix('{') {
            Some(group) => {
                let (mut depth, mut word, mut first) = (1, String::new(), true);
                for ch in group.chars() {
                    match ch {
                        '{' => depth += 1,
                        '}' if depth == 1 => break,
                        '}' => depth -= 1,
                        ',' if depth == 1 => first = true,
                        c if depth == 1 && first && (c.is_alphanumeric() || c == '_') => word.push(c),
                        _ if !word.is_empty() => {
                            names.push(std::mem::take(&mut word));
                            first = false;
                        }
                        _ => {}
                    }
                }
                names.extend((!word.is_empty()).then_some(word));
            }
            None => names.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()),
        }
        found.extend(names.into_iter().filter(|n| modules.contains(n)));
    }
    found
}

/// Which top-level modules each one names, from the source.
fn imported() -> Graph {
    let src = root().join("src");
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".rs").map(str::to_string))
        .filter(|m| m != "lib" && m != "architecture")
        .collect();
    let mut graph = Graph::new();
    for module in &modules {
        let mut files = vec![src.join(format!("{module}.rs"))];
        rust_files(&src.join(module), &mut files);
        let prefix = if module == "main" { "faceauth::" } else { "crate::" };
        let mut names = BTreeSet::new();
        for file in files {
            for line in std::fs::read_to_string(&file).unwrap().lines() {
                names.extend(named(line, prefix, &modules));
            }
        }
        names.remove(module);
        graph.insert(module.clone(), names);
    }
    graph
}

#[test]
fn the_dependency_block_draws_every_import_between_top_level_modules_and_no_other() {
    let rows = drawn(&std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap());
    let code = imported();
    let map: Graph = rows.iter().cloned().collect();
    assert_eq!(map.len(), rows.len(), "a module has two rows");
    let mut wrong = Vec::new();
    for (module, uses) in &code {
        match map.get(module) {
            None => wrong.push(format!("{module}: no row (it uses {uses:?})")),
            Some(drawn) if drawn != uses => wrong.push(format!(
                "{module}: drawn but not used {:?}; used but not drawn {:?}",
                drawn.difference(uses).collect::<Vec<_>>(),
                uses.difference(drawn).collect::<Vec<_>>()
            )),
            Some(_) => {}
        }
    }
    wrong.extend(map.keys().filter(|m| !code.contains_key(*m)).map(|m| format!("{m}: a row for no module")));
    // Each row points only at rows below it.
    for (i, (module, uses)) in rows.iter().enumerate() {
        for used in uses {
            if !rows[i + 1..].iter().any(|(m, _)| m == used) {
                wrong.push(format!("{module} ─▶ {used} points up the list"));
            }
        }
    }
    assert!(wrong.is_empty(), "ARCHITECTURE.md's dependency block and src/ differ:\n{}", wrong.join("\n"));
}

#[test]
fn a_path_is_followed_through_supers_and_groups_to_the_items_it_names() {
    let own: Vec<String> = ["service", "verify", "outcome"].iter().map(|s| s.to_string()).collect();
    let mut items = Vec::new();
    items_named("super::super::{error::ServiceError, FaceAuth, liveness::{self, Liveness}};", own, &mut items);
    let shown: Vec<String> = items.iter().map(|(m, i)| format!("{}::{i}", m.join("::"))).collect();
    assert_eq!(shown, ["service::error::ServiceError", "service::FaceAuth", "service::liveness::Liveness"]);
}

#[test]
fn a_use_over_several_lines_is_read_whole() {
    let joined = statements("use super::{\n    FaceAuth, // the service\n    error::ServiceError,\n};\nfn f() {}\n");
    assert_eq!(joined[0], (0, "use super::{FaceAuth,error::ServiceError,};".to_string()));
    assert_eq!(joined[1].0, 4);
}

#[test]
fn imports_are_read_through_groups_and_past_comments() {
    let modules: BTreeSet<String> = ["face", "store", "service"].iter().map(|s| s.to_string()).collect();
    let got = named("use crate::{face::{Detection, Embedding}, store::Bytes}; // crate::service", "crate::", &modules);
    assert_eq!(got, ["face", "store"].iter().map(|s| s.to_string()).collect());
    let rows =
        drawn("## Modules and the direction of dependencies\n```\na ─▶ b, c (note, d)\nb ─▶ (nothing of ours)\n```");
    assert_eq!(rows[0].1, ["b", "c"].iter().map(|s| s.to_string()).collect());
    assert!(rows[1].1.is_empty());
}

/// The module a file is (`src/service/liveness/pose.rs` → `service::liveness::pose`).
fn module_of(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root().join("src")).unwrap().with_extension("");
    relative.iter().map(|part| part.to_string_lossy().into_owned()).collect()
}

fn is_module(path: &[String]) -> bool {
    let at = path.iter().fold(root().join("src"), |dir, part| dir.join(part));
    at.is_dir() || at.with_extension("rs").is_file()
}

/// The items (not modules) a path names, each with the module it names it in: `super::{a::X, Y}`
/// read in `service::b` gives (`service::a`, X) and (`service`, Y).
fn items_named(path: &str, mut module: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    let path = path.trim();
    if let Some(group) = path.strip_prefix('{') {
        let (mut depth, mut piece) = (0, String::new());
        for ch in group.chars() {
            match ch {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items_named(&std::mem::take(&mut piece), module.clone(), out);
                    continue;
                }
                _ => {}
            }
            piece.push(ch);
        }
        return items_named(&piece, module, out);
    }
    let name: String = path.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    let rest = path[name.len()..].strip_prefix("::");
    match name.as_str() {
        "" | "self" => {}
        "super" => {
            module.pop();
            items_named(rest.unwrap_or_default(), module, out);
        }
        _ => {
            module.push(name.clone());
            if is_module(&module) {
                items_named(rest.unwrap_or_default(), module, out);
            } else {
                module.pop();
                out.push((module, name));
            }
        }
    }
}

/// The code's lines, comments left out, with a `use` that spans lines joined into its first
/// line (a group of imports over several lines is read whole).
fn statements(code: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (number, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or_default();
        match out.last_mut() {
            Some((_, joined)) if open => joined.push_str(line.trim()),
            _ => out.push((number, line.to_string())),
        }
        let last = &out.last().expect("a line was kept").1;
        open = last.trim_start().starts_with("use ") || last.trim_start().starts_with("pub use ");
        open &= !last.trim_end().ends_with(';');
    }
    out
}

/// Where a file's code (its tests left out) names an item of a module above it.
fn reaches_up(file: &Path) -> Vec<String> {
    let own = module_of(file);
    let text = std::fs::read_to_string(file).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = Vec::new();
    for (number, line) in statements(code) {
        let line = line.as_str();
        for (at, _) in line.match_indices(['s', 'c']) {
            let rest = &line[at..];
            let before = line[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut items = Vec::new();
            if let Some(path) = rest.strip_prefix("crate::") {
                items_named(path, Vec::new(), &mut items);
            } else if rest.starts_with("super::") {
                items_named(rest, own.clone(), &mut items);
            }
            for (module, item) in items {
                if !module.is_empty() && module.len() < own.len() && own.starts_with(&module) {
                    found.push(format!("{}:{}: {}::{item}", file.display(), number + 1, module.join("::")));
                }
            }
        }
    }
    found
}

#[test]
fn parents_route_and_leaves_help_no_module_uses_an_item_of_a_module_above_it() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut wrong: Vec<String> = files
        .iter()
        // A test module tests its parent: it may use the parent's items.
        .filter(|f| {
            let within = f.strip_prefix(root().join("src")).unwrap();
            !within.iter().any(|part| part.to_string_lossy().starts_with("test"))
        })
        .flat_map(|f| reaches_up(f))
        .collect();
    wrong.sort();
    assert!(
        wrong.is_empty(),
        "{} uses of a parent's items (move the item to a module of its own):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
