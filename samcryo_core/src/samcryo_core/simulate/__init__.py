"""Synthetic cryo-EM micrographs with known truth (tests, demo, benchmarks, pre-training).

Dark protein particles (RELION CTF convention), a realistic noise spectrum, SNR down to 0.003
and junk (carbon edges, ice, aggregates) that is never in the truth. See docs/simulator.md.

Public API:
    SimulationParams, simulate_micrograph, SimulatedMicrograph, simulate_dataset,
    relion_ctf, make_particle_type.
"""

from samcryo_core.simulate.ctf import relion_ctf
from samcryo_core.simulate.dataset import micrograph_seed, simulate_dataset, truth_table
from samcryo_core.simulate.micrograph import SimulatedMicrograph, simulate_micrograph
from samcryo_core.simulate.params import SimulationParams
from samcryo_core.simulate.particles import ParticleType, make_particle_type

__all__ = [
    "ParticleType",
    "SimulatedMicrograph",
    "SimulationParams",
    "make_particle_type",
    "micrograph_seed",
    "relion_ctf",
    "simulate_dataset",
    "simulate_micrograph",
    "truth_table",
]
