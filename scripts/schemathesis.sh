#!/usr/bin/env bash
# Property-based tests of a running ecoc against schemas/openapi.json (schemathesis): every answer
# must be a documented status, content type and JSON shape, and none may be a 5xx.
#
#   scripts/schemathesis.sh BASE_URL TOKEN_FILE [extra schemathesis options...]
#   scripts/schemathesis.sh http://127.0.0.1:3000 .spin/demo-token          # against `ecoc up --dev`
#
# TOKEN_FILE holds a primary token of a tenant that may be changed (the demo tenant of
# `ecoc up --dev`): the run uploads vehicles, issues tokens, stores secrets and tries settings.
# Bounded: SCHEMATHESIS_MAX_EXAMPLES (default 30) cases per operation, SCHEMATHESIS_WORKERS
# (default 1), and the whole run is stopped after SCHEMATHESIS_TIMEOUT seconds (default 900).
# Extra options go to `schemathesis run` as they are (e.g. --seed 1, --phases examples,fuzzing).
# Exits non-zero on any failure.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BASE_URL TOKEN_FILE [schemathesis run options...]" >&2
  exit 2
fi
base_url=${1%/}
token_file=$2
shift 2

root=$(cd "$(dirname "$0")/.." && pwd)
spec="$root/schemas/openapi.json"

# A `pip install --user` may leave the command off PATH; the module is the same program.
if command -v schemathesis >/dev/null; then
  st=(schemathesis)
elif python3 -c "import schemathesis" 2>/dev/null; then
  st=(python3 -m schemathesis.cli)
else
  echo "schemathesis: not installed; run \`make setup\` (scripts/setup.sh)" >&2
  exit 1
fi
if [ ! -r "$token_file" ]; then
  echo "schemathesis: cannot read the token file $token_file" >&2
  exit 1
fi
token=$(tr -d '[:space:]' <"$token_file")
if [ -z "$token" ]; then
  echo "schemathesis: $token_file is empty" >&2
  exit 1
fi
if ! curl -fsS -o /dev/null "$base_url/v1/health"; then
  echo "schemathesis: $base_url/v1/health does not answer; start the app first (\`ecoc up --dev\`)" >&2
  exit 1
fi

# Left out of the run:
# - /view/...: HTML pages for people with a session cookie, not the bearer token;
# - /v1/admin/...: they take the deployment's admin_token, and create tenants or run the
#   sweep and digest, which are the timers' business;
# - DELETE /v1/tenant/tokens/{name} (revokeToken): a run that revoked the token it uses (after
#   issuing another primary, the last one may go) would answer 401 to everything after it.
status=0
timeout --foreground "${SCHEMATHESIS_TIMEOUT:-900}" \
  "${st[@]}" run "$spec" \
  --url "$base_url" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
  --workers "${SCHEMATHESIS_WORKERS:-1}" \
  --request-timeout 40 \
  --generation-database none \
  --exclude-path-regex '^/(view|v1/admin)/' \
  --exclude-operation-id revokeToken \
  --no-color \
  "$@" || status=$?

if [ "$status" -eq 124 ]; then
  echo "schemathesis: stopped after ${SCHEMATHESIS_TIMEOUT:-900} s (SCHEMATHESIS_TIMEOUT)" >&2
fi
exit "$status"
