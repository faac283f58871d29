#!/usr/bin/env bash
# sandbox-demo.sh [BUILD_DIR] — runs an example workflow end to end, offline: starts weft-sandbox
# on 127.0.0.1, creates a throwaway weft home, connects a Livepush account through the sandbox's
# OAuth2 endpoints (authorize → redirect → code exchange), and runs
# examples/livepush_stream_on_webhook.yaml. Stops the sandbox on exit. Needs a built tree
# (scripts/build.sh) and curl.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
weft="$build/bin/weft"
sandbox="$build/bin/weft-sandbox"
for bin in "$weft" "$sandbox"; do
  [[ -x $bin ]] || { echo "sandbox-demo: $bin is missing; run scripts/build.sh first" >&2; exit 1; }
done

work=$(mktemp -d)
sandbox_pid=""
cleanup() {
  if [[ -n $sandbox_pid ]]; then
    kill -TERM "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. The sandbox prints "weft-sandbox listening on http://127.0.0.1:PORT" once it serves.
"$sandbox" --port 0 >"$work/sandbox.out" 2>&1 &
sandbox_pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$work/sandbox.out" && break; sleep 0.1; done
S=$(sed -n 's/^weft-sandbox listening on //p' "$work/sandbox.out")
[[ -n $S ]] || { echo "sandbox-demo: weft-sandbox did not start:" >&2; cat "$work/sandbox.out" >&2; exit 1; }
echo "sandbox: $S"

export WEFT_HOME="$work/home"

# 2. A Livepush connection pointed at the sandbox (client sandbox-client / sandbox-secret).
"$weft" connections add my-livepush --connector livepush \
  --client-id sandbox-client --client-secret sandbox-secret \
  --set authorize_url="$S/livepush/id/oauth2/authorize" \
  --set token_url="$S/livepush/tokens/oauth2/access_token" \
  --set api_base="$S/livepush/octopus" --set accounts_base="$S/livepush/squid"

# 3. Authorize: weft prints the URL and waits on --listen; the sandbox approves at once and
#    redirects to the listener with code and state, which curl follows.
listen=127.0.0.1:$((20000 + RANDOM % 20000))
"$weft" connections authorize my-livepush --listen "$listen" >"$work/authorize.out" 2>&1 &
authorize_pid=$!
url=""
for _ in $(seq 100); do
  url=$(grep -m1 -o 'http://127\.0\.0\.1:[0-9]*/livepush/id/oauth2/authorize?[^ ]*' "$work/authorize.out" || true)
  [[ -n $url ]] && break
  sleep 0.1
done
[[ -n $url ]] || { echo "sandbox-demo: no authorize URL:" >&2; cat "$work/authorize.out" >&2; exit 1; }
curl -fsSL --max-time 10 "$url" >/dev/null || true
wait "$authorize_pid" || { echo "sandbox-demo: authorize failed:" >&2; cat "$work/authorize.out" >&2; exit 1; }
"$weft" connections list

# 4. The workflow: create a stream and enable the sandbox's YouTube destination on it.
"$weft" run "$root/examples/livepush_stream_on_webhook.yaml" \
  --input name="weft demo" --input destination_id=pb_youtube1
