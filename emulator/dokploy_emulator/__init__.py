"""A stateful emulator of Dokploy's REST API with real sshd-backed workspace containers."""

from .emulator import Emulator
from .faults import Faults, FaultSettings
from .runtime import ContainerView, Runtime, SshdRuntime
from .versions import Features

__all__ = [
    "ContainerView",
    "Emulator",
    "FaultSettings",
    "Faults",
    "Features",
    "Runtime",
    "SshdRuntime",
]
