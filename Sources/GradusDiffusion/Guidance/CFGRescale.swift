import _GradusShims
import GradusRuntime
import GradusTensor

/// CFG-rescale (Lin et al. 2024 §3.4; diffusers `rescale_noise_cfg`): per sample,
/// `p_r = pred·std(c)/std(pred)` over every non-batch axis, output `φ·p_r + (1 − φ)·pred`.
///
/// The reference's unbiased standard deviations cancel in the ratio. A sample whose `pred` has zero spread is
/// left unchanged (the reference would give NaN).
public enum CFGRescale {
    /// Rescales `pred` in place against `cond`.
    /// - Parameters:
    ///   - layout: per-sample groups (`outer = B`, `inner = 1`).
    ///   - phi: `guidance_rescale`, 0 … 1 (0 is a no-op).
    ///   - scratch: `layout.groupCount` Doubles.
    // pred, cond: (B, per)
    @inlinable
    public static func apply<T: BinaryFloatingPoint>(
        _ pred: UnsafeMutablePointer<T>, cond: UnsafePointer<T>, layout: ProjectionLayout, phi: Double,
        scratch: UnsafeMutablePointer<Double>
    ) {
        if phi == 0 { return }
        let per = layout.extent
        for b in 0..<layout.outer {
            let p = pred + b &* per, c = cond + b &* per
            let sp = standardDeviation(UnsafePointer(p), per)
            let ratio = sp > 0 ? standardDeviation(c, per) / sp : 1
            // φ·ratio·x + (1 − φ)·x
            scratch[b] = phi * ratio + (1 - phi)
        }
        Projection.scaleGroups(pred, layout: layout, factors: scratch)
    }

    /// Two-pass population standard deviation of `n` values (Double accumulation).
    @inlinable
    public static func standardDeviation<T: BinaryFloatingPoint>(_ x: UnsafePointer<T>, _ n: Int) -> Double {
        if n == 0 { return 0 }
        var sum = 0.0
        for i in 0..<n { sum += Double(x[i]) }
        let mean = sum / Double(n)
        var ss = 0.0
        for i in 0..<n { let d = Double(x[i]) - mean; ss += d * d }
        return gradus_sqrt(ss / Double(n))
    }
}
