import GradusRuntime
import GradusTensor

/// A lookup table of `count` vectors of size `dimension` (PyTorch `nn.Embedding`): weight (count, dimension),
/// initialised N(0, 1) as PyTorch does. The gradient of a lookup scatter-adds into the rows used.
public final class Embedding: Module, @unchecked Sendable {
    public let weight: Tensor
    public let count: Int, dimension: Int

    /// - Parameters: `count` rows, `dimension` columns (both positive); `seed` defaults to the next of `Init`.
    public init(_ count: Int, _ dimension: Int, dtype: DType = .float32, seed: UInt64? = nil) throws(GradusError) {
        guard count > 0, dimension > 0 else { throw .invalidArgument("Embedding(\(count), \(dimension)): sizes must be positive") }
        self.count = count
        self.dimension = dimension
        weight = Tensor.normal([count, dimension], seed: seed ?? Init.nextSeed(), dtype: dtype).requiringGrad()
    }

    override public var localParameters: [(String, Tensor)] { [("weight", weight)] }

    /// Rows `indices` (row-major over `shape`) as a tensor of shape `shape + [dimension]`.
    /// Throws when an index is outside `0..<count` or `shape` does not hold `indices.count` entries.
    public func embed(indices: [Int], shape: [Int]) throws(GradusError) -> Tensor {
        guard try Tensor.checkedCount(shape) == indices.count else {
            throw .shapeMismatch("Embedding: \(indices.count) indices do not fill shape \(shape)")
        }
        for i in indices where i < 0 || i >= count {
            throw .invalidArgument("Embedding: index \(i) out of range 0..<\(count)")
        }
        return try weight.indexSelect(axis: 0, indices: indices).reshaped(shape + [dimension])
    }

    /// `embed` for a tensor of integral values (any shape): the result has shape `input.shape + [dimension]`.
    /// Throws on non-integral or out-of-range values. The input gets no gradient.
    override public func forward(_ input: Tensor) throws(GradusError) -> Tensor {
        let values = input.scalars(as: Double.self)
        var indices = [Int]()
        indices.reserveCapacity(values.count)
        for v in values {
            guard v.isFinite, v == v.rounded(), v >= 0, v < Double(count) else {
                throw .invalidArgument("Embedding: \(v) is not an integer index in 0..<\(count)")
            }
            indices.append(Int(v))
        }
        return try embed(indices: indices, shape: input.shape)
    }
}
