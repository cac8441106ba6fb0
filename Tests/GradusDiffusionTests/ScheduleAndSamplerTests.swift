import Foundation
import Testing
import GradusRuntime
import GradusDiffusion

@Suite struct ScheduleTests {
    @Test func zeroTerminalSNR() throws {
        let base = try NoiseSchedule.scaledLinear()
        let z = try base.rescaledToZeroTerminalSNR()
        #expect(z.betas.last == 1)
        #expect(z.alphasCumprod.last == 0)
        #expect(abs(z.alphasCumprod[0] - base.alphasCumprod[0]) < 1e-15)
        for i in 1..<z.alphasCumprod.count { #expect(z.alphasCumprod[i] <= z.alphasCumprod[i - 1]) }
        #expect(throws: GradusError.self) { try NoiseSchedule(betas: [0.1]).rescaledToZeroTerminalSNR() }
    }

    @Test func linearEndpointsAndCosineCap() throws {
        let l = try NoiseSchedule.linear(betaStart: 1e-4, betaEnd: 0.02, steps: 1000)
        #expect(l.betas.first == 1e-4 && l.betas.last == 0.02)
        let c = try NoiseSchedule.cosine(steps: 50, maxBeta: 0.5)
        #expect(c.betas.max()! <= 0.5)
        #expect(throws: GradusError.self) { try NoiseSchedule.linear(steps: 0) }
        #expect(throws: GradusError.self) { try NoiseSchedule(betas: [0.1, 1.5]) }
        #expect(throws: GradusError.self) { try NoiseSchedule(betas: [.nan]) }
        #expect(throws: GradusError.self) { try l.alphaCumprod(at: 1000) }
        #expect(try l.alphaCumprod(at: -1) == 1)
    }

    @Test func spacings() throws {
        #expect(try inferenceTimesteps(trainSteps: 1000, steps: 3, spacing: .trailing) == [999, 666, 332])
        #expect(try inferenceTimesteps(trainSteps: 1000, steps: 4, spacing: .leading, offset: 1) == [751, 501, 251, 1])
        #expect(try inferenceTimesteps(trainSteps: 10, steps: 4, spacing: .linspace) == [9, 6, 3, 0])
        // offset applies to leading only (diffusers)
        #expect(try inferenceTimesteps(trainSteps: 1000, steps: 4, spacing: .trailing, offset: 1)
                == inferenceTimesteps(trainSteps: 1000, steps: 4, spacing: .trailing))
        #expect(previousTimestep(999, trainSteps: 1000, steps: 3) == 666)
        #expect(throws: GradusError.self) { try inferenceTimesteps(trainSteps: 10, steps: 11) }
        #expect(throws: GradusError.self) { try inferenceTimesteps(trainSteps: 10, steps: 0) }
    }
}

@Suite struct ParameterizationTests {
    let x0: [Double] = [0.5, -1, 2, 0.25, 1, -0.5]
    let eps: [Double] = [1, 0.3, -0.7, 2, -1, 0.1]
    let abar: [Double] = [0.9, 0.2]           // two samples of 3 elements

    @Test(arguments: Parameterization.allCases)
    func targetsRoundTrip(kind: Parameterization) throws {
        let xt = try Diffusion.addNoise(x0: x0, noise: eps, alphaCumprod: abar)
        let m = try Diffusion.target(kind, x0: x0, noise: eps, alphaCumprod: abar)
        let x0hat = try Diffusion.predictX0(from: m, kind: kind, xt: xt, alphaCumprod: abar)
        let epshat = try Diffusion.predictEpsilon(from: m, kind: kind, xt: xt, alphaCumprod: abar)
        let back = try Diffusion.modelOutput(fromX0: x0hat, kind: kind, xt: xt, alphaCumprod: abar)
        for i in x0.indices {
            #expect(abs(x0hat[i] - x0[i]) < 1e-12)
            #expect(abs(epshat[i] - eps[i]) < 1e-12)
            #expect(abs(back[i] - m[i]) < 1e-12)
        }
    }

    @Test func perSampleBroadcastAndErrors() throws {
        let xt = try Diffusion.addNoise(x0: x0, noise: eps, alphaCumprod: abar)
        #expect(abs(xt[0] - (0.9.squareRoot() * 0.5 + 0.1.squareRoot() * 1)) < 1e-15)
        #expect(abs(xt[3] - (0.2.squareRoot() * 0.25 + 0.8.squareRoot() * 2)) < 1e-15)
        #expect(throws: GradusError.self) { try Diffusion.addNoise(x0: x0, noise: eps, alphaCumprod: [0.5, 0.5, 0.5, 0.5]) }
        #expect(throws: GradusError.self) { try Diffusion.addNoise(x0: x0, noise: [1], alphaCumprod: abar) }
        #expect(throws: GradusError.self) { try Diffusion.addNoise(x0: x0, noise: eps, alphaCumprod: [1.5, 0.5]) }
        #expect(try Diffusion.meanSquaredError([1.0, 2], [1.0, 4]) == 2)
    }

    @Test func trainingLossCallsModelAtNoisedSample() throws {
        let s = try NoiseSchedule.linear(steps: 100)
        // a perfect ε-model: returns the noise it was trained on, so the loss is 0
        let loss = try Diffusion.trainingLoss(model: { (_: [Double], _: [Int]) throws(GradusError) in eps },
                                              x0: x0, noise: eps, t: [3, 70], schedule: s, kind: .epsilon)
        #expect(loss == 0)
    }

    @Test func timeEmbedding() throws {
        let e = try SinusoidalTimeEmbedding(dim: 6)
        let v: [Double] = e([0, 10])
        #expect(Array(v[0..<6]) == [0, 0, 0, 1, 1, 1])
        #expect(abs(v[6] - sin(10.0)) < 1e-15)
        #expect(abs(v[9] - cos(10.0)) < 1e-15)
        let f = try SinusoidalTimeEmbedding(dim: 5, flipSinToCos: true)
        let w: [Float] = f([0])
        #expect(w == [1, 1, 0, 0, 0])
        #expect(throws: GradusError.self) { try SinusoidalTimeEmbedding(dim: 1) }
    }
}

@Suite struct SamplerTests {
    @Test func ddimWithTrueNoiseLandsOnTheForwardProcess() throws {
        // With the exact ε and η = 0, a DDIM step maps x_t(x₀, ε) to x_{t'}(x₀, ε).
        let s = try NoiseSchedule.scaledLinear()
        let x0: [Double] = [0.3, -0.2, 1.1, 0.7], eps: [Double] = [1.2, -0.4, 0.05, -1.5]
        let xt = try Diffusion.addNoise(x0: x0, noise: eps, t: [801], schedule: s)
        let step = try DDIMSampler(schedule: s).step(modelOutput: eps, t: 801, prevT: 781, sample: xt, noise: nil)
        let want = try Diffusion.addNoise(x0: x0, noise: eps, t: [781], schedule: s)
        for i in want.indices { #expect(abs(step.prev[i] - want[i]) < 1e-12) }
        #expect(step.stdDev == 0)
    }

    @Test func ddimEtaOneMatchesDDPMVariance() throws {
        let s = try NoiseSchedule.linear()
        let x: [Double] = [0.1, 0.2], m: [Double] = [0.3, -0.1], z: [Double] = [0.5, -0.5]
        let a = try DDIMSampler(schedule: s).step(modelOutput: m, t: 500, prevT: 480, sample: x, eta: 1, noise: z)
        let b = try DDPMSampler(schedule: s).step(modelOutput: m, t: 500, prevT: 480, sample: x, noise: z)
        #expect(abs(a.stdDev * a.stdDev - b.variance) < 1e-15)
        for i in x.indices { #expect(abs(a.prev[i] - b.prev[i]) < 1e-12) }   // same posterior mean and noise
    }

    @Test func samplerErrors() throws {
        let s = try NoiseSchedule.linear(steps: 10)
        #expect(throws: GradusError.self) { try DDPMSampler(schedule: s).step(modelOutput: [0.0], t: 5, prevT: 4, sample: [0.0], noise: nil) }
        #expect(throws: GradusError.self) { try DDPMSampler(schedule: s).step(modelOutput: [0.0], t: 12, prevT: 4, sample: [0.0], noise: [0]) }
        #expect(throws: GradusError.self) { try DDIMSampler(schedule: s).step(modelOutput: [0.0], t: 5, prevT: 4, sample: [0.0], eta: 0.5, noise: nil) }
        #expect(throws: GradusError.self) { try DDIMSampler(schedule: s).step(modelOutput: [0.0, 1], t: 5, prevT: 4, sample: [0.0], noise: nil) }
        // t = 0 needs no noise
        _ = try DDPMSampler(schedule: s).step(modelOutput: [0.0], t: 0, prevT: -1, sample: [0.5], noise: nil)
    }

    @Test func flowEulerWithExactVelocityReachesData() throws {
        let sampler = FlowEulerSampler(shift: 3)
        let x0: [Double] = [0.3, -1, 2], eps: [Double] = [1, 0.5, -0.2]
        let v = try FlowEulerSampler.velocityTarget(x0: x0, noise: eps)
        let out = try Sampling.flowEuler(sampler, steps: 7, xT: eps) { (_: [Double], _: Double) throws(GradusError) in v }
        for i in x0.indices { #expect(abs(out[i] - x0[i]) < 1e-12) }
        let s = try sampler.sigmas(steps: 4)
        #expect(s.count == 5 && s.first == 1 && s.last == 0)
    }

    @Test func ddimChainWithOracleRecoversData() throws {
        // An oracle ε-model that knows x₀ recovers it with deterministic DDIM (η = 0).
        let s = try NoiseSchedule.scaledLinear()
        let x0: [Double] = [0.25, -0.75, 0.5, 1]
        var rng = PhiloxStream(seed: 11)
        let xT: [Double] = Sampling.normal(count: 4, rng: &rng)
        let out = try Sampling.ddim(DDIMSampler(schedule: s), steps: 20, spacing: .trailing, xT: xT, rng: &rng) {
            (x: [Double], t: Int) throws(GradusError) in
            try Diffusion.predictEpsilon(from: x0, kind: .sample, xt: x, alphaCumprod: [s.alphasCumprod[t]])
        }
        for i in x0.indices { #expect(abs(out[i] - x0[i]) < 1e-9) }
    }
}
