/// Shape/stride bookkeeping shared by the strided kernels.
public enum Strided {
    /// Merges adjacent dimensions that are contiguous with each other in every operand, and drops
    /// size-1 dimensions, so that e.g. two same-shape contiguous tensors become one flat loop.
    public static func coalesce(shape: [Int], strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        var outShape: [Int] = []
        var outStrides: [[Int]] = strides.map { _ in [] }
        for d in 0..<shape.count where shape[d] != 1 {
            if let last = outShape.last,
               strides.indices.allSatisfy({ strides[$0][d] * shape[d] == outStrides[$0].last! }) {
                _ = last
                outShape[outShape.count - 1] *= shape[d]
                for k in strides.indices { outStrides[k][outStrides[k].count - 1] = strides[k][d] }
            } else {
                outShape.append(shape[d])
                for k in strides.indices { outStrides[k].append(strides[k][d]) }
            }
        }
        if outShape.isEmpty { return ([1], strides.map { _ in [1] }) }
        return (outShape, outStrides)
    }

    /// Broadcast shape of two shapes (NumPy rules), or nil when incompatible.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Strides that read `t` as if it had shape `shape` (zeros on broadcast dimensions).
    public static func broadcastStrides(shape tShape: [Int], strides tStrides: [Int], to shape: [Int]) -> [Int] {
        let r = shape.count
        var out = [Int](repeating: 0, count: r)
        for i in 0..<tShape.count {
            let d = i + r - tShape.count
            out[d] = tShape[i] == 1 && shape[d] != 1 ? 0 : tStrides[i]
        }
        return out
    }

    /// Calls `body(rowIndex, offsets)` for every "row" (all dims but the last) of an iteration space,
    /// with the element offset of each operand at the row start. Rows `rows` only.
    @inlinable
    public static func forEachRow(shape: [Int], strides: [[Int]], rows: Range<Int>,
                                  _ body: (Int, UnsafeMutableBufferPointer<Int>) -> Void) {
        let outer = shape.count - 1
        let k = strides.count
        withUnsafeTemporaryAllocation(of: Int.self, capacity: max(outer, 1) + k) { buf in
            let idx = UnsafeMutableBufferPointer(rebasing: buf[0..<max(outer, 1)])
            let offs = UnsafeMutableBufferPointer(rebasing: buf[max(outer, 1)...])
            // Decompose the first row index.
            var rem = rows.lowerBound
            for k2 in 0..<k { offs[k2] = 0 }
            for d in stride(from: outer - 1, through: 0, by: -1) {
                idx[d] = rem % shape[d]
                rem /= shape[d]
                for k2 in 0..<k { offs[k2] += idx[d] * strides[k2][d] }
            }
            for row in rows {
                body(row, offs)
                // Advance the odometer.
                var d = outer - 1
                while d >= 0 {
                    idx[d] += 1
                    for k2 in 0..<k { offs[k2] += strides[k2][d] }
                    if idx[d] < shape[d] { break }
                    for k2 in 0..<k { offs[k2] -= strides[k2][d] * shape[d] }
                    idx[d] = 0
                    d -= 1
                }
            }
        }
    }
}
