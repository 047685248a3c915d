//! `ecoc wasi-run`: runs a plain WASI 0.2 command component (`wasi:cli/run`) on the same
//! wasmtime the host uses. Benchmarks use it to measure libraries compiled to
//! `wasm32-wasip2` (for example the IVI validator) beside their native build.

use std::path::{Path, PathBuf};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use crate::error::{Error, Result};

struct CommandState {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for CommandState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Runs `wasm` with `args`. Each argument naming an existing path has its folder preopened
/// read-only at the same path (so the component sees the paths it is given), as do `dirs`.
/// Returns whether the command reported success.
pub async fn run(wasm: &Path, args: &[String], dirs: &[PathBuf]) -> Result<bool> {
    let engine = Engine::default();
    let fail = |m: String| Error::Component {
        component: "wasi-run".into(),
        path: wasm.to_owned(),
        message: m,
    };
    let component = Component::from_file(&engine, wasm).map_err(|e| fail(format!("{e:#}")))?;
    let mut linker: Linker<CommandState> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| Error::wasmtime("linking WASI", e))?;

    let mut builder = WasiCtx::builder();
    let program = wasm
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    builder.inherit_stdio().arg(program).args(args);
    let mut preopens: Vec<PathBuf> = dirs.to_vec();
    for a in args {
        let p = Path::new(a);
        if let Ok(abs) = std::fs::canonicalize(p) {
            preopens.push(if abs.is_dir() {
                abs
            } else {
                abs.parent().map(Path::to_path_buf).unwrap_or(abs)
            });
        }
    }
    preopens.sort();
    preopens.dedup();
    for dir in &preopens {
        let guest = dir.to_string_lossy().into_owned();
        builder
            .preopened_dir(dir, &guest, FsPerms::ReadOnly)
            .map_err(|e| fail(format!("cannot preopen {}: {e:#}", dir.display())))?;
    }
    let mut store = Store::new(
        &engine,
        CommandState {
            ctx: builder.build(),
            table: ResourceTable::new(),
        },
    );
    let command = Command::instantiate_async(&mut store, &component, &linker)
        .await
        .map_err(|e| fail(format!("not a WASI 0.2 command: {e:#}")))?;
    let outcome = command
        .wasi_cli_run()
        .call_run(&mut store)
        .await
        .map_err(|e| fail(format!("trapped: {e:#}")))?;
    Ok(outcome.is_ok())
}
