#!/usr/bin/env bash
# Runs every cargo-fuzz target for $1 seconds (default 20). Installs cargo-fuzz when missing.
set -euo pipefail
seconds="${1:-20}"
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
mkdir -p fuzz/corpus/{xml_reader,c14n,xsd_validator,mapper,csv_reader}
for f in components/ivi/tests/fixtures/*/expected.xml; do
  for t in xml_reader c14n xsd_validator; do cp "$f" "fuzz/corpus/$t/$(echo "$f" | tr / _)"; done
done
cp components/pipeline/demo/records/*.json fuzz/corpus/mapper/
cp components/pipeline/demo/records.csv fuzz/corpus/csv_reader/
for target in xml_reader c14n xsd_validator mapper csv_reader; do
  echo "fuzz: $target for ${seconds}s"
  (cd fuzz && cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 2>&1 | tail -3)
done
