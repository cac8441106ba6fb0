import Foundation
import Testing
import GradusRuntime
import GradusTensor
import GradusNN
@testable import GradusDiffusion

@Suite struct AlignPropTests {
    static let golden = try! loadGuidanceGolden()
    static func cases(op: String) -> [JSON] { golden["cases"]!.array!.filter { $0["op"]?.string == op } }

    @Test(arguments: [GuidanceConformance.Precision.float64, .float32])
    func goldenToyChain(_ precision: GuidanceConformance.Precision) throws {
        let cases = Self.cases(op: AlignPropConformance.op)
        #expect(!cases.isEmpty)
        for c in cases {
            let r = try #require(try AlignPropConformance.run(case: c, precision: precision))
            #expect(r.status == .pass, "\(r)")
            #expect(r.compared > 0)
            let viaExtras = try #require(try DiffusionExtrasConformance.run(case: c, precision: precision))
            #expect(viaExtras == r)
        }
    }

    @Test func otherOpsAreNotHandled() throws {
        let c = try #require(Self.golden["cases"]!.array!.first { $0["op"]?.string == "cfg" })
        #expect(try AlignPropConformance.run(case: c) == nil)
        #expect(try DiffusionExtrasConformance.run(case: c) == nil)
    }

    @Test func loraStartsAtBaseAndTrainsOnlyAdapter() throws {
        let base = try Linear(3, 2, dtype: .float64, seed: 1)
        let lora = try LoRALinear(base: base, rank: 2, alpha: 4, seed: 2)
        let x = Tensor.normal([5, 3], seed: 3, dtype: .float64)
        #expect(maxDiff(try lora(x), try base(x)) == 0)
        #expect(lora.parameters.count == 2)
        #expect(lora.namedParameters().map(\.0) == ["lora_A", "lora_B"])
        #expect(lora.scaling == 2)
        // merged weight equals the sum
        let b = Tensor.normal([2, 2], seed: 4, dtype: .float64)
        let l2 = try LoRALinear(weight: base.weight, bias: base.bias, loraA: lora.loraA.detached(), loraB: b, alpha: 4)
        let viaMerged = try Tensor.linear(x, weight: try l2.mergedWeight(), bias: base.bias)
        #expect(maxDiff(try l2(x), viaMerged) < 1e-12)
        // gradients reach A and B only
        try (try l2(x)).square().sum().backward()
        #expect(l2.loraA.grad != nil && l2.loraB.grad != nil)
        #expect(base.weight.grad == nil)
    }

    @Test func loraRejectsBadShapes() {
        let w = Tensor.zeros([2, 3], dtype: .float64)
        #expect(throws: GradusError.self) { try LoRALinear(weight: w, bias: nil, loraA: .zeros([2, 4], dtype: .float64), loraB: .zeros([2, 2], dtype: .float64), alpha: 1) }
        #expect(throws: GradusError.self) { try LoRALinear(weight: w, bias: nil, loraA: .zeros([2, 3], dtype: .float64), loraB: .zeros([3, 2], dtype: .float64), alpha: 1) }
        #expect(throws: GradusError.self) { try LoRALinear(base: try Linear(3, 2), rank: 0) }
    }

    @Test func tensorDDIMStepMatchesArrayStep() throws {
        for kind in Parameterization.allCases {
            for eta in [0.0, 0.7] {
                let x = Tensor.normal([2, 3], seed: 10, dtype: .float64), m = Tensor.normal([2, 3], seed: 11, dtype: .float64)
                let z = Tensor.normal([2, 3], seed: 12, dtype: .float64)
                let got = try DDIMSampler.step(modelOutput: m, kind: kind, alphaCumprod: 0.3, alphaCumprodPrev: 0.6, sample: x, eta: eta, noise: z)
                let want = try DDIMSampler.step(modelOutput: m.scalars(as: Double.self), kind: kind, alphaCumprod: 0.3, alphaCumprodPrev: 0.6,
                                                sample: x.scalars(as: Double.self), eta: eta, noise: z.scalars(as: Double.self)).prev
                let g = got.scalars(as: Double.self)
                for i in 0..<g.count { #expect(abs(g[i] - want[i]) < 1e-12, "\(kind) eta \(eta)") }
            }
        }
        let x = Tensor.zeros([1, 2], dtype: .float64)
        #expect(throws: GradusError.self) { try DDIMSampler.step(modelOutput: x, kind: .epsilon, alphaCumprod: 1, alphaCumprodPrev: 1, sample: x) }
        #expect(throws: GradusError.self) { try DDIMSampler.step(modelOutput: x, kind: .epsilon, alphaCumprod: 0.3, alphaCumprodPrev: 0.6, sample: x, eta: 1, noise: nil) }
    }

    /// Truncation: gradients equal full backprop through the last K steps only — detaching earlier steps changes them.
    @Test func checkpointedGradientsAreBitIdenticalOnAnMLP() throws {
        let l1 = try Linear(2, 16, dtype: .float32, seed: 5), l2 = try Linear(16, 2, dtype: .float32, seed: 6)
        let a = try LoRALinear(base: l1, rank: 2, seed: 7)
        GradMode.withoutGrad { a.loraB.storage.raw.assumingMemoryBound(to: Float.self).update(repeating: 0.1, count: a.loraB.count) }
        let model = { (x: Tensor, i: Int) throws(GradusError) -> Tensor in try l2(try a(x).tanh()) * 0.5 + Double(i) * 0.01 }
        let chain = AlignProp.Chain(alphasCumprod: [0.1, 0.3, 0.5, 0.7, 0.9], eta: 1)
        let xT = Tensor.normal([8, 2], seed: 8), noises = (0..<5).map { Tensor.normal([8, 2], seed: 20 + UInt64($0)) }
        var grads: [[Float]] = []
        for ckpt in [false, true] {
            a.zeroGrad()
            let (loss, _) = try AlignProp.chainLoss(model: model, chain: chain, xT: xT, noises: noises, truncateBefore: 1, checkpointed: ckpt) {
                (x: Tensor) throws(GradusError) in try x.square().mean()
            }
            try loss.backward()
            grads.append(a.loraA.grad!.scalars(as: Float.self) + a.loraB.grad!.scalars(as: Float.self))
        }
        #expect(grads[0] == grads[1])
        #expect(grads[0].contains { $0 != 0 })
    }

    @Test func checkpointingReducesLiveMemory() throws {
        let l1 = try Linear(2, 256, seed: 1), l2 = try Linear(256, 256, seed: 2), l3 = try Linear(256, 2, seed: 3)
        let lora = try LoRALinear(base: l2, rank: 2, seed: 4)
        let model = { (x: Tensor, i: Int) throws(GradusError) -> Tensor in try l3(try lora(try l1(x).silu()).silu()) }
        let chain = AlignProp.Chain(alphasCumprod: (0..<20).map { 0.05 + 0.9 * Double($0) / 19 }, eta: 0)
        let xT = Tensor.normal([64, 2], seed: 9)
        var peaks: [Int] = []
        for ckpt in [false, true] {
            let probe = MemoryProbe()
            let (loss, _) = try AlignProp.chainLoss(model: model, chain: chain, xT: xT, checkpointed: ckpt, probe: probe) {
                (x: Tensor) throws(GradusError) in try x.square().mean()
            }
            try loss.backward()
            probe.sample()
            peaks.append(probe.graphPeak)
            #expect(probe.graphPeak > 0)
            lora.zeroGrad()
        }
        #expect(peaks[1] * 3 <= peaks[0], "peaks \(peaks)")
    }

    @Test func truncationStrategies() throws {
        var rng = PhiloxStream(seed: 1)
        #expect(try Truncation.none.backpropStart(steps: 20, rng: &rng) == 0)
        #expect(try Truncation.fixed(19).backpropStart(steps: 20, rng: &rng) == 19)
        for _ in 0..<100 {
            let u = try Truncation.uniform(0, 50).backpropStart(steps: 20, rng: &rng)
            #expect((1...19).contains(u))
            let g = try Truncation.gaussian(42, 5).backpropStart(steps: 50, rng: &rng)
            #expect((1...49).contains(g))
        }
        #expect(throws: GradusError.self) { try Truncation.fixed(20).backpropStart(steps: 20, rng: &rng) }
        #expect(throws: GradusError.self) { try Truncation.uniform(30, 40).backpropStart(steps: 20, rng: &rng) }
        #expect(throws: GradusError.self) { try Truncation.gaussian(5, 0).backpropStart(steps: 20, rng: &rng) }
    }
}

func maxDiff(_ a: Tensor, _ b: Tensor) -> Double {
    zip(a.scalars(as: Double.self), b.scalars(as: Double.self)).map { abs($0 - $1) }.max() ?? 0
}
