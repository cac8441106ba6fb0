import GradusRuntime
import GradusTensor

/// Runs the NN-side golden cases of `optimizers.json` (spec §0.2, §14.2): StableMax, Ghost BatchNorm,
/// z-loss and qk-LayerNorm attention. In float64 the spec's tolerance is `|x − ref| ≤ 1e-12 + 1e-9·|ref|`;
/// in float32 (spec §0.3, "1e-5 relative for functions") `|x − ref| ≤ 1e-6 + 1e-5·|ref|`. Integer outputs
/// must match exactly.
public enum NNConformance {
    /// The techniques (`technique` field of a `function` case) this runner handles.
    public static let techniques: Set<String> = ["stablemax", "ghost_batch_norm", "z_loss", "qk_layernorm"]

    /// Runs one case. Returns nil for a case it does not handle; otherwise whether every output matched,
    /// with the largest absolute and relative deviations. Throws on a malformed case.
    public static func run(case c: JSON) throws(GradusError) -> (passed: Bool, maxAbsErr: Double, maxRelErr: Double)? {
        try run(case: c, dtype: .float64)
    }

    /// `run(case:)` computing in `dtype` (inputs are rounded to it; the tolerance follows the dtype).
    public static func run(case c: JSON, dtype: DType) throws(GradusError) -> (passed: Bool, maxAbsErr: Double, maxRelErr: Double)? {
        guard c["kind"]?.string == "function", let technique = c["technique"]?.string, techniques.contains(technique) else {
            return nil
        }
        let inputs = c["inputs"] ?? .null, outputs = c["outputs"] ?? .null, hp = c["hyperparameters"] ?? .null
        var check = Check(dtype: dtype)
        switch technique {
        case "stablemax": try stableMax(inputs, outputs, &check)
        case "ghost_batch_norm": try ghostBatchNorm(hp, inputs, outputs, &check)
        case "z_loss": try zLoss(hp, inputs, outputs, &check)
        case "qk_layernorm": try qkLayerNorm(hp, inputs, outputs, &check)
        default: return nil
        }
        return (check.passed, check.maxAbs, check.maxRel)
    }

    /// Accumulates deviations against references.
    struct Check {
        let dtype: DType
        var passed = true, maxAbs = 0.0, maxRel = 0.0
        var atol: Double { dtype == .float64 ? 1e-12 : 1e-6 }
        var rtol: Double { dtype == .float64 ? 1e-9 : 1e-5 }

        mutating func values(_ got: [Double], _ want: JSON?, _ name: String) throws(GradusError) {
            guard let ref = want?.flatDoubles else { throw .format("golden case: missing output \(name)") }
            guard ref.count == got.count else {
                passed = false
                return
            }
            for (g, r) in zip(got, ref) {
                let d = Swift.abs(g - r)
                if !(d <= atol + rtol * Swift.abs(r)) { passed = false }
                maxAbs = Swift.max(maxAbs, d.isNaN ? .infinity : d)
                if r != 0 { maxRel = Swift.max(maxRel, d / Swift.abs(r)) }
            }
        }

        mutating func tensor(_ got: Tensor, _ want: JSON?, _ name: String) throws(GradusError) {
            if let shape = want?.shape, shape != got.shape, !(shape.isEmpty && got.count == 1) { passed = false; return }
            try values(got.scalars(as: Double.self), want, name)
        }

        mutating func integers(_ got: [Int], _ want: JSON?, _ name: String) throws(GradusError) {
            guard let ref = want?.array?.compactMap(\.int) else { throw .format("golden case: missing output \(name)") }
            if ref != got { passed = false }
        }
    }

    static func tensor(_ j: JSON?, _ name: String, requiresGrad: Bool = false, _ k: Check) throws(GradusError) -> Tensor {
        guard let j, let shape = j.shape, let values = j.flatDoubles else { throw .format("golden case: input \(name) is not a numeric array") }
        return try Tensor.make(shape: shape, scalars: values, dtype: k.dtype).requiringGrad(requiresGrad)
    }

    static func labels(_ j: JSON?) throws(GradusError) -> [Int] {
        guard let a = j?.array else { throw .format("golden case: missing labels") }
        var out: [Int] = []
        for v in a {
            guard let i = v.int else { throw .format("golden case: label \(v) is not an integer") }
            out.append(i)
        }
        return out
    }

    static func number(_ j: JSON?, _ name: String, default d: Double? = nil) throws(GradusError) -> Double {
        if let v = j?.double { return v }
        if let d { return d }
        throw .format("golden case: missing number \(name)")
    }

    // MARK: cases

    static func stableMax(_ inp: JSON, _ out: JSON, _ k: inout Check) throws(GradusError) {
        let logits = try tensor(inp["logits"], "logits", requiresGrad: true, k)
        let y = try labels(inp["labels"])
        try GradMode.withGrad { () throws(GradusError) in
            try k.tensor(logits.stableMaxScores(), out["s"], "s")
            try k.tensor(logits.stableMax(axis: -1), out["probabilities"], "probabilities")
            try k.tensor(logits.logStableMax(axis: -1), out["log_probabilities"], "log_probabilities")
            let loss = try Loss.stableMaxCrossEntropy(logits, labels: y, dtype: .float64)
            try k.tensor(loss, out["loss_mean"], "loss_mean")
            let g = try Tensor.gradients(of: [loss], wrt: [logits])[0]
            try k.tensor(g, out["dloss_dlogits"], "dloss_dlogits")
        }
    }

    static func ghostBatchNorm(_ hp: JSON, _ inp: JSON, _ out: JSON, _ k: inout Check) throws(GradusError) {
        let x = try tensor(inp["x"], "x", requiresGrad: true, k)
        let dy = try tensor(inp["dy"], "dy", k)
        guard x.rank >= 2, let ghost = hp["ghost_batch_size"]?.int else { throw .format("ghost_bn: needs x (N, C, …) and ghost_batch_size") }
        let layer = try GhostBatchNorm(x.shape[1], ghostBatchSize: ghost, eps: number(hp["eps"], "eps", default: 1e-5),
                                       momentum: number(hp["momentum"], "momentum", default: 0.1), dtype: k.dtype)
        GradMode.withoutGrad {
            Kernels.copy(from: (try? tensor(inp["gamma"], "gamma", k)) ?? Tensor.ones([x.shape[1]], dtype: k.dtype), to: layer.weight!)
            Kernels.copy(from: (try? tensor(inp["beta"], "beta", k)) ?? Tensor.zeros([x.shape[1]], dtype: k.dtype), to: layer.bias!)
        }
        try layer.setBuffer("running_mean", tensor(inp["running_mean"], "running_mean", k))
        try layer.setBuffer("running_var", tensor(inp["running_var"], "running_var", k))
        try k.integers(GhostBatchNorm.chunkSizes(batch: x.shape[0], ghostBatchSize: ghost), out["chunk_sizes"], "chunk_sizes")
        try GradMode.withGrad { () throws(GradusError) in
            layer.train()
            let y = try layer(x)
            try k.tensor(y, out["y_train"], "y_train")
            let g = try Tensor.gradients(of: [y], wrt: [x, layer.weight!, layer.bias!], gradOutputs: [dy])
            try k.tensor(g[0], out["dx"], "dx")
            try k.tensor(g[1], out["dgamma"], "dgamma")
            try k.tensor(g[2], out["dbeta"], "dbeta")
        }
        try k.tensor(layer.runningMean!, out["running_mean"], "running_mean")
        try k.tensor(layer.runningVar!, out["running_var"], "running_var")
        layer.eval()
        try k.tensor(layer(x), out["y_eval_after_update"], "y_eval_after_update")
    }

    static func zLoss(_ hp: JSON, _ inp: JSON, _ out: JSON, _ k: inout Check) throws(GradusError) {
        let logits = try tensor(inp["logits"], "logits", requiresGrad: true, k)
        let y = try labels(inp["labels"])
        let coef = try number(hp["z_loss_coef"], "z_loss_coef", default: 1e-4)
        try GradMode.withGrad { () throws(GradusError) in
            try k.tensor(Loss.logPartition(logits), out["log_z"], "log_z")
            try k.tensor(Loss.crossEntropy(logits, labels: y), out["ce_mean"], "ce_mean")
            try k.tensor(Loss.zLoss(logits, coefficient: coef), out["z_loss"], "z_loss")
            let total = try Loss.crossEntropy(logits, labels: y, zLossCoefficient: coef)
            try k.tensor(total, out["total"], "total")
            try k.tensor(Tensor.gradients(of: [total], wrt: [logits])[0], out["dtotal_dlogits"], "dtotal_dlogits")
        }
    }

    /// qk-LayerNorm attention (spec §8.1): q and k of shape (…, T, d) normalised over d (their own weights and
    /// biases; a case without them normalises without the affine map), then softmax attention with the 1/√d
    /// scale, causal or not. Every output the case lists is checked; at least one must be listed. Besides the
    /// public file's outputs, a case may list the gradients of the LayerNorm parameters (`dq_ln_weight`, …).
    static func qkLayerNorm(_ hp: JSON, _ inp: JSON, _ out: JSON, _ k: inout Check) throws(GradusError) {
        let q = try tensor(inp["q"], "q", requiresGrad: true, k)
        let kk = try tensor(inp["k"], "k", requiresGrad: true, k)
        let v = try tensor(inp["v"], "v", requiresGrad: true, k)
        let eps = try number(hp["layernorm_eps"], "layernorm_eps", default: 1e-5)
        let causal = hp["causal"]?.bool ?? true
        func optional(_ name: String) throws(GradusError) -> Tensor? {
            inp[name] == nil || inp[name]!.isNull ? nil : try tensor(inp[name], name, requiresGrad: true, k)
        }
        let affine = [try optional("q_ln_weight"), try optional("q_ln_bias"), try optional("k_ln_weight"), try optional("k_ln_bias")]
        let outputNames = ["attention_logits", "attention_weights", "out", "dq", "dk", "dv", "out_without_qk_layernorm",
                           "dq_ln_weight", "dq_ln_bias", "dk_ln_weight", "dk_ln_bias"]
        guard outputNames.contains(where: { out[$0] != nil }) else { throw .format("qk_layernorm case: no known output") }
        try GradMode.withGrad { () throws(GradusError) in
            let qn = try q.layerNormalized(normalizedRank: 1, weight: affine[0], bias: affine[1], eps: eps)
            let kn = try kk.layerNormalized(normalizedRank: 1, weight: affine[2], bias: affine[3], eps: eps)
            let r = try Attention.scaledDotProduct(query: qn, key: kn, value: v, causal: causal)
            if out["attention_logits"] != nil { try k.tensor(r.logits, out["attention_logits"], "attention_logits") }
            if out["attention_weights"] != nil { try k.tensor(r.weights, out["attention_weights"], "attention_weights") }
            if out["out"] != nil { try k.tensor(r.output, out["out"], "out") }
            let gradNames = ["dq", "dk", "dv", "dq_ln_weight", "dq_ln_bias", "dk_ln_weight", "dk_ln_bias"]
            if gradNames.contains(where: { out[$0] != nil }) {
                guard inp["d_out"] != nil else { throw .format("qk_layernorm case: gradients listed without d_out") }
                let dOut = try tensor(inp["d_out"], "d_out", k)
                let wrt = [q, kk, v] + affine.compactMap { $0 }
                let g = try Tensor.gradients(of: [r.output], wrt: wrt, gradOutputs: [dOut])
                var byName = ["dq": g[0], "dk": g[1], "dv": g[2]]
                var next = 3
                for (i, name) in ["dq_ln_weight", "dq_ln_bias", "dk_ln_weight", "dk_ln_bias"].enumerated() where affine[i] != nil {
                    byName[name] = g[next]
                    next += 1
                }
                for name in gradNames where out[name] != nil {
                    guard let got = byName[name] else { throw .format("qk_layernorm case: \(name) listed without its parameter") }
                    try k.tensor(got, out[name], name)
                }
            }
            if out["out_without_qk_layernorm"] != nil {
                let plain = try Attention.scaledDotProduct(query: q, key: kk, value: v, causal: causal)
                try k.tensor(plain.output, out["out_without_qk_layernorm"], "out_without_qk_layernorm")
            }
        }
    }
}
