//! The layers' rule, read from the source's `crate::` paths as a reviewer would: no module
//! reaches a layer above its own, the codec and the IPC layer never use each other, and
//! nothing above the protocol reaches past it into the IPC layer.

use std::path::{Path, PathBuf};

/// Bottom up. Layers that share a rank sit beside each other and must not use each other.
const LAYERS: &[(&str, u8)] = &[
    // Its sentences are `sentence`s, beside the IPC layer's bottom, which does not use it.
    ("limits", 1),
    ("safe_fs", 0),
    ("panics", 0),
    ("platform", 0),
    ("output", 0),
    ("child", 0),
    ("sentence", 0),
    ("ipc/sys", 1),
    ("ipc/segment", 2),
    ("ipc/qt", 3),
    ("ipc", 3),
    ("codec", 3),
    ("protocol", 4),
    ("operations", 5),
    ("commands", 6),
    ("gui", 7),
    ("lib", 8),
];

/// The layer a file (`ipc/segment/dir.rs`) or a path (`ipc::segment::SegmentDir`) is in.
fn layer_of(parts: &[&str]) -> Option<(&'static str, u8)> {
    LAYERS
        .iter()
        .copied()
        .filter(|(name, _)| {
            let names: Vec<&str> = name.split('/').collect();
            parts.len() >= names.len() && parts[..names.len()] == names[..]
        })
        .max_by_key(|(name, _)| name.len())
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Every `crate::a::b` a file names outside comments, as (line, the path's first parts).
fn crate_paths(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let parts = rest
                .split("::")
                .map(|p| {
                    p.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap()
                })
                .take_while(|p| !p.is_empty())
                .take(2)
                .map(str::to_owned)
                .collect();
            found.push((number + 1, parts));
        }
    }
    found
}

#[test]
fn no_module_uses_a_layer_above_its_own_or_reaches_past_the_protocol() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 50, "only {} source files found", files.len());
    let mut wrong = Vec::new();
    let mut arrows = 0;
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap().with_extension("");
        let relative = relative.to_string_lossy().replace('\\', "/");
        if relative == "main" {
            continue;
        }
        let file_parts: Vec<&str> = relative.split('/').collect();
        let Some((from, from_rank)) = layer_of(&file_parts) else {
            wrong.push(format!(
                "{relative}.rs is in no layer: add its folder to LAYERS"
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, parts) in crate_paths(&text) {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            // `crate::_rust_i18n_t`: what the translation macro expands to.
            if parts.first().is_some_and(|p| p.starts_with('_')) {
                continue;
            }
            let Some((to, to_rank)) = layer_of(&parts) else {
                wrong.push(format!(
                    "{relative}.rs:{line} names crate::{} in no layer",
                    parts.join("::")
                ));
                continue;
            };
            if to == from || (from == "ipc" && to.starts_with("ipc/")) {
                continue;
            }
            arrows += 1;
            let beside = to_rank == from_rank;
            let ipc_and_codec = (from.starts_with("ipc") && to == "codec")
                || (from == "codec" && to.starts_with("ipc"));
            let past_the_protocol = from_rank > 4 && to.starts_with("ipc");
            if to_rank > from_rank || beside || ipc_and_codec || past_the_protocol {
                wrong.push(format!("{relative}.rs:{line}: {from} uses {to}"));
            }
        }
    }
    assert!(
        arrows > 50,
        "only {arrows} arrows between layers were found"
    );
    assert!(
        wrong.is_empty(),
        "arrows that point the wrong way:\n{}",
        wrong.join("\n")
    );
}
