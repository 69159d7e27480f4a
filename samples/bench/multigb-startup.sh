#!/usr/bin/env bash
# Start-up against model size: a fresh JVM to "model ready" (every weight a PyTorch NDArray) and to the end
# of a first computation that reads every element of every weight (the sum of each array), for synthetic
# models of 1, 4 and 16 GiB (300 tensors, F32 and F16), in the same run:
#
#   pt-views           ModelWeights.open of the model's daxfs image + PtTensorViews.viewAll (weights in place)
#   pt-views-populate  the same, every page faulted in at open (MADV_POPULATE_READ): a slower ready, no page
#                      faults in the first computation
#   pt-views-huge      the same with MADV_HUGEPAGE on the mapping (2 MiB page-cache folios mapped whole where
#                      the file system keeps them)
#   pt-direct          the plain way, 1x memory: each tensor of the safetensors file read (FileChannel.read)
#                      straight into a direct buffer that DJL's manager.create wraps without a copy (libtorch's
#                      from_blob), so the NDArray's native memory is the one copy; DJL's NDList.decode cannot
#                      read files over 2 GiB at all
#
# Each file is read once (cat) before every run of its mode, so each run starts with as much of it in the page
# cache as memory allows (all of it where it fits; the plain way's own copy then pushes the page cache out, as
# it would on a server). The plain way needs the model's size in anonymous memory: a size it would not fit in
# MemAvailable (less 2 GiB of headroom) is run with the views modes only, and the script says so.
# Results go to stdout and to CSV (size_gib,mode,round,ready_ms,first_ms,load_ms,touch_ms).
#
# usage: samples/bench/multigb-startup.sh [ROUNDS]    (default 3)
# env: SIZES ("1 4 16", GiB), MODES (default all four above), CSV (default samples/target/bench/multigb-startup.csv),
#      KEEP=1 keeps the models' files (by default each size's files are deleted once its runs are done), JAVA,
#      SKIP_BUILD=1
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
SIZES=${SIZES:-1 4 16}
CSV=${CSV:-$BENCH/multigb-startup.csv}
mkdir -p "$BENCH"
echo "size_gib,mode,round,ready_ms,first_ms,load_ms,touch_ms" > "$CSV"
machine
avail_gib() { awk '/MemAvailable/ {printf "%d", $2 / 1048576}' /proc/meminfo; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<< "$2"; }
ALL_MODES=(${MODES:-pt-views pt-views-populate pt-views-huge pt-direct})
declare -A READY FIRST
for g in $SIZES; do
  model=synthetic-${g}g
  bench_files "$model"
  modes=("${ALL_MODES[@]}")
  # The plain way holds the whole model in anonymous memory (the page cache it reads through is given back).
  if [ $(( g + 2 )) -gt "$(avail_gib)" ]; then
    echo "$model: pt-direct skipped: its copy needs ~$g GiB of anonymous memory (+2 GiB headroom), $(avail_gib) GiB available" >&2
    modes=($(printf '%s\n' "${modes[@]}" | grep -v '^pt-direct$'))
  fi
  for r in $(seq 1 "$ROUNDS"); do
    [ $(( r % 2 )) = 0 ] && modes=($(printf '%s\n' "${modes[@]}" | tac))
    for mode in "${modes[@]}"; do
      if [ "$mode" = pt-direct ]; then cat "$BENCH/$model.safetensors" > /dev/null; else cat "$BENCH/$model.daxfs" > /dev/null; fi
      line=$("$JAVA" "${JOPTS[@]}" -Xmx1g -XX:MaxDirectMemorySize=$(( g + 2 ))g -cp "$CP" dev.daxload.samples.bench.StartupProbe \
          "$mode" "$model" touch 2>/dev/null | grep '^READY') || { echo "$mode $model: no READY line" >&2; exit 1; }
      ready=$(field ready_ms "$line"); first=$(field first_ms "$line")
      READY["$g $mode"]+="$ready "; FIRST["$g $mode"]+="$first "
      echo "$g,$mode,$r,$ready,$first,$(field load_ms "$line"),$(field touch_ms "$line")" >> "$CSV"
      printf 'round %d %-14s %-17s ready %6s ms  first computation done %6s ms  (engine %s, open %s, views %s, copy %s, touch %s ms)\n' \
          "$r" "$model" "$mode" "$ready" "$first" "$(field engine_ms "$line")" "$(field open_ms "$line")" "$(field views_ms "$line")" \
          "$(field copy_ms "$line")" "$(field touch_ms "$line")"
    done
  done
  [ "${KEEP:-0}" = 1 ] || rm -f "$BENCH/$model.daxfs" "$BENCH/$model.safetensors"
done
machine

echo
echo "medians, ms since JVM start; ratio = pt-direct / the mode (above 1: the mode is sooner)"
printf '%-6s %-18s %10s %10s %12s %12s\n' GiB mode ready "first done" "ratio ready" "ratio first"
for g in $SIZES; do
  dr=$(median ${READY["$g pt-direct"]:-}); df=$(median ${FIRST["$g pt-direct"]:-})
  for mode in "${ALL_MODES[@]}"; do
    [ -n "${READY["$g $mode"]:-}" ] || { printf '%-6s %-18s %10s\n' "$g" "$mode" "not run"; continue; }
    r=$(median ${READY["$g $mode"]}); f=$(median ${FIRST["$g $mode"]})
    if [ -n "${READY["$g pt-direct"]:-}" ] && [ "$mode" != pt-direct ]; then
      printf '%-6s %-18s %10s %10s %12s %12s\n' "$g" "$mode" "$r" "$f" "$(ratio "$dr" "$r")" "$(ratio "$df" "$f")"
    else
      printf '%-6s %-18s %10s %10s %12s %12s\n' "$g" "$mode" "$r" "$f" - -
    fi
  done
done
echo "CSV: $CSV"
