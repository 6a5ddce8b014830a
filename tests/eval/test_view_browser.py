"""The viewer in a real browser: headless Chromium (Debian's chromium and chromium-driver, which `make test`
installs where apt-get can) opens the site of a small synthetic evaluation from file://, lists every
item, filters, loads every image, keeps model output as text, logs no console error, and leaves a screenshot.

Skipped, with the reason, where Chromium, its driver or selenium is missing.
"""

import os
import shutil
import tempfile

import pytest

from hatchvl.eval.view.site import write_view
from tests.eval.viewer_setup import HOSTILE, make_evaluation

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1300,1600")

if not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
    pytest.skip("Chromium or chromedriver is not installed (`make test` installs Debian's chromium and "
                "chromium-driver where apt-get can)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    os.environ["SE_OFFLINE"] = "true"  # selenium never downloads a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="hatchvl-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _count(driver) -> int:
    return int(driver.find_element("id", "count").text)


def test_the_viewer_lists_filters_and_shows_every_item(browser, tmp_path):
    _, own, blind = make_evaluation(tmp_path)
    site = write_view([own, blind], tmp_path / "site")
    browser.get(site.index.as_uri())
    WebDriverWait(browser, 20).until(lambda d: d.find_element("id", "total").text == str(site.items))
    assert _count(browser) == site.items == len(browser.find_elements("css selector", "article.item"))

    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return [...document.images].every(i => i.complete)"))
    images = browser.execute_script("return [...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert len(images) > site.items and all(width > 0 for _, width in images), images
    assert any(src.startswith("svg/") for src, _ in images) and any(src.startswith("thumbs/") for src, _ in images)

    assert browser.execute_script("return window.hatchvlInjected") is None
    outputs = [e.get_attribute("textContent") for e in browser.find_elements("css selector", "pre.output")]
    assert any(HOSTILE in text for text in outputs)

    screenshot = tmp_path / "viewer.png"
    browser.save_screenshot(str(screenshot))
    print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000

    category = Select(browser.find_element("id", "category"))
    category.select_by_index(1)
    chosen = category.first_selected_option.get_attribute("value")
    expected = browser.execute_script(f"return HATCHVL_VIEW.items.filter(i => i.category === {chosen!r}).length")
    assert 0 < _count(browser) == expected < site.items
    category.select_by_index(0)
    Select(browser.find_element("id", "result")).select_by_value("0:missing")
    assert _count(browser) == 1 and len(browser.find_elements("css selector", "article.item")) == 1
    Select(browser.find_element("id", "result")).select_by_value("")
    search = browser.find_element("id", "search")
    search.send_keys("no such question text")
    assert _count(browser) == 0
    search.clear()
    search.send_keys(" ")  # an input event with an empty search: every item again
    assert _count(browser) == site.items

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
