"""The static experiment site: offline, escaped, no answers in the page, usable in a browser."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from xplique_lens.human import UtilityExperiment, score_responses

from .conftest import CountingExplainer

NASTY = "<script>alert('x')</script>"


def _config(index: Path) -> dict:
    page = index.read_text(encoding="utf-8")
    found = re.search(
        r"<script type='application/json' id='experiment-config'>(.*?)</script>", page, re.S
    )
    return json.loads(found.group(1))


@pytest.fixture
def nasty_experiment(stub_model, stub_images, stub_labels):
    return UtilityExperiment(
        stub_model,
        stub_images,
        stub_labels,
        {"<script>": None, "explained": CountingExplainer()},
        class_names=["cat", NASTY, "a & b"],
        n_rounds=2,
        n_train=2,
        n_test=2,
    ).fit()


def test_offline_escaped_and_without_answers(nasty_experiment, tmp_path):
    index = nasty_experiment.build_site(
        tmp_path / "site",
        title="<b>Title & co</b>",
        instructions="Hello <i>you</i>.\n\nSecond part.",
    )
    page = index.read_text(encoding="utf-8")
    # offline: only relative files, all present
    refs = re.findall(r"(?:src|href)='([^']*)'", page)
    assert refs == ["assets/experiment.css", "assets/experiment.js"]
    assert "http" not in page and "//" not in "".join(refs)
    assert all((index.parent / ref).is_file() for ref in refs)
    # user text stays text: the only <script> tags are the site's own two
    assert page.count("<script") == 2
    assert "&lt;b&gt;Title &amp; co&lt;/b&gt;" in page and "&lt;i&gt;you&lt;/i&gt;" in page
    assert "<p>Second part.</p>" in page
    assert "\\u003cscript\\u003e" in page and NASTY not in page
    config = _config(index)
    assert [c["name"] for c in config["conditions"]] == ["<script>", "explained"]
    assert [c["name"] for c in config["choices"]] == ["cat", NASTY, "a & b"]
    # every image the page can show exists
    files = [t["image"] for r in config["rounds"] for phase in ("train", "test") for t in r[phase]]
    files += [
        p["src"]
        for r in config["rounds"]
        for t in r["train"]
        for panels in t["explanations"].values()
        for p in panels
    ]
    assert files and all((index.parent / f).is_file() for f in files)
    # the test phase holds no decision; the key is outside the site
    assert all(set(t) == {"trial", "image"} for r in config["rounds"] for t in r["test"])
    assert all("decision" not in json.dumps(r["test"]) for r in config["rounds"])
    key = json.loads((tmp_path / "site.key.json").read_text())
    assert key["experiment_id"] == config["experiment_id"] == nasty_experiment.experiment_id_
    # all conditions share the same test images
    tests = [t.image_index for t in nasty_experiment.test_trials_]
    assert [int(t["image"][-9:-4]) for r in config["rounds"] for t in r["test"]] == tests
    # atomic writes leave no temporary file behind
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]


def test_post_url_and_key_location(nasty_experiment, tmp_path):
    index = nasty_experiment.build_site(
        tmp_path / "s", post_url="https://example.org/collect?study=1", key_path=tmp_path / "k.json"
    )
    assert _config(index)["post_url"] == "https://example.org/collect?study=1"
    assert (tmp_path / "k.json").is_file()
    with pytest.raises(ValueError, match="`post_url` must be an http"):
        nasty_experiment.build_site(tmp_path / "s", post_url="javascript:alert(1)")
    with pytest.raises(ValueError, match="`key_path`.*inside the site folder"):
        nasty_experiment.build_site(tmp_path / "s", key_path=tmp_path / "s" / "key.json")
    with pytest.raises(ValueError, match="`min_view_ms`"):
        nasty_experiment.build_site(tmp_path / "s", min_view_ms=-1)
    with pytest.raises(ValueError, match=r"not fitted yet .* call `experiment.fit\(\)`"):
        UtilityExperiment(
            None,
            np.zeros((4, 8, 8, 3), np.float32),
            [0, 1, 0, 1],
            {"b": None},
            decisions=[0, 1, 0, 1],
        ).build_site(tmp_path / "x")


@pytest.mark.slow
def test_a_participant_in_the_browser(browser, stub_model, stub_images, stub_labels, tmp_path):
    experiment = UtilityExperiment(
        stub_model,
        stub_images,
        stub_labels,
        {"<script>": None, "explained": CountingExplainer()},
        n_rounds=2,
        n_train=1,
        n_test=2,
        correct_fraction=None,
    ).fit()
    index = experiment.build_site(tmp_path / "site", min_view_ms=0, iti_ms=0)
    page = browser.new_page(accept_downloads=True)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(index.as_uri() + "?condition=explained&participant=tester")
    page.keyboard.press("Space")
    answered = 0
    state = (
        "() => { const done = !document.querySelector('#screen-done').hidden;"
        " const phase = !document.querySelector('#screen-phase').hidden;"
        " const train = !document.querySelector('#screen-train').hidden"
        "   && !document.querySelector('#next').disabled;"
        " const test = !document.querySelector('#screen-test').hidden"
        "   && !document.querySelector('#choices button').disabled;"
        " return done ? 'done' : phase ? 'phase' : train ? 'train' : test ? 'test' : ''; }"
    )
    while (step := page.wait_for_function(state).json_value()) != "done":
        if step == "train":
            assert page.locator("#train-explanations img").count() == 1
            page.keyboard.press("Enter")
        elif step == "test":  # alternate keyboard and mouse answers
            if answered % 2:
                page.keyboard.press("2")
            else:
                page.locator("#choices button").nth(0).click()
            answered += 1
        else:
            page.keyboard.press("Space")
    with page.expect_download() as download:
        page.click("#download")
    data = json.loads(Path(download.value.path()).read_text())
    assert download.value.suggested_filename == "responses_explained_tester.json"
    assert data["condition"] == "explained" and data["assignment"] == "url"
    assert [a["input"] for a in data["responses"]] == ["mouse", "keyboard"] * 2
    assert [a["choice"] for a in data["responses"]] == [0, 1] * 2
    assert all(a["rt_ms"] >= 0 for a in data["responses"]) and len(data["training"]) == 2
    scores = score_responses(tmp_path / "site.key.json", data)  # round trip through scoring
    assert scores.conditions["explained"].n_responses == 4
    assert errors == []

    page.goto(index.as_uri() + "?condition=nope")
    assert 'Unknown condition "nope"' in page.locator("#error-message").inner_text()
    page.goto(index.as_uri())  # random assignment
    assert page.evaluate("document.body.getAttribute('data-condition')") in ("0", "1")
    page.close()
