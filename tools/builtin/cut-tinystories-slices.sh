#!/usr/bin/env bash
# Cuts the two TinyStories slices that qn embeds (src/QuantNative.Cli/Builtin/): a calibration slice from the start of
# the validation text and a disjoint held-out slice from its second half, each about 150 KB, byte-exact copies of the
# source cut at story boundaries. A story boundary is a blank line followed by a paragraph that opens with "Once upon a
# time" (paragraphs inside a story are separated by blank lines too, so a blank line alone is not a boundary).
# usage: tools/builtin/cut-tinystories-slices.sh SOURCE OUT_DIR   (SOURCE: ../shared/data/tinystories_valid_head.txt)
set -euo pipefail
src=$1; out=$2
target=150000
total=$(stat -c %s "$src")

# Byte offsets of every story start (the first byte of a line "Once upon a time…" that follows a blank line).
starts=$(LC_ALL=C awk '{ if (prev_blank && index($0, "Once upon a time") == 1) print off; prev_blank = ($0 == ""); off += length($0) + 1 }' "$src")

# The first story start at or after $1, and the story start nearest to $1 + target (the slice's end).
slice() {
  local from=$1 name=$2 begin end
  begin=$(awk -v f="$from" '$1 >= f { print; exit }' <<<"$starts")
  end=$(awk -v f=$((begin + target)) -v b="$begin" '$1 > b { d = $1 - f; if (d < 0) d = -d; if (best == "" || d < bestd) { best = $1; bestd = d } } END { print best }' <<<"$starts")
  [ -n "$begin" ] && [ -n "$end" ] && [ $((end - begin)) -ge $((target / 2)) ] || { echo "$src: too short for a $target-byte slice from byte $from" >&2; exit 1; }
  # Drop the blank line that separates the slice from the next story.
  # (head closes the pipe early: tail's SIGPIPE is expected, so no pipefail here)
  (set +o pipefail; tail -c +$((begin + 1)) "$src" | head -c $((end - begin - 1)) > "$out/$name")
  echo "$name: bytes $begin..$((end - 1)) of $(basename "$src") ($((end - begin - 1)) bytes)"
}
slice 0 tinystories-calibration.txt
slice $((total / 2)) tinystories-heldout.txt
