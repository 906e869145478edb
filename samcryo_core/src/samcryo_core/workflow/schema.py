"""The config schema, shipped inside samcryo_core: the one home of every default.

Why here and not beside the Snakefile: the ``samcryo`` commands need the same defaults as the
workflow (``samcryo segment --tta`` must default to what ``segment.tta`` defaults to), and an
installed package can only read files it ships. So ``config.schema.yaml`` lives in this package;
``rules/common.smk`` validates the user's config against it (Snakemake's ``validate`` fills in
its defaults), and the CLI options that mirror a config key take their default from it
(:func:`samcryo_core.cli.common_args.config_option`). A user config therefore only holds what
differs from these defaults, and nothing else is merged in.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

#: The JSON schema (draft 2020-12, written as YAML) of the workflow config.
SCHEMA_PATH = Path(__file__).resolve().with_name("config.schema.yaml")


@lru_cache(maxsize=1)
def _schema() -> dict:
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def load_schema() -> dict:
    """A copy of the schema (callers may not change the cached one)."""
    return copy.deepcopy(_schema())


def schema_node(key: str) -> dict:
    """The schema of a dotted config key (``segment.tta``), following ``$ref`` into ``$defs``.

    Raises:
        KeyError: the key is not in the schema.
    """
    schema = _schema()
    node: dict = schema
    for part in key.split("."):
        props = node.get("properties") or {}
        if part not in props:
            raise KeyError(f"config key '{key}' is not in {SCHEMA_PATH.name}")
        node = props[part]
    ref = node.get("$ref")
    if ref:
        target = schema
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def default(key: str) -> Any:
    """The schema's default of a dotted config key (lists become tuples, as argparse gives them).

    Raises:
        KeyError: the key is not in the schema or has no default (a required key).
    """
    node = schema_node(key)
    if "default" not in node:
        raise KeyError(f"config key '{key}' has no default in {SCHEMA_PATH.name}")
    value = copy.deepcopy(node["default"])
    return tuple(value) if isinstance(value, list) else value


def choices(key: str) -> list | None:
    """The allowed values of a dotted config key (its ``enum``), or None."""
    node = schema_node(key)
    return list(node["enum"]) if "enum" in node else None


def leaf_keys(node: dict | None = None, prefix: str = "") -> list[str]:
    """Every dotted key of the schema that holds a value (not a section)."""
    node = _schema() if node is None else node
    out: list[str] = []
    for name, sub in (node.get("properties") or {}).items():
        key = f"{prefix}{name}"
        if sub.get("type") == "object" and sub.get("properties") and name != "prompt_config":
            out.extend(leaf_keys(sub, f"{key}."))
        else:
            out.append(key)
    return out


def fill_defaults(config: dict, node: dict | None = None) -> dict:
    """Fill in the schema's defaults (recursively, in place), as Snakemake's ``validate`` does."""
    node = _schema() if node is None else node
    for name, sub in (node.get("properties") or {}).items():
        if name not in config and "default" in sub:
            config[name] = copy.deepcopy(sub["default"])
        if isinstance(config.get(name), dict) and sub.get("properties"):
            fill_defaults(config[name], sub)
    return config
