"""The report page in headless Chromium (Debian's chromium + chromium-driver, driven by selenium): a finance
lead changes the busy hours and the model, submits, and reads an updated answer and chart.

Skipped locally when Chromium is absent; with ``CI`` set it must run (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from config.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _browser_available() -> bool:
    return bool(shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER))


pytestmark = pytest.mark.skipif(not _browser_available() and not os.environ.get("CI"),
                                reason="Chromium and chromedriver are not installed (apt-get install chromium "
                                "chromium-driver); CI installs them and runs this test")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free loopback port in a uvicorn thread, on a fresh database with the bundled data."""
    import uvicorn

    from rentbuy.context import open_database
    from rentbuy.web import create_app

    folder = tmp_path_factory.mktemp("browser-db")
    settings = Settings(database_url=f"sqlite:///{folder / 'rentbuy.sqlite3'}", data_dir=folder)
    open_database(settings).dispose()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    previous = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "1"  # never let selenium-manager fetch a driver (the service names it anyway)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="rentbuy-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", "--window-size=1280,1600", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(60)
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
        if previous is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = previous


def test_changing_busy_hours_and_model_updates_the_answer_and_chart(base_url: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(base_url + "/")
    wait = WebDriverWait(browser, 60)
    recommendation = wait.until(lambda d: d.find_element(By.ID, "recommendation")).text
    chart = browser.find_element(By.ID, "chart-utilization").get_attribute("src")
    assert "llama-3.1-8b" in recommendation and chart.startswith("data:image/png;base64,")

    hours = browser.find_element(By.ID, "busy_hours_per_day")
    hours.clear()
    hours.send_keys("16")
    Select(browser.find_element(By.ID, "model")).select_by_value("mistral-7b")
    browser.execute_script("window.rentbuyStayed = true")  # survives only an in-place update
    browser.find_element(By.ID, "submit").click()

    wait.until(lambda d: "mistral-7b" in d.find_element(By.ID, "recommendation").text)
    updated = browser.find_element(By.ID, "recommendation").text
    assert updated != recommendation
    assert "16.0 busy hours a day" in browser.find_element(By.ID, "what-if").text
    image = browser.find_element(By.ID, "chart-utilization")
    assert image.get_attribute("src") != chart and image.get_attribute("src").startswith("data:image/png;base64,")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image)
    # The form keeps what was chosen and the address is shareable (the script pushed the query).
    assert Select(browser.find_element(By.ID, "model")).first_selected_option.get_attribute("value") == "mistral-7b"
    assert "busy_hours_per_day=16" in browser.current_url and "model=mistral-7b" in browser.current_url
    assert browser.execute_script("return window.rentbuyStayed === true"), "the script did not update in place"


def test_a_bad_value_is_explained_beside_its_field(base_url: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(base_url + "/")
    wait = WebDriverWait(browser, 60)
    hours = wait.until(lambda d: d.find_element(By.ID, "busy_hours_per_day"))
    hours.clear()
    hours.send_keys("25")
    browser.find_element(By.ID, "submit").click()
    message = wait.until(lambda d: d.find_element(By.ID, "error-busy_hours_per_day")).text
    assert "busy_hours_per_day" in message and "0 to 24" in message
