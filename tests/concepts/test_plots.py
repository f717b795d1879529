import matplotlib.pyplot as plt
import numpy as np

from xplique_lens.plots.concepts import (
    plot_concept_attribution_maps,
    plot_concept_crops,
    plot_concept_importances,
)


def test_concept_plots_return_figures(fitted_crafts, concept_data):
    craft = fitted_crafts[1]
    images = concept_data.images[concept_data.labels == 1][:2]
    top = craft.most_important_concepts_[:3]
    figures = [
        plot_concept_importances(craft.importances_, 5),
        plot_concept_crops(craft, top, nb_crops=4),
        plot_concept_attribution_maps(images, craft.explain(images), top),
    ]
    for fig in figures:
        assert isinstance(fig, plt.Figure)
        plt.close(fig)
    assert np.isfinite(craft.importances_).all()
