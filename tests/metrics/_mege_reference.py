"""Brute-force references for the MeGe tests: loops over pairs, one scipy call each."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scipy.stats import spearmanr


def spearman_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``sqrt(1 - |rho|)`` with scipy (NaN for a constant explanation)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = spearmanr(a.ravel(), b.ravel())[0]
    return float(np.sqrt(1.0 - abs(rho)))


def brute_force_sets(explanations, predictions, labels, fold_ids):
    """S=, S!= by the paper's definition, pair by pair, and the number of undefined pairs."""
    k = explanations.shape[0]
    s_eq, s_ne, undefined = [], [], 0
    for i in range(k):
        for j in range(i + 1, k):
            for n in range(explanations.shape[1]):
                if fold_ids[n] not in (i, j):
                    continue
                right_i, right_j = predictions[i, n] == labels[n], predictions[j, n] == labels[n]
                if not (right_i or right_j):
                    continue
                e_i, e_j = explanations[i, n], explanations[j, n]
                if e_i.ndim > 2:
                    e_i, e_j = e_i.mean(-1), e_j.mean(-1)
                d = spearman_distance(e_i, e_j)
                if np.isnan(d):
                    undefined += 1
                    continue
                (s_eq if right_i and right_j else s_ne).append(d)
    return np.array(s_eq), np.array(s_ne), undefined


def brute_force_reco(s_eq, s_ne) -> float:
    """max over every candidate gamma (midpoints, below and above all) of TPR + TNR - 1."""
    values = np.unique(np.concatenate([s_eq, s_ne]))
    gammas = np.concatenate([[values[0] - 1], (values[1:] + values[:-1]) / 2, [values[-1] + 1]])
    best = -np.inf
    for gamma in gammas:
        tpr = np.mean(s_eq < gamma)
        tnr = np.mean(s_ne > gamma)
        best = max(best, tpr + tnr - 1.0)
    return best


def xplique_sampled_reco(s_eq, s_ne) -> float:
    """Xplique 2.0.2's ReCo loop (about 20 thresholds), copied verbatim in substance."""
    s_total = np.concatenate([s_eq, s_ne])
    reco = 0.0
    step = (len(s_total) // 20) + 1
    for gamma in np.sort(s_total)[::step]:
        tp, tn = np.sum(s_eq < gamma), np.sum(s_ne > gamma)
        fp, fn = np.sum(s_ne < gamma), np.sum(s_eq > gamma)
        reco = max(reco, tp / (tp + fn + 1e-10) + tn / (tn + fp + 1e-10) - 1.0)
    return reco


def lookup_model(predicted: np.ndarray, nb_classes: int):
    """A 'model' of inputs ``x[:, 0] = sample index`` that predicts ``predicted[index]``."""
    logits = tf.constant(np.eye(nb_classes, dtype=np.float32)[predicted])

    def model(x):
        return tf.gather(logits, tf.cast(x[:, 0], tf.int32))

    return model


def tiny_cnn(seed: int, nb_classes: int = 3, size: int = 16) -> keras.Model:
    """Untrained small CNN (different seeds give different predictions and gradients)."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(nb_classes),
        ]
    )
