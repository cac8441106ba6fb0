// Sections "Layers and models", "Losses" and "Checkpoints" of include/gradus.h.
import Gradus
import _GradusShims

/// The 0.1.0 layout of gradus_layer_options (up to `p`); 0.2.0 appended eps, momentum and ghost_batch_size.
private let layerOptionsV1Size = MemoryLayout<gradus_layer_options>.offset(of: \gradus_layer_options.eps)!
/// Every published layout of gradus_layer_options, oldest first (append when the struct grows).
private let layerOptionsLayouts = [layerOptionsV1Size, MemoryLayout<gradus_layer_options>.size]
private let maxFeatures: Int64 = 1 << 28

private func layerDefaults(_ kind: gradus_layer_kind) -> gradus_layer_options {
    gradus_layer_options(struct_size: MemoryLayout<gradus_layer_options>.size, kind: kind, in_features: 0, out_features: 0, bias: 1, p: 0.5,
                         eps: 1e-5, momentum: 0.1, ghost_batch_size: 128)
}

@c @implementation public func gradus_layer_options_init(_ options: UnsafeMutablePointer<gradus_layer_options>?, _ kind: gradus_layer_kind) {
    guard let options else { return }
    OptionsStruct.write(layerDefaults(kind), to: options, bytes: layerOptionsV1Size)
}

@c @implementation public func gradus_layer_options_init_sized(_ options: UnsafeMutablePointer<gradus_layer_options>?, _ size: Int,
                                                                _ kind: gradus_layer_kind) -> gradus_status {
    OptionsStruct.initialize(options, size: size, firstLayout: layerOptionsV1Size, defaults: layerDefaults(kind), "gradus_layer_options")
}

/// One layer from a spec whose struct_size `gradus_model_create` has checked.
private func makeLayer(_ o: gradus_layer_options, index: Int, dtype: DType, seed: UInt64) throws(GradusError) -> Module {
    func features(_ v: Int64, _ name: String) throws(GradusError) -> Int {
        guard v > 0, v <= maxFeatures else { throw .invalidArgument("layers[\(index)].\(name) is \(v); expected 1...\(maxFeatures)") }
        return Int(v)
    }
    func eps() throws(GradusError) -> Double {
        guard o.eps.isFinite, o.eps >= 0 else { throw .invalidArgument("layers[\(index)].eps is \(o.eps); expected a finite value ≥ 0") }
        return o.eps
    }
    func momentum() throws(GradusError) -> Double {
        guard o.momentum >= 0, o.momentum <= 1 else { throw .invalidArgument("layers[\(index)].momentum is \(o.momentum); expected 0...1") }
        return o.momentum
    }
    let layerSeed = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
    switch o.kind {
    case GRADUS_LAYER_LINEAR:
        let i = try features(o.in_features, "in_features"), n = try features(o.out_features, "out_features")
        guard i.multipliedReportingOverflow(by: n).partialValue <= Int(maxFeatures), !i.multipliedReportingOverflow(by: n).overflow else {
            throw .outOfMemory("layers[\(index)]: \(i) x \(n) weights are too many")
        }
        return try Linear(i, n, bias: o.bias != 0, dtype: dtype, seed: layerSeed)
    case GRADUS_LAYER_RELU: return Activation(.relu)
    case GRADUS_LAYER_GELU: return Activation(.gelu)
    case GRADUS_LAYER_SILU: return Activation(.silu)
    case GRADUS_LAYER_TANH: return Activation(.tanh)
    case GRADUS_LAYER_SIGMOID: return Activation(.sigmoid)
    case GRADUS_LAYER_DROPOUT:
        guard o.p >= 0, o.p < 1 else { throw .invalidArgument("layers[\(index)].p is \(o.p); expected [0, 1)") }
        return try Dropout(o.p, seed: layerSeed)
    case GRADUS_LAYER_FLATTEN: return Flatten()
    case GRADUS_LAYER_LAYER_NORM:
        return try LayerNorm(try features(o.in_features, "in_features"), eps: try eps(), dtype: dtype)
    case GRADUS_LAYER_BATCH_NORM:
        return try BatchNorm1d(try features(o.in_features, "in_features"), eps: try eps(), momentum: try momentum(), dtype: dtype)
    case GRADUS_LAYER_GHOST_BATCH_NORM:
        guard o.ghost_batch_size >= 1, o.ghost_batch_size <= 1 << 31 else {
            throw .invalidArgument("layers[\(index)].ghost_batch_size is \(o.ghost_batch_size); expected 1...2^31")
        }
        return try GhostBatchNorm(try features(o.in_features, "in_features"), ghostBatchSize: Int(o.ghost_batch_size),
                                  eps: try eps(), momentum: try momentum(), dtype: dtype)
    default: throw .invalidArgument("layers[\(index)].kind \(o.kind) is not a GRADUS_LAYER_* value")
    }
}

@c @implementation public func gradus_model_create(
    _ layers: UnsafePointer<gradus_layer_options>?, _ count: Int, _ dtype: gradus_dtype, _ seed: UInt64,
    _ out: UnsafeMutablePointer<gradus_model?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let layers = try require(layers, "layers")
        guard count > 0, count <= 4096 else { throw .invalidArgument("count is \(count); expected 1...4096") }
        let d = try dtypeArg(dtype)
        var modules: [Module] = []
        // The array's stride is the caller's sizeof(gradus_layer_options), which is layers[0].struct_size. Only the
        // layouts this library knows are accepted: a larger stride (a newer header's struct, or an uninitialised
        // struct_size) would make the library read elements at offsets it cannot check.
        let stride = UnsafeRawPointer(layers).load(as: Int.self)
        guard layerOptionsLayouts.contains(stride) else {
            throw .invalidArgument("layers[0].struct_size is \(stride); this library reads layer arrays of "
                                   + "\(layerOptionsLayouts.map(String.init).joined(separator: " or ")) bytes per element "
                                   + "(fill every element with gradus_layer_options_init, and build against this library's header)")
        }
        for i in 0..<count {
            let element = UnsafeRawPointer(layers) + i * stride
            guard element.load(as: Int.self) == stride else {
                throw .invalidArgument("layers[\(i)].struct_size is \(element.load(as: Int.self)), layers[0]'s is \(stride); "
                                       + "fill every element with gradus_layer_options_init")
            }
            var o = layerDefaults(GRADUS_LAYER_LINEAR)
            withUnsafeMutableBytes(of: &o) { $0.copyMemory(from: UnsafeRawBufferPointer(start: element, count: Swift.min(stride, $0.count))) }
            modules.append(try makeLayer(o, index: i, dtype: d, seed: seed))
        }
        out.pointee = publish(ModelBox(Sequential(modules)))
    }
}

@inline(__always)
private func modelArg(_ m: gradus_model?) throws(GradusError) -> ModelBox {
    try HandleRegistry.shared.get(m, as: ModelBox.self, "model")
}

@c @implementation public func gradus_model_destroy(_ model: gradus_model?) -> gradus_status {
    guarded { () throws(GradusError) in
        guard HandleRegistry.shared.remove(model, as: ModelBox.self) else {
            throw .invalidHandle("model is not a live model handle (destroyed twice, stale or foreign)")
        }
    }
}

@c @implementation public func gradus_model_forward(_ model: gradus_model?, _ x: gradus_tensor?, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let m = try modelArg(model)
        let x = try tensorArg(x, "x")
        guard m.denoiser == nil else {
            throw .unsupported("model is a diffusion denoiser: it needs timesteps and labels (gradus_model_denoise)")
        }
        if let first = m.named.first?.1, first.dtype != x.dtype {
            throw .dtypeMismatch("input is \(x.dtype), model parameters are \(first.dtype)")
        }
        emit(try m.module(x), out)
    }
}

@c @implementation public func gradus_model_set_training(_ model: gradus_model?, _ training: Int32) -> gradus_status {
    guarded { () throws(GradusError) in try modelArg(model).root.train(training != 0) }
}

@c @implementation public func gradus_model_parameter_count(_ model: gradus_model?, _ out: UnsafeMutablePointer<Int>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        out.pointee = try modelArg(model).named.count
    }
}

private func parameterAt(_ m: ModelBox, _ index: Int) throws(GradusError) -> (String, Tensor) {
    guard index >= 0, index < m.named.count else {
        throw .invalidArgument("index \(index) out of range: the model has \(m.named.count) parameters")
    }
    return m.named[index]
}

@c @implementation public func gradus_model_parameter_name(
    _ model: gradus_model?, _ index: Int, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int, _ out_length: UnsafeMutablePointer<Int>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        if let out_length { out_length.pointee = 0 }
        let name = try parameterAt(try modelArg(model), index).0
        try copyOut(name, to: buffer, capacity: capacity, length: out_length)
    }
}

@c @implementation public func gradus_model_parameter_get(_ model: gradus_model?, _ index: Int, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        emit(try parameterAt(try modelArg(model), index).1, out)
    }
}

@c @implementation public func gradus_model_parameter_find(_ model: gradus_model?, _ name: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let m = try modelArg(model)
        let key = String(cString: try require(name, "name"))
        guard let t = m.named.first(where: { $0.0 == key })?.1 else { throw .notFound("the model has no parameter named '\(key)'") }
        emit(t, out)
    }
}

@c @implementation public func gradus_model_zero_grad(_ model: gradus_model?) -> gradus_status {
    guarded { () throws(GradusError) in try modelArg(model).root.zeroGrad() }
}

// MARK: - Losses

private func reductionArg(_ r: gradus_reduction) throws(GradusError) -> Reduction {
    guard let red = Reduction(rawValue: r) else { throw .invalidArgument("reduction \(r) is not a GRADUS_REDUCTION_* value") }
    return red
}

private func labelsArg(_ labels: UnsafePointer<Int32>?, _ count: Int, rows: Int) throws(GradusError) -> [Int] {
    guard count == rows else { throw .shapeMismatch("\(count) labels for \(rows) rows") }
    if count == 0 { return [] }
    let labels = try require(labels, "labels")
    return (0..<count).map { Int(labels[$0]) }
}

@c @implementation public func gradus_loss_cross_entropy(
    _ logits: gradus_tensor?, _ labels: UnsafePointer<Int32>?, _ count: Int, _ reduction: gradus_reduction,
    _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let x = try tensorArg(logits, "logits")
        let red = try reductionArg(reduction)
        guard x.rank == 2, x.shape[1] > 0 else { throw .shapeMismatch("logits must be (N, C) with C > 0, got \(x.shape)") }
        let l = try labelsArg(labels, count, rows: x.shape[0])
        emit(try Loss.crossEntropy(x, labels: l, reduction: red), out)
    }
}

@c @implementation public func gradus_loss_mse(
    _ prediction: gradus_tensor?, _ target: gradus_tensor?, _ reduction: gradus_reduction, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let p = try tensorArg(prediction, "prediction"), t = try tensorArg(target, "target")
        let red = try reductionArg(reduction)
        guard p.dtype == t.dtype else { throw .dtypeMismatch("prediction is \(p.dtype), target is \(t.dtype)") }
        emit(try Loss.mse(p, t, reduction: red), out)
    }
}

@c @implementation public func gradus_loss_bce_with_logits(
    _ logits: gradus_tensor?, _ target: gradus_tensor?, _ reduction: gradus_reduction, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let p = try tensorArg(logits, "logits"), t = try tensorArg(target, "target")
        let red = try reductionArg(reduction)
        guard p.dtype == t.dtype else { throw .dtypeMismatch("logits are \(p.dtype), target is \(t.dtype)") }
        emit(try Loss.bceWithLogits(p, t, reduction: red), out)
    }
}

@c @implementation public func gradus_loss_stablemax_cross_entropy(
    _ logits: gradus_tensor?, _ labels: UnsafePointer<Int32>?, _ count: Int, _ reduction: gradus_reduction,
    _ dtype: gradus_dtype, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let x = try tensorArg(logits, "logits")
        let red = try reductionArg(reduction)
        let d = try dtypeArg(dtype)
        guard x.rank == 2, x.shape[1] > 0 else { throw .shapeMismatch("logits must be (N, C) with C > 0, got \(x.shape)") }
        let l = try labelsArg(labels, count, rows: x.shape[0])
        emit(try Loss.stableMaxCrossEntropy(x, labels: l, reduction: red, dtype: d), out)
    }
}

@c @implementation public func gradus_loss_z_loss(
    _ logits: gradus_tensor?, _ coefficient: Double, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let x = try tensorArg(logits, "logits")
        guard x.rank == 2, x.shape[1] > 0 else { throw .shapeMismatch("logits must be (N, C) with C > 0, got \(x.shape)") }
        emit(try Loss.zLoss(x, coefficient: coefficient), out)
    }
}

@c @implementation public func gradus_accuracy(
    _ logits: gradus_tensor?, _ labels: UnsafePointer<Int32>?, _ count: Int, _ out: UnsafeMutablePointer<Double>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        let x = try tensorArg(logits, "logits")
        guard x.rank == 2, x.shape[0] > 0, x.shape[1] > 0 else { throw .shapeMismatch("logits must be (N, C), non-empty, got \(x.shape)") }
        out.pointee = try Loss.accuracy(x, labels: try labelsArg(labels, count, rows: x.shape[0]))
    }
}

// MARK: - Checkpoints

@c @implementation public func gradus_model_save(_ model: gradus_model?, _ path: UnsafePointer<CChar>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let m = try modelArg(model)
        let p = String(cString: try require(path, "path"))
        guard !p.isEmpty else { throw .invalidArgument("path is empty") }
        try Checkpoint.save(m.root.stateDict(), to: p)
    }
}

@c @implementation public func gradus_model_load(_ model: gradus_model?, _ path: UnsafePointer<CChar>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let m = try modelArg(model)
        let p = String(cString: try require(path, "path"))
        guard !p.isEmpty else { throw .invalidArgument("path is empty") }
        let state = try Checkpoint.load(p)
        let own = m.root.stateDict()
        for (k, v) in state { if let mine = own[k], mine.dtype != v.dtype { throw .dtypeMismatch("\(k): stored \(v.dtype), model \(mine.dtype)") } }
        try m.root.load(stateDict: state)
    }
}
