"""Strategic cluster graph, concept similarity and concept-to-class alignment.

The strategic cluster graph (Fel et al. 2023, "A Holistic Approach to Unifying Automatic Concept
Extraction and Concept Importance Estimation", NeurIPS, arXiv 2306.07304, section 5, figure 1)
embeds the per-image concept importance vectors of a class in 2-D (UMAP when installed, else
t-SNE from scikit-learn) and colours each image by its most important concept; the concepts that
are the top concept of enough images are the class's main strategies. This module computes the
data (coordinates, labels, image indices, strategies); :mod:`xplique_lens.plots` draws it.

Also: the cosine similarity between concept directions, and their alignment with the class
weight vectors of ``h`` when ``h`` ends with a dense layer (the Lens site's "concept alignment").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from ..commons.validation import check_choice
from .concept_space import as_concept_bank
from .importance import as_local_importances

EMBEDDINGS = ("auto", "tsne", "umap")


@dataclass
class ClusterGraph:
    """Data of a strategic cluster graph.

    Attributes
    ----------
    coordinates
        ``(n, 2)`` embedding of the images' importance vectors.
    labels
        ``(n,)`` most important concept of each image (the colour of its point).
    image_indices
        ``(n,)`` index of each point in the images given (the rows of ``local_importances``).
    strategies
        Main strategies: concept ids that are the top concept of at least ``min_share`` of the
        images, most frequent first.
    shares
        ``(r,)`` share of the images whose top concept is each concept.
    method
        Embedding used (``"tsne"`` or ``"umap"``).
    """

    coordinates: np.ndarray
    labels: np.ndarray
    image_indices: np.ndarray
    strategies: list[int]
    shares: np.ndarray
    method: str
    extra: dict = field(default_factory=dict)

    def strategy_images(self, concept_id: int) -> np.ndarray:
        """Indices of the images whose top concept is ``concept_id``."""
        return self.image_indices[self.labels == concept_id]


def _umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def _embed(vectors: np.ndarray, method: str, seed: int, perplexity: float | None) -> np.ndarray:
    n = len(vectors)
    if n == 1:
        return np.zeros((1, 2), np.float32)
    if n == 2:
        return np.array([[-1.0, 0.0], [1.0, 0.0]], np.float32)
    if method == "umap":
        import umap

        neighbours = max(2, min(15, n - 1))
        reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, random_state=seed)
        return np.asarray(reducer.fit_transform(vectors), np.float32)
    from sklearn.manifold import TSNE

    perplexity = min(30.0, max(1.0, (n - 1) / 3.0)) if perplexity is None else float(perplexity)
    if not 0.0 < perplexity < n:
        raise ValueError(f"`perplexity` must be in (0, {n}) for {n} images, got {perplexity}.")
    # Exact t-SNE for class-sized sets: scikit-learn's Barnes-Hut variant was measured at ~40 s
    # for 32 points on 2 cores here (against 0.1 s exact); it only pays off for thousands.
    method = "exact" if n <= 2000 else "barnes_hut"
    tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=seed, method=method)
    return np.asarray(tsne.fit_transform(vectors), np.float32)


def strategic_cluster_graph(
    local_importances: Any,
    image_indices: Any = None,
    method: str = "auto",
    min_share: float = 0.1,
    normalize: bool = True,
    perplexity: float | None = None,
    seed: int = 0,
) -> ClusterGraph:
    """Embed the per-image concept importances of a class in 2-D and find its main strategies.

    Parameters
    ----------
    local_importances
        ``(n, r)`` importance of each concept for each image of the class (e.g.
        ``ConceptImportance(...).explain(codes, class_id)`` or ``Craft.local_importances_``).
    image_indices
        ``(n,)`` ids of the images (default ``0 .. n-1``).
    method
        ``"auto"`` (UMAP when the ``umap-learn`` package is installed, else t-SNE), ``"tsne"``
        or ``"umap"``.
    min_share
        A concept is a main strategy when it is the top concept of at least this share of the
        images.
    normalize
        Divide each importance vector by its l1 norm before embedding, so that images are
        grouped by how they split their decision among concepts, not by its strength.
    perplexity
        t-SNE perplexity; default ``min(30, (n - 1) / 3)``.
    seed
        Seed of the embedding.
    """
    local = as_local_importances(local_importances)
    method = check_choice(method, "method", EMBEDDINGS)
    if method == "auto":
        method = "umap" if _umap_available() else "tsne"
    elif method == "umap" and not _umap_available():
        raise ValueError("`method`='umap' needs the `umap-learn` package; use 'tsne'.")
    if not 0.0 <= float(min_share) <= 1.0:
        raise ValueError(f"`min_share` must be in [0, 1], got {min_share!r}.")
    n, r = local.shape
    indices = np.arange(n) if image_indices is None else np.asarray(image_indices)
    if indices.shape != (n,):
        raise ValueError(f"`image_indices` must have {n} entries, got shape {indices.shape}.")
    vectors = local.astype(np.float64)
    if normalize:
        vectors = vectors / np.maximum(np.abs(vectors).sum(axis=1, keepdims=True), 1e-12)
    labels = local.argmax(axis=1)
    shares = np.bincount(labels, minlength=r) / n
    ordered = np.argsort(-shares, kind="stable")
    strategies = [int(k) for k in ordered if shares[k] > 0 and shares[k] >= min_share]
    return ClusterGraph(
        coordinates=_embed(vectors, method, seed, perplexity),
        labels=labels,
        image_indices=indices,
        strategies=strategies,
        shares=shares.astype(np.float32),
        method=method,
    )


def concept_similarity(concept_bank: Any) -> np.ndarray:
    """``(r, r)`` cosine similarity between the concept directions (rows of ``W``)."""
    bank = as_concept_bank(concept_bank).numpy().astype(np.float64)
    unit = bank / np.maximum(np.linalg.norm(bank, axis=1, keepdims=True), 1e-12)
    return (unit @ unit.T).astype(np.float32)


def class_weight_vectors(latent_to_logit_model: Any) -> np.ndarray:
    """``(C, p)`` weights of the last dense layer of ``h`` (one direction per class)."""
    layers = getattr(latent_to_logit_model, "layers", None)
    if not layers:
        raise TypeError(
            "`latent_to_logit_model` must be a Keras model ending with a Dense layer to read "
            f"class weight vectors, got {type(latent_to_logit_model).__name__}; pass "
            "`class_weights` (C, p) instead."
        )
    dense = [layer for layer in layers if isinstance(layer, keras.layers.Dense)]
    if not dense or dense[-1] is not layers[-1] and not _only_activations_after(layers, dense[-1]):
        raise ValueError(
            "`latent_to_logit_model` does not end with a Dense layer (its last layer is "
            f"{type(layers[-1]).__name__}); pass `class_weights` (C, p) instead."
        )
    return np.asarray(dense[-1].kernel.numpy(), np.float32).T


def _only_activations_after(layers: list, layer: Any) -> bool:
    after = layers[layers.index(layer) + 1 :]
    return all(isinstance(a, keras.layers.Activation | keras.layers.Softmax) for a in after)


def concept_class_alignment(
    concept_bank: Any, latent_to_logit_model: Any = None, class_weights: Any = None
) -> np.ndarray:
    """``(r, C)`` cosine between each concept direction and each class weight vector.

    The class weight vectors are the columns of the kernel of the dense layer that ends ``h``
    (read from ``latent_to_logit_model``), or ``class_weights`` ``(C, p)`` given directly. The
    concept directions must live in the dense layer's input space, as when ``h`` is global
    pooling followed by the classifier (CRAFT's usual split): the alignment tells which classes
    a concept votes for.
    """
    bank = as_concept_bank(concept_bank).numpy().astype(np.float64)
    if class_weights is None:
        if latent_to_logit_model is None:
            raise ValueError("Pass `latent_to_logit_model` or `class_weights`.")
        class_weights = class_weight_vectors(latent_to_logit_model)
    weights = np.asarray(class_weights, np.float64)
    if weights.ndim != 2 or weights.shape[1] != bank.shape[1]:
        raise ValueError(
            f"The class weight vectors have shape {weights.shape} but the concepts have "
            f"{bank.shape[1]} features: expected (C, {bank.shape[1]}) (is the concept layer the "
            "input of the last dense layer, up to pooling?)."
        )
    unit_bank = bank / np.maximum(np.linalg.norm(bank, axis=1, keepdims=True), 1e-12)
    unit_weights = weights / np.maximum(np.linalg.norm(weights, axis=1, keepdims=True), 1e-12)
    return (unit_bank @ unit_weights.T).astype(np.float32)
