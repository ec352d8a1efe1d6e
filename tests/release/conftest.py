"""The release tests reuse the end-to-end fixtures: the emulator process and DevPod's env."""

from e2e.conftest import devpod_factory, emulator_latest  # noqa: F401
