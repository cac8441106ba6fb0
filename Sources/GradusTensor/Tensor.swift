import GradusRuntime

/// An N-dimensional, row-major array of float32 or float64 values that can record its history for
/// reverse-mode differentiation.
///
/// A tensor is a view: `shape`, `strides` (in elements) and `offset` over a shared `Storage`. Reshape,
/// transpose, permute, slice and expand make new views without copying. Operations produce new tensors;
/// when any input `requiresGrad` and gradient recording is on (see `GradMode`), the result carries a
/// `GradNode` that knows how to propagate gradients back to its inputs.
public final class Tensor: @unchecked Sendable {
    /// The memory this view reads. Never reassigned; a `var` only so that backward can test it for unique
    /// ownership (`isKnownUniquelyReferenced`) and hand a fresh gradient buffer to `.grad` without a copy.
    /// Unchecked exclusivity: reads stay as cheap as a `let`'s.
    @exclusivity(unchecked) public internal(set) var storage: Storage
    public let shape: [Int]
    public let strides: [Int]
    public let offset: Int
    public let dtype: DType

    /// Whether gradients flow to this tensor. Leaves with `requiresGrad` collect `grad` in `backward()`.
    public var requiresGrad: Bool
    /// The accumulated gradient (leaves, and non-leaves marked with `retainGrad()`).
    public var grad: Tensor?
    /// The operation that produced this tensor, when recorded.
    public internal(set) var gradNode: GradNode?
    /// Keep `grad` for this non-leaf tensor during backward.
    public var retainsGrad = false
    /// Optional human-readable name (parameters use `layers.0.weight`).
    public var name: String?

    /// Creates a view. Validates that the view stays inside the storage.
    public init(storage: Storage, shape: [Int], strides: [Int], offset: Int, dtype: DType, requiresGrad: Bool = false) {
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.dtype = dtype
        self.requiresGrad = requiresGrad
    }

    /// Uninitialised contiguous tensor (internal: kernels fill it).
    @usableFromInline
    init(uninitializedShape shape: [Int], dtype: DType) {
        let n = Tensor.elementCount(shape)
        self.storage = Storage(byteCount: n * dtype.size)
        self.shape = shape
        self.strides = Tensor.contiguousStrides(shape)
        self.offset = 0
        self.dtype = dtype
        self.requiresGrad = false
    }

    // MARK: - Geometry

    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { Tensor.elementCount(shape) }
    /// True for a leaf of the graph (created by the user, not by a recorded op).
    public var isLeaf: Bool { gradNode == nil }

    /// True when elements lie densely in row-major order starting at `offset`.
    public var isContiguous: Bool {
        var expected = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] != 1 {
            if strides[d] != expected { return false }
            expected *= shape[d]
        }
        return true
    }

    @inlinable
    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    @inlinable
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) { s[d] = acc; acc *= Swift.max(shape[d], 1) }
        return s
    }

    /// Validates a user-supplied shape: non-negative dims, element count without overflow.
    public static func checkedCount(_ shape: [Int], dtype: DType = .float64) throws(GradusError) -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw .invalidArgument("negative dimension \(d) in shape \(shape)") }
            let (m, o) = n.multipliedReportingOverflow(by: d)
            guard !o, m <= Int.max / 16 else { throw .invalidArgument("shape \(shape) is too large") }
            n = m
        }
        return n
    }

    /// Normalises an axis (negative counts from the end).
    ///
    /// Fix (tensortest): a rank-0 tensor has no axes. Axis 0 used to be accepted for rank 0, and callers
    /// then indexed `shape[0]` and trapped (`Tensor.scalar(1).max(axis: 0)`, `slice`, `concat` of scalars).
    public func normalizedAxis(_ axis: Int, rankOverride: Int? = nil) throws(GradusError) -> Int {
        let r = rankOverride ?? rank
        let a = axis < 0 ? axis + r : axis
        guard a >= 0, a < r else {
            throw .invalidArgument("axis \(axis) out of range for rank \(r)")
        }
        return a
    }

    // MARK: - Raw access

    /// Base pointer of element 0 of this view, typed.
    @inlinable
    public func basePointer<T: TensorScalar>(as: T.Type) -> UnsafeMutablePointer<T> {
        storage.raw.assumingMemoryBound(to: T.self) + offset
    }

    /// Calls `body` with the elements of a contiguous tensor. Throws if not contiguous or the type differs.
    @inlinable
    public func withUnsafeMutableBufferPointer<T: TensorScalar, R>(
        as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) throws -> R {
        guard T.dtype == dtype else { throw GradusError.dtypeMismatch("tensor is \(dtype), accessed as \(T.dtype)") }
        guard isContiguous else { throw GradusError.invalidState("tensor is not contiguous; call contiguous() first") }
        return try body(UnsafeMutableBufferPointer(start: basePointer(as: T.self), count: count))
    }

    /// Read-only variant of `withUnsafeMutableBufferPointer`.
    @inlinable
    public func withUnsafeBufferPointer<T: TensorScalar, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) throws -> R {
        try withUnsafeMutableBufferPointer(as: type) { try body(UnsafeBufferPointer($0)) }
    }

    /// The elements in row-major order, converted to `T`.
    public func scalars<T: TensorScalar>(as: T.Type = T.self) -> [T] {
        let c = contiguous()
        let n = c.count
        if n == 0 { return [] }
        // Same type: one bulk copy. Otherwise a concrete Float <-> Double loop (never the generic conversion).
        if T.dtype == c.dtype { return Array(UnsafeBufferPointer(start: c.basePointer(as: T.self), count: n)) }
        return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            let out = UnsafeMutableRawPointer(buffer.baseAddress!)
            switch c.dtype {
            case .float32:
                let p = c.basePointer(as: Float.self), d = out.bindMemory(to: Double.self, capacity: n)
                for i in 0..<n { d[i] = Double(p[i]) }
            case .float64:
                let p = c.basePointer(as: Double.self), d = out.bindMemory(to: Float.self, capacity: n)
                for i in 0..<n { d[i] = Float(p[i]) }
            }
            initialized = n
        }
    }

    /// The single element of a one-element tensor, as Double.
    public func item() throws(GradusError) -> Double {
        guard count == 1 else { throw .shapeMismatch("item() needs one element, tensor has shape \(shape)") }
        return scalars(as: Double.self)[0]
    }

    /// A new contiguous tensor with the same values (or `self` when already contiguous).
    /// Differentiable.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        let out = Tensor(uninitializedShape: shape, dtype: dtype)
        Kernels.copy(from: self, to: out)
        return record(out, "contiguous", [self]) { g in [g] }
    }

    /// A contiguous copy that shares no storage with `self`. Differentiable.
    public func clone() -> Tensor {
        let out = Tensor(uninitializedShape: shape, dtype: dtype)
        Kernels.copy(from: self, to: out)
        return record(out, "clone", [self]) { g in [g] }
    }

    /// A view of the same data cut off from the graph.
    public func detached() -> Tensor {
        Tensor(storage: storage, shape: shape, strides: strides, offset: offset, dtype: dtype)
    }

    /// Marks this tensor as requiring gradients (returns self for chaining).
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor { requiresGrad = flag; return self }

    /// Keep `grad` on this non-leaf during backward.
    public func retainGrad() { retainsGrad = true }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let vals = scalars(as: Double.self)
        let shown = vals.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), dtype: \(dtype), [\(shown)\(vals.count > 8 ? ", ..." : "")])"
    }
}
