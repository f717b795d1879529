"""Shapes around CRAFT's ``g``: images in; spatial maps, tokens or vectors out.

Small pure functions shared by :class:`~xplique_lens.concepts.Craft`, its concept attribution
maps and :class:`~xplique_lens.concepts.CraftManager`:

- :func:`as_images` checks and converts images ``(N, H, W, C)`` (one ``(H, W, C)`` image
  accepted);
- :func:`token_grid` / :func:`patch_tokens` recognise the patch tokens of a ViT layer
  ``(N, T, D)`` (``T = s * s``, or ``T = 1 + s * s`` with a leading class token);
- :func:`pool_positions` gives one activation vector per sample (a crop's activation);
- :func:`spatial_codes` lays codes on the layer's grid ``(N, h, w, r)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ..commons.validation import check_finite, to_float_tensor


def as_images(inputs: Any, name: str = "inputs") -> tf.Tensor:
    """``inputs`` as a non-empty, finite float32 batch of images ``(N, H, W, C)``.

    Parameters
    ----------
    inputs
        Images ``(N, H, W, C)`` or one image ``(H, W, C)`` (given a batch axis), floating point.
    name
        Name of the argument, quoted in the errors.

    Returns
    -------
    tf.Tensor
        ``(N, H, W, C)`` float32.

    Raises
    ------
    TypeError
        If ``inputs`` is not a floating point array.
    ValueError
        If ``inputs`` does not have that shape, is empty or is not finite.
    """
    images = to_float_tensor(inputs, name)
    if images.shape.rank == 3:
        images = images[None]
    if images.shape.rank != 4:
        raise ValueError(
            f"`{name}` must be images of shape (N, H, W, C) (or one (H, W, C) image), got shape "
            f"{tuple(images.shape)}."
        )
    if images.shape[0] == 0:
        raise ValueError(f"`{name}` is empty: expected at least one image.")
    check_finite(images, name)
    return images


def token_grid(tokens: int) -> tuple[int, int] | None:
    """``(first patch token, side)`` of ``T`` tokens.

    ``T = s * s`` patch tokens gives ``(0, s)``; ``T = 1 + s * s`` (a leading class token, as
    in ViTs) gives ``(1, s)``; None when neither.
    """
    side = int(round(np.sqrt(tokens)))
    if side * side == tokens:
        return 0, side
    side = int(round(np.sqrt(tokens - 1)))
    if tokens > 1 and side * side == tokens - 1:
        return 1, side
    return None


def patch_tokens(activations: tf.Tensor) -> tf.Tensor:
    """The patch tokens of ``(N, T, D)`` activations (without a leading class token)."""
    grid = token_grid(int(activations.shape[1]))
    return activations if grid is None else activations[:, grid[0] :]


def pool_positions(activations: tf.Tensor) -> tf.Tensor:
    """One vector per sample ``(N, p)``.

    The mean over positions of ``(N, h, w, p)`` maps or over the patch tokens of ``(N, T, p)``
    tokens; ``(N, p)`` vectors as they are.

    Raises
    ------
    ValueError
        For any other rank.
    """
    rank = activations.shape.rank
    if rank == 4:
        return tf.reduce_mean(activations, axis=(1, 2))
    if rank == 3:
        return tf.reduce_mean(patch_tokens(activations), axis=1)
    if rank == 2:
        return activations
    raise ValueError(
        "`input_to_latent_model` must output (N, p) vectors, (N, h, w, p) maps or (N, T, p) "
        f"tokens, got shape {tuple(activations.shape)}."
    )


def spatial_codes(codes: tf.Tensor) -> tf.Tensor:
    """Codes on the layer's grid ``(N, h, w, r)``.

    Spatial codes are returned as they are; token codes ``(N, T, r)`` are laid out on the
    ``s x s`` patch grid (without the class token).

    Raises
    ------
    ValueError
        For tokens that form no square grid and for non-spatial codes ``(N, r)``.
    """
    if codes.shape.rank == 4:
        return codes
    if codes.shape.rank == 3:
        grid = token_grid(int(codes.shape[1]))
        if grid is None:
            raise ValueError(
                f"method='layer' lays token codes on a square grid, but {codes.shape[1]} tokens "
                "are neither s * s patches nor a class token + s * s patches: use "
                "method='input'."
            )
        start, side = grid
        return tf.reshape(codes[:, start:], (-1, side, side, codes.shape[-1]))
    raise ValueError(
        "method='layer' needs a spatial layer (N, h, w, p) or tokens (N, T, p); this layer is "
        "not spatial: use method='input'."
    )
