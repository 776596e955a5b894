"""Build the LDPC mother codes shipped in src/euroqci/postprocessing/codes/ldpc_codes.npz.

Run: ``PYTHONPATH=src python scripts/build_ldpc_codes.py`` (about 2 minutes on one core;
``--rates 0.80,0.90 --out FILE`` builds a subset, ``--base-columns``/``--lifting`` other sizes).

Two families of nine quasi-cyclic (QC) mother codes, rates 0.50 to 0.90 in steps of 0.05, each
a base matrix of ``BASE_COLUMNS`` columns and ``round((1 - rate) * BASE_COLUMNS)`` rows whose
entries are circulant permutations of size ``Z`` in ``LIFTINGS`` (frames of 256 x 1024 = 262144
bits, and of 256 x 128 = 32768 bits for short keys). Variable
degrees follow the distribution that Elkouss, Leverrier, Alleaume and Boutros optimised by
density evolution for the binary symmetric channel ("Efficient reconciliation protocol for
discrete-variable quantum key distribution", IEEE ISIT 2009, arXiv:0901.2140, its table of
optimised distributions; coefficients as transcribed in public reconciliation code, checked
here against the design rate of each pair). Two transcribed pairs miss their rate: lambda of
0.85 sums to 1.05 and is normalised here (design rate 0.851), and the pair of 0.75 gives 0.739;
both are kept because only lambda enters the construction (PEG makes the check degrees
concentrate at edges / m, as rho does for these codes). The rate-0.90 code takes lambda of
0.85 (``_LAMBDA_FROM``): measured on lifted codes of 131072 bits, a mother code decoded 80 % of
frames at f = 1.15 with it against 50 % with the transcribed 0.90 lambda. Degree-2 variables
are capped below the number of checks (``variable_degrees``).

The base matrix and its shifts come from quasi-cyclic progressive edge growth
(``_ldpc_kernels.qc_peg``): every base edge is a circulant placed, like an edge of PEG, at the
lifted checks farthest from its column. Then ``ADAPT_FRACTION * n`` adaptation positions are
chosen, untainted punctured positions first (Elkouss, Martinez-Mateo, Martin 2012), random ones
after, which the protocol punctures or shortens to set the rate (``ldpc.py``).

Stored compactly: base row degrees, base columns and shifts (uint16, a few kB per code) and the
adaptation order (uint32).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from euroqci.postprocessing import _ldpc_kernels as kernels

#: Base columns and lifting sizes: a family of long frames (Z = 1024, 262144 bits) and one of
#: short frames (Z = 128, 32768 bits) for short keys, whose last, part-filled frame would
#: otherwise leak a whole long syndrome. Longer frames decode closer to capacity: measured on
#: the rate-0.9 code, a mother code alone fails 20 % of frames at f = 1.15 with Z = 512 and
#: 3 % with Z = 1024 (Z = 2048 still failed 35 % at f = 1.13, for twice the decoder memory).
BASE_COLUMNS = 256
LIFTINGS = (1024, 128)
#: Highest mother rate per lifting: two base rows of a code of rate >= 0.92 share more than
#: 128 columns, and the circulants of such a pair close no 4-cycle only if their shift
#: differences are distinct modulo Z (Fossorier, IEEE TIT 50, 1788 (2004), Theorem 2), so
#: Z = 128 cannot keep girth 6 there (measured: 97 and 220 lifted 4-cycles).
MAX_RATE = {128: 0.90}
SEED = 20261127


#: The mother codes: rate -> share of each frame's code bits that the protocol can puncture or
#: shorten (delta in Elkouss, Martinez-Mateo, Martin, QIC 11, 226 (2011)). A code covers the
#: effective rates ``(R0 - delta) / (1 - delta)`` to ``R0 / (1 - delta)``, so neighbours must
#: be at most ``delta`` apart. Dense rates with a small delta, because both adaptations cost
#: efficiency: measured on the rate-0.85 code (0.85 lambda, n = 262144, 32 frames), the mother
#: code alone decodes 95 % of frames at f = 1.12 (QBER 1.84 %), but shortened by 10 % to rate
#: 0.836 it decoded 4 of 32 frames at QBER 2.1 % (f = 1.12 again); and the blind protocol at
#: QBER 2 % gave f = 1.153 with rates 0.05 apart and delta = 0.10 (puncturing about 5 % of a
#: rate-0.80 code) against f = 1.120-1.137 with rates 0.82-0.88 0.02 apart and delta = 0.04.
MOTHER_CODES = {
    0.50: 0.06, 0.55: 0.06, 0.60: 0.06, 0.65: 0.06, 0.69: 0.05, 0.73: 0.05, 0.77: 0.05,
    0.80: 0.04, 0.82: 0.03, 0.84: 0.03, 0.86: 0.03, 0.88: 0.03, 0.90: 0.03, 0.92: 0.03,
    0.94: 0.03,
}  # fmt: skip
#: Cap on degree-2 variables, as a share of the checks (see ``variable_degrees``).
DEGREE2_SHARE = 0.9
OUT = Path(__file__).resolve().parents[1] / "src/euroqci/postprocessing/codes/ldpc_codes.npz"

# Edge-perspective degree distributions: {degree: fraction of edges} for the variables (lambda)
# and checks (rho). Degrees are node degrees (the polynomial exponent plus one).
_EXPONENTS = {
    0.90: (
        {1: 0.07689, 2: 0.28096, 4: 0.08933, 8: 0.19620, 11: 0.30631, 20: 0.05031},
        {49: 0.95025, 50: 0.04975},
    ),
    0.85: (
        {1: 0.04528, 2: 0.20537, 3: 0.05878, 4: 0.09427, 5: 0.08454, 6: 0.01176, 8: 0.05137,
         20: 0.50015},
        {40: 0.54204, 41: 0.45795},
    ),
    0.80: (
        {1: 0.09420, 2: 0.18088, 5: 0.11972, 6: 0.08550, 7: 0.09816, 16: 0.07194, 25: 0.34960},
        {28: 0.58807, 29: 0.41193},
    ),
    0.75: (
        {1: 0.10805, 2: 0.09511, 3: 0.01449, 4: 0.13764, 5: 0.10667, 6: 0.05288, 27: 0.01107,
         30: 0.47408},
        {23: 0.74161, 24: 0.25839},
    ),
    0.70: (
        {1: 0.05343, 2: 0.29406, 5: 0.00896, 8: 0.15571, 11: 0.12189, 24: 0.19872, 45: 0.09572,
         61: 0.02741, 64: 0.04056, 72: 0.00354},
        {19: 0.76922, 20: 0.23077},
    ),
    0.65: (
        {1: 0.10451, 2: 0.15652, 3: 0.08057, 4: 0.00056, 8: 0.12151, 12: 0.10485, 14: 0.10719,
         20: 0.00771, 50: 0.31656},
        {1: 0.000578, 14: 0.06089, 15: 0.47001, 20: 0.46852},
    ),
    0.60: (
        {1: 0.11040, 2: 0.20804, 7: 0.14163, 8: 0.14858, 25: 0.14438, 26: 0.08909, 45: 0.00748,
         70: 0.15038},
        {1: 0.00036, 9: 0.13063, 12: 0.31068, 17: 0.49341, 18: 0.064915},
    ),
    0.55: (
        {1: 0.16880, 2: 0.20994, 5: 0.18095, 14: 0.03846, 15: 0.02635, 17: 0.23454, 18: 0.05815,
         30: 0.08280},
        {9: 0.27631, 10: 0.72369},
    ),
    0.50: (
        {1: 0.14438, 2: 0.19026, 3: 0.01836, 4: 0.00233, 5: 0.04697, 7: 0.05394, 8: 0.05590,
         9: 0.01290, 10: 0.00162, 13: 0.06159, 14: 0.13115, 16: 0.01481, 46: 0.00879,
         48: 0.00650, 54: 0.00210, 55: 0.00099, 56: 0.11178, 57: 0.06238, 58: 0.05094,
         65: 0.02230},
        {9: 0.47575, 11: 0.46847, 12: 0.02952, 13: 0.02626},
    ),
}  # fmt: skip


#: Rates whose variable degrees come from another row of the table (see the module docstring).
_LAMBDA_FROM = {0.90: 0.85}


def distribution_for(rate: float) -> tuple[dict[int, float], dict[int, float], float]:
    """``(lambda, rho, table rate)`` for a mother code of ``rate``: the table's row of that
    rate, else the row of the highest table rate below it (its check degrees do not enter
    the construction: PEG concentrates them at edges / m), with ``_LAMBDA_FROM`` applied."""
    below = [r for r in _EXPONENTS if r <= rate + 1e-9]
    row = max(below) if below else min(_EXPONENTS)
    lam, rho = _EXPONENTS[_LAMBDA_FROM.get(row, row)][0], _EXPONENTS[row][1]
    return lam, rho, row


def design_rate(lam: dict[int, float], rho: dict[int, float]) -> float:
    """``1 - (sum rho_i / i) / (sum lambda_i / i)`` with node degrees ``i`` (Richardson and
    Urbanke, Modern Coding Theory (2008))."""
    return 1.0 - sum(r / (e + 1) for e, r in rho.items()) / sum(p / (e + 1) for e, p in lam.items())


def variable_degrees(lam: dict[int, float], n: int, m: int) -> np.ndarray:
    """Node degrees of ``n`` variables following the edge-perspective ``lam``, sorted.

    At most ``DEGREE2_SHARE * m`` variables of degree 2 (the rest become degree 3): with more
    degree-2 variables than checks, some of them must close a cycle among themselves, which
    is a low-weight codeword and an error floor that density evolution (infinite length)
    does not see. The optimised high-rate distributions ask for up to twice as many.
    """
    degs = np.array([e + 1 for e in lam])
    share = np.array([p / (e + 1) for e, p in lam.items()])
    share /= share.sum()
    counts = np.floor(share * n).astype(np.int64)
    # Largest remainders get the leftover nodes so that the counts sum to n.
    rest = n - counts.sum()
    counts[np.argsort(-(share * n - counts))[:rest]] += 1
    out = np.repeat(degs, counts)
    twos = np.flatnonzero(out == 2)
    out[twos[int(DEGREE2_SHARE * m) :]] = 3
    return np.sort(out)


def by_variables(ptr: np.ndarray, var: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    checks = np.repeat(np.arange(ptr.size - 1), np.diff(ptr))
    order = np.argsort(var, kind="stable")
    vptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(vptr, var + 1, 1)
    return np.cumsum(vptr), checks[order].astype(np.int64)


def adaptation_order(
    ptr: np.ndarray, var: np.ndarray, n: int, d: int, rng: np.random.Generator
) -> np.ndarray:
    """``d`` positions: untainted punctured variables first, then random others."""
    vptr, vchk = by_variables(ptr, var, n)
    deg = np.diff(vptr)
    first = kernels.untainted_puncturing(ptr, var, vptr, vchk, deg, d, rng.random(n))
    rest = np.setdiff1d(np.arange(n), first)
    fill = rng.permutation(rest)[: d - first.size]
    return np.concatenate([first, fill])


def build_code(
    rate: float,
    n_b: int,
    z_size: int,
    rng: np.random.Generator,
    adapt_fraction: float | None = None,
) -> dict[str, np.ndarray]:
    """One QC mother code: base matrix by QC-PEG, then its adaptation positions
    (``adapt_fraction`` of the bits, by default the rate's share in ``MOTHER_CODES``)."""
    if adapt_fraction is None:
        adapt_fraction = MOTHER_CODES[rate]
    lam, rho, row = distribution_for(rate)
    total = sum(lam.values())
    lam = {e: p / total for e, p in lam.items()}
    if row == rate and row not in _LAMBDA_FROM and abs(design_rate(lam, rho) - rate) > 0.015:
        raise SystemExit(f"rate {rate}: distribution gives {design_rate(lam, rho):.4f}")
    m_b = round((1 - rate) * n_b)
    # A column cannot meet more base rows than there are: higher degrees are capped.
    degs = np.sort(np.minimum(variable_degrees(lam, n_b, m_b), m_b))
    cap = int(np.ceil(degs.sum() / m_b)) + 1
    rows, cols, shifts = kernels.qc_peg(
        degs, m_b, z_size, cap, rng.random(m_b), rng.integers(0, z_size, degs.sum())
    )
    order = np.lexsort((cols, rows))
    rows, cols, shifts = rows[order], cols[order], shifts[order]
    row_ptr = np.zeros(m_b + 1, dtype=np.int64)
    np.add.at(row_ptr, rows + 1, 1)
    row_ptr = np.cumsum(row_ptr)
    n = n_b * z_size
    ptr, var = kernels.qc_expand(row_ptr, cols, shifts, z_size)
    adapt = adaptation_order(ptr, var, n, round(adapt_fraction * n), rng)
    return {
        "z": np.int64(z_size),
        "rowdeg": np.diff(row_ptr).astype(np.uint16),
        "cols": cols.astype(np.uint16),
        "shifts": shifts.astype(np.uint16),
        "adapt": adapt.astype(np.uint32),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", help="comma-separated subset of the mother rates")
    parser.add_argument("--base-columns", type=int, default=BASE_COLUMNS)
    parser.add_argument(
        "--lifting", default=",".join(map(str, LIFTINGS)), help="comma-separated lifting sizes"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data: dict[str, np.ndarray] = {}
    rates = sorted(MOTHER_CODES)
    if args.rates:
        rates = [r for r in rates if f"{r:.2f}" in args.rates.split(",")]
    built = [
        (z, r)
        for z in map(int, args.lifting.split(","))
        for r in rates
        if r <= MAX_RATE.get(z, 1.0) + 1e-9
    ]
    for i, (z_size, rate) in enumerate(built):
        t0 = time.perf_counter()
        rng = np.random.default_rng([SEED, round(1000 * rate), z_size])
        code = build_code(rate, args.base_columns, z_size, rng)
        print(
            f"rate {rate:.2f}: base {code['rowdeg'].size} x {args.base_columns}, Z={z_size},"
            f" base edges {code['cols'].size}, row degrees {code['rowdeg'].min()}-"
            f"{code['rowdeg'].max()} ({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        for key, value in code.items():
            data[f"{key}_{i}"] = value
    np.savez_compressed(
        args.out,
        count=np.int64(len(built)),
        design_rate=np.array([r for _, r in built]),
        **data,
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
