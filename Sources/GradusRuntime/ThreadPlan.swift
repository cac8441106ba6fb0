/// The thread → CPU → node table of a pool, with the waiting, pinning and BLAS decisions derived from
/// a `RuntimeOptions`, a `Topology` and the inherited affinity mask. Pure: `make` touches no thread.
///
/// Thread 0 is always the caller's thread: it runs slice 0 of every job and is never pinned (a pin on the
/// caller leaks into every thread the host creates afterwards), so its CPU is nominal.
public struct ThreadPlan: Sendable, Equatable, CustomStringConvertible {
    /// One thread of the plan.
    public struct Entry: Sendable, Equatable {
        /// Worker index (`0` = the caller's thread).
        public var thread: Int
        /// The planned CPU.
        public var cpu: Int
        /// The node holding `cpu`, nil when the topology does not list it.
        public var node: Int?
        /// Whether the thread is pinned to `cpu` (never for thread 0).
        public var isPinned: Bool
    }

    /// One entry per thread, `entries.count == threadCount`.
    public var entries: [Entry]
    /// The policy asked for.
    public var requestedPolicy: AffinityPolicy
    /// The policy applied (`auto` resolved to `disabled`, `distribute` or `isolate`).
    public var policy: AffinityPolicy
    /// Whether the CPUs come from an explicit list (`GRADUS_CPUS`) rather than from the policy.
    public var usesExplicitCPUs: Bool
    /// The inherited mask the plan was made within.
    public var allowedCPUs: [Int]
    /// The wait policy applied (never `auto`; `sleep` when oversubscribed).
    public var wait: WaitPolicy
    /// Spin time before sleeping, in nanoseconds (0 for sleep waits).
    public var spinNanoseconds: Int64
    /// More threads than CPUs to run them on.
    public var isOversubscribed: Bool
    /// Whether placement is NUMA-aware (first-touch sharding of large buffers pays off).
    public var isNUMAAware: Bool
    /// OpenBLAS threads to set.
    public var blasThreads: Int
    /// Decisions worth telling the user (oversubscription, overridden requests, shared MPI masks).
    public var warnings: [String]
    /// The topology the plan was made on.
    public var topology: Topology

    /// Number of threads, the caller included.
    public var threadCount: Int { entries.count }

    /// Plans threads for `options` on `topology`.
    ///
    /// - Parameters:
    ///   - allowedCPUs: the inherited affinity mask (`sched_getaffinity` of the process); `options.fakeAllowedCPUs` wins.
    ///   - currentCPU: the CPU the configuring thread runs on, for `isolate`; nil: the first usable node.
    ///   - onlineCPUs: every online CPU, to tell an unbound mask (shared by local MPI ranks) from a bound one;
    ///     nil: the topology's CPUs.
    /// - Throws: `GradusError.invalidArgument` for invalid options, an empty mask, or explicit CPUs outside the mask.
    public static func make(options: RuntimeOptions, topology: Topology, allowedCPUs inherited: [Int],
                            currentCPU: Int? = nil, onlineCPUs: [Int]? = nil) throws(GradusError) -> ThreadPlan {
        try options.validate()
        var warnings: [String] = []
        let mask = Array(Set(options.fakeAllowedCPUs ?? inherited)).sorted()
        guard !mask.isEmpty else { throw .invalidArgument("the inherited affinity mask is empty") }
        // Only CPUs the topology knows (a fake topology may not cover the real mask).
        let known = Set(topology.allCPUs)
        let allowed = mask.filter(known.contains)
        guard !allowed.isEmpty else {
            throw .invalidArgument("no cpu of the affinity mask \(CPUList.format(mask)) lies in the topology (\(topology))")
        }
        let allowedSet = Set(allowed)

        // Explicit CPUs: only within the inherited mask (as root, pthread_setaffinity_np would escape taskset).
        var explicit: [Int]? = nil
        if let cpus = options.cpus {
            var seen = Set<Int>()
            let list = cpus.filter { seen.insert($0).inserted }
            if let outside = list.first(where: { !allowedSet.contains($0) }) {
                throw .invalidArgument("cpu \(outside) of the explicit list \(CPUList.format(list)) lies outside the "
                    + "inherited affinity mask \(CPUList.format(allowed))")
            }
            explicit = list
        }

        // Nodes eligible for threads: those holding an allowed CPU (never a sparse or memory-only node).
        let usable = topology.nodesHolding(allowed)
        let nodesWithCPUs = topology.nodes.filter { !$0.cpus.isEmpty }.count
        let policy: AffinityPolicy
        switch options.numa {
        case .auto:
            if usable.count > 1 { policy = .distribute } else if nodesWithCPUs > 1 { policy = .isolate } else { policy = .disabled }
        default:
            policy = options.numa
        }
        // The isolated node: the configuring thread's node when usable, else the first usable node.
        var isolatedNode: Int? = nil
        if policy == .isolate {
            if let cpu = currentCPU, let n = topology.node(ofCPU: cpu), usable.contains(n) { isolatedNode = n } else { isolatedNode = usable.first }
        }
        func allowedCPUs(ofNode id: Int) -> [Int] { topology.node(withID: id)?.cpus.filter(allowedSet.contains) ?? [] }

        // The CPUs threads are spread over; their count is the default thread count.
        let candidates: [Int]
        if let e = explicit { candidates = e }
        else if policy == .isolate, let n = isolatedNode, !allowedCPUs(ofNode: n).isEmpty { candidates = allowedCPUs(ofNode: n) }
        else { candidates = allowed }

        // Several local MPI ranks sharing an unbound mask (mpirun --bind-to none) split it.
        let online = Set(onlineCPUs ?? topology.allCPUs)
        let maskIsShared = options.localRanks > 1 && explicit == nil && allowedSet.isSuperset(of: online) && !online.isEmpty
        var threadCount: Int
        if let n = options.threadCount {
            threadCount = n
        } else {
            threadCount = candidates.count
            if maskIsShared {
                threadCount = max(1, candidates.count / options.localRanks)
                warnings.append("\(options.localRanks) local ranks share an unbound mask of \(allowed.count) cpus: "
                    + "\(threadCount) threads each (bind ranks, e.g. mpirun --bind-to core/socket)")
            }
        }
        let cpuBudget = maskIsShared ? max(1, candidates.count / options.localRanks) : candidates.count
        let isOversubscribed = threadCount > cpuBudget
        if isOversubscribed { warnings.append("\(threadCount) threads on \(cpuBudget) cpus: oversubscribed, waits sleep") }

        // Thread → CPU.
        var cpus: [Int] = []
        cpus.reserveCapacity(threadCount)
        if let e = explicit {
            for i in 0..<threadCount { cpus.append(e[i % e.count]) }
        } else {
            switch policy {
            case .distribute:
                var next: [Int: Int] = [:]
                let perNode = Dictionary(uniqueKeysWithValues: usable.map { ($0, allowedCPUs(ofNode: $0)) })
                for i in 0..<threadCount {
                    let node = usable[i % usable.count]
                    let list = perNode[node]!
                    let k = next[node, default: 0]
                    cpus.append(list[k % list.count])
                    next[node] = k + 1
                }
            default:
                for i in 0..<threadCount { cpus.append(candidates[i % candidates.count]) }
            }
        }

        // Waiting: never spin when oversubscribed; never keep the pool hot while BLAS is multi-threaded.
        let blas = options.blasThreads ?? 1
        var wait = options.wait == .auto ? WaitPolicy.hybrid : options.wait
        if threadCount == 1 { wait = .sleep }
        if isOversubscribed && wait != .sleep {
            if options.wait != .auto { warnings.append("wait \(options.wait.rawValue) overridden by sleep: oversubscribed") }
            wait = .sleep
        }
        if blas > 1 && threadCount > 1 && wait != .sleep {
            warnings.append("BLAS runs \(blas) threads: the pool sleeps between jobs (never both hot)")
            wait = .sleep
        }
        let spin: Int64
        switch wait {
        case .sleep, .auto: spin = 0
        case .hybrid: spin = Int64(options.spinMicroseconds) * 1000
        case .spin: spin = 1_000_000_000
        }

        let numaAware = policy != .disabled && usable.count > 1 || policy == .isolate && nodesWithCPUs > 1
        let pin: Bool
        switch options.pin {
        case .always: pin = true
        case .never: pin = false
        case .auto: pin = policy != .disabled || explicit != nil || (wait != .sleep && !isOversubscribed)
        }
        let entries = cpus.enumerated().map { i, cpu in
            Entry(thread: i, cpu: cpu, node: topology.node(ofCPU: cpu), isPinned: pin && i > 0)
        }
        return ThreadPlan(entries: entries, requestedPolicy: options.numa, policy: policy, usesExplicitCPUs: explicit != nil,
                          allowedCPUs: allowed, wait: wait, spinNanoseconds: spin, isOversubscribed: isOversubscribed,
                          isNUMAAware: numaAware, blasThreads: blas, warnings: warnings, topology: topology)
    }

    /// A one-thread plan on `cpu` (the fallback when planning fails).
    static func serial(cpu: Int) -> ThreadPlan {
        let topology = Topology(nodes: [.init(id: 0, cpus: [cpu])], source: "fallback")
        return ThreadPlan(entries: [Entry(thread: 0, cpu: cpu, node: 0, isPinned: false)], requestedPolicy: .auto,
                          policy: .disabled, usesExplicitCPUs: false, allowedCPUs: [cpu], wait: .sleep, spinNanoseconds: 0,
                          isOversubscribed: false, isNUMAAware: false, blasThreads: 1, warnings: [], topology: topology)
    }

    /// `t0->cpu0/n0 t1->cpu4/n1 ...`: the compact table tests compare against.
    public var table: String {
        entries.map { "t\($0.thread)->cpu\($0.cpu)/n\($0.node.map(String.init) ?? "?")" }.joined(separator: " ")
    }

    /// A multi-line human-readable description (what `GRADUS_VERBOSE_AFFINITY=1` prints).
    public var description: String {
        var s = "gradus: \(threadCount) threads, numa \(requestedPolicy.rawValue)"
        if requestedPolicy != policy { s += "->\(policy.rawValue)" }
        if usesExplicitCPUs { s += " (explicit cpus)" }
        s += ", wait \(wait.rawValue)"
        if wait == .hybrid { s += " \(spinNanoseconds / 1000)us" }
        s += ", blas \(blasThreads), mask \(CPUList.format(allowedCPUs))\n"
        s += "gradus: topology \(topology)\n"
        for e in entries {
            let role = e.thread == 0 ? "caller, not pinned" : (e.isPinned ? "pinned" : "not pinned")
            s += "gradus:   thread \(e.thread) -> cpu \(e.cpu) -> node \(e.node.map(String.init) ?? "?") (\(role))\n"
        }
        for w in warnings { s += "gradus: warning: \(w)\n" }
        return s
    }

    /// The plan as a JSON object (for `gradus_pool_describe` and logs).
    public var json: JSON {
        .object([
            "threads": .number(Double(threadCount)),
            "policy": .string(policy.rawValue),
            "requested_policy": .string(requestedPolicy.rawValue),
            "explicit_cpus": .bool(usesExplicitCPUs),
            "wait": .string(wait.rawValue),
            "spin_us": .number(Double(spinNanoseconds / 1000)),
            "oversubscribed": .bool(isOversubscribed),
            "numa_aware": .bool(isNUMAAware),
            "blas_threads": .number(Double(blasThreads)),
            "allowed_cpus": .string(CPUList.format(allowedCPUs)),
            "plan": .array(entries.map { e in
                .object(["thread": .number(Double(e.thread)), "cpu": .number(Double(e.cpu)),
                         "node": e.node.map { .number(Double($0)) } ?? .null, "pinned": .bool(e.isPinned)])
            }),
            "warnings": .array(warnings.map { .string($0) }),
        ])
    }
}
