"""Open a built Lens site in headless Chromium, as a user would."""

import pytest

pytestmark = pytest.mark.slow


def _open(browser, url):
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, errors


def _broken_images(page):
    return page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.src)"
    )


def test_index_search_and_class_page(browser, small_site):
    page, errors = _open(browser, small_site.index.as_uri())
    cards = page.locator(".card")
    assert cards.count() == 3
    assert _broken_images(page) == []
    # the class named <script>...</script> is shown as text, not run
    assert page.locator(".card .name").nth(1).inner_text() == "<script>alert('x')</script>"

    page.fill("#search", "red")
    assert page.locator(".card:visible").count() == 1
    page.fill("#search", "")
    assert page.locator(".card:visible").count() == 3

    page.locator(".card").first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith("classes/00000/index.html")
    assert page.locator("h1").inner_text() == "red_disk"
    assert _broken_images(page) == []
    assert errors == []
    page.close()


def test_cluster_graph_hover(browser, small_site):
    page, errors = _open(browser, (small_site.out_dir / "classes/00000/index.html").as_uri())
    points = page.locator("#graph circle")
    if points.count() == 0:
        pytest.fail("the class page has no cluster graph")
    points.first.hover()
    tip = page.locator("#graph-tip")
    assert tip.is_visible()
    assert page.evaluate("document.querySelector('#graph-tip img').naturalWidth") > 0
    assert errors == []
    page.close()
