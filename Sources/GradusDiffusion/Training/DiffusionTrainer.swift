import GradusRuntime
import GradusTensor
import GradusNN
import GradusOptim

/// Trains a `ConditionalDenoiser` with the plain (unweighted) MSE diffusion loss and label dropout: each label is
/// replaced by the null label with probability `labelDropout`, so the same network learns conditional and
/// unconditional predictions (Ho & Salimans, classifier-free guidance).
///
/// Optimizer: Adam (β = 0.9, 0.999) at `learningRate` with global-norm clipping at 1, in the model's dtype.
/// Every random draw (timesteps, noise, dropout) comes from a Philox stream seeded at `init`, so runs reproduce.
public final class DiffusionTrainer {
    /// The model (a `Module`).
    public let model: any ConditionalDenoiser & Module
    /// Noise schedule / flow and target.
    public let objective: DiffusionObjective
    /// Probability of dropping a label to the null label (default 0.1).
    public let labelDropout: Double
    /// The optimizer over `model.parameters`.
    public let optimizer: Optimizer
    var rng: PhiloxStream
    /// Losses of the steps taken.
    public private(set) var losses: [Double] = []

    /// - Parameters:
    ///   - model: the denoiser; objective; labelDropout in `[0, 1]` (default 0.1); learningRate (default 1e-3);
    ///     seed (default 0).
    /// - Throws: `GradusError.invalidArgument` for a dropout outside `[0, 1]` or a non-positive learning rate.
    public init(model: any ConditionalDenoiser & Module, objective: DiffusionObjective, labelDropout: Double = 0.1,
                learningRate: Double = 1e-3, seed: UInt64 = 0) throws(GradusError) {
        guard labelDropout >= 0, labelDropout <= 1 else { throw .invalidArgument("DiffusionTrainer: labelDropout \(labelDropout) outside [0, 1]") }
        guard learningRate > 0, learningRate.isFinite else { throw .invalidArgument("DiffusionTrainer: learning rate must be positive") }
        self.model = model; self.objective = objective; self.labelDropout = labelDropout
        let params = model.parameters.filter(\.requiresGrad)
        switch model.dtype {
        case .float32:
            optimizer = try Optimizer(params, chain: GradientChain<Float>.adam(learningRate: .constant(learningRate)).prepending(ClipByGlobalNorm<Float>(1)))
        case .float64:
            optimizer = try Optimizer(params, chain: GradientChain<Double>.adam(learningRate: .constant(learningRate)).prepending(ClipByGlobalNorm<Double>(1)))
        }
        rng = PhiloxStream(seed: seed, stream: 17)
    }

    /// The loss of one batch (recorded): labels dropped, data noised, MSE against the target.
    /// - Parameters: x0 `(B, sampleShape...)` in the model's dtype; labels `B` classes in `0..<numClasses`.
    public func loss(x0: Tensor, labels: [Int]) throws(GradusError) -> Tensor {
        guard x0.rank >= 1, labels.count == x0.shape[0] else {
            throw .shapeMismatch("DiffusionTrainer: \(labels.count) labels for a batch of shape \(x0.shape)")
        }
        var dropped = labels
        for i in 0..<dropped.count where rng.nextDouble() < labelDropout { dropped[i] = model.nullLabel }
        let batch = try objective.makeBatch(x0: x0.to(model.dtype), rng: &rng)
        let prediction = try model.predict(batch.noised, timesteps: batch.timesteps, labels: dropped)
        return try (prediction - batch.target).square().mean()
    }

    /// One optimizer step on a batch; returns the loss.
    @discardableResult
    public func step(x0: Tensor, labels: [Int]) throws(GradusError) -> Double {
        optimizer.zeroGrad()
        let l = try loss(x0: x0, labels: labels)
        try l.backward()
        try optimizer.step()
        let v = try l.item()
        losses.append(v)
        return v
    }

    /// `steps` optimizer steps on batches from `batches(step)` (`(x0, labels)`); `log` receives
    /// `(step, mean loss of the last logEvery steps)` every `logEvery` steps (default 100).
    public func train(steps: Int, logEvery: Int = 100, batches: (Int) throws(GradusError) -> (Tensor, [Int]),
                      log: (Int, Double) -> Void = { _, _ in }) throws(GradusError) {
        guard steps >= 0 else { throw .invalidArgument("DiffusionTrainer: steps must be ≥ 0") }
        var window = 0.0, n = 0
        for s in 0..<steps {
            let (x, y) = try batches(s)
            window += try step(x0: x, labels: y); n += 1
            if logEvery > 0 && (s + 1) % logEvery == 0 { log(s + 1, window / Double(n)); window = 0; n = 0 }
        }
    }
}
