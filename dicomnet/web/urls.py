"""URLs the DICOMweb answers give back (Retrieve URL, Referenced SOP's URL)."""

from __future__ import annotations

from starlette.requests import Request

from .context import SERVICE_ROOT

__all__ = ["service_url"]


def service_url(request: Request) -> str:
    """The service root's absolute URL as the client reached it (``http://host:port/dicomweb``)."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    if root.endswith(SERVICE_ROOT):
        root = root[: -len(SERVICE_ROOT)]
    return f"{request.url.scheme}://{request.url.netloc}{root}{SERVICE_ROOT}"
