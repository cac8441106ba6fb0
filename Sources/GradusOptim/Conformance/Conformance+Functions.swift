import GradusRuntime

extension OptimizerConformance {
    static func schedule(_ c: JSON, _ h: Hyperparameters, _ cmp: inout Comparison) throws {
        let peak = try h.double("peak_lr", 1e-3), total = try h.int("total_steps", 0), w = try h.int("warmup_steps", 0)
        let s: Schedule
        switch c["technique"]?.string ?? "" {
        case "lr_linear": s = .linear(peak: peak, total: total)
        case "lr_warmup_linear": s = .warmupLinear(peak: peak, warmup: w, total: total)
        case "lr_cosine": s = .cosine(peak: peak, total: total, minimum: try h.double("eta_min", 0))
        case "lr_warmup_cosine": s = .warmupCosine(peak: peak, warmup: w, total: total)
        case "lr_constant": s = .constant(peak)
        case "lr_step": s = .step(peak: peak, stepSize: try h.int("step_size", 1), gamma: try h.double("gamma", 0.1))
        case let t: throw Unsupported(reason: "schedule '\(t)'")
        }
        _ = try s.validated()
        let steps = try c.field("steps").ints("steps")
        let values = try c.field("values").doubles("values")
        cmp.check("lr", steps.map { s.value(at: $0) }, values)
    }

    static func refinement(_ c: JSON, _ h: Hyperparameters, _ cmp: inout Comparison) throws {
        let norms = try c.field("gradient_norms").doubles("gradient_norms")
        let power = try h.double("power", 2), tau = try h.double("tau", 0.1)
        // The file states the filter the generator derived from τ and n (spec §6.1); a different one is not this
        // algorithm, so it is reported unsupported rather than compared.
        if let width = Schedule.refinementFilterWidth(count: norms.count, tau: tau) {
            if let w = try h.optionalInt("median_width"), w != width {
                throw Unsupported(reason: "median_width \(w) (spec §6.1 derives 2⌊⌊τn⌋/2⌋ + 1 = \(width) from τ = \(tau), n = \(norms.count))")
            }
            if let pad = try h.optionalInt("reflect_pad_right"), pad != 2 * width {
                throw Unsupported(reason: "reflect_pad_right \(pad) (spec §6.1 pads by 2w = \(2 * width))")
            }
        }
        if let n = h.value("normalize"), n.string != "divide by max" {
            throw Unsupported(reason: "normalize '\(n.string ?? "?")' (spec §6.1 divides by the maximum)")
        }
        let r = try Schedule.refined(gradientNorms: norms, power: power, tau: tau)
        cmp.check("smoothed_norms", r.smoothedNorms, try c.field("smoothed_norms").doubles("smoothed_norms"))
        cmp.check("raw_schedule", r.rawSchedule, try c.field("raw_schedule").doubles("raw_schedule"))
        cmp.check("schedule", r.schedule, try c.field("schedule").doubles("schedule"))
    }

    static func batchSizeTest(_ c: JSON, _ h: Hyperparameters, _ cmp: inout Comparison) throws {
        guard let pe = try c.field("per_example_grads").object else { throw GradusError.format("'per_example_grads' must be an object") }
        var tensors: [[[Double]]] = []
        for key in pe.keys.sorted() {
            guard let examples = pe[key]?.array else { throw GradusError.format("per_example_grads.\(key) must be an array") }
            var t: [[Double]] = []
            for e in examples { t.append(try e.doubles(key)) }
            tensors.append(t)
        }
        let tests = try BatchSizeTests(perExample: tensors)
        if let b = try h.optionalInt("current_batch_size"), b != tests.batchSize {
            throw GradusError.format("current_batch_size \(b) differs from the \(tests.batchSize) examples given")
        }
        let o = try c.field("outputs")
        let eta = try h.double("eta", 0.1), theta = try h.double("theta", 0.1), nu = try h.double("nu", 0.1)
        let nr = tests.normRatio(eta: eta), ir = tests.innerProductRatio(theta: theta), or = tests.orthogonalityRatio(nu: nu)
        func want(_ k: String) throws -> Double { try o.field(k).number(k) }
        func wantInteger(_ k: String) throws -> Int { try o.field(k).integer(k) }
        cmp.check("batch_grad_norm_squared", tests.batchGradientNormSquared, try want("batch_grad_norm_squared"))
        cmp.check("sum_coordinate_variances", tests.sumCoordinateVariances, try want("sum_coordinate_variances"))
        cmp.check("sum_per_tensor_inner_product_variances", tests.sumInnerProductVariances, try want("sum_per_tensor_inner_product_variances"))
        cmp.check("sum_per_tensor_orthogonal_variances", tests.sumOrthogonalVariances, try want("sum_per_tensor_orthogonal_variances"))
        cmp.check("norm_test_raw_ratio", nr, try want("norm_test_raw_ratio"))
        cmp.check("inner_product_test_raw_ratio", ir, try want("inner_product_test_raw_ratio"))
        cmp.check("orthogonality_raw_ratio", or, try want("orthogonality_raw_ratio"))
        cmp.checkExact("norm_test_new_batch_size", tests.nextBatchSize(ratio: nr), try wantInteger("norm_test_new_batch_size"))
        cmp.checkExact("inner_product_test_new_batch_size", tests.nextBatchSize(ratio: ir), try wantInteger("inner_product_test_new_batch_size"))
        cmp.checkExact("augmented_inner_product_test_new_batch_size", tests.nextBatchSize(ratio: Swift.max(ir, or)),
                       try wantInteger("augmented_inner_product_test_new_batch_size"))
    }

    /// ⊥Grad's rescaled projection of one tensor by the optimizer's own transform: a one-transform chain
    /// (`OrthogonalProjection`) in a `FusedOptimizer`, whose step adds the chain's output (optax's convention; the
    /// learning-rate transform carries the minus sign), so `θ' − θ = g⊥·‖g‖/‖g⊥‖`
    /// (exact in float64 up to the rounding of θ', below the tolerance's floor in both precisions).
    static func projected<S: OptimizerScalar>(w: [Double], g: [Double], _: S.Type) throws -> [Double] {
        let opt = try FusedOptimizer(chain: GradientChain<S>([OrthogonalProjection<S>()]), shapes: [[w.count]])
        var params = [w.map { S($0) }]
        let before = params[0]
        try withBuffers(&params, [g.map { S($0) }]) { buffers in try opt.step(buffers) }
        return zip(before, params[0]).map { Double($1) - Double($0) }
    }

    static func functionCase(_ c: JSON, technique: String, _ h: Hyperparameters, _ cmp: inout Comparison) throws {
        let inputs = try c.field("inputs"), outputs = try c.field("outputs")
        func out(_ k: String) throws -> [Double] { try outputs.field(k).doubles(k) }
        switch technique {
        case "perpgrad":
            let w = try inputs.field("w").doubles("w"), g = try inputs.field("g").doubles("g")
            guard w.count == g.count else { throw GradusError.shapeMismatch("w and g differ in size") }
            // the optimizer's transform, in the case's precision; the norms of its output in Double
            let scaled = cmp.precision == .float64 ? try projected(w: w, g: g, Double.self) : try projected(w: w, g: g, Float.self)
            let gg = g.reduce(0) { $0 + $1 * $1 }
            cmp.check("g_perp_rescaled", scaled, try out("g_perp_rescaled"))
            cmp.check("dot_w_gperp", zip(w, scaled).reduce(0) { $0 + $1.0 * $1.1 }, try out("dot_w_gperp")[0])
            cmp.check("norm_g", ScalarMath.sqrt(gg), try out("norm_g")[0])
            cmp.check("norm_gperp", ScalarMath.sqrt(scaled.reduce(0) { $0 + $1 * $1 }), try out("norm_gperp")[0])
        case "stablemax":
            let logitsJSON = try inputs.field("logits")
            guard let shape = logitsJSON.shape, shape.count == 2 else { throw GradusError.format("logits must be a matrix") }
            let labels = try inputs.field("labels").ints("labels")
            let r = try StableMax.crossEntropy(logits: try logitsJSON.doubles("logits"), classes: shape[1], labels: labels)
            cmp.floor32 = 1e-6
            cmp.check("s", r.s, try out("s"))
            cmp.check("probabilities", r.probabilities, try out("probabilities"))
            cmp.check("log_probabilities", r.logProbabilities, try out("log_probabilities"))
            cmp.check("loss_mean", r.lossMean, try out("loss_mean")[0])
            cmp.check("dloss_dlogits", r.gradient, try out("dloss_dlogits"))
        case "z_loss":
            let logitsJSON = try inputs.field("logits")
            guard let shape = logitsJSON.shape, shape.count == 2 else { throw GradusError.format("logits must be a matrix") }
            let r = try ZLoss.evaluate(logits: try logitsJSON.doubles("logits"), classes: shape[1],
                                       labels: try inputs.field("labels").ints("labels"),
                                       coefficient: try h.double("z_loss_coef", 1e-4))
            cmp.check("log_z", r.logZ, try out("log_z"))
            cmp.check("ce_mean", r.crossEntropyMean, try out("ce_mean")[0])
            cmp.check("z_loss", r.zLoss, try out("z_loss")[0])
            cmp.check("total", r.total, try out("total")[0])
            cmp.check("dtotal_dlogits", r.gradient, try out("dtotal_dlogits"))
        case "ghost_batch_norm", "qk_layernorm":
            throw Unsupported(reason: "\(technique) is a GradusNN layer (spec §7/§8.1)")
        default:
            throw Unsupported(reason: "technique '\(technique)' (spec §§9–13) is not implemented yet")
        }
    }
}
