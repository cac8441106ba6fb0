import GradusNN
import GradusRuntime
import GradusTensor
import _GradusTestSupport
import Testing

@Suite struct AttentionTests {
    @Test func causalMaskBlocksTheFuture() throws {
        let mha = try MultiHeadAttention(embedDim: 8, heads: 2, causal: true, dtype: .float64, seed: 1)
        let x = randn([2, 5, 8], seed: 51)
        let y = try mha(x)
        // Changing position 3 onward leaves outputs 0..<3 unchanged and changes 3 and 4.
        let changed = try Tensor.concat([x.slice(axis: 1, start: 0, end: 3), randn([2, 2, 8], seed: 52)], axis: 1)
        let y2 = try mha(changed)
        #expect(maxAbsDifference(try y.slice(axis: 1, start: 0, end: 3), try y2.slice(axis: 1, start: 0, end: 3)) == 0)
        #expect(maxAbsDifference(try y.slice(axis: 1, start: 3, end: 5), try y2.slice(axis: 1, start: 3, end: 5)) > 1e-6)
        // And no gradient reaches the past from the future: d y[:, 1] / d x[:, 2...] = 0.
        let leaf = x.clone().requiringGrad()
        let g = try Tensor.gradients(of: [try mha(leaf).slice(axis: 1, start: 1, end: 2).sum()], wrt: [leaf])[0]
        #expect(try g.slice(axis: 1, start: 2, end: 5).abs().max().item() == 0)
        #expect(try g.slice(axis: 1, start: 0, end: 2).abs().max().item() > 0)
        // Weights: upper triangle exactly 0, rows sum to 1.
        let q = randn([4, 3], seed: 53)
        let w = try Attention.scaledDotProduct(query: q, key: q, value: q, causal: true).weights.scalars(as: Double.self)
        for i in 0..<4 {
            for j in (i + 1)..<4 { #expect(w[i * 4 + j] == 0) }
            #expect(abs(w[(i * 4)..<(i * 4 + 4)].reduce(0, +) - 1) < 1e-14)
        }
        // Without the mask the future matters.
        let open = try MultiHeadAttention(embedDim: 8, heads: 2, dtype: .float64, seed: 1)
        #expect(maxAbsDifference(try open(x).slice(axis: 1, start: 0, end: 3), try open(changed).slice(axis: 1, start: 0, end: 3)) > 1e-6)
    }

    @Test func matchesPerHeadReference() throws {
        // Heads computed one at a time with plain attention agree with the batched layer.
        let mha = try MultiHeadAttention(embedDim: 6, heads: 3, causal: true, dtype: .float64, seed: 2)
        let x = randn([4, 6], seed: 54)
        let y = try mha(x)
        let qkv = try Tensor.linear(x, weight: mha.inProj.weight, bias: mha.inProj.bias)   // (T, 18)
        var heads: [Tensor] = []
        for h in 0..<3 {
            let q = try qkv.slice(axis: 1, start: 2 * h, end: 2 * h + 2)
            let k = try qkv.slice(axis: 1, start: 6 + 2 * h, end: 6 + 2 * h + 2)
            let v = try qkv.slice(axis: 1, start: 12 + 2 * h, end: 12 + 2 * h + 2)
            heads.append(try Attention.scaledDotProduct(query: q, key: k, value: v, causal: true).output)
        }
        let ref = try Tensor.linear(Tensor.concat(heads, axis: 1), weight: mha.outProj.weight, bias: mha.outProj.bias)
        #expect(maxAbsDifference(y, ref) < 1e-13)
    }

    @Test func namesGradientsAndQKNorm() throws {
        let mha = try MultiHeadAttention(embedDim: 4, heads: 2, causal: true, qkNorm: true, dtype: .float64, seed: 3)
        #expect(mha.namedParameters().map(\.0) == ["in_proj.weight", "in_proj.bias", "q_norm.weight", "q_norm.bias",
                                                   "k_norm.weight", "k_norm.bias", "out_proj.weight", "out_proj.bias"])
        try checkModuleGradients(mha, input: randn([2, 3, 4], seed: 55))
        try gradgradcheck({ t in
            try Attention.scaledDotProduct(query: t[0], key: t[1], value: t[2], causal: true).output.square()
        }, inputs: [randn([3, 2], seed: 56), randn([3, 2], seed: 57), randn([3, 2], seed: 58)])
        // qk-LayerNorm bounds the logits: scaling the input up does not blow them up.
        mha.monitorsLogits = true
        _ = try mha(randn([1, 3, 4], seed: 59) * 1000)
        let bounded = try #require(mha.lastMaxLogit)
        #expect(bounded < 10)
        #expect(throws: GradusError.self) { try MultiHeadAttention(embedDim: 5, heads: 2) }
        #expect(throws: GradusError.self) { try mha(randn([2, 3, 5], seed: 1)) }
    }

    @Test func transformerBlock() throws {
        let block = try TransformerBlock(embedDim: 4, heads: 2, hiddenDim: 6, causal: true, dtype: .float64, seed: 4)
        #expect(block.namedParameters().map(\.0) == [
            "ln1.weight", "ln1.bias", "attn.in_proj.weight", "attn.in_proj.bias", "attn.out_proj.weight", "attn.out_proj.bias",
            "ln2.weight", "ln2.bias", "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"])
        let x = randn([2, 3, 4], seed: 61)
        // Pre-LN residual structure, recomputed from the parts.
        let h = try x + block.attn(block.ln1(x))
        let ref = try h + block.mlp(block.ln2(h))
        #expect(maxAbsDifference(try block(x), ref) < 1e-14)
        try checkModuleGradients(block, input: x)
        // Dropout inside the block switches off in eval.
        let dropped = try TransformerBlock(embedDim: 4, heads: 1, dropout: 0.5, dtype: .float64, seed: 5)
        dropped.eval()
        #expect(maxAbsDifference(try dropped(x), try dropped(x)) == 0)
    }
}
