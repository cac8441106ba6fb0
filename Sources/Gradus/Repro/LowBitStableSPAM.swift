import GradusData
import GradusNN
import GradusOptim
import GradusQuant
import GradusRuntime
import GradusTensor

/// Stable-SPAM's 4-bit training claim at CPU scale (Huang et al., "Stable-SPAM: How to Train in 4-Bit More
/// Stably than 16-Bit Adam", 2025; spec `lowbit.md` §2, §7): a 784-256-256-10 MLP on Fashion-MNIST whose
/// every Linear is Stable-SPAM's INT4 `QLinear` (W4 asymmetric per group, A4 symmetric per group with the
/// top-2 outliers kept, STE; group 64 because the layers are small), trained with Adam and with Stable-SPAM
/// at three learning rates, plus float32 Adam as the reference.
///
/// Metrics: final training loss (mean of the last 10% of steps), test loss and accuracy, loss spikes
/// (steps whose loss exceeds twice the running median of the previous 50), steps to reach the float32
/// reference's final loss. Claim checked: 4-bit Stable-SPAM's final loss ≤ 4-bit Adam's at the best
/// learning rate of each, and at the largest learning rate.
public enum LowBitStableSPAM4bit: Reproduction {
    public static let name = "stable-spam-4bit"
    public static let summary = "INT4 (W4A4) MLP on Fashion-MNIST: Adam vs Stable-SPAM, float32 Adam as reference"

    static let learningRates = [1e-3, 3e-3, 1e-2]
    static let hidden = 256, groupSize = 64

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

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        let data = try LowBitRepro.data(options)
        let epochs = options.scale >= 0.5 ? 3 : 1
        let stepsPerEpoch = (data.0.count + 127) / 128
        let total = epochs * stepsPerEpoch
        log("stable-spam-4bit: \(data.0.count) train / \(data.1.count) test samples, \(epochs) epoch(s), \(total) steps per run")
        let scheme = LayerQuantization.stableSPAMInt4(groupSize: groupSize)

        func model(quantized: Bool) throws(GradusError) -> Module {
            let m = try LowBitRepro.mlp(hidden: hidden, seed: options.seed &* 1000 &+ 17)
            return quantized ? try m.quantized(scheme) : m
        }

        var runs: [LowBitRepro.Run] = []
        let reference = try { () throws(GradusError) -> LowBitRepro.Run in
            let m = try model(quantized: false)
            let opt = try Optimizer(m.parameters, chain: GradientChain<Float>.adam(learningRate: .constant(1e-3)))
            return try LowBitRepro.train("fp32 Adam lr 1e-3", model: m, optimizer: opt, data: data, epochs: epochs,
                                         seed: options.seed, log: log)
        }()
        runs.append(reference)
        var table = ReproTable(title: "Final loss (mean of the last 10% of steps), INT4 W4A4 group \(groupSize) vs float32",
                               header: ["run", "lr", "final train loss", "test loss", "test acc", "spikes", "steps to fp32 loss", "s"])
        func row(_ r: LowBitRepro.Run, lr: Double) {
            let reach = stepsToReach(reference.finalLoss, r.losses).map { "\($0)" } ?? "—"
            table.rows.append([r.label, LowBitRepro.fmt(lr, 2), LowBitRepro.fmt(r.finalLoss), LowBitRepro.fmt(r.testLoss),
                               LowBitRepro.percent(r.testAccuracy), "\(spikes(r.losses))", reach, LowBitRepro.fmt(r.seconds, 3)])
        }
        row(reference, lr: 1e-3)

        var adam: [Double: LowBitRepro.Run] = [:], spam: [Double: LowBitRepro.Run] = [:]
        for lr in learningRates {
            let ma = try model(quantized: true)
            let oa = try Optimizer(ma.parameters, chain: GradientChain<Float>.adam(learningRate: .constant(lr)))
            let ra = try LowBitRepro.train("INT4 Adam lr \(LowBitRepro.fmt(lr, 2))", model: ma, optimizer: oa, data: data,
                                           epochs: epochs, seed: options.seed, log: log)
            let ms = try model(quantized: true)
            let os = try Optimizer(ms.parameters, chain: GradientChain<Float>.stableSPAM(learningRate: .constant(lr), totalSteps: total))
            let rs = try LowBitRepro.train("INT4 Stable-SPAM lr \(LowBitRepro.fmt(lr, 2))", model: ms, optimizer: os, data: data,
                                           epochs: epochs, seed: options.seed, log: log)
            adam[lr] = ra; spam[lr] = rs
            runs += [ra, rs]
            row(ra, lr: lr); row(rs, lr: lr)
        }

        func best(_ d: [Double: LowBitRepro.Run]) -> Double {
            d.values.map { $0.finalLoss.isFinite ? $0.finalLoss : .infinity }.min() ?? .infinity
        }
        let bestAdam = best(adam), bestSpam = best(spam)
        let top = learningRates.last!
        let lossTop = (adam[top]!.finalLoss, spam[top]!.finalLoss)

        var report = ReproReport(name: name)
        report.tables.append(table)
        report.claims.append(("4-bit Stable-SPAM reaches a final loss ≤ 4-bit Adam's (best learning rate of each: \(LowBitRepro.fmt(bestSpam)) vs \(LowBitRepro.fmt(bestAdam)))",
                              bestSpam <= bestAdam))
        report.claims.append(("at the largest learning rate (\(LowBitRepro.fmt(top, 2))) 4-bit Stable-SPAM's final loss ≤ 4-bit Adam's (\(LowBitRepro.fmt(lossTop.1)) vs \(LowBitRepro.fmt(lossTop.0)))",
                              !(lossTop.0 < lossTop.1) && lossTop.1.isFinite))
        var m: [String: JSON] = [
            "epochs": .number(Double(epochs)), "steps_per_run": .number(Double(total)),
            "train_samples": .number(Double(data.0.count)), "group_size": .number(Double(groupSize)),
            "best_final_loss_int4_adam": LowBitRepro.json(bestAdam), "best_final_loss_int4_stable_spam": LowBitRepro.json(bestSpam),
            "final_loss_fp32_adam": LowBitRepro.json(reference.finalLoss),
        ]
        m["runs"] = .array(runs.map { r in
            .object(["label": .string(r.label), "final_loss": LowBitRepro.json(r.finalLoss), "test_loss": LowBitRepro.json(r.testLoss),
                     "test_accuracy": LowBitRepro.json(r.testAccuracy), "spikes": .number(Double(spikes(r.losses))),
                     "seconds": .number(r.seconds), "loss_curve": .array(LowBitRepro.curve(r.losses).map { LowBitRepro.json($0) })])
        })
        report.metrics = m
        if let path = try LowBitRepro.writeCurves(name, runs, options: options) { report.files.append(path) }
        return report
    }
}
