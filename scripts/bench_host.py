#!/usr/bin/env python3
"""Host benchmark: requests/s and p50/p99 latency through `ecoc up`, beside a plain native
hyper server answering the same requests in the same run (components/host/examples/
native_reference.rs), measured with wrk (Debian package) as the load generator.

Cases: `hello` (a component answers a constant) and `kv` (one durable SQLite `set` and a
`get` per request). Where the real `spin` CLI is installed (`../shared/tools/build-spin.sh`, or
SPIN_BIN names it), `spin up` serves the same manifest, component and runtime config in the same
run as a third column. Prints a table and writes bench/results/host.json. Asserts nothing.

Usage: scripts/bench_host.py [--duration 10] [--connections 16]
Needs: release builds of ecoc, the native reference and the probe component (the Makefile's
`bench` target builds them).
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from ecoc_bench import free_port, spin_binary  # noqa: E402

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
if not TARGET.is_absolute():
    TARGET = ROOT / TARGET


def start(cmd, env=None, cwd=None):
    """Starts a server that prints `... http://ADDR` on stdout; returns (process, base URL)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env, cwd=cwd)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"(http://[0-9.:]+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    sys.exit(f"server did not start: {' '.join(map(str, cmd))}")


def to_ms(value: str) -> float:
    m = re.match(r"([0-9.]+)(us|ms|s)", value)
    n, unit = float(m.group(1)), m.group(2)
    return {"us": n / 1000, "ms": n, "s": n * 1000}[unit]


def wrk(url, duration, connections):
    subprocess.run(["wrk", "-t2", f"-c{connections}", "-d2s", url], capture_output=True)  # warm-up
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99,
            "non_2xx": int(errors.group(1)) if errors else 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    ecoc = TARGET / "release" / "ecoc"
    native = TARGET / "release" / "examples" / "native_reference"
    probe = TARGET / "wasm32-wasip2" / "release" / "probe.wasm"
    for f in (ecoc, native, probe):
        if not f.exists():
            sys.exit(f"missing {f}: run `make bench`")

    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app"
        shutil.copytree(ROOT / "tests" / "apps" / "host", app)
        shutil.copy(probe, app / "probe.wasm")
        (app / "runtime-config.toml").write_text(
            '[key_value_store.shared]\ntype = "spin"\npath = "shared.db"\n')
        env = dict(os.environ, SPIN_VARIABLE_WHO="bench", ECOC_LOG="warn")
        host, host_url = start([ecoc, "up", "--manifest", app / "spin.toml", "--listen",
                                "127.0.0.1:0", "--state-dir", app / ".spin"], env=env)
        ref, ref_url = start([native, "127.0.0.1:0", tmp])
        servers = {"native": (ref, ref_url), "ecoc": (host, host_url)}
        spin = spin_binary()
        if spin:
            # Spin resolves the runtime config's paths against its folder: its own SQLite file.
            spin_dir = Path(tmp) / "spin-app"
            shutil.copytree(app, spin_dir, ignore=shutil.ignore_patterns(".spin"))
            port = free_port()
            servers["spin"] = start([spin, "up", "--from", spin_dir / "spin.toml", "--listen",
                                     f"127.0.0.1:{port}", "--runtime-config-file",
                                     spin_dir / "runtime-config.toml"], env=env, cwd=spin_dir)
        else:
            print("no `spin` CLI (../shared/tools/build-spin.sh builds it): spin column skipped")
        try:
            results = {}
            for case, path in (("hello", "/front/hello"), ("kv", "/front/kv-bench")):
                results[case] = {name: wrk(url + path, args.duration, args.connections)
                                 for name, (_, url) in servers.items()}
        finally:
            for proc, _ in servers.values():
                proc.terminate()
            for proc, _ in servers.values():
                proc.wait(timeout=30)

    print(f"\nHost benchmark: wrk -t2 -c{args.connections} -d{args.duration}s, {os.cpu_count()} cores\n")
    print(f"{'case':<7}{'server':<9}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for case, pair in results.items():
        for server, r in pair.items():
            print(f"{case:<7}{server:<9}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['non_2xx']:>9}")
        ratio = pair["ecoc"]["rps"] / pair["native"]["rps"]
        pair["throughput_ratio_ecoc_over_native"] = ratio
        print(f"{'':<7}ecoc/native throughput: {ratio:.2f}")
        if "spin" in pair:
            ratio = pair["ecoc"]["rps"] / pair["spin"]["rps"]
            pair["throughput_ratio_ecoc_over_spin"] = ratio
            print(f"{'':<7}ecoc/spin throughput: {ratio:.2f}")
        print()
    out = ROOT / "bench" / "results" / "host.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
        "spin": (subprocess.run([spin, "--version"], capture_output=True, text=True).stdout.strip()
                 if spin else None),
        "wrk": {"threads": 2, "connections": args.connections, "duration_s": args.duration},
        "results": results,
    }, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
