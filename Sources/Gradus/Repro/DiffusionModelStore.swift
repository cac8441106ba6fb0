import GradusRuntime
import GradusTensor
import GradusData
import GradusNN
import GradusDiffusion

/// Training data, model construction and safetensors storage for `gradus diffusion train/sample`.
///
/// A stored model is a safetensors file (GradusData `Checkpoint`) of the denoiser's state dict plus metadata that
/// rebuilds it: `gradus.diffusion.architecture` (`mlp` | `conv`), `data`, `objective` (`epsilon` | `v_prediction`
/// | `sample` | `flow`), `num_classes`, `sample_shape`, `hidden`, `depth`, `base_width`, `schedule` (`cosine`),
/// `train_steps`.
public enum DiffusionModelStore {
    /// The training sets the CLI knows.
    public enum DataSource: String, Sendable, CaseIterable {
        /// The four-class 2-D Gaussian mixture of the APG toy.
        case mixture2d
        /// Fashion-MNIST scaled to [−1, 1], 28×28.
        case fashionMNIST = "fashion-mnist"
    }

    /// Everything needed to rebuild a model.
    public struct Description: Sendable, Equatable {
        public var architecture: String
        public var data: String
        public var objective: String
        public var numClasses: Int
        public var sampleShape: [Int]
        public var hidden: Int = 128
        public var depth: Int = 3
        public var baseWidth: Int = 16
        public var trainSteps: Int = 1000

        public init(architecture: String, data: String, objective: String, numClasses: Int, sampleShape: [Int]) {
            self.architecture = architecture; self.data = data; self.objective = objective
            self.numClasses = numClasses; self.sampleShape = sampleShape
        }

        var metadata: [String: String] {
            ["gradus.diffusion.architecture": architecture, "data": data, "objective": objective, "num_classes": "\(numClasses)",
             "sample_shape": sampleShape.map(String.init).joined(separator: ","), "hidden": "\(hidden)", "depth": "\(depth)",
             "base_width": "\(baseWidth)", "schedule": "cosine", "train_steps": "\(trainSteps)"]
        }

        init(metadata m: [String: String]) throws(GradusError) {
            guard let arch = m["gradus.diffusion.architecture"], let data = m["data"], let obj = m["objective"],
                  let nc = m["num_classes"].flatMap({ Int($0) }), let shapeText = m["sample_shape"] else {
                throw .format("not a gradus diffusion model (metadata missing)")
            }
            var shape: [Int] = []
            for part in shapeText.split(separator: ",") {
                guard let v = Int(part) else { throw .format("bad sample_shape '\(shapeText)'") }
                shape.append(v)
            }
            self.init(architecture: arch, data: data, objective: obj, numClasses: nc, sampleShape: shape)
            hidden = m["hidden"].flatMap { Int($0) } ?? 128
            depth = m["depth"].flatMap { Int($0) } ?? 3
            baseWidth = m["base_width"].flatMap { Int($0) } ?? 16
            trainSteps = m["train_steps"].flatMap { Int($0) } ?? 1000
        }

        /// The training objective (cosine schedule for the discrete ones).
        public func makeObjective() throws(GradusError) -> DiffusionObjective {
            if objective == "flow" { return .flow(trainSteps: trainSteps) }
            guard let kind = Parameterization(rawValue: objective) else { throw .invalidArgument("unknown objective '\(objective)'") }
            return .diffusion(try NoiseSchedule.cosine(steps: trainSteps), kind)
        }

        /// A freshly initialised model.
        public func makeModel(seed: UInt64) throws(GradusError) -> any ConditionalDenoiser & Module {
            switch architecture {
            case "mlp":
                guard sampleShape.count == 1 else { throw .invalidArgument("mlp models take flat samples") }
                return try DenoiserMLP(dataDim: sampleShape[0], numClasses: numClasses, hidden: hidden, depth: depth, seed: seed)
            case "conv":
                guard sampleShape.count == 3 else { throw .invalidArgument("conv models take (C, H, W) samples") }
                return try DenoiserConvNet(channels: sampleShape[0], height: sampleShape[1], width: sampleShape[2],
                                           numClasses: numClasses, baseWidth: baseWidth, seed: seed)
            default: throw .invalidArgument("unknown architecture '\(architecture)'")
            }
        }
    }

    /// Saves the model's state dict and description as safetensors.
    public static func save(_ model: any ConditionalDenoiser & Module, description: Description, to path: String) throws(GradusError) {
        try Checkpoint.save(model.stateDict(), metadata: description.metadata, to: path)
    }

    /// Loads a model saved by `save`.
    public static func load(_ path: String) throws(GradusError) -> (model: any ConditionalDenoiser & Module, description: Description) {
        let (tensors, metadata) = try Checkpoint.loadWithMetadata(path)
        let d = try Description(metadata: metadata)
        let model = try d.makeModel(seed: 0)
        try model.load(stateDict: tensors)
        model.eval()
        return (model, d)
    }

    /// A batch source over a data set: `(step) -> (x, labels)`, seeded.
    /// - Parameters: limit caps the Fashion-MNIST training images (default all 60k).
    public static func batches(_ source: DataSource, batchSize: Int, seed: UInt64, directory: String = FashionMNIST.defaultDirectory,
                               limit: Int? = nil) throws(GradusError) -> (sampleShape: [Int], numClasses: Int, next: (Int) throws(GradusError) -> (Tensor, [Int])) {
        guard batchSize >= 1 else { throw .invalidArgument("batch size must be ≥ 1") }
        switch source {
        case .mixture2d:
            let mixture = ToyDatasets.GaussianMixture.fourClasses2D
            var rng = PhiloxStream(seed: seed, stream: 11)
            return ([2], 4, { (_: Int) throws(GradusError) in
                let (x, y) = try mixture.sample(count: batchSize, rng: &rng)
                return (Tensor(shape: [batchSize, 2], scalars: x), y)
            })
        case .fashionMNIST:
            let data = try FashionMNIST.load(.train, directory: directory, limit: limit)
            let n = data.count
            guard n >= 1 else { throw .invalidArgument("no training images") }
            var rng = PhiloxStream(seed: seed, stream: 12)
            return ([1, 28, 28], 10, { (_: Int) throws(GradusError) in
                var x = [Float](repeating: 0, count: batchSize * 784), y = [Int](repeating: 0, count: batchSize)
                for b in 0..<batchSize {
                    let i = rng.nextInt(below: n)
                    y[b] = Int(data.labels[i])
                    for j in 0..<784 { x[b * 784 + j] = data.features[i * 784 + j] * 2 - 1 }
                }
                return (Tensor(shape: [batchSize, 1, 28, 28], scalars: x), y)
            })
        }
    }
}
