"""The lifetime shared by every Python object that owns library handles."""


class Closeable:
    """Owns library handles through `self._finalizer` (a `weakref.finalize` set by the subclass).

    The handles are freed by `close()`, by leaving a `with` block, or when the object is collected, whichever
    comes first; closing twice is a no-op.
    """

    def close(self):
        """Frees the library handles this object owns (idempotent)."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
