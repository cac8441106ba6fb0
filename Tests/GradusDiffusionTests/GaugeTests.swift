import Foundation
import Testing
import GradusRuntime
import GradusTensor
import GradusNN
@testable import GradusDiffusion

@Suite struct GaugeTests {
    static let golden = try! loadGuidanceGolden()

    @Test(arguments: [GuidanceConformance.Precision.float64, .float32])
    func goldenLinearGaussian(_ precision: GuidanceConformance.Precision) throws {
        let cases = Self.golden["cases"]!.array!.filter { $0["op"]?.string == GaugeConformance.op }
        #expect(!cases.isEmpty)
        for c in cases {
            let r = try #require(try GaugeConformance.run(case: c, precision: precision))
            #expect(r.status == .pass, "\(r)")
            #expect(try DiffusionExtrasConformance.run(case: c, precision: precision) == r)
        }
    }

    @Test func eigenAndSingularValues() throws {
        // A = Q diag(5, 2, 1e-6) Qᵀ for a rotation Q
        let c = cos(0.3), s = sin(0.3)
        let q = [c, -s, 0, s, c, 0, 0, 0, 1]
        let d = [5.0, 0, 0, 0, 2, 0, 0, 0, 1e-6]
        let a = DenseLinearAlgebra.multiply(DenseLinearAlgebra.multiply(q, d, 3, 3, 3), DenseLinearAlgebra.transpose(q, 3, 3), 3, 3, 3)
        let (values, vectors) = try DenseLinearAlgebra.symmetricEigen(a, n: 3)
        #expect(abs(values[0] - 5) < 1e-12 && abs(values[1] - 2) < 1e-12 && abs(values[2] - 1e-6) < 1e-15)
        let back = DenseLinearAlgebra.multiply(DenseLinearAlgebra.multiply(vectors, [values[0], 0, 0, 0, values[1], 0, 0, 0, values[2]], 3, 3, 3),
                                               DenseLinearAlgebra.transpose(vectors, 3, 3), 3, 3, 3)
        for i in 0..<9 { #expect(abs(back[i] - a[i]) < 1e-12) }
        // singular values of a 4×2 and its transpose
        let m = [1.0, 2, 3, 4, 5, 6, 7, 8]
        let sv = try DenseLinearAlgebra.singularValues(m, rows: 4, cols: 2)
        let svT = try DenseLinearAlgebra.singularValues(DenseLinearAlgebra.transpose(m, 4, 2), rows: 2, cols: 4)
        #expect(abs(sv[0] - 14.2690954) < 1e-6 && abs(sv[1] - 0.62682823) < 1e-6)
        #expect(zip(sv, svT).allSatisfy { abs($0 - $1) < 1e-12 })
        let inv = try DenseLinearAlgebra.inverse([4, 7, 2, 6], n: 2)
        #expect(zip(inv, [0.6, -0.7, -0.2, 0.4]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(throws: GradusError.self) { try DenseLinearAlgebra.inverse([1, 2, 2, 4], n: 2) }
        #expect(throws: GradusError.self) { try DenseLinearAlgebra.singularValues([1, 2, 3], rows: 2, cols: 2) }
    }

    @Test func decompositionReconstructsAndIsOrthogonal() throws {
        let n = 4
        var rng = PhiloxStream(seed: 3)
        let a = (0..<(n * n)).map { _ in rng.nextNormal() }
        let l = (0..<(n * n)).map { _ in rng.nextNormal() }
        var cov = DenseLinearAlgebra.multiply(l, DenseLinearAlgebra.transpose(l, n, n), n, n, n)
        for i in 0..<n { cov[i * n + i] += 0.5 }
        let (S, omega) = try Gauge.linearDecomposition(A: a, covariance: cov, n: n)
        let cOmega = DenseLinearAlgebra.multiply(cov, omega, n, n, n)
        for i in 0..<n { for j in 0..<n {
            #expect(abs(S[i * n + j] + cOmega[i * n + j] - a[i * n + j]) < 1e-10)
            #expect(abs(S[i * n + j] - S[j * n + i]) < 1e-12)
            #expect(abs(omega[i * n + j] + omega[j * n + i]) < 1e-12)
        } }
        // ∇·(p r) = p (tr(CΩ) − xᵀΩx) = 0: tr(CΩ) = 0; L²(p) orthogonality E[xᵀS·CΩx] = tr(S C Ω C) = 0
        var tr = 0.0
        for i in 0..<n { tr += cOmega[i * n + i] }
        #expect(abs(tr) < 1e-10)
        let scoc = DenseLinearAlgebra.multiply(DenseLinearAlgebra.multiply(S, cOmega, n, n, n), cov, n, n, n)   // S·C·Ω·C
        var tr2 = 0.0
        for i in 0..<n { tr2 += scoc[i * n + i] }
        #expect(abs(tr2) < 1e-8)
        #expect(throws: GradusError.self) { try Gauge.linearDecomposition(A: a, covariance: [Double](repeating: 0, count: 16), n: 4) }
    }

    @Test func conservativeScoreIsSymmetricAndSecondOrderTrainable() throws {
        // E(x) = Σ softplus(x W₁ᵀ + b) · w₂ — a small energy MLP
        let l1 = try Linear(3, 8, dtype: .float64, seed: 1), l2 = try Linear(8, 1, dtype: .float64, seed: 2)
        let score = ConservativeScore { (x: Tensor, _: [Double]) throws(GradusError) in try l2(try l1(x).softplus()) }
        let x = Tensor.normal([4, 3], seed: 3, dtype: .float64)
        let j = try Gauge.batchJacobians(of: { (v: Tensor) throws(GradusError) in try score(v, timesteps: [0, 0, 0, 0]) }, at: x)
        #expect(j.shape == [4, 3, 3])
        #expect(try Gauge.jacobianAsymmetry(j) < 1e-12)
        // An unconstrained linear field is not symmetric.
        let w = Tensor.normal([3, 3], seed: 4, dtype: .float64)
        let j2 = try Gauge.batchJacobians(of: { (v: Tensor) throws(GradusError) in try v.matmul(w) }, at: x)
        #expect(try Gauge.jacobianAsymmetry(j2) > 0.1)
        // Denoising-score-matching-style loss on the score reaches the energy's parameters (double backprop).
        let s = try score(x, timesteps: [0, 0, 0, 0])
        try (s + x).square().mean().backward()
        let g = try #require(l1.weight.grad)
        #expect(g.scalars(as: Double.self).contains { $0 != 0 })
        // finite-difference check of d loss / d W₁[0, 0]
        func lossValue() throws -> Double {
            try GradMode.withoutGrad { () throws in try (try score(x, timesteps: [0, 0, 0, 0]) + x).square().mean().item() }
        }
        let p = l1.weight.basePointer(as: Double.self)
        let h = 1e-6, old = p[0]
        p[0] = old + h; let up = try lossValue()
        p[0] = old - h; let down = try lossValue()
        p[0] = old
        #expect(abs((up - down) / (2 * h) - g.scalars(as: Double.self)[0]) < 1e-6)
    }

    /// Central finite differences of a DSM loss `‖σ·s(x̃) + z‖²` on a conservative score `s = −∇ₓE/σ²`, against
    /// the second-order reverse-mode gradient, at up to three entries of every parameter (float64).
    static func checkSecondOrderGradient(_ score: ConservativeScore, parameters: [(String, Tensor)]) throws {
        let sigma = 0.1
        let x = try Tensor.normal([5, 3], seed: 11, dtype: .float64) * 0.7
        let z = Tensor.normal([5, 3], seed: 12, dtype: .float64)
        let xt = try x + z * sigma
        func loss() throws -> Tensor { try (try score(xt, timesteps: [0, 0, 0, 0, 0]) * (1 / sigma) + z).square().mean() }
        for (_, p) in parameters { p.grad = nil }
        try loss().backward()
        var checked = 0
        for (name, p) in parameters {
            let g = try #require(p.grad, "\(name) got no gradient").scalars(as: Double.self)
            let ptr = p.basePointer(as: Double.self)
            for i in Set([0, p.count / 2, p.count - 1]) {
                let h = 1e-6, old = ptr[i]
                ptr[i] = old + h; let up = try GradMode.withoutGrad { () throws in try loss().item() }
                ptr[i] = old - h; let down = try GradMode.withoutGrad { () throws in try loss().item() }
                ptr[i] = old
                let fd = (up - down) / (2 * h)
                #expect(abs(fd - g[i]) <= 1e-6 + 1e-5 * abs(fd), "\(name)[\(i)]: finite difference \(fd), reverse mode \(g[i])")
                checked += 1
            }
        }
        #expect(checked >= 2 * parameters.count)
    }

    @Test func secondOrderGradientMatchesFiniteDifferences() throws {
        // The former repro energy: a scalar softplus MLP 3→16→16→1 (two softplus layers: softplus'' enters twice).
        let e1 = try Linear(3, 16, dtype: .float64, seed: 1), e2 = try Linear(16, 16, dtype: .float64, seed: 2)
        let e3 = try Linear(16, 1, dtype: .float64, seed: 3)
        let scalar = ConservativeScore { (x: Tensor, _: [Double]) throws(GradusError) in try e3(try e2(try e1(x).softplus()).softplus()) }
        try Self.checkSecondOrderGradient(scalar, parameters: [("e1", e1), ("e2", e2), ("e3", e3)].flatMap { l in
            l.1.namedParameters(prefix: l.0 + ".").filter { $0.0 != "e3.bias" }   // a constant energy offset has no score gradient
        })
        // The residual energy ½‖x − f(x)‖² with f the unconstrained denoiser's structure (SiLU MLP with conditioning).
        let f = try DenoiserMLP(dataDim: 3, numClasses: 1, hidden: 8, depth: 2, dtype: .float64, seed: 4)
        let residual = ConservativeScore.makeResidual({ (x: Tensor, t: [Double]) throws(GradusError) in
            try f.predict(x, timesteps: t, labels: [Int](repeating: 0, count: x.shape[0]))
        })
        try Self.checkSecondOrderGradient(residual, parameters: f.namedParameters())
    }

    @Test func residualEnergyGivesTweedieScoreForAProjectionDenoiser() throws {
        // f(x) = P·x, P the projector onto a plane in R³: E = ½‖(I − P)x‖², so −∇E = −(I − P)x, the score
        // σ²·∇log p_σ of data spread on the plane (Tweedie with E[x₀ | x] = P·x).
        var rng = PhiloxStream(seed: 9)
        let rot = ToyDatasets.randomRotation(3, rng: &rng)
        var proj = [Double](repeating: 0, count: 9)          // P = R diag(1, 1, 0) Rᵀ
        for i in 0..<3 { for j in 0..<3 { for l in 0..<2 { proj[i * 3 + j] += rot[i * 3 + l] * rot[j * 3 + l] } } }
        let pT = Tensor(shape: [3, 3], scalars: proj, dtype: .float64)   // symmetric: x·Pᵀ = x·P
        let score = ConservativeScore.makeResidual({ (x: Tensor, _: [Double]) throws(GradusError) in try x.matmul(pT) })
        let x = Tensor.normal([6, 3], seed: 10, dtype: .float64)
        let s = try score(x, timesteps: []).scalars(as: Double.self)
        let xv = x.scalars(as: Double.self), px = try x.matmul(pT).scalars(as: Double.self)
        for i in 0..<xv.count { #expect(abs(s[i] + (xv[i] - px[i])) < 1e-12) }
        let j = try Gauge.batchJacobians(of: { (v: Tensor) throws(GradusError) in try score(v, timesteps: []) }, at: x)
        #expect(try Gauge.jacobianAsymmetry(j) < 1e-12)
    }

    @Test func scoreSVDFindsCircleDimension() throws {
        // Points near a circle of radius 1 in R³ (the plane z = 0): score of N(manifold, σ²) ≈ −(x − proj(x))/σ².
        let score = { (x: Tensor) throws(GradusError) -> Tensor in
            let v = x.scalars(as: Double.self)
            var out = [Double](repeating: 0, count: v.count)
            for r in 0..<(v.count / 3) {
                let px = v[r * 3], py = v[r * 3 + 1], pz = v[r * 3 + 2]
                let norm = (px * px + py * py).squareRoot()
                out[r * 3] = -(px - px / norm) / 1e-4; out[r * 3 + 1] = -(py - py / norm) / 1e-4; out[r * 3 + 2] = -pz / 1e-4
            }
            return Tensor(shape: x.shape, scalars: out, dtype: .float64)
        }
        let point = Tensor(shape: [3], scalars: [0.6, 0.8, 0], dtype: .float64)
        let z = Tensor.normal([32, 3], seed: 5, dtype: .float64)
        let (est, scores) = try IntrinsicDimension.scoreSVD(score: score, point: point, sigma: 0.01, perturbations: z)
        #expect(scores.shape == [32, 3])
        #expect(est.normalDim == 2 && est.intrinsicDim == 1, "\(est)")
        #expect(IntrinsicDimension.largestDropCount([10, 9, 1]) == 2)
        #expect(IntrinsicDimension.largestLogGapCount([10, 1, 0.5]) == 1)
    }

    @Test func numericalFlowJacobianMatchesClosedForm() throws {
        // C = diag(4, 1, 1e-4) (already diagonal): score of N(0, C + σ²I) is linear.
        let cdiag = [4.0, 1, 1e-4]
        let score = { (x: Tensor, sigma: Double) throws(GradusError) -> Tensor in
            try x * Tensor(shape: [1, 3], scalars: cdiag.map { -1 / ($0 + sigma * sigma) }, dtype: .float64)
        }
        let x1 = Tensor.normal([2, 3], seed: 1, dtype: .float64)
        let numeric = try IntrinsicDimension.flowJacobianSingularValues(score: score, x1: x1, sigmaMax: 10, sigmaMin: 0.01, steps: 400)
        let closed = try IntrinsicDimension.linearGaussianFlowSingularValues(covariance: [4, 0, 0, 0, 1, 0, 0, 0, 1e-4], n: 3, sigmaMax: 10, sigma: 0.01)
        for row in numeric { for (a, b) in zip(row, closed) { #expect(abs(a - b) / b < 1e-3, "\(row) vs \(closed)") } }
    }
}
