"""What the services, the local stack, the CLI and the autoscaler Lambda share about AWS.

Each contract has one module, and every reader and writer imports it from there:

=====================  ========================================================================
module                 holds
=====================  ========================================================================
``settings``           :class:`~audioval_pipeline.settings.PipelineSettings`: endpoint, region
                       and the names of the streams, queues and tables (``AUDIOVAL_*``)
``clients``            :func:`~audioval_pipeline.clients.aws_client`: the one boto3 client factory
``verdict_table``      the verdict-table item (:class:`~audioval_pipeline.verdict_table.VerdictItem`)
                       and its writes: pending, "first verdict wins", forget-pending
``stream_registry``    the stream-registry record (:class:`~audioval_pipeline.stream_registry.StreamEntry`),
                       its key schema and stream names (standard library only: the Lambda ships it)
``manifest``           the SQS body of a manifest (one encode, one decode) and its FIFO ids
``shards``             Kinesis shard placement (MD5 hash key -> open shard) and per-shard token
                       buckets
=====================  ========================================================================

Nothing is imported here on purpose: the autoscaler Lambda's archive holds this file and
``stream_registry.py`` only (its runtime has boto3 and the standard library, not pydantic).
"""
