import Glibc
import Synchronization
import _GradusShims

/// The persistent worker pool behind every parallel kernel.
///
/// `parallelFor` splits `0..<count` into at most `threadCount` contiguous static slices; the caller's thread
/// runs slice 0 and pinned workers run the others. Slice `w` depends only on `(count, grain, threadCount)`,
/// so pages first touched by worker `w` stay local to it from step to step. Idle workers spin for a short,
/// time-based while and then sleep on a futex (see `WaitPolicy`); they never spin when oversubscribed.
///
/// Thread safety: any thread may call `parallelFor` at any time. The pool runs one job at a time; a caller
/// that finds it busy (another thread's job, or a nested call from inside a job) runs its slices serially on
/// its own thread, with the same slice boundaries and worker indices, so results do not change.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool, built on first use from the environment (`GRADUS_NUM_THREADS`, `GRADUS_NUMA`,
    /// `GRADUS_CPUS`, `GRADUS_PIN`, `GRADUS_WAIT`, `GRADUS_SPIN_US`, `GRADUS_BLAS_THREADS`,
    /// `GRADUS_VERBOSE_AFFINITY`). An invalid variable is reported on stderr and the defaults are used.
    public static let shared: ThreadPool = makeShared()

    /// Number of workers, the caller's thread included.
    public private(set) var threadCount: Int

    /// The thread → CPU → node plan in force, with its wait/pin/BLAS decisions. Safe to read from any thread.
    public var plan: ThreadPlan { configuration.withLock { $0.plan } }

    /// The options the plan was made from. Safe to read from any thread.
    public var options: RuntimeOptions { configuration.withLock { $0.options } }

    /// Whether large fresh buffers should be first-touched by the workers (the plan is NUMA-aware).
    var placesFirstTouch: Bool { placesFirstTouchFlag.load(ordering: .relaxed) }

    private struct Configuration: Sendable { var plan: ThreadPlan; var options: RuntimeOptions }
    private let configuration: Mutex<Configuration>
    private let placesFirstTouchFlag = Atomic<Bool>(false)

    // One job at a time; trylock, never block in parallelFor.
    private let busy = Atomic<Bool>(false)
    // Worker threads of the current configuration (guarded by `busy`).
    private var crew: Crew?

    // Only the shared pool sets process-wide state (BLAS threads, libnuma verbosity).
    private var isShared = false

    /// A pool configured from `options` (see `configure(_:)`). Only `ThreadPool.shared` applies the plan's
    /// BLAS thread count, which is process-wide.
    public init(options: RuntimeOptions) throws(GradusError) {
        let plan = try Self.makePlan(options)
        configuration = Mutex(Configuration(plan: plan, options: options))
        placesFirstTouchFlag.store(plan.isNUMAAware, ordering: .relaxed)
        self.threadCount = plan.threadCount
        self.crew = try Crew.start(plan: plan)
        if options.isVerbose { writeStderr(Self.verboseReport(plan)) }
    }

    /// A pool of `threadCount` threads (clamped to 1...4096) with every other option automatic. Never fails:
    /// should planning or thread creation fail, the pool runs serially on the caller.
    public init(threadCount: Int) {
        let options = RuntimeOptions(threadCount: min(max(1, threadCount), RuntimeOptions.maxThreads))
        var plan = ThreadPlan.serial(cpu: ThreadPool.currentCPU() ?? 0)
        var crew: Crew? = nil
        if let p = try? Self.makePlan(options), let c = try? Crew.start(plan: p) { plan = p; crew = c }
        configuration = Mutex(Configuration(plan: plan, options: options))
        placesFirstTouchFlag.store(plan.isNUMAAware, ordering: .relaxed)
        self.crew = crew
        self.threadCount = plan.threadCount
    }

    deinit { crew?.stop() }

    /// Replaces the configuration: stops the workers, plans again, starts new ones, applies the BLAS thread
    /// count. Waits for a job in flight to finish. Call it between steps: a `parallelFor` caller that read
    /// `threadCount` before the change must not size per-worker scratch from it.
    ///
    /// - Throws: `GradusError.invalidArgument` for invalid options (the old configuration stays);
    ///   `GradusError.internal` if worker threads cannot be created (the pool then runs serially).
    public func configure(_ options: RuntimeOptions) throws(GradusError) {
        let newPlan = try Self.makePlan(options)
        lockBlocking()
        defer { busy.store(false, ordering: .releasing) }
        crew?.stop()
        crew = nil
        configuration.withLock { $0 = Configuration(plan: newPlan, options: options) }
        placesFirstTouchFlag.store(newPlan.isNUMAAware, ordering: .relaxed)
        self.threadCount = newPlan.threadCount
        do {
            crew = try Crew.start(plan: newPlan)
        } catch {
            let serial = ThreadPlan.serial(cpu: ThreadPool.currentCPU() ?? 0)
            configuration.withLock { $0.plan = serial }
            self.threadCount = 1
            throw error
        }
        if isShared { Self.applyProcessWide(newPlan, verbose: options.isVerbose) }
        if options.isVerbose { writeStderr(Self.verboseReport(newPlan)) }
    }

    /// The slice of `0..<count` that worker `worker` runs in a `parallelFor(count, grain:)` on this pool,
    /// or nil when that worker gets none. Use it to place buffers (first touch) or size per-worker scratch.
    public func slice(of count: Int, grain: Int = 1, worker: Int) -> Range<Int>? {
        let n = Self.sliceCount(count, grain: grain, threads: threadCount)
        guard worker >= 0 && worker < n else { return nil }
        return Self.slice(worker, of: count, slices: n)
    }

    /// Number of slices a `parallelFor(count, grain:)` uses on `threads` threads: `min(threads, count / grain)`,
    /// at least 1 (for `count > 0`).
    @inlinable
    public static func sliceCount(_ count: Int, grain: Int, threads: Int) -> Int {
        guard count > 0 else { return 0 }
        let g = grain > 1 ? grain : 1
        return max(1, min(threads, count / g))
    }

    /// Slice `w` of `slices` balanced contiguous slices of `0..<count`: the first `count % slices` slices get
    /// one item more. Deterministic and overflow-free.
    @inlinable
    public static func slice(_ w: Int, of count: Int, slices: Int) -> Range<Int> {
        let base = count / slices, extra = count % slices
        let lo = w &* base &+ min(w, extra)
        return lo..<(lo &+ base &+ (w < extra ? 1 : 0))
    }

    /// Runs `body(range, worker)` over `0..<count`, split into at most `threadCount` contiguous static slices
    /// of at least `grain` items each (`grain <= 0` counts as 1). Slice `w` is the same from call to call for
    /// the same `count`, so first-touch page placement made by worker `w` stays local.
    ///
    /// Work that fits one slice runs inline on the caller with no synchronisation. The caller's thread runs
    /// slice 0. Returns when every slice has finished; `body` is not retained afterwards.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        let slices = Self.sliceCount(count, grain: grain, threads: threadCount)
        if slices <= 1 {
            if slices == 1 { body(0..<count, 0) }
            return
        }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            runSerially(count, slices: slices, body)
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        guard let crew, slices <= crew.threadCount else {
            runSerially(count, slices: slices, body)
            return
        }
        crew.run(count, slices: slices, body)
    }

    /// Asks spinning workers to sleep now, e.g. before a multi-threaded BLAS call. They wake for the next job.
    public func park() {
        if busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            crew?.park()
            busy.store(false, ordering: .releasing)
        }
    }

    /// Locks the pool and parks its workers: no job can start (`parallelFor` from any thread runs serially)
    /// until `unlockAfterPark()`. False, without locking, when the pool is busy (e.g. called from inside a job).
    func lockAndPark() -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        crew?.park()
        return true
    }

    func unlockAfterPark() { busy.store(false, ordering: .releasing) }

    private func runSerially(_ count: Int, slices: Int, _ body: (Range<Int>, Int) -> Void) {
        for w in 0..<slices { body(Self.slice(w, of: count, slices: slices), w) }
    }

    private func lockBlocking() {
        while !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged { sched_yield() }
    }

    // MARK: - Construction helpers

    /// The inherited affinity mask of the process (what taskset, numactl, cgroups or mpirun gave it).
    public static func inheritedAffinity() -> [Int] {
        var cpus = [Int32](repeating: 0, count: 8192)
        let n = cpus.withUnsafeMutableBufferPointer { gradus__process_affinity($0.baseAddress, Int32($0.count)) }
        guard n > 0 else { return [] }
        return cpus[0..<min(Int(n), cpus.count)].map(Int.init)
    }

    /// Plans `options` on the real machine (or the fake topology/mask the options name).
    public static func makePlan(_ options: RuntimeOptions) throws(GradusError) -> ThreadPlan {
        let inherited = inheritedAffinity()
        let topology: Topology
        if let spec = options.fakeTopology { topology = try Topology(spec: spec) }
        else { topology = Topology.load(sysfsRoot: options.sysfsRoot, fallbackCPUs: inherited) }
        let current = Int(gradus__current_cpu())
        let online = options.fakeTopology == nil && options.sysfsRoot == "/sys"
            ? SystemFiles.readText("/sys/devices/system/cpu/online").flatMap { try? CPUList.parse($0) } : nil
        return try ThreadPlan.make(options: options, topology: topology, allowedCPUs: inherited,
                                   currentCPU: current >= 0 ? current : nil, onlineCPUs: online)
    }

    private static func makeShared() -> ThreadPool {
        var options: RuntimeOptions
        do { options = try RuntimeOptions.fromEnvironment() } catch {
            writeStderr("gradus: ignoring the threading environment: \(error.message)\n")
            options = RuntimeOptions()
        }
        var pool: ThreadPool
        do { pool = try ThreadPool(options: options) } catch {
            writeStderr("gradus: cannot start the thread pool as configured (\(error.message)); using defaults\n")
            options = RuntimeOptions()
            pool = ThreadPool(threadCount: ThreadPool.inheritedAffinity().count)
        }
        pool.isShared = true
        applyProcessWide(pool.plan, verbose: options.isVerbose)
        return pool
    }

    private static func applyProcessWide(_ plan: ThreadPlan, verbose: Bool) {
        gradus__numa_set_verbose(verbose ? 1 : 0)
        BLASThreading.apply(plan.blasThreads)
    }

    private static func verboseReport(_ plan: ThreadPlan) -> String {
        var text = plan.description
        for e in plan.entries where e.isPinned && !processMaskContains(e.cpu) {
            text += "gradus: warning: thread \(e.thread) not pinned: cpu \(e.cpu) is not in the process mask\n"
        }
        if SystemFiles.readText("/proc/sys/kernel/numa_balancing")?.first == "1" && plan.topology.nodes.count > 1 {
            text += "gradus: warning: kernel.numa_balancing=1 moves pages behind first-touch placement\n"
        }
        return text
    }
}

/// Writes to stderr with write(2) (the C `stderr` global is not concurrency-safe to touch from Swift 6).
func writeStderr(_ text: String) {
    var t = text
    t.withUTF8 { buf in _ = Glibc.write(2, buf.baseAddress, buf.count) }
}

/// Whether the process mask holds `cpu` (pins never leave it; fake topologies may name CPUs that do not exist).
func processMaskContains(_ cpu: Int) -> Bool { ThreadPool.inheritedAffinity().contains(cpu) }
