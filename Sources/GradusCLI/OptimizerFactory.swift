import Gradus

/// Adapts the CLI's flags to `OptimizerCatalog`.
enum OptimizerFactory {
    static var names: [String] { OptimizerCatalog.names }

    /// `extra` is `key=value,key=value` (e.g. `beta2=0.99,eps=1e-6`). `momentum` sets `momentum` for the SGD
    /// family and `beta1` for the Adam family.
    static func make(_ name: String, parameters: [(String, Tensor)], lr: Double, momentum: Double? = nil,
                     weightDecay: Double = 0, extra: String = "", schedule: String = "constant", warmup: Int = 0,
                     totalSteps: Int = 1) throws(GradusError) -> Optimizer {
        var hp: [String: Double] = [:]
        let allowed = OptimizerCatalog.hyperparameters[name] ?? []
        if let momentum { hp[allowed.contains("momentum") ? "momentum" : "beta1"] = momentum }
        if weightDecay != 0 || name == "adamw" || name == "perp-adamw" || name == "adamw8bit" {
            if weightDecay != 0 || hp["weight_decay"] == nil { hp["weight_decay"] = weightDecay }
        }
        for item in extra.split(separator: ",") where !item.isEmpty {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Double(kv[1]) else { throw .invalidArgument("--hparams expects key=value pairs, got '\(item)'") }
            hp[String(kv[0]).replacingAll("-", "_")] = v
        }
        let spec = try ScheduleSpec.named(schedule, warmup: warmup, total: Swift.max(totalSteps, 1))
        return try OptimizerCatalog.make(name, parameters: parameters.map(\.1), lr: lr, schedule: spec, hyperparameters: hp)
    }
}

extension BenchContext {
    func optimizerStep() throws(GradusError) { try optimizerBench() }
    func quant() throws(GradusError) { try quantBench() }
}
