from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReferenceList(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFERENCE_LIST_UNSPECIFIED: _ClassVar[ReferenceList]
    REFERENCE_LIST_KNOWN_BAD: _ClassVar[ReferenceList]
    REFERENCE_LIST_CATALOGUE: _ClassVar[ReferenceList]
REFERENCE_LIST_UNSPECIFIED: ReferenceList
REFERENCE_LIST_KNOWN_BAD: ReferenceList
REFERENCE_LIST_CATALOGUE: ReferenceList

class Reference(_message.Message):
    __slots__ = ("ref", "list", "track_id", "name", "duration_s", "hashes")
    REF_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    ref: int
    list: ReferenceList
    track_id: str
    name: str
    duration_s: float
    hashes: int
    def __init__(self, ref: _Optional[int] = ..., list: _Optional[_Union[ReferenceList, str]] = ..., track_id: _Optional[str] = ..., name: _Optional[str] = ..., duration_s: _Optional[float] = ..., hashes: _Optional[int] = ...) -> None: ...

class AddReferenceRequest(_message.Message):
    __slots__ = ("content", "track_id", "list", "name")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    track_id: str
    list: ReferenceList
    name: str
    def __init__(self, content: _Optional[bytes] = ..., track_id: _Optional[str] = ..., list: _Optional[_Union[ReferenceList, str]] = ..., name: _Optional[str] = ...) -> None: ...

class AddReferenceResponse(_message.Message):
    __slots__ = ("reference", "superseded_track_ids")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_TRACK_IDS_FIELD_NUMBER: _ClassVar[int]
    reference: Reference
    superseded_track_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reference: _Optional[_Union[Reference, _Mapping]] = ..., superseded_track_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RemoveReferenceRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: int
    def __init__(self, ref: _Optional[int] = ...) -> None: ...

class RemoveReferenceResponse(_message.Message):
    __slots__ = ("reference",)
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    reference: Reference
    def __init__(self, reference: _Optional[_Union[Reference, _Mapping]] = ...) -> None: ...

class MatchTrackRequest(_message.Message):
    __slots__ = ("content", "track_id", "limit")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    track_id: str
    limit: int
    def __init__(self, content: _Optional[bytes] = ..., track_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ReferenceMatch(_message.Message):
    __slots__ = ("reference", "score", "query_start_s", "ref_start_s", "matched_s", "scale")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    QUERY_START_S_FIELD_NUMBER: _ClassVar[int]
    REF_START_S_FIELD_NUMBER: _ClassVar[int]
    MATCHED_S_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    reference: Reference
    score: float
    query_start_s: float
    ref_start_s: float
    matched_s: float
    scale: float
    def __init__(self, reference: _Optional[_Union[Reference, _Mapping]] = ..., score: _Optional[float] = ..., query_start_s: _Optional[float] = ..., ref_start_s: _Optional[float] = ..., matched_s: _Optional[float] = ..., scale: _Optional[float] = ...) -> None: ...

class MatchTrackResponse(_message.Message):
    __slots__ = ("matches",)
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[ReferenceMatch]
    def __init__(self, matches: _Optional[_Iterable[_Union[ReferenceMatch, _Mapping]]] = ...) -> None: ...
