"""Checks of the settings of :class:`~xplique_lens.concepts.Craft` and its manager.

Small pure functions, so that every constructor argument is validated in ``__init__`` with the
same messages (the argument's name, what was given, what was expected).
"""

from __future__ import annotations

import warnings
from typing import Any

import keras

from ..commons.model_splitting import layer_path
from ..commons.validation import check_verbose
from .extractors.base import BaseConceptExtractor
from .extractors.nmf import NMF
from .extractors.semi_nmf import SemiNMF

ACTIVATION_POLICIES = ("clamp", "signed", "error")

#: Settings of Craft's default :class:`~xplique_lens.concepts.NMF`: the extractor of Xplique's
#: CRAFT (scikit-learn's NMF, ridge ``alpha_W=1e-2``, coordinate descent stopped after its 200
#: iterations), reproduced by our HALS solver (one sweep per iteration, no early stop).
#: ``benchmarks/bench_faithfulness.py`` (90 runs: 5 data seeds x 3 crop grids x 6 classes) chose
#: it: the top concept is the best-covering one in 91% of runs at 4 concepts (Xplique: 91%;
#: ``NMF(r)`` converged without ridge: 86%) and 77% at 10 (Xplique: 80%). A converged NMF keeps
#: the class's mean direction as a concept present everywhere, which ranks first. Tables in
#: docs/concepts.md, "Faithfulness of the importance ranking".
CRAFT_NMF_SETTINGS = {"alpha": 1e-2, "max_iter": 200, "inner_sweeps": 1, "tol": 0.0}


def constructor_verbose(verbose: Any, owner: str, stacklevel: int = 3) -> bool:
    """The deprecated constructor ``verbose`` of ``owner``: False when not given (None);
    given, it warns (``DeprecationWarning``) and becomes the default of the long calls."""
    if verbose is None:
        return False
    warnings.warn(
        f"`{owner}(verbose=...)` is deprecated: pass `verbose` to the call that does the work "
        "(`fit`, `estimate_importance`, `concept_attribution_maps`).",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return check_verbose(verbose)


def check_extractor(
    extractor: Any, number_of_concepts: int, activation_policy: str
) -> BaseConceptExtractor:
    """The extractor of a Craft: the given one, checked, or the policy's default.

    ``NMF(number_of_concepts, **CRAFT_NMF_SETTINGS)``, or ``SemiNMF(number_of_concepts)`` for
    ``"signed"``, when ``extractor`` is None.

    Raises
    ------
    ValueError
        An NMF with ``"signed"``, or ``n_components != number_of_concepts``.
    TypeError
        Not a concept extractor (no ``fit_transform`` / ``transform``).
    """
    if extractor is None:
        if activation_policy == "signed":
            return SemiNMF(number_of_concepts)
        return NMF(number_of_concepts, **CRAFT_NMF_SETTINGS)
    if activation_policy == "signed" and isinstance(extractor, NMF):
        raise ValueError(
            "`activation_policy`='signed' keeps negative activations, but the `extractor` "
            "NMF needs non-negative ones: leave `extractor=None` (semi-NMF) or pass a signed "
            "extractor (SemiNMF, PCA, ICA)."
        )
    if not hasattr(extractor, "fit_transform") or not hasattr(extractor, "transform"):
        raise TypeError(
            "`extractor` must be a concept extractor with fit_transform/transform (e.g. "
            f"NMF, PCA), got {type(extractor).__name__}."
        )
    if getattr(extractor, "n_components", number_of_concepts) != number_of_concepts:
        raise ValueError(
            f"`extractor` has n_components={extractor.n_components} but "
            f"`number_of_concepts`={number_of_concepts}; they must match."
        )
    return extractor


def check_model_and_layer(model: Any, layer: Any) -> tuple[keras.Model | None, Any]:
    """``(model, full path of layer)``; a ``layer`` without ``model`` (a layer of ``g``) is
    kept as given.

    Raises
    ------
    TypeError
        ``model`` not a Keras model, ``layer`` not a name, path or index.
    ValueError
        ``model`` without ``layer``, or a ``layer`` that ``model`` does not have.
    """
    if model is not None and not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a Keras model or None, got {type(model).__name__}.")
    if layer is not None and (isinstance(layer, bool) or not isinstance(layer, (str, int))):
        raise TypeError(
            f"`layer` must be a layer name, path or index, or None, got {type(layer).__name__}."
        )
    if model is None:
        return None, layer
    if layer is None:
        raise ValueError("`layer` is required with `model`: the layer where the model is split.")
    return model, layer_path(model, layer)
