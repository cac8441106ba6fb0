import GradusRuntime
import GradusTensor

/// Measures the memory a differentiable computation keeps alive, two ways:
///
/// - `peak`: the peak of `BufferPool.shared`'s live bytes above a baseline (everything allocated: graph, recomputed
///   activations, gradients). The pool is process-wide, so concurrent work on other threads is counted too.
/// - `graphPeak`: bytes of the distinct non-leaf tensor storages reachable through the recorded graph (the
///   activations backward will read), deterministic; inside a checkpoint recomputation the segment's graph is added
///   to the outer graph last seen.
public final class MemoryProbe: @unchecked Sendable {
    /// Live bytes when the probe was made (or last `reset`).
    public private(set) var baseline: Int
    /// Largest `liveBytes − baseline` seen by `sample()`.
    public private(set) var peak: Int = 0
    /// Largest graph size seen (outer graph + recomputed segment).
    public private(set) var graphPeak: Int = 0
    /// Graph size of the outer chain at the last `sample(graph:)` outside a recomputation.
    public private(set) var outerGraph: Int = 0

    public init() { baseline = BufferPool.shared.statistics.liveBytes }

    /// Samples the pool's live bytes now.
    public func sample() { peak = Swift.max(peak, BufferPool.shared.statistics.liveBytes - baseline) }

    /// Samples the pool and the graph reachable from `root`; `inRecomputation` adds it to the outer graph.
    public func sample(graph root: Tensor, inRecomputation: Bool) {
        sample()
        let bytes = MemoryProbe.graphBytes(from: root)
        if inRecomputation { graphPeak = Swift.max(graphPeak, outerGraph + bytes) }
        else { outerGraph = bytes; graphPeak = Swift.max(graphPeak, bytes) }
    }

    /// New baseline, peaks 0.
    public func reset() { baseline = BufferPool.shared.statistics.liveBytes; peak = 0; graphPeak = 0; outerGraph = 0 }

    /// Bytes of the distinct storages of non-leaf tensors reachable from `root` through recorded graph nodes
    /// (`root` included when it is not a leaf).
    public static func graphBytes(from root: Tensor) -> Int {
        var seenTensors = Set<ObjectIdentifier>(), seenStorage = Set<ObjectIdentifier>()
        var stack = [root], total = 0
        while let t = stack.popLast() {
            guard let node = t.gradNode, seenTensors.insert(ObjectIdentifier(t)).inserted else { continue }
            if seenStorage.insert(ObjectIdentifier(t.storage)).inserted { total += t.storage.byteCount }
            stack += node.inputs
        }
        return total
    }
}

/// AlignProp (Prabhudesai et al., "Aligning Text-to-Image Diffusion Models with Reward Backpropagation";
/// mihirp1998/AlignProp `pipeline_step_with_grad`): a reward of the final sample of a DDIM chain, differentiated
/// through the chain with respect to the denoiser's (LoRA) parameters.
///
/// The chain is a differentiable function of the parameters because the initial latent and the per-step noises are
/// inputs (reparameterisation). Steps `i < truncateBefore` have their model output detached (computed without
/// recording), which for parameter gradients equals detaching the latent at step `b`. With `checkpointed`, each
/// recorded model call is wrapped in `checkpoint`: only its input latent is stored and its activations are
/// recomputed during backward — same gradients, bit for bit (the recomputation runs the same kernels).
public enum AlignProp {
    /// The sampling chain's schedule: `ᾱ` of each step (index 0 noisiest) and `ᾱ'` after the last.
    public struct Chain: Sendable, Equatable {
        /// `ᾱ` at each step, noisiest first; step `i`'s previous `ᾱ` is entry `i + 1`.
        public var alphasCumprod: [Double]
        /// `ᾱ'` of the last step (1 for `set_alpha_to_one`).
        public var finalAlphaCumprod: Double
        /// The model's parameterisation (default ε).
        public var kind: Parameterization
        /// DDIM η (AlignProp's default `sample_eta` is 1).
        public var eta: Double

        public init(alphasCumprod: [Double], finalAlphaCumprod: Double = 1, kind: Parameterization = .epsilon, eta: Double = 0) {
            self.alphasCumprod = alphasCumprod; self.finalAlphaCumprod = finalAlphaCumprod; self.kind = kind; self.eta = eta
        }

        /// The chain of a `DDIMSampler` over `steps` inference timesteps (also returns those timesteps).
        public static func ddim(_ sampler: DDIMSampler, steps: Int, spacing: TimestepSpacing = .leading, offset: Int = 0,
                                eta: Double) throws(GradusError) -> (chain: Chain, timesteps: [Int]) {
            let T = sampler.schedule.trainSteps
            let ts = try inferenceTimesteps(trainSteps: T, steps: steps, spacing: spacing, offset: offset)
            var abar: [Double] = []
            for t in ts { abar.append(try sampler.schedule.alphaCumprod(at: t)) }
            let lastPrev = previousTimestep(ts[ts.count - 1], trainSteps: T, steps: steps)
            let final = try sampler.schedule.alphaCumprod(at: lastPrev, final: sampler.finalAlphaCumprod)
            return (Chain(alphasCumprod: abar, finalAlphaCumprod: final, kind: sampler.kind, eta: eta), ts)
        }

        /// Number of steps.
        public var steps: Int { alphasCumprod.count }
    }

    /// Runs the chain and returns the final sample (recorded for backward from step `truncateBefore` on).
    ///
    /// - Parameters:
    ///   - model: `(x_i, i) -> model output` at step index `i` (0 = noisiest); it must be deterministic (it is
    ///     re-run by checkpoints) and may capture trainable parameters.
    ///   - chain: the schedule of the steps.
    ///   - xT: the initial latent `(B, ...)` (a constant).
    ///   - noises: one noise per step when `chain.eta > 0` (ignored otherwise).
    ///   - truncateBefore: `b`; steps `i < b` are not differentiated (default 0: full backprop).
    ///   - checkpointed: wrap every differentiated model call in `checkpoint` (default true).
    ///   - probe: sampled after every step and inside every recomputation, to measure peak live memory.
    /// - Throws: `GradusError.invalidArgument` for a bad `b` or missing noises; errors of the model.
    public static func sample(model: @escaping (Tensor, Int) throws(GradusError) -> Tensor, chain: Chain, xT: Tensor,
                              noises: [Tensor] = [], truncateBefore b: Int = 0, checkpointed: Bool = true,
                              probe: MemoryProbe? = nil) throws(GradusError) -> Tensor {
        let n = chain.steps
        guard n >= 1 else { throw .invalidArgument("AlignProp: the chain has no steps") }
        guard b >= 0, b < n else { throw .invalidArgument("AlignProp: truncateBefore \(b) outside 0..<\(n)") }
        if chain.eta > 0 {
            guard noises.count >= n else { throw .invalidArgument("AlignProp: \(n) steps need \(n) noises, got \(noises.count)") }
        }
        var x = xT.detached()
        for i in 0..<n {
            let m: Tensor
            if i < b {
                m = try GradMode.withoutGrad { () throws(GradusError) in try model(x, i) }
            } else if checkpointed {
                m = try checkpoint([x]) { (xs: [Tensor]) throws(GradusError) -> Tensor in
                    let out = try model(xs[0], i)
                    // During backward (recording on) this is the recomputation: one step's activations are live.
                    if GradMode.isEnabled { probe?.sample(graph: out, inRecomputation: true) }
                    return out
                }
            } else {
                m = try model(x, i)
            }
            let prev = i + 1 < n ? chain.alphasCumprod[i + 1] : chain.finalAlphaCumprod
            x = try DDIMSampler.step(modelOutput: m, kind: chain.kind, alphaCumprod: chain.alphasCumprod[i],
                                     alphaCumprodPrev: prev, sample: x, eta: chain.eta,
                                     noise: chain.eta > 0 ? noises[i] : nil)
            probe?.sample(graph: x, inRecomputation: false)
        }
        return x
    }

    /// The AlignProp loss of one chain: `loss(final sample)`, where `loss` maps the final sample to a scalar
    /// (e.g. `−mean reward`, or the golden toy's `mean((x − target)²)`).
    ///
    /// Call `backward()` on the result to accumulate the parameter gradients into `.grad` (checkpoint segments
    /// deliver theirs into `.grad` during that backward).
    public static func chainLoss(model: @escaping (Tensor, Int) throws(GradusError) -> Tensor, chain: Chain, xT: Tensor,
                                 noises: [Tensor] = [], truncateBefore b: Int = 0, checkpointed: Bool = true,
                                 probe: MemoryProbe? = nil,
                                 loss: (Tensor) throws(GradusError) -> Tensor) throws(GradusError) -> (loss: Tensor, sample: Tensor) {
        let x = try sample(model: model, chain: chain, xT: xT, noises: noises, truncateBefore: b,
                           checkpointed: checkpointed, probe: probe)
        let l = try loss(x)
        guard l.count == 1 else { throw .shapeMismatch("AlignProp: the loss must be a scalar, got shape \(l.shape)") }
        return (l, x)
    }
}
