"""The static experiment site: instructions, training and test phases, responses as JSON.

Same stack as the Lens (:mod:`xplique_lens.lens`): plain HTML, CSS and JavaScript with no
dependency and no server, every file written atomically, every text that comes from the user
(title, instructions, condition and class names) HTML-escaped in the page and ``<``-escaped in
the embedded JSON, and shown by the script through ``textContent`` only. Open ``index.html``
from disk (``file://``) or serve the folder from any static host.

- ``index.html?condition=NAME`` assigns a condition; without it one is drawn at random.
  ``participant=ID`` (or ``PROLIFIC_PID=ID``) names the participant; else a random id.
- Test phase: answer with the mouse or the keys 1-9; reaction times are measured from the
  image's onset (``performance.now()``).
- At the end the participant downloads ``responses_<condition>_<participant>.json``; with a
  ``post_url`` the same JSON is also POSTed there (``Content-Type: application/json``; the
  server must allow the site's origin by CORS).

The answer key (the model's decisions on the test images) is **not** in the site: it is written
next to it (``<out>.key.json``) for :func:`~xplique_lens.human.score_responses`.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.image
import numpy as np
from tqdm.auto import tqdm

from .. import __version__
from ..commons.validation import check_is_fitted, resolve_verbose
from ..lens.site import esc
from ..lens.store import atomic_write_bytes, atomic_write_text
from .responses import FORMAT_VERSION, RESPONSES_FORMAT

ASSETS = Path(__file__).parent / "assets"

TEXTS = {
    "train_intro": "Round {round} of {rounds}: training. You will see {n_train} images, each "
    "with the decision of the model. Try to understand how it decides.",
    "test_intro": "Round {round} of {rounds}: test. You will see {n_test} new images, without "
    "the model's decision. For each one, predict what the model will decide.",
    "train_progress": "Round {round}/{rounds}, training {index}/{total}",
    "test_progress": "Round {round}/{rounds}, test {index}/{total}",
    "unknown_condition": 'Unknown condition "{condition}" in the address. Expected one of: '
    "{conditions}.",
    "missing_image": "An image of the experiment could not be loaded ({src}).",
    "explanation": "explanation of the decision",
    "crop": "example of the concept",
    "download_only": "Please download your responses and send the file to the experimenter.",
    "sending": "Sending your responses...",
    "sent": "Your responses were sent. You may also keep a copy.",
    "send_failed": "Your responses could not be sent ({reason}): please download them and send "
    "the file to the experimenter.",
    "leave": "The experiment is not finished: leave anyway?",
}

NOTES = {
    None: "During training you will see each image and the model's decision.",
    "attribution": "During training, an explanation accompanies each image: a heatmap of what "
    "mattered for the model's decision (warm colours: important).",
    "precomputed": "During training, an explanation accompanies each image: a heatmap of what "
    "mattered for the model's decision (warm colours: important).",
    "concepts": "During training, an explanation accompanies each image: the concepts the model "
    "found in it, where they are (warm colours), and examples of each concept.",
}


def _default_instructions(experiment: Any) -> str:
    return (
        "In this experiment you will learn to predict the decisions of an artificial "
        "intelligence (a model that classifies images).\n\n"
        f"There are {experiment.n_rounds} rounds. In each round you first study "
        f"{experiment.n_train} images shown with the model's decision, then you see "
        f"{experiment.n_test} new images alone and predict, for each, what the model will "
        "decide.\n\n"
        "The model is sometimes wrong: predict the model's decision, not the true content of "
        "the image. Answer with the mouse or with the number keys; press Space or Enter to "
        "move on during training. Please answer as accurately as you can."
    )


def _check_post_url(post_url: Any) -> str | None:
    if post_url is None:
        return None
    if not isinstance(post_url, str) or not re.fullmatch(r"https?://[^\s\"'<>]+", post_url):
        raise ValueError(
            f"`post_url` must be an http:// or https:// URL without spaces or quotes, got "
            f"{post_url!r}."
        )
    return post_url


def _display_range(images: np.ndarray, values_range: Any) -> tuple[float, float] | None:
    """The value range mapped to [0, 1] for display; ``None``: each image's own min-max."""
    if values_range is not None:
        try:
            low, high = (float(v) for v in values_range)
        except (TypeError, ValueError):
            raise TypeError(f"`values_range` must be (low, high), got {values_range!r}.") from None
        if not low < high:
            raise ValueError(f"`values_range` must have low < high, got {values_range!r}.")
        return low, high
    low, high = float(images.min()), float(images.max())
    if low >= 0 and high <= 1:
        return 0.0, 1.0
    if low >= 0 and high <= 255:
        return 0.0, 255.0
    return None


def _to_rgb(image: np.ndarray, bounds: tuple[float, float] | None) -> np.ndarray:
    image = np.asarray(image, np.float32)
    if bounds is None:
        low, high = float(image.min()), float(image.max())
        bounds = (low, high if high > low else low + 1.0)
    image = np.clip((image - bounds[0]) / (bounds[1] - bounds[0]), 0.0, 1.0)
    if image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    if image.shape[-1] == 2:
        return np.concatenate([image, image[..., :1]], axis=-1)
    return image[..., :3]


def _overlay(rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``heat`` (H, W), scaled by its 99th percentile of |heat|, as jet colours over ``rgb``."""
    heat = np.abs(np.asarray(heat, np.float32))
    bound = float(np.percentile(heat, 99)) or float(heat.max()) or 1.0
    colours = matplotlib.colormaps["jet"](np.clip(heat / bound, 0, 1))[..., :3]
    return (1 - alpha) * rgb + alpha * colours


def _write_png(path: Path, rgb: np.ndarray, upscale: int) -> None:
    if upscale > 1:
        rgb = rgb.repeat(upscale, axis=0).repeat(upscale, axis=1)
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, np.clip(rgb, 0, 1), format="png")
    atomic_write_bytes(path, buffer.getvalue())


def _json_for_script(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_page(config: dict, title: str, instructions: str) -> str:
    """The page: escaped title and instructions, the screens, the config as inert JSON."""
    paragraphs = "".join(
        f"<p>{esc(part.strip())}</p>" for part in re.split(r"\n\s*\n", instructions) if part.strip()
    )
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='generator' content='xplique_lens {esc(__version__)}'>"
        f"<title>{esc(title)}</title>"
        "<link rel='stylesheet' href='assets/experiment.css'></head><body><main>"
        "<section id='screen-instructions' class='screen'>"
        f"<h1>{esc(title)}</h1><div class='instructions'>{paragraphs}"
        "<p id='condition-note'></p></div>"
        "<button id='start' class='primary' type='button'>Start</button>"
        "<p class='hint'>or press Space</p></section>"
        "<section id='screen-phase' class='screen' hidden><p id='phase-text' class='question'>"
        "</p><button id='continue' class='primary' type='button'>Continue</button>"
        "<p class='hint'>or press Space</p></section>"
        "<section id='screen-train' class='screen' hidden><p id='train-progress' "
        "class='progress'></p><div class='stimulus'><img id='train-image' alt='training image'>"
        "</div><p class='decision'>The model decided: <strong id='train-decision'></strong></p>"
        "<div id='train-explanations' class='explanations'></div>"
        "<button id='next' class='primary' type='button' disabled>Next</button>"
        "<p class='hint'>or press Space</p></section>"
        "<section id='screen-test' class='screen' hidden><p id='test-progress' "
        "class='progress'></p><div class='stimulus'><img id='test-image' alt='test image'></div>"
        "<p class='question'>What will the model decide?</p><div id='choices' class='choices'>"
        "</div><p class='hint'>click, or press the number key</p></section>"
        "<section id='screen-done' class='screen' hidden><h1>Thank you!</h1>"
        "<p id='post-status'></p><button id='download' class='primary' type='button'>"
        "Download my responses</button></section>"
        "<section id='screen-error' class='screen' hidden><p id='error-message' class='error'>"
        "</p></section>"
        "<noscript><p class='error'>This experiment needs JavaScript.</p></noscript></main>"
        "<script type='application/json' id='experiment-config'>"
        f"{_json_for_script(config)}</script>"
        "<script src='assets/experiment.js'></script></body></html>\n"
    )


def build_experiment_site(
    experiment: Any,
    out: str | Path,
    title: str = "Can you predict the model?",
    instructions: str | None = None,
    post_url: str | None = None,
    key_path: str | Path | None = None,
    values_range: Any = None,
    display_size: int = 256,
    min_view_ms: int = 1000,
    iti_ms: int = 300,
    verbose: bool = False,
    *,
    progress: bool | None = None,
) -> Path:
    """Write the static site that runs a built experiment in a browser; return ``index.html``.

    Every file is written atomically (temporary file, then rename) and ``index.html`` last, so
    an interrupted build never leaves a page pointing at missing files. See the module
    documentation for the URL parameters and the response file.

    Parameters
    ----------
    experiment
        A fitted :class:`~xplique_lens.human.UtilityExperiment`.
    out
        Folder of the site (created).
    title
        Title of the page (plain text, escaped).
    instructions
        Plain text shown before the start (paragraphs separated by blank lines, escaped);
        default: a description of the protocol.
    post_url
        ``http(s)://`` URL the responses are also POSTed to (as JSON), or ``None``.
    key_path
        Where the answer key is written; default ``<out>.key.json`` next to the folder. It
        holds the test decisions, so it may not be inside ``out``.
    values_range
        ``(low, high)`` of the images, mapped to black and white; default ``(0, 1)`` or
        ``(0, 255)`` when the images lie in it, else each image's min and max.
    display_size
        Images are upscaled (nearest neighbour) by an integer factor to about this many pixels.
    min_view_ms
        Minimum time a training trial stays before "Next" is enabled.
    iti_ms
        Blank interval between test trials.
    verbose
        Progress bar over the images (also shown when the experiment was built with the
        deprecated ``progress=True``).
    progress
        Deprecated alias of ``verbose`` (``DeprecationWarning``).

    Returns
    -------
    Path
        The ``index.html`` of the site.
    """
    check_is_fitted(experiment, "trials_", hint="experiment.fit()")
    verbose = resolve_verbose(verbose, progress, "build_experiment_site")
    verbose = verbose or bool(getattr(experiment, "progress", None))
    post_url = _check_post_url(post_url)
    if not isinstance(title, str):
        raise TypeError(f"`title` must be a string, got {type(title).__name__}.")
    if instructions is not None and not isinstance(instructions, str):
        raise TypeError(f"`instructions` must be a string, got {type(instructions).__name__}.")
    for name, value in (
        ("display_size", display_size),
        ("min_view_ms", min_view_ms),
        ("iti_ms", iti_ms),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"`{name}` must be an integer >= 0, got {value!r}.")
    out = Path(out)
    key_path = Path(key_path) if key_path is not None else out.parent / f"{out.name}.key.json"
    if key_path.resolve().is_relative_to(out.resolve()):
        raise ValueError(
            f"`key_path` {key_path} is inside the site folder {out}: participants could read the "
            "model's test decisions there; write it elsewhere."
        )
    trials = experiment.trials_
    indices = sorted({t.image_index for t in trials})
    images = experiment.trial_images([t for t in trials])
    bounds = _display_range(images, values_range)
    size = max(images.shape[1:3])
    upscale = max(1, math.floor(display_size / size + 0.5)) if display_size else 1
    rgb = {}
    for trial, image in zip(trials, images):
        rgb[trial.image_index] = _to_rgb(image, bounds)
    for index in tqdm(indices, disable=not verbose, desc="site images"):
        _write_png(out / "images" / f"img_{index:05d}.png", rgb[index], upscale)

    conditions = []
    train_panels: dict[str, list[list[dict]]] = {}
    train = experiment.train_trials_
    for c, (name, explanations) in enumerate(experiment.explanations_.items()):
        kind = None if explanations is None else explanations.kind
        conditions.append(
            {"name": name, "explained": explanations is not None, "kind": kind, "note": NOTES[kind]}
        )
        if explanations is None:
            continue
        crop_files: dict[str, list[str]] = {}
        for key, crops in (explanations.crops or {}).items():
            safe = re.sub(r"[^0-9A-Za-z]", "_", key)
            files = []
            for j, crop in enumerate(crops):
                file = f"images/c{c}/concept_{safe}_{j}.png"
                _write_png(out / file, _to_rgb(crop, bounds), max(1, 64 // max(crop.shape[:2])))
                files.append(file)
            crop_files[key] = files
        panels_of_condition = []
        for t, trial in enumerate(tqdm(train, disable=not verbose, desc=f"site ({name})")):
            panels = []
            for k in range(explanations.maps.shape[-1]):
                concept = explanations.concept_keys[t][k] if explanations.concept_keys else None
                if explanations.kind == "concepts" and not concept:
                    continue  # a Craft with fewer concepts than `concepts_shown`
                file = f"images/c{c}/t{t:04d}_{k}.png"
                heat = explanations.maps[t, ..., k]
                _write_png(out / file, _overlay(rgb[trial.image_index], heat), upscale)
                panels.append(
                    {
                        "src": file,
                        "caption": explanations.captions[t][k],
                        "crops": crop_files.get(concept, []) if concept else [],
                    }
                )
            panels_of_condition.append(panels)
        train_panels[str(c)] = panels_of_condition

    names = experiment.class_names_
    rounds = []
    train_position = {t.trial_id: i for i, t in enumerate(train)}
    for r in range(experiment.n_rounds):
        rounds.append(
            {
                "train": [
                    {
                        "trial": t.trial_id,
                        "image": f"images/img_{t.image_index:05d}.png",
                        "decision_name": names[t.decision],
                        "explanations": {
                            c: panels[train_position[t.trial_id]]
                            for c, panels in train_panels.items()
                        },
                    }
                    for t in train
                    if t.round == r
                ],
                # no decision here: the page never holds the answers of the test phase
                "test": [
                    {"trial": t.trial_id, "image": f"images/img_{t.image_index:05d}.png"}
                    for t in experiment.test_trials_
                    if t.round == r
                ],
            }
        )
    config = {
        "format": RESPONSES_FORMAT,
        "version": FORMAT_VERSION,
        "experiment_id": experiment.experiment_id_,
        "conditions": conditions,
        "choices": [{"id": int(c), "name": names[c]} for c in experiment.choices_],
        "rounds": rounds,
        "post_url": post_url,
        "min_view_ms": min_view_ms,
        "iti_ms": iti_ms,
        "texts": TEXTS,
    }
    for asset in ("experiment.js", "experiment.css"):
        atomic_write_bytes(out / "assets" / asset, (ASSETS / asset).read_bytes())
    atomic_write_text(key_path, json.dumps(experiment.answer_key(), indent=1))
    index = out / "index.html"
    page = render_page(config, title, instructions or _default_instructions(experiment))
    atomic_write_text(index, page)
    return index
