#!/usr/bin/env bash
# Places one call through a running Parley (start it first: bash scripts/start.sh):
# a SIPp caller (440 Hz tone) → Parley's record-notice flow → a SIPp callee (1 kHz tone).
# The caller hears the notice as early media, then the callee; Parley records both.
#   bash scripts/demo-call.sh [PARLEY_HOST:PORT [RECORDINGS_DIR]]
# (default 127.0.0.1:5060 and ./recordings: give Parley's recording.dir when it has its own,
# as the `Parley is running` line does)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
parley=${1:-127.0.0.1:5060}
recordings=${2:-$root/recordings}
work=$(mktemp -d /tmp/parley-demo.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
sox -n -r 8000 -c 1 -t ul "$work/caller.ul" synth 12 sine 440 vol 0.3
sox -n -r 8000 -c 1 -t ul "$work/callee.ul" synth 12 sine 1000 vol 0.3
# SIPp does not expand keys inside rtp_stream: write the file paths into copies of the scenarios.
sed "s|\[audio\]|$work/caller.ul|" "$root/examples/sipp/demo-caller.xml" > "$work/demo-caller.xml"
sed "s|\[audio\]|$work/callee.ul|" "$root/examples/sipp/demo-callee.xml" > "$work/demo-callee.xml"
callee_port=5090
(cd "$work" && exec sipp -sf "$work/demo-callee.xml" -i 127.0.0.1 -p $callee_port -mp 16000 \
  -ci 127.0.0.1 -cp 8891 -m 1 -timeout 40s -nostdin >/dev/null 2>&1) &
sleep 0.5
echo "demo: callee (SIPp) waiting on 127.0.0.1:$callee_port"
echo "demo: calling sip:bob@127.0.0.1:$callee_port through Parley at $parley (8 s of call)"
(cd "$work" && sipp -sf "$work/demo-caller.xml" "$parley" -i 127.0.0.1 -p 5091 -mp 16010 \
  -ci 127.0.0.1 -cp 8892 -m 1 -d 8000 -key to_uri "sip:bob@127.0.0.1:$callee_port" \
  -timeout 40s -nostdin -trace_err >/dev/null) && ok=1 || ok=0
if [ "$ok" = 1 ]; then echo "demo: the call completed"; else echo "demo: the call failed (see $work)"; exit 1; fi
sleep 1
latest=$(ls -t "$recordings"/*.json 2>/dev/null | head -1 || true)
if [ -n "$latest" ]; then
  echo "demo: recording metadata: $latest"
  ls -1 "${latest%.json}".* 2>/dev/null | sed 's/^/        /'
else
  echo "demo: no recording found in $recordings (give Parley's recording.dir as the second argument)"
fi
