import Glibc
import Gradus

/// Low-bit benchmarks (issue 5): quantized training step, 8-bit Adam step, packed 4-bit memory, INT4 qdq
/// vs the C anchor. Called from the `quant` section.
extension BenchContext {
    func quantBench() throws(GradusError) {
        var table = Table(title: "low-bit: INT4 W+A training step vs float32 (goal ≤ 1.15×), 8-bit Adam step vs float32 Adam (goal ≤ 1.3×), packed 4-bit memory (goal ≤ 0.14), INT4 g128 qdq vs C",
                          header: ["measurement", "threads", "gradus ms", "baseline ms", "ratio", "note"])
        for n in threadCounts {
            try setThreads(n)
            // 1. MLP 784-1024-1024-10, batch 128, Adam: INT4 weights + activations (symmetric, group 128) vs float32.
            let steps = Swift.max(repeats, 10)
            let f32 = try QuantBench.mlpStep(quantization: nil, steps: steps)
            let int4 = QuantConfig(bits: 4, granularity: .perGroup(size: 128))
            let q4 = try QuantBench.mlpStep(quantization: LayerQuantization(int4, activations: int4), steps: steps)
            table.add(["MLP step INT4 W+A g128 (vs float32)", "\(n)", ms(q4), ms(f32), ratio(q4, f32), "784-1024-1024-10, batch 128, Adam"])
            // 2. Adam step on 10M parameters, 8-bit states vs float32.
            let a32 = try QuantBench.adamStep(eightBit: false, count: 10_000_000, repeats: repeats)
            let a8 = try QuantBench.adamStep(eightBit: true, count: 10_000_000, repeats: repeats)
            table.add(["Adam step 8-bit states (vs float32), 10M", "\(n)", ms(a8), ms(a32), ratio(a8, a32),
                       "state 8-bit \(fmt(QuantBench.adamStateRatio(count: 10_000_000), 3))× of float32"])
            // 3. INT4 group-128 quantize-dequantize of 1024×1024 vs qdq_c.
            let (tOp, tKernel) = try QuantBench.qdq(repeats: Swift.max(repeats * 5, 50))
            let c = anchor("qdq_c", ["1024", "1024", "128"], threads: n)?["qdq_int4_g128_c,us"].map { $0 / 1e6 }
            table.add(["INT4 g128 qdq 1024×1024, Tensor op (vs qdq_c)", "\(n)", ms(tOp), ms(c), ratio(tOp, c), "pool-parallel"])
            table.add(["INT4 g128 qdq 1024×1024, kernel (vs qdq_c)", "\(n)", ms(tKernel), ms(c), ratio(tKernel, c), "one thread"])
        }
        // 4. Packed 4-bit weights.
        let (packed, dense, tPacked, tDense) = try QuantBench.packed(repeats: repeats)
        table.add(["packed INT4 g128 1024×1024 memory", "-", "\(packed) B", "\(dense) B", fmt(Double(packed) / Double(dense), 4),
                   "of float32 (goal ≤ 0.14)"])
        table.add(["packed INT4 matvec 1024×1024 (vs dense)", "\(threadCounts.last ?? 1)", ms(tPacked), ms(tDense), ratio(tPacked, tDense), "batch 1"])
        print(table.render())
    }
}

enum QuantBench {
    /// Median seconds of one training step of the anchor MLP, optionally quantized.
    static func mlpStep(quantization: LayerQuantization?, steps: Int) throws(GradusError) -> Double {
        Init.manualSeed(7)
        var model: Module = SequentialModel([try Linear(784, 1024), ReLU(), try Linear(1024, 1024), ReLU(), try Linear(1024, 10)])
        if let q = quantization { model = try model.quantized(q) }
        let opt = try Optimizer(model.parameters, chain: GradientChain<Float>.adam(learningRate: .constant(1e-3)))
        let x = Tensor.uniform([128, 784], seed: 3)
        let labels = (0..<128).map { ($0 * 7) % 10 }
        return try medianTime(repeats: steps, warmup: 3) { () throws(GradusError) in
            opt.zeroGrad()
            let loss = try Loss.crossEntropy(try model(x), labels: labels)
            try loss.backward()
            try opt.step()
        }
    }

    /// Median seconds of one Adam step over `count` float32 parameters.
    static func adamStep(eightBit: Bool, count: Int, repeats: Int) throws(GradusError) -> Double {
        let p = Tensor.uniform([count], seed: 1)
        p.requiresGrad = true
        p.grad = Tensor.uniform([count], low: -1, high: 1, seed: 2)
        let chain = eightBit ? try GradientChain<Float>.adam8bit(learningRate: .constant(1e-3))
                             : GradientChain<Float>.adam(learningRate: .constant(1e-3))
        let opt = try Optimizer([p], chain: chain)
        return try medianTime(repeats: Swift.max(repeats / 2, 5), warmup: 2) { () throws(GradusError) in try opt.step() }
    }

    static func adamStateRatio(count: Int) -> Double {
        guard let pre = try? AdamPreconditioner8bit<Float>() else { return .nan }
        return Double(pre.stateByteCount(shapes: [[count]])) / Double(8 * count)
    }

    /// (Tensor op, single-thread kernel) median seconds of INT4 g128 qdq on 1024×1024 (the anchor's input).
    static func qdq(repeats: Int) throws(GradusError) -> (Double, Double) {
        let n = 1024 * 1024
        let w = Tensor.zeros([1024, 1024])
        let wp = w.basePointer(as: Float.self)
        for i in 0..<n { wp[i] = sinf(Float(i) * 0.001) * 0.05 }
        let cfg = QuantConfig(bits: 4, granularity: .perGroup(size: 128))
        let tOp = try medianTime(repeats: repeats, warmup: 5) { () throws(GradusError) in _ = try w.fakeQuantized(cfg) }
        let out = Tensor.zeros([1024, 1024])
        let op = out.basePointer(as: Float.self)
        let tKernel = try medianTime(repeats: repeats, warmup: 5) { () throws(GradusError) in
            try FakeQuantize.forward(UnsafePointer(wp), into: op, shape: [1024, 1024], config: cfg)
        }
        return (tOp, tKernel)
    }

    /// Packed bytes, dense bytes, packed and dense batch-1 matvec median seconds.
    static func packed(repeats: Int) throws(GradusError) -> (Int, Int, Double, Double) {
        let lin = try Linear(1024, 1024, bias: false, seed: 5)
        let p = try PackedLinear(lin, groupSize: 128)
        let x = Tensor.uniform([1, 1024], seed: 6)
        let tp = try medianTime(repeats: repeats * 5, warmup: 3) { () throws(GradusError) in _ = try GradMode.withoutGrad { () throws(GradusError) in try p(x) } }
        let td = try medianTime(repeats: repeats * 5, warmup: 3) { () throws(GradusError) in _ = try GradMode.withoutGrad { () throws(GradusError) in try lin(x) } }
        return (p.byteCount, p.denseByteCount, tp, td)
    }
}
