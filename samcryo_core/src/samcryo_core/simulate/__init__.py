"""Synthetic cryo-EM micrographs with known truth (tests, demo, benchmarks, pre-training).

Dark protein particles (RELION CTF convention) of several shape families, a realistic noise
spectrum, SNR down to 0.003, crowding up to about 40 % of the area, junk (carbon edges, ice,
ethane, holes, ice crystals, aggregates, filaments) that is never in the truth, and the export
styles users hand to pickers. A field is drawn in Angstrom (:func:`make_scene`) and imaged at
any pixel size (:func:`render_scene`). See docs/simulator.md.

Public API:
    SimulationParams, simulate_micrograph, SimulatedMicrograph, simulate_dataset,
    Scene, make_scene, render_scene, FAMILIES, STYLES, relion_ctf, make_particle_type.
"""

from samcryo_core.simulate.ctf import relion_ctf
from samcryo_core.simulate.dataset import micrograph_seed, simulate_dataset, truth_table
from samcryo_core.simulate.micrograph import SimulatedMicrograph, render_scene, simulate_micrograph
from samcryo_core.simulate.params import SimulationParams
from samcryo_core.simulate.particles import ParticleType, make_particle_type
from samcryo_core.simulate.scene import Scene, make_scene
from samcryo_core.simulate.shapes import FAMILIES
from samcryo_core.simulate.styles import STYLES

__all__ = [
    "FAMILIES",
    "STYLES",
    "ParticleType",
    "Scene",
    "SimulatedMicrograph",
    "SimulationParams",
    "make_particle_type",
    "make_scene",
    "micrograph_seed",
    "relion_ctf",
    "render_scene",
    "simulate_dataset",
    "simulate_micrograph",
    "truth_table",
]
