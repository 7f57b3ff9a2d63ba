"""Cost of Captum's Gauss-Legendre nodes against n_steps (why n_steps > 4096 is refused).

Captum builds the nodes and the weights of ``method="gausslegendre"`` with numpy's
``leggauss``, an O(n^3) eigenvalue problem, once each. This prints the wall time of both
calls for growing ``n_steps`` and writes the ``gauss-nodes`` section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import markdown_table, write_section
from captum.attr._utils.approximation_methods import approximation_parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, nargs="+", default=[500, 1000, 2000, 3000, 4000])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    step_sizes, alphas = approximation_parameters("gausslegendre")
    rows = []
    for n_steps in args.steps:
        start = time.perf_counter()
        step_sizes(n_steps)
        alphas(n_steps)
        rows.append([n_steps, f"{time.perf_counter() - start:.2f}"])
        print(rows[-1], flush=True)
    body = (
        "Wall time of Captum's `gausslegendre` node and weight generation (numpy `leggauss`, "
        "called twice), before any model evaluation. BLAS threads follow the environment "
        "(run with `OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1` for one core); the machine was "
        "shared with other jobs. `check_method` warns above 1024 steps and refuses above "
        "4096, pointing to `riemann_middle`/`riemann_trapezoid` (O(n_steps) nodes).\n\n"
    )
    body += markdown_table(["n_steps", "node generation (s)"], rows)
    write_section("gauss-nodes", "Gauss-Legendre node generation against n_steps", body)


if __name__ == "__main__":
    main()
