#!/usr/bin/env bash
# serve_callgrind.sh — the daemon's user-space instructions per webhook run, counted by callgrind:
# the same path as serve_wrk.sh (a webhook, one http.request step to a local nginx, the run
# recorded, the record answered), N requests one after another on one keep-alive connection after a
# warm-up. Unlike runs/s on a shared 2-core machine, the count hardly moves from one run to the
# next (a few instructions in a million), so it tells whether a change to the request path made it
# cheaper. Kernel time (system calls, context switches) is not in it: serve_wrk.sh shows those.
#
#   bench/serve_callgrind.sh [build-dir] [requests]     # default: build 1000
#   WEFT_ENV="LD_PRELOAD=..." bench/serve_callgrind.sh  # extra environment for the daemon alone
#   WEFT_CALLGRIND_OUT=FILE bench/serve_callgrind.sh    # keeps the profile (callgrind_annotate FILE)
set -euo pipefail

BUILD=${1:-build}
N=${2:-1000}
command -v valgrind >/dev/null || { sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo; $sudo_ apt-get install -y -qq valgrind >/dev/null; }
SCRIPT=serve_callgrind.sh
TOOLS="valgrind callgrind_control callgrind_annotate nginx curl python3"
# shellcheck source=bench/serve_env.sh
source "$(dirname "$0")/serve_env.sh"

env ${WEFT_ENV:-} valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.out" \
  "$WEFT" --home "$TMP/home" serve --config "$TMP/weft.yaml" 2>"$TMP/weft.log" &
WEFT_PID=$!
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$WPORT/healthz" >/dev/null && break
  kill -0 "$WEFT_PID" 2>/dev/null || { cat "$TMP/weft.log" >&2; exit 1; }
  sleep 0.1
done

# N webhook runs over one keep-alive connection; every answer must be a succeeded run.
post() {
  python3 - "$WPORT" "$1" <<'EOF'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
for _ in range(int(sys.argv[2])):
    c.request("POST", "/hooks/bench", body='{"id":1}', headers={"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    if r.status != 200 or json.loads(body)["status"] != "succeeded":
        sys.exit("serve_callgrind.sh: a run did not succeed: %d %s" % (r.status, body[:200]))
EOF
}
post 50                                   # warm-up: pools, caches, lazily compiled schemas
callgrind_control -z "$WEFT_PID" >/dev/null 2>&1
post "$N"
callgrind_control -d "$WEFT_PID" >/dev/null 2>&1
sleep 0.5
PROFILE=$(ls -t "$TMP"/callgrind.out* | head -1)
IR=$(callgrind_annotate "$PROFILE" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
[ -n "${WEFT_CALLGRIND_OUT:-}" ] && cp "$PROFILE" "$WEFT_CALLGRIND_OUT"
echo "runs         : $N (one keep-alive connection, after 50 warm-up runs)"
echo "instructions : $((IR / N)) per run (user space, all daemon threads; callgrind)"
