import GradusRuntime
import GradusTensor
import GradusNN

/// A class-conditional MLP denoiser for low-dimensional data (2-D mixtures, rings; spec §8):
/// `h₀ = W_in·x + c`, `hₖ = W_k·silu(hₖ₋₁) + c` for `depth − 1` hidden layers, `out = W_out·silu(h)`, where `c` is the
/// `ConditioningEmbedding` of (timestep, label). Hidden and output layers can be swapped for `LoRALinear` adapters
/// (`enableLoRA`) for AlignProp fine-tuning.
public final class DenoiserMLP: Module, ConditionalDenoiser, @unchecked Sendable {
    public let numClasses: Int
    public let dataDim: Int
    public let hiddenWidth: Int
    public let dtype: DType
    public let conditioning: ConditioningEmbedding
    public let input: Linear
    /// Hidden layers (`Linear`, or `LoRALinear` after `enableLoRA`).
    public private(set) var hidden: [Module]
    /// Output layer (`Linear`, or `LoRALinear` after `enableLoRA`).
    public private(set) var output: Module

    public var sampleShape: [Int] { [dataDim] }

    /// - Parameters:
    ///   - dataDim: features per sample (2 for points).
    ///   - numClasses: real classes (≥ 1); label `numClasses` is the null label.
    ///   - hidden: width (default 128); depth: number of `hidden → hidden` layers + 1 (default 3).
    ///   - dtype: default float32; seed: default 0.
    public init(dataDim: Int, numClasses: Int, hidden: Int = 128, depth: Int = 3, dtype: DType = .float32,
                seed: UInt64 = 0) throws(GradusError) {
        guard dataDim >= 1, hidden >= 1, depth >= 1 else {
            throw .invalidArgument("DenoiserMLP: dataDim, hidden and depth must be ≥ 1")
        }
        self.numClasses = numClasses; self.dataDim = dataDim; self.hiddenWidth = hidden; self.dtype = dtype
        conditioning = try ConditioningEmbedding(numClasses: numClasses, width: hidden, dtype: dtype, seed: seed &+ 100)
        input = try Linear(dataDim, hidden, dtype: dtype, seed: seed &+ 1)
        var layers: [Module] = []
        for k in 0..<(depth - 1) { layers.append(try Linear(hidden, hidden, dtype: dtype, seed: seed &+ 10 &+ UInt64(k) &* 2)) }
        self.hidden = layers
        output = try Linear(hidden, dataDim, dtype: dtype, seed: seed &+ 3)
        super.init()
    }

    override public var children: [(String, Module)] {
        [("conditioning", conditioning), ("input", input)]
            + hidden.enumerated().map { ("hidden.\($0.offset)", $0.element) } + [("output", output)]
    }

    public func predict(_ x: Tensor, timesteps: [Double], labels: [Int]) throws(GradusError) -> Tensor {
        guard x.rank == 2, x.shape[1] == dataDim else { throw .shapeMismatch("DenoiserMLP: x must be (B, \(dataDim)), got \(x.shape)") }
        try checkConditioning(batch: x.shape[0], timesteps: timesteps, labels: labels)
        let c = try conditioning.embed(timesteps: timesteps, labels: labels, dtype: dtype)   // (B, H)
        var h = try input(x) + c
        for layer in hidden { h = try layer(try h.silu()) + c }
        return try output(try h.silu())
    }

    /// Freezes every parameter and wraps the hidden and output layers in rank-`rank` LoRA adapters (B = 0, so the
    /// model is unchanged). Returns the adapter parameters (what AlignProp trains). Calling it twice throws.
    public func enableLoRA(rank: Int, alpha: Double? = nil, seed: UInt64 = 0) throws(GradusError) -> [Tensor] {
        guard !(output is LoRALinear) else { throw .invalidState("DenoiserMLP: LoRA is already enabled") }
        for p in parameters { p.requiresGrad = false }
        var adapters: [Tensor] = []
        var newHidden: [Module] = []
        for (k, layer) in hidden.enumerated() {
            guard let linear = layer as? Linear else { throw .invalidState("DenoiserMLP: hidden layer \(k) is not Linear") }
            let l = try LoRALinear(base: linear, rank: rank, alpha: alpha, seed: seed &+ UInt64(k))
            adapters += l.parameters; newHidden.append(l)
        }
        guard let out = output as? Linear else { throw .invalidState("DenoiserMLP: output layer is not Linear") }
        let lo = try LoRALinear(base: out, rank: rank, alpha: alpha, seed: seed &+ 99)
        adapters += lo.parameters
        hidden = newHidden; output = lo
        return adapters
    }
}
