import GradusRuntime

/// A fixed-size, zero-initialised buffer of optimizer state (moments, accumulators).
///
/// A reference type on purpose: parallel workers update disjoint ranges of the same buffer
/// through `base`, which Swift arrays (copy-on-write, exclusivity checks) do not allow.
public final class StateBuffer<Scalar: OptimizerScalar>: @unchecked Sendable {
    /// First element; valid for `count` elements for the lifetime of the buffer.
    public let base: UnsafeMutablePointer<Scalar>
    /// Number of elements.
    public let count: Int

    /// Allocates `count` elements filled with `value` (default 0).
    public init(count: Int, value: Scalar = 0) {
        self.count = count
        base = .allocate(capacity: Swift.max(count, 1))
        if value == 0 {
            // A memset: the generic `initialize(repeating:)` runs element by element through value witnesses here.
            UnsafeMutableRawPointer(base).initializeMemory(as: UInt8.self, repeating: 0,
                                                           count: Swift.max(count, 1) * MemoryLayout<Scalar>.stride)
        } else {
            base.initialize(repeating: value, count: Swift.max(count, 1))
        }
    }

    deinit { base.deallocate() }

    /// Sets every element to `value`.
    public func fill(_ value: Scalar) {
        if value == 0 {
            UnsafeMutableRawPointer(base).initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<Scalar>.stride)
        } else {
            base.update(repeating: value, count: count)
        }
    }

    /// The elements widened to `Double` (for serialization and tests).
    public var doubles: [Double] { (0..<count).map { Double(base[$0]) } }

    /// Overwrites the elements from `values` (must have `count` elements).
    public func load(_ values: [Double]) {
        for i in 0..<Swift.min(count, values.count) { base[i] = Scalar(values[i]) }
    }
}

/// One named array of optimizer state at the serialization boundary (checkpoints, C ABI):
/// `name` like `"state.0.exp_avg"`, a row-major `shape` (`[]` for a scalar) and the values in `Double`.
public struct StateEntry: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Double]
    public init(name: String, shape: [Int], values: [Double]) {
        self.name = name; self.shape = shape; self.values = values
    }
}

/// Collects a transform state's fields under a prefix (`"state.3."`).
public struct StateWriter {
    public let prefix: String
    public private(set) var entries: [StateEntry] = []
    public init(prefix: String) { self.prefix = prefix }
    /// Writes a buffer field with the parameter's shape.
    public mutating func write<S>(_ name: String, _ buffer: StateBuffer<S>, shape: [Int]) {
        entries.append(StateEntry(name: prefix + name, shape: shape, values: buffer.doubles))
    }
    /// Writes a small array field.
    public mutating func write(_ name: String, _ values: [Double]) {
        entries.append(StateEntry(name: prefix + name, shape: [values.count], values: values))
    }
    /// Writes a scalar field.
    public mutating func write(_ name: String, _ value: Double) {
        entries.append(StateEntry(name: prefix + name, shape: [], values: [value]))
    }
}

/// Reads a transform state's fields back; every missing or mis-sized field is a `GradusError`.
public struct StateReader {
    public let prefix: String
    let entries: [String: StateEntry]
    public init(prefix: String, entries: [String: StateEntry]) { self.prefix = prefix; self.entries = entries }

    func entry(_ name: String) throws(GradusError) -> StateEntry {
        guard let e = entries[prefix + name] else { throw .notFound("optimizer state has no entry '\(prefix + name)'") }
        return e
    }
    /// Reads a buffer field; the element count must match.
    public func read<S>(_ name: String, into buffer: StateBuffer<S>) throws(GradusError) {
        let e = try entry(name)
        guard e.values.count == buffer.count else {
            throw .shapeMismatch("state entry '\(prefix + name)' has \(e.values.count) values, expected \(buffer.count)")
        }
        buffer.load(e.values)
    }
    /// Reads a small array field of `count` values.
    public func read(_ name: String, count: Int) throws(GradusError) -> [Double] {
        let e = try entry(name)
        guard e.values.count == count else {
            throw .shapeMismatch("state entry '\(prefix + name)' has \(e.values.count) values, expected \(count)")
        }
        return e.values
    }
    /// Reads a scalar field.
    public func read(_ name: String) throws(GradusError) -> Double {
        try read(name, count: 1)[0]
    }
}

/// State of a transform (per tensor, or shared by all tensors of a chain): typed fields,
/// converted to named entries only at the serialization boundary.
public protocol TransformState {
    /// Appends the fields to `writer`.
    func write(to writer: inout StateWriter)
    /// Restores the fields from `reader`.
    mutating func read(from reader: StateReader) throws(GradusError)
}

/// The state of a stateless transform.
public struct EmptyState: TransformState {
    public init() {}
    public func write(to writer: inout StateWriter) {}
    public mutating func read(from reader: StateReader) throws(GradusError) {}
}
