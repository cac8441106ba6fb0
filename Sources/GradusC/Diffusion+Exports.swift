// Section "Diffusion" of include/gradus.h, part 1: noise schedules, denoisers (gradus_model handles) and training.
// Sampling and image grids are in DiffusionSampling+Exports.swift.
//
// Everything a caller can get wrong is checked before GradusDiffusion runs: enum values, bounds, label ranges,
// shapes, and the memory a forward pass would need (a failed Swift allocation traps, so oversized batches are
// refused up front with OUT_OF_MEMORY).
import Gradus
import _GradusShims

/// A noise schedule handle: the betas, what the model predicts (nil: rectified flow) and the sampling spacing.
final class NoiseScheduleBox {
    let schedule: NoiseSchedule
    let kind: Parameterization?
    let spacing: TimestepSpacing
    let offset: Int
    let flowShift: Double
    init(_ schedule: NoiseSchedule, kind: Parameterization?, spacing: TimestepSpacing, offset: Int, flowShift: Double) {
        self.schedule = schedule; self.kind = kind; self.spacing = spacing; self.offset = offset; self.flowShift = flowShift
    }
    var trainSteps: Int { schedule.trainSteps }
    var isFlow: Bool { kind == nil }
    /// What training draws and regresses on.
    var objective: DiffusionObjective { kind.map { .diffusion(schedule, $0) } ?? .flow(trainSteps: schedule.trainSteps) }

    /// Model timesteps of an `steps`-step chain, noisiest first (integers, or σ·T for flow).
    func timesteps(_ steps: Int) throws(GradusError) -> [Double] {
        guard steps >= 1, steps <= trainSteps else { throw .invalidArgument("steps is \(steps); expected 1...\(trainSteps) (the schedule's train_steps)") }
        if isFlow { return try FlowEulerSampler(shift: flowShift).timesteps(steps: steps, trainSteps: trainSteps) }
        return try inferenceTimesteps(trainSteps: trainSteps, steps: steps, spacing: spacing, offset: offset).map(Double.init)
    }
}

private let maxTrainSteps: Int32 = 100_000
private let maxParameters = 1 << 31

@c @implementation public func gradus_noise_schedule_options_init(
    _ options: UnsafeMutablePointer<gradus_noise_schedule_options>?, _ kind: gradus_noise_schedule_kind
) {
    guard let options else { return }
    OptionsStruct.write(scheduleDefaults(kind), to: options, bytes: MemoryLayout<gradus_noise_schedule_options>.size)
}

@c @implementation public func gradus_noise_schedule_options_init_sized(
    _ options: UnsafeMutablePointer<gradus_noise_schedule_options>?, _ size: Int, _ kind: gradus_noise_schedule_kind
) -> gradus_status {
    OptionsStruct.initialize(options, size: size, firstLayout: MemoryLayout<gradus_noise_schedule_options>.size,
                             defaults: scheduleDefaults(kind), "gradus_noise_schedule_options")
}

private func scheduleDefaults(_ kind: gradus_noise_schedule_kind) -> gradus_noise_schedule_options {
    let scaled = kind == GRADUS_NOISE_SCHEDULE_SCALED_LINEAR
    return gradus_noise_schedule_options(
        struct_size: MemoryLayout<gradus_noise_schedule_options>.size, kind: kind, train_steps: 1000,
        beta_start: scaled ? 0.00085 : 1e-4, beta_end: scaled ? 0.012 : 0.02, max_beta: 0.999, zero_terminal_snr: 0,
        spacing: GRADUS_TIMESTEP_SPACING_LEADING, steps_offset: 0, prediction: GRADUS_PREDICTION_EPSILON, flow_shift: 1)
}

private func makeSchedule(_ o: gradus_noise_schedule_options) throws(GradusError) -> NoiseScheduleBox {
    guard o.train_steps >= 2, o.train_steps <= maxTrainSteps else {
        throw .invalidArgument("options->train_steps is \(o.train_steps); expected 2...\(maxTrainSteps)")
    }
    let steps = Int(o.train_steps)
    func beta(_ v: Double, _ name: String) throws(GradusError) {
        guard v.isFinite, v >= 0, v <= 1 else { throw .invalidArgument("options->\(name) is \(v); expected a value in [0, 1]") }
    }
    var schedule: NoiseSchedule
    switch o.kind {
    case GRADUS_NOISE_SCHEDULE_LINEAR, GRADUS_NOISE_SCHEDULE_SCALED_LINEAR:
        try beta(o.beta_start, "beta_start"); try beta(o.beta_end, "beta_end")
        schedule = o.kind == GRADUS_NOISE_SCHEDULE_LINEAR
            ? try .linear(betaStart: o.beta_start, betaEnd: o.beta_end, steps: steps)
            : try .scaledLinear(betaStart: o.beta_start, betaEnd: o.beta_end, steps: steps)
    case GRADUS_NOISE_SCHEDULE_COSINE:
        guard o.max_beta.isFinite, o.max_beta > 0, o.max_beta <= 1 else {
            throw .invalidArgument("options->max_beta is \(o.max_beta); expected a value in (0, 1]")
        }
        schedule = try .cosine(steps: steps, maxBeta: o.max_beta)
    default: throw .invalidArgument("options->kind \(o.kind) is not a GRADUS_NOISE_SCHEDULE_* value")
    }
    let kind: Parameterization?
    switch o.prediction {
    case GRADUS_PREDICTION_EPSILON: kind = .epsilon
    case GRADUS_PREDICTION_V: kind = .vPrediction
    case GRADUS_PREDICTION_SAMPLE: kind = .sample
    case GRADUS_PREDICTION_FLOW: kind = nil
    default: throw .invalidArgument("options->prediction \(o.prediction) is not a GRADUS_PREDICTION_* value")
    }
    let spacing: TimestepSpacing
    switch o.spacing {
    case GRADUS_TIMESTEP_SPACING_LEADING: spacing = .leading
    case GRADUS_TIMESTEP_SPACING_TRAILING: spacing = .trailing
    case GRADUS_TIMESTEP_SPACING_LINSPACE: spacing = .linspace
    default: throw .invalidArgument("options->spacing \(o.spacing) is not a GRADUS_TIMESTEP_SPACING_* value")
    }
    guard o.steps_offset >= 0, o.steps_offset < o.train_steps else {
        throw .invalidArgument("options->steps_offset is \(o.steps_offset); expected 0...\(o.train_steps - 1)")
    }
    guard o.flow_shift.isFinite, o.flow_shift > 0 else { throw .invalidArgument("options->flow_shift is \(o.flow_shift); expected a finite value > 0") }
    if o.zero_terminal_snr != 0 {
        guard kind == .vPrediction || kind == .sample else {
            throw .invalidArgument("zero terminal SNR needs GRADUS_PREDICTION_V or GRADUS_PREDICTION_SAMPLE (epsilon is undefined at the last step; flow has no betas)")
        }
        schedule = try schedule.rescaledToZeroTerminalSNR()
    }
    return NoiseScheduleBox(schedule, kind: kind, spacing: spacing, offset: Int(o.steps_offset), flowShift: o.flow_shift)
}

@c @implementation public func gradus_noise_schedule_create(
    _ options: UnsafePointer<gradus_noise_schedule_options>?, _ out: UnsafeMutablePointer<gradus_noise_schedule?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let o = try optionsArg(try require(options, "options"), "options")
        out.pointee = publish(try makeSchedule(o))
    }
}

@c @implementation public func gradus_noise_schedule_destroy(_ schedule: gradus_noise_schedule?) -> gradus_status {
    guarded { () throws(GradusError) in
        guard HandleRegistry.shared.remove(schedule, as: NoiseScheduleBox.self) else {
            throw .invalidHandle("schedule is not a live noise schedule handle (destroyed twice, stale or foreign)")
        }
    }
}

@inline(__always)
func scheduleArg(_ s: gradus_noise_schedule?) throws(GradusError) -> NoiseScheduleBox {
    try HandleRegistry.shared.get(s, as: NoiseScheduleBox.self, "schedule")
}

@c @implementation public func gradus_noise_schedule_alphas_cumprod(_ schedule: gradus_noise_schedule?,
                                                                   _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let s = try scheduleArg(schedule).schedule
        emit(Tensor(shape: [s.trainSteps], scalars: s.alphasCumprod, dtype: .float64), out)
    }
}

@c @implementation public func gradus_noise_schedule_timesteps(
    _ schedule: gradus_noise_schedule?, _ steps: Int32, _ timesteps: UnsafeMutablePointer<Double>?, _ capacity: Int
) -> gradus_status {
    guarded { () throws(GradusError) in
        let box = try scheduleArg(schedule)
        let dst = try require(timesteps, "timesteps")
        guard steps >= 1, Int(steps) <= box.trainSteps else {
            throw .invalidArgument("steps is \(steps); expected 1...\(box.trainSteps) (the schedule's train_steps)")
        }
        guard capacity >= Int(steps) else { throw .shapeMismatch("capacity is \(capacity); \(steps) timesteps need \(steps) entries") }
        for (i, t) in try box.timesteps(Int(steps)).enumerated() { dst[i] = t }
    }
}

// MARK: - Denoisers

@c @implementation public func gradus_denoiser_options_init(_ options: UnsafeMutablePointer<gradus_denoiser_options>?,
                                                           _ kind: gradus_denoiser_kind) {
    guard let options else { return }
    OptionsStruct.write(denoiserDefaults(kind), to: options, bytes: MemoryLayout<gradus_denoiser_options>.size)
}

@c @implementation public func gradus_denoiser_options_init_sized(_ options: UnsafeMutablePointer<gradus_denoiser_options>?,
                                                                 _ size: Int, _ kind: gradus_denoiser_kind) -> gradus_status {
    OptionsStruct.initialize(options, size: size, firstLayout: MemoryLayout<gradus_denoiser_options>.size,
                             defaults: denoiserDefaults(kind), "gradus_denoiser_options")
}

private func denoiserDefaults(_ kind: gradus_denoiser_kind) -> gradus_denoiser_options {
    gradus_denoiser_options(
        struct_size: MemoryLayout<gradus_denoiser_options>.size, kind: kind, num_classes: 10, data_dim: 2, hidden: 128,
        depth: 3, channels: 1, height: 28, width: 28, base_width: 16)
}

private func bounded(_ v: Int64, _ range: ClosedRange<Int64>, _ name: String) throws(GradusError) -> Int {
    guard range.contains(v) else { throw .invalidArgument("options->\(name) is \(v); expected \(range.lowerBound)...\(range.upperBound)") }
    return Int(v)
}

private func makeDenoiser(_ o: gradus_denoiser_options, dtype: DType, seed: UInt64) throws(GradusError) -> any ConditionalDenoiser & Module {
    let classes = try bounded(Int64(o.num_classes), 1...65536, "num_classes")
    switch o.kind {
    case GRADUS_DENOISER_MLP:
        let dim = try bounded(o.data_dim, 1...65536, "data_dim"), hidden = try bounded(o.hidden, 1...65536, "hidden")
        let depth = try bounded(Int64(o.depth), 1...256, "depth")
        // hidden² per layer plus the embeddings and the in/out layers (all factors bounded: no overflow).
        let count = depth * hidden * hidden + hidden * (2 * dim + classes + 40)
        guard count <= maxParameters else { throw .outOfMemory("a \(depth)-layer MLP \(hidden) wide has \(count) parameters; at most 2^31") }
        return try DenoiserMLP(dataDim: dim, numClasses: classes, hidden: hidden, depth: depth, dtype: dtype, seed: seed)
    case GRADUS_DENOISER_CONV:
        let c = try bounded(o.channels, 1...1024, "channels"), h = try bounded(o.height, 2...4096, "height")
        let w = try bounded(o.width, 2...4096, "width"), base = try bounded(o.base_width, 1...4096, "base_width")
        guard h % 2 == 0, w % 2 == 0 else { throw .invalidArgument("options->height and width must be even, got \(h)×\(w)") }
        // 3×3 convolutions (about 90·base² + 18·c·base weights) and a 4·base-wide conditioning embedding.
        let count = 90 * base * base + 18 * c * base + 4 * base * (4 * base + classes + 40)
        guard count <= maxParameters else { throw .outOfMemory("a conv denoiser of base width \(base) has \(count) parameters; at most 2^31") }
        return try DenoiserConvNet(channels: c, height: h, width: w, numClasses: classes, baseWidth: base, dtype: dtype, seed: seed)
    default: throw .invalidArgument("options->kind \(o.kind) is not a GRADUS_DENOISER_* value")
    }
}

@c @implementation public func gradus_model_create_denoiser(
    _ options: UnsafePointer<gradus_denoiser_options>?, _ dtype: gradus_dtype, _ seed: UInt64,
    _ out: UnsafeMutablePointer<gradus_model?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let o = try optionsArg(try require(options, "options"), "options")
        let d = try dtypeArg(dtype)
        out.pointee = publish(ModelBox(denoiser: try makeDenoiser(o, dtype: d, seed: seed)))
    }
}

/// The denoiser behind a model handle.
func denoiserArg(_ model: gradus_model?) throws(GradusError) -> (ModelBox, any ConditionalDenoiser & Module) {
    let m = try HandleRegistry.shared.get(model, as: ModelBox.self, "model")
    guard let net = m.denoiser else {
        throw .invalidArgument("model is not a diffusion denoiser (create it with gradus_model_create_denoiser)")
    }
    return (m, net)
}

/// `count` labels in `0...maxLabel`.
func classLabelsArg(_ labels: UnsafePointer<Int32>?, _ count: Int, maxLabel: Int, what: String) throws(GradusError) -> [Int] {
    let labels = try require(labels, "labels")
    var out = [Int](repeating: 0, count: count)
    for i in 0..<count {
        let l = Int(labels[i])
        guard l >= 0, l <= maxLabel else { throw .invalidArgument("labels[\(i)] is \(l); expected 0...\(maxLabel) (\(what))") }
        out[i] = l
    }
    return out
}

/// Checks that `x` is a batch `(B, sampleShape...)` for the denoiser; returns B.
private func batchArg(_ x: Tensor, _ net: any ConditionalDenoiser & Module) throws(GradusError) -> Int {
    guard x.rank == 1 + net.sampleShape.count, Array(x.shape.dropFirst()) == net.sampleShape, x.shape[0] >= 1 else {
        throw .shapeMismatch("x has shape \(x.shape); the denoiser takes (B, \(net.sampleShape.map(String.init).joined(separator: ", "))) with B ≥ 1")
    }
    return x.shape[0]
}

@c @implementation public func gradus_model_denoise(
    _ model: gradus_model?, _ x: gradus_tensor?, _ timesteps: UnsafePointer<Double>?, _ labels: UnsafePointer<Int32>?,
    _ count: Int, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let (_, net) = try denoiserArg(model)
        let xt = try tensorArg(x, "x")
        guard xt.dtype == net.dtype else { throw .dtypeMismatch("x is \(xt.dtype), the denoiser's parameters are \(net.dtype)") }
        let b = try batchArg(xt, net)
        guard count == b else { throw .shapeMismatch("count is \(count) for a batch of \(b)") }
        let ts = try require(timesteps, "timesteps")
        var t = [Double](repeating: 0, count: b)
        for i in 0..<b {
            guard ts[i].isFinite else { throw .invalidArgument("timesteps[\(i)] is \(ts[i]); timesteps must be finite") }
            t[i] = ts[i]
        }
        let l = try classLabelsArg(labels, b, maxLabel: net.numClasses, what: "\(net.numClasses) is the null label")
        try DenoiserMemory.requireForwardFits(net, batch: b)
        emit(try net.predict(xt, timesteps: t, labels: l), out)
    }
}

// MARK: - Training

private func trainDefaults() -> gradus_diffusion_train_options {
    gradus_diffusion_train_options(struct_size: MemoryLayout<gradus_diffusion_train_options>.size,
                                   steps: 100, batch_size: 128, label_dropout: 0.1, seed: 0)
}

@c @implementation public func gradus_diffusion_train_options_init(_ options: UnsafeMutablePointer<gradus_diffusion_train_options>?) {
    guard let options else { return }
    OptionsStruct.write(trainDefaults(), to: options, bytes: MemoryLayout<gradus_diffusion_train_options>.size)
}

@c @implementation public func gradus_diffusion_train_options_init_sized(
    _ options: UnsafeMutablePointer<gradus_diffusion_train_options>?, _ size: Int
) -> gradus_status {
    OptionsStruct.initialize(options, size: size, firstLayout: MemoryLayout<gradus_diffusion_train_options>.size,
                             defaults: trainDefaults(), "gradus_diffusion_train_options")
}

/// Copies rows `rows` of `src` (`per` elements each, contiguous) into a new tensor `(rows.count, sampleShape...)`.
private func gatherRows<T: TensorScalar>(_ src: Tensor, _ rows: [Int], per: Int, shape: [Int], _: T.Type) -> Tensor {
    let dst = Tensor.zeros([rows.count] + shape, dtype: src.dtype)
    let s = src.basePointer(as: T.self), d = dst.basePointer(as: T.self)
    for (k, r) in rows.enumerated() { (d + k * per).update(from: s + r * per, count: per) }
    return dst
}

@c @implementation public func gradus_diffusion_train(
    _ model: gradus_model?, _ schedule: gradus_noise_schedule?, _ optimizer: gradus_optimizer?, _ x: gradus_tensor?,
    _ labels: UnsafePointer<Int32>?, _ count: Int, _ options: UnsafePointer<gradus_diffusion_train_options>?,
    _ losses: UnsafeMutablePointer<Double>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let (m, net) = try denoiserArg(model)
        let sched = try scheduleArg(schedule)
        let opt = try HandleRegistry.shared.get(optimizer, as: OptimizerBox.self, "optimizer")
        let xt = try tensorArg(x, "x")
        var o = trainDefaults()
        if let options { o = try optionsArg(options, "options") }
        guard o.steps >= 0, o.steps <= 1 << 31 else { throw .invalidArgument("options->steps is \(o.steps); expected 0...2^31") }
        guard o.batch_size >= 0, o.batch_size <= 1 << 20 else { throw .invalidArgument("options->batch_size is \(o.batch_size); expected 0...2^20") }
        guard o.label_dropout >= 0, o.label_dropout <= 1 else {
            throw .invalidArgument("options->label_dropout is \(o.label_dropout); expected a probability in [0, 1]")
        }
        let n = try batchArg(xt, net)
        guard count == n else { throw .shapeMismatch("count is \(count) for \(n) samples in x") }
        let y = try classLabelsArg(labels, n, maxLabel: net.numClasses - 1, what: "the denoiser has \(net.numClasses) classes")
        let own = Set(m.named.map { ObjectIdentifier($0.1) })
        for (i, p) in opt.optimizer.parameters.enumerated() where !own.contains(ObjectIdentifier(p)) {
            throw .invalidArgument("optimizer parameter \(i) is not a parameter of this model")
        }
        let batch = o.batch_size == 0 ? n : Int(o.batch_size)
        try DenoiserMemory.requireForwardFits(net, batch: batch)
        let shape = net.sampleShape, per = shape.reduce(1, *)
        let data = xt.to(net.dtype).contiguous()
        let objective = sched.objective, dropout = o.label_dropout, nullLabel = net.nullLabel
        var rows = PhiloxStream(seed: o.seed, stream: 11), rng = PhiloxStream(seed: o.seed, stream: 17)
        try GradMode.withGrad { () throws(GradusError) in
            defer { m.root.zeroGrad() }
            for step in 0..<Int(o.steps) {
                var x0 = data, y0 = y
                if o.batch_size > 0 {
                    var pick = [Int](repeating: 0, count: batch)
                    for k in 0..<batch { pick[k] = rows.nextInt(below: n) }
                    x0 = data.dtype == .float32 ? gatherRows(data, pick, per: per, shape: shape, Float.self)
                                                : gatherRows(data, pick, per: per, shape: shape, Double.self)
                    y0 = pick.map { y[$0] }
                }
                for i in 0..<y0.count where rng.nextDouble() < dropout { y0[i] = nullLabel }
                let b = try objective.makeBatch(x0: x0, rng: &rng)
                let prediction = try net.predict(b.noised, timesteps: b.timesteps, labels: y0)
                let loss = try (prediction - b.target).square().mean()
                m.root.zeroGrad()
                try loss.backward()
                try opt.optimizer.step()
                if let losses { losses[step] = try loss.item() }
            }
        }
    }
}
