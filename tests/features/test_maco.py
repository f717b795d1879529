"""MACO and the Fourier baseline: ground truth on planted units and on the built-in model."""

import keras
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from xplique_lens.datasets.synthetic import CLASS_SPECS
from xplique_lens.features import Objective, fourier, maco, magnitude_from_images

FAST = dict(nb_steps=8, nb_crops=2, box_size=0.9)
TINY = dict(nb_steps=2, nb_crops=2, custom_shape=(24, 24))


def _patch_correlations(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    patches = sliding_window_view(image, kernel.shape).reshape(-1, kernel.size)
    patches = patches - patches.mean(axis=1, keepdims=True)
    flat = (kernel - kernel.mean()).ravel()
    return patches @ flat / (np.linalg.norm(patches, axis=1) * np.linalg.norm(flat) + 1e-8)


def _colour_shares(images: np.ndarray, min_chroma: float = 0.05) -> np.ndarray:
    """``(B, 6)``: share of pixels whose chroma (colour minus grey) is closest to each class's
    object colour, among pixels with chroma norm above ``min_chroma``."""
    colours = np.array([spec[2] for spec in CLASS_SPECS])
    directions = colours - colours.mean(axis=1, keepdims=True)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    chroma = images - images.mean(axis=-1, keepdims=True)
    saturated = np.linalg.norm(chroma, axis=-1) > min_chroma
    closest = np.argmax(chroma @ directions.T, axis=-1)
    return np.stack([((closest == c) & saturated).mean(axis=(1, 2)) for c in range(6)], -1)


def test_planted_filters_are_recovered(planted_model):
    """Two channels, one planted grating each, optimised as one batch on grayscale images: each
    image correlates with its own grating, much more than with the other one or than the start."""
    kernels = planted_model.get_layer("planted").get_weights()[0][:, :, 0, :]
    objective = Objective.channel(planted_model, "planted", [0, 1])
    settings = dict(nb_crops=4, box_size=0.9, custom_shape=None, values_range=(0, 1), seed=0)
    images, _ = maco(objective, nb_steps=32, **settings)
    start, _ = maco(objective, nb_steps=1, **settings)
    assert images.shape == (2, 32, 32, 1)
    for unit in range(2):
        own = _patch_correlations(images[unit, ..., 0], kernels[..., unit])
        other = _patch_correlations(images[unit, ..., 0], kernels[..., 1 - unit])
        initial = _patch_correlations(start[unit, ..., 0], kernels[..., unit])
        assert own.max() > 0.6
        assert np.abs(own).mean() > 2.0 * np.abs(other).mean()
        assert np.abs(own).mean() > 1.5 * np.abs(initial).mean()
        activations = planted_model(images[unit : unit + 1]).numpy()[0]
        assert activations[unit] > 2.0 * activations[1 - unit]


def test_transparency_is_the_receptive_field(planted_model):
    """Whole-image steps (nb_crops=0) on one neuron of a valid 8x8 convolution: the accumulated
    gradient lives exactly in the neuron's 8x8 receptive field."""
    objective = Objective.neuron(planted_model, "planted", (12, 5, 0))
    _, transparency = maco(
        objective,
        nb_steps=6,
        nb_crops=0,
        custom_shape=None,
        values_range=(0, 1),
        seed=1,
    )
    transparency = np.asarray(transparency)[0, ..., 0]
    inside = np.zeros_like(transparency, dtype=bool)
    inside[12:20, 5:13] = True
    assert transparency.shape == (32, 32)
    assert transparency[inside].sum() > 0
    assert transparency[~inside].sum() <= 1e-6 * transparency[inside].sum()


@pytest.mark.slow
def test_class_logit_shows_the_class_colour(reference_model):
    """Each class's visualization shows its class's object colour and raises its own logit more
    than the other visualizations do."""
    objective = Objective.class_logit(reference_model, list(range(6)))
    images, _ = maco(
        objective,
        nb_steps=48,
        nb_crops=8,
        box_size=0.8,
        custom_shape=(64, 64),
        values_range=(0, 1),
        seed=0,
    )
    shares = _colour_shares(images)  # shares[i, c]: pixels of image i with class c's hue
    # the visualization of class c is the one with the most class-c pixels (5 of 6 classes:
    # seeds 0 and 1 give 5/6 for MACO, 2/6 for the Fourier baseline; cyan loses to green's)
    assert np.sum(shares.argmax(axis=0) == np.arange(6)) >= 5
    # red_disk: measured red share 0.26 vs at most 0.04 in the other classes' images
    assert shares[0, 0] > 3 * np.delete(shares[:, 0], 0).max()
    logits = reference_model(images).numpy()
    for c in range(6):
        assert logits[c, c] > np.delete(logits[:, c], c).mean()


def test_shapes_ranges_and_types(reference_model, planted_model):
    image, transparency = maco(
        Objective.class_logit(reference_model, 2),
        custom_shape=(40, 57),
        values_range=(-1, 1),
        seed=0,
        **FAST,
    )
    # one objective: the objectives axis is kept (one rank whatever the number of objectives)
    assert isinstance(image, np.ndarray) and image.shape == (1, 40, 57, 3)
    assert tuple(transparency.shape) == (1, 40, 57, 3)
    assert image.min() >= -1 and image.max() <= 1 and image.std() > 0.01
    assert np.all(np.asarray(transparency) >= 0) and np.isfinite(np.asarray(transparency)).all()
    # custom_shape=None: the model's input size (Xplique crashes there)
    image, _ = maco(Objective.class_logit(reference_model, 0), custom_shape=None, seed=0, **FAST)
    assert image.shape == (1, 64, 64, 3)
    # grayscale, non-square, batch
    images, transparencies = maco(
        Objective.channel(planted_model, "planted", [0, 1]),
        custom_shape=(48, 36),
        values_range=(0, 1),
        seed=0,
        **FAST,
    )
    assert images.shape == (2, 48, 36, 1) and tuple(transparencies.shape) == (2, 48, 36, 1)
    assert 0 <= images.min() and images.max() <= 1


def test_seeds(reference_model):
    objective = Objective.channel(reference_model, "features", [3, 4])
    run = dict(custom_shape=(32, 32), values_range=(0, 1), **FAST)
    first, t_first = maco(objective, seed=7, **run)
    again, t_again = maco(objective, seed=7, **run)
    other, _ = maco(objective, seed=8, **run)
    np.testing.assert_allclose(first, again, atol=1e-5)
    np.testing.assert_allclose(np.asarray(t_first), np.asarray(t_again), rtol=1e-4, atol=1e-6)
    assert np.abs(first - other).mean() > 1e-2


def test_magnitude_options(reference_model, small_data):
    objective = Objective.class_logit(reference_model, 1)
    run = dict(custom_shape=(32, 48), values_range=(0, 1), seed=0, **FAST)
    for magnitude in ("1/f", "natural", magnitude_from_images(small_data.images)):
        image, _ = maco(objective, magnitude=magnitude, **run)
        assert image.shape == (1, 32, 48, 3) and np.isfinite(image).all()
    from_dataset, _ = maco(objective, maco_dataset=small_data.images, **run)
    from_array, _ = maco(objective, magnitude=magnitude_from_images(small_data.images), **run)
    np.testing.assert_allclose(from_dataset, from_array, atol=1e-5)
    custom, _ = maco(objective, optimizer=keras.optimizers.Adam(0.5), **run)
    assert custom.shape == (1, 32, 48, 3)


def test_fourier_baseline_runs_in_batch(reference_model):
    images, transparencies = fourier(
        Objective.class_logit(reference_model, [0, 1, 2]),
        custom_shape=(40, 40),
        values_range=(0, 1),
        seed=0,
        **FAST,
    )
    assert images.shape == (3, 40, 40, 3) and tuple(transparencies.shape) == (3, 40, 40, 3)
    assert 0 <= images.min() and images.max() <= 1
    # regression: successive runs of both methods in one process (tracing caches)
    for method in (maco, fourier, maco, fourier):
        image, _ = method(Objective.class_logit(reference_model, 1), seed=3, **TINY)
        assert image.shape == (1, 24, 24, 3)


def test_errors(reference_model):
    objective = Objective.class_logit(reference_model, 0)
    with pytest.raises(TypeError, match="objective"):
        maco(reference_model)
    with pytest.raises(ValueError, match="nb_steps"):
        maco(objective, nb_steps=0)
    with pytest.raises(ValueError, match="custom_shape"):
        maco(objective, custom_shape=(64,))
    with pytest.raises(ValueError, match="values_range"):
        maco(objective, values_range=(1, 1))
    with pytest.raises(TypeError, match="box_size"):
        maco(objective, box_size="big")
    with pytest.raises(ValueError, match="magnitude"):
        maco(objective, magnitude=np.ones((2, 5, 5)))
    with pytest.raises(ValueError, match="magnitude"):
        maco(objective, magnitude="pink")
    with pytest.raises(TypeError, match="seed"):
        maco(objective, seed=1.5)


def test_runs_of_one_structure_share_one_trace_and_stay_independent():
    """Two objectives of one structure (other targets) reuse the compiled step; the state it
    keeps between runs (phase, optimizer, transparency, targets) is reset: a run gives the
    same images whatever ran before it."""
    from xplique_lens.features.optimisation import _LOOPS

    keras.utils.set_random_seed(0)  # a model of its own: the cache is per model
    inputs = keras.Input((16, 16, 1))
    outputs = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, outputs)
    kwargs = dict(nb_steps=3, nb_crops=2, custom_shape=(16, 16), values_range=(0, 1), seed=4)
    first = maco(Objective.channel(model, "conv", 0), **kwargs)
    other = maco(Objective.channel(model, "conv", 1), **kwargs)
    again = maco(Objective.channel(model, "conv", 0), **kwargs)
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], first[1])
    assert not np.allclose(other[0], first[0])
    (loop,) = _LOOPS[model].values()
    assert loop.step.experimental_get_tracing_count() == 1
    # a given optimizer is the user's: not shared, and its state is not reset by us
    optimizer = keras.optimizers.Adam(0.1)
    maco(Objective.channel(model, "conv", 0), optimizer, **kwargs)
    assert len(_LOOPS[model]) == 1 and int(optimizer.iterations) == 3


def test_squeeze_verbose_and_the_deprecated_progress(reference_model):
    """``squeeze=True`` gives the former (and Xplique's) single-objective shape, the same values;
    ``progress=`` still works as a deprecated alias of ``verbose=``."""
    objective = Objective.class_logit(reference_model, 1)
    run = dict(seed=3, **TINY)
    images, transparencies = maco(objective, **run)
    image, transparency = maco(objective, squeeze=True, **run)
    assert image.shape == (24, 24, 3) and tuple(transparency.shape) == (24, 24, 3)
    np.testing.assert_array_equal(image, images[0])
    np.testing.assert_array_equal(np.asarray(transparency), np.asarray(transparencies[0]))
    with pytest.warns(DeprecationWarning, match="verbose"):
        legacy, _ = maco(objective, progress=False, **run)
    np.testing.assert_array_equal(legacy, images)
    with pytest.warns(DeprecationWarning, match="verbose"):
        fourier(objective, progress=False, **run)
    with pytest.raises(TypeError, match="verbose"):
        maco(objective, verbose=True, progress=True, **run)
    with pytest.raises(TypeError, match="squeeze"):
        maco(objective, squeeze="yes", **run)
