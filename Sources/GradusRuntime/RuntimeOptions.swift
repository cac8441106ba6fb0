import Glibc

/// Where pool threads go, after ggml's `--numa` strategies.
public enum AffinityPolicy: String, Sendable, CaseIterable {
    /// Distribute when the inherited mask spans several nodes, isolate when it lies in one node of a
    /// multi-node machine, disabled on a one-node machine.
    case auto
    /// No NUMA work: threads are numbered over the inherited mask and pinned only for spin waits.
    case disabled
    /// Thread `i` goes to the `i % n`-th node that holds an allowed CPU, on that node's next allowed CPU.
    case distribute
    /// Every thread stays on one node: the node of the CPU the configuring thread runs on.
    case isolate
    /// Threads take the inherited mask (numactl, taskset, mpirun) CPU by CPU, in order (ggml's `numactl`).
    case inherit
}

/// How idle workers and a caller waiting for workers wait.
public enum WaitPolicy: String, Sendable, CaseIterable {
    /// Hybrid, or sleep when the pool is oversubscribed or BLAS is multi-threaded.
    case auto
    /// Futex sleep at once: the cheapest for the machine, costs a wake-up (3–25 µs) per job.
    case sleep
    /// Spin for `spinMicroseconds`, then sleep.
    case hybrid
    /// Spin for up to one second, then sleep. Never used when oversubscribed.
    case spin
}

/// Whether pool workers are pinned to their planned CPU (never the caller's thread, never outside the
/// inherited mask).
public enum PinMode: String, Sendable, CaseIterable {
    /// Pin when it pays: a NUMA-aware policy, an explicit CPU list, or spin/hybrid waits.
    case auto
    /// Never pin (the kernel schedules workers anywhere in the mask).
    case never
    /// Pin every worker to its planned CPU.
    case always
}

/// Threading configuration of the pool: thread count, placement, waiting and BLAS threads.
///
/// Built from defaults, from the environment (`fromEnvironment()`), or by hand; an explicit configuration
/// passed to `ThreadPool.configure(_:)` wins over the environment.
public struct RuntimeOptions: Sendable, Equatable {
    /// Worker count, the caller included; nil: the inherited mask's CPU count (of the isolated node for
    /// `isolate`, of `cpus` when given), divided among local MPI ranks when they share an unbound mask.
    public var threadCount: Int?
    /// NUMA placement policy (`GRADUS_NUMA`), default `.auto`.
    public var numa: AffinityPolicy
    /// Explicit CPUs (`GRADUS_CPUS`), threads take them in order; wins over the policy's CPU choice.
    /// Every CPU must lie in the inherited mask.
    public var cpus: [Int]?
    /// Pinning (`GRADUS_PIN`: auto, 0, 1), default `.auto`.
    public var pin: PinMode
    /// Wait policy (`GRADUS_WAIT`), default `.auto`.
    public var wait: WaitPolicy
    /// Spin time before sleeping for hybrid waits (`GRADUS_SPIN_US`), default 50 µs.
    public var spinMicroseconds: Int
    /// OpenBLAS threads (`GRADUS_BLAS_THREADS`); nil: 1, so BLAS never competes with a hot pool.
    /// More than one with a multi-threaded pool forces sleep waits (the pool parks while BLAS runs).
    public var blasThreads: Int?
    /// Print the plan and warnings to stderr (`GRADUS_VERBOSE_AFFINITY=1`), libnuma messages included.
    public var isVerbose: Bool
    /// MPI ranks on this host (`OMPI_COMM_WORLD_LOCAL_SIZE`, `MPI_LOCALNRANKS`), default 1.
    public var localRanks: Int
    /// Test hook: sysfs root to read the topology from (`GRADUS_SYSFS_ROOT`), default `/sys`.
    public var sysfsRoot: String
    /// Test hook: a fake topology spec (`GRADUS_NUMA_FAKE`, e.g. `0:0-3;1:4-7`), wins over `sysfsRoot`.
    public var fakeTopology: String?
    /// Test hook: pretend this is the inherited mask (`GRADUS_FAKE_ALLOWED`). Pins still never leave the real one.
    public var fakeAllowedCPUs: [Int]?

    /// The defaults: everything automatic.
    public init(threadCount: Int? = nil, numa: AffinityPolicy = .auto, cpus: [Int]? = nil, pin: PinMode = .auto,
                wait: WaitPolicy = .auto, spinMicroseconds: Int = 50, blasThreads: Int? = nil,
                isVerbose: Bool = false) {
        self.threadCount = threadCount
        self.numa = numa
        self.cpus = cpus
        self.pin = pin
        self.wait = wait
        self.spinMicroseconds = spinMicroseconds
        self.blasThreads = blasThreads
        self.isVerbose = isVerbose
        self.localRanks = 1
        self.sysfsRoot = "/sys"
        self.fakeTopology = nil
        self.fakeAllowedCPUs = nil
    }

    /// Largest accepted thread count.
    public static let maxThreads = 4096
    /// Largest accepted spin time (one second).
    public static let maxSpinMicroseconds = 1_000_000

    /// Checks every field's range. Throws `GradusError.invalidArgument` naming the bad field.
    public func validate() throws(GradusError) {
        if let n = threadCount, !(1...Self.maxThreads).contains(n) {
            throw .invalidArgument("thread count \(n) out of range 1...\(Self.maxThreads)")
        }
        if let c = cpus {
            if c.isEmpty { throw .invalidArgument("explicit cpu list is empty") }
            if let bad = c.first(where: { $0 < 0 || $0 > CPUList.maxCPU }) { throw .invalidArgument("cpu id \(bad) out of range") }
        }
        if !(0...Self.maxSpinMicroseconds).contains(spinMicroseconds) {
            throw .invalidArgument("spin time \(spinMicroseconds) µs out of range 0...\(Self.maxSpinMicroseconds)")
        }
        if let b = blasThreads, !(1...Self.maxThreads).contains(b) {
            throw .invalidArgument("BLAS thread count \(b) out of range 1...\(Self.maxThreads)")
        }
        if !(1...Self.maxThreads).contains(localRanks) { throw .invalidArgument("local rank count \(localRanks) out of range") }
    }

    /// Defaults overridden by the environment variables named on each property.
    ///
    /// - Parameter lookup: reads one variable (default: the process environment via `getenv`); tests pass a dictionary.
    /// - Throws: `GradusError.invalidArgument` naming the variable and its bad value. Empty values count as unset.
    public static func fromEnvironment(
        _ lookup: (String) -> String? = { name in getenv(name).map { String(cString: $0) } }
    ) throws(GradusError) -> RuntimeOptions {
        func value(_ name: String) -> String? {
            guard let raw = lookup(name) else { return nil }
            let v = String(raw.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
            return v.isEmpty ? nil : v
        }
        func bad(_ name: String, _ v: String, _ expected: String) -> GradusError {
            .invalidArgument("\(name)='\(v)': expected \(expected)")
        }
        func count(_ name: String, allowAuto: Bool) throws(GradusError) -> Int? {
            guard let v = value(name) else { return nil }
            if allowAuto && (v.lowercased() == "auto" || v == "0") { return nil }
            guard let n = Int(v), (1...maxThreads).contains(n) else {
                throw bad(name, v, "an integer in 1...\(maxThreads)" + (allowAuto ? " or auto" : ""))
            }
            return n
        }
        var o = RuntimeOptions()
        o.threadCount = try count("GRADUS_NUM_THREADS", allowAuto: true)
        if let v = value("GRADUS_NUMA") {
            let key = v.lowercased() == "numactl" ? "inherit" : v.lowercased()
            guard let p = AffinityPolicy(rawValue: key) else {
                throw bad("GRADUS_NUMA", v, "auto, disabled, distribute, isolate, inherit or numactl")
            }
            o.numa = p
        }
        if let v = value("GRADUS_CPUS") {
            let list = try CPUList.parse(v, name: "GRADUS_CPUS")
            guard !list.isEmpty else { throw bad("GRADUS_CPUS", v, "a cpu list such as 0-3,8") }
            o.cpus = list
        }
        if let v = value("GRADUS_PIN") {
            switch v.lowercased() {
            case "auto": o.pin = .auto
            case "0", "no", "false", "off", "never": o.pin = .never
            case "1", "yes", "true", "on", "always": o.pin = .always
            default: throw bad("GRADUS_PIN", v, "auto, 0 or 1")
            }
        }
        if let v = value("GRADUS_WAIT") {
            guard let w = WaitPolicy(rawValue: v.lowercased()) else { throw bad("GRADUS_WAIT", v, "auto, sleep, hybrid or spin") }
            o.wait = w
        }
        if let v = value("GRADUS_SPIN_US") {
            guard let us = Int(v), (0...maxSpinMicroseconds).contains(us) else {
                throw bad("GRADUS_SPIN_US", v, "microseconds in 0...\(maxSpinMicroseconds)")
            }
            o.spinMicroseconds = us
        }
        o.blasThreads = try count("GRADUS_BLAS_THREADS", allowAuto: true)
        if let v = value("GRADUS_VERBOSE_AFFINITY") {
            switch v.lowercased() {
            case "0", "no", "false", "off": o.isVerbose = false
            case "1", "yes", "true", "on": o.isVerbose = true
            default: throw bad("GRADUS_VERBOSE_AFFINITY", v, "0 or 1")
            }
        }
        // Launcher-provided; a malformed value is the launcher's, not the user's: ignore it.
        for name in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"] {
            if let v = value(name), let n = Int(v), (1...maxThreads).contains(n) { o.localRanks = n; break }
        }
        if let v = value("GRADUS_SYSFS_ROOT") { o.sysfsRoot = v }
        if let v = value("GRADUS_NUMA_FAKE") {
            do { _ = try Topology(spec: v) } catch { throw .invalidArgument("GRADUS_NUMA_FAKE: \(error.message)") }
            o.fakeTopology = v
        }
        if let v = value("GRADUS_FAKE_ALLOWED") {
            let list = try CPUList.parse(v, name: "GRADUS_FAKE_ALLOWED")
            guard !list.isEmpty else { throw bad("GRADUS_FAKE_ALLOWED", v, "a cpu list") }
            o.fakeAllowedCPUs = list
        }
        return o
    }
}
