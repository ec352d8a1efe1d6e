"""DevPod machine provider for Dokploy."""

__version__ = "0.1.0"
