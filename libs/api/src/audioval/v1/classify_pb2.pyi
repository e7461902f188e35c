from audioval.v1 import verdict_pb2 as _verdict_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrackState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRACK_STATE_UNSPECIFIED: _ClassVar[TrackState]
    TRACK_STATE_PENDING: _ClassVar[TrackState]
    TRACK_STATE_JUDGED: _ClassVar[TrackState]
TRACK_STATE_UNSPECIFIED: TrackState
TRACK_STATE_PENDING: TrackState
TRACK_STATE_JUDGED: TrackState

class ValidateTrackRequest(_message.Message):
    __slots__ = ("track_id", "content", "user_id", "track_name", "sha256")
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    track_id: str
    content: bytes
    user_id: str
    track_name: str
    sha256: str
    def __init__(self, track_id: _Optional[str] = ..., content: _Optional[bytes] = ..., user_id: _Optional[str] = ..., track_name: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class ValidateTrackResponse(_message.Message):
    __slots__ = ("verdict",)
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    verdict: _verdict_pb2.Verdict
    def __init__(self, verdict: _Optional[_Union[_verdict_pb2.Verdict, _Mapping]] = ...) -> None: ...

class TrackHeader(_message.Message):
    __slots__ = ("track_id", "user_id", "track_name", "sha256", "size_bytes")
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    track_id: str
    user_id: str
    track_name: str
    sha256: str
    size_bytes: int
    def __init__(self, track_id: _Optional[str] = ..., user_id: _Optional[str] = ..., track_name: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class ValidateTrackStreamRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: TrackHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[TrackHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ValidateTrackStreamResponse(_message.Message):
    __slots__ = ("verdict",)
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    verdict: _verdict_pb2.Verdict
    def __init__(self, verdict: _Optional[_Union[_verdict_pb2.Verdict, _Mapping]] = ...) -> None: ...

class GetVerdictRequest(_message.Message):
    __slots__ = ("track_id",)
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    track_id: str
    def __init__(self, track_id: _Optional[str] = ...) -> None: ...

class GetVerdictResponse(_message.Message):
    __slots__ = ("state", "verdict")
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    state: TrackState
    verdict: _verdict_pb2.Verdict
    def __init__(self, state: _Optional[_Union[TrackState, str]] = ..., verdict: _Optional[_Union[_verdict_pb2.Verdict, _Mapping]] = ...) -> None: ...

class WatchVerdictsRequest(_message.Message):
    __slots__ = ("user_id", "track_ids")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_IDS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    track_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_id: _Optional[str] = ..., track_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchVerdictsResponse(_message.Message):
    __slots__ = ("verdict",)
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    verdict: _verdict_pb2.Verdict
    def __init__(self, verdict: _Optional[_Union[_verdict_pb2.Verdict, _Mapping]] = ...) -> None: ...
