// gather, indexSelect, indexAdd, scatterAdd, concat, stack, split: values by hand, gradients, errors.
import GradusRuntime
import GradusTensor
import Testing
import _GradusTestSupport

@Suite struct IndexTests {
    @Test func gatherPicksOneElementPerLine() throws {
        let x = try Tensor.arange(0, 12, dtype: .float64).reshaped([3, 4])
        #expect(try x.gather(axis: 1, indices: [3, 0, 2]).values == [3, 4, 10])
        #expect(try x.gather(axis: 0, indices: [2, 0, 1, 1]).values == [8, 1, 6, 7])
        #expect(try x.gather(axis: -1, indices: [0, 0, 0], keepDims: true).shape == [3, 1])
        let x3 = randn([2, 3, 4], seed: 1)
        try gradcheck({ try $0[0].gather(axis: 1, indices: [0, 2, 1, 1, 2, 0, 0, 0]) }, inputs: [x3])
        try gradgradcheck({ try $0[0].gather(axis: 2, indices: [0, 3, 1, 1, 2, 0]).square() }, inputs: [x3])
        try gradcheck({ try $0[0].transposed().gather(axis: 0, indices: [1, 0, 2, 1]) }, inputs: [randn([4, 3], seed: 2)])
    }

    @Test func indexSelectRepeatsRowsAndAccumulatesGradients() throws {
        let x = try Tensor.arange(0, 6, dtype: .float64).reshaped([3, 2])
        let y = try x.indexSelect(axis: 0, indices: [2, 0, 2])
        #expect(y.values == [4, 5, 0, 1, 4, 5])
        #expect(try x.indexSelect(axis: 1, indices: [1]).values == [1, 3, 5])
        #expect(try x.indexSelect(axis: 0, indices: []).shape == [0, 2])
        let xr = randn([3, 2], seed: 1).requiringGrad()
        try xr.indexSelect(axis: 0, indices: [2, 0, 2]).sum().backward()
        #expect(xr.grad!.values == [1, 1, 0, 0, 2, 2])
        try gradcheck({ try $0[0].indexSelect(axis: 1, indices: [2, 2, 0]) }, inputs: [randn([2, 3, 2], seed: 3)])
        try gradgradcheck({ try $0[0].indexSelect(axis: 0, indices: [1, 1]).exp() }, inputs: [randn([2, 3], seed: 3)])
    }

    @Test func indexAddAndScatterAddAreAdjoints() throws {
        let src = tensor([3, 2], [1, 2, 3, 4, 5, 6])
        let added = try src.indexAdd(axis: 0, indices: [1, 0, 1], size: 2)
        #expect(added.values == [3, 4, 6, 8])
        try gradcheck({ try $0[0].indexAdd(axis: 0, indices: [1, 0, 1], size: 4) }, inputs: [src])
        let lines = tensor([3], [7, 8, 9])
        let scattered = try lines.scatterAdd(axis: 1, indices: [2, 0, 1], size: 3)
        #expect(scattered.shape == [3, 3])
        #expect(scattered.values == [0, 0, 7, 8, 0, 0, 0, 9, 0])
        try gradcheck({ try $0[0].scatterAdd(axis: 0, indices: [1, 1, 0], size: 2) }, inputs: [lines])
        // <gather(x), y> == <x, scatterAdd(y)>
        let x = randn([3, 4], seed: 5), y = randn([3], seed: 6), idx = [3, 1, 1]
        let lhs = try (x.gather(axis: 1, indices: idx) * y).sum().item()
        let rhs = try (x * y.scatterAdd(axis: 1, indices: idx, size: 4)).sum().item()
        #expect(Swift.abs(lhs - rhs) < 1e-12)
    }

    @Test func concatStackAndSplit() throws {
        let a = randn([2, 3], seed: 1), b = randn([2, 1], seed: 2), c = randn([2, 0], seed: 3)
        let cat = try Tensor.concat([a, b, c], axis: 1)
        #expect(cat.shape == [2, 4])
        #expect(cat.values == [a.values[0], a.values[1], a.values[2], b.values[0], a.values[3], a.values[4], a.values[5], b.values[1]])
        #expect(try Tensor.concat([a, a], axis: 0).values == a.values + a.values)
        let st = try Tensor.stack([a, a * 2], axis: 1)
        #expect(st.shape == [2, 2, 3])
        #expect(try Tensor.stack([a, a], axis: -1).shape == [2, 3, 2])
        let parts = try cat.split(sizes: [1, 0, 3], axis: 1)
        #expect(parts.map(\.shape) == [[2, 1], [2, 0], [2, 3]])
        #expect(parts.allSatisfy { $0.storage === cat.storage })
        #expect(parts[2].values == [a.values[1], a.values[2], b.values[0], a.values[4], a.values[5], b.values[1]])
        try gradcheck({ try Tensor.concat([$0[0], $0[1].transposed(), $0[2]], axis: 1) }, inputs: [a, randn([1, 2], seed: 4), c])
        try gradcheck({ try Tensor.stack([$0[0], $0[1]], axis: 2).square() }, inputs: [a, randn([2, 3], seed: 7)])
        try gradcheck({ xs in
            let p = try xs[0].split(sizes: [2, 0, 1], axis: 1)
            return try p[0].sum(axis: 1) * p[2].squeezed(1) + p[1].sum()
        }, inputs: [a])
        try gradgradcheck({ try Tensor.concat([$0[0].square(), $0[1]], axis: 0) }, inputs: [a, randn([1, 3], seed: 8)])
    }

    @Test func indexErrorsThrow() throws {
        let x = randn([3, 4], seed: 1)
        #expect(throws: GradusError.self) { try x.gather(axis: 1, indices: [0, 1]) }
        #expect(throws: GradusError.self) { try x.gather(axis: 1, indices: [0, 4, 1]) }
        #expect(throws: GradusError.self) { try x.gather(axis: 2, indices: [0, 0, 0]) }
        #expect(throws: GradusError.self) { try Tensor.zeros([3, 0], dtype: .float64).gather(axis: 1, indices: []) }
        #expect(throws: GradusError.self) { try x.indexSelect(axis: 0, indices: [3]) }
        #expect(throws: GradusError.self) { try x.indexSelect(axis: 0, indices: [-1]) }
        #expect(throws: GradusError.self) { try x.indexAdd(axis: 0, indices: [0, 1], size: 3) }
        #expect(throws: GradusError.self) { try x.indexAdd(axis: 0, indices: [0, 1, 5], size: 3) }
        #expect(throws: GradusError.self) { try tensor([2], [1, 2]).scatterAdd(axis: 1, indices: [0, 3], size: 3) }
        #expect(throws: GradusError.self) { try tensor([2], [1, 2]).scatterAdd(axis: 1, indices: [0], size: 3) }
        #expect(throws: GradusError.self) { try Tensor.concat([], axis: 0) }
        #expect(throws: GradusError.self) { try Tensor.concat([x, randn([3, 2, 1], seed: 1)], axis: 0) }
        #expect(throws: GradusError.self) { try Tensor.concat([x, randn([2, 3], seed: 1)], axis: 0) }
        #expect(throws: GradusError.self) { try Tensor.concat([x, x.to(.float32)], axis: 0) }
        #expect(throws: GradusError.self) { try Tensor.concat([x, x], axis: 2) }
        #expect(throws: GradusError.self) { try Tensor.concat([Tensor.scalar(1), Tensor.scalar(2)], axis: 0) }
        #expect(throws: GradusError.self) { try Tensor.stack([x, randn([4, 3], seed: 1)]) }
        #expect(throws: GradusError.self) { try Tensor.stack([x, x], axis: 3) }
        #expect(throws: GradusError.self) { try x.split(sizes: [1, 1], axis: 0) }
        #expect(throws: GradusError.self) { try x.split(sizes: [4, -1], axis: 0) }
    }
}
