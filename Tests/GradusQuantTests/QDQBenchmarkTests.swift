import Foundation
import GradusQuant
import Testing

/// Group-128 symmetric INT4 quantize-dequantize of a 1024×1024 float32 matrix, same input as the C
/// anchor (qdq_c.c). Opt-in: `GRADUS_BENCH=1 swift test -c release --filter QDQBenchmark`.
@Suite struct QDQBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["GRADUS_BENCH"] != nil))
    func int4Group128() throws {
        let n = 1024 * 1024
        let w = UnsafeMutablePointer<Float>.allocate(capacity: n), o = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { w.deallocate(); o.deallocate() }
        for i in 0..<n { w[i] = sinf(Float(i) * 0.001) * 0.05 }
        let cfg = QuantConfig(bits: 4, granularity: .perGroup(size: 128))
        for _ in 0..<20 { try FakeQuantize.forward(w, into: o, shape: [1024, 1024], config: cfg) }
        var t: [Double] = []
        for _ in 0..<400 {
            let a = DispatchTime.now().uptimeNanoseconds
            try FakeQuantize.forward(w, into: o, shape: [1024, 1024], config: cfg)
            t.append(Double(DispatchTime.now().uptimeNanoseconds - a) / 1e3)
        }
        t.sort()
        var err: Float = 0
        for i in 0..<n { err = max(err, abs(o[i] - w[i])) }
        print("R,qdq_int4_g128_gradus,us,\(t[200]) (median of 400; best \(t[0])) max|qdq-w|=\(err)")
    }
}
