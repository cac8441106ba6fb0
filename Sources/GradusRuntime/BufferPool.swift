import Glibc

/// Size-bucketed recycling of tensor buffers, so a training step faults in no fresh pages.
/// (Interface fixed; the bucketed implementation is being written — this one calls the allocator.)
public final class BufferPool: @unchecked Sendable {
    public static let shared = BufferPool()

    /// A 64-byte aligned buffer of at least `byteCount` bytes, contents undefined.
    public func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
    }

    /// Returns a buffer obtained from `allocate(byteCount:)` with the same `byteCount`.
    public func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        pointer.deallocate()
    }
}
