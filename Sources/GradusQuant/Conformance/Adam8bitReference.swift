import GradusRuntime
import GradusTensor
import _GradusShims

/// Reference 8-bit Adam (bitsandbytes `Adam8bit` on CPU, spec §4.3): the oracle the conformance runner uses when
/// no optimizer is plugged in (it exercises `Blockwise8bitState`). The optimizer proper lives in GradusOptim,
/// whose `Adam8bitConformance.runner` `gradus conformance` passes in.
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

    static func runCase(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker,
                        runner make: Adam8bitCaseRunnerFactory?) throws(GradusError) {
        let lr = try CaseData.double(p["lr"], "lr")
        let betas = p["betas"]?.array?.compactMap { $0.double } ?? [0.9, 0.999]
        guard betas.count == 2 else { throw .format("bnb_adam8bit: betas must have two entries") }
        var param = try CaseData.tensor(inp["param"], "param").data.map { Float($0) }
        let settings = Adam8bitCaseSettings(
            learningRate: lr, beta1: betas[0], beta2: betas[1], epsilon: p["eps"]?.double ?? 1e-8,
            weightDecay: p["weight_decay"]?.double ?? 0, minQuantizedSize: p["min_8bit_size"]?.int ?? 4096,
            blockSize: p["block_size"]?.int ?? 256, count: param.count)
        guard settings.blockSize > 0, settings.minQuantizedSize >= 0 else {
            throw .invalidArgument("bnb_adam8bit: block_size must be positive and min_8bit_size non-negative")
        }
        guard let grads = inp["grads"]?.array else { throw .format("bnb_adam8bit: missing grads") }
        guard let traj = out["trajectory"]?.array, traj.count == grads.count else {
            throw .format("bnb_adam8bit: trajectory length must equal the number of gradients")
        }
        let n = param.count
        var runner: any Adam8bitCaseRunner
        if let make { runner = try make(settings) } else { runner = try Oracle(settings) }
        var exempt = Set<Int>()
        for (s, gj) in grads.enumerated() {
            let g = try CaseData.tensor(gj, "grads[\(s)]").data.map { Float($0) }
            guard g.count == n else { throw .shapeMismatch("bnb_adam8bit: gradient size \(g.count) ≠ \(n)") }
            try runner.step(param: &param, grad: g)
            let want = traj[s]
            k.values("param", param.map { Double($0) }, want["param"], exempt: exempt)
            if let q = runner.quantizedStates() {
                let dm = k.codes("m_code", q.codesM.map { Int($0) }, want["m_code"], allowed: 2)
                let dv = k.codes("v_code", q.codesV.map { Int($0) }, want["v_code"], allowed: 2)
                exempt.formUnion(dm); exempt.formUnion(dv)
                k.values("absmax", q.absmaxM.map { Double($0) }, want["m_absmax"])
                k.values("absmax", q.absmaxV.map { Double($0) }, want["v_absmax"])
            } else if n >= settings.minQuantizedSize {
                k.fail("bnb_adam8bit: \(n) ≥ min_8bit_size \(settings.minQuantizedSize) elements but the states are not 8-bit")
            }
        }
    }

    /// The in-module oracle as a case runner: float32 states below `minQuantizedSize`, 8-bit ones above.
    struct Oracle: Adam8bitCaseRunner {
        let h: Hyper
        let quantized: Bool
        var m: Blockwise8bitState, v: Blockwise8bitState
        var mf: [Float], vf: [Float]
        var k = 0

        init(_ s: Adam8bitCaseSettings) throws(GradusError) {
            h = Hyper(lr: Float(s.learningRate), beta1: Float(s.beta1), beta2: Float(s.beta2), eps: Float(s.epsilon),
                      weightDecay: Float(s.weightDecay))
            quantized = s.count >= s.minQuantizedSize
            m = try Blockwise8bitState(count: s.count, codebook: .dynamicSigned, blockSize: s.blockSize)
            v = try Blockwise8bitState(count: s.count, codebook: .dynamicUnsigned, blockSize: s.blockSize)
            mf = [Float](repeating: 0, count: quantized ? 0 : s.count); vf = mf
        }

        mutating func step(param: inout [Float], grad g: [Float]) throws(GradusError) {
            k += 1
            let k = k, h = h
            if quantized {
                param.withUnsafeMutableBufferPointer { pb in Adam8bitReference.step(param: pb.baseAddress!, grad: g, m: &m, v: &v, step: k, h) }
                return
            }
            let c1 = Float(1 - pow(Double(h.beta1), Double(k)))
            let c2 = Float(gradus_sqrt(1 - pow(Double(h.beta2), Double(k))))
            for i in 0..<param.count {
                mf[i] = h.beta1 * mf[i] + (1 - h.beta1) * g[i]
                vf[i] = h.beta2 * vf[i] + (1 - h.beta2) * g[i] * g[i]
                if h.weightDecay > 0 { param[i] *= 1 - h.lr * h.weightDecay }
                param[i] -= (h.lr / c1) * (mf[i] / (gradus_sqrtf(vf[i]) / c2 + h.eps))
            }
        }

        func quantizedStates() -> Adam8bitCaseStates? {
            quantized ? Adam8bitCaseStates(codesM: m.codes, absmaxM: m.absmax, codesV: v.codes, absmaxV: v.absmax) : nil
        }
    }
}

/// The hyperparameters of a `bnb_adam8bit` golden case (spec §4.3), for the optimizer under test.
public struct Adam8bitCaseSettings: Sendable, Equatable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    /// Decoupled (`p ← p·(1 − lr·λ)`), as bitsandbytes' `Adam8bit` does.
    public var weightDecay: Double
    /// Tensors with fewer elements keep float32 states.
    public var minQuantizedSize: Int
    public var blockSize: Int
    /// Elements of the case's single parameter tensor.
    public var count: Int
}

/// The 8-bit states after a step: codes per element and float32 absmax per block, for `m` and `v`.
public struct Adam8bitCaseStates: Sendable {
    public var codesM: [UInt8]
    public var absmaxM: [Float]
    public var codesV: [UInt8]
    public var absmaxV: [Float]
    public init(codesM: [UInt8], absmaxM: [Float], codesV: [UInt8], absmaxV: [Float]) {
        self.codesM = codesM; self.absmaxM = absmaxM; self.codesV = codesV; self.absmaxV = absmaxV
    }
}

/// An 8-bit Adam run through a `bnb_adam8bit` case: steps numbered from 1 in call order. GradusQuant carries an
/// oracle (`Blockwise8bitState` and the spec's loop); the optimizer proper lives in GradusOptim, which provides the
/// runner that `gradus conformance` uses, so the golden file checks the product.
public protocol Adam8bitCaseRunner {
    /// One optimizer step on `param` with gradient `grad` (same count).
    mutating func step(param: inout [Float], grad: [Float]) throws(GradusError)
    /// The states after the last step; nil when the tensor keeps float32 states.
    func quantizedStates() -> Adam8bitCaseStates?
}

/// Makes the runner for a case's settings.
public typealias Adam8bitCaseRunnerFactory = @Sendable (Adam8bitCaseSettings) throws(GradusError) -> any Adam8bitCaseRunner
