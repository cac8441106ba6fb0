// The fast 8-bit Adam kernel is bit-identical to the plain one it replaced: the direct nearest-code encoder
// against the midpoint encoder on every bucket edge, every midpoint ± a few ulps and the special values; the
// fused optimizer step (moments, codes, absmax, parameters) against the reference kernel over several steps.
import GradusQuant
import GradusRuntime
import Testing
@testable import GradusOptim

@Suite struct DirectEncoder8bitTests {
    /// Adversarial inputs: both ends and the middle of every table bucket (both signs), every midpoint ± 4
    /// ulps (both signs), zeros, subnormals, values just above 1, ±∞ and NaNs.
    static func adversarialInputs(_ codebook: Codebook) -> [Float] {
        var xs: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .nan, -.nan, Float(bitPattern: 0x7FC0_1234),
                           Float(bitPattern: 0xFFC0_0001), .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                           .leastNormalMagnitude, 1.0001, -1.0001, 1.0038, -1.0038, 1.004, -1.004, 2, -3, 1e30, -1e30,
                           .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        for b in 0..<UInt32(0xFE01) {
            for low: UInt32 in [0, 0x1FFF, 0x3FFF] {
                let f = Float(bitPattern: b << 14 | low)
                xs.append(f); xs.append(-f)
            }
        }
        for m in codebook.midpoints {
            var f = Float(m)
            for _ in 0..<4 { f = f.nextDown }
            for _ in 0..<9 { xs.append(f); xs.append(-f); f = f.nextUp }
        }
        return xs
    }

    @Test(arguments: [Codebook.dynamicSigned, .dynamicUnsigned])
    func directPathEqualsMidpointPath(codebook: Codebook) {
        let enc = FastCodebookEncoder(codebook)
        #expect(enc.hasDirectPath)
        let xs = Self.adversarialInputs(codebook)
        for inv: Float in [1, 0.75, 3.5e3] {
            var direct = [UInt8](repeating: 0, count: xs.count), byMid = direct
            enc.encode(xs, count: xs.count, inverseScale: inv, into: &direct)
            enc.encodeByMidpoints(xs, count: xs.count, inverseScale: inv, into: &byMid)
            let bad = (0..<xs.count).filter { direct[$0] != byMid[$0] }
            #expect(bad.isEmpty, "inverse scale \(inv): \(bad.count) codes differ, e.g. \(bad.prefix(3).map { xs[$0] })")
        }
        // and both are the exact nearest code (ties → lower value) on the clamped finite inputs
        let finite = xs.filter { $0.isFinite }
        var got = [UInt8](repeating: 0, count: finite.count)
        enc.encode(finite, count: finite.count, inverseScale: 1, into: &got)
        let bad = (0..<finite.count).filter { got[$0] != codebook.encode(Double(max(-1, min(1, finite[$0])))) }
        #expect(bad.isEmpty, "\(bad.count) codes differ from the binary search")
    }

    /// The folded table of `Blockwise8bitMoments.adamStep` (16 lanes, then a scalar tail) equals the direct path.
    @Test(arguments: [Codebook.dynamicSigned, .dynamicUnsigned])
    func foldedPathEqualsDirectPath(codebook: Codebook) {
        let enc = FastCodebookEncoder(codebook)
        let xs = Self.adversarialInputs(codebook)
        for inv: Float in [1, 0.75, 3.5e3] {
            for n in [xs.count, 37, 16, 5] {
                var direct = [UInt8](repeating: 0, count: n), folded = direct
                var keys = [UInt32](repeating: 0, count: n)
                enc.encode(xs, count: n, inverseScale: inv, into: &direct)
                enc.foldedOffsets.withUnsafeBufferPointer { t in
                    Blockwise8bitMoments.encodeFolded(xs, count: n, inverseScale: inv, into: &folded, table: t.baseAddress!,
                                                      keys: &keys)
                }
                let bad = (0..<n).filter { direct[$0] != folded[$0] }
                #expect(bad.isEmpty, "inverse scale \(inv), n \(n): \(bad.count) codes differ, e.g. \(bad.prefix(3).map { xs[$0] })")
            }
        }
    }

    @Test func noDirectPathForFourBitCodebooks() {
        #expect(!FastCodebookEncoder(.nf4).hasDirectPath)
    }
}

@Suite struct Adam8bitFastKernelTests {
    /// Gradients with a wide dynamic range per block, zero blocks and a partial last block.
    static func gradient(_ n: Int, step: Int) -> [Float] {
        var rng = PhiloxStream(seed: UInt64(100 + step))
        return (0..<n).map { i in
            let block = i / 256
            if block % 7 == 3 { return 0 }
            let u = Float(rng.nextDouble()) * 2 - 1
            let scale: Float = [1, 1e-3, 1e-6, 30, 1e-9][block % 5]
            return i % 97 == 0 ? u * scale * 1e4 : u * scale
        }
    }

    static func referenceChain(_ chain: GradientChain<Float>) -> GradientChain<Float> {
        GradientChain(chain.transforms.map { t -> any GradientTransform<Float> in
            if var a = t as? AdamPreconditioner8bit<Float> { a.usesReferenceKernel = true; return a }
            if var r = t as? MomentumReset<AdamPreconditioner8bit<Float>> { r.inner.usesReferenceKernel = true; return r }
            return t
        })
    }

    static func referenceChain(_ chain: GradientChain<Double>) -> GradientChain<Double> {
        GradientChain(chain.transforms.map { t -> any GradientTransform<Double> in
            if var a = t as? AdamPreconditioner8bit<Double> { a.usesReferenceKernel = true; return a }
            return t
        })
    }

    /// Runs `steps` steps; returns the parameters and the 8-bit state entries.
    static func run<S: OptimizerScalar>(_ chain: GradientChain<S>, n: Int, steps: Int) throws -> ([S], [StateEntry]) {
        let opt = try FusedOptimizer(chain: chain, shapes: [[n]])
        var x = (0..<n).map { S(Float(($0 % 13) - 6) * 0.1) }
        for s in 0..<steps {
            let g = gradient(n, step: s).map { S($0) }
            try x.withUnsafeMutableBufferPointer { xb in
                try g.withUnsafeBufferPointer { gb in
                    try opt.step([ParameterBuffer(values: xb.baseAddress!, gradient: gb.baseAddress!, count: n)])
                }
            }
        }
        return (x, opt.stateEntries())
    }

    static func sameBits<S: OptimizerScalar>(_ a: [S], _ b: [S]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
    }

    @Test func adamAdamWAndStableSPAMMatchTheReferenceKernel() throws {
        let chains: [(String, GradientChain<Float>)] = [
            ("adam8bit", try .adam8bit(learningRate: .constant(1e-2))),
            ("adamW8bit", try .adamW8bit(learningRate: .constant(1e-2), weightDecay: 0.1)),
            ("stableSPAM8bit", try .stableSPAM8bit(learningRate: .constant(1e-2), weightDecay: 0.05, totalSteps: 10,
                                                     resetInterval: 3)),
        ]
        for (name, chain) in chains {
            for n in [4096 * 2 + 300, 4096] {
                let (xf, sf) = try Self.run(chain, n: n, steps: 6)
                let (xr, sr) = try Self.run(Self.referenceChain(chain), n: n, steps: 6)
                #expect(Self.sameBits(xf, xr), "\(name) n=\(n): parameters differ")
                #expect(sf.count == sr.count)
                for (a, b) in zip(sf, sr) {
                    #expect(a.name == b.name && Self.sameBits(a.values, b.values), "\(name) n=\(n): \(a.name) differs")
                }
            }
        }
    }

    /// Partial last blocks whose length is not a multiple of 4 (the scalar tail), and gradients with NaN, ±∞ and
    /// huge values (NaN moments: the absmax is the max bit pattern; overflowing v: absmax ∞).
    @Test func oddTailsAndNonFiniteGradientsMatchTheReferenceKernel() throws {
        for n in [4096 + 3, 4096 + 270, 4096 + 256 + 1] {
            for special: Float in [.nan, .infinity, -.infinity, 3e30, 0] {
                let chain = try GradientChain<Float>.adamW8bit(learningRate: .constant(1e-2), weightDecay: 0.1)
                let opt = try FusedOptimizer(chain: chain, shapes: [[n]])
                let ref = try FusedOptimizer(chain: Self.referenceChain(chain), shapes: [[n]])
                var x = (0..<n).map { Float(($0 % 13) - 6) * 0.1 }, xr = x
                for s in 0..<4 {
                    var g = Self.gradient(n, step: s)
                    if s >= 1 { for i in stride(from: 5 + s, to: n, by: 1001) { g[i] = special } }
                    try x.withUnsafeMutableBufferPointer { xb in
                        try g.withUnsafeBufferPointer { gb in
                            try opt.step([ParameterBuffer(values: xb.baseAddress!, gradient: gb.baseAddress!, count: n)])
                        }
                    }
                    try xr.withUnsafeMutableBufferPointer { xb in
                        try g.withUnsafeBufferPointer { gb in
                            try ref.step([ParameterBuffer(values: xb.baseAddress!, gradient: gb.baseAddress!, count: n)])
                        }
                    }
                }
                #expect(Self.sameBits(x, xr), "n=\(n) special \(special): parameters differ")
                for (a, b) in zip(opt.stateEntries(), ref.stateEntries()) {
                    #expect(a.name == b.name && Self.sameBits(a.values, b.values), "n=\(n) special \(special): \(a.name) differs")
                }
            }
        }
    }

    @Test func float64MatchesTheReferenceKernel() throws {
        let chain = try GradientChain<Double>.adamW8bit(learningRate: .constant(1e-2), weightDecay: 0.1)
        let (xf, sf) = try Self.run(chain, n: 4096 + 513, steps: 4)
        let (xr, sr) = try Self.run(Self.referenceChain(chain), n: 4096 + 513, steps: 4)
        #expect(Self.sameBits(xf, xr))
        for (a, b) in zip(sf, sr) { #expect(a.name == b.name && Self.sameBits(a.values, b.values), "\(a.name) differs") }
    }

    /// A non-fused final pass (a transform after the preconditioner changes the update) takes `apply`.
    @Test func unfusedApplyMatchesTheReferenceKernel() throws {
        let pre = try AdamPreconditioner8bit<Float>()
        var ref = pre
        ref.usesReferenceKernel = true
        let n = 4096 + 1000
        let (xf, sf) = try Self.run(GradientChain<Float>(pre, ClipByValue<Float>(0.5), LearningRate<Float>(1e-2)), n: n, steps: 4)
        let (xr, sr) = try Self.run(GradientChain<Float>(ref, ClipByValue<Float>(0.5), LearningRate<Float>(1e-2)), n: n, steps: 4)
        #expect(Self.sameBits(xf, xr))
        for (a, b) in zip(sf, sr) { #expect(a.name == b.name && Self.sameBits(a.values, b.values), "\(a.name) differs") }
    }
}
