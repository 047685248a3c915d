//! `ecoc build`: runs each component's `[component.<id>.build] command`, as `spin build` does.

use std::path::Path;
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
            && decl.preinit()
            && let crate::manifest::ComponentSource::Local(source) = &decl.source
        {
            let path = manifest.base_dir.join(source);
            tracing::info!(component = %id, path = %path.display(), "pre-initialising");
            result = crate::preinit::preinit_blocking(&path, &path).map(|_| ());
        }
        outcomes.push(BuildOutcome {
            component: id.clone(),
            result,
        });
    }
    Ok(outcomes)
}

fn shell(command: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(command);
    c
}
