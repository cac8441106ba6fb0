// matmul (2-D, batched, broadcast batch, transposed views, 1-D operands, k = 0) and linear() against a
// plain triple loop, with gradients.
import GradusRuntime
import GradusTensor
import Testing
import _GradusTestSupport

/// C = A·B by the textbook loop, on values read through each operand's strides (a: (…, M, K), b: (…, K, N),
/// batch dims already equal).
func referenceMatmul(_ a: Tensor, _ b: Tensor) -> [Double] {
    let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
    let batch = Array(a.shape.dropLast(2))
    var out: [Double] = []
    for bi in 0..<batch.reduce(1, *) {
        let bidx = multiIndex(bi, batch)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += element(a, bidx + [i, p]) * element(b, bidx + [p, j]) }
                out.append(s)
            }
        }
    }
    return out
}

struct MatmulCase: Sendable, CustomStringConvertible {
    let description: String
    let a: [Int], b: [Int]
    /// Builds the operands from dense inputs (views, transposes).
    var makeA: @Sendable (Tensor) throws -> Tensor = { $0 }
    var makeB: @Sendable (Tensor) throws -> Tensor = { $0 }
    /// Too large for a finite-difference check (forward against the loop only).
    var large = false
}

let matmulCases: [MatmulCase] = [
    MatmulCase(description: "2-D", a: [3, 4], b: [4, 5]),
    MatmulCase(description: "odd 2-D", a: [7, 13], b: [13, 1]),
    MatmulCase(description: "batched", a: [2, 3, 4], b: [2, 4, 5]),
    MatmulCase(description: "broadcast batch", a: [2, 1, 3, 4], b: [3, 4, 2]),
    MatmulCase(description: "matrix @ batch", a: [3, 4], b: [2, 4, 5]),
    MatmulCase(description: "A^T view", a: [4, 3], b: [4, 5], makeA: { try $0.transposed() }),
    MatmulCase(description: "B^T view", a: [3, 4], b: [5, 4], makeB: { try $0.transposed() }),
    MatmulCase(description: "both ^T, batched", a: [2, 4, 3], b: [2, 5, 4], makeA: { try $0.transposed() }, makeB: { try $0.transposed() }),
    MatmulCase(description: "strided slice", a: [3, 8], b: [4, 5], makeA: { try $0.slice(axis: 1, start: 0, end: 8, step: 2) }),
    MatmulCase(description: "column slice", a: [3, 6], b: [4, 5], makeA: { try $0.slice(axis: 1, start: 1, end: 5) }),
    MatmulCase(description: "permuted batch", a: [3, 2, 4], b: [2, 4, 5], makeA: { try $0.permuted([1, 0, 2]) }),
    MatmulCase(description: "expanded row", a: [1, 4], b: [4, 5], makeA: { try $0.expanded(to: [3, 4]) }),
    MatmulCase(description: "vector @ matrix", a: [4], b: [4, 5]),
    MatmulCase(description: "matrix @ vector", a: [3, 4], b: [4]),
    MatmulCase(description: "vector @ vector", a: [4], b: [4]),
    MatmulCase(description: "vector @ batch", a: [4], b: [2, 4, 3]),
    MatmulCase(description: "batch @ vector", a: [2, 3, 4], b: [4]),
    // Large enough to be cut into row tiles over the pool (96, 96 and a ragged 8 rows).
    MatmulCase(description: "tall narrow (row tiles)", a: [200, 150], b: [150, 150], large: true),
    MatmulCase(description: "A^T tall narrow (row tiles)", a: [150, 200], b: [150, 150], makeA: { try $0.transposed() }, large: true),
    MatmulCase(description: "k = 0", a: [3, 0], b: [0, 2]),
    MatmulCase(description: "m = 0", a: [0, 4], b: [4, 2]),
    MatmulCase(description: "1x1", a: [1, 1], b: [1, 1]),
]

@Suite struct MatmulTests {
    @Test(arguments: matmulCases)
    func matchesTripleLoop(_ c: MatmulCase) throws {
        let a = try c.makeA(randn(c.a, seed: 1)), b = try c.makeB(randn(c.b, seed: 2))
        let y = try a.matmul(b)
        // Reference: lift 1-D operands, broadcast batches, loop.
        var ra = a.rank == 1 ? try a.unsqueezed(0) : a
        var rb = b.rank == 1 ? try b.unsqueezed(-1) : b
        let batch = Strided.broadcastShape(Array(ra.shape.dropLast(2)), Array(rb.shape.dropLast(2)))!
        ra = try ra.expanded(to: batch + Array(ra.shape.suffix(2)))
        rb = try rb.expanded(to: batch + Array(rb.shape.suffix(2)))
        var shape = batch + [ra.shape[ra.rank - 2], rb.shape[rb.rank - 1]]
        if b.rank == 1 { shape.removeLast() }
        if a.rank == 1 { shape.remove(at: shape.count - (b.rank == 1 ? 1 : 2)) }
        #expect(y.shape == shape)
        expectClose(y.values, referenceMatmul(ra, rb), atol: 1e-12, rtol: 1e-12, "\(c)")
        let y32 = try a.to(.float32).matmul(b.to(.float32))
        expectClose(y32.values, referenceMatmul(ra, rb), atol: 1e-5, rtol: 1e-5, "\(c) float32")
    }

    @Test(arguments: matmulCases.filter { !$0.large })
    func gradients(_ c: MatmulCase) throws {
        try gradcheck({ try c.makeA($0[0]).matmul(c.makeB($0[1])) }, inputs: [randn(c.a, seed: 1), randn(c.b, seed: 2)])
        try gradgradcheck({ try c.makeA($0[0]).matmul(c.makeB($0[1])).square() }, inputs: [randn(c.a, seed: 1), randn(c.b, seed: 2)])
    }

    @Test func kZeroGivesZeros() throws {
        let y = try Tensor.zeros([3, 0], dtype: .float64).matmul(Tensor.zeros([0, 2], dtype: .float64))
        #expect(y.values == [0, 0, 0, 0, 0, 0])
    }

    @Test func errorsThrow() throws {
        let a = randn([3, 4], seed: 1)
        #expect(throws: GradusError.self) { try a.matmul(randn([3, 4], seed: 1)) }
        #expect(throws: GradusError.self) { try a.matmul(randn([4, 2], seed: 1).to(.float32)) }
        #expect(throws: GradusError.self) { try randn([2, 3, 4], seed: 1).matmul(randn([3, 4, 2], seed: 1)) }
        #expect(throws: GradusError.self) { try Tensor.scalar(1, dtype: .float64).matmul(a) }
        #expect(throws: GradusError.self) { try randn([5], seed: 1).matmul(randn([4], seed: 1)) }
    }
}

@Suite struct LinearTests {
    static let shapes: [[Int]] = [[4, 3], [2, 5, 3], [3], [0, 3], [2, 3, 0]]

    @Test(arguments: shapes, [true, false])
    func matchesMatmulPlusBias(_ xShape: [Int], _ withBias: Bool) throws {
        let inF = xShape.last!
        let x = randn(xShape, seed: 1), w = randn([2, inF], seed: 2), b = randn([2], seed: 3)
        let y = try Tensor.linear(x, weight: w, bias: withBias ? b : nil)
        #expect(y.shape == Array(xShape.dropLast()) + [2])
        var expected = try x.matmul(w.transposed())
        if withBias { expected = try expected + b }
        #expect(maxAbsDifference(y, expected) < 1e-12)
        if x.count > 0 {
            try gradcheck({ try Tensor.linear($0[0], weight: $0[1], bias: withBias ? $0[2] : nil) }, inputs: [x, w, b])
            try gradgradcheck({ try Tensor.linear($0[0], weight: $0[1], bias: withBias ? $0[2] : nil).square() }, inputs: [x, w, b])
        }
    }

    @Test func transposedAndStridedWeights() throws {
        let x = randn([3, 4], seed: 1)
        let wT = try randn([4, 2], seed: 2).transposed()            // (2, 4) as a transposed view
        let y = try Tensor.linear(x, weight: wT, bias: nil)
        #expect(maxAbsDifference(y, try x.matmul(wT.transposed())) < 1e-12)
        let xs = try randn([3, 9], seed: 4).slice(axis: 1, start: 0, end: 8, step: 2)
        #expect(maxAbsDifference(try Tensor.linear(xs, weight: wT, bias: nil), try xs.matmul(wT.transposed())) < 1e-12)
        try gradcheck({ try Tensor.linear($0[0].transposed(), weight: $0[1].transposed(), bias: nil) }, inputs: [randn([4, 3], seed: 1), randn([4, 2], seed: 2)])
    }

    @Test func errorsThrow() throws {
        let x = randn([3, 4], seed: 1)
        #expect(throws: GradusError.self) { try Tensor.linear(x, weight: randn([2, 3], seed: 1), bias: nil) }
        #expect(throws: GradusError.self) { try Tensor.linear(x, weight: randn([2, 4], seed: 1), bias: randn([3], seed: 1)) }
        #expect(throws: GradusError.self) { try Tensor.linear(x, weight: randn([2, 4], seed: 1).to(.float32), bias: nil) }
        #expect(throws: GradusError.self) { try Tensor.linear(x, weight: randn([2, 4, 1], seed: 1), bias: nil) }
    }
}
