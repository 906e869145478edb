"""Pre-training of samcryo's CPU-sized SAM backbone on simulated (and real) micrographs.

Official SAM weights cannot be downloaded everywhere and ``vit_b`` is too slow to adapt on a
laptop CPU, so samcryo ships ``cpu_small`` (SAM's architecture, ~2 M parameters) pre-trained by
this recipe on simulated micrographs of proteins *other* than the demo's. See
docs/demo_backbone.md and samcryo_core/weights/MODEL_CARD.md.

Public API:
    PretrainConfig, draw_simulation_params      the recipe (recipe.py)
    make_example, validation_set, batch_stream   training data, simulated and real (data.py)
    real.real_micrographs, centres.centres_from_mask   real CryoPPP sets and their mask centres
    pretrain, PretrainResult, validate           the training run (train.py)
    export_backbone, read_backbone_metadata      the weights file + sidecars (export.py)
"""

from samcryo_core.pretraining.data import PretrainExample, batch_stream, make_example, validation_set
from samcryo_core.pretraining.export import export_backbone, read_backbone_metadata
from samcryo_core.pretraining.recipe import PretrainConfig, draw_simulation_params
from samcryo_core.pretraining.train import PretrainResult, pretrain, validate

__all__ = [
    "PretrainConfig",
    "PretrainExample",
    "PretrainResult",
    "batch_stream",
    "draw_simulation_params",
    "export_backbone",
    "make_example",
    "pretrain",
    "read_backbone_metadata",
    "validate",
    "validation_set",
]
