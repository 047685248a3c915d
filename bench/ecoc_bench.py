#!/usr/bin/env python3
"""ecoc benchmarks: one command per question, each beside a reference measured in the same run.

    bench/ecoc_bench.py throughput [--sizes 100,1000,10000]   records/s webhook -> Succeeded at the NAP
    bench/ecoc_bench.py latency [--rate 50 --seconds 10]       p50/p99 of POST /v1/vehicles, per hop
    bench/ecoc_bench.py backlog [--sizes 1000,3000,10000]      NAP down, then back: time to clear
    bench/ecoc_bench.py search [--sizes 1000,10000,100000]     VIN wildcard search over stored records
    bench/ecoc_bench.py footprint                              RSS, .wasm sizes, first request
    bench/ecoc_bench.py mapping [--rounds 200]                 per-record cost of the mapping, native and wasm
    bench/ecoc_bench.py spin [--records 1000 --rate 50]        the same app under `spin up` beside `ecoc up`
    bench/ecoc_bench.py all                                    each of the above with its defaults

Every command prints a short table and writes bench/results/<command>.json (machine, git revision,
settings, figures). Nothing is asserted: the figures are for BENCHMARKS.md and for comparing runs.
The stack is the real one: `ecoc up` (release build, the release .wasm functions, a SQLite file)
with the QTSP, NAP and mail sandboxes as their own processes, so each process's CPU is its own.

`--no-build` skips `cargo build`; the official XSD comes from ../shared/ivi2 (or ECOC_IVI2_XSD).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
ECOC = TARGET / "release" / "ecoc"
FLOOR = TARGET / "release" / "examples" / "bench_floor"
WASM_DIR = TARGET / "wasm32-wasip2" / "release"
FUNCTIONS = ["map", "validate", "sign", "submit", "notify", "status", "view"]
RESULTS = ROOT / "bench" / "results"
DEMO = ROOT / "components" / "pipeline" / "demo"
ADMIN = "bench-admin-token-0123456789abcdef"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Rows per POST /v1/batches: an M1 row is ~900 bytes, the host takes bodies up to 2 MiB.
BATCH_ROWS = 1000


# ---------------------------------------------------------------- helpers


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def official_xsd() -> Path | None:
    env = os.environ.get("ECOC_IVI2_XSD")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "ivi2" / "xsd" / "ivi-2.0.xsd")
    return next((p for p in candidates if p.is_file()), None)


def build() -> None:
    log("building: ecoc (release), the functions (wasm32-wasip2 release), the native floor")
    run = lambda *a: subprocess.run(a, cwd=ROOT, check=True)  # noqa: E731
    # The QTSP sandbox signs RSA with OpenSSL here (feature `sandbox-openssl`, libssl-dev): with
    # the `rsa` crate its signing alone cost more CPU per record than ecoc's whole signing step.
    run("cargo", "build", "--release", "-p", "ecoc", "--features", "sandbox-openssl")
    packages = [x for f in FUNCTIONS for x in ("-p", f)]
    run("cargo", "build", "--release", "--target", "wasm32-wasip2", *packages)
    run("cargo", "build", "--release", "-p", "sandbox", "--features", "openssl", "--example", "bench_floor")
    # As `ecoc build` ships it (spin.toml: [component.validate.tool.ecoc] preinit = true).
    run(str(ECOC), "preinit", str(WASM_DIR / "validate.wasm"))
    build_mapping_bench()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (`spin up` serves from a child process of its own)."""
    tree, i = [pid], 0
    while i < len(tree):
        for task in Path(f"/proc/{tree[i]}/task").glob("*/children"):
            tree += [int(c) for c in task.read_text().split()]
        i += 1
    return tree


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid`, its threads and its descendants."""
    total = 0
    for p in process_tree(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def proc_rss_mb(pid: int, field: str = "VmRSS") -> float:
    """`field` of /proc/PID/status summed over the process and its descendants, in MB."""
    total = 0
    for p in process_tree(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                total += int(line.split()[1])
    return total / 1024


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "git": rev,
    }


def save(name: str, settings: dict, figures: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {"benchmark": name, "machine": machine(), "settings": settings, "results": figures}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    log(f"wrote {path.relative_to(ROOT)}")
    return path


def table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


class Http:
    """One keep-alive connection to a base URL."""

    def __init__(self, base: str, timeout: float = 120):
        u = urllib.parse.urlparse(base)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body or None, headers=headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, token: str | None = None, value=None):
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        body = json.dumps(value).encode() if value is not None else b""
        status, data = self.request(method, path, body, headers)
        return status, (json.loads(data) if data.strip() else None)


# ---------------------------------------------------------------- the stack


def m1_rows(n: int, first_serial: int) -> list[str]:
    """`n` CSV rows of the demo M1 vehicle with VIN serials from `first_serial` (header first)."""
    lines = (DEMO / "records.csv").read_text().splitlines()
    header, template = lines[0], lines[1]
    vin = template.split(",", 1)[0]
    rows = [header]
    for i in range(n):
        rows.append(template.replace(vin, f"{vin[:10]}{first_serial + i:07d}", 1))
    return rows


def m1_json(serial: int) -> bytes:
    record = json.loads((DEMO / "records" / "m1.json").read_text())
    record["vin"] = f"{record['vin'][:10]}{serial:07d}"
    return json.dumps(record).encode()


class Process:
    def __init__(self, args: list[str], log_path: Path, env: dict | None = None, cwd=None):
        self.log_path = log_path
        self.popen = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=open(log_path, "wb"),
            env={**os.environ, **(env or {})},
            cwd=cwd,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


class Sandbox(Process):
    def __init__(self, kind: str, root: Path, extra: list[str] = ()):
        self.state = root / kind
        self.state.mkdir(parents=True)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        super().__init__(
            [str(ECOC), "sandbox", kind, "--listen", f"127.0.0.1:{port}", "--state-dir", str(self.state), *extra],
            root / f"{kind}.log",
        )
        wait_port(port)

    def state_json(self, name: str) -> dict:
        return json.loads((self.state / name).read_text())


def spin_binary() -> str | None:
    """The real `spin` CLI (../shared/tools/build-spin.sh builds it), or SPIN_BIN."""
    return os.environ.get("SPIN_BIN") or shutil.which("spin")


class Stack:
    """Sandboxes as processes, `ecoc up` (release) on a fresh SQLite file, one seeded tenant.

    With `runtime="spin"` the real `spin up` serves the same spin.toml, .wasm files and runtime
    config instead; Spin has no timers, so a thread makes the sweep timer's call
    (`POST /v1/admin/sweep`, as README.md tells schedulers to) at the same period."""

    def __init__(self, root: Path, nap_processing_ms: int = 200, cache_dir: Path | None = None,
                 compile_cache: bool = True, runtime: str = "ecoc"):
        self.root = root
        self.runtime = runtime
        self.processes: list[Process] = []
        sandboxes = root / "sandboxes"
        self.qtsp = self._keep(Sandbox("qtsp", sandboxes))
        self.nap = self._keep(Sandbox("nap", sandboxes, ["--processing-ms", str(nap_processing_ms)]))
        self.mail = self._keep(Sandbox("mail", sandboxes))
        q = self.qtsp.state_json("sandbox.json")
        pin = next(c["pin"] for c in q["credentials"] if c["id"] == "rsa-signer")
        n = self.nap.state_json("nap.json")
        m = self.mail.state_json("mail.json")
        self.env = {
            f"SPIN_VARIABLE_{k}": v
            for k, v in {
                "QTSP_ORIGIN": self.qtsp.base,
                "QTSPS": f"sandbox={self.qtsp.base}/csc/v2",
                "QTSP_CLIENT_ID": "ecoc-sandbox",
                "QTSP_CREDENTIAL": "rsa-signer",
                "QTSP_CLIENT_SECRET": q["client_secret"],
                "QTSP_PIN": pin,
                "TRUST_ANCHORS": (self.qtsp.state / "root-ca.pem").read_text(),
                "NAP_ORIGIN": self.nap.base,
                "NAPS": f"vca={self.nap.base}",
                "NAP_CLIENT_ID": n["clients"][0]["client_id"],
                "NAP_CLIENT_SECRET": n["clients"][0]["client_secret"],
                "MAIL_ORIGIN": self.mail.base,
                "MAIL_API_KEY": m["api_key"],
                "ADMIN_TOKEN": ADMIN,
            }.items()
        }
        self.app = root / "app"
        self.app.mkdir()
        shutil.copy(ROOT / "spin.toml", self.app / "spin.toml")
        (self.app / "target").symlink_to(TARGET)
        # pipeline::kv::STORE_LABELS
        labels = ["default", "claims", "work", "vins", "failures", "audit", "seen"]
        (self.app / "runtime-config.toml").write_text(
            "".join(f'[key_value_store.{l}]\ntype = "spin"\npath = "ecoc.db"\n' for l in labels)
        )
        # `ecoc up` resolves the runtime config's paths against its state folder, Spin against the
        # runtime config's own folder.
        self.db = (self.app if runtime == "spin" else root / "state") / "ecoc.db"
        self.sweeping = threading.Event()
        self.cache_dir = cache_dir or root / "cache"
        self.compile_cache = compile_cache
        self.host: Process | None = None
        self.boot()
        self.http = Http(self.base)
        self.nap_http = Http(self.nap.base)
        self.token = self.tenant("bench")

    def _keep(self, p):
        self.processes.append(p)
        return p

    def boot(self) -> float:
        """Starts the host; returns seconds until it serves."""
        return self.boot_spin() if self.runtime == "spin" else self.boot_ecoc()

    def boot_spin(self) -> float:
        spin = spin_binary()
        if not spin:
            raise RuntimeError("no `spin` CLI: ../shared/tools/build-spin.sh builds it (or set SPIN_BIN)")
        port = free_port()
        args = [spin, "up", "--from", str(self.app / "spin.toml"), "--listen", f"127.0.0.1:{port}",
                "--runtime-config-file", str(self.app / "runtime-config.toml")]
        started = time.monotonic()
        self.host = Process(args, self.root / f"spin-{len(self.processes)}.log", self.env, cwd=self.app)
        self.processes.append(self.host)
        threading.Thread(target=self.host.popen.stdout.read, daemon=True).start()
        wait_port(port, timeout=300)
        took = time.monotonic() - started
        self.base = f"http://127.0.0.1:{port}"
        threading.Thread(target=self._sweep, daemon=True).start()
        return took

    def _sweep(self) -> None:
        http = Http(self.base)
        while not self.sweeping.wait(2.0):
            try:
                http.request("POST", "/v1/admin/sweep", b"", {"authorization": f"Bearer {ADMIN}"})
            except OSError:
                http = Http(self.base)

    def boot_ecoc(self) -> float:
        """Starts `ecoc up`; returns seconds until it printed that it serves."""
        args = [str(ECOC), "up", "--manifest", str(self.app / "spin.toml"), "--listen", "127.0.0.1:0",
                "--state-dir", str(self.root / "state")]
        args += ["--cache-dir", str(self.cache_dir)] if self.compile_cache else ["--no-compile-cache"]
        started = time.monotonic()
        self.host = Process(args, self.root / f"ecoc-{len(self.processes)}.log", self.env, cwd=self.app)
        self.processes.append(self.host)
        assert self.host.popen.stdout is not None
        for line in self.host.popen.stdout:
            m = re.match(r"ecoc: serving .* on (http://\S+)", line)
            if m:
                self.base = m.group(1)
                # Keep draining stdout so the host never blocks on a full pipe.
                threading.Thread(target=self.host.popen.stdout.read, daemon=True).start()
                return time.monotonic() - started
        raise RuntimeError(f"ecoc up did not start; see {self.host.log_path}")

    def restart(self) -> float:
        assert self.host is not None
        self.host.stop()
        self.processes.remove(self.host)
        took = self.boot()
        self.http = Http(self.base)
        return took

    def tenant(self, tid: str) -> str:
        status, body = self.http.json(
            "POST", "/v1/admin/tenants", ADMIN,
            {"tenant": {"id": tid, "name": f"{tid} Vehicles", "digest_to": [f"quality@{tid}.example"]},
             "token_name": "owner"},
        )
        assert status == 201, (status, body)
        token = body["token"]
        for path, file in [("/v1/tenant/mapping", "mapping.json"), ("/v1/tenant/approvals", "approvals.json")]:
            status, body = self.http.json("PUT", path, token, json.loads((DEMO / file).read_text()))
            assert status == 200, (path, status, body)
        return token

    def post_csv(self, rows: list[str]) -> tuple[int, int]:
        """Posts header + rows as CSV batches; returns (accepted, refused)."""
        accepted = refused = 0
        header, body_rows = rows[0], rows[1:]
        for start in range(0, len(body_rows), BATCH_ROWS):
            chunk = "\n".join([header, *body_rows[start:start + BATCH_ROWS]]) + "\n"
            status, data = self.http.request(
                "POST", "/v1/batches", chunk.encode(),
                {"content-type": "text/csv", "authorization": f"Bearer {self.token}"},
            )
            if status >= 400:
                raise RuntimeError(f"batch answered {status}: {data[:300]!r}")
            for line in data.decode().splitlines():
                item = json.loads(line)
                if "row" in item:
                    if item.get("status") in (None, "rejected") or "errors" in item:
                        refused += 1
                    else:
                        accepted += 1
        return accepted, refused

    def nap_stats(self) -> dict:
        return self.nap_http.json("GET", "/sandbox/stats")[1]

    def nap_faults(self, faults: dict) -> None:
        status, body = self.nap_http.json("POST", "/sandbox/faults", None, faults)
        assert status == 200, (status, body)

    def count(self, status: str) -> int:
        """Records of the tenant in `status`, by paging the search API."""
        total, cursor = 0, None
        while True:
            q = f"/v1/submissions?status={status}&limit=500" + (f"&cursor={cursor}" if cursor else "")
            code, body = self.http.json("GET", q, self.token)
            assert code == 200, (code, body)
            total += len(body["items"])
            cursor = body.get("next")
            if not cursor:
                return total

    def cpu(self) -> dict:
        procs = {"ecoc": self.host, "qtsp": self.qtsp, "nap": self.nap, "mail": self.mail}
        return {k: proc_cpu(p.pid) for k, p in procs.items()}

    def stop(self) -> None:
        self.sweeping.set()
        for p in reversed(self.processes):
            p.stop()


def wait_until(predicate, timeout: float, poll: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def record_count(db: Path, tenant: str) -> int:
    """Records of `tenant` in the `default` label, read from the SQLite file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM spin_key_value WHERE store = 'default' AND key LIKE ?",
                            (f"t/{tenant}/r/%",)).fetchone()[0]
    finally:
        conn.close()


def kv_count(db: Path, store: str) -> int:
    """Keys in one key-value label, read from the SQLite file (read-only, beside the host)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM spin_key_value WHERE store = ?", (store,)).fetchone()[0]
    finally:
        conn.close()


def kv_bytes(db: Path) -> dict:
    """Bytes of keys + values per label (what the store holds, whatever the file's free pages)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT store, count(*), sum(length(key) + length(value)) FROM spin_key_value GROUP BY store"
        ).fetchall()
    finally:
        conn.close()
    return {store: {"keys": n, "bytes": b} for store, n, b in rows}


def nap_succeeded(stack: Stack) -> int:
    return stack.nap_stats()["statuses"].get("Succeeded", 0)


def cpu_delta(before: dict, after: dict) -> dict:
    return {k: round(after[k] - before[k], 3) for k in after}


# ---------------------------------------------------------------- references


def run_floor(n: int, qtsp_state: Path, write: Path | None = None) -> dict:
    """The native floor: the pipeline's libraries in one process (see bench_floor.rs)."""
    args = [str(FLOOR), "--records", str(n), "--state-dir", str(qtsp_state)]
    if write:
        args += ["--write", str(write)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_hand_scripted(docs: Path, floor: dict, limit: int) -> dict:
    """`xmllint --schema` + `xmlsec1 --sign` per file, one after the other, as a shell loop would."""
    xsd = official_xsd()
    files = sorted(p for p in docs.glob("*.xml") if not p.name.endswith(".template.xml"))[:limit]
    key = f"{floor['key_pem']},{floor['certificate_pem']}"
    before = os.times()
    started = time.monotonic()
    for doc in files:
        subprocess.run(["xmllint", "--noout", "--schema", str(xsd), str(doc)], check=True,
                       capture_output=True)
        subprocess.run(["xmlsec1", "--sign", "--privkey-pem", key, "--output",
                        str(doc.with_suffix(".signed")), str(doc.with_suffix(".template.xml"))],
                       check=True, capture_output=True)
    wall = time.monotonic() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"files": len(files), "wall_s": wall, "cpu_s": cpu}


def run_libxml_in_process(docs: Path, floor: dict, limit: int) -> dict | None:
    """`xmllint` + `xmlsec1` without their per-file process: the same libraries (libxml2 through
    lxml, libxmlsec1 through python-xmlsec) looped in this process, the schema parsed once and the
    key loaded once; per file the document is parsed and validated, the template parsed, signed
    and serialised. Counts this process's CPU over the loop (the Python calls around the C work
    are a few microseconds per file). `None`, with the reason logged, where the binding is missing."""
    try:
        import lxml.etree as etree
        import xmlsec
    except Exception as e:  # ImportError, or the binding's libxml2 differs from lxml's
        log(f"in-process libxml2 + libxmlsec1 reference left out: {e} (pip install lxml xmlsec)")
        return None
    xsd = official_xsd()
    files = sorted(p for p in docs.glob("*.xml") if not p.name.endswith(".template.xml"))[:limit]
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    key = xmlsec.Key.from_file(str(floor["key_pem"]), xmlsec.constants.KeyDataFormatPem)
    key.load_cert_from_file(str(floor["certificate_pem"]), xmlsec.constants.KeyDataFormatPem)
    before, started = time.process_time(), time.monotonic()
    for doc in files:
        schema.assertValid(etree.parse(str(doc)))
        template = etree.parse(str(doc.with_suffix(".template.xml")))
        root = template.getroot()
        xmlsec.tree.add_ids(root, ["Id"])
        context = xmlsec.SignatureContext()
        context.key = key
        context.sign(xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature))
        etree.tostring(template)
    return {"files": len(files), "wall_s": time.monotonic() - started,
            "cpu_s": time.process_time() - before}


# ---------------------------------------------------------------- 1. throughput


def throughput_once(n: int, workdir: Path, hand_sample: int) -> dict:
    log(f"throughput: {n} records")
    stack = Stack(workdir / f"e2e-{n}")
    try:
        rows = m1_rows(n, first_serial=1_000_000)
        cpu0, t0 = stack.cpu(), time.monotonic()
        accepted, refused = stack.post_csv(rows)
        t_answered = time.monotonic() - t0
        if refused:
            raise RuntimeError(f"{refused} of {n} rows refused")
        wait_until(lambda: nap_succeeded(stack) >= accepted, timeout=60 + n * 0.5, poll=0.1,
                   what="Succeeded at the NAP")
        t_nap = time.monotonic() - t0
        wait_until(lambda: kv_count(stack.db, "work") == 0, timeout=120 + n * 0.1, poll=0.1,
                   what="every record final in ecoc")
        t_done = time.monotonic() - t0
        cpu = cpu_delta(cpu0, stack.cpu())
        succeeded = stack.count("succeeded")
        stats = stack.nap_stats()
        kv = kv_bytes(stack.db)
        db_file = stack.db.stat().st_size + sum(p.stat().st_size for p in stack.db.parent.glob("ecoc.db-*"))
        qtsp_state = stack.qtsp.state
    finally:
        stack.stop()
    if succeeded != accepted or stats["accepted"] != accepted:
        raise RuntimeError(f"{succeeded} Succeeded in ecoc, {stats['accepted']} files at the NAP, of {accepted}")
    floor = run_floor(n, qtsp_state, write=workdir / f"docs-{n}")
    hand = run_hand_scripted(workdir / f"docs-{n}", floor, hand_sample)
    libxml = run_libxml_in_process(workdir / f"docs-{n}", floor, n)
    shutil.rmtree(workdir / f"docs-{n}", ignore_errors=True)
    e2e_rate = n / t_nap
    hand_rate = hand["files"] / hand["wall_s"]
    floor_rate = n / floor["wall_s"]
    stack_cpu = sum(cpu.values())
    # The floor's own work, as ecoc's CPU figure counts it: without the QTSP's signing (in the
    # end-to-end run that is the QTSP sandbox's process, counted in the stack's figure only).
    floor_own_s = floor["cpu_s"] - floor["qtsp_sign_s"]
    return {
        "records": n,
        "answered_s": round(t_answered, 3),
        "succeeded_at_nap_s": round(t_nap, 3),
        "all_final_in_ecoc_s": round(t_done, 3),
        "ecoc_per_s": round(e2e_rate, 2),
        "ms_per_record": round(1000 * t_nap / n, 3),
        "cpu_s": cpu,
        "cpu_ms_per_ecoc": {"ecoc": round(1000 * cpu["ecoc"] / n, 3), "stack": round(1000 * stack_cpu / n, 3)},
        "kv_bytes_per_record": round(sum(v["bytes"] for v in kv.values()) / n),
        "kv_by_label": kv,
        "sqlite_file_bytes_per_record": round(db_file / n),
        "floor": {"per_s": round(floor_rate, 1), "credential": floor["credential"],
                  "cpu_ms_per_ecoc": round(1000 * floor_own_s / n, 3),
                  "cpu_ms_with_qtsp_signing": round(1000 * floor["cpu_s"] / n, 3),
                  "map_ms": round(1000 * floor["map_s"] / n, 3), "admit_ms": round(1000 * floor["admit_s"] / n, 3),
                  "sign_ms": round(1000 * floor["sign_s"] / n, 3),
                  "qtsp_sign_ms": round(1000 * floor["qtsp_sign_s"] / n, 3)},
        "hand_scripted": {"files_timed": hand["files"], "per_s": round(hand_rate, 2),
                          "cpu_ms_per_ecoc": round(1000 * hand["cpu_s"] / hand["files"], 3)},
        "libxml_in_process": libxml and {
            "files_timed": libxml["files"],
            "cpu_ms_per_ecoc": round(1000 * libxml["cpu_s"] / libxml["files"], 3)},
        "cpu_ratio_vs_libxml_in_process": libxml and round(
            (cpu["ecoc"] / n) / max(libxml["cpu_s"] / libxml["files"], 1e-9), 2),
        "ratio_vs_hand_scripted": round(e2e_rate / hand_rate, 2),
        "ratio_vs_floor_rate": round(e2e_rate / floor_rate, 4),
        "cpu_ratio_vs_floor": {
            "ecoc": round(cpu["ecoc"] / max(floor_own_s, 1e-9), 2),
            "stack": round(stack_cpu / max(floor["cpu_s"], 1e-9), 2),
        },
    }


def cmd_throughput(args) -> dict:
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="ecoc-bench-") as tmp:
        for n in sizes:
            results.append(throughput_once(n, Path(tmp), args.hand_sample))
    table(
        ["records", "eCoC/s", "ms/rec", "ecoc cpu ms/eCoC", "stack cpu ms/eCoC", "floor cpu ms/eCoC",
         "libxml in-process cpu ms", "hand-scripted/s", "x hand", "cpu x floor (ecoc)",
         "cpu x libxml (ecoc)", "KV B/rec"],
        [[r["records"], r["ecoc_per_s"], r["ms_per_record"], r["cpu_ms_per_ecoc"]["ecoc"],
          r["cpu_ms_per_ecoc"]["stack"], r["floor"]["cpu_ms_per_ecoc"],
          (r["libxml_in_process"] or {}).get("cpu_ms_per_ecoc", "-"), r["hand_scripted"]["per_s"],
          r["ratio_vs_hand_scripted"], r["cpu_ratio_vs_floor"]["ecoc"],
          r["cpu_ratio_vs_libxml_in_process"] or "-", r["kv_bytes_per_record"]]
         for r in results],
    )
    save("throughput", {"sizes": sizes, "hand_sample": args.hand_sample, "nap_processing_ms": 200,
                        "batch_rows": BATCH_ROWS}, results)
    return {"throughput": results}


# ---------------------------------------------------------------- 2. latency


def hop_times(log_path: Path, since_line: int = 0) -> dict:
    """p50/p99 per (component, path) from the host's `ecoc::request` debug lines."""
    hops: dict[str, list[float]] = {}
    pattern = re.compile(r"component=(\S+) path=(\S+) status=(\d+) head_us=(\d+)")
    lines = log_path.read_text(errors="replace").splitlines()[since_line:]
    for line in lines:
        m = pattern.search(line)
        if m:
            path = re.sub(r"/r[0-9a-f]{24}", "/{id}", m.group(2))
            hops.setdefault(f"{m.group(1)} {path}", []).append(int(m.group(4)) / 1000)
    return {
        hop: {"n": len(v), "p50_ms": round(percentile(v, 50), 2), "p99_ms": round(percentile(v, 99), 2),
              "max_ms": round(max(v), 2)}
        for hop, v in sorted(hops.items())
    }


def open_loop(base: str, token: str, rate: float, seconds: float, first_serial: int) -> dict:
    """Sends POST /v1/vehicles at a fixed rate whatever the answers do (open loop): request i is
    due at t0 + i/rate, and its latency counts from then, so a slow answer cannot hide the queue
    behind it (no coordinated omission). Each request carries a new VIN."""
    total = int(rate * seconds)
    bodies = [m1_json(first_serial + i) for i in range(total)]
    latencies: list[float] = [0.0] * total
    statuses: list[int] = [0] * total
    local = threading.local()
    t0 = time.monotonic() + 0.5

    def send(i: int) -> None:
        due = t0 + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if not hasattr(local, "http"):
            local.http = Http(base)
        status, _ = local.http.request("POST", "/v1/vehicles", bodies[i],
                                       {"content-type": "application/json", "authorization": f"Bearer {token}"})
        latencies[i] = (time.monotonic() - due) * 1000
        statuses[i] = status

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(send, range(total)))
    ok = [l for l, s in zip(latencies, statuses) if s == 202]
    return {
        "offered_per_s": rate, "requests": total, "accepted": len(ok),
        "other_statuses": sorted({s for s in statuses if s != 202}),
        "p50_ms": round(percentile(ok, 50), 2), "p90_ms": round(percentile(ok, 90), 2),
        "p99_ms": round(percentile(ok, 99), 2), "max_ms": round(max(ok), 2) if ok else None,
    }


def oha_run(base: str, token: str, rate: float, seconds: float, first_serial: int, workdir: Path) -> dict:
    """The same open-loop measurement by `oha` (`-q` fixed rate with `--latency-correction`, so
    latency counts from when each request was due), each request a new VIN (`-Z`: one body per
    line)."""
    total = int(rate * seconds)
    bodies = workdir / f"bodies-{first_serial}.ndjson"
    bodies.write_bytes(b"".join(m1_json(first_serial + i) + b"\n" for i in range(total)))
    out = subprocess.run(
        ["oha", "-n", str(total), "-c", "32", "-q", str(rate), "--latency-correction", "--no-tui",
         "--output-format", "json", "-m", "POST", "-H", "content-type: application/json",
         "-H", f"authorization: Bearer {token}", "-Z", str(bodies), f"{base}/v1/vehicles"],
        check=True, capture_output=True, text=True,
    ).stdout
    report = json.loads(out)
    pct = report["latencyPercentiles"]
    ms = lambda v: round(v * 1000, 2) if v is not None else None  # noqa: E731
    return {
        "offered_per_s": rate, "requests": total,
        "accepted": report["statusCodeDistribution"].get("202", 0),
        "other_statuses": sorted(int(k) for k in report["statusCodeDistribution"] if k != "202"),
        "p50_ms": ms(pct.get("p50")), "p90_ms": ms(pct.get("p90")), "p99_ms": ms(pct.get("p99")),
        "max_ms": ms(report["summary"].get("slowest")), "generator": "oha",
    }


def cmd_latency(args) -> dict:
    rates = [float(r) for r in args.rates.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="ecoc-bench-") as tmp:
        os.environ["ECOC_LOG"] = "info,ecoc::request=debug"
        stack = Stack(Path(tmp) / "latency")
        try:
            # Reference in the same run: the host's own health path (no component) and a
            # component that only reads (GET /v1/health of `status`).
            reference = {}
            for name, path in [("host /.well-known/spin/health", "/.well-known/spin/health"),
                               ("status GET /v1/health", "/v1/health")]:
                h, times = Http(stack.base), []
                for _ in range(300):
                    t = time.monotonic()
                    h.request("GET", path)
                    times.append((time.monotonic() - t) * 1000)
                reference[name] = {"p50_ms": round(percentile(times, 50), 2),
                                   "p99_ms": round(percentile(times, 99), 2)}
            serial = 2_000_000
            for rate in rates:
                log(f"latency: {rate:g} req/s for {args.seconds:g} s")
                assert stack.host is not None
                mark = len(stack.host.log_path.read_text(errors="replace").splitlines())
                r = open_loop(stack.base, stack.token, rate, args.seconds, serial)
                r["generator"] = "bench/ecoc_bench.py open loop"
                serial += r["requests"]
                # The same load from a registry generator. oha's `-Z` picks body lines at random, so
                # about a third of its requests repeat a VIN: those run the whole check and are
                # refused 409 (duplicate); its percentiles are of the 202 answers.
                if shutil.which("oha"):
                    r["oha"] = oha_run(stack.base, stack.token, rate, args.seconds, serial, Path(tmp))
                    serial += r["oha"]["requests"]
                else:
                    log("oha not found (cargo install oha): built-in generator only")
                time.sleep(3)  # let the chained sign/deliver calls of the last requests finish
                r["hops"] = hop_times(stack.host.log_path, mark)
                r["vs_health_p50"] = round(r["p50_ms"] / reference["status GET /v1/health"]["p50_ms"], 1)
                results.append(r)
        finally:
            stack.stop()
            os.environ.pop("ECOC_LOG", None)
    table(["generator", "offered/s", "202", "p50 ms", "p90 ms", "p99 ms", "max ms", "p50 x GET /v1/health"],
          [[g["generator"], g["offered_per_s"], g["accepted"], g["p50_ms"], g["p90_ms"], g["p99_ms"],
            g["max_ms"], round(g["p50_ms"] / reference["status GET /v1/health"]["p50_ms"], 1)]
           for r in results for g in [r, r.get("oha")] if g])
    print()
    table(["offered/s", "hop", "n", "p50 ms", "p99 ms"],
          [[r["offered_per_s"], hop, v["n"], v["p50_ms"], v["p99_ms"]]
           for r in results for hop, v in r["hops"].items()])
    print("reference:", json.dumps(reference))
    save("latency", {"rates": rates, "seconds": args.seconds},
         {"reference": reference, "runs": results})
    return {"latency": results}


# ---------------------------------------------------------------- 3. backlog and search


def backlog_once(n: int, workdir: Path) -> dict:
    log(f"backlog: {n} records while the NAP is down")
    stack = Stack(workdir / f"backlog-{n}")
    try:
        stack.nap_faults({"down": "unavailable"})
        t_down = time.monotonic()
        accepted, refused = stack.post_csv(m1_rows(n, first_serial=3_000_000))
        assert refused == 0, refused
        # Queued: every record signed and waiting for the NAP.
        wait_until(lambda: stack.count("signed") + stack.count("submitted") >= accepted,
                   timeout=120 + n * 0.5, poll=1, what="every record signed")
        queued_after = time.monotonic() - t_down
        cpu0 = stack.cpu()
        stack.nap_faults({})
        t0 = time.monotonic()
        wait_until(lambda: nap_succeeded(stack) >= accepted, timeout=600 + n * 0.5, poll=0.1,
                   what="the backlog Succeeded at the NAP")
        cleared = time.monotonic() - t0
        cpu = cpu_delta(cpu0, stack.cpu())
        stats = stack.nap_stats()
    finally:
        stack.stop()
    if stats["accepted"] != accepted:
        raise RuntimeError(f"the NAP accepted {stats['accepted']} files for {accepted} records")
    return {"records": n, "queued_in_s": round(queued_after, 2), "cleared_s": round(cleared, 2),
            "ms_per_record": round(1000 * cleared / n, 3), "per_s": round(n / cleared, 1),
            "cpu_s": cpu}


def cmd_backlog(args) -> dict:
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="ecoc-bench-") as tmp:
        results = [backlog_once(n, Path(tmp)) for n in sizes]
    table(["records", "queued in s", "cleared in s", "ms/record", "records/s"],
          [[r["records"], r["queued_in_s"], r["cleared_s"], r["ms_per_record"], r["per_s"]] for r in results])
    save("backlog", {"sizes": sizes, "nap_processing_ms": 200}, results)
    return {"backlog": results}


def clone_records(db: Path, tenant: str, total: int) -> None:
    """Grows the store to `total` records by copying the records the pipeline made, each copy with
    a new VIN and id (record JSON and VIN index entry; the XML is not copied: search never reads it)."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        rows = conn.execute("SELECT key, value FROM spin_key_value WHERE store = 'default' AND key LIKE ?",
                            (f"t/{tenant}/r/%",)).fetchall()
        have = len(rows)
        serial = 5_000_000
        batch = []
        for i in range(total - have):
            key, value = rows[i % have]
            record = json.loads(value)
            vin = f"{record['vin'][:10]}{serial + i:07d}"
            rid = f"r{int(time.time() * 1000) - 86_400_000 + i:012x}{os.urandom(6).hex()}"
            record.update(vin=vin, id=rid)
            batch.append(("default", f"t/{tenant}/r/{rid}", json.dumps(record).encode()))
            batch.append(("vins", f"{tenant}/{vin}/{rid}", b"1"))
        conn.executemany("INSERT INTO spin_key_value (store, key, value) VALUES (?, ?, ?)", batch)
        conn.commit()
    finally:
        conn.close()


def cmd_search(args) -> dict:
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="ecoc-bench-") as tmp:
        stack = Stack(Path(tmp) / "search")
        try:
            seed = min(sizes[0], 200)
            stack.post_csv(m1_rows(seed, first_serial=4_000_000))
            wait_until(lambda: kv_count(stack.db, "work") == 0, timeout=300, what="seed records final")
            queries = {
                "exact VIN": lambda: f"vin={m1_rows(1, 5_000_123)[1].split(',')[0]}",
                "prefix WEX1M1AB2C50001*": lambda: "vin=WEX1M1AB2C50001*",
                "status=succeeded, newest page": lambda: "status=succeeded&limit=50",
            }
            for n in sizes:
                stack.host.stop()
                clone_records(stack.db, "bench", n)
                stack.restart()
                # The copies' VIN entries wait in `vins` as a new record's do; the sweep's tick
                # folds them into the VIN index (up to 5,000 a tick), and searches read that.
                t_fold = time.monotonic()
                wait_until(lambda: kv_count(stack.db, "vins") == 0, timeout=900,
                           what="the VIN index folded")
                h = Http(stack.base)
                row = {"records": record_count(stack.db, "bench"),
                       "folded_in_s": round(time.monotonic() - t_fold, 1)}
                for name, q in queries.items():
                    times = []
                    for _ in range(args.repeat):
                        t = time.monotonic()
                        status, body = h.request("GET", f"/v1/submissions?{q()}",
                                                 headers={"authorization": f"Bearer {stack.token}"})
                        times.append((time.monotonic() - t) * 1000)
                        assert status == 200, (status, body[:200])
                    row[name] = {"p50_ms": round(percentile(times, 50), 2),
                                 "p99_ms": round(percentile(times, 99), 2),
                                 "hits": len(json.loads(body)["items"])}
                h2, ref = Http(stack.base), []
                for _ in range(args.repeat):
                    t = time.monotonic()
                    h2.request("GET", "/v1/health")
                    ref.append((time.monotonic() - t) * 1000)
                row["reference GET /v1/health p50_ms"] = round(percentile(ref, 50), 2)
                results.append(row)
        finally:
            stack.stop()
    table(["records", "folded in s"] + list(queries) + ["GET /v1/health"],
          [[r["records"], r["folded_in_s"]]
           + [f"{r[q]['p50_ms']} / {r[q]['p99_ms']} ms ({r[q]['hits']})" for q in queries]
           + [r["reference GET /v1/health p50_ms"]] for r in results])
    if len(results) > 1:
        first, last = results[0], results[-1]
        grew = last["records"] / max(first["records"], 1)
        for q in queries:
            ratio = last[q]["p50_ms"] / max(first[q]["p50_ms"], 0.001)
            print(f"{q}: {grew:.0f}x the records, p50 {ratio:.1f}x"
                  f" ({'less than linear' if ratio < grew else 'linear or worse'})")
    save("search", {"sizes": sizes, "repeat": args.repeat}, results)
    return {"search": results}


# ---------------------------------------------------------------- 4. footprint and start


def first_request(stack: Stack) -> float:
    """Seconds from starting `ecoc up` to the first successful answer of a component."""
    assert stack.host is not None
    stack.host.stop()
    stack.processes.remove(stack.host)
    started = time.monotonic()
    stack.boot()
    h = Http(stack.base)
    while True:
        try:
            status, _ = h.request("GET", "/v1/health")
            if status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.005)


def cmd_footprint(args) -> dict:
    sizes = {f: (WASM_DIR / f"{f}.wasm").stat().st_size for f in FUNCTIONS}
    with tempfile.TemporaryDirectory(prefix="ecoc-bench-") as tmp:
        stack = Stack(Path(tmp) / "footprint", cache_dir=Path(tmp) / "cache")
        try:
            time.sleep(2)
            idle = proc_rss_mb(stack.host.pid)
            stack.post_csv(m1_rows(args.records, first_serial=6_000_000))
            peak_during = idle
            deadline = time.monotonic() + 300
            while kv_count(stack.db, "work") and time.monotonic() < deadline:
                peak_during = max(peak_during, proc_rss_mb(stack.host.pid))
                time.sleep(0.1)
            after = proc_rss_mb(stack.host.pid)
            hwm = proc_rss_mb(stack.host.pid, "VmHWM")
            cached = [first_request(stack) for _ in range(3)]
            # Idle again after a start from a warm compile cache: the first start above compiled
            # every component, and the allocator keeps much of what compiling used.
            time.sleep(2)
            idle_warm = proc_rss_mb(stack.host.pid)
            stack.compile_cache = False
            uncached = [first_request(stack) for _ in range(2)]
        finally:
            stack.stop()
    result = {
        "wasm_bytes": sizes,
        "rss_mb": {"idle": round(idle, 1), "idle_warm_cache": round(idle_warm, 1), "under_load_max": round(peak_during, 1),
                   "after_load": round(after, 1), "high_water": round(hwm, 1)},
        "first_request_s": {"compile_cache": [round(x, 3) for x in cached],
                            "no_compile_cache": [round(x, 3) for x in uncached]},
        "load_records": args.records,
    }
    table(["function", ".wasm bytes"], [[f, b] for f, b in sizes.items()])
    print()
    table(["measure", "value"], [
        ["host RSS idle, first start (compiled every component) (MB)", result["rss_mb"]["idle"]],
        ["host RSS idle, start from a warm compile cache (MB)", result["rss_mb"]["idle_warm_cache"]],
        [f"host RSS max while {args.records} records run (MB)", result["rss_mb"]["under_load_max"]],
        ["host RSS high-water mark (MB)", result["rss_mb"]["high_water"]],
        ["first request, compile cache (s)", min(cached)],
        ["first request, no compile cache (s)", min(uncached)],
        ["ratio no cache / cache", round(min(uncached) / min(cached), 1)],
    ])
    save("footprint", {"records": args.records}, result)
    return {"footprint": result}


# ---------------------------------------------------------------- main


# ---------------------------------------------------------------- mapping

MAPPING_BENCH = TARGET / "release" / "examples" / "bench_mapping"
MAPPING_WASM = TARGET / "wasm32-wasip1" / "release" / "examples" / "bench_mapping.wasm"
# The demo mapping as it was before the jq language (pointers and code tables only).
POINTER_ONLY_REV = "e6a1b7b"


def build_mapping_bench() -> None:
    run = lambda *a: subprocess.run(a, cwd=ROOT, check=True)  # noqa: E731
    run("cargo", "build", "--release", "-p", "pipeline", "--example", "bench_mapping")
    run("rustup", "target", "add", "wasm32-wasip1")
    run("cargo", "build", "--release", "--target", "wasm32-wasip1", "-p", "pipeline", "--example", "bench_mapping")


def run_wasm(wasm: Path, args: list[str], dirs: list[Path]) -> str:
    """Runs a WASI (preview 1) command under wasmtime (the Python package) and returns its stdout."""
    try:
        import wasmtime
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "wasmtime"], check=True)
        import wasmtime
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(wasm))
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    with tempfile.NamedTemporaryFile("r", suffix=".out") as out:
        config = wasmtime.WasiConfig()
        config.argv = ["bench_mapping", *args]
        config.stdout_file = out.name
        config.inherit_stderr()
        for d in dirs:
            config.preopen_dir(str(d), str(d))
        store.set_wasi(config)
        instance = linker.instantiate(store, module)
        try:
            instance.exports(store)["_start"](store)
        except wasmtime.ExitTrap as e:
            if e.code != 0:
                raise
        return Path(out.name).read_text()


def cmd_mapping(args) -> dict:
    """Per-record cost of mapping, native and in wasm, beside the pointer-only mapping of before."""
    if not args.no_build:
        build_mapping_bench()
    erp = ROOT.parent / "shared" / "erp"
    work = Path(tempfile.mkdtemp(prefix="ecoc-bench-mapping-"))
    old = work / "pointer-only-mapping.json"
    old.write_text(subprocess.run(["git", "show", f"{POINTER_ONLY_REV}:components/pipeline/demo/mapping.json"],
                                  cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    demo_records = sorted(str(p) for p in (DEMO / "records").glob("*.json"))
    cases = [
        ("demo, pointers only (before jq)", old, demo_records),
        ("demo, with jq and when", DEMO / "mapping.json", demo_records),
        ("SAP characteristics (jq lookups)", ROOT / "examples/nordbau-sap/mapping.json", [str(erp / "sap-vc-chassis.json")]),
        ("Sage X3 CSV (separators, dates)", ROOT / "examples/vandam-x3/mapping.json", [str(erp / "vandam-x3-stage2.csv")]),
    ]
    dirs = [ROOT, ROOT.parent / "shared", work]
    figures, rows = [], []
    for name, mapping, records in cases:
        argv = [str(args.rounds), str(mapping), *records]
        native = json.loads(subprocess.run([str(MAPPING_BENCH), *argv], check=True, capture_output=True, text=True).stdout)
        wasm = json.loads(run_wasm(MAPPING_WASM, argv, dirs))
        figures.append({"case": name, "records": native["records"], "native": native, "wasm": wasm})
    base = figures[0]["native"]["ns_per_record"]
    for f in figures:
        n, w = f["native"]["ns_per_record"], f["wasm"]["ns_per_record"]
        rows.append([f["case"], f["records"], f"{n / 1000:.1f}", f"{w / 1000:.1f}", f"{w / n:.2f}x",
                     f"{n / base:.2f}x", f"{f['native']['compile_ns'] / 1e6:.1f}",
                     f"{f['wasm']['compile_ns'] / 1e6:.1f}", f"{f['native']['check_ns'] / 1e6:.1f}"])
    table(["mapping", "records", "native us/record", "wasm us/record", "wasm / native",
           "native / pointers-only", "read ms (native)", "read ms (wasm)", "store ms"], rows)
    save("mapping", {"rounds": args.rounds, "pointer_only_rev": POINTER_ONLY_REV}, figures)
    return {"figures": figures}


# ---------------------------------------------------------------- 7. spin beside ecoc


def runtime_once(runtime: str, workdir: Path, records: int, rate: float, seconds: float) -> dict:
    """One host on its own stack: the ERP's answer under open-loop load, then
    `records` CSV rows to Succeeded at the NAP with the host's CPU per eCoC."""
    log(f"{runtime}: start, {rate:g} req/s for {seconds:g} s, then {records} records end to end")
    stack = Stack(workdir / runtime, runtime=runtime)
    try:
        erp = open_loop(stack.base, stack.token, rate, seconds, first_serial=5_000_000)
        wait_until(lambda: kv_count(stack.db, "work") == 0, timeout=120, poll=0.2,
                   what="the latency run's records final")
        delivered_before = nap_succeeded(stack)
        rows = m1_rows(records, first_serial=6_000_000)
        cpu0, t0 = stack.cpu(), time.monotonic()
        accepted, refused = stack.post_csv(rows)
        if refused:
            raise RuntimeError(f"{runtime}: {refused} of {records} rows refused")
        wait_until(lambda: nap_succeeded(stack) >= delivered_before + accepted,
                   timeout=120 + records * 0.5, poll=0.1, what=f"{runtime}: Succeeded at the NAP")
        e2e_s = time.monotonic() - t0
        cpu = cpu_delta(cpu0, stack.cpu())
        rss = proc_rss_mb(stack.host.pid)
    finally:
        stack.stop()
    return {
        "runtime": runtime,
        "erp_answer": erp,
        "end_to_end": {"records": records, "seconds": round(e2e_s, 2), "ecoc_per_s": round(records / e2e_s, 1),
                       "host_cpu_ms_per_ecoc": round(1000 * cpu["ecoc"] / records, 3),
                       "stack_cpu_ms_per_ecoc": round(1000 * sum(cpu.values()) / records, 3)},
        "host_rss_mb_after": round(rss, 1),
    }


def cmd_spin(args) -> dict:
    spin = spin_binary()
    if not spin:
        log("no `spin` CLI: ../shared/tools/build-spin.sh builds it (or set SPIN_BIN); spin skipped")
        return {}
    version = subprocess.run([spin, "--version"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="ecoc-bench-") as tmp:
        runs = [runtime_once(r, Path(tmp), args.records, args.rate, args.seconds) for r in ("ecoc", "spin")]
    table(["host", "ERP p50 ms", "ERP p99 ms", "202", "eCoC/s", "host cpu ms/eCoC", "stack cpu ms/eCoC", "RSS MB"],
          [[r["runtime"], r["erp_answer"]["p50_ms"], r["erp_answer"]["p99_ms"], r["erp_answer"]["accepted"],
            r["end_to_end"]["ecoc_per_s"], r["end_to_end"]["host_cpu_ms_per_ecoc"],
            r["end_to_end"]["stack_cpu_ms_per_ecoc"], r["host_rss_mb_after"]] for r in runs])
    ecoc, spin_run = runs
    ratios = {
        "throughput_ecoc_over_spin": round(ecoc["end_to_end"]["ecoc_per_s"] / spin_run["end_to_end"]["ecoc_per_s"], 2),
        "host_cpu_ecoc_over_spin": round(ecoc["end_to_end"]["host_cpu_ms_per_ecoc"]
                                         / spin_run["end_to_end"]["host_cpu_ms_per_ecoc"], 2),
        "erp_p99_ecoc_over_spin": round(ecoc["erp_answer"]["p99_ms"] / spin_run["erp_answer"]["p99_ms"], 2),
    }
    print("ratios:", json.dumps(ratios))
    save("spin", {"spin": version, "records": args.records, "rate": args.rate, "seconds": args.seconds},
         {"runs": runs, "ratios": ratios})
    return {"spin": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-build", action="store_true", help="use the release builds as they are")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("throughput", help="records/s from ERP upload to Succeeded at the NAP, vs references")
    p.add_argument("--sizes", default="100,1000,10000")
    p.add_argument("--hand-sample", type=int, default=200,
                   help="files timed for the hand-scripted reference (it runs ~30 files/s)")
    p = sub.add_parser("latency", help="open-loop p50/p99 of POST /v1/vehicles and per hop")
    p.add_argument("--rates", default="10,50")
    p.add_argument("--seconds", type=float, default=10)
    p = sub.add_parser("backlog", help="time to clear records queued while the NAP was down")
    p.add_argument("--sizes", default="1000,3000,10000")
    p = sub.add_parser("search", help="VIN search latency over many stored records")
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--repeat", type=int, default=30)
    p = sub.add_parser("footprint", help="RSS, .wasm sizes, time to first request")
    p.add_argument("--records", type=int, default=500)
    p = sub.add_parser("mapping", help="per-record cost of the mapping language, native and wasm")
    p.add_argument("--rounds", type=int, default=200)
    p = sub.add_parser("spin", help="the same app under the real `spin up` beside `ecoc up`")
    p.add_argument("--records", type=int, default=1000)
    p.add_argument("--rate", type=float, default=50)
    p.add_argument("--seconds", type=float, default=10)
    sub.add_parser("all", help="every benchmark with its defaults")
    args = parser.parse_args()
    if official_xsd() is None:
        log("the official IVI 2.0 XSD is needed: put ../shared/ivi2 beside the checkout or set ECOC_IVI2_XSD")
        return 2
    if not args.no_build and args.command != "mapping":
        build()
    commands = {"throughput": cmd_throughput, "latency": cmd_latency, "backlog": cmd_backlog,
                "search": cmd_search, "footprint": cmd_footprint, "mapping": cmd_mapping,
                "spin": cmd_spin}
    if args.command == "all":
        for name, fn in commands.items():
            defaults = parser.parse_args(["--no-build", name])
            print(f"\n== {name}")
            fn(defaults)
    else:
        commands[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
