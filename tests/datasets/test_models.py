import numpy as np
import pytest

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


@pytest.mark.slow
def test_cache_is_reused_and_stale_files_retrained(tmp_path, monkeypatch):
    calls = []
    real_train = models_module.train_reference_model

    def counting_train(seed=0, verbose=False):
        calls.append(seed)
        return real_train(seed, verbose)

    monkeypatch.setattr(models_module, "train_reference_model", counting_train)
    first = get_reference_model(seed=0, cache=tmp_path)
    again = get_reference_model(seed=0, cache=tmp_path)
    assert calls == [0]
    x = make_synthetic_dataset(1, seed=3).images
    np.testing.assert_allclose(first(x), again(x), atol=1e-6)

    (cached,) = tmp_path.glob("*.keras")
    cached.write_bytes(b"not a keras file")  # corrupted / stale cache
    get_reference_model(seed=0, cache=tmp_path)
    assert calls == [0, 0]

    monkeypatch.setattr(models_module, "RECIPE_VERSION", "changed")  # recipe changed: stale
    get_reference_model(seed=0, cache=tmp_path)
    assert calls == [0, 0, 0]
