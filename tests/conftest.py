"""Fixtures shared by every test module.

Torch runs on one thread in every test: CI machines have two cores, tests run model code in
many small pieces (where thread start-up costs more than it saves), and several tests compare
results bit for bit, which one thread makes independent of the machine's core count.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def torch_one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
