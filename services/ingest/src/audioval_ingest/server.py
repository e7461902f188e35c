"""Start the ingest service: ``serve(settings)`` builds it, ``main()`` runs it until a signal."""

from __future__ import annotations

import logging
from typing import Any

from audioval.v1 import ingest_pb2, ingest_pb2_grpc
from audioval_ingest.servicer import IngestServicer
from audioval_ingest.settings import IngestSettings
from audioval_ingest.stream_set import StreamSet
from audioval_ingest.upload import UploadFunnel, largest_manifest_bytes
from audioval_pipeline.clients import aws_client
from audioval_servicekit import RunningServer, build_server, configure_logging, run_until_signal
from audioval_servicekit.tracing import configure_tracing

__all__ = ["SERVICE_NAME", "main", "serve"]

log = logging.getLogger(__name__)

SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


def serve(
    settings: IngestSettings,
    *,
    kinesis: Any = None,
    sqs: Any = None,
    dynamodb: Any = None,
) -> RunningServer:
    """Build and start ingest; AWS clients not passed are made from ``settings.pipeline``.

    Raises
    ------
    ValueError
        If the manifest of the largest allowed upload would not fit one SQS message.
    """
    manifest_bytes = largest_manifest_bytes(settings)
    if manifest_bytes > settings.sqs_max_message_bytes:
        raise ValueError(
            f"the manifest of a {settings.max_upload_bytes}-byte upload could reach "
            f"{manifest_bytes} bytes, over the SQS limit of {settings.sqs_max_message_bytes}; "
            "lower max_upload_bytes or raise record_data_bytes"
        )
    pipeline = settings.pipeline
    kinesis = kinesis if kinesis is not None else aws_client("kinesis", pipeline)
    sqs = sqs if sqs is not None else aws_client("sqs", pipeline)
    dynamodb = dynamodb if dynamodb is not None else aws_client("dynamodb", pipeline)
    stream_set = StreamSet(
        dynamodb,
        table=pipeline.stream_registry_table,
        availability_zone=pipeline.availability_zone,
        ttl_s=settings.stream_cache_ttl_s,
        max_stale_s=settings.stream_cache_max_stale_s,
    )
    funnel = UploadFunnel(
        kinesis=kinesis, sqs=sqs, dynamodb=dynamodb, stream_set=stream_set, settings=settings
    )
    servicer = IngestServicer(funnel)
    running = build_server(
        settings,
        [lambda server: ingest_pb2_grpc.add_IngestServiceServicer_to_server(servicer, server)],
        [SERVICE_NAME],
    )
    log.info(
        "ingest ready",
        extra={
            "availability_zone": pipeline.availability_zone,
            "manifest_queue": pipeline.manifest_queue,
            "aws_endpoint_url": pipeline.aws_endpoint_url,
        },
    )
    return running


def main() -> None:
    """Run ingest from the environment (``AUDIOVAL_INGEST_*``, ``AUDIOVAL_*``) until a signal."""
    settings = IngestSettings()
    configure_logging(settings.log_level, service="ingest")
    configure_tracing("ingest", otlp_endpoint=settings.trace_otlp_endpoint)
    run_until_signal(serve(settings), settings.grace_seconds)


if __name__ == "__main__":
    main()
