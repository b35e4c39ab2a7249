//! The layering rule, checked on the source: every `crate::` path in src/ (outside test code)
//! names a layer at or below its own, and a mode never names another mode. The one table of
//! layers is [`LAYERS`]; lib.rs and main.rs sit above them all.

use std::fs;
use std::path::{Path, PathBuf};

/// Top to bottom. A module may import its own layer and those below it.
const LAYERS: [&str; 9] = [
    "cli", "modes", "app", "report", "engine", "fold", "probes", "diag", "util",
];

/// One import against the rule.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    file: String,
    imports: String,
}

/// The layer (and, for modes, the mode) of a file at `rel` (relative to src/); `None` for the
/// crate root files.
fn place(rel: &Path) -> Option<(usize, Option<String>)> {
    let mut parts = rel.iter().map(|p| p.to_string_lossy().into_owned());
    let top = parts.next()?;
    let top = top.trim_end_matches(".rs");
    let layer = LAYERS.iter().position(|l| *l == top)?;
    let mode = (top == "modes").then(|| parts.next()).flatten();
    Some((layer, mode.map(|m| m.trim_end_matches(".rs").to_string())))
}

/// The text without test code: `#[cfg(test)]` items (a `mod x;` line or a braced block) and
/// comments.
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            let mut depth = 0i32;
            let mut opened = false;
            for item in lines.by_ref() {
                depth += item.matches('{').count() as i32 - item.matches('}').count() as i32;
                opened |= item.contains('{');
                if (!opened && item.trim_end().ends_with(';')) || (opened && depth <= 0) {
                    break;
                }
            }
            continue;
        }
        let code = line.split("//").next().unwrap_or("");
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The first segments of every `crate::` path: `crate::a::b` gives `a::b`, and
/// `crate::{a::b, c}` gives `a::b` and `c`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `conntrend::`-like names that end in "crate"
        }
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item, mut end) = (1, String::new(), group.len());
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
                if c == ',' && depth == 1 {
                    found.push(std::mem::take(&mut item));
                } else {
                    item.push(c);
                }
            }
            found.push(item);
            rest = &group[end..];
        } else {
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            found.push(path);
        }
    }
    found
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The imports of the file at `rel` (relative to src/) with this `text` that break the rule.
fn check(rel: &Path, text: &str) -> Vec<Violation> {
    let Some((layer, mode)) = place(rel) else {
        return Vec::new();
    };
    let is_test_file = rel.file_name().is_some_and(|f| f == "tests.rs")
        || rel.iter().any(|p| p == "tests" || p == "testing");
    if is_test_file {
        return Vec::new();
    }
    let mut bad = Vec::new();
    for path in crate_paths(&without_tests(text)) {
        let mut segments = path.split("::").map(str::trim);
        let Some(first) = segments.next() else {
            continue;
        };
        let target = LAYERS.iter().position(|l| *l == first);
        let upward = target.is_none_or(|t| t < layer);
        let sibling = first == "modes"
            && layer == 1
            && segments
                .next()
                .is_some_and(|m| mode.as_deref().is_some_and(|own| own != m));
        if upward || sibling {
            bad.push(Violation {
                file: rel.display().to_string(),
                imports: format!("crate::{path}"),
            });
        }
    }
    bad
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_only_point_down_and_modes_do_not_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        if place(rel).is_some() {
            checked += 1;
        }
        bad.extend(check(rel, &fs::read_to_string(file).unwrap()));
    }
    assert!(checked > 50, "only {checked} files under the layers");
    assert!(
        bad.is_empty(),
        "imports against the layering (layers top to bottom: {LAYERS:?}):\n{bad:#?}"
    );
}

#[test]
fn the_checker_finds_upward_sibling_and_grouped_imports() {
    let fold = Path::new("fold/sample.rs");
    assert_eq!(
        check(fold, "use crate::report::schema::Groups;\n"),
        [Violation {
            file: "fold/sample.rs".into(),
            imports: "crate::report::schema::Groups".into()
        }]
    );
    assert!(check(fold, "use crate::diag::Record;\nuse crate::fold::Visit;\n").is_empty());
    let grouped = "use crate::{\n    diag::Record,\n    app::{netns, signal},\n};\n";
    assert_eq!(check(fold, grouped).len(), 1);
    let conns = Path::new("modes/conns/fields.rs");
    assert_eq!(check(conns, "use crate::modes::top::procs;").len(), 1);
    assert!(check(conns, "use crate::modes::conns::Filter;").is_empty());
    assert_eq!(check(conns, "let x = crate::cli::command();").len(), 1);
    // Test code may reach up (a test builds settings through the command line).
    let tested = "fn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::cli::Cli;\n}\n";
    assert!(check(conns, tested).is_empty());
    assert!(check(Path::new("modes/conns/tests.rs"), "use crate::cli::Cli;").is_empty());
    // An unknown top-level name is not a layer: reported, so the table stays complete.
    assert_eq!(check(fold, "use crate::old::thing;").len(), 1);
}
