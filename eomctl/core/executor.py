"""Run independent tasks in parallel: in this process, in a local process pool, or as Ray tasks on a cluster.

A task is a picklable top-level function and one mapping of keyword arguments. Each worker builds what it needs (its
own simulator, its own environment), so the tasks share nothing and a result depends on its arguments only: the same
arguments (seeds included) give the same numbers under every executor.

Optional checkpointing stores each finished task's result in a JSON file (written atomically after every task), keyed by
a stable hash of the function's name and its arguments, so an interrupted sweep resumes without redoing finished work.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Literal

from eomctl.core.errors import ConfigError
from eomctl.core.io import write_json

ExecutorName = Literal["local", "ray", "serial"]
EXECUTORS: tuple[str, ...] = ("local", "ray", "serial")
CHECKPOINT_VERSION = 1


def task_key(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> str:
    """A stable identifier of one task: SHA-256 of the function's qualified name and its arguments as canonical JSON.

    Parameters
    ----------
    func : callable
        The task function (its module and qualified name enter the key, so two functions never share results).
    kwargs : mapping
        The task's keyword arguments; values that JSON cannot encode enter by ``repr``.

    Returns
    -------
    str
        64 hexadecimal digits, identical across processes, machines and Python sessions.
    """
    name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
    text = json.dumps({"func": name, "kwargs": dict(kwargs)}, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json_roundtrip(result: Any) -> Any:
    """``result`` as it reads back from the checkpoint (tuples become lists; floats survive exactly)."""
    try:
        return json.loads(json.dumps(result, allow_nan=True))
    except TypeError as exc:
        raise ConfigError(f"a checkpointed task must return JSON-serialisable results; got {type(result)}") from exc


class _Checkpoint:
    """Finished results keyed by :func:`task_key`, rewritten atomically after every task."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.results: dict[str, Any] = {}
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"cannot read checkpoint '{path}': {exc}") from exc
            if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
                raise ConfigError(f"checkpoint '{path}' is not a version-{CHECKPOINT_VERSION} eomctl checkpoint")
            self.results = dict(data.get("results", {}))

    def store(self, key: str, result: Any) -> Any:
        if self.path is None:
            return result
        self.results[key] = _json_roundtrip(result)
        write_json(self.path, {"version": CHECKPOINT_VERSION, "results": self.results})
        return self.results[key]


def _progress_bar(total: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="task", dynamic_ncols=True)


def _call(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    return func(**kwargs)


def _run_serial(
    func: Callable[..., Any],
    jobs: Sequence[tuple[int, Mapping[str, Any]]],
    max_workers: int | None,
    address: str | None,
) -> Iterator[tuple[int, Any]]:
    for index, kwargs in jobs:
        yield index, func(**kwargs)


def _run_local(
    func: Callable[..., Any],
    jobs: Sequence[tuple[int, Mapping[str, Any]]],
    max_workers: int | None,
    address: str | None,
) -> Iterator[tuple[int, Any]]:
    # "spawn": a fresh interpreter per worker, safe with CasADi/PyBaMM state and identical on Linux, macOS and Windows.
    workers = max(1, min(max_workers or os.cpu_count() or 1, len(jobs)))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: dict[Future[Any], int] = {pool.submit(_call, func, kwargs): index for index, kwargs in jobs}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()


def start_ray(address: str | None = None, num_cpus: int | None = None) -> float:
    """Connect to a Ray cluster at ``address``, or start a local Ray instance when None; return the seconds it took.

    Nothing is downloaded: no runtime environment with packages or working directories is requested. A local instance
    gets the driver's ``sys.path`` (as ``PYTHONPATH``) so its workers import the same modules a process pool would.
    Does nothing (and returns 0) when Ray is already initialised.

    Raises
    ------
    ConfigError
        If Ray is not installed.
    """
    try:
        import ray
    except ImportError as exc:
        raise ConfigError('executor "ray" needs Ray: pip install "ray>=2.9,<3" (or use --executor local)') from exc
    if ray.is_initialized():
        return 0.0
    start = time.perf_counter()
    if address is None:
        python_path = os.pathsep.join(p for p in sys.path if p and Path(p).is_dir())
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": python_path}},
        )
    else:
        ray.init(address=address, log_to_driver=False)
    return time.perf_counter() - start


def _run_ray(
    func: Callable[..., Any],
    jobs: Sequence[tuple[int, Mapping[str, Any]]],
    max_workers: int | None,
    address: str | None,
) -> Iterator[tuple[int, Any]]:
    start_ray(address, num_cpus=max_workers)
    import ray

    remote = ray.remote(num_cpus=1, max_retries=0)(_call)
    pending = {remote.remote(func, dict(kwargs)): index for index, kwargs in jobs}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
    finally:
        for ref in pending:
            ray.cancel(ref)


_BACKENDS = {"serial": _run_serial, "local": _run_local, "ray": _run_ray}


def run_tasks(
    func: Callable[..., Any],
    kwargs_list: Sequence[Mapping[str, Any]],
    executor: ExecutorName | str = "local",
    max_workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
) -> list[Any]:
    """Call ``func(**kwargs)`` for every mapping of ``kwargs_list``, in parallel, and return the results in input order.

    Parameters
    ----------
    func : callable
        A picklable top-level function (workers import it by module and name: on a Ray cluster its module must be
        installed on every node). It should build its own simulator and depend on its arguments only, so results are
        identical under every executor.
    kwargs_list : sequence of mappings
        One mapping of keyword arguments per task (picklable; JSON-encodable values give stable checkpoint keys).
    executor : {"local", "ray", "serial"}
        "serial": one after the other in this process (debugging, tests). "local": a
        :class:`~concurrent.futures.ProcessPoolExecutor` with spawned workers (a script that calls this needs the
        ``if __name__ == "__main__":`` guard, as for any spawn-based pool). "ray": Ray tasks on the cluster at
        ``ray_address``, or on a local Ray instance (``include_dashboard=False``) when it is None.
    max_workers : int, optional
        Worker processes ("local") or CPUs of a new local Ray instance; default all CPUs.
    ray_address : str, optional
        Address of a running Ray cluster, e.g. ``"ray://head:10001"`` or ``"auto"``.
    progress : bool
        Show a tqdm progress bar.
    checkpoint : path, optional
        JSON file of finished results. Tasks found there are not run again; every finished task is added to it
        atomically, so an interrupted run loses at most the tasks in flight. Results must then be JSON-serialisable and
        are returned as they read back from JSON (tuples become lists) whether they were resumed or computed.

    Returns
    -------
    list
        ``[func(**kwargs) for kwargs in kwargs_list]``.

    Raises
    ------
    ConfigError
        An unknown executor, Ray missing for ``executor="ray"``, or an unreadable checkpoint. An exception raised by a
        task propagates after the results finished so far were checkpointed.
    """
    if executor not in _BACKENDS:
        raise ConfigError(f"unknown executor '{executor}'; choose one of {list(EXECUTORS)}")
    if max_workers is not None and max_workers < 1:
        raise ConfigError(f"max_workers must be at least 1; got {max_workers}")
    store = _Checkpoint(Path(checkpoint) if checkpoint is not None else None)
    keys = [task_key(func, kwargs) for kwargs in kwargs_list]
    results: list[Any] = [store.results.get(key) for key in keys]
    jobs = [
        (i, kwargs) for i, (key, kwargs) in enumerate(zip(keys, kwargs_list, strict=True)) if key not in store.results
    ]
    name = getattr(func, "__name__", "tasks")
    with _progress_bar(len(kwargs_list), progress, f"{name} [{executor}]") as bar:
        bar.update(len(kwargs_list) - len(jobs))
        if jobs:
            for index, result in _BACKENDS[executor](func, jobs, max_workers, ray_address):
                results[index] = store.store(keys[index], result)
                bar.update(1)
    return results


def worker_count(executor: str, max_workers: int | None = None) -> int:
    """How many tasks run at once: 1 for "serial", else ``max_workers`` or every CPU."""
    return 1 if executor == "serial" else max(1, max_workers or os.cpu_count() or 1)


def chunks(items: Sequence[Any], n: int) -> list[list[Any]]:
    """``items`` split into at most ``n`` contiguous chunks of nearly equal size, in order (none empty).

    A task that needs an expensive object (a JIT-compiled simulator, ~15 s to build) takes a chunk of work items and
    builds it once, instead of once per item or in a per-process cache.
    """
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for k in range(n):
        stop = start + size + (k < extra)
        out.append(list(items[start:stop]))
        start = stop
    return [c for c in out if c]
