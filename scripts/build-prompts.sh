#!/usr/bin/env bash
# Regenerates the shipped prompts from their sources: every prompts/NAME.txt becomes
# prompts/NAME.wav, 16 kHz mono 16-bit (the default room rate, so no transcode at play).
#   A .txt whose first line starts with "tones:" is a tone sequence, e.g.
#   "tones: 660@120 880@120" (Hz@ms, played in order, -12 dBFS, 5 ms fades);
#   any other .txt is spoken by espeak-ng.
#   bash scripts/build-prompts.sh            all prompts
#   bash scripts/build-prompts.sh menu-main  one prompt
set -euo pipefail
cd "$(dirname "$0")/.."
voice=${PARLEY_PROMPT_VOICE:-en-us}
rate=16000
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in prompts/*.txt; do names+=("$(basename "$f" .txt)"); done
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in "${names[@]}"; do
  src="prompts/$name.txt"
  out="prompts/$name.wav"
  [ -f "$src" ] || { echo "build-prompts: no $src" >&2; exit 1; }
  first=$(head -n1 "$src")
  if [[ "$first" == tones:* ]]; then
    read -r -a tones <<< "${first#tones:}"
    parts=()
    for t in "${tones[@]}"; do
      hz=${t%@*}
      ms=${t#*@}
      part="$tmp/$name-${#parts[@]}.wav"
      sox -n -r "$rate" -c 1 -b 16 "$part" synth "$(awk "BEGIN { print $ms / 1000 }")" sine "$hz" fade 0.005 0 0.005 gain -12
      parts+=("$part")
    done
    sox "${parts[@]}" "$out"
  else
    espeak-ng -v "$voice" -s 160 -w "$tmp/$name.wav" --stdin < "$src"
    # Resample, trim leading/trailing silence to 50 ms, normalise to -3 dBFS.
    sox "$tmp/$name.wav" -r "$rate" -c 1 -b 16 "$out" \
      silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0.05 0.05 gain -n -3
  fi
  echo "build-prompts: $out ($(sox --i -D "$out") s)" >&2
done
