//! The architecture check: dependencies between the crate's top-level modules form a tree (a
//! directed acyclic graph), as tower layers its crates. Every `crate::NAME` path in a module's
//! code (comments and unit tests excluded) is an edge from that module to `NAME`; a cycle
//! fails the test with its path.
//!
//! `cargo test --lib module_graph -- --nocapture` prints the graph, lowest layer first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Test files and the unit-test kit may reach anywhere: they are not part of the layering.
fn is_test_file(name: &str) -> bool {
    name.ends_with("_tests.rs") || name == "testkit.rs" || name == "module_graph.rs"
}

/// The code of a file without comments and without its trailing `#[cfg(test)] mod tests`.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names used after `crate::`: `crate::a::b` gives `a`, `crate::{a, b::c}` gives `a` and `b`.
fn used_modules(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = true;
            for (k, c) in list.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        used.insert(ident(&list[k..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            used.insert(ident(rest));
        }
    }
    used
}

/// The graph of `src/`: top-level module → the top-level modules it uses.
fn graph(src: &Path) -> Graph {
    let mut files = vec![];
    rust_files(src, &mut files);
    let top = |p: &Path| -> Option<String> {
        let rel = p.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?;
        Some(first.trim_end_matches(".rs").to_string())
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|p| top(p)).collect();
    let mut g = Graph::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(module) = top(path) else { continue };
        if is_test_file(name) || module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("source is UTF-8");
        let edges = g.entry(module.clone()).or_default();
        for used in used_modules(&code_of(&text)) {
            if used != module && modules.contains(&used) {
                edges.insert(used);
            }
        }
    }
    g
}

/// A cycle, as the path of modules around it, if there is one.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        m: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(g, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|m| visit(g, m, &mut vec![], &mut done))
}

/// Layer of each module: 0 for modules that use none, else 1 + the highest layer used.
fn layers(g: &Graph) -> BTreeMap<String, usize> {
    let mut layer = BTreeMap::new();
    while layer.len() < g.len() {
        let before = layer.len();
        for (m, uses) in g {
            if !layer.contains_key(m)
                && uses
                    .iter()
                    .all(|u| layer.contains_key(u) || !g.contains_key(u))
            {
                let l = uses
                    .iter()
                    .filter_map(|u| layer.get(u))
                    .max()
                    .map_or(0, |l| l + 1);
                layer.insert(m.clone(), l);
            }
        }
        if layer.len() == before {
            break; // a cycle; find_cycle names it
        }
    }
    layer
}

#[test]
fn top_level_modules_form_a_tree() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    assert!(g.len() > 10, "the source tree was not found: {g:?}");
    if let Some(cycle) = find_cycle(&g) {
        panic!(
            "import cycle between top-level modules: {}",
            cycle.join(" -> ")
        );
    }
    let layer = layers(&g);
    let mut by_layer: Vec<(usize, &String)> = layer.iter().map(|(m, l)| (*l, m)).collect();
    by_layer.sort();
    for (l, m) in by_layer {
        let uses: Vec<&str> = g[m].iter().map(String::as_str).collect();
        println!("{l:>2} {m:<12} -> {}", uses.join(" "));
    }
}

#[test]
fn the_check_sees_every_form_of_path_and_finds_cycles() {
    let code = code_of(
        "use crate::a::X;\nuse crate::{b, c::{D, E}};\n// crate::hidden\nfn f() { crate::d::g() }\n#[cfg(test)]\nmod tests {\n use crate::t;\n}\n",
    );
    let used: Vec<String> = used_modules(&code).into_iter().collect();
    assert_eq!(used, ["a", "b", "c", "d"]);
    let mut g = Graph::new();
    g.insert("x".into(), ["y".to_string()].into());
    g.insert("y".into(), ["z".to_string()].into());
    g.insert("z".into(), BTreeSet::new());
    assert_eq!(find_cycle(&g), None);
    assert_eq!(layers(&g)["x"], 2);
    g.get_mut("z").unwrap().insert("x".into());
    assert_eq!(find_cycle(&g).unwrap(), ["x", "y", "z", "x"]);
}
