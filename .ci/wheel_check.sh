#!/usr/bin/env bash
# Packaging check (issue 11): build the wheel from a clean copy of the tracked files,
# check that it carries the licence, the zoo's weights, cards and class names and the
# bundled sample, install it on its own (not editable) into a fresh virtual environment,
# and run `captum-rank --version` and a small `captum-rank demo` from outside the source
# tree. The venv reuses the running python3's installed packages so torch is not downloaded
# again, whether python3 is the system's or itself a venv; captum-rank itself comes only from
# the wheel (checked). Because that reuse would hide a broken dependency list, the wheel's
# requirements are first resolved from the package index in the fresh venv (pip install
# --dry-run --ignore-installed: metadata only, nothing installed); WHEEL_CHECK_OFFLINE=1
# skips that step on a machine without an index.
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
# In an isolated build environment: a venv's own setuptools (65 in a Python 3.11 venv)
# is too old for pyproject.toml's licence fields, whatever the machine has.
python3 -m pip wheel --quiet --no-deps -w "$tmp/dist" "$tmp/src"
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

# Not --system-site-packages: from a venv python3 that exposes the *base* interpreter's
# packages, not the venv's. Instead a .pth file lists the running python3's site
# directories as plain paths, added after the venv's own: the .pth files inside them are
# not run, so the editable install of captum_rank (a __editable__ finder or a path to the
# source tree, both installed by .pth files) stays out.
python3 -m venv "$tmp/venv"
if [ "${WHEEL_CHECK_OFFLINE:-0}" != 1 ]; then
    "$tmp/venv/bin/python" -m pip install --quiet --dry-run --ignore-installed \
        --report "$tmp/resolve.json" "$wheel"
    python3 - "$tmp/resolve.json" "$wheel" <<'PY'
import json
import re
import sys
import zipfile

report = json.load(open(sys.argv[1]))
resolved = {re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower()
            for item in report["install"]}
wheel = zipfile.ZipFile(sys.argv[2])
metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
required = [re.split(r"[ ;<>=!~\[(]", line.split(":", 1)[1].strip())[0]
            for line in wheel.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line]
missing = [r for r in required if re.sub(r"[-_.]+", "-", r).lower() not in resolved]
if missing:
    sys.exit(f"wheel_check: the index resolution lacks {missing}")
print(f"wheel_check: the wheel's {len(required)} requirements resolve from the index "
      f"({len(resolved)} packages in all)")
PY
fi
"$tmp/venv/bin/python" -m pip install --quiet --no-deps --no-index "$wheel"
venv_site=$("$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
python3 - "$venv_site/_wheel_check_outer_site.pth" <<'PY'
import os
import site
import sys

dirs = site.getsitepackages()
if site.ENABLE_USER_SITE:
    dirs.append(site.getusersitepackages())
dirs = [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]
with open(sys.argv[1], "w") as pth:
    pth.write("".join(f"{d}\n" for d in dirs))
print(f"wheel_check: the venv reuses the packages in {dirs}")
PY
cd "$tmp"  # away from the source tree
"$tmp/venv/bin/python" - "$venv_site" <<'PY'
import sys
from pathlib import Path

import captum_rank
import torch

venv_site = Path(sys.argv[1]).resolve()
where = Path(captum_rank.__file__).resolve()
assert where.is_relative_to(venv_site), f"captum_rank imported from {where}, not the wheel"
editable = [f for f in (*sys.meta_path, *sys.path_hooks, *sys.path)
            if "editable" in repr(f).lower()]
assert not editable, f"the editable install of captum_rank is active in the venv: {editable}"
print(f"wheel_check: captum_rank {captum_rank.__version__} from {where}")
print(f"wheel_check: torch {torch.__version__} reused from {Path(torch.__file__).parent}")
PY
"$tmp/venv/bin/captum-rank" --version
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$tmp/venv/bin/captum-rank" demo --out "$tmp/demo" \
    --n-steps 4 --per-class 1 --ranks 0,2,28 --photos 1 --accuracy-photos 4 --no-progress
test -s "$tmp/demo/index.html" && test -s "$tmp/demo/report.json"
echo "wheel_check: passed in $((SECONDS - start)) s"
