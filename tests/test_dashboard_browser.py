"""One test in a real browser: Debian's headless Chromium against the dashboard served on 127.0.0.1, by
`tuner dashboard` (an installed package) and by `streamlit run dashboard/app.py` (a checkout)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["tuner dashboard", "streamlit run dashboard/app.py"])
def served_dashboard(request, small_study, tmp_path):
    url, study = small_study
    port = free_port()
    log = (tmp_path / "dashboard.log").open("w")
    if request.param == "tuner dashboard":
        command = [sys.executable, "-m", "tuner.cli", "dashboard", "--storage", url, "--port", str(port)]
    else:  # as a Streamlit user runs an app from its repository
        command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port)]
        command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    server = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(tmp_path), "TUNER_STORAGE": url},
        cwd=REPO,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise AssertionError(
                    "the dashboard did not start:\n" + (tmp_path / "dashboard.log").read_text()
                ) from None
            time.sleep(0.5)
    yield base, study
    os.killpg(server.pid, signal.SIGTERM)  # the server and anything it started
    server.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for both ways of serving the dashboard."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
        "--window-size=1400,1400",
    ):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach for a download
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_overfitting_chart_is_drawn_in_a_real_browser(served_dashboard, browser, tmp_path):
    base, study = served_dashboard
    browser.get(f"{base}/overfitting?study={study}&trials=0,1")

    def drawn_curves(driver: webdriver.Chrome) -> list:
        for plot in driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot"):
            if "Training vs validation loss" in plot.text:
                return plot.find_elements(By.CSS_SELECTOR, "g.trace.scatter path.js-line")
        return []

    lines = WebDriverWait(browser, 90, poll_frequency=0.5).until(
        lambda d: len(drawn_curves(d)) >= 4 and drawn_curves(d)
    )
    assert all(line.get_attribute("d") for line in lines)  # each train/validation curve has a drawn path
    legend = browser.find_element(By.CSS_SELECTOR, ".js-plotly-plot .legend").text
    assert "trial 0 train" in legend and "trial 1 validation" in legend
    shot = Path(tmp_path / "overfitting.png")
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
