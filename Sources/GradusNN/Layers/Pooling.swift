import GradusRuntime
import GradusTensor

extension Tensor {
    /// Views (N, C, H, W) or (C, H, W) as (N·C, 1, H, W) so that every channel is pooled on its own;
    /// returns it with the batch shape to restore.
    fileprivate func poolingPlanes(_ what: String) throws(GradusError) -> (planes: Tensor, lead: [Int]) {
        guard rank == 3 || rank == 4 else { throw .shapeMismatch("\(what): input must be (N, C, H, W) or (C, H, W), got \(shape)") }
        guard count > 0 else { throw .shapeMismatch("\(what): empty input \(shape)") }
        let lead = Array(shape.dropLast(2))
        return (try reshaped([lead.reduce(1, *), 1, shape[rank - 2], shape[rank - 1]]), lead)
    }

    fileprivate static func poolingGeometry(_ x: Tensor, _ kernel: (Int, Int), _ stride: (Int, Int), _ padding: (Int, Int),
                                            _ dilation: (Int, Int), _ what: String) throws(GradusError) -> WindowGeometry {
        guard padding.0 >= 0, padding.1 >= 0, 2 * padding.0 <= kernel.0, 2 * padding.1 <= kernel.1 else {
            throw .invalidArgument("\(what): padding \(padding) must be at most half the kernel \(kernel)")
        }
        return try WindowGeometry(channels: 1, height: x.shape[x.rank - 2], width: x.shape[x.rank - 1], kernel: kernel,
                                  stride: stride, padding: padding, dilation: dilation)
    }

    /// 2-D max pooling (PyTorch `max_pool2d`, floor mode): padding counts as −∞. The gradient goes to the
    /// first maximum of each window (row-major window order, as PyTorch).
    public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                          dilation: (Int, Int) = (1, 1)) throws(GradusError) -> Tensor {
        let (planes, lead) = try poolingPlanes("max_pool2d")
        let g = try Tensor.poolingGeometry(self, kernel, stride ?? kernel, padding, dilation, "max_pool2d")
        let cols = try planes.im2col(g, padValue: -.infinity)               // (kh·kw, N·C·Ho·Wo)
        return try cols.max(axis: 0).values.reshaped(lead + [g.outHeight, g.outWidth])
    }

    /// 2-D average pooling (PyTorch `avg_pool2d`, floor mode). With `countIncludePad` (default, as
    /// PyTorch) padded zeros count in the divisor; otherwise only in-image elements do.
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                          countIncludePad: Bool = true) throws(GradusError) -> Tensor {
        let (planes, lead) = try poolingPlanes("avg_pool2d")
        let g = try Tensor.poolingGeometry(self, kernel, stride ?? kernel, padding, (1, 1), "avg_pool2d")
        let cols = try planes.im2col(g)                                     // (kh·kw, N·C·Ho·Wo)
        let outShape = lead + [g.outHeight, g.outWidth]
        if countIncludePad || (padding.0 == 0 && padding.1 == 0) {
            return try cols.mean(axes: [0]).reshaped(outShape)
        }
        // Per-position count of in-image elements: the window sums of a ones image.
        let counts = try GradMode.withoutGrad { () throws(GradusError) in
            try Tensor.ones([1, 1, g.height, g.width], dtype: dtype).im2col(g).sum(axes: [0])
        }
        return try (cols.sum(axes: [0]).reshaped([-1, g.positions]) / counts).reshaped(outShape)
    }
}

/// 2-D max pooling layer (PyTorch `nn.MaxPool2d`; floor mode). `stride` defaults to the kernel size.
public final class MaxPool2d: Module, @unchecked Sendable {
    public let kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)

    /// Throws when a size is non-positive or the padding exceeds half the kernel.
    public init(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                dilation: (Int, Int) = (1, 1)) throws(GradusError) {
        let s = stride ?? kernelSize
        guard kernelSize.0 > 0, kernelSize.1 > 0, s.0 > 0, s.1 > 0, dilation.0 > 0, dilation.1 > 0,
              padding.0 >= 0, padding.1 >= 0, 2 * padding.0 <= kernelSize.0, 2 * padding.1 <= kernelSize.1 else {
            throw .invalidArgument("MaxPool2d: kernel \(kernelSize), stride \(s), padding \(padding), dilation \(dilation) invalid")
        }
        self.kernelSize = kernelSize; self.stride = s; self.padding = padding; self.dilation = dilation
    }

    /// Square-window convenience.
    public convenience init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) throws(GradusError) {
        try self.init(kernelSize: (kernelSize, kernelSize), stride: stride.map { ($0, $0) }, padding: (padding, padding))
    }

    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        try x.maxPool2d(kernel: kernelSize, stride: stride, padding: padding, dilation: dilation)
    }
}

/// 2-D average pooling layer (PyTorch `nn.AvgPool2d`; floor mode). `stride` defaults to the kernel size.
public final class AvgPool2d: Module, @unchecked Sendable {
    public let kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int)
    public let countIncludePad: Bool

    /// Throws when a size is non-positive or the padding exceeds half the kernel.
    public init(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                countIncludePad: Bool = true) throws(GradusError) {
        let s = stride ?? kernelSize
        guard kernelSize.0 > 0, kernelSize.1 > 0, s.0 > 0, s.1 > 0, padding.0 >= 0, padding.1 >= 0,
              2 * padding.0 <= kernelSize.0, 2 * padding.1 <= kernelSize.1 else {
            throw .invalidArgument("AvgPool2d: kernel \(kernelSize), stride \(s), padding \(padding) invalid")
        }
        self.kernelSize = kernelSize; self.stride = s; self.padding = padding; self.countIncludePad = countIncludePad
    }

    /// Square-window convenience.
    public convenience init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = true) throws(GradusError) {
        try self.init(kernelSize: (kernelSize, kernelSize), stride: stride.map { ($0, $0) }, padding: (padding, padding),
                      countIncludePad: countIncludePad)
    }

    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        try x.avgPool2d(kernel: kernelSize, stride: stride, padding: padding, countIncludePad: countIncludePad)
    }
}
