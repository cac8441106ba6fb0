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
        Low-bit training (fake quantization with master weights in float32):
          gradus train --quant int4 --group-size 16 --quant-activations --optimizer adam --lr 1e-3
          gradus train --quant binary --hidden 256,256,256 --estimator reste --quant-activations
        Formats: int2…int8 (symmetric), fp4 (E2M1, absmax/6), mxfp4, nf4, bnb-fp4, binary (sign(W)·mean|W|; first and
        last layer stay float), stable-spam-int4, stable-spam-fp4. The group size must divide each layer's input size.
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
    @Option(help: "Train in low bit: \(QuantTrainingOptions.formats.joined(separator: " | ")).") var quant: String?
    @Option(help: "Elements per quantization group (with --quant; must divide every quantized layer's input size).") var groupSize: Int?
    @Option(help: "Quantization granularity: tensor | channel | group (with --quant; default group when a group size is set).") var granularity: String?
    @Option(help: "Estimator of the quantizers' gradient: ste | clipped-ste | reste (o annealed 1 → 3 over the epochs, t = 1.5).") var estimator: String?
    @Flag(help: "Quantize each quantized layer's input too (default: weights only).") var quantActivations = false
    @Flag(help: "Print one final JSON object with the metrics (progress still goes to stderr).") var json = false

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1 (got \(batchSize))") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1 (got \(epochs))") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be >= 0 (got \(warmup))") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1 (got \(limit))") }
    }

    func run() throws {
        if let threads { try cli { () throws(GradusError) in try Runtime.configure(RuntimeOptions(threadCount: threads)) } }
        Init.manualSeed(seed)
        let quantOptions = try makeQuantOptions()
        let (train, test) = try cli { () throws(GradusError) in try loadData() }
        let sizes = try parseSizes()
        try cli { () throws(GradusError) in try requireModelFits(input: train.sampleSize, hidden: sizes, classes: train.classCount) }
        let mlp = try cli { () throws(GradusError) in try buildMLP(input: train.sampleSize, hidden: sizes, classes: train.classCount) }
        var model: Module = mlp
        var quantizedPaths: [String] = []
        if let quantOptions {
            (model, quantizedPaths) = try cli { () throws(GradusError) in try quantOptions.apply(to: mlp) }
        }
        let stepsPerEpoch = train.count / batchSize + (train.count % batchSize == 0 ? 0 : 1)
        let (totalSteps, tooMany) = stepsPerEpoch.multipliedReportingOverflow(by: epochs)
        guard !tooMany else { throw CLIError("--epochs \(epochs) × \(stepsPerEpoch) steps per epoch is too many steps") }
        let opt = try cli { () throws(GradusError) in
            try OptimizerFactory.make(optimizer, parameters: model.namedParameters(), lr: lr, momentum: momentum,
                                      weightDecay: weightDecay, extra: hparams, schedule: schedule, warmup: warmup,
                                      totalSteps: totalSteps)
        }
        let trainer = try cli { () throws(GradusError) in try ClassificationTrainer(model: model, optimizer: opt, batchSize: batchSize, seed: seed) }
        if !json || isatty(2) == 1 {
            eprint("gradus train: \(dataset) (\(train.count) train / \(test.count) test), MLP \(([train.sampleSize] + sizes + [train.classCount]).map(String.init).joined(separator: "-")), \(optimizer) lr \(lr), \(ThreadPool.shared.threadCount) threads\n")
        }
        if let quantOptions {
            eprint("low-bit: --quant \(quant ?? "") on \(quantizedPaths.joined(separator: ", ")) (\(quantOptions.quantizesActivations ? "weights and inputs" : "weights only"), estimator \(quantOptions.estimator))\n")
        }
        let t0 = MonotonicTime.now()
        for e in 0..<epochs {
            if let quantOptions, quantOptions.estimator == "reste" {
                let est = try cli { () throws(GradusError) in try quantOptions.scheduledEstimator(epoch: e, epochs: epochs) }
                model.setQuantEstimator(est)
            }
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
            if let quantOptions {
                o["quant"] = .object([
                    "format": .string(quantOptions.format), "estimator": .string(quantOptions.estimator),
                    "group_size": quantOptions.groupSize.map { .number(Double($0)) } ?? .null,
                    "granularity": quantOptions.granularity.map { .string($0) } ?? .null,
                    "activations": .bool(quantOptions.quantizesActivations),
                    "layers": .array(quantizedPaths.map { .string($0) }),
                ])
            }
            print(JSON.object(o).serialized)
        } else {
            print("test accuracy: \(fmt((last?.testAccuracy ?? 0) * 100, 2))% after \(epochs) epochs (\(fmt(total, 1)) s)")
            print(wrote ? "loss curve written to \(plot)" : "could not write the loss curve to \(plot)")
        }
    }

    /// The low-bit options, or nil without `--quant`; quantization options without `--quant` are an error.
    func makeQuantOptions() throws -> QuantTrainingOptions? {
        guard let quant else {
            if groupSize != nil || granularity != nil || estimator != nil || quantActivations {
                throw CLIError("--group-size, --granularity, --estimator and --quant-activations need --quant")
            }
            return nil
        }
        let o = QuantTrainingOptions(format: quant, groupSize: groupSize, granularity: granularity, estimator: estimator ?? "ste",
                                     quantizesActivations: quantActivations)
        _ = try cli { () throws(GradusError) in try o.makeLayerQuantization() }
        return o
    }

    func parseSizes() throws -> [Int] {
        if hidden.isEmpty || hidden == "none" { return [] }
        let parts = hidden.split(separator: ",").map { Int($0.trimmingSpaces) }
        guard parts.allSatisfy({ ($0 ?? 0) > 0 }) else { throw CLIError("--hidden must be positive integers separated by commas") }
        return parts.map { $0! }
    }

    /// Refuses an MLP whose weights, gradients and two optimizer moments (4 float32 copies of every parameter)
    /// exceed physical memory, before anything is allocated: a failed allocation would trap.
    func requireModelFits(input: Int, hidden: [Int], classes: Int) throws(GradusError) {
        var parameters = 0, width = input, overflow = false
        for h in hidden + [classes] {
            let (fanIn, o0) = width.addingReportingOverflow(1)  // weights and the bias
            let (layer, o1) = fanIn.multipliedReportingOverflow(by: h)
            let (sum, o2) = parameters.addingReportingOverflow(layer)
            overflow = overflow || o0 || o1 || o2
            parameters = sum; width = h
        }
        let copies = parameters.multipliedReportingOverflow(by: 4)
        try BufferPool.requireFits(count: overflow || copies.overflow ? nil : copies.partialValue, elementSize: 4,
                                   "--hidden \(hidden.map(String.init).joined(separator: ",")): training \(overflow ? "the" : "\(parameters)") parameters (weights, gradients, optimizer state)")
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
