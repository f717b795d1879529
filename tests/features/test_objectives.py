"""Objectives: values, algebra (exact, no mutation), batch structure, errors."""

import keras
import numpy as np
import pytest

from xplique_lens.features import Objective

from ..numerics import assert_close


@pytest.fixture(scope="module")
def inputs(small_data):
    return small_data.images[:5]


def test_neuron_and_class_logit_are_the_logits(reference_model, inputs):
    logits = reference_model(inputs).numpy()
    values = Objective.neuron(reference_model, "logits", [0, 3]).evaluate(inputs)
    assert_close(values, logits[:, [0, 3]].T, rel=1e-5)
    shortcut = Objective.class_logit(reference_model, [0, 3]).evaluate(inputs)
    assert_close(shortcut, values, rel=1e-5)


def test_channel_is_the_spatial_mean(reference_model, inputs):
    features = keras.Model(reference_model.inputs, reference_model.get_layer("features").output)
    acts = features(inputs).numpy()
    values = Objective.channel(reference_model, "features", [1, 7]).evaluate(inputs)
    assert_close(values, acts[..., [1, 7]].mean(axis=(1, 2)).T, rel=1e-4)
    layer = Objective.layer(reference_model, "features", reducer="mean").evaluate(inputs)
    assert_close(layer[0], acts.mean(axis=(1, 2, 3)), rel=1e-4)
    magnitude = Objective.layer(reference_model, "features").evaluate(inputs)
    assert_close(magnitude[0], (acts**2).mean(axis=(1, 2, 3)), rel=1e-4)


def test_direction_formula(reference_model, inputs, rng):
    features = keras.Model(reference_model.inputs, reference_model.get_layer("features").output)
    acts = features(inputs).numpy()
    vector = rng.normal(size=64).astype(np.float32)
    dot = acts @ vector
    cos = dot / (np.linalg.norm(acts, axis=-1) * np.linalg.norm(vector) + 1e-8)
    expected = (dot * np.maximum(cos, 0.1) ** 2).mean(axis=(1, 2))
    values = Objective.direction(reference_model, "features", vector).evaluate(inputs)
    assert_close(values[0], expected, rel=1e-3)
    # a vector over the whole layer is applied to the flattened layer
    full = rng.normal(size=acts.shape[1:]).astype(np.float32)
    flat_a, flat_v = acts.reshape(len(acts), -1), full.reshape(-1)
    dot = flat_a @ flat_v
    cos = dot / (np.linalg.norm(flat_a, axis=1) * np.linalg.norm(flat_v))
    values = Objective.direction(reference_model, "features", [full], cossim_pow=1.0)
    np.testing.assert_allclose(
        values.evaluate(inputs)[0], dot * np.maximum(cos, 0.1), rtol=1e-3, atol=1e-3
    )


def test_algebra_is_exact_and_does_not_mutate(reference_model, inputs):
    a = Objective.neuron(reference_model, "logits", 0)
    b = Objective.channel(reference_model, "features", 5)
    va, vb = a.evaluate(inputs)[0], b.evaluate(inputs)[0]
    assert_close((a + 3 * b).evaluate(inputs)[0], va + 3 * vb, rel=1e-5)
    assert_close((a - b).evaluate(inputs)[0], va - vb, rel=1e-5)
    assert_close((2.5 * a).evaluate(inputs)[0], 2.5 * va, rel=1e-5)
    assert_close((a * 2).evaluate(inputs)[0], 2 * va, rel=1e-5)
    assert_close((-a).evaluate(inputs)[0], -va, rel=1e-5)
    assert_close((a / 4).evaluate(inputs)[0], va / 4, rel=1e-5)
    np.testing.assert_allclose(((a + b) - (a + b)).evaluate(inputs)[0], 0.0, atol=1e-4)
    # operands unchanged
    assert_close(a.evaluate(inputs)[0], va, rel=1e-5)
    assert_close(b.evaluate(inputs)[0], vb, rel=1e-5)


def test_xplique_multiplies_its_running_total(reference_model, inputs):
    """Documents the Xplique bug our algebra fixes: there ``a + 3 * b`` is ``3 * (a + b)``."""
    xfv = pytest.importorskip("xplique.features_visualizations")
    try:
        xa = xfv.Objective.neuron(reference_model, "logits", 0)
        xb = xfv.Objective.neuron(reference_model, "logits", 1)
        model, fn, _, _ = (xa + 3 * xb).compile()
        outputs = model(inputs)
    except Exception as error:  # Xplique 2.0.2 may not run on this Keras
        pytest.skip(f"Xplique objective does not run here: {error}")
    outputs = outputs if isinstance(outputs, list) else [outputs]
    logits = reference_model(inputs).numpy()
    xplique_values = np.asarray(fn(outputs)).reshape(-1)
    # Xplique averages a one-hot mask over the 6 logits: value / 6
    assert_close(xplique_values * 6, 3 * (logits[:, 0] + logits[:, 1]), rel=1e-4)
    ours = Objective.neuron(reference_model, "logits", 0) + 3 * Objective.neuron(
        reference_model, "logits", 1
    )
    assert_close(ours.evaluate(inputs)[0], logits[:, 0] + 3 * logits[:, 1], rel=1e-4)


def test_batch_is_the_cartesian_product(reference_model, inputs):
    a = Objective.channel(reference_model, "features", [0, 1])
    b = Objective.neuron(reference_model, "logits", [2, 3, 4])
    both = a + 0.5 * b
    assert both.nb_objectives == 6
    assert both.names[0] == "Channel#features_0 & Neuron#logits_2"
    assert both.names[-1] == "Channel#features_1 & Neuron#logits_4"
    va, vb = a.evaluate(inputs), b.evaluate(inputs)
    expected = np.stack([va[i] + 0.5 * vb[j] for i in range(2) for j in range(3)])
    assert_close(both.evaluate(inputs), expected, rel=1e-4)


def test_errors(reference_model, tiny_functional_model):
    with pytest.raises(ValueError, match="layer"):
        Objective.neuron(reference_model, "nope", 0)
    with pytest.raises(ValueError, match="neurons_ids"):
        Objective.neuron(reference_model, "logits", 6)
    with pytest.raises(ValueError, match="channel_ids"):
        Objective.channel(reference_model, "features", 64)
    with pytest.raises(TypeError, match="channel_ids"):
        Objective.channel(reference_model, "features", "0")
    with pytest.raises(ValueError, match="reducer"):
        Objective.layer(reference_model, "features", reducer="max")
    with pytest.raises(ValueError, match="vectors"):
        Objective.direction(reference_model, "features", np.ones(3))
    with pytest.raises(ValueError, match="names"):
        Objective.neuron(reference_model, "logits", [0, 1], names=["only one"])
    a = Objective.neuron(reference_model, "logits", 0)
    with pytest.raises(ValueError, match="different models"):
        a + Objective.neuron(tiny_functional_model, "logits", 0)
    with pytest.raises(TypeError):
        a + 1.0
    with pytest.raises(TypeError):
        a * "2"
