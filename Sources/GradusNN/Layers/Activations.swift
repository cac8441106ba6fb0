import GradusRuntime
import GradusTensor

/// Elementwise activation functions as layers.
public final class Activation: Module, @unchecked Sendable {
    public enum Kind: String, Sendable, CaseIterable { case relu, gelu, silu, tanh, sigmoid, identity }
    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        switch kind {
        case .relu: return x.relu()
        case .gelu: return try x.gelu()
        case .silu: return try x.silu()
        case .tanh: return x.tanh()
        case .sigmoid: return x.sigmoid()
        case .identity: return x
        }
    }
}

public func ReLU() -> Activation { Activation(.relu) }
public func GELU() -> Activation { Activation(.gelu) }
public func SiLU() -> Activation { Activation(.silu) }
public func Tanh() -> Activation { Activation(.tanh) }
public func Sigmoid() -> Activation { Activation(.sigmoid) }

/// Softmax or log-softmax along an axis, as a layer.
public final class Softmax: Module, @unchecked Sendable {
    public let axis: Int, log: Bool
    public init(axis: Int = -1, log: Bool = false) { self.axis = axis; self.log = log }
    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        log ? try x.logSoftmax(axis: axis) : try x.softmax(axis: axis)
    }
}

/// Flattens all dimensions after the first (batch) one.
public final class Flatten: Module, @unchecked Sendable {
    override public init() {}
    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        x.rank <= 2 ? x : try x.flattened(from: 1)
    }
}

/// Inverted dropout: in training, zeroes each element with probability `p` and scales the rest by
/// 1/(1−p); identity in evaluation. Masks come from a counter-based generator (seed, call index), so a
/// run is reproducible at any thread count.
public final class Dropout: Module, @unchecked Sendable {
    public let p: Double
    let seed: UInt64
    var calls: UInt64 = 0

    public init(_ p: Double = 0.5, seed: UInt64? = nil) throws(GradusError) {
        guard p >= 0, p < 1 else { throw .invalidArgument("Dropout probability \(p) must be in [0, 1)") }
        self.p = p
        self.seed = seed ?? Init.nextSeed()
    }

    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        guard isTraining, p > 0 else { return x }
        calls += 1
        let u = Tensor.uniform(x.shape, seed: seed &+ calls &* 0x9E37_79B9_7F4A_7C15, dtype: x.dtype)
        let mask = u.applying(.greater(p)).affine(1 / (1 - p), 0)
        return try x * mask
    }
}
