"""KernelSHAP: Shapley values estimated by LIME with the Shapley kernel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..commons.operators import OperatorSignature
from .lime import Lime


class KernelShap(Lime):
    """KernelSHAP: LIME with Shapley-kernel sampling, uniform weights and no regulariser.

    A pattern with ``k`` of the ``F`` features on has Shapley-kernel weight
    ``(F - 1) / (C(F, k) k (F - k))``; as in Xplique (and Captum), patterns are *drawn* with that
    probability (a size ``k`` in ``[1, F - 1]`` with ``p(k) ~ (F - 1) / (k (F - k))``, then a
    uniform subset of size ``k``) and fitted by unweighted least squares with an intercept, which
    has the same expectation. The empty and full patterns are never drawn, and the efficiency
    constraint (coefficients summing to ``f(x) - f(ref)``) is not imposed, as in Xplique.

    Drop-in for ``xplique.attributions.KernelShap`` (same parameters, order, defaults and
    output); the differences of :class:`~xplique_lens.attributions.lime.Lime` apply (SLIC
    superpixels as default image features, compiled streaming, closed-form batched fit,
    ``seed``). Needs at least 2 features per input.

    Ref. Lundberg & Lee, *A Unified Approach to Interpreting Model Predictions* (2017),
    https://arxiv.org/abs/1705.07874.

    Parameters
    ----------
    model
        Keras model or callable on a batch of inputs.
    batch_size
        Forward passes per chunk.
    operator
        See :class:`~xplique_lens.attributions.base.BlackBoxExplainer`.
    map_to_interpret_space
        See :class:`~xplique_lens.attributions.lime.Lime`.
    nb_samples
        Patterns per input.
    ref_value
        Value of the switched-off features (default 0.5 per channel for RGB images, else 0).
    seed
        Seed of the patterns.
    """

    _sampling = "shapley"
    _min_features = 2

    def __init__(
        self,
        model: Callable,
        batch_size: int | None = 64,
        operator: str | OperatorSignature | None = None,
        map_to_interpret_space: Callable | None = None,
        nb_samples: int = 800,
        ref_value: Any = None,
        seed: int | None = 0,
    ):
        super().__init__(
            model,
            batch_size,
            operator,
            map_to_interpret_space=map_to_interpret_space,
            ref_value=ref_value,
            nb_samples=nb_samples,
            seed=seed,
        )
        self._linear = (0.0, True)  # LinearRegression(): least squares with an intercept

    def _weights_mode(self) -> str:
        return "ones"
