/// The persistent worker pool behind every parallel kernel.
/// (Interface fixed; the pinned, NUMA-aware implementation is being written — this one runs serially.)
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool, built on first use from the environment (`GRADUS_NUM_THREADS`, ...).
    public static let shared = ThreadPool(threadCount: 1)

    /// Number of workers, the caller's thread included.
    public private(set) var threadCount: Int

    public init(threadCount: Int) { self.threadCount = max(1, threadCount) }

    /// Runs `body(range, worker)` over `0..<count`, split into at most `threadCount` contiguous static
    /// slices of at least `grain` items each. Slice `w` is the same from call to call for the same
    /// `count`, so first-touch page placement made by worker `w` stays local.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        body(0..<count, 0)
    }
}
