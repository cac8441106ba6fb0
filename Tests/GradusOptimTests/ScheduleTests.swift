import Foundation
import GradusRuntime
import Testing
@testable import GradusOptim
import _GradusTestSupport

@Suite struct ScheduleTests {
    static let all: [Schedule] = [
        .constant(0.1), .step(peak: 0.1, stepSize: 3, gamma: 0.5), .linear(peak: 0.1, total: 10),
        .warmupLinear(peak: 0.1, warmup: 2, total: 10), .cosine(peak: 0.1, total: 10, minimum: 0.001),
        .warmupCosine(peak: 0.1, warmup: 2, total: 10), .piecewise(peak: 0.1, multipliers: [0.5, 1, 0.25]),
    ]

    @Test(arguments: ScheduleTests.all)
    func acceptedByEveryOptimizerAndFinite(_ s: Schedule) throws {
        _ = try s.validated()
        for t in 0...12 { #expect(s.value(at: t).isFinite && s.value(at: t) >= 0) }
        let opt = try FusedOptimizer<Double>(chain: .adamW(learningRate: s), shapes: [[3]])
        var p = [[1.0, 2.0, 3.0]]
        for _ in 0..<12 { try OptimizerConformance.withBuffers(&p, [[0.1, -0.2, 0.3]]) { try opt.step($0) } }
        #expect(p[0].allSatisfy { $0.isFinite })
        #expect(opt.value(of: .learningRate) == s.peak)
    }

    @Test func shapes() {
        #expect(Schedule.warmupLinear(peak: 1, warmup: 4, total: 8).value(at: 0) == 0)
        #expect(Schedule.warmupLinear(peak: 1, warmup: 4, total: 8).value(at: 2) == 0.5)
        #expect(Schedule.linear(peak: 1, total: 4).value(at: 4) == 0)
        #expect(abs(Schedule.cosine(peak: 1, total: 4, minimum: 0).value(at: 2) - 0.5) < 1e-15)
        #expect(Schedule.step(peak: 1, stepSize: 2, gamma: 0.5).value(at: 5) == 0.25)
        #expect(Schedule.constant(3).withPeak(2) == .constant(2))
    }

    /// Past its total, a cosine schedule stays at its final value instead of following the cosine back up
    /// (warm-up + cosine ends at 0, cosine annealing at its minimum), and it never rises after the warm-up.
    @Test func cosineSchedulesStayAtTheirFinalValuePastTheEnd() {
        let warm = Schedule.warmupCosine(peak: 0.1, warmup: 3, total: 10)
        #expect(warm.value(at: 10) == 0)
        for t in 10...45 { #expect(warm.value(at: t) == 0, "warmupCosine at t = \(t)") }
        for t in 4...45 { #expect(warm.value(at: t) <= warm.value(at: t - 1), "warmupCosine rises at t = \(t)") }
        let noWarmup = Schedule.warmupCosine(peak: 1, warmup: 0, total: 4)
        #expect(noWarmup.value(at: 0) == 1 && noWarmup.value(at: 12) == 0)
        let annealed = Schedule.cosine(peak: 0.1, total: 10, minimum: 0.01)
        for t in 10...45 { #expect(annealed.value(at: t) == annealed.value(at: 10), "cosine at t = \(t)") }
        #expect(abs(annealed.value(at: 10) - 0.01) < 1e-15)
        // Through an optimizer: the learning rate after the last scheduled update stays 0.
        let lr = LearningRate<Double>(warm)
        for t in 11...40 { #expect(lr.learningRate(atStep: t) == 0) }
    }

    @Test func invalidSchedulesThrow() {
        #expect(throws: GradusError.self) { try Schedule.warmupLinear(peak: 1, warmup: 5, total: 3).validated() }
        #expect(throws: GradusError.self) { try Schedule.linear(peak: .nan, total: 3).validated() }
        #expect(throws: GradusError.self) { try Schedule.refined(gradientNorms: [1], power: 2) }
        #expect(throws: GradusError.self) { try Schedule.refined(gradientNorms: [1, -1, 2], power: 2) }
        // τ·n beyond an Int-sized filter width: an error, not a trap (it used to convert floor(τ·n) to Int unchecked).
        #expect(throws: GradusError.self) { try Schedule.refined(gradientNorms: [1, 2, 3], power: 2, tau: 1e300) }
    }

    @Test func refinementShowsWarmupAndEndsAtZero() throws {
        let g = (0..<40).map { 4.0 / Double($0 + 1).squareRoot() }
        let r = try Schedule.refined(gradientNorms: g, power: 2)
        #expect(r.schedule.last == 0)
        #expect(r.schedule.max() == 1)
        #expect(r.schedule[0] < r.schedule[10])
    }

    /// Spec §6.1 written out directly (the reflect padding of numpy, a sorted copy of every window, the weights
    /// Ĝ^(−p) themselves) against the running-median, log-space implementation, on random norms whose windows
    /// range from 1 to several times n (padding that reflects more than once).
    @Test func refinementMatchesTheDirectFormula() throws {
        var r = RandomDraws(seed: 0x5EF1)
        for draw in 0..<300 {
            let n = r.int(2, 120)
            let tau = [0.1, 0, r.uniform(0, 1), r.uniform(1, 4)][r.int(0, 3)], power = [1, 2, r.uniform(0.3, 4)][r.int(0, 2)]
            // Plateaus (equal norms) as well as distinct ones.
            let g = (0..<n).map { _ in r.coin() ? Double(r.int(1, 4)) : r.logUniform(0.05, 20) }
            let w = 2 * (Int((tau * Double(n)).rounded(.down)) / 2) + 1, h = w / 2
            let ext = g + (0..<(2 * w)).map { k -> Double in
                let period = 2 * (n - 1), j = (n + k) % period
                return g[j <= n - 1 ? j : period - j]
            }
            let smoothed = (0..<n).map { i in
                (0..<w).map { ext[Swift.max(0, i - h + $0)] }.sorted()[h]
            }
            let weights = smoothed.map { pow($0, -power) }
            let raw = (0..<n).map { t in weights[t] * weights[(t + 1)...].reduce(0, +) / weights[n - 1] }
            let got = try Schedule.refined(gradientNorms: g, power: power, tau: tau)
            #expect(got.smoothedNorms == smoothed, "draw \(draw): n \(n) w \(w)")
            for (a, b) in zip(got.rawSchedule, raw) { #expect(abs(a - b) <= 1e-12 * abs(b), "draw \(draw) raw") }
            let peak = raw.max()!
            for (a, b) in zip(got.schedule, raw.map { $0 / peak }) { #expect(abs(a - b) <= 1e-12 * abs(b) + 1e-300, "draw \(draw)") }
        }
    }

    /// Spec §6's table written out, on random peaks, lengths, warm-ups (0 and W = T included) and minima, as golden
    /// `lr_schedule` cases through `OptimizerConformance`; a perturbed value must fail.
    @Test func schedulesMatchTheSpecTableOnRandomCases() throws {
        var r = RandomDraws(seed: 0x5CED)
        for draw in 0..<200 {
            let peak = r.logUniform(1e-5, 1), T = [r.int(1, 30), r.int(31, 3000)][r.int(0, 1)]
            let W = [0, T, r.int(0, T)][r.int(0, 2)], minimum = [0, peak * r.uniform(0, 0.5)][r.int(0, 1)]
            let technique = ["lr_linear", "lr_warmup_linear", "lr_cosine", "lr_warmup_cosine"][draw % 4]
            func lr(_ t: Int) -> Double {
                let (tt, TT, WW) = (Double(t), Double(T), Double(W))
                switch technique {
                case "lr_linear": return peak * (1 - tt / TT)
                case "lr_warmup_linear": return t < W ? peak * tt / WW : peak * max(0, (TT - tt) / max(1, TT - WW))
                case "lr_cosine": return minimum + (peak - minimum) * (1 + cos(Double.pi * tt / TT)) / 2
                default: return t < W ? peak * tt / WW : peak * max(0, (1 + cos(Double.pi * (tt - WW) / max(1, TT - WW))) / 2)
                }
            }
            let values = (0...T).map(lr)
            func make(_ values: [Double]) -> JSON {
                .object(["name": .string("\(technique)_random_\(draw)"), "kind": .string("lr_schedule"), "technique": .string(technique),
                         "hyperparameters": .object(["peak_lr": .number(peak), "total_steps": .number(Double(T)),
                                                     "warmup_steps": .number(Double(W)), "eta_min": .number(minimum)]),
                         "steps": .array((0...T).map { .number(Double($0)) }), "values": .array(values.map { .number($0) })])
            }
            let got = try OptimizerConformance.run(case: make(values))
            #expect(got.status == .passed, "\(technique) peak \(peak) T \(T) W \(W) min \(minimum): \(got)")
            if draw < 8 {
                let bad = try OptimizerConformance.run(case: make(values.enumerated().map { $0 == T / 2 ? $1 * 1.001 + 1e-6 : $1 }))
                if case .failed = bad.status {} else { Issue.record("\(technique) \(draw): a perturbed value passed") }
            }
        }
    }

    /// Powers whose weights leave the double range still give the schedule (the limit it tends to), and the bounds
    /// are errors: |p·ln Ĝ| above 1e300, a filter of more than 2^26 padded values (it would allocate gigabytes).
    @Test func refinementAtExtremePowersAndItsBounds() throws {
        let r = try Schedule.refined(gradientNorms: [3, 2, 1, 0.5], power: 1500, tau: 0)
        #expect(r.schedule == [0, 0, 1, 0])
        #expect(r.rawSchedule.allSatisfy { !$0.isNaN })
        #expect(throws: GradusError.self) { try Schedule.refined(gradientNorms: [3, 2, 1, 0.5], power: 1e306) }
        #expect(throws: GradusError.self) { try Schedule.refined(gradientNorms: [3, 2, 1, 0.5], power: 2, tau: 2e7) }
        #expect(throws: GradusError.self) { try Schedule.refined(gradientNorms: [3, 2, 1, 0.5], power: 0) }
    }
}

@Suite struct TransformPropertyTests {
    /// diffGrad: a constant gradient gives ξ = 0.5 after the first step, so half an Adam step (spec §1).
    @Test func diffGradFrictionOnConstantGradient() throws {
        let d = try FusedOptimizer<Double>(chain: .diffGrad(learningRate: .constant(0.1)), shapes: [[1]])
        let a = try FusedOptimizer<Double>(chain: GradientChain(AdamPreconditioner<Double>(correction: .beforeBiasCorrection),
                                                                LearningRate<Double>(0.05)), shapes: [[1]])
        var pd = [[0.0]], pa = [[0.0]]
        try OptimizerConformance.withBuffers(&pd, [[0.3]]) { try d.step($0) }
        try OptimizerConformance.withBuffers(&pa, [[0.3]]) { try a.step($0) }
        let first = pd[0][0]
        #expect(abs(first) > abs(pa[0][0]))  // ξ = σ(0.3) > 0.5 on step 1
        pd = [[0.0]]; pa = [[0.0]]
        try OptimizerConformance.withBuffers(&pd, [[0.3]]) { try d.step($0) }
        try OptimizerConformance.withBuffers(&pa, [[0.3]]) { try a.step($0) }
        #expect(abs(pd[0][0] - pa[0][0]) < 1e-15)
    }

    @Test func spamWarmupCounter() {
        let w = ResetWarmup<Double>(warmupSteps: 3, interval: 6)
        #expect((1...12).map { w.counter(atStep: $0) } == [4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 0])
        #expect(abs(w.factor(atStep: 6) - 0.01) < 1e-15)
        #expect(ResetWarmup<Double>(warmupSteps: 3, interval: 1).counter(atStep: 1) == 4)
    }

    @Test func orthogonalProjectionKeepsNormAndRemovesRadialPart() throws {
        let (r, c) = OrthogonalProjection<Double>.coefficients(wg: 2, ww: 4, gg: 3)
        #expect(c == 0.5)
        #expect(abs(r - (3.0).squareRoot() / (3.0 - 2 + 1).squareRoot()) < 1e-15)
    }

    @Test func clipByGlobalNormAcrossTensors() throws {
        let opt = try FusedOptimizer<Double>(chain: GradientChain(ClipByGlobalNorm<Double>(1), LearningRate<Double>(1)),
                                             shapes: [[2], [1]])
        var p = [[0.0, 0.0], [0.0]]
        try OptimizerConformance.withBuffers(&p, [[3, 0], [4]]) { try opt.step($0) }
        #expect(abs(p[0][0] + 0.6) < 1e-6 && abs(p[1][0] + 0.8) < 1e-6)
    }

    @Test func parameterGroupsKeepTheirOwnHyperparameters() throws {
        let opt = try FusedOptimizer<Double>(groups: [
            ParameterGroup(chain: .sgd(learningRate: .constant(0.1)), shapes: [[1]]),
            ParameterGroup(chain: .sgd(learningRate: .constant(1)), shapes: [[1]]),
        ])
        var p = [[0.0], [0.0]]
        try OptimizerConformance.withBuffers(&p, [[1], [1]]) { try opt.step($0) }
        #expect(p == [[-0.1], [-1]])
        try opt.set(.learningRate, to: 0.5, group: 1)
        try OptimizerConformance.withBuffers(&p, [[1], [1]]) { try opt.step($0) }
        #expect(abs(p[1][0] + 1.5) < 1e-15 && abs(p[0][0] + 0.2) < 1e-15)
    }

    /// Multi-block tensors (rows crossing block boundaries) give the same result in float32 and float64.
    @Test(arguments: ["adamP", "sgdP", "stableSPAM", "perpAdamW", "rowwise"])
    func multiBlockFloat32MatchesFloat64(_ which: String) throws {
        func chain<S: OptimizerScalar>(_: S.Type) -> GradientChain<S> {
            switch which {
            case "adamP": return .adamP(learningRate: .constant(1e-2), weightDecay: 0.1, delta: 10)
            case "sgdP": return .sgdP(learningRate: .constant(1e-2), momentum: 0.9, weightDecay: 0.1, delta: 10)
            case "stableSPAM": return .stableSPAM(learningRate: .constant(1e-2), resetInterval: 2)
            case "perpAdamW": return .perpAdamW(learningRate: .constant(1e-2))
            default: return .adaGradNormRowwise(learningRate: .constant(1e-2))
            }
        }
        let shape = [3, 1700]
        let n = 5100
        let p0 = (0..<n).map { Double(($0 * 37) % 101) / 101 - 0.5 }
        func g(_ s: Int) -> [Double] { (0..<n).map { Double(($0 * 13 + s * 7) % 97) / 97 - 0.45 } }
        let od = try FusedOptimizer<Double>(chain: chain(Double.self), shapes: [shape])
        let of = try FusedOptimizer<Float>(chain: chain(Float.self), shapes: [shape])
        var pd = [p0], pf = [p0.map { Float($0) }]
        for s in 0..<4 {
            try OptimizerConformance.withBuffers(&pd, [g(s)]) { try od.step($0) }
            try OptimizerConformance.withBuffers(&pf, [g(s).map { Float($0) }]) { try of.step($0) }
        }
        let dev = zip(pd[0], pf[0]).map { abs($0 - Double($1)) }.max()!
        #expect(dev < 1e-5, "\(which): \(dev)")
        if which == "adamP" || which == "sgdP" {
            #expect(od.state(of: RadialProjection<Double>.self, slot: 1, tensor: 0)?.lastView == .channel)
        }
    }
}
