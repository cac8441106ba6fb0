import GradusRuntime
import _GradusShims
#if canImport(Glibc)
import Glibc
#endif

/// Adam's moments with bias correction (Kingma & Ba; optax `scale_by_adam`):
/// `m ← β1'm + (1−β1')g`, `v ← β2 v + (1−β2)g²`, output `m/(√v·a + ε)` times a scalar folded into
/// the parameter update. Where ε sits relative to the bias correction is the `Correction`.
///
/// `β1' = β1·s_t` when a `CosineDecayFactor` is given (Stable-SPAM), else `β1`.
public struct AdamPreconditioner<Scalar: OptimizerScalar>: ResettableTransform, SecondMomentTransform, AdamHyperparameters {
    /// Where ε goes (spec §14.1).
    public enum Correction: Sendable {
        /// `m̂/(√v/√(1−β2^k) + ε)`, step `1/(1−β1^k)` (torch Adam/AdamW, AdamP, Stable-SPAM).
        case afterBiasCorrection
        /// `m/(√v + ε)`, step `√(1−β2^k)/(1−β1^k)` (diffGrad, SPAM).
        case beforeBiasCorrection
        /// `m/(√v + ε)` without any correction (SPAM's `correct_bias = False`).
        case none
    }
    /// The numerator.
    public enum Form: Sendable {
        /// `m`.
        case standard
        /// `β1 m + (1−β1) g` with the updated `m` (AdamP's `nesterov`).
        case nesterov
    }

    public struct State: TransformState {
        public let m: StateBuffer<Scalar>
        public let v: StateBuffer<Scalar>
        let shape: [Int]
        // This step's coefficients (not serialized). 1 − β1 is rounded from the Double difference, as the official
        // codes compute `1 - beta1` in Python before the float32 tensor op: rounding β1 to float32 first and then
        // subtracting loses up to ulp(1)/(1 − β) of relative accuracy (6e-5 for β2 = 0.999).
        var beta1: Scalar = 0
        var oneMinusBeta1: Scalar = 1
        var denominatorScale: Scalar = 1
        public func write(to writer: inout StateWriter) {
            writer.write("exp_avg", m, shape: shape)
            writer.write("exp_avg_sq", v, shape: shape)
        }
        public mutating func read(from reader: StateReader) throws(GradusError) {
            try reader.read("exp_avg", into: m)
            try reader.read("exp_avg_sq", into: v)
        }
    }

    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var correction: Correction
    public var form: Form
    /// Optional cosine factor `s_t` on β1 (Stable-SPAM's `total_T`).
    public var beta1Decay: CosineDecayFactor?

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                correction: Correction = .afterBiasCorrection, form: Form = .standard,
                beta1Decay: CosineDecayFactor? = nil) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.correction = correction; self.form = form; self.beta1Decay = beta1Decay
    }

    public var name: String { "AdamPreconditioner" }
    public var isScaleEquivariant: Bool { false }
    public var fusesParameterUpdate: Bool { true }
    public var fusesInputScale: Bool { true }

    public func makeState(for parameter: ParameterInfo) -> State {
        State(m: StateBuffer(count: parameter.count), v: StateBuffer(count: parameter.count), shape: parameter.shape)
    }

    public func prepare(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        let k = context.tensorStep
        let b1 = beta1 * (beta1Decay?.factor(atStep: context.globalStep) ?? 1)
        let bc1 = 1 - ScalarMath.pow(b1, k), bc2 = 1 - ScalarMath.pow(beta2, k)
        state.beta1 = Scalar(b1)
        state.oneMinusBeta1 = Scalar(1 - b1)
        switch correction {
        case .afterBiasCorrection:
            state.denominatorScale = Scalar(1 / ScalarMath.sqrt(bc2))
            context.outputScale = 1 / bc1
        case .beforeBiasCorrection:
            state.denominatorScale = 1
            context.outputScale = ScalarMath.sqrt(bc2) / bc1
        case .none:
            state.denominatorScale = 1
            context.outputScale = 1
        }
        return nil
    }

    /// One element of Adam: updates `m[i]`, `v[i]` from `g` and returns `num/(den·f)`, `num` = `m` (or Nesterov's
    /// `β1 m + (1−β1) g`), `den` = `√v·a + ε`, `f` diffGrad's friction denominator `1 + e^−|g_prev − g|` when given
    /// (one division instead of `num/den` times `1/f`). Every loop below runs this, so the fused and unfused paths
    /// agree bit for bit.
    struct ElementStep {
        let m: UnsafeMutablePointer<Scalar>, v: UnsafeMutablePointer<Scalar>
        let b1: Scalar, c1: Scalar, b2: Scalar, c2: Scalar, a: Scalar, eps: Scalar
        let nesterov: Bool
        @inline(__always)
        func callAsFunction(_ i: Int, _ g: Scalar, friction f: Scalar?) -> Scalar {
            let mi = b1 * m[i] + c1 * g
            let vi = b2 * v[i] + c2 * g * g
            m[i] = mi; v[i] = vi
            var den = Scalar.squareRoot(of: vi) * a + eps
            if let f { den = den * f }
            return (nesterov ? b1 * mi + c1 * g : mi) / den
        }
    }

    @inline(__always)
    func elementStep(_ state: State, _ block: BlockContext<Scalar>, nesterov: Bool) -> ElementStep {
        ElementStep(m: state.m.base + block.offset, v: state.v.base + block.offset, b1: state.beta1, c1: state.oneMinusBeta1,
                    b2: Scalar(beta2), c2: Scalar(1 - beta2), a: state.denominatorScale, eps: Scalar(epsilon), nesterov: nesterov)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        unfused(state, input, nil, output, block)
    }

    /// `apply` with diffGrad's friction: output `ξ·m/(√v·a + ε)`, `ξ = σ(|g_prev − g|)`, and `g_prev ← g`.
    /// `previous`: `g_prev` of the block. `input` may alias `output`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func applyDamped(_ state: State, input: UnsafePointer<Scalar>, previous: UnsafeMutablePointer<Scalar>,
                            output: UnsafeMutablePointer<Scalar>, block: BlockContext<Scalar>) -> Int {
        unfused(state, input, previous, output, block)
    }

    // g, g_prev, out: (n) for the block; m, v updated in place. `kernel`: see `AdamStepKernel` (tests pick one).
    @inline(__always)
    func unfused(_ state: State, _ input: UnsafePointer<Scalar>, _ previous: UnsafeMutablePointer<Scalar>?,
                 _ output: UnsafeMutablePointer<Scalar>, _ block: BlockContext<Scalar>,
                 kernel: AdamStepKernel = AdamStepKernel.float32) -> Int {
        if Scalar.self == Float.self && kernel == .avx2 {
            stepAVX2(elementStep(state, block, nesterov: form == .nesterov), input, previous, nil, output, nil, block.count)
            return 0
        }
        @inline(__always) func loop(_ step: ElementStep) {
            let n = block.count
            var i = 0
            if let p = previous {
                while i < n {
                    let g = input[i]
                    let f = Scalar.inverseLogisticOfMagnitude(p[i] - g)
                    p[i] = g
                    output[i] = step(i, g, friction: f)
                    i &+= 1
                }
            } else {
                while i < n { output[i] = step(i, input[i], friction: nil); i &+= 1 }
            }
        }
        switch form {
        case .standard: loop(elementStep(state, block, nesterov: false))
        case .nesterov: loop(elementStep(state, block, nesterov: true))
        }
        return 0
    }

    /// The moments and the parameter update in one loop: reads `g, m, v, θ`, writes `m, v, θ` (28 bytes per
    /// float32 element, as a hand-written fused Adam), with the same arithmetic as `apply` then the update.
    /// The input is `update.inputScale · g` (one multiplication, exact when the scale is 1).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func applyUpdating(_ state: State, input: UnsafePointer<Scalar>, weights: UnsafePointer<Scalar>?,
                              update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int {
        fused(state, input, weights, nil, update, block)
    }

    /// `applyUpdating` with diffGrad's friction in the same loop (`applyDamped`'s arithmetic), then the update
    /// weighed by `weights[i]` when given; `g = update.inputScale · input`, `g_prev ← g`.
    /// `previous`: `g_prev` of the block.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func applyUpdatingDamped(_ state: State, input: UnsafePointer<Scalar>, previous: UnsafeMutablePointer<Scalar>,
                                    weights: UnsafePointer<Scalar>?, update: ParameterUpdate<Scalar>,
                                    block: BlockContext<Scalar>) -> Int {
        fused(state, input, weights, previous, update, block)
    }

    @inline(__always)
    func fused(_ state: State, _ input: UnsafePointer<Scalar>, _ weights: UnsafePointer<Scalar>?,
               _ previous: UnsafeMutablePointer<Scalar>?, _ update: ParameterUpdate<Scalar>, _ block: BlockContext<Scalar>,
               kernel: AdamStepKernel = AdamStepKernel.float32) -> Int {
        if Scalar.self == Float.self && kernel == .avx2 {
            stepAVX2(elementStep(state, block, nesterov: form == .nesterov), input, previous, weights, nil, update, block.count)
            return 0
        }
        switch form {
        case .standard: fusedLoop(elementStep(state, block, nesterov: false), input, weights, previous, update, block)
        case .nesterov: fusedLoop(elementStep(state, block, nesterov: true), input, weights, previous, update, block)
        }
        return 0
    }

    // g, θ, w, g_prev: (n) for the block. The switch on what is given picks one of four loops, so every loop is
    // straight-line code that vectorises.
    @inline(__always)
    func fusedLoop(_ step: ElementStep, _ input: UnsafePointer<Scalar>, _ weights: UnsafePointer<Scalar>?,
                   _ previous: UnsafeMutablePointer<Scalar>?, _ update: ParameterUpdate<Scalar>, _ block: BlockContext<Scalar>) {
        let theta = update.parameters
        let a = update.preFactor, c = update.scale, b = update.postFactor, s = update.inputScale
        let n = block.count
        var i = 0
        switch (weights, previous) {
        case (nil, nil):
            while i < n { theta[i] = (theta[i] * a + c * step(i, s * input[i], friction: nil)) * b; i &+= 1 }
        case (let w?, nil):
            while i < n { theta[i] = (theta[i] * a + c * (step(i, s * input[i], friction: nil) * w[i])) * b; i &+= 1 }
        case (nil, let p?):
            while i < n {
                let g = s * input[i]
                let f = Scalar.inverseLogisticOfMagnitude(p[i] - g)
                p[i] = g
                theta[i] = (theta[i] * a + c * step(i, g, friction: f)) * b
                i &+= 1
            }
        case (let w?, let p?):
            while i < n {
                let g = s * input[i]
                let f = Scalar.inverseLogisticOfMagnitude(p[i] - g)
                p[i] = g
                theta[i] = (theta[i] * a + c * (step(i, g, friction: f) * w[i])) * b
                i &+= 1
            }
        }
    }

    /// Whether the transforms that fold into the AVX2 kernel run there (`Float` with the AVX2 kernel):
    /// `applyUpdatingProjected` (⊥Grad's projection) and `applyUpdatingSpikeClipped` (SPAM's clipping); otherwise
    /// callers run their own loop first and then `applyUpdating`.
    static var foldsIntoAVX2Kernel: Bool { Scalar.self == Float.self && AdamStepKernel.float32 == .avx2 }

    /// `applyUpdating` on ⊥Grad's projected gradient `scale·(g − coefficient·θ)` (`Projection.removeComponent` with
    /// `coefficient` and `scale` rounded to `Scalar`), computed inside the Adam kernel from the `θ` it loads for the
    /// update anyway: no projection loop, no projected block in memory (⊥AdamW reads g, m, v, θ and writes m, v, θ
    /// once in its final pass). Same bits as the projection loop followed by `applyUpdating`.
    /// Only when `foldsIntoAVX2Kernel`. `input`: the raw gradient block; `θ`: `update.parameters`.
    func applyUpdatingProjected(_ state: State, input: UnsafePointer<Scalar>, coefficient: Scalar, scale: Scalar,
                                update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) {
        precondition(Self.foldsIntoAVX2Kernel, "applyUpdatingProjected needs Float and the AVX2 kernel")
        stepAVX2(elementStep(state, block, nesterov: form == .nesterov), input, nil, nil, nil, update, block.count,
                 projection: (coefficient, scale))
    }

    /// `unfused` (`update` nil, writes `output`) or `fusedLoop` for `Float` in one call of the AVX2+FMA kernel
    /// (`gradus__adam_step_f32_avx2`): the same element step with the moments, the friction polynomial and the
    /// denominator contracted into FMAs, the parameter update without (as `Kernels.applyUpdate`, so fused and
    /// unfused agree bit for bit). Only called with `Scalar == Float` on a CPU with AVX2 and FMA.
    /// `clipThreshold`: SPAM's spike-aware clipping folded in; returns the clipped count (0 without).
    @inline(__always) @discardableResult
    func stepAVX2(_ step: ElementStep, _ input: UnsafePointer<Scalar>, _ previous: UnsafeMutablePointer<Scalar>?,
                  _ weights: UnsafePointer<Scalar>?, _ output: UnsafeMutablePointer<Scalar>?,
                  _ update: ParameterUpdate<Scalar>?, _ count: Int, projection: (coefficient: Scalar, scale: Scalar)? = nil,
                  clipThreshold: Scalar? = nil) -> Int {
        @inline(__always) func f(_ p: UnsafeMutablePointer<Scalar>?) -> UnsafeMutablePointer<Float>? {
            p.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) }
        }
        @inline(__always) func f(_ p: UnsafePointer<Scalar>?) -> UnsafePointer<Float>? {
            p.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) }
        }
        @inline(__always) func f(_ x: Scalar) -> Float { unsafeBitCast(x, to: Float.self) }
        var args = gradus__adam_step_f32_args(
            m: f(step.m), v: f(step.v), previous: f(previous), input: f(input), weights: f(weights),
            parameters: f(update?.parameters), output: f(output), count: Int64(count),
            beta1: f(step.b1), one_minus_beta1: f(step.c1), beta2: f(step.b2), one_minus_beta2: f(step.c2),
            denominator_scale: f(step.a), epsilon: f(step.eps), input_scale: f(update?.inputScale ?? 1),
            pre_factor: f(update?.preFactor ?? 1), scale: f(update?.scale ?? 1), post_factor: f(update?.postFactor ?? 1),
            nesterov: step.nesterov ? 1 : 0, project: projection == nil ? 0 : 1,
            projection_coefficient: f(projection?.coefficient ?? 0), projection_scale: f(projection?.scale ?? 1),
            clip: clipThreshold == nil ? 0 : 1, clip_threshold: f(clipThreshold ?? 0))
        return Int(gradus__adam_step_f32_avx2(&args))
    }

    public func reset(_ state: State, block: BlockContext<Scalar>) {
        (state.m.base + block.offset).update(repeating: 0, count: block.count)
        (state.v.base + block.offset).update(repeating: 0, count: block.count)
    }
    public func secondMoment(of state: State) -> StateBuffer<Scalar> { state.v }

    /// SPAM: `applyUpdating` on the input clipped by `SpikeAwareClipping` (`g·g > θ·v` → `√(θ·v)` with g's sign, v
    /// before this step), the clipping done inside the AVX2 kernel from the `v` it loads for the moment anyway: no
    /// clipping loop, no clipped block in the workspace. Same bits as the clipping loop followed by `applyUpdating`;
    /// returns the clipped count. nil (nothing done) unless `Scalar == Float` with the AVX2 kernel.
    public func applyUpdatingSpikeClipped(_ state: State, input: UnsafePointer<Scalar>, threshold: Scalar,
                                          update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int? {
        guard Self.foldsIntoAVX2Kernel else { return nil }
        return stepAVX2(elementStep(state, block, nesterov: form == .nesterov), input, nil, nil, nil, update, block.count,
                        clipThreshold: threshold)
    }

}

/// The loop that runs a `Float` Adam/diffGrad step (`AdamPreconditioner`); `Double` always runs the Swift loop.
enum AdamStepKernel: Sendable, Equatable {
    /// The generic Swift loop (SIMD of the baseline target: SSE2 on x86-64, without FMA).
    case swift
    /// `gradus__adam_step_f32_avx2` (C, AVX2+FMA, compiled for that target only).
    case avx2

    /// Whether this CPU can run `.avx2`.
    static let isAVX2Available: Bool = gradus__cpu_has_avx2_fma() != 0

    /// The kernel for `Float` steps, chosen once: `.avx2` when the CPU has AVX2 and FMA and the environment
    /// variable `GRADUS_NO_AVX2` is unset, empty or `0`; else `.swift`.
    static let float32: AdamStepKernel = {
        if let flag = getenv("GRADUS_NO_AVX2") {
            let value = String(cString: flag)
            if !value.isEmpty && value != "0" { return .swift }
        }
        return isAVX2Available ? .avx2 : .swift
    }()
}

/// Stable-SPAM's `s_t = η_min + (1 − η_min)(1 + cos(π t/(T + 1)))/2` (no clamp), or 1 without `T`.
public struct CosineDecayFactor: Sendable, Equatable {
    /// `total_T`; nil means no decay.
    public var totalSteps: Int?
    public var minimum: Double
    public init(totalSteps: Int?, minimum: Double = 0.5) { self.totalSteps = totalSteps; self.minimum = minimum }
    /// `s_t` at global step `t`.
    public func factor(atStep t: Int) -> Double {
        guard let total = totalSteps else { return 1 }
        return minimum + (1 - minimum) * (1 + ScalarMath.cos(Double.pi * Double(t) / Double(total + 1))) / 2
    }
}

/// Transforms whose run-time tunable hyperparameters are Adam's β1, β2 and ε (the float32 and 8-bit Adam
/// moments): `set`/`value(of:)` come from here.
public protocol AdamHyperparameters: GradientTransform {
    var beta1: Double { get set }
    var beta2: Double { get set }
    var epsilon: Double { get set }
}

extension AdamHyperparameters {
    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool {
        switch hyperparameter {
        case .beta1: beta1 = value
        case .beta2: beta2 = value
        case .epsilon: epsilon = value
        default: return false
        }
        return true
    }

    public func value(of hyperparameter: Hyperparameter) -> Double? {
        switch hyperparameter {
        case .beta1: return beta1
        case .beta2: return beta2
        case .epsilon: return epsilon
        default: return nil
        }
    }
}
