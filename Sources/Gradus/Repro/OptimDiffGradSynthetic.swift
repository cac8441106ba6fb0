import Glibc
import GradusRuntime
import GradusTensor
import GradusOptim

/// diffGrad vs Adam on the diffGrad paper's three synthetic one-dimensional non-convex functions
/// (Dubey et al., "diffGrad: An Optimization Method for Convolutional Neural Networks", TNNLS 2020, §IV).
///
/// The functions and the protocol are the authors' analytical script (the F3 gradient is the official
/// `diffGrad_analytical.ipynb`; F1–F3 as in the same group's AngularGrad `analytical/main.py`): start at
/// x₀ = −1, 300 iterates (299 updates) with lr 0.1, β = (0.95, 0.999), ε = 1e-8.
///
/// - F1(x) = (x + 0.3)² for x ≤ 0, (x − 0.2)² + 0.05 otherwise: global minimum at −0.3, local at 0.2.
/// - F2(x) = −40x − 35.15 for x ≤ −0.9, x³ + x·sin(8x) + 0.85 otherwise: several local minima.
/// - F3(x) = x² outside [−0.5, 0.5], a V-shaped well at 0 (slopes ∓7/8) between two bumps at ±0.4.
///
/// Both optimizers are Gradus's (`OptimizerCatalog` "adam" and "diffgrad"). Besides the paper's single start,
/// every coordinate of one parameter tensor is an independent start on a grid over [−1, 1] (the optimizers
/// are elementwise, so this is exactly many one-dimensional runs): the share of starts that end at the global
/// minimum shows whether the paper's single trajectory is typical.
public enum OptimDiffGradSynthetic: Reproduction {
    public static let name = "diffgrad-synthetic"
    public static let summary = "diffGrad vs Adam on the diffGrad paper's three synthetic non-convex functions"

    struct Function: Sendable {
        let name: String
        let formula: String
        let f: @Sendable (Double) -> Double
        let g: @Sendable (Double) -> Double
    }

    static let functions: [Function] = [
        Function(name: "F1", formula: "(x+0.3)^2 if x<=0 else (x-0.2)^2+0.05",
                 f: { x in x <= 0 ? (x + 0.3) * (x + 0.3) : (x - 0.2) * (x - 0.2) + 0.05 },
                 g: { x in x <= 0 ? 2 * x + 0.6 : 2 * x - 0.4 }),
        Function(name: "F2", formula: "-40x-35.15 if x<=-0.9 else x^3+x*sin(8x)+0.85",
                 f: { x in x <= -0.9 ? -40 * x - 35.15 : x * x * x + x * Glibc.sin(8 * x) + 0.85 },
                 g: { x in x <= -0.9 ? -40 : 3 * x * x + 8 * x * Glibc.cos(8 * x) + Glibc.sin(8 * x) }),
        Function(name: "F3", formula: "x^2 for |x|>0.5; 0.75-|x| for 0.4<|x|<=0.5; 7|x|/8 for |x|<=0.4",
                 f: { x in
                     if x <= -0.5 { return x * x }
                     if x <= -0.4 { return 0.75 + x }
                     if x <= 0 { return -7 * x / 8 }
                     if x <= 0.4 { return 7 * x / 8 }
                     if x <= 0.5 { return 0.75 - x }
                     return x * x
                 },
                 g: { x in
                     if x <= -0.5 { return 2 * x }
                     if x <= -0.4 { return 1 }
                     if x <= 0 { return -7.0 / 8 }
                     if x <= 0.4 { return 7.0 / 8 }
                     if x <= 0.5 { return -1 }
                     return 2 * x
                 }),
    ]

    /// The paper's settings.
    static let iterates = 300, learningRate = 0.1, betas = (0.95, 0.999), epsilon = 1e-8
    /// A final value within this of the global minimum value counts as "at the global minimum".
    static let tolerance = 0.02

    /// Runs `optimizer` from every start at once; returns the trajectory of start 0 and the final points.
    static func run(_ optimizer: String, _ fn: Function, starts: [Double]) throws(GradusError) -> (trajectory: [Double], final: [Double]) {
        let x = Tensor(shape: [starts.count], scalars: starts, dtype: .float64)
        let opt = try OptimizerCatalog.make(optimizer, parameters: [x], lr: learningRate,
                                            hyperparameters: ["beta1": betas.0, "beta2": betas.1, "eps": epsilon])
        var trajectory = [starts[0]]
        for _ in 1..<iterates {
            let current = OptimReproSupport.doubles(x)
            x.grad = Tensor(shape: [starts.count], scalars: current.map(fn.g), dtype: .float64)
            try opt.step()
            trajectory.append(OptimReproSupport.doubles(x)[0])
        }
        return (trajectory, OptimReproSupport.doubles(x))
    }

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        let start = MonotonicTime.now()
        typealias S = OptimReproSupport
        var report = ReproReport(name: name)
        let gridCount = options.scaled(401, minimum: 21)
        // Start 0 is the paper's x₀ = −1; the rest is an even grid over [−1, 1].
        let starts = [-1.0] + (0..<gridCount).map { -1 + 2 * Double($0) / Double(gridCount - 1) }

        var single = ReproTable(title: "Paper protocol: x0 = -1, \(iterates) iterates, lr \(learningRate), betas (0.95, 0.999)",
                                header: ["function", "global min x*", "F(x*)", "Adam x_T", "Adam F(x_T)", "diffGrad x_T", "diffGrad F(x_T)"])
        var sweep = ReproTable(title: "Starts on a grid of \(gridCount) points in [-1, 1]: share ending within \(tolerance) of min F",
                               header: ["function", "Adam", "diffGrad", "Adam mean F(x_T)", "diffGrad mean F(x_T)"])
        var traj = ReproTable(title: "Trajectory from x0 = -1 (x after t updates)", header: ["t"] + functions.flatMap { ["\($0.name) Adam", "\($0.name) diffGrad"] })
        var perFunction: [String: JSON] = [:]
        var trajectories: [[Double]] = []
        var sweepOK = true
        for fn in functions {
            // Global minimum on [−1, 1] by a fine grid (every function's minimiser lies inside).
            var best = (x: -1.0, f: Double.infinity)
            for i in 0...200_000 {
                let x = -1 + 2 * Double(i) / 200_000
                let v = fn.f(x)
                if v < best.f { best = (x, v) }
            }
            log("\(fn.name): global minimum F(\(S.format(best.x, "%.4f"))) = \(S.format(best.f, "%.4f"))")
            let adam = try run("adam", fn, starts: starts)
            let diff = try run("diffgrad", fn, starts: starts)
            trajectories += [adam.trajectory, diff.trajectory]
            let adamX = adam.final[0], diffX = diff.final[0]
            single.rows.append([fn.name, S.format(best.x, "%.4f"), S.format(best.f, "%.4f"),
                                S.format(adamX, "%.4f"), S.format(fn.f(adamX), "%.4f"),
                                S.format(diffX, "%.4f"), S.format(fn.f(diffX), "%.4f")])
            let grid = 1..<starts.count
            let adamHit = Double(grid.filter { fn.f(adam.final[$0]) - best.f < tolerance }.count) / Double(grid.count)
            let diffHit = Double(grid.filter { fn.f(diff.final[$0]) - best.f < tolerance }.count) / Double(grid.count)
            let adamMean = S.mean(grid.map { fn.f(adam.final[$0]) }), diffMean = S.mean(grid.map { fn.f(diff.final[$0]) })
            sweep.rows.append([fn.name, S.percent(adamHit), S.percent(diffHit), S.format(adamMean, "%.4f"), S.format(diffMean, "%.4f")])
            sweepOK = sweepOK && diffHit >= adamHit
            let diffAtGlobal = fn.f(diffX) - best.f < tolerance, adamAtGlobal = fn.f(adamX) - best.f < tolerance
            report.claims.append((claim: "\(fn.name): from x0 = -1 diffGrad ends at the global minimum (x* = \(S.format(best.x, "%.3f"))) while Adam overshoots it",
                                  holds: diffAtGlobal && !adamAtGlobal))
            perFunction[fn.name] = .object([
                "formula": .string(fn.formula),
                "global_min_x": S.json(best.x), "global_min_f": S.json(best.f),
                "adam_final_x": S.json(adamX), "adam_final_f": S.json(fn.f(adamX)),
                "diffgrad_final_x": S.json(diffX), "diffgrad_final_f": S.json(fn.f(diffX)),
                "adam_global_share": S.json(adamHit), "diffgrad_global_share": S.json(diffHit),
                "adam_mean_final_f": S.json(adamMean), "diffgrad_mean_final_f": S.json(diffMean),
                "adam_trajectory": S.json(adam.trajectory), "diffgrad_trajectory": S.json(diff.trajectory),
            ])
        }
        for t in [0, 10, 20, 30, 50, 75, 100, 150, 200, 250, iterates - 1] {
            traj.rows.append(["\(t)"] + trajectories.map { S.format($0[t], "%.4f") })
        }
        report.claims.append((claim: "Over many starting points diffGrad reaches the global minimum at least as often as Adam (all three functions)",
                              holds: sweepOK))
        report.tables = [single, sweep, traj]
        report.metrics = [
            "settings": .object(["iterates": .number(Double(iterates)), "lr": .number(learningRate),
                                 "beta1": .number(betas.0), "beta2": .number(betas.1), "eps": .number(epsilon),
                                 "x0": .number(-1), "grid_starts": .number(Double(gridCount)), "tolerance": .number(tolerance)]),
            "functions": .object(perFunction),
            "seconds": S.json(S.elapsed(since: start)),
        ]
        return report
    }
}
