import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.commons import get_operator, predictions_operator, with_activation


def model(x):
    return tf.reshape(x, (x.shape[0], -1))[:, :3]


def test_default_and_named_operators():
    x = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    t = tf.constant([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert get_operator(None) is predictions_operator
    np.testing.assert_allclose(get_operator("classification")(model, x, t), [1.0, 5.0])
    np.testing.assert_allclose(get_operator("regression")(model, x, t), [1.0, 5.0])


def test_custom_operator_and_errors():
    def custom(m, x, y):
        return tf.reduce_sum(m(x), -1)

    assert get_operator(custom) is custom
    with pytest.raises(ValueError, match="operator"):
        get_operator("segmentation-please")
    with pytest.raises(TypeError, match="three arguments"):
        get_operator(lambda m, x: m(x))
    with pytest.raises(TypeError, match="callable"):
        get_operator(3)


def test_activation():
    x = tf.constant([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(with_activation(model, "softmax")(x), tf.nn.softmax(x))
    np.testing.assert_allclose(with_activation(model, "sigmoid")(x), tf.nn.sigmoid(x))
    assert with_activation(model, None) is model
    with pytest.raises(ValueError, match="activation"):
        with_activation(model, "relu6")
