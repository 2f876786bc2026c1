"""Every widget notebook, run in a real JupyterLab in headless Chromium: do its widgets respond?

For each chapter notebook that uses widgets, the test opens it, runs all cells, waits for the
chapter's closing line ("✔ chapter NN complete"), and then, for every widget that shows a
``lab-status`` element (the machine-readable status line every lab widget renders next to its
figure), moves its first slider (or changes its first dropdown or text box) and checks that the
status text *and* the figure changed. The figure check compares the image bytes, not only the
``src`` attribute: ipywidgets' Image gets a new blob URL on every update even when the PNG is the same.

Nothing is compared with stored pictures: the oracle is "the widget reacted", measured in this run.
Screenshots land in ``test-artifacts/`` for people to look at.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import ARTIFACTS, NOTEBOOKS, LabServer

pytestmark = pytest.mark.browser

SENTINEL = "✔ chapter"
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
RUN_TIMEOUT_MS = 120_000  # a whole notebook, including the first start of the offline region
REACT_TIMEOUT_MS = 20_000  # one widget update: a kernel round trip plus a matplotlib redraw
USES_WIDGETS = re.compile(r"widgets\.|labsupport\.widgets|from\s+labsupport\s+import\s+[^\n]*\bwidgets\b")

# Marks the top-level output of every widget that has a lab-status element, and returns how many.
# "Widget" = the cell output the status lives in (one displayed widget tree); statuses outside any
# ipywidget (plain HTML printed by a widget-free function) are not interactive and are left out.
MARK_WIDGETS_JS = """() => {
  let n = 0;
  for (const status of document.querySelectorAll('.jp-Notebook .lab-status')) {
    if (!status.closest('.jupyter-widgets')) continue;
    const top = status.closest('.jp-Cell-outputArea > .jp-OutputArea-child');
    if (!top || top.hasAttribute('data-lab-widget')) continue;
    top.setAttribute('data-lab-widget', String(n++));
  }
  return n;
}"""

# SHA-256 of the bytes behind an <img>, whatever its src is (data: URL or an ipywidgets blob: URL).
IMAGE_DIGEST_JS = """async (img) => {
  const bytes = await (await fetch(img.src)).arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('');
}"""


def _widget_notebooks() -> list[Path]:
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            found.append(path)  # unreadable notebooks fail loudly in the test instead of vanishing
            continue
        code = "\n".join(
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells
            if c.get("cell_type") == "code"
        )
        if USES_WIDGETS.search(code):
            found.append(path)
    return found


def menu(page: Any, top: str, item: str) -> None:
    """Click ``top`` in JupyterLab's menu bar, then ``item`` (exact text: has_text is a substring match)."""
    page.locator(f'.lm-MenuBar-itemLabel:text-is("{top}")').click()
    page.locator(f'.lm-Menu-itemLabel:text-is("{item}")').click()


def open_and_run_all(page: Any, lab: LabServer, notebook: str) -> None:
    """Open ``notebook`` in a fresh workspace, Run All Cells, wait for the sentinel and an idle kernel."""
    from playwright.sync_api import expect

    page.goto(lab.url(f"/lab/tree/{notebook}?reset"))  # ?reset: a fresh workspace, no restored tabs
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    idle = page.locator(".jp-StatusBar-TextItem", has_text=KERNEL_IDLE)
    dialog = page.locator(".jp-Dialog")
    expect(idle.or_(dialog).first).to_be_visible(timeout=60_000)
    if dialog.is_visible():  # "Select Kernel": autoStartDefaultKernel should prevent it, but be safe
        dialog.locator("button", has_text="Select").click()
        idle.wait_for()
    sentinel = page.locator(".jp-OutputArea-output", has_text=SENTINEL)
    traceback = page.locator(STDERR, has_text="Traceback")
    # The notebooks are stored with their outputs, sentinel included: clear them first, or the
    # test would find the old sentinel (and old widgets) before Run All has done anything.
    menu(page, "Edit", "Clear Outputs of All Cells")
    expect(sentinel).to_have_count(0)
    menu(page, "Run", "Run All Cells")

    # A failing cell stops Run All, so wait for the sentinel *or* a traceback and say which it was.
    sentinel.or_(traceback).first.wait_for(timeout=RUN_TIMEOUT_MS)
    if traceback.count():
        pytest.fail(f"{notebook}: a cell failed during Run All:\n{traceback.first.inner_text()[-3000:]}")
    expect(idle).to_be_visible(timeout=RUN_TIMEOUT_MS)


def assert_no_errors(page: Any, notebook: str) -> None:
    """No traceback in any output (cells or Output widgets) and no widget that failed to render."""
    tracebacks = [text for text in page.locator(STDERR).all_inner_texts() if "Traceback" in text]
    assert not tracebacks, f"{notebook}: traceback in the outputs:\n{tracebacks[0][-3000:]}"
    broken = page.get_by_text("Error displaying widget")
    assert broken.count() == 0, f"{notebook}: {broken.count()} widget(s) failed to render ('Error displaying widget')"


def _image_state(image: Any) -> tuple[str, str]:
    return image.get_attribute("src") or "", image.evaluate(IMAGE_DIGEST_JS)


Attempt = tuple[str, Callable[[], None]]


def changes(page: Any, widget: Any) -> list[Attempt]:
    """Ways to change the widget's first slider, else its first dropdown, else its first text box,
    else its first button that is not a plain Refresh.

    Several, in order: a change may legitimately land in an error state (a narrower VPC that no
    longer fits its subnets, say), and then the test tries the next one (the other direction).
    An empty list means the widget has nothing to move (a display-only widget).
    """
    slider = widget.locator('.widget-slider .noUi-handle[role="slider"]')
    if slider.count():
        handle = slider.first
        now = float(handle.get_attribute("aria-valuenow") or 0)
        low = float(handle.get_attribute("aria-valuemin") or now)
        high = float(handle.get_attribute("aria-valuemax") or now)

        def press(key: str, times: int) -> Callable[[], None]:
            def run() -> None:
                handle.focus()
                for _ in range(times):
                    page.keyboard.press(key)

            return run

        # Each attempt starts where the previous one left the slider: one step up, then two down.
        if now < high:
            return [(f"slider {now:g} ArrowRight", press("ArrowRight", 1))] + (
                [(f"slider {now + 1:g} ArrowLeft x2", press("ArrowLeft", 2))] if now > low else []
            )
        return [(f"slider {now:g} ArrowLeft", press("ArrowLeft", 1))] if now > low else []
    dropdown = widget.locator(".widget-dropdown select")
    if dropdown.count():
        select = dropdown.first
        labels = [o.strip() for o in select.locator("option").all_inner_texts()]
        current = select.evaluate("s => s.selectedIndex")
        return [
            (f"dropdown -> {labels[i]!r}", lambda i=i: select.select_option(index=i))
            for i in range(len(labels))
            if i != current
        ][:3]
    text = widget.locator(".widget-text input")
    if text.count():
        box = text.first
        old = box.input_value()

        def type_in(new: str) -> Callable[[], None]:
            def run() -> None:
                box.fill(new)
                box.press("Enter")

            return run

        return [(f"text {old!r} -> {new!r}", type_in(new)) for new in _other_texts(old)]
    # Last resort: a button that changes what the widget shows (e.g. "watch 10 s more" on the
    # target-health timeline). A lone Refresh button redraws the same picture, so it does not count.
    buttons = widget.locator("button.widget-button")
    for i in range(buttons.count()):
        button = buttons.nth(i)
        label = button.inner_text().strip()
        if label and "refresh" not in label.lower():
            return [(f"button {label!r}", button.click)]
    return []


def _other_texts(value: str) -> list[str]:
    """Different, valid-looking values for a text box (the lab's text boxes mostly hold CIDRs or IPs)."""
    cidr = re.fullmatch(r"\s*(\d+\.\d+\.\d+\.\d+)/(\d+)\s*", value)
    if cidr:
        address, prefix = cidr.group(1), int(cidr.group(2))
        return [f"{address}/{p}" for p in (prefix + 1, prefix - 1) if 0 < p <= 32]
    ip = re.fullmatch(r"\s*(\d+)\.(\d+)\.(\d+)\.(\d+)\s*", value)
    if ip:
        a, b, c, d = (int(x) for x in ip.groups())
        return [f"{a}.{b}.{c}.{(d + 1) % 256}", "8.8.8.8"]
    return [value + "x" if value else "10.0.0.0/16"]


def _is_error(status: Any) -> bool:
    return bool(
        status.evaluate(
            "e => e.classList.contains('lab-error') || !!e.querySelector('.lab-error')"
            " || /^\\s*error/i.test(e.innerText)"
        )
    )


def _wait_for_new_text(status: Any, seen: set[str], where: str) -> str:
    """Wait until the status shows a text not seen before (the kernel answered), and return it."""
    deadline = time.monotonic() + REACT_TIMEOUT_MS / 1000
    while True:
        text = status.inner_text()
        if text not in seen:
            return text
        if time.monotonic() > deadline:
            pytest.fail(f"{where}: the lab-status text did not change (still {text!r})")
        time.sleep(0.1)


@pytest.mark.parametrize("notebook", _widget_notebooks(), ids=lambda p: p.stem)
def test_widgets_respond_in_jupyterlab(page: Any, lab_server: LabServer, notebook: Path) -> None:
    from playwright.sync_api import expect

    name = notebook.name
    open_and_run_all(page, lab_server, name)
    assert_no_errors(page, name)

    count = page.evaluate(MARK_WIDGETS_JS)
    assert count > 0, (
        f"{name} uses widgets, but none shows a `lab-status` element, so the test cannot tell whether "
        "they respond. Lab widgets render their status as <span class='lab-status'>…</span>."
    )
    ARTIFACTS.mkdir(exist_ok=True)
    poked = 0
    for index in range(count):
        widget = page.locator(f'[data-lab-widget="{index}"]')
        widget.scroll_into_view_if_needed()
        status = widget.locator(".lab-status").first
        image = widget.locator("img").first
        assert image.count(), f"{name}: widget {index} has a lab-status but no <img> (figures are PNG images)"
        text_before = status.inner_text()
        src_before, digest_before = _image_state(image)

        attempts = changes(page, widget)
        if not attempts:
            print(f"{name}: widget {index} ({text_before!r}) has no slider, dropdown or text box; display only")
            continue
        poked += 1
        seen = {text_before}
        for number, (action, run) in enumerate(attempts, start=1):
            where = f"{name}: widget {index} after {action}"
            run()
            seen.add(_wait_for_new_text(status, seen, where))
            if not _is_error(status):
                break
            if number == len(attempts):
                pytest.fail(f"{where}: every change ended in an error status: {sorted(seen - {text_before})!r}")
        expect(image, f"{where}: the image src did not change").not_to_have_attribute(
            "src", src_before, timeout=REACT_TIMEOUT_MS
        )
        src_after, digest_after = _image_state(image)
        assert digest_after != digest_before, f"{where}: the image src changed but the PNG is byte-identical"
        assert src_after != src_before
        widget.screenshot(path=str(ARTIFACTS / f"{notebook.stem}-widget{index}.png"))

    assert poked, f"{name}: none of its {count} lab-status widgets has a slider, dropdown or text box to move"
    page.locator(".jp-StatusBar-TextItem", has_text=KERNEL_IDLE).wait_for()
    assert_no_errors(page, name)  # callbacks write their tracebacks into Output widgets
    page.locator('[data-lab-widget="0"]').scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{notebook.stem}.png"))
