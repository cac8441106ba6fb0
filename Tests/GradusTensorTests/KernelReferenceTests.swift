// Fast kernels against the plain reference loops (Kernels/Reference.swift) on random odd shapes and
// non-contiguous views, both dtypes; sizes large enough to take the sliced (parallel) paths.
import GradusRuntime
import GradusTensor
import Testing
import _GradusTestSupport

/// A named way to turn a dense random tensor into the operand under test.
struct Layout: Sendable, CustomStringConvertible {
    let description: String
    let shape: [Int]
    let make: @Sendable (Tensor) throws -> Tensor
}

let oddLayouts: [Layout] = [
    Layout(description: "dense (3,5,7)", shape: [3, 5, 7]) { $0 },
    Layout(description: "dense (17)", shape: [17]) { $0 },
    Layout(description: "scalar", shape: []) { $0 },
    Layout(description: "size-1 dims (1,9,1,4)", shape: [1, 9, 1, 4]) { $0 },
    Layout(description: "empty (0,3)", shape: [0, 3]) { $0 },
    Layout(description: "permuted (5,3,7)", shape: [3, 5, 7]) { try $0.permuted([1, 0, 2]) },
    Layout(description: "transposed (7,5,3)", shape: [3, 5, 7]) { try $0.permuted([2, 1, 0]) },
    Layout(description: "stepped slice", shape: [9, 11]) { try $0.slice(axis: 1, start: 1, end: 11, step: 3).slice(axis: 0, start: 2, end: 9) },
    Layout(description: "expanded (6,1)->(6,5)", shape: [6, 1]) { try $0.expanded(to: [6, 5]) },
    Layout(description: "expanded leading (4)->(3,4)", shape: [4]) { try $0.expanded(to: [3, 4]) },
    Layout(description: "large dense (301,257)", shape: [301, 257]) { $0 },
    Layout(description: "large transposed (257,301)", shape: [301, 257]) { try $0.transposed() },
    Layout(description: "large row (70001)", shape: [70001]) { $0 },
    Layout(description: "large stepped (70001/2)", shape: [70001]) { try $0.slice(axis: 0, start: 1, end: 70001, step: 2) },
]

let allUnaryOps: [UnaryOp] = [
    .neg, .exp, .log, .sqrt, .abs, .relu, .sigmoid, .tanh, .erf, .square, .reciprocal, .sin, .cos, .sign, .log1p, .expm1,
    .greater(0.1), .affine(-1.5, 0.25), .power(3), .power(2), .power(0.5), .power(-1), .power(1.7),
    .clamp(-0.3, 0.4), .inRange(-0.5, 0.5),
]
let allBinaryOps: [BinaryOp] = [.add, .sub, .mul, .div, .maximum, .minimum, .pow, .greater, .equal]

/// Large layouts (past the pool's grain, so several slices when the pool has threads) run a few ops only:
/// the reference loops are slow in debug builds.
func ops<Op>(_ all: [Op], for layout: Layout, few: [Op]) -> [Op] { layout.shape.reduce(1, *) > 50_000 ? few : all }

/// Bitwise equality of two tensors' values (NaN payloads aside).
func bitwiseEqual(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape && zip(a.values, b.values).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
}

@Suite struct KernelReferenceTests {
    @Test(arguments: oddLayouts, [DType.float32, .float64])
    func unaryKernelsMatchReference(_ layout: Layout, _ dtype: DType) throws {
        let x = try layout.make(Tensor.normal(layout.shape, seed: 31, dtype: dtype))
        for op in ops(allUnaryOps, for: layout, few: [.exp, .power(1.7)]) {
            let fast = x.applying(op)
            let ref = Tensor.zeros(x.shape, dtype: dtype)
            Kernels.referenceUnary(op, x, into: ref)
            #expect(bitwiseEqual(fast, ref), "\(op) on \(layout) \(dtype)")
        }
    }

    @Test(arguments: oddLayouts, [DType.float32, .float64])
    func binaryKernelsMatchReference(_ layout: Layout, _ dtype: DType) throws {
        let a = try layout.make(Tensor.normal(layout.shape, seed: 32, dtype: dtype))
        // Partners: same shape (strided differently), last-axis row, scalar.
        let same = try GradMode.withoutGrad { () throws(GradusError) in
            try Tensor.normal(Array(a.shape.reversed()), seed: 33, dtype: dtype).permuted(Array((0..<a.rank).reversed()))
        }
        var partners = [same, Tensor.scalar(0.7, dtype: dtype)]
        if let last = a.shape.last, a.count < 50_000 { partners.append(Tensor.uniform([last], low: 0.5, high: 2, seed: 34, dtype: dtype)) }
        for b in partners {
            for op in ops(allBinaryOps, for: layout, few: [.add, .maximum]) {
                for (l, r) in [(a, b), (b, a)] {
                    let fast = try Tensor.applying(op, l, r)
                    let ref = Tensor.zeros(fast.shape, dtype: dtype)
                    Kernels.referenceBinary(op, l, r, into: ref)
                    #expect(bitwiseEqual(fast, ref), "\(op) on \(layout) with \(r.shape) \(dtype)")
                }
            }
        }
    }

    @Test(arguments: oddLayouts)
    func copyAndCastMatchReference(_ layout: Layout) throws {
        for (from, to) in [(DType.float32, DType.float32), (.float64, .float64), (.float32, .float64), (.float64, .float32)] {
            let x = try layout.make(Tensor.normal(layout.shape, seed: 35, dtype: from))
            let fast = Tensor.zeros(x.shape, dtype: to), ref = Tensor.zeros(x.shape, dtype: to)
            Kernels.copy(from: x, to: fast)
            Kernels.referenceCopy(from: x, to: ref)
            #expect(bitwiseEqual(fast, ref), "copy \(from)→\(to) on \(layout)")
            #expect(bitwiseEqual(x.to(to).contiguous(), ref))
        }
        // Strided destination: write into a transposed view.
        let src = Tensor.normal([4, 6], seed: 36, dtype: .float64)
        let dstFast = Tensor.zeros([6, 4], dtype: .float64), dstRef = Tensor.zeros([6, 4], dtype: .float64)
        Kernels.copy(from: src, to: try dstFast.transposed())
        Kernels.referenceCopy(from: src, to: try dstRef.transposed())
        #expect(bitwiseEqual(dstFast, dstRef))
    }

    static let reduceShapes: [(outer: Int, r: Int, inner: Int)] = [
        (1, 1, 1), (3, 7, 1), (1, 9000, 1), (2, 8193, 1), (5, 13, 3), (1, 17, 70001), (4, 0, 3), (0, 5, 2), (7, 3, 9),
        (1, 3 * 4096 + 5, 1), (300, 257, 1),
    ]

    @Test(arguments: reduceShapes.indices.map { $0 }, [DType.float32, .float64])
    func reductionsMatchReference(_ which: Int, _ dtype: DType) throws {
        let (outer, r, inner) = Self.reduceShapes[which]
        let x = Tensor.normal([outer, r, inner], seed: 40, dtype: dtype)
        for op in [ReduceOp.sum, .max, .min] {
            let fast = Tensor.zeros([outer, inner], dtype: dtype), ref = Tensor.zeros([outer, inner], dtype: dtype)
            var fi = [Int](repeating: -1, count: outer * inner), ri = fi
            if op == .sum {
                Kernels.reduce(op, x, outer: outer, r: r, inner: inner, into: fast)
                Kernels.referenceReduce(op, x, outer: outer, r: r, inner: inner, into: ref)
                let tol = dtype == .float32 ? 1e-4 : 1e-11
                expectClose(fast.values, ref.values, atol: tol * Double(Swift.max(r, 1)).squareRoot(), rtol: tol, "sum \(Self.reduceShapes[which])")
            } else {
                fi.withUnsafeMutableBufferPointer { Kernels.reduce(op, x, outer: outer, r: r, inner: inner, into: fast, indices: $0.baseAddress!) }
                ri.withUnsafeMutableBufferPointer { Kernels.referenceReduce(op, x, outer: outer, r: r, inner: inner, into: ref, indices: $0.baseAddress!) }
                #expect(bitwiseEqual(fast, ref), "\(op) \(Self.reduceShapes[which])")
                #expect(fi == ri, "\(op) indices \(Self.reduceShapes[which])")
            }
        }
    }

    @Test func extremaWithNaNsAndTiesMatchReference() throws {
        // Rows with ties and NaNs in different positions, inner 1 and inner > 1.
        let vals: [Double] = [1, 3, 3, .nan, 2, .nan, 5, 5, -1, -1, .nan, 0]
        for (outer, r, inner) in [(3, 4, 1), (1, 4, 3), (2, 3, 2)] {
            let x = tensor([outer, r, inner], vals)
            for op in [ReduceOp.max, .min] {
                let fast = Tensor.zeros([outer, inner], dtype: .float64), ref = Tensor.zeros([outer, inner], dtype: .float64)
                var fi = [Int](repeating: -1, count: outer * inner), ri = fi
                fi.withUnsafeMutableBufferPointer { Kernels.reduce(op, x, outer: outer, r: r, inner: inner, into: fast, indices: $0.baseAddress!) }
                ri.withUnsafeMutableBufferPointer { Kernels.referenceReduce(op, x, outer: outer, r: r, inner: inner, into: ref, indices: $0.baseAddress!) }
                #expect(bitwiseEqual(fast, ref), "\(op) (\(outer), \(r), \(inner))")
                #expect(fi == ri, "\(op) indices (\(outer), \(r), \(inner))")
            }
        }
    }
}
