#!/usr/bin/env bash
# Setup for the benchmarks: what scripts/setup.sh does, plus what only the
# benchmarks need (Janus, the opponent of bench:mixing; rtpengine, which with Kamailio
# (installed by setup.sh) is the anchor of bench:calls and bench:bridge). Not run by the tests.
# Like setup.sh, prints nothing on stdout but the mediasoup worker's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
worker=$(bash "$root/scripts/setup.sh")
bash "$root/scripts/apt-ensure.sh" janus rtpengine-daemon >&2
echo "$worker"
