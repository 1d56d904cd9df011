"""ddir-kit: real-world scale-arbitrary super-resolution datasets from a zoom lens, and the
benchmark of DDIR and its baselines on them.

Subpackages follow the flow (see README.md): calibration -> capture -> registration ->
benchmark, with models beside them. Nothing heavy is imported here, so that one broken
stage never breaks the others.
"""

__version__ = "0.1.0"
