import GradusRuntime
import GradusTensor
import GradusNN

/// A class-conditional denoiser: `(x_t, timesteps, labels) -> model output` with the shape of `x_t`.
///
/// Label `numClasses` is the "null" label: a model trained with label dropout (`DiffusionTrainer`) gives the
/// unconditional prediction for it, so one model serves CFG and APG (both predictions from one batched forward).
public protocol ConditionalDenoiser: AnyObject {
    /// Number of real classes; the null label is `numClasses`.
    var numClasses: Int { get }
    /// Shape of one sample (`[2]` for 2-D points, `[1, 28, 28]` for images).
    var sampleShape: [Int] { get }
    /// The parameter dtype.
    var dtype: DType { get }
    /// The prediction for `x` (`(B, sampleShape...)`), one timestep and one label (in `0...numClasses`) per row.
    func predict(_ x: Tensor, timesteps: [Double], labels: [Int]) throws(GradusError) -> Tensor
}

extension ConditionalDenoiser {
    /// The label that asks for the unconditional prediction.
    public var nullLabel: Int { numClasses }

    /// Validates labels and timesteps against a batch of `batch` rows.
    func checkConditioning(batch: Int, timesteps: [Double], labels: [Int]) throws(GradusError) {
        guard timesteps.count == batch, labels.count == batch else {
            throw .shapeMismatch("denoiser: \(batch) samples, \(timesteps.count) timesteps, \(labels.count) labels")
        }
        for l in labels where l < 0 || l > numClasses {
            throw .invalidArgument("denoiser: label \(l) outside 0...\(numClasses) (\(numClasses) is the null label)")
        }
        for t in timesteps where !t.isFinite { throw .invalidArgument("denoiser: non-finite timestep") }
    }

    /// The model as the `(x (2B, ...), t) -> output` closure `GuidedDenoiser` calls: the first `B` rows get the
    /// null label, the last `B` rows `labels` (diffusers' order), all at timestep `t`.
    /// - Parameter labels: the `B` requested classes.
    public func guidedModel(labels: [Int]) -> ([Float], Int) throws(GradusError) -> [Float] {
        let shape = sampleShape, batch = labels.count
        let doubled = [Int](repeating: nullLabel, count: batch) + labels
        return { (x: [Float], t: Int) throws(GradusError) -> [Float] in
            let input = try Tensor.make(shape: [2 * batch] + shape, scalars: x.map(Double.init), dtype: .float32).to(self.dtype)
            let out = try GradMode.withoutGrad { () throws(GradusError) in
                try self.predict(input, timesteps: [Double](repeating: Double(t), count: 2 * batch), labels: doubled)
            }
            return out.scalars(as: Float.self)
        }
    }

    /// Conditional and unconditional predictions from one batched forward at a continuous timestep (flow models):
    /// returns `(cond, uncond)`, each `(B, ...)` flat.
    public func predictPair(_ x: [Float], timestep: Double, labels: [Int]) throws(GradusError) -> (cond: [Float], uncond: [Float]) {
        let batch = labels.count, n = x.count
        let input = try Tensor.make(shape: [2 * batch] + sampleShape, scalars: (x + x).map(Double.init), dtype: .float32).to(dtype)
        let out = try GradMode.withoutGrad { () throws(GradusError) in
            try predict(input, timesteps: [Double](repeating: timestep, count: 2 * batch),
                        labels: [Int](repeating: nullLabel, count: batch) + labels)
        }.scalars(as: Float.self)
        return (Array(out[n..<(2 * n)]), Array(out[0..<n]))
    }
}

/// Sinusoidal time embedding followed by a two-layer MLP, plus a learned class embedding (with a null row):
/// the conditioning vector `(B, width)` both denoisers add to their features.
public final class ConditioningEmbedding: Module, @unchecked Sendable {
    public let sinusoid: SinusoidalTimeEmbedding
    public let time1: Linear, time2: Linear
    public let classes: Embedding
    public let width: Int

    /// - Parameters: numClasses (the table has one more row, the null label); width; frequencies (default 32).
    public init(numClasses: Int, width: Int, frequencies: Int = 32, dtype: DType, seed: UInt64) throws(GradusError) {
        guard numClasses >= 1 else { throw .invalidArgument("ConditioningEmbedding: numClasses must be ≥ 1") }
        sinusoid = try SinusoidalTimeEmbedding(dim: frequencies)
        time1 = try Linear(frequencies, width, dtype: dtype, seed: seed)
        time2 = try Linear(width, width, dtype: dtype, seed: seed &+ 2)
        classes = try Embedding(numClasses + 1, width, dtype: dtype, seed: seed &+ 4)
        self.width = width
        super.init()
        // Small class vectors: the null row starts near the others, so early unconditional predictions are sane.
        GradMode.withoutGrad { () in
            let p = classes.weight
            let scaled = p * 0.1
            GradusTensor.Kernels.copy(from: scaled, to: p)
        }
    }

    override public var children: [(String, Module)] { [("time1", time1), ("time2", time2), ("classes", classes)] }

    /// `(B, width)` for one timestep and label per row.
    public func embed(timesteps: [Double], labels: [Int], dtype: DType) throws(GradusError) -> Tensor {
        let s: [Double] = sinusoid(timesteps)
        let t = Tensor(shape: [timesteps.count, sinusoid.dim], scalars: s, dtype: dtype)
        let temb = try time2(try time1(t).silu())
        return try temb + classes.embed(indices: labels, shape: [labels.count])
    }
}
