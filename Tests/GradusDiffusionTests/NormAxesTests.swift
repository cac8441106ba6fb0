import Testing
import GradusRuntime
import GradusDiffusion

/// APG over non-adjacent norm axes (e.g. `[1, 3]` of `(B, C, H, W)`): equal to APG over the trailing axes of the
/// explicitly permuted tensor, permuted back.
@Suite struct NormAxesTests {
    // x: (2, 3, 4, 5); norm axes [1, 3] -> permuted (2, 4, 3, 5) = (b, h, c, w), norm axes [-2, -1]
    let shape = [2, 3, 4, 5]
    let permutedShape = [2, 4, 3, 5]
    func permuted(_ x: [Double]) -> [Double] {
        var out = x
        for b in 0..<2 { for c in 0..<3 { for h in 0..<4 { for w in 0..<5 {
            out[((b * 4 + h) * 3 + c) * 5 + w] = x[((b * 3 + c) * 4 + h) * 5 + w]
        } } } }
        return out
    }
    func unpermuted(_ y: [Double]) -> [Double] {
        var out = y
        for b in 0..<2 { for c in 0..<3 { for h in 0..<4 { for w in 0..<5 {
            out[((b * 3 + c) * 4 + h) * 5 + w] = y[((b * 4 + h) * 3 + c) * 5 + w]
        } } } }
        return out
    }
    func data(_ seed: UInt64) -> [Double] {
        var rng = PhiloxStream(seed: seed)
        return (0..<120).map { _ in rng.nextNormal() }
    }

    @Test(arguments: [[1, 3], [3, 1], [-3, -1]] as [[Int]])
    func nonAdjacentAxesEqualPermutedContiguous(dims: [Int]) throws {
        let config = APGConfig(scale: 6, eta: 0.3, normThreshold: 4, momentum: -0.5, normDims: dims, guidanceRescale: 0.4)
        var contiguous = config
        contiguous.normDims = [-2, -1]
        let g = try APGGuider<Double>(config, shape: shape, recordsIntermediates: true)
        let ref = try APGGuider<Double>(contiguous, shape: permutedShape, recordsIntermediates: true)
        // CFG-rescale is per sample over every non-batch axis, so it commutes with the permutation.
        for step in 0..<3 {
            let c = data(UInt64(10 + 2 * step)), u = data(UInt64(11 + 2 * step))
            let got = try g(cond: c, uncond: u)
            let want = unpermuted(try ref(cond: permuted(c), uncond: permuted(u)))
            for i in got.indices { #expect(abs(got[i] - want[i]) <= 1e-12 * max(1, abs(want[i]))) }
            let a = try #require(g.debug), b = try #require(ref.debug)
            for (x, y) in [(a.diffAfterRescale, b.diffAfterRescale), (a.parallel, b.parallel), (a.orthogonal, b.orthogonal),
                           (a.update, b.update)] {
                let yy = unpermuted(y)
                for i in x.indices { #expect(abs(x[i] - yy[i]) <= 1e-12 * max(1, abs(yy[i]))) }
            }
        }
    }

    @Test func orthogonalPerGroupWithoutRecording() throws {
        // η = 0, no threshold, no momentum: pred − u = s·d⊥ with ⟨d⊥, c⟩ = 0 per (b, h) over (c, w).
        let c = data(3), u = data(4)
        let p = try APGGuider<Double>(APGConfig(scale: 3, eta: 0, normThreshold: 0, normDims: [1, 3]), shape: shape)(cond: c, uncond: u)
        for b in 0..<2 { for h in 0..<4 {
            var dot = 0.0, norm = 0.0
            for ch in 0..<3 { for w in 0..<5 {
                let k = ((b * 3 + ch) * 4 + h) * 5 + w
                dot += (p[k] - u[k]) * c[k]; norm += (p[k] - u[k]) * (p[k] - u[k])
            } }
            #expect(abs(dot) < 1e-12 * max(1, norm))
            #expect(norm > 0)
        } }
    }

    @Test func float32MatchesFloat64() throws {
        let c = data(5), u = data(6)
        let config = APGConfig(scale: 7, eta: 0, normThreshold: 2, momentum: -0.5, normDims: [1, 3])
        let d = try APGGuider<Double>(config, shape: shape)(cond: c, uncond: u)
        let f = try APGGuider<Float>(config, shape: shape)(cond: c.map(Float.init), uncond: u.map(Float.init))
        for i in d.indices { #expect(abs(Double(f[i]) - d[i]) < 1e-5 * max(1, abs(d[i]))) }
    }
}
