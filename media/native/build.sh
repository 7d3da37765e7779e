#!/usr/bin/env bash
# Builds Parley's addons against the headers of the Node that runs Parley: Debian's
# nodejs ships them in /usr/include/node, nodesource's too; node-gyp is not needed
# (nothing is downloaded). parley-udp (batched UDP I/O for the media threads) always;
# parley-opus (libopus: Opus with in-band FEC) when libopus's headers are installed
# (Debian's libopus-dev; without it Opus runs on opusscript's wasm build). Each is
# rebuilt only when its source or Node changed. Prints the parley-udp addon's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
inc=""
for d in "$(dirname "$(dirname "$(command -v node)")")/include/node" /usr/include/node /usr/local/include/node; do
  if [ -f "$d/node_api.h" ]; then inc="$d"; break; fi
done
if [ -z "$inc" ]; then
  echo "media/native: no node_api.h (Node's headers) found: RTP is read through dgram, Opus runs on wasm" >&2
  exit 0
fi
mkdir -p "$here/build"

# build NAME [LIBS...]: media/native/NAME.c → build/NAME.node
build() {
  local name=$1; shift
  local out="$here/build/$name.node" stamp="$here/build/.stamp-$name"
  local want
  want="$(sha256sum "$here/$name.c" | cut -d' ' -f1) $(node --version) $inc $*"
  if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  cc -O2 -Wall -Wextra -Werror -fPIC -shared -I"$inc" -o "$out.tmp" "$here/$name.c" "$@"
  mv "$out.tmp" "$out"
  echo "$want" > "$stamp"
}

build parley-udp
if [ -f /usr/include/opus/opus.h ]; then
  build parley-opus -lopus
else
  rm -f "$here/build/parley-opus.node" "$here/build/.stamp-parley-opus"
  echo "media/native: no libopus headers (apt install libopus-dev): Opus runs on opusscript's wasm build, without in-band FEC" >&2
fi
echo "$here/build/parley-udp.node"
