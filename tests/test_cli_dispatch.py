"""The `samcryo` dispatcher: subcommand help reaches the subcommand; errors are one line."""

from __future__ import annotations

import pytest

from samcryo_core.cli import COMMANDS, main


def test_subcommand_help_shows_its_own_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["normalize", "--help"])
    assert exc.value.code == 0
    assert "--particle-px" in capsys.readouterr().out


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_is_an_error():
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_version(capsys):
    from samcryo_core import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"samcryo {__version__}"


# Options named like a config key that are not that key, and why (every other option whose name
# matches a schema key must mirror it: see the test below).
NOT_CONFIG_KEYS = {
    ("simulate", "seed"): "the simulated data set's seed, not training's",
    ("simulate", "pixel_size"): "the simulated micrographs' pixel size",
    ("fetch-checkpoint", "sha256"): "the download's checksum (default: the official file's)",
    ("fetch-checkpoint", "variant"): "which official file to download (vit_* only)",
    ("evaluate", "diameter_px"): "a diameter for truth files without one (no config key)",
    ("extract", "diameter_px"): "the alternative to --diameter-A (particle.diameter_A, required)",
    ("pick-log", "diameter_px"): "the alternative to --diameter-A (particle.diameter_A, required)",
    ("relion-external", "relion_version"): "default: the project's version (default_pipeline.star)",
    ("pick", "micrographs"): "the micrographs to pick (train.micrographs are the labelled ones)",
    ("export", "relion_dir"): "the folder itself; export.relion_dir is relative to inputs.project_dir",
    ("export", "threshold"): "export's --min-fom: the workflow passes the resolved threshold",
    ("evaluate", "threshold"): "the workflow passes the resolved threshold (LoG: its own scale)",
    ("report", "threshold"): "drawn on plots; the workflow passes the resolved threshold",
    ("train", "prompt_config"): "the workflow passes model.prompt_config.<prompt>",
    ("install-profile", "name"): "a profile name",
    ("segment", "prompt"): "without --prompt-file only 'none' (the prompt type comes from the file)",
    ("train", "prompt"): "the prompt type to train (no log / none)",
    ("report", "name"): "a run's name in the comparison",
    ("report", "compare"): "NAME=JSON pairs; the workflow adds compare_existing's runs to the mapping",
}


def _parsers():
    import argparse
    import importlib

    from samcryo_core.cli import _module_name

    for command in COMMANDS:
        parser = argparse.ArgumentParser(prog=command)
        importlib.import_module(_module_name(command)).add_arguments(parser)
        yield command, parser


def test_every_cli_option_that_mirrors_a_config_key_has_the_schema_default():
    """One default per key: `samcryo <stage>` run by hand does what the workflow does with a config
    that leaves the key out (the schema's default), choices included. Options whose name is a
    schema key's must mirror it (or be listed above with the reason)."""
    from samcryo_core.workflow import schema

    # keys with a default (a required key, e.g. particle.diameter_A, has none to mirror)
    leaf_names = {key.rsplit(".", 1)[-1].removesuffix("_A"): key for key in schema.leaf_keys()
                  if "default" in schema.schema_node(key)}
    mirrored = 0
    for command, parser in _parsers():
        for action in parser._actions:
            key = getattr(action, "config_key", None)
            if key is None:
                name = action.dest.removesuffix("_A")
                exempt = action.required or (command, action.dest) in NOT_CONFIG_KEYS
                if name in leaf_names and not exempt:
                    raise AssertionError(f"samcryo {command} {action.option_strings}: named like config "
                                         f"key {leaf_names[name]} but does not mirror it")
                continue
            mirrored += 1
            where = f"samcryo {command} {'/'.join(action.option_strings)} vs {key}"
            want = schema.default(key)
            if action.nargs == 0:  # a flag: --x for a false default, --no-x for a true one
                assert want is bool(action.config_inverted), where
                continue
            got = tuple(action.default) if isinstance(action.default, list) else action.default
            assert got == want, f"{where}: default {got!r}, schema {want!r}"
            if schema.choices(key) is not None:
                assert list(action.choices) == schema.choices(key), where
    assert mirrored >= 40
