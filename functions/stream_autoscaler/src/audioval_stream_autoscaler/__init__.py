"""Grow and shrink each availability zone's Kinesis stream set from its CloudWatch metrics.

This package is the autoscaler Lambda's whole code: it imports only boto3, the standard library
and ``audioval_pipeline.stream_registry`` (itself standard library only), so Pulumi ships this
package and that one module as the function's archive
(``audioval_infra.autoscaler.lambda_code``); ``handler.handler`` is the entry.

=============  ===========================================================================
module         holds
=============  ===========================================================================
``decision``   :func:`decide`: the pure rules below, over :class:`AzObservation`
``metrics``    :func:`collect_observation`: the set's load and the queue's age from CloudWatch
``actuator``   :class:`StreamSetActuator`: carries actions out on the registry and Kinesis
``handler``    :func:`run_once` and the Lambda entry :func:`handler`
=============  ===========================================================================

The registry is the table producers read; its record (``az``, ``stream_name``, ``state``,
``role``, ``created_at``, ``draining_since``) is defined once, in
:mod:`audioval_pipeline.stream_registry`. Producers route only to ``active`` streams. The
autoscaler owns the ``extra`` role (``baseline`` streams belong to Pulumi and are never touched
here) and the ``provisioning`` state: an extra stream being created, encrypted and given its
retention, which producers ignore until it turns ``active``. ``created_at`` /
``draining_since`` are the epoch seconds of the last scale action on the item.

Life of an extra stream: ``provisioning`` -> ``active`` -> ``draining`` -> removed (or back to
``active`` if load returns while it drains). Removal is safe when all three hold:

1. it has been draining for ``drain_quiet_s`` and CloudWatch saw no record written to it over
   that window (producers re-read the registry every 5 s, or use a copy up to 60 s old when the
   registry is unreadable; an upload routed before the drain keeps writing until it ends);
2. the manifest queue holds nothing older than that quiet window plus ``manifest_slack_s``
   (a manifest is sent right after its track's last record, so every manifest that names the
   stream is older than the window; the slack covers a slow SendMessage and manifests that
   SQS's age metric stops counting after their third receive on their way to the DLQ);
3. or, whatever the queue says, the stream's retention has passed since the quiet window began:
   its records have expired, so nothing can read them any more (the hard bound).

Manifests already in the dead-letter queue that name a removed stream cannot be rebuilt once the
stream is gone: redrive the DLQ within the stream's retention.
"""

from audioval_stream_autoscaler.actuator import StreamSetActuator
from audioval_stream_autoscaler.decision import (
    Action,
    AzObservation,
    Decision,
    PeriodLoad,
    ScalingPolicy,
    decide,
)
from audioval_stream_autoscaler.handler import handler, policy_from_env, run_once
from audioval_stream_autoscaler.metrics import collect_observation

__all__ = [
    "Action",
    "AzObservation",
    "Decision",
    "PeriodLoad",
    "ScalingPolicy",
    "StreamSetActuator",
    "collect_observation",
    "decide",
    "handler",
    "policy_from_env",
    "run_once",
]
