import GradusData
import GradusNN
import GradusOptim
import GradusQuant
import GradusRuntime
import GradusTensor

/// 8-bit Adam vs 32-bit Adam (Dettmers et al., "8-bit Optimizers via Block-wise Quantization", ICLR 2022;
/// bitsandbytes `Adam8bit` semantics, spec `lowbit.md` §4.3, §7): the same 784-256-256-10 MLP on
/// Fashion-MNIST, same seed and data order, Adam lr 1e-3 with float32 moments vs moments stored blockwise in
/// 8 bits (256-element blocks, dynamic maps; tensors under 4096 elements stay float32).
///
/// Claims checked: final loss (mean of the last 10% of steps) within 1% of 32-bit Adam's; optimizer-state
/// memory about 4× smaller.
public enum LowBitAdam8bit: Reproduction {
    public static let name = "adam8bit"
    public static let summary = "8-bit vs 32-bit Adam on a Fashion-MNIST MLP: final loss and optimizer-state memory"

    static let hidden = 256

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        let data = try LowBitRepro.data(options)
        let epochs = options.scale >= 0.5 ? 3 : 1
        log("adam8bit: \(data.0.count) train / \(data.1.count) test samples, \(epochs) epoch(s)")
        let seed = options.seed &* 1000 &+ 23
        let m32 = try LowBitRepro.mlp(hidden: hidden, seed: seed)
        let o32 = try Optimizer(m32.parameters, chain: GradientChain<Float>.adam(learningRate: .constant(1e-3)))
        let r32 = try LowBitRepro.train("Adam 32-bit", model: m32, optimizer: o32, data: data, epochs: epochs, seed: options.seed, log: log)
        let m8 = try LowBitRepro.mlp(hidden: hidden, seed: seed)
        let o8 = try Optimizer(m8.parameters, chain: try GradientChain<Float>.adam8bit(learningRate: .constant(1e-3)))
        let r8 = try LowBitRepro.train("Adam 8-bit", model: m8, optimizer: o8, data: data, epochs: epochs, seed: options.seed, log: log)

        let shapes = m8.parameters.map(\.shape)
        let bytes32 = shapes.reduce(0) { $0 + 8 * $1.reduce(1, *) }
        let bytes8 = try AdamPreconditioner8bit<Float>().stateByteCount(shapes: shapes)
        let relative = abs(r8.finalLoss - r32.finalLoss) / r32.finalLoss
        let ratio = Double(bytes32) / Double(bytes8)

        var table = ReproTable(title: "8-bit vs 32-bit Adam, MLP 784-\(hidden)-\(hidden)-10 (\(m8.parameterCount) parameters), \(epochs) epoch(s)",
                               header: ["optimizer", "final train loss", "test loss", "test acc", "state bytes", "s"])
        table.rows.append(["Adam 32-bit", LowBitRepro.fmt(r32.finalLoss), LowBitRepro.fmt(r32.testLoss), LowBitRepro.percent(r32.testAccuracy),
                           "\(bytes32)", LowBitRepro.fmt(r32.seconds, 3)])
        table.rows.append(["Adam 8-bit", LowBitRepro.fmt(r8.finalLoss), LowBitRepro.fmt(r8.testLoss), LowBitRepro.percent(r8.testAccuracy),
                           "\(bytes8)", LowBitRepro.fmt(r8.seconds, 3)])
        var report = ReproReport(name: name)
        report.tables.append(table)
        report.claims.append(("8-bit Adam's final loss is within 1% of 32-bit Adam's (relative difference \(LowBitRepro.percent(relative)))",
                              relative <= 0.01))
        report.claims.append(("8-bit Adam uses about 4× less optimizer-state memory (\(LowBitRepro.fmt(ratio, 3))× less)", ratio >= 3.5))
        report.metrics = [
            "epochs": .number(Double(epochs)), "train_samples": .number(Double(data.0.count)),
            "final_loss_adam32": LowBitRepro.json(r32.finalLoss), "final_loss_adam8": LowBitRepro.json(r8.finalLoss),
            "test_loss_adam32": LowBitRepro.json(r32.testLoss), "test_loss_adam8": LowBitRepro.json(r8.testLoss),
            "test_accuracy_adam32": LowBitRepro.json(r32.testAccuracy), "test_accuracy_adam8": LowBitRepro.json(r8.testAccuracy),
            "relative_final_loss_difference": LowBitRepro.json(relative),
            "state_bytes_adam32": .number(Double(bytes32)), "state_bytes_adam8": .number(Double(bytes8)),
            "state_memory_ratio": .number(ratio),
            "loss_curve_adam32": .array(LowBitRepro.curve(r32.losses).map { LowBitRepro.json($0) }),
            "loss_curve_adam8": .array(LowBitRepro.curve(r8.losses).map { LowBitRepro.json($0) }),
        ]
        if let path = try LowBitRepro.writeCurves(name, [r32, r8], options: options) { report.files.append(path) }
        return report
    }
}
