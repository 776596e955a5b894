"""Rate a link SPEC: pick the model, optimise what the SPEC leaves free, report the figures.

:func:`evaluate_link` is what ``euroqci keyrate``, network planning and the space segment call.
Every point of a swept channel (an array of lengths or losses) gets its own optimised
intensities, probabilities and basis choice, in one vectorised optimisation.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import qmc

from euroqci.errors import ConfigurationError
from euroqci.physics.channels import FibreChannel, FixedLossChannel, SlottedChannel
from euroqci.protocols import bb84_decoy as bb84
from euroqci.protocols.bb84_decoy import DecoyMethod
from euroqci.protocols.link_spec import LinkSpec, Protocol
from euroqci.protocols.optimise import minimize_batched
from euroqci.protocols.plob import plob_bound

__all__ = ["KeyRateResult", "evaluate_link", "max_reach_km"]

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

#: Weakest intensity when the SPEC leaves intensities free (Lim et al. 2014, Sec. IV).
DEFAULT_MU3 = 2e-4
#: Largest signal intensity the optimiser considers (photons per pulse).
MAX_MU1 = 1.0
#: Largest decoy intensity the optimiser considers.
MAX_MU2 = 0.5
#: Smallest weak-decoy intensity the optimiser considers for vacuum+weak (photons per pulse).
#: Asymptotically nu -> 0 is optimal and recovers the infinite-decoy rate (Ma et al. 2005,
#: Sec. IV.B); intensity modulators do not set a weaker decoy reliably.
MIN_NU = 0.01
#: Basis probability used by asymptotic models when none is given: standard BB84 (Ma 2005).
ASYMPTOTIC_BASIS_PROBABILITY_X = 0.5
#: Quasi-random points screened per link before the simplex search, and how many are kept.
N_SCREEN = 128
N_BEST_SCREENED = 2
#: Points optimised together at most (screening holds N_SCREEN rows per point in memory).
CHUNK_POINTS = 2048
#: Bounds on q_x when optimised in the finite-key model.
BASIS_X_RANGE = (0.05, 0.9999)


@dataclass(frozen=True)
class KeyRateResult:
    """Figures of a rated link; arrays shaped like the swept channel (scalars for one link).

    ``secret_bits`` counts the key over ``secret_bits_period_s``: one block (finite key), one
    pass (slotted channel) or one second (asymptotic).
    """

    protocol: Protocol
    secret_key_rate_bps: FloatArray
    secret_bits_per_pulse: FloatArray
    sifted_rate_bps: FloatArray
    qber: FloatArray
    secret_bits: FloatArray
    secret_bits_period_s: FloatArray
    loss_db: FloatArray
    plob_bound_bps: FloatArray
    parameters: dict[str, Any] = field(default_factory=dict)
    details: dict[str, FloatArray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the swept channel (``()`` for one link)."""
        return tuple(np.shape(self.secret_key_rate_bps))

    def to_records(self) -> list[dict[str, Any]]:
        """One plain-Python dict per point (JSON-ready)."""
        n = int(np.prod(self.shape)) if self.shape else 1
        records = []
        for i in range(n):
            records.append(self._record(i if self.shape else None))
        return records

    def to_dict(self) -> dict[str, Any]:
        """The figures of a single link as a JSON-ready dict."""
        if self.shape and int(np.prod(self.shape)) != 1:
            raise ValueError("to_dict: the result holds several points; use to_records()")
        return self._record(0 if self.shape else None)

    def _record(self, i: int | None) -> dict[str, Any]:
        def pick(a: Any) -> Any:
            if isinstance(a, list | tuple):
                return list(a)
            arr = np.asarray(a)
            if i is not None and arr.ndim >= 1 and arr.shape[0] == int(np.prod(self.shape)):
                arr = arr.reshape(int(np.prod(self.shape)), *arr.shape[len(self.shape) :])[i]
            return arr.tolist()

        out: dict[str, Any] = {"protocol": self.protocol.value}
        for f in dataclasses.fields(self):
            if f.name in ("protocol", "parameters", "details"):
                continue
            out[f.name] = pick(getattr(self, f.name))
        out["parameters"] = {k: pick(v) for k, v in self.parameters.items()}
        out.update({k: pick(v) for k, v in self.details.items()})
        return out


def _sigmoid(u: FloatArray) -> FloatArray:
    # Kept strictly inside (0, 1) so that decoded intensities keep strict inequalities.
    return np.clip(0.5 * (1.0 + np.tanh(0.5 * u)), 1e-6, 1.0 - 1e-6)


def _logit(y: float) -> float:
    return float(np.log(y / (1.0 - y)))


@dataclass(frozen=True)
class _Bb84Space:
    """Maps unconstrained optimiser variables to valid protocol parameters.

    ``mu2 = mu3 + (MAX_MU2 - mu3) s(u_a)``, ``mu1 = mu2 + mu3 + (MAX_MU1 - mu2 - mu3) s(u_b)``
    keep ``mu1 > mu2 + mu3 > mu2 > mu3``; probabilities are a softmax; q_x a scaled sigmoid.
    """

    mu: FloatArray | None
    p: FloatArray | None
    p_x: float | None
    mu3: float
    optimise_px: bool

    @property
    def names(self) -> list[str]:
        names = []
        if self.mu is None:
            names += ["mu2", "mu1"]
        if self.p is None:
            names += ["p1", "p2"]
        if self.p_x is None and self.optimise_px:
            names += ["p_x"]
        return names

    def starts(self) -> FloatArray:
        """Two starting points: moderate and low-decoy / high-signal-probability."""
        rows = []
        for mu2, mu1_frac, p1, p2, px in ((0.2, 0.5, 0.6, 0.25, 0.7), (0.08, 0.45, 0.8, 0.12, 0.9)):
            row: list[float] = []
            if self.mu is None:
                row += [_logit((mu2 - self.mu3) / (MAX_MU2 - self.mu3)), _logit(mu1_frac)]
            if self.p is None:
                p3 = 1.0 - p1 - p2
                row += [float(np.log(p1 / p3)), float(np.log(p2 / p3))]
            if self.p_x is None and self.optimise_px:
                lo, hi = BASIS_X_RANGE
                row += [_logit((px - lo) / (hi - lo))]
            rows.append(row)
        return np.asarray(rows, dtype=np.float64)

    def decode(self, u: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        n = u.shape[0]
        j = 0
        if self.mu is None:
            mu3 = np.full(n, self.mu3)
            mu2 = mu3 + (MAX_MU2 - mu3) * _sigmoid(u[:, j])
            mu1 = mu2 + mu3 + (MAX_MU1 - mu2 - mu3) * _sigmoid(u[:, j + 1])
            mu = np.stack([mu1, mu2, mu3], axis=-1)
            j += 2
        else:
            mu = np.broadcast_to(self.mu, (n, self.mu.shape[-1]))
        if self.p is None:
            z = np.stack([u[:, j], u[:, j + 1], np.zeros(n)], axis=-1)
            z = np.exp(z - z.max(axis=-1, keepdims=True))
            p = z / z.sum(axis=-1, keepdims=True)
            p = np.clip(p, 1e-6, None)
            p = p / p.sum(axis=-1, keepdims=True)
            j += 2
        else:
            p = np.broadcast_to(self.p, (n, self.p.shape[-1]))
        if self.p_x is None and self.optimise_px:
            lo, hi = BASIS_X_RANGE
            p_x = lo + (hi - lo) * _sigmoid(u[:, j])
        else:
            value = self.p_x if self.p_x is not None else ASYMPTOTIC_BASIS_PROBABILITY_X
            p_x = np.full(n, value)
        return mu, p, p_x


def _optimise(
    objective: Any, space: _Bb84Space, n_points: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Optimise every point from several starts; returns the decoded best parameters.

    Starts: the space's two hand-picked points plus, for each point, the best
    ``N_BEST_SCREENED`` of ``N_SCREEN`` scrambled-Sobol points screened in one vectorised call
    (the key-length surface has flat, keyless regions where a single start can stall).
    """
    if not space.names:
        return space.decode(np.zeros((n_points, 0)))
    if n_points > CHUNK_POINTS:
        # Bound the memory of the screening step; each chunk is still one vectorised search.
        parts = [
            _optimise(
                lambda u, rows, lo=lo: objective(u, rows + lo),
                space,
                min(CHUNK_POINTS, n_points - lo),
            )
            for lo in range(0, n_points, CHUNK_POINTS)
        ]
        return tuple(np.concatenate(a) for a in zip(*parts, strict=True))  # type: ignore[return-value]
    fixed = space.starts()
    n_var = fixed.shape[1]
    sobol = qmc.Sobol(d=n_var, scramble=True, seed=7).random(N_SCREEN)
    screen = -4.0 + 8.0 * sobol
    rows = np.repeat(np.arange(n_points), N_SCREEN)
    values = np.asarray(objective(np.tile(screen, (n_points, 1)), rows)).reshape(n_points, -1)
    values = np.where(np.isfinite(values), values, np.inf)
    best = np.argsort(values, axis=1)[:, :N_BEST_SCREENED]
    starts = np.concatenate(
        [np.broadcast_to(fixed, (n_points, *fixed.shape)), screen[best]], axis=1
    )  # (points, starts, vars)
    n_starts = starts.shape[1]
    point_of = np.repeat(np.arange(n_points), n_starts)

    def fun(u: FloatArray, problems: npt.NDArray[np.intp]) -> FloatArray:
        return np.asarray(objective(u, point_of[problems]))

    x, f = minimize_batched(fun, starts.reshape(-1, n_var))
    f = f.reshape(n_points, n_starts)
    pick = np.argmin(f, axis=1)
    u_best = x.reshape(n_points, n_starts, -1)[np.arange(n_points), pick]
    return space.decode(u_best)


def _flat_transmittance(spec: LinkSpec) -> tuple[FloatArray, tuple[int, ...]]:
    t = np.asarray(spec.channel.transmittance, dtype=np.float64)
    return t.reshape(-1), t.shape


def _space(spec: LinkSpec, *, optimise_px: bool) -> _Bb84Space:
    mu = None
    if spec.intensities is not None:
        mu = np.asarray(spec.intensities, dtype=np.float64)
    p = np.asarray(spec.intensity_probabilities) if spec.intensity_probabilities else None
    return _Bb84Space(
        mu=mu, p=p, p_x=spec.basis_probability_x, mu3=DEFAULT_MU3, optimise_px=optimise_px
    )


def _params(
    mu: FloatArray, p: FloatArray | None, p_x: FloatArray, names: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {"intensities": mu, "basis_probability_x": p_x}
    if p is not None:
        out["intensity_probabilities"] = p
    out["optimised"] = list(names)
    return out


def evaluate_link(spec: LinkSpec) -> KeyRateResult:
    """Rate a link: secret key rate, sifted rate, QBER, key per block or pass, parameters used.

    Intensities, their probabilities and (finite key) the basis probability that the SPEC leaves
    out are optimised to maximise the key, separately for every point of a swept channel.

    Examples
    --------
    >>> from euroqci.protocols.link_spec import parse_link_spec
    >>> r = evaluate_link(parse_link_spec({"channel": {"length_km": 50},
    ...     "source": {"intensities": [0.5, 0.1, 0.0002],
    ...                "intensity_probabilities": [0.8, 0.1, 0.1]}}))
    >>> 1e6 < float(r.secret_key_rate_bps) < 1e7
    True
    """
    if spec.protocol is Protocol.PLOB:
        return _evaluate_plob(spec)
    if spec.protocol is Protocol.BB84_DECOY:
        if isinstance(spec.channel, SlottedChannel):
            return _evaluate_bb84_pass(spec)
        if spec.finite_key is not None:
            return _evaluate_bb84_finite(spec)
        return _evaluate_bb84_asymptotic(spec)
    from euroqci.protocols import _registry

    return _registry.evaluate_other(spec)


def _common(spec: LinkSpec, t: FloatArray, shape: tuple[int, ...]) -> dict[str, Any]:
    loss_db = np.asarray(spec.channel.loss_db, dtype=np.float64)
    plob = plob_bound(t) * spec.repetition_rate_hz
    return {"loss_db": loss_db.reshape(shape), "plob_bound_bps": plob.reshape(shape)}


def _evaluate_plob(spec: LinkSpec) -> KeyRateResult:
    t, shape = _flat_transmittance(spec)
    if isinstance(spec.channel, SlottedChannel):
        raise ConfigurationError(
            "protocol: 'plob' rates a fibre or fixed-loss channel, not a pass", field="protocol"
        )
    bits = plob_bound(t)
    rate = bits * spec.repetition_rate_hz
    common = _common(spec, t, shape)
    nan = np.full(shape, np.nan)
    return KeyRateResult(
        protocol=spec.protocol,
        secret_key_rate_bps=rate.reshape(shape),
        secret_bits_per_pulse=bits.reshape(shape),
        sifted_rate_bps=nan,
        qber=np.zeros(shape),
        secret_bits=rate.reshape(shape),
        secret_bits_period_s=np.ones(shape),
        **common,
    )


def _evaluate_bb84_asymptotic(spec: LinkSpec) -> KeyRateResult:
    t, shape = _flat_transmittance(spec)
    n = t.size
    if spec.decoy is DecoyMethod.THREE_INTENSITY:
        # Lim et al. (2014): key from the X basis only; the asymptotic limit of efficient
        # BB84 lets q_x approach 1 (their Fig. 1, dashed curve).
        p_x = spec.basis_probability_x or BASIS_X_RANGE[1]
        sifting = p_x**2
    else:
        # Standard BB84 of Ma et al. (2005): both bases give key, q = 1/2 at q_x = 1/2.
        p_x = spec.basis_probability_x or ASYMPTOTIC_BASIS_PROBABILITY_X
        sifting = p_x**2 + (1.0 - p_x) ** 2
    kw: dict[str, Any] = dict(
        detector=spec.detector,
        misalignment_error=spec.misalignment_error,
        error_correction_efficiency=spec.error_correction_efficiency,
        sifting=sifting,
    )
    params: dict[str, Any]
    if spec.decoy is DecoyMethod.THREE_INTENSITY:
        space = _space(spec, optimise_px=False)

        def objective(u: FloatArray, rows: npt.NDArray[np.intp]) -> FloatArray:
            mu, p, _ = space.decode(u)
            r = bb84.three_intensity_asymptotic(
                t[rows], intensities=mu, intensity_probabilities=p, **kw
            )
            return -r.secret_bits_per_pulse

        mu, p, _ = _optimise(objective, space, n)
        res = bb84.three_intensity_asymptotic(t, intensities=mu, intensity_probabilities=p, **kw)
        params = _params(mu, p, np.full(n, p_x), space.names)
    else:
        mu_sig, nu, names = _asymptotic_two_decoy(spec, t, kw)
        if spec.decoy is DecoyMethod.INFINITE:
            res = bb84.gllp_infinite_decoy(t, mu=mu_sig, **kw)
            params = {"intensities": mu_sig[:, None]}
        else:
            res = bb84.vacuum_weak_decoy(t, mu=mu_sig, nu=nu, **kw)
            params = {"intensities": np.stack([mu_sig, nu, np.zeros(n)], axis=-1)}
        params["basis_probability_x"] = np.full(n, p_x)
        params["optimised"] = list(names)
    bits = np.maximum(res.secret_bits_per_pulse, 0.0)
    rate = bits * spec.repetition_rate_hz
    return KeyRateResult(
        protocol=spec.protocol,
        secret_key_rate_bps=rate.reshape(shape),
        secret_bits_per_pulse=bits.reshape(shape),
        sifted_rate_bps=(res.sifted_bits_per_pulse * spec.repetition_rate_hz).reshape(shape),
        qber=res.qber.reshape(shape),
        secret_bits=rate.reshape(shape),
        secret_bits_period_s=np.ones(shape),
        parameters={k: _reshape(v, shape) for k, v in params.items()},
        **_common(spec, t, shape),
    )


def _reshape(v: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(v, list):
        return v
    arr = np.asarray(v)
    return (
        arr.reshape(*shape, *arr.shape[1:])
        if arr.ndim >= 1 and shape
        else arr[0]
        if arr.ndim
        else arr
    )


def _asymptotic_two_decoy(
    spec: LinkSpec, t: FloatArray, kw: dict[str, Any]
) -> tuple[FloatArray, FloatArray, list[str]]:
    """Signal (and vacuum+weak decoy) intensities: given, or optimised per point."""
    n = t.size
    given = spec.intensities
    infinite = spec.decoy is DecoyMethod.INFINITE
    if given is not None:
        mu = np.full(n, given[0])
        nu = np.full(n, given[1] if len(given) > 1 else np.nan)
        if not infinite and not (0 < nu[0] < mu[0]):
            raise ConfigurationError(
                "source.intensities: vacuum+weak expects [mu, nu] or [mu, nu, 0] with 0 < nu < mu",
                field="source.intensities",
            )
        return mu, nu, []
    # Optimise mu (and nu as a fraction of mu, at most 1/2 of it) per point.
    model = bb84.gllp_infinite_decoy if infinite else bb84.vacuum_weak_decoy
    names = ["mu"] if infinite else ["mu", "nu"]

    def decode(u: FloatArray) -> tuple[FloatArray, FloatArray]:
        mu = 2.5 * MIN_NU + (MAX_MU1 - 2.5 * MIN_NU) * _sigmoid(u[:, 0])
        nu = (
            MIN_NU + (mu * 0.5 - MIN_NU) * _sigmoid(u[:, 1])
            if not infinite
            else np.full(u.shape[0], np.nan)
        )
        return mu, nu

    def fun(u: FloatArray, rows: npt.NDArray[np.intp]) -> FloatArray:
        mu, nu = decode(u)
        extra: dict[str, Any] = {} if infinite else {"nu": nu}
        return -model(t[rows], mu=mu, **extra, **kw).secret_bits_per_pulse

    x0 = np.tile(np.array([[0.0, -2.0]])[:, : len(names)], (n, 1))
    x, _ = minimize_batched(fun, x0)
    mu, nu = decode(x)
    return mu, nu, names


def _finite_kw(spec: LinkSpec, eps_sec: Any) -> dict[str, Any]:
    assert spec.finite_key is not None
    fk = spec.finite_key
    return dict(
        detector=spec.detector,
        misalignment_error=spec.misalignment_error,
        error_correction_efficiency=spec.error_correction_efficiency,
        epsilon_sec=eps_sec,
        epsilon_cor=fk.epsilon_cor,
        tail_bound=fk.tail_bound,
    )


def _secrecy_rounds(spec: LinkSpec) -> int:
    """Optimisation rounds: one for a fixed epsilon_sec; three fixed-point rounds for
    epsilon_sec = epsilon_sec_per_bit * l (l depends on epsilon_sec only logarithmically)."""
    fk = spec.finite_key
    assert fk is not None
    return 3 if fk.epsilon_sec_per_bit is not None else 1


def _evaluate_bb84_finite(spec: LinkSpec) -> KeyRateResult:
    t, shape = _flat_transmittance(spec)
    fk = spec.finite_key
    assert fk is not None and fk.block_size is not None
    n = t.size
    space = _space(spec, optimise_px=True)
    block = fk.block_size
    eps = np.full(n, fk.epsilon_sec if fk.epsilon_sec_per_bit is None else 1e-10)
    for _ in range(_secrecy_rounds(spec)):

        def objective(
            u: FloatArray, rows: npt.NDArray[np.intp], eps: FloatArray = eps
        ) -> FloatArray:
            mu, p, p_x = space.decode(u)
            r = bb84.finite_key_block(
                t[rows],
                intensities=mu,
                intensity_probabilities=p,
                basis_probability_x=p_x,
                block_size=block,
                **_finite_kw(spec, eps[rows]),
            )
            ell = r.secret_bits_raw
            # Per pulse where a key exists; per block (a steeper, fixed scale) where it does
            # not, so that the optimiser climbs towards a positive key instead of stalling.
            return -np.where(ell >= 0, ell / r.pulses, ell / block * 1e-3)

        mu, p, p_x = _optimise(objective, space, n)
        res = bb84.finite_key_block(
            t,
            intensities=mu,
            intensity_probabilities=p,
            basis_probability_x=p_x,
            block_size=block,
            **_finite_kw(spec, eps),
        )
        if fk.epsilon_sec_per_bit is not None:
            eps = np.clip(fk.epsilon_sec_per_bit * np.maximum(res.secret_bits, 1.0), 1e-300, 0.5)
    bits_per_pulse = res.secret_bits / res.pulses
    rate = bits_per_pulse * spec.repetition_rate_hz
    block_s = res.pulses / spec.repetition_rate_hz
    params = _params(mu, p, p_x, space.names)
    params["epsilon_sec"] = eps
    return KeyRateResult(
        protocol=spec.protocol,
        secret_key_rate_bps=rate.reshape(shape),
        secret_bits_per_pulse=bits_per_pulse.reshape(shape),
        sifted_rate_bps=(res.sifted_bits / block_s).reshape(shape),
        qber=res.qber.reshape(shape),
        secret_bits=res.secret_bits.reshape(shape),
        secret_bits_period_s=block_s.reshape(shape),
        parameters={k: _reshape(v, shape) for k, v in params.items()},
        details={
            "pulses": res.pulses.reshape(shape),
            "phase_error": res.bounds.phase_error.reshape(shape),
            "single_photon_bits": res.bounds.s_x1.reshape(shape),
            "vacuum_bits": res.bounds.s_x0.reshape(shape),
        },
        **_common(spec, t, shape),
    )


def _evaluate_bb84_pass(spec: LinkSpec) -> KeyRateResult:
    channel = spec.channel
    assert isinstance(channel, SlottedChannel)
    t = channel.transmittance
    pulses_per_slot = spec.repetition_rate_hz * channel.slot_s
    duration = channel.duration_s
    loss = channel.loss_db
    common: dict[str, Any] = {
        "loss_db": np.asarray(float(np.min(loss))),
        "plob_bound_bps": np.asarray(float(np.sum(plob_bound(t)) * pulses_per_slot / duration)),
    }
    if spec.finite_key is None:
        spec_flat = dataclasses.replace(spec, channel=FixedLossChannel(loss_db=np.asarray(loss)))
        r = _evaluate_bb84_asymptotic(spec_flat)
        bits = float(np.sum(r.secret_bits_per_pulse) * pulses_per_slot)
        sifted = float(np.sum(r.sifted_rate_bps) * channel.slot_s)
        qber = float(np.sum(r.qber * r.sifted_rate_bps) / max(np.sum(r.sifted_rate_bps), 1e-300))
        return KeyRateResult(
            protocol=spec.protocol,
            secret_key_rate_bps=np.asarray(bits / duration),
            secret_bits_per_pulse=np.asarray(bits / (pulses_per_slot * t.size)),
            sifted_rate_bps=np.asarray(sifted / duration),
            qber=np.asarray(qber),
            secret_bits=np.asarray(bits),
            secret_bits_period_s=np.asarray(duration),
            parameters={
                k: (v if isinstance(v, list) else np.asarray(v)[0]) for k, v in r.parameters.items()
            },
            details={"duration_s": np.asarray(duration), "sifted_bits": np.asarray(sifted)},
            **common,
        )
    fk = spec.finite_key
    space = _space(spec, optimise_px=True)
    t_sorted = np.sort(t)[::-1]
    eps = np.full(1, fk.epsilon_sec if fk.epsilon_sec_per_bit is None else 1e-10)
    window = channel.optimise_window
    for _ in range(_secrecy_rounds(spec)):

        def objective(
            u: FloatArray, rows: npt.NDArray[np.intp], eps: FloatArray = eps
        ) -> FloatArray:
            mu, p, p_x = space.decode(u)
            return -bb84.pass_key_length_raw(
                t_sorted,
                pulses_per_slot=pulses_per_slot,
                intensities=mu,
                intensity_probabilities=p,
                basis_probability_x=p_x,
                optimise_window=window,
                **_finite_kw(spec, float(eps[0])),
            )

        mu, p, p_x = _optimise(objective, space, 1)
        res = bb84.finite_key_pass(
            t,
            pulses_per_slot=pulses_per_slot,
            intensities=mu,
            intensity_probabilities=p,
            basis_probability_x=p_x,
            optimise_window=window,
            **_finite_kw(spec, float(eps[0])),
        )
        if fk.epsilon_sec_per_bit is not None:
            eps = np.clip(fk.epsilon_sec_per_bit * np.maximum(res.secret_bits, 1.0), 1e-300, 0.5)
    bits = float(res.secret_bits[0])
    params = _params(mu[0], p[0], p_x[0], space.names)
    params["epsilon_sec"] = np.asarray(float(eps[0]))
    window_slots = float(res.window_slots[0]) if res.window_slots is not None else t.size
    return KeyRateResult(
        protocol=spec.protocol,
        secret_key_rate_bps=np.asarray(bits / duration),
        secret_bits_per_pulse=np.asarray(bits / (pulses_per_slot * t.size)),
        sifted_rate_bps=np.asarray(float(res.sifted_bits[0]) / duration),
        qber=np.asarray(float(res.qber[0])),
        secret_bits=np.asarray(bits),
        secret_bits_period_s=np.asarray(duration),
        parameters=params,
        details={
            "duration_s": np.asarray(duration),
            "window_slots": np.asarray(window_slots),
            "window_s": np.asarray(window_slots * channel.slot_s),
            "sifted_bits": np.asarray(float(res.sifted_bits[0])),
            "detections": np.asarray(float(res.sifted_bits[0]) / _sifting_fraction(float(p_x[0]))),
            "phase_error": np.asarray(float(res.bounds.phase_error[0])),
        },
        **common,
    )


def _sifting_fraction(p_x: float) -> float:
    return p_x**2 + (1.0 - p_x) ** 2


def max_reach_km(spec: LinkSpec, *, min_rate_bps: float = 0.0, upper_km: float = 1000.0) -> float:
    """Longest fibre length (km) at which the link still gives more than ``min_rate_bps``.

    Bisection on ``channel.length_km`` of a fibre SPEC, to 0.1 km.
    """
    ch = spec.channel
    if not isinstance(ch, FibreChannel):
        raise ConfigurationError(
            "channel: max_reach_km needs a fibre channel (length_km)", field="channel"
        )

    def rate(length_km: FloatArray) -> FloatArray:
        s = dataclasses.replace(spec, channel=dataclasses.replace(ch, length_km=length_km))
        return np.asarray(evaluate_link(s).secret_key_rate_bps)

    grid = np.linspace(0.0, upper_km, 41)
    ok = rate(grid) > min_rate_bps
    if not ok[0]:
        return 0.0
    if ok[-1]:
        return upper_km
    last = int(np.flatnonzero(ok)[-1])
    lo, hi = float(grid[last]), float(grid[last + 1])
    while hi - lo > 0.1:
        mids = np.linspace(lo, hi, 9)[1:-1]
        ok = rate(mids) > min_rate_bps
        idx = np.flatnonzero(ok)
        if idx.size:
            lo = float(mids[idx[-1]])
            hi = float(mids[idx[-1] + 1]) if idx[-1] + 1 < mids.size else hi
        else:
            hi = float(mids[0])
    return lo
