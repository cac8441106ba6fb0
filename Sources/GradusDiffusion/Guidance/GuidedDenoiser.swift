import GradusRuntime

/// Where guidance is applied.
public enum GuidanceSpace: Sendable, Equatable {
    /// On the model outputs as they are (ε, v or flow velocity) — what diffusers pipelines do.
    case modelOutput
    /// On `x̂₀`: both predictions are converted to `x̂₀` (section 2 of the spec), guided, and converted back to the
    /// model's parameterisation at the same `x_t` — APG's paper setting. Needs the schedule.
    case x0(schedule: NoiseSchedule, kind: Parameterization)
}

/// Conditional and unconditional predictions from one batched forward, then guidance.
///
/// The model is called once per step on the doubled batch `(2B, ...)` = `[x; x]`; by convention (diffusers) the
/// first `B` rows get the unconditional conditioning and the last `B` the conditional one — the closure owns the
/// conditioning. The rule's state lives here: make one `GuidedDenoiser` (or call `reset`) per generation.
public final class GuidedDenoiser<Rule: GuidanceRule> {
    public typealias Scalar = Rule.Scalar
    /// The guidance rule.
    public let rule: Rule
    /// Where the rule is applied.
    public let space: GuidanceSpace
    /// The rule's per-generation state.
    public private(set) var state: Rule.State
    let model: ([Scalar], Int) throws(GradusError) -> [Scalar]

    /// - Parameters:
    ///   - rule: CFG, APG or any `GuidanceRule`.
    ///   - shape: `(B, ...)` of one sample batch (the model sees `(2B, ...)`).
    ///   - space: default `.modelOutput`.
    ///   - model: `(x (2B, ...), t) -> output (2B, ...)`, unconditional rows first.
    public init(rule: Rule, shape: [Int], space: GuidanceSpace = .modelOutput,
                model: @escaping ([Scalar], Int) throws(GradusError) -> [Scalar]) throws(GradusError) {
        self.rule = rule; self.space = space; self.model = model
        self.state = try rule.makeState(shape: shape)
    }

    /// Starts a new generation with a fresh state.
    public func reset() throws(GradusError) { state = try rule.makeState(shape: state.shape) }

    /// The guided model output for sample `x` (`(B, ...)`) at integer timestep `t`.
    /// - Throws: `GradusError.shapeMismatch` when `x` or the model output have the wrong size.
    public func callAsFunction(_ x: [Scalar], t: Int) throws(GradusError) -> [Scalar] {
        let n = state.count
        guard x.count == n else { throw .shapeMismatch("GuidedDenoiser: sample has \(x.count) elements, expected \(n)") }
        let out = try model(x + x, t)
        guard out.count == 2 * n else {
            throw .shapeMismatch("GuidedDenoiser: model returned \(out.count) elements for a doubled batch of \(2 * n)")
        }
        var uncond = Array(out[0..<n]), cond = Array(out[n..<(2 * n)])
        switch space {
        case .modelOutput:
            return try rule.update(cond: cond, uncond: uncond, state: &state)
        case .x0(let schedule, let kind):
            let batch = state.shape[0]
            let abar = [Double](repeating: try schedule.alphaCumprod(at: t), count: batch)
            cond = try Diffusion.predictX0(from: cond, kind: kind, xt: x, alphaCumprod: abar)
            uncond = try Diffusion.predictX0(from: uncond, kind: kind, xt: x, alphaCumprod: abar)
            let guided = try rule.update(cond: cond, uncond: uncond, state: &state)
            return try Diffusion.modelOutput(fromX0: guided, kind: kind, xt: x, alphaCumprod: abar)
        }
    }
}
