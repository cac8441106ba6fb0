// Section "Optimizers" of include/gradus.h: the library's optimizer catalog behind one opaque handle.
//
// Everything a caller can get wrong is checked here before the catalog or the fused core runs: enum values,
// hyperparameter bounds (Swift's Int(Double) traps on huge values, so integer hyperparameters are range-checked),
// schedule lengths, and every entry of a state to load (a step counter of 1e300 would trap in Int(_:)).
import Gradus
import _GradusShims

/// An optimizer handle: the Tensor-level optimizer, its catalog name and the schedule in force
/// (kept to answer gradus_optimizer_get_lr; its peak follows GRADUS_HPARAM_LR).
final class OptimizerBox {
    let optimizer: Optimizer
    let name: String
    var schedule: Schedule
    init(_ optimizer: Optimizer, name: String, schedule: Schedule) {
        self.optimizer = optimizer; self.name = name; self.schedule = schedule
    }
}

/// The 0.1.0 struct (up to hparam_count), which callers built against that header pass; the current one adds the
/// PIECEWISE multipliers.
private let optimizerOptionsV1Size = MemoryLayout<gradus_optimizer_options>.offset(of: \gradus_optimizer_options.multipliers)!
private let optimizerOptionsSize = MemoryLayout<gradus_optimizer_options>.size
private let maxMultipliers = 1 << 28
private let maxOptimizerParameters = 1 << 20
private let maxHparamCount = 64
private let maxIntegerHparam = Double(1 << 31)

/// Catalog names by GRADUS_OPTIMIZER_* value.
let optimizerKindNames = ["sgd", "adam", "adamw", "adagrad", "adagradnorm", "adagradnorm-rowwise", "diffgrad", "adamp",
                          "sgdp", "spam", "stable-spam", "orthograd-sgd", "orthograd-adam", "perp-adamw", "adam8bit",
                          "adamw8bit", "stable-spam-8bit"]

/// Catalog hyperparameter names by GRADUS_HPARAM_* value.
let hparamNames = ["lr", "weight_decay", "beta1", "beta2", "eps", "momentum", "dampening", "nesterov", "lr_decay",
                   "initial_accumulator", "b0", "delta", "wd_ratio", "warmup_steps", "threshold", "interval",
                   "gamma1", "gamma2", "gamma3", "total_steps", "reset_interval", "min_8bit_size"]

/// Keys a live optimizer can change, in GRADUS_HPARAM_* order (0...5).
private let runtimeHparams: [Hyperparameter] = [.learningRate, .weightDecay, .beta1, .beta2, .epsilon, .momentum]

private func hparamName(_ key: gradus_hparam) throws(GradusError) -> String {
    guard key >= 0, Int(key) < hparamNames.count else {
        throw .invalidArgument("hyperparameter key \(key) is not a GRADUS_HPARAM_* value")
    }
    return hparamNames[Int(key)]
}

/// Checks `value` against the documented bounds of `name` (gradus.h, GRADUS_HPARAM_*).
private func checkHparam(_ name: String, _ value: Double) throws(GradusError) {
    guard value.isFinite else { throw .invalidArgument("\(name) must be finite, got \(value)") }
    switch name {
    case "beta1", "beta2", "momentum", "dampening", "gamma1", "gamma2", "gamma3":
        guard value >= 0, value < 1 else { throw .invalidArgument("\(name) must be in [0, 1), got \(value)") }
    case "nesterov":
        guard value == 0 || value == 1 else { throw .invalidArgument("nesterov must be 0 or 1, got \(value)") }
    case "warmup_steps", "interval", "total_steps", "reset_interval":
        guard value >= 1, value <= maxIntegerHparam, value == value.rounded() else {
            throw .invalidArgument("\(name) must be a whole number in 1...2^31, got \(value)")
        }
    case "min_8bit_size":
        guard value >= 0, value <= maxIntegerHparam, value == value.rounded() else {
            throw .invalidArgument("min_8bit_size must be a whole number in 0...2^31, got \(value)")
        }
    default:
        guard value >= 0 else { throw .invalidArgument("\(name) must be non-negative, got \(value)") }
    }
}

private func kindName(_ kind: gradus_optimizer_kind) throws(GradusError) -> String {
    guard kind >= 0, Int(kind) < optimizerKindNames.count else {
        throw .invalidArgument("optimizer kind \(kind) is not a GRADUS_OPTIMIZER_* value")
    }
    return optimizerKindNames[Int(kind)]
}

private func scheduleArg(_ o: gradus_optimizer_options, peak: Double) throws(GradusError) -> Schedule {
    let warmup = Int(truncatingIfNeeded: o.warmup_steps), total = Int(truncatingIfNeeded: o.total_steps)
    let s: Schedule
    switch o.schedule {
    case GRADUS_SCHEDULE_CONSTANT: s = .constant(peak)
    case GRADUS_SCHEDULE_STEP:
        guard o.step_size > 0 else { throw .invalidArgument("step_size is \(o.step_size); STEP needs step_size > 0") }
        guard o.gamma.isFinite, o.gamma >= 0 else { throw .invalidArgument("gamma is \(o.gamma); STEP needs a finite gamma >= 0") }
        s = .step(peak: peak, stepSize: Int(truncatingIfNeeded: o.step_size), gamma: o.gamma)
    case GRADUS_SCHEDULE_LINEAR, GRADUS_SCHEDULE_COSINE, GRADUS_SCHEDULE_WARMUP_LINEAR, GRADUS_SCHEDULE_WARMUP_COSINE:
        guard o.total_steps > 0 else { throw .invalidArgument("total_steps is \(o.total_steps); the schedule needs total_steps > 0") }
        if o.schedule == GRADUS_SCHEDULE_LINEAR { s = .linear(peak: peak, total: total); break }
        if o.schedule == GRADUS_SCHEDULE_COSINE {
            guard o.min_lr.isFinite else { throw .invalidArgument("min_lr must be finite, got \(o.min_lr)") }
            s = .cosine(peak: peak, total: total, minimum: o.min_lr); break
        }
        guard o.warmup_steps >= 0, o.warmup_steps <= o.total_steps else {
            throw .invalidArgument("warmup_steps is \(o.warmup_steps); expected 0...total_steps (\(o.total_steps))")
        }
        s = o.schedule == GRADUS_SCHEDULE_WARMUP_LINEAR ? .warmupLinear(peak: peak, warmup: warmup, total: total)
                                                         : .warmupCosine(peak: peak, warmup: warmup, total: total)
    case GRADUS_SCHEDULE_PIECEWISE:
        guard o.multiplier_count >= 1, o.multiplier_count <= maxMultipliers else {
            throw .invalidArgument("multiplier_count is \(o.multiplier_count); PIECEWISE needs 1...2^28 multipliers")
        }
        let m = Array(UnsafeBufferPointer(start: try require(o.multipliers, "options->multipliers"), count: o.multiplier_count))
        guard m.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw .invalidArgument("PIECEWISE multipliers must be finite and >= 0") }
        s = .piecewise(peak: peak, multipliers: m)
    default: throw .invalidArgument("schedule \(o.schedule) is not a GRADUS_SCHEDULE_* value")
    }
    return try s.validated()
}

/// The catalog's ScheduleSpec for a validated schedule (the catalog applies the peak itself).
private func scheduleSpec(_ s: Schedule) -> ScheduleSpec {
    switch s {
    case .constant: return .constant
    case .piecewise(_, let m): return .piecewise(multipliers: m)
    case .step(_, let n, let g): return .step(stepSize: n, gamma: g)
    case .linear(_, let t): return .linear(total: t)
    case .warmupLinear(_, let w, let t): return .warmupLinear(warmup: w, total: t)
    case .cosine(_, let t, let m): return .cosine(total: t, minimum: m)
    case .warmupCosine(_, let w, let t): return .warmupCosine(warmup: w, total: t)
    }
}

private func makeOptimizer(_ kind: gradus_optimizer_kind, _ params: [Tensor],
                           _ options: UnsafePointer<gradus_optimizer_options>?) throws(GradusError) -> OptimizerBox {
    let name = try kindName(kind)
    var o = optimizerDefaults()
    if let options {
        // struct_size first, read alone: a caller's older, smaller struct must not be read past its end.
        let size = UnsafeRawPointer(options).load(as: Int.self)
        guard size >= optimizerOptionsV1Size, size <= 65536 else {
            throw .invalidArgument("options->struct_size is \(size); fill it with gradus_optimizer_options_init")
        }
        // The caller's fields over the defaults: an older struct leaves the newer fields at their defaults.
        withUnsafeMutableBytes(of: &o) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: options, count: Swift.min(size, optimizerOptionsSize)))
        }
    }
    guard o.hparam_count <= maxHparamCount else { throw .invalidArgument("hparam_count is \(o.hparam_count); at most \(maxHparamCount)") }
    var lr = o.lr
    var hp: [String: Double] = [:]
    if o.hparam_count > 0 {
        let keys = try require(o.hparam_keys, "options->hparam_keys")
        let values = try require(o.hparam_values, "options->hparam_values")
        for i in 0..<o.hparam_count {
            let k = try hparamName(keys[i])
            try checkHparam(k, values[i])
            if k == "lr" { lr = values[i]; continue }
            guard OptimizerCatalog.hyperparameters[name]?.contains(k) == true else {
                throw .invalidArgument("optimizer \(name) has no hyperparameter \(k) (has: \(OptimizerCatalog.hyperparameters[name]?.joined(separator: ", ") ?? ""))")
            }
            hp[k] = values[i]
        }
    }
    try checkHparam("lr", lr)
    let schedule = try scheduleArg(o, peak: lr)
    let opt = try OptimizerCatalog.make(name, parameters: params, lr: lr, schedule: scheduleSpec(schedule), hyperparameters: hp)
    return OptimizerBox(opt, name: name, schedule: schedule)
}

@c @implementation public func gradus_optimizer_options_init(_ options: UnsafeMutablePointer<gradus_optimizer_options>?) {
    guard let options else { return }
    OptionsStruct.write(optimizerDefaults(), to: options, bytes: optimizerOptionsV1Size)
}

@c @implementation public func gradus_optimizer_options_init_sized(_ options: UnsafeMutablePointer<gradus_optimizer_options>?,
                                                                    _ size: Int) -> gradus_status {
    OptionsStruct.initialize(options, size: size, firstLayout: optimizerOptionsV1Size, defaults: optimizerDefaults(),
                             "gradus_optimizer_options")
}

private func optimizerDefaults() -> gradus_optimizer_options {
    gradus_optimizer_options(
        struct_size: optimizerOptionsSize, lr: 1e-3, schedule: GRADUS_SCHEDULE_CONSTANT, warmup_steps: 0, total_steps: 1,
        step_size: 1000, gamma: 0.1, min_lr: 0, hparam_keys: nil, hparam_values: nil, hparam_count: 0,
        multipliers: nil, multiplier_count: 0)
}

@c @implementation public func gradus_schedule_refine(_ g: UnsafePointer<Double>?, _ count: Int, _ power: Double, _ tau: Double,
                                                       _ out: UnsafeMutablePointer<Double>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let g = try require(g, "g"), out = try require(out, "out")
        guard count >= 2, count <= 1 << 26 else { throw .invalidArgument("count is \(count); refinement needs 2...2^26 norms") }
        guard power.isFinite else { throw .invalidArgument("power must be finite, got \(power)") }
        guard tau.isFinite, tau >= 0 else { throw .invalidArgument("tau must be finite and >= 0, got \(tau)") }
        let r = try Schedule.refined(gradientNorms: Array(UnsafeBufferPointer(start: g, count: count)), power: power, tau: tau)
        for t in 0..<count { out[t] = r.schedule[t] }
    }
}

@c @implementation public func gradus_optimizer_create(
    _ kind: gradus_optimizer_kind, _ params: UnsafePointer<gradus_tensor?>?, _ count: Int,
    _ options: UnsafePointer<gradus_optimizer_options>?, _ out: UnsafeMutablePointer<gradus_optimizer?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let params = try require(params, "params")
        guard count > 0, count <= maxOptimizerParameters else {
            throw .invalidArgument("count is \(count); expected 1...\(maxOptimizerParameters)")
        }
        var tensors: [Tensor] = []
        tensors.reserveCapacity(count)
        for i in 0..<count { tensors.append(try HandleRegistry.shared.get(params[i], as: Tensor.self, "params[i]")) }
        out.pointee = publish(try makeOptimizer(kind, tensors, options))
    }
}

@c @implementation public func gradus_optimizer_create_for_model(
    _ kind: gradus_optimizer_kind, _ model: gradus_model?, _ options: UnsafePointer<gradus_optimizer_options>?,
    _ out: UnsafeMutablePointer<gradus_optimizer?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let m = try HandleRegistry.shared.get(model, as: ModelBox.self, "model")
        guard !m.named.isEmpty else { throw .invalidArgument("the model has no parameters") }
        out.pointee = publish(try makeOptimizer(kind, m.named.map(\.1), options))
    }
}

@inline(__always)
private func optimizerArg(_ o: gradus_optimizer?) throws(GradusError) -> OptimizerBox {
    try HandleRegistry.shared.get(o, as: OptimizerBox.self, "optimizer")
}

@c @implementation public func gradus_optimizer_destroy(_ optimizer: gradus_optimizer?) -> gradus_status {
    guarded { () throws(GradusError) in
        guard HandleRegistry.shared.remove(optimizer, as: OptimizerBox.self) else {
            throw .invalidHandle("optimizer is not a live optimizer handle (destroyed twice, stale or foreign)")
        }
    }
}

@c @implementation public func gradus_optimizer_step(_ optimizer: gradus_optimizer?) -> gradus_status {
    guarded { () throws(GradusError) in try optimizerArg(optimizer).optimizer.step() }
}

@c @implementation public func gradus_optimizer_zero_grad(_ optimizer: gradus_optimizer?) -> gradus_status {
    guarded { () throws(GradusError) in try optimizerArg(optimizer).optimizer.zeroGrad() }
}

@c @implementation public func gradus_optimizer_set_hparam(_ optimizer: gradus_optimizer?, _ key: gradus_hparam, _ value: Double) -> gradus_status {
    guarded { () throws(GradusError) in
        let box = try optimizerArg(optimizer)
        let name = try hparamName(key)
        try checkHparam(name, value)
        guard Int(key) < runtimeHparams.count else {
            throw .unsupported("\(name) is fixed when the optimizer is created (only lr, weight_decay, beta1, beta2, eps and momentum change later)")
        }
        guard try box.optimizer.set(runtimeHparams[Int(key)], to: value) else {
            throw .invalidArgument("this \(box.name) optimizer has no \(name) to change (give a nonzero \(name) at creation if the kind supports it)")
        }
        if key == GRADUS_HPARAM_LR { box.schedule = box.schedule.withPeak(value) }
    }
}

@c @implementation public func gradus_optimizer_get_hparam(_ optimizer: gradus_optimizer?, _ key: gradus_hparam,
                                                          _ out: UnsafeMutablePointer<Double>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        let box = try optimizerArg(optimizer)
        let name = try hparamName(key)
        guard Int(key) < runtimeHparams.count else {
            throw .unsupported("\(name) is fixed when the optimizer is created (only lr, weight_decay, beta1, beta2, eps and momentum can be read back)")
        }
        guard let v = box.optimizer.value(of: runtimeHparams[Int(key)]) else {
            throw .invalidArgument("this \(box.name) optimizer has no \(name)")
        }
        out.pointee = v
    }
}

@c @implementation public func gradus_optimizer_get_lr(_ optimizer: gradus_optimizer?, _ out: UnsafeMutablePointer<Double>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        let box = try optimizerArg(optimizer)
        out.pointee = box.schedule.value(at: box.optimizer.globalStep)
    }
}

@c @implementation public func gradus_optimizer_step_count(_ optimizer: gradus_optimizer?, _ out: UnsafeMutablePointer<Int64>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        out.pointee = Int64(try optimizerArg(optimizer).optimizer.globalStep)
    }
}

// MARK: - State

private func stateEntry(_ box: OptimizerBox, _ index: Int) throws(GradusError) -> StateEntry {
    let entries = box.optimizer.stateDict()
    guard index >= 0, index < entries.count else {
        throw .invalidArgument("index \(index) out of range: the optimizer state has \(entries.count) entries")
    }
    return entries[index]
}

@c @implementation public func gradus_optimizer_state_count(_ optimizer: gradus_optimizer?, _ out: UnsafeMutablePointer<Int>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        out.pointee = try optimizerArg(optimizer).optimizer.stateDict().count
    }
}

@c @implementation public func gradus_optimizer_state_name(
    _ optimizer: gradus_optimizer?, _ index: Int, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
    _ out_length: UnsafeMutablePointer<Int>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        if let out_length { out_length.pointee = 0 }
        let name = try stateEntry(try optimizerArg(optimizer), index).name
        try copyOut(name, to: buffer, capacity: capacity, length: out_length)
    }
}

@c @implementation public func gradus_optimizer_state_get(_ optimizer: gradus_optimizer?, _ index: Int, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let e = try stateEntry(try optimizerArg(optimizer), index)
        emit(Tensor(shape: e.shape, scalars: e.values), out)
    }
}

/// Checks `entries` against the optimizer's own state (same names, same element counts, step counters that
/// convert to Int) and loads them; nothing changes when a check fails.
private func loadState(_ box: OptimizerBox, _ entries: [StateEntry]) throws(GradusError) {
    let own = box.optimizer.stateDict()
    var given: [String: StateEntry] = [:]
    for e in entries { given[e.name] = e }
    for mine in own {
        guard let e = given[mine.name] else { throw .notFound("the state has no entry '\(mine.name)'") }
        guard e.values.count == mine.values.count else {
            throw .shapeMismatch("state entry '\(e.name)' has \(e.values.count) values, expected \(mine.values.count)")
        }
    }
    if given.count != own.count {
        let names = Set(own.map(\.name))
        let extra = given.keys.filter { !names.contains($0) }.sorted()
        throw .notFound("unexpected state entr\(extra.count == 1 ? "y" : "ies") \(extra.prefix(4).map { "'\($0)'" }.joined(separator: ", ")) for this \(box.name) optimizer")
    }
    // The core converts step counters with Int(_:), which traps beyond Int's range.
    for (name, e) in given where name == "step" || name.hasSuffix(".step") {
        let v = e.values[0]
        guard v.isFinite, v >= 0, v <= 9_007_199_254_740_992, v == v.rounded() else {
            throw .invalidArgument("state entry '\(name)' is \(v); a step counter must be a whole number in 0...2^53")
        }
    }
    try box.optimizer.loadStateDict(entries)
}

@c @implementation public func gradus_optimizer_load_state(
    _ optimizer: gradus_optimizer?, _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ tensors: UnsafePointer<gradus_tensor?>?,
    _ count: Int
) -> gradus_status {
    guarded { () throws(GradusError) in
        let box = try optimizerArg(optimizer)
        guard count >= 0, count <= 1 << 24 else { throw .invalidArgument("count is \(count)") }
        var entries: [StateEntry] = []
        if count > 0 {
            let names = try require(names, "names"), tensors = try require(tensors, "tensors")
            for i in 0..<count {
                guard let n = names[i] else { throw .invalidArgument("names[\(i)] is NULL") }
                let t = try HandleRegistry.shared.get(tensors[i], as: Tensor.self, "tensors[i]")
                entries.append(StateEntry(name: String(cString: n), shape: t.shape, values: t.scalars(as: Double.self)))
            }
        }
        try loadState(box, entries)
    }
}

@c @implementation public func gradus_optimizer_save(_ optimizer: gradus_optimizer?, _ path: UnsafePointer<CChar>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let box = try optimizerArg(optimizer)
        let p = String(cString: try require(path, "path"))
        guard !p.isEmpty else { throw .invalidArgument("path is empty") }
        var state: [String: Tensor] = [:]
        for e in box.optimizer.stateDict() { state[e.name] = Tensor(shape: e.shape, scalars: e.values) }
        try Checkpoint(parameters: [:], optimizerState: state, metadata: ["gradus.optimizer": box.name]).write(to: p)
    }
}

@c @implementation public func gradus_optimizer_load(_ optimizer: gradus_optimizer?, _ path: UnsafePointer<CChar>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let box = try optimizerArg(optimizer)
        let p = String(cString: try require(path, "path"))
        guard !p.isEmpty else { throw .invalidArgument("path is empty") }
        let file = try Checkpoint.read(p)
        if let stored = file.metadata["gradus.optimizer"], stored != box.name {
            throw .invalidArgument("'\(p)' holds the state of a \(stored) optimizer, not \(box.name)")
        }
        let entries = file.optimizerState.map { StateEntry(name: $0.key, shape: $0.value.shape, values: $0.value.scalars(as: Double.self)) }
        try loadState(box, entries)
    }
}
