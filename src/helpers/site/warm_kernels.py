"""Warm kernels: chapters run in kernels forked from a process that has already imported the
analysis stack and loaded the cohorts.

A chapter's kernel normally starts as a new Python process and spends its first seconds
importing pandas, scipy, plotly, lifelines, statsmodels, ipykernel and the helpers, then reading
and validating every study of the data folder; nine chapters did this nine times. Here the
build does it once, in :func:`warm_up`, before it forks its workers (``build.worker_context``:
they inherit the imports and the validated tables, copy-on-write, so a registry of 100,000
patients is validated once per build, not once per worker), and then every chapter's kernel is
a ``fork()`` of its worker (:class:`WarmKernelManager`, handed to papermill as nbclient's
``kernel_manager_class``). Papermill's parameter injection, its output notebook and nbclient's
messaging are unchanged: the kernel is an ordinary ``IPKernelApp`` listening on the connection
file jupyter_client wrote; it only skips the imports.

Why no state leaks from one chapter to the next: the worker never runs a chapter's code. Every
kernel is forked from the same warmed worker, whose modules are as the imports left them, and
the fork's memory is the kernel's own (copy-on-write); whatever a chapter changes (a module
global, a pandas option, a cached cohort) dies with its kernel.
``tests/test_warm_kernels.py`` runs two notebooks in turn to show it.

The kernel is told its parent is the worker (``IPKernelApp.parent_handle``: ipykernel reads
``JPY_PARENT_PID`` when it is imported, which was before the fork), runs in its own session (so
that jupyter_client's interrupts and kills reach its process group and no other), and reads
stdin from ``/dev/null``, as jupyter_client's own launcher arranges.

Chapters running at once share the cores (:func:`share_cores`): each kernel's BLAS libraries
get the cores divided by the number of workers. OpenBLAS otherwise starts a thread per core in
every kernel, and two chapters on two cores then made four threads that wait on each other: the
cytokines chapter, whose mixed models make many small BLAS calls, took 14.1 s beside the
expansion chapter with two threads each and 9.4 s with one, printing the same outputs to the
last digit (measured on the project's 2-core VM, three forced builds each).

Set ``CART_BOOK_COLD_KERNELS=1`` to start every kernel as a new process (the benchmark's
comparison, and a way out should a library ever misbehave after a fork).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

COLD_KERNELS_ENV = "CART_BOOK_COLD_KERNELS"

# What every chapter imports: loaded once per worker instead of once per chapter.
STACK = ("numpy", "pandas", "scipy.stats", "scipy.optimize", "plotly.graph_objects", "plotly.io",
         "lifelines", "statsmodels.api", "statsmodels.formula.api", "IPython", "ipykernel.kernelapp",
         "helpers.chapters", "helpers.plots", "helpers.stats", "helpers.clinical", "helpers.reproduction")


BLAS_THREADS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def enabled() -> bool:
    return os.environ.get(COLD_KERNELS_ENV, "") not in ("1", "true", "yes")


def share_cores(workers: int) -> int:
    """Limit this process's BLAS threads, and those of the kernels it forks or starts, to its
    share of the cores when ``workers`` chapters run at once; returns the threads each gets. A
    limit the user set (``OPENBLAS_NUM_THREADS``) is kept."""
    from threadpoolctl import threadpool_limits

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS") or max(1, cores // max(1, workers)))
    for variable in BLAS_THREADS_ENV:  # read when a kernel started as a new process loads BLAS
        os.environ.setdefault(variable, str(threads))
    threadpool_limits(limits=threads)  # the libraries already loaded here, as forked kernels inherit them
    return threads


def warm_up(data_dir: Path | str | None = None) -> Counter:
    """Import :data:`STACK` and validate every study under ``data_dir`` into the contract's cache
    (:func:`helpers.contract.validate.preload_cohort`), so that forked workers and kernels find
    both done; a validation kept on disk by the intake or an earlier build
    (:data:`helpers.paths.COHORT_CACHE_DIR`) is read instead. A study that does not load is left
    for its chapter to report. Returns how many studies were ``validated``, read from ``disk``,
    already in ``memory`` or ``refused``."""
    for module in STACK:
        importlib.import_module(module)
    warm_plotly()
    sources: Counter = Counter()  # how many studies were validated, read from disk, already held
    if data_dir is None or not Path(data_dir).is_dir():
        return sources
    from helpers.contract.files import cohort_folders
    from helpers.contract.validate import preload_cohort
    from helpers.paths import COHORT_CACHE_DIR

    for folder in cohort_folders(Path(data_dir)).values():
        try:  # the chapter's own load replays the warnings where it shows them
            sources[preload_cohort(folder, cache_dir=COHORT_CACHE_DIR)] += 1
        except Exception:  # noqa: BLE001 - the chapter reports it, with its own context
            sources["refused"] += 1
    return sources


def warm_plotly() -> None:
    """Draw one figure in the book's style: plotly imports the modules behind a template and each
    trace type only when a figure first uses them (about 600 modules, 0.75 s of a chapter's first
    figure, measured in a warm kernel), so a chapter's kernel would pay it again."""
    import plotly.graph_objects as go

    from helpers.plots import figures

    figure = figures.style(go.Figure([go.Scatter(x=[0], y=[0]), go.Bar(x=[0], y=[0]), go.Box(y=[0])]), title="warm")
    figure.add_annotation(text="warm", x=0, y=0)
    figure.add_shape(type="line", x0=0, x1=1, y0=0, y1=1)
    figure.to_json()


class ForkedKernel:
    """The parts of ``subprocess.Popen`` that jupyter_client's local provisioner uses, for a
    kernel this process forked."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere
                self.returncode = 0
                return 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def connection_file_of(kernel_cmd: list[str]) -> str:
    """The ``-f`` argument of the kernel command jupyter_client built from the kernelspec."""
    for i, arg in enumerate(kernel_cmd):
        if arg == "-f" and i + 1 < len(kernel_cmd):
            return kernel_cmd[i + 1]
        if arg.startswith("--f="):
            return arg[4:]
    raise ValueError(f"no connection file (-f) in the kernel command {kernel_cmd!r}")


def fork_kernel(kernel_cmd: list[str], env: dict | None = None, cwd: str | None = None) -> ForkedKernel:
    """Fork this process into an IPython kernel for the connection file in ``kernel_cmd``."""
    connection_file = connection_file_of(kernel_cmd)
    parent = os.getpid()
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the kernel
        code = 1
        try:
            os.close(ready_read)
            os.setsid()  # its own process group, as jupyter_client's launcher gives a kernel
            os.write(ready_write, b"1")
            os.close(ready_write)
            code = _run_kernel(connection_file, parent, env, cwd)
        finally:
            os._exit(code)
    os.close(ready_write)
    os.read(ready_read, 1)  # the child is in its own session before anyone signals its group
    os.close(ready_read)
    return ForkedKernel(pid)


def _run_kernel(connection_file: str, parent: int, env: dict | None, cwd: str | None) -> int:
    # The fork happened inside nbclient's running event loop: the kernel starts its own.
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop_policy(None)
    asyncio.set_event_loop(asyncio.new_event_loop())
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    if cwd:
        os.chdir(cwd)
    sys.argv = ["ipykernel_launcher", "-f", connection_file]
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=["-f", connection_file, f"--IPKernelApp.parent_handle={parent}"])
    return 0


class WarmKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, with the kernel forked from this (warmed) process."""

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        provisioner = self.provisioner
        process = fork_kernel(kernel_cmd, env=kw.get("env"), cwd=kw.get("cwd"))
        provisioner.process = process
        provisioner.pid = provisioner.pgid = process.pid
        provisioner.cwd = kw.get("cwd") or os.getcwd()
        self._reconcile_connection_info(provisioner.connection_info)
