import Glibc
import Synchronization
import _GradusShims

/// Size-bucketed recycling of tensor buffers, so a training step faults in no fresh pages (a fresh 4 KiB
/// page costs about 1.4 µs here; PyTorch loses about 4 ms per MLP step to it).
///
/// Sizes are rounded up to classes with four steps per power of two (at most 25% slack, multiples of 64 B).
/// Buffers below 2 MiB come from `posix_memalign` (64-byte aligned, page-aligned from 4 KiB); from 2 MiB up
/// they are anonymous mappings whose base is 2 MiB-aligned (THP-sized, `MADV_HUGEPAGE`), so first-touch shards
/// of 2 MiB never share a huge page. Freed buffers are cached per class up to `maxCachedBytes`; beyond it they
/// go back to the system. Thread-safe: one mutex around the free lists (allocation happens outside it).
public final class BufferPool: @unchecked Sendable {
    /// The process-wide pool (cache cap: a quarter of physical memory, at most 8 GiB).
    public static let shared = BufferPool()

    /// Counters for tests and diagnostics.
    public struct Statistics: Sendable, Equatable {
        /// Allocations served from the cache.
        public var hits = 0
        /// Allocations that needed fresh memory from the system.
        public var misses = 0
        /// Buffers returned to the system because the cache was full (or by `trim`).
        public var releases = 0
        /// Bytes (by size class) now cached.
        public var cachedBytes = 0
        /// Buffers now cached.
        public var cachedBuffers = 0
        /// Bytes (by size class) handed out and not yet returned.
        public var liveBytes = 0
        /// Bytes obtained from the system in total.
        public var freshBytes = 0
    }

    /// Threshold from which buffers are 2 MiB-aligned mappings.
    public static let hugeThreshold = 2 << 20

    private struct State: ~Copyable {
        var free: [Int: [UInt]] = [:]   // size class → cached base addresses
        var stats = Statistics()
        var maxCachedBytes: Int
    }
    private let state: Mutex<State>
    /// Whether fresh buffers of at least 2 MiB are first-touched in 2 MiB shards by the shared pool's workers
    /// when its plan is NUMA-aware (`nil`: follow the plan; true/false: always/never).
    public let firstTouch: Bool?

    /// Physical memory in bytes: the cap callers check a requested size against before allocating, because a
    /// failed allocation traps (`allocate`) and Swift traps cannot be caught.
    public static let physicalMemoryBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return Int.max / 8 }
        return pages.multipliedReportingOverflow(by: size).overflow ? Int.max / 8 : pages * size
    }()

    /// Throws `outOfMemory` when `count` elements of `elementSize` bytes exceed physical memory, overflow, or
    /// `count` is nil (the caller's element count overflowed) or negative; `what` names the request in the message.
    /// Returns the byte count.
    @discardableResult
    public static func requireFits(count: Int?, elementSize: Int, _ what: @autoclosure () -> String) throws(GradusError) -> Int {
        let (bytes, overflow) = (count ?? 0).multipliedReportingOverflow(by: elementSize)
        let beyond = (count ?? -1) < 0 || overflow
        guard !beyond, bytes <= physicalMemoryBytes else {
            throw .outOfMemory("\(what()) needs \(beyond ? "more than \(Int.max)" : "\(bytes)") bytes, more than the machine's \(physicalMemoryBytes)")
        }
        return bytes
    }

    /// A pool caching at most `maxCachedBytes` (default: a quarter of physical memory, at most 8 GiB).
    public init(maxCachedBytes: Int? = nil, firstTouch: Bool? = nil) {
        let cap = maxCachedBytes ?? min(8 << 30, max(256 << 20, Self.physicalMemoryBytes / 4))
        state = Mutex(State(maxCachedBytes: max(0, cap)))
        self.firstTouch = firstTouch
    }

    /// The cache cap in bytes; lowering it does not evict until buffers are returned (or `trim` is called).
    public var maxCachedBytes: Int {
        get { state.withLock { $0.maxCachedBytes } }
        set { state.withLock { $0.maxCachedBytes = max(0, newValue) } }
    }

    /// Current counters.
    public var statistics: Statistics { state.withLock { $0.stats } }

    /// The size class a request of `byteCount` bytes is served from.
    @inlinable
    public static func sizeClass(_ byteCount: Int) -> Int {
        if byteCount <= 64 { return 64 }
        // byteCount in (2^(k-1), 2^k]: four classes per octave, step 2^(k-3), at least 64.
        let k = Int.bitWidth - (byteCount - 1).leadingZeroBitCount
        let step = max(64, 1 << max(0, k - 3))
        return (byteCount + step - 1) / step * step
    }

    /// A 64-byte aligned buffer of at least `byteCount` bytes (page-aligned from 4 KiB, 2 MiB-aligned from
    /// 2 MiB), contents undefined. Traps only when the system is out of memory; use `tryAllocate` to handle that.
    public func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        do { return try tryAllocate(byteCount: byteCount) } catch { fatalError("gradus: \(error.message)") }
    }

    /// Like `allocate(byteCount:)`, throwing `GradusError.outOfMemory` (or `invalidArgument` for a size
    /// beyond the address space) instead of trapping.
    public func tryAllocate(byteCount: Int) throws(GradusError) -> UnsafeMutableRawPointer {
        guard byteCount <= Int.max / 2 else { throw .invalidArgument("buffer of \(byteCount) bytes is too large") }
        let size = Self.sizeClass(max(byteCount, 1))
        let cached: UInt? = state.withLock { s in
            if let p = s.free[size]?.popLast() {
                s.stats.hits += 1
                s.stats.cachedBytes -= size
                s.stats.cachedBuffers -= 1
                s.stats.liveBytes += size
                return p
            }
            return nil
        }
        if let p = cached, let pointer = UnsafeMutableRawPointer(bitPattern: p) { return pointer }
        guard let pointer = Self.systemAllocate(size) else {
            throw .outOfMemory("cannot allocate \(size) bytes")
        }
        state.withLock { s in
            s.stats.misses += 1
            s.stats.liveBytes += size
            s.stats.freshBytes += size
        }
        if size >= Self.hugeThreshold && (firstTouch ?? ThreadPool.shared.placesFirstTouch) {
            ThreadPool.shared.firstTouch(pointer, byteCount: size)
        }
        return pointer
    }

    /// Returns a buffer obtained from `allocate(byteCount:)` with the same `byteCount`.
    public func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let size = Self.sizeClass(max(byteCount, 1))
        let address = UInt(bitPattern: pointer)
        let kept: Bool = state.withLock { s in
            s.stats.liveBytes -= size
            if s.stats.cachedBytes + size <= s.maxCachedBytes {
                s.free[size, default: []].append(address)
                s.stats.cachedBytes += size
                s.stats.cachedBuffers += 1
                return true
            }
            s.stats.releases += 1
            return false
        }
        if !kept { Self.systemFree(pointer, size) }
    }

    /// Returns every cached buffer to the system.
    public func trim() {
        let all: [(Int, [UInt])] = state.withLock { s in
            let taken = s.free.map { ($0.key, $0.value) }
            s.free.removeAll()
            s.stats.releases += s.stats.cachedBuffers
            s.stats.cachedBytes = 0
            s.stats.cachedBuffers = 0
            return taken
        }
        for (size, list) in all {
            for a in list { if let p = UnsafeMutableRawPointer(bitPattern: a) { Self.systemFree(p, size) } }
        }
    }

    private static func systemAllocate(_ size: Int) -> UnsafeMutableRawPointer? {
        if size >= hugeThreshold { return gradus__map_aligned(size, hugeThreshold, 1) }
        var p: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&p, size >= 4096 ? 4096 : 64, size) == 0 else { return nil }
        return p
    }

    private static func systemFree(_ pointer: UnsafeMutableRawPointer, _ size: Int) {
        if size >= hugeThreshold { gradus__unmap(pointer, size) } else { free(pointer) }
    }
}
