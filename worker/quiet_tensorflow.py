"""Import TensorFlow without its C++ start-up banner, for commands a person reads.

TensorFlow 2.21 prints "All log messages before absl::InitializeLog()..." and a oneDNN note
on stderr at import, whatever TF_CPP_MIN_LOG_LEVEL says. `scorer score` and `scorer demo`
print for people, so they import it with stderr (file descriptor 2) parked on a temporary
file, and pass on whatever was printed that is not one of those known notes.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

_KNOWN_NOTES = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)|I\d{4} .*\] (oneDNN custom "
    rb"operations are on|This TensorFlow binary is optimized)|To enable the following "
    rb"instructions:)"
)


def import_tensorflow_quietly() -> None:
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as parked:
        os.dup2(parked.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            parked.seek(0)
            for line in parked:
                if not _KNOWN_NOTES.match(line):
                    sys.stderr.buffer.write(line)
            sys.stderr.flush()
