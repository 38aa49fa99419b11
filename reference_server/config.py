"""Settings of one reference server instance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reference_server.choices import CHOICES, check_choice_names
from reference_server.faults import FAULTS, check_fault_names

# "20 MB" read as 20 binary megabytes (20 x 1,048,576 bytes), inclusive.
DEFAULT_MAX_BYTES = 20 * 1_048_576
# The same words read in decimal megabytes, under the decimal_megabyte choice.
DECIMAL_MAX_BYTES = 20 * 1_000_000
DEFAULT_MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class ServerConfig:
    """Everything create_app needs; tokens map bearer token -> user name."""

    data_dir: Path
    tokens: dict[str, str]
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    faults: frozenset[str] = frozenset()
    choices: frozenset[str] = frozenset()
    max_batch_files: int = 50
    max_parts: int = 64
    max_field_bytes: int = 64 * 1024
    thumb_pixels: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "faults", check_fault_names(self.faults))
        object.__setattr__(self, "choices", check_choice_names(self.choices))
        # A limit set on purpose (tests use small ones) wins over the reading of "MB".
        if self.choice("decimal_megabyte") and self.max_bytes == DEFAULT_MAX_BYTES:
            object.__setattr__(self, "max_bytes", DECIMAL_MAX_BYTES)
        if self.max_bytes < 1 or self.max_pixels < 1:
            raise ValueError("max_bytes and max_pixels must be positive")

    def fault(self, name: str) -> bool:
        """Whether the named fault is switched on; a name missing from the catalogue is a bug."""
        if name not in FAULTS:
            raise KeyError(f"fault {name!r} is not in the catalogue (reference_server/faults.py)")
        return name in self.faults

    def choice(self, name: str) -> bool:
        """Whether the named choice is switched on; a name missing from the catalogue is a bug."""
        if name not in CHOICES:
            raise KeyError(
                f"choice {name!r} is not in the catalogue (reference_server/choices.py)"
            )
        return name in self.choices
