import Foundation
import GradusNN
import GradusRuntime
import GradusTensor
import Testing
import _GradusTestSupport

/// The layer-side techniques of the optimizer spec — Ghost BatchNorm (§7), StableMax cross-entropy (§5.1) and
/// z-loss (§8.2) — re-implemented in float64 from the spec's text, and used to generate random `function` cases in
/// the golden file's format that the product layers must pass through `NNConformance` (what `gradus conformance`
/// runs) in float64 and float32: other batch sizes (chunk counts by the floor rule, a shorter last chunk, fewer
/// chunks than asked), ghost sizes, channels, spatial sizes, momentum and ε; logits over several magnitudes.
@Suite struct NNFunctionReferenceTests {
    /// Row-major `data` as nested arrays of `shape` (the optimizer file's tensor encoding).
    static func nested(_ shape: [Int], _ data: [Double]) -> JSON {
        if shape.count <= 1 { return .array(data.map { .number($0) }) }
        let inner = shape.dropFirst().reduce(1, *)
        return .array((0..<shape[0]).map { nested(Array(shape.dropFirst()), Array(data[($0 * inner)..<(($0 + 1) * inner)])) })
    }

    /// Chunk lengths of §7 step 1: `K = max(1, ⌊N/B⌋)`, `L = ⌈N/K⌉`, consecutive slices of `L`.
    static func chunks(_ n: Int, _ b: Int) -> [Int] {
        let k = max(1, n / b), l = (n + k - 1) / k
        return stride(from: 0, to: n, by: l).map { min(l, n - $0) }
    }

    struct GhostBN { var chunks: [Int], y: [Double], runningMean: [Double], runningVar: [Double], dx: [Double], dgamma: [Double], dbeta: [Double], yEval: [Double] }

    /// §7 on x (N, C, S…) flattened with `spatial` values per channel and sample.
    static func ghostBN(x: [Double], dy: [Double], n: Int, c: Int, spatial: Int, ghost: Int, gamma: [Double], beta: [Double],
                        runningMean: [Double], runningVar: [Double], eps: Double, momentum: Double) -> GhostBN {
        var r = GhostBN(chunks: chunks(n, ghost), y: x, runningMean: runningMean, runningVar: runningVar, dx: x,
                        dgamma: Array(repeating: 0, count: c), dbeta: Array(repeating: 0, count: c), yEval: x)
        func index(_ s: Int, _ ch: Int, _ p: Int) -> Int { (s * c + ch) * spatial + p }
        var start = 0
        for len in r.chunks {
            let samples = start..<(start + len), count = Double(len * spatial)
            for ch in 0..<c {
                let ids = samples.flatMap { s in (0..<spatial).map { index(s, ch, $0) } }
                let mean = ids.map { x[$0] }.reduce(0, +) / count
                let variance = ids.map { (x[$0] - mean) * (x[$0] - mean) }.reduce(0, +) / count
                let inv = 1 / (variance + eps).squareRoot()
                let xhat = ids.map { (x[$0] - mean) * inv }
                for (j, i) in ids.enumerated() { r.y[i] = gamma[ch] * xhat[j] + beta[ch] }
                r.runningMean[ch] = (1 - momentum) * r.runningMean[ch] + momentum * mean
                r.runningVar[ch] = (1 - momentum) * r.runningVar[ch] + momentum * variance * count / (count - 1)
                let sumDy = ids.map { dy[$0] }.reduce(0, +)
                let sumDyXhat = ids.indices.map { dy[ids[$0]] * xhat[$0] }.reduce(0, +)
                r.dbeta[ch] += sumDy; r.dgamma[ch] += sumDyXhat
                for (j, i) in ids.enumerated() {
                    r.dx[i] = gamma[ch] * inv / count * (count * dy[i] - sumDy - xhat[j] * sumDyXhat)
                }
            }
            start += len
        }
        for s in 0..<n {
            for ch in 0..<c {
                for p in 0..<spatial {
                    let i = index(s, ch, p)
                    r.yEval[i] = gamma[ch] * (x[i] - r.runningMean[ch]) / (r.runningVar[ch] + eps).squareRoot() + beta[ch]
                }
            }
        }
        return r
    }

    /// §5.1: scores, probabilities, log-probabilities, mean loss and its gradient.
    static func stableMax(_ logits: [Double], classes: Int, labels: [Int]) -> (s: [Double], p: [Double], logp: [Double], loss: Double, grad: [Double]) {
        func s(_ x: Double) -> Double { x >= 0 ? x + 1 : 1 / (1 - x) }
        func ds(_ x: Double) -> Double { x >= 0 ? 1 : s(x) * s(x) }
        func logS(_ x: Double) -> Double { x >= 0 ? log1p(x) : -log1p(-x) }
        let rows = labels.count
        var scores: [Double] = [], p: [Double] = [], logp: [Double] = [], grad: [Double] = [], loss = 0.0
        for r in 0..<rows {
            let row = Array(logits[(r * classes)..<((r + 1) * classes)])
            let sc = row.map(s), total = sc.reduce(0, +)
            scores += sc; p += sc.map { $0 / total }
            let lp = row.map { logS($0) - log(total) }
            logp += lp
            loss -= lp[labels[r]] / Double(rows)
            for k in 0..<classes {
                var g = ds(row[k]) / total
                if k == labels[r] { g -= ds(row[k]) / sc[k] }
                grad.append(g / Double(rows))
            }
        }
        return (scores, p, logp, loss, grad)
    }

    /// §8.2 with mean softmax cross-entropy: log Z, CE, z-loss, total and ∂total/∂logits.
    static func zLoss(_ logits: [Double], classes: Int, labels: [Int], coefficient c: Double) -> (logZ: [Double], ce: Double, z: Double, total: Double, grad: [Double]) {
        let rows = labels.count, n = Double(rows)
        var logZ: [Double] = [], ce = 0.0, z = 0.0, grad: [Double] = []
        for r in 0..<rows {
            let row = Array(logits[(r * classes)..<((r + 1) * classes)])
            let m = row.max()!, lz = m + log(row.map { exp($0 - m) }.reduce(0, +))
            logZ.append(lz)
            ce += (lz - row[labels[r]]) / n
            z += c * lz * lz / n
            for k in 0..<classes {
                let soft = exp(row[k] - lz)
                grad.append((soft - (k == labels[r] ? 1 : 0)) / n + 2 * c * lz * soft / n)
            }
        }
        return (logZ, ce, z, ce + z, grad)
    }

    /// `c` passes in float64 and float32; with `perturb`, the same case with that output moved by 0.1% + 1e-3
    /// must fail (so the comparison can).
    static func expectPasses(_ c: JSON, _ label: String, perturb key: String? = nil) throws {
        for dtype in [DType.float64, .float32] {
            let r = try #require(try NNConformance.run(case: c, dtype: dtype))
            #expect(r.passed, "\(label) \(dtype): max abs \(r.maxAbsErr), max rel \(r.maxRelErr)")
        }
        guard let key, case .object(var top) = c, case .object(var outputs)? = top["outputs"], let value = outputs[key] else { return }
        func bump(_ j: JSON) -> JSON {
            switch j {
            case .number(let x): return .number(x * 1.001 + 1e-3)
            case .array(let a): return .array(a.map(bump))
            default: return j
            }
        }
        outputs[key] = bump(value)
        top["outputs"] = .object(outputs)
        let r = try #require(try NNConformance.run(case: .object(top), dtype: .float64))
        #expect(!r.passed, "\(label): \(key) perturbed, yet the case passed")
    }

    @Test func layersMatchTheSpecOnRandomCases() throws {
        var r = RandomDraws(seed: 0x6B17)
        var shortLast = 0, fewer = 0, tinyChunks = 0
        for draw in 0..<60 {
            // Ghost BN: (N, C) or (N, C, H, W)
            do {
                let c = r.int(1, 4), spatialShape = r.coin() ? [] : [r.int(1, 3), r.int(1, 3)]
                let spatial = spatialShape.reduce(1, *)
                let ghost = r.int(spatial > 1 ? 1 : 2, 6)  // (ghost size 1 without spatial axes: one value per channel)
                var n = 0, sizes: [Int] = []
                repeat { n = r.int(2, 20); sizes = Self.chunks(n, ghost) } while sizes.contains { $0 * spatial < 2 }
                if sizes.count > 1, sizes.last! < sizes[0] { shortLast += 1 }
                if sizes.count < max(1, n / ghost) { fewer += 1 }
                let shape = [n, c] + spatialShape, count = shape.reduce(1, *)
                let scale = pow(10, r.uniform(-1, 1))
                let x = (0..<count).map { _ in Double(Float(r.uniform(-2, 2) * scale)) }
                let dy = (0..<count).map { _ in Double(Float(r.uniform(-1, 1))) }
                let gamma = (0..<c).map { _ in Double(Float(r.uniform(0.2, 2))) }, beta = (0..<c).map { _ in Double(Float(r.uniform(-1, 1))) }
                let rm = (0..<c).map { _ in Double(Float(r.uniform(-0.5, 0.5))) }, rv = (0..<c).map { _ in Double(Float(r.uniform(0.5, 2))) }
                let eps = [1e-5, 1e-3][r.int(0, 1)], momentum = [0.1, r.uniform(0.01, 0.9)][r.int(0, 1)]
                if sizes.contains(where: { $0 * spatial <= 3 }) { tinyChunks += 1 }
                let ref = Self.ghostBN(x: x, dy: dy, n: n, c: c, spatial: spatial, ghost: ghost, gamma: gamma, beta: beta,
                                       runningMean: rm, runningVar: rv, eps: eps, momentum: momentum)
                try Self.expectPasses(.object([
                    "name": .string("ghost_bn_random_\(draw)"), "kind": .string("function"), "technique": .string("ghost_batch_norm"),
                    "hyperparameters": .object(["ghost_batch_size": .number(Double(ghost)), "eps": .number(eps), "momentum": .number(momentum)]),
                    "inputs": .object(["x": Self.nested(shape, x), "gamma": Self.nested([c], gamma), "beta": Self.nested([c], beta),
                                       "running_mean": Self.nested([c], rm), "running_var": Self.nested([c], rv), "dy": Self.nested(shape, dy)]),
                    "outputs": .object(["chunk_sizes": .array(ref.chunks.map { .number(Double($0)) }), "y_train": Self.nested(shape, ref.y),
                                        "running_mean": Self.nested([c], ref.runningMean), "running_var": Self.nested([c], ref.runningVar),
                                        "dx": Self.nested(shape, ref.dx), "dgamma": Self.nested([c], ref.dgamma), "dbeta": Self.nested([c], ref.dbeta),
                                        "y_eval_after_update": Self.nested(shape, ref.yEval)]),
                ]), "ghost bn \(draw): shape \(shape) ghost \(ghost) chunks \(sizes) m \(momentum) ε \(eps)",
                   perturb: ["dx", "y_train", "running_var", "dgamma"][draw % 4])
            }
            // StableMax and z-loss on the same logits
            do {
                let rows = r.int(1, 5), classes = r.int(2, 8)
                let magnitude = pow(10, r.uniform(-1, 2.5))
                let logits = (0..<(rows * classes)).map { _ in Double(Float(r.uniform(-1, 1) * magnitude)) }
                let labels = (0..<rows).map { _ in r.int(0, classes - 1) }
                let sm = Self.stableMax(logits, classes: classes, labels: labels)
                try Self.expectPasses(.object([
                    "name": .string("stablemax_random_\(draw)"), "kind": .string("function"), "technique": .string("stablemax"),
                    "inputs": .object(["logits": Self.nested([rows, classes], logits), "labels": .array(labels.map { .number(Double($0)) })]),
                    "outputs": .object(["s": Self.nested([rows, classes], sm.s), "probabilities": Self.nested([rows, classes], sm.p),
                                        "log_probabilities": Self.nested([rows, classes], sm.logp), "loss_mean": .number(sm.loss),
                                        "dloss_dlogits": Self.nested([rows, classes], sm.grad)]),
                ]), "stablemax \(draw): [\(rows), \(classes)] magnitude \(magnitude)", perturb: draw < 8 ? "dloss_dlogits" : nil)
                let coef = [1e-4, r.logUniform(1e-5, 1e-1)][r.int(0, 1)]
                let zl = Self.zLoss(logits.map { $0 / max(1, magnitude / 20) }.map { Double(Float($0)) }, classes: classes, labels: labels, coefficient: coef)
                let zLogits = logits.map { Double(Float($0 / max(1, magnitude / 20))) }
                try Self.expectPasses(.object([
                    "name": .string("z_loss_random_\(draw)"), "kind": .string("function"), "technique": .string("z_loss"),
                    "hyperparameters": .object(["z_loss_coef": .number(coef)]),
                    "inputs": .object(["logits": Self.nested([rows, classes], zLogits), "labels": .array(labels.map { .number(Double($0)) })]),
                    "outputs": .object(["log_z": Self.nested([rows], zl.logZ), "ce_mean": .number(zl.ce), "z_loss": .number(zl.z),
                                        "total": .number(zl.total), "dtotal_dlogits": Self.nested([rows, classes], zl.grad)]),
                ]), "z-loss \(draw): [\(rows), \(classes)] coefficient \(coef)", perturb: draw < 8 ? "dtotal_dlogits" : nil)
            }
        }
        // Chunks of 2–3 values per channel: ∂x cancels terms of size γ/σ down to nearly 0 (two values normalise to
        // ±1 whatever they are); the fused kernel's Double sums keep float32 within tolerance there too.
        #expect(shortLast > 5 && fewer > 0 && tinyChunks > 10,
                "shorter last chunks in \(shortLast) draws, fewer chunks than asked in \(fewer), chunks of ≤ 3 values in \(tinyChunks)")
    }
}
