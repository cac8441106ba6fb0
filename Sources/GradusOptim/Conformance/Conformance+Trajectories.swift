import GradusRuntime

extension OptimizerConformance {
    /// Hyperparameters of a golden case with the section defaults.
    /// Every accessor records the key it reads, so that a failing case can name the hyperparameters the runner
    /// never read (a key of a hidden or newer golden file that this runner does not implement would otherwise be
    /// silently replaced by the default, and the failure would not say why).
    struct Hyperparameters {
        final class Reads { var keys: Set<String> = [] }
        let json: JSON
        let reads: Reads

        init(json: JSON, reads: Reads = Reads()) {
            self.json = json
            self.reads = reads
        }

        /// Records keys used without an accessor (`eps_values`, whose values are the keys of `runs`).
        func markRead(_ keys: String...) { reads.keys.formUnion(keys) }

        /// Keys of the case's `hyperparameters` object that no accessor read, sorted.
        var unread: [String] { (json.object?.keys).map { $0.filter { !reads.keys.contains($0) }.sorted() } ?? [] }

        func double(_ key: String, _ fallback: Double) throws(GradusError) -> Double {
            reads.keys.insert(key)
            guard let v = json[key], !v.isNull else { return fallback }
            if let b = v.bool { return b ? 1 : 0 }
            return try v.number(key)
        }
        func int(_ key: String, _ fallback: Int) throws(GradusError) -> Int {
            reads.keys.insert(key)
            guard let v = json[key], !v.isNull else { return fallback }
            guard let i = v.int else { throw .format("hyperparameter '\(key)' must be an integer") }
            return i
        }
        func optionalInt(_ key: String) throws(GradusError) -> Int? {
            reads.keys.insert(key)
            guard let v = json[key], !v.isNull else { return nil }
            guard let i = v.int else { throw .format("hyperparameter '\(key)' must be an integer or null") }
            return i
        }
        func bool(_ key: String, _ fallback: Bool) throws(GradusError) -> Bool {
            reads.keys.insert(key)
            guard let v = json[key], !v.isNull else { return fallback }
            if let b = v.bool { return b }
            return try v.number(key) != 0
        }
        /// The value of `key` when given and not null.
        func value(_ key: String) -> JSON? {
            reads.keys.insert(key)
            guard let v = json[key], !v.isNull else { return nil }
            return v
        }
        func doubles(_ key: String) throws(GradusError) -> [Double] {
            reads.keys.insert(key)
            return try json.field(key).doubles(key)
        }
        func betas(_ fallback: (Double, Double)) throws(GradusError) -> (Double, Double) {
            reads.keys.insert("betas")
            guard let v = json["betas"], !v.isNull else { return fallback }
            let b = try v.doubles("betas")
            guard b.count == 2 else { throw .format("'betas' must have two values") }
            return (b[0], b[1])
        }
    }

    /// The optimizer a trajectory case names, with the official defaults of its section.
    static func makeChain<S: OptimizerScalar>(technique: String, _ h: Hyperparameters, _: S.Type) throws -> GradientChain<S> {
        switch technique {
        case "diffgrad":
            return .diffGrad(learningRate: .constant(try h.double("lr", 1e-3)), betas: try h.betas((0.9, 0.999)),
                             epsilon: try h.double("eps", 1e-8), weightDecay: try h.double("weight_decay", 0))
        case "adamp":
            return .adamP(learningRate: .constant(try h.double("lr", 1e-3)), betas: try h.betas((0.9, 0.999)),
                          epsilon: try h.double("eps", 1e-8), weightDecay: try h.double("weight_decay", 0),
                          delta: try h.double("delta", 0.1), weightDecayRatio: try h.double("wd_ratio", 0.1),
                          nesterov: try h.bool("nesterov", false))
        case "sgdp":
            return .sgdP(learningRate: .constant(try h.double("lr", 1e-3)), momentum: try h.double("momentum", 0),
                         dampening: try h.double("dampening", 0), weightDecay: try h.double("weight_decay", 0),
                         nesterov: try h.bool("nesterov", false), epsilon: try h.double("eps", 1e-8),
                         delta: try h.double("delta", 0.1), weightDecayRatio: try h.double("wd_ratio", 0.1))
        case "spam":
            let interval = try h.int("DeltaT", try h.int("delta_t", 500))
            guard interval > 0 else { throw GradusError.invalidArgument("SPAM's DeltaT must be positive") }
            return .spam(learningRate: .constant(try h.double("lr", 1e-3)), betas: try h.betas((0.9, 0.999)),
                         epsilon: try h.double("eps", 1e-6), weightDecay: try h.double("weight_decay", 0),
                         warmupSteps: try h.int("warmup_steps", 150), threshold: try h.double("threshold", 5000),
                         interval: interval, accumulationSteps: try h.int("grad_accu_steps", 20),
                         correctsBias: try h.bool("correct_bias", true))
        case "stablespam":
            return .stableSPAM(learningRate: .constant(try h.double("lr", 1e-3)), betas: try h.betas((0.9, 0.999)),
                               epsilon: try h.double("eps", 1e-8), weightDecay: try h.double("weight_decay", 0),
                               gamma1: try h.double("gamma1", 0.7), gamma2: try h.double("gamma2", 0.9),
                               gamma3: try h.double("gamma3", 0.999), totalSteps: try h.optionalInt("total_T"),
                               minimumFactor: try h.double("eta_min", 0.5), resetInterval: try h.int("update_proj_gap", 1000))
        case "adagrad":
            return .adaGrad(learningRate: .constant(try h.double("lr", 1e-2)), learningRateDecay: try h.double("lr_decay", 0),
                            weightDecay: try h.double("weight_decay", 0),
                            initialAccumulator: try h.double("initial_accumulator_value", 0), epsilon: try h.double("eps", 1e-10))
        case "adagradnorm":
            return .adaGradNorm(learningRate: .constant(try h.double("lr", 1)), b0: try h.double("b0", 0.1))
        case "adagradnorm_rowwise":
            return .adaGradNormRowwise(learningRate: .constant(try h.double("lr", 1)), learningRateDecay: try h.double("lr_decay", 0),
                                       initialAccumulator: try h.double("initial_accumulator_value", 1e-2))
        case "perpgrad", "perpadamw":
            let base = h.value("base")?.string ?? (technique == "perpadamw" ? "AdamW" : "SGD")
            switch base {
            case "SGD":
                return .orthoGrad(.sgd(learningRate: .constant(try h.double("lr", 1e-3)), momentum: try h.double("momentum", 0),
                                       dampening: try h.double("dampening", 0), weightDecay: try h.double("weight_decay", 0),
                                       nesterov: try h.bool("nesterov", false)))
            case "AdamW":
                return .perpAdamW(learningRate: .constant(try h.double("lr", 1e-3)), betas: try h.betas((0.9, 0.999)),
                                  epsilon: try h.double("eps", 1e-8), weightDecay: try h.double("weight_decay", 1e-2))
            case "Adam":
                return .orthoGrad(.adam(learningRate: .constant(try h.double("lr", 1e-3)), betas: try h.betas((0.9, 0.999)),
                                        epsilon: try h.double("eps", 1e-8), weightDecay: try h.double("weight_decay", 0)))
            default: throw Unsupported(reason: "⊥Grad base '\(base)'")
            }
        case "independent_weight_decay":
            let peak = try h.double("peak_lr", 1e-3)
            return .adamW(learningRate: .constant(peak), betas: try h.betas((0.9, 0.95)), epsilon: try h.double("eps", 1e-8),
                          weightDecay: try h.double("lambda", 1e-4), decay: .independent(peakLearningRate: peak))
        case "adamw", "adamw_epsilon":
            return .adamW(learningRate: .constant(try h.double("lr", 1e-3)), betas: try h.betas((0.9, 0.999)),
                          epsilon: try h.double("eps", 1e-8), weightDecay: try h.double("weight_decay", 1e-2))
        case "adam":
            return .adam(learningRate: .constant(try h.double("lr", 1e-3)), betas: try h.betas((0.9, 0.999)),
                         epsilon: try h.double("eps", 1e-8), weightDecay: try h.double("weight_decay", 0))
        case "sgd":
            return .sgd(learningRate: .constant(try h.double("lr", 1e-3)), momentum: try h.double("momentum", 0),
                        dampening: try h.double("dampening", 0), weightDecay: try h.double("weight_decay", 0),
                        nesterov: try h.bool("nesterov", false))
        default:
            throw Unsupported(reason: "no optimizer for technique '\(technique)'")
        }
    }

    /// Tensors of a case: names in `param_order`, shapes and flat values.
    struct Problem {
        var names: [String]
        var shapes: [[Int]]
        var initial: [[Double]]
        var grads: [[[Double]]]      // [step][tensor]
        var expected: [[[Double]]]   // [step][tensor]
    }

    static func problem(_ c: JSON, after: JSON) throws(GradusError) -> Problem {
        guard let names = try c.field("param_order").array?.compactMap(\.string) else { throw .format("'param_order' must list names") }
        let initial = try c.field("initial_params")
        var shapes: [[Int]] = [], values: [[Double]] = []
        for n in names {
            let v = try initial.field(n)
            guard let s = v.shape else { throw .format("initial_params.\(n) is not a rectangular array") }
            shapes.append(s); values.append(try v.doubles(n))
        }
        guard let gs = try c.field("grads").array, let ps = after.array else { throw .format("'grads' and 'params_after_step' must be arrays") }
        func perTensor(_ o: JSON, _ what: String) throws(GradusError) -> [[Double]] {
            var out: [[Double]] = []
            for (i, n) in names.enumerated() {
                let d = try o.field(n).doubles(what)
                guard d.count == values[i].count else { throw .format("\(what).\(n) has \(d.count) values, expected \(values[i].count)") }
                out.append(d)
            }
            return out
        }
        var grads: [[[Double]]] = [], expected: [[[Double]]] = []
        for g in gs { grads.append(try perTensor(g, "grads")) }
        for p in ps { expected.append(try perTensor(p, "params_after_step")) }
        guard grads.count == expected.count else { throw .format("grads and params_after_step differ in length") }
        return Problem(names: names, shapes: shapes, initial: values, grads: grads, expected: expected)
    }

    /// Drives `chain` through a problem; calls `afterStep(step, optimizer, params)` after each step.
    static func drive<S: OptimizerScalar>(_ p: Problem, chain: GradientChain<S>, learningRates: [Double]? = nil,
                                          afterStep: (Int, FusedOptimizer<S>, [[Double]]) throws -> Void) throws {
        let opt = try FusedOptimizer<S>(chain: chain, shapes: p.shapes)
        var params = p.initial.map { $0.map { S($0) } }
        for (step, g) in p.grads.enumerated() {
            if let lrs = learningRates {
                guard step < lrs.count else { throw GradusError.format("lr_per_step is shorter than grads") }
                try opt.set(.learningRate, to: lrs[step])
            }
            let grads = g.map { $0.map { S($0) } }
            // Buffers stay valid for the step: the arrays are pinned by the nested closures.
            try withBuffers(&params, grads) { buffers in try opt.step(buffers) }
            try afterStep(step, opt, params.map { $0.map(Double.init) })
        }
    }

    static func withBuffers<S: OptimizerScalar>(_ params: inout [[S]], _ grads: [[S]],
                                                _ body: ([ParameterBuffer<S>]) throws -> Void) throws {
        // Copies into stable memory for the duration of the step, then back.
        let values = params.map { p -> UnsafeMutablePointer<S> in
            let m = UnsafeMutablePointer<S>.allocate(capacity: Swift.max(1, p.count))
            m.initialize(from: p, count: p.count)
            return m
        }
        let gs = grads.map { g -> UnsafeMutablePointer<S> in
            let m = UnsafeMutablePointer<S>.allocate(capacity: Swift.max(1, g.count))
            m.initialize(from: g, count: g.count)
            return m
        }
        defer { values.forEach { $0.deallocate() }; gs.forEach { $0.deallocate() } }
        try body(params.indices.map { ParameterBuffer(values: values[$0], gradient: gs[$0], count: params[$0].count) })
        for i in params.indices { params[i] = Array(UnsafeBufferPointer(start: values[i], count: params[i].count)) }
    }

    static func trajectory<S: OptimizerScalar>(_ c: JSON, technique: String, _ h: Hyperparameters, _ type: S.Type,
                                               _ cmp: inout Comparison) throws {
        let chain = try makeChain(technique: technique, h, S.self)
        let p = try problem(c, after: try c.field("params_after_step"))
        let lrs = technique == "independent_weight_decay" ? try h.doubles("lr_per_step") : nil
        let info = c["per_step_info"]?.array
        let views = c["projection_view_per_step_W"]?.array
        var local = cmp
        try drive(p, chain: chain, learningRates: lrs) { step, opt, params in
            for (i, n) in p.names.enumerated() {
                local.check("step \(step + 1) \(n)", params[i], p.expected[step][i])
            }
            // At Stable-SPAM's first step AdaClip's threshold is max|g| itself in exact arithmetic
            // (μ̂ = (1 − γ3)·M / (1 − γ3)), so whether the largest entry counts as clipped is decided by the last bit
            // of rounding (its value is the same either way). A float32 run rounds g first, so that count is compared
            // in float64 only.
            let tie = technique == "stablespam" && step == 0 && S.self != Double.self
            if let info, step < info.count, let clipped = info[step]["clipped"]?.int, !tie {
                let slot = technique == "spam" ? 0 : (technique == "stablespam" ? 1 : -1)
                if slot >= 0 { local.checkExact("step \(step + 1) clipped", opt.lastStepEvents()[slot], clipped) }
            }
            if let views, step < views.count, let w = p.names.firstIndex(of: "W") {
                let got = opt.state(of: RadialProjection<S>.self, slot: 1, tensor: w)?.lastView
                let name = got.map { $0 == .channel ? "channel" : "layer" }
                if name != views[step].string {
                    local.failures.append("step \(step + 1): projection view \(name ?? "none"), expected \(views[step].string ?? "none")")
                }
            }
        }
        cmp = local
    }

    static func comparison<S: OptimizerScalar>(_ c: JSON, technique: String, _ h: Hyperparameters, _ type: S.Type,
                                               _ cmp: inout Comparison) throws {
        guard technique == "adamw_epsilon" else { throw Unsupported(reason: "comparison '\(technique)'") }
        guard let runs = try c.field("runs").object else { throw GradusError.format("'runs' must be an object") }
        let hp = h.json
        h.markRead("eps_values")  // the ε of each run is its key in `runs`
        var local = cmp
        for (key, run) in runs.sorted(by: { $0.key < $1.key }) {
            guard let eps = Double(key) else { throw GradusError.format("run key '\(key)' is not a number") }
            var o = hp.object ?? [:]
            o["eps"] = .number(eps)
            o["weight_decay"] = o["weight_decay"] ?? .number(0)
            let chain = try makeChain(technique: "adamw", Hyperparameters(json: .object(o), reads: h.reads), S.self)
            let p = try problem(c, after: try run.field("params_after_step"))
            let w = p.names.firstIndex(of: "W") ?? 0
            try drive(p, chain: chain) { step, _, params in
                for (i, n) in p.names.enumerated() { local.check("eps \(key) step \(step + 1) \(n)", params[i], p.expected[step][i]) }
                if step == 0, let rms = run["update_rms_step1_W"]?.double {
                    let d = zip(params[w], p.initial[w]).map { ($0 - $1) * ($0 - $1) }
                    local.check("eps \(key) update RMS", ScalarMath.sqrt(d.reduce(0, +) / Double(d.count)), rms, float64Only: true)
                }
            }
        }
        cmp = local
    }
}
