import ArgumentParser
import Glibc
import Gradus

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier (an MLP by default) and report test accuracy.",
        discussion: """
        Datasets: fashion-mnist (Debian's dataset-fashion-mnist), moons, spirals, xor, mixture.
        Example: gradus train --dataset fashion-mnist --hidden 256 --optimizer sgd --lr 0.1 --momentum 0.9 --epochs 5
        """)

    @Option(help: "fashion-mnist | moons | spirals | xor | mixture") var dataset = "fashion-mnist"
    @Option(help: "Directory holding the Fashion-MNIST IDX files.") var dataDir = FashionMNIST.defaultDirectory
    @Option(help: "Hidden layer sizes, comma separated (e.g. 256 or 1024,1024).") var hidden = "256"
    @Option(help: "Activation: relu | gelu | silu | tanh.") var activation = "relu"
    @Option(help: "Optimizer name (see `gradus train --help`): \(OptimizerFactory.names.joined(separator: ", ")).") var optimizer = "sgd"
    @Option(help: "Learning rate.") var lr = 0.05
    @Option(help: "Momentum (SGD) or β1 (Adam family).") var momentum: Double? = 0.9
    @Option(help: "Weight decay.") var weightDecay = 0.0
    @Option(help: "Extra optimizer hyperparameters, e.g. beta2=0.99,eps=1e-8.") var hparams = ""
    @Option(help: "Learning-rate schedule: constant | cosine | linear | warmup-cosine | warmup-linear | step.") var schedule = "constant"
    @Option(help: "Warm-up steps for warmup schedules.") var warmup = 0
    @Option(help: "Epochs.") var epochs = 5
    @Option(help: "Batch size.") var batchSize = 128
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Worker threads (default: from the affinity mask / GRADUS_NUM_THREADS).") var threads: Int?
    @Option(help: "Use only the first N training samples.") var limit: Int?
    @Option(help: "Where to write the SVG loss curve.") var plot = "gradus-loss.svg"
    @Flag(help: "Print one final JSON object with the metrics (progress still goes to stderr).") var json = false

    func run() throws {
        if let threads { try cli { () throws(GradusError) in try Runtime.configure(RuntimeOptions(threadCount: threads)) } }
        Init.manualSeed(seed)
        let (train, test) = try cli { () throws(GradusError) in try loadData() }
        let sizes = try parseSizes()
        let model = try cli { () throws(GradusError) in try buildMLP(input: train.sampleSize, hidden: sizes, classes: train.classCount) }
        let stepsPerEpoch = (train.count + batchSize - 1) / batchSize
        let opt = try cli { () throws(GradusError) in
            try OptimizerFactory.make(optimizer, parameters: model.namedParameters(), lr: lr, momentum: momentum,
                                      weightDecay: weightDecay, extra: hparams, schedule: schedule, warmup: warmup,
                                      totalSteps: stepsPerEpoch * epochs)
        }
        let trainer = try cli { () throws(GradusError) in try ClassificationTrainer(model: model, optimizer: opt, batchSize: batchSize, seed: seed) }
        if !json || isatty(2) == 1 {
            eprint("gradus train: \(dataset) (\(train.count) train / \(test.count) test), MLP \(([train.sampleSize] + sizes + [train.classCount]).map(String.init).joined(separator: "-")), \(optimizer) lr \(lr), \(ThreadPool.shared.threadCount) threads\n")
        }
        let t0 = MonotonicTime.now()
        for e in 0..<epochs {
            var bar = ProgressBar(total: stepsPerEpoch, label: "epoch \(e + 1)/\(epochs)")
            let rec = try cli { () throws(GradusError) in
                try trainer.trainEpoch(train, epoch: e) { p in
                    bar.update(p.step, "loss \(fmt(p.epochLoss)) acc \(fmt(p.batchAccuracy, 3)) \(Int(p.samplesPerSecond)) samples/s")
                }
            }
            let (tl, ta) = try cli { () throws(GradusError) in try trainer.evaluate(test) }
            trainer.recordTest(loss: tl, accuracy: ta)
            bar.update(stepsPerEpoch, "loss \(fmt(rec.trainLoss)) train acc \(fmt(rec.trainAccuracy, 4)) test acc \(fmt(ta, 4)) (\(fmt(rec.seconds, 1)) s)", force: true)
        }
        let total = MonotonicTime.now() - t0
        var plotted = SVGPlot(title: "gradus train: \(dataset), \(optimizer)", xLabel: "step", yLabel: "training loss")
        plotted.series.append(("loss per step", trainer.lossHistory))
        let wrote = plotted.write(to: plot)
        let last = trainer.epochs.last
        if json {
            var o: [String: JSON] = [
                "dataset": .string(dataset), "optimizer": .string(optimizer), "epochs": .number(Double(epochs)),
                "batch_size": .number(Double(batchSize)), "seed": .number(Double(seed)), "threads": .number(Double(ThreadPool.shared.threadCount)),
                "train_loss": .number(last?.trainLoss ?? .nan), "train_accuracy": .number(last?.trainAccuracy ?? .nan),
                "test_loss": .number(last?.testLoss ?? .nan), "test_accuracy": .number(last?.testAccuracy ?? .nan),
                "seconds": .number(total), "parameters": .number(Double(model.parameterCount)),
                "epoch_test_accuracy": .array(trainer.epochs.map { .number($0.testAccuracy ?? .nan) }),
            ]
            if wrote { o["plot"] = .string(plot) }
            print(JSON.object(o).serialized)
        } else {
            print("test accuracy: \(fmt((last?.testAccuracy ?? 0) * 100, 2))% after \(epochs) epochs (\(fmt(total, 1)) s)")
            print(wrote ? "loss curve written to \(plot)" : "could not write the loss curve to \(plot)")
        }
    }

    func parseSizes() throws -> [Int] {
        if hidden.isEmpty || hidden == "none" { return [] }
        let parts = hidden.split(separator: ",").map { Int($0.trimmingSpaces) }
        guard parts.allSatisfy({ ($0 ?? 0) > 0 }) else { throw CLIError("--hidden must be positive integers separated by commas") }
        return parts.map { $0! }
    }

    func buildMLP(input: Int, hidden: [Int], classes: Int) throws(GradusError) -> SequentialModel {
        guard let kind = Activation.Kind(rawValue: activation) else { throw .invalidArgument("unknown activation \(activation)") }
        var layers: [Module] = []
        var width = input
        for h in hidden { layers.append(try Linear(width, h)); layers.append(Activation(kind)); width = h }
        layers.append(try Linear(width, classes))
        return SequentialModel(layers)
    }

    func loadData() throws(GradusError) -> (Dataset, Dataset) {
        switch dataset {
        case "fashion-mnist":
            let train = try FashionMNIST.load(.train, directory: dataDir, flatten: true, limit: limit)
            let test = try FashionMNIST.load(.test, directory: dataDir, flatten: true)
            return (train, test)
        case "moons": return try Synthetic.twoMoons(count: limit ?? 4000, noise: 0.15, seed: seed).split(trainFraction: 0.8, seed: seed)
        case "spirals": return try Synthetic.spirals(count: limit ?? 4000, classes: 3, seed: seed).split(trainFraction: 0.8, seed: seed)
        case "xor": return try Synthetic.xorClusters(count: limit ?? 4000, flipProbability: 0.05, seed: seed).split(trainFraction: 0.8, seed: seed)
        case "mixture": return try Synthetic.gaussianMixture(count: limit ?? 4000, classes: 5, seed: seed).split(trainFraction: 0.8, seed: seed)
        default: throw .invalidArgument("unknown dataset '\(dataset)' (fashion-mnist, moons, spirals, xor, mixture)")
        }
    }
}

extension Substring {
    var trimmingSpaces: String { String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()) }
}
