#!/usr/bin/env bash
# PNG plots from the benchmarks' CSV output, with gnuplot (Debian: apt-get install gnuplot-nox):
#
#   docs/img/startup-vs-size.png   fresh JVM to "model ready" and to the end of a first computation over
#                                  every weight, against model size: daxload's views vs the plain copy
#                                  (from multigb-startup.sh; medians of the rounds)
#   docs/img/pss-vs-instances.png  total PSS of N processes as a multiple of one's, against N: the sample
#                                  server (image vs .onnx, from server-pss.sh) and PyTorch views of a
#                                  multi-GB image (from pss.sh with CSV set), with the goal (1.2x) drawn
#
# usage: samples/bench/plot.sh [OUT_DIR]      (default docs/img)
# env: STARTUP_CSV (samples/target/bench/multigb-startup.csv), SERVER_PSS_CSV
#      (samples/target/bench/server-pss-minilm.csv), VIEWS_PSS_CSV (samples/target/bench/pss-views.csv);
#      a CSV that is missing leaves its lines out (and a plot with none is not drawn)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
OUT=${1:-docs/img}
STARTUP_CSV=${STARTUP_CSV:-samples/target/bench/multigb-startup.csv}
SERVER_PSS_CSV=${SERVER_PSS_CSV:-samples/target/bench/server-pss-minilm.csv}
VIEWS_PSS_CSV=${VIEWS_PSS_CSV:-samples/target/bench/pss-views.csv}
command -v gnuplot > /dev/null || { echo "plot.sh needs gnuplot (apt-get install gnuplot-nox)" >&2; exit 1; }
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Medians per (size, mode) of a column of the start-up CSV: "size median" lines, sorted by size.
medians() { # mode column
  local size
  for size in $(awk -F, -v mode="$1" 'NR > 1 && $2 == mode {print $1}' "$STARTUP_CSV" | sort -gu); do
    awk -F, -v mode="$1" -v col="$2" -v s="$size" 'NR > 1 && $2 == mode && $1 == s && $col != "" {print $col}' "$STARTUP_CSV" \
      | sort -g | awk -v s="$size" '{a[NR] = $1} END {if (NR) print s, (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'
  done
}

if [ -f "$STARTUP_CSV" ]; then
  for mode in pt-views pt-direct; do
    medians "$mode" 4 > "$TMP/$mode-ready.dat"
    medians "$mode" 5 > "$TMP/$mode-first.dat"
  done
  plots=()
  for mode in pt-views pt-direct; do
    label=$([ $mode = pt-views ] && echo "daxload views" || echo "plain copy (safetensors into direct buffers)")
    lt=$([ $mode = pt-views ] && echo 1 || echo 2)
    [ -s "$TMP/$mode-ready.dat" ] && plots+=("'$TMP/$mode-ready.dat' using 1:2 with linespoints lt $lt pt 7 title '$label: model ready'")
    [ -s "$TMP/$mode-first.dat" ] && plots+=("'$TMP/$mode-first.dat' using 1:2 with linespoints lt $lt pt 5 dt 2 title '$label: first computation over every weight done'")
  done
  gnuplot <<EOF
set terminal pngcairo size 900,560 font ",10"
set output "$OUT/startup-vs-size.png"
set title "Fresh JVM to model ready, against model size (PyTorch, medians; multigb-startup.sh)"
set xlabel "model size (GiB)"
set ylabel "ms since JVM start"
set logscale x 2
set logscale y 10
set grid
set key top left
plot $(IFS=,; echo "${plots[*]}")
EOF
  echo "wrote $OUT/startup-vs-size.png"
fi

# PSS as a multiple of one instance's: the goal (8 instances <= 1.2x one) is then one line for every model.
ratios() { awk 'NR == 1 {one = $2} {printf "%s %.3f %s\n", $1, $2 / one, $2}'; }
plots=()
if [ -f "$SERVER_PSS_CSV" ]; then
  model=$(awk -F, 'NR == 2 {print $1}' "$SERVER_PSS_CSV")
  for mode in daxfs onnx; do
    awk -F, -v m="$mode" 'NR > 1 && $2 == m {print $3, $4}' "$SERVER_PSS_CSV" | sort -g | ratios > "$TMP/server-$mode.dat"
  done
  [ -s "$TMP/server-daxfs.dat" ] && plots+=("'$TMP/server-daxfs.dat' using 1:2 with linespoints lt 1 pt 7 title 'embedding server ($model, ORT), daxfs image'")
  [ -s "$TMP/server-onnx.dat" ] && plots+=("'$TMP/server-onnx.dat' using 1:2 with linespoints lt 2 pt 7 title 'embedding server ($model, ORT), .onnx file'")
fi
if [ -f "$VIEWS_PSS_CSV" ]; then
  model=$(awk -F, '$2 == "views" {print $1; exit}' "$VIEWS_PSS_CSV")
  awk -F, '$2 == "views" {print $3, $4}' "$VIEWS_PSS_CSV" | sort -g | ratios > "$TMP/views.dat"
  plots+=("'$TMP/views.dat' using 1:2 with linespoints lt 3 pt 5 title 'PyTorch views of $model, every page read'")
fi
if [ ${#plots[@]} -gt 0 ]; then
  plots+=("1.2 with lines lt 0 lw 2 title 'goal: 1.2x one instance'")
  gnuplot <<EOF
set terminal pngcairo size 900,560 font ",10"
set output "$OUT/pss-vs-instances.png"
set title "Total PSS of N instances, as a multiple of one instance's (server-pss.sh, pss.sh)"
set xlabel "instances"
set ylabel "total PSS / one instance's"
set xrange [0.5:8.5]
set xtics (1, 2, 4, 8)
set yrange [0:*]
set grid
set key top left
plot $(IFS=,; echo "${plots[*]}")
EOF
  echo "wrote $OUT/pss-vs-instances.png"
fi
