import GradusQuant
import GradusRuntime
import GradusTensor

/// How one tensor of a layer (its weight or its input activation) is quantized in the forward pass.
/// Every case records a backward on the tape (STE unless the configuration says otherwise).
public enum TensorQuantizer: Sendable, Equatable {
    /// Any `QuantConfig` (INT2–8 sym/asym per tensor/channel/group, E2M1, MXFP4, NF4, bnb FP4, binary
    /// `bits: 1`), with its estimator (STE, clipped STE, ReSTE).
    case fake(QuantConfig)
    /// Stable-SPAM's activation rule: symmetric `bits`-bit per group with the `topK` largest |x| kept (STE).
    case outlierKeeping(bits: Int, groupSize: Int, topK: Int)
    /// Stable-SPAM's "FP4" simulation: top-k kept, the rest on the 9-level grid `{−4…4}·α/4` (STE).
    case stableSPAMFP4(groupSize: Int, topK: Int)
    /// `sign(W)·mean|W|` (ReSTE's binary weight) with the scale's gradient kept.
    case scaledBinary(estimator: QuantEstimator)

    /// Applies the quantizer (recorded when gradients are on).
    public func callAsFunction(_ x: Tensor) throws(GradusError) -> Tensor {
        switch self {
        case .fake(let c): return try x.fakeQuantized(c)
        case .outlierKeeping(let b, let g, let k): return try x.outlierKeepingQuantized(bits: b, groupSize: g, topK: k)
        case .stableSPAMFP4(let g, let k): return try x.stableSPAMFP4Quantized(groupSize: g, topK: k)
        case .scaledBinary(let e): return try x.scaledBinaryWeight(estimator: e)
        }
    }

    /// Checks the quantizer against a tensor shape without running it.
    public func validate(shape: [Int]) throws(GradusError) {
        let n = try Tensor.checkedCount(shape)
        switch self {
        case .fake(let c): try c.validate(shape: shape)
        case .outlierKeeping(let b, let g, let k): try StableSPAMQuant.validate(count: n, groupSize: g, bits: b, topK: k)
        case .stableSPAMFP4(let g, let k): try StableSPAMQuant.validate(count: n, groupSize: g, bits: 4, topK: k)
        case .scaledBinary(let e): try QuantConfig(bits: 1, estimator: e).validate(shape: [n])
        }
    }

    /// The same quantizer with its estimator replaced (ReSTE's per-epoch `o`); unchanged for STE-only cases.
    public func with(estimator: QuantEstimator) -> TensorQuantizer {
        switch self {
        case .fake(var c): c.estimator = estimator; return .fake(c)
        case .scaledBinary: return .scaledBinary(estimator: estimator)
        case .outlierKeeping, .stableSPAMFP4: return self
        }
    }

    /// The group size, when the quantizer groups consecutive elements.
    public var groupSize: Int? {
        switch self {
        case .fake(let c): if case .perGroup(let g) = c.granularity { return g }; return nil
        case .outlierKeeping(_, let g, _), .stableSPAMFP4(let g, _): return g
        case .scaledBinary: return nil
        }
    }
}

/// What a quantized layer does to its weight and its input (nil: left in full precision).
public struct LayerQuantization: Sendable, Equatable {
    public var weights: TensorQuantizer?
    public var activations: TensorQuantizer?

    public init(weights: TensorQuantizer?, activations: TensorQuantizer? = nil) {
        self.weights = weights; self.activations = activations
    }

    /// Weights and (optionally) activations fake-quantized with plain configurations.
    public init(_ weights: QuantConfig, activations: QuantConfig? = nil) {
        self.weights = .fake(weights); self.activations = activations.map { .fake($0) }
    }

    /// Stable-SPAM's published INT4 run (spec §2.2): W4 asymmetric per group, A4 symmetric per group with
    /// the top-2 outliers kept, same group size (256 in the paper; 64 for small layers).
    public static func stableSPAMInt4(groupSize: Int = 256, topK: Int = 2) -> LayerQuantization {
        LayerQuantization(weights: .fake(QuantConfig(bits: 4, symmetric: false, granularity: .perGroup(size: groupSize))),
                          activations: .outlierKeeping(bits: 4, groupSize: groupSize, topK: topK))
    }

    /// Stable-SPAM's "FP4" run (spec §2.3): weights and activations on the 9-level grid, top-2 kept.
    public static func stableSPAMFP4(groupSize: Int = 256, topK: Int = 2) -> LayerQuantization {
        LayerQuantization(weights: .stableSPAMFP4(groupSize: groupSize, topK: topK),
                          activations: .stableSPAMFP4(groupSize: groupSize, topK: topK))
    }

    /// A binary layer (spec §5): `sign(W)·mean|W|` weights and `sign(x)` activations (nil: float inputs),
    /// both with `estimator` (ReSTE(o, t) or the clipped STE).
    public static func binary(estimator: QuantEstimator, binaryActivations: Bool = true) -> LayerQuantization {
        LayerQuantization(weights: .scaledBinary(estimator: estimator),
                          activations: binaryActivations ? .fake(QuantConfig(bits: 1, estimator: estimator)) : nil)
    }

    /// Both quantizers with their estimator replaced.
    public func with(estimator: QuantEstimator) -> LayerQuantization {
        LayerQuantization(weights: weights?.with(estimator: estimator), activations: activations?.with(estimator: estimator))
    }
}
