// 8-bit Adam (bitsandbytes semantics, lowbit spec §4.3): the fast nearest-code encoder, the golden
// trajectory, state memory, serialization and the 8-bit Stable-SPAM/AdamW chains.
import Foundation
import GradusQuant
import GradusRuntime
import Testing
import _GradusTestSupport
@testable import GradusOptim

private let lowbit: JSON = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/lowbit.json")
    return try! JSON.parse(bytes: Array(try! Data(contentsOf: url)))
}()

private func doubles(_ j: JSON?) -> [Double] { j?["data"]?.array?.compactMap(\.double) ?? j?.array?.compactMap(\.double) ?? [] }

@Suite struct FastCodebookEncoderTests {
    @Test(arguments: [Codebook.dynamicSigned, .dynamicUnsigned])
    func matchesBinarySearchEverywhere(codebook: Codebook) {
        let enc = FastCodebookEncoder(codebook)
        #expect(enc.steps == 1)
        var xs: [Float] = [0, -0.0, 1, -1, 1e-30, -1e-30, .leastNonzeroMagnitude, 0.5, -0.5]
        for m in codebook.midpoints {
            let f = Float(m)
            xs += [f, f.nextUp, f.nextDown, -f, -f.nextUp]
        }
        var rng = PhiloxStream(seed: 7)
        for _ in 0..<50_000 {
            let u = Float(rng.nextDouble()) * 2 - 1
            xs.append(u); xs.append(u * 1e-3); xs.append(u * 1e-6)
        }
        xs = xs.map { max(-1, min(1, $0)) }
        var got = [UInt8](repeating: 0, count: xs.count)
        enc.encode(xs, count: xs.count, inverseScale: 1, into: &got)
        var bad = 0
        for (i, x) in xs.enumerated() where got[i] != codebook.encode(Double(x)) { bad += 1 }
        #expect(bad == 0)
    }
}

@Suite struct Adam8bitTests {
    /// bnb/adam8bit/3steps through the conformance runner with this module's optimizer (what `gradus conformance`
    /// runs) and with GradusQuant's oracle: parameters and state codes per step (spec rule: exact nearest codes; at
    /// most two code mismatches per state per step for float evaluation order, their elements exempt afterwards).
    @Test func goldenTrajectory() throws {
        let c = lowbit["cases"]!.array!.first { $0["op"]?.string == "bnb_adam8bit" }!
        let product = try QuantConformance.run(case: c, precision: .float32, adam8bit: Adam8bitConformance.runner)
        #expect(product.status == .pass, "\(product)")
        let oracle = try QuantConformance.run(case: c, precision: .float32)
        #expect(oracle.status == .pass, "\(oracle)")
    }

    /// Spec §4.3 written out in float32 from the text (dequantize through the code tables, the moment and parameter
    /// updates, requantization to the exact nearest code with ties to the lower entry), generating random
    /// trajectories in the golden format: other learning rates, betas, ε, decoupled weight decay, block sizes
    /// (partial last blocks), tensors below `min_8bit_size` (float32 states), 1–4 steps. The optimizer must pass
    /// them through the conformance runner; so must the oracle.
    @Test func randomTrajectoriesMatchTheSpec() throws {
        let signed = Codebook.dynamicSigned.values.map { Float($0) }, unsigned = Codebook.dynamicUnsigned.values.map { Float($0) }
        func nearest(_ s: Float, _ table: [Float]) -> Int {
            var lo = 0, hi = table.count - 1  // first index whose upper midpoint is ≥ s
            while lo < hi {
                let mid = (lo + hi) / 2
                if Double(s) > (Double(table[mid]) + Double(table[mid + 1])) / 2 { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        var rng = PhiloxStream(seed: 0xADA8)
        func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * rng.nextDouble() }
        for draw in 0..<24 {
            let blockSize = [64, 128, 256, 512][rng.nextInt(below: 4)]
            let n = [rng.nextInt(below: 3000) + 1, 200][rng.nextInt(below: 2)], minSize = [256, 4096, 1][rng.nextInt(below: 3)]
            let lr = pow(10, uniform(-4, -1)), b1 = uniform(0.5, 0.95), b2 = uniform(0.9, 0.9999)
            let eps = pow(10, uniform(-10, -6)), wd = rng.nextInt(below: 2) == 0 ? 0 : uniform(0, 0.1)
            let steps = rng.nextInt(below: 4) + 1
            let scale = pow(10, uniform(-4, 0))
            let param0 = (0..<n).map { _ in Float(uniform(-1, 1)) }
            let grads = (0..<steps).map { _ in (0..<n).map { _ in Float(uniform(-1, 1) * scale * pow(10, -uniform(0, 3))) } }
            // the spec's loop
            let quantized = n >= minSize
            let (fb1, fb2, flr, feps, fwd) = (Float(b1), Float(b2), Float(lr), Float(eps), Float(wd))
            var p = param0, mq = [Float](repeating: 0, count: n), vq = mq  // dequantized states
            var trajectory: [JSON] = []
            for k in 1...steps {
                let g = grads[k - 1]
                let c1 = Float(1 - pow(b1, Double(k))), c2 = Float((1 - pow(b2, Double(k))).squareRoot())
                var m = [Float](repeating: 0, count: n), v = m
                for i in 0..<n {
                    m[i] = fb1 * mq[i] + (1 - fb1) * g[i]
                    v[i] = fb2 * vq[i] + (1 - fb2) * g[i] * g[i]
                    let denom = v[i].squareRoot() / c2 + feps
                    if fwd > 0 { p[i] *= 1 - flr * fwd }
                    p[i] -= (flr / c1) * (m[i] / denom)
                }
                var entry: [String: JSON] = ["param": goldenTensor([n], p.map { Double($0) })]
                if quantized {
                    var codes: [[Double]] = [[], []], absmax: [[Double]] = [[], []]
                    for (j, (x, table)) in [(m, signed), (v, unsigned)].enumerated() {
                        for start in stride(from: 0, to: n, by: blockSize) {
                            let end = min(start + blockSize, n)
                            let a = x[start..<end].map(abs).max()!
                            absmax[j].append(Double(a))
                            for i in start..<end {
                                let c = a == 0 ? nearest(0, table) : nearest(max(-1, min(1, x[i] / a)), table)
                                codes[j].append(Double(c))
                                if j == 0 { mq[i] = table[c] * a } else { vq[i] = table[c] * a }
                            }
                        }
                    }
                    entry["m_code"] = goldenTensor([n], codes[0]); entry["v_code"] = goldenTensor([n], codes[1])
                    entry["m_absmax"] = goldenTensor([absmax[0].count], absmax[0]); entry["v_absmax"] = goldenTensor([absmax[1].count], absmax[1])
                } else {
                    mq = m; vq = v
                }
                trajectory.append(.object(entry))
            }
            let c: JSON = .object([
                "id": .string("bnb/adam8bit/random/\(draw)"), "op": .string("bnb_adam8bit"),
                "params": .object(["n": .number(Double(n)), "steps": .number(Double(steps)), "lr": .number(lr),
                                   "betas": .array([.number(b1), .number(b2)]), "eps": .number(eps), "weight_decay": .number(wd),
                                   "min_8bit_size": .number(Double(minSize)), "block_size": .number(Double(blockSize))]),
                "inputs": .object(["param": goldenTensor([n], param0.map { Double($0) }),
                                   "grads": .array(grads.map { goldenTensor([n], $0.map { Double($0) }) })]),
                "outputs": .object(["trajectory": .array(trajectory)]),
                "tol": .object(["param": .object(["rtol": .number(1e-5), "atol": .number(1e-6)]),
                                "absmax": .object(["rtol": .number(1e-5), "atol": .number(1e-9)])]),
            ])
            let label = "draw \(draw): n \(n) block \(blockSize) min \(minSize) lr \(lr) β (\(b1), \(b2)) ε \(eps) λ \(wd) steps \(steps)"
            let product = try QuantConformance.run(case: c, precision: .float32, adam8bit: Adam8bitConformance.runner)
            #expect(product.status == .pass, "product \(label): \(product)")
            let oracle = try QuantConformance.run(case: c, precision: .float32)
            #expect(oracle.status == .pass, "oracle \(label): \(oracle)")
            // the comparison can fail: a learning rate 1% off
            var wrong = c.object!
            var params = c["params"]!.object!
            params["lr"] = .number(lr * 1.01)
            wrong["params"] = .object(params)
            #expect(try QuantConformance.run(case: .object(wrong), precision: .float32, adam8bit: Adam8bitConformance.runner).status == .fail)
        }
    }

    @Test func stateIsAboutAQuarterOfFloat32() throws {
        let pre = try AdamPreconditioner8bit<Float>()
        let shapes = [[10_000_000]]
        let bytes = pre.stateByteCount(shapes: shapes)
        let full = 2 * 4 * 10_000_000
        #expect(Double(bytes) / Double(full) < 0.26)
        let opt = try FusedOptimizer<Float>(chain: try GradientChain<Float>.adam8bit(), shapes: [[4096], [100]])
        #expect(opt.state(of: AdamPreconditioner8bit<Float>.self, slot: 0, tensor: 0)!.byteCount == 2 * 4096 + 8 * 16)
        #expect(opt.state(of: AdamPreconditioner8bit<Float>.self, slot: 0, tensor: 1)!.byteCount == 800)
    }

    /// Close to float Adam on a noisy quadratic, no NaN on zero gradients, and a state round trip that
    /// continues bit-identically.
    @Test func tracksFloatAdamAndRoundTrips() throws {
        let n = 8192
        var rng = PhiloxStream(seed: 3)
        let target = (0..<n).map { _ in Float(rng.nextDouble()) * 2 - 1 }
        func run(_ chain: GradientChain<Float>, steps: Int, _ opt: FusedOptimizer<Float>? = nil,
                 start: [Float]? = nil) throws -> ([Float], FusedOptimizer<Float>) {
            let o = try opt ?? FusedOptimizer(chain: chain, shapes: [[n]])
            var x = start ?? [Float](repeating: 0, count: n)
            for _ in 0..<steps {
                let g = (0..<n).map { 2 * (x[$0] - target[$0]) }
                try x.withUnsafeMutableBufferPointer { xb in
                    try g.withUnsafeBufferPointer { gb in
                        try o.step([ParameterBuffer(values: xb.baseAddress!, gradient: gb.baseAddress!, count: n)])
                    }
                }
            }
            return (x, o)
        }
        let (x8, o8) = try run(try GradientChain<Float>.adam8bit(learningRate: .constant(0.05)), steps: 150)
        let (x32, _) = try run(GradientChain<Float>.adam(learningRate: .constant(0.05)), steps: 150)
        func mse(_ x: [Float]) -> Double {
            var s = 0.0
            for i in 0..<n { let d = Double(x[i] - target[i]); s += d * d }
            return s / Double(n)
        }
        let loss8 = mse(x8), loss32 = mse(x32)
        #expect(loss8.isFinite && loss8 < 0.05 * 0.34, "8-bit loss \(loss8), 32-bit \(loss32)")

        // Round trip: continue a copy from the saved state.
        let entries = o8.stateEntries()
        #expect(entries.contains { $0.name == "state.0.state1" })
        let copy = try FusedOptimizer<Float>(chain: try GradientChain<Float>.adam8bit(learningRate: .constant(0.05)), shapes: [[n]])
        try copy.loadState(entries)
        let (a, _) = try run(try GradientChain<Float>.adam8bit(), steps: 3, o8, start: x8)
        let (b, _) = try run(try GradientChain<Float>.adam8bit(), steps: 3, copy, start: x8)
        #expect(a == b)

        // Zero gradients: no NaN.
        let z = try FusedOptimizer<Float>(chain: try GradientChain<Float>.adam8bit(), shapes: [[n]])
        var p = [Float](repeating: 1, count: n)
        let zero = [Float](repeating: 0, count: n)
        for _ in 0..<3 {
            try p.withUnsafeMutableBufferPointer { pb in
                try zero.withUnsafeBufferPointer { gb in try z.step([ParameterBuffer(values: pb.baseAddress!, gradient: gb.baseAddress!, count: n)]) }
            }
        }
        #expect(p.allSatisfy { $0 == 1 })
    }

    @Test func stableSPAMAndAdamWIn8bitRun() throws {
        for chain in [try GradientChain<Float>.stableSPAM8bit(learningRate: .constant(0.01), resetInterval: 5),
                      try GradientChain<Float>.adamW8bit(learningRate: .constant(0.01))] {
            let n = 5000
            let o = try FusedOptimizer(chain: chain, shapes: [[n]])
            var x = [Float](repeating: 1, count: n)
            for _ in 0..<12 {
                let g = x.map { 2 * $0 }
                try x.withUnsafeMutableBufferPointer { xb in
                    try g.withUnsafeBufferPointer { gb in try o.step([ParameterBuffer(values: xb.baseAddress!, gradient: gb.baseAddress!, count: n)]) }
                }
            }
            #expect(x.allSatisfy { $0.isFinite && $0 < 1 })
        }
    }

    @Test func badConfigurationsThrow() {
        #expect(throws: GradusError.self) { try AdamPreconditioner8bit<Float>(blockSize: 300) }
        #expect(throws: GradusError.self) { try AdamPreconditioner8bit<Float>(beta1: 1) }
        #expect(throws: GradusError.self) { try GradientChain<Float>.adam8bit(blockSize: 0) }
    }
}
