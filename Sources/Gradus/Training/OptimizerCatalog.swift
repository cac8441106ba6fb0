import GradusRuntime
import GradusTensor
import GradusOptim

extension Optimizer: ParameterOptimizer {}

/// Builds any optimizer of the catalog by name, with hyperparameters by name — the entry point the CLI,
/// the C ABI and Python share, so every interface accepts the same names and the same bounds.
public enum OptimizerCatalog {
    /// Catalog names (`gradus train --optimizer`).
    public static let names = ["sgd", "adam", "adamw", "adagrad", "adagradnorm", "adagradnorm-rowwise", "diffgrad", "adamp",
                               "sgdp", "spam", "stable-spam", "orthograd-sgd", "orthograd-adam", "perp-adamw",
                               "adam8bit", "adamw8bit", "stable-spam-8bit"]

    /// Hyperparameter names each optimizer accepts besides `lr` (with `momentum` meaning β1 for the Adam family).
    public static let hyperparameters: [String: [String]] = [
        "sgd": ["momentum", "dampening", "weight_decay", "nesterov"],
        "adam": ["beta1", "beta2", "eps", "weight_decay"],
        "adamw": ["beta1", "beta2", "eps", "weight_decay"],
        "adagrad": ["lr_decay", "weight_decay", "initial_accumulator", "eps"],
        "adagradnorm": ["b0"],
        "adagradnorm-rowwise": ["lr_decay", "initial_accumulator"],
        "diffgrad": ["beta1", "beta2", "eps", "weight_decay"],
        "adamp": ["beta1", "beta2", "eps", "weight_decay", "delta", "wd_ratio", "nesterov"],
        "sgdp": ["momentum", "dampening", "weight_decay", "nesterov", "eps", "delta", "wd_ratio"],
        "spam": ["beta1", "beta2", "eps", "weight_decay", "warmup_steps", "threshold", "interval"],
        "stable-spam": ["beta1", "beta2", "eps", "weight_decay", "gamma1", "gamma2", "gamma3", "total_steps", "reset_interval"],
        "orthograd-sgd": ["momentum", "weight_decay", "nesterov"],
        "orthograd-adam": ["beta1", "beta2", "eps", "weight_decay"],
        "perp-adamw": ["beta1", "beta2", "eps", "weight_decay"],
        "adam8bit": ["beta1", "beta2", "eps", "weight_decay", "min_8bit_size"],
        "adamw8bit": ["beta1", "beta2", "eps", "weight_decay", "min_8bit_size"],
        "stable-spam-8bit": ["beta1", "beta2", "eps", "weight_decay", "gamma1", "gamma2", "gamma3", "total_steps",
                             "reset_interval", "min_8bit_size"],
    ]

    /// Makes an optimizer over `parameters` (all float32 or all float64).
    ///
    /// - Parameters:
    ///   - name: one of `names`.
    ///   - lr: peak learning rate; `schedule` shapes it over `totalSteps`.
    ///   - hyperparameters: by name (see `hyperparameters`); unknown names are errors.
    public static func make(_ name: String, parameters: [Tensor], lr: Double, schedule: ScheduleSpec = .constant,
                            hyperparameters hp: [String: Double] = [:]) throws(GradusError) -> Optimizer {
        guard let allowed = hyperparameters[name] else {
            throw .invalidArgument("unknown optimizer '\(name)'; known: \(names.joined(separator: ", "))")
        }
        for (k, v) in hp {
            guard allowed.contains(k) else { throw .invalidArgument("optimizer \(name) has no hyperparameter '\(k)' (has: \(allowed.joined(separator: ", ")))") }
            guard v.isFinite else { throw .invalidArgument("hyperparameter \(k) must be finite") }
        }
        guard lr.isFinite, lr >= 0 else { throw .invalidArgument("learning rate must be finite and non-negative, got \(lr)") }
        for b in ["beta1", "beta2", "momentum", "dampening", "gamma1", "gamma2", "gamma3"] {
            if let v = hp[b], !(0..<1).contains(v) { throw .invalidArgument("\(b) must be in [0, 1), got \(v)") }
        }
        for b in ["eps", "weight_decay", "delta", "wd_ratio", "lr_decay", "initial_accumulator", "b0", "threshold"] {
            if let v = hp[b], v < 0 { throw .invalidArgument("\(b) must be non-negative, got \(v)") }
        }
        let sched = try schedule.make(peak: lr)
        guard let first = parameters.first else { throw .invalidArgument("optimizer needs at least one parameter") }
        if first.dtype == .float32 {
            return try Optimizer(parameters, chain: chain(name, sched, hp, Float.self))
        }
        return try Optimizer(parameters, chain: chain(name, sched, hp, Double.self))
    }

    static func chain<S: OptimizerScalar>(_ name: String, _ lr: Schedule, _ hp: [String: Double], _: S.Type) throws(GradusError) -> GradientChain<S> {
        let betas = (hp["beta1"] ?? 0.9, hp["beta2"] ?? 0.999)
        let wd = hp["weight_decay"] ?? 0
        let nesterov = (hp["nesterov"] ?? 0) != 0
        // Integer hyperparameters: whole numbers in minimum...2^31 (Int(_:) would trap on huge values).
        func int(_ k: String, _ d: Int, minimum: Double = 1) throws(GradusError) -> Int {
            guard let v = hp[k] else { return d }
            guard v >= minimum, v <= 2_147_483_648, v == v.rounded() else {
                throw .invalidArgument("\(k) must be a whole number in \(Int(minimum))...2^31, got \(v)")
            }
            return Int(v)
        }
        let minSize = try int("min_8bit_size", 4096, minimum: 0)
        var totalSteps: Int? = nil
        if hp["total_steps"] != nil { totalSteps = try int("total_steps", 1) }
        switch name {
        case "sgd": return .sgd(learningRate: lr, momentum: hp["momentum"] ?? 0, dampening: hp["dampening"] ?? 0, weightDecay: wd, nesterov: nesterov)
        case "adam": return .adam(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-8, weightDecay: wd)
        case "adamw": return .adamW(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-8, weightDecay: hp["weight_decay"] ?? 1e-2)
        case "adagrad": return .adaGrad(learningRate: lr, learningRateDecay: hp["lr_decay"] ?? 0, weightDecay: wd,
                                        initialAccumulator: hp["initial_accumulator"] ?? 0, epsilon: hp["eps"] ?? 1e-10)
        case "adagradnorm": return .adaGradNorm(learningRate: lr, b0: hp["b0"] ?? 0.1)
        case "adagradnorm-rowwise": return .adaGradNormRowwise(learningRate: lr, learningRateDecay: hp["lr_decay"] ?? 0,
                                                                initialAccumulator: hp["initial_accumulator"] ?? 1e-2)
        case "diffgrad": return .diffGrad(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-8, weightDecay: wd)
        case "adamp": return .adamP(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-8, weightDecay: wd,
                                    delta: hp["delta"] ?? 0.1, weightDecayRatio: hp["wd_ratio"] ?? 0.1, nesterov: nesterov)
        case "sgdp": return .sgdP(learningRate: lr, momentum: hp["momentum"] ?? 0, dampening: hp["dampening"] ?? 0, weightDecay: wd,
                                  nesterov: nesterov, epsilon: hp["eps"] ?? 1e-8, delta: hp["delta"] ?? 0.1, weightDecayRatio: hp["wd_ratio"] ?? 0.1)
        case "spam": return .spam(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-6, weightDecay: wd,
                                  warmupSteps: try int("warmup_steps", 150), threshold: hp["threshold"] ?? 5000, interval: try int("interval", 500))
        case "stable-spam": return .stableSPAM(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-8, weightDecay: wd,
                                               gamma1: hp["gamma1"] ?? 0.7, gamma2: hp["gamma2"] ?? 0.9, gamma3: hp["gamma3"] ?? 0.999,
                                               totalSteps: totalSteps, resetInterval: try int("reset_interval", 1000))
        case "orthograd-sgd": return .orthoGrad(.sgd(learningRate: lr, momentum: hp["momentum"] ?? 0, weightDecay: wd, nesterov: nesterov))
        case "orthograd-adam": return .orthoGrad(.adam(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-8, weightDecay: wd))
        case "perp-adamw": return .perpAdamW(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-8, weightDecay: hp["weight_decay"] ?? 1e-2)
        case "adam8bit": return try .adam8bit(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-8, weightDecay: wd,
                                              minQuantizedSize: minSize)
        case "adamw8bit": return try .adamW8bit(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-8,
                                                weightDecay: hp["weight_decay"] ?? 1e-2, minQuantizedSize: minSize)
        case "stable-spam-8bit": return try .stableSPAM8bit(learningRate: lr, betas: betas, epsilon: hp["eps"] ?? 1e-8, weightDecay: wd,
                                                            gamma1: hp["gamma1"] ?? 0.7, gamma2: hp["gamma2"] ?? 0.9,
                                                            gamma3: hp["gamma3"] ?? 0.999, totalSteps: totalSteps,
                                                            resetInterval: try int("reset_interval", 1000), minQuantizedSize: minSize)
        default: throw .invalidArgument("unknown optimizer '\(name)'")
        }
    }
}

/// A learning-rate schedule by kind, before the peak rate is known.
public enum ScheduleSpec: Sendable, Equatable {
    case constant
    case step(stepSize: Int, gamma: Double)
    case linear(total: Int)
    case warmupLinear(warmup: Int, total: Int)
    case cosine(total: Int, minimum: Double)
    case warmupCosine(warmup: Int, total: Int)
    /// `peak·multipliers[min(t, count − 1)]`, e.g. a refined schedule (`Schedule.refined`).
    case piecewise(multipliers: [Double])

    /// Parses `constant | step | linear | warmup-linear | cosine | warmup-cosine`.
    public static func named(_ name: String, warmup: Int = 0, total: Int = 1, stepSize: Int = 1000, gamma: Double = 0.1) throws(GradusError) -> ScheduleSpec {
        switch name {
        case "constant": return .constant
        case "step": return .step(stepSize: stepSize, gamma: gamma)
        case "linear": return .linear(total: total)
        case "warmup-linear": return .warmupLinear(warmup: warmup, total: total)
        case "cosine": return .cosine(total: total, minimum: 0)
        case "warmup-cosine": return .warmupCosine(warmup: warmup, total: total)
        default: throw .invalidArgument("unknown schedule '\(name)' (constant, step, linear, warmup-linear, cosine, warmup-cosine)")
        }
    }

    func make(peak: Double) throws(GradusError) -> Schedule {
        let s: Schedule
        switch self {
        case .constant: s = .constant(peak)
        case .step(let n, let g): s = .step(peak: peak, stepSize: n, gamma: g)
        case .linear(let t): s = .linear(peak: peak, total: t)
        case .warmupLinear(let w, let t): s = .warmupLinear(peak: peak, warmup: w, total: t)
        case .cosine(let t, let m): s = .cosine(peak: peak, total: t, minimum: m)
        case .warmupCosine(let w, let t): s = .warmupCosine(peak: peak, warmup: w, total: t)
        case .piecewise(let m): s = .piecewise(peak: peak, multipliers: m)
        }
        return try s.validated()
    }
}
