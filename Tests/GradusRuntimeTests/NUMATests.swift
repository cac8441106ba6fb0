import CNuma
import Testing
import GradusRuntime

@Suite struct NUMATests {
    @Test func invalidNodesAreRejectedBeforeLibnuma() throws {
        let before = NUMA.libnumaMessageCount
        for node in [-1, 4096, 63, NUMA.allowedNodes.max()! + 1] {
            #expect(throws: GradusError.self) { try NUMA.validateNode(node) }
        }
        let p = BufferPool(firstTouch: false)
        let n = 4 << 20
        let buf = p.allocate(byteCount: n)
        defer { p.deallocate(buf, byteCount: n); p.trim() }
        #expect(throws: GradusError.self) { try NUMA.bind(buf, byteCount: n, toNode: 9) }
        #expect(throws: GradusError.self) { try NUMA.bind(buf + 1, byteCount: 100, toNode: 0) }
        #expect(NUMA.libnumaMessageCount == before)   // libnuma was never reached
        if NUMA.isAvailable {
            try NUMA.bind(buf, byteCount: n, toNode: NUMA.allowedNodes[0])
            buf.storeBytes(of: 1, as: UInt8.self)
            #expect(NUMA.node(ofAddress: UnsafeRawPointer(buf)) == NUMA.allowedNodes[0])
        }
    }

    /// libnuma's own error path (here reached on purpose, bypassing validation) goes to our hook, not stderr.
    @Test func libnumaErrorsAreCapturedNotPrinted() throws {
        guard NUMA.isAvailable else { return }
        let p = BufferPool(firstTouch: false)
        let n = 4 << 20
        let buf = p.allocate(byteCount: n)
        defer { p.deallocate(buf, byteCount: n); p.trim() }
        let before = NUMA.libnumaMessageCount
        numa_tonode_memory(buf, n, Int32(NUMA.allowedNodes.max()! + 5))
        #expect(NUMA.libnumaMessageCount > before)
        #expect(NUMA.lastLibnumaMessage.contains("mbind"))
    }

    @Test func allowedNodesMatchTopology() {
        let t = Topology.load()
        for node in NUMA.allowedNodes { #expect(t.node(withID: node) != nil) }
    }
}
