import ArgumentParser
import Foundation
import Gradus

/// `gradus diffusion train|sample`: class-conditional diffusion on the 2-D mixture or Fashion-MNIST, sampled with
/// CFG or APG into a PNG grid.
struct DiffusionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffusion",
        abstract: "Train a class-conditional diffusion model and sample it with CFG or APG.",
        discussion: """
        Example (2-D, about a minute):
          gradus diffusion train --data mixture2d --steps 3000 --out mixture.safetensors
          gradus diffusion sample --model mixture.safetensors --guidance apg --scale 15 --out apg.png
        Fashion-MNIST (small scale): gradus diffusion train --data fashion-mnist --steps 2000 --batch 64 --out fmnist.safetensors
        """,
        subcommands: [DiffusionTrainCommand.self, DiffusionSampleCommand.self])
}

struct DiffusionTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Train a denoiser with label dropout and save it (safetensors).")

    @Option(help: "mixture2d | fashion-mnist") var data = "mixture2d"
    @Option(help: "Directory holding the Fashion-MNIST IDX files.") var dataDir = FashionMNIST.defaultDirectory
    @Option(help: "Use only the first N Fashion-MNIST training images.") var limit: Int?
    @Option(help: "Target: epsilon | v_prediction | sample | flow") var objective = "epsilon"
    @Option(help: "Optimizer steps.") var steps = 3000
    @Option(help: "Batch size.") var batch = 256
    @Option(help: "Learning rate (Adam).") var lr = 2e-3
    @Option(help: "Probability of replacing a label by the null label.") var labelDropout = 0.1
    @Option(help: "MLP width (2-D data).") var hidden = 128
    @Option(help: "MLP depth (2-D data).") var depth = 3
    @Option(help: "Conv base width (images).") var baseWidth = 16
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Where to write the model.") var out = "diffusion.safetensors"

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1 (got \(steps))") }
    }

    func run() throws {
        guard let source = DiffusionModelStore.DataSource(rawValue: data) else { throw CLIError("unknown data '\(data)'") }
        let (shape, classes, next) = try cli { () throws(GradusError) in
            try DiffusionModelStore.batches(source, batchSize: batch, seed: seed, directory: dataDir, limit: limit)
        }
        var d = DiffusionModelStore.Description(architecture: shape.count == 1 ? "mlp" : "conv", data: data, objective: objective,
                                                numClasses: classes, sampleShape: shape)
        d.hidden = hidden; d.depth = depth; d.baseWidth = baseWidth
        let model = try cli { () throws(GradusError) in try d.makeModel(seed: seed) }
        let trainer = try cli { () throws(GradusError) in
            try DiffusionTrainer(model: model, objective: try d.makeObjective(), labelDropout: labelDropout, learningRate: lr, seed: seed)
        }
        let start = Date()
        try cli { () throws(GradusError) in
            try trainer.train(steps: steps, logEvery: max(1, steps / 20), batches: next) { s, l in
                eprint("step \(s)/\(steps)  loss \(String(format: "%.4f", l))  \(String(format: "%.1f", Date().timeIntervalSince(start)))s\n")
            }
            try DiffusionModelStore.save(model, description: d, to: out)
        }
        print("wrote \(out) (\(model.parameterCount) parameters, final loss \(String(format: "%.4f", trainer.losses.last ?? .nan)))")
    }
}

struct DiffusionSampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample", abstract: "Sample a trained model with CFG or APG and write a PNG grid.")

    @Option(help: "Model file from `gradus diffusion train`.") var model: String
    @Option(help: "none | cfg | apg") var guidance = "cfg"
    @Option(help: "Guidance weight w (CFG: u + w(c − u); APG paper form: c + (w − 1)Δ).") var scale = 5.0
    @Option(help: "APG: weight of the parallel component η.") var apgEta = 0.0
    @Option(help: "APG: norm threshold r (0 disables).") var threshold = 2.0
    @Option(help: "APG: momentum β (0 disables; paper: negative).") var momentum = -0.5
    @Option(help: "CFG-rescale φ in [0, 1].") var rescale = 0.0
    @Option(help: "Where guidance is applied: x0 | output") var space = "x0"
    @Option(help: "ddim | ddpm (diffusion models); flow models always use flow-Euler.") var sampler = "ddim"
    @Option(help: "DDIM η.") var eta = 0.0
    @Option(help: "Sampling steps.") var steps = 50
    @Option(help: "Samples per class.") var perClass = 8
    @Option(help: "Only this class (default: every class).") var classLabel: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Where to write the PNG.") var out = "samples.png"

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1 (got \(steps))") }
        guard perClass >= 1 else { throw ValidationError("--per-class must be at least 1 (got \(perClass))") }
    }

    func run() throws {
        let (net, d) = try cli { () throws(GradusError) in try DiffusionModelStore.load(model) }
        let classes = classLabel.map { [$0] } ?? Array(0..<net.numClasses)
        for c in classes where c < 0 || c >= net.numClasses { throw CLIError("class \(c) outside 0..<\(net.numClasses)") }
        // the guided forward runs the conditional and unconditional halves as one batch of 2 × samples
        let (samples, tooMany) = classes.count.multipliedReportingOverflow(by: perClass)
        try cli { () throws(GradusError) in
            try DenoiserMemory.requireForwardFits(net, batch: tooMany || samples > Int.max / 2 ? Int.max : 2 * samples)
        }
        let labels = classes.flatMap { [Int](repeating: $0, count: perClass) }
        let choice: GuidanceChoice
        switch guidance {
        case "none": choice = .none
        case "cfg": choice = .cfg(scale: scale, rescale: rescale)
        case "apg":
            var c = APGConfig.paper(w: scale, normThreshold: threshold, momentum: momentum)
            c.eta = apgEta; c.momentum = momentum == 0 ? nil : momentum; c.guidanceRescale = rescale
            choice = .apg(c)
        default: throw CLIError("unknown guidance '\(guidance)' (none | cfg | apg)")
        }
        let start = Date()
        let x = try cli { () throws(GradusError) -> [Float] in
            let objective = try d.makeObjective()
            switch objective {
            case .flow(let t):
                return try ConditionalSampling.flow(model: net, labels: labels, steps: steps, trainSteps: t, guidance: choice, seed: seed)
            case .diffusion(let schedule, let kind):
                let where_: GuidanceSpace = space == "x0" ? .x0(schedule: schedule, kind: kind) : .modelOutput
                return try ConditionalSampling.diffusion(model: net, labels: labels, schedule: schedule, kind: kind, steps: steps,
                                                         eta: eta, ancestral: sampler == "ddpm", guidance: choice, space: where_, seed: seed)
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let raster = try cli { () throws(GradusError) -> Raster in
            if d.sampleShape.count == 1 && d.sampleShape[0] == 2 {
                return try ImageGrid.scatter(x, classes: labels, size: 384, extent: 8)
            }
            guard d.sampleShape.count == 3 else { throw .unsupported("cannot draw samples of shape \(d.sampleShape)") }
            return try ImageGrid.images(x, count: labels.count, channels: d.sampleShape[0], height: d.sampleShape[1],
                                        width: d.sampleShape[2], columns: perClass).upscaled(2)
        }
        try cli { () throws(GradusError) in
            try PNG.write(out, pixels: raster.pixels, width: raster.width, height: raster.height, color: raster.channels == 3 ? .rgb : .gray)
        }
        print("wrote \(out): \(labels.count) samples, \(guidance) w=\(scale), \(steps) steps in \(String(format: "%.2f", seconds))s")
    }
}
