import Gradus

/// Diffusion benchmark (issue 6): one guided sampling step of a real class-conditional denoiser with CFG vs APG.
/// Called from the `diffusion` section.
///
/// A step is what `ConditionalSampling` does per timestep: one batched forward of `[x; x]` (null labels first), both
/// predictions converted to x̂₀ (APG's paper setting; CFG gets the same conversion), the guidance rule, the conversion
/// back, and a DDIM step. CFG and APG runs alternate so drifting load on a shared machine hits both alike; the table
/// also shows the guidance rule alone (raw buffers, state reused, no allocation), whose difference over the CFG step
/// is the low-noise estimate of APG's overhead.
extension BenchContext {
    func diffusionBench() throws(GradusError) {
        var table = Table(
            title: "diffusion sampling step, CFG (s = 7.5) vs APG (paper: w = 8.5, η = 0, r = 2.5, β = −0.5), x₀-space guidance, DDIM — goal: APG adds ≤ 5%",
            header: ["denoiser", "batch", "threads", "CFG step ms", "APG step ms", "APG/CFG", "CFG rule µs", "APG rule µs",
                     "(APG−CFG rule)/step"])
        let schedule = try NoiseSchedule.cosine(steps: 1000)
        let ddim = DDIMSampler(schedule: schedule, kind: .epsilon)
        let models: [(name: String, model: any ConditionalDenoiser, batch: Int)] = [
            ("conv 1×28×28, w=16 (10 classes)", try DenoiserConvNet(numClasses: 10, seed: 1), 64),
            ("MLP 2-D, 128×3 (4 classes)", try DenoiserMLP(dataDim: 2, numClasses: 4, hidden: 128, depth: 3, seed: 1), 4096),
        ]
        let cfgRule = ClassifierFreeGuidance<Float>(scale: 7.5)
        let apgRule = AdaptiveProjectedGuidance<Float>(.paper(w: 8.5, normThreshold: 2.5))
        for th in threadCounts {
            try setThreads(th)
            for (name, model, batch) in models {
                let labels = (0..<batch).map { $0 % model.numClasses }
                let shape = [batch] + model.sampleShape
                let n = shape.reduce(1, *)
                var rng = PhiloxStream(seed: 7)
                let x: [Float] = Sampling.normal(count: n, rng: &rng)
                let fn = model.guidedModel(labels: labels)
                let space = GuidanceSpace.x0(schedule: schedule, kind: .epsilon)
                let cfg = try GuidedDenoiser(rule: cfgRule, shape: shape, space: space, model: fn)
                let apg = try GuidedDenoiser(rule: apgRule, shape: shape, space: space, model: fn)
                let t = 501, prevT = 481
                let (tc, ta) = try interleavedMedians(repeats: repeats, { () throws(GradusError) in
                    _ = try ddim.step(modelOutput: try cfg(x, t: t), t: t, prevT: prevT, sample: x, noise: nil)
                }, { () throws(GradusError) in
                    _ = try ddim.step(modelOutput: try apg(x, t: t), t: t, prevT: prevT, sample: x, noise: nil)
                })
                // The rules alone on the buffers they see in a step.
                let c: [Float] = Sampling.normal(count: n, rng: &rng), u: [Float] = Sampling.normal(count: n, rng: &rng)
                var outC = [Float](repeating: 0, count: n), outA = [Float](repeating: 0, count: n)
                var cs = try cfgRule.makeState(shape: shape), aps = try apgRule.makeState(shape: shape)
                let ruleRepeats = Swift.max(repeats * 10, 50)
                let (rc, ra) = try interleavedMedians(repeats: ruleRepeats, {
                    cfgRule.update(cond: c, uncond: u, into: &outC, state: &cs)
                }, {
                    apgRule.update(cond: c, uncond: u, into: &outA, state: &aps)
                })
                table.add([name, "\(batch)", "\(th)", ms(tc), ms(ta), fmt(ta / tc, 3) + "×", fmt(rc * 1e6, 1), fmt(ra * 1e6, 1),
                           fmt(100 * (ra - rc) / tc, 2) + "%"])
            }
        }
        print(table.render())
        print("step = batched [x; x] forward + x̂₀ conversions + guidance + DDIM step (medians of \(repeats), CFG/APG alternating); "
              + "rule = the guidance update alone (medians of \(Swift.max(repeats * 10, 50))). Untrained weights: the cost does not depend on them.")
    }

    /// Medians of `a` and `b` timed alternately (`a, b, a, b, …`) after a warm-up of each.
    func interleavedMedians(repeats: Int, _ a: () throws(GradusError) -> Void, _ b: () throws(GradusError) -> Void) throws(GradusError) -> (Double, Double) {
        for _ in 0..<2 { try a(); try b() }
        var ta: [Double] = [], tb: [Double] = []
        for _ in 0..<Swift.max(repeats, 1) {
            var t0 = MonotonicTime.now()
            try a()
            ta.append(MonotonicTime.now() - t0)
            t0 = MonotonicTime.now()
            try b()
            tb.append(MonotonicTime.now() - t0)
        }
        ta.sort(); tb.sort()
        return (ta[ta.count / 2], tb[tb.count / 2])
    }
}
