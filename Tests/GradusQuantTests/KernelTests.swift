import GradusQuant
import GradusRuntime
import Testing

private func gaussian(_ n: Int, seed: UInt64) -> [Float] {
    var s = PhiloxStream(seed: seed)
    return (0..<n).map { _ in Float(s.nextNormal()) }
}

@Suite struct ConfigErrorTests {
    @Test func groupSizeMustDivide() {
        let cfg = QuantConfig(bits: 4, granularity: .perGroup(size: 3))
        #expect(throws: GradusError.self) { try cfg.validate(shape: [4, 8]) }
        do { try cfg.validate(shape: [4, 8]) } catch {
            guard case .invalidArgument(let m) = error else { Issue.record("wrong case"); return }
            #expect(m.contains("group size 3"))
        }
    }

    @Test(arguments: [0, 9, 16, -1])
    func unsupportedIntBits(bits: Int) {
        #expect(throws: GradusError.self) { try QuantConfig(bits: bits).validate(shape: [8]) }
    }

    @Test func fp4FormatsAreFourBit() {
        #expect(throws: GradusError.self) { try QuantConfig(bits: 8, format: .nf4).validate(shape: [64]) }
        #expect(throws: GradusError.self) { try QuantConfig(bits: 4, format: .mxfp4).validate(shape: [64]) }
        #expect(throws: GradusError.self) {
            try QuantConfig(bits: 4, format: .fp4E2M1, rounding: .stochastic(seed: 1)).validate(shape: [64])
        }
        #expect(throws: GradusError.self) { try QuantConfig(bits: 4, granularity: .perChannel(axis: 2)).validate(shape: [4, 8]) }
        #expect(throws: GradusError.self) { _ = try ReSTE(o: 0.5) }
        #expect(throws: GradusError.self) { _ = try Packed4BitWeight(quantizing: [Float](repeating: 0, count: 12), rows: 2, cols: 6, groupSize: 4) }
        #expect(throws: GradusError.self) { try StableSPAMQuant.validate(count: 16, groupSize: 8, topK: 8) }
        #expect(throws: GradusError.self) { _ = try Blockwise8bitState(count: 10, codebook: .nf4) }
    }
}

@Suite struct FakeQuantizeTests {
    @Test func perChannelMatchesPerRowGroups() throws {
        let x = gaussian(6 * 16, seed: 3)
        let a = try FakeQuantize.forward(x, shape: [6, 16], config: QuantConfig(bits: 4, granularity: .perChannel(axis: 0)))
        let b = try FakeQuantize.forward(x, shape: [6, 16], config: QuantConfig(bits: 4, granularity: .perGroup(size: 16)))
        #expect(a == b)
    }

    @Test func perChannelLastAxisUsesColumnAbsmax() throws {
        // x: (2, 3); channel j has absmax max(|x0j|, |x1j|)
        let x: [Double] = [1, -0.5, 0.25, -2, 0.1, 0.2]
        let y = try FakeQuantize.forward(x, shape: [2, 3], config: QuantConfig(bits: 8, granularity: .perChannel(axis: -1)))
        for j in 0..<3 {
            let s = max(abs(x[j]), abs(x[3 + j])) / 127
            for i in 0..<2 { #expect(abs(y[i * 3 + j] - (x[i * 3 + j] / s).rounded(.toNearestOrEven) * s) < 1e-12) }
        }
    }

    @Test func stochasticRoundingIsUnbiased() throws {
        // x sits 30% of the way between two int8 codes; the mean of many stochastic draws approaches x
        let n = 20000
        var x = [Double](repeating: 0.3 / 127, count: n)
        x[0] = 1  // absmax 1 → scale 1/127
        let y = try FakeQuantize.forward(x, shape: [n], config: QuantConfig(bits: 8, rounding: .stochastic(seed: 7)))
        let mean = y[1...].reduce(0, +) / Double(n - 1)
        #expect(abs(mean * 127 - 0.3) < 0.02)
        let again = try FakeQuantize.forward(x, shape: [n], config: QuantConfig(bits: 8, rounding: .stochastic(seed: 7)))
        #expect(again == y)
    }

    @Test func codebookFormatsRoundTripNearby() throws {
        let x = gaussian(256, seed: 11)
        for fmt in [QuantFormat.nf4, .bnbFP4, .fp4E2M1, .mxfp4] {
            let y = try FakeQuantize.forward(x, shape: [256], config: QuantConfig(bits: 4, format: fmt, granularity: .perGroup(size: 32)))
            let err = zip(x, y).map { abs($0 - $1) }.max()!
            #expect(err < 0.5, "\(fmt) max err \(err)")
        }
    }

    @Test func backwardEstimators() throws {
        let x: [Float] = [-2, -1, -0.05, 0, 0.5, 1.2, 1.6]
        let g: [Float] = [1, 2, 3, 4, 5, 6, 7]
        var out = [Float](repeating: 0, count: x.count)
        try FakeQuantize.backward(x, gradOutput: g, gradInput: &out, count: x.count, config: QuantConfig(estimator: .ste))
        #expect(out == g)
        try FakeQuantize.backward(x, gradOutput: g, gradInput: &out, count: x.count, config: QuantConfig(estimator: .clippedSTE(clip: 1)))
        #expect(out == [0, 2, 3, 4, 5, 0, 0])
        try FakeQuantize.backward(x, gradOutput: g, gradInput: &out, count: x.count, config: QuantConfig(estimator: .reste(o: 2, t: 1.5)))
        #expect(out[0] == 0 && out[6] == 0)
        #expect(abs(out[2] - 3 * (0.1 as Float).squareRoot() / 0.1) < 1e-5)  // secant inside |z| ≤ 0.1
        #expect(abs(out[4] - 5 * 0.5 / (0.5 as Float).squareRoot()) < 1e-5)  // (1/o)|z|^((1-o)/o)
    }
}

@Suite struct StorageTests {
    @Test func blockwiseStateRoundTripAndBlocks() throws {
        let x = gaussian(1000, seed: 5).map { $0 * 1e-3 }
        var s = try Blockwise8bitState(count: 1000, codebook: .dynamicSigned)
        #expect(s.blockCount == 4 && s.byteCount == 1000 + 16)
        var zero = [Float](repeating: 1, count: 1000)
        s.dequantize(into: &zero)
        #expect(zero.allSatisfy { $0 == 0 })
        s.quantize(from: x)
        var y = [Float](repeating: 0, count: 1000)
        s.dequantize(into: &y)
        for b in 0..<4 {
            let r = s.range(ofBlock: b)
            let amax = x[r].map { abs($0) }.max()!
            #expect(s.absmax[b] == amax)
            for i in r { #expect(abs(y[i] - x[i]) <= 0.02 * amax) }
        }
        // block-by-block requantization gives the same state
        var t = try Blockwise8bitState(count: 1000, codebook: .dynamicSigned)
        for b in 0..<t.blockCount { x.withUnsafeBufferPointer { t.quantizeBlock(b, from: $0.baseAddress! + t.range(ofBlock: b).lowerBound) } }
        #expect(t.codes == s.codes && t.absmax == s.absmax)
    }

    @Test(arguments: [Packed4BitWeight.Format.int4Symmetric, .int4Asymmetric, .nf4, .bnbFP4, .e2m1])
    func packedWeightMatchesFakeQuant(format: Packed4BitWeight.Format) throws {
        let (rows, cols, g) = (8, 64, 32)
        let w = gaussian(rows * cols, seed: 9)
        let p = try Packed4BitWeight(quantizing: w, rows: rows, cols: cols, groupSize: g, format: format)
        #expect(p.byteCount == rows * cols / 2 + 4 * rows * cols / g + (format == .int4Asymmetric ? rows * cols / g : 0))
        #expect(p.byteCount * 6 < p.denseByteCount)
        var deq = [Float](repeating: 0, count: rows * cols)
        p.dequantize(into: &deq)
        let cfg: QuantConfig
        switch format {
        case .int4Symmetric: cfg = QuantConfig(bits: 4, granularity: .perGroup(size: g))
        case .int4Asymmetric: cfg = QuantConfig(bits: 4, symmetric: false, granularity: .perGroup(size: g))
        case .nf4: cfg = QuantConfig(bits: 4, format: .nf4, granularity: .perGroup(size: g))
        case .bnbFP4: cfg = QuantConfig(bits: 4, format: .bnbFP4, granularity: .perGroup(size: g))
        case .e2m1: cfg = QuantConfig(bits: 4, format: .fp4E2M1, granularity: .perGroup(size: g))
        }
        let ref = try FakeQuantize.forward(w, shape: [rows, cols], config: cfg)
        for i in 0..<ref.count { #expect(abs(deq[i] - ref[i]) <= 1e-6 * max(1, abs(ref[i]))) }
        // packed matmul == dense matmul against the dequantized weight
        let batch = 3
        let x = gaussian(batch * cols, seed: 10)
        let bias = gaussian(rows, seed: 12)
        var y = [Float](repeating: 0, count: batch * rows)
        p.matmul(x, batch: batch, bias: bias, into: &y)
        for b in 0..<batch {
            for r in 0..<rows {
                var acc: Double = Double(bias[r])
                for i in 0..<cols { acc += Double(x[b * cols + i]) * Double(deq[r * cols + i]) }
                #expect(abs(Double(y[b * rows + r]) - acc) < 1e-4)
            }
        }
    }

    @Test func nf4BeatsOtherFourBitFormatsOnGaussian() throws {
        let w = gaussian(64 * 64, seed: 21)
        func mse(_ f: Packed4BitWeight.Format) throws -> Double {
            let p = try Packed4BitWeight(quantizing: w, rows: 64, cols: 64, groupSize: 64, format: f)
            var d = [Float](repeating: 0, count: w.count)
            p.dequantize(into: &d)
            return zip(w, d).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / Double(w.count)
        }
        let nf4 = try mse(.nf4)
        #expect(nf4 < (try mse(.bnbFP4)))
        #expect(nf4 < (try mse(.int4Symmetric)))
        #expect(nf4 < (try mse(.e2m1)))
    }
}
