#!/usr/bin/env bash
# Runs the official-SDK interop check against a fresh obs-server on loopback, once with
# permanent credentials and once with temporary ones (security token).
#
# Environment:
#   OBS_SERVER_BIN     obs-server binary to use (default: cargo build -p obs-server)
#   OBS_INTEROP_VENV   venv with esdk-obs-python (default: <repo>/.venv, created if missing)
#   OBS_INTEROP_OUT    directory for the JSON results (default: a temporary directory)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${OBS_INTEROP_VENV:-$ROOT/.venv}
if ! "$VENV/bin/python" -c "import obs" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r "$ROOT/tests/python/requirements.txt"
fi

BIN=${OBS_SERVER_BIN:-}
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --quiet -p obs-server)
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/obs-server
fi

OUT=${OBS_INTEROP_OUT:-$(mktemp -d)}
mkdir -p "$OUT"

# Test-only credentials, generated per run.
AK="AKINTEROP$(date +%s)"
SK="SK$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TOKEN="tok+$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')/=="

run_case() {
    local name=$1 cred=$2 token=$3
    # The server reads its stdin from our pipe: when this shell goes away, so does the server.
    coproc SERVER { exec "$BIN" --listen 127.0.0.1:0 --crc64 --cred "$cred"; }
    local line
    read -r line <&"${SERVER[0]}"
    local endpoint
    endpoint=$(printf '%s' "$line" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["endpoint"])')
    local status=0
    OBS_ACCESS_KEY_ID=$AK OBS_SECRET_ACCESS_KEY=$SK OBS_SECURITY_TOKEN=$token \
        "$VENV/bin/python" "$ROOT/tests/python/sdk_interop.py" --endpoint "$endpoint" --builtin \
        --bucket "interop-$name" --out "$OUT/$name.json" > /dev/null 2> "$OUT/$name.stderr" || status=$?
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    if [ ! -s "$OUT/$name.json" ]; then
        echo "sdk interop ($name credentials): no result" >&2
        cat "$OUT/$name.stderr" >&2
        return 1
    fi
    echo "sdk interop ($name credentials): $(tail -n 1 "$OUT/$name.stderr"), results in $OUT/$name.json"
    if [ "$status" -ne 0 ]; then
        "$VENV/bin/python" -c 'import json,sys; [print("  FAILED:", f) for f in json.load(open(sys.argv[1]))["failures"]]' "$OUT/$name.json" >&2
    fi
    return $status
}

overall=0
run_case permanent "$AK:$SK" "" || overall=1
run_case temporary "$AK:$SK:$TOKEN" "$TOKEN" || overall=1
exit $overall
