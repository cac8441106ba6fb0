import GradusRuntime
import GradusTensor
import _GradusShims

/// ⊥Grad (Prieto et al., official `orthograd.py`): per tensor, removes the component of the gradient along
/// the weights and restores the original norm:
/// `g⊥ = g − (w·g/(w·w + 1e-30))·w`, output `g⊥·‖g‖/(‖g⊥‖ + 1e-30)`.
/// Costs one pass for the dot products (`w·g`, `w·w`, `g·g`); `‖g⊥‖² = g·g − 2c·w·g + c²·w·w`, unless that
/// cancels (`g` nearly parallel to `w`: below `exactNormThreshold·g·g`), when the executor runs a second pass for
/// `‖g⊥‖` from `g⊥` itself, as the official code computes it (`accumulatePerpendicularNormSquared`).
/// For `Float` with the AVX2 Adam kernel, ⊥AdamW's projection runs inside Adam's loop
/// (`AdamPreconditioner.applyUpdatingProjected`, same bits as `apply` then Adam).
/// The dot products, the coefficient and the projection are GradusTensor's shared `Projection` kernels
/// (the same code as AdamP's projection and APG guidance).
public struct OrthogonalProjection<Scalar: OptimizerScalar>: GradientTransform {
    public struct State: TransformState {
        var coefficient: Double = 0
        var rescale: Double = 1
        /// `‖g‖²` of this step when `‖g⊥‖` must come from a pass over `g⊥` (the dot products cancelled); else nil.
        var pendingExactNorm: Double? = nil
        public func write(to writer: inout StateWriter) {}
        public mutating func read(from reader: StateReader) throws(GradusError) {}
    }
    /// ⊥Grad's floor: `w·g/(w·w + 1e-30)`.
    public static var floor: NormFloor { .addSquared(1e-30) }

    public init() {}
    public var name: String { "OrthogonalProjection" }
    public var isScaleEquivariant: Bool { true }
    public var isRecomputable: Bool { true }
    public func makeState(for parameter: ParameterInfo) -> State { State() }
    public func prepare(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? { StatisticRequest(count: 3) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func accumulateInputStatistic(_ accumulator: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>,
                                         block: BlockContext<Scalar>) {
        // [w·g, w·w, g·g] in one pass over the block; g: the block's input, w: its weights, both (n).
        if Self.usesChunkedDots {
            gradus__projection_dots_f32_avx2(UnsafeRawPointer(input).assumingMemoryBound(to: Float.self),
                                             UnsafeRawPointer(block.parameters).assumingMemoryBound(to: Float.self),
                                             Int64(block.count), accumulator)
            return
        }
        Projection.accumulate(input, block.parameters, count: block.count,
                              dot: &accumulator[0], uu: &accumulator[1], vv: &accumulator[2])
    }
    public func absorb(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                       inputStatistic s: [Double]) {
        (state.rescale, state.coefficient) = Self.coefficients(wg: s[0], ww: s[1], gg: s[2])
        let c = state.coefficient
        let perp2 = s[2] - 2 * c * s[0] + c * c * s[1]
        state.pendingExactNorm = s[2] > 0 && !(perp2 >= Self.exactNormThreshold * s[2]) ? s[2] : nil
    }

    /// Whether the dot products come from `gradus__projection_dots_f32_avx2` (`Float` with the AVX2 kernels):
    /// products summed in float32 over chunks of 128 elements, the chunk sums in Double, relative error ~1e-7 of
    /// each sum in the worst case (far less on large tensors) instead of ~1e-16, without a conversion per element.
    static var usesChunkedDots: Bool { Scalar.self == Float.self && AdamStepKernel.float32 == .avx2 }

    /// Below `exactNormThreshold·g·g` the norm is taken from `g⊥` itself in a second pass. `‖g⊥‖²` from the dot
    /// products loses `log10(g·g/‖g⊥‖²)` digits to cancellation: of Double's ~16 with Double sums (threshold
    /// 1e-6, ‖g⊥‖ < 0.001‖g‖; there float32's `‖g⊥‖` of the official code differs from the exact one by ~1e-4
    /// relative anyway), of ~7 with the chunked float32 sums (threshold 1e-2, ‖g⊥‖ < 0.1‖g‖, so the rescale
    /// stays within ~1e-5 of the exact one even on tiny tensors).
    public static var exactNormThreshold: Double { usesChunkedDots ? 1e-2 : 1e-6 }

    /// Adds `Σ (g − c·w)²` over one block to `accumulator[0]`, `g − c·w` rounded as `apply` computes it (`c`
    /// rounded to `Scalar`), the square and the sum in Double. g: the block's input, w: its weights, both (n).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func accumulatePerpendicularNormSquared(_ accumulator: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>,
                                                  coefficient: Double, block: BlockContext<Scalar>) {
        let k = Scalar(coefficient), w = block.parameters
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        let n = block.count
        while i &+ 4 <= n {
            let a = Double(input[i] - k * w[i]), b = Double(input[i &+ 1] - k * w[i &+ 1])
            let c = Double(input[i &+ 2] - k * w[i &+ 2]), d = Double(input[i &+ 3] - k * w[i &+ 3])
            s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d
            i &+= 4
        }
        while i < n { let a = Double(input[i] - k * w[i]); s0 += a * a; i &+= 1 }
        accumulator[0] += (s0 + s1) + (s2 + s3)
    }

    /// Replaces the rescale factor with `‖g‖/(‖g⊥‖ + 1e-30)` from the exact `‖g⊥‖²` of the second pass.
    static func absorbExactNorm(_ state: inout State, perpendicularNormSquared: Double) {
        guard let gg = state.pendingExactNorm else { return }
        state.rescale = ScalarMath.sqrt(gg) / (ScalarMath.sqrt(perpendicularNormSquared) + 1e-30)
        state.pendingExactNorm = nil
    }
    /// The projection coefficient `c` and the norm-restoring factor from the three dot products.
    public static func coefficients(wg: Double, ww: Double, gg: Double) -> (rescale: Double, coefficient: Double) {
        let c = Projection.coefficient(dot: wg, uNormSquared: ww, floor: floor)
        let perp2 = Swift.max(0, gg - 2 * c * wg + c * c * ww)
        return (ScalarMath.sqrt(gg) / (ScalarMath.sqrt(perp2) + 1e-30), c)
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        Projection.removeComponent(input, along: block.parameters, coefficient: state.coefficient, scale: state.rescale,
                                   out: output, count: block.count)
        return 0
    }
}
