#!/usr/bin/env bash
# Installs what building and testing ecoc needs on a fresh Debian/Ubuntu machine:
# the wasm32-wasip2 Rust target, the reference tools the tests compare against
# (xmllint, xmlsec1, redis-server), OpenSSL's headers (the QTSP sandbox's `openssl` feature),
# the browser the view's check drives (chromium and its driver), the Python oracles (signxml,
# jsonschema, selenium) and the API description's checkers (openapi-spec-validator, schemathesis).
# Safe to run again: it installs only what is missing.
set -euo pipefail

need_apt=()
command -v xmllint >/dev/null || need_apt+=(libxml2-utils)
command -v xmlsec1 >/dev/null || need_apt+=(xmlsec1)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v curl >/dev/null || need_apt+=(curl)
command -v make >/dev/null || need_apt+=(make)
# The QTSP sandbox's `openssl` feature (the benchmark's build; CI builds every feature).
pkg-config --exists openssl 2>/dev/null || need_apt+=(libssl-dev pkg-config)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 Rust target"
  rustup target add wasm32-wasip2
fi

if ! python3 -c "import signxml, jsonschema, lxml, openapi_spec_validator, schemathesis, selenium" 2>/dev/null; then
  echo "setup: installing Python test oracles (signxml, jsonschema, openapi-spec-validator, schemathesis, selenium)"
  python3 -m pip install --quiet --disable-pip-version-check signxml jsonschema lxml openapi-spec-validator schemathesis selenium \
    || python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages signxml jsonschema lxml openapi-spec-validator schemathesis selenium
fi
# The benchmark's in-process reference (libxml2 + libxmlsec1 looped in one process) needs the
# python-xmlsec binding; no test needs it, so a machine without a wheel for it still sets up.
if ! python3 -c "import lxml.etree, xmlsec" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check xmlsec 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages xmlsec 2>/dev/null \
    || echo "setup: python-xmlsec not installed; the benchmark leaves out its in-process libxml2 reference"
fi
echo "setup: ready"
