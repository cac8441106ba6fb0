import CNuma
import _GradusShims

/// Validated access to libnuma. libnuma's own checks are not relied on: `numa_alloc_onnode` on a node that
/// does not exist prints `mbind: Invalid argument` and returns memory on the local node. Here node ids are
/// checked before any libnuma call, and libnuma's `numa_error`/`numa_warn` hooks are overridden (in
/// `_GradusShims`) so nothing reaches stderr unless verbose affinity output was asked for.
public enum NUMA {
    /// Whether libnuma works on this kernel (`numa_available() >= 0`). Nothing else in libnuma may be called otherwise.
    public static let isAvailable: Bool = numa_available() >= 0

    /// Node ids this process may allocate on (`numa_get_mems_allowed`), sorted; `[0]` without NUMA support.
    public static var allowedNodes: [Int] {
        guard isAvailable, let mask = numa_get_mems_allowed() else { return [0] }
        defer { numa_bitmask_free(mask) }
        let maxNode = Int(numa_max_node())
        guard maxNode >= 0 else { return [0] }
        return (0...maxNode).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 }
    }

    /// Throws `GradusError.invalidArgument` unless `node` is a node this process may allocate on.
    public static func validateNode(_ node: Int) throws(GradusError) {
        guard node >= 0 && node <= 4095 else { throw .invalidArgument("NUMA node \(node) out of range") }
        let nodes = allowedNodes
        guard nodes.contains(node) else {
            throw .invalidArgument("NUMA node \(node) is not available (allowed: \(CPUList.format(nodes)))")
        }
    }

    /// Binds the pages of `[pointer, pointer + byteCount)` to `node` (validated `numa_tonode_memory`).
    /// Pages already faulted in elsewhere stay where they are; bind before first touch.
    ///
    /// - Throws: `invalidArgument` for an invalid node or a pointer that is not page-aligned;
    ///   `unsupported` without NUMA support; `internal` when the kernel refuses (the libnuma message is kept).
    public static func bind(_ pointer: UnsafeMutableRawPointer, byteCount: Int, toNode node: Int) throws(GradusError) {
        guard byteCount > 0 else { return }
        let page = Int(gradus__page_size())
        guard Int(bitPattern: pointer) % page == 0 else {
            throw .invalidArgument("bind: pointer is not aligned to the \(page)-byte page size")
        }
        guard isAvailable else { throw .unsupported("NUMA is not available on this kernel") }
        try validateNode(node)
        let before = gradus__numa_error_count()
        numa_tonode_memory(pointer, byteCount, Int32(node))
        if gradus__numa_error_count() != before {
            throw .internal("binding memory to node \(node) failed: \(lastLibnumaMessage)")
        }
    }

    /// The node holding the page at `address` (a `move_pages` query), nil when the page is not faulted in yet
    /// or the kernel cannot say.
    public static func node(ofAddress address: UnsafeRawPointer) -> Int? {
        let n = Int(gradus__node_of_address(address))
        return n >= 0 ? n : nil
    }

    /// The last message libnuma reported on this thread (kept, not printed).
    public static var lastLibnumaMessage: String { String(cString: gradus__numa_last_error()) }

    /// How many errors and warnings libnuma has reported since the process started.
    public static var libnumaMessageCount: Int { Int(gradus__numa_error_count()) }
}
