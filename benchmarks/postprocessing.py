"""Speed and efficiency of the post-processing engine (prints numbers and the command).

Run: ``PYTHONPATH=src python benchmarks/postprocessing.py [--large] [--only cascade|pipeline]
[--cascade-fer BATCHES] [--ldpc] [--ldpc-fer FRAMES] [--ldpc-rule fast|table|boxplus] [--pulses N]``

``--large`` adds privacy amplification at n = 1e8 (about 4 GB of memory, two runs).
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
from euroqci.postprocessing import _ldpc_kernels, ldpc
from euroqci.postprocessing.amplification import seed_bits, toeplitz_hash
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
    """Best of several hashes of one key (the first run of a size also pays for FFTW's plan,
    and on a fresh virtual machine for the first touch of the memory)."""
    rng = np.random.default_rng(1)
    m = n // 2
    key = BitString.from_bits(rng.integers(0, 2, n, dtype=np.uint8))
    seed = BitString.from_bits(rng.integers(0, 2, seed_bits(n, m), dtype=np.uint8))
    repeat = 7 if n <= 10**6 else 3 if n <= 10**7 else 2
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        toeplitz_hash(key, seed, output_bits=m)
        times.append(time.perf_counter() - t0)
    dt = min(times)
    print(
        f"amplification n={n:.0e} m={m:.0e}: best of {repeat} {dt:.3f} s, "
        f"{n / dt / 1e6:.1f} Mbit/s (first run {times[0]:.3f} s), "
        f"peak RSS {_peak_rss_gb():.2f} GB"
    )


def _alice_into(out: dict[str, CascadeResult], channel: ClassicalChannel, bits: np.ndarray) -> None:
    out["a"] = cascade_alice(channel, bits)


def _cascade(
    variant: CascadeVariant, n: int, qber: float, tcp_delay_s: float | None, *, repeats: int = 1
) -> None:
    """Best of ``repeats`` runs (by CPU time); the key, noise and result are the same each run."""
    rng = np.random.default_rng(2)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < qber).astype(np.uint8)
    best = None
    for _ in range(repeats):
        if tcp_delay_s is None:
            ch_a, ch_b = memory_channel_pair(SECRET)
        else:
            ch_a, ch_b = tcp_channel_pair(SECRET, round_trip_delay_s=tcp_delay_s)
        auth0 = ch_b.auth.pool.consumed_bits
        out: dict[str, CascadeResult] = {}
        thread = threading.Thread(target=_alice_into, args=(out, ch_a, a))
        c0, t0 = time.process_time(), time.perf_counter()
        thread.start()
        bob = cascade_bob(ch_b, b, qber=qber, variant=variant, frame_bits=2**17)
        thread.join()
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        auth = ch_b.auth.pool.consumed_bits - auth0
        messages = ch_a.messages_sent + ch_b.messages_sent
        ch_a.close()
        ch_b.close()
        if best is None or cpu < best[1]:
            best = (dt, cpu, out["a"], bob, auth, messages)
    dt, cpu, alice, bob, auth, messages = best
    frames_failed = int(np.any(alice.frames != bob.frames, axis=1).sum())
    e = float((a != b).mean())
    f = bob.disclosed_bits / (n * binary_entropy(e))
    where = "memory" if tcp_delay_s is None else f"tcp rtt+{tcp_delay_s * 1e3:.0f}ms"
    print(
        f"{variant.value:17s} n={n:.1e} qber={qber:.2f} {where:12s}: f={f:.4f} "
        f"FER={frames_failed}/{alice.frames.shape[0]} rounds={bob.rounds} "
        f"messages={messages} auth_key={auth} bits "
        f"{n / dt / 1e6:.2f} Mbit/s wall, {n / cpu / 1e6:.2f} Mbit/s per CPU-second "
        f"(best of {repeats})"
    )


def bench_cascade_fer(qber: float, batches: int) -> None:
    """Frame error rate of optimised Cascade over ``batches`` batches of 64 frames of 2^17."""
    rng = np.random.default_rng(5)
    n = 64 * 2**17
    failed = frames = 0
    leak = cpu = 0.0
    for _ in range(batches):
        a = rng.integers(0, 2, n, dtype=np.uint8)
        b = a ^ (rng.random(n) < qber).astype(np.uint8)
        ch_a, ch_b = memory_channel_pair(SECRET)
        out: dict[str, CascadeResult] = {}
        thread = threading.Thread(target=_alice_into, args=(out, ch_a, a))
        c0 = time.process_time()
        thread.start()
        bob = cascade_bob(ch_b, b, qber=qber, frame_bits=2**17)
        thread.join()
        cpu += time.process_time() - c0
        failed += int(np.any(out["a"].frames != bob.frames, axis=1).sum())
        frames += bob.frames.shape[0]
        leak += bob.disclosed_bits / (n * binary_entropy(float((a != b).mean())))
    print(
        f"cascade FER qber={qber:.2f}: {failed}/{frames} frames failed, mean f={leak / batches:.4f}"
        f", {batches * n / cpu / 1e6:.2f} Mbit/s per CPU-second"
    )


def bench_ldpc(n: int | None, qber: float, repeats: int = 3, frames: int = 16) -> None:
    """Blind rate-adaptive LDPC; f and FER of one seeded run, time the best of ``repeats``.

    ``n=None`` takes ``frames`` whole frames of the code chosen for ``qber``; a key that ends
    in a part-filled frame leaks a full syndrome for it (see docs/benchmarks.md).
    """
    if n is None:
        # Whole frames of the longest codes: one segment (ldpc.plan_segments).
        n = frames * choose_rate(qber).code.k
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
    choice = choose_rate(qber, key_bits=n)
    start = choice.code.effective_rate(choice.punctured)
    print(
        f"ldpc (mother {choice.code.rate:.2f}, start rate {start:.3f}) n={n:.1e} "
        f"qber={qber:.3f}: f={f:.3f} FER={failed.mean():.3f} ({failed.sum()}/{failed.size}) "
        f"round trips={bob.rounds} {n / best / 1e6:.2f} Mbit/s on 2 threads "
        f"(best of {repeats}, load average {os.getloadavg()[0]:.1f})"
    )


def bench_pipeline(pulses: int, repeats: int = 3) -> None:
    """The whole ``distill_key`` on one emulated record: the first run in the process, then
    ``repeats`` more (a device distils block after block in one process; on this VM the first
    run also pays for first-touch memory and for loading the compiled kernels)."""
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
    print(f"emulator: {pulses:.0e} pulses in {t_emu:.2f} s ({pulses / t_emu / 1e6:.1f} Mpulse/s)")
    settings = DistillSettings(
        intensities=link.intensities,
        intensity_probabilities=link.intensity_probabilities,
        tail_bound=TailBound.CHERNOFF,
    )
    runs = []
    for i in range(repeats + 1):
        result = distill_key(alice, bob, settings=settings, rng=rng)
        s = result.summary()
        runs.append(s["throughput"]["total_bps"])
        label = "first run" if i == 0 else f"run {i}"
        print(
            f"distill {label}: sifted={s['sifted_bits']} secret={s['secret_bits']} "
            f"f={s['reconciliation_efficiency']:.3f} keys_equal={s['keys_equal']} "
            f"auth_used={s['authentication_key_used_bits']} "
            f"total {s['throughput']['total_bps'] / 1e6:.2f} Mbit/s"
        )
        print("  stages (Mbit/s):", {k: round(v / 1e6, 2) for k, v in s["throughput"].items()})
    later = sorted(runs[1:])
    print(
        f"distill {pulses:.0e} pulses: first run {runs[0] / 1e6:.2f} Mbit/s, then best "
        f"{later[-1] / 1e6:.2f}, median {later[len(later) // 2] / 1e6:.2f} Mbit/s of sifted key "
        f"(load average {os.getloadavg()[0]:.1f})"
    )


def bench_cascade() -> None:
    # Warm-up at full size: loads the compiled kernels and makes this VM back the memory a
    # batch of 64 frames needs (the first touch of fresh guest memory costs seconds here).
    print("first run in this process (cold kernels and memory):")
    _cascade(CascadeVariant.OPTIMISED, 2**23, 0.03, None)
    for q in (0.01, 0.02, 0.03, 0.05):
        _cascade(CascadeVariant.OPTIMISED, 2**23, q, None, repeats=3)
    _cascade(CascadeVariant.OPTIMISED, 2**20, 0.03, None, repeats=3)
    _cascade(CascadeVariant.ORIGINAL, 2**23, 0.03, None, repeats=3)
    _cascade(CascadeVariant.OPTIMISED, 2**23, 0.03, 0.001)


def bench_ldpc_kernel(qber: float, frames: int = 4, sweeps: int = 5, repeats: int = 3) -> None:
    """Decoder time per edge and sweep on one core, for each check rule, on the code chosen
    for ``qber``; the syndromes are random, so no frame stops early."""
    code = choose_rate(qber).code
    rng = np.random.default_rng(1)
    syndromes = rng.integers(0, 2, (frames, code.m), dtype=np.uint8)
    rules = {**LDPC_RULES, "min-sum 0.8": _ldpc_kernels.RULE_MIN_SUM}
    times = []
    for name, rule in rules.items():
        best = float("inf")
        for _ in range(repeats):
            totals = np.full((frames, code.n), 3.0, dtype=np.float32)
            c2v = np.zeros((frames, code.edges), dtype=np.float32)
            t0 = time.perf_counter()
            _ldpc_kernels.qc_decode(
                totals, c2v, syndromes, np.arange(frames), code.row_ptr, code.cols,
                code.shifts, code.z, sweeps, rule, 0.8,
            )  # fmt: skip
            best = min(best, time.perf_counter() - t0)
        times.append(f"{name} {best / (frames * sweeps * code.edges) * 1e9:.2f}")
    print(
        f"ldpc kernel (rate {code.rate:.2f}, check degree <= {np.diff(code.row_ptr).max()}): "
        f"ns per edge and sweep on one core: {', '.join(times)} "
        f"(best of {repeats}, load average {os.getloadavg()[0]:.1f})"
    )


def _ldpc_rows() -> None:
    bench_ldpc(2**16, 0.02, repeats=1)  # warm-up: loads the compiled kernels
    for q in (0.01, 0.03):
        bench_ldpc_kernel(q)
    # 16 whole frames of the 262144-bit codes (3.8e6-4.0e6 sifted bits) per QBER, then
    # n = 2^22, which ends in a part-filled frame.
    for q in (0.01, 0.02, 0.03, 0.05):
        bench_ldpc(None, q)
    for q in (0.01, 0.05):
        bench_ldpc(2**22, q, repeats=1)


#: QBERs of the LDPC FER runs unless --ldpc-qbers says otherwise.
LDPC_QBERS = "0.01,0.02,0.03,0.05"


def _qbers(text: str) -> list[float]:
    """QBERs from a comma-separated list, each a fraction in (0, 0.5)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise SystemExit(f"--ldpc-qbers: expected fractions like 0.01,0.02, got {text!r}") from None
    if not values or not all(0.0 < v < 0.5 for v in values):
        raise SystemExit(f"--ldpc-qbers: each QBER must be a fraction in (0, 0.5), got {text!r}")
    return values


#: Check-node rules of the LDPC decoder.
LDPC_RULES = {
    "fast": _ldpc_kernels.RULE_SUM_PRODUCT_FAST,
    "table": _ldpc_kernels.RULE_SUM_PRODUCT_TABLE,
    "boxplus": _ldpc_kernels.RULE_BOX_PLUS,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", action="store_true", help="also PA at n = 1e8")
    parser.add_argument(
        "--only", choices=["amplification", "cascade", "pipeline"], help="run only this part"
    )
    parser.add_argument("--ldpc", action="store_true", help="only the LDPC rows")
    parser.add_argument(
        "--pulses", type=float, default=1e8, help="pulses of the pipeline run (default 1e8)"
    )
    parser.add_argument(
        "--cascade-fer", type=int, metavar="BATCHES", help="Cascade FER over BATCHES x 64 frames"
    )
    parser.add_argument(
        "--ldpc-fer", type=int, metavar="FRAMES", help="LDPC f and FER over FRAMES long frames"
    )
    parser.add_argument(
        "--ldpc-qbers",
        default=LDPC_QBERS,
        help=f"comma-separated QBERs of --ldpc-fer (default {LDPC_QBERS})",
    )
    parser.add_argument(
        "--ldpc-rule",
        choices=sorted(LDPC_RULES),
        default="boxplus",
        help="LDPC check-node rule: tanh domain (default), phi table, or piecewise-linear box-plus",
    )
    args = parser.parse_args()
    qbers = _qbers(args.ldpc_qbers)
    # Module constant of the library (not a public argument): the benchmark compares the rules.
    ldpc.CHECK_RULE = LDPC_RULES[args.ldpc_rule]
    command = "command: PYTHONPATH=src python benchmarks/postprocessing.py"
    options = (" --large" * args.large) + (f" --only {args.only}" if args.only else "")
    options += " --ldpc" * args.ldpc
    options += f" --pulses {args.pulses:.0e}" if args.pulses != 1e8 else ""
    options += f" --cascade-fer {args.cascade_fer}" if args.cascade_fer else ""
    options += f" --ldpc-fer {args.ldpc_fer}" if args.ldpc_fer else ""
    if args.ldpc_qbers != LDPC_QBERS:
        options += f" --ldpc-qbers {args.ldpc_qbers}"
    options += f" --ldpc-rule {args.ldpc_rule}" if args.ldpc_rule != "boxplus" else ""
    print(command + options)
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.cascade_fer:
        for q in (0.01, 0.05):
            bench_cascade_fer(q, args.cascade_fer)
        return
    if args.ldpc_fer:
        bench_ldpc(2**16, 0.02, repeats=1)  # warm-up: loads the compiled kernels
        for q in qbers:
            bench_ldpc(None, q, repeats=1, frames=args.ldpc_fer)
        return
    if args.ldpc:
        _ldpc_rows()
        return
    if args.only == "cascade":
        bench_cascade()
        return
    if args.only == "pipeline":
        bench_pipeline(int(args.pulses))
        return
    bench_amplification(10**5)  # warm-up
    bench_amplification(10**6)
    bench_amplification(10**7)
    if args.large:
        bench_amplification(10**8)
    if args.only == "amplification":
        return
    bench_cascade()
    _ldpc_rows()
    bench_pipeline(int(args.pulses))


if __name__ == "__main__":
    main()
