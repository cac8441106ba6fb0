import Synchronization
import GradusRuntime
import GradusTensor

/// Parameter initialisation (Kaiming/Xavier) with reproducible seeds.
///
/// Layers created without an explicit seed draw one from a process-wide counter seeded with
/// `Init.manualSeed(_:)` (like `torch.manual_seed`): the same seed and the same construction order give
/// the same parameters.
public enum Init {
    static let counter = Atomic<UInt64>(0x5EED)

    /// Resets the seed sequence.
    public static func manualSeed(_ seed: UInt64) { counter.store(seed &* 0x9E37_79B9_7F4A_7C15, ordering: .relaxed) }

    /// The next seed of the sequence.
    public static func nextSeed() -> UInt64 {
        let v = counter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        var z = v
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// U(−b, b) with b = gain·√(3/fan_in) — PyTorch's default for Linear/Conv weights uses gain 1/√3·√… ;
    /// `kaimingUniform(a: √5)` reproduces it exactly.
    public static func kaimingUniform(_ shape: [Int], fanIn: Int, a: Double = 5.0.squareRoot(), seed: UInt64, dtype: DType) -> Tensor {
        let gain = (2.0 / (1 + a * a)).squareRoot()
        let bound = gain * (3.0 / Double(Swift.max(fanIn, 1))).squareRoot()
        return Tensor.uniform(shape, low: -bound, high: bound, seed: seed, dtype: dtype)
    }

    /// N(0, σ²) with σ = √(2/fan_in) (He et al. 2015, ReLU gain).
    public static func kaimingNormal(_ shape: [Int], fanIn: Int, seed: UInt64, dtype: DType) -> Tensor {
        Tensor.normal(shape, std: (2.0 / Double(Swift.max(fanIn, 1))).squareRoot(), seed: seed, dtype: dtype)
    }

    /// U(−b, b) with b = gain·√(6/(fan_in + fan_out)) (Glorot & Bengio 2010).
    public static func xavierUniform(_ shape: [Int], fanIn: Int, fanOut: Int, gain: Double = 1, seed: UInt64, dtype: DType) -> Tensor {
        let bound = gain * (6.0 / Double(Swift.max(fanIn + fanOut, 1))).squareRoot()
        return Tensor.uniform(shape, low: -bound, high: bound, seed: seed, dtype: dtype)
    }

    /// N(0, σ²) with σ = gain·√(2/(fan_in + fan_out)).
    public static func xavierNormal(_ shape: [Int], fanIn: Int, fanOut: Int, gain: Double = 1, seed: UInt64, dtype: DType) -> Tensor {
        Tensor.normal(shape, std: gain * (2.0 / Double(Swift.max(fanIn + fanOut, 1))).squareRoot(), seed: seed, dtype: dtype)
    }

    /// U(−1/√fan_in, 1/√fan_in), PyTorch's bias default.
    public static func biasUniform(_ shape: [Int], fanIn: Int, seed: UInt64, dtype: DType) -> Tensor {
        let b = 1 / Double(Swift.max(fanIn, 1)).squareRoot()
        return Tensor.uniform(shape, low: -b, high: b, seed: seed, dtype: dtype)
    }
}
