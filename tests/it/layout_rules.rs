//! Rules of the source tree: no `.rs` file under `src/`, `tests/` or
//! `benches/` is longer than 600 lines (split it by topic instead).

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

/// Every `.rs` file under `dir`, recursively (none if it does not exist).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_source_file_is_over_600_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.iter().any(|f| f.ends_with("src/lib.rs")),
        "the walk found the sources"
    );
    let mut too_long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).unwrap().lines().count();
            (lines > MAX_LINES).then(|| {
                let name = file.strip_prefix(root).unwrap_or(file).display();
                format!("{name}: {lines} lines")
            })
        })
        .collect();
    too_long.sort();
    assert!(
        too_long.is_empty(),
        "files over {MAX_LINES} lines (split them by topic):\n{}",
        too_long.join("\n")
    );
}
