import GradusNN
import GradusRuntime
import GradusTensor
import _GradusTestSupport
import Testing

/// Direct convolution by plain loops: x (N, C, H, W), w (O, C/g, kh, kw).
func naiveConv2d(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: (Int, Int), padding: (Int, Int),
                 dilation: (Int, Int), groups: Int) -> (shape: [Int], values: [Double]) {
    let xs = x.scalars(as: Double.self), ws = w.scalars(as: Double.self), bs = b?.scalars(as: Double.self)
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    let og = o / groups
    let ho = (h + 2 * padding.0 - dilation.0 * (kh - 1) - 1) / stride.0 + 1
    let wo = (wd + 2 * padding.1 - dilation.1 * (kw - 1) - 1) / stride.1 + 1
    var out = [Double](repeating: 0, count: n * o * ho * wo)
    for b0 in 0..<n { for oc in 0..<o { for i in 0..<ho { for j in 0..<wo {
        var acc = bs?[oc] ?? 0
        let g = oc / og
        for ic in 0..<cg { for p in 0..<kh { for q in 0..<kw {
            let ih = i * stride.0 - padding.0 + p * dilation.0, iw = j * stride.1 - padding.1 + q * dilation.1
            guard ih >= 0, ih < h, iw >= 0, iw < wd else { continue }
            acc += xs[((b0 * c + g * cg + ic) * h + ih) * wd + iw] * ws[((oc * cg + ic) * kh + p) * kw + q]
        } } }
        out[((b0 * o + oc) * ho + i) * wo + j] = acc
    } } } }
    _ = c
    return ([n, o, ho, wo], out)
}

/// Pooling by plain loops (padding is −∞ for max; counted or not for average).
func naivePool(_ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), max: Bool,
               countIncludePad: Bool = true) -> (shape: [Int], values: [Double]) {
    let xs = x.scalars(as: Double.self)
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let ho = (h + 2 * padding.0 - kernel.0) / stride.0 + 1, wo = (w + 2 * padding.1 - kernel.1) / stride.1 + 1
    var out: [Double] = []
    for p in 0..<(n * c) { for i in 0..<ho { for j in 0..<wo {
        var best = -Double.infinity, sum = 0.0, inside = 0
        for a in 0..<kernel.0 { for b in 0..<kernel.1 {
            let ih = i * stride.0 - padding.0 + a, iw = j * stride.1 - padding.1 + b
            guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
            let v = xs[(p * h + ih) * w + iw]
            best = Swift.max(best, v); sum += v; inside += 1
        } }
        out.append(max ? best : sum / Double(countIncludePad ? kernel.0 * kernel.1 : inside))
    } } }
    return ([n, c, ho, wo], out)
}

@Suite struct ConvolutionTests {
    @Test(arguments: [
        // (N, C, H, W, O, kh, kw, stride, padding, dilation, groups)
        [2, 3, 7, 5, 4, 3, 2, 1, 0, 1, 1],
        [1, 2, 9, 8, 3, 3, 3, 2, 1, 1, 1],
        [3, 4, 6, 7, 6, 2, 3, 1, 2, 2, 2],
        [2, 1, 5, 5, 2, 5, 5, 1, 0, 1, 1],
        [1, 6, 8, 5, 3, 1, 1, 3, 0, 1, 3],
    ])
    func matchesDirectConvolution(_ p: [Int]) throws {
        let x = randn([p[0], p[1], p[2], p[3]], seed: 1)
        let w = randn([p[4], p[1] / p[10], p[5], p[6]], seed: 2)
        let b = randn([p[4]], seed: 3)
        let s = (p[7], p[7] + (p[7] > 1 ? -1 : 0)), pad = (p[8], Swift.max(0, p[8] - 1)), d = (p[9], 1)
        let y = try Tensor.conv2d(x, weight: w, bias: b, stride: s, padding: pad, dilation: d, groups: p[10])
        let ref = naiveConv2d(x, w, b, stride: s, padding: pad, dilation: d, groups: p[10])
        #expect(y.shape == ref.shape)
        expectClose(y.scalars(as: Double.self), ref.values, tol: 1e-12, "conv2d \(p)")
        // float32 agrees too.
        let y32 = try Tensor.conv2d(x.to(.float32), weight: w.to(.float32), bias: b.to(.float32), stride: s,
                                    padding: pad, dilation: d, groups: p[10])
        expectClose(y32.scalars(as: Double.self), ref.values, tol: 1e-4, "conv2d f32 \(p)")
    }

    @Test func gradientsFirstAndSecondOrder() throws {
        let x = randn([2, 2, 5, 4], seed: 4), w = randn([3, 2, 3, 2], seed: 5), b = randn([3], seed: 6)
        try gradcheck({ t in try Tensor.conv2d(t[0], weight: t[1], bias: t[2], stride: (2, 1), padding: (1, 1)) },
                      inputs: [x, w, b])
        try gradcheck({ t in try Tensor.conv2d(t[0], weight: t[1], padding: (1, 0), dilation: (1, 2), groups: 2) },
                      inputs: [randn([1, 4, 4, 5], seed: 7), randn([2, 2, 2, 2], seed: 8)])
        // Second order: the im2col/col2im pair differentiates itself.
        try gradgradcheck({ t in try Tensor.conv2d(t[0], weight: t[1], padding: (1, 1)).square() }, inputs: [x, w])
    }

    @Test func layerParametersInitAndErrors() throws {
        let conv = try Conv2d(3, 8, kernelSize: 3, padding: 1, dtype: .float64, seed: 1)
        #expect(conv.namedParameters().map(\.0) == ["weight", "bias"])
        #expect(conv.weight.shape == [8, 3, 3, 3])
        let bound = 1 / Double(27).squareRoot()   // kaiming_uniform(a=√5) bound = 1/√fan_in
        #expect(conv.weight.scalars(as: Double.self).allSatisfy { abs($0) <= bound })
        #expect(try conv(randn([2, 3, 6, 6], seed: 1)).shape == [2, 8, 6, 6])
        #expect(try conv(randn([3, 5, 5], seed: 1)).shape == [8, 5, 5])
        try checkModuleGradients(try Conv2d(2, 2, kernelSize: 2, stride: 1, dtype: .float64, seed: 2),
                                 input: randn([1, 2, 3, 3], seed: 3))
        #expect(throws: GradusError.self) { try conv(randn([2, 4, 6, 6], seed: 1)) }
        #expect(throws: GradusError.self) { try conv(randn([2, 3, 6], seed: 1)) }
        #expect(throws: GradusError.self) { try Conv2d(3, 4, kernelSize: 3, groups: 2) }
        #expect(throws: GradusError.self) { try Conv2d(3, 4, kernelSize: 0) }
        #expect(throws: GradusError.self) { try Conv2d(1, 1, kernelSize: 5)(randn([1, 1, 3, 3], seed: 1)) }
    }

    @Test func im2colAndCol2imAreAdjoint() throws {
        // <im2col(x), c> == <x, col2im(c)> for any x, c.
        let g = try WindowGeometry(channels: 2, height: 5, width: 6, kernel: (3, 2), stride: (2, 1), padding: (1, 1), dilation: (1, 2))
        let x = randn([2, 2, 5, 6], seed: 9)
        let c = randn([g.columnRows, 2 * g.positions], seed: 10)
        let lhs = try (x.im2col(g) * c).sum().item(), rhs = try (x * c.col2im(g, batch: 2)).sum().item()
        #expect(abs(lhs - rhs) <= 1e-10 * max(1, abs(lhs)))
    }
}

@Suite struct PoolingTests {
    @Test(arguments: [
        // (N, C, H, W, kh, kw, sh, sw, ph, pw)
        [2, 3, 7, 6, 2, 2, 2, 2, 0, 0],
        [1, 2, 5, 7, 3, 3, 2, 1, 1, 1],
        [2, 1, 6, 5, 3, 2, 1, 2, 1, 0],
        [1, 1, 4, 4, 4, 4, 4, 4, 2, 2],
    ])
    func matchNaiveLoops(_ p: [Int]) throws {
        let x = randn([p[0], p[1], p[2], p[3]], seed: 11)
        let k = (p[4], p[5]), s = (p[6], p[7]), pad = (p[8], p[9])
        let mx = try x.maxPool2d(kernel: k, stride: s, padding: pad)
        let mref = naivePool(x, kernel: k, stride: s, padding: pad, max: true)
        #expect(mx.shape == mref.shape)
        expectClose(mx.scalars(as: Double.self), mref.values, tol: 0, "max \(p)")
        for include in [true, false] {
            let av = try x.avgPool2d(kernel: k, stride: s, padding: pad, countIncludePad: include)
            let aref = naivePool(x, kernel: k, stride: s, padding: pad, max: false, countIncludePad: include)
            #expect(av.shape == aref.shape)
            expectClose(av.scalars(as: Double.self), aref.values, tol: 1e-14, "avg \(p) include \(include)")
        }
    }

    @Test func gradients() throws {
        let x = randn([2, 2, 5, 5], seed: 12)
        try gradcheck({ t in try t[0].maxPool2d(kernel: (2, 3), stride: (1, 2), padding: (1, 1)) }, inputs: [x])
        try gradcheck({ t in try t[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), countIncludePad: false) }, inputs: [x])
        try gradgradcheck({ t in try t[0].avgPool2d(kernel: (2, 2)).square() }, inputs: [x])
        // Max pooling routes the gradient to the window's maximum only.
        let y = Tensor(shape: [1, 1, 2, 2], scalars: [1.0, 5, 3, 2]).requiringGrad()
        try y.maxPool2d(kernel: (2, 2)).sum().backward()
        #expect(y.grad?.scalars(as: Double.self) == [0, 1, 0, 0])
    }

    @Test func layers() throws {
        let x = randn([2, 3, 8, 8], seed: 13)
        #expect(try MaxPool2d(2)(x).shape == [2, 3, 4, 4])
        #expect(try AvgPool2d(3, stride: 1, padding: 1)(x).shape == [2, 3, 8, 8])
        #expect(try MaxPool2d(2)(randn([3, 8, 8], seed: 1)).shape == [3, 4, 4])
        #expect(throws: GradusError.self) { try MaxPool2d(2, padding: 2) }
        #expect(throws: GradusError.self) { try AvgPool2d(0) }
        #expect(throws: GradusError.self) { try MaxPool2d(2)(randn([8, 8], seed: 1)) }
        #expect(throws: GradusError.self) { try MaxPool2d(9)(x) }
    }
}
