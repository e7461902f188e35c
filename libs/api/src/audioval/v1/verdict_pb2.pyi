import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_ACCEPT: _ClassVar[Decision]
    DECISION_REVIEW: _ClassVar[Decision]
    DECISION_REJECT: _ClassVar[Decision]

class Label(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LABEL_UNSPECIFIED: _ClassVar[Label]
    LABEL_REAL: _ClassVar[Label]
    LABEL_MOCK: _ClassVar[Label]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_SUSPICIOUS: _ClassVar[Severity]
    SEVERITY_MALICIOUS: _ClassVar[Severity]
DECISION_UNSPECIFIED: Decision
DECISION_ACCEPT: Decision
DECISION_REVIEW: Decision
DECISION_REJECT: Decision
LABEL_UNSPECIFIED: Label
LABEL_REAL: Label
LABEL_MOCK: Label
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_SUSPICIOUS: Severity
SEVERITY_MALICIOUS: Severity

class Finding(_message.Message):
    __slots__ = ("code", "message", "severity", "evidence")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    severity: Severity
    evidence: _struct_pb2.Struct
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., evidence: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Verdict(_message.Message):
    __slots__ = ("track_id", "decision", "label", "score", "findings", "model_version", "user_id", "sha256", "size_bytes", "format", "timings_ms", "judged_at")
    class TimingsMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_MS_FIELD_NUMBER: _ClassVar[int]
    JUDGED_AT_FIELD_NUMBER: _ClassVar[int]
    track_id: str
    decision: Decision
    label: Label
    score: float
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    model_version: str
    user_id: str
    sha256: str
    size_bytes: int
    format: str
    timings_ms: _containers.ScalarMap[str, float]
    judged_at: _timestamp_pb2.Timestamp
    def __init__(self, track_id: _Optional[str] = ..., decision: _Optional[_Union[Decision, str]] = ..., label: _Optional[_Union[Label, str]] = ..., score: _Optional[float] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., model_version: _Optional[str] = ..., user_id: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., format: _Optional[str] = ..., timings_ms: _Optional[_Mapping[str, float]] = ..., judged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
