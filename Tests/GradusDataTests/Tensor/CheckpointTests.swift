import Foundation
import GradusTensor
import Testing
@testable import GradusData

@Suite struct CheckpointTests {
    @Test func roundTripKeepsNamesShapesDtypesAndValues() throws {
        let dir = DataTest.scratchDirectory()
        let w = Tensor(shape: [2, 3], scalars: [Float](arrayLiteral: 1, 2, 3, 4, 5, 6))
        let b = Tensor(shape: [3], scalars: [0.1, 0.2, 0.3])
        let s = Tensor.scalar(5, dtype: .float64)
        try Checkpoint.save(["layers.0.weight": w, "layers.0.bias": b, "s": s], metadata: ["step": "10"], to: dir + "/m.safetensors")
        let (t, meta) = try Checkpoint.loadWithMetadata(dir + "/m.safetensors")
        #expect(meta == ["step": "10"])
        #expect(t["layers.0.weight"]?.dtype == .float32 && t["layers.0.weight"]?.shape == [2, 3])
        #expect(t["layers.0.weight"]?.scalars(as: Float.self) == [1, 2, 3, 4, 5, 6])
        #expect(t["layers.0.bias"]?.dtype == .float64 && t["layers.0.bias"]?.scalars(as: Double.self) == [0.1, 0.2, 0.3])
        #expect(t["s"]?.shape == [])
        #expect(try t["s"]?.item() == 5)
    }

    @Test func nonContiguousTensorsAreSavedInLogicalOrder() throws {
        let dir = DataTest.scratchDirectory()
        let base = Tensor(shape: [2, 3], scalars: [Float](arrayLiteral: 1, 2, 3, 4, 5, 6))
        // A transposed view: strides (1, 3).
        let view = Tensor(storage: base.storage, shape: [3, 2], strides: [1, 3], offset: 0, dtype: .float32)
        try Checkpoint.save(["t": view], to: dir + "/v.safetensors")
        #expect(try Checkpoint.load(dir + "/v.safetensors")["t"]?.scalars(as: Float.self) == [1, 4, 2, 5, 3, 6])
    }

    @Test func optimizerStateAndAssign() throws {
        let dir = DataTest.scratchDirectory()
        let w = Tensor(shape: [2], scalars: [Float](arrayLiteral: 1, 2))
        let m = Tensor(shape: [2], scalars: [Float](arrayLiteral: 0.5, 0.25))
        try Checkpoint(parameters: ["w": w], optimizerState: ["w.exp_avg": m], metadata: ["optimizer.step": "7"])
            .write(to: dir + "/c.safetensors")
        let c = try Checkpoint.read(dir + "/c.safetensors")
        #expect(Array(c.parameters.keys) == ["w"] && Array(c.optimizerState.keys) == ["w.exp_avg"])
        #expect(c.metadata["optimizer.step"] == "7")
        let target = Tensor.zeros([2], dtype: .float64)
        try Checkpoint.assign(c.parameters, into: ["w": target])
        #expect(target.scalars(as: Double.self) == [1, 2])
        #expect(DataTest.error { try Checkpoint.assign(c.parameters, into: ["w": Tensor.zeros([3])]) } != nil)
        #expect(DataTest.error { try Checkpoint.assign([:], into: ["w": target]) } != nil)
        #expect(DataTest.error { try Checkpoint(parameters: ["optimizer.x": w]).write(to: dir + "/bad") } != nil)
    }

    @Test func pythonInterop() throws {
        guard DataTest.pythonHas("numpy", "safetensors") else { return }
        let dir = DataTest.scratchDirectory()
        try Checkpoint.save(["a": Tensor(shape: [2, 2], scalars: [1.5, 2.5, 3.5, 4.5]),
                             "b": Tensor(shape: [1], scalars: [Float(-1)])], metadata: ["who": "gradus"], to: dir + "/g.safetensors")
        let r = DataTest.python("""
        import sys, numpy as np
        from safetensors.numpy import load_file, save_file
        d = sys.argv[1]
        t = load_file(d + '/g.safetensors')
        assert t['a'].dtype == np.float64 and t['a'].tolist() == [[1.5, 2.5], [3.5, 4.5]]
        assert t['b'].dtype == np.float32 and t['b'].tolist() == [-1]
        save_file({'x': (t['a'] * 2), 'y': np.ones((2, 3), np.float32), 'h': np.array([0.5], np.float16),
                   'n': np.array([7], np.int64)}, d + '/p.safetensors')
        """, [dir])
        #expect(r?.status == 0, "\(r?.output ?? "")")
        let t = try Checkpoint.load(dir + "/p.safetensors")
        #expect(t["x"]?.dtype == .float64 && t["x"]?.scalars(as: Double.self) == [3, 5, 7, 9])
        #expect(t["y"]?.dtype == .float32 && t["y"]?.shape == [2, 3])
        #expect(t["h"]?.dtype == .float32 && t["h"]?.scalars(as: Float.self) == [0.5])
        #expect(t["n"]?.dtype == .float64 && t["n"]?.scalars(as: Double.self) == [7])
    }

    @Test func corruptCheckpointThrows() throws {
        let dir = DataTest.scratchDirectory()
        DataTest.writeBytes([1, 2, 3], to: dir + "/bad")
        #expect(DataTest.isFormat(DataTest.error { try Checkpoint.load(dir + "/bad") }))
        #expect(DataTest.isIO(DataTest.error { try Checkpoint.load(dir + "/missing") }))
    }
}

@Suite struct TensorBatchTests {
    @Test func batchesAreTensorsInSeededOrder() throws {
        let d = try Synthetic.twoMoons(count: 10, seed: 1)
        let a = Array(try d.batches(size: 4, seed: 3, epoch: 1))
        let b = Array(try d.batches(size: 4, seed: 3, epoch: 1))
        #expect(a.map(\.indices) == b.map(\.indices))
        #expect(a.map { $0.x.shape } == [[4, 2], [4, 2], [2, 2]])
        for batch in a {
            let x = batch.x.scalars(as: Float.self)
            for (k, i) in batch.indices.enumerated() {
                #expect(Array(x[2 * k..<2 * k + 2]) == Array(d.features[2 * i..<2 * i + 2]))
                #expect(batch.y[k] == d.labels[i] && batch.labels[k] == Int(d.labels[i]))
            }
        }
        let f64 = Array(try d.batches(size: 5, shuffle: false, dtype: .float64))
        #expect(f64[0].x.dtype == .float64 && f64[0].indices == [0, 1, 2, 3, 4])
        #expect(f64[0].yTensor().shape == [5])
        #expect(d.inputs().shape == [10, 2])
    }

    @Test func rawArrayTensorConversions() throws {
        let i = try RawArray(shape: [3], scalars: [Int64(1), -2, 3])
        let it = try i.tensor()
        #expect(it.dtype == .float64 && it.scalars(as: Double.self) == [1, -2, 3])
        #expect(try i.tensor(dtype: .float32).dtype == .float32)
        let e = try RawArray(shape: [0], scalars: [Float]())
        #expect(try e.tensor().count == 0)
        let t = try RawArray(tensor: Tensor(shape: [2], scalars: [Float](arrayLiteral: 3, 4)))
        #expect(t.elementType == .float32 && t.floats() == [3, 4])
    }
}
