"""Settings of a Lens build, and which stage depends on which setting."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LensOptions:
    """Everything a Lens build computes with (all have defaults sized for the built-in model).

    Parameters
    ----------
    images_per_class
        At most this many images of each class are used (the first ones).
    nb_examples
        Images per class shown with attribution and concept maps.
    nb_concepts
        Number of CRAFT concepts per class.
    patch_size
        Size of CRAFT crops, in input pixels.
    nb_crops_shown
        Top crops shown per concept.
    refine_top
        Number of most important concepts refined into sub-concepts (0: no recursion).
    refine_layer
        Layer of the recursion (``None``: no recursion).
    maco_steps, maco_size, maco_crops
        MACO optimisation steps, image size and random crops per step.
    sobol_grid, sobol_design
        Grid size and design size of the Sobol attribution examples.
    metric_images
        Images per class on which the Deletion / Insertion of the explainers are measured.
    metric_steps
        Steps of the Deletion / Insertion curves.
    values_range
        Range of the model's input values (MACO images are squashed into it).
    seed
        Seed of every random component.
    """

    images_per_class: int = 48
    nb_examples: int = 4
    nb_concepts: int = 6
    patch_size: int = 24
    nb_crops_shown: int = 8
    refine_top: int = 0
    refine_layer: str | None = None
    maco_steps: int = 128
    maco_size: int = 128
    maco_crops: int = 16
    sobol_grid: int = 8
    sobol_design: int = 32
    metric_images: int = 8
    metric_steps: int = 10
    values_range: tuple[float, float] = (0.0, 1.0)
    seed: int = 0

    def subset(self, names: tuple[str, ...]) -> dict:
        """The options named in ``names`` (what a stage's cache key depends on)."""
        values = asdict(self)
        return {name: values[name] for name in names}
