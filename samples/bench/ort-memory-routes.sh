#!/usr/bin/env bash
# What ONNX Runtime 1.21.1 (the version DJL 0.36 runs) does with ORT's optimized form of a model (graph,
# weights, serialized prepacked blobs: `daxload pack-model --ort-prepack`) when the image is handed to it
# each way it accepts one, measured as the private memory (RssAnon) a session over it adds:
#
#   file       the image file on an ordinary file system, named by the graph's external data (daxload's route)
#   memory     the image in memory, given as that file's contents (AddExternalInitializersFromFilesInMemory):
#              the only route ORT offers for memory that is not a file it can map (a dma-buf, a DAX device)
#   hugetlbfs  the image file on hugetlbfs (HUGETLBFS=DIR, a hugetlbfs mount with room for the image)
#
# A route that keeps ORT's weights and blobs in the image adds a few MiB; one that copies them adds the
# form's size. This is why daxload uses the form only for images that are regular files off hugetlbfs
# (docs/benchmarks.md, "ONNX Runtime's form from memory that is not a file").
#
# usage: samples/bench/ort-memory-routes.sh [ROUNDS]   (default 3)
# env: MODEL (default bge), HUGETLBFS (a hugetlbfs directory; the route is skipped without it), SKIP_BUILD=1
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
MODEL=${MODEL:-bge}
WORK=$BENCH/ort-memory-routes
rm -rf "$WORK"
mkdir -p "$WORK/file" "$WORK/memory"
"$JAVA" "${JOPTS[@]}" -cp "$CP" dev.daxload.samples.bench.OrtFormProbe make "$MODEL" >&2
IMAGE=$REPO/$BENCH/$MODEL-ortform.daxfs
"$JAVA" "${JOPTS[@]}" -cp "$CP" dev.daxload.samples.bench.OrtFormProbe graph "$MODEL" "$WORK/file/model.onnx"
cp "$WORK/file/model.onnx" "$WORK/memory/model.onnx"
ln -s "$IMAGE" "$WORK/file/daxfs.image"
# ORT's native library, from the same jar DJL loads it from.
unzip -q -o -j "$(ls samples/target/lib/onnxruntime-*.jar | head -1)" 'ai/onnxruntime/native/linux-x64/libonnxruntime.so' -d "$WORK"
cc -O2 -Wall -o "$WORK/probe" samples/bench/native/ort_memory_routes.c -ldl
ROUTES=(file memory)
if [ -n "${HUGETLBFS:-}" ]; then
  mkdir -p "$WORK/hugetlbfs"
  cp "$WORK/file/model.onnx" "$WORK/hugetlbfs/model.onnx"
  "$REPO/bin/daxload" place -q "$IMAGE" -o "$HUGETLBFS/$MODEL-ortform.daxfs" # hugetlbfs takes no write(2), so no cp
  ln -s "$HUGETLBFS/$MODEL-ortform.daxfs" "$WORK/hugetlbfs/daxfs.image"
  ROUTES+=(hugetlbfs)
else
  echo "hugetlbfs route skipped: set HUGETLBFS to a hugetlbfs mount with room for $(du -m "$IMAGE" | cut -f1) MiB" >&2
fi
machine
for r in $(seq 1 "$ROUNDS"); do
  for route in "${ROUTES[@]}"; do
    mode=file; [ "$route" = memory ] && mode=memory
    "$WORK/probe" "$WORK/libonnxruntime.so" "$WORK/$route" "$mode" "$IMAGE" | sed "s/^ROUTE mode=$mode/ROUTE route=$route/"
  done
done
[ -n "${HUGETLBFS:-}" ] && rm -f "$HUGETLBFS/$MODEL-ortform.daxfs"
echo "form data in the image: $(( $(stat -c %s "$IMAGE") / 1048576 )) MiB (image file)"
