"""dicomnet: an asyncio-native DICOM upper-layer network stack."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
