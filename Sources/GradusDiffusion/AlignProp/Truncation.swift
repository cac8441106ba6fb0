import Glibc
import GradusRuntime

/// Where AlignProp starts backpropagating (spec §6.1 step 2; AlignProp `backprop_strategy`).
///
/// A strategy yields the truncation point `b` ("backprop_timestep"): steps `i < b` of an `N`-step chain have their
/// model output detached, so gradient flows through the last `K = N − b` steps.
public enum Truncation: Sendable, Equatable {
    /// Full backpropagation through every step (`b = 0`, `K = N`).
    case none
    /// A fixed `b` (`fixed(N − 1)` is "AlignProp K = 1").
    case fixed(Int)
    /// `b` uniform over the inclusive range, redrawn until it lies in `[1, N − 1]` (official: 0 … 50).
    case uniform(Int, Int)
    /// `b = round(mean + std·z)`, redrawn until it lies in `[1, N − 1]` (official default: mean 42, std 5 at N = 50).
    case gaussian(Double, Double)

    /// Draws `b` for a chain of `steps` steps.
    /// - Throws: `GradusError.invalidArgument` for `steps < 1`, a fixed `b` outside `0..<steps`, an empty or
    ///   unreachable range, a non-positive std, or when 1000 draws all fall outside `[1, N − 1]`.
    public func backpropStart(steps: Int, rng: inout PhiloxStream) throws(GradusError) -> Int {
        guard steps >= 1 else { throw .invalidArgument("Truncation: steps must be ≥ 1") }
        switch self {
        case .none: return 0
        case .fixed(let b):
            guard b >= 0, b < steps else { throw .invalidArgument("Truncation.fixed(\(b)) outside 0..<\(steps)") }
            return b
        case .uniform(let lo, let hi):
            guard lo <= hi, hi >= 1, lo <= steps - 1, steps >= 2 else {
                throw .invalidArgument("Truncation.uniform(\(lo), \(hi)) cannot hit [1, \(steps - 1)]")
            }
            for _ in 0..<1000 {
                let b = lo + rng.nextInt(below: hi - lo + 1)
                if b >= 1 && b <= steps - 1 { return b }
            }
        case .gaussian(let mean, let std):
            guard std > 0, std.isFinite, mean.isFinite, steps >= 2 else {
                throw .invalidArgument("Truncation.gaussian(\(mean), \(std)) needs a positive std and ≥ 2 steps")
            }
            for _ in 0..<1000 {
                let b = Int((mean + std * rng.nextNormal()).rounded())
                if b >= 1 && b <= steps - 1 { return b }
            }
        }
        throw .invalidArgument("Truncation: no draw of \(self) fell in [1, \(steps - 1)]")
    }
}
