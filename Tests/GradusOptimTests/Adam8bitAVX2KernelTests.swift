// The AVX2 8-bit Adam kernel (`gradus__adam8bit_step_f32_avx2`) against the Swift loop of
// `Blockwise8bitMoments.adamStep` and the plain reference (`AdamPreconditioner8bit.applyQuantizedReference`), bit for
// bit: outputs or θ, codes and absmax over many steps, every update form, tails that are not multiples of 8 or 256,
// zero blocks, huge and tiny values, NaN and ±∞; every code through the decode; the kernel's encoder against the table
// encoders near every decision point and on a sweep of [−1, 1]. The AVX2 cases run only on a CPU with AVX2 and FMA.
import GradusQuant
import GradusRuntime
import Testing
import _GradusShims
@testable import GradusOptim

@Suite struct Adam8bitAVX2KernelTests {
    static let hasAVX2 = AdamStepKernel.isAVX2Available

    /// SplitMix64 uniform in [−1, 1).
    struct Random {
        var s: UInt64
        mutating func next() -> Float {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Float(Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)) * 2 - 1
        }
    }

    /// Gradient of one step: per 256-block scales from 1e-30 to 1e20, zero blocks, sparse outliers, and (when
    /// `special` is given) that value planted in a few blocks.
    static func gradient(_ n: Int, step: Int, special: Float?) -> [Float] {
        var r = Random(s: UInt64(17 + 1000 * step))
        let scales: [Float] = [1, 1e-3, 1e-6, 30, 1e-9, 1e20, 1e-30, 0.5, 1e-12]
        var g = (0..<n).map { i -> Float in
            let block = i / 256
            if block % 7 == 3 { return 0 }
            let u = r.next()
            let s = scales[(block + step) % scales.count]
            return i % 97 == 0 ? u * s * 1e4 : u * s
        }
        if let x = special {
            for i in stride(from: 5, to: n, by: 701) { g[i] = x }
        }
        return g
    }

    /// The update forms `θ ← (a·θ + c·u)·b` by (a, c, b); nil: output u.
    static let forms: [(Float, Float, Float)?] = [nil, (1, -1e-2, 1), (0.999, -3e-3, 1), (0.99, -2e-3, 0.995)]

    /// The two kernels (and, for the output form, the reference) over `steps` steps on `n` elements; the AVX2 kernel is
    /// called per optimizer block of 2048 elements, as `FusedOptimizer` does.
    static func compare(n: Int, steps: Int, form: (Float, Float, Float)?, special: Float?) throws {
        let pre = try AdamPreconditioner8bit<Float>(minQuantizedSize: 0, beta1Decay: CosineDecayFactor(totalSteps: steps))
        let info = ParameterInfo(index: 0, shape: [n])
        var states = (0..<3).map { _ in pre.makeState(for: info) }
        func moments(_ s: AdamPreconditioner8bit<Float>.State) -> Blockwise8bitMoments {
            guard case .quantized(let q) = s.moments else { fatalError("not quantized") }
            return q
        }
        let (qR, qS, qA) = (moments(states[0]), moments(states[1]), moments(states[2]))
        var thetaR = (0..<n).map { Float(($0 % 13) - 6) * 0.1 }, thetaS = thetaR, thetaA = thetaR
        var uR = [Float](repeating: 0, count: n), uS = uR, uA = uR
        var scratch = [Float](repeating: 0, count: n)
        for k in 1...steps {
            var shared = EmptyState()
            for j in 0..<3 {
                var ctx = TensorStepContext(globalStep: k, tensorStep: k, learningRate: 1e-3, parameter: info)
                _ = pre.prepare(&states[j], shared: &shared, context: &ctx, rawStatistic: nil)
            }
            let st = states[0]
            let g = gradient(n, step: k, special: special)
            let b1 = Float(st.beta1), b2 = Float(pre.beta2), rcorr = Float(st.inverseCorrection2), eps = Float(pre.epsilon)
            let (a, c, pb) = form ?? (1, 1, 1)
            // reference: the update, then θ as Kernels.applyUpdate
            g.withUnsafeBufferPointer { gb in
                thetaR.withUnsafeBufferPointer { tb in
                    scratch.withUnsafeMutableBufferPointer { sb in
                        let block = BlockContext(offset: 0, count: n, parameters: tb.baseAddress!, workspace: sb.baseAddress!,
                                                 parameter: info)
                        uR.withUnsafeMutableBufferPointer { ub in
                            pre.applyQuantizedReference(qR, st, input: gb.baseAddress!, output: ub.baseAddress!, block: block)
                        }
                    }
                }
            }
            if form != nil {
                for i in 0..<n {
                    thetaR[i] = pb == 1 ? (a == 1 ? thetaR[i] + c * uR[i] : thetaR[i] * a + c * uR[i])
                                        : (thetaR[i] * a + c * uR[i]) * pb
                }
            }
            func run(_ q: Blockwise8bitMoments, _ u: inout [Float], _ theta: inout [Float], _ kernel: AdamStepKernel, chunk: Int) {
                g.withUnsafeBufferPointer { gb in
                    u.withUnsafeMutableBufferPointer { ub in
                        theta.withUnsafeMutableBufferPointer { tb in
                            var off = 0
                            while off < n {
                                let len = min(chunk, n - off)
                                q.adamStep(offset: off, count: len, gradient: gb.baseAddress! + off, beta1: b1, beta2: b2,
                                           inverseCorrection2: rcorr, epsilon: eps, output: form == nil ? ub.baseAddress! + off : nil,
                                           parameters: form == nil ? nil : tb.baseAddress! + off, preFactor: a, scale: c,
                                           postFactor: pb, kernel: kernel)
                                off += len
                            }
                        }
                    }
                }
            }
            run(qS, &uS, &thetaS, .swift, chunk: n)
            run(qA, &uA, &thetaA, .avx2, chunk: 2048)
            let what = "n \(n), form \(String(describing: form)), special \(String(describing: special)), step \(k)"
            if form == nil {
                #expect(sameBits(uS, uR), "Swift loop vs reference: outputs differ, \(what): \(differences(uS, uR))")
                #expect(sameBits(uA, uR), "AVX2 vs reference: outputs differ, \(what): \(differences(uA, uR))")
            } else {
                #expect(sameBits(thetaS, thetaR), "Swift loop vs reference: θ differs, \(what): \(differences(thetaS, thetaR))")
                #expect(sameBits(thetaA, thetaR), "AVX2 vs reference: θ differs, \(what): \(differences(thetaA, thetaR))")
            }
            #expect(sameState(qA, qR), "AVX2 vs reference: state differs, \(what)")
            #expect(sameState(qS, qR), "Swift loop vs reference: state differs, \(what)")
        }
    }

    /// Same bits, except that any NaN matches any NaN: which NaN an operation with two NaN operands returns depends
    /// on the operand order the compiler picked, which no kernel contract fixes (−0 and +0 still differ).
    static func same(_ x: Float, _ y: Float) -> Bool { x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN) }

    static func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
    }

    static func sameState(_ a: Blockwise8bitMoments, _ b: Blockwise8bitMoments) -> Bool {
        (0..<a.count).allSatisfy { a.codesM[$0] == b.codesM[$0] && a.codesV[$0] == b.codesV[$0] }
            && (0..<a.blockCount).allSatisfy { same(a.absmaxM[$0], b.absmaxM[$0]) && same(a.absmaxV[$0], b.absmaxV[$0]) }
    }

    /// Indices where two arrays differ (for messages).
    static func differences(_ a: [Float], _ b: [Float]) -> String {
        let bad = (0..<a.count).filter { !same(a[$0], b[$0]) }
        return "\(bad.count) differ, e.g. " + bad.prefix(3).map { "[\($0)] \(a[$0]) vs \(b[$0])" }.joined(separator: ", ")
    }

    @Test(.enabled(if: hasAVX2), arguments: [4096 + 3, 2048 * 3, 256 * 9 + 101, 4096 + 256 + 1])
    func everyFormMatchesTheSwiftLoopAndTheReference(n: Int) throws {
        for form in Self.forms {
            try Self.compare(n: n, steps: 5, form: form, special: nil)
        }
    }

    @Test(.enabled(if: hasAVX2), arguments: [Float.nan, -.nan, .infinity, -.infinity, 3e30, -1e38, 1e-40])
    func nonFiniteAndExtremeGradientsMatch(special: Float) throws {
        for form in [Self.forms[0], Self.forms[3]] {
            try Self.compare(n: 4096 + 270, steps: 3, form: form, special: special)
        }
    }

    /// Every code of both maps goes through the decode (codes set directly, several absmax values per block).
    @Test(.enabled(if: hasAVX2)) func everyCodeDecodesAlike() {
        let n = 256 * 8 + 77
        let qS = Blockwise8bitMoments(count: n, blockSize: 256), qA = Blockwise8bitMoments(count: n, blockSize: 256)
        var r = Random(s: 99)
        for q in [qS, qA] {
            for i in 0..<n { q.codesM[i] = UInt8(truncatingIfNeeded: i &* 37 &+ i / 256); q.codesV[i] = UInt8(truncatingIfNeeded: i &* 91 &+ 3) }
            for b in 0..<q.blockCount {
                q.absmaxM[b] = [1, 0.37, 1e-20, 3e20, 0, .infinity][b % 6]
                q.absmaxV[b] = [0.5, 1e-30, 1, 7e15, 2, 0][b % 6]
            }
        }
        let g = (0..<n).map { _ in r.next() * 1e-3 }
        var uS = [Float](repeating: 0, count: n), uA = uS
        for (q, kernel) in [(qS, AdamStepKernel.swift), (qA, .avx2)] {
            g.withUnsafeBufferPointer { gb in
                var u = [Float](repeating: 0, count: n)
                u.withUnsafeMutableBufferPointer { ub in
                    q.adamStep(offset: 0, count: n, gradient: gb.baseAddress!, beta1: 0.9, beta2: 0.999, inverseCorrection2: 1 / 0.3,
                               epsilon: 1e-8, output: ub.baseAddress!, parameters: nil, preFactor: 1, scale: 1, postFactor: 1,
                               kernel: kernel)
                }
                if kernel == .swift { uS = u } else { uA = u }
            }
        }
        #expect(Self.sameBits(uS, uA), "\(Self.differences(uS, uA))")
        #expect(Self.sameState(qS, qA))
    }

    /// The kernel's encoder equals the direct and midpoint table encoders on the adversarial inputs (every bucket
    /// edge, every midpoint ± 4 ulps, specials) and on a sweep of [−1, 1] (every 127th float32, both signs), for
    /// several inverse scales, with lengths that leave scalar tails.
    @Test(.enabled(if: hasAVX2), arguments: [Codebook.dynamicSigned, .dynamicUnsigned])
    func encoderMatchesTheTableEncoders(codebook: Codebook) {
        let enc = FastCodebookEncoder(codebook)
        var xs = DirectEncoder8bitTests.adversarialInputs(codebook)
        for b in stride(from: UInt32(0), through: 0x3F80_0000, by: 127) {
            xs.append(Float(bitPattern: b)); xs.append(-Float(bitPattern: b))
        }
        for inv: Float in [1, 0.75, 3.5e3, 1e-3] {
            for n in [xs.count, xs.count - 3, 13] {
                var direct = [UInt8](repeating: 0, count: n), mid = direct, avx = direct
                enc.encode(xs, count: n, inverseScale: inv, into: &direct)
                enc.foldedOffsets.withUnsafeBufferPointer { t in
                    gradus__adam8bit_encode_f32_avx2(xs, Int64(n), inv, &avx, t.baseAddress!)
                }
                #expect(avx == direct, "inverse scale \(inv), n \(n): \((0..<n).filter { avx[$0] != direct[$0] }.count) codes differ from the direct encoder")
                if n == 13 || inv == 1 {
                    enc.encodeByMidpoints(xs, count: n, inverseScale: inv, into: &mid)
                    #expect(avx == mid, "inverse scale \(inv), n \(n): codes differ from the midpoint encoder")
                }
            }
        }
    }

    /// The dispatch: `adamStep` without a kernel runs `AdamStepKernel.float32` (AVX2 here unless GRADUS_NO_AVX2=1).
    @Test func publicEntryPointUsesTheChosenKernel() {
        #expect(AdamStepKernel.float32 == .swift || AdamStepKernel.isAVX2Available)
    }
}
