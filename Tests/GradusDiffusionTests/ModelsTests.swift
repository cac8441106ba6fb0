import Foundation
import Testing
import GradusRuntime
import GradusTensor
import GradusNN
@testable import GradusDiffusion

@Suite struct ModelsTests {
    @Test func mlpShapesNullLabelAndErrors() throws {
        let m = try DenoiserMLP(dataDim: 2, numClasses: 3, hidden: 16, depth: 2, seed: 1)
        let x = Tensor.normal([4, 2], seed: 2)
        let y = try m.predict(x, timesteps: [0, 10, 500, 999], labels: [0, 1, 2, 3])
        #expect(y.shape == [4, 2])
        #expect(m.nullLabel == 3)
        #expect(throws: GradusError.self) { try m.predict(x, timesteps: [0, 0, 0, 0], labels: [0, 1, 2, 4]) }
        #expect(throws: GradusError.self) { try m.predict(x, timesteps: [0, 0, 0], labels: [0, 1, 2, 3]) }
        #expect(throws: GradusError.self) { try m.predict(Tensor.normal([4, 3], seed: 1), timesteps: [0, 0, 0, 0], labels: [0, 0, 0, 0]) }
        // the conditioning matters: different labels give different outputs
        let a = try m.predict(x, timesteps: [5, 5, 5, 5], labels: [0, 0, 0, 0]).scalars(as: Float.self)
        let b = try m.predict(x, timesteps: [5, 5, 5, 5], labels: [1, 1, 1, 1]).scalars(as: Float.self)
        #expect(a != b)
        let names = m.namedParameters().map(\.0)
        #expect(names.contains("hidden.0.weight") && names.contains("conditioning.classes.weight"))
    }

    @Test func mlpLoRAFreezesBaseAndStartsUnchanged() throws {
        let m = try DenoiserMLP(dataDim: 2, numClasses: 1, hidden: 8, depth: 3, seed: 3)
        let x = Tensor.normal([5, 2], seed: 4)
        let before = try m.predict(x, timesteps: [Double](repeating: 100, count: 5), labels: [Int](repeating: 0, count: 5)).scalars(as: Float.self)
        let adapters = try m.enableLoRA(rank: 2, seed: 5)
        #expect(adapters.count == 6)   // 2 hidden + output, A and B each
        let after = try m.predict(x, timesteps: [Double](repeating: 100, count: 5), labels: [Int](repeating: 0, count: 5))
        #expect(after.scalars(as: Float.self) == before)
        try after.square().sum().backward()
        #expect(adapters.allSatisfy { $0.grad != nil })
        #expect(m.input.weight.grad == nil)
        #expect(throws: GradusError.self) { try m.enableLoRA(rank: 2) }
        // state dict keeps the base weights under their old names
        #expect(m.stateDict()["hidden.0.weight"] != nil && m.stateDict()["hidden.0.lora_A"] != nil)
    }

    @Test func convNetShapesAndGradients() throws {
        let m = try DenoiserConvNet(channels: 1, height: 8, width: 8, numClasses: 2, baseWidth: 4, seed: 1)
        let x = Tensor.normal([3, 1, 8, 8], seed: 2)
        let y = try m.predict(x, timesteps: [1, 2, 3], labels: [0, 1, 2])
        #expect(y.shape == [3, 1, 8, 8])
        try y.square().mean().backward()
        #expect(m.parameters.allSatisfy { $0.grad != nil })
        #expect(throws: GradusError.self) { try DenoiserConvNet(height: 7, width: 8, numClasses: 2) }
        #expect(throws: GradusError.self) { try m.predict(Tensor.normal([1, 1, 6, 6], seed: 1), timesteps: [0], labels: [0]) }
        // nearest upsampling repeats each pixel 2×2
        let u = try DenoiserConvNet.upsampled(Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4] as [Float]))
        #expect(u.scalars(as: Float.self) == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
    }

    @Test func analyticMixturePosteriorMeans() throws {
        let mix = try ToyDatasets.GaussianMixture(means: [[2, 0], [-2, 0]], std: 0.5)
        // a = 1, s → 0: the posterior mean is the point itself
        let p = mix.posteriorMean([1, 1], a: 1, s: 1e-9, label: 0)
        #expect(abs(p[0] - 1) < 1e-9 && abs(p[1] - 1) < 1e-9)
        // a = 0: no information; conditional = class mean, unconditional = mixture mean
        #expect(mix.posteriorMean([5, 5], a: 0, s: 1, label: 1) == [-2, 0])
        let u = mix.posteriorMean([5, 5], a: 0, s: 1, label: nil)
        #expect(abs(u[0]) < 1e-12 && abs(u[1]) < 1e-12)
        var rng = PhiloxStream(seed: 1)
        let (x, y) = try mix.sample(count: 2000, rng: &rng)
        var m0 = 0.0, n0 = 0
        for i in 0..<2000 where y[i] == 0 { m0 += Double(x[2 * i]); n0 += 1 }
        #expect(abs(m0 / Double(n0) - 2) < 0.05)
    }

    @Test func guidedSamplingFromTheExactDenoiser() throws {
        let schedule = try NoiseSchedule.cosine(steps: 1000)
        let mix = ToyDatasets.GaussianMixture.fourClasses2D
        let exact = try AnalyticMixtureDenoiser(mixture: mix, schedule: schedule)
        let labels = [Int](repeating: 0, count: 64) + [Int](repeating: 3, count: 64)
        for guidance in [GuidanceChoice.none, .cfg(scale: 3), .apg(.paper(w: 3, normThreshold: 2))] {
            let x = try ConditionalSampling.diffusion(model: exact, labels: labels, schedule: schedule, kind: .sample, steps: 30,
                                                      guidance: guidance, seed: 1)
            var m0 = [0.0, 0.0], m3 = [0.0, 0.0]
            for i in 0..<64 { m0[0] += Double(x[2 * i]) / 64; m0[1] += Double(x[2 * i + 1]) / 64 }
            for i in 64..<128 { m3[0] += Double(x[2 * i]) / 64; m3[1] += Double(x[2 * i + 1]) / 64 }
            #expect(m0[0] > 2 && m0[1] > 0.8, "\(guidance): \(m0)")
            #expect(m3[0] < -2 && m3[1] < -0.8, "\(guidance): \(m3)")
        }
        // DDPM and the same seed reproduce
        let a = try ConditionalSampling.diffusion(model: exact, labels: [1, 2], schedule: schedule, kind: .sample, steps: 10, ancestral: true, guidance: .cfg(scale: 2), seed: 7)
        let b = try ConditionalSampling.diffusion(model: exact, labels: [1, 2], schedule: schedule, kind: .sample, steps: 10, ancestral: true, guidance: .cfg(scale: 2), seed: 7)
        #expect(a == b)
    }
}

@Suite struct DenoiserMemoryTests {
    /// Batches whose activations cannot fit are refused up front (the C ABI and the CLI rely on it).
    @Test func impossibleBatchesAreRefused() throws {
        let net = try DenoiserMLP(dataDim: 2, numClasses: 3, hidden: 16, depth: 2)
        try DenoiserMemory.requireForwardFits(net, batch: 1024)
        #expect(DenoiserMemory.bytesPerSample(net) > 0)
        for batch in [Int.max, BufferPool.physicalMemoryBytes / DenoiserMemory.bytesPerSample(net)] {
            #expect(throws: GradusError.self) { try DenoiserMemory.requireForwardFits(net, batch: batch) }
        }
        #expect(throws: GradusError.self) { try DenoiserMemory.requireForwardFits(net, batch: -1) }
    }
}
