"""Speed and efficiency of the post-processing engine (prints numbers and the command).

Run: ``PYTHONPATH=src python benchmarks/postprocessing.py [--large]``

``--large`` adds privacy amplification at n = 1e8 (about 8 GB of memory, a minute).
Throughput is sifted bits per second of wall time; "per core" divides by the CPU time of the
process (Alice and Bob run in two threads).
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time

import numpy as np

from euroqci.devices.emulator import emulate_link, link_settings
from euroqci.postprocessing.amplification import toeplitz_hash
from euroqci.postprocessing.bits import BitString
from euroqci.postprocessing.cascade import (
    CascadeResult,
    CascadeVariant,
    cascade_alice,
    cascade_bob,
)
from euroqci.postprocessing.channel import (
    ClassicalChannel,
    memory_channel_pair,
    tcp_channel_pair,
)
from euroqci.postprocessing.estimation import binary_entropy
from euroqci.postprocessing.ldpc import choose_rate, ldpc_alice, ldpc_bob
from euroqci.postprocessing.parties import DistillSettings
from euroqci.postprocessing.pipeline import distill_key
from euroqci.protocols.finite_key import TailBound
from euroqci.protocols.link_spec import parse_link_spec

SECRET = bytes(range(256)) * (1 << 14)


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def bench_amplification(n: int) -> None:
    rng = np.random.default_rng(1)
    m = n // 2
    key = BitString.from_bits(rng.integers(0, 2, n, dtype=np.uint8))
    seed = BitString.from_bits(rng.integers(0, 2, n + m - 1, dtype=np.uint8))
    t0 = time.perf_counter()
    toeplitz_hash(key, seed, output_bits=m)
    dt = time.perf_counter() - t0
    print(
        f"amplification n={n:.0e} m={m:.0e}: {dt:.3f} s, {n / dt / 1e6:.1f} Mbit/s, "
        f"peak RSS {_peak_rss_gb():.2f} GB"
    )


def _cascade(variant: CascadeVariant, n: int, qber: float, tcp_delay_s: float | None) -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < qber).astype(np.uint8)
    if tcp_delay_s is None:
        ch_a, ch_b = memory_channel_pair(SECRET)
    else:
        ch_a, ch_b = tcp_channel_pair(SECRET, round_trip_delay_s=tcp_delay_s)
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("a", cascade_alice(ch_a, a)))
    c0, t0 = time.process_time(), time.perf_counter()
    thread.start()
    bob = cascade_bob(ch_b, b, qber=qber, variant=variant, frame_bits=2**17)
    thread.join()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    alice = out["a"]
    frames_failed = int(np.any(alice.frames != bob.frames, axis=1).sum())
    e = float((a != b).mean())
    f = bob.disclosed_bits / (n * binary_entropy(e))
    where = "memory" if tcp_delay_s is None else f"tcp rtt+{tcp_delay_s * 1e3:.0f}ms"
    print(
        f"{variant.value:17s} n={n:.1e} qber={qber:.2f} {where:12s}: f={f:.4f} "
        f"FER={frames_failed}/{alice.frames.shape[0]} rounds={bob.rounds} "
        f"{n / dt / 1e6:.2f} Mbit/s wall, {n / cpu / 1e6:.2f} Mbit/s per CPU-second"
    )
    ch_a.close()
    ch_b.close()


def bench_ldpc(n: int, qber: float, repeats: int = 3) -> None:
    """Blind rate-adaptive LDPC; f and FER of one seeded run, time the best of ``repeats``."""
    rng = np.random.default_rng(4)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < qber).astype(np.uint8)
    best = float("inf")
    out: dict[str, CascadeResult] = {}

    def alice(channel: ClassicalChannel) -> None:
        out["a"] = ldpc_alice(channel, a, rng=np.random.default_rng(5))

    for _ in range(repeats):
        ch_a, ch_b = memory_channel_pair(SECRET)
        thread = threading.Thread(target=alice, args=(ch_a,))
        t0 = time.perf_counter()
        thread.start()
        bob = ldpc_bob(ch_b, b, qber=qber, workers=2)
        thread.join()
        best = min(best, time.perf_counter() - t0)
    alice = out["a"]
    failed = np.any(alice.frames != bob.frames, axis=1)
    e = float((a != b).mean())
    f = bob.disclosed_bits / (n * binary_entropy(e))
    choice = choose_rate(qber)
    start = choice.code.effective_rate(choice.punctured)
    print(
        f"ldpc (mother {choice.code.rate:.2f}, start rate {start:.3f}) n={n:.1e} "
        f"qber={qber:.3f}: f={f:.3f} FER={failed.mean():.3f} ({failed.sum()}/{failed.size}) "
        f"round trips={bob.rounds} {n / best / 1e6:.2f} Mbit/s on 2 threads "
        f"(best of {repeats}, load average {os.getloadavg()[0]:.1f})"
    )


def bench_pipeline(pulses: int) -> None:
    spec = parse_link_spec(
        {
            "channel": {"loss_db": 3.0},
            "source": {
                "intensities": [0.5, 0.1, 0.0002],
                "intensity_probabilities": [0.6, 0.25, 0.15],
                "basis_probability_x": 0.6,
            },
            "detector": {"efficiency": 0.6, "dark_count_probability": 1e-6},
            "misalignment_error": 0.02,
        }
    )
    link = link_settings(spec)
    rng = np.random.default_rng(3)
    t0 = time.perf_counter()
    alice, bob = emulate_link(link, n_pulses=pulses, rng=rng)
    t_emu = time.perf_counter() - t0
    settings = DistillSettings(
        intensities=link.intensities,
        intensity_probabilities=link.intensity_probabilities,
        tail_bound=TailBound.CHERNOFF,
    )
    distill_key(alice, bob, settings=settings, rng=rng)  # warm-up: loads the compiled kernels
    result = distill_key(alice, bob, settings=settings, rng=rng)
    s = result.summary()
    print(f"emulator: {pulses:.0e} pulses in {t_emu:.2f} s ({pulses / t_emu / 1e6:.1f} Mpulse/s)")
    print(
        f"distill: sifted={s['sifted_bits']} secret={s['secret_bits']} "
        f"f={s['reconciliation_efficiency']:.3f} "
        f"keys_equal={s['keys_equal']} auth_used={s['authentication_key_used_bits']} "
        f"total {s['throughput']['total_bps'] / 1e6:.2f} Mbit/s"
    )
    print("  stages (Mbit/s):", {k: round(v / 1e6, 2) for k, v in s["throughput"].items()})


def _ldpc_rows() -> None:
    bench_ldpc(2**16, 0.02, repeats=1)  # warm-up: loads the compiled kernels
    for q in (0.01, 0.02, 0.03, 0.05):
        bench_ldpc(2**21, q)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", action="store_true", help="also PA at n = 1e8")
    parser.add_argument("--ldpc", action="store_true", help="only the LDPC rows")
    args = parser.parse_args()
    print(
        "command: PYTHONPATH=src python benchmarks/postprocessing.py"
        + (" --large" * args.large)
        + (" --ldpc" * args.ldpc)
    )
    if args.ldpc:
        _ldpc_rows()
        return
    bench_amplification(10**5)  # warm-up
    bench_amplification(10**6)
    bench_amplification(10**7)
    if args.large:
        bench_amplification(10**8)
    _cascade(CascadeVariant.OPTIMISED, 2**17, 0.03, None)  # warm-up: loads the compiled kernels
    for q in (0.01, 0.02, 0.03, 0.05):
        _cascade(CascadeVariant.OPTIMISED, 2**23, q, None)
    _cascade(CascadeVariant.OPTIMISED, 2**20, 0.03, None)
    _cascade(CascadeVariant.ORIGINAL, 2**23, 0.03, None)
    _cascade(CascadeVariant.OPTIMISED, 2**23, 0.03, 0.001)
    _ldpc_rows()
    bench_pipeline(100_000_000)


if __name__ == "__main__":
    main()
