"""The SDK version (part of every Python environment's content hash)."""

__version__ = "0.1.0"
