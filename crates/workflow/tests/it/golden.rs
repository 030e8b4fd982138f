//! Golden files: the generated pipelines of the test intents, byte for byte.
//! Set `BEARING_UPDATE_GOLDEN=1` to rewrite them after an intended change,
//! then review the diff like code.

use crate::common::{TARGETS, crate_dir, generate_all, intents, load};

#[test]
fn generated_pipelines_match_golden_files() {
    let update = std::env::var_os("BEARING_UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (name, path, text) in intents() {
        let intent = load(path, &text);
        for (target, tname) in TARGETS {
            let files = generate_all(&intent, path, target);
            assert!(!files.is_empty());
            for f in files {
                let golden = crate_dir()
                    .join("tests/golden")
                    .join(name)
                    .join(tname)
                    .join(&f.path);
                if update {
                    std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
                    std::fs::write(&golden, &f.contents).unwrap();
                    continue;
                }
                let want = std::fs::read_to_string(&golden).unwrap_or_default();
                if want != f.contents {
                    mismatches.push(format!(
                        "{}\n{}",
                        golden.display(),
                        bearing_workflow::diff::unified(
                            &want,
                            &f.contents,
                            &golden.display().to_string()
                        )
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "generated pipelines differ from the golden files (BEARING_UPDATE_GOLDEN=1 to accept):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn generation_is_deterministic() {
    for (_, path, text) in intents() {
        let intent = load(path, &text);
        for (target, _) in TARGETS {
            assert_eq!(
                generate_all(&intent, path, target),
                generate_all(&intent, path, target)
            );
        }
    }
}
