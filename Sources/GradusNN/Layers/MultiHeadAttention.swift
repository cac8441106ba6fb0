import GradusRuntime
import GradusTensor

/// Scaled dot-product attention as differentiable tensor operations.
public enum Attention {
    /// The additive causal mask for `length` positions: (length, length) with 0 on and below the
    /// diagonal and −∞ above (position i sees positions j ≤ i).
    public static func causalMask(_ length: Int, dtype: DType = .float32) -> Tensor {
        causalMask(queries: length, keys: length, dtype: dtype)
    }

    /// The additive causal mask for `queries` × `keys` positions, aligned at the top left as PyTorch's
    /// `scaled_dot_product_attention(is_causal=True)` does (`ones(L, S).tril()`): query i sees keys j ≤ i.
    public static func causalMask(queries: Int, keys: Int, dtype: DType = .float32) -> Tensor {
        var values = [Double](repeating: 0, count: queries * keys)
        for i in 0..<queries { for j in Swift.min(i + 1, keys)..<keys { values[i * keys + j] = -.infinity } }
        return Tensor(shape: [queries, keys], scalars: values, dtype: dtype)
    }

    /// `softmax(q·kᵀ·scale + mask)·v` over the last two dimensions.
    ///
    /// - Parameters:
    ///   - query: (…, Tq, d); key: (…, Tk, d); value: (…, Tk, dv); leading dimensions broadcast.
    ///   - causal: mask the future: query i sees keys j ≤ i (aligned at the top left when Tq ≠ Tk, as PyTorch).
    ///   - scale: default 1/√d.
    /// - Returns: `logits` (…, Tq, Tk) *before* masking, `weights` (the masked softmax) and `output` (…, Tq, dv).
    public static func scaledDotProduct(query: Tensor, key: Tensor, value: Tensor, causal: Bool = false,
                                        scale: Double? = nil) throws(GradusError) -> (output: Tensor, weights: Tensor, logits: Tensor) {
        guard query.rank >= 2, key.rank >= 2, value.rank >= 2 else {
            throw .shapeMismatch("attention: query \(query.shape), key \(key.shape), value \(value.shape) need rank ≥ 2")
        }
        let d = query.shape[query.rank - 1], tq = query.shape[query.rank - 2], tk = key.shape[key.rank - 2]
        guard key.shape[key.rank - 1] == d else { throw .shapeMismatch("attention: query dim \(d) vs key \(key.shape)") }
        guard value.shape[value.rank - 2] == tk else { throw .shapeMismatch("attention: key \(key.shape) vs value \(value.shape) lengths") }
        let s = scale ?? 1 / Double(Swift.max(d, 1)).squareRoot()
        let logits = try query.matmul(key.transposed()) * s
        let masked = causal ? try logits + causalMask(queries: tq, keys: tk, dtype: logits.dtype) : logits
        let weights = try masked.softmax(axis: -1)
        return (try weights.matmul(value), weights, logits)
    }
}

/// Multi-head self-attention (Vaswani et al. 2017) with an optional causal mask and optional qk-LayerNorm.
///
/// Input (B, T, E) or (T, E). One projection `in_proj` (E → 3E) gives q, k, v; each is split into `heads`
/// heads of size `E/heads`; `out_proj` (E → E) mixes the heads. With `qkNorm` (Wortsman et al. 2024, spec
/// §8.1) queries and keys pass through their own LayerNorm over the head dimension (`q_norm`, `k_norm`,
/// eps 1e-5, learnable weight and bias shared across heads) before the logits `LN(q)·LN(k)ᵀ/√d_h`.
public final class MultiHeadAttention: Module, @unchecked Sendable {
    public let embedDim: Int, heads: Int
    public let isCausal: Bool
    public let inProj: Linear, outProj: Linear
    public let qNorm: LayerNorm?, kNorm: LayerNorm?
    /// When true, `lastMaxLogit` records the largest attention logit of each forward (a stability monitor).
    public var monitorsLogits = false
    /// Largest pre-mask attention logit of the last forward (only when `monitorsLogits`).
    public private(set) var lastMaxLogit: Double?

    /// - Parameters: `embedDim` divisible by `heads`; `causal` (default false); `qkNorm` (default false);
    ///   `bias` on the projections (default true); `seed` (default: next of `Init`).
    public init(embedDim: Int, heads: Int, causal: Bool = false, qkNorm: Bool = false, bias: Bool = true,
                dtype: DType = .float32, seed: UInt64? = nil) throws(GradusError) {
        guard embedDim > 0, heads > 0, embedDim % heads == 0 else {
            throw .invalidArgument("MultiHeadAttention: embedDim \(embedDim) must be a positive multiple of heads \(heads)")
        }
        let s = seed ?? Init.nextSeed()
        self.embedDim = embedDim
        self.heads = heads
        isCausal = causal
        inProj = try Linear(embedDim, 3 * embedDim, bias: bias, dtype: dtype, seed: s)
        outProj = try Linear(embedDim, embedDim, bias: bias, dtype: dtype, seed: s &+ 2)
        qNorm = qkNorm ? try LayerNorm(embedDim / heads, dtype: dtype) : nil
        kNorm = qkNorm ? try LayerNorm(embedDim / heads, dtype: dtype) : nil
    }

    /// Size of one head.
    public var headDim: Int { embedDim / heads }

    override public var children: [(String, Module)] {
        var out: [(String, Module)] = [("in_proj", inProj)]
        if let qNorm, let kNorm { out += [("q_norm", qNorm), ("k_norm", kNorm)] }
        out.append(("out_proj", outProj))
        return out
    }

    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        guard x.rank == 2 || x.rank == 3, x.shape[x.rank - 1] == embedDim else {
            throw .shapeMismatch("MultiHeadAttention(\(embedDim)): input \(x.shape) is not (B, T, \(embedDim)) or (T, \(embedDim))")
        }
        if x.rank == 2 { return try forward(x.unsqueezed(0)).squeezed(0) }
        let b = x.shape[0], t = x.shape[1]
        let qkv = try inProj(x)                                                 // (B, T, 3E)
        // (B, T, 3, H, Dh) → (3, B, H, T, Dh)
        let split = try qkv.reshaped([b, t, 3, heads, headDim]).permuted([2, 0, 3, 1, 4])
        var q = try split.slice(axis: 0, start: 0, end: 1).squeezed(0)
        var k = try split.slice(axis: 0, start: 1, end: 2).squeezed(0)
        let v = try split.slice(axis: 0, start: 2, end: 3).squeezed(0)
        if let qNorm, let kNorm { q = try qNorm(q); k = try kNorm(k) }
        let (out, _, logits) = try Attention.scaledDotProduct(query: q, key: k, value: v, causal: isCausal)
        if monitorsLogits { lastMaxLogit = try GradMode.withoutGrad { () throws(GradusError) in try logits.max().item() } }
        // (B, H, T, Dh) → (B, T, E)
        return try outProj(out.permuted([0, 2, 1, 3]).reshaped([b, t, embedDim]))
    }
}

/// A pre-LayerNorm Transformer block: `x + attn(LN₁(x))`, then `x + MLP(LN₂(x))` with
/// MLP = Linear(E, hidden) → GELU → Linear(hidden, E) (children `ln1`, `attn`, `ln2`, `mlp`; the MLP's
/// linears are `mlp.0` and `mlp.2`). Optional dropout after the attention and after the MLP.
public final class TransformerBlock: Module, @unchecked Sendable {
    public let ln1: LayerNorm, attn: MultiHeadAttention, ln2: LayerNorm, mlp: Sequential
    let dropout1: Dropout?, dropout2: Dropout?

    /// - Parameters: `hiddenDim` (default 4·embedDim); `causal`, `qkNorm` (default false); `dropout` (default 0);
    ///   `eps` of the LayerNorms (default 1e-5).
    public init(embedDim: Int, heads: Int, hiddenDim: Int? = nil, causal: Bool = false, qkNorm: Bool = false,
                dropout: Double = 0, eps: Double = 1e-5, dtype: DType = .float32, seed: UInt64? = nil) throws(GradusError) {
        let hidden = hiddenDim ?? 4 * embedDim
        guard hidden > 0 else { throw .invalidArgument("TransformerBlock: hidden size \(hidden) must be positive") }
        let s = seed ?? Init.nextSeed()
        ln1 = try LayerNorm(embedDim, eps: eps, dtype: dtype)
        attn = try MultiHeadAttention(embedDim: embedDim, heads: heads, causal: causal, qkNorm: qkNorm, dtype: dtype, seed: s)
        ln2 = try LayerNorm(embedDim, eps: eps, dtype: dtype)
        mlp = Sequential(try Linear(embedDim, hidden, dtype: dtype, seed: s &+ 11), GELU(),
                         try Linear(hidden, embedDim, dtype: dtype, seed: s &+ 13))
        dropout1 = dropout > 0 ? try Dropout(dropout, seed: s &+ 17) : nil
        dropout2 = dropout > 0 ? try Dropout(dropout, seed: s &+ 19) : nil
    }

    override public var children: [(String, Module)] {
        var out: [(String, Module)] = [("ln1", ln1), ("attn", attn), ("ln2", ln2), ("mlp", mlp)]
        if let dropout1, let dropout2 { out += [("dropout1", dropout1), ("dropout2", dropout2)] }
        return out
    }

    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        var a = try attn(ln1(x))
        if let dropout1 { a = try dropout1(a) }
        let h = try x + a
        var m = try mlp(ln2(h))
        if let dropout2 { m = try dropout2(m) }
        return try h + m
    }
}
