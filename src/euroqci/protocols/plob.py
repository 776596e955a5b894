"""The PLOB repeaterless bound: the secret-key capacity of a pure-loss channel.

Pirandola, Laurenza, Ottaviani, Banchi, Nat. Commun. 8, 15043 (2017), Eq. (19):
``K = -log2(1 - eta)`` bits per channel use. Computed with ``log1p`` so that it is exact to
double precision for transmittances down to 1e-300 (where ``K ~ eta / ln 2``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError

__all__ = ["plob_bound"]


def plob_bound(transmittance: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Secret bits per channel use that no repeaterless protocol can exceed.

    Parameters
    ----------
    transmittance : fraction in [0, 1], scalar or array (a lossless channel, 1, has no
        bound: ``inf``).

    Examples
    --------
    >>> float(plob_bound(0.5))
    1.0
    >>> float(plob_bound(1e-20))  # ~ 1e-20 / ln 2
    1.4426950408889633e-20
    """
    eta = np.asarray(transmittance, dtype=np.float64)
    if np.any(~np.isfinite(eta)) or np.any(eta < 0) or np.any(eta > 1):
        raise ConfigurationError("transmittance: expected a fraction in [0, 1]")
    with np.errstate(divide="ignore"):
        return np.asarray(-np.log1p(-eta) / np.log(2.0))
