"""The random crops of a MACO step: exact bilinear crops with an exact, reproducible gradient."""

import numpy as np
import tensorflow as tf

from xplique_lens.features.crops import random_crops


def _interpolation(start, end, size_in, size_out):
    """Matrices (K, size_out, size_in) of crop_and_resize's bilinear sampling along one axis."""
    position = start[:, None] * (size_in - 1) + np.arange(size_out)[None] * (end - start)[
        :, None
    ] * (size_in - 1) / (size_out - 1)
    low = np.floor(position).astype(int)
    frac = position - low
    matrix = np.zeros((len(start), size_out, size_in))
    k, j = np.nonzero((position >= 0) & (position <= size_in - 1))
    np.add.at(matrix, (k, j, low[k, j]), 1 - frac[k, j])
    upper = low[k, j] + 1 < size_in
    np.add.at(matrix, (k[upper], j[upper], low[k, j][upper] + 1), frac[k, j][upper])
    return matrix


def test_crop_gradient_is_exact_and_reproducible():
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((2, 128, 128, 3)), tf.float32)
    nb_crops, size, seed = 32, (64, 64), tf.constant([3, 7], tf.int64)
    upstream = tf.constant(rng.standard_normal((2 * nb_crops, *size, 3)), tf.float32)

    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(random_crops(x, nb_crops, tf.constant(0.5), size, seed) * upstream)
        return tape.gradient(loss, x)

    # the boxes random_crops draws (same stateless draws as inside it)
    draws = tf.random.stateless_normal((3, 2 * nb_crops), seed=seed).numpy().astype(np.float64)
    centre_y, centre_x = 0.5 + 0.15 * draws[0], 0.5 + 0.15 * draws[1]
    side = np.clip(0.5 + 0.05 * draws[2], 0.05, 1.0)
    rows = _interpolation(centre_y - side / 2, centre_y + side / 2, 128, size[0])
    cols = _interpolation(centre_x - side / 2, centre_x + side / 2, 128, size[1])
    copies = np.repeat(images.numpy(), nb_crops, 0)
    crops = np.einsum("kyh,khwc,kxw->kyxc", rows, copies, cols, optimize=True)
    np.testing.assert_allclose(
        random_crops(images, nb_crops, tf.constant(0.5), size, seed), crops, atol=1e-4
    )
    per_crop = np.einsum("kyh,kyxc,kxw->khwc", rows, upstream.numpy(), cols, optimize=True)
    exact = per_crop.reshape(2, nb_crops, 128, 128, 3).sum(1)
    runs = [gradient(images).numpy() for _ in range(8)]
    for run in runs:
        np.testing.assert_allclose(run, exact, atol=1e-3 * np.abs(exact).max())
        np.testing.assert_array_equal(run, runs[0])


def _image_gradient(crop_fn, images, upstream):
    with tf.GradientTape() as tape:
        tape.watch(images)
        loss = tf.reduce_sum(crop_fn(images) * upstream)
    return tf.convert_to_tensor(tape.gradient(loss, images))


def test_crop_and_resize_matches_tensorflow_on_edge_boxes():
    """Flipped, out-of-image, tiny and full boxes: the same crops as TF, and the gradient of TF's
    op given one image copy per box (exact: no two boxes share an image)."""
    from xplique_lens.features.crops import crop_and_resize

    rng = np.random.default_rng(1)
    images = tf.constant(rng.random((3, 40, 56, 2)), tf.float32)
    boxes = tf.constant(
        [
            [0.1, 0.2, 0.6, 0.9],
            [0.9, 0.8, 0.2, 0.1],  # flipped
            [-0.3, -0.2, 1.4, 1.2],  # beyond the image
            [0.0, 0.0, 1.0, 1.0],
            [0.5, 0.5, 0.5001, 0.502],  # tiny
            [0.7, 0.1, 1.0, 0.4],  # touches the bottom edge
        ],
        tf.float32,
    )
    indices = tf.constant([0, 2, 1, 0, 2, 1], tf.int32)
    upstream = tf.constant(rng.standard_normal((6, 9, 7, 2)), tf.float32)
    np.testing.assert_array_equal(
        crop_and_resize(images, boxes, indices, (9, 7)),
        tf.image.crop_and_resize(images, boxes, indices, (9, 7)),
    )
    ours = _image_gradient(lambda x: crop_and_resize(x, boxes, indices, (9, 7)), images, upstream)
    reference = _image_gradient(
        lambda x: tf.image.crop_and_resize(tf.gather(x, indices), boxes, tf.range(6), (9, 7)),
        images,
        upstream,
    )
    np.testing.assert_allclose(ours, reference, atol=1e-5)
