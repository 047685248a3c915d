# One command per habit; README.md and .ci/run call these.
SHELL := /bin/bash
SHARED ?= ../shared
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
ECOC := $(TARGET_DIR)/release/ecoc

.PHONY: setup build up test test-rust fuzz-short check-manifests lint fmt bench

setup:
	./scripts/setup.sh

## Build every component of spin.toml and the ecoc binary.
build: setup
	@# spin.toml names components under ./target; point it at a custom CARGO_TARGET_DIR.
	@if [ -n "$$CARGO_TARGET_DIR" ] && [ ! -e target ]; then ln -s "$$CARGO_TARGET_DIR" target; fi
	cargo build --release -p ecoc
	$(ECOC) build

## Build and serve the app on http://127.0.0.1:3000 with local sandboxes and a demo tenant.
up: build
	$(ECOC) up --dev

## Everything CI runs: formatting, lints, manifest schema, all tests.
test: setup lint check-manifests test-rust fuzz-short

test-rust:
	cargo test --workspace --all-features

## Every cargo-fuzz target for a bounded time (HARDENING.md); `scripts/fuzz.sh 3600` for a long run.
fuzz-short:
	FUZZ_SEED=1 ./scripts/fuzz.sh 15

check-manifests:
	@if [ -f "$(SHARED)/spin/manifest-v2.schema.json" ]; then \
	  python3 scripts/check_manifest.py "$(SHARED)/spin/manifest-v2.schema.json" spin.toml tests/apps/*/spin.toml; \
	elif [ -n "$$CI" ]; then echo "missing $(SHARED)/spin/manifest-v2.schema.json" >&2; exit 1; \
	else echo "SKIPPED manifest schema check: $(SHARED)/spin is not beside this checkout"; fi
	python3 scripts/check_openapi.py

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings

fmt:
	cargo fmt --all

## Benchmarks print figures; they assert nothing (BENCHMARKS.md). `oha` comes from the Rust crate registry.
bench: setup
	command -v oha >/dev/null || cargo install oha --locked
	./bench/ecoc_bench.py all
	cargo build --release -p ecoc-host --example native_reference
	cargo build --release --target wasm32-wasip2 -p probe
	./scripts/bench_host.py
