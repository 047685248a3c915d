#!/usr/bin/env bash
# Runs every cargo-fuzz target for $1 seconds (default 20). Installs cargo-fuzz when missing.
# FUZZ_SEED fixes libFuzzer's seed (CI uses 1, so a short run is repeatable); each target's whole
# output goes to fuzz/logs/<target>.log, and a crash prints its panic and the failing input.
# FUZZ_TARGETS picks some targets (default: all of them).
set -euo pipefail
seconds="${1:-20}"
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
mkdir -p fuzz/logs fuzz/corpus/{xml_reader,c14n,xsd_validator,mapper,csv_reader,audit_log,json_api}
for f in components/ivi/tests/fixtures/*/expected.xml; do
  for t in xml_reader c14n xsd_validator; do cp "$f" "fuzz/corpus/$t/$(echo "$f" | tr / _)"; done
done
cp components/pipeline/demo/records/*.json fuzz/corpus/mapper/
cp components/pipeline/demo/mapping.json fuzz/corpus/mapper/demo-mapping.json
for m in examples/*/mapping.json; do cp "$m" "fuzz/corpus/mapper/$(echo "$m" | tr / _)"; done
cp components/pipeline/demo/records.csv fuzz/corpus/csv_reader/
cp fuzz/seeds/audit_log/*.jsonl fuzz/corpus/audit_log/
cp fuzz/seeds/json_api/*.json fuzz/corpus/json_api/
for d in components/pipeline/demo examples/*/; do
  for f in "${d%/}"/mapping.json "${d%/}"/approvals.json; do cp "$f" "fuzz/corpus/json_api/$(echo "$f" | tr / _)"; done
done
targets="${FUZZ_TARGETS:-xml_reader c14n xsd_validator mapper csv_reader audit_log json_api}"
for target in $targets; do
  echo "fuzz: $target for ${seconds}s"
  log="fuzz/logs/$target.log"
  if ! (cd fuzz && cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" \
      -max_len=65536 -rss_limit_mb=2048 ${FUZZ_SEED:+-seed="$FUZZ_SEED"}) >"$log" 2>&1; then
    echo "fuzz: $target FAILED (whole output in $log)"
    grep -E -A2 "panicked at|ERROR: libFuzzer|Failing input|^Error" "$log" | grep -v '^ *[0-9]*: ' | head -30
    exit 1
  fi
  tail -1 "$log" | cut -c1-160
done
