import GradusRuntime
import GradusTensor

/// Hyper-parameters of Adaptive Projected Guidance. Defaults mirror diffusers `AdaptiveProjectedGuidance`
/// (so numbers match it); `paper(w:normThreshold:momentum:)` gives Sadat et al.'s recommendation.
public struct APGConfig: Sendable, Equatable {
    /// Guidance scale `s` (default 7.5).
    public var scale: Double = 7.5
    /// Weight `η` of the parallel (saturating) part (default 1; the paper recommends 0).
    public var eta: Double = 1.0
    /// Norm threshold `r` on the difference (default 15; 0 disables).
    public var normThreshold: Double = 15.0
    /// Momentum `β` (default nil: none; the paper uses negative "reverse momentum", e.g. −0.5).
    public var momentum: Double? = nil
    /// Base of the update (default `.diffusers`: `u + s·Δ`; `.original`: `c + s·Δ`).
    public var formulation: CFGFormulation = .diffusers
    /// Axes of the norms and the projection (negative allowed); nil = every non-batch axis (default).
    public var normDims: [Int]? = nil
    /// CFG-rescale `φ` applied after APG (default 0: off).
    public var guidanceRescale: Double = 0

    /// - Parameters: see the properties for defaults.
    public init(scale: Double = 7.5, eta: Double = 1.0, normThreshold: Double = 15.0, momentum: Double? = nil,
                formulation: CFGFormulation = .diffusers, normDims: [Int]? = nil, guidanceRescale: Double = 0) {
        self.scale = scale; self.eta = eta; self.normThreshold = normThreshold; self.momentum = momentum
        self.formulation = formulation; self.normDims = normDims; self.guidanceRescale = guidanceRescale
    }

    /// The paper's Algorithm 1: `pred = c + (w − 1)·Δ`, `η = 0`, reverse momentum.
    /// - Parameters: w (guidance weight); normThreshold `r`; momentum default −0.5.
    public static func paper(w: Double, normThreshold: Double, momentum: Double = -0.5) -> APGConfig {
        APGConfig(scale: w - 1, eta: 0, normThreshold: normThreshold, momentum: momentum, formulation: .original)
    }
}

/// The per-step intermediate tensors of APG (for debugging and the golden comparison).
public struct APGIntermediates<Scalar: BinaryFloatingPoint & Sendable>: Sendable {
    /// `d` after the momentum update.
    public var diffAfterMomentum: [Scalar]
    /// `d` after the norm threshold.
    public var diffAfterRescale: [Scalar]
    /// `d_∥`, the part along the conditional prediction.
    public var parallel: [Scalar]
    /// `d_⊥`.
    public var orthogonal: [Scalar]
    /// `Δ = d_⊥ + η·d_∥`.
    public var update: [Scalar]
}

/// Adaptive Projected Guidance (Sadat, Hilliges, Weber: "Eliminating Oversaturation and Artifacts of High
/// Guidance Scales in Diffusion Models", Algorithm 1; diffusers `guiders/adaptive_projected_guidance.py`).
///
/// Per call, with the state's momentum `m` (zero for a new generation):
/// 1. `d = c − u`; 2. momentum: `m ← d + β·m`, `d ← m`; 3. threshold: `d ← d·min(1, r/‖d‖)`;
/// 4. projection onto the current `c`: `d_∥ = ⟨d, ĉ⟩ĉ` (`ĉ = c/max(‖c‖, 1e-12)`, in Double), `d_⊥ = d − d_∥`;
/// 5. `Δ = d_⊥ + η·d_∥`; 6. `pred = u + s·Δ` (`.diffusers`) or `c + s·Δ` (`.original`); 7. optional CFG-rescale.
/// Steps 1–6 run in Double for either scalar type, with the momentum kept in Double between calls, and the
/// prediction (and each recorded intermediate) is rounded to `Scalar` once: a float32 generation then differs from
/// a float64 one by rounding only, also where step 6 cancels large terms (see `APGKernel`).
/// Norms and the projection run over `normDims`, per remaining index; the axes may be non-adjacent (e.g. `[1, 3]`),
/// which costs a gather and a scatter per step. At `s = 1` (`.diffusers`) or `s = 0`
/// (`.original`) the guider is disabled: it returns `c` and skips the momentum update, as diffusers does.
/// The projection is the shared `Projection` kernel (also used by ⊥Grad and AdamP).
public struct AdaptiveProjectedGuidance<Scalar: BinaryFloatingPoint & Sendable>: GuidanceRule {
    /// The hyper-parameters.
    public var config: APGConfig
    /// Keep `APGIntermediates` of the last call in the state (default false; costs five copies per step).
    public var recordsIntermediates: Bool

    /// - Parameters: config; recordsIntermediates default false.
    public init(_ config: APGConfig = APGConfig(), recordsIntermediates: Bool = false) {
        self.config = config; self.recordsIntermediates = recordsIntermediates
    }

    /// Per-generation state: the momentum buffer, scratch and (optionally) the last intermediates.
    public struct State: GuidanceState, Sendable {
        public let shape: [Int]
        public let count: Int
        /// The running momentum `m` (zeros before the first enabled call), rounded to `Scalar`.
        public var momentum: [Scalar] { wideMomentum.map { Scalar($0) } }
        /// `m` as kept between calls, in Double.
        @usableFromInline var wideMomentum: [Double]
        /// Number of enabled calls since the last reset.
        public internal(set) var steps: Int
        /// The last call's intermediates when recording.
        public internal(set) var intermediates: APGIntermediates<Scalar>?
        @usableFromInline let groups: ProjectionLayout
        @usableFromInline let samples: ProjectionLayout
        @usableFromInline var diff: [Double]
        /// `c` in Double (the step-by-step path only; empty otherwise).
        @usableFromInline var wideCond: [Double]
        @usableFromInline var scratch: [Double]
        /// Per-sample std of `c` for CFG-rescale, measured before `out` (which may alias `c`) is written.
        @usableFromInline var condStd: [Double]
        /// Non-adjacent `normDims`: the gather table and the permuted copies of `c` and `d` (empty otherwise).
        @usableFromInline let axes: NormAxes
        @usableFromInline var permutedCond: [Double]
        @usableFromInline var permutedDiff: [Double]

        /// Zeroes the momentum (start of a new generation).
        public mutating func reset() {
            for i in wideMomentum.indices { wideMomentum[i] = 0 }
            steps = 0
            intermediates = nil
        }
    }

    /// Whether guidance changes anything (false at `s = 1` for `.diffusers`, `s = 0` for `.original`).
    public var isEnabled: Bool {
        config.formulation == .diffusers ? abs(config.scale - 1) > 1e-9 : abs(config.scale) > 1e-9
    }

    public func makeState(shape: [Int]) throws(GradusError) -> State {
        let c = config
        guard c.scale.isFinite, c.eta.isFinite else { throw .invalidArgument("APG: scale and eta must be finite") }
        guard c.normThreshold >= 0, c.normThreshold.isFinite else {
            throw .invalidArgument("APG: normThreshold must be ≥ 0, got \(c.normThreshold)")
        }
        if let m = c.momentum, !m.isFinite { throw .invalidArgument("APG: momentum must be finite") }
        guard c.guidanceRescale >= 0, c.guidanceRescale <= 1 else {
            throw .invalidArgument("APG: guidanceRescale \(c.guidanceRescale) outside [0, 1]")
        }
        let n = try elementCount(shape)
        guard shape.count >= 2 || c.normDims != nil else {
            throw .invalidArgument("APG: shape \(shape) has no non-batch axis to normalise over")
        }
        let axes = try NormAxes(shape: shape, dims: c.normDims)
        let groups = axes.layout
        let samples = try ProjectionLayout(shape: shape, dims: nil)
        let permuted = axes.isPermuted ? n : 0
        let stepByStep = recordsIntermediates || axes.isPermuted || groups.inner != 1
        return State(shape: shape, count: n, wideMomentum: [Double](repeating: 0, count: c.momentum == nil ? 0 : n),
                     steps: 0, intermediates: nil, groups: groups, samples: samples,
                     diff: [Double](repeating: 0, count: n), wideCond: [Double](repeating: 0, count: stepByStep ? n : 0),
                     scratch: [Double](repeating: 0, count: 2 * groups.groupCount),
                     condStd: [Double](repeating: 0, count: samples.groupCount),
                     axes: axes, permutedCond: [Double](repeating: 0, count: permuted),
                     permutedDiff: [Double](repeating: 0, count: permuted))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func update(cond: UnsafePointer<Scalar>, uncond: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>,
                       state: inout State) {
        let n = state.count
        if !isEnabled {
            if out != UnsafeMutablePointer(mutating: cond) { out.update(from: cond, count: n) }
            return
        }
        let c = config, groups = state.groups, samples = state.samples
        let rescale = c.guidanceRescale
        // std(c) before `out` (which may alias `cond`) is written
        if rescale > 0 {
            state.condStd.withUnsafeMutableBufferPointer { CFGRescale.measure(cond: cond, layout: samples, into: $0.baseAddress!) }
        }
        if recordsIntermediates || state.axes.isPermuted || groups.inner != 1 {
            stepByStep(cond: cond, uncond: uncond, into: out, state: &state)
        } else {
            // fused: two passes over memory (APGKernel); same result as the step-by-step path
            let momentum = c.momentum
            state.diff.withUnsafeMutableBufferPointer { dBuf in
                state.wideMomentum.withUnsafeMutableBufferPointer { mBuf in
                    APGKernel.fusedUpdate(cond: cond, uncond: uncond, momentum: momentum == nil ? nil : mBuf.baseAddress,
                                          beta: momentum ?? 0, diff: dBuf.baseAddress!, out: out,
                                          baseIsCond: c.formulation == .original, groups: groups.outer, extent: groups.extent,
                                          threshold: c.normThreshold, eta: c.eta, scale: c.scale)
                }
            }
        }
        if rescale > 0 {
            state.condStd.withUnsafeMutableBufferPointer { CFGRescale.apply(out, layout: samples, phi: rescale, condStd: $0.baseAddress!) }
        }
        state.steps += 1
    }

    /// Steps 1–6 one at a time over Double buffers, recording the intermediates when asked; used when the norm
    /// groups are not contiguous (`inner > 1` or non-adjacent `normDims`) or when recording.
    @usableFromInline
    func stepByStep(cond: UnsafePointer<Scalar>, uncond: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>,
                    state: inout State) {
        let n = state.count, c = config, groups = state.groups
        let record = recordsIntermediates
        func narrow(_ x: UnsafeMutableBufferPointer<Double>) -> [Scalar] { x.map { Scalar($0) } }
        if state.wideCond.count != n { state.wideCond = [Double](repeating: 0, count: n) }  // recording switched on later
        var rec: APGIntermediates<Scalar>? = nil
        state.diff.withUnsafeMutableBufferPointer { dBuf in
            state.wideCond.withUnsafeMutableBufferPointer { cBuf in
            state.scratch.withUnsafeMutableBufferPointer { sBuf in
                let d = dBuf.baseAddress!, c64 = cBuf.baseAddress!, scratch = sBuf.baseAddress!
                // 1. d = c − u (exact in Double for float32 inputs)
                for i in 0..<n { let ci = Double(cond[i]); c64[i] = ci; d[i] = ci - Double(uncond[i]) }
                // 2. m ← d + β·m; d ← m
                if let beta = c.momentum {
                    state.wideMomentum.withUnsafeMutableBufferPointer { mBuf in
                        let m = mBuf.baseAddress!
                        Kernels.axpby(1, UnsafePointer(d), beta, UnsafePointer(m), into: m, count: n)
                        d.update(from: m, count: n)
                    }
                }
                if record { rec = APGIntermediates(diffAfterMomentum: narrow(dBuf), diffAfterRescale: [], parallel: [],
                                                   orthogonal: [], update: []) }
                // Non-adjacent norm axes: steps 3–5 run on permuted copies where every group is contiguous.
                let axes = state.axes
                state.permutedDiff.withUnsafeMutableBufferPointer { pdBuf in
                    state.permutedCond.withUnsafeMutableBufferPointer { pcBuf in
                        let work: UnsafeMutablePointer<Double>, dir: UnsafePointer<Double>
                        if axes.isPermuted {
                            axes.gather(UnsafePointer(d), into: pdBuf.baseAddress!)
                            axes.gather(UnsafePointer(c64), into: pcBuf.baseAddress!)
                            work = pdBuf.baseAddress!; dir = UnsafePointer(pcBuf.baseAddress!)
                        } else {
                            work = d; dir = UnsafePointer(c64)
                        }
                        // 3. d ← d·min(1, r/‖d‖)
                        if c.normThreshold > 0 {
                            Projection.clipGroupNorms(work, layout: groups, threshold: c.normThreshold, scratch: scratch)
                        }
                        // 4–5. Δ = d⊥ + η·d∥ (in place in d)
                        if record {
                            if axes.isPermuted { axes.scatter(UnsafePointer(work), into: d) }
                            rec!.diffAfterRescale = narrow(dBuf)
                            var par = [Double](repeating: 0, count: n), orth = [Double](repeating: 0, count: n)
                            par.withUnsafeMutableBufferPointer { pp in
                                orth.withUnsafeMutableBufferPointer { po in
                                    Projection.decompose(UnsafePointer(work), onto: dir, layout: groups, floor: .clamp(1e-12),
                                                         parallel: pp.baseAddress!, orthogonal: po.baseAddress!, scratch: scratch)
                                    if axes.isPermuted {
                                        // back to the original order (work is free now)
                                        work.update(from: pp.baseAddress!, count: n); axes.scatter(UnsafePointer(work), into: pp.baseAddress!)
                                        work.update(from: po.baseAddress!, count: n); axes.scatter(UnsafePointer(work), into: po.baseAddress!)
                                    }
                                    Kernels.axpby(1, UnsafePointer(po.baseAddress!), c.eta, UnsafePointer(pp.baseAddress!),
                                                  into: d, count: n)
                                    rec!.parallel = narrow(pp); rec!.orthogonal = narrow(po)
                                }
                            }
                            rec!.update = narrow(dBuf)
                        } else {
                            Projection.blend(UnsafePointer(work), onto: dir, layout: groups, floor: .clamp(1e-12),
                                             parallelWeight: c.eta, out: work, scratch: scratch)
                            if axes.isPermuted { axes.scatter(UnsafePointer(work), into: d) }
                        }
                    }
                }
                // 6. pred = base + s·Δ, rounded once (base read at each index before `out`, which may alias it, is written)
                let base = c.formulation == .diffusers ? uncond : cond, s = c.scale
                for i in 0..<n { out[i] = Scalar(Double(base[i]) + s * d[i]) }
            }
            }
        }
        if record { state.intermediates = rec }
    }
}

/// Convenience owner of an APG rule and its state (the spec's `APGGuider`): call once per sampler step,
/// `reset()` before each new generation. Not thread-safe; one guider per generation loop.
public final class APGGuider<Scalar: BinaryFloatingPoint & Sendable> {
    /// The rule.
    public let rule: AdaptiveProjectedGuidance<Scalar>
    /// The state (momentum, last intermediates).
    public private(set) var state: AdaptiveProjectedGuidance<Scalar>.State

    /// - Parameters: config; shape `(B, ...)`; recordsIntermediates default false.
    public init(_ config: APGConfig, shape: [Int], recordsIntermediates: Bool = false) throws(GradusError) {
        rule = AdaptiveProjectedGuidance(config, recordsIntermediates: recordsIntermediates)
        state = try rule.makeState(shape: shape)
    }

    /// The guided prediction for one step.
    public func callAsFunction(cond: [Scalar], uncond: [Scalar]) throws(GradusError) -> [Scalar] {
        try rule.update(cond: cond, uncond: uncond, state: &state)
    }

    /// Starts a new generation (zero momentum).
    public func reset() { state.reset() }

    /// Runs `body` with the rule and mutable access to the state (for front ends such as the Tensor one).
    public func withState<R>(_ body: (AdaptiveProjectedGuidance<Scalar>, inout AdaptiveProjectedGuidance<Scalar>.State) throws(GradusError) -> R) throws(GradusError) -> R {
        try body(rule, &state)
    }

    /// The last call's intermediates, when recording.
    public var debug: APGIntermediates<Scalar>? { state.intermediates }
}
