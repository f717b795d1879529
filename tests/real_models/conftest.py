"""Real architectures with random weights, each built once per session, for tests/real_models.

``keras.applications`` networks at the smallest input size they accept (``weights=None``, so
nothing is downloaded), the transfer-learning pattern ``Sequential([Rescaling, base, pooling,
Dense])``, a softmax head, a ``mixed_float16`` model and a small ViT with a class token. Every
case names the layer its concepts are extracted at and the activation policy that layer needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import pytest

A = keras.applications
#: ``XPLIQUE_LENS_REAL_MODELS=all`` runs every feature on every model (the default is budgeted).
FULL = os.environ.get("XPLIQUE_LENS_REAL_MODELS", "").lower() == "all"


@dataclass(frozen=True)
class Case:
    """A model to build, where to cut it for CRAFT, and in what range its inputs are."""

    name: str
    build: Callable[[], keras.Model]
    layer: str | Callable[[keras.Model], str]
    policy: str = "error"
    values_range: tuple[float, float] = (0.0, 1.0)
    maco_layer: str | int = -1


def _app(constructor, size: int = 32, **kwargs) -> Callable[[], keras.Model]:
    def build() -> keras.Model:
        return constructor(
            weights=None,
            input_shape=(size, size, 3),
            classes=3,
            classifier_activation=None,
            **kwargs,
        )

    return build


def _transfer() -> keras.Model:
    """The transfer-learning pattern: preprocessing, a nested base, pooling, a new head."""
    base = A.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3), alpha=0.35)
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1.0 / 127.5, offset=-1.0),
            base,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ],
        name="transfer",
    )


def _small_cnn(name: str, softmax: bool = False) -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv1")(
        inputs
    )
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="features")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax" if softmax else None, name="head")(x)
    return keras.Model(inputs, outputs, name=name)


def _mixed_float16() -> keras.Model:
    """A CNN whose layers compute in float16; the global policy is restored afterwards."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        return _small_cnn("mixed_float16")
    finally:
        keras.config.set_dtype_policy(previous)


class ClassToken(keras.layers.Layer):
    """Prepends a learned class token to the patch tokens ``(N, T, D) -> (N, 1 + T, D)``."""

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="random_normal")

    def call(self, tokens):
        batch = keras.ops.shape(tokens)[0]
        token = keras.ops.broadcast_to(
            keras.ops.cast(self.token, tokens.dtype), (batch, 1, tokens.shape[-1])
        )
        return keras.ops.concatenate([token, tokens], axis=1)


class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding to each of the ``T`` tokens."""

    def build(self, input_shape):
        self.embedding = self.add_weight(
            shape=(1, input_shape[1], input_shape[2]), initializer="random_normal"
        )

    def call(self, tokens):
        return tokens + keras.ops.cast(self.embedding, tokens.dtype)


def _vit(size: int = 32, patch: int = 8, dim: int = 32, depth: int = 2) -> keras.Model:
    """A small ViT: patch embedding, class token, ``depth`` pre-norm transformer blocks, GELU
    MLPs, classification from the class token. Tokens ``(N, 1 + (size / patch) ** 2, dim)``."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(dim, patch, strides=patch, name="patch_embedding")(inputs)
    x = keras.layers.Reshape(((size // patch) ** 2, dim), name="patches")(x)
    x = PositionEmbedding(name="position")(ClassToken(name="class_token")(x))
    for block in range(1, depth + 1):
        y = keras.layers.LayerNormalization(name=f"block{block}_norm1")(x)
        y = keras.layers.MultiHeadAttention(2, dim // 2, name=f"block{block}_attention")(y, y)
        x = keras.layers.Add(name=f"block{block}_add1")([x, y])
        y = keras.layers.LayerNormalization(name=f"block{block}_norm2")(x)
        y = keras.layers.Dense(2 * dim, activation="gelu", name=f"block{block}_mlp1")(y)
        y = keras.layers.Dense(dim, name=f"block{block}_mlp2")(y)
        x = keras.layers.Add(name=f"block{block}_out")([x, y])
    x = keras.layers.LayerNormalization(name="final_norm")(x)
    x = keras.layers.Lambda(lambda t: t[:, 0], output_shape=(dim,), name="class_output")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    return keras.Model(inputs, outputs, name="vit")


def _after(name: str) -> Callable[[keras.Model], str]:
    """The name of the layer that follows ``name`` in the model."""

    def layer(model: keras.Model) -> str:
        names = [layer.name for layer in model.layers]
        return names[names.index(name) + 1]

    return layer


def concept_layer(model: keras.Model, case: Case) -> str:
    """The name of ``case``'s concept layer in ``model``."""
    return case.layer(model) if callable(case.layer) else case.layer


CASES = {
    case.name: case
    for case in [
        Case("ResNet50V2", _app(A.ResNet50V2), "post_relu"),
        Case("MobileNetV2", _app(A.MobileNetV2, alpha=0.35), "out_relu"),
        Case(
            "MobileNetV3Small",
            _app(A.MobileNetV3Small, include_preprocessing=False),
            _after("conv_1_bn"),  # its hard-swish (auto-named: the name depends on the session)
            policy="clamp",
        ),
        Case("EfficientNetV2B0", _app(A.EfficientNetV2B0), "top_activation", policy="clamp"),
        Case(
            "ConvNeXtTiny",
            _app(A.ConvNeXtTiny),
            # a layer of a Sequential nested in the functional model: the stage-2 input
            "convnext_tiny_downsampling_block_1/convnext_tiny_downsampling_conv_1",
            policy="signed",
        ),
        Case("DenseNet121", _app(A.DenseNet121), "relu"),
        Case("InceptionV3", _app(A.InceptionV3, size=75), "mixed10"),
        Case("transfer", _transfer, "out_relu", values_range=(0.0, 255.0)),
        Case("softmax_head", lambda: _small_cnn("softmax_head", softmax=True), "features"),
        Case("mixed_float16", _mixed_float16, "features"),
        Case("vit", _vit, "block1_out", policy="signed"),
    ]
}


class LazyModels(dict):
    """``models[name]``: the model of ``CASES[name]``, built (seeded) on first access."""

    def __missing__(self, name: str) -> keras.Model:
        keras.utils.set_random_seed(0)
        self[name] = CASES[name].build()
        return self[name]


@pytest.fixture(scope="session")
def real_models() -> LazyModels:
    """The models of the real-model tests, shared by every test of the session."""
    return LazyModels()


def images_for(model: keras.Model, case: Case, n: int = 2, seed: int = 0) -> np.ndarray:
    """``n`` smooth random images at the model's input size, in ``case.values_range``."""
    size = tuple(model.inputs[0].shape[1:3])
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, 4, 4, 3)).astype(np.float32)
    images = keras.ops.convert_to_numpy(keras.ops.image.resize(coarse, size, "bilinear"))
    low, high = case.values_range
    return (low + (high - low) * np.clip(images, 0.0, 1.0)).astype(np.float32)
