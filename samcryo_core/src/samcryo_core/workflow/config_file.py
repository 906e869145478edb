"""Read a workflow config file, naming the file and the line of a YAML syntax error.

Snakemake reads ``--configfile`` itself, before the workflow's code runs, and reports any YAML
syntax error as "Config file is not valid JSON or YAML" without file or line. ``samcryo
check-config`` reads the file with this module instead, so the user learns where the mistake is,
then runs the workflow's own start-up checks on it (schema, files, inputs).
"""

from __future__ import annotations

from pathlib import Path

from samcryo_core.errors import InputError


def load_config_file(path: str | Path) -> dict:
    """The config as a dict.

    Raises:
        InputError: the file is missing, not YAML (named ``file:line:column``), or not a mapping.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot read the config file ({exc.strerror or exc})",
                          "check the path given to --configfile") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        context = getattr(exc, "context", None)
        detail = f"{problem} ({context})" if context else problem
        tabs = " (the line holds a tab: YAML indents with spaces only)" if mark is not None and "\t" in (
            text.splitlines()[mark.line] if mark.line < len(text.splitlines()) else "") else ""
        raise InputError(where, f"YAML syntax error: {detail}{tabs}",
                          "fix the indentation or quoting at that line (compare with config/config.yaml)"
                          ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(str(path), f"the file holds a {type(data).__name__}, not 'key: value' lines",
                          "start from config/config.yaml")
    return data
