#!/usr/bin/env bash
# Docs and tutorials: install the tools, execute every tutorial top to bottom and build the
# site with warnings as errors. The tutorials (tutorials/*.ipynb, stored without outputs)
# and the quickstart are executed by myst-nb (nbclient) during the build; a cell that
# raises fails the build. Then check the site's internal links and anchors
# (.ci/check_anchors.py) and that every tutorial page was rendered with figures.
#
# Usage, from anywhere: bash .ci/docs.sh        (under 2 minutes on 2 idle cores, 4 when busy)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

python3 -m pip install --quiet -e .
python3 -m pip install --quiet \
    "sphinx>=7,<10" "myst-nb>=1.1,<2" "myst-parser>=2" "nbclient>=0.10" "nbformat>=5.9" \
    "ipykernel>=6" "quantus==0.6.0" \
    "sphinx-mathjax-offline==0.0.2"

# The notebooks' kernels use matplotlib's inline backend; a MPLBACKEND from the
# environment (Agg, say) would replace it and the figures would vanish from the site.
unset MPLBACKEND
# One BLAS/OpenMP thread per process: the notebook kernels share two cores with Sphinx
# (and, on a busy machine, with others); oversubscribed threads slowed them down badly.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export PYDEVD_DISABLE_FILE_VALIDATION=1
export CAPTUM_RANK_DOCS_EXECUTE=force

rm -rf docs/_build
python3 -m sphinx -W --keep-going -b html docs docs/_build/html

status=0
# Links into pages (viewcode's [docs] links, cross-references) whose #anchor no page
# defines: Sphinx's -W does not see them.
python3 .ci/check_anchors.py docs/_build/html || status=1
for notebook in tutorials/*.ipynb; do
    page="docs/_build/html/tutorials/$(basename "${notebook%.ipynb}").html"
    if [ ! -f "$page" ]; then
        echo "docs.sh: $notebook was not rendered ($page missing)" >&2
        status=1
    elif ! grep -q '<img' "$page"; then
        echo "docs.sh: $page has no figures: were the outputs rendered?" >&2
        status=1
    else
        echo "docs.sh: rendered $page"
    fi
done
grep -q '<img\|cell_output' docs/_build/html/quickstart.html \
    || { echo "docs.sh: the quickstart has no outputs" >&2; status=1; }
# The mathematics renders offline: MathJax is served from the site, never from a CDN.
if grep -rq 'cdn.jsdelivr.net/npm/mathjax' docs/_build/html/*.html \
    || [ ! -f docs/_build/html/_static/mathjax/tex-chtml.js ]; then
    echo "docs.sh: MathJax is not served locally (sphinx-mathjax-offline)" >&2
    status=1
fi
echo "docs.sh: finished in $((SECONDS - start)) s (status $status)"
exit "$status"
