"""JupyterLab as a learner starts it, on a throw-away copy of the course, for the browser tests.

The server runs from the same environment as pytest (``.venv``), sees no ``SINCH_*`` variable
but the ones a test asks for, keeps the sandbox in memory, and uses its own Jupyter folders so
that neither the developer's settings nor their kernels take part.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
COURSE_FOLDERS = ("notebooks", "data")
# Settings that make the page predictable: every cell in the DOM (no virtual scrolling), no
# autosave behind the test's back, no news or update checks over the network. Widget state is
# saved with the notebook, so that a test can check what a saved form would give away.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyter-widgets/jupyterlab-manager/plugin": {"saveState": True},
}


@dataclass
class LabServer:
    """A running ``jupyter lab`` and where it serves from."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def notebook_url(self, name: str) -> str:
        """The address that opens ``notebooks/<name>`` in a fresh workspace."""
        return f"{self.url}/lab/tree/notebooks/{name}?token={self.token}&reset"

    def notebook_file(self, name: str) -> Path:
        return self.root / "notebooks" / name

    def api(self, method: str, path: str) -> requests.Response:
        """Call the Jupyter server's REST API."""
        headers = {"Authorization": f"token {self.token}"}
        answer = requests.request(method, f"{self.url}/api{path}", headers=headers, timeout=10)
        answer.raise_for_status()
        return answer

    def shut_down_kernels(self) -> None:
        """End every notebook session so that kernels do not pile up between tests."""
        for session in self.api("GET", "/sessions").json():
            self.api("DELETE", f"/sessions/{session['id']}")

    def stop(self) -> None:
        """Ask the server to stop (it shuts its kernels down); kill its process group if it
        lingers, kernels included."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_course(destination: Path) -> Path:
    """Copy ``notebooks/`` and ``data/`` side by side (the notebooks read ``../data/...``)."""
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "*.journal.jsonl", "__pycache__")
    for folder in COURSE_FOLDERS:
        shutil.copytree(ROOT / folder, destination / folder, ignore=ignore)
    return destination


def lab_environment(jupyter_home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment without any ``SINCH_*`` setting, an in-memory sandbox, Jupyter
    and IPython folders of its own under ``jupyter_home``, plus ``extra``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SINCH_")}
    environment.update(
        SINCH_SANDBOX_DB=":memory:",
        JUPYTER_CONFIG_DIR=str(jupyter_home / "config"),
        JUPYTER_DATA_DIR=str(jupyter_home / "data"),
        JUPYTER_RUNTIME_DIR=str(jupyter_home / "runtime"),
        IPYTHONDIR=str(jupyter_home / "ipython"),  # no startup scripts, no shared history
    )
    environment.pop("JUPYTER_PATH", None)
    environment.update(extra or {})
    return environment


def write_lab_settings(folder: Path) -> Path:
    """Write :data:`LAB_SETTINGS` as JupyterLab's user settings; returns the folder."""
    for plugin, values in LAB_SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    return folder


def lab_command(root: Path, port: int, token: str, jupyter_home: Path) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        # window.jupyterapp: lets the tests run Lab's own commands (Run All, Save) by name.
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={write_lab_settings(jupyter_home / 'user-settings')}",
        f"--LabApp.workspaces_dir={jupyter_home / 'workspaces'}",
    ]
    if os.getuid() == 0:  # containers and CI: Jupyter refuses root unless told
        command.append("--allow-root")
    return command


def start_lab(workdir: Path, extra_env: Mapping[str, str] | None = None) -> LabServer:
    """Copy the course into ``workdir`` and start JupyterLab on it; waits until it answers."""
    root = copy_course(workdir / "course")
    jupyter_home = workdir / "jupyter"
    port, token = free_port(), secrets.token_hex(16)
    log = workdir / "jupyter-lab.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            lab_command(root, port, token, jupyter_home),
            cwd=root,
            env=lab_environment(jupyter_home, extra_env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, kernels included: see stop()
        )
    server = LabServer(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        wait_until_answering(server)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def running_lab(workdir: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[LabServer]:
    """:func:`start_lab`, and always stop the server at the end, its kernels first."""
    server = start_lab(workdir, extra_env)
    try:
        yield server
    finally:
        try:
            server.shut_down_kernels()
        finally:
            server.stop()


def wait_until_answering(server: LabServer, timeout: float = 90.0) -> None:
    """Poll ``/api/status`` until the server answers; fail with its log if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited early:\n{server.log_tail()}")
        try:
            server.api("GET", "/status")
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{server.log_tail()}")
