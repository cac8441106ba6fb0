import GradusRuntime
import GradusTensor

/// Per-op case runners, generic over the arithmetic type. `run` returns false for an unknown op.
enum Ops<T: TensorScalar> {
    typealias D = CaseData

    static func run(_ op: String, _ c: JSON, _ k: inout Checker, adam8bit: Adam8bitCaseRunnerFactory? = nil) throws(GradusError) -> Bool {
        let p = c["params"] ?? .null, inp = c["inputs"] ?? .null, out = c["outputs"] ?? .null
        switch op {
        case "int_fake_quant": try intFakeQuant(p, inp, out, &k)
        case "stablespam_act_quant": try actQuant(p, inp, out, &k)
        case "stablespam_fp4_quant": try fp4Sim(p, inp, out, &k)
        case "stablespam_qlinear": try qlinear(p, inp, out, &k)
        case "fp4_e2m1_cast": try e2m1Cast(inp, out, &k)
        case "fp4_e2m1_fake_quant": try e2m1FakeQuant(p, inp, out, &k)
        case "mxfp4_fake_quant": try mxfp4(p, inp, out, &k)
        case "code_tables": codeTables(out, &k)
        case "bnb_4bit_quant": try bnb4bit(p, inp, out, &k)
        case "bnb_blockwise8_quant": try blockwise8(p, inp, out, &k)
        case "bnb_adam8bit": try Adam8bitReference.runCase(p, inp, out, &k, runner: adam8bit)
        case "reste": try reste(p, inp, out, &k)
        case "ste_sign": try steSign(p, inp, out, &k)
        case "reste_indicators": try indicators(p, inp, out, &k)
        case "reste_scaled_weight": try scaledWeight(p, inp, out, &k)
        default: return false
        }
        return true
    }

    static func load(_ j: JSON?, _ what: String) throws(GradusError) -> (shape: [Int], data: [T]) {
        let t = try D.tensor(j, what)
        return (t.shape, t.data.map { T($0) })
    }

    static func dbl(_ a: [T]) -> [Double] { a.map { Double($0) } }
    static func ints<I: BinaryInteger>(_ a: [I]) -> [Int] { a.map { Int($0) } }

    // MARK: §1 integer fake quantization

    static func intFakeQuant(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (shape, x) = try load(inp["x"], "x")
        let bits = try D.int(p["bits"], "bits")
        let symmetric = p["symmetric"]?.bool ?? true
        var cfg = QuantConfig(bits: bits, format: .int, symmetric: symmetric)
        if let g = p["group_size"]?.int { cfg.granularity = .perGroup(size: g) }
        if let a = p["channel_axis"]?.int { cfg.granularity = .perChannel(axis: a) }
        let layout = try cfg.layout(shape: shape)
        let stochastic = p["rounding"]?.string == "stochastic"
        let noise: [T]? = stochastic ? try load(inp["uniform_noise"], "uniform_noise").data : nil
        if let noise, noise.count != x.count { throw .format("uniform_noise count ≠ x count") }
        var deq = [T](repeating: 0, count: x.count), codes = [Int32](repeating: 0, count: x.count)
        var scales = [T](repeating: 0, count: layout.channels), zeros = [Int32](repeating: 0, count: layout.channels)
        x.withUnsafeBufferPointer { xb in
            let run = { (np: UnsafePointer<T>?) in
                IntQuantKernel.fakeQuantize(xb.baseAddress!, into: &deq, codes: &codes, scales: &scales, zeroPoints: &zeros,
                                            layout: layout, bits: bits, symmetric: symmetric, noise: np)
            }
            if let noise { noise.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
        }
        k.codes("q", ints(codes), out["q"])
        k.values("scale", dbl(scales), out["scale"])
        k.codes("zero_point", ints(zeros), out["zero_point"])
        k.values("dequantized", dbl(deq), out["dequantized"])
    }

    // MARK: §2 Stable-SPAM

    static func actQuant(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (shape, x) = try load(inp["x"], "x")
        let bits = try D.int(p["bits"], "bits"), g = try D.int(p["group_size"], "group_size")
        let topK = p["topk"]?.int ?? 2
        let dim = p["dim"]?.int ?? -1
        guard dim == -1 || dim == shape.count - 1 else { throw .unsupported("stablespam_act_quant: only dim = -1") }
        guard let last = shape.last, last % g == 0 else {
            throw .invalidArgument("stablespam_act_quant: group size \(g) does not divide the last dimension")
        }
        try StableSPAMQuant.validate(count: x.count, groupSize: g, bits: bits, topK: topK)
        let noise: [T]? = (p["stochastic"]?.bool ?? false) ? try load(inp["uniform_noise"], "uniform_noise").data : nil
        let groups = x.count / g
        var deq = [T](repeating: 0, count: x.count), codes = [Int32](repeating: 0, count: x.count)
        var scales = [T](repeating: 0, count: groups), idx = [Int32](repeating: 0, count: groups * topK)
        x.withUnsafeBufferPointer { xb in
            let run = { (np: UnsafePointer<T>?) in
                StableSPAMQuant.activationQuantize(xb.baseAddress!, into: &deq, codes: &codes, groupScales: &scales,
                                                   topKIndex: &idx, count: x.count, groupSize: g, bits: bits, topK: topK,
                                                   noise: np)
            }
            if let noise { noise.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
        }
        k.codes("q", ints(codes), out["q"])
        k.values("group_scale", dbl(scales), out["group_scale"])
        k.codes("topk_index", ints(idx), out["topk_index"])
        k.values("dequantized", dbl(deq), out["dequantized"])
    }

    static func fp4Sim(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (_, x) = try load(inp["x"], "x")
        let g = try D.int(p["group_size"], "group_size"), topK = p["topk"]?.int ?? 2
        guard (p["e"]?.int ?? 1) == 1, (p["m"]?.int ?? 2) == 2, (p["b"]?.int ?? 1) == 1 else {
            throw .unsupported("stablespam_fp4_quant: only the code defaults e=1, m=2, b=1")
        }
        try StableSPAMQuant.validate(count: x.count, groupSize: g, topK: topK)
        var deq = [T](repeating: 0, count: x.count), gi = [Int32](repeating: 0, count: x.count)
        var alpha = [T](repeating: 0, count: x.count / g)
        StableSPAMQuant.fp4SimQuantize(x, into: &deq, gridIndex: &gi, groupAlpha: &alpha, count: x.count, groupSize: g, topK: topK)
        k.codes("grid_index", ints(gi), out["grid_index"])
        k.values("group_alpha", dbl(alpha), out["group_alpha"])
        k.values("dequantized", dbl(deq), out["dequantized"])
    }

    static func qlinear(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (xs, x) = try load(inp["x"], "x"), (ws, w) = try load(inp["weight"], "weight")
        let (_, gOut) = try load(inp["grad_output"], "grad_output")
        let bias: [T]? = inp["bias"].flatMap { $0.isNull ? nil : $0 } != nil ? try load(inp["bias"], "bias").data : nil
        guard ws.count == 2, let inF = xs.last, ws[1] == inF else { throw .shapeMismatch("stablespam_qlinear: x/weight shapes") }
        let outF = ws[0], batch = x.count / inF
        var xq = [T](repeating: 0, count: x.count), wq = [T](repeating: 0, count: w.count)
        if p["quantizer"]?.string == "stablespam_fp4_sim" {
            let g = try D.int(p["group_size"], "group_size"), topK = p["topk"]?.int ?? 2
            try StableSPAMQuant.validate(count: x.count, groupSize: g, topK: topK)
            try StableSPAMQuant.validate(count: w.count, groupSize: g, topK: topK)
            StableSPAMQuant.fp4SimQuantize(x, into: &xq, gridIndex: nil, groupAlpha: nil, count: x.count, groupSize: g, topK: topK)
            StableSPAMQuant.fp4SimQuantize(w, into: &wq, gridIndex: nil, groupAlpha: nil, count: w.count, groupSize: g, topK: topK)
        } else {
            let bits = try D.int(p["bits"], "bits"), g = try D.int(p["group_size"], "group_size")
            let topK = p["act_topk"]?.int ?? 2
            let cfg = QuantConfig(bits: bits, symmetric: false, granularity: .perGroup(size: g))
            let layout = try cfg.layout(shape: ws)
            try StableSPAMQuant.validate(count: x.count, groupSize: g, bits: bits, topK: topK)
            guard inF % g == 0 else { throw .invalidArgument("stablespam_qlinear: group size \(g) does not divide \(inF)") }
            var scales = [T](repeating: 0, count: layout.channels)
            IntQuantKernel.fakeQuantize(w, into: &wq, codes: nil, scales: &scales, zeroPoints: nil, layout: layout,
                                        bits: bits, symmetric: false)
            StableSPAMQuant.activationQuantize(x, into: &xq, codes: nil, groupScales: nil, topKIndex: nil, count: x.count,
                                               groupSize: g, bits: bits, topK: topK)
        }
        var y = [T](repeating: 0, count: batch * outF)
        var gx = [T](repeating: 0, count: x.count), gw = [T](repeating: 0, count: w.count), gb = [T](repeating: 0, count: outF)
        QuantLinearKernel.forward(xq: xq, wq: wq, bias: bias, y: &y, batch: batch, inFeatures: inF, outFeatures: outF)
        QuantLinearKernel.backward(gradOutput: gOut, xq: xq, wq: wq, gradX: &gx, gradW: &gw, gradBias: &gb,
                                   batch: batch, inFeatures: inF, outFeatures: outF)
        k.values("y", dbl(y), out["y"])
        k.values("grad_x", dbl(gx), out["grad_x"])
        k.values("grad_weight", dbl(gw), out["grad_weight"])
        k.values("grad_bias", dbl(gb), out["grad_bias"])
        k.values("weight_dequantized", dbl(wq), out["weight_dequantized"])
        k.values("x_dequantized", dbl(xq), out["x_dequantized"])
    }

    // MARK: §3 FP4

    static func e2m1Cast(_ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (_, x) = try load(inp["x"], "x")
        var codes = [UInt8](repeating: 0, count: x.count), vals = [T](repeating: 0, count: x.count)
        FP4.e2m1Cast(x, codes: &codes, values: &vals, count: x.count)
        k.codes("code", ints(codes), out["code"])
        k.values("value", dbl(vals), out["value"])
        k.values("table_positive", FP4.e2m1Magnitudes.map { Double($0) }, out["table_positive"])
    }

    static func e2m1FakeQuant(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (shape, x) = try load(inp["x"], "x")
        var cfg = QuantConfig(bits: 4, format: .fp4E2M1)
        if let g = p["group_size"]?.int { cfg.granularity = .perGroup(size: g) }
        let layout = try cfg.layout(shape: shape)
        var codes = [UInt8](repeating: 0, count: x.count), deq = [T](repeating: 0, count: x.count)
        var scales = [T](repeating: 0, count: layout.channels)
        FP4.absmaxFakeQuantize(x, into: &deq, codes: &codes, scales: &scales, layout: layout)
        k.codes("code", ints(codes), out["code"])
        k.values("scale", dbl(scales), out["scale"])
        k.values("dequantized", dbl(deq), out["dequantized"])
    }

    static func mxfp4(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (shape, x) = try load(inp["x"], "x")
        let bs = p["block_size"]?.int ?? 32
        let layout = try QuantConfig(bits: 4, format: .mxfp4, granularity: .perGroup(size: bs)).layout(shape: shape)
        var codes = [UInt8](repeating: 0, count: x.count), deq = [T](repeating: 0, count: x.count)
        var exps = [Int32](repeating: 0, count: layout.channels)
        FP4.mxfp4FakeQuantize(x, into: &deq, codes: &codes, scaleExponents: &exps, count: x.count, blockSize: bs)
        k.codes("scale_exponent", ints(exps), out["scale_exponent"])
        k.codes("code", ints(codes), out["code"])
        k.values("dequantized", dbl(deq), out["dequantized"])
    }

    // MARK: §3.3–4 bitsandbytes

    static func codeTables(_ out: JSON, _ k: inout Checker) {
        let f = { (cb: Codebook) in cb.values.map { Double($0) } }
        k.values("nf4", f(.nf4), out["nf4"])
        k.values("bnb_fp4", f(.bnbFP4), out["bnb_fp4"])
        k.values("dynamic_signed", f(.dynamicSigned), out["dynamic_signed"])
        k.values("dynamic_unsigned", f(.dynamicUnsigned), out["dynamic_unsigned"])
    }

    static func codebook(named name: String?) throws(GradusError) -> Codebook {
        switch name {
        case "nf4": return .nf4
        case "fp4": return .bnbFP4
        case "dynamic_signed", "signed", nil: return .dynamicSigned
        case "dynamic_unsigned", "unsigned": return .dynamicUnsigned
        default: throw .unsupported("unknown codebook '\(name ?? "")'")
        }
    }

    static func blockwise(_ x: [T], _ bs: Int, _ cb: Codebook) -> (codes: [UInt8], absmax: [T], deq: [T]) {
        let nb = BlockwiseKernel.blockCount(count: x.count, blockSize: bs)
        var codes = [UInt8](repeating: 0, count: x.count), absmax = [T](repeating: 0, count: nb)
        var deq = [T](repeating: 0, count: x.count)
        BlockwiseKernel.quantize(x, count: x.count, blockSize: bs, codebook: cb, codes: &codes, absmax: &absmax)
        BlockwiseKernel.dequantize(codes: codes, absmax: absmax, count: x.count, blockSize: bs, codebook: cb, into: &deq)
        return (codes, absmax, deq)
    }

    static func bnb4bit(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (_, x) = try load(inp["x"], "x")
        let cb = try codebook(named: p["quant_type"]?.string ?? "fp4")
        let bs = p["blocksize"]?.int ?? 64
        guard bs > 0 else { throw .invalidArgument("bnb_4bit_quant: block size must be positive") }
        let r = blockwise(x, bs, cb)
        var packed = [UInt8](repeating: 0, count: (x.count + 1) / 2)
        BlockwiseKernel.pack4bit(r.codes, count: x.count, into: &packed)
        k.codes("code", ints(r.codes), out["code"])
        k.values("absmax", dbl(r.absmax), out["absmax"])
        k.values("dequantized", dbl(r.deq), out["dequantized"])
        k.codes("packed_bytes", ints(packed), out["packed_bytes"])
    }

    static func blockwise8(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (_, x) = try load(inp["x"], "x")
        let cb = try codebook(named: p["code"]?.string)
        let bs = p["blocksize"]?.int ?? 4096
        guard bs > 0 else { throw .invalidArgument("bnb_blockwise8_quant: block size must be positive") }
        let r = blockwise(x, bs, cb)
        k.codes("code", ints(r.codes), out["code"])
        k.values("absmax", dbl(r.absmax), out["absmax"])
        k.values("dequantized", dbl(r.deq), out["dequantized"])
    }

    // MARK: §5 ReSTE

    static func reste(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (_, x) = try load(inp["x"], "x"), (_, g) = try load(inp["grad_output"], "grad_output")
        let est = try ReSTE(o: try D.double(p["o"], "o"), t: p["t"]?.double ?? 1.5, interval: p["interval"]?.double ?? 0.1)
        let n = x.count
        var f = [T](repeating: 0, count: n), d = f, gi = f, eq = f
        est.forward(x, into: &f, count: n)
        est.derivative(x, into: &d, count: n)
        est.backward(x, gradOutput: g, gradInput: &gi, count: n)
        est.equivalentForward(x, into: &eq, count: n)
        k.values("forward", dbl(f), out["forward"])
        k.values("surrogate_derivative", dbl(d), out["surrogate_derivative"])
        k.values("grad_input", dbl(gi), out["grad_input"])
        k.values("equivalent_forward", dbl(eq), out["equivalent_forward"])
    }

    static func steSign(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (_, x) = try load(inp["x"], "x"), (_, g) = try load(inp["grad_output"], "grad_output")
        let n = x.count
        var f = [T](repeating: 0, count: n), gi = f
        for i in 0..<n { f[i] = signum(x[i]) }
        EstimatorKernel.clippedSTE(x: x, gradOutput: g, gradInput: &gi, count: n, clip: T(p["clip"]?.double ?? 1))
        k.values("forward", dbl(f), out["forward"])
        k.values("grad_input", dbl(gi), out["grad_input"])
    }

    static func indicators(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let oEnd = try D.double(p["o_end"], "o_end")
        guard let ws = inp["layer_weights"]?.array, let gs = inp["layer_grads"]?.array else {
            throw .format("reste_indicators: missing layer_weights / layer_grads")
        }
        var e = 0.0, s = 0.0
        for (i, w) in ws.enumerated() {
            let (_, data) = try load(w, "layer_weights[\(i)]")
            e += ReSTE.estimatingError(weights: data, count: data.count, oEnd: oEnd)
        }
        for (i, g) in gs.enumerated() {
            let (_, data) = try load(g, "layer_grads[\(i)]")
            s += ReSTE.gradientStability(grads: data, count: data.count)
        }
        k.values("estimating_error", [e], out["estimating_error"])
        k.values("gradient_stability", [s], out["gradient_stability"])
        if let epochs = p["epochs"]?.int, let es = p["schedule_epochs"]?.array {
            var sched: [Double] = []
            for ep in es { sched.append(try ReSTE.schedule(oEnd: oEnd, epoch: try D.int(ep, "schedule_epochs"), epochs: epochs)) }
            k.values("o_schedule", sched, out["o_schedule"])
        }
    }

    static func scaledWeight(_ p: JSON, _ inp: JSON, _ out: JSON, _ k: inout Checker) throws(GradusError) {
        let (_, w) = try load(inp["w"], "w"), (_, g) = try load(inp["grad_output"], "grad_output")
        let o = try D.double(p["o"], "o"), t = p["t"]?.double ?? 1.5
        _ = try ReSTE(o: o, t: t)
        var bw = [T](repeating: 0, count: w.count), gw = bw
        let scale = Binarize.scaledWeight(w, into: &bw, count: w.count)
        Binarize.scaledWeightBackward(w, gradOutput: g, gradInput: &gw, count: w.count, estimator: .reste(o: o, t: t))
        k.values("binary_weight", dbl(bw), out["binary_weight"])
        k.values("grad_w", dbl(gw), out["grad_w"])
        k.values("scale", [Double(scale)], out["scale"])
    }
}
