#!/usr/bin/env bash
# JMH: time from "open the image" to "every tensor is a PyTorch NDArray" (ModelWeights.open +
# PtTensorViews.viewAll on a fresh NDManager, then both closed), on all-MiniLM-L6-v2, bge-small-en-v1.5,
# a 100 MB and an 8.6 GB synthetic model of 1,000 tensors each; against, in the same run, DJL's
# NDList.decode of a safetensors file of the same model and a copy of each tensor into a direct buffer
# for manager.create (real models only). See OpenToNDArraysBenchmark for what each op covers.
#
# usage: samples/bench/jmh.sh [JMH OPTIONS...]    e.g. -f 1 -i 3 for a quicker run, -h for JMH's help
# env: JAVA (a JDK 25 java), SKIP_BUILD=1 (use what is built)
# Inputs are made once into samples/target/bench (the 8.6 GB image: ~9 GB of disk, under a minute);
# delete them with: rm -rf samples/target/bench
source "$(dirname "$0")/common.sh"
bench_files minilm bge synthetic-100m synthetic-8g
# The page cache holds the small inputs before the first fork, so no fork reads from disk.
cat $BENCH/minilm.* $BENCH/bge.* $BENCH/synthetic-100m.daxfs > /dev/null
machine
OUT=$BENCH/jmh-results.csv
"$JAVA" "${JOPTS[@]}" -cp "$CP" org.openjdk.jmh.Main dev.daxload.samples.bench.OpenToNDArraysBenchmark \
  -rf csv -rff "$OUT" "$@"
machine

# Medians (JMH's p0.50 of every sampled op) and ratios against the same run's baselines.
awk -F, '
  { gsub(/["\r]/, "") }
  $1 ~ /:p0\.50$/ {
    b = $1; sub(/:p0\.50$/, "", b); sub(/.*\./, "", b)
    m = ($8 != "" ? $8 : $9); med[b "," m] = $5; models[m] = 1
  }
  END {
    printf "\nmedian ms per op (open to every tensor an NDArray, closed again)\n"
    printf "%-16s %12s %12s %12s %14s %14s\n", "model", "daxfsViews", "djlDecode", "directCopy", "decode/views", "direct/views"
    n = split("minilm bge synthetic-100m synthetic-8g", order, " ")
    for (i = 1; i <= n; i++) {
      m = order[i]; if (!(m in models)) continue
      v = med["daxfsViews," m]; d = med["djlDecode," m]; c = med["directBufferCopy," m]
      printf "%-16s %12s %12s %12s %14s %14s\n", m, v, (d == "" ? "-" : d), (c == "" ? "-" : c),
        (d == "" || v == "" ? "-" : sprintf("%.0fx", d / v)), (c == "" || v == "" ? "-" : sprintf("%.0fx", c / v))
    }
    if (("daxfsViews,synthetic-8g" in med) && ("daxfsViews,synthetic-100m" in med))
      printf "views, 8.6 GB / 100 MB (same 1,000 tensors): %.2f\n", med["daxfsViews,synthetic-8g"] / med["daxfsViews,synthetic-100m"]
  }' "$OUT"
