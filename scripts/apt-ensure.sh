#!/usr/bin/env bash
# Installs the named Debian packages that are missing; does nothing when all are present.
#   bash scripts/apt-ensure.sh sox ffmpeg
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "apt-ensure: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
  exit 1
fi
echo "apt-ensure: installing ${missing[*]}" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
