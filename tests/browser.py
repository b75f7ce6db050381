"""A headless Debian chromium driven by selenium: the page's test and its screenshot use it.

Both binaries are given explicitly, so selenium never tries to download a browser or a driver.
"""

from __future__ import annotations

import shutil
from pathlib import Path

BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVERS = ("/usr/bin/chromedriver",)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _first(paths: tuple[str, ...], name: str) -> str | None:
    found = [p for p in paths if Path(p).is_file()]
    return found[0] if found else shutil.which(name)


def find_browser() -> tuple[str, str] | str:
    """(chromium, chromedriver), or why they cannot be used here."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    browser, driver = _first(BROWSERS, "chromium"), _first(DRIVERS, "chromedriver")
    if browser is None or driver is None:
        return (
            "no chromium and chromedriver here (Debian: apt-get install chromium chromium-driver)"
        )
    return browser, driver


def start_chromium(browser: str, driver: str, profile: Path, size: tuple[int, int] = (1280, 900)):  # noqa: ANN201
    """A headless chromium with a fresh profile in `profile`, its console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def console_errors(driver) -> list[str]:  # noqa: ANN001
    """The browser console's errors since the last call (failed loads and script errors)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_for(driver, script: str, timeout: float = 10.0):  # noqa: ANN001, ANN201
    """Wait until the JavaScript expression `script` is truthy; its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(f"return {script};")
    )
