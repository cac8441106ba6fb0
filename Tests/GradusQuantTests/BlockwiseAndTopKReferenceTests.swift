import Foundation
import GradusQuant
import GradusRuntime
import Testing
import _GradusTestSupport

/// Spec §4.2 (bitsandbytes blockwise 8-bit quantization with the dynamic maps) and §2.2 (Stable-SPAM's activation
/// quantizer with the top-k outliers kept) re-implemented in float64 from the spec's text. Each reference first
/// reproduces the public golden cases, then generates random cases in the golden format (other block sizes,
/// partial last blocks, bit widths, group sizes, k, stochastic rounding) that the library must pass through
/// `QuantConformance` in float64 and float32. As the golden generator does (spec §0), draws within 1e-3 of a
/// rounding tie (in quantization steps) or within 1e-5 (relative) of a codebook midpoint are redrawn, so that both
/// precisions decide alike.
@Suite struct BlockwiseAndTopKReferenceTests {
    /// A dynamic map from the golden file's code tables (sorted ascending, float32 values).
    static func dynamicMap(_ name: String) throws -> [Double] {
        let doc = try JSON.parse(try lowbitGoldenText())
        let tables = doc["cases"]!.array!.first { $0["op"]?.string == "code_tables" }!["outputs"]!
        let t = tables[name]!
        return t["data"]?.flatDoubles ?? t.flatDoubles!
    }

    /// Blockwise quantization (§4.2): per block `absmax = max|x|`, `s = clamp(x/absmax, −1, 1)`, nearest entry
    /// (ties to the lower one), dequantized `value·absmax`. `nearTie` when some `s` lies within 1e-5 (relative) of a
    /// midpoint or a block is all zeros.
    static func blockwise(_ x: [Double], blockSize: Int, map: [Double]) -> (codes: [Double], absmax: [Double], deq: [Double], nearTie: Bool) {
        var codes: [Double] = [], absmax: [Double] = [], deq: [Double] = [], near = false
        let mids = (1..<map.count).map { (map[$0 - 1] + map[$0]) / 2 }
        for start in stride(from: 0, to: x.count, by: blockSize) {
            let block = x[start..<min(start + blockSize, x.count)]
            let a = block.map(abs).max()!
            if a == 0 { near = true }
            absmax.append(a)
            for v in block {
                let s = min(1, max(-1, v / a))
                // index of the first midpoint ≥ s (ties to the lower entry): binary search over the sorted midpoints
                var lo = 0, hi = mids.count
                while lo < hi { let m = (lo + hi) / 2; if mids[m] < s { lo = m + 1 } else { hi = m } }
                if lo < mids.count, abs(s - mids[lo]) <= 1e-5 * abs(mids[lo]) { near = true }
                if lo > 0, abs(s - mids[lo - 1]) <= 1e-5 * abs(mids[lo - 1]) { near = true }
                codes.append(Double(lo)); deq.append(map[lo] * a)
            }
        }
        return (codes, absmax, deq, near)
    }

    static func expectPasses(_ c: JSON, _ label: String) throws {
        for precision in [QuantConformance.Precision.float64, .float32] {
            let r = try QuantConformance.run(case: c, precision: precision)
            #expect(r.status == .pass, "\(label) \(precision): \(r)")
        }
    }

    static func numbers(_ j: JSON?) -> [Double] { j?["data"]?.flatDoubles ?? j?.flatDoubles ?? [] }

    @Test func referenceReproducesPublicCases() throws {
        let doc = try JSON.parse(try lowbitGoldenText())
        var seen = 0
        for c in doc["cases"]!.array! {
            let p = c["params"]!, inp = c["inputs"]!, out = c["outputs"]!, id = c["id"]!.string!
            let x = Self.numbers(inp["x"])
            var mine: [String: [Double]] = [:]
            switch c["op"]?.string {
            case "bnb_blockwise8_quant":
                // (not checked for ties: the file's margin is 1e-6 absolute, this suite's 1e-5 relative)
                let r = Self.blockwise(x, blockSize: p["blocksize"]!.int!, map: try Self.dynamicMap(p["code"]!.string!))
                mine = ["code": r.codes, "absmax": r.absmax, "dequantized": r.deq]
            case "stablespam_act_quant":
                let noise = inp["uniform_noise"].map { Self.numbers($0) }
                let r = LowBitReference.topK(x, noise: noise, bits: p["bits"]!.int!, g: p["group_size"]!.int!, k: p["topk"]!.int!)
                #expect(!r.nearTie, "\(id)")
                mine = ["q": r.q, "group_scale": r.scale, "dequantized": r.deq]
                if out["topk_index"] != nil { mine["topk_index"] = r.index }
            default: continue
            }
            seen += 1
            for (k, v) in mine {
                let want = Self.numbers(out[k])
                #expect(v.count == want.count, "\(id) \(k)")
                for i in want.indices where i < v.count {
                    #expect(abs(v[i] - want[i]) <= 1e-6 * abs(want[i]) + 1e-7, "\(id) \(k)[\(i)]: \(v[i]) vs \(want[i])")
                }
            }
        }
        #expect(seen == 6)
    }

    @Test func libraryMatchesReferenceOnRandomCases() throws {
        var r = RandomDraws(seed: 0xB10C)
        let signed = try Self.dynamicMap("dynamic_signed"), unsigned = try Self.dynamicMap("dynamic_unsigned")
        var partial = 0, tiny = 0
        for draw in 0..<60 {
            // §4.2: block sizes of the spec and others, partial last blocks, magnitudes over decades, some zeros
            do {
                let bs = [64, 128, 256, 512, 1024, 2048, 4096][r.int(0, 6)], n = r.int(1, 3 * bs / 2)
                let isSigned = r.coin(), map = isSigned ? signed : unsigned
                var x: [Double] = [], ref = Self.blockwise([], blockSize: bs, map: map)
                repeat {
                    let scale = pow(10, r.uniform(-4, 2))
                    x = (0..<n).map { _ in
                        if r.int(0, 40) == 0 { return 0 }
                        // spread over decades so the fine low end of the map is used
                        let v = scale * pow(10, -r.uniform(0, 5)) * r.uniform(0.1, 1)
                        return Double(Float(isSigned && r.coin() ? -v : v))
                    }
                    ref = Self.blockwise(x, blockSize: bs, map: map)
                } while ref.nearTie
                if n % bs != 0 && n > bs { partial += 1 }
                tiny += ref.codes.filter { abs(map[Int($0)]) < 1e-3 && map[Int($0)] != 0 }.count > 0 ? 1 : 0
                try Self.expectPasses(.object([
                    "id": .string("bnb/blockwise8/random/\(draw)"), "op": .string("bnb_blockwise8_quant"),
                    "params": .object(["code": .string(isSigned ? "dynamic_signed" : "dynamic_unsigned"), "blocksize": .number(Double(bs))]),
                    "inputs": .object(["x": goldenTensor([n], x)]),
                    "outputs": .object(["code": goldenTensor([n], ref.codes), "absmax": goldenTensor([ref.absmax.count], ref.absmax),
                                        "dequantized": goldenTensor([n], ref.deq)]),
                    "tol": .object(["code": .string("exact"), "rtol": .number(1e-6), "atol": .number(1e-8)]),
                ]), "blockwise8 \(draw) bs \(bs) n \(n) signed \(isSigned)")
            }
            // §2.2: bits 2–8, group sizes dividing the row, k from 0 to 3, deterministic and stochastic rounding
            do {
                let bits = r.int(2, 8), g = [4, 8, 16, 32, 64][r.int(0, 4)], rows = r.int(1, 4), cols = g * r.int(1, 3)
                let k = min(r.int(0, 3), g - 1), stochastic = r.int(0, 3) == 0, n = rows * cols
                var x: [Double] = [], noise: [Double]? = nil
                var ref = LowBitReference.topK([], noise: nil, bits: bits, g: g, k: k)
                repeat {
                    let scale = pow(10, r.uniform(-2, 1))
                    x = (0..<n).map { _ in Double(Float(r.uniform(-1, 1) * scale * (r.int(0, 10) == 0 ? 8 : 1))) }
                    noise = stochastic ? (0..<n).map { _ in Double(Float(r.uniform(0, 1))) } : nil
                    ref = LowBitReference.topK(x, noise: noise, bits: bits, g: g, k: k)
                } while ref.nearTie
                var inputs: [String: JSON] = ["x": goldenTensor([rows, cols], x)]
                if let noise { inputs["uniform_noise"] = goldenTensor([rows, cols], noise) }
                var outputs: [String: JSON] = ["q": goldenTensor([rows, cols], ref.q), "group_scale": goldenTensor([ref.scale.count], ref.scale),
                                               "dequantized": goldenTensor([rows, cols], ref.deq)]
                if k > 0 { outputs["topk_index"] = goldenTensor([ref.scale.count, k], ref.index) }
                var params: [String: JSON] = ["bits": .number(Double(bits)), "group_size": .number(Double(g)), "topk": .number(Double(k)), "dim": .number(-1)]
                if stochastic { params["stochastic"] = .bool(true) }
                let c: JSON = .object([
                    "id": .string("stablespam/act_topk/random/\(draw)"), "op": .string("stablespam_act_quant"),
                    "params": .object(params), "inputs": .object(inputs), "outputs": .object(outputs),
                    "tol": .object(["q": .string("exact"), "rtol": .number(1e-6), "atol": .number(1e-7)]),
                ])
                try Self.expectPasses(c, "act quant \(draw) bits \(bits) g \(g) k \(k) stochastic \(stochastic)")
                // the comparison can fail: one more bit in the reference
                if bits < 8 {
                    var wrong = c.object!
                    let other = LowBitReference.topK(x, noise: noise, bits: bits + 1, g: g, k: k)
                    wrong["outputs"] = .object(["q": goldenTensor([rows, cols], other.q), "dequantized": goldenTensor([rows, cols], other.deq)])
                    #expect(try QuantConformance.run(case: .object(wrong), precision: .float64).status != .pass)
                }
            }
        }
        #expect(partial > 10 && tiny > 20, "partial last blocks in \(partial) draws, codes below 1e-3 in \(tiny)")
    }
}
