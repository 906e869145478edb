"""The demo config (config/demo.yaml) points at the shipped backbone with its recorded checksum."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_demo_config_uses_the_shipped_backbone_and_its_sha256():
    from samcryo_core.weights import resolve_checkpoint

    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    ckpt = Path(resolve_checkpoint(cfg["model"]["checkpoint"]))
    assert ckpt.is_absolute()
    assert ckpt.is_file(), f"config/demo.yaml model.checkpoint {ckpt} does not exist"
    meta = json.loads(ckpt.with_suffix(".json").read_text())
    assert cfg["model"]["sha256"] == meta["sha256"], "config/demo.yaml's sha256 is not the shipped backbone's"


def test_prompt_config_sections_build_their_prompts():
    """Every prompt_config section in config/demo.yaml is accepted by its prompt type."""
    from samcryo_core.model import PromptedSam

    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    for prompt, options in (cfg["model"].get("prompt_config") or {}).items():
        model = PromptedSam.build("tiny", prompt, prompt_config=options or None)
        for key, value in (options or {}).items():
            got = getattr(model.prompt.config, key)
            assert list(got) == list(value) if isinstance(value, list) else got == value


def test_unknown_shipped_name_is_a_config_error():
    import pytest

    from samcryo_core.errors import ConfigError
    from samcryo_core.weights import resolve_checkpoint

    with pytest.raises(ConfigError, match="model.checkpoint"):
        resolve_checkpoint("samcryo:../../etc/passwd")
    assert resolve_checkpoint("/data/sam_vit_h_4b8939.pth") == "/data/sam_vit_h_4b8939.pth"
    assert resolve_checkpoint(None) is None
