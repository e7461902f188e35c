"""The local embedded AWS for audioval: an emulator on loopback and the pipeline's resources."""

from audioval_localstack.emulator import Emulator, free_port, free_ports
from audioval_localstack.faults import FaultProxy
from audioval_localstack.provision import provision, stream_name

__all__ = ["Emulator", "FaultProxy", "free_port", "free_ports", "provision", "stream_name"]
