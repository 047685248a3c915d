#!/usr/bin/env bash
# A check by hand (it needs root, for a tmpfs): `ecoc up --dev` with its state on a 16 MiB tmpfs;
# one vehicle in, the disk filled, another vehicle (expect 503 `store_unavailable` "database or
# disk is full"), space freed, the same vehicle again (202), and both records end Succeeded.
# Not in CI: mounting needs CAP_SYS_ADMIN, which a CI runner may not have. HARDENING.md has the
# last run's answers.
set -euo pipefail
cd "$(dirname "$0")/.."
ECOC="${CARGO_TARGET_DIR:-target}/debug/ecoc"
DIR="${DISK_FULL_DIR:-/tmp/ecoc-disk-full}"
PORT="${DISK_FULL_PORT:-3999}"
BASE="http://127.0.0.1:$PORT"
mkdir -p "$DIR"
mount -t tmpfs -o size=16m tmpfs "$DIR"
"$ECOC" up --dev --state-dir "$DIR/state" --cache-dir "${TMPDIR:-/tmp}/ecoc-disk-full-cache" \
  --listen "127.0.0.1:$PORT" > "$DIR.log" 2>&1 &
HOST=$!
cleanup() { kill "$HOST" 2>/dev/null || true; wait "$HOST" 2>/dev/null || true; umount "$DIR"; }
trap cleanup EXIT
for _ in $(seq 1 300); do
  [ -s "$DIR/state/demo-token" ] && curl -sf -o /dev/null "$BASE/v1/health" && break
  sleep 1
done
TOKEN=$(cat "$DIR/state/demo-token")
post() {
  local code
  code=$(curl -s -o "$DIR.body" -w '%{http_code}' "$BASE/v1/vehicles" \
    -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' --data "$1")
  echo "  HTTP $code $(cut -c1-160 "$DIR.body")"
}
FIRST=$(cat components/pipeline/demo/records/m1.json)
SECOND=${FIRST//WEX1M1AB2C3456789/WEX1M1AB2C3456790}
echo "one vehicle:";                 post "$FIRST"
sleep 3
dd if=/dev/zero of="$DIR/filler" bs=64k 2>/dev/null || true
echo "disk full, another vehicle:";  post "$SECOND"
echo "health while full:"
curl -s -w ' HTTP %{http_code}\n' "$BASE/v1/health"
rm "$DIR/filler"
echo "space again, the same one:";   post "$SECOND"
sleep 10
echo "records:"
curl -s "$BASE/v1/submissions?limit=10" -H "Authorization: Bearer $TOKEN" |
  python3 -c 'import sys, json; [print(" ", r["vin"], r["status"]) for r in json.load(sys.stdin)["items"]]'
