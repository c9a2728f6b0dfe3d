"""Where batch jobs run: local worker processes or Ray tasks, behind one small interface
the driver uses (vidswap.pipeline.batch.drive); what runs inside a worker is
vidswap.pipeline.jobs.run_job:

    runner.slots               jobs it can run at once
    runner.submit(job)         start a job (only while fewer than `slots` are running)
    runner.poll(timeout)       events: ("start", worker, key, frames), ("frames", worker,
                               key, done), ("outcome", worker, Outcome)
    runner.close()             stop; jobs still running are abandoned (the driver puts
                               them back to pending)
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import queue
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import torch

from vidswap.errors import ConfigError, VidswapError
from vidswap.pipeline.jobs import Job, Outcome, error_line, run_job
from vidswap.settings import TranslatorSettings, VideoSettings

log = logging.getLogger(__name__)


def worker_devices(device: str, workers: int) -> list[str]:
    """Each local worker's device: with several CUDA GPUs (and device auto/cuda),
    worker i gets GPU i, round robin."""
    if workers > 1 and device in ("auto", "cuda"):
        count = torch.cuda.device_count()
        if count > 1:
            return [f"cuda:{i % count}" for i in range(workers)]
    return [device] * workers


def worker_context() -> multiprocessing.context.BaseContext:
    """Where local workers come from: forked from a fork server that imported this module
    (torch, PyAV, the pipeline) once, so each further worker starts at once instead of
    importing torch again; the server never touches CUDA or torch's thread pools, so every
    worker still starts clean. Spawned where there is no fork server."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx


class LocalRunner:
    """`workers` processes with no inherited CUDA or thread state (worker_context), each
    with its own inbox, so the driver always knows which job a worker holds if it dies."""

    def __init__(self, translator: TranslatorSettings, video: VideoSettings, workers: int):
        self._ctx = worker_context()
        self._events = self._ctx.Queue()
        self._translator, self._video = translator, video
        self._devices = worker_devices(translator.device, workers)
        self._threads = max(1, (os.cpu_count() or 1) // workers)  # workers share the cores
        self._workers = {f"w{i}": self._start(i) for i in range(workers)}  # name -> (process, inbox)
        self._busy: dict[str, str] = {}  # worker name -> job key
        self.slots = workers

    def _start(self, index: int):
        inbox = self._ctx.SimpleQueue()
        settings = replace(self._translator, device=self._devices[index])
        process = self._ctx.Process(
            target=_worker_main,
            args=(f"w{index}", os.getpid(), settings, self._video, self._threads, inbox, self._events),
            name=f"vidswap-batch-w{index}",
            daemon=True,
        )
        process.start()
        return process, inbox

    def submit(self, job: Job) -> None:
        name = next(n for n in self._workers if n not in self._busy)
        self._busy[name] = job.key
        self._workers[name][1].put(job)

    def poll(self, timeout: float) -> list[tuple]:
        events = []
        try:
            events.append(self._events.get(timeout=timeout))
            while True:
                events.append(self._events.get_nowait())
        except queue.Empty:
            pass
        for event in events:
            if event[0] == "outcome":
                self._busy.pop(event[1], None)
        # a worker that died (killed, out of memory, a crash in a decoder) fails its job
        # (it is retried like any passing failure) and is replaced
        for index, (name, (process, _)) in enumerate(list(self._workers.items())):
            if process.exitcode is None:
                continue
            key = self._busy.pop(name, None)
            if key is None:
                raise VidswapError(f"batch worker {name} died while starting (exit code {process.exitcode})")
            error = f"worker process died (exit code {process.exitcode})"
            events.append(("outcome", name, Outcome(key, name, error=error)))
            self._workers[name] = self._start(index)
        return events

    def close(self) -> None:
        for name, (process, inbox) in self._workers.items():
            if name in self._busy:  # stopped early: do not wait for its file
                process.terminate()
            else:
                inbox.put(None)
        for process, _ in self._workers.values():
            process.join(timeout=10)
            if process.exitcode is None:
                process.kill()
                process.join()


def _worker_main(name: str, driver: int, translator: TranslatorSettings, video: VideoSettings, threads: int,
                 inbox, events) -> None:  # fmt: skip
    _exit_with(driver)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the driver decides
    use_cores(threads)
    while (job := inbox.get()) is not None:
        events.put(("outcome", name, run_job(job, translator, video, name, events.put)))


def use_cores(threads: int) -> None:
    """Limit this worker's compute libraries to its share of the cores: torch, OpenCV, and
    ONNX Runtime sessions (which take torch's count, vidswap.runtime.onnxruntime_backend)."""
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def _exit_with(driver: int) -> None:
    """A worker must not outlive a driver killed with -9: it would go on writing into the
    output folder while the next run converts the same file. Its parent is the driver or
    the fork server, which exits with the driver; the driver's pid comes as an argument, as
    the worker may have been re-parented before this runs."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent and _alive(driver):
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class RayRunner:
    """Each file a Ray task on a local or existing cluster, one GPU a task where the cluster
    has GPUs; progress comes back through a Ray queue actor. The output folder must be a
    path every node sees."""

    def __init__(self, address: str | None, translator: TranslatorSettings, video: VideoSettings,
                 workers: int | None):  # fmt: skip
        # under `uv run`, Ray would start its workers with `uv run` too (a fresh, partial
        # environment); this makes them use the driver's environment instead. Ray reads it
        # when imported.
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        joins = address is not None or "RAY_ADDRESS" in os.environ
        token = ray_token_source() if joins else None
        if token and "RAY_AUTH_MODE" not in os.environ:
            # as ray.init(address="auto") does: a cluster `ray start --head` started with a
            # token wants it, but Ray sends it to an explicit address only in token mode
            os.environ["RAY_AUTH_MODE"] = "token"
        import ray
        from ray.util.queue import Queue

        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            init = functools.partial(ray.init, address=address, num_cpus=None if joins else workers,
                                     include_dashboard=False, log_to_driver=False, logging_level="WARNING")  # fmt: skip
            if joins:
                connect(init, address or os.environ["RAY_ADDRESS"], token)
            else:
                init()
        self._head = HeadWatch(ray.get_runtime_context().gcs_address) if joins else None
        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0)
        self.slots = workers or int(gpus or resources.get("CPU", 1))
        self._ray = ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # the progress queue lives on the driver's node: losing another node must not lose it
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self._events = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
        self._task = ray.remote(num_gpus=1 if gpus else 0, num_cpus=1, max_retries=0)(_ray_task)
        self._settings = (ray.put(translator), ray.put(video))
        self._running: dict = {}  # object ref -> job key

    def submit(self, job: Job) -> None:
        self._running[self._task.remote(job, *self._settings, self._events)] = job.key

    def poll(self, timeout: float) -> list[tuple]:
        ray = self._ray
        if self._head:
            self._head.check()
        # a task's progress messages can reach the queue after its result: keep only
        # those of files still running, so none lands after the file's outcome
        running = set(self._running.values())
        events = [event for event in self._progress() if event[2] in running]
        ready, _ = ray.wait(list(self._running), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
        for ref in ready:
            key = self._running.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.NodeDiedError as exc:  # not the file's fault: it goes back to the queue
                outcome = Outcome(key, "ray", error=f"its Ray node was lost: {error_line(exc)}", lost=True)
            except ray.exceptions.RayError as exc:  # the worker died (perhaps of this file): a counted attempt
                outcome = Outcome(key, "ray", error=f"Ray task failed: {error_line(exc)}")
            events.append(("outcome", outcome.worker, outcome))
            if outcome.lost and self._head:  # the lost node may be the head: then say so, now
                self._head.check(now=True)
        return events

    def _progress(self) -> list[tuple]:
        """The progress messages waiting in the queue; none this time if the queue's actor does
        not answer at once (Ray's own calls would wait for a lost head for good) or was lost
        with its node (the outcomes still come from the tasks)."""
        actor = self._events.actor
        try:
            count = self._ray.get(actor.qsize.remote(), timeout=ACTOR_TIMEOUT_S)
            return self._ray.get(actor.get_nowait_batch.remote(count), timeout=ACTOR_TIMEOUT_S)
        except self._ray.exceptions.RayError:  # GetTimeoutError among them
            return []

    def close(self) -> None:
        for ref in self._running:  # stopped early
            self._ray.cancel(ref, force=True)
        if self._owns_ray:
            self._ray.shutdown()


# how long the driver waits on the cluster before deciding the head is gone or stuck:
# together well inside a minute
CONNECT_TIMEOUT_S = 30  # joining (Ray itself waits minutes for a head that never answers)
ACTOR_TIMEOUT_S = 5  # one call to the progress queue's actor
HEAD_CHECK_EVERY_S = 2


class HeadWatch:
    """Whether the head node still answers, from its GCS port: once it refuses connections or
    times out, the batch stops with one line (Ray's driver would wait for it for minutes)."""

    def __init__(self, gcs_address: str):
        self.address = gcs_address
        self._checked = time.monotonic()

    def check(self, now: bool = False) -> None:
        if not now and time.monotonic() - self._checked < HEAD_CHECK_EVERY_S:
            return
        self._checked = time.monotonic()
        reason = unreachable(self.address, timeout=HEAD_CHECK_EVERY_S)
        if reason:
            raise VidswapError(f"lost the Ray cluster: its head at {self.address} stopped answering ({reason}); "
                               "files done are kept and a rerun of the same command resumes the rest")  # fmt: skip


def unreachable(address: str, timeout: float) -> str | None:
    """Why nothing answers on `address` (HOST:PORT), or None when something does."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return None  # not HOST:PORT ('auto', a ray:// URL): Ray finds it
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def ray_token_source() -> str | None:
    """Where Ray would find a cluster token here, in its order (docs.ray.io, "Ray token
    authentication"); None when there is none."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return os.environ["RAY_AUTH_TOKEN_PATH"]
    default = Path.home() / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


def connect(init: Callable[[], object], address: str, token: str | None) -> None:
    """Join the cluster at `address`; a refused token, no cluster there or a head that does not
    answer within CONNECT_TIMEOUT_S is one line. Ray's core prints a warning a second while it
    retries: kept out of the terminal (logged at debug level) so the reason is not buried."""
    reason = unreachable(address, timeout=5)
    if reason:
        raise ConfigError(f"cannot reach a Ray head at {address} ({reason}): is `ray start --head` running there?")
    # the core's warnings once the join is given up would reach the terminal after our line
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    result: list[BaseException | None] = []

    def join() -> None:
        try:
            init()
        except Exception as exc:  # noqa: BLE001 (Ray wraps its reasons in several classes)
            result.append(exc)
        else:
            result.append(None)

    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            # in a thread: Ray waits for minutes on a head that accepts connections but never
            # answers (one still starting, or stuck); such a thread is left behind
            joining = threading.Thread(target=join, daemon=True, name="ray-connect")
            joining.start()
            joining.join(CONNECT_TIMEOUT_S)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        log.debug("Ray while connecting to %s:\n%s", address, captured.read().decode(errors="replace"))
    if not result:
        raise ConfigError(f"the Ray head at {address} accepts connections but did not let this driver join in "
                          f"{CONNECT_TIMEOUT_S} s: is it still starting, or stuck? (`ray status` there)")  # fmt: skip
    error = result[0]
    if error is None:
        return
    chain = f"{error!r} {error.__cause__!r}"
    if "InvalidAuthToken" in chain or "AuthenticationError" in chain:
        found = f"the token from {token} was refused" if token else "no token was found here"
        raise ConfigError(
            f"the Ray cluster at {address} uses token authentication and {found}: set RAY_AUTH_TOKEN to what "
            "`ray get-auth-token` prints on its head node (or copy that node's ~/.ray/auth_token here)"
        ) from None
    raise ConfigError(
        f"cannot connect to a Ray cluster at {address} ({error_line(error)}): is `ray start --head` running there?"
    ) from None


def _ray_task(job: Job, translator: TranslatorSettings, video: VideoSettings, events) -> Outcome:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    use_cores(1)  # a task holds one CPU of its node

    def report(event: tuple) -> None:  # progress only: its loss must not fail the file
        try:
            events.put_nowait(event)
        except Exception:  # noqa: BLE001 (Ray's actor errors, a full queue)
            log.debug("progress of %s not reported", job.key, exc_info=True)

    return run_job(job, translator, video, worker, report)
