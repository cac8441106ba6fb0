import Testing
import GradusRuntime

@Suite struct BufferPoolTests {
    @Test func sizeClassesHaveAtMostAQuarterSlack() {
        var previous = 0
        for n in stride(from: 1, through: 1 << 24, by: 977) {
            let c = BufferPool.sizeClass(n)
            #expect(c >= n && c % 64 == 0)
            #expect(n <= 64 || Double(c) <= Double(n) * 1.25 + 64)
            #expect(c >= previous)
            previous = c
        }
        #expect(BufferPool.sizeClass(0) == 64)
        #expect(BufferPool.sizeClass(4096) == 4096)
        #expect(BufferPool.sizeClass(4097) == 5120)
        #expect(BufferPool.sizeClass(2 << 20) == 2 << 20)
    }

    @Test func alignment() {
        let pool = BufferPool(firstTouch: false)
        for n in [1, 63, 100, 4096, 10_000, 2 << 20, (3 << 20) + 5] {
            let p = pool.allocate(byteCount: n)
            let a = Int(bitPattern: p)
            #expect(a % 64 == 0)
            if n >= 4096 { #expect(a % 4096 == 0) }
            if n >= 2 << 20 { #expect(a % (2 << 20) == 0) }
            p.storeBytes(of: 0xAB, toByteOffset: n - 1, as: UInt8.self)   // the whole range is usable
            pool.deallocate(p, byteCount: n)
        }
        pool.trim()
    }

    /// The steady state of a training step: the same sizes come and go, and nothing fresh is allocated.
    @Test func trainingStepReusesBuffers() {
        let pool = BufferPool(firstTouch: false)
        let sizes = [4096 * 4, 128 * 4, 4096 * 4, 3 << 20, 256, 1000 * 4]
        func step() {
            let ptrs = sizes.map { pool.allocate(byteCount: $0) }
            for (p, n) in zip(ptrs, sizes) { pool.deallocate(p, byteCount: n) }
        }
        step()
        let warm = pool.statistics
        #expect(warm.misses == sizes.count)   // all six are live together: no reuse inside the first step
        for _ in 0..<10 { step() }
        let after = pool.statistics
        #expect(after.misses == warm.misses)
        #expect(after.freshBytes == warm.freshBytes)
        #expect(after.hits == warm.hits + 10 * sizes.count)
        #expect(after.liveBytes == 0)
        pool.trim()
        #expect(pool.statistics.cachedBytes == 0 && pool.statistics.cachedBuffers == 0)
    }

    @Test func sameClassIsReused() {
        let pool = BufferPool(firstTouch: false)
        let p = pool.allocate(byteCount: 1000)
        pool.deallocate(p, byteCount: 1000)
        let q = pool.allocate(byteCount: 1010)   // same class (1024)
        #expect(p == q)
        #expect(pool.statistics.hits == 1 && pool.statistics.misses == 1)
        pool.deallocate(q, byteCount: 1010)
        pool.trim()
    }

    @Test func capIsRespected() {
        let pool = BufferPool(maxCachedBytes: 10_000, firstTouch: false)
        let ptrs = (0..<4).map { _ in pool.allocate(byteCount: 4096) }
        for p in ptrs { pool.deallocate(p, byteCount: 4096) }
        let s = pool.statistics
        #expect(s.cachedBytes == 8192 && s.cachedBuffers == 2 && s.releases == 2)
        #expect(s.cachedBytes <= pool.maxCachedBytes)
        pool.maxCachedBytes = 0
        let p = pool.allocate(byteCount: 4096)
        pool.deallocate(p, byteCount: 4096)
        #expect(pool.statistics.releases == 3)
        pool.trim()
    }

    @Test func concurrentUse() async {
        let pool = BufferPool(firstTouch: false)
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask {
                    for i in 0..<2000 {
                        let n = 64 << ((i + t) % 10)
                        let p = pool.allocate(byteCount: n)
                        p.storeBytes(of: UInt64(i), as: UInt64.self)
                        pool.deallocate(p, byteCount: n)
                    }
                }
            }
        }
        let s = pool.statistics
        #expect(s.liveBytes == 0)
        #expect(s.hits + s.misses == 8000)
        #expect(s.misses <= 40)
        pool.trim()
    }

    @Test func oversizedRequestThrows() {
        #expect(throws: GradusError.self) { try BufferPool().tryAllocate(byteCount: Int.max) }
        #expect(throws: GradusError.self) { try BufferPool().tryAllocate(byteCount: 1 << 60) }
    }

    /// First touch by the pool's workers: every page is faulted in, on a node of the worker's CPU.
    @Test func firstTouchPlacesEveryPage() throws {
        let pool = BufferPool(firstTouch: true)
        let n = 8 << 20
        let p = pool.allocate(byteCount: n)
        defer { pool.deallocate(p, byteCount: n); pool.trim() }
        let topology = Topology.load()
        let nodes = Set(topology.nodes.map(\.id))
        for offset in stride(from: 0, to: n, by: 1 << 20) {
            let node = NUMA.node(ofAddress: UnsafeRawPointer(p + offset))
            #expect(node != nil && nodes.contains(node!), "page at +\(offset) on \(String(describing: node))")
        }
        // A fresh mapping that nobody touched is reported as not faulted in.
        let q = BufferPool(firstTouch: false)
        let r = q.allocate(byteCount: n)
        #expect(NUMA.node(ofAddress: UnsafeRawPointer(r + (4 << 20))) == nil)
        q.deallocate(r, byteCount: n)
        q.trim()
    }

    /// Requests beyond physical memory, overflowing or negative are refused with outOfMemory before any allocation.
    @Test func requireFitsRefusesImpossibleSizes() throws {
        let physical = BufferPool.physicalMemoryBytes
        #expect(physical > 0)
        #expect(try BufferPool.requireFits(count: 1000, elementSize: 4, "a") == 4000)
        #expect(try BufferPool.requireFits(count: 0, elementSize: 8, "a") == 0)
        for (count, size) in [(physical / 4 + 1, 4), (Int.max, 2), (-1, 4)] {
            do {
                try BufferPool.requireFits(count: count, elementSize: size, "the request")
                Issue.record("\(count) × \(size) bytes accepted")
            } catch {
                guard case .outOfMemory(let message) = error else { Issue.record("wrong error \(error)"); continue }
                #expect(message.hasPrefix("the request needs "), "\(message)")
                #expect(message.contains("more than the machine's \(physical)"), "\(message)")
            }
        }
    }
}
