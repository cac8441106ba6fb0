import Testing
import GradusRuntime
import GradusTensor

/// The shared projection kernel (Sources/GradusTensor/Kernels/Projection.swift), tested here because GradusDiffusion
/// owns it; GradusOptim (⊥Grad, AdamP) uses the same functions.
@Suite struct ProjectionTests {
    @Test func layoutFromShape() throws {
        #expect(try ProjectionLayout(shape: [2, 3, 4, 4], dims: nil) == ProjectionLayout(outer: 2, extent: 48, inner: 1))
        #expect(try ProjectionLayout(shape: [2, 3, 4, 4], dims: [1]) == ProjectionLayout(outer: 2, extent: 3, inner: 16))
        #expect(try ProjectionLayout(shape: [2, 3, 4, 4], dims: [-1, -2]) == ProjectionLayout(outer: 6, extent: 16, inner: 1))
        #expect(try ProjectionLayout(shape: [5], dims: nil) == ProjectionLayout(outer: 1, extent: 5, inner: 1))
        #expect(throws: GradusError.unsupported("ProjectionLayout: non-contiguous reduction axes [1, 3]; permute the tensor first")) {
            try ProjectionLayout(shape: [2, 3, 4, 4], dims: [1, 3])
        }
        #expect(throws: GradusError.self) { try ProjectionLayout(shape: [2, 3], dims: [2]) }
        #expect(throws: GradusError.self) { try ProjectionLayout(shape: [2, 3], dims: [1, -1]) }
        #expect(throws: GradusError.self) { try ProjectionLayout(shape: [], dims: nil) }
        #expect(throws: GradusError.self) { try ProjectionLayout(outer: -1, extent: 1, inner: 1) }
    }

    /// Reference loop: explicit (o, e, i) indexing.
    func referenceDecompose(_ v: [Double], _ u: [Double], _ l: ProjectionLayout) -> (par: [Double], orth: [Double]) {
        var par = v, orth = v
        for o in 0..<l.outer {
            for i in 0..<l.inner {
                var dot = 0.0, uu = 0.0
                for e in 0..<l.extent { let k = (o * l.extent + e) * l.inner + i; dot += v[k] * u[k]; uu += u[k] * u[k] }
                let n = max(uu.squareRoot(), 1e-12)
                for e in 0..<l.extent {
                    let k = (o * l.extent + e) * l.inner + i
                    par[k] = (dot / n) * (u[k] / n); orth[k] = v[k] - par[k]
                }
            }
        }
        return (par, orth)
    }

    @Test(arguments: [[2, 3, 4] as [Int], [3, 5], [1, 7]], [nil, [1], [-1]] as [[Int]?])
    func decomposeMatchesReference(shape: [Int], dims: [Int]?) throws {
        let l = try ProjectionLayout(shape: shape, dims: dims)
        var rng = PhiloxStream(seed: 7)
        let v = (0..<l.count).map { _ in rng.nextNormal() }, u = (0..<l.count).map { _ in rng.nextNormal() }
        var par = [Double](repeating: 0, count: l.count), orth = par
        var scratch = [Double](repeating: 0, count: 2 * l.groupCount)
        Projection.decompose(v, onto: u, layout: l, parallel: &par, orthogonal: &orth, scratch: &scratch)
        let ref = referenceDecompose(v, u, l)
        for k in 0..<l.count {
            #expect(abs(par[k] - ref.par[k]) < 1e-12)
            #expect(abs(orth[k] - ref.orth[k]) < 1e-12)
            #expect(abs(par[k] + orth[k] - v[k]) < 1e-12)
        }
        // orthogonal part is orthogonal to u, per group
        var dots = [Double](repeating: 0, count: l.groupCount)
        Projection.groupDots(orth, u, layout: l, into: &dots)
        for d in dots { #expect(abs(d) < 1e-10) }
        // blend(η) equals orth + η·par, in place
        var blended = v
        blended.withUnsafeMutableBufferPointer { b in
            Projection.blend(UnsafePointer(b.baseAddress!), onto: u, layout: l, parallelWeight: 0.3, out: b.baseAddress!, scratch: &scratch)
        }
        for k in 0..<l.count { #expect(abs(blended[k] - (orth[k] + 0.3 * par[k])) < 1e-12) }
    }

    @Test func floatAgreesWithDouble() throws {
        let l = try ProjectionLayout.rows(4, length: 33)
        var rng = PhiloxStream(seed: 3)
        let v = (0..<l.count).map { _ in rng.nextNormal() }, u = (0..<l.count).map { _ in rng.nextNormal() }
        let vf = v.map { Float($0) }, uf = u.map { Float($0) }
        var od = [Double](repeating: 0, count: l.count), of = [Float](repeating: 0, count: l.count)
        var scratch = [Double](repeating: 0, count: 2 * l.groupCount)
        Projection.decompose(v, onto: u, layout: l, parallel: nil, orthogonal: &od, scratch: &scratch)
        Projection.decompose(vf, onto: uf, layout: l, parallel: nil, orthogonal: &of, scratch: &scratch)
        for k in 0..<l.count { #expect(abs(Double(of[k]) - od[k]) < 1e-5) }
    }

    @Test func zeroDirectionGivesNoParallelPart() throws {
        let l = try ProjectionLayout.rows(1, length: 4)
        let v: [Double] = [1, 2, 3, 4], u: [Double] = [0, 0, 0, 0]
        var par = [Double](repeating: 9, count: 4), orth = par
        var scratch = [Double](repeating: 0, count: 2)
        Projection.decompose(v, onto: u, layout: l, parallel: &par, orthogonal: &orth, scratch: &scratch)
        #expect(par == [0, 0, 0, 0]); #expect(orth == v)
    }

    @Test func clipGroupNorms() throws {
        let l = try ProjectionLayout.rows(2, length: 2)
        var x: [Double] = [3, 4, 0.3, 0.4]    // norms 5 and 0.5
        var scratch = [Double](repeating: 0, count: 2)
        Projection.clipGroupNorms(&x, layout: l, threshold: 1, scratch: &scratch)
        #expect(abs(x[0] - 0.6) < 1e-15 && abs(x[1] - 0.8) < 1e-15)
        #expect(x[2] == 0.3 && x[3] == 0.4)
        var z: [Double] = [0, 0, 0, 0]
        Projection.clipGroupNorms(&z, layout: l, threshold: 1, scratch: &scratch)
        #expect(z == [0, 0, 0, 0])
    }

    @Test func blockStreamingPiecesMatchOrthoGradFormula() {
        // ⊥Grad: g⊥ = g − (w·g/(w·w + 1e-30))·w, accumulated over two blocks.
        let w: [Double] = [1, 2, 3, 4, 5], g: [Double] = [0.5, -1, 2, 0, 1]
        var dot = 0.0, ww = 0.0, gg = 0.0
        w.withUnsafeBufferPointer { pw in
            g.withUnsafeBufferPointer { pg in
                Projection.accumulate(pg.baseAddress!, pw.baseAddress!, count: 2, dot: &dot, uu: &ww, vv: &gg)
                Projection.accumulate(pg.baseAddress! + 2, pw.baseAddress! + 2, count: 3, dot: &dot, uu: &ww, vv: &gg)
            }
        }
        #expect(dot == 9.5 && ww == 55 && gg == 6.25)
        let c = Projection.coefficient(dot: dot, uNormSquared: ww, floor: .addSquared(1e-30))
        var out = [Double](repeating: 0, count: 5)
        Projection.removeComponent(g, along: w, coefficient: c, out: &out, count: 5)
        for k in 0..<5 { #expect(abs(out[k] - (g[k] - 9.5 / 55 * w[k])) < 1e-15) }
        // AdamP's floor is additive on the norm
        #expect(abs(NormFloor.add(1e-8).norm(squared: 4) - (2 + 1e-8)) < 1e-15)
        #expect(NormFloor.clamp(1e-12).norm(squared: 0) == 1e-12)
    }
}
