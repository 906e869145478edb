"""``samcryo install-profile``: make ``snakemake --profile slurm`` work as typed.

Snakemake looks a profile name up in the current folder, then in the user's config folder
(``$XDG_CONFIG_HOME/snakemake`` = ``~/.config/snakemake`` on Linux) and the site folder
(``/etc/xdg/snakemake``), never in the workflow's ``profiles/``. This command copies the
repository's ``profiles/<name>/`` there. The repository copy stays the source of truth: an
installed profile that differs from it (a user's own, or one edited by hand) is never overwritten
without ``--force``, and ``--keep-existing`` turns that refusal into a warning (for set-up scripts).

``samcryo install-profile [--name slurm --name local] [--source DIR] [--dest DIR] [--force |
--keep-existing]``; exit 0 when every profile is installed or already identical, 1 when one was
refused.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

DEFAULT_PROFILES = ("slurm", "local")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", action="append", metavar="NAME",
                        help="profile to install (repeatable; default: slurm and local)")
    parser.add_argument("--source", type=Path, default=None, metavar="DIR",
                        help="folder holding <name>/config.yaml (default: the repository's profiles/)")
    parser.add_argument("--dest", type=Path, default=None, metavar="DIR",
                        help="Snakemake's profile folder (default: the user config folder Snakemake "
                             "searches, e.g. ~/.config/snakemake)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true",
                      help="replace an installed profile that differs from the repository's")
    mode.add_argument("--keep-existing", action="store_true",
                      help="leave a differing installed profile alone with a warning (exit 0)")


def user_profile_dir() -> Path:
    """The per-user folder where ``snakemake --profile NAME`` finds ``NAME/`` (Snakemake's appdirs)."""
    try:
        from platformdirs import AppDirs  # what Snakemake itself uses

        return Path(AppDirs("snakemake", "snakemake").user_config_dir)
    except ImportError:  # pragma: no cover - platformdirs comes with snakemake
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        return Path(base) / "snakemake"


def repo_profiles_dir() -> Path | None:
    """``profiles/`` of the repository samcryo_core was installed from (editable), else of the cwd."""
    here = Path(__file__).resolve()
    for parent in [*here.parents, Path.cwd()]:
        candidate = parent / "profiles"
        if (candidate / "slurm" / "config.yaml").is_file():
            return candidate
    return None


def _differences(src: Path, dst: Path) -> list[str]:
    """Relative paths that differ between two profile folders (missing on either side included)."""
    cmp = filecmp.dircmp(src, dst)
    out: list[str] = []

    def walk(c: filecmp.dircmp, prefix: str) -> None:
        out.extend(prefix + n for n in c.left_only + c.right_only + c.funny_files)
        # dircmp compares shallowly (stat); compare contents so a touched file is not "different"
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        out.extend(prefix + n for n in mismatch + errors)
        for name, sub in c.subdirs.items():
            walk(sub, prefix + name + "/")

    walk(cmp, "")
    return sorted(out)


def _copy_atomically(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` via a temporary sibling folder, so ``dst`` is never half-written."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    try:
        staged = tmp / dst.name
        shutil.copytree(src, staged, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if dst.exists():
            old = tmp / (dst.name + ".old")
            os.replace(dst, old)
        os.replace(staged, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def install(name: str, source: Path, dest: Path, *, force: bool = False,
            keep_existing: bool = False) -> str:
    """Install one profile; return what happened: installed, updated, unchanged, kept or refused."""
    src, dst = source / name, dest / name
    if not (src / "config.yaml").is_file():
        from samcryo_core.errors import InputError

        raise InputError(src, "is not a Snakemake profile (no config.yaml)",
                         "give --source the repository's profiles/ folder")
    if not dst.exists():
        _copy_atomically(src, dst)
        return "installed"
    diff = _differences(src, dst) if dst.is_dir() else [dst.name]
    if not diff:
        return "unchanged"
    if force:
        _copy_atomically(src, dst)
        return "updated"
    listed = ", ".join(diff[:5]) + (" ..." if len(diff) > 5 else "")
    print(f"samcryo install-profile: {dst} exists and differs from {src} ({listed})",
          file=sys.stderr)
    return "kept" if keep_existing else "refused"


def run(args: argparse.Namespace) -> int:
    source = args.source or repo_profiles_dir()
    if source is None:
        print("samcryo install-profile: cannot find the repository's profiles/ folder; "
              "run it from the samcryo checkout or give --source", file=sys.stderr)
        return 1
    dest = args.dest or user_profile_dir()
    names = args.name or list(DEFAULT_PROFILES)
    status = 0
    for name in names:
        what = install(name, Path(source), Path(dest), force=args.force, keep_existing=args.keep_existing)
        target = Path(dest) / name
        if what == "installed":
            print(f"installed profile '{name}': {source / name} -> {target}")
        elif what == "updated":
            print(f"replaced profile '{name}' at {target} with {source / name} (--force)")
        elif what == "unchanged":
            print(f"profile '{name}' at {target} is already up to date")
        elif what == "kept":
            print(f"kept your profile '{name}' at {target} (differs from the repository's; "
                  "--force replaces it)")
        else:
            print(f"refused to overwrite profile '{name}' at {target}: it differs from the "
                  "repository's. Use --force to replace it, or --keep-existing to keep it",
                  file=sys.stderr)
            status = 1
    if status == 0:
        print(f"now 'snakemake --profile {names[0]}' finds {Path(dest) / names[0]}")
    return status
