import Testing
@testable import GradusData

@Suite struct GeneratorTests {
    @Test(arguments: ModularOperation.allCases) func modularArithmetic(op: ModularOperation) throws {
        let p = 7
        let (train, test) = try Synthetic.modularArithmetic(modulus: p, operation: op, trainFraction: 0.4, seed: 3)
        let total = op == .divide ? p * (p - 1) : p * p
        #expect(train.count + test.count == total)
        #expect(train.count == Int(0.4 * Double(total)))  // ⌊0.4·total⌋, as the official int(frac * len)
        #expect(train.sampleShape == [4] && train.vocabularySize == p + 2 && train.classCount == p)
        // Every sample is a true equation, and train and test are disjoint.
        var seen = Set<[Int32]>()
        for d in [train, test] {
            let tokens = d.tokenIDs
            for i in 0..<d.count {
                let t = Array(tokens[4 * i..<4 * i + 4])
                #expect(t[1] == Int32(p) && t[3] == Int32(p + 1))
                let (a, b, c) = (Int(t[0]), Int(t[2]), Int(d.labels[i]))
                switch op {
                case .add: #expect((a + b) % p == c)
                case .subtract: #expect((a - b + p) % p == c)
                case .multiply: #expect(a * b % p == c)
                case .divide: #expect(c * b % p == a)
                }
                #expect(seen.insert(t).inserted)
            }
        }
        let again = try Synthetic.modularArithmetic(modulus: p, operation: op, trainFraction: 0.4, seed: 3)
        #expect(again.train == train && again.test == test)
        let other = try Synthetic.modularArithmetic(modulus: p, operation: op, trainFraction: 0.4, seed: 4)
        #expect(other.train != train)
    }

    /// p = 113 at 40%: the official split sizes (5107 train, 7662 test), where rounding would give 5108.
    @Test func modularArithmeticOfficialSplitSize() throws {
        let (train, test) = try Synthetic.modularArithmetic(modulus: 113, operation: .add, trainFraction: 0.4, seed: 0)
        #expect(train.count == 5107 && test.count == 7662)
        // split(trainCount:) is the same shuffle as split(trainFraction:), cut at the given count.
        let all = try Synthetic.xorClusters(count: 100, seed: 1)
        #expect(DataTest.error { try all.split(trainCount: all.count + 1, seed: 0) } != nil)
        #expect(DataTest.error { try all.split(trainCount: -1, seed: 0) } != nil)
        let byCount = try all.split(trainCount: 10, seed: 5), byFraction = try all.split(trainFraction: 10.0 / Double(all.count), seed: 5)
        #expect(byCount.train == byFraction.train && byCount.test == byFraction.test)
    }

    @Test func modularArithmeticRejectsBadArguments() {
        #expect(DataTest.error { try Synthetic.modularArithmetic(modulus: 8, operation: .divide, trainFraction: 0.5, seed: 0) } != nil)
        #expect(DataTest.error { try Synthetic.modularArithmetic(modulus: 1, operation: .add, trainFraction: 0.5, seed: 0) } != nil)
        #expect(DataTest.error { try Synthetic.modularArithmetic(modulus: 5, operation: .add, trainFraction: 1.5, seed: 0) } != nil)
    }

    @Test func twoDimensionalGeneratorsAreDeterministic() throws {
        let makers: [(UInt64) throws -> Dataset] = [
            { try Synthetic.xorClusters(count: 101, flipProbability: 0.1, seed: $0) },
            { try Synthetic.gaussianMixture(count: 101, classes: 4, seed: $0) },
            { try Synthetic.twoMoons(count: 101, seed: $0) },
            { try Synthetic.spirals(count: 101, classes: 3, seed: $0) },
        ]
        for make in makers {
            let a = try make(11), b = try make(11), c = try make(12)
            #expect(a == b)
            #expect(a.features != c.features)
            #expect(a.count == 101 && a.sampleShape == [2] && a.features.count == 202)
            #expect(a.features.allSatisfy { $0.isFinite })
            #expect(a.labels.allSatisfy { $0 >= 0 && Int($0) < a.classCount })
        }
    }

    @Test func generatorGeometry() throws {
        // Without noise, XOR labels equal the sign disagreement and flips land near the requested rate.
        let clean = try Synthetic.xorClusters(count: 400, standardDeviation: 0.1, seed: 1)
        for i in 0..<clean.count {
            #expect(clean.labels[i] == ((clean.features[2 * i] * clean.features[2 * i + 1] < 0) ? 1 : 0))
        }
        let noisy = try Synthetic.xorClusters(count: 4000, standardDeviation: 0.1, flipProbability: 0.2, seed: 1)
        var flips = 0
        for i in 0..<noisy.count where noisy.labels[i] != ((noisy.features[2 * i] * noisy.features[2 * i + 1] < 0) ? 1 : 0) { flips += 1 }
        #expect(abs(Double(flips) / 4000 - 0.2) < 0.03)
        // Moons without noise lie on unit circles.
        let moons = try Synthetic.twoMoons(count: 50, noise: 0, seed: 2)
        for i in 0..<50 {
            let (x, y) = (Double(moons.features[2 * i]), Double(moons.features[2 * i + 1]))
            let r = moons.labels[i] == 0 ? (x * x + y * y) : ((1 - x) * (1 - x) + (0.5 - y) * (0.5 - y))
            #expect(abs(r - 1) < 1e-5)
        }
        // Mixture class means sit near their centres.
        let mix = try Synthetic.gaussianMixture(count: 3000, classes: 3, radius: 2, standardDeviation: 0.3, seed: 5)
        var mx = 0.0, n = 0.0
        for i in 0..<mix.count where mix.labels[i] == 0 { mx += Double(mix.features[2 * i]); n += 1 }
        #expect(abs(mx / n - 2) < 0.05)
        #expect(DataTest.error { try Synthetic.spirals(count: -1, seed: 0) } != nil)
    }
}

@Suite struct MinibatchTests {
    func sample() throws -> Dataset {
        try Dataset(features: (0..<30).map(Float.init), sampleShape: [3], labels: (0..<10).map { Int32($0 % 3) })
    }

    @Test func seededShuffleIsDeterministicAndCoversEverything() throws {
        let d = try sample()
        let a = Array(try d.minibatches(size: 4, seed: 9, epoch: 2))
        let b = Array(try d.minibatches(size: 4, seed: 9, epoch: 2))
        #expect(a == b)
        #expect(a.map(\.indices.count) == [4, 4, 2])
        #expect(a.flatMap(\.indices).sorted() == Array(0..<10))
        #expect(a.flatMap(\.indices) != Array(0..<10))
        let otherEpoch = Array(try d.minibatches(size: 4, seed: 9, epoch: 3)).flatMap(\.indices)
        #expect(otherEpoch != a.flatMap(\.indices))
        for batch in a {
            #expect(batch.shape == [batch.indices.count, 3])
            for (k, i) in batch.indices.enumerated() {
                #expect(Array(batch.features[3 * k..<3 * k + 3]) == [Float(3 * i), Float(3 * i + 1), Float(3 * i + 2)])
                #expect(batch.labels[k] == Int32(i % 3))
            }
        }
    }

    @Test func orderedAndDropLast() throws {
        let d = try sample()
        let ordered = Array(try d.minibatches(size: 3, shuffle: false, dropLast: true))
        #expect(ordered.map(\.indices) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
        #expect(try d.minibatches(size: 3, dropLast: true).batchCount == 3)
        #expect(try d.minibatches(size: 3).batchCount == 4)
        #expect(DataTest.error { try d.minibatches(size: 0) } != nil)
        #expect(Array(try Dataset(features: [], sampleShape: [2], labels: []).minibatches(size: 2)).isEmpty)
    }

    @Test func datasetValidation() throws {
        #expect(DataTest.error { try Dataset(features: [1, 2, 3], sampleShape: [2], labels: [0, 1]) } != nil)
        #expect(DataTest.error { try Dataset(features: [1, 2], sampleShape: [1], labels: [0, -1]) } != nil)
        #expect(DataTest.error { try Dataset(features: [1, 2], sampleShape: [1], labels: [0, 5], classCount: 3) } != nil)
        let d = try sample()
        let (tr, te) = try d.split(trainFraction: 0.7, seed: 1)
        #expect(tr.count == 7 && te.count == 3)
        #expect(DataTest.error { try d.subset([10]) } != nil)
    }
}
