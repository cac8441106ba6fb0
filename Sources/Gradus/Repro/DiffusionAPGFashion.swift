import GradusRuntime
import GradusTensor
import GradusData
import GradusNN
import GradusOptim
import GradusDiffusion

/// The Fashion-MNIST part of the `apg` reproduction (spec §8, issue 6): a trained class-conditional conv denoiser
/// sampled with CFG and APG over the same guidance scales as the toys.
///
/// Small scale, said plainly: images are 2×2-average-downsampled to 14×14 (a 28×28 run costs 4× more per step), the
/// denoiser (`DenoiserConvNet`, base width 16, ε-prediction, cosine schedule, label dropout 0.1) trains for about two
/// minutes on the first `trainImages` training images, and a small MLP classifier (196-128-10) trained on the same
/// real images measures class fidelity. Guidance runs in x₀ space, APG in the paper's form (η = 0, β = −0.5, `r`).
/// Metrics per (method, w): mean pixel value in [0, 1] after clipping, fraction of pixels outside [−1, 1] (what a
/// writer clips), pixel standard deviation, classifier accuracy on the requested class, and the RMS distance between
/// each class's mean sample and its mean real image.
extension DiffusionAPG {
    static let fashionThreshold = 3.5
    static let fashionSide = 14

    struct FashionPart {
        var tables: [ReproTable] = []
        var claims: [(claim: String, holds: Bool)] = []
        var files: [String] = []
        var metrics: [String: JSON] = [:]
    }

    /// Runs the Fashion-MNIST comparison; returns nothing but a log line and a `skipped` metric when the data set
    /// is not installed.
    static func fashionMNIST(_ options: ReproOptions, schedule: NoiseSchedule, log: (String) -> Void) throws(GradusError) -> FashionPart {
        typealias S = DiffusionReproSupport
        var part = FashionPart()
        let side = fashionSide, pixels = side * side
        let train: Dataset, test: Dataset
        do {
            train = try FashionMNIST.load(.train, directory: options.fashionMNISTDirectory, limit: options.scaled(12_000, minimum: 500))
            test = try FashionMNIST.load(.test, directory: options.fashionMNISTDirectory, limit: options.scaled(2_000, minimum: 200))
        } catch .notFound(let why) {
            log("apg: Fashion-MNIST not found — skipping that part (\(why))")
            part.metrics["fashion_mnist"] = .object(["skipped": .string(why)])
            return part
        }
        let xTrain = downsampled(train.features, count: train.count), yTrain = train.labels.map { Int($0) }
        let xTest = downsampled(test.features, count: test.count), yTest = test.labels.map { Int($0) }

        // ---- classifier on real images (the class-fidelity judge) ----
        let t0 = MonotonicTime.now()
        let judge = try FashionJudge(pixels: pixels, seed: S.seed(options.seed, 61))
        try judge.train(x: xTrain, y: yTrain, steps: options.scaled(800, minimum: 40), seed: S.seed(options.seed, 62))
        let judgeAccuracy = try judge.accuracy(xTest, yTest)
        log("apg: Fashion-MNIST judge (MLP \(pixels)-128-10) test accuracy \(S.f(judgeAccuracy))")

        // ---- denoiser ----
        let model = try DenoiserConvNet(channels: 1, height: side, width: side, numClasses: 10, baseWidth: 16, seed: S.seed(options.seed, 63))
        let trainer = try DiffusionTrainer(model: model, objective: .diffusion(schedule, .epsilon), labelDropout: 0.1,
                                           learningRate: 2e-3, seed: S.seed(options.seed, 64))
        var rng = PhiloxStream(seed: S.seed(options.seed, 65), stream: 4)
        let trainSteps = options.scaled(1500, minimum: 20), batch = 64
        try trainer.train(steps: trainSteps, logEvery: max(1, trainSteps / 5), batches: { (_: Int) throws(GradusError) in
            var x = [Float](repeating: 0, count: batch * pixels), y = [Int](repeating: 0, count: batch)
            for b in 0..<batch {
                let i = rng.nextInt(below: xTrain.count / pixels)
                y[b] = yTrain[i]
                for j in 0..<pixels { x[b * pixels + j] = xTrain[i * pixels + j] }
            }
            return (Tensor(shape: [batch, 1, side, side], scalars: x), y)
        }, log: { s, l in log("apg: Fashion-MNIST denoiser step \(s)/\(trainSteps), loss \(S.f(l, "%.4f"))") })
        let trainSeconds = MonotonicTime.now() - t0

        // ---- data reference row ----
        let perClass = options.scaled(10, minimum: 2)
        let labels = (0..<(10 * perClass)).map { $0 / perClass }
        let steps = options.scaled(25, minimum: 6)
        let classMeans = meanImages(xTest, labels: yTest, pixels: pixels)
        var rows: [Row] = []
        var dataStats = pixelStatistics(xTest)
        dataStats["accuracy"] = judgeAccuracy
        dataStats["class_mean_rms"] = 0
        rows.append(Row(method: "data", w: .nan, values: dataStats))

        // ---- guided sampling ----
        var grid: [Raster] = []
        let t1 = MonotonicTime.now()
        for method in ["cfg", "apg"] {
            for w in scales {
                let guidance: GuidanceChoice = method == "cfg" ? .cfg(scale: w) : .apg(.paper(w: w, normThreshold: fashionThreshold))
                let x = try ConditionalSampling.diffusion(model: model, labels: labels, schedule: schedule, kind: .epsilon, steps: steps,
                                                          guidance: guidance, space: .x0(schedule: schedule, kind: .epsilon),
                                                          seed: S.seed(options.seed, 66))
                var values = pixelStatistics(x)
                values["accuracy"] = try judge.accuracy(x, labels)
                let means = meanImages(x, labels: labels, pixels: pixels)
                var sq = 0.0
                for i in means.indices { let d = means[i] - classMeans[i]; sq += d * d }
                values["class_mean_rms"] = (sq / Double(means.count)).squareRoot()
                rows.append(Row(method: method, w: w, values: values))
                log("apg: Fashion-MNIST \(method) w=\(S.f(w, "%g")): mean pixel \(S.f(values["mean_pixel"]!)), outside [-1,1] \(S.f(values["outside_fraction"]!)), accuracy \(S.f(values["accuracy"]!))")
                // grid row: 3 samples of each class
                var pick: [Float] = []
                for k in 0..<10 { for i in 0..<min(3, perClass) { let r = k * perClass + i; pick += x[(r * pixels)..<((r + 1) * pixels)] } }
                grid.append(try ImageGrid.images(pick, count: pick.count / pixels, channels: 1, height: side, width: side,
                                                 columns: pick.count / pixels, padding: 1).upscaled(2))
            }
        }
        let sampleSeconds = MonotonicTime.now() - t1

        // ---- table, claims, files ----
        var table = ReproTable(
            title: "Fashion-MNIST 14×14 (conv denoiser, \(trainSteps) steps × \(batch) on \(train.count) images): DDIM \(steps) steps, x₀-space guidance, APG r = \(S.f(fashionThreshold, "%g"))",
            header: ["method", "w", "mean pixel", "outside [-1,1]", "pixel std", "judge accuracy", "class-mean RMS"])
        for r in rows {
            table.rows.append([r.method, r.w.isNaN ? "-" : S.f(r.w, "%g"), S.f(r.values["mean_pixel"]!), S.f(r.values["outside_fraction"]!, "%.4f"),
                               S.f(r.values["pixel_std"]!), S.f(r.values["accuracy"]!), S.f(r.values["class_mean_rms"]!)])
        }
        part.tables = [table]
        func v(_ m: String, _ w: Double, _ k: String) -> Double { rows.first { $0.method == m && $0.w == w }?.values[k] ?? .nan }
        let wMax = scales.last!, w1 = scales.first!
        let high = scales.filter { $0 >= 7 }, guided = scales.filter { $0 > 1 }
        let highText = high.map { S.f($0, "%g") }.joined(separator: ", ")
        part.claims = [
            ("Fashion-MNIST: CFG saturates at high scale (more pixels outside [−1, 1] at w=\(Int(wMax)) than at w=1)",
             v("cfg", wMax, "outside_fraction") > v("cfg", w1, "outside_fraction") + 0.01),
            ("Fashion-MNIST: APG saturates less than CFG at every high scale (fewer pixels outside [−1, 1] at w = \(highText))",
             high.allSatisfy { v("apg", $0, "outside_fraction") < v("cfg", $0, "outside_fraction") }),
            ("Fashion-MNIST: APG's class fidelity is comparable to CFG's at high scales (judge accuracy within 0.05 or above at w = \(highText))",
             high.allSatisfy { v("apg", $0, "accuracy") >= v("cfg", $0, "accuracy") - 0.05 }),
            ("Fashion-MNIST: guidance helps class fidelity (APG's best judge accuracy over w > 1 beats unguided w=1)",
             (guided.map { v("apg", $0, "accuracy") }.max() ?? .nan) > v("apg", w1, "accuracy")),
        ]
        if let p = try S.writePNG(try Raster.tiled(grid, columns: 1, padding: 3, background: [40]), name: "apg_fashion_grid.png", options: options) {
            part.files.append(p)
        }
        part.metrics["fashion_mnist"] = .object([
            "rows": .array(rows.map { r in
                var o: [String: JSON] = ["method": .string(r.method), "w": S.json(r.w)]
                for (k, x) in r.values { o[k] = S.json(x) }
                return .object(o)
            }),
            "image_side": .number(Double(side)), "train_images": .number(Double(train.count)), "train_steps": .number(Double(trainSteps)),
            "batch": .number(Double(batch)), "sampling_steps": .number(Double(steps)), "samples_per_class": .number(Double(perClass)),
            "final_train_loss": S.json(trainer.losses.last ?? .nan), "judge_test_accuracy": S.json(judgeAccuracy),
            "apg_norm_threshold": .number(fashionThreshold),
            "seconds": .object(["train": S.json(trainSeconds), "sample": S.json(sampleSeconds)]),
            "grid_order": .string("rows: cfg then apg, w = " + scales.map { S.f($0, "%g") }.joined(separator: ", ") + "; columns: 3 samples per class 0…9"),
        ])
        return part
    }

    /// 28×28 images in [0, 1] → 14×14 2×2 averages mapped to [−1, 1], flat `(count, 196)`.
    static func downsampled(_ x: [Float], count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count * 196)
        for n in 0..<count {
            let src = n * 784, dst = n * 196
            for y in 0..<14 { for c in 0..<14 {
                let a = x[src + (2 * y) * 28 + 2 * c], b = x[src + (2 * y) * 28 + 2 * c + 1]
                let d = x[src + (2 * y + 1) * 28 + 2 * c], e = x[src + (2 * y + 1) * 28 + 2 * c + 1]
                out[dst + y * 14 + c] = (a + b + d + e) * 0.5 - 1
            } }
        }
        return out
    }

    /// Saturation statistics of images in [−1, 1]: mean pixel of the clipped image mapped to [0, 1], fraction of
    /// values outside [−1, 1], and the standard deviation of the clipped pixels (in [0, 1] units).
    static func pixelStatistics(_ x: [Float]) -> [String: Double] {
        var sum = 0.0, sq = 0.0, outside = 0
        for v in x {
            if v > 1 || v < -1 { outside += 1 }
            let p = (Double(min(max(v, -1), 1)) + 1) / 2
            sum += p; sq += p * p
        }
        let n = Double(max(x.count, 1)), mean = sum / n
        return ["mean_pixel": mean, "outside_fraction": Double(outside) / n, "pixel_std": max(0, sq / n - mean * mean).squareRoot()]
    }

    /// Per-class mean of the clipped images, flat `(10, pixels)`.
    static func meanImages(_ x: [Float], labels: [Int], pixels: Int) -> [Double] {
        var sums = [Double](repeating: 0, count: 10 * pixels), counts = [Double](repeating: 0, count: 10)
        for (i, k) in labels.enumerated() where k >= 0 && k < 10 {
            counts[k] += 1
            for j in 0..<pixels { sums[k * pixels + j] += Double(min(max(x[i * pixels + j], -1), 1)) }
        }
        for k in 0..<10 where counts[k] > 0 { for j in 0..<pixels { sums[k * pixels + j] /= counts[k] } }
        return sums
    }
}

/// The class-fidelity judge of the Fashion-MNIST part: an MLP `pixels-128-10` trained with Adam on real images.
final class FashionJudge {
    let hidden: Linear, output: Linear
    let pixels: Int

    init(pixels: Int, seed: UInt64) throws(GradusError) {
        self.pixels = pixels
        hidden = try Linear(pixels, 128, seed: seed)
        output = try Linear(128, 10, seed: seed &+ 1)
    }

    func logits(_ x: Tensor) throws(GradusError) -> Tensor { try output(try hidden(x).relu()) }

    /// `steps` Adam steps (lr 2e-3) on batches of 128 drawn with replacement.
    func train(x: [Float], y: [Int], steps: Int, seed: UInt64) throws(GradusError) {
        let n = y.count, batch = 128
        guard n > 0 else { throw .invalidArgument("FashionJudge: no training images") }
        let optimizer = try Optimizer(hidden.parameters + output.parameters,
                                      chain: GradientChain<Float>.adam(learningRate: .constant(2e-3)))
        var rng = PhiloxStream(seed: seed, stream: 5)
        var xb = [Float](repeating: 0, count: batch * pixels), yb = [Int](repeating: 0, count: batch)
        for _ in 0..<steps {
            for b in 0..<batch {
                let i = rng.nextInt(below: n)
                yb[b] = y[i]
                for j in 0..<pixels { xb[b * pixels + j] = x[i * pixels + j] }
            }
            optimizer.zeroGrad()
            let loss = try Loss.crossEntropy(try logits(Tensor(shape: [batch, pixels], scalars: xb)), labels: yb)
            try loss.backward()
            try optimizer.step()
        }
    }

    /// Fraction of images (flat `(n, pixels)`, clipped to [−1, 1] first) classified as their label.
    func accuracy(_ x: [Float], _ y: [Int]) throws(GradusError) -> Double {
        guard !y.isEmpty else { return .nan }
        let clipped = x.map { min(max($0, -1), 1) }
        let predicted = try GradMode.withoutGrad { () throws(GradusError) in
            try logits(Tensor(shape: [y.count, pixels], scalars: clipped)).argmax(axis: 1)
        }
        var correct = 0
        for i in y.indices where predicted[i] == y[i] { correct += 1 }
        return Double(correct) / Double(y.count)
    }
}
