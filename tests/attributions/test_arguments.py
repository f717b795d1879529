"""One vocabulary across the explainers: constructor validation, ``seed``, ``verbose``, samplers."""

import inspect

import numpy as np
import pytest
import tensorflow as tf

import xplique_lens.attributions as attributions
from xplique_lens.attributions import (
    FEM,
    GradCAM,
    GradientInput,
    GridSegmentation,
    HsicAttributionMethod,
    IntegratedGradients,
    KernelShap,
    Lime,
    Occlusion,
    Rise,
    Saliency,
    SlicSegmentation,
    SmoothGrad,
    SobolAttributionMethod,
    VarGrad,
)
from xplique_lens.attributions.sobol import (
    SAMPLERS,
    HaltonSampler,
    LatinHypercubeSampler,
    SobolSampler,
    UnscrambledHaltonSampler,
    get_sampler,
    sobol_explain,
    upsample_masks,
    upsample_tile,
)
from xplique_lens.commons.validation import check_real, check_seed, resolve_seed


@pytest.fixture
def batch():
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    return x, np.array([0, 1])


# ------------------------------------------------------------------ constructor validation
BAD_SETTINGS = [
    (SobolAttributionMethod, {"grid_size": 1}, ValueError, "grid_size"),
    (SobolAttributionMethod, {"nb_design": 12}, ValueError, "nb_design"),
    (SobolAttributionMethod, {"sampler": "nope"}, ValueError, "sampler"),
    (SobolAttributionMethod, {"sampler": 3}, TypeError, "sampler"),
    (SobolAttributionMethod, {"estimator": "nope"}, ValueError, "estimator"),
    (SobolAttributionMethod, {"perturbation_function": "nope"}, ValueError, "perturbation"),
    (SobolAttributionMethod, {"batch_size": 0}, ValueError, "batch_size"),
    (SobolAttributionMethod, {"seed": 1.5}, TypeError, "seed"),
    (SobolAttributionMethod, {"nb_channels": 0}, ValueError, "nb_channels"),
    (HsicAttributionMethod, {"grid_size": 1}, ValueError, "grid_size"),
    (HsicAttributionMethod, {"sampler": "nope"}, ValueError, "sampler"),
    (HsicAttributionMethod, {"perturbation_function": "nope"}, ValueError, "perturbation"),
    (HsicAttributionMethod, {"estimator_batch_size": 0}, ValueError, "estimator_batch_size"),
    (HsicAttributionMethod, {"seed": "0"}, TypeError, "seed"),
    (Rise, {"nb_samples": 0}, ValueError, "nb_samples"),
    (Rise, {"grid_size": (2, 0)}, ValueError, "grid_size"),
    (Rise, {"preservation_probability": 0.0}, ValueError, "preservation_probability"),
    (Rise, {"preservation_probability": "half"}, TypeError, "preservation_probability"),
    (Rise, {"mask_value": None}, TypeError, "mask_value"),
    (Rise, {"seed": 2.0}, TypeError, "seed"),
    (Occlusion, {"patch_size": 0}, ValueError, "patch_size"),
    (Occlusion, {"patch_stride": (1, 2, 3)}, ValueError, "patch_stride"),
    (Occlusion, {"occlusion_value": "black"}, TypeError, "occlusion_value"),
    (Occlusion, {"batch_size": -1}, ValueError, "batch_size"),
    (SmoothGrad, {"nb_samples": 0}, ValueError, "nb_samples"),
    (SmoothGrad, {"noise": -0.1}, ValueError, "noise"),
    (SmoothGrad, {"noise": float("nan")}, ValueError, "noise"),
    (SmoothGrad, {"reducer": "median"}, ValueError, "reducer"),
    (SmoothGrad, {"seed": 0.5}, TypeError, "seed"),
    (VarGrad, {"nb_samples": 1}, ValueError, "nb_samples"),
    (IntegratedGradients, {"steps": 1}, ValueError, "steps"),
    (IntegratedGradients, {"baseline_value": "zero"}, TypeError, "baseline_value"),
    (Saliency, {"batch_size": 0}, ValueError, "batch_size"),
    (GradientInput, {"reducer": "nope"}, ValueError, "reducer"),
    (Lime, {"kernel_width": float("inf")}, ValueError, "kernel_width"),
    (Lime, {"prob": "half"}, TypeError, "prob"),
    (Lime, {"similarity_kernel": 3}, TypeError, "similarity_kernel"),
    (Lime, {"pertub_func": "x"}, TypeError, "pertub_func"),
    (Lime, {"map_to_interpret_space": 1}, TypeError, "map_to_interpret_space"),
    (Lime, {"ref_value": "grey"}, TypeError, "ref_value"),
    (Lime, {"ref_value": [0.5, np.nan, 0.5]}, ValueError, "ref_value"),
    (Lime, {"seed": "1"}, TypeError, "seed"),
    (KernelShap, {"nb_samples": 0}, ValueError, "nb_samples"),
    (KernelShap, {"seed": 1.0}, TypeError, "seed"),
    (FEM, {"k": "two"}, TypeError, "k"),
    (FEM, {"batch_size": 0}, ValueError, "batch_size"),
    (GradCAM, {"batch_size": 0}, ValueError, "batch_size"),
]


@pytest.mark.parametrize("cls, kwargs, error, match", BAD_SETTINGS)
def test_constructors_validate_every_argument(tiny_functional_model, cls, kwargs, error, match):
    """Bad settings raise at construction (never at the first explanation), naming the
    argument."""
    with pytest.raises(error, match=match):
        cls(tiny_functional_model, **kwargs)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: GridSegmentation(0), ValueError, "grid_size"),
        (lambda: SlicSegmentation(compactness="x"), TypeError, "compactness"),
        (lambda: SlicSegmentation(iterations=0), ValueError, "iterations"),
        (lambda: HaltonSampler(scramble="no"), TypeError, "scramble"),
        (lambda: SobolSampler(seed=1.5), TypeError, "seed"),
        (lambda: LatinHypercubeSampler(seed="1"), TypeError, "seed"),
        (lambda: get_sampler("halton", seed=0.5), TypeError, "seed"),
    ],
)
def test_helpers_validate_their_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_argument_helpers():
    assert check_seed(None) is None and check_seed(np.int64(3)) == 3
    assert resolve_seed(5) == 5 and isinstance(resolve_seed(None), int)
    assert check_real(np.float32(0.5), "x", 0.0, 1.0) == 0.5
    with pytest.raises(ValueError, match="`x` must be > 0"):
        check_real(0, "x", 0.0, strict=True)
    with pytest.raises(ValueError, match="`x` must be <= 1"):
        check_real(2, "x", maximum=1.0)
    with pytest.raises(TypeError, match="`x`"):
        check_real(True, "x")


def test_settings_are_not_aliased(tiny_functional_model):
    ref = np.array([0.1, 0.2, 0.3], np.float32)
    explainer = Lime(tiny_functional_model, ref_value=ref)
    ref[0] = 9.0
    assert explainer.ref_value[0] == pytest.approx(0.1)


# ------------------------------------------------------------------ seed: one meaning
SEEDED = [
    lambda m, seed: Lime(m, nb_samples=16, seed=seed),
    lambda m, seed: KernelShap(m, nb_samples=16, seed=seed),
    lambda m, seed: Rise(m, nb_samples=16, grid_size=3, seed=seed),
    lambda m, seed: SmoothGrad(m, nb_samples=2, seed=seed),
    lambda m, seed: SobolAttributionMethod(
        m, grid_size=2, nb_design=8, sampler="scrambled_sobol", seed=seed
    ),
    lambda m, seed: HsicAttributionMethod(
        m, grid_size=2, nb_design=8, sampler="latin_hypercube", seed=seed
    ),
]


@pytest.mark.parametrize("make", SEEDED)
def test_seed_default_is_zero_and_none_is_fresh(tiny_functional_model, batch, make):
    """The default ``seed=0`` is reproducible (same outputs as ``seed=0``); ``None`` draws fresh
    randomness (numpy / scikit-learn meaning)."""
    x, y = batch
    params = inspect.signature(type(make(tiny_functional_model, 0)).__init__).parameters
    assert params["seed"].default == 0
    zero = make(tiny_functional_model, 0)(x, y).numpy()
    np.testing.assert_array_equal(make(tiny_functional_model, 0)(x, y).numpy(), zero)
    fresh = [make(tiny_functional_model, None)(x, y).numpy() for _ in range(2)]
    assert not np.array_equal(fresh[0], fresh[1])


def test_sobol_explain_seed(batch):
    codes = tf.constant(batch[0][:, 0, :3, 0])

    def score(u, _):
        return tf.reduce_sum(u * [1.0, 2.0, 3.0], -1)

    def run(**kwargs):
        return sobol_explain(score, codes, nb_design=8, sampler="scrambled_sobol", **kwargs)

    np.testing.assert_array_equal(run().numpy(), run(seed=0).numpy())
    assert not np.array_equal(run(seed=None).numpy(), run(seed=None).numpy())


# ------------------------------------------------------------------ samplers: one meaning per name
def test_each_sampler_name_has_one_meaning():
    assert set(SAMPLERS) == {
        "sobol",
        "scrambled_sobol",
        "halton",
        "halton_unscrambled",
        "latin_hypercube",
    }
    assert get_sampler("halton").scramble is True
    assert get_sampler("halton_unscrambled").scramble is False
    assert isinstance(get_sampler("halton_unscrambled"), UnscrambledHaltonSampler)
    plain = get_sampler("halton_unscrambled").points(3, 8).numpy()
    np.testing.assert_array_equal(plain, HaltonSampler(scramble=False).points(3, 8).numpy())
    np.testing.assert_allclose(plain[0], [0.5, 1 / 3, 0.2], rtol=1e-6)  # index 1 of the sequence
    # deterministic names ignore the seed; randomised ones honour it, None is fresh
    for name in ("sobol", "halton_unscrambled"):
        np.testing.assert_array_equal(
            get_sampler(name, seed=None).points(3, 8), get_sampler(name, seed=5).points(3, 8)
        )
    for name in ("scrambled_sobol", "halton", "latin_hypercube"):
        a, b = (get_sampler(name).points(3, 8).numpy() for _ in range(2))
        np.testing.assert_array_equal(a, b)
        a, b = (get_sampler(name, seed=None).points(3, 8).numpy() for _ in range(2))
        assert not np.array_equal(a, b)


def test_upsample_tile_is_public_and_matches_the_resize():
    masks = tf.constant(np.random.default_rng(0).random((2, 4, 4, 1)), tf.float32)
    tiles = upsample_tile(masks, (16, 16), 3)
    assert tiles.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(tiles[..., :1], upsample_masks(masks, (16, 16)))


# ------------------------------------------------------------------ verbose: same position
def test_every_explainer_takes_verbose_third(tiny_functional_model, batch):
    """``explain(inputs, targets=None, verbose=False)`` for every explainer (and ``__call__``
    passes ``verbose`` on)."""
    for name in attributions.__all__:
        cls = getattr(attributions, name)
        if not (inspect.isclass(cls) and issubclass(cls, attributions.Explainer)):
            continue
        params = list(inspect.signature(cls.explain).parameters.items())
        assert [p for p, _ in params[:4]] == ["self", "inputs", "targets", "verbose"], name
        assert params[3][1].default is False, name
    x, y = batch
    explainer = Saliency(tiny_functional_model)
    np.testing.assert_array_equal(explainer(x, y, verbose=True), explainer.explain(x, y))
    lime = Lime(tiny_functional_model, nb_samples=8, map_to_interpret_space=GridSegmentation(2))
    np.testing.assert_array_equal(lime(x, y, verbose=True), lime(x, y))
