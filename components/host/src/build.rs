//! `ecoc build`: runs each component's `[component.<id>.build] command`, as `spin build` does.

use std::ffi::OsStr;
use std::path::{Component, Path};
use std::process::Command;

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// Outcome of building one component.
#[derive(Debug)]
pub struct BuildOutcome {
    pub component: String,
    pub result: Result<()>,
}

/// Builds every component that has a build section (or only those in `only`), in manifest
/// order, and reports each outcome; a failure does not stop the others.
pub fn build_all(manifest_path: &Path, only: &[String]) -> Result<Vec<BuildOutcome>> {
    let manifest = Manifest::load(manifest_path)?;
    let mut outcomes = Vec::new();
    for (id, decl) in &manifest.components {
        if !only.is_empty() && !only.contains(id) {
            continue;
        }
        let Some(build) = &decl.build else {
            continue;
        };
        let workdir = build
            .workdir
            .as_ref()
            .map(|w| manifest.base_dir.join(w))
            .unwrap_or_else(|| manifest.base_dir.clone());
        let mut result = Ok(());
        for command in build.command.commands() {
            tracing::info!(component = %id, command, "building");
            let status = shell(command).current_dir(&workdir).status();
            let failed = match status {
                Ok(s) if s.success() => None,
                Ok(s) => Some(format!("`{command}` exited with {s}")),
                Err(e) => Some(format!("cannot run `{command}`: {e}")),
            };
            if let Some(message) = failed {
                result = Err(Error::Build {
                    component: id.clone(),
                    message,
                });
                break;
            }
        }
        if result.is_ok()
            && let crate::manifest::ComponentSource::Local(source) = &decl.source
        {
            let path = manifest.base_dir.join(source);
            if !path.is_file() {
                result = Err(Error::Build {
                    component: id.clone(),
                    message: missing_output(
                        source,
                        &manifest.base_dir,
                        std::env::var_os("CARGO_TARGET_DIR").as_deref(),
                    ),
                });
            } else if decl.preinit() {
                tracing::info!(component = %id, path = %path.display(), "pre-initialising");
                result = crate::preinit::preinit_blocking(&path, &path).map(|_| ());
            }
        }
        outcomes.push(BuildOutcome {
            component: id.clone(),
            result,
        });
    }
    Ok(outcomes)
}

/// Why a build that succeeded left no component file. The usual cause: cargo wrote to
/// `CARGO_TARGET_DIR` while the manifest's sources are under `./target`.
fn missing_output(source: &Path, base_dir: &Path, target_dir: Option<&OsStr>) -> String {
    let mut message = format!(
        "the build command succeeded but left no {} (the component's source)",
        source.display()
    );
    let under_target = source
        .components()
        .find(|c| matches!(c, Component::Normal(_)))
        .is_some_and(|c| c.as_os_str() == "target");
    if let Some(dir) = target_dir
        && under_target
        && !base_dir.join("target").exists()
    {
        message.push_str(&format!(
            ": cargo builds into CARGO_TARGET_DIR={} and the manifest reads ./target; link them \
             with `ln -s \"$CARGO_TARGET_DIR\" target` beside the manifest (as `make build` does)",
            Path::new(dir).display()
        ));
    }
    message
}

fn shell(command: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(command);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_output_names_the_target_dir_link_when_that_is_the_cause() {
        let dir = tempfile::tempdir().expect("tmp");
        let source = Path::new("./target/wasm32-wasip2/release/sign.wasm");
        let elsewhere = Some(OsStr::new("/elsewhere/ecoc-target"));
        let message = missing_output(source, dir.path(), elsewhere);
        assert!(
            message.contains("left no ./target/wasm32-wasip2/release/sign.wasm"),
            "{message}"
        );
        assert!(
            message.contains("CARGO_TARGET_DIR=/elsewhere/ecoc-target"),
            "{message}"
        );
        assert!(message.contains("ln -s"), "{message}");
        // Not the cause: no CARGO_TARGET_DIR, a ./target that exists, a source elsewhere.
        assert!(!missing_output(source, dir.path(), None).contains("ln -s"));
        std::fs::create_dir(dir.path().join("target")).expect("mkdir");
        assert!(!missing_output(source, dir.path(), elsewhere).contains("ln -s"));
        let other = Path::new("build/sign.wasm");
        assert!(!missing_output(other, dir.path(), elsewhere).contains("ln -s"));
    }
}
