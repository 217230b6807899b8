"""Rendered resources fetched by the DICOMweb community's client (``dicomweb-client``).

``dicomnet serve --http`` runs in-process and receives the sample studies from
DCMTK ``storescu``; the client (synchronous, on ``requests``) runs in a worker
thread and asks for rendered instances, frames and series as PNG and JPEG.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from helpers.peers import dcmtk_program
from helpers.programs import run_program
from PIL import Image

from dicomnet.web.render import Window, window_lut

from .samples import phantom, write_samples
from .serving import HttpServing


@pytest.mark.interop
async def test_rendered_with_dicomweb_client(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storescu = dcmtk_program("storescu")
    samples = write_samples(tmp_path / "files")
    running = HttpServing(["--output", str(tmp_path / "store")], capsys)
    port, http_port = await running.start()
    try:
        code, out = await run_program(
            storescu, "-aec", "DICOMNET", "127.0.0.1", str(port), *map(str, samples.files)
        )
        assert code == 0, out
        client = DICOMwebClient(f"http://127.0.0.1:{http_port}/dicomweb")
        s = samples

        png = await asyncio.to_thread(
            client.retrieve_instance_rendered,
            s.ct_study,
            s.ct_series,
            s.ct_instances[0],
            media_types=("image/png",),
            params={"window": "300,1500,linear"},
        )
        shown = np.asarray(Image.open(io.BytesIO(png)))
        expected = window_lut(phantom(256, 1).astype(float) - 1024, Window(300, 1500))
        assert np.array_equal(shown, expected)

        frame = await asyncio.to_thread(
            client.retrieve_instance_frames_rendered,
            s.ct_study,
            s.cine_series,
            s.cine_instance,
            frame_numbers=[6],
            media_types=("image/png",),
        )
        row = np.asarray(Image.open(io.BytesIO(frame)))[64]
        assert row[140] == 255 and row[20] < 255  # frame 6: the disc at x = 20 + 24 * 5

        jpeg = await asyncio.to_thread(
            client.retrieve_series_rendered,
            s.mr_study,
            s.mr_series,
            media_types=("image/jpeg",),
            params={"viewport": "90,100", "quality": "80"},
        )
        image = Image.open(io.BytesIO(jpeg))
        assert image.format == "JPEG" and image.size == (90, 100)
    finally:
        assert await running.stop() == 0
