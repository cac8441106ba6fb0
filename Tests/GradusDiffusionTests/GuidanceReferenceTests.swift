import Foundation
import GradusDiffusion
import GradusRuntime
import Testing
import _GradusTestSupport

/// Spec §4 (CFG, both formulations, CFG-rescale) and §5.1 (APG: momentum → norm threshold → projection onto the
/// conditional prediction → update → combine → rescale, with diffusers' disabled case) re-implemented in float64
/// from the spec's text, and used to generate random `cfg` and `apg` cases in the golden file's format — random
/// scales, η, thresholds, momentum of either sign or none, both formulations, explicit `norm_dim` (one or two axes,
/// negative allowed), rescale — that the library must pass through `GuidanceConformance` in float64 and float32.
@Suite struct GuidanceReferenceTests {
    /// Element index groups sharing every coordinate outside `dims` (and the batch index): the sets a norm runs over.
    static func groups(shape: [Int], dims: [Int]) -> [[Int]] {
        let n = shape.reduce(1, *), rank = shape.count
        var strides = [Int](repeating: 1, count: rank)
        for a in stride(from: rank - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * shape[a + 1] }
        var map: [[Int]: [Int]] = [:], order: [[Int]] = []
        for i in 0..<n {
            let key = (0..<rank).map { a in dims.contains(a) ? -1 : (i / strides[a]) % shape[a] }
            if map[key] == nil { order.append(key) }
            map[key, default: []].append(i)
        }
        return order.map { map[$0]! }
    }

    /// CFG-rescale: per sample, unbiased std over the non-batch axes.
    static func rescale(_ pred: [Double], cond: [Double], batch: Int, phi: Double) -> [Double] {
        guard phi != 0 else { return pred }
        let per = pred.count / batch
        var out = pred
        func std(_ v: ArraySlice<Double>) -> Double {
            let mean = v.reduce(0, +) / Double(v.count)
            return (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)).squareRoot()
        }
        for b in 0..<batch {
            let r = (b * per)..<((b + 1) * per)
            let ratio = std(cond[r]) / std(pred[r])
            for i in r { out[i] = phi * pred[i] * ratio + (1 - phi) * pred[i] }
        }
        return out
    }

    static func cfg(cond: [Double], uncond: [Double], scale: Double, original: Bool) -> [Double] {
        cond.indices.map { original ? cond[$0] + scale * (cond[$0] - uncond[$0]) : uncond[$0] + scale * (cond[$0] - uncond[$0]) }
    }

    struct APGStep { var pred, diffAfterMomentum, diffAfterRescale, parallel, orthogonal, update: [Double] }

    /// Spec §5.1 over successive calls (the momentum buffer carried across them).
    static func apg(conds: [[Double]], unconds: [[Double]], shape: [Int], scale: Double, eta: Double, threshold: Double,
                    momentum: Double?, original: Bool, dims: [Int], phi: Double) -> [APGStep] {
        let gs = groups(shape: shape, dims: dims)
        var buffer: [Double]? = nil, out: [APGStep] = []
        for (c, u) in zip(conds, unconds) {
            if (original && scale == 0) || (!original && scale == 1) {  // disabled: c, no momentum update
                out.append(APGStep(pred: c, diffAfterMomentum: [], diffAfterRescale: [], parallel: [], orthogonal: [], update: []))
                continue
            }
            var d = c.indices.map { c[$0] - u[$0] }
            if let beta = momentum {
                let m = d.indices.map { d[$0] + beta * (buffer?[$0] ?? 0) }
                buffer = m; d = m
            }
            let afterMomentum = d
            if threshold > 0 {
                for g in gs {
                    let norm = g.reduce(0) { $0 + d[$1] * d[$1] }.squareRoot()
                    let f = min(1, threshold / norm)
                    for i in g { d[i] *= f }
                }
            }
            var par = [Double](repeating: 0, count: d.count), orth = par
            for g in gs {
                var norm = g.reduce(0) { $0 + c[$1] * c[$1] }.squareRoot()
                if norm == 0 { norm = 1e-12 }
                let dot = g.reduce(0) { $0 + d[$1] * c[$1] / norm }
                for i in g { par[i] = dot * c[i] / norm; orth[i] = d[i] - par[i] }
            }
            let update = d.indices.map { orth[$0] + eta * par[$0] }
            var pred = d.indices.map { (original ? c[$0] : u[$0]) + scale * update[$0] }
            pred = rescale(pred, cond: c, batch: shape[0], phi: phi)
            out.append(APGStep(pred: pred, diffAfterMomentum: afterMomentum, diffAfterRescale: d, parallel: par, orthogonal: orth, update: update))
        }
        return out
    }


    @Test func libraryMatchesReferenceOnRandomCases() throws {
        var r = RandomDraws(seed: 0xA96)
        let tol: JSON = .object(["rtol": .number(1e-5), "atol": .number(1e-6)])
        var thresholdsActive = 0
        for draw in 0..<150 {
            let shape = [r.int(1, 3), r.int(1, 4), r.int(2, 5), r.int(2, 5)], n = shape.reduce(1, *)
            // From 0.1 to 30, ten times the golden inputs' range (randn). With large scales the guided prediction
            // cancels terms of hundreds; the library combines in Double and rounds once, so float32 still meets the
            // 1e-6 floor (float32 arithmetic missed it by up to 1.1e-5 in 4 of 150 draws up to amplitude 10).
            let amplitude = pow(10, r.uniform(-1, log10(30)))
            func sample() -> [Double] { (0..<n).map { _ in Double(Float(r.uniform(-1, 1) * amplitude)) } }
            let original = r.coin(), phi = r.int(0, 2) == 0 ? r.uniform(0, 1) : 0
            // CFG
            do {
                let c = sample(), u = sample(), s = r.int(0, 5) == 0 ? 1 : r.uniform(0, 12)
                let pred = Self.rescale(Self.cfg(cond: c, uncond: u, scale: s, original: original), cond: c, batch: shape[0], phi: phi)
                let cfgCase: JSON = .object([
                    "id": .string("cfg/random/\(draw)"), "op": .string("cfg"),
                    "params": .object(["guidance_scale": .number(s), "guidance_rescale": .number(phi),
                                       "formulation": .string(original ? "original" : "diffusers")]),
                    "inputs": .object(["pred_cond": goldenTensor(shape, c), "pred_uncond": goldenTensor(shape, u)]),
                    "outputs": .object(["pred": goldenTensor(shape, pred)]), "tol": tol,
                ])
                for p in [GuidanceConformance.Precision.float64, .float32] {
                    let r = try GuidanceConformance.run(case: cfgCase, precision: p)
                    #expect(r.status == .pass, "cfg draw \(draw) \(p): \(r)")
                }
            }
            // APG, three calls
            let steps = 3, conds = (0..<steps).map { _ in sample() }, unconds = (0..<steps).map { _ in sample() }
            let scale = r.int(0, 9) == 0 ? (original ? 0 : 1) : r.uniform(1.5, 12)
            let eta = [0, 1, r.uniform(0, 1)][r.int(0, 2)]
            let threshold = r.int(0, 3) == 0 ? 0 : amplitude * r.uniform(0.5, 8)
            let momentum: Double? = r.int(0, 2) == 0 ? nil : r.uniform(-0.9, 0.9)
            var dimsParam: JSON = .null, dims = Array(1..<shape.count)
            switch r.int(0, 3) {
            case 0: dimsParam = .array([.number(1)]); dims = [1]
            case 1: dimsParam = .array([.number(-1), .number(-2)]); dims = [shape.count - 1, shape.count - 2]
            default: break
            }
            let ref = Self.apg(conds: conds, unconds: unconds, shape: shape, scale: scale, eta: eta, threshold: threshold,
                               momentum: momentum, original: original, dims: dims, phi: phi)
            if threshold > 0, ref.contains(where: { $0.diffAfterMomentum != $0.diffAfterRescale }) { thresholdsActive += 1 }
            let intermediates: [JSON] = ref.map { s in
                s.update.isEmpty ? .object([:]) : .object([
                    "diff_after_momentum": goldenTensor(shape, s.diffAfterMomentum), "diff_after_rescale": goldenTensor(shape, s.diffAfterRescale),
                    "parallel": goldenTensor(shape, s.parallel), "orthogonal": goldenTensor(shape, s.orthogonal), "update": goldenTensor(shape, s.update),
                ])
            }
            let apgCase: JSON = .object([
                "id": .string("apg/random/\(draw)"), "op": .string("apg"),
                "params": .object(["guidance_scale": .number(scale), "eta": .number(eta), "norm_threshold": .number(threshold),
                                   "momentum": momentum.map { .number($0) } ?? .null, "formulation": .string(original ? "original" : "diffusers"),
                                   "norm_dim": dimsParam, "guidance_rescale": .number(phi), "steps": .number(Double(steps))]),
                "inputs": .object(["pred_cond": .array(conds.map { goldenTensor(shape, $0) }), "pred_uncond": .array(unconds.map { goldenTensor(shape, $0) })]),
                "outputs": .object(["pred": .array(ref.map { goldenTensor(shape, $0.pred) }), "intermediates": .array(intermediates)]),
                "tol": tol,
            ])
            for p in [GuidanceConformance.Precision.float64, .float32] {
                let r = try GuidanceConformance.run(case: apgCase, precision: p)
                #expect(r.status == .pass, "apg draw \(draw) \(p) scale \(scale) eta \(eta) r \(threshold) beta \(String(describing: momentum)) dims \(dims) phi \(phi): \(r)")
            }
        }
        #expect(thresholdsActive > 30, "the norm threshold acted in \(thresholdsActive) draws")
    }
}
