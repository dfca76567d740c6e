"""One notebook open in JupyterLab in a real browser, and what a learner would do with it.

Lab's own commands (Run All Cells, Save) are run by name through ``window.jupyterapp`` (the
server is started with ``expose_app_in_browser``): the same code the menus run, without
depending on menu labels or keyboard focus. Everything the tests check is read from the page.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Locator, Page

from lab_server import LabServer

KERNEL_START_TIMEOUT = 90.0  # seconds: a cold first kernel on a slow CI machine
RUN_ALL_TIMEOUT = 180.0  # seconds: a notebook takes up to ~20 s; leave room for slow machines
SAVE_TIMEOUT = 30.0

STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'

# The notebook panel showing a given file, found among the main area's widgets (undefined
# while JupyterLab is still loading).
FIND_PANEL = """
    (path) => window.jupyterapp && Array.from(window.jupyterapp.shell.widgets('main'))
        .find(widget => widget.context && widget.context.path === path)
"""


class NotebookPage:
    """A notebook of the course, open in its own JupyterLab tab."""

    def __init__(self, page: Page, lab: LabServer, name: str) -> None:
        self.page = page
        self.lab = lab
        self.name = name
        self.path = f"notebooks/{name}"

    @classmethod
    def open(cls, page: Page, lab: LabServer, name: str) -> NotebookPage:
        """Open ``notebooks/<name>`` and wait until its kernel is started and idle."""
        notebook = cls(page, lab, name)
        page.goto(lab.notebook_url(name))
        notebook.wait_until_kernel_idle(KERNEL_START_TIMEOUT)
        return notebook

    # ------------------------------------------------------------------ reading the page

    def _evaluate(self, body: str) -> object:
        """Run ``body`` (JavaScript using ``panel``) against this notebook's panel."""
        script = f"(path) => {{ const panel = ({FIND_PANEL})(path); {body} }}"
        return self.page.evaluate(script, self.path)

    def kernel_status(self) -> str:
        """``idle``, ``busy``, ``starting``… as the toolbar shows it; ``""`` before the panel
        exists."""
        return str(
            self._evaluate(
                "return panel && panel.sessionContext.isReady"
                " ? panel.sessionContext.kernelDisplayStatus : '';"
            )
        )

    @property
    def panel(self) -> Locator:
        """The notebook's tab panel (toolbar, cells and outputs)."""
        return self.page.locator(f"#{self._evaluate('return panel.id;')}")

    @property
    def outputs(self) -> Locator:
        """Every output area of every cell."""
        return self.panel.locator(".jp-OutputArea-output")

    def running_cells(self) -> int:
        """How many cells show the ``[*]`` prompt (queued or running)."""
        return self.panel.locator(".jp-InputPrompt", has_text="[*]").count()

    def tracebacks(self) -> list[str]:
        """The text of every traceback on the page (error outputs render as stderr text; a
        warning or a progress bar on stderr is not a traceback)."""
        return self.panel.locator(STDERR, has_text="Traceback").all_inner_texts()

    def error_outputs(self) -> list[str]:
        """``ename: evalue`` for every output of type ``error`` in the notebook's model."""
        errors = self._evaluate(
            """
            const found = [];
            for (const cell of panel.content.model.cells) {
                if (cell.type !== 'code') continue;
                for (let i = 0; i < cell.outputs.length; i++) {
                    const output = cell.outputs.get(i).toJSON();
                    if (output.output_type === 'error') {
                        found.push(`${output.ename}: ${output.evalue}`);
                    }
                }
            }
            return found;
            """
        )
        assert isinstance(errors, list)
        return [str(error) for error in errors]

    # ------------------------------------------------------------------ acting on it

    def run_all(self) -> None:
        """Run → Run All Cells, then wait until every cell has finished."""
        self._evaluate(
            "window.__runAllDone = false;"
            "window.jupyterapp.shell.activateById(panel.id);"
            "window.jupyterapp.commands.execute('notebook:run-all-cells')"
            "    .finally(() => { window.__runAllDone = true; });"
        )
        timeout_ms = RUN_ALL_TIMEOUT * 1000
        self.page.wait_for_function("() => window.__runAllDone === true", timeout=timeout_ms)
        self.wait_until_finished(RUN_ALL_TIMEOUT)

    def run_cell_containing(self, text: str) -> str:
        """Select the first code cell whose source contains ``text``, run only it (Ctrl+Enter)
        and return the text of its outputs once it has finished."""
        index = self._evaluate(
            f"""
            const cells = Array.from(panel.content.model.cells);
            const index = cells.findIndex(
                cell => cell.type === 'code' && cell.sharedModel.getSource().includes({text!r}));
            if (index < 0) return -1;
            panel.content.activeCellIndex = index;
            window.jupyterapp.shell.activateById(panel.id);
            window.jupyterapp.commands.execute('notebook:run-cell');
            return index;
            """
        )
        assert isinstance(index, int)
        assert index >= 0, f"{self.name}: no cell contains {text!r}"
        self.page.wait_for_timeout(250)  # let the kernel go busy before waiting for idle
        self.wait_until_finished(RUN_ALL_TIMEOUT)
        cell = self.panel.locator(".jp-Notebook .jp-Cell").nth(index)
        return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())

    def wait_until_kernel_idle(self, timeout: float) -> None:
        self._wait_for(lambda: self.kernel_status() == "idle", timeout, "the kernel to be idle")

    def wait_until_finished(self, timeout: float) -> None:
        """Wait until no cell shows ``[*]`` and the kernel is idle."""
        self._wait_for(
            lambda: self.running_cells() == 0 and self.kernel_status() == "idle",
            timeout,
            "every cell to finish",
        )

    def save(self) -> None:
        """File → Save (Ctrl+S) and wait until the file is written."""
        self._evaluate(
            "window.jupyterapp.shell.activateById(panel.id);"
            "return window.jupyterapp.commands.execute('docmanager:save');"
        )
        self._wait_for(
            lambda: self._evaluate("return panel.context.model.dirty;") is False,
            SAVE_TIMEOUT,
            "the notebook to be saved",
        )

    def _wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``condition`` every 0.25 s until it holds; a TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: waited {timeout:.0f} s for {what}")
            self.page.wait_for_timeout(250)


#: What the ``open_notebook`` fixture gives a test: open this notebook in that JupyterLab.
OpenNotebook = Callable[[LabServer, str], NotebookPage]
