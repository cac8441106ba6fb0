import GradusRuntime
import GradusTensor

/// The reduction groups of a guidance rule over arbitrary norm axes.
///
/// Contiguous axes (`[1]`, `[1, 2, 3]`, `[-1, -2]`) map directly onto a `ProjectionLayout` over the original buffer.
/// Non-adjacent axes (e.g. `[1, 3]` of `(B, C, H, W)`: one norm per (sample, row), over channels and columns) are
/// handled by a gather into a permuted copy whose order is "kept axes, then reduced axes", where every group is one
/// contiguous run (`outer = Π kept`, `extent = Π reduced`, `inner = 1`), and a scatter back. The index table is built
/// once per state, so a step does two extra passes and no allocation.
@usableFromInline
struct NormAxes: Sendable {
    /// The layout of the buffer the projection kernels see (the original one, or the permuted copy).
    @usableFromInline let layout: ProjectionLayout
    /// `permuted[k] = original[source[k]]`; empty when the axes are contiguous (no permutation).
    @usableFromInline let source: [Int]

    /// Whether the rule works on a permuted copy.
    @inlinable var isPermuted: Bool { !source.isEmpty }

    /// - Parameters: shape `(B, ...)`; dims the reduced axes (negative allowed), nil = every non-batch axis.
    /// - Throws: `GradusError.invalidArgument` for out-of-range, repeated or empty axes.
    init(shape: [Int], dims: [Int]?) throws(GradusError) {
        // ProjectionLayout validates the axes (range, repeats, empty) and accepts the contiguous ones; it reports
        // `.unsupported` only for valid non-adjacent axes, which are handled here.
        do {
            layout = try ProjectionLayout(shape: shape, dims: dims); source = []; return
        } catch .unsupported {
        }
        let rank = shape.count
        let axes = (dims ?? []).map { $0 < 0 ? $0 + rank : $0 }.sorted()
        // Non-adjacent: permuted order = kept axes (in order), then reduced axes (in order).
        let kept = (0..<rank).filter { !axes.contains($0) }
        let order = kept + axes
        var strides = [Int](repeating: 1, count: rank)
        for a in stride(from: rank - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * shape[a + 1] }
        let n = shape.reduce(1, *)
        var source = [Int](repeating: 0, count: n)
        // Walk the permuted order with an odometer over `order`, tracking the source offset incrementally.
        var index = [Int](repeating: 0, count: rank), offset = 0
        for k in 0..<n {
            source[k] = offset
            var j = rank - 1
            while j >= 0 {
                let a = order[j]
                index[j] += 1; offset += strides[a]
                if index[j] < shape[a] { break }
                offset -= strides[a] * shape[a]; index[j] = 0; j -= 1
            }
        }
        self.source = source
        layout = try ProjectionLayout(outer: kept.reduce(1) { $0 * shape[$1] }, extent: axes.reduce(1) { $0 * shape[$1] }, inner: 1)
    }

    /// `dst[k] = src[source[k]]` (original → permuted).
    @inlinable
    func gather<T>(_ src: UnsafePointer<T>, into dst: UnsafeMutablePointer<T>) {
        source.withUnsafeBufferPointer { s in
            for k in 0..<s.count { dst[k] = src[s[k]] }
        }
    }

    /// `dst[source[k]] = src[k]` (permuted → original).
    @inlinable
    func scatter<T>(_ src: UnsafePointer<T>, into dst: UnsafeMutablePointer<T>) {
        source.withUnsafeBufferPointer { s in
            for k in 0..<s.count { dst[s[k]] = src[k] }
        }
    }
}
