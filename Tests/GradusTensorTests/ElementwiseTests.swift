// Every unary and binary elementwise op: forward values against a Double reference, float64 gradient and
// second-derivative checks, float32 forward, broadcasting and non-contiguous operands.
import Glibc
import GradusRuntime
import GradusTensor
import Testing
import _GradusTestSupport

/// A unary op under test: the tensor op, its Double reference, and the input domain.
struct UnaryCase: Sendable, CustomStringConvertible {
    let description: String
    let op: @Sendable (Tensor) throws -> Tensor
    let reference: @Sendable (Double) -> Double
    /// Maps a normal sample into the op's domain, away from kinks.
    var domain: @Sendable (Double) -> Double = { $0 }
    var hasSecondDerivative = true
    var differentiable = true
}

private let awayFromZero: @Sendable (Double) -> Double = { $0 + ($0 >= 0 ? 0.2 : -0.2) }
private let positive: @Sendable (Double) -> Double = { Swift.abs($0) + 0.3 }

let unaryCases: [UnaryCase] = [
    UnaryCase(description: "neg", op: { -$0 }, reference: { -$0 }),
    UnaryCase(description: "exp", op: { $0.exp() }, reference: { Glibc.exp($0) }),
    UnaryCase(description: "log", op: { $0.log() }, reference: { Glibc.log($0) }, domain: positive),
    UnaryCase(description: "sqrt", op: { $0.sqrt() }, reference: { $0.squareRoot() }, domain: positive),
    UnaryCase(description: "abs", op: { $0.abs() }, reference: { Swift.abs($0) }, domain: awayFromZero),
    UnaryCase(description: "relu", op: { $0.relu() }, reference: { Swift.max($0, 0) }, domain: awayFromZero),
    UnaryCase(description: "sigmoid", op: { $0.sigmoid() }, reference: { 1 / (1 + Glibc.exp(-$0)) }),
    UnaryCase(description: "tanh", op: { $0.tanh() }, reference: { Glibc.tanh($0) }),
    UnaryCase(description: "erf", op: { $0.erf() }, reference: { Glibc.erf($0) }),
    UnaryCase(description: "square", op: { $0.square() }, reference: { $0 * $0 }),
    UnaryCase(description: "reciprocal", op: { $0.reciprocal() }, reference: { 1 / $0 }, domain: awayFromZero),
    UnaryCase(description: "sin", op: { $0.sin() }, reference: { Glibc.sin($0) }),
    UnaryCase(description: "cos", op: { $0.cos() }, reference: { Glibc.cos($0) }),
    UnaryCase(description: "log1p", op: { $0.log1p() }, reference: { Glibc.log1p($0) }, domain: positive),
    UnaryCase(description: "pow(3)", op: { $0.pow(3) }, reference: { $0 * $0 * $0 }),
    UnaryCase(description: "pow(2)", op: { $0.pow(2) }, reference: { $0 * $0 }),
    UnaryCase(description: "pow(0.5)", op: { $0.pow(0.5) }, reference: { $0.squareRoot() }, domain: positive),
    UnaryCase(description: "pow(-1)", op: { $0.pow(-1) }, reference: { 1 / $0 }, domain: awayFromZero),
    UnaryCase(description: "pow(-1.5)", op: { $0.pow(-1.5) }, reference: { Glibc.pow($0, -1.5) }, domain: positive),
    UnaryCase(description: "affine", op: { $0.affine(-2.5, 0.75) }, reference: { -2.5 * $0 + 0.75 }),
    UnaryCase(description: "x+s", op: { $0 + 1.5 }, reference: { $0 + 1.5 }),
    UnaryCase(description: "s-x", op: { 1.5 - $0 }, reference: { 1.5 - $0 }),
    UnaryCase(description: "x*s", op: { $0 * 3 }, reference: { $0 * 3 }),
    UnaryCase(description: "x/s", op: { $0 / 4 }, reference: { $0 / 4 }),
    UnaryCase(description: "s/x", op: { 2 / $0 }, reference: { 2 / $0 }, domain: awayFromZero),
    UnaryCase(description: "clamp", op: { $0.clamped(min: -0.5, max: 0.7) }, reference: { Swift.min(Swift.max($0, -0.5), 0.7) },
              domain: { x in Swift.abs(x + 0.5) < 0.05 || Swift.abs(x - 0.7) < 0.05 ? x + 0.13 : x }),
    UnaryCase(description: "gelu", op: { try $0.gelu() }, reference: { 0.5 * $0 * (1 + Glibc.erf($0 / 2.0.squareRoot())) }),
    UnaryCase(description: "silu", op: { try $0.silu() }, reference: { $0 / (1 + Glibc.exp(-$0)) }),
    UnaryCase(description: "softplus", op: { try $0.softplus() }, reference: { Glibc.log1p(Glibc.exp($0)) }, domain: awayFromZero),
    UnaryCase(description: "sign", op: { $0.sign() }, reference: { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }, differentiable: false),
    UnaryCase(description: "softmax", op: { try $0.softmax(axis: -1) }, reference: { _ in .nan }),
    UnaryCase(description: "logSoftmax", op: { try $0.logSoftmax(axis: 0) }, reference: { _ in .nan }),
]

/// Inputs of shape (3, 5) in the op's domain.
private func unaryInput(_ c: UnaryCase, seed: UInt64 = 11, shape: [Int] = [3, 5]) -> Tensor {
    let raw = randn(shape, seed: seed).values.map(c.domain)
    return tensor(shape, raw)
}

@Suite struct UnaryOpTests {
    @Test(arguments: unaryCases)
    func forwardMatchesReference(_ c: UnaryCase) throws {
        let x = unaryInput(c)
        let xs = x.values
        guard !c.reference(1).isNaN else { return }  // composite ops checked elsewhere
        expectClose(try c.op(x).values, xs.map(c.reference), atol: 1e-14, rtol: 1e-13, "\(c) float64")
        let y32 = try c.op(x.to(.float32))
        #expect(y32.dtype == .float32)
        expectClose(y32.values, xs.map { c.reference(Double(Float($0))) }, atol: 2e-6, rtol: 2e-6, "\(c) float32")
    }

    @Test(arguments: unaryCases)
    func gradientMatchesFiniteDifferences(_ c: UnaryCase) throws {
        guard c.differentiable else {
            let x = unaryInput(c).requiringGrad()
            #expect(!(try c.op(x)).requiresGrad)
            return
        }
        try gradcheck({ try c.op($0[0]) }, inputs: [unaryInput(c)])
    }

    @Test(arguments: unaryCases.filter { $0.differentiable && $0.hasSecondDerivative })
    func secondDerivativeMatchesFiniteDifferences(_ c: UnaryCase) throws {
        try gradgradcheck({ try c.op($0[0]) }, inputs: [unaryInput(c)])
    }

    @Test(arguments: unaryCases)
    func nonContiguousInputMatchesContiguous(_ c: UnaryCase) throws {
        // A transposed, strided slice of a larger tensor: strides (2, 10)-ish, offset > 0.
        let base = unaryInput(c, seed: 5, shape: [10, 8])
        let view = try base.slice(axis: 0, start: 1, end: 10, step: 2).slice(axis: 1, start: 2, end: 7).transposed()
        #expect(!view.isContiguous)
        let fromView = try c.op(view)
        let fromCopy = try c.op(GradMode.withoutGrad { view.clone() })
        #expect(fromView.shape == [5, 5])
        #expect(maxAbsDifference(fromView, fromCopy) == 0)
        try gradcheck({ try c.op($0[0].slice(axis: 0, start: 1, end: 10, step: 2).transposed()) },
                      inputs: [unaryInput(c, seed: 5, shape: [10, 3])])
    }

    @Test(arguments: unaryCases)
    func emptyAndScalarShapes(_ c: UnaryCase) throws {
        let e = try c.op(Tensor.zeros([2, 0, 3], dtype: .float64))
        #expect(e.shape == [2, 0, 3])
        #expect(e.count == 0)
        guard !c.description.contains("oftmax") else { return }  // softmax needs an axis; a 0-d tensor has none
        let s = try c.op(Tensor.scalar(c.domain(0.4), dtype: .float64))
        #expect(s.shape == [])
    }
}

/// A binary op under test.
struct BinaryCase: Sendable, CustomStringConvertible {
    let description: String
    let op: @Sendable (Tensor, Tensor) throws -> Tensor
    let reference: @Sendable (Double, Double) -> Double
    var domainA: @Sendable (Double) -> Double = { $0 }
    var domainB: @Sendable (Double) -> Double = { $0 }
}

let binaryCases: [BinaryCase] = [
    BinaryCase(description: "add", op: { try $0 + $1 }, reference: { $0 + $1 }),
    BinaryCase(description: "sub", op: { try $0 - $1 }, reference: { $0 - $1 }),
    BinaryCase(description: "mul", op: { try $0 * $1 }, reference: { $0 * $1 }),
    BinaryCase(description: "div", op: { try $0 / $1 }, reference: { $0 / $1 }, domainB: awayFromZero),
    // Offsets keep a and b apart so no element sits on a tie (the kink of max/min).
    BinaryCase(description: "maximum", op: { try Tensor.maximum($0, $1) }, reference: { Swift.max($0, $1) },
               domainA: { $0 + 0.01 }, domainB: { $0 * 3 - 0.013 }),
    BinaryCase(description: "minimum", op: { try Tensor.minimum($0, $1) }, reference: { Swift.min($0, $1) },
               domainA: { $0 + 0.01 }, domainB: { $0 * 3 - 0.013 }),
    BinaryCase(description: "pow", op: { try Tensor.pow($0, $1) }, reference: { Glibc.pow($0, $1) }, domainA: positive),
]

/// Broadcasting shape pairs, including size-1, rank-0 and size-0 dimensions.
let broadcastPairs: [([Int], [Int])] = [
    ([3, 4], [3, 4]), ([3, 1], [1, 4]), ([2, 3, 4], [4]), ([5], []), ([], [2, 3]), ([1], [2, 1, 3]),
    ([2, 1, 3], [4, 1]), ([0, 3], [1, 3]), ([2, 0], [2, 1]), ([1, 1], [1, 1]),
]

@Suite struct BinaryOpTests {
    func inputs(_ c: BinaryCase, _ sa: [Int], _ sb: [Int]) -> (Tensor, Tensor) {
        (tensor(sa, randn(sa, seed: 21).values.map(c.domainA)), tensor(sb, randn(sb, seed: 22).values.map(c.domainB)))
    }

    @Test(arguments: binaryCases, broadcastPairs)
    func forwardBroadcastsLikeNumPy(_ c: BinaryCase, _ shapes: ([Int], [Int])) throws {
        let (a, b) = inputs(c, shapes.0, shapes.1)
        let y = try c.op(a, b)
        let shape = Strided.broadcastShape(shapes.0, shapes.1)!
        #expect(y.shape == shape)
        let ea = broadcastReference(a.values, a.shape, to: shape), eb = broadcastReference(b.values, b.shape, to: shape)
        expectClose(y.values, zip(ea, eb).map(c.reference), atol: 1e-14, rtol: 1e-13, "\(c) \(shapes)")
        let y32 = try c.op(a.to(.float32), b.to(.float32))
        expectClose(y32.values, zip(ea, eb).map { c.reference(Double(Float($0)), Double(Float($1))) },
                    atol: 1e-6, rtol: 2e-6, "\(c) \(shapes) float32")
    }

    @Test(arguments: binaryCases, broadcastPairs)
    func gradientsSumOverBroadcastDimensions(_ c: BinaryCase, _ shapes: ([Int], [Int])) throws {
        let (a, b) = inputs(c, shapes.0, shapes.1)
        try gradcheck({ try c.op($0[0], $0[1]) }, inputs: [a, b])
        let grads = try Tensor.gradients(of: [c.op(a.requiringGrad(), b.requiringGrad()).sum()], wrt: [a, b])
        #expect(grads[0].shape == a.shape && grads[1].shape == b.shape)
    }

    @Test(arguments: binaryCases, [([3, 4], [3, 4]), ([3, 1], [1, 4]), ([2, 3], [])] as [([Int], [Int])])
    func secondDerivatives(_ c: BinaryCase, _ shapes: ([Int], [Int])) throws {
        let (a, b) = inputs(c, shapes.0, shapes.1)
        try gradgradcheck({ try c.op($0[0], $0[1]) }, inputs: [a, b])
    }

    @Test(arguments: binaryCases)
    func nonContiguousAndExpandedOperands(_ c: BinaryCase) throws {
        let (a0, b0) = inputs(c, [6, 5], [5, 1])
        let a = try a0.transposed().slice(axis: 1, start: 1, end: 6, step: 2)        // (5, 3), strided
        let b = try b0.expanded(to: [5, 3])                                          // stride 0 on axis 1
        let y = try c.op(a, b)
        let expected = try c.op(GradMode.withoutGrad { a.clone() }, GradMode.withoutGrad { b.clone() })
        #expect(maxAbsDifference(y, expected) == 0)
        try gradcheck({ try c.op($0[0].transposed().slice(axis: 1, start: 1, end: 6, step: 2), $0[1].expanded(to: [5, 3])) },
                      inputs: [a0, b0])
    }

    @Test func sameTensorOnBothSidesAccumulates() throws {
        let x = tensor([3], [1, 2, 3])
        try gradcheck({ try $0[0] * $0[0] + $0[0] }, inputs: [x])
        let xr = tensor([3], [1, 2, 3]).requiringGrad()
        try (xr * xr).sum().backward()
        #expect(xr.grad!.values == [2, 4, 6])
    }

    @Test func maximumSendsTiesToFirstOperand() throws {
        let a = tensor([3], [1, 2, 3]).requiringGrad(), b = tensor([3], [1, 5, 0]).requiringGrad()
        try Tensor.maximum(a, b).sum().backward()
        #expect(a.grad!.values == [1, 0, 1])
        #expect(b.grad!.values == [0, 1, 0])
        let c = tensor([3], [1, 2, 3]).requiringGrad(), d = tensor([3], [1, 5, 0]).requiringGrad()
        try Tensor.minimum(c, d).sum().backward()
        #expect(c.grad!.values == [1, 1, 0])
        #expect(d.grad!.values == [0, 0, 1])
    }

    @Test func mismatchedShapesAndDtypesThrow() throws {
        let a = Tensor.zeros([2, 3], dtype: .float64), b = Tensor.zeros([4], dtype: .float64)
        for c in binaryCases {
            #expect(throws: GradusError.self) { try c.op(a, b) }
            #expect(throws: GradusError.self) { try c.op(a, Tensor.zeros([2, 3], dtype: .float32)) }
        }
        do { _ = try a + b; Issue.record("no throw") } catch { #expect(error.status == GradusError.shapeMismatch("").status) }
        do { _ = try a * a.to(.float32); Issue.record("no throw") } catch { #expect(error.status == GradusError.dtypeMismatch("").status) }
    }
}

@Suite struct WhereAndCastTests {
    @Test func whereSelectsWithBroadcasting() throws {
        let cond = tensor([2, 1], [1, 0])
        let a = tensor([3], [1, 2, 3]), b = tensor([2, 3], [10, 20, 30, 40, 50, 60])
        let y = try Tensor.where(cond, a, b)
        #expect(y.shape == [2, 3])
        #expect(y.values == [1, 2, 3, 40, 50, 60])
        try gradcheck({ try Tensor.where(cond, $0[0], $0[1]) }, inputs: [a, b])
        try gradgradcheck({ try Tensor.where(cond, $0[0].square(), $0[1].exp()) }, inputs: [a, b])
        #expect(throws: GradusError.self) { try Tensor.where(cond, a, b.to(.float32)) }
        #expect(throws: GradusError.self) { try Tensor.where(tensor([3], [1, 0, 1]), a, b.transposed()) }
    }

    @Test func whereIgnoresNonFiniteValuesInTheUnselectedBranch() throws {
        // where(x > 0, log(x), 0): the unselected log(-1) = NaN and log(0) = -inf must not leak.
        let x = tensor([4], [-1, 0, 1, 4])
        let mask = x.applying(.greater(0))
        let y = try Tensor.where(mask, x.log(), Tensor.zeros([4], dtype: .float64))
        expectClose(y.values, [0, 0, 0, Glibc.log(4)], "where")
    }

    @Test func powZeroHasZeroGradientEverywhere() throws {
        let x = tensor([3], [0, -2, 3]).requiringGrad()
        let y = x.pow(0)
        #expect(y.values == [1, 1, 1])
        try y.sum().backward()
        #expect(x.grad!.values == [0, 0, 0])
    }

    @Test func castRoundTripsAndDifferentiates() throws {
        let x = tensor([4], [0.1, -2, 3.5, 1e-3])
        #expect(x.to(.float32).dtype == .float32)
        expectClose(x.to(.float32).to(.float64).values, x.values.map { Double(Float($0)) }, "cast")
        let xr = tensor([2], [1, 2]).requiringGrad()
        try (xr.to(.float32) * 3).sum().backward()
        #expect(xr.grad!.dtype == .float64)
        #expect(xr.grad!.values == [3, 3])
    }
}
