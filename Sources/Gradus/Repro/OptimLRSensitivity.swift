import GradusRuntime
import GradusTensor
import GradusData
import GradusNN
import GradusOptim

/// Learning-rate sensitivity of a small Transformer language model with and without qk-LayerNorm + z-loss
/// (Wortsman et al., "Small-scale proxies for large-scale Transformer training instabilities", ICLR 2024;
/// spec optimizers §8).
///
/// A byte-level causal Transformer (2 pre-LN blocks, width 64, 4 heads, context 64) on Debian's `fortunes`
/// text, trained at each learning rate of a sweep with the paper's recipe scaled down: AdamW β = (0.9, 0.95),
/// ε = 1e-8, independent weight decay 1e-4, global-norm clipping at 1, linear warm-up (10% of the steps) then
/// cosine decay. The two settings differ only in qk-LayerNorm and the z-loss (coefficient 1e-4).
///
/// LR sensitivity is the paper's `E_η[min(ℓ(η), ℓ₀) − ℓ*]` over the sweep: `ℓ₀` the validation loss at
/// initialisation, `ℓ*` the best final loss over the sweep (a diverged run counts as `ℓ₀`).
public enum OptimLRSensitivity: Reproduction {
    public static let name = "lr-sensitivity"
    public static let summary = "Final loss over a learning-rate sweep for a small char-level Transformer LM, with and without qk-LayerNorm + z-loss"

    static let width = 64, heads = 4, layers = 2, context = 64, batch = 16
    public static let learningRates = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
    static let zLoss = 1e-4, weightDecay = 1e-4, validationBatches = 8

    /// Token + position embeddings, pre-LN causal blocks, final LayerNorm and a linear head.
    final class CharTransformer: Module, @unchecked Sendable {
        let tokenEmbedding: Embedding, positionEmbedding: Embedding
        let blocks: [TransformerBlock]
        let finalNorm: LayerNorm, head: Linear

        init(vocabulary: Int, qkNorm: Bool, seed: UInt64) throws(GradusError) {
            tokenEmbedding = try Embedding(vocabulary, width, seed: seed)
            positionEmbedding = try Embedding(context, width, seed: seed &+ 1)
            blocks = try (0..<layers).map { (i: Int) throws(GradusError) -> TransformerBlock in
                try TransformerBlock(embedDim: width, heads: heads, causal: true, qkNorm: qkNorm, seed: seed &+ UInt64(10 + 10 * i))
            }
            finalNorm = try LayerNorm(width)
            head = try Linear(width, vocabulary, seed: seed &+ 99)
        }

        override var children: [(String, Module)] {
            [("tok", tokenEmbedding), ("pos", positionEmbedding)] + blocks.enumerated().map { ("blocks.\($0.offset)", $0.element as Module) }
                + [("ln_f", finalNorm), ("head", head)]
        }

        /// Logits (B·T, V) for token ids (B, T) given row-major.
        func logits(_ tokens: [Int], batch b: Int, length t: Int) throws(GradusError) -> Tensor {
            let positions = try positionEmbedding.weight.slice(axis: 0, start: 0, end: t)
            var h = try tokenEmbedding.embed(indices: tokens, shape: [b, t]) + positions
            for block in blocks { h = try block(h) }
            return try head(finalNorm(h)).reshaped([b * t, -1])
        }

        /// Largest attention logit over the blocks in the next forward (nil until then).
        func monitorAttention(_ on: Bool) { for block in blocks { block.attn.monitorsLogits = on } }
        var maxAttentionLogit: Double? { blocks.compactMap(\.attn.lastMaxLogit).max() }
    }

    struct Outcome { var finalLoss: Double; var maxLogit: Double; var trainLoss: Double; var diverged: Bool }

    /// Mean next-token cross-entropy over fixed validation windows (and the largest attention logit seen).
    static func validate(_ model: CharTransformer, _ windows: [(inputs: [Int], targets: [Int])]) throws(GradusError) -> (loss: Double, maxLogit: Double) {
        model.monitorAttention(true)
        defer { model.monitorAttention(false) }
        return try GradMode.withoutGrad { () throws(GradusError) -> (loss: Double, maxLogit: Double) in
            var total = 0.0, maxLogit = -Double.infinity
            for w in windows {
                let logits = try model.logits(w.inputs, batch: batch, length: context)
                total += try Loss.crossEntropy(logits, labels: w.targets).item()
                maxLogit = Swift.max(maxLogit, model.maxAttentionLogit ?? -.infinity)
            }
            return (total / Double(windows.count), maxLogit)
        }
    }

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        typealias S = OptimReproSupport
        let start = MonotonicTime.now()
        let corpus = try OptimCharCorpus.load(path: options.textPath)
        let steps = options.scaled(300, minimum: 5)
        let warmup = Swift.max(1, steps / 10)
        log("lr-sensitivity: \(corpus.tokens.count) bytes from \(corpus.source), vocabulary \(corpus.vocabularySize), \(steps) steps × \(learningRates.count) learning rates × 2 settings")
        let validation = corpus.validationWindows(count: validationBatches, batch: batch, length: context,
                                                  seed: S.seed(options.seed, 31))
        let settings = [(label: "baseline", qkNorm: false, z: 0.0), (label: "qk-LayerNorm + z-loss", qkNorm: true, z: zLoss)]
        var outcomes: [[Outcome]] = []
        var initialLoss: [Double] = []
        for setting in settings {
            var row: [Outcome] = []
            let initModel = try CharTransformer(vocabulary: corpus.vocabularySize, qkNorm: setting.qkNorm, seed: S.seed(options.seed, 32))
            initialLoss.append(try validate(initModel, validation).loss)
            for lr in learningRates {
                let t0 = MonotonicTime.now()
                let model = try CharTransformer(vocabulary: corpus.vocabularySize, qkNorm: setting.qkNorm, seed: S.seed(options.seed, 32))
                let chain = GradientChain<Float>.adamW(learningRate: try Schedule.warmupCosine(peak: lr, warmup: warmup, total: steps).validated(),
                                                       betas: (0.9, 0.95), epsilon: 1e-8, weightDecay: weightDecay,
                                                       decay: .independent(peakLearningRate: lr))
                    .prepending(ClipByGlobalNorm<Float>(1))
                let opt = try Optimizer(model.parameters, chain: chain)
                var rng = PhiloxStream(seed: S.seed(options.seed, 33), stream: 2)
                var recent: [Double] = []
                var diverged = false
                for _ in 0..<steps {
                    let w = corpus.windows(batch: batch, length: context, in: 0..<corpus.validationStart, rng: &rng)
                    opt.zeroGrad()
                    let logits = try model.logits(w.inputs, batch: batch, length: context)
                    let loss = setting.z > 0 ? try Loss.crossEntropy(logits, labels: w.targets, zLossCoefficient: setting.z)
                                             : try Loss.crossEntropy(logits, labels: w.targets)
                    let value = try loss.item()
                    guard value.isFinite else { diverged = true; break }
                    recent.append(value)
                    try loss.backward()
                    try opt.step()
                }
                let v = try validate(model, validation)
                diverged = diverged || !v.loss.isFinite
                let trainLoss = S.mean(Array(recent.suffix(20)))
                row.append(Outcome(finalLoss: v.loss, maxLogit: v.maxLogit, trainLoss: trainLoss, diverged: diverged))
                log("  \(setting.label) lr \(S.format(lr, "%.0e")): val loss \(S.format(v.loss, "%.4f")), max attention logit \(S.format(v.maxLogit, "%.1f"))\(diverged ? " (diverged)" : "") [\(S.format(S.elapsed(since: t0), "%.1f")) s]")
            }
            outcomes.append(row)
        }

        func sensitivity(_ k: Int) -> (value: Double, best: Double) {
            let losses = outcomes[k].map { $0.diverged || !$0.finalLoss.isFinite ? initialLoss[k] : Swift.min($0.finalLoss, initialLoss[k]) }
            let best = losses.min() ?? .nan
            return (S.mean(losses.map { $0 - best }), best)
        }
        let base = sensitivity(0), qk = sensitivity(1)

        var report = ReproReport(name: name)
        var table = ReproTable(title: "Validation loss (nats/byte) after \(steps) steps, batch \(batch)×\(context) bytes",
                               header: ["lr", "baseline loss", "qk-LN + z-loss loss", "baseline max attn logit", "qk-LN max attn logit"])
        for (i, lr) in learningRates.enumerated() {
            let a = outcomes[0][i], b = outcomes[1][i]
            table.rows.append([S.format(lr, "%.0e"),
                               a.diverged ? "diverged" : S.format(a.finalLoss, "%.4f"), b.diverged ? "diverged" : S.format(b.finalLoss, "%.4f"),
                               S.format(a.maxLogit, "%.1f"), S.format(b.maxLogit, "%.1f")])
        }
        report.tables.append(table)
        report.tables.append(ReproTable(title: "LR sensitivity E[min(loss, loss0) - best] over the sweep",
                                        header: ["setting", "initial loss", "best loss", "LR sensitivity"],
                                        rows: [["baseline", S.format(initialLoss[0], "%.4f"), S.format(base.best, "%.4f"), S.format(base.value, "%.4f")],
                                               ["qk-LayerNorm + z-loss", S.format(initialLoss[1], "%.4f"), S.format(qk.best, "%.4f"), S.format(qk.value, "%.4f")]]))
        let top = learningRates.count - 1
        report.claims = [
            (claim: "qk-LayerNorm + z-loss lowers learning-rate sensitivity", holds: qk.value < base.value),
            (claim: "Without qk-LayerNorm the attention logits at the highest learning rate exceed those with it (attention-logit growth)",
             holds: outcomes[0][top].maxLogit > outcomes[1][top].maxLogit),
            (claim: "qk-LayerNorm + z-loss does not hurt the best loss over the sweep (within 0.05 nats)", holds: qk.best <= base.best + 0.05),
        ]
        var settingsJSON: [String: JSON] = [:]
        for (k, s) in settings.enumerated() {
            let sens = k == 0 ? base : qk
            settingsJSON[s.label] = .object([
                "qk_layernorm": .bool(s.qkNorm), "z_loss": .number(s.z),
                "final_validation_loss": S.json(outcomes[k].map(\.finalLoss)),
                "final_train_loss": S.json(outcomes[k].map(\.trainLoss)),
                "max_attention_logit": S.json(outcomes[k].map(\.maxLogit)),
                "diverged": .array(outcomes[k].map { .bool($0.diverged) }),
                "initial_loss": S.json(initialLoss[k]), "best_loss": S.json(sens.best), "lr_sensitivity": S.json(sens.value),
            ])
        }
        report.metrics = [
            "settings": .object(["steps": .number(Double(steps)), "warmup": .number(Double(warmup)), "batch": .number(Double(batch)),
                                 "context": .number(Double(context)), "width": .number(Double(width)), "heads": .number(Double(heads)),
                                 "layers": .number(Double(layers)), "learning_rates": S.json(learningRates),
                                 "corpus": .string(corpus.source), "corpus_is_fallback": .bool(corpus.isFallback),
                                 "corpus_bytes": .number(Double(corpus.tokens.count)), "vocabulary": .number(Double(corpus.vocabularySize))]),
            "runs": .object(settingsJSON),
            "seconds": S.json(S.elapsed(since: start)),
        ]
        if corpus.isFallback {
            report.claims.append((claim: "Trained on Debian's fortunes text (files missing: the built-in fallback corpus was used instead)", holds: false))
        }
        return report
    }
}
