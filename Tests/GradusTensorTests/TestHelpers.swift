// Small helpers for the GradusTensor tests: deterministic inputs and independent reference arithmetic
// (plain index loops that never go through the kernels under test).
import GradusRuntime
import GradusTensor
import Testing

/// float64 normal samples, reproducible from `seed`.
func randn(_ shape: [Int], seed: UInt64, dtype: DType = .float64) -> Tensor {
    Tensor.normal(shape, seed: seed, dtype: dtype)
}

/// A float64 tensor from values.
func tensor(_ shape: [Int], _ values: [Double], dtype: DType = .float64) -> Tensor {
    Tensor(shape: shape, scalars: values, dtype: dtype)
}

/// Row-major multi-index of flat position `flat` in `shape`.
func multiIndex(_ flat: Int, _ shape: [Int]) -> [Int] {
    var rem = flat
    var idx = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
        idx[d] = rem % shape[d]; rem /= shape[d]
    }
    return idx
}

/// Values of `values` (row-major, `shape`) read as broadcast to `target`, by explicit index arithmetic.
func broadcastReference(_ values: [Double], _ shape: [Int], to target: [Int]) -> [Double] {
    let n = target.reduce(1, *)
    let lead = target.count - shape.count
    return (0..<n).map { flat in
        let idx = multiIndex(flat, target)
        var src = 0
        for d in 0..<shape.count { src = src * shape[d] + (shape[d] == 1 ? 0 : idx[lead + d]) }
        return values[src]
    }
}

/// Element of a (possibly non-contiguous) tensor at a multi-index, read through shape/strides/offset by hand.
func element(_ t: Tensor, _ idx: [Int]) -> Double {
    var off = t.offset
    for (i, s) in zip(idx, t.strides) { off += i * s }
    switch t.dtype {
    case .float32: return Double(t.storage.raw.assumingMemoryBound(to: Float.self)[off])
    case .float64: return t.storage.raw.assumingMemoryBound(to: Double.self)[off]
    }
}

/// Expects two value lists to agree elementwise within atol + rtol·|expected| (NaN equals NaN).
func expectClose(_ actual: [Double], _ expected: [Double], atol: Double = 1e-12, rtol: Double = 1e-12,
                 _ what: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what()): count \(actual.count) vs \(expected.count)", sourceLocation: sourceLocation)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let ok = (a.isNaN && e.isNaN) || a == e || Swift.abs(a - e) <= atol + rtol * Swift.abs(e)
        if !ok {
            Issue.record("\(what()): element \(i) is \(a), expected \(e)", sourceLocation: sourceLocation)
            return
        }
    }
}

/// Shorthand: the values of a tensor as Double.
extension Tensor {
    var values: [Double] { scalars(as: Double.self) }
}
