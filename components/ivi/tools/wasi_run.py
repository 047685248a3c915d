#!/usr/bin/env python3
"""Run a WASI 0.2 command component (e.g. the `wasi_validate` example) with the Python `wasmtime`
package (`pip install wasmtime`, 50 or newer: it has `component.Linker.add_wasip2`).

Usage: wasi_run.py FILE.wasm [ARGS...]

Every argument that names an existing file or directory gets its directory preopened at the same
path, so the component sees the paths it is given. Stand-in for `ecoc wasi-run` where that is not
built; used by `bench_validate --wasm "python3 tools/wasi_run.py FILE.wasm"`.
"""
import os
import sys

import wasmtime
from wasmtime import component


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    wasm, args = sys.argv[1], sys.argv[2:]
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    config = wasmtime.WasiConfig()
    config.argv = [os.path.basename(wasm)] + args
    config.inherit_stdout()
    config.inherit_stderr()
    dirs = set()
    for a in args:
        if os.path.exists(a):
            p = os.path.abspath(a)
            dirs.add(p if os.path.isdir(p) else os.path.dirname(p))
    for d in sorted(dirs):
        config.preopen_dir(d, d)
    store.set_wasi(config)
    linker = component.Linker(engine)
    linker.add_wasip2()
    instance = linker.instantiate(store, component.Component.from_file(engine, wasm))
    iface = instance.get_export_index(store, "wasi:cli/run@0.2.0")
    run = instance.get_func(store, instance.get_export_index(store, "run", iface))
    result = run(store)
    return 0 if result is None or getattr(result, "tag", "ok") == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
