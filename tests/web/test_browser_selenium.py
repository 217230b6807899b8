"""The study browser in a real browser: headless Chromium driven by Selenium.

A real ``dicomnet serve --http 0`` (a subprocess, ephemeral ports) receives the
sample studies by C-STORE (``dicomnet store``); Chromium then searches a
patient, opens the study, sees its thumbnails, opens an image, changes the
window (by dragging and by typing) and pages through frames and images. The
pixels shown must change with the window. Screenshots go to
``test-artefacts/browser/`` at the repository root (ignored by git; the path
is printed). With ``CI`` set, a missing chromium, chromedriver or selenium
fails the test instead of skipping it.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
import threading
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import require_module, require_program
from PIL import Image

from .samples import Samples, write_samples

pytestmark = [pytest.mark.interop, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = REPO / "test-artefacts" / "browser"
WAIT = 60  # seconds: a guard against hanging, not a speed requirement
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1366,768",
)


@dataclass
class Archive:
    http_port: int
    dimse_port: int
    samples: Samples

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "dicomnet.cli.main", *argv]


class _Output:
    """Reads serve's output to its end (so its pipe never fills) and finds both ports."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.dimse: int | None = None
        self.http: int | None = None
        self.listening = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)
            if found := re.match(r"http listening on (\d+)", line):
                self.http = int(found.group(1))
            elif found := re.match(r"listening on (\d+)", line):
                self.dimse = int(found.group(1))
            if self.dimse is not None and self.http is not None:
                self.listening.set()
        self.listening.set()  # ended: the waiter looks at the ports

    def text(self) -> str:
        return "".join(self.lines)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    require_module("starlette")
    require_module("uvicorn")
    folder = tmp_path_factory.mktemp("browser")
    samples = write_samples(folder / "samples")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        _cli(
            "serve", "--port", "0", "--http", "0", "--output", str(folder / "store"), "--no-fsync"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env=env,
    )
    output = _Output(process)
    try:
        output.listening.wait(WAIT)
        assert output.dimse and output.http, "serve did not listen:\n" + output.text()
        dimse, http = output.dimse, output.http
        stored = subprocess.run(
            _cli("store", "127.0.0.1", str(dimse), *map(str, samples.files)),
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=WAIT,
            check=False,
        )
        assert stored.returncode == 0, stored.stdout + stored.stderr
        yield Archive(http, dimse, samples)
    finally:
        process.terminate()
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.thread.join(WAIT)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    chromium = require_program("chromium")
    chromedriver = require_program("chromedriver")
    require_module("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    with tempfile.TemporaryDirectory(prefix="dicomnet-chromium-") as profile:
        for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        browser = webdriver.Chrome(options=options, service=Service(chromedriver))
        try:
            yield browser
        finally:
            browser.quit()


@pytest.fixture(scope="module")
def artefacts() -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTEFACTS.glob("*.png"):
        old.unlink()
    print(f"\nbrowser screenshots: {ARTEFACTS}")
    return ARTEFACTS


def _wait(driver: Any, condition: Any, message: str) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # a list being redrawn replaces its elements: look again rather than fail
    waiting = WebDriverWait(driver, WAIT, ignored_exceptions=[StaleElementReferenceException])
    return waiting.until(condition, message)


def _shown(driver: Any) -> np.ndarray:
    """The viewer's image as the browser shows it (an element screenshot), grayscale."""
    element = driver.find_element("id", "frame-image")
    return np.asarray(Image.open(io.BytesIO(element.screenshot_as_png)).convert("L"), dtype=float)


def _ready(
    driver: Any, window: str | None = None, frame: str | None = None, instance: str | None = None
) -> None:
    """Wait until the viewer shows a picture (of ``instance``, at ``window``, ``frame``)."""

    def done(d: Any) -> bool:
        img = d.find_element("id", "frame-image")
        if img.get_attribute("data-state") != "ready":
            return False
        if instance is not None and f"/instances/{instance}/" not in (
            img.get_attribute("src") or ""
        ):
            return False
        if window is not None and img.get_attribute("data-window") != window:
            return False
        if frame is not None and img.get_attribute("data-frame") != frame:
            return False
        return bool(
            d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
        )

    _wait(driver, done, f"the viewer did not show window={window} frame={frame}")


def _set_input(driver: Any, element_id: str, value: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element("id", element_id)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(value, Keys.TAB)  # TAB commits the value (a change event)


def test_search_open_view_window_and_page(driver: Any, archive: Archive, artefacts: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    s = archive.samples
    driver.get(archive.base + "/browser/")
    rows = lambda d: d.find_elements(By.CSS_SELECTOR, "#studies tbody tr")  # noqa: E731
    _wait(driver, lambda d: len(rows(d)) == 2, "both studies listed at first")
    driver.save_screenshot(str(artefacts / "01-all-studies.png"))

    # search a patient by a part of the name
    driver.find_element(By.ID, "q-name").send_keys("doe")  # names match without regard to case
    driver.find_element(By.ID, "search-button").click()
    _wait(driver, lambda d: len(rows(d)) == 1, "one study of DOE")
    row = rows(driver)[0]
    assert row.get_attribute("data-study-uid") == s.ct_study
    assert "DOE, JANE" in row.text and "PAT-1" in row.text and "2024-03-01" in row.text
    assert "1 study found" in driver.find_element(By.ID, "status").text
    # by a date range (the other patient's study)
    driver.find_element(By.ID, "q-name").clear()
    driver.execute_script(
        "document.getElementById('q-from').value = '2023-11-01';"
        "document.getElementById('q-to').value = '2023-12-31';"
    )
    driver.find_element(By.ID, "search-button").click()
    _wait(
        driver,
        lambda d: len(rows(d)) == 1 and s.mr_study == rows(d)[0].get_attribute("data-study-uid"),
        "MR study by date",
    )
    driver.save_screenshot(str(artefacts / "02-search-by-date.png"))
    driver.find_element(By.ID, "clear-button").click()
    driver.find_element(By.ID, "q-id").send_keys("PAT-1")
    driver.find_element(By.ID, "search-button").click()
    _wait(
        driver,
        lambda d: len(rows(d)) == 1 and s.ct_study == rows(d)[0].get_attribute("data-study-uid"),
        "by ID",
    )
    driver.save_screenshot(str(artefacts / "03-search-by-id.png"))
    # by modality (the study holding an MR series)
    driver.find_element(By.ID, "clear-button").click()
    Select(driver.find_element(By.ID, "q-modality")).select_by_visible_text("MR")
    driver.find_element(By.ID, "search-button").click()
    _wait(
        driver,
        lambda d: len(rows(d)) == 1 and s.mr_study == rows(d)[0].get_attribute("data-study-uid"),
        "by modality",
    )
    driver.find_element(By.ID, "clear-button").click()
    driver.find_element(By.ID, "q-id").send_keys("PAT-1")
    driver.find_element(By.ID, "search-button").click()
    _wait(
        driver,
        lambda d: len(rows(d)) == 1 and s.ct_study == rows(d)[0].get_attribute("data-study-uid"),
        "PAT-1 again",
    )

    # open the study: its series with thumbnails
    rows(driver)[0].find_element(By.PARTIAL_LINK_TEXT, "DOE, JANE").click()
    cards = lambda d: d.find_elements(By.CSS_SELECTOR, "#series-list li")  # noqa: E731
    _wait(driver, lambda d: len(cards(d)) == 4, "four series")
    thumbs_loaded = (
        "return Array.from(document.querySelectorAll('#series-list img'))"
        ".filter(i => i.complete && i.naturalWidth > 0).length"
    )
    _wait(
        driver, lambda d: d.execute_script(thumbs_loaded) == 3, "three thumbnails (not the report)"
    )
    _wait(
        driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".no-thumb")) == 1, "report has none"
    )
    labels = [c.find_element(By.CLASS_NAME, "label").text for c in cards(driver)]
    assert labels == [
        f"Series {n} \u2013 {m}" for n, m in ((1, "CT"), (2, "OT"), (3, "OT"), (9, "SR"))
    ]
    for img in driver.find_elements(By.CSS_SELECTOR, "#series-list img"):
        assert img.get_attribute("alt").startswith("Thumbnail of Series")
    # the thumbnails are pictures, not blank: the CT phantom has dark and bright parts
    ct_thumb = driver.find_elements(By.CSS_SELECTOR, "#series-list img")[0]
    thumb = np.asarray(Image.open(io.BytesIO(ct_thumb.screenshot_as_png)).convert("L"))
    assert thumb.min() < 40 and thumb.max() > 200
    driver.save_screenshot(str(artefacts / "04-study-series.png"))

    # open the CT series: the viewer starts from the data set's window (40/400)
    cards(driver)[0].find_element(By.TAG_NAME, "a").click()
    _ready(driver, window="40,400", instance=s.ct_instances[0])
    assert driver.find_element(By.ID, "wl-center").get_attribute("value") == "40"
    assert driver.find_element(By.ID, "wl-width").get_attribute("value") == "400"
    assert "1 of 3" in driver.find_element(By.ID, "instance-position").text
    before = _shown(driver)
    driver.save_screenshot(str(artefacts / "05-viewer-40-400.png"))

    # drag right and down: wider window, lower centre
    stage = driver.find_element(By.ID, "stage")
    ActionChains(driver).move_to_element(stage).click_and_hold().move_by_offset(
        200, 0
    ).move_by_offset(200, 120).release().perform()
    dragged_window = driver.find_element(By.ID, "frame-image").get_attribute("data-window")
    _ready(driver)
    center = float(driver.find_element(By.ID, "wl-center").get_attribute("value"))
    width = float(driver.find_element(By.ID, "wl-width").get_attribute("value"))
    assert width > 400 and center < 40, (center, width, dragged_window)
    _ready(driver, window=f"{center:g},{width:g}")
    dragged = _shown(driver)
    assert dragged.shape == before.shape
    assert np.abs(dragged - before).mean() > 5, "dragging did not change the picture"
    driver.save_screenshot(str(artefacts / "06-viewer-dragged.png"))

    # type a bone window
    _set_input(driver, "wl-center", "300")
    _set_input(driver, "wl-width", "1500")
    _ready(driver, window="300,1500")
    bone = _shown(driver)
    assert np.abs(bone - before).mean() > 5 and np.abs(bone - dragged).mean() > 1
    # soft tissue (HU ~40) is mid-grey at 40/400 but dark at 300/1500
    h, w = before.shape
    centre_patch = (slice(h // 2 - 5, h // 2 + 5), slice(w // 2 - 5, w // 2 + 5))
    assert before[centre_patch].mean() > bone[centre_patch].mean() + 30
    driver.save_screenshot(str(artefacts / "07-viewer-bone-window.png"))

    # reset with the key R, then the next image with Page Down (the window is kept there)
    stage.send_keys("r")
    _ready(driver, window="40,400")
    assert np.abs(_shown(driver) - before).mean() < 1
    # the window from the keyboard: up raises the centre, shift+right widens (a 20th of the width)
    stage.send_keys(Keys.ARROW_UP)
    _ready(driver, window="60,400")
    stage.send_keys(Keys.SHIFT, Keys.ARROW_RIGHT)
    _ready(driver, window="60,420")
    assert np.abs(_shown(driver) - before).mean() > 1
    stage.send_keys("r")
    _ready(driver, window="40,400")
    stage.send_keys(Keys.PAGE_DOWN)
    _wait(driver, lambda d: "2 of 3" in d.find_element(By.ID, "instance-position").text, "image 2")
    _ready(driver, window="40,400", instance=s.ct_instances[1])
    assert s.ct_instances[1] in driver.current_url

    # the cine series: page through frames with the arrow key and the buttons
    driver.get(f"{archive.base}/browser/#/view/{s.ct_study}/{s.cine_series}")
    _ready(driver, frame="1", instance=s.cine_instance)
    assert driver.find_element(By.ID, "frame-total").text == "of 6"
    first = _shown(driver)
    driver.find_element(By.ID, "stage").send_keys(Keys.ARROW_RIGHT)
    _ready(driver, frame="2")
    second = _shown(driver)
    assert np.abs(second - first).mean() > 1, "frame 2 looks like frame 1"
    for _ in range(3):
        driver.find_element(By.ID, "frame-next").click()
    _ready(driver, frame="5")
    assert driver.find_element(By.ID, "frame-number").get_attribute("value") == "5"
    driver.save_screenshot(str(artefacts / "08-cine-frame-5.png"))

    # the colour image: shown in colour, the window controls are off
    driver.get(f"{archive.base}/browser/#/view/{s.ct_study}/{s.color_series}")
    _ready(driver, instance=s.color_instance)
    assert not driver.find_element(By.ID, "wl-center").is_enabled()
    rgb = np.asarray(
        Image.open(io.BytesIO(driver.find_element(By.ID, "frame-image").screenshot_as_png)).convert(
            "RGB"
        ),
        dtype=int,
    )
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() > 200  # red and blue differ: colour kept
    driver.save_screenshot(str(artefacts / "09-colour.png"))

    # the study's ZIP, as the link gives it
    driver.get(f"{archive.base}/browser/#/study/{s.ct_study}")
    link = _wait(
        driver,
        lambda d: (
            (a := d.find_element(By.ID, "study-download"))
            .get_attribute("href")
            .endswith("/download")
            and a
        ),
        "download link",
    )
    with urllib.request.urlopen(link.get_attribute("href"), timeout=WAIT) as response:
        assert response.headers["Content-Type"] == "application/zip"
        data = response.read()
    with zipfile.ZipFile(io.BytesIO(data)) as downloaded:
        assert len(downloaded.namelist()) == 6 and downloaded.testzip() is None


def test_keyboard_only_search(driver: Any, archive: Archive, artefacts: Path) -> None:
    """The search form and the results are reachable and usable with the keyboard alone."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(archive.base + "/browser/")
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#studies tbody tr")) == 2, "list")
    driver.execute_script("document.activeElement.blur()")
    driver.switch_to.active_element.send_keys(Keys.TAB)  # the skip link comes first
    assert driver.switch_to.active_element.get_attribute("class") == "skip"
    name = driver.find_element(By.ID, "q-name")
    name.send_keys("ROE", Keys.ENTER)
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#studies tbody tr")) == 1, "ROE")
    focused = driver.switch_to.active_element
    for _ in range(30):  # tab on to the study's link and open it with Enter
        focused.send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        if (focused.get_attribute("aria-label") or "").startswith("Open study"):
            break
    assert (focused.get_attribute("aria-label") or "").startswith("Open study of ROE")
    focused.send_keys(Keys.ENTER)
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#series-list li")) == 1, "series")
    driver.save_screenshot(str(artefacts / "10-keyboard-study.png"))
