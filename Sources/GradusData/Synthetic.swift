import Glibc
import GradusRuntime

/// The binary operation of a modular-arithmetic task, `a ∘ b mod p`.
public enum ModularOperation: Int, Sendable, CaseIterable {
    case add = 0, subtract, multiply, divide

    /// Applies the operation mod `p`. Division multiplies by the inverse of `b` (p prime, b ≠ 0).
    public func apply(_ a: Int, _ b: Int, modulus p: Int) -> Int {
        switch self {
        case .add: return (a + b) % p
        case .subtract: return ((a - b) % p + p) % p
        case .multiply: return (a * b) % p
        case .divide: return (a * Synthetic.powMod(b, p - 2, p)) % p
        }
    }
}

/// Seeded synthetic datasets. Every generator is a pure function of its arguments: the same seed gives
/// bitwise the same data on every machine (`PhiloxStream`).
public enum Synthetic {
    /// Modular arithmetic as in the grokking papers (Power et al. 2022): every equation `a ∘ b = c (mod p)`,
    /// split at random into train and test.
    ///
    /// Each sample is four token ids `[a, ∘, b, =]` with vocabulary `0..<p` for numbers, `p` for the
    /// operation and `p + 1` for `=` (so `vocabularySize == p + 2`); the label is `c` in `0..<p`.
    /// Division uses `b ∈ 1..<p` and needs `p` prime.
    ///
    /// - Parameters:
    ///   - modulus: `p`, at least 2 and at most 4096 (`p²` equations).
    ///   - trainFraction: share of equations in `train`, in [0, 1] (0.3–0.5 in the papers). The train set has
    ///     `⌊trainFraction · count⌋` equations, as the grokking repositories compute it (`int(frac * len(data))`):
    ///     5107 of the 12769 equations for p = 113 and 0.4.
    public static func modularArithmetic(modulus p: Int, operation: ModularOperation, trainFraction: Double,
                                         seed: UInt64) throws(GradusError) -> (train: Dataset, test: Dataset) {
        guard p >= 2, p <= 4096 else { throw .invalidArgument("modulus must be in 2...4096, got \(p)") }
        guard trainFraction >= 0, trainFraction <= 1 else { throw .invalidArgument("trainFraction must be in [0, 1]") }
        if operation == .divide {
            guard isPrime(p) else { throw .invalidArgument("division mod \(p) needs a prime modulus") }
        }
        let bStart = operation == .divide ? 1 : 0
        var features: [Float] = []
        var labels: [Int32] = []
        features.reserveCapacity(p * p * 4)
        for a in 0..<p {
            for b in bStart..<p {
                features += [Float(a), Float(p), Float(b), Float(p + 1)]
                labels.append(Int32(operation.apply(a, b, modulus: p)))
            }
        }
        let all = try Dataset(features: features, sampleShape: [4], labels: labels, classCount: p, vocabularySize: p + 2)
        return try all.split(trainCount: Int(trainFraction * Double(all.count)), seed: seed)
    }

    /// Four Gaussian clusters centred at (±1, ±1); the label is 1 when the signs differ (XOR), then each
    /// label flips with probability `flipProbability` (label noise).
    public static func xorClusters(count: Int, standardDeviation: Double = 0.3, flipProbability: Double = 0,
                                   seed: UInt64) throws(GradusError) -> Dataset {
        try checkCount(count)
        guard standardDeviation >= 0 else { throw .invalidArgument("standardDeviation must be >= 0") }
        guard flipProbability >= 0, flipProbability <= 1 else { throw .invalidArgument("flipProbability must be in [0, 1]") }
        return try planar(count: count, classCount: 2, seed: seed, stream: 1) { i, rng in
            let cluster = i % 4
            let cx: Double = cluster & 1 == 0 ? 1 : -1
            let cy: Double = cluster & 2 == 0 ? 1 : -1
            let x = cx + standardDeviation * rng.nextNormal(), y = cy + standardDeviation * rng.nextNormal()
            var label: Int32 = (cx * cy < 0) ? 1 : 0
            if rng.nextDouble() < flipProbability { label = 1 - label }
            return (x, y, label)
        }
    }

    /// A 2-D Gaussian mixture: `classes` isotropic clusters with centres evenly spaced on a circle of
    /// `radius`; sample `i` belongs to class `i % classes`.
    public static func gaussianMixture(count: Int, classes: Int = 3, radius: Double = 2, standardDeviation: Double = 0.5,
                                       seed: UInt64) throws(GradusError) -> Dataset {
        try checkCount(count)
        guard classes >= 1 else { throw .invalidArgument("classes must be >= 1") }
        guard standardDeviation >= 0 else { throw .invalidArgument("standardDeviation must be >= 0") }
        return try planar(count: count, classCount: classes, seed: seed, stream: 2) { i, rng in
            let k = i % classes
            let angle = 2 * Double.pi * Double(k) / Double(classes)
            let x = radius * cos(angle) + standardDeviation * rng.nextNormal()
            return (x, radius * sin(angle) + standardDeviation * rng.nextNormal(), Int32(k))
        }
    }

    /// Two interleaving half circles (as scikit-learn's `make_moons`): class 0 is `(cos t, sin t)`, class 1
    /// is `(1 − cos t, 0.5 − sin t)`, `t` uniform in [0, π], plus Gaussian noise.
    public static func twoMoons(count: Int, noise: Double = 0.1, seed: UInt64) throws(GradusError) -> Dataset {
        try checkCount(count)
        guard noise >= 0 else { throw .invalidArgument("noise must be >= 0") }
        return try planar(count: count, classCount: 2, seed: seed, stream: 3) { i, rng in
            let k = i % 2
            let t = Double.pi * rng.nextDouble()
            let (x, y) = k == 0 ? (cos(t), sin(t)) : (1 - cos(t), 0.5 - sin(t))
            let nx = x + noise * rng.nextNormal()
            return (nx, y + noise * rng.nextNormal(), Int32(k))
        }
    }

    /// Interleaved spirals (the CS231n toy set): class `k` follows radius `r ∈ (0, 1]` at angle
    /// `2π·turns·r + 2πk/classes`, plus Gaussian noise of `noise` on each coordinate.
    public static func spirals(count: Int, classes: Int = 2, turns: Double = 1.5, noise: Double = 0.05,
                               seed: UInt64) throws(GradusError) -> Dataset {
        try checkCount(count)
        guard classes >= 1 else { throw .invalidArgument("classes must be >= 1") }
        guard noise >= 0 else { throw .invalidArgument("noise must be >= 0") }
        let perClass = max(1, (count + classes - 1) / classes)
        return try planar(count: count, classCount: classes, seed: seed, stream: 4) { i, rng in
            let k = i % classes
            let r = Double(i / classes + 1) / Double(perClass)
            let angle = 2 * Double.pi * turns * r + 2 * Double.pi * Double(k) / Double(classes)
            let x = r * cos(angle) + noise * rng.nextNormal()
            return (x, r * sin(angle) + noise * rng.nextNormal(), Int32(k))
        }
    }

    /// The shared body of the 2-D generators: `sample(i, &rng)` gives point `i` and its label, drawn from
    /// one Philox stream in sample order.
    static func planar(count: Int, classCount: Int, seed: UInt64, stream: UInt64,
                       _ sample: (Int, inout PhiloxStream) -> (Double, Double, Int32)) throws(GradusError) -> Dataset {
        var rng = PhiloxStream(seed: seed, stream: stream)
        var f = [Float](repeating: 0, count: 2 * count)
        var l = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let (x, y, label) = sample(i, &rng)
            f[2 * i] = Float(x)
            f[2 * i + 1] = Float(y)
            l[i] = label
        }
        return try Dataset(features: f, sampleShape: [2], labels: l, classCount: classCount)
    }

    static func checkCount(_ n: Int) throws(GradusError) {
        guard n >= 0, n <= 1 << 28 else { throw .invalidArgument("count must be in 0...2^28, got \(n)") }
    }

    static func isPrime(_ n: Int) -> Bool {
        if n < 2 { return false }
        var d = 2
        while d * d <= n { if n % d == 0 { return false }; d += 1 }
        return true
    }

    static func powMod(_ base: Int, _ exp: Int, _ m: Int) -> Int {
        var result = 1, b = base % m, e = exp
        while e > 0 {
            if e & 1 == 1 { result = result * b % m }
            b = b * b % m
            e >>= 1
        }
        return result
    }
}
