import GradusRuntime

/// Outcome of one golden case.
public struct CaseResult: Sendable, Equatable, CustomStringConvertible {
    /// Pass, fail, or not implemented yet.
    public enum Status: String, Sendable, Equatable { case pass, fail, unsupported }
    /// The case `id`.
    public var id: String
    /// The case `op`.
    public var op: String
    /// The verdict.
    public var status: Status
    /// Largest `|got − want|` over every compared value.
    public var maxAbsError: Double
    /// Largest `|got − want|/|want|` over compared values with `want ≠ 0`.
    public var maxRelError: Double
    /// Number of values compared.
    public var compared: Int
    /// Why it failed or is unsupported (empty on pass).
    public var message: String

    public var description: String {
        "\(status.rawValue.uppercased()) \(id) (\(op)): \(compared) values, max abs \(maxAbsError), max rel \(maxRelError)"
            + (message.isEmpty ? "" : " — \(message)")
    }
}

/// Runs the cases of `golden/guidance.json` (format `gradus-golden-v1`, suite `guidance`) against GradusDiffusion.
///
/// Every `op` of the file is recognised. Implemented: `noise_schedule`, `inference_timesteps`,
/// `ddpm_training_targets`, `ddpm_step`, `ddim_step`, `flow_euler_sampler`, `cfg`, `apg` (including the
/// per-step intermediates). Reported `unsupported` until the autodiff tape lands: `alignprop_truncated_backprop`,
/// `gauge_and_intrinsic_dimension`.
public enum GuidanceConformance {
    /// The scalar type the computation runs in. Float64 is the golden reference; float32 must meet the file's
    /// tolerances, which are sized for it.
    public enum Precision: String, Sendable { case float32, float64 }

    /// Runs one case object.
    /// - Throws: `GradusError.format` when the case is malformed (missing fields, bad tensors). Errors raised by
    ///   the implementation on valid input are reported as `.fail` with the message.
    public static func run(case json: JSON, precision: Precision = .float64) throws(GradusError) -> CaseResult {
        // AlignProp and the gauge tools live beside the guidance math (they need autodiff and models).
        if let r = try DiffusionExtrasConformance.run(case: json, precision: precision) { return r }
        let c = try GoldenCase(json)
        return try checked(c, tol: json["tol"]) { k in
            switch precision {
            case .float64: try dispatch(c, &k, Double.self)
            case .float32: try dispatch(c, &k, Float.self)
            }
        }
    }

    /// Runs `evaluate` against a fresh checker and turns its outcome into the case's result: a malformed case
    /// (`GradusError.format`) propagates, `Unsupported` reports unsupported, any other error fails the case with
    /// its message. Shared by every runner of the guidance golden file.
    static func checked(_ c: GoldenCase, tol: JSON?, _ evaluate: (inout Checker) throws -> Void) throws(GradusError) -> CaseResult {
        var checker = Checker(tol: tol)
        do {
            try evaluate(&checker)
        } catch let e as Unsupported {
            return CaseResult(id: c.id, op: c.op, status: .unsupported, maxAbsError: 0, maxRelError: 0, compared: 0, message: e.reason)
        } catch let e as GradusError {
            if case .format = e { throw e }
            return result(c, checker, extra: "error: \(e.message)")
        } catch {
            return result(c, checker, extra: "error: \(error)")
        }
        return result(c, checker, extra: nil)
    }

    /// Runs every case of a golden file after checking its header.
    /// - Throws: `GradusError.format` for a wrong `format`/`suite` or a malformed case.
    public static func run(file json: JSON, precision: Precision = .float64) throws(GradusError) -> [CaseResult] {
        guard json["format"]?.string == "gradus-golden-v1" else { throw .format("not a gradus-golden-v1 file") }
        guard json["suite"]?.string == "guidance" else { throw .format("golden suite is not \"guidance\"") }
        guard let cases = json["cases"]?.array else { throw .format("golden file without cases") }
        var out: [CaseResult] = []
        for c in cases { out.append(try run(case: c, precision: precision)) }
        return out
    }

    struct Unsupported: Error { let reason: String }

    static func result(_ c: GoldenCase, _ k: Checker, extra: String?) -> CaseResult {
        var messages = k.failures
        if let extra { messages.append(extra) }
        if messages.isEmpty && k.compared == 0 { messages.append("no expected output was compared") }
        return CaseResult(id: c.id, op: c.op, status: messages.isEmpty ? .pass : .fail, maxAbsError: k.maxAbs,
                          maxRelError: k.maxRel, compared: k.compared, message: messages.joined(separator: "; "))
    }

    static func dispatch<T: BinaryFloatingPoint & Sendable>(_ c: GoldenCase, _ k: inout Checker, _: T.Type) throws {
        switch c.op {
        case "noise_schedule": try schedule(c, &k)
        case "inference_timesteps": try timesteps(c, &k)
        case "ddpm_training_targets": try trainingTargets(c, &k, T.self)
        case "ddpm_step": try ddpmStep(c, &k, T.self)
        case "ddim_step": try ddimStep(c, &k, T.self)
        case "flow_euler_sampler": try flowEuler(c, &k, T.self)
        case "cfg": try cfg(c, &k, T.self)
        case "apg": try apg(c, &k, T.self)
        default:
            throw Unsupported(reason: "unknown op \"\(c.op)\"")
        }
    }

    // MARK: - schedules and timesteps

    /// The training schedule described by diffusers-style params.
    static func makeSchedule(_ c: GoldenCase) throws(GradusError) -> NoiseSchedule {
        let steps = try c.int("num_train_timesteps", default: 1000)
        let kind = try c.string("beta_schedule", default: "linear")
        var s: NoiseSchedule
        switch kind {
        case "linear":
            s = try .linear(betaStart: try c.double("beta_start", default: 1e-4), betaEnd: try c.double("beta_end", default: 0.02), steps: steps)
        case "scaled_linear":
            s = try .scaledLinear(betaStart: try c.double("beta_start", default: 1e-4), betaEnd: try c.double("beta_end", default: 0.02), steps: steps)
        case "squaredcos_cap_v2", "cosine":
            s = try .cosine(steps: steps, maxBeta: try c.double("max_beta", default: 0.999))
        default:
            throw .unsupported("beta_schedule \"\(kind)\"")
        }
        if c.bool("rescale_betas_zero_snr", default: false) { s = try s.rescaledToZeroTerminalSNR() }
        return s
    }

    static func schedule(_ c: GoldenCase, _ k: inout Checker) throws {
        let s = try makeSchedule(c)
        try k.check("betas", s.betas, c.outputs["betas"], toleranceKey: "betas")
        try k.check("alphas_cumprod", s.alphasCumprod, c.outputs["alphas_cumprod"], toleranceKey: "alphas_cumprod")
    }

    static func spacing(_ c: GoldenCase) throws(GradusError) -> TimestepSpacing {
        let name = try c.string("timestep_spacing", default: "leading")
        guard let s = TimestepSpacing(rawValue: name) else { throw .unsupported("timestep_spacing \"\(name)\"") }
        return s
    }

    static func timesteps(_ c: GoldenCase, _ k: inout Checker) throws {
        let T = try c.int("num_train_timesteps", default: 1000), N = try c.int("num_inference_steps")
        let ts = try inferenceTimesteps(trainSteps: T, steps: N, spacing: try spacing(c), offset: try c.int("steps_offset", default: 0))
        try k.check("timesteps", ts.map(Double.init), c.outputs["timesteps"], toleranceKey: "timesteps")
        try k.check("prev_timestep_stride", Double(T / N), c.outputs["prev_timestep_stride"], toleranceKey: "prev_timestep_stride")
    }

    // MARK: - training targets and samplers

    static func parameterization(_ c: GoldenCase) throws(GradusError) -> Parameterization {
        let name = try c.string("prediction_type", default: "epsilon")
        guard let p = Parameterization(rawValue: name) else { throw .unsupported("prediction_type \"\(name)\"") }
        return p
    }

    static func cast<T: BinaryFloatingPoint>(_ x: [Double], _: T.Type) -> [T] { x.map { T($0) } }
    static func wide<T: BinaryFloatingPoint>(_ x: [T]) -> [Double] { x.map { Double($0) } }

    /// `ᾱ_t` from the inputs when listed, else from the schedule.
    static func alphaBars(_ c: GoldenCase) throws(GradusError) -> (t: Double, prev: Double?) {
        if let a = c.inputs["alpha_cumprod_t"]?.double { return (a, c.inputs["alpha_cumprod_prev"]?.double) }
        let s = try makeSchedule(c)
        return (try s.alphaCumprod(at: try c.int("t")), nil)
    }

    static func trainingTargets<T: BinaryFloatingPoint & Sendable>(_ c: GoldenCase, _ k: inout Checker, _: T.Type) throws {
        let x0 = cast(try c.inputTensor("x0").data, T.self), noise = cast(try c.inputTensor("noise").data, T.self)
        let m = cast(try c.inputTensor("model_output").data, T.self)
        let abar: [Double]
        if let listed = c.inputs["alphas_cumprod_at_t"]?.flatDoubles { abar = listed }
        else {
            guard let ts = c.param("timesteps")?.flatInts else { throw GradusError.format("\(c.id): no integer timesteps") }
            abar = try Diffusion.alphaCumprods(ts, try makeSchedule(c))
        }
        let xt = try Diffusion.addNoise(x0: x0, noise: noise, alphaCumprod: abar)
        try k.check("x_t", wide(xt), c.outputs["x_t"], toleranceKey: "x_t")
        let keys: [(Parameterization, String)] = [(.epsilon, "target_epsilon"), (.vPrediction, "target_v"), (.sample, "target_sample")]
        for (kind, key) in keys {
            let target = try Diffusion.target(kind, x0: x0, noise: noise, alphaCumprod: abar)
            try k.check(key, wide(target), c.outputs[key], toleranceKey: key)
            try k.check("mse_loss.\(kind.rawValue)", try Diffusion.meanSquaredError(m, target),
                        c.outputs["mse_loss"]?[kind.rawValue], toleranceKey: "mse_loss")
            let x0hat = try Diffusion.predictX0(from: m, kind: kind, xt: xt, alphaCumprod: abar)
            try k.check("x0_from_model_output.\(kind.rawValue)", wide(x0hat),
                        c.outputs["x0_from_model_output"]?[kind.rawValue], toleranceKey: "x0_from_model_output")
            let epshat = try Diffusion.predictEpsilon(from: m, kind: kind, xt: xt, alphaCumprod: abar)
            try k.check("eps_from_model_output.\(kind.rawValue)", wide(epshat),
                        c.outputs["eps_from_model_output"]?[kind.rawValue], toleranceKey: "eps_from_model_output")
        }
    }

    static func ddpmStep<T: BinaryFloatingPoint & Sendable>(_ c: GoldenCase, _ k: inout Checker, _: T.Type) throws {
        let t = try c.int("t")
        let T_ = try c.int("num_train_timesteps", default: 1000), N = try c.int("num_inference_steps")
        let prevT = c.param("prev_t")?.int ?? previousTimestep(t, trainSteps: T_, steps: N)
        var (abarT, abarPrev) = try alphaBars(c)
        if abarPrev == nil { abarPrev = try makeSchedule(c).alphaCumprod(at: prevT, final: 1) }
        let variance = try c.string("variance_type", default: "fixed_small")
        guard variance == "fixed_small" else { throw Unsupported(reason: "DDPM variance_type \"\(variance)\"") }
        let clip = c.bool("clip_sample", default: false) ? try c.double("clip_sample_range", default: 1) : nil
        let r = try DDPMSampler.step(modelOutput: cast(try c.inputTensor("model_output").data, T.self),
                                     kind: try parameterization(c), t: t, alphaCumprod: abarT, alphaCumprodPrev: abarPrev!,
                                     sample: cast(try c.inputTensor("sample").data, T.self),
                                     noise: cast(try c.inputTensor("variance_noise").data, T.self), clipSample: clip)
        try k.check("prev_sample", wide(r.prev), c.outputs["prev_sample"], toleranceKey: "prev_sample")
        try k.check("pred_original_sample", wide(r.x0), c.outputs["pred_original_sample"], toleranceKey: "pred_original_sample")
        try k.check("variance", r.variance, c.outputs["variance"], toleranceKey: "variance")
    }

    static func ddimStep<T: BinaryFloatingPoint & Sendable>(_ c: GoldenCase, _ k: inout Checker, _: T.Type) throws {
        let t = try c.int("t")
        let T_ = try c.int("num_train_timesteps", default: 1000), N = try c.int("num_inference_steps")
        let prevT = c.param("prev_t")?.int ?? previousTimestep(t, trainSteps: T_, steps: N)
        var (abarT, abarPrev) = try alphaBars(c)
        if abarPrev == nil {
            let s = try makeSchedule(c)
            abarPrev = try s.alphaCumprod(at: prevT, final: c.bool("set_alpha_to_one", default: true) ? 1 : s.alphasCumprod[0])
        }
        let clip = c.bool("clip_sample", default: false) ? try c.double("clip_sample_range", default: 1) : nil
        let eta = try c.double("eta", default: 0)
        let r = try DDIMSampler.step(modelOutput: cast(try c.inputTensor("model_output").data, T.self),
                                     kind: try parameterization(c), alphaCumprod: abarT, alphaCumprodPrev: abarPrev!,
                                     sample: cast(try c.inputTensor("sample").data, T.self), eta: eta,
                                     noise: cast(try c.inputTensor("variance_noise").data, T.self), clipSample: clip)
        try k.check("prev_sample", wide(r.prev), c.outputs["prev_sample"], toleranceKey: "prev_sample")
        try k.check("pred_original_sample", wide(r.x0), c.outputs["pred_original_sample"], toleranceKey: "pred_original_sample")
        try k.check("std_dev_t", r.stdDev, c.outputs["std_dev_t"], toleranceKey: "std_dev_t")
    }

    static func flowEuler<T: BinaryFloatingPoint & Sendable>(_ c: GoldenCase, _ k: inout Checker, _: T.Type) throws {
        let sampler = FlowEulerSampler(shift: try c.double("shift", default: 1))
        let T_ = try c.int("num_train_timesteps", default: 1000), N = try c.int("num_inference_steps")
        let sigmas = try sampler.sigmas(steps: N, trainSteps: T_)
        try k.check("sigmas", sigmas, c.outputs["sigmas"], toleranceKey: "sigmas")
        try k.check("timesteps", try sampler.timesteps(steps: N, trainSteps: T_), c.outputs["timesteps"], toleranceKey: "timesteps")
        if c.inputs["x_init"] != nil {
            var x = cast(try c.inputTensor("x_init").data, T.self)
            let velocities = try c.inputTensors("velocities")
            var trajectory = [wide(x)]
            for (i, v) in velocities.enumerated() where i + 1 < sigmas.count {
                x = try sampler.step(velocity: cast(v.data, T.self), sample: x, sigma: sigmas[i], sigmaNext: sigmas[i + 1])
                trajectory.append(wide(x))
            }
            if let want = c.outputs["trajectory"]?.array {
                guard want.count == trajectory.count else {
                    k.failures.append("trajectory: \(trajectory.count) states, expected \(want.count)")
                    return
                }
                for (i, w) in want.enumerated() {
                    try k.check("trajectory[\(i)]", trajectory[i], w, toleranceKey: "trajectory")
                }
            }
        }
        if c.inputs["x0"] != nil {
            let x0 = cast(try c.inputTensor("x0").data, T.self), noise = cast(try c.inputTensor("noise").data, T.self)
            let sigma = try c.inputScalar("noising_sigma")
            try k.check("x_t_noised", wide(try FlowEulerSampler.addNoise(x0: x0, noise: noise, sigma: sigma)),
                        c.outputs["x_t_noised"], toleranceKey: "x_t_noised")
            try k.check("target_velocity", wide(try FlowEulerSampler.velocityTarget(x0: x0, noise: noise)),
                        c.outputs["target_velocity"], toleranceKey: "target_velocity")
        }
    }

    // MARK: - guidance

    static func formulation(_ c: GoldenCase) throws(GradusError) -> CFGFormulation {
        let name = try c.string("formulation", default: c.bool("use_original_formulation", default: false) ? "original" : "diffusers")
        guard let f = CFGFormulation(rawValue: name) else { throw .unsupported("formulation \"\(name)\"") }
        return f
    }

    static func cfg<T: BinaryFloatingPoint & Sendable>(_ c: GoldenCase, _ k: inout Checker, _: T.Type) throws {
        let cond = try c.inputTensor("pred_cond"), uncond = try c.inputTensor("pred_uncond")
        let pred = try Guidance.cfg(cond: cast(cond.data, T.self), uncond: cast(uncond.data, T.self), shape: cond.shape,
                                    scale: try c.double("guidance_scale", default: 7.5), formulation: try formulation(c),
                                    rescale: try c.double("guidance_rescale", default: 0))
        try k.check("pred", wide(pred), c.outputs["pred"], toleranceKey: "pred")
    }

    static func apg<T: BinaryFloatingPoint & Sendable>(_ c: GoldenCase, _ k: inout Checker, _: T.Type) throws {
        let conds = try c.inputTensors("pred_cond"), unconds = try c.inputTensors("pred_uncond")
        guard conds.count == unconds.count, let shape = conds.first?.shape else {
            throw GradusError.format("\(c.id): pred_cond and pred_uncond lists differ or are empty")
        }
        var dims: [Int]? = nil
        if let d = c.param("norm_dim") {
            if let one = d.int { dims = [one] } else { dims = d.flatInts }
        }
        let config = APGConfig(scale: try c.double("guidance_scale", default: 7.5), eta: try c.double("eta", default: 1),
                               normThreshold: try c.double("norm_threshold", default: 15), momentum: c.param("momentum")?.double,
                               formulation: try formulation(c), normDims: dims,
                               guidanceRescale: try c.double("guidance_rescale", default: 0))
        let guider = try APGGuider<T>(config, shape: shape, recordsIntermediates: true)
        let wantPreds = c.outputs["pred"]?.array ?? []
        let wantInter = c.outputs["intermediates"]?.array ?? []
        for i in 0..<conds.count {
            let pred = try guider(cond: cast(conds[i].data, T.self), uncond: cast(unconds[i].data, T.self))
            try k.check("pred[\(i)]", wide(pred), wantPreds.count > i ? wantPreds[i] : nil, toleranceKey: "pred")
            if wantInter.count > i, let rec = guider.debug {
                let w = wantInter[i]
                try k.check("diff_after_momentum[\(i)]", wide(rec.diffAfterMomentum), w["diff_after_momentum"], toleranceKey: "intermediates")
                try k.check("diff_after_rescale[\(i)]", wide(rec.diffAfterRescale), w["diff_after_rescale"], toleranceKey: "intermediates")
                try k.check("parallel[\(i)]", wide(rec.parallel), w["parallel"], toleranceKey: "intermediates")
                try k.check("orthogonal[\(i)]", wide(rec.orthogonal), w["orthogonal"], toleranceKey: "intermediates")
                try k.check("update[\(i)]", wide(rec.update), w["update"], toleranceKey: "intermediates")
            }
        }
    }
}
