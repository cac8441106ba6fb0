import GradusNN
import GradusQuant
import GradusRuntime
import GradusTensor

/// A tiny LLaMA-style byte-level language model for the Stable-SPAM 4-bit reproduction (spec `lowbit.md`
/// §2.1, §7): token + learned position embeddings, pre-RMSNorm blocks with causal multi-head attention
/// (`q_proj`, `k_proj`, `v_proj`, `o_proj`, no biases) and a SwiGLU MLP (`gate_proj`, `up_proj`,
/// `down_proj`), a final RMSNorm and a linear head. The child names are LLaMA's, so
/// `quantized(_:include: LowBitCharLLaMA.isProjection)` replaces exactly the layers Stable-SPAM's code
/// replaces; embeddings, norms and the head stay in full precision. (LLaMA's rotary embedding is replaced
/// by learned positions here.)
final class LowBitCharLLaMA: Module, QuantizableContainer, @unchecked Sendable {
    let tokenEmbedding: Embedding, positionEmbedding: Embedding
    let blocks: [Block]
    let finalNorm: RMSNorm, head: Module

    /// Names of the projections Stable-SPAM's `setup.py` replaces by its `QLinear`.
    static let projectionNames: Set<String> = ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj", "gate_proj"]

    /// `include` predicate for `Module.quantized`: the last path component is a LLaMA projection name.
    static func isProjection(_ path: String, _ module: Module) -> Bool {
        guard module is Linear || module is QuantizedLayer else { return false }
        let last = path.split(separator: ".").last.map(String.init) ?? path
        return projectionNames.contains(last)
    }

    init(vocabulary: Int, width: Int, heads: Int, hidden: Int, layers: Int, context: Int, seed: UInt64) throws(GradusError) {
        tokenEmbedding = try Embedding(vocabulary, width, seed: seed)
        positionEmbedding = try Embedding(context, width, seed: seed &+ 1)
        blocks = try (0..<layers).map { (i: Int) throws(GradusError) -> Block in
            try Block(width: width, heads: heads, hidden: hidden, seed: seed &+ UInt64(10 + 10 * i))
        }
        finalNorm = try RMSNorm(width)
        head = try Linear(width, vocabulary, bias: false, seed: seed &+ 99)
    }

    private init(tokenEmbedding: Embedding, positionEmbedding: Embedding, blocks: [Block], finalNorm: RMSNorm, head: Module) {
        self.tokenEmbedding = tokenEmbedding; self.positionEmbedding = positionEmbedding
        self.blocks = blocks; self.finalNorm = finalNorm; self.head = head
    }

    override var children: [(String, Module)] {
        [("tok", tokenEmbedding), ("pos", positionEmbedding)] + blocks.enumerated().map { ("layers.\($0.offset)", $0.element as Module) }
            + [("norm", finalNorm), ("lm_head", head)]
    }

    func replacingChildren(_ transform: (String, Module) throws(GradusError) -> Module) throws(GradusError) -> Module {
        var kids: [Module] = []
        for (name, child) in children { kids.append(try transform(name, child)) }
        guard let tok = kids[0] as? Embedding, let pos = kids[1] as? Embedding,
              let norm = kids[kids.count - 2] as? RMSNorm else { throw .internal("LowBitCharLLaMA: unexpected child types") }
        var newBlocks: [Block] = []
        for k in kids[2..<(kids.count - 2)] {
            guard let b = k as? Block else { throw .internal("LowBitCharLLaMA: a block was replaced by \(type(of: k))") }
            newBlocks.append(b)
        }
        return LowBitCharLLaMA(tokenEmbedding: tok, positionEmbedding: pos, blocks: newBlocks, finalNorm: norm, head: kids[kids.count - 1])
    }

    /// Logits (B·T, V) for token ids (B, T) given row-major.
    func logits(_ tokens: [Int], batch b: Int, length t: Int) throws(GradusError) -> Tensor {
        let positions = try positionEmbedding.weight.slice(axis: 0, start: 0, end: t)
        var h = try tokenEmbedding.embed(indices: tokens, shape: [b, t]) + positions
        for block in blocks { h = try block(h) }
        return try head(finalNorm(h)).reshaped([b * t, -1])
    }

    /// RMSNorm over the last axis with a learnable gain (LLaMA): `x / √(mean(x²) + ε) · g`.
    final class RMSNorm: Module, @unchecked Sendable {
        let weight: Tensor
        let eps: Double

        init(_ features: Int, eps: Double = 1e-6) throws(GradusError) {
            guard features > 0 else { throw .invalidArgument("RMSNorm(\(features)): size must be positive") }
            weight = Tensor.ones([features]).requiringGrad()
            self.eps = eps
        }

        override var localParameters: [(String, Tensor)] { [("weight", weight)] }

        override func forward(_ x: Tensor) throws(GradusError) -> Tensor {
            let ms = try x.square().mean(axes: [x.rank - 1], keepDims: true)
            return try x * (ms + eps).pow(-0.5) * weight
        }
    }

    /// Pre-norm block: `x + o(attn(q(n(x)), k(n(x)), v(n(x))))`, then `h + down(silu(gate(n(h))) ⊙ up(n(h)))`.
    /// Projections are held as `Module` so that `quantized` can swap them for `QuantizedLinear`.
    final class Block: Module, QuantizableContainer, @unchecked Sendable {
        let width: Int, heads: Int
        let attnNorm: RMSNorm, q: Module, k: Module, v: Module, o: Module
        let mlpNorm: RMSNorm, gate: Module, up: Module, down: Module

        init(width: Int, heads: Int, hidden: Int, seed: UInt64) throws(GradusError) {
            guard width % heads == 0 else { throw .invalidArgument("LowBitCharLLaMA: width \(width) is not a multiple of heads \(heads)") }
            self.width = width; self.heads = heads
            attnNorm = try RMSNorm(width)
            q = try Linear(width, width, bias: false, seed: seed)
            k = try Linear(width, width, bias: false, seed: seed &+ 1)
            v = try Linear(width, width, bias: false, seed: seed &+ 2)
            o = try Linear(width, width, bias: false, seed: seed &+ 3)
            mlpNorm = try RMSNorm(width)
            gate = try Linear(width, hidden, bias: false, seed: seed &+ 4)
            up = try Linear(width, hidden, bias: false, seed: seed &+ 5)
            down = try Linear(hidden, width, bias: false, seed: seed &+ 6)
        }

        private init(width: Int, heads: Int, _ m: [Module]) throws(GradusError) {
            guard m.count == 9, let an = m[0] as? RMSNorm, let mn = m[5] as? RMSNorm else {
                throw .internal("LowBitCharLLaMA.Block: unexpected children")
            }
            self.width = width; self.heads = heads
            attnNorm = an; q = m[1]; k = m[2]; v = m[3]; o = m[4]
            mlpNorm = mn; gate = m[6]; up = m[7]; down = m[8]
        }

        override var children: [(String, Module)] {
            [("attn_norm", attnNorm), ("q_proj", q), ("k_proj", k), ("v_proj", v), ("o_proj", o),
             ("mlp_norm", mlpNorm), ("gate_proj", gate), ("up_proj", up), ("down_proj", down)]
        }

        func replacingChildren(_ transform: (String, Module) throws(GradusError) -> Module) throws(GradusError) -> Module {
            var kids: [Module] = []
            for (name, child) in children { kids.append(try transform(name, child)) }
            return try Block(width: width, heads: heads, kids)
        }

        override func forward(_ x: Tensor) throws(GradusError) -> Tensor {
            // x: (B, T, E); heads split as (B, T, H, Dh) → (B, H, T, Dh)
            let b = x.shape[0], t = x.shape[1], dh = width / heads
            let n = try attnNorm(x)
            let qh = try q(n).reshaped([b, t, heads, dh]).permuted([0, 2, 1, 3])
            let kh = try k(n).reshaped([b, t, heads, dh]).permuted([0, 2, 1, 3])
            let vh = try v(n).reshaped([b, t, heads, dh]).permuted([0, 2, 1, 3])
            let a = try Attention.scaledDotProduct(query: qh, key: kh, value: vh, causal: true).output
            let h = try x + o(a.permuted([0, 2, 1, 3]).reshaped([b, t, width]))
            let m = try mlpNorm(h)
            return try h + down(gate(m).silu() * up(m))
        }
    }
}
