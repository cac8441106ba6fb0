import Testing
import GradusRuntime
import GradusDiffusion

/// The fused APG path (no intermediates recorded, contiguous groups: `APGKernel`) against the step-by-step path
/// (recording: momentum, `Projection.clipGroupNorms`, `Projection.blend`/`decompose`), over three calls so the
/// momentum state is exercised.
@Suite struct APGFusedTests {
    static let configs: [APGConfig] = [
        APGConfig(),                                                                  // diffusers defaults (η 1, r 15)
        APGConfig.paper(w: 8, normThreshold: 2.5),                                    // η 0, β −0.5, original form
        APGConfig(scale: 5, eta: 0.3, normThreshold: 1, momentum: 0.5),
        APGConfig(scale: 7.5, eta: 0, normThreshold: 0, momentum: -0.75, formulation: .original, guidanceRescale: 0.7),
        APGConfig(scale: 4, eta: 0.5, normThreshold: 3, normDims: [-1]),             // trailing axis: still contiguous groups
        APGConfig(scale: 4, eta: 0.5, normThreshold: 3, normDims: [1]),              // inner > 1: step-by-step path
    ]

    func data(_ seed: UInt64, _ n: Int) -> [Double] {
        var rng = PhiloxStream(seed: seed)
        return (0..<n).map { _ in rng.nextNormal() * 2 }
    }

    @Test(arguments: configs.indices, [[3, 2, 5], [64, 2], [2, 1, 7, 7], [1, 3]] as [[Int]])
    func fusedEqualsStepByStep(config index: Int, shape: [Int]) throws {
        let config = Self.configs[index]
        let n = shape.reduce(1, *)
        let fused = try APGGuider<Double>(config, shape: shape)
        let plain = try APGGuider<Double>(config, shape: shape, recordsIntermediates: true)
        let fused32 = try APGGuider<Float>(config, shape: shape)
        for step in 0..<3 {
            let c = data(UInt64(100 + 2 * step), n), u = data(UInt64(101 + 2 * step), n)
            let a = try fused(cond: c, uncond: u), b = try plain(cond: c, uncond: u)
            for i in a.indices { #expect(abs(a[i] - b[i]) <= 1e-12 * max(1, abs(b[i])), "step \(step) i \(i)") }
            let f = try fused32(cond: c.map(Float.init), uncond: u.map(Float.init))
            for i in f.indices { #expect(abs(Double(f[i]) - b[i]) <= 2e-5 * max(1, abs(b[i])), "f32 step \(step) i \(i)") }
        }
        #expect(fused.state.steps == 3)
        if config.momentum != nil { #expect(fused.state.momentum == plain.state.momentum) }
    }

    @Test func outputMayAliasInputs() throws {
        let shape = [4, 6], n = 24
        let rule = AdaptiveProjectedGuidance<Double>(.paper(w: 6, normThreshold: 2))
        let c = data(7, n), u = data(8, n)
        var s0 = try rule.makeState(shape: shape), s1 = try rule.makeState(shape: shape), s2 = try rule.makeState(shape: shape)
        let want = try rule.update(cond: c, uncond: u, state: &s0)
        var cc = c, uu = u
        cc.withUnsafeMutableBufferPointer { p in u.withUnsafeBufferPointer { q in
            rule.update(cond: UnsafePointer(p.baseAddress!), uncond: q.baseAddress!, into: p.baseAddress!, state: &s1)
        } }
        uu.withUnsafeMutableBufferPointer { p in c.withUnsafeBufferPointer { q in
            rule.update(cond: q.baseAddress!, uncond: UnsafePointer(p.baseAddress!), into: p.baseAddress!, state: &s2)
        } }
        #expect(cc == want)
        #expect(uu == want)
    }
}
