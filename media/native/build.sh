#!/usr/bin/env bash
# Builds the parley-udp addon (batched UDP I/O for the media threads) against
# the headers of the Node that runs Parley: Debian's nodejs ships them in
# /usr/include/node, nodesource's too; node-gyp is not needed (nothing is
# downloaded). Rebuilt only when its source or Node changed. Prints the path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/build/parley-udp.node"
inc=""
for d in "$(dirname "$(dirname "$(command -v node)")")/include/node" /usr/include/node /usr/local/include/node; do
  if [ -f "$d/node_api.h" ]; then inc="$d"; break; fi
done
if [ -z "$inc" ]; then
  echo "media/native: no node_api.h (Node's headers) found: RTP is read through dgram" >&2
  exit 0
fi
stamp="$here/build/.stamp"
want="$(sha256sum "$here/parley-udp.c" | cut -d' ' -f1) $(node --version) $inc"
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then echo "$out"; exit 0; fi
mkdir -p "$here/build"
cc -O2 -Wall -Wextra -Werror -fPIC -shared -I"$inc" -o "$out.tmp" "$here/parley-udp.c"
mv "$out.tmp" "$out"
echo "$want" > "$stamp"
echo "$out"
