// Low-bit layers over the GradusQuant kernels: autograd wrappers, quantized/binary/packed layers and the
// `Module.quantized` switch. Golden values come from the Stable-SPAM and ReSTE repository code (lowbit.json).
import Foundation
import GradusNN
import GradusQuant
import GradusRuntime
import GradusTensor
import Testing

private func lowbitCase(_ id: String) throws -> JSON {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/lowbit.json")
    let doc = try JSON.parse(String(contentsOf: url, encoding: .utf8))
    guard let c = doc["cases"]?.array?.first(where: { $0["id"]?.string == id }) else {
        throw GradusError.notFound("case \(id)")
    }
    return c
}

private func tensor(_ j: JSON?, _ dtype: DType) throws -> Tensor {
    guard let j, let shape = j["shape"]?.array?.compactMap(\.int), let data = j["data"]?.array?.compactMap(\.double) else {
        throw GradusError.format("bad tensor")
    }
    return try Tensor.make(shape: shape, scalars: data, dtype: dtype)
}

private func expectClose(_ got: Tensor?, _ want: JSON?, rtol: Double, atol: Double, _ what: String) throws {
    let w = try tensor(want, .float64).scalars(as: Double.self)
    let g = got?.scalars(as: Double.self) ?? []
    #expect(g.count == w.count, "\(what) count")
    var worst = 0.0
    for (a, b) in zip(g, w) { worst = max(worst, abs(a - b) - (atol + rtol * abs(b))) }
    #expect(worst <= 0, "\(what): exceeds tolerance by \(worst)")
}

private func copyInto(_ dst: Tensor, _ src: Tensor) { GradMode.withoutGrad { Kernels.copy(from: src, to: dst) } }

@Suite struct QuantizedLayerGoldenTests {
    /// Runs a golden `stablespam_qlinear` case through a `QuantizedLinear`: y, ∂x, ∂W, ∂b.
    func runLinearCase(_ id: String, _ scheme: (Int) -> LayerQuantization, dtype: DType) throws {
        let c = try lowbitCase(id)
        let inp = c["inputs"]!, out = c["outputs"]!
        let w = try tensor(inp["weight"], dtype), x = try tensor(inp["x"], dtype).requiringGrad()
        let layer = try QuantizedLinear(w.shape[1], w.shape[0], quantization: scheme(c["params"]!["group_size"]!.int!), dtype: dtype)
        copyInto(layer.linear.weight, w)
        copyInto(layer.linear.bias!, try tensor(inp["bias"], dtype))
        let y = try layer(x)
        try y.backward(gradient: try tensor(inp["grad_output"], dtype))
        let tol = dtype == .float64 ? (1e-5, 1e-5) : (1e-4, 1e-5)
        try expectClose(y, out["y"], rtol: tol.0, atol: tol.1, "\(id) y")
        try expectClose(x.grad, out["grad_x"], rtol: tol.0, atol: tol.1, "\(id) grad_x")
        try expectClose(layer.linear.weight.grad, out["grad_weight"], rtol: tol.0, atol: tol.1, "\(id) grad_weight")
        try expectClose(layer.linear.bias!.grad, out["grad_bias"], rtol: tol.0, atol: tol.1, "\(id) grad_bias")
    }

    @Test(arguments: [DType.float32, .float64])
    func stableSPAMInt4Linear(dtype: DType) throws {
        try runLinearCase("stablespam/qlinear_int4/group8", { .stableSPAMInt4(groupSize: $0) }, dtype: dtype)
    }

    @Test(arguments: [DType.float32, .float64])
    func stableSPAMFP4Linear(dtype: DType) throws {
        try runLinearCase("stablespam/qfp4linear", { .stableSPAMFP4(groupSize: $0) }, dtype: dtype)
    }

    /// ReSTE's scaled binary weight with its non-detached scale.
    @Test func scaledBinaryWeight() throws {
        let c = try lowbitCase("reste/scaled_binary_weight")
        let p = c["params"]!, inp = c["inputs"]!, out = c["outputs"]!
        let w = try tensor(inp["w"], .float64).requiringGrad()
        let est = QuantEstimator.reste(o: p["o"]!.double!, t: p["t"]!.double!)
        let b = try w.scaledBinaryWeight(estimator: est)
        try b.backward(gradient: try tensor(inp["grad_output"], .float64))
        try expectClose(b, out["binary_weight"], rtol: 1e-6, atol: 1e-8, "binary_weight")
        try expectClose(w.grad, out["grad_w"], rtol: 1e-6, atol: 1e-8, "grad_w")
    }
}

@Suite struct FakeQuantizedOpTests {
    @Test func steIsIdentityAndForwardMatchesKernel() throws {
        let x = Tensor.normal([4, 64], seed: 3, dtype: .float64).requiringGrad()
        let cfg = QuantConfig(bits: 4, symmetric: false, granularity: .perGroup(size: 32))
        let y = try x.fakeQuantized(cfg)
        let want = try FakeQuantize.forward(x.scalars(as: Double.self), shape: [4, 64], config: cfg)
        #expect(y.scalars(as: Double.self) == want)
        let g = Tensor.normal([4, 64], seed: 4, dtype: .float64)
        try y.backward(gradient: g)
        #expect(x.grad!.scalars(as: Double.self) == g.scalars(as: Double.self))
    }

    @Test func clippedSTEAndReSTEBackward() throws {
        let xs: [Double] = [-2, -1.2, -0.5, -0.05, 0, 0.05, 0.7, 1.0, 1.4, 3]
        let x = try Tensor.make(shape: [10], scalars: xs, dtype: .float64).requiringGrad()
        try x.binarized(estimator: .clippedSTE(clip: 1)).sum().backward()
        #expect(x.grad!.scalars(as: Double.self) == xs.map { abs($0) <= 1 ? 1 : 0 })
        let r = try ReSTE(o: 3, t: 1.5)
        let z = try Tensor.make(shape: [10], scalars: xs, dtype: .float64).requiringGrad()
        let s = try z.binarized(estimator: .reste(o: 3, t: 1.5))
        #expect(s.scalars(as: Double.self) == xs.map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) })
        try s.sum().backward()
        var d = [Double](repeating: 0, count: 10)
        r.derivative(xs, into: &d, count: 10)
        #expect(z.grad!.scalars(as: Double.self) == d)
    }

    /// The pool-parallel path gives the same bits as one serial kernel call.
    @Test func parallelForwardMatchesSerial() throws {
        let x = Tensor.normal([256, 1024], seed: 9, dtype: .float32)
        let cfg = QuantConfig(bits: 4, granularity: .perGroup(size: 128))
        let y = try x.fakeQuantized(cfg)
        let want = try FakeQuantize.forward(x.scalars(as: Float.self), shape: [256, 1024], config: cfg)
        #expect(y.scalars(as: Float.self) == want)
    }

    @Test func badConfigurationsThrowClearly() throws {
        let x = Tensor.normal([3, 10], seed: 1)
        #expect(throws: GradusError.self) { try x.fakeQuantized(QuantConfig(bits: 4, granularity: .perGroup(size: 7))) }
        #expect(throws: GradusError.self) { try x.fakeQuantized(QuantConfig(bits: 12)) }
        #expect(throws: GradusError.self) { try x.outlierKeepingQuantized(bits: 4, groupSize: 10, topK: 10) }
        do {
            _ = try QuantizedLinear(10, 3, quantization: LayerQuantization(QuantConfig(bits: 4, granularity: .perGroup(size: 7))))
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("group size 7"))
        }
    }
}

@Suite struct QuantizeSwitchTests {
    func mlp() throws -> SequentialModel {
        SequentialModel([try Linear(16, 32, seed: 1), ReLU(), try Linear(32, 32, seed: 2), ReLU(), try Linear(32, 4, seed: 3)])
    }

    @Test func namesAndTensorsAreKept() throws {
        let model = try mlp()
        let names = model.namedParameters().map(\.0)
        let q = try model.quantized(QuantConfig(bits: 4, granularity: .perGroup(size: 16)),
                                    activations: QuantConfig(bits: 8, granularity: .perGroup(size: 16)))
        #expect(q.namedParameters().map(\.0) == names)
        for ((_, a), (_, b)) in zip(model.namedParameters(), q.namedParameters()) { #expect(a === b) }
        #expect(q.quantizedLayers.map(\.0) == ["layers.0", "layers.2", "layers.4"])
        // A float checkpoint loads into the quantized model.
        try q.load(stateDict: model.stateDict())
        // The quantized model runs, trains and differs from the float one.
        let x = Tensor.normal([8, 16], seed: 5)
        let yq = try q(x), yf = try model(x)
        #expect(yq.shape == [8, 4])
        #expect(yq.scalars(as: Float.self) != yf.scalars(as: Float.self))
        try yq.sum().backward()
        #expect(model.parameters.allSatisfy { $0.grad != nil })
        // Back to float.
        let f = try q.dequantized()
        #expect(f.quantizedLayers.isEmpty)
        #expect(try f(x).scalars(as: Float.self) == yf.scalars(as: Float.self))
    }

    @Test func includeAndEstimatorUpdate() throws {
        let model = try mlp()
        let q = try model.quantized(.binary(estimator: .reste(o: 1, t: 1.5))) { path, _ in path != "layers.0" && path != "layers.4" }
        #expect(q.quantizedLayers.map(\.0) == ["layers.2"])
        q.setQuantEstimator(.reste(o: 2.5, t: 1.5))
        #expect(q.quantizedLayers[0].1.quantization == .binary(estimator: .reste(o: 2.5, t: 1.5)))
    }

    @Test func badLayerNamesThePath() throws {
        let model = try mlp()
        do {
            _ = try model.quantized(QuantConfig(bits: 4, granularity: .perGroup(size: 48)))
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("layers.0"))
        }
    }

    @Test func conv2dIsWrapped() throws {
        let model = Sequential(try Conv2d(2, 4, kernelSize: 3, padding: 1, seed: 1), ReLU())
        let q = try model.quantized(.binary(estimator: .clippedSTE(clip: 1), binaryActivations: false))
        #expect(q.quantizedLayers.count == 1)
        let y = try q(Tensor.normal([2, 2, 5, 5], seed: 1))
        #expect(y.shape == [2, 4, 5, 5])
    }
}

@Suite struct PackedLinearTests {
    @Test(arguments: [1, 3, 16])
    func matchesDenseDequantized(batch: Int) throws {
        let lin = try Linear(256, 64, seed: 11)
        let p = try PackedLinear(lin, groupSize: 128)
        let x = Tensor.normal([batch, 256], seed: 12)
        let y = try p(x)
        let ref = try Tensor.linear(x, weight: p.dequantizedWeight(), bias: lin.bias)
        let a = y.scalars(as: Float.self), b = ref.scalars(as: Float.self)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 * (1 + abs($1)) })
        // Int4 per-group symmetric weights equal the fake-quantized weight.
        let fq = try lin.weight.fakeQuantized(QuantConfig(bits: 4, granularity: .perGroup(size: 128)))
        #expect(p.dequantizedWeight().scalars(as: Float.self) == fq.scalars(as: Float.self))
    }

    @Test func memoryIsAtMost014OfFloat32() throws {
        let model = SequentialModel([try Linear(1024, 1024, bias: false, seed: 1)])
        let packed = try model.packed()
        let (p, d) = packed.packedWeightMemory
        #expect(d == 4 * 1024 * 1024)
        #expect(Double(p) / Double(d) <= 0.14)
    }

    @Test func inputGradient() throws {
        let lin = try Linear(128, 8, seed: 2)
        let p = try PackedLinear(lin)
        let x = Tensor.normal([5, 128], seed: 3).requiringGrad()
        try p(x).sum().backward()
        let want = try Tensor.ones([5, 8]).matmul(p.dequantizedWeight())
        #expect(zip(x.grad!.scalars(as: Float.self), want.scalars(as: Float.self)).allSatisfy { abs($0 - $1) < 1e-5 })
    }
}
