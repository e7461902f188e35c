"""The pending item: written once; a retried write of the same item is not an error."""

from __future__ import annotations

from audioval_ingest.settings import IngestSettings
from audioval_ingest.stream_set import StreamSet
from audioval_ingest.upload import UploadFunnel, UploadMetadata, new_track_id
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings


def test_a_pending_write_applied_before_its_reply_was_lost_is_not_an_error(
    pipeline_settings: PipelineSettings,
) -> None:
    settings = IngestSettings(port=0, pipeline=pipeline_settings)
    dynamodb = aws_client("dynamodb", pipeline_settings)
    funnel = UploadFunnel(
        kinesis=aws_client("kinesis", pipeline_settings),
        sqs=aws_client("sqs", pipeline_settings),
        dynamodb=dynamodb,
        stream_set=StreamSet(
            dynamodb,
            table=pipeline_settings.stream_registry_table,
            availability_zone=pipeline_settings.availability_zone,
            ttl_s=5,
            max_stale_s=60,
        ),
        settings=settings,
    )
    track_id = new_track_id()
    meta = UploadMetadata(user_id="u1", track_name="song.wav")
    funnel.put_pending(track_id, meta)
    funnel.put_pending(track_id, meta)  # the retry of a write AWS already applied
    item = dynamodb.get_item(
        TableName=pipeline_settings.verdict_table, Key={"track_id": {"S": track_id}}
    )["Item"]
    assert item["state"]["S"] == "pending" and item["user_id"]["S"] == "u1"
