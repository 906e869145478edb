"""samcryo_core: the model and data code of the samcryo particle-picking pipeline.

Subpackages follow the pipeline: ``io`` (files) -> ``ingest`` (validation) -> ``preprocess``
(binning, contrast) -> ``model`` + ``training`` + ``inference`` (prompt-adapted SAM) ->
``particles`` (mask to picks) -> ``export`` (RELION, cryoSPARC, EMAN) -> ``evaluation`` and
``qc``. ``simulate`` makes synthetic micrographs with known truth for tests and the demo;
``pickers`` holds classical pickers (LoG) to compare against.
"""

__version__ = "0.1.0"
