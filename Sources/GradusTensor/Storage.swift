import GradusRuntime

/// A reference-counted block of memory holding tensor elements.
///
/// Owned storage comes from `BufferPool.shared` and goes back to it on deinit, so a training step that
/// repeats the same shapes faults in no fresh pages. Borrowed storage wraps caller memory (numpy arrays,
/// C buffers) and calls the caller's release closure instead.
public final class Storage: @unchecked Sendable {
    public let raw: UnsafeMutableRawPointer
    public let byteCount: Int
    @usableFromInline let release: (@Sendable (UnsafeMutableRawPointer) -> Void)?

    /// Uninitialised pooled storage of `byteCount` bytes.
    public init(byteCount: Int) {
        self.byteCount = byteCount
        self.raw = BufferPool.shared.allocate(byteCount: byteCount)
        self.release = nil
    }

    /// Borrowed storage: `release` runs once when the last tensor using it goes away.
    public init(borrowing raw: UnsafeMutableRawPointer, byteCount: Int, release: (@Sendable (UnsafeMutableRawPointer) -> Void)?) {
        self.raw = raw
        self.byteCount = byteCount
        self.release = release ?? { _ in }
    }

    /// True when the memory belongs to someone else.
    public var isBorrowed: Bool { release != nil }

    deinit {
        if let release { release(raw) } else { BufferPool.shared.deallocate(raw, byteCount: byteCount) }
    }
}
