"""Counters, association records and the Prometheus endpoint of ``dicomnet serve``."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from archive.test_serve_archive import Running
from prometheus_client.parser import text_string_to_metric_families

from dicomnet.ae import AE
from dicomnet.observe.exposition import merge, render
from dicomnet.observe.http import start_metrics_endpoint
from dicomnet.policy import Policy, ProposedContext
from dicomnet.storage.scu import store_all
from dicomnet.storage.synthetic import SECONDARY_CAPTURE, make_image

SYNTAXES = ("1.2.840.10008.1.2.1",)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus-client's own parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def scrape(port: int, path: str = "/metrics", method: str = "GET") -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return head.split("\r\n", 1)[0], body


def test_workers_snapshots_add_up_and_render_in_the_text_format() -> None:
    one = {"instances_total": {"": 3.0}, "associations_total": {"released": 1.0}}
    two = {"instances_total": {"": 4.0}, "associations_total": {"aborted": 2.0, "released": 1.0}}
    three = {"instance_failures_total": {"A700": 1.0}, "associations_active": {"": 2.0}}
    text = render(merge([one, two, three]))
    found = samples(text)
    assert found[("dicomnet_instances_total", ())] == 7
    assert found[("dicomnet_associations_total", (("outcome", "released"),))] == 2
    assert found[("dicomnet_associations_total", (("outcome", "aborted"),))] == 2
    assert found[("dicomnet_instance_failures_total", (("status", "A700"),))] == 1
    assert found[("dicomnet_associations_active", ())] == 2
    assert "# TYPE dicomnet_instances_total counter" in text


async def test_endpoint_answers_metrics_only() -> None:
    endpoint = await start_metrics_endpoint("127.0.0.1", 0, lambda: "x 1\n")
    try:
        status, body = await scrape(endpoint.port)
        assert status == "HTTP/1.1 200 OK" and body == "x 1\n"
        assert (await scrape(endpoint.port, "/other"))[0].startswith("HTTP/1.1 404")
        assert (await scrape(endpoint.port, method="POST"))[0].startswith("HTTP/1.1 405")
    finally:
        await endpoint.close()


async def test_serve_counts_instances_and_logs_each_association(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet.associations")
    argv = ["--port", "0", "--host", "127.0.0.1", "--output", str(tmp_path / "s")]
    running = Running([*argv, "--metrics-port", "0", "--no-index"])
    port = await running.port()
    metrics_port = int(capsys.readouterr().out.split("metrics listening on ")[1].split()[0])
    images = [make_image(rows=4, columns=4, seed=n) for n in range(3)]
    try:
        policy = Policy(ae_title="MODALITY")
        contexts = [ProposedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=SYNTAXES)]
        async with AE("MODALITY", policy).associate(
            "127.0.0.1", port, called_ae="DICOMNET", contexts=contexts
        ) as assoc:
            results = await store_all(assoc, images)
        assert [r.status for r in results] == [0, 0, 0]
        async with asyncio.timeout(10):
            while not any(r.name == "dicomnet.associations" for r in caplog.records):
                await asyncio.sleep(0.02)
        status, body = await scrape(metrics_port)
        assert status == "HTTP/1.1 200 OK"
        found = samples(body)
        assert found[("dicomnet_instances_total", ())] == 3
        assert found[("dicomnet_associations_total", (("outcome", "released"),))] == 1
        assert found[("dicomnet_bytes_received_total", ())] > 3 * 4 * 4 * 2  # pixels at least
        assert found[("dicomnet_associations_active", ())] == 0
    finally:
        assert await running.stop() == 0
    (record,) = [r for r in caplog.records if r.name == "dicomnet.associations"]
    fields = record.association  # type: ignore[attr-defined]
    assert fields["outcome"] == "released" and fields["instances"] == 3
    assert fields["calling_ae"] == "MODALITY" and fields["called_ae"] == "DICOMNET"
    assert fields["sop_classes"] == [SECONDARY_CAPTURE] and fields["bytes"] > 3 * 16 * 2
    assert fields["peer"].startswith("127.0.0.1:")
