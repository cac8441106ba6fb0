import Foundation
import GradusRuntime
import GradusTensor
import Testing
import _GradusShims
@testable import GradusOptim

/// What the float32 fast paths fuse: Stable-SPAM's statistics pass (`Kernels.spikeStatistics`, one loop for max |g|
/// and Σg²) and ⊥AdamW's projection inside the Adam kernel (`AdamPreconditioner.applyUpdatingProjected`), against
/// the loops they replace and float64 references; plus ⊥Grad's exact-norm pass for a gradient nearly parallel to
/// the weights, and thread-count independence of the statistics. Runs under both dispatch choices
/// (`GRADUS_NO_AVX2=1`: the fused kernels are not used and the executor takes the plain path).
@Suite struct OptimAVX2FusionTests {
    static let hasAVX2 = AdamStepKernel.isAVX2Available

    /// Deterministic values in [−1, 1) (SplitMix64).
    static func random(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Float(Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)) * 2 - 1
        }
    }

    // MARK: Stable-SPAM statistics

    @Test(arguments: [0, 1, 7, 8, 9, 31, 255, 256, 257, 1003, 4096])
    func spikeStatisticsMatchFloat64(_ n: Int) {
        var x = Self.random(n, seed: UInt64(n) &+ 5).map { $0 * 3 }
        if n > 3 { x[n / 2] = -7.5 }  // the largest magnitude, negative
        let s = x.withUnsafeBufferPointer { Kernels.spikeStatistics($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, count: n) }
        let refMax = x.map { Double($0.magnitude) }.max() ?? 0
        let refSum = x.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(s.maxMagnitude == refMax)
        // float32 lanes over chunks of 256: each lane adds ≤ 8 squares before the chunk sum goes to double.
        #expect((s.sumOfSquares - refSum).magnitude <= 1e-6 * refSum, "n=\(n): \(s.sumOfSquares) vs \(refSum)")
        // The plain loops agree within the same bound.
        let plain = x.withUnsafeBufferPointer { p -> Double in
            guard let b = p.baseAddress else { return 0 }
            return Kernels.sumOfSquares(b, count: n)
        }
        #expect((s.sumOfSquares - plain).magnitude <= 1e-6 * refSum)
    }

    @Test func spikeStatisticsZerosNaNAndInfinity() {
        let zeros = [Float](repeating: 0, count: 300)
        let z = zeros.withUnsafeBufferPointer { Kernels.spikeStatistics($0.baseAddress!, count: 300) }
        #expect(z.maxMagnitude == 0 && z.sumOfSquares == 0)
        var x = Self.random(300, seed: 3)
        x[260] = .nan
        let a = x.withUnsafeBufferPointer { Kernels.spikeStatistics($0.baseAddress!, count: 300) }
        #expect(a.sumOfSquares.isNaN, "a NaN reaches AdaGN's norm, as in the plain loop")
        #expect(a.maxMagnitude == x.filter { !$0.isNaN }.map { Double($0.magnitude) }.max()!, "max |g| ignores NaN")
        x[260] = -.infinity
        let b = x.withUnsafeBufferPointer { Kernels.spikeStatistics($0.baseAddress!, count: 300) }
        #expect(b.maxMagnitude == .infinity && b.sumOfSquares == .infinity)
    }

    /// The C kernel never reads past the block (masked tail): a block ending at the end of an allocation whose
    /// next page would fault is not needed here, but the values after the tail must not count.
    @Test(.enabled(if: OptimAVX2FusionTests.hasAVX2), arguments: [1, 9, 263])
    func spikeKernelIgnoresElementsPastTheCount(_ n: Int) {
        var x = Self.random(n + 8, seed: 11)
        for k in n..<(n + 8) { x[k] = 1e20 }
        var m: Float = 0, s = 0.0
        gradus__max_abs_sum_squares_f32_avx2(x, Int64(n), &m, &s)
        #expect(m < 2 && s < 1e4)
    }

    // MARK: ⊥Grad's dot products

    /// `gradus__projection_dots_f32_avx2` against float64 sums: within ~1e-7 of the sum of magnitudes (float32 lanes
    /// add at most 8 products before each chunk of 128 goes to double), and it adds to what the accumulator holds.
    @Test(.enabled(if: OptimAVX2FusionTests.hasAVX2), arguments: [1, 7, 8, 127, 128, 129, 1003, 4096])
    func projectionDotsMatchFloat64(_ n: Int) {
        let g = Self.random(n, seed: UInt64(n) &+ 90), w = Self.random(n, seed: UInt64(n) &+ 91).map { $0 * 3 }
        var dots: [Double] = [1, 2, 3]
        gradus__projection_dots_f32_avx2(g, w, Int64(n), &dots)
        let pairs = [(g, w), (w, w), (g, g)]
        for (k, (a, b)) in pairs.enumerated() {
            let exact = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let magnitude = zip(a, b).reduce(0.0) { $0 + (Double($1.0) * Double($1.1)).magnitude }
            #expect((dots[k] - Double(k + 1) - exact).magnitude <= 5e-7 * magnitude, "n=\(n) sum \(k)")
        }
        // Zeros, and NaN/∞ propagate.
        var z: [Double] = [0, 0, 0]
        gradus__projection_dots_f32_avx2([Float](repeating: 0, count: n), w, Int64(n), &z)
        #expect(z[0] == 0 && z[2] == 0)
        var bad = g
        bad[n - 1] = .infinity
        gradus__projection_dots_f32_avx2(bad, w, Int64(n), &z)
        #expect(z[2] == .infinity && (z[0].isInfinite || z[0].isNaN))
    }

    // MARK: ⊥Grad folded into Adam

    /// Adam at tensor step 3 with random moments, one block.
    static func adamState(_ n: Int, nesterov: Bool) -> (AdamPreconditioner<Float>, AdamPreconditioner<Float>.State) {
        let adam = AdamPreconditioner<Float>(form: nesterov ? .nesterov : .standard)
        let info = ParameterInfo(index: 0, shape: [n])
        var state = adam.makeState(for: info)
        var shared = EmptyState()
        var ctx = TensorStepContext(globalStep: 3, tensorStep: 3, learningRate: 1e-3, parameter: info)
        _ = adam.prepare(&state, shared: &shared, context: &ctx, rawStatistic: nil)
        state.m.base.update(from: random(n, seed: 21).map { $0 * 0.1 }, count: n)
        state.v.base.update(from: random(n, seed: 22).map { $0 * $0 * 0.01 }, count: n)
        return (adam, state)
    }

    /// One fused step: folded (`applyUpdatingProjected`) or the projection loop then `applyUpdating`.
    static func projectedStep(g: [Float], theta: [Float], k: Double, r: Double, folded: Bool, nesterov: Bool,
                              pre: Float, post: Float, inputScale: Float) -> (theta: [Float], m: [Float], v: [Float]) {
        let n = g.count
        let (adam, state) = adamState(n, nesterov: nesterov)
        var t = theta
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 3 * n)
        defer { scratch.deallocate() }
        t.withUnsafeMutableBufferPointer { tb in
            g.withUnsafeBufferPointer { gb in
                let ctx = BlockContext(offset: 0, count: n, parameters: UnsafePointer(tb.baseAddress!), workspace: scratch,
                                       parameter: ParameterInfo(index: 0, shape: [n]))
                let update = ParameterUpdate(parameters: tb.baseAddress!, scale: -1e-3, preFactor: pre, postFactor: post,
                                             scratch: scratch + n, inputScale: inputScale)
                if folded {
                    adam.applyUpdatingProjected(state, input: gb.baseAddress!, coefficient: Float(k), scale: Float(r),
                                                update: update, block: ctx)
                } else {
                    Projection.removeComponent(gb.baseAddress!, along: UnsafePointer(tb.baseAddress!), coefficient: k,
                                               scale: r, out: scratch + 2 * n, count: n)
                    _ = adam.applyUpdating(state, input: UnsafePointer(scratch + 2 * n), weights: nil, update: update, block: ctx)
                }
            }
        }
        return (t, Array(UnsafeBufferPointer(start: state.m.base, count: n)), Array(UnsafeBufferPointer(start: state.v.base, count: n)))
    }

    @Test(.enabled(if: OptimAVX2FusionTests.hasAVX2 && AdamPreconditioner<Float>.foldsIntoAVX2Kernel), arguments: [1, 7, 8, 9, 17, 1003])
    func foldedProjectionEqualsProjectionThenAdam(_ n: Int) {
        var g = Self.random(n, seed: UInt64(n) &* 7)
        let theta = Self.random(n, seed: UInt64(n) &* 7 &+ 1)
        if n > 8 { g[3] = 0; g[5] = .nan; g[6] = .infinity }
        for nesterov in [false, true] {
            for (pre, post, s) in [(Float(1), Float(1), Float(1)), (0.99, 0.999, 0.37)] {
                let a = Self.projectedStep(g: g, theta: theta, k: 0.3141, r: 1.25, folded: true, nesterov: nesterov,
                                           pre: pre, post: post, inputScale: s)
                let b = Self.projectedStep(g: g, theta: theta, k: 0.3141, r: 1.25, folded: false, nesterov: nesterov,
                                           pre: pre, post: post, inputScale: s)
                func same(_ x: [Float], _ y: [Float]) -> Bool {
                    zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
                }
                #expect(same(a.theta, b.theta) && same(a.m, b.m) && same(a.v, b.v), "n=\(n) nesterov=\(nesterov) pre=\(pre)")
                if n > 8 {
                    #expect(a.theta[5].isNaN && a.m[5].isNaN, "NaN gradient propagates")
                    #expect(a.theta[3].isFinite)
                }
            }
        }
    }

    // MARK: SPAM's clipping folded into Adam

    /// One fused SPAM step on one block: folded (`applyUpdatingSpikeClipped`) or `SpikeAwareClipping`'s loop, then
    /// `applyUpdating`; θ, m, v and the clipped count. `zeroV`: entries whose v is 0 (every nonzero g clips to ±0).
    static func clippedStep(g: [Float], theta: [Float], threshold: Float, folded: Bool, nesterov: Bool, pre: Float,
                            post: Float, zeroV: [Int]) -> (theta: [Float], m: [Float], v: [Float], clipped: Int) {
        let n = g.count
        let (adam, state) = adamState(n, nesterov: nesterov)
        for i in zeroV where i < n { state.v.base[i] = 0 }
        var t = theta
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 3 * n)
        defer { scratch.deallocate() }
        var clipped = -1
        t.withUnsafeMutableBufferPointer { tb in
            g.withUnsafeBufferPointer { gb in
                let ctx = BlockContext(offset: 0, count: n, parameters: UnsafePointer(tb.baseAddress!), workspace: scratch,
                                       parameter: ParameterInfo(index: 0, shape: [n]))
                let update = ParameterUpdate(parameters: tb.baseAddress!, scale: -1e-3, preFactor: pre, postFactor: post,
                                             scratch: scratch + n)
                if folded {
                    clipped = adam.applyUpdatingSpikeClipped(state, input: gb.baseAddress!, threshold: threshold,
                                                             update: update, block: ctx) ?? -1
                } else {
                    let spam = SpikeAwareClipping(adam, threshold: Double(threshold))
                    clipped = spam.clip(.init(inner: state), input: gb.baseAddress!, output: scratch + 2 * n, block: ctx)
                    _ = adam.applyUpdating(state, input: UnsafePointer(scratch + 2 * n), weights: nil, update: update, block: ctx)
                }
            }
        }
        return (t, Array(UnsafeBufferPointer(start: state.m.base, count: n)), Array(UnsafeBufferPointer(start: state.v.base, count: n)),
                clipped)
    }

    @Test(.enabled(if: OptimAVX2FusionTests.hasAVX2 && AdamPreconditioner<Float>.foldsIntoAVX2Kernel), arguments: [1, 7, 8, 9, 17, 1003])
    func foldedSpikeClipEqualsClipThenAdam(_ n: Int) {
        var g = Self.random(n, seed: UInt64(n) &* 13)
        let theta = Self.random(n, seed: UInt64(n) &* 13 &+ 1)
        if n > 8 { g[3] = 0; g[5] = .nan; g[6] = .infinity; g[7] = -.infinity; g[8] = -0.5 }
        let zeroV = [1, 2, 3, 8]  // g[1], g[2] random: clip to ±0; g[3] = 0: never clips; g[8] < 0: clips to −0
        for threshold: Float in [5000, 4] {
            for nesterov in [false, true] {
                for (pre, post) in [(Float(1), Float(1)), (0.99, 0.999)] {
                    let a = Self.clippedStep(g: g, theta: theta, threshold: threshold, folded: true, nesterov: nesterov,
                                             pre: pre, post: post, zeroV: zeroV)
                    let b = Self.clippedStep(g: g, theta: theta, threshold: threshold, folded: false, nesterov: nesterov,
                                             pre: pre, post: post, zeroV: zeroV)
                    func same(_ x: [Float], _ y: [Float]) -> Bool {
                        zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
                    }
                    let what = "n=\(n) θ=\(threshold) nesterov=\(nesterov) pre=\(pre)"
                    #expect(same(a.theta, b.theta) && same(a.m, b.m) && same(a.v, b.v), "\(what)")
                    #expect(a.clipped == b.clipped, "\(what): clipped \(a.clipped) vs \(b.clipped)")
                    if n > 8 { #expect(b.clipped >= 3, "\(what): the zero-v entries clip") }
                }
            }
        }
    }

    /// Whole optimizer: float32 ⊥AdamW (folded when the AVX2 kernel runs) against float64 ⊥AdamW from the same
    /// float32 inputs, several steps, several blocks with a tail; within the spec's float32 tolerance shape.
    @Test func perpAdamWFloat32TracksFloat64() throws {
        let n = 3 * FusedOptimizer<Float>.blockSize + 77
        let theta0 = Self.random(n, seed: 41)
        let grads = (0..<4).map { Self.random(n, seed: 100 + UInt64($0)) }
        let f = try FusedOptimizer<Float>(chain: .perpAdamW(learningRate: .constant(1e-2), weightDecay: 0.1), shapes: [[n]])
        let d = try FusedOptimizer<Double>(chain: .perpAdamW(learningRate: .constant(1e-2), weightDecay: 0.1), shapes: [[n]])
        var tf = theta0, td = theta0.map(Double.init)
        for gs in grads {
            // The gradient depends on θ (a quadratic pull plus noise), so the projection changes every step.
            let gf = zip(gs, tf).map { $0 + 0.5 * $1 }
            let gd = zip(gs, td).map { Double($0) + 0.5 * $1 }
            try tf.withUnsafeMutableBufferPointer { t in
                try gf.withUnsafeBufferPointer { try f.step([ParameterBuffer(values: t.baseAddress!, gradient: $0.baseAddress!, count: n)]) }
            }
            try td.withUnsafeMutableBufferPointer { t in
                try gd.withUnsafeBufferPointer { try d.step([ParameterBuffer(values: t.baseAddress!, gradient: $0.baseAddress!, count: n)]) }
            }
        }
        let worst = zip(tf, td).map { (Double($0) - $1).magnitude - 1e-5 * $1.magnitude }.max()!
        #expect(worst <= 1e-6, "worst deviation beyond 1e-5 relative: \(worst)")
    }

    // MARK: ⊥Grad with g nearly parallel to w

    /// g = 2w + δ with ‖δ‖ ≪ ‖g‖: ‖g⊥‖² from the dot products is pure cancellation, so the executor takes ‖g⊥‖ from
    /// g⊥ itself. ⊥SGD with lr 1 gives θ_before − θ_after = g⊥·‖g‖/‖g⊥‖: its norm must be ‖g‖ and it must be
    /// orthogonal to w.
    @Test func nearlyParallelGradientKeepsItsNorm() throws {
        let n = 2 * FusedOptimizer<Double>.blockSize + 5
        let w = Self.random(n, seed: 61).map { Double($0) + 2 }
        let noise = Self.random(n, seed: 62).map(Double.init)
        for relative in [1e-7, 1e-9, 1e-11] {
            let g = zip(w, noise).map { 2 * $0 + relative * $1 }
            let opt = try FusedOptimizer<Double>(chain: .orthoGrad(.sgd(learningRate: .constant(1))), shapes: [[n]])
            var theta = w
            try theta.withUnsafeMutableBufferPointer { t in
                try g.withUnsafeBufferPointer { try opt.step([ParameterBuffer(values: t.baseAddress!, gradient: $0.baseAddress!, count: n)]) }
            }
            let u = zip(w, theta).map { $0 - $1 }
            let normU = u.reduce(0) { $0 + $1 * $1 }.squareRoot(), normG = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let normW = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let cosine = zip(u, w).reduce(0) { $0 + $1.0 * $1.1 } / (normU * normW)
            #expect((normU - normG).magnitude <= 1e-6 * normG, "relative \(relative): ‖u‖ \(normU) vs ‖g‖ \(normG)")
            #expect(cosine.magnitude <= 1e-3, "relative \(relative): cos(u, w) = \(cosine)")
        }
    }

    /// The same in float32 through ⊥AdamW's transform alone (statistics, absorb, exact pass, projection): the
    /// output's norm is ‖g‖ to float32 precision, where the dot-product formula is off by ~1e-7·‖g‖/‖g⊥‖.
    @Test func nearlyParallelFloat32UsesTheExactNorm() throws {
        let n = FusedOptimizer<Float>.blockSize + 9
        let w = Self.random(n, seed: 71).map { $0 + 2 }
        let noise = Self.random(n, seed: 72)
        let g = zip(w, noise).map { 2 * $0 + 1e-4 * $1 }
        let opt = try FusedOptimizer<Float>(chain: .orthoGrad(.sgd(learningRate: .constant(1))), shapes: [[n]])
        var theta = w
        try theta.withUnsafeMutableBufferPointer { t in
            try g.withUnsafeBufferPointer { try opt.step([ParameterBuffer(values: t.baseAddress!, gradient: $0.baseAddress!, count: n)]) }
        }
        // Recompute what the transform outputs from its stored coefficients (θ − θ' loses bits in float32).
        let state = try #require(opt.state(of: OrthogonalProjection<Float>.self, slot: 0, tensor: 0))
        #expect(state.pendingExactNorm == nil)
        let k = Float(state.coefficient), r = Float(state.rescale)
        let u = zip(g, w).map { Double(r * ($0 - k * $1)) }
        let normU = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let normG = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect((normU - normG).magnitude <= 1e-5 * normG, "‖u‖ \(normU) vs ‖g‖ \(normG)")
        // Far from parallel, no second pass is needed.
        var s = OrthogonalProjection<Float>.State()
        var shared = EmptyState()
        var ctx = TensorStepContext(globalStep: 1, tensorStep: 1, learningRate: 1, parameter: ParameterInfo(index: 0, shape: [n]))
        OrthogonalProjection<Float>().absorb(&s, shared: &shared, context: &ctx, inputStatistic: [1, 4, 1])
        #expect(s.pendingExactNorm == nil)
        OrthogonalProjection<Float>().absorb(&s, shared: &shared, context: &ctx, inputStatistic: [2, 1, 4])
        #expect(s.pendingExactNorm == 4)
    }

    // MARK: Thread-count independence

    /// Statistics are reduced in block order whatever worker ran a block: the sum equals the sequential fold of the
    /// per-block values bit for bit (per-worker partial sums made it depend on the split, so on the thread count).
    @Test func statisticsAreReducedInBlockOrder() throws {
        let n = 37 * FusedOptimizer<Double>.blockSize + 3
        let opt = try FusedOptimizer<Double>(chain: .sgd(learningRate: .constant(1)), shapes: [[n]])
        opt.ensureWorkerMemory()
        let blocks = (n + FusedOptimizer<Double>.blockSize - 1) / FusedOptimizer<Double>.blockSize
        // Values whose sum depends on the order of the additions.
        let values: [Double] = (0..<blocks).map { (b: Int) -> Double in
            let magnitude: Double = b % 7 == 0 ? 1e16 : 1
            let sign: Double = b % 2 == 0 ? 1 : -1
            return magnitude * sign + Double(b) * 0.1
        }
        let total = opt.parallelBlocks(count: n, width: 2, reductions: [.sum, .max]) { b, _, acc in
            acc[0] += values[b]
            acc[1] = Swift.max(acc[1], values[b])
        }
        var sequential = values[0]
        for v in values.dropFirst() { sequential += v }
        #expect(total[0].bitPattern == sequential.bitPattern)
        #expect(total[1] == values.max()!)
    }
}
