import Testing
import GradusRuntime

/// The fixture sysfs trees in Tests/Fixtures/topology.
func fixtureRoot(_ name: String, file: String = #filePath) -> String {
    var parts = file.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(2)   // GradusRuntimeTests/<file>.swift
    return parts.joined(separator: "/") + "/Fixtures/topology/" + name
}

func fixture(_ name: String) -> Topology { Topology.load(sysfsRoot: fixtureRoot(name)) }

@Suite struct CPUListTests {
    @Test func parsesRangesAndSingles() throws {
        #expect(try CPUList.parse("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11])
        #expect(try CPUList.parse(" 5 , 1-2 ") == [1, 2, 5])
        #expect(try CPUList.parse("\n") == [])
        #expect(try CPUList.parse("3,3,1-3") == [1, 2, 3])
    }

    @Test(arguments: ["a", "1-", "-1", "3-1", "1,,2", "0-99999", "1:2"])
    func rejectsMalformed(_ text: String) {
        #expect(throws: GradusError.self) { try CPUList.parse(text) }
    }

    @Test func formatsCompactly() {
        #expect(CPUList.format([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10-11")
        #expect(CPUList.format([5]) == "5")
        #expect(CPUList.format([]) == "")
    }
}

@Suite struct TopologyTests {
    @Test func twoSocket() {
        let t = fixture("two-socket")
        #expect(t.nodes == [.init(id: 0, cpus: [0, 1, 2, 3]), .init(id: 1, cpus: [4, 5, 6, 7])])
        #expect(t.node(ofCPU: 5) == 1)
        #expect(t.node(ofCPU: 9) == nil)
        #expect(t.source.hasPrefix("sysfs:"))
    }

    @Test func interleavedIDs() {
        let t = fixture("interleaved")
        #expect(t.node(withID: 0)?.cpus == [0, 1, 2, 3, 8, 9, 10, 11])
        #expect(t.node(ofCPU: 12) == 1)
        #expect(t.node(ofCPU: 8) == 0)
    }

    @Test func sparseNodeIDs() {
        let t = fixture("sparse-nodes")
        #expect(t.nodes.map(\.id) == [0, 2])
        #expect(t.node(ofCPU: 4) == 2)
    }

    @Test func cpulessNodeIsKeptButHoldsNoThreads() {
        let t = fixture("cpuless-node")
        #expect(t.nodes.map(\.id) == [0, 1, 2])
        #expect(t.node(withID: 1)?.cpus == [])
        #expect(t.nodesHolding(Array(0...7)) == [0, 2])
    }

    @Test func withoutNodeDirectoryFallsBackToOnlineCPUs() {
        let t = fixture("no-numa")
        #expect(t.nodes == [.init(id: 0, cpus: [0, 1, 2, 3])])
        #expect(t.source == "fallback")
        let missing = Topology.load(sysfsRoot: fixtureRoot("does-not-exist"), fallbackCPUs: [0, 1])
        #expect(missing.nodes == [.init(id: 0, cpus: [0, 1])])
    }

    @Test func specMatchesSysfs() throws {
        #expect(try Topology(spec: "0:0-3,8-11;1:4-7,12-15") == fixture("interleaved"))
        #expect(try Topology(spec: "0:0-3;1:;2:4-7") == fixture("cpuless-node"))
        #expect(throws: GradusError.self) { try Topology(spec: "x:1") }
        #expect(throws: GradusError.self) { try Topology(spec: "0:1;0:2") }
        #expect(throws: GradusError.self) { try Topology(spec: "") }
    }

    @Test func realMachineLoads() {
        let t = Topology.load()
        #expect(!t.allCPUs.isEmpty)
        for cpu in ThreadPool.inheritedAffinity() { #expect(t.node(ofCPU: cpu) != nil) }
    }
}
