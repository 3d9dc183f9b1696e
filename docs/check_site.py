"""Open the built documentation in a real browser and fail on what a reader would hit.

`make docs-check` runs it after `make docs`::

    python docs/check_site.py docs/_build/html --screenshots docs/_build/screenshots

It serves the site on localhost and opens the home page, a tutorial and an API page in headless
Chromium (Debian's `chromium`, driven by Playwright; no browser is downloaded). A page fails on
a console error or uncaught exception, a request that fails or is answered with an error, a
request to anywhere but the local server (the site must work offline), an image that does not
load, or a link into the site whose page or anchor does not exist. Each tutorial page must
show figures (the notebooks' outputs). A full-page screenshot of each opened page is saved, to
be looked at.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DEFAULT_PAGES = ["index.html", "tutorials/01_explore_data.html",
                 "api/generated/kit.data.PatchDataset.html"]  # fmt: skip


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


def serve(root: Path) -> tuple[ThreadingHTTPServer, str]:
    """Serve `root` on a free localhost port in a daemon thread; the server and its URL."""
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


@functools.cache
def fetch(url: str) -> tuple[int, str]:
    """Status and text of a local URL."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


def link_problems(links: list[str], base: str) -> list[str]:
    """Links into the site (`base`) whose page is missing or whose #anchor is not an id there."""
    problems = []
    for link in sorted(set(links)):
        if not link.startswith(base):
            continue
        page, anchor = urldefrag(link)
        status, text = fetch(page)
        if status != 200:
            problems.append(f"broken link {link}: HTTP {status}")
        elif anchor and not re.search(rf"""\bid=["']{re.escape(anchor)}["']""", text):
            problems.append(f"broken link {link}: no element with id {anchor!r}")
    return problems


def check_page(context, url: str, base: str, screenshot: Path) -> list[str]:
    """Open `url`; everything wrong with it, as lines."""
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))

    def local_only(route):
        if route.request.url.startswith(base) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            problems.append(f"request outside the site: {route.request.url}")
            route.abort()

    page.route("**/*", local_only)
    page.goto(url, wait_until="load")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # lazy images, if any
    page.wait_for_load_state("networkidle")
    images = page.evaluate(
        """() => Promise.all([...document.images].map(async img => {
               try { await img.decode(); } catch (e) {}
               return {src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0};
           }))"""
    )
    problems += [f"image not loaded: {i['src']}" for i in images if not i["ok"]]
    links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    problems += link_problems(links, base)
    page.evaluate("window.scrollTo(0, 0)")
    page.mouse.click(1, 1)  # nothing focused: no "skip to main content" banner in the picture
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"{urlsplit(url).path}: {len(images)} images, {len(links)} links -> {screenshot}")
    page.close()
    return problems


def tutorial_figures(html: Path) -> list[str]:
    """Tutorial pages that show no figure, print a figure as text instead of drawing it (a
    bare matplotlib Figure displayed before the notebook's inline backend was set up), or
    whose figures are missing from the build."""
    problems = []
    for page in sorted((html / "tutorials").glob("*.html")):
        if page.name == "index.html":
            continue
        text = page.read_text(encoding="utf-8")
        sources = re.findall(r"<img[^>]+src=\"([^\"]+)\"", text)
        for printed in re.findall(r"&lt;Figure size [^&]*&gt;", text):
            problems.append(f"{page.relative_to(html)}: a figure printed, not drawn: {printed}")
        if not sources:
            problems.append(f"{page.relative_to(html)}: no figure (was the notebook executed?)")
        for source in sources:
            if not source.startswith("data:") and not (page.parent / source).is_file():
                problems.append(f"{page.relative_to(html)}: missing image {source}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="the built site (docs/_build/html)")
    parser.add_argument("--screenshots", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--pages", nargs="+", default=DEFAULT_PAGES, help="pages to open")
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium executable")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    problems = {"tutorial figures": tutorial_figures(args.html)}
    server, base = serve(args.html)
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 900},
            )  # fmt: skip
            for name in args.pages:
                if not (args.html / name).is_file():
                    problems[name] = [f"{name}: not in the build"]
                    continue
                shot = args.screenshots / (name.replace("/", "_").removesuffix(".html") + ".png")
                problems[name] = check_page(context, base + name, base, shot)
            context.close()
    finally:
        server.shutdown()
    failed = {name: lines for name, lines in problems.items() if lines}
    for name, lines in failed.items():
        print(f"\n{name}:", *(f"  {line}" for line in lines), sep="\n")
    print("\nsite check:", "FAILED" if failed else f"passed ({len(args.pages)} pages opened)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
