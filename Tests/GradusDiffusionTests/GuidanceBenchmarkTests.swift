import Foundation
import Testing
import GradusRuntime
import GradusDiffusion

/// Cost of one guidance call, APG vs CFG, on an SD-sized latent batch (2, 4, 64, 64) in float32, and against one
/// DDIM step. The target is "APG adds ≤ 5 % to a sampling step compared with CFG"; a sampling step also runs
/// the denoiser (not modelled here), so these numbers bound the overhead from above.
/// Opt-in: `GRADUS_BENCH=1 swift test -c release --filter GuidanceBenchmark`.
@Suite struct GuidanceBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["GRADUS_BENCH"] != nil))
    func apgVersusCFG() throws {
        let shape = [2, 4, 64, 64], n = 2 * 4 * 64 * 64
        var rng = PhiloxStream(seed: 1)
        let c: [Float] = Sampling.normal(count: n, rng: &rng), u: [Float] = Sampling.normal(count: n, rng: &rng)
        var out = [Float](repeating: 0, count: n)
        let cfg = ClassifierFreeGuidance<Float>(scale: 7.5)
        var cfgState = try cfg.makeState(shape: shape)
        let apg = AdaptiveProjectedGuidance<Float>(.paper(w: 8, normThreshold: 2.5))
        var apgState = try apg.makeState(shape: shape)
        func best(_ body: () -> Void) -> Double {
            var b = Double.infinity
            for _ in 0..<30 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                b = min(b, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e3)
            }
            return b
        }
        let tc = best { cfg.update(cond: c, uncond: u, into: &out, state: &cfgState) }
        let ta = best { apg.update(cond: c, uncond: u, into: &out, state: &apgState) }
        let s = try NoiseSchedule.scaledLinear()
        let td = best { _ = try? DDIMSampler(schedule: s).step(modelOutput: c, t: 801, prevT: 781, sample: u, noise: nil) }
        print("guidance bench (2,4,64,64) f32 best-of-30: CFG \(tc) µs, APG \(ta) µs, DDIM step \(td) µs; " +
              "APG − CFG = \(ta - tc) µs")
    }
}
