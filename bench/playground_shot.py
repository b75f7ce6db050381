"""The README's picture of the serve page: docs/playground.png.

    python bench/playground_shot.py [--out docs/playground.png] [--steps 300] [--work DIR]

Trains a causal, a masked and a diffusion model of the default size on the bundled corpus
(--steps each, evaluated every 25; kept in --work, so a second run only takes the picture),
serves them with `tinylm serve --runs-dir` (bench/serve_bench.py's Server), and drives a
headless chromium with the page test's helpers (tests/browser.py): one prompt completed by the
three families on the Side by side tab, then the Runs tab. The two screenshots, stacked, are
written to --out (Pillow, which matplotlib brings, stacks them).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
from pathlib import Path

from serve_bench import Server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import console_errors, find_browser, start_chromium, wait_for  # noqa: E402

from tinylm.atomic import write_atomic  # noqa: E402

PROMPT = "ROMEO:"
SIZE = (1280, 1000)
ALL_DONE = "[...document.querySelectorAll('#side pre')].every(p => p.dataset.state === 'done')"


def train(runs: Path, steps: int) -> None:
    """The three families, the same number of steps each (a time budget would depend on load)."""
    for objective in ("causal", "masked", "diffusion"):
        out = runs / objective
        if not (out / "best").is_dir():
            cmd = ["train", "--objective", objective, "--max-steps", str(steps),
                   "--eval-every", "25", "--out", str(out), "-q"]  # fmt: skip
            subprocess.run([sys.executable, "-m", "tinylm", *cmd], check=True)


def shoot(driver, url: str) -> list[bytes]:  # noqa: ANN001
    """Screenshots of the Side by side tab (after a completion) and of the Runs tab."""
    driver.get(f"{url}#side")
    wait_for(driver, "document.body.dataset.ready === '3'")
    text = driver.find_element("id", "side-text")
    text.clear()
    text.send_keys(PROMPT)
    driver.find_element("id", "side-complete").click()
    wait_for(driver, ALL_DONE, 60)
    shots = [_content(driver)]
    driver.find_element("css selector", "[data-tab=runs]").click()
    wait_for(driver, "Number(document.querySelector('#chart-val').dataset.points) > 0")
    shots.append(_content(driver))
    errors = console_errors(driver)
    if errors:
        raise SystemExit(f"the page logged errors: {errors}")
    return shots


def _content(driver) -> bytes:  # noqa: ANN001
    """The viewport's screenshot cut below the visible tab's content."""
    from PIL import Image

    bottom = driver.execute_script(
        "const s = document.querySelector('section.tab.active');"
        "return (s.getBoundingClientRect().bottom + 16) * window.devicePixelRatio;"
    )
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png()))
    out = io.BytesIO()
    image.crop((0, 0, image.width, min(image.height, int(bottom)))).save(out, "PNG")
    return out.getvalue()


def stack(pngs: list[bytes]) -> bytes:
    """The images one under the other, with a thin rule between."""
    from PIL import Image

    images = [Image.open(io.BytesIO(p)).convert("RGB") for p in pngs]
    width = max(i.width for i in images)
    sheet = Image.new("RGB", (width, sum(i.height for i in images) + 2 * len(images)), "#cbd5e1")
    y = 0
    for image in images:
        sheet.paste(image, (0, y))
        y += image.height + 2
    out = io.BytesIO()
    sheet.save(out, "PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/playground.png"))
    ap.add_argument("--steps", type=int, default=300, help="training steps of each model")
    ap.add_argument("--work", type=Path, help="keep the runs here (default: a temp dir)")
    args = ap.parse_args()
    found = find_browser()
    if isinstance(found, str):
        raise SystemExit(found)
    work = args.work or Path(tempfile.mkdtemp(prefix="tinylm-shot-"))
    train(work / "runs", args.steps)
    with Server([], "--runs-dir", str(work / "runs")) as server:
        driver = start_chromium(*found, work / "profile", SIZE)
        try:
            pngs = shoot(driver, server.url)
        finally:
            driver.quit()
    write_atomic(args.out, stack(pngs))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
