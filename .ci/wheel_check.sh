#!/usr/bin/env bash
# Packaging check (issue 11): build the wheel from a clean copy of the tracked files,
# check that it carries the licence, the zoo's weights, cards and class names and the
# bundled sample, install it on its own (not editable) into a fresh virtual environment,
# and run `captum-rank --version` and a small `captum-rank demo` from outside the source
# tree. The venv reuses the machine's packages (--system-site-packages) so torch is not
# downloaded again; captum-rank itself comes only from the wheel (checked).
#
# Usage, from anywhere: bash .ci/wheel_check.sh      (about 1-3 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A copy of the tracked files (and new, not ignored ones): building never writes
# build/ or *.egg-info into the working tree.
mkdir "$tmp/src"
git ls-files -z --cached --others --exclude-standard \
    | xargs -0 -I{} sh -c 'test -e "{}" && cp --parents "{}" "$0"' "$tmp/src"
python3 -m pip wheel --quiet --no-deps --no-build-isolation -w "$tmp/dist" "$tmp/src"
wheel=$(ls "$tmp"/dist/captum_rank-*.whl)
echo "wheel_check: built $(basename "$wheel")"

python3 - "$wheel" <<'PY'
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
required = [
    "captum_rank/py.typed",
    "captum_rank/zoo/weights/fmnist-natural.pt",
    "captum_rank/zoo/weights/fmnist-robust.pt",
    "captum_rank/zoo/cards/fmnist-natural.json",
    "captum_rank/zoo/cards/fmnist-robust.json",
    "captum_rank/zoo/cards/imagenet-efficientnet-lite0.json",
    "captum_rank/zoo/imagenet_classes.txt",
    "captum_rank/data/sample/fashion_mnist_sample.npz",
]
missing = [name for name in required if name not in names]
if not any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE")
           for n in names):
    missing.append("*.dist-info/.../LICENSE")
if missing:
    sys.exit(f"wheel_check: the wheel lacks {missing}")
print(f"wheel_check: the wheel carries the licence, weights, cards and sample ({len(names)} files)")
PY

python3 -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation "$wheel"
cd "$tmp"  # away from the source tree
"$tmp/venv/bin/python" - <<'PY'
import captum_rank

where = captum_rank.__file__
assert "/venv/" in where and "site-packages" in where, f"captum_rank imported from {where}"
print(f"wheel_check: captum_rank {captum_rank.__version__} from {where}")
PY
"$tmp/venv/bin/captum-rank" --version
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$tmp/venv/bin/captum-rank" demo --out "$tmp/demo" \
    --n-steps 4 --per-class 1 --ranks 0,2,28 --photos 1 --accuracy-photos 4 --no-progress
test -s "$tmp/demo/index.html" && test -s "$tmp/demo/report.json"
echo "wheel_check: passed in $((SECONDS - start)) s"
