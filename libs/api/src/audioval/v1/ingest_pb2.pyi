from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrackMetadata(_message.Message):
    __slots__ = ("user_id", "track_name", "content_type", "size_bytes")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    track_name: str
    content_type: str
    size_bytes: int
    def __init__(self, user_id: _Optional[str] = ..., track_name: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class UploadTrackRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: TrackMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[TrackMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadTrackResponse(_message.Message):
    __slots__ = ("track_id", "size_bytes", "sha256")
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    track_id: str
    size_bytes: int
    sha256: str
    def __init__(self, track_id: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...
