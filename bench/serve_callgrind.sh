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
WEFT=$(realpath "$BUILD/bin/weft")
CONNECTORS=$(realpath "$BUILD/lib/weft/connectors")
WEFT_SETUP_BENCH=1 bash "$(dirname "$0")/../scripts/setup.sh"
command -v valgrind >/dev/null || { sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo; $sudo_ apt-get install -y -qq valgrind >/dev/null; }
for tool in valgrind callgrind_control callgrind_annotate nginx curl python3; do
  command -v "$tool" >/dev/null || { echo "serve_callgrind.sh: $tool is not installed" >&2; exit 1; }
done

TMP=$(mktemp -d)
NGINX_PID=""
WEFT_PID=""
cleanup() {
  [ -n "$WEFT_PID" ] && kill "$WEFT_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); WPORT=$(free_port)

mkdir -p "$TMP/nginx/logs" "$TMP/flows"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  server { listen 127.0.0.1:$UP; location / { default_type application/json; return 200 '{"ok":true,"n":42}'; } }
}
EOF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!

cat >"$TMP/weft.yaml" <<EOF
listen: 127.0.0.1:$WPORT
home: home
workflows: flows
connectors: [$CONNECTORS]
workers: 8
log_format: text
EOF
cat >"$TMP/flows/bench.yaml" <<EOF
name: bench
on:
  webhook: {}
steps:
  - id: call
    uses: http.request
    with:
      method: GET
      url: http://127.0.0.1:$UP/item
EOF

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
