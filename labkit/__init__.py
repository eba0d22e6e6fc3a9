"""labkit: an interactive lab on how microservices handle data, backed by real parts."""

from labkit.errors import LabkitError

__all__ = ["LabkitError", "__version__"]
__version__ = "0.1.0"
