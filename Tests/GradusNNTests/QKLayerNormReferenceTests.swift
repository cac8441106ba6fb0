import Foundation
import GradusNN
import GradusRuntime
import GradusTensor
import Testing
import _GradusTestSupport

/// qk-LayerNorm attention (optimizer spec §8.1) re-implemented in float64 from the spec's text with a hand-written
/// backward, and used to generate random `function` cases in the golden file's format that the product must pass
/// through `NNConformance` (what `gradus conformance` runs) in float64 and float32: other sequence lengths (Tq ≠ Tk,
/// causal or not), head sizes from 1, leading head and batch axes, ε, with and without the LayerNorm affine
/// parameters, and the gradients of those parameters.
@Suite struct QKLayerNormReferenceTests {
    struct Attention {
        var logits: [Double], weights: [Double], out: [Double]
        var dq: [Double], dk: [Double], dv: [Double]
        var dqw: [Double], dqb: [Double], dkw: [Double], dkb: [Double]
    }

    /// LayerNorm of `rows` rows of `d` values (biased variance): x̂, 1/σ per row, and y = x̂·w + b.
    static func layerNorm(_ x: [Double], d: Int, w: [Double], b: [Double], eps: Double) -> (xhat: [Double], inv: [Double], y: [Double]) {
        var xhat = x, inv: [Double] = [], y = x
        for r in 0..<(x.count / d) {
            let row = x[(r * d)..<((r + 1) * d)]
            let mean = row.reduce(0, +) / Double(d)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)
            let s = 1 / (variance + eps).squareRoot()
            inv.append(s)
            for j in 0..<d {
                xhat[r * d + j] = (x[r * d + j] - mean) * s
                y[r * d + j] = xhat[r * d + j] * w[j] + b[j]
            }
        }
        return (xhat, inv, y)
    }

    /// ∂x, ∂w, ∂b of the LayerNorm above from ∂y.
    static func layerNormBackward(_ dy: [Double], xhat: [Double], inv: [Double], d: Int, w: [Double]) -> (dx: [Double], dw: [Double], db: [Double]) {
        var dx = dy, dw = Array(repeating: 0.0, count: d), db = dw
        for r in 0..<(dy.count / d) {
            var sum = 0.0, sumX = 0.0
            for j in 0..<d {
                let g = dy[r * d + j] * w[j]
                sum += g; sumX += g * xhat[r * d + j]
                dw[j] += dy[r * d + j] * xhat[r * d + j]; db[j] += dy[r * d + j]
            }
            for j in 0..<d {
                let g = dy[r * d + j] * w[j]
                dx[r * d + j] = inv[r] / Double(d) * (Double(d) * g - sum - xhat[r * d + j] * sumX)
            }
        }
        return (dx, dw, db)
    }

    /// softmax(qkᵀ/√d + mask)·v per head (`heads` leading slices), with its backward from `dOut`. Query i sees keys
    /// j ≤ i when causal.
    static func attention(q: [Double], k: [Double], v: [Double], dOut: [Double], heads: Int, tq: Int, tk: Int, d: Int, dv: Int,
                          causal: Bool) -> (logits: [Double], weights: [Double], out: [Double], dq: [Double], dk: [Double], dv: [Double]) {
        let scale = 1 / Double(d).squareRoot()
        var logits = [Double](repeating: 0, count: heads * tq * tk), weights = logits
        var out = [Double](repeating: 0, count: heads * tq * dv)
        var dq = [Double](repeating: 0, count: q.count), dk = [Double](repeating: 0, count: k.count), dvv = [Double](repeating: 0, count: v.count)
        for h in 0..<heads {
            let qo = h * tq * d, ko = h * tk * d, vo = h * tk * dv, oo = h * tq * dv, lo = h * tq * tk
            for i in 0..<tq {
                let visible = causal ? min(i + 1, tk) : tk
                for j in 0..<tk {
                    var s = 0.0
                    for c in 0..<d { s += q[qo + i * d + c] * k[ko + j * d + c] }
                    logits[lo + i * tk + j] = s * scale
                }
                let m = (0..<visible).map { logits[lo + i * tk + $0] }.max()!
                let e = (0..<visible).map { exp(logits[lo + i * tk + $0] - m) }, z = e.reduce(0, +)
                for j in 0..<visible { weights[lo + i * tk + j] = e[j] / z }
                for c in 0..<dv { out[oo + i * dv + c] = (0..<visible).map { weights[lo + i * tk + $0] * v[vo + $0 * dv + c] }.reduce(0, +) }
                // backward of row i
                let dw = (0..<visible).map { j in (0..<dv).map { dOut[oo + i * dv + $0] * v[vo + j * dv + $0] }.reduce(0, +) }
                let dot = (0..<visible).map { weights[lo + i * tk + $0] * dw[$0] }.reduce(0, +)
                for j in 0..<visible {
                    let a = weights[lo + i * tk + j]
                    for c in 0..<dv { dvv[vo + j * dv + c] += a * dOut[oo + i * dv + c] }
                    let dl = a * (dw[j] - dot) * scale
                    for c in 0..<d {
                        dq[qo + i * d + c] += dl * k[ko + j * d + c]
                        dk[ko + j * d + c] += dl * q[qo + i * d + c]
                    }
                }
            }
        }
        return (logits, weights, out, dq, dk, dvv)
    }

    @Test func qkLayerNormAttentionMatchesTheSpecOnRandomCases() throws {
        var r = RandomDraws(seed: 0x51CA)
        var unequal = 0, causalUnequal = 0, noAffine = 0, batched = 0
        for draw in 0..<60 {
            let lead: [Int] = [[], [r.int(1, 3)], [r.int(1, 2), r.int(1, 3)]][r.int(0, 2)]
            let heads = lead.reduce(1, *)
            let tq = r.int(1, 6), tk = r.coin() ? tq : r.int(1, 6), d = r.int(1, 8), dv = r.int(1, 5)
            let causal = r.coin(), eps = [1e-5, 1e-6, r.logUniform(1e-8, 1e-2)][r.int(0, 2)], affine = draw % 4 != 3
            if tq != tk { unequal += 1; if causal { causalUnequal += 1 } }
            if !affine { noAffine += 1 }
            if !lead.isEmpty { batched += 1 }
            // inputs as the public case draws them (uniform over a few units), some draws shifted away from zero
            let shift = draw % 5 == 4 ? r.uniform(-20, 20) : 0, amplitude = r.uniform(0.5, 7)
            func draws(_ n: Int, _ a: Double, _ s: Double = 0) -> [Double] { (0..<n).map { _ in Double(Float(s + r.uniform(-a, a))) } }
            let q = draws(heads * tq * d, amplitude, shift), k = draws(heads * tk * d, amplitude, shift)
            let v = draws(heads * tk * dv, 1.1), dOut = draws(heads * tq * dv, 3)
            let qw = affine ? draws(d, 0.3, 1.1) : Array(repeating: 1, count: d), qb = affine ? draws(d, 0.1) : Array(repeating: 0, count: d)
            let kw = affine ? draws(d, 0.3, 1.1) : Array(repeating: 1, count: d), kb = affine ? draws(d, 0.1) : Array(repeating: 0, count: d)

            let lq = Self.layerNorm(q, d: d, w: qw, b: qb, eps: eps), lk = Self.layerNorm(k, d: d, w: kw, b: kb, eps: eps)
            let a = Self.attention(q: lq.y, k: lk.y, v: v, dOut: dOut, heads: heads, tq: tq, tk: tk, d: d, dv: dv, causal: causal)
            let bq = Self.layerNormBackward(a.dq, xhat: lq.xhat, inv: lq.inv, d: d, w: qw)
            let bk = Self.layerNormBackward(a.dk, xhat: lk.xhat, inv: lk.inv, d: d, w: kw)
            let plain = Self.attention(q: q, k: k, v: v, dOut: dOut, heads: heads, tq: tq, tk: tk, d: d, dv: dv, causal: causal)

            let n = NNFunctionReferenceTests.nested
            var inputs: [String: JSON] = ["q": n(lead + [tq, d], q), "k": n(lead + [tk, d], k), "v": n(lead + [tk, dv], v),
                                          "d_out": n(lead + [tq, dv], dOut)]
            var outputs: [String: JSON] = [
                "attention_logits": n(lead + [tq, tk], a.logits), "attention_weights": n(lead + [tq, tk], a.weights),
                "out": n(lead + [tq, dv], a.out), "dq": n(lead + [tq, d], bq.dx), "dk": n(lead + [tk, d], bk.dx),
                "dv": n(lead + [tk, dv], a.dv),
            ]
            // Attention on the raw shifted q, k has logits in the hundreds, where float32's rounding of the logits
            // alone exceeds the function tolerance (the instability qk-LayerNorm removes): checked unshifted only.
            if shift == 0 { outputs["out_without_qk_layernorm"] = n(lead + [tq, dv], plain.out) }
            if affine {
                inputs["q_ln_weight"] = n([d], qw); inputs["q_ln_bias"] = n([d], qb)
                inputs["k_ln_weight"] = n([d], kw); inputs["k_ln_bias"] = n([d], kb)
                if draw % 2 == 0 {
                    outputs["dq_ln_weight"] = n([d], bq.dw); outputs["dq_ln_bias"] = n([d], bq.db)
                    outputs["dk_ln_weight"] = n([d], bk.dw); outputs["dk_ln_bias"] = n([d], bk.db)
                }
            }
            let perturb = ["dq", "dk", "attention_weights", "out", "dv", "out_without_qk_layernorm"][draw % 6]
            try NNFunctionReferenceTests.expectPasses(.object([
                "name": .string("qk_layernorm_random_\(draw)"), "kind": .string("function"), "technique": .string("qk_layernorm"),
                "hyperparameters": .object(["layernorm_eps": .number(eps), "causal": .bool(causal)]),
                "inputs": .object(inputs), "outputs": .object(outputs),
            ]), "qk-LN \(draw): lead \(lead) Tq \(tq) Tk \(tk) d \(d) dv \(dv) causal \(causal) ε \(eps) affine \(affine) shift \(shift)",
               perturb: draw < 24 ? perturb : nil)
        }
        #expect(unequal > 10 && causalUnequal > 3 && noAffine > 10 && batched > 20,
                "Tq ≠ Tk in \(unequal) draws (\(causalUnequal) causal), no affine in \(noAffine), leading axes in \(batched)")
    }

    /// The reference reproduces the public case, so it computes what the golden file means.
    @Test func referenceReproducesThePublicCase() throws {
        let c = try goldenCase("qk_layernorm_attention")
        let inp = try #require(c["inputs"]), out = try #require(c["outputs"])
        func flat(_ name: String) throws -> [Double] { try #require(inp[name]?.flatDoubles) }
        let shape = try #require(inp["q"]?.shape), t = shape[0], d = shape[1]
        let eps = c["hyperparameters"]?["layernorm_eps"]?.double ?? 1e-5
        let lq = Self.layerNorm(try flat("q"), d: d, w: try flat("q_ln_weight"), b: try flat("q_ln_bias"), eps: eps)
        let lk = Self.layerNorm(try flat("k"), d: d, w: try flat("k_ln_weight"), b: try flat("k_ln_bias"), eps: eps)
        let a = Self.attention(q: lq.y, k: lk.y, v: try flat("v"), dOut: try flat("d_out"), heads: 1, tq: t, tk: t, d: d, dv: d,
                               causal: c["hyperparameters"]?["causal"]?.bool ?? true)
        let dq = Self.layerNormBackward(a.dq, xhat: lq.xhat, inv: lq.inv, d: d, w: try flat("q_ln_weight")).dx
        for (name, got) in [("attention_logits", a.logits), ("attention_weights", a.weights), ("out", a.out), ("dq", dq), ("dv", a.dv)] {
            let want = try #require(out[name]?.flatDoubles)
            for (g, w) in zip(got, want) { #expect(abs(g - w) <= 1e-12 + 1e-9 * abs(w), "\(name): \(g) vs \(w)") }
        }
    }
}
