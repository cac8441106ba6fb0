import GradusRuntime
import Testing
@testable import GradusOptim

/// The executor shortcuts that keep Stable-SPAM at two passes over memory: Adam reading a pending scalar factor
/// in its own loop (`fusesInputScale`), and AdaClip telling which blocks it leaves unchanged (so the AdaGN norm is
/// taken in the max pass and the clipping loop is skipped there). The trajectories through them equal the plain
/// path bit for bit (`FusedOptimizerTests.fusedMatchesPlainPath`); these check the pieces.
@Suite struct FusedExecutionTests {
    static let n = 37
    static let info = ParameterInfo(index: 0, shape: [n])

    /// One fused Adam update of `theta` from `input` with `inputScale`; returns θ, m, v.
    func adamStep(_ input: [Float], inputScale: Float) -> ([Float], [Double], [Double]) {
        let adam = AdamPreconditioner<Float>()
        var state = adam.makeState(for: Self.info)
        var shared = EmptyState()
        var ctx = TensorStepContext(globalStep: 3, tensorStep: 3, learningRate: 1e-3, parameter: Self.info)
        _ = adam.prepare(&state, shared: &shared, context: &ctx, rawStatistic: nil)
        state.m.load((0..<Self.n).map { Double($0 % 5) * 1e-3 })
        state.v.load((0..<Self.n).map { Double($0 % 3) * 1e-5 })
        var theta = (0..<Self.n).map { Float($0) / 10 - 1 }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * Self.n)
        defer { scratch.deallocate() }
        theta.withUnsafeMutableBufferPointer { t in
            input.withUnsafeBufferPointer { g in
                let block = BlockContext(offset: 0, count: Self.n, parameters: UnsafePointer(t.baseAddress!),
                                         workspace: scratch + Self.n, parameter: Self.info)
                let update = ParameterUpdate(parameters: t.baseAddress!, scale: -1e-3, preFactor: 0.99, postFactor: 1,
                                             scratch: scratch, inputScale: inputScale)
                _ = adam.applyUpdating(state, input: g.baseAddress!, weights: nil, update: update, block: block)
            }
        }
        return (theta, state.m.doubles, state.v.doubles)
    }

    @Test func adamInputScaleEqualsScalingTheInputFirst() {
        let g = (0..<Self.n).map { Float($0 % 7) * 0.013 - 0.04 }
        let s: Float = 0.37
        let fused = adamStep(g, inputScale: s)
        let scaledFirst = adamStep(g.map { s * $0 }, inputScale: 1)
        #expect(fused.0 == scaledFirst.0)
        #expect(fused.1 == scaledFirst.1 && fused.2 == scaledFirst.2)
        #expect(AdamPreconditioner<Float>().fusesInputScale)
        // Wrappers that read the input themselves must not claim it.
        #expect(!GradientChangeDamping(AdamPreconditioner<Float>()).fusesInputScale)
        #expect(MomentumReset(AdamPreconditioner<Float>(), interval: 3, timing: .beforeUpdate).fusesInputScale)
    }

    @Test func spikeClippingKnowsWhichBlocksItLeavesUnchanged() {
        let clip = SpikeClipping<Double>(gamma3: 0.9)
        var state = clip.makeState(for: Self.info)
        var shared = EmptyState()
        var ctx = TensorStepContext(globalStep: 1, tensorStep: 1, learningRate: 1e-3, parameter: Self.info)
        _ = clip.prepare(&state, shared: &shared, context: &ctx, rawStatistic: nil)
        clip.absorb(&state, shared: &shared, context: &ctx, inputStatistic: [2])  // threshold 0.2/(1 − 0.9) ≈ 2
        var below = 1.5, above = 2.5
        #expect(clip.leavesBlockUnchanged(state, blockStatistic: &below))
        #expect(!clip.leavesBlockUnchanged(state, blockStatistic: &above))
        // The default is the safe answer.
        #expect(!ClipByValue<Double>(1).leavesBlockUnchanged(EmptyState(), blockStatistic: &below))
        #expect(GradientNormalization<Double>().anticipatedInputStatistic(for: Self.info) == StatisticRequest(count: 1))
    }

    /// Stable-SPAM over several blocks with spikes in some of them and gradients without any: the norm gathered in
    /// the max pass and the skipped clipping give the plain path's trajectory exactly, in float64 and in the Swift
    /// float32 path. With the AVX2 kernels the max pass sums the squares in float32 lanes
    /// (`gradus__max_abs_sum_squares_f32_avx2`) while the plain path's norm pass sums them in double, so AdaGN's
    /// factor can differ in its last bits and round to a neighbouring float32: there the trajectories agree within
    /// 2 ulps.
    @Test func stableSPAMWithAndWithoutSpikesMatchesPlainPath() throws {
        for spikes in [false, true] {
            let shapes = [[3 * 4096 + 11]]
            func run<S: OptimizerScalar>(_ chain: GradientChain<S>) throws -> [[S]] {
                let opt = try FusedOptimizer<S>(chain: chain, shapes: shapes)
                var p: [[S]] = [(0..<shapes[0][0]).map { S(Double($0 % 13) / 7 - 0.9) }]
                for k in 0..<5 {
                    var g: [S] = (0..<shapes[0][0]).map { S(Double(($0 * 3 + k) % 17) / 9 - 0.95) }
                    if spikes { g[4096 + 100 * k] *= 40 }
                    try OptimizerConformance.withBuffers(&p, [g]) { try opt.step($0) }
                }
                return p
            }
            let f = try run(GradientChain<Float>.stableSPAM(weightDecay: 1e-2, resetInterval: 4))
            let fu = try run(unfused(GradientChain<Float>.stableSPAM(weightDecay: 1e-2, resetInterval: 4)))
            let diff = zip(f[0], fu[0]).enumerated().filter { $0.element.0 != $0.element.1 }
            if AdamStepKernel.float32 == .swift {
                #expect(diff.isEmpty, "float32, spikes: \(spikes): \(diff.count) differ, first \(diff.prefix(3))")
            } else {
                let far = diff.filter { abs($0.element.0 - $0.element.1) > 2 * $0.element.1.ulp }
                #expect(far.isEmpty, "float32 (AVX2), spikes: \(spikes): \(far.count) differ by more than 2 ulps, first \(far.prefix(3))")
            }
            let d = try run(GradientChain<Double>.stableSPAM(weightDecay: 1e-2, resetInterval: 4))
            let du = try run(unfused(GradientChain<Double>.stableSPAM(weightDecay: 1e-2, resetInterval: 4)))
            #expect(d == du, "float64, spikes: \(spikes)")
        }
    }
}
