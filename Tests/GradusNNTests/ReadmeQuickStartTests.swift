import Testing
import Gradus

/// The Swift quick start of the top-level README, verbatim apart from the dataset size and the schedule length (so the test stays quick):
/// if this stops compiling or learning, the README is wrong.
@Suite struct ReadmeQuickStartTests {
    @Test func swiftQuickStartTrains() throws {
        guard let train = try? FashionMNIST.load(.train, flatten: true, limit: 1_024) else { return }  // dataset not installed
        // --- README begins
        let model = SequentialModel([try Linear(784, 256), ReLU(), try Linear(256, 10)])
        let opt = try Optimizer(model.parameters, chain: GradientChain<Float>.adamW(learningRate: .warmupCosine(peak: 2e-3, warmup: 5, total: 40)))
        var losses: [Double] = []
        for epoch in 0..<5 {
            for batch in try train.minibatches(size: 128, seed: 0, epoch: epoch) {
                let x = Tensor(shape: batch.shape, scalars: batch.features)
                let loss = try Loss.crossEntropy(try model(x), labels: batch.labels.map(Int.init))
                opt.zeroGrad(); try loss.backward(); try opt.step()
                losses.append(try loss.item())
            }
        }
        // --- README ends
        #expect(losses.count == 40)
        let first: Double = losses.prefix(4).reduce(0, +) / 4, last: Double = losses.suffix(8).reduce(0, +) / 8
        #expect(last < 0.5 * first)
    }
}
