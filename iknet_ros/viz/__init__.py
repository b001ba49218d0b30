"""Figures (PNG) and 2D drawing: leaves, imported only by the CLI."""
