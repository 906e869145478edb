"""Everything the workflow checks at start-up, on one config file, without Snakemake.

The same calls as ``rules/common.smk`` (schema, :func:`~samcryo_core.workflow.settings.check_config`,
the input listing), so ``samcryo check-config`` passes exactly when ``snakemake -n`` would start.
"""

from __future__ import annotations

from pathlib import Path

from samcryo_core.errors import ConfigError, InputError


def check_config_file(path: str | Path) -> str:
    """A one-line summary of what the workflow would run with ``path``.

    Raises:
        InputError: the file cannot be read or is not YAML (``file:line:column``).
        ConfigError: a config problem (all schema problems at once), naming the key.
    """
    from samcryo_core.workflow.chunks import MEMBERSHIP_FILE, read_membership
    from samcryo_core.workflow.config_file import load_config_file
    from samcryo_core.workflow.inputs import list_inputs
    from samcryo_core.workflow.schema import fill_defaults, load_schema
    from samcryo_core.workflow.settings import (
        check_config,
        check_training_labels,
        require_config,
        validate_schema,
    )

    config = load_config_file(path)
    require_config(config)
    validate_schema(config, load_schema())
    fill_defaults(config)
    layout = check_config(config)
    if layout.trains_here:
        check_training_labels(config)
    try:
        listing = list_inputs(config["inputs"], config["chunk_size"], read_membership(MEMBERSHIP_FILE))
    except InputError as exc:
        raise ConfigError("inputs", str(exc), "fix the inputs section of your config") from None
    return (f"{path}: OK: {len(listing.sources)} micrographs in {len(listing.chunk_ids)} chunks, "
            f"{layout.variant}/{layout.prompt} -> {layout.prompt_dir}")
