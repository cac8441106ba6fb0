import GradusRuntime
import GradusTensor

/// The sliding-window geometry shared by convolution and pooling over (N, C, H, W) inputs.
///
/// Output size per spatial axis follows PyTorch (floor mode):
/// `out = ⌊(in + 2·pad − dilation·(kernel − 1) − 1) / stride⌋ + 1`.
public struct WindowGeometry: Sendable, Equatable {
    public let channels: Int, height: Int, width: Int
    public let kernelH: Int, kernelW: Int
    public let strideH: Int, strideW: Int
    public let padH: Int, padW: Int
    public let dilationH: Int, dilationW: Int

    /// Validates the configuration (kernel, stride, dilation positive; padding non-negative; at least one
    /// output position) and throws `GradusError.invalidArgument` otherwise.
    public init(channels: Int, height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1)) throws(GradusError) {
        guard channels > 0, height > 0, width > 0 else {
            throw .invalidArgument("window: input (C=\(channels), H=\(height), W=\(width)) must be non-empty")
        }
        guard kernel.0 > 0, kernel.1 > 0, stride.0 > 0, stride.1 > 0, dilation.0 > 0, dilation.1 > 0 else {
            throw .invalidArgument("window: kernel \(kernel), stride \(stride) and dilation \(dilation) must be positive")
        }
        guard padding.0 >= 0, padding.1 >= 0 else { throw .invalidArgument("window: padding \(padding) must be non-negative") }
        self.channels = channels; self.height = height; self.width = width
        kernelH = kernel.0; kernelW = kernel.1
        strideH = stride.0; strideW = stride.1
        padH = padding.0; padW = padding.1
        dilationH = dilation.0; dilationW = dilation.1
        // The effective window (dilated kernel) must fit the padded input; checked before dividing, since
        // Swift's division truncates toward zero and would turn a negative span into one output.
        guard height + 2 * padH >= dilationH * (kernelH - 1) + 1, width + 2 * padW >= dilationW * (kernelW - 1) + 1 else {
            throw .invalidArgument("window: kernel \(kernel) (dilation \(dilation)) does not fit input \(height)×\(width) with padding \(padding)")
        }
    }

    /// Output height (floor mode).
    public var outHeight: Int { (height + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1 }
    /// Output width (floor mode).
    public var outWidth: Int { (width + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1 }
    /// Rows of the column matrix: C·kh·kw.
    public var columnRows: Int { channels * kernelH * kernelW }
    /// Output positions per image: Ho·Wo.
    public var positions: Int { outHeight * outWidth }
}

extension Tensor {
    /// Unfolds sliding windows into a column matrix: x (N, C, H, W) → (C·kh·kw, N·Ho·Wo).
    ///
    /// Row `(c·kh + i)·kw + j` holds, for every image n and output position (oh, ow) (column
    /// `(n·Ho + oh)·Wo + ow`), the input `x[n, c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]`, or `padValue`
    /// outside the image. Differentiable: its vector–Jacobian product is `col2im`, whose own is `im2col`
    /// (with zero padding), so gradients of any order flow.
    public func im2col(_ g: WindowGeometry, padValue: Double = 0) throws(GradusError) -> Tensor {
        guard rank == 4, shape[1] == g.channels, shape[2] == g.height, shape[3] == g.width else {
            throw .shapeMismatch("im2col: input \(shape) does not match geometry (N, \(g.channels), \(g.height), \(g.width))")
        }
        let n = shape[0]
        let x = contiguous()
        // Every element is written by the kernel, so the output starts uninitialised.
        let outShape = [g.columnRows, n * g.positions]
        let out = Tensor(storage: Storage(byteCount: outShape[0] * outShape[1] * dtype.size), shape: outShape,
                         strides: Tensor.contiguousStrides(outShape), offset: 0, dtype: dtype)
        switch dtype {
        case .float32: Im2Col.unfold(x.basePointer(as: Float.self), out.basePointer(as: Float.self), g, batch: n, pad: Float(padValue))
        case .float64: Im2Col.unfold(x.basePointer(as: Double.self), out.basePointer(as: Double.self), g, batch: n, pad: padValue)
        }
        return Tensor.custom(name: "im2col", inputs: [x], output: out) { grad throws(GradusError) in
            [try grad.col2im(g, batch: n)]
        }
    }

    /// Folds a column matrix back into images, summing overlapping windows: (C·kh·kw, N·Ho·Wo) → (N, C, H, W).
    /// The adjoint of `im2col` (padding positions are dropped). Differentiable.
    public func col2im(_ g: WindowGeometry, batch n: Int) throws(GradusError) -> Tensor {
        guard n > 0, shape == [g.columnRows, n * g.positions] else {
            throw .shapeMismatch("col2im: columns \(shape) do not match geometry [\(g.columnRows), \(n)·\(g.positions)]")
        }
        let c = contiguous()
        let out = Tensor.zeros([n, g.channels, g.height, g.width], dtype: dtype)
        switch dtype {
        case .float32: Im2Col.fold(c.basePointer(as: Float.self), out.basePointer(as: Float.self), g, batch: n)
        case .float64: Im2Col.fold(c.basePointer(as: Double.self), out.basePointer(as: Double.self), g, batch: n)
        }
        return Tensor.custom(name: "col2im", inputs: [c], output: out) { grad throws(GradusError) in
            [try grad.im2col(g)]
        }
    }
}

/// The raw kernels behind `im2col` / `col2im`.
enum Im2Col {
    /// The range [lo, hi) of `k` in 0..<count with 0 ≤ offset + k·stride < size (stride > 0).
    @inline(__always)
    static func validRange(offset: Int, stride: Int, size: Int, count: Int) -> (Int, Int) {
        // lo = ⌈−offset/stride⌉ clamped to ≥ 0; hi = ⌊(size − 1 − offset)/stride⌋ + 1 clamped to ≤ count.
        let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
        let last = size - 1 - offset
        let hi = last < 0 ? 0 : Swift.min(count, last / stride + 1)
        return (Swift.min(lo, count), hi)
    }

    // x: (N, C, H, W) contiguous; cols: (C·kh·kw, N·Ho·Wo). One task per row: rows write disjoint memory.
    static func unfold<T: TensorScalar>(_ x: UnsafeMutablePointer<T>, _ cols: UnsafeMutablePointer<T>,
                                        _ g: WindowGeometry, batch n: Int, pad: T) {
        let ho = g.outHeight, wo = g.outWidth, hw = g.height * g.width, chw = g.channels * hw
        let m = n * ho * wo, kk = g.kernelH * g.kernelW
        ThreadPool.shared.parallelFor(g.columnRows, grain: Swift.max(1, 16384 / Swift.max(m, 1))) { rows, _ in
            for r in rows {
                let c = r / kk, i = (r % kk) / g.kernelW, j = r % g.kernelW
                let dst = cols + r * m
                // Output columns whose input column iw = ow·sw − pw + j·dw lies inside the image: [lo, hi).
                let (lo, hi) = Im2Col.validRange(offset: j * g.dilationW - g.padW, stride: g.strideW, size: g.width, count: wo)
                let sw = g.strideW
                for b in 0..<n {
                    let plane = x + b * chw + c * hw
                    for oh in 0..<ho {
                        let ih = oh * g.strideH - g.padH + i * g.dilationH
                        let row = dst + (b * ho + oh) * wo
                        if ih < 0 || ih >= g.height || lo >= hi {
                            row.update(repeating: pad, count: wo)
                            continue
                        }
                        // src[ow·sw] is the input for output column ow.
                        let src = plane + ih * g.width + (j * g.dilationW - g.padW)
                        for ow in 0..<lo { row[ow] = pad }
                        if sw == 1 {
                            (row + lo).update(from: src + lo, count: hi - lo)
                        } else {
                            for ow in lo..<hi { row[ow] = src[ow * sw] }
                        }
                        for ow in hi..<wo { row[ow] = pad }
                    }
                }
            }
        }
    }

    // cols: (C·kh·kw, N·Ho·Wo); x: (N, C, H, W) zero-filled. One task per (n, c) plane: planes are disjoint.
    static func fold<T: TensorScalar>(_ cols: UnsafeMutablePointer<T>, _ x: UnsafeMutablePointer<T>,
                                      _ g: WindowGeometry, batch n: Int) {
        let ho = g.outHeight, wo = g.outWidth, hw = g.height * g.width
        let m = n * ho * wo, kk = g.kernelH * g.kernelW
        ThreadPool.shared.parallelFor(n * g.channels, grain: Swift.max(1, 16384 / Swift.max(kk * ho * wo, 1))) { planes, _ in
            for p in planes {
                let b = p / g.channels, c = p % g.channels
                let plane = x + p * hw
                for i in 0..<g.kernelH {
                    for j in 0..<g.kernelW {
                        let src = cols + ((c * g.kernelH + i) * g.kernelW + j) * m + b * ho * wo
                        let (lo, hi) = Im2Col.validRange(offset: j * g.dilationW - g.padW, stride: g.strideW, size: g.width, count: wo)
                        if lo >= hi { continue }
                        let sw = g.strideW
                        for oh in 0..<ho {
                            let ih = oh * g.strideH - g.padH + i * g.dilationH
                            if ih < 0 || ih >= g.height { continue }
                            // dst[ow·sw] receives output column ow.
                            let dst = plane + ih * g.width + (j * g.dilationW - g.padW), row = src + oh * wo
                            for ow in lo..<hi { dst[ow * sw] += row[ow] }
                        }
                    }
                }
            }
        }
    }
}
