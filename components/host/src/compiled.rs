//! Compiled components kept between runs, mapped from disk instead of read into memory.
//!
//! wasmtime's own cache (`Config::cache`) keeps each artifact compressed and unpacks it into the
//! heap on every start: the seven components' ~27 MB of machine code became anonymous memory,
//! resident whether a component ran or not, and unpacking it was most of a warm start. Here an
//! artifact is the plain output of [`Engine::precompile_component`], written once per component
//! build, and loaded with [`Component::deserialize_file`], which maps the file: its code pages
//! are file-backed, shared with the page cache, and resident only once they run.
//!
//! An artifact is named after the SHA-256 of the `.wasm` and wasmtime's compatibility hash of the
//! engine's settings, so a rebuilt component or another host build compiles afresh; wasmtime
//! checks the artifact against the engine again when it loads it. Artifacts unused for
//! [`UNUSED_DAYS`] are deleted when a host starts.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Days an artifact no start has used is kept.
pub const UNUSED_DAYS: u64 = 30;

const EXTENSION: &str = "cwasm";

/// Where a loaded component's machine code lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeIn {
    /// Mapped from its artifact file (file-backed pages, resident once they run).
    File,
    /// Copied into anonymous memory: `perf` names JIT code through wasmtime's perf map only
    /// there (for a file-backed mapping it looks for symbols in the file, which has none).
    Memory,
}

/// Compiles the component at `path`, or loads its artifact from `cache` when one was kept (its
/// code in `code_in`); without a cache it compiles in memory.
pub fn load(
    engine: &Engine,
    path: &Path,
    cache: Option<&Path>,
    code_in: CodeIn,
) -> Result<Component, String> {
    let wasm = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "file not found (run `ecoc build` first?)".to_owned(),
        _ => format!("cannot read: {e}"),
    })?;
    let Some(dir) = cache else {
        return Component::new(engine, &wasm).map_err(|e| format!("cannot compile: {e:#}"));
    };
    let artifact = artifact_path(engine, dir, &wasm);
    if artifact.exists() {
        match open(engine, &artifact, code_in) {
            Ok(component) => {
                mark_used(&artifact);
                return Ok(component);
            }
            Err(e) => {
                tracing::warn!(artifact = %artifact.display(), error = %e, "compiled artifact not usable; compiling again");
                let _ = std::fs::remove_file(&artifact);
            }
        }
    }
    let compiled = engine
        .precompile_component(&wasm)
        .map_err(|e| format!("cannot compile: {e:#}"))?;
    drop(wasm);
    if let Err(e) = write_atomically(dir, &artifact, &compiled) {
        tracing::warn!(dir = %dir.display(), error = %e, "compiled artifact not kept");
        return deserialize(engine, &compiled);
    }
    if code_in == CodeIn::Memory {
        return deserialize(engine, &compiled);
    }
    drop(compiled);
    open(engine, &artifact, code_in)
        .map_err(|e| format!("cannot load the artifact just compiled: {e:#}"))
}

/// Deletes the artifacts in `dir` that no start has used for [`UNUSED_DAYS`]; how many.
pub fn prune(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let limit = Duration::from_secs(UNUSED_DAYS * 86_400);
    let now = SystemTime::now();
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == EXTENSION))
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| now.duration_since(at).unwrap_or_default() > limit)
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Hands the memory compiling freed back to the system: glibc keeps freed heap pages for reuse
/// unless asked (after a first start, about 80 MB that compiling used and nothing needs again).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code, reason = "glibc's malloc_trim has no safe wrapper")]
pub fn release_compile_memory() {
    // SAFETY: `malloc_trim` takes no pointer and only returns free pages of glibc's own heap; it
    // is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Hands the memory compiling freed back to the system (only glibc needs to be asked).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_compile_memory() {}

fn artifact_path(engine: &Engine, dir: &Path, wasm: &[u8]) -> PathBuf {
    let mut settings = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    let digest = Sha256::digest(wasm);
    let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{name}-{:016x}.{EXTENSION}", settings.finish()))
}

/// Maps an artifact this module wrote, or reads it into memory.
#[allow(
    unsafe_code,
    reason = "wasmtime loads a compiled artifact only through its unsafe loaders"
)]
fn open(engine: &Engine, artifact: &Path, code_in: CodeIn) -> wasmtime::Result<Component> {
    match code_in {
        // SAFETY: `deserialize_file` needs a file made by `precompile_component` of a compatible
        // wasmtime that nobody changes while it is mapped. The host's own cache folder holds
        // only artifacts this module wrote (to a temporary name, renamed into place when
        // complete, never rewritten: a rebuilt component gets another name), and wasmtime
        // checks the header and the engine settings before it uses one.
        CodeIn::File => unsafe { Component::deserialize_file(engine, artifact) },
        CodeIn::Memory => {
            let bytes = std::fs::read(artifact)?;
            // SAFETY: as above: an artifact this module wrote, checked by wasmtime on load;
            // here a copy in memory, so later changes to the file could not reach it anyway.
            unsafe { Component::deserialize(engine, &bytes) }
        }
    }
}

/// Loads an artifact still in memory (its file could not be written).
#[allow(
    unsafe_code,
    reason = "wasmtime loads a compiled artifact only through its unsafe loader"
)]
fn deserialize(engine: &Engine, compiled: &[u8]) -> Result<Component, String> {
    // SAFETY: the bytes are what `precompile_component` of this very engine returned a moment ago.
    unsafe { Component::deserialize(engine, compiled) }.map_err(|e| format!("{e:#}"))
}

fn write_atomically(dir: &Path, artifact: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let partial = artifact.with_extension(format!("{EXTENSION}.{}.partial", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, artifact).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })
}

/// Counts a start as a use, for [`prune`] (at most once a day per artifact).
fn mark_used(artifact: &Path) {
    let now = SystemTime::now();
    let Ok(file) = std::fs::File::options().append(true).open(artifact) else {
        return;
    };
    let stale = file
        .metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|at| now.duration_since(at).unwrap_or_default() > Duration::from_secs(86_400));
    if stale {
        let _ = file.set_modified(now);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    // wasmtime reads the text format too (its `wat` feature).
    const COMPONENT: &str = "(component (core module))";
    const ANOTHER: &str = "(component (core module (func (export \"f\"))))";

    fn engine() -> Engine {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).unwrap()
    }

    #[test]
    fn an_artifact_is_written_once_then_mapped_and_a_broken_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("c.wasm");
        std::fs::write(&wasm, COMPONENT).unwrap();
        let cache = dir.path().join("cache");
        let engine = engine();
        load(&engine, &wasm, Some(&cache), CodeIn::File).unwrap();
        let artifacts: Vec<PathBuf> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(artifacts.len(), 1, "{artifacts:?}");
        assert_eq!(artifacts[0].extension().unwrap(), EXTENSION);
        let written = std::fs::metadata(&artifacts[0])
            .unwrap()
            .modified()
            .unwrap();
        load(&engine, &wasm, Some(&cache), CodeIn::File).unwrap();
        assert_eq!(
            std::fs::metadata(&artifacts[0])
                .unwrap()
                .modified()
                .unwrap(),
            written,
            "the second start maps the artifact, it does not write it again"
        );
        // A damaged artifact is compiled again, not trusted.
        std::fs::write(&artifacts[0], b"not an artifact").unwrap();
        load(&engine, &wasm, Some(&cache), CodeIn::File).unwrap();
        assert!(std::fs::read(&artifacts[0]).unwrap().len() > 100);
        // Another component build gets an artifact of its own.
        std::fs::write(&wasm, ANOTHER).unwrap();
        load(&engine, &wasm, Some(&cache), CodeIn::File).unwrap();
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2);
        assert_eq!(prune(&cache), 0, "both are fresh");
        let old = SystemTime::now() - Duration::from_secs((UNUSED_DAYS + 1) * 86_400);
        std::fs::File::options()
            .append(true)
            .open(&artifacts[0])
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(prune(&cache), 1);
        assert!(!artifacts[0].exists());
    }

    #[test]
    fn a_missing_component_says_how_to_make_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(
            &engine(),
            &dir.path().join("none.wasm"),
            Some(dir.path()),
            CodeIn::File,
        )
        .unwrap_err();
        assert!(err.contains("run `ecoc build` first"), "{err}");
    }
}
