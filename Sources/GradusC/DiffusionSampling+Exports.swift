// Section "Diffusion" of include/gradus.h, part 2: guided sampling (DDPM, DDIM, flow Euler with CFG, CFG-rescale or
// APG) and PNG image grids. The chains are GradusDiffusion's (`Sampling`, `GuidedDenoiser`, the guidance rules),
// run by `ConditionalSampling` in float32 with Philox noise, with the schedule's timestep spacing.
import Gradus
import _GradusShims

private let maxSamples = 1 << 20
private let maxNormDims = 8
private let maxPixels = 1 << 28

@c @implementation public func gradus_sample_options_init(_ options: UnsafeMutablePointer<gradus_sample_options>?,
                                                         _ guidance: gradus_guidance_kind) {
    guard let options else { return }
    OptionsStruct.write(sampleDefaults(guidance), to: options, bytes: MemoryLayout<gradus_sample_options>.size)
}

@c @implementation public func gradus_sample_options_init_sized(_ options: UnsafeMutablePointer<gradus_sample_options>?,
                                                               _ size: Int, _ guidance: gradus_guidance_kind) -> gradus_status {
    OptionsStruct.initialize(options, size: size, firstLayout: MemoryLayout<gradus_sample_options>.size,
                             defaults: sampleDefaults(guidance), "gradus_sample_options")
}

private func sampleDefaults(_ guidance: gradus_guidance_kind) -> gradus_sample_options {
    gradus_sample_options(
        struct_size: MemoryLayout<gradus_sample_options>.size, sampler: GRADUS_SAMPLER_DDIM, steps: 50, eta: 0,
        guidance: guidance, scale: 7.5, formulation: GRADUS_GUIDANCE_FORMULATION_DIFFUSERS,
        guidance_rescale: guidance == GRADUS_GUIDANCE_CFG_RESCALE ? 0.7 : 0, apg_eta: 1, apg_norm_threshold: 15,
        apg_momentum: 0, apg_norm_dims: nil, apg_norm_dim_count: 0, space: GRADUS_GUIDANCE_SPACE_MODEL_OUTPUT, seed: 0)
}

/// The validated sampling request.
private struct SampleRequest {
    var steps: Int
    var eta: Double
    var ancestral: Bool
    var space: GuidanceSpace
    var seed: UInt64
    var guidance: GuidanceChoice
}

private func finite(_ v: Double, _ name: String) throws(GradusError) -> Double {
    guard v.isFinite else { throw .invalidArgument("options->\(name) is \(v); it must be finite") }
    return v
}

private func sampleRequest(_ o: gradus_sample_options, _ sched: NoiseScheduleBox, rank: Int) throws(GradusError) -> SampleRequest {
    switch o.sampler {
    case GRADUS_SAMPLER_DDPM, GRADUS_SAMPLER_DDIM:
        guard !sched.isFlow else { throw .invalidArgument("a FLOW schedule samples with GRADUS_SAMPLER_FLOW_EULER") }
    case GRADUS_SAMPLER_FLOW_EULER:
        guard sched.isFlow else { throw .invalidArgument("GRADUS_SAMPLER_FLOW_EULER needs a GRADUS_PREDICTION_FLOW schedule") }
    default: throw .invalidArgument("options->sampler \(o.sampler) is not a GRADUS_SAMPLER_* value")
    }
    guard o.steps >= 1, Int(o.steps) <= sched.trainSteps else {
        throw .invalidArgument("options->steps is \(o.steps); expected 1...\(sched.trainSteps) (the schedule's train_steps)")
    }
    guard o.eta.isFinite, o.eta >= 0 else { throw .invalidArgument("options->eta is \(o.eta); expected a finite value ≥ 0") }
    let scale = try finite(o.scale, "scale"), phi = try finite(o.guidance_rescale, "guidance_rescale")
    guard phi >= 0, phi <= 1 else { throw .invalidArgument("options->guidance_rescale is \(phi); expected [0, 1]") }
    let formulation: CFGFormulation
    switch o.formulation {
    case GRADUS_GUIDANCE_FORMULATION_DIFFUSERS: formulation = .diffusers
    case GRADUS_GUIDANCE_FORMULATION_ORIGINAL: formulation = .original
    default: throw .invalidArgument("options->formulation \(o.formulation) is not a GRADUS_GUIDANCE_FORMULATION_* value")
    }
    let space: GuidanceSpace
    switch o.space {
    case GRADUS_GUIDANCE_SPACE_MODEL_OUTPUT: space = .modelOutput
    case GRADUS_GUIDANCE_SPACE_X0:
        guard let kind = sched.kind else { throw .invalidArgument("GRADUS_GUIDANCE_SPACE_X0 is not available for FLOW schedules") }
        space = .x0(schedule: sched.schedule, kind: kind)
    default: throw .invalidArgument("options->space \(o.space) is not a GRADUS_GUIDANCE_SPACE_* value")
    }
    let guidance: GuidanceChoice
    switch o.guidance {
    case GRADUS_GUIDANCE_NONE: guidance = .none
    case GRADUS_GUIDANCE_CFG: guidance = .cfg(scale: scale, rescale: 0, formulation: formulation)
    case GRADUS_GUIDANCE_CFG_RESCALE: guidance = .cfg(scale: scale, rescale: phi, formulation: formulation)
    case GRADUS_GUIDANCE_APG:
        let eta = try finite(o.apg_eta, "apg_eta"), r = try finite(o.apg_norm_threshold, "apg_norm_threshold")
        let beta = try finite(o.apg_momentum, "apg_momentum")
        guard r >= 0 else { throw .invalidArgument("options->apg_norm_threshold is \(r); expected ≥ 0 (0 disables)") }
        guard o.apg_norm_dim_count <= maxNormDims else {
            throw .invalidArgument("options->apg_norm_dim_count is \(o.apg_norm_dim_count); at most \(maxNormDims)")
        }
        var dims: [Int]? = nil
        if o.apg_norm_dim_count > 0 {
            let p = try require(o.apg_norm_dims, "options->apg_norm_dims")
            var seen: [Int] = []
            for i in 0..<o.apg_norm_dim_count {
                let d = Int(p[i]), a = d < 0 ? d + rank : d
                guard a >= 1, a < rank else {
                    throw .invalidArgument("options->apg_norm_dims[\(i)] is \(d); expected a non-batch axis of the rank-\(rank) samples (1...\(rank - 1) or -\(rank - 1)...-1)")
                }
                guard !seen.contains(a) else { throw .invalidArgument("options->apg_norm_dims repeats axis \(a)") }
                seen.append(a)
            }
            dims = seen
        }
        guidance = .apg(APGConfig(scale: scale, eta: eta, normThreshold: r, momentum: beta == 0 ? nil : beta,
                                  formulation: formulation, normDims: dims, guidanceRescale: phi))
    default: throw .invalidArgument("options->guidance \(o.guidance) is not a GRADUS_GUIDANCE_* value")
    }
    return SampleRequest(steps: Int(o.steps), eta: o.eta, ancestral: o.sampler == GRADUS_SAMPLER_DDPM, space: space,
                         seed: o.seed, guidance: guidance)
}

/// Runs the chain for `labels` with the request's guidance (`ConditionalSampling`, plus the schedule's spacing);
/// returns the samples, flat `(B, sampleShape...)`.
private func sample(_ net: any ConditionalDenoiser & Module, _ sched: NoiseScheduleBox, _ r: SampleRequest,
                    labels: [Int]) throws(GradusError) -> [Float] {
    guard let kind = sched.kind else {
        return try ConditionalSampling.flow(model: net, labels: labels, sampler: FlowEulerSampler(shift: sched.flowShift),
                                            steps: r.steps, trainSteps: sched.trainSteps, guidance: r.guidance, seed: r.seed)
    }
    return try ConditionalSampling.diffusion(model: net, labels: labels, schedule: sched.schedule, kind: kind, steps: r.steps,
                                             spacing: sched.spacing, offset: sched.offset, eta: r.eta, ancestral: r.ancestral,
                                             guidance: r.guidance, space: r.space, seed: r.seed)
}

@c @implementation public func gradus_diffusion_sample(
    _ model: gradus_model?, _ schedule: gradus_noise_schedule?, _ options: UnsafePointer<gradus_sample_options>?,
    _ labels: UnsafePointer<Int32>?, _ count: Int, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let (_, net) = try denoiserArg(model)
        let sched = try scheduleArg(schedule)
        var o = sampleDefaults(GRADUS_GUIDANCE_CFG)
        if let options { o = try optionsArg(options, "options") }
        guard count >= 1, count <= maxSamples else { throw .invalidArgument("count is \(count); expected 1...\(maxSamples)") }
        let l = try classLabelsArg(labels, count, maxLabel: net.numClasses, what: "\(net.numClasses) asks for an unconditional sample")
        let request = try sampleRequest(o, sched, rank: 1 + net.sampleShape.count)
        try DenoiserMemory.requireForwardFits(net, batch: 2 * count)
        let x = try sample(net, sched, request, labels: l)
        emit(Tensor(shape: [count] + net.sampleShape, scalars: x), out)
    }
}

// MARK: - Image grids

private func gridDefaults() -> gradus_image_grid_options {
    gradus_image_grid_options(struct_size: MemoryLayout<gradus_image_grid_options>.size, columns: 8,
                              value_min: -1, value_max: 1, padding: 2, upscale: 1, plot_size: 256, plot_extent: 4)
}

@c @implementation public func gradus_image_grid_options_init(_ options: UnsafeMutablePointer<gradus_image_grid_options>?) {
    guard let options else { return }
    OptionsStruct.write(gridDefaults(), to: options, bytes: MemoryLayout<gradus_image_grid_options>.size)
}

@c @implementation public func gradus_image_grid_options_init_sized(_ options: UnsafeMutablePointer<gradus_image_grid_options>?,
                                                                   _ size: Int) -> gradus_status {
    OptionsStruct.initialize(options, size: size, firstLayout: MemoryLayout<gradus_image_grid_options>.size,
                             defaults: gridDefaults(), "gradus_image_grid_options")
}

private func gridRaster(_ t: Tensor, labels: [Int]?, _ o: gradus_image_grid_options) throws(GradusError) -> Raster {
    let scale = Int(o.upscale)
    if t.rank == 2 && t.shape[1] == 2 && t.shape[0] >= 1 {
        let n = t.shape[0]
        if let labels, labels.count != n { throw .shapeMismatch("count is \(labels.count) for \(n) points") }
        let size = Int(o.plot_size)
        guard size * size * scale * scale <= maxPixels else { throw .outOfMemory("a \(size * scale)-pixel square plot is above 2^28 pixels") }
        // Points far outside the plot would overflow the pixel arithmetic: clamp them just outside (NaN stays NaN).
        let limit = Float(min(2 * o.plot_extent, Double(Float.greatestFiniteMagnitude)))
        let points = t.scalars(as: Float.self).map { $0.isNaN ? $0 : max(-limit, min(limit, $0)) }
        return try ImageGrid.scatter(points, classes: labels, size: size, extent: o.plot_extent).upscaled(scale)
    }
    guard t.rank == 4, t.shape[1] == 1 || t.shape[1] == 3, t.shape[0] >= 1, t.shape[2] >= 1, t.shape[3] >= 1 else {
        throw .shapeMismatch("samples have shape \(t.shape); expected images (N, 1 or 3, H, W) or points (N, 2)")
    }
    let n = t.shape[0], c = t.shape[1], h = t.shape[2], w = t.shape[3]
    if let labels, labels.count != n { throw .shapeMismatch("count is \(labels.count) for \(n) images") }
    let columns = Int(o.columns), pad = Int(o.padding)
    let cols = min(columns, n), rows = (n + columns - 1) / columns
    let (gw, o1) = (cols * w).addingReportingOverflow((cols + 1) * pad)
    let (gh, o2) = (rows * h).addingReportingOverflow((rows + 1) * pad)
    let (pixels, o3) = gw.multipliedReportingOverflow(by: gh)
    guard !o1, !o2, !o3, pixels.multipliedReportingOverflow(by: scale * scale).partialValue <= maxPixels,
          !pixels.multipliedReportingOverflow(by: scale * scale).overflow else {
        throw .outOfMemory("a grid of \(n) images of \(h)×\(w) is above 2^28 pixels")
    }
    return try ImageGrid.images(t.scalars(as: Float.self), count: n, channels: c, height: h, width: w, columns: columns,
                                range: (o.value_min, o.value_max), padding: pad).upscaled(scale)
}

@c @implementation public func gradus_image_grid_save(
    _ samples: gradus_tensor?, _ labels: UnsafePointer<Int32>?, _ count: Int, _ options: UnsafePointer<gradus_image_grid_options>?,
    _ path: UnsafePointer<CChar>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let t = try tensorArg(samples, "samples")
        let p = String(cString: try require(path, "path"))
        guard !p.isEmpty else { throw .invalidArgument("path is empty") }
        var o = gridDefaults()
        if let options { o = try optionsArg(options, "options") }
        guard o.columns >= 1, o.columns <= 4096 else { throw .invalidArgument("options->columns is \(o.columns); expected 1...4096") }
        guard o.padding >= 0, o.padding <= 64 else { throw .invalidArgument("options->padding is \(o.padding); expected 0...64") }
        guard o.upscale >= 1, o.upscale <= 16 else { throw .invalidArgument("options->upscale is \(o.upscale); expected 1...16") }
        guard o.plot_size >= 8, o.plot_size <= 4096 else { throw .invalidArgument("options->plot_size is \(o.plot_size); expected 8...4096") }
        guard o.plot_extent.isFinite, o.plot_extent > 0 else { throw .invalidArgument("options->plot_extent is \(o.plot_extent); expected a finite value > 0") }
        guard o.value_min.isFinite, o.value_max.isFinite, o.value_max > o.value_min else {
            throw .invalidArgument("options->value_min/value_max are \(o.value_min)/\(o.value_max); expected finite values with min < max")
        }
        guard count >= 0, count <= maxSamples else { throw .invalidArgument("count is \(count)") }
        var classes: [Int]? = nil
        if count > 0 || labels != nil {
            classes = try classLabelsArg(labels, count, maxLabel: Int(Int32.max), what: "class colours")
        }
        let raster = try gridRaster(t, labels: classes, o)
        try PNG.write(p, pixels: raster.pixels, width: raster.width, height: raster.height, color: raster.channels == 3 ? .rgb : .gray)
    }
}
