"""The reliability suite runs on the end-to-end fixtures."""

from e2e.conftest import devpod_factory, emulator_latest  # noqa: F401 - re-exported fixtures
