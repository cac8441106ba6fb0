import GradusRuntime
import Testing
@testable import GradusOptim

/// Forwards everything to `inner` except the executor shortcuts (`fusesParameterUpdate`, `isRecomputable`),
/// so a chain of these runs the plain path: every transform writes its block, the update is a separate loop,
/// and statistics of intermediates are materialised.
struct Unfused<Inner: GradientTransform>: GradientTransform {
    typealias Scalar = Inner.Scalar
    typealias State = Inner.State
    typealias SharedState = Inner.SharedState
    var inner: Inner
    var name: String { "Unfused(\(inner.name))" }
    func makeState(for parameter: ParameterInfo) -> State { inner.makeState(for: parameter) }
    func makeSharedState() -> SharedState { inner.makeSharedState() }
    func rawStatistic(for parameter: ParameterInfo) -> StatisticRequest? { inner.rawStatistic(for: parameter) }
    func accumulateRawStatistic(_ a: UnsafeMutablePointer<Double>, gradient: UnsafePointer<Scalar>, block: BlockContext<Scalar>) {
        inner.accumulateRawStatistic(a, gradient: gradient, block: block)
    }
    func beginStep(_ shared: inout SharedState, globalStep: Int, globalRawStatistic: [Double]?) {
        inner.beginStep(&shared, globalStep: globalStep, globalRawStatistic: globalRawStatistic)
    }
    func prepare(_ state: inout State, shared: inout SharedState, context: inout TensorStepContext,
                 rawStatistic: [Double]?) -> StatisticRequest? {
        inner.prepare(&state, shared: &shared, context: &context, rawStatistic: rawStatistic)
    }
    func accumulateInputStatistic(_ a: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>, block: BlockContext<Scalar>) {
        inner.accumulateInputStatistic(a, input: input, block: block)
    }
    func absorb(_ state: inout State, shared: inout SharedState, context: inout TensorStepContext, inputStatistic: [Double]) {
        inner.absorb(&state, shared: &shared, context: &context, inputStatistic: inputStatistic)
    }
    var modifiesUpdate: Bool { inner.modifiesUpdate }
    var isScaleEquivariant: Bool { inner.isScaleEquivariant }
    func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>, block: BlockContext<Scalar>) -> Int {
        inner.apply(state, input: input, output: output, block: block)
    }
    var commitsFinalUpdate: Bool { inner.commitsFinalUpdate }
    func commit(_ state: State, update: UnsafePointer<Scalar>, block: BlockContext<Scalar>) { inner.commit(state, update: update, block: block) }
    func learningRate(atStep t: Int) -> Double? { inner.learningRate(atStep: t) }
}

func unfused<S: OptimizerScalar>(_ chain: GradientChain<S>) -> GradientChain<S> {
    func wrap<T: GradientTransform>(_ t: T) -> any GradientTransform<S> where T.Scalar == S { Unfused(inner: t) }
    return GradientChain(chain.transforms.map { wrap($0) })
}

/// Runs `steps` steps of `chain` on tensors of `shapes` (several blocks each) with deterministic gradients.
func trajectory<S: OptimizerScalar>(_ chain: GradientChain<S>, shapes: [[Int]], steps: Int) throws -> [[S]] {
    let opt = try FusedOptimizer<S>(chain: chain, shapes: shapes)
    var params: [[S]] = shapes.enumerated().map { t, s in
        (0..<s.reduce(1, *)).map { S(Double(($0 * 37 + t * 11) % 101) / 50 - 1) }
    }
    for k in 0..<steps {
        var grads: [[S]] = shapes.enumerated().map { t, s in
            (0..<s.reduce(1, *)).map { S(Double(($0 * 13 + k * 7 + t) % 89) / 40 - 1.1) }
        }
        // A few spikes, so clipping transforms fire.
        for t in grads.indices where grads[t].count > 100 { grads[t][k * 31 % grads[t].count] *= 50 }
        try OptimizerConformance.withBuffers(&params, grads) { try opt.step($0) }
    }
    return params
}

@Suite struct FusedOptimizerTests {
    static let chains: [(String, @Sendable () -> (GradientChain<Float>, GradientChain<Double>))] = [
        ("adam", { (.adam(weightDecay: 1e-2), .adam(weightDecay: 1e-2)) }),
        ("adamW", { (.adamW(), .adamW()) }),
        ("diffGrad", { (.diffGrad(), .diffGrad()) }),
        ("adamP", { (.adamP(weightDecay: 1e-2, nesterov: true), .adamP(weightDecay: 1e-2, nesterov: true)) }),
        ("stableSPAM", { (.stableSPAM(weightDecay: 1e-2, resetInterval: 3), .stableSPAM(weightDecay: 1e-2, resetInterval: 3)) }),
        ("spam", { (.spam(warmupSteps: 2, threshold: 2, interval: 4, accumulationSteps: 1), .spam(warmupSteps: 2, threshold: 2, interval: 4, accumulationSteps: 1)) }),
        ("perpAdamW", { (.perpAdamW(), .perpAdamW()) }),
        ("sgdP", { (.sgdP(learningRate: .constant(1e-2), momentum: 0.9), .sgdP(learningRate: .constant(1e-2), momentum: 0.9)) }),
    ]

    /// The fused update, the recomputed statistics and the skipped identity projections give exactly what the
    /// plain path gives, in both precisions, over several blocks and a matrix (AdamP's projection fires there).
    @Test(arguments: FusedOptimizerTests.chains.map(\.0))
    func fusedMatchesPlainPath(_ name: String) throws {
        let make = Self.chains.first { $0.0 == name }!.1
        let shapes = [[10_000], [3, 3000], [7]]
        let f = try trajectory(make().0, shapes: shapes, steps: 6)
        let fu = try trajectory(unfused(make().0), shapes: shapes, steps: 6)
        #expect(f == fu, "\(name) float32")
        let d = try trajectory(make().1, shapes: shapes, steps: 6)
        let du = try trajectory(unfused(make().1), shapes: shapes, steps: 6)
        #expect(d == du, "\(name) float64")
        #expect(d.allSatisfy { $0.allSatisfy(\.isFinite) })
    }

    @Test func frictionIsCloseToFloat64() {
        // diffGrad's friction σ(|x|) in float32 against the float64 formula, over magnitudes from 1e−30 to 200
        // (every regime of the range reduction, and the clamp).
        var worst: Double = 0
        var x: Float = 1e-30
        while x < 200 {
            for s in [x, -x] {
                let r = 1 / Double.inverseLogisticOfMagnitude(Double(s))
                worst = Swift.max(worst, (Double(1 / Float.inverseLogisticOfMagnitude(s)) - r).magnitude / r)
            }
            x = x < 1e-3 ? x * 1.7 : x * 1.000_37
        }
        #expect(worst < 4 * Double(Float.ulpOfOne), "worst relative error \(worst)")
        #expect(Float.inverseLogisticOfMagnitude(0) == 2)
        #expect(Float.inverseLogisticOfMagnitude(-1e30) == 1 && Float.inverseLogisticOfMagnitude(.infinity) == 1)
        #expect(Float.inverseLogisticOfMagnitude(.nan).isNaN)
    }
}
