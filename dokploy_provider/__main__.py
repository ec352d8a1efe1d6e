"""``python -m dokploy_provider``: the same entry point as the console script."""

from dokploy_provider.cli import main

main()
