// Reductions (sum, mean, max/min, argmax, logsumexp, variance) over every axis subset of rank-3 tensors,
// against plain index loops; size-0 and size-1 dimensions; non-contiguous inputs; gradients.
import Glibc
import GradusRuntime
import GradusTensor
import Testing
import _GradusTestSupport

/// Every non-empty subset of 0..<rank.
func axisSubsets(_ rank: Int) -> [[Int]] {
    (1..<(1 << rank)).map { mask in (0..<rank).filter { mask & (1 << $0) != 0 } }
}

/// Reference reduction by explicit index loops: groups elements by their index on the kept axes.
func referenceReduce(_ values: [Double], _ shape: [Int], axes: [Int], _ combine: ([Double]) -> Double) -> (shape: [Int], values: [Double]) {
    let kept = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
    var groups = [[Double]](repeating: [], count: kept.reduce(1, *))
    for flat in 0..<values.count {
        var idx = multiIndex(flat, shape)
        for a in axes { idx[a] = 0 }
        var g = 0
        for d in 0..<kept.count { g = g * kept[d] + idx[d] }
        groups[g].append(values[flat])
    }
    return (kept, groups.map(combine))
}

let reductionShapes: [[Int]] = [[2, 3, 4], [1, 5, 1], [3, 1, 7], [2, 0, 3], [5, 2, 33]]

@Suite struct ReduceTests {
    @Test(arguments: reductionShapes)
    func sumMeanAndLogSumExpOverEveryAxisSubset(_ shape: [Int]) throws {
        let x = randn(shape, seed: 3)
        let xs = x.values
        for axes in axisSubsets(shape.count) {
            let dropped = shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
            let sum = referenceReduce(xs, shape, axes: axes) { $0.reduce(0, +) }
            let s = try x.sum(axes: axes, keepDims: true)
            #expect(s.shape == sum.shape)
            expectClose(s.values, sum.values, atol: 1e-12, rtol: 1e-12, "sum \(shape) \(axes)")
            #expect(try x.sum(axes: axes).shape == dropped)
            // Negative axes mean the same axes.
            expectClose(try x.sum(axes: axes.map { $0 - shape.count }).values, sum.values, atol: 1e-12, rtol: 1e-12, "neg axes")
            let n = Double(axes.reduce(1) { $0 * shape[$1] })
            if n > 0 {
                expectClose(try x.mean(axes: axes).values, sum.values.map { $0 / n }, atol: 1e-12, rtol: 1e-12, "mean")
                let lse = referenceReduce(xs, shape, axes: axes) { v in Glibc.log(v.map { Glibc.exp($0) }.reduce(0, +)) }
                expectClose(try x.logSumExp(axes: axes).values, lse.values, atol: 1e-12, rtol: 1e-12, "logsumexp \(shape) \(axes)")
                let variance = referenceReduce(xs, shape, axes: axes) { v in
                    let m = v.reduce(0, +) / Double(v.count)
                    return v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)
                }
                expectClose(try x.variance(axes: axes).values, variance.values, atol: 1e-12, rtol: 1e-10, "variance")
            }
            // float32 agrees to float32 rounding.
            expectClose(try x.to(.float32).sum(axes: axes).values, sum.values, atol: 1e-5, rtol: 1e-5, "sum f32")
        }
    }

    @Test(arguments: reductionShapes.filter { !$0.contains(0) })
    func maxMinAndArgmaxAlongEachAxis(_ shape: [Int]) throws {
        let x = randn(shape, seed: 4)
        for axis in 0..<shape.count {
            let ref = referenceReduce(x.values, shape, axes: [axis]) { $0.max()! }
            let (values, indices) = try x.max(axis: axis, keepDims: true)
            #expect(values.values == ref.values)
            #expect(try x.argmax(axis: axis) == indices)
            // Each index points at the maximum: pick the element back.
            let picked = try x.gather(axis: axis, indices: indices, keepDims: true)
            #expect(picked.values == ref.values)
            let minRef = referenceReduce(x.values, shape, axes: [axis]) { $0.min()! }
            #expect(try x.min(axis: axis).values.values == minRef.values)
        }
        #expect(try x.max().values == [x.values.max()!])
        #expect(try x.max().shape == [])
    }

    @Test func argmaxTakesTheFirstOfTiesAndPropagatesNaN() throws {
        let x = tensor([2, 4], [1, 3, 3, 0, .nan, 1, 5, 5])
        #expect(try x.argmax(axis: 1) == [1, 0])
        let m = try x.max(axis: 1).values.values
        #expect(m[0] == 3 && m[1].isNaN)
        let col = tensor([3, 2], [1, 2, 4, 2, 4, 0])
        #expect(try col.argmax(axis: 0) == [1, 0])
    }

    @Test(arguments: [[2, 3, 4], [3, 1, 5]] as [[Int]])
    func gradientsOfEveryReduction(_ shape: [Int]) throws {
        let x = randn(shape, seed: 9)
        for axes in axisSubsets(shape.count) {
            try gradcheck({ try $0[0].sum(axes: axes) }, inputs: [x])
            try gradcheck({ try $0[0].mean(axes: axes, keepDims: true) }, inputs: [x])
            try gradcheck({ try $0[0].logSumExp(axes: axes) }, inputs: [x])
            try gradcheck({ try $0[0].variance(axes: axes) }, inputs: [x])
            try gradgradcheck({ try $0[0].logSumExp(axes: axes) }, inputs: [x])
            try gradgradcheck({ try $0[0].variance(axes: axes) }, inputs: [x])
        }
        for axis in 0..<shape.count {
            try gradcheck({ try $0[0].max(axis: axis).values }, inputs: [x])
            try gradcheck({ try $0[0].min(axis: axis, keepDims: true).values }, inputs: [x])
            try gradgradcheck({ try $0[0].max(axis: axis).values.square() }, inputs: [x])
        }
        try gradcheck({ try $0[0].sum() }, inputs: [x])
        try gradcheck({ try $0[0].max() }, inputs: [x])
    }

    @Test func reductionsOfNonContiguousViews() throws {
        let base = randn([6, 7, 4], seed: 12)
        let view = try base.permuted([2, 0, 1]).slice(axis: 2, start: 1, end: 7, step: 2)   // (4, 6, 3)
        let dense = GradMode.withoutGrad { view.clone() }
        for axes in axisSubsets(3) {
            #expect(maxAbsDifference(try view.sum(axes: axes), try dense.sum(axes: axes)) < 1e-13)
            #expect(maxAbsDifference(try view.logSumExp(axes: axes), try dense.logSumExp(axes: axes)) < 1e-13)
        }
        for axis in 0..<3 { #expect(try view.argmax(axis: axis) == dense.argmax(axis: axis)) }
        let expanded = try randn([3, 1], seed: 2).expanded(to: [3, 5])
        expectClose(try expanded.sum(axis: 1).values, randn([3, 1], seed: 2).values.map { $0 * 5 }, atol: 1e-14, rtol: 1e-14)
        try gradcheck({ try $0[0].permuted([2, 0, 1]).slice(axis: 2, start: 1, end: 7, step: 2).sum(axes: [0, 2]) }, inputs: [randn([3, 7, 2], seed: 1)])
    }

    @Test func emptyAndScalarEdgeCases() throws {
        let e = Tensor.zeros([2, 0, 3], dtype: .float64)
        #expect(try e.sum(axis: 1).values == [0, 0, 0, 0, 0, 0])
        #expect(try e.sum(axis: 0).shape == [0, 3])
        #expect(try e.sum().values == [0])
        #expect(throws: GradusError.self) { try e.max(axis: 1) }
        #expect(try e.max(axis: 2).values.shape == [2, 0])
        let s = Tensor.scalar(2.5, dtype: .float64)
        #expect(try s.sum().values == [2.5])
        #expect(try s.mean().shape == [])
        #expect(try s.max().values == [2.5])
        #expect(throws: GradusError.self) { try s.sum(axis: 0) }
        #expect(throws: GradusError.self) { try s.max(axis: 0) }
        #expect(throws: GradusError.self) { try s.argmax(axis: 0) }
        // Gradients through an empty reduction are empty.
        let er = Tensor.zeros([0, 4], dtype: .float64).requiringGrad()
        try er.sum().backward()
        #expect(er.grad?.shape == [0, 4])
    }

    @Test func badAxesThrow() throws {
        let x = randn([2, 3], seed: 1)
        #expect(throws: GradusError.self) { try x.sum(axis: 2) }
        #expect(throws: GradusError.self) { try x.sum(axis: -3) }
        #expect(throws: GradusError.self) { try x.sum(axes: [0, 0]) }
        #expect(throws: GradusError.self) { try x.sum(axes: [1, -1]) }
        #expect(throws: GradusError.self) { try x.max(axis: 5) }
        #expect(throws: GradusError.self) { try x.logSumExp(axes: [3]) }
    }

    @Test func logSumExpIsStableForLargeAndInfiniteInputs() throws {
        let x = tensor([2, 3], [1000, 1000, 1000, -.infinity, -.infinity, -.infinity])
        let y = try x.logSumExp(axes: [1]).values
        #expect(Swift.abs(y[0] - (1000 + Glibc.log(3))) < 1e-9)
        #expect(y[1] == -.infinity)
        let sm = try tensor([3], [1000, 0, -1000]).softmax().values
        expectClose(sm, [1, Glibc.exp(-1000), 0], atol: 1e-300, rtol: 1e-12)
    }

    @Test func longRowSumsMatchAPlainLoop() throws {
        // One long row takes the blocked parallel path; inner > 1 takes the row-accumulation path.
        let n = 3 * 4096 + 17
        let x = Tensor.uniform([n], low: -1, high: 1, seed: 7, dtype: .float64)
        let ref = x.values.reduce(0, +)
        #expect(Swift.abs(try x.sum().item() - ref) < 1e-9)
        let x32 = x.to(.float32)
        #expect(Swift.abs(try x32.sum().item() - ref) < 1e-2)
    }
}
