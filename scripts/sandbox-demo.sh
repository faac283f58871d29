#!/usr/bin/env bash
# sandbox-demo.sh [BUILD_DIR] — runs the example workflows end to end, offline, on a built tree
# (scripts/demo.sh builds first). Everything talks to weft-sandbox (local emulations of Restream,
# Livepush and OvenMediaEngine written from their docs) and a small JSON/webhook server, both on
# 127.0.0.1; connections are made with the real CLI, OAuth2 included (authorize → redirect → code
# exchange); the weft home is a temporary directory removed at the end (WEFT_DEMO_KEEP=1 keeps it).
# tests/connectors/cli_oauth_cycle_test.cpp runs this script, so the demo keeps working.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${1:-$root/build}
weft="$build/bin/weft"
sandbox_bin="$build/bin/weft-sandbox"
for bin in "$weft" "$sandbox_bin"; do
  [[ -x $bin ]] || { echo "sandbox-demo: $bin is missing; run scripts/build.sh first" >&2; exit 1; }
done
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "sandbox-demo: $tool is needed (scripts/setup.sh installs it)" >&2; exit 1; }
done
work=$(mktemp -d)
export WEFT_HOME="$work/home"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${WEFT_DEMO_KEEP:-0}" = 1 ]; then echo "(kept $work)"; else rm -rf "$work"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
# Waits up to 10 s for a line matching $2 in file $1 and prints it.
wait_line() {
  for _ in $(seq 100); do
    if grep -q "$2" "$1" 2>/dev/null; then grep -m1 "$2" "$1"; return 0; fi
    sleep 0.1
  done
  echo "demo: timed out waiting for '$2' in $1" >&2
  cat "$1" >&2 || true
  return 1
}

step "the sandbox (local provider emulations) and a small JSON/webhook server, on 127.0.0.1"
"$sandbox_bin" --port 0 >"$work/sandbox.out" 2>&1 &
pids+=($!)
S=$(wait_line "$work/sandbox.out" "listening on" | sed 's/.*listening on //')
echo "sandbox: $S"
python3 - "$work/sink.out" >"$work/sink.log" 2>&1 <<'PY' &
import http.server, json, sys, urllib.parse
out = sys.argv[1]
class Sink(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # GET /profile?name=X -> {"name": X}, for examples/hello.yaml
        url = urllib.parse.urlparse(self.path)
        name = urllib.parse.parse_qs(url.query).get("name", ["world"])[0]
        body = json.dumps({"name": name}).encode()
        self.send_response(200 if url.path == "/profile" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), Sink)
print("sink listening on http://127.0.0.1:%d" % srv.server_address[1], flush=True)
srv.serve_forever()
PY
pids+=($!)
SINK=$(wait_line "$work/sink.log" "listening on" | sed 's/.*listening on //')
echo "webhook sink: $SINK"

step "weft connectors list"
"$weft" connectors list

step "weft validate (every example workflow)"
"$weft" validate examples/hello.yaml examples/restream_*.yaml examples/livepush_*.yaml examples/ome_*.yaml examples/workflows/*.yaml

# Authorizes an OAuth2 connection the way a user would, with the sandbox's consent page approving
# at once: `authorize --listen` prints the URL and waits for the redirect; curl plays the browser.
authorize() {
  local name=$1 port=$2
  "$weft" connections authorize "$name" --listen "127.0.0.1:$port" >"$work/auth-$name.out" 2>&1 &
  local pid=$!
  local url
  url=$(wait_line "$work/auth-$name.out" "^http")
  curl -sS -o /dev/null -L --max-time 10 "$url"
  wait "$pid"
  cat "$work/auth-$name.out" | tail -n 1
}

step "connections: Restream and Livepush (OAuth2 against the sandbox), OvenMediaEngine (API token)"
"$weft" connections add my-restream --connector restream --client-id sandbox-client --client-secret sandbox-secret \
  --set authorize_url="$S/restream/login" --set token_url="$S/restream/oauth/token" \
  --set revoke_url="$S/restream/oauth/revoke" --set api_base="$S/restream"
authorize my-restream 18765
"$weft" connections add my-livepush --connector livepush --client-id sandbox-client --client-secret sandbox-secret \
  --set authorize_url="$S/livepush/id/oauth2/authorize" --set token_url="$S/livepush/tokens/oauth2/access_token" \
  --set api_base="$S/livepush/octopus" --set accounts_base="$S/livepush/squid"
authorize my-livepush 18766
"$weft" connections add my-ome --connector ovenmediaengine --token ome-access-token \
  --set api_base="$S/ome" --set signed_policy_secret='1kU^b6' --set ovenstudio_base="$S/ovenstudio" \
  --set ovenstudio_token=ovenstudio-token
"$weft" connections list

step "weft run examples/hello.yaml (the generic http connector against the local sink)"
"$weft" run examples/hello.yaml --input base_url="$SINK" --input who=Ada

step "weft run examples/restream_morning_digest.yaml (posts tomorrow's events to the sink)"
"$weft" run examples/restream_morning_digest.yaml --input webhook_url="$SINK/morning-digest"
echo "the sink received:"
cat "$work/sink.out"

step "weft run examples/livepush_stream_on_webhook.yaml (a stream created and a destination enabled)"
"$weft" run examples/livepush_stream_on_webhook.yaml --input name="Demo show" --input destination_id=pb_youtube1

step "the same run as JSON (--json), for machines"
"$weft" run examples/livepush_stream_on_webhook.yaml --input name="Demo JSON" --input destination_id=pb_twitch1 --json

step "weft serve: the daemon runs the webhook and OvenMediaEngine examples on their triggers"
mkdir -p "$work/flows"
cp examples/livepush_stream_on_webhook.yaml "$work/flows/"
# The OME example polls every 10 s; the demo polls every second so it does not wait.
sed 's/^  interval: 10s/  interval: 1s/' examples/ome_record_on_publish.yaml >"$work/flows/ome_record_on_publish.yaml"
cat >"$work/weft.yaml" <<YAML
listen: 127.0.0.1:0
workflows: $work/flows
log_format: text
YAML
"$weft" serve --config "$work/weft.yaml" >"$work/serve.log" 2>&1 &
pids+=($!)
D=http://$(wait_line "$work/serve.log" "listening" | sed 's/.*address=//' | tr -d '"')
TOKEN=$(cat "$WEFT_HOME/admin.token")
echo "daemon: $D (admin token in \$WEFT_HOME/admin.token)"
api() { curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "$@"; echo; }
echo "-- GET /v1/workflows"
api "$D/v1/workflows"
echo "-- POST /hooks/livepush-stream-on-webhook {\"name\":\"From a webhook\",\"destination_id\":\"pb_twitch1\"}"
curl -sS --max-time 20 -X POST -H 'Content-Type: application/json' \
  -d '{"name":"From a webhook","destination_id":"pb_twitch1"}' "$D/hooks/livepush-stream-on-webhook" | head -c 400
echo " …"
echo "-- a stream goes live on OvenMediaEngine (sandbox control), the daemon's poll picks it up"
sleep 1.5  # the first poll only records what is already live
curl -sS --max-time 5 -X POST -d "" "$S/_control/ome/vhosts/default/apps/app/streams/demo-cam/publish" >/dev/null
for _ in $(seq 100); do
  if api "$D/v1/runs?workflow=ome-record-on-publish&limit=1" | grep -q '"succeeded"'; then break; fi
  sleep 0.1
done
echo "-- GET /v1/runs?limit=5"
api "$D/v1/runs?limit=5"
echo "-- GET /metrics (excerpt)"
api "$D/metrics" | grep -E '^weft_(runs_total|connectors_loaded)' || true

step "every run is recorded under the weft home"
ls -l "$WEFT_HOME"
echo
echo "demo: done"
