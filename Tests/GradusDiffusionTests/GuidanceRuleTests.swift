import Testing
import GradusRuntime
import GradusDiffusion
import GradusTensor

@Suite struct GuidanceRuleTests {
    let shape = [2, 3, 2]
    func data(_ seed: UInt64) -> [Double] {
        var rng = PhiloxStream(seed: seed)
        return (0..<12).map { _ in rng.nextNormal() }
    }

    @Test func cfgFormulations() throws {
        let c = data(1), u = data(2)
        let d = try Guidance.cfg(cond: c, uncond: u, shape: shape, scale: 4.5)
        let o = try Guidance.cfg(cond: c, uncond: u, shape: shape, scale: 3.5, formulation: .original)
        for i in c.indices { #expect(abs(d[i] - o[i]) < 1e-12) }
        #expect(try Guidance.cfg(cond: c, uncond: u, shape: shape, scale: 1) == c)
        #expect(try Guidance.cfg(cond: c, uncond: u, shape: shape, scale: 0, formulation: .original) == c)
        #expect(throws: GradusError.self) { try Guidance.cfg(cond: c, uncond: u, shape: [2, 5]) }
        #expect(throws: GradusError.self) { try Guidance.cfg(cond: c, uncond: u, shape: shape, rescale: 2) }
    }

    @Test func rescaleMatchesCondStd() throws {
        let c = data(3), u = data(4)
        let p = try Guidance.cfg(cond: c, uncond: u, shape: shape, scale: 9)
        let r = try Guidance.rescale(p, cond: c, shape: shape, phi: 1)
        r.withUnsafeBufferPointer { pr in
            c.withUnsafeBufferPointer { pc in
                for b in 0..<2 {
                    let a = CFGRescale.standardDeviation(pr.baseAddress! + 6 * b, 6)
                    let want = CFGRescale.standardDeviation(pc.baseAddress! + 6 * b, 6)
                    #expect(abs(a - want) < 1e-12)
                }
            }
        }
        #expect(try Guidance.rescale(p, cond: c, shape: shape, phi: 0) == p)
        // zero-spread prediction stays finite
        let flat = [Double](repeating: 2, count: 12)
        #expect(try Guidance.rescale(flat, cond: c, shape: shape, phi: 0.7) == flat)
    }

    @Test func apgMomentumStateAndReset() throws {
        let config = APGConfig(scale: 5, eta: 0, normThreshold: 2, momentum: -0.5)
        let guider = try APGGuider<Double>(config, shape: shape, recordsIntermediates: true)
        let c1 = data(5), u1 = data(6), c2 = data(7), u2 = data(8)
        let first = try guider(cond: c1, uncond: u1)
        _ = try guider(cond: c2, uncond: u2)
        // m₁ = d₁ + β·m₀
        let m = guider.debug!.diffAfterMomentum
        for i in c1.indices { #expect(abs(m[i] - ((c2[i] - u2[i]) - 0.5 * (c1[i] - u1[i]))) < 1e-12) }
        #expect(guider.state.steps == 2)
        guider.reset()
        #expect(guider.state.steps == 0)
        #expect(try guider(cond: c1, uncond: u1) == first)
    }

    @Test func apgDisabledSkipsMomentum() throws {
        let rule = AdaptiveProjectedGuidance<Double>(APGConfig(scale: 1, momentum: 0.5))
        var state = try rule.makeState(shape: shape)
        let c = data(9)
        #expect(try rule.update(cond: c, uncond: data(10), state: &state) == c)
        #expect(state.steps == 0 && state.momentum.allSatisfy { $0 == 0 })
    }

    @Test func apgPaperPresetEqualsOriginalFormulation() throws {
        let c = data(11), u = data(12)
        let a = try APGGuider<Double>(.paper(w: 8, normThreshold: 2.5), shape: shape)
        let b = try APGGuider<Double>(APGConfig(scale: 7, eta: 0, normThreshold: 2.5, momentum: -0.5, formulation: .original), shape: shape)
        #expect(try a(cond: c, uncond: u) == b(cond: c, uncond: u))
    }

    @Test func apgEtaZeroRemovesParallelPart() throws {
        // With η = 0, no threshold, no momentum: pred − u is orthogonal to c per sample.
        let c = data(13), u = data(14)
        let p = try APGGuider<Double>(APGConfig(scale: 3, eta: 0, normThreshold: 0), shape: shape)(cond: c, uncond: u)
        for b in 0..<2 {
            var dot = 0.0
            for i in (6 * b)..<(6 * b + 6) { dot += (p[i] - u[i]) * c[i] }
            #expect(abs(dot) < 1e-12)
        }
    }

    @Test func apgRejectsBadConfig() {
        #expect(throws: GradusError.self) { try APGGuider<Double>(APGConfig(normThreshold: -1), shape: [2, 3]) }
        #expect(throws: GradusError.self) { try APGGuider<Double>(APGConfig(guidanceRescale: 1.5), shape: [2, 3]) }
        #expect(throws: GradusError.self) { try APGGuider<Double>(APGConfig(), shape: [4]) }
        #expect(throws: GradusError.self) { try APGGuider<Double>(APGConfig(normDims: [1, 4]), shape: [2, 3, 4, 5]) }
        #expect(throws: GradusError.self) { try APGGuider<Double>(APGConfig(normDims: [1, -3]), shape: [2, 3, 4, 5]) }
        #expect(throws: GradusError.self) { try APGGuider<Double>(APGConfig(normDims: []), shape: [2, 3, 4, 5]) }
        #expect(throws: GradusError.self) { try APGGuider<Double>(APGConfig(), shape: [2, 3])(cond: [1], uncond: [1]) }
    }

    @Test func guidedDenoiserUsesOneDoubledForward() throws {
        let s = try NoiseSchedule.linear(steps: 100)
        let c = data(15), u = data(16), x = data(17)
        var calls = 0
        let model = { (batch: [Double], _: Int) throws(GradusError) -> [Double] in
            calls += 1
            #expect(batch.count == 24 && Array(batch[0..<12]) == Array(batch[12..<24]))
            return u + c                      // unconditional rows first
        }
        let cfg = ClassifierFreeGuidance<Double>(scale: 6)
        let out = try GuidedDenoiser(rule: cfg, shape: shape, model: model)(x, t: 40)
        #expect(calls == 1)
        #expect(out == (try Guidance.cfg(cond: c, uncond: u, shape: shape, scale: 6)))
        // in x₀ space, for an x₀-model the conversion is the identity
        let x0Space = try GuidedDenoiser(rule: cfg, shape: shape, space: .x0(schedule: s, kind: .sample), model: model)
        let out2 = try x0Space(x, t: 40)
        for i in out.indices { #expect(abs(out2[i] - out[i]) < 1e-12) }
        // CFG is linear, so for an ε-model x₀-space guidance equals model-space guidance
        let eSpace = try GuidedDenoiser(rule: cfg, shape: shape, space: .x0(schedule: s, kind: .epsilon), model: model)
        let out3 = try eSpace(x, t: 40)
        for i in out.indices { #expect(abs(out3[i] - out[i]) < 1e-9) }
    }

    @Test func float32APGMatchesFloat64() throws {
        let c = data(18), u = data(19)
        let config = APGConfig(scale: 7, eta: 0.2, normThreshold: 1.5, momentum: -0.5, normDims: [1])
        let d = try APGGuider<Double>(config, shape: shape)(cond: c, uncond: u)
        let f = try APGGuider<Float>(config, shape: shape)(cond: c.map(Float.init), uncond: u.map(Float.init))
        for i in d.indices { #expect(abs(Double(f[i]) - d[i]) < 1e-5 * max(1, abs(d[i]))) }
    }
}

@Suite struct GuidanceTensorTests {
    @Test func tensorFrontEndMatchesArrays() throws {
        var rng = PhiloxStream(seed: 21)
        let c = (0..<24).map { _ in rng.nextNormal() }, u = (0..<24).map { _ in rng.nextNormal() }
        let shape = [2, 3, 4]
        for dtype in [DType.float32, .float64] {
            let ct = try Tensor.make(shape: shape, scalars: c, dtype: dtype), ut = try Tensor.make(shape: shape, scalars: u, dtype: dtype)
            let got = try Guidance.cfg(cond: ct, uncond: ut, scale: 5, rescale: 0.7).scalars(as: Double.self)
            let want = try Guidance.cfg(cond: c, uncond: u, shape: shape, scale: 5, rescale: 0.7)
            for i in want.indices { #expect(abs(got[i] - want[i]) < 1e-5 * max(1, abs(want[i]))) }
        }
        let config = APGConfig(scale: 6, eta: 0, normThreshold: 2, momentum: -0.5)
        let tg = try APGGuider<Double>(config, shape: shape), ag = try APGGuider<Double>(config, shape: shape)
        for _ in 0..<2 {
            let got = try tg(cond: Tensor(shape: shape, scalars: c), uncond: Tensor(shape: shape, scalars: u)).scalars(as: Double.self)
            #expect(got == (try ag(cond: c, uncond: u)))
        }
        #expect(throws: GradusError.self) { try tg(cond: Tensor(shape: shape, scalars: c.map(Float.init)), uncond: Tensor(shape: shape, scalars: u)) }
        #expect(throws: GradusError.self) { try tg(cond: Tensor(shape: [4, 6], scalars: c), uncond: Tensor(shape: [4, 6], scalars: u)) }
    }
}
