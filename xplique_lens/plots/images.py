"""Images ready for display: the one conversion every plot module shares."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["to_display_image"]


def to_display_image(image: Any) -> np.ndarray:
    """One image rescaled to [0, 1] for ``imshow`` (min-max); a single channel is dropped.

    Parameters
    ----------
    image
        ``(H, W, C)`` or ``(H, W)`` array in any value range; a constant image shows black.

    Returns
    -------
    image
        float32 ``(H, W, C)``, or ``(H, W)`` when ``C == 1``; the input is not modified.
    """
    image = np.asarray(image, dtype=np.float32)
    low, high = float(image.min()), float(image.max())
    image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image[..., 0] if image.shape[-1] == 1 else image
