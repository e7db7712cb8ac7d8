"""Child processes that end with their purpose: argument lists, a timeout, their own group.

`run` is `subprocess.run(cmd, capture_output=True, text=True, timeout=...)` with the child in
a new session. When the timeout expires, or Ctrl-C / SIGTERM interrupts edgekit while it
waits, the whole group (the child and everything it started, e.g. mmdebstrap's apt and
dpkg, g++'s cc1plus, a nested edgekit) gets SIGTERM, then SIGKILL after a grace period, so
nothing keeps writing into a folder edgekit is about to remove. `stop_all` does the same for
the children of every thread (bench runs its cells in threads) and lets no new one start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any

GRACE_S = 5.0  # between SIGTERM and SIGKILL: a nested edgekit removes its temporary files
_live: set[subprocess.Popen[str]] = set()
_lock = threading.Lock()
_stopping = False


def run(cmd: Sequence[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `cmd`; stdout/stderr captured as text unless redirected. A timeout still raises
    `subprocess.TimeoutExpired`, after the group is stopped."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    with _lock:
        if _stopping:
            raise InterruptedError("edgekit is stopping: no new child process is started")
        child = subprocess.Popen(list(cmd), text=True, start_new_session=True, **kwargs)
        _live.add(child)
    try:
        out, err = child.communicate(timeout=timeout)
    except BaseException:  # TimeoutExpired, KeyboardInterrupt, edgekit's Terminated
        stop_group(child)
        raise
    finally:
        with _lock:
            _live.discard(child)
    return subprocess.CompletedProcess(list(cmd), child.returncode, out, err)


def stop_all(grace_s: float = GRACE_S) -> None:
    """On Ctrl-C/SIGTERM: stop the running children of every thread, start no new one.

    Only signals are sent here; the threads that started the children reap them."""
    global _stopping
    with _lock:
        _stopping = True
        children = list(_live)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + grace_s
        for child in children:
            _signal_group(child, sig)
        while time.monotonic() < deadline and any(_group_alive(c) for c in children):
            time.sleep(0.05)


def _signal_group(child: subprocess.Popen[str], sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(child: subprocess.Popen[str]) -> bool:
    if child.returncode is not None:
        return False
    try:
        os.killpg(child.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_group(child: subprocess.Popen[str], grace_s: float = GRACE_S) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after `grace_s`; reap the child."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, grace_s)):
        try:
            os.killpg(child.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            child.communicate(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    if child.poll() is None:  # a grandchild outside the group may still hold the pipes
        child.kill()
    child.wait()
