#!/usr/bin/env bash
# Builds the fuzz targets with cargo-afl and runs each in turn, one at a time, on its corpus in
# fuzz/corpus/<target>/, then reports executions, crashes and hangs per target. Exits non-zero if
# any target crashed or hung; the inputs are kept in fuzz/out/<target>/default/{crashes,hangs}/.
#
#   fuzz/run.sh [-e EXECS] [-s SECONDS] [-m] [TARGET...]
#
#   -e EXECS    stop each target after about EXECS executions (default 10000000)
#   -s SECONDS  stop each target after SECONDS; with -e, at whichever comes first
#   -m          afterwards, replace each corpus with a small one drawn from it and the queue
#               (fuzz/minimize.sh: the seeds and tens of inputs that add the most edges)
#   TARGET      plan, key, cors, config, multipart, package (default: all)
#
# Everything runs under `nice -n 19`, the build with CARGO_BUILD_JOBS=1 unless set, so a shared
# machine stays usable. Needs only cargo: cargo-afl is installed when missing.
set -euo pipefail
cd "$(dirname "$0")"

ALL_TARGETS=(plan key cors config multipart package)
# cargo-afl must match the afl crate in Cargo.toml: the runtime and the macro agree.
AFL_VERSION=$(sed -n 's/^afl = "\(.*\)"/\1/p' Cargo.toml)
execs=""
seconds=""
minimize=false
while getopts "e:s:m" option; do
  case "$option" in
    e) execs=$OPTARG ;;
    s) seconds=$OPTARG ;;
    m) minimize=true ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ -n "$execs$seconds" ]] || execs=10000000
limit=()
[[ -z "$execs" ]] || limit+=(-E "$execs")
[[ -z "$seconds" ]] || limit+=(-V "$seconds")
if (($#)); then targets=("$@"); else targets=("${ALL_TARGETS[@]}"); fi
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"

install_cargo_afl() {
  if ! cargo afl --version 2>/dev/null | grep -q "^cargo-afl $AFL_VERSION"; then
    nice -n 19 cargo install cargo-afl --locked --version "$AFL_VERSION"
  fi
  # Builds AFL++ and its runtime for this rustc, unless that was done already (cargo install
  # may have done it).
  local output
  if ! output=$(nice -n 19 cargo afl config --build 2>&1); then
    grep -q "already built" <<<"$output" || { echo "$output" >&2; exit 1; }
  fi
}

# One target for the given limit; a 1 s timeout per input, so a busy machine reports no false hang.
fuzz_one() {
  local target=$1 out="out/$1"
  rm -rf "$out"
  mkdir -p out
  echo "--- fuzzing $target (${limit[*]})"
  AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 \
    nice -n 19 cargo afl fuzz -i "corpus/$target" -o "$out" "${limit[@]}" -t 1000 \
    "target/release/$target" >"out/$target.log" 2>&1 || {
    tail -n 30 "out/$target.log" >&2
    return 1
  }
}

stat_of() { sed -n "s/^$2 *: *//p" "out/$1/default/fuzzer_stats"; }

install_cargo_afl
echo "--- building the targets"
nice -n 19 cargo afl build --release --locked
failed=0
report=()
for target in "${targets[@]}"; do
  fuzz_one "$target" || failed=1
  [[ -f "out/$target/default/fuzzer_stats" ]] || { failed=1; continue; }
  crashes=$(stat_of "$target" saved_crashes)
  hangs=$(stat_of "$target" saved_hangs)
  report+=("$(printf '%-10s %12s %10s %8s %6s %6s' "$target" "$(stat_of "$target" execs_done)" \
    "$(stat_of "$target" execs_per_sec)" "$(stat_of "$target" run_time)" "$crashes" "$hangs")")
  if ((crashes > 0 || hangs > 0)); then
    failed=1
  elif $minimize; then
    ./minimize.sh "$target" || failed=1
  fi
done
echo "--- results ($(date -u +%Y-%m-%d), rustc $(rustc --version | cut -d' ' -f2))"
printf '%-10s %12s %10s %8s %6s %6s\n' target execs execs/s seconds crashes hangs
printf '%s\n' "${report[@]}"
exit "$failed"
