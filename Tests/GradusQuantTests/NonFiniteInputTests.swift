import GradusQuant
import GradusRuntime
import Testing

/// ±∞ and NaN inputs (a diverged layer) must give NaN outputs, never a trap: clamping cannot remove a NaN, and
/// `Int32(NaN)` traps. Found by fuzzing (asymmetric INT with both +∞ and −∞ in a group made the zero point NaN).
@Suite struct NonFiniteInputTests {
    static let specials: [Float] = [.infinity, -.infinity, .nan]

    static func input(_ special: Float) -> [Float] {
        var x = (0..<64).map { Float($0 % 13) / 6 - 1 }
        x[5] = special
        x[40] = special.isNaN ? special : -special
        return x
    }

    @Test(arguments: [2, 4, 8], [true, false])
    func intFakeQuantizeAnyGranularity(bits: Int, symmetric: Bool) throws {
        for granularity in [QuantGranularity.perTensor, .perChannel(axis: 0), .perGroup(size: 16)] {
            for rounding in [QuantRounding.nearestEven, .stochastic(seed: 3)] {
                let config = QuantConfig(bits: bits, symmetric: symmetric, granularity: granularity, rounding: rounding)
                for s in Self.specials {
                    let y = try FakeQuantize.forward(Self.input(s), shape: [4, 16], config: config)
                    #expect(y.count == 64)
                    #expect(!y[5].isFinite, "\(config) \(s)")
                }
            }
        }
        // the kernel with codes and zero points (the path that trapped)
        for s in Self.specials {
            let x = Self.input(s)
            var out = [Float](repeating: 0, count: 64), scales = [Float](repeating: 0, count: 4)
            var codes = [Int32](repeating: -99, count: 64), zeros = [Int32](repeating: -99, count: 4)
            x.withUnsafeBufferPointer { xp in
                IntQuantKernel.fakeQuantize(xp.baseAddress!, into: &out, codes: &codes, scales: &scales, zeroPoints: &zeros,
                                            layout: .groups(count: 64, size: 16), bits: bits, symmetric: symmetric)
            }
            let top = Int32(symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1)
            #expect(codes.allSatisfy { $0 >= -top && $0 <= top }, "\(s) \(codes)")
            #expect(zeros.allSatisfy { $0 >= 0 && $0 <= top }, "\(s) \(zeros)")
            #expect(!out[5].isFinite && !out[40].isFinite)
        }
    }

    @Test func fp4FormatsAndStableSPAM() throws {
        for format in [QuantFormat.fp4E2M1, .mxfp4, .nf4, .bnbFP4] {
            let granularity: QuantGranularity = format == .mxfp4 ? .perGroup(size: 32) : .perGroup(size: 16)
            for s in Self.specials {
                _ = try FakeQuantize.forward(Self.input(s), shape: [4, 16], config: QuantConfig(bits: 4, format: format, granularity: granularity))
            }
        }
        for s in Self.specials {
            let x = Self.input(s)
            var out = [Float](repeating: 0, count: 64), fp4 = out
            var codes = [Int32](repeating: 7, count: 64), index = codes
            x.withUnsafeBufferPointer { xp in
                StableSPAMQuant.activationQuantize(xp.baseAddress!, into: &out, codes: &codes, groupScales: nil, topKIndex: nil,
                                                   count: 64, groupSize: 16, bits: 4, topK: 1)
                StableSPAMQuant.fp4SimQuantize(xp.baseAddress!, into: &fp4, gridIndex: &index, groupAlpha: nil,
                                               count: 64, groupSize: 16, topK: 1)
            }
            #expect(codes.allSatisfy { (-8...7).contains($0) }, "\(s)")
            #expect(index.allSatisfy { (-4...4).contains($0) }, "\(s)")
        }
    }
}
