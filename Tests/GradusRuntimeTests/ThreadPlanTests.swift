import Testing
import GradusRuntime

/// Plans on a fixture topology; the mask defaults to every CPU of the fixture.
func makePlan(_ name: String, _ policy: AffinityPolicy, threads: Int? = nil, allowed: [Int]? = nil,
              current: Int? = nil, configure: (inout RuntimeOptions) -> Void = { _ in }) throws -> ThreadPlan {
    let topology = fixture(name)
    var o = RuntimeOptions(threadCount: threads, numa: policy)
    configure(&o)
    return try ThreadPlan.make(options: o, topology: topology, allowedCPUs: allowed ?? topology.allCPUs, currentCPU: current)
}

@Suite struct ThreadPlanTests {
    // Expected thread → cpu → node tables, one per (fixture, policy, threads, mask, current cpu).
    struct Case: CustomTestStringConvertible, Sendable {
        var fixture: String, policy: AffinityPolicy, threads: Int?, allowed: [Int]?, current: Int?
        var resolved: AffinityPolicy, table: String
        var testDescription: String {
            "\(fixture) \(policy.rawValue) x\(threads.map(String.init) ?? "auto") mask \(allowed.map(CPUList.format) ?? "all")"
        }
    }

    static let cases: [Case] = [
        // two sockets, 0-3 | 4-7
        .init(fixture: "two-socket", policy: .auto, threads: nil, allowed: nil, current: nil, resolved: .distribute,
              table: "t0->cpu0/n0 t1->cpu4/n1 t2->cpu1/n0 t3->cpu5/n1 t4->cpu2/n0 t5->cpu6/n1 t6->cpu3/n0 t7->cpu7/n1"),
        .init(fixture: "two-socket", policy: .distribute, threads: 6, allowed: nil, current: nil, resolved: .distribute,
              table: "t0->cpu0/n0 t1->cpu4/n1 t2->cpu1/n0 t3->cpu5/n1 t4->cpu2/n0 t5->cpu6/n1"),
        .init(fixture: "two-socket", policy: .disabled, threads: 3, allowed: nil, current: nil, resolved: .disabled,
              table: "t0->cpu0/n0 t1->cpu1/n0 t2->cpu2/n0"),
        .init(fixture: "two-socket", policy: .inherit, threads: nil, allowed: nil, current: nil, resolved: .inherit,
              table: "t0->cpu0/n0 t1->cpu1/n0 t2->cpu2/n0 t3->cpu3/n0 t4->cpu4/n1 t5->cpu5/n1 t6->cpu6/n1 t7->cpu7/n1"),
        .init(fixture: "two-socket", policy: .isolate, threads: nil, allowed: nil, current: 5, resolved: .isolate,
              table: "t0->cpu4/n1 t1->cpu5/n1 t2->cpu6/n1 t3->cpu7/n1"),
        .init(fixture: "two-socket", policy: .isolate, threads: 2, allowed: nil, current: nil, resolved: .isolate,
              table: "t0->cpu0/n0 t1->cpu1/n0"),
        // restricted mask (numactl -C 4-5 / taskset / cgroup): never leave it
        .init(fixture: "two-socket", policy: .auto, threads: nil, allowed: [4, 5], current: nil, resolved: .isolate,
              table: "t0->cpu4/n1 t1->cpu5/n1"),
        .init(fixture: "two-socket", policy: .distribute, threads: 4, allowed: [4, 5], current: nil, resolved: .distribute,
              table: "t0->cpu4/n1 t1->cpu5/n1 t2->cpu4/n1 t3->cpu5/n1"),
        .init(fixture: "two-socket", policy: .auto, threads: nil, allowed: [2, 3, 4, 5], current: nil, resolved: .distribute,
              table: "t0->cpu2/n0 t1->cpu4/n1 t2->cpu3/n0 t3->cpu5/n1"),
        .init(fixture: "two-socket", policy: .isolate, threads: nil, allowed: [2, 3, 4, 5], current: 0, resolved: .isolate,
              table: "t0->cpu2/n0 t1->cpu3/n0"),
        .init(fixture: "two-socket", policy: .inherit, threads: nil, allowed: [1, 6], current: nil, resolved: .inherit,
              table: "t0->cpu1/n0 t1->cpu6/n1"),
        // Genoa-style interleaved ids
        .init(fixture: "interleaved", policy: .distribute, threads: 6, allowed: nil, current: nil, resolved: .distribute,
              table: "t0->cpu0/n0 t1->cpu4/n1 t2->cpu1/n0 t3->cpu5/n1 t4->cpu2/n0 t5->cpu6/n1"),
        .init(fixture: "interleaved", policy: .distribute, threads: 10, allowed: nil, current: nil, resolved: .distribute,
              table: "t0->cpu0/n0 t1->cpu4/n1 t2->cpu1/n0 t3->cpu5/n1 t4->cpu2/n0 t5->cpu6/n1 t6->cpu3/n0 t7->cpu7/n1 t8->cpu8/n0 t9->cpu12/n1"),
        .init(fixture: "interleaved", policy: .isolate, threads: nil, allowed: nil, current: 13, resolved: .isolate,
              table: "t0->cpu4/n1 t1->cpu5/n1 t2->cpu6/n1 t3->cpu7/n1 t4->cpu12/n1 t5->cpu13/n1 t6->cpu14/n1 t7->cpu15/n1"),
        .init(fixture: "interleaved", policy: .auto, threads: 4, allowed: [8, 9, 10, 11, 12], current: nil, resolved: .distribute,
              table: "t0->cpu8/n0 t1->cpu12/n1 t2->cpu9/n0 t3->cpu12/n1"),
        // sparse node ids
        .init(fixture: "sparse-nodes", policy: .distribute, threads: 4, allowed: nil, current: nil, resolved: .distribute,
              table: "t0->cpu0/n0 t1->cpu4/n2 t2->cpu1/n0 t3->cpu5/n2"),
        .init(fixture: "sparse-nodes", policy: .isolate, threads: 2, allowed: nil, current: 6, resolved: .isolate,
              table: "t0->cpu4/n2 t1->cpu5/n2"),
        // a CPU-less (memory-only) node never gets a thread
        .init(fixture: "cpuless-node", policy: .auto, threads: 4, allowed: nil, current: nil, resolved: .distribute,
              table: "t0->cpu0/n0 t1->cpu4/n2 t2->cpu1/n0 t3->cpu5/n2"),
        .init(fixture: "cpuless-node", policy: .inherit, threads: 3, allowed: [3, 4, 5], current: nil, resolved: .inherit,
              table: "t0->cpu3/n0 t1->cpu4/n2 t2->cpu5/n2"),
        // one node (this machine's shape): auto means no NUMA work
        .init(fixture: "one-node", policy: .auto, threads: nil, allowed: nil, current: nil, resolved: .disabled,
              table: "t0->cpu0/n0 t1->cpu1/n0"),
        .init(fixture: "one-node", policy: .distribute, threads: nil, allowed: nil, current: nil, resolved: .distribute,
              table: "t0->cpu0/n0 t1->cpu1/n0"),
        .init(fixture: "one-node", policy: .isolate, threads: nil, allowed: [1], current: nil, resolved: .isolate,
              table: "t0->cpu1/n0"),
        // more threads than CPUs
        .init(fixture: "one-node", policy: .disabled, threads: 5, allowed: nil, current: nil, resolved: .disabled,
              table: "t0->cpu0/n0 t1->cpu1/n0 t2->cpu0/n0 t3->cpu1/n0 t4->cpu0/n0"),
        // a kernel without NUMA
        .init(fixture: "no-numa", policy: .auto, threads: nil, allowed: nil, current: nil, resolved: .disabled,
              table: "t0->cpu0/n0 t1->cpu1/n0 t2->cpu2/n0 t3->cpu3/n0"),
    ]

    @Test(arguments: cases)
    func planMatches(_ c: Case) throws {
        let p = try makePlan(c.fixture, c.policy, threads: c.threads, allowed: c.allowed, current: c.current)
        #expect(p.table == c.table)
        #expect(p.policy == c.resolved)
        #expect(p.requestedPolicy == c.policy)
    }

    static let fixtures = ["two-socket", "interleaved", "sparse-nodes", "cpuless-node", "one-node", "no-numa"]
    static let masks: [[Int]?] = [nil, [1], [0, 5], [2, 3, 4, 5], [4, 5, 6, 7]]

    /// Every fixture × policy × thread count × mask: CPUs stay in the mask, memory-only nodes get no thread,
    /// the caller is never pinned, and the plan has the asked size.
    @Test(arguments: fixtures, AffinityPolicy.allCases)
    func invariants(_ name: String, _ policy: AffinityPolicy) throws {
        let topology = fixture(name)
        for mask in Self.masks {
            let allowed = (mask ?? topology.allCPUs).filter(topology.allCPUs.contains)
            if allowed.isEmpty { continue }
            for threads in [nil, 1, 2, 3, 7, 16] as [Int?] {
                for pin in PinMode.allCases {
                    let p = try makePlan(name, policy, threads: threads, allowed: allowed, current: allowed.last) { $0.pin = pin }
                    #expect(p.threadCount == (threads ?? p.threadCount))
                    #expect(p.threadCount >= 1)
                    for e in p.entries {
                        #expect(allowed.contains(e.cpu), "\(name) \(policy) \(p.table) leaves mask \(allowed)")
                        #expect(e.node != nil && !(topology.node(withID: e.node!)?.cpus.isEmpty ?? true))
                    }
                    #expect(!p.entries[0].isPinned)
                    if pin == .never { #expect(p.entries.allSatisfy { !$0.isPinned }) }
                    if pin == .always { #expect(p.entries.dropFirst().allSatisfy { $0.isPinned }) }
                    #expect(p.policy != .auto && p.wait != .auto)
                    if p.isOversubscribed { #expect(p.wait == .sleep && p.spinNanoseconds == 0) }
                }
            }
        }
    }

    @Test func explicitCPUsWinAndStayInMask() throws {
        let p = try makePlan("two-socket", .distribute) { $0.cpus = [6, 1] }
        #expect(p.table == "t0->cpu6/n1 t1->cpu1/n0")
        #expect(p.usesExplicitCPUs)
        #expect(p.entries[1].isPinned)
        let q = try makePlan("two-socket", .auto, threads: 3) { $0.cpus = [6, 1] }
        #expect(q.table == "t0->cpu6/n1 t1->cpu1/n0 t2->cpu6/n1")
        #expect(q.isOversubscribed)
        #expect(throws: GradusError.self) { try makePlan("two-socket", .auto, allowed: [0, 1]) { $0.cpus = [1, 5] } }
    }

    @Test func waitPolicies() throws {
        let hybrid = try makePlan("one-node", .auto)
        #expect(hybrid.wait == .hybrid && hybrid.spinNanoseconds == 50_000)
        #expect(hybrid.entries[1].isPinned)   // spin waits pin
        #expect(!hybrid.isOversubscribed && !hybrid.isNUMAAware)
        let sleep = try makePlan("one-node", .auto) { $0.wait = .sleep }
        #expect(sleep.wait == .sleep && sleep.spinNanoseconds == 0)
        #expect(!sleep.entries[1].isPinned)   // nothing to gain on one node without spinning
        let spin = try makePlan("one-node", .auto) { $0.wait = .spin }
        #expect(spin.wait == .spin)
        // Never spin when oversubscribed, whatever was asked.
        let over = try makePlan("one-node", .auto, threads: 4) { $0.wait = .spin }
        #expect(over.isOversubscribed && over.wait == .sleep)
        #expect(!over.warnings.isEmpty)
        // Never both hot: a multi-threaded BLAS makes the pool sleep between jobs.
        let blas = try makePlan("one-node", .auto) { $0.blasThreads = 2 }
        #expect(blas.wait == .sleep && blas.blasThreads == 2)
        #expect(try makePlan("one-node", .auto).blasThreads == 1)
        // One thread never spins.
        #expect(try makePlan("one-node", .auto, threads: 1).wait == .sleep)
    }

    @Test func numaAwareness() throws {
        #expect(try makePlan("two-socket", .auto).isNUMAAware)
        #expect(try makePlan("two-socket", .auto, allowed: [4, 5]).isNUMAAware)   // isolated on a 2-node box
        #expect(try !makePlan("two-socket", .disabled).isNUMAAware)
        #expect(try !makePlan("one-node", .auto).isNUMAAware)
        #expect(try makePlan("two-socket", .distribute).entries.dropFirst().allSatisfy { $0.isPinned })
    }

    @Test func localMPIRanksSplitAnUnboundMask() throws {
        let topology = fixture("two-socket")
        var o = RuntimeOptions()
        o.localRanks = 2
        let shared = try ThreadPlan.make(options: o, topology: topology, allowedCPUs: Array(0...7))
        #expect(shared.threadCount == 4)
        #expect(!shared.warnings.isEmpty)
        // A rank bound to a socket keeps its whole mask.
        let bound = try ThreadPlan.make(options: o, topology: topology, allowedCPUs: [4, 5, 6, 7])
        #expect(bound.threadCount == 4 && bound.warnings.isEmpty)
        // mpirun --bind-to core: one thread.
        let core = try ThreadPlan.make(options: o, topology: topology, allowedCPUs: [3])
        #expect(core.threadCount == 1)
        // Explicit counts beyond the share are oversubscribed.
        o.threadCount = 8
        #expect(try ThreadPlan.make(options: o, topology: topology, allowedCPUs: Array(0...7)).isOversubscribed)
    }

    @Test func fakeAllowedMaskWins() throws {
        let p = try makePlan("two-socket", .auto) { $0.fakeAllowedCPUs = [6, 7] }
        #expect(p.table == "t0->cpu6/n1 t1->cpu7/n1")
        #expect(p.allowedCPUs == [6, 7])
    }

    @Test func rejectsBadOptions() {
        #expect(throws: GradusError.self) { try makePlan("one-node", .auto, threads: 0) }
        #expect(throws: GradusError.self) { try makePlan("one-node", .auto) { $0.spinMicroseconds = -1 } }
        #expect(throws: GradusError.self) { try makePlan("one-node", .auto) { $0.blasThreads = 0 } }
        #expect(throws: GradusError.self) { try makePlan("one-node", .auto) { $0.cpus = [] } }
        #expect(throws: GradusError.self) { try makePlan("one-node", .auto, allowed: [9]) }
    }

    @Test func descriptions() throws {
        let p = try makePlan("two-socket", .distribute, threads: 2)
        #expect(p.description.contains("thread 1 -> cpu 4 -> node 1 (pinned)"))
        #expect(p.description.contains("thread 0 -> cpu 0 -> node 0 (caller, not pinned)"))
        let json = try JSON.parse(p.json.serialized)
        #expect(json["threads"]?.int == 2)
        #expect(json["plan"]?[1]?["node"]?.int == 1)
        #expect(json["policy"]?.string == "distribute")
    }
}
