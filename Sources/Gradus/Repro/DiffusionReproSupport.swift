import Glibc
import GradusRuntime
import GradusTensor
import GradusData
import GradusDiffusion

/// Shared helpers of the diffusion reproductions (issue 6): sample metrics and image output.
enum DiffusionReproSupport {
    /// Biased (V-statistic) squared MMD with an RBF kernel `exp(−‖x − y‖²/(2h²))` between point sets `(n, d)`, `(m, d)`.
    static func mmd2(_ x: [Float], _ y: [Float], dim: Int, bandwidth h: Double = 1) -> Double {
        let n = x.count / dim, m = y.count / dim
        guard n > 0, m > 0 else { return .nan }
        func k(_ a: [Float], _ i: Int, _ b: [Float], _ j: Int) -> Double {
            var d2 = 0.0
            for l in 0..<dim { let d = Double(a[i * dim + l]) - Double(b[j * dim + l]); d2 += d * d }
            return exp(-d2 / (2 * h * h))
        }
        var xx = 0.0, yy = 0.0, xy = 0.0
        for i in 0..<n { for j in 0..<n { xx += k(x, i, x, j) } }
        for i in 0..<m { for j in 0..<m { yy += k(y, i, y, j) } }
        for i in 0..<n { for j in 0..<m { xy += k(x, i, y, j) } }
        return max(0, xx / Double(n * n) + yy / Double(m * m) - 2 * xy / Double(n * m))
    }

    /// Rows of a flat `(n, dim)` set whose label equals `label`.
    static func rows(_ x: [Float], dim: Int, labels: [Int], equalTo label: Int) -> [Float] {
        var out: [Float] = []
        for (i, l) in labels.enumerated() where l == label { out += x[(i * dim)..<((i + 1) * dim)] }
        return out
    }

    /// Index of the nearest of `centers` to row `i`.
    static func nearest(_ x: [Float], _ i: Int, dim: Int, centers: [[Double]]) -> Int {
        var best = 0, bestD = Double.infinity
        for (k, c) in centers.enumerated() {
            var d2 = 0.0
            for l in 0..<dim { let d = Double(x[i * dim + l]) - c[l]; d2 += d * d }
            if d2 < bestD { bestD = d2; best = k }
        }
        return best
    }

    /// Writes a raster as PNG into the output directory (when set); returns the path.
    static func writePNG(_ raster: Raster, name: String, options: ReproOptions) throws(GradusError) -> String? {
        guard let dir = options.outputDirectory else { return nil }
        let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
        try PNG.write(path, pixels: raster.pixels, width: raster.width, height: raster.height, color: raster.channels == 3 ? .rgb : .gray)
        return path
    }

    /// `printf`-style formatting of one number through `vsnprintf` (no Foundation).
    static func f(_ x: Double, _ spec: String = "%.3f") -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = withVaList([x]) { args in buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, 64, spec, args) } }
        guard n > 0 else { return "\(x)" }
        return String(decoding: buffer.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    /// A JSON number, or `null` when not finite.
    static func json(_ x: Double) -> JSON { x.isFinite ? .number(x) : .null }
    /// An array of JSON numbers (non-finite values become `null`).
    static func json(_ xs: [Double]) -> JSON { .array(xs.map { json($0) }) }
    /// A seed for one component, derived from the base seed (SplitMix64 step).
    static func seed(_ base: UInt64, _ salt: UInt64) -> UInt64 {
        var z = base &+ salt &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
