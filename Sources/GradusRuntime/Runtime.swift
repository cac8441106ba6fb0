/// Process-wide runtime controls: the shared pool's configuration and BLAS threading.
public enum Runtime {
    /// Reconfigures the shared pool (thread count, NUMA policy, CPUs, pinning, waits, BLAS threads).
    /// An explicit configuration wins over the environment. See `ThreadPool.configure(_:)`.
    public static func configure(_ options: RuntimeOptions) throws(GradusError) {
        try ThreadPool.shared.configure(options)
    }

    /// The shared pool's plan (thread → CPU → node) with its decisions.
    public static var plan: ThreadPlan { ThreadPool.shared.plan }

    /// The OpenBLAS thread count in force (1 unless `blasThreads` was set, or inside `withParallelBLAS`).
    public static var blasThreads: Int { BLASThreading.threadCount }

    /// Runs `body` with the pool parked and OpenBLAS on `threads` threads (default: the pool's thread count),
    /// then restores the configured BLAS thread count. From inside a pool job, or while another thread runs
    /// a job, `body` runs with BLAS unchanged (never both hot).
    public static func withParallelBLAS<R, E: Error>(threads: Int? = nil, _ body: () throws(E) -> R) throws(E) -> R {
        let pool = ThreadPool.shared
        let n = min(max(1, threads ?? pool.threadCount), RuntimeOptions.maxThreads)
        guard pool.lockAndPark() else { return try body() }
        defer { pool.unlockAfterPark() }
        BLASThreading.apply(n)
        defer { BLASThreading.apply(pool.plan.blasThreads) }
        return try body()
    }
}
