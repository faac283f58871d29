# serve_env.sh — what bench/serve_wrk.sh and bench/serve_callgrind.sh share, sourced by both after
# they set BUILD, SCRIPT (their name, for messages) and TOOLS (the commands they need): the bench
# tools from Debian's packages, a temp dir removed on exit with nginx and the daemon stopped, free
# ports UP (nginx answering a small JSON document), PROXY (nginx as a reverse proxy to it) and
# WPORT (the daemon), nginx started, and the daemon's config with the one-step webhook workflow.
WEFT=$(realpath "$BUILD/bin/weft")
CONNECTORS=$(realpath "$BUILD/lib/weft/connectors")
# wrk, nginx and sqlite3 come from Debian's packages (setup.sh installs them when missing).
WEFT_SETUP_BENCH=1 bash "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
for tool in $TOOLS; do
  command -v "$tool" >/dev/null || { echo "$SCRIPT: $tool is not installed" >&2; exit 1; }
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
UP=$(free_port); PROXY=$(free_port); WPORT=$(free_port)

mkdir -p "$TMP/nginx/logs" "$TMP/flows"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  upstream up { server 127.0.0.1:$UP; keepalive 32; }
  server { listen 127.0.0.1:$UP; location / { default_type application/json; return 200 '{"ok":true,"n":42}'; } }
  server { listen 127.0.0.1:$PROXY;
           location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
EOF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!

cat >"$TMP/weft.yaml" <<EOF
listen: 127.0.0.1:$WPORT
home: home
workflows: flows
connectors: [$CONNECTORS]
workers: 32
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
