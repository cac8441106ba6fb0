import _GradusShims
import GradusRuntime
import GradusTensor

/// CFG-rescale (Lin et al. 2024 §3.4; diffusers `rescale_noise_cfg`): per sample,
/// `p_r = pred·std(c)/std(pred)` over every non-batch axis, output `φ·p_r + (1 − φ)·pred`.
///
/// The reference's unbiased standard deviations cancel in the ratio. A sample whose `pred` has zero spread is
/// left unchanged (the reference would give NaN).
///
/// Two phases, so that a guidance rule may write its prediction over `c` (`out` aliasing `cond`): `measure` reads
/// `c` before the prediction is written, `apply(_:layout:phi:condStd:)` rescales it afterwards.
public enum CFGRescale {
    /// Per-sample standard deviations of `cond` into `condStd` (`layout.outer` Doubles).
    // cond: (B, per)
    @inlinable
    public static func measure<T: BinaryFloatingPoint>(cond: UnsafePointer<T>, layout: ProjectionLayout,
                                                       into condStd: UnsafeMutablePointer<Double>) {
        let per = layout.extent
        for b in 0..<layout.outer { condStd[b] = standardDeviation(cond + b &* per, per) }
    }

    /// Rescales `pred` in place given `measure`'s `condStd`, which it overwrites with the per-sample factors.
    /// - Parameter phi: `guidance_rescale`, 0 … 1 (0 is a no-op).
    // pred: (B, per)
    @inlinable
    public static func apply<T: BinaryFloatingPoint>(_ pred: UnsafeMutablePointer<T>, layout: ProjectionLayout, phi: Double,
                                                     condStd: UnsafeMutablePointer<Double>) {
        if phi == 0 { return }
        let per = layout.extent
        for b in 0..<layout.outer {
            let sp = standardDeviation(UnsafePointer(pred + b &* per), per)
            let ratio = sp > 0 ? condStd[b] / sp : 1
            // φ·ratio·x + (1 − φ)·x
            condStd[b] = phi * ratio + (1 - phi)
        }
        Projection.scaleGroups(pred, layout: layout, factors: condStd)
    }

    /// Rescales `pred` in place against `cond` (which must not alias `pred`).
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
        measure(cond: cond, layout: layout, into: scratch)
        apply(pred, layout: layout, phi: phi, condStd: scratch)
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
