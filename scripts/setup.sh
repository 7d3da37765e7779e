#!/usr/bin/env bash
# Sets Parley up on a fresh Debian bookworm machine, idempotently: Debian packages,
# the offline mediasoup worker build (cached), the parley-udp addon, `npm ci`, then the media threads'
# bundle. A second run takes seconds.
# Prints nothing on stdout but the worker's path, so callers can export it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Runtime tools: ffmpeg for prompt transcoding and post-processing, sox and espeak-ng for
# tones, speech prompts and audio checks, SIPp for the end-to-end tests, Chromium for the browser tests,
# redis-server and Kamailio's Redis module for the cluster tests, libopus's headers for the
# parley-opus addon (Opus with in-band FEC), iptables for the test that drops a cluster pipe's RTP.
bash scripts/apt-ensure.sh ffmpeg sox libsox-fmt-all espeak-ng sip-tester kamailio kamailio-redis-modules redis-server baresip-core linphone-cli chromium libopus-dev iptables >&2

worker=$(bash media/build-worker.sh)
export MEDIASOUP_WORKER_BIN="$worker"

# The addons, parley-udp (batched RTP reading and sending; media.nativeIo) and parley-opus
# (libopus), built with the C compiler the worker build installed, against the installed Node's own headers.
bash media/native/build.sh >/dev/null

# Reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.parley-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" > "$stamp"
fi

# The media threads' code bundled (media/thread-bundle/, a fraction of a second): a media thread
# loads it instead of compiling its TypeScript through tsx (about 0.5 s less at every start);
# one made before a source changed is not used (media-thread-boot.mjs).
node scripts/build-media-thread.mjs >&2
echo "$worker"
