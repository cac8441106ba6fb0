import GradusRuntime
import GradusTensor

extension Tensor {
    /// 2-D cross-correlation (PyTorch's `conv2d`): x (N, C, H, W) or (C, H, W), weight (O, C/groups, kh, kw),
    /// optional bias (O) → (N, O, Ho, Wo).
    ///
    /// Lowered to `im2col` and one GEMM per group: W (O/g, C/g·kh·kw) @ cols (C/g·kh·kw, N·Ho·Wo). Built from
    /// differentiable ops, so gradients (of any order) flow to x, weight and bias.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1),
                              padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1) throws(GradusError) -> Tensor {
        guard x.rank == 3 || x.rank == 4 else { throw .shapeMismatch("conv2d: input must be (N, C, H, W) or (C, H, W), got \(x.shape)") }
        if x.rank == 3 {
            return try conv2d(x.unsqueezed(0), weight: weight, bias: bias, stride: stride, padding: padding,
                              dilation: dilation, groups: groups).squeezed(0)
        }
        guard x.dtype == weight.dtype, bias.map({ $0.dtype == x.dtype }) ?? true else {
            throw .dtypeMismatch("conv2d: input \(x.dtype), weight \(weight.dtype)\(bias.map { ", bias \($0.dtype)" } ?? "")")
        }
        guard weight.rank == 4 else { throw .shapeMismatch("conv2d: weight must be (O, C/groups, kh, kw), got \(weight.shape)") }
        let n = x.shape[0], c = x.shape[1], o = weight.shape[0]
        guard groups > 0, c % groups == 0, o % groups == 0 else {
            throw .invalidArgument("conv2d: groups \(groups) must divide input channels \(c) and output channels \(o)")
        }
        guard weight.shape[1] == c / groups else {
            throw .shapeMismatch("conv2d: weight \(weight.shape) expects \(weight.shape[1] * groups) input channels, input has \(c)")
        }
        if let bias, bias.shape != [o] { throw .shapeMismatch("conv2d: bias \(bias.shape) should be [\(o)]") }
        guard n > 0 else { throw .shapeMismatch("conv2d: empty batch") }
        let cg = c / groups, og = o / groups
        let geom = try WindowGeometry(channels: cg, height: x.shape[2], width: x.shape[3],
                                      kernel: (weight.shape[2], weight.shape[3]), stride: stride, padding: padding, dilation: dilation)
        var pieces: [Tensor] = []
        for gi in 0..<groups {
            let xg = groups == 1 ? x : try x.slice(axis: 1, start: gi * cg, end: (gi + 1) * cg)
            let wg = groups == 1 ? weight : try weight.slice(axis: 0, start: gi * og, end: (gi + 1) * og)
            let cols = try xg.im2col(geom)                                       // (cg·kh·kw, N·L)
            pieces.append(try wg.reshaped([og, geom.columnRows]).matmul(cols))   // (og, N·L)
        }
        var y = groups == 1 ? pieces[0] : try Tensor.concat(pieces, axis: 0)   // (O, N·L)
        if let bias { y = try y + bias.reshaped([o, 1]) }
        // (O, N, Ho, Wo) → (N, O, Ho, Wo)
        return try y.reshaped([o, n, geom.outHeight, geom.outWidth]).permuted([1, 0, 2, 3]).contiguous()
    }
}

/// 2-D convolution layer (PyTorch `nn.Conv2d`): weight (out, in/groups, kh, kw), bias (out).
///
/// Initialisation is PyTorch's: Kaiming-uniform with a = √5 for the weight and U(±1/√fan_in) for the
/// bias, fan_in = in/groups·kh·kw. Computed as im2col + GEMM (`Tensor.conv2d`).
public final class Conv2d: Module, @unchecked Sendable {
    public let weight: Tensor
    public let bias: Tensor?
    public let inChannels: Int, outChannels: Int, groups: Int
    public let kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)

    /// - Parameters:
    ///   - kernelSize, stride (default 1), padding (default 0), dilation (default 1): (height, width) pairs.
    ///   - groups: channel groups (default 1); must divide both channel counts.
    ///   - bias: learnable bias (default true). `seed`: default the next of `Init`.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true,
                dtype: DType = .float32, seed: UInt64? = nil) throws(GradusError) {
        guard inChannels > 0, outChannels > 0 else { throw .invalidArgument("Conv2d(\(inChannels), \(outChannels)): channel counts must be positive") }
        guard groups > 0, inChannels % groups == 0, outChannels % groups == 0 else {
            throw .invalidArgument("Conv2d: groups \(groups) must divide \(inChannels) and \(outChannels)")
        }
        guard kernelSize.0 > 0, kernelSize.1 > 0, stride.0 > 0, stride.1 > 0, dilation.0 > 0, dilation.1 > 0,
              padding.0 >= 0, padding.1 >= 0 else {
            throw .invalidArgument("Conv2d: kernel \(kernelSize), stride \(stride), dilation \(dilation) must be positive, padding \(padding) non-negative")
        }
        let s = seed ?? Init.nextSeed()
        let fanIn = inChannels / groups * kernelSize.0 * kernelSize.1
        self.inChannels = inChannels; self.outChannels = outChannels; self.groups = groups
        self.kernelSize = kernelSize; self.stride = stride; self.padding = padding; self.dilation = dilation
        weight = Init.kaimingUniform([outChannels, inChannels / groups, kernelSize.0, kernelSize.1], fanIn: fanIn,
                                     seed: s, dtype: dtype).requiringGrad()
        self.bias = bias ? Init.biasUniform([outChannels], fanIn: fanIn, seed: s &+ 1, dtype: dtype).requiringGrad() : nil
    }

    /// Square-kernel convenience: the same value for height and width.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                            dilation: Int = 1, groups: Int = 1, bias: Bool = true, dtype: DType = .float32,
                            seed: UInt64? = nil) throws(GradusError) {
        try self.init(inChannels, outChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
                      padding: (padding, padding), dilation: (dilation, dilation), groups: groups, bias: bias,
                      dtype: dtype, seed: seed)
    }

    override public var localParameters: [(String, Tensor)] {
        bias.map { [("weight", weight), ("bias", $0)] } ?? [("weight", weight)]
    }

    /// x (N, C, H, W) or (C, H, W) → (N, O, Ho, Wo) or (O, Ho, Wo).
    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        guard (x.rank == 4 || x.rank == 3), x.shape[x.rank - 3] == inChannels else {
            throw .shapeMismatch("Conv2d(\(inChannels), \(outChannels)): input \(x.shape) is not (N, \(inChannels), H, W)")
        }
        return try Tensor.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}
