"""Render the static pages of a Lens site from per-class manifests (plain dicts).

Every string that comes from the user (class names, layer names, explainer names) goes through
:func:`html.escape`; JSON embedded in a page has ``<`` escaped, so a class named ``</script>``
stays text.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .. import __version__

PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape(str(value), quote=True)


def _json_for_script(data: Any) -> str:
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(title: str, body: str, root: str) -> str:
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title>"
        f"<link rel='stylesheet' href='{root}assets/style.css'></head><body>"
        f"<header><h1>{esc(title)}</h1><a href='{root}index.html'>all classes</a>"
        f"<span class='muted'>xplique_lens {esc(__version__)}</span></header>"
        f"<main>{body}</main><script src='{root}assets/lens.js'></script></body></html>\n"
    )


def render_index(manifests: list[dict], title: str = "Lens") -> str:
    """The index page: a searchable grid of classes with thumbnails."""
    cards = []
    for m in sorted(manifests, key=lambda m: m["class_id"]):
        thumb = f"classes/{m['slug']}/{m['thumbnail']}" if m.get("thumbnail") else ""
        cards.append(
            f"<a class='card' href='classes/{esc(m['slug'])}/index.html' "
            f"data-name='{esc(m['name'])}'>"
            + (f"<img src='{esc(thumb)}' alt='{esc(m['name'])}'>" if thumb else "")
            + f"<div class='name'>{esc(m['name'])}</div>"
            f"<div class='muted'>{m.get('n_images', 0)} images"
            + (f", accuracy {m['accuracy']:.2f}" if m.get("accuracy") is not None else "")
            + "</div></a>"
        )
    body = (
        "<input id='search' type='search' placeholder='search a class...' autocomplete='off'> "
        f"<span id='count' class='muted'>{len(cards)} / {len(cards)}</span>"
        f"<div class='grid'>{''.join(cards)}</div>"
    )
    return _page(title, body, "")


def _figure(src: str, caption: str = "") -> str:
    return (
        f"<figure><img src='{esc(src)}' alt='{esc(caption)}'>"
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def _concept_block(concept: dict) -> str:
    share = float(concept.get("share", 0.0))
    viz = (
        f"<div class='viz'><img src='{esc(concept['maco'])}' alt='concept visualization'></div>"
        if concept.get("maco")
        else ""
    )
    crops = "".join(f"<img src='{esc(c)}' alt='crop'>" for c in concept.get("crops", []))
    children = "".join(_concept_block(child) for child in concept.get("children", []))
    return (
        f"<div class='concept' id='concept-{esc(concept['label'])}'>{viz}<div>"
        f"<h3>concept {esc(concept['label'])}: importance {share:.1%}</h3>"
        f"<div class='bar' style='width:{max(share, 0.01) * 300:.0f}px'></div>"
        f"<p class='muted'>top crops</p><div class='crops row'>{crops}</div>"
        + (f"<div class='children'><h3>sub-concepts</h3>{children}</div>" if children else "")
        + "</div></div>"
    )


def _table(rows: list[dict]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{row[c]:.3f}</td>" if isinstance(row[c], float) else f"<td>{esc(row[c])}</td>"
            for c in columns
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cost_rows(cost: dict) -> list[dict]:
    def count(value: Any) -> str:
        return "-" if value is None else f"{int(value):,}"

    return [
        {
            "stage": str(stage),
            "seconds": float(values.get("seconds", 0.0)),
            "forward passes": count(values.get("forwards")),
            "backward passes": count(values.get("backwards")),
        }
        for stage, values in cost.items()
    ]


def render_class(manifest: dict) -> str:
    """The page of one class from its manifest (sections without data are left out)."""
    m = manifest
    parts = [
        f"<p class='muted'>{m.get('n_images', 0)} images; layer {esc(m.get('layer', ''))}"
        + (f"; accuracy {m['accuracy']:.2f}" if m.get("accuracy") is not None else "")
        + "</p>"
    ]
    if m.get("maco"):
        parts.append("<h2>Feature visualization of the class logit (MACO)</h2>")
        parts.append(f"<div class='row'>{_figure(m['maco'], 'class logit')}</div>")
    if m.get("concepts"):
        parts.append("<h2>Concepts, by importance (share of the logit)</h2>")
        parts.extend(_concept_block(c) for c in m["concepts"])
    if m.get("concept_maps"):
        parts.append("<h2>Where the concepts are (concept attribution maps)</h2><div class='row'>")
        parts.extend(_figure(item["src"], item["caption"]) for item in m["concept_maps"])
        parts.append("</div>")
    if m.get("cluster_graph"):
        graph = dict(m["cluster_graph"], colors=PALETTE)
        legend = "".join(
            f"<span><i style='background:{PALETTE[i % len(PALETTE)]}'></i>concept "
            f"{esc(label)}</span>"
            for i, label in enumerate(graph.get("labels", []))
        )
        parts.append(
            "<h2>Strategic cluster graph</h2><p class='muted'>each point is an image, placed by "
            "its concept importances and coloured by its most important concept; hover to see "
            f"it.</p><div class='legend'>{legend}</div><div id='graph'>"
            "<div id='graph-tip'></div></div>"
            f"<script type='application/json' id='graph-data'>{_json_for_script(graph)}</script>"
        )
    if m.get("similarity"):
        parts.append("<h2>Concept similarity (cosine of directions)</h2>")
        parts.append(_table(m["similarity"]))
    if m.get("attributions"):
        parts.append("<h2>Attribution examples</h2><div class='row'>")
        parts.extend(_figure(item["src"], item["caption"]) for item in m["attributions"])
        parts.append("</div>")
    if m.get("metrics"):
        parts.append("<h2>Metrics</h2>")
        parts.append(_table(m["metrics"]))
    if m.get("concept_metrics"):
        parts.append("<h3>Concept metrics</h3>")
        parts.append(_table(m["concept_metrics"]))
    if m.get("cost"):
        parts.append(
            "<h3>Cost of this page</h3><p class='muted'>per stage: wall seconds, and images "
            "passed forward / gradients passed back through the model</p>"
        )
        parts.append(_table(_cost_rows(m["cost"])))
    return _page(f"{m['name']}", "".join(parts), "../../")


def copy_assets(out_dir: Path) -> None:
    """Copy the CSS and JavaScript next to the pages."""
    from .store import atomic_write_bytes

    source = Path(__file__).parent / "assets"
    for asset in source.iterdir():
        if asset.is_file():
            atomic_write_bytes(Path(out_dir) / "assets" / asset.name, asset.read_bytes())
