#!/usr/bin/env bash
# Replaces fuzz/corpus/<target>/ with a small corpus drawn from it and from the last run's queue
# (fuzz/out/<target>/default/queue/): the hand-written seeds (every file whose name is not 16 hex
# digits) are always kept, then up to FUZZ_CORPUS_PICKS (default 40) more inputs, chosen greedily
# by the edges they add to those the kept inputs reach, from afl-cmin -e's pick. Reaching every
# edge takes hundreds of inputs for most targets, each adding one or two edges of an error path
# in a dependency; the greedy prefix keeps most of the coverage in tens of files. Picks are named
# by the first 16 digits of their SHA-1. Prints how many edges the kept corpus reaches.
#
#   fuzz/minimize.sh TARGET...
#
# Needs the targets built (fuzz/run.sh builds them) and AFL++ as cargo-afl installs it.
set -euo pipefail
cd "$(dirname "$0")"

AFL_VERSION=$(sed -n 's/^afl = "\(.*\)"/\1/p' Cargo.toml)

# AFL++'s own tools, built by `cargo afl config` for this rustc.
afl_bin() {
  local version commit
  version=$(rustc -V | cut -d' ' -f2)
  commit=$(rustc -vV | sed -n 's/^commit-hash: //p' | cut -c1-7)
  echo "${XDG_DATA_HOME:-$HOME/.local/share}/afl.rs/rustc-$version-$commit/afl.rs-$AFL_VERSION/afl/bin"
}

# The bash afl-cmin, because the Python one that `cargo afl cmin` runs (AFL++ 4.40c) recorded no
# edges for these targets and kept nothing.
cmin() {
  local target=$1 work=$2
  mkdir -p "$work/in"
  cp "corpus/$target"/* "$work/in/"
  if compgen -G "out/$target/default/queue/id:*" >/dev/null; then
    cp "out/$target/default/queue"/id:* "$work/in/"
  fi
  AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 nice -n 19 "$(afl_bin)/afl-cmin.bash" -e -i "$work/in" -o "$work/cmin" \
    -t 1000 -- "target/release/$target" >"$work/cmin.log" 2>&1 || { tail -n 20 "$work/cmin.log" >&2; return 1; }
}

# Prints the inputs of $work/pool to keep: the seeds (named seed-*), then greedy picks, each the
# input that reaches the most edges not yet reached (the smallest name on a tie); on stderr, the
# edges the kept inputs reach out of all the pool reaches.
greedy_cover() {
  local target=$1 work=$2 picks=$3
  AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 nice -n 19 "$(afl_bin)/afl-showmap" -e -q -i "$work/pool" -o "$work/maps" \
    -t 1000 -- "target/release/$target" >"$work/showmap.log" 2>&1 || true
  (cd "$work/maps" && for map in *; do sed "s|:.*||; s|^|$map |" "$map"; done) | awk -v picks="$picks" '
    { edges[$1] = edges[$1] " " $2; all[$2] }
    function keep(input,    n, i, list) {
      chosen[input]; print input
      n = split(edges[input], list, " ")
      for (i = 1; i <= n; i++) reached[list[i]]
    }
    END {
      for (input in edges) if (input ~ /^seed-/) keep(input)
      for (taken = 0; taken < picks; taken++) {
        best = ""; most = 0
        for (input in edges) {
          if (input in chosen) continue
          n = split(edges[input], list, " "); fresh = 0
          for (i = 1; i <= n; i++) if (!(list[i] in reached)) fresh++
          if (fresh > most || (fresh == most && fresh > 0 && input < best)) { best = input; most = fresh }
        }
        if (most == 0) break
        keep(best)
      }
      print length(reached) " of " length(all) " edges" > "/dev/stderr"
    }'
}

minimize() {
  local target=$1 work file name
  work=$(mktemp -d)
  cmin "$target" "$work"
  mkdir -p "$work/pool"
  cp "$work/cmin"/* "$work/pool/"
  for file in "corpus/$target"/*; do
    name=$(basename "$file")
    [[ "$name" =~ ^[0-9a-f]{16}$ ]] || cp "$file" "$work/pool/seed-$name"
  done
  mapfile -t kept < <(greedy_cover "$target" "$work" "${FUZZ_CORPUS_PICKS:-40}" 2>"$work/reach")
  if ((${#kept[@]} == 0)); then
    echo "$target: nothing kept (see $work); corpus left as it was" >&2
    return 1
  fi
  rm -rf "corpus/$target"
  mkdir -p "corpus/$target"
  for name in "${kept[@]}"; do
    if [[ "$name" == seed-* ]]; then
      cp "$work/pool/$name" "corpus/$target/${name#seed-}"
    else
      cp "$work/pool/$name" "corpus/$target/$(sha1sum <"$work/pool/$name" | cut -c1-16)"
    fi
  done
  echo "corpus/$target: $(find "$work/in" -type f | wc -l) inputs, $(find "$work/cmin" -type f | wc -l) after" \
    "afl-cmin -e, ${#kept[@]} kept, reaching $(cat "$work/reach")"
  rm -rf "$work"
}

(($#)) || { sed -n '2,12p' "$0" >&2; exit 2; }
for target in "$@"; do
  minimize "$target"
done
