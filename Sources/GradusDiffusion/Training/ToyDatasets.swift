import Glibc
import GradusRuntime
import GradusTensor

/// Seeded toy data for the diffusion reproductions and tests: class-conditional Gaussian mixtures, rings and
/// points on spheres embedded in higher dimensions. Every sampler draws from a `PhiloxStream`.
public enum ToyDatasets {
    /// An isotropic class-conditional Gaussian mixture: class `k` is `N(means[k], std²·I)`, uniform class prior.
    public struct GaussianMixture: Sendable, Equatable {
        /// Class means, `numClasses × dim`.
        public var means: [[Double]]
        /// Per-coordinate standard deviation of every class.
        public var std: Double

        public init(means: [[Double]], std: Double) throws(GradusError) {
            guard let d = means.first?.count, d >= 1, means.allSatisfy({ $0.count == d }) else {
                throw .invalidArgument("GaussianMixture: means must be non-empty rows of equal length")
            }
            guard std > 0, std.isFinite else { throw .invalidArgument("GaussianMixture: std must be positive") }
            self.means = means; self.std = std
        }

        /// The 2-D mixture of the spec's APG toy: four classes at `(±3, ±1.5)`, std 0.5.
        public static let fourClasses2D = try! GaussianMixture(means: [[3, 1.5], [3, -1.5], [-3, 1.5], [-3, -1.5]], std: 0.5)

        public var numClasses: Int { means.count }
        public var dim: Int { means[0].count }

        /// `count` samples of class `labels[i]` (or uniform random classes when `labels` is nil): `(values, labels)`.
        public func sample(count: Int, labels: [Int]? = nil, rng: inout PhiloxStream) throws(GradusError) -> (x: [Float], labels: [Int]) {
            if let labels {
                guard labels.count == count else { throw .invalidArgument("GaussianMixture: \(labels.count) labels for \(count) samples") }
                for l in labels where l < 0 || l >= numClasses { throw .invalidArgument("GaussianMixture: label \(l) out of range") }
            }
            var x = [Float](repeating: 0, count: count * dim), ys = [Int](repeating: 0, count: count)
            for i in 0..<count {
                let k = labels?[i] ?? rng.nextInt(below: numClasses)
                ys[i] = k
                for j in 0..<dim { x[i * dim + j] = Float(means[k][j] + std * rng.nextNormal()) }
            }
            return (x, ys)
        }

        /// The exact x₀-prediction `E[x₀ | x_t]` under VP noising `x_t = a·x₀ + s·ε`, given class `label`
        /// (nil = unconditional: components weighted by their posterior responsibilities).
        /// - Parameter x: `(B, dim)` flat; `a`, `s` as in spec §2.
        public func posteriorMean(_ x: [Double], a: Double, s: Double, label: Int?) -> [Double] {
            let b = x.count / dim, v = a * a * std * std + s * s
            let gain = a * std * std / v
            var out = [Double](repeating: 0, count: x.count)
            var logw = [Double](repeating: 0, count: numClasses)
            for r in 0..<b {
                let row = Array(x[(r * dim)..<((r + 1) * dim)])
                if let label {
                    for j in 0..<dim { out[r * dim + j] = means[label][j] + gain * (row[j] - a * means[label][j]) }
                    continue
                }
                for k in 0..<numClasses {
                    var d2 = 0.0
                    for j in 0..<dim { let d = row[j] - a * means[k][j]; d2 += d * d }
                    logw[k] = -d2 / (2 * v)
                }
                let m = logw.max() ?? 0
                var z = 0.0
                for k in 0..<numClasses { logw[k] = exp(logw[k] - m); z += logw[k] }
                for k in 0..<numClasses {
                    let w = logw[k] / z
                    for j in 0..<dim { out[r * dim + j] += w * (means[k][j] + gain * (row[j] - a * means[k][j])) }
                }
            }
            return out
        }
    }

    /// `count` points on a circle of `radius` in the plane, with Gaussian radial jitter `noise`: `(count, 2)` flat.
    public static func ring(count: Int, radius: Double = 2, noise: Double = 0.05, rng: inout PhiloxStream) -> [Float] {
        var out = [Float](repeating: 0, count: 2 * count)
        for i in 0..<count {
            let th = 2 * Double.pi * rng.nextDouble(), r = radius + noise * rng.nextNormal()
            out[2 * i] = Float(r * cos(th)); out[2 * i + 1] = Float(r * sin(th))
        }
        return out
    }

    /// `count` points uniform on the unit sphere `S^d ⊂ R^{d+1}`, embedded in `R^ambient` (first `d + 1`
    /// coordinates, the rest 0) and rotated by `rotation` (`ambient × ambient`, row-major; nil = identity):
    /// a manifold of intrinsic dimension `d`. `(count, ambient)` flat, Double.
    public static func sphere(count: Int, intrinsicDim d: Int, ambient: Int, rotation: [Double]? = nil,
                              rng: inout PhiloxStream) throws(GradusError) -> [Double] {
        guard d >= 1, ambient >= d + 1 else { throw .invalidArgument("sphere: need 1 ≤ d < ambient") }
        if let rotation, rotation.count != ambient * ambient { throw .invalidArgument("sphere: rotation must be ambient × ambient") }
        var out = [Double](repeating: 0, count: count * ambient)
        for i in 0..<count {
            var v = (0...d).map { _ in rng.nextNormal() }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = v.map { $0 / max(n, 1e-300) }
            for j in 0..<ambient {
                if let rotation {
                    var s = 0.0
                    for l in 0...d { s += rotation[j * ambient + l] * v[l] }
                    out[i * ambient + j] = s
                } else if j <= d { out[i * ambient + j] = v[j] }
            }
        }
        return out
    }

    /// A random orthogonal `n × n` matrix (Gram–Schmidt on Gaussian columns), row-major.
    public static func randomRotation(_ n: Int, rng: inout PhiloxStream) -> [Double] {
        var cols: [[Double]] = []
        while cols.count < n {
            var v = (0..<n).map { _ in rng.nextNormal() }
            for c in cols { let p = zip(v, c).reduce(0) { $0 + $1.0 * $1.1 }; for j in 0..<n { v[j] -= p * c[j] } }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 1e-8 { cols.append(v.map { $0 / norm }) }
        }
        var out = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { out[i * n + j] = cols[j][i] } }
        return out
    }
}

/// The exact class-conditional denoiser of a `GaussianMixture` under a VP schedule: predicts `x₀` (use
/// `Parameterization.sample`). No training — the reproductions use it where the claim concerns guidance, not learning.
public final class AnalyticMixtureDenoiser: ConditionalDenoiser {
    public let mixture: ToyDatasets.GaussianMixture
    public let schedule: NoiseSchedule
    public let dtype: DType = .float32
    /// Shape of one sample (default `[dim]`; `[1, 8, 8]` for the 64-D image toy).
    public let sampleShape: [Int]

    public init(mixture: ToyDatasets.GaussianMixture, schedule: NoiseSchedule, sampleShape: [Int]? = nil) throws(GradusError) {
        let shape = sampleShape ?? [mixture.dim]
        guard shape.reduce(1, *) == mixture.dim else { throw .shapeMismatch("AnalyticMixtureDenoiser: sample shape \(shape) vs dim \(mixture.dim)") }
        self.mixture = mixture; self.schedule = schedule; self.sampleShape = shape
    }

    public var numClasses: Int { mixture.numClasses }

    public func predict(_ x: Tensor, timesteps: [Double], labels: [Int]) throws(GradusError) -> Tensor {
        let b = x.shape[0], dim = mixture.dim
        guard x.count == b * dim else { throw .shapeMismatch("AnalyticMixtureDenoiser: x \(x.shape)") }
        try checkConditioning(batch: b, timesteps: timesteps, labels: labels)
        let values = x.scalars(as: Double.self)
        var out = [Double](repeating: 0, count: values.count)
        for r in 0..<b {
            let abar = try schedule.alphaCumprod(at: Int(timesteps[r].rounded()))
            let a = abar.squareRoot(), s = (1 - abar).squareRoot()
            let label = labels[r] == numClasses ? nil : labels[r]
            let m = mixture.posteriorMean(Array(values[(r * dim)..<((r + 1) * dim)]), a: a, s: s, label: label)
            for j in 0..<dim { out[r * dim + j] = m[j] }
        }
        return Tensor(shape: x.shape, scalars: out, dtype: x.dtype)
    }
}
