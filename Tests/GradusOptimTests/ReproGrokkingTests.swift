import Testing
@testable import Gradus

/// The grokking reproduction's pieces: the official model shape and the Softmax-Collapse measurement.
@Suite struct ReproGrokkingTests {
    /// `hidden_sizes = [200, 200]`, `bias=False`: 226·200 + 200·200 + 200·113 weights, no bias, float32.
    @Test func modelIsTheOfficialMLP() throws {
        let model = try OptimGrokking.OneHotMLP(p: 113, hidden: 200, depth: 2, seed: 7)
        let params = model.parameters
        #expect(params.count == 3)
        #expect(params.map(\.shape) == [[226, 200], [200, 200], [113, 200]])
        #expect(params.allSatisfy { $0.dtype == .float32 })
        let logits = try model.logits([0, 113, 5, 120])
        #expect(logits.shape == [2, 113])
    }

    /// The one-hot row lookup equals the dense product `[onehot(a) | onehot(b)] · W`.
    @Test func rowLookupMatchesDenseOneHot() throws {
        let model = try OptimGrokking.OneHotMLP(p: 5, hidden: 4, depth: 1, seed: 3)
        let w = model.inputWeight.scalars(as: Double.self)  // (10, 4)
        let out = model.layers[0].weight.scalars(as: Double.self)  // (5, 4)
        let logits = try model.logits([1, 5 + 3]).scalars(as: Double.self)
        for c in 0..<5 {
            var expected = 0.0
            for j in 0..<4 { expected += max(w[1 * 4 + j] + w[8 * 4 + j], 0) * out[c * 4 + j] }
            #expect(abs(logits[c] - expected) < 1e-5)
        }
    }

    /// A row whose label logit leads by 20 has float32 softmax loss exactly 0 (collapsed) but not in float64 (by 1000
    /// both collapse); StableMax never does.
    @Test func softmaxCollapseIsCountedInTheLossDtype() throws {
        let logits = Tensor(shape: [2, 3], scalars: [1000, 0, 0, 20, 0, 0], dtype: .float32)
        let f32 = try OptimGrokking.perSampleLoss(logits, labels: [0, 0], kind: .softmax32)
        #expect(f32.dtype == .float32)
        #expect(OptimGrokking.zeroFraction(f32) == 1)
        let f64 = try OptimGrokking.perSampleLoss(logits, labels: [0, 0], kind: .softmax64)
        #expect(f64.dtype == .float64)
        #expect(OptimGrokking.zeroFraction(f64) == 0.5)
        let stable = try OptimGrokking.perSampleLoss(logits, labels: [0, 0], kind: .stableMax64)
        #expect(OptimGrokking.zeroFraction(stable) == 0)
    }
}
