"""Feature visualization (MACO, Fourier), objectives and visualization metrics."""

from .fourier import fourier
from .maco import maco
from .magnitude import (
    default_magnitude,
    magnitude_from_images,
    one_over_f_magnitude,
    resample_magnitude,
)
from .metrics import FID, Plausibility, Transferability, frechet_distance
from .objectives import Objective
from .parametrisations import (
    decorrelate_colors,
    fourier_image,
    fourier_scale,
    maco_image,
    recorrelate_colors,
)

__all__ = [
    "FID",
    "Objective",
    "Plausibility",
    "Transferability",
    "frechet_distance",
    "decorrelate_colors",
    "default_magnitude",
    "fourier",
    "fourier_image",
    "fourier_scale",
    "maco",
    "maco_image",
    "magnitude_from_images",
    "one_over_f_magnitude",
    "recorrelate_colors",
    "resample_magnitude",
]
