import GradusQuant
import GradusRuntime
import GradusTensor

/// A layer whose weight and input are quantized in the forward pass (fake quantization for training).
/// `Module.quantized(_:)` and `Module.setQuantEstimator(_:)` find layers through this protocol.
public protocol QuantizedLayer: AnyObject {
    /// What the layer does to its weight and input; mutable (ReSTE anneals its `o` per epoch).
    var quantization: LayerQuantization { get set }
    /// The full-precision module it wraps (its parameters are the layer's parameters).
    var wrapped: Module { get }
}

/// A `Linear` trained in low bit: `y = Q_a(x)·Q_w(W)ᵀ + b` with master weights in full precision.
///
/// The backward is the composition of the quantizers' estimators with the GEMM's: `∂x = G·Q_w(W)` through
/// the activation estimator, `∂W = Gᵀ·Q_a(x)` through the weight estimator, `∂b = ΣG` — with STE on both,
/// exactly Stable-SPAM's `A8Linear` (spec §2.2). Parameter names are the wrapped layer's (`weight`, `bias`),
/// so checkpoints of the float model load unchanged.
public class QuantizedLinear: Module, QuantizedLayer, @unchecked Sendable {
    /// The wrapped layer (holds the latent weight and the bias).
    public let linear: Linear
    public var quantization: LayerQuantization
    public var wrapped: Module { linear }

    /// Wraps `linear`; the weight quantizer is checked against the weight shape now, the activation
    /// quantizer at each call (its shape depends on the batch).
    ///
    /// - Throws: `invalidArgument` for a bad configuration (e.g. a group size not dividing `out·in`).
    public init(_ linear: Linear, quantization: LayerQuantization) throws(GradusError) {
        if let w = quantization.weights { try w.validate(shape: linear.weight.shape) }
        self.linear = linear
        self.quantization = quantization
    }

    /// A new `Linear(inFeatures, outFeatures)` wrapped with `quantization`.
    public convenience init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, quantization: LayerQuantization,
                            dtype: DType = .float32, seed: UInt64? = nil) throws(GradusError) {
        try self.init(try Linear(inFeatures, outFeatures, bias: bias, dtype: dtype, seed: seed), quantization: quantization)
    }

    override public var localParameters: [(String, Tensor)] { linear.localParameters }

    /// The weight as the forward uses it (`Q_w(W)`, recorded).
    public func quantizedWeight() throws(GradusError) -> Tensor {
        guard let q = quantization.weights else { return linear.weight }
        return try q(linear.weight)
    }

    override public func forward(_ input: Tensor) throws(GradusError) -> Tensor {
        var x = input
        if let q = quantization.activations {
            do { x = try q(input) } catch {
                throw .invalidArgument("\(type(of: self))(\(linear.inFeatures), \(linear.outFeatures)) activations \(input.shape): \(error.message)")
            }
        }
        return try Tensor.linear(x, weight: try quantizedWeight(), bias: linear.bias)
    }
}

/// A binary fully connected layer (spec §5): weights `sign(W)·mean|W|`, inputs `sign(x)` (unless
/// `binaryActivations` is false), both with `estimator` — ReSTE(o, t) or the clipped STE baseline.
public final class BinaryLinear: QuantizedLinear, @unchecked Sendable {
    /// - Parameters: `estimator` default the clipped STE (`|x| ≤ 1`); `binaryActivations` default true.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true,
                estimator: QuantEstimator = .clippedSTE(clip: 1), binaryActivations: Bool = true,
                dtype: DType = .float32, seed: UInt64? = nil) throws(GradusError) {
        try super.init(try Linear(inFeatures, outFeatures, bias: bias, dtype: dtype, seed: seed),
                       quantization: .binary(estimator: estimator, binaryActivations: binaryActivations))
    }

    /// Wraps an existing layer.
    public init(_ linear: Linear, estimator: QuantEstimator, binaryActivations: Bool = true) throws(GradusError) {
        try super.init(linear, quantization: .binary(estimator: estimator, binaryActivations: binaryActivations))
    }
}

/// A `Conv2d` trained in low bit: `conv(Q_a(x), Q_w(W)) + b`. Parameter names are the wrapped layer's.
public class QuantizedConv2d: Module, QuantizedLayer, @unchecked Sendable {
    public let conv: Conv2d
    public var quantization: LayerQuantization
    public var wrapped: Module { conv }

    /// - Throws: `invalidArgument` when the weight quantizer does not fit the weight shape.
    public init(_ conv: Conv2d, quantization: LayerQuantization) throws(GradusError) {
        if let w = quantization.weights { try w.validate(shape: conv.weight.shape) }
        self.conv = conv
        self.quantization = quantization
    }

    override public var localParameters: [(String, Tensor)] { conv.localParameters }

    override public func forward(_ input: Tensor) throws(GradusError) -> Tensor {
        guard (input.rank == 4 || input.rank == 3), input.shape[input.rank - 3] == conv.inChannels else {
            throw .shapeMismatch("\(type(of: self))(\(conv.inChannels), \(conv.outChannels)): input \(input.shape) is not (N, \(conv.inChannels), H, W)")
        }
        var x = input
        if let q = quantization.activations {
            do { x = try q(input) } catch {
                throw .invalidArgument("\(type(of: self))(\(conv.inChannels), \(conv.outChannels)) activations \(input.shape): \(error.message)")
            }
        }
        let w = try quantization.weights.map { (q) throws(GradusError) in try q(conv.weight) } ?? conv.weight
        return try Tensor.conv2d(x, weight: w, bias: conv.bias, stride: conv.stride, padding: conv.padding,
                                 dilation: conv.dilation, groups: conv.groups)
    }
}

/// A binary convolution (ReSTE's `BinarizeConv2d`, spec §5.1): `sign(W)·mean|W|` over the whole weight,
/// binary inputs unless `binaryActivations` is false.
public final class BinaryConv2d: QuantizedConv2d, @unchecked Sendable {
    public init(_ conv: Conv2d, estimator: QuantEstimator, binaryActivations: Bool = true) throws(GradusError) {
        try super.init(conv, quantization: .binary(estimator: estimator, binaryActivations: binaryActivations))
    }
}
