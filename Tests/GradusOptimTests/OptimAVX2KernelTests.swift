import Foundation
import GradusRuntime
import Testing
import _GradusShims
@testable import GradusOptim

/// The AVX2+FMA Adam/diffGrad step kernel (`gradus__adam_step_f32_avx2`) against the Swift loop it replaces for
/// `Float` and against a float64 reference of the same element step, on random data with tails, zero
/// gradients, huge and tiny values and NaNs. The AVX2 cases run only on a CPU with AVX2 and FMA; the whole
/// suite runs under both dispatch choices (`GRADUS_NO_AVX2=1` forces the Swift loop in the optimizers).
@Suite struct OptimAVX2KernelTests {
    static let hasAVX2 = AdamStepKernel.isAVX2Available

    /// Inputs of one block: gradient, previous gradient, m, v, θ, weights.
    struct Block {
        var g: [Float], prev: [Float], m: [Float], v: [Float], theta: [Float], w: [Float]
        var n: Int { g.count }

        /// Random block with values around `scale` (SplitMix64, deterministic per seed).
        static func random(_ n: Int, seed: UInt64, scale: Float = 1) -> Block {
            var s = seed
            func next() -> Float {
                s &+= 0x9E37_79B9_7F4A_7C15
                var z = s
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return Float(Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)) * 2 - 1
            }
            func vec(_ k: Float) -> [Float] { (0..<n).map { _ in next() * k } }
            return Block(g: vec(scale), prev: vec(scale), m: vec(scale * 0.1), v: vec(scale).map { $0 * $0 * 0.01 },
                         theta: vec(1), w: vec(1).map { 0.5 + $0.magnitude })
        }
    }

    /// What a step leaves behind: the update `u` (unfused) or θ (fused), and the state.
    struct Result: Equatable { var out: [Float], m: [Float], v: [Float], prev: [Float] }

    /// Options of one step.
    struct Options {
        var friction = true, nesterov = false, fused = false, weights = false
        var inputScale: Float = 1, pre: Float = 1, scale: Float = -1e-3, post: Float = 1
        static let all: [Options] = [false, true].flatMap { fr in [false, true].flatMap { ne in
            [Options(friction: fr, nesterov: ne),
             Options(friction: fr, nesterov: ne, fused: true),
             Options(friction: fr, nesterov: ne, fused: true, weights: true, inputScale: 0.37, pre: 0.99, scale: -2e-3, post: 0.999)]
        } }
    }

    /// Adam (Nesterov when asked) with its state prepared for tensor step 3 (so the bias-correction scale is not 1).
    static func prepared(_ o: Options, count n: Int) -> (AdamPreconditioner<Float>, AdamPreconditioner<Float>.State) {
        let adam = AdamPreconditioner<Float>(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, correction: .afterBiasCorrection,
                                             form: o.nesterov ? .nesterov : .standard)
        let info = ParameterInfo(index: 0, shape: [n])
        var state = adam.makeState(for: info)
        var shared = EmptyState()
        var ctx = TensorStepContext(globalStep: 3, tensorStep: 3, learningRate: 1e-3, parameter: info)
        _ = adam.prepare(&state, shared: &shared, context: &ctx, rawStatistic: nil)
        return (adam, state)
    }

    /// One step of `kernel` on `b`.
    static func run(_ b: Block, _ o: Options, kernel: AdamStepKernel) -> Result {
        let (adam, state) = prepared(o, count: b.n)
        let info = ParameterInfo(index: 0, shape: [b.n])
        state.m.base.update(from: b.m, count: b.n)
        state.v.base.update(from: b.v, count: b.n)
        var prev = b.prev, theta = b.theta, out = [Float](repeating: .nan, count: b.n)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * b.n)
        defer { scratch.deallocate() }
        prev.withUnsafeMutableBufferPointer { p in
            theta.withUnsafeMutableBufferPointer { t in
                out.withUnsafeMutableBufferPointer { u in
                    b.g.withUnsafeBufferPointer { g in
                        b.w.withUnsafeBufferPointer { w in
                            let block = BlockContext(offset: 0, count: b.n, parameters: UnsafePointer(t.baseAddress!),
                                                     workspace: scratch + b.n, parameter: info)
                            let previous = o.friction ? p.baseAddress! : nil
                            if o.fused {
                                let update = ParameterUpdate(parameters: t.baseAddress!, scale: o.scale, preFactor: o.pre,
                                                             postFactor: o.post, scratch: scratch, inputScale: o.inputScale)
                                _ = adam.fused(state, g.baseAddress!, o.weights ? w.baseAddress! : nil, previous, update,
                                               block, kernel: kernel)
                            } else {
                                _ = adam.unfused(state, g.baseAddress!, previous, u.baseAddress!, block, kernel: kernel)
                            }
                        }
                    }
                }
            }
        }
        let m = Array(UnsafeBufferPointer(start: state.m.base, count: b.n))
        let v = Array(UnsafeBufferPointer(start: state.v.base, count: b.n))
        return Result(out: o.fused ? theta : out, m: m, v: v, prev: o.friction ? prev : b.prev)
    }

    /// The element step in float64 from the same float32 inputs and coefficients, with an error scale per output
    /// (the sum of the magnitudes of the terms, so cancellation does not demand a relative accuracy it cannot have).
    static func reference(_ b: Block, _ o: Options) -> (out: [Double], outScale: [Double], m: [Double], mScale: [Double], v: [Double]) {
        let state = prepared(o, count: b.n).1
        // 1 − β rounded from the Double difference, as AdamPreconditioner does (not 1 − Float(β)).
        let b1 = Double(state.beta1), c1 = Double(state.oneMinusBeta1), b2 = Double(Float(0.999)), c2 = Double(Float(1 - 0.999))
        let a = Double(state.denominatorScale), eps = Double(Float(1e-8))
        var r: (out: [Double], outScale: [Double], m: [Double], mScale: [Double], v: [Double]) = ([], [], [], [], [])
        for i in 0..<b.n {
            let g = o.fused ? Double(o.inputScale * b.g[i]) : Double(b.g[i])
            let mi = b1 * Double(b.m[i]) + c1 * g, vi = b2 * Double(b.v[i]) + c2 * g * g
            let f = o.friction ? 1 + exp(-abs(Double(b.prev[i]) - g)) : 1
            let num = o.nesterov ? b1 * mi + c1 * g : mi
            let numScale = o.nesterov ? b1 * (b1 * abs(Double(b.m[i])) + abs(c1 * g)) + abs(c1 * g) : b1 * abs(Double(b.m[i])) + abs(c1 * g)
            var u = num / ((vi.squareRoot() * a + eps) * f), uScale = numScale / ((vi.squareRoot() * a + eps) * f)
            if o.fused {
                let w = o.weights ? Double(b.w[i]) : 1
                let th = Double(b.theta[i]), pre = Double(o.pre), c = Double(o.scale), post = Double(o.post)
                (u, uScale) = ((th * pre + c * u * w) * post, (abs(th * pre) + abs(c * uScale * w)) * abs(post))
            }
            r.out.append(u); r.outScale.append(uScale)
            r.m.append(mi); r.mScale.append(b1 * abs(Double(b.m[i])) + abs(c1 * g)); r.v.append(vi)
        }
        return r
    }

    /// Largest error of `x` against `ref`, in units of `scale`·ε (float32).
    static func worst(_ x: [Float], _ ref: [Double], _ scale: [Double]) -> Double {
        zip(x, zip(ref, scale)).map { (Double($0) - $1.0).magnitude / ($1.1 * Double(Float.ulpOfOne)) }.max() ?? 0
    }

    static func expectClose(_ r: Result, to b: Block, _ o: Options, _ label: String) {
        let ref = reference(b, o)
        // m, v: one or two roundings; u: √, ×, ÷ and the friction's ≤ 3 ulp; θ: the update's roundings.
        #expect(worst(r.m, ref.m, ref.mScale) <= 2, "\(label) m")
        #expect(worst(r.v, ref.v, ref.v) <= 3, "\(label) v")
        #expect(worst(r.out, ref.out, ref.outScale) <= 10, "\(label) out")
        if o.friction { #expect(r.prev == b.g.map { o.fused ? o.inputScale * $0 : $0 }, "\(label) previous") }
    }

    /// NaN in the same places, and every other value equal or both infinite of the same sign.
    static func expectSameSpecials(_ x: [Float], _ y: [Float], _ label: String) {
        for i in x.indices where x[i].isNaN || y[i].isNaN || x[i].isInfinite || y[i].isInfinite {
            #expect(x[i].isNaN == y[i].isNaN && (x[i].isNaN || x[i] == y[i]), "\(label)[\(i)]: \(x[i]) vs \(y[i])")
        }
    }

    @Test(arguments: [1, 7, 8, 9, 1003])
    func swiftLoopMatchesFloat64(_ n: Int) {
        for (k, o) in Options.all.enumerated() {
            let b = Block.random(n, seed: UInt64(n * 31 + k))
            Self.expectClose(Self.run(b, o, kernel: .swift), to: b, o, "swift n=\(n) \(o)")
        }
    }

    @Test(.enabled(if: OptimAVX2KernelTests.hasAVX2), arguments: [1, 7, 8, 9, 1003])
    func avx2KernelMatchesFloat64AndTheSwiftLoop(_ n: Int) {
        for (k, o) in Options.all.enumerated() {
            let b = Block.random(n, seed: UInt64(n * 31 + k))
            let fast = Self.run(b, o, kernel: .avx2), swift = Self.run(b, o, kernel: .swift)
            Self.expectClose(fast, to: b, o, "avx2 n=\(n) \(o)")
            // Both are a few roundings from float64, so within the sum of their bounds of each other.
            let ref = Self.reference(b, o)
            func double(_ x: [Float]) -> [Double] { x.map(Double.init) }
            #expect(Self.worst(fast.m, double(swift.m), ref.mScale) <= 4, "avx2 vs swift m n=\(n) \(o)")
            #expect(Self.worst(fast.v, double(swift.v), ref.v) <= 6, "avx2 vs swift v n=\(n) \(o)")
            #expect(Self.worst(fast.out, double(swift.out), ref.outScale) <= 20, "avx2 vs swift out n=\(n) \(o)")
            #expect(fast.prev == swift.prev)
        }
    }

    /// The kernel writes exactly the block: the elements after a tail stay untouched.
    @Test(.enabled(if: OptimAVX2KernelTests.hasAVX2), arguments: [1, 7, 9, 13])
    func tailWritesNothingPastTheBlock(_ n: Int) {
        let sentinel: Float = 12345
        // m, v, previous, θ, output, gradient (0.2): n + 8 elements each, the last 8 sentinels (the gradient's too).
        let buffers = (0..<6).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: n + 8) }
        defer { buffers.forEach { $0.deallocate() } }
        for fused in [false, true] {
            for p in buffers { p.update(repeating: 0.1, count: n); (p + n).update(repeating: sentinel, count: 8) }
            buffers[5].update(repeating: 0.2, count: n)
            var args = gradus__adam_step_f32_args(
                m: buffers[0], v: buffers[1], previous: buffers[2], input: buffers[5], weights: nil,
                parameters: fused ? buffers[3] : nil, output: buffers[4], count: Int64(n), beta1: 0.9, one_minus_beta1: 0.1,
                beta2: 0.999, one_minus_beta2: 0.001, denominator_scale: 1, epsilon: 1e-8, input_scale: 1, pre_factor: 1,
                scale: -1e-3, post_factor: 1, nesterov: 0, project: 0, projection_coefficient: 0, projection_scale: 1,
                clip: 0, clip_threshold: 0)
            _ = gradus__adam_step_f32_avx2(&args)
            for (k, p) in buffers.enumerated() {
                #expect((0..<8).allSatisfy { p[n + $0] == sentinel }, "fused \(fused) buffer \(k)")
                let changed = k <= 2 || (k == 3 && fused) || (k == 4 && !fused) || k == 5  // the input holds 0.2
                #expect((0..<n).allSatisfy { (p[$0] != 0.1) == changed }, "fused \(fused) buffer \(k)")
            }
        }
    }

    /// Zero gradients on zero moments (the first step of a frozen parameter): u = 0, θ unchanged, no NaN.
    @Test func zeroGradientsGiveZeroUpdates() {
        let kernels: [AdamStepKernel] = Self.hasAVX2 ? [.swift, .avx2] : [.swift]
        for kernel in kernels {
            for o in Options.all {
                let z = [Float](repeating: 0, count: 19)
                let b = Block(g: z, prev: z, m: z, v: z, theta: (0..<19).map { Float($0) - 9 }, w: z.map { _ in 1 })
                let r = Self.run(b, o, kernel: kernel)
                #expect(r.m == z && r.v == z && r.prev == z, "\(kernel) \(o)")
                let expected = o.fused ? b.theta.map { ($0 * o.pre + o.scale * 0) * o.post } : z
                #expect(r.out == expected, "\(kernel) \(o)")
            }
        }
    }

    /// Gradients from 1e−30 to 1e30 (g² underflows and overflows in float32), NaNs in each input: the AVX2 kernel
    /// gives NaN and ±∞ where the Swift loop does, and otherwise values within a few ulp.
    @Test(.enabled(if: OptimAVX2KernelTests.hasAVX2))
    func extremeValuesAndNaNsAsTheSwiftLoop() {
        let n = 45
        var b = Block.random(n, seed: 7)
        let magnitudes: [Float] = [1e-30, 1e-20, 1e-10, 1e10, 1e19, 1e20, 1e30, .greatestFiniteMagnitude, .infinity]
        for i in 0..<n {
            let e = magnitudes[i % magnitudes.count]
            b.g[i] = (i % 2 == 0 ? e : -e)
            b.prev[i] = i % 3 == 0 ? -b.g[i] : b.prev[i]
        }
        b.g[5] = .nan; b.prev[11] = .nan; b.m[17] = .nan; b.v[23] = .nan; b.theta[29] = .nan; b.w[35] = .nan
        b.v[40] = .infinity; b.m[41] = -.infinity
        for o in Options.all {
            let fast = Self.run(b, o, kernel: .avx2), swift = Self.run(b, o, kernel: .swift)
            for (x, y, name) in [(fast.out, swift.out, "out"), (fast.m, swift.m, "m"), (fast.v, swift.v, "v"), (fast.prev, swift.prev, "prev")] {
                Self.expectSameSpecials(x, y, "\(o) \(name)")
                for i in x.indices where x[i].isFinite && y[i].isFinite {
                    #expect((x[i] - y[i]).magnitude <= 16 * Swift.max(x[i].magnitude, y[i].magnitude).ulp + 1e-37,
                            "\(o) \(name)[\(i)]: \(x[i]) vs \(y[i])")
                }
            }
            #expect(fast.out[5].isNaN && fast.m[5].isNaN, "NaN gradient propagates")
            if o.friction { #expect(fast.out[11].isNaN, "NaN previous gradient propagates") }
        }
    }

    /// The kernel's friction polynomial, as `FusedOptimizerTests.frictionIsCloseToFloat64` checks the Swift one.
    @Test(.enabled(if: OptimAVX2KernelTests.hasAVX2))
    func frictionIsCloseToFloat64() {
        var xs: [Float] = []
        var x: Float = 1e-30
        while x < 200 { xs.append(x); xs.append(-x); x = x < 1e-3 ? x * 1.7 : x * 1.000_37 }
        var d = [Float](repeating: 0, count: xs.count)
        gradus__friction_denominator_f32_avx2(xs, &d, Int64(xs.count))
        var worst: Double = 0
        for (s, f) in zip(xs, d) {
            let r = 1 / (1 + exp(-Double(s.magnitude)))
            worst = Swift.max(worst, (Double(1 / f) - r).magnitude / r)
        }
        #expect(worst < 2 * Double(Float.ulpOfOne), "worst relative error \(worst)")  // measured 1.25 ulp
        let specials: [Float] = [0, -0.0, -1e30, .infinity, -.infinity, .nan]
        var out = [Float](repeating: 0, count: specials.count)
        gradus__friction_denominator_f32_avx2(specials, &out, Int64(specials.count))
        #expect(out[0] == 2 && out[1] == 2 && out[2] == 1 && out[3] == 1 && out[4] == 1 && out[5].isNaN)
    }

    /// `fused` equals `unfused` followed by the executor's separate update (`Kernels.multiply`, `Kernels.applyUpdate`)
    /// bit for bit, for each kernel: what keeps `FusedOptimizerTests.fusedMatchesPlainPath` true.
    @Test func fusedEqualsUnfusedThenUpdate() {
        let kernels: [AdamStepKernel] = Self.hasAVX2 ? [.swift, .avx2] : [.swift]
        for kernel in kernels {
            for o in Options.all where o.fused {
                let b = Block.random(1003, seed: 99)
                let fused = Self.run(b, o, kernel: kernel)
                var plainOptions = o
                plainOptions.fused = false
                var scaled = b
                scaled.g = b.g.map { o.inputScale * $0 }
                var u = Self.run(scaled, plainOptions, kernel: kernel).out
                var theta = b.theta
                if o.weights { Kernels.multiply(&u, by: b.w, count: b.n) }
                Kernels.applyUpdate(&theta, update: u, scale: o.scale, preFactor: o.pre, postFactor: o.post, count: b.n)
                #expect(fused.out == theta, "\(kernel) \(o)")
            }
        }
    }

    /// The dispatch honours `GRADUS_NO_AVX2`.
    @Test func dispatchFollowsTheEnvironment() {
        let off = ProcessInfo.processInfo.environment["GRADUS_NO_AVX2"].map { !$0.isEmpty && $0 != "0" } ?? false
        #expect(AdamStepKernel.float32 == (Self.hasAVX2 && !off ? .avx2 : .swift))
    }
}
