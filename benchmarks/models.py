"""Speed of the BBM92 and twin-field (SNS) key-rate models.

Run from the repository root:

    PYTHONPATH=src python benchmarks/models.py

Prints the best of several timings for: a sweep of 10^5 transmittances in one call with the
source parameters optimised per point (BBM92 asymptotic, both arms swept together; SNS
asymptotic), the same sweeps at fixed parameters, and one optimised BBM92 satellite pass of
300 one-second slots with finite-key bounds.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import numpy as np

from euroqci.physics.detectors import Detector
from euroqci.protocols.bbm92 import bbm92_secret_key_rate
from euroqci.protocols.bbm92_finite import bbm92_pass_secret_bits
from euroqci.protocols.tf_qkd import sns_secret_key_rate

N = 100_000


def best_of(fn: Callable[[], object], repeats: int = 5) -> float:
    fn()  # warm-up: imports, scipy special functions
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    det = Detector(efficiency=0.5, dark_count_probability=1e-6)
    charlie = Detector(efficiency=0.6, dark_count_probability=1e-10)
    arm = np.logspace(-1, -5, N)  # 10-50 dB per arm, 20-100 dB for the pair
    channel = np.logspace(-1, -18, N)  # 10-180 dB Alice-Bob
    t = np.linspace(-1.0, 1.0, 300)
    pass_a, pass_b = 10 ** (-(18 + 8 * t**2) / 10), 10 ** (-(20 + 8 * t**2) / 10)
    cases = {
        "bbm92 asymptotic, 1e5 arm transmittances, mu optimised": lambda: bbm92_secret_key_rate(
            arm, arm, detector_a=det
        ),
        "bbm92 asymptotic, 1e5 arm transmittances, mu fixed": lambda: bbm92_secret_key_rate(
            arm, arm, detector_a=det, mean_pair_number=0.1
        ),
        "sns asymptotic, 1e5 transmittances, mu and epsilon optimised": lambda: sns_secret_key_rate(
            channel, detector=charlie
        ),
        "sns asymptotic, 1e5 transmittances, mu and epsilon fixed": lambda: sns_secret_key_rate(
            channel, detector=charlie, intensity=0.4, sending_probability=0.03
        ),
        "bbm92 finite-key pass, 300 slots, mu and p_x optimised": lambda: bbm92_pass_secret_bits(
            pass_a, pass_b, repetition_rate_hz=1e8, slot_s=1.0, detector_a=det
        ),
    }
    print(
        f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    for name, fn in cases.items():
        print(f"{name:62s} {best_of(fn) * 1e3:9.1f} ms")


if __name__ == "__main__":
    main()
