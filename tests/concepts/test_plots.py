import matplotlib.pyplot as plt
import numpy as np

from xplique_lens.plots.concepts import (
    plot_concept_attribution_maps,
    plot_concept_crops,
    plot_concept_importances,
)


def test_concept_importance_bars_are_the_top_importances_in_order(fitted_crafts):
    importances = fitted_crafts[1].importances_
    fig = plot_concept_importances(importances, 3)
    (ax,) = fig.axes
    widths = [bar.get_width() for bar in sorted(ax.patches, key=lambda b: -b.get_y())]
    np.testing.assert_allclose(widths, np.sort(importances)[::-1][:3], rtol=1e-6)
    top = int(np.argmax(importances))
    labels = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())))
    assert labels[max(labels)] == f"concept {top}"  # the top bar, at the top
    plt.close(fig)


def test_concept_crops_show_each_concepts_top_crops(fitted_crafts):
    craft = fitted_crafts[1]
    top = craft.most_important_concepts_[:2]
    fig = plot_concept_crops(craft, top, nb_crops=3)
    assert len(fig.axes) == 2 * 3
    for row, concept in enumerate(top):
        crops, _ = craft.top_crops(int(concept), 3)
        for col in range(3):
            (shown,) = fig.axes[row * 3 + col].get_images()
            crop = crops[col]
            expected = (crop - crop.min()) / (crop.max() - crop.min())  # shown min-max scaled
            np.testing.assert_allclose(shown.get_array(), expected, atol=1e-5)
        assert fig.axes[row * 3].get_title(loc="left") == f"concept {concept}"
    plt.close(fig)


def test_concept_attribution_maps_overlay_each_concept_where_its_map_is_high(
    fitted_crafts, concept_data
):
    craft = fitted_crafts[1]
    images = concept_data.images[concept_data.labels == 1][:2]
    top = craft.most_important_concepts_[:2]
    maps = craft.explain(images).numpy()
    fig = plot_concept_attribution_maps(images, maps, top, percentile=90)
    for i in range(2):
        layers = fig.axes[i].get_images()
        assert len(layers) == 1 + len(top)  # the image, then one overlay per concept
        for j, concept in enumerate(top):
            alpha = np.asarray(layers[1 + j].get_array())[..., 3]
            heat = np.maximum(maps[i, ..., concept], 0)
            shown = alpha > 0
            assert shown.any() and shown.mean() <= 0.11  # the top decile of the map
            assert heat[shown].min() >= np.percentile(heat, 90)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [f"concept {c}" for c in top]
    plt.close(fig)
