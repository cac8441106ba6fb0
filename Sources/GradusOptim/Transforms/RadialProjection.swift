import GradusRuntime
import GradusTensor

/// AdamP/SGDP's projection for scale-invariant weights (Heo et al., official `adamp.py`/`sgdp.py`, spec §2.1).
/// For tensors of rank > 1: the cosine between the raw gradient and the weights is tested on the channel
/// view, then on the layer view; when the largest |cos| of a view is below `δ/√(row length)`, the update
/// loses its radial component on that view (`u_i ← u_i − (ŵ_i·u_i)ŵ_i`, `ŵ_i = θ_i/(‖θ_i‖ + ε)`) and the
/// decoupled decay is multiplied by `wd_ratio`.
/// Costs one pass over the raw gradient and weights, and, when it fires, one over the update (none for vectors,
/// which are never projected). Dot products, norms, the coefficient `(θ·u)/(‖θ‖ + ε)²` and the projection are
/// GradusTensor's shared `Projection` kernels (as ⊥Grad's and APG guidance's).
public struct RadialProjection<Scalar: OptimizerScalar>: GradientTransform {
    /// The view a projection used.
    public enum View: Sendable { case channel, layer }
    public struct State: TransformState {
        /// The view that fired on the last step (nil: none).
        public internal(set) var lastView: View? = nil
        var rowSquaredNorms: [Double] = []
        var coefficients: [Double] = []
        public func write(to writer: inout StateWriter) {}
        public mutating func read(from reader: StateReader) throws(GradusError) {}
    }
    public var delta: Double
    public var weightDecayRatio: Double
    public var epsilon: Double
    public init(delta: Double = 0.1, weightDecayRatio: Double = 0.1, epsilon: Double = 1e-8) {
        self.delta = delta; self.weightDecayRatio = weightDecayRatio; self.epsilon = epsilon
    }
    public var name: String { "RadialProjection" }
    public var isScaleEquivariant: Bool { true }
    public var isRecomputable: Bool { true }
    public func makeState(for parameter: ParameterInfo) -> State { State() }

    public func rawStatistic(for parameter: ParameterInfo) -> StatisticRequest? {
        parameter.rank > 1 ? StatisticRequest(count: 3 * parameter.rowCount) : nil
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func accumulateRawStatistic(_ accumulator: UnsafeMutablePointer<Double>, gradient: UnsafePointer<Scalar>,
                                       block: BlockContext<Scalar>) {
        // Per channel row r: [g·θ, g·g, θ·θ] at 3r (the row's part in this block: g, θ: (n)).
        Kernels.forEachRowSegment(offset: block.offset, count: block.count, rowLength: block.parameter.rowLength) { r, s, n in
            Projection.accumulate(gradient + s, block.parameters + s, count: n,
                                  dot: &accumulator[3 * r], uu: &accumulator[3 * r + 2], vv: &accumulator[3 * r + 1])
        }
    }

    /// The view whose test fires for per-row statistics `[g·θ, g·g, θ·θ]…` of a tensor, or nil.
    public static func firingView(rowStatistics s: [Double], rowLength: Int, count: Int, delta: Double, epsilon: Double) -> View? {
        let rows = s.count / 3
        let floor = NormFloor.clamp(epsilon)
        func cosine(_ gw: Double, _ gg: Double, _ ww: Double) -> Double {
            abs(gw) / (floor.norm(squared: gg) * floor.norm(squared: ww))
        }
        var maxCos = 0.0
        for r in 0..<rows { maxCos = Swift.max(maxCos, cosine(s[3 * r], s[3 * r + 1], s[3 * r + 2])) }
        if maxCos < delta / ScalarMath.sqrt(Double(rowLength)) { return .channel }
        var gw = 0.0, gg = 0.0, ww = 0.0
        for r in 0..<rows { gw += s[3 * r]; gg += s[3 * r + 1]; ww += s[3 * r + 2] }
        if cosine(gw, gg, ww) < delta / ScalarMath.sqrt(Double(count)) { return .layer }
        return nil
    }

    public func prepare(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        state.lastView = nil
        state.coefficients = []
        // Vectors are never projected, and a step on which no view fires leaves the update as it is.
        context.isIdentity = true
        guard let s = rawStatistic else { return nil }
        let p = context.parameter
        guard let view = Self.firingView(rowStatistics: s, rowLength: p.rowLength, count: p.count, delta: delta, epsilon: epsilon)
        else { return nil }
        context.isIdentity = false
        state.lastView = view
        let rows = s.count / 3
        switch view {
        case .channel: state.rowSquaredNorms = (0..<rows).map { s[3 * $0 + 2] }
        case .layer: state.rowSquaredNorms = [(0..<rows).reduce(0.0) { $0 + s[3 * $1 + 2] }]
        }
        context.weightDecayRatio = weightDecayRatio
        return StatisticRequest(count: rows)
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func accumulateInputStatistic(_ accumulator: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>,
                                         block: BlockContext<Scalar>) {
        // θ_r·u_r per channel row; the layer view sums them in `absorb`.
        Kernels.forEachRowSegment(offset: block.offset, count: block.count, rowLength: block.parameter.rowLength) { r, s, n in
            accumulator[r] += Projection.dot(block.parameters + s, input + s, count: n)
        }
    }
    public func absorb(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                       inputStatistic: [Double]) {
        let dots = state.lastView == .layer ? [inputStatistic.reduce(0, +)] : inputStatistic
        // AdamP's `_projection`: ŵ = θ/(‖θ‖ + ε), u ← u − (ŵ·u)ŵ, i.e. the coefficient (θ·u)/(‖θ‖ + ε)².
        state.coefficients = zip(dots, state.rowSquaredNorms).map { d, nn in
            Projection.coefficient(dot: d, uNormSquared: nn, floor: .add(epsilon))
        }
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        let p = block.parameter, w = block.parameters
        guard !state.coefficients.isEmpty else {
            if UnsafePointer(output) != input { output.update(from: input, count: block.count) }
            return 0
        }
        let rowLength = state.coefficients.count == 1 ? p.count : p.rowLength
        state.coefficients.withUnsafeBufferPointer { coef in
            Kernels.forEachRowSegment(offset: block.offset, count: block.count, rowLength: rowLength) { r, s, n in
                Projection.removeComponent(input + s, along: w + s, coefficient: coef[r], out: output + s, count: n)
            }
        }
        return 0
    }
}
