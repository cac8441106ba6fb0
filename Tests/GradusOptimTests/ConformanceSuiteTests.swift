import GradusRuntime
import Testing
@testable import GradusOptim

/// optax's common test and kozistr's recipes over the whole catalog (style.md "Tests next to features").
struct CatalogEntry: CustomTestStringConvertible, Sendable {
    let name: String
    let make: @Sendable () -> GradientChain<Double>
    /// Steps allowed to converge.
    let budget: Int
    /// Whether the method can reach an arbitrary minimum (⊥Grad keeps ‖θ‖ to first order, so it cannot).
    let changesNorm: Bool
    var testDescription: String { name }

    static let all: [CatalogEntry] = [
        .init(name: "SGD", make: { .sgd(learningRate: .constant(1e-3), momentum: 0.9) }, budget: 4000, changesNorm: true),
        .init(name: "SGD-Nesterov", make: { .sgd(learningRate: .constant(1e-3), momentum: 0.9, nesterov: true) }, budget: 4000, changesNorm: true),
        .init(name: "Adam", make: { .adam(learningRate: .constant(2e-2)) }, budget: 4000, changesNorm: true),
        .init(name: "AdamW", make: { .adamW(learningRate: .constant(2e-2), weightDecay: 0) }, budget: 4000, changesNorm: true),
        .init(name: "AdaGrad", make: { .adaGrad(learningRate: .constant(0.5)) }, budget: 4000, changesNorm: true),
        .init(name: "AdaGradNorm", make: { .adaGradNorm(learningRate: .constant(1)) }, budget: 8000, changesNorm: true),
        .init(name: "AdaGradNormRowwise", make: { .adaGradNormRowwise(learningRate: .constant(0.5)) }, budget: 4000, changesNorm: true),
        .init(name: "DiffGrad", make: { .diffGrad(learningRate: .constant(2e-2)) }, budget: 4000, changesNorm: true),
        .init(name: "AdamP", make: { .adamP(learningRate: .constant(2e-2)) }, budget: 4000, changesNorm: true),
        .init(name: "SGDP", make: { .sgdP(learningRate: .constant(1e-3), momentum: 0.9) }, budget: 4000, changesNorm: true),
        .init(name: "SPAM", make: { .spam(learningRate: .constant(2e-2), warmupSteps: 10, interval: 100, accumulationSteps: 5) }, budget: 4000, changesNorm: true),
        .init(name: "StableSPAM", make: { .stableSPAM(learningRate: .constant(1e-2), resetInterval: 1000) }, budget: 8000, changesNorm: true),
        .init(name: "OrthoGrad-SGD", make: { .orthoGrad(.sgd(learningRate: .constant(1e-3), momentum: 0.9)) }, budget: 4000, changesNorm: false),
        .init(name: "PerpAdamW", make: { .perpAdamW(learningRate: .constant(1e-2), weightDecay: 0) }, budget: 4000, changesNorm: false),
    ]
}

/// Test functions on R²: value and gradient.
enum TestFunction: String, CaseIterable, Sendable {
    case quadratic, rosenbrock, beale
    var start: [Double] {
        switch self { case .quadratic: [1.5, -2.0]; case .rosenbrock: [-1.5, 2.0]; case .beale: [1.5, 1.5] }
    }
    var minimum: [Double] { switch self { case .quadratic: [0, 0]; case .rosenbrock: [1, 1]; case .beale: [3, 0.5] } }
    func value(_ p: [Double]) -> Double {
        let x = p[0], y = p[1]
        switch self {
        case .quadratic: return x * x + 10 * y * y
        case .rosenbrock: return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x)
        case .beale:
            let a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y
            return a * a + b * b + c * c
        }
    }
    func gradient(_ p: [Double]) -> [Double] {
        let x = p[0], y = p[1]
        switch self {
        case .quadratic: return [2 * x, 20 * y]
        case .rosenbrock: return [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]
        case .beale:
            let a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y
            return [2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y * y * y - 1),
                    2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y * y]
        }
    }
}

func optimize(_ chain: GradientChain<Double>, _ f: TestFunction, steps: Int) throws -> [Double] {
    let opt = try FusedOptimizer<Double>(chain: chain, shapes: [[2]])
    var p = f.start
    for _ in 0..<steps {
        let g = f.gradient(p)
        var params = [p]
        try OptimizerConformance.withBuffers(&params, [g]) { try opt.step($0) }
        p = params[0]
    }
    return p
}

@Suite struct ConformanceSuiteTests {
    @Test(arguments: CatalogEntry.all, TestFunction.allCases)
    func converges(_ entry: CatalogEntry, _ f: TestFunction) throws {
        let p = try optimize(entry.make(), f, steps: entry.budget)
        let start = f.value(f.start), end = f.value(p)
        #expect(end.isFinite)
        if entry.changesNorm {
            // Rosenbrock's curved valley is slow for the normalised methods: a looser bar there.
            let bar = f == .rosenbrock ? 1e-2 : 1e-3
            #expect(end < bar * Swift.max(1, start), "\(entry.name) on \(f): \(start) -> \(end) at \(p)")
        } else {
            #expect(end < start, "\(entry.name) on \(f): \(start) -> \(end)")
        }
    }

    @Test(arguments: CatalogEntry.all)
    func zeroGradientsStayFinite(_ entry: CatalogEntry) throws {
        let opt = try FusedOptimizer<Double>(chain: entry.make(), shapes: [[4, 3], [3]])
        var params = [[Double]](repeating: [Double](repeating: 0.5, count: 12), count: 1) + [[0.1, -0.2, 0.3]]
        for _ in 0..<5 {
            try OptimizerConformance.withBuffers(&params, [[Double](repeating: 0, count: 12), [0, 0, 0]]) { try opt.step($0) }
        }
        #expect(params.allSatisfy { $0.allSatisfy(\.isFinite) }, "\(entry.name): \(params)")
        for e in opt.stateEntries() { #expect(e.values.allSatisfy { $0.isFinite }, "\(entry.name): \(e.name)") }
    }

    @Test(arguments: CatalogEntry.all)
    func saveLoadRoundTripGivesIdenticalTrajectory(_ entry: CatalogEntry) throws {
        let shapes = [[4, 3], [3]]
        func grads(_ s: Int) -> [[Double]] {
            [(0..<12).map { Double(($0 * 7 + s * 13) % 11) / 10 - 0.5 }, (0..<3).map { Double(($0 + s) % 5) / 4 - 0.4 }]
        }
        let a = try FusedOptimizer<Double>(chain: entry.make(), shapes: shapes)
        var pa = [(0..<12).map { Double($0) / 12 - 0.3 }, [0.1, -0.2, 0.3]]
        for s in 0..<7 { try OptimizerConformance.withBuffers(&pa, grads(s)) { try a.step($0) } }
        let saved = a.stateEntries()
        let b = try FusedOptimizer<Double>(chain: entry.make(), shapes: shapes)
        try b.loadState(saved)
        #expect(b.stateEntries() == saved)
        var pb = pa
        for s in 7..<14 {
            try OptimizerConformance.withBuffers(&pa, grads(s)) { try a.step($0) }
            try OptimizerConformance.withBuffers(&pb, grads(s)) { try b.step($0) }
        }
        #expect(pa == pb, "\(entry.name)")
        // A reset optimizer starts over.
        a.reset()
        #expect(a.globalStep == 0)
    }

    @Test(arguments: CatalogEntry.all)
    func stateShapesAreStable(_ entry: CatalogEntry) throws {
        let opt = try FusedOptimizer<Double>(chain: entry.make(), shapes: [[4, 3], [3]])
        let before = opt.stateEntries().map { ($0.name, $0.shape) }
        var params = [[Double](repeating: 0.2, count: 12), [0.1, 0.2, 0.3]]
        try OptimizerConformance.withBuffers(&params, [[Double](repeating: 0.1, count: 12), [1, 2, 3]]) { try opt.step($0) }
        let after = opt.stateEntries().map { ($0.name, $0.shape) }
        #expect(before.map(\.0) == after.map(\.0))
        #expect(before.map(\.1) == after.map(\.1))
    }

    @Test func loadRejectsMissingOrMisshapenState() throws {
        let opt = try FusedOptimizer<Double>(chain: .adam(), shapes: [[2]])
        #expect(throws: GradusError.self) { try opt.loadState([]) }
        var e = opt.stateEntries()
        e[e.firstIndex { $0.name.hasSuffix("exp_avg") }!].values = [1]
        #expect(throws: GradusError.self) { try opt.loadState(e) }
    }

    @Test func stepRejectsWrongBuffers() throws {
        let opt = try FusedOptimizer<Double>(chain: .adam(), shapes: [[2]])
        var p = [[1.0, 2.0, 3.0]]
        #expect(throws: GradusError.self) { try OptimizerConformance.withBuffers(&p, [[0, 0, 0]]) { try opt.step($0) } }
        #expect(throws: GradusError.self) { try opt.step([]) }
    }
}
