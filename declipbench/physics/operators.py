"""Linear operators in front of the clipping (``y = eta(A x)``, the toy experiment, Section 5.2.1 of the paper)."""

from __future__ import annotations

import numpy as np


def haar_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """Random orthogonal matrix from the Haar measure (QR of a Gaussian matrix, Mezzadri 2007 sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))[None, :]
