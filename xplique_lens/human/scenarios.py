"""A dry-run scenario on the built-in dataset where the model errs: cue-conflict images.

The reference CNN is (almost) never wrong on the built-in images, so the paper's balance of
correct and incorrect decisions cannot be drawn from them. Cue-conflict images put the object
of one class next to the pattern of another (the object's class is the label): the model
follows one cue or the other, so its decisions are "correct" (it followed the object) or
"incorrect" (it followed the pattern, or something else), and an explanation can show which
part it used: the bias-detection scenario of Colin, Fel et al. (2022) in miniature.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..commons.validation import check_positive_int
from ..datasets import make_synthetic_dataset


@dataclass(frozen=True)
class CueConflictDataset:
    """Images with the object of class ``labels`` and the pattern of class ``pattern_labels``.

    Attributes
    ----------
    images
        ``(N, H, W, 3)`` float32 in ``[0, 1]``.
    labels
        ``(N,)`` class of the object (the label).
    pattern_labels
        ``(N,)`` class of the pattern (always another class).
    class_names
        Name of each class.
    part_masks
        ``"object"`` and ``"pattern"`` -> ``(N, H, W)`` bool masks.
    """

    images: np.ndarray
    labels: np.ndarray
    pattern_labels: np.ndarray
    class_names: tuple[str, ...]
    part_masks: dict[str, np.ndarray] = field(repr=False)

    @property
    def masks(self) -> np.ndarray:
        """Union of the two parts ``(N, H, W)`` bool."""
        return self.part_masks["object"] | self.part_masks["pattern"]

    @property
    def conflicting(self) -> np.ndarray:
        """``(N,)`` bool: whether the object and the pattern belong to different classes."""
        return self.labels != self.pattern_labels

    def decisive_masks(self, decisions: np.ndarray) -> np.ndarray:
        """The parts a decision followed ``(N, H, W)`` bool: the object when the decision is
        the object's class, the pattern when it is the pattern's (both on an image without
        conflict), both parts when it is neither (the cause is unknown)."""
        decisions = np.asarray(decisions)
        follows_object = (decisions == self.labels)[:, None, None]
        follows_pattern = (decisions == self.pattern_labels)[:, None, None]
        followed = (follows_object & self.part_masks["object"]) | (
            follows_pattern & self.part_masks["pattern"]
        )
        return np.where(follows_object | follows_pattern, followed, self.masks)

    def __len__(self) -> int:
        return len(self.labels)


def make_cue_conflict_dataset(
    n_per_class: int = 20, image_size: int = 64, seed: int = 0, conflict_fraction: float = 1.0
) -> CueConflictDataset:
    """Cue-conflict images from the built-in dataset, deterministically from ``seed``.

    An image of ``make_synthetic_dataset(n_per_class, image_size, seed)`` chosen for a
    conflict keeps its pattern; its object is painted over with the mean colour of the
    background around it, and the object of an image of another class is pasted at that
    image's object position (a donor whose object, grown by 2 pixels, does not touch the
    pattern). The other images are kept as they are (``pattern_labels == labels``).

    Parameters
    ----------
    n_per_class
        Images per pattern class.
    image_size
        Height and width (>= 32).
    seed
        Seed of the base images, of the conflicts and of the donors.
    conflict_fraction
        Share of the images turned into conflicts, in ``[0, 1]`` (drawn at random).
    """
    n_per_class = check_positive_int(n_per_class, "n_per_class")
    if isinstance(conflict_fraction, bool) or not isinstance(conflict_fraction, int | float):
        raise TypeError(
            f"`conflict_fraction` must be a number in [0, 1], got {conflict_fraction!r}."
        )
    if not 0 <= conflict_fraction <= 1:
        raise ValueError(f"`conflict_fraction` must lie in [0, 1], got {conflict_fraction}.")
    base = make_synthetic_dataset(n_per_class, image_size=image_size, seed=seed)
    rng = np.random.default_rng([seed, 1])
    objects, patterns = base.part_masks["object"], base.part_masks["pattern"]
    grown = np.stack([ndimage.binary_dilation(m, iterations=2) for m in objects])
    images, labels, pattern_labels, object_masks, pattern_masks = [], [], [], [], []
    conflicts = rng.random(len(base)) < conflict_fraction
    for j in range(len(base)):
        if not conflicts[j]:
            images.append(base.images[j])
            labels.append(base.labels[j])
            pattern_labels.append(base.labels[j])
            object_masks.append(objects[j])
            pattern_masks.append(patterns[j])
            continue
        donors = [
            i
            for i in rng.permutation(len(base))
            if base.labels[i] != base.labels[j] and not (grown[i] & patterns[j]).any()
        ]
        if not donors:
            continue
        i = donors[0]
        image = base.images[j].copy()
        ring = ndimage.binary_dilation(objects[j], iterations=3) & ~objects[j] & ~patterns[j]
        image[objects[j]] = image[ring].mean(axis=0) if ring.any() else image.mean(axis=(0, 1))
        image[objects[i]] = base.images[i][objects[i]]
        images.append(image)
        labels.append(base.labels[i])
        pattern_labels.append(base.labels[j])
        object_masks.append(objects[i])
        pattern_masks.append(patterns[j] & ~objects[i])
    return CueConflictDataset(
        images=np.stack(images).astype(np.float32),
        labels=np.array(labels, np.int64),
        pattern_labels=np.array(pattern_labels, np.int64),
        class_names=base.class_names,
        part_masks={"object": np.stack(object_masks), "pattern": np.stack(pattern_masks)},
    )
