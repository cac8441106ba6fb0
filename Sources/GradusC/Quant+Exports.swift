// Section "Low-bit training" of include/gradus.h: fake quantization of tensors and of a model's Linear layers.
//
// Every field of gradus_quant_options is checked here (enums, struct_size, estimator parameters that must be
// finite); the combination rules (bits per format, MXFP4 per group, group sizes) are QuantConfig.validate's,
// which throws GradusError — so a bad configuration is a status, never a trap.
import Gradus
import _GradusShims

private let quantOptionsV1Size = MemoryLayout<gradus_quant_options>.size

@c @implementation public func gradus_quant_options_init(_ options: UnsafeMutablePointer<gradus_quant_options>?) {
    guard let options else { return }
    OptionsStruct.write(quantDefaults(), to: options, bytes: quantOptionsV1Size)
}

@c @implementation public func gradus_quant_options_init_sized(_ options: UnsafeMutablePointer<gradus_quant_options>?,
                                                                _ size: Int) -> gradus_status {
    OptionsStruct.initialize(options, size: size, firstLayout: quantOptionsV1Size, defaults: quantDefaults(), "gradus_quant_options")
}

private func quantDefaults() -> gradus_quant_options {
    gradus_quant_options(
        struct_size: MemoryLayout<gradus_quant_options>.size, bits: 8, format: GRADUS_QUANT_FORMAT_INT, symmetric: 1,
        granularity: GRADUS_QUANT_PER_TENSOR, channel_axis: 0, group_size: 128, stochastic_rounding: 0, seed: 0,
        estimator: GRADUS_QUANT_ESTIMATOR_STE, clip: 1, reste_o: 1, reste_t: 1.5)
}

/// Reads and checks a gradus_quant_options (`name` is the C parameter name for messages).
private func quantConfigArg(_ options: UnsafePointer<gradus_quant_options>?, _ name: String) throws(GradusError) -> QuantConfig {
    guard let options else { throw .invalidArgument("\(name) must not be NULL") }
    // struct_size first, read alone: a caller's older, smaller struct must not be read past its end.
    let size = UnsafeRawPointer(options).load(as: Int.self)
    guard size >= quantOptionsV1Size, size <= 65536 else {
        throw .invalidArgument("\(name)->struct_size is \(size); fill it with gradus_quant_options_init")
    }
    let o = options.pointee
    let format: QuantFormat
    switch o.format {
    case GRADUS_QUANT_FORMAT_INT: format = .int
    case GRADUS_QUANT_FORMAT_FP4_E2M1: format = .fp4E2M1
    case GRADUS_QUANT_FORMAT_MXFP4: format = .mxfp4
    case GRADUS_QUANT_FORMAT_NF4: format = .nf4
    case GRADUS_QUANT_FORMAT_BNB_FP4: format = .bnbFP4
    default: throw .invalidArgument("\(name)->format \(o.format) is not a GRADUS_QUANT_FORMAT_* value")
    }
    let granularity: QuantGranularity
    switch o.granularity {
    case GRADUS_QUANT_PER_TENSOR: granularity = .perTensor
    case GRADUS_QUANT_PER_CHANNEL:
        guard o.channel_axis >= -GRADUS_MAX_RANK, o.channel_axis < GRADUS_MAX_RANK else {
            throw .invalidArgument("\(name)->channel_axis is \(o.channel_axis); expected -\(GRADUS_MAX_RANK)..<\(GRADUS_MAX_RANK)")
        }
        granularity = .perChannel(axis: Int(o.channel_axis))
    case GRADUS_QUANT_PER_GROUP:
        guard o.group_size > 0, o.group_size <= 1 << 40 else {
            throw .invalidArgument("\(name)->group_size is \(o.group_size); expected a positive group size")
        }
        granularity = .perGroup(size: Int(o.group_size))
    default: throw .invalidArgument("\(name)->granularity \(o.granularity) is not a GRADUS_QUANT_PER_* value")
    }
    let estimator: QuantEstimator
    switch o.estimator {
    case GRADUS_QUANT_ESTIMATOR_STE: estimator = .ste
    case GRADUS_QUANT_ESTIMATOR_CLIPPED_STE:
        guard o.clip.isFinite, o.clip > 0 else { throw .invalidArgument("\(name)->clip is \(o.clip); expected a finite clip > 0") }
        estimator = .clippedSTE(clip: o.clip)
    case GRADUS_QUANT_ESTIMATOR_RESTE:
        guard o.reste_o.isFinite, o.reste_o >= 1, o.reste_t.isFinite, o.reste_t > 0 else {
            throw .invalidArgument("\(name): ReSTE needs finite o >= 1 and t > 0 (got o = \(o.reste_o), t = \(o.reste_t))")
        }
        estimator = .reste(o: o.reste_o, t: o.reste_t)
    default: throw .invalidArgument("\(name)->estimator \(o.estimator) is not a GRADUS_QUANT_ESTIMATOR_* value")
    }
    let config = QuantConfig(bits: Int(o.bits), format: format, symmetric: o.symmetric != 0, granularity: granularity,
                             rounding: o.stochastic_rounding != 0 ? .stochastic(seed: o.seed) : .nearestEven,
                             estimator: estimator)
    // The shape-free rules (bits per format, MXFP4 per group, rounding, estimator): checked on a shape every
    // granularity fits; the shape rules are checked again on the real tensor.
    var probe: [Int] = [1]
    switch granularity {
    case .perGroup(let g): probe = [g]
    case .perChannel(let axis): probe = Array(repeating: 1, count: Swift.max(1, axis < 0 ? -axis : axis + 1))
    case .perTensor: break
    }
    do { try config.validate(shape: probe) } catch { throw .invalidArgument("\(name): \(error.message)") }
    return config
}

@c @implementation public func gradus_tensor_fake_quantize(
    _ x: gradus_tensor?, _ options: UnsafePointer<gradus_quant_options>?, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let t = try tensorArg(x, "x")
        let config = try quantConfigArg(options, "options")
        emit(try t.fakeQuantized(config), out)
    }
}

@c @implementation public func gradus_model_quantize(
    _ model: gradus_model?, _ weights: UnsafePointer<gradus_quant_options>?, _ activations: UnsafePointer<gradus_quant_options>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let m = try HandleRegistry.shared.get(model, as: ModelBox.self, "model")
        guard m.denoiser == nil else { throw .unsupported("quantizing a diffusion denoiser is not supported") }
        guard weights != nil || activations != nil else {
            throw .invalidArgument("weights and activations are both NULL; give at least one configuration")
        }
        let w = weights == nil ? nil : try quantConfigArg(weights, "weights")
        let a = activations == nil ? nil : try quantConfigArg(activations, "activations")
        let scheme = LayerQuantization(weights: w.map { .fake($0) }, activations: a.map { .fake($0) })
        // quantized() validates every layer before anything is replaced and returns a new tree.
        guard let root = try m.module.quantized(scheme) as? Sequential else {
            throw .internal("quantizing a Sequential did not return a Sequential")
        }
        m.module = root
    }
}

@c @implementation public func gradus_model_dequantize(_ model: gradus_model?) -> gradus_status {
    guarded { () throws(GradusError) in
        let m = try HandleRegistry.shared.get(model, as: ModelBox.self, "model")
        guard let root = try m.module.dequantized() as? Sequential else {
            throw .internal("dequantizing a Sequential did not return a Sequential")
        }
        m.module = root
    }
}

@c @implementation public func gradus_model_quantized_layer_count(_ model: gradus_model?, _ out: UnsafeMutablePointer<Int>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        out.pointee = try HandleRegistry.shared.get(model, as: ModelBox.self, "model").module.quantizedLayers.count
    }
}
