"""Which part of the classes a process builds: ``--shard I/N``, or ``auto`` from a job runner.

``auto`` reads the index and count of the current task from the environment of

- a Slurm job array (``sbatch --array=...``): ``SLURM_ARRAY_TASK_ID`` with
  ``SLURM_ARRAY_TASK_COUNT`` (or, when it is missing, ``SLURM_ARRAY_TASK_MIN`` /
  ``SLURM_ARRAY_TASK_MAX``), and ``SLURM_ARRAY_TASK_STEP`` for arrays such as ``0-30:10``;
- a Kubernetes Indexed Job: ``JOB_COMPLETION_INDEX`` (0-based). Kubernetes does not put the
  number of completions in the environment, so give it as ``shard_count`` (``--shard-count``)
  or in the ``JOB_COMPLETIONS`` variable (``docs/scaling.md`` sets it from the manifest).

Shards are 1-based: ``I/N`` builds classes ``I-1, I-1+N, I-1+2N, ...`` of the selected ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..commons.validation import check_positive_int

#: Environment variable holding the number of completions of a Kubernetes Indexed Job.
K8S_COUNT_VARIABLE = "JOB_COMPLETIONS"


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"I/N"`` (1-based) or ``(I, N)`` to ``(I, N)``, with a clear error for anything else."""
    if shard is None:
        return None
    if isinstance(shard, str):
        try:
            index, total = (int(part) for part in shard.split("/"))
        except ValueError:
            raise ValueError(
                f"`shard` must look like 'I/N' (e.g. '2/4') or 'auto', got {shard!r}."
            ) from None
    else:
        try:
            index, total = (int(part) for part in shard)
        except (TypeError, ValueError):
            raise ValueError(f"`shard` must be 'I/N', 'auto' or (I, N), got {shard!r}.") from None
    if not 1 <= index <= total:
        raise ValueError(f"`shard` must satisfy 1 <= I <= N, got {index}/{total}.")
    return index, total


def _integer(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"environment variable {name} must be an integer, got {value!r}."
        ) from None


def _slurm_shard(environ: Mapping[str, str]) -> tuple[int, int]:
    task = _integer(environ, "SLURM_ARRAY_TASK_ID")
    count = _integer(environ, "SLURM_ARRAY_TASK_COUNT")
    low = _integer(environ, "SLURM_ARRAY_TASK_MIN")
    high = _integer(environ, "SLURM_ARRAY_TASK_MAX")
    step = _integer(environ, "SLURM_ARRAY_TASK_STEP") or 1
    if count is None and (low is None or high is None):
        raise ValueError(
            "--shard auto found SLURM_ARRAY_TASK_ID but neither SLURM_ARRAY_TASK_COUNT nor "
            "SLURM_ARRAY_TASK_MIN/MAX; give the shard explicitly as --shard I/N."
        )
    low = 0 if low is None else low
    if count is None:
        count = (high - low) // step + 1
    offset, remainder = divmod(task - low, step)
    index = offset + 1
    if remainder or not 1 <= index <= count:
        raise ValueError(
            f"--shard auto cannot place Slurm array task {task} among {count} tasks (min "
            f"{low}, step {step}): arrays given as lists (--array=1,5,9) have no regular "
            f"numbering; give the shard explicitly as --shard I/N."
        )
    return index, count


def _kubernetes_shard(environ: Mapping[str, str], shard_count: int | None) -> tuple[int, int]:
    index = _integer(environ, "JOB_COMPLETION_INDEX")
    count = shard_count if shard_count is not None else _integer(environ, K8S_COUNT_VARIABLE)
    if count is None:
        raise ValueError(
            f"--shard auto found JOB_COMPLETION_INDEX={index} (a Kubernetes Indexed Job) but "
            f"not the number of completions, which Kubernetes does not expose: pass "
            f"--shard-count N (shard_count=N) or set {K8S_COUNT_VARIABLE}=N in the pod."
        )
    if not 0 <= index < count:
        raise ValueError(
            f"JOB_COMPLETION_INDEX must lie in [0, {count}) for {count} completions, got {index}."
        )
    return index + 1, count


def shard_from_environment(
    environ: Mapping[str, str] | None = None, shard_count: int | None = None
) -> tuple[int, int]:
    """The ``(I, N)`` shard of this process from Slurm array or Kubernetes Indexed Job variables.

    Parameters
    ----------
    environ
        Environment to read (default: ``os.environ``).
    shard_count
        Number of shards when the runner does not tell it (Kubernetes); if the runner does
        (Slurm), it must agree.

    Returns
    -------
    tuple of int
        ``(I, N)``, 1-based.

    Raises
    ------
    ValueError
        If no runner's variables are set, the count is missing, or they are inconsistent.
    """
    environ = os.environ if environ is None else environ
    if shard_count is not None:
        shard_count = check_positive_int(shard_count, "shard_count")
    if environ.get("SLURM_ARRAY_TASK_ID", "") != "":
        shard = _slurm_shard(environ)
        if shard_count is not None and shard_count != shard[1]:
            raise ValueError(
                f"`shard_count` ({shard_count}) disagrees with the {shard[1]} tasks of the "
                f"Slurm array; leave it out."
            )
        return shard
    if environ.get("JOB_COMPLETION_INDEX", "") != "":
        return _kubernetes_shard(environ, shard_count)
    raise ValueError(
        "--shard auto found neither a Slurm job array (SLURM_ARRAY_TASK_ID) nor a Kubernetes "
        "Indexed Job (JOB_COMPLETION_INDEX) in the environment; give --shard I/N instead."
    )


def resolve_shard(
    shard: str | tuple[int, int] | None,
    shard_count: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[int, int] | None:
    """``None``, ``"I/N"``, ``(I, N)`` or ``"auto"`` (see :func:`shard_from_environment`).

    ``shard_count`` is only meaningful with ``"auto"``.
    """
    if isinstance(shard, str) and shard.strip().lower() == "auto":
        return shard_from_environment(environ, shard_count)
    if shard_count is not None:
        raise ValueError(
            f"`shard_count` is only used with shard='auto' (--shard auto), got shard={shard!r}."
        )
    return parse_shard(shard)


def select_shard(classes: list[int], shard: tuple[int, int] | None) -> list[int]:
    """The classes of ``shard`` among ``classes`` (interleaved, so shards get similar work)."""
    if shard is None:
        return list(classes)
    index, total = shard
    return list(classes[index - 1 :: total])
