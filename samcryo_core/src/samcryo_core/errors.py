"""Errors that reach users: each names the file (or config key) and says what to do.

A facility runs samcryo unattended on thousands of micrographs; a message such as
``ValueError: cannot reshape`` helps nobody. Input problems are raised as :class:`InputError`
with the offending path and a fix, so the rejection report and the log read as instructions.
"""

from __future__ import annotations

from pathlib import Path


class SamcryoError(Exception):
    """Base class of all errors samcryo raises on purpose."""


class InputError(SamcryoError):
    """A micrograph, label or STAR file that cannot be used.

    Attributes:
        path: the file at fault.
        problem: what is wrong, in a few words (goes into the rejection report).
        fix: what the user can do about it.
    """

    def __init__(self, path: str | Path, problem: str, fix: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. Fix: {fix}")


class ConfigError(SamcryoError):
    """A configuration value that cannot work; names the key."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"config key '{key}': {problem}. Fix: {fix}")


#: errno values that say the machine, not the micrograph, failed (disk full, I/O error, quota,
#: out of memory, stale NFS handle): such a failure must fail the job, never reject a micrograph.
_ENVIRONMENT_ERRNOS = frozenset({12, 5, 28, 122, 116, 30})  # ENOMEM EIO ENOSPC EDQUOT ESTALE EROFS


#: Exit status of a command stopped by a failure of the environment (BSD sysexits EX_TEMPFAIL:
#: "temporary failure, retry"): Snakemake marks the job failed, nothing is rejected, and the
#: rerun after freeing space or memory redoes it.
EXIT_ENVIRONMENT = 75


def is_environment_failure(exc: BaseException) -> bool:
    """True when ``exc`` is a failure of the environment (full disk, I/O error, out of memory,
    CUDA out of memory, a worker process killed under it).

    Stages turn problems of the *input* into rejected rows; these must instead stop the job with
    a non-zero exit (:data:`EXIT_ENVIRONMENT`), so Snakemake retries it or the user reruns after
    fixing the machine, and no micrograph is recorded as bad for a reason that is not its own.
    """
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS:
        return True
    name, text = type(exc).__name__, str(exc).lower()
    if name == "BrokenProcessPool":  # a worker process was killed (e.g. by the OOM killer)
        return True
    if name in ("OutOfMemoryError", "RuntimeError") and "out of memory" in text:
        return True
    return name == "RuntimeError" and ("killed by signal" in text or "exited unexpectedly" in text)


def environment_failure_message(exc: BaseException) -> str:
    """One line for the user: what failed, that no micrograph was rejected for it, what to do."""
    what = f"{type(exc).__name__}: {exc}" if not isinstance(exc, OSError) else str(exc)
    return (f"the machine failed, not the input ({' '.join(what.split())}). No micrograph was "
            "rejected for it. Fix: free disk space or memory (or repair the file system), then rerun "
            "(snakemake --rerun-incomplete); finished micrographs are kept")
