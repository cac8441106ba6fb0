// The autodiff engine: accumulation across backward calls, no-grad, detach, custom ops, higher-order
// gradients (HVP vs an analytic Hessian, gradient of a gradient norm), checkpointing, seeds and errors.
import Glibc
import GradusRuntime
import GradusTensor
import Testing
import _GradusTestSupport

@Suite struct AutodiffTests {
    @Test func gradientsAccumulateAcrossBackwardCalls() throws {
        let w = tensor([2], [1, -2]).requiringGrad()
        try (w * 3).sum().backward()
        #expect(w.grad!.values == [3, 3])
        try w.square().sum().backward()
        #expect(w.grad!.values == [5, -1])
        // The same graph backpropagated twice accumulates twice.
        let y = try (w * w).sum()
        w.grad = nil
        try y.backward()
        try y.backward()
        #expect(w.grad!.values == [4, -8])
        // gradients(of:wrt:) leaves .grad alone.
        let g = try Tensor.gradients(of: [y], wrt: [w])
        #expect(g[0].values == [2, -4])
        #expect(w.grad!.values == [4, -8])
    }

    @Test func leafGradientsDoNotAliasEachOtherOrTheSeed() throws {
        let a = tensor([3], [1, 2, 3]).requiringGrad(), b = tensor([3], [4, 5, 6]).requiringGrad()
        let seed = tensor([3], [1, 1, 1])
        try (a + b).backward(gradient: seed)
        #expect(a.grad!.values == [1, 1, 1] && b.grad!.values == [1, 1, 1])
        // Optimizers update gradients in place: a.grad, b.grad and the seed must be separate buffers.
        #expect(a.grad!.storage !== b.grad!.storage)
        #expect(a.grad!.storage !== seed.storage)
        a.grad!.basePointer(as: Double.self)[0] = 100
        #expect(b.grad!.values == [1, 1, 1] && seed.values == [1, 1, 1])
    }

    @Test func stolenFirstGradientsNeverAlias() throws {
        // A retained non-leaf gradient and the leaf gradient that backward derives from it by a view
        // (transpose) must not share memory, and a gradient handed to two leaves must be split.
        let w = tensor([2, 3], [1, 2, 3, 4, 5, 6]).requiringGrad()
        let t = try w.transposed(0, 1)
        t.retainGrad()
        let c = tensor([3, 2], [1, 2, 3, 4, 5, 6])
        try (t * c).sum().backward()
        #expect(w.grad!.storage !== t.grad!.storage)
        #expect(w.grad!.values == [1, 3, 5, 2, 4, 6])
        t.grad!.basePointer(as: Double.self)[0] = 100
        #expect(w.grad!.values == [1, 3, 5, 2, 4, 6])
        // Fresh gradients of a linear map become .grad as they are; values still right on a second pass.
        let a = tensor([2, 2], [1, 2, 3, 4]).requiringGrad(), b = tensor([2, 2], [1, 0, 0, 1]).requiringGrad()
        try a.matmul(b).sum().backward()
        try a.matmul(b).sum().backward()
        #expect(a.grad!.values == [2, 2, 2, 2] && b.grad!.values == [8, 8, 12, 12])
        #expect(a.grad!.storage !== b.grad!.storage)
    }

    @Test func recordedGraphsAreFreedWithTheirOutputs() throws {
        // A backward closure that captured its own recorded output formed a retain cycle, so every graph
        // through it (each cross-entropy loss) lived forever. Every op here must release its graph.
        let ops: [(String, (Tensor) throws -> Tensor)] = [
            ("logSumExp keepDims", { try $0.logSumExp(axes: [1], keepDims: true) }),
            ("logSumExp", { try $0.logSumExp(axes: [0, 1]) }),
            ("logSoftmax", { try $0.logSoftmax(axis: 1) }),
            ("softmax", { try $0.softmax(axis: 0) }),
            ("sum keepDims", { try $0.sum(axes: [1], keepDims: true) }),
            ("max keepDims", { try $0.max(axis: 1, keepDims: true).values }),
            ("exp·tanh", { try $0.exp() * $0.tanh() }),
            ("matmul", { try $0.matmul($0.transposed()) }),
        ]
        for (name, op) in ops {
            weak var weakOut: Tensor?
            weak var weakLeaf: Tensor?
            do {
                let x = Tensor.normal([3, 5], seed: 1, dtype: .float64).requiringGrad()
                let y = try op(x)
                try y.sum().backward()
                weakOut = y
                weakLeaf = x
            }
            #expect(weakOut == nil, "\(name): the output (and its graph) outlived every reference")
            #expect(weakLeaf == nil, "\(name): the input outlived every reference")
        }
    }

    @Test func noGradScopesAndDetach() throws {
        let x = tensor([2], [1, 2]).requiringGrad()
        let y = GradMode.withoutGrad { x * 2 }
        #expect(!y.requiresGrad && y.isLeaf)
        #expect(GradMode.isEnabled)
        GradMode.withoutGrad {
            #expect(!GradMode.isEnabled)
            GradMode.withoutGrad { #expect(!GradMode.isEnabled) }
            #expect(!GradMode.isEnabled)
            let z = GradMode.withGrad { x * 2 }
            #expect(z.requiresGrad)
        }
        GradMode.pushDisabled()
        #expect(!(x * 2).requiresGrad)
        GradMode.popDisabled()
        #expect((x * 2).requiresGrad)

        let d = x.detached()
        #expect(!d.requiresGrad && d.storage === x.storage)
        let out = try (x * d).sum()                  // d is a constant: d/dx (x·d) = d
        try out.backward()
        #expect(x.grad!.values == [1, 2])
    }

    @Test func backwardOnADetachedOrConstantResultDoesNothing() throws {
        let x = tensor([2], [1, 2]).requiringGrad()
        let c = try (x.detached() * 2).sum()
        #expect(!c.requiresGrad)
        try c.backward()
        #expect(x.grad == nil)
        let g = try Tensor.gradients(of: [c], wrt: [x])
        #expect(g[0].values == [0, 0])
    }

    @Test func straightThroughEstimator() throws {
        // Round forward, identity backward.
        func roundSTE(_ x: Tensor) throws -> Tensor {
            let rounded = tensor(x.shape, x.values.map { $0.rounded() }, dtype: x.dtype)
            return Tensor.custom(name: "round_ste", inputs: [x], output: rounded) { g in [g] }
        }
        let x = tensor([4], [0.2, 1.7, -0.6, 2.5]).requiringGrad()
        let y = try roundSTE(x)
        #expect(y.values == [0, 2, -1, 3])
        #expect(y.requiresGrad && y.gradNode?.name == "round_ste")
        try (y * tensor([4], [1, 2, 3, 4])).sum().backward()
        #expect(x.grad!.values == [1, 2, 3, 4])
        // Differentiable backward: the custom op composes with second-order gradients.
        let z = tensor([2], [0.4, 1.2]).requiringGrad()
        let s = try (roundSTE(z.square()) * z).sum()   // d/dz = 2z·z + round(z²) (STE)
        let gz = try Tensor.gradients(of: [s], wrt: [z], createGraph: true)[0]
        expectClose(gz.values, [2 * 0.16 + 0, 2 * 1.44 + 1], atol: 1e-12, rtol: 1e-12)
        // d/dz (2z² + round(z²)) = 4z + 2z (the STE passes d(z²)/dz = 2z through round).
        let h = try Tensor.gradients(of: [gz.sum()], wrt: [z])[0]
        expectClose(h.values, [6 * 0.4, 6 * 1.2], atol: 1e-12, rtol: 1e-12)
        // Not recorded without an input that requires grad, or under no-grad.
        #expect(!(try roundSTE(tensor([1], [0.3]))).requiresGrad)
        #expect(!(try GradMode.withoutGrad { try roundSTE(x) }).requiresGrad)
    }

    @Test func hessianVectorProductMatchesAnalyticHessian() throws {
        // f(x) = Σ_i x_i³ + x_0·x_1·x_2 + sin(x_1).
        let xv = [0.5, -1.2, 2.0]
        let x = tensor([3], xv).requiringGrad()
        let f = try x.pow(3).sum() + x.slice(axis: 0, start: 0, end: 1) * x.slice(axis: 0, start: 1, end: 2) * x.slice(axis: 0, start: 2, end: 3)
            + x.slice(axis: 0, start: 1, end: 2).sin()
        let g = try Tensor.gradients(of: [f.sum()], wrt: [x], createGraph: true)[0]
        let (a, b, c) = (xv[0], xv[1], xv[2])
        expectClose(g.values, [3 * a * a + b * c, 3 * b * b + a * c + Glibc.cos(b), 3 * c * c + a * b], atol: 1e-12, rtol: 1e-12)
        let hessian = [[6 * a, c, b], [c, 6 * b - Glibc.sin(b), a], [b, a, 6 * c]]
        let v = [0.3, -0.7, 1.1]
        let hv = try Tensor.gradients(of: [(g * tensor([3], v)).sum()], wrt: [x])[0]
        let expected = hessian.map { row in zip(row, v).map(*).reduce(0, +) }
        expectClose(hv.values, expected, atol: 1e-12, rtol: 1e-12, "H·v")
        // Full Hessian row by row.
        for i in 0..<3 {
            var e = [0.0, 0, 0]; e[i] = 1
            let row = try Tensor.gradients(of: [(g * tensor([3], e)).sum()], wrt: [x])[0]
            expectClose(row.values, hessian[i], atol: 1e-12, rtol: 1e-12, "H row \(i)")
        }
    }

    @Test func gradientOfAGradientNorm() throws {
        // Penalty P(w) = ||∇_w L||² with L = Σ tanh(X·w)²; check ∇P against finite differences, and through
        // backward(createGraph:) + .grad as well as gradients(of:wrt:).
        let xData = randn([5, 3], seed: 1)
        func penalty(_ w: Tensor) throws -> Tensor {
            let loss = try xData.matmul(w).tanh().square().sum()
            let g = try Tensor.gradients(of: [loss], wrt: [w], createGraph: true)[0]
            return try g.square().sum()
        }
        try gradcheck({ try penalty($0[0]) }, inputs: [randn([3], seed: 2)])
        let w = randn([3], seed: 2).requiringGrad()
        let loss = try xData.matmul(w).tanh().square().sum()
        try loss.backward(createGraph: true)
        let viaGrad = try w.grad!.square().sum()
        #expect(viaGrad.requiresGrad)
        let first = try Tensor.gradients(of: [viaGrad], wrt: [w])[0]
        let second = try Tensor.gradients(of: [penalty(w)], wrt: [w])[0]
        #expect(maxAbsDifference(first, second) < 1e-12)
        // Also for a network-shaped function: linear on (B, T, C) input, gradient penalty w.r.t. the input.
        let inputs = [randn([2, 3, 4], seed: 3), randn([2, 4], seed: 4), randn([2], seed: 5)]
        try gradcheck({ xs in
            let y = try Tensor.linear(xs[0], weight: xs[1], bias: xs[2]).tanh().sum()
            let gx = try Tensor.gradients(of: [y], wrt: [xs[0]], createGraph: true)[0]
            return try gx.square().sum()
        }, inputs: inputs)
    }

    @Test func checkpointGivesTheSameGradientsAsPlainRecording() throws {
        let w1 = randn([4, 3], seed: 1), b1 = randn([4], seed: 2), w2 = randn([2, 4], seed: 3)
        let xData = randn([5, 3], seed: 4)
        func block(_ x: Tensor, _ w: Tensor, _ b: Tensor) throws(GradusError) -> Tensor {
            try Tensor.linear(x, weight: w, bias: b).tanh().square()
        }
        func run(checkpointed: Bool, inputRequiresGrad: Bool) throws -> [Tensor] {
            let x = GradMode.withoutGrad { xData.clone() }.requiringGrad(inputRequiresGrad)
            let p1 = GradMode.withoutGrad { w1.clone() }.requiringGrad(), pb = GradMode.withoutGrad { b1.clone() }.requiringGrad()
            let p2 = GradMode.withoutGrad { w2.clone() }.requiringGrad()
            let h = checkpointed ? try checkpoint([x]) { xs throws(GradusError) in try block(xs[0], p1, pb) } : try block(x, p1, pb)
            let loss = try Tensor.linear(h, weight: p2, bias: nil).sum()
            try loss.backward()
            return [p1.grad, pb.grad, p2.grad, x.grad].compactMap { $0 }
        }
        for inputRequiresGrad in [true, false] {
            let plain = try run(checkpointed: false, inputRequiresGrad: inputRequiresGrad)
            let ckpt = try run(checkpointed: true, inputRequiresGrad: inputRequiresGrad)
            #expect(plain.count == (inputRequiresGrad ? 4 : 3))
            #expect(ckpt.count == plain.count, "captured parameters get gradients (input requires grad: \(inputRequiresGrad))")
            for (p, c) in zip(plain, ckpt) { #expect(maxAbsDifference(p, c) < 1e-12) }
        }
        // Value is the same, and no intermediate is recorded inside the segment.
        let x = xData.requiringGrad()
        let out = try checkpoint([x]) { xs throws(GradusError) in try xs[0].exp().sum(axis: 1) }
        #expect(out.gradNode?.name == "checkpoint")
        #expect(out.gradNode?.inputs.contains { $0 === x } == true)
        #expect(maxAbsDifference(out, try x.exp().sum(axis: 1)) < 1e-15)
    }

    @Test func seedGradientErrors() throws {
        let x = tensor([2], [1, 2]).requiringGrad()
        let y = x * 2
        #expect(throws: GradusError.self) { try y.backward() }                                   // not one element
        #expect(throws: GradusError.self) { try y.backward(gradient: tensor([3], [1, 1, 1])) }    // wrong shape
        #expect(throws: GradusError.self) { try y.backward(gradient: Tensor.ones([2], dtype: .float32)) }  // dtype
        try y.backward(gradient: tensor([2], [1, 0.5]))
        #expect(x.grad!.values == [2, 1])
    }

    @Test func retainGradKeepsIntermediateGradients() throws {
        let x = tensor([2], [1, 3]).requiringGrad()
        let h = x.square()
        h.retainGrad()
        try (h * 2).sum().backward()
        #expect(h.grad!.values == [2, 2])
        #expect(x.grad!.values == [4, 12])
    }

    @Test func gradientsWithRespectToIntermediatesAndUnusedInputs() throws {
        let x = tensor([2], [1, 2]).requiringGrad(), unused = tensor([3], [0, 0, 0]).requiringGrad()
        let h = x.exp()
        let y = try (h * h).sum()
        let g = try Tensor.gradients(of: [y], wrt: [h, x, unused])
        expectClose(g[0].values, h.values.map { 2 * $0 }, atol: 1e-12, rtol: 1e-12)
        expectClose(g[1].values, [1.0, 2].map { 2 * Glibc.exp(2 * $0) }, atol: 1e-12, rtol: 1e-12)
        #expect(g[2].values == [0, 0, 0])
        // Several outputs with seeds.
        let two = try Tensor.gradients(of: [x * 2, x.square()], wrt: [x], gradOutputs: [tensor([2], [1, 1]), tensor([2], [1, 0])])
        #expect(two[0].values == [4, 2])
    }

    @Test func float32GradientsAgreeWithFloat64() throws {
        let x64 = randn([3, 4], seed: 1), w64 = randn([4, 2], seed: 2)
        func loss(_ x: Tensor, _ w: Tensor) throws -> Tensor { try x.matmul(w).tanh().logSoftmax().sum() }
        let g64 = try Tensor.gradients(of: [loss(x64.requiringGrad(), w64.requiringGrad())], wrt: [x64, w64])
        let x32 = x64.to(.float32).requiringGrad(), w32 = w64.to(.float32).requiringGrad()
        let g32 = try Tensor.gradients(of: [loss(x32, w32)], wrt: [x32, w32])
        for (a, b) in zip(g64, g32) {
            #expect(b.dtype == .float32)
            #expect(maxAbsDifference(a, b.to(.float64)) < 1e-5)
        }
    }
}
