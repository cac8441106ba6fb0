import Foundation
import GradusQuant
import GradusRuntime
import Testing
import _GradusTestSupport

/// Spec §1 (integer fake quantization) re-implemented in float64 from the spec's text, and used to generate random
/// `int_fake_quant` cases in the golden file's format: 2–8 bits, symmetric and asymmetric, per tensor, per group and
/// per channel (either axis), round half to even and stochastic, groups that are constant or all positive. The
/// library must pass them through `QuantConformance` in float64 and float32, as it would a hidden golden file with
/// "other inputs". Draws within 1e-3 of a quantization step of a rounding tie are redrawn, as the golden generator
/// does (spec §0), so that float32 and float64 give the same codes.
@Suite struct IntQuantReferenceTests {
    @Test func libraryMatchesReferenceOnRandomCases() throws {
        var r = RandomDraws(seed: 0x1A7)
        var kinds: [String: Int] = [:]
        for draw in 0..<300 {
            let rows = r.int(1, 6), cols = [4, 6, 8, 12, 16][r.int(0, 4)], n = rows * cols
            let bits = r.int(2, 8), symmetric = r.coin(), stochastic = r.int(0, 3) == 0
            // Granularity: tensor, group (dividing n), or channel along axis 0 or 1.
            var params: [String: JSON] = ["bits": .number(Double(bits)), "symmetric": .bool(symmetric),
                                          "rounding": .string(stochastic ? "stochastic" : "half_to_even"), "group_size": .null]
            let groups: [[Int]]
            switch r.int(0, 3) {
            case 0: groups = [Array(0..<n)]
            case 1:
                let divisors = (1...n).filter { n % $0 == 0 && $0 >= 2 }
                let g = divisors[r.int(0, divisors.count - 1)]
                params["group_size"] = .number(Double(g))
                groups = stride(from: 0, to: n, by: g).map { Array($0..<($0 + g)) }
            case 2:
                params["channel_axis"] = .number(0)
                groups = (0..<rows).map { r in Array((r * cols)..<((r + 1) * cols)) }
            default:
                params["channel_axis"] = .number(1)
                groups = (0..<cols).map { c in (0..<rows).map { $0 * cols + c } }
            }
            // Values: float32-representable, of a random scale and offset; sometimes a constant group.
            var x: [Double] = [], noise: [Double]? = nil, ref: LowBitReference.IntQuant
            repeat {
                let scale = pow(10, r.uniform(-3, 2)), offset = r.int(0, 2) == 0 ? scale * r.uniform(0.2, 2) : 0
                x = (0..<n).map { _ in Double(Float(r.uniform(-1, 1) * scale + offset)) }
                if r.int(0, 5) == 0, let g = groups.first { for i in g { x[i] = x[g[0]] } }
                noise = stochastic ? (0..<n).map { _ in Double(Float(r.uniform(0, 1))) } : nil
                ref = LowBitReference.intQuant(x, groups: groups, bits: bits, symmetric: symmetric, noise: noise)
            } while ref.nearTie
            let key = "\(symmetric ? "sym" : "asym")/\(params["group_size"]!.isNull ? (params["channel_axis"] == nil ? "tensor" : "channel") : "group")/\(stochastic ? "stochastic" : "rne")"
            kinds[key, default: 0] += 1
            var inputs: [String: JSON] = ["x": goldenTensor([rows, cols], x)]
            if let noise { inputs["uniform_noise"] = goldenTensor([rows, cols], noise) }
            let c: JSON = .object([
                "id": .string("int/random/\(draw)"), "op": .string("int_fake_quant"), "params": .object(params),
                "inputs": .object(inputs),
                "outputs": .object(["q": goldenTensor([rows, cols], ref.q.map(Double.init)), "scale": goldenTensor([ref.scale.count], ref.scale),
                                    "zero_point": goldenTensor([ref.zero.count], ref.zero.map(Double.init)),
                                    "dequantized": goldenTensor([rows, cols], ref.dequantized)]),
                "tol": .object(["q": .string("exact"), "rtol": .number(1e-6), "atol": .number(1e-7)]),
            ])
            for precision in [QuantConformance.Precision.float64, .float32] {
                let r = try QuantConformance.run(case: c, precision: precision)
                #expect(r.status == .pass, "\(key) bits \(bits) \(precision): \(r)")
            }
        }
        // Every combination was drawn.
        #expect(kinds.count == 12, "\(kinds)")
    }
}
