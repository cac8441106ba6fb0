// Views share storage (reshape, transpose/permute, slice, expand, squeeze), their gradients, and the
// creation functions (zeros, ones, full, arange, copy/borrow, seeded random).
import GradusRuntime
import GradusTensor
import Testing
import _GradusTestSupport

@Suite struct ViewTests {
    @Test func viewsShareStorage() throws {
        let x = try Tensor.arange(0, 24, dtype: .float64).reshaped([2, 3, 4])
        let r = try x.reshaped([6, 4]), t = try x.transposed(0, 2), p = try x.permuted([1, 2, 0])
        let s = try x.slice(axis: 2, start: 1, end: 4, step: 2), e = try x.slice(axis: 0, start: 1, end: 2).expanded(to: [5, 3, 4])
        let u = try x.unsqueezed(1), q = try u.squeezed(1), f = try x.flattened()
        for v in [r, t, p, s, e, u, q, f] { #expect(v.storage === x.storage) }
        #expect(t.shape == [4, 3, 2] && t.strides == [1, 4, 12])
        #expect(s.shape == [2, 3, 2] && s.strides == [12, 4, 2] && s.offset == 1)
        #expect(e.strides[0] == 0)
        // Writing through the storage is visible in every view.
        x.basePointer(as: Double.self)[5] = -1
        #expect(element(t, [1, 1, 0]) == -1)
        #expect(element(s, [0, 1, 0]) == -1)
        #expect(r.values[5] == -1 && f.values[5] == -1)
        #expect(p.values == GradMode.withoutGrad { p.clone() }.values)
        #expect(!t.isContiguous && r.isContiguous)
    }

    @Test func reshapeOfStridedViewsAvoidsCopiesWhenStridesAllow() throws {
        let x = randn([4, 6, 5], seed: 1)
        // Slicing the first axis keeps the trailing block contiguous: merging (6, 5) needs no copy.
        let sliced = try x.slice(axis: 0, start: 1, end: 4, step: 2)
        let merged = try sliced.reshaped([2, 30])
        #expect(merged.storage === x.storage)
        #expect(merged.values == GradMode.withoutGrad { sliced.clone() }.values.prefix(60).map { $0 })
        let split = try x.transposed(0, 1).reshaped([6, 2, 2, 5])   // splits a strided axis
        #expect(split.storage === x.storage)
        let splitExpected = try GradMode.withoutGrad { () throws(GradusError) in try x.transposed(0, 1).clone() }
        #expect(split.values == splitExpected.values)
        // Merging a transposed pair cannot be a view: a copy with the right values.
        let t = try x.transposed(1, 2).reshaped([4, 30])
        let tExpected = try GradMode.withoutGrad { () throws(GradusError) in try x.transposed(1, 2).clone() }
        #expect(t.values == tExpected.values)
        try gradcheck({ try $0[0].slice(axis: 0, start: 1, end: 4, step: 2).reshaped([2, 30]).square() }, inputs: [x])
        try gradcheck({ try $0[0].transposed(0, 1).reshaped([6, 2, -1]) }, inputs: [x])
    }

    @Test func viewGradients() throws {
        let x = randn([3, 4, 2], seed: 2)
        try gradcheck({ try $0[0].reshaped([4, -1]).square() }, inputs: [x])
        try gradcheck({ try $0[0].permuted([2, 0, 1]).exp() }, inputs: [x])
        try gradcheck({ try $0[0].transposed().sin() }, inputs: [x])
        try gradcheck({ try $0[0].slice(axis: 1, start: -3, end: 4, step: 2) }, inputs: [x])
        try gradcheck({ try $0[0].slice(axis: 0, start: 1, end: 1) }, inputs: [x])
        try gradcheck({ try $0[0].slice(axis: 1, start: 2, end: 2, step: 3) }, inputs: [x])
        try gradcheck({ try $0[0].slice(axis: 0, start: 0, end: 1).expanded(to: [5, 4, 2]).square() }, inputs: [x])
        try gradcheck({ try $0[0].unsqueezed(-1).squeezed().flattened(from: 1) }, inputs: [x])
        try gradcheck({ $0[0].contiguous() }, inputs: [x])
        try gradgradcheck({ try $0[0].permuted([1, 0, 2]).slice(axis: 0, start: 1, end: 4).square().reshaped([-1]) }, inputs: [x])
    }

    @Test func viewErrorsThrow() throws {
        let x = randn([2, 3], seed: 1)
        #expect(throws: GradusError.self) { try x.reshaped([4, 2]) }
        #expect(throws: GradusError.self) { try x.reshaped([-1, -1]) }
        #expect(throws: GradusError.self) { try x.reshaped([-1, 4]) }
        #expect(throws: GradusError.self) { try x.permuted([0, 0]) }
        #expect(throws: GradusError.self) { try x.permuted([0]) }
        #expect(throws: GradusError.self) { try x.transposed(0, 2) }
        #expect(throws: GradusError.self) { try x.slice(axis: 1, start: 0, end: 4) }
        #expect(throws: GradusError.self) { try x.slice(axis: 1, start: 2, end: 1) }
        #expect(throws: GradusError.self) { try x.slice(axis: 2, start: 0, end: 1) }
        #expect(throws: GradusError.self) { try x.slice(axis: 0, start: 0, end: 1, step: 0) }
        #expect(throws: GradusError.self) { try x.expanded(to: [3, 3]) }
        #expect(throws: GradusError.self) { try x.squeezed(0) }
        #expect(throws: GradusError.self) { try x.unsqueezed(4) }
        #expect(throws: GradusError.self) { try Tensor.scalar(1).slice(axis: 0, start: 0, end: 1) }
        #expect(throws: GradusError.self) { try x.reshaped([0, -1]) }
    }

    @Test func sizeZeroViews() throws {
        let x = Tensor.zeros([0, 3], dtype: .float64)
        #expect(try x.reshaped([3, 0]).shape == [3, 0])
        #expect(try x.transposed().shape == [3, 0])
        #expect(try x.reshaped([0, 1, 3]).squeezed(1).shape == [0, 3])
        #expect(try x.slice(axis: 1, start: 1, end: 3).shape == [0, 2])
    }
}

@Suite struct CreationTests {
    @Test func fillsAndRanges() throws {
        #expect(Tensor.zeros([2, 2]).values == [0, 0, 0, 0])
        #expect(Tensor.ones([3], dtype: .float64).values == [1, 1, 1])
        #expect(Tensor.full([2], 2.5).values == [2.5, 2.5])
        #expect(Tensor.zeros([2, 3]).dtype == .float32)
        #expect(Tensor.scalar(4).shape == [])
        #expect(try Tensor.arange(0, 5).values == [0, 1, 2, 3, 4])
        #expect(try Tensor.arange(1, 2, step: 0.25, dtype: .float64).values == [1, 1.25, 1.5, 1.75])
        #expect(try Tensor.arange(5, 0, step: -2).values == [5, 3, 1])
        #expect(try Tensor.arange(3, 3).shape == [0])
        #expect(throws: GradusError.self) { try Tensor.arange(0, 1, step: 0) }
        #expect(throws: GradusError.self) { try Tensor.make(shape: [2, 2], scalars: [1, 2, 3], dtype: .float64) }
        #expect(throws: GradusError.self) { try Tensor.make(shape: [-1], scalars: [], dtype: .float64) }
        #expect(try Tensor.make(shape: [2], scalars: [1, 2], dtype: .float32).values == [1, 2])
        #expect(Tensor.zeros(like: randn([2, 1], seed: 1)).shape == [2, 1])
    }

    @Test func copyingAndBorrowingBuffers() throws {
        var data: [Float] = [1, 2, 3, 4, 5, 6]
        let copied = try data.withUnsafeBytes { try Tensor.copying($0.baseAddress!, shape: [2, 3], dtype: .float32) }
        data[0] = 100
        #expect(copied.values == [1, 2, 3, 4, 5, 6])
        #expect(!copied.storage.isBorrowed)

        let p = UnsafeMutablePointer<Double>.allocate(capacity: 4)
        p.initialize(from: [1, 2, 3, 4], count: 4)
        let released = ReleaseFlag()
        do {
            let borrowed = try Tensor.borrowing(UnsafeMutableRawPointer(p), shape: [2, 2], dtype: .float64) { raw in
                released.set()
                raw.deallocate()
            }
            #expect(borrowed.storage.isBorrowed)
            p[3] = 40                                              // no copy: writes show through
            #expect(borrowed.values == [1, 2, 3, 40])
            let view = try borrowed.transposed()
            #expect(view.values == [1, 3, 2, 40])
            #expect(!released.isSet)
        }
        #expect(released.isSet)                                    // last view gone → release ran once
    }

    @Test func randomTensorsAreSeededAndDeterministic() throws {
        let a = Tensor.normal([1001], seed: 42, dtype: .float64), b = Tensor.normal([1001], seed: 42, dtype: .float64)
        #expect(a.values == b.values)
        #expect(a.values != Tensor.normal([1001], seed: 43, dtype: .float64).values)
        // Element i depends only on (seed, i): a longer tensor starts with the same values.
        #expect(Array(Tensor.normal([2001], seed: 42, dtype: .float64).values.prefix(1001)) == a.values)
        #expect(Array(Tensor.uniform([9], seed: 1).values.prefix(5)) == Tensor.uniform([5], seed: 1).values)
        let mean = a.values.reduce(0, +) / 1001, sd = (a.values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1000).squareRoot()
        #expect(Swift.abs(mean) < 0.15 && Swift.abs(sd - 1) < 0.1)
        let u = Tensor.uniform([5000], low: -2, high: 3, seed: 9, dtype: .float32).values
        #expect(u.allSatisfy { $0 >= -2 && $0 < 3 })
        #expect(Swift.abs(u.reduce(0, +) / 5000 - 0.5) < 0.1)
        let n = Tensor.normal([4, 5], mean: 10, std: 0.001, seed: 3)
        #expect(n.shape == [4, 5] && n.dtype == .float32 && n.values.allSatisfy { Swift.abs($0 - 10) < 0.01 })
    }
}

/// Thread-safe flag for release callbacks.
final class ReleaseFlag: @unchecked Sendable {
    private var flag = false
    func set() { flag = true }
    var isSet: Bool { flag }
}
