import GradusRuntime
import GradusTensor

/// How a class-conditional sampler combines the conditional and unconditional predictions.
public enum GuidanceChoice: Sendable, Equatable {
    /// Conditional prediction only (CFG at scale 1: the rule returns `c`).
    case none
    /// Classifier-free guidance with optional CFG-rescale `φ`; `formulation` default `.diffusers` (`u + s·(c − u)`).
    case cfg(scale: Double, rescale: Double = 0, formulation: CFGFormulation = .diffusers)
    /// Adaptive projected guidance.
    case apg(APGConfig)

    /// The float32 guidance rule this choice names (`none` is CFG at scale 1).
    public var rule: any GuidanceRule<Float> {
        switch self {
        case .none: return ClassifierFreeGuidance<Float>(scale: 1)
        case .cfg(let s, let phi, let formulation): return ClassifierFreeGuidance<Float>(scale: s, formulation: formulation, rescale: phi)
        case .apg(let config): return AdaptiveProjectedGuidance<Float>(config)
        }
    }
}

/// Whole guided sampling chains for a `ConditionalDenoiser`: one batched forward per step gives the conditional
/// and unconditional predictions (`GuidedDenoiser`), CFG or APG combines them, the sampler steps. Seeded: the
/// initial noise and every step's noise come from a Philox stream (stream 3).
public enum ConditionalSampling {
    /// Samples `labels.count` points/images with DDIM (`eta` 0 = deterministic) or, with `ancestral`, DDPM.
    /// - Parameters:
    ///   - spacing, offset: the timestep spacing (default `.leading`, offset 0, as diffusers' defaults).
    ///   - space: where guidance runs (default `.modelOutput`; APG's paper setting is `.x0`).
    ///   - seed: default 0.
    /// - Returns: the samples, flat `(B, sampleShape...)`.
    /// - Throws: `GradusError.invalidArgument` for no labels, a bad step count, or a spacing whose timesteps pass the
    ///   schedule's end (`.leading` with a large `offset`).
    public static func diffusion(model: any ConditionalDenoiser, labels: [Int], schedule: NoiseSchedule, kind: Parameterization,
                                 steps: Int, spacing: TimestepSpacing = .leading, offset: Int = 0, eta: Double = 0,
                                 ancestral: Bool = false, guidance: GuidanceChoice, space: GuidanceSpace = .modelOutput,
                                 seed: UInt64 = 0) throws(GradusError) -> [Float] {
        guard !labels.isEmpty else { throw .invalidArgument("ConditionalSampling: no labels") }
        let trainSteps = schedule.trainSteps
        for t in try inferenceTimesteps(trainSteps: trainSteps, steps: steps, spacing: spacing, offset: offset) where t >= trainSteps {
            throw .invalidArgument("timestep \(t) of a \(steps)-step chain is past the schedule's \(trainSteps) steps (lower the offset)")
        }
        let shape = [labels.count] + model.sampleShape
        var rng = PhiloxStream(seed: seed, stream: 3)
        let xT: [Float] = Sampling.normal(count: shape.reduce(1, *), rng: &rng)
        let fn = model.guidedModel(labels: labels)
        func run<R: GuidanceRule>(_ rule: R) throws(GradusError) -> [Float] where R.Scalar == Float {
            let guided = try GuidedDenoiser(rule: rule, shape: shape, space: space, model: fn)
            let denoise = { (x: [Float], t: Int) throws(GradusError) -> [Float] in try guided(x, t: t) }
            if ancestral {
                return try Sampling.ddpm(DDPMSampler(schedule: schedule, kind: kind), steps: steps, spacing: spacing, offset: offset,
                                         xT: xT, rng: &rng, denoise: denoise)
            }
            return try Sampling.ddim(DDIMSampler(schedule: schedule, kind: kind), steps: steps, spacing: spacing, offset: offset,
                                     eta: eta, xT: xT, rng: &rng, denoise: denoise)
        }
        return try run(guidance.rule)
    }

    /// Samples with the flow-matching Euler sampler from a velocity model (trained with `DiffusionObjective.flow`);
    /// guidance runs on the velocities.
    public static func flow(model: any ConditionalDenoiser, labels: [Int], sampler: FlowEulerSampler = FlowEulerSampler(),
                            steps: Int, trainSteps: Int = 1000, guidance: GuidanceChoice, seed: UInt64 = 0) throws(GradusError) -> [Float] {
        guard !labels.isEmpty else { throw .invalidArgument("ConditionalSampling: no labels") }
        let shape = [labels.count] + model.sampleShape
        var rng = PhiloxStream(seed: seed, stream: 3)
        let xT: [Float] = Sampling.normal(count: shape.reduce(1, *), rng: &rng)
        func run<R: GuidanceRule>(_ rule: R) throws(GradusError) -> [Float] where R.Scalar == Float {
            var state = try rule.makeState(shape: shape)
            return try Sampling.flowEuler(sampler, steps: steps, trainSteps: trainSteps, xT: xT) { (x: [Float], t: Double) throws(GradusError) -> [Float] in
                let (c, u) = try model.predictPair(x, timestep: t, labels: labels)
                return try rule.update(cond: c, uncond: u, state: &state)
            }
        }
        return try run(guidance.rule)
    }
}
