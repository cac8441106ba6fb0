import GradusRuntime
import GradusTensor
import _GradusShims

/// Reference 8-bit Adam (bitsandbytes `Adam8bit` on CPU, spec §4.3) used by the conformance runner to
/// exercise `Blockwise8bitState`. The optimizer proper lives in GradusOptim; this is its test oracle.
enum Adam8bitReference {
    struct Hyper { var lr: Float; var beta1: Float; var beta2: Float; var eps: Float; var weightDecay: Float }

    /// One step on `param` with states `m` (signed map) and `v` (unsigned map), block by block:
    /// dequantize, `m = β₁m + (1−β₁)g`, `v = β₂v + (1−β₂)g²`, `denom = √v/c₂ + ε`, decoupled decay,
    /// `p −= (lr/c₁)·m/denom`, requantize with fresh absmax.
    static func step(param: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, m: inout Blockwise8bitState,
                     v: inout Blockwise8bitState, step k: Int, _ h: Hyper) {
        let c1 = Float(1 - pow(Double(h.beta1), Double(k)))
        let c2 = Float(gradus_sqrt(1 - pow(Double(h.beta2), Double(k))))
        let stepSize = h.lr / c1
        let decay: Float = 1 - h.lr * h.weightDecay
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * m.blockSize) { tmp in
            let tm = tmp.baseAddress!, tv = tm + m.blockSize
            for b in 0..<m.blockCount {
                let r = m.range(ofBlock: b)
                m.dequantizeBlock(b, into: tm)
                v.dequantizeBlock(b, into: tv)
                for j in 0..<r.count {
                    let i = r.lowerBound + j
                    let g = grad[i]
                    tm[j] = h.beta1 * tm[j] + (1 - h.beta1) * g
                    tv[j] = h.beta2 * tv[j] + (1 - h.beta2) * g * g
                    let denom = gradus_sqrtf(tv[j]) / c2 + h.eps
                    if h.weightDecay > 0 { param[i] *= decay }
                    param[i] -= stepSize * (tm[j] / denom)
                }
                m.quantizeBlock(b, from: tm)
                v.quantizeBlock(b, from: tv)
            }
        }
    }

    static func pow(_ a: Double, _ b: Double) -> Double { Double._pow(a, b) }

    static func runCase(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let lr = try CaseData.double(p["lr"], "lr")
        let betas = p["betas"]?.array?.compactMap { $0.double } ?? [0.9, 0.999]
        guard betas.count == 2 else { throw .format("bnb_adam8bit: betas must have two entries") }
        let h = Hyper(lr: Float(lr), beta1: Float(betas[0]), beta2: Float(betas[1]), eps: Float(p["eps"]?.double ?? 1e-8),
                      weightDecay: Float(p["weight_decay"]?.double ?? 0))
        let minSize = p["min_8bit_size"]?.int ?? 4096
        let blockSize = p["block_size"]?.int ?? 256
        var param = try CaseData.tensor(inp["param"], "param").data.map { Float($0) }
        guard let grads = inp["grads"]?.array else { throw .format("bnb_adam8bit: missing grads") }
        guard let traj = out["trajectory"]?.array, traj.count == grads.count else {
            throw .format("bnb_adam8bit: trajectory length must equal the number of gradients")
        }
        let n = param.count
        let quantized = n >= minSize
        var m = try Blockwise8bitState(count: n, codebook: .dynamicSigned, blockSize: blockSize)
        var v = try Blockwise8bitState(count: n, codebook: .dynamicUnsigned, blockSize: blockSize)
        var mf = [Float](repeating: 0, count: n), vf = mf  // float32 states for small tensors
        var exempt = Set<Int>()
        for (s, gj) in grads.enumerated() {
            let g = try CaseData.tensor(gj, "grads[\(s)]").data.map { Float($0) }
            guard g.count == n else { throw .shapeMismatch("bnb_adam8bit: gradient size \(g.count) ≠ \(n)") }
            if quantized {
                param.withUnsafeMutableBufferPointer { pb in step(param: pb.baseAddress!, grad: g, m: &m, v: &v, step: s + 1, h) }
            } else {
                let c1 = Float(1 - pow(Double(h.beta1), Double(s + 1)))
                let c2 = Float(gradus_sqrt(1 - pow(Double(h.beta2), Double(s + 1))))
                for i in 0..<n {
                    mf[i] = h.beta1 * mf[i] + (1 - h.beta1) * g[i]
                    vf[i] = h.beta2 * vf[i] + (1 - h.beta2) * g[i] * g[i]
                    if h.weightDecay > 0 { param[i] *= 1 - h.lr * h.weightDecay }
                    param[i] -= (h.lr / c1) * (mf[i] / (gradus_sqrtf(vf[i]) / c2 + h.eps))
                }
            }
            let want = traj[s]
            k.values("param", param.map { Double($0) }, want["param"], exempt: exempt)
            if quantized {
                let dm = k.codes("m_code", m.codes.map { Int($0) }, want["m_code"], allowed: 2)
                let dv = k.codes("v_code", v.codes.map { Int($0) }, want["v_code"], allowed: 2)
                exempt.formUnion(dm); exempt.formUnion(dv)
                k.values("absmax", m.absmax.map { Double($0) }, want["m_absmax"])
                k.values("absmax", v.absmax.map { Double($0) }, want["v_absmax"])
            }
        }
    }
}
