"""A deterministic, offline image dataset whose classes are made of known visual parts.

Each image shows, on a cluttered background (a smooth colour field plus grey distractor shapes),
the two parts of its class:

- ``"object"``: a shape of the class's own colour (e.g. a red disk);
- ``"pattern"``: a square patch of the class's own black-and-white texture (e.g. stripes).

Either part alone identifies the class, and the per-image mask of each part is returned, so
explanations can be checked against the pixels that matter and concepts against the parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..commons.validation import check_positive_int

#: (class name, shape of the object, RGB colour of the object, texture of the pattern)
CLASS_SPECS: tuple[tuple[str, str, tuple[float, float, float], str], ...] = (
    ("red_disk", "disk", (0.9, 0.1, 0.1), "hstripes"),
    ("green_square", "square", (0.1, 0.8, 0.2), "vstripes"),
    ("blue_triangle", "triangle", (0.15, 0.25, 0.95), "checker"),
    ("yellow_cross", "cross", (0.95, 0.85, 0.1), "dots"),
    ("magenta_ring", "ring", (0.9, 0.15, 0.85), "diagonal"),
    ("cyan_diamond", "diamond", (0.1, 0.85, 0.9), "grid"),
)
SHAPES = ("disk", "square", "triangle", "cross", "ring", "diamond")
PART_NAMES = ("object", "pattern")


@dataclass(frozen=True)
class SyntheticDataset:
    """Images with labels and the masks of their planted parts.

    Attributes
    ----------
    images
        ``(N, H, W, 3)`` float32 in ``[0, 1]``.
    labels
        ``(N,)`` int64 class indices.
    class_names
        Name of each class.
    part_masks
        Part name (``"object"``, ``"pattern"``) to a ``(N, H, W)`` boolean mask.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    part_masks: dict[str, np.ndarray] = field(repr=False)

    @property
    def masks(self) -> np.ndarray:
        """Union of the part masks, ``(N, H, W)`` bool: the pixels that identify the class."""
        return np.logical_or.reduce([m for m in self.part_masks.values()])

    @property
    def nb_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def one_hot(self) -> np.ndarray:
        """Labels as one-hot ``(N, nb_classes)`` float32."""
        return np.eye(self.nb_classes, dtype=np.float32)[self.labels]

    def __len__(self) -> int:
        return len(self.labels)


def _shape_mask(shape: str, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float):
    dy, dx = yy - cy, xx - cx
    if shape == "disk":
        return dy**2 + dx**2 <= r**2
    if shape == "square":
        return (np.abs(dy) <= 0.8 * r) & (np.abs(dx) <= 0.8 * r)
    if shape == "triangle":
        return (dy <= 0.7 * r) & (dy >= -r + 2.0 * np.abs(dx))
    if shape == "cross":
        bar = 0.3 * r
        return ((np.abs(dy) <= bar) & (np.abs(dx) <= r)) | ((np.abs(dx) <= bar) & (np.abs(dy) <= r))
    if shape == "ring":
        d2 = dy**2 + dx**2
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    if shape == "diamond":
        return np.abs(dy) + np.abs(dx) <= r
    raise ValueError(f"unknown shape {shape!r}")


def _texture(kind: str, yy: np.ndarray, xx: np.ndarray, period: float, phase: float) -> np.ndarray:
    u, v = (yy + phase) / period, (xx + phase) / period
    if kind == "hstripes":
        return (np.floor(u) % 2).astype(np.float32)
    if kind == "vstripes":
        return (np.floor(v) % 2).astype(np.float32)
    if kind == "diagonal":
        return (np.floor((u + v) / np.sqrt(2)) % 2).astype(np.float32)
    if kind == "checker":
        return ((np.floor(u) + np.floor(v)) % 2).astype(np.float32)
    if kind == "dots":
        return (((u % 1) - 0.5) ** 2 + ((v % 1) - 0.5) ** 2 <= 0.09).astype(np.float32)
    if kind == "grid":
        return (((u % 1) < 0.3) | ((v % 1) < 0.3)).astype(np.float32)
    raise ValueError(f"unknown texture {kind!r}")


def _smooth_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A low-saturation smooth colour field: bilinear upsampling of a 4x4 random grid."""
    coarse = rng.uniform(0.25, 0.75, size=(4, 4, 1)) + rng.uniform(-0.08, 0.08, size=(4, 4, 3))
    t = np.linspace(0, 3, size)
    i0 = np.clip(np.floor(t).astype(int), 0, 2)
    w = (t - i0)[:, None]
    rows = coarse[i0] * (1 - w[..., None]) + coarse[i0 + 1] * w[..., None]
    cols = rows[:, i0] * (1 - w.T[..., None]) + rows[:, i0 + 1] * w.T[..., None]
    return cols.astype(np.float32)


def _place(rng, size, half, taken, tries=50):
    """Random centre whose box (half-width ``half``) avoids the boxes in ``taken``."""
    for _ in range(tries):
        cy, cx = rng.uniform(half + 1, size - half - 1, size=2)
        if all(abs(cy - y) > half + h + 1 or abs(cx - x) > half + h + 1 for y, x, h in taken):
            taken.append((cy, cx, half))
            return cy, cx
    taken.append((cy, cx, half))
    return cy, cx


def _render(rng: np.random.Generator, label: int, size: int):
    _, shape, colour, texture = CLASS_SPECS[label]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    image = _smooth_background(rng, size)
    scale = size / 64.0
    taken: list = []

    r_obj = rng.uniform(7.0, 10.0) * scale
    half_pat = rng.uniform(7.0, 9.0) * scale
    cy_o, cx_o = _place(rng, size, r_obj, taken)
    cy_p, cx_p = _place(rng, size, half_pat, taken)

    for _ in range(rng.integers(2, 5)):  # grey distractors: shape without the class colour
        r = rng.uniform(4.0, 7.0) * scale
        cy, cx = _place(rng, size, r, taken)
        grey = rng.uniform(0.2, 0.8)
        mask = _shape_mask(SHAPES[rng.integers(len(SHAPES))], yy, xx, cy, cx, r)
        image[mask] = grey + rng.uniform(-0.03, 0.03, size=3)

    obj = _shape_mask(shape, yy, xx, cy_o, cx_o, r_obj)
    image[obj] = np.clip(np.asarray(colour) + rng.uniform(-0.08, 0.08, size=3), 0, 1)

    pat = (np.abs(yy - cy_p) <= half_pat) & (np.abs(xx - cx_p) <= half_pat)
    period = rng.uniform(3.0, 4.0) * scale
    tex = _texture(texture, yy, xx, period, rng.uniform(0, period))
    dark, light = rng.uniform(0.0, 0.15), rng.uniform(0.85, 1.0)
    image[pat] = (dark + (light - dark) * tex[pat])[:, None]

    image += rng.normal(0.0, 0.02, size=image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0), obj, pat


def make_synthetic_dataset(
    n_per_class: int = 100, image_size: int = 64, seed: int = 0
) -> SyntheticDataset:
    """Generate the built-in dataset, deterministically from ``seed``.

    Parameters
    ----------
    n_per_class
        Number of images of each class.
    image_size
        Height and width of the images (>= 32).
    seed
        Seed of the generator: the same seed gives the same images, labels and masks.

    Returns
    -------
    SyntheticDataset
        Classes interleaved (labels ``0, 1, ..., C-1, 0, 1, ...``).
    """
    n_per_class = check_positive_int(n_per_class, "n_per_class")
    image_size = check_positive_int(image_size, "image_size", minimum=32)
    rng = np.random.default_rng(seed)
    nb_classes = len(CLASS_SPECS)
    labels = np.tile(np.arange(nb_classes, dtype=np.int64), n_per_class)
    images = np.empty((len(labels), image_size, image_size, 3), np.float32)
    objects = np.empty((len(labels), image_size, image_size), bool)
    patterns = np.empty_like(objects)
    for i, label in enumerate(labels):
        images[i], objects[i], patterns[i] = _render(rng, int(label), image_size)
    return SyntheticDataset(
        images=images,
        labels=labels,
        class_names=tuple(spec[0] for spec in CLASS_SPECS),
        part_masks={"object": objects, "pattern": patterns},
    )
