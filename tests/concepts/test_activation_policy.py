"""CRAFT on layers that are not non-negative (``activation_policy``), on token layers, and the
semi-NMF extractor behind ``activation_policy="signed"``."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.concepts import NMF, PCA, Craft
from xplique_lens.concepts.extractors.semi_nmf import SemiNMF

from ..numerics import assert_close

SIZE = 16


def _images(n=4, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, 4, 4, 3)).astype(np.float32)
    return tf.image.resize(coarse, (SIZE, SIZE)).numpy()


def _cnn(activation, seed=0):
    """Conv -> conv with ``activation`` (the concept layer "features") -> pooling -> logits."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", activation=activation, name="features")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))


class _ClassToken(keras.layers.Layer):
    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="random_normal")

    def call(self, tokens):
        token = keras.ops.broadcast_to(self.token, (keras.ops.shape(tokens)[0], 1, 8))
        return keras.ops.concatenate([token, tokens], axis=1)


def _tokens_model(class_token=True, patches=4, seed=0):
    """Patch embedding -> (class token) -> GELU MLP on tokens ("tokens") -> mean -> logits."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    patch = SIZE // patches
    x = keras.layers.Conv2D(8, patch, strides=patch, name="embed")(inputs)
    x = keras.layers.Reshape((patches * patches, 8))(x)
    if class_token:
        x = _ClassToken(name="class_token")(x)
    x = keras.layers.Dense(8, activation="gelu", name="tokens")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))


def test_default_policy_refuses_signed_layers():
    model = _cnn(None)
    with pytest.raises(ValueError, match=r"non-negative.*activation_policy"):
        Craft.from_model(model, "features", number_of_concepts=2, patch_size=8).fit(_images())
    with pytest.raises(ValueError, match="activation_policy"):
        Craft.from_model(model, "features", activation_policy="relu")
    with pytest.raises(ValueError, match=r"'signed'.*NMF"):
        Craft.from_model(model, "features", activation_policy="signed", extractor=NMF(20))


def test_round_off_negatives_are_clamped_silently():
    model = _cnn("relu")
    g, h = keras.Model(model.input, model.get_layer("features").output), None
    shifted = keras.Sequential([g, keras.layers.Lambda(lambda a: a - 1e-7)])
    inputs = keras.Input((SIZE, SIZE, 6))
    h = keras.Model(inputs, model.get_layer("logits")(model.get_layer("gap")(inputs)))
    craft = Craft(shifted, h, number_of_concepts=2, patch_size=8).fit(_images())
    assert craft.activations_range_[0] < 0 <= craft.crops_activations_.min()
    assert craft.transform(_images(2)).min() >= 0


def test_clamp_policy_factorises_the_positive_part():
    model = _cnn(None)
    craft = Craft.from_model(
        model, "features", number_of_concepts=2, patch_size=8, activation_policy="clamp"
    ).fit(_images())
    assert isinstance(craft.extractor, NMF)
    assert craft.activations_range_[0] < 0 <= craft.crops_activations_.min()
    g = craft.input_to_latent_model
    codes = craft.transform(_images(2))
    clamped = np.maximum(np.asarray(g(_images(2))), 0)
    assert_close(codes, craft.transform(None, activations=clamped), rel=1e-4)
    assert np.all(np.isfinite(craft.estimate_importance(nb_design=4)))
    maps = craft.concept_attribution_maps(_images(2), method="input", steps=2)
    assert maps.shape == (2, SIZE, SIZE, 2) and np.all(np.isfinite(maps))


def test_signed_policy_uses_semi_nmf():
    model = _cnn(None)
    craft = Craft.from_model(
        model, "features", number_of_concepts=3, patch_size=8, activation_policy="signed"
    ).fit(_images())
    assert isinstance(craft.extractor, SemiNMF)
    assert craft.crops_activations_.min() < 0 and craft.concept_bank_.min() < 0
    assert craft.crops_u_.min() >= 0
    assert craft.transform(_images(2)).min() >= 0
    assert np.all(np.isfinite(craft.estimate_importance(nb_design=4)))
    maps = craft.concept_attribution_maps(_images(2), method="input", steps=2)
    assert np.all(np.isfinite(maps))
    # a signed extractor given explicitly gets the activations as they are, whatever the policy
    pca = Craft.from_model(
        model, "features", number_of_concepts=2, patch_size=8, extractor=PCA(2)
    ).fit(_images())
    assert pca.crops_activations_.min() < 0


@pytest.mark.parametrize("class_token", [True, False])
def test_token_layers(class_token):
    model = _tokens_model(class_token)
    tokens = 17 if class_token else 16
    craft = Craft.from_model(
        model, "tokens", number_of_concepts=2, patch_size=8, activation_policy="signed"
    ).fit(_images())
    codes = craft.transform(_images(2))
    assert codes.shape == (2, tokens, 2) and codes.min() >= 0
    # a crop's activation is the mean of its patch tokens (the class token left out)
    g = craft.input_to_latent_model
    crop = tf.image.resize(craft.crops_[:1], (SIZE, SIZE), method="bicubic")
    patch_tokens = np.asarray(g(crop))[:, int(class_token) :]
    assert_close(craft.crops_activations_[:1], patch_tokens.mean(1), rel=1e-4)
    assert np.all(np.isfinite(craft.estimate_importance(nb_design=4)))
    layer_maps = craft.concept_attribution_maps(_images(2))
    assert layer_maps.shape == (2, SIZE, SIZE, 2)
    # the layer maps are the patch codes on the 4 x 4 grid, upsampled
    grid = codes[:, int(class_token) :].reshape(2, 4, 4, 2)
    assert_close(layer_maps, tf.image.resize(grid, (SIZE, SIZE), method="bilinear"), rel=1e-4)
    input_maps = craft.concept_attribution_maps(_images(2), method="input", steps=2)
    assert input_maps.shape == (2, SIZE, SIZE, 2) and np.all(np.isfinite(input_maps))


def test_tokens_without_a_grid():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Reshape((SIZE * SIZE * 3 // 24, 24))(inputs)  # 32 tokens: no grid
    x = keras.layers.Dense(6, activation="relu", name="tokens")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    craft = Craft.from_model(model, "tokens", number_of_concepts=2, patch_size=8).fit(_images())
    assert craft.transform(_images(2)).shape == (2, 32, 2)
    with pytest.raises(ValueError, match="square grid"):
        craft.concept_attribution_maps(_images(2))
    assert craft.concept_attribution_maps(_images(2), method="input", steps=2).shape == (
        2,
        SIZE,
        SIZE,
        2,
    )


def test_semi_nmf_recovers_a_signed_factorisation():
    rng = np.random.default_rng(0)
    codes = rng.random((200, 3)).astype(np.float32)
    bank = rng.normal(size=(3, 12)).astype(np.float32)
    activations = codes @ bank
    extractor = SemiNMF(3)
    fitted = extractor.fit_transform(activations)
    assert fitted.min() >= 0 and extractor.components_.shape == (3, 12)
    assert extractor.reconstruction_err_ < 1e-2 * np.linalg.norm(activations)
    encoded = extractor.transform(activations)
    assert encoded.min() >= 0
    # the exact NNLS codes reconstruct at least as well as the codes of the fit
    error = np.linalg.norm(activations - encoded @ extractor.components_)
    assert error <= np.linalg.norm(activations - fitted @ extractor.components_) * (1 + 1e-3)
    # the NNLS code is differentiable and positively homogeneous: J a = u (Euler)
    tensor = tf.constant(activations[:5])
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        total = tf.reduce_sum(extractor.tf_transform(tensor))
    gradient = tape.gradient(total, tensor).numpy()
    assert_close((gradient * activations[:5]).sum(1), encoded[:5].sum(1), rel=1e-3)
    with pytest.raises(ValueError, match="n_components"):
        SemiNMF(20).fit(activations)
    with pytest.raises(ValueError, match="tol"):
        SemiNMF(2, tol=-1.0)
