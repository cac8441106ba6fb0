import GradusRuntime
import GradusTensor

/// The statistics, running-average update and affine transform shared by `BatchNorm` and `GhostBatchNorm`.
/// Input (N, C, …): statistics per channel over axis 0 and every axis after 1.
struct BatchNormCore {
    let features: Int
    let eps: Double
    let momentum: Double
    let weight: Tensor?, bias: Tensor?
    let runningMean: Tensor?, runningVar: Tensor?, batchesTracked: Tensor?

    init(features: Int, eps: Double, momentum: Double, affine: Bool, trackRunningStats: Bool, dtype: DType,
         what: String) throws(GradusError) {
        guard features > 0 else { throw .invalidArgument("\(what): features \(features) must be positive") }
        guard eps >= 0, eps.isFinite else { throw .invalidArgument("\(what): eps \(eps) must be finite and ≥ 0") }
        guard momentum >= 0, momentum <= 1 else { throw .invalidArgument("\(what): momentum \(momentum) must be in [0, 1]") }
        self.features = features; self.eps = eps; self.momentum = momentum
        weight = affine ? Tensor.ones([features], dtype: dtype).requiringGrad() : nil
        bias = affine ? Tensor.zeros([features], dtype: dtype).requiringGrad() : nil
        runningMean = trackRunningStats ? Tensor.zeros([features], dtype: dtype) : nil
        runningVar = trackRunningStats ? Tensor.ones([features], dtype: dtype) : nil
        batchesTracked = trackRunningStats ? Tensor.zeros([], dtype: dtype) : nil
    }

    var parameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        if let weight { out.append(("weight", weight)) }
        if let bias { out.append(("bias", bias)) }
        return out
    }

    var buffers: [(String, Tensor)] {
        guard let runningMean, let runningVar, let batchesTracked else { return [] }
        return [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", batchesTracked)]
    }

    func setBuffer(_ name: String, _ value: Tensor) throws(GradusError) {
        guard let target = buffers.first(where: { $0.0 == name })?.1 else { throw .notFound("batch norm has no buffer \(name)") }
        guard value.shape == target.shape else { throw .shapeMismatch("\(name): value \(value.shape), buffer \(target.shape)") }
        GradMode.withoutGrad { Kernels.copy(from: value, to: target) }
    }

    /// Broadcast shape of a per-channel vector against an input of `rank`: (1, C, 1, …).
    func channelShape(_ rank: Int) -> [Int] { [1, features] + [Int](repeating: 1, count: rank - 2) }

    func check(_ x: Tensor, _ what: String) throws(GradusError) {
        guard x.rank >= 2, x.shape[1] == features else {
            throw .shapeMismatch("\(what)(\(features)): input \(x.shape) is not (N, \(features), …)")
        }
        guard x.dtype == (weight ?? runningMean)?.dtype ?? x.dtype else {
            throw .dtypeMismatch("\(what): input is \(x.dtype), layer is \((weight ?? runningMean)!.dtype)")
        }
    }

    /// Training-mode normalisation of a batch cut into consecutive row `chunks` (one chunk: plain batch norm):
    /// each chunk is normalised with its own biased statistics; the running statistics (when tracked) move once
    /// per chunk, in order, by `momentum` toward the chunk mean and *unbiased* variance, as PyTorch. One fused
    /// kernel (`BatchNormKernel`, statistics in Double); the backward is the fused first-order kernel, or, when the
    /// gradient itself is recorded (`createGraph`), the same formula in differentiable ops. Throws when a chunk has
    /// a single value per channel.
    func normalizeTraining(_ x: Tensor, chunks: [Int], _ what: String) throws(GradusError) -> Tensor {
        let spatial = x.shape.dropFirst(2).reduce(1, *)
        guard !chunks.isEmpty, chunks.reduce(0, +) == x.shape[0] else {
            throw .shapeMismatch("\(what): chunks \(chunks) do not cover a batch of \(x.shape[0])")
        }
        guard let smallest = chunks.min(), smallest * spatial > 1 else {
            throw .invalidArgument("\(what): need more than one value per channel in training, input \(x.shape)"
                                   + (chunks.count > 1 ? ", chunks \(chunks)" : ""))
        }
        let layout = BatchNormKernel.Layout(chunks: chunks, channels: features, spatial: spatial)
        let xc = GradMode.withoutGrad { x.contiguous() }
        let y = Tensor.uninitializedContiguous(x.shape, dtype: x.dtype)
        let stats: BatchNormKernel.Statistics
        switch x.dtype {
        case .float32: stats = forward(xc, y, layout, Float.self)
        case .float64: stats = forward(xc, y, layout, Double.self)
        }
        if runningMean != nil { updateRunningStatistics(stats, layout) }
        let inputs = [x] + [weight, bias].compactMap { $0 }
        let hasWeight = weight != nil, hasBias = bias != nil
        return Tensor.custom(name: "batch_norm", inputs: inputs, output: y) { g throws(GradusError) in
            let grads = GradMode.isEnabled ? try recordedBackward(x, g, chunks)
                                           : try fusedBackward(xc, g, stats, layout)
            return [grads.dx] + (hasWeight ? [grads.dgamma] : []) + (hasBias ? [grads.dbeta] : [])
        }
    }

    private func forward<T: TensorScalar>(_ x: Tensor, _ y: Tensor, _ layout: BatchNormKernel.Layout,
                                          _: T.Type) -> BatchNormKernel.Statistics {
        let stats = BatchNormKernel.statistics(UnsafePointer(x.basePointer(as: T.self)), eps: eps, layout)
        BatchNormKernel.normalize(UnsafePointer(x.basePointer(as: T.self)), into: y.basePointer(as: T.self), stats,
                                  gamma: weight.map { UnsafePointer($0.basePointer(as: T.self)) },
                                  beta: bias.map { UnsafePointer($0.basePointer(as: T.self)) }, layout)
        return stats
    }

    /// r ← (1 − m)·r + m·stat once per chunk in order (in Double, rounded once per chunk as PyTorch's CPU kernel).
    private func updateRunningStatistics(_ stats: BatchNormKernel.Statistics, _ layout: BatchNormKernel.Layout) {
        guard let runningMean, let runningVar, let batchesTracked else { return }
        func run<T: TensorScalar>(_: T.Type) {
            let rm = runningMean.basePointer(as: T.self), rv = runningVar.basePointer(as: T.self)
            let m = momentum
            for (k, rows) in layout.chunks.enumerated() {
                let n = Double(rows * layout.spatial)
                for c in 0..<features {
                    let i = k * features + c
                    rm[c] = T((1 - m) * Double(rm[c]) + m * stats.mean[i])
                    rv[c] = T((1 - m) * Double(rv[c]) + m * stats.variance[i] * (n / (n - 1)))
                }
            }
            batchesTracked.basePointer(as: T.self).pointee += T(layout.chunks.count)
        }
        if runningMean.dtype == .float32 { run(Float.self) } else { run(Double.self) }
    }

    private struct Gradients { var dx: Tensor, dgamma: Tensor, dbeta: Tensor }

    private func fusedBackward(_ x: Tensor, _ g: Tensor, _ stats: BatchNormKernel.Statistics,
                               _ layout: BatchNormKernel.Layout) throws(GradusError) -> Gradients {
        let gc = g.detached().contiguous()
        let dx = Tensor.uninitializedContiguous(x.shape, dtype: x.dtype)
        let dgamma = Tensor.uninitializedContiguous([features], dtype: x.dtype)
        let dbeta = Tensor.uninitializedContiguous([features], dtype: x.dtype)
        func run<T: TensorScalar>(_: T.Type) {
            BatchNormKernel.backward(UnsafePointer(x.basePointer(as: T.self)), gradOutput: UnsafePointer(gc.basePointer(as: T.self)),
                                     stats, gamma: weight.map { UnsafePointer($0.basePointer(as: T.self)) }, layout,
                                     gradInput: dx.basePointer(as: T.self), dgamma: dgamma.basePointer(as: T.self),
                                     dbeta: dbeta.basePointer(as: T.self))
        }
        if x.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return Gradients(dx: dx, dgamma: dgamma, dbeta: dbeta)
    }

    /// The backward in recorded tensor ops (statistics recomputed from `x`), so the gradient can be differentiated
    /// again: per chunk, x̂ = (x − μ)/σ, ĝ = g·γ, ∂x = (ĝ − mean ĝ − x̂·mean(ĝ·x̂))/σ, ∂γ = Σ g·x̂, ∂β = Σ g.
    private func recordedBackward(_ x: Tensor, _ g: Tensor, _ chunks: [Int]) throws(GradusError) -> Gradients {
        let axes = [0] + Array(2..<x.rank), shape = channelShape(x.rank)
        let xs = chunks.count == 1 ? [x] : try x.split(sizes: chunks, axis: 0)
        let gs = chunks.count == 1 ? [g] : try g.split(sizes: chunks, axis: 0)
        var dxs: [Tensor] = [], dgamma: Tensor?, dbeta: Tensor?
        for (xk, gk) in zip(xs, gs) {
            let centered = try xk - xk.mean(axes: axes, keepDims: true)
            let sigma = try (centered.square().mean(axes: axes, keepDims: true) + eps).sqrt()
            let xhat = try centered / sigma
            let ghat = try weight.map { w throws(GradusError) in try gk * w.reshaped(shape) } ?? gk
            let inner = try ghat - ghat.mean(axes: axes, keepDims: true)
                - xhat * (ghat * xhat).mean(axes: axes, keepDims: true)
            dxs.append(try inner / sigma)
            let dg = try (gk * xhat).sum(axes: axes), db = try gk.sum(axes: axes)
            dgamma = try dgamma.map { t throws(GradusError) in try t + dg } ?? dg
            dbeta = try dbeta.map { t throws(GradusError) in try t + db } ?? db
        }
        return Gradients(dx: dxs.count == 1 ? dxs[0] : try Tensor.concat(dxs, axis: 0), dgamma: dgamma!, dbeta: dbeta!)
    }

    /// Evaluation-mode normalisation with the running statistics.
    func normalizeEval(_ x: Tensor, runningMean: Tensor, runningVar: Tensor) throws(GradusError) -> Tensor {
        let shape = channelShape(x.rank)
        let mean = try runningMean.reshaped(shape), variance = try runningVar.reshaped(shape)
        return try affine((x - mean) / (variance + eps).sqrt())
    }

    func affine(_ xhat: Tensor) throws(GradusError) -> Tensor {
        var y = xhat
        if let weight { y = try y * weight.reshaped(channelShape(xhat.rank)) }
        if let bias { y = try y + bias.reshaped(channelShape(xhat.rank)) }
        return y
    }
}

/// Batch normalisation (PyTorch `nn.BatchNorm1d` / `nn.BatchNorm2d`).
///
/// Training: per channel, the biased mean and variance of the batch normalise the input, then the affine
/// weight (ones) and bias (zeros) apply; running statistics (`running_mean`, `running_var`,
/// `num_batches_tracked` buffers) follow `r ← (1 − momentum)·r + momentum·stat`, with the unbiased
/// variance. Evaluation uses the running statistics (or batch statistics when they are not tracked).
public final class BatchNorm: Module, @unchecked Sendable {
    /// Input layout: `.oneD` accepts (N, C) or (N, C, L); `.twoD` accepts (N, C, H, W).
    public enum Layout: Sendable { case oneD, twoD }

    public let layout: Layout
    let core: BatchNormCore

    public var features: Int { core.features }
    public var eps: Double { core.eps }
    public var momentum: Double { core.momentum }
    public var weight: Tensor? { core.weight }
    public var bias: Tensor? { core.bias }
    public var runningMean: Tensor? { core.runningMean }
    public var runningVar: Tensor? { core.runningVar }

    /// - Parameters: `eps` (default 1e-5), `momentum` (default 0.1), `affine` (default true),
    ///   `trackRunningStats` (default true).
    public init(_ features: Int, layout: Layout = .oneD, eps: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true, dtype: DType = .float32) throws(GradusError) {
        self.layout = layout
        core = try BatchNormCore(features: features, eps: eps, momentum: momentum, affine: affine,
                                 trackRunningStats: trackRunningStats, dtype: dtype, what: "BatchNorm")
    }

    override public var localParameters: [(String, Tensor)] { core.parameters }
    override public var localBuffers: [(String, Tensor)] { core.buffers }
    override public func setBuffer(_ name: String, _ value: Tensor) throws(GradusError) { try core.setBuffer(name, value) }

    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        let what = layout == .oneD ? "BatchNorm1d" : "BatchNorm2d"
        switch layout {
        case .oneD: guard x.rank == 2 || x.rank == 3 else { throw .shapeMismatch("\(what): input \(x.shape) is not (N, C) or (N, C, L)") }
        case .twoD: guard x.rank == 4 else { throw .shapeMismatch("\(what): input \(x.shape) is not (N, C, H, W)") }
        }
        try core.check(x, what)
        if !isTraining, let rm = core.runningMean, let rv = core.runningVar {
            return try core.normalizeEval(x, runningMean: rm, runningVar: rv)
        }
        return try core.normalizeTraining(x, chunks: [x.shape[0]], what)
    }
}

/// `BatchNorm` over (N, C) or (N, C, L) inputs.
public func BatchNorm1d(_ features: Int, eps: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true,
                        trackRunningStats: Bool = true, dtype: DType = .float32) throws(GradusError) -> BatchNorm {
    try BatchNorm(features, layout: .oneD, eps: eps, momentum: momentum, affine: affine, trackRunningStats: trackRunningStats, dtype: dtype)
}

/// `BatchNorm` over (N, C, H, W) inputs.
public func BatchNorm2d(_ features: Int, eps: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true,
                        trackRunningStats: Bool = true, dtype: DType = .float32) throws(GradusError) -> BatchNorm {
    try BatchNorm(features, layout: .twoD, eps: eps, momentum: momentum, affine: affine, trackRunningStats: trackRunningStats, dtype: dtype)
}

/// Ghost Batch Normalization (Hoffer, Hubara & Soudry 2017; official code eladhoffer/bigBatch `main_gbn.py`).
///
/// Training, input (N, C, …): the batch is cut into `K = max(1, ⌊N/ghostBatchSize⌋)` requests of consecutive
/// chunks of length `⌈N/K⌉` (PyTorch `chunk` rule: the last may be shorter, and fewer than K may result).
/// Each chunk is batch-normalised with its own biased statistics and the shared weight/bias, and the running
/// statistics are updated once per chunk, in order, with the unbiased chunk variance (as the official code
/// runs the framework's BN on each chunk). Evaluation: no chunking, running statistics.
public final class GhostBatchNorm: Module, @unchecked Sendable {
    public let ghostBatchSize: Int
    let core: BatchNormCore

    public var features: Int { core.features }
    public var weight: Tensor? { core.weight }
    public var bias: Tensor? { core.bias }
    public var runningMean: Tensor? { core.runningMean }
    public var runningVar: Tensor? { core.runningVar }

    /// - Parameters: `ghostBatchSize` (default 128, the official `--mini-batch-size`), `eps` (1e-5),
    ///   `momentum` (0.1), `affine` (true).
    public init(_ features: Int, ghostBatchSize: Int = 128, eps: Double = 1e-5, momentum: Double = 0.1,
                affine: Bool = true, dtype: DType = .float32) throws(GradusError) {
        guard ghostBatchSize > 0 else { throw .invalidArgument("GhostBatchNorm: ghost batch size \(ghostBatchSize) must be positive") }
        self.ghostBatchSize = ghostBatchSize
        core = try BatchNormCore(features: features, eps: eps, momentum: momentum, affine: affine,
                                 trackRunningStats: true, dtype: dtype, what: "GhostBatchNorm")
    }

    override public var localParameters: [(String, Tensor)] { core.parameters }
    override public var localBuffers: [(String, Tensor)] { core.buffers }
    override public func setBuffer(_ name: String, _ value: Tensor) throws(GradusError) { try core.setBuffer(name, value) }

    /// Chunk lengths for a batch of `n` samples: `K = max(1, ⌊n/ghostBatchSize⌋)`, length `⌈n/K⌉`, last shorter.
    /// `n = 10, ghostBatchSize = 4` gives [5, 5]; `n = 13` gives [5, 5, 3].
    public static func chunkSizes(batch n: Int, ghostBatchSize: Int) -> [Int] {
        guard n > 0, ghostBatchSize > 0 else { return [] }
        let k = Swift.max(1, n / ghostBatchSize)
        let length = (n + k - 1) / k
        return stride(from: 0, to: n, by: length).map { Swift.min(length, n - $0) }
    }

    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        try core.check(x, "GhostBatchNorm")
        if !isTraining, let rm = core.runningMean, let rv = core.runningVar {
            return try core.normalizeEval(x, runningMean: rm, runningVar: rv)
        }
        let sizes = GhostBatchNorm.chunkSizes(batch: x.shape[0], ghostBatchSize: ghostBatchSize)
        guard !sizes.isEmpty else { throw .shapeMismatch("GhostBatchNorm: empty batch") }
        return try core.normalizeTraining(x, chunks: sizes, "GhostBatchNorm")
    }
}
