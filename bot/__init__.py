"""paperwatch: a research-paper alert bot (platform-neutral core)."""

__version__ = "0.1.0"
