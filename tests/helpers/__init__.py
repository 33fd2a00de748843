"""Helpers shared by test modules, imported as ``helpers`` (tests/ is on sys.path: its conftest is rootless)."""
