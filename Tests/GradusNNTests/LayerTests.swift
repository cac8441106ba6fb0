import GradusNN
import GradusRuntime
import GradusTensor
import _GradusTestSupport
import Testing

@Suite struct EmbeddingTests {
    @Test func lookupShapesAndGradient() throws {
        let e = try Embedding(5, 3, dtype: .float64, seed: 1)
        #expect(e.namedParameters().map(\.0) == ["weight"])
        let y = try e.embed(indices: [4, 0, 4, 2], shape: [2, 2])
        #expect(y.shape == [2, 2, 3])
        let w = e.weight.scalars(as: Double.self)
        #expect(Array(y.scalars(as: Double.self)[0..<3]) == Array(w[12..<15]))
        // Forward on a float tensor of indices gives the same rows.
        let viaForward = try e(Tensor(shape: [2, 2], scalars: [4.0, 0, 4, 2]))
        #expect(viaForward.scalars(as: Double.self) == y.scalars(as: Double.self))
        // Repeated rows accumulate gradient.
        try y.sum().backward()
        #expect(e.weight.grad?.scalars(as: Double.self) == [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2])
        try checkModuleGradients(e, input: Tensor(shape: [3], scalars: [1.0, 3, 1]), checkInput: false)
    }

    @Test func errors() throws {
        let e = try Embedding(4, 2)
        #expect(throws: GradusError.self) { try e.embed(indices: [4], shape: [1]) }
        #expect(throws: GradusError.self) { try e.embed(indices: [-1], shape: [1]) }
        #expect(throws: GradusError.self) { try e.embed(indices: [1, 2], shape: [3]) }
        #expect(throws: GradusError.self) { try e(Tensor(shape: [1], scalars: [Float(1.5)])) }
        #expect(throws: GradusError.self) { try Embedding(0, 2) }
    }
}

@Suite struct LayerNormTests {
    @Test func normalizesAndMatchesFormula() throws {
        let ln = try LayerNorm([2, 3], eps: 1e-5, dtype: .float64)
        #expect(ln.namedParameters().map(\.0) == ["weight", "bias"])
        let x = randn([4, 2, 3], seed: 21)
        let y = try ln(x).scalars(as: Double.self)
        let xs = x.scalars(as: Double.self)
        for r in 0..<4 {
            let row = Array(xs[(r * 6)..<(r * 6 + 6)])
            let mu = row.reduce(0, +) / 6
            let v = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 6
            expectClose(Array(y[(r * 6)..<(r * 6 + 6)]), row.map { ($0 - mu) / (v + 1e-5).squareRoot() }, tol: 1e-12)
        }
    }

    @Test func gradients() throws {
        let ln = try LayerNorm(4, dtype: .float64)
        GradMode.withoutGrad {
            Kernels.copy(from: randn([4], seed: 22), to: ln.weight!)
            Kernels.copy(from: randn([4], seed: 23), to: ln.bias!)
        }
        try checkModuleGradients(ln, input: randn([3, 4], seed: 24))
        try gradgradcheck({ t in try t[0].layerNormalized(normalizedRank: 1, weight: t[1]).square() },
                          inputs: [randn([2, 5], seed: 25), randn([5], seed: 26)])
        #expect(try LayerNorm(3, elementwiseAffine: false).namedParameters().isEmpty)
        #expect(throws: GradusError.self) { try ln(randn([3, 5], seed: 1)) }
        #expect(throws: GradusError.self) { try LayerNorm([]) }
    }

    @Test func fusedAndRecordedBackwardsAgree() throws {
        let ln = try LayerNorm([3, 4], dtype: .float64)
        GradMode.withoutGrad {
            Kernels.copy(from: randn([3, 4], seed: 60), to: ln.weight!)
            Kernels.copy(from: randn([3, 4], seed: 61), to: ln.bias!)
        }
        // A permuted (non-contiguous) input (5, 3, 4) and a non-contiguous output gradient.
        let x = randn([4, 3, 5], seed: 62).requiringGrad(), dy = try randn([4, 3, 5], seed: 63).permuted([2, 1, 0])
        let input = try x.permuted([2, 1, 0])
        let wrt = [x, ln.weight!, ln.bias!]
        let fused = try Tensor.gradients(of: [try ln(input)], wrt: wrt, gradOutputs: [dy])
        let recorded = try Tensor.gradients(of: [try ln(input)], wrt: wrt, gradOutputs: [dy], createGraph: true)
        #expect(!fused[0].requiresGrad && recorded[0].requiresGrad)
        for (a, b) in zip(fused, recorded) { #expect(maxAbsDifference(a, b) < 1e-13) }
        // Without the affine map (only ∂x) and with only a weight.
        let plain = try gradcheck({ t in try t[0].layerNormalized(normalizedRank: 2) }, inputs: [randn([3, 2, 4], seed: 64)])
        #expect(plain.comparisons == 24)
        try gradgradcheck({ t in try t[0].layerNormalized(normalizedRank: 1, bias: t[1]).square() },
                          inputs: [randn([2, 3], seed: 65), randn([3], seed: 66)])
    }

    /// Float32 layer norm where the composite float32 ops cancelled: rows far from zero relative to their spread,
    /// and ∂x of two-value rows (they normalise to ±1 whatever they are, so ∂x is a near-total cancellation). The
    /// kernel computes in Double and rounds once, so it matches the float64 layer rounded to float32.
    @Test func float32MatchesFloat64ToRounding() throws {
        for (width, shift) in [(2, 0.0), (7, 1000.0), (64, -50.0)] {
            let x64 = try (randn([5, width], seed: 67) + shift).to(.float32).to(.float64)
            let dy64 = randn([5, width], seed: 68).to(.float32).to(.float64), w64 = randn([width], seed: 69).to(.float32).to(.float64)
            var results: [[[Double]]] = []
            for dtype in [DType.float64, .float32] {
                let x = x64.to(dtype).requiringGrad(), w = w64.to(dtype).requiringGrad()
                let y = try x.layerNormalized(normalizedRank: 1, weight: w, eps: 1e-5)
                let g = try Tensor.gradients(of: [y], wrt: [x, w], gradOutputs: [dy64.to(dtype)])
                results.append([y, g[0], g[1]].map { $0.scalars(as: Double.self) })
            }
            for (name, (got, want)) in zip(["y", "dx", "dweight"], zip(results[1], results[0])) {
                for (a, b) in zip(got, want) {
                    let r = Double(Float(b))
                    #expect(abs(a - r) <= 1e-7 * abs(r) + 1e-30, "width \(width) shift \(shift) \(name): \(a) vs \(r)")
                }
            }
        }
    }
}

@Suite struct BatchNormTests {
    @Test func trainingUpdatesRunningStatsLikePyTorch() throws {
        let bn = try BatchNorm1d(3, momentum: 0.1, dtype: .float64)
        #expect(bn.namedParameters().map(\.0) == ["weight", "bias"])
        #expect(bn.namedBuffers().map(\.0) == ["running_mean", "running_var", "num_batches_tracked"])
        let x = randn([6, 3], seed: 31)
        let y = try bn(x)
        let xs = x.scalars(as: Double.self), ys = y.scalars(as: Double.self)
        let rm = bn.runningMean!.scalars(as: Double.self), rv = bn.runningVar!.scalars(as: Double.self)
        for c in 0..<3 {
            let col = (0..<6).map { xs[$0 * 3 + c] }
            let mu = col.reduce(0, +) / 6
            let v = col.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 6
            expectClose((0..<6).map { ys[$0 * 3 + c] }, col.map { ($0 - mu) / (v + 1e-5).squareRoot() }, tol: 1e-12)
            expectClose([rm[c], rv[c]], [0.1 * mu, 0.9 + 0.1 * v * 6 / 5], tol: 1e-14, "running stats")
        }
        #expect(try bn.namedBuffers()[2].1.item() == 1)
    }

    @Test func evalUsesRunningStatistics() throws {
        let bn = try BatchNorm2d(2, dtype: .float64)
        try bn.setBuffer("running_mean", Tensor(shape: [2], scalars: [1.0, -2]))
        try bn.setBuffer("running_var", Tensor(shape: [2], scalars: [4.0, 0.25]))
        bn.eval()
        let x = randn([3, 2, 2, 2], seed: 32)
        let y = try bn(x).scalars(as: Double.self), xs = x.scalars(as: Double.self)
        let expected = xs.enumerated().map { i, v in
            let c = (i / 4) % 2
            return c == 0 ? (v - 1) / (4 + 1e-5).squareRoot() : (v + 2) / (0.25 + 1e-5).squareRoot()
        }
        expectClose(y, expected, tol: 1e-12)
        // Eval does not touch the running statistics; a single sample is fine in eval.
        #expect(bn.runningMean!.scalars(as: Double.self) == [1, -2])
        #expect(try bn(randn([1, 2, 1, 1], seed: 1)).shape == [1, 2, 1, 1])
        bn.train()
        #expect(throws: GradusError.self) { try bn(randn([1, 2, 1, 1], seed: 1)) }
        #expect(throws: GradusError.self) { try bn(randn([3, 2, 4], seed: 1)) }
        #expect(throws: GradusError.self) { try bn(randn([3, 3, 2, 2], seed: 1)) }
    }

    @Test func gradients() throws {
        let bn = try BatchNorm2d(2, dtype: .float64)
        GradMode.withoutGrad { Kernels.copy(from: randn([2], seed: 33), to: bn.weight!) }
        try checkModuleGradients(bn, input: randn([3, 2, 2, 3], seed: 34))
        let bn1 = try BatchNorm1d(3, affine: false, dtype: .float64)
        try checkModuleGradients(bn1, input: randn([4, 3, 2], seed: 35))
        try gradgradcheck({ t in try bn1(t[0]).square() }, inputs: [randn([4, 3], seed: 36)])
        bn.eval()
        try checkModuleGradients(bn, input: randn([3, 2, 2, 3], seed: 37))
    }

    /// The fused first-order backward and the recorded one (taken when the gradient is itself recorded) agree, and
    /// the recorded one differentiates again, through several chunks and the affine weight.
    @Test func fusedAndRecordedBackwardsAgree() throws {
        let gb = try GhostBatchNorm(3, ghostBatchSize: 2, dtype: .float64)
        GradMode.withoutGrad {
            Kernels.copy(from: randn([3], seed: 50), to: gb.weight!)
            Kernels.copy(from: randn([3], seed: 51), to: gb.bias!)
        }
        let x = randn([5, 3, 2], seed: 52).requiringGrad(), dy = randn([5, 3, 2], seed: 53)
        let wrt = [x, gb.weight!, gb.bias!]
        let fused = try Tensor.gradients(of: [try gb(x)], wrt: wrt, gradOutputs: [dy])
        let recorded = try Tensor.gradients(of: [try gb(x)], wrt: wrt, gradOutputs: [dy], createGraph: true)
        #expect(!fused[0].requiresGrad && recorded[0].requiresGrad)
        for (a, b) in zip(fused, recorded) { #expect(maxAbsDifference(a, b) < 1e-13) }
        let report = try gradgradcheck({ t in try gb(t[0]).square() }, inputs: [randn([5, 3, 2], seed: 54)])
        #expect(report.comparisons == 30)
    }

    /// Float32 batch norm of chunks with two values per channel: ∂x is a near-total cancellation, which the fused
    /// kernel computes in Double and rounds once, so it matches the float64 layer to float32 rounding.
    @Test func float32TinyChunksMatchFloat64() throws {
        // Float32-representable inputs, so the two layers see the same numbers.
        let x64 = randn([6, 4], seed: 55).to(.float32).to(.float64), dy64 = randn([6, 4], seed: 56).to(.float32).to(.float64)
        var results: [[Double]] = []
        for dtype in [DType.float64, .float32] {
            let gb = try GhostBatchNorm(4, ghostBatchSize: 2, eps: 1e-5, dtype: dtype)
            let x = x64.to(dtype).requiringGrad()
            let g = try Tensor.gradients(of: [try gb(x)], wrt: [x], gradOutputs: [dy64.to(dtype)])[0]
            results.append(g.scalars(as: Double.self))
        }
        let reference = results[0].map { Double(Float($0)) }
        for (a, b) in zip(results[1], reference) { #expect(abs(a - b) <= 1e-6 * abs(b) + 1e-12, "\(a) vs \(b)") }
    }

    @Test func ghostBatchChunks() throws {
        #expect(GhostBatchNorm.chunkSizes(batch: 10, ghostBatchSize: 4) == [5, 5])
        #expect(GhostBatchNorm.chunkSizes(batch: 13, ghostBatchSize: 4) == [5, 5, 3])
        #expect(GhostBatchNorm.chunkSizes(batch: 12, ghostBatchSize: 4) == [4, 4, 4])
        #expect(GhostBatchNorm.chunkSizes(batch: 3, ghostBatchSize: 128) == [3])
        // A ghost batch as large as the batch is plain batch norm.
        let g = try GhostBatchNorm(3, ghostBatchSize: 64, dtype: .float64), b = try BatchNorm1d(3, dtype: .float64)
        let x = randn([8, 3], seed: 38)
        #expect(maxAbsDifference(try g(x), try b(x)) < 1e-14)
        let gb = try GhostBatchNorm(2, ghostBatchSize: 3, dtype: .float64)
        try checkModuleGradients(gb, input: randn([7, 2, 2], seed: 39))
        #expect(throws: GradusError.self) { try GhostBatchNorm(2, ghostBatchSize: 0) }
        // N = 7, ghost 3: chunks [4, 3]; N = 5, ghost 2 gives [3, 2]; 3 samples of ghost 1 make 1-sample chunks.
        #expect(throws: GradusError.self) { try GhostBatchNorm(2, ghostBatchSize: 1)(randn([3, 2], seed: 1)) }
    }
}

@Suite struct TrainEvalTests {
    @Test func dropoutOnlyInTraining() throws {
        let model = Sequential(try Linear(4, 4, dtype: .float64, seed: 1), try Dropout(0.5, seed: 2))
        let x = randn([64, 4], seed: 41)
        let train = try model(x).scalars(as: Double.self)
        let zeros = train.filter { $0 == 0 }.count
        #expect(zeros > 64 && zeros < 192)
        model.eval()
        let a = try model(x).scalars(as: Double.self), b = try model(x).scalars(as: Double.self)
        #expect(a == b)
        #expect(!a.contains(0))
        #expect(!(model.layers[1].isTraining))
    }

    @Test func parameterNamesAreDotted() throws {
        let m = SequentialModel([try Conv2d(1, 2, kernelSize: 3), try BatchNorm2d(2), ReLU(), try MaxPool2d(2),
                                 Flatten(), try Linear(8, 3)])
        #expect(m.namedParameters().map(\.0) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                                                 "layers.5.weight", "layers.5.bias"])
        #expect(m.namedBuffers().map(\.0) == ["layers.1.running_mean", "layers.1.running_var", "layers.1.num_batches_tracked"])
        let s = Sequential(try Linear(2, 2), try LayerNorm(2))
        #expect(s.namedParameters().map(\.0) == ["0.weight", "0.bias", "1.weight", "1.bias"])
        // A small CNN runs forward and backward.
        let x = Tensor.normal([2, 1, 6, 6], seed: 42)
        let loss = try Loss.crossEntropy(m(x), labels: [0, 2])
        try loss.backward()
        #expect(m.parameters.allSatisfy { $0.grad != nil })
        // State dict round trip restores buffers.
        let state = m.stateDict()
        let m2 = SequentialModel([try Conv2d(1, 2, kernelSize: 3), try BatchNorm2d(2), ReLU(), try MaxPool2d(2),
                                  Flatten(), try Linear(8, 3)])
        try m2.load(stateDict: state)
        #expect(m2.namedBuffers()[0].1.scalars(as: Double.self) == m.namedBuffers()[0].1.scalars(as: Double.self))
    }
}

@Suite struct LinearSizeLimitTests {
    /// A weight that cannot fit in memory (or whose element count overflows) is refused with outOfMemory instead
    /// of trapping in the allocator; sizes that fit still build.
    @Test func impossibleWeightsAreRefused() throws {
        for (i, o) in [(2, 99_999_999_999), (1 << 40, 1 << 40), (Int.max, 2)] {
            do {
                _ = try Linear(i, o)
                Issue.record("Linear(\(i), \(o)) was built")
            } catch {
                guard case .outOfMemory(let message) = error else { Issue.record("wrong error \(error)"); continue }
                #expect(message.hasPrefix("Linear(\(i), \(o)): the weight needs"), "\(message)")
            }
        }
        let l = try Linear(3, 5)
        #expect(l.weight.shape == [5, 3])
    }
}
