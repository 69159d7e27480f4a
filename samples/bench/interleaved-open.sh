#!/usr/bin/env bash
# The "flat in the model's size" check of jmh.sh with the two sizes interleaved in one JVM (see
# InterleavedOpen): rounds alternate between the 100 MB and the 8.6 GB synthetic images (same 1,000
# tensors), timing the whole open-to-NDArrays op and its steps; prints medians and the 8.6 GB / 100 MB
# ratios.
#
# usage: samples/bench/interleaved-open.sh [ROUNDS [OPS_PER_ROUND [MODEL...]]]   (default 10 200)
# env: JAVA, SKIP_BUILD=1
source "$(dirname "$0")/common.sh"
bench_files synthetic-100m synthetic-8g
machine
"$JAVA" "${JOPTS[@]}" -Xmx2g -cp "$CP" dev.daxload.samples.bench.InterleavedOpen "$@" 2>/dev/null
machine
