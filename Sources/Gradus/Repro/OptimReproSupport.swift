import Glibc
import GradusRuntime
import GradusTensor
import GradusNN
import GradusOptim

/// Shared helpers of the optimizer/stability reproductions (issue 4): number formatting without Foundation,
/// JSON conversion that never emits NaN, timing, gradient norms and plain evaluation loops.
enum OptimReproSupport {
    /// `printf`-style formatting of one number (`%.4f`, `%.3g`, …) through `vsnprintf`.
    static func format(_ x: Double, _ spec: String = "%.4g") -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        var buffer = [CChar](repeating: 0, count: 64)
        let x = x + 0  // -0.0 prints as 0
        let n = withVaList([x]) { args in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, 64, spec, args) }
        }
        guard n > 0 else { return "\(x)" }
        return String(decoding: buffer.prefix(Swift.min(Int(n), 63)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A fraction as a percentage with one decimal (`0.9734` → `97.3%`).
    static func percent(_ x: Double) -> String { format(100 * x, "%.1f") + "%" }

    /// A JSON number, or `null` when not finite (JSON has no NaN).
    static func json(_ x: Double) -> JSON { x.isFinite ? .number(x) : .null }
    /// An array of JSON numbers (non-finite values become `null`).
    static func json(_ xs: [Double]) -> JSON { .array(xs.map { json($0) }) }
    /// An array of JSON integers.
    static func json(_ xs: [Int]) -> JSON { .array(xs.map { .number(Double($0)) }) }

    /// Seconds since `start` (`MonotonicTime.now()`).
    static func elapsed(since start: Double) -> Double { MonotonicTime.now() - start }

    /// A seed for one component of a reproduction, derived from the base seed (SplitMix64 step).
    static func seed(_ base: UInt64, _ salt: UInt64) -> UInt64 {
        var z = base &+ salt &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The elements of a float32 tensor (a fast copy; `Tensor.scalars(as:)` converts element by element).
    static func floats(_ t: Tensor) -> [Float] {
        let c = t.dtype == .float32 ? t.contiguous() : t.to(.float32).contiguous()
        return Array(UnsafeBufferPointer(start: c.basePointer(as: Float.self), count: c.count))
    }

    /// The elements of a float64 tensor (a fast copy).
    static func doubles(_ t: Tensor) -> [Double] {
        let c = t.dtype == .float64 ? t.contiguous() : t.to(.float64).contiguous()
        return Array(UnsafeBufferPointer(start: c.basePointer(as: Double.self), count: c.count))
    }

    /// ℓ1 or ℓ2 norm of all the parameters' current gradients (missing gradients count as 0), accumulated in
    /// double precision.
    static func gradientNorm(_ parameters: [Tensor], power: Double) -> Double {
        var total = 0.0
        for p in parameters {
            guard let g = p.grad else { continue }
            let c = g.dtype == .float32 ? g.contiguous() : g.to(.float32).contiguous()
            let x = c.basePointer(as: Float.self)
            if power == 1 { for i in 0..<c.count { total += Double(Swift.abs(x[i])) } }
            else { for i in 0..<c.count { let v = Double(x[i]); total += v * v } }
        }
        return power == 1 ? total : total.squareRoot()
    }

    /// Log-spaced checkpoints, `perDecade` per decade from 10 (rounded 10^(k/perDecade)) below `total`, then `total`:
    /// curves read on a log step axis (grokking).
    static func logCheckpoints(total: Int, perDecade: Int = 4) -> [Int] {
        var out: [Int] = []
        var k = perDecade
        while true {
            let s = Int(pow(10, Double(k) / Double(perDecade)).rounded())
            if s >= total { break }
            if out.last != s { out.append(s) }
            k += 1
        }
        return out + [total]
    }

    /// Mean of a non-empty array (NaN when empty).
    static func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }

    /// True when every value is finite.
    static func allFinite(_ xs: [Double]) -> Bool { xs.allSatisfy(\.isFinite) }
}
