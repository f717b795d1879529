import numpy as np

from xplique_lens.datasets import FEATURE_LAYER, get_reference_model, make_synthetic_dataset
from xplique_lens.datasets import models as models_module


def test_reference_models_are_accurate(reference_model, reference_model_b):
    test = make_synthetic_dataset(20, seed=99)  # unseen seed: held out from training
    for model in (reference_model, reference_model_b):
        accuracy = np.mean(np.argmax(model.predict(test.images, verbose=0), -1) == test.labels)
        assert accuracy >= 0.9
    # two seeds, two different models
    w_a = reference_model.get_layer(FEATURE_LAYER).get_weights()[0]
    w_b = reference_model_b.get_layer(FEATURE_LAYER).get_weights()[0]
    assert not np.allclose(w_a, w_b)


def test_cache_is_reused_and_stale_files_retrained(tmp_path, monkeypatch):
    """The cache logic, with a stand-in trainer (the real training is the session fixture's)."""
    import keras

    calls = []

    def counting_train(seed=0, verbose=False):
        calls.append(seed)
        keras.utils.set_random_seed(len(calls))
        model = keras.Sequential(
            [keras.Input((2, 2, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
        )
        return model, 1.0

    monkeypatch.setattr(models_module, "train_reference_model", counting_train)
    first = get_reference_model(seed=0, cache=tmp_path)
    again = get_reference_model(seed=0, cache=tmp_path)
    assert calls == [0]
    x = np.random.default_rng(3).random((2, 2, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(first(x), again(x))  # loaded from the file, bit for bit

    (cached,) = tmp_path.glob("*.keras")
    cached.write_bytes(b"not a keras file")  # corrupted / stale cache
    retrained = get_reference_model(seed=0, cache=tmp_path)
    assert calls == [0, 0]
    assert not np.allclose(retrained(x), first(x))  # a new model (the stand-in's seed changed)

    monkeypatch.setattr(models_module, "RECIPE_VERSION", "changed")  # recipe changed: stale
    get_reference_model(seed=0, cache=tmp_path)
    assert calls == [0, 0, 0]
    assert len(list(tmp_path.glob("*.keras"))) == 2  # one file per recipe, none half-written
