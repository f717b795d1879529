"""Tolerances for float32 results, which differ across CPUs, thread counts and oneDNN settings.

Two float32 computations of the same quantity (other batch sizes, kernels, reduction orders)
agree to a few ulps *of the largest terms they accumulate*, not of each result: an entry near
zero can carry the rounding error of its large neighbours. So the absolute tolerance scales
with the magnitude of the values compared, and the relative one covers the rest.
"""

import numpy as np


def assert_close(actual, desired, rel: float = 1e-5, scale: float | None = None) -> None:
    """``|actual - desired| <= rel * (|desired| + scale)``, ``scale`` defaulting to max |desired|.

    Parameters
    ----------
    actual, desired
        Arrays (or scalars) of the same shape.
    rel
        Tolerance relative to the values' magnitude: about ``sqrt(n) * 6e-8`` for ``n``
        accumulated float32 terms, times the method's amplification (e.g. a variance estimated
        from differences of nearly equal numbers).
    scale
        The magnitude the error scales with, when it is not the values' own (e.g. the logits a
        difference of logits was computed from).
    """
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    if scale is None:
        scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rel, atol=rel * scale)
