import GradusRuntime
import GradusTensor

/// Runs the golden cases of op `alignprop_truncated_backprop` (spec §6.3): a LoRA-adapted linear ε-model
/// `ε(x, i) = x·(W₀ + (α/r)·B·A)ᵀ + bias + temb[i]` sampled by a DDIM chain over the listed `ᾱ`, the first
/// `S − K` model outputs detached, loss `mean((x_final − target)²)`; compares loss, final sample and the
/// gradients of `A` and `B` for every `(η, K)` run. Each run is computed with and without gradient checkpointing,
/// and the two sets of gradients must be bit-identical.
public enum AlignPropConformance {
    /// The op this runner handles.
    public static let op = "alignprop_truncated_backprop"

    /// Runs one case; nil when the case's op is not `alignprop_truncated_backprop`.
    /// - Throws: `GradusError.format` for a malformed case. Implementation errors are reported as `.fail`.
    public static func run(case json: JSON, precision: GuidanceConformance.Precision = .float64) throws(GradusError) -> CaseResult? {
        let c = try GoldenCase(json)
        guard c.op == op else { return nil }
        return try GuidanceConformance.checked(c, tol: json["tol"]) { k in try evaluate(c, &k, dtype: precision == .float64 ? .float64 : .float32) }
    }

    static func tensor(_ t: (shape: [Int], data: [Double]), _ dtype: DType) -> Tensor {
        Tensor(shape: t.shape, scalars: t.data, dtype: dtype)
    }

    static func evaluate(_ c: GoldenCase, _ k: inout Checker, dtype: DType) throws {
        guard let abar = c.param("alphas_cumprod")?.flatDoubles else { throw GradusError.format("\(c.id): missing alphas_cumprod") }
        let final = try c.double("final_alpha_cumprod", default: 1)
        let alpha = try c.double("lora_alpha")
        let w0 = tensor(try c.inputTensor("W0"), dtype)
        let bias = tensor(try c.inputTensor("bias"), dtype)
        let temb = tensor(try c.inputTensor("time_embedding"), dtype)
        let a0 = try c.inputTensor("lora_A"), b0 = try c.inputTensor("lora_B")
        let xT = tensor(try c.inputTensor("x_T"), dtype)
        let target = tensor(try c.inputTensor("target"), dtype)
        let noises = try c.inputTensors("ddim_noises").map { tensor($0, dtype) }
        guard temb.rank == 2, temb.shape[0] >= abar.count else {
            throw GradusError.format("\(c.id): time_embedding needs one row per step")
        }
        guard let runs = c.outputs["runs"]?.array else { throw GradusError.format("\(c.id): outputs.runs is not a list") }
        for (r, run) in runs.enumerated() {
            guard let eta = run["eta"]?.double, let K = run["K"]?.int else { throw GradusError.format("\(c.id): run \(r) lacks eta/K") }
            let chain = AlignProp.Chain(alphasCumprod: abar, finalAlphaCumprod: final, kind: .epsilon, eta: eta)
            let b = abar.count - K
            var results: [(loss: Double, sample: [Double], gA: [Double], gB: [Double])] = []
            for checkpointed in [false, true] {
                let layer = try LoRALinear(weight: w0, bias: bias, loraA: tensor(a0, dtype), loraB: tensor(b0, dtype), alpha: alpha)
                let model = { (x: Tensor, i: Int) throws(GradusError) -> Tensor in
                    try layer(x) + temb.slice(axis: 0, start: i, end: i + 1)
                }
                let (loss, sample) = try AlignProp.chainLoss(
                    model: model, chain: chain, xT: xT, noises: noises, truncateBefore: b, checkpointed: checkpointed
                ) { (x: Tensor) throws(GradusError) -> Tensor in try (x - target).square().mean() }
                try loss.backward()
                results.append((try loss.item(), sample.scalars(as: Double.self),
                                layer.loraA.grad?.scalars(as: Double.self) ?? [Double](repeating: 0, count: layer.loraA.count),
                                layer.loraB.grad?.scalars(as: Double.self) ?? [Double](repeating: 0, count: layer.loraB.count)))
            }
            let tag = "run[\(r)](eta=\(eta),K=\(K))"
            if results[0].gA != results[1].gA || results[0].gB != results[1].gB || results[0].loss != results[1].loss {
                k.failures.append("\(tag): checkpointed gradients differ from the plain ones")
            }
            let got = results[1]
            try k.check("\(tag).loss", got.loss, run["loss"], toleranceKey: "loss")
            try k.check("\(tag).final_sample", got.sample, run["final_sample"], toleranceKey: "final_sample")
            try k.check("\(tag).grad_lora_A", got.gA, run["grad_lora_A"], toleranceKey: "grad_lora_A")
            try k.check("\(tag).grad_lora_B", got.gB, run["grad_lora_B"], toleranceKey: "grad_lora_B")
        }
    }
}
