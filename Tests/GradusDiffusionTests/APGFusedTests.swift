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

    /// Writing over `cond` or `uncond` gives the same prediction as a separate output, also with CFG-rescale
    /// (which needs std(c) after the prediction is formed) and on the step-by-step path: three calls each.
    func aliasing<R: GuidanceRule>(_ rule: R, shape: [Int]) throws where R.Scalar == Double {
        let n = shape.reduce(1, *)
        var s0 = try rule.makeState(shape: shape), s1 = try rule.makeState(shape: shape), s2 = try rule.makeState(shape: shape)
        for step in 0..<3 {
            let c = data(UInt64(20 + 2 * step), n), u = data(UInt64(21 + 2 * step), n)
            let want = try rule.update(cond: c, uncond: u, state: &s0)
            var cc = c, uu = u
            cc.withUnsafeMutableBufferPointer { p in u.withUnsafeBufferPointer { q in
                rule.update(cond: UnsafePointer(p.baseAddress!), uncond: q.baseAddress!, into: p.baseAddress!, state: &s1)
            } }
            uu.withUnsafeMutableBufferPointer { p in c.withUnsafeBufferPointer { q in
                rule.update(cond: q.baseAddress!, uncond: UnsafePointer(p.baseAddress!), into: p.baseAddress!, state: &s2)
            } }
            #expect(cc == want, "\(R.self) step \(step): out aliasing cond")
            #expect(uu == want, "\(R.self) step \(step): out aliasing uncond")
        }
    }

    @Test func outputMayAliasInputs() throws {
        try aliasing(AdaptiveProjectedGuidance<Double>(.paper(w: 6, normThreshold: 2)), shape: [4, 6])
        let config = APGConfig(scale: 5, eta: 0.3, normThreshold: 1, momentum: 0.5, guidanceRescale: 0.7)
        try aliasing(AdaptiveProjectedGuidance<Double>(config), shape: [3, 8])
        try aliasing(AdaptiveProjectedGuidance<Double>(config, recordsIntermediates: true), shape: [3, 8])
        var byChannel = config
        byChannel.normDims = [1]
        try aliasing(AdaptiveProjectedGuidance<Double>(byChannel), shape: [2, 3, 4])
        try aliasing(ClassifierFreeGuidance<Double>(scale: 6, rescale: 0.7), shape: [3, 8])
        try aliasing(ClassifierFreeGuidance<Double>(scale: 6, formulation: .original, rescale: 0.5), shape: [3, 8])
    }

    /// Float32 guidance rounds once: where the guided prediction cancels large terms (inputs near 20, scale 12),
    /// the float32 result is the float64 result of the same float32 inputs, rounded.
    @Test func float32RoundsOnceUnderCancellation() throws {
        let shape = [2, 16], n = 32
        var rng = PhiloxStream(seed: 77)
        let c = (0..<n).map { _ in Double(Float(rng.nextNormal() * 20)) }
        // u chosen so that u + s·(c − u) nearly cancels: u = −s·(c − u) ⇒ u = s·c/(s − 1), perturbed
        let s = 12.0
        let u = c.map { Double(Float(s * $0 / (s - 1) + rng.nextNormal() * 1e-3)) }
        let cfg64 = try Guidance.cfg(cond: c, uncond: u, shape: shape, scale: s)
        let cfg32 = try Guidance.cfg(cond: c.map(Float.init), uncond: u.map(Float.init), shape: shape, scale: s)
        for i in 0..<n { #expect(cfg32[i] == Float(cfg64[i]), "cfg \(i): \(cfg32[i]) vs \(cfg64[i])") }
        for record in [false, true] {
            let config = APGConfig(scale: s, eta: 0.5, normThreshold: 0, momentum: -0.5)
            let g64 = try APGGuider<Double>(config, shape: shape, recordsIntermediates: record)
            let g32 = try APGGuider<Float>(config, shape: shape, recordsIntermediates: record)
            for step in 0..<3 {
                let a = try g64(cond: c, uncond: u), b = try g32(cond: c.map(Float.init), uncond: u.map(Float.init))
                // the two Double computations differ in rounding order only (fused vs step-by-step): a few 1e-16
                for i in 0..<n {
                    #expect(abs(Double(b[i]) - a[i]) <= Double(Float(a[i]).ulp) * 0.5 + 1e-12 * max(1, abs(a[i])),
                            "apg record \(record) step \(step) i \(i): \(b[i]) vs \(a[i])")
                }
            }
        }
    }
}
