// 8-bit Adam (bitsandbytes semantics, lowbit spec §4.3): the fast nearest-code encoder, the golden
// trajectory, state memory, serialization and the 8-bit Stable-SPAM/AdamW chains.
import Foundation
import GradusQuant
import GradusRuntime
import Testing
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
    /// bnb/adam8bit/3steps: parameters and state codes per step (spec rule: exact nearest codes; at most two
    /// code mismatches per state per step for float evaluation order, their elements exempt afterwards).
    @Test func goldenTrajectory() throws {
        let c = lowbit["cases"]!.array!.first { $0["op"]?.string == "bnb_adam8bit" }!
        let p = c["params"]!
        let chain = try GradientChain<Float>.adam8bit(learningRate: .constant(p["lr"]!.double!), epsilon: p["eps"]!.double!,
                                                      minQuantizedSize: p["min_8bit_size"]!.int!)
        var param = doubles(c["inputs"]!["param"]).map { Float($0) }
        let n = param.count
        let opt = try FusedOptimizer(chain: chain, shapes: [[n]])
        let tol = c["tol"]!["param"]!
        let rtol = tol["rtol"]!.double!, atol = tol["atol"]!.double!
        var exempt = Set<Int>()
        for (s, gj) in c["inputs"]!["grads"]!.array!.enumerated() {
            let g = doubles(gj).map { Float($0) }
            try param.withUnsafeMutableBufferPointer { pb in
                try g.withUnsafeBufferPointer { gb in
                    try opt.step([ParameterBuffer(values: pb.baseAddress!, gradient: gb.baseAddress!, count: n)])
                }
            }
            let want = c["outputs"]!["trajectory"]!.array![s]
            let state = opt.state(of: AdamPreconditioner8bit<Float>.self, slot: 0, tensor: 0)!
            guard case .quantized(let q) = state.moments else { Issue.record("expected 8-bit moments"); return }
            for (name, codes) in [("m_code", q.codesM), ("v_code", q.codesV)] {
                let w = doubles(want[name])
                let diff = (0..<n).filter { Double(codes[$0]) != w[$0] }
                #expect(diff.count <= 2, "step \(s + 1) \(name): \(diff.count) code mismatches")
                exempt.formUnion(diff)
            }
            for (name, a) in [("m_absmax", q.absmaxM), ("v_absmax", q.absmaxV)] {
                for (b, w) in doubles(want[name]).enumerated() {
                    #expect(abs(Double(a[b]) - w) <= 1e-9 + 1e-5 * abs(w), "step \(s + 1) \(name)[\(b)]")
                }
            }
            let wp = doubles(want["param"])
            let off = (0..<n).filter { !exempt.contains($0) && abs(Double(param[$0]) - wp[$0]) > atol + rtol * abs(wp[$0]) }
            #expect(off.isEmpty, "step \(s + 1): \(off.count) parameters off, e.g. \(off.prefix(3))")
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
