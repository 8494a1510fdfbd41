"""Every process bench starts ends with bench, and so does everything that process starts.

Two ways a process tree outlives the command, and the one answer to each:

- **A child killed alone leaves its own children running** (a trial that
  times out, whose model started a process pool). Every child starts as the
  leader of a *process group* of its own (``start_new_session``), its
  children inherit the group, and ending it kills the group
  (:func:`end_group`), not only the leader.
- **bench killed by ``kill -9`` runs no cleanup at all.** A worker watches a
  pipe only bench holds and kills its own group when the pipe closes (see
  :func:`hello_bench.measure.worker.watch_parent`). A child that runs no code of
  ours (the calibration's busy loops, a package build) starts through
  :func:`owned`: on Linux the kernel sends it SIGKILL when bench dies
  (``PR_SET_PDEATHSIG``, set before its program runs; it survives ``exec``).

The death signal follows the *thread* that started the child, so children
that must outlive a short-lived thread are started from the main thread.
Only the standard library: the run side and the worker side both use it.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from typing import Any

#: Runs before the real program (Linux): the kernel kills this process when its parent dies; if the parent
#: died before the request took effect, exit now. Then becomes the real program (``exec``).
TRAMPOLINE = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, 9)\n"  # PR_SET_PDEATHSIG = 1, SIGKILL = 9
    "os.getppid() == int(sys.argv[1]) or os._exit(70)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def owned(argv: list[str]) -> list[str]:
    """``argv`` started so that it dies when this process dies (Linux; elsewhere ``argv`` as it is).

    A program that cannot be found raises FileNotFoundError here, as starting it directly would."""
    if not sys.platform.startswith("linux"):
        return list(argv)
    program = shutil.which(argv[0]) if os.sep not in argv[0] else argv[0]
    if program is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
    return [sys.executable, "-I", "-c", TRAMPOLINE, str(os.getpid()), program, *argv[1:]]


def end_group(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s whole process group (it was started with ``start_new_session``), then reap ``proc``.

    The group is killed before the leader is reaped, while its id cannot have been given to anyone else."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # the group is gone already
        if proc.poll() is None:
            proc.kill()
    proc.wait()


def run(argv: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run`` for a child that must not outlive bench nor its timeout, children included: on a
    timeout (``subprocess.TimeoutExpired``, as ``subprocess.run`` raises it) or an interrupt, its group is killed."""
    if kwargs.pop("capture_output", False):
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    check = kwargs.pop("check", False)
    given = kwargs.pop("input", None)
    if given is not None:
        kwargs["stdin"] = subprocess.PIPE
    proc = subprocess.Popen(owned(argv), start_new_session=True, **kwargs)
    try:
        stdout, stderr = proc.communicate(given, timeout=timeout)
    except BaseException:
        end_group(proc)
        raise
    if check and proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, argv, stdout, stderr)
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def end_own_group(code: int) -> None:
    """In a child that leads its own group: kill the group (this process and everything it started); else exit."""
    if os.getpgrp() == os.getpid():
        os.killpg(0, signal.SIGKILL)
    os._exit(code)
