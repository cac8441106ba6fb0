/// The machine's NUMA nodes and their CPUs, read from sysfs through an injectable root so tests can use
/// fixture trees (`<root>/devices/system/node/nodeN/cpulist`, `<root>/devices/system/cpu/online`).
///
/// Node ids may be sparse and a node may have no CPU (memory-only: CXL, HBM in flat mode); CPU ids of a
/// node need not be contiguous (AMD Genoa interleaves `0-31,64-95`). Nothing here assumes otherwise.
public struct Topology: Sendable, Equatable, CustomStringConvertible {
    /// One NUMA node.
    public struct Node: Sendable, Equatable {
        /// The kernel's node id (may be sparse).
        public var id: Int
        /// The node's CPUs, sorted; empty for a memory-only node.
        public var cpus: [Int]
        /// A node with id `id` holding `cpus` (sorted on the way in).
        public init(id: Int, cpus: [Int]) { self.id = id; self.cpus = cpus.sorted() }
    }

    /// Every node, sorted by id, CPU-less nodes included.
    public private(set) var nodes: [Node]
    /// Where the topology came from (`sysfs:<root>`, `spec`, `fallback`), for descriptions.
    public var source: String
    private var nodeByCPU: [Int: Int]

    /// A topology from explicit nodes (tests, fake topologies).
    public init(nodes: [Node], source: String = "explicit") {
        self.nodes = nodes.sorted { $0.id < $1.id }
        self.source = source
        var map: [Int: Int] = [:]
        for node in self.nodes { for cpu in node.cpus where map[cpu] == nil { map[cpu] = node.id } }
        nodeByCPU = map
    }

    /// Parses a fake topology such as `"0:0-3,8-11;1:4-7,12-15;2:"` (node `2` has no CPU), the format of
    /// `GRADUS_NUMA_FAKE`. Throws `GradusError.invalidArgument` on malformed text or duplicate ids.
    public init(spec: String) throws(GradusError) {
        var nodes: [Node] = []
        for entry in spec.split(separator: ";") where !entry.allSatisfy({ $0.isWhitespace }) {
            let parts = entry.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let id = Int(parts[0].filter { !$0.isWhitespace }), id >= 0, id < 4096 else {
                throw .invalidArgument("topology spec '\(spec)': expected entries like 0:0-3,8")
            }
            guard !nodes.contains(where: { $0.id == id }) else {
                throw .invalidArgument("topology spec '\(spec)': node \(id) listed twice")
            }
            nodes.append(Node(id: id, cpus: try CPUList.parse(String(parts[1]), name: "node \(id) cpus")))
        }
        guard !nodes.isEmpty else { throw .invalidArgument("topology spec '\(spec)' lists no node") }
        self.init(nodes: nodes, source: "spec")
    }

    /// Reads the topology below a sysfs root (default `/sys`).
    ///
    /// Without a `devices/system/node` directory (a kernel without NUMA) the result is one node `0`
    /// holding the CPUs of `devices/system/cpu/online`, or `fallbackCPUs` when that is missing too.
    /// Unreadable or malformed node files count as CPU-less nodes; this never fails.
    public static func load(sysfsRoot root: String = "/sys", fallbackCPUs: [Int] = []) -> Topology {
        let nodeDir = root + "/devices/system/node"
        var nodes: [Node] = []
        for name in SystemFiles.listDirectory(nodeDir) ?? [] where name.hasPrefix("node") {
            guard let id = Int(name.dropFirst(4)), id >= 0 else { continue }
            let text = SystemFiles.readText(nodeDir + "/" + name + "/cpulist") ?? ""
            nodes.append(Node(id: id, cpus: (try? CPUList.parse(text)) ?? []))
        }
        if !nodes.isEmpty { return Topology(nodes: nodes, source: "sysfs:" + root) }
        let online = SystemFiles.readText(root + "/devices/system/cpu/online").flatMap { try? CPUList.parse($0) }
        return Topology(nodes: [Node(id: 0, cpus: online ?? fallbackCPUs)], source: "fallback")
    }

    /// The node holding `cpu`, or nil when no node lists it.
    public func node(ofCPU cpu: Int) -> Int? { nodeByCPU[cpu] }

    /// The node with id `id`, if present.
    public func node(withID id: Int) -> Node? { nodes.first { $0.id == id } }

    /// Ids of the nodes that hold at least one of `cpus`, in id order. Round-robin placement uses only
    /// these: a sparse or memory-only node must never receive threads.
    public func nodesHolding(_ cpus: [Int]) -> [Int] {
        let allowed = Set(cpus)
        return nodes.filter { $0.cpus.contains(where: allowed.contains) }.map(\.id)
    }

    /// Every CPU of every node, sorted.
    public var allCPUs: [Int] { Array(Set(nodes.flatMap(\.cpus))).sorted() }

    /// `node 0: 0-3; node 1: 4-7 [sysfs:/sys]`.
    public var description: String {
        nodes.map { "node \($0.id): \($0.cpus.isEmpty ? "(no cpus)" : CPUList.format($0.cpus))" }
            .joined(separator: "; ") + " [\(source)]"
    }

    /// Same nodes with the same CPUs (the source is not compared).
    public static func == (a: Topology, b: Topology) -> Bool { a.nodes == b.nodes }
}
