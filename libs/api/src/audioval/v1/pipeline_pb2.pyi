import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChunkRecord(_message.Message):
    __slots__ = ("track_id", "index", "offset", "data", "traceparent")
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    track_id: str
    index: int
    offset: int
    data: bytes
    traceparent: str
    def __init__(self, track_id: _Optional[str] = ..., index: _Optional[int] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., traceparent: _Optional[str] = ...) -> None: ...

class ChunkLocation(_message.Message):
    __slots__ = ("index", "stream_name", "shard_id", "sequence_number", "size_bytes")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    index: int
    stream_name: str
    shard_id: str
    sequence_number: str
    size_bytes: int
    def __init__(self, index: _Optional[int] = ..., stream_name: _Optional[str] = ..., shard_id: _Optional[str] = ..., sequence_number: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class Manifest(_message.Message):
    __slots__ = ("track_id", "user_id", "track_name", "content_type", "size_bytes", "sha256", "chunk_count", "chunks", "uploaded_at", "traceparent")
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    UPLOADED_AT_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    track_id: str
    user_id: str
    track_name: str
    content_type: str
    size_bytes: int
    sha256: str
    chunk_count: int
    chunks: _containers.RepeatedCompositeFieldContainer[ChunkLocation]
    uploaded_at: _timestamp_pb2.Timestamp
    traceparent: str
    def __init__(self, track_id: _Optional[str] = ..., user_id: _Optional[str] = ..., track_name: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., chunk_count: _Optional[int] = ..., chunks: _Optional[_Iterable[_Union[ChunkLocation, _Mapping]]] = ..., uploaded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., traceparent: _Optional[str] = ...) -> None: ...
