import GradusNN
import GradusRuntime
import GradusTensor
import _GradusTestSupport
import Testing

/// The NN-side golden cases of optimizers.json (spec §5.1, §7, §8.1, §8.2), through `NNConformance`.
@Suite struct GoldenTests {
    static let names = ["stablemax_forward_backward", "ghost_bn_1d_divisible", "ghost_bn_1d_floor_rule", "ghost_bn_2d",
                        "z_loss", "qk_layernorm_attention"]

    @Test(arguments: names)
    func goldenCasePassesInFloat64(_ name: String) throws {
        let result = try #require(try NNConformance.run(case: goldenCase(name)))
        #expect(result.passed, "\(name): max abs \(result.maxAbsErr), max rel \(result.maxRelErr)")
        #expect(result.maxAbsErr < 1e-9)
    }

    @Test(arguments: names)
    func goldenCasePassesInFloat32(_ name: String) throws {
        let result = try #require(try NNConformance.run(case: goldenCase(name), dtype: .float32))
        #expect(result.passed, "\(name): max abs \(result.maxAbsErr), max rel \(result.maxRelErr)")
    }

    @Test func runnerSkipsOtherKinds() throws {
        let doc = try optimizersGolden()
        var handled = 0
        for c in doc["cases"]?.array ?? [] {
            if try NNConformance.run(case: c) != nil { handled += 1 }
        }
        #expect(handled == Self.names.count)
    }

    @Test func stableMaxInFloat32AgreesAndAvoidsSoftmaxCollapse() throws {
        let c = try goldenCase("stablemax_forward_backward")
        let inp = try #require(c["inputs"]), out = try #require(c["outputs"])
        let logits = try Tensor.make(shape: #require(inp["logits"]?.shape), scalars: #require(inp["logits"]?.flatDoubles),
                                     dtype: .float32).requiringGrad()
        let labels = try #require(inp["labels"]?.array?.compactMap { $0.int })
        // float32 computation (spec: 1e-5 relative for functions).
        let loss = try Loss.stableMaxCrossEntropy(logits, labels: labels)
        #expect(loss.dtype == .float32)
        expectClose(loss.scalars(as: Double.self), [try #require(out["loss_mean"]?.double)], tol: 1e-5)
        try loss.backward()
        expectClose(try #require(logits.grad).scalars(as: Double.self), try #require(out["dloss_dlogits"]?.flatDoubles), tol: 1e-5)
        // The float64 option casts first and returns float64, gradient back in float32.
        logits.grad = nil
        let loss64 = try Loss.stableMaxCrossEntropy(logits, labels: labels, dtype: .float64)
        #expect(loss64.dtype == .float64)
        try loss64.backward()
        #expect(logits.grad?.dtype == .float32)
        // Softmax CE collapses to 0 on the dominated row (row 3) in float32; StableMax does not.
        let row = try logits.detached().slice(axis: 0, start: 3, end: 4)
        #expect(try Loss.crossEntropy(row, labels: [labels[3]]).item() == 0)
        #expect(try Loss.stableMaxCrossEntropy(row, labels: [labels[3]]).item() > 0)
    }

    @Test func stableMaxIsSafeForExtremeLogitsAndSmoothAtZero() throws {
        let x = Tensor(shape: [1, 4], scalars: [1e30, -1e30, 0, -3]).requiringGrad()
        let loss = try Loss.stableMaxCrossEntropy(x, labels: [2])
        try loss.backward()
        #expect(loss.scalars(as: Double.self).allSatisfy { $0.isFinite })
        #expect(x.grad!.scalars(as: Double.self).allSatisfy { $0.isFinite })
        // s'(0) = 1 exactly (both sides), and the composite passes a finite-difference check, also second order.
        let z = Tensor.zeros([1], dtype: .float64).requiringGrad()
        try z.stableMaxScores().sum().backward()
        #expect(z.grad?.scalars(as: Double.self) == [1])
        let logits = randn([3, 5], seed: 71) * 3
        try gradcheck({ t in try Loss.stableMaxCrossEntropy(t[0], labels: [1, 4, 0], reduction: .none) }, inputs: [logits])
        try gradgradcheck({ t in try t[0].logStableMax(axis: -1) }, inputs: [logits])
        #expect(try StableMaxLayer()(logits).sum(axes: [1]).scalars(as: Double.self).allSatisfy { abs($0 - 1) < 1e-14 })
        #expect(throws: GradusError.self) { try Loss.stableMaxCrossEntropy(logits, labels: [1, 5, 0]) }
    }

    @Test func zLossGradientFormula() throws {
        // ∂L_z/∂y_k = 2c·log Z·softmax(y)_k / N.
        let y = randn([3, 4], seed: 72).requiringGrad()
        let c = 1e-2
        let lz = try Loss.zLoss(y, coefficient: c)
        let g = try Tensor.gradients(of: [lz], wrt: [y])[0]
        let expected = try (Loss.logPartition(y).unsqueezed(1) * y.softmax(axis: 1)) * (2 * c / 3)
        #expect(maxAbsDifference(g, expected) < 1e-15)
        try gradcheck({ t in try Loss.crossEntropy(t[0], labels: [0, 3, 1], zLossCoefficient: 0.1) }, inputs: [y.detached()])
        #expect(throws: GradusError.self) { try Loss.zLoss(y, coefficient: -1) }
    }
}
