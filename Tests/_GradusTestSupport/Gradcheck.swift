// Finite-difference gradient checks shared by every module's tests (like torch.autograd.gradcheck and
// gradgradcheck, or ggml's grad mode).
//
// Usage, inside a Swift Testing `@Test` that `throws`:
//
//     let x = Tensor.normal([3, 4], seed: 1, dtype: .float64)
//     try gradcheck({ xs in try xs[0].tanh().sum(axis: 1) }, inputs: [x])          // first derivatives
//     try gradgradcheck({ xs in try (xs[0] * xs[0]).exp().sum() }, inputs: [x])    // second derivatives
//
// Both throw `GradcheckFailure` (whose description names the input, element and both values) when the
// analytic and numeric derivatives differ, so a thrown check fails the test with a readable message.
//
// How they work. The function's output y is projected onto a fixed random direction w (seeded, so runs
// repeat): L(x) = Σ y·w. `gradcheck` compares Tensor.gradients(of: [y], wrt: x, gradOutputs: [w]) with central
// differences (L(x + ε·e_j) − L(x − ε·e_j)) / 2ε for every input element j. `gradgradcheck` records the gradient
// (createGraph: true), differentiates s = Σ_i <∇_i L, v_i> again — the Hessian-vector product H·v — and
// compares it with central differences of first-order gradients, (∇L(x + ε·v) − ∇L(x − ε·v)) / 2ε.
// Inputs must be float64; they are copied into fresh contiguous leaves, so the caller's tensors are never
// touched (to check a non-contiguous view, build the view inside `f`). Keep inputs small: gradcheck costs
// two evaluations of `f` per input element.
import GradusRuntime
import GradusTensor

/// A mismatch found by `gradcheck` or `gradgradcheck`.
public struct GradcheckFailure: Error, CustomStringConvertible {
    /// What was being compared ("gradient", "Hessian-vector product").
    public let what: String
    /// Index of the input tensor and the row-major element index within it.
    public let input: Int, element: Int
    /// Analytic (autodiff) and numeric (finite-difference) values at that element.
    public let analytic: Double, numeric: Double

    public var description: String {
        "\(what) mismatch at input \(input), element \(element): autodiff \(analytic), finite differences \(numeric) "
            + "(difference \(Swift.abs(analytic - numeric)))"
    }
}

/// The largest differences seen by a passing check (for tests that want to log or tighten them).
public struct GradcheckReport: Sendable {
    public var maxAbsoluteError = 0.0
    public var comparisons = 0
}

/// Checks first derivatives of `f` at `inputs` against central finite differences.
///
/// - Parameters:
///   - f: the function; may return any shape (it is projected onto a fixed random direction).
///   - inputs: float64 tensors; each becomes a fresh leaf that requires gradients.
///   - eps: finite-difference step (default 1e-6).
///   - atol, rtol: an element passes when |analytic − numeric| ≤ atol + rtol·|numeric| (defaults 1e-6, 1e-5).
///   - seed: seed of the projection direction.
/// - Throws: `GradcheckFailure` on the first element that differs; errors thrown by `f`; `GradusError` when an
///   input is not float64.
@discardableResult
public func gradcheck(_ f: ([Tensor]) throws -> Tensor, inputs: [Tensor], eps: Double = 1e-6,
                      atol: Double = 1e-6, rtol: Double = 1e-5, seed: UInt64 = 0x6772_6164) throws -> GradcheckReport {
    let leaves = try makeLeaves(inputs)
    let y = try f(leaves)
    let w = Tensor.normal(y.shape, seed: seed, dtype: .float64)
    let analytic = try Tensor.gradients(of: [y], wrt: leaves, gradOutputs: [w]).map { $0.scalars(as: Double.self) }
    // Recording stays on: `f` may differentiate internally (gradient penalties).
    func project() throws -> Double { try projected(f(leaves), w) }
    var report = GradcheckReport()
    for (i, leaf) in leaves.enumerated() {
        let p = leaf.basePointer(as: Double.self)
        for j in 0..<leaf.count {
            let saved = p[j]
            p[j] = saved + eps
            let plus = try project()
            p[j] = saved - eps
            let minus = try project()
            p[j] = saved
            let numeric = (plus - minus) / (2 * eps)
            try compare("gradient", analytic[i][j], numeric, i, j, atol, rtol, &report)
        }
    }
    return report
}

/// Checks second derivatives of `f` at `inputs`: the Hessian-vector product obtained by differentiating the
/// recorded gradient (createGraph) against central differences of first-order gradients along v.
///
/// Parameters and errors as `gradcheck`; `eps` defaults to 1e-5 because each numeric value is a difference of
/// gradients. Ops whose gradient is piecewise constant (relu, abs, clamp, max) pass trivially away from kinks.
@discardableResult
public func gradgradcheck(_ f: ([Tensor]) throws -> Tensor, inputs: [Tensor], eps: Double = 1e-5,
                          atol: Double = 1e-5, rtol: Double = 1e-4, seed: UInt64 = 0x6772_6164) throws -> GradcheckReport {
    let leaves = try makeLeaves(inputs)
    let y = try f(leaves)
    let w = Tensor.normal(y.shape, seed: seed, dtype: .float64)
    let v = leaves.enumerated().map { Tensor.normal($1.shape, seed: seed &+ 1 &+ UInt64($0), dtype: .float64) }

    // Analytic H·v: differentiate s = Σ_i <∇_i L, v_i>.
    let grads = try Tensor.gradients(of: [y], wrt: leaves, gradOutputs: [w], createGraph: true)
    var s = Tensor.scalar(0, dtype: .float64)
    for (g, vi) in zip(grads, v) { s = try s + (g * vi).sum() }
    let hv = try Tensor.gradients(of: [s], wrt: leaves).map { $0.scalars(as: Double.self) }

    // Numeric: (∇L(x + εv) − ∇L(x − εv)) / 2ε.
    let original = leaves.map { $0.scalars(as: Double.self) }
    let vs = v.map { $0.scalars(as: Double.self) }
    func gradients(at sign: Double) throws -> [[Double]] {
        for (i, leaf) in leaves.enumerated() {
            let p = leaf.basePointer(as: Double.self)
            for j in 0..<leaf.count { p[j] = original[i][j] + sign * eps * vs[i][j] }
        }
        let out = try f(leaves)
        return try Tensor.gradients(of: [out], wrt: leaves, gradOutputs: [w]).map { $0.scalars(as: Double.self) }
    }
    let plus = try gradients(at: 1), minus = try gradients(at: -1)
    for (i, leaf) in leaves.enumerated() {
        let p = leaf.basePointer(as: Double.self)
        for j in 0..<leaf.count { p[j] = original[i][j] }
    }
    var report = GradcheckReport()
    for i in leaves.indices {
        for j in 0..<leaves[i].count {
            try compare("Hessian-vector product", hv[i][j], (plus[i][j] - minus[i][j]) / (2 * eps), i, j, atol, rtol, &report)
        }
    }
    return report
}

/// The largest elementwise |a − b| over two tensors of the same shape (compared in Double), or +∞ when the
/// shapes differ. NaNs compare equal to NaNs and unequal to numbers.
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Double {
    guard a.shape == b.shape else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a.scalars(as: Double.self), b.scalars(as: Double.self)) {
        if x.isNaN || y.isNaN {
            if x.isNaN != y.isNaN { return .infinity }
            continue
        }
        if x == y { continue }  // equal infinities
        worst = Swift.max(worst, Swift.abs(x - y))
    }
    return worst
}

// MARK: - helpers

private func makeLeaves(_ inputs: [Tensor]) throws -> [Tensor] {
    try inputs.map { x in
        guard x.dtype == .float64 else { throw GradusError.dtypeMismatch("gradcheck needs float64 inputs, got \(x.dtype)") }
        return GradMode.withoutGrad { x.clone() }.requiringGrad()
    }
}

private func projected(_ y: Tensor, _ w: Tensor) throws -> Double {
    zip(y.scalars(as: Double.self), w.scalars(as: Double.self)).reduce(0) { $0 + $1.0 * $1.1 }
}

private func compare(_ what: String, _ analytic: Double, _ numeric: Double, _ i: Int, _ j: Int,
                     _ atol: Double, _ rtol: Double, _ report: inout GradcheckReport) throws {
    let diff = Swift.abs(analytic - numeric)
    guard diff <= atol + rtol * Swift.abs(numeric) else {
        throw GradcheckFailure(what: what, input: i, element: j, analytic: analytic, numeric: numeric)
    }
    report.maxAbsoluteError = Swift.max(report.maxAbsoluteError, diff)
    report.comparisons += 1
}
