"""Status codes of include/gradus.h (pinned values) and the exception that carries them."""

OK = 0
INVALID_ARGUMENT = 1
SHAPE_MISMATCH = 2
DTYPE_MISMATCH = 3
OUT_OF_MEMORY = 4
IO_ERROR = 5
FORMAT_ERROR = 6
UNSUPPORTED = 7
INVALID_HANDLE = 8
INVALID_STATE = 9
NOT_FOUND = 10
INTERNAL = 11

_NAMES = {v: k for k, v in globals().items() if k.isupper() and isinstance(v, int)}


class GradusError(Exception):
    """A non-OK status from libgradus. ``status`` is the GRADUS_STATUS_* value, ``message`` the library's
    per-thread message for the failed call. Subclasses ValueError-like errors are not used: catch this."""

    def __init__(self, status, message=""):
        self.status = int(status)
        self.message = message
        super().__init__(f"{self.status_name}: {message}" if message else self.status_name)

    @property
    def status_name(self):
        return "GRADUS_STATUS_" + _NAMES.get(self.status, "UNKNOWN")
