"""A full disk (or an I/O error, out of memory) fails the job; it never becomes a rejected micrograph.

Issue 17, bug 2: with the work folder on a 20 MB tmpfs, normalize and segment turned ``[Errno 28]
No space left on device`` into ``rejected`` rows and exited 0, and the documented recovery then
exported 19 of 24 micrographs. A failure of the machine is not a property of the micrograph: the
stage must stop with exit status 75 (``EX_TEMPFAIL``) and a message that says so, no manifest may
record the micrograph as bad, and after space is freed the rerun must equal a clean run.

The full disk is simulated (a real tmpfs needs privileges CI does not have): a test-only
``sitecustomize`` on ``PYTHONPATH`` makes ``os.replace`` -- the commit of every atomic write
(``samcryo_core.io.atomic``) -- raise ``ENOSPC`` for chosen outputs while a flag file exists.
"""

from __future__ import annotations

import os
import shutil

import pytest
from reliability_helpers import (
    broken_outputs,
    manifest_rows,
    picks_contents,
    prompt_dir,
    simulate,
    snakemake,
    star_contents,
    targets,
    write_config,
)

pytestmark = pytest.mark.slow

HOOK = '''"""Test-only (tests/test_reliability_environment.py): a disk that is full for chosen files."""
import errno
import os

_flag = os.environ.get("SAMCRYO_TEST_DISK_FULL_FLAG")
_match = [m for m in os.environ.get("SAMCRYO_TEST_DISK_FULL_MATCH", "").split(",") if m]
if _flag and _match:
    _replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if os.path.exists(_flag) and any(m in str(dst) for m in _match):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return _replace(src, dst, *args, **kwargs)

    os.replace = replace
'''


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A clean run: 4 simulated micrographs, chunks of 2, tiny SAM zero-shot."""
    root = tmp_path_factory.mktemp("clean")
    mics = simulate(root / "sim", 4, seed=91, prefix="mic")
    (root / "data" / "micrographs").mkdir(parents=True)
    for p in mics:
        shutil.copy2(p, root / "data" / "micrographs" / p.name)
    write_config(root, chunk_size=2)
    proc = snakemake(root, "--cores", "2", *targets())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root, mics


LOGS = f"logs/{prompt_dir().removeprefix('results/')}"


@pytest.mark.parametrize(("stage", "match", "log"), [
    ("normalize", "normalized/p20/mic_0003.mrc", "logs/normalized/p20/chunk0001.log"),
    ("segment", "probability/mic_0000.mrc", f"{LOGS}/segment/chunk0000.log"),
    ("extract", "picks/mic_0002.csv", f"{LOGS}/extract/chunk0001.log"),
])
def test_a_full_disk_fails_the_job_and_the_rerun_after_freeing_space_equals_a_clean_run(
        reference, tmp_path, stage, match, log):
    ref_root, mics = reference
    root = tmp_path / "run"
    (root / "data" / "micrographs").mkdir(parents=True)
    for p in mics:
        shutil.copy2(p, root / "data" / "micrographs" / p.name)
    write_config(root, chunk_size=2)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    flag = tmp_path / "disk_full"
    flag.touch()
    python_path = os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))
    full = {"PYTHONPATH": python_path, "SAMCRYO_TEST_DISK_FULL_FLAG": str(flag),
            "SAMCRYO_TEST_DISK_FULL_MATCH": match}

    proc = snakemake(root, "--cores", "2", "--keep-going", *targets(), extra_env=full)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    text = (root / log).read_text()
    assert "error: the machine failed, not the input" in text and "No space left on device" in text
    assert "No micrograph was rejected" in text and "Traceback" not in text
    assert "exit status 75" in out  # EX_TEMPFAIL: the job failed, Snakemake may retry it
    # nothing records a micrograph as bad, and every visible output reads back
    rows = manifest_rows((root / "results").rglob("chunks/*.tsv"))
    assert all(r["status"] == "ok" for r in rows), [r for r in rows if r["status"] != "ok"]
    assert broken_outputs(root / "results") == []

    flag.unlink()  # space freed
    proc = snakemake(root, "--cores", "2", "--rerun-incomplete", *targets())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert picks_contents(root) == picks_contents(ref_root)
    assert star_contents(root) == star_contents(ref_root)
    assert manifest_rows([root / "results/ingest/rejected.tsv"]) == []


def test_an_io_error_while_reading_a_micrograph_is_not_a_rejection(tmp_path, monkeypatch):
    """Ingest rejects bad files; an I/O error of the file system must instead stop the job."""
    import errno

    import mrcfile

    from samcryo_core.cli import main
    from samcryo_core.errors import EXIT_ENVIRONMENT, is_environment_failure

    path = simulate(tmp_path / "sim", 1, seed=92, prefix="mic")[0]

    def eio(*args, **kwargs):
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))

    monkeypatch.setattr(mrcfile, "mmap", eio)
    out = tmp_path / "chunk.tsv"
    assert main(["ingest", "--out", str(out), str(path)]) == EXIT_ENVIRONMENT
    assert not out.exists()  # no manifest that would call the micrograph bad

    class OutOfMemoryError(RuntimeError):  # torch.cuda.OutOfMemoryError's name and message
        pass

    assert is_environment_failure(OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert is_environment_failure(MemoryError())
    assert is_environment_failure(RuntimeError("DataLoader worker (pid 12) is killed by signal: Killed."))
    assert not is_environment_failure(ValueError("cannot reshape array"))
    assert not is_environment_failure(OSError(errno.ENOENT, "No such file or directory"))
