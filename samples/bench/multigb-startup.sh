#!/usr/bin/env bash
# Start-up against model size: a fresh JVM to "model ready" (every weight a PyTorch NDArray) and to the end
# of a first computation that reads every element of every weight (the sum of each array), for synthetic
# models of 1, 4 and 16 GiB (300 tensors, F32 and F16), two ways in the same run:
#
#   pt-views   ModelWeights.open of the model's daxfs image + PtTensorViews.viewAll (weights in place)
#   pt-direct  the plain way: each tensor of the safetensors file read into a direct buffer of its own and
#              handed to DJL's manager.create (DJL's NDList.decode cannot read files over 2 GiB at all)
#
# Both read from the page cache: each file is read once (cat) before every run of its mode. The plain way
# needs the model's size in anonymous memory plus the same in page cache; a size whose plain run would not
# fit in MemAvailable (less 2 GiB of headroom) is run with pt-views only, and the script says so.
# Results go to stdout and to CSV (size_gib,mode,round,ready_ms,first_ms,load_ms,touch_ms).
#
# usage: samples/bench/multigb-startup.sh [ROUNDS]    (default 3)
# env: SIZES ("1 4 16", GiB), CSV (default samples/target/bench/multigb-startup.csv), KEEP=1 keeps the
#      models' files (by default each size's files are deleted once its runs are done), JAVA, SKIP_BUILD=1
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
SIZES=${SIZES:-1 4 16}
CSV=${CSV:-$BENCH/multigb-startup.csv}
mkdir -p "$BENCH"
echo "size_gib,mode,round,ready_ms,first_ms,load_ms,touch_ms" > "$CSV"
machine
avail_gib() { awk '/MemAvailable/ {printf "%d", $2 / 1048576}' /proc/meminfo; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<< "$2"; }
declare -A READY FIRST
for g in $SIZES; do
  model=synthetic-${g}g
  bench_files "$model"
  modes=(pt-views pt-direct)
  # The plain way holds the whole model in anonymous memory while the file sits in the page cache.
  if [ $(( 2 * g + 2 )) -gt "$(avail_gib)" ]; then
    echo "$model: pt-direct skipped: it needs ~$(( 2 * g )) GiB (the copy + the file in the page cache), $(avail_gib) GiB available" >&2
    modes=(pt-views)
  fi
  for r in $(seq 1 "$ROUNDS"); do
    [ $(( r % 2 )) = 0 ] && modes=($(printf '%s\n' "${modes[@]}" | tac))
    for mode in "${modes[@]}"; do
      if [ "$mode" = pt-views ]; then cat "$BENCH/$model.daxfs" > /dev/null; else cat "$BENCH/$model.safetensors" > /dev/null; fi
      line=$("$JAVA" "${JOPTS[@]}" -Xmx1g -XX:MaxDirectMemorySize=$(( g + 2 ))g -cp "$CP" dev.daxload.samples.bench.StartupProbe \
          "$mode" "$model" touch 2>/dev/null | grep '^READY') || { echo "$mode $model: no READY line" >&2; exit 1; }
      ready=$(field ready_ms "$line"); first=$(field first_ms "$line")
      READY["$g $mode"]+="$ready "; FIRST["$g $mode"]+="$first "
      echo "$g,$mode,$r,$ready,$first,$(field load_ms "$line"),$(field touch_ms "$line")" >> "$CSV"
      printf 'round %d %-14s %-9s ready %6s ms  first computation done %6s ms\n' "$r" "$model" "$mode" "$ready" "$first"
    done
  done
  [ "${KEEP:-0}" = 1 ] || rm -f "$BENCH/$model.daxfs" "$BENCH/$model.safetensors"
done
machine

echo
echo "medians, ms since JVM start; ratio = pt-direct / pt-views (above 1: views sooner)"
printf '%-6s %16s %16s %16s %16s %10s %10s\n' GiB "views ready" "views first" "direct ready" "direct first" "ratio rdy" "ratio 1st"
for g in $SIZES; do
  vr=$(median ${READY["$g pt-views"]}); vf=$(median ${FIRST["$g pt-views"]})
  if [ -n "${READY["$g pt-direct"]:-}" ]; then
    dr=$(median ${READY["$g pt-direct"]}); df=$(median ${FIRST["$g pt-direct"]})
    printf '%-6s %16s %16s %16s %16s %10s %10s\n' "$g" "$vr" "$vf" "$dr" "$df" "$(ratio "$dr" "$vr")" "$(ratio "$df" "$vf")"
  else
    printf '%-6s %16s %16s %16s %16s %10s %10s\n' "$g" "$vr" "$vf" "-" "-" "-" "-"
  fi
done
echo "CSV: $CSV"
