import Glibc
import GradusData
import GradusNN
import GradusOptim
import GradusQuant
import GradusRuntime
import GradusTensor

/// Stable-SPAM's 4-bit training claim at CPU scale (Huang et al., "Stable-SPAM: How to Train in 4-Bit More
/// Stably than 16-Bit Adam", 2025; spec `lowbit.md` §2, §7): a tiny LLaMA-style byte-level LM
/// (`LowBitCharLLaMA`: 2 blocks, width 64, 4 heads, SwiGLU 192, context 32) on Debian's `fortunes`, whose
/// q/k/v/o/gate/up/down projections are Stable-SPAM's INT4 `QLinear` (W4 asymmetric per group, A4
/// symmetric per group with the top-2 outliers kept, STE; group 64 because the layers are small). Embeddings,
/// norms and the head stay in float32, as in the paper's code.
///
/// Optimizers at the paper's 4-bit settings (README / spec optimizers §3.2): Stable-SPAM with γ1 = 0.7,
/// γ2 = 0.9, θ (γ3) = 0.999, momentum reset every 500 steps, cosine decay of β1/γ1 over training
/// (`total_T` = steps, η_min 0.5); Adam (0.9, 0.999), ε 1e-8. Both with the training script's warm-up
/// (10%) + cosine learning rate, at the README's 4-bit lr 4e-4 and two larger rates (1e-3, 3e-3), plus
/// float32 Adam at each rate as the reference. No gradient clipping for Adam.
///
/// Metrics: validation loss and perplexity after training (fixed held-out windows), final training loss
/// (mean of the last 10% of steps), loss spikes (loss > 2× the running median of the previous 50 steps),
/// the largest global gradient norm, steps to reach float32 Adam's final training loss. Claims: 4-bit
/// Stable-SPAM's final validation loss ≤ 4-bit Adam's at the paper's lr, and at the best lr of each.
public enum LowBitStableSPAM4bit: Reproduction {
    public static let name = "stable-spam-4bit"
    public static let summary = "INT4 (W4A4) LLaMA-style char LM on fortunes: Adam vs Stable-SPAM at the paper's settings, float32 Adam as reference"

    /// The README's 4-bit learning rate first, then two larger ones.
    public static let learningRates = [4e-4, 1e-3, 3e-3]
    static let width = 64, heads = 4, hidden = 192, layers = 2, context = 32, batch = 16, groupSize = 64
    static let validationBatches = 8, resetInterval = 500

    static func spikes(_ losses: [Double]) -> Int {
        var count = 0
        for i in 50..<Swift.max(50, losses.count) {
            var window = Array(losses[(i - 50)..<i]); window.sort()
            if losses[i] > 2 * window[25] { count += 1 }
        }
        return count
    }

    static func stepsToReach(_ target: Double, _ losses: [Double]) -> Int? {
        // running mean over 20 steps, first step at or below the target
        var acc = 0.0
        for (i, l) in losses.enumerated() {
            acc += l
            if i >= 20 { acc -= losses[i - 20] }
            if i >= 19, acc / 20 <= target { return i + 1 }
        }
        return nil
    }

    /// One training run's outcome.
    struct Outcome {
        var label: String
        var run = LowBitRepro.Run(label: "")
        var validationLoss = Double.nan
        var maxGradNorm = 0.0
        var gradNormStd = Double.nan
    }

    enum Method: String { case fp32Adam = "fp32 Adam", int4Adam = "INT4 Adam", int4StableSPAM = "INT4 Stable-SPAM" }

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        typealias S = OptimReproSupport
        let start = MonotonicTime.now()
        let corpus = try OptimCharCorpus.load(path: options.textPath)
        let steps = options.scaled(600, minimum: 4)
        let warmup = Swift.max(1, steps / 10)
        log("stable-spam-4bit: \(corpus.tokens.count) bytes from \(corpus.source), vocabulary \(corpus.vocabularySize), \(steps) steps per run, batch \(batch)×\(context)")
        let validation = corpus.validationWindows(count: steps >= 100 ? validationBatches : 1, batch: batch, length: context,
                                                  seed: S.seed(options.seed, 51))
        let scheme = LayerQuantization.stableSPAMInt4(groupSize: groupSize)

        func train(_ method: Method, lr: Double) throws(GradusError) -> Outcome {
            let t0 = MonotonicTime.now()
            let float = try LowBitCharLLaMA(vocabulary: corpus.vocabularySize, width: width, heads: heads, hidden: hidden,
                                            layers: layers, context: context, seed: S.seed(options.seed, 52))
            let module: Module = try method == .fp32Adam ? float : float.quantized(scheme, include: LowBitCharLLaMA.isProjection)
            guard let model = module as? LowBitCharLLaMA else { throw .internal("stable-spam-4bit: quantized model has type \(type(of: module))") }
            let schedule = try Schedule.warmupCosine(peak: lr, warmup: warmup, total: steps).validated()
            let chain: GradientChain<Float> = method == .int4StableSPAM
                ? .stableSPAM(learningRate: schedule, gamma1: 0.7, gamma2: 0.9, gamma3: 0.999, totalSteps: steps,
                              minimumFactor: 0.5, resetInterval: resetInterval)
                : .adam(learningRate: schedule, betas: (0.9, 0.999), epsilon: 1e-8)
            let opt = try Optimizer(model.parameters, chain: chain)
            var rng = PhiloxStream(seed: S.seed(options.seed, 53), stream: 2)
            var out = Outcome(label: "\(method.rawValue) lr \(S.format(lr, "%.0e"))")
            out.run.label = out.label
            var norms: [Double] = []
            for _ in 0..<steps {
                let w = corpus.windows(batch: batch, length: context, in: 0..<corpus.validationStart, rng: &rng)
                opt.zeroGrad()
                let loss = try Loss.crossEntropy(model.logits(w.inputs, batch: batch, length: context), labels: w.targets)
                let value = try loss.item()
                out.run.losses.append(value)
                guard value.isFinite else { break }
                try loss.backward()
                norms.append(S.gradientNorm(model.parameters, power: 2))
                try opt.step()
            }
            let tail = Swift.max(1, out.run.losses.count / 10)
            out.run.finalLoss = LowBitRepro.mean(Array(out.run.losses.suffix(tail)))
            out.maxGradNorm = norms.max() ?? .nan
            out.gradNormStd = LowBitRepro.std(norms)
            if out.run.finalLoss.isFinite {
                out.validationLoss = try GradMode.withoutGrad { () throws(GradusError) -> Double in
                    var total = 0.0
                    for v in validation {
                        total += try Loss.crossEntropy(model.logits(v.inputs, batch: batch, length: context), labels: v.targets).item()
                    }
                    return total / Double(validation.count)
                }
            }
            out.run.testLoss = out.validationLoss
            out.run.seconds = MonotonicTime.now() - t0
            log("  \(out.label): train \(S.format(out.run.finalLoss, "%.4f")), val \(S.format(out.validationLoss, "%.4f")) (ppl \(S.format(Glibc.exp(out.validationLoss), "%.2f"))), \(spikes(out.run.losses)) spikes, max |g| \(S.format(out.maxGradNorm, "%.3g")) [\(S.format(out.run.seconds, "%.1f")) s]")
            return out
        }

        // learning rate by learning rate (the paper's first), so the log holds complete comparisons early
        var results: [Method: [Outcome]] = [.fp32Adam: [], .int4Adam: [], .int4StableSPAM: []]
        for lr in learningRates {
            for method in [Method.int4Adam, .int4StableSPAM, .fp32Adam] { results[method]!.append(try train(method, lr: lr)) }
        }
        let fp32 = results[.fp32Adam]!, adam = results[.int4Adam]!, spam = results[.int4StableSPAM]!

        func finite(_ x: Double) -> Double { x.isFinite ? x : .infinity }
        func best(_ xs: [Outcome]) -> (Int, Double) {
            var i = 0
            for k in xs.indices where finite(xs[k].validationLoss) < finite(xs[i].validationLoss) { i = k }
            return (i, finite(xs[i].validationLoss))
        }
        let (iRef, _) = best(fp32), (iAdam, bestAdam) = best(adam), (iSpam, bestSpam) = best(spam)
        let target = fp32[iRef].run.finalLoss

        var table = ReproTable(title: "Validation loss (nats/byte) and perplexity after \(steps) steps; INT4 = W4A4 group \(groupSize) + top-2 outliers on q/k/v/o/gate/up/down",
                               header: ["run", "lr", "val loss", "val ppl", "final train loss", "spikes", "max grad norm", "steps to fp32 best", "s"])
        for method in [Method.fp32Adam, .int4Adam, .int4StableSPAM] {
            for (k, r) in results[method]!.enumerated() {
                let reach = stepsToReach(target, r.run.losses).map { "\($0)" } ?? "—"
                table.rows.append([method.rawValue, S.format(learningRates[k], "%.0e"),
                                   r.validationLoss.isFinite ? S.format(r.validationLoss, "%.4f") : "diverged",
                                   S.format(Glibc.exp(r.validationLoss), "%.3f"), S.format(r.run.finalLoss, "%.4f"),
                                   "\(spikes(r.run.losses))", S.format(r.maxGradNorm, "%.3g"), reach, S.format(r.run.seconds, "%.1f")])
            }
        }
        var report = ReproReport(name: name)
        report.tables.append(table)
        report.claims.append((claim: "at the paper's 4-bit lr (4e-4) 4-bit Stable-SPAM's validation loss ≤ 4-bit Adam's (\(S.format(spam[0].validationLoss, "%.4f")) vs \(S.format(adam[0].validationLoss, "%.4f")))",
                              holds: finite(spam[0].validationLoss) <= finite(adam[0].validationLoss) && spam[0].validationLoss.isFinite))
        report.claims.append((claim: "at the best lr of each, 4-bit Stable-SPAM's validation loss ≤ 4-bit Adam's (\(S.format(bestSpam, "%.4f")) at \(S.format(learningRates[iSpam], "%.0e")) vs \(S.format(bestAdam, "%.4f")) at \(S.format(learningRates[iAdam], "%.0e")))",
                              holds: bestSpam <= bestAdam && bestSpam.isFinite))
        if corpus.isFallback {
            report.claims.append((claim: "Trained on Debian's fortunes text (files missing: the built-in fallback corpus was used instead)", holds: false))
        }
        func runsJSON(_ xs: [Outcome]) -> JSON {
            .array(xs.enumerated().map { (k, r) in
                .object(["lr": .number(learningRates[k]), "validation_loss": S.json(r.validationLoss),
                         "validation_perplexity": S.json(Glibc.exp(r.validationLoss)), "final_train_loss": S.json(r.run.finalLoss),
                         "spikes": .number(Double(spikes(r.run.losses))), "max_grad_norm": S.json(r.maxGradNorm),
                         "grad_norm_std": S.json(r.gradNormStd), "seconds": .number(r.run.seconds),
                         "loss_curve": .array(LowBitRepro.curve(r.run.losses).map { S.json($0) })])
            })
        }
        report.metrics = [
            "settings": .object(["steps": .number(Double(steps)), "warmup": .number(Double(warmup)), "batch": .number(Double(batch)),
                                 "context": .number(Double(context)), "width": .number(Double(width)), "heads": .number(Double(heads)),
                                 "hidden": .number(Double(hidden)), "layers": .number(Double(layers)), "group_size": .number(Double(groupSize)),
                                 "learning_rates": S.json(learningRates), "reset_interval": .number(Double(resetInterval)),
                                 "gamma1": .number(0.7), "gamma2": .number(0.9), "gamma3": .number(0.999),
                                 "corpus": .string(corpus.source), "corpus_is_fallback": .bool(corpus.isFallback)]),
            "fp32_adam": runsJSON(fp32), "int4_adam": runsJSON(adam), "int4_stable_spam": runsJSON(spam),
            "best_validation_loss_int4_adam": S.json(bestAdam), "best_validation_loss_int4_stable_spam": S.json(bestSpam),
            "seconds": S.json(S.elapsed(since: start)),
        ]
        if let path = try LowBitRepro.writeCurves(name, (fp32 + adam + spam).map(\.run), options: options) { report.files.append(path) }
        return report
    }
}
