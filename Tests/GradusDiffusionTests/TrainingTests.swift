import Foundation
import Testing
import GradusRuntime
import GradusTensor
import GradusNN
@testable import GradusDiffusion

@Suite struct TrainingTests {
    @Test(arguments: Parameterization.allCases)
    func objectiveTargetsMatchTheArrayFormulas(_ kind: Parameterization) throws {
        let schedule = try NoiseSchedule.linear(steps: 100)
        let x0 = Tensor.normal([6, 3], seed: 1, dtype: .float64)
        var rng = PhiloxStream(seed: 5)
        let batch = try DiffusionObjective.diffusion(schedule, kind).makeBatch(x0: x0, rng: &rng)
        // Recover the noise: replay the stream.
        var replay = PhiloxStream(seed: 5)
        let noise = Tensor.normal([6, 3], seed: replay.nextUInt64(), dtype: .float64)
        let t = batch.timesteps.map { Int($0) }
        let abar = try Diffusion.alphaCumprods(t, schedule)
        let xt = try Diffusion.addNoise(x0: x0.scalars(as: Double.self), noise: noise.scalars(as: Double.self), alphaCumprod: abar)
        let target = try Diffusion.target(kind, x0: x0.scalars(as: Double.self), noise: noise.scalars(as: Double.self), alphaCumprod: abar)
        #expect(zip(batch.noised.scalars(as: Double.self), xt).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(zip(batch.target.scalars(as: Double.self), target).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(t.allSatisfy { (0..<100).contains($0) })
    }

    @Test func flowObjective() throws {
        let x0 = Tensor.normal([4, 2], seed: 1, dtype: .float64)
        var rng = PhiloxStream(seed: 9)
        let batch = try DiffusionObjective.flow(trainSteps: 1000).makeBatch(x0: x0, rng: &rng)
        var replay = PhiloxStream(seed: 9)
        let noise = Tensor.normal([4, 2], seed: replay.nextUInt64(), dtype: .float64).scalars(as: Double.self)
        let x = x0.scalars(as: Double.self), got = batch.noised.scalars(as: Double.self), v = batch.target.scalars(as: Double.self)
        for i in 0..<4 {
            let sigma = batch.timesteps[i] / 1000
            #expect(sigma >= 0 && sigma <= 1)
            for j in 0..<2 {
                #expect(abs(got[i * 2 + j] - (sigma * noise[i * 2 + j] + (1 - sigma) * x[i * 2 + j])) < 1e-12)
                #expect(abs(v[i * 2 + j] - (noise[i * 2 + j] - x[i * 2 + j])) < 1e-12)
            }
        }
    }

    /// Training on the 2-D mixture lowers the loss, and the model learns class-dependent predictions.
    @Test func trainerLowersLossWithLabelDropout() throws {
        let model = try DenoiserMLP(dataDim: 2, numClasses: 4, hidden: 32, depth: 2, seed: 3)
        let schedule = try NoiseSchedule.cosine(steps: 1000)
        let trainer = try DiffusionTrainer(model: model, objective: .diffusion(schedule, .sample), labelDropout: 0.2, learningRate: 3e-3, seed: 4)
        var rng = PhiloxStream(seed: 6)
        let mixture = ToyDatasets.GaussianMixture.fourClasses2D
        var logged: [Double] = []
        try trainer.train(steps: 150, logEvery: 50, batches: { (_: Int) throws(GradusError) in
            let (x, y) = try mixture.sample(count: 64, rng: &rng)
            return (Tensor(shape: [64, 2], scalars: x), y)
        }, log: { _, l in logged.append(l) })
        #expect(logged.count == 3)
        #expect(logged[2] < logged[0], "\(logged)")
        #expect(trainer.losses.count == 150)
        #expect(throws: GradusError.self) { try DiffusionTrainer(model: model, objective: .flow(trainSteps: 10), labelDropout: 1.5) }
        #expect(throws: GradusError.self) { try trainer.step(x0: Tensor.zeros([3, 2]), labels: [0, 1]) }
    }
}
